import XCTest
@testable import PTTensor

final class TensorTests: XCTestCase {
    private func storage(_ count: Int, dtype: DType = .float32) -> Storage {
        Storage(key: "0", dtype: dtype, bytes: [UInt8](repeating: 0, count: count * dtype.itemSize))
    }

    func testContiguousStrides() {
        XCTAssertEqual(Tensor.contiguousStrides(for: [2, 3, 4]), [12, 4, 1])
        XCTAssertEqual(Tensor.contiguousStrides(for: []), [])
        XCTAssertEqual(Tensor.contiguousStrides(for: [0, 5]), [5, 1])
    }

    func testExtentMustFitStorage() throws {
        // 2×3 at offset 6 needs elements 6..<12: exactly a 12-element storage.
        XCTAssertNoThrow(try Tensor(storage: storage(12), dtype: .float32, shape: [2, 3], strides: [3, 1],
                                    storageOffset: 6))
        XCTAssertThrowsError(try Tensor(storage: storage(11), dtype: .float32, shape: [2, 3], strides: [3, 1],
                                        storageOffset: 6)) {
            XCTAssertEqual($0 as? TensorError, .outOfStorage(storageKey: "0", neededBytes: 48, storageBytes: 44))
        }
    }

    func testViewsThatRepeatTheirStorageAreMaterializedOnlyUpToTheLimit() throws {
        // expand(): a stride-0 view of 1 element is read like torch reads it, up to 2^28 elements.
        let small = try Tensor(storage: storage(1), dtype: .float32, shape: [4, 3], strides: [0, 0], storageOffset: 0)
        XCTAssertEqual(try small.floats().count, 12)
        let huge = try Tensor(storage: storage(1), dtype: .float32, shape: [1 << 20, 1 << 20], strides: [0, 0],
                              storageOffset: 0)
        XCTAssertEqual(huge.elementCount, 1 << 40)
        for read in [{ _ = try huge.floats() }, { _ = try huge.doubles() }, { _ = try huge.contiguousBytes() }] {
            XCTAssertThrowsError(try read()) {
                XCTAssertEqual($0 as? TensorError, .repeatsTooMuch(elements: 1 << 40, storageKey: "0",
                                                                   storageElements: 1,
                                                                   limit: Tensor.maxRepeatedElements))
            }
        }
    }

    func testZeroSizeTensorNeedsNoBytes() throws {
        let t = try Tensor(storage: storage(0), dtype: .float32, shape: [0, 5], strides: [5, 1], storageOffset: 3)
        XCTAssertEqual(t.elementCount, 0)
        XCTAssertEqual(try t.contiguousBytes(), [])
    }

    func testScalarNeedsOneElement() throws {
        let t = try Tensor(storage: storage(1), dtype: .float32, shape: [], strides: [], storageOffset: 0)
        XCTAssertEqual(t.elementCount, 1)
        XCTAssertThrowsError(try Tensor(storage: storage(1), dtype: .float32, shape: [], strides: [], storageOffset: 1))
    }

    func testRefusesNegativeAndMismatched() {
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [-1], strides: [1],
                                        storageOffset: 0)) {
            XCTAssertEqual($0 as? TensorError, .negativeSize(shape: [-1]))
        }
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [2], strides: [-1],
                                        storageOffset: 0)) {
            XCTAssertEqual($0 as? TensorError, .negativeStride(strides: [-1]))
        }
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [2], strides: [1],
                                        storageOffset: -1)) {
            XCTAssertEqual($0 as? TensorError, .negativeOffset(offset: -1))
        }
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [2, 2], strides: [1],
                                        storageOffset: 0)) {
            XCTAssertEqual($0 as? TensorError, .rankMismatch(shape: [2, 2], strides: [1]))
        }
        let rank = 65
        XCTAssertThrowsError(try Tensor(storage: storage(1), dtype: .float32, shape: Array(repeating: 1, count: rank),
                                        strides: Array(repeating: 1, count: rank), storageOffset: 0)) {
            XCTAssertEqual($0 as? TensorError, .absurdRank(rank: 65, limit: 64))
        }
    }

    func testOverflowIsAnErrorNotATrap() {
        let big = Int.max / 2
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [big, 4], strides: [1, 1],
                                        storageOffset: 0)) {
            XCTAssertEqual($0 as? TensorError, .sizeOverflow(shape: [big, 4], strides: [1, 1], offset: 0))
        }
        // A stride-0 view claiming 2^40 elements stays inside one element of storage, so it is
        // accepted, like torch's expand(); it is its size products that must not overflow.
        XCTAssertNoThrow(try Tensor(storage: storage(1), dtype: .float32, shape: [1 << 40], strides: [0],
                                    storageOffset: 0))
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float32, shape: [2], strides: [Int.max],
                                        storageOffset: 0))
        XCTAssertThrowsError(try Tensor(storage: storage(4), dtype: .float64, shape: [1], strides: [1],
                                        storageOffset: Int.max / 4))
    }

    func testNonContiguousGather() throws {
        // 2×3 row-major values 0…5 viewed transposed (3×2, strides [1, 3]).
        let values: [Float] = [0, 1, 2, 3, 4, 5]
        let bytes = values.withUnsafeBytes { Array($0) }
        let s = Storage(key: "0", dtype: .float32, bytes: bytes)
        let t = try Tensor(storage: s, dtype: .float32, shape: [3, 2], strides: [1, 3], storageOffset: 0)
        XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(try t.floats(), [0, 3, 1, 4, 2, 5])
        let sliced = try Tensor(storage: s, dtype: .float32, shape: [2], strides: [2], storageOffset: 1)
        XCTAssertEqual(try sliced.floats(), [1, 3])
    }

    func testIsContiguousIgnoresUnitDimensions() throws {
        let t = try Tensor(storage: storage(6), dtype: .float32, shape: [1, 6], strides: [99, 1], storageOffset: 0)
        XCTAssertTrue(t.isContiguous)
    }

    func testHalfAndBFloat16Widening() throws {
        // float16: 1.0 = 0x3C00, -2.0 = 0xC000, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24, inf 0x7C00.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000]
        let t = try Tensor(dtype: .float16, shape: [6], bytes: half.withUnsafeBytes { Array($0) })
        let d = try t.doubles()
        XCTAssertEqual(Array(d[0..<5]), [1.0, -2.0, 65504.0, 0x1p-24, .infinity])
        XCTAssertEqual(d[5].sign, .minus)
        // bfloat16 is the top half of a float32: 1.0 = 0x3F80, -0.5 = 0xBF00.
        let bf: [UInt16] = [0x3F80, 0xBF00]
        let b = try Tensor(dtype: .bfloat16, shape: [2], bytes: bf.withUnsafeBytes { Array($0) })
        XCTAssertEqual(try b.floats(), [1.0, -0.5])
    }

    func testByteSwap() {
        let source: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let swapped = source.withUnsafeBytes { StorageBytes.byteSwapped($0, unit: 4) }
        XCTAssertEqual(Array(swapped.buffer), [4, 3, 2, 1, 8, 7, 6, 5])
        let bytes = source.withUnsafeBytes { StorageBytes.byteSwapped($0, unit: 1) }
        XCTAssertEqual(Array(bytes.buffer), source)
    }

    func testStorageLoaderRunsOnceAndChecksSize() throws {
        var calls = 0
        let s = Storage(key: "7", dtype: .uint8, byteCount: 3, origin: "test") {
            calls += 1
            return StorageBytes(copying: [1, 2, 3])
        }
        XCTAssertFalse(s.isLoaded)
        _ = try s.bytes()
        _ = try s.bytes()
        XCTAssertEqual(calls, 1)
        let short = Storage(key: "8", dtype: .uint8, byteCount: 4, origin: "test") { StorageBytes(copying: [1]) }
        XCTAssertThrowsError(try short.bytes()) {
            XCTAssertEqual($0 as? TensorError, .storageSizeMismatch(key: "8", declared: 4, actual: 1))
        }
    }

    /// Slicing steps out of either axis and joining the slices back: `[N, T, F]` = [2, 3, 2] with
    /// values 0…11, steps 1..<3 of axis 1 are rows (2, 3, 4, 5) and (8, 9, 10, 11).
    func testSlicingAndJoiningAlongTheTimeAxis() {
        let array = ShapedArray<Float>(shape: [2, 3, 2], values: (0..<12).map(Float.init))
        let tail = array.slicing(axis: 1, 1..<3)
        XCTAssertEqual(tail.shape, [2, 2, 2])
        XCTAssertEqual(tail.values, [2, 3, 4, 5, 8, 9, 10, 11])
        XCTAssertEqual(array.slicing(axis: 0, 1..<2).values, [6, 7, 8, 9, 10, 11])
        for axis in [0, 1] {
            let pieces = (0..<array.shape[axis]).map { array.slicing(axis: axis, $0..<($0 + 1)) }
            XCTAssertEqual(ShapedArray.joining(pieces, axis: axis), array, "axis \(axis)")
        }
        XCTAssertEqual(ShapedArray.joining([array.slicing(axis: 1, 0..<1), tail], axis: 1), array)
    }
}
