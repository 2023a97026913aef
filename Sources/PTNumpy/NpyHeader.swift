import PTTensor

/// What an `.npy` header declares, checked: a supported dtype, a byte order, a memory order and
/// a shape whose size in bytes fits in an `Int`.
///
/// Mirrors the checks of `_read_array_header` and `descr_to_dtype` in `numpy/lib/format.py`, in
/// the same order (a dict, exactly the three keys, `shape` a tuple of ints, `fortran_order` a
/// bool, then `descr`), and adds those numpy makes later when it allocates the array (no more
/// than 64 dimensions, none negative, a size that does not overflow).
///
/// Stricter than numpy where numpy's leniency comes from Python: `True` is not accepted as a
/// dimension (Python's bool is an int), duplicate keys are refused (Python keeps the last),
/// and `descr` must be a type string, not a type name or a structured description.
struct NpyHeader: Equatable {
    let dtype: DType
    /// Whether the data is big-endian and must be byte-swapped (never for one-byte types).
    let bigEndian: Bool
    /// Whether the data is in Fortran (column-major) order: the C-order bytes of the
    /// transposed array, shape reversed.
    let fortranOrder: Bool
    /// `shape`: `[]` for a 0-d array.
    let shape: [Int]
    /// Product of `shape` (1 for 0-d, 0 when any dimension is 0).
    let elementCount: Int
    /// `elementCount * dtype.itemSize`: exactly how many data bytes must follow the header.
    let byteCount: Int

    static let expectedKeys: Set<String> = ["descr", "fortran_order", "shape"]

    static func interpret(_ literal: HeaderLiteral, source: NpySource) throws(NumpyError) -> NpyHeader {
        guard case let .dict(entries) = literal else {
            throw source.error(.headerNotADict(found: literal.repr()))
        }
        var values: [String: HeaderLiteral] = [:]
        for entry in entries {
            if case let .string(key) = entry.key, expectedKeys.contains(key), values[key] == nil {
                values[key] = entry.value
            }
        }
        guard entries.count == expectedKeys.count, values.count == expectedKeys.count,
              let shapeValue = values["shape"], let fortranValue = values["fortran_order"],
              let descrValue = values["descr"] else {
            throw source.error(.wrongHeaderKeys(found: entries.map { $0.key.repr() }))
        }

        guard case let .tuple(items) = shapeValue else {
            throw source.error(.invalidShape(found: shapeValue.repr()))
        }
        var dimensionTexts: [String] = []
        for item in items {
            guard case let .integer(text) = item else {
                throw source.error(.invalidShape(found: shapeValue.repr()))
            }
            dimensionTexts.append(text)
        }
        guard case let .bool(fortranOrder) = fortranValue else {
            throw source.error(.invalidFortranOrder(found: fortranValue.repr()))
        }
        let (dtype, bigEndian) = try interpretDescr(descrValue, source: source)

        let shapeText = shapeValue.repr()
        guard items.count <= NpyFormat.maxRank else {
            throw source.error(.tooManyDimensions(rank: items.count, limit: NpyFormat.maxRank))
        }
        guard !dimensionTexts.contains(where: { $0.hasPrefix("-") }) else {
            throw source.error(.negativeDimension(shape: shapeText))
        }
        var shape: [Int] = []
        for text in dimensionTexts {
            guard let dimension = Int(text) else {
                throw source.error(.shapeOverflow(shape: shapeText, dtype: dtype))
            }
            shape.append(dimension)
        }
        guard let (elementCount, byteCount) = size(of: shape, itemSize: dtype.itemSize) else {
            throw source.error(.shapeOverflow(shape: shapeText, dtype: dtype))
        }
        return NpyHeader(dtype: dtype, bigEndian: bigEndian, fortranOrder: fortranOrder, shape: shape,
                         elementCount: elementCount, byteCount: byteCount)
    }

    /// Elements and bytes of an array of `shape`, or nil when they overflow. As numpy's array
    /// constructor does, the product of the non-zero dimensions (times the item size) must fit
    /// even when a zero dimension makes the array empty, so the answer never depends on the
    /// order of the dimensions.
    static func size(of shape: [Int], itemSize: Int) -> (elements: Int, bytes: Int)? {
        var nonZeroBytes = itemSize
        var isEmpty = false
        for dimension in shape {
            guard dimension != 0 else {
                isEmpty = true
                continue
            }
            let (product, overflow) = nonZeroBytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            nonZeroBytes = product
        }
        if isEmpty { return (0, 0) }
        return (nonZeroBytes / itemSize, nonZeroBytes)
    }

    private static func interpretDescr(_ descr: HeaderLiteral, source: NpySource) throws(NumpyError) -> (DType, Bool) {
        switch descr {
        case let .string(text):
            switch Descr.parse(text) {
            case let .dtype(dtype, bigEndian): return (dtype, bigEndian)
            case .object: throw source.error(.objectArray(descr: descr.repr()))
            case .unknown: throw source.error(.unknownDescr(descr: descr.repr()))
            }
        case .list, .tuple, .dict:
            throw source.error(.structuredDescr(descr: descr.repr()))
        default:
            throw source.error(.unknownDescr(descr: descr.repr()))
        }
    }
}
