#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// The mapping is private and read-only, so this process never writes through it. Another
/// process that truncates the file while it is mapped makes reads of the lost pages fault
/// (SIGBUS); callers that cannot rule that out should copy what they need.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init, and the mapping is read-only.

    public let path: String
    private let base: UnsafeRawPointer?
    private let length: Int

    /// The file's contents; valid for as long as this object lives.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: length)
    }

    /// Maps the file at `path`. An empty file maps to an empty buffer (mmap refuses length 0).
    /// Throws `ZipError.cannotOpen` with the system's message when the file cannot be opened,
    /// is not a regular file, or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ZipError.cannotOpen(path: path, reason: MappedFile.systemMessage(errno))
        }
        // The mapping outlives the descriptor, so it is closed on every path.
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ZipError.cannotOpen(path: path, reason: MappedFile.systemMessage(errno))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let reason = (info.st_mode & S_IFMT) == S_IFDIR
                ? MappedFile.systemMessage(EISDIR) : "not a regular file"
            throw ZipError.cannotOpen(path: path, reason: reason)
        }
        guard info.st_size > 0 else {
            base = nil
            length = 0
            return
        }
        guard let size = Int(exactly: info.st_size) else {
            throw ZipError.cannotOpen(path: path, reason: MappedFile.systemMessage(EFBIG))
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ZipError.cannotOpen(path: path, reason: MappedFile.systemMessage(errno))
        }
        base = UnsafeRawPointer(address)
        length = size
    }

    deinit {
        if let base {
            munmap(UnsafeMutableRawPointer(mutating: base), length)
        }
    }

    private static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
