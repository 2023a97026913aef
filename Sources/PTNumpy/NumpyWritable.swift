import PTTensor

/// What the `.npy`/`.npz` writers take: a `Tensor` of any dtype numpy has, or the
/// `ShapedArray` a computation produced.
public protocol NumpyWritable {
    var dtype: DType { get }
    var shape: [Int] { get }
    /// Hands the elements' bytes (little-endian, C order) to `body`, piece by piece, in order.
    func streamBytes(into body: (UnsafeRawBufferPointer) throws -> Void) throws
}

extension Tensor: NumpyWritable {
    /// Streamed from the storage (`Tensor.streamBytes`): a view is gathered a piece at a time.
    public func streamBytes(into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try streamBytes(body)
    }
}

extension ShapedArray: NumpyWritable {
    public func streamBytes(into body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try values.withUnsafeBytes { try body($0) }
    }
}
