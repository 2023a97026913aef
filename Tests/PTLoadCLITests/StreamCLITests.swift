import Foundation
import PTTestSupport
import XCTest

/// `ptload MODEL --verify REF --chunk N` as a black box: the sequence streamed in chunks of N
/// steps with the state carried gives the whole run's verdicts (the same bits: the comparison
/// tables are the same lines), the report says it streamed and in how many calls, and what
/// cannot stream is refused with one line.
final class StreamCLITests: XCTestCase {
    func path(_ name: String) -> String { fixtureURL("rnn").appendingPathComponent(name).path }

    /// The report's lines but its timings (and the streamed line).
    func untimed(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("timings: ") && !$0.hasPrefix("streamed: ") }
    }

    func testChunksOfOneThreeAndAllGiveTheWholeRunsTable() throws {
        for (name, args, steps) in [("lstm_l3_uni_tf_nobias_h0_full", [String](), 6),
                                    ("gru_l2_uni_bf_nobias_h0_full", ["--batch-first"], 6),
                                    ("rnn_relu_l1_uni_tf_nobias_h0_full", ["--nonlinearity", "relu"], 6),
                                    ("lstm_unbatched", [], 6), ("gru_long", ["--batch-first"], 120)] {
            let base = [path(name + ".pt"), "--verify", path(name + ".npz")] + args
            let whole = try CLI.run(base)
            XCTAssertEqual(whole.status, 0, "\(name): \(whole.stdout) \(whole.stderr)")
            for chunk in [1, 3, steps] {
                let r = try CLI.run(base + ["--chunk", "\(chunk)"])
                XCTAssertEqual(r.status, 0, "\(name) --chunk \(chunk): \(r.stdout) \(r.stderr)")
                XCTAssertEqual(r.stderr, "")
                XCTAssertEqual(untimed(r.stdout), untimed(whole.stdout), "\(name) --chunk \(chunk)")
                let calls = (steps + chunk - 1) / chunk
                let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("streamed: ") })
                let prefix = "streamed: \(calls) \(calls == 1 ? "call" : "calls") of up to \(chunk)"
                    + " \(chunk == 1 ? "step" : "steps"), state carried; "
                XCTAssertTrue(line.hasPrefix(prefix) && line.hasSuffix(" s per call (median)"), String(line))
            }
        }
    }

    /// The benchmark's contract: `stream.chunk`, `stream.chunks` (calls per run), `stream.call_s`,
    /// and `timings.forward_s` the median whole streamed run over `--repeat`.
    func testJSONSaysItStreamedAndInHowManyCalls() throws {
        let base = [path("lstm_long.pt"), "--verify", path("lstm_long.npz"), "--threads", "1", "--json"]
        let r = try CLI.run(base + ["--chunk", "1", "--repeat", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let stream = try XCTUnwrap(report["stream"] as? [String: Any])
        XCTAssertEqual(stream["chunk"] as? Int, 1)
        XCTAssertEqual(stream["chunks"] as? Int, 120)
        let call = try XCTUnwrap(stream["call_s"] as? Double)
        let timings = try XCTUnwrap(report["timings"] as? [String: Any])
        XCTAssertEqual(timings["forward_runs"] as? Int, 3)
        let forward = try XCTUnwrap(timings["forward_s"] as? Double)
        XCTAssertTrue(call > 0 && forward >= call, "call \(call) s, forward \(forward) s")
        XCTAssertEqual(report["passed"] as? Bool, true)
        // The whole run's comparisons, number for number, and no "stream" key.
        let whole = try CLI.run(base)
        let wholeReport = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(whole.stdout.utf8))
                                        as? [String: Any])
        XCTAssertNil(wholeReport["stream"])
        XCTAssertEqual(report["comparisons"] as? NSArray, wholeReport["comparisons"] as? NSArray)
    }

    func testACellIsOneCallOfOneStep() throws {
        let r = try CLI.run([path("lstmcell.pt"), "--verify", path("lstmcell.npz"), "--chunk", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\nstreamed: 1 call of up to 1 step, state carried; "), r.stdout)
        XCTAssertTrue(r.stdout.contains("\nPASS (2 of 2 tensors within tolerance)\n"), r.stdout)
    }

    /// A cell over a sequence (Fixtures/cellseq: PyTorch calling the cell T = 6 times): one call
    /// per step whatever the chunk, every step's h' compared as `output`, then h_n (and c_n).
    func testACellSequenceIsOneCallPerStep() throws {
        let folder = fixtureURL("cellseq")
        for (name, rows) in [("lstmcell_seq", ["  output  [6, 3, 4] ", "  h_n     [3, 4]    ", "  c_n     [3, 4]    "]),
                             ("grucell_seq", ["  output  [6, 2, 4] ", "  h_n     [2, 4]    "]),
                             ("rnncell_seq_unbatched", ["  output  [6, 4] ", "  h_n     [4]    "]),
                             ("lstmcell_seq_unbatched", ["  output  [6, 4] ", "  h_n     [4]    ",
                                                         "  c_n     [4]    "])] {
            let base = [folder.appendingPathComponent(name + ".pt").path, "--verify",
                        folder.appendingPathComponent(name + ".npz").path]
            let one = try CLI.run(base + ["--chunk", "1"])
            XCTAssertEqual(one.status, 0, "\(name): \(one.stdout) \(one.stderr)")
            XCTAssertEqual(one.stderr, "")
            let lines = one.stdout.split(separator: "\n").map(String.init)
            let table = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("  tensor  shape") }, one.stdout)
            XCTAssertEqual(lines.count, table + rows.count + 4, one.stdout)
            for (i, row) in rows.enumerated() {
                XCTAssertTrue(lines[table + 1 + i].hasPrefix(row) && lines[table + 1 + i].hasSuffix("  PASS"),
                              lines[table + 1 + i])
            }
            XCTAssertEqual(lines[table + rows.count + 1],
                           "PASS (\(rows.count) of \(rows.count) tensors within tolerance)")
            XCTAssertTrue(lines[table + rows.count + 2].hasPrefix("streamed: 6 calls of up to 1 step, state carried; ")
                          && lines[table + rows.count + 2].hasSuffix(" s per call (median)"), one.stdout)
            let three = try CLI.run(base + ["--chunk", "3"])
            XCTAssertEqual(untimed(three.stdout), untimed(one.stdout), name)
            XCTAssertTrue(three.stdout.contains("\nstreamed: 6 calls of up to 1 step, state carried; "), three.stdout)
        }
        // Without --chunk a cell's reference is one step, as before.
        let model = folder.appendingPathComponent("lstmcell_seq.pt").path
        let reference = folder.appendingPathComponent("lstmcell_seq.npz").path
        let whole = try CLI.run([model, "--verify", reference])
        XCTAssertEqual(whole.status, 2)
        XCTAssertEqual(whole.stdout, "")
        XCTAssertEqual(whole.stderr, "ptload: \(reference): input has shape [6, 3, 5]; LSTMCell(5, 4) takes [N, 5] or"
                       + " [5]\n")
    }

    /// The benchmark's contract for a cell: `stream.chunks` is the number of calls, one per step.
    func testACellSequencesJSONCountsOneCallPerStep() throws {
        let folder = fixtureURL("cellseq")
        let r = try CLI.run([folder.appendingPathComponent("grucell_seq.pt").path, "--verify",
                             folder.appendingPathComponent("grucell_seq.npz").path, "--chunk", "1", "--repeat", "2",
                             "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let stream = try XCTUnwrap(report["stream"] as? [String: Any])
        XCTAssertEqual(stream["chunk"] as? Int, 1)
        XCTAssertEqual(stream["chunks"] as? Int, 6)
        XCTAssertEqual((report["timings"] as? [String: Any])?["forward_runs"] as? Int, 2)
        XCTAssertEqual(report["outputs"] as? [String: [Int]], ["output": [6, 2, 4], "h_n": [2, 4]])
        XCTAssertEqual(report["passed"] as? Bool, true)
    }

    func testBidirectionalIsRefusedNamingTheModule() throws {
        let model = path("lstm_l1_bi_bf_bias_h0_full.pt")
        let r = try CLI.run([model, "--verify", path("lstm_l1_bi_bf_bias_h0_full.npz"), "--batch-first",
                             "--chunk", "2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "ptload: \(model): the module (LSTM(5, 4, batch_first=True, bidirectional=True))"
                       + " cannot stream: its reverse direction starts from the sequence's last step, which a chunk"
                       + " does not have\n")
        // With lengths too, the module is what cannot stream.
        let withLengths = path("lstm_long_bi_len.pt")
        let both = try CLI.run([withLengths, "--verify", path("lstm_long_bi_len.npz"), "--chunk", "3"])
        XCTAssertEqual(both.status, 2)
        XCTAssertEqual(both.stderr, "ptload: \(withLengths): the module (LSTM(5, 4, bidirectional=True)) cannot"
                       + " stream: its reverse direction starts from the sequence's last step, which a chunk does not"
                       + " have\n")
    }

    func testLengthsAreRefusedSayingWhy() throws {
        let reference = path("lstm_l2_uni_tf_nobias_noh0_len.npz")
        let r = try CLI.run([path("lstm_l2_uni_tf_nobias_noh0_len.pt"), "--verify", reference, "--chunk", "2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "ptload: \(reference): holds 'lengths'; packed sequences cannot be run in chunks:"
                       + " each ends at its own step, so the state to carry from one chunk to the next is not one"
                       + " state\n")
    }

    func testWhatCannotStreamIsRefused() throws {
        let model = path("pipe_emb_lstm_fc.pt"), reference = path("pipe_emb_lstm_fc.npz")
        let pipeline = try CLI.run([model, "--verify", reference, "--pipeline", "emb,rnn,fc", "--chunk", "2"])
        XCTAssertEqual(pipeline.status, 2)
        XCTAssertEqual(pipeline.stderr, "ptload: --chunk streams one recurrent module; --pipeline runs several\n")
        let embedding = try CLI.run([model, "--verify", reference, "--module", "emb", "--chunk", "2"])
        XCTAssertEqual(embedding.status, 2)
        XCTAssertEqual(embedding.stderr, "ptload: 'emb' (Embedding(11, 5)) cannot be run in chunks: only RNN, LSTM,"
                       + " GRU layers and cells carry a state\n")
        let golden = fixtureURL("golden").appendingPathComponent("projected")
        let manifest = try CLI.run([golden.appendingPathComponent("model.pt").path, "--verify",
                                    golden.appendingPathComponent("golden.json").path, "--chunk", "2"])
        XCTAssertEqual(manifest.status, 2)
        XCTAssertEqual(manifest.stderr, "ptload: --chunk: a golden manifest names each case's input, module and"
                       + " options\n")
        let zero = try CLI.run([path("lstm_unbatched.pt"), "--verify", path("lstm_unbatched.npz"), "--chunk", "0"])
        XCTAssertEqual(zero.status, 2)
        XCTAssertEqual(zero.stderr, "ptload: --chunk must be at least 1\n")
        let alone = try CLI.run([path("lstm_unbatched.pt"), "--chunk", "2"])
        XCTAssertEqual(alone.status, 2)
        XCTAssertEqual(alone.stderr, "ptload: --input, --module, --pipeline, --batch-first, --nonlinearity, --rtol,"
                       + " --atol, --repeat and --chunk need --verify or --output\n")
    }
}
