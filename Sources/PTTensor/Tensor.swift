/// A strided view of a storage, as `torch._utils._rebuild_tensor_v2` builds one with `set_`.
///
/// `shape: [d0, d1, …]`, `strides` in elements, `storageOffset` in elements of `dtype`. Every
/// instance satisfies the invariants `init` checks, so reading never goes out of bounds.
public struct Tensor {
    /// Torch refuses more than 64 dimensions; so do we.
    public static let maxRank = 64

    public let dtype: DType
    public let shape: [Int]
    public let strides: [Int]
    public let storageOffset: Int
    public let storage: Storage
    public var requiresGrad: Bool

    /// Number of elements (product of `shape`; 1 for a scalar).
    public let elementCount: Int

    /// Builds a view, refusing anything that would read outside the storage.
    ///
    /// Mirrors `at::native::checkSetStorage`: a tensor with no elements needs no bytes;
    /// otherwise `(offset + Σ (size_i − 1)·stride_i + 1) · itemsize` must fit in the storage.
    /// - Throws: `TensorError` for negative or overflowing sizes, strides and offsets, rank
    ///   mismatch, absurd rank, or an extent past the storage.
    public init(storage: Storage, dtype: DType, shape: [Int], strides: [Int], storageOffset: Int,
                requiresGrad: Bool = false) throws {
        guard shape.count <= Tensor.maxRank else {
            throw TensorError.absurdRank(rank: shape.count, limit: Tensor.maxRank)
        }
        guard shape.count == strides.count else { throw TensorError.rankMismatch(shape: shape, strides: strides) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.negativeSize(shape: shape) }
        guard strides.allSatisfy({ $0 >= 0 }) else { throw TensorError.negativeStride(strides: strides) }
        guard storageOffset >= 0 else { throw TensorError.negativeOffset(offset: storageOffset) }
        let overflow = TensorError.sizeOverflow(shape: shape, strides: strides, offset: storageOffset)
        var count = 1
        for size in shape {
            let (product, o) = count.multipliedReportingOverflow(by: size)
            guard !o else { throw overflow }
            count = product
        }
        if count > 0 {
            var last = storageOffset
            for (size, stride) in zip(shape, strides) {
                let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw overflow }
                last = sum
            }
            let (end, o3) = last.addingReportingOverflow(1)
            let (needed, o4) = end.multipliedReportingOverflow(by: dtype.itemSize)
            guard !o3, !o4 else { throw overflow }
            guard needed <= storage.byteCount else {
                throw TensorError.outOfStorage(storageKey: storage.key, neededBytes: needed,
                                               storageBytes: storage.byteCount)
            }
        }
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.storageOffset = storageOffset
        self.requiresGrad = requiresGrad
        self.elementCount = count
    }

    /// A contiguous tensor over freshly owned bytes.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        let storage = Storage(key: "memory", dtype: dtype, bytes: bytes)
        try self.init(storage: storage, dtype: dtype, shape: shape,
                      strides: Tensor.contiguousStrides(for: shape), storageOffset: 0)
    }

    public var rank: Int { shape.count }

    /// Bytes of the logical elements (`numel · itemsize`), not of the whole storage.
    public var byteCount: Int { elementCount * dtype.itemSize }

    /// Row-major strides for `shape` (`torch.Tensor.contiguous()`'s layout).
    public static func contiguousStrides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running &*= Swift.max(shape[axis], 1)
        }
        return strides
    }

    /// Whether the elements lie in row-major order without gaps (`is_contiguous()`: sizes of
    /// one and empty tensors ignore strides).
    public var isContiguous: Bool {
        if elementCount == 0 { return true }
        var expected = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// Calls `body` with the storage byte offset of every element, in row-major logical order.
    public func forEachElementOffset(_ body: (Int) -> Void) {
        guard elementCount > 0 else { return }
        let item = dtype.itemSize
        if isContiguous {
            let base = storageOffset * item
            for i in 0..<elementCount { body(base + i * item) }
            return
        }
        Tensor.forEachOffset(shape: shape, strides: strides, offset: storageOffset, count: elementCount) {
            body($0 * item)
        }
    }

    /// Calls `body` with the element offset (`offset + Σ index_k · strides_k`) of each of the
    /// `count` elements of a strided view, in row-major order: an odometer over the indices.
    /// Callers check the extent first (`init` does for tensors).
    public static func forEachOffset(shape: [Int], strides: [Int], offset start: Int, count: Int,
                                     _ body: (Int) -> Void) {
        var index = [Int](repeating: 0, count: shape.count)
        var offset = start
        for _ in 0..<count {
            body(offset)
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < shape[axis] { break }
                offset -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Views that repeat storage elements (stride 0, overlapping strides) are materialized up to
    /// this many elements; views with no more elements than their storage always are. So a
    /// stride-0 view of one float claiming 2^40 elements is refused instead of allocated.
    public static let maxRepeatedElements = 1 << 28

    /// Refuses to materialize a view that claims far more elements than its storage holds.
    private func checkMaterializable() throws {
        let storageElements = storage.byteCount / max(dtype.itemSize, 1)
        guard elementCount <= max(storageElements, Tensor.maxRepeatedElements) else {
            throw TensorError.repeatsTooMuch(elements: elementCount, storageKey: storage.key,
                                             storageElements: storageElements, limit: Tensor.maxRepeatedElements)
        }
    }

    /// The elements' bytes in row-major order, as `t.contiguous()` holds them (little-endian).
    /// - Throws: whatever loading the storage throws (a CRC mismatch); `TensorError.repeatsTooMuch`.
    public func contiguousBytes() throws -> [UInt8] {
        // An empty tensor may sit at any offset, even past its (empty) storage.
        guard elementCount > 0 else { return [] }
        try checkMaterializable()
        let source = try storage.bytes()
        let item = dtype.itemSize
        if isContiguous {
            let start = storageOffset * item
            return Array(source[start..<(start + byteCount)])
        }
        var out = [UInt8]()
        out.reserveCapacity(byteCount)
        forEachElementOffset { offset in
            out.append(contentsOf: source[offset..<(offset + item)])
        }
        return out
    }

    /// The elements' bytes in row-major order, as `contiguousBytes()` gives them, handed to `body`
    /// in pieces of whole elements, in order, without the whole ever being held: a contiguous
    /// tensor is read straight from its storage (from the mapping, pages given back as it goes,
    /// where the storage streams); a view, a stride-0 one included, is gathered a piece of about
    /// `pieceBytes` at a time.
    /// - Throws: whatever reading the storage throws (a CRC mismatch, possibly after some
    ///   pieces), `TensorError.repeatsTooMuch`, and whatever `body` throws.
    public func streamBytes(pieceBytes: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard elementCount > 0 else { return }
        try checkMaterializable()
        let item = dtype.itemSize
        if isContiguous {
            let start = storageOffset * item
            // A streamed storage may cut pieces anywhere; whole elements are passed on, the rest
            // of an element carried into the next piece.
            var carry: [UInt8] = []
            try storage.stream(start..<(start + byteCount)) { piece in
                var rest = piece
                if !carry.isEmpty {
                    let needed = min(item - carry.count, rest.count)
                    carry.append(contentsOf: rest[0..<needed])
                    rest = UnsafeRawBufferPointer(rebasing: rest[needed...])
                    guard carry.count == item else { return }
                    try carry.withUnsafeBytes { try body($0) }
                    carry.removeAll(keepingCapacity: true)
                }
                let whole = rest.count / item * item
                if whole > 0 { try body(UnsafeRawBufferPointer(rebasing: rest[0..<whole])) }
                carry.append(contentsOf: rest[whole...])
            }
            return
        }
        let source = try storage.bytes()
        let perPiece = max(1, pieceBytes / item)
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: perPiece * item, alignment: 16)
        defer { piece.deallocate() }
        var filled = 0
        var failure: Error?
        forEachElementOffset { offset in
            guard failure == nil else { return }
            piece.baseAddress!.advanced(by: filled).copyMemory(from: source.baseAddress!.advanced(by: offset),
                                                               byteCount: item)
            filled += item
            if filled == perPiece * item {
                do { try body(UnsafeRawBufferPointer(rebasing: piece[0..<filled])) } catch { failure = error }
                filled = 0
            }
        }
        if let failure { throw failure }
        if filled > 0 { try body(UnsafeRawBufferPointer(rebasing: piece[0..<filled])) }
    }

    /// The elements widened to `Double`, in row-major order. Exact for every real dtype
    /// (float16, bfloat16 and the float8 formats widen without rounding; int64 beyond 2^53 rounds).
    /// - Throws: `TensorError.notReal` for complex and quantized dtypes.
    public func doubles() throws -> [Double] {
        try checkMaterializable()
        if dtype == .float64 && isContiguous {
            return try Tensor.bulkCopy(self, as: Double.self)
        }
        let decode = try ElementDecoder.real(dtype)
        let source = try storage.bytes()
        var out = [Double]()
        out.reserveCapacity(elementCount)
        forEachElementOffset { offset in out.append(decode(source, offset)) }
        return out
    }

    /// A contiguous tensor's elements, copied in one move (the storage may be unaligned).
    private static func bulkCopy<T>(_ t: Tensor, as _: T.Type) throws -> [T] {
        guard t.elementCount > 0 else { return [] }
        let source = try t.storage.bytes()
        let start = t.storageOffset * t.dtype.itemSize
        return [T](unsafeUninitializedCapacity: t.elementCount) { buffer, count in
            UnsafeMutableRawBufferPointer(buffer)
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + t.byteCount)]))
            count = t.elementCount
        }
    }

    /// Elements `range` (row-major logical indices) widened to `Double`, without materialising
    /// the rest: how large tensors are compared chunk by chunk.
    /// - Throws: `TensorError.notReal` for complex and packed dtypes.
    public func doubles(in range: Range<Int>) throws -> [Double] {
        precondition(range.lowerBound >= 0 && range.upperBound <= elementCount, "range outside the tensor")
        guard isContiguous else { return Array(try doubles()[range]) }
        let decode = try ElementDecoder.real(dtype)
        let source = try storage.bytes()
        let item = dtype.itemSize, base = storageOffset * item
        return range.map { decode(source, base + $0 * item) }
    }

    /// The elements as `Float`, in row-major order: how float16/bfloat16 weights are widened.
    public func floats() throws -> [Float] {
        try checkMaterializable()
        if dtype == .float32 && isContiguous {
            return try Tensor.bulkCopy(self, as: Float.self)
        }
        if dtype == .float32 {
            let source = try storage.bytes()
            var out = [Float]()
            out.reserveCapacity(elementCount)
            forEachElementOffset { offset in
                out.append(source.loadUnaligned(fromByteOffset: offset, as: Float.self))
            }
            return out
        }
        return try doubles().map { Float($0) }
    }
}
