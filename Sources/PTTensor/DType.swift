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

    /// The dtype a legacy typed-storage class stands for (`torch/storage.py
    /// _dtype_to_storage_type_map`); `nil` for an unknown name. `UntypedStorage` is bytes.
    public init?(storageClass name: String) {
        switch name {
        case "DoubleStorage": self = .float64
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage", "UntypedStorage": self = .uint8
        case "BoolStorage": self = .bool
        case "BFloat16Storage": self = .bfloat16
        case "ComplexDoubleStorage": self = .complex128
        case "ComplexFloatStorage": self = .complex64
        case "QInt8Storage": self = .qint8
        case "QUInt8Storage": self = .quint8
        case "QInt32Storage": self = .qint32
        default: return nil
        }
    }

    /// The dtype a `torch.<name>` global names, with torch's aliases (`torch.float` is float32,
    /// `torch.long` is int64, …); `nil` for anything else.
    public init?(torchAttribute name: String) {
        if let d = DType(rawValue: name) { self = d; return }
        switch name {
        case "float": self = .float32
        case "double": self = .float64
        case "half": self = .float16
        case "long": self = .int64
        case "int": self = .int32
        case "short": self = .int16
        case "cfloat": self = .complex64
        case "cdouble": self = .complex128
        case "chalf": self = .complex32
        default: return nil
        }
    }
}
