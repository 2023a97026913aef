import Foundation
import PTKernels
import PTNumpy
import PTRunner
import PTTensor
import PTTestSupport
import XCTest

/// A cell streamed over a sequence (`Request.chunkSteps`): T calls of one step, the state carried,
/// judged against PyTorch calling the cell T times (Fixtures/cellseq), on every kernel set the CPU
/// runs and the reference engine, batched and unbatched, with and without an initial state.
final class CellSequenceStreamTests: XCTestCase {
    static let names = ["lstmcell_seq", "grucell_seq", "rnncell_seq_unbatched", "lstmcell_seq_unbatched"]

    static let computes: [Compute] = KernelSet.allCases.filter(CPUFeatures.canRun)
        .map { Compute(kernelSet: $0, threads: ThreadCount(1)) }
        + [Compute(engine: .reference, threads: ThreadCount(1))]

    func request(_ name: String, chunk: Int = 1, compute: Compute = Compute(threads: ThreadCount(1)))
        -> ModuleRunner.Request {
        let folder = fixtureURL("cellseq")
        var r = ModuleRunner.Request(modelPath: folder.appendingPathComponent(name + ".pt").path,
                                     referencePath: folder.appendingPathComponent(name + ".npz").path,
                                     compute: compute)
        r.chunkSteps = chunk
        return r
    }

    func testEveryStepsHAndTheLastStateMatchPyTorchStepping() throws {
        let shapes: [String: [String: [Int]]] = [
            "lstmcell_seq": ["output": [6, 3, 4], "h_n": [3, 4], "c_n": [3, 4]],
            "grucell_seq": ["output": [6, 2, 4], "h_n": [2, 4]],
            "rnncell_seq_unbatched": ["output": [6, 4], "h_n": [4]],
            "lstmcell_seq_unbatched": ["output": [6, 4], "h_n": [4], "c_n": [4]],
        ]
        for name in Self.names {
            for compute in Self.computes {
                let report = try ModuleRunner.run(request(name, compute: compute))
                let label = "\(name) \(compute.engine) \(compute.kernelSet)"
                XCTAssertTrue(report.passed, label)
                XCTAssertEqual(report.outputs, shapes[name], label)
                let expected = ["output", "h_n", "c_n"].filter { shapes[name]?[$0] != nil }
                XCTAssertEqual(report.comparisons.map(\.name), expected, label)
                XCTAssertEqual(report.stream?.chunk, 1, label)
                XCTAssertEqual(report.stream?.chunks, 6, label)
            }
        }
    }

    /// Any chunk is one step per call for a cell; the float64 check streams too.
    func testAnyChunkIsOneStepPerCallAndFloat64Streams() throws {
        for chunk in [3, 6, 50] {
            var r = request("lstmcell_seq", chunk: chunk)
            r.checkFloat64 = chunk == 3
            let report = try ModuleRunner.run(r)
            XCTAssertTrue(report.passed, "chunk \(chunk)")
            XCTAssertEqual(report.stream?.chunk, 1)
            XCTAssertEqual(report.stream?.chunks, 6)
            if chunk == 3 {
                let float64 = try XCTUnwrap(report.float64)
                XCTAssertEqual(float64.comparisons.map(\.name), ["output", "h_n", "c_n"])
            }
        }
    }

    /// One element of the last step's h' moved by 1e-3 is one mismatch of `output`, and the
    /// failing float32 run's distance to float64 comes from a streamed float64 run.
    func testOneMovedElementOfTheLastStepFails() throws {
        let r = request("lstmcell_seq")
        var changed = r
        changed.referencePath = try ModuleRunnerTests.movingOneOutput(of: try XCTUnwrap(r.referencePath)) { $0 - 1 }
        let report = try ModuleRunner.run(changed)
        XCTAssertFalse(report.passed)
        let output = try XCTUnwrap(report.comparisons.first { $0.name == "output" })
        XCTAssertEqual(output.mismatches, 1)
        XCTAssertEqual(output.worstIndex, [5, 2, 3])
        XCTAssertEqual(try XCTUnwrap(report.float64_distance?["output"]), 0, accuracy: 1e-6)
    }

    /// A sequence of no steps is refused as `forward` refuses it, for a cell and a layer alike
    /// (no call is made, so there would be nothing to join).
    func testNoStepsIsRefused() throws {
        for (model, shape) in [(fixtureURL("cellseq/lstmcell_seq.pt").path, [0, 3, 5]),
                               (fixtureURL("rnn/lstm_long.pt").path, [0, 2, 5])] {
            let empty = try Tensor(dtype: .float32, shape: shape, bytes: [])
            let path = temporaryFile([], name: "empty.npz")
            try Numpy.writeNpz([("input", empty)], to: path)
            var r = ModuleRunner.Request(modelPath: model, inputPath: path,
                                         outputPath: temporaryFile([], name: "o.npz"))
            r.chunkSteps = 2
            XCTAssertThrowsError(try ModuleRunner.run(r)) {
                XCTAssertEqual("\($0)", "\(path): input has shape \(shape); PyTorch needs at least one step and one"
                               + " sequence")
            }
        }
    }
}
