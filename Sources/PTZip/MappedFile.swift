#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (or a private copy of bytes held in memory).
///
/// The mapping is private and read-only, so this process never writes through it. Another
/// process that truncates the file while it is mapped makes reads of the lost pages fault
/// (SIGBUS); callers that cannot rule that out should copy what they need.
public final class MappedFile: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init, and the mapping is read-only.

    public let path: String
    private let base: UnsafeRawPointer?
    private let length: Int
    /// Whether `base` came from `mmap` (else from `allocate`, or nil when empty).
    private let isMapping: Bool
    /// For a slice: the file it views (kept alive, owning the memory) and where the slice starts.
    private let parent: (file: MappedFile, start: Int)?

    /// The file's contents; valid for as long as this object lives.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: length)
    }

    /// Maps the file at `path`. An empty file maps to an empty buffer (mmap refuses length 0).
    /// Only regular files are read: the file is opened without blocking (`O_NONBLOCK`, so a FIFO
    /// or a device that would wait for a writer does not) and checked with `fstat` before any
    /// byte is read.
    /// - Parameter followingLinks: false opens with `O_NOFOLLOW`, so that a symbolic link at
    ///   `path` is refused rather than read (a shard named by an index).
    /// - Throws: `ZipError` with reason `.cannotOpen` and the system's message when the file
    ///   cannot be opened, is not a regular file, or cannot be mapped.
    public init(path: String, followingLinks: Bool = true) throws(ZipError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (followingLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            throw ZipError(path: path, .cannotOpen(reason: FileOutput.systemMessage(errno)))
        }
        // The mapping outlives the descriptor, so it is closed on every path.
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ZipError(path: path, .cannotOpen(reason: FileOutput.systemMessage(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let reason = switch info.st_mode & S_IFMT {
            case S_IFDIR: FileOutput.systemMessage(EISDIR)
            case S_IFIFO: "a FIFO (named pipe), not a regular file"
            case S_IFCHR, S_IFBLK: "a device, not a regular file"
            case S_IFSOCK: "a socket, not a regular file"
            default: "not a regular file"
            }
            throw ZipError(path: path, .cannotOpen(reason: reason))
        }
        parent = nil
        guard info.st_size > 0 else {
            base = nil
            length = 0
            isMapping = false
            return
        }
        guard let size = Int(exactly: info.st_size) else {
            throw ZipError(path: path, .cannotOpen(reason: FileOutput.systemMessage(EFBIG)))
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw ZipError(path: path, .cannotOpen(reason: FileOutput.systemMessage(errno)))
        }
        base = UnsafeRawPointer(address)
        length = size
        isMapping = true
    }

    /// A private copy of `bytes`, named `path` in error messages: for archives that arrive in
    /// memory (a download, a fuzzer's input) rather than as a file.
    public init(copying bytes: UnsafeRawBufferPointer, path: String) {
        self.path = path
        length = bytes.count
        isMapping = false
        parent = nil
        guard let source = bytes.baseAddress, bytes.count > 0 else {
            base = nil
            return
        }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        copy.copyMemory(from: source, byteCount: bytes.count)
        base = UnsafeRawPointer(copy)
    }

    /// A zero-copy view of `range` of `file`'s bytes, named `path` in error messages: a zip
    /// archive stored inside a bigger file (a torch.distributed.checkpoint `.distcp` range) is
    /// opened over it as over a file of its own, its offsets relative to the slice's start.
    /// The slice keeps `file` alive.
    /// - Precondition: `range` lies within `0..<file.bytes.count`.
    public init(slice file: MappedFile, range: Range<Int>, path: String) {
        precondition(range.lowerBound >= 0 && range.upperBound <= file.length, "slice outside the file")
        self.path = path
        length = range.count
        isMapping = false
        parent = (file, range.lowerBound)
        base = range.isEmpty ? nil : file.base.map { $0 + range.lowerBound }
    }

    /// Tells the kernel this process is done with the whole pages inside `range` for now: they
    /// leave its resident set (a later read maps them in again from the page cache). A no-op for
    /// copies held in memory.
    public func releasePages(_ range: Range<Int>) {
        if let parent {
            guard range.lowerBound >= 0, range.upperBound <= length else { return }
            parent.file.releasePages((parent.start + range.lowerBound) ..< (parent.start + range.upperBound))
            return
        }
        guard isMapping, let base, range.lowerBound >= 0, range.upperBound <= length else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard end > first else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, MADV_DONTNEED)
    }

    deinit {
        guard parent == nil, let base else { return }
        if isMapping {
            munmap(UnsafeMutableRawPointer(mutating: base), length)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}
