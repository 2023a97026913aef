import Foundation
import PTCheckpoint
import PTSafetensors
import PTTestSupport
import PTZip
import XCTest

/// Hugging Face sharded folders (`Fixtures/sharded/hf`, from transformers' `save_pretrained` via
/// ptload_tools.fixtures.sharded_hf) read as one checkpoint, and the index checks' typed errors on
/// folders built here from bytes.
final class HuggingFaceFolderTests: XCTestCase {
    static let folders = HuggingFaceFolderFixture.folders

    static func expected(_ folder: String) throws -> HuggingFaceFolderFixture { try .load(folder) }

    /// Every tensor of every folder, by the folder and by its index: key order, shard, dtype,
    /// shape and the CRC-32 of its bytes as torch wrote them.
    func testEveryFolderReadsAsTorchSavedIt() throws {
        for name in Self.folders {
            let want = try Self.expected(name)
            let folder = fixtureURL("sharded/hf/\(name)").path
            for path in [folder, folder + "/" + want.index] {
                let c = try Checkpoint.load(path: path)
                XCTAssertEqual(c.format, .huggingface, name)
                XCTAssertEqual(c.path, path)
                XCTAssertEqual(c.shards, want.shards.map { folder + "/" + $0 }, name)
                XCTAssertEqual(c.tensors.map(\.key), want.tensors.map(\.key), name)
                XCTAssertEqual(c.records.first { $0.name == "shard count" }?.value, String(want.shards.count))
                XCTAssertEqual(c.records.first { $0.name == "index metadata total_size" }?.value,
                               want.metadata["total_size"].map(String.init))
                for (t, e) in zip(c.tensors, want.tensors) {
                    XCTAssertEqual(t.shard, e.shard, "\(name) \(e.key)")
                    XCTAssertEqual(t.tensor.dtype.rawValue, e.dtype, "\(name) \(e.key)")
                    XCTAssertEqual(t.tensor.shape, e.shape, "\(name) \(e.key)")
                    let bytes = try t.tensor.contiguousBytes()
                    XCTAssertEqual(bytes.withUnsafeBytes { crc32($0) }, e.crc32, "\(name) \(e.key)")
                }
                XCTAssertEqual(try c.verifyRecords(), name.hasSuffix("_bin"), name)
            }
        }
    }

    /// `.bin` shards keep tied weights as torch saved them: one storage for both keys. The
    /// safetensors shards hold the kept name only (transformers drops `_tied_weights_keys`).
    func testTiedWeightsStayShared() throws {
        let pairs = [("gpt2", "lm_head.weight", "transformer.wte.weight"),
                     ("bert", "cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight")]
        for (model, tied, kept) in pairs {
            let bin = try Checkpoint.load(path: fixtureURL("sharded/hf/\(model)_bin").path)
            let a = try XCTUnwrap(bin.tensor(tied)), b = try XCTUnwrap(bin.tensor(kept))
            XCTAssertTrue(a.storage === b.storage, model)
            let safe = try Checkpoint.load(path: fixtureURL("sharded/hf/\(model)_safetensors").path)
            XCTAssertNil(safe.tensor(tied), model)
            XCTAssertEqual(try safe.tensor(kept)?.contiguousBytes(), try b.contiguousBytes(), model)
        }
    }

    /// Strict loading applies to every `.bin` shard's pickle; the real folders pass it.
    func testStrictReadsTheBinFolders() throws {
        for name in Self.folders where name.hasSuffix("_bin") {
            let c = try Checkpoint.load(path: fixtureURL("sharded/hf/\(name)").path, options: LoadOptions(strict: true))
            XCTAssertEqual(c.tensors.count, try Self.expected(name).tensors.count)
        }
    }

    // MARK: Folders built here

    /// A fresh folder holding `files` (name → bytes); `links` are symbolic links (name → target).
    func folder(_ files: [String: [UInt8]], links: [String: String] = [:]) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-hf-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, bytes) in files {
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data(bytes))
        }
        for (name, target) in links {
            try? FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path,
                                                        withDestinationPath: target)
        }
        return dir.path
    }

    /// A safetensors file of float32 vectors (name → values), in name order.
    func safetensors(_ tensors: [(String, [Float])]) -> [UInt8] {
        var fields: [String] = [#""__metadata__":{"format":"pt"}"#]
        var data: [UInt8] = []
        for (name, values) in tensors.sorted(by: { $0.0 < $1.0 }) {
            let start = data.count
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
            fields.append(#""\#(name)":{"dtype":"F32","shape":[\#(values.count)],"#
                              + #""data_offsets":[\#(start),\#(data.count)]}"#)
        }
        var header = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * $0)) } + header + data
    }

    let one = "model-00001-of-00002.safetensors", two = "model-00002-of-00002.safetensors"
    let indexName = "model.safetensors.index.json"

    /// The two valid shards, and an index of `weightMap` (JSON text of the members).
    func files(index: String) -> [String: [UInt8]] {
        [one: safetensors([("a", [1, 2]), ("b", [3, 4, 5])]), two: safetensors([("c", [6, 7, 8, 9])]),
         indexName: Array(index.utf8)]
    }

    var goodMap: String { #""weight_map":{"a":"\#(one)","b":"\#(one)","c":"\#(two)"}"# }

    /// The error loading `path` throws (failing the test when it loads).
    func refusal(_ path: String, options: LoadOptions = LoadOptions()) -> CheckpointError? {
        do {
            _ = try Checkpoint.load(path: path, options: options)
            XCTFail("\(path) loaded")
            return nil
        } catch {
            XCTAssertFalse(error.description.contains("\n"))
            return error
        }
    }

    func testAValidBuiltFolderLoadsInShardOrder() throws {
        let dir = folder(files(index: #"{"metadata":{"total_size":36,"note":"x"},\#(goodMap)}"#))
        let c = try Checkpoint.load(path: dir)
        XCTAssertEqual(c.tensors.map(\.key), ["a", "b", "c"])
        XCTAssertEqual(c.shards, [dir + "/" + one, dir + "/" + two])
        XCTAssertEqual(c.records.map(\.name), ["index metadata total_size", "index metadata note", "shard count"])
        XCTAssertEqual(try c.tensor("c")?.contiguousBytes().count, 16)
    }

    func testTotalSizeEitherSumIsAcceptedAndALieIsRefused() throws {
        // The per-key sum (older shard_checkpoint) differs from the storage sum only with shared
        // storages; here they agree (36), and any other value is a lie.
        let lie = folder(files(index: #"{"metadata":{"total_size":35},\#(goodMap)}"#))
        XCTAssertEqual(refusal(lie), CheckpointError(path: lie + "/" + indexName,
                                                     .shardIndex(.totalSizeMismatch(stated: 35, storageBytes: 36,
                                                                                    keyBytes: 36))))
        let text = folder(files(index: #"{"metadata":{"total_size":"36"},\#(goodMap)}"#))
        XCTAssertEqual(refusal(text)?.reason, .shardIndex(.totalSizeNotAnInteger))
        XCTAssertNoThrow(try Checkpoint.load(path: folder(files(index: "{\(goodMap)}"))))
    }

    func testShardNamesThatLeaveTheFolder() {
        let names: [(String, CheckpointError.ShardNameFault)] = [
            ("", .empty), ("..", .parent), (".", .currentFolder), ("../x.safetensors", .separator),
            ("/abs.safetensors", .separator), (#"a\\b.safetensors"#, .separator), ("C:x.safetensors", .drive),
            (#"x\u0000.safetensors"#, .nul),
        ]
        for (json, why) in names {
            let dir = folder(files(index: #"{"weight_map":{"a":"\#(one)","b":"\#(one)","c":"\#(json)"}}"#))
            guard case .shardIndex(.shardNameLeavesFolder(let key, _, let found))? = refusal(dir)?.reason else {
                XCTFail(json)
                continue
            }
            XCTAssertEqual(key, "c")
            XCTAssertEqual(found, why, json)
        }
    }

    func testIndexShapeFaults() {
        let cases: [(String, CheckpointError.ShardIndexFault)] = [
            (#"{"metadata":{}}"#, .noWeightMap),
            (#"{"weight_map":{}}"#, .noWeightMap),
            (#"{"weight_map":"x"}"#, .notAnObject(member: "weight_map")),
            (#"{"metadata":7,\#(goodMap)}"#, .notAnObject(member: "metadata")),
            (#"{"weight_map":{"a":[1]}}"#, .shardNotAString(key: "a")),
            (#"{"weight_map":{"a":["x"]}}"#, .syntax(.expectedInteger(at: 20))),
            (#"{\#(goodMap),"weight_map":{}}"#, .syntax(.duplicateKey("weight_map"))),
            // "{", the map, "}", " ", then the stray "x".
            (#"{\#(goodMap)} x"#, .syntax(.textAfterClosingBrace(at: goodMap.utf8.count + 3))),
        ]
        for (text, fault) in cases {
            XCTAssertEqual(refusal(folder(files(index: text)))?.reason, .shardIndex(fault), text)
        }
        var invalid = files(index: "")
        invalid[indexName] = [0x7B, 0xFF, 0x7D]
        XCTAssertEqual(refusal(folder(invalid))?.reason, .shardIndex(.notUTF8))
    }

    /// The hub's 10 MiB cap, checked before the index is parsed.
    func testAnIndexOverTheCapIsRefused() {
        let padding = String(repeating: " ", count: 10 << 20)
        let dir = folder(files(index: "{\(goodMap)}" + padding))
        XCTAssertEqual(refusal(dir)?.reason,
                       .shardIndex(.tooLarge(byteCount: (10 << 20) + goodMap.utf8.count + 2, limit: 10 << 20)))
    }

    func testIndexKindComesFromItsName() throws {
        let dir = folder(files(index: "{\(goodMap)}"))
        try FileManager.default.moveItem(atPath: dir + "/" + indexName, toPath: dir + "/weights.index.json")
        XCTAssertEqual(refusal(dir), CheckpointError(path: dir + "/weights.index.json",
                                                     .shardIndex(.unknownIndexKind(name: "weights.index.json"))))
        let bin = folder(files(index: "{\(goodMap)}"))
        try FileManager.default.moveItem(atPath: bin + "/" + indexName, toPath: bin + "/pytorch_model.bin.index.json")
        XCTAssertEqual(refusal(bin)?.reason, .shardIndex(.wrongExtension(key: "a", shard: one, expected: ".bin")))
    }

    func testShardFilesMustBeRegularFilesInTheFolder() {
        var base = files(index: "{\(goodMap)}")
        let shard2 = base.removeValue(forKey: two)!
        base["real.data"] = shard2
        let linked = folder(base, links: [two: "real.data"])
        XCTAssertEqual(refusal(linked), CheckpointError(path: linked + "/" + indexName,
                                                        .shardIndex(.shardNotRegular(shard: two,
                                                                                     what: "a symbolic link"))))
        base.removeValue(forKey: "real.data")
        let missing = folder(base)
        XCTAssertEqual(refusal(missing)?.reason, .shardIndex(.shardMissing(key: "c", shard: two)))
    }

    /// A hub cache snapshot (`models--x/snapshots/<rev>/` whose files link to `../../blobs/<hash>`)
    /// reads through its links; a link out of the repository's `blobs/`, or from a folder that is
    /// not a snapshot, is refused.
    func testAHubCacheSnapshotReadsThroughItsLinksIntoBlobs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-hub-\(UUID().uuidString)")
        let blobs = root.appendingPathComponent("models--x/blobs")
        let snapshot = root.appendingPathComponent("models--x/snapshots/0123abc")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        for (i, (name, bytes)) in files(index: "{\(goodMap)}").sorted(by: { $0.key < $1.key }).enumerated() {
            _ = FileManager.default.createFile(atPath: blobs.appendingPathComponent("blob\(i)").path,
                                               contents: Data(bytes))
            try FileManager.default.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path,
                                                       withDestinationPath: "../../blobs/blob\(i)")
        }
        let checkpoint = try Checkpoint.load(path: snapshot.path)
        XCTAssertEqual(checkpoint.tensors.map(\.key), ["a", "b", "c"])
        XCTAssertEqual(try checkpoint.tensor("c")?.floats(), [6, 7, 8, 9])

        // The same link target reached from outside `blobs/` is refused.
        let outside = root.appendingPathComponent("models--x/other")
        try FileManager.default.moveItem(at: blobs.appendingPathComponent("blob1"), to: outside)
        try FileManager.default.removeItem(atPath: snapshot.appendingPathComponent(one).path)
        try FileManager.default.createSymbolicLink(atPath: snapshot.appendingPathComponent(one).path,
                                                   withDestinationPath: "../../other")
        XCTAssertEqual(refusal(snapshot.path)?.reason,
                       .shardIndex(.shardNotRegular(shard: one, what: "a symbolic link")))
    }

    func testKeysMustMatchTheirShards() {
        let cases: [(String, CheckpointError.ShardIndexFault)] = [
            (#"{"weight_map":{"a":"\#(one)","b":"\#(one)","c":"\#(two)","d":"\#(two)"}}"#,
             .keyNotInShard(key: "d", shard: two)),
            (#"{"weight_map":{"a":"\#(one)","c":"\#(two)"}}"#, .tensorNotInIndex(key: "b", shard: one)),
            (#"{"weight_map":{"a":"\#(one)","b":"\#(two)","c":"\#(two)"}}"#,
             .tensorListedElsewhere(key: "b", shard: one, listed: two)),
            (#"{"weight_map":{"a":"\#(one)","b":"\#(one)"}}"#, .extraShard(shard: two)),
        ]
        for (text, fault) in cases {
            XCTAssertEqual(refusal(folder(files(index: text)))?.reason, .shardIndex(fault), text)
        }
        var twice = files(index: "{\(goodMap)}")
        twice[two] = safetensors([("a", [1, 2]), ("c", [6, 7, 8, 9])])
        XCTAssertEqual(refusal(folder(twice))?.reason, .shardIndex(.keyInTwoShards(key: "a", first: one, second: two)))
    }

    /// Shards named `-0000k-of-0000N` agree on N and cover 1…N; other names are read as named.
    func testShardNumbering() throws {
        let three = "model-00002-of-00003.safetensors"
        var files = self.files(index: #"{"weight_map":{"a":"\#(one)","b":"\#(one)","c":"\#(three)"}}"#)
        files[three] = files.removeValue(forKey: two)
        XCTAssertEqual(refusal(folder(files))?.reason,
                       .shardIndex(.shardTotalsDisagree(shard: three, total: 3, other: one, otherTotal: 2)))
        let plain = folder([indexName: Array(#"{"weight_map":{"a":"x.safetensors","c":"y.safetensors"}}"#.utf8),
                            "x.safetensors": safetensors([("a", [1])]), "y.safetensors": safetensors([("c", [2])])])
        XCTAssertEqual(try Checkpoint.load(path: plain).tensors.map(\.key), ["a", "c"])
    }

    /// A shard's own refusal names the shard, not the index: here a `.bin` shard whose pickle
    /// references `os.system`.
    func testAShardsOwnErrorNamesTheShard() throws {
        let hostile = try [UInt8](Data(contentsOf: fixtureURL("hostile/pkl_global_os_system.pt")))
        let name = "pytorch_model-00001-of-00001.bin"
        let dir = folder(["pytorch_model.bin.index.json": Array(#"{"weight_map":{"w":"\#(name)"}}"#.utf8),
                          name: hostile])
        let error = try XCTUnwrap(refusal(dir))
        XCTAssertEqual(error.path, dir + "/" + name)
        XCTAssertTrue(error.description.contains("references os.system"), error.description)
    }

    /// `--strict` reaches each `.bin` shard's pickle: a whole pickled module (`__main__.Net`) as
    /// the one shard lists by default and is refused strictly, the refusal naming the shard.
    func testStrictAppliesToEveryBinShard() throws {
        let source = fixtureURL("checkpoints/full_net.pt")
        let keys = try Checkpoint.load(path: source.path).tensors.map(\.key)
        let name = "pytorch_model-00001-of-00001.bin"
        let map = keys.map { #""\#($0)":"\#(name)""# }.joined(separator: ",")
        let dir = folder(["pytorch_model.bin.index.json": Array(#"{"weight_map":{\#(map)}}"#.utf8),
                          name: try [UInt8](Data(contentsOf: source))])
        let c = try Checkpoint.load(path: dir)
        XCTAssertEqual(c.tensors.map(\.key), keys)
        XCTAssertFalse(c.modules.isEmpty)
        let error = try XCTUnwrap(refusal(dir, options: LoadOptions(strict: true)))
        XCTAssertEqual(error.path, dir + "/" + name)
        guard case .refusedGlobal = error.reason else { return XCTFail("\(error)") }
    }

    /// The globals are the union over the shards, each once, in first-seen order.
    func testGlobalsAreTheShardsUnion() throws {
        let c = try Checkpoint.load(path: fixtureURL("sharded/hf/gpt2_bin").path)
        var union: [String] = []
        for shard in c.shards {
            for g in try Checkpoint.load(path: shard).globals where !union.contains(g) { union.append(g) }
        }
        XCTAssertEqual(c.globals, union)
        XCTAssertTrue(c.globals.contains("torch._utils._rebuild_tensor_v2"))
        XCTAssertEqual(Set(c.globals).count, c.globals.count)
    }

    /// A variant's index (`model.safetensors.index.fp16.json`, transformers' `_add_variant`) is read
    /// when named; its `model.fp16-0000k-of-0000N` shards are numbered like any others.
    func testAVariantIndexIsReadWhenNamed() throws {
        let one = "model.fp16-00001-of-00002.safetensors", two = "model.fp16-00002-of-00002.safetensors"
        let dir = folder(["model.safetensors.index.fp16.json":
                            Array(#"{"weight_map":{"a":"\#(one)","c":"\#(two)"}}"#.utf8),
                          one: safetensors([("a", [1])]), two: safetensors([("c", [2])])])
        let c = try Checkpoint.load(path: dir + "/model.safetensors.index.fp16.json")
        XCTAssertEqual(c.format, .huggingface)
        XCTAssertEqual(c.tensors.map(\.key), ["a", "c"])
        XCTAssertEqual(c.tensors.map(\.shard), [0, 1])
    }

    func testFolderLayouts() throws {
        let single = folder(["model.safetensors": safetensors([("w", [1, 2])]), "config.json": Array("{}".utf8)])
        let c = try Checkpoint.load(path: single)
        XCTAssertEqual(c.format, .safetensors)
        XCTAssertEqual(c.path, single + "/model.safetensors")
        XCTAssertEqual(c.shards, [])
        let empty = folder(["README.md": []])
        XCTAssertEqual(refusal(empty), CheckpointError(path: empty, .shardIndex(.nothingToRead)))
        let several = folder(["a.safetensors.index.json": [], "b.safetensors.index.json": []])
        XCTAssertEqual(refusal(several)?.reason,
                       .shardIndex(.severalIndexes(["a.safetensors.index.json", "b.safetensors.index.json"])))
        // The standard index wins over any other; a hub repository's .bin shards beside the
        // safetensors ones are of another kind, not extra shards.
        var both = files(index: "{\(goodMap)}")
        both["other.safetensors.index.json"] = []
        both["pytorch_model.bin.index.json"] = []
        both["pytorch_model-00001-of-00002.bin"] = []
        XCTAssertEqual(try Checkpoint.load(path: folder(both)).tensors.count, 3)
    }

    /// verifyRecords checks every `.bin` shard's CRC-32s and names the shard whose record fails.
    func testRecordChecksCoverEveryShard() throws {
        let source = fixtureURL("sharded/hf/gpt2_bin").path
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            files[name] = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source + "/" + name)))
        }
        let original = try Checkpoint.load(path: source)
        let last = try XCTUnwrap(original.shards.last)
        let lastName = String(last.split(separator: "/").last!)
        // A byte of the last tensor's data, found in the last shard, flipped.
        let needle = try XCTUnwrap(original.tensors.last).tensor.contiguousBytes()
        var shard = try XCTUnwrap(files[lastName])
        let at = try XCTUnwrap((0...(shard.count - needle.count)).first {
            shard[$0..<($0 + needle.count)].elementsEqual(needle)
        })
        shard[at] ^= 0x01
        files[lastName] = shard
        let dir = folder(files)
        let c = try Checkpoint.load(path: dir)
        XCTAssertThrowsError(try c.verifyRecords()) { error in
            XCTAssertEqual((error as? CheckpointError)?.path, dir + "/" + lastName)
        }
    }
}
