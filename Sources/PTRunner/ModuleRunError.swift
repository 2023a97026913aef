import PTCheckpoint
import PTExport
import PTNN
import PTNumpy
import PTTensor

/// Why a run could not happen: a bad file, a module that is not there or does not fit its
/// inputs. (A mismatch is not an error: it is a report that did not pass.) Each case keeps the
/// lower layer's error as it was thrown.
public enum ModuleRunError: Error, CustomStringConvertible, Sendable {
    /// The checkpoint cannot be read, or a weight's record fails its check when first read.
    case checkpoint(CheckpointError)
    /// A reference or input file cannot be read, or the outputs cannot be written.
    case numpy(NumpyError)
    /// The module(s) cannot be found or loaded (`file`: the model), or cannot run on the inputs
    /// (`file`: the inputs).
    case module(file: String, NNError)
    /// No input file was given and the reference is not an archive holding `input`.
    case noInput
    /// `file` holds no `input` array.
    case noInputArray(file: String, members: [String])
    /// An array of `file` (`input`, `h0`, `c0`, `lengths`) does not fit: `why` says how.
    case badArray(file: String, name: String, why: String)
    /// The reference archive holds none of `output`, `h_n`, `c_n`.
    case nothingToCompare(file: String)
    /// The reference expects `name`, which `modules` do not produce.
    case notProduced(file: String, name: String, modules: String)
    /// A reference tensor's values cannot be read (complex values, say).
    case tensor(TensorError)
    /// A golden manifest that cannot be used: `why` says how.
    case badManifest(file: String, why: String)
    /// Case `name` of the manifest at `manifest` could not be run.
    indirect case inCase(manifest: String, name: String, ModuleRunError)
    /// No tensor of the checkpoint `file` is under `prefix` (with its trailing '.'); `modules`
    /// are the module prefixes it has.
    case nothingUnder(file: String, prefix: String, modules: [String])
    /// Converting the checkpoint `model` failed: a tensor the format cannot hold, a record
    /// failing its check when read, or the output cannot be written.
    case export(model: String, ExportError)
    /// An error of a kind no layer documents; kept as its description.
    case unexpected(String)

    public var description: String { description(spelling: .library) }

    /// The description with the caller's options named by `spelling`.
    public func description(spelling: OptionSpelling) -> String {
        switch self {
        case .checkpoint(let e): return e.description(strictLoading: spelling.strictLoading)
        case .numpy(let e): return e.description
        case let .module(file, e):
            if case .checkpoint(let inner) = e { return inner.description(strictLoading: spelling.strictLoading) }
            return "\(file): \(e.description(spelling: spelling))"
        case .noInput: return "no input: give an input file, or a reference .npz holding 'input'"
        case let .noInputArray(file, members):
            return "\(file): holds no 'input' array (members: \(members.joined(separator: ", ")))"
        case let .badArray(file, name, why): return "\(file): '\(name)' \(why)"
        case .nothingToCompare(let file): return "\(file): holds none of 'output', 'h_n', 'c_n' to compare with"
        case let .notProduced(file, name, modules): return "\(file): expects '\(name)', which \(modules) does not produce"
        case .tensor(let e): return e.description
        case let .badManifest(file, why): return "\(file): \(why)"
        case let .inCase(manifest, name, inner):
            if case let .badManifest(file, why) = inner, file == manifest { return "\(manifest): case '\(name)': \(why)" }
            return "\(manifest): case '\(name)': \(inner.description(spelling: spelling))"
        case let .nothingUnder(file, prefix, modules):
            return "\(file): no tensor under '\(prefix)'; modules: \(modules.isEmpty ? "none" : modules.joined(separator: ", "))"
        case let .export(model, error):
            switch error.reason {
            case .cannotWrite, .numpy: return error.description
            case let .unreadable(name, .checkpoint(e)): return "\(e.path): tensor '\(name)': \(e.reason)"
            default: return "\(model): \(error.reason)"
            }
        case .unexpected(let text): return text
        }
    }
}
