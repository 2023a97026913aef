import PTNumpy
import PTTensor
import XCTest

/// `.npy` images built byte by byte, each wrong in one way, each refused with one exact error.
final class HostileNpyTests: NumpyTestCase {
    private let sixFloats = [UInt8](repeating: 0, count: 24)

    /// Where `token` first occurs in `header`, in bytes.
    private func offset(of token: String, in header: String) -> Int {
        guard let range = header.range(of: token) else { return -1 }
        return header.utf8.distance(from: header.startIndex, to: range.lowerBound)
    }

    // MARK: preamble

    func testBadMagic() {
        assertRefused(Array("\u{93}NUMPZ".utf8) + [1, 0, 0, 0], .badMagic(found: [0xC2, 0x93, 0x4E, 0x55, 0x4D, 0x50]))
        var zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
        zip += [UInt8](repeating: 0, count: 40)
        assertRefused(zip, .badMagic(found: [0x50, 0x4B, 0x03, 0x04, 0x00, 0x00]))
        assertRefused([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x5A, 1, 0],
                      .badMagic(found: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x5A]))
        assertRefused([0x00], .badMagic(found: [0x00]))
    }

    func testEmptyAndTruncatedPreamble() {
        assertRefused([], .truncatedPreamble(needed: 8, available: 0))
        assertRefused([0x93, 0x4E], .truncatedPreamble(needed: 8, available: 2))
        assertRefused([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0x76], .truncatedPreamble(needed: 10, available: 9))
        assertRefused([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0x76, 0, 0],
                      .truncatedPreamble(needed: 12, available: 11))
    }

    func testUnsupportedVersion() {
        let image = npy(header(shape: "(2, 3)"), version: (9, 9), data: sixFloats)
        assertRefused(image, .unsupportedVersion(major: 9, minor: 9))
        assertRefused(npy(header(shape: "(2, 3)"), version: (1, 1), data: sixFloats),
                      .unsupportedVersion(major: 1, minor: 1))
        assertRefused(npy(header(shape: "(2, 3)"), version: (0, 0), data: sixFloats),
                      .unsupportedVersion(major: 0, minor: 0))
    }

    func testHeaderOf10001BytesIsRefusedBeforeReadingIt() {
        let text = header(shape: "(2, 3)")
        let padded = text + String(repeating: " ", count: 10_001 - text.utf8.count)
        assertRefused(npy(padded, data: sixFloats), .headerTooLarge(declared: 10_001, limit: 10_000))
        // The limit is checked before the header's extent: nothing follows these length fields.
        assertRefused([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0xFF, 0xFF],
                      .headerTooLarge(declared: 65_535, limit: 10_000))
        assertRefused([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF],
                      .headerTooLarge(declared: 4_294_967_295, limit: 10_000))
    }

    func testHeaderOfExactly10000BytesIsRead() throws {
        let text = header(shape: "(2, 3)")
        let padded = text + String(repeating: " ", count: 9_999 - text.utf8.count) + "\n"
        let tensor = try read(npy(padded, version: (2, 0), data: sixFloats))
        XCTAssertEqual(tensor.shape, [2, 3])
    }

    func testTruncatedHeader() {
        let text = header(shape: "(2, 3)")
        let image = npy(text)
        assertRefused(Array(image.dropLast(10)),
                      .truncatedHeader(declared: text.utf8.count, available: text.utf8.count - 10))
    }

    // MARK: header syntax

    func testNonLiteralHeaderCallIsRefused() {
        let text = "{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,), }"
        assertRefused(npy(text, data: [0, 0, 0, 0]),
                      .nonLiteralHeader(offset: 10, expected: "a literal value (a name is not one)",
                                        found: "'__import__'"))
    }

    func testNonLiteralHeaderVariants() {
        let cases: [(String, String, String, String)] = [
            // header, token located, expected, found
            (header(shape: "(2*3,)"), "*", "',' or ')'", "'*'"),
            (header(shape: "(1.5,)"), "1.5", "a decimal integer", "'1.5'"),
            (header(shape: "(0x10,)"), "0x10", "a decimal integer", "'0x10'"),
            (header(shape: "(1_000,)"), "1_000", "a decimal integer", "'1_000'"),
            (header(shape: "(02,)"), "02", "a decimal integer without leading zeros", "'02'"),
            (header(shape: "(+2,)"), "+", "a value", "'+'"),
            (header(descr: "b'<f4'", shape: "(1,)"), "b'", "a literal value (a name is not one)", "'b'"),
            (header(descr: "'<f\\x34'", shape: "(1,)"), "\\", "a string without backslash escapes", "'\\\\'"),
            (header(descr: "'<f4", shape: "(1,)").replacingOccurrences(of: "'<f4,", with: "'<f4\n,"), "\n",
             "the closing quote", "a line break"),
            (header(descr: "'<' 'f4'", shape: "(1,)"), "'f4'", "',' or '}'", "\"'\""),
            (header(shape: "(1,)") + " # comment", "#", "the end of the header", "'#'"),
            (header(shape: "(1,)") + " {}", "{}", "the end of the header", "'{'"),
            (header(fortran: "false", shape: "(1,)"), "false", "a literal value (a name is not one)", "'false'"),
            (header(shape: "np.int64(2)"), "np.", "a literal value (a name is not one)", "'np.int64'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape' (1,)}", " (1", "':'", "'('"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "", "',' or '}'", "the end of the header"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\u{a0}", "\u{a0}", "the end of the header",
             "byte 0xc2"),
        ]
        for (text, token, expected, found) in cases {
            var at = token.isEmpty ? text.utf8.count : offset(of: token, in: text)
            if token == " (1" { at += 1 }
            assertRefused(npy(text, data: [0, 0, 0, 0]),
                          .nonLiteralHeader(offset: at, expected: expected, found: found))
        }
    }

    func testNestingDeeperThan32LevelsIsRefused() throws {
        // The dict is level 1, so 31 parentheses are the most a shape can have; `((()))` is `()`.
        let deepest = String(repeating: "(", count: 31) + String(repeating: ")", count: 31)
        XCTAssertEqual(try read(npy(header(shape: deepest), data: [0, 0, 0, 0])).shape, [])
        let tooDeep = header(shape: String(repeating: "(", count: 32) + String(repeating: ")", count: 32))
        assertRefused(npy(tooDeep, data: [0, 0, 0, 0]),
                      .nonLiteralHeader(offset: offset(of: "(", in: tooDeep) + 31,
                                        expected: "at most 32 levels of nesting", found: "'('"))
    }

    func testHeaderMustBeADict() {
        assertRefused(npy("('<f4', False, (1,))", data: [0, 0, 0, 0]),
                      .headerNotADict(found: "('<f4', False, (1,))"))
        assertRefused(npy("[]"), .headerNotADict(found: "[]"))
        assertRefused(npy("   "), .nonLiteralHeader(offset: 3, expected: "a value", found: "the end of the header"))
    }

    func testMissingExtraAndDuplicateKeys() {
        assertRefused(npy("{'descr': '<f4', 'shape': (2, 3), }", data: sixFloats),
                      .wrongHeaderKeys(found: ["'descr'", "'shape'"]))
        assertRefused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", data: sixFloats),
                      .wrongHeaderKeys(found: ["'descr'", "'fortran_order'", "'shape'", "'extra'"]))
        assertRefused(npy("{'descr': '<f4', 'descr': '<f4', 'shape': (2, 3)}", data: sixFloats),
                      .wrongHeaderKeys(found: ["'descr'", "'descr'", "'shape'"]))
        assertRefused(npy("{'descr': '<f4', 'fortran_order': False, 1: (2, 3)}", data: sixFloats),
                      .wrongHeaderKeys(found: ["'descr'", "'fortran_order'", "1"]))
        assertRefused(npy("{}"), .wrongHeaderKeys(found: []))
    }

    // MARK: header values

    func testObjectArraysAreRefused() {
        assertRefused(npy(header(descr: "'|O8'", shape: "(2,)"), data: [UInt8](repeating: 0, count: 16)),
                      .objectArray(descr: "'|O8'"))
        assertRefused(npy(header(descr: "'|O'", shape: "(1,)"), data: [0x80, 0x04]),
                      .objectArray(descr: "'|O'"))
    }

    func testStructuredAndSubarrayDescrsAreRefused() {
        assertRefused(npy(header(descr: "[('a', '<f4'), ('b', '<i4')]", shape: "(1,)"),
                          data: [UInt8](repeating: 0, count: 8)),
                      .structuredDescr(descr: "[('a', '<f4'), ('b', '<i4')]"))
        assertRefused(npy(header(descr: "('<f4', (2,))", shape: "(1,)"), data: [UInt8](repeating: 0, count: 8)),
                      .structuredDescr(descr: "('<f4', (2,))"))
        assertRefused(npy(header(descr: "[('x', '|O')]", shape: "(1,)"), data: [UInt8](repeating: 0, count: 8)),
                      .structuredDescr(descr: "[('x', '|O')]"))
    }

    func testUnknownDescrs() {
        for descr in ["'<f16'", "'float32'", "'<U5'", "'|S3'", "'<M8[ns]'", "'|V8'", "'f'", "'>'", "''", "'<f4 '",
                      "'!f4'", "5", "None", "True"] {
            assertRefused(npy(header(descr: descr, shape: "(1,)"), data: [0, 0, 0, 0]),
                          .unknownDescr(descr: descr))
        }
    }

    func testFortranOrderMustBeABool() {
        for value in ["0", "1", "'False'", "None"] {
            assertRefused(npy(header(fortran: value, shape: "(2, 3)"), data: sixFloats),
                          .invalidFortranOrder(found: value))
        }
    }

    func testShapeMustBeATupleOfInts() {
        for (shape, found) in [("[2, 3]", "[2, 3]"), ("(6)", "6"), ("(True,)", "(True,)"), ("('2',)", "('2',)"),
                               ("((2,),)", "((2,),)"), ("None", "None")] {
            assertRefused(npy(header(shape: shape), data: sixFloats), .invalidShape(found: found))
        }
    }

    func testNegativeDimension() {
        assertRefused(npy(header(shape: "(-1, 3)"), data: sixFloats), .negativeDimension(shape: "(-1, 3)"))
        assertRefused(npy(header(shape: "(2, - 3)"), data: sixFloats), .negativeDimension(shape: "(2, -3)"))
    }

    func testTooManyDimensions() throws {
        let ones = { (count: Int) in "(" + Array(repeating: "1", count: count).joined(separator: ", ") + ")" }
        assertRefused(npy(header(shape: ones(65)), data: [0, 0, 0, 0]),
                      .tooManyDimensions(rank: 65, limit: 64))
        XCTAssertEqual(try read(npy(header(shape: ones(64)), data: [0, 0, 0, 0])).rank, 64)
    }

    func testShapeProductOverflow() {
        let huge = "(4611686018427387904, 4611686018427387904)"  // (2**62, 2**62)
        assertRefused(npy(header(shape: huge), data: sixFloats), .shapeOverflow(shape: huge, dtype: .float32))
        // 2**61 float32 values are 2**63 bytes.
        assertRefused(npy(header(shape: "(2305843009213693952,)"), data: sixFloats),
                      .shapeOverflow(shape: "(2305843009213693952,)", dtype: .float32))
        // An entry beyond 64 bits.
        assertRefused(npy(header(shape: "(99999999999999999999,)"), data: sixFloats),
                      .shapeOverflow(shape: "(99999999999999999999,)", dtype: .float32))
        // A zero dimension does not excuse the others, whatever the order.
        let withZero = "(0, 4611686018427387904, 4611686018427387904)"
        assertRefused(npy(header(shape: withZero)), .shapeOverflow(shape: withZero, dtype: .float32))
    }

    func testHugeShapeOverShortDataAllocatesNothing() throws {
        // 2**60 float32 values: 4 EiB declared, 24 bytes present; refused by comparing sizes.
        assertRefused(npy(header(shape: "(1152921504606846976,)"), data: sixFloats),
                      .dataSizeMismatch(shape: [1_152_921_504_606_846_976], dtype: .float32,
                                        expectedBytes: 4_611_686_018_427_387_904, actualBytes: 24))
        // An empty array may declare a large (but representable) other dimension.
        let empty = try read(npy(header(shape: "(0, 2305843009213693951)")))
        XCTAssertEqual(empty.shape, [0, 2_305_843_009_213_693_951])
        XCTAssertEqual(empty.elementCount, 0)
    }

    // MARK: data

    func testDataOneByteShort() {
        let image = npy(header(shape: "(2, 3)"), data: [UInt8](repeating: 0, count: 23))
        let expected = NumpyError.Reason.dataSizeMismatch(shape: [2, 3], dtype: .float32, expectedBytes: 24,
                                                          actualBytes: 23)
        assertRefused(image, expected)
        XCTAssertEqual(NumpyError(path: Self.hostileName, expected).description,
                       "hostile.npy: header declares shape (2, 3) = 6 float32 values (24 bytes) but 23 bytes follow")
    }

    func testDataOneByteLong() {
        let image = npy(header(shape: "(2, 3)"), data: [UInt8](repeating: 0, count: 25))
        assertRefused(image, .dataSizeMismatch(shape: [2, 3], dtype: .float32, expectedBytes: 24, actualBytes: 25))
        assertRefused(npy(header(descr: "'<f8'", shape: "()"), data: [UInt8](repeating: 0, count: 9)),
                      .dataSizeMismatch(shape: [], dtype: .float64, expectedBytes: 8, actualBytes: 9))
        XCTAssertEqual(NumpyError(path: Self.hostileName,
                                  .dataSizeMismatch(shape: [], dtype: .float64,
                                                    expectedBytes: 8, actualBytes: 9)).description,
                       "hostile.npy: header declares shape () = 1 float64 value (8 bytes) but 9 bytes follow")
    }

    func testEveryTruncationOfAValidFileIsRefused() throws {
        for name in ["dtype_float32.npy", "fortran_be_int16_3x2.npy", "v3_float32.npy", "scalar_bool.npy"] {
            let bytes = try fixtureBytes(name)
            XCTAssertNoThrow(try read(bytes), name)
            for length in 0 ..< bytes.count {
                XCTAssertThrowsError(try read(Array(bytes.prefix(length))), "\(name) cut at \(length)") { error in
                    XCTAssertTrue(error is NumpyError, "\(name) cut at \(length): \(error)")
                }
            }
        }
    }

    /// Every header byte replaced by characters that matter to the parser: no input traps,
    /// every outcome is a tensor or a `NumpyError`.
    func testByteMutationsNeverTrap() throws {
        let bytes = try fixtureBytes("fortran_be_int16_3x2.npy")
        let replacements = Array("\0 '\"(),-9:[]{}L\u{7f}".utf8) + [0x80, 0xFF]
        for index in 0 ..< 128 {
            for replacement in replacements where bytes[index] != replacement {
                var mutated = bytes
                mutated[index] = replacement
                do {
                    _ = try read(mutated)
                } catch {
                    XCTAssertTrue(error is NumpyError, "byte \(index) = \(replacement): \(error)")
                }
            }
        }
    }

    // MARK: what is accepted

    func testByteOrderCharacters() throws {
        let one: [UInt8] = [0x00, 0x00, 0x80, 0x3F]  // 1.0f little-endian
        for descr in ["'<f4'", "'=f4'", "'|f4'", "\"<f4\""] {
            XCTAssertEqual(try read(npy(header(descr: descr, shape: "(1,)"), data: one)).floats(), [1], descr)
        }
        XCTAssertEqual(try read(npy(header(descr: "'>f4'", shape: "(1,)"), data: one.reversed())).floats(), [1])
        XCTAssertEqual(try read(npy(header(descr: "'>u1'", shape: "(2,)"), data: [7, 9])).doubles(), [7, 9])
        XCTAssertEqual(try read(npy(header(descr: "'>b1'", shape: "(2,)"), data: [1, 0])).dtype, .bool)
    }

    func testLiberalButLiteralLayouts() throws {
        let texts = [
            "{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}",
            "{'descr':'<f4','fortran_order':False,'shape':(2,3)}\n",
            "\t{ 'descr' : '<f4' ,\n 'fortran_order' : False ,\r\n 'shape' : ( 2 , 3 , ) , }   \u{c}\n",
        ]
        for text in texts {
            XCTAssertEqual(try read(npy(text, data: sixFloats)).shape, [2, 3], text)
        }
    }

    func testPython2LongSuffixOnlyBeforeVersion3() throws {
        let text = header(shape: "(2L, 3L)")
        XCTAssertEqual(try read(npy(text, data: sixFloats)).shape, [2, 3])
        XCTAssertEqual(try read(npy(text, version: (2, 0), data: sixFloats)).shape, [2, 3])
        assertRefused(npy(text, version: (3, 0), data: sixFloats),
                      .nonLiteralHeader(offset: offset(of: "2L", in: text), expected: "a decimal integer",
                                        found: "'2L'"))
    }

    func testHeaderEncodings() {
        // Version 3.0 headers are UTF-8, 1.0 and 2.0 latin-1: 'é' reads the same either way.
        let utf8 = Array(header(descr: "'é'", shape: "(1,)").utf8)
        let latin1 = Array("{'descr': '".utf8) + [0xE9] + Array("', 'fortran_order': False, 'shape': (1,), }".utf8)
        assertRefused(npy(headerBytes: utf8, version: (3, 0), data: [0, 0, 0, 0]), .unknownDescr(descr: "'é'"))
        assertRefused(npy(headerBytes: latin1, version: (1, 0), data: [0, 0, 0, 0]), .unknownDescr(descr: "'é'"))
        assertRefused(npy(headerBytes: latin1, version: (3, 0), data: [0, 0, 0, 0]), .headerNotUTF8)
    }

    func testFileThatCannotBeOpened() throws {
        let missing = scratchPath("missing.npy")
        XCTAssertThrowsError(try Numpy.readNpy(path: missing)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: missing, .cannotOpen(reason: "No such file or directory")))
            assertOneLine(error, startingWith: missing + ": ")
        }
        XCTAssertThrowsError(try Numpy.readNpy(path: directory.path)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: directory.path, .cannotOpen(reason: "Is a directory")))
        }
    }

    func testRefusalsFromFilesNameThePath() throws {
        let path = try write(npy(header(shape: "(2, 3)"), data: [0]), name: "short.npy")
        XCTAssertThrowsError(try Numpy.readNpy(path: path)) { error in
            XCTAssertEqual(error as? NumpyError,
                           NumpyError(path: path, .dataSizeMismatch(shape: [2, 3], dtype: .float32, expectedBytes: 24,
                                                                    actualBytes: 1)))
            assertOneLine(error, startingWith: path + ": header declares shape (2, 3)")
        }
    }
}
