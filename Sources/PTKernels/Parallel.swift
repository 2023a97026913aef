import Foundation
import Synchronization

/// What this CPU can run, read once.
public enum CPUFeatures {
    /// AVX-512 F/BW/DQ/VL (what PTKernelsAVX512 is compiled for), from /proc/cpuinfo; the
    /// environment variable PTLOAD_NO_AVX512=1 turns the AVX-512 kernels off (tests use it to
    /// run the portable path).
    public static let hasAVX512: Bool = {
        if ProcessInfo.processInfo.environment["PTLOAD_NO_AVX512"] == "1" { return false }
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(set.contains)
    }()
}

/// Two threads for one forward pass: the caller and one parked worker.
///
/// `run` hands the worker `body(1)`, runs `body(0)` itself and returns when both are done. The
/// worker spins briefly between jobs (a step of a recurrent layer takes tens of microseconds to a
/// few milliseconds, and a futex round trip would cost more than a short spin), then parks on a
/// semaphore, so an idle process burns no CPU.
public final class ThreadPair: @unchecked Sendable {
    public static let shared = ThreadPair()

    private let posted = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?
    private let lock = NSLock()

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "ptload-worker"
        thread.start()
    }

    /// Runs `body(0)` here and `body(1)` on the worker, concurrently; one caller at a time.
    public func run(_ body: (Int) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            let generation = posted.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
            if sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
            escaping(0)
            while finished.load(ordering: .acquiring) != generation { spinPause() }
            job = nil
        }
    }

    private func loop() {
        var seen = 0
        while true {
            var spins = 0
            while posted.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 200_000 { spinPause(); continue }
                sleeping.store(true, ordering: .sequentiallyConsistent)
                if posted.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                spins = 0
            }
            seen = posted.load(ordering: .acquiring)
            job?(1)
            finished.store(seen, ordering: .releasing)
        }
    }
}

@inline(__always)
func spinPause() {
    // A relaxed re-read is enough to keep the loop from being optimised away.
    _ = 0
}
