import Foundation
import PTKernels
import PTTestSupport
import XCTest

/// `ptload MODEL --verify REF` as a black box: reports, options, kernel caps and refusals on the
/// cases PyTorch wrote (Fixtures/rnn); GoldenCaseCLITests runs every case.
final class VerifyCLITests: XCTestCase {
    static let folder = fixtureURL("rnn")

    func path(_ name: String) -> String { Self.folder.appendingPathComponent(name).path }

    /// Says in the test log which kernel sets this run tested and which it could not.
    func testKernelSetsTestedOnThisCPU() {
        let ran = KernelSet.allCases.filter(CPUFeatures.canRun).map(\.rawValue)
        let skipped = KernelSet.allCases.compactMap(CPUFeatures.whyNot)
        print("kernel sets tested on this CPU: \(ran.joined(separator: ", ")); not tested: "
              + (skipped.isEmpty ? "none" : skipped.joined(separator: "; ")))
        XCTAssertTrue(ran.contains(KernelSet.plain.rawValue))
        XCTAssertTrue(CPUFeatures.canRun(CPUFeatures.best))
        print("kernel set ptload chooses: \(CPUFeatures.best) (PTLOAD_ISA caps it)")
    }

    /// PTLOAD_ISA names a set or is refused; PTLOAD_NO_AVX512=1 still caps below AVX-512.
    func testKernelCapVariables() throws {
        let model = path("lstm_long.pt"), reference = path("lstm_long.npz")
        let bad = try CLI.run([model, "--verify", reference], environment: ["PTLOAD_ISA": "sse2"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "ptload: PTLOAD_ISA is 'sse2'; expected one of "
                       + KernelSet.allCases.map(\.rawValue).joined(separator: ", ")
                       + " (the most capable kernel set to use)\n")
        let kernels = try CLI.run([model, "--verify", reference], environment: ["PTLOAD_KERNELS": "blas"])
        XCTAssertEqual(kernels.status, 2)
        XCTAssertEqual(kernels.stderr,
                       "ptload: PTLOAD_KERNELS is 'blas'; expected reference (the plain-loop implementation) or"
                           + " nothing\n")
        // (PTLOAD_ISA emptied: the suite itself may run capped, and PTLOAD_ISA comes first.)
        let old = try CLI.run([model, "--verify", reference], environment: ["PTLOAD_NO_AVX512": "1", "PTLOAD_ISA": ""])
        XCTAssertEqual(old.status, 0, old.stderr)
        let expected = CPUFeatures.canRun(.avx2) ? "avx2" : "plain"
        XCTAssertTrue(old.stdout.contains("\nkernels: \(expected)\n"), old.stdout)
    }

    /// One thread takes the same path sequentially: bidirectional, shared-step and small cases.
    func testSingleThreadGivesTheSameVerdicts() throws {
        for (name, args) in [("lstm_long_bi_len", [String]()), ("lstm_wide_len", []),
                             ("gru_wide_bf", ["--batch-first"]),
                             ("allon_lstm_l2_bi_bf_bias_h0_len", ["--batch-first"])] {
            let r = try CLI.run([path(name + ".pt"), "--verify", path(name + ".npz"), "--threads", "1"] + args)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stdout) \(r.stderr)")
        }
    }

    func testReportNamesTheWorstElementOnMismatch() throws {
        let r = try CLI.run([path("lstm_l1_bi_bf_bias_h0_full.pt"), "--verify",
                             path("mismatch_lstm_output_perturbed.npz"), "--batch-first"])
        XCTAssertEqual(r.status, 1)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let output = try XCTUnwrap(lines.first { $0.hasPrefix("  output") })
        XCTAssertTrue(output.contains("1/"), output)
        XCTAssertTrue(output.contains("[1, 5, 7]"), output)
        XCTAssertTrue(output.hasSuffix("FAIL"), output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  output[1, 5, 7]: ptload ") }, r.stdout)
        XCTAssertTrue(lines.contains("FAIL (2 of 3 tensors within tolerance)"), r.stdout)
    }

    /// A float32 reference that fails a float32 run: the report adds how far ptload's float32
    /// result is from its own float64 run, and what to do if the reference drifted; the verdict
    /// stays a mismatch. (The planted mismatch is real, so that distance is tiny here.)
    func testFailedFloat32ReferenceGetsTheFloat64Distance() throws {
        let args = [path("lstm_l1_bi_bf_bias_h0_full.pt"), "--verify", path("mismatch_lstm_output_perturbed.npz"),
                    "--batch-first"]
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 1)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("  float32 drift: ") }, r.stdout)
        XCTAssertTrue(line.contains("within output "), String(line))
        XCTAssertTrue(line.contains("verify against float64 truths (ptload-golden writes them) or widen --atol"),
                      String(line))
        let json = try CLI.run(args + ["--json"])
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let distance = try XCTUnwrap(report["float64_distance"] as? [String: Double])
        XCTAssertEqual(Set(distance.keys), ["output", "h_n", "c_n"])
        XCTAssertLessThan(distance["output"] ?? 1, 1e-6)
        // A passing run, and a float64 one, carry no such field.
        let passing = try CLI.run([path("lstm_long.pt"), "--verify", path("lstm_long.npz"), "--json"])
        XCTAssertFalse(passing.stdout.contains("float64_distance"))
    }

    func testJSONReport() throws {
        let r = try CLI.run([path("lstm_long.pt"), "--verify", path("lstm_long.npz"), "--json", "--repeat", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["passed"] as? Bool, true)
        XCTAssertEqual(json["compute_dtype"] as? String, "float32")
        let timings = try XCTUnwrap(json["timings"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(timings["forward_s"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(timings["load_s"] as? Double), 0)
        XCTAssertEqual(timings["forward_runs"] as? Int, 3)
        let comparisons = try XCTUnwrap(json["comparisons"] as? [[String: Any]])
        XCTAssertEqual(comparisons.map { $0["name"] as? String }, ["output", "h_n", "c_n"])
        for c in comparisons {
            XCTAssertEqual(c["passed"] as? Bool, true)
            XCTAssertEqual(c["mismatches"] as? Int, 0)
            XCTAssertNotNil(c["max_abs_error"] as? Double)
            XCTAssertNotNil(c["worst_index"] as? [Int])
        }
    }

    func testSeparateInputAndReferenceAndOutputFile() throws {
        // Split lstm_long.npz into X.npy / REF.npy with ptload's own writer via --output, then
        // check that the written outputs verify again as a reference.
        let out = temporaryFile([], name: "out.npz")
        let write = try CLI.run([path("lstm_long.pt"), "--input", path("lstm_long.npz"), "--output", out])
        XCTAssertEqual(write.status, 0, write.stderr)
        XCTAssertTrue(write.stdout.contains("wrote: \(out)"), write.stdout)
        let again = try CLI.run([path("lstm_long.pt"), "--input", path("lstm_long.npz"), "--verify", out, "--rtol", "0",
                                 "--atol", "0"])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
    }

    func testBadInputsExitTwo() throws {
        let model = path("lstm_long.pt")
        // A reference with no input.
        let noInput = temporaryFile([], name: "only_output.npz")
        let w = try CLI.run([model, "--input", path("lstm_long.npz"), "--output", noInput])
        XCTAssertEqual(w.status, 0)
        CLI.assertRefused(try CLI.run([model, "--verify", noInput]), naming: noInput, "holds no 'input'")
        // An input whose feature size does not fit the module.
        CLI.assertRefused(try CLI.run([path("gru_long.pt"), "--verify", path("lstm_long.npz")]),
                          naming: path("lstm_long.npz"))
        // Usage.
        let both = try CLI.run([model, "--verify", path("lstm_long.npz"), "--module", "a", "--pipeline", "a,b"])
        XCTAssertEqual(both.status, 2)
        XCTAssertTrue(both.stderr.contains("--module and --pipeline exclude each other"), both.stderr)
        XCTAssertEqual(try CLI.run([model, "--verify", path("lstm_long.npz"), "--nonlinearity", "sigmoid"]).status, 2)
        XCTAssertEqual(try CLI.run([model, "--input", path("lstm_long.npz")]).status, 2)
        CLI.assertRefused(try CLI.run([model, "--verify", "/nonexistent/ref.npz"]), naming: "/nonexistent/ref.npz")
        CLI.assertRefused(try CLI.run([model, "--verify", path("lstm_long.npz"), "--module", "decoder"]), naming: model,
                          "no module 'decoder'")
    }

    /// The command names options by its flags; the libraries say torch.nn's words
    /// (`nonlinearity applies …`, `choose one by its prefix`, `strict loading`: NNErrorTests,
    /// ModuleRunnerTests), so these lines are ptload's own.
    func testOptionRefusalsNameTheFlags() throws {
        let gru = path("full_gru_bf.pt"), relu = path("full_rnn_relu_l2.pt")
        let net = fixtureURL("checkpoints/full_net.pt").path
        for (arguments, line) in [
            ([gru, "--verify", path("full_gru_bf.npz"), "--nonlinearity", "relu"],
             "\(gru): --nonlinearity applies to RNN modules; the module is a GRU"),
            ([relu, "--verify", path("full_rnn_relu_l2.npz"), "--batch-first"],
             "\(relu): --batch-first contradicts the module's pickled batch_first=False"),
            ([relu, "--verify", path("full_rnn_relu_l2.npz"), "--nonlinearity", "tanh"],
             "\(relu): --nonlinearity tanh contradicts the module's pickled nonlinearity 'relu'"),
            ([net, "--verify", path("lstm_long.npz")],
             "\(net): the checkpoint holds 2 recurrent modules (rnn, heads.aux.0); choose one with --module"),
            ([net, "--strict"],
             "\(net): full_net/data.pkl references __main__.Net, which is not on the weights-only allowlist"
                 + " (--strict); refused"),
        ] {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertEqual(r.stdout, "")
            XCTAssertEqual(r.stderr, "ptload: \(line)\n")
        }
    }
}
