import Foundation
import PTTensor
import PTTestSupport
import XCTest

/// The hostile-file corpus (`Fixtures/hostile`, written by ptload_tools.fixtures.hostile), one test
/// per file (HostileCorpusTests+Cases.swift): each is run through the built `ptload` binary and
/// must give exactly the expected outcome — a refusal with exit status 2 and the exact line on
/// stderr, or a listing with the expected tensors — within the resource limits: peak RSS under
/// 256 MB, and work bounded by ptload's own counters (`workBounds`), which depend on the file
/// alone and not on how fast or busy the CPU is. A hang is caught by the runner's timeout. Where
/// torch.load(weights_only=True) refuses a file (Fixtures/hostile/torch_verdicts.json, from
/// ptload_tools.fixtures.torch_verdicts), ptload must refuse it too, unless the case says why ptload reads it safely
/// (`reads_more`, listed in the README).
final class HostileCorpusTests: XCTestCase {
    static let maxRSSBytes = 256 << 20

    /// What ptload may spend on one file, from its work counts: the README's limits, and bounds
    /// by the size of the pickle. `pickle_bytes` is what was handed to the pickle machine.
    static func workBounds(_ w: CLI.Work) -> [(what: String, spent: Int, bound: Int)] {
        [
            // Every opcode consumes at least one byte: nothing is run twice.
            ("pickle opcodes", w.pickle_opcodes, w.pickle_bytes),
            // Strings are materialised once each, at most twice their bytes (latin-1 to UTF-8).
            ("bytes materialised", w.pickle_materialized_bytes, 2 * w.pickle_bytes),
            // PickleLimits.maxKeyWork + keyWorkPerByte per byte.
            ("key hashing work", w.pickle_key_work, 100_000 + w.pickle_bytes),
            // LoadOptions.maxWalkSteps, plus the step that is refused.
            ("containers walked", w.walk_steps, FileLimits.maxTensors + FileLimits.maxContainers + 1),
        ]
    }

    struct Case: Decodable {
        struct Expected: Decodable {
            let dtype: String
            let shape: [Int]
        }
        let file: String
        let attack: String
        let args: [String]?
        let exit: Int32
        let stderr: String?
        let tensors: [String: Expected]?
        let reference: String?
        let reads_more: String?

        var id: String { reference ?? file }
    }

    struct TorchVerdicts: Decodable {
        struct Verdict: Decodable {
            let verdict: String
            let error: String?
        }
        let torch: String
        let cases: [String: Verdict]
    }

    static let folder = fixtureURL("hostile")

    static let cases: [String: Case] = {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("expected.json")),
              let list = try? JSONDecoder().decode([Case].self, from: data) else { return [:] }
        return Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }()

    static let torch: TorchVerdicts? = {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("torch_verdicts.json")) else { return nil }
        return try? JSONDecoder().decode(TorchVerdicts.self, from: data)
    }()

    func check(_ id: String) throws {
        let c = try XCTUnwrap(Self.cases[id], "\(id) is not in Fixtures/hostile/expected.json: regenerate the corpus")
        let dir = Self.folder.path
        let file = Self.folder.appendingPathComponent(c.file).standardizedFileURL.path
        var arguments = [file] + (c.args ?? []).map { $0.replacingOccurrences(of: "{dir}", with: dir) }
        if c.exit == 0 { arguments.append("--json") }
        let run = try CLI.runMeasured(arguments)
        let r = run.result
        let context0 = "\(id) (\(c.attack))"
        if let w = run.work {
            for (what, spent, bound) in Self.workBounds(w) {
                XCTAssertLessThanOrEqual(spent, bound, "\(context0): \(what)")
            }
        } else {
            // Only a refusal before any pickle is read (the zip layer, usage) leaves no counts.
            XCTAssertEqual(r.status, 2, "\(context0): ptload wrote no work report")
        }
        let context = context0

        XCTAssertEqual(r.status, c.exit, "\(context): \(r.stderr)")
        if let expected = c.stderr {
            let line = expected.replacingOccurrences(of: "{file}", with: file)
                .replacingOccurrences(of: "{dir}", with: dir)
            XCTAssertEqual(r.stderr, line + "\n", context)
            XCTAssertEqual(r.stdout, "", context)
        } else {
            XCTAssertEqual(r.stderr, "", context)
            try checkListing(r.stdout, c, context)
        }
        XCTAssertLessThan(run.peakRSSBytes, Self.maxRSSBytes, "\(context): peak RSS \(run.peakRSSBytes >> 20) MB")

        // The differential check: at least as strict as torch.load(weights_only=True).
        if c.reference == nil, let torch = Self.torch {
            let verdict = try XCTUnwrap(torch.cases[c.file], "\(c.file) has no torch verdict: run make hostile")
            if verdict.verdict == "refuses" && c.exit == 0 {
                XCTAssertNotNil(c.reads_more,
                                "\(context): torch \(torch.torch) refuses it (\(verdict.error ?? "")) but ptload reads"
                                    + " it, and the case gives no reason why that is safe")
            }
        }
    }

    /// Keys, dtypes and shapes of an accepted file's listing (its values are checked in-process by
    /// PTCheckpointTests' HostileCorpusValueTests).
    private func checkListing(_ stdout: String, _ c: Case, _ context: String) throws {
        struct Listing: Decodable {
            struct Entry: Decodable {
                let key: String
                let dtype: String
                let shape: [Int]
            }
            let tensors: [Entry]
            let records_checked: Bool
            let format: String
        }
        let listing = try JSONDecoder().decode(Listing.self, from: Data(stdout.utf8))
        // Every zip record's CRC-32 is checked; safetensors has none to check.
        XCTAssertEqual(listing.records_checked, listing.format != "safetensors", context)
        guard let expected = c.tensors, !expected.isEmpty else { return }
        XCTAssertEqual(Set(listing.tensors.map(\.key)), Set(expected.keys), context)
        for entry in listing.tensors {
            guard let want = expected[entry.key] else { continue }
            XCTAssertEqual(entry.dtype, want.dtype, "\(context): \(entry.key)")
            XCTAssertEqual(entry.shape, want.shape, "\(context): \(entry.key)")
        }
    }

    /// The measurement is ptload's own, not the test runner's: with the runner's resident set well
    /// past the limit, a small file still measures far below it.
    func testPeakRSSIsTheChildsOwnNotTheRunners() throws {
        let ballast = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * Self.maxRSSBytes, alignment: 4096)
        defer { ballast.deallocate() }
        for page in stride(from: 0, to: ballast.count, by: 4096) { ballast[page] = 1 }
        let run = try CLI.runMeasured([Self.folder.appendingPathComponent("base_lstm.pt").path])
        XCTAssertEqual(run.result.status, 0, run.result.stderr)
        XCTAssertLessThan(run.peakRSSBytes, Self.maxRSSBytes / 2, "peak RSS \(run.peakRSSBytes >> 20) MB")
        XCTAssertGreaterThan(run.peakRSSBytes, 1 << 20)
    }

    /// The work counts are ptload's and exact: the billion-laughs file stops at the walk limit,
    /// the rehashed key at the key budget, and a plain state dict costs what its pickle holds.
    func testWorkCountsAreExact() throws {
        func work(_ file: String) throws -> CLI.Work {
            let run = try CLI.runMeasured([Self.folder.appendingPathComponent(file).path])
            return try XCTUnwrap(run.work, "\(file): no work report")
        }
        let laughs = try work("pkl_billion_laughs.pt")
        XCTAssertEqual(laughs.walk_steps, FileLimits.maxTensors + FileLimits.maxContainers + 1)
        XCTAssertEqual(laughs.pickle_key_work, 1)   // the one key, "w"
        let rehash = try work("pkl_key_rehash.pt")
        XCTAssertEqual(rehash.walk_steps, 0)
        XCTAssertEqual(rehash.pickle_key_work, 2 * 65_535)   // 2 stores fit 100,000 + 80,113
        XCTAssertEqual(rehash.pickle_bytes, 80_113)
        let base = try work("base_lstm.pt")
        XCTAssertEqual(base.walk_steps, 5)   // the dict and its four tensors
        XCTAssertGreaterThan(base.pickle_opcodes, 20)
        XCTAssertLessThan(base.pickle_opcodes, base.pickle_bytes)
    }

    /// A run that outlasts the timeout is killed and fails with a clear message, not a stall.
    func testAHangIsKilledAtTheTimeout() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-hang-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = folder.appendingPathComponent("usage").path
        let helper = Process()
        helper.executableURL = CLI.peakRSS
        helper.arguments = ["0.2", report, "/bin/sleep", "30"]
        try helper.run()
        helper.waitUntilExit()
        XCTAssertEqual(helper.terminationStatus, 128 + 9)   // SIGKILL
        let fields = try String(contentsOfFile: report, encoding: .utf8).split(separator: " ")
        XCTAssertEqual(fields.count, 3)
        XCTAssertEqual(fields.last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }, "1")
        XCTAssertTrue("\(CLI.TimedOut(arguments: ["x.pt"]))".contains("still ran after 60 s and was killed"))
    }

    /// The generated methods and the corpus list the same cases, and torch's verdicts cover it.
    func testEveryCorpusFileHasATest() throws {
        XCTAssertFalse(Self.cases.isEmpty, "Fixtures/hostile/expected.json is missing or unreadable")
        XCTAssertEqual(Set(Self.generatedCases), Set(Self.cases.keys),
                       "HostileCorpusTests+Cases.swift is stale: run make hostile")
        let torch = try XCTUnwrap(Self.torch, "Fixtures/hostile/torch_verdicts.json is missing: run make hostile")
        for c in Self.cases.values where c.reference == nil {
            XCTAssertNotNil(torch.cases[c.file], "\(c.file) has no torch verdict: run make hostile")
        }
    }
}
