import Foundation
import PTCheckpoint
import PTTensor
import PTTestSupport
import Testing

/// torch.distributed.checkpoint folders (Fixtures/sharded/dcp, ptload_tools.fixtures.sharded_dcp):
/// every tensor equals, bit for bit, what torch's own `dcp_to_torch_save` made of the folder
/// (read back with ptload), whether loaded whole or streamed in any byte range; and the hostile
/// folders (Fixtures/sharded/hostile_dcp) are refused with the typed fault for their attack.
@Suite struct DCPTests {
    static let folders = ["single", "ranks2"]

    static func dcp(_ name: String) -> String { fixtureURL("sharded/dcp/\(name)").path }
    static func hostile(_ name: String) -> String { fixtureURL("sharded/hostile_dcp/\(name)").path }

    @Test(arguments: folders)
    func tensorsEqualTorchsConversion(_ name: String) throws {
        let folder = try Checkpoint.load(path: Self.dcp(name))
        let truth = try Checkpoint.load(path: Self.dcp(name) + ".pt")
        #expect(folder.format == .dcp)
        #expect(folder.path == Self.dcp(name))
        #expect(folder.tensors.map(\.key) == truth.tensors.map(\.key))
        for (got, want) in zip(folder.tensors, truth.tensors) {
            #expect(got.tensor.dtype == want.tensor.dtype, "\(got.key)")
            #expect(got.tensor.shape == want.tensor.shape, "\(got.key)")
            #expect(try got.tensor.contiguousBytes() == want.tensor.contiguousBytes(), "\(got.key)")
        }
        #expect(folder.records.contains { $0.name == "object step" && $0.value == "7" })
        #expect(try folder.verifyRecords())
        let expectedShards = name == "single" ? ["__0_0.distcp"] : ["__0_0.distcp", "__1_0.distcp"]
        #expect(folder.shards.map { URL(fileURLWithPath: $0).lastPathComponent }.sorted() == expectedShards)
    }

    /// The `.metadata` file names the same checkpoint as its folder.
    @Test func metadataFileOpensTheFolder() throws {
        let byFile = try Checkpoint.load(path: Self.dcp("ranks2") + "/.metadata")
        let byFolder = try Checkpoint.load(path: Self.dcp("ranks2"))
        #expect(byFile.format == .dcp)
        #expect(byFile.tensors.map(\.key) == byFolder.tensors.map(\.key))
    }

    /// Streaming any byte range of every tensor (the column-sharded `lstm.weight_hh_l0`
    /// included: its chunks are [64, 8] boxes side by side, so each row alternates between
    /// them) gives the bytes of that range of torch's tensor, without loading the storage.
    @Test(arguments: folders)
    func streamedRangesEqualTorchsBytes(_ name: String) throws {
        let truth = try Checkpoint.load(path: Self.dcp(name) + ".pt")
        let folder = try Checkpoint.load(path: Self.dcp(name))
        for named in folder.tensors {
            let want = try #require(truth.tensor(named.key)).contiguousBytes()
            let storage = named.tensor.storage
            #expect(storage.streams)
            let n = want.count
            for range in [0..<n, 0..<1, 3..<(n - 5), (n / 3)..<(n / 3 + 37), (n - 1)..<n] where range.upperBound <= n {
                var got: [UInt8] = []
                try storage.stream(range) { got.append(contentsOf: $0) }
                #expect(got == Array(want[range]), "\(named.key) \(range)")
            }
            var whole: [UInt8] = []
            try named.tensor.streamBytes { whole.append(contentsOf: $0) }
            #expect(whole == want, "\(named.key)")
            #expect(!storage.isLoaded, "\(named.key): streaming loaded the storage")
        }
        if name == "ranks2" {
            let columns = try #require(folder.tensor("lstm.weight_hh_l0"))
            #expect(columns.storage.origin == "2 dcp chunks")
        }
    }

    // MARK: hostile folders, typed

    func refusal(_ name: String) -> CheckpointError? {
        do {
            _ = try Checkpoint.load(path: Self.hostile(name))
            return nil
        } catch {
            return error
        }
    }

    @Test func forbiddenGlobalsAreRefusedWhateverThePolicy() throws {
        let e = try #require(refusal("global_os_system"))
        #expect(e.path == Self.hostile("global_os_system") + "/.metadata")
        guard case let .refusedGlobal(_, global, .denied) = e.reason else {
            Issue.record("\(e)")
            return
        }
        #expect(global == "os.system")
        let eval = try #require(refusal("global_builtins_eval"))
        guard case .refusedGlobal(_, "builtins.eval", .denied) = eval.reason else {
            Issue.record("\(eval)")
            return
        }
    }

    @Test func chunkGeometryFaults() throws {
        let metadata = { (name: String) in Self.hostile(name) + "/.metadata" }
        let overlap = try #require(refusal("chunks_overlap"))
        #expect(overlap == CheckpointError(path: metadata("chunks_overlap"),
                                           .dcp(.chunksOverlap(fqn: "w", first: [0, 0], second: [1, 0]))))
        let gap = try #require(refusal("chunks_gap"))
        #expect(gap == CheckpointError(path: metadata("chunks_gap"),
                                       .dcp(.chunksDoNotCover(fqn: "w", covered: 9, elements: 12))))
        let past = try #require(refusal("chunk_past_tensor"))
        #expect(past == CheckpointError(path: metadata("chunk_past_tensor"), .dcp(.chunkOutOfBounds(
            fqn: "w", offsets: [3, 0], sizes: [2, 3], size: [4, 3]))))
        let orphan = try #require(refusal("chunk_without_storage"))
        #expect(orphan == CheckpointError(path: metadata("chunk_without_storage"),
                                          .dcp(.noStorageData(fqn: "w", offsets: [2, 0]))))
    }

    @Test func fileAndRangeFaults() throws {
        let dotdot = try #require(refusal("relative_path_dotdot"))
        #expect(dotdot.reason == .dcp(.relativePathNotPlain(fqn: "w", found: "../x")))
        let link = try #require(refusal("distcp_symlink"))
        #expect(link.reason == .dcp(.shardNotRegular(fqn: "w", file: "__0_0.distcp", what: "a symbolic link")))
        let missing = try #require(refusal("distcp_missing"))
        guard case .dcp(.shardUnreadable(fqn: "w", file: "__0_0.distcp", _)) = missing.reason else {
            Issue.record("\(missing)")
            return
        }
        let past = try #require(refusal("range_past_file"))
        #expect(past.path == Self.hostile("range_past_file") + "/__0_0.distcp")
        guard case .dcp(.rangePastEnd(fqn: "w", _, _)) = past.reason else {
            Issue.record("\(past)")
            return
        }
    }

    @Test func chunkArchivesMustHoldTheChunk() throws {
        let dtype = try #require(refusal("blob_dtype"))
        guard case .dcp(.blobDType(fqn: "w", _, expected: .float32, found: .float64)) = dtype.reason else {
            Issue.record("\(dtype)")
            return
        }
        let shape = try #require(refusal("blob_shape"))
        guard case .dcp(.blobShape(fqn: "w", _, expected: [2, 3], found: [3, 2])) = shape.reason else {
            Issue.record("\(shape)")
            return
        }
    }

    /// Objects (`BytesStorageMetadata`) are read under the weights-only policy, and only plain data is shown.
    @Test func objectsMustBePlainData() throws {
        let system = try #require(refusal("object_global_os_system"))
        guard case .dcp(.blob(fqn: "step", _, reason: .refusedGlobal(_, "os.system", .denied))) = system.reason else {
            Issue.record("\(system)")
            return
        }
        let set = try #require(refusal("object_not_plain"))
        guard case .dcp(.objectNotPlain(fqn: "step", _, found: "builtins.set object")) = set.reason else {
            Issue.record("\(set)")
            return
        }
    }

    /// The valid base of the hostile corpus, written opcode by opcode, reads as torch reads it.
    @Test func hostileBaseReads() throws {
        let base = try Checkpoint.load(path: Self.hostile("base"))
        let w = try #require(base.tensor("w"))
        #expect(w.shape == [4, 3])
        #expect(try w.floats() == (0..<12).map { Float(($0 * 5 % 16) - 8) / 8 })
    }

    // MARK: folders written here

    /// `w` [6, 4] in three boxes: rows 0..<3 whole in one file, and rows 3..<6 in two column
    /// halves in another.
    static let boxes = DCPFolder(tensors: [DCPFolder.TensorEntry(fqn: "w", size: [6, 4], chunks: [
        DCPFolder.Chunk(offsets: [0, 0], sizes: [3, 4], file: "__0_0.distcp"),
        DCPFolder.Chunk(offsets: [3, 0], sizes: [3, 2], file: "__1_0.distcp"),
        DCPFolder.Chunk(offsets: [3, 2], sizes: [3, 2], file: "__1_0.distcp"),
    ])])

    @Test func olderTorchWithoutNewerFieldsReads() throws {
        var folder = Self.boxes
        folder.propertiesAsDict = true
        folder.newerFields = false
        let c = try Checkpoint.load(path: try folder.write())
        let w = try #require(c.tensor("w"))
        #expect(try w.floats() == (0..<24).map(DCPFolder.value))
        #expect(c.records.isEmpty)
        #expect(c.shards.map { URL(fileURLWithPath: $0).lastPathComponent } == ["__0_0.distcp", "__1_0.distcp"])
        let newer = try Checkpoint.load(path: try Self.boxes.write())
        #expect(try newer.tensor("w")?.floats() == (0..<24).map(DCPFolder.value))
        #expect(newer.globals.contains("pathlib.PosixPath"))
    }

    func refusal(writing folder: DCPFolder, edit: (inout [DCPFolder.Range]) -> Void = { _ in }) throws
        -> (path: String, error: CheckpointError?) {
        let path = try folder.write(edit: edit)
        do {
            _ = try Checkpoint.load(path: path)
            return (path, nil)
        } catch {
            return (path, error)
        }
    }

    @Test func torchSizeBuiltOtherwiseIsRefused() throws {
        var folder = Self.boxes
        folder.sizeConstruction = .newobj
        let (path, e) = try refusal(writing: folder)
        #expect(e == CheckpointError(path: path + "/.metadata", .dcp(.construction(callable: "torch.Size",
                                                                                     kind: "newobj"))))
    }

    @Test func storageDataMustMatchTheChunksOneToOne() throws {
        let (twicePath, twice) = try refusal(writing: Self.boxes) { $0.append($0[0]) }
        #expect(twice == CheckpointError(path: twicePath + "/.metadata",
                                         .dcp(.storageDataTwice(fqn: "w", offsets: [0, 0]))))
        let (extraPath, extra) = try refusal(writing: Self.boxes) { ranges in
            var r = ranges[0]
            r.offsets = [1, 0]
            ranges.append(r)
        }
        #expect(extra == CheckpointError(path: extraPath + "/.metadata",
                                         .dcp(.storageDataUnused(fqn: "w", offsets: [1, 0]))))
    }

    @Test func rangesInOneFileMustNotOverlap() throws {
        let (path, e) = try refusal(writing: Self.boxes) { ranges in
            ranges[2].offset = ranges[1].offset
            ranges[2].length = ranges[1].length
        }
        let r = ranges(in: path)
        #expect(e == CheckpointError(path: path + "/__1_0.distcp", .dcp(.rangesOverlap(
            first: "w", firstRange: r, second: "w", secondRange: r))))
        let (negativePath, negative) = try refusal(writing: Self.boxes) { $0[0].offset = -1 }
        #expect(negative?.path == negativePath + "/__0_0.distcp")
        guard case .dcp(.rangeNegative(fqn: "w", offset: -1, _))? = negative?.reason else {
            Issue.record("\(String(describing: negative))")
            return
        }
    }

    /// The first range of `__1_0.distcp` (where the overlap case put both of its chunks).
    func ranges(in folder: String) -> Range<Int> {
        let blob = DCPFolder.chunkBlob(DCPFolder.chunkValues(size: [6, 4], chunk: Self.boxes.tensors[0].chunks[1]),
                                       shape: [3, 2])
        return 0..<blob.count
    }

    /// A chunk range that is not a zip, and one whose archive is cut short, are refused naming the
    /// tensor and the range.
    @Test func chunkRangesMustBeArchives() throws {
        let (path, e) = try refusal(writing: Self.boxes) { ranges in
            ranges[0].offset += 1
            ranges[0].length -= 1
        }
        let error = try #require(e)
        #expect(error.path == path + "/__0_0.distcp")
        guard case .dcp(.blob(fqn: "w", _, reason: .notACheckpoint(.unknownStart))) = error.reason else {
            Issue.record("\(error)")
            return
        }
        let (_, cut) = try refusal(writing: Self.boxes) { $0[0].length -= 10 }
        guard case .dcp(.blob(fqn: "w", _, reason: .zip))? = cut?.reason else {
            Issue.record("\(String(describing: cut))")
            return
        }
    }
}
