#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing a whole file in one call, for the layers above that must not touch C themselves.
public enum FileOutput {
    /// Writes `bytes` to `path` (created with mode 0644, or truncated).
    /// - Returns: nil on success, else the system's message (`strerror`).
    public static func write(_ bytes: [UInt8], to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return systemMessage(errno) }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let written = posixWrite(fd, base + done, buffer.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = systemMessage(errno)
                    return
                }
                done += written
            }
        }
        if close(fd) != 0, failure == nil { failure = systemMessage(errno) }
        return failure
    }

    /// Moves `from` over `to` in one step (rename(2)): a reader sees the old file or the whole new one.
    /// - Returns: nil on success, else the system's message.
    public static func replace(_ to: String, with from: String) -> String? {
        rename(from, to) == 0 ? nil : systemMessage(errno)
    }

    /// Removes `path` if it is there.
    public static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// A file written piece by piece, for outputs that should not be held in memory whole.
public final class FileSink {
    public let path: String
    private var fd: Int32

    /// Creates (mode 0644) or truncates `path`.
    /// - Throws: `FileSinkError` with the system's message.
    public init(path: String) throws(FileSinkError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSinkError(path: path, reason: FileOutput.systemMessage(errno)) }
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSinkError) {
        guard let base = bytes.baseAddress, fd >= 0 else { return }
        var done = 0
        while done < bytes.count {
            let written = posixWrite(fd, base + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileSinkError(path: path, reason: FileOutput.systemMessage(errno))
            }
            done += written
        }
    }

    public func write(_ bytes: [UInt8]) throws(FileSinkError) {
        var failure: FileSinkError?
        bytes.withUnsafeBytes { buffer in
            do throws(FileSinkError) { try self.write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes and closes; the file is complete once this returns.
    public func close() throws(FileSinkError) {
        guard fd >= 0 else { return }
        let result = posixClose(fd)
        fd = -1
        if result != 0 { throw FileSinkError(path: path, reason: FileOutput.systemMessage(errno)) }
    }

    deinit {
        if fd >= 0 { _ = posixClose(fd) }
    }
}

/// Why a file could not be written: the path and the system's message.
public struct FileSinkError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot write: \(reason)" }
}

private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, bytes, count)
    #else
    Darwin.write(fd, bytes, count)
    #endif
}

private func posixClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(fd)
    #else
    Darwin.close(fd)
    #endif
}
