import PTKernelsC
import Foundation
import Synchronization

/// How many threads a forward pass may use: the caller and `value − 1` workers. A value the
/// caller passes down to the layers, any number from 1.
public struct ThreadCount: Equatable, Sendable {
    public let value: Int

    /// `value` threads; fewer than 1 means 1.
    public init(_ value: Int) { self.value = max(1, value) }

    /// One thread per active core of this machine.
    public static var machine: ThreadCount { ThreadCount(ProcessInfo.processInfo.activeProcessorCount) }
}

/// Threads for forward passes, in teams: a layer shares its steps among one team, and a
/// bidirectional layer runs its directions on a team of two whose members each share their own
/// direction's steps among a team of their own (teams nest; one team serves one level).
///
/// Teams are made on first use, one per role and size (`team(_:workers:)`), and kept.
///
/// Lifetime: a pool made with `init()` belongs to whoever holds it. Pass it in `Compute.pool`;
/// modules loaded with that value hold it too. When the last reference goes, every team's
/// workers are told to stop and leave as soon as they are idle (at once when parked); no forward
/// pass can be running then, since each holds its value. `ThreadPool.shared`, what a `Compute`
/// with no pool uses, lives as long as the process.
public final class ThreadPool: Sendable {
    /// What a team does in a forward pass.
    public enum Role: Hashable, Sendable, CustomStringConvertible {
        /// Shares the steps of a layer's one direction.
        case steps
        /// Runs a bidirectional layer's two directions, one each.
        case directions
        /// Shares the steps of a bidirectional layer's direction `d` (0 forward, 1 reverse),
        /// inside `directions`.
        case direction(Int)

        public var description: String {
            switch self {
            case .steps: return "steps"
            case .directions: return "directions"
            case .direction(let d): return "direction\(d)"
            }
        }
    }

    private struct Key: Hashable {
        let role: Role
        let workers: Int
    }

    private let teams = Mutex<[Key: ThreadTeam]>([:])

    /// An empty pool: teams and their threads come on first use.
    public init() {}

    /// The process-wide pool, for values that name none.
    public static let shared = ThreadPool()

    /// The team for `role` with `workers` worker threads (besides its caller), made on first use.
    public func team(_ role: Role, workers: Int) -> ThreadTeam {
        teams.withLock { teams in
            let key = Key(role: role, workers: max(0, workers))
            if let team = teams[key] { return team }
            let team = ThreadTeam(workers: key.workers, name: role.description)
            teams[key] = team
            return team
        }
    }

    deinit {
        teams.withLock { teams in for team in teams.values { team.stop() } }
    }
}

/// What `ThreadTeam.forEachPart` runs: one part of a task on each thread of the team, with no
/// closure to allocate, and no reference the workers take, per round.
public protocol TeamTask: AnyObject {
    /// Part `part` of `parts`; the parts of a round run at once, each on one thread.
    func runPart(_ part: Int, of parts: Int)
}

extension TeamTask {
    /// `runPart` on the task at `task`, an unretained reference the caller keeps alive: a worker
    /// that retained the task would move its reference count between cores every round.
    fileprivate static func runPart(at task: UnsafeMutableRawPointer, _ part: Int, of parts: Int) {
        Unmanaged<Self>.fromOpaque(task)._withUnsafeGuaranteedRef { $0.runPart(part, of: parts) }
    }
}

/// One team of a `ThreadPool`: the caller and `workers` parked threads, sharing work items.
///
/// `forEach(count:)` hands out items `0..<count` one at a time to whichever thread asks first,
/// so a worker that the OS has descheduled never holds the caller up: the caller simply does the
/// items left. The caller claims from the front and the workers from the back, so from one round
/// to the next each thread tends to get the same items and finds their weights still in its own
/// cache. A worker may only run items while the gate of the current round is open and it has
/// entered it; the caller closes the gate, waiting only for workers that are inside (and so
/// running), before it returns. Between rounds the workers spin briefly on the spin-wait hint (a
/// recurrent step takes microseconds to milliseconds, less than a futex round trip would cost) and
/// then park on a semaphore, so an idle process burns no CPU. `forEachPhase` runs phases of parts
/// in one such round; `forEachPart` runs one part per thread with no gate and no closure.
public final class ThreadTeam: @unchecked Sendable {
    // @unchecked: `job` is written by the caller only while the gate is closed (no worker can be
    // inside), and read by workers only after entering the gate, which orders it after the write;
    // `partsTask` is written by the caller between parts rounds and read by a worker only after
    // it has claimed a part of the current one, which the caller waits for before it returns.

    public let workers: Int

    /// Round number the workers should look at.
    private let posted = Atomic<Int>(0)
    /// The gate: round · 2^17 + open · 2^16 + workers inside (under 2^16).
    private let gate = Atomic<Int>(0)
    /// Items of the current round already claimed, one bit each.
    private let claimed = Atomic<UInt64>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    /// Workers whose thread has not yet returned.
    private let running = DispatchGroup()
    private let wake = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?
    /// Held by the one caller whose round is running.
    private let caller = Mutex(())
    /// The last `forEachPart` round: its number · 2^7 + its parts, stored before it is posted.
    private let partsRound = Atomic<Int>(-1)
    /// That round's task, unretained, and its type: read by a worker only after it has claimed a
    /// part of the round, which the caller waits for before it returns (and before it stores the
    /// next round's task).
    private var partsTask: (type: any TeamTask.Type, object: UnsafeMutableRawPointer)?
    /// `forEachPart`'s words for each part: the last round that claimed it
    /// (`2·part·wordStride`) and the last that finished it (`(2·part + 1)·wordStride`).
    private let partBoard: UnsafeMutablePointer<Atomic<Int>>

    private static let openBit = 1 << 16
    private static let roundShift = 17

    /// `forEachPhase`'s words for each of up to 64 parts: the last phase claimed (at
    /// `2·part·wordStride`) and the last phase done (`(2·part + 1)·wordStride`), each on a
    /// 128-byte stretch of its own so that no two share a line or a prefetched pair of lines.
    private let board: UnsafeMutablePointer<Atomic<Int>>
    private static let wordStride = 16

    /// How long a worker spins between rounds before it parks: 8,192 spin-wait hints of tens to
    /// a hundred-odd cycles each, longer than most recurrent steps and far shorter than a
    /// process's idle time.
    static let spinsBeforeParking = 8_192

    /// How long `forEachPhase` waits for a phase's other parts on the spin-wait hint before it
    /// yields the core between looks: far longer than a phase of a few µs.
    static let spinsBeforeYielding = 16_384

    /// Each worker holds the team until its thread returns (after `stop`).
    init(workers: Int, name: String) {
        self.workers = max(0, workers)
        board = .allocate(capacity: 128 * Self.wordStride)
        partBoard = .allocate(capacity: 128 * Self.wordStride)
        for i in 0..<(128 * Self.wordStride) {
            (board + i).initialize(to: Atomic(-1))
            (partBoard + i).initialize(to: Atomic(-1))
        }
        for i in 0..<self.workers {
            running.enter()
            let thread = Thread { [self] in
                self.loop(part: i + 1)
                self.running.leave()
            }
            thread.name = "ptload-\(name)-\(i + 1)"
            thread.start()
        }
    }

    deinit {
        board.deinitialize(count: 128 * Self.wordStride)
        board.deallocate()
        partBoard.deinitialize(count: 128 * Self.wordStride)
        partBoard.deallocate()
    }

    /// Tells the workers to return once idle; `forEach` still works after, on the caller alone.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        posted.add(1, ordering: .sequentiallyConsistent)   // spinning workers look up
        for _ in 0..<workers { wake.signal() }              // parked ones wake
    }

    /// Workers counted as parked (or about to park) on the semaphore.
    var parkedWorkers: Int { sleepers.load(ordering: .sequentiallyConsistent) }

    /// Waits until every worker's thread has returned after `stop`, at most until `deadline`.
    /// - Returns: whether they all had.
    func waitUntilStopped(deadline: DispatchTime) -> Bool { running.wait(timeout: deadline) == .success }

    /// Runs `body(i)` for every `i` in `0..<count` (at most 64), on this thread and the workers;
    /// returns when all are done. One caller at a time.
    public func forEach(count: Int, _ body: @escaping (Int) -> Void) {
        precondition(count <= 64, "ThreadTeam.forEach takes at most 64 items")
        guard count > 1, workers > 0 else {
            for i in 0..<count { body(i) }
            return
        }
        caller.withLock { _ in runRound(count: count, body) }
    }

    /// Runs phases `0..<phases` in order, each cut into `parts` parts (at most 64): `body(phase,
    /// part)` once for every part of every phase, on this thread and the workers, no part of a
    /// phase starting before every part of the phase before it is done. One caller at a time.
    ///
    /// Thread i (the caller 0, the workers from `parts − 1` down) runs part i of each phase and
    /// then any part no thread has claimed yet, so that a part stays on one core, and its data in
    /// that core's cache, from phase to phase, while a worker the OS has descheduled leaves its
    /// parts to the others (a part it has begun holds its phase up until it ends). Between phases
    /// a thread waits only for the other parts' done words: a few cache lines between cores,
    /// where a round of `forEach` also passes through the gate and the claim word (a recurrent
    /// step of a few µs at batch 1 spent a third of its time in those).
    public func forEachPhase(_ phases: Int, parts: Int, _ body: @escaping (Int, Int) -> Void) {
        precondition(parts >= 1 && parts <= 64, "ThreadTeam.forEachPhase takes 1 to 64 parts")
        guard parts > 1, workers > 0 else {
            for phase in 0..<phases { for part in 0..<parts { body(phase, part) } }
            return
        }
        guard phases > 0 else { return }
        caller.withLock { _ in
            // Reset before the round is posted (a sequentially consistent store orders these).
            for part in 0..<parts {
                claimWord(part).pointee.store(-1, ordering: .relaxed)
                doneWord(part).pointee.store(-1, ordering: .relaxed)
            }
            runRound(count: parts) { i in self.takePart(i, phases: phases, parts: parts, body) }
        }
    }

    /// Runs `task.runPart(p, of: parts)` for every p in `0..<parts` (at most 64) and returns when
    /// all are done: part 0 on this thread, part i on worker i, so that a part stays on one core
    /// from round to round and its data in that core's cache. A part whose worker has not
    /// claimed it by the time the caller is done with its own (parked, descheduled, or no such
    /// worker) the caller runs itself. Allocates nothing and retains nothing per round: a
    /// streamed step of a few µs costs a few cache lines between cores, where a round of
    /// `forEachPhase` also allocates its closures and passes through the gate. One caller at a
    /// time; `task` must not start another round of this team.
    public func forEachPart(_ parts: Int, _ task: some TeamTask) {
        precondition(parts >= 1 && parts <= 64, "ThreadTeam.forEachPart takes 1 to 64 parts")
        guard parts > 1, workers > 0 else {
            for part in 0..<parts { task.runPart(part, of: parts) }
            return
        }
        caller.withLock { _ in
            partsTask = (type(of: task), Unmanaged.passUnretained(task).toOpaque())
            let round = posted.load(ordering: .relaxed) + 1
            partsRound.store(round << 7 | parts, ordering: .sequentiallyConsistent)
            posted.store(round, ordering: .sequentiallyConsistent)
            let parked = sleepers.load(ordering: .sequentiallyConsistent)
            for _ in 0..<min(parked, parts - 1) { wake.signal() }
            for part in 0..<parts where claimPart(part, round: round) {
                task.runPart(part, of: parts)
                partDoneWord(part).pointee.store(round, ordering: .relaxed)
            }
            // The parts workers claimed: wait until they are done.
            for part in 1..<parts {
                var spins = 0
                while partDoneWord(part).pointee.load(ordering: .acquiring) != round {
                    spins += 1
                    if spins < Self.spinsBeforeYielding { ptk_spin_pause() } else { sched_yield() }
                }
            }
            partsTask = nil
        }
    }

    /// Claims `part` of parts round `round` for the calling thread, unless another has.
    private func claimPart(_ part: Int, round: Int) -> Bool {
        let word = partBoard + 2 * part * Self.wordStride
        let last = word.pointee.load(ordering: .relaxed)
        return last < round
            && word.pointee.compareExchange(expected: last, desired: round, ordering: .acquiringAndReleasing).exchanged
    }

    private func partDoneWord(_ part: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        partBoard + (2 * part + 1) * Self.wordStride
    }

    /// A worker's share of parts round `round`: its own part, if the round has one and the caller
    /// has not taken it.
    private func takeOwnPart(_ part: Int, round: Int, parts: Int) {
        guard part < parts, claimPart(part, round: round), let (type, object) = partsTask else { return }
        type.runPart(at: object, part, of: parts)
        partDoneWord(part).pointee.store(round, ordering: .releasing)
    }

    private func claimWord(_ part: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        board + 2 * part * Self.wordStride
    }

    private func doneWord(_ part: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        board + (2 * part + 1) * Self.wordStride
    }

    /// One thread's share of `forEachPhase` as part `own`: every phase, its own part first if no
    /// one has taken it, then the others no one has; then it waits for the phase to be done. A
    /// thread that comes late finds the phases before done and passes through them.
    private func takePart(_ own: Int, phases: Int, parts: Int, _ body: (Int, Int) -> Void) {
        for phase in 0..<phases {
            for offset in 0..<parts {
                let part = (own + offset) % parts
                // Every part of the phase before is done, so an untaken part still shows it.
                let claim = claimWord(part)
                guard claim.pointee.load(ordering: .relaxed) == phase - 1,
                      claim.pointee.compareExchange(expected: phase - 1, desired: phase,
                                                    ordering: .acquiringAndReleasing).exchanged else { continue }
                body(phase, part)
                doneWord(part).pointee.store(phase, ordering: .releasing)
            }
            for part in 0..<parts {
                var spins = 0
                while doneWord(part).pointee.load(ordering: .acquiring) < phase {
                    // Past a long wait, the thread it waits for may share this core: let it run.
                    spins += 1
                    if spins < Self.spinsBeforeYielding { ptk_spin_pause() } else { sched_yield() }
                }
            }
        }
    }

    /// One round of `forEach`, under `caller`.
    private func runRound(count: Int, _ body: @escaping (Int) -> Void) {
        // The workers hold their own reference to `body` while they are inside the gate (an
        // escaping closure, so no withoutActuallyEscaping check can trip on those copies).
        let escaping = body
        job = escaping
        claimed.store(count == 64 ? 0 : ~UInt64(0) << UInt64(count), ordering: .sequentiallyConsistent)
        let round = posted.load(ordering: .relaxed) + 1
        gate.store(round << Self.roundShift | Self.openBit, ordering: .sequentiallyConsistent)
        posted.store(round, ordering: .sequentiallyConsistent)
        let parked = sleepers.load(ordering: .sequentiallyConsistent)
        for _ in 0..<min(parked, count - 1) { wake.signal() }
        work(escaping, fromFront: true)
        // Close the gate: wait only for workers that are inside, hence running items.
        while true {
            let state = gate.load(ordering: .sequentiallyConsistent)
            if state & 0xFFFF == 0 {
                let (closed, _) = gate.compareExchange(expected: state, desired: round << Self.roundShift,
                                                       ordering: .sequentiallyConsistent)
                if closed { break }
            } else {
                ptk_spin_pause()
            }
        }
        job = nil
    }

    /// Claims and runs items until none is left: the lowest free one, or the highest.
    /// `body` is escaping on purpose: with a non-escaping parameter, a worker's call after it
    /// woke from its semaphore leaked the closure's context now and then (and with it whatever the
    /// closure captured: a forward pass's buffers), in release and debug builds alike.
    private func work(_ body: @escaping (Int) -> Void, fromFront: Bool) {
        var state = claimed.load(ordering: .sequentiallyConsistent)
        while state != ~UInt64(0) {
            let free = ~state
            let item = fromFront ? free.trailingZeroBitCount : 63 - free.leadingZeroBitCount
            let (exchanged, current) = claimed.compareExchange(expected: state, desired: state | (1 << UInt64(item)),
                                                               ordering: .sequentiallyConsistent)
            if exchanged {
                body(item)
                state = claimed.load(ordering: .sequentiallyConsistent)
            } else {
                state = current
            }
        }
    }

    /// Enters the gate of `round` if it is still open: one more worker inside.
    private func enter(_ round: Int) -> Bool {
        var state = gate.load(ordering: .sequentiallyConsistent)
        while state >> Self.roundShift == round && state & Self.openBit != 0 {
            let (entered, current) = gate.compareExchange(expected: state, desired: state + 1,
                                                          ordering: .sequentiallyConsistent)
            if entered { return true }
            state = current
        }
        return false
    }

    /// Worker `part` (1 to `workers`): `forEachPart`'s part of that number.
    private func loop(part: Int) {
        var seen = 0
        while true {
            var spins = 0
            while posted.load(ordering: .acquiring) == seen {
                // The hint leaves the core to a sibling hyperthread, or shows the hypervisor a
                // spin, while this thread waits (a vCPU may share its core with the caller's).
                ptk_spin_pause()
                spins += 1
                if spins < Self.spinsBeforeParking { continue }
                // Counted as a sleeper before the last look at `posted`, and the caller posts
                // before it counts sleepers: one of the two sees the other, so no round is missed.
                // A signal meant for a worker that then did not sleep wakes one later for nothing.
                sleepers.add(1, ordering: .sequentiallyConsistent)
                if posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                spins = 0
            }
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            seen = posted.load(ordering: .acquiring)
            let parts = partsRound.load(ordering: .acquiring)
            if parts >> 7 == seen {
                takeOwnPart(part, round: seen, parts: parts & 127)
                continue
            }
            guard enter(seen) else { continue }   // the caller already finished this round
            // The worker's copy of the closure goes at the end of this scope, before it leaves
            // the gate: once `forEach` returns, nothing of the round is held.
            if let job { work(job, fromFront: false) }
            gate.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
