import PTPickle
import PTTensor

/// Flattens an unpickled value into dotted keys, the keys `model.state_dict()` would give:
///
/// - dicts join their keys (`model_state_dict.lstm.weight_ih_l0`; int keys in decimal),
///   lists and tuples their indices (`history.0`);
/// - a pickled `nn.Module` lists its `_parameters`, then its persistent `_buffers`, then each of
///   its `_modules` in order (`torch/nn/modules/module.py state_dict`);
/// - a TorchScript object (`__torch__.*`) lists its tensor attributes and submodules in order;
/// - an opaque object (argparse.Namespace, a user class) is walked through its pickled state.
///
/// The walk is depth-limited and skips containers already on its path, so cycles end. It is also
/// step-limited: a value shared by reference is walked each time it is met (its tensors get one
/// key per path, as `state_dict()` gives a shared submodule's), except containers already found to
/// hold no tensors, so a DAG that expands exponentially (a billion laughs) stops at `maxSteps`.
struct StateDictWalker {
    let path: String
    let maxDepth: Int
    let maxSteps: Int
    let torchScript: Bool
    /// TorchScript only: which attributes are parameters and buffers.
    var declarations: ScriptDeclarations?
    private(set) var tensors: [NamedTensor] = []
    private(set) var modules: [ModuleInfo] = []
    private var onPath: Set<ObjectIdentifier> = []
    /// Containers whose walk listed no tensor and no module: not walked again.
    private var barren: Set<ObjectIdentifier> = []
    private var steps = 0
    private let work: LoadWork?

    init(path: String, options: LoadOptions, torchScript: Bool) {
        self.path = path
        self.maxDepth = options.maxWalkDepth
        self.maxSteps = options.maxWalkSteps
        self.work = options.work
        self.torchScript = torchScript
    }

    private mutating func step() throws(CheckpointError) {
        steps += 1
        work?.walkSteps += 1
        guard steps <= maxSteps else { throw CheckpointError(path: path, .walkTooLong(limit: maxSteps)) }
    }

    /// Walks the file's root object.
    mutating func walkRoot(_ root: PickleValue) throws(CheckpointError) {
        try walk(root, prefix: "", depth: 0)
    }

    mutating func walk(_ value: PickleValue, prefix: String, depth: Int) throws(CheckpointError) {
        guard depth <= maxDepth else { throw CheckpointError(path: path, .tooDeep(limit: maxDepth)) }
        switch value {
        case .custom(let box as TensorBox):
            try step()
            tensors.append(NamedTensor(key: prefix, tensor: box.tensor, isParameter: box.isParameter))
        case .dict(let d):
            try enter(d) { walker throws(CheckpointError) in
                try walker.walkPairs(d.items, prefix: prefix, depth: depth)
            }
        case .list(let l):
            try enter(l) { walker throws(CheckpointError) in
                try walker.walkItems(l.items, prefix: prefix, depth: depth)
            }
        case .tuple(let t):
            try enter(t) { walker throws(CheckpointError) in
                try walker.walkItems(t.items, prefix: prefix, depth: depth)
            }
        case .object(let o):
            try enter(o) { walker throws(CheckpointError) in try walker.walkObject(o, prefix: prefix, depth: depth) }
        default:
            break
        }
    }

    private mutating func enter(
        _ container: AnyObject,
        _ body: (inout StateDictWalker) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let id = ObjectIdentifier(container)
        guard !onPath.contains(id), !barren.contains(id) else { return }
        try step()
        let (tensorCount, moduleCount) = (tensors.count, modules.count)
        onPath.insert(id)
        defer { onPath.remove(id) }
        try body(&self)
        if tensors.count == tensorCount && modules.count == moduleCount { barren.insert(id) }
    }

    private mutating func walkPairs(_ pairs: [(key: PickleValue, value: PickleValue)], prefix: String,
                                    depth: Int) throws(CheckpointError) {
        for (key, value) in pairs {
            guard let name = StateDictWalker.keyName(key) else { continue }
            try walk(value, prefix: join(prefix, name), depth: depth + 1)
        }
    }

    private mutating func walkItems(_ items: [PickleValue], prefix: String, depth: Int) throws(CheckpointError) {
        for (i, item) in items.enumerated() {
            try walk(item, prefix: join(prefix, String(i)), depth: depth + 1)
        }
    }

    private mutating func walkObject(_ o: PickleObject, prefix: String, depth: Int) throws(CheckpointError) {
        let cls = StateDictWalker.className(o)
        if InterpretedGlobals.dictClasses.contains(cls) {
            // OrderedDict([(k, v), …]) in protocol 0/1, or items set afterwards by SETITEMS.
            // (defaultdict's first argument is its default factory, not items.)
            if cls != "collections.defaultdict", let first = o.args.first {
                try walkPairList(first, prefix: prefix, depth: depth)
            }
            try walkPairs(o.dictItems, prefix: prefix, depth: depth)
            return
        }
        let state = StateDictWalker.stateDict(o)
        if let state, StateDictWalker.isModuleState(state) {
            try walkModule(cls, state, prefix: prefix, depth: depth)
        } else if torchScript, o.callable.module.hasPrefix("__torch__"), let state {
            try walkScriptObject(cls, state, prefix: prefix, depth: depth)
        } else {
            // An opaque object: its tensors are still listed, under its attribute names.
            if let stateValue = o.state { try walk(stateValue, prefix: prefix, depth: depth + 1) }
            try walkItems(o.listItems, prefix: prefix, depth: depth)
            try walkPairs(o.dictItems, prefix: prefix, depth: depth)
        }
    }

    private mutating func walkPairList(_ value: PickleValue, prefix: String, depth: Int) throws(CheckpointError) {
        let items: [PickleValue]
        switch value {
        case .list(let l): items = l.items
        case .tuple(let t): items = t.items
        default: return
        }
        for item in items {
            let pair: [PickleValue]
            switch item {
            case .list(let l): pair = l.items
            case .tuple(let t): pair = t.items
            default: continue
            }
            guard pair.count == 2, let name = StateDictWalker.keyName(pair[0]) else { continue }
            try walk(pair[1], prefix: join(prefix, name), depth: depth + 1)
        }
    }

    /// `nn.Module.state_dict`: parameters, persistent buffers, then children, recursively.
    private mutating func walkModule(_ cls: String, _ state: [(key: String, value: PickleValue)], prefix: String,
                                     depth: Int) throws(CheckpointError) {
        guard depth <= maxDepth else { throw CheckpointError(path: path, .tooDeep(limit: maxDepth)) }
        let attributes = Dictionary(state.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        modules.append(ModuleInfo(path: prefix, className: cls,
                                  config: StateDictWalker.config(state, includePrivate: false)))
        let nonPersistent = StateDictWalker.stringSet(attributes["_non_persistent_buffers_set"])
        for (name, value) in StateDictWalker.pairs(attributes["_parameters"]) {
            if case .custom(let box as TensorBox) = value {
                tensors.append(NamedTensor(key: join(prefix, name), tensor: box.tensor, isParameter: box.isParameter))
            }
        }
        for (name, value) in StateDictWalker.pairs(attributes["_buffers"])
            where !nonPersistent.contains(ExactName(name)) {
            if case .custom(let box as TensorBox) = value {
                tensors.append(NamedTensor(key: join(prefix, name), tensor: box.tensor, isParameter: box.isParameter))
            }
        }
        for (name, value) in StateDictWalker.pairs(attributes["_modules"]) {
            guard case .object(let child) = value else { continue }
            try enter(child) { walker throws(CheckpointError) in
                let childState = StateDictWalker.stateDict(child) ?? []
                if StateDictWalker.isModuleState(childState) {
                    try walker.walkModule(StateDictWalker.className(child), childState, prefix: join(prefix, name),
                                          depth: depth + 1)
                }
            }
        }
    }

    /// A TorchScript object, as `ScriptModule.state_dict()` lists it: its declared parameters,
    /// then its declared buffers, then each `__torch__` submodule, recursively. Without a
    /// declaration, every tensor attribute in attribute order.
    private mutating func walkScriptObject(_ cls: String, _ state: [(key: String, value: PickleValue)], prefix: String,
                                           depth: Int) throws(CheckpointError) {
        guard depth <= maxDepth else { throw CheckpointError(path: path, .tooDeep(limit: maxDepth)) }
        modules.append(ModuleInfo(path: prefix, className: cls,
                                  config: StateDictWalker.config(state, includePrivate: false)))
        func appendTensors(_ names: Set<ExactName>?) {
            for (name, value) in state where names?.contains(ExactName(name)) ?? true {
                if case .custom(let box as TensorBox) = value {
                    tensors.append(NamedTensor(key: join(prefix, name), tensor: box.tensor,
                                               isParameter: box.isParameter))
                }
            }
        }
        if let declaration = declarations?.declaration(of: cls) {
            appendTensors(Set(declaration.parameters.map(ExactName.init)))
            appendTensors(Set(declaration.buffers.map(ExactName.init)))
        } else {
            appendTensors(nil)
        }
        for (name, value) in state {
            guard case .object(let child) = value, child.callable.module.hasPrefix("__torch__") else { continue }
            try enter(child) { walker throws(CheckpointError) in
                if let childState = StateDictWalker.stateDict(child) {
                    try walker.walkScriptObject(StateDictWalker.className(child), childState,
                                                prefix: join(prefix, name), depth: depth + 1)
                }
            }
        }
    }

    // MARK: reading pickled objects

    /// The class an object stands for: the NEWOBJ class, or `copyreg._reconstructor`'s first
    /// argument (protocol 0/1 full-module pickles).
    static func className(_ o: PickleObject) -> String {
        if InterpretedGlobals.reconstructors.contains(o.callable.description),
           let first = o.args.first, case .global(let cls) = first {
            return cls.description
        }
        return o.callable.description
    }

    /// The object's `__dict__` as string-keyed pairs, when BUILD gave it one.
    static func stateDict(_ o: PickleObject) -> [(key: String, value: PickleValue)]? {
        guard let state = o.state else { return nil }
        switch state {
        case .dict(let d):
            return d.items.compactMap { pair in keyName(pair.key).map { ($0, pair.value) } }
        case .tuple(let t) where t.items.count == 2:
            // (state, slotstate) from __getstate__ with __slots__.
            if case .dict(let d) = t.items[0] {
                return d.items.compactMap { pair in keyName(pair.key).map { ($0, pair.value) } }
            }
            return nil
        default:
            return nil
        }
    }

    static func isModuleState(_ state: [(key: String, value: PickleValue)]) -> Bool {
        state.contains { $0.key == "_parameters" } && state.contains { $0.key == "_modules" }
    }

    static func keyName(_ key: PickleValue) -> String? {
        switch key {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "True" : "False"
        default: return nil
        }
    }

    /// Pairs of an OrderedDict or dict value, in order.
    static func pairs(_ value: PickleValue?) -> [(String, PickleValue)] {
        guard let value else { return [] }
        let raw: [(key: PickleValue, value: PickleValue)]
        switch value {
        case .dict(let d): raw = d.items
        case .object(let o): raw = o.dictItems
        default: return []
        }
        return raw.compactMap { pair in keyName(pair.key).map { ($0, pair.value) } }
    }

    static func stringSet(_ value: PickleValue?) -> Set<ExactName> {
        guard let value else { return [] }
        switch value {
        case .set(let s):
            return Set(s.items.compactMap { if case .string(let x) = $0 { return ExactName(x) } else { return nil } })
        case .object(let o):
            // builtins.set([…]) in protocol 2.
            guard let first = o.args.first, case .list(let l) = first else { return [] }
            return Set(l.items.compactMap { if case .string(let x) = $0 { return ExactName(x) } else { return nil } })
        default: return []
        }
    }

    static func config(_ state: [(key: String, value: PickleValue)],
                       includePrivate: Bool) -> [(name: String, value: ConfigValue)] {
        state.compactMap { pair in
            if pair.key == "training" || (!includePrivate && pair.key.hasPrefix("_")) { return nil }
            switch pair.value {
            case .none: return (pair.key, .none)
            case .bool(let b): return (pair.key, .bool(b))
            case .int(let i): return (pair.key, .int(i))
            case .float(let d): return (pair.key, .double(d))
            case .string(let s): return (pair.key, .string(s))
            default: return nil
            }
        }
    }
}

/// `prefix.name`, or `name` at the root.
private func join(_ prefix: String, _ name: String) -> String {
    prefix.isEmpty ? name : prefix + "." + name
}
