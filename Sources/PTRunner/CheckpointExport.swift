import PTCheckpoint
import PTExport
import PTNN
import PTTensor

/// `ptload MODEL --export OUT`: a checkpoint's tensors (or one submodule's, its prefix
/// stripped) converted to `.safetensors`, `.npz` or `.pt`, streamed one tensor at a time,
/// floating-point tensors cast when asked. Nothing in the checkpoint is run.
///
///     file → Checkpoint → selected (name, Tensor) → CheckpointWriter → OUT → ExportReport
public enum CheckpointExport {
    public struct Request {
        public var modelPath: String
        /// The output; its extension names the format (`CheckpointWriter.Format(path:)`).
        public var outputPath: String
        /// Only the tensors under this module prefix (`encoder.rnn`), named without it.
        public var module: String?
        /// Floating-point tensors written as this dtype (float16, bfloat16 or float32).
        public var cast: DType?
        /// Refuse every global outside `torch.load(weights_only=True)`'s allowlist.
        public var strict: Bool
        /// Where to count what reading the checkpoint costs (nil: not counted).
        public var work: LoadWork?
        /// Split a `.safetensors` output into Hugging Face shards of at most this size (`5GB`,
        /// `200KB`: `ShardSize.parse`), as `CheckpointWriter.writeSharded` writes them.
        public var maxShardSize: String?

        public init(modelPath: String, outputPath: String, module: String? = nil, cast: DType? = nil,
                    strict: Bool = false, work: LoadWork? = nil, maxShardSize: String? = nil) {
            self.maxShardSize = maxShardSize
            self.modelPath = modelPath
            self.outputPath = outputPath
            self.module = module
            self.cast = cast
            self.strict = strict
            self.work = work
        }
    }

    /// Reads the checkpoint, selects its tensors and writes them.
    /// - Throws: `ModuleRunError.checkpoint` (the file is refused), `.nothingUnder` (no tensor
    ///   under the module prefix), `.export` (a tensor the format cannot hold, a record failing
    ///   its check when read, a failed write: the output is then left as it was; a bad shard
    ///   size, a sharded output that is not `.safetensors`, a stale file that is the input).
    public static func run(_ request: Request) throws(ModuleRunError) -> ExportReport {
        let model = request.modelPath
        var maxShardSize: Int?
        if let text = request.maxShardSize {
            guard CheckpointWriter.Format(path: request.outputPath) == .safetensors else {
                throw .export(model: model, ExportError(path: request.outputPath, .shardsNeedSafetensors))
            }
            do throws(ShardSizeFault) {
                maxShardSize = try ShardSize.parse(text)
            } catch {
                throw .export(model: model, ExportError(path: request.outputPath, .badShardSize(text, error)))
            }
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(path: model,
                                             options: LoadOptions(strict: request.strict, work: request.work))
        } catch {
            throw .checkpoint(error)
        }
        var selected: [(name: String, tensor: Tensor)] = checkpoint.tensors.map { ($0.key, $0.tensor) }
        if let module = request.module {
            let prefix = module + "."
            selected = checkpoint.tensors.compactMap { t in t.key.droppingExactPrefix(prefix).map { ($0, t.tensor) } }
            if selected.isEmpty {
                throw .nothingUnder(file: model, prefix: prefix,
                                    modules: ModuleCatalog(checkpoint).prefixes.filter { !$0.isEmpty })
            }
        }
        let summary: CheckpointWriter.Summary
        var sharded: CheckpointWriter.ShardedSummary?
        do throws(ExportError) {
            var writer = CheckpointWriter(cast: request.cast)
            // A sharded MODEL's shards are inputs too: an export over one would replace it.
            writer.inputs = [model] + checkpoint.shards
            for (name, tensor) in selected { writer.add(name, tensor: tensor) }
            if let maxShardSize {
                sharded = try writer.writeSharded(to: request.outputPath, maxShardSize: maxShardSize)
                summary = sharded!.summary
            } else {
                summary = try writer.write(to: request.outputPath)
            }
        } catch {
            throw .export(model: model, error)
        }
        return ExportReport(model: model, output: request.outputPath,
                            format: CheckpointWriter.Format(path: request.outputPath)?.rawValue ?? "",
                            module: request.module, cast_to: request.cast?.rawValue, tensors: summary.tensors,
                            bytes: summary.bytes, materialized: summary.materialized, cast: summary.cast,
                            max_shard_size: maxShardSize, shards: sharded?.files, index: sharded?.index,
                            total_size: sharded?.totalSize, dropped_aliases: sharded?.droppedAliases,
                            removed: sharded?.removed)
    }
}

/// What an export wrote (`ptload MODEL --export OUT --json` prints it; snake_case keys).
public struct ExportReport: Codable, Equatable, Sendable {
    /// The checkpoint read.
    public let model: String
    /// The file written.
    public let output: String
    /// `safetensors`, `npz` or `pt`.
    public let format: String
    /// The module prefix whose tensors were written (absent: every tensor).
    public let module: String?
    /// The dtype floating-point tensors were cast to (absent: no cast).
    public let cast_to: String?
    /// Tensors written.
    public let tensors: Int
    /// Bytes of tensor data written (headers and padding not counted).
    public let bytes: Int
    /// Views and tensors sharing a storage, each written as its own contiguous tensor.
    public let materialized: Int
    /// Tensors cast to `cast_to`.
    public let cast: Int
    /// With a maximum shard size (absent otherwise): that size in bytes.
    public var max_shard_size: Int? = nil
    /// The files written, in shard order: `output` itself when one shard holds everything.
    public var shards: [String]? = nil
    /// `model.safetensors.index.json` beside the shards, when there are two or more.
    public var index: String? = nil
    /// The index's `metadata.total_size`: bytes of every distinct storage written.
    public var total_size: Int? = nil
    /// Tensors left out as exact aliases of an earlier one (tied weights), and the one kept.
    public var dropped_aliases: [CheckpointWriter.DroppedAlias]? = nil
    /// Files of an earlier output removed from the folder (stale shards, single file or index).
    public var removed: [String]? = nil
}
