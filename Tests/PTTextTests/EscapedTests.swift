@testable import PTText
import XCTest

/// Each output language's escaper, on the characters that language cannot hold as they are.
final class EscapedTests: XCTestCase {
    func testTerminalLine() {
        XCTAssertEqual(Escaped.line("a\nb\r\tc\u{0}\u{7F}\u{85}\u{2028}\u{2029}é"),
                       "a\\nb\\r\\tc\\u{0}\\u{7f}\\u{85}\\u{2028}\\u{2029}é")
        XCTAssertEqual(Escaped.line("a\nb\t", controlCodes: true), "a\\u{a}b\\u{9}")
        XCTAssertEqual(Escaped.line("abcdef", limit: 3), "abc…")
        XCTAssertEqual(Escaped.line("\n\n", limit: 3), "\\n\\n",
                       "the limit counts output characters, checked before each input one")
        XCTAssertEqual(Escaped.line("abc", limit: 3), "abc")
    }

    func testPythonLiterals() {
        XCTAssertEqual(Escaped.python("it's a\\b\n\r\t\u{1}\u{7F}\u{85}é"), #"'it\'s a\\b\n\r\t\x01\x7f"# + "\u{85}é'")
        XCTAssertEqual(Escaped.python("abcd", clip: 2), "'ab…'")
        XCTAssertEqual(Escaped.pythonBytes([0x27, 0x5C, 0x0A, 0x41, 0x00, 0xFF]), #"b'\'\\\nA\x00\xff'"#)
        XCTAssertEqual(Escaped.pythonBytes([1, 2, 3], clip: 1), #"b'\x01…'"#)
    }

    func testJSONAsSerdeJSON() {
        XCTAssertEqual(Escaped.json("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"")
        XCTAssertEqual(Escaped.json("\u{8}\u{C}\r\t\u{1F}/"), #""\b\f\r\t\u001f/""#)
    }

    func testXML() {
        XCTAssertEqual(Escaped.xml("<a href=\"x\">&'</a>\n\t\u{1}\u{FFFE}"),
                       "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;&#10;&#9;\\u{1}\\u{fffe}")
    }
}
