import PTKernels
import PTTensor

/// What a streamed module carries from one chunk of a sequence to the next: h (and an LSTM's c)
/// of every layer, made by the module (`Recurrent.makeState`) and updated by each
/// `RecurrentStream.run`. Shaped as `forward`'s `h0`/`hN` and `c0`/`cN`, so a state is also the
/// `h0`/`c0` that would continue the sequence with `forward`.
public struct RecurrentState<Scalar: ArrayScalar>: Equatable, Sendable {
    /// `[L, N, Hout]` (`[L, Hout]` unbatched); a cell's `[N, Hout]` (`[Hout]`).
    public internal(set) var h: ShapedArray<Scalar>
    /// LSTM and LSTMCell only: `[L, N, H]` (`[L, H]` unbatched), a cell's `[N, H]` (`[H]`).
    public internal(set) var c: ShapedArray<Scalar>?
    /// N, the sequences of every chunk; nil for unbatched chunks.
    public let batch: Int?
}

extension Recurrent {
    /// The zero state (PyTorch's absent h0 and c0) for chunks of `batch` sequences, or of
    /// unbatched input when nil.
    /// - Throws: `NNError.bidirectionalStream` for a bidirectional module.
    public func makeState(batch: Int?) throws(NNError) -> RecurrentState<Scalar> {
        try refuseBidirectional()
        let layers = config.isCell ? [] : [config.numLayers]
        let rows = batch.map { [$0] } ?? []
        let c = config.kind == .lstm ? ShapedArray<Scalar>(zeros: layers + rows + [config.hiddenSize]) : nil
        return RecurrentState(h: ShapedArray(zeros: layers + rows + [config.outputSize]), c: c, batch: batch)
    }

    /// A state from `forward`'s initial states: `h0` `[L, N, Hout]` (`[L, Hout]` unbatched; a
    /// cell's `[N, Hout]` or `[Hout]`), and an LSTM's `c0` shaped as `h0` with H columns.
    /// - Throws: `NNError.bidirectionalStream`; `.badInput` for states `forward` would refuse.
    public func makeState(h0: ShapedArray<Scalar>, c0: ShapedArray<Scalar>? = nil) throws(NNError)
        -> RecurrentState<Scalar> {
        try refuseBidirectional()
        let batched = h0.rank == (config.isCell ? 2 : 3)
        let batch = batched ? h0.shape[config.isCell ? 0 : 1] : 1
        let layers = config.isCell ? [] : [config.numLayers]
        let rows = batched ? [batch] : []
        let hShape = layers + rows + [config.outputSize], cShape = layers + rows + [config.hiddenSize]
        try checkStates(h0, hShape, c0, cShape)
        if config.kind == .lstm && c0 == nil { throw .badInput(.unpairedState(given: .h0, isCell: config.isCell)) }
        return RecurrentState(h: h0, c: c0, batch: batched ? batch : nil)
    }

    /// A stream of this module: its workspace, kept between calls.
    /// - Parameter compute: the threads the packed kernels may use and their pool; the engine
    ///   and kernel set are the load value's. The load value when nil.
    /// - Throws: `NNError.bidirectionalStream` for a bidirectional module.
    public func makeStream(compute: Compute? = nil) throws(NNError) -> RecurrentStream<Scalar> {
        try refuseBidirectional()
        return RecurrentStream(module: self, compute: compute ?? self.compute)
    }

    private func refuseBidirectional() throws(NNError) {
        if config.bidirectional { throw .bidirectionalStream(module: config.description, prefix: name) }
    }
}

/// Runs a unidirectional module (RNN, LSTM, GRU, stacked or not, or a cell) over a sequence a
/// chunk of steps at a time, carrying the state: the outputs and final state equal `forward`'s
/// on the whole sequence bit for bit, on both engines and every kernel set (the packed input
/// projection sums each row the same way whatever the chunk, `PackedWeights.rowwiseProduct`).
///
/// The workspace (each layer's buffers, its intermediate outputs) is kept between calls, so that
/// on the packed engine a call with the batch and no more steps than an earlier one allocates
/// nothing on the heap when its steps are not shared among threads (`threads` 1, or a layer
/// below `PackedRecurrent.splitsStreamedSteps`) or are shared at batch 1 without proj_size (one
/// `ThreadTeam.forEachPart` round a step): the output goes into the caller's array, the state is
/// updated where the caller keeps it, and time-major, unbatched, batch-1 and one-step chunks are
/// read and written where they are. The reference engine streams the same maths with
/// allocations. One call at a time.
///
///     var state = try lstm.makeState(batch: 1)
///     let stream = try lstm.makeStream()
///     try stream.run(chunk, state: &state, output: &y)
public final class RecurrentStream<Scalar: ArrayScalar> {
    public let module: Recurrent<Scalar>
    public let compute: Compute
    /// The packed engine's runs, built for a batch and a number of steps and rebuilt for more.
    private var packed: PackedStream<Scalar>?

    init(module: Recurrent<Scalar>, compute: Compute) {
        self.module = module
        self.compute = compute
    }

    /// Runs one chunk from `state` and leaves the state after its last step there.
    ///
    /// - Parameters:
    ///   - chunk: T ≥ 1 steps as `forward` takes them: `[T, N, I]`, `[N, T, I]` when batch_first,
    ///     unbatched `[T, I]`; a cell's one step `[N, I]` or `[I]`. N as the state's.
    ///   - state: from `makeState` of this module; updated.
    ///   - output: overwritten with the chunk's output as `forward` shapes it (`[T, N, Hout]`,
    ///     `[N, T, Hout]` batch_first, `[T, Hout]` unbatched; a cell's h'), in its own storage
    ///     when that is unshared and of the same size.
    /// - Throws: `NNError.badInput` for a chunk `forward` would refuse or whose batch is not
    ///   the state's.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func run(_ chunk: ShapedArray<Scalar>, state: inout RecurrentState<Scalar>,
                    output: inout ShapedArray<Scalar>) throws(NNError) {
        let config = module.config
        let (steps, batch, batched) = try layout(of: chunk, state: state)
        let layers = config.isCell ? 1 : config.numLayers
        guard state.h.values.count == layers * batch * config.outputSize,
              (state.c?.values.count ?? 0) == (config.kind == .lstm ? layers * batch * config.hiddenSize : 0) else {
            throw .badInput(.streamState(hShape: state.h.shape, module: config.description))
        }
        let count = steps * batch * config.outputSize
        if output.values.count != count { output.values = [Scalar](repeating: 0, count: count) }
        if config.isCell {
            setShape(&output.shape, batched ? batch : nil, config.outputSize)
        } else if !batched {
            setShape(&output.shape, steps, config.outputSize)
        } else if config.batchFirst {
            setShape(&output.shape, batch, steps, config.outputSize)
        } else {
            setShape(&output.shape, steps, batch, config.outputSize)
        }
        // The state's arrays taken out (not copied) while their pointers are lent.
        var h = state.h.values, c = state.c?.values ?? []
        state.h.values = []
        state.c?.values = []
        defer {
            state.h.values = h
            state.c?.values = c
        }
        let batchFirst = batched && config.batchFirst && !config.isCell
        switch module.implementation {
        case .packed(let recurrent):
            if packed == nil || packed!.batch != batch || packed!.capacity < steps {
                packed = PackedStream(recurrent, batch: batch, capacity: max(steps, packed?.capacity ?? 0))
            }
            let run = packed!
            chunk.values.withUnsafeBufferPointer { x in
                output.values.withUnsafeMutableBufferPointer { y in
                    h.withUnsafeMutableBufferPointer { hp in
                        c.withUnsafeMutableBufferPointer { cp in
                            run.run(x.baseAddress!, steps: steps, batchFirst: batchFirst, h: hp.baseAddress!,
                                    c: config.kind == .lstm ? cp.baseAddress! : nil, output: y.baseAddress!,
                                    compute: compute)
                        }
                    }
                }
            }
        case .reference(let reference):
            var x = chunk.values
            if batchFirst {
                x = ShapedArray(shape: [batch, steps, config.inputSize], values: x).swappingFirstAxes().values
            }
            if c.isEmpty { c = [Scalar](repeating: 0, count: layers * batch * config.hiddenSize) }
            var y = reference.stream(x: x, steps: steps, batch: batch, h: &h, c: &c)
            if config.kind != .lstm { c = [] }
            if batchFirst {
                y = ShapedArray(shape: [steps, batch, config.outputSize], values: y).swappingFirstAxes().values
            }
            output.values = y
        }
    }

    /// (T, N, batched) of a chunk that fits the module and the state.
    private func layout(of chunk: ShapedArray<Scalar>, state: RecurrentState<Scalar>) throws(NNError)
        -> (steps: Int, batch: Int, batched: Bool) {
        let config = module.config
        let steps: Int, batch: Int, batched: Bool
        if config.isCell {
            guard chunk.rank == 1 || chunk.rank == 2, chunk.shape[chunk.rank - 1] == config.inputSize else {
                throw .badInput(.cellInputShape(shape: chunk.shape, module: config.description,
                                                inputSize: config.inputSize))
            }
            batched = chunk.rank == 2
            (steps, batch) = (1, batched ? chunk.shape[0] : 1)
        } else {
            guard chunk.rank == 2 || chunk.rank == 3 else {
                throw .badInput(.layerInputRank(shape: chunk.shape, module: config.description,
                                                inputSize: config.inputSize))
            }
            guard chunk.shape[chunk.rank - 1] == config.inputSize else {
                throw .badInput(.inputFeatures(shape: chunk.shape, module: config.description,
                                               inputSize: config.inputSize))
            }
            batched = chunk.rank == 3
            if !batched {
                (steps, batch) = (chunk.shape[0], 1)
            } else if config.batchFirst {
                (steps, batch) = (chunk.shape[1], chunk.shape[0])
            } else {
                (steps, batch) = (chunk.shape[0], chunk.shape[1])
            }
            if steps == 0 || batch == 0 || config.inputSize == 0 { throw .badInput(.emptyInput(shape: chunk.shape)) }
        }
        guard state.batch == (batched ? batch : nil) else {
            throw .badInput(.streamBatch(inputShape: chunk.shape, stateBatch: state.batch, module: config.description))
        }
        return (steps, batch, batched)
    }
}

/// Sets `shape` to (a, b, c), leaving out the nil `a`, in place: no new array once it has the rank.
private func setShape(_ shape: inout [Int], _ a: Int?, _ b: Int, _ c: Int? = nil) {
    let rank = (a == nil ? 0 : 1) + 1 + (c == nil ? 0 : 1)
    if shape.count != rank { shape = [Int](repeating: 0, count: rank) }
    var i = 0
    if let a { shape[0] = a; i = 1 }
    shape[i] = b
    if let c { shape[i + 1] = c }
}

/// The packed engine's side of a stream: one `DirectionRun` per layer built for `batch` and up
/// to `capacity` steps, each with its own buffers, and the layers' intermediate outputs.
final class PackedStream<Scalar: ArrayScalar> {
    let recurrent: PackedRecurrent<Scalar>
    let batch: Int, capacity: Int
    private let runs: [DirectionRun<Scalar>]
    /// Two `[capacity, N, Hout]` buffers the layers before the last write in turn.
    private let between: [Buffer<Scalar>]
    /// batch_first chunks made time-major: `[capacity, N, I]` in, `[capacity, N, Hout]` out.
    private let timeMajorInput = Buffer<Scalar>(), timeMajorOutput = Buffer<Scalar>()

    init(_ recurrent: PackedRecurrent<Scalar>, batch: Int, capacity: Int) {
        self.recurrent = recurrent
        self.batch = batch
        self.capacity = capacity
        let config = recurrent.config
        let active = [Int](repeating: batch, count: capacity)
        runs = recurrent.layers.enumerated().map { l, directions in
            DirectionRun(config: config, kernels: recurrent.kernels, blocks: recurrent.blocks, weights: directions[0],
                         reverse: false, column: 0, steps: capacity, batch: batch,
                         inSize: l == 0 ? config.inputSize : config.outputSize, active: active, h0: nil, c0: nil,
                         buffers: DirectionBuffers<Scalar>())
        }
        between = [Buffer<Scalar>(), Buffer<Scalar>()]
        for buffer in between { buffer.reserve(capacity * batch * config.outputSize) }
        if config.batchFirst && !config.isCell && batch > 1 && capacity > 1 {
            timeMajorInput.reserve(capacity * batch * config.inputSize)
            timeMajorOutput.reserve(capacity * batch * config.outputSize)
        }
    }

    /// One chunk of `steps` ≤ `capacity` steps: `x` `[T, N, I]` (`[N, T, I]` when `batchFirst`),
    /// `h` `[L, N, Hout]` and `c` `[L, N, H]` in and out, `output` `[T, N, Hout]` (`[N, T, Hout]`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func run(_ x: UnsafePointer<Scalar>, steps: Int, batchFirst: Bool, h: UnsafeMutablePointer<Scalar>,
             c: UnsafeMutablePointer<Scalar>?, output: UnsafeMutablePointer<Scalar>, compute: Compute) {
        let config = recurrent.config
        // [N, T, ·] is [T, N, ·] already when N or T is 1.
        let permutes = batchFirst && batch > 1 && steps > 1
        var source = x
        if permutes {
            swapFirstAxes(x, timeMajorInput.pointer, steps: steps, width: config.inputSize, fromBatchFirst: true)
            source = UnsafePointer(timeMajorInput.pointer)
        }
        let last = permutes ? timeMajorOutput.pointer : output
        // Shared among threads as `forward` shares a unidirectional layer's steps.
        let threads = compute.threads.value
        let team = threads >= 2 && recurrent.blocks >= 2 && recurrent.splitsStreamedSteps(batch: batch)
            ? compute.threadPool.team(.steps, workers: threads - 1) : nil
        for l in 0..<runs.count {
            let run = runs[l]
            let destination = l + 1 < runs.count ? between[l % 2].pointer : last
            run.stream(count: steps, input: source, output: destination, h: h + l * batch * config.outputSize,
                       c: c.map { $0 + l * batch * config.hiddenSize }, team: team)
            source = UnsafePointer(destination)
        }
        if permutes {
            swapFirstAxes(timeMajorOutput.pointer, output, steps: steps, width: config.outputSize,
                          fromBatchFirst: false)
        }
    }

    /// `[T, N, width]` ↔ `[N, T, width]`, row by row.
    private func swapFirstAxes(_ from: UnsafePointer<Scalar>, _ to: UnsafeMutablePointer<Scalar>, steps: Int,
                               width: Int, fromBatchFirst: Bool) {
        for t in 0..<steps {
            for n in 0..<batch {
                let timeMajor = (t * batch + n) * width, batchMajor = (n * steps + t) * width
                if fromBatchFirst {
                    (to + timeMajor).update(from: from + batchMajor, count: width)
                } else {
                    (to + batchMajor).update(from: from + timeMajor, count: width)
                }
            }
        }
    }
}
