import PTKernels

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
public final class Recurrent<Scalar: GEMMScalar> {
    public let config: RecurrentConfig
    /// The dotted key prefix the weights came from, for messages.
    public let name: String

    struct Direction {
        var wih: [Scalar]   // [G·H, In]
        var whh: [Scalar]   // [G·H, Hout]
        var bih: [Scalar]?  // [G·H]
        var bhh: [Scalar]?  // [G·H]
        var whr: [Scalar]?  // [P, H]
    }
    let layers: [[Direction]]
    /// The packed path, on the kernels of the CPU's instruction set; nil only where no kernel
    /// table exists for this element type (never for Float and Double).
    let fast: FastRecurrent<Scalar>?

    /// What `forward` runs on: the kernel set's name (avx512, avx2, neon, plain), or "reference"
    /// for the reference implementation (`PTLOAD_KERNELS=reference`: plain loops).
    public var kernels: String { fast.map { $0.kernels.set.rawValue } ?? "reference" }

    /// Takes every weight of `config` from `weights` and checks that none is left over.
    /// - Throws: `NNError.missingKey`, `.wrongShape`, `.unusedKey`, `.unsupportedDType`, naming the dotted key.
    public init(config: RecurrentConfig, weights: inout WeightMap) throws {
        self.config = config
        self.name = weights.prefix
        var layers: [[Direction]] = []
        let rows = config.gates * config.hiddenSize
        for layer in 0..<(config.isCell ? 1 : config.numLayers) {
            var directions: [Direction] = []
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
                directions.append(Direction(wih: wih, whh: whh, bih: bih, bhh: bhh, whr: whr))
            }
            layers.append(directions)
        }
        try weights.finish()
        self.layers = layers
        fast = CPUFeatures.usesReferencePath ? nil
            : Scalar.kernels(CPUFeatures.active).map { FastRecurrent(config: config, layers: layers, kernels: $0) }
    }

    /// What `forward` returns, laid out exactly as PyTorch returns it.
    public struct Output {
        /// `[T, N, D·Hout]` (`[N, T, D·Hout]` batch_first, `[T, D·Hout]` unbatched); nil for cells.
        public var output: Dense<Scalar>?
        /// `[L·D, N, Hout]` (`[L·D, Hout]` unbatched); a cell's h', `[N, Hout]` or `[Hout]`.
        public var hN: Dense<Scalar>
        /// LSTM only: `[L·D, N, H]`; a cell's c'.
        public var cN: Dense<Scalar>?
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
    /// - Throws: `NNError.badInput` for shapes that do not fit, as PyTorch would refuse them.
    public func forward(_ input: Dense<Scalar>, h0: Dense<Scalar>? = nil, c0: Dense<Scalar>? = nil,
                        lengths: [Int]? = nil) throws -> Output {
        if config.isCell { return try cellForward(input, h0: h0, c0: c0, lengths: lengths) }
        var module: String { config.description }   // only built for error messages
        let batched: Bool
        switch input.rank {
        case 3: batched = true
        case 2: batched = false
        default:
            throw NNError.badInput("input has shape \(input.shape); \(module) takes [T, N, \(config.inputSize)], [N, T, \(config.inputSize)] with batch_first, or unbatched [T, \(config.inputSize)]")
        }
        guard input.shape.last == config.inputSize else {
            throw NNError.badInput("input has \(input.shape.last ?? 0) features (shape \(input.shape)); \(module) needs input_size \(config.inputSize)")
        }
        var x = input
        if !batched { x = Dense(shape: [input.shape[0], 1, input.shape[1]], values: input.values) }
        else if config.batchFirst { x = x.swappingFirstAxes() }
        let steps = x.shape[0], batch = x.shape[1]
        let stateCount = config.numLayers * config.directions
        let hShape = batched ? [stateCount, batch, config.outputSize] : [stateCount, config.outputSize]
        let cShape = batched ? [stateCount, batch, config.hiddenSize] : [stateCount, config.hiddenSize]
        try checkStates(h0, hShape, c0, cShape)
        if let lengths {
            guard batched else { throw NNError.badInput("lengths need a batched input; got unbatched shape \(input.shape)") }
            guard lengths.count == batch else {
                throw NNError.badInput("lengths has \(lengths.count) entries; the batch has \(batch) sequences")
            }
            if let bad = lengths.firstIndex(where: { $0 < 1 || $0 > steps }) {
                throw NNError.badInput("lengths[\(bad)] is \(lengths[bad]); every length must be in 1...\(steps) (packed sequences have no empty ones)")
            }
        }
        if steps == 0 || batch == 0 || config.inputSize == 0 {
            throw NNError.badInput("input has shape \(input.shape); PyTorch needs at least one step and one sequence")
        }

        if let fast {
            let result = fast.forward(x: x.values, steps: steps, batch: batch, h0: h0?.values, c0: c0?.values, lengths: lengths)
            return finish(output: result.output, hN: result.hN, cN: result.cN,
                          steps: steps, batch: batch, batched: batched, hShape: hShape, cShape: cShape)
        }
        var hN = [Scalar](repeating: 0, count: stateCount * batch * config.outputSize)
        var cN = config.kind == .lstm ? [Scalar](repeating: 0, count: stateCount * batch * config.hiddenSize) : nil
        var layerInput = x.values
        var layerOutput: [Scalar] = []
        for (l, directions) in layers.enumerated() {
            layerOutput = [Scalar](repeating: 0, count: steps * batch * config.outputSize * config.directions)
            for (d, weights) in directions.enumerated() {
                let state = l * config.directions + d
                var h = h0.map { Array($0.values[(state * batch * config.outputSize)..<((state + 1) * batch * config.outputSize)]) }
                    ?? [Scalar](repeating: 0, count: batch * config.outputSize)
                var c = c0.map { Array($0.values[(state * batch * config.hiddenSize)..<((state + 1) * batch * config.hiddenSize)]) }
                    ?? [Scalar](repeating: 0, count: batch * config.hiddenSize)
                run(weights, input: layerInput, inputSize: l == 0 ? config.inputSize : config.outputSize * config.directions,
                    steps: steps, batch: batch, reverse: d == 1, lengths: lengths, h: &h, c: &c,
                    output: &layerOutput, outputColumn: d * config.outputSize)
                hN.replaceSubrange((state * batch * config.outputSize)..<((state + 1) * batch * config.outputSize), with: h)
                if config.kind == .lstm {
                    cN?.replaceSubrange((state * batch * config.hiddenSize)..<((state + 1) * batch * config.hiddenSize), with: c)
                }
            }
            layerInput = layerOutput
        }
        return finish(output: layerOutput, hN: hN, cN: cN, steps: steps, batch: batch, batched: batched,
                      hShape: hShape, cShape: cShape)
    }

    /// Lays the results out as PyTorch returns them (batch_first, unbatched).
    private func finish(output values: [Scalar], hN: [Scalar], cN: [Scalar]?, steps: Int, batch: Int, batched: Bool,
                        hShape: [Int], cShape: [Int]) -> Output {
        var output = Dense(shape: [steps, batch, config.outputSize * config.directions], values: values)
        if !batched { output = Dense(shape: [steps, config.outputSize * config.directions], values: values) }
        else if config.batchFirst { output = output.swappingFirstAxes() }
        return Output(output: output, hN: Dense(shape: hShape, values: hN), cN: cN.map { Dense(shape: cShape, values: $0) })
    }

    /// `h0` (and, for an LSTM, `c0`) must have the shapes given; an LSTM takes both or neither,
    /// and the others take no `c0`.
    private func checkStates(_ h0: Dense<Scalar>?, _ hShape: [Int], _ c0: Dense<Scalar>?, _ cShape: [Int]) throws {
        func check(_ state: Dense<Scalar>?, _ name: String, _ shape: [Int]) throws {
            guard let state, state.shape != shape else { return }
            throw NNError.badInput("\(name) has shape \(state.shape); \(config) with this input needs \(shape)")
        }
        try check(h0, "h0", hShape)
        guard config.kind == .lstm else {
            if c0 != nil { throw NNError.badInput("c0 was given, but \(config) has no cell state") }
            return
        }
        try check(c0, "c0", cShape)
        if (h0 == nil) != (c0 == nil) {
            let name = config.isCell ? "an LSTMCell" : "an LSTM"
            throw NNError.badInput("\(name) takes both h0 and c0 or neither; got only \(h0 == nil ? "c0" : "h0")")
        }
    }

    private func cellForward(_ input: Dense<Scalar>, h0: Dense<Scalar>?, c0: Dense<Scalar>?, lengths: [Int]?) throws -> Output {
        guard lengths == nil else { throw NNError.badInput("lengths apply to RNN/LSTM/GRU layers, not to \(config)") }
        guard input.rank == 1 || input.rank == 2, input.shape.last == config.inputSize else {
            throw NNError.badInput("input has shape \(input.shape); \(config) takes [N, \(config.inputSize)] or [\(config.inputSize)]")
        }
        let batched = input.rank == 2
        let batch = batched ? input.shape[0] : 1
        let hShape = batched ? [batch, config.hiddenSize] : [config.hiddenSize]
        try checkStates(h0, hShape, c0, hShape)
        if let fast {
            let result = fast.forward(x: input.values, steps: 1, batch: batch, h0: h0?.values, c0: c0?.values, lengths: nil)
            return Output(output: nil, hN: Dense(shape: hShape, values: result.hN),
                          cN: result.cN.map { Dense(shape: hShape, values: $0) })
        }
        var h = h0?.values ?? [Scalar](repeating: 0, count: batch * config.hiddenSize)
        var c = c0?.values ?? [Scalar](repeating: 0, count: batch * config.hiddenSize)
        var unused = [Scalar](repeating: 0, count: batch * config.hiddenSize)
        run(layers[0][0], input: input.values, inputSize: config.inputSize, steps: 1, batch: batch, reverse: false,
            lengths: nil, h: &h, c: &c, output: &unused, outputColumn: 0)
        return Output(output: nil, hN: Dense(shape: hShape, values: h),
                      cN: config.kind == .lstm ? Dense(shape: hShape, values: c) : nil)
    }

    /// One direction of one layer over all steps.
    ///
    /// - Parameters:
    ///   - input: `[T, N, inputSize]`, time-major.
    ///   - h: `[N, Hout]`, updated in place (rows whose sequence has ended keep their state).
    ///   - c: `[N, H]` (LSTM), updated in place.
    ///   - output: `[T, N, D·Hout]`; this direction writes columns `outputColumn ..< outputColumn + Hout`
    ///     of active rows, leaving zeros past each length.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func run(_ w: Direction, input: [Scalar], inputSize: Int, steps: Int, batch: Int, reverse: Bool,
             lengths: [Int]?, h: inout [Scalar], c: inout [Scalar], output: inout [Scalar], outputColumn: Int) {
        let hidden = config.hiddenSize, outSize = config.outputSize
        let rows = config.gates * hidden
        let outStride = outSize * config.directions
        let kind = config.kind, act = config.nonlinearity
        var projected = [Scalar](repeating: 0, count: steps * batch * rows)   // W_ih x + b_ih, all steps
        var recurrent = [Scalar](repeating: 0, count: batch * rows)           // W_hh h + b_hh, this step
        var raw = [Scalar](repeating: 0, count: config.projSize > 0 ? batch * hidden : 0)  // o ⊙ tanh(c) before W_hr
        var projectedH = [Scalar](repeating: 0, count: config.projSize > 0 ? batch * outSize : 0)

        input.withUnsafeBufferPointer { x in
            w.wih.withUnsafeBufferPointer { wih in
                projected.withUnsafeMutableBufferPointer { p in
                    Scalar.referenceProduct(m: steps * batch, n: rows, k: inputSize, a: x.baseAddress!, lda: inputSize,
                                            b: wih.baseAddress!, ldb: inputSize, c: p.baseAddress!, ldc: rows)
                    if let bih = w.bih {
                        for r in 0..<(steps * batch) {
                            for j in 0..<rows { p[r * rows + j] += bih[j] }
                        }
                    }
                }
            }
        }

        for step in 0..<steps {
            let t = reverse ? steps - 1 - step : step
            h.withUnsafeBufferPointer { hp in
                w.whh.withUnsafeBufferPointer { whh in
                    recurrent.withUnsafeMutableBufferPointer { r in
                        Scalar.referenceProduct(m: batch, n: rows, k: outSize, a: hp.baseAddress!, lda: outSize,
                                                b: whh.baseAddress!, ldb: outSize, c: r.baseAddress!, ldc: rows)
                        if let bhh = w.bhh {
                            for b in 0..<batch {
                                for j in 0..<rows { r[b * rows + j] += bhh[j] }
                            }
                        }
                    }
                }
            }
            projected.withUnsafeBufferPointer { pAll in
                recurrent.withUnsafeBufferPointer { rAll in
                    h.withUnsafeMutableBufferPointer { hb in
                        c.withUnsafeMutableBufferPointer { cb in
                            raw.withUnsafeMutableBufferPointer { rawb in
                                for b in 0..<batch {
                                    if let lengths, t >= lengths[b] { continue }
                                    let xp = pAll.baseAddress! + (t * batch + b) * rows
                                    let hp = rAll.baseAddress! + b * rows
                                    switch kind {
                                    case .rnn:
                                        for j in 0..<hidden { hb[b * hidden + j] = act(xp[j] + hp[j]) }
                                    case .gru:
                                        for j in 0..<hidden {
                                            let r = sigmoid(xp[j] + hp[j])
                                            let z = sigmoid(xp[hidden + j] + hp[hidden + j])
                                            let n = Scalar.tanh(xp[2 * hidden + j] + r * hp[2 * hidden + j])
                                            hb[b * hidden + j] = (1 - z) * n + z * hb[b * hidden + j]
                                        }
                                    case .lstm:
                                        for j in 0..<hidden {
                                            let i = sigmoid(xp[j] + hp[j])
                                            let f = sigmoid(xp[hidden + j] + hp[hidden + j])
                                            let g = Scalar.tanh(xp[2 * hidden + j] + hp[2 * hidden + j])
                                            let o = sigmoid(xp[3 * hidden + j] + hp[3 * hidden + j])
                                            let cell = f * cb[b * hidden + j] + i * g
                                            cb[b * hidden + j] = cell
                                            let value = o * Scalar.tanh(cell)
                                            if rawb.isEmpty { hb[b * hidden + j] = value } else { rawb[b * hidden + j] = value }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let whr = w.whr {
                // h' = W_hr (o ⊙ tanh(c')) for every row, then only active rows take it.
                raw.withUnsafeBufferPointer { rawb in
                    whr.withUnsafeBufferPointer { whrb in
                        projectedH.withUnsafeMutableBufferPointer { ph in
                            Scalar.referenceProduct(m: batch, n: outSize, k: hidden, a: rawb.baseAddress!, lda: hidden,
                                                    b: whrb.baseAddress!, ldb: hidden, c: ph.baseAddress!, ldc: outSize)
                        }
                    }
                }
                for b in 0..<batch {
                    if let lengths, t >= lengths[b] { continue }
                    for j in 0..<outSize { h[b * outSize + j] = projectedH[b * outSize + j] }
                }
            }
            for b in 0..<batch {
                if let lengths, t >= lengths[b] { continue }
                let base = (t * batch + b) * outStride + outputColumn
                for j in 0..<outSize { output[base + j] = h[b * outSize + j] }
            }
        }
    }
}
