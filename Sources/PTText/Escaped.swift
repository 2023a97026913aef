/// Text written safely into each output language ptload writes, one escaper per language: a
/// terminal line, a Python literal, JSON, XML. Every other target that puts untrusted text (a
/// checkpoint's names and keys) into output calls these.
package enum Escaped {
    // MARK: terminal

    /// `text` as part of one terminal line: `\n`, `\r` and `\t` written so, every other
    /// character that could break the line or drive the terminal (C0 and C1 controls, DEL,
    /// U+2028 and U+2029) as `\u{hex}`; cut after `limit` characters of output, with `…`.
    /// - Parameter controlCodes: write `\n`, `\r` and `\t` as `\u{a}`, `\u{d}`, `\u{9}` too.
    package static func line(_ text: String, limit: Int = .max, controlCodes: Bool = false) -> String {
        replacing(text, limit: limit) { scalar in
            switch scalar {
            case "\n" where !controlCodes: return "\\n"
            case "\r" where !controlCodes: return "\\r"
            case "\t" where !controlCodes: return "\\t"
            default:
                let v = scalar.value
                let control = v < 0x20 || v == 0x7F || (0x80..<0xA0).contains(v) || v == 0x2028 || v == 0x2029
                return control ? "\\u{\(String(v, radix: 16))}" : nil
            }
        }
    }

    // MARK: Python

    /// A Python `str` literal as `repr` writes one, single-quoted: quote, backslash, `\n`, `\r`,
    /// `\t` escaped, the other C0 controls and DEL as `\xhh`, everything else as is; after
    /// `clip` characters, `…` and no more.
    package static func python(_ text: String, clip: Int = .max) -> String {
        let scalars = text.unicodeScalars
        let shown = String(Substring(scalars.prefix(clip)))
        let escaped = replacing(shown) { scalar in
            switch scalar {
            case "\\": return "\\\\"
            case "'": return "\\'"
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            default: return scalar.value < 0x20 || scalar.value == 0x7F ? "\\x" + hex2(UInt8(scalar.value)) : nil
            }
        }
        return "'" + escaped + (scalars.dropFirst(clip).isEmpty ? "" : "…") + "'"
    }

    /// A Python `bytes` literal as `repr` writes one: `b'…'`, printable ASCII as is (quote and
    /// backslash escaped), `\n`, `\r`, `\t`, every other byte as `\xhh`; after `clip` bytes, `…`.
    package static func pythonBytes(_ bytes: [UInt8], clip: Int = .max) -> String {
        var out = "b'"
        for (i, b) in bytes.enumerated() {
            if i >= clip {
                out += "…"
                break
            }
            switch b {
            case 0x5C: out += "\\\\"
            case 0x27: out += "\\'"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + hex2(b)
            }
        }
        return out + "'"
    }

    /// Two lowercase hex digits.
    package static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xF)])
    }

    // MARK: JSON

    /// A JSON string as serde_json writes it: `"` and `\` escaped, the control characters as
    /// `\b \f \n \r \t` or `\u00xx` (lowercase hex), everything else, non-ASCII included, as is.
    package static func json(_ text: String) -> String {
        let escaped = replacing(text) { scalar in
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\u{08}": return "\\b"
            case "\u{0C}": return "\\f"
            case "\n": return "\\n"
            case "\r": return "\\r"
            case "\t": return "\\t"
            default: return scalar.value < 0x20 ? "\\u00" + hex2(UInt8(scalar.value)) : nil
            }
        }
        return "\"" + escaped + "\""
    }

    // MARK: XML

    /// Text as XML character data or an attribute value: markup escaped, and characters XML 1.0
    /// cannot hold (most control characters, lone surrogates, U+FFFE, U+FFFF) written as `\u{…}`.
    package static func xml(_ text: String) -> String {
        replacing(text) { scalar in
            switch scalar {
            case "&": return "&amp;"
            case "<": return "&lt;"
            case ">": return "&gt;"
            case "\"": return "&quot;"
            case "'": return "&apos;"
            case "\n": return "&#10;"
            case "\t": return "&#9;"
            default:
                let v = scalar.value
                let unheld = v < 0x20 || v == 0xFFFE || v == 0xFFFF || (0xD800...0xDFFF).contains(v)
                return unheld ? "\\u{\(String(v, radix: 16))}" : nil
            }
        }
    }

    // MARK: the one loop

    /// `text` with each scalar `replacement` gives a string for replaced by it; with a `limit`,
    /// cut with `…` once the output holds that many characters.
    private static func replacing(_ text: String, limit: Int = .max,
                                  _ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            // Counting is linear in the output: done only where there is a limit.
            if limit < .max && out.count >= limit { return out + "…" }
            if let replaced = replacement(scalar) {
                out += replaced
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
