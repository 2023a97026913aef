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

        public init(modelPath: String, outputPath: String, module: String? = nil, cast: DType? = nil,
                    strict: Bool = false, work: LoadWork? = nil) {
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
    ///   its check when read, a failed write: the output is then left as it was).
    public static func run(_ request: Request) throws(ModuleRunError) -> ExportReport {
        let model = request.modelPath
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
        do throws(ExportError) {
            var writer = CheckpointWriter(cast: request.cast)
            // A sharded MODEL's shards are inputs too: an export over one would replace it.
            writer.inputs = [model] + checkpoint.shards
            for (name, tensor) in selected { writer.add(name, tensor: tensor) }
            summary = try writer.write(to: request.outputPath)
        } catch {
            throw .export(model: model, error)
        }
        return ExportReport(model: model, output: request.outputPath,
                            format: CheckpointWriter.Format(path: request.outputPath)?.rawValue ?? "",
                            module: request.module, cast_to: request.cast?.rawValue, tensors: summary.tensors,
                            bytes: summary.bytes, materialized: summary.materialized, cast: summary.cast)
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
}
