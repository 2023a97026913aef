// Hashing dict keys and set elements the way python compares them:
//   * bool, int, big int and float compare numerically (True == 1 == 1.0, -0.0 == 0, 2.0**70 == 2**70);
//   * NaN equals nothing (python's identity shortcut aside), so a NaN key is stored but never matched;
//   * str, bytes, tuple, frozenset and globals compare by value; a str by its code points (its
//     UTF-8 bytes), never by Swift's canonical equivalence, under which 'é' (U+00E9) and
//     'e' + U+0301 would be one key where python has two;
//   * lists, dicts, sets and bytearrays are unhashable (python raises TypeError);
//   * opaque objects and hook values compare by identity (python's default `__hash__`).
// Keys nested deeper than `maxKeyDepth` tuples/frozensets, or holding more than `maxKeyNodes`
// values counted along every path (a tuple DAG t = (t, t) doubles at each level), are refused,
// which keeps hashing, comparing and freeing a key's (recursive) representation small and
// shallow whatever the limits. A key is rebuilt each time it is stored, so the machine also keeps
// a budget over all keys (`PickleLimits.maxKeyWork`): one unit per value plus one per 16 bytes of
// string or bytes, so a large key stored again and again through the memo runs out of budget
// instead of hashing for hours.

enum PickleKey: Hashable {
    case none
    case int(Int64)
    case bigInt([UInt8])        // minimal signed little-endian
    case float(UInt64)          // bit pattern of a non-integral (or infinite) double
    case string([UInt8])        // UTF-8
    case bytes([UInt8])
    case tuple([PickleKey])
    case frozenset(Set<PickleKey>)
    case global(PickleGlobal)
    case identity(ObjectIdentifier)

    enum Made {
        case key(PickleKey)
        /// Hashable but equal to nothing (contains a NaN).
        case unmatchable
        case unhashable
        /// Building it would spend more than the budget left.
        case overBudget
    }

    /// What storing a key did.
    enum Stored {
        case stored
        case unhashable
        case overBudget
    }

    static let maxKeyDepth = 100
    static let maxKeyNodes = 100_000

    /// The key of `value`, without a budget (lookups by callers).
    static func make(_ value: PickleValue) -> Made {
        var budget = Int.max
        return make(value, budget: &budget)
    }

    /// The key of `value`, its cost taken from `budget` (left as it was when the key is over it).
    static func make(_ value: PickleValue, budget: inout Int) -> Made {
        var nodes = 0, spent = 0
        let made = make(value, depth: 0, nodes: &nodes, spent: &spent, budget: budget)
        if case .overBudget = made { return made }
        budget -= spent
        return made
    }

    /// The units `value` costs as a key: one, plus one per 16 bytes of a string or bytes.
    private static func cost(_ value: PickleValue) -> Int {
        switch value {
        case .string(let s): return 1 + s.utf8.count / 16
        case .bytes(let b): return 1 + b.bytes.count / 16
        case .bigInt(let b): return 1 + b.bytes.count / 16
        default: return 1
        }
    }

    private static func make(_ value: PickleValue, depth: Int, nodes: inout Int, spent: inout Int,
                             budget: Int) -> Made {
        nodes += 1
        guard nodes <= maxKeyNodes else { return .unhashable }
        spent += cost(value)
        guard spent <= budget else { return .overBudget }
        switch value {
        case .none: return .key(.none)
        case .bool(let b): return .key(.int(b ? 1 : 0))
        case .int(let i): return .key(.int(i))
        case .bigInt(let b):
            if let i = b.int64Value { return .key(.int(i)) }
            return .key(.bigInt(b.bytes))
        case .float(let d): return floatKey(d)
        case .string(let s): return .key(.string(Array(s.utf8)))
        case .bytes(let b): return b.isByteArray ? .unhashable : .key(.bytes(b.bytes))
        case .global(let g): return .key(.global(g))
        case .object(let o): return .key(.identity(ObjectIdentifier(o)))
        case .custom(let c): return .key(.identity(ObjectIdentifier(c)))
        case .list, .dict: return .unhashable
        case .tuple(let t):
            guard depth < maxKeyDepth else { return .unhashable }
            var keys: [PickleKey] = []
            keys.reserveCapacity(t.items.count)
            var matchable = true
            for item in t.items {
                switch make(item, depth: depth + 1, nodes: &nodes, spent: &spent, budget: budget) {
                case .key(let k): keys.append(k)
                case .unmatchable: matchable = false
                case .unhashable: return .unhashable
                case .overBudget: return .overBudget
                }
            }
            return matchable ? .key(.tuple(keys)) : .unmatchable
        case .set(let s):
            guard s.isFrozen, depth < maxKeyDepth else { return .unhashable }
            var keys = Set<PickleKey>()
            var matchable = true
            for item in s.items {
                switch make(item, depth: depth + 1, nodes: &nodes, spent: &spent, budget: budget) {
                case .key(let k): keys.insert(k)
                case .unmatchable: matchable = false
                case .unhashable: return .unhashable
                case .overBudget: return .overBudget
                }
            }
            return matchable ? .key(.frozenset(keys)) : .unmatchable
        }
    }

    /// Integral doubles hash as the integer they equal; others by bit pattern.
    private static func floatKey(_ d: Double) -> Made {
        if d.isNaN { return .unmatchable }
        if d.isInfinite || d != d.rounded(.towardZero) { return .key(.float(d.bitPattern)) }
        if d >= -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_808.0 {
            return .key(.int(Int64(d)))  // exact: integral and in range (-0.0 becomes 0)
        }
        // |d| >= 2^63 and integral: significand << (exponent - 52), as two's complement bytes.
        let significand = d.significandBitPattern | (UInt64(1) << 52)
        let shift = Int(d.exponent) - 52  // >= 11 here
        var mag = [UInt8](repeating: 0, count: shift / 8 + 9)
        let byteShift = shift / 8, bitShift = UInt64(shift % 8)
        let low = significand << bitShift
        let high = bitShift == 0 ? 0 : significand >> (64 - bitShift)
        for i in 0..<8 { mag[byteShift + i] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(i))) }
        mag[byteShift + 8] = UInt8(truncatingIfNeeded: high)
        mag.append(0)  // room for the sign
        if d < 0 {
            var carry: UInt16 = 1
            for i in mag.indices {
                let v = UInt16(~mag[i]) + carry
                mag[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
        }
        return .key(.bigInt(PickleBigInt.minimal(mag)))
    }
}
