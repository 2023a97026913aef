import PTTensor

/// The JSON a safetensors header may hold, and nothing more: an object whose values are objects
/// whose values are strings or arrays of non-negative integers (below 2^63, written without
/// leading zeros, as serde_json requires). Works on the header's bytes, already checked to be
/// UTF-8, so that a 100 MB header costs no more than its own size again.
///
/// A Hugging Face shard index (`model.safetensors.index.json`: `metadata` and `weight_map`
/// objects) is the same grammar plus bare non-negative integers (`"total_size": 122880`), read
/// with `allowsIntegers`.
public struct HeaderParser {
    public enum Value: Sendable {
        case string(String)
        /// A bare non-negative integer (only with `allowsIntegers`).
        case integer(Int)
        case integers([Int])
        case object([(String, Value)])
    }

    let text: UnsafeRawBufferPointer
    /// Whether a bare integer is a value (an index's metadata), or a syntax error (a safetensors header).
    let allowsIntegers: Bool
    var i = 0

    init(text: UnsafeRawBufferPointer, allowsIntegers: Bool = false) {
        self.text = text
        self.allowsIntegers = allowsIntegers
    }

    /// The top-level members of a JSON document in this grammar with bare integers allowed, in
    /// file order: a Hugging Face shard index. `bytes` must already be checked to be UTF-8.
    /// - Throws: `HeaderSyntaxError` for text outside the grammar (a duplicate key included).
    public static func members(of bytes: UnsafeRawBufferPointer) throws(HeaderSyntaxError) -> [(String, Value)] {
        var parser = HeaderParser(text: bytes, allowsIntegers: true)
        var members: [(String, Value)] = []
        do {
            try parser.parseHeader { members.append(($0, $1)) }
        } catch {
            guard case .syntax(let e) = error else { preconditionFailure("the parser throws only syntax errors") }
            throw e
        }
        return members
    }

    /// Reads the header, handing each top-level member to `each` as soon as it is read.
    /// - Throws: `SafetensorsError.syntax` for text outside the grammar, and whatever `each`
    ///   throws.
    mutating func parseHeader(_ each: (String, Value) throws(SafetensorsError) -> Void) throws(SafetensorsError) {
        skipSpace()
        try object(depth: 0, each: each)
        skipSpace()
        guard i == text.count else { throw .syntax(.textAfterClosingBrace(at: i)) }
    }

    /// Reads an object, handing each member to `each` as soon as it is read.
    private mutating func object(depth: Int,
                                 each: (String, Value) throws(SafetensorsError) -> Void) throws(SafetensorsError) {
        try expect("{")
        var keys = Set<ExactName>()
        skipSpace()
        if peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            skipSpace()
            let key = try string()
            guard keys.insert(ExactName(key)).inserted else { throw .syntax(.duplicateKey(key)) }
            skipSpace()
            try expect(":")
            skipSpace()
            let value: Value
            switch peek().map(UnicodeScalar.init) {
            case "{":
                guard depth == 0 else { throw .syntax(.nestedTooDeep) }
                var members: [(String, Value)] = []
                try object(depth: depth + 1) { members.append(($0, $1)) }
                value = .object(members)
            case "\"": value = .string(try string())
            case "[": value = .integers(try integers())
            case let c? where allowsIntegers && c >= "0" && c <= "9": value = .integer(try integer())
            default: throw .syntax(.unexpectedCharacter(at: i))
            }
            try each(key, value)
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect("}")
            return
        }
    }

    private mutating func integers() throws(SafetensorsError) -> [Int] {
        try expect("[")
        var out: [Int] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") { i += 1; return out }
        while true {
            skipSpace()
            out.append(try integer())
            guard out.count <= Tensor.maxRank + 2 else { throw .syntax(.arrayTooLong) }
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect("]")
            return out
        }
    }

    /// A non-negative integer below 2^63, without leading zeros.
    private mutating func integer() throws(SafetensorsError) -> Int {
        var value = 0
        var digits = 0
        let start = i
        while let c = peek(), c >= 48 && c <= 57 {
            if digits == 1 && text[start] == 48 { throw .syntax(.leadingZero(at: start)) }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int(c - 48))
            guard !o1 && !o2 else { throw .syntax(.integerOverflow(at: i)) }
            value = plus
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw .syntax(.expectedInteger(at: i)) }
        return value
    }

    private mutating func string() throws(SafetensorsError) -> String {
        try expect("\"")
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw .syntax(.unterminatedString) }
            i += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw .syntax(.unterminatedString) }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard peek() == UInt8(ascii: "\\") else { throw .syntax(.unpairedSurrogate(at: i)) }
                        i += 1
                        try expect("u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw .syntax(.unpairedSurrogate(at: i)) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw .syntax(.unpairedSurrogate(at: i)) }
                    out.append(contentsOf: String(scalar).utf8)
                default: throw .syntax(.badEscape(at: i))
                }
            default:
                guard c >= 0x20 else { throw .syntax(.controlCharacter(at: i)) }
                out.append(c)
            }
        }
    }

    private mutating func hex4() throws(SafetensorsError) -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek(), let digit = UInt32(String(UnicodeScalar(c)), radix: 16) else {
                throw .syntax(.badUnicodeEscape(at: i))
            }
            code = code * 16 + digit
            i += 1
        }
        return code
    }

    private mutating func expect(_ c: Unicode.Scalar) throws(SafetensorsError) {
        guard peek() == UInt8(c.value) else { throw .syntax(.expected(c, at: i)) }
        i += 1
    }

    private func peek() -> UInt8? { i < text.count ? text[i] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
    }
}
