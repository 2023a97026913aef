import Foundation
import PTCheckpoint
@testable import PTExport
import PTTensor
import PTTestSupport
import XCTest

/// Sharded `.safetensors` output against what Hugging Face wrote (ptload_tools.fixtures.
/// sharded_export → Fixtures/sharded/export): transformers 4.57's `save_pretrained` folders,
/// huggingface_hub's `split_torch_state_dict_into_shards` and `parse_size_to_int` answers.
final class ShardedExportTests: XCTestCase {
    static let fixtures = "sharded/export"

    func emptyFolder() -> String { temporaryFolder() }

    func contents(_ folder: String) throws -> [String] { try folderContents(folder) }

    /// A writer holding every tensor of a fixture checkpoint, in its state-dict order.
    func writer(_ checkpoint: String, cast: DType? = nil) throws -> CheckpointWriter {
        let loaded = try Checkpoint.load(path: fixtureURL("\(Self.fixtures)/\(checkpoint)").path)
        var writer = CheckpointWriter(cast: cast)
        for tensor in loaded.tensors { writer.add(tensor.key, tensor: tensor.tensor) }
        return writer
    }

    /// Every file of `folder` equals the fixture folder's, and there are no others.
    func assertSameFolder(_ folder: String, as fixture: String, line: UInt = #line) throws {
        let expected = fixtureURL("\(Self.fixtures)/\(fixture)")
        let names = try contents(expected.path)
        XCTAssertEqual(try contents(folder), names, line: line)
        for name in names {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)")),
                           try Data(contentsOf: expected.appendingPathComponent(name)), "\(name) differs", line: line)
        }
    }

    struct Index: Decodable {
        struct Metadata: Decodable { let total_parameters: Int; let total_size: Int }
        let metadata: Metadata
        let weight_map: [String: String]
    }

    // MARK: save_pretrained, byte for byte

    /// GPT-2's tied `lm_head.weight` is left out (transformers drops it: `_tied_weights_keys`),
    /// `transformer.wte.weight` kept; every shard and the index equal save_pretrained's.
    func testGPT2EqualsSavePretrained() throws {
        let folder = emptyFolder()
        let summary = try writer("gpt2.pt").writeSharded(to: folder + "/model.safetensors", maxShardSize: 4000)
        try assertSameFolder(folder, as: "gpt2")
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: fixtureURL(
            "\(Self.fixtures)/gpt2/model.safetensors.index.json")))
        XCTAssertEqual(summary.droppedAliases, [.init(name: "lm_head.weight", kept: "transformer.wte.weight")])
        XCTAssertEqual(summary.totalSize, index.metadata.total_size)
        XCTAssertEqual(summary.totalParameters, index.metadata.total_parameters)
        XCTAssertEqual(summary.summary.tensors, index.weight_map.count)
        XCTAssertEqual(summary.summary.materialized, 0)
        XCTAssertEqual(summary.files, (1...6).map { folder + "/model-0000\($0)-of-00006.safetensors" })
        XCTAssertEqual(summary.index, folder + "/model.safetensors.index.json")
        XCTAssertEqual(summary.removed, [])
    }

    /// BERT keeps the word embeddings and `cls.predictions.bias`, and leaves out the decoder's
    /// weight and bias, tied to them.
    func testBERTEqualsSavePretrained() throws {
        let folder = emptyFolder()
        let summary = try writer("bert.pt").writeSharded(to: folder + "/model.safetensors", maxShardSize: 4000)
        try assertSameFolder(folder, as: "bert")
        XCTAssertEqual(summary.droppedAliases, [
            .init(name: "cls.predictions.decoder.weight", kept: "bert.embeddings.word_embeddings.weight"),
            .init(name: "cls.predictions.decoder.bias", kept: "cls.predictions.bias"),
        ])
    }

    /// With a cast the shards are sized by the cast tensors, as `model.half().save_pretrained`
    /// sizes them.
    func testCastShardsEqualHalfModelsSavePretrained() throws {
        let folder = emptyFolder()
        let summary = try writer("gpt2.pt", cast: .float16).writeSharded(to: folder + "/model.safetensors",
                                                                         maxShardSize: 4000)
        try assertSameFolder(folder, as: "gpt2-float16")
        XCTAssertEqual(summary.files.count, 4)
        XCTAssertEqual(summary.summary.cast, summary.summary.tensors)
    }

    // MARK: The hub's grouping and sizes

    struct PlanCase: Decodable {
        struct Entry: Decodable { let key: String; let storage: String; let storage_bytes: Int }
        let name: String
        let max_shard_size: Int
        let tensors: [Entry]
        let is_sharded: Bool
        let metadata: [String: Int]
        let filename_to_tensors: [String: [String]]
    }

    /// `split_torch_state_dict_into_shards` on each recorded state dict: the same shards, in the
    /// same order, each listing the same keys in the same order, and the same total_size.
    func testPlansEqualTheHubs() throws {
        let cases = try JSONDecoder().decode([PlanCase].self, from: Data(contentsOf: fixtureURL(
            "\(Self.fixtures)/plans.json")))
        XCTAssertEqual(cases.map(\.name), ["experiment", "greedy", "single", "exact_fit"])
        for c in cases {
            var tokens: [String: Int] = [:]
            let entries = c.tensors.map { t in
                ShardPlan.Entry(storage: tokens[t.storage] ?? {
                    tokens[t.storage] = tokens.count
                    return tokens.count - 1
                }(), storageBytes: t.storage_bytes)
            }
            let plan = ShardPlan(entries, maxShardSize: c.max_shard_size)
            XCTAssertEqual(plan.shards.count > 1, c.is_sharded, c.name)
            XCTAssertEqual(plan.totalSize, c.metadata["total_size"], c.name)
            XCTAssertEqual(plan.shards.count, c.filename_to_tensors.count, c.name)
            for (i, shard) in plan.shards.enumerated() {
                let file = c.is_sharded ? ShardPlan.fileName(stem: "model", index: i, count: plan.shards.count)
                    : "model.safetensors"
                XCTAssertEqual(shard.map { c.tensors[$0].key }, c.filename_to_tensors[file], "\(c.name) \(file)")
            }
        }
    }

    /// docs/SHARDED.md's experiment through the writer: `tied2` (exactly `tied1`) is left out,
    /// `view` (w[0:10], another view of the same storage) is written contiguous with `tied1`,
    /// counted by its whole storage; `big` gets its own shard before the one being filled.
    func testViewsRideWithTheirStorageAndAliasesAreLeftOut() throws {
        func storage(_ floats: Int, _ first: Float) -> Storage {
            let values = (0..<floats).map { first + Float($0) }
            return Storage(key: "s\(first)", dtype: .float32, bytes: values.withUnsafeBytes { Array($0) })
        }
        func whole(_ s: Storage) throws -> Tensor {
            try Tensor(storage: s, dtype: .float32, shape: [s.byteCount / 4], strides: [1], storageOffset: 0)
        }
        let w = storage(100, 1000)
        var writer = CheckpointWriter()
        writer.add("a", tensor: try whole(storage(20, 0)))
        writer.add("big", tensor: try whole(storage(100, 100)))
        writer.add("tied1", tensor: try whole(w))
        writer.add("tied2", tensor: try whole(w))
        writer.add("view", tensor: try Tensor(storage: w, dtype: .float32, shape: [10], strides: [1], storageOffset: 5))
        writer.add("b", tensor: try whole(storage(30, 200)))
        writer.add("c", tensor: try whole(storage(60, 300)))
        let folder = emptyFolder()
        let summary = try writer.writeSharded(to: folder + "/model.safetensors", maxShardSize: 300)
        XCTAssertEqual(summary.droppedAliases, [.init(name: "tied2", kept: "tied1")])
        XCTAssertEqual(summary.totalSize, 1240)
        XCTAssertEqual(summary.summary.tensors, 6)
        XCTAssertEqual(summary.summary.materialized, 2, "tied1 and view share a storage")
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: URL(fileURLWithPath:
            folder + "/model.safetensors.index.json")))
        XCTAssertEqual(index.weight_map, ["big": "model-00001-of-00004.safetensors",
                                          "tied1": "model-00002-of-00004.safetensors",
                                          "view": "model-00002-of-00004.safetensors",
                                          "a": "model-00003-of-00004.safetensors",
                                          "b": "model-00003-of-00004.safetensors",
                                          "c": "model-00004-of-00004.safetensors"])
        XCTAssertEqual(index.metadata.total_parameters, 20 + 100 + 100 + 10 + 30 + 60)
        let second = try Checkpoint.load(path: folder + "/model-00002-of-00004.safetensors")
        XCTAssertEqual(second.tensors.map(\.key), ["tied1", "view"])
        XCTAssertEqual(try second.tensors[1].tensor.floats(), (1005..<1015).map(Float.init))
    }

    struct SizeCase: Decodable { let text: String; let value: Int?; let error: String? }

    /// `parse_size_to_int`'s answers: every value it returns, every text it refuses; a negative
    /// value (which the hub returns) refused.
    func testSizesParseAsTheHubParses() throws {
        let cases = try JSONDecoder().decode([SizeCase].self, from: Data(contentsOf: fixtureURL(
            "\(Self.fixtures)/sizes.json")))
        XCTAssertGreaterThan(cases.count, 25)
        for c in cases {
            if let value = c.value, value >= 0 {
                XCTAssertEqual(try ShardSize.parse(c.text), value, c.text.debugDescription)
            } else {
                XCTAssertThrowsError(try ShardSize.parse(c.text), c.text.debugDescription)
            }
        }
        func fault(_ text: String) -> ShardSizeFault? {
            do { _ = try ShardSize.parse(text) } catch { return error }
            return nil
        }
        XCTAssertEqual(fault("2GiB"), .unit("iB"))
        XCTAssertEqual(fault("100"), .unit("00"))
        XCTAssertEqual(fault(" \t"), .empty)
        XCTAssertEqual(fault("-5KB"), .negative)
        XCTAssertEqual(fault("1 0KB"), .value("1 0"))
        XCTAssertEqual(fault("infKB"), .notFinite)
        XCTAssertEqual(fault("nanKB"), .notFinite)
        XCTAssertEqual(fault("9300000000TB"), .tooLarge)
        XCTAssertEqual(fault("9300000000TB").map(String.init(describing:)), "the size is 2^63 bytes or more")
        XCTAssertEqual(try ShardSize.parse("9223372036KB"), 9_223_372_036_000)
        XCTAssertEqual(fault("2GiB").map { "\(ExportError(path: "o/model.safetensors", .badShardSize("2GiB", $0)))" },
                       "o/model.safetensors: bad maximum shard size '2GiB': the unit 'iB' is not TB, GB, MB or KB"
                           + " (powers of 10, as Hugging Face reads sizes); expected a number and a unit, such as 5GB"
                           + " or 200KB")
        XCTAssertThrowsError(try CheckpointWriter().writeSharded(to: "o/model.safetensors", maxShardSize: -1)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: "o/model.safetensors", .badShardSize("-1", .negative)))
        }
    }

    /// The index's JSON as Python's `json.dumps(indent=2, sort_keys=True, ensure_ascii=True)`
    /// writes it: keys by code point (`Z` < `a` < `é`), non-ASCII as `\uXXXX` (surrogate pairs).
    func testIndexJSONSortsByCodePointAndEscapesAsPython() {
        let bytes = ShardIndex.json(totalParameters: 3, totalSize: 12, weightMap: [
            ("é\"\n", "f2"), ("a", "f1"), ("Z𝄞", "f1"),
        ])
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), """
            {
              "metadata": {
                "total_parameters": 3,
                "total_size": 12
              },
              "weight_map": {
                "Z\\ud834\\udd1e": "f1",
                "a": "f1",
                "\\u00e9\\"\\n": "f2"
              }
            }

            """)
    }

    // MARK: One shard, failures, stale files

    /// Everything in one shard: `model.safetensors` itself (aliases still left out), no index.
    func testOneShardIsTheFileItselfWithNoIndex() throws {
        let folder = emptyFolder()
        let summary = try writer("gpt2.pt").writeSharded(to: folder + "/model.safetensors", maxShardSize: 5_000_000)
        XCTAssertEqual(try contents(folder), ["model.safetensors"])
        XCTAssertNil(summary.index)
        XCTAssertEqual(summary.files, [folder + "/model.safetensors"])
        let written = try Checkpoint.load(path: folder + "/model.safetensors")
        XCTAssertEqual(written.tensors.count, 16)
        XCTAssertFalse(written.tensors.contains { $0.key == "lm_head.weight" })
        // The same bytes as the one-file writer gives the kept tensors.
        let source = try Checkpoint.load(path: fixtureURL("\(Self.fixtures)/gpt2.pt").path)
        var single = CheckpointWriter()
        for t in source.tensors where t.key != "lm_head.weight" { single.add(t.key, tensor: t.tensor) }
        let plain = folder + "/plain.safetensors"
        try single.write(to: plain)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: plain)),
                       try Data(contentsOf: URL(fileURLWithPath: folder + "/model.safetensors")))
    }

    /// A shard that cannot be created after three were written (a folder holds its name): the
    /// error names it, and the folder is as it was (no shard, no temporary file).
    func testFailurePartWayLeavesTheFolderAsItWas() throws {
        let folder = emptyFolder()
        let blocker = folder + "/model-00004-of-00006.safetensors"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        XCTAssertThrowsError(try writer("gpt2.pt").writeSharded(to: folder + "/model.safetensors",
                                                                maxShardSize: 4000)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: blocker, .cannotWrite(.isFolder)))
        }
        XCTAssertEqual(try contents(folder), ["model-00004-of-00006.safetensors"])
    }

    /// The index cannot be created once every shard is complete: no shard is published.
    func testFailureAtTheIndexPublishesNoShard() throws {
        let folder = emptyFolder()
        let blocker = folder + "/model.safetensors.index.json"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        XCTAssertThrowsError(try writer("gpt2.pt").writeSharded(to: folder + "/model.safetensors",
                                                                maxShardSize: 4000)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: blocker, .cannotWrite(.isFolder)))
        }
        XCTAssertEqual(try contents(folder), ["model.safetensors.index.json"])
    }

    /// The output's folder is a file: refused, naming the folder.
    func testFolderThatIsAFileIsRefused() throws {
        let file = temporaryFile([1, 2, 3], name: "not-a-folder")
        XCTAssertThrowsError(try writer("gpt2.pt").writeSharded(to: file + "/model.safetensors", maxShardSize: 4000)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: file, .cannotWrite(.system("Not a directory"))))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), Data([1, 2, 3]))
    }

    /// An earlier output's shards that this one does not replace are removed (as transformers
    /// removes them), and so is the earlier single file or index of the other kind; other files
    /// (a config, a name with four digits, a folder) stay.
    func testStaleFilesOfAnEarlierOutputAreRemoved() throws {
        let folder = emptyFolder()
        let target = folder + "/model.safetensors"
        let unrelated = ["config.json", "model-0001-of-0002.safetensors", "other-00001-of-00002.safetensors"]
        for name in unrelated { _ = FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([7])) }
        try FileManager.default.createDirectory(atPath: folder + "/model-00009-of-00009.safetensors",
                                                withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: target, contents: Data([1]))
        let gpt2 = try writer("gpt2.pt").writeSharded(to: target, maxShardSize: 4000)
        XCTAssertEqual(gpt2.removed, [target])
        // BERT has five shards: every one of GPT-2's six (`-of-00006`) goes.
        let bert = try writer("bert.pt").writeSharded(to: target, maxShardSize: 4000)
        XCTAssertEqual(bert.removed, (1...6).map { folder + "/model-0000\($0)-of-00006.safetensors" })
        let kept = unrelated + ["model-00009-of-00009.safetensors"]
        XCTAssertEqual(try contents(folder), (try contents(fixtureURL("\(Self.fixtures)/bert").path) + kept).sorted())
        // One file now: every shard and the index go.
        let single = try writer("bert.pt").writeSharded(to: target, maxShardSize: 1_000_000)
        XCTAssertEqual(single.removed, (1...5).map { folder + "/model-0000\($0)-of-00005.safetensors" }
                           + [folder + "/model.safetensors.index.json"])
        XCTAssertEqual(try contents(folder), (kept + ["model.safetensors"]).sorted())
    }

    /// A file the output would remove that is the input: refused before anything is written.
    func testRemovingTheInputIsRefused() throws {
        let folder = emptyFolder()
        let input = folder + "/model-00001-of-00002.safetensors"
        _ = FileManager.default.createFile(atPath: input, contents: Data([1]))
        var w = try writer("gpt2.pt")
        w.inputs = [input]
        XCTAssertThrowsError(try w.writeSharded(to: folder + "/model.safetensors", maxShardSize: 4000)) {
            let target = folder + "/model.safetensors"
            XCTAssertEqual($0 as? ExportError, ExportError(path: target, .wouldRemoveInput(file: input, input: input)))
            XCTAssertEqual("\($0)", "\(folder)/model.safetensors: writing the shards would remove '\(input)', which is"
                               + " the input")
        }
        XCTAssertEqual(try contents(folder), ["model-00001-of-00002.safetensors"])
    }

    /// Shards are `.safetensors` only.
    func testOtherFormatsAreRefused() {
        XCTAssertThrowsError(try CheckpointWriter().writeSharded(to: "o/model.npz", maxShardSize: 10)) {
            XCTAssertEqual($0 as? ExportError, ExportError(path: "o/model.npz", .shardsNeedSafetensors))
        }
    }
}
