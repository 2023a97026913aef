import Foundation
import PTKernels

/// The float32 path of `Recurrent`, on the kernels of the CPU's instruction set
/// (`CPUFeatures.active`): the same maths, laid out for speed.
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
///   step's blocks among its threads (`ThreadPool.forEach`: a descheduled worker never stalls a
///   step) when a step is worth it (`splitsSteps`).
/// - Variable-length batches are sorted by length once, so the active sequences of every step
///   are a prefix: the products shrink instead of computing padding.
final class FastRecurrent {
    let config: RecurrentConfig
    let kernels: KernelTable<Float>
    let blocks: Int

    /// One direction's weights, gate-major with each gate padded to Hp = panel·blocks rows.
    struct Direction {
        var wih: PackedWeights<Float>    // W_ih, [G·Hp, In] packed
        var bias: [Float]                // [G·Hp]: b_ih + b_hh (GRU: b_ih + (b_hr, b_hz, 0)); zeros without bias
        var bhn: [Float]                 // [H]: GRU's b_hn (zeros without bias); empty for LSTM and RNN
        var packed: PackedWeights<Float> // W_hh, [G·Hp, H] packed
    }
    let layers: [[Direction]]

    /// nil for configurations this path does not take (projections and cells run on the
    /// OpenBLAS path).
    init?(config: RecurrentConfig, layers source: [[Recurrent<Float>.Direction]], kernels: KernelTable<Float>) {
        guard config.projSize == 0, !config.isCell else { return nil }
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
                func pad(_ source: [Float], cols: Int) -> [Float] {
                    var out = [Float](repeating: 0, count: blockRows * cols)
                    for g in 0..<gates {
                        for u in 0..<hidden {
                            let from = (g * hidden + u) * cols, to = (g * padded + u) * cols
                            for k in 0..<cols { out[to + k] = source[from + k] }
                        }
                    }
                    return out
                }
                var bias = [Float](repeating: 0, count: blockRows)
                var bhn = [Float](repeating: 0, count: config.kind == .gru ? hidden : 0)
                if let bih = w.bih, let bhh = w.bhh {
                    var folded = bih
                    let foldedGates = config.kind == .gru ? 2 : gates
                    for row in 0..<(foldedGates * hidden) { folded[row] += bhh[row] }
                    bias = pad(folded, cols: 1)
                    if config.kind == .gru { bhn = Array(bhh[(2 * hidden)..<(3 * hidden)]) }
                }
                let inSize = w.wih.count / max(gates * hidden, 1)
                let whh = pad(w.whh, cols: hidden)
                let wih = pad(w.wih, cols: inSize)
                let packed = whh.withUnsafeBufferPointer { PackedWeights(weight: $0.baseAddress!, rows: blockRows, k: hidden, kernels: kernels) }
                let packedIH = wih.withUnsafeBufferPointer { PackedWeights(weight: $0.baseAddress!, rows: blockRows, k: inSize, kernels: kernels) }
                converted.append(Direction(wih: packedIH, bias: bias, bhn: bhn, packed: packed))
            }
            layers.append(converted)
        }
        self.layers = layers
    }

    /// Working memory kept between calls (one workspace per concurrent call).
    private let workspaces = Workspaces()

    /// Whether a unidirectional layer's steps are worth sharing between two threads: when a step
    /// multiplies by at least 512 KB of W_hh or does at least 2^19 multiply-adds (about 4 µs
    /// alone). Below that, handing half a step to the other core and taking its half of h back
    /// costs as much as it saves, and more while the VM's two vCPUs do not run in parallel:
    /// LSTM(64, 128) at batch 1 (256 KB, 2^16) ran 0.10 ms a call alone against 0.10–0.15 shared,
    /// and at batch 4 (2^18) 0.24 alone against 0.18–0.33; LSTM(128, 256) at batch 1 (1 MB) and
    /// GRU(128, 256) at batch 1 (768 KB) ran 0.55 and 0.39 ms alone against 0.30–0.40 and
    /// 0.22–0.39 shared.
    func splitsSteps(batch: Int) -> Bool {
        let weights = config.gates * config.hiddenSize * config.hiddenSize
        return weights * MemoryLayout<Float>.size >= 1 << 19 || batch * weights >= 1 << 19
    }

    /// Threads for the forward pass: the machine's cores unless configured.
    nonisolated(unsafe) static var threads: Int = max(1, System.coreCount)


    /// - Parameters:
    ///   - x: `[T, N, I]`, time-major; `h0`, `c0`: `[L·D, N, H]`; lengths validated by the caller.
    /// - Returns: output `[T, N, D·H]`, hN and cN `[L·D, N, H]`.
    func forward(x: [Float], steps: Int, batch: Int, h0: [Float]?, c0: [Float]?, lengths: [Int]?)
        -> (output: [Float], hN: [Float], cN: [Float]?) {
        let hidden = config.hiddenSize, directions = config.directions
        // Sort the batch by length, longest first, so that active rows are always a prefix.
        let order = lengths.map { l in (0..<batch).sorted { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) } } ?? Array(0..<batch)
        let sortedLengths = lengths.map { l in order.map { l[$0] } }
        var input = permuteRows(x, rows: steps, batch: batch, width: config.inputSize, order: order)
        let stateCount = config.numLayers * directions
        var hN = [Float](repeating: 0, count: stateCount * batch * hidden)
        var cN = config.kind == .lstm ? [Float](repeating: 0, count: stateCount * batch * hidden) : nil
        let h0Sorted = h0.map { permuteRows($0, rows: stateCount, batch: batch, width: hidden, order: order) }
        let c0Sorted = c0.map { permuteRows($0, rows: stateCount, batch: batch, width: hidden, order: order) }
        // Active rows per step: #{b : length_b > t}.
        let active: [Int] = (0..<steps).map { t in sortedLengths.map { ls in ls.filter { $0 > t }.count } ?? batch }

        let workspace = workspaces.take(directions: directions)
        defer { workspaces.give(workspace) }
        var output: [Float] = []
        for (l, weights) in layers.enumerated() {
            let inSize = l == 0 ? config.inputSize : hidden * directions
            let count = steps * batch * hidden * directions
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
                    ? [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                        adviseHugePages(buffer)
                        initialized = count
                    }
                    : [Float](repeating: 0, count: count)
            }
            let runs = (0..<directions).map { d in
                DirectionRun(config: config, kernels: kernels, blocks: blocks, weights: weights[d], reverse: d == 1, column: d * hidden,
                             steps: steps, batch: batch, inSize: inSize, active: active,
                             h0: h0Sorted.map { Array($0[((l * directions + d) * batch * hidden)..<((l * directions + d + 1) * batch * hidden)]) },
                             c0: c0Sorted.map { Array($0[((l * directions + d) * batch * hidden)..<((l * directions + d + 1) * batch * hidden)]) },
                             buffers: workspace.directions[d])
            }
            input.withUnsafeBufferPointer { inp in
                output.withUnsafeMutableBufferPointer { out in
                    let (source, destination, allBlocks) = (inp.baseAddress!, out.baseAddress!, 0..<blocks)
                    let threads = FastRecurrent.threads
                    if threads >= 2 && directions == 2 {
                        // The directions on two teams, the caller's and one worker's; a team of
                        // two or more threads shares its direction's steps among them.
                        let teams = [threads / 2, threads - threads / 2]
                        ThreadPool.shared("directions", workers: 1).forEach(count: 2) { d in
                            if teams[d] >= 2 && self.blocks >= 2 && self.splitsSteps(batch: batch) {
                                runs[d].runSplit(input: source, output: destination,
                                                 pool: ThreadPool.shared("direction\(d)", workers: teams[d] - 1))
                            } else {
                                runs[d].runAll(input: source, output: destination, blockRange: allBlocks)
                            }
                        }
                    } else if threads >= 2 && blocks >= 2 && splitsSteps(batch: batch) {
                        runs[0].runSplit(input: source, output: destination, pool: ThreadPool.shared("steps", workers: threads - 1))
                    } else {
                        for run in runs { run.runAll(input: source, output: destination, blockRange: allBlocks) }
                    }
                }
            }
            for (d, run) in runs.enumerated() {
                let state = l * directions + d
                hN.replaceSubrange((state * batch * hidden)..<((state + 1) * batch * hidden), with: run.finalH())
                if config.kind == .lstm {
                    cN?.replaceSubrange((state * batch * hidden)..<((state + 1) * batch * hidden), with: run.finalC())
                }
            }
            if l > 0 { workspace.giveLayerOutput(input) }
            input = output
        }
        let inverse = inversePermutation(order)
        return (permuteRows(output, rows: steps, batch: batch, width: hidden * directions, order: inverse),
                permuteRows(hN, rows: stateCount, batch: batch, width: hidden, order: inverse),
                cN.map { permuteRows($0, rows: stateCount, batch: batch, width: hidden, order: inverse) })
    }
}

/// What one forward pass writes besides its result: each direction's buffers and the outputs of
/// the layers before the last. Kept between calls, so that steady-state calls fault in no pages.
final class Workspace: @unchecked Sendable {
    private(set) var directions: [DirectionBuffers] = []
    private var spareOutputs: [[Float]] = []

    func reserve(directions count: Int) {
        while directions.count < count { directions.append(DirectionBuffers()) }
    }

    /// An array of `count` floats for a layer's output, from the spares when one is there;
    /// zeroed when asked, otherwise with whatever the last call left.
    func takeLayerOutput(count: Int, zeroed: Bool) -> [Float] {
        guard var array = spareOutputs.popLast() else {
            return zeroed ? [Float](repeating: 0, count: count)
                          : [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        }
        if array.count != count {
            array.removeAll(keepingCapacity: true)
            array.append(contentsOf: repeatElement(0, count: count))
        } else if zeroed {
            array.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        return array
    }

    func giveLayerOutput(_ array: [Float]) {
        if spareOutputs.count < 2 { spareOutputs.append(array) }
    }
}

/// Workspaces for concurrent forward passes on one module: each call takes one (or makes one)
/// and gives it back; at most two are kept.
final class Workspaces: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [Workspace] = []

    func take(directions: Int) -> Workspace {
        lock.lock()
        let workspace = free.popLast() ?? Workspace()
        lock.unlock()
        workspace.reserve(directions: directions)
        return workspace
    }

    func give(_ workspace: Workspace) {
        lock.lock()
        if free.count < 2 { free.append(workspace) }
        lock.unlock()
    }
}

/// `out[r, s, :] = x[r, order[s], :]` for `rows` groups of `batch` rows of `width`.
func permuteRows(_ x: [Float], rows: Int, batch: Int, width: Int, order: [Int]) -> [Float] {
    if order.enumerated().allSatisfy({ $0.offset == $0.element }) { return x }
    var out = [Float](repeating: 0, count: x.count)
    for r in 0..<rows {
        for s in 0..<batch {
            let from = (r * batch + order[s]) * width, to = (r * batch + s) * width
            for j in 0..<width { out[to + j] = x[from + j] }
        }
    }
    return out
}

func inversePermutation(_ order: [Int]) -> [Int] {
    var inverse = [Int](repeating: 0, count: order.count)
    for (s, b) in order.enumerated() { inverse[b] = s }
    return inverse
}

enum System {
    static var coreCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}

/// How many threads a forward pass may use.
public enum ComputeThreads {
    /// Sets the thread count, any number from 1: the packed kernels' own threads (the caller and
    /// `count − 1` workers), and OpenBLAS's (projections, cells, float64, Linear).
    public static func configure(_ count: Int) {
        FastRecurrent.threads = max(1, count)
        BLASThreads.count = max(1, count)
    }
}
