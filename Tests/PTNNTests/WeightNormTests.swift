import Foundation
import PTCheckpoint
import PTKernels
import PTNN
import PTNumpy
import PTTensor
import PTTestSupport
import PTVerify
import XCTest

/// Recurrent weights torch stores under weight norm (Fixtures/weightnorm,
/// ptload_tools.fixtures.weight_norm): `NAME_g`/`NAME_v` and `parametrizations.NAME.original0/1`,
/// norm over every dimension but dim 0, dim 1, or all of them. Each weight ptload computes equals
/// the one torch's module computes (`getattr(module, NAME)`), and the module's outputs equal
/// torch's; a parametrization ptload does not compute is named, never called a missing module.
final class WeightNormTests: XCTestCase {
    static let folder = fixtureURL("weightnorm")

    struct Case: Decodable {
        let kind: String
        let batch_first: Bool
        let weights: [String]
        let parametrization: String?
    }
    struct Manifest: Decodable { let cases: [String: Case] }

    func fixture(_ name: String) throws -> (Case, Checkpoint, [String: Tensor]) {
        let manifest = try JSONDecoder()
            .decode(Manifest.self, from: Data(contentsOf: Self.folder.appendingPathComponent("manifest.json")))
        let c = try XCTUnwrap(manifest.cases[name])
        let checkpoint = try Checkpoint.load(path: Self.folder.appendingPathComponent(name + ".pt").path)
        let arrays = try Numpy.readNpz(path: Self.folder.appendingPathComponent(name + ".npz").path)
        return (c, checkpoint, Dictionary(uniqueKeysWithValues: arrays.map { ($0.name, $0.tensor) }))
    }

    /// ptload's weights against torch's, and the module's outputs against torch's, in float32.
    func check(_ name: String) throws {
        let (c, checkpoint, torch) = try fixture(name)
        let catalog = ModuleCatalog(checkpoint)
        for weight in c.weights {
            let expected = try XCTUnwrap(torch["weight." + weight])
            var map = WeightMap(catalog.parameters, prefix: "", moduleName: c.kind)
            let computed: [Float] = try map.take(weight, shape: expected.shape)
            // torch computes g / ‖v‖ and the product in float32; ptload in float64, then rounds.
            let comparison = try Comparison(name: weight, actual: ShapedArray(shape: expected.shape, values: computed),
                                            expected: expected, tolerance: Tolerance(rtol: 1e-6, atol: 1e-7))
            XCTAssertTrue(comparison.passed, "\(name) \(weight): max abs error \(comparison.maxAbsError)")
        }
        let module: Recurrent<Float> = try catalog.recurrent(options: ModuleOptions(batchFirst: c.batch_first))
        let input = try ShapedArray<Float>(XCTUnwrap(torch["input"]))
        let h0 = try torch["h0"].map { try ShapedArray<Float>($0) }
        let c0 = try torch["c0"].map { try ShapedArray<Float>($0) }
        let out = try module.forward(input, h0: h0, c0: c0, compute: Compute(threads: ThreadCount(1)))
        var produced: [(String, ShapedArray<Float>)] = [("h_n", out.hN)]
        if let o = out.output { produced.append(("output", o)) }
        if let cN = out.cN { produced.append(("c_n", cN)) }
        for (key, got) in produced {
            let comparison = try Comparison(name: key, actual: got, expected: try XCTUnwrap(torch[key]),
                                            tolerance: Tolerance.defaults(for: .float32))
            XCTAssertTrue(comparison.passed, "\(name) \(key): max abs error \(comparison.maxAbsError)")
        }
    }

    func testOldAPIWithDimZeroAndDimOne() throws { try check("lstm_old_api") }

    func testParametrizationsWithDimZeroAndDimNone() throws { try check("gru_parametrizations") }

    func testACellWithBothAPIs() throws { try check("lstmcell_both_apis") }

    /// g and v are the weight's, not keys the module leaves unused; the listing shows the module.
    func testTheCatalogSeesTheModule() throws {
        let (_, checkpoint, _) = try fixture("lstm_old_api")
        let catalog = ModuleCatalog(checkpoint)
        XCTAssertEqual(catalog.recurrent.map(\.prefix), [""])
        XCTAssertEqual(try catalog.recurrent.first?.configuration(options: ModuleOptions()).numLayers, 2)
    }

    func testAnotherParametrizationIsNamed() throws {
        let (_, checkpoint, _) = try fixture("gru_orthogonal")
        let catalog = ModuleCatalog(checkpoint)
        XCTAssertThrowsError(try catalog.recurrent(as: Float.self)) { error in
            XCTAssertEqual(error as? NNError, .noRecurrentModule(why: .parametrization(
                key: "weight_hh_l0", .otherParametrization(key: "parametrizations.weight_hh_l0.original"))))
            XCTAssertEqual("\(error)",
                           "the checkpoint holds no RNN, LSTM or GRU weights: weight_hh_l0:"
                               + " 'parametrizations.weight_hh_l0.original' is a parametrization ptload does not"
                               + " compute (it computes weight norm: original0 and original1)")
        }
    }
}
