import PTKernels
import PTTensor

/// `Recurrent`'s forward pass in plain loops (`Compute.Engine.reference`): the maths exactly as
/// written in `Recurrent`'s documentation, one product per step through `referenceProduct`,
/// sharing no code with the packed kernels, so that each checks the other.
final class ReferenceRecurrent<Scalar: ArrayScalar>: Sendable {
    let config: RecurrentConfig
    let layers: [[DirectionWeights<Scalar>]]

    init(config: RecurrentConfig, layers: [[DirectionWeights<Scalar>]]) {
        self.config = config
        self.layers = layers
    }

    /// As `PackedRecurrent.forward`: `x` `[T, N, I]` time-major, `h0` `[L·D, N, Hout]`, `c0`
    /// `[L·D, N, H]`, lengths validated; a cell is one step of one layer.
    /// - Returns: output `[T, N, D·Hout]`, hN `[L·D, N, Hout]` and cN `[L·D, N, H]`.
    func forward(x: [Scalar], steps: Int, batch: Int, h0: [Scalar]?, c0: [Scalar]?, lengths: [Int]?)
        -> (output: [Scalar], hN: [Scalar], cN: [Scalar]?) {
        let stateCount = layers.count * config.directions
        var hN = [Scalar](repeating: 0, count: stateCount * batch * config.outputSize)
        var cN = config.kind == .lstm ? [Scalar](repeating: 0, count: stateCount * batch * config.hiddenSize) : nil
        var layerInput = x
        var layerOutput: [Scalar] = []
        for (l, directions) in layers.enumerated() {
            layerOutput = [Scalar](repeating: 0, count: steps * batch * config.outputSize * config.directions)
            for (d, weights) in directions.enumerated() {
                let state = l * config.directions + d
                var h = h0.map {
                    Array($0[(state * batch * config.outputSize)..<((state + 1) * batch * config.outputSize)])
                } ?? [Scalar](repeating: 0, count: batch * config.outputSize)
                var c = c0.map {
                    Array($0[(state * batch * config.hiddenSize)..<((state + 1) * batch * config.hiddenSize)])
                } ?? [Scalar](repeating: 0, count: batch * config.hiddenSize)
                run(weights, input: layerInput,
                    inputSize: l == 0 ? config.inputSize : config.outputSize * config.directions,
                    steps: steps, batch: batch, reverse: d == 1, lengths: lengths, h: &h, c: &c,
                    output: &layerOutput, outputColumn: d * config.outputSize)
                hN.replaceSubrange((state * batch * config.outputSize)..<((state + 1) * batch * config.outputSize),
                                   with: h)
                if config.kind == .lstm {
                    cN?.replaceSubrange((state * batch * config.hiddenSize)..<((state + 1) * batch * config.hiddenSize),
                                        with: c)
                }
            }
            layerInput = layerOutput
        }
        return (layerOutput, hN, cN)
    }

    /// A unidirectional module's chunk for `RecurrentStream`: `x` `[T, N, I]` time-major, `h`
    /// `[L, N, Hout]` and `c` `[L, N, H]` (zeros for RNN and GRU) carried in and out.
    /// - Returns: the output `[T, N, Hout]`.
    func stream(x: [Scalar], steps: Int, batch: Int, h: inout [Scalar], c: inout [Scalar]) -> [Scalar] {
        let outSize = config.outputSize, hidden = config.hiddenSize
        var input = x
        for (l, directions) in layers.enumerated() {
            var output = [Scalar](repeating: 0, count: steps * batch * outSize)
            let hRange = (l * batch * outSize)..<((l + 1) * batch * outSize)
            let cRange = (l * batch * hidden)..<((l + 1) * batch * hidden)
            var hl = Array(h[hRange]), cl = Array(c[cRange])
            run(directions[0], input: input, inputSize: l == 0 ? config.inputSize : outSize, steps: steps,
                batch: batch, reverse: false, lengths: nil, h: &hl, c: &cl, output: &output, outputColumn: 0)
            h.replaceSubrange(hRange, with: hl)
            c.replaceSubrange(cRange, with: cl)
            input = output
        }
        return input
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
    func run(_ w: DirectionWeights<Scalar>, input: [Scalar], inputSize: Int, steps: Int, batch: Int, reverse: Bool,
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
                                            if rawb.isEmpty {
                                                hb[b * hidden + j] = value
                                            } else {
                                                rawb[b * hidden + j] = value
                                            }
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
