import PTTensor

/// The `descr` type strings this layer reads and writes, and the `DType` each stands for.
///
/// numpy writes `dtype.str` (`dtype_to_descr` in `numpy/lib/format.py`): a byte-order character
/// and a kind with the item size, e.g. `'<f4'`, `'>i8'`, `'|b1'`, `'|u1'`, `'<c16'`. Reading
/// accepts the byte orders numpy's dtype parser accepts: `<` (little), `>` (big), `=` and `|`
/// (native, which is little on every platform this package builds for; numpy refuses `!`), and
/// the kinds below. Type names (`'float32'`)
/// and bare type codes (`'f'`, `'d'`) are refused as unknown, as are strings, dates, voids and
/// `float128`; `'O'` (objects) is refused as an object array.
enum Descr {
    /// The outcome of reading a descr string.
    enum Parsed: Equatable {
        case dtype(DType, bigEndian: Bool)
        case object
        case unknown
    }

    static func parse(_ descr: String) -> Parsed {
        var rest = Substring(descr)
        var bigEndian = false
        if let order = rest.first, "<>|=".contains(order) {
            bigEndian = order == ">"
            rest = rest.dropFirst()
        }
        guard let kind = rest.first else { return .unknown }
        let size = rest.dropFirst()
        if kind == "O" {
            // 'O', 'O4', 'O8': pointers to Python objects, whatever the width.
            return size.isEmpty || size.allSatisfy(\.isASCIIDigitCharacter) ? .object : .unknown
        }
        guard let dtype = dtypes[String(kind) + size] else { return .unknown }
        return .dtype(dtype, bigEndian: bigEndian && dtype.itemSize > 1)
    }

    /// The descr numpy writes for `dtype` on a little-endian machine (`dtype.str`): `'|'` for
    /// one-byte types, `'<'` otherwise; nil for dtypes numpy does not have.
    static func string(for dtype: DType) -> String? {
        guard let code = codes[dtype] else { return nil }
        return (dtype.itemSize == 1 ? "|" : "<") + code
    }

    private static let codes: [DType: String] = [
        .bool: "b1",
        .int8: "i1", .int16: "i2", .int32: "i4", .int64: "i8",
        .uint8: "u1", .uint16: "u2", .uint32: "u4", .uint64: "u8",
        .float16: "f2", .float32: "f4", .float64: "f8",
        .complex64: "c8", .complex128: "c16",
    ]

    private static let dtypes: [String: DType] = Dictionary(uniqueKeysWithValues: codes.map { ($1, $0) })
}

private extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
