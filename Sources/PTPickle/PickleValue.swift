// The value tree the machine builds. Scalars are stored inline; every container is a final class
// so that sharing (memo GET) and later mutation (APPENDS / SETITEMS / BUILD) behave exactly as in
// python, and `PickleValue` itself stays small (24-byte stride) and is not `indirect`.
//
// Lifetime: every container the machine makes is registered in an arena owned by `Unpickled`.
// When the `Unpickled` goes away, containers nobody else holds are emptied before they are
// freed, so tearing down a value nested 1,000,000 levels (or a cycle) never recurses and never
// leaks. Containers you still hold (and everything reachable from them) are left intact and are
// released by ordinary ARC when you drop them; each container's deinit releases its children
// iteratively, so that is flat too. Cycles among containers you keep are then ordinary
// reference cycles (they leak unless you keep the `Unpickled` until you are done with them).

/// A global name (`module.name`) as read by GLOBAL / STACK_GLOBAL / INST. A name, never a call.
public struct PickleGlobal: Hashable, CustomStringConvertible, Sendable {
    // One reference instead of two inline Strings keeps `PickleValue` at 24 bytes instead of 40.
    final class Storage: Sendable {
        let module: String
        let name: String
        init(module: String, name: String) {
            self.module = module
            self.name = name
        }
    }

    let storage: Storage

    /// The module part, e.g. `collections`.
    public var module: String { storage.module }
    /// The qualified name inside the module, e.g. `OrderedDict`.
    public var name: String { storage.name }

    public init(module: String, name: String) {
        storage = Storage(module: module, name: name)
    }

    /// `module.name`
    public var description: String { "\(storage.module).\(storage.name)" }

    public static func == (lhs: PickleGlobal, rhs: PickleGlobal) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.module == rhs.storage.module && lhs.storage.name == rhs.storage.name)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.module)
        hasher.combine(storage.name)
    }
}

/// How a callable was applied.
public enum ConstructionKind: String, Sendable, CustomStringConvertible {
    /// REDUCE: `callable(*args)`.
    case reduce
    /// NEWOBJ: `cls.__new__(cls, *args)`.
    case newobj
    /// NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
    case newobjEx
    /// INST (protocol 0): class named inline, args above the mark.
    case inst
    /// OBJ (protocol 1): class and args above the mark.
    case obj

    public var description: String { rawValue }
}

/// A value built by the pickle machine.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An int that does not fit in Int64 (LONG, LONG1, LONG4).
    case bigInt(PickleBigInt)
    case float(Double)
    /// UNICODE / BINUNICODE* (UTF-8) and the python-2 STRING / BINSTRING / SHORT_BINSTRING (decoded as latin-1).
    case string(String)
    /// BINBYTES / SHORT_BINBYTES / BINBYTES8 / BYTEARRAY8 (`isByteArray` tells which).
    case bytes(PickleBytes)
    case tuple(PickleTuple)
    case list(PickleList)
    /// Insertion-ordered; keys are any hashable value.
    case dict(PickleDict)
    /// EMPTY_SET + ADDITEMS, or FROZENSET (`isFrozen`).
    case set(PickleSet)
    case global(PickleGlobal)
    /// A callable the hooks did not interpret, applied to its arguments.
    case object(PickleObject)
    /// Whatever a hook returned; passed through untouched.
    case custom(AnyObject)
}

// MARK: - Containers

/// The common base of the machine's reference containers. It cannot be subclassed outside this module.
public class PickleContainer {
    /// Nesting depth (1 for a container holding no containers). Tracked while building;
    /// exact for everything reachable from `Unpickled.root` once `unpickle` returns.
    public internal(set) var nestingDepth: Int = 1

    /// Set once the container is in an arena.
    var registered = false
    /// Position in the owning arena's table (checked against the table before use).
    var arenaIndex = -1
    /// Scratch flag for the iterative graph walks (depth check, teardown). 0 between walks.
    var walkMark: UInt8 = 0

    init() {}

    /// Every child value, in a fixed layout `restoreChildren` understands.
    func children() -> [PickleValue] { [] }
    /// The number of children, and child `i` of `children()` without building the array.
    var childCount: Int { 0 }
    func child(_ i: Int) -> PickleValue { .none }
    /// Moves every child out (the container is left empty) in `children()` layout.
    func takeChildren() -> [PickleValue] { [] }
    /// Puts back what `takeChildren` took.
    func restoreChildren(_ values: [PickleValue]) {}

    /// For `deinit`: frees the children without recursing into them.
    final func releaseChildrenIteratively() {
        var taken = takeChildren()
        releaseIteratively(&taken)
    }
}

/// A python tuple.
public final class PickleTuple: PickleContainer {
    public internal(set) var items: [PickleValue]

    public init(_ items: [PickleValue]) {
        self.items = items
        super.init()
    }

    deinit {
        if !items.isEmpty { releaseChildrenIteratively() }
    }

    public var count: Int { items.count }

    override func children() -> [PickleValue] { items }
    override var childCount: Int { items.count }
    override func child(_ i: Int) -> PickleValue { items[i] }
    override func takeChildren() -> [PickleValue] {
        let taken = items
        items = []
        return taken
    }
    override func restoreChildren(_ values: [PickleValue]) { items = values }
}

/// A python list; shared by reference like python's.
public final class PickleList: PickleContainer {
    public internal(set) var items: [PickleValue]

    public init(_ items: [PickleValue] = []) {
        self.items = items
        super.init()
    }

    deinit {
        if !items.isEmpty { releaseChildrenIteratively() }
    }

    public var count: Int { items.count }

    override func children() -> [PickleValue] { items }
    override var childCount: Int { items.count }
    override func child(_ i: Int) -> PickleValue { items[i] }
    override func takeChildren() -> [PickleValue] {
        let taken = items
        items = []
        return taken
    }
    override func restoreChildren(_ values: [PickleValue]) { items = values }
}

/// A python dict: insertion-ordered (order of first insertion), a later write to an equal key
/// replaces the value in place, keys compare like python's (1 == 1.0 == True).
public final class PickleDict: PickleContainer {
    public internal(set) var items: [(key: PickleValue, value: PickleValue)] = []
    /// State given by BUILD (e.g. an OrderedDict's `__dict__`, which holds `_metadata` in torch state dicts).
    public internal(set) var state: PickleValue?

    var index: [PickleKey: Int] = [:]
    private var hadState = false

    public override init() {
        super.init()
    }

    deinit {
        if !items.isEmpty || state != nil { releaseChildrenIteratively() }
    }

    /// A dict of `pairs` (later equal keys win, as in python); nil if a key is unhashable.
    public convenience init?(_ pairs: [(key: PickleValue, value: PickleValue)]) {
        self.init()
        for pair in pairs where !set(pair.key, pair.value) {
            return nil
        }
    }

    public var count: Int { items.count }

    /// The value stored under the string `key`.
    public func value(forStringKey key: String) -> PickleValue? {
        guard let slot = index[.string(Array(key.utf8))] else { return nil }
        return items[slot].value
    }

    /// The value stored under a key equal (in python's sense) to `key`.
    public func value(forKey key: PickleValue) -> PickleValue? {
        guard case .key(let k) = PickleKey.make(key), let slot = index[k] else { return nil }
        return items[slot].value
    }

    /// `dict[key] = value`. False if the key is unhashable.
    @discardableResult
    func set(_ key: PickleValue, _ value: PickleValue) -> Bool {
        var budget = Int.max
        return set(key, value, budget: &budget) == .stored
    }

    /// `dict[key] = value`, the key's cost taken from `budget`.
    func set(_ key: PickleValue, _ value: PickleValue, budget: inout Int) -> PickleKey.Stored {
        switch PickleKey.make(key, budget: &budget) {
        case .key(let k):
            if let slot = index[k] {
                items[slot].value = value  // python keeps the first key object and its position
            } else {
                index[k] = items.count
                items.append((key: key, value: value))
            }
            return .stored
        case .unmatchable:
            items.append((key: key, value: value))  // a NaN key equals nothing, not even itself
            return .stored
        case .unhashable:
            return .unhashable
        case .overBudget:
            return .overBudget
        }
    }

    func setState(_ newState: PickleValue?) { state = newState }

    override func children() -> [PickleValue] {
        var out: [PickleValue] = []
        out.reserveCapacity(items.count * 2 + 1)
        for (k, v) in items {
            out.append(k)
            out.append(v)
        }
        if let state { out.append(state) }
        return out
    }
    override var childCount: Int { items.count * 2 + (state == nil ? 0 : 1) }
    override func child(_ i: Int) -> PickleValue {
        if i < items.count * 2 { return i % 2 == 0 ? items[i / 2].key : items[i / 2].value }
        return state ?? .none
    }
    override func takeChildren() -> [PickleValue] {
        let out = children()
        hadState = state != nil
        items = []
        state = nil
        return out
    }
    override func restoreChildren(_ values: [PickleValue]) {
        var pairs = values.count
        if hadState, let last = values.last {
            state = last
            pairs -= 1
        }
        var restored: [(key: PickleValue, value: PickleValue)] = []
        restored.reserveCapacity(pairs / 2)
        var i = 0
        while i + 1 < pairs {
            restored.append((key: values[i], value: values[i + 1]))
            i += 2
        }
        items = restored
    }
}

/// A python set or frozenset; elements are kept in insertion order, equal elements once.
public final class PickleSet: PickleContainer {
    public internal(set) var items: [PickleValue] = []
    public let isFrozen: Bool

    var index: [PickleKey: Int] = [:]

    public init(isFrozen: Bool = false) {
        self.isFrozen = isFrozen
        super.init()
    }

    deinit {
        if !items.isEmpty { releaseChildrenIteratively() }
    }

    /// A set of `elements`; nil if one is unhashable.
    public convenience init?(_ elements: [PickleValue], isFrozen: Bool = false) {
        self.init(isFrozen: isFrozen)
        for element in elements where !insert(element) {
            return nil
        }
    }

    public var count: Int { items.count }

    /// Whether an element equal (in python's sense) to `value` is present.
    public func contains(_ value: PickleValue) -> Bool {
        guard case .key(let k) = PickleKey.make(value) else { return false }
        return index[k] != nil
    }

    /// `set.add(value)`. False if the value is unhashable.
    @discardableResult
    func insert(_ value: PickleValue) -> Bool {
        var budget = Int.max
        return insert(value, budget: &budget) == .stored
    }

    /// `set.add(value)`, the element's cost taken from `budget`.
    func insert(_ value: PickleValue, budget: inout Int) -> PickleKey.Stored {
        switch PickleKey.make(value, budget: &budget) {
        case .key(let k):
            if index[k] == nil {
                index[k] = items.count
                items.append(value)
            }
            return .stored
        case .unmatchable:
            items.append(value)
            return .stored
        case .unhashable:
            return .unhashable
        case .overBudget:
            return .overBudget
        }
    }

    override func children() -> [PickleValue] { items }
    override var childCount: Int { items.count }
    override func child(_ i: Int) -> PickleValue { items[i] }
    override func takeChildren() -> [PickleValue] {
        let taken = items
        items = []
        return taken
    }
    override func restoreChildren(_ values: [PickleValue]) { items = values }
}

/// A callable (always a global) applied to arguments that no hook interpreted: opaque data.
public final class PickleObject: PickleContainer {
    public let callable: PickleGlobal
    public let kind: ConstructionKind
    /// Positional arguments (the REDUCE / NEWOBJ argument tuple's items, or INST / OBJ's).
    public internal(set) var args: [PickleValue]
    /// NEWOBJ_EX's keyword arguments (a `.dict`); nil otherwise.
    public internal(set) var kwargs: PickleValue?
    /// BUILD's state. A second BUILD whose state and the present state are both dicts merges them
    /// (python's `__dict__.update`); otherwise the later state replaces the earlier.
    public internal(set) var state: PickleValue?
    /// Items APPEND / APPENDS added (a list subclass's `append`).
    public internal(set) var listItems: [PickleValue] = []
    /// Pairs SETITEM / SETITEMS added (a dict subclass's `__setitem__`), in order, duplicates kept.
    public internal(set) var dictItems: [(key: PickleValue, value: PickleValue)] = []

    private var layout = (args: 0, hasKwargs: false, hasState: false, list: 0)

    public init(callable: PickleGlobal, kind: ConstructionKind, args: [PickleValue], kwargs: PickleValue? = nil) {
        self.callable = callable
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        super.init()
    }

    deinit {
        if !args.isEmpty || kwargs != nil || state != nil || !listItems.isEmpty || !dictItems.isEmpty {
            releaseChildrenIteratively()
        }
    }

    func setState(_ newState: PickleValue?) { state = newState }
    func appendListItem(_ value: PickleValue) { listItems.append(value) }
    func appendDictItem(_ key: PickleValue, _ value: PickleValue) { dictItems.append((key: key, value: value)) }

    override func children() -> [PickleValue] {
        var out = args
        if let kwargs { out.append(kwargs) }
        if let state { out.append(state) }
        out.append(contentsOf: listItems)
        for (k, v) in dictItems {
            out.append(k)
            out.append(v)
        }
        return out
    }
    override var childCount: Int {
        args.count + (kwargs == nil ? 0 : 1) + (state == nil ? 0 : 1) + listItems.count + dictItems.count * 2
    }
    override func child(_ index: Int) -> PickleValue {
        var i = index
        if i < args.count { return args[i] }
        i -= args.count
        if let kwargs {
            if i == 0 { return kwargs }
            i -= 1
        }
        if let state {
            if i == 0 { return state }
            i -= 1
        }
        if i < listItems.count { return listItems[i] }
        i -= listItems.count
        return i % 2 == 0 ? dictItems[i / 2].key : dictItems[i / 2].value
    }
    override func takeChildren() -> [PickleValue] {
        let out = children()
        layout = (args.count, kwargs != nil, state != nil, listItems.count)
        args = []
        kwargs = nil
        state = nil
        listItems = []
        dictItems = []
        return out
    }
    override func restoreChildren(_ values: [PickleValue]) {
        var i = 0
        func next() -> PickleValue {
            defer { i += 1 }
            return i < values.count ? values[i] : .none
        }
        args = (0..<layout.args).map { _ in next() }
        kwargs = layout.hasKwargs ? next() : nil
        state = layout.hasState ? next() : nil
        listItems = (0..<layout.list).map { _ in next() }
        var pairs: [(key: PickleValue, value: PickleValue)] = []
        while i + 1 < values.count {
            let k = next()
            pairs.append((key: k, value: next()))
        }
        dictItems = pairs
    }
}

/// Releases `values` without recursion: a container among them that nothing else holds has its
/// own children moved onto the work list before it is freed, so its deinit finds nothing to do.
/// Makes freeing a deep value that outlived its `Unpickled` (or was made by a hook) iterative.
func releaseIteratively(_ work: inout [PickleValue]) {
    while !work.isEmpty {
        var container = popContainer(&work)
        // Our reference is the only one: its children go onto the work list before it is freed.
        if container != nil, isKnownUniquelyReferenced(&container), let taken = container?.takeChildren() {
            work.append(contentsOf: taken)
        }
        container = nil
    }
}

/// Removes the last value and returns its container, with every temporary that referred to it
/// gone by the time this returns (so the caller's uniqueness check sees only real references).
@inline(never)
private func popContainer(_ work: inout [PickleValue]) -> PickleContainer? {
    guard let last = work.popLast() else { return nil }
    return last.container
}

// MARK: - Leaves

/// Bytes (BINBYTES …) or a bytearray (BYTEARRAY8).
public final class PickleBytes {
    public let bytes: [UInt8]
    /// True for python's mutable `bytearray` (BYTEARRAY8), false for `bytes`.
    public let isByteArray: Bool

    public init(_ bytes: [UInt8], isByteArray: Bool = false) {
        self.bytes = bytes
        self.isByteArray = isByteArray
    }

    public var count: Int { bytes.count }
}

/// An integer that does not fit in Int64, as minimal signed little-endian two's complement bytes.
public final class PickleBigInt: CustomStringConvertible {
    /// Signed little-endian two's complement, minimal (no redundant sign byte).
    public let bytes: [UInt8]

    /// Takes any signed little-endian two's complement encoding and normalizes it.
    public init(signedLittleEndian raw: [UInt8]) {
        bytes = PickleBigInt.minimal(raw)
    }

    public var isNegative: Bool { (bytes.last ?? 0) & 0x80 != 0 }

    /// The value if it fits in Int64 (never for values the machine makes: those become `.int`).
    public var int64Value: Int64? { PickleBigInt.int64(bytes) }

    /// Decimal text, e.g. `-1267650600228229401496703205376`. Quadratic in the length.
    public var decimalString: String {
        // Magnitude as little-endian UInt32 limbs.
        let negative = isNegative
        var mag = bytes
        if negative {  // two's complement negate
            var carry: UInt16 = 1
            for i in mag.indices {
                let v = UInt16(~mag[i]) + carry
                mag[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
        }
        var limbs: [UInt32] = []
        limbs.reserveCapacity(mag.count / 4 + 1)
        var i = 0
        while i < mag.count {
            var limb: UInt32 = 0
            for j in 0..<4 where i + j < mag.count {
                limb |= UInt32(mag[i + j]) << (8 * UInt32(j))
            }
            limbs.append(limb)
            i += 4
        }
        while let last = limbs.last, last == 0 { limbs.removeLast() }
        if limbs.isEmpty { return "0" }
        var chunks: [UInt32] = []  // base 1e9, least significant first
        while !limbs.isEmpty {
            var rem: UInt64 = 0
            for k in stride(from: limbs.count - 1, through: 0, by: -1) {
                let cur = (rem << 32) | UInt64(limbs[k])
                limbs[k] = UInt32(cur / 1_000_000_000)
                rem = cur % 1_000_000_000
            }
            chunks.append(UInt32(rem))
            while let last = limbs.last, last == 0 { limbs.removeLast() }
        }
        var text = negative ? "-" : ""
        text += String(chunks[chunks.count - 1])
        for chunk in chunks.dropLast().reversed() {
            let s = String(chunk)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        return text
    }

    /// Decimal for up to 256 bytes, otherwise a size note.
    public var description: String {
        bytes.count <= 256 ? decimalString : "<\(bytes.count)-byte int>"
    }

    static func minimal(_ raw: [UInt8]) -> [UInt8] {
        guard let last = raw.last else { return [0] }
        let sign: UInt8 = last & 0x80 != 0 ? 0xFF : 0x00
        var end = raw.count
        // Drop a top byte equal to the sign fill while the next byte still carries the same sign bit.
        while end > 1, raw[end - 1] == sign, (raw[end - 2] & 0x80) == (sign & 0x80) {
            end -= 1
        }
        return Array(raw[0..<end])
    }

    static func int64(_ bytes: [UInt8]) -> Int64? {
        let m = minimal(bytes)
        guard m.count <= 8 else { return nil }
        let negative = (m.last ?? 0) & 0x80 != 0
        var u: UInt64 = negative ? ~0 : 0
        for (i, b) in m.enumerated() {
            let shift = UInt64(8 * i)
            u &= ~(UInt64(0xFF) << shift)
            u |= UInt64(b) << shift
        }
        return Int64(bitPattern: u)
    }
}

// MARK: - Conveniences

extension PickleValue {
    /// The container behind this value, if it is one.
    var container: PickleContainer? {
        switch self {
        case .tuple(let c): return c
        case .list(let c): return c
        case .dict(let c): return c
        case .set(let c): return c
        case .object(let c): return c
        default: return nil
        }
    }

    /// Nesting depth: 0 for scalars and `.custom`, the container's depth otherwise.
    var depth: Int { container?.nestingDepth ?? 0 }

    /// A short python-ish type name for messages: "list", "dict", "int", "collections.OrderedDict object" …
    public var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes(let b): return b.isByteArray ? "bytearray" : "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .set(let s): return s.isFrozen ? "frozenset" : "set"
        case .global(let g): return "global \(g)"
        case .object(let o): return "\(o.callable) object"
        case .custom(let c): return "custom \(type(of: c))"
        }
    }

    public var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// `.int` (not `.bool`, not `.bigInt`).
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var doubleValue: Double? {
        if case .float(let d) = self { return d }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var tupleItems: [PickleValue]? {
        if case .tuple(let t) = self { return t.items }
        return nil
    }

    public var globalValue: PickleGlobal? {
        if case .global(let g) = self { return g }
        return nil
    }

    public var customValue: AnyObject? {
        if case .custom(let c) = self { return c }
        return nil
    }
}
