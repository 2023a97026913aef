// The public entry point: hooks, limits, the result.

/// What the caller (the torch layer) decides. The machine never calls anything by name: every
/// global, persistent id, construction and BUILD on a hook value goes through these.
public struct PickleHooks {
    /// Called for every GLOBAL / STACK_GLOBAL / INST class name as it is read (OBJ's class is a
    /// global read earlier). Throw to refuse the file; the error propagates unchanged.
    public var resolveGlobal: (PickleGlobal) throws -> Void
    /// BINPERSID / PERSID: the id (a tuple for torch; a `.string` for PERSID) → a value, usually
    /// `.custom`. Absent → `PickleError.persistentIDWithoutLoader`.
    public var persistentLoad: ((PickleValue) throws -> PickleValue)?
    /// REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ with a global callable: (callable, kind, positional
    /// args, NEWOBJ_EX's kwargs dict). Return nil to get an opaque `PickleObject`. May return e.g.
    /// `.dict(PickleDict())` for `collections.OrderedDict`, so later SETITEMS / BUILD apply to it.
    /// Containers returned here join the machine's arena (depth-checked, torn down with the rest).
    public var construct: ((PickleGlobal, ConstructionKind, [PickleValue], PickleValue?) throws -> PickleValue?)?
    /// BUILD on a `.custom` value: (the object, the state). Absent → `PickleError.buildWithoutHook`.
    /// (BUILD on a `PickleObject` sets or merges its `state`; on a `PickleDict` sets its `state`.)
    public var build: ((AnyObject, PickleValue) throws -> Void)?

    /// Defaults: every global name is accepted (nothing is ever executed, so a name is harmless;
    /// the allow/deny policy belongs to the caller), no persistent loader, nothing constructed
    /// (every call becomes an opaque `PickleObject`), no BUILD hook.
    public init(
        resolveGlobal: @escaping (PickleGlobal) throws -> Void = { _ in },
        persistentLoad: ((PickleValue) throws -> PickleValue)? = nil,
        construct: ((PickleGlobal, ConstructionKind, [PickleValue], PickleValue?) throws -> PickleValue?)? = nil,
        build: ((AnyObject, PickleValue) throws -> Void)? = nil
    ) {
        self.resolveGlobal = resolveGlobal
        self.persistentLoad = persistentLoad
        self.construct = construct
        self.build = build
    }
}

/// Resource limits: each turns an attack into an error instead of memory, time or stack.
public struct PickleLimits: Equatable, Sendable {
    /// Opcodes executed (STOP included). Default 100,000,000: a state dict costs tens of opcodes
    /// per tensor, so this is orders of magnitude above any checkpoint and still bounds time to seconds.
    public var maxOpcodes: Int
    /// Distinct memo entries. Default 10,000,000: pickle memoizes each container/string once;
    /// checkpoints use thousands to a few hundred thousand. (About 24 bytes each.)
    public var maxMemoEntries: Int
    /// Stack entries, values plus marks. Default 10,000,000: picklers batch lists, dicts and sets
    /// by 1,000 items; only a huge tuple or frozenset needs the whole collection on the stack.
    public var maxStackDepth: Int
    /// Containers nested in containers. Default 10,000: CPython's pickler cannot write more than
    /// its recursion limit allows (under 1,000 levels with 3.11's defaults; 3.12+ C-stack limits
    /// allow a few thousand), while a consumer recursing 10,000 levels stays within a few MB of stack.
    /// The machine itself never recurses over values. Must be >= 1.
    public var maxNestingDepth: Int
    /// Bytes of strings, bytes and big ints materialized. Default 4 GiB: what is materialized is
    /// (up to latin-1's 2x) the size of the input, so this only matters for very large inputs.
    public var maxTotalBytes: Int
    /// Work spent hashing dict keys and set elements, beyond `keyWorkPerByte` per byte of the
    /// pickle: one unit per value in a key, plus one per 16 bytes of its strings, bytes and big ints.
    /// A key is hashed each time it is stored, so a large key stored again and again through the
    /// memo (3 or 4 bytes of pickle each time) would otherwise cost hours. Default 100,000: a
    /// state dict's keys cost a unit or two each, and a key costs the pickle bytes too.
    public var maxKeyWork: Int
    /// Key work allowed per byte of pickle, on top of `maxKeyWork`. Default 1: storing a key
    /// costs at least 2 bytes (BINGET of a memoized one, and its value), so real pickles spend
    /// well under a unit a byte.
    public var keyWorkPerByte: Int

    public init(
        maxOpcodes: Int = 100_000_000,
        maxMemoEntries: Int = 10_000_000,
        maxStackDepth: Int = 10_000_000,
        maxNestingDepth: Int = 10_000,
        maxTotalBytes: Int = 1 << 32,
        maxKeyWork: Int = 100_000,
        keyWorkPerByte: Int = 1
    ) {
        self.maxOpcodes = maxOpcodes
        self.maxMemoEntries = maxMemoEntries
        self.maxStackDepth = maxStackDepth
        self.maxNestingDepth = maxNestingDepth
        self.maxTotalBytes = maxTotalBytes
        self.maxKeyWork = maxKeyWork
        self.keyWorkPerByte = keyWorkPerByte
    }

    /// The key work allowed for a pickle of `length` bytes (saturating).
    func keyWorkBudget(length: Int) -> Int {
        let (perByte, o1) = keyWorkPerByte.multipliedReportingOverflow(by: length)
        let (sum, o2) = maxKeyWork.addingReportingOverflow(perByte)
        return o1 || o2 ? Int.max : sum
    }

    public static let `default` = PickleLimits()
}

/// What running a pickle cost, counted by the machine itself: the same for the same bytes on any
/// CPU, so tests and callers can bound work without timing it.
public struct PickleWork: Equatable, Sendable {
    /// Opcodes executed (STOP included).
    public var opcodes = 0
    /// Bytes of strings, bytes and big ints materialized.
    public var materializedBytes = 0
    /// Key work (see `PickleLimits.maxKeyWork`).
    public var keyWork = 0

    public init() {}
}

/// The result of `unpickle`; owns the whole value graph.
///
/// When it goes away, every container that nothing outside holds is emptied and freed without
/// recursion (deep nesting and cycles included). Containers still held elsewhere — a `root` you
/// kept, values a hook object retained — are left intact, with everything reachable from them.
public final class Unpickled {
    private var storedRoot: PickleValue
    /// The value STOP returned.
    public var root: PickleValue { storedRoot }
    /// PROTO's argument; without PROTO, the highest protocol of any opcode seen (so 1 if any
    /// protocol-1 opcode was seen, else 0, for every pickle a real pickler writes).
    public let `protocol`: Int
    /// Every global referenced (GLOBAL / STACK_GLOBAL / INST), first-seen order, deduplicated.
    public let globals: [PickleGlobal]
    /// Offset just past STOP.
    public let bytesConsumed: Int

    let arena: PickleArena

    init(root: PickleValue, protocol: Int, globals: [PickleGlobal], bytesConsumed: Int, arena: PickleArena) {
        storedRoot = root
        self.protocol = `protocol`
        self.globals = globals
        self.bytesConsumed = bytesConsumed
        self.arena = arena
    }

    deinit {
        storedRoot = .none
        arena.teardown()
    }
}

/// Runs the pickle machine over `bytes` up to and including the first STOP (what follows is not
/// read; see `bytesConsumed`). Never executes anything: every callable goes through `hooks`.
/// `work`, when given, is told what the run cost, whether it succeeded or threw.
/// Throws `PickleError` for every malformed, hostile or unsupported input, and whatever a hook throws.
public func unpickle(
    _ bytes: UnsafeRawBufferPointer,
    hooks: PickleHooks = PickleHooks(),
    limits: PickleLimits = .default,
    work: ((PickleWork) -> Void)? = nil
) throws -> Unpickled {
    var machine = Machine(bytes, hooks: hooks, limits: limits)
    defer { work?(machine.work) }
    do {
        let root = try machine.run()
        try machine.verifyDepth(root)
        machine.dropWorkingState()
        return Unpickled(
            root: root,
            protocol: machine.declaredProtocol ?? machine.highestOpcodeProtocol,
            globals: machine.globals,
            bytesConsumed: machine.cursor.offset,
            arena: machine.arena
        )
    } catch {
        // Release the stack and memo first so the arena sees only outside references, then
        // tear the partial graph down flatly.
        machine.dropWorkingState()
        machine.arena.teardown()
        throw error
    }
}

/// Convenience for byte arrays.
public func unpickle(
    _ bytes: [UInt8],
    hooks: PickleHooks = PickleHooks(),
    limits: PickleLimits = .default,
    work: ((PickleWork) -> Void)? = nil
) throws -> Unpickled {
    try bytes.withUnsafeBytes { try unpickle($0, hooks: hooks, limits: limits, work: work) }
}
