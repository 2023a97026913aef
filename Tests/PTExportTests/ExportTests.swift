import Foundation
import PTCheckpoint
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
        var writer = CheckpointWriter()
        writer.add("b.weight", array: ShapedArray<Float>(shape: [2, 3], values: [0, 0.25, 0.5, 0.75, 1, 1.25]))
        writer.add("a.bias", array: ShapedArray<Double>(shape: [2], values: [0.5, -1.5]))
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
        let casts = try JSONDecoder()
            .decode(Manifest.self, from: Data(contentsOf: fixtureURL("export/manifest.json"))).casts
        XCTAssertGreaterThan(casts.float32.count, 100)
        for (i, bits) in casts.float32.enumerated() {
            let value = Float(bitPattern: bits)
            XCTAssertEqual(Cast.half(value), casts.float16[i], "half of 0x\(String(bits, radix: 16))")
            XCTAssertEqual(Cast.half(value), casts.float16_one_element[i])
            XCTAssertEqual(Cast.bfloat16(value), casts.bfloat16[i], "bfloat16 of 0x\(String(bits, radix: 16))")
            XCTAssertEqual(Cast.bfloat16(value), casts.bfloat16_one_element[i])
        }
    }

    /// Every refusal comes from `write(to:)` and names the output, with a typed reason.
    func testRefusals() throws {
        let out = temporaryFile([], name: "out.npz")
        try? FileManager.default.removeItem(atPath: out)
        let badCast = CheckpointWriter(cast: .int8)
        XCTAssertThrowsError(try badCast.write(to: out)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: out, .badCast(.int8)))
            XCTAssertEqual("\($0)", "\(out): cannot cast to int8; casts go to float16, bfloat16 or float32")
        }
        var writer = CheckpointWriter()
        writer.add("x", array: ShapedArray<Float>(zeros: [1]))
        writer.add("x", array: ShapedArray<Float>(zeros: [1]))
        XCTAssertThrowsError(try writer.write(to: out)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: out, .duplicateName("x")))
            XCTAssertEqual("\($0)", "\(out): tensor 'x' appears twice")
        }
        let bin = temporaryFile([], name: "out.bin")
        XCTAssertThrowsError(try CheckpointWriter().write(to: bin)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: bin, .unknownFormat))
            XCTAssertEqual("\($0)", "\(bin): the extension names no export format; expected .safetensors, .npz or .pt")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Names and dtypes a format cannot hold: typed reasons, the tensor named, nothing written.
    func testWhatAFormatCannotHold() throws {
        let dir = NSTemporaryDirectory() + "export-names-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var names = CheckpointWriter()
        names.add("../evil", array: ShapedArray<Float>(zeros: [1]))
        XCTAssertThrowsError(try names.write(to: dir + "/o.npz")) {
            XCTAssertEqual($0 as? ExportError,
                           ExportError(path: dir + "/o.npz", .unwritableName(name: "../evil", format: .npz,
                                                                             .unsafeMember(.parentComponent))))
            XCTAssertEqual("\($0)", "\(dir)/o.npz: tensor '../evil' cannot be named so in .npz: the member name is not"
                               + " a plain relative path (it has a '..' component), which readers refuse")
        }
        var metadata = CheckpointWriter()
        metadata.add("__metadata__", array: ShapedArray<Float>(zeros: [1]))
        XCTAssertThrowsError(try metadata.write(to: dir + "/o.safetensors")) {
            XCTAssertEqual(($0 as? ExportError)?.reason,
                           .unwritableName(name: "__metadata__", format: .safetensors, .reservedMetadata))
        }
        let bf16 = try Tensor(dtype: .bfloat16, shape: [1], bytes: [0, 0x3F])
        var dtypes = CheckpointWriter()
        dtypes.add("w", tensor: bf16)
        XCTAssertThrowsError(try dtypes.write(to: dir + "/o.npz")) {
            let reason = ($0 as? ExportError)?.reason
            XCTAssertEqual(reason, .unsupportedDType(name: "w", dtype: .bfloat16, format: .npz))
            XCTAssertEqual(reason?.castWouldHelp, true)
            XCTAssertEqual(reason?.description,
                           "tensor 'w' is bfloat16: numpy has no bfloat16; cast it to float32 or float16")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    /// A record that fails its CRC-32 check when first read, in every format: the checkpoint's
    /// own error, typed, under the tensor's name and the output's path; no output.
    func testACorruptRecordCarriesTheCheckpointError() throws {
        let model = fixtureURL("hostile/zip_crc_storage.pt").path
        let checkpoint = try Checkpoint.load(path: model)
        let crc = CheckpointError(path: model, .zip(.crcMismatch(entry: "archive/data/1", declared: 0xfa81_e398,
                                                                 actual: 0xff61_d18d)))
        for format in CheckpointWriter.Format.allCases {
            let out = temporaryFile([], name: "corrupt.\(format.rawValue)")
            try FileManager.default.removeItem(atPath: out)
            var writer = CheckpointWriter()
            writer.inputs = [model]
            for (key, tensor) in checkpoint.tensors.map({ ($0.key, $0.tensor) }) { writer.add(key, tensor: tensor) }
            XCTAssertThrowsError(try writer.write(to: out), "\(format)") {
                XCTAssertEqual($0 as? ExportError,
                               ExportError(path: out, .unreadable(name: "weight_hh_l0", .checkpoint(crc))), "\(format)")
                XCTAssertEqual("\($0)", "\(out): tensor 'weight_hh_l0': \(model): entry 'archive/data/1' has CRC-32"
                                   + " 0xff61d18d; its header declares 0xfa81e398")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(format)")
        }
    }

    /// The checkpoint itself as the output: refused before anything is written.
    func testWritingOverAnInputIsRefused() throws {
        let model = temporaryFile(Array(try Data(contentsOf: fixtureURL("rnn/lstm_long.pt"))), name: "model.pt")
        let before = try Data(contentsOf: URL(fileURLWithPath: model))
        var writer = CheckpointWriter()
        writer.inputs = [model]
        for t in try Checkpoint.load(path: model).tensors { writer.add(t.key, tensor: t.tensor) }
        XCTAssertThrowsError(try writer.write(to: model)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: model, .cannotWrite(.isInput(nil))))
            XCTAssertEqual("\($0)", "\(model): cannot write: it is the input")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), before)
    }
}
