/// Element types a PyTorch checkpoint can hold.
///
/// Raw values are the names `torch` prints without the `torch.` prefix (`str(torch.float32)`),
/// which is also how dtype globals appear in pickles (`torch.float32`, `torch.uint16`).
public enum DType: String, CaseIterable, Sendable {
    case float32, float64, float16, bfloat16
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case bool
    case complex32, complex64, complex128
    case float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu
    /// Two 4-bit floats packed in a byte; listed and copied, not widened.
    case float4_e2m1fn_x2
    case qint8, quint8, qint32

    /// Bytes per element (`torch._utils._element_size`).
    public var itemSize: Int {
        switch self {
        case .int8, .uint8, .bool, .qint8, .quint8,
             .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2:
            return 1
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .float32, .int32, .uint32, .complex32, .qint32: return 4
        case .float64, .int64, .uint64, .complex64: return 8
        case .complex128: return 16
        }
    }

    /// The unit a big-endian storage is byte-swapped in: the element, or each half of a
    /// complex element (`torch/storage.py byteswap`).
    public var swapUnit: Int {
        switch self {
        case .complex32, .complex64, .complex128: return itemSize / 2
        default: return itemSize
        }
    }

    public var isComplex: Bool { self == .complex32 || self == .complex64 || self == .complex128 }

    /// Real floating types, including the reduced-precision ones that widen exactly to `Double`.
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16,
             .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
            return true
        default: return false
        }
    }

    /// `torch.float32` etc., as `str(dtype)` prints it.
    public var torchName: String { "torch." + rawValue }

    /// torch's legacy typed-storage class for this dtype (`torch/storage.py
    /// _dtype_to_storage_type_map`: `FloatStorage`), where it has one.
    public var storageClass: String? { formatNames.storageClass }

    /// The name safetensors gives this dtype (`safetensors/src/tensor.rs Dtype`: `F32`), where
    /// it has one.
    public var safetensorsName: String? { formatNames.safetensors }

    /// numpy's type code for this dtype, its descr without the byte order (`f4` of `'<f4'`),
    /// where numpy has the dtype.
    public var numpyCode: String? { formatNames.numpy }

    /// The dtype a legacy typed-storage class stands for (`torch/storage.py
    /// _dtype_to_storage_type_map`); `nil` for an unknown name. `UntypedStorage` is bytes.
    public init?(storageClass name: String) {
        if name == "UntypedStorage" { self = .uint8; return }
        guard let dtype = DType.byStorageClass[name] else { return nil }
        self = dtype
    }

    /// The dtype safetensors calls `name` (`F32`); `nil` for a name it does not have.
    public init?(safetensorsName name: String) {
        guard let dtype = DType.bySafetensorsName[name] else { return nil }
        self = dtype
    }

    /// The dtype numpy's type `code` (`f4`, a descr less its byte order) stands for; `nil` for
    /// any other code.
    public init?(numpyCode code: String) {
        guard let dtype = DType.byNumpyCode[code] else { return nil }
        self = dtype
    }

    /// What each file format calls a dtype, `nil` where the format lacks it.
    private struct FormatNames {
        let storageClass: String?
        let safetensors: String?
        let numpy: String?

        init(_ storageClass: String?, _ safetensors: String?, _ numpy: String?) {
            (self.storageClass, self.safetensors, self.numpy) = (storageClass, safetensors, numpy)
        }
    }

    /// The one table of format names: torch's legacy storage class, the safetensors name,
    /// numpy's type code. Readers and writers of every format look them up here.
    private var formatNames: FormatNames {
        switch self {
        case .float32: return FormatNames("FloatStorage", "F32", "f4")
        case .float64: return FormatNames("DoubleStorage", "F64", "f8")
        case .float16: return FormatNames("HalfStorage", "F16", "f2")
        case .bfloat16: return FormatNames("BFloat16Storage", "BF16", nil)
        case .int8: return FormatNames("CharStorage", "I8", "i1")
        case .int16: return FormatNames("ShortStorage", "I16", "i2")
        case .int32: return FormatNames("IntStorage", "I32", "i4")
        case .int64: return FormatNames("LongStorage", "I64", "i8")
        case .uint8: return FormatNames("ByteStorage", "U8", "u1")
        case .uint16: return FormatNames(nil, "U16", "u2")
        case .uint32: return FormatNames(nil, "U32", "u4")
        case .uint64: return FormatNames(nil, "U64", "u8")
        case .bool: return FormatNames("BoolStorage", "BOOL", "b1")
        case .complex32: return FormatNames(nil, nil, nil)
        case .complex64: return FormatNames("ComplexFloatStorage", "C64", "c8")
        case .complex128: return FormatNames("ComplexDoubleStorage", nil, "c16")
        case .float8_e4m3fn: return FormatNames(nil, "F8_E4M3", nil)
        case .float8_e5m2: return FormatNames(nil, "F8_E5M2", nil)
        case .float8_e4m3fnuz: return FormatNames(nil, "F8_E4M3FNUZ", nil)
        case .float8_e5m2fnuz: return FormatNames(nil, "F8_E5M2FNUZ", nil)
        case .float8_e8m0fnu: return FormatNames(nil, "F8_E8M0", nil)
        case .float4_e2m1fn_x2: return FormatNames(nil, nil, nil)
        case .qint8: return FormatNames("QInt8Storage", nil, nil)
        case .quint8: return FormatNames("QUInt8Storage", nil, nil)
        case .qint32: return FormatNames("QInt32Storage", nil, nil)
        }
    }

    private static let byStorageClass = inverse(\.storageClass)
    private static let bySafetensorsName = inverse(\.safetensors)
    private static let byNumpyCode = inverse(\.numpy)

    private static func inverse(_ column: KeyPath<FormatNames, String?>) -> [String: DType] {
        var dtypes: [String: DType] = [:]
        for dtype in allCases { if let name = dtype.formatNames[keyPath: column] { dtypes[name] = dtype } }
        return dtypes
    }

    /// The dtype a `torch.<name>` global names, with torch's aliases (`torch.float` is float32,
    /// `torch.long` is int64, …); `nil` for anything else.
    public init?(torchAttribute name: String) {
        guard let dtype = DType(rawValue: name) ?? DType.torchAliases[name] else { return nil }
        self = dtype
    }

    /// The other names torch gives dtypes (`torch.float` is float32, `torch.long` is int64).
    public static let torchAliases: [String: DType] = [
        "float": .float32, "double": .float64, "half": .float16, "long": .int64, "int": .int32, "short": .int16,
        "cfloat": .complex64, "cdouble": .complex128, "chalf": .complex32,
    ]
}
