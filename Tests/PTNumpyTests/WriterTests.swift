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
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
                                           + String(repeating: " ", count: 20)))
        XCTAssertTrue(header.hasSuffix(" \n"))

        let scalar = try Numpy.npyBytes(try Tensor(dtype: .bool, shape: [], bytes: [1]))
        XCTAssertTrue(String(decoding: scalar, as: UTF8.self)
            .contains("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"))
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
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)),
                       try Data(contentsOf: URL(fileURLWithPath: again)))
    }

    func testEmptyNpz() throws {
        let path = scratchPath("empty.npz")
        try Numpy.writeNpz([], to: path)
        XCTAssertEqual(try Numpy.readNpz(path: path).count, 0)
    }

    func testUnsupportedDTypeIsRefused() throws {
        let tensor = try Tensor(dtype: .bfloat16, shape: [2], bytes: [0, 0x3F, 0, 0x40])
        XCTAssertThrowsError(try Numpy.npyBytes(tensor)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: "tensor", .unsupportedDType(.bfloat16)))
        }
        let npy = scratchPath("x.npy")
        XCTAssertThrowsError(try Numpy.writeNpy(tensor, to: npy)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: npy, .unsupportedDType(.bfloat16)))
            XCTAssertEqual("\(error)", "\(npy): bfloat16 has no numpy dtype; expected float16/32/64, int8-64, uint8-64,"
                               + " bool or complex64/128")
        }
        let path = scratchPath("x.npz")
        XCTAssertThrowsError(try Numpy.writeNpz([("w", tensor)], to: path)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: path, member: "w.npy", .unsupportedDType(.bfloat16)))
            XCTAssertEqual("\(error)", "\(path): member 'w.npy': bfloat16 has no numpy dtype; expected float16/32/64,"
                               + " int8-64, uint8-64, bool or complex64/128")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: npy))
    }

    func testNpzNamesMustBeUniqueAndNonEmpty() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        let duplicated = scratchPath("d.npz")
        XCTAssertThrowsError(try Numpy.writeNpz([("a", tensor), ("b", tensor), ("a", tensor)],
                                                to: duplicated)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: duplicated, .duplicateArrayName("a")))
            assertOneLine(error, startingWith: duplicated + ": array name 'a'")
        }
        let empty = scratchPath("e.npz")
        XCTAssertThrowsError(try Numpy.writeNpz([("", tensor)], to: empty)) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: empty, .invalidArrayName(name: "", .empty)))
            XCTAssertEqual("\(error)", "\(empty): array name '': names must not be empty")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    /// A name whose member readers (ptload's among them) would refuse is not written: the
    /// zip layer's typed reason, the output named.
    func testNpzMemberNamesMustBePlainRelativePaths() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        let path = scratchPath("u.npz")
        XCTAssertThrowsError(try Numpy.writeNpz([("ok", tensor), ("../evil", tensor)], to: path)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, .invalidArrayName(name: "../evil", .unsafe(.parentComponent))))
            XCTAssertEqual("\(error)", "\(path): array name '../evil': zip entry name '../evil.npy' is not a plain"
                               + " relative path: it has a '..' component")
        }
        XCTAssertThrowsError(try Numpy.writeNpz([("/abs", tensor)], to: path)) { error in
            XCTAssertEqual((error as? NumpyError)?.reason, .invalidArrayName(name: "/abs", .unsafe(.absolute)))
        }
        let long = String(repeating: "x", count: 70_000)
        XCTAssertThrowsError(try Numpy.writeNpz([(long, tensor)], to: path)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, .invalidArrayName(name: String(long.prefix(64)),
                                                                    .tooLong(byteCount: 70_004))))
            XCTAssertEqual("\(error)", "\(path): array name '\(long.prefix(64))': zip entry name '\(long.prefix(64))…'"
                               + " is 70004 bytes of UTF-8; at most 65,535 fit in a zip header")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    /// An output that is one of the inputs (here the reference it was read from) is refused
    /// before anything is written, and the input keeps its bytes.
    func testWritingOverAnInputIsRefused() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        let path = scratchPath("ref.npz")
        try Numpy.writeNpz([("a", tensor)], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Numpy.writeNpz(arrays: [("b", tensor)], to: path, inputs: [path])) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: path, .cannotWrite(.isInput(nil))))
            XCTAssertEqual("\(error)", "\(path): cannot write: it is the input")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testUnwritablePathIsReported() throws {
        let tensor = try Tensor(dtype: .uint8, shape: [1], bytes: [9])
        let path = scratchPath("missing/x.npy")
        XCTAssertThrowsError(try Numpy.writeNpy(tensor, to: path)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, .cannotWrite(.system("No such file or directory"))))
            assertOneLine(error, startingWith: path + ": ")
        }
    }
}

func littleEndianBytes(_ value: Int32) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
