import PTKernels

/// One direction of one layer of `FastRecurrent` over all steps, with its buffers allocated once.
final class DirectionRun: @unchecked Sendable {
    let kind: RecurrentConfig.Kind
    let kernels: KernelTable<Float>
    /// Hidden units per block (one panel).
    let panel: Int
    let relu: Bool
    let gates: Int, hidden: Int, blocks: Int
    let weights: FastRecurrent.Direction
    let reverse: Bool
    /// First output column of this direction (`d · H`), row width `D · H`.
    let column: Int, outWidth: Int
    let steps: Int, batch: Int, inSize: Int
    let active: [Int]
    let chunkSteps: Int
    /// Rows of input projection per chunk: on the benchmark shapes 512–2,048 rows ran alike and
    /// 256 slower; 1,024 keeps the chunk (16 MB for LSTM(512, 1024)) in L3.
    static let chunkRows = 1024
    let ldc: Int

    let xp: UnsafeMutablePointer<Float>      // [chunkSteps · N, ldc]: input projection, gate-major padded
    let rec: UnsafeMutablePointer<Float>     // [N, ldc]
    var hCurrent: UnsafeMutablePointer<Float> // [N, H]
    var hNext: UnsafeMutablePointer<Float>
    let cell: UnsafeMutablePointer<Float>    // [N, H]
    let hFinal: UnsafeMutablePointer<Float>  // [N, H]
    let bias: UnsafeMutablePointer<Float>    // [G·Hp], folded (zeros without bias)
    let bhn: UnsafeMutablePointer<Float>     // [H], GRU
    /// Holds the buffers above for as long as this run lives.
    private let buffers: DirectionBuffers

    init(config: RecurrentConfig, kernels: KernelTable<Float>, blocks: Int, weights: FastRecurrent.Direction, reverse: Bool, column: Int,
         steps: Int, batch: Int, inSize: Int, active: [Int], h0: [Float]?, c0: [Float]?, buffers: DirectionBuffers) {
        kind = config.kind
        self.kernels = kernels
        panel = kernels.panel
        relu = config.nonlinearity == .relu
        gates = config.gates
        hidden = config.hiddenSize
        self.blocks = blocks
        self.weights = weights
        self.reverse = reverse
        self.column = column
        outWidth = config.hiddenSize * config.directions
        self.steps = steps
        self.batch = batch
        self.inSize = inSize
        self.active = active
        chunkSteps = max(1, min(steps, DirectionRun.chunkRows / max(batch, 1)))
        ldc = weights.packed.paddedRows
        let state = batch * hidden
        buffers.reserve(projection: chunkSteps * batch * ldc, recurrent: batch * ldc, state: state)
        self.buffers = buffers
        xp = buffers.xp
        rec = buffers.rec
        hCurrent = buffers.h
        hNext = buffers.hOther
        cell = buffers.cell
        hFinal = buffers.hFinal
        func copy(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
            p.initialize(from: values, count: values.count)
            return p
        }
        bias = copy(weights.bias)
        bhn = copy(weights.bhn)
        for i in 0..<state {
            let h = h0?[i] ?? 0
            hCurrent[i] = h
            hNext[i] = h
            hFinal[i] = h
            cell[i] = c0?[i] ?? 0
        }
    }

    deinit {
        bias.deallocate(); bhn.deallocate()
    }

    func finalH() -> [Float] { Array(UnsafeBufferPointer(start: hFinal, count: batch * hidden)) }
    func finalC() -> [Float] { Array(UnsafeBufferPointer(start: cell, count: batch * hidden)) }

    /// Chunks in processing order: forward from the start, reverse from the end.
    var chunks: [Range<Int>] {
        let starts = Array(stride(from: 0, to: steps, by: chunkSteps))
        let ranges = starts.map { $0..<min($0 + chunkSteps, steps) }
        return reverse ? ranges.reversed() : ranges
    }

    /// Every step on the calling thread, for the blocks given (all of them, normally).
    func runAll(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, blockRange: Range<Int>) {
        for chunk in chunks {
            project(input: input, chunk: chunk, rows: 0..<(chunk.count * batch))
            for t in reverse ? Array(chunk.reversed()) : Array(chunk) {
                step(t, chunk: chunk, blockRange: blockRange, output: output)
                finish(t)
            }
        }
    }

    /// Every step on the caller and the workers of `pool`, sharing work item by item: a chunk's
    /// input projection in row slices, each step's recurrent product and gates in blocks of one
    /// panel. Workers the OS has descheduled leave their items to the others.
    func runSplit(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let threads = pool.workers + 1
        for chunk in chunks {
            let rows = chunk.count * batch
            let slices = min(max(8, 2 * threads), rows, 64)
            pool.forEach(count: slices) { i in
                self.project(input: input, chunk: chunk, rows: (rows * i / slices)..<(rows * (i + 1) / slices))
            }
            let bounds = DirectionRun.stepItems(blocks: blocks, threads: threads)
            for t in reverse ? Array(chunk.reversed()) : Array(chunk) {
                pool.forEach(count: bounds.count - 1) { i in
                    self.step(t, chunk: chunk, blockRange: bounds[i]..<bounds[i + 1], output: output)
                }
                finish(t)
            }
        }
    }

    /// How a step's blocks are cut into work items, as bounds `0 = b₀ < b₁ < … < bₙ = blocks`:
    /// large items at both ends and small ones in the middle. The caller claims items from the
    /// front and the workers from the back, so the last items taken, where they meet, are the
    /// small ones, and the thread that finishes first waits for little (lstm_large_b64 on two
    /// threads: +4–5% against 8 equal items). Up to 10 items (3 per thread past three threads),
    /// of whole pairs of blocks from 16 blocks up: coarse enough that each item's product still
    /// reuses its slice of h across several panels.
    static func stepItems(blocks: Int, threads: Int = 2) -> [Int] {
        // Whole pairs of blocks from 16 blocks up (an odd last block joins the last item).
        let unit = blocks >= 16 ? 2 : 1
        let units = blocks / unit
        var bounds = stepBounds(units, items: min(64, max(10, 3 * threads))).map { $0 * unit }
        bounds[bounds.count - 1] = blocks
        return bounds
    }

    /// `stepItems` in units: up to `items` items weighted n/2, …, 2, 1, 1, 2, …, n/2 (an odd
    /// count gets a middle 1), each at least one unit.
    static func stepBounds(_ units: Int, items: Int = 10) -> [Int] {
        let count = min(units, items)
        let weights = (0..<count).map { i in count / 2 - min(i, count - 1 - i) + (count % 2) }
        let total = weights.reduce(0, +)
        var bounds = [0], sum = 0
        for (i, w) in weights.enumerated() {
            sum += w
            // At least one unit for this item and for each one after it.
            bounds.append(min(max(bounds[i] + 1, units * sum / total), units - (count - 1 - i)))
        }
        return bounds
    }

    /// `xp[rows] = input[chunk rows] · W_ihᵀ`, with the packed kernel and W_ih packed at load time.
    func project(input: UnsafePointer<Float>, chunk: Range<Int>, rows: Range<Int>) {
        guard !rows.isEmpty else { return }
        weights.wih.product(m: rows.count, a: input + (chunk.lowerBound * batch + rows.lowerBound) * inSize, lda: inSize,
                            panels: 0..<weights.wih.panelCount, c: xp + rows.lowerBound * ldc, ldc: ldc)
    }

    /// One step for the active rows and the blocks given: the recurrent product, then the gates.
    func step(_ t: Int, chunk: Range<Int>, blockRange: Range<Int>, output: UnsafeMutablePointer<Float>) {
        let m = active[t]
        guard m > 0, !blockRange.isEmpty else { return }
        if blockRange.count == blocks {
            // Every gate's panels, which are then one range: one product, prefetching across gates.
            weights.packed.product(m: m, a: hCurrent, lda: hidden, panels: 0..<(gates * blocks), c: rec, ldc: ldc)
        } else {
            for g in 0..<gates {
                weights.packed.product(m: m, a: hCurrent, lda: hidden,
                                       panels: (g * blocks + blockRange.lowerBound)..<(g * blocks + blockRange.upperBound), c: rec, ldc: ldc)
            }
        }
        let u0 = panel * blockRange.lowerBound
        let units = min(panel * blockRange.upperBound, hidden) - u0
        let rStride = panel * blocks
        let bias = UnsafePointer(self.bias + u0)
        for row in 0..<m {
            let x = UnsafePointer(xp + ((t - chunk.lowerBound) * batch + row) * ldc + u0)
            let r = UnsafePointer(rec + row * ldc + u0)
            let out = output + (t * batch + row) * outWidth + column + u0
            let h = hNext + row * hidden + u0
            switch kind {
            case .lstm:
                kernels.lstm(units, x, bias, rStride, r, rStride, cell + row * hidden + u0, h, out)
            case .gru:
                kernels.gru(units, x, bias, rStride, r, rStride, bhn + u0, hCurrent + row * hidden + u0, h, out)
            case .rnn:
                kernels.rnn(units, x, bias, r, relu, h, out)
            }
        }
    }

    /// After step `t`: rows whose sequence ended keep their state in `hFinal`; swap h buffers.
    func finish(_ t: Int) {
        let m = active[t]
        let ended: Range<Int>
        if reverse {
            ended = t == 0 ? 0..<m : 0..<0
        } else {
            ended = (t + 1 < steps ? active[t + 1] : 0)..<m
        }
        if !ended.isEmpty {
            (hFinal + ended.lowerBound * hidden).update(from: hNext + ended.lowerBound * hidden, count: ended.count * hidden)
        }
        swap(&hCurrent, &hNext)
    }
}

/// The working memory of one direction's run: kept by `FastRecurrent` between layers and calls,
/// so that a forward pass writes into pages it already has instead of faulting in fresh ones
/// (5% of a bidirectional LSTM's forward pass on the benchmark shapes). Grows, never shrinks.
final class DirectionBuffers: @unchecked Sendable {
    private(set) var xp: UnsafeMutablePointer<Float>
    private(set) var rec: UnsafeMutablePointer<Float>
    private(set) var h: UnsafeMutablePointer<Float>
    private(set) var hOther: UnsafeMutablePointer<Float>
    private(set) var cell: UnsafeMutablePointer<Float>
    private(set) var hFinal: UnsafeMutablePointer<Float>
    private var projectionCapacity = 0, recurrentCapacity = 0, stateCapacity = 0

    init() {
        xp = .allocate(capacity: 1); rec = .allocate(capacity: 1)
        h = .allocate(capacity: 1); hOther = .allocate(capacity: 1); cell = .allocate(capacity: 1); hFinal = .allocate(capacity: 1)
    }

    deinit {
        xp.deallocate(); rec.deallocate(); h.deallocate(); hOther.deallocate(); cell.deallocate(); hFinal.deallocate()
    }

    /// Room for `projection` floats of input projection, `recurrent` of recurrent product and
    /// `state` in each of the four state buffers; contents are not kept.
    func reserve(projection: Int, recurrent: Int, state: Int) {
        if projection > projectionCapacity {
            xp.deallocate()
            xp = .allocate(capacity: projection)
            projectionCapacity = projection
        }
        if recurrent > recurrentCapacity {
            rec.deallocate()
            rec = .allocate(capacity: recurrent)
            recurrentCapacity = recurrent
        }
        if state > stateCapacity {
            for buffer in [h, hOther, cell, hFinal] { buffer.deallocate() }
            h = .allocate(capacity: state); hOther = .allocate(capacity: state)
            cell = .allocate(capacity: state); hFinal = .allocate(capacity: state)
            stateCapacity = state
        }
    }
}
