/// A tensor name (a state-dict key, an array or entry name) compared and hashed by its Unicode
/// scalars, as Python compares `str` and torch, numpy and safetensors compare keys.
///
/// Swift's `String` equality is canonical equivalence: `"\u{E9}" == "e\u{301}"` is true, so a
/// `Dictionary<String, _>` would merge two tensors that torch keeps apart. Every table of names
/// uses this type (or the UTF-8 bytes) as its key instead.
public struct ExactName: Hashable, Sendable, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ExactName, b: ExactName) -> Bool {
        a.string.utf8.elementsEqual(b.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { string }
}

extension String {
    /// Whether the two strings hold the same Unicode scalars (not merely canonically equivalent ones).
    public func isExactly(_ other: String) -> Bool { utf8.elementsEqual(other.utf8) }

    /// The rest of the string after `prefix`, compared by Unicode scalars (Python's
    /// `key.startswith(prefix)`, `key[len(prefix):]`); nil when it does not start with `prefix`.
    public func droppingExactPrefix(_ prefix: String) -> String? {
        guard utf8.starts(with: prefix.utf8) else { return nil }
        return String(Substring(utf8.dropFirst(prefix.utf8.count)))
    }

    /// The string before `suffix`, compared by Unicode scalars; nil when it does not end with it.
    public func droppingExactSuffix(_ suffix: String) -> String? {
        guard utf8.count >= suffix.utf8.count, utf8.reversed().starts(with: suffix.utf8.reversed()) else { return nil }
        return String(Substring(utf8.dropLast(suffix.utf8.count)))
    }
}
