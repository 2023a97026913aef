import PTKernels
import PTTensor

/// `torch.nn.Linear`: `y = x Wᵀ + b` over the last axis (`weight: [O, I]`, `bias: [O]`), on the
/// packed kernels of the load value's kernel set (whatever its engine).
public final class Linear<Scalar: ArrayScalar>: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    let weight: PackedWeights<Scalar>
    let bias: [Scalar]?

    /// Takes `weight` (and `bias` when present) from `weights`, packed for `compute.kernelSet`;
    /// sizes come from `weight`'s shape.
    public init(weights: inout WeightMap, shape: [Int], compute: Compute = .automatic) throws(NNError) {
        guard shape.count == 2 else {
            throw .wrongShape(key: weights.dotted("weight"), shape: shape,
                              expected: [shape.first ?? 0, shape.last ?? 0], module: weights.moduleName)
        }
        outFeatures = shape[0]
        inFeatures = shape[1]
        let values: [Scalar] = try weights.take("weight", shape: shape)
        guard let kernels = Scalar.kernels(compute.kernelSet) ?? Scalar.kernels(.plain) else {
            throw .unsupportedDType(key: weights.dotted("weight"), dtype: "\(Scalar.self)")
        }
        weight = values.withUnsafeBufferPointer {
            PackedWeights(weight: $0.baseAddress!, rows: shape[0], k: shape[1], kernels: kernels)
        }
        if weights.contains("bias") {
            bias = try weights.take("bias", shape: [outFeatures]) as [Scalar]
        } else {
            bias = nil
        }
        try weights.finish()
    }

    /// The kernel set the product runs on.
    public var kernels: String { weight.kernels.set.rawValue }

    /// - Parameter x: `[…, I]`. - Returns: `[…, O]`.
    /// - Throws: `NNError.badInput(.linearInput)` when the last axis is not `I`.
    public func forward(_ x: ShapedArray<Scalar>) throws(NNError) -> ShapedArray<Scalar> {
        guard x.rank >= 1, x.shape.last == inFeatures else {
            throw .badInput(.linearInput(shape: x.shape, inFeatures: inFeatures, outFeatures: outFeatures))
        }
        let rows = inFeatures > 0 ? x.values.count / inFeatures : x.shape.dropLast().reduce(1, *)
        var out = [Scalar](repeating: 0, count: rows * outFeatures)
        if rows > 0 && outFeatures > 0 {
            // The product writes whole panels: into a padded block, then the O columns.
            let ldc = weight.paddedRows
            var padded = [Scalar](repeating: 0, count: rows * ldc)
            if inFeatures > 0 {   // else the product is zeros, and x holds no element to point at
                x.values.withUnsafeBufferPointer { a in
                    padded.withUnsafeMutableBufferPointer { c in
                        weight.product(m: rows, a: a.baseAddress!, lda: inFeatures, panels: 0..<weight.panelCount,
                                       c: c.baseAddress!, ldc: ldc)
                    }
                }
            }
            for r in 0..<rows {
                for j in 0..<outFeatures { out[r * outFeatures + j] = padded[r * ldc + j] + (bias?[j] ?? 0) }
            }
        }
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        return ShapedArray(shape: shape, values: out)
    }
}

/// `torch.nn.Embedding`: row lookup (`weight: [V, E]`).
public final class Embedding<Scalar: ArrayScalar>: Sendable {
    public let count: Int
    public let dimension: Int
    let weight: [Scalar]

    public init(weights: inout WeightMap, shape: [Int]) throws(NNError) {
        guard shape.count == 2 else {
            throw .wrongShape(key: weights.dotted("weight"), shape: shape,
                              expected: [shape.first ?? 0, shape.last ?? 0], module: weights.moduleName)
        }
        count = shape[0]
        dimension = shape[1]
        weight = try weights.take("weight", shape: shape)
        try weights.finish()
    }

    /// - Parameters:
    ///   - ids: token ids of any shape `[…]`.
    /// - Returns: `[…, E]`.
    /// - Throws: `NNError.badInput(.tokenOutOfRange)` for an id outside `0..<V` (PyTorch's
    ///   "index out of range in self").
    public func forward(ids: [Int64], shape: [Int]) throws(NNError) -> ShapedArray<Scalar> {
        var out = [Scalar]()
        out.reserveCapacity(ids.count * dimension)
        for (i, id) in ids.enumerated() {
            guard id >= 0, id < count else {
                throw .badInput(.tokenOutOfRange(id: id, index: i, count: count, dimension: dimension))
            }
            let row = Int(id) * dimension
            out.append(contentsOf: weight[row..<(row + dimension)])
        }
        return ShapedArray(shape: shape + [dimension], values: out)
    }
}
