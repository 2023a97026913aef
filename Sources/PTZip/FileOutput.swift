#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing a whole file in one call, for the layers above that must not touch C themselves.
/// Every output goes through `FileSink`: a new file beside the destination, renamed over it once
/// complete, so nothing that exists is ever truncated, followed through a link or left half written.
public enum FileOutput {
    /// Writes `bytes` to `path` through a `FileSink` (created with mode 0644 less the umask).
    /// - Parameter inputs: files the output must not be (the same file, or a link to it).
    /// - Throws: `FileSinkError`; on any failure the destination is as it was.
    public static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws(FileSinkError) {
        let sink = try FileSink(replacing: path, inputs: inputs)
        try sink.write(bytes)
        try sink.commit()
    }

    /// Writes through `body` into a `FileSink` for `path`, committed once `body` returns; on any
    /// failure the destination is as it was (the sink is discarded).
    /// - Parameters:
    ///   - inputs: files the output must not be (the same file, or a link to it).
    ///   - failure: the caller's error for the sink's own failures (creating, committing).
    /// - Throws: `failure` of a `FileSinkError`, or what `body` throws, unchanged.
    public static func stream<Failure: Error>(to path: String, inputs: [String] = [],
                                              failure: (FileSinkError) -> Failure,
                                              _ body: (FileSink) throws(Failure) -> Void) throws(Failure) {
        let sink: FileSink
        do throws(FileSinkError) {
            sink = try FileSink(replacing: path, inputs: inputs)
        } catch {
            throw failure(error)
        }
        try body(sink)
        do throws(FileSinkError) {
            try sink.commit()
        } catch {
            throw failure(error)
        }
    }

    /// The names in `folder` (without `.` and `..`), in the order the system lists them.
    /// - Throws: `FileSinkError` naming the folder (the system's message).
    public static func names(in folder: String) throws(FileSinkError) -> [String] {
        guard let dir = opendir(folder) else { throw FileSinkError(path: folder, .system(systemMessage(errno))) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether `path` is a regular file or a symbolic link (not followed): what `remove` removes.
    public static func isFileOrLink(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFLNK
    }

    /// Removes the file (or the link, never what it points to) at `path`.
    /// - Throws: `FileSinkError` naming `path` (the system's message).
    public static func remove(_ path: String) throws(FileSinkError) {
        guard unlink(path) == 0 else { throw FileSinkError(path: path, .system(systemMessage(errno))) }
    }

    /// The one of `inputs` that `path` is (the same file by device and inode, whether named
    /// directly, through a symlink or by a hard link), or nil.
    public static func input(at path: String, among inputs: [String]) -> String? {
        var target = stat()
        guard stat(path, &target) == 0 else { return nil }
        for input in inputs {
            var source = stat()
            if stat(input, &source) == 0, source.st_dev == target.st_dev, source.st_ino == target.st_ino {
                return input
            }
        }
        return nil
    }

    /// The system's message for `code` (`strerror`).
    public static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// A file written piece by piece and published whole: the bytes go to a new file created
/// exclusively beside the destination (`O_CREAT | O_EXCL | O_NOFOLLOW`, a random name), which
/// `commit()` renames over the destination. Until then the destination is untouched; a sink that
/// is not committed (an error, a full disk) removes its own file and nothing else.
///
/// The destination itself is replaced, never written through: a symlink there is replaced by the
/// new file, not followed. A destination that is one of `inputs` (the same file, by device and
/// inode, whether named directly, through a symlink or by a hard link) is refused.
public final class FileSink {
    /// The destination.
    public let path: String
    /// The file being written, beside `path`.
    let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Whether `finish()` has flushed and closed the file.
    private var finished = false

    /// Creates the temporary file beside `path`.
    /// - Parameter inputs: files this output must not replace.
    /// - Throws: `FileSinkError` naming `path`: it is one of `inputs`, a folder, or the folder
    ///   cannot be written (the system's message).
    public init(replacing path: String, inputs: [String] = []) throws(FileSinkError) {
        self.path = path
        var target = stat()
        if stat(path, &target) == 0 {
            if (target.st_mode & S_IFMT) == S_IFDIR {
                throw FileSinkError(path: path, .isFolder)
            }
            for input in inputs {
                var source = stat()
                if stat(input, &source) == 0, source.st_dev == target.st_dev, source.st_ino == target.st_ino {
                    throw FileSinkError(path: path, .isInput(input == path ? nil : input))
                }
            }
        }
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        // The name's first bytes only, so that the temporary name stays within NAME_MAX.
        let stem = String(decoding: Array(name.utf8.prefix(64)), as: UTF8.self).replacingUnprintable()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let suffix = String(generator.next() as UInt64, radix: 36)
            let candidate = folder + "." + stem + ".ptload-" + suffix
            let opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if opened >= 0 {
                fd = opened
                temporaryPath = candidate
                return
            }
            if errno != EEXIST { throw FileSinkError(path: path, .system(FileOutput.systemMessage(errno))) }
        }
        throw FileSinkError(path: path, .system(FileOutput.systemMessage(EEXIST)))
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSinkError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard fd >= 0 else { throw FileSinkError(path: path, .closed) }
        var done = 0
        while done < bytes.count {
            let written = posixWrite(fd, base + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileSinkError(path: path, .system(FileOutput.systemMessage(errno)))
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

    /// Flushes, closes and renames the file over the destination (rename(2): a reader sees the
    /// old file or the whole new one). On failure the temporary file is removed.
    public func commit() throws(FileSinkError) {
        if !finished { try finish() }
        guard !committed else { throw FileSinkError(path: path, .closed) }
        guard rename(temporaryPath, path) == 0 else {
            let error = errno
            discard()
            throw FileSinkError(path: path, .system(FileOutput.systemMessage(error)))
        }
        committed = true
    }

    /// Flushes and closes the file without publishing it, so that several files can all be
    /// complete before the first is renamed (`commit()` then only renames). On failure the
    /// temporary file is removed.
    public func finish() throws(FileSinkError) {
        guard fd >= 0 else { throw FileSinkError(path: path, .closed) }
        // A full disk can surface only at fsync or close on some file systems.
        let synced = fsync(fd) == 0 || errno == EINVAL
        let syncError = errno
        let closed = posixClose(fd) == 0
        let closeError = errno
        fd = -1
        guard synced else {
            discard()
            throw FileSinkError(path: path, .system(FileOutput.systemMessage(syncError)))
        }
        guard closed else {
            discard()
            throw FileSinkError(path: path, .system(FileOutput.systemMessage(closeError)))
        }
        finished = true
    }

    /// Abandons the output: closes and removes the temporary file. The destination is untouched.
    public func discard() {
        if fd >= 0 {
            _ = posixClose(fd)
            fd = -1
        }
        if !committed {
            _ = unlink(temporaryPath)
            committed = true   // removed once
        }
    }

    deinit { discard() }
}

/// Why a file could not be written: the destination and a typed reason.
public struct FileSinkError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Reason: CustomStringConvertible, Sendable, Equatable {
        /// The system refused (a full disk, no permission, a missing folder): its message.
        case system(String)
        /// The destination is one of the inputs (the same file, a hard link or a symlink to it);
        /// the input's name when it is named otherwise than the destination.
        case isInput(String?)
        /// The destination is a folder.
        case isFolder
        /// Written to after `commit()` or `discard()`.
        case closed

        /// What went wrong, without the path.
        public var description: String {
            switch self {
            case .system(let message): return message
            case .isInput(let input): return input.map { "it is the input '\($0)'" } ?? "it is the input"
            case .isFolder: return "it is a folder"
            case .closed: return "the output is already closed"
            }
        }
    }

    /// The destination.
    public let path: String
    /// What went wrong.
    public let reason: Reason

    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): cannot write: \(reason)" }
}

private extension String {
    /// Control characters and '/' replaced by '_': the stem of a temporary file's name.
    func replacingUnprintable() -> String {
        String(String.UnicodeScalarView(
            unicodeScalars.map { $0.value < 0x20 || $0 == "/" || $0.value == 0x7F ? "_" : $0 }))
    }
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
