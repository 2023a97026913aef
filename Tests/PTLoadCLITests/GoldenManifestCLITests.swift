import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PTCheckpoint
import PTTestSupport
import PTZip
import Testing

/// `ptload DIR/model.pt --verify DIR/golden.json --junit r.xml` on every folder the exporter
/// (ptload-golden, python/) wrote from a real model (ptload_tools.fixtures.golden): every case
/// passes; with one weight changed by 1e-3, exactly the cases of that weight's module fail; bad
/// manifests exit 2 naming the case.
@Suite struct GoldenManifestCLITests {
    static let models = ["seed_classifier", "seq2seq", "crnn", "projected", "deep_long", "half_tagger", "bfloat16_gru",
                         "weight_norm"]

    struct Manifest: Decodable {
        struct Case: Decodable {
            let name: String
            let module: String
            let npz: String
        }
        let cases: [Case]
    }

    static func folder(_ model: String) -> URL { fixtureURL("golden/" + model) }

    static func manifest(_ model: String) throws -> Manifest {
        try JSONDecoder().decode(Manifest.self,
                                 from: Data(contentsOf: folder(model).appendingPathComponent("golden.json")))
    }

    /// The JUnit file's one testsuite: its counts, and each testcase's name, classname and
    /// failure message (nil when it passed).
    static func junit(
        _ path: String
    ) throws -> (tests: Int, failures: Int, cases: [(name: String, className: String, failure: String?)]) {
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: path))
        let suite = try #require(document.rootElement())
        #expect(suite.name == "testsuite")
        let tests = Int(suite.attribute(forName: "tests")?.stringValue ?? "") ?? -1
        let failures = Int(suite.attribute(forName: "failures")?.stringValue ?? "") ?? -1
        let cases = suite.elements(forName: "testcase").map { c in
            (name: c.attribute(forName: "name")?.stringValue ?? "",
             className: c.attribute(forName: "classname")?.stringValue ?? "",
             failure: c.elements(forName: "failure").first.map { $0.attribute(forName: "message")?.stringValue ?? "" })
        }
        return (tests, failures, cases)
    }

    @Test(arguments: models)
    func everyCasePasses(_ model: String) throws {
        let dir = Self.folder(model)
        let manifest = try Self.manifest(model)
        let report = temporaryFile([], name: "r.xml")
        let r = try CLI.run([dir.appendingPathComponent("model.pt").path, "--verify",
                             dir.appendingPathComponent("golden.json").path,
                             "--junit", report])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr == "")
        #expect(r.stdout.contains("\nPASS (\(manifest.cases.count) of \(manifest.cases.count) cases)\n"), "\(r.stdout)")
        let junit = try Self.junit(report)
        #expect(junit.tests == manifest.cases.count)
        #expect(junit.failures == 0)
        #expect(junit.cases.map(\.name) == manifest.cases.map(\.name))
        for (c, m) in zip(junit.cases, manifest.cases) {
            #expect(c.name.contains(m.module.isEmpty ? "root" : m.module),
                    "case \(c.name) does not name module \(m.module)")
            #expect(c.className == "ptload." + (m.module.isEmpty ? "(root)" : m.module))
            #expect(c.failure == nil)
        }
    }

    /// A copy of model.pt with the first element of the first case's module's input bias moved by
    /// 1e-3 (a bias acts on every step, where one input weight may meet zeros): the cases of that
    /// module fail (exit 1, a failure naming the worst element and
    /// both values), and every other case still passes.
    /// The float32 models: a bias is changed in place as float32 bytes (the half and bfloat16
    /// models' perturbations are in the exporter's own suite, python/tests).
    static let float32Models = ["seed_classifier", "seq2seq", "crnn", "projected", "deep_long", "weight_norm"]

    @Test(arguments: float32Models)
    func oneChangedWeightFailsExactlyItsCases(_ model: String) throws {
        let dir = Self.folder(model)
        let manifest = try Self.manifest(model)
        let module = try #require(manifest.cases.first).module
        let perturbed = try Self.perturbed(dir.appendingPathComponent("model.pt").path, module: module)
        let report = temporaryFile([], name: "r.xml")
        let r = try CLI.run([perturbed, "--verify", dir.appendingPathComponent("golden.json").path, "--junit", report,
                             "--json"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let junit = try Self.junit(report)
        let expected = manifest.cases.filter { $0.module == module }.map(\.name)
        #expect(junit.cases.filter { $0.failure != nil }.map(\.name) == expected)
        #expect(junit.failures == expected.count)
        for c in junit.cases where c.failure != nil {
            let message = c.failure ?? ""
            #expect(message.contains("]: ptload ") && message.contains(", PyTorch "), "\(message)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["passed"] as? Bool == false)
        #expect((json?["cases"] as? [[String: Any]])?.count == manifest.cases.count)
    }

    /// model.pt rewritten with `module`'s `bias_ih_l0` (or a cell's `bias_ih`) first element + 1e-3.
    static func perturbed(_ path: String, module: String) throws -> String {
        let checkpoint = try Checkpoint.load(path: path)
        let dot = module.isEmpty ? "" : module + "."
        let key = checkpoint.tensor(dot + "bias_ih_l0") != nil ? dot + "bias_ih_l0" : dot + "bias_ih"
        let tensor = try #require(checkpoint.tensor(key), "no \(key)")
        #expect(tensor.dtype == .float32)
        let archive = try ZipArchive(path: path)
        var entries: [ZipFixture.Entry] = []
        var changed = false
        for entry in archive.entries {
            var bytes = try archive.bytes(of: entry).withUnsafeBytes { Array($0) }
            if entry.name.hasSuffix("/" + tensor.storage.origin) {
                let at = tensor.storageOffset * 4
                let value = bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: Float.self) } + 1e-3
                withUnsafeBytes(of: value) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
                changed = true
            }
            entries.append(.stored(entry.name, bytes))
        }
        #expect(changed, "no record holds \(key)'s storage \(tensor.storage.origin)")
        return temporaryFile(zipArchive(entries), name: "perturbed.pt")
    }

    /// A copy of `model`'s folder whose golden.json has `edit` applied to its first case.
    static func editedManifest(_ model: String,
                               _ edit: (inout [String: Any]) -> Void) throws -> (model: String, manifest: String) {
        let dir = folder(model)
        let copy = URL(fileURLWithPath: temporaryFile([], name: "x")).deletingLastPathComponent()
            .appendingPathComponent(model)
        try FileManager.default.copyItem(at: dir, to: copy)
        let url = copy.appendingPathComponent("golden.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var cases = try #require(json["cases"] as? [[String: Any]])
        edit(&cases[0])
        json["cases"] = cases
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return (copy.appendingPathComponent("model.pt").path, url.path)
    }

    @Test(arguments: [
        ("npz", "missing.npz", "case 'rnn': "),
        ("npz", "/etc/passwd.npz", "npz '/etc/passwd.npz' is absolute"),
        ("npz", "../seq2seq/encoder.npz", "npz '../seq2seq/encoder.npz' leaves the manifest's folder"),
        ("module", "nowhere", "case 'rnn': "),
        ("nonlinearity", "gelu", "case 'rnn': nonlinearity is 'gelu'; expected tanh or relu"),
    ])
    func badManifestsExitTwoNamingTheCase(_ field: String, _ value: String, _ fragment: String) throws {
        let (model, manifest) = try Self.editedManifest("seed_classifier") { $0[field] = value }
        let r = try CLI.run([model, "--verify", manifest])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout == "")
        #expect(r.stderr.hasPrefix("ptload: \(manifest): "), "\(r.stderr)")
        #expect(r.stderr.contains(fragment), "\(r.stderr)")
        #expect(r.stderr.filter { $0 == "\n" }.count == 1)
    }

    /// A case whose input does not fit its module (the encoder's reference fed to the decoder).
    @Test func aCaseWhoseShapesDoNotFitExitsTwo() throws {
        let (model, manifest) = try Self.editedManifest("seq2seq") { c in
            c["module"] = "decoder"
        }
        let r = try CLI.run([model, "--verify", manifest])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains(": case 'encoder': "), "\(r.stderr)")
    }

    @Test func manifestsTakeNoPerCaseFlags() throws {
        let dir = Self.folder("crnn")
        let r = try CLI.run([dir.appendingPathComponent("model.pt").path, "--verify",
                             dir.appendingPathComponent("golden.json").path,
                             "--module", "lstm"])
        #expect(r.status == 2)
        #expect(r.stderr == "ptload: --module: a golden manifest names each case's input, module and options\n")
    }
}
