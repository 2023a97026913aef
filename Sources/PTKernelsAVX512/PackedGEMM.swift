// Compiled with -target-cpu skylake-avx512 (see Package.swift): nothing here may run before
// PTKernels has checked that the CPU has AVX-512 (`CPUFeatures.hasAVX512`).

import CIntrinsics
import Glibc

public typealias Float16x = SIMD16<Float>

/// A weight matrix `W: [rows, k]` (PyTorch's layout) repacked once, at load time, into panel
/// pairs of 32 rows stored k-major, so that `x · Wᵀ` streams it sequentially, 32 outputs (two
/// 16-float vectors, one cache line each) per k: `panels[(q · k + kk) · 32 + j] = W[32q + j, kk]`,
/// zero past `rows`. A pair's chunk of k is one contiguous run, and so is a run of pairs: one
/// stream for the hardware prefetcher where two panels side by side made two (batch 1 streams
/// W_hh from L2 a third faster this way). The panel count (16 rows each) is even.
public struct PackedWeights {
    public let rows: Int
    public let k: Int
    public let panelCount: Int
    public let panels: [Float]

    /// - Parameter weight: `[rows, k]` row-major.
    public init(weight: UnsafePointer<Float>, rows: Int, k: Int) {
        self.rows = rows
        self.k = k
        var count = (rows + 15) / 16
        if count % 2 == 1 { count += 1 }
        panelCount = count
        // Huge pages where the kernel allows them: a step reads all of W_hh, and 16 MB of it in
        // 4 KB pages is 4,096 TLB entries, more than the L2 TLB holds.
        var panels = [Float](unsafeUninitializedCapacity: count * k * 16) { buffer, initialized in
            adviseHugePages(buffer)
            buffer.initialize(repeating: 0)
            initialized = buffer.count
        }
        panels.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                let q = r / 32, j = r % 32
                let base = q * k * 32 + j
                for kk in 0..<k { out[base + kk * 32] = weight[r * k + kk] }
            }
        }
        self.panels = panels
    }

    /// Columns of the product (`panelCount · 16`, ≥ rows).
    public var paddedRows: Int { panelCount * 16 }
}

/// `c[i, 32q + j] = Σ_k a[i, k] · W[32q + j, k]` for rows `0..<m`, pairs `q` in `panelPairs`
/// and `j` in `0..<32`: the recurrent product of one step, `h · W_hhᵀ`.
///
/// Blocked for the caches: `chunkLength(m:k:columns:)` of k at a time, 8 rows × 32 columns of
/// accumulators in registers, then 6, 4, 2 and 1 for the rows left over.
/// While the row kernels run over one chunk, they prefetch the next one (the next panel pair, or
/// the first at the next k), a slice per kernel call: a recurrent step's W_hh (4–16 MB on the
/// benchmark shapes) comes from L3 or memory every step, and without this the first row kernel
/// on each chunk waits for it (≈200 instead of ≈245 GFLOP/s a core at m = 64 from memory).
/// - Parameters:
///   - a: `[m, w.k]`, row stride `lda`.
///   - c: row stride `ldc` ≥ `w.paddedRows`; overwritten in the columns of `panelPairs`.
public func packedGEMM(m: Int, a: UnsafePointer<Float>, lda: Int, w: PackedWeights, panelPairs: Range<Int>,
                       c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, !panelPairs.isEmpty else { return }
    let k = w.k
    w.panels.withUnsafeBufferPointer { packed in
        guard let base = packed.baseAddress else { return }
        if k == 0 {
            for i in 0..<m { for q in panelPairs { for j in 0..<32 { c[i * ldc + q * 32 + j] = 0 } } }
            return
        }
        let kc = chunkLength(m: m, k: k, columns: panelPairs.count * 32)
        // Row-kernel calls per chunk that prefetch: the 8-row calls, then a 6 and a 4 for what is
        // left. (The 2- and 1-row kernels do not: they are bound by their loads already, and
        // prefetching in them cost 10% at batch 1 and 25% at batch 3.)
        let left = m % 8
        let calls = max(1, m / 8 + (left >= 6 ? 1 : 0) + (left % 6 >= 4 ? 1 : 0))
        var k0 = 0
        while k0 < k {
            let kLen = min(kc, k - k0)
            let first = k0 == 0
            for q in panelPairs {
                let b0 = base + (q * k + k0) * 32
                let b1 = b0 + 16
                // The chunk read after this one, split into one slice of lines per kernel call.
                let (nextPair, nextK) = q + 1 < panelPairs.upperBound ? (q + 1, k0) : (panelPairs.lowerBound, k0 + kLen)
                let nextLen = nextK < k ? min(kc, k - nextK) : 0
                let slice = (nextLen + calls - 1) / calls
                var call = 0
                func prefetch() -> Prefetch {
                    let from = min(call * slice, nextLen)
                    call += 1
                    return Prefetch(offset: ((nextPair - q) * k + nextK - k0 + from) * 32, lines: min(slice, nextLen - from))
                }
                var i = 0
                while i + 8 <= m {
                    kernel8(a: a + i * lda + k0, lda: lda, b0: b0, b1: b1, kLen: kLen,
                            c: c + i * ldc + q * 32, ldc: ldc, first: first, prefetch: prefetch())
                    i += 8
                }
                if i + 6 <= m {
                    kernel6(a: a + i * lda + k0, lda: lda, b0: b0, b1: b1, kLen: kLen,
                            c: c + i * ldc + q * 32, ldc: ldc, first: first, prefetch: prefetch())
                    i += 6
                }
                if i + 4 <= m {
                    kernel4(a: a + i * lda + k0, lda: lda, b0: b0, b1: b1, kLen: kLen,
                            c: c + i * ldc + q * 32, ldc: ldc, first: first, prefetch: prefetch())
                    i += 4
                }
                if i + 2 <= m {
                    kernel2(a: a + i * lda + k0, lda: lda, b0: b0, b1: b1, kLen: kLen,
                            c: c + i * ldc + q * 32, ldc: ldc, first: first)
                    i += 2
                }
                if i < m {
                    kernel1(a: a + i * lda + k0, b0: b0, b1: b1, kLen: kLen, c: c + i * ldc + q * 32, first: first)
                }
            }
            k0 += kLen
        }
    }
}

/// Lines `0 ..< lines` of the chunk after a kernel's own for it to prefetch, both lines of a k
/// step at a time: the lines `offset` floats past the ones the kernel reads. (One offset for the
/// pair's two halves: a register saved in a kernel that uses nearly all of them.)
private struct Prefetch {
    let offset: Int
    let lines: Int

    @inline(__always)
    func callAsFunction(_ line: Int, _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>) {
        if line < lines {
            ptload_prefetch(b0 + (line &* 32 &+ offset))
            ptload_prefetch(b1 + (line &* 32 &+ offset))
        }
    }
}

/// How much of k one pass over the panel pairs covers. Measured on Zen 5 (48 KB L1, 1 MB L2):
/// - a recurrent step (m ≤ 64): 128, so that a chunk of two panels (16 KB), the next one being
///   prefetched and the rows of `a` it meets fit L1 together (+2–10% over 256);
/// - a product whose output block is larger than L2 (the input projection of 1,024 rows): the
///   whole of k up to 1,024, since every further pass reads and writes that block again from L3
///   (+10–15% at k = 512 and 1,024);
/// - 256 in between.
@inline(__always)
func chunkLength(m: Int, k: Int, columns: Int) -> Int {
    if m <= 64 { return 128 }
    if m * columns * MemoryLayout<Float>.size > 1 << 20 { return min(k, 1024) }
    return 256
}

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> Float16x {
    UnsafeRawPointer(p).loadUnaligned(as: Float16x.self)
}

@inline(__always)
private func store(_ v: Float16x, _ p: UnsafeMutablePointer<Float>, accumulate: Bool) {
    let raw = UnsafeMutableRawPointer(p)
    if accumulate {
        raw.storeBytes(of: raw.loadUnaligned(as: Float16x.self) + v, as: Float16x.self)
    } else {
        raw.storeBytes(of: v, as: Float16x.self)
    }
}

/// 8 rows × 32 columns; 16 accumulators, 2 panel loads and 8 broadcasts per k. (Against the
/// 6-row kernel: +5–10% at m = 32, where 6 left 2 rows for the 2-row kernel, +2% at m = 64.)
@inline(never)
private func kernel8(a: UnsafePointer<Float>, lda: Int, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>, kLen: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool, prefetch: Prefetch) {
    var c00 = Float16x(), c01 = Float16x(), c10 = Float16x(), c11 = Float16x(), c20 = Float16x(), c21 = Float16x()
    var c30 = Float16x(), c31 = Float16x(), c40 = Float16x(), c41 = Float16x(), c50 = Float16x(), c51 = Float16x()
    var c60 = Float16x(), c61 = Float16x(), c70 = Float16x(), c71 = Float16x()
    let a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda, a6 = a5 + lda, a7 = a6 + lda
    for kk in 0..<kLen {
        prefetch(kk, b0, b1)
        let v0 = load(b0 + kk &* 32), v1 = load(b1 + kk &* 32)
        var x = Float16x(repeating: a0[kk]); c00.addProduct(x, v0); c01.addProduct(x, v1)
        x = Float16x(repeating: a1[kk]); c10.addProduct(x, v0); c11.addProduct(x, v1)
        x = Float16x(repeating: a2[kk]); c20.addProduct(x, v0); c21.addProduct(x, v1)
        x = Float16x(repeating: a3[kk]); c30.addProduct(x, v0); c31.addProduct(x, v1)
        x = Float16x(repeating: a4[kk]); c40.addProduct(x, v0); c41.addProduct(x, v1)
        x = Float16x(repeating: a5[kk]); c50.addProduct(x, v0); c51.addProduct(x, v1)
        x = Float16x(repeating: a6[kk]); c60.addProduct(x, v0); c61.addProduct(x, v1)
        x = Float16x(repeating: a7[kk]); c70.addProduct(x, v0); c71.addProduct(x, v1)
    }
    let acc = !first
    store(c00, c, accumulate: acc); store(c01, c + 16, accumulate: acc)
    store(c10, c + ldc, accumulate: acc); store(c11, c + ldc + 16, accumulate: acc)
    store(c20, c + 2 * ldc, accumulate: acc); store(c21, c + 2 * ldc + 16, accumulate: acc)
    store(c30, c + 3 * ldc, accumulate: acc); store(c31, c + 3 * ldc + 16, accumulate: acc)
    store(c40, c + 4 * ldc, accumulate: acc); store(c41, c + 4 * ldc + 16, accumulate: acc)
    store(c50, c + 5 * ldc, accumulate: acc); store(c51, c + 5 * ldc + 16, accumulate: acc)
    store(c60, c + 6 * ldc, accumulate: acc); store(c61, c + 6 * ldc + 16, accumulate: acc)
    store(c70, c + 7 * ldc, accumulate: acc); store(c71, c + 7 * ldc + 16, accumulate: acc)
}

/// 6 rows × 32 columns; 12 accumulators, 2 panel loads and 6 broadcasts per k.
@inline(never)
private func kernel6(a: UnsafePointer<Float>, lda: Int, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>, kLen: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool, prefetch: Prefetch) {
    var c00 = Float16x(), c01 = Float16x(), c10 = Float16x(), c11 = Float16x(), c20 = Float16x(), c21 = Float16x()
    var c30 = Float16x(), c31 = Float16x(), c40 = Float16x(), c41 = Float16x(), c50 = Float16x(), c51 = Float16x()
    let a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda
    for kk in 0..<kLen {
        prefetch(kk, b0, b1)
        let v0 = load(b0 + kk &* 32), v1 = load(b1 + kk &* 32)
        var x = Float16x(repeating: a0[kk]); c00.addProduct(x, v0); c01.addProduct(x, v1)
        x = Float16x(repeating: a1[kk]); c10.addProduct(x, v0); c11.addProduct(x, v1)
        x = Float16x(repeating: a2[kk]); c20.addProduct(x, v0); c21.addProduct(x, v1)
        x = Float16x(repeating: a3[kk]); c30.addProduct(x, v0); c31.addProduct(x, v1)
        x = Float16x(repeating: a4[kk]); c40.addProduct(x, v0); c41.addProduct(x, v1)
        x = Float16x(repeating: a5[kk]); c50.addProduct(x, v0); c51.addProduct(x, v1)
    }
    let acc = !first
    store(c00, c, accumulate: acc); store(c01, c + 16, accumulate: acc)
    store(c10, c + ldc, accumulate: acc); store(c11, c + ldc + 16, accumulate: acc)
    store(c20, c + 2 * ldc, accumulate: acc); store(c21, c + 2 * ldc + 16, accumulate: acc)
    store(c30, c + 3 * ldc, accumulate: acc); store(c31, c + 3 * ldc + 16, accumulate: acc)
    store(c40, c + 4 * ldc, accumulate: acc); store(c41, c + 4 * ldc + 16, accumulate: acc)
    store(c50, c + 5 * ldc, accumulate: acc); store(c51, c + 5 * ldc + 16, accumulate: acc)
}

/// One row × 32 columns (batch 1, and the last row left over by the wider kernels): four k
/// steps per iteration on eight accumulators, so the FMA latency is hidden without more rows.
@inline(__always)
private func kernel1(a: UnsafePointer<Float>, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>, kLen: Int,
                     c: UnsafeMutablePointer<Float>, first: Bool) {
    var p0 = Float16x(), p1 = Float16x(), q0 = Float16x(), q1 = Float16x()
    var r0 = Float16x(), r1 = Float16x(), s0 = Float16x(), s1 = Float16x()
    var kk = 0
    while kk + 4 <= kLen {
        let w = Float16x(repeating: a[kk]), x = Float16x(repeating: a[kk + 1])
        let y = Float16x(repeating: a[kk + 2]), z = Float16x(repeating: a[kk + 3])
        p0.addProduct(w, load(b0 + kk &* 32)); p1.addProduct(w, load(b1 + kk &* 32))
        q0.addProduct(x, load(b0 + (kk + 1) &* 32)); q1.addProduct(x, load(b1 + (kk + 1) &* 32))
        r0.addProduct(y, load(b0 + (kk + 2) &* 32)); r1.addProduct(y, load(b1 + (kk + 2) &* 32))
        s0.addProduct(z, load(b0 + (kk + 3) &* 32)); s1.addProduct(z, load(b1 + (kk + 3) &* 32))
        kk += 4
    }
    while kk < kLen {
        let w = Float16x(repeating: a[kk])
        p0.addProduct(w, load(b0 + kk &* 32)); p1.addProduct(w, load(b1 + kk &* 32))
        kk += 1
    }
    store((p0 + q0) + (r0 + s0), c, accumulate: !first)
    store((p1 + q1) + (r1 + s1), c + 16, accumulate: !first)
}

/// Two rows × 32 columns, two k steps per iteration (eight accumulators).
@inline(__always)
private func kernel2(a: UnsafePointer<Float>, lda: Int, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>, kLen: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool) {
    var c00 = Float16x(), c01 = Float16x(), c10 = Float16x(), c11 = Float16x()
    var d00 = Float16x(), d01 = Float16x(), d10 = Float16x(), d11 = Float16x()
    let a0 = a, a1 = a + lda
    var kk = 0
    while kk + 2 <= kLen {
        let v0 = load(b0 + kk &* 32), v1 = load(b1 + kk &* 32)
        let w0 = load(b0 + (kk + 1) &* 32), w1 = load(b1 + (kk + 1) &* 32)
        var x = Float16x(repeating: a0[kk]); c00.addProduct(x, v0); c01.addProduct(x, v1)
        x = Float16x(repeating: a1[kk]); c10.addProduct(x, v0); c11.addProduct(x, v1)
        x = Float16x(repeating: a0[kk + 1]); d00.addProduct(x, w0); d01.addProduct(x, w1)
        x = Float16x(repeating: a1[kk + 1]); d10.addProduct(x, w0); d11.addProduct(x, w1)
        kk += 2
    }
    if kk < kLen {
        let v0 = load(b0 + kk &* 32), v1 = load(b1 + kk &* 32)
        var x = Float16x(repeating: a0[kk]); c00.addProduct(x, v0); c01.addProduct(x, v1)
        x = Float16x(repeating: a1[kk]); c10.addProduct(x, v0); c11.addProduct(x, v1)
    }
    let acc = !first
    store(c00 + d00, c, accumulate: acc); store(c01 + d01, c + 16, accumulate: acc)
    store(c10 + d10, c + ldc, accumulate: acc); store(c11 + d11, c + ldc + 16, accumulate: acc)
}

/// Four rows × 32 columns (eight accumulators).
@inline(never)
private func kernel4(a: UnsafePointer<Float>, lda: Int, b0: UnsafePointer<Float>, b1: UnsafePointer<Float>, kLen: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool, prefetch: Prefetch) {
    var c00 = Float16x(), c01 = Float16x(), c10 = Float16x(), c11 = Float16x()
    var c20 = Float16x(), c21 = Float16x(), c30 = Float16x(), c31 = Float16x()
    let a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
    for kk in 0..<kLen {
        prefetch(kk, b0, b1)
        let v0 = load(b0 + kk &* 32), v1 = load(b1 + kk &* 32)
        var x = Float16x(repeating: a0[kk]); c00.addProduct(x, v0); c01.addProduct(x, v1)
        x = Float16x(repeating: a1[kk]); c10.addProduct(x, v0); c11.addProduct(x, v1)
        x = Float16x(repeating: a2[kk]); c20.addProduct(x, v0); c21.addProduct(x, v1)
        x = Float16x(repeating: a3[kk]); c30.addProduct(x, v0); c31.addProduct(x, v1)
    }
    let acc = !first
    store(c00, c, accumulate: acc); store(c01, c + 16, accumulate: acc)
    store(c10, c + ldc, accumulate: acc); store(c11, c + ldc + 16, accumulate: acc)
    store(c20, c + 2 * ldc, accumulate: acc); store(c21, c + 2 * ldc + 16, accumulate: acc)
    store(c30, c + 3 * ldc, accumulate: acc); store(c31, c + 3 * ldc + 16, accumulate: acc)
}

/// Asks the kernel to back the 2 MB-aligned interior of `buffer` with huge pages when it faults
/// them in (THP "madvise" mode; a hint, ignored where THP is off): a large fresh array then takes
/// a few page faults, not thousands, and a product that reads all of it a few TLB entries.
/// Call it before the first write. Buffers under 4 MB are left alone.
public func adviseHugePages(_ buffer: UnsafeMutableBufferPointer<Float>) {
    guard let base = buffer.baseAddress, buffer.count * MemoryLayout<Float>.size >= 4 << 20 else { return }
    let huge = 2 << 20
    let start = (Int(bitPattern: base) + huge - 1) / huge * huge
    let end = (Int(bitPattern: base + buffer.count)) / huge * huge
    guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pointer, end - start, MADV_HUGEPAGE)
}
