#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTPickle
import PTTensor
import PTZip

/// Reads a torch.distributed.checkpoint folder (`dcp.save`): `.metadata`, one pickle declaring
/// every tensor's chunks and where each lives, and `__<rank>_<n>.distcp` files, each a run of
/// standalone `torch.save` archives (docs/SHARDED.md §2).
///
/// Every check is made when the folder is opened: the metadata (allowlisted globals only), each
/// tensor's chunks (in bounds, disjoint, covering it), each storage range (a plain file name in
/// the folder, a regular file, inside it, not overlapping another), and each chunk archive (read
/// as a weights-only `torch.save` zip holding one tensor of the chunk's dtype and sizes). Each
/// tensor is then one contiguous storage assembled from its chunks on demand.
struct DCPReader {
    /// The folder holding `.metadata`.
    let folder: String
    /// What the caller gave: the folder or its `.metadata`.
    let given: String
    let options: LoadOptions

    /// Most chunks one tensor may have: disjointness is checked pair by pair.
    static let maxChunksPerTensor = 4096

    /// The DCP folder `path` names, when it is one: a folder holding `.metadata`, or a path whose
    /// last component is `.metadata`.
    static func folder(of path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.last == ".metadata" {
            let dir = parts.dropLast().joined(separator: "/")
            return dir.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : dir
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        let dir = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        guard lstat(dir + "/.metadata", &info) == 0 else { return nil }
        return dir
    }

    func read() throws(CheckpointError) -> Checkpoint {
        let metadataPath = folderFile(".metadata")
        let metadataFile: MappedFile
        do {
            metadataFile = try MappedFile(path: metadataPath)
        } catch {
            throw CheckpointError(error)
        }
        let meta = try withExtendedLifetime(metadataFile) { () throws(CheckpointError) in
            try DCPMetadata.decode(metadataFile.bytes, path: metadataPath, options: options)
        }
        func metadataError(_ fault: CheckpointError.DCPFault) -> CheckpointError {
            CheckpointError(path: metadataPath, .dcp(fault))
        }

        // Each range becomes an open archive: as many as a checkpoint may have tensors.
        guard meta.locations.count <= FileLimits.maxTensors else {
            throw metadataError(.tooManyRanges(count: meta.locations.count, limit: FileLimits.maxTensors))
        }
        // storage_data by (fqn, offsets): each used exactly once.
        var byKey: [LocationKey: Int] = [:]
        for (i, location) in meta.locations.enumerated() {
            let key = LocationKey(fqn: location.fqn, offsets: location.offsets)
            guard byKey[key] == nil else {
                throw metadataError(.storageDataTwice(fqn: location.fqn, offsets: location.offsets))
            }
            byKey[key] = i
        }
        var used = Set<Int>()
        func location(_ fqn: String, _ offsets: [Int]?) throws(CheckpointError) -> Int {
            guard let i = byKey[LocationKey(fqn: fqn, offsets: offsets)] else {
                throw metadataError(.noStorageData(fqn: fqn, offsets: offsets))
            }
            used.insert(i)
            return i
        }
        var plan: [(fqn: String, entry: DCPMetadata.Entry, locations: [Int])] = []
        for (fqn, entry) in meta.entries {
            switch entry {
            case let .tensor(_, size, chunks):
                try DCPReader.checkChunks(fqn: fqn, size: size, chunks: chunks, metadataPath: metadataPath)
                var indices: [Int] = []
                for chunk in chunks { indices.append(try location(fqn, chunk.offsets)) }
                plan.append((fqn, entry, indices))
            case .object:
                plan.append((fqn, entry, [try location(fqn, nil)]))
            }
        }
        if let unused = meta.locations.indices.first(where: { !used.contains($0) }) {
            let l = meta.locations[unused]
            throw metadataError(.storageDataUnused(fqn: l.fqn, offsets: l.offsets))
        }

        // The files, each opened once, and their ranges checked.
        var files = ShardFiles(reader: self, metadataPath: metadataPath)
        for (i, l) in meta.locations.enumerated() { try files.claim(l, index: i) }
        try files.checkOverlaps()

        var tensors: [NamedTensor] = []
        var records: [(name: String, value: String)] = []
        if let version = meta.version { records.append(("dcp version", version)) }
        // Each chunk's archive is opened and checked here, then let go: a read opens it again
        // (`DCPAssembly.Part.open`), so that memory does not grow with the number of chunks.
        var checked: [DCPMetadata.Location] = []
        for (fqn, entry, indices) in plan {
            switch entry {
            case let .tensor(dtype, size, chunks):
                var parts: [DCPAssembly.Part] = []
                for (chunk, index) in zip(chunks, indices) {
                    let l = meta.locations[index]
                    let blob = try files.blob(l)
                    let t = try blob.tensor(dtype: dtype, sizes: chunk.sizes, options: options)
                    let direct = t.tensor.isContiguous && blob.archive.entries.allSatisfy { $0.method == .stored }
                    checked.append(l)
                    let sizes = chunk.sizes
                    parts.append(DCPAssembly.Part(offsets: chunk.offsets, sizes: sizes, direct: direct) {
                        [files, options] () throws(CheckpointError) -> DCPAssembly.Opened in
                        let blob = try files.blob(l)
                        let tensor = try blob.tensor(dtype: dtype, sizes: sizes, options: options).tensor
                        return DCPAssembly.Opened(tensor: tensor, archive: blob.archive,
                                                  recordStart: blob.recordStart(of: tensor))
                    })
                }
                let assembly = DCPAssembly(fqn: fqn, dtype: dtype, shape: size, parts: parts)
                let tensor: Tensor
                do {
                    tensor = try Tensor(storage: assembly.storage(), dtype: dtype, shape: size,
                                        strides: Tensor.contiguousStrides(for: size), storageOffset: 0)
                } catch {
                    throw metadataError(.malformed(at: "state_dict_metadata['\(fqn)'].size",
                                                   expected: "a tensor shape", found: "\(size)"))
                }
                tensors.append(NamedTensor(key: fqn, tensor: tensor, isParameter: false))
            case .object:
                let l = meta.locations[indices[0]]
                let blob = try files.blob(l)
                records.append(("object " + fqn, try blob.plainObject(options: options)))
                checked.append(l)
            }
        }
        return Checkpoint(path: given, format: .dcp, archiveName: nil, pickleProtocol: meta.pickleProtocol,
                          records: records, tensors: tensors, modules: [], opaqueClasses: [], globals: meta.globals,
                          constants: [], shards: files.order.map { folderFile($0) },
                          recordCheck: { [files, checked] () throws(ZipError) in
                              for l in checked {
                                  try files.archive(l).verifyAllEntries(chunk: DCPAssembly.releaseBytes)
                              }
                          })
    }

    /// Rank, bounds, count, pairwise disjointness and full coverage of one tensor's chunks.
    static func checkChunks(fqn: String, size: [Int], chunks: [DCPMetadata.Chunk],
                            metadataPath: String) throws(CheckpointError) {
        func fault(_ f: CheckpointError.DCPFault) -> CheckpointError { CheckpointError(path: metadataPath, .dcp(f)) }
        guard chunks.count <= maxChunksPerTensor else {
            throw fault(.tooManyChunks(fqn: fqn, count: chunks.count, limit: maxChunksPerTensor))
        }
        guard size.allSatisfy({ $0 >= 0 }), size.count <= Tensor.maxRank else {
            throw fault(.malformed(at: "state_dict_metadata['\(fqn)'].size", expected: "a tensor shape",
                                   found: "\(size)"))
        }
        var elements = 1
        for d in size {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else {
                throw fault(.malformed(at: "state_dict_metadata['\(fqn)'].size", expected: "a tensor shape",
                                       found: "\(size)"))
            }
            elements = p
        }
        var covered = 0
        for c in chunks {
            guard c.offsets.count == size.count, c.sizes.count == size.count else {
                throw fault(.chunkRank(fqn: fqn, offsets: c.offsets, sizes: c.sizes, size: size))
            }
            var volume = 1
            for d in size.indices {
                let o = c.offsets[d], s = c.sizes[d]
                guard o >= 0, s >= 0, o <= size[d], s <= size[d] - o else {
                    throw fault(.chunkOutOfBounds(fqn: fqn, offsets: c.offsets, sizes: c.sizes, size: size))
                }
                volume *= s  // at most `elements`: the box lies inside the tensor
            }
            covered += volume
        }
        if let (i, j) = firstOverlap(chunks) {
            throw fault(.chunksOverlap(fqn: fqn, first: chunks[i].offsets, second: chunks[j].offsets))
        }
        guard covered == elements else {
            throw fault(.chunksDoNotCover(fqn: fqn, covered: covered, elements: elements))
        }
    }

    /// Two chunks that share an element (in chunk order), if any: a sweep along the dimension
    /// with the most distinct offsets, so that a split along one dimension (rows, or columns)
    /// costs O(k log k) and only boxes whose extents meet on that dimension are compared.
    static func firstOverlap(_ chunks: [DCPMetadata.Chunk]) -> (Int, Int)? {
        guard chunks.count > 1, let rank = chunks.first?.offsets.count, rank > 0 else {
            // Scalars: every non-empty chunk is the one element.
            let full = chunks.indices.filter { !chunks[$0].sizes.contains(0) }
            return full.count > 1 ? (full[0], full[1]) : nil
        }
        let axis = (0..<rank).max { a, b in
            Set(chunks.map { $0.offsets[a] }).count < Set(chunks.map { $0.offsets[b] }).count
        } ?? 0
        let order = chunks.indices.filter { !chunks[$0].sizes.contains(0) }.sorted {
            (chunks[$0].offsets[axis], $0) < (chunks[$1].offsets[axis], $1)
        }
        var found: (Int, Int)?
        for (n, i) in order.enumerated() {
            let end = chunks[i].offsets[axis] + chunks[i].sizes[axis]
            for j in order[(n + 1)...] {
                if chunks[j].offsets[axis] >= end { break }
                if overlap(chunks[i], chunks[j]) {
                    let pair = (min(i, j), max(i, j))
                    if found == nil || pair < found! { found = pair }
                }
            }
        }
        return found
    }

    /// Whether two boxes share an element (an empty box shares none).
    static func overlap(_ a: DCPMetadata.Chunk, _ b: DCPMetadata.Chunk) -> Bool {
        for d in a.offsets.indices {
            if a.sizes[d] == 0 || b.sizes[d] == 0 { return false }
            if a.offsets[d] + a.sizes[d] <= b.offsets[d] || b.offsets[d] + b.sizes[d] <= a.offsets[d] { return false }
        }
        return true
    }
}

private struct LocationKey: Hashable {
    let fqn: [UInt8]
    let offsets: [Int]?

    init(fqn: String, offsets: [Int]?) {
        self.fqn = Array(fqn.utf8)
        self.offsets = offsets
    }
}

/// The `.distcp` files of a folder, opened once each, and the ranges claimed in them.
private struct ShardFiles {
    let reader: DCPReader
    let metadataPath: String
    private(set) var order: [String] = []
    private var mapped: [String: MappedFile] = [:]
    private var claims: [String: [(range: Range<Int>, fqn: String)]] = [:]

    init(reader: DCPReader, metadataPath: String) {
        self.reader = reader
        self.metadataPath = metadataPath
    }

    /// A file name torch could have written: no separators, no `..`, no NUL, not empty.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.utf8.contains(0) && !name.contains("..") && name.utf8.count <= 255
    }

    mutating func claim(_ l: DCPMetadata.Location, index: Int) throws(CheckpointError) {
        guard ShardFiles.isPlainName(l.relativePath) else {
            throw CheckpointError(path: metadataPath, .dcp(.relativePathNotPlain(fqn: l.fqn, found: l.relativePath)))
        }
        let path = reader.folderFile(l.relativePath)
        let file = try open(l.relativePath, fqn: l.fqn)
        guard l.offset >= 0, l.length >= 0 else {
            throw CheckpointError(path: path, .dcp(.rangeNegative(fqn: l.fqn, offset: l.offset, length: l.length)))
        }
        let size = file.bytes.count
        guard l.offset <= size, l.length <= size - l.offset else {
            let end = l.offset.addingReportingOverflow(l.length)
            throw CheckpointError(path: path, .dcp(.rangePastEnd(
                fqn: l.fqn, range: l.offset ..< (end.overflow ? Int.max : end.partialValue), fileSize: size)))
        }
        claims[l.relativePath, default: []].append((l.offset ..< l.offset + l.length, l.fqn))
    }

    private mutating func open(_ name: String, fqn: String) throws(CheckpointError) -> MappedFile {
        if let file = mapped[name] { return file }
        let path = reader.folderFile(name)
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw CheckpointError(path: metadataPath, .dcp(.shardUnreadable(
                fqn: fqn, file: name, reason: String(cString: strerror(errno)))))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let what = (info.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a regular file"
            throw CheckpointError(path: metadataPath, .dcp(.shardNotRegular(fqn: fqn, file: name, what: what)))
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw CheckpointError(error)
        }
        mapped[name] = file
        order.append(name)
        return file
    }

    func checkOverlaps() throws(CheckpointError) {
        for name in order {
            let sorted = (claims[name] ?? []).filter { !$0.range.isEmpty }
                .sorted { $0.range.lowerBound < $1.range.lowerBound }
            for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.upperBound > b.range.lowerBound {
                throw CheckpointError(path: reader.folderFile(name), .dcp(.rangesOverlap(
                    first: a.fqn, firstRange: a.range, second: b.fqn, secondRange: b.range)))
            }
        }
    }

    /// The standalone archive of one location (claimed before), opened and validated.
    /// - Throws: `ZipError` naming the range (`path (bytes a..<b)`).
    func archive(_ l: DCPMetadata.Location) throws(ZipError) -> ZipArchive {
        let range = l.offset ..< l.offset + l.length
        let path = reader.folderFile(l.relativePath)
        return try ZipArchive(mapped: MappedFile(slice: mapped[l.relativePath]!, range: range,
                                                 path: "\(path) (bytes \(range))"))
    }

    /// The standalone archive of one location (claimed before).
    func blob(_ l: DCPMetadata.Location) throws(CheckpointError) -> DCPBlob {
        let file = mapped[l.relativePath]!
        let range = l.offset ..< l.offset + l.length
        let path = reader.folderFile(l.relativePath)
        func fault(_ reason: CheckpointError.Reason) -> CheckpointError {
            CheckpointError(path: path, .dcp(.blob(fqn: l.fqn, range: range, reason: reason)))
        }
        guard ZipArchive.isZip(UnsafeRawBufferPointer(rebasing: file.bytes[range])) else {
            throw fault(.notACheckpoint(.unknownStart))
        }
        do {
            return DCPBlob(archive: try archive(l), fqn: l.fqn, range: range, path: path)
        } catch {
            throw fault(.zip(error.reason))
        }
    }
}

extension DCPReader {
    fileprivate func folderFile(_ name: String) -> String { folder == "/" ? "/" + name : folder + "/" + name }
}

/// One storage range: a standalone `torch.save` zip.
private struct DCPBlob {
    let archive: ZipArchive
    let fqn: String
    let range: Range<Int>
    /// The `.distcp` file.
    let path: String

    private func error(_ f: CheckpointError.DCPFault) -> CheckpointError { CheckpointError(path: path, .dcp(f)) }

    /// Where the stored record holding `tensor`'s storage starts in the archive's file, or nil
    /// when it is not stored (deflated).
    func recordStart(of tensor: Tensor) -> Int? {
        let folder = archive.entries.lazy.compactMap { entry -> Substring? in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" ? parts[0] : nil
        }.first
        guard let folder, let record = archive.entry(named: "\(folder)/data/\(tensor.storage.key)"),
              record.method == .stored else { return nil }
        return record.dataOffset
    }

    /// The bare tensor the archive holds, read as `torch.load(weights_only=True)` would, checked
    /// against the chunk's dtype and sizes.
    func tensor(dtype: DType, sizes: [Int], options: LoadOptions) throws(CheckpointError) -> NamedTensor {
        var strict = options
        strict.policy = GlobalPolicy(strict: true)
        let checkpoint: Checkpoint
        do {
            checkpoint = try ZipCheckpointReader(path: archive.path, archive: archive, options: strict).read()
        } catch {
            throw self.error(.blob(fqn: fqn, range: range, reason: error.reason))
        }
        guard checkpoint.tensors.count == 1, let only = checkpoint.tensors.first, only.key.isEmpty,
              checkpoint.format == .zip else {
            let count = checkpoint.tensors.count
            let found = count == 0 ? "no tensor" : count == 1 ? "a container of one tensor" : "\(count) tensors"
            throw self.error(.blobNotATensor(fqn: fqn, range: range, found: found))
        }
        guard only.tensor.dtype == dtype else {
            throw self.error(.blobDType(fqn: fqn, range: range, expected: dtype, found: only.tensor.dtype))
        }
        guard only.tensor.shape == sizes else {
            throw self.error(.blobShape(fqn: fqn, range: range, expected: sizes, found: only.tensor.shape))
        }
        return only
    }

    /// The object the archive pickles, as Python would print it, when it is plain data.
    func plainObject(options: LoadOptions) throws(CheckpointError) -> String {
        let pickles = archive.entries.filter { entry in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty
        }
        guard pickles.count == 1, let entry = pickles.first else {
            throw error(.blob(fqn: fqn, range: range, reason: .layout(.noDataPickle)))
        }
        let bytes: ZipBytes
        do {
            bytes = try archive.bytes(of: entry)
        } catch {
            throw self.error(.blob(fqn: fqn, range: range, reason: .zip(error.reason)))
        }
        var strict = options
        strict.policy = GlobalPolicy(strict: true)
        let reading = PickleReading(path: archive.path, record: entry.name, options: strict)
        let value: Unpickled
        do {
            value = try withExtendedLifetime(bytes) { () throws(CheckpointError) in
                try reading.unpickle(bytes.buffer, persistentLoad: nil)
            }
        } catch {
            throw self.error(.blob(fqn: fqn, range: range, reason: error.reason))
        }
        var budget = 200
        guard let text = PlainText.render(value.root, depth: 0, budget: &budget) else {
            throw error(.objectNotPlain(fqn: fqn, range: range, found: value.root.kindName))
        }
        return text
    }
}

/// Python's `repr` of plain data (int, float, str, bool, None, list, tuple, dict), cut to a
/// budget of characters; nil for anything else.
private enum PlainText {
    static func render(_ v: PickleValue, depth: Int, budget: inout Int) -> String? {
        guard depth < 100 else { return nil }
        if budget <= 0 { return "…" }
        let out: String
        switch v {
        case .none: out = "None"
        case .bool(let b): out = b ? "True" : "False"
        case .int(let i): out = String(i)
        case .bigInt(let b): out = b.decimalString
        case .float(let d): out = d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : "\(d)"
        case .string(let s): out = quoted(s)
        case .list(let l):
            guard let items = all(l.items, depth, &budget) else { return nil }
            out = "[" + items.joined(separator: ", ") + "]"
        case .tuple(let t):
            guard let items = all(t.items, depth, &budget) else { return nil }
            out = "(" + items.joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .dict(let d):
            var items: [String] = []
            for (k, value) in d.items {
                guard let ks = render(k, depth: depth + 1, budget: &budget),
                      let vs = render(value, depth: depth + 1, budget: &budget) else { return nil }
                items.append(ks + ": " + vs)
            }
            guard d.state == nil else { return nil }
            out = "{" + items.joined(separator: ", ") + "}"
        default: return nil
        }
        budget -= out.count
        return out
    }

    private static func all(_ items: [PickleValue], _ depth: Int, _ budget: inout Int) -> [String]? {
        var out: [String] = []
        for item in items {
            guard let s = render(item, depth: depth + 1, budget: &budget) else { return nil }
            out.append(s)
        }
        return out
    }
}
