import Dispatch
import Synchronization
import XCTest
@testable import PTPickle

/// Teardown: flat (never recursive), cycles freed, values still held elsewhere left intact.
final class LifetimeTests: XCTestCase {
    func deepLists(_ n: Int) -> B {
        proto() + B(repeating: PickleOpcode.emptyList.rawValue, count: n)
            + B(repeating: PickleOpcode.append.rawValue, count: n - 1) + stop
    }

    /// The arena itself empties what nobody holds (the iterative deinit is only a second line).
    func testArenaKeepsOnlyWhatIsHeld() throws {
        var arena: PickleArena?
        do {
            let u = try unpickle(try fixtureBytes("proto4.pkl"), hooks: pythonLikeHooks())
            arena = u.arena
        }
        XCTAssertGreaterThan(arena?.lastTeardown.containers ?? 0, 50)
        XCTAssertEqual(arena?.lastTeardown.kept, 0)
        var kept: PickleValue = .none
        do {
            let u = try unpickle(try fixtureBytes("proto4.pkl"), hooks: pythonLikeHooks())
            arena = u.arena
            if case .dict(let d) = u.root { kept = d.value(forStringKey: "shared_a") ?? .none }
        }
        XCTAssertEqual(arena?.lastTeardown.kept, 1, "only the held list")
        XCTAssertEqual(kept.description, "[1, 2, 'shared']")
        var root: PickleValue = .none
        do {
            let u = try unpickle(deepLists(1_000), limits: PickleLimits(maxNestingDepth: 1_000))
            arena = u.arena
            root = u.root
        }
        XCTAssertEqual(arena?.lastTeardown.kept, 1_000, "everything reachable from the held root")
        XCTAssertEqual(root.container?.nestingDepth, 1_000)
        // An error path tears down too.
        let machineArena = PickleArena()
        machineArena.register(PickleList())
        machineArena.teardown()
        XCTAssertEqual(machineArena.lastTeardown.containers, 1)
        XCTAssertEqual(machineArena.lastTeardown.kept, 0)
    }

    func testCyclesAreFreed() throws {
        weak var list: PickleList?
        weak var dict: PickleDict?
        do {
            let u = try unpickle(p4(op(.emptyList), op(.memoize), op(.binget), u8(0), op(.append),
                                    op(.emptyDict), op(.memoize), sstr("me"), op(.binget), u8(1), op(.setitem),
                                    op(.append)))
            withExtendedLifetime(u) {
                if case .list(let l) = u.root { list = l }
                if case .list(let l) = u.root, case .dict(let d)? = l.items.last { dict = d }
            }
            XCTAssertNotNil(list)
            XCTAssertNotNil(dict)
        }
        XCTAssertNil(list)
        XCTAssertNil(dict)
    }

    func testRootKeptPastTheUnpickledIsIntact() throws {
        var root: PickleValue = .none
        weak var unpickled: Unpickled?
        do {
            let u = try unpickle(try fixtureBytes("proto2.pkl"), hooks: pythonLikeHooks())
            unpickled = u
            root = u.root
        }
        XCTAssertNil(unpickled)
        guard case .dict(let d) = root, case .list(let ints)? = d.value(forStringKey: "ints"),
              case .dict(let od)? = d.value(forStringKey: "odict") else {
            return XCTFail("\(root)")
        }
        XCTAssertEqual(ints.items.count, 19)
        XCTAssertEqual(od.items.count, 3)
        XCTAssertNotNil(od.state)
        var normalizer = Normalizer()
        let expected = try J(json: try fixtureJSON("proto2.json"))
        XCTAssertNil(firstDifference(normalizer.norm(root), expected))
    }

    func testOnlyWhatIsHeldSurvives() throws {
        weak var outer: PickleList?
        var kept: PickleValue = .none
        do {
            // [[1, [2]], 3]: keep the inner [1, [2]] only.
            let u = try unpickle(p4(op(.emptyList), op(.mark), op(.emptyList), op(.mark), int(1), op(.emptyList),
                                    int(2),
                                    op(.append), op(.appends), int(3), op(.appends)))
            withExtendedLifetime(u) {
                guard case .list(let l) = u.root else { return }
                outer = l
                kept = l.items[0]
            }
        }
        XCTAssertNil(outer, "the unheld outer list was freed")
        XCTAssertEqual(kept.description, "[1, [2]]")
    }

    func testHookObjectsHoldingContainersKeepThem() throws {
        final class Holder {
            let value: PickleValue
            init(_ value: PickleValue) { self.value = value }
        }
        var holder: Holder?
        do {
            let hooks = PickleHooks(construct: { _, _, args, _ in
                let h = Holder(args[0])
                holder = h
                return .custom(h)
            })
            _ = try unpickle(p4(text("cm\nf\n"), op(.emptyList), op(.mark), int(1), int(2), op(.appends), op(.tuple1),
                                op(.reduce)),
                             hooks: hooks)
        }
        XCTAssertEqual(holder?.value.description, "[1, 2]")
    }

    func testDeepRootKeptPastTheUnpickledIsReleasedIteratively() throws {
        var root: PickleValue = .none
        do {
            let u = try unpickle(deepLists(200_000), limits: PickleLimits(maxNestingDepth: 1_000_000))
            root = u.root
        }
        XCTAssertEqual(root.container?.nestingDepth, 200_000)
        root = .none  // a recursive release would overflow the stack here
    }

    func testDeepHookValueReleasedIteratively() {
        // A value built entirely outside the machine is also freed without recursion.
        var v: PickleValue = .none
        for _ in 0..<200_000 { v = .list(PickleList([v])) }
        XCTAssertEqual(chainLength(v) { if case .list(let l) = $0 { return l.items.first } else { return nil } },
                       200_000)
        v = .none  // a recursive release would overflow the stack here
        var d: PickleValue = .none
        for i in 0..<100_000 {
            let dict = PickleDict()
            dict.set(.int(Int64(i)), d)
            d = .dict(dict)
        }
        XCTAssertEqual(chainLength(d) { if case .dict(let m) = $0 { return m.items.first?.value } else { return nil } },
                       100_000)
        d = .none
    }

    /// How many containers `next` follows from `value` before it meets a leaf (counted in a loop,
    /// so that a chain too deep for recursion can be measured).
    private func chainLength(_ value: PickleValue, next: (PickleValue) -> PickleValue?) -> Int {
        var count = 0
        var current = value
        while let inner = next(current) {
            count += 1
            current = inner
        }
        return count
    }

    func testMillionDeepWithRaisedLimits() throws {
        // Accepted, described, torn down: no recursion anywhere.
        let u = try unpickle(deepLists(1_000_000), limits: PickleLimits(maxNestingDepth: 2_000_000))
        XCTAssertEqual(u.root.container?.nestingDepth, 1_000_000)
        XCTAssertTrue(u.root.description.hasSuffix("]]]]"))
    }

    func testConcurrentLoads() throws {
        let bytes = try fixtureBytes("proto4.pkl")
        let expected = try J(json: try fixtureJSON("proto4.json"))
        let failures = Mutex([Int](repeating: 0, count: 8))
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for _ in 0..<20 {
                guard let u = try? unpickle(bytes, hooks: pythonLikeHooks()) else {
                    failures.withLock { $0[i] += 1 }
                    continue
                }
                var n = Normalizer()
                if firstDifference(n.norm(u.root), expected) != nil { failures.withLock { $0[i] += 1 } }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [Int](repeating: 0, count: 8))
    }
}
