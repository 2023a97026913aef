import Foundation
import FuzzSupport
import PTPickle

/// Runs the pickle machine twice over the input: once with the default hooks (every call an
/// opaque object), once with hooks that construct dicts, resolve persistent ids and accept
/// BUILD, the paths the torch layer uses. Then describes the result, as error messages do.
func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let limits = PickleLimits(maxOpcodes: 1_000_000, maxMemoEntries: 100_000, maxStackDepth: 100_000,
                              maxNestingDepth: 1_000, maxTotalBytes: 1 << 24)
    if let result = try? unpickle(bytes, limits: limits) {
        _ = result.root.describe()
    }
    // Hook objects keep only a summary of what they were given, as the torch layer's do: a hook
    // object that retained pickled containers could form cycles the arena must leave intact.
    let hooks = PickleHooks(
        resolveGlobal: { global in
            if global.module == "os" { throw FuzzRefusal() }
        },
        persistentLoad: { id in .custom(Box(id.describe(maxDepth: 2))) },
        construct: { global, _, args, _ in
            switch global.name {
            case "OrderedDict": return .dict(PickleDict())
            case "Box": return .custom(Box(args.first?.describe(maxDepth: 2) ?? ""))
            default: return nil
            }
        },
        build: { object, state in (object as? Box)?.state = state.describe(maxDepth: 2) }
    )
    if let result = try? unpickle(bytes, hooks: hooks, limits: limits) {
        _ = result.root.describe(maxDepth: 64, maxItems: 64, maxLength: 1 << 16)
    }
    return 0
}

private struct FuzzRefusal: Error {}

private final class Box {
    var state: String
    init(_ state: String) { self.state = state }
}

exit(runFuzzer { data, size in fuzzPickle(data, size) })
