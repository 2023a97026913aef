@testable import PTCheckpoint
import PTPickle
import PTTestSupport
import XCTest

/// Legacy (non-zip) streams built from bytes, and TorchScript declaration parsing.
final class LegacyAndScriptTests: XCTestCase {
    let fourFloats: [UInt8] = [Float(1), 2, 3, 4].withUnsafeBytes { Array($0) }

    /// magic, 1001, sys_info, {'w': tensor on storage 'k'}, ['k'], then count + bytes.
    func legacy(magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19], version: Int = 1001,
                numel: Int = 4, keys: [String] = ["k"], count: Int64 = 4, data: [UInt8]? = nil,
                trailing: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        var m = PickleWriter(); m.long1(littleEndian: magic); m.op(.stop); out += m.bytes
        var v = PickleWriter(); v.int(version); v.op(.stop); out += v.bytes
        var s = PickleWriter(); s.op(.emptyDict); s.op(.mark); s.string("little_endian"); s.bool(true); s.op(.setitems);
        s.op(.stop); out += s.bytes
        var p = PickleWriter()
        p.op(.emptyDict); p.op(.mark); p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.mark)
        p.op(.mark); p.string("storage"); p.global("torch", "FloatStorage"); p.string("k"); p.string("cpu");
        p.int(numel); p.op(.none); p.op(.tuple); p.op(.binpersid)
        p.int(0); p.ints([4]); p.ints([1]); p.bool(false); p.global("collections", "OrderedDict"); p.op(.emptyTuple);
        p.op(.reduce)
        p.op(.tuple); p.op(.reduce); p.op(.setitems); p.op(.stop)
        out += p.bytes
        var k = PickleWriter(); k.op(.emptyList); k.op(.mark); for key in keys { k.string(key) }; k.op(.appends);
        k.op(.stop); out += k.bytes
        out += withUnsafeBytes(of: count.littleEndian) { Array($0) }
        out += data ?? fourFloats
        return out + trailing
    }

    func load(_ bytes: [UInt8]) throws -> Checkpoint { try Checkpoint.load(path: temporaryFile(bytes)) }

    func assertRefused(_ bytes: [UInt8], _ fragment: String, line: UInt = #line) {
        XCTAssertThrowsError(try load(bytes), line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "'\(fragment)' missing from: \(error)", line: line)
        }
    }

    func testValidLegacyStream() throws {
        let c = try load(legacy())
        XCTAssertEqual(c.format, .legacy)
        XCTAssertNil(c.archiveName)
        XCTAssertEqual(c.tensors.map(\.key), ["w"])
        XCTAssertEqual(try c.tensors[0].tensor.floats(), [1, 2, 3, 4])
    }

    func testLegacyRefusals() {
        assertRefused(legacy(magic: [1, 2, 3]), "not torch's magic number")
        assertRefused(legacy(version: 1000), "legacy protocol version is 1000; expected 1001")
        assertRefused(legacy(count: 5), "holds 5 elements; its id declares 4")
        assertRefused(legacy(data: Array(fourFloats.prefix(10))), "needs 16 bytes")
        assertRefused(legacy(keys: ["k", "other"]), "names 'other', which no tensor uses")
        assertRefused(legacy(keys: []), "missing from the storage key list")
        assertRefused(legacy(trailing: [0]), "1 bytes follow the last storage")
        assertRefused(legacy(numel: 3), "needs 16 bytes of storage")
        let bytes = legacy()
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try load(Array(bytes[0..<cut])), "prefix of \(cut) bytes")
        }
    }

    func testDeclarationParsing() {
        let code = """
        class Other(Module):
          __parameters__ = ["x", ]
          __buffers__ = []
        class LSTMCell(Module):
          __parameters__ = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", ]
          __buffers__ = ["running", ]
          training : bool
        """
        XCTAssertEqual(ScriptDeclarations.parse(code, className: "LSTMCell"),
                       .init(parameters: ["weight_ih", "weight_hh", "bias_ih", "bias_hh"], buffers: ["running"]))
        XCTAssertEqual(ScriptDeclarations.parse(code, className: "Other"), .init(parameters: ["x"], buffers: []))
        XCTAssertNil(ScriptDeclarations.parse(code, className: "Missing"))
        // Anything but a list of plain string literals is not a declaration.
        XCTAssertNil(ScriptDeclarations.stringList("__import__('os')"))
        XCTAssertNil(ScriptDeclarations.stringList("[\"a\" + \"b\"]"))
        XCTAssertNil(ScriptDeclarations.stringList("[\"a\\\"b\"]"))
        XCTAssertNil(ScriptDeclarations.stringList("[\"unterminated"))
        XCTAssertEqual(ScriptDeclarations.stringList("[]"), [])
    }
}
