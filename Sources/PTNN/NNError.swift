import PTCheckpoint
import PTTensor

/// Why a module could not be found, loaded or run. Descriptions name the dotted key or the
/// input, what was expected and what was found. Options the caller gave are carried as values
/// (`ModuleOption`) and named through an `OptionSpelling`: the library's words by default, a
/// command line's flags where it renders them.
public enum NNError: Error, CustomStringConvertible, Sendable {
    /// A key the module needs is not in the checkpoint.
    case missingKey(key: String, expected: String)
    /// A weight stored under a parametrization ptload does not compute (weight norm it does).
    case unknownParametrization(key: String, why: String)
    /// A key under the module's prefix that the module does not use.
    case unusedKey(key: String, module: String)
    /// A weight whose shape does not fit the configuration.
    case wrongShape(key: String, shape: [Int], expected: [Int], module: String)
    /// The weights at `prefix` do not describe any recurrent layer.
    case unrecognised(prefix: String, why: String)
    /// An option the caller gave contradicts the pickled module (`module`: "'prefix'" or "the module").
    case optionContradictsPickled(ModuleOption, pickled: String, module: String)
    /// An option that means nothing for this kind of module.
    case optionNotApplicable(ModuleOption, module: String, kind: String)
    /// No module has this name; `candidates` are every module prefix of the checkpoint.
    case noSuchModule(name: String, candidates: [String])
    /// Several modules end with `.name`.
    case ambiguousModule(name: String, matches: [String])
    /// The checkpoint holds no recurrent module (`why`: keys that look recurrent but fit none).
    case noRecurrentModule(why: String?)
    /// The checkpoint holds several recurrent modules and none was chosen.
    case severalRecurrentModules(prefixes: [String])
    /// An input, initial state or lengths array that does not fit the module.
    case badInput(String)
    /// A weight whose dtype cannot be computed with (complex, integer).
    case unsupportedDType(key: String, dtype: String)
    /// A weight whose values cannot be read (a view repeating its storage beyond the limit).
    case unreadableWeight(key: String, TensorError)
    /// Reading a weight's bytes from the checkpoint failed (a storage record's CRC-32, say).
    case checkpoint(CheckpointError)

    public var description: String { description(spelling: .library) }

    /// The description with the caller's options named by `spelling`.
    public func description(spelling: OptionSpelling) -> String {
        switch self {
        case let .missingKey(key, expected): return "\(key) is missing; expected \(expected)"
        case let .unusedKey(key, module): return "\(key) is not used by \(module)"
        case let .wrongShape(key, shape, expected, module):
            return "\(key) has shape \(shape); \(module) needs \(expected)"
        case let .unrecognised(prefix, why):
            return "'\(prefix.isEmpty ? "(root)" : prefix)' is not a recurrent module: \(why)"
        case let .optionContradictsPickled(option, pickled, module):
            return "\(spelling.given(option)) contradicts \(module)'s pickled \(option.attribute)\(option.pickledValue(pickled))"
        case let .optionNotApplicable(option, module, kind):
            // "an LSTM", "an RNNCell", "a GRU": the article the kind's spoken initial takes.
            return "\(spelling.name(option)) applies to RNN modules; \(module) is \(kind.hasPrefix("G") ? "a" : "an") \(kind)"
        case let .unknownParametrization(key, why):
            return "\(key): \(why)"
        case let .noSuchModule(name, candidates):
            let listed = ModuleCatalog.listed(candidates)
            return "no module '\(name)' in the checkpoint; modules: \(listed.isEmpty ? "none" : listed)"
        case let .ambiguousModule(name, matches):
            return "'\(name)' matches several modules: \(matches.joined(separator: ", ")); give the full prefix"
        case .noRecurrentModule(let why):
            return "the checkpoint holds no RNN, LSTM or GRU weights\(why.map { ": " + $0 } ?? "")"
        case .severalRecurrentModules(let prefixes):
            return "the checkpoint holds \(prefixes.count) recurrent modules (\(ModuleCatalog.listed(prefixes))); \(spelling.chooseModule)"
        case .badInput(let why): return why
        case let .unsupportedDType(key, dtype): return "\(key) is \(dtype); only floating-point weights can be run"
        case let .unreadableWeight(key, error): return "\(key): \(error)"
        case .checkpoint(let error): return error.description(strictLoading: spelling.strictLoading)
        }
    }
}

/// An option a caller gives where the file records nothing (or to check what it records).
public enum ModuleOption: Equatable, Sendable {
    /// `batch_first`, with the value given.
    case batchFirst(Bool)
    /// An RNN's `nonlinearity` (`tanh`, `relu`), with the value given.
    case nonlinearity(String)

    /// The torch.nn attribute.
    public var attribute: String {
        switch self {
        case .batchFirst: return "batch_first"
        case .nonlinearity: return "nonlinearity"
        }
    }

    /// How the pickled value follows the attribute's name: `=False`, ` 'relu'`.
    func pickledValue(_ value: String) -> String {
        switch self {
        case .batchFirst: return "=\(value)"
        case .nonlinearity: return " '\(value)'"
        }
    }
}

/// How messages name what the caller chose: the library's words (`batch_first=True`,
/// `nonlinearity 'tanh'`), or a command line's flags.
public struct OptionSpelling: Sendable {
    /// The option with the value given.
    public var given: @Sendable (ModuleOption) -> String
    /// The option alone.
    public var name: @Sendable (ModuleOption) -> String
    /// How to pick one recurrent module among several.
    public var chooseModule: String
    /// Strict loading (`LoadOptions.strict`), in a refusal of a global.
    public var strictLoading: String

    public init(given: @escaping @Sendable (ModuleOption) -> String, name: @escaping @Sendable (ModuleOption) -> String,
                chooseModule: String, strictLoading: String) {
        self.given = given
        self.name = name
        self.chooseModule = chooseModule
        self.strictLoading = strictLoading
    }

    /// torch.nn's words: `batch_first=True`, `nonlinearity 'tanh'`.
    public static let library = OptionSpelling(
        given: { option in
            switch option {
            case .batchFirst(let value): return "batch_first=\(value ? "True" : "False")"
            case .nonlinearity(let value): return "nonlinearity '\(value)'"
            }
        },
        name: { $0.attribute },
        chooseModule: "choose one by its prefix",
        strictLoading: "strict loading")
}
