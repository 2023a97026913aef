/// A strict parser for the Python literal an `.npy` header holds, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` followed by padding.
///
/// numpy reads the header with `ast.literal_eval` (`_read_array_header` in `numpy/lib/format.py`);
/// this accepts the subset of that language that headers use and refuses everything else as
/// non-literal, before anything is evaluated or allocated from the header's contents:
///
/// - strings in single or double quotes, without escapes, prefixes (`b''`, `u''`), line breaks
///   or implicit concatenation;
/// - `True`, `False`, `None`;
/// - decimal integers, optionally negative (`-1`, so that a negative dimension is reported as
///   such), without leading zeros, underscores or other bases; for versions 1.0 and 2.0 an `L`
///   suffix (Python 2 longs) is dropped, as numpy's `_filter_header` does;
/// - tuples `()`, `(3,)`, `(2, 3)`, parenthesised values `(3)` (which are not tuples, as in
///   Python), lists and dicts, trailing commas allowed, at most 32 levels deep;
/// - whitespace (space, tab, form feed, CR, LF) between tokens.
///
/// Names (`__import__`), calls, attribute access, operators, floats, comments and line
/// continuations are refused with `NumpyError.nonLiteralHeader`.
struct HeaderLiteralParser {
    static let maxDepth = 32

    private let bytes: [UInt8]
    private let isUTF8: Bool
    private let allowsLongSuffix: Bool
    private let source: NpySource
    private var position = 0

    /// Parses the whole header; only whitespace may follow the value.
    /// - Parameter bytes: the header after the length field (at most 10,000 bytes); for version
    ///   3.0 already checked to be valid UTF-8, otherwise latin-1.
    static func parse(_ bytes: [UInt8], version: NpyVersion, source: NpySource) throws(NumpyError) -> HeaderLiteral {
        var parser = HeaderLiteralParser(bytes: bytes, isUTF8: version == .v3,
                                         allowsLongSuffix: version.allowsLongSuffix, source: source)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.refusal(expected: "the end of the header") }
        return value
    }

    private init(bytes: [UInt8], isUTF8: Bool, allowsLongSuffix: Bool, source: NpySource) {
        self.bytes = bytes
        self.isUTF8 = isUTF8
        self.allowsLongSuffix = allowsLongSuffix
        self.source = source
    }

    // MARK: values

    private mutating func value(depth: Int) throws(NumpyError) -> HeaderLiteral {
        guard let byte = peek() else { throw refusal(expected: "a value") }
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "("):
            return try parenthesised(depth: depth)
        case UInt8(ascii: "["):
            try enter(depth: depth)
            return .list(try items(closing: UInt8(ascii: "]"), depth: depth))
        case UInt8(ascii: "{"):
            try enter(depth: depth)
            return try dict(depth: depth)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"):
            return try integer()
        default:
            if isNameStart(byte) {
                let start = position
                let name = takeName()
                switch name {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .none
                default:
                    position = start
                    throw refusal(expected: "a literal value (a name is not one)")
                }
            }
            throw refusal(expected: "a value")
        }
    }

    /// `(` already seen: `()`, `(v)` (just `v`), or a tuple `(v,)`, `(v, w)`.
    private mutating func parenthesised(depth: Int) throws(NumpyError) -> HeaderLiteral {
        try enter(depth: depth)
        skipWhitespace()
        if peek() == UInt8(ascii: ")") {
            position += 1
            return .tuple([])
        }
        let first = try value(depth: depth + 1)
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: ")"):
            position += 1
            return first
        case UInt8(ascii: ","):
            position += 1
            return .tuple([first] + (try items(closing: UInt8(ascii: ")"), depth: depth)))
        default:
            throw refusal(expected: "',' or ')'")
        }
    }

    /// Comma-separated values up to `closing` (a trailing comma allowed); the opening bracket
    /// (and any items before a comma) already consumed.
    private mutating func items(closing: UInt8, depth: Int) throws(NumpyError) -> [HeaderLiteral] {
        var result: [HeaderLiteral] = []
        while true {
            skipWhitespace()
            if peek() == closing {
                position += 1
                return result
            }
            result.append(try value(depth: depth + 1))
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                position += 1
            } else if peek() != closing {
                throw refusal(expected: "',' or '\(Character(Unicode.Scalar(closing)))'")
            }
        }
    }

    /// `{` already seen.
    private mutating func dict(depth: Int) throws(NumpyError) -> HeaderLiteral {
        var entries: [(key: HeaderLiteral, value: HeaderLiteral)] = []
        while true {
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return .dict(entries)
            }
            let key = try value(depth: depth + 1)
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw refusal(expected: "':'") }
            position += 1
            skipWhitespace()
            let value = try value(depth: depth + 1)
            entries.append((key, value))
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                position += 1
            } else if peek() != UInt8(ascii: "}") {
                throw refusal(expected: "',' or '}'")
            }
        }
    }

    /// Consumes an opening bracket, refusing nesting past `maxDepth`.
    private mutating func enter(depth: Int) throws(NumpyError) {
        guard depth < HeaderLiteralParser.maxDepth else {
            throw refusal(expected: "at most \(HeaderLiteralParser.maxDepth) levels of nesting")
        }
        position += 1
    }

    // MARK: tokens

    private mutating func string() throws(NumpyError) -> String {
        let quote = bytes[position]
        position += 1
        let start = position
        while let byte = peek() {
            switch byte {
            case quote:
                let content = bytes[start ..< position]
                position += 1
                if isUTF8 { return String(decoding: content, as: UTF8.self) }
                var text = String.UnicodeScalarView()
                text.append(contentsOf: content.map { Unicode.Scalar($0) })  // latin-1
                return String(text)
            case UInt8(ascii: "\\"):
                throw refusal(expected: "a string without backslash escapes")
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw refusal(expected: "the closing quote")
            default:
                position += 1
            }
        }
        throw refusal(expected: "the closing quote")
    }

    private mutating func integer() throws(NumpyError) -> HeaderLiteral {
        let start = position
        var negative = false
        if peek() == UInt8(ascii: "-") {
            negative = true
            position += 1
            skipWhitespace()
        }
        let digitsStart = position
        while let byte = peek(), isDigit(byte) { position += 1 }
        let digits = bytes[digitsStart ..< position]
        guard !digits.isEmpty else { throw refusal(expected: "a digit") }

        // Python 2 longs: `3L` (numpy's `_filter_header`), only when nothing name-like follows.
        if allowsLongSuffix, peek() == UInt8(ascii: "L"), !(peek(at: position + 1).map(isNumberContinuation) ?? false) {
            position += 1
        } else if let next = peek(), isNumberContinuation(next) {
            position = digitsStart
            throw refusal(expected: "a decimal integer")
        }
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        guard significant.isEmpty || digits.first != UInt8(ascii: "0") else {
            position = start
            throw refusal(expected: "a decimal integer without leading zeros")
        }
        let text = significant.isEmpty ? "0" : (negative ? "-" : "") + String(decoding: significant, as: UTF8.self)
        return .integer(text)
    }

    private mutating func takeName() -> String {
        let start = position
        while let byte = peek(), isNameStart(byte) || isDigit(byte) { position += 1 }
        return String(decoding: bytes[start ..< position], as: UTF8.self)
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C {
            position += 1
        }
    }

    private func peek() -> UInt8? { peek(at: position) }

    private func peek(at index: Int) -> UInt8? {
        index >= 0 && index < bytes.count ? bytes[index] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    /// What would make a Python number token longer: `1.5`, `1e3`, `0x1F`, `1_000`, `3j`.
    private func isNumberContinuation(_ byte: UInt8) -> Bool {
        isNameStart(byte) || isDigit(byte) || byte == UInt8(ascii: ".")
    }

    // MARK: errors

    /// The refusal for what stands at the current position.
    private func refusal(expected: String) -> NumpyError {
        source.error(.nonLiteralHeader(offset: position, expected: expected, found: describeToken(at: position)))
    }

    /// A short rendering of the token at `index`: a name or number as a whole, one printable
    /// character, a byte in hex, or the end of the header.
    private func describeToken(at index: Int) -> String {
        guard let byte = peek(at: index) else { return "the end of the header" }
        if isNameStart(byte) || isDigit(byte) {
            var end = index
            while let next = peek(at: end), isNumberContinuation(next), end - index < 40 { end += 1 }
            return "'" + String(decoding: bytes[index ..< end], as: UTF8.self) + "'"
        }
        switch byte {
        case UInt8(ascii: "\n"): return "a line break"
        case UInt8(ascii: "\r"): return "a carriage return"
        case UInt8(ascii: "'"): return "\"'\""
        case UInt8(ascii: "\\"): return "'\\\\'"
        case 0x21 ... 0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        default:
            let digits = String(byte, radix: 16)
            return "byte 0x" + (digits.count == 1 ? "0" : "") + digits
        }
    }
}
