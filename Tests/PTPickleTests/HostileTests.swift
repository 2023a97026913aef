import XCTest
@testable import PTPickle

/// Hand-written hostile pickles: each must become the right error, never a trap, a hang or a
/// huge allocation.
final class HostileTests: XCTestCase {
    func testEmptyInput() {
        XCTAssertEqual(pickleError([]), .truncated(offset: 0, needed: 1, available: 0))
    }

    func testMissingStop() {
        XCTAssertEqual(pickleError(proto() + int(1)), .truncated(offset: 4, needed: 1, available: 0))
    }

    func testUnknownOpcode() {
        XCTAssertEqual(pickleError(proto() + [0xFF]), .unknownOpcode(byte: 0xFF, offset: 2))
        XCTAssertEqual(pickleError(int(1) + [0x00]), .unknownOpcode(byte: 0x00, offset: 2))
        XCTAssertEqual(pickleError([0x99]), .unknownOpcode(byte: 0x99, offset: 0))
        XCTAssertTrue(PickleError.unknownOpcode(byte: 0xFF, offset: 2).description.contains("0xff"))
    }

    func testGetOfUnsetMemo() {
        XCTAssertEqual(pickleError(p4(op(.binget), u8(3))), .memoMissing(index: 3, offset: 2))
        XCTAssertEqual(pickleError(p4(op(.longBinget), u32(.max))), .memoMissing(index: Int(UInt32.max), offset: 2))
        XCTAssertEqual(pickleError(text("g0\n.")), .memoMissing(index: 0, offset: 0))
    }

    func testStopWithEmptyStack() {
        XCTAssertEqual(pickleError(stop), .stackUnderflow(offset: 0, opcode: .stop))
        XCTAssertEqual(pickleError(proto() + stop), .stackUnderflow(offset: 2, opcode: .stop))
    }

    func testMarkMissing() {
        for o in [PickleOpcode.tuple, .list, .dict, .appends, .setitems, .additems, .frozenset, .popMark, .obj] {
            XCTAssertEqual(pickleError(p4(op(.emptyList), op(o))), .markMissing(offset: 3, opcode: o), "\(o)")
        }
        XCTAssertEqual(pickleError(text("imod\nC\n.")), .markMissing(offset: 0, opcode: .inst))
    }

    func testStackUnderflowForEveryPoppingOpcode() {
        for o in [PickleOpcode.append, .setitem, .build, .reduce, .newobj, .newobjEx, .stackGlobal, .tuple1,
                  .tuple2, .tuple3, .binpersid, .dup, .memoize, .binput] {
            let bytes = proto() + op(o) + (o == .binput ? u8(0) : []) + stop
            XCTAssertEqual(pickleError(bytes, hooks: PickleHooks(persistentLoad: { $0 })),
                           .stackUnderflow(offset: 2, opcode: o), "\(o)")
        }
    }

    func testHugeDeclaredLengths() {
        // 2^62 bytes: checked against what is left before anything is allocated.
        XCTAssertEqual(pickleError(p4(op(.binbytes8), u64(1 << 62))),
                       .truncated(offset: 11, needed: 1 << 62, available: 1))
        XCTAssertEqual(pickleError(p4(op(.binunicode8), u64(1 << 62))),
                       .truncated(offset: 11, needed: 1 << 62, available: 1))
        XCTAssertEqual(pickleError(proto(5) + op(.bytearray8) + u64(1 << 62) + stop),
                       .truncated(offset: 11, needed: 1 << 62, available: 1))
        // Beyond Int.max.
        XCTAssertEqual(pickleError(p4(op(.binbytes8), u64(.max))),
                       .lengthOverflow(offset: 2, opcode: .binbytes8, length: .max))
        XCTAssertEqual(pickleError(p4(op(.binunicode8), u64(1 << 63))),
                       .lengthOverflow(offset: 2, opcode: .binunicode8, length: 1 << 63))
        // 32-bit lengths.
        XCTAssertEqual(pickleError(p4(op(.binunicode), u32(.max))),
                       .truncated(offset: 7, needed: Int(UInt32.max), available: 1))
        XCTAssertEqual(pickleError(proto(3) + op(.binbytes) + u32(.max) + stop),
                       .truncated(offset: 7, needed: Int(UInt32.max), available: 1))
        XCTAssertEqual(pickleError(op(.binstring) + i32(.max) + stop),
                       .truncated(offset: 5, needed: Int(Int32.max), available: 1))
        XCTAssertEqual(pickleError(op(.shortBinstring) + u8(200) + stop),
                       .truncated(offset: 2, needed: 200, available: 1))
    }

    func testLong4LengthOverflow() {
        XCTAssertEqual(pickleError(proto(2) + op(.long4) + i32(-1) + stop),
                       .negativeLength(offset: 2, opcode: .long4, length: -1))
        XCTAssertEqual(pickleError(proto(2) + op(.long4) + i32(.min) + stop),
                       .negativeLength(offset: 2, opcode: .long4, length: Int64(Int32.min)))
        XCTAssertEqual(pickleError(proto(2) + op(.long4) + i32(.max) + stop),
                       .truncated(offset: 7, needed: Int(Int32.max), available: 1))
        XCTAssertEqual(pickleError(proto(2) + op(.long1) + u8(255) + [1, 2] + stop),
                       .truncated(offset: 4, needed: 255, available: 3))
    }

    func testTruncatedFixedWidthArguments() {
        XCTAssertEqual(pickleError(op(.binint) + [1, 2]), .truncated(offset: 1, needed: 4, available: 2))
        XCTAssertEqual(pickleError(op(.binfloat) + [1]), .truncated(offset: 1, needed: 8, available: 1))
        XCTAssertEqual(pickleError(op(.binint2) + [1]), .truncated(offset: 1, needed: 2, available: 1))
        XCTAssertEqual(pickleError(proto(4) + op(.frame) + [1, 2, 3]), .truncated(offset: 3, needed: 8, available: 3))
        XCTAssertEqual(pickleError(text("I12")), .truncated(offset: 1, needed: 3, available: 2))
        XCTAssertEqual(pickleError(text("cmod\nname")), .truncated(offset: 5, needed: 5, available: 4))
    }

    func testNestingMillionDeepIsAnErrorNotACrash() {
        // EMPTY_LIST x N, then APPEND x (N-1): each list goes into the one below it.
        let n = 1_000_000
        var bytes = proto()
        bytes += B(repeating: PickleOpcode.emptyList.rawValue, count: n)
        bytes += B(repeating: PickleOpcode.append.rawValue, count: n - 1)
        bytes += stop
        guard case .nestingTooDeep(limit: 10_000, _)? = pickleError(bytes) else { return XCTFail() }
        // Tuples, built bottom-up: MARK ... TUPLE1 chains.
        var tuples = proto() + op(.emptyTuple)
        tuples += B(repeating: PickleOpcode.tuple1.rawValue, count: n)
        tuples += stop
        guard case .nestingTooDeep(limit: 10_000, _)? = pickleError(tuples) else { return XCTFail() }
    }

    func testDeepValueUnderRaisedLimitsIsTornDownFlat() throws {
        // 50,000 nested lists, accepted; freeing them recursively would overflow the stack.
        let n = 50_000
        var bytes = proto()
        bytes += B(repeating: PickleOpcode.emptyList.rawValue, count: n)
        bytes += B(repeating: PickleOpcode.append.rawValue, count: n - 1)
        bytes += stop
        let limits = PickleLimits(maxNestingDepth: 100_000)
        weak var innermost: PickleList?
        func innermostList(_ v: PickleValue) -> PickleList? {
            guard case .list(var cursor) = v else { return nil }
            while case .list(let next)? = cursor.items.first { cursor = next }
            return cursor
        }
        do {
            let u = try unpickle(bytes, limits: limits)
            withExtendedLifetime(u) {
                if case .list(let outer) = u.root { XCTAssertEqual(outer.nestingDepth, n) } else { XCTFail() }
                innermost = innermostList(u.root)
                XCTAssertNotNil(innermost)
                XCTAssertTrue(u.root.description.contains("[[[[[[[[…]]]]]]]]"), u.root.description)
            }
        }
        XCTAssertNil(innermost, "everything was freed")
        // The same through hook-made containers (adopted into the arena).
        let hooks = PickleHooks(construct: { _, _, args, _ in .list(PickleList(args)) })
        var nested = proto()
        for _ in 0..<20_000 { nested += text("cm\nf\n") }
        nested += op(.emptyTuple)
        for _ in 0..<20_000 { nested += op(.tuple1) + op(.reduce) }
        nested += stop
        let u = try unpickle(nested, hooks: hooks, limits: limits)
        XCTAssertEqual(u.root.container?.nestingDepth, 20_001)
    }

    func testDeepeningAfterNestingIsCaughtAtTheEnd() {
        // A chain built top-down through the memo: every APPEND adds an empty list, so the
        // incremental depth never exceeds 2, but the final value is 3,000 deep.
        let n = 3_000
        var bytes = proto()
        for _ in 0..<n { bytes += op(.emptyList) + op(.memoize) + op(.pop) }
        for i in 0..<(n - 1) {
            bytes += op(.longBinget) + u32(UInt32(i)) + op(.longBinget) + u32(UInt32(i + 1)) + op(.append) + op(.pop)
        }
        bytes += op(.binget) + u8(0) + stop
        XCTAssertEqual(pickleError(bytes, limits: PickleLimits(maxNestingDepth: 1_000)),
                       .nestingTooDeep(limit: 1_000, offset: bytes.count - 1))
        XCTAssertNoThrow(try unpickle(bytes, limits: PickleLimits(maxNestingDepth: 3_000)))
    }

    func testOpcodeCountLimit() {
        let bytes = p4(op(.none), op(.pop), op(.none), op(.pop), op(.none))
        XCTAssertEqual(pickleError(bytes, limits: PickleLimits(maxOpcodes: 5)), .tooManyOpcodes(limit: 5, offset: 6))
        XCTAssertNoThrow(try unpickle(bytes, limits: PickleLimits(maxOpcodes: 7)))
    }

    func testMemoLimit() {
        var bytes = proto()
        for _ in 0..<11 { bytes += op(.none) + op(.memoize) + op(.pop) }
        bytes += op(.none) + stop
        guard case .tooManyMemoEntries(limit: 10, _)? = pickleError(bytes,
                                                                    limits: PickleLimits(maxMemoEntries: 10)) else {
            return XCTFail()
        }
        // Overwriting an index does not count again.
        var same = proto()
        for _ in 0..<100 { same += op(.none) + op(.binput) + u8(0) + op(.pop) }
        same += op(.none) + stop
        XCTAssertNoThrow(try unpickle(same, limits: PickleLimits(maxMemoEntries: 1)))
    }

    func testStackLimit() {
        let bytes = p4(B(repeating: PickleOpcode.none.rawValue, count: 100), op(.tuple3))
        XCTAssertEqual(pickleError(bytes, limits: PickleLimits(maxStackDepth: 50)),
                       .stackTooDeep(limit: 50, offset: 52))
        XCTAssertEqual(pickleError(p4(B(repeating: PickleOpcode.mark.rawValue, count: 100)),
                                   limits: PickleLimits(maxStackDepth: 50)),
                       .stackTooDeep(limit: 50, offset: 52))
    }

    func testMaterializedBytesLimit() {
        let bytes = p4(op(.shortBinbytes), u8(10), B(repeating: 1, count: 10), op(.shortBinbytes), u8(10),
                       B(repeating: 2, count: 10), op(.tuple2))
        XCTAssertEqual(pickleError(bytes, limits: PickleLimits(maxTotalBytes: 15)),
                       .tooManyBytes(limit: 15, offset: 14))
        XCTAssertNoThrow(try unpickle(bytes, limits: PickleLimits(maxTotalBytes: 20)))
    }

    func testSelfReferencingListDescription() throws {
        // l = []; l.append(l); l.append(l)  →  [[...], [...]]
        let bytes = p4(op(.emptyList), op(.memoize), op(.binget), u8(0), op(.append), op(.binget), u8(0), op(.append))
        let u = try unpickle(bytes)
        XCTAssertEqual(u.root.description, "[[...], [...]]")
        guard case .list(let l) = u.root else { return XCTFail() }
        XCTAssertEqual(l.nestingDepth, 1, "a self-reference is a cycle, not nesting")
        // Two lists containing each other, and a dict containing itself.
        let pair = p4(op(.emptyList), op(.memoize), op(.emptyList), op(.memoize), op(.binget), u8(0), op(.append),
                      op(.append))
        XCTAssertEqual(try unpickle(pair).root.description, "[[[...]]]")
        let dict = p4(op(.emptyDict), op(.memoize), sstr("me"), op(.binget), u8(0), op(.setitem))
        XCTAssertEqual(try unpickle(dict).root.description, "{'me': {...}}")
    }

    func testDescriptionOfWideCyclesIsBounded() throws {
        // A list holding itself 1,000 times: the cycle check prints each as [...].
        var cyclic = proto() + op(.emptyList) + op(.memoize) + op(.mark)
        for _ in 0..<1_000 { cyclic += op(.binget) + u8(0) }
        cyclic += op(.appends) + stop
        let c = try unpickle(cyclic).root.description
        XCTAssertTrue(c.hasPrefix("[[...], [...], "), c)
        XCTAssertTrue(c.hasSuffix("… (1000 items)]"), c)
        // Six levels of 1,000-wide sharing (a DAG, no cycle): 1000^6 paths, cut at maxLength.
        var wide = proto() + int(0)
        for level in 0..<6 {
            wide += op(.memoize) + op(.pop) + op(.emptyList) + op(.mark)
            for _ in 0..<1_000 { wide += op(.binget) + u8(UInt8(level)) }
            wide += op(.appends)
        }
        wide += stop
        let u = try unpickle(wide)
        let d = u.root.description
        XCTAssertLessThanOrEqual(d.utf8.count, 4096 + 3)
        XCTAssertTrue(d.hasSuffix("…"), d)
        XCTAssertEqual(u.root.container?.nestingDepth, 6)
    }

    func testKeysThatExpandExponentiallyAreRefused() {
        // t0 = (), t_k = (t_{k-1}, t_{k-1}): 2^40 leaves in 40 levels, used as a dict key.
        var bytes: [UInt8] = [0x80, 0x02, 0x7D, 0x29, 0x71, 0]        // PROTO 2, {}, (), BINPUT 0
        for level in 1...40 {
            bytes += [0x30, 0x68, UInt8(level - 1), 0x68, UInt8(level - 1), 0x86, 0x71,
                      UInt8(level)]  // POP, GET, GET, TUPLE2, PUT
        }
        bytes += [0x4E, 0x73, 0x2E]                                  // None, SETITEM, STOP
        XCTAssertThrowsError(try unpickle(bytes)) { error in
            guard case .unhashable(_, .setitem, "tuple")? = error as? PickleError else { return XCTFail("\(error)") }
        }
    }

    func testExtensionRegistryRefused() {
        XCTAssertEqual(pickleError(proto(2) + op(.ext1) + u8(7) + stop),
                       .extensionRegistry(offset: 2, opcode: .ext1, code: 7))
        XCTAssertEqual(pickleError(proto(2) + op(.ext2) + u16(300) + stop),
                       .extensionRegistry(offset: 2, opcode: .ext2, code: 300))
        XCTAssertEqual(pickleError(proto(2) + op(.ext4) + i32(70000) + stop),
                       .extensionRegistry(offset: 2, opcode: .ext4, code: 70000))
        XCTAssertTrue(PickleError.extensionRegistry(offset: 2, opcode: .ext1, code: 7).description.contains("EXT1"))
    }

    func testOutOfBandBuffersRefused() {
        XCTAssertEqual(pickleError(proto(5) + op(.nextBuffer) + stop), .outOfBandBuffer(offset: 2, opcode: .nextBuffer))
        XCTAssertEqual(pickleError(proto(5) + op(.readonlyBuffer) + stop),
                       .outOfBandBuffer(offset: 2, opcode: .readonlyBuffer))
    }

    func testResolveGlobalThrowingStopsTheLoad() {
        struct Refused: Error, Equatable { let name: String }
        var calls: [String] = []
        let hooks = PickleHooks(resolveGlobal: { g in
            calls.append(g.description)
            if g.module == "os" { throw Refused(name: g.description) }
        }, construct: { _, _, _, _ in
            XCTFail("nothing may be constructed after a refusal")
            return nil
        })
        let bytes = proto(2) + text("cbuiltins\nlist\n") + op(.pop) + text("cos\nsystem\n") + sstr("rm") + op(.tuple1)
            + op(.reduce) + stop
        XCTAssertThrowsError(try unpickle(bytes, hooks: hooks)) { error in
            XCTAssertEqual(error as? Refused, Refused(name: "os.system"))
        }
        XCTAssertEqual(calls, ["builtins.list", "os.system"])
        // STACK_GLOBAL and INST go through it too.
        calls = []
        XCTAssertThrowsError(try unpickle(p4(sstr("os"), sstr("getcwd"), op(.stackGlobal)), hooks: hooks))
        XCTAssertThrowsError(try unpickle(text("(ios\nsystem\n."), hooks: hooks))
        XCTAssertEqual(calls, ["os.getcwd", "os.system"])
    }

    func testPersistentIdWithoutALoader() {
        XCTAssertEqual(pickleError(p4(sstr("id"), op(.binpersid))), .persistentIDWithoutLoader(offset: 6))
        XCTAssertEqual(pickleError(text("Pabc\n.")), .persistentIDWithoutLoader(offset: 0))
        guard case .invalidString(_, .persid, _)? = pickleError([0x50, 0xE9, 0x0A, 0x2E],
                                                                hooks: PickleHooks(persistentLoad: { $0 })) else {
            return XCTFail("PERSID must be ASCII")
        }
    }

    func testBuildOnACustomValueWithoutAHook() {
        final class Box {}
        let hooks = PickleHooks(persistentLoad: { _ in .custom(Box()) })
        XCTAssertEqual(pickleError(p4(int(1), op(.binpersid), op(.emptyDict), op(.build)), hooks: hooks),
                       .buildWithoutHook(offset: 6))
    }

    func testErrorPathFreesThePartialGraph() {
        // A deep partial value and a cycle, then garbage: the error must not leak or recurse.
        final class Box {}
        weak var custom: Box?
        let hooks = PickleHooks(persistentLoad: { _ in
            let b = Box()
            custom = b
            return .custom(b)
        })
        var bytes = proto() + op(.emptyList) + op(.memoize) + op(.binget) + u8(0) + op(.append)
        bytes += op(.none) + op(.binpersid) + op(.append)
        bytes += B(repeating: PickleOpcode.emptyList.rawValue, count: 9_000)
        bytes += B(repeating: PickleOpcode.append.rawValue, count: 9_000)
        bytes += [0xFF]
        XCTAssertEqual(pickleError(bytes, hooks: hooks), .unknownOpcode(byte: 0xFF, offset: bytes.count - 1))
        XCTAssertNil(custom, "the hook's object was released with the partial graph")
    }

    func testEveryErrorHasAOneLineDescription() {
        let errors: [PickleError] = [
            .truncated(offset: 1, needed: 2, available: 0), .lengthOverflow(offset: 0, opcode: .binbytes8, length: 1),
            .negativeLength(offset: 0, opcode: .long4, length: -1),
            .frameExceedsInput(offset: 0, length: 9, available: 1),
            .unknownOpcode(byte: 0, offset: 0), .unsupportedProtocol(9, offset: 0),
            .malformed(offset: 0, opcode: .int, reason: "x"), .invalidString(offset: 0, opcode: .unicode, reason: "x"),
            .stackUnderflow(offset: 0, opcode: .stop), .markMissing(offset: 0, opcode: .tuple),
            .memoMissing(index: 1, offset: 0),
            .wrongType(offset: 0, opcode: .append, expected: "list", found: "int"),
            .notCallable(offset: 0, opcode: .reduce, found: "int"),
            .unhashable(offset: 0, opcode: .setitem, found: "list"), .cannotBuild(offset: 0, found: "int"),
            .buildWithoutHook(offset: 0), .persistentIDWithoutLoader(offset: 0),
            .extensionRegistry(offset: 0, opcode: .ext1, code: 1), .outOfBandBuffer(offset: 0, opcode: .nextBuffer),
            .tooManyOpcodes(limit: 1, offset: 0), .stackTooDeep(limit: 1, offset: 0),
            .tooManyMemoEntries(limit: 1, offset: 0),
            .tooManyBytes(limit: 1, offset: 0), .nestingTooDeep(limit: 1, offset: 0),
        ]
        for e in errors {
            XCTAssertFalse(e.description.isEmpty)
            XCTAssertFalse(e.description.contains("\n"))
        }
    }
}
