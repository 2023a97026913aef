// Ownership of the value graph, and a teardown that never recurses.
//
// Swift frees a class by releasing its stored references, which can free the next class, and so
// on: freeing a list nested 1,000,000 levels deep that way overflows the stack, and a list that
// contains itself is never freed at all. So every container the machine makes (or adopts from a
// hook) is registered here, and `teardown` runs when the `Unpickled` (or, after an error, the
// machine) goes away:
//
//   1. every container's children are moved out into a side table in which references to
//      containers are unretained (so afterwards the only strong references to a container are
//      the arena's own and those held from outside: by the caller, or by hook objects);
//   2. a container the arena holds uniquely is unreachable from outside; every other one, and
//      everything reachable from it through the side table, is "kept";
//   3. kept containers get their children back; the rest stay empty;
//   4. the arena drops its references: the empty containers are freed one by one (no cascade),
//      the kept ones live on, intact, for whoever holds them.
//
// Cost: O(containers + edges), once. (Kept containers are later freed by ordinary ARC, whose
// recursion each container's `deinit` flattens with `releaseIteratively`; a cycle among kept
// containers is an ordinary reference cycle.)

final class PickleArena {
    private(set) var containers: [PickleContainer] = []

    func register(_ container: PickleContainer) {
        container.registered = true
        container.arenaIndex = containers.count
        containers.append(container)
    }

    /// What the last teardown did: containers it held, and how many it left intact because
    /// they were held (or reachable) from outside. For tests and diagnostics.
    private(set) var lastTeardown = (containers: 0, kept: 0)

    private static func table(_ table: [PickleContainer], holds container: PickleContainer) -> Bool {
        let i = container.arenaIndex
        return i >= 0 && i < table.count && table[i] === container
    }

    /// A child with container references unretained (valid while the arena holds them).
    private enum Saved {
        case leaf(PickleValue)
        case tuple(Unmanaged<PickleTuple>)
        case list(Unmanaged<PickleList>)
        case dict(Unmanaged<PickleDict>)
        case set(Unmanaged<PickleSet>)
        case object(Unmanaged<PickleObject>)

        var value: PickleValue {
            switch self {
            case .leaf(let v): return v
            case .tuple(let u): return .tuple(u.takeUnretainedValue())
            case .list(let u): return .list(u.takeUnretainedValue())
            case .dict(let u): return .dict(u.takeUnretainedValue())
            case .set(let u): return .set(u.takeUnretainedValue())
            case .object(let u): return .object(u.takeUnretainedValue())
            }
        }

        var arenaIndex: Int? {
            switch self {
            case .leaf: return nil
            case .tuple(let u): return u._withUnsafeGuaranteedRef { $0.arenaIndex }
            case .list(let u): return u._withUnsafeGuaranteedRef { $0.arenaIndex }
            case .dict(let u): return u._withUnsafeGuaranteedRef { $0.arenaIndex }
            case .set(let u): return u._withUnsafeGuaranteedRef { $0.arenaIndex }
            case .object(let u): return u._withUnsafeGuaranteedRef { $0.arenaIndex }
            }
        }
    }

    private static func save(_ value: PickleValue, _ t: [PickleContainer]) -> Saved {
        switch value {
        case .tuple(let c) where table(t, holds: c): return .tuple(.passUnretained(c))
        case .list(let c) where table(t, holds: c): return .list(.passUnretained(c))
        case .dict(let c) where table(t, holds: c): return .dict(.passUnretained(c))
        case .set(let c) where table(t, holds: c): return .set(.passUnretained(c))
        case .object(let c) where table(t, holds: c): return .object(.passUnretained(c))
        default: return .leaf(value)  // scalars, hook objects, containers of another arena
        }
    }

    /// Empties (and so frees flatly) every container nobody outside holds; see the top of the file.
    /// Idempotent.
    func teardown() {
        guard !containers.isEmpty else { return }
        // Work on a local table (no dynamic exclusivity checks); it holds the same references.
        var containers: [PickleContainer] = []
        swap(&containers, &self.containers)
        // 1. Move all children out; references to our containers become unretained.
        //    Container i's children are saved[bounds[i]..<bounds[i + 1]].
        var saved: [Saved] = []
        var total = 0
        for c in containers { total += c.childCount }
        saved.reserveCapacity(total)
        var bounds: [Int] = [0]
        bounds.reserveCapacity(containers.count + 1)
        for i in containers.indices {
            containers[i].walkMark = 0
            for child in containers[i].takeChildren() {
                saved.append(PickleArena.save(child, containers))
            }
            bounds.append(saved.count)
        }
        // 2. Held from outside → kept, and so is everything reachable from it.
        var work: [Int] = []
        for i in containers.indices where !isKnownUniquelyReferenced(&containers[i]) {
            work.append(i)
        }
        for i in work { containers[i].walkMark = 1 }
        while let i = work.popLast() {
            for k in bounds[i]..<bounds[i + 1] {
                guard let j = saved[k].arenaIndex, containers[j].walkMark == 0 else { continue }
                containers[j].walkMark = 1
                work.append(j)
            }
        }
        // 3. Kept containers get their children back.
        var kept = 0
        for i in containers.indices where containers[i].walkMark == 1 {
            containers[i].restoreChildren(saved[bounds[i]..<bounds[i + 1]].map(\.value))
            containers[i].walkMark = 0
            kept += 1
        }
        lastTeardown = (containers.count, kept)
        // 4. Drop the side table (scalars, hook objects), then the containers: the empty ones
        //    are freed without touching one another.
        saved = []
        for c in containers { c.registered = false }
        containers = []  // frees the emptied containers, one by one
    }

    deinit {
        teardown()
    }
}
