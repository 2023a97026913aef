import Foundation
import PTPickle
import PTTestSupport
import XCTest

/// Black-box tests of the `ptload` binary: stdout, stderr and exit status.
final class CLITests: XCTestCase {
    func fixture(_ name: String) -> String { fixtureURL("checkpoints/" + name).path }

    /// `--help` is exactly Fixtures/cli/help.txt at 80 columns: every line as written, none wrapped
    /// mid-sentence. (After a deliberate change: `COLUMNS=80 ptload --help > Fixtures/cli/help.txt`.)
    func testHelpIsTheGoldenText() throws {
        let r = try CLI.run(["--help"], environment: ["COLUMNS": "80"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let golden = try String(contentsOf: fixtureURL("cli/help.txt"), encoding: .utf8)
        XCTAssertEqual(r.stdout, golden)
        XCTAssertTrue(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, r.stdout)
        XCTAssertTrue(r.stdout.contains("ptload MODEL --verify REF.npz"))
    }

    /// `--version` prints a semantic version and exits 0, with or without a model.
    func testVersion() throws {
        for args in [["--version"], [fixture("lstm_sd.pt"), "--version"]] {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertNotNil(try r.stdout.wholeMatch(of: Regex(#"\d+\.\d+\.\d+\n"#)), r.stdout)
            XCTAssertEqual(r.stderr, "")
        }
    }

    func testInspectStateDict() throws {
        let path = fixture("lstm_sd.pt")
        let r = try CLI.run(path)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(3)),
                       ["file: \(path)", "format: zip (archive 'lstm_sd')", "pickle protocol: 2"])
        XCTAssertTrue(lines.contains("record version: 3"))
        XCTAssertTrue(lines.contains("record byteorder: little"))
        XCTAssertTrue(lines.contains("tensors: 16, 1920 bytes"))
        XCTAssertTrue(lines.contains("  key                   dtype    shape    strides  storage  offset  bytes"))
        XCTAssertTrue(lines.contains("  weight_ih_l0          float32  [12, 4]           data/0   0       192"))
        XCTAssertTrue(lines.contains("  weight_ih_l1_reverse  float32  [12, 6]           data/12  0       288"))
        XCTAssertTrue(lines.contains("  (root)  LSTM  input_size=4 hidden_size=3 num_layers=2 bidirectional=true"
                                         + " bias=true"))
        XCTAssertEqual(lines.last, "opaque classes: 0")
    }

    func testListingChecksEveryRecordUnlessTold() throws {
        XCTAssertTrue(try CLI.run(fixture("lstm_sd.pt")).stdout
            .contains("\nchecksums: every record's CRC-32 matches\n"))
        XCTAssertTrue(try CLI.run(fixture("legacy_lstm.pt")).stdout
            .contains("\nchecksums: none (the legacy format has none)\n"))
        // A storage whose bytes were changed: refused by default, listed (metadata only) with --skip-crc.
        let corrupt = fixtureURL("hostile/zip_crc_storage.pt").path
        CLI.assertRefused(try CLI.run(corrupt), naming: corrupt, "entry 'archive/data/1' has CRC-32")
        let skipped = try CLI.run(corrupt, "--skip-crc")
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stdout.contains("\nchecksums: not checked (--skip-crc)\n"), skipped.stdout)
        let json = try CLI.run(fixture("lstm_sd.pt"), "--json")
        XCTAssertTrue(json.stdout.contains("\"records_checked\" : true"), json.stdout)
        XCTAssertTrue(json.stdout.contains("\"crc_s\" : "), json.stdout)
        let r = try CLI.run(corrupt, "--skip-crc", "--verify", fixtureURL("hostile/base_out.npy").path)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr,
                       "ptload: --skip-crc applies to listing; --verify and --output check every record they read\n")
    }

    func testInspectShowsStridesOnlyWhenNotContiguous() throws {
        let r = try CLI.run(fixture("layouts.pt"))
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(rows.contains("  transposed    float32  [6, 4]        [1, 6]         data/0   0       96"),
                      r.stdout)
        XCTAssertTrue(rows.contains("  offset_slice  float32  [6]                          data/0   3       24"),
                      r.stdout)
        XCTAssertTrue(rows.contains("  expanded      float32  [3, 4]        [0, 1]         data/1   0       48"),
                      r.stdout)
    }

    func testInspectFormats() throws {
        let legacy = try CLI.run(fixture("legacy_lstm.pt"))
        XCTAssertEqual(legacy.status, 0, legacy.stderr)
        XCTAssertTrue(legacy.stdout.contains("format: legacy\n"))
        let script = try CLI.run(fixture("script_vad.jit"))
        XCTAssertEqual(script.status, 0, script.stderr)
        XCTAssertTrue(script.stdout.contains("format: torchscript (archive 'script_vad')\n"))
        XCTAssertTrue(script.stdout.contains("  _model.decoder.rnn  LSTMCell  input_size=4 hidden_size=3 bias=true\n"))
        let net = try CLI.run(fixture("full_net.pt"))
        XCTAssertTrue(net.stdout.contains("  heads.aux.0  RNN  input_size=4 hidden_size=3 num_layers=1"
                                              + " bidirectional=false bias=true nonlinearity=relu batch_first=false\n"),
                      net.stdout)
        XCTAssertTrue(net.stdout.contains("opaque classes: 1\n  __main__.Net\n"))
    }

    func testJSON() throws {
        let r = try CLI.run(fixture("full_lstm.pt"), "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "zip")
        XCTAssertEqual(json["archive"] as? String, "full_lstm")
        XCTAssertEqual(json["tensor_count"] as? Int, 5)
        let timings = try XCTUnwrap(json["timings"] as? [String: Any])
        let load = try XCTUnwrap(timings["load_s"] as? Double)
        XCTAssertGreaterThan(load, 0)
        XCTAssertLessThan(load, 10)
        let recurrent = try XCTUnwrap(json["recurrent_modules"] as? [[String: Any]])
        XCTAssertEqual(recurrent.count, 1)
        XCTAssertEqual(recurrent.first?["kind"] as? String, "LSTM")
        XCTAssertEqual(recurrent.first?["proj_size"] as? Int, 2)
        XCTAssertEqual(recurrent.first?["batch_first"] as? Bool, true)
        let tensors = try XCTUnwrap(json["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.map { $0["key"] as? String },
                       ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"])
    }

    func testHostileFileExitsTwoWithOneLine() throws {
        var p = PickleWriter()
        p.global("posix", "system"); p.string("echo pwned"); p.op(.tuple1); p.op(.reduce); p.op(.stop)
        let path = temporaryFile(torchZip(pickle: p.bytes), name: "evil.pt")
        CLI.assertRefused(try CLI.run(path), naming: path, "posix.system", "refused")
    }

    /// Names from the file are escaped: the refusal stays one line and the listing keeps its rows.
    func testControlCharactersInNamesAreEscaped() throws {
        var p = PickleWriter()
        let name = Array("sys\ntem\r\u{1}x".utf8)
        p.shortString(utf8: Array("posix".utf8)); p.shortString(utf8: name); p.op(.stackGlobal)
        p.op(.stop)
        let path = temporaryFile(torchZip(pickle: p.bytes), name: "newline.pt")
        CLI.assertRefused(try CLI.run(path), naming: path, "posix.sys\\ntem\\r\\u{1}x")
        var q = PickleWriter()
        q.op(.emptyDict); q.op(.mark); q.string("a\nb")
        q.tensorV2("FloatStorage", key: "0", numel: 1, offset: 0, size: [1], stride: [1])
        q.op(.setitems); q.op(.stop)
        let listing = temporaryFile(torchZip(pickle: q.bytes, storages: [("0", [0, 0, 128, 63])]), name: "key.pt")
        let r = try CLI.run(listing)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("  a\\nb  float32  [1]"), r.stdout)
    }

    func testStrictRefusesWhatWeightsOnlyRefuses() throws {
        let path = fixture("full_net.pt")
        XCTAssertEqual(try CLI.run(path).status, 0)
        CLI.assertRefused(try CLI.run(path, "--strict"), naming: path, "weights-only allowlist")
        XCTAssertEqual(try CLI.run(fixture("lstm_sd.pt"), "--strict").status, 0)
    }

    func testUnreadableAndNotACheckpoint() throws {
        CLI.assertRefused(try CLI.run("/nonexistent/model.pt"), naming: "/nonexistent/model.pt", "No such file")
        let text = temporaryFile(Array("not a checkpoint\n".utf8), name: "notes.txt")
        CLI.assertRefused(try CLI.run(text), naming: text, "not a PyTorch checkpoint")
        let truncated = try Data(contentsOf: URL(fileURLWithPath: fixture("lstm_sd.pt"))).prefix(3000)
        let cut = temporaryFile(Array(truncated), name: "cut.pt")
        CLI.assertRefused(try CLI.run(cut), naming: cut)
    }

    func testUsageErrorsExitTwo() throws {
        let r = try CLI.run("--bogus")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("ptload: "), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        let none = try CLI.run("--json")
        XCTAssertEqual(none.status, 2)
        let help = try CLI.run("--help")
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("USAGE: ptload"), help.stdout)
    }
}
