import PTNumpy
import PTTensor
import PTZip
import XCTest

/// ptload's writer against the bytes numpy writes, and round trips through ptload's reader.
final class WriterTests: NumpyTestCase {
    /// Every `.npy` fixture, rewritten by ptload, gives exactly the file `numpy.save` writes for
    /// the same array in C order, little-endian (its `c_order_twin`): the header text, the
    /// growth padding, the 64-byte alignment and the data.
    func testWriterOutputIsByteIdenticalToNumpy() throws {
        var compared = 0
        for name in try fixtures(prefix: "", ext: "npy") {
            let twin = try XCTUnwrap(try sidecar(name)["c_order_twin"] as? String, name)
            let tensor = try Numpy.readNpy(path: fixturePath(name))
            let written = try Numpy.npyBytes(tensor)
            XCTAssertEqual(written, try fixtureBytes(twin), "\(name) rewritten should equal \(twin)")
            compared += 1
        }
        XCTAssertEqual(compared, 43)
    }

    func testWriteNpyRoundTripsEveryDType() throws {
        for name in try fixtures(prefix: "dtype_", ext: "npy") {
            let original = try Numpy.readNpy(path: fixturePath(name))
            let path = scratchPath(name)
            try Numpy.writeNpy(original, to: path)
            let back = try Numpy.readNpy(path: path)
            XCTAssertEqual(back.dtype, original.dtype, name)
            XCTAssertEqual(back.shape, original.shape, name)
            XCTAssertEqual(try back.contiguousBytes(), try original.contiguousBytes(), name)
            XCTAssertEqual(try fixtureBytes(name), [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), name)
        }
    }

    func testHeaderLayout() throws {
        let tensor = try Tensor(dtype: .float32, shape: [2, 3], bytes: [UInt8](repeating: 0, count: 24))
        let bytes = try Numpy.npyBytes(tensor)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        XCTAssertEqual(bytes.count, 10 + headerLength + 24)
        let header = String(decoding: bytes[10 ..< 10 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 20)))
        XCTAssertTrue(header.hasSuffix(" \n"))

        let scalar = try Numpy.npyBytes(try Tensor(dtype: .bool, shape: [], bytes: [1]))
        XCTAssertTrue(String(decoding: scalar, as: UTF8.self).contains("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"))
        let vector = try Numpy.npyBytes(try Tensor(dtype: .int64, shape: [1], bytes: [UInt8](repeating: 7, count: 8)))
        XCTAssertTrue(String(decoding: vector, as: UTF8.self).contains("'shape': (1,), }"))
    }

    /// A strided view (a transpose) is written in C order of its logical shape.
    func testNonContiguousTensorIsWrittenInCOrder() throws {
        // Storage [[1, 2, 3], [4, 5, 6]] (int32); the view is its transpose, shape [3, 2].
        let values: [Int32] = [1, 2, 3, 4, 5, 6]
        let storage = Storage(key: "s", dtype: .int32, bytes: values.flatMap(littleEndianBytes))
        let transposed = try Tensor(storage: storage, dtype: .int32, shape: [3, 2], strides: [1, 3], storageOffset: 0)
        XCTAssertFalse(transposed.isContiguous)
        let back = try Numpy.npyBytes(transposed).withUnsafeBytes { try Numpy.readNpy(bytes: $0, name: "t") }
        XCTAssertEqual(back.shape, [3, 2])
        XCTAssertEqual(try back.doubles(), [1, 4, 2, 5, 3, 6])
    }

    func testWriteNpzRoundTripsInOrder() throws {
        let members = try Numpy.readNpz(path: fixturePath("deflated.npz"))
        let path = scratchPath("out.npz")
        try Numpy.writeNpz(members, to: path)
        let back = try Numpy.readNpz(path: path)
        XCTAssertEqual(back.map(\.name), members.map(\.name))
        for (a, b) in zip(back, members) {
            XCTAssertEqual(a.tensor.dtype, b.tensor.dtype, a.name)
            XCTAssertEqual(a.tensor.shape, b.tensor.shape, a.name)
            XCTAssertEqual(try a.tensor.contiguousBytes(), try b.tensor.contiguousBytes(), a.name)
        }
        // Stored members "NAME.npy" holding exactly what npyBytes gives.
        let archive = try ZipArchive(path: path)
        XCTAssertEqual(archive.entries.map(\.name), members.map { $0.name + ".npy" })
        for (entry, member) in zip(archive.entries, members) {
            XCTAssertEqual(entry.method, .stored)
            let contents = try archive.bytes(of: entry).withUnsafeBytes { Array($0) }
            XCTAssertEqual(contents, try Numpy.npyBytes(member.tensor), entry.name)
        }
        // Fixed timestamps: the same arrays give the same file.
        let again = scratchPath("again.npz")
        try Numpy.writeNpz(members, to: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: again)))
    }

    func testEmptyNpz() throws {
        let path = scratchPath("empty.npz")
        try Numpy.writeNpz([], to: path)
        XCTAssertEqual(try Numpy.readNpz(path: path).count, 0)
    }

    func testUnsupportedDTypeIsRefused() throws {
        let tensor = try Tensor(dtype: .bfloat16, shape: [2], bytes: [0, 0x3F, 0, 0x40])
        XCTAssertThrowsError(try Numpy.npyBytes(tensor)) { error in
            XCTAssertEqual(error as? NumpyError, .unsupportedDType(name: "tensor", dtype: .bfloat16))
        }
        let path = scratchPath("x.npz")
        XCTAssertThrowsError(try Numpy.writeNpz([("w", tensor)], to: path)) { error in
            XCTAssertEqual(error as? NumpyError, .unsupportedDType(name: "w.npy", dtype: .bfloat16))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testNpzNamesMustBeUniqueAndNonEmpty() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        XCTAssertThrowsError(try Numpy.writeNpz([("a", tensor), ("b", tensor), ("a", tensor)], to: scratchPath("d.npz"))) { error in
            XCTAssertEqual(error as? NumpyError, .duplicateArrayName("a"))
            assertOneLine(error, startingWith: "array name 'a'")
        }
        XCTAssertThrowsError(try Numpy.writeNpz([("", tensor)], to: scratchPath("e.npz"))) { error in
            XCTAssertEqual(error as? NumpyError, .invalidArrayName(name: "", reason: "names must not be empty"))
        }
    }

    func testUnwritablePathIsReported() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        let path = scratchPath("missing/x.npy")
        XCTAssertThrowsError(try Numpy.writeNpy(tensor, to: path)) { error in
            XCTAssertEqual(error as? NumpyError, .cannotWrite(path: path, reason: "No such file or directory"))
            assertOneLine(error, startingWith: path + ": ")
        }
    }
}

func littleEndianBytes(_ value: Int32) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
