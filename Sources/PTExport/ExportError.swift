import PTCheckpoint
import PTNumpy
import PTTensor
import PTZip

/// Why an export could not be written: the output's path and a typed reason. Reasons name the
/// tensor and what the format lacks; a tensor whose bytes cannot be read carries the input's own
/// error (`CheckpointError`, which names the input file).
public struct ExportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The output being written.
    public let path: String
    /// What is wrong.
    public let reason: Reason

    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`, one line; `.numpy` as the `NumpyError` describes itself (which names the
    /// output, and the member where there is one).
    public var description: String {
        if case let .numpy(member, reason) = reason {
            return NumpyError(path: path, member: member, reason).description
        }
        return "\(path): \(reason)"
    }

    /// What is wrong with writing the tensors to `path`.
    public enum Reason: CustomStringConvertible, Equatable, Sendable {
        /// The output's extension names no format.
        case unknownFormat
        /// Casts go to float16, bfloat16 or float32 only.
        case badCast(DType)
        /// Two tensors with one name.
        case duplicateName(String)
        /// A dtype the format cannot hold.
        case unsupportedDType(name: String, dtype: DType, format: CheckpointWriter.Format)
        /// A tensor's bytes could not be read (a CRC mismatch on first use, say).
        case unreadable(name: String, ReadFailure)
        /// A name the format cannot hold faithfully.
        case unwritableName(name: String, format: CheckpointWriter.Format, NameFault)
        /// More tensors than any ptload reader takes from one file (`FileLimits.maxTensors`).
        case tooManyTensors(Int, limit: Int)
        /// The `.npz` writer refused a member (for `member`, when there is one); the checks made
        /// before writing leave none it is known to refuse.
        case numpy(member: String?, NumpyError.Reason)
        /// The output could not be created or written (`FileSink`).
        case cannotWrite(FileSinkError.Reason)
        /// A maximum shard size that Hugging Face's `parse_size_to_int` refuses, or that is negative
        /// or does not fit in 64 bits: the text as given.
        case badShardSize(String, ShardSizeFault)
        /// Shards are `.safetensors` files; the output names another format.
        case shardsNeedSafetensors
        /// Writing shards would remove this file of the output's folder (a stale shard, the
        /// single file or the index of another split), and it is the input `input`.
        case wouldRemoveInput(file: String, input: String)

        /// Whether casting floating-point tensors (`CheckpointWriter(cast:)`) would let the format
        /// hold the tensor: an `.npz` of a floating-point dtype numpy lacks (bfloat16, float8).
        public var castWouldHelp: Bool {
            guard case let .unsupportedDType(_, dtype, format) = self else { return false }
            return format == .npz && dtype.isFloatingPoint
        }

        /// The reason without the path.
        public var description: String {
            switch self {
            case .unknownFormat: return "the extension names no export format; expected .safetensors, .npz or .pt"
            case .badCast(let dtype):
                return "cannot cast to \(dtype.rawValue); casts go to float16, bfloat16 or float32"
            case .duplicateName(let name): return "tensor '\(name)' appears twice"
            case let .unsupportedDType(name, dtype, format):
                let lacking = format == .npz ? "numpy has no \(dtype.rawValue)"
                    : format == .pt ? "ptload writes no \(dtype.rawValue) into .pt files"
                    : "safetensors has no \(dtype.rawValue)"
                return "tensor '\(name)' is \(dtype.rawValue): \(lacking)"
                    + (castWouldHelp ? "; cast it to float32 or float16" : "")
            case let .unreadable(name, failure): return "tensor '\(name)': \(failure)"
            case let .unwritableName(name, format, fault):
                let shown = fault.isMemberTooLong ? "\(name.prefix(64))…" : name
                return "tensor '\(shown)' cannot be named so in .\(format.rawValue): \(fault)"
            case let .tooManyTensors(count, limit):
                return "\(count) tensors; ptload reads files of at most \(limit) tensors, so it writes none larger"
            case let .numpy(member, reason): return member.map { "member '\($0)': \(reason)" } ?? reason.description
            case .cannotWrite(let reason): return "cannot write: \(reason)"
            case let .badShardSize(text, fault): return "bad maximum shard size '\(text)': \(fault)"
            case .shardsNeedSafetensors:
                return "shards are written as .safetensors files; the output's extension is not .safetensors"
            case let .wouldRemoveInput(file, input):
                return "writing the shards would remove '\(file)', which is the input"
                    + (file == input ? "" : " '\(input)'")
            }
        }
    }

    /// Why a tensor's bytes could not be read.
    public enum ReadFailure: CustomStringConvertible, Equatable, Sendable {
        /// The checkpoint refused the tensor's record on first read (a CRC-32 mismatch, say):
        /// its error, which names the checkpoint.
        case checkpoint(CheckpointError)
        /// The tensor's view cannot be materialised (it repeats its storage too often, or a
        /// storage broke its size).
        case tensor(TensorError)
        /// The tensor handed over `given` bytes where its dtype and shape need `expected`.
        case byteCount(given: Int, expected: Int)

        public var description: String {
            switch self {
            case .checkpoint(let error): return error.description
            case .tensor(let error): return error.description
            case let .byteCount(given, expected): return "\(given) bytes for \(expected)"
            }
        }

        /// What reading a tensor threw. `Tensor.streamBytes` is untyped because its storage's
        /// loader is: a `Checkpoint`'s storages throw `CheckpointError` only (Storage.swift), the
        /// tensor itself `TensorError`; tensors read from `.npy`/`.npz` or built in memory throw
        /// nothing. Any other type is a broken storage contract and stops the program.
        init(unerasing error: any Error) {
            switch error {
            case let e as CheckpointError: self = .checkpoint(e)
            case let e as TensorError: self = .tensor(e)
            default: preconditionFailure("\(error) (\(type(of: error))) reached the exporter from a tensor's storage")
            }
        }
    }

    /// Why a format cannot hold a name.
    public enum NameFault: CustomStringConvertible, Equatable, Sendable {
        /// safetensors reserves `__metadata__` for the file's metadata.
        case reservedMetadata
        /// An `.npz` member name must not be empty.
        case empty
        /// An `.npz` member name must be a plain relative path (no '..' component, absolute path,
        /// backslash or control character), since readers refuse others.
        case unsafeMember(UnsafeNameReason)
        /// An `.npz` member name has more UTF-8 bytes than the 65,535 a zip header records.
        case memberTooLong(byteCount: Int)

        var isMemberTooLong: Bool { if case .memberTooLong = self { true } else { false } }

        public var description: String {
            switch self {
            case .reservedMetadata: return "the header reserves '__metadata__' for the file's metadata"
            case .empty: return "names must not be empty"
            case .unsafeMember(let why):
                return "the member name is not a plain relative path (\(why)), which readers refuse"
            case .memberTooLong(let byteCount):
                return "the member name is \(byteCount) bytes of UTF-8; at most 65,535 fit in a zip header"
            }
        }
    }
}

extension ExportError {
    /// The `.npz` writer's refusal of the output at `path`: a failed write is `.cannotWrite`,
    /// as for every format; anything else is kept as the numpy layer's reason.
    init(_ numpy: NumpyError) {
        if case .cannotWrite(let reason) = numpy.reason {
            self.init(path: numpy.path, .cannotWrite(reason))
        } else {
            self.init(path: numpy.path, .numpy(member: numpy.member, numpy.reason))
        }
    }

    /// What `ZipWriter.add` threw while writing a `.pt` (untyped because its body's errors pass
    /// through it): an `ExportError` made by a record's body, or the sink's `FileSinkError`.
    /// Its own `ZipWriterError`s cannot happen (record names are fixed and plain, sizes are
    /// checked by `send`), so any other type is a bug in this module.
    static func unerased(_ error: any Error, path: String) -> ExportError {
        switch error {
        case let e as ExportError: return e
        case let e as FileSinkError: return ExportError(path: e.path, .cannotWrite(e.reason))
        default: preconditionFailure("\(path): \(error) (\(type(of: error))) reached the exporter untyped")
        }
    }
}
