import XCTest
@testable import PTPickle

/// `PickleWriter`: the exact bytes of each operation, and the machine reading them back.
final class WriterTests: XCTestCase {
    func written(_ body: (inout PickleWriter) -> Void) -> B {
        var pickle = PickleWriter()
        body(&pickle)
        return Array(pickle.bytes.dropFirst(2))
    }

    func testIntsTakeTheShortestOpcode() {
        XCTAssertEqual(PickleWriter(protocol: 3).bytes, [0x80, 3])
        XCTAssertEqual(written { $0.int(0) }, op(.binint1) + [0])
        XCTAssertEqual(written { $0.int(255) }, op(.binint1) + [0xFF])
        XCTAssertEqual(written { $0.int(256) }, op(.binint2) + [0x00, 0x01])
        XCTAssertEqual(written { $0.int(65_535) }, op(.binint2) + [0xFF, 0xFF])
        XCTAssertEqual(written { $0.int(65_536) }, op(.binint) + i32(65_536))
        XCTAssertEqual(written { $0.int(-1) }, op(.binint) + i32(-1))
        XCTAssertEqual(written { $0.int(Int(Int32.min)) }, op(.binint) + i32(Int32.min))
        XCTAssertEqual(written { $0.int(1 << 40) }, op(.long1) + [8, 0, 0, 0, 0, 0, 1, 0, 0])
        XCTAssertEqual(written { $0.int(Int(Int32.min) - 1) },
                       op(.long1) + [8, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(written { $0.ints([]) }, op(.emptyTuple))
        XCTAssertEqual(written { $0.ints([1, 2]) }, op(.mark) + op(.binint1) + [1] + op(.binint1) + [2] + op(.tuple))
    }

    func testTextFloatsAndMemo() {
        XCTAssertEqual(written { $0.global("torch", "Size") }, op(.global) + Array("torch\nSize\n".utf8))
        XCTAssertEqual(written { $0.string("é") }, op(.binunicode) + u32(2) + [0xC3, 0xA9])
        XCTAssertEqual(written { $0.shortString(utf8: [0xFF]) }, op(.shortBinunicode) + [1, 0xFF])
        XCTAssertEqual(written { $0.float(1.5) }, op(.binfloat) + [0x3F, 0xF8, 0, 0, 0, 0, 0, 0], "big-endian")
        XCTAssertEqual(written { $0.bool(true); $0.bool(false) }, op(.newtrue) + op(.newfalse))
        XCTAssertEqual(written { $0.put(7); $0.get(7) }, op(.binput) + [7] + op(.binget) + [7])
        XCTAssertEqual(written { $0.put(256); $0.get(256) }, op(.longBinput) + u32(256) + op(.longBinget) + u32(256))
        XCTAssertEqual(written { $0.long1(littleEndian: [1, 2, 3]) }, op(.long1) + [3, 1, 2, 3])
    }

    func testTheMachineReadsWhatItWrites() throws {
        var pickle = PickleWriter()
        pickle.op(.mark)
        for value in [0, 300, -5, 70_000, 1 << 40, Int(Int64.min)] { pickle.int(value) }
        pickle.float(-2.25)
        pickle.string("a\nb")
        pickle.put(0)
        pickle.get(0)
        pickle.bool(true)
        pickle.op(.none)
        pickle.op(.tuple)
        pickle.op(.stop)
        guard case .tuple(let t) = try unpickle(pickle.bytes).root else { return XCTFail("not a tuple") }
        XCTAssertEqual(t.items.prefix(6).map(\.intValue), [0, 300, -5, 70_000, 1 << 40, Int64.min])
        XCTAssertEqual(t.items[6].doubleValue, -2.25)
        XCTAssertEqual(t.items[7].stringValue, "a\nb")
        XCTAssertEqual(t.items[8].stringValue, "a\nb")
        XCTAssertEqual(t.items[9].boolValue, true)
        guard case .none = t.items[10] else { return XCTFail("not None") }
        XCTAssertEqual(t.count, 11)
    }
}
