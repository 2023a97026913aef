import Dispatch
import PTCheckpoint
import PTKernels
import PTNN
import PTNumpy
import PTTensor
import PTVerify

/// Runs a checkpoint's module (or a pipeline of modules) on PyTorch's inputs and judges the
/// result against PyTorch's outputs: load the checkpoint, find the modules, load them in the
/// compute dtype, decode the inputs, run (timing repeats), write the outputs when asked, compare.
///
///     file → Checkpoint → ModuleCatalog → Pipeline<Float|Double> → ShapedArray outputs
///          → Comparison (with Tolerance) per tensor → ModuleRunReport
public enum ModuleRunner {
    /// One run: what to load, what to feed it, what to compare with or write.
    public struct Request {
        public var modelPath: String
        /// `REF.npz` (inputs and expected outputs) or `REF.npy` (the expected `output`).
        public var referencePath: String?
        /// `X.npy` (the input) or `X.npz` (input, h0, c0, lengths); defaults to the reference's.
        public var inputPath: String?
        /// Where to write `output`, `h_n`, `c_n` as `.npz`.
        public var outputPath: String?
        /// The module to run, by its prefix (see `ModuleCatalog.resolve`); the sole recurrent one when nil.
        public var module: String?
        /// Modules to run in order, each fed the previous one's output.
        public var pipeline: [String]?
        public var options: ModuleOptions
        /// Overrides of the compute dtype's default tolerance.
        public var rtol: Double?
        public var atol: Double?
        /// Refuse every global outside `torch.load(weights_only=True)`'s allowlist.
        public var strict: Bool
        /// Forward passes to time (the median is reported); outputs come from the first.
        public var repeatCount: Int
        /// How to load and run: engine, kernel set, threads, pool.
        public var compute: Compute
        /// Where to count what reading the checkpoint costs (nil: not counted).
        public var work: LoadWork?
        /// Per output tensor, an absolute allowance added to the float32 tolerance: how far
        /// PyTorch's own float32 result is from the float64 truth (a golden manifest's
        /// `torch_distance`), so that ptload must be as close to the truth as PyTorch is.
        public var allowance: [String: Double]?
        /// Run the sequence in chunks of this many steps (≥ 1) through a `RecurrentStream`,
        /// carrying the state, instead of whole: one recurrent module, unidirectional, no lengths.
        /// A cell takes one step per call whatever the number: its input may then be a sequence,
        /// `[T, N, I]`, or `[T, I]` when the reference holds `output` (every step's h').
        public var chunkSteps: Int?
        /// Also run in float64 and judge that against the references with the float64 defaults;
        /// the run passes only when both verdicts pass (references that are float64 truths).
        public var checkFloat64 = false

        public init(modelPath: String, referencePath: String? = nil, inputPath: String? = nil,
                    outputPath: String? = nil,
                    module: String? = nil, pipeline: [String]? = nil, options: ModuleOptions = ModuleOptions(),
                    rtol: Double? = nil, atol: Double? = nil, strict: Bool = false, repeatCount: Int = 1,
                    compute: Compute = .automatic, work: LoadWork? = nil) {
            self.modelPath = modelPath
            self.referencePath = referencePath
            self.inputPath = inputPath
            self.outputPath = outputPath
            self.module = module
            self.pipeline = pipeline
            self.options = options
            self.rtol = rtol
            self.atol = atol
            self.strict = strict
            self.repeatCount = repeatCount
            self.compute = compute
            self.work = work
        }
    }

    /// Loads, runs, writes and compares as `request` says.
    /// - Throws: `ModuleRunError` for anything that is not a mismatch (a mismatch is a report
    ///   with `passed` false).
    public static func run(_ request: Request) throws(ModuleRunError) -> ModuleRunReport {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let catalog = try load(request.modelPath, strict: request.strict, work: request.work)
        return try run(request, on: catalog, since: loadStart)
    }

    /// Reads the checkpoint at `path` and finds its modules.
    static func load(_ path: String, strict: Bool, work: LoadWork?) throws(ModuleRunError) -> ModuleCatalog {
        do {
            return ModuleCatalog(try Checkpoint.load(path: path, options: LoadOptions(strict: strict, work: work)))
        } catch {
            throw .checkpoint(error)
        }
    }

    /// `request` on a checkpoint already read (`request.modelPath` names it in messages);
    /// loading is timed from `loadStart`.
    static func run(_ request: Request, on catalog: ModuleCatalog, since loadStart: UInt64)
        throws(ModuleRunError) -> ModuleRunReport {
        let reference = try request.referencePath.map { path throws(ModuleRunError) in
            try ReferenceArrays(path: path, role: .reference)
        }
        let inputs: ReferenceArrays
        if let inputPath = request.inputPath {
            inputs = try ReferenceArrays(path: inputPath, role: .input)
        } else if let reference, reference.isArchive {
            inputs = reference
        } else {
            throw .noInput
        }
        guard let input = inputs["input"] else { throw .noInputArray(file: inputs.path, members: inputs.names) }

        let prefixes: [String]
        do throws(NNError) {
            if let pipeline = request.pipeline {
                prefixes = try pipeline.map { name throws(NNError) in try catalog.resolve(name) }
            } else if let module = request.module {
                prefixes = [try catalog.resolve(module)]
            } else {
                prefixes = [try catalog.soleRecurrent()]
            }
        } catch {
            throw ModuleRunError(file: request.modelPath, error)
        }
        let run = Run(request: request, catalog: catalog, prefixes: prefixes, input: input, inputs: inputs,
                      reference: reference, loadSeconds: seconds(since: loadStart))
        if Pipeline<Double>.isFloat64(catalog.checkpoint, prefixes: prefixes) { return try run.execute(Double.self) }
        return try run.execute(Float.self)
    }

    /// A run once the files are read and the modules found.
    private struct Run {
        let request: Request
        let catalog: ModuleCatalog
        let prefixes: [String]
        let input: Tensor
        let inputs: ReferenceArrays
        let reference: ReferenceArrays?
        let loadSeconds: Double

        /// Whether the reference holds an `output` to compare (a cell's streamed `[T, I]` is a sequence then).
        var expectsOutput: Bool { reference?["output"] != nil }

        func execute<Scalar: ArrayScalar>(_: Scalar.Type) throws(ModuleRunError) -> ModuleRunReport {
            let isIDs = !input.dtype.isFloatingPoint
            let loadStart = DispatchTime.now().uptimeNanoseconds
            let pipeline: Pipeline<Scalar>
            do {
                pipeline = try Pipeline<Scalar>(catalog: catalog, prefixes: prefixes, options: request.options,
                                                firstInputIsIDs: isIDs, compute: request.compute)
            } catch {
                throw ModuleRunError(file: request.modelPath, error)
            }
            let stageLoad = seconds(since: loadStart)

            let pipelineInput: PipelineInput
            if isIDs {
                guard [.int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64].contains(input.dtype) else {
                    throw .badArray(file: inputs.path, name: "input", .notValuesOrIDs(input.dtype))
                }
                pipelineInput = .ids(try inputs.integers(input, "input"), shape: input.shape)
            } else {
                pipelineInput = .values(input)
            }
            let h0 = try inputs["h0"].map { t throws(ModuleRunError) in try inputs.values(t, Scalar.self, "h0") }
            let c0 = try inputs["c0"].map { t throws(ModuleRunError) in try inputs.values(t, Scalar.self, "c0") }
            let lengths = try inputs["lengths"].map { t throws(ModuleRunError) in try inputs.lengths(t) }

            var times: [Double] = []
            var stream: ModuleRunReport.Stream?
            let result: Pipeline<Scalar>.Output
            if let chunk = request.chunkSteps {
                let streamed = try StreamedRun(request: request, pipeline: pipeline, prefixes: prefixes,
                                               inputs: inputs, chunk: chunk, expectsOutput: expectsOutput)
                    .run(input: input, h0: h0, c0: c0, hasLengths: lengths != nil)
                (result, times, stream) = (streamed.output, streamed.times, streamed.report)
            } else {
                let forward = { () throws(ModuleRunError) -> Pipeline<Scalar>.Output in
                    let start = DispatchTime.now().uptimeNanoseconds
                    do throws(NNError) {
                        let out = try pipeline.forward(pipelineInput, h0: h0, c0: c0, lengths: lengths)
                        times.append(seconds(since: start))
                        return out
                    } catch {
                        throw ModuleRunError(file: inputs.path, error)
                    }
                }
                result = try forward()
                for _ in 1..<max(request.repeatCount, 1) { _ = try forward() }
            }

            var produced: [(name: String, array: ShapedArray<Scalar>)] = []
            if let o = result.output { produced.append(("output", o)) }
            if let h = result.hN { produced.append(("h_n", h)) }
            if let c = result.cN { produced.append(("c_n", c)) }

            if let outputPath = request.outputPath {
                let inputs = [request.modelPath, request.referencePath, request.inputPath].compactMap { $0 }
                do {
                    try Numpy.writeNpz(arrays: produced.map { ($0.name, $0.array) }, to: outputPath, inputs: inputs)
                } catch {
                    throw .numpy(error)
                }
            }

            let computeDType = Scalar.dtype
            var tolerance = Tolerance.defaults(for: computeDType)
            if let rtol = request.rtol { tolerance.rtol = rtol }
            if let atol = request.atol { tolerance.atol = atol }
            let base = tolerance
            /// The tolerance for one tensor: the compute dtype's, widened by its allowance.
            func widened(for name: String) -> Tolerance {
                guard let extra = request.allowance?[name] else { return base }
                return Tolerance(rtol: base.rtol, atol: base.atol + extra)
            }
            var comparisons: [Comparison] = []
            var expected: [(String, Tensor)] = []
            if let reference {
                if reference.isArchive {
                    expected = ["output", "h_n", "c_n"].compactMap { name in reference[name].map { (name, $0) } }
                    guard !expected.isEmpty else { throw .nothingToCompare(file: reference.path) }
                } else {
                    expected = reference["output"].map { [("output", $0)] } ?? []
                }
                for (name, want) in expected {
                    guard let got = produced.first(where: { $0.name == name })?.array else {
                        throw .notProduced(file: reference.path, name: name,
                                           modules: pipeline.stages.map(\.description).joined(separator: " → "))
                    }
                    comparisons.append(try compare(name, got, want, widened(for: name)))
                }
            }
            // The float64 verdict: ptload's float64 run against the truths, float64 defaults.
            var float64: ModuleRunReport.Float64Verdict?
            if request.checkFloat64, reference != nil {
                let wide: Pipeline<Double>.Output
                if let same = result as? Pipeline<Double>.Output {
                    wide = same
                } else {
                    wide = try runFloat64(input: pipelineInput, lengths: lengths)
                }
                let tolerance64 = Tolerance.defaults(for: .float64)
                var wideComparisons: [Comparison] = []
                for (name, want) in expected {
                    let got: ShapedArray<Double>? = name == "output" ? wide.output : name == "h_n" ? wide.hN : wide.cN
                    guard let got else { continue }
                    wideComparisons.append(try compare(name, got, want, tolerance64))
                }
                float64 = .init(tolerance: tolerance64, comparisons: wideComparisons,
                                passed: wideComparisons.allSatisfy(\.passed))
            }
            // A float32 reference that fails a float32 run: how far that run is from ptload's own
            // float64 run, so that the report can tell drift of the reference from a wrong result.
            var float64Distance: [String: Double]?
            if Scalar.self == Float.self, comparisons.contains(where: { !$0.passed }), !request.checkFloat64,
               expected.allSatisfy({ $0.1.dtype == .float32 }) {
                float64Distance = try distanceToFloat64(produced.map { ($0.name, $0.array.values.map(Double.init)) },
                                                        input: pipelineInput, lengths: lengths)
            }
            let sorted = times.sorted()
            return ModuleRunReport(
                model: request.modelPath, reference: request.referencePath, modules: prefixes,
                module_configs: pipeline.stages.map(\.description), module_kernels: pipeline.stages.map(\.kernels),
                compute_dtype: computeDType.rawValue, tolerance: tolerance, comparisons: comparisons,
                outputs: Dictionary(uniqueKeysWithValues: produced.map { ($0.name, $0.array.shape) }),
                written: request.outputPath, passed: comparisons.allSatisfy(\.passed) && (float64?.passed ?? true),
                float64_distance: float64Distance, allowance: request.allowance, float64: float64,
                timings: .init(load_s: loadSeconds + stageLoad, forward_s: sorted[sorted.count / 2],
                               forward_runs: sorted.count),
                stream: stream)
        }
        /// `actual` against the reference's `expected`.
        func compare<Scalar>(_ name: String, _ actual: ShapedArray<Scalar>, _ expected: Tensor,
                             _ tolerance: Tolerance) throws(ModuleRunError) -> Comparison {
            do {
                return try Comparison(name: name, actual: actual, expected: expected, tolerance: tolerance)
            } catch {
                throw .tensor(unerased: error)
            }
        }

        /// The largest |float32 − float64| of each output, the float64 run on the same inputs
        /// with the weights widened exactly.
        func distanceToFloat64(_ float32: [(String, [Double])], input: PipelineInput, lengths: [Int]?)
            throws(ModuleRunError) -> [String: Double] {
            let out = try runFloat64(input: input, lengths: lengths)
            var distance: [String: Double] = [:]
            for (name, values) in float32 {
                let wide: ShapedArray<Double>? = name == "output" ? out.output : name == "h_n" ? out.hN : out.cN
                guard let wide, wide.values.count == values.count else { continue }
                distance[name] = zip(values, wide.values).reduce(0) { max($0, abs($1.0 - $1.1)) }
            }
            return distance
        }

        /// The same modules and inputs in float64, the weights widened exactly.
        func runFloat64(input: PipelineInput, lengths: [Int]?) throws(ModuleRunError) -> Pipeline<Double>.Output {
            let pipeline: Pipeline<Double>
            do {
                pipeline = try Pipeline<Double>(catalog: catalog, prefixes: prefixes, options: request.options,
                                                firstInputIsIDs: !self.input.dtype.isFloatingPoint,
                                                compute: request.compute)
            } catch {
                throw ModuleRunError(file: request.modelPath, error)
            }
            let h0 = try inputs["h0"].map { t throws(ModuleRunError) in try inputs.values(t, Double.self, "h0") }
            let c0 = try inputs["c0"].map { t throws(ModuleRunError) in try inputs.values(t, Double.self, "c0") }
            if let chunk = request.chunkSteps {
                // Streamed as the float32 run was (a cell's sequence has no whole-sequence forward), once.
                var once = request
                once.repeatCount = 1
                return try StreamedRun(request: once, pipeline: pipeline, prefixes: prefixes, inputs: inputs,
                                       chunk: chunk, expectsOutput: expectsOutput)
                    .run(input: self.input, h0: h0, c0: c0, hasLengths: lengths != nil).output
            }
            do {
                return try pipeline.forward(input, h0: h0, c0: c0, lengths: lengths)
            } catch {
                throw ModuleRunError(file: inputs.path, error)
            }
        }
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
