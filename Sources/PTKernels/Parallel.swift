import PTKernelsC
import Foundation
import Synchronization

/// Two threads for one forward pass: the caller and one parked worker, sharing work items.
///
/// `forEach(count:)` hands out items `0..<count` one at a time to whichever of the two threads
/// asks first, so a worker that the OS has descheduled never holds the caller up: the caller
/// simply does every item itself. The worker may only run items while the gate of the current
/// round is open and it has entered it; the caller closes the gate, waiting only for a worker
/// that is inside (and so running), before it returns. Between rounds the worker spins briefly
/// on `pause` (a recurrent step takes microseconds to milliseconds, less than a futex round trip
/// would cost) and then parks on a semaphore, so an idle process burns no CPU.
public final class ThreadPair: @unchecked Sendable {
    public static let shared = ThreadPair()

    /// Round number the worker should look at.
    private let posted = Atomic<Int>(0)
    /// 0: closed; 2·round: open; 2·round + 1: open with the worker inside.
    private let gate = Atomic<Int>(0)
    /// Items of the current round already claimed, one bit each.
    private let claimed = Atomic<UInt64>(0)
    private let sleeping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?
    private let lock = NSLock()

    /// How long the worker spins between rounds before it parks: `pause` takes tens to a
    /// hundred-odd cycles, so about 50 µs to 0.5 ms.
    static let spinsBeforeParking = 8_192

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "ptload-worker"
        thread.start()
    }

    /// Runs `body(i)` for every `i` in `0..<count` (at most 64), on this thread and the worker;
    /// returns when all are done. The caller claims items from the front and the worker from the
    /// back, so from one round to the next each thread tends to get the same items and finds
    /// their weights still in its own L2 cache. One caller at a time.
    public func forEach(count: Int, _ body: @escaping (Int) -> Void) {
        precondition(count <= 64, "ThreadPair.forEach takes at most 64 items")
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        lock.lock()
        defer { lock.unlock() }
        do {
            // The worker holds its own reference to `body` while it is inside the gate (an
            // escaping closure, so no withoutActuallyEscaping check can trip on that copy).
            let escaping = body
            job = escaping
            claimed.store(count == 64 ? 0 : ~UInt64(0) << UInt64(count), ordering: .sequentiallyConsistent)
            let round = posted.load(ordering: .relaxed) + 1
            gate.store(2 * round, ordering: .sequentiallyConsistent)
            posted.store(round, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
            work(escaping, fromFront: true)
            // Close the gate: wait only for a worker that is inside, hence running items.
            while true {
                let (exchanged, _) = gate.compareExchange(expected: 2 * round, desired: 0, ordering: .sequentiallyConsistent)
                if exchanged { break }
            }
            job = nil
        }
    }

    /// `body(0)` and `body(1)`, on either thread.
    public func run(_ body: @escaping (Int) -> Void) {
        forEach(count: 2, body)
    }

    /// Claims and runs items until none is left: the lowest free one, or the highest.
    /// `body` is escaping on purpose: with a non-escaping parameter, the worker's call after it
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

    private func loop() {
        var seen = 0
        while true {
            var spins = 0
            while posted.load(ordering: .acquiring) == seen {
                // `pause` leaves the core to a sibling hyperthread, or shows the hypervisor a
                // spin, while this thread waits (a vCPU may share its core with the caller's).
                ptk_spin_pause()
                spins += 1
                if spins < Self.spinsBeforeParking { continue }
                sleeping.store(true, ordering: .sequentiallyConsistent)
                if posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                spins = 0
            }
            seen = posted.load(ordering: .acquiring)
            let (entered, _) = gate.compareExchange(expected: 2 * seen, desired: 2 * seen + 1, ordering: .sequentiallyConsistent)
            guard entered else { continue }   // the caller already finished this round
            if let job { work(job, fromFront: false) }
            gate.store(2 * seen, ordering: .sequentiallyConsistent)
        }
    }
}
