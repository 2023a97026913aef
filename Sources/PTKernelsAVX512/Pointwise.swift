// Gate non-linearities of one step, fused in one pass over the gate buffers. Written as plain
// loops over units with inlined scalar maths so that LLVM vectorises them for AVX-512 (the SIMD
// types' generic `replacing(where:)` and `rounded` lower lane by lane; these loops do not).
// Compiled for AVX-512 (see PackedGEMM.swift).

/// e^x: Cody–Waite reduction and Cephes' degree-6 polynomial (about 1 ulp), input clamped to
/// [−87.3, 88.37] so the result stays a normal float. `v · log2 e + 1.5·2²³` rounds to the
/// nearest integer n and holds n in its low mantissa bits, which become the exponent of 2ⁿ.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    var v = x < -87.3 ? -87.3 : x
    v = v > 88.37 ? 88.37 : v
    let magic: Float = 12582912  // 1.5 · 2^23
    let shifted = v * 1.44269504088896341 + magic
    let n = shifted - magic
    var r = v.addingProduct(-n, 0.693359375)
    r = r.addingProduct(n, 2.12194440e-4)
    var p: Float = 1.9875691500e-4
    p = (1.3981999507e-3 as Float).addingProduct(p, r)
    p = (8.3334519073e-3 as Float).addingProduct(p, r)
    p = (4.1665795894e-2 as Float).addingProduct(p, r)
    p = (1.6666665459e-1 as Float).addingProduct(p, r)
    p = (5.0000001201e-1 as Float).addingProduct(p, r)
    p = (r + 1).addingProduct(p, r * r)
    let exponent = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23
    return p * Float(bitPattern: UInt32(bitPattern: exponent))
}

/// σ(x) = 1 / (1 + e^−x).
@inline(__always)
func fastSigmoid(_ x: Float) -> Float {
    1 / (1 + fastExp(-x))
}

/// tanh: Cephes' odd polynomial below |x| = 0.625, 1 − 2 / (e^2|x| + 1) above, sign restored.
@inline(__always)
func fastTanh(_ x: Float) -> Float {
    let z = x * x
    var p: Float = -5.70498872745e-3
    p = (2.06390887954e-2 as Float).addingProduct(p, z)
    p = (-5.37397155531e-2 as Float).addingProduct(p, z)
    p = (1.33314422036e-1 as Float).addingProduct(p, z)
    p = (-3.33332819422e-1 as Float).addingProduct(p, z)
    let small = x.addingProduct(p * z, x)
    let a = x < 0 ? -x : x
    let large = 1 - 2 / (fastExp(a + a) + 1)
    let signed = x < 0 ? -large : large
    return a < 0.625 ? small : signed
}

/// LSTM, units `0..<count` of one row. Gate `g` (i, f, g, o) of unit `j` is
/// `x[g·xStride + j] + bias[g·xStride + j] + r[g·rStride + j]`: the input projection, both biases
/// folded (zeros for a layer without bias), and the recurrent product.
/// c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'); h' also goes to `out`.
public func lstmPointwise(count: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>, xStride: Int,
                          r: UnsafePointer<Float>, rStride: Int,
                          c: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let xi = x, xf = x + xStride, xg = x + 2 * xStride, xo = x + 3 * xStride
    let bi = bias, bf = bias + xStride, bg = bias + 2 * xStride, bo = bias + 3 * xStride
    let ri = r, rf = r + rStride, rg = r + 2 * rStride, ro = r + 3 * rStride
    for j in 0..<count {
        let i = fastSigmoid(xi[j] + bi[j] + ri[j])
        let f = fastSigmoid(xf[j] + bf[j] + rf[j])
        let g = fastTanh(xg[j] + bg[j] + rg[j])
        let o = fastSigmoid(xo[j] + bo[j] + ro[j])
        let cell = f * c[j] + i * g
        c[j] = cell
        let hidden = o * fastTanh(cell)
        h[j] = hidden
        out[j] = hidden
    }
}

/// GRU, units `0..<count` of one row: r, z = σ(x + bias + recurrent) with b_ih and b_hr, b_hz
/// folded into `bias`; n = tanh(x_n + b_in + r·(r_n + b_hn)); h' = (1 − z)·n + z·h. Biases are
/// zeros for a layer without them.
public func gruPointwise(count: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>, xStride: Int,
                         r: UnsafePointer<Float>, rStride: Int, bhn: UnsafePointer<Float>,
                         hPrevious: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    let xr = x, xz = x + xStride, xn = x + 2 * xStride
    let br = bias, bz = bias + xStride, bn = bias + 2 * xStride
    let rr = r, rz = r + rStride, rn = r + 2 * rStride
    for j in 0..<count {
        let reset = fastSigmoid(xr[j] + br[j] + rr[j])
        let update = fastSigmoid(xz[j] + bz[j] + rz[j])
        let candidate = fastTanh(xn[j] + bn[j] + reset * (rn[j] + bhn[j]))
        let hidden = (1 - update) * candidate + update * hPrevious[j]
        h[j] = hidden
        out[j] = hidden
    }
}

/// RNN, units `0..<count`: h' = act(x + bias + r), act tanh or relu (relu keeps NaN, as torch.relu).
public func rnnPointwise(count: Int, x: UnsafePointer<Float>, bias: UnsafePointer<Float>, r: UnsafePointer<Float>,
                         relu: Bool, h: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
    for j in 0..<count {
        let pre = x[j] + bias[j] + r[j]
        let hidden = relu ? (pre < 0 ? 0 : pre) : fastTanh(pre)
        h[j] = hidden
        out[j] = hidden
    }
}
