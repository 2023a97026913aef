import PTTensor
import PTZip

/// Reading whole files (through a read-only mapping) and writing them.
enum FileIO {
    /// Calls `body` with the file's contents, mapped read-only for the duration of the call.
    static func withContents<Result>(of path: String, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            guard case .cannotOpen(let reason) = error.reason else { throw error }
            throw NumpyError.cannotOpen(path: path, reason: reason)
        }
        return try withExtendedLifetime(file) { try body(file.bytes) }
    }

    /// Writes `bytes` to a new file renamed over `path` once complete (`FileSink`).
    static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws {
        do throws(FileSinkError) {
            try FileOutput.write(bytes, to: path, inputs: inputs)
        } catch {
            throw NumpyError.cannotWrite(path: path, reason: error.reason.description)
        }
    }

    /// Writes through `body` into a new file beside `path`, renamed over it once `body` returns
    /// (`FileSink`): a failure part way leaves `path` as it was.
    /// - Throws: `NumpyError.cannotWrite` for the file's own failures; `body`'s errors pass.
    static func writeStreaming(to path: String, inputs: [String] = [], _ body: (FileSink) throws -> Void) throws {
        do {
            let sink = try FileSink(replacing: path, inputs: inputs)
            try body(sink)
            try sink.commit()
        } catch let error as FileSinkError {
            throw NumpyError.cannotWrite(path: path, reason: error.reason.description)
        }
    }
}
