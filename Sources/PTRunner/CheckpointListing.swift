import Dispatch
import PTCheckpoint
import PTNN

/// `ptload MODEL`: read a checkpoint without running anything it names, find its modules,
/// check every record's CRC-32 when asked, and report what it holds.
///
///     file → Checkpoint → ModuleCatalog → CheckpointSummary (+ the tensors, for rows streamed
///     by the caller)
public enum CheckpointListing {
    public struct Request {
        public var modelPath: String
        /// Refuse every global outside `torch.load(weights_only=True)`'s allowlist.
        public var strict: Bool
        /// Read every storage record and check its CRC-32 (zip checkpoints).
        public var checkRecords: Bool
        /// Where to count what reading the checkpoint costs (nil: not counted).
        public var work: LoadWork?

        public init(modelPath: String, strict: Bool = false, checkRecords: Bool = true, work: LoadWork? = nil) {
            self.modelPath = modelPath
            self.strict = strict
            self.checkRecords = checkRecords
            self.work = work
        }
    }

    /// A listing: the summary (counts, modules, timings; `tensors` left empty) and the
    /// checkpoint's tensors, whose rows a caller prints one at a time
    /// (`CheckpointSummary.entry(for:)`) so that a million-tensor file is never held twice.
    public struct Listing {
        public var summary: CheckpointSummary
        public let tensors: [NamedTensor]
    }

    /// Reads, catalogues and (when asked) checks the checkpoint `request` names.
    /// - Throws: `ModuleRunError.checkpoint` for a file that cannot be read, is refused, or
    ///   whose records fail their checks.
    public static func run(_ request: Request) throws(ModuleRunError) -> Listing {
        let start = DispatchTime.now().uptimeNanoseconds
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(path: request.modelPath,
                                             options: LoadOptions(strict: request.strict, work: request.work))
        } catch {
            throw .checkpoint(error)
        }
        var summary = CheckpointSummary(ModuleCatalog(checkpoint), loadSeconds: ModuleRunner.seconds(since: start),
                                        listingTensors: false)
        if request.checkRecords {
            let checkStart = DispatchTime.now().uptimeNanoseconds
            do {
                summary.records_checked = try checkpoint.verifyRecords()
            } catch {
                throw .checkpoint(error)
            }
            summary.timings.crc_s = ModuleRunner.seconds(since: checkStart)
        }
        return Listing(summary: summary, tensors: checkpoint.tensors)
    }
}
