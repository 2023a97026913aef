import PTCheckpoint
import PTKernels
import PTNN
import PTNumpy
import PTTensor
import PTTestSupport
import PTVerify
import Testing

/// The compute value chooses what the layers run on: one test case per engine and kernel set this
/// CPU runs, each loading PyTorch's embedding → recurrent → linear pipelines with its own value
/// and judging them against PyTorch's outputs. (Sets the CPU cannot run have no case here;
/// PTKernelsTests names them as skipped.)
@Suite struct ComputeTests {
    /// The packed engine on each set this CPU runs, then the reference engine.
    static let values: [Compute] = KernelSet.allCases.filter(CPUFeatures.canRun).map { Compute(kernelSet: $0) }
        + [Compute(engine: .reference)]

    /// Both pipelines: an LSTM, time-major; a bidirectional two-layer GRU, batch_first, with h0 and lengths.
    static let pipelines = ["pipe_emb_lstm_fc", "pipe_emb_gru_fc_len"]

    @Test(arguments: values, pipelines)
    func pipelineRunsOnTheValuesKernels(_ compute: Compute, _ name: String) throws {
        let c = try #require(GoldenCase.named(name))
        let torch = Dictionary(
            uniqueKeysWithValues: try Numpy.readNpz(path: c.referencePath).map { ($0.name, $0.tensor) })
        let pipeline = try Pipeline<Float>(catalog: ModuleCatalog(try Checkpoint.load(path: c.modelPath)),
                                           prefixes: ["emb", "rnn", "fc"],
                                           options: ModuleOptions(batchFirst: c.config.batch_first),
                                           firstInputIsIDs: true,
                                           compute: compute)
        let recurrent = compute.engine == .packed ? compute.kernelSet.rawValue : "reference"
        #expect(pipeline.stages.map(\.kernels) == ["lookup", recurrent, compute.kernelSet.rawValue])

        let ids = try #require(torch["input"])
        let out = try pipeline.forward(.ids(try ids.doubles().map { Int64($0) }, shape: ids.shape),
                                       h0: try torch["h0"].map { try ShapedArray<Float>($0) }, c0: nil,
                                       lengths: try torch["lengths"].map { try $0.doubles().map { Int($0) } },
                                       compute: Compute(threads: ThreadCount(2)))
        for (key, got) in [("output", out.output), ("h_n", out.hN), ("c_n", out.cN)] {
            guard let expected = torch[key] else {
                #expect(got == nil, "\(key) was produced; torch gives none")
                continue
            }
            let comparison = try Comparison(name: key, actual: try #require(got, "no \(key)"), expected: expected,
                                            tolerance: Tolerance.defaults(for: .float32))
            #expect(comparison.passed, "\(key): max abs error \(comparison.maxAbsError)")
        }
    }

    /// A module keeps the value it was loaded with: a run given none uses its threads and pool.
    @Test func aModuleKeepsItsLoadValue() throws {
        let pool = ThreadPool()
        let c = try #require(GoldenCase.named("lstm_long_bi_len"))
        let module: Recurrent<Float> = try ModuleCatalog(try Checkpoint.load(path: c.modelPath))
            .recurrent(compute: Compute(kernelSet: .plain, threads: ThreadCount(3), pool: pool))
        #expect(module.kernels == "plain")
        #expect(module.compute.threads == ThreadCount(3))
        #expect(module.compute.pool === pool)
    }
}

extension Compute: CustomTestStringConvertible {
    public var testDescription: String {
        engine == .reference ? "reference engine" : "packed engine on \(kernelSet.rawValue)"
    }
}
