import Foundation
import PTCheckpoint
import PTKernels
@testable import PTNN
import PTNumpy
import PTPickle
import PTTensor
import PTTestSupport
import Synchronization
import XCTest

/// The nn layer through its library API, on checkpoints and references PyTorch wrote
/// (Fixtures/rnn, ptload_tools.fixtures.rnn).
final class RecurrentTests: XCTestCase {
    static let folder = fixtureURL("rnn")

    func checkpoint(_ name: String) throws -> Checkpoint {
        try Checkpoint.load(path: Self.folder.appendingPathComponent(name).path)
    }

    func reference(_ name: String) throws -> [String: Tensor] {
        let arrays = try Numpy.readNpz(path: Self.folder.appendingPathComponent(name).path)
        return Dictionary(uniqueKeysWithValues: arrays.map { ($0.name, $0.tensor) })
    }

    /// The configuration of the recurrent module at `prefix`, as a run would take it.
    func configuration(_ c: Checkpoint, _ prefix: String, _ options: ModuleOptions) throws -> RecurrentConfig {
        try XCTUnwrap(ModuleCatalog(c).recurrentModule(at: prefix), "no recurrent module at '\(prefix)'")
            .configuration(options: options)
    }

    /// Calls from several threads at once on one module each get their own working memory:
    /// every result equals the one a lone call gives.
    func testConcurrentCallsOnOneModule() throws {
        let c = try XCTUnwrap(GoldenPropertyTests.plain.first { ($0.config.num_layers ?? 1) > 1 },
                              "no multi-layer case among the fixtures")
        let model = try checkpoint(c.model)
        let prefix = try ModuleCatalog(model).soleRecurrent()
        let config = try configuration(model, prefix, ModuleOptions())
        var weights = WeightMap(model, prefix: prefix, moduleName: config.description)
        let module = try Recurrent<Float>(config: config, weights: &weights)
        let r = try reference(c.reference)
        // The reference input repeated along time, so that calls last long enough to overlap.
        let short = try ShapedArray<Float>(XCTUnwrap(r["input"]))
        let input = ShapedArray<Float>(shape: [short.shape[0] * 200] + short.shape.dropFirst(),
                                 values: Array(repeatElement(short.values, count: 200).joined()))
        let h0 = try r["h0"].map { try ShapedArray<Float>($0) }, c0 = try r["c0"].map { try ShapedArray<Float>($0) }
        let lengths: [Int]? = nil
        let alone = try module.forward(input, h0: h0, c0: c0, lengths: lengths)

        let calls = 16
        let results = Results(count: calls)
        DispatchQueue.concurrentPerform(iterations: calls) { i in
            results.set(i, try? module.forward(input, h0: h0, c0: c0, lengths: lengths))
        }
        for i in 0..<calls {
            let out = try XCTUnwrap(results.get(i), "call \(i) threw")
            XCTAssertEqual(out.output, alone.output, "call \(i)")
            XCTAssertEqual(out.hN, alone.hN, "call \(i)")
            XCTAssertEqual(out.cN, alone.cN, "call \(i)")
        }
    }

    private final class Results: @unchecked Sendable {
        // @unchecked: `values` is only touched under `mutex`.
        private let mutex = Mutex(())
        private var values: [Recurrent<Float>.Output?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ value: Recurrent<Float>.Output?) { mutex.withLock { _ in values[i] = value } }
        func get(_ i: Int) -> Recurrent<Float>.Output? { mutex.withLock { _ in values[i] } }
    }

    /// A step's work items cover every block once, in order, at most 10 of them, whole pairs of
    /// blocks from 16 blocks up, and the middle items (the last claimed) are the smallest.
    func testStepItemsCoverEveryBlockOnce() {
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32), [0, 4, 8, 12, 14, 16, 18, 20, 22, 26, 32])
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 16), [0, 2, 4, 6, 8, 10, 12, 14, 16])
        for blocks in 2...200 {
            let bounds = DirectionRun<Float>.stepItems(blocks: blocks)
            XCTAssertEqual(bounds.first, 0, "\(blocks)")
            XCTAssertEqual(bounds.last, blocks, "\(blocks)")
            XCTAssertLessThanOrEqual(bounds.count - 1, 10, "\(blocks)")
            let sizes = zip(bounds, bounds.dropFirst()).map { $1 - $0 }
            XCTAssertTrue(sizes.allSatisfy { $0 >= (blocks >= 16 ? 2 : 1) }, "\(blocks): \(sizes)")
            let middle = sizes[sizes.count / 2]
            XCTAssertLessThanOrEqual(middle, sizes.first!, "\(blocks): \(sizes)")
            XCTAssertLessThanOrEqual(middle, sizes.last!, "\(blocks): \(sizes)")
        }
        // Three items a thread past three threads, up to 64.
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 64, threads: 8).count - 1, 24)
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 512, threads: 64).count - 1, 64)
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 3, threads: 8), [0, 1, 2, 3])
    }

    /// A small step gets fewer items, each at least `itemCost` of work, but never fewer than two
    /// per thread; a large one keeps the 10.
    func testStepItemsFollowTheStepsWork() {
        let unit = DirectionRun<Float>.itemCost
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32, threads: 2, stepCost: 3 * unit), [0, 10, 16, 20, 32])
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32, threads: 2, stepCost: 1).count - 1, 4)
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32, threads: 3, stepCost: 1).count - 1, 6)
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32, threads: 2, stepCost: 7 * unit).count - 1, 7)
        XCTAssertEqual(DirectionRun<Float>.stepItems(blocks: 32, threads: 2, stepCost: 100 * unit),
                       DirectionRun<Float>.stepItems(blocks: 32, threads: 2))
    }

    /// The cost of a step: multiply-adds for a full batch, bytes of W_hh at batch 1.
    func testStepCostIsTheLargerOfMultiplyAddsAndWeightBytes() {
        XCTAssertEqual(DirectionRun<Float>.stepCost(batch: 1, outSize: 512, gates: 3, hidden: 512), 512 * 3 * 512 * 4)
        XCTAssertEqual(DirectionRun<Double>.stepCost(batch: 1, outSize: 512, gates: 3, hidden: 512), 512 * 3 * 512 * 8)
        XCTAssertEqual(DirectionRun<Float>.stepCost(batch: 32, outSize: 128, gates: 4, hidden: 512), 32 * 128 * 4 * 512)
    }

    // MARK: strict loading

    func lstmCheckpoint(_ mutate: (inout [String: [Float]], inout [String: [Int]]) -> Void) throws -> Checkpoint {
        // LSTM(2, 1): weight_ih [4, 2], weight_hh [4, 1], biases [4].
        var values: [String: [Float]] = ["weight_ih_l0": Array(repeating: 0.1, count: 8),
                                         "weight_hh_l0": Array(repeating: 0.2, count: 4),
                                         "bias_ih_l0": Array(repeating: 0, count: 4),
                                         "bias_hh_l0": Array(repeating: 0, count: 4)]
        var shapes: [String: [Int]] = ["weight_ih_l0": [4, 2], "weight_hh_l0": [4, 1], "bias_ih_l0": [4],
                                       "bias_hh_l0": [4]]
        mutate(&values, &shapes)
        return try floatStateDict(values, shapes: shapes)
    }

    func load(_ c: Checkpoint) throws -> Recurrent<Float> {
        let config = try configuration(c, "", ModuleOptions())
        var weights = WeightMap(c, prefix: "", moduleName: config.description)
        return try Recurrent<Float>(config: config, weights: &weights)
    }

    func testStrictLoadingNamesTheKey() throws {
        XCTAssertNoThrow(try load(try lstmCheckpoint { _, _ in }))
        let wrongRows = try lstmCheckpoint { v, s in
            v["weight_hh_l0"] = Array(repeating: 0, count: 3); s["weight_hh_l0"] = [3, 1]
        }
        XCTAssertThrowsError(try load(wrongRows)) {
            XCTAssertEqual("\($0)", "weight_hh_l0 has shape [3, 1]; LSTM(2, 1) needs [4, 1]")
        }
        let missing = try lstmCheckpoint { v, s in v["bias_hh_l0"] = nil; s["bias_hh_l0"] = nil }
        XCTAssertThrowsError(try load(missing)) {
            XCTAssertEqual("\($0)", "bias_hh_l0 is missing; expected a [4] tensor of LSTM(2, 1)")
        }
        let extra = try lstmCheckpoint { v, s in v["weight_hr_l9"] = [1]; s["weight_hr_l9"] = [1] }
        XCTAssertThrowsError(try load(extra)) {
            XCTAssertEqual("\($0)", "weight_hr_l9 is not used by LSTM(2, 1)")
        }
    }

    func testInputsThatDoNotFit() throws {
        let lstm = try load(try lstmCheckpoint { _, _ in })
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 1, 5]))) {
            XCTAssertEqual("\($0)", "input has 5 features (shape [3, 1, 5]); LSTM(2, 1) needs input_size 2")
        }
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 2, 2]), h0: ShapedArray(zeros: [1, 1, 1]),
                                              c0: ShapedArray(zeros: [1, 1, 1]))) {
            XCTAssertEqual("\($0)", "h0 has shape [1, 1, 1]; LSTM(2, 1) with this input needs [1, 2, 1]")
        }
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 2, 2]), h0: ShapedArray(zeros: [1, 2, 1]))) {
            XCTAssertEqual("\($0)", "an LSTM takes both h0 and c0 or neither; got only h0")
        }
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 2, 2]), lengths: [3, 0])) {
            XCTAssertTrue("\($0)".contains("lengths[1] is 0"))
        }
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 2, 2]), lengths: [4, 1])) {
            XCTAssertTrue("\($0)".contains("lengths[0] is 4"))
        }
        XCTAssertThrowsError(try lstm.forward(ShapedArray(zeros: [3, 2, 2]), lengths: [1])) {
            XCTAssertEqual("\($0)", "lengths has 1 entries; the batch has 2 sequences")
        }
    }

    func testConfigInferenceFromPickledModules() throws {
        let gru = try checkpoint("full_gru_bf.pt")
        let prefix = try ModuleCatalog(gru).soleRecurrent()
        let config = try configuration(gru, prefix, ModuleOptions())
        XCTAssertEqual(config.kind, .gru)
        XCTAssertTrue(config.batchFirst)
        let relu = try checkpoint("full_rnn_relu_l2.pt")
        let reluConfig = try configuration(relu, try ModuleCatalog(relu).soleRecurrent(), ModuleOptions())
        XCTAssertEqual(reluConfig.nonlinearity, .relu)
        XCTAssertEqual(reluConfig.numLayers, 2)
        // The library names options in torch.nn's words, never ptload's flags.
        XCTAssertThrowsError(try configuration(relu, "", ModuleOptions(nonlinearity: .tanh))) {
            XCTAssertEqual("\($0)", "nonlinearity 'tanh' contradicts the module's pickled nonlinearity 'relu'")
        }
    }

    /// An option that contradicts a pickled batch_first says which value each side has, whichever
    /// way round (a caller asking for False against a pickled True included).
    func testBatchFirstContradictionNamesBothValues() throws {
        let gru = try checkpoint("full_gru_bf.pt")
        XCTAssertThrowsError(try configuration(gru, "", ModuleOptions(batchFirst: false))) {
            XCTAssertEqual("\($0)", "batch_first=False contradicts the module's pickled batch_first=True")
        }
        XCTAssertTrue(try configuration(gru, "", ModuleOptions(batchFirst: true)).batchFirst)
        let relu = try checkpoint("full_rnn_relu_l2.pt")
        XCTAssertThrowsError(try configuration(relu, "", ModuleOptions(batchFirst: true))) {
            XCTAssertEqual("\($0)", "batch_first=True contradicts the module's pickled batch_first=False")
        }
        XCTAssertThrowsError(try configuration(gru, "", ModuleOptions(nonlinearity: .relu))) {
            XCTAssertEqual("\($0)", "nonlinearity applies to RNN modules; the module is a GRU")
        }
    }

    func testModuleLocator() throws {
        XCTAssertEqual(try ModuleCatalog.resolve("lstm", among: ["model_state_dict.lstm", "model_state_dict.fc"]),
                       "model_state_dict.lstm")
        XCTAssertEqual(try ModuleCatalog.resolve("encoder.rnn", among: ["encoder.rnn", "decoder.rnn"]), "encoder.rnn")
        XCTAssertThrowsError(try ModuleCatalog.resolve("rnn", among: ["encoder.rnn", "decoder.rnn"])) {
            XCTAssertEqual("\($0)", "'rnn' matches several modules: encoder.rnn, decoder.rnn; give the full prefix")
        }
        XCTAssertThrowsError(try ModuleCatalog.resolve("gru", among: ["encoder.rnn"])) {
            XCTAssertEqual("\($0)", "no module 'gru' in the checkpoint; modules: encoder.rnn")
        }
    }
}
