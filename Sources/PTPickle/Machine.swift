// The pickle virtual machine: a stack with marks, a memo, and one `switch` over the opcodes,
// following CPython's Lib/pickle.py `_Unpickler` and Modules/_pickle.c. It builds values and
// never calls anything: GLOBAL is a name, callables go through the hooks.

/// The memo: index → value. Indices written in order (MEMOIZE, and BINPUT as picklers use it)
/// live in an array; arbitrary ones (LONG_BINPUT 4000000000) in a dictionary.
struct Memo {
    private var dense: [PickleValue] = []
    private var sparse: [Int: PickleValue] = [:]
    private(set) var count = 0

    func get(_ index: Int) -> PickleValue? {
        if index >= 0 && index < dense.count { return dense[index] }
        return sparse[index]
    }

    func contains(_ index: Int) -> Bool {
        (index >= 0 && index < dense.count) || sparse[index] != nil
    }

    mutating func put(_ index: Int, _ value: PickleValue) {
        if index < dense.count {
            dense[index] = value
        } else if index == dense.count {
            // Invariant: no sparse key is below dense.count.
            if sparse.removeValue(forKey: index) == nil { count += 1 }
            dense.append(value)
        } else if sparse.updateValue(value, forKey: index) == nil {
            count += 1
        }
    }
}

struct Machine {
    let hooks: PickleHooks
    let limits: PickleLimits
    var cursor: Cursor
    let arena = PickleArena()

    private var stack: [PickleValue] = []
    /// Stack heights at each MARK. Values below the topmost mark are out of reach (python's metastack).
    private var marks: [Int] = []
    private var memo = Memo()
    private var opcodeCount = 0
    private var materialized = 0
    /// Key work allowed for this pickle, and what is left of it.
    private let keyBudget: Int
    private var keyBudgetLeft: Int
    /// Offset of the opcode being executed, and the opcode.
    private var at = 0
    private var op: PickleOpcode = .stop
    /// Where the current FRAME ends (0 before the first): no opcode may cross it.
    private var frameEnd = 0

    private(set) var declaredProtocol: Int?
    private(set) var highestOpcodeProtocol = 0
    private(set) var globals: [PickleGlobal] = []
    private var globalsSeen: Set<PickleGlobal> = []

    init(_ bytes: UnsafeRawBufferPointer, hooks: PickleHooks, limits: PickleLimits) {
        cursor = Cursor(bytes)
        self.hooks = hooks
        self.limits = limits
        keyBudget = limits.keyWorkBudget(length: bytes.count)
        keyBudgetLeft = keyBudget
    }

    /// What the run has cost so far.
    var work: PickleWork {
        var w = PickleWork()
        w.opcodes = opcodeCount
        w.materializedBytes = materialized
        w.keyWork = keyBudget - keyBudgetLeft
        return w
    }

    mutating func dropWorkingState() {
        stack = []
        marks = []
        memo = Memo()
    }

    // MARK: - The loop

    mutating func run() throws -> PickleValue {
        while true {
            // The previous opcode began inside a frame and ended past it: the frame lied.
            if at < frameEnd && cursor.offset > frameEnd {
                throw PickleError.frameOverrun(offset: at, opcode: op, frameEnd: frameEnd)
            }
            at = cursor.offset
            let byte = try cursor.u8()
            guard let opcode = PickleOpcode(rawValue: byte) else {
                throw PickleError.unknownOpcode(byte: byte, offset: at)
            }
            op = opcode
            opcodeCount += 1
            guard opcodeCount <= limits.maxOpcodes else {
                throw PickleError.tooManyOpcodes(limit: limits.maxOpcodes, offset: at)
            }
            let introduced = opcode.protocolIntroduced
            if introduced > highestOpcodeProtocol { highestOpcodeProtocol = introduced }

            switch opcode {
            // MARK: stack manipulation
            case .mark:
                try checkRoom()
                marks.append(stack.count)
            case .stop:
                return try pop()
            case .pop:
                // python: pop the top value, or, when the current frame is empty, the mark itself.
                if stack.count > fence {
                    stack.removeLast()
                } else if !marks.isEmpty {
                    marks.removeLast()
                } else {
                    throw PickleError.stackUnderflow(offset: at, opcode: op)
                }
            case .popMark:
                _ = try popMark()
            case .dup:
                try push(try top())

            // MARK: scalars
            case .none:
                try push(.none)
            case .newtrue:
                try push(.bool(true))
            case .newfalse:
                try push(.bool(false))
            case .int:
                let line = try cursor.line()
                // Protocol 0 writes True/False as INT "01" / "00" (exactly these two texts).
                if line.count == 2, line[0] == 0x30, line[1] == 0x30 || line[1] == 0x31 {
                    try push(.bool(line[1] == 0x31))
                } else {
                    try push(try integer(line))
                }
            case .binint:
                try push(.int(Int64(try cursor.i32le())))
            case .binint1:
                try push(.int(Int64(try cursor.u8())))
            case .binint2:
                try push(.int(Int64(try cursor.u16le())))
            case .long:
                var line = try cursor.line()
                // Protocol 0 LONG text ends with 'L' (python 2 repr); python 3 accepts it without.
                if let last = line.last, last == 0x4C {
                    line = UnsafeRawBufferPointer(rebasing: line.dropLast())
                }
                try push(try integer(line))
            case .long1:
                let n = Int(try cursor.u8())
                try account(n)
                try push(try longBytes(try cursor.bytes(n)))
            case .long4:
                // LONG4's length is signed (python: "LONG pickle has negative byte count").
                let declared = try cursor.i32le()
                guard declared >= 0 else {
                    throw PickleError.negativeLength(offset: at, opcode: op, length: Int64(declared))
                }
                let n = try cursor.checkedLength(UInt64(declared), opcode: op, opcodeOffset: at)
                try account(n)
                try push(try longBytes(try cursor.bytes(n)))
            case .float:
                let line = try cursor.line()
                try push(.float(try parse { try Text.float(line) }))
            case .binfloat:
                // BINFLOAT is big-endian, unlike every other binary argument.
                try push(.float(Double(bitPattern: try cursor.u64be())))

            // MARK: strings and bytes
            case .string:
                // A python-2 str repr: quoted with ' or ", backslash escapes; decoded as latin-1.
                let line = try cursor.line()
                try account(line.count)
                guard line.count >= 2, let q = line.first, q == 0x27 || q == 0x22, line.last == q else {
                    throw PickleError.malformed(offset: at, opcode: op, reason: "the STRING argument must be quoted")
                }
                let body = UnsafeRawBufferPointer(rebasing: line[1..<(line.count - 1)])
                let raw = try parse { try Text.escapeDecode(body) }
                try push(.string(Text.latin1(raw)))
            case .binstring:
                // BINSTRING's length is signed.
                let declared = try cursor.i32le()
                guard declared >= 0 else {
                    throw PickleError.negativeLength(offset: at, opcode: op, length: Int64(declared))
                }
                try push(.string(Text.latin1(try payload(UInt64(declared)))))
            case .shortBinstring:
                try push(.string(Text.latin1(try payload(UInt64(try cursor.u8())))))
            case .unicode:
                let line = try cursor.line()
                try account(line.count)
                try push(.string(try decode { try Text.rawUnicodeEscape(line) }))
            case .binunicode:
                let bytes = try payload(UInt64(try cursor.u32le()))
                try push(.string(try decode { try Text.utf8(bytes) }))
            case .shortBinunicode:
                let bytes = try payload(UInt64(try cursor.u8()))
                try push(.string(try decode { try Text.utf8(bytes) }))
            case .binunicode8:
                let bytes = try payload(try cursor.u64le())
                try push(.string(try decode { try Text.utf8(bytes) }))
            case .binbytes:
                try push(.bytes(PickleBytes(Array(try payload(UInt64(try cursor.u32le()))))))
            case .shortBinbytes:
                try push(.bytes(PickleBytes(Array(try payload(UInt64(try cursor.u8()))))))
            case .binbytes8:
                try push(.bytes(PickleBytes(Array(try payload(try cursor.u64le())))))
            case .bytearray8:
                try push(.bytes(PickleBytes(Array(try payload(try cursor.u64le())), isByteArray: true)))

            // MARK: containers
            case .emptyTuple:
                try push(.tuple(try makeTuple([])))
            case .tuple:
                let items = try popMark()
                try push(.tuple(try makeTuple(items)))
            case .tuple1:
                let a = try pop()
                try push(.tuple(try makeTuple([a])))
            case .tuple2:
                let b = try pop(), a = try pop()
                try push(.tuple(try makeTuple([a, b])))
            case .tuple3:
                let c = try pop(), b = try pop(), a = try pop()
                try push(.tuple(try makeTuple([a, b, c])))
            case .emptyList:
                try push(.list(try makeList([])))
            case .list:
                let items = try popMark()
                try push(.list(try makeList(items)))
            case .append:
                let value = try pop()
                try append([value], to: try top())
            case .appends:
                let items = try popMark()
                try append(items, to: try top())
            case .emptyDict:
                try push(.dict(try makeDict([])))
            case .dict:
                let items = try popMark()
                try push(.dict(try makeDict(items)))
            case .setitem:
                let value = try pop(), key = try pop()
                try setItems([key, value], on: try top())
            case .setitems:
                let items = try popMark()
                try setItems(items, on: try top())
            case .emptySet:
                try push(.set(try makeSet([], frozen: false)))
            case .additems:
                let items = try popMark()
                guard case .set(let set) = try top(), !set.isFrozen else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "set", found: try top().kindName)
                }
                for item in items {
                    try check(set.insert(item, budget: &keyBudgetLeft), item)
                    try raiseDepth(of: set, for: item)
                }
            case .frozenset:
                let items = try popMark()
                try push(.set(try makeSet(items, frozen: true)))

            // MARK: memo
            case .put:
                let line = try cursor.line()
                guard let index = Text.decimalIndex(line) else {
                    throw PickleError.malformed(offset: at, opcode: op,
                                                reason: "PUT index is not a non-negative decimal")
                }
                try memoPut(index)
            case .binput:
                try memoPut(Int(try cursor.u8()))
            case .longBinput:
                try memoPut(Int(try cursor.u32le()))
            case .memoize:
                try memoPut(memo.count)
            case .get:
                let line = try cursor.line()
                guard let index = Text.decimalIndex(line) else {
                    throw PickleError.malformed(offset: at, opcode: op,
                                                reason: "GET index is not a non-negative decimal")
                }
                try memoGet(index)
            case .binget:
                try memoGet(Int(try cursor.u8()))
            case .longBinget:
                try memoGet(Int(try cursor.u32le()))

            // MARK: globals and calls
            case .global:
                let moduleLine = try cursor.line(), nameLine = try cursor.line()
                let module = try decode { try Text.utf8(moduleLine) }
                let name = try decode { try Text.utf8(nameLine) }
                try push(.global(try resolve(module: module, name: name)))
            case .stackGlobal:
                let name = try pop(), module = try pop()
                guard case .string(let m) = module, case .string(let n) = name else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "two str (module, name)",
                                                found: "\(module.kindName), \(name.kindName)")
                }
                try push(.global(try resolve(module: m, name: n)))
            case .reduce:
                let args = try pop(), callable = try pop()
                guard case .tuple(let tuple) = args else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "an argument tuple",
                                                found: args.kindName)
                }
                try push(try apply(callable, .reduce, tuple.items, nil))
            case .newobj:
                let args = try pop(), cls = try pop()
                guard case .tuple(let tuple) = args else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "an argument tuple",
                                                found: args.kindName)
                }
                try push(try apply(cls, .newobj, tuple.items, nil))
            case .newobjEx:
                let kwargs = try pop(), args = try pop(), cls = try pop()
                guard case .tuple(let tuple) = args else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "an argument tuple",
                                                found: args.kindName)
                }
                guard case .dict = kwargs else {
                    throw PickleError.wrongType(offset: at, opcode: op, expected: "a kwargs dict",
                                                found: kwargs.kindName)
                }
                try push(try apply(cls, .newobjEx, tuple.items, kwargs))
            case .inst:
                // INST names the class inline (python decodes these two lines as ASCII).
                let moduleLine = try cursor.line(), nameLine = try cursor.line()
                let module = try decode { try ascii(moduleLine) }
                let name = try decode { try ascii(nameLine) }
                let cls = try resolve(module: module, name: name)
                let args = try popMark()
                try push(try apply(.global(cls), .inst, args, nil))
            case .obj:
                let items = try popMark()
                guard let cls = items.first else {
                    throw PickleError.stackUnderflow(offset: at, opcode: op)
                }
                try push(try apply(cls, .obj, Array(items.dropFirst()), nil))
            case .build:
                let state = try pop()
                try build(try top(), state)
            case .persid:
                // Protocol 0 persistent ids are ASCII text.
                let line = try cursor.line()
                try account(line.count)
                let pid = try decode { try ascii(line) }
                try push(try persistentLoad(.string(pid)))
            case .binpersid:
                let pid = try pop()
                try push(try persistentLoad(pid))

            // MARK: protocol, framing, refused
            case .proto:
                // CPython's pickler writes PROTO first or not at all; anywhere else it is a splice.
                guard at == 0 else { throw PickleError.lateProto(offset: at) }
                let version = Int(try cursor.u8())
                guard version <= 5 else { throw PickleError.unsupportedProtocol(version, offset: at) }
                declaredProtocol = version
            case .frame:
                // FRAME is a length hint for buffered readers. Opcodes are read the same inside and
                // outside frames, but a frame must lie within the input, must not begin inside
                // another (python's _Unframer refuses that too), and no opcode may cross its end
                // (CPython reads on across it; no pickler writes such a frame, so it is refused).
                let length = try cursor.u64le()
                guard length <= UInt64(cursor.remaining) else {
                    throw PickleError.frameExceedsInput(offset: at, length: length, available: cursor.remaining)
                }
                guard at >= frameEnd else { throw PickleError.frameInsideFrame(offset: at, frameEnd: frameEnd) }
                frameEnd = cursor.offset + Int(length)
            case .ext1:
                // The extension registry maps codes to callables: a code lookup, refused.
                throw PickleError.extensionRegistry(offset: at, opcode: op, code: Int(try cursor.u8()))
            case .ext2:
                throw PickleError.extensionRegistry(offset: at, opcode: op, code: Int(try cursor.u16le()))
            case .ext4:
                throw PickleError.extensionRegistry(offset: at, opcode: op, code: Int(try cursor.i32le()))
            case .nextBuffer, .readonlyBuffer:
                // Out-of-band buffers are handed to pickle.loads(buffers=...) by the caller; a file has none.
                throw PickleError.outOfBandBuffer(offset: at, opcode: op)
            }
        }
    }

    // MARK: - Stack

    /// Values below the topmost mark are not reachable by ordinary pops.
    private var fence: Int { marks.last ?? 0 }

    private func checkRoom() throws {
        guard stack.count + marks.count < limits.maxStackDepth else {
            throw PickleError.stackTooDeep(limit: limits.maxStackDepth, offset: at)
        }
    }

    private mutating func push(_ value: PickleValue) throws {
        try checkRoom()
        stack.append(value)
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > fence, let value = stack.popLast() else {
            throw PickleError.stackUnderflow(offset: at, opcode: op)
        }
        return value
    }

    private func top() throws -> PickleValue {
        guard stack.count > fence, let value = stack.last else {
            throw PickleError.stackUnderflow(offset: at, opcode: op)
        }
        return value
    }

    /// Everything above the topmost mark, which is removed.
    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else {
            throw PickleError.markMissing(offset: at, opcode: op)
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    // MARK: - Memo

    private mutating func memoPut(_ index: Int) throws {
        let value = try top()
        if !memo.contains(index) {
            guard memo.count < limits.maxMemoEntries else {
                throw PickleError.tooManyMemoEntries(limit: limits.maxMemoEntries, offset: at)
            }
        }
        memo.put(index, value)
    }

    private mutating func memoGet(_ index: Int) throws {
        guard let value = memo.get(index) else {
            throw PickleError.memoMissing(index: index, offset: at)
        }
        try push(value)
    }

    // MARK: - Arguments

    /// Counts materialized bytes before they are allocated.
    private mutating func account(_ n: Int) throws {
        let (sum, overflow) = materialized.addingReportingOverflow(n)
        guard !overflow, sum <= limits.maxTotalBytes else {
            throw PickleError.tooManyBytes(limit: limits.maxTotalBytes, offset: at)
        }
        materialized = sum
    }

    /// A length-prefixed payload: the declared length is checked against the bytes left and the
    /// byte budget before anything is allocated.
    private mutating func payload(_ declared: UInt64) throws -> UnsafeRawBufferPointer {
        let n = try cursor.checkedLength(declared, opcode: op, opcodeOffset: at)
        try account(n)
        return try cursor.bytes(n)
    }

    /// LONG1 / LONG4 payload: signed little-endian two's complement; empty means 0.
    private func longBytes(_ bytes: UnsafeRawBufferPointer) throws -> PickleValue {
        if bytes.isEmpty { return .int(0) }
        let raw = Array(bytes)
        if let small = PickleBigInt.int64(raw) { return .int(small) }
        return .bigInt(PickleBigInt(signedLittleEndian: raw))
    }

    private mutating func integer(_ text: UnsafeRawBufferPointer) throws -> PickleValue {
        try account(text.count)
        switch try parse({ try Text.decimalInteger(text) }) {
        case .small(let v): return .int(v)
        case .big(let b): return .bigInt(b)
        }
    }

    private func ascii(_ bytes: UnsafeRawBufferPointer) throws -> String {
        for b in bytes where b >= 0x80 {
            throw TextError.reason("non-ASCII byte 0x\(String(b, radix: 16))")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs a text parser; its failure is `malformed`.
    private func parse<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch TextError.reason(let reason) {
            throw PickleError.malformed(offset: at, opcode: op, reason: reason)
        }
    }

    /// Runs a text decoder; its failure is `invalidString`.
    private func decode<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch TextError.reason(let reason) {
            throw PickleError.invalidString(offset: at, opcode: op, reason: reason)
        }
    }

    // MARK: - Building containers

    private func checkedDepth(_ depth: Int) throws -> Int {
        guard depth <= limits.maxNestingDepth else {
            throw PickleError.nestingTooDeep(limit: limits.maxNestingDepth, offset: at)
        }
        return depth
    }

    /// 1 + the deepest child.
    private func depth(over children: [PickleValue]) throws -> Int {
        var deepest = 0
        for child in children {
            let d = child.depth
            if d > deepest { deepest = d }
        }
        return try checkedDepth(deepest + 1)
    }

    /// A container gaining a child gets at least the child's depth + 1. (A container added to
    /// itself is a cycle, not nesting.) Deepening a container already inside others is caught by
    /// `verifyDepth` at the end.
    private func raiseDepth(of container: PickleContainer, for child: PickleValue) throws {
        guard let inner = child.container, inner !== container else { return }
        let d = inner.nestingDepth + 1
        if d > container.nestingDepth {
            container.nestingDepth = try checkedDepth(d)
        }
    }

    private func makeTuple(_ items: [PickleValue]) throws -> PickleTuple {
        let tuple = PickleTuple(items)
        tuple.nestingDepth = try depth(over: items)
        arena.register(tuple)
        return tuple
    }

    private func makeList(_ items: [PickleValue]) throws -> PickleList {
        let list = PickleList(items)
        list.nestingDepth = try depth(over: items)
        arena.register(list)
        return list
    }

    /// DICT's items alternate key, value.
    private mutating func makeDict(_ items: [PickleValue]) throws -> PickleDict {
        let dict = PickleDict()
        arena.register(dict)
        try setItems(items, on: .dict(dict))
        return dict
    }

    private mutating func makeSet(_ items: [PickleValue], frozen: Bool) throws -> PickleSet {
        let set = PickleSet(isFrozen: frozen)
        arena.register(set)
        for item in items {
            try check(set.insert(item, budget: &keyBudgetLeft), item)
        }
        set.nestingDepth = try depth(over: set.items)
        return set
    }

    /// APPEND / APPENDS: a list, or an opaque object (a list subclass: its `append`).
    private func append(_ items: [PickleValue], to target: PickleValue) throws {
        switch target {
        case .list(let list):
            list.items.append(contentsOf: items)
            for item in items { try raiseDepth(of: list, for: item) }
        case .object(let object):
            for item in items {
                object.appendListItem(item)
                try raiseDepth(of: object, for: item)
            }
        default:
            throw PickleError.wrongType(offset: at, opcode: op, expected: "list", found: target.kindName)
        }
    }

    /// A key or element stored, or the error for one that could not be.
    private func check(_ stored: PickleKey.Stored, _ key: PickleValue) throws {
        switch stored {
        case .stored: return
        case .unhashable: throw PickleError.unhashable(offset: at, opcode: op, found: key.kindName)
        case .overBudget: throw PickleError.tooMuchKeyWork(limit: keyBudget, offset: at)
        }
    }

    /// SETITEM / SETITEMS / DICT: alternating keys and values into a dict, or an opaque object
    /// (a dict subclass: its `__setitem__`).
    private mutating func setItems(_ items: [PickleValue], on target: PickleValue) throws {
        guard items.count % 2 == 0 else {
            throw PickleError.malformed(offset: at, opcode: op, reason: "odd number of items for \(op)")
        }
        switch target {
        case .dict(let dict):
            var i = 0
            while i + 1 < items.count {
                let key = items[i], value = items[i + 1]
                try check(dict.set(key, value, budget: &keyBudgetLeft), key)
                try raiseDepth(of: dict, for: key)
                try raiseDepth(of: dict, for: value)
                i += 2
            }
        case .object(let object):
            var i = 0
            while i + 1 < items.count {
                object.appendDictItem(items[i], items[i + 1])
                try raiseDepth(of: object, for: items[i])
                try raiseDepth(of: object, for: items[i + 1])
                i += 2
            }
        default:
            throw PickleError.wrongType(offset: at, opcode: op, expected: "dict", found: target.kindName)
        }
    }

    // MARK: - Globals, calls, BUILD, persistent ids

    private mutating func resolve(module: String, name: String) throws -> PickleGlobal {
        guard !module.isEmpty, !name.isEmpty else {
            throw PickleError.malformed(offset: at, opcode: op, reason: "empty module or name")
        }
        try account(module.utf8.count + name.utf8.count)
        let global = PickleGlobal(module: module, name: name)
        try hooks.resolveGlobal(global)
        if globalsSeen.insert(global).inserted { globals.append(global) }
        return global
    }

    /// REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ: the hook's value, or an opaque object.
    private func apply(_ callable: PickleValue, _ kind: ConstructionKind, _ args: [PickleValue],
                       _ kwargs: PickleValue?) throws -> PickleValue {
        guard case .global(let global) = callable else {
            throw PickleError.notCallable(offset: at, opcode: op, found: callable.kindName)
        }
        if let construct = hooks.construct, let value = try construct(global, kind, args, kwargs) {
            return try adopt(value)
        }
        let object = PickleObject(callable: global, kind: kind, args: args, kwargs: kwargs)
        var children = args
        if let kwargs { children.append(kwargs) }
        object.nestingDepth = try depth(over: children)
        arena.register(object)
        return .object(object)
    }

    /// BUILD: state for an opaque object or a dict (e.g. an OrderedDict's attributes); a hook
    /// value goes to the build hook. The target stays on the stack.
    private mutating func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case .object(let object):
            object.setState(try merged(object.state, state))
            if let s = object.state { try raiseDepth(of: object, for: s) }
        case .dict(let dict):
            dict.setState(try merged(dict.state, state))
            if let s = dict.state { try raiseDepth(of: dict, for: s) }
        case .custom(let custom):
            guard let build = hooks.build else { throw PickleError.buildWithoutHook(offset: at) }
            try build(custom, state)
        default:
            throw PickleError.cannotBuild(offset: at, found: target.kindName)
        }
    }

    /// A second BUILD: dict states merge (python's `__dict__.update`), anything else replaces.
    private mutating func merged(_ old: PickleValue?, _ new: PickleValue) throws -> PickleValue {
        guard let old, case .dict(let a) = old, case .dict(let b) = new, a !== b else { return new }
        let union = PickleDict()
        arena.register(union)
        for (k, v) in a.items + b.items {
            try check(union.set(k, v, budget: &keyBudgetLeft), k)  // hashable in a and b; not free
            try raiseDepth(of: union, for: k)
            try raiseDepth(of: union, for: v)
        }
        return .dict(union)
    }

    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard let load = hooks.persistentLoad else {
            throw PickleError.persistentIDWithoutLoader(offset: at)
        }
        return try adopt(try load(pid))
    }

    /// Registers containers a hook made (and any fresh containers inside them) in the arena,
    /// computing their depth, iteratively.
    private func adopt(_ value: PickleValue) throws -> PickleValue {
        guard let first = value.container, !first.registered else { return value }
        var frames: [(container: PickleContainer, count: Int, next: Int, deepest: Int)] = []
        first.walkMark = 1
        frames.append((first, first.childCount, 0, 0))
        defer { for frame in frames { frame.container.walkMark = 0 } }
        while let last = frames.indices.last {
            if frames[last].next < frames[last].count {
                let child = frames[last].container.child(frames[last].next)
                frames[last].next += 1
                guard let inner = child.container else { continue }
                if inner.registered {
                    frames[last].deepest = max(frames[last].deepest, inner.nestingDepth)
                } else if inner.walkMark == 0 {
                    inner.walkMark = 1
                    frames.append((inner, inner.childCount, 0, 0))
                    _ = try checkedDepth(frames.count)
                }
            } else {
                let done = frames.removeLast()
                done.container.walkMark = 0
                done.container.nestingDepth = try checkedDepth(done.deepest + 1)
                arena.register(done.container)
                if let parent = frames.indices.last {
                    frames[parent].deepest = max(frames[parent].deepest, done.container.nestingDepth)
                }
            }
        }
        return value
    }

    // MARK: - Final depth check

    /// Recomputes the exact nesting depth of everything reachable from `root` (a container met
    /// again on the current path is a cycle and counts as a leaf) and enforces the limit, so that
    /// mutating a container after it was nested cannot sneak past `maxNestingDepth`. Iterative.
    mutating func verifyDepth(_ root: PickleValue) throws {
        guard let first = root.container else { return }
        defer { for c in arena.containers { c.walkMark = 0 } }
        at = cursor.offset > 0 ? cursor.offset - 1 : 0
        op = .stop
        var frames: [(container: PickleContainer, count: Int, next: Int, deepest: Int)] = []
        first.walkMark = 1
        frames.append((first, first.childCount, 0, 0))
        while let last = frames.indices.last {
            if frames[last].next < frames[last].count {
                let child = frames[last].container.child(frames[last].next)
                frames[last].next += 1
                guard let inner = child.container else { continue }
                switch inner.walkMark {
                case 0:
                    inner.walkMark = 1
                    frames.append((inner, inner.childCount, 0, 0))
                    _ = try checkedDepth(frames.count)
                case 2:
                    frames[last].deepest = max(frames[last].deepest, inner.nestingDepth)
                default:
                    break  // on the current path: a cycle
                }
            } else {
                let done = frames.removeLast()
                done.container.nestingDepth = try checkedDepth(done.deepest + 1)
                done.container.walkMark = 2
                if let parent = frames.indices.last {
                    frames[parent].deepest = max(frames[parent].deepest, done.container.nestingDepth)
                }
            }
        }
    }
}
