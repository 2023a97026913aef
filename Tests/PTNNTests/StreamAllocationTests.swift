import Dispatch
import Glibc
import PTAllocationCounter
import PTCheckpoint
import PTKernels
@testable import PTNN
import PTTensor
import Synchronization
import Testing

/// Steady-state streaming allocates nothing on the heap. How it is counted: the test executable
/// interposes the C allocator (Tests/PTAllocationCounter: malloc, calloc, realloc,
/// posix_memalign, aligned_alloc, memalign, to which Swift's own allocations — objects, array
/// storage, closure contexts, via swift_slowAlloc — all come), counting each call in a counter
/// of the calling thread. After a warm-up call builds the workspace, 1,000 calls on the same
/// thread must leave that count where it was. One thread, so that every step runs on the caller.
@Suite struct StreamAllocationTests {
    /// One module streamed in chunks of `steps`: the issue's LSTM(64, 128) and GRU(64, 128) at
    /// batch 1, LSTMCell(128, 128) (silero-vad's decoder), an unbatched ReLU RNN, and a stack with
    /// proj_size at batch_first N = 2 in chunks of 3 (permuted to time-major and back).
    struct Shape: CustomStringConvertible, Sendable {
        var kind: String, input: Int, hidden: Int, layers = 1, proj = 0, cell = false
        var batchFirst = false, batch: Int? = 1, steps = 1, relu = false
        var description: String {
            "\(kind)\(cell ? "Cell" : "")(\(input), \(hidden), layers \(layers), proj \(proj)) batch \(batch ?? 0)"
                + " steps \(steps)"
        }
    }

    static let shapes = [
        Shape(kind: "LSTM", input: 64, hidden: 128),
        Shape(kind: "GRU", input: 64, hidden: 128),
        Shape(kind: "LSTM", input: 128, hidden: 128, cell: true),
        Shape(kind: "RNN", input: 16, hidden: 40, batch: nil, steps: 2, relu: true),
        Shape(kind: "LSTM", input: 12, hidden: 24, layers: 2, proj: 8, batchFirst: true, batch: 2, steps: 3),
    ]

    static let kernelSets = KernelSet.allCases.filter(CPUFeatures.canRun)

    /// The counter counts: an array made between two readings is one allocation.
    @Test func theCounterCounts() throws {
        let before = pt_thread_allocations()
        try #require(before >= 0, "allocations are counted on glibc only")
        let array = [Int](repeating: 1, count: 1000 + Int(before % 7))
        #expect(pt_thread_allocations() - before >= 1)
        #expect(array.count >= 1000)
    }

    @Test(arguments: shapes, kernelSets)
    func steadyStateCallsAllocateNothing(_ shape: Shape, _ set: KernelSet) throws {
        try Self.expectNoAllocations(shape, Compute(kernelSet: set, threads: ThreadCount(1)))
    }

    /// Given four threads, a step too small to share (LSTM(64, 128): 256 KB of W_hh, under
    /// `PackedRecurrent.splitsStreamedSteps`) still runs on the caller alone: no pool round, no allocation.
    @Test func tinyStepsWakeNoPool() throws {
        try Self.expectNoAllocations(Self.shapes[0], Compute(threads: ThreadCount(4)))
    }

    /// A step past `splitsStreamedSteps` at batch 1 (LSTM(16, 256): 1 MB of W_hh) given two
    /// threads is shared, one `ThreadTeam.forEachPart` round a step: the caller allocates nothing
    /// (and the workers nothing, `forEachPartWorkersAllocateNothing`).
    @Test func sharedStepsAllocateNothing() throws {
        let shape = Shape(kind: "LSTM", input: 16, hidden: 256)
        let compute = Compute(threads: ThreadCount(2))
        guard case .packed(let packed) = try Self.module(shape, compute: compute).implementation else {
            Issue.record("LSTM(16, 256): not on the packed kernels")
            return
        }
        #expect(packed.splitsStreamedSteps(batch: 1))
        try Self.expectNoAllocations(shape, compute)
    }

    /// A `forEachPart` worker allocates nothing from round to round: the task reads the
    /// allocation counter of the thread it runs on each time the worker (not the caller) runs
    /// part 1, over 1,000 such rounds; the worker's count between its first and last run stays.
    /// Part 0 waits a little for part 1 to start, so that the caller does not take it first.
    @Test func forEachPartWorkersAllocateNothing() throws {
        try #require(pt_thread_allocations() >= 0, "allocations are counted on glibc only")
        final class Counting: TeamTask, @unchecked Sendable {
            // @unchecked: the fields are written by the one worker inside rounds and read by the
            // caller between them (`forEachPart` returns after the worker's part is done).
            let caller = pthread_self()
            /// Parts 1 the worker has started; what they were before this round (the caller's).
            let started = Atomic(0)
            var startedBefore = 0
            var first = -1, last = -1, runs = 0
            func runPart(_ part: Int, of parts: Int) {
                if part == 0 {
                    // Up to 100,000 looks; a parked worker's part the caller then runs itself.
                    for _ in 0..<100_000 where started.load(ordering: .acquiring) > startedBefore { break }
                    return
                }
                guard pthread_equal(pthread_self(), caller) == 0 else { return }
                started.add(1, ordering: .releasing)
                let count = pt_thread_allocations()
                if first < 0 { first = count }
                last = count
                runs += 1
            }
        }
        let pool = ThreadPool()   // held: a pool's workers leave with it
        let team = pool.team(.steps, workers: 1)
        let task = Counting()
        let deadline = DispatchTime.now() + .seconds(60)   // a bound on a hang, not a timing
        while task.runs < 1000 && DispatchTime.now() < deadline {
            task.startedBefore = task.started.load(ordering: .relaxed)
            team.forEachPart(2, task)
        }
        try #require(task.runs >= 2, "the worker ran part 1 of \(task.runs) rounds before the deadline")
        #expect(task.last - task.first == 0,
                "the worker allocated \(task.last - task.first) times in \(task.runs) rounds")
        withExtendedLifetime(pool) {}
    }

    /// 1,000 calls after a warm-up, on the calling thread, allocate nothing.
    static func expectNoAllocations(_ shape: Shape, _ compute: Compute) throws {
        try #require(pt_thread_allocations() >= 0, "allocations are counted on glibc only")
        let set = compute.kernelSet
        let module = try Self.module(shape, compute: compute)
        let stream = try module.makeStream()
        var state = try module.makeState(batch: shape.batch)
        let rows = shape.batch.map { [$0] } ?? []
        let chunkShape = shape.cell ? rows + [shape.input]
            : shape.batch == nil ? [shape.steps, shape.input]
            : shape.batchFirst ? rows + [shape.steps, shape.input] : [shape.steps] + rows + [shape.input]
        var random = ThreadCountTests.Random(seed: 5)
        let chunks = (0..<8).map { _ in
            ShapedArray(shape: chunkShape, values: random.values(chunkShape.reduce(1, *), scale: 1 / 1000))
        }
        var output = ShapedArray<Float>(zeros: [0])
        try stream.run(chunks[0], state: &state, output: &output)   // warm-up: builds the workspace
        let before = pt_thread_allocations()
        for call in 0..<1000 { try stream.run(chunks[call % chunks.count], state: &state, output: &output) }
        let allocations = pt_thread_allocations() - before
        #expect(allocations == 0, "\(shape) on \(set): \(allocations) allocations in 1,000 calls")
        #expect(state.h.values.allSatisfy { $0.isFinite })
    }

    /// A module of `shape` with seeded weights.
    static func module(_ shape: Shape, compute: Compute) throws -> Recurrent<Float> {
        let gates = ["RNN": 1, "GRU": 3, "LSTM": 4][shape.kind]!
        let out = shape.proj > 0 ? shape.proj : shape.hidden
        var random = ThreadCountTests.Random(seed: 3)
        var values: [String: [Float]] = [:], shapes: [String: [Int]] = [:]
        for l in 0..<shape.layers {
            let suffix = shape.cell ? "" : "_l\(l)"
            shapes["weight_ih" + suffix] = [gates * shape.hidden, l == 0 ? shape.input : out]
            shapes["weight_hh" + suffix] = [gates * shape.hidden, out]
            shapes["bias_ih" + suffix] = [gates * shape.hidden]
            shapes["bias_hh" + suffix] = [gates * shape.hidden]
            if shape.proj > 0 { shapes["weight_hr" + suffix] = [shape.proj, shape.hidden] }
        }
        for key in shapes.keys.sorted() { values[key] = random.values(shapes[key]!.reduce(1, *), scale: 1 / 4000) }
        let options = ModuleOptions(batchFirst: shape.batchFirst ? true : nil, nonlinearity: shape.relu ? .relu : nil)
        let module: Recurrent<Float> = try ModuleCatalog(floatStateDict(values, shapes: shapes))
            .recurrent(options: options, compute: compute)
        #expect(module.config.isCell == shape.cell && module.config.numLayers == shape.layers)
        return module
    }
}
