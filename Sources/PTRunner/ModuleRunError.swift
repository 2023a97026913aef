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
    /// (`file`: the inputs). A weight's record failing its check is `.checkpoint`, never
    /// `.module(_, .checkpoint)`.
    case module(file: String, NNError)
    /// No input file was given and the reference is not an archive holding `input`.
    case noInput
    /// `file` holds no `input` array.
    case noInputArray(file: String, members: [String])
    /// An array of `file` (`input`, `h0`, `c0`, `lengths`) does not fit: `why` says how.
    case badArray(file: String, name: String, ArrayFault)
    /// The reference archive holds none of `output`, `h_n`, `c_n`.
    case nothingToCompare(file: String)
    /// The reference expects `name`, which `modules` do not produce.
    case notProduced(file: String, name: String, modules: String)
    /// A reference tensor's values cannot be read (complex values, say).
    case tensor(TensorError)
    /// A golden manifest that cannot be used: `why` says how.
    case badManifest(file: String, ManifestFault)
    /// Case `name` of the manifest at `manifest` could not be run.
    indirect case inCase(manifest: String, name: String, ModuleRunError)
    /// No tensor of the checkpoint `file` is under `prefix` (with its trailing '.'); `modules`
    /// are the module prefixes it has.
    case nothingUnder(file: String, prefix: String, modules: [String])
    /// A run in chunks (`Request.chunkSteps`) that cannot be streamed: `why` says what.
    case cannotStream(StreamRefusal)
    /// Converting the checkpoint `model` failed: a tensor the format cannot hold, a record
    /// failing its check when read, or the output cannot be written.
    case export(model: String, ExportError)

    public var description: String {
        switch self {
        case .checkpoint(let e): return e.description
        case .numpy(let e): return e.description
        case let .module(file, e): return "\(file): \(e)"
        case .noInput: return "no input: give an input file, or a reference .npz holding 'input'"
        case let .noInputArray(file, members):
            return "\(file): holds no 'input' array (members: \(members.joined(separator: ", ")))"
        case let .badArray(file, name, fault): return "\(file): '\(name)' \(fault)"
        case .nothingToCompare(let file): return "\(file): holds none of 'output', 'h_n', 'c_n' to compare with"
        case let .notProduced(file, name, modules):
            return "\(file): expects '\(name)', which \(modules) does not produce"
        case .tensor(let e): return e.description
        case let .badManifest(file, fault): return "\(file): \(fault)"
        case let .inCase(manifest, name, inner):
            if case let .badManifest(file, fault) = inner, file == manifest {
                return "\(manifest): case '\(name)': \(fault)"
            }
            return "\(manifest): case '\(name)': \(inner)"
        case let .nothingUnder(file, prefix, modules):
            return "\(file): no tensor under '\(prefix)'; modules:"
                + " \(modules.isEmpty ? "none" : modules.joined(separator: ", "))"
        case .cannotStream(let why): return why.description
        case let .export(model, error):
            switch error.reason {
            // About the output itself: its path first.
            case .cannotWrite, .numpy, .badShardSize, .shardsNeedSafetensors, .wouldRemoveInput:
                return error.description
            case let .unreadable(name, .checkpoint(e)): return "\(e.path): tensor '\(name)': \(e.reason)"
            default: return "\(model): \(error.reason)"
            }
        }
    }
}

extension ModuleRunError {
    /// A module's error about `file`: `.module`, except a weight's record failing its check,
    /// which is the checkpoint's error and takes the one route a checkpoint's errors take,
    /// `.checkpoint`.
    init(file: String, _ error: NNError) {
        if case .checkpoint(let e) = error { self = .checkpoint(e) } else { self = .module(file: file, error) }
    }

    /// What reading a reference's or an input's values throws through PTTensor's untyped
    /// `throws`: their storages are PTNumpy's, which hold their bytes and never fail, so
    /// `TensorError` only (complex values, say). Any other type stops the program.
    static func tensor(unerased error: any Error) -> ModuleRunError {
        guard let e = error as? TensorError else {
            preconditionFailure("\(error) (\(type(of: error))) reached the runner from an array's values untyped")
        }
        return .tensor(e)
    }
}

/// Why an input or reference array (`input`, `h0`, `c0`, `lengths`) cannot be used
/// (`ModuleRunError.badArray`); each description follows the array's name.
public enum ArrayFault: Equatable, Sendable, CustomStringConvertible {
    /// An initial state of another dtype than floating point.
    case notFloatingPoint(DType)
    /// An input that is neither floating-point values nor integer token ids.
    case notValuesOrIDs(DType)
    /// `lengths` that are not one integer per batch element.
    case notLengths(shape: [Int], dtype: DType)
    /// Integers expected, another dtype found.
    case notIntegers(DType)
    /// A uint64 value past Int64's range.
    case outOfRange(UInt64)

    public var description: String {
        switch self {
        case .notFloatingPoint(let dtype): return "is \(dtype.rawValue); expected floating-point values"
        case .notValuesOrIDs(let dtype):
            return "is \(dtype.rawValue); expected floating-point values or int64 token ids"
        case let .notLengths(shape, dtype):
            return "has shape \(shape) and dtype \(dtype.rawValue); expected one int64 per batch element"
        case .notIntegers(let dtype): return "is \(dtype.rawValue); expected integers"
        case .outOfRange(let value): return "holds \(value), which is out of range"
        }
    }
}

/// Why a run cannot go in chunks through a `RecurrentStream` (bidirectional modules are the
/// module layer's `NNError.bidirectionalStream`).
public enum StreamRefusal: Equatable, Sendable, CustomStringConvertible {
    /// The inputs (`file`) hold `lengths`: packed sequences end at steps of their own, so a chunk
    /// boundary would fall inside some sequences and past the end of others, and the state to
    /// carry across it would differ from sequence to sequence.
    case lengths(file: String)
    /// Several modules run in order (`modules`): a stream is one recurrent module.
    case pipeline(modules: [String])
    /// The module at `prefix` (`module`) is not recurrent: it has no state to carry.
    case notRecurrent(prefix: String, module: String)

    public var description: String {
        switch self {
        case .lengths(let file):
            return "\(file): holds 'lengths'; packed sequences cannot be run in chunks: each ends at its own step,"
                + " so the state to carry from one chunk to the next is not one state"
        case .pipeline(let modules):
            return "a pipeline (\(modules.joined(separator: ", "))) cannot be run in chunks; streaming runs one"
                + " recurrent module"
        case let .notRecurrent(prefix, module):
            return "'\(prefix)' (\(module)) cannot be run in chunks: only RNN, LSTM, GRU layers and cells carry a"
                + " state"
        }
    }
}
