import PTPickle

/// The globals outside torch and builtins that ptload interprets itself instead of keeping as
/// opaque objects: one list, read by the walker (which objects are dicts, which calls rebuild an
/// object) and by the listing (which classes are opaque). What a policy allows is a different
/// question (`GlobalPolicy`: torch's own weights-only allowlist, and the deny list).
enum InterpretedGlobals {
    /// Classes whose objects are dicts: their items are walked as keys.
    static let dictClasses: Set<String> = ["collections.OrderedDict", "collections.Counter", "collections.defaultdict",
                                           "builtins.dict"]
    /// copyreg's object reconstructor, under its Python 3 and Python 2 names (protocol 0/1
    /// pickles of whole modules): the object's class is its first argument.
    static let reconstructors: Set<String> = ["copyreg._reconstructor", "copy_reg._reconstructor"]
    /// The rest: bytes written as latin-1 text (`_codecs.encode`), the plain object base.
    static let others: Set<String> = ["_codecs.encode", "__builtin__.object"]

    static let all = dictClasses.union(reconstructors).union(others)
}

/// Globals ptload keeps as opaque objects: anything it does not interpret itself.
func opaqueClasses(_ globals: [PickleGlobal]) -> [String] {
    let names = globals.filter { g in
        if g.module == "torch" || g.module.hasPrefix("torch.") { return false }
        if g.module == "builtins" || g.module == "__builtin__" { return false }
        return !InterpretedGlobals.all.contains(g.description)
    }.map(\.description)
    return Array(Set(names)).sorted()
}
