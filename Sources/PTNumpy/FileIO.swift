#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTTensor
import PTZip

/// Reading whole files (through a read-only mapping) and writing them.
enum FileIO {
    /// Calls `body` with the file's contents, mapped read-only for the duration of the call.
    static func withContents<Result>(of path: String, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch ZipError.cannotOpen(_, let reason) {
            throw NumpyError.cannotOpen(path: path, reason: reason)
        }
        return try withExtendedLifetime(file) { try body(file.bytes) }
    }

    /// Writes `bytes` to `path` (created with mode 0644, or truncated).
    static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NumpyError.cannotWrite(path: path, reason: systemMessage(errno)) }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let written = systemWrite(fd, base + done, buffer.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = systemMessage(errno)
                    return
                }
                done += written
            }
        }
        if close(fd) != 0, failure == nil { failure = systemMessage(errno) }
        if let failure { throw NumpyError.cannotWrite(path: path, reason: failure) }
    }

    private static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// `write(2)`, named apart from `FileIO.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
