import PTCheckpoint
import PTKernels
import PTTensor

/// The tensors of one module: every key under `prefix.`, claimed one by one as the module
/// loads, so that a missing, unused or misshapen key is an error naming the dotted key.
public struct WeightMap {
    public let prefix: String
    public let moduleName: String
    private var remaining: [ExactName: Tensor]
    private let order: [String]

    /// Collects the keys of `checkpoint` under `prefix` (all keys when `prefix` is empty).
    public init(_ checkpoint: Checkpoint, prefix: String, moduleName: String) {
        self.prefix = prefix
        self.moduleName = moduleName
        let dot = prefix.isEmpty ? "" : prefix + "."
        var remaining: [ExactName: Tensor] = [:]
        var order: [String] = []
        for t in checkpoint.tensors {
            guard let name = t.key.droppingExactPrefix(dot) else { continue }
            if remaining[ExactName(name)] == nil { order.append(name) }
            remaining[ExactName(name)] = t.tensor
        }
        self.remaining = remaining
        self.order = order
    }

    public func dotted(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    public func contains(_ name: String) -> Bool { remaining[ExactName(name)] != nil }

    /// Takes `name`, which must have `shape`, widened to the compute type.
    public mutating func take<Scalar>(_ name: String, shape: [Int], as _: Scalar.Type = Scalar.self) throws -> [Scalar] where Scalar: GEMMScalar {
        guard let t = remaining.removeValue(forKey: ExactName(name)) else {
            throw NNError.missingKey(key: dotted(name), expected: "a \(shape) tensor of \(moduleName)")
        }
        guard t.shape == shape else {
            throw NNError.wrongShape(key: dotted(name), shape: t.shape, expected: shape, module: moduleName)
        }
        guard t.dtype.isFloatingPoint else {
            throw NNError.unsupportedDType(key: dotted(name), dtype: t.dtype.rawValue)
        }
        do {
            return try Scalar.values(of: t)
        } catch let e as TensorError {
            throw NNError.unreadableWeight(key: dotted(name), e)
        } catch let e as CheckpointError {
            throw NNError.checkpoint(e)
        }
    }

    /// Fails on the first key nobody took.
    public func finish() throws {
        if let name = order.first(where: { remaining[ExactName($0)] != nil }) {
            throw NNError.unusedKey(key: dotted(name), module: moduleName)
        }
    }
}
