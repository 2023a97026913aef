/// Why a module could not be loaded or run. Descriptions name the dotted key or the input,
/// what was expected and what was found.
public enum NNError: Error, CustomStringConvertible, Equatable {
    /// A key the module needs is not in the checkpoint.
    case missingKey(key: String, expected: String)
    /// A key under the module's prefix that the module does not use.
    case unusedKey(key: String, module: String)
    /// A weight whose shape does not fit the configuration.
    case wrongShape(key: String, shape: [Int], expected: [Int], module: String)
    /// The weights do not describe any recurrent layer.
    case unrecognised(prefix: String, why: String)
    /// An option contradicts the pickled module (or is not meaningful for it).
    case conflictingOption(String)
    /// An input, initial state or lengths array that does not fit the module.
    case badInput(String)
    /// A weight whose dtype cannot be computed with (complex, integer).
    case unsupportedDType(key: String, dtype: String)
    /// A weight whose values cannot be read (a view repeating its storage beyond the limit).
    case unreadableWeight(key: String, reason: String)

    public var description: String {
        switch self {
        case let .missingKey(key, expected): return "\(key) is missing; expected \(expected)"
        case let .unusedKey(key, module): return "\(key) is not used by \(module)"
        case let .wrongShape(key, shape, expected, module):
            return "\(key) has shape \(shape); \(module) needs \(expected)"
        case let .unrecognised(prefix, why):
            return "'\(prefix.isEmpty ? "(root)" : prefix)' is not a recurrent module: \(why)"
        case .conflictingOption(let why): return why
        case .badInput(let why): return why
        case let .unsupportedDType(key, dtype): return "\(key) is \(dtype); only floating-point weights can be run"
        case let .unreadableWeight(key, reason): return "\(key): \(reason)"
        }
    }
}
