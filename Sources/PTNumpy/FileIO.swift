import PTTensor
import PTZip

/// Reading whole files (through a read-only mapping) and writing them.
enum FileIO {
    /// Calls `body` with the file's contents, mapped read-only for the duration of the call.
    /// - Throws: `NumpyError.Reason.cannotOpen` naming `path`, or what `body` throws.
    static func withContents<Result>(of path: String,
                                     _ body: (UnsafeRawBufferPointer) throws(NumpyError) -> Result)
        throws(NumpyError) -> Result {
        let file: MappedFile
        do throws(ZipError) {
            file = try MappedFile(path: path)
        } catch {
            // Mapping a file fails only to open, inspect or map it: the system's message.
            guard case .cannotOpen(let reason) = error.reason else {
                throw NumpyError(path: path, .archive(error.reason))
            }
            throw NumpyError(path: path, .cannotOpen(reason: reason))
        }
        return try withExtendedLifetime(file) { () throws(NumpyError) -> Result in try body(file.bytes) }
    }

    /// Writes `bytes` to a new file renamed over `path` once complete (`FileSink`).
    static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws(NumpyError) {
        do throws(FileSinkError) {
            try FileOutput.write(bytes, to: path, inputs: inputs)
        } catch {
            throw NumpyError(path: path, .cannotWrite(error.reason))
        }
    }

    /// Writes through `body` into a new file beside `path`, renamed over it once `body` returns
    /// (`FileOutput.stream`): a failure part way leaves `path` as it was.
    /// - Throws: `NumpyError.Reason.cannotWrite` for the file's own failures, naming `path`;
    ///   `body`'s errors unchanged.
    static func writeStreaming(to path: String, inputs: [String] = [],
                               _ body: (FileSink) throws(NumpyError) -> Void) throws(NumpyError) {
        try FileOutput.stream(to: path, inputs: inputs,
                              failure: { NumpyError(path: $0.path, .cannotWrite($0.reason)) }, body)
    }
}
