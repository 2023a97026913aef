import Foundation
import PTKernels
import PTTestSupport
import Testing

/// `ptload MODEL --verify REF` as a black box on every golden case PyTorch wrote, one test case
/// per golden case and engine: as the CPU chooses, on the reference path, and on each kernel set
/// (`PTLOAD_ISA`). A set this CPU cannot run is a skipped test naming the set and the missing
/// flags.
@Suite struct GoldenCaseCLITests {
    @Test(arguments: GoldenCase.all)
    func asTheCPUChooses(_ c: GoldenCase) throws {
        try verify(c, environment: [:], kernels: CPUFeatures.best.rawValue)
    }

    /// The reference implementation (`PTLOAD_KERNELS=reference`: plain-loop products, portable
    /// gate loops), the second implementation the kernels are checked against.
    @Test(arguments: GoldenCase.all)
    func onTheReferencePath(_ c: GoldenCase) throws {
        try verify(c, environment: ["PTLOAD_KERNELS": "reference"], kernels: "reference")
    }

    @Test(.enabled(if: CPUFeatures.canRun(.avx512), Comment(rawValue: CPUFeatures.whyNot(.avx512) ?? "")),
          arguments: GoldenCase.all)
    func onTheAVX512Kernels(_ c: GoldenCase) throws { try verify(c, on: .avx512) }

    @Test(.enabled(if: CPUFeatures.canRun(.avx2), Comment(rawValue: CPUFeatures.whyNot(.avx2) ?? "")),
          arguments: GoldenCase.all)
    func onTheAVX2Kernels(_ c: GoldenCase) throws { try verify(c, on: .avx2) }

    @Test(.enabled(if: CPUFeatures.canRun(.neon), Comment(rawValue: CPUFeatures.whyNot(.neon) ?? "")),
          arguments: GoldenCase.all)
    func onTheNEONKernels(_ c: GoldenCase) throws { try verify(c, on: .neon) }

    /// The generic kernels, which every CPU can run.
    @Test(arguments: GoldenCase.all)
    func onThePlainKernels(_ c: GoldenCase) throws { try verify(c, on: .plain) }

    func verify(_ c: GoldenCase, on set: KernelSet) throws {
        try verify(c, environment: ["PTLOAD_ISA": set.rawValue], kernels: set.rawValue)
    }

    /// Checks the case's verdict (exit status, nothing on stderr, the PASS/FAIL line) and that its
    /// recurrent module ran on `kernels` (a Linear reports the set in use, an Embedding `lookup`).
    /// The caps ptload reads are unset unless `environment` sets them, whatever the suite runs with.
    func verify(_ c: GoldenCase, environment: [String: String], kernels: String) throws {
        let environment = ["PTLOAD_ISA": "", "PTLOAD_NO_AVX512": ""].merging(environment) { $1 }
        let r = try CLI.run([c.modelPath, "--verify", c.referencePath] + c.args, environment: environment)
        #expect(r.status == Int32(c.expect_exit), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr == "")
        #expect(r.stdout.contains(r.status == 0 ? "\nPASS (" : "\nFAIL ("), "\(r.stdout)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("kernels: ") }, "\(r.stdout)")
        let used = line.dropFirst("kernels: ".count).split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        for u in used {
            #expect(u == kernels || u == "lookup" || u == CPUFeatures.best.rawValue,
                    "ran on \(u), asked for \(kernels)")
        }
        #expect(used.contains(kernels), "no module ran on \(kernels): \(used)")
    }
}
