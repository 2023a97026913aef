import PTVerify

/// What a run found. Encodes to the `--json` report (snake_case keys, as in the README).
public struct ModuleRunReport: Codable {
    public struct Timings: Codable {
        public var load_s: Double
        public var forward_s: Double
        public var forward_runs: Int
    }
    public let model: String
    public let reference: String?
    /// The module prefixes run, in order.
    public let modules: [String]
    /// Each module as PyTorch prints it.
    public let module_configs: [String]
    /// What each module ran on: a kernel set (avx512, avx2, neon, plain), reference, or lookup.
    public let module_kernels: [String]
    public let compute_dtype: String
    public let tolerance: Tolerance
    public let comparisons: [Comparison]
    /// The shape of each output produced, by name (`output`, `h_n`, `c_n`).
    public let outputs: [String: [Int]]
    /// Where the outputs were written, if anywhere.
    public let written: String?
    /// Whether every compared tensor is within tolerance.
    public let passed: Bool
    /// When a float32 reference fails a float32 run: the largest |float32 − float64| of each
    /// output, against ptload's own float64 run of the same module on the same inputs. Small
    /// distances point at drift in the reference; ptload's float64 run is no independent judge,
    /// so the verdict stays a mismatch.
    public let float64_distance: [String: Double]?
    /// Per tensor, the absolute allowance added to the float32 tolerance (PyTorch's own float32
    /// distance from the float64 truth, from a golden manifest); nil when none.
    public let allowance: [String: Double]?
    /// ptload's float64 run judged against the float64 truths with the float64 defaults; nil
    /// when not asked for. `passed` requires it.
    public let float64: Float64Verdict?
    public var timings: Timings
    /// A run in chunks through a `RecurrentStream` (nil for a whole-sequence run): then
    /// `timings.forward_s` is the median over the repeats of the whole streamed run, every call.
    public let stream: Stream?

    /// How a streamed run went.
    public struct Stream: Codable {
        /// Steps per call (the last call takes what is left; 1 for a cell).
        public let chunk: Int
        /// Calls per run: ⌈T / chunk⌉ (a cell's: T for a sequence `[T, N, I]`, 1 for one step).
        public let chunks: Int
        /// The median time of one call, over the calls of the first repeat (the one whose calls
        /// are each timed).
        public let call_s: Double
    }

    /// The second verdict of a golden case: float64 against float64 truths.
    public struct Float64Verdict: Codable {
        public let tolerance: Tolerance
        public let comparisons: [Comparison]
        public let passed: Bool
    }

    /// Whether the float32 verdict (the comparisons, with their allowance) passed.
    public var float32Passed: Bool { comparisons.allSatisfy(\.passed) }
}
