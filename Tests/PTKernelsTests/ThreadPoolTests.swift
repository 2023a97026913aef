import Dispatch
import Foundation
@testable import PTKernels
import Synchronization
import XCTest

/// ThreadPool and its teams: every item runs exactly once whatever the team's size, nested teams
/// work, no closure outlives its round, teams are kept per role and size, and a caller's pool
/// lets its threads go with it. No test sleeps: each waits on the event it is about.
final class ThreadPoolTests: XCTestCase {
    final class Tracked {
        static let count = Mutex(0)
        static var alive: Int { count.withLock { $0 } }
        init() { Tracked.count.withLock { $0 += 1 } }
        deinit { Tracked.count.withLock { $0 -= 1 } }
    }

    /// Waits (yielding the CPU) until every worker of `team` counts as parked: the next round
    /// must wake them, the path on which a closure context (a forward pass's buffers) used to leak.
    func waitUntilParked(_ team: ThreadTeam, file: StaticString = #filePath, line: UInt = #line) {
        let deadline = DispatchTime.now() + .seconds(60)   // a bound on a hang, not a timing
        while team.parkedWorkers < team.workers {
            if DispatchTime.now() > deadline { return XCTFail("workers never parked", file: file, line: line) }
            sched_yield()
        }
    }

    func testEveryItemRunsOnceAndNothingIsKeptAfterTheRound() {
        let pool = ThreadPool()
        for workers in [0, 1, 2, 7] {
            let team = pool.team(.steps, workers: workers)
            XCTAssertEqual(team.workers, workers)
            for round in 0..<40 {
                // Every third round finds the workers parked; the others find them spinning.
                if round % 3 == 0 { waitUntilParked(team) }
                let tracked = Tracked()
                let count = [1, 2, 8, 13, 64][round % 5]
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: count)
                counts.initialize(repeating: 0, count: count)
                team.forEach(count: count) { i in
                    withExtendedLifetime(tracked) { counts[i] += 1 }
                }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: count)),
                               [Int](repeating: 1, count: count),
                               "\(workers) workers, round \(round)")
                counts.deallocate()
            }
            // Each worker drops its copy of the closure before it leaves the round's gate, and
            // `forEach` returns only once none is inside: nothing of any round is held now.
            XCTAssertEqual(Tracked.alive, 0, "closures given to \(workers) workers outlived their round")
        }
    }

    /// `forEachPhase`: every part of every phase runs once, no part of a phase before every part
    /// of the one before it ended (each part checks that its phase's predecessors all ended
    /// before it began), whatever the workers and parts, with the workers parked (so that the
    /// caller runs the first phases before they come) or spinning. With more parts than threads
    /// (8 parts) the threads take parts that are no one's own.
    func testEveryPhasePartRunsOnceAfterThePhaseBefore() {
        let pool = ThreadPool()
        for workers in [0, 1, 2, 7] {
            let team = pool.team(.steps, workers: workers)
            for round in 0..<12 {
                if round % 3 == 0 { waitUntilParked(team) }
                let tracked = Tracked()
                let (phases, parts) = ([1, 5, 40][round % 3], [1, 2, 3, 8][round % 4])
                let ended = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: phases * parts)
                for i in 0..<(phases * parts) { (ended + i).initialize(to: Atomic(0)) }
                let early = Atomic(0)
                team.forEachPhase(phases, parts: parts) { phase, part in
                    withExtendedLifetime(tracked) {
                        if phase > 0 {
                            for p in 0..<parts where ended[(phase - 1) * parts + p].load(ordering: .acquiring) != 1 {
                                early.add(1, ordering: .relaxed)
                            }
                        }
                        ended[phase * parts + part].add(1, ordering: .releasing)
                    }
                }
                let counts = (0..<(phases * parts)).map { ended[$0].load(ordering: .relaxed) }
                XCTAssertEqual(counts, [Int](repeating: 1, count: phases * parts),
                               "\(workers) workers, \(phases) phases of \(parts) parts")
                XCTAssertEqual(early.load(ordering: .relaxed), 0, "a part began before the phase before it ended")
                ended.deallocate()
            }
            XCTAssertEqual(Tracked.alive, 0, "closures given to \(workers) workers outlived their round")
        }
    }

    /// `forEachPart`: every part runs once a round and part 0 on the caller, whatever the
    /// workers (none, fewer or more than the parts) and whether they are parked or spinning, in
    /// rounds that alternate with `forEach` rounds on the same team; the team keeps no reference
    /// to the task once the round is over.
    func testEveryPartRunsOnceAndPartZeroOnTheCaller() {
        final class Parts: TeamTask, @unchecked Sendable {
            // @unchecked: the counters are atomics; `caller` is set once.
            let counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 64)
            let caller = pthread_self()
            let zeroElsewhere = Atomic(0)
            init() { for i in 0..<64 { (counts + i).initialize(to: Atomic(0)) } }
            deinit { counts.deallocate() }
            func runPart(_ part: Int, of parts: Int) {
                counts[part].add(1, ordering: .relaxed)
                if part == 0 && pthread_equal(pthread_self(), caller) == 0 { zeroElsewhere.add(1, ordering: .relaxed) }
            }
        }
        let pool = ThreadPool()
        for workers in [0, 1, 2, 7] {
            let team = pool.team(.steps, workers: workers)
            for round in 0..<40 {
                if round % 3 == 0 { waitUntilParked(team) }
                let parts = [1, 2, 3, 8, 64][round % 5]
                weak var released: Parts?
                do {
                    let task = Parts()
                    team.forEachPart(parts, task)
                    let counts = (0..<64).map { task.counts[$0].load(ordering: .relaxed) }
                    XCTAssertEqual(counts, (0..<64).map { $0 < parts ? 1 : 0 }, "\(workers) workers, \(parts) parts")
                    XCTAssertEqual(task.zeroElsewhere.load(ordering: .relaxed), 0, "part 0 ran off the caller")
                    released = task
                }
                XCTAssertNil(released, "the team kept the task of a finished round")
                if round % 2 == 1 {
                    let sum = Atomic(0)
                    team.forEach(count: 5) { sum.add($0 + 1, ordering: .relaxed) }
                    XCTAssertEqual(sum.load(ordering: .relaxed), 15)
                }
            }
        }
    }

    /// Two teams, each sharing its own items, inside a team of two, as a bidirectional layer's
    /// directions do.
    func testNestedTeams() {
        let pool = ThreadPool()
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        sums.initialize(repeating: 0, count: 2)
        defer { sums.deallocate() }
        let lock = Mutex(())
        let teams = (0..<2).map { pool.team(.direction($0), workers: 3) }
        for _ in 0..<20 {
            pool.team(.directions, workers: 1).forEach(count: 2) { d in
                teams[d].forEach(count: 10) { i in
                    lock.withLock { _ in sums[d] += i + 1 }
                }
            }
        }
        XCTAssertEqual(sums[0], 20 * 55)
        XCTAssertEqual(sums[1], 20 * 55)
    }

    /// A pool makes one team per role and size; two pools share none.
    func testTeamsAreKeptByRoleAndSize() {
        let pool = ThreadPool(), other = ThreadPool()
        XCTAssertTrue(pool.team(.steps, workers: 2) === pool.team(.steps, workers: 2))
        XCTAssertFalse(pool.team(.steps, workers: 2) === pool.team(.steps, workers: 3))
        XCTAssertFalse(pool.team(.direction(0), workers: 2) === pool.team(.direction(1), workers: 2))
        XCTAssertFalse(pool.team(.steps, workers: 2) === other.team(.steps, workers: 2))
        XCTAssertTrue(ThreadPool.shared === ThreadPool.shared)
        XCTAssertTrue(Compute.automatic.threadPool === ThreadPool.shared)
        XCTAssertTrue(Compute(pool: pool).threadPool === pool)
    }

    /// When the last reference to a caller's pool goes, every worker of every team returns, parked
    /// or spinning; a team still held afterwards runs its items on the caller alone.
    func testAPoolsWorkersLeaveWithIt() {
        var pool: ThreadPool? = ThreadPool()
        let parked = pool!.team(.steps, workers: 3), spinning = pool!.team(.directions, workers: 2)
        parked.forEach(count: 8) { _ in }
        waitUntilParked(parked)
        spinning.forEach(count: 8) { _ in }
        weak var released = pool
        pool = nil
        XCTAssertNil(released)
        XCTAssertTrue(parked.waitUntilStopped(deadline: .now() + .seconds(60)), "parked workers did not return")
        XCTAssertTrue(spinning.waitUntilStopped(deadline: .now() + .seconds(60)), "spinning workers did not return")

        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 8)
        parked.forEach(count: 8) { counts[$0] += 1 }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 8)), [Int](repeating: 1, count: 8))
    }
}
