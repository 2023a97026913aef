import PTPickle
import PTTensor

/// Why a global is refused.
public enum GlobalRefusal: CustomStringConvertible, Equatable, Sendable {
    /// On the deny list: `why` says what it would do ("runs shell commands", …).
    case denied(String)
    /// Strict loading (`LoadOptions.strict`): not on `torch.load(weights_only=True)`'s allowlist.
    case notWeightsOnly

    /// The refusal as it follows "which": a caller that names strict loading otherwise (a
    /// command-line flag) matches `.notWeightsOnly` and words its own line.
    public var description: String {
        switch self {
        case .denied(let why): return why
        case .notWeightsOnly: return "is not on the weights-only allowlist (strict loading)"
        }
    }
}

/// Which globals a checkpoint may name. A global is only ever a name to ptload, but a file that
/// names code execution is refused whole: nobody writes `os.system` into a state dict by accident.
///
/// Default mode: refuse the deny list, allow the rest (unknown classes become opaque objects).
/// Strict mode: allow only what `torch.load(weights_only=True)` allows
/// (`torch/_weights_only_unpickler.py _get_allowed_globals`), refuse everything else.
public struct GlobalPolicy: Sendable {
    public var strict: Bool

    public init(strict: Bool = false) { self.strict = strict }

    /// Why `global` is refused, or `nil` when it is allowed.
    public func refusal(for global: PickleGlobal) -> GlobalRefusal? {
        if let reason = GlobalPolicy.denial(global) { return .denied(reason) }
        if strict && !GlobalPolicy.isWeightsOnlyAllowed(global) { return .notWeightsOnly }
        return nil
    }

    // MARK: deny list

    /// Modules whose every attribute is refused: they run code, touch the OS, or load pickles.
    /// The union of the scanners' lists (picklescan, modelscan, fickling) and torch's own notes.
    static let deniedModules: Set<String> = [
        "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "runpy", "pty", "pickle", "_pickle",
        "cPickle", "pickletools", "dill", "shelve", "marshal", "importlib", "imp", "_imp", "zipimport", "pkgutil",
        "ctypes", "_ctypes", "socket", "_socket", "ssl", "select", "selectors", "shutil", "tempfile", "glob",
        "pathlib", "io", "_io", "fileinput", "codecs", "commands", "popen2", "platform", "webbrowser", "code",
        "codeop", "pdb", "bdb", "trace", "timeit", "profile", "cProfile", "multiprocessing", "concurrent",
        "threading", "_thread", "thread", "asyncio", "signal", "gc", "inspect", "ast", "types", "operator",
        "_operator", "functools", "_functools", "site", "sysconfig", "distutils", "setuptools", "pip", "venv",
        "ensurepip", "http", "urllib", "urllib2", "httplib", "requests", "ftplib", "smtplib", "telnetlib",
        "poplib", "imaplib", "nntplib", "xmlrpc", "socketserver", "logging", "tkinter", "turtle", "idlelib",
        "lib2to3", "builtins_", "exceptions", "uuid", "bz2", "lzma", "gzip", "zipfile", "tarfile", "sqlite3",
        "dbm", "mmap", "resource", "fcntl", "termios", "pwd", "grp", "crypt", "spwd", "syslog", "atexit",
        "faulthandler", "tracemalloc", "weakref", "copy", "abc", "contextlib", "numexpr", "joblib", "torch.hub",
        "torch._dynamo", "torch._inductor", "torch.jit", "torch.package", "torch.distributed",
        "torch.utils.cpp_extension",
        "torch.multiprocessing", "torch.ops", "torch._ops", "torch._C._jit", "numpy.testing", "numpy.f2py",
        "numpy.distutils", "numpy.ctypeslib", "numpy.lib.npyio", "numpy.lib.format", "numpy.lib.utils",
        "pandas.io", "keras", "tensorflow", "yaml", "jinja2", "IPython", "nose", "pytest", "_posixsubprocess",
        "opcode", "dis", "mailcap", "cgi", "pydoc", "antigravity", "aiohttp", "huggingface_hub", "torch.fx",
        "torch.utils._config_module", "torch.utils.bottleneck", "torch.utils.collect_env", "torch.utils.data",
    ]

    /// Single names refused in otherwise tolerated modules.
    static let deniedGlobals: Set<String> = [
        "torch.load", "torch.serialization.load", "torch.serialization._load", "torch.serialization._legacy_load",
        "torch.storage._load_from_bytes", "torch._utils._rebuild_device_tensor_from_numpy",
        "torch.compile", "torch.from_file", "torch.save", "torch.set_default_device",
        "numpy.load", "numpy.save", "numpy.fromfile", "numpy.memmap", "numpy.loadtxt", "numpy.genfromtxt",
        "numpy.core.multiarray._load", "numpy.lib._npyio_impl.load",
        "collections.namedtuple", "collections._make", "copyreg._reconstruct", "copyreg.add_extension",
        "copyreg.pickle", "copyreg.constructor", "_codecs.decode", "_codecs.open",
    ]

    /// `builtins` names that only build plain data; every other builtin (eval, exec, getattr,
    /// open, __import__, setattr, compile, globals, vars, input, breakpoint, …) is refused.
    static let dataBuiltins: Set<String> = [
        "set", "frozenset", "bytearray", "bytes", "complex", "dict", "list", "tuple", "int", "float", "str",
        "bool", "slice", "range", "object", "NoneType", "Ellipsis", "NotImplemented",
    ]

    /// Plain-data classes inside otherwise denied modules.
    /// TorchScript's pickler writes typed lists through `torch.jit._pickle` (torch/jit/_pickle.py).
    static let dataExceptions: Set<String> = [
        "types.SimpleNamespace", "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_complexlist",
        "torch.jit._pickle.restore_type_tag",
    ]

    static func denial(_ g: PickleGlobal) -> String? {
        let full = g.module + "." + g.name
        if dataExceptions.contains(full) { return nil }
        // Python resolves `name` as an attribute path (pickle protocol 4 `_getattribute`), so
        // `torch` + `serialization.os.system` would reach os.system: refuse attribute paths.
        if g.name.contains(".") { return "is an attribute path, which can reach any object" }
        if g.module.isEmpty || g.name.isEmpty { return "has an empty module or name" }
        if g.module == "builtins" || g.module == "__builtin__" || g.module == "__builtins__" {
            return dataBuiltins.contains(g.name) ? nil : "can execute code or reach the system"
        }
        if deniedGlobals.contains(full) { return "can execute code or read other files" }
        var prefix = ""
        for component in g.module.split(separator: ".", omittingEmptySubsequences: false) {
            prefix = prefix.isEmpty ? String(component) : prefix + "." + component
            if deniedModules.contains(prefix) {
                return "belongs to '\(prefix)', which can execute code or reach the system"
            }
        }
        // A denied module re-exported under another name (`torch.serialization.os` is not a
        // module path here, but `somepkg.os` style lookups can be): refuse any path component
        // that names a process or shell module.
        for component in g.module.split(separator: ".").dropFirst()
            where ["os", "subprocess", "sys", "builtins", "posix", "nt"].contains(String(component)) {
            return "reaches '\(component)' through '\(g.module)'"
        }
        return nil
    }

    // MARK: weights-only allowlist

    static let weightsOnlyGlobals: Set<String> = {
        var s: Set<String> = [
            "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
            "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device",
            "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
            "torch._utils._rebuild_qtensor", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_sparse_tensor",
            "torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_wrapper_subclass",
            "torch._utils._rebuild_device_tensor_from_cpu_tensor", "torch._tensor._rebuild_from_type_v2",
            "torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.per_channel_affine",
            "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
            "torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.UntypedStorage", "torch.TypedStorage",
        ]
        for dtype in DType.allCases {
            s.insert(dtype.torchName)
            if let storage = dtype.storageClass { s.insert("torch." + storage) }
        }
        for alias in DType.torchAliases.keys { s.insert("torch." + alias) }
        // torch's dtypes and storages that ptload has no DType for.
        for name in ["bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "bcomplex32", "quint4x2", "quint2x4",
                     "QUInt4x2Storage", "QUInt2x4Storage"] {
            s.insert("torch." + name)
        }
        for x in 1...7 { s.insert("torch.uint\(x)"); s.insert("torch.int\(x)") }
        for t in ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
                  "ShortTensor", "IntTensor", "LongTensor", "BoolTensor"] {
            s.insert("torch." + t)
        }
        return s
    }()

    static func isWeightsOnlyAllowed(_ g: PickleGlobal) -> Bool {
        weightsOnlyGlobals.contains(g.module + "." + g.name)
    }
}
