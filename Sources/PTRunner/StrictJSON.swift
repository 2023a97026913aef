/// RFC 8259's grammar, checked exactly, before a manifest reaches `JSONDecoder` (which, like
/// JSON5 readers, lets a trailing comma or a comment through). Python's `json.loads` is the
/// judge: what it refuses, this refuses, with the byte offset. (Python also takes `NaN` and
/// `Infinity`; the exporter never writes them, so they are refused too.)
enum StrictJSON {
    /// Deeper nesting is refused (Python's own limit is its recursion limit, about 1,000).
    static let maxDepth = 512

    /// The first place `bytes` leaves the grammar, as "what at byte N", or nil for valid JSON.
    static func firstViolation(_ bytes: UnsafeRawBufferPointer) -> String? {
        var parser = Parser(bytes: bytes)
        do throws(Failure) {
            parser.space()
            try parser.value(depth: 0)
            parser.space()
            guard parser.i == bytes.count else { throw parser.failure("text after the value") }
            return nil
        } catch {
            return error.why
        }
    }

    struct Failure: Error { let why: String }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        func failure(_ what: String) -> Failure { Failure(why: "\(what) at byte \(i)") }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func space() {
            while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            guard peek() == byte else { throw failure(what) }
            i += 1
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth < StrictJSON.maxDepth else { throw failure("nesting deeper than \(StrictJSON.maxDepth)") }
            guard let b = peek() else { throw failure("the text ends where a value should be") }
            switch b {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw failure("no value")
            }
        }

        mutating func object(depth: Int) throws(Failure) {
            i += 1
            space()
            if peek() == UInt8(ascii: "}") { i += 1; return }
            while true {
                space()
                guard peek() == UInt8(ascii: "\"") else {
                    throw failure(peek() == UInt8(ascii: "}") ? "a trailing comma" : "no member name")
                }
                try string()
                space()
                try expect(UInt8(ascii: ":"), "no ':' after a member name")
                space()
                try value(depth: depth + 1)
                space()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}"), "no ',' or '}' after a member")
                return
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            i += 1
            space()
            if peek() == UInt8(ascii: "]") { i += 1; return }
            while true {
                space()
                if peek() == UInt8(ascii: "]") { throw failure("a trailing comma") }
                try value(depth: depth + 1)
                space()
                if peek() == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]"), "no ',' or ']' after an element")
                return
            }
        }

        /// A string: no raw control characters, only JSON's escapes. (UTF-8 validity is left to
        /// the decoder, which refuses bad sequences.)
        mutating func string() throws(Failure) {
            i += 1
            while let b = peek() {
                switch b {
                case UInt8(ascii: "\""):
                    i += 1
                    return
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = peek() else { throw failure("an unterminated string") }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        i += 1
                        for _ in 0..<4 {
                            guard let h = peek(),
                                  (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else {
                                throw failure("a \\u escape without four hex digits")
                            }
                            i += 1
                        }
                    default:
                        throw failure("an invalid escape")
                    }
                case 0..<0x20:
                    throw failure("a control character inside a string")
                default:
                    i += 1
                }
            }
            throw failure("an unterminated string")
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: no leading zeros, no bare dot.
        mutating func number() throws(Failure) {
            if peek() == UInt8(ascii: "-") { i += 1 }
            guard let first = peek(), isDigit(first) else { throw failure("a number without digits") }
            i += 1
            if first == UInt8(ascii: "0"), let next = peek(), isDigit(next) {
                throw failure("a number with a leading zero")
            }
            while let b = peek(), isDigit(b) { i += 1 }
            if peek() == UInt8(ascii: ".") {
                i += 1
                guard let b = peek(), isDigit(b) else { throw failure("a number without digits after '.'") }
                while let b = peek(), isDigit(b) { i += 1 }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                i += 1
                if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { i += 1 }
                guard let b = peek(), isDigit(b) else { throw failure("a number without digits in its exponent") }
                while let b = peek(), isDigit(b) { i += 1 }
            }
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - i >= count else { throw failure("no value") }
            for k in 0..<count where bytes[i + k] != word.utf8Start[k] { throw failure("no value") }
            i += count
        }

        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    }
}
