import PTNumpy
import PTTensor

/// Why an export could not be written. Descriptions name the tensor and what the format lacks.
public enum ExportError: Error, CustomStringConvertible, Sendable {
    /// The output's extension names no format.
    case unknownFormat(String)
    /// Casts go to float16, bfloat16 or float32 only.
    case badCast(DType)
    /// Two tensors with one name.
    case duplicateName(String)
    /// A dtype the format cannot hold; `hint` says what would work.
    case unsupportedDType(name: String, dtype: DType, format: CheckpointWriter.Format, hint: String?)
    /// A tensor's bytes could not be read (a CRC mismatch on first use, say).
    case unreadable(name: String, reason: String)
    /// A name the format cannot hold faithfully: safetensors reserves `__metadata__`; an .npz
    /// member name must be a plain relative path (no '..' component, absolute path, backslash
    /// or control character), since readers refuse others.
    case unwritableName(name: String, format: CheckpointWriter.Format, reason: String)
    /// More tensors than any ptload reader takes from one file (`FileLimits.maxTensors`).
    case tooManyTensors(Int, limit: Int)
    /// No tensor is under the prefix asked for.
    case nothingToExport(String)
    case numpy(NumpyError)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownFormat(let path): return "\(path): the extension names no export format; expected .safetensors, .npz or .pt"
        case .badCast(let dtype): return "cannot cast to \(dtype.rawValue); casts go to float16, bfloat16 or float32"
        case .duplicateName(let name): return "tensor '\(name)' appears twice"
        case let .unsupportedDType(name, dtype, format, hint):
            let lacking = format == .npz ? "numpy has no \(dtype.rawValue)"
                : format == .pt ? "ptload writes no \(dtype.rawValue) into .pt files" : "safetensors has no \(dtype.rawValue)"
            return "tensor '\(name)' is \(dtype.rawValue): \(lacking)" + (hint.map { "; \($0)" } ?? "")
        case let .unreadable(name, reason): return "tensor '\(name)': \(reason)"
        case let .unwritableName(name, format, reason): return "tensor '\(name)' cannot be named so in .\(format.rawValue): \(reason)"
        case let .tooManyTensors(count, limit): return "\(count) tensors; ptload reads files of at most \(limit) tensors, so it writes none larger"
        case .nothingToExport(let why): return why
        case .numpy(let e): return e.description
        case let .cannotWrite(path, reason): return "\(path): cannot write: \(reason)"
        }
    }
}
