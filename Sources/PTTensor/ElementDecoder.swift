/// Reads one element of a real dtype from little-endian bytes and widens it to `Double`.
enum ElementDecoder {
    typealias Decode = (UnsafeRawBufferPointer, Int) -> Double

    static func real(_ dtype: DType) throws -> Decode {
        switch dtype {
        case .float32: return { Double($0.loadUnaligned(fromByteOffset: $1, as: Float.self)) }
        case .float64: return { $0.loadUnaligned(fromByteOffset: $1, as: Double.self) }
        case .float16: return { Double(halfToFloat($0.loadUnaligned(fromByteOffset: $1, as: UInt16.self))) }
        case .bfloat16:
            return { Double(Float(bitPattern: UInt32($0.loadUnaligned(fromByteOffset: $1, as: UInt16.self)) << 16)) }
        case .int8, .qint8: return { Double($0.loadUnaligned(fromByteOffset: $1, as: Int8.self)) }
        case .int16: return { Double($0.loadUnaligned(fromByteOffset: $1, as: Int16.self)) }
        case .int32, .qint32: return { Double($0.loadUnaligned(fromByteOffset: $1, as: Int32.self)) }
        case .int64: return { Double($0.loadUnaligned(fromByteOffset: $1, as: Int64.self)) }
        case .uint8, .quint8: return { Double($0[$1]) }
        case .uint16: return { Double($0.loadUnaligned(fromByteOffset: $1, as: UInt16.self)) }
        case .uint32: return { Double($0.loadUnaligned(fromByteOffset: $1, as: UInt32.self)) }
        case .uint64: return { Double($0.loadUnaligned(fromByteOffset: $1, as: UInt64.self)) }
        case .bool: return { $0[$1] != 0 ? 1 : 0 }
        case .float8_e4m3fn: return { Minifloat.e4m3fn.decode($0[$1]) }
        case .float8_e5m2: return { Minifloat.e5m2.decode($0[$1]) }
        case .float8_e4m3fnuz: return { Minifloat.e4m3fnuz.decode($0[$1]) }
        case .float8_e5m2fnuz: return { Minifloat.e5m2fnuz.decode($0[$1]) }
        case .float8_e8m0fnu:
            // Exponent only: 2^(e − 127); 0xFF is NaN (c10/util/Float8_e8m0fnu.h).
            return { b, o in b[o] == 0xFF ? .nan : Double(sign: .plus, exponent: Int(b[o]) - 127, significand: 1) }
        case .complex32, .complex64, .complex128, .float4_e2m1fn_x2:
            throw TensorError.notReal(dtype: dtype)
        }
    }

    /// IEEE 754 binary16 to binary32, exactly.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: FloatingPointSign = (h & 0x8000) != 0 ? .minus : .plus
        let exponent = Int((h >> 10) & 0x1F)
        let fraction = Float(h & 0x3FF)
        switch exponent {
        case 0: return Float(sign: sign, exponent: -24, significand: fraction)       // zero, subnormal
        case 0x1F: return fraction == 0 ? (sign == .minus ? -.infinity : .infinity) : .nan
        default: return Float(sign: sign, exponent: exponent - 25, significand: 1024 + fraction)
        }
    }
}

/// The 8-bit float formats of `c10/util/Float8_*.h`.
struct Minifloat {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int
    /// IEEE-style: all-ones exponent means inf/NaN (e5m2).
    let ieeeSpecials: Bool
    /// "fn": no infinities; NaN is S.1111.111 (e4m3fn).
    let nanIsAllOnes: Bool
    /// "fnuz": no negative zero; 0x80 is the only NaN.
    let unsignedZero: Bool

    static let e4m3fn = Minifloat(exponentBits: 4, mantissaBits: 3, bias: 7, ieeeSpecials: false, nanIsAllOnes: true,
                                  unsignedZero: false)
    static let e5m2 = Minifloat(exponentBits: 5, mantissaBits: 2, bias: 15, ieeeSpecials: true, nanIsAllOnes: false,
                                unsignedZero: false)
    static let e4m3fnuz = Minifloat(exponentBits: 4, mantissaBits: 3, bias: 8, ieeeSpecials: false, nanIsAllOnes: false,
                                    unsignedZero: true)
    static let e5m2fnuz = Minifloat(exponentBits: 5, mantissaBits: 2, bias: 16, ieeeSpecials: false,
                                    nanIsAllOnes: false, unsignedZero: true)

    func decode(_ byte: UInt8) -> Double {
        if unsignedZero && byte == 0x80 { return .nan }
        let negative = byte & 0x80 != 0
        let exponentMask = (1 << exponentBits) - 1
        let exponent = Int(byte >> UInt8(mantissaBits)) & exponentMask
        let mantissa = Int(byte) & ((1 << mantissaBits) - 1)
        if ieeeSpecials && exponent == exponentMask {
            return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan
        }
        if nanIsAllOnes && exponent == exponentMask && mantissa == (1 << mantissaBits) - 1 { return .nan }
        let magnitude: Double
        if exponent == 0 {
            magnitude = Double(sign: .plus, exponent: 1 - bias - mantissaBits, significand: Double(mantissa))
        } else {
            magnitude = Double(sign: .plus, exponent: exponent - bias - mantissaBits,
                               significand: Double((1 << mantissaBits) + mantissa))
        }
        return negative ? -magnitude : magnitude
    }
}
