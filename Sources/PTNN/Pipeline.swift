import PTCheckpoint
import PTKernels
import PTTensor

/// What a pipeline is fed: token ids (first stage an Embedding) or values.
public enum PipelineInput {
    case ids([Int64], shape: [Int])
    case values(Tensor)
}

/// Modules run in order, each fed the previous one's output (a recurrent module passes on its
/// `output`): the seeds' "embedding → RNN → linear". One module is a pipeline of one stage.
public final class Pipeline<Scalar: ArrayScalar> {
    public enum Stage {
        case embedding(Embedding<Scalar>)
        case linear(Linear<Scalar>)
        case recurrent(Recurrent<Scalar>)
    }

    public let prefixes: [String]
    public let stages: [Stage]

    /// Loads every stage strictly, for `compute`. A stage is recurrent when the catalog found it
    /// so; otherwise a `weight`-only stage fed token ids is an Embedding and any other a Linear.
    /// - Throws: `NNError` naming the dotted key for anything missing, misshapen or unused;
    ///   `.checkpoint` for a weight's record failing its check.
    public init(catalog: ModuleCatalog, prefixes: [String], options: ModuleOptions, firstInputIsIDs: Bool,
                compute: Compute = .automatic) throws(NNError) {
        let parameters = catalog.parameters
        var stages: [Stage] = []
        for (i, prefix) in prefixes.enumerated() {
            let dot = prefix.isEmpty ? "" : prefix + "."
            if let module = catalog.recurrentModule(at: prefix) {
                let config = try module.configuration(options: options)
                var weights = WeightMap(parameters, prefix: prefix, moduleName: config.description)
                stages.append(.recurrent(try Recurrent(config: config, weights: &weights, compute: compute)))
            } else if let weight = parameters[dot + "weight"] {
                if i == 0 && firstInputIsIDs {
                    var weights = WeightMap(parameters, prefix: prefix, moduleName: "Embedding\(weight.shape)")
                    stages.append(.embedding(try Embedding(weights: &weights, shape: weight.shape)))
                } else {
                    var weights = WeightMap(parameters, prefix: prefix, moduleName: "Linear\(weight.shape)")
                    stages.append(.linear(try Linear(weights: &weights, shape: weight.shape, compute: compute)))
                }
            } else {
                throw .unrecognised(prefix: prefix, .noWeights(weightKey: dot + "weight"))
            }
        }
        self.prefixes = prefixes
        self.stages = stages
    }

    /// Whether `prefixes` of `checkpoint` hold only float64 weights (the pipeline then runs in float64).
    public static func isFloat64(_ checkpoint: Checkpoint, prefixes: [String]) -> Bool {
        let tensors = checkpoint.tensors.filter { t in
            prefixes.contains { p in p.isEmpty || t.key.hasPrefix(p + ".") }
        }.map(\.tensor).filter { $0.dtype.isFloatingPoint }
        return !tensors.isEmpty && tensors.allSatisfy { $0.dtype == .float64 }
    }

    /// The last stage's output, and the last recurrent stage's `h_n` / `c_n`.
    public struct Output {
        public var output: ShapedArray<Scalar>?
        public var hN: ShapedArray<Scalar>?
        public var cN: ShapedArray<Scalar>?

        public init(output: ShapedArray<Scalar>? = nil, hN: ShapedArray<Scalar>? = nil,
                    cN: ShapedArray<Scalar>? = nil) {
            self.output = output
            self.hN = hN
            self.cN = cN
        }
    }

    /// Runs every stage, on `compute`'s threads and pool (each stage's load value's when nil).
    /// `h0`, `c0` go to the first recurrent stage; `lengths` to every recurrent stage.
    /// - Throws: `NNError.badInput` for inputs that do not fit a stage.
    public func forward(_ input: PipelineInput, h0: ShapedArray<Scalar>?, c0: ShapedArray<Scalar>?, lengths: [Int]?,
                        compute: Compute? = nil) throws(NNError) -> Output {
        var current: ShapedArray<Scalar>?
        var result = Output()
        var firstRecurrent = true
        for (i, stage) in stages.enumerated() {
            switch stage {
            case .embedding(let e):
                guard i == 0, case .ids(let ids, let shape) = input else {
                    throw .badInput(.embeddingNeedsIDs)
                }
                current = try e.forward(ids: ids, shape: shape)
            case .linear(let l):
                current = try l.forward(try value(current, input))
            case .recurrent(let r):
                let out = try r.forward(try value(current, input), h0: firstRecurrent ? h0 : nil,
                                        c0: firstRecurrent ? c0 : nil, lengths: lengths, compute: compute)
                firstRecurrent = false
                current = out.output ?? out.hN
                result.hN = out.hN
                result.cN = out.cN
            }
        }
        if case .recurrent(let r) = stages.last, r.config.isCell {
            result.output = nil
        } else {
            result.output = current
        }
        return result
    }

    private func value(_ current: ShapedArray<Scalar>?, _ input: PipelineInput) throws(NNError) -> ShapedArray<Scalar> {
        if let current { return current }
        switch input {
        case .values(let t):
            guard t.dtype.isFloatingPoint else { throw .badInput(.notFloatingPoint(dtype: t.dtype)) }
            do {
                return try ShapedArray(t)
            } catch {
                throw NNError.unerased(error) { .badInput(.unreadable($0)) }
            }
        case .ids:
            throw .badInput(.idsWithoutEmbedding)
        }
    }
}

extension Pipeline.Stage: CustomStringConvertible {
    /// As PyTorch prints the module: `Embedding(10, 4)`, `Linear(in_features=3, out_features=2)`, `LSTM(…)`.
    public var description: String {
        switch self {
        case .embedding(let e): return "Embedding(\(e.count), \(e.dimension))"
        case .linear(let l): return "Linear(in_features=\(l.inFeatures), out_features=\(l.outFeatures))"
        case .recurrent(let r): return r.config.description
        }
    }

    /// What the stage runs on: a kernel set, `reference`, or `lookup` (an Embedding).
    public var kernels: String {
        switch self {
        case .recurrent(let r): return r.kernels
        case .linear(let l): return l.kernels
        case .embedding: return "lookup"
        }
    }
}
