import Foundation
import PTCheckpoint
import PTNumpy
import PTTestSupport
import PTZip
import Testing

/// `ptload FOLDER` and `ptload FOLDER/*.index.json` on Hugging Face sharded folders, as a black
/// box: the listing (text and --json) shows the format and every shard, --strict reads the .bin
/// folders, --verify runs an Encodec LSTM whose weights span two shards (alone and from a golden
/// manifest), --export writes one file that reads back as torch's tensors, and each hostile index
/// of Fixtures/sharded/hostile_hf is exit 2 with its exact line (ptload_tools.fixtures.sharded_hf).
@Suite struct HuggingFaceFolderCLITests {
    static let folders = HuggingFaceFolderFixture.folders

    static func expected(_ folder: String) throws -> HuggingFaceFolderFixture { try .load(folder) }

    static func crc(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { crc32($0) } }

    @Test(arguments: folders)
    func textListingNamesTheFormatAndEveryShard(_ name: String) throws {
        let want = try Self.expected(name)
        let folder = fixtureURL("sharded/hf/\(name)").path
        for model in [folder, folder + "/" + want.index] {
            let r = try CLI.run([model])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr == "")
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let head = ["file: \(model)", "format: huggingface", "shards: \(want.shards.count)"]
                + want.shards.enumerated().map { "  \($0.offset + 1): \(folder)/\($0.element)" }
            #expect(Array(lines.prefix(head.count)) == head)
            #expect(lines.contains("record shard count: \(want.shards.count)"))
            #expect(lines.contains("tensors: \(want.tensors.count), "
                                       + "\(want.tensors.reduce(0) { $0 + 4 * $1.shape.reduce(1, *) }) bytes"))
            // The table's shard column numbers each row's file as the list above does.
            let table = try #require(lines.firstIndex { $0.hasPrefix("  key ") })
            #expect(lines[table].split(separator: " ").map(String.init)
                        == ["key", "dtype", "shape", "strides", "shard", "storage", "offset", "bytes"])
            let header = lines[table]
            let at = try #require(header.range(of: "shard")).lowerBound
            let column = header.distance(from: header.startIndex, to: at)
            let shards = lines[(table + 1)...(table + want.tensors.count)].map { Int(String($0.dropFirst(column)
                .prefix { $0 != " " })) }
            #expect(shards == want.tensors.map { $0.shard + 1 })
            #expect(lines.contains(name.hasSuffix("_bin") ? "checksums: every record's CRC-32 matches"
                                       : "checksums: none (the safetensors format has none)"))
        }
    }

    @Test(arguments: folders)
    func jsonListingHasTheShardsAndTorchsTensors(_ name: String) throws {
        struct Listing: Decodable {
            struct Entry: Decodable { let key: String; let dtype: String; let shape: [Int]; let shard: Int }
            let file: String
            let format: String
            let shards: [String]
            let records_checked: Bool
            let tensors: [Entry]
        }
        let want = try Self.expected(name)
        let folder = fixtureURL("sharded/hf/\(name)").path
        let r = try CLI.run([folder, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let listing = try JSONDecoder().decode(Listing.self, from: Data(r.stdout.utf8))
        #expect(listing.file == folder)
        #expect(listing.format == "huggingface")
        #expect(listing.shards == want.shards.map { folder + "/" + $0 })
        #expect(listing.records_checked == name.hasSuffix("_bin"))
        #expect(listing.tensors.map(\.key) == want.tensors.map(\.key))
        #expect(listing.tensors.map(\.shape) == want.tensors.map(\.shape))
        #expect(listing.tensors.map(\.dtype) == want.tensors.map(\.dtype))
        #expect(listing.tensors.map(\.shard) == want.tensors.map(\.shard))
    }

    @Test(arguments: folders.filter { $0.hasSuffix("_bin") })
    func strictReadsTheBinShards(_ name: String) throws {
        let r = try CLI.run([fixtureURL("sharded/hf/\(name)").path, "--strict"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("format: huggingface"))
    }

    /// `encoder.layers.4.lstm`'s weight_ih_l0 and weight_hh_l0 lie in different shards
    /// (max_shard_size 2500); torch ran that nn.LSTM for the reference.
    @Test(arguments: ["encodec_bin", "encodec_safetensors"])
    func verifyRunsAnLSTMWhoseWeightsSpanShards(_ name: String) throws {
        let folder = fixtureURL("sharded/hf/\(name)").path
        let index = try String(contentsOfFile: folder + "/" + Self.expected(name).index, encoding: .utf8)
        let ih = index.split(separator: "\n").first { $0.contains("encoder.layers.4.lstm.weight_ih_l0") }
        let hh = index.split(separator: "\n").first { $0.contains("encoder.layers.4.lstm.weight_hh_l0") }
        #expect(ih?.split(separator: ":").last != hh?.split(separator: ":").last, "the LSTM no longer spans shards")
        let r = try CLI.run([folder, "--verify", fixtureURL("sharded/hf/encodec_lstm.npz").path,
                             "--module", "encoder.layers.4.lstm"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("PASS (3 of 3 tensors within tolerance)"), "\(r.stdout)")
        let golden = try CLI.run([folder, "--verify", fixtureURL("sharded/hf/golden.json").path])
        #expect(golden.status == 0, "\(golden.stdout)\(golden.stderr)")
        #expect(golden.stdout.contains("PASS (1 of 1 cases)"), "\(golden.stdout)")
    }

    /// One output file from a folder, read back: every tensor torch saved, in listing order, with
    /// torch's bytes (a .pt and .safetensors through ptload's reader, an .npz through PTNumpy).
    @Test(arguments: ["gpt2_bin", "bert_safetensors", "encodec_bin"], ["safetensors", "npz", "pt"])
    func exportWritesOneFileThatReadsBackEqual(_ name: String, _ format: String) throws {
        let want = try Self.expected(name)
        let out = temporaryFile([], name: "\(name).\(format)")
        try? FileManager.default.removeItem(atPath: out)
        let r = try CLI.run([fixtureURL("sharded/hf/\(name)").path, "--export", out])
        #expect(r.status == 0, "\(r.stderr)")
        var got: [(key: String, dtype: String, shape: [Int], crc: UInt32)] = []
        if format == "npz" {
            for a in try Numpy.readNpz(path: out) {
                got.append((a.name, a.tensor.dtype.rawValue, a.tensor.shape, Self.crc(try a.tensor.contiguousBytes())))
            }
        } else {
            for t in try Checkpoint.load(path: out).tensors {
                got.append((t.key, t.tensor.dtype.rawValue, t.tensor.shape, Self.crc(try t.tensor.contiguousBytes())))
            }
        }
        // safetensors lays tensors out in its own order (dtype alignment, then name).
        let order: ([String]) -> [String] = { format == "safetensors" ? $0.sorted() : $0 }
        #expect(order(got.map(\.key)) == order(want.tensors.map(\.key)))
        let byKey = Dictionary(uniqueKeysWithValues: got.map { ($0.key, $0) })
        for e in want.tensors {
            let g = try #require(byKey[e.key], "\(e.key)")
            #expect(g.dtype == e.dtype && g.shape == e.shape && g.crc == e.crc32, "\(name) \(format) \(e.key)")
        }
    }

    /// A `.bin` folder converted with `--max-shard-size` (the size save_pretrained was given, from
    /// the manifest) is byte for byte the folder `save_pretrained(safe_serialization=True)` wrote:
    /// every shard and the index (tied weights left out as transformers leaves them out).
    @Test(arguments: ["gpt2", "bert", "encodec"])
    func shardedExportOfABinFolderIsSavePretrainedsSafetensors(_ model: String) throws {
        struct Manifest: Decodable {
            struct Folder: Decodable { let max_shard_size: String }
            let folders: [String: Folder]
        }
        let manifest = try JSONDecoder().decode(Manifest.self,
                                                from: Data(contentsOf: fixtureURL("sharded/hf/manifest.json")))
        let size = try #require(manifest.folders["\(model)_bin"]).max_shard_size
        let out = URL(fileURLWithPath: temporaryFile([], name: "x")).deletingLastPathComponent()
            .appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let r = try CLI.run([fixtureURL("sharded/hf/\(model)_bin").path, "--export",
                             out.appendingPathComponent("model.safetensors").path, "--max-shard-size", size])
        #expect(r.status == 0, "\(r.stderr)")
        let want = try Self.expected("\(model)_safetensors")
        let written = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(written == (want.shards + [want.index]).sorted())
        for name in want.shards + [want.index] {
            let expected = try Data(contentsOf: fixtureURL("sharded/hf/\(model)_safetensors/\(name)"))
            #expect(try Data(contentsOf: out.appendingPathComponent(name)) == expected, "\(model): \(name)")
        }
    }

    /// A shard of the MODEL folder is an input: exporting over it is refused and leaves it as it was.
    @Test func exportOverAShardIsRefused() throws {
        let source = fixtureURL("sharded/hf/gpt2_safetensors")
        let copy = URL(fileURLWithPath: temporaryFile([], name: "x")).deletingLastPathComponent()
            .appendingPathComponent("gpt2_safetensors")
        try FileManager.default.copyItem(at: source, to: copy)
        let shard = copy.appendingPathComponent("model-00002-of-00004.safetensors").path
        let before = try Data(contentsOf: URL(fileURLWithPath: shard))
        let r = try CLI.run([copy.path, "--export", shard])
        #expect(r.status == 2)
        #expect(r.stderr == "ptload: \(shard): cannot write: it is the input\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: shard)) == before)
    }

    // MARK: Hostile indexes

    struct HostileCase: Decodable, CustomTestStringConvertible {
        let folder: String
        let attack: String
        let stderr: String
        var testDescription: String { folder }
    }

    struct Corpus: Decodable { let cases: [HostileCase] }

    static let hostile: [HostileCase] = {
        guard let data = try? Data(contentsOf: fixtureURL("sharded/hostile_hf/expected.json")),
              let corpus = try? JSONDecoder().decode(Corpus.self, from: data) else { return [] }
        return corpus.cases
    }()

    @Test func everyHostileFolderHasACase() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: fixtureURL("sharded/hostile_hf").path)
            .filter { $0 != "expected.json" }
        #expect(Set(folders) == Set(Self.hostile.map(\.folder)))
        #expect(Self.hostile.count >= 20)
    }

    /// Exit 2 and exactly the expected line for each case (exit 0 for the valid base).
    @Test(arguments: hostile)
    func hostileIndexIsRefusedWithItsLine(_ c: HostileCase) throws {
        let dir = fixtureURL("sharded/hostile_hf/\(c.folder)").path
        let r = try CLI.run([dir])
        if c.stderr.isEmpty {
            #expect(r.status == 0, "\(c.attack): \(r.stderr)")
            return
        }
        #expect(r.status == 2, "\(c.attack)")
        #expect(r.stdout == "")
        #expect(r.stderr == c.stderr.replacingOccurrences(of: "{dir}", with: dir) + "\n", "\(c.attack)")
    }
}
