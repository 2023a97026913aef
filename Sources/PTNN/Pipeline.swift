import PTCheckpoint
import PTKernels
import PTTensor

/// Finds modules in a checkpoint by the prefix `model.state_dict()` would give them.
public enum ModuleLocator {
    /// Prefixes of every recurrent module, in key order.
    public static func recurrentPrefixes(in checkpoint: Checkpoint) -> [String] {
        RecurrentLayerInfo.discover(in: checkpoint).map(\.prefix)
    }

    /// Prefixes of every module with a `weight` (Linear, Embedding, …) plus the recurrent ones.
    public static func modulePrefixes(in checkpoint: Checkpoint) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for p in recurrentPrefixes(in: checkpoint) where seen.insert(p).inserted { out.append(p) }
        for t in checkpoint.tensors where t.key == "weight" || t.key.hasSuffix(".weight") {
            let p = t.key == "weight" ? "" : String(t.key.dropLast(".weight".count))
            if seen.insert(p).inserted { out.append(p) }
        }
        return out
    }

    /// Resolves `name` to a module prefix: exactly, or as the unique module whose prefix ends with
    /// `.name` (so `lstm` finds `model_state_dict.lstm` in a training checkpoint).
    /// - Throws: `NNError.badInput` listing the candidates when there is none or more than one.
    public static func resolve(_ name: String, among candidates: [String]) throws -> String {
        if candidates.contains(name) { return name }
        let matches = candidates.filter { $0.hasSuffix("." + name) }
        if matches.count == 1 { return matches[0] }
        let listed = candidates.map { $0.isEmpty ? "(root)" : $0 }.joined(separator: ", ")
        if matches.isEmpty {
            throw NNError.badInput("no module '\(name)' in the checkpoint; modules: \(listed.isEmpty ? "none" : listed)")
        }
        throw NNError.badInput("'\(name)' matches several modules: \(matches.joined(separator: ", ")); give the full prefix")
    }

    /// The one recurrent module of the file, for runs without `--module`.
    public static func soleRecurrent(in checkpoint: Checkpoint) throws -> String {
        let prefixes = recurrentPrefixes(in: checkpoint)
        guard prefixes.count == 1 else {
            if prefixes.isEmpty {
                let why = RecurrentLayerInfo.whyNone(in: checkpoint).map { ": " + $0 } ?? ""
                throw NNError.badInput("the checkpoint holds no RNN, LSTM or GRU weights\(why)")
            }
            throw NNError.badInput("the checkpoint holds \(prefixes.count) recurrent modules (\(prefixes.map { $0.isEmpty ? "(root)" : $0 }.joined(separator: ", "))); choose one with --module")
        }
        return prefixes[0]
    }
}

/// What a pipeline is fed: token ids (first stage an Embedding) or values.
public enum PipelineInput {
    case ids([Int64], shape: [Int])
    case values(Tensor)
}

/// Modules run in order, each fed the previous one's output (a recurrent module passes on its
/// `output`): the seeds' "embedding → RNN → linear". One module is a pipeline of one stage.
public final class Pipeline<Scalar: GEMMScalar> {
    public enum Stage {
        case embedding(Embedding<Scalar>)
        case linear(Linear<Scalar>)
        case recurrent(Recurrent<Scalar>)
    }

    public let prefixes: [String]
    public let stages: [Stage]

    /// Loads every stage strictly. A stage is recurrent when its keys say so; otherwise a
    /// `weight`-only stage fed token ids is an Embedding and any other a Linear.
    public init(checkpoint: Checkpoint, prefixes: [String], options: ModuleOptions, firstInputIsIDs: Bool) throws {
        let recurrent = Set(ModuleLocator.recurrentPrefixes(in: checkpoint))
        var stages: [Stage] = []
        for (i, prefix) in prefixes.enumerated() {
            let dot = prefix.isEmpty ? "" : prefix + "."
            if recurrent.contains(prefix) {
                let config = try RecurrentConfig.infer(prefix: prefix, in: checkpoint, options: options)
                var weights = WeightMap(checkpoint, prefix: prefix, moduleName: config.description)
                stages.append(.recurrent(try Recurrent(config: config, weights: &weights)))
            } else if let weight = checkpoint.tensor(dot + "weight") {
                if i == 0 && firstInputIsIDs {
                    var weights = WeightMap(checkpoint, prefix: prefix, moduleName: "Embedding\(weight.shape)")
                    stages.append(.embedding(try Embedding(weights: &weights, shape: weight.shape)))
                } else {
                    var weights = WeightMap(checkpoint, prefix: prefix, moduleName: "Linear\(weight.shape)")
                    stages.append(.linear(try Linear(weights: &weights, shape: weight.shape)))
                }
            } else {
                throw NNError.unrecognised(prefix: prefix, why: "it has neither recurrent weights nor \(dot)weight")
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
        public var output: Dense<Scalar>?
        public var hN: Dense<Scalar>?
        public var cN: Dense<Scalar>?
    }

    /// Runs every stage. `h0`, `c0` go to the first recurrent stage; `lengths` to every recurrent stage.
    public func forward(_ input: PipelineInput, h0: Dense<Scalar>?, c0: Dense<Scalar>?, lengths: [Int]?) throws -> Output {
        var current: Dense<Scalar>?
        var result = Output()
        var firstRecurrent = true
        for (i, stage) in stages.enumerated() {
            switch stage {
            case .embedding(let e):
                guard i == 0, case .ids(let ids, let shape) = input else {
                    throw NNError.badInput("an Embedding takes token ids (int64), as the first stage")
                }
                current = try e.forward(ids: ids, shape: shape)
            case .linear(let l):
                current = try l.forward(try value(current, input))
            case .recurrent(let r):
                let out = try r.forward(try value(current, input), h0: firstRecurrent ? h0 : nil,
                                        c0: firstRecurrent ? c0 : nil, lengths: lengths)
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

    private func value(_ current: Dense<Scalar>?, _ input: PipelineInput) throws -> Dense<Scalar> {
        if let current { return current }
        switch input {
        case .values(let t):
            guard t.dtype.isFloatingPoint else {
                throw NNError.badInput("input is \(t.dtype.rawValue); the first stage takes floating-point values")
            }
            return try Dense(t)
        case .ids:
            throw NNError.badInput("input holds token ids (int64), but the first stage is not an Embedding")
        }
    }
}
