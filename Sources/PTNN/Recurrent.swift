import PTKernels
import PTTensor

/// `torch.nn.RNN`, `LSTM`, `GRU` and their cells, with PyTorch's maths
/// (`aten/src/ATen/native/RNN.cpp`, `torch/nn/modules/rnn.py`):
///
///     RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)
///     LSTM  i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh), in that row order
///           c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c'),  h' = W_hr h' with proj_size
///     GRU   r, z = σ(W_ir x + b_ir + W_hr h + b_hr), σ(W_iz x + b_iz + W_hz h + b_hz)
///           n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
///
/// An absent initial state is a zero state. Each layer projects all time steps' inputs with one
/// matrix product, then does one product per step for the recurrent part:
/// O(T·N·G·H·(I + Hout)) work, no per-element allocation.
public final class Recurrent<Scalar: ArrayScalar>: Sendable {
    public let config: RecurrentConfig
    /// The dotted key prefix the weights came from, for messages.
    public let name: String

    /// The value the module was loaded with: `forward`'s threads and pool when it is given none.
    public let compute: Compute

    /// What runs the layers (`Compute.Engine`); each keeps only the weights it uses.
    enum Implementation: Sendable {
        /// The packed kernels of the load value's kernel set.
        case packed(PackedRecurrent<Scalar>)
        /// Plain loops, sharing no code with the kernels.
        case reference(ReferenceRecurrent<Scalar>)
    }
    let implementation: Implementation

    /// What `forward` runs on: the kernel set's name (avx512, avx2, neon, plain), or "reference"
    /// for the reference implementation (plain loops).
    public var kernels: String {
        switch implementation {
        case .packed(let packed): return packed.kernels.set.rawValue
        case .reference: return "reference"
        }
    }

    /// Takes every weight of `config` from `weights` and checks that none is left over, then
    /// prepares them for `compute`'s engine and kernel set (packed, biases folded).
    /// - Throws: `NNError.missingKey`, `.wrongShape`, `.unusedKey`, `.unsupportedDType`, naming the
    ///   dotted key; `.checkpoint` for a weight's record failing its check.
    public init(config: RecurrentConfig, weights: inout WeightMap, compute: Compute = .automatic) throws(NNError) {
        self.config = config
        self.name = weights.prefix
        self.compute = compute
        var layers: [[DirectionWeights<Scalar>]] = []
        let rows = config.gates * config.hiddenSize
        for layer in 0..<(config.isCell ? 1 : config.numLayers) {
            var directions: [DirectionWeights<Scalar>] = []
            for direction in 0..<(config.isCell ? 1 : config.directions) {
                let suffix = config.isCell ? "" : "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let input = layer == 0 ? config.inputSize : config.outputSize * config.directions
                let wih: [Scalar] = try weights.take("weight_ih" + suffix, shape: [rows, input])
                let whh: [Scalar] = try weights.take("weight_hh" + suffix, shape: [rows, config.outputSize])
                var bih: [Scalar]?, bhh: [Scalar]?, whr: [Scalar]?
                if config.bias {
                    bih = try weights.take("bias_ih" + suffix, shape: [rows])
                    bhh = try weights.take("bias_hh" + suffix, shape: [rows])
                }
                if config.projSize > 0 {
                    whr = try weights.take("weight_hr" + suffix, shape: [config.projSize, config.hiddenSize])
                }
                directions.append(DirectionWeights(wih: wih, whh: whh, bih: bih, bhh: bhh, whr: whr))
            }
            layers.append(directions)
        }
        try weights.finish()
        if compute.engine == .packed, let kernels = Scalar.kernels(compute.kernelSet) {
            implementation = .packed(PackedRecurrent(config: config, layers: layers, kernels: kernels))
        } else {
            implementation = .reference(ReferenceRecurrent(config: config, layers: layers))
        }
    }

    /// What `forward` returns, laid out exactly as PyTorch returns it.
    public struct Output {
        /// `[T, N, D·Hout]` (`[N, T, D·Hout]` batch_first, `[T, D·Hout]` unbatched); nil for cells.
        public var output: ShapedArray<Scalar>?
        /// `[L·D, N, Hout]` (`[L·D, Hout]` unbatched); a cell's h', `[N, Hout]` or `[Hout]`.
        public var hN: ShapedArray<Scalar>
        /// LSTM only: `[L·D, N, H]`; a cell's c'.
        public var cN: ShapedArray<Scalar>?
    }

    /// Runs the module.
    ///
    /// - Parameters:
    ///   - input: `[T, N, I]`, `[N, T, I]` when batch_first, or unbatched `[T, I]`; a cell takes `[N, I]` or `[I]`.
    ///   - h0: `[L·D, N, Hout]` (`[L·D, Hout]` unbatched; batch_first never changes it); a cell's `[N, Hout]`.
    ///   - c0: LSTM only, as `h0` with H columns. Give both or neither.
    ///   - lengths: one length in `1...T` per batch element (PyTorch's packed sequences, unsorted
    ///     allowed): each sequence's forward pass stops at its length, its reverse pass starts at its
    ///     own last step, `h_n` holds its own final states, and `output` is zero past its length.
    ///   - compute: the threads the packed kernels may use and the pool they come from; the
    ///     engine and kernel set are the load value's. The load value when nil.
    /// - Throws: `NNError.badInput` for shapes that do not fit, as PyTorch would refuse them.
    public func forward(_ input: ShapedArray<Scalar>, h0: ShapedArray<Scalar>? = nil, c0: ShapedArray<Scalar>? = nil,
                        lengths: [Int]? = nil, compute: Compute? = nil) throws(NNError) -> Output {
        let compute = compute ?? self.compute
        if config.isCell { return try cellForward(input, h0: h0, c0: c0, lengths: lengths, compute: compute) }
        let batched: Bool
        switch input.rank {
        case 3: batched = true
        case 2: batched = false
        default:
            throw .badInput(.layerInputRank(shape: input.shape, module: config.description,
                                            inputSize: config.inputSize))
        }
        guard input.shape.last == config.inputSize else {
            throw .badInput(.inputFeatures(shape: input.shape, module: config.description, inputSize: config.inputSize))
        }
        var x = input
        if !batched { x = ShapedArray(shape: [input.shape[0], 1, input.shape[1]], values: input.values) }
        else if config.batchFirst { x = x.swappingFirstAxes() }
        let steps = x.shape[0], batch = x.shape[1]
        let stateCount = config.numLayers * config.directions
        let hShape = batched ? [stateCount, batch, config.outputSize] : [stateCount, config.outputSize]
        let cShape = batched ? [stateCount, batch, config.hiddenSize] : [stateCount, config.hiddenSize]
        try checkStates(h0, hShape, c0, cShape)
        if let lengths {
            guard batched else { throw .badInput(.lengthsUnbatched(inputShape: input.shape)) }
            guard lengths.count == batch else { throw .badInput(.lengthsCount(count: lengths.count, batch: batch)) }
            if let bad = lengths.firstIndex(where: { $0 < 1 || $0 > steps }) {
                throw .badInput(.lengthOutOfRange(index: bad, length: lengths[bad], steps: steps))
            }
        }
        if steps == 0 || batch == 0 || config.inputSize == 0 {
            throw .badInput(.emptyInput(shape: input.shape))
        }

        let result = run(x.values, steps: steps, batch: batch, h0: h0?.values, c0: c0?.values, lengths: lengths,
                         compute: compute)
        return finish(output: result.output, hN: result.hN, cN: result.cN,
                      steps: steps, batch: batch, batched: batched, hShape: hShape, cShape: cShape)
    }

    /// The engine's forward pass over validated, time-major values (see `PackedRecurrent.forward`).
    private func run(_ x: [Scalar], steps: Int, batch: Int, h0: [Scalar]?, c0: [Scalar]?, lengths: [Int]?,
                     compute: Compute) -> (output: [Scalar], hN: [Scalar], cN: [Scalar]?) {
        switch implementation {
        case .packed(let packed):
            return packed.forward(x: x, steps: steps, batch: batch, h0: h0, c0: c0, lengths: lengths, compute: compute)
        case .reference(let reference):
            return reference.forward(x: x, steps: steps, batch: batch, h0: h0, c0: c0, lengths: lengths)
        }
    }

    /// Lays the results out as PyTorch returns them (batch_first, unbatched).
    private func finish(output values: [Scalar], hN: [Scalar], cN: [Scalar]?, steps: Int, batch: Int, batched: Bool,
                        hShape: [Int], cShape: [Int]) -> Output {
        var output = ShapedArray(shape: [steps, batch, config.outputSize * config.directions], values: values)
        if !batched { output = ShapedArray(shape: [steps, config.outputSize * config.directions], values: values) }
        else if config.batchFirst { output = output.swappingFirstAxes() }
        return Output(output: output, hN: ShapedArray(shape: hShape, values: hN),
                      cN: cN.map { ShapedArray(shape: cShape, values: $0) })
    }

    /// `h0` (and, for an LSTM, `c0`) must have the shapes given; an LSTM takes both or neither,
    /// and the others take no `c0`.
    func checkStates(_ h0: ShapedArray<Scalar>?, _ hShape: [Int], _ c0: ShapedArray<Scalar>?,
                             _ cShape: [Int]) throws(NNError) {
        func check(_ state: ShapedArray<Scalar>?, _ name: NNError.State, _ shape: [Int]) throws(NNError) {
            guard let state, state.shape != shape else { return }
            throw .badInput(.stateShape(name, shape: state.shape, module: config.description, expected: shape))
        }
        try check(h0, .h0, hShape)
        guard config.kind == .lstm else {
            if c0 != nil { throw .badInput(.noCellState(module: config.description)) }
            return
        }
        try check(c0, .c0, cShape)
        if (h0 == nil) != (c0 == nil) {
            throw .badInput(.unpairedState(given: h0 == nil ? .c0 : .h0, isCell: config.isCell))
        }
    }

    private func cellForward(_ input: ShapedArray<Scalar>, h0: ShapedArray<Scalar>?, c0: ShapedArray<Scalar>?,
                             lengths: [Int]?, compute: Compute) throws(NNError) -> Output {
        guard lengths == nil else { throw .badInput(.lengthsForCell(module: config.description)) }
        guard input.rank == 1 || input.rank == 2, input.shape.last == config.inputSize else {
            throw .badInput(.cellInputShape(shape: input.shape, module: config.description,
                                            inputSize: config.inputSize))
        }
        let batched = input.rank == 2
        let batch = batched ? input.shape[0] : 1
        let hShape = batched ? [batch, config.hiddenSize] : [config.hiddenSize]
        try checkStates(h0, hShape, c0, hShape)
        let result = run(input.values, steps: 1, batch: batch, h0: h0?.values, c0: c0?.values, lengths: nil,
                         compute: compute)
        return Output(output: nil, hN: ShapedArray(shape: hShape, values: result.hN),
                      cN: result.cN.map { ShapedArray(shape: hShape, values: $0) })
    }
}

/// One direction's weights as the checkpoint holds them, widened to `Scalar`.
struct DirectionWeights<Scalar: ArrayScalar>: Sendable {
    var wih: [Scalar]   // [G·H, In]
    var whh: [Scalar]   // [G·H, Hout]
    var bih: [Scalar]?  // [G·H]
    var bhh: [Scalar]?  // [G·H]
    var whr: [Scalar]?  // [P, H]
}
