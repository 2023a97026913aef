import Foundation
import PTTestSupport
import XCTest

/// Runs the built `ptload` binary and checks its refusals: shared by the CLI test classes.
enum CLI {
    /// `make test` builds the binary before the tests; a missing one is a failure, not a skip.
    struct NotBuilt: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) is not built: run `make test`, which builds it first" }
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The built binary: $PTLOAD_BINARY, else next to the test bundle, else .build/debug.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["PTLOAD_BINARY"] { return URL(fileURLWithPath: path) }
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("ptload")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return repositoryRoot.appendingPathComponent(".build/debug/ptload")
    }()

    static func run(_ arguments: String...) throws -> Result { try CLI.run(arguments) }

    /// How long one run of the binary may take before it is killed and its test fails: generous
    /// (the slowest case takes a second or two), so only a hang ever reaches it.
    static let timeoutSeconds = 60.0

    /// A run killed after `timeoutSeconds`.
    struct TimedOut: Error, CustomStringConvertible {
        let arguments: [String]
        var description: String {
            "ptload \(arguments.joined(separator: " ")) still ran after \(Int(CLI.timeoutSeconds)) s and was killed: a"
                + " hang"
        }
    }

    /// Runs the binary with `arguments`, adding `environment` to this process's; throws `TimedOut`
    /// for a run that outlasts `timeoutSeconds`.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try runMeasured(arguments, environment: environment).result
    }

    /// Exit 2, nothing on stdout, exactly one line on stderr naming `path`, with `fragments`.
    static func assertRefused(_ r: Result, naming path: String, _ fragments: String..., line: UInt = #line) {
        XCTAssertEqual(r.status, 2, r.stderr, line: line)
        XCTAssertEqual(r.stdout, "", line: line)
        XCTAssertTrue(r.stderr.hasPrefix("ptload: \(path)"), r.stderr, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "not one line: \(r.stderr)", line: line)
        for f in fragments { XCTAssertTrue(r.stderr.contains(f), "'\(f)' missing from \(r.stderr)", line: line) }
    }

}

extension CLI {
    /// A run with what it cost: the child's own peak resident set and CPU time, and the work
    /// counts ptload wrote (`PTLOAD_WORK_REPORT`; nil when it exited before loading anything).
    struct Measured {
        let result: Result
        let peakRSSBytes: Int
        let cpuSeconds: Double
        let wallSeconds: Double
        let work: Work?
    }

    /// ptload's own work counts for one run (Sources/ptload/WorkReport.swift).
    struct Work: Decodable {
        let pickle_opcodes: Int
        let pickle_materialized_bytes: Int
        let pickle_key_work: Int
        let pickle_bytes: Int
        let walk_steps: Int
    }

    /// The `peak-rss` helper (Tests/PeakRSS), built beside the binary by `make test`.
    static let peakRSS: URL = binary.deletingLastPathComponent().appendingPathComponent("peak-rss")

    /// Runs the binary with `arguments` under the `peak-rss` helper, which reports the binary's
    /// own peak RSS and CPU time and kills it after `timeoutSeconds`. (The runner's own wait4 cannot: a child of this
    /// process starts as this process's address space, and Linux keeps that high-water mark across
    /// exec, so every child would report the test runner's peak.) Output goes to temporary files,
    /// so a large listing cannot fill a pipe.
    static func runMeasured(_ arguments: [String], environment: [String: String] = [:]) throws -> Measured {
        for program in [Self.binary, Self.peakRSS] where !FileManager.default.isExecutableFile(atPath: program.path) {
            throw NotBuilt(path: program.path)
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ptload-measured-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outPath = folder.appendingPathComponent("stdout").path,
            errPath = folder.appendingPathComponent("stderr").path
        let reportPath = folder.appendingPathComponent("usage").path
        let workPath = folder.appendingPathComponent("work.json").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = ([Self.peakRSS.path, String(Self.timeoutSeconds), reportPath, Self.binary.path] + arguments)
            .map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var variables = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        variables["PTLOAD_WORK_REPORT"] = workPath
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in envp { free(p) } }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let spawned = posix_spawn(&pid, Self.peakRSS.path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported); a signal is 128 + n.
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        struct NoReport: Error, CustomStringConvertible {
            let description: String
        }
        let report = (try? String(contentsOfFile: reportPath, encoding: .utf8)) ?? ""
        let fields = report.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard fields.count == 3, let kib = Int(fields[0]), let cpu = Double(fields[1]) else {
            throw NoReport(description: "peak-rss wrote no usage (exit \(exitStatus)): '\(report)'")
        }
        if fields[2] == "1" { throw TimedOut(arguments: arguments) }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        let work = FileManager.default.contents(atPath: workPath).flatMap {
            try? JSONDecoder().decode(Work.self, from: $0)
        }
        return Measured(result: Result(status: exitStatus, stdout: stdout, stderr: stderr),
                        peakRSSBytes: kib * 1024, cpuSeconds: cpu, wallSeconds: wall, work: work)
    }
}
