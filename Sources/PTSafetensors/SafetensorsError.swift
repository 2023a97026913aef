/// Why a safetensors header was refused: what the format requires and what the file holds. The
/// description names the tensor or byte involved; the reader that knows the file's path puts
/// it in front.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 8 bytes of the header length.
    case tooShort(byteCount: Int)
    /// The header length is over the format's limit (`MAX_HEADER_SIZE`).
    case headerOverLimit(length: UInt64, limit: Int)
    /// The header length runs past the end of the file.
    case headerPastEnd(length: UInt64, available: Int)
    /// The header's bytes are not UTF-8.
    case headerNotUTF8
    /// The header's text is not the JSON a safetensors header may hold.
    case syntax(HeaderSyntaxError)
    /// A top-level member that is not an object.
    case notAnObject(key: String)
    /// A `__metadata__` value that is not a string.
    case metadataNotString(key: String)
    /// More tensors than any ptload reader takes from one file (`FileLimits.maxTensors`).
    case tooManyTensors(limit: Int)
    /// A tensor field other than dtype, shape and data_offsets, or one of those of the wrong kind.
    case unexpectedField(tensor: String, field: String)
    /// A tensor without one of dtype, shape and data_offsets.
    case missingField(tensor: String)
    /// A dtype name the format's `Dtype` enum has no `DType` for here.
    case unknownDType(tensor: String, dtype: String)
    /// `data_offsets` that are not `[begin, end]` with begin <= end.
    case badOffsets(tensor: String, offsets: [Int])
    /// More dimensions than `Tensor.maxRank`.
    case tooManyDimensions(tensor: String, rank: Int)
    /// A shape whose byte size overflows 64 bits.
    case shapeOverflow(tensor: String, shape: [Int])
    /// A shape whose byte size differs from the span its `data_offsets` give.
    case sizeMismatch(tensor: String, shape: [Int], dtype: String, needed: Int, offsets: [Int])
    /// `data_offsets` past the end of the data.
    case pastData(tensor: String, offsets: [Int], dataCount: Int)
    /// Bytes of the data before a tensor's span that no tensor claims.
    case hole(Range<Int>)
    /// A tensor whose span starts inside the span of the tensor before it.
    case overlap(tensor: String, begin: Int, end: Int)
    /// Bytes after the last tensor's span.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .tooShort(let count): return "\(count) bytes; a safetensors file starts with an 8-byte header length"
        case let .headerOverLimit(length, limit):
            return "header length \(length) is over the format's limit of \(limit) bytes"
        case let .headerPastEnd(length, available):
            return "header length \(length) runs past the end of the file (\(available) bytes after the length)"
        case .headerNotUTF8: return "the header is not UTF-8"
        case .syntax(let e): return "the header is not a safetensors header: \(e)"
        case .notAnObject(let key): return "'\(key)' is not an object"
        case .metadataNotString(let key): return "__metadata__ '\(key)' is not a string"
        case .tooManyTensors(let limit): return "more than \(limit) tensors"
        case let .unexpectedField(tensor, field): return "tensor '\(tensor)': unexpected field '\(field)' or value"
        case .missingField(let tensor): return "tensor '\(tensor)' needs dtype, shape and data_offsets"
        case let .unknownDType(tensor, dtype):
            return "tensor '\(tensor)' has dtype '\(dtype)', which ptload does not know"
        case let .badOffsets(tensor, offsets):
            return "tensor '\(tensor)' has data_offsets \(offsets); expected [begin, end] with begin <= end"
        case let .tooManyDimensions(tensor, rank): return "tensor '\(tensor)' has \(rank) dimensions"
        case let .shapeOverflow(tensor, shape): return "tensor '\(tensor)': shape \(shape) overflows 64 bits"
        case let .sizeMismatch(tensor, shape, dtype, needed, offsets):
            return "tensor '\(tensor)': shape \(shape) of \(dtype) needs \(needed) bytes; data_offsets \(offsets) hold"
                + " \(offsets[1] - offsets[0])"
        case let .pastData(tensor, offsets, dataCount):
            return "tensor '\(tensor)': data_offsets \(offsets) run past the data's \(dataCount) bytes"
        case .hole(let bytes): return "bytes \(bytes.lowerBound)..<\(bytes.upperBound) of the data belong to no tensor"
        case let .overlap(tensor, begin, end):
            return "tensor '\(tensor)' (data_offsets [\(begin), \(end)]) overlaps the tensor before it"
        case .trailingBytes(let count): return "\(count) bytes after the last tensor belong to no tensor"
        }
    }
}

/// Where a safetensors header's text leaves the JSON it may hold; offsets count bytes from the
/// start of the header text.
public enum HeaderSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Text after the top-level object.
    case textAfterClosingBrace(at: Int)
    /// A key twice in one object (compared by bytes).
    case duplicateKey(String)
    /// An object inside a tensor's object.
    case nestedTooDeep
    /// A value that is not an object, a string or an array.
    case unexpectedCharacter(at: Int)
    /// An integer written with a leading zero, which serde_json refuses.
    case leadingZero(at: Int)
    /// An integer over 2^63 - 1.
    case integerOverflow(at: Int)
    /// An array item that is not a non-negative integer.
    case expectedInteger(at: Int)
    /// An array longer than any shape or `data_offsets`.
    case arrayTooLong
    /// A string without its closing quote.
    case unterminatedString
    /// A `\u` escape of half a surrogate pair.
    case unpairedSurrogate(at: Int)
    /// A backslash before a character JSON does not escape.
    case badEscape(at: Int)
    /// A control character inside a string.
    case controlCharacter(at: Int)
    /// A `\u` without four hex digits.
    case badUnicodeEscape(at: Int)
    /// Another character where the grammar needs `character`.
    case expected(Unicode.Scalar, at: Int)

    public var description: String {
        switch self {
        case .textAfterClosingBrace(let i): return "text after the closing brace at byte \(i)"
        case .duplicateKey(let key): return "key '\(key)' appears twice"
        case .nestedTooDeep: return "objects nest deeper than a safetensors header does"
        case .unexpectedCharacter(let i): return "unexpected character at byte \(i)"
        case .leadingZero(let i): return "an integer at \(i) has a leading zero"
        case .integerOverflow(let i): return "an integer at \(i) overflows 64 bits"
        case .expectedInteger(let i): return "expected a non-negative integer at \(i)"
        case .arrayTooLong: return "an array longer than any shape"
        case .unterminatedString: return "a string runs to the end of the header"
        case .unpairedSurrogate(let i): return "an unpaired surrogate at \(i)"
        case .badEscape(let i): return "a bad escape at \(i)"
        case .controlCharacter(let i): return "a control character in a string at \(i)"
        case .badUnicodeEscape(let i): return "a bad \\u escape at \(i)"
        case let .expected(character, i): return "expected '\(character)' at byte \(i)"
        }
    }
}
