import PTTensor
@testable import PTVerify
import XCTest

/// The tolerance policy and the comparison, on arrays made here.
final class VerifyTests: XCTestCase {
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
        let e = try Tensor(dtype: .float32, shape: [2, 3, 4],
                           bytes: [Float](repeating: 1, count: 24).withUnsafeBytes { Array($0) })
        let c = try Comparison(name: "output", actual: a, expected: e, tolerance: .defaults(for: .float32))
        XCTAssertEqual(c.worstIndex, [1, 1, 1])
        XCTAssertEqual(c.mismatches, 1)
        XCTAssertEqual(c.maxAbsError, 1)
        XCTAssertEqual(c.maxRelError, 1)
    }
}
