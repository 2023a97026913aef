import PTTensor

extension CheckpointError {
    /// What is wrong with a torch.distributed.checkpoint folder: its `.metadata` pickle, the
    /// chunks it declares, or the `.distcp` ranges they live in
    /// (`torch/distributed/checkpoint/metadata.py`, `filesystem.py`). The error's path is the file
    /// at fault (`.metadata`, or the `.distcp` file of a chunk). Offsets and shapes are shown as
    /// torch prints sizes, `[2, 0]`; byte ranges as `start..<end` of the `.distcp` file.
    public indirect enum DCPFault: CustomStringConvertible, Equatable, Sendable {
        /// The metadata value at `at` (`state_dict_metadata['fc.bias'].size`) is not what torch writes.
        case malformed(at: String, expected: String, found: String)
        /// `callable` is built with a construction (`kind`: reduce, newobj, …) torch never uses for it.
        case construction(callable: String, kind: String)
        /// The tensor's dtype global names no dtype ptload reads.
        case unknownDType(fqn: String, found: String)
        /// A chunk's offsets or sizes do not have the tensor's rank.
        case chunkRank(fqn: String, offsets: [Int], sizes: [Int], size: [Int])
        /// A chunk reaches outside the tensor (`size`), or has a negative offset or size.
        case chunkOutOfBounds(fqn: String, offsets: [Int], sizes: [Int], size: [Int])
        /// Two chunks share elements.
        case chunksOverlap(fqn: String, first: [Int], second: [Int])
        /// The chunks cover `covered` of the tensor's `elements` elements.
        case chunksDoNotCover(fqn: String, covered: Int, elements: Int)
        /// More chunks than ptload checks for one tensor.
        case tooManyChunks(fqn: String, count: Int, limit: Int)
        /// More `storage_data` entries than ptload opens.
        case tooManyRanges(count: Int, limit: Int)
        /// A chunk has no `storage_data` entry `(fqn, offsets)` (`offsets` nil: a bytes entry).
        case noStorageData(fqn: String, offsets: [Int]?)
        /// Two `storage_data` entries name the same `(fqn, offsets)`.
        case storageDataTwice(fqn: String, offsets: [Int]?)
        /// A `storage_data` entry names a chunk or an object the metadata does not declare.
        case storageDataUnused(fqn: String, offsets: [Int]?)
        /// `relative_path` is not a plain file name in the folder.
        case relativePathNotPlain(fqn: String, found: String)
        /// The `.distcp` file a chunk names cannot be opened (`reason`: the system's message).
        case shardUnreadable(fqn: String, file: String, reason: String)
        /// The `.distcp` file a chunk names is a symbolic link or not a regular file.
        case shardNotRegular(fqn: String, file: String, what: String)
        /// A storage range with a negative offset or length.
        case rangeNegative(fqn: String, offset: Int, length: Int)
        /// A storage range that ends past the end of its file (`fileSize` bytes).
        case rangePastEnd(fqn: String, range: Range<Int>, fileSize: Int)
        /// Two storage ranges in one file share bytes.
        case rangesOverlap(first: String, firstRange: Range<Int>, second: String, secondRange: Range<Int>)
        /// The standalone torch.save archive in `range` is refused for `reason`.
        case blob(fqn: String, range: Range<Int>, reason: CheckpointError.Reason)
        /// The archive in `range` does not hold one bare tensor (`found`: what it holds).
        case blobNotATensor(fqn: String, range: Range<Int>, found: String)
        /// The chunk tensor in `range` has another dtype than the metadata's.
        case blobDType(fqn: String, range: Range<Int>, expected: DType, found: DType)
        /// The chunk tensor in `range` has another shape than the chunk's sizes.
        case blobShape(fqn: String, range: Range<Int>, expected: [Int], found: [Int])
        /// A non-tensor entry (`BytesStorageMetadata`) holds `found`, not plain data.
        case objectNotPlain(fqn: String, range: Range<Int>, found: String)

        public var description: String {
            switch self {
            case let .malformed(at, expected, found): return "\(at) is \(found); expected \(expected)"
            case let .construction(callable, kind):
                return "builds \(callable) with \(kind.uppercased()), which torch's DCP metadata never does"
            case let .unknownDType(fqn, found): return "tensor '\(fqn)' has dtype \(found), which ptload does not read"
            case let .chunkRank(fqn, offsets, sizes, size):
                return "tensor '\(fqn)' \(shape(size)) has a chunk at \(shape(offsets)) of \(shape(sizes)); expected"
                    + " \(size.count) offsets and sizes"
            case let .chunkOutOfBounds(fqn, offsets, sizes, size):
                return "tensor '\(fqn)' \(shape(size)) has a chunk at \(shape(offsets)) of \(shape(sizes)), outside"
                    + " the tensor"
            case let .chunksOverlap(fqn, first, second):
                return "tensor '\(fqn)' has chunks at \(shape(first)) and \(shape(second)) that overlap"
            case let .chunksDoNotCover(fqn, covered, elements):
                return "tensor '\(fqn)' has chunks covering \(covered) of its \(elements) elements; expected all"
            case let .tooManyChunks(fqn, count, limit):
                return "tensor '\(fqn)' has \(count) chunks; ptload reads at most \(limit)"
            case let .tooManyRanges(count, limit):
                return "storage_data has \(count) entries; ptload reads at most \(limit)"
            case let .noStorageData(fqn, offsets):
                return "\(entry(fqn, offsets)) has no storage_data entry"
            case let .storageDataTwice(fqn, offsets):
                return "storage_data names \(entry(fqn, offsets)) twice"
            case let .storageDataUnused(fqn, offsets):
                return "storage_data names \(entry(fqn, offsets)), which state_dict_metadata does not declare"
            case let .relativePathNotPlain(fqn, found):
                return "'\(fqn)' is stored in \(quoted(found)); expected a file name in the checkpoint's folder"
            case let .shardUnreadable(fqn, file, reason): return "'\(fqn)' is stored in '\(file)': \(reason)"
            case let .shardNotRegular(fqn, file, what):
                return "'\(fqn)' is stored in '\(file)', which is \(what); expected a regular file"
            case let .rangeNegative(fqn, offset, length):
                return "'\(fqn)' is stored at offset \(offset), length \(length); expected non-negative values"
            case let .rangePastEnd(fqn, range, fileSize):
                return "'\(fqn)' is stored at bytes \(range), past the end of the file (\(fileSize) bytes)"
            case let .rangesOverlap(first, firstRange, second, secondRange):
                return "'\(first)' (bytes \(firstRange)) and '\(second)' (bytes \(secondRange)) overlap"
            case let .blob(fqn, range, reason): return "'\(fqn)' at bytes \(range): \(reason)"
            case let .blobNotATensor(fqn, range, found):
                return "'\(fqn)' at bytes \(range) holds \(found); expected one tensor"
            case let .blobDType(fqn, range, expected, found):
                return "'\(fqn)' at bytes \(range) is \(found.rawValue); the metadata says \(expected.rawValue)"
            case let .blobShape(fqn, range, expected, found):
                return "'\(fqn)' at bytes \(range) has shape \(shape(found)); the chunk's sizes are \(shape(expected))"
            case let .objectNotPlain(fqn, range, found):
                let article = "aeiou".contains(found.first ?? "x") ? "an" : "a"
                return "'\(fqn)' at bytes \(range) holds \(article) \(found); expected plain data (int, float, str,"
                    + " bool, None, list, tuple, dict)"
            }
        }

        private func shape(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

        private func entry(_ fqn: String, _ offsets: [Int]?) -> String {
            guard let offsets else { return "'\(fqn)'" }
            return "the chunk of '\(fqn)' at \(shape(offsets))"
        }
    }
}
