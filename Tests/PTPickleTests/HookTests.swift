import XCTest
@testable import PTPickle

/// The hooks the torch layer uses: construct, persistentLoad, build, resolveGlobal.
final class HookTests: XCTestCase {
    /// collections.OrderedDict → .dict, then SETITEMS fill it and BUILD sets its state,
    /// as in every torch state dict (`_metadata`).
    func testConstructOrderedDictThenSetitemsAndBuild() throws {
        var constructed: [(PickleGlobal, ConstructionKind, Int)] = []
        let hooks = PickleHooks(construct: { g, kind, args, kwargs in
            constructed.append((g, kind, args.count))
            XCTAssertNil(kwargs)
            if g == PickleGlobal(module: "collections", name: "OrderedDict") { return .dict(PickleDict()) }
            return nil
        })
        // OrderedDict() ; od['w'] = 1 ; od['b'] = 2 ; od._metadata = {'': {'version': 1}}  (protocol 2 layout)
        let bytes = proto(2) + text("ccollections\nOrderedDict\n") + op(.emptyTuple) + op(.reduce) + op(.binput) + u8(0)
            + op(.mark) + sstr("w") + int(1) + sstr("b") + int(2) + op(.setitems)
            + op(.emptyDict) + op(.mark) + sstr("_metadata") + op(.emptyDict) + sstr("") + op(.emptyDict)
            + sstr("version") + int(1) + op(.setitem) + op(.setitem) + op(.setitems) + op(.build) + stop
        let u = try unpickle(bytes, hooks: hooks)
        guard case .dict(let od) = u.root else { return XCTFail("\(u.root)") }
        XCTAssertEqual(od.items.map(\.key.stringValue), ["w", "b"])
        XCTAssertEqual(od.value(forStringKey: "b")?.intValue, 2)
        guard case .dict(let state)? = od.state, case .dict(let metadata)? = state.value(forStringKey: "_metadata"),
              case .dict(let entry)? = metadata.value(forStringKey: "") else {
            return XCTFail("state: \(String(describing: od.state))")
        }
        XCTAssertEqual(entry.value(forStringKey: "version")?.intValue, 1)
        XCTAssertEqual(constructed.map(\.0.description), ["collections.OrderedDict"])
        XCTAssertEqual(constructed.map(\.1), [.reduce])
        XCTAssertEqual(od.nestingDepth, 4, "od → state → _metadata[''] → {version: 1}")
        XCTAssertEqual(u.globals, [PickleGlobal(module: "collections", name: "OrderedDict")])
    }

    /// persistentLoad receives torch's tuple and returns a custom object the machine passes through.
    func testPersistentLoadReturningCustom() throws {
        final class Storage {
            let key: String
            init(key: String) { self.key = key }
        }
        var ids: [PickleValue] = []
        let hooks = PickleHooks(persistentLoad: { pid in
            ids.append(pid)
            guard let items = pid.tupleItems, items.count == 5, let key = items[2].stringValue else {
                throw PickleError.malformed(offset: 0, opcode: .binpersid, reason: "test")
            }
            return .custom(Storage(key: key))
        })
        // ('storage', <class FloatStorage>, '0', 'cpu', 6) — the torch zip-format persistent id.
        let pid = op(.mark) + sstr("storage") + sstr("torch") + sstr("FloatStorage") + op(.stackGlobal)
            + sstr("0") + sstr("cpu") + int(6) + op(.tuple) + op(.binpersid)
        let u = try unpickle(p4(op(.emptyList), op(.mark), pid, pid, op(.appends)), hooks: hooks)
        guard case .list(let l) = u.root, l.items.count == 2,
              case .custom(let a) = l.items[0], case .custom(let b) = l.items[1],
              let s = a as? Storage else {
            return XCTFail("\(u.root)")
        }
        XCTAssertEqual(s.key, "0")
        XCTAssertFalse(a === b, "each BINPERSID calls the loader")
        XCTAssertEqual(ids.count, 2)
        XCTAssertEqual(ids[0].tupleItems?[1].globalValue, PickleGlobal(module: "torch", name: "FloatStorage"))
        XCTAssertEqual(u.globals.map(\.description), ["torch.FloatStorage"])
        // PERSID passes a string.
        let t = try unpickle(text("P42\n."),
                             hooks: PickleHooks(persistentLoad: { .custom(Storage(key: $0.stringValue ?? "?")) }))
        XCTAssertEqual((t.root.customValue as? Storage)?.key, "42")
    }

    /// construct returning .custom (a tensor, say), then BUILD through the build hook.
    func testConstructCustomAndBuildHook() throws {
        final class Tensor {
            var state: PickleValue?
            let args: Int
            init(args: Int) { self.args = args }
        }
        var built = 0
        let hooks = PickleHooks(construct: { g, _, args, _ in
            g.name == "_rebuild_tensor_v2" ? .custom(Tensor(args: args.count)) : nil
        }, build: { obj, state in
            built += 1
            (obj as? Tensor)?.state = state
        })
        let bytes = p4(sstr("torch._utils"), sstr("_rebuild_tensor_v2"), op(.stackGlobal),
                       op(.mark), int(1), int(2), int(3), op(.tuple), op(.reduce),
                       op(.emptyDict), sstr("requires_grad"), op(.newtrue), op(.setitem), op(.build))
        let u = try unpickle(bytes, hooks: hooks)
        guard let t = u.root.customValue as? Tensor else { return XCTFail("\(u.root)") }
        XCTAssertEqual(t.args, 3)
        XCTAssertEqual(built, 1)
        guard case .dict(let state)? = t.state else { return XCTFail() }
        XCTAssertEqual(state.value(forStringKey: "requires_grad")?.boolValue, true)
    }

    /// Containers a hook makes join the arena and are depth-checked.
    func testHookContainersAreAdoptedAndDepthChecked() throws {
        let hooks = PickleHooks(construct: { _, _, args, _ in
            // A fresh tuple wrapping a fresh list wrapping the args.
            .tuple(PickleTuple([.list(PickleList(args))]))
        })
        let u = try unpickle(p4(text("cm\nf\n"), op(.emptyList), op(.tuple1), op(.reduce)), hooks: hooks)
        guard case .tuple(let t) = u.root else { return XCTFail() }
        XCTAssertEqual(t.nestingDepth, 3)
        XCTAssertTrue(t.registered)
        guard case .list(let inner)? = t.items.first else { return XCTFail() }
        XCTAssertTrue(inner.registered)
        // f(f(f(...f(())...))) where the hook makes f(x) = [x]: 30 lists around a tuple.
        let nest = PickleHooks(construct: { _, _, args, _ in .list(PickleList(args)) })
        var chain = proto()
        for _ in 0..<30 { chain += text("cm\nf\n") }
        chain += op(.emptyTuple)
        for _ in 0..<30 { chain += op(.tuple1) + op(.reduce) }
        chain += stop
        let ok = try unpickle(chain, hooks: nest, limits: PickleLimits(maxNestingDepth: 31))
        XCTAssertEqual((ok.root.container)?.nestingDepth, 31)
        guard case .nestingTooDeep(limit: 30, _)? = pickleError(chain, hooks: nest,
                                                                limits: PickleLimits(maxNestingDepth: 30)) else {
            return XCTFail()
        }
    }

    /// Hooks see kwargs for NEWOBJ_EX, and the kind of every construction.
    func testConstructKinds() throws {
        var kinds: [ConstructionKind] = []
        var kwargsSeen: PickleValue?
        let hooks = PickleHooks(construct: { _, kind, _, kwargs in
            kinds.append(kind)
            if kind == .newobjEx { kwargsSeen = kwargs }
            return nil
        })
        let g = text("cm\nC\n")
        _ = try unpickle(proto(4) + op(.mark)
                         + g + op(.emptyTuple) + op(.reduce)
                         + g + op(.emptyTuple) + op(.newobj)
                         + g + op(.emptyTuple) + op(.emptyDict) + op(.newobjEx)
                         + op(.mark) + text("im\nC\n")
                         + op(.mark) + g + op(.obj)
                         + op(.list) + stop, hooks: hooks)
        XCTAssertEqual(kinds, [.reduce, .newobj, .newobjEx, .inst, .obj])
        guard case .dict? = kwargsSeen else { return XCTFail() }
    }

    func testDefaultHooksAcceptEveryNameAndBuildNothing() throws {
        let u = try unpickle(p4(sstr("os"), sstr("system"), op(.stackGlobal), sstr("echo"), op(.tuple1), op(.reduce)))
        guard case .object(let o) = u.root else { return XCTFail() }
        XCTAssertEqual(o.callable.description, "os.system")
        XCTAssertEqual(o.args.first?.stringValue, "echo")
        XCTAssertTrue(u.root.description.hasPrefix("os.system('echo'"), u.root.description)
    }
}
