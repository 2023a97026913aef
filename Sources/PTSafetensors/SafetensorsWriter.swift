import PTTensor

/// The safetensors format (huggingface/safetensors, `safetensors/src/tensor.rs`): an 8-byte
/// little-endian header length N, N bytes of JSON padded with spaces to a multiple of 8, then the
/// tensors' bytes, contiguous, C order, with no holes or overlaps.
///
/// Laid out as the format's own writer lays it out (`prepare`): tensors sorted by dtype, the
/// dtype enum's order descending, then by name (byte order); the header is compact JSON with
/// `__metadata__` first, then the tensors in that order, each `{"dtype","shape","data_offsets"}`.
enum Safetensors {
    /// The format's dtype names, in the order of its `Dtype` enum (safetensors 0.8), which the
    /// writer sorts by, descending. A dtype missing here has no safetensors name.
    static let dtypeOrder: [(DType, String)] = [
        (.bool, "BOOL"), (.uint8, "U8"), (.int8, "I8"), (.float8_e5m2, "F8_E5M2"), (.float8_e4m3fn, "F8_E4M3"),
        (.float8_e8m0fnu, "F8_E8M0"), (.float8_e4m3fnuz, "F8_E4M3FNUZ"), (.float8_e5m2fnuz, "F8_E5M2FNUZ"),
        (.int16, "I16"), (.uint16, "U16"), (.float16, "F16"), (.bfloat16, "BF16"), (.int32, "I32"), (.uint32, "U32"),
        (.float32, "F32"), (.complex64, "C64"), (.float64, "F64"), (.int64, "I64"), (.uint64, "U64"),
    ]

    static func name(of dtype: DType) -> String? { dtypeOrder.first { $0.0 == dtype }?.1 }
    static func rank(of dtype: DType) -> Int { dtypeOrder.firstIndex { $0.0 == dtype } ?? -1 }

    /// The items in the order the format's writer stores them.
    static func order(_ items: [CheckpointWriter.Item]) -> [CheckpointWriter.Item] {
        items.sorted { a, b in
            let (ra, rb) = (rank(of: a.dtype), rank(of: b.dtype))
            if ra != rb { return ra > rb }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The header (N's 8 bytes and the padded JSON) for `ordered` items, built as bytes in one
    /// buffer (a million-tensor header is its own size, not a string per tensor as well).
    static func header(_ ordered: [CheckpointWriter.Item], metadata: [(String, String)]) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        func add(_ text: String) { json.append(contentsOf: text.utf8) }
        if !metadata.isEmpty {
            add("\"__metadata__\":{" + metadata.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}")
            if !ordered.isEmpty { add(",") }
        }
        var offset = 0
        for (index, item) in ordered.enumerated() {
            if index > 0 { add(",") }
            add(quoted(item.name))
            add(":{\"dtype\":\"\(name(of: item.dtype) ?? "")\",\"shape\":[")
            add(item.shape.map(String.init).joined(separator: ","))
            add("],\"data_offsets\":[\(offset),\(offset + item.byteCount)]}")
            offset += item.byteCount
        }
        add("}")
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        let n = UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + json
    }

    /// A JSON string as serde_json writes it: `"` and `\` escaped, the control characters as
    /// `\b \f \n \r \t` or `\u00xx` (lowercase hex), everything else, non-ASCII included, as is.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
