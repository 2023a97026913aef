import PTNumpy
import PTTensor
import XCTest

/// Files written by real numpy (`ptload_tools.fixtures.numpy_files`), read back and compared with
/// the dtype, shape, values and little-endian C-order bytes numpy itself reported.
final class GoldenFixtureTests: NumpyTestCase {
    /// Reads every `.npy` fixture starting with `prefix`, checks it against its sidecar and
    /// returns how many there were.
    @discardableResult
    private func checkNpyFixtures(prefix: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let names = try fixtures(prefix: prefix, ext: "npy")
        for name in names {
            let tensor = try Numpy.readNpy(path: fixturePath(name))
            try assertMatches(tensor, try sidecar(name), name, file: file, line: line)
        }
        return names.count
    }

    func testEveryDTypeLittleEndian() throws {
        let names = try fixtures(prefix: "dtype_", ext: "npy")
        XCTAssertEqual(Set(names.map { String($0.dropFirst(6).dropLast(4)) }),
                       ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
                        "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128"])
        try checkNpyFixtures(prefix: "dtype_")
    }

    func testBigEndianIsByteSwapped() throws {
        XCTAssertEqual(try checkNpyFixtures(prefix: "be_"), 11)
        for name in try fixtures(prefix: "be_", ext: "npy") {
            XCTAssertTrue((try sidecar(name)["descr"] as? String)?.hasPrefix(">") ?? false, name)
        }
        // Same values as the little-endian twin, element for element.
        let big = try Numpy.readNpy(path: fixturePath("be_complex64.npy"))
        let little = try Numpy.readNpy(path: fixturePath("dtype_complex64.npy"))
        XCTAssertEqual(try big.contiguousBytes(), try little.contiguousBytes())
    }

    func testFortranOrderIsTransposedIntoCOrder() throws {
        XCTAssertEqual(try checkNpyFixtures(prefix: "fortran_"), 3)
        for name in try fixtures(prefix: "fortran_", ext: "npy") {
            XCTAssertEqual(try sidecar(name)["fortran_order"] as? Bool, true, name)
        }
        let fortran = try Numpy.readNpy(path: fixturePath("fortran_float32_2x3x4.npy"))
        let c = try Numpy.readNpy(path: fixturePath("c_float32_2x3x4.npy"))
        XCTAssertEqual(fortran.shape, [2, 3, 4])
        XCTAssertEqual(try fortran.floats(), try c.floats())
        // (1, 2, 3) is element 1·12 + 2·4 + 3 = 23 of arange(24) / 8 - 1.
        XCTAssertEqual(try fortran.floats()[23], 23.0 / 8 - 1)
        try checkNpyFixtures(prefix: "c_")
    }

    func testScalarsVectorsAndEmptyArrays() throws {
        try checkNpyFixtures(prefix: "scalar_")
        try checkNpyFixtures(prefix: "vector_")
        XCTAssertEqual(try checkNpyFixtures(prefix: "empty_"), 3)

        let scalar = try Numpy.readNpy(path: fixturePath("scalar_float64.npy"))
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.elementCount, 1)
        XCTAssertEqual(try scalar.doubles(), [-2.75])

        let empty = try Numpy.readNpy(path: fixturePath("empty_uint8_2x0x3.npy"))
        XCTAssertEqual(empty.shape, [2, 0, 3])
        XCTAssertEqual(empty.elementCount, 0)
        XCTAssertEqual(try empty.contiguousBytes(), [])
    }

    /// numpy pads a header that ends on a 64-byte boundary with 64 more spaces.
    func testHeaderEndingOnAlignmentBoundary() throws {
        XCTAssertEqual(try checkNpyFixtures(prefix: "pad_edge_"), 1)
        let bytes = try fixtureBytes("pad_edge_uint8_14d.npy")
        XCTAssertEqual(Int(bytes[8]) | Int(bytes[9]) << 8, 118 + 64)
        let tensor = try Numpy.readNpy(path: fixturePath("pad_edge_uint8_14d.npy"))
        XCTAssertEqual(tensor.shape, [Int](repeating: 1, count: 13) + [100])
        XCTAssertEqual(try Numpy.npyBytes(tensor), bytes)
    }

    func testFormatVersions1To3() throws {
        XCTAssertEqual(try checkNpyFixtures(prefix: "v"), 5)  // v1, v2, v3 and vector_
        for (name, major) in [("v1_float32.npy", 1), ("v2_float32.npy", 2), ("v3_float32.npy", 3),
                              ("v2_fortran_be_float64.npy", 2)] {
            XCTAssertEqual(try fixtureBytes(name)[6], UInt8(major), name)
            XCTAssertEqual(try sidecar(name)["version"] as? [Int], [major, 0], name)
        }
        let v1 = try Numpy.readNpy(path: fixturePath("v1_float32.npy"))
        for name in ["v2_float32.npy", "v3_float32.npy"] {
            let other = try Numpy.readNpy(path: fixturePath(name))
            XCTAssertEqual(other.shape, v1.shape, name)
            XCTAssertEqual(try other.contiguousBytes(), try v1.contiguousBytes(), name)
        }
    }

    func testReadFromMemoryMatchesReadFromFile() throws {
        for name in try fixtures(prefix: "", ext: "npy") {
            let bytes = try fixtureBytes(name)
            let fromMemory = try bytes.withUnsafeBytes { try Numpy.readNpy(bytes: $0, name: name) }
            let fromFile = try Numpy.readNpy(path: fixturePath(name))
            XCTAssertEqual(fromMemory.dtype, fromFile.dtype, name)
            XCTAssertEqual(fromMemory.shape, fromFile.shape, name)
            XCTAssertEqual(try fromMemory.contiguousBytes(), try fromFile.contiguousBytes(), name)
        }
    }

    private func checkNpz(_ name: String) throws {
        let expected = try XCTUnwrap(try sidecar(name)["members"] as? [[String: Any]])
        let arrays = try Numpy.readNpz(path: fixturePath(name))
        XCTAssertEqual(arrays.map(\.name), expected.map { $0["name"] as? String ?? "?" }, name)
        XCTAssertEqual(arrays.map(\.name), ["h_n", "c_n", "steps", "mask", "scale", "empty"])
        for (array, member) in zip(arrays, expected) {
            try assertMatches(array.tensor, member, "\(name): \(array.name)")
        }
    }

    func testNpzStored() throws {
        XCTAssertEqual(try sidecar("stored.npz")["compression"] as? String, "stored")
        try checkNpz("stored.npz")
    }

    func testNpzDeflated() throws {
        XCTAssertEqual(try sidecar("deflated.npz")["compression"] as? String, "deflated")
        try checkNpz("deflated.npz")
        let stored = try Numpy.readNpz(path: fixturePath("stored.npz"))
        let deflated = try Numpy.readNpz(path: fixturePath("deflated.npz"))
        for (a, b) in zip(stored, deflated) {
            XCTAssertEqual(try a.tensor.contiguousBytes(), try b.tensor.contiguousBytes(), a.name)
        }
    }
}
