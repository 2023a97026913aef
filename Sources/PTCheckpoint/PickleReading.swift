import PTPickle
import PTTensor

/// Runs one pickle of a checkpoint under the globals policy, with torch's rebuild functions
/// interpreted and persistent ids resolved by `persistentLoad`.
struct PickleReading {
    let path: String
    let record: String
    let options: LoadOptions

    func unpickle(_ bytes: UnsafeRawBufferPointer,
                  persistentLoad: ((PickleValue) throws -> PickleValue)?) throws -> Unpickled {
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
            return try PTPickle.unpickle(bytes, hooks: hooks, limits: options.limits) { work?.add($0, bytes: bytes.count) }
        } catch let e as HookError {
            throw CheckpointError(path: path, e.reason)
        } catch let e as PickleError {
            throw CheckpointError(path: path, .pickle(record: record, e))
        } catch let e as CheckpointError {
            throw e
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
    init(_ pid: PickleValue, fields: Int) throws {
        guard case .tuple(let t) = pid else {
            throw HookError(reason: .storage("persistent id must be a tuple, got \(kindName(pid))"))
        }
        let items = t.items
        guard let first = items.first, let typename = StorageID.text(first) else {
            throw HookError(reason: .storage("persistent id must start with a type name, got \(pid)"))
        }
        guard typename == "storage" else {
            throw HookError(reason: .storage("persistent id has type '\(typename)'; expected 'storage'"))
        }
        guard items.count == fields else {
            throw HookError(reason: .storage("storage persistent id has \(items.count) fields; expected \(fields)"))
        }
        // `torch.FloatStorage` and friends, or `torch.storage.UntypedStorage` (bytes, for the
        // dtypes `_rebuild_tensor_v3` rebuilds); `torch.cuda.*Storage` in files from GPUs.
        guard case .global(let cls) = items[1],
              ["torch", "torch.cuda", "torch.storage"].contains(cls.module),
              let dtype = DType(storageClass: cls.name) else {
            throw HookError(reason: .storage("storage persistent id names \(items[1]), not a known torch storage class"))
        }
        guard let key = StorageID.text(items[2]), StorageID.isPlainKey(key) else {
            throw HookError(reason: .storage("storage key \(items[2]) is not a plain record name"))
        }
        guard let location = StorageID.text(items[3]) else {
            throw HookError(reason: .storage("storage '\(key)' has location \(items[3]); expected a string"))
        }
        guard case .int(let n) = items[4], n >= 0 else {
            throw HookError(reason: .storage("storage '\(key)' has size \(items[4]); expected a non-negative int"))
        }
        let (bytes, overflow) = Int(n).multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else {
            throw HookError(reason: .storage("storage '\(key)' declares \(n) elements of \(dtype.rawValue), which overflows"))
        }
        self.dtype = dtype
        self.key = key
        self.location = location
        self.numel = Int(n)
        self.byteCount = bytes
        if fields == 6, case .tuple(let v) = items[5] {
            guard v.items.count == 3, let viewKey = StorageID.text(v.items[0]), StorageID.isPlainKey(viewKey),
                  case .int(let off) = v.items[1], case .int(let size) = v.items[2], off >= 0, size >= 0 else {
                throw HookError(reason: .storage("storage '\(key)' has malformed view metadata \(items[5])"))
            }
            self.view = (viewKey, Int(off), Int(size))
        } else if fields == 6, case .none = items[5] {
            self.view = nil
        } else if fields == 6 {
            throw HookError(reason: .storage("storage '\(key)' has view metadata \(items[5]); expected None or a tuple"))
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
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
        }
    }
}
