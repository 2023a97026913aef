import Foundation
import XCTest
@testable import PTPickle

/// Pickles written by python's own pickle module (ptload_tools.fixtures.pickles), compared in
/// full with the value python got back from them.
final class GoldenTests: XCTestCase {
    struct Manifest {
        let python: String
        let protocols: [String: Int]
        let sizes: [String: Int]
    }

    func manifest() throws -> Manifest {
        guard let m = try fixtureJSON("manifest.json") as? [String: Any],
              let python = m["python"] as? String,
              let files = m["files"] as? [String: [String: Any]] else {
            throw XCTSkip("unreadable manifest")
        }
        var protocols: [String: Int] = [:], sizes: [String: Int] = [:]
        for (name, info) in files {
            protocols[name] = (info["protocol"] as? NSNumber)?.intValue
            sizes[name] = (info["size"] as? NSNumber)?.intValue
        }
        return Manifest(python: python, protocols: protocols, sizes: sizes)
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = try fixtureBytes(name + ".pkl")
        let expected = try J(json: try fixtureJSON(name + ".json"))
        let m = try manifest()
        var resolved: [PickleGlobal] = []
        let u = try unpickle(bytes, hooks: pythonLikeHooks(resolveGlobal: { resolved.append($0) }))
        var normalizer = Normalizer()
        let got = normalizer.norm(u.root)
        if let diff = firstDifference(got, expected) {
            XCTFail("\(name) (python \(m.python)): \(diff)", file: file, line: line)
        }
        XCTAssertEqual(bytes.count, m.sizes[name + ".pkl"], "\(name) is the file the manifest describes", file: file,
                       line: line)
        XCTAssertEqual(u.protocol, m.protocols[name + ".pkl"], "\(name) protocol", file: file, line: line)
        XCTAssertEqual(u.bytesConsumed, bytes.count, "\(name) bytesConsumed", file: file, line: line)
        XCTAssertEqual(Set(u.globals), Set(resolved), file: file, line: line)
        XCTAssertEqual(u.globals.count, Set(u.globals).count, "globals are deduplicated", file: file, line: line)
        // Trailing bytes after STOP are not read.
        let padded = try unpickle(bytes + [0xFF, 0x00, 0x13], hooks: pythonLikeHooks())
        XCTAssertEqual(padded.bytesConsumed, bytes.count, file: file, line: line)
    }

    func testProtocol0() throws { try check("proto0") }
    func testProtocol1() throws { try check("proto1") }
    func testProtocol2() throws { try check("proto2") }
    func testProtocol3() throws { try check("proto3") }
    func testProtocol4() throws { try check("proto4") }
    func testProtocol5() throws { try check("proto5") }
    func testNewobjExProtocol4() throws { try check("newobj_ex_proto4") }
    func testNewobjExProtocol5() throws { try check("newobj_ex_proto5") }
    func testBatchingProtocol2() throws { try check("batching_proto2") }
    func testBatchingProtocol4() throws { try check("batching_proto4") }
    func testPython2TextPickle() throws { try check("py2_proto0") }
    func testPython2BinaryPickleWithoutProto() throws { try check("py2_proto1") }

    /// The globals each protocol names, first-seen order.
    func testGlobalsInFirstSeenOrder() throws {
        let u2 = try unpickle(try fixtureBytes("proto2.pkl"), hooks: pythonLikeHooks())
        XCTAssertEqual(u2.globals.map(\.description),
                       ["__builtin__.bytes", "_codecs.encode", "__builtin__.bytearray", "__builtin__.frozenset",
                        "__builtin__.set", "collections.OrderedDict", "__main__.Point"])
        let u4 = try unpickle(try fixtureBytes("proto4.pkl"), hooks: pythonLikeHooks())
        XCTAssertEqual(u4.globals.map(\.description),
                       ["builtins.bytearray", "collections.OrderedDict", "__main__.Point"])
        let u0 = try unpickle(try fixtureBytes("proto0.pkl"), hooks: pythonLikeHooks())
        XCTAssertTrue(u0.globals.map(\.description).contains("copy_reg._reconstructor"))
    }

    /// Without hooks every call stays an opaque object, and nothing fails.
    func testGoldenWithoutHooksIsOpaque() throws {
        for p in 0...5 {
            let u = try unpickle(try fixtureBytes("proto\(p).pkl"))
            guard case .dict(let d) = u.root, case .object(let point)? = d.value(forStringKey: "point") else {
                return XCTFail("proto\(p): root is not a dict with a point")
            }
            XCTAssertEqual(point.callable.name, p < 2 ? "_reconstructor" : "Point", "proto\(p)")
            if case .object(let od)? = d.value(forStringKey: "odict") {
                XCTAssertEqual(od.callable, PickleGlobal(module: "collections", name: "OrderedDict"))
                XCTAssertEqual(od.dictItems.count, 3, "SETITEMS on an opaque object keep their pairs")
                XCTAssertNotNil(od.state)
            } else {
                XCTFail("proto\(p): odict is not opaque")
            }
        }
    }

    /// Sharing: both references are the same list, and the self-reference is the list itself.
    func testSharingAndSelfReference() throws {
        for p in 0...5 {
            let u = try unpickle(try fixtureBytes("proto\(p).pkl"), hooks: pythonLikeHooks())
            guard case .dict(let d) = u.root,
                  case .list(let a)? = d.value(forStringKey: "shared_a"),
                  case .list(let b)? = d.value(forStringKey: "shared_b"),
                  case .list(let s)? = d.value(forStringKey: "selfref"),
                  case .list(let inner)? = s.items.last else {
                return XCTFail("proto\(p): unexpected shape")
            }
            XCTAssertTrue(a === b, "proto\(p)")
            XCTAssertTrue(s === inner, "proto\(p)")
            XCTAssertTrue(u.root.description.contains("[...]"), "proto\(p): \(u.root.description)")
        }
    }

    /// Every prefix of every golden pickle either decodes (only the whole) or throws; never traps.
    func testTruncationAtEveryOffset() throws {
        for name in ["proto0", "proto1", "proto2", "proto3", "proto4", "proto5", "py2_proto0", "py2_proto1",
                     "newobj_ex_proto4", "newobj_ex_proto5"] {
            let bytes = try fixtureBytes(name + ".pkl")
            for cut in 0..<bytes.count {
                let prefix = Array(bytes[0..<cut])
                do {
                    _ = try unpickle(prefix, hooks: pythonLikeHooks())
                    XCTFail("\(name): prefix of \(cut) bytes decoded")
                } catch let error as PickleError {
                    // Opcode boundaries and argument reads are the only places a prefix can end.
                    switch error {
                    case .truncated, .frameExceedsInput: break
                    default: XCTFail("\(name) cut at \(cut): \(error)")
                    }
                }
            }
        }
    }

    /// Deterministic byte mutations of the goldens: each decodes or throws, nothing traps.
    func testMutationsNeverTrap() throws {
        var rng = SplitMix(seed: 0x5eed)
        var decoded = 0, failed = 0
        for name in ["proto0", "proto2", "proto4", "proto5", "py2_proto1"] {
            let bytes = try fixtureBytes(name + ".pkl")
            for _ in 0..<400 {
                var mutant = bytes
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let i = Int(rng.next() % UInt64(mutant.count))
                    switch rng.next() % 3 {
                    case 0: mutant[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: mutant[i] ^= 1 << UInt8(rng.next() % 8)
                    default: mutant[i] = [0x00, 0x7F, 0x80, 0xFF][Int(rng.next() % 4)]
                    }
                }
                do {
                    let u = try unpickle(mutant, hooks: pythonLikeHooks(), limits: PickleLimits(maxNestingDepth: 200))
                    _ = u.root.description
                    decoded += 1
                } catch {
                    failed += 1
                }
            }
        }
        XCTAssertEqual(decoded + failed, 2000)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
