import PTPickle
import PTSafetensors
import PTTensor
import PTZip

/// One tensor of a checkpoint under the dotted key `model.state_dict()` would give it.
public struct NamedTensor {
    public let key: String
    public let tensor: Tensor
    /// Rebuilt through `torch._utils._rebuild_parameter*` (an `nn.Parameter`).
    public let isParameter: Bool
    /// For a sharded checkpoint, the position in `Checkpoint.shards` of the file this tensor
    /// comes from; nil for a single file.
    public internal(set) var shard: Int? = nil
}

/// A plain configuration value of a pickled module (`hidden_size`, `batch_first`, `nonlinearity`).
public enum ConfigValue: Equatable, CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)

    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "'\(s)'"
        }
    }
}

/// A module found in a full-module pickle or a TorchScript archive.
public struct ModuleInfo {
    /// Dotted path from the root (`""` for the root, `encoder.rnn`), as `named_modules()` gives it.
    public let path: String
    /// `torch.nn.modules.rnn.LSTM`, `__main__.Net`, `__torch__.silero.Decoder`, …
    public let className: String
    /// The module's plain attributes in pickle order, without `training` and private names.
    public let config: [(name: String, value: ConfigValue)]

    public func value(_ name: String) -> ConfigValue? { config.first { $0.name == name }?.value }
}

/// A checkpoint, opened and parsed: every tensor mapped (not read), nothing executed.
public final class Checkpoint {
    /// `huggingface`: a folder (or its `*.index.json`) of Hugging Face shards; `dcp`: a
    /// torch.distributed.checkpoint folder (`.metadata` and `__<rank>_<n>.distcp` files).
    public enum Format: String { case zip, legacy, torchscript, safetensors, huggingface, dcp }

    /// The file, or for a sharded checkpoint the folder or index file it was opened by.
    public let path: String
    public let format: Format
    /// The files a sharded checkpoint's tensors come from, in order; empty for a single file.
    public let shards: [String]
    /// The zip folder every record lives in (the file's stem, or `archive`); nil for legacy files.
    public let archiveName: String?
    /// The protocol of the main pickle (`data.pkl`, or the legacy main pickle).
    public let pickleProtocol: Int
    /// Zip records that describe the file: `version`, `byteorder`, `.format_version`, `.storage_alignment`.
    public let records: [(name: String, value: String)]
    /// Every tensor, in the order `model.state_dict()` lists them.
    public let tensors: [NamedTensor]
    /// Modules of a full-module pickle or TorchScript archive, in `named_modules()` order.
    public let modules: [ModuleInfo]
    /// Classes the pickle references that ptload keeps as opaque objects (user classes, numpy scalars).
    public let opaqueClasses: [String]
    /// Every global the main pickle references, in first-seen order.
    public let globals: [String]
    /// Tensors of a TorchScript archive's `constants.pkl`, in order.
    public let constants: [Tensor]
    /// Position of each key in `tensors` (its first occurrence), for lookups by key.
    private let index: [ExactName: Int]
    /// Checks every record's checksum (zip formats); nil for legacy files, which have none.
    let recordCheck: (() throws(ZipError) -> Void)?

    init(path: String, format: Format, archiveName: String?, pickleProtocol: Int,
         records: [(name: String, value: String)], tensors: [NamedTensor], modules: [ModuleInfo],
         opaqueClasses: [String], globals: [String], constants: [Tensor], shards: [String] = [],
         recordCheck: (() throws(ZipError) -> Void)? = nil) {
        self.recordCheck = recordCheck
        self.shards = shards
        self.path = path
        self.format = format
        self.archiveName = archiveName
        self.pickleProtocol = pickleProtocol
        self.records = records
        self.tensors = tensors
        self.modules = modules
        self.opaqueClasses = opaqueClasses
        self.globals = globals
        self.constants = constants
        var index: [ExactName: Int] = [:]
        for (i, t) in tensors.enumerated() where index[ExactName(t.key)] == nil { index[ExactName(t.key)] = i }
        self.index = index
    }

    /// Checks the CRC-32 of every record of a zip or TorchScript checkpoint, referenced or not, now
    /// (reading the whole file once, without keeping it resident) rather than as each tensor is
    /// first read. Returns false for legacy files, whose format has no checksums.
    /// - Throws: `CheckpointError` naming the first record whose bytes do not match their header.
    @discardableResult
    public func verifyRecords() throws(CheckpointError) -> Bool {
        guard let recordCheck else { return false }
        do {
            try recordCheck()
        } catch {
            throw CheckpointError(error)
        }
        return true
    }

    /// The tensor under `key`, if any.
    public func tensor(_ key: String) -> Tensor? { index[ExactName(key)].map { tensors[$0].tensor } }

    /// The module at `path`, if the file pickled modules.
    public func module(at path: String) -> ModuleInfo? { modules.first { $0.path.isExactly(path) } }

    /// Opens `path`, recognises its format, and parses it. No tensor bytes are read: storages are
    /// mapped and checked (CRC-32, byte order) on first use. `path` may be a Hugging Face model
    /// folder or its `*.index.json`, or a torch.distributed.checkpoint folder or its `.metadata`:
    /// every shard is read with the same `options`.
    ///
    /// - Parameters:
    ///   - options: policy for globals (`strict` = weights-only allowlist) and pickle limits.
    /// - Throws: `CheckpointError` naming the file and what is wrong.
    public static func load(path: String, options: LoadOptions = LoadOptions()) throws(CheckpointError) -> Checkpoint {
        // A torch.distributed.checkpoint folder, or its `.metadata`.
        if let folder = DCPReader.folder(of: path) {
            return try DCPReader(folder: folder, given: path, options: options).read()
        }
        if ShardedFolder.isFolder(path) {
            switch try ShardedFolder.locate(folder: path) {
            case .huggingFaceIndex(let index):
                return try HuggingFaceIndexReader(path: path, indexPath: index, options: options).read()
            case .singleFile(let file):
                return try load(path: file, options: options)
            }
        }
        if HuggingFaceIndexReader.isIndexName(path) {
            return try HuggingFaceIndexReader(path: path, indexPath: path, options: options).read()
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw CheckpointError(error)
        }
        return try load(file: file, options: options)
    }

    /// Reads a checkpoint held in memory (copied first); `name` stands for the file in errors.
    /// - Throws: as `load(path:options:)`.
    public static func load(bytes: UnsafeRawBufferPointer, name: String,
                            options: LoadOptions = LoadOptions()) throws(CheckpointError) -> Checkpoint {
        try load(file: MappedFile(copying: bytes, path: name), options: options)
    }

    static func load(file: MappedFile, options: LoadOptions) throws(CheckpointError) -> Checkpoint {
        let path = file.path
        let bytes = file.bytes
        if ZipArchive.isZip(bytes) {
            let archive: ZipArchive
            do {
                archive = try ZipArchive(mapped: file)
            } catch {
                throw CheckpointError(error)
            }
            return try ZipCheckpointReader(path: path, archive: archive, options: options).read()
        }
        if path.hasSuffix(".safetensors") || Safetensors.recognises(bytes) {
            do {
                return try SafetensorsReader(path: path, file: file).read()
            } catch {
                throw CheckpointError.unerased(error, path: path)
            }
        }
        if bytes.count >= 262, String(decoding: bytes[257..<262], as: UTF8.self) == "ustar" {
            throw CheckpointError(path: path, .notACheckpoint(.tarArchive))
        }
        // A legacy stream's first pickle is the magic number: after PROTO, or (protocols 0 and
        // 1) as a text LONG.
        if let first = bytes.first, first == PickleOpcode.proto.rawValue || first == PickleOpcode.long.rawValue {
            return try LegacyCheckpointReader(path: path, file: file, options: options).read()
        }
        if bytes.isEmpty { throw CheckpointError(path: path, .notACheckpoint(.emptyFile)) }
        throw CheckpointError(path: path, .notACheckpoint(.unknownStart))
    }
}

/// How a checkpoint is read.
public struct LoadOptions {
    /// Globals policy: deny list always; with `strict`, also the weights-only allowlist.
    public var policy: GlobalPolicy
    /// Resource limits for every pickle in the file.
    public var limits: PickleLimits
    /// How deep the walk into nested containers goes.
    public var maxWalkDepth: Int
    /// How many containers and tensors the walk may meet, a shared value counted each time it is
    /// met (so a graph of shared references that expands exponentially stops here). Containers
    /// without tensors are walked once however often they are shared.
    public var maxWalkSteps: Int
    /// Where to count what reading costs (nil: not counted).
    public var work: LoadWork?

    /// - Parameter maxWalkSteps: by default `FileLimits.maxTensors` tensors and
    ///   `FileLimits.maxContainers` containers, so that any state dict ptload writes reads back.
    public init(strict: Bool = false, limits: PickleLimits = .default, maxWalkDepth: Int = 1000,
                maxWalkSteps: Int = FileLimits.maxTensors + FileLimits.maxContainers, work: LoadWork? = nil) {
        self.policy = GlobalPolicy(strict: strict)
        self.limits = limits
        self.maxWalkDepth = maxWalkDepth
        self.maxWalkSteps = maxWalkSteps
        self.work = work
    }
}

/// What reading a checkpoint cost, counted as it goes, so it is there after a refusal too. The
/// counts depend on the file alone, never on the CPU or the load on it: a caller (or a test)
/// bounds work with them instead of timing it.
public final class LoadWork {
    /// Summed over every pickle read (a zip's data.pkl and constants.pkl, a legacy file's five).
    public internal(set) var pickle = PickleWork()
    /// Bytes of pickle handed to the machine.
    public internal(set) var pickleBytes = 0
    /// Containers and tensors met by the walk for tensors (`LoadOptions.maxWalkSteps`).
    public internal(set) var walkSteps = 0

    public init() {}

    func add(_ w: PickleWork, bytes: Int) {
        pickle.opcodes += w.opcodes
        pickle.materializedBytes += w.materializedBytes
        pickle.keyWork += w.keyWork
        pickleBytes += bytes
    }
}
