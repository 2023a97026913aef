@testable import PTNumpy
import PTTensor
import XCTest

/// Writer paths no real array reaches: a header too long for version 1.0, a storage that fails.
final class WriterInternalsTests: XCTestCase {
    /// `_wrap_header_guess_version`: a header over 65,535 bytes needs the 4-byte length of 2.0.
    func testHeaderTooLongForVersion1UsesVersion2() {
        let shape = [Int](repeating: 1_234_567, count: 8_000)
        let preamble = NpyWriter.preamble(descr: "<f4", shape: shape)
        XCTAssertEqual(Array(preamble.prefix(8)), [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0])
        let length = preamble[8 ..< 12].reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertGreaterThan(length, 65_535)
        XCTAssertEqual(preamble.count, 12 + length)
        XCTAssertEqual(preamble.count % 64, 0)
        XCTAssertEqual(preamble.last, 0x0A)
        XCTAssertTrue(String(decoding: preamble[12...], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (1234567, 1234567, "))

        let short = NpyWriter.preamble(descr: "<f4", shape: [2, 3])
        XCTAssertEqual(short[6], 1)
        XCTAssertEqual(short.count, 128)
    }

    func testStorageThatCannotBeReadIsReported() throws {
        let storage = Storage(key: "broken", dtype: .float32, byteCount: 4, origin: "test") {
            throw TensorError.storageSizeMismatch(key: "broken", declared: 4, actual: 0)
        }
        let tensor = try Tensor(storage: storage, dtype: .float32, shape: [1], strides: [1], storageOffset: 0)
        XCTAssertThrowsError(try Numpy.npyBytes(tensor)) { error in
            XCTAssertEqual(error as? NumpyError, .unreadableTensor(
                name: "tensor", reason: "storage 'broken' declares 4 bytes but its record holds 0"))
        }
    }

    func testDescrTable() {
        for dtype in DType.allCases {
            guard let descr = Descr.string(for: dtype) else {
                XCTAssertFalse([.float16, .float32, .float64, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32,
                                .uint64, .bool, .complex64, .complex128].contains(dtype), "\(dtype)")
                continue
            }
            XCTAssertEqual(Descr.parse(descr), .dtype(dtype, bigEndian: false), descr)
            XCTAssertEqual(Descr.parse(">" + descr.dropFirst()), .dtype(dtype, bigEndian: dtype.itemSize > 1), descr)
        }
    }
}
