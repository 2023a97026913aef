import PTPickle
import PTTensor

/// Runs one pickle of a checkpoint under the globals policy, with torch's rebuild functions
/// interpreted and persistent ids resolved by `persistentLoad`.
struct PickleReading {
    let path: String
    let record: String
    let options: LoadOptions

    /// - Throws: `CheckpointError`: the pickle machine's own `PickleError` for `record`, or
    ///   what a hook refused (`HookError`), given the path.
    func unpickle(_ bytes: UnsafeRawBufferPointer,
                  persistentLoad: ((PickleValue) throws -> PickleValue)?) throws(CheckpointError) -> Unpickled {
        let interpreter = TorchInterpreter(path: path)
        let policy = options.policy
        let record = self.record
        var hooks = PickleHooks()
        hooks.resolveGlobal = { global in
            if let why = policy.refusal(for: global) {
                throw HookError(reason: .refusedGlobal(record: record, global: global.description, why: why))
            }
        }
        hooks.persistentLoad = persistentLoad
        hooks.construct = { callable, _, args, _ in try interpreter.construct(callable, args) }
        do {
            let work = options.work
            return try PTPickle.unpickle(bytes, hooks: hooks, limits: options.limits) {
                work?.add($0, bytes: bytes.count)
            }
        } catch let e as PickleError {
            throw CheckpointError(path: path, .pickle(record: record, e))
        } catch {
            throw CheckpointError.unerased(error, path: path)
        }
    }
}

/// The fields of a persistent id tuple, decoded: `('storage', <storage class>, key, location, numel)`
/// plus, in legacy files, a sixth `view_metadata` field.
struct StorageID {
    let dtype: DType
    let key: String
    let location: String
    let numel: Int
    let byteCount: Int
    /// Legacy only: (view key, offset, size) in elements of `dtype`, or nil.
    let view: (key: String, offset: Int, size: Int)?

    /// Decodes and checks a persistent id (`torch/serialization.py persistent_load`).
    /// - Parameter fields: 5 for zip and TorchScript files, 6 for legacy files.
    /// - Throws: `HookError` with a `StorageFault`.
    init(_ pid: PickleValue, fields: Int) throws(HookError) {
        func fault(_ fault: CheckpointError.StorageFault) -> HookError { HookError(reason: .storage(fault)) }
        guard case .tuple(let t) = pid else {
            throw fault(.idNotATuple(found: kindName(pid)))
        }
        let items = t.items
        guard let first = items.first, let typename = StorageID.text(first) else {
            throw fault(.idWithoutTypeName(found: "\(pid)"))
        }
        guard typename == "storage" else {
            throw fault(.idNotAStorage(typeName: typename))
        }
        guard items.count == fields else {
            throw fault(.idFieldCount(found: items.count, expected: fields))
        }
        // `torch.FloatStorage` and friends, or `torch.storage.UntypedStorage` (bytes, for the
        // dtypes `_rebuild_tensor_v3` rebuilds); `torch.cuda.*Storage` in files from GPUs.
        guard case .global(let cls) = items[1],
              ["torch", "torch.cuda", "torch.storage"].contains(cls.module),
              let dtype = DType(storageClass: cls.name) else {
            throw fault(.unknownStorageClass(found: "\(items[1])"))
        }
        guard let key = StorageID.text(items[2]), StorageID.isPlainKey(key) else {
            throw fault(.keyNotPlain(found: "\(items[2])"))
        }
        guard let location = StorageID.text(items[3]) else {
            throw fault(.badLocation(key: key, found: "\(items[3])"))
        }
        guard case .int(let n) = items[4], n >= 0 else {
            throw fault(.badSize(key: key, found: "\(items[4])"))
        }
        let (bytes, overflow) = Int(n).multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else {
            throw fault(.sizeOverflow(key: key, elements: n, dtype: dtype))
        }
        self.dtype = dtype
        self.key = key
        self.location = location
        self.numel = Int(n)
        self.byteCount = bytes
        if fields == 6, case .tuple(let v) = items[5] {
            guard v.items.count == 3, let viewKey = StorageID.text(v.items[0]), StorageID.isPlainKey(viewKey),
                  case .int(let off) = v.items[1], case .int(let size) = v.items[2], off >= 0, size >= 0 else {
                throw fault(.malformedView(key: key, found: "\(items[5])"))
            }
            self.view = (viewKey, Int(off), Int(size))
        } else if fields == 6, case .none = items[5] {
            self.view = nil
        } else if fields == 6 {
            throw fault(.badViewMetadata(key: key, found: "\(items[5])"))
        } else {
            self.view = nil
        }
    }

    /// Python 2 era files pickle these names as bytes; torch decodes them as ASCII.
    static func text(_ v: PickleValue) -> String? {
        switch v {
        case .string(let s): return s
        case .bytes(let b): return b.bytes.allSatisfy({ $0 < 0x80 }) ? String(decoding: b.bytes, as: UTF8.self) : nil
        default: return nil
        }
    }

    /// A record key must name a file directly under `data/`: no separators, no dot paths.
    static func isPlainKey(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 256, key != ".", key != ".." else { return false }
        return key.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E
                || c == 0x2D
        }
    }
}
