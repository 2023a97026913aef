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
                let written = Glibc.write(fd, base + done, buffer.count - done)
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

    static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
