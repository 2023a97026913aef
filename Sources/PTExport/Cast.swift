import PTTensor

/// Casts between floating-point dtypes, bit for bit as PyTorch's x86-64 CPU `tensor.to(dtype)`
/// casts a contiguous tensor of many elements (what a `state_dict` holds), NaNs included.
///
/// torch widens every source to float (`c10::convert`, `Half::operator float`, the float8
/// `operator float`s) and narrows that float to the target, so a cast here is two steps: the
/// source's float32 bits (`float32Bits`), then the target's encoding of them (`half(bits:)`,
/// `bfloat16(bits:nan:)`). Finite values round to nearest even, overflow to infinity and keep
/// subnormals; a float64 is rounded to float32 first, as `_mm512_cvtpd_ps` and `float(double)`
/// round it.
///
/// Where torch's result depends on the element's position rather than its value, the body of
/// the vectorised loop is followed (ptload_tools.fixtures.casts probes and records this):
/// - float16 → float32: the last `n mod 8` elements of each thread's chunk come out as
///   0x7FFFFFFF for every NaN; the body keeps sign and payload (`vcvtph2ps`).
/// - float64 → bfloat16: the last `n mod 16` elements of each chunk, and non-contiguous or
///   one-element tensors, give 0x7FC0 (`c10::BFloat16(float)`); the body gives 0xFFFF
///   (`cvtfp32_bf16`).
/// - float32 → bfloat16: a strided or stride-0 (expanded) source gives 0x7FC0; contiguous
///   tensors of any size give 0xFFFF.
enum Cast {
    /// Appends the `source.count / from.itemSize` elements of `source` cast to `to`, as
    /// little-endian bytes.
    ///
    /// A chunk boundary changes nothing: every element is cast on its own, so a tensor can be
    /// streamed through in pieces of whole elements.
    /// - Parameters:
    ///   - source: little-endian elements of `from`; a trailing partial element is ignored.
    ///   - from: a floating-point dtype (`DType.isFloatingPoint`).
    ///   - to: float16, bfloat16 or float32.
    ///   - out: the bytes are appended here, `to.itemSize` per element.
    static func convert(_ source: UnsafeRawBufferPointer, from: DType, to: DType, into out: inout [UInt8]) {
        precondition(from.isFloatingPoint, "cannot cast from \(from)")
        precondition(to == .float16 || to == .bfloat16 || to == .float32, "cannot cast to \(to)")
        let count = source.count / from.itemSize
        if from == to {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[..<(count * from.itemSize)]))
            return
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count * to.itemSize))
        out.withUnsafeMutableBytes { buffer in
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[start...])
            switch to {
            case .float16:
                for i in 0..<count {
                    target.storeBytes(of: half(bits: float32Bits(source, i, from)).littleEndian,
                                      toByteOffset: 2 * i, as: UInt16.self)
                }
            case .bfloat16:
                let nan = bfloat16NaN(from: from)
                for i in 0..<count {
                    target.storeBytes(of: bfloat16(bits: float32Bits(source, i, from), nan: nan).littleEndian,
                                      toByteOffset: 2 * i, as: UInt16.self)
                }
            default:
                for i in 0..<count {
                    target.storeBytes(of: float32Bits(source, i, from).littleEndian,
                                      toByteOffset: 4 * i, as: UInt32.self)
                }
            }
        }
    }

    // MARK: Widening to float32

    /// The float32 bits torch's conversion to float gives element `index` of `source`.
    @inline(__always)
    static func float32Bits(_ source: UnsafeRawBufferPointer, _ index: Int, _ dtype: DType) -> UInt32 {
        switch dtype {
        case .float32: return UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        case .float16:
            return halfToFloat32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
        case .bfloat16:
            return UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))) << 16
        case .float64:
            return doubleToFloat32(UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * index,
                                                                              as: UInt64.self)))
        case .float8_e4m3fn: return e4m3fnToFloat32(source[index])
        // e5m2 is the top byte of a float16 (c10/util/Float8_e5m2.h fp8e5m2_to_fp32_value).
        case .float8_e5m2: return halfToFloat32(UInt16(source[index]) << 8)
        case .float8_e4m3fnuz: return fnuzToFloat32(source[index], mantissaBits: 3, bias: 8)
        case .float8_e5m2fnuz: return fnuzToFloat32(source[index], mantissaBits: 2, bias: 16)
        case .float8_e8m0fnu: return e8m0fnuToFloat32(source[index])
        default: preconditionFailure("cannot cast from \(dtype)")
        }
    }

    /// float16 to float32 as `vcvtph2ps` widens it (`_cvtsh_ss`, c10/util/Half.h
    /// `fp16_ieee_to_fp32_value` under C10_X86_F16): exact; a NaN keeps sign and payload and is
    /// made quiet.
    static func halfToFloat32(_ h: UInt16) -> UInt32 {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        switch exponent {
        case 0x1F: return sign | 0x7F80_0000 | (mantissa == 0 ? 0 : 0x0040_0000 | mantissa << 13)
        case 0:
            guard mantissa != 0 else { return sign }
            // Subnormal: mantissa · 2^-24, normalised so its leading one is bit 10.
            let shift = UInt32(mantissa.leadingZeroBitCount - 21)
            return sign | (113 - shift) << 23 | ((mantissa << shift) & 0x03FF) << 13
        default: return sign | (exponent + 112) << 23 | mantissa << 13
        }
    }

    /// float64 to float32 as `cvtsd2ss` / `_mm512_cvtpd_ps` narrow it: round to nearest even; a
    /// NaN keeps its sign and the top 23 bits of its payload and is made quiet.
    static func doubleToFloat32(_ bits: UInt64) -> UInt32 {
        let value = Double(bitPattern: bits)
        guard value.isNaN else { return Float(value).bitPattern }
        let sign = UInt32(truncatingIfNeeded: bits >> 32) & 0x8000_0000
        return sign | 0x7FC0_0000 | UInt32(truncatingIfNeeded: bits >> 29) & 0x003F_FFFF
    }

    /// c10/util/Float8_e4m3fn.h `fp8e4m3fn_to_fp32_value`: exact; S.1111.111 (NaN) gives
    /// sign | 0x7FF00000.
    static func e4m3fnToFloat32(_ byte: UInt8) -> UInt32 {
        let sign = UInt32(byte & 0x80) << 24
        if byte & 0x7F == 0x7F { return sign | 0x7FF0_0000 }
        return sign | minifloatMagnitude(byte & 0x7F, mantissaBits: 3, bias: 7)
    }

    /// c10/util/Float8_fnuz_cvt.h `fp8_fnuz_to_fp32_value`: exact; 0x80, the only NaN, gives
    /// 0x7F800001 (a signalling NaN, passed on as is).
    static func fnuzToFloat32(_ byte: UInt8, mantissaBits: Int, bias: Int) -> UInt32 {
        if byte == 0x80 { return 0x7F80_0001 }
        return UInt32(byte & 0x80) << 24 | minifloatMagnitude(byte & 0x7F, mantissaBits: mantissaBits, bias: bias)
    }

    /// c10/util/Float8_e8m0fnu.h `operator float`: 2^(e − 127); 0xFF (NaN) gives 0x7F800001.
    static func e8m0fnuToFloat32(_ byte: UInt8) -> UInt32 {
        switch byte {
        case 0xFF: return 0x7F80_0001
        case 0: return 0x0040_0000  // 2^-127, a float32 subnormal
        default: return UInt32(byte) << 23
        }
    }

    /// The float32 bits of a finite 8-bit float's magnitude (`byte` without its sign bit).
    private static func minifloatMagnitude(_ byte: UInt8, mantissaBits: Int, bias: Int) -> UInt32 {
        let exponent = Int(byte) >> mantissaBits
        let mantissa = Int(byte) & (1 << mantissaBits - 1)
        let value = exponent == 0
            ? Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: Float(mantissa))
            : Float(sign: .plus, exponent: exponent - bias - mantissaBits,
                    significand: Float(mantissa | 1 << mantissaBits))
        return value.bitPattern
    }

    // MARK: Narrowing from float32

    /// IEEE half from float32 bits, as x86's `vcvtps2ph` rounds (`_mm512_cvtps_ph`, c10/util/Half.h
    /// `float2half_scalar`): a NaN keeps its sign and the top ten bits of its payload, made quiet.
    static func half(bits w: UInt32) -> UInt16 {
        if w & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: ((w >> 16) & 0x8000) | 0x7E00 | ((w >> 13) & 0x03FF))
        }
        // c10/util/Half.h fp16_ieee_from_fp32_value, which rounds as vcvtps2ph does.
        let scaleToInf = Float(bitPattern: 0x7780_0000)    // 2^112
        let scaleToZero = Float(bitPattern: 0x0880_0000)   // 2^-110
        var base = (abs(Float(bitPattern: w)) * scaleToInf) * scaleToZero
        let shl1 = w &+ w
        let sign = w & 0x8000_0000
        var bias = shl1 & 0xFF00_0000
        if bias < 0x7100_0000 { bias = 0x7100_0000 }
        base = Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + base
        let bits = base.bitPattern
        let exponent = (bits >> 13) & 0x0000_7C00
        let mantissa = bits & 0x0000_0FFF
        return UInt16(truncatingIfNeeded: (sign >> 16) | (exponent &+ mantissa))
    }

    /// `half(bits:)` of a Float.
    static func half(_ f: Float) -> UInt16 { half(bits: f.bitPattern) }

    /// bfloat16 from float32 bits, round to nearest even; any NaN becomes `nan`.
    static func bfloat16(bits u: UInt32, nan: UInt16) -> UInt16 {
        if u & 0x7FFF_FFFF > 0x7F80_0000 { return nan }
        let bias = ((u >> 16) & 1) &+ 0x7FFF
        return UInt16(truncatingIfNeeded: (u &+ bias) >> 16)
    }

    /// bfloat16 from a float32 tensor's element (NaN → 0xFFFF, the vectorised loop's).
    static func bfloat16(_ f: Float) -> UInt16 { bfloat16(bits: f.bitPattern, nan: 0xFFFF) }

    /// What a NaN of `source` becomes in bfloat16. float32 and float64 go through the vectorised
    /// `cvtfp32_bf16` (aten/src/ATen/cpu/vec/vec512/vec512_bfloat16.h), which blends in 0xFFFF;
    /// every other source goes element by element through `c10::BFloat16(float)`
    /// (c10/util/BFloat16.h `round_to_nearest_even`), which returns 0x7FC0.
    static func bfloat16NaN(from source: DType) -> UInt16 {
        source == .float32 || source == .float64 ? 0xFFFF : 0x7FC0
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}
