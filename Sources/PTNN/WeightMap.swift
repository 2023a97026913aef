import PTCheckpoint
import PTKernels
import PTTensor

/// The tensors of one module: every parameter under `prefix.` (as `ModuleParameters` sees them,
/// weight norm computed), claimed one by one as the module loads, so that a missing, unused or
/// misshapen key is an error naming the dotted key.
public struct WeightMap {
    public let prefix: String
    public let moduleName: String
    private var remaining: [ExactName: ModuleParameters.Entry]
    private let order: [String]
    private let parameters: ModuleParameters

    /// Collects the parameters of `checkpoint` under `prefix` (all when `prefix` is empty).
    public init(_ checkpoint: Checkpoint, prefix: String, moduleName: String) {
        self.init(ModuleParameters(checkpoint), prefix: prefix, moduleName: moduleName)
    }

    /// Collects `parameters` under `prefix` (all when `prefix` is empty).
    public init(_ parameters: ModuleParameters, prefix: String, moduleName: String) {
        self.prefix = prefix
        self.moduleName = moduleName
        self.parameters = parameters
        let dot = prefix.isEmpty ? "" : prefix + "."
        var remaining: [ExactName: ModuleParameters.Entry] = [:]
        var order: [String] = []
        for entry in parameters.entries {
            guard let name = entry.key.droppingExactPrefix(dot) else { continue }
            if remaining[ExactName(name)] == nil { order.append(name) }
            remaining[ExactName(name)] = entry
        }
        self.remaining = remaining
        self.order = order
    }

    public func dotted(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    public func contains(_ name: String) -> Bool { remaining[ExactName(name)] != nil }

    /// Takes `name`, which must have `shape`, widened to the compute type; a weight-normed one is
    /// computed from its g and v in float64 (`ModuleParameters.weightNorm`) and then rounded.
    /// - Throws: `NNError.missingKey`, `.unknownParametrization`, `.wrongShape`, `.unsupportedDType`
    ///   naming the dotted key; `.unreadableWeight` for values that cannot be read, and
    ///   `.checkpoint` with the checkpoint's error, unchanged, for a record failing its check.
    public mutating func take<Scalar>(
        _ name: String, shape: [Int], as _: Scalar.Type = Scalar.self
    ) throws(NNError) -> [Scalar] where Scalar: ArrayScalar {
        guard let entry = remaining.removeValue(forKey: ExactName(name)) else {
            if let fault = parameters.whyUnknown(dotted(name)) {
                throw .unknownParametrization(key: dotted(name), fault)
            }
            throw .missingKey(key: dotted(name), shape: shape, module: moduleName)
        }
        guard entry.shape == shape else {
            throw .wrongShape(key: dotted(name), shape: entry.shape, expected: shape, module: moduleName)
        }
        switch entry.value {
        case .stored(let t):
            guard t.dtype.isFloatingPoint else {
                throw .unsupportedDType(key: dotted(name), dtype: t.dtype.rawValue)
            }
            return try read(name) { try Scalar.values(of: t) }
        case let .weightNorm(g, v, kept):
            for part in [g, v] where !part.tensor.dtype.isFloatingPoint {
                throw .unsupportedDType(key: part.key, dtype: part.tensor.dtype.rawValue)
            }
            return try read(name) {
                try ModuleParameters.weightNorm(g: g.tensor, v: v.tensor, kept: kept).map { Scalar($0) }
            }
        }
    }

    /// The one place weight bytes are read (through PTTensor's untyped `throws`): what the
    /// storage throws gets its place in `NNError` (`NNError.unerased`).
    private func read<T>(_ name: String, _ body: () throws -> T) throws(NNError) -> T {
        do {
            return try body()
        } catch {
            throw NNError.unerased(error) { .unreadableWeight(key: dotted(name), $0) }
        }
    }

    /// Fails on the first key nobody took.
    public func finish() throws(NNError) {
        if let name = order.first(where: { remaining[ExactName($0)] != nil }) {
            throw .unusedKey(key: dotted(name), module: moduleName)
        }
    }
}
