import PTKernels
@testable import PTKernelsAVX512
import XCTest

/// The AVX-512 packed product against a plain triple loop, for every row kernel and its
/// leftovers, k below, at and above the 256-wide cache block, and weights whose row count is
/// not a multiple of the 32-column panel pair.
final class PackedGEMMTests: XCTestCase {
    func testMatchesThePlainProduct() throws {
        if let why = CPUFeatures.whyNot(.avx512) { throw XCTSkip(why) }
        var seed: UInt64 = 42
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 1000
        }
        for (rows, k) in [(48, 7), (64, 256), (40, 300), (96, 513)] {
            let weight = (0..<(rows * k)).map { _ in next() }
            let packed = weight.withUnsafeBufferPointer { PackedWeights(weight: $0.baseAddress!, rows: rows, k: k) }
            for m in [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 22, 23, 32, 33, 200, 389] {
                let a = (0..<(m * k)).map { _ in next() }
                let ldc = packed.paddedRows
                var c = [Float](repeating: .nan, count: m * ldc)
                a.withUnsafeBufferPointer { a in
                    c.withUnsafeMutableBufferPointer { c in
                        packedGEMM(m: m, a: a.baseAddress!, lda: k, w: packed, panelPairs: 0..<(packed.panelCount / 2),
                                   c: c.baseAddress!, ldc: ldc)
                    }
                }
                for i in 0..<m {
                    for r in 0..<rows {
                        var sum: Double = 0
                        for kk in 0..<k { sum += Double(a[i * k + kk]) * Double(weight[r * k + kk]) }
                        XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: 1e-4 * Double(k), "rows \(rows), k \(k), m \(m), [\(i), \(r)]")
                    }
                    for r in rows..<ldc { XCTAssertEqual(c[i * ldc + r], 0, "padding column \(r)") }
                }
            }
        }
    }

    /// A range of panel pairs (how a step is split between threads and gates) writes exactly its
    /// own 32-column groups, whichever pair comes next in the range or wraps to its start.
    func testAPanelPairRangeWritesOnlyItsColumns() throws {
        if let why = CPUFeatures.whyNot(.avx512) { throw XCTSkip(why) }
        let rows = 160, k = 600, m = 13
        let weight = (0..<(rows * k)).map { Float(($0 * 7919) % 211) / 211 - 0.5 }
        let a = (0..<(m * k)).map { Float(($0 * 104729) % 97) / 97 - 0.5 }
        let packed = weight.withUnsafeBufferPointer { PackedWeights(weight: $0.baseAddress!, rows: rows, k: k) }
        let ldc = packed.paddedRows
        for pairs in [1..<3, 2..<5, 4..<5, 0..<1] {
            var c = [Float](repeating: .nan, count: m * ldc)
            a.withUnsafeBufferPointer { a in
                c.withUnsafeMutableBufferPointer { c in
                    packedGEMM(m: m, a: a.baseAddress!, lda: k, w: packed, panelPairs: pairs, c: c.baseAddress!, ldc: ldc)
                }
            }
            for i in 0..<m {
                for column in 0..<ldc {
                    if pairs.contains(column / 32) {
                        var sum: Double = 0
                        for kk in 0..<k { sum += Double(a[i * k + kk]) * Double(weight[column * k + kk]) }
                        XCTAssertEqual(Double(c[i * ldc + column]), sum, accuracy: 1e-3, "pairs \(pairs), [\(i), \(column)]")
                    } else {
                        XCTAssertTrue(c[i * ldc + column].isNaN, "pairs \(pairs) wrote column \(column)")
                    }
                }
            }
        }
    }

    /// Every cache-blocking regime of `chunkLength`: steps (m ≤ 64, k in chunks of 128), the
    /// middle (256), and an output block past 1 MB (k whole up to 1,024, then the rest).
    func testEveryChunkLengthRegime() throws {
        if let why = CPUFeatures.whyNot(.avx512) { throw XCTSkip(why) }
        XCTAssertEqual(chunkLength(m: 64, k: 1030, columns: 256), 128)
        XCTAssertEqual(chunkLength(m: 200, k: 1030, columns: 256), 256)
        XCTAssertEqual(chunkLength(m: 1030, k: 1030, columns: 256), 1024)
        let rows = 256, k = 1030
        let weight = (0..<(rows * k)).map { Float(($0 * 7919) % 211) / 211 - 0.5 }
        let packed = weight.withUnsafeBufferPointer { PackedWeights(weight: $0.baseAddress!, rows: rows, k: k) }
        let ldc = packed.paddedRows
        for m in [64, 200, 1030] {
            let a = (0..<(m * k)).map { Float(($0 * 104729) % 97) / 97 - 0.5 }
            var c = [Float](repeating: .nan, count: m * ldc)
            a.withUnsafeBufferPointer { a in
                c.withUnsafeMutableBufferPointer { c in
                    packedGEMM(m: m, a: a.baseAddress!, lda: k, w: packed, panelPairs: 0..<(packed.panelCount / 2),
                               c: c.baseAddress!, ldc: ldc)
                }
            }
            for i in stride(from: 0, to: m, by: 17) {
                for r in 0..<rows {
                    var sum: Double = 0
                    for kk in 0..<k { sum += Double(a[i * k + kk]) * Double(weight[r * k + kk]) }
                    XCTAssertEqual(Double(c[i * ldc + r]), sum, accuracy: 1e-3, "m \(m), [\(i), \(r)]")
                }
            }
        }
    }
}
