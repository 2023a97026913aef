import PTPickle
import PTSafetensors
import PTTensor
import PTZip

/// Why a checkpoint was refused: the file's path and a typed reason. Every description starts
/// with the path, then names the record or key involved, what was expected and what was found:
/// one line a person can act on.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The checkpoint (or the name a checkpoint held in memory was given).
    public let path: String
    /// What is wrong with it.
    public let reason: Reason

    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// What is wrong with the checkpoint at `path`.
    public enum Reason: CustomStringConvertible, Equatable, Sendable {
        /// A zip-layer refusal (cannot open, duplicate names, overlaps, CRC-32, bounds, …), of
        /// the same file.
        case zip(ZipError.Reason)
        /// The pickle in `record` is malformed, truncated or over a limit.
        case pickle(record: String, PickleError)
        /// The pickle in `record` names a global the policy refuses.
        case refusedGlobal(record: String, global: String, why: GlobalRefusal)
        /// Neither a zip archive, a safetensors file nor a legacy torch.save stream.
        case notACheckpoint(FormatFault)
        /// The file's records are not laid out as torch lays them out.
        case layout(LayoutFault)
        /// A persistent id, or the storage it declares, is inconsistent.
        case storage(StorageFault)
        /// A call to `callable` (a rebuild function) has arguments of the wrong kind or count.
        case rebuild(callable: String, RebuildFault)
        /// A tensor view is out of bounds or malformed (`key`, once known).
        case tensor(key: String?, TensorError)
        /// A safetensors header that lies or breaks the format's rules.
        case safetensors(SafetensorsError)
        /// A value nests deeper than the walker accepts.
        case tooDeep(limit: Int)
        /// Walking the value meets more containers and tensors than the walker accepts.
        case walkTooLong(limit: Int)
        /// A Hugging Face shard index, its shards or its folder is wrong.
        case shardIndex(ShardIndexFault)
        /// A torch.distributed.checkpoint folder whose metadata, chunks or `.distcp` ranges are wrong.
        case dcp(DCPFault)

        /// The reason without the path.
        public var description: String {
            switch self {
            case .zip(let reason): return reason.description
            case let .pickle(record, error): return "\(record): \(error)"
            case let .refusedGlobal(record, global, why): return "\(record) references \(global), which \(why); refused"
            case .notACheckpoint(let fault): return "not a PyTorch checkpoint: \(fault)"
            case .layout(let fault): return fault.description
            case .storage(let fault): return fault.description
            case let .rebuild(callable, fault): return "\(callable) \(fault)"
            case let .tensor(key, error):
                if let key { return "tensor '\(key)': \(error)" }
                return error.description
            case .safetensors(let error): return error.description
            case .tooDeep(let limit): return "value nests deeper than \(limit) levels"
            case .walkTooLong(let limit):
                return "walking the pickled value meets more than \(limit) containers and tensors (shared references"
                    + " are met once per path); refused as an expansion attack"
            case .shardIndex(let fault): return fault.description
            case .dcp(let fault): return fault.description
            }
        }
    }

    /// `path: reason`, one line.
    public var description: String { "\(path): \(reason)" }
}

extension CheckpointError {
    /// Why a file is not a checkpoint ptload reads.
    public enum FormatFault: CustomStringConvertible, Equatable, Sendable {
        /// The file has no bytes.
        case emptyFile
        /// A tar archive: torch.save's format before PyTorch 0.4.
        case tarArchive
        /// The first byte starts neither a zip archive nor a pickle.
        case unknownStart
        /// A pickle, but the first one is not torch's legacy magic number; `found` is what it holds.
        case noLegacyMagic(found: String)

        public var description: String {
            switch self {
            case .emptyFile: return "the file is empty"
            case .tarArchive: return "a tar archive (the format of PyTorch before 0.4), which ptload does not read"
            case .unknownStart: return "it starts with neither a zip header nor a pickle"
            case .noLegacyMagic(let found): return "the first pickle is \(found), not torch's magic number"
            }
        }
    }

    /// A record that is missing, misplaced or holds what its name does not allow
    /// (`caffe2/serialize/inline_container.cc`, `torch/serialization.py _legacy_load`).
    public enum LayoutFault: CustomStringConvertible, Equatable, Sendable {
        /// A zip archive with no `<archive>/data.pkl`.
        case noDataPickle
        /// `data.pkl` under several folders (`folders`): records of several archives.
        case severalArchives(folders: [String])
        /// A record the archive needs is absent.
        case missingRecord(String)
        /// A short text record (`version`, `byteorder`) holds `byteCount` bytes, more than such a record holds.
        case recordTooLong(record: String, byteCount: Int)
        /// The version record does not start with a decimal number.
        case unreadableVersion(record: String, text: String)
        /// The file format version is outside what PyTorch reads.
        case unsupportedVersion(record: String, version: UInt64, supported: ClosedRange<UInt64>)
        /// The byteorder record is neither `little` nor `big`.
        case badByteOrder(record: String, text: String)
        /// The `.storage_alignment` record is not a positive integer.
        case badStorageAlignment(record: String, text: String)
        /// Bytes follow the STOP opcode that ends the record's pickle (at `stopOffset`).
        case bytesAfterStop(record: String, count: Int, stopOffset: Int)
        /// Legacy: the file ends before the pickle named `record` ("magic number", "sys_info", …).
        case endsBefore(record: String)
        /// Legacy: the second pickle is not protocol version 1001; `found` is what it holds.
        case legacyProtocolVersion(found: String)
        /// Legacy: sys_info says the file was written big-endian.
        case legacyBigEndian
        /// Legacy: the storage key list is not a list; `found` is its kind.
        case keyListNotAList(found: String)
        /// Legacy: the storage key list holds something other than a string.
        case keyListItem(found: String)
        /// Legacy: bytes follow the last storage.
        case bytesAfterLastStorage(count: Int)

        public var description: String {
            switch self {
            case .noDataPickle:
                return "no '<archive>/data.pkl' record: a zip file, but not a PyTorch checkpoint"
            case .severalArchives(let folders):
                return "records of several archives (\(folders.map { "'\($0)/data.pkl'" }.joined(separator: ", ")));"
                    + " expected one"
            case .missingRecord(let record):
                return "record '\(record)' is missing"
            case let .recordTooLong(record, byteCount):
                return "record '\(record)' has \(byteCount) bytes; expected a short text"
            case let .unreadableVersion(record, text):
                return "record '\(record)' holds \(quoted(text)); expected a decimal file format version"
            case let .unsupportedVersion(record, version, supported):
                return "record '\(record)' says format version \(version); PyTorch reads \(supported.lowerBound) to"
                    + " \(supported.upperBound)"
            case let .badByteOrder(record, text):
                return "record '\(record)' holds \(quoted(text)); expected 'little' or 'big'"
            case let .badStorageAlignment(record, text):
                return "record '\(record)' holds \(quoted(text)); expected a positive integer"
            case let .bytesAfterStop(record, count, stopOffset):
                return "record '\(record)' has \(count) bytes after the pickle's STOP opcode at offset \(stopOffset);"
                    + " expected the record to end there"
            case .endsBefore(let record):
                return "the file ends before the \(record)"
            case .legacyProtocolVersion(let found):
                return "legacy protocol version is \(found); expected 1001"
            case .legacyBigEndian:
                return "sys_info says the file was written big-endian; legacy big-endian files are not read"
            case .keyListNotAList(let found):
                return "the storage key list is \(found); expected a list"
            case .keyListItem(let found):
                return "storage key list holds \(found); expected strings"
            case .bytesAfterLastStorage(let count):
                return "\(count) bytes follow the last storage"
            }
        }
    }

    /// A persistent id that is not a storage torch would load, or a storage whose declarations
    /// or bytes disagree (`torch/serialization.py persistent_load`). `found` values are shown
    /// as the pickle holds them.
    public enum StorageFault: CustomStringConvertible, Equatable, Sendable {
        /// The persistent id is not a tuple; `found` is its kind.
        case idNotATuple(found: String)
        /// The persistent id does not start with a type name.
        case idWithoutTypeName(found: String)
        /// The persistent id's type is not 'storage'.
        case idNotAStorage(typeName: String)
        /// The storage persistent id has `found` fields, not `expected`.
        case idFieldCount(found: Int, expected: Int)
        /// The storage class is not one of torch's.
        case unknownStorageClass(found: String)
        /// The storage key is not a plain record name (a path, empty, too long…).
        case keyNotPlain(found: String)
        /// The storage's location is not a string.
        case badLocation(key: String, found: String)
        /// The storage's element count is not a non-negative int.
        case badSize(key: String, found: String)
        /// The storage's element count times its item size overflows.
        case sizeOverflow(key: String, elements: Int64, dtype: DType)
        /// Legacy: the view metadata tuple is not (key, offset, size) of plain values.
        case malformedView(key: String, found: String)
        /// Legacy: the view metadata is neither None nor a tuple.
        case badViewMetadata(key: String, found: String)
        /// One storage referenced with two dtypes.
        case dtypeConflict(storage: String, first: DType, second: DType)
        /// One storage declared with two sizes.
        case sizeConflict(storage: String, first: Int, second: Int)
        /// The record holding a storage's bytes is absent.
        case missingRecord(String)
        /// The record holds `byteCount` bytes; `elements` of `dtype` need `needed`.
        case recordSize(record: String, byteCount: Int, elements: Int, dtype: DType, needed: Int)
        /// Legacy: a view reaches past its root storage (`elements` long).
        case viewOutOfRange(view: String, offset: Int, size: Int, storage: String, elements: Int)
        /// Legacy: one view declared with two extents.
        case viewRedeclared(view: String)
        /// Legacy: one storage declared with two element counts or dtypes.
        case declarationConflict(storage: String, firstElements: Int, firstDType: DType, elements: Int, dtype: DType)
        /// Legacy: a storage was read before its bytes were located.
        case notLocated(storage: String)
        /// Legacy: the key list names a storage no tensor uses.
        case unusedKey(String)
        /// Legacy: the key list names a storage twice.
        case keyListedTwice(String)
        /// Legacy: the file ends (at `fileSize`) before a storage's element count (at `offset`).
        case endsBeforeCount(storage: String, fileSize: Int, offset: Int)
        /// Legacy: the element count before a storage's bytes is not the one its id declares.
        case countMismatch(storage: String, offset: Int, count: Int64, declared: Int)
        /// Legacy: a storage's bytes run past the end of the file (`left` bytes remain).
        case bytesPastEnd(storage: String, needed: Int, offset: Int, left: Int)
        /// Legacy: a storage a tensor uses is not in the key list.
        case notInKeyList(storage: String)

        public var description: String {
            switch self {
            case .idNotATuple(let found): return "persistent id must be a tuple, got \(found)"
            case .idWithoutTypeName(let found): return "persistent id must start with a type name, got \(found)"
            case .idNotAStorage(let typeName): return "persistent id has type '\(typeName)'; expected 'storage'"
            case let .idFieldCount(found, expected):
                return "storage persistent id has \(found) fields; expected \(expected)"
            case .unknownStorageClass(let found):
                return "storage persistent id names \(found), not a known torch storage class"
            case .keyNotPlain(let found): return "storage key \(found) is not a plain record name"
            case let .badLocation(key, found): return "storage '\(key)' has location \(found); expected a string"
            case let .badSize(key, found): return "storage '\(key)' has size \(found); expected a non-negative int"
            case let .sizeOverflow(key, elements, dtype):
                return "storage '\(key)' declares \(elements) elements of \(dtype.rawValue), which overflows"
            case let .malformedView(key, found): return "storage '\(key)' has malformed view metadata \(found)"
            case let .badViewMetadata(key, found):
                return "storage '\(key)' has view metadata \(found); expected None or a tuple"
            case let .dtypeConflict(storage, first, second):
                return "storage '\(storage)' is referenced as \(first.rawValue) and as \(second.rawValue)"
            case let .sizeConflict(storage, first, second):
                return "storage '\(storage)' is declared with \(first) and with \(second) bytes"
            case .missingRecord(let record): return "storage record '\(record)' is missing"
            case let .recordSize(record, byteCount, elements, dtype, needed):
                return "storage record '\(record)' has \(byteCount) bytes; \(elements) elements of \(dtype.rawValue)"
                    + " need \(needed)"
            case let .viewOutOfRange(view, offset, size, storage, elements):
                return "storage view '\(view)' covers elements \(offset)..<\(offset &+ size) of '\(storage)', which has"
                    + " \(elements)"
            case .viewRedeclared(let view): return "storage view '\(view)' is declared twice with different extents"
            case let .declarationConflict(storage, firstElements, firstDType, elements, dtype):
                return "storage '\(storage)' is declared as \(firstElements) × \(firstDType.rawValue) and as"
                    + " \(elements) × \(dtype.rawValue)"
            case .notLocated(let storage): return "storage '\(storage)' was never located"
            case .unusedKey(let key): return "storage key list names '\(key)', which no tensor uses"
            case .keyListedTwice(let key): return "storage key list names '\(key)' twice"
            case let .endsBeforeCount(storage, fileSize, offset):
                return "file ends at byte \(fileSize) before the size of storage '\(storage)' (offset \(offset))"
            case let .countMismatch(storage, offset, count, declared):
                return "storage '\(storage)' at offset \(offset) holds \(count) elements; its id declares \(declared)"
            case let .bytesPastEnd(storage, needed, offset, left):
                return "storage '\(storage)' needs \(needed) bytes at offset \(offset); the file has \(left) left"
            case .notInKeyList(let storage): return "storage '\(storage)' is used but missing from the storage key list"
            }
        }
    }

    /// What is wrong with the arguments of a rebuild call (`torch/_utils.py`). `found` is the
    /// kind of value given ("a str", "None", "the global torch.float32").
    public enum RebuildFault: CustomStringConvertible, Equatable, Sendable {
        /// The call has `found` arguments; it takes `expected`.
        case argumentCount(expected: ClosedRange<Int>, found: Int)
        /// `_rebuild_from_type_v2` without (function, type, args tuple, state).
        case notFromTypeArguments
        /// `_rebuild_from_type_v2` wrapping `inner`, which does not rebuild a tensor.
        case wrapsNonTensor(inner: String)
        /// The first argument is not a tensor.
        case firstArgumentNotATensor
        /// A tensor kind ptload does not read (sparse, quantized, meta, nested, device-only).
        case unsupportedTensorKind
        /// The first argument is not a storage.
        case notAStorage(found: String)
        /// The argument `name` is not a bool.
        case notABool(name: String, found: String)
        /// The dtype argument is not a torch dtype.
        case notADType(found: String)
        /// The argument `name` (size, stride) is not a tuple or list.
        case notAnIntTuple(name: String, found: String)
        /// An element of the argument `name` is not an int.
        case notAnInt(name: String, found: String)
        /// storage_offset is not an int.
        case offsetNotAnInt(found: String)
        /// A parameter's data is not a tensor.
        case dataNotATensor(found: String)
        /// The metadata argument is not a dict.
        case metadataNotADict(found: String)
        /// The metadata sets a bit (conjugate, negative) that changes what the values mean.
        case metadataSet(key: String, value: String)

        public var description: String {
            switch self {
            case let .argumentCount(expected, found):
                let want = expected.lowerBound == expected.upperBound ? "\(expected.lowerBound)"
                    : "\(expected.lowerBound) to \(expected.upperBound)"
                return "takes \(want) arguments, got \(found)"
            case .notFromTypeArguments: return "expects (function, type, args tuple, state)"
            case .wrapsNonTensor(let inner): return "wraps \(inner), which does not rebuild a tensor"
            case .firstArgumentNotATensor: return "expects a tensor as its first argument"
            case .unsupportedTensorKind:
                return "builds a tensor kind ptload does not read (sparse, quantized, meta, nested or device-only)"
            case .notAStorage(let found):
                return "expects a storage (a persistent id) as its first argument, got \(found)"
            case let .notABool(name, found): return "expects a bool \(name), got \(found)"
            case .notADType(let found): return "expects a torch dtype, got \(found)"
            case let .notAnIntTuple(name, found): return "expects \(name) as a tuple of ints, got \(found)"
            case let .notAnInt(name, found): return "expects \(name) as a tuple of ints, found \(found)"
            case .offsetNotAnInt(let found): return "expects an int storage_offset, got \(found)"
            case .dataNotATensor(let found): return "expects a tensor as its data, got \(found)"
            case .metadataNotADict(let found): return "expects a metadata dict, got \(found)"
            case let .metadataSet(key, value):
                return "sets tensor metadata \(key) = \(value); conjugate and negative views are not read"
            }
        }
    }
}

/// Errors raised inside pickle hooks (persistent ids, rebuild calls, refused globals): carried
/// through the pickle machine unchanged, then given the file path by `PickleReading`.
struct HookError: Error {
    let reason: CheckpointError.Reason
}

extension CheckpointError {
    /// A zip-layer refusal of the checkpoint's own file: wrapped once, the path kept once.
    init(_ zip: ZipError) {
        self.init(path: zip.path, .zip(zip.reason))
    }

    /// The error thrown through an API that erases error types (the pickle machine, which
    /// passes its hooks' errors on unchanged; the safetensors reader) where this module throws
    /// only `CheckpointError`, and `HookError` from hooks. Any other type is a bug in this
    /// module, not something a file can cause, and stops the program with its description.
    static func unerased(_ error: any Error, path: String) -> CheckpointError {
        switch error {
        case let e as CheckpointError: return e
        case let e as HookError: return CheckpointError(path: path, e.reason)
        default: preconditionFailure("\(path): \(error) (\(type(of: error))) reached the checkpoint layer untyped")
        }
    }
}
