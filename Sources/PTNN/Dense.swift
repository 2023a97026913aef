import PTKernels
import PTTensor

/// A dense row-major array of the compute type: what the layers take and return.
public struct Dense<Scalar: GEMMScalar>: Equatable {
    public var shape: [Int]
    public var values: [Scalar]

    /// - Precondition: `values.count` is the product of `shape`.
    public init(shape: [Int], values: [Scalar]) {
        precondition(values.count == shape.reduce(1, *), "Dense: \(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Scalar](repeating: 0, count: shape.reduce(1, *)))
    }

    public var rank: Int { shape.count }
}

extension Dense {
    /// Widens any real tensor to the compute type (float16/bfloat16 → Float exactly).
    public init(_ tensor: Tensor) throws {
        if Scalar.self == Float.self {
            // Scalar is Float: the cast is an identity (an `as?` would check element by element).
            self.init(shape: tensor.shape, values: unsafeBitCast(try tensor.floats(), to: [Scalar].self))
        } else if Scalar.self == Double.self {
            self.init(shape: tensor.shape, values: unsafeBitCast(try tensor.doubles(), to: [Scalar].self))
        } else {
            self.init(shape: tensor.shape, values: try tensor.doubles().map { Scalar($0) })
        }
    }

    /// A float32 or float64 tensor holding these values.
    public func tensor() throws -> Tensor {
        let dtype: DType = Scalar.self == Double.self ? .float64 : .float32
        let storage = values.withUnsafeBytes { raw in
            StorageBytes(count: raw.count) { $0.copyMemory(from: raw) }
        }
        let s = Storage(key: "computed", dtype: dtype, byteCount: storage.buffer.count, origin: "computed") { storage }
        return try Tensor(storage: s, dtype: dtype, shape: shape, strides: Tensor.contiguousStrides(for: shape), storageOffset: 0)
    }

    /// Swaps the first two axes: `[A, B, …]` → `[B, A, …]` (batch_first ↔ time-major).
    public func swappingFirstAxes() -> Dense {
        guard rank >= 2 else { return self }
        let a = shape[0], b = shape[1]
        let inner = shape.dropFirst(2).reduce(1, *)
        var out = [Scalar](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<a {
                    for j in 0..<b {
                        let from = (i * b + j) * inner
                        let to = (j * a + i) * inner
                        for k in 0..<inner { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        var newShape = shape
        newShape.swapAt(0, 1)
        return Dense(shape: newShape, values: out)
    }
}
