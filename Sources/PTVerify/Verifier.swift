import Dispatch
import PTCheckpoint
import PTKernels
import PTNN
import PTNumpy
import PTTensor

/// One `ptload MODEL --verify REF` (or `--output OUT`) run, as the command line states it.
public struct VerifyRequest {
    public var modelPath: String
    /// `REF.npz` (inputs and expected outputs) or `REF.npy` (the expected `output`).
    public var referencePath: String?
    /// `X.npy` (the input) or `X.npz` (input, h0, c0, lengths); defaults to the reference's.
    public var inputPath: String?
    /// Where to write `output`, `h_n`, `c_n` as `.npz`.
    public var outputPath: String?
    /// `--module PREFIX`.
    public var module: String?
    /// `--pipeline P1,P2,…`.
    public var pipeline: [String]?
    public var options: ModuleOptions
    public var rtol: Double?
    public var atol: Double?
    public var strict: Bool
    /// Forward passes to time (the median is reported); outputs come from the first.
    public var repeatCount: Int
    /// Where to count what reading the checkpoint costs (nil: not counted).
    public var work: LoadWork?

    public init(modelPath: String, referencePath: String? = nil, inputPath: String? = nil, outputPath: String? = nil,
                module: String? = nil, pipeline: [String]? = nil, options: ModuleOptions = ModuleOptions(),
                rtol: Double? = nil, atol: Double? = nil, strict: Bool = false, repeatCount: Int = 1,
                work: LoadWork? = nil) {
        self.work = work
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
    }
}

/// Why a run could not happen: bad files, bad usage, inputs that do not fit. Exit status 2.
public struct VerifyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a run found. Encodes to the `--json` report.
public struct VerifyReport: Codable {
    public struct Timings: Codable {
        public var load_s: Double
        public var forward_s: Double
        public var forward_runs: Int
    }
    public let model: String
    public let reference: String?
    public let modules: [String]
    public let module_configs: [String]
    /// What each module ran on: a kernel set (avx512, avx2, neon, plain), or reference.
    public let module_kernels: [String]
    public let compute_dtype: String
    public let tolerance: Tolerance
    public let comparisons: [Comparison]
    public let outputs: [String: [Int]]
    public let written: String?
    public let passed: Bool
    public var timings: Timings
}

public enum Verifier {
    /// Loads the model and the reference, runs the module(s), compares or writes the outputs.
    /// - Throws: `VerifyError` (or a `CheckpointError`, `NumpyError`, `NNError` wrapped in one) for
    ///   anything that is not a mismatch.
    public static func run(_ request: VerifyRequest) throws -> VerifyReport {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(path: request.modelPath, options: LoadOptions(strict: request.strict, work: request.work))
        } catch let e as CheckpointError {
            throw VerifyError(e.description)
        }
        let reference = try request.referencePath.map { try Arrays(path: $0, role: "reference") }
        let inputs: Arrays
        if let inputPath = request.inputPath {
            inputs = try Arrays(path: inputPath, role: "input")
        } else if let reference, reference.isArchive {
            inputs = reference
        } else {
            throw VerifyError("no input: give --input X.npy, or a REF.npz holding 'input'")
        }
        guard let input = inputs["input"] else {
            throw VerifyError("\(inputs.path): holds no 'input' array (members: \(inputs.names.joined(separator: ", ")))")
        }

        let prefixes: [String]
        do {
            if let pipeline = request.pipeline {
                let candidates = ModuleLocator.modulePrefixes(in: checkpoint)
                prefixes = try pipeline.map { try ModuleLocator.resolve($0, among: candidates) }
            } else if let module = request.module {
                prefixes = [try ModuleLocator.resolve(module, among: ModuleLocator.modulePrefixes(in: checkpoint))]
            } else {
                prefixes = [try ModuleLocator.soleRecurrent(in: checkpoint)]
            }
        } catch let e as NNError {
            throw VerifyError("\(request.modelPath): \(e)")
        }
        let loadSeconds = seconds(since: loadStart)

        let isIDs = !input.dtype.isFloatingPoint
        if Pipeline<Double>.isFloat64(checkpoint, prefixes: prefixes) {
            return try execute(Double.self, request, checkpoint, prefixes, input, inputs, reference, isIDs, loadSeconds)
        }
        return try execute(Float.self, request, checkpoint, prefixes, input, inputs, reference, isIDs, loadSeconds)
    }

    private static func execute<Scalar: GEMMScalar>(
        _: Scalar.Type, _ request: VerifyRequest, _ checkpoint: Checkpoint, _ prefixes: [String], _ input: Tensor,
        _ inputs: Arrays, _ reference: Arrays?, _ isIDs: Bool, _ loadSeconds: Double
    ) throws -> VerifyReport {
        let computeDType: DType = Scalar.self == Double.self ? .float64 : .float32
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let pipeline: Pipeline<Scalar>
        do {
            pipeline = try Pipeline<Scalar>(checkpoint: checkpoint, prefixes: prefixes, options: request.options, firstInputIsIDs: isIDs)
        } catch let e as NNError {
            throw VerifyError("\(request.modelPath): \(e)")
        } catch let e as CheckpointError {
            throw VerifyError(e.description)
        }
        let stageLoad = seconds(since: loadStart)

        let pipelineInput: PipelineInput
        do {
            if isIDs {
                guard [.int64, .int32, .int16, .int8, .uint8, .uint16, .uint32, .uint64].contains(input.dtype) else {
                    throw VerifyError("\(inputs.path): 'input' is \(input.dtype.rawValue); expected floating-point values or int64 token ids")
                }
                pipelineInput = .ids(try integers(input, inputs.path, "input"), shape: input.shape)
            } else {
                pipelineInput = .values(input)
            }
        }
        let h0 = try inputs["h0"].map { try dense($0, Scalar.self, inputs.path, "h0") }
        let c0 = try inputs["c0"].map { try dense($0, Scalar.self, inputs.path, "c0") }
        let lengths = try inputs["lengths"].map { try lengthList($0, inputs.path) }

        var times: [Double] = []
        var result: Pipeline<Scalar>.Output?
        for _ in 0..<max(request.repeatCount, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let out = try pipeline.forward(pipelineInput, h0: h0, c0: c0, lengths: lengths)
                if result == nil { result = out }
            } catch let e as NNError {
                throw VerifyError("\(inputs.path): \(e)")
            }
            times.append(seconds(since: start))
        }
        guard let result else { throw VerifyError("no forward pass ran") }

        var produced: [(name: String, tensor: Tensor)] = []
        if let o = result.output { produced.append(("output", try o.tensor())) }
        if let h = result.hN { produced.append(("h_n", try h.tensor())) }
        if let c = result.cN { produced.append(("c_n", try c.tensor())) }

        var written: String?
        if let outputPath = request.outputPath {
            do {
                try Numpy.writeNpz(produced, to: outputPath)
            } catch {
                throw VerifyError("\(error)")
            }
            written = outputPath
        }

        var tolerance = Tolerance.defaults(for: computeDType)
        if let rtol = request.rtol { tolerance.rtol = rtol }
        if let atol = request.atol { tolerance.atol = atol }
        var comparisons: [Comparison] = []
        if let reference {
            let expected: [(String, Tensor)]
            if reference.isArchive {
                expected = ["output", "h_n", "c_n"].compactMap { name in reference[name].map { (name, $0) } }
                guard !expected.isEmpty else {
                    throw VerifyError("\(reference.path): holds none of 'output', 'h_n', 'c_n' to compare with")
                }
            } else {
                expected = reference["output"].map { [("output", $0)] } ?? []
            }
            for (name, want) in expected {
                guard let got = produced.first(where: { $0.name == name })?.tensor else {
                    throw VerifyError("\(reference.path): expects '\(name)', which \(describe(pipeline)) does not produce")
                }
                comparisons.append(try Comparison(name: name, actual: got, expected: want, tolerance: tolerance))
            }
        }
        let sorted = times.sorted()
        return VerifyReport(
            model: request.modelPath, reference: request.referencePath, modules: prefixes,
            module_configs: pipeline.stages.map(describe), module_kernels: pipeline.stages.map(kernels), compute_dtype: computeDType.rawValue, tolerance: tolerance,
            comparisons: comparisons, outputs: Dictionary(uniqueKeysWithValues: produced.map { ($0.name, $0.tensor.shape) }),
            written: written, passed: comparisons.allSatisfy(\.passed),
            timings: .init(load_s: loadSeconds + stageLoad, forward_s: sorted[sorted.count / 2], forward_runs: sorted.count))
    }

    private static func dense<Scalar: GEMMScalar>(_ t: Tensor, _: Scalar.Type, _ path: String, _ name: String) throws -> Dense<Scalar> {
        guard t.dtype.isFloatingPoint else {
            throw VerifyError("\(path): '\(name)' is \(t.dtype.rawValue); expected floating-point values")
        }
        return try Dense<Scalar>(t)
    }

    private static func lengthList(_ t: Tensor, _ path: String) throws -> [Int] {
        guard t.rank == 1, !t.dtype.isFloatingPoint, !t.dtype.isComplex else {
            throw VerifyError("\(path): 'lengths' has shape \(t.shape) and dtype \(t.dtype.rawValue); expected one int64 per batch element")
        }
        return try integers(t, path, "lengths").map { Int($0) }
    }

    /// An integer array's values, exactly: int64 values past ±2^53 do not survive a trip through
    /// Double, so the bytes are read as they are. (A value outside Int64 is an error, not a trap.)
    private static func integers(_ t: Tensor, _ path: String, _ name: String) throws -> [Int64] {
        let bytes = try t.contiguousBytes()
        let item = t.dtype.itemSize
        return try (0..<t.elementCount).map { i -> Int64 in
            let at = i * item
            switch t.dtype {
            case .int64:
                return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int64.self) }
            case .uint64:
                let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
                guard let exact = Int64(exactly: v) else {
                    throw VerifyError("\(path): '\(name)' holds \(v), which is out of range")
                }
                return exact
            case .int32: return Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) })
            case .uint32: return Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) })
            case .int16: return Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int16.self) })
            case .uint16: return Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) })
            case .int8: return Int64(Int8(bitPattern: bytes[at]))
            case .uint8, .bool: return Int64(bytes[at])
            default:
                throw VerifyError("\(path): '\(name)' is \(t.dtype.rawValue); expected integers")
            }
        }
    }

    static func describe<Scalar>(_ stage: Pipeline<Scalar>.Stage) -> String {
        switch stage {
        case .embedding(let e): return "Embedding(\(e.count), \(e.dimension))"
        case .linear(let l): return "Linear(in_features=\(l.inFeatures), out_features=\(l.outFeatures))"
        case .recurrent(let r): return r.config.description
        }
    }

    /// What a stage runs on (an Embedding is a lookup: none).
    static func kernels<Scalar>(_ stage: Pipeline<Scalar>.Stage) -> String {
        switch stage {
        case .recurrent(let r): return r.kernels
        case .linear(let l): return l.kernels
        case .embedding: return "lookup"
        }
    }

    static func describe<Scalar>(_ pipeline: Pipeline<Scalar>) -> String {
        pipeline.stages.map(describe).joined(separator: " → ")
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

/// The arrays of an `.npz` (by member name) or a single `.npy` (named `input` or `output` by role).
struct Arrays {
    let path: String
    let isArchive: Bool
    let arrays: [(name: String, tensor: Tensor)]

    init(path: String, role: String) throws {
        self.path = path
        do {
            if path.hasSuffix(".npy") {
                isArchive = false
                arrays = [(role == "input" ? "input" : "output", try Numpy.readNpy(path: path))]
            } else {
                isArchive = true
                arrays = try Numpy.readNpz(path: path)
            }
        } catch let e as NumpyError {
            throw VerifyError(e.description)
        }
    }

    subscript(name: String) -> Tensor? { arrays.first { $0.name == name }?.tensor }
    var names: [String] { arrays.map(\.name) }
}
