import Foundation
import PTNumpy
import PTTestSupport
import XCTest

/// Outputs never destroy anything and names survive exactly (issue 18): `--export`, `--output`
/// and `--junit` write a new file beside the destination and rename it over; an output that is
/// an input is refused; keys are compared by their bytes; names a format cannot hold are refused.
/// Fixtures from torch: Fixtures/export/outputs (ptload_tools.fixtures.outputs).
final class OutputSafetyCLITests: XCTestCase {
    struct Verdict: Decodable { let keys_utf8_hex: [String]?; let shapes: [[Int]]? }
    struct Manifest: Decodable { let fixtures: [String: Verdict] }

    func outputs(_ name: String) -> String { fixtureURL("export/outputs/" + name).path }
    let lstm = fixtureURL("rnn/lstm_long_bi_len.pt").path
    let lstmRef = fixtureURL("rnn/lstm_long_bi_len.npz").path

    /// A fresh folder for one test's files.
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-out-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    /// Every name in `folder`, to show that a run left nothing of its own behind.
    func names(in folder: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder))
    }

    /// Runs `script` under /bin/sh with `PTLOAD` set to the binary and `variables` added: for
    /// arguments Swift strings cannot hold (bytes that are not UTF-8) and for resource limits.
    func shell(_ script: String, _ variables: [String: String] = [:]) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.environment = ProcessInfo.processInfo.environment.merging(variables) { _, new in new }
            .merging(["PTLOAD": CLI.binary.path]) { _, new in new }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
    }

    // MARK: Outputs never destroy anything

    /// The old writer wrote `OUT.partial` under that fixed name and followed a symlink there.
    func testASymlinkBesideTheOutputIsNeverFollowed() throws {
        let dir = try folder()
        let victim = dir + "/victim"
        FileManager.default.createFile(atPath: victim, contents: Data("victim".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/out.npz.partial", withDestinationPath: victim)
        let r = try CLI.run(lstm, "--export", dir + "/out.npz")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(contents(victim), Array("victim".utf8))
        XCTAssertEqual(try names(in: dir), ["victim", "out.npz.partial", "out.npz"])
    }

    func testAUsersOwnPartialFileSurvives() throws {
        let dir = try folder()
        FileManager.default.createFile(atPath: dir + "/out.pt.partial", contents: Data("mine".utf8))
        let r = try CLI.run(lstm, "--export", dir + "/out.pt")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(contents(dir + "/out.pt.partial"), Array("mine".utf8))
    }

    /// `ptload out.safetensors.partial --export out.safetensors` deleted its input.
    func testAnInputNamedLikeTheOldTemporaryFileIsKept() throws {
        let dir = try folder()
        let first = try CLI.run(lstm, "--export", dir + "/made.safetensors")
        XCTAssertEqual(first.status, 0, first.stderr)
        for (made, format) in [("made.safetensors", "safetensors"), ("made.pt", "pt")] {
            if format == "pt" { XCTAssertEqual(try CLI.run(lstm, "--export", dir + "/made.pt").status, 0) }
            let input = dir + "/out.\(format).partial"
            try? FileManager.default.removeItem(atPath: input)
            try FileManager.default.copyItem(atPath: dir + "/" + made, toPath: input)
            let before = contents(input)
            let r = try CLI.run(input, "--export", dir + "/out.\(format)")
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(contents(input), before)
            let listed = try CLI.run(dir + "/out.\(format)", "--json")
            XCTAssertEqual(listed.status, 0, listed.stderr)
            XCTAssertTrue(listed.stdout.contains("\"tensor_count\" : 8"), listed.stdout)
        }
    }

    /// A symlink at the destination is replaced by the new file, not written through.
    func testASymlinkAtTheOutputIsReplacedNotFollowed() throws {
        let dir = try folder()
        let victim = dir + "/victim"
        FileManager.default.createFile(atPath: victim, contents: Data("victim".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/out.npz", withDestinationPath: victim)
        XCTAssertEqual(try CLI.run(lstm, "--export", dir + "/out.npz").status, 0)
        XCTAssertEqual(contents(victim), Array("victim".utf8))
        let type = try FileManager.default.attributesOfItem(atPath: dir + "/out.npz")[.type] as? FileAttributeType
        XCTAssertEqual(type, .typeRegular)
    }

    func testAnOutputThatIsAnInputIsRefused() throws {
        let dir = try folder()
        let model = dir + "/model.pt", ref = dir + "/ref.npz"
        try FileManager.default.copyItem(atPath: lstm, toPath: model)
        try FileManager.default.copyItem(atPath: lstmRef, toPath: ref)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.pt", withDestinationPath: model)
        try FileManager.default.linkItem(atPath: model, toPath: dir + "/hard.pt")
        let (modelBytes, refBytes) = (contents(model), contents(ref))
        for out in [model, dir + "/link.pt", dir + "/hard.pt"] {
            CLI.assertRefused(try CLI.run(model, "--export", out), naming: out, "cannot write: it is the input")
        }
        CLI.assertRefused(try CLI.run(model, "--verify", ref, "--output", ref), naming: ref,
                          "cannot write: it is the input")
        CLI.assertRefused(try CLI.run(model, "--verify", ref, "--junit", model), naming: model, "it is the input")
        XCTAssertEqual(contents(model), modelBytes)
        XCTAssertEqual(contents(ref), refBytes)
        XCTAssertEqual(try names(in: dir), ["model.pt", "ref.npz", "link.pt", "hard.pt"])
    }

    /// `$'\xff\xfe.pt'` was written as "\u{FFFD}\u{FFFD}.pt".
    func testAnOutputPathThatIsNotUTF8IsRefused() throws {
        let dir = try folder()
        let r = try shell(#"cd "$DIR" && exec "$PTLOAD" "$MODEL" --export "$(printf '\377\376.pt')""#,
                          ["DIR": dir, "MODEL": lstm])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr,
                       "ptload: argument 3 is not valid UTF-8; ptload takes file names as UTF-8 text and never writes"
                           + " under a re-encoded name\n")
        XCTAssertEqual(try names(in: dir), [])
    }

    /// `--output` wrote its archive in place: a full disk left a truncated file. A file-size limit
    /// (EFBIG, as a full disk gives ENOSPC) stands for the full disk.
    func testAFailedWriteLeavesTheOldFileAndNothingElse() throws {
        let dir = try folder()
        FileManager.default.createFile(atPath: dir + "/out.npz", contents: Data("old".utf8))
        for arguments in [#""$MODEL" --verify "$REF" --output "$DIR/out.npz""#, #""$MODEL" --export "$DIR/out.npz""#,
                          #""$MODEL" --export "$DIR/new.pt""#] {
            let r = try shell(#"ulimit -f 1; trap '' XFSZ; exec "$PTLOAD" "# + arguments,
                              ["DIR": dir, "MODEL": lstm, "REF": lstmRef])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains("cannot write: File too large"), r.stderr)
            XCTAssertEqual(contents(dir + "/out.npz"), Array("old".utf8))
            XCTAssertEqual(try names(in: dir), ["out.npz"])
        }
    }

    /// `--export --json` gives its counts as numbers (they were strings).
    func testExportJSONCountsAreNumbers() throws {
        let dir = try folder()
        let r = try CLI.run(lstm, "--export", dir + "/o.npz", "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["tensors"] as? Int, 8)
        XCTAssertEqual(json["materialized"] as? Int, 0)
        XCTAssertEqual(json["format"] as? String, "npz")
        XCTAssertNotNil(json["bytes"] as? Int)
    }

    // MARK: Names

    /// torch.save names the archive's folder after the file; names readers refuse become `archive`.
    func testOutputFileNamesReadBack() throws {
        let dir = try folder()
        for name in ["a\nb.pt", "a\\b.pt", "....pt", "...pt", "x.y.pt"] {
            let out = dir + "/" + name
            let r = try CLI.run(lstm, "--export", out)
            XCTAssertEqual(r.status, 0, r.stderr)
            let back = try CLI.run(out, "--json")
            XCTAssertEqual(back.status, 0, "\(name): \(back.stderr)")
        }
    }

    func testNamesAFormatCannotHoldAreRefused() throws {
        let dir = try folder()
        let model = outputs("unsafe_names.pt")
        CLI.assertRefused(try CLI.run(model, "--export", dir + "/o.npz"), naming: model,
                          "tensor '../../evil' cannot be named so in .npz: the member name is not a plain relative path"
                              + " (it has a '..' component)")
        CLI.assertRefused(try CLI.run(model, "--export", dir + "/o.safetensors"), naming: model,
                          "tensor '__metadata__' cannot be named so in .safetensors: the header reserves"
                              + " '__metadata__'")
        XCTAssertEqual(try names(in: dir), [])
        // A .pt holds every name torch.save wrote, exactly.
        let r = try CLI.run(model, "--export", dir + "/o.pt")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try keys(of: dir + "/o.pt"), try torchKeys("unsafe_names.pt"))
    }

    // MARK: Keys are bytes

    func torchKeys(_ fixture: String) throws -> [[UInt8]] {
        let manifest = try JSONDecoder().decode(Manifest.self,
                                                from: Data(contentsOf: fixtureURL("export/outputs/manifest.json")))
        let verdict = try XCTUnwrap(manifest.fixtures[fixture])
        return try XCTUnwrap(verdict.keys_utf8_hex).map { hex in
            stride(from: 0, to: hex.count, by: 2).map { i in
                UInt8(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)],
                      radix: 16)!
            }
        }
    }

    /// The keys ptload lists for `path`, as UTF-8 bytes, in order.
    func keys(of path: String) throws -> [[UInt8]] {
        let r = try CLI.run(path, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let tensors = try XCTUnwrap(json["tensors"] as? [[String: Any]])
        return tensors.compactMap { ($0["key"] as? String).map { Array($0.utf8) } }
    }

    /// 'é' (U+00E9) and 'e' + U+0301 are two tensors for torch; Swift's String equality merged them.
    func testKeysEqualOnlyUnderNormalizationStayTwo() throws {
        let model = outputs("unicode_keys.pt")
        let expected = try torchKeys("unicode_keys.pt")
        XCTAssertEqual(expected.count, 2)
        XCTAssertEqual(try keys(of: model), expected)
        let dir = try folder()
        for format in ["safetensors", "pt"] {
            let out = dir + "/o." + format
            XCTAssertEqual(try CLI.run(model, "--export", out).status, 0)
            XCTAssertEqual(Set(try keys(of: out)), Set(expected), format)
        }
        XCTAssertEqual(try CLI.run(model, "--export", dir + "/o.npz").status, 0)
        let arrays = try Numpy.readNpz(path: dir + "/o.npz")
        XCTAssertEqual(arrays.map { Array($0.name.utf8) }, expected)
        XCTAssertEqual(arrays.map(\.tensor.shape), [[2], [3]])
    }

    // MARK: Memory in proportion

    /// One float viewed with stride 0 as 2^24 elements: the 64 MiB export (32 MiB cast) is
    /// written in pieces. The old writer held the whole output, and a cast eight bytes an element.
    func testAStrideZeroViewExportsInPieces() throws {
        let dir = try folder()
        for (out, extra) in [("x.npz", [String]()), ("h.safetensors", ["--cast", "float16"])] {
            let m = try CLI.runMeasured([outputs("stride0.pt"), "--export", dir + "/" + out] + extra)
            XCTAssertEqual(m.result.status, 0, m.result.stderr)
            XCTAssertLessThan(m.peakRSSBytes, 48 << 20,
                              "\(out): peak RSS \(m.peakRSSBytes >> 20) MiB for a 1.5 kB file")
        }
        let back = try Numpy.readNpz(path: dir + "/x.npz")
        XCTAssertEqual(back.first?.tensor.shape, [1 << 24])
        XCTAssertEqual(try back.first?.tensor.doubles(in: (1 << 24) - 2 ..< (1 << 24)), [1.5, 1.5])
    }

    /// A 145 kB reference with a 128 MiB deflated member no run reads: it is never inflated.
    func testAnUnusedNpzMemberIsNeverInflated() throws {
        let m = try CLI.runMeasured([lstm, "--verify", outputs("ref_unused_member.npz")])
        XCTAssertEqual(m.result.status, 0, m.result.stderr)
        XCTAssertLessThan(m.peakRSSBytes, 64 << 20, "peak RSS \(m.peakRSSBytes >> 20) MiB")
    }

    /// Listing a safetensors file of many empty tensors: the rows stream, the header is parsed
    /// as bytes, so the cost per tensor stays under the README's bound of 1 kB (0.5 kB measured
    /// in a release build).
    func testListingCostsABoundedAmountPerTensor() throws {
        let count = 100_000
        var header = "{"
        for i in 0..<count {
            header += (i == 0 ? "" : ",") + "\"t\(i)\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}"
        }
        header += "}"
        var text = Array(header.utf8)
        text += [UInt8](repeating: 0x20, count: (8 - text.count % 8) % 8)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) } + text
        let path = temporaryFile(bytes, name: "many.safetensors")
        let small = try CLI.runMeasured([lstm])
        for extra in [[String](), ["--json"]] {
            let m = try CLI.runMeasured([path] + extra)
            XCTAssertEqual(m.result.status, 0, m.result.stderr)
            let perTensor = (m.peakRSSBytes - small.peakRSSBytes) / count
            XCTAssertLessThan(perTensor, 1024, "\(extra): \(perTensor) bytes per tensor")
        }
    }
}
