// peak-rss TIMEOUT REPORT PROGRAM [ARGUMENT…]
//
// Runs PROGRAM with the arguments (stdin, stdout and stderr inherited), waits for it, writes
// "<peak RSS in KiB> <CPU seconds> <timed out: 0 or 1>" to REPORT, and exits with PROGRAM's status
// (128 + n for a signal). A PROGRAM still running after TIMEOUT seconds of wall time is killed
// (SIGKILL) and reported as timed out: a hang fails its test instead of stalling the suite.
// Used by the CLI tests to measure ptload alone.
//
// Why a separate process: Linux carries a process's RSS high-water mark across exec, and a child
// spawned (forked or vforked) from the test runner starts out as that runner's address space, so
// wait4 in the runner reports the runner's own peak for every child. This helper is small; the
// peak its child inherits from it is a few MB, and what wait4 reports here is ptload's.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line on stderr (file descriptor 2: no shared C stream).
func complain(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let timeout = Double(arguments[1]), timeout > 0 else {
    complain("usage: peak-rss TIMEOUT REPORT PROGRAM [ARGUMENT…]")
    exit(64)
}
let report = arguments[2]
let argv = arguments.dropFirst(3).map { strdup($0) } + [nil]
var pid: pid_t = 0
let spawned = posix_spawn(&pid, arguments[3], nil, nil, argv, environ)
guard spawned == 0 else {
    complain("peak-rss: cannot run \(arguments[3]): \(String(cString: strerror(spawned)))")
    exit(127)
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

var status: Int32 = 0
var usage = rusage()
let deadline = now() + timeout
var timedOut = false
// Poll every 2 ms until the child exits or the deadline passes; then reap it for good.
while true {
    let reaped = wait4(pid, &status, WNOHANG, &usage)
    if reaped == pid { break }
    if reaped < 0 && errno != EINTR { break }
    if now() > deadline {
        timedOut = true
        kill(pid, SIGKILL)
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        break
    }
    var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
    nanosleep(&pause, nil)
}
let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
guard let file = fopen(report, "w") else {
    complain("peak-rss: cannot write \(report)")
    exit(70)
}
fputs("\(usage.ru_maxrss) \(cpu) \(timedOut ? 1 : 0)\n", file)
fclose(file)
// WIFEXITED / WEXITSTATUS spelled out (the C macros are not imported).
exit((status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
