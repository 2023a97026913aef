import PTTensor

/// Casts of floating-point values, rounded as PyTorch's x86-64 CPU casts round (its vectorised
/// conversion loops, which it takes for one element too; Fixtures/export/manifest.json holds
/// torch's results on every rounding case): round to nearest even, overflow to infinity,
/// subnormals kept. A float64 value is first rounded to float32, as the cast through float does.
enum Cast {
    /// `values` (exact widenings of the source dtype) as `dtype`'s little-endian bytes.
    static func bytes(_ values: [Double], to dtype: DType, from source: DType) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * dtype.itemSize)
        for value in values {
            let single = Float(value)
            switch dtype {
            case .float16: append(half(single), to: &out)
            case .bfloat16: append(bfloat16(single), to: &out)
            default: append(single.bitPattern, to: &out)
            }
        }
        return out
    }

    /// IEEE half from float (as x86's `vcvtps2ph` rounds): a NaN keeps its sign and the top ten
    /// bits of its payload, made quiet.
    static func half(_ f: Float) -> UInt16 {
        if f.isNaN {
            let w = f.bitPattern
            return UInt16(truncatingIfNeeded: ((w >> 16) & 0x8000) | 0x7E00 | ((w >> 13) & 0x03FF))
        }
        let scaleToInf = Float(bitPattern: 0x7780_0000)    // 2^112
        let scaleToZero = Float(bitPattern: 0x0880_0000)   // 2^-110
        var base = (abs(f) * scaleToInf) * scaleToZero
        let w = f.bitPattern
        let shl1 = w &+ w
        let sign = w & 0x8000_0000
        var bias = shl1 & 0xFF00_0000
        if bias < 0x7100_0000 { bias = 0x7100_0000 }
        base = Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + base
        let bits = base.bitPattern
        let exponent = (bits >> 13) & 0x0000_7C00
        let mantissa = bits & 0x0000_0FFF
        let nonsign = exponent &+ mantissa
        return UInt16(truncatingIfNeeded: (sign >> 16) | (shl1 > 0xFF00_0000 ? 0x7E00 : nonsign))
    }

    /// bfloat16 from float, round to nearest even; any NaN becomes 0xFFFF (torch's vectorised
    /// conversion; its scalar one would give 0x7FC0).
    static func bfloat16(_ f: Float) -> UInt16 {
        if f.isNaN { return 0xFFFF }
        let u = f.bitPattern
        let bias = ((u >> 16) & 1) &+ 0x7FFF
        return UInt16(truncatingIfNeeded: (u &+ bias) >> 16)
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
}
