import PTTensor

/// What the `.npy`/`.npz` writers take: a `Tensor` of any dtype numpy has, or the
/// `ShapedArray` a computation produced.
public protocol NumpyWritable {
    var dtype: DType { get }
    var shape: [Int] { get }
    /// The elements' bytes, little-endian, C order.
    func contiguousBytes() throws -> [UInt8]
}

extension Tensor: NumpyWritable {}

extension ShapedArray: NumpyWritable {
    public func contiguousBytes() -> [UInt8] { values.withUnsafeBytes { Array($0) } }
}
