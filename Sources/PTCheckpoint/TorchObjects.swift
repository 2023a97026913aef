import PTPickle
import PTTensor

/// A storage as `persistent_load` returns it: the bytes and the dtype they were saved as.
/// Legacy files can hand out a view of a root storage: `viewOffset` elements in, `viewCount` long.
final class StorageRef {
    let storage: Storage
    let viewOffset: Int
    let viewCount: Int?
    init(_ storage: Storage, viewOffset: Int = 0, viewCount: Int? = nil) {
        self.storage = storage
        self.viewOffset = viewOffset
        self.viewCount = viewCount
    }
}

/// A tensor built by one of torch's rebuild functions.
final class TensorBox {
    var tensor: Tensor
    /// Built through `_rebuild_parameter*` (an `nn.Parameter`).
    var isParameter: Bool
    init(_ tensor: Tensor, isParameter: Bool = false) {
        self.tensor = tensor
        self.isParameter = isParameter
    }
}

/// How torch's rebuild functions and a few plain-data callables are interpreted. Everything
/// else stays an opaque `PickleObject`: a name and its arguments, never a call. Called from the
/// pickle machine's `construct` hook, so it throws `HookError` only (`RebuildFault`, `TensorError`).
struct TorchInterpreter {
    let path: String

    func construct(_ callable: PickleGlobal, _ args: [PickleValue]) throws -> PickleValue? {
        switch (callable.module, callable.name) {
        case ("torch._utils", "_rebuild_tensor"):
            // (storage, storage_offset, size, stride): torch/_utils.py _rebuild_tensor
            try expectCount(callable, args, 4...4)
            let storage = try storageArg(callable, args[0])
            return .custom(TensorBox(try view(callable, storage, dtype: storage.storage.dtype, args[1], args[2],
                                              args[3], requiresGrad: false)))
        case ("torch._utils", "_rebuild_tensor_v2"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            try expectCount(callable, args, 6...7)
            let storage = try storageArg(callable, args[0])
            let requiresGrad = try boolArg(callable, args[4], "requires_grad")
            var t = try view(callable, storage, dtype: storage.storage.dtype, args[1], args[2], args[3],
                             requiresGrad: requiresGrad)
            if args.count == 7 { t = try applyMetadata(callable, args[6], t) }
            return .custom(TensorBox(t))
        case ("torch._utils", "_rebuild_tensor_v3"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata]):
            // the storage is untyped bytes; the dtype argument says how to read them.
            try expectCount(callable, args, 7...8)
            let storage = try storageArg(callable, args[0])
            let dtype = try dtypeArg(callable, args[6])
            let requiresGrad = try boolArg(callable, args[4], "requires_grad")
            var t = try view(callable, storage, dtype: dtype, args[1], args[2], args[3], requiresGrad: requiresGrad)
            if args.count == 8 { t = try applyMetadata(callable, args[7], t) }
            return .custom(TensorBox(t))
        case ("torch._utils", "_rebuild_parameter"):
            // (data, requires_grad, backward_hooks)
            try expectCount(callable, args, 3...3)
            return .custom(try parameter(callable, args[0], requiresGrad: args[1]))
        case ("torch._utils", "_rebuild_parameter_with_state"):
            // (data, requires_grad, backward_hooks, state): the state is python attributes on the
            // Parameter; they carry no tensor data.
            try expectCount(callable, args, 4...4)
            return .custom(try parameter(callable, args[0], requiresGrad: args[1]))
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch.tensor", "_rebuild_from_type_v2"):
            // (func, new_type, args, state): a tensor subclass; func rebuilds the plain tensor.
            try expectCount(callable, args, 4...4)
            guard case .global(let inner) = args[0], case .tuple(let innerArgs) = args[2] else {
                throw rebuildError(callable, .notFromTypeArguments)
            }
            guard let result = try construct(inner, innerArgs.items), case .custom(let box) = result,
                  box is TensorBox else {
                throw rebuildError(callable, .wrapsNonTensor(inner: "\(inner)"))
            }
            return result
        case ("torch._utils", "_rebuild_device_tensor_from_cpu_tensor"):
            // (data, dtype, device, requires_grad): the CPU tensor is the data.
            try expectCount(callable, args, 4...4)
            guard case .custom(let box as TensorBox) = args[0] else {
                throw rebuildError(callable, .firstArgumentNotATensor)
            }
            return .custom(box)
        case ("torch._utils", "_rebuild_sparse_tensor"), ("torch._utils", "_rebuild_qtensor"),
             ("torch._utils", "_rebuild_meta_tensor_no_storage"), ("torch._utils", "_rebuild_wrapper_subclass"),
             ("torch._utils", "_rebuild_nested_tensor"), ("torch._utils", "_rebuild_xla_tensor"),
             ("torch._utils", "_rebuild_mtia_tensor"), ("torch._utils", "_rebuild_device_tensor_from_numpy"):
            // Refused rather than dropped: leaving a tensor out would present a partial result.
            throw rebuildError(callable, .unsupportedTensorKind)
        case ("torch.jit._pickle", "build_intlist"), ("torch.jit._pickle", "build_tensorlist"),
             ("torch.jit._pickle", "build_doublelist"), ("torch.jit._pickle", "build_boollist"),
             ("torch.jit._pickle", "build_complexlist"):
            // TorchScript's typed lists: the list itself (torch/jit/_pickle.py).
            try expectCount(callable, args, 1...1)
            return args[0]
        case ("torch.jit._pickle", "restore_type_tag"):
            // (value, type string): the value.
            try expectCount(callable, args, 2...2)
            return args[0]
        case ("torch", "Size"):
            // torch.Size((d0, d1, …)) is a tuple.
            try expectCount(callable, args, 0...1)
            return args.first ?? PickleValue.none
        default:
            return nil
        }
    }

    // MARK: arguments

    private func expectCount(_ c: PickleGlobal, _ args: [PickleValue], _ range: ClosedRange<Int>) throws {
        guard range.contains(args.count) else {
            throw rebuildError(c, .argumentCount(expected: range, found: args.count))
        }
    }

    private func rebuildError(_ c: PickleGlobal, _ fault: CheckpointError.RebuildFault) -> HookError {
        HookError(reason: .rebuild(callable: c.description, fault))
    }

    private func storageArg(_ c: PickleGlobal, _ v: PickleValue) throws -> StorageRef {
        guard case .custom(let ref as StorageRef) = v else {
            throw rebuildError(c, .notAStorage(found: kindName(v)))
        }
        return ref
    }

    private func boolArg(_ c: PickleGlobal, _ v: PickleValue, _ name: String) throws -> Bool {
        switch v {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: return i == 1
        default: throw rebuildError(c, .notABool(name: name, found: kindName(v)))
        }
    }

    private func dtypeArg(_ c: PickleGlobal, _ v: PickleValue) throws -> DType {
        guard case .global(let g) = v, g.module == "torch", let d = DType(torchAttribute: g.name) else {
            throw rebuildError(c, .notADType(found: kindName(v)))
        }
        return d
    }

    private func intList(_ c: PickleGlobal, _ v: PickleValue, _ name: String) throws -> [Int] {
        let items: [PickleValue]
        switch v {
        case .tuple(let t): items = t.items
        case .list(let l): items = l.items
        default: throw rebuildError(c, .notAnIntTuple(name: name, found: kindName(v)))
        }
        guard items.count <= Tensor.maxRank else {
            throw HookError(reason: .tensor(key: nil, .absurdRank(rank: items.count, limit: Tensor.maxRank)))
        }
        return try items.map { item in
            guard case .int(let i) = item else { throw rebuildError(c, .notAnInt(name: name, found: kindName(item))) }
            return Int(i)
        }
    }

    private func view(_ c: PickleGlobal, _ ref: StorageRef, dtype: DType, _ offset: PickleValue, _ size: PickleValue,
                      _ stride: PickleValue, requiresGrad: Bool) throws -> Tensor {
        guard case .int(let off) = offset else { throw rebuildError(c, .offsetNotAnInt(found: kindName(offset))) }
        let shape = try intList(c, size, "size")
        let strides = try intList(c, stride, "stride")
        do {
            guard let viewCount = ref.viewCount else {
                return try Tensor(storage: ref.storage, dtype: dtype, shape: shape, strides: strides,
                                  storageOffset: Int(off), requiresGrad: requiresGrad)
            }
            // A legacy storage view: the tensor must fit the view (torch sets it on a storage of
            // the view's size), and is then placed on the root, `viewOffset` elements in.
            let bounds = Storage(key: ref.storage.key, dtype: dtype, byteCount: viewCount * dtype.itemSize,
                                 origin: ref.storage.origin) { StorageBytes(copying: []) }
            _ = try Tensor(storage: bounds, dtype: dtype, shape: shape, strides: strides, storageOffset: Int(off))
            return try Tensor(storage: ref.storage, dtype: dtype, shape: shape, strides: strides,
                              storageOffset: Int(off) + ref.viewOffset, requiresGrad: requiresGrad)
        } catch let e as TensorError {
            throw HookError(reason: .tensor(key: nil, e))
        }
    }

    private func parameter(_ c: PickleGlobal, _ data: PickleValue, requiresGrad: PickleValue) throws -> TensorBox {
        guard case .custom(let box as TensorBox) = data else {
            throw rebuildError(c, .dataNotATensor(found: kindName(data)))
        }
        var t = box.tensor
        t.requiresGrad = try boolArg(c, requiresGrad, "requires_grad")
        return TensorBox(t, isParameter: true)
    }

    /// `metadata` holds the conjugate and negative bits (`torch._utils.get_tensor_metadata`).
    /// A set bit changes what the values mean; ptload refuses rather than report wrong values.
    private func applyMetadata(_ c: PickleGlobal, _ v: PickleValue, _ t: Tensor) throws -> Tensor {
        guard case .dict(let d) = v else {
            if case .none = v { return t }
            throw rebuildError(c, .metadataNotADict(found: kindName(v)))
        }
        for (key, value) in d.items {
            if case .bool(false) = value { continue }
            throw rebuildError(c, .metadataSet(key: "\(key)", value: "\(value)"))
        }
        return t
    }
}

/// A short name for a value's kind, for error messages.
func kindName(_ v: PickleValue) -> String {
    switch v {
    case .none: return "None"
    case .bool: return "a bool"
    case .int, .bigInt: return "an int"
    case .float: return "a float"
    case .string: return "a str"
    case .bytes: return "bytes"
    case .tuple: return "a tuple"
    case .list: return "a list"
    case .dict: return "a dict"
    case .set: return "a set"
    case .global(let g): return "the global \(g)"
    case .object(let o): return "a \(o.callable) object"
    case .custom(let c):
        if c is TensorBox { return "a tensor" }
        if c is StorageRef { return "a storage" }
        return "an object"
    }
}
