import PTCheckpoint
import PTKernels
@testable import PTNN
import PTTensor
import Synchronization
import Testing

/// Every thread count computes what one thread computes: 2, 3 and 8 threads against 1, for LSTM
/// (with and without proj_size), GRU and RNN, unidirectional (steps shared among the threads:
/// `splitsSteps`, here 1 MB of W_hh) and bidirectional (the directions on two teams, each sharing
/// its steps), at batch 1, and at batch 3 and 8 with lengths: one test case per combination. (Not bit
/// for bit: the input projection is then done in row slices, whose k chunks may differ.)
@Suite struct ThreadCountTests {
    /// A module shape: kind, gates per unit, proj_size, directions.
    struct Layer: Hashable, Sendable, CustomStringConvertible {
        let kind: String, gates: Int, proj: Int, directions: Int
        var description: String {
            "\(kind)\(proj > 0 ? " proj_size \(proj)" : ""), \(directions == 2 ? "bidirectional" : "unidirectional")"
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let layer: Layer, batch: Int, threads: Int
        /// Batch 8 has unsorted lengths, three of them full; batch 3 (steps shared as phases,
        /// `DirectionRun.runPhased`) one full, one ending at the first step.
        var lengths: [Int]? {
            switch batch {
            case 8: return [20, 3, 17, 20, 1, 9, 20, 12]
            case 3: return [11, 20, 1]
            default: return nil
            }
        }
        var testDescription: String { "\(layer), batch \(batch), \(threads) threads" }
    }

    static let layers = [("LSTM", 4, 0), ("LSTM", 4, 72), ("GRU", 3, 0), ("RNN", 1, 0)].flatMap { kind, gates, proj in
        [1, 2].map { Layer(kind: kind, gates: gates, proj: proj, directions: $0) }
    }
    static let cases = layers.flatMap { layer in
        [1, 3, 8].flatMap { batch in [2, 3, 8].map { Case(layer: layer, batch: batch, threads: $0) } }
    }

    @Test(arguments: cases)
    func matchesOneThread(_ c: Case) throws {
        let module = try Self.module(c.layer)
        guard case .packed(let packed) = module.implementation else {
            Issue.record("\(c.layer): not on the packed kernels")
            return
        }
        #expect(packed.splitsSteps(batch: 8))
        let inputSize = module.config.inputSize
        var random = Random(seed: UInt64(c.batch))
        let input = ShapedArray<Float>(shape: [20, c.batch, inputSize],
                                       values: random.values(20 * c.batch * inputSize, scale: 1 / 2000))
        let alone = try module.forward(input, lengths: c.lengths, compute: Compute(threads: ThreadCount(1)))
        let shared = try module.forward(input, lengths: c.lengths, compute: Compute(threads: ThreadCount(c.threads)))
        try expectClose(try #require(shared.output).values, try #require(alone.output).values, "output")
        try expectClose(shared.hN.values, alone.hN.values, "h_n")
        #expect((shared.cN == nil) == (alone.cN == nil))
        if let cA = alone.cN, let cB = shared.cN { try expectClose(cB.values, cA.values, "c_n") }
    }

    /// The same count of values, each within 1e-5 of its counterpart; a failure names the first
    /// value outside and the largest difference.
    func expectClose(_ actual: [Float], _ expected: [Float], _ name: String) throws {
        try #require(actual.count == expected.count, "\(name): \(actual.count) values, expected \(expected.count)")
        let differences = zip(actual, expected).map { abs($0 - $1) }
        let first = differences.firstIndex { !($0 <= 1e-5) }
        let at = first ?? 0
        let message = "\(name)[\(at)] is \(actual[at]), expected \(expected[at]);"
            + " largest difference \(differences.max() ?? 0)"
        #expect(first == nil, "\(message)")
    }

    /// Values in [−1/16, 1/16] (times `scale` · 16000), the same for the same seed.
    struct Random {
        var seed: UInt64
        mutating func values(_ count: Int, scale: Float = 1 / 16000) -> [Float] {
            (0..<count).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(seed >> 40) % 2001 - 1000) * scale
            }
        }
    }

    /// Each layer shape loaded once, from a state dict of seeded weights: input 96, hidden 256
    /// (512 for the RNN), so that a step multiplies by 1 MB of W_hh.
    static func module(_ layer: Layer) throws -> Recurrent<Float> {
        if let module = loaded.withLock({ $0[layer] }) { return module }
        let (inputSize, hidden) = (96, layer.gates == 1 ? 512 : 256)
        let out = layer.proj > 0 ? layer.proj : hidden
        let rows = layer.gates * hidden
        var random = Random(seed: 7)
        var values: [String: [Float]] = [:], shapes: [String: [Int]] = [:]
        for suffix in layer.directions == 2 ? ["_l0", "_l0_reverse"] : ["_l0"] {
            shapes["weight_ih" + suffix] = [rows, inputSize]
            shapes["weight_hh" + suffix] = [rows, out]
            shapes["bias_ih" + suffix] = [rows]
            shapes["bias_hh" + suffix] = [rows]
            if layer.proj > 0 { shapes["weight_hr" + suffix] = [layer.proj, hidden] }
        }
        for key in shapes.keys.sorted() { values[key] = random.values(shapes[key]!.reduce(1, *)) }
        let checkpoint = try floatStateDict(values, shapes: shapes)
        let config = try #require(ModuleCatalog(checkpoint).recurrentModule(at: ""))
            .configuration(options: ModuleOptions())
        #expect(config.kind.rawValue == layer.kind)
        #expect(config.directions == layer.directions)
        #expect(config.projSize == layer.proj)
        var weights = WeightMap(checkpoint, prefix: "", moduleName: config.description)
        let module = try Recurrent<Float>(config: config, weights: &weights)
        loaded.withLock { $0[layer] = module }
        return module
    }

    private static let loaded = Mutex<[Layer: Recurrent<Float>]>([:])
}
