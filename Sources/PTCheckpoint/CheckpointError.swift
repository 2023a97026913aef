import PTPickle
import PTSafetensors
import PTTensor
import PTZip

/// Why a checkpoint was refused. Every description starts with the file's path, then names the
/// record or key involved, what was expected and what was found: one line a person can act on.
public struct CheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let reason: Reason

    public enum Reason: Sendable {
        /// The file cannot be opened or mapped.
        case unreadable(String)
        /// A zip-layer refusal (duplicate names, overlaps, CRC, bounds, …).
        case zip(ZipError)
        /// The pickle in `record` is malformed, truncated or over a limit.
        case pickle(record: String, PickleError)
        /// The pickle names a global the policy refuses.
        case refusedGlobal(record: String, global: String, why: GlobalRefusal)
        /// Neither a zip archive nor a legacy torch.save stream.
        case notACheckpoint(String)
        /// A zip checkpoint's layout is wrong (no data.pkl, two archives, a bad version record).
        case layout(String)
        /// A persistent id or storage record is inconsistent.
        case storage(String)
        /// A rebuild call has arguments of the wrong kind or count.
        case rebuild(String)
        /// A tensor view is out of bounds or malformed.
        case tensor(key: String?, TensorError)
        /// A safetensors header that lies or breaks the format's rules.
        case safetensors(SafetensorsError)
        /// A value nests deeper than the walker accepts.
        case tooDeep(limit: Int)
        /// Walking the value meets more containers and tensors than the walker accepts.
        case walkTooLong(limit: Int)
    }

    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String { description(strictLoading: "strict loading") }

    /// The description with strict loading named as the caller names it (`--strict` on a
    /// command line).
    public func description(strictLoading: String) -> String {
        switch reason {
        case .unreadable(let why): return "\(path): cannot read: \(why)"
        case .zip(let e):
            let text = e.description
            return text.hasPrefix(path) ? text : "\(path): \(text)"
        case let .pickle(record, e): return "\(path): \(record): \(e)"
        case let .refusedGlobal(record, global, why):
            return "\(path): \(record) references \(global), which \(why.description(strictLoading: strictLoading)); refused"
        case .notACheckpoint(let why): return "\(path): not a PyTorch checkpoint: \(why)"
        case .layout(let why): return "\(path): \(why)"
        case .storage(let why): return "\(path): \(why)"
        case .rebuild(let why): return "\(path): \(why)"
        case let .tensor(key, e):
            if let key { return "\(path): tensor '\(key)': \(e)" }
            return "\(path): \(e)"
        case .safetensors(let why): return "\(path): \(why)"
        case .tooDeep(let limit): return "\(path): value nests deeper than \(limit) levels"
        case .walkTooLong(let limit):
            return "\(path): walking the pickled value meets more than \(limit) containers and tensors (shared references are met once per path); refused as an expansion attack"
        }
    }
}

/// Errors raised inside pickle hooks: carried through the pickle machine unchanged, then
/// given the file path by the loader.
struct HookError: Error {
    let reason: CheckpointError.Reason
}
