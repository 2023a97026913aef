import XCTest
@testable import PTPickle

/// Opcode semantics on hand-written pickles.
final class OpcodeTests: XCTestCase {
    func root(_ bytes: B, hooks: PickleHooks = PickleHooks(), file: StaticString = #filePath,
              line: UInt = #line) -> PickleValue? {
        do {
            return try unpickle(bytes, hooks: hooks).root
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func testOpcodeRawValuesAreTheBytes() {
        XCTAssertEqual(PickleOpcode.allCases.count, 68)
        XCTAssertEqual(PickleOpcode(rawValue: UInt8(ascii: "(")), .mark)
        XCTAssertEqual(PickleOpcode(rawValue: UInt8(ascii: "c")), .global)
        XCTAssertEqual(PickleOpcode(rawValue: 0x95), .frame)
        XCTAssertEqual(PickleOpcode.shortBinunicode.name, "SHORT_BINUNICODE")
        XCTAssertEqual(PickleOpcode.newobjEx.name, "NEWOBJ_EX")
        XCTAssertEqual(PickleOpcode.binint1.name, "BININT1")
        XCTAssertEqual(PickleOpcode.readonlyBuffer.name, "READONLY_BUFFER")
        XCTAssertEqual(PickleOpcode.bytearray8.protocolIntroduced, 5)
    }

    func testProtocol0IntBooleansAndText() {
        XCTAssertEqual(root(text("I01\n."))?.boolValue, true)
        XCTAssertEqual(root(text("I00\n."))?.boolValue, false)
        XCTAssertEqual(root(text("I0\n."))?.intValue, 0)
        XCTAssertEqual(root(text("I000\n."))?.intValue, 0)
        XCTAssertEqual(root(text("I-42\n."))?.intValue, -42)
        XCTAssertEqual(root(text("I 7 \n."))?.intValue, 7, "python's int() strips whitespace")
        XCTAssertEqual(root(text("I9223372036854775807\n."))?.intValue, Int64.max)
        XCTAssertEqual(root(text("I-9223372036854775808\n."))?.intValue, Int64.min)
        guard case .bigInt(let b)? = root(text("I9223372036854775808\n.")) else { return XCTFail() }
        XCTAssertEqual(b.decimalString, "9223372036854775808")
        XCTAssertEqual(b.bytes, [0, 0, 0, 0, 0, 0, 0, 0x80, 0])
        for bad in ["I\n.", "I12a\n.", "I010\n.", "I0x10\n.", "I1_000\n.", "I--1\n."] {
            guard case .malformed(offset: 0, opcode: .int, _)? = pickleError(text(bad)) else {
                return XCTFail("\(bad) should be malformed")
            }
        }
    }

    func testProtocol0Long() {
        XCTAssertEqual(root(text("L5L\n."))?.intValue, 5)
        XCTAssertEqual(root(text("L-5\n."))?.intValue, -5, "the L is optional in python 3")
        guard case .bigInt(let b)? = root(text("L-1267650600228229401496703205376L\n.")) else { return XCTFail() }
        XCTAssertEqual(b.decimalString, "-1267650600228229401496703205376")
        XCTAssertTrue(b.isNegative)
        let digits = String(repeating: "9", count: 4300)
        guard case .bigInt(let big)? = root(text("L\(digits)L\n.")) else { return XCTFail() }
        XCTAssertEqual(big.decimalString, digits)
        guard case .malformed(_, .long, let reason)? = pickleError(text("L\(digits)9L\n.")) else { return XCTFail() }
        XCTAssertTrue(reason.contains("4300"))
        guard case .malformed? = pickleError(text("LL\n.")) else { return XCTFail() }
    }

    func testLong1AndLong4AreSignedLittleEndian() {
        XCTAssertEqual(root(proto(2) + op(.long1) + u8(0) + stop)?.intValue, 0)
        XCTAssertEqual(root(proto(2) + op(.long1) + u8(1) + [0xFF] + stop)?.intValue, -1)
        XCTAssertEqual(root(proto(2) + op(.long1) + u8(2) + [0xFF, 0x00] + stop)?.intValue, 255)
        XCTAssertEqual(root(proto(2) + op(.long1) + u8(2) + [0x00, 0x80] + stop)?.intValue, -32768)
        // Redundant sign bytes normalize away.
        XCTAssertEqual(root(proto(2) + op(.long1) + u8(12) + [0xFE] + B(repeating: 0xFF, count: 11) + stop)?.intValue,
                       -2)
        XCTAssertEqual(root(proto(2) + op(.long4) + i32(3) + [1, 0, 0] + stop)?.intValue, 1)
        guard case .bigInt(let b)? = root(proto(2) + op(.long1) + u8(9) + B(repeating: 0, count: 8) + [0x01] + stop)
        else { return XCTFail() }
        XCTAssertEqual(b.decimalString, "18446744073709551616")
        guard case .bigInt(let n)? = root(proto(2) + op(.long4) + i32(9) + B(repeating: 0, count: 8) + [0xFF] + stop)
        else { return XCTFail() }
        XCTAssertEqual(n.decimalString, "-18446744073709551616")
    }

    func testFloats() {
        let bits = (1.5).bitPattern.bigEndian
        let be = withUnsafeBytes(of: bits, Array.init)
        XCTAssertEqual(root(op(.binfloat) + be + stop)?.doubleValue, 1.5, "BINFLOAT is big-endian")
        XCTAssertEqual(root(text("F-2.5e3\n."))?.doubleValue, -2500)
        XCTAssertEqual(root(text("F.5\n."))?.doubleValue, 0.5)
        XCTAssertEqual(root(text("F1.\n."))?.doubleValue, 1.0)
        XCTAssertEqual(root(text("Finf\n."))?.doubleValue, .infinity)
        XCTAssertEqual(root(text("F-Infinity\n."))?.doubleValue, -.infinity)
        XCTAssertTrue(root(text("Fnan\n."))?.doubleValue?.isNaN ?? false)
        XCTAssertEqual(root(text("F-0.0\n."))?.doubleValue?.sign, .minus)
        XCTAssertEqual(root(text("F0.1\n."))?.doubleValue, 0.1)
        for bad in ["F\n.", "F1e\n.", "Fabc\n.", "F0x1p3\n.", "F1.5.\n."] {
            guard case .malformed(_, .float, _)? = pickleError(text(bad)) else { return XCTFail(bad) }
        }
    }

    func testStringEscapesAndLatin1() {
        XCTAssertEqual(root(text("S'a\\nb\\tc\\\\d\\'e'\n."))?.stringValue, "a\nb\tc\\d'e")
        XCTAssertEqual(root(text("S\"it's\"\n."))?.stringValue, "it's")
        XCTAssertEqual(root(text("S'\\x41\\101\\0\\777'\n."))?.stringValue, "AA\u{0}\u{FF}")
        XCTAssertEqual(root(text("S'\\q'\n."))?.stringValue, "\\q", "unknown escapes are kept")
        guard case .malformed(_, .string, _)? = pickleError(text("S'a\\\nb'\n.")) else {
            return XCTFail("a backslash-newline ends the line: the quote is missing")
        }
        XCTAssertEqual(root(B(text("S'\u{0}")) + [0xE9, 0xFF] + text("'\n."))?.stringValue, "\u{0}\u{E9}\u{FF}")
        XCTAssertEqual(root(op(.shortBinstring) + u8(2) + [0xE9, 0x41] + stop)?.stringValue, "\u{E9}A")
        XCTAssertEqual(root(op(.binstring) + i32(1) + [0xFF] + stop)?.stringValue, "\u{FF}")
        for bad in ["S'abc\n.", "Sabc\n.", "S'\n.", "S'abc\"\n.", "S'\\x4'\n.", "S'\\'\n."] {
            guard case .malformed(_, .string, _)? = pickleError(text(bad)) else { return XCTFail(bad) }
        }
        XCTAssertEqual(pickleError(op(.binstring) + i32(-1) + stop),
                       .negativeLength(offset: 0, opcode: .binstring, length: -1))
    }

    func testUnicodeRawEscape() {
        XCTAssertEqual(root(text("Vx\\u00e9\\U0001F600\n."))?.stringValue, "xé😀")
        XCTAssertEqual(root(text("V\\\\u0041\n."))?.stringValue, "\\\\u0041", "an even backslash run is literal")
        XCTAssertEqual(root(text("V\\\\\\u0041\n."))?.stringValue, "\\\\A")
        XCTAssertEqual(root(text("V\\x41\n."))?.stringValue, "\\x41", "only u/U escapes exist")
        XCTAssertEqual(root(text("V\\ud83d\\ude00\n."))?.stringValue, "😀", "a surrogate pair is joined")
        XCTAssertEqual(root([0x56, 0xE9, 0x0A, 0x2E])?.stringValue, "é", "other bytes are latin-1")
        guard case .invalidString(_, .unicode, _)? = pickleError(text("V\\u12\n.")) else { return XCTFail() }
        guard case .invalidString(_, .unicode, _)? = pickleError(text("V\\U00110000\n.")) else { return XCTFail() }
        guard case .invalidString(_, .unicode, let r)? = pickleError(text("V\\ud800\n.")) else { return XCTFail() }
        XCTAssertTrue(r.contains("surrogate"))
    }

    func testUTF8WithSurrogatepass() {
        XCTAssertEqual(root(op(.binunicode) + u32(4) + text("日x") + stop)?.stringValue, "日x")
        // CESU-8 style surrogate pair (python's 'surrogatepass' writes these for lone surrogates).
        XCTAssertEqual(root(op(.shortBinunicode) + u8(6) + [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80] + stop)?.stringValue,
                       "😀")
        guard case .invalidString(_, .shortBinunicode, _)? = pickleError(
            op(.shortBinunicode) + u8(3) + [0xED, 0xA0, 0x80] + stop)
        else { return XCTFail("lone surrogate") }
        for bad: B in [[0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE6, 0x97], [0x80]] {
            guard case .invalidString(_, .shortBinunicode, _)? = pickleError(
                op(.shortBinunicode) + u8(UInt8(bad.count)) + bad + stop)
            else { return XCTFail("\(bad)") }
        }
        XCTAssertEqual(root(proto() + op(.binunicode8) + u64(1) + text("z") + stop)?.stringValue, "z")
    }

    func testBytes() {
        guard case .bytes(let a)? = root(proto(3) + op(.shortBinbytes) + u8(2) + [1, 2] + stop),
              case .bytes(let b)? = root(proto(3) + op(.binbytes) + u32(1) + [9] + stop),
              case .bytes(let c)? = root(proto(4) + op(.binbytes8) + u64(0) + stop),
              case .bytes(let d)? = root(proto(5) + op(.bytearray8) + u64(3) + [7, 8, 9] + stop) else {
            return XCTFail()
        }
        XCTAssertEqual(a.bytes, [1, 2])
        XCTAssertEqual(b.bytes, [9])
        XCTAssertEqual(c.bytes, [])
        XCTAssertFalse(c.isByteArray)
        XCTAssertEqual(d.bytes, [7, 8, 9])
        XCTAssertTrue(d.isByteArray)
    }

    func testTuplesOfEverySize() {
        XCTAssertEqual(root(p4(op(.emptyTuple)))?.tupleItems?.count, 0)
        XCTAssertEqual(root(p4(int(1), op(.tuple1)))?.tupleItems?.map(\.intValue), [1])
        XCTAssertEqual(root(p4(int(1), int(2), op(.tuple2)))?.tupleItems?.map(\.intValue), [1, 2])
        XCTAssertEqual(root(p4(int(1), int(2), int(3), op(.tuple3)))?.tupleItems?.map(\.intValue), [1, 2, 3])
        XCTAssertEqual(root(p4(op(.mark), int(1), int(2), int(3), int(4), op(.tuple)))?.tupleItems?.map(\.intValue),
                       [1, 2, 3, 4])
        XCTAssertEqual(root(text("(I1\nt."))?.tupleItems?.map(\.intValue), [1])
    }

    func testDictSemantics() throws {
        // Later writes win but keep the first position; 1, 1.0 and True are one key.
        let bytes = p4(op(.emptyDict), op(.mark),
                       sstr("a"), int(1), int(1), sstr("one"), sstr("b"), int(2),
                       sstr("a"), int(3), op(.newtrue), sstr("true"),
                       op(.binfloat), withUnsafeBytes(of: (1.0).bitPattern.bigEndian, Array.init), sstr("float"),
                       op(.setitems))
        guard case .dict(let d)? = root(bytes) else { return XCTFail() }
        XCTAssertEqual(d.items.count, 3)
        XCTAssertEqual(d.items.map(\.key.kindName), ["str", "int", "str"])
        XCTAssertEqual(d.value(forStringKey: "a")?.intValue, 3)
        XCTAssertEqual(d.value(forKey: .int(1))?.stringValue, "float")
        XCTAssertEqual(d.value(forKey: .bool(true))?.stringValue, "float")
        XCTAssertEqual(d.value(forKey: .float(1.0))?.stringValue, "float")
        XCTAssertNil(d.value(forStringKey: "zzz"))
        // DICT (protocol 0/1) and SETITEM.
        guard case .dict(let d2)? = root(text("(S'k'\nI1\nS'k'\nI2\ndS'j'\nI3\ns.")) else { return XCTFail() }
        XCTAssertEqual(d2.items.count, 2)
        XCTAssertEqual(d2.value(forStringKey: "k")?.intValue, 2)
        XCTAssertEqual(d2.value(forStringKey: "j")?.intValue, 3)
        // Tuple and None keys; NaN keys never match, even themselves.
        guard case .dict(let d3)? = root(p4(op(.emptyDict), op(.mark),
                                            int(1), int(2), op(.tuple2), sstr("t"),
                                            op(.none), sstr("n"),
                                            text("Fnan\n"), int(1), text("Fnan\n"), int(2),
                                            op(.setitems))) else { return XCTFail() }
        XCTAssertEqual(d3.items.count, 4)
        XCTAssertEqual(d3.value(forKey: .tuple(PickleTuple([.int(1), .int(2)])))?.stringValue, "t")
        XCTAssertEqual(d3.value(forKey: .none)?.stringValue, "n")
        XCTAssertNil(d3.value(forKey: .float(.nan)))
        // Odd item counts.
        guard case .malformed(_, .setitems, _)? = pickleError(p4(op(.emptyDict), op(.mark), int(1), op(.setitems)))
        else { return XCTFail() }
        guard case .malformed(_, .dict, _)? = pickleError(p4(op(.mark), int(1), op(.dict))) else { return XCTFail() }
    }

    func testUnhashableKeys() {
        XCTAssertEqual(pickleError(p4(op(.emptyDict), op(.emptyList), int(1), op(.setitem))),
                       .unhashable(offset: 6, opcode: .setitem, found: "list"))
        guard case .unhashable(_, .additems, "dict")? = pickleError(
            p4(op(.emptySet), op(.mark), op(.emptyDict), op(.additems)))
        else { return XCTFail() }
        guard case .unhashable(_, .frozenset, "tuple")? = pickleError(
            p4(op(.mark), op(.emptyList), op(.tuple1), op(.frozenset)))
        else { return XCTFail() }
    }

    func testSets() {
        guard case .set(let s)? = root(p4(op(.emptySet), op(.mark), int(3), int(1), int(3), op(.additems),
                                          op(.mark), int(2), op(.additems))) else { return XCTFail() }
        XCTAssertFalse(s.isFrozen)
        XCTAssertEqual(s.items.map(\.intValue), [3, 1, 2])
        XCTAssertTrue(s.contains(.float(2.0)))
        guard case .set(let f)? = root(p4(op(.mark), int(5), int(5), op(.frozenset))) else { return XCTFail() }
        XCTAssertTrue(f.isFrozen)
        XCTAssertEqual(f.count, 1)
        guard case .wrongType(_, .additems, "set", "frozenset")? = pickleError(
            p4(op(.mark), op(.frozenset), op(.mark), int(1), op(.additems)))
        else { return XCTFail("ADDITEMS on a frozenset") }
    }

    func testStackOpcodes() {
        // POP with an empty frame pops the mark (python does this).
        XCTAssertEqual(root(p4(int(1), op(.mark), op(.pop)))?.intValue, 1)
        XCTAssertEqual(root(p4(int(1), int(2), op(.pop)))?.intValue, 1)
        XCTAssertEqual(root(p4(int(1), op(.mark), int(2), int(3), op(.popMark)))?.intValue, 1)
        guard case .tuple(let t)? = root(p4(int(7), op(.dup), op(.tuple2))) else { return XCTFail() }
        XCTAssertEqual(t.items.map(\.intValue), [7, 7])
        // Values below a mark are out of reach.
        XCTAssertEqual(pickleError(p4(int(1), op(.mark), op(.dup))), .stackUnderflow(offset: 5, opcode: .dup))
        XCTAssertEqual(pickleError(p4(int(1), op(.mark))), .stackUnderflow(offset: 5, opcode: .stop))
        XCTAssertEqual(pickleError(p4(op(.pop))), .stackUnderflow(offset: 2, opcode: .pop))
    }

    func testMemoSharesMutableContainers() {
        // l = []; d = {'a': l, 'b': l}; l.append(1) after both references exist.
        guard case .dict(let d)? = root(p4(op(.emptyDict), op(.memoize), op(.emptyList), op(.memoize), op(.pop),
                                           sstr("a"), op(.binget), u8(1), op(.setitem),
                                           sstr("b"), op(.binget), u8(1), op(.setitem),
                                           op(.binget), u8(1), int(1), op(.append), op(.pop))) else { return XCTFail() }
        guard case .list(let a)? = d.value(forStringKey: "a"), case .list(let b)? = d.value(forStringKey: "b") else {
            return XCTFail()
        }
        XCTAssertTrue(a === b)
        XCTAssertEqual(b.items.map(\.intValue), [1])
        // Text PUT/GET, LONG_BINPUT with a sparse index, overwriting an index.
        XCTAssertEqual(root(text("I5\np7\n0g7\n."))?.intValue, 5)
        XCTAssertEqual(root(p4(int(5), op(.longBinput), u32(4_000_000_000), op(.pop), op(.longBinget),
                               u32(4_000_000_000)))?.intValue, 5)
        XCTAssertEqual(root(p4(int(5), op(.binput), u8(0), int(6), op(.binput), u8(0), op(.binget), u8(0)))?.intValue,
                       6)
        // MEMOIZE uses the memo's size: after a sparse entry, the next index is 1.
        XCTAssertEqual(root(p4(int(5), op(.longBinput), u32(99), int(6), op(.memoize), op(.binget), u8(1)))?.intValue,
                       6)
        guard case .malformed(_, .put, _)? = pickleError(text("I1\np-1\n.")) else { return XCTFail() }
        guard case .malformed(_, .get, _)? = pickleError(text("gx\n.")) else { return XCTFail() }
        XCTAssertEqual(pickleError(p4(op(.memoize))), .stackUnderflow(offset: 2, opcode: .memoize))
    }

    func testGlobalsAndStackGlobal() throws {
        let u = try unpickle(p4(sstr("collections"), sstr("OrderedDict"), op(.stackGlobal),
                                text("cos\nsystem\n"), op(.tuple2)))
        XCTAssertEqual(u.root.tupleItems?.compactMap(\.globalValue).map(\.description),
                       ["collections.OrderedDict", "os.system"])
        XCTAssertEqual(u.globals.map(\.description), ["collections.OrderedDict", "os.system"])
        XCTAssertEqual(u.protocol, 4)
        XCTAssertEqual(pickleError(p4(int(1), sstr("x"), op(.stackGlobal))),
                       .wrongType(offset: 7, opcode: .stackGlobal, expected: "two str (module, name)",
                                  found: "int, str"))
        guard case .malformed(_, .global, _)? = pickleError(text("c\nx\n.")) else { return XCTFail() }
        guard case .invalidString(_, .global, _)? = pickleError([0x63, 0xFF, 0x0A, 0x78, 0x0A, 0x2E]) else {
            return XCTFail()
        }
    }

    func testReduceNewobjNewobjExInstObjAreOpaque() throws {
        let g = text("cmod\nF\n")
        guard case .object(let r)? = root(proto(2) + g + int(1) + op(.tuple1) + op(.reduce) + stop) else {
            return XCTFail()
        }
        XCTAssertEqual(r.kind, .reduce)
        XCTAssertEqual(r.callable, PickleGlobal(module: "mod", name: "F"))
        XCTAssertEqual(r.args.map(\.intValue), [1])
        guard case .object(let n)? = root(proto(2) + g + op(.emptyTuple) + op(.newobj) + stop) else { return XCTFail() }
        XCTAssertEqual(n.kind, .newobj)
        XCTAssertTrue(n.args.isEmpty)
        guard case .object(let x)? = root(p4(g, int(2), op(.tuple1), op(.emptyDict), sstr("k"), int(3), op(.setitem),
                                             op(.newobjEx)))
        else { return XCTFail() }
        XCTAssertEqual(x.kind, .newobjEx)
        guard case .dict(let kw)? = x.kwargs else { return XCTFail() }
        XCTAssertEqual(kw.value(forStringKey: "k")?.intValue, 3)
        guard case .object(let i)? = root(text("(I1\nimod\nC\n.")) else { return XCTFail() }
        XCTAssertEqual(i.kind, .inst)
        XCTAssertEqual(i.callable.description, "mod.C")
        XCTAssertEqual(i.args.map(\.intValue), [1])
        guard case .object(let o)? = root(op(.mark) + g + int(4) + op(.obj) + stop) else { return XCTFail() }
        XCTAssertEqual(o.kind, .obj)
        XCTAssertEqual(o.args.map(\.intValue), [4])
        // BUILD twice with dict states merges; APPEND/SETITEM on an opaque object record the calls.
        guard case .object(let b)? = root(proto(2) + g + op(.emptyTuple) + op(.newobj)
                                           + op(.emptyDict) + sstr("a") + int(1) + op(.setitem) + op(.build)
                                           + op(.emptyDict) + sstr("b") + int(2) + op(.setitem) + op(.build)
                                           + int(9) + op(.append) + sstr("k") + int(8) + op(.setitem) + stop)
        else { return XCTFail() }
        guard case .dict(let state)? = b.state else { return XCTFail() }
        XCTAssertEqual(state.items.map(\.key.stringValue), ["a", "b"])
        XCTAssertEqual(b.listItems.map(\.intValue), [9])
        XCTAssertEqual(b.dictItems.map(\.value.intValue), [8])
        // Wrong shapes.
        XCTAssertEqual(pickleError(proto(2) + g + int(1) + op(.reduce) + stop),
                       .wrongType(offset: 11, opcode: .reduce, expected: "an argument tuple", found: "int"))
        XCTAssertEqual(pickleError(proto(2) + int(1) + op(.emptyTuple) + op(.reduce) + stop),
                       .notCallable(offset: 5, opcode: .reduce, found: "int"))
        XCTAssertEqual(pickleError(proto(2) + g + op(.emptyTuple) + op(.reduce) + op(.emptyTuple) + op(.reduce) + stop),
                       .notCallable(offset: 12, opcode: .reduce, found: "mod.F object"))
        guard case .wrongType(_, .newobjEx, "a kwargs dict", "int")? = pickleError(
            p4(g, op(.emptyTuple), int(1), op(.newobjEx)))
        else { return XCTFail() }
        XCTAssertEqual(pickleError(op(.mark) + op(.obj) + stop), .stackUnderflow(offset: 1, opcode: .obj))
        XCTAssertEqual(pickleError(p4(int(1), int(2), op(.build))), .cannotBuild(offset: 6, found: "int"))
        XCTAssertEqual(pickleError(p4(int(1), int(2), op(.append))),
                       .wrongType(offset: 6, opcode: .append, expected: "list", found: "int"))
        XCTAssertEqual(pickleError(p4(op(.emptyList), int(1), int(2), op(.setitem))),
                       .wrongType(offset: 7, opcode: .setitem, expected: "dict", found: "list"))
    }

    func testFramesMustTellTheTruth() {
        // A correct frame; one that an opcode crosses (CPython reads on; ptload refuses); one
        // inside another; an oversized one.
        let body = int(1) + op(.stop)
        XCTAssertEqual(root(proto() + op(.frame) + u64(UInt64(body.count)) + body)?.intValue, 1)
        XCTAssertEqual(root(proto() + op(.frame) + u64(2) + int(1) + op(.frame) + u64(1) + op(.stop))?.intValue, 1)
        XCTAssertEqual(pickleError(proto() + op(.frame) + u64(1) + body),
                       .frameOverrun(offset: 11, opcode: .binint1, frameEnd: 12))
        XCTAssertEqual(pickleError(proto() + op(.frame) + u64(12) + op(.frame) + u64(1) + body),
                       .frameInsideFrame(offset: 11, frameEnd: 23))
        XCTAssertEqual(pickleError(proto() + op(.frame) + u64(100) + body),
                       .frameExceedsInput(offset: 2, length: 100, available: 3))
        XCTAssertEqual(pickleError(proto() + op(.frame) + u64(.max) + body),
                       .frameExceedsInput(offset: 2, length: .max, available: 3))
    }

    func testProtocolDetection() throws {
        XCTAssertEqual(try unpickle(text("I1\n.")).protocol, 0)
        XCTAssertEqual(try unpickle(op(.emptyList) + stop).protocol, 1)
        XCTAssertEqual(try unpickle(op(.newtrue) + stop).protocol, 2, "no PROTO: the highest opcode protocol")
        XCTAssertEqual(try unpickle(proto(3) + op(.newtrue) + stop).protocol, 3)
        XCTAssertEqual(try unpickle(proto(0) + op(.emptyList) + stop).protocol, 0, "PROTO wins")
        XCTAssertEqual(pickleError(proto(6) + op(.none) + stop), .unsupportedProtocol(6, offset: 0))
        XCTAssertEqual(pickleError(op(.none) + op(.pop) + proto(2) + op(.none) + stop), .lateProto(offset: 2))
        XCTAssertEqual(pickleError(proto(2) + proto(2) + op(.none) + stop), .lateProto(offset: 2))
    }

    func testBytesConsumedStopsAtStop() throws {
        let u = try unpickle(p4(int(1)) + [0xFF, 0xFF])
        XCTAssertEqual(u.bytesConsumed, 5)
    }

    func testDescriptionIsPythonLike() throws {
        let u = try unpickle(try fixtureBytes("proto4.pkl"), hooks: pythonLikeHooks())
        let d = u.root.describe(maxItems: 100, maxLength: 100_000)
        XCTAssertTrue(d.hasPrefix("{'none': None, 'true': True, 'false': False, 'ints': [0, 1, -1"), d)
        XCTAssertTrue(d.contains("-1267650600228229401496703205376"), d)
        XCTAssertTrue(d.contains("nan, inf, -inf"), d)
        XCTAssertLessThanOrEqual(u.root.describe(maxLength: 100).count, 101)
        XCTAssertEqual(PickleValue.tuple(PickleTuple([.int(1)])).description, "(1,)")
        XCTAssertEqual(PickleValue.bytes(PickleBytes([0x41, 0x00, 0x27])).description, "b'A\\x00\\''")
        XCTAssertEqual(PickleValue.string("a'b\n").description, "'a\\'b\\n'")
        XCTAssertEqual(PickleValue.set(PickleSet(isFrozen: true)).description, "frozenset()")
        XCTAssertEqual(PickleGlobal(module: "torch._utils", name: "_rebuild_tensor_v2").description,
                       "torch._utils._rebuild_tensor_v2")
    }
}
