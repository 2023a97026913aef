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
        guard let dtype = DType(numpyCode: String(kind) + size) else { return .unknown }
        return .dtype(dtype, bigEndian: bigEndian && dtype.itemSize > 1)
    }

    /// The descr numpy writes for `dtype` on a little-endian machine (`dtype.str`): `'|'` for
    /// one-byte types, `'<'` otherwise; nil for dtypes numpy does not have.
    static func string(for dtype: DType) -> String? {
        guard let code = dtype.numpyCode else { return nil }
        return (dtype.itemSize == 1 ? "|" : "<") + code
    }
}

private extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
