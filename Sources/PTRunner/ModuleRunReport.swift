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
    public var timings: Timings
}
