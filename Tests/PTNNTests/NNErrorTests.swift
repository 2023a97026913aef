import PTCheckpoint
import PTKernels
import PTNN
import PTTensor
import PTTestSupport
import XCTest

/// Every refusal of the nn layer as a typed value and as its one line: each `InputFault`, each
/// reason a prefix is not a module, each parametrization ptload does not compute, and a weight's
/// record failing its check arriving as the checkpoint's own error.
final class NNErrorTests: XCTestCase {
    /// What `body` throws: typed (no cast), and nil with a failure when it returns.
    func refusal<T>(_ body: () throws(NNError) -> T, line: UInt = #line) -> NNError? {
        do {
            _ = try body()
            XCTFail("no error", line: line)
            return nil
        } catch {
            return error
        }
    }

    /// `body` throws exactly `expected`, described as `text`.
    func assertRefuses<T>(_ expected: NNError, _ text: String, line: UInt = #line, _ body: () throws(NNError) -> T) {
        let error = refusal(body, line: line)
        XCTAssertEqual(error, expected, line: line)
        XCTAssertEqual(error?.description, text, line: line)
    }

    /// The sole recurrent module of a state dict of float32 tensors (values all 0.1).
    func recurrent(_ shapes: [String: [Int]]) throws -> Recurrent<Float> {
        try ModuleCatalog(try stateDict(shapes)).recurrent(as: Float.self)
    }

    func stateDict(_ shapes: [String: [Int]]) throws -> Checkpoint {
        try floatStateDict(shapes.mapValues { Array(repeating: 0.1, count: $0.reduce(1, *)) }, shapes: shapes)
    }

    static let lstmKeys = ["weight_ih_l0": [4, 2], "weight_hh_l0": [4, 1], "bias_ih_l0": [4], "bias_hh_l0": [4]]

    func float32(_ shape: [Int]) throws -> Tensor {
        try Tensor(dtype: .float32, shape: shape, bytes: Array(repeating: 0, count: 4 * shape.reduce(1, *)))
    }

    // MARK: InputFault

    func testLayerInputs() throws {
        let lstm = try recurrent(Self.lstmKeys)
        assertRefuses(.badInput(.layerInputRank(shape: [2], module: "LSTM(2, 1)", inputSize: 2)),
                      "input has shape [2]; LSTM(2, 1) takes [T, N, 2], [N, T, 2] with batch_first, or unbatched"
                          + " [T, 2]") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [2]))
        }
        assertRefuses(.badInput(.inputFeatures(shape: [3, 1, 5], module: "LSTM(2, 1)", inputSize: 2)),
                      "input has 5 features (shape [3, 1, 5]); LSTM(2, 1) needs input_size 2") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 1, 5]))
        }
        assertRefuses(.badInput(.emptyInput(shape: [0, 2, 2])),
                      "input has shape [0, 2, 2]; PyTorch needs at least one step and one sequence") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [0, 2, 2]))
        }
    }

    func testLengths() throws {
        let lstm = try recurrent(Self.lstmKeys)
        assertRefuses(.badInput(.lengthsUnbatched(inputShape: [3, 2])),
                      "lengths need a batched input; got unbatched shape [3, 2]") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2]), lengths: [1])
        }
        assertRefuses(.badInput(.lengthsCount(count: 1, batch: 2)),
                      "lengths has 1 entries; the batch has 2 sequences") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2, 2]), lengths: [1])
        }
        assertRefuses(.badInput(.lengthOutOfRange(index: 1, length: 0, steps: 3)),
                      "lengths[1] is 0; every length must be in 1...3 (packed sequences have no empty ones)") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2, 2]), lengths: [3, 0])
        }
    }

    func testStates() throws {
        let lstm = try recurrent(Self.lstmKeys)
        assertRefuses(.badInput(.stateShape(.h0, shape: [1, 1, 1], module: "LSTM(2, 1)", expected: [1, 2, 1])),
                      "h0 has shape [1, 1, 1]; LSTM(2, 1) with this input needs [1, 2, 1]") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2, 2]), h0: ShapedArray(zeros: [1, 1, 1]),
                                                   c0: ShapedArray(zeros: [1, 2, 1]))
        }
        assertRefuses(.badInput(.stateShape(.c0, shape: [2, 1], module: "LSTM(2, 1)", expected: [1, 2, 1])),
                      "c0 has shape [2, 1]; LSTM(2, 1) with this input needs [1, 2, 1]") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2, 2]), h0: ShapedArray(zeros: [1, 2, 1]),
                                                   c0: ShapedArray(zeros: [2, 1]))
        }
        assertRefuses(.badInput(.unpairedState(given: .h0, isCell: false)),
                      "an LSTM takes both h0 and c0 or neither; got only h0") {
            () throws(NNError) in try lstm.forward(ShapedArray(zeros: [3, 2, 2]), h0: ShapedArray(zeros: [1, 2, 1]))
        }
        let gru = try recurrent(["weight_ih_l0": [3, 2], "weight_hh_l0": [3, 1], "bias_ih_l0": [3], "bias_hh_l0": [3]])
        assertRefuses(.badInput(.noCellState(module: "GRU(2, 1)")), "c0 was given, but GRU(2, 1) has no cell state") {
            () throws(NNError) in try gru.forward(ShapedArray(zeros: [3, 2, 2]), c0: ShapedArray(zeros: [1, 2, 1]))
        }
    }

    func testCellInputs() throws {
        let cell = try recurrent(["weight_ih": [4, 2], "weight_hh": [4, 1], "bias_ih": [4], "bias_hh": [4]])
        assertRefuses(.badInput(.cellInputShape(shape: [3, 2, 2], module: "LSTMCell(2, 1)", inputSize: 2)),
                      "input has shape [3, 2, 2]; LSTMCell(2, 1) takes [N, 2] or [2]") {
            () throws(NNError) in try cell.forward(ShapedArray(zeros: [3, 2, 2]))
        }
        assertRefuses(.badInput(.lengthsForCell(module: "LSTMCell(2, 1)")),
                      "lengths apply to RNN/LSTM/GRU layers, not to LSTMCell(2, 1)") {
            () throws(NNError) in try cell.forward(ShapedArray(zeros: [2, 2]), lengths: [1, 1])
        }
        assertRefuses(.badInput(.unpairedState(given: .c0, isCell: true)),
                      "an LSTMCell takes both h0 and c0 or neither; got only c0") {
            () throws(NNError) in try cell.forward(ShapedArray(zeros: [2, 2]), c0: ShapedArray(zeros: [2, 1]))
        }
    }

    func testLinearAndEmbeddingInputs() throws {
        let c = try stateDict(["fc.weight": [2, 3], "fc.bias": [2], "emb.weight": [2, 3]])
        var fcWeights = WeightMap(c, prefix: "fc", moduleName: "Linear[2, 3]")
        let fc = try Linear<Float>(weights: &fcWeights, shape: [2, 3])
        assertRefuses(.badInput(.linearInput(shape: [4, 2], inFeatures: 3, outFeatures: 2)),
                      "Linear(in_features=3, out_features=2) got input of shape [4, 2]; the last axis must be 3") {
            () throws(NNError) in try fc.forward(ShapedArray(zeros: [4, 2]))
        }
        var embWeights = WeightMap(c, prefix: "emb", moduleName: "Embedding[2, 3]")
        let emb = try Embedding<Float>(weights: &embWeights, shape: [2, 3])
        assertRefuses(.badInput(.tokenOutOfRange(id: 5, index: 1, count: 2, dimension: 3)),
                      "token id 5 at flat index 1 is out of range for Embedding(2, 3)") {
            () throws(NNError) in try emb.forward(ids: [0, 5], shape: [2])
        }
    }

    func testPipelineInputs() throws {
        let catalog = ModuleCatalog(try stateDict(["fc.weight": [2, 3], "emb.weight": [2, 3]]))
        let embFirst = try Pipeline<Float>(catalog: catalog, prefixes: ["emb"], options: ModuleOptions(),
                                           firstInputIsIDs: true)
        let values = PipelineInput.values(try float32([1, 3]))
        assertRefuses(.badInput(.embeddingNeedsIDs), "an Embedding takes token ids (int64), as the first stage") {
            () throws(NNError) in try embFirst.forward(values, h0: nil, c0: nil, lengths: nil)
        }
        let linear = try Pipeline<Float>(catalog: catalog, prefixes: ["fc"], options: ModuleOptions(),
                                         firstInputIsIDs: false)
        assertRefuses(.badInput(.idsWithoutEmbedding),
                      "input holds token ids (int64), but the first stage is not an Embedding") {
            () throws(NNError) in try linear.forward(.ids([0], shape: [1]), h0: nil, c0: nil, lengths: nil)
        }
        let ints = PipelineInput.values(try Tensor(dtype: .int64, shape: [1, 3], bytes: Array(repeating: 0, count: 24)))
        assertRefuses(.badInput(.notFloatingPoint(dtype: .int64)),
                      "input is int64; the first stage takes floating-point values") {
            () throws(NNError) in try linear.forward(ints, h0: nil, c0: nil, lengths: nil)
        }
        // One float repeated by stride-0 views into 2^29 elements: more than a view may repeat.
        let one = Storage(key: "x", dtype: .float32, bytes: [0, 0, 0, 0])
        let repeated = try Tensor(storage: one, dtype: .float32, shape: [1 << 26, 8], strides: [0, 0], storageOffset: 0)
        let fault = TensorError.repeatsTooMuch(elements: 1 << 29, storageKey: "x", storageElements: 1,
                                               limit: Tensor.maxRepeatedElements)
        assertRefuses(.badInput(.unreadable(fault)),
                      "input: tensor is a view of 1 element(s) of storage 'x' repeated to 536870912 elements; views"
                          + " that repeat their storage are materialized up to 268435456 elements") {
            () throws(NNError) in try linear.forward(.values(repeated), h0: nil, c0: nil, lengths: nil)
        }
    }

    // MARK: modules and weights

    func testWhyAPrefixIsNotAModule() throws {
        let fc = ModuleCatalog(try stateDict(["fc.weight": [2, 3]]))
        assertRefuses(.unrecognised(prefix: "fc", .noInputWeight(layerKey: "fc.weight_ih_l0", cellKey: "fc.weight_ih")),
                      "'fc' is not a recurrent module: it has no fc.weight_ih_l0 or fc.weight_ih") {
            () throws(NNError) in try fc.recurrent("fc", as: Float.self)
        }
        assertRefuses(.unrecognised(prefix: "nope", .noWeights(weightKey: "nope.weight")),
                      "'nope' is not a recurrent module: it has neither recurrent weights nor nope.weight") {
            () throws(NNError) in try Pipeline<Float>(catalog: fc, prefixes: ["nope"], options: ModuleOptions(),
                                                      firstInputIsIDs: false)
        }
        let misshapen = ModuleCatalog(try stateDict(["rnn.weight_ih_l0": [5, 2], "rnn.weight_hh_l0": [2, 2]]))
        assertRefuses(.unrecognised(prefix: "rnn", .shapesFitNoLayer),
                      "'rnn' is not a recurrent module: the shapes of its weight_ih and weight_hh fit no RNN, LSTM"
                          + " or GRU") {
            () throws(NNError) in try misshapen.recurrent("rnn", as: Float.self)
        }
        assertRefuses(.noRecurrentModule(why: .shapesFitNoLayer(ihKey: "rnn.weight_ih_l0", ihShape: [5, 2],
                                                                hhKey: "rnn.weight_hh_l0", hhShape: [2, 2])),
                      "the checkpoint holds no RNN, LSTM or GRU weights: 'rnn.weight_ih_l0' [5, 2] and"
                          + " 'rnn.weight_hh_l0' [2, 2] fit no layer (both must be matrices, and weight_ih's rows 1, 3"
                          + " or 4 times weight_hh's columns: RNN, GRU, LSTM)") {
            () throws(NNError) in try misshapen.soleRecurrent()
        }
        let alone = ModuleCatalog(try stateDict(["weight_ih_l0": [4, 2]]))
        assertRefuses(.noRecurrentModule(why: .noPartner(key: "weight_ih_l0", partner: "weight_hh_l0")),
                      "the checkpoint holds no RNN, LSTM or GRU weights: 'weight_ih_l0' has no 'weight_hh_l0'"
                          + " beside it") {
            () throws(NNError) in try alone.soleRecurrent()
        }
        assertRefuses(.noRecurrentModule(why: nil), "the checkpoint holds no RNN, LSTM or GRU weights") {
            () throws(NNError) in try fc.soleRecurrent()
        }
    }

    func testWeightsKeptInAParametrization() throws {
        let spectral = try stateDict(["rnn.weight_ih_l0": [4, 2], "rnn.weight_hh_l0_orig": [4, 1],
                                      "rnn.weight_hh_l0_u": [4], "rnn.weight_hh_l0_v": [1]])
        let fault = NNError.ParametrizationFault.spectralNorm(key: "rnn.weight_hh_l0_orig")
        assertRefuses(.unrecognised(prefix: "rnn", .parametrization(fault)),
                      "'rnn' is not a recurrent module: 'rnn.weight_hh_l0_orig' is spectral norm, a parametrization"
                          + " ptload does not compute") {
            () throws(NNError) in try ModuleCatalog(spectral).recurrent("rnn", as: Float.self)
        }
        var weights = WeightMap(spectral, prefix: "rnn", moduleName: "LSTM(2, 1)")
        assertRefuses(.unknownParametrization(key: "rnn.weight_hh_l0", fault),
                      "rnn.weight_hh_l0: 'rnn.weight_hh_l0_orig' is spectral norm, a parametrization ptload does"
                          + " not compute") {
            () throws(NNError) in try weights.take("weight_hh_l0", shape: [4, 1], as: Float.self)
        }
        let notANorm = ModuleCatalog(try stateDict(["weight_ih_l0": [4, 2], "weight_hh_l0_g": [5, 1],
                                                    "weight_hh_l0_v": [4, 1]]))
        assertRefuses(.noRecurrentModule(why: .parametrization(key: "weight_hh_l0",
                                                               .notWeightNorm(g: "weight_hh_l0_g", gShape: [5, 1],
                                                                              v: "weight_hh_l0_v", vShape: [4, 1]))),
                      "the checkpoint holds no RNN, LSTM or GRU weights: weight_hh_l0: 'weight_hh_l0_g' [5, 1] and"
                          + " 'weight_hh_l0_v' [4, 1] are no weight norm's g and v") {
            () throws(NNError) in try notANorm.soleRecurrent()
        }
    }

    func testStrictLoadingIsTyped() throws {
        var keys = Self.lstmKeys
        keys["bias_hh_l0"] = nil
        let catalog = ModuleCatalog(try stateDict(keys))
        assertRefuses(.missingKey(key: "bias_hh_l0", shape: [4], module: "LSTM(2, 1)"),
                      "bias_hh_l0 is missing; expected a [4] tensor of LSTM(2, 1)") {
            () throws(NNError) in try catalog.recurrent(as: Float.self)
        }
    }

    /// A weight whose zip record fails its CRC-32 when first read: the checkpoint's error,
    /// unchanged, the same value `verifyRecords()` gives.
    func testAFailedRecordIsTheCheckpointsError() throws {
        let path = fixtureURL("hostile/zip_crc_storage.pt").path
        let checkpoint = try Checkpoint.load(path: path)
        let expected = CheckpointError(path: path, .zip(.crcMismatch(entry: "archive/data/1", declared: 0xfa81e398,
                                                                     actual: 0xff61d18d)))
        XCTAssertThrowsError(try checkpoint.verifyRecords()) { XCTAssertEqual($0 as? CheckpointError, expected) }
        let catalog = ModuleCatalog(checkpoint)
        assertRefuses(.checkpoint(expected),
                      "\(path): entry 'archive/data/1' has CRC-32 0xff61d18d; its header declares 0xfa81e398") {
            () throws(NNError) in try catalog.recurrent(as: Float.self)
        }
    }

    // MARK: options

    /// The library names options in torch.nn's words; ptload's flags are the command's (Messages.swift).
    func testOptionsAreCarriedAsValues() throws {
        let gru = ModuleCatalog(try Checkpoint.load(path: fixtureURL("rnn/full_gru_bf.pt").path))
        let module = try XCTUnwrap(gru.recurrent.first)
        assertRefuses(.optionNotApplicable(.nonlinearity(.relu), module: "the module", kind: .gru),
                      "nonlinearity applies to RNN modules; the module is a GRU") {
            () throws(NNError) in try module.configuration(options: ModuleOptions(nonlinearity: .relu))
        }
        assertRefuses(.optionContradictsPickled(.batchFirst(false), pickled: .batchFirst(true), module: "the module"),
                      "batch_first=False contradicts the module's pickled batch_first=True") {
            () throws(NNError) in try module.configuration(options: ModuleOptions(batchFirst: false))
        }
        XCTAssertEqual(NNError.severalRecurrentModules(prefixes: ["", "b"]).description,
                       "the checkpoint holds 2 recurrent modules ((root), b); choose one by its prefix")
        XCTAssertEqual([RecurrentConfig.Kind.rnn, .lstm, .gru].map(\.withArticle), ["an RNN", "an LSTM", "a GRU"])
    }
}
