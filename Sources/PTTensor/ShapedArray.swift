import RealModule

/// The element types ptload computes in: float32 and float64. `Real` gives the layers' maths its
/// elementary functions (tanh, exp); PTKernels hangs the kernel tables and the reference product
/// off this protocol (`ArrayScalar.kernels(_:)`).
public protocol ArrayScalar: BinaryFloatingPoint, Real, Sendable {
    /// The dtype of this element type.
    static var dtype: DType { get }
    /// Every element of a real tensor, widened exactly (float16/bfloat16 → Float) or rounded
    /// as PyTorch's `.to()` rounds, in C order.
    static func values(of tensor: Tensor) throws -> [Self]
    /// `values` widened to Double, exactly. (A requirement, so that code generic over the
    /// element type converts in a loop specialised for it, not value by value through
    /// BinaryFloatingPoint's generic initialiser.)
    static func doubles(_ values: ArraySlice<Self>) -> [Double]
}

extension Float: ArrayScalar {
    public static var dtype: DType { .float32 }
    public static func values(of tensor: Tensor) throws -> [Float] { try tensor.floats() }
    public static func doubles(_ values: ArraySlice<Float>) -> [Double] { values.map(Double.init) }
}

extension Double: ArrayScalar {
    public static var dtype: DType { .float64 }
    public static func values(of tensor: Tensor) throws -> [Double] { try tensor.doubles() }
    public static func doubles(_ values: ArraySlice<Double>) -> [Double] { Array(values) }
}

/// An owned, row-major array of `Scalar` with a shape: what the layers take and return, what
/// comparisons and the numpy writer read. A `Tensor` is a typed view of file bytes; this is
/// the array computations produce.
public struct ShapedArray<Scalar: ArrayScalar>: Equatable, Sendable {
    public var shape: [Int]
    /// `shape.product` values, C order.
    public var values: [Scalar]

    /// - Precondition: `values.count` is the product of `shape`.
    public init(shape: [Int], values: [Scalar]) {
        precondition(values.count == shape.reduce(1, *), "ShapedArray: \(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Scalar](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Widens (or rounds) any real tensor to `Scalar`: float16/bfloat16 → Float exactly.
    /// - Throws: `TensorError` when the tensor's values cannot be read.
    public init(_ tensor: Tensor) throws {
        self.init(shape: tensor.shape, values: try Scalar.values(of: tensor))
    }

    public var rank: Int { shape.count }
    public var dtype: DType { Scalar.dtype }

    /// Positions `range` of axis `axis` (0 or 1): `[T, …]` → `[range.count, …]`, or `[N, T, …]`
    /// → `[N, range.count, …]` (a chunk of steps of a time-major or batch_first sequence).
    public func slicing(axis: Int, _ range: Range<Int>) -> ShapedArray {
        precondition(axis == 0 || axis == 1, "ShapedArray.slicing: axis \(axis)")
        let outer = axis == 0 ? 1 : shape[0]
        let length = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var values: [Scalar] = []
        values.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            values += self.values[((o * length + range.lowerBound) * inner)..<((o * length + range.upperBound) * inner)]
        }
        var sliced = shape
        sliced[axis] = range.count
        return ShapedArray(shape: sliced, values: values)
    }

    /// `pieces` (at least one) joined along axis `axis` (0 or 1), the inverse of `slicing`: their
    /// shapes equal but on that axis.
    public static func joining(_ pieces: [ShapedArray], axis: Int) -> ShapedArray {
        precondition(!pieces.isEmpty && (axis == 0 || axis == 1), "ShapedArray.joining: axis \(axis)")
        var shape = pieces[0].shape
        shape[axis] = pieces.reduce(0) { $0 + $1.shape[axis] }
        let outer = axis == 0 ? 1 : shape[0]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var values: [Scalar] = []
        values.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for piece in pieces {
                let length = piece.shape[axis]
                values += piece.values[(o * length * inner)..<((o + 1) * length * inner)]
            }
        }
        return ShapedArray(shape: shape, values: values)
    }

    /// Swaps the first two axes: `[A, B, …]` → `[B, A, …]` (batch_first ↔ time-major).
    public func swappingFirstAxes() -> ShapedArray {
        guard rank >= 2 else { return self }
        let a = shape[0], b = shape[1]
        let inner = shape.dropFirst(2).reduce(1, *)
        var out = [Scalar](repeating: 0, count: values.count)
        // Byte copies of whole rows: this code runs unspecialised for Scalar, where copying
        // element by element goes through Scalar's value witnesses.
        let row = inner * MemoryLayout<Scalar>.stride
        if row > 0 {
            values.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    for i in 0..<a {
                        for j in 0..<b {
                            (dst.baseAddress! + (j * a + i) * row)
                                .copyMemory(from: src.baseAddress! + (i * b + j) * row, byteCount: row)
                        }
                    }
                }
            }
        }
        var newShape = shape
        newShape.swapAt(0, 1)
        return ShapedArray(shape: newShape, values: out)
    }
}
