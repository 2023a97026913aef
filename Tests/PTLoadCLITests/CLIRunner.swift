import Foundation
import PTTestSupport
import XCTest

/// Runs the built `ptload` binary and checks its refusals: shared by the CLI test classes.
enum CLI {
    /// `make test` builds the binary before the tests; a missing one is a failure, not a skip.
    struct NotBuilt: Error, CustomStringConvertible {
        let path: String
        var description: String { "ptload is not built at \(path): run `make test`, which builds it first" }
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The built binary: $PTLOAD_BINARY, else next to the test bundle, else .build/debug.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["PTLOAD_BINARY"] { return URL(fileURLWithPath: path) }
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ptload")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return repositoryRoot.appendingPathComponent(".build/debug/ptload")
    }()

    static func run(_ arguments: String...) throws -> Result { try CLI.run(arguments) }

    /// Runs the binary with `arguments`, adding `environment` to this process's.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw NotBuilt(path: Self.binary.path)
        }
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
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
