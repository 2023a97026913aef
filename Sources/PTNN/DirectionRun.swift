import PTKernels
import PTTensor

/// One direction of one layer of `PackedRecurrent` over all steps, with its buffers allocated once.
final class DirectionRun<Scalar: ArrayScalar>: @unchecked Sendable {
    // @unchecked: during a step each thread writes only its own blocks' columns (and rows of the
    // projection's panels); the team's rounds order the steps.
    let kind: RecurrentConfig.Kind
    let kernels: KernelTable<Scalar>
    /// Hidden units per block (one panel).
    let panel: Int
    let relu: Bool
    let gates: Int, hidden: Int, blocks: Int
    /// Hout: the size of h (proj_size with a projection, else H).
    let outSize: Int
    let weights: PackedRecurrent<Scalar>.Direction
    let reverse: Bool
    /// Whether the last step read W_hh's panels descending (`nextSweep`).
    private var descending = true
    /// First output column of this direction (`d · Hout`), row width `D · Hout`.
    let column: Int, outWidth: Int
    let steps: Int, batch: Int, inSize: Int
    let active: [Int]
    let chunkSteps: Int
    /// Rows of input projection per chunk: on the benchmark shapes 512–2,048 rows ran alike and
    /// 256 slower; 1,024 keeps the chunk (16 MB for LSTM(512, 1024)) in L3.
    static var chunkRows: Int { 1024 }
    let ldc: Int
    /// Row stride of `projected`: W_hr's padded rows (0 without a projection).
    let ldp: Int

    let xp: UnsafeMutablePointer<Scalar>      // [chunkSteps · N, ldc]: input projection, gate-major padded
    let rec: UnsafeMutablePointer<Scalar>     // [N, ldc]
    var hCurrent: UnsafeMutablePointer<Scalar> // [N, Hout]
    var hNext: UnsafeMutablePointer<Scalar>
    /// `[N, H]`: its buffer's, or a stream's state for the length of a call (`stream`).
    private(set) var cell: UnsafeMutablePointer<Scalar>
    let hFinal: UnsafeMutablePointer<Scalar>  // [N, Hout]
    let full: UnsafeMutablePointer<Scalar>    // [N, H]: h before the projection
    let projected: UnsafeMutablePointer<Scalar> // [N, ldp]: h · W_hrᵀ
    let rowsPacked: UnsafeMutablePointer<Scalar> // [N · max(Hout, H)]: h (or full) packed for a step shared among
                                                 // threads
    let bias: UnsafePointer<Scalar>           // [G·Hp], folded (zeros without bias): the weights'
    let bhn: UnsafePointer<Scalar>            // [H], GRU: the weights'
    /// Holds the buffers above for as long as this run lives.
    private let buffers: DirectionBuffers<Scalar>

    init(config: RecurrentConfig, kernels: KernelTable<Scalar>, blocks: Int, weights: PackedRecurrent<Scalar>.Direction,
         reverse: Bool, column: Int, steps: Int, batch: Int, inSize: Int, active: [Int], h0: [Scalar]?, c0: [Scalar]?,
         buffers: DirectionBuffers<Scalar>) {
        kind = config.kind
        self.kernels = kernels
        panel = kernels.panel
        relu = config.nonlinearity == .relu
        gates = config.gates
        hidden = config.hiddenSize
        outSize = config.outputSize
        self.blocks = blocks
        self.weights = weights
        self.reverse = reverse
        self.column = column
        outWidth = config.outputSize * (config.isCell ? 1 : config.directions)
        self.steps = steps
        self.batch = batch
        self.inSize = inSize
        self.active = active
        chunkSteps = max(1, min(steps, DirectionRun.chunkRows / max(batch, 1)))
        ldc = weights.packed.paddedRows
        ldp = weights.projection?.paddedRows ?? 0
        buffers.reserve(projection: chunkSteps * batch * ldc, recurrent: batch * ldc, hidden: batch * hidden,
                        out: batch * outSize, projected: batch * ldp, packedRows: batch * max(hidden, outSize))
        self.buffers = buffers
        xp = buffers.xp.pointer
        rec = buffers.rec.pointer
        hCurrent = buffers.h.pointer
        hNext = buffers.hOther.pointer
        cell = buffers.cell.pointer
        hFinal = buffers.hFinal.pointer
        full = buffers.full.pointer
        projected = buffers.projected.pointer
        rowsPacked = buffers.rowsPacked.pointer
        bias = UnsafePointer(weights.bias.pointer)
        bhn = UnsafePointer(weights.bhn.pointer)
        for i in 0..<(batch * outSize) {
            let h = h0?[i] ?? 0
            hCurrent[i] = h
            hNext[i] = h
            hFinal[i] = h
        }
        for i in 0..<(batch * hidden) { cell[i] = c0?[i] ?? 0 }
    }

    func finalH() -> [Scalar] { Array(UnsafeBufferPointer(start: hFinal, count: batch * outSize)) }
    func finalC() -> [Scalar] { Array(UnsafeBufferPointer(start: cell, count: batch * hidden)) }

    /// Chunks in processing order: forward from the start, reverse from the end.
    var chunks: [Range<Int>] {
        let starts = Array(stride(from: 0, to: steps, by: chunkSteps))
        let ranges = starts.map { $0..<min($0 + chunkSteps, steps) }
        return reverse ? ranges.reversed() : ranges
    }

    /// Every step on the calling thread, for the blocks given (all of them, normally).
    func runAll(input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>, blockRange: Range<Int>) {
        for chunk in chunks { runChunk(chunk, input: input, output: output, blockRange: blockRange) }
    }

    /// A chunk's input projection and steps on the calling thread.
    private func runChunk(_ chunk: Range<Int>, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                          blockRange: Range<Int>) {
        let projectionPanels = 0..<(weights.projection?.panelCount ?? 0)
        project(input: input, chunk: chunk, rows: 0..<(chunk.count * batch))
        func run(_ t: Int) {
            step(t, chunk: chunk, blockRange: blockRange, output: output, descending: nextSweep())
            if !projectionPanels.isEmpty { projectState(t, panels: projectionPanels, output: output) }
            finish(t)
        }
        if reverse { for t in chunk.reversed() { run(t) } } else { for t in chunk { run(t) } }
    }

    /// Every step on the caller and the workers of `team`, sharing work item by item: a chunk's
    /// input projection in row slices, each step's recurrent product and gates in blocks of one
    /// panel, then (with proj_size) the projection of h in panels of W_hr. Workers the OS has
    /// descheduled leave their items to the others.
    func runSplit(input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>, team: ThreadTeam) {
        if sharesStepsAsParts && steps == 1 {
            runParts(count: 1, input: input, output: output, team: team)
            return
        }
        if phased {
            runPhased(chunks, input: input, output: output, team: team)
            return
        }
        let bounds = splitBounds(team: team)
        for chunk in chunks { runChunkSplit(chunk, input: input, output: output, team: team, bounds: bounds) }
    }

    /// Whether `runSplit` runs as phases (`runPhased`): a step of a few rows (the products
    /// stream W_hh for a few multiply-adds per element, in µs) and no projection of h. Its rows
    /// of h fit the kernel's stack buffer, so that no part allocates.
    var phased: Bool { batch <= 4 && batch * outSize <= 4096 && weights.projection == nil }

    /// Whether a step shared among a team is one `forEachPart` round (`runParts`): at batch 1
    /// without a projection.
    var sharesStepsAsParts: Bool { batch == 1 && weights.projection == nil }

    /// Steps `0..<count` (from the last, reverse) on the caller and the workers of `team`, each
    /// one `ThreadTeam.forEachPart` round (`runPart`): each part projects the step's input for
    /// its own blocks, then their recurrent products and gates. Leaves the last h in `hCurrent`.
    private func runParts(count: Int, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                          team: ThreadTeam) {
        let parts = min(team.workers + 1, blocks)
        for j in 0..<count {
            let t = reverse ? count - 1 - j : j
            partStep = (t, input + t * inSize, output, nextSweep())
            team.forEachPart(parts, self)
            swap(&hCurrent, &hNext)
        }
    }

    /// `chunks` on the caller and the workers of `team` as `ThreadTeam.forEachPhase` phases: each
    /// chunk's input projection in one row slice per thread, then its steps, each in one slice of
    /// blocks per thread, the same slice on the same thread from step to step (so that its part of
    /// W_hh stays in that core's L2), read in alternate directions (`nextSweep`), with a few cache
    /// lines between the threads per step. Leaves the last h in `hCurrent`, as `finish` does.
    private func runPhased(_ chunks: [Range<Int>], input: UnsafePointer<Scalar>,
                           output: UnsafeMutablePointer<Scalar>, team: ThreadTeam) {
        let parts = min(team.workers + 1, 64)
        var starts: [Int] = []
        var phases = 0
        for chunk in chunks {
            starts.append(phases)
            phases += 1 + chunk.count
        }
        let (first, second) = (hCurrent, hNext)
        let startsDescending = !descending
        team.forEachPhase(phases, parts: parts) { phase, part in
            var c = 0
            while c + 1 < starts.count && starts[c + 1] <= phase { c += 1 }
            let chunk = chunks[c], j = phase - starts[c]
            guard j > 0 else {
                let rows = chunk.count * self.batch
                self.project(input: input, chunk: chunk, rows: (rows * part / parts)..<(rows * (part + 1) / parts))
                return
            }
            let t = self.reverse ? chunk.upperBound - j : chunk.lowerBound + j - 1
            // Steps before this one in the run: h alternates between the two buffers.
            let ordinal = phase - c - 1
            let (hIn, hOut) = ordinal % 2 == 0 ? (first, second) : (second, first)
            let blockRange = (self.blocks * part / parts)..<(self.blocks * (part + 1) / parts)
            self.step(t, chunk: chunk, blockRange: blockRange, output: output,
                      descending: (ordinal % 2 == 1) != startsDescending, hIn: hIn, hOut: hOut)
            self.keepEnded(t, hOut: hOut, blockRange: blockRange)
        }
        if (phases - chunks.count) % 2 == 1 {
            swap(&hCurrent, &hNext)
            descending = startsDescending
        }
    }

    /// `finish`'s copy into `hFinal` for the units of `blockRange` only.
    private func keepEnded(_ t: Int, hOut: UnsafeMutablePointer<Scalar>, blockRange: Range<Int>) {
        let ended = endedRows(t)
        let u0 = panel * blockRange.lowerBound, u1 = min(panel * blockRange.upperBound, outSize)
        guard !ended.isEmpty, u1 > u0 else { return }
        for row in ended { (hFinal + row * outSize + u0).update(from: hOut + row * outSize + u0, count: u1 - u0) }
    }

    /// `stepItems` for a team.
    private func splitBounds(team: ThreadTeam) -> [Int] {
        DirectionRun.stepItems(blocks: blocks, threads: team.workers + 1,
                               stepCost: DirectionRun.stepCost(batch: batch, outSize: outSize, gates: gates,
                                                               hidden: hidden))
    }

    /// Whether this step reads W_hh's panels descending, alternating from step to step: a step's
    /// W_hh read the other way from the last step's finds the panels read last still in L2, where
    /// it exceeds L2 (gru_b1: 1.5 MB a thread).
    private func nextSweep() -> Bool {
        descending.toggle()
        return descending
    }

    /// A chunk's input projection and steps on the caller and the workers of `team` (`runSplit`).
    private func runChunkSplit(_ chunk: Range<Int>, input: UnsafePointer<Scalar>,
                               output: UnsafeMutablePointer<Scalar>, team: ThreadTeam, bounds: [Int]) {
        let threads = team.workers + 1
        let projectionPanels = weights.projection?.panelCount ?? 0
        let projectionItems = min(projectionPanels, 2 * threads, 64)
        let rows = chunk.count * batch
        let slices = min(max(8, 2 * threads), rows, 64)
        team.forEach(count: slices) { i in
            self.project(input: input, chunk: chunk, rows: (rows * i / slices)..<(rows * (i + 1) / slices))
        }
        func run(_ t: Int) {
            // h's rows packed once for every item's products, not once per item and gate.
            if active[t] > 0 { kernels.packRows(active[t], outSize, hCurrent, outSize, rowsPacked) }
            team.forEach(count: bounds.count - 1) { i in
                self.step(t, chunk: chunk, blockRange: bounds[i]..<bounds[i + 1], output: output,
                          packedRows: self.rowsPacked)
            }
            if projectionItems > 0 {
                if active[t] > 0 { kernels.packRows(active[t], hidden, full, hidden, rowsPacked) }
                team.forEach(count: projectionItems) { i in
                    self.projectState(t, panels: (projectionPanels * i / projectionItems)
                                                     ..< (projectionPanels * (i + 1) / projectionItems),
                                      output: output, packedRows: self.rowsPacked)
                }
            }
            finish(t)
        }
        if reverse { for t in chunk.reversed() { run(t) } } else { for t in chunk { run(t) } }
    }

    /// Streaming (`RecurrentStream`): steps `0..<count` of a forward direction with every row
    /// active (`steps` ≥ `count`), in the chunks and with the kernels `runAll` (no `team`) or
    /// `runSplit` uses, so that the results are the whole sequence's bits. Starts from h
    /// `[N, Hout]` and (LSTM) c `[N, H]` where the caller keeps them and leaves the last step's
    /// there: c is updated in place, and h is one of the two buffers the steps alternate between,
    /// so that no state is copied in or out but the last h when it ends in the other buffer.
    /// At batch 1 without a projection a team shares each step as one `forEachPart` round; a
    /// team allocates otherwise (its rounds' closures), and nothing does without one.
    func stream(count: Int, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                h: UnsafeMutablePointer<Scalar>, c: UnsafeMutablePointer<Scalar>?, team: ThreadTeam?) {
        precondition(!reverse && count <= steps, "DirectionRun.stream: \(count) steps of \(steps), reverse \(reverse)")
        let (ownCurrent, ownNext, ownCell) = (hCurrent, hNext, cell)
        hCurrent = h
        if let c { cell = c }
        defer {
            if hCurrent != h { h.update(from: hCurrent, count: batch * outSize) }
            (hCurrent, hNext, cell) = (ownCurrent, ownNext, ownCell)
        }
        if let team, sharesStepsAsParts {
            runParts(count: count, input: input, output: output, team: team)
            return
        }
        if let team, phased {
            let chunks = stride(from: 0, to: count, by: chunkSteps).map { $0..<min($0 + chunkSteps, count) }
            runPhased(chunks, input: input, output: output, team: team)
            return
        }
        var bounds: [Int] = []
        if let team { bounds = splitBounds(team: team) }
        var start = 0
        while start < count {
            let chunk = start..<min(start + chunkSteps, count)
            if let team {
                runChunkSplit(chunk, input: input, output: output, team: team, bounds: bounds)
            } else {
                runChunk(chunk, input: input, output: output, blockRange: 0..<blocks)
            }
            start = chunk.upperBound
        }
    }

    /// The step `runPart` takes: t, its input row `[I]`, the output, and W_hh's direction.
    private var partStep: (t: Int, input: UnsafePointer<Scalar>, output: UnsafeMutablePointer<Scalar>,
                           descending: Bool)?

    /// A step's work, in units that take about as long on either bound: multiply-adds where a
    /// step has many rows (it is bound by arithmetic), bytes of W_hh where it has few (batch 1
    /// streams all of W_hh from L3 for a few multiply-adds per byte): max(N·Hout·G·H, Hout·G·H·size).
    static func stepCost(batch: Int, outSize: Int, gates: Int, hidden: Int) -> Int {
        let weights = outSize * gates * hidden
        return max(batch * weights, weights * MemoryLayout<Scalar>.size)
    }

    /// Work units (`stepCost`) an item gets at least, past two items per thread: each item is
    /// its own products over its slices of W_hh, and a batch-1 step cut into 10 items ran 9%
    /// slower than in 4 (docs/PERFORMANCE.md).
    static var itemCost: Int { 1 << 20 }

    /// How a step's blocks are cut into work items, as bounds `0 = b₀ < b₁ < … < bₙ = blocks`:
    /// large items at both ends and small ones in the middle. The caller claims items from the
    /// front and the workers from the back, so the last items taken, where they meet, are the
    /// small ones, and the thread that finishes first waits for little (measured against equal
    /// items in docs/PERFORMANCE.md). Up to 10 items (3 per thread past three threads), at least
    /// two per thread, and no more than `stepCost / itemCost` between; of whole pairs of blocks
    /// from 16 blocks up: coarse enough that each item's product still reuses its slice of h
    /// across several panels.
    static func stepItems(blocks: Int, threads: Int = 2, stepCost: Int = .max) -> [Int] {
        // Whole pairs of blocks from 16 blocks up (an odd last block joins the last item).
        let unit = blocks >= 16 ? 2 : 1
        let units = blocks / unit
        let most = min(64, max(10, 3 * threads))
        let items = min(most, max(2 * threads, stepCost / itemCost))
        var bounds = stepBounds(units, items: items).map { $0 * unit }
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

    /// `xp[rows] = input[chunk rows] · W_ihᵀ`, with the packed kernel and W_ih packed at load time;
    /// row by row the same bits however the steps are cut into chunks and slices (`rowwiseProduct`),
    /// so that a streamed sequence equals the whole one exactly.
    func project(input: UnsafePointer<Scalar>, chunk: Range<Int>, rows: Range<Int>) {
        guard !rows.isEmpty else { return }
        weights.wih.rowwiseProduct(m: rows.count, a: input + (chunk.lowerBound * batch + rows.lowerBound) * inSize,
                                   lda: inSize, c: xp + rows.lowerBound * ldc, ldc: ldc)
    }

    /// One step for the active rows and the blocks given: the recurrent product, then the gates.
    /// Without a projection the gates write h' into `hNext` and the output; with one, into `full`,
    /// which `projectState` then projects. `packedRows`: h's active rows already packed.
    /// `descending`: W_hh's panels read from the last down (`nextSweep`). `hIn`, `hOut`: h before
    /// and after the step, `[N, Hout]` (`hCurrent` and `hNext` unless given). `input`: step t's
    /// input row `[I]` at batch 1, projected here for the blocks given (else `xp` holds it).
    func step(_ t: Int, chunk: Range<Int>, blockRange: Range<Int>, output: UnsafeMutablePointer<Scalar>,
              packedRows: UnsafePointer<Scalar>? = nil, descending: Bool = false,
              hIn: UnsafePointer<Scalar>? = nil, hOut: UnsafeMutablePointer<Scalar>? = nil,
              input: UnsafePointer<Scalar>? = nil) {
        let m = active[t]
        guard m > 0, !blockRange.isEmpty else { return }
        let hIn = hIn ?? UnsafePointer(hCurrent), hNext = hOut ?? self.hNext
        if let input {
            // The step's own input projection, for these blocks only: each gate's panels of W_ih.
            precondition(batch == 1, "DirectionRun.step: an input to project at batch \(batch)")
            let row = xp + (t - chunk.lowerBound) * ldc
            for g in 0..<gates {
                let panels = (g * blocks + blockRange.lowerBound)..<(g * blocks + blockRange.upperBound)
                weights.wih.rowwiseProduct(m: 1, a: input, lda: inSize, panels: panels, c: row, ldc: ldc)
            }
        }
        func product(_ panels: Range<Int>) {
            if let packedRows {
                weights.packed.product(m: m, packedRows: packedRows, panels: panels, c: rec, ldc: ldc,
                                       descending: descending)
            } else if m == 1 {
                // One row packs to itself.
                weights.packed.product(m: 1, packedRows: hIn, panels: panels, c: rec, ldc: ldc,
                                       descending: descending)
            } else {
                weights.packed.product(m: m, a: hIn, lda: outSize, panels: panels, c: rec, ldc: ldc)
            }
        }
        if blockRange.count == blocks {
            // Every gate's panels, which are then one range: one product, prefetching across gates.
            product(0..<(gates * blocks))
        } else {
            for j in 0..<gates {
                let g = descending ? gates - 1 - j : j
                product((g * blocks + blockRange.lowerBound)..<(g * blocks + blockRange.upperBound))
            }
        }
        let u0 = panel * blockRange.lowerBound
        let units = min(panel * blockRange.upperBound, hidden) - u0
        let rStride = panel * blocks
        let bias = UnsafePointer(self.bias + u0)
        let projects = weights.projection != nil
        for row in 0..<m {
            let x = UnsafePointer(xp + ((t - chunk.lowerBound) * batch + row) * ldc + u0)
            let r = UnsafePointer(rec + row * ldc + u0)
            let out = projects ? full + row * hidden + u0 : output + (t * batch + row) * outWidth + column + u0
            let h = projects ? full + row * hidden + u0 : hNext + row * hidden + u0
            switch kind {
            case .lstm:
                kernels.lstm(units, x, bias, rStride, r, rStride, cell + row * hidden + u0, h, out)
            case .gru:
                kernels.gru(units, x, bias, rStride, r, rStride, bhn + u0, hIn + row * hidden + u0, h, out)
            case .rnn:
                kernels.rnn(units, x, bias, r, relu, h, out)
            }
        }
    }

    /// proj_size: h' = full · W_hrᵀ for the active rows, W_hr's panels given: into `hNext` and
    /// the output. `packedRows`: full's active rows already packed.
    func projectState(_ t: Int, panels: Range<Int>, output: UnsafeMutablePointer<Scalar>,
                      packedRows: UnsafePointer<Scalar>? = nil) {
        let m = active[t]
        guard m > 0, !panels.isEmpty, let projection = weights.projection else { return }
        if let packedRows {
            projection.product(m: m, packedRows: packedRows, panels: panels, c: projected, ldc: ldp)
        } else {
            projection.product(m: m, a: full, lda: hidden, panels: panels, c: projected, ldc: ldp)
        }
        let from = panels.lowerBound * panel, to = min(panels.upperBound * panel, outSize)
        guard to > from else { return }
        for row in 0..<m {
            let source = projected + row * ldp + from
            (hNext + row * outSize + from).update(from: source, count: to - from)
            (output + (t * batch + row) * outWidth + column + from).update(from: source, count: to - from)
        }
    }

    /// After step `t`: rows whose sequence ended keep their state in `hFinal`; swap h buffers.
    func finish(_ t: Int) {
        let ended = endedRows(t)
        if !ended.isEmpty {
            (hFinal + ended.lowerBound * outSize).update(from: hNext + ended.lowerBound * outSize,
                                                         count: ended.count * outSize)
        }
        swap(&hCurrent, &hNext)
    }

    /// The rows whose sequence ends at step `t`.
    private func endedRows(_ t: Int) -> Range<Int> {
        let m = active[t]
        if reverse { return t == 0 ? 0..<m : 0..<0 }
        return (t + 1 < steps ? active[t + 1] : 0)..<m
    }
}

/// The working memory of one direction's run: kept by `PackedRecurrent` between layers and calls,
/// so that a forward pass writes into pages it already has instead of faulting in fresh ones
/// (measured in docs/PERFORMANCE.md). Grows, never shrinks.
final class DirectionBuffers<Scalar: ArrayScalar>: @unchecked Sendable {
    // @unchecked: used by one forward pass at a time (its workspace's).
    private(set) var xp = Buffer<Scalar>()
    private(set) var rec = Buffer<Scalar>()
    private(set) var h = Buffer<Scalar>()
    private(set) var hOther = Buffer<Scalar>()
    private(set) var cell = Buffer<Scalar>()
    private(set) var hFinal = Buffer<Scalar>()
    private(set) var full = Buffer<Scalar>()
    private(set) var projected = Buffer<Scalar>()
    private(set) var rowsPacked = Buffer<Scalar>()

    /// Room for `projection` elements of input projection, `recurrent` of recurrent product,
    /// `hidden` in the cell state and the unprojected h, `out` in each h buffer, `projected` in
    /// the projection's output and `packedRows` for packed rows; contents are not kept.
    func reserve(projection: Int, recurrent: Int, hidden: Int, out: Int, projected count: Int, packedRows: Int) {
        rowsPacked.reserve(packedRows)
        xp.reserve(projection)
        rec.reserve(recurrent)
        for buffer in [h, hOther, hFinal] { buffer.reserve(out) }
        cell.reserve(hidden)
        full.reserve(hidden)
        projected.reserve(count)
    }
}

/// A block of elements that grows and never shrinks; contents are not kept when it grows.
final class Buffer<Scalar>: @unchecked Sendable {
    // @unchecked: owned by one DirectionBuffers (one forward pass at a time), or holding values
    // fixed at load that nothing writes after.
    private(set) var pointer: UnsafeMutablePointer<Scalar> = .allocate(capacity: 1)
    private var capacity = 1

    init() {}

    /// Holds `values`, allocated once: a layer's biases, which every step reads where they are.
    init(_ values: [Scalar]) {
        reserve(values.count)
        pointer.initialize(from: values, count: values.count)
    }

    func reserve(_ count: Int) {
        guard count > capacity else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: count)
        capacity = count
    }

    deinit { pointer.deallocate() }
}

/// A step at batch 1 shared among a team (`runParts`): part p of P is blocks
/// `[B·p/P, B·(p+1)/P)`, its gate panels of W_ih and W_hh, and its units' gates.
extension DirectionRun: TeamTask {
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func runPart(_ part: Int, of parts: Int) {
        guard let (t, input, output, descending) = partStep else { return }
        let blockRange = (blocks * part / parts)..<(blocks * (part + 1) / parts)
        step(t, chunk: t..<(t + 1), blockRange: blockRange, output: output, descending: descending, input: input)
        keepEnded(t, hOut: hNext, blockRange: blockRange)
    }
}
