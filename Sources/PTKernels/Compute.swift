/// How the layers compute: the engine, the kernel set, the threads and the pool they come from.
///
/// Passed at load, where the engine and the kernel set take effect (weights are packed for the
/// set then), and to each forward pass, which reads only `threads` and `pool`. A small value (two
/// enums, a count and a reference), cheap to pass on every call. `automatic` depends on the CPU
/// alone; nothing here reads the environment.
public struct Compute: Sendable {
    /// What runs the recurrent layers.
    public enum Engine: String, CaseIterable, Sendable {
        /// The packed kernels of `kernelSet`.
        case packed
        /// Plain loops for the products and portable gate loops, sharing no code with the
        /// kernels: a second implementation to check them against. (A Linear still runs on
        /// `kernelSet`.)
        case reference
    }

    public var engine: Engine

    /// The kernel set of the packed engine (and of every Linear): always one this CPU runs.
    /// Setting a set the CPU cannot run stores the most capable one below it in `KernelSet`'s
    /// order that it can (`CPUFeatures.best(atMost:)`; `plain` runs everywhere), so that a value
    /// written for one machine runs on any: asking for `avx512` is asking for at most AVX-512.
    public var kernelSet: KernelSet {
        get { runnableSet }
        set { runnableSet = CPUFeatures.best(atMost: newValue) }
    }
    private var runnableSet: KernelSet

    /// The caller and `threads − 1` workers of `pool`.
    public var threads: ThreadCount

    /// Where the workers come from: a pool the caller made and owns (see `ThreadPool` for its
    /// lifetime), or nil for `ThreadPool.shared`.
    public var pool: ThreadPool?

    /// - Parameter kernelSet: at most this set (see `kernelSet`); the best the CPU runs when nil.
    public init(engine: Engine = .packed, kernelSet: KernelSet? = nil, threads: ThreadCount = .machine,
                pool: ThreadPool? = nil) {
        self.engine = engine
        runnableSet = kernelSet.map(CPUFeatures.best(atMost:)) ?? CPUFeatures.best
        self.threads = threads
        self.pool = pool
    }

    /// The packed engine on the most capable set this CPU runs, one thread per core, the shared pool.
    public static var automatic: Compute { Compute() }

    /// The pool the workers come from.
    public var threadPool: ThreadPool { pool ?? .shared }
}
