import Foundation
import PTKernels
import PTTensor
import RealModule
import XCTest

/// Every kernel set this CPU can run, for float32 and float64, against plain loops in double
/// precision: the packed product (every row kernel and its leftovers, panel ranges, each
/// cache-blocking regime), the fused LSTM/GRU/RNN gates (whole vectors and the tails), and the
/// elementwise e^x, σ and tanh. A set the CPU cannot run is skipped, naming it and what the CPU lacks.
final class KernelTests: XCTestCase {
    func testAVX512() throws { try checkEverything(.avx512) }
    func testAVX2() throws { try checkEverything(.avx2) }
    func testNEON() throws { try checkEverything(.neon) }
    func testPlain() throws { try checkEverything(.plain) }

    /// The automatic value's set is the most capable one the CPU runs, and every set the CPU
    /// runs has both tables.
    func testAutomaticSetAndTables() {
        XCTAssertEqual(Compute.automatic.kernelSet, KernelSet.allCases.first(where: CPUFeatures.canRun))
        XCTAssertEqual(Compute.automatic.engine, .packed)
        XCTAssertEqual(Compute.automatic.threads, .machine)
        XCTAssertNil(Compute.automatic.pool)
        for set in KernelSet.allCases where CPUFeatures.canRun(set) {
            XCTAssertNotNil(Float.kernels(set), "\(set)")
            XCTAssertNotNil(Double.kernels(set), "\(set)")
        }
        XCTAssertNotNil(Float.kernels(.plain))
        let ran = KernelSet.allCases.filter(CPUFeatures.canRun).map(\.rawValue)
        let skipped = KernelSet.allCases.compactMap(CPUFeatures.whyNot)
        print("kernel sets tested on this CPU: \(ran.joined(separator: ", ")); not tested: "
              + (skipped.isEmpty ? "none" : skipped.joined(separator: "; ")))
    }

    /// A value holds only sets this CPU runs: a set it runs is kept, and one it cannot run
    /// becomes the most capable one below it that it can, whether given at `init` or set later.
    func testAValueClampsToASetTheCPURuns() {
        let order = KernelSet.allCases
        for (i, set) in order.enumerated() {
            let expected = order[i...].first(where: CPUFeatures.canRun)
            XCTAssertEqual(Compute(kernelSet: set).kernelSet, expected, "\(set)")
            var value = Compute.automatic
            value.kernelSet = set
            XCTAssertEqual(value.kernelSet, expected, "\(set)")
            XCTAssertEqual(CPUFeatures.best(atMost: set), expected, "\(set)")
            if CPUFeatures.canRun(set) { XCTAssertEqual(value.kernelSet, set) }
        }
        XCTAssertEqual(Compute(kernelSet: .plain).kernelSet, .plain)
    }

    /// The reference product is the C loops for float32 and float64, and Swift loops summing in
    /// double for any other `ArrayScalar`, which has no kernel tables.
    func testReferenceProductOfEveryScalar() {
        var random = Random(seed: 11)
        let (m, n, k) = (3, 5, 7)
        let a: [Float] = random.array(m * k), b: [Float] = random.array(n * k)
        /// The product in `S`, and Σ in double over the same values in the same order, rounded to
        /// `S` once: the two agree to the bit.
        func product<S: ArrayScalar>(_: S.Type) -> (got: [S], expected: [S]) {
            let (a, b) = (a.map { S(Double($0)) }, b.map { S(Double($0)) })
            var c = [S](repeating: .nan, count: m * n)
            S.referenceProduct(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
            let expected = (0..<(m * n)).map { ij in
                S((0..<k).reduce(0.0) { $0 + Double(a[ij / n * k + $1]) * Double(b[ij % n * k + $1]) })
            }
            return (c, expected)
        }
        let double = product(Double.self), float = product(Float.self), half = product(Float16.self)
        XCTAssertEqual(double.got, double.expected)
        XCTAssertEqual(float.got, float.expected)
        XCTAssertEqual(half.got, half.expected)
        XCTAssertNil(Float16.kernels(.plain))
    }

    func checkEverything(_ set: KernelSet) throws {
        if let why = CPUFeatures.whyNot(set) { throw XCTSkip(why) }
        let f = try XCTUnwrap(Float.kernels(set)), d = try XCTUnwrap(Double.kernels(set))
        XCTAssertEqual(f.panel, 2 * d.panel)
        checkProduct(f, relative: 2e-6)
        checkProduct(d, relative: 1e-14)
        checkPanelRanges(f)
        checkPanelRanges(d)
        checkGroups(f)
        checkGroups(d)
        checkChunkRegimes(f, relative: 2e-6)
        checkFunctions(f, relative: 4e-7)
        checkFunctions(d, relative: 4e-15)
        checkGates(f, relative: 2e-6)
        checkGates(d, relative: 1e-14)
    }

    // MARK: - Products

    struct Random {
        var seed: UInt64
        mutating func next<S: BinaryFloatingPoint>() -> S {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return S(Int(seed >> 40) % 2001 - 1000) / 1000
        }
        mutating func array<S: BinaryFloatingPoint>(_ count: Int) -> [S] { (0..<count).map { _ in next() } }
    }

    /// `a · Wᵀ` through the packed kernels, every panel, into `c` of row stride paddedRows.
    func product<S: ArrayScalar>(_ t: KernelTable<S>, weight: [S], rows: Int, k: Int, a: [S], m: Int,
                                  panels: Range<Int>? = nil,
                                  fill: S = .nan) -> (c: [S], ldc: Int, packed: PackedWeights<S>) {
        let packed = weight.withUnsafeBufferPointer {
            PackedWeights(weight: $0.baseAddress!, rows: rows, k: k, kernels: t)
        }
        let ldc = packed.paddedRows
        var c = [S](repeating: fill, count: max(1, m * ldc))
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                packed.product(m: m, a: a.baseAddress!, lda: k, panels: panels ?? 0..<packed.panelCount,
                               c: c.baseAddress!, ldc: ldc)
            }
        }
        return (c, ldc, packed)
    }

    func dot<S: BinaryFloatingPoint>(_ a: [S], _ i: Int, _ w: [S], _ r: Int,
                                     _ k: Int) -> (sum: Double, magnitude: Double) {
        var sum = 0.0, magnitude = 0.0
        for kk in 0..<k {
            let p = Double(a[i * k + kk]) * Double(w[r * k + kk])
            sum += p
            magnitude += abs(p)
        }
        return (sum, magnitude)
    }

    /// Every row count through 23 (each row kernel, its leftovers), 32, 33, 200; k below, at and
    /// past a chunk; weights whose row count is not a multiple of the panel.
    func checkProduct<S: ArrayScalar>(_ t: KernelTable<S>, relative: Double) {
        var random = Random(seed: 42)
        for (rows, k) in [(t.panel * 3 - 5, 7), (2 * t.panel, 128), (t.panel + 3, 300), (3 * t.panel, 513)] {
            let weight: [S] = random.array(rows * k)
            for m in Array(1...23) + [32, 33, 200] {
                let a: [S] = random.array(m * k)
                let (c, ldc, _) = product(t, weight: weight, rows: rows, k: k, a: a, m: m)
                for i in 0..<m {
                    for r in 0..<rows {
                        let (sum, magnitude) = dot(a, i, weight, r, k)
                        XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: relative * magnitude + 1e-30,
                                       "\(t.set) \(S.self): rows \(rows), k \(k), m \(m), [\(i), \(r)]")
                    }
                    for r in rows..<ldc { XCTAssertEqual(c[i * ldc + r], 0, "\(t.set) \(S.self): padding column \(r)") }
                }
            }
        }
        // k = 0: the product of nothing is zero.
        let (c, ldc, _) = product(t, weight: [S](), rows: t.panel, k: 0, a: [S](), m: 3)
        XCTAssertEqual(c.prefix(3 * ldc).filter { $0 != 0 }.count, 0, "\(t.set) \(S.self): k = 0")
    }

    /// A range of panels (how a step is split between threads and gates) writes exactly its own
    /// columns, whichever panel comes next in the range or wraps to its start.
    func checkPanelRanges<S: ArrayScalar>(_ t: KernelTable<S>) {
        let rows = 5 * t.panel, k = 600, m = 13
        let weight = (0..<(rows * k)).map { S(($0 * 7919) % 211) / 211 - 0.5 }
        let a = (0..<(m * k)).map { S(($0 * 104729) % 97) / 97 - 0.5 }
        for panels in [1..<3, 2..<5, 4..<5, 0..<1] {
            let (c, ldc, _) = product(t, weight: weight, rows: rows, k: k, a: a, m: m, panels: panels)
            for i in 0..<m {
                for column in 0..<ldc {
                    if panels.contains(column / t.panel) {
                        let (sum, magnitude) = dot(a, i, weight, column, k)
                        XCTAssertEqual(Double(c[i * ldc + column]), sum, accuracy: 1e-5 * magnitude,
                                       "\(t.set) \(S.self): panels \(panels), [\(i), \(column)]")
                    } else {
                        XCTAssertTrue(c[i * ldc + column].isNaN,
                                      "\(t.set) \(S.self): panels \(panels) wrote column \(column)")
                    }
                }
            }
        }
    }

    /// Rows in groups (a layer's gates, each padded to whole panels): group g's row r is output
    /// column g·P·panel + r, its padding columns are zeros, and the packing is the one of each
    /// group's rows padded by hand.
    func checkGroups<S: ArrayScalar>(_ t: KernelTable<S>) {
        let groups = 3, groupRows = t.panel + 5, k = 37, m = 7
        let rows = groups * groupRows
        let weight = (0..<(rows * k)).map { S(($0 * 7919) % 211) / 211 - 0.5 }
        let a = (0..<(m * k)).map { S(($0 * 104729) % 97) / 97 - 0.5 }
        let packed = weight.withUnsafeBufferPointer {
            PackedWeights(weight: $0.baseAddress!, rows: rows, k: k, groups: groups, kernels: t)
        }
        let perGroup = (groupRows + t.panel - 1) / t.panel
        XCTAssertEqual(packed.panelCount, groups * perGroup, "\(t.set) \(S.self)")
        // The same rows padded by hand, packed as one matrix.
        let padded = perGroup * t.panel
        var byHand = [S](repeating: 0, count: groups * padded * k)
        for g in 0..<groups {
            for r in 0..<groupRows {
                for kk in 0..<k { byHand[(g * padded + r) * k + kk] = weight[(g * groupRows + r) * k + kk] }
            }
        }
        let (expected, ldc, _) = product(t, weight: byHand, rows: groups * padded, k: k, a: a, m: m)
        XCTAssertEqual(ldc, packed.paddedRows)
        var c = [S](repeating: .nan, count: m * ldc)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                packed.product(m: m, a: a.baseAddress!, lda: k, panels: 0..<packed.panelCount, c: c.baseAddress!,
                               ldc: ldc)
            }
        }
        XCTAssertEqual(c, expected, "\(t.set) \(S.self): groups")
        for i in 0..<m {
            for g in 0..<groups {
                let (sum, magnitude) = dot(a, i, weight, g * groupRows + 2, k)
                XCTAssertEqual(Double(c[i * ldc + g * padded + 2]), sum, accuracy: 1e-5 * magnitude,
                               "\(t.set) \(S.self): group \(g)")
                for r in groupRows..<padded {
                    XCTAssertEqual(c[i * ldc + g * padded + r], 0, "\(t.set) \(S.self): padding \(g), \(r)")
                }
            }
        }
    }

    /// Every cache-blocking regime: steps (m ≤ 64, k in chunks of 128), the middle (256), and an
    /// output block past 1 MB (all of k up to 1,024, then the rest).
    func checkChunkRegimes<S: ArrayScalar>(_ t: KernelTable<S>, relative: Double) {
        let rows = 8 * t.panel, k = 1030
        let weight = (0..<(rows * k)).map { S(($0 * 7919) % 211) / 211 - 0.5 }
        for m in [64, 200, (1 << 20) / (rows * MemoryLayout<S>.size) + 9] {
            let a = (0..<(m * k)).map { S(($0 * 104729) % 97) / 97 - 0.5 }
            let (c, ldc, _) = product(t, weight: weight, rows: rows, k: k, a: a, m: m)
            for i in stride(from: 0, to: m, by: 17) {
                for r in stride(from: 0, to: rows, by: 3) {
                    let (sum, magnitude) = dot(a, i, weight, r, k)
                    XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: relative * magnitude,
                                   "\(t.set) \(S.self): m \(m), [\(i), \(r)]")
                }
            }
        }
    }

    // MARK: - Elementwise functions and gates

    static func values<S: BinaryFloatingPoint>() -> [S] {
        var v: [S] = [0, -0.0, 1e-8, -1e-8, 0.3, -0.3, 0.624, 0.626, -0.626, 1, -1, 2.5, -7, 9, 15, -15, 19.9, 20.1,
                      40, -40, 87, -87, 88.3, -88.3, 100, -100, 700, -700, 1000, -1000, .infinity, -.infinity]
        for i in 0..<400 { v.append(S(i - 200) / 23) }
        return v
    }

    func checkFunctions<S: ArrayScalar>(_ t: KernelTable<S>, relative: Double) {
        let x: [S] = Self.values()
        let e = t.exp(x), s = t.sigmoid(x), h = t.tanh(x)
        for (i, v) in x.enumerated() {
            let d = Double(v)
            let context = "\(t.set) \(S.self) at \(v)"
            // e^x is clamped to normal numbers: compare where the true value is one.
            let ed = Foundation.exp(d)
            if ed > Double(S.leastNormalMagnitude) * 4 && ed < Double(S.greatestFiniteMagnitude) / 4 {
                XCTAssertEqual(Double(e[i]), ed, accuracy: relative * ed, "exp " + context)
            }
            let sd = 1 / (1 + Foundation.exp(-d))
            XCTAssertEqual(Double(s[i]), sd, accuracy: relative * sd + Double(S.leastNormalMagnitude),
                           "sigmoid " + context)
            let hd = Foundation.tanh(d)
            XCTAssertEqual(Double(h[i]), hd, accuracy: relative * abs(hd) + Double(S.leastNormalMagnitude),
                           "tanh " + context)
        }
        XCTAssertTrue(t.tanh([.nan])[0].isNaN, "\(t.set) \(S.self): tanh(NaN)")
        XCTAssertTrue(t.sigmoid([.nan])[0].isNaN, "\(t.set) \(S.self): σ(NaN)")
        XCTAssertTrue(t.exp([.nan])[0].isNaN, "\(t.set) \(S.self): exp(NaN)")
        XCTAssertEqual(t.tanh([-0.0])[0].sign, .minus, "\(t.set) \(S.self): tanh(-0)")
    }

    /// One row of each gate kind, `n` units: whole vectors plus every tail length, against the
    /// formulas in double precision.
    func checkGates<S: ArrayScalar>(_ t: KernelTable<S>, relative: Double) {
        var random = Random(seed: 7)
        func sig(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        for n in [1, t.panel / 2 - 1, t.panel / 2, t.panel / 2 + 1, t.panel + 3, 37] where n > 0 {
            let xs = n + 5, rs = n + 9
            let x: [S] = random.array(4 * xs).map { $0 * 3 }, bias: [S] = random.array(4 * xs)
            let r: [S] = random.array(4 * rs).map { $0 * 2 }
            let c0: [S] = random.array(n), hPrevious: [S] = random.array(n), bhn: [S] = random.array(n)
            let context = "\(t.set) \(S.self), n \(n)"
            func pre(_ g: Int, _ u: Int) -> Double {
                Double(x[g * xs + u]) + Double(bias[g * xs + u]) + Double(r[g * rs + u])
            }

            var c = c0, h = [S](repeating: .nan, count: n), out = [S](repeating: .nan, count: n)
            t.lstm(n, x, bias, xs, r, rs, &c, &h, &out)
            for u in 0..<n {
                let cell = sig(pre(1, u)) * Double(c0[u]) + sig(pre(0, u)) * Foundation.tanh(pre(2, u))
                let hidden = sig(pre(3, u)) * Foundation.tanh(cell)
                XCTAssertEqual(Double(c[u]), cell, accuracy: relative * 4, "lstm c " + context)
                XCTAssertEqual(Double(h[u]), hidden, accuracy: relative * 4, "lstm h " + context)
                XCTAssertEqual(out[u], h[u], "lstm out " + context)
            }

            h = [S](repeating: .nan, count: n); out = h
            t.gru(n, x, bias, xs, r, rs, bhn, hPrevious, &h, &out)
            for u in 0..<n {
                let reset = sig(pre(0, u)), update = sig(pre(1, u))
                let candidate = Foundation.tanh(Double(x[2 * xs + u]) + Double(bias[2 * xs + u])
                                                + reset * (Double(r[2 * rs + u]) + Double(bhn[u])))
                let hidden = (1 - update) * candidate + update * Double(hPrevious[u])
                XCTAssertEqual(Double(h[u]), hidden, accuracy: relative * 4, "gru " + context)
                XCTAssertEqual(out[u], h[u], "gru out " + context)
            }

            for relu in [false, true] {
                h = [S](repeating: .nan, count: n); out = h
                t.rnn(n, x, bias, r, relu, &h, &out)
                for u in 0..<n {
                    let p = pre(0, u)
                    XCTAssertEqual(Double(h[u]), relu ? max(p, 0) : Foundation.tanh(p), accuracy: relative * 4,
                                   "rnn relu=\(relu) " + context)
                    XCTAssertEqual(out[u], h[u], "rnn out " + context)
                }
            }
        }
        // relu keeps NaN, as torch.relu does.
        var h: [S] = [0], out: [S] = [0]
        t.rnn(1, [.nan], [0], [0], true, &h, &out)
        XCTAssertTrue(h[0].isNaN, "\(t.set) \(S.self): relu(NaN)")
    }
}

/// An element type with no kernels, for the reference product's Swift loops.
extension Float16: ArrayScalar {
    public static var dtype: DType { .float16 }
    public static func values(of tensor: Tensor) throws -> [Float16] { try tensor.floats().map { Float16($0) } }
    public static func doubles(_ values: ArraySlice<Float16>) -> [Double] { values.map(Double.init) }
}
