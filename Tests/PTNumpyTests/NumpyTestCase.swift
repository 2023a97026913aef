import Foundation
import PTNumpy
import PTTensor
import XCTest

/// Shared helpers: the golden fixtures written by numpy (`ptload_tools.fixtures.numpy_files`), a
/// scratch directory per test, `.npy` images built from bytes, and exact-refusal assertions.
class NumpyTestCase: XCTestCase {
    /// `Fixtures/numpy` at the repository root: this file is Tests/PTNumpyTests/NumpyTestCase.swift.
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/numpy")

    private(set) var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("PTNumpyTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: fixtures

    func fixturePath(_ name: String) -> String {
        Self.fixtures.appendingPathComponent(name).path
    }

    func fixtureBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
    }

    /// The sidecar `NAME.json` of fixture `NAME.npy` / `NAME.npz`.
    func sidecar(_ file: String) throws -> [String: Any] {
        let stem = (file as NSString).deletingPathExtension
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(stem + ".json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "sidecar of \(file)")
    }

    /// Every fixture file with this extension whose name starts with `prefix`, sorted.
    func fixtures(prefix: String, ext: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path)
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix("." + ext) }.sorted()
    }

    // MARK: scratch files

    func write(_ bytes: [UInt8], name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func scratchPath(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    // MARK: comparing with sidecars

    /// Asserts dtype, shape, data bytes and values against a sidecar entry (a `.npy` sidecar or
    /// one `members` element of an `.npz` sidecar).
    func assertMatches(_ tensor: Tensor, _ expected: [String: Any], _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(tensor.dtype.rawValue, expected["dtype"] as? String, "\(what): dtype", file: file, line: line)
        XCTAssertEqual(tensor.shape, expected["shape"] as? [Int], "\(what): shape", file: file, line: line)
        XCTAssertTrue(tensor.isContiguous, "\(what): contiguous", file: file, line: line)
        let bytes = try tensor.contiguousBytes()
        XCTAssertEqual(hex(bytes), expected["bytes_hex"] as? String, "\(what): bytes", file: file, line: line)
        let values = try XCTUnwrap(expected["values"] as? [Any], "\(what): values", file: file, line: line)
        XCTAssertEqual(values.count, tensor.elementCount, "\(what): value count", file: file, line: line)
        try assertValues(tensor, bytes: bytes, values, what, file: file, line: line)
    }

    private func assertValues(_ tensor: Tensor, bytes: [UInt8], _ values: [Any], _ what: String,
                              file: StaticString, line: UInt) throws {
        let item = tensor.dtype.itemSize
        func load<T>(_ index: Int, _ offset: Int, as type: T.Type) -> T {
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * item + offset, as: T.self) }
        }
        func sameFloat(_ actual: Double, _ text: Any?, _ label: String) {
            guard let text = text as? String, let wanted = Double(text) else {
                return XCTFail("\(what): \(label): not a float string: \(String(describing: text))",
                               file: file, line: line)
            }
            let same = actual.isNaN ? wanted.isNaN : (actual == wanted && actual.sign == wanted.sign)
            XCTAssertTrue(same, "\(what): \(label): \(actual) != \(text)", file: file, line: line)
        }
        switch tensor.dtype {
        case .float16, .float32, .float64:
            for (index, (actual, wanted)) in zip(try tensor.doubles(), values).enumerated() {
                sameFloat(actual, wanted, "[\(index)]")
            }
        case .int8, .int16, .int32, .int64:
            for (index, wanted) in values.enumerated() {
                let actual: Int64
                switch item {
                case 1: actual = Int64(load(index, 0, as: Int8.self))
                case 2: actual = Int64(load(index, 0, as: Int16.self))
                case 4: actual = Int64(load(index, 0, as: Int32.self))
                default: actual = load(index, 0, as: Int64.self)
                }
                XCTAssertEqual(String(actual), wanted as? String, "\(what): [\(index)]", file: file, line: line)
            }
        case .uint8, .uint16, .uint32, .uint64:
            for (index, wanted) in values.enumerated() {
                let actual: UInt64
                switch item {
                case 1: actual = UInt64(load(index, 0, as: UInt8.self))
                case 2: actual = UInt64(load(index, 0, as: UInt16.self))
                case 4: actual = UInt64(load(index, 0, as: UInt32.self))
                default: actual = load(index, 0, as: UInt64.self)
                }
                XCTAssertEqual(String(actual), wanted as? String, "\(what): [\(index)]", file: file, line: line)
            }
        case .bool:
            for (index, wanted) in values.enumerated() {
                XCTAssertEqual(bytes[index] != 0, wanted as? Bool, "\(what): [\(index)]", file: file, line: line)
            }
        case .complex64, .complex128:
            for (index, wanted) in values.enumerated() {
                let pair = wanted as? [Any] ?? []
                XCTAssertEqual(pair.count, 2, "\(what): [\(index)] pair", file: file, line: line)
                let re = item == 8 ? Double(load(index, 0, as: Float.self)) : load(index, 0, as: Double.self)
                let im = item == 8 ? Double(load(index, 4, as: Float.self)) : load(index, 8, as: Double.self)
                sameFloat(re, pair.first, "[\(index)].real")
                sameFloat(im, pair.last, "[\(index)].imag")
            }
        default:
            XCTFail("\(what): unexpected dtype \(tensor.dtype)", file: file, line: line)
        }
    }

    // MARK: hostile inputs

    /// An `.npy` image with `header` verbatim (no padding added) after the magic, `version` and
    /// the header length, followed by `data`.
    func npy(_ header: String, version: (UInt8, UInt8) = (1, 0), data: [UInt8] = []) -> [UInt8] {
        npy(headerBytes: Array(header.utf8), version: version, data: data)
    }

    func npy(headerBytes: [UInt8], version: (UInt8, UInt8) = (1, 0), data: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version.0, version.1]
        let length = headerBytes.count
        out += [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF)]
        if version.0 != 1 {
            out += [UInt8((length >> 16) & 0xFF), UInt8((length >> 24) & 0xFF)]
        }
        return out + headerBytes + data
    }

    /// The standard header of a C-order little-endian float32 array.
    func header(descr: String = "'<f4'", fortran: String = "False", shape: String) -> String {
        "{'descr': \(descr), 'fortran_order': \(fortran), 'shape': \(shape), }"
    }

    static let hostileName = "hostile.npy"

    /// Asserts that reading `bytes` throws exactly `expected` about `hostile.npy` (no member),
    /// with a one-line description that starts with the file name.
    func assertRefused(_ bytes: [UInt8], _ expected: NumpyError.Reason,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try Numpy.readNpy(bytes: $0, name: Self.hostileName) },
                             file: file, line: line) { error in
            XCTAssertEqual(error as? NumpyError, NumpyError(path: Self.hostileName, expected), file: file, line: line)
            assertOneLine(error, startingWith: Self.hostileName + ": ", file: file, line: line)
        }
    }

    func assertOneLine(_ error: Error, startingWith prefix: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let description = String(describing: error)
        XCTAssertTrue(description.hasPrefix(prefix), "'\(description)' should start with '\(prefix)'",
                      file: file, line: line)
        XCTAssertFalse(description.contains("\n"), "one line: \(description)", file: file, line: line)
    }

    func read(_ bytes: [UInt8]) throws -> Tensor {
        try bytes.withUnsafeBytes { try Numpy.readNpy(bytes: $0, name: Self.hostileName) }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}
