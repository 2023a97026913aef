import PTKernels
import PTTensor

/// `Recurrent`'s forward pass on the packed kernels of one instruction set (`Compute.kernelSet`),
/// float32 or float64: the same maths, laid out for speed. Cells are one step of one layer; an
/// LSTM with `proj_size` projects each step's h with W_hr, packed too.
///
/// - W_hh is packed once, at load time, gate by gate with each gate padded to whole blocks of
///   one panel of hidden units (`KernelTable.panel`: 32 on AVX-512, 16 on AVX2, 8 on NEON and
///   plain), so a run of blocks is one panel range per gate: the two threads can split a
///   step by blocks without a second barrier, and the gate pass runs over a row's whole run.
/// - W_ih is packed the same way; a chunk of steps' input projection is shared between the
///   threads in row slices, with the same packed kernel.
/// - One packed product per step (`PackedWeights.product`) and one fused pass of the gates.
/// - A bidirectional layer runs its two directions on two teams of threads, with no sync between
///   them; a team (or the one team of a unidirectional layer) of two or more threads shares each
///   step's blocks among its threads when a step is worth it (`splitsSteps`): at a batch of a
///   few rows as phases, each thread the same blocks every step (`DirectionRun.runPhased`), else
///   item by item (`ThreadTeam.forEach`); either way a descheduled worker's unstarted work goes to
///   the others. The teams come from `Compute.threadPool`.
/// - Variable-length batches are sorted by length once, so the active sequences of every step
///   are a prefix: the products shrink instead of computing padding.
final class PackedRecurrent<Scalar: ArrayScalar>: Sendable {
    let config: RecurrentConfig
    let kernels: KernelTable<Scalar>
    let blocks: Int

    /// One direction's weights, gate-major with each gate padded to Hp = panel·blocks rows.
    struct Direction: Sendable {
        var wih: PackedWeights<Scalar>    // W_ih, [G·Hp, In] packed
        var bias: Buffer<Scalar>          // [G·Hp]: b_ih + b_hh (GRU: b_ih + (b_hr, b_hz, 0)); zeros without bias
        var bhn: Buffer<Scalar>           // [H]: GRU's b_hn (zeros without bias); empty for LSTM and RNN
        var packed: PackedWeights<Scalar> // W_hh, [G·Hp, Hout] packed
        var projection: PackedWeights<Scalar>? // W_hr, [P, H] packed (LSTM with proj_size)
    }
    let layers: [[Direction]]

    /// Packs every layer's weights for `kernels`. Takes every configuration: layers and cells
    /// (one step of one layer), projections, float32 and float64.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    init(config: RecurrentConfig, layers source: [[DirectionWeights<Scalar>]], kernels: KernelTable<Scalar>) {
        self.config = config
        self.kernels = kernels
        let hidden = config.hiddenSize, gates = config.gates
        let panel = kernels.panel
        blocks = (hidden + panel - 1) / panel
        var layers: [[Direction]] = []
        for directions in source {
            var converted: [Direction] = []
            for w in directions {
                // Gate-major, each gate padded to a whole number of blocks: gate g of unit u is
                // row g·Hp + u. A range of blocks is then one panel range per gate.
                let padded = blocks * panel
                let blockRows = gates * padded
                // Bias, gate-major with each gate padded like the weights' rows.
                func pad(_ source: [Scalar]) -> [Scalar] {
                    var out = [Scalar](repeating: 0, count: blockRows)
                    for g in 0..<gates { for u in 0..<hidden { out[g * padded + u] = source[g * hidden + u] } }
                    return out
                }
                var bias = [Scalar](repeating: 0, count: blockRows)
                var bhn = [Scalar](repeating: 0, count: config.kind == .gru ? hidden : 0)
                if let bih = w.bih, let bhh = w.bhh {
                    var folded = bih
                    let foldedGates = config.kind == .gru ? 2 : gates
                    for row in 0..<(foldedGates * hidden) { folded[row] += bhh[row] }
                    bias = pad(folded)
                    if config.kind == .gru { bhn = Array(bhh[(2 * hidden)..<(3 * hidden)]) }
                }
                let inSize = w.wih.count / max(gates * hidden, 1)
                let outSize = config.outputSize
                // Each gate packed on its own, padded to whole panels (`groups`).
                let packed = w.whh.withUnsafeBufferPointer {
                    PackedWeights(weight: $0.baseAddress!, rows: gates * hidden, k: outSize, groups: gates,
                                  kernels: kernels)
                }
                let packedIH = w.wih.withUnsafeBufferPointer {
                    PackedWeights(weight: $0.baseAddress!, rows: gates * hidden, k: inSize, groups: gates,
                                  kernels: kernels)
                }
                let projection = w.whr.map { whr in
                    whr.withUnsafeBufferPointer {
                        PackedWeights(weight: $0.baseAddress!, rows: config.projSize, k: hidden, kernels: kernels)
                    }
                }
                converted.append(Direction(wih: packedIH, bias: Buffer(bias), bhn: Buffer(bhn), packed: packed,
                                           projection: projection))
            }
            layers.append(converted)
        }
        self.layers = layers
    }

    /// Working memory kept between calls (one workspace per concurrent call).
    private let workspaces = Workspaces<Scalar>()

    /// Whether a sequence's steps are worth sharing among threads: when a step multiplies by at
    /// least 64 KB of W_hh or does at least 2^19 multiply-adds. A few rows' steps go as phases
    /// (`DirectionRun.runPhased`), a few cache lines between cores a step; at 64 KB sharing
    /// gained 1.09×, at 144 KB 1.23×, at 256 KB (lstm_small_b1) 1.43× (docs/PERFORMANCE.md).
    func splitsSteps(batch: Int) -> Bool {
        let weights = config.gates * config.hiddenSize * config.outputSize
        return weights * MemoryLayout<Scalar>.size >= 1 << 16 || batch * weights >= 1 << 19
    }

    /// Whether a streamed call's steps are shared among threads: from 512 KB of W_hh or 2^19
    /// multiply-adds a step. A step of a few µs shared is a few cache lines between cores a step
    /// (at batch 1 a `ThreadTeam.forEachPart` round, allocating nothing), which on a machine whose
    /// other cores are busy costs more than it saves; below that, the caller runs it alone.
    func splitsStreamedSteps(batch: Int) -> Bool {
        let weights = config.gates * config.hiddenSize * config.outputSize
        return weights * MemoryLayout<Scalar>.size >= 1 << 19 || batch * weights >= 1 << 19
    }

    /// - Parameters:
    ///   - x: `[T, N, I]`, time-major; `h0`: `[L·D, N, Hout]`; `c0`: `[L·D, N, H]`; lengths
    ///     validated by the caller. A cell is one step of one layer: T = 1.
    ///   - compute: the caller and `threads − 1` workers of its pool.
    /// - Returns: output `[T, N, D·Hout]`, hN `[L·D, N, Hout]` and cN `[L·D, N, H]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func forward(x: [Scalar], steps: Int, batch: Int, h0: [Scalar]?, c0: [Scalar]?, lengths: [Int]?,
                 compute: Compute) -> (output: [Scalar], hN: [Scalar], cN: [Scalar]?) {
        let hidden = config.hiddenSize, outSize = config.outputSize, directions = config.isCell ? 1 : config.directions
        // Sort the batch by length, longest first, so that active rows are always a prefix.
        let order = lengths.map { l in (0..<batch).sorted { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) } }
            ?? Array(0..<batch)
        let sortedLengths = lengths.map { l in order.map { l[$0] } }
        var input = permuteRows(x, rows: steps, batch: batch, width: config.inputSize, order: order)
        let stateCount = layers.count * directions
        var hN = [Scalar](repeating: 0, count: stateCount * batch * outSize)
        var cN = config.kind == .lstm ? [Scalar](repeating: 0, count: stateCount * batch * hidden) : nil
        let h0Sorted = h0.map { permuteRows($0, rows: stateCount, batch: batch, width: outSize, order: order) }
        let c0Sorted = c0.map { permuteRows($0, rows: stateCount, batch: batch, width: hidden, order: order) }
        // Active rows per step: #{b : length_b > t}.
        let active: [Int] = (0..<steps).map { t in sortedLengths.map { ls in ls.filter { $0 > t }.count } ?? batch }

        let workspace = workspaces.take(directions: directions)
        defer { workspaces.give(workspace) }
        var output: [Scalar] = []
        for (l, weights) in layers.enumerated() {
            let inSize = l == 0 ? config.inputSize : outSize * directions
            let count = steps * batch * outSize * directions
            if l + 1 < layers.count {
                // A layer between others writes into the workspace's spare array: the pages of
                // the last call's, not fresh ones. (The array last used as input is not spare
                // until this layer has read it.) With lengths, its padding rows are zeroed as a
                // fresh array's were: no result reads them, but the next layer's projection does,
                // and the last call's values there would be arbitrary.
                output = workspace.takeLayerOutput(count: count, zeroed: lengths != nil)
            } else {
                // Every element is written unless sequences end early, whose padding must read zero.
                output = lengths == nil
                    ? [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
                        adviseHugePages(buffer)
                        initialized = count
                    }
                    : [Scalar](repeating: 0, count: count)
            }
            func state(_ values: [Scalar]?, _ width: Int, _ d: Int) -> [Scalar]? {
                values.map {
                    Array($0[((l * directions + d) * batch * width)..<((l * directions + d + 1) * batch * width)])
                }
            }
            let runs = (0..<directions).map { d in
                DirectionRun(config: config, kernels: kernels, blocks: blocks, weights: weights[d], reverse: d == 1,
                             column: d * outSize, steps: steps, batch: batch, inSize: inSize, active: active,
                             h0: state(h0Sorted, outSize, d), c0: state(c0Sorted, hidden, d),
                             buffers: workspace.directions[d])
            }
            input.withUnsafeBufferPointer { inp in
                output.withUnsafeMutableBufferPointer { out in
                    let (source, destination, allBlocks) = (inp.baseAddress!, out.baseAddress!, 0..<blocks)
                    let threads = compute.threads.value, pool = compute.threadPool
                    let splits = blocks >= 2 && splitsSteps(batch: batch)
                    if threads >= 2 && directions == 2 {
                        // The directions on two teams of threads, the caller's and one worker's;
                        // a team of two or more shares its direction's steps among its threads.
                        // (Teams are found here, on the caller: the closure holds no pool.)
                        let sizes = [threads / 2, threads - threads / 2]
                        let teams = (0..<2).map { d in
                            splits && sizes[d] >= 2 ? pool.team(.direction(d), workers: sizes[d] - 1) : nil
                        }
                        pool.team(.directions, workers: 1).forEach(count: 2) { d in
                            if let team = teams[d] {
                                runs[d].runSplit(input: source, output: destination, team: team)
                            } else {
                                runs[d].runAll(input: source, output: destination, blockRange: allBlocks)
                            }
                        }
                    } else if threads >= 2 && splits {
                        runs[0].runSplit(input: source, output: destination,
                                         team: pool.team(.steps, workers: threads - 1))
                    } else {
                        for run in runs { run.runAll(input: source, output: destination, blockRange: allBlocks) }
                    }
                }
            }
            for (d, run) in runs.enumerated() {
                let state = l * directions + d
                hN.replaceSubrange((state * batch * outSize)..<((state + 1) * batch * outSize), with: run.finalH())
                if config.kind == .lstm {
                    cN?.replaceSubrange((state * batch * hidden)..<((state + 1) * batch * hidden), with: run.finalC())
                }
            }
            if l > 0 { workspace.giveLayerOutput(input) }
            input = output
        }
        let inverse = inversePermutation(order)
        return (permuteRows(output, rows: steps, batch: batch, width: outSize * directions, order: inverse),
                permuteRows(hN, rows: stateCount, batch: batch, width: outSize, order: inverse),
                cN.map { permuteRows($0, rows: stateCount, batch: batch, width: hidden, order: inverse) })
    }
}
