import PTCheckpoint
import PTKernels
@testable import PTNN
import PTNumpy
import PTTensor
import PTTestSupport
import PTVerify
import Testing

/// `RecurrentStream`: a sequence run in chunks of 1, 3 and T steps, carrying the state, equals
/// `forward` on the whole sequence bit for bit, on every kernel set this CPU runs and on the
/// reference engine, and PyTorch's golden outputs within float32's tolerance.
@Suite struct StreamTests {
    /// Every golden case of one unidirectional module (or cell) without lengths that passes.
    static let cases = GoldenCase.all.filter {
        $0.expect_exit == 0 && $0.module == "" && $0.config.bidirectional != true && !$0.has_lengths
            && $0.compute_dtype == "float32"
            && ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"].contains($0.kind)
    }

    /// Each kernel set the CPU runs, then the reference engine; one thread.
    static let computes: [Compute] = KernelSet.allCases.filter(CPUFeatures.canRun)
        .map { Compute(kernelSet: $0, threads: ThreadCount(1)) }
        + [Compute(engine: .reference, threads: ThreadCount(1))]

    /// The cases cover every kind, stacks, proj_size, batch_first with N > 1, unbatched, h0/c0.
    @Test func casesCoverEveryKind() {
        for kind in ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"] {
            #expect(Self.cases.contains { $0.kind == kind }, "\(kind)")
        }
        #expect(Self.cases.contains { $0.config.nonlinearity == "relu" && $0.kind == "RNN" })
        #expect(Self.cases.contains { ($0.config.num_layers ?? 1) > 1 && $0.kind == "LSTM" })
        #expect(Self.cases.contains { ($0.config.proj_size ?? 0) > 0 })
        #expect(Self.cases.contains { $0.config.batch_first == true && !$0.unbatched })
        #expect(Self.cases.contains { $0.unbatched && !$0.kind.hasSuffix("Cell") })
        #expect(Self.cases.contains { $0.has_h0 && $0.kind == "LSTM" })
        #expect(Self.computes.count >= 2)
    }

    @Test(arguments: cases, computes)
    func chunkedEqualsWholeExactly(_ c: GoldenCase, _ compute: Compute) throws {
        let module = try Self.load(c, compute: compute)
        let r = try Self.reference(c)
        let input = try ShapedArray<Float>(#require(r["input"]))
        let h0 = try r["h0"].map { try ShapedArray<Float>($0) }, c0 = try r["c0"].map { try ShapedArray<Float>($0) }
        let whole = try module.forward(input, h0: h0, c0: c0)
        let steps = module.config.isCell ? 1 : input.shape[Self.timeAxis(module.config, input)]
        for size in Set([1, 3, steps]) {
            let (output, state) = try Self.stream(module, input, h0: h0, c0: c0, chunk: size)
            #expect(output == (whole.output ?? whole.hN), "\(c.name) \(compute.kernelSet) chunk \(size)")
            #expect(state.h == whole.hN, "\(c.name) chunk \(size)")
            #expect(state.c == whole.cN, "\(c.name) chunk \(size)")
            // PyTorch's outputs, within float32's tolerance (a cell's output is its h').
            let tolerance = Tolerance.defaults(for: .float32)
            let expected = try #require(r[module.config.isCell ? "h_n" : "output"])
            let comparison = try Comparison(name: "output", actual: output, expected: expected, tolerance: tolerance)
            #expect(comparison.passed, "\(c.name) chunk \(size): \(comparison)")
            if let hN = r["h_n"], !module.config.isCell {
                #expect(try Comparison(name: "h_n", actual: state.h, expected: hN, tolerance: tolerance).passed)
            }
            if let cN = r["c_n"], let stateC = state.c {
                #expect(try Comparison(name: "c_n", actual: stateC, expected: cN, tolerance: tolerance).passed)
            }
        }
    }

    /// A cell streamed over several steps equals `forward` called step by step with the last h'
    /// (and c') as the next h0 (c0).
    @Test(arguments: cases.filter { $0.kind.hasSuffix("Cell") }, computes)
    func cellStepsCarryTheState(_ c: GoldenCase, _ compute: Compute) throws {
        let module = try Self.load(c, compute: compute)
        let input = try ShapedArray<Float>(#require(try Self.reference(c)["input"]))
        let stream = try module.makeStream()
        var state = try module.makeState(batch: input.rank == 2 ? input.shape[0] : nil)
        var h: ShapedArray<Float>?, cell: ShapedArray<Float>?
        var output = ShapedArray<Float>(zeros: [0])
        for step in 0..<4 {
            let x = ShapedArray(shape: input.shape, values: input.values.map { $0 * Float(step + 1) })
            let expected = try module.forward(x, h0: h, c0: cell)
            try stream.run(x, state: &state, output: &output)
            #expect(output == expected.hN)
            #expect(state.h == expected.hN)
            #expect(state.c == expected.cN)
            (h, cell) = (expected.hN, expected.cN)
        }
    }

    /// Bidirectional modules refuse to stream, naming the module; so do their states.
    @Test func bidirectionalIsRefused() throws {
        let c = try #require(GoldenCase.all.first {
            $0.expect_exit == 0 && $0.module == "" && $0.config.bidirectional == true && $0.kind == "LSTM"
        })
        let module = try Self.load(c, compute: .automatic)
        let expected = NNError.bidirectionalStream(module: module.config.description, prefix: "")
        #expect(throws: expected) { try module.makeStream() }
        #expect(throws: expected) { try module.makeState(batch: 1) }
        #expect(expected.description == "the module (\(module.config.description)) cannot stream: its reverse"
                    + " direction starts from the sequence's last step, which a chunk does not have")
    }

    /// A chunk whose batch is not the state's, and a state of another module, are refused.
    @Test func mismatchedStatesAreRefused() throws {
        let c = try #require(GoldenCase.named("lstm_l3_uni_tf_nobias_h0_full"))
        let module = try Self.load(c, compute: .automatic)
        let stream = try module.makeStream()
        var state = try module.makeState(batch: 2)
        var output = ShapedArray<Float>(zeros: [0])
        let chunk = ShapedArray<Float>(zeros: [1, 3, module.config.inputSize])
        #expect(throws: NNError.badInput(.streamBatch(inputShape: [1, 3, module.config.inputSize], stateBatch: 2,
                                                      module: module.config.description))) {
            try stream.run(chunk, state: &state, output: &output)
        }
        let other = try Self.load(try #require(GoldenCase.named("rnn_relu_l3_uni_tf_bias_noh0_full")),
                                  compute: .automatic)
        var foreign = try other.makeState(batch: 3)
        #expect(throws: NNError.self) { try stream.run(chunk, state: &foreign, output: &output) }
        #expect(throws: NNError.badInput(.unpairedState(given: .h0, isCell: false))) {
            try module.makeState(h0: ShapedArray(zeros: [3, 3, module.config.hiddenSize]))
        }
    }

    /// Steps shared among threads (a layer past `splitsSteps`), a stack with proj_size and
    /// batch_first with N > 1 (chunks permuted to time-major): chunked equals whole, exactly.
    @Test(arguments: [1, 2]) func splitStepsAndPermutedChunks(_ threads: Int) throws {
        let (inputSize, hidden, proj, layers) = (24, 256, 160, 2)
        var random = ThreadCountTests.Random(seed: 11)
        var values: [String: [Float]] = [:], shapes: [String: [Int]] = [:]
        for l in 0..<layers {
            shapes["weight_ih_l\(l)"] = [4 * hidden, l == 0 ? inputSize : proj]
            shapes["weight_hh_l\(l)"] = [4 * hidden, proj]
            shapes["bias_ih_l\(l)"] = [4 * hidden]
            shapes["bias_hh_l\(l)"] = [4 * hidden]
            shapes["weight_hr_l\(l)"] = [proj, hidden]
        }
        for key in shapes.keys.sorted() { values[key] = random.values(shapes[key]!.reduce(1, *), scale: 1 / 4000) }
        let compute = Compute(threads: ThreadCount(threads))
        let module: Recurrent<Float> = try ModuleCatalog(floatStateDict(values, shapes: shapes))
            .recurrent(options: ModuleOptions(batchFirst: true), compute: compute)
        let (batch, steps) = (3, 7)
        let input = ShapedArray(shape: [batch, steps, inputSize], values: random.values(batch * steps * inputSize,
                                                                                          scale: 1 / 1000))
        #expect(module.config.outputSize == proj)
        let whole = try module.forward(input)
        for size in [1, 3, steps] {
            let (output, state) = try Self.stream(module, input, h0: nil, c0: nil, chunk: size)
            #expect(output == whole.output, "chunk \(size)")
            #expect(state.h == whole.hN && state.c == whole.cN, "chunk \(size)")
        }
    }

    /// A few rows' steps shared (each thread its slice of W_hh): LSTM and GRU past
    /// `splitsStreamedSteps` at batch 1 (streamed, one `ThreadTeam.forEachPart` round a step) and
    /// 3 (as phases, `DirectionRun.runPhased`), on 2 and 3 threads, streamed in chunks of 1, 3
    /// and T and run whole, all equal the whole run on one thread bit for bit.
    @Test(arguments: ["LSTM", "GRU"], [1, 3])
    func phasedStepsEqualOneThread(_ kind: String, _ batch: Int) throws {
        let (inputSize, hidden, gates, steps) = (20, 256, kind == "LSTM" ? 4 : 3, 9)
        var random = ThreadCountTests.Random(seed: 17)
        let shapes = ["weight_ih_l0": [gates * hidden, inputSize], "weight_hh_l0": [gates * hidden, hidden],
                      "bias_ih_l0": [gates * hidden], "bias_hh_l0": [gates * hidden]]
        var values: [String: [Float]] = [:]
        for key in shapes.keys.sorted() { values[key] = random.values(shapes[key]!.reduce(1, *), scale: 1 / 4000) }
        let checkpoint = try floatStateDict(values, shapes: shapes)
        let input = ShapedArray(shape: [steps, batch, inputSize],
                                values: random.values(steps * batch * inputSize, scale: 1 / 1000))
        let alone: Recurrent<Float> = try ModuleCatalog(checkpoint)
            .recurrent(options: ModuleOptions(), compute: Compute(threads: ThreadCount(1)))
        #expect(alone.config.kind.rawValue == kind)
        let whole = try alone.forward(input)
        for threads in [2, 3] {
            let module: Recurrent<Float> = try ModuleCatalog(checkpoint)
                .recurrent(options: ModuleOptions(), compute: Compute(threads: ThreadCount(threads)))
            guard case .packed(let packed) = module.implementation else {
                Issue.record("\(kind): not on the packed kernels")
                return
            }
            #expect(packed.splitsStreamedSteps(batch: batch))
            let shared = try module.forward(input)
            #expect(shared.output == whole.output && shared.hN == whole.hN && shared.cN == whole.cN,
                    "\(threads) threads, whole")
            for size in [1, 3, steps] {
                let (output, state) = try Self.stream(module, input, h0: nil, c0: nil, chunk: size)
                #expect(output == whole.output, "\(threads) threads, chunk \(size)")
                #expect(state.h == whole.hN && state.c == whole.cN, "\(threads) threads, chunk \(size)")
            }
        }
    }

    /// Shared streamed steps at batch 1 through a stack and a cell: a 2-layer LSTM(20, 256) on
    /// unbatched input streamed in chunks of 1, 3 and T, and an LSTMCell(32, 256) from a given
    /// state, streamed and run whole, on 2 and 3 threads (each layer's step one
    /// `ThreadTeam.forEachPart` round), equal the run on one thread bit for bit.
    @Test func sharedStackAndCellEqualOneThread() throws {
        let (inputSize, hidden, steps) = (20, 256, 8)
        var random = ThreadCountTests.Random(seed: 23)
        var shapes: [String: [Int]] = [:]
        for l in 0..<2 {
            shapes["weight_ih_l\(l)"] = [4 * hidden, l == 0 ? inputSize : hidden]
            shapes["weight_hh_l\(l)"] = [4 * hidden, hidden]
            shapes["bias_ih_l\(l)"] = [4 * hidden]
            shapes["bias_hh_l\(l)"] = [4 * hidden]
        }
        let cellShapes = ["weight_ih": [4 * hidden, 32], "weight_hh": [4 * hidden, hidden],
                          "bias_ih": [4 * hidden], "bias_hh": [4 * hidden]]
        var values: [String: [Float]] = [:], cellValues: [String: [Float]] = [:]
        for key in shapes.keys.sorted() { values[key] = random.values(shapes[key]!.reduce(1, *), scale: 1 / 4000) }
        for key in cellShapes.keys.sorted() {
            cellValues[key] = random.values(cellShapes[key]!.reduce(1, *), scale: 1 / 4000)
        }
        let stack = try floatStateDict(values, shapes: shapes)
        let cell = try floatStateDict(cellValues, shapes: cellShapes)
        let input = ShapedArray(shape: [steps, inputSize], values: random.values(steps * inputSize, scale: 1 / 1000))
        let cellInput = ShapedArray(shape: [1, 32], values: random.values(32, scale: 1 / 100))
        let h0 = ShapedArray(shape: [1, hidden], values: random.values(hidden, scale: 1 / 10))
        let c0 = ShapedArray(shape: [1, hidden], values: random.values(hidden, scale: 1 / 10))
        func load(_ checkpoint: Checkpoint, _ threads: Int) throws -> Recurrent<Float> {
            try ModuleCatalog(checkpoint)
                .recurrent(options: ModuleOptions(), compute: Compute(threads: ThreadCount(threads)))
        }
        let whole = try load(stack, 1).forward(input)
        let cellAlone = try load(cell, 1).forward(cellInput, h0: h0, c0: c0)
        for threads in [2, 3] {
            let module = try load(stack, threads)
            guard case .packed(let packed) = module.implementation else {
                Issue.record("LSTM stack: not on the packed kernels")
                return
            }
            #expect(packed.splitsStreamedSteps(batch: 1))
            for size in [1, 3, steps] {
                let (output, state) = try Self.stream(module, input, h0: nil, c0: nil, chunk: size)
                #expect(output == whole.output, "\(threads) threads, chunk \(size)")
                #expect(state.h == whole.hN && state.c == whole.cN, "\(threads) threads, chunk \(size)")
            }
            let (h1, state) = try Self.stream(try load(cell, threads), cellInput, h0: h0, c0: c0, chunk: 1)
            #expect(h1 == cellAlone.hN && state.h == cellAlone.hN && state.c == cellAlone.cN,
                    "cell, \(threads) threads")
            // `forward` of the cell, one step shared the same way (`DirectionRun.runSplit`).
            let cellShared = try load(cell, threads).forward(cellInput, h0: h0, c0: c0)
            #expect(cellShared.hN == cellAlone.hN && cellShared.cN == cellAlone.cN, "cell forward, \(threads) threads")
        }
    }

    /// Float64 (the weights widened exactly): chunks of 1 step equal the whole run, exactly.
    @Test(arguments: computes) func float64ChunkedEqualsWhole(_ compute: Compute) throws {
        let c = try #require(GoldenCase.named("lstm_l3_uni_tf_nobias_h0_full"))
        let module: Recurrent<Double> = try ModuleCatalog(try Checkpoint.load(path: c.modelPath))
            .recurrent(as: Double.self, compute: compute)
        let r = try Self.reference(c)
        let input = try ShapedArray<Double>(#require(r["input"]))
        let h0 = try ShapedArray<Double>(#require(r["h0"])), c0 = try ShapedArray<Double>(#require(r["c0"]))
        let whole = try module.forward(input, h0: h0, c0: c0)
        let stream = try module.makeStream()
        var state = try module.makeState(h0: h0, c0: c0)
        var output = ShapedArray<Double>(zeros: [0]), outputs: [Double] = []
        let (steps, rowWidth) = (input.shape[0], input.shape[1] * input.shape[2])
        for t in 0..<steps {
            let step = ShapedArray(shape: [1] + input.shape.dropFirst(),
                                   values: Array(input.values[(t * rowWidth)..<((t + 1) * rowWidth)]))
            try stream.run(step, state: &state, output: &output)
            outputs += output.values
        }
        #expect(outputs == whole.output?.values)
        #expect(state.h == whole.hN && state.c == whole.cN)
    }

    /// README's "Streaming" example, line for line, on lstm_long's first sequence one frame at
    /// a time: the final state is `forward`'s on the whole sequence.
    @Test func readmeExample() throws {
        let golden = try #require(GoldenCase.named("lstm_long"))
        let path = golden.modelPath
        let input = try ShapedArray<Float>(#require(try Self.reference(golden)["input"]))
        let (steps, batch, features) = (input.shape[0], input.shape[1], input.shape[2])
        let frames = (0..<steps).map { t in
            let start = t * batch * features
            return ShapedArray(shape: [1, 1, features], values: Array(input.values[start..<(start + features)]))
        }

        let lstm: Recurrent<Float> = try ModuleCatalog(Checkpoint.load(path: path)).recurrent()
        let stream = try lstm.makeStream()                   // the workspace, kept between calls
        var state = try lstm.makeState(batch: 1)             // zeros; or makeState(h0: h0, c0: c0)
        var y = ShapedArray<Float>(zeros: [0])               // the output, rewritten by every call
        for frame in frames {                                // each [1, 1, I]: one step of one sequence
            try stream.run(frame, state: &state, output: &y) // y [1, 1, Hout]; state.h [L, 1, Hout], state.c
        }

        let whole = try lstm.forward(ShapedArray(shape: [steps, 1, features], values: frames.flatMap { $0.values }))
        #expect(state.h == whole.hN && state.c == whole.cN)
        #expect(y.shape == [1, 1, lstm.config.outputSize])
    }

    // MARK: - Helpers

    /// Runs `input` through a stream in chunks of `chunk` steps from h0/c0 (zeros when nil).
    /// - Returns: the chunks' outputs joined along the time axis (a cell's h'), and the state.
    static func stream(_ module: Recurrent<Float>, _ input: ShapedArray<Float>, h0: ShapedArray<Float>?,
                       c0: ShapedArray<Float>?, chunk: Int) throws -> (ShapedArray<Float>, RecurrentState<Float>) {
        let config = module.config
        let stream = try module.makeStream()
        let batched = input.rank == (config.isCell ? 2 : 3)
        var state = try h0.map { try module.makeState(h0: $0, c0: c0) }
            ?? module.makeState(batch: batched ? input.shape[config.isCell || config.batchFirst ? 0 : 1] : nil)
        var output = ShapedArray<Float>(zeros: [0])
        if config.isCell {
            try stream.run(input, state: &state, output: &output)
            return (output, state)
        }
        let axis = timeAxis(config, input)
        var pieces: [ShapedArray<Float>] = []
        for start in stride(from: 0, to: input.shape[axis], by: chunk) {
            let piece = input.slicing(axis: axis, start..<min(start + chunk, input.shape[axis]))
            try stream.run(piece, state: &state, output: &output)
            pieces.append(output)
        }
        return (ShapedArray.joining(pieces, axis: axis), state)
    }

    /// The time axis: 1 for batch_first `[N, T, I]`, else 0.
    static func timeAxis(_ config: RecurrentConfig, _ input: ShapedArray<Float>) -> Int {
        input.rank == 3 && config.batchFirst ? 1 : 0
    }


    static func load(_ c: GoldenCase, compute: Compute) throws -> Recurrent<Float> {
        let options = ModuleOptions(batchFirst: c.options.batch_first ? true : nil,
                                    nonlinearity: c.options.nonlinearity.flatMap(Activation.init(rawValue:)))
        return try ModuleCatalog(try Checkpoint.load(path: c.modelPath)).recurrent(options: options, compute: compute)
    }

    static func reference(_ c: GoldenCase) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try Numpy.readNpz(path: c.referencePath).map { ($0.name, $0.tensor) })
    }
}
