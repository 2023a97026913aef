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

    /// Views and storages shared by several tensors are each written whole: the count the text
    /// report gives is the JSON's.
    @Test func materializedMatchesTheTextReport() throws {
        let model = fixtureURL("checkpoints/layouts.pt").path
        let text = try CLI.run([model, "--export", temporaryFile([], name: "a.safetensors")])
        let json = try CLI.run([model, "--export", temporaryFile([], name: "b.safetensors"), "--json"])
        #expect(text.status == 0 && json.status == 0, "\(text.stderr)\(json.stderr)")
        let materialized = try #require(try Self.object(json.stdout)["materialized"] as? Int)
        #expect(materialized > 0)
        #expect(text.stdout.contains("views and shared storages written as separate contiguous tensors:"
                                         + " \(materialized)\n"))
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
