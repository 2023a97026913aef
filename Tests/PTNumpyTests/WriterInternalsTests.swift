import Foundation
@testable import PTNumpy
import PTTensor
import PTZip
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
        XCTAssertTrue(String(decoding: preamble[12...], as: UTF8.self)
            .hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (1234567, 1234567, "))

        let short = NpyWriter.preamble(descr: "<f4", shape: [2, 3])
        XCTAssertEqual(short[6], 1)
        XCTAssertEqual(short.count, 128)
    }

    func testStorageThatCannotBeReadIsReported() throws {
        let storage = Storage(key: "broken", dtype: .float32, byteCount: 4, origin: "test") {
            throw TensorError.storageSizeMismatch(key: "broken", declared: 4, actual: 0)
        }
        let tensor = try Tensor(storage: storage, dtype: .float32, shape: [1], strides: [1], storageOffset: 0)
        let failure = TensorError.storageSizeMismatch(key: "broken", declared: 4, actual: 0)
        XCTAssertThrowsError(try Numpy.npyBytes(tensor)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: "tensor", .unreadableTensor(.init(failure))))
            XCTAssertEqual("\(error)", "tensor: cannot read the tensor's bytes: storage 'broken' declares 4 bytes"
                               + " but its record holds 0")
        }
        let path = NSTemporaryDirectory() + "unreadable-\(UUID().uuidString).npz"
        XCTAssertThrowsError(try Numpy.writeNpz([("w", tensor)], to: path)) { error in
            // The storage's error is carried unchanged, typed, with the output and the member.
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, member: "w.npy", .unreadableTensor(.init(failure))))
            guard case .unreadableTensor(let inner)? = (error as? NumpyError)?.reason else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(inner.error as? TensorError, failure)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    /// A streamed member's body: a failure of the function it is handed passes as
    /// `.cannotWrite` (a closed sink here); its own errors are carried; a short member is refused.
    func testStreamedMemberFailures() throws {
        let path = NSTemporaryDirectory() + "streamed-\(UUID().uuidString).npz"
        struct Broken: Error, Equatable {}
        let sink = try FileSink(replacing: path)
        var writer = NpzWriter(streamingTo: sink)
        XCTAssertThrowsError(try writer.add(name: "a", dtype: .uint8, shape: [2],
                                            byteCount: 2) { _ in throw Broken() }) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, member: "a.npy", .unreadableTensor(.init(Broken()))))
        }
        XCTAssertThrowsError(try writer.add(name: "b", dtype: .uint8, shape: [2], byteCount: 2) { write in
            try [UInt8(1)].withUnsafeBytes { try write($0) }
        }) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, member: "b.npy", .byteCountMismatch(declared: 2, given: 1)))
            XCTAssertEqual("\(error)", "\(path): member 'b.npy': the array was declared with 2 bytes and given 1")
        }
        sink.discard()
        XCTAssertThrowsError(try writer.add(name: "c", dtype: .uint8, shape: [1], byteCount: 1) { write in
            try [UInt8(1)].withUnsafeBytes { try write($0) }
        }) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: path, .cannotWrite(.closed)))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
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
