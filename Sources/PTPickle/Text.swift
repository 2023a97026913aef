// Text decoders for the pickle argument formats. All work on byte views and report failures as a
// reason string; the machine turns that into an error carrying the opcode and offset.

enum TextError: Error {
    case reason(String)
}

enum Text {
    // MARK: Strings

    /// UTF-8 as python decodes pickled str: 'surrogatepass', so encoded surrogates are accepted.
    /// A high+low surrogate pair (CESU-8 style) is joined into one scalar; a lone surrogate cannot
    /// be held by a Swift String and is an error.
    static func utf8(_ buf: UnsafeRawBufferPointer) throws -> String {
        if let s = String(validating: buf, as: UTF8.self) { return s }
        var scalars: [UInt32] = []
        scalars.reserveCapacity(buf.count)
        var i = 0
        let n = buf.count
        func cont(_ at: Int) throws -> UInt32 {
            guard at < n else { throw TextError.reason("truncated UTF-8 sequence at byte \(at)") }
            let b = buf[at]
            guard b & 0xC0 == 0x80 else { throw TextError.reason("invalid UTF-8 continuation byte at byte \(at)") }
            return UInt32(b & 0x3F)
        }
        while i < n {
            let b0 = buf[i]
            switch b0 {
            case 0x00...0x7F:
                scalars.append(UInt32(b0))
                i += 1
            case 0xC2...0xDF:
                scalars.append((UInt32(b0 & 0x1F) << 6) | (try cont(i + 1)))
                i += 2
            case 0xE0...0xEF:
                let c1 = try cont(i + 1), c2 = try cont(i + 2)
                let cp = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2
                guard cp >= 0x800 else { throw TextError.reason("overlong UTF-8 sequence at byte \(i)") }
                scalars.append(cp)  // D800–DFFF allowed here (surrogatepass)
                i += 3
            case 0xF0...0xF4:
                let c1 = try cont(i + 1), c2 = try cont(i + 2), c3 = try cont(i + 3)
                let cp = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
                guard cp >= 0x10000, cp <= 0x10FFFF else {
                    throw TextError.reason("invalid UTF-8 sequence at byte \(i)")
                }
                scalars.append(cp)
                i += 4
            default:
                throw TextError.reason("invalid UTF-8 start byte 0x\(String(b0, radix: 16)) at byte \(i)")
            }
        }
        return try string(fromCodePoints: scalars)
    }

    /// latin-1: every byte is the code point of the same value (lossless: encode back to latin-1
    /// to recover the original python-2 bytes).
    static func latin1(_ buf: UnsafeRawBufferPointer) -> String {
        var ascii = true
        for b in buf where b >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: buf, as: UTF8.self) }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(buf.count * 2)
        for b in buf {
            if b < 0x80 {
                utf8.append(b)
            } else {
                utf8.append(0xC0 | (b >> 6))
                utf8.append(0x80 | (b & 0x3F))
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    static func latin1(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { latin1($0) }
    }

    /// python's 'raw-unicode-escape' decoder (protocol 0 UNICODE): bytes are latin-1 code points,
    /// except that `\uXXXX` and `\UXXXXXXXX` are escapes when preceded by an odd number of
    /// backslashes (an even run is literal backslashes).
    static func rawUnicodeEscape(_ buf: UnsafeRawBufferPointer) throws -> String {
        var out: [UInt32] = []
        out.reserveCapacity(buf.count)
        var i = 0
        let n = buf.count
        while i < n {
            let b = buf[i]
            guard b == 0x5C else {  // '\\'
                out.append(UInt32(b))
                i += 1
                continue
            }
            var run = 0
            while i < n, buf[i] == 0x5C {
                out.append(0x5C)
                run += 1
                i += 1
            }
            guard run % 2 == 1, i < n, buf[i] == 0x75 || buf[i] == 0x55 else { continue }  // 'u' / 'U'
            out.removeLast()  // the escaping backslash
            let digits = buf[i] == 0x75 ? 4 : 8
            i += 1
            var cp: UInt32 = 0
            for _ in 0..<digits {
                guard i < n, let h = hexValue(buf[i]) else {
                    throw TextError.reason(digits == 4 ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape")
                }
                cp = (cp << 4) | UInt32(h)
                i += 1
            }
            guard cp <= 0x10FFFF else { throw TextError.reason("\\Uxxxxxxxx out of range") }
            out.append(cp)
        }
        return try string(fromCodePoints: out)
    }

    /// Code points to a String: surrogate pairs are joined, a lone surrogate is an error.
    static func string(fromCodePoints cps: [UInt32]) throws -> String {
        var s = String.UnicodeScalarView()
        var i = 0
        while i < cps.count {
            var cp = cps[i]
            if (0xD800...0xDBFF).contains(cp), i + 1 < cps.count, (0xDC00...0xDFFF).contains(cps[i + 1]) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (cps[i + 1] - 0xDC00)
                i += 1
            }
            guard let scalar = Unicode.Scalar(cp) else {
                throw TextError.reason("lone surrogate U+\(String(cp, radix: 16, uppercase: true))")
            }
            s.append(scalar)
            i += 1
        }
        return String(s)
    }

    /// python's `codecs.escape_decode` (the body of a protocol-0 STRING): \\ \' \" \a \b \f \n \r
    /// \t \v, \ooo (1–3 octal digits, value & 0xFF), \xhh (exactly two hex digits), backslash-newline
    /// is dropped, any other escape is kept verbatim (backslash included); a trailing lone
    /// backslash is an error.
    static func escapeDecode(_ buf: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(buf.count)
        var i = 0
        let n = buf.count
        while i < n {
            let b = buf[i]
            i += 1
            guard b == 0x5C else {
                out.append(b)
                continue
            }
            guard i < n else { throw TextError.reason("trailing \\ in string") }
            let e = buf[i]
            i += 1
            switch e {
            case 0x0A: break                      // line continuation
            case 0x5C: out.append(0x5C)           // \\
            case 0x27: out.append(0x27)           // \'
            case 0x22: out.append(0x22)           // \"
            case 0x61: out.append(0x07)           // \a
            case 0x62: out.append(0x08)           // \b
            case 0x66: out.append(0x0C)           // \f
            case 0x6E: out.append(0x0A)           // \n
            case 0x72: out.append(0x0D)           // \r
            case 0x74: out.append(0x09)           // \t
            case 0x76: out.append(0x0B)           // \v
            case 0x30...0x37:                     // \ooo
                var v = UInt32(e - 0x30)
                var k = 0
                while k < 2, i < n, (0x30...0x37).contains(buf[i]) {
                    v = v * 8 + UInt32(buf[i] - 0x30)
                    i += 1
                    k += 1
                }
                out.append(UInt8(truncatingIfNeeded: v))
            case 0x78:                            // \xhh
                guard i + 1 < n, let h = hexValue(buf[i]), let l = hexValue(buf[i + 1]) else {
                    throw TextError.reason("invalid \\x escape at position \(i - 2)")
                }
                out.append(h << 4 | l)
                i += 2
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (0x09...0x0D).contains(b)
    }

    /// The view without leading and trailing ASCII whitespace (python's int() / float() strip it).
    static func trimmed(_ buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var lo = 0, hi = buf.count
        while lo < hi, isSpace(buf[lo]) { lo += 1 }
        while hi > lo, isSpace(buf[hi - 1]) { hi -= 1 }
        return UnsafeRawBufferPointer(rebasing: buf[lo..<hi])
    }

    // MARK: Numbers

    enum Integer {
        case small(Int64)
        case big(PickleBigInt)
    }

    /// Python's own limit on decimal digits converted to an int (sys.int_info.default_max_str_digits).
    static let maxDecimalDigits = 4300

    /// A decimal integer as python's `int(text, 0)` reads one: surrounding whitespace, optional
    /// sign, digits; a leading zero only in an all-zero number. (Base prefixes and underscores,
    /// which no pickler writes, are refused.)
    static func decimalInteger(_ raw: UnsafeRawBufferPointer) throws -> Integer {
        let buf = trimmed(raw)
        var i = 0
        var negative = false
        if i < buf.count, buf[i] == 0x2B || buf[i] == 0x2D {
            negative = buf[i] == 0x2D
            i += 1
        }
        let digitStart = i
        guard digitStart < buf.count else { throw TextError.reason("no digits") }
        for j in digitStart..<buf.count where !(0x30...0x39).contains(buf[j]) {
            throw TextError.reason("invalid digit in integer text")
        }
        let count = buf.count - digitStart
        guard count <= maxDecimalDigits else {
            throw TextError.reason("more than \(maxDecimalDigits) decimal digits")
        }
        if buf[digitStart] == 0x30 {
            for j in digitStart..<buf.count where buf[j] != 0x30 {
                throw TextError.reason("leading zeros in a non-zero decimal integer")
            }
            return .small(0)
        }
        if count <= 18 {
            var v: Int64 = 0
            for j in digitStart..<buf.count { v = v * 10 + Int64(buf[j] - 0x30) }
            return .small(negative ? -v : v)
        }
        // Magnitude in base 2^32 limbs, least significant first; multiply-add 9 digits at a time.
        var limbs: [UInt32] = [0]
        var j = digitStart
        while j < buf.count {
            let take = min(9, buf.count - j)
            var chunk: UInt64 = 0
            var scale: UInt64 = 1
            for k in 0..<take {
                chunk = chunk * 10 + UInt64(buf[j + k] - 0x30)
                scale *= 10
            }
            j += take
            var carry = chunk
            for k in limbs.indices {
                let v = UInt64(limbs[k]) * scale + carry
                limbs[k] = UInt32(truncatingIfNeeded: v)
                carry = v >> 32
            }
            if carry != 0 { limbs.append(UInt32(carry)) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(limbs.count * 4 + 1)
        for limb in limbs {
            for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: limb >> (8 * UInt32(k)))) }
        }
        bytes.append(0)  // sign byte for the positive magnitude
        if negative {
            var carry: UInt16 = 1
            for k in bytes.indices {
                let v = UInt16(~bytes[k]) + carry
                bytes[k] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
        }
        if let small = PickleBigInt.int64(bytes) { return .small(small) }
        return .big(PickleBigInt(signedLittleEndian: bytes))
    }

    /// A non-negative decimal index (PUT / GET text), or nil if not one.
    static func decimalIndex(_ raw: UnsafeRawBufferPointer) -> Int? {
        guard case .small(let v)? = try? decimalInteger(raw), v >= 0, v <= Int64(Int32.max) * 2 + 1 else {
            return nil
        }
        return Int(v)
    }

    /// A float as python's `float(text)` reads what picklers write: whitespace, sign, decimal
    /// digits with optional fraction and exponent, or inf / infinity / nan (any case).
    static func float(_ raw: UnsafeRawBufferPointer) throws -> Double {
        let buf = trimmed(raw)
        var i = 0
        if i < buf.count, buf[i] == 0x2B || buf[i] == 0x2D { i += 1 }
        var lowered = ""
        if buf.count - i <= 8 {
            for j in i..<buf.count { lowered.unicodeScalars.append(Unicode.Scalar(buf[j] | 0x20)) }
        }
        let special = lowered == "inf" || lowered == "infinity" || lowered == "nan"
        if !special {
            var digits = 0
            while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1; digits += 1 }
            if i < buf.count, buf[i] == 0x2E {
                i += 1
                while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1; digits += 1 }
            }
            guard digits > 0 else { throw TextError.reason("not a float") }
            if i < buf.count, buf[i] == 0x65 || buf[i] == 0x45 {
                i += 1
                if i < buf.count, buf[i] == 0x2B || buf[i] == 0x2D { i += 1 }
                var expDigits = 0
                while i < buf.count, (0x30...0x39).contains(buf[i]) { i += 1; expDigits += 1 }
                guard expDigits > 0 else { throw TextError.reason("not a float") }
            }
            guard i == buf.count else { throw TextError.reason("not a float") }
        }
        guard let d = Double(String(decoding: buf, as: UTF8.self)) else {
            throw TextError.reason("not a float")
        }
        return d
    }
}
