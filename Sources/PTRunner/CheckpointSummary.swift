import PTCheckpoint
import PTNN
import PTTensor

/// What `ptload MODEL` reports about a checkpoint, in a form that prints as text or encodes as
/// JSON (snake_case keys, as in the README).
public struct CheckpointSummary: Codable {
    public struct TensorEntry: Codable {
        public let key: String
        public let dtype: String
        public let shape: [Int]
        /// Present only when the tensor is not contiguous.
        public let strides: [Int]?
        public let storage: String
        /// For a sharded checkpoint, the tensor's file: its position in `shards`, from 0.
        public let shard: Int?
        public let storage_offset: Int
        public let bytes: Int
        public let parameter: Bool
    }
    public struct RecurrentEntry: Codable {
        public let prefix: String
        public let kind: String
        public let input_size: Int
        public let hidden_size: Int
        public let num_layers: Int
        public let bidirectional: Bool
        public let bias: Bool
        public let proj_size: Int
        public let nonlinearity: String?
        public let batch_first: Bool?
    }
    public struct ModuleEntry: Codable {
        public let path: String
        public let `class`: String
        public let config: [String: String]
    }
    public struct Timings: Codable {
        public let load_s: Double
        /// Time to check every record's CRC-32 after loading (nil when not checked).
        public var crc_s: Double?
    }

    public let file: String
    public let format: String
    /// The files a sharded checkpoint's tensors come from, in order (absent for a single file).
    public let shards: [String]?
    public let archive: String?
    public let pickle_protocol: Int
    public let records: [String: String]
    public let tensor_count: Int
    public let total_bytes: Int
    public let tensors: [TensorEntry]
    public let recurrent_modules: [RecurrentEntry]
    public let modules: [ModuleEntry]
    public let opaque_classes: [String]
    public let constants: Int
    /// Whether every record's CRC-32 was checked (false for legacy files, which have none, and
    /// with `--skip-crc`).
    public var records_checked = false
    public var timings: Timings

    /// The listing of `catalog`'s checkpoint, read in `loadSeconds`.
    /// - Parameter listingTensors: false leaves `tensors` empty (the counts stay): a caller that
    ///   prints a million-tensor file streams its rows through `entry(for:)` instead of holding
    ///   them all.
    public init(_ catalog: ModuleCatalog, loadSeconds: Double, listingTensors: Bool = true) {
        let c = catalog.checkpoint
        file = c.path
        format = c.format.rawValue
        shards = c.shards.isEmpty ? nil : c.shards
        archive = c.archiveName
        pickle_protocol = c.pickleProtocol
        records = Dictionary(c.records.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        tensors = listingTensors ? c.tensors.map(CheckpointSummary.entry) : []
        tensor_count = c.tensors.count
        total_bytes = c.tensors.reduce(0) { $0 &+ $1.tensor.byteCount }
        recurrent_modules = catalog.recurrent.map { r in
            RecurrentEntry(prefix: r.prefix, kind: r.config.typeName, input_size: r.config.inputSize,
                           hidden_size: r.config.hiddenSize, num_layers: r.config.numLayers,
                           bidirectional: r.config.bidirectional, bias: r.config.bias, proj_size: r.config.projSize,
                           nonlinearity: r.pickledNonlinearity, batch_first: r.pickledBatchFirst)
        }
        modules = c.modules.map { m in
            ModuleEntry(path: m.path, class: m.className,
                        config: Dictionary(m.config.map { ($0.name, $0.value.description) },
                                           uniquingKeysWith: { _, b in b }))
        }
        opaque_classes = c.opaqueClasses
        constants = c.constants.count
        timings = Timings(load_s: loadSeconds, crc_s: nil)
    }

    /// The listing's row for one tensor.
    public static func entry(for t: NamedTensor) -> TensorEntry {
        TensorEntry(key: t.key, dtype: t.tensor.dtype.rawValue, shape: t.tensor.shape,
                    strides: t.tensor.isContiguous ? nil : t.tensor.strides, storage: t.tensor.storage.origin,
                    shard: t.shard, storage_offset: t.tensor.storageOffset, bytes: t.tensor.byteCount,
                    parameter: t.isParameter)
    }
}
