import PTCheckpoint
import PTKernels
import PTTensor

/// The modules of one checkpoint that ptload can run, found once: the recurrent ones (by their
/// keys and any pickled attributes) and every other module with a `weight` (Linear, Embedding),
/// by the prefix `model.state_dict()` gives them.
public struct ModuleCatalog {
    public let checkpoint: Checkpoint
    /// Every recurrent module, in key order.
    public let recurrent: [RecurrentModule]
    /// Every module prefix: the recurrent ones, then those of other `weight` keys.
    public let prefixes: [String]
    /// The checkpoint's tensors as its modules see them (weight norm computed).
    public let parameters: ModuleParameters

    public init(_ checkpoint: Checkpoint) {
        self.checkpoint = checkpoint
        parameters = ModuleParameters(checkpoint)
        recurrent = RecurrentModule.discover(in: checkpoint, parameters: parameters)
        var seen = Set<ExactName>()
        var prefixes: [String] = []
        for p in recurrent.map(\.prefix) where seen.insert(ExactName(p)).inserted { prefixes.append(p) }
        for t in parameters.entries {
            guard let p = t.key.isExactly("weight") ? "" : t.key.droppingExactSuffix(".weight") else { continue }
            if seen.insert(ExactName(p)).inserted { prefixes.append(p) }
        }
        self.prefixes = prefixes
    }

    /// The recurrent module at exactly `prefix`.
    public func recurrentModule(at prefix: String) -> RecurrentModule? {
        recurrent.first { $0.prefix.isExactly(prefix) }
    }

    /// Resolves `name` to a module prefix: exactly, or as the unique module whose prefix ends with
    /// `.name` (so `lstm` finds `model_state_dict.lstm` in a training checkpoint).
    /// - Throws: `NNError.noSuchModule`, `.ambiguousModule`.
    public func resolve(_ name: String) throws(NNError) -> String {
        do {
            return try ModuleCatalog.resolve(name, among: prefixes)
        } catch .noSuchModule {
            // Keys under `name.` that make no module ptload runs: say why, never "no module".
            let dot = name + "."
            if checkpoint.tensors.contains(where: { $0.key.droppingExactPrefix(dot) != nil }) {
                throw .unrecognised(prefix: name, unrecognisedReason(name))
            }
            throw .noSuchModule(name: name, candidates: prefixes)
        }
    }

    /// `resolve` over any list of prefixes.
    public static func resolve(_ name: String, among candidates: [String]) throws(NNError) -> String {
        if candidates.contains(where: { $0.isExactly(name) }) { return name }
        let matches = candidates.filter { $0.droppingExactSuffix("." + name) != nil }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw .noSuchModule(name: name, candidates: candidates) }
        throw .ambiguousModule(name: name, matches: matches)
    }

    /// The one recurrent module of the file, when none is named.
    /// - Throws: `NNError.noRecurrentModule`, `.severalRecurrentModules`.
    public func soleRecurrent() throws(NNError) -> String {
        guard recurrent.count == 1 else {
            if recurrent.isEmpty { throw .noRecurrentModule(why: RecurrentModule.whyNone(in: checkpoint)) }
            throw .severalRecurrentModules(prefixes: recurrent.map(\.prefix))
        }
        return recurrent[0].prefix
    }

    /// The recurrent module `name` (resolved as `resolve` does; the sole one when nil), loaded
    /// strictly for `compute` and ready to run: a checkpoint to a runnable module in one call.
    /// - Throws: `NNError` for a name that finds no recurrent module, options that contradict the
    ///   file, and any missing, misshapen or unused weight.
    public func recurrent<Scalar: ArrayScalar>(_ name: String? = nil, options: ModuleOptions = ModuleOptions(),
                                               as _: Scalar.Type = Scalar.self,
                                               compute: Compute = .automatic) throws(NNError) -> Recurrent<Scalar> {
        let prefix: String
        if let name { prefix = try resolve(name) } else { prefix = try soleRecurrent() }
        guard let module = recurrentModule(at: prefix) else {
            throw .unrecognised(prefix: prefix, unrecognisedReason(prefix))
        }
        let config = try module.configuration(options: options)
        var weights = WeightMap(parameters, prefix: prefix, moduleName: config.description)
        return try Recurrent(config: config, weights: &weights, compute: compute)
    }

    /// Why `prefix` is not a recurrent module.
    func unrecognisedReason(_ prefix: String) -> NNError.NotAModule {
        let dot = prefix.isEmpty ? "" : prefix + "."
        for name in ["weight_ih_l0", "weight_hh_l0", "weight_ih", "weight_hh"] {
            if let fault = parameters.whyUnknown(dot + name) { return .parametrization(fault) }
        }
        if parameters[dot + "weight_ih_l0"] == nil && parameters[dot + "weight_ih"] == nil {
            return .noInputWeight(layerKey: dot + "weight_ih_l0", cellKey: dot + "weight_ih")
        }
        return .shapesFitNoLayer
    }

    /// Prefixes for messages: `(root)` for the empty one.
    public static func listed(_ prefixes: [String]) -> String {
        prefixes.map { $0.isEmpty ? "(root)" : $0 }.joined(separator: ", ")
    }
}
