import PTKernels

/// `torch.nn.Linear`: `y = x Wᵀ + b` over the last axis (`weight: [O, I]`, `bias: [O]`).
public final class Linear<Scalar: GEMMScalar> {
    public let inFeatures: Int
    public let outFeatures: Int
    let weight: [Scalar]
    let bias: [Scalar]?

    /// Takes `weight` (and `bias` when present) from `weights`; sizes come from `weight`'s shape.
    public init(weights: inout WeightMap, shape: [Int]) throws {
        guard shape.count == 2 else {
            throw NNError.wrongShape(key: weights.dotted("weight"), shape: shape, expected: [shape.first ?? 0, shape.last ?? 0], module: weights.moduleName)
        }
        outFeatures = shape[0]
        inFeatures = shape[1]
        weight = try weights.take("weight", shape: shape)
        bias = weights.contains("bias") ? try weights.take("bias", shape: [outFeatures]) : nil
        try weights.finish()
    }

    /// - Parameter x: `[…, I]`. - Returns: `[…, O]`.
    public func forward(_ x: Dense<Scalar>) throws -> Dense<Scalar> {
        guard x.rank >= 1, x.shape.last == inFeatures else {
            throw NNError.badInput("Linear(in_features=\(inFeatures), out_features=\(outFeatures)) got input of shape \(x.shape); the last axis must be \(inFeatures)")
        }
        let rows = x.values.count / max(inFeatures, 1)
        var out = [Scalar](repeating: 0, count: rows * outFeatures)
        if rows > 0 && inFeatures > 0 {
            x.values.withUnsafeBufferPointer { a in
                weight.withUnsafeBufferPointer { w in
                    out.withUnsafeMutableBufferPointer { c in
                        Scalar.gemmABt(m: rows, n: outFeatures, k: inFeatures, alpha: 1, a: a.baseAddress!, lda: inFeatures,
                                       b: w.baseAddress!, ldb: inFeatures, beta: 0, c: c.baseAddress!, ldc: outFeatures)
                    }
                }
            }
        }
        if let bias {
            for r in 0..<rows { for j in 0..<outFeatures { out[r * outFeatures + j] += bias[j] } }
        }
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        return Dense(shape: shape, values: out)
    }
}

/// `torch.nn.Embedding`: row lookup (`weight: [V, E]`).
public final class Embedding<Scalar: GEMMScalar> {
    public let count: Int
    public let dimension: Int
    let weight: [Scalar]

    public init(weights: inout WeightMap, shape: [Int]) throws {
        guard shape.count == 2 else {
            throw NNError.wrongShape(key: weights.dotted("weight"), shape: shape, expected: [shape.first ?? 0, shape.last ?? 0], module: weights.moduleName)
        }
        count = shape[0]
        dimension = shape[1]
        weight = try weights.take("weight", shape: shape)
        try weights.finish()
    }

    /// - Parameters:
    ///   - ids: token ids of any shape `[…]`.
    /// - Returns: `[…, E]`.
    /// - Throws: `NNError.badInput` for an id outside `0..<V` (PyTorch's "index out of range in self").
    public func forward(ids: [Int64], shape: [Int]) throws -> Dense<Scalar> {
        var out = [Scalar]()
        out.reserveCapacity(ids.count * dimension)
        for (i, id) in ids.enumerated() {
            guard id >= 0, id < count else {
                throw NNError.badInput("token id \(id) at flat index \(i) is out of range for Embedding(\(count), \(dimension))")
            }
            let row = Int(id) * dimension
            out.append(contentsOf: weight[row..<(row + dimension)])
        }
        return Dense(shape: shape + [dimension], values: out)
    }
}
