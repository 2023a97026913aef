import Foundation
import PTTestSupport
import Testing

/// `ptload MODEL --export OUT --json`: one JSON object, its schema (README, "--export --json")
/// checked key by key, its counts numbers equal to what was written (torch-written fixtures
/// and their expected tensors, tools/make_fixtures.py).
@Suite struct ExportJSONCLITests {
    struct Expected: Decodable {
        struct Entry: Decodable { let key: String; let dtype: String; let bytes_hex: String }
        let tensors: [Entry]
    }

    static func expected(_ name: String) throws -> [Expected.Entry] {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtureURL("checkpoints/\(name).expected.json")))
            .tensors
    }

    static func object(_ stdout: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func everyTensorCountsAsNumbers() throws {
        let model = fixtureURL("checkpoints/full_net.pt").path
        let out = temporaryFile([], name: "full_net.npz")
        let r = try CLI.run([model, "--export", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try Self.object(r.stdout)
        #expect(Set(json.keys) == ["model", "output", "format", "tensors", "bytes", "materialized", "cast"])
        let tensors = try Self.expected("full_net")
        #expect(json["model"] as? String == model)
        #expect(json["output"] as? String == out)
        #expect(json["format"] as? String == "npz")
        #expect(json["tensors"] as? Int == tensors.count)
        #expect(json["bytes"] as? Int == tensors.reduce(0) { $0 + $1.bytes_hex.count / 2 })
        #expect(json["cast"] as? Int == 0)
        #expect(r.stdout.contains("\"tensors\" : \(tensors.count)"), "counts are JSON numbers, not strings")
    }

    @Test func moduleAndCastAreReported() throws {
        let model = fixtureURL("checkpoints/full_net.pt").path
        let out = temporaryFile([], name: "rnn.safetensors")
        let r = try CLI.run([model, "--export", out, "--module", "rnn", "--cast", "float16", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try Self.object(r.stdout)
        let rnn = try Self.expected("full_net").filter { $0.key.hasPrefix("rnn.") }
        #expect(json["format"] as? String == "safetensors")
        #expect(json["module"] as? String == "rnn")
        #expect(json["cast_to"] as? String == "float16")
        #expect(json["tensors"] as? Int == rnn.count)
        #expect(json["cast"] as? Int == rnn.count)
        #expect(json["bytes"] as? Int == rnn.reduce(0) { $0 + $1.bytes_hex.count / 4 })
    }

    /// Views and storages shared by several tensors are each written whole: the count is what
    /// torch's own layout of the file gives (layouts.expected.json: a tensor that is not the
    /// whole contiguous storage it views, or shares that storage), in the JSON and in the text.
    @Test func materializedCountsTorchsViewsAndSharedStorages() throws {
        let model = fixtureURL("checkpoints/layouts.pt").path
        let tensors = try JSONDecoder().decode(Layouts.self, from: Data(contentsOf: fixtureURL(
            "checkpoints/layouts.expected.json"))).tensors
        let users = Dictionary(tensors.map { ($0.storage_key, 1) }, uniquingKeysWith: +)
        let expected = tensors.filter { !$0.isWholeStorage || users[$0.storage_key, default: 0] > 1 }.count
        let text = try CLI.run([model, "--export", temporaryFile([], name: "a.safetensors")])
        let json = try CLI.run([model, "--export", temporaryFile([], name: "b.safetensors"), "--json"])
        #expect(text.status == 0 && json.status == 0, "\(text.stderr)\(json.stderr)")
        #expect(try Self.object(json.stdout)["materialized"] as? Int == expected)
        #expect(text.stdout.contains("views and shared storages written as separate contiguous tensors:"
                                         + " \(expected)\n"))
    }

    /// torch's description of each tensor of layouts.pt (tools' checkpoints generator).
    struct Layouts: Decodable {
        struct Entry: Decodable {
            let shape: [Int]
            let stride: [Int]
            let storage_offset: Int
            let storage_key: String
            let storage_numel: Int
            let dtype: String
            let storage_dtype: String

            /// Contiguous, from the storage's start, over all of it.
            var isWholeStorage: Bool {
                var step = 1
                for (size, stride) in zip(shape, stride).reversed() where size != 1 {
                    if stride != step { return false }
                    step *= size
                }
                return storage_offset == 0 && dtype == storage_dtype && shape.reduce(1, *) == storage_numel
            }
        }
        let tensors: [Entry]
    }

    /// A refusal is the usual one line on stderr and exit 2, with nothing on stdout.
    @Test func refusalPrintsNoJSON() throws {
        let out = temporaryFile([], name: "x.safetensors")
        let r = try CLI.run([fixtureURL("checkpoints/full_net.pt").path, "--export", out, "--module", "nowhere",
                             "--json"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("ptload: ") && r.stderr.contains("no tensor under 'nowhere.'"))
    }
}
