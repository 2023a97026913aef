import PTTensor
import PTText

/// Writing: a safetensors header as the format's own writer lays one out (`prepare` in
/// `safetensors/src/tensor.rs`): tensors sorted by dtype, the dtype enum's order descending,
/// then by name (byte order); compact JSON with `__metadata__` first, then the tensors in that
/// order, each `{"dtype","shape","data_offsets"}`, padded with spaces to a multiple of 8 bytes.
/// The tensors' bytes follow it in the same order.
extension Safetensors {
    /// The dtypes the format has, in the order of its `Dtype` enum (safetensors 0.8), which its
    /// writer sorts by, descending.
    public static let dtypeOrder: [DType] = [
        .bool, .uint8, .int8, .float8_e5m2, .float8_e4m3fn, .float8_e8m0fnu, .float8_e4m3fnuz, .float8_e5m2fnuz,
        .int16, .uint16, .float16, .bfloat16, .int32, .uint32, .float32, .complex64, .float64, .int64, .uint64,
    ]

    /// Whether the format can hold `dtype`.
    public static func holds(_ dtype: DType) -> Bool { dtype.safetensorsName != nil }

    /// `items` in the order the format's writer stores them.
    /// - Parameters:
    ///   - name: an item's tensor name.
    ///   - dtype: an item's dtype, one the format holds.
    public static func storageOrder<Item>(_ items: [Item], name: (Item) -> String, dtype: (Item) -> DType) -> [Item] {
        func rank(_ dtype: DType) -> Int { dtypeOrder.firstIndex(of: dtype) ?? -1 }
        return items.sorted { a, b in
            let (ra, rb) = (rank(dtype(a)), rank(dtype(b)))
            if ra != rb { return ra > rb }
            return name(a).utf8.lexicographicallyPrecedes(name(b).utf8)
        }
    }

    /// The header of `tensors` stored one after another in the order given (`storageOrder`),
    /// each its shape's size in its dtype, as the file holds it: N's 8 bytes and the padded
    /// JSON, built as bytes in one buffer (a million-tensor header is its own size, not a
    /// string per tensor as well).
    public static func header(metadata: [(key: String, value: String)],
                              tensors: [(name: String, dtype: DType, shape: [Int])]) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        func add(_ text: String) { json.append(contentsOf: text.utf8) }
        if !metadata.isEmpty {
            let members = metadata.map { "\(Escaped.json($0.key)):\(Escaped.json($0.value))" }
            add("\"__metadata__\":{" + members.joined(separator: ",") + "}")
            if !tensors.isEmpty { add(",") }
        }
        var offset = 0
        for (index, tensor) in tensors.enumerated() {
            if index > 0 { add(",") }
            let count = tensor.shape.reduce(tensor.dtype.itemSize, *)
            add(Escaped.json(tensor.name))
            add(":{\"dtype\":\"\(tensor.dtype.safetensorsName ?? "")\",\"shape\":[")
            add(tensor.shape.map(String.init).joined(separator: ","))
            add("],\"data_offsets\":[\(offset),\(offset + count)]}")
            offset += count
        }
        add("}")
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        let n = UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + json
    }
}
