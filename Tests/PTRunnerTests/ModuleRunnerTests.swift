import Foundation
import PTCheckpoint
import PTNN
import PTNumpy
import PTRunner
import PTTensor
import PTTestSupport
import XCTest

/// The service on references changed here: mismatch detection down to one element, and integer
/// inputs at the edges of their types.
final class ModuleRunnerTests: XCTestCase {
    /// A copy of the reference `.npz` at `path` whose float32 `output` has one element, at the
    /// flat index `at(count)`, moved by 1e-3; returns the copy's path.
    static func movingOneOutput(of path: String, at: (Int) -> Int) throws -> String {
        var arrays = try Numpy.readNpz(path: path)
        let index = try XCTUnwrap(arrays.firstIndex { $0.name == "output" })
        var values = try arrays[index].tensor.floats()
        values[at(values.count)] += 1e-3
        arrays[index].tensor = try Tensor(dtype: .float32, shape: arrays[index].tensor.shape,
                                          bytes: values.withUnsafeBytes { Array($0) })
        let moved = temporaryFile([], name: "moved.npz")
        try Numpy.writeNpz(arrays, to: moved)
        return moved
    }

    func testOneElementMovedByOneThousandthFails() throws {
        let c = try XCTUnwrap(GoldenCase.all.first { $0.kind == "LSTM" && $0.expect_exit == 0 && $0.args.isEmpty })
        let request = try GoldenCaseTests.request(c)
        var r = request
        r.referencePath = try ModuleRunnerTests.movingOneOutput(of: try XCTUnwrap(request.referencePath)) {
            $0 / 2
        }
        let report = try ModuleRunner.run(r)
        XCTAssertFalse(report.passed)
        let output = try XCTUnwrap(report.comparisons.first { $0.name == "output" })
        XCTAssertEqual(output.mismatches, 1)
        XCTAssertEqual(output.maxAbsError, 1e-3, accuracy: 1e-5)
        XCTAssertTrue(report.comparisons.filter { $0.name != "output" }.allSatisfy(\.passed))
    }

    /// Integer inputs at the edges of int64/uint64 are errors, never traps.
    func testExtremeLengthsAndTokenIdsAreRefused() throws {
        let c = try XCTUnwrap(GoldenCase.named("lstm_long_bi_len"))
        let request = try GoldenCaseTests.request(c)
        var arrays = try Numpy.readNpz(path: try XCTUnwrap(request.referencePath))
        let index = try XCTUnwrap(arrays.firstIndex { $0.name == "lengths" })
        for bytes in [withUnsafeBytes(of: Int64.max) { Array($0) }, withUnsafeBytes(of: Int64.min) { Array($0) }] {
            arrays[index].tensor = try Tensor(dtype: .int64, shape: [3], bytes: bytes + bytes + bytes)
            let path = temporaryFile([], name: "extreme.npz")
            try Numpy.writeNpz(arrays, to: path)
            var r = request
            r.referencePath = path
            XCTAssertThrowsError(try ModuleRunner.run(r)) { XCTAssertTrue("\($0)".contains("lengths[0] is"), "\($0)") }
        }
        let huge = withUnsafeBytes(of: UInt64.max) { Array($0) }
        arrays[index].tensor = try Tensor(dtype: .uint64, shape: [3], bytes: huge + huge + huge)
        let path = temporaryFile([], name: "huge.npz")
        try Numpy.writeNpz(arrays, to: path)
        var r = request
        r.referencePath = path
        XCTAssertThrowsError(try ModuleRunner.run(r)) { XCTAssertTrue("\($0)".contains("out of range"), "\($0)") }
    }

    /// A weight whose record fails its CRC-32 when the run first reads it takes the one route a
    /// checkpoint's errors take, `.checkpoint`, never `.module(_, .checkpoint)`.
    func testAFailedRecordTakesTheCheckpointRoute() throws {
        let model = fixtureURL("hostile/zip_crc_storage.pt").path
        let request = ModuleRunner.Request(modelPath: model, referencePath: fixtureURL("hostile/base_out.npy").path,
                                           inputPath: fixtureURL("hostile/base_x.npy").path)
        do {
            _ = try ModuleRunner.run(request)
            XCTFail("ran")
        } catch {
            guard case .checkpoint(let e) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(e, CheckpointError(path: model, .zip(.crcMismatch(entry: "archive/data/1",
                                                                             declared: 0xfa81e398,
                                                                             actual: 0xff61d18d))))
            XCTAssertEqual(error.description,
                           "\(model): entry 'archive/data/1' has CRC-32 0xff61d18d; its header declares 0xfa81e398")
        }
    }

    /// An option the module has no use for: the module's error about the model, typed, in the
    /// library's words (the command's flags are ptload's: VerifyCLITests).
    func testAnOptionErrorIsTheModulesInTheLibrarysWords() throws {
        let model = fixtureURL("rnn/full_gru_bf.pt").path
        let request = ModuleRunner.Request(modelPath: model, referencePath: fixtureURL("rnn/full_gru_bf.npz").path,
                                           options: ModuleOptions(nonlinearity: .relu))
        do {
            _ = try ModuleRunner.run(request)
            XCTFail("ran")
        } catch {
            guard case let .module(file, e) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, model)
            XCTAssertEqual(e, .optionNotApplicable(.nonlinearity(.relu), module: "the module", kind: .gru))
            XCTAssertEqual(error.description, "\(model): nonlinearity applies to RNN modules; the module is a GRU")
        }
    }
}
