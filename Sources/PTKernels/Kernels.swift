#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTKernelsC
import PTTensor

/// One element type's kernels for one instruction set (Sources/PTKernelsC/include/ptkernels.h):
/// the packed product, the fused gates of one row, and the elementwise functions they use.
/// Lengths and strides count elements.
public struct KernelTable<Scalar>: Sendable {
    public let set: KernelSet
    /// Rows per panel of packed weights (two vectors of the set).
    public let panel: Int
    let packedCount: @Sendable (Int, Int) -> Int
    let pack: @Sendable (UnsafePointer<Scalar>, Int, Int, UnsafeMutablePointer<Scalar>) -> Void
    let gemm: @Sendable (Int, Int, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>, Int, Int,
                         UnsafeMutablePointer<Scalar>, Int) -> Void
    let gemmRowwise: @Sendable (Int, Int, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>, Int, Int,
                                UnsafeMutablePointer<Scalar>, Int) -> Void
    /// (m, k, a, lda, ap): a's rows packed the way the product reads them, m·k values.
    public let packRows: @Sendable (Int, Int, UnsafePointer<Scalar>, Int, UnsafeMutablePointer<Scalar>) -> Void
    let gemmRows: @Sendable (Int, Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>, Int, Int,
                             UnsafeMutablePointer<Scalar>, Int, Bool) -> Void
    /// LSTM gates of one row: (n, x, bias, xs, r, rs, c, h, out); see `ptk_f32_ops.lstm`.
    public let lstm: @Sendable (Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>, Int,
                      UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    /// GRU gates of one row: (n, x, bias, xs, r, rs, bhn, hprev, h, out).
    public let gru: @Sendable (Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>, Int, UnsafePointer<Scalar>, Int,
                     UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>,
                     UnsafeMutablePointer<Scalar>) -> Void
    /// RNN of one row: (n, x, bias, r, relu, h, out).
    public let rnn: @Sendable (Int, UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafePointer<Scalar>, Bool,
                     UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    let exp: @Sendable (Int, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    let sigmoid: @Sendable (Int, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void
    let tanh: @Sendable (Int, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void

    /// e^x, σ(x) and tanh(x) of every value, as the gates compute them.
    public func exp(_ x: [Scalar]) -> [Scalar] { apply(exp, x) }
    public func sigmoid(_ x: [Scalar]) -> [Scalar] { apply(sigmoid, x) }
    public func tanh(_ x: [Scalar]) -> [Scalar] { apply(tanh, x) }

    private func apply(_ f: (Int, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>) -> Void,
                       _ x: [Scalar]) -> [Scalar] {
        [Scalar](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { input in
                if let source = input.baseAddress, let destination = out.baseAddress { f(x.count, source, destination) }
            }
            initialized = x.count
        }
    }
}

extension Float {
    /// `ArrayScalar.kernels(_:)` for float32.
    static func kernelTable(_ set: KernelSet) -> KernelTable<Float>? {
        guard let t = ptk_f32(set.isa)?.pointee, let packedCount = t.packed_count, let pack = t.pack, let gemm = t.gemm,
              let gemmRowwise = t.gemm_rowwise, let packRows = t.pack_rows, let gemmRows = t.gemm_rows,
              let lstm = t.lstm, let gru = t.gru, let rnn = t.rnn, let exp = t.exp, let sigmoid = t.sigmoid,
              let tanh = t.tanh else { return nil }
        return KernelTable(
            set: set, panel: t.panel,
            packedCount: { packedCount($0, $1) }, pack: { pack($0, $1, $2, $3) },
            gemm: { gemm($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            gemmRowwise: { gemmRowwise($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            packRows: { packRows($0, $1, $2, $3, $4) },
            gemmRows: { gemmRows($0, $1, $2, $3, $4, $5, $6, $7, $8 ? 1 : 0) },
            lstm: { lstm($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            gru: { gru($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) },
            rnn: { rnn($0, $1, $2, $3, $4 ? 1 : 0, $5, $6) },
            exp: { exp($0, $1, $2) }, sigmoid: { sigmoid($0, $1, $2) }, tanh: { tanh($0, $1, $2) })
    }
}

extension Double {
    /// `ArrayScalar.kernels(_:)` for float64.
    static func kernelTable(_ set: KernelSet) -> KernelTable<Double>? {
        guard let t = ptk_f64(set.isa)?.pointee, let packedCount = t.packed_count, let pack = t.pack, let gemm = t.gemm,
              let gemmRowwise = t.gemm_rowwise, let packRows = t.pack_rows, let gemmRows = t.gemm_rows,
              let lstm = t.lstm, let gru = t.gru, let rnn = t.rnn, let exp = t.exp, let sigmoid = t.sigmoid,
              let tanh = t.tanh else { return nil }
        return KernelTable(
            set: set, panel: t.panel,
            packedCount: { packedCount($0, $1) }, pack: { pack($0, $1, $2, $3) },
            gemm: { gemm($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            gemmRowwise: { gemmRowwise($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            packRows: { packRows($0, $1, $2, $3, $4) },
            gemmRows: { gemmRows($0, $1, $2, $3, $4, $5, $6, $7, $8 ? 1 : 0) },
            lstm: { lstm($0, $1, $2, $3, $4, $5, $6, $7, $8) },
            gru: { gru($0, $1, $2, $3, $4, $5, $6, $7, $8, $9) },
            rnn: { rnn($0, $1, $2, $3, $4 ? 1 : 0, $5, $6) },
            exp: { exp($0, $1, $2) }, sigmoid: { sigmoid($0, $1, $2) }, tanh: { tanh($0, $1, $2) })
    }
}

/// A weight matrix `W: [rows, k]` (PyTorch's layout) packed once, at load time, for one kernel
/// set: panels of `kernels.panel` rows stored k-major, so that `x · Wᵀ` streams it sequentially,
/// a panel's outputs per k: `panels[(q · k + kk) · panel + j] = W[q · panel + j, kk]`, zero past
/// `rows`.
public struct PackedWeights<Scalar: ArrayScalar>: Sendable {
    public let kernels: KernelTable<Scalar>
    public let rows: Int
    public let k: Int
    /// Panels of `kernels.panel` rows (the last one padded with zeros).
    public let panelCount: Int
    let panels: AlignedStorage<Scalar>

    /// - Parameters:
    ///   - weight: `[rows, k]` row-major.
    ///   - groups: `rows` is that many runs of `rows / groups` rows (a recurrent layer's gates),
    ///     each packed as a matrix of its own, padded to whole panels: group g is then panels
    ///     `g·P ..< (g + 1)·P` with P = `panelCount / groups`, and a range of its panels a range
    ///     of its rows. Output column `g·P·panel + r` is row r of group g.
    public init(weight: UnsafePointer<Scalar>, rows: Int, k: Int, groups: Int = 1, kernels: KernelTable<Scalar>) {
        precondition(groups >= 1 && rows % groups == 0, "PackedWeights: \(rows) rows in \(groups) groups")
        self.kernels = kernels
        self.rows = rows
        self.k = k
        let groupRows = rows / groups
        panelCount = groups * ((groupRows + kernels.panel - 1) / kernels.panel)
        let groupCount = kernels.packedCount(groupRows, k)
        let count = groups * groupCount
        // Huge pages where the kernel allows them: a step reads all of W_hh, and 16 MB of it in
        // 4 KB pages is 4,096 TLB entries, more than the L2 TLB holds.
        panels = AlignedStorage(count: max(count, 1))
        adviseHugePages(panels.buffer)
        if count > 0 {
            // `pack` writes every element, the padding's zeros too.
            for g in 0..<groups {
                kernels.pack(weight + g * groupRows * k, groupRows, k, panels.pointer + g * groupCount)
            }
        } else {
            panels.pointer.initialize(to: 0)
        }
    }

    /// Columns of the product (`panelCount · panel`, ≥ rows).
    public var paddedRows: Int { panelCount * kernels.panel }

    /// `c[i, q·panel + j] = Σ_kk a[i, kk] · W[q·panel + j, kk]` for rows `0..<m`, panels `q` in
    /// `panels` and `j` in `0..<panel`: e.g. one step's recurrent product `h · W_hhᵀ`.
    /// - Parameters:
    ///   - a: `[m, k]`, row stride `lda`.
    ///   - c: row stride `ldc` ≥ `paddedRows`; overwritten in the columns of `panels`.
    public func product(m: Int, a: UnsafePointer<Scalar>, lda: Int, panels range: Range<Int>,
                        c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        guard m > 0, !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= panelCount,
                     "panels \(range) outside 0..<\(panelCount)")
        kernels.gemm(m, k, a, lda, panels.pointer, range.lowerBound, range.upperBound, c, ldc)
    }

    /// `product` over every panel, each row's sums done the same way whatever `m` and the row's
    /// place among the `m` (`ptk_f32_ops.gemm_rowwise`): a sequence's input projection gives the
    /// same bits projected whole, in row slices shared among threads, or a streamed chunk at a time.
    /// `panels`: the product's panels (all of them unless given), each output the same bits.
    public func rowwiseProduct(m: Int, a: UnsafePointer<Scalar>, lda: Int, panels range: Range<Int>? = nil,
                               c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        let range = range ?? 0..<panelCount
        guard m > 0, !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= panelCount,
                     "panels \(range) outside 0..<\(panelCount)")
        kernels.gemmRowwise(m, k, a, lda, panels.pointer, range.lowerBound, range.upperBound, c, ldc)
    }

    /// `product` from rows that `kernels.packRows` packed (m·k values): several products over
    /// the same rows, such as the parts of a step split among threads, pack them once.
    /// `descending`: the panels read from the last down (the same bits), so that a product
    /// reading them the other way from the one before finds those it read last still in cache.
    public func product(m: Int, packedRows: UnsafePointer<Scalar>, panels range: Range<Int>,
                        c: UnsafeMutablePointer<Scalar>, ldc: Int, descending: Bool = false) {
        guard m > 0, !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= panelCount,
                     "panels \(range) outside 0..<\(panelCount)")
        kernels.gemmRows(m, k, packedRows, panels.pointer, range.lowerBound, range.upperBound, c, ldc, descending)
    }
}

/// Packed weights' memory, aligned to a cache line: a large Swift array's elements start 48
/// bytes into one, so every other AVX2 load of a panel (and every AVX-512 one) would straddle
/// two lines; aligned, lstm_med_bi2 ran 2% faster on AVX2 (docs/PERFORMANCE.md).
final class AlignedStorage<Scalar>: @unchecked Sendable {
    // @unchecked: written once, by the initialiser of the PackedWeights that owns it; read-only after.
    let pointer: UnsafeMutablePointer<Scalar>
    let count: Int

    /// `count` elements, uninitialised.
    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Scalar>.stride, alignment: 64)
            .bindMemory(to: Scalar.self, capacity: count)
    }

    var buffer: UnsafeMutableBufferPointer<Scalar> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}

/// Asks the kernel to back the 2 MB-aligned interior of `buffer` with huge pages when it faults
/// them in (Linux's THP "madvise" mode; a hint, ignored where THP is off, and nothing elsewhere):
/// a large fresh array then takes a few page faults, not thousands, and a product that reads all
/// of it a few TLB entries. Call it before the first write. Buffers under 4 MB are left alone.
public func adviseHugePages<Scalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>) {
    #if os(Linux)
    guard let base = buffer.baseAddress, buffer.count * MemoryLayout<Scalar>.stride >= 4 << 20 else { return }
    let huge = 2 << 20
    let start = (Int(bitPattern: base) + huge - 1) / huge * huge
    let end = (Int(bitPattern: base + buffer.count)) / huge * huge
    guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pointer, end - start, MADV_HUGEPAGE)
    #endif
}
