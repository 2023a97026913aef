import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import PTCheckpoint
import PTKernels
import PTNN
import PTVerify

/// Every case of a golden manifest against one checkpoint, read once: each case runs its module
/// on its reference's inputs and is judged against its expected outputs, one after another.
public enum GoldenSuite {
    /// What to run: the checkpoint, the manifest, and the options every case shares.
    public struct Request {
        public var modelPath: String
        public var manifestPath: String
        /// Overrides of the compute dtype's default tolerance, for every case.
        public var rtol: Double?
        public var atol: Double?
        public var strict: Bool
        /// How every case loads and runs: engine, kernel set, threads, pool.
        public var compute: Compute
        public var work: LoadWork?

        public init(modelPath: String, manifestPath: String, rtol: Double? = nil, atol: Double? = nil,
                    strict: Bool = false, compute: Compute = .automatic, work: LoadWork? = nil) {
            self.modelPath = modelPath
            self.manifestPath = manifestPath
            self.rtol = rtol
            self.atol = atol
            self.strict = strict
            self.compute = compute
            self.work = work
        }
    }

    /// Runs every case in manifest order.
    /// - Throws: `ModuleRunError.badManifest` for a manifest that cannot be used,
    ///   `.inCase(manifest:name:_)` for a case that cannot run (a missing npz, an unknown
    ///   module, shapes that do not fit), `.checkpoint` for the checkpoint. A mismatch is not an
    ///   error: its case reports `passed` false.
    public static func run(_ request: Request) throws(ModuleRunError) -> GoldenSuiteReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let manifest = try GoldenManifest(path: request.manifestPath)
        let catalog = try ModuleRunner.load(request.modelPath, strict: request.strict, work: request.work)
        let loadSeconds = ModuleRunner.seconds(since: start)
        var cases: [GoldenSuiteReport.Case] = []
        for c in manifest.cases {
            let caseStart = DispatchTime.now().uptimeNanoseconds
            var caseRequest = ModuleRunner.Request(
                modelPath: request.modelPath, referencePath: try manifest.npzPath(of: c),
                module: c.pipeline == nil ? c.module : nil, pipeline: c.pipeline,
                options: ModuleOptions(batchFirst: c.batch_first,
                                       nonlinearity: c.nonlinearity.flatMap(Activation.init(rawValue:))),
                rtol: request.rtol, atol: request.atol, strict: request.strict, compute: request.compute)
            caseRequest.allowance = c.torch_distance
            caseRequest.checkFloat64 = c.truth == "float64"
            let report: ModuleRunReport
            do {
                report = try ModuleRunner.run(caseRequest, on: catalog, since: caseStart)
            } catch {
                throw .inCase(manifest: manifest.path, name: c.name, error)
            }
            cases.append(GoldenSuiteReport.Case(name: c.name, module: c.module, npz: c.npz, truth: c.truth,
                                                seconds: ModuleRunner.seconds(since: caseStart), report: report))
            // After every case: a trim costs under a millisecond on this heap, while a case would
            // otherwise leave 30 to 80 kB behind (every 16th case: 50 kB a case in a debug build).
            releaseFreedMemory()
        }
        return GoldenSuiteReport(model: request.modelPath, manifest: manifest.path,
                                 torch_version: manifest.torchVersion,
                                 model_class: manifest.modelClass, load_s: loadSeconds, cases: cases,
                                 passed: cases.allSatisfy { $0.report.passed })
    }
}

/// Gives the pages of the case just run back to the system. Each case allocates and frees its
/// weights, references and outputs, while its small report stays; glibc's heap then cannot
/// shrink past the reports, and a 10,000-case manifest held 0.4 GB of freed memory.
/// glibc's `malloc_trim` returns the free pages inside the heap too, so the suite stays at one
/// case's size. (Swift's Glibc module leaves out `<malloc.h>`, so it is found by name; other C
/// libraries give freed memory back on their own.)
private func releaseFreedMemory() {
    #if canImport(Glibc)
    _ = mallocTrim?(0)
    #endif
}

#if canImport(Glibc)
private let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
}()
#endif

/// What a golden suite found: one report per case. Encodes to `--json`.
public struct GoldenSuiteReport: Codable {
    public struct Case: Codable {
        public let name: String
        public let module: String
        public let npz: String
        /// The dtype the expected outputs were computed in (`float64` truths), when recorded.
        public let truth: String?
        public let seconds: Double
        public let report: ModuleRunReport

        /// The comparison furthest outside tolerance, or with the largest error when all pass.
        public var worst: Comparison? {
            report.comparisons.first { !$0.passed } ?? report.comparisons.max { $0.maxAbsError < $1.maxAbsError }
        }
    }
    public let model: String
    public let manifest: String
    public let torch_version: String?
    public let model_class: String?
    public let load_s: Double
    public let cases: [Case]
    public let passed: Bool
}
