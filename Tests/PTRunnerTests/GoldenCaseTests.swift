import Foundation
import PTKernels
import PTNN
import PTRunner
import PTTestSupport
import Testing

/// Every golden case PyTorch wrote (Fixtures/rnn/cases.json), one test each, through the
/// library's service: the verdict PyTorch's numbers give (PASS, or the planted FAIL), in the
/// compute dtype the case names.
@Suite struct GoldenCaseTests {
    @Test(arguments: GoldenCase.all)
    func goldenCase(_ c: GoldenCase) throws {
        let report = try ModuleRunner.run(try GoldenCaseTests.request(c))
        let failing = report.comparisons.filter { !$0.passed }
            .map { "\($0.name) \($0.mismatches)/\($0.count) max abs \($0.maxAbsError)" }
        #expect(report.passed == (c.expect_exit == 0), "\(failing)")
        #expect(!report.comparisons.isEmpty)
        #expect(report.compute_dtype == c.compute_dtype)
    }

    /// The request the case's options describe.
    static func request(_ c: GoldenCase) throws -> ModuleRunner.Request {
        var r = ModuleRunner.Request(modelPath: c.modelPath, referencePath: c.referencePath)
        r.options.batchFirst = c.options.batch_first ? true : nil
        if let name = c.options.nonlinearity {
            r.options.nonlinearity = try #require(Activation(rawValue: name), "case \(c.name): nonlinearity '\(name)'")
        }
        r.module = c.options.module
        r.pipeline = c.options.pipeline
        return r
    }
}

/// The cases file and the fixture folder agree: every case's files exist, every checkpoint and
/// reference in the folder belongs to a case, names are unique, and the manifest lists the same
/// cases in the same order. Both sets of cases must be there: some pass, some are planted failures.
@Suite struct GoldenCaseFileTests {
    @Test func casesFileMatchesTheFolder() throws {
        let cases = try GoldenCase.load()
        #expect(cases.count >= 50)
        #expect(cases.map(\.name) == GoldenCase.all.map(\.name))
        #expect(Set(cases.map(\.name)).count == cases.count, "duplicate case names")
        let used = Set(cases.flatMap { [$0.model, $0.reference] })
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: GoldenCase.folder.path)
            .filter { $0.hasSuffix(".pt") || $0.hasSuffix(".pth") || $0.hasSuffix(".npz") })
        #expect(used.subtracting(files).isEmpty, "cases name missing files: \(used.subtracting(files).sorted())")
        #expect(files.subtracting(used).isEmpty, "files no case uses: \(files.subtracting(used).sorted())")
        let manifest = try JSONSerialization
            .jsonObject(with: Data(contentsOf: GoldenCase.folder.appendingPathComponent("manifest.json")))
        #expect((manifest as? [String: Any])?["cases"] as? [String] == cases.map(\.name))
        #expect(cases.contains { $0.expect_exit == 0 } && cases.contains { $0.expect_exit == 1 })
    }
}
