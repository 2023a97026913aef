import PTText

/// A value of the Python literal subset an `.npy` header may contain.
///
/// numpy evaluates the header with `ast.literal_eval`; this is the part of that language the
/// header needs, and nothing else: strings without escapes or prefixes, `True`, `False`, `None`,
/// decimal integers (with an optional leading minus), tuples, lists and dicts.
indirect enum HeaderLiteral: Equatable, Sendable {
    case string(String)
    case bool(Bool)
    case none
    /// Canonical decimal text (no leading zeros, no "-0"), kept as text so that integers beyond
    /// 64 bits are reported rather than wrapped.
    case integer(String)
    case tuple([HeaderLiteral])
    case list([HeaderLiteral])
    /// Entries in header order; duplicates are kept (the key check refuses them).
    case dict([(key: HeaderLiteral, value: HeaderLiteral)])

    static func == (lhs: HeaderLiteral, rhs: HeaderLiteral) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case (.none, .none): return true
        case let (.integer(a), .integer(b)): return a == b
        case let (.tuple(a), .tuple(b)), let (.list(a), .list(b)): return a == b
        case let (.dict(a), .dict(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value as Python's `repr` prints it (for messages), shortened past `limit` characters.
    func repr(limit: Int = 120) -> String {
        let full = fullRepr
        guard full.count > limit else { return full }
        return String(full.prefix(limit)) + "…"
    }

    private var fullRepr: String {
        switch self {
        case let .string(text): return Escaped.python(text)
        case let .bool(value): return value ? "True" : "False"
        case .none: return "None"
        case let .integer(text): return text
        case let .tuple(items):
            return items.count == 1 ? "(\(items[0].fullRepr),)"
                : "(" + items.map(\.fullRepr).joined(separator: ", ") + ")"
        case let .list(items): return "[" + items.map(\.fullRepr).joined(separator: ", ") + "]"
        case let .dict(entries):
            return "{" + entries.map { "\($0.key.fullRepr): \($0.value.fullRepr)" }.joined(separator: ", ") + "}"
        }
    }
}
