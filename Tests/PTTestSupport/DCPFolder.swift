import Foundation
import PTPickle

/// A torch.distributed.checkpoint folder written here as `dcp.save` lays one out (docs/SHARDED.md
/// §2), with knobs for what a test means to get wrong: tensors in chunks, each chunk a standalone
/// `torch.save` zip of float32 values at a range of a `.distcp` file, and a `.metadata` pickle of
/// NEWOBJ + BUILD dataclasses, `torch.Size` by REDUCE and TensorProperties from a 5-tuple.
public struct DCPFolder: Sendable {
    public struct Chunk: Sendable {
        public var offsets: [Int]
        public var sizes: [Int]
        /// The `.distcp` file the chunk is written to.
        public var file: String

        public init(offsets: [Int], sizes: [Int], file: String = "__0_0.distcp") {
            self.offsets = offsets
            self.sizes = sizes
            self.file = file
        }
    }

    public struct TensorEntry: Sendable {
        public var fqn: String
        public var size: [Int]
        public var chunks: [Chunk]

        public init(fqn: String, size: [Int], chunks: [Chunk]) {
            self.fqn = fqn
            self.size = size
            self.chunks = chunks
        }
    }

    /// One `storage_data` item as written: `MetadataIndex(fqn, offsets)` → `_StorageInfo`.
    public struct Range: Sendable {
        public var fqn: String
        public var offsets: [Int]
        public var file: String
        public var offset: Int
        public var length: Int
    }

    public var tensors: [TensorEntry]
    /// TensorProperties BUILT from a dict `{'dtype': …}` (torch before `__setstate__`) instead of a 5-tuple.
    public var propertiesAsDict = false
    /// Write `version` (torch 2.4 on) and `storage_meta`.
    public var newerFields = true
    /// Build `torch.Size` with this opcode (torch: REDUCE).
    public var sizeConstruction: PickleOpcode = .reduce

    public init(tensors: [TensorEntry]) { self.tensors = tensors }

    /// Element i of a tensor of `size` holds `i mod 65521`, exact in float32.
    public static func value(_ i: Int) -> Float { Float(i % 65521) }

    /// The chunk's values in row-major order, from the whole tensor's `value(i)`.
    public static func chunkValues(size: [Int], chunk: Chunk) -> [Float] {
        var strides = [Int](repeating: 1, count: size.count)
        var run = 1
        for d in stride(from: size.count - 1, through: 0, by: -1) { strides[d] = run; run *= size[d] }
        let count = chunk.sizes.reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(count)
        var index = [Int](repeating: 0, count: chunk.sizes.count)
        for _ in 0..<count {
            var at = 0
            for d in index.indices { at += (chunk.offsets[d] + index[d]) * strides[d] }
            out.append(value(at))
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < chunk.sizes[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// `torch.save(chunk)`: a bare float32 tensor of `shape`, its storage `archive/data/0`.
    public static func chunkBlob(_ values: [Float], shape: [Int]) -> [UInt8] {
        var t = PickleWriter()
        var strides = [Int](repeating: 1, count: shape.count)
        var run = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = run; run *= max(shape[d], 1) }
        t.tensorV2("FloatStorage", key: "0", numel: values.count, offset: 0, size: shape, stride: strides)
        t.op(.stop)
        return torchZip(archive: "archive", pickle: t.bytes, storages: [("0", values.withUnsafeBytes { Array($0) })])
    }

    /// Writes each chunk's blob to its file, in order, and returns the ranges they landed at
    /// (one per chunk, in tensor then chunk order), for `metadata(ranges:)`.
    public func writeBlobs(to folder: URL) throws -> [Range] {
        var files: [String: [UInt8]] = [:]
        var ranges: [Range] = []
        for entry in tensors {
            for chunk in entry.chunks {
                let values = DCPFolder.chunkValues(size: entry.size, chunk: chunk)
                let blob = DCPFolder.chunkBlob(values, shape: chunk.sizes)
                let at = files[chunk.file, default: []].count
                files[chunk.file, default: []] += blob
                ranges.append(Range(fqn: entry.fqn, offsets: chunk.offsets, file: chunk.file, offset: at,
                                    length: blob.count))
            }
        }
        for (name, bytes) in files { try Data(bytes).write(to: folder.appendingPathComponent(name)) }
        return ranges
    }

    /// The `.metadata` pickle for `ranges` (as written, or changed by the test).
    public func metadata(ranges: [Range]) -> [UInt8] {
        let meta = "torch.distributed.checkpoint.metadata"
        var p = PickleWriter(protocol: 4)
        func newobj(_ module: String, _ name: String) { p.global(module, name); p.op(.emptyTuple); p.op(.newobj) }
        func size(_ dims: [Int]) {
            p.global("torch", "Size")
            if sizeConstruction == .newobj {
                p.op(.mark); p.ints(dims); p.op(.tuple); p.op(.newobj)
                return
            }
            p.op(.mark); p.ints(dims); p.op(.tuple); p.op(.reduce)
        }
        func fields(_ module: String, _ name: String, _ items: [(String, () -> Void)]) {
            newobj(module, name)
            p.op(.emptyDict); p.op(.mark)
            for (key, push) in items { p.string(key); push() }
            p.op(.setitems); p.op(.build)
        }
        func properties() {
            newobj(meta, "TensorProperties")
            if propertiesAsDict {
                p.op(.emptyDict); p.string("dtype"); p.global("torch", "float32"); p.op(.setitem); p.op(.build)
                return
            }
            p.op(.mark); p.global("torch", "float32")
            p.global("torch.serialization", "_get_layout"); p.op(.mark); p.string("torch.strided")
            p.op(.tuple); p.op(.reduce); p.bool(false)
            p.global(meta, "_MEM_FORMAT_ENCODING"); p.op(.mark); p.int(0); p.op(.tuple); p.op(.reduce)
            p.bool(false); p.op(.tuple); p.op(.build)
        }
        var items: [(String, () -> Void)] = [
            ("state_dict_metadata", {
                p.op(.emptyDict); p.op(.mark)
                for entry in tensors {
                    p.string(entry.fqn)
                    fields(meta, "TensorStorageMetadata", [
                        ("properties", properties),
                        ("size", { size(entry.size) }),
                        ("chunks", {
                            p.op(.emptyList); p.op(.mark)
                            for c in entry.chunks {
                                fields(meta, "ChunkStorageMetadata", [("offsets", { size(c.offsets) }),
                                                                      ("sizes", { size(c.sizes) })])
                            }
                            p.op(.appends)
                        }),
                    ])
                }
                p.op(.setitems)
            }),
            ("storage_data", {
                p.op(.emptyDict); p.op(.mark)
                for (i, r) in ranges.enumerated() {
                    fields(meta, "MetadataIndex", [("fqn", { p.string(r.fqn) }), ("offset", { size(r.offsets) }),
                                                   ("index", { p.int(i) })])
                    fields("torch.distributed.checkpoint.filesystem", "_StorageInfo", [
                        ("relative_path", { p.string(r.file) }), ("offset", { p.int(r.offset) }),
                        ("length", { p.int(r.length) })])
                }
                p.op(.setitems)
            }),
        ]
        if newerFields {
            items.append(("storage_meta", {
                fields(meta, "StorageMeta", [("checkpoint_id", {
                    p.global("pathlib", "PosixPath"); p.op(.mark); p.string("ckpt"); p.op(.tuple); p.op(.reduce)
                })])
            }))
            items.append(("version", { p.string("1.0.0") }))
        }
        fields(meta, "Metadata", items)
        p.op(.stop)
        return p.bytes
    }

    /// Writes the folder (blobs, then `.metadata` over `edit(ranges)`) under a new temporary folder.
    public func write(edit: (inout [Range]) -> Void = { _ in }) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-dcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var ranges = try writeBlobs(to: folder)
        edit(&ranges)
        try Data(metadata(ranges: ranges)).write(to: folder.appendingPathComponent(".metadata"))
        return folder.path
    }
}
