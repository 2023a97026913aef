import PTText

// A python-repr-like description that is bounded in every direction: recursion stops at
// `maxDepth` (printing "…"), containers show at most `maxItems` items, strings and bytes are
// clipped, the whole text stops at `maxLength`, and a container met again on the current path
// prints as python does for cycles ("[...]"). So describing a 1,000,000-deep or self-containing
// value is cheap and cannot overflow the stack.

extension PickleValue: CustomStringConvertible {
    public var description: String { describe() }

    /// The description with explicit bounds.
    public func describe(maxDepth: Int = 8, maxItems: Int = 16, maxLength: Int = 4096) -> String {
        var writer = DescriptionWriter(maxDepth: max(0, maxDepth), maxItems: max(0, maxItems),
                                       maxLength: max(16, maxLength))
        writer.write(self, depth: 0)
        return writer.out
    }
}

private struct DescriptionWriter {
    let maxDepth: Int
    let maxItems: Int
    let maxLength: Int
    var out = ""
    var full = false
    var path: Set<ObjectIdentifier> = []

    init(maxDepth: Int, maxItems: Int, maxLength: Int) {
        self.maxDepth = maxDepth
        self.maxItems = maxItems
        self.maxLength = maxLength
    }

    mutating func emit(_ s: String) {
        guard !full else { return }
        if out.utf8.count + s.utf8.count > maxLength {
            out += "…"
            full = true
        } else {
            out += s
        }
    }

    mutating func write(_ value: PickleValue, depth: Int) {
        guard !full else { return }
        switch value {
        case .none: emit("None")
        case .bool(let b): emit(b ? "True" : "False")
        case .int(let i): emit(String(i))
        case .bigInt(let b): emit(b.description)
        case .float(let d): emit(Self.float(d))
        case .string(let s): emit(Escaped.python(s, clip: Self.clip))
        case .bytes(let b):
            let text = Escaped.pythonBytes(b.bytes, clip: Self.clip)
            emit(b.isByteArray ? "bytearray(\(text))" : text)
        case .global(let g): emit(g.description)
        case .custom(let c): emit("<\(type(of: c))>")
        case .tuple(let t):
            container(t, depth: depth, open: "(", close: t.items.count == 1 ? ",)" : ")", cycle: "(...)") { w, d in
                w.items(t.items, depth: d)
            }
        case .list(let l):
            container(l, depth: depth, open: "[", close: "]", cycle: "[...]") { w, d in
                w.items(l.items, depth: d)
            }
        case .set(let s):
            let open = s.isFrozen ? "frozenset({" : "{"
            let close = s.isFrozen ? "})" : "}"
            if s.items.isEmpty {
                emit(s.isFrozen ? "frozenset()" : "set()")
            } else {
                container(s, depth: depth, open: open, close: close, cycle: "{...}") { w, d in
                    w.items(s.items, depth: d)
                }
            }
        case .dict(let dict):
            container(dict, depth: depth, open: "{", close: "}", cycle: "{...}") { w, d in
                w.pairs(dict.items, depth: d)
                if let state = dict.state {
                    w.emit(dict.items.isEmpty ? "" : ", ")
                    w.emit("__state__: ")
                    w.write(state, depth: d)
                }
            }
        case .object(let o):
            container(o, depth: depth, open: "\(o.callable)(", close: ")", cycle: "\(o.callable)(...)") { w, d in
                w.items(o.args, depth: d)
                var first = o.args.isEmpty
                func separator(_ w: inout DescriptionWriter) {
                    if !first { w.emit(", ") }
                    first = false
                }
                if let kwargs = o.kwargs {
                    separator(&w)
                    w.emit("**")
                    w.write(kwargs, depth: d)
                }
                if let state = o.state {
                    separator(&w)
                    w.emit("__state__=")
                    w.write(state, depth: d)
                }
                if !o.listItems.isEmpty {
                    separator(&w)
                    w.emit("__items__=[")
                    w.items(o.listItems, depth: d)
                    w.emit("]")
                }
                if !o.dictItems.isEmpty {
                    separator(&w)
                    w.emit("__setitems__={")
                    w.pairs(o.dictItems, depth: d)
                    w.emit("}")
                }
            }
        }
    }

    mutating func container(_ c: PickleContainer, depth: Int, open: String, close: String, cycle: String,
                            body: (inout DescriptionWriter, Int) -> Void) {
        let id = ObjectIdentifier(c)
        if path.contains(id) {
            emit(cycle)
            return
        }
        if depth >= maxDepth {
            emit(open + "…" + close)
            return
        }
        path.insert(id)
        emit(open)
        body(&self, depth + 1)
        emit(close)
        path.remove(id)
    }

    mutating func items(_ values: [PickleValue], depth: Int) {
        for (i, v) in values.enumerated() {
            if full { return }
            if i > 0 { emit(", ") }
            if i >= maxItems {
                emit("… (\(values.count) items)")
                return
            }
            write(v, depth: depth)
        }
    }

    mutating func pairs(_ values: [(key: PickleValue, value: PickleValue)], depth: Int) {
        for (i, pair) in values.enumerated() {
            if full { return }
            if i > 0 { emit(", ") }
            if i >= maxItems {
                emit("… (\(values.count) items)")
                return
            }
            write(pair.key, depth: depth)
            emit(": ")
            write(pair.value, depth: depth)
        }
    }

    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return "\(d)"
    }

    /// Strings and bytes show at most this many characters.
    static let clip = 200
}
