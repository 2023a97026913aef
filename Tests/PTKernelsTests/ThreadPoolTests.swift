import Foundation
import PTKernels
import Synchronization
import XCTest

/// ThreadPool: every item runs exactly once whatever the pool's size, nested pools work, and no
/// closure outlives its round.
final class ThreadPoolTests: XCTestCase {
    final class Tracked {
        static let count = Mutex(0)
        static var alive: Int { count.withLock { $0 } }
        init() { Tracked.count.withLock { $0 += 1 } }
        deinit { Tracked.count.withLock { $0 -= 1 } }
    }

    func testEveryItemRunsOnceAndNothingIsKeptAfterTheRound() {
        for workers in [0, 1, 2, 7] {
            let pool = ThreadPool.shared("test", workers: workers)
            XCTAssertEqual(pool.workers, workers)
            // Pauses long enough for the workers to park on their semaphore: the round then wakes
            // them, the path on which a closure context (a forward pass's buffers) used to leak.
            for round in 0..<40 {
                let tracked = Tracked()
                let count = [1, 2, 8, 13, 64][round % 5]
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: count)
                counts.initialize(repeating: 0, count: count)
                pool.forEach(count: count) { i in
                    withExtendedLifetime(tracked) { counts[i] += 1 }
                }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: count)), [Int](repeating: 1, count: count),
                               "\(workers) workers, round \(round)")
                counts.deallocate()
                if round % 3 == 0 { usleep(5_000) }
            }
        }
        usleep(50_000)  // the workers' last release, if they hold one, happens by now
        XCTAssertEqual(Tracked.alive, 0, "closures given to ThreadPool outlived their round")
    }

    /// Two teams, each sharing its own items on its own pool, as a bidirectional layer's
    /// directions do.
    func testNestedPools() {
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        sums.initialize(repeating: 0, count: 2)
        defer { sums.deallocate() }
        let lock = NSLock()
        for _ in 0..<20 {
            ThreadPool.shared("test-outer", workers: 1).forEach(count: 2) { team in
                ThreadPool.shared("test-team\(team)", workers: 3).forEach(count: 10) { i in
                    lock.withLock { sums[team] += i + 1 }
                }
            }
        }
        XCTAssertEqual(sums[0], 20 * 55)
        XCTAssertEqual(sums[1], 20 * 55)
    }

    /// The same pool is asked for by role and size: made once.
    func testPoolsAreSharedByRoleAndSize() {
        XCTAssertTrue(ThreadPool.shared("test-same", workers: 2) === ThreadPool.shared("test-same", workers: 2))
        XCTAssertFalse(ThreadPool.shared("test-same", workers: 2) === ThreadPool.shared("test-same", workers: 3))
    }
}
