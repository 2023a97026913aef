import Foundation
import PTKernels
import XCTest

/// ThreadPair, the two-thread pool of the AVX-512 path.
final class ThreadPairTests: XCTestCase {
    final class Tracked {
        static let lock = NSLock()
        nonisolated(unsafe) static var alive = 0
        init() { Tracked.lock.withLock { Tracked.alive += 1 } }
        deinit { Tracked.lock.withLock { Tracked.alive -= 1 } }
    }

    func testEveryItemRunsOnceAndNothingIsKeptAfterTheRound() {
        // Pauses long enough for the worker to park on its semaphore: the round then wakes it,
        // the path on which a closure context (a forward pass's buffers) used to leak.
        for round in 0..<40 {
            let tracked = Tracked()
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8)
            counts.initialize(repeating: 0, count: 8)
            ThreadPair.shared.forEach(count: 8) { i in
                withExtendedLifetime(tracked) { counts[i] += 1 }
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: 8)), [Int](repeating: 1, count: 8), "round \(round)")
            counts.deallocate()
            if round % 2 == 0 { usleep(5_000) }
        }
        usleep(50_000)  // the worker's last release, if it holds one, happens by now
        XCTAssertEqual(Tracked.lock.withLock { Tracked.alive }, 0, "closures given to ThreadPair outlived their round")
    }
}
