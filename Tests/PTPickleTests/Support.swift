import Foundation
import XCTest
@testable import PTPickle

// MARK: - Fixtures

/// The repository root: this file is <root>/Tests/PTPickleTests/Support.swift.
let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // PTPickleTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // root

let fixturesDir = repoRoot.appendingPathComponent("Fixtures/pickles")

func fixtureBytes(_ name: String) throws -> [UInt8] {
    let url = fixturesDir.appendingPathComponent(name)
    guard let data = FileManager.default.contents(atPath: url.path) else {
        throw XCTSkip("missing fixture \(url.path); run python -m ptload_tools.fixtures.pickles")
    }
    return [UInt8](data)
}

func fixtureJSON(_ name: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(try fixtureBytes(name)), options: [])
}

// MARK: - Python-like hooks (what python itself does with the builtins a pickle names)

/// What persistent_load received.
final class PersistentRef {
    let pid: PickleValue
    init(_ pid: PickleValue) { self.pid = pid }
}

func latin1Bytes(_ s: String) -> [UInt8]? {
    var out: [UInt8] = []
    for scalar in s.unicodeScalars {
        guard scalar.value <= 0xFF else { return nil }
        out.append(UInt8(scalar.value))
    }
    return out
}

/// Interprets the handful of builtins python's pickler uses to spell bytes, bytearray, set,
/// frozenset, OrderedDict and protocol-0/1 objects, the way python's `find_class` + call would.
func pythonLikeHooks(
    resolveGlobal: @escaping (PickleGlobal) throws -> Void = { _ in }
) -> PickleHooks {
    PickleHooks(
        resolveGlobal: resolveGlobal,
        persistentLoad: { .custom(PersistentRef($0)) },
        construct: { global, kind, args, _ in
            let module = global.module == "__builtin__" ? "builtins" : global.module
            switch (module, global.name) {
            case ("_codecs", "encode"):
                guard args.count == 2, case .string(let s) = args[0], case .string(let enc) = args[1],
                      enc == "latin1" || enc == "latin-1", let bytes = latin1Bytes(s) else { return nil }
                return .bytes(PickleBytes(bytes))
            case ("builtins", "bytes") where args.isEmpty:
                return .bytes(PickleBytes([]))
            case ("builtins", "bytearray"):
                if args.isEmpty { return .bytes(PickleBytes([], isByteArray: true)) }
                if args.count == 1, case .bytes(let b) = args[0] {
                    return .bytes(PickleBytes(b.bytes, isByteArray: true))
                }
                if args.count == 2, case .string(let s) = args[0], let bytes = latin1Bytes(s) {
                    return .bytes(PickleBytes(bytes, isByteArray: true))
                }
                return nil
            case ("builtins", "set"), ("builtins", "frozenset"):
                let frozen = global.name == "frozenset"
                if args.isEmpty { return .set(PickleSet(isFrozen: frozen)) }
                guard args.count == 1, case .list(let l) = args[0],
                      let set = PickleSet(l.items, isFrozen: frozen) else {
                    return nil
                }
                return .set(set)
            case ("collections", "OrderedDict") where args.isEmpty:
                return .dict(PickleDict())
            case ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"):
                guard args.count == 3, case .global(let cls) = args[0] else { return nil }
                return .object(PickleObject(callable: cls, kind: kind, args: []))
            default:
                return nil
            }
        }
    )
}

// MARK: - The JSON encoding of ptload_tools.fixtures.pickles

/// A JSON value with only strings, arrays and objects (the fixture encoding has no numbers).
indirect enum J: Equatable, CustomStringConvertible {
    case str(String)
    case arr([J])
    case obj([String: J])

    init(json: Any) throws {
        if let s = json as? String {
            self = .str(s)
        } else if let a = json as? [Any] {
            self = .arr(try a.map(J.init(json:)))
        } else if let o = json as? [String: Any] {
            var out: [String: J] = [:]
            for (k, v) in o { out[k] = try J(json: v) }
            self = .obj(out)
        } else {
            throw NSError(domain: "J", code: 1, userInfo: [NSLocalizedDescriptionKey: "unexpected JSON \(json)"])
        }
    }

    var description: String {
        switch self {
        case .str(let s): return "\"\(s)\""
        case .arr(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .obj(let o):
            return "{" + o.keys.sorted().map { "\($0): \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Encodes a decoded value like the generator encodes python's (ids in DFS pre-order).
struct Normalizer {
    var ids: [ObjectIdentifier: Int] = [:]

    mutating func id(_ object: AnyObject) -> (Int, Bool) {
        let key = ObjectIdentifier(object)
        if let n = ids[key] { return (n, false) }
        let n = ids.count
        ids[key] = n
        return (n, true)
    }

    mutating func norm(_ v: PickleValue) -> J {
        switch v {
        case .none: return .obj(["t": .str("none")])
        case .bool(let b): return .obj(["t": .str("bool"), "v": .str(b ? "true" : "false")])
        case .int(let i): return .obj(["t": .str("int"), "v": .str(String(i))])
        case .bigInt(let b): return .obj(["t": .str("int"), "v": .str(b.decimalString)])
        case .float(let d):
            var hex = String(d.bitPattern, radix: 16)
            hex = String(repeating: "0", count: 16 - hex.count) + hex
            return .obj(["t": .str("float"), "bits": .str(hex)])
        case .string(let s): return .obj(["t": .str("str"), "v": .str(s)])
        case .bytes(let b):
            let hex = b.bytes.map { String(format: "%02x", $0) }.joined()
            return .obj(["t": .str(b.isByteArray ? "bytearray" : "bytes"), "hex": .str(hex)])
        case .tuple(let t): return .obj(["t": .str("tuple"), "items": .arr(t.items.map { norm($0) })])
        case .global(let g): return .obj(["t": .str("global"), "v": .str(g.description)])
        case .custom(let c):
            if let p = c as? PersistentRef { return .obj(["t": .str("persistent"), "id": norm(p.pid)]) }
            return .obj(["t": .str("custom"), "v": .str("\(type(of: c))")])
        case .set(let s) where s.isFrozen:
            return .obj(["t": .str("frozenset"), "items": .arr(s.items.map { norm($0) })])
        case .list(let l):
            let (n, fresh) = id(l)
            guard fresh else { return ref(n) }
            return .obj(["t": .str("list"), "id": .str(String(n)), "items": .arr(l.items.map { norm($0) })])
        case .set(let s):
            let (n, fresh) = id(s)
            guard fresh else { return ref(n) }
            return .obj(["t": .str("set"), "id": .str(String(n)), "items": .arr(s.items.map { norm($0) })])
        case .dict(let d):
            let (n, fresh) = id(d)
            guard fresh else { return ref(n) }
            var out: [String: J] = ["t": .str("dict"), "id": .str(String(n))]
            out["items"] = .arr(d.items.map { .arr([norm($0.key), norm($0.value)]) })
            if let state = d.state { out["state"] = norm(state) }
            return .obj(out)
        case .object(let o):
            let (n, fresh) = id(o)
            guard fresh else { return ref(n) }
            var out: [String: J] = ["t": .str("object"), "id": .str(String(n)), "class": .str(o.callable.description)]
            out["args"] = .arr(o.args.map { norm($0) })
            if let kwargs = o.kwargs { out["kwargs"] = norm(kwargs) }
            if let state = o.state { out["state"] = norm(state) }
            if !o.listItems.isEmpty { out["listItems"] = .arr(o.listItems.map { norm($0) }) }
            if !o.dictItems.isEmpty {
                out["dictItems"] = .arr(o.dictItems.map { .arr([norm($0.key), norm($0.value)]) })
            }
            return .obj(out)
        }
    }

    func ref(_ n: Int) -> J { .obj(["t": .str("ref"), "id": .str(String(n))]) }
}

/// The path of the first difference, or nil. NaN floats compare by being NaN (python's repr
/// round trip keeps the bits, but payloads are not the point).
func firstDifference(_ a: J, _ b: J, path: String = "$") -> String? {
    switch (a, b) {
    case let (.str(x), .str(y)):
        return x == y ? nil : "\(path): \"\(x)\" != \"\(y)\""
    case let (.arr(x), .arr(y)):
        guard x.count == y.count else { return "\(path): \(x.count) items != \(y.count) items" }
        for i in x.indices {
            if let d = firstDifference(x[i], y[i], path: "\(path)[\(i)]") { return d }
        }
        return nil
    case let (.obj(x), .obj(y)):
        if case .str("float")? = x["t"], case .str(let bx)? = x["bits"], case .str(let by)? = y["bits"],
           let ux = UInt64(bx, radix: 16), let uy = UInt64(by, radix: 16),
           Double(bitPattern: ux).isNaN && Double(bitPattern: uy).isNaN {
            return nil
        }
        // Sets are unordered (python's iteration order of the set it rebuilt need not be the
        // order pickle wrote): compare their items sorted.
        if case .str(let t)? = x["t"], t == "set" || t == "frozenset",
           case .arr(let xi)? = x["items"], case .arr(let yi)? = y["items"] {
            var xs = x, ys = y
            xs["items"] = .arr(xi.sorted { $0.description < $1.description })
            ys["items"] = .arr(yi.sorted { $0.description < $1.description })
            xs["t"] = .str(t + " (sorted)")
            ys["t"] = .str(t + " (sorted)")
            return firstDifference(.obj(xs), .obj(ys), path: path)
        }
        guard Set(x.keys) == Set(y.keys) else {
            return "\(path): keys \(x.keys.sorted()) != \(y.keys.sorted())"
        }
        for k in x.keys.sorted() {
            if let d = firstDifference(x[k]!, y[k]!, path: "\(path).\(k)") { return d }
        }
        return nil
    default:
        return "\(path): \(a) vs \(b)"
    }
}

// MARK: - Writing pickles by hand

typealias B = [UInt8]

func op(_ o: PickleOpcode) -> B { [o.rawValue] }
func u8(_ v: UInt8) -> B { [v] }
func u16(_ v: UInt16) -> B { withUnsafeBytes(of: v.littleEndian, Array.init) }
func u32(_ v: UInt32) -> B { withUnsafeBytes(of: v.littleEndian, Array.init) }
func i32(_ v: Int32) -> B { withUnsafeBytes(of: v.littleEndian, Array.init) }
func u64(_ v: UInt64) -> B { withUnsafeBytes(of: v.littleEndian, Array.init) }
func text(_ s: String) -> B { Array(s.utf8) }
/// SHORT_BINUNICODE s
func sstr(_ s: String) -> B { op(.shortBinunicode) + u8(UInt8(s.utf8.count)) + text(s) }
/// BININT1 / BININT
func int(_ v: Int32) -> B { (0...255).contains(v) ? op(.binint1) + u8(UInt8(v)) : op(.binint) + i32(v) }
func proto(_ p: UInt8 = 4) -> B { op(.proto) + u8(p) }
let stop = op(.stop)

/// A pickle of `body` at protocol 4, ending in STOP.
func p4(_ body: B...) -> B { proto() + body.flatMap { $0 } + stop }

func load(_ bytes: B, hooks: PickleHooks = PickleHooks(), limits: PickleLimits = .default) throws -> Unpickled {
    try unpickle(bytes, hooks: hooks, limits: limits)
}

func assertThrows(_ expected: PickleError, _ bytes: B, hooks: PickleHooks = PickleHooks(),
                  limits: PickleLimits = .default, file: StaticString = #filePath, line: UInt = #line) {
    do {
        let u = try unpickle(bytes, hooks: hooks, limits: limits)
        XCTFail("expected \(expected), decoded \(u.root)", file: file, line: line)
    } catch let error as PickleError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}

/// The PickleError thrown, or nil (with a failure) if it decoded or threw something else.
func pickleError(_ bytes: B, hooks: PickleHooks = PickleHooks(), limits: PickleLimits = .default,
                 file: StaticString = #filePath, line: UInt = #line) -> PickleError? {
    do {
        let u = try unpickle(bytes, hooks: hooks, limits: limits)
        XCTFail("expected an error, decoded \(u.root)", file: file, line: line)
    } catch let error as PickleError {
        return error
    } catch {
        XCTFail("expected a PickleError, got \(error)", file: file, line: line)
    }
    return nil
}
