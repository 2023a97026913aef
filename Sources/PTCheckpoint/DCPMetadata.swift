import PTPickle
import PTTensor

/// The `.metadata` pickle of a torch.distributed.checkpoint folder, decoded without running it
/// (`torch/distributed/checkpoint/metadata.py`; torch itself reads it with plain `pickle.load`).
///
/// Only the globals torch writes there are allowed (docs/SHARDED.md §2), whatever the policy:
/// the metadata dataclasses, built `NEWOBJ` + `BUILD`; `torch.Size`, `_get_layout`,
/// `_MEM_FORMAT_ENCODING` and `pathlib`'s paths, built with `REDUCE`; and `torch.<dtype>`.
/// Fields torch added over time (`strides`, `storage_meta`, `version`, `transform_descriptors`)
/// may be missing.
struct DCPMetadata {
    /// A box of a tensor: `offsets` and `sizes` per dimension.
    struct Chunk {
        let offsets: [Int]
        let sizes: [Int]
    }

    enum Entry {
        /// A tensor of `dtype` and shape `size`, stored in `chunks`.
        case tensor(dtype: DType, size: [Int], chunks: [Chunk])
        /// An object pickled on its own (`BytesStorageMetadata`).
        case object
    }

    /// Where one chunk or object lives: `offsets` nil for objects.
    struct Location {
        let fqn: String
        let offsets: [Int]?
        let relativePath: String
        let offset: Int
        let length: Int
    }

    /// `state_dict_metadata`, in pickle order (torch's state_dict order).
    let entries: [(fqn: String, entry: Entry)]
    /// `storage_data`, in pickle order.
    let locations: [Location]
    /// `version`, when the file has one.
    let version: String?
    /// Every global the pickle references, in first-seen order.
    let globals: [String]
    /// The pickle's protocol.
    let pickleProtocol: Int

    static let module = "torch.distributed.checkpoint.metadata"
    /// The dataclasses, built with NEWOBJ from no arguments and then BUILD.
    static let dataclasses: Set<String> = [
        module + ".Metadata", module + ".TensorStorageMetadata", module + ".TensorProperties",
        module + ".ChunkStorageMetadata", module + ".BytesStorageMetadata", module + ".MetadataIndex",
        module + ".StorageMeta", "torch.distributed.checkpoint.filesystem._StorageInfo",
    ]
    /// Callables applied with REDUCE.
    static let reduced: Set<String> = [
        "torch.Size", "torch.serialization._get_layout", module + "._MEM_FORMAT_ENCODING",
        "pathlib.PosixPath", "pathlib.WindowsPath",
    ]
    /// Every global the pickle may name: the constructors and every `torch.<dtype>` ptload knows
    /// (by its canonical name, the one a dtype pickles as).
    static let allowed: Set<String> = dataclasses.union(reduced).union(DType.allCases.map(\.torchName))

    /// Why `global` may not appear in DCP metadata, or nil when it may.
    static func refusal(for global: PickleGlobal) -> GlobalRefusal? {
        if allowed.contains(global.description) { return nil }
        if let why = GlobalPolicy.denial(global) { return .denied(why) }
        return .denied("is not one of the globals torch.distributed.checkpoint metadata holds")
    }

    /// Decodes `bytes`, the contents of the `.metadata` file at `path`.
    /// - Throws: `CheckpointError` for `path`: `.pickle` (malformed, over a limit),
    ///   `.refusedGlobal`, `.layout(.bytesAfterStop)`, or `.dcp` naming the value that is wrong.
    static func decode(_ bytes: UnsafeRawBufferPointer, path: String,
                       options: LoadOptions) throws(CheckpointError) -> DCPMetadata {
        let record = "the metadata pickle"
        var hooks = PickleHooks()
        hooks.resolveGlobal = { global in
            if let why = refusal(for: global) {
                throw HookError(reason: .refusedGlobal(record: record, global: global.description, why: why))
            }
        }
        hooks.construct = { callable, kind, args, _ in
            let name = callable.description
            let fits = kind == .newobj ? dataclasses.contains(name) && args.isEmpty
                : kind == .reduce && reduced.contains(name)
            guard fits else { throw HookError(reason: .dcp(.construction(callable: name, kind: kind.rawValue))) }
            return nil
        }
        let result: Unpickled
        do {
            let work = options.work
            result = try PTPickle.unpickle(bytes, hooks: hooks, limits: options.limits) {
                work?.add($0, bytes: bytes.count)
            }
        } catch let e as PickleError {
            throw CheckpointError(path: path, .pickle(record: record, e))
        } catch {
            throw CheckpointError.unerased(error, path: path)
        }
        guard result.bytesConsumed == bytes.count else {
            throw CheckpointError(path: path, .layout(.bytesAfterStop(
                record: ".metadata", count: bytes.count - result.bytesConsumed, stopOffset: result.bytesConsumed - 1)))
        }
        do {
            return try withExtendedLifetime(result) { () throws(HookError) in
                try DCPMetadata(root: result.root, globals: result.globals.map(\.description),
                                pickleProtocol: result.protocol)
            }
        } catch {
            throw CheckpointError(path: path, error.reason)
        }
    }

    private init(root: PickleValue, globals: [String], pickleProtocol: Int) throws(HookError) {
        self.globals = globals
        self.pickleProtocol = pickleProtocol
        let top = try Decoder.fields(root, "Metadata", at: "the metadata")
        guard let sdm = top.value(forStringKey: "state_dict_metadata") else {
            throw Decoder.malformed("the metadata", "a Metadata with state_dict_metadata", "a Metadata without it")
        }
        guard case .dict(let entryDict) = sdm else {
            throw Decoder.malformed("state_dict_metadata", "a dict", sdm.kindName)
        }
        var entries: [(fqn: String, entry: Entry)] = []
        for (key, value) in entryDict.items {
            guard case .string(let fqn) = key else {
                throw Decoder.malformed("a state_dict_metadata key", "a str", key.kindName)
            }
            entries.append((fqn, try Decoder.entry(value, fqn: fqn)))
        }
        self.entries = entries

        var locations: [Location] = []
        if let sd = top.value(forStringKey: "storage_data") {
            guard case .dict(let storage) = sd else { throw Decoder.malformed("storage_data", "a dict", sd.kindName) }
            for (key, value) in storage.items { locations.append(try Decoder.location(key, value)) }
        }
        self.locations = locations

        switch top.value(forStringKey: "version") {
        case nil, .some(.none): version = nil
        case .some(.string(let v)): version = v
        case .some(let other): throw Decoder.malformed("the metadata's version", "a str", other.kindName)
        }
    }
}

/// Reading the opaque objects the machine built back into values, refusing anything else.
private enum Decoder {
    static func malformed(_ at: String, _ expected: String, _ found: String) -> HookError {
        HookError(reason: .dcp(.malformed(at: at, expected: expected, found: found)))
    }

    /// The BUILD state (a dict) of a `className` dataclass; an empty dict when it has none.
    static func fields(_ value: PickleValue, _ className: String, at: String) throws(HookError) -> PickleDict {
        guard case .object(let o) = value, o.kind == .newobj, o.callable.name == className else {
            throw malformed(at, "a \(className)", value.kindName)
        }
        switch o.state {
        case nil, .some(.none): return PickleDict()
        case .some(.dict(let d)): return d
        case .some(let other): throw malformed(at, "a \(className) built from a dict", "built from \(other.kindName)")
        }
    }

    static func entry(_ value: PickleValue, fqn: String) throws(HookError) -> DCPMetadata.Entry {
        let at = "state_dict_metadata['\(fqn)']"
        if case .object(let o) = value, o.callable.name == "BytesStorageMetadata" {
            _ = try fields(value, "BytesStorageMetadata", at: at)
            return .object
        }
        let f = try fields(value, "TensorStorageMetadata", at: at)
        let dtype = try self.dtype(f.value(forStringKey: "properties"), fqn: fqn, at: at + ".properties")
        let size = try self.size(f.value(forStringKey: "size"), at: at + ".size")
        guard case .list(let list)? = f.value(forStringKey: "chunks") else {
            throw malformed(at + ".chunks", "a list", f.value(forStringKey: "chunks")?.kindName ?? "missing")
        }
        var chunks: [DCPMetadata.Chunk] = []
        for (i, item) in list.items.enumerated() {
            let c = try fields(item, "ChunkStorageMetadata", at: at + ".chunks[\(i)]")
            chunks.append(DCPMetadata.Chunk(
                offsets: try self.size(c.value(forStringKey: "offsets"), at: at + ".chunks[\(i)].offsets"),
                sizes: try self.size(c.value(forStringKey: "sizes"), at: at + ".chunks[\(i)].sizes")))
        }
        return .tensor(dtype: dtype, size: size, chunks: chunks)
    }

    /// `TensorProperties`' dtype: BUILT from `(dtype, layout, requires_grad, memory_format,
    /// pin_memory[, strides])` by `__setstate__`, or from a dict in torch versions without it.
    static func dtype(_ value: PickleValue?, fqn: String, at: String) throws(HookError) -> DType {
        guard case .object(let o)? = value, o.kind == .newobj, o.callable.name == "TensorProperties" else {
            throw malformed(at, "a TensorProperties", value?.kindName ?? "missing")
        }
        let found: PickleValue?
        switch o.state {
        case .some(.tuple(let t)) where t.items.count == 5 || t.items.count == 6: found = t.items[0]
        case .some(.dict(let d)): found = d.value(forStringKey: "dtype")
        default: throw malformed(at, "a TensorProperties built from a 5- or 6-tuple", o.state?.kindName ?? "no state")
        }
        guard case .global(let g)? = found, g.module == "torch" else {
            throw malformed(at + ".dtype", "a torch dtype", found?.kindName ?? "missing")
        }
        guard let dtype = DType(torchAttribute: g.name) else {
            throw HookError(reason: .dcp(.unknownDType(fqn: fqn, found: g.description)))
        }
        return dtype
    }

    /// A `torch.Size` (REDUCE of `torch.Size` on a 1-tuple holding a tuple of ints).
    static func size(_ value: PickleValue?, at: String) throws(HookError) -> [Int] {
        guard case .object(let o)? = value, o.kind == .reduce, o.callable.description == "torch.Size",
              o.args.count == 1, case .tuple(let dims) = o.args[0] else {
            throw malformed(at, "a torch.Size", value?.kindName ?? "missing")
        }
        var out: [Int] = []
        for item in dims.items {
            guard case .int(let v) = item, let i = Int(exactly: v) else {
                throw malformed(at, "a torch.Size of ints", "a torch.Size holding \(item.kindName)")
            }
            out.append(i)
        }
        return out
    }

    static func int(_ value: PickleValue?, at: String) throws(HookError) -> Int {
        guard case .int(let v)? = value, let i = Int(exactly: v) else {
            throw malformed(at, "an int", value?.kindName ?? "missing")
        }
        return i
    }

    /// One `storage_data` item: `MetadataIndex(fqn, offset, index)` → `_StorageInfo(relative_path,
    /// offset, length[, transform_descriptors])`.
    static func location(_ key: PickleValue, _ value: PickleValue) throws(HookError) -> DCPMetadata.Location {
        let k = try fields(key, "MetadataIndex", at: "a storage_data key")
        guard case .string(let fqn)? = k.value(forStringKey: "fqn") else {
            throw malformed("a storage_data key's fqn", "a str", k.value(forStringKey: "fqn")?.kindName ?? "missing")
        }
        let at = "storage_data['\(fqn)']"
        var offsets: [Int]?
        if let o = k.value(forStringKey: "offset"), !o.isNone { offsets = try size(o, at: at + " offset") }
        let v = try fields(value, "_StorageInfo", at: at)
        guard case .string(let relativePath)? = v.value(forStringKey: "relative_path") else {
            throw malformed(at + ".relative_path", "a str", v.value(forStringKey: "relative_path")?.kindName
                ?? "missing")
        }
        if let t = v.value(forStringKey: "transform_descriptors"), !t.isNone {
            guard case .list(let l) = t, l.items.isEmpty else {
                throw malformed(at + ".transform_descriptors", "None (no storage transform)", t.kindName)
            }
        }
        return DCPMetadata.Location(fqn: fqn, offsets: offsets, relativePath: relativePath,
                                    offset: try int(v.value(forStringKey: "offset"), at: at + ".offset"),
                                    length: try int(v.value(forStringKey: "length"), at: at + ".length"))
    }
}
