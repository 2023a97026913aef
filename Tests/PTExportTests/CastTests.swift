import Foundation
@testable import PTExport
import PTTensor
import PTTestSupport
import XCTest

/// `Cast.convert` against torch's `tensor.to(target)` for every floating source and every target,
/// NaNs included (ptload_tools.fixtures.casts → Fixtures/export/cast_nans.json).
final class CastTests: XCTestCase {
    struct Fixture: Decodable {
        let torch_version: String
        let sources: [Source]
    }
    struct Source: Decodable {
        let source: String
        let nan_inputs: [String]
        let exhaustive_blocks: Int?
        let finite_inputs: [String]?
        let random: RandomStream?
        let targets: [String: Target]
    }
    struct RandomStream: Decodable {
        let seed: UInt64
        let count: Int
        let inputs_fnv1a64: String
    }
    struct Target: Decodable {
        let nan_outputs: [String]
        let exhaustive_fnv1a64: [String]?
        let finite_outputs: [String]?
        let random_fnv1a64: String?
    }

    static let fixture: Fixture = {
        let url = fixtureURL("export/cast_nans.json")
        guard let data = try? Data(contentsOf: url),
              let fixture = try? JSONDecoder().decode(Fixture.self, from: data) else {
            fatalError("cannot read \(url.path)")
        }
        return fixture
    }()

    /// Every (source, target) pair of the fixture, with the source's entry.
    func pairs() -> [(source: Source, from: DType, to: DType, target: Target)] {
        Self.fixture.sources.flatMap { source in
            source.targets.sorted { $0.key < $1.key }.map { name, target in
                (source, DType(rawValue: source.source)!, DType(rawValue: name)!, target)
            }
        }
    }

    func testFixtureCoversEveryFloatingSourceAndTarget() {
        let floating = DType.allCases.filter(\.isFloatingPoint)
        XCTAssertEqual(Set(Self.fixture.sources.map(\.source)), Set(floating.map(\.rawValue)))
        XCTAssertEqual(pairs().count, floating.count * 3 - 3)
    }

    func testNaNsAreCastAsTorchCastsThem() {
        for (source, from, to, target) in pairs() {
            let inputs = source.nan_inputs.map(Self.bits)
            let got = Self.cast(inputs, from: from, to: to)
            XCTAssertEqual(got.count, inputs.count)
            for (i, input) in inputs.enumerated() where got[i] != Self.bits(target.nan_outputs[i]) {
                XCTFail("\(from) → \(to): 0x\(Self.hex(input)) gave 0x\(Self.hex(got[i])), torch"
                            + " \(target.nan_outputs[i])")
            }
        }
    }

    /// Every bit pattern of the 8- and 16-bit formats, digested in blocks.
    func testEveryPatternOfNarrowSourcesIsCastAsTorchCastsIt() {
        for (source, from, to, target) in pairs() {
            guard let blocks = source.exhaustive_blocks, let expected = target.exhaustive_fnv1a64 else { continue }
            let all = (0..<(1 << (8 * from.itemSize))).map { UInt64($0) }
            let out = Self.castBytes(all, from: from, to: to)
            let blockBytes = out.count / blocks
            for block in 0..<blocks {
                let digest = Self.fnv1a64(out[(block * blockBytes)..<((block + 1) * blockBytes)])
                XCTAssertEqual(digest, expected[block], "\(from) → \(to): patterns of block \(block) of \(blocks)")
            }
        }
    }

    func testFiniteEdgeCasesOfWideSourcesAreCastAsTorchCastsThem() {
        for (source, from, to, target) in pairs() {
            guard let inputs = source.finite_inputs?.map(Self.bits), let outputs = target.finite_outputs else {
                continue
            }
            let got = Self.cast(inputs, from: from, to: to)
            for (i, input) in inputs.enumerated() where got[i] != Self.bits(outputs[i]) {
                XCTFail("\(from) → \(to): 0x\(Self.hex(input)) gave 0x\(Self.hex(got[i])), torch \(outputs[i])")
            }
        }
    }

    func testRandomPatternsOfWideSourcesAreCastAsTorchCastsThem() {
        for (source, from, to, target) in pairs() {
            guard let random = source.random, let expected = target.random_fnv1a64 else { continue }
            let inputs = Self.randomInputs(from, count: random.count, seed: random.seed)
            let inputBytes = inputs.flatMap { Self.littleEndian($0, size: from.itemSize) }
            XCTAssertEqual(Self.fnv1a64(inputBytes[...]), random.inputs_fnv1a64, "\(from): the generator's stream")
            XCTAssertEqual(Self.fnv1a64(Self.castBytes(inputs, from: from, to: to)[...]), expected, "\(from) → \(to)")
        }
    }

    /// A writer streams a tensor through in chunks: any split into whole elements gives the same
    /// bytes, and a trailing partial element is left for the next chunk.
    func testChunksConcatenate() {
        let inputs = Self.randomInputs(.float64, count: 257, seed: 7)
        let bytes = inputs.flatMap { Self.littleEndian($0, size: 8) }
        for to in [DType.float16, .bfloat16, .float32] {
            let whole = Self.castBytes(inputs, from: .float64, to: to)
            var chunked: [UInt8] = []
            var offset = 0
            for size in [1, 3, 16, 17, 64, 100, 56] {
                bytes[offset..<(offset + 8 * size)].withUnsafeBytes {
                    Cast.convert($0, from: .float64, to: to, into: &chunked)
                }
                offset += 8 * size
            }
            XCTAssertEqual(offset, bytes.count)
            XCTAssertEqual(chunked, whole, "float64 → \(to)")
            var partial: [UInt8] = [1]
            bytes[0..<12].withUnsafeBytes { Cast.convert($0, from: .float64, to: to, into: &partial) }
            XCTAssertEqual(partial, [1] + whole[0..<to.itemSize], "float64 → \(to): 12 bytes are one element")
        }
    }

    // MARK: Helpers

    static func bits(_ hex: String) -> UInt64 { UInt64(hex.dropFirst(2), radix: 16)! }

    static func hex(_ value: UInt64) -> String { String(value, radix: 16) }

    static func littleEndian(_ value: UInt64, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    static func castBytes(_ inputs: [UInt64], from: DType, to: DType) -> [UInt8] {
        let bytes = inputs.flatMap { littleEndian($0, size: from.itemSize) }
        var out: [UInt8] = []
        bytes.withUnsafeBytes { Cast.convert($0, from: from, to: to, into: &out) }
        return out
    }

    static func cast(_ inputs: [UInt64], from: DType, to: DType) -> [UInt64] {
        let out = castBytes(inputs, from: from, to: to)
        return stride(from: 0, to: out.count, by: to.itemSize).map { start in
            (0..<to.itemSize).reduce(UInt64(0)) { $0 | UInt64(out[start + $1]) << (8 * $1) }
        }
    }

    static func fnv1a64(_ bytes: ArraySlice<UInt8>) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// ptload_tools.fixtures.casts `random_inputs`: SplitMix64 draws shaped into raw patterns,
    /// values in float16's range, forced half and bfloat16 ties, float32-rounding ties and values
    /// across float32's range.
    static func randomInputs(_ dtype: DType, count: Int, seed: UInt64) -> [UInt64] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return (0..<count).map { i in
            let a = next(), b = next()
            if dtype == .float32 {
                if i % 3 == 0 { return a & 0xFFFF_FFFF }
                let bits = (a & 0x807F_FFFF) | ((101 + b % 44) << 23)
                guard i % 3 == 2 else { return bits }
                return (b >> 40) & 1 == 1 ? (bits & ~0x1FFF) | 0x1000 : (bits & ~0xFFFF) | 0x8000
            }
            let signMantissa = a & 0x800F_FFFF_FFFF_FFFF
            switch i % 4 {
            case 0: return a
            case 1: return signMantissa | ((993 + b % 50) << 52)
            case 2: return (signMantissa & ~0x1FFF_FFFF) | (0x1000_0000 + (b >> 32) % 3 - 1) | ((993 + b % 50) << 52)
            default: return signMantissa | ((868 + b % 290) << 52)
            }
        }
    }
}
