import Foundation
import PTNumpy
import PTTensor
import PTTestSupport
@testable import PTVerify
import XCTest

/// Every golden case PyTorch wrote (Fixtures/rnn/cases.json) through the library API, plus the
/// tolerance policy and mismatch detection.
final class VerifyTests: XCTestCase {
    static let folder = fixtureURL("rnn")

    static func cases() throws -> [[String: Any]] {
        let data = try Data(contentsOf: folder.appendingPathComponent("cases.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    /// Builds the request the case's CLI arguments describe.
    static func request(_ c: [String: Any]) throws -> VerifyRequest {
        var r = VerifyRequest(modelPath: folder.appendingPathComponent(try XCTUnwrap(c["model"] as? String)).path,
                              referencePath: folder.appendingPathComponent(try XCTUnwrap(c["reference"] as? String)).path)
        var args = (c["args"] as? [String]) ?? []
        while !args.isEmpty {
            let flag = args.removeFirst()
            switch flag {
            case "--batch-first": r.options.batchFirst = true
            case "--nonlinearity": r.options.nonlinearity = .init(rawValue: args.removeFirst())
            case "--module": r.module = args.removeFirst()
            case "--pipeline": r.pipeline = args.removeFirst().split(separator: ",").map(String.init)
            default: XCTFail("unknown flag \(flag) in case \(c["name"] ?? "")")
            }
        }
        return r
    }

    func testEveryGoldenCase() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        var passed = 0, failed = 0
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let expectExit = try XCTUnwrap(c["expect_exit"] as? Int)
            do {
                let report = try Verifier.run(try Self.request(c))
                XCTAssertEqual(report.passed ? 0 : 1, expectExit, "\(name): \(report.comparisons.filter { !$0.passed }.map { "\($0.name) \($0.mismatches)/\($0.count) max abs \($0.maxAbsError)" })")
                XCTAssertFalse(report.comparisons.isEmpty, name)
                if report.passed { passed += 1 } else { failed += 1 }
                if let dtype = c["compute_dtype"] as? String {
                    XCTAssertEqual(report.compute_dtype, dtype, name)
                }
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
        XCTAssertGreaterThan(passed, 0)
        XCTAssertGreaterThan(failed, 0)
    }

    func testOneElementMovedByOneThousandthFails() throws {
        let c = try XCTUnwrap(Self.cases().first { ($0["kind"] as? String) == "LSTM" && ($0["expect_exit"] as? Int) == 0 && ($0["args"] as? [String])?.isEmpty == true })
        let request = try Self.request(c)
        var arrays = try Numpy.readNpz(path: try XCTUnwrap(request.referencePath))
        let index = try XCTUnwrap(arrays.firstIndex { $0.name == "output" })
        var values = try arrays[index].tensor.floats()
        values[values.count / 2] += 1e-3
        arrays[index].tensor = try Tensor(dtype: .float32, shape: arrays[index].tensor.shape, bytes: values.withUnsafeBytes { Array($0) })
        let moved = temporaryFile([], name: "moved.npz")
        try Numpy.writeNpz(arrays, to: moved)
        var r = request
        r.referencePath = moved
        let report = try Verifier.run(r)
        XCTAssertFalse(report.passed)
        let output = try XCTUnwrap(report.comparisons.first { $0.name == "output" })
        XCTAssertEqual(output.mismatches, 1)
        XCTAssertEqual(output.maxAbsError, 1e-3, accuracy: 1e-5)
        XCTAssertTrue(report.comparisons.filter { $0.name != "output" }.allSatisfy(\.passed))
    }

    /// Integer inputs at the edges of int64/uint64 are errors, never traps.
    func testExtremeLengthsAndTokenIdsAreRefused() throws {
        let c = try XCTUnwrap(Self.cases().first { ($0["name"] as? String) == "lstm_long_bi_len" })
        let request = try Self.request(c)
        var arrays = try Numpy.readNpz(path: try XCTUnwrap(request.referencePath))
        let index = try XCTUnwrap(arrays.firstIndex { $0.name == "lengths" })
        for bytes in [withUnsafeBytes(of: Int64.max) { Array($0) }, withUnsafeBytes(of: Int64.min) { Array($0) }] {
            arrays[index].tensor = try Tensor(dtype: .int64, shape: [3], bytes: bytes + bytes + bytes)
            let path = temporaryFile([], name: "extreme.npz")
            try Numpy.writeNpz(arrays, to: path)
            var r = request
            r.referencePath = path
            XCTAssertThrowsError(try Verifier.run(r)) { XCTAssertTrue("\($0)".contains("lengths[0] is"), "\($0)") }
        }
        let huge = withUnsafeBytes(of: UInt64.max) { Array($0) }
        arrays[index].tensor = try Tensor(dtype: .uint64, shape: [3], bytes: huge + huge + huge)
        let path = temporaryFile([], name: "huge.npz")
        try Numpy.writeNpz(arrays, to: path)
        var r = request
        r.referencePath = path
        XCTAssertThrowsError(try Verifier.run(r)) { XCTAssertTrue("\($0)".contains("out of range"), "\($0)") }
    }

    func testToleranceDefaultsAreAssertClose() {
        XCTAssertEqual(Tolerance.defaults(for: .float32), Tolerance(rtol: 1.3e-6, atol: 1e-5))
        XCTAssertEqual(Tolerance.defaults(for: .float64), Tolerance(rtol: 1e-7, atol: 1e-7))
        XCTAssertEqual(Tolerance.defaults(for: .float16), Tolerance(rtol: 1e-3, atol: 1e-5))
        XCTAssertEqual(Tolerance.defaults(for: .bfloat16), Tolerance(rtol: 1.6e-2, atol: 1e-5))
    }

    func testToleranceEdgeCases() {
        let t = Tolerance(rtol: 1e-3, atol: 0)
        XCTAssertTrue(t.accepts(.nan, .nan))
        XCTAssertFalse(t.accepts(.nan, 1))
        XCTAssertFalse(t.accepts(1, .nan))
        XCTAssertTrue(t.accepts(.infinity, .infinity))
        XCTAssertFalse(t.accepts(.infinity, -.infinity))
        XCTAssertFalse(t.accepts(1e300, .infinity))
        XCTAssertTrue(t.accepts(1000.9, 1000))
        XCTAssertFalse(t.accepts(1001.1, 1000))
        XCTAssertFalse(Tolerance(rtol: 0, atol: 0).accepts(0, 1e-300))
    }

    func testShapeMismatchIsAMismatch() throws {
        let a = ShapedArray<Float>(zeros: [2, 3])
        let e = try Tensor(dtype: .float32, shape: [3, 2], bytes: [UInt8](repeating: 0, count: 24))
        let c = try Comparison(name: "output", actual: a, expected: e, tolerance: .defaults(for: .float32))
        XCTAssertFalse(c.passed)
        XCTAssertNil(c.worstIndex)
    }

    func testWorstIndexIsMultiDimensional() throws {
        var values = [Float](repeating: 1, count: 24)
        values[17] = 2
        let a = ShapedArray(shape: [2, 3, 4], values: values)
        let e = try Tensor(dtype: .float32, shape: [2, 3, 4], bytes: [Float](repeating: 1, count: 24).withUnsafeBytes { Array($0) })
        let c = try Comparison(name: "output", actual: a, expected: e, tolerance: .defaults(for: .float32))
        XCTAssertEqual(c.worstIndex, [1, 1, 1])
        XCTAssertEqual(c.mismatches, 1)
        XCTAssertEqual(c.maxAbsError, 1)
        XCTAssertEqual(c.maxRelError, 1)
    }
}
