import PTKernels
import PTNumpy
import PTTensor

/// The arrays of an `.npz` (by member name) or of a single `.npy` (named `input` or `output`
/// by its role), decoded for a run as PyTorch would take them.
struct ReferenceArrays {
    enum Role { case input, reference }

    let path: String
    let isArchive: Bool
    /// The arrays a run reads, when present: nothing else of an archive is inflated or parsed.
    let arrays: [(name: String, tensor: Tensor)]
    /// Every member of the archive (or the one array's role).
    let names: [String]

    /// The member names a run reads from a reference or input archive.
    static let used = ["input", "h0", "c0", "lengths", "output", "h_n", "c_n"]

    /// - Throws: `ModuleRunError.numpy`.
    init(path: String, role: Role) throws(ModuleRunError) {
        self.path = path
        do {
            if path.hasSuffix(".npy") {
                isArchive = false
                arrays = [(role == .input ? "input" : "output", try Numpy.readNpy(path: path))]
                names = arrays.map(\.name)
            } else {
                isArchive = true
                (names, arrays) = try Numpy.readNpz(path: path, only: ReferenceArrays.used)
            }
        } catch {
            throw .numpy(error)
        }
    }

    subscript(name: String) -> Tensor? { arrays.first { $0.name.isExactly(name) }?.tensor }

    /// A floating-point array (`h0`, `c0`) in the compute type.
    func values<Scalar: ArrayScalar>(_ t: Tensor, _: Scalar.Type, _ name: String)
        throws(ModuleRunError) -> ShapedArray<Scalar> {
        guard t.dtype.isFloatingPoint else {
            throw .badArray(file: path, name: name, .notFloatingPoint(t.dtype))
        }
        do {
            return try ShapedArray<Scalar>(t)
        } catch {
            throw .tensor(unerased: error)
        }
    }

    /// `lengths`: one integer per batch element.
    func lengths(_ t: Tensor) throws(ModuleRunError) -> [Int] {
        guard t.rank == 1, !t.dtype.isFloatingPoint, !t.dtype.isComplex else {
            throw .badArray(file: path, name: "lengths", .notLengths(shape: t.shape, dtype: t.dtype))
        }
        return try integers(t, "lengths").map { Int($0) }
    }

    /// An integer array's values, exactly: int64 values past ±2^53 do not survive a trip through
    /// Double, so the bytes are read as they are. (A value outside Int64 is an error, not a trap.)
    func integers(_ t: Tensor, _ name: String) throws(ModuleRunError) -> [Int64] {
        let bytes: [UInt8]
        do {
            bytes = try t.contiguousBytes()
        } catch {
            throw .tensor(unerased: error)
        }
        let item = t.dtype.itemSize
        var out: [Int64] = []
        out.reserveCapacity(t.elementCount)
        for i in 0..<t.elementCount {
            let at = i * item
            switch t.dtype {
            case .int64:
                out.append(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int64.self) })
            case .uint64:
                let v = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
                guard let exact = Int64(exactly: v) else {
                    throw .badArray(file: path, name: name, .outOfRange(v))
                }
                out.append(exact)
            case .int32:
                out.append(Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int32.self) }))
            case .uint32:
                out.append(Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) }))
            case .int16:
                out.append(Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: Int16.self) }))
            case .uint16:
                out.append(Int64(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) }))
            case .int8: out.append(Int64(Int8(bitPattern: bytes[at])))
            case .uint8, .bool: out.append(Int64(bytes[at]))
            default:
                throw .badArray(file: path, name: name, .notIntegers(t.dtype))
            }
        }
        return out
    }
}
