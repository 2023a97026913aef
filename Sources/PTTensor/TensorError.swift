/// Why a tensor could not be built or read. Descriptions name the key or storage involved.
public enum TensorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// More dimensions than any real tensor has (torch caps at 64).
    case absurdRank(rank: Int, limit: Int)
    /// Shape and stride lists of different lengths.
    case rankMismatch(shape: [Int], strides: [Int])
    /// A negative size.
    case negativeSize(shape: [Int])
    /// A negative stride.
    case negativeStride(strides: [Int])
    /// A negative storage offset.
    case negativeOffset(offset: Int)
    /// The element count or the extent does not fit in 64 bits.
    case sizeOverflow(shape: [Int], strides: [Int], offset: Int)
    /// The tensor reaches past the end of its storage.
    case outOfStorage(storageKey: String, neededBytes: Int, storageBytes: Int)
    /// A storage loader produced a different number of bytes than declared.
    case storageSizeMismatch(key: String, declared: Int, actual: Int)
    /// A view repeats its storage's elements (stride 0 or overlapping strides) into more elements
    /// than `limit`, and more than the storage holds: materializing it is refused.
    case repeatsTooMuch(elements: Int, storageKey: String, storageElements: Int, limit: Int)
    /// The dtype cannot be widened to one real number per element (complex, packed float4).
    case notReal(dtype: DType)

    public var description: String {
        switch self {
        case let .absurdRank(rank, limit):
            return "tensor has rank \(rank); at most \(limit) dimensions are accepted"
        case let .rankMismatch(shape, strides):
            return "tensor size \(shape) and stride \(strides) have different ranks"
        case let .negativeSize(shape):
            return "tensor size \(shape) has a negative dimension"
        case let .negativeStride(strides):
            return "tensor stride \(strides) has a negative entry"
        case let .negativeOffset(offset):
            return "tensor storage offset \(offset) is negative"
        case let .sizeOverflow(shape, strides, offset):
            return "tensor size \(shape), stride \(strides), offset \(offset) overflow 64-bit arithmetic"
        case let .outOfStorage(key, needed, have):
            return "tensor needs \(needed) bytes of storage '\(key)', which holds \(have)"
        case let .storageSizeMismatch(key, declared, actual):
            return "storage '\(key)' declares \(declared) bytes but its record holds \(actual)"
        case let .repeatsTooMuch(elements, key, storageElements, limit):
            return "tensor is a view of \(storageElements) element(s) of storage '\(key)' repeated to \(elements)"
                + " elements; views that repeat their storage are materialized up to \(limit) elements"
        case let .notReal(dtype):
            return "\(dtype.rawValue) values cannot be read as real numbers"
        }
    }
}
