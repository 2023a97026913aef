import Foundation
@testable import PTExport
import PTTensor
import PTTestSupport
import XCTest

/// The writer on arrays made here and the casts, against what safetensors and torch wrote
/// (ptload_tools.fixtures.export → Fixtures/export).
final class ExportTests: XCTestCase {
    struct Casts: Decodable {
        let float32: [UInt32]
        let float16: [UInt16]
        let bfloat16: [UInt16]
        let float16_one_element: [UInt16]
        let bfloat16_one_element: [UInt16]
    }
    struct Manifest: Decodable { let casts: Casts }

    func testArraysFromSwiftAreWrittenAsSafetensorsWritesThem() throws {
        var writer = try CheckpointWriter()
        try writer.add("b.weight", array: ShapedArray<Float>(shape: [2, 3], values: [0, 0.25, 0.5, 0.75, 1, 1.25]))
        try writer.add("a.bias", array: ShapedArray<Double>(shape: [2], values: [0.5, -1.5]))
        let path = temporaryFile([], name: "arrays.safetensors")
        let summary = try writer.write(to: path)
        XCTAssertEqual(summary.tensors, 2)
        XCTAssertEqual(summary.bytes, 6 * 4 + 2 * 8)
        let expected = try Data(contentsOf: fixtureURL("export/swift_arrays.safetensors"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), expected)
    }

    /// c10's conversions, as torch's `.half()` and `.bfloat16()` gave them on every rounding case
    /// (ties, overflow, subnormals, NaN payloads), one element at a time and as one tensor.
    func testCastsRoundAsTorch() throws {
        let casts = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: fixtureURL("export/manifest.json"))).casts
        XCTAssertGreaterThan(casts.float32.count, 100)
        for (i, bits) in casts.float32.enumerated() {
            let value = Float(bitPattern: bits)
            XCTAssertEqual(Cast.half(value), casts.float16[i], "half of 0x\(String(bits, radix: 16))")
            XCTAssertEqual(Cast.half(value), casts.float16_one_element[i])
            XCTAssertEqual(Cast.bfloat16(value), casts.bfloat16[i], "bfloat16 of 0x\(String(bits, radix: 16))")
            XCTAssertEqual(Cast.bfloat16(value), casts.bfloat16_one_element[i])
        }
    }

    func testRefusals() throws {
        XCTAssertThrowsError(try CheckpointWriter(cast: .int8)) { XCTAssertEqual("\($0)", "cannot cast to int8; casts go to float16, bfloat16 or float32") }
        var writer = try CheckpointWriter()
        try writer.add("x", array: ShapedArray<Float>(zeros: [1]))
        XCTAssertThrowsError(try writer.add("x", array: ShapedArray<Float>(zeros: [1]))) { XCTAssertEqual("\($0)", "tensor 'x' appears twice") }
        XCTAssertThrowsError(try writer.write(to: temporaryFile([], name: "out.bin"))) {
            XCTAssertTrue("\($0)".hasSuffix("out.bin: the extension names no export format; expected .safetensors, .npz or .pt"), "\($0)")
        }
    }
}
