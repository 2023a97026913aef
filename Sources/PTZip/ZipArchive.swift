#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A validated, read-only zip archive backed by a memory-mapped file.
///
/// Opening parses and checks every header (end records, central directory, local headers)
/// without reading entry data, then opens the same bytes with libzip and checks it agrees.
/// Entry data is checked against its CRC-32 when first handed out by `bytes(of:)`.
/// Safe to share between threads.
public final class ZipArchive: Sendable {
    public let path: String
    public let file: MappedFile
    /// Entries in central-directory order; `entries[i].index == i`.
    public let entries: [ZipEntry]

    /// Entry positions by name, compared by their bytes (UTF-8).
    private let indexByName: [[UInt8]: Int]
    /// The libzip handle (not safe to share) and the stored entries whose CRC-32 has been
    /// checked, so that each is checked only once.
    // @unchecked: reached only through `shared`'s lock, which libzip's calls (writing into a
    // caller's buffer) stay inside.
    private struct Shared: @unchecked Sendable {
        let libzip: LibzipArchive
        var verified: Set<Int> = []
    }
    private let shared: Mutex<Shared>

    /// Whether `bytes` start like a zip archive: a local header ("PK\u{3}\u{4}"), or the end
    /// record of an archive with no entries ("PK\u{5}\u{6}"). A cheap sniff, not a validation.
    public static func isZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let signature = EndRecordsReader.signature(in: bytes, at: 0)
        return signature == EndRecordsReader.localHeaderSignature || signature == EndRecordsReader.endSignature
    }

    /// Maps the file at `path`, then validates it as `init(mapped:)` does. Reads no entry data.
    /// The corresponding libzip function is `zip_open_from_source`.
    public convenience init(path: String) throws(ZipError) {
        try self.init(mapped: MappedFile(path: path))
    }

    /// Validates an archive that is already mapped (for callers that sniffed the magic first).
    /// Throws the `ZipError` for the first problem found. Reads no entry data.
    /// The corresponding libzip function is `zip_open_from_source`.
    public convenience init(mapped: MappedFile) throws(ZipError) {
        let directory = try ArchiveValidator.validate(mapped.bytes, path: mapped.path)
        let libzip = try LibzipArchive(file: mapped)
        try LibzipCrossCheck.compare(directory, with: libzip, path: mapped.path)
        self.init(file: mapped, entries: directory.entries, libzip: libzip)
    }

    private init(file: MappedFile, entries: [ZipEntry], libzip: sending LibzipArchive) {
        self.path = file.path
        self.file = file
        self.entries = entries
        self.shared = Mutex(Shared(libzip: libzip))
        // Names are unique: validation refused duplicates.
        self.indexByName = Dictionary(entries.map { (Array($0.name.utf8), $0.index) },
                                      uniquingKeysWith: { first, _ in first })
    }

    /// The entry with this exact name, if any.
    /// The corresponding libzip function is `zip_name_locate`.
    public func entry(named name: String) -> ZipEntry? {
        indexByName[Array(name.utf8)].map { entries[$0] }
    }

    /// The entry's uncompressed bytes.
    ///
    /// Stored: a view into the mapping (no copy), handed out once its CRC-32 has been checked
    /// (checked once per entry). Deflated: inflated by libzip into a new buffer, read to the
    /// end so that libzip checks the CRC-32, and checked to have the declared size.
    /// The corresponding libzip functions are `zip_fopen_index` and `zip_fread`.
    public func bytes(of entry: ZipEntry) throws(ZipError) -> ZipBytes {
        guard entries.indices.contains(entry.index), entries[entry.index] == entry else {
            throw ZipError(path: path, .noSuchEntry(entry: entry.name))
        }
        switch entry.method {
        case .stored:
            return try storedBytes(of: entry)
        case .deflated:
            return try inflatedBytes(of: entry)
        }
    }

    /// Checks every entry now — a stored entry's CRC-32, a deflated entry's CRC-32 and inflated
    /// size — instead of when its bytes are first read, keeping none of it in memory: stored
    /// entries are read 64 MB at a time and their pages handed back, inflated ones are freed.
    /// Throws the first `ZipError` (`crcMismatch`, `sizeMismatch`, `libzip`) in archive order.
    /// - Parameter chunk: how many bytes of a stored entry are read before their pages go back.
    public func verifyAllEntries(chunk: Int = 64 << 20) throws(ZipError) {
        for entry in entries {
            switch entry.method {
            case .deflated:
                _ = try inflatedBytes(of: entry)
            case .stored:
                if shared.withLock({ $0.verified.contains(entry.index) }) { continue }
                var crc: UInt32 = 0
                var start = entry.dataOffset
                let end = entry.dataOffset + entry.compressedSize
                while start < end {
                    let next = min(end, start + chunk)
                    crc = crc32(UnsafeRawBufferPointer(rebasing: file.bytes[start ..< next]), continuing: crc)
                    file.releasePages(start ..< next)
                    start = next
                }
                guard crc == entry.crc32 else {
                    throw ZipError(path: path, .crcMismatch(entry: entry.name, declared: entry.crc32, actual: crc))
                }
                shared.withLock { _ = $0.verified.insert(entry.index) }
            }
        }
    }

    /// `range` of the entry's uncompressed bytes, handed to `body` in pieces of at most `chunk`
    /// bytes, in order. A stored entry is read through once, its CRC-32 computed as it goes (the
    /// whole entry, even outside `range`) and each piece's pages handed back after `body` has
    /// it, so that streaming a large entry keeps little of it resident; the CRC-32 is compared
    /// at the end (`crcMismatch` then, after the pieces). A deflated entry is inflated whole
    /// first, as `bytes(of:)` does.
    /// - Throws: `ZipError` for the entry's own failures, and whatever `body` throws, unchanged.
    public func stream(_ entry: ZipEntry, range: Range<Int>, chunk: Int = 8 << 20,
                       _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= entry.uncompressedSize, "range outside the entry")
        guard entry.method == .stored else {
            let whole = try bytes(of: entry)
            try body(UnsafeRawBufferPointer(rebasing: whole.buffer[range]))
            return
        }
        let known = shared.withLock { $0.verified.contains(entry.index) }
        var crc: UInt32 = 0
        var start = known ? range.lowerBound : 0
        let end = known ? range.upperBound : entry.compressedSize
        while start < end {
            let next = min(end, start + chunk)
            let piece = UnsafeRawBufferPointer(
                rebasing: file.bytes[(entry.dataOffset + start) ..< (entry.dataOffset + next)])
            if !known { crc = crc32(piece, continuing: crc) }
            let lower = max(start, range.lowerBound), upper = min(next, range.upperBound)
            if lower < upper {
                try body(UnsafeRawBufferPointer(
                    rebasing: file.bytes[(entry.dataOffset + lower) ..< (entry.dataOffset + upper)]))
            }
            file.releasePages((entry.dataOffset + start) ..< (entry.dataOffset + next))
            start = next
        }
        if !known {
            guard crc == entry.crc32 else {
                throw ZipError(path: path, .crcMismatch(entry: entry.name, declared: entry.crc32, actual: crc))
            }
            shared.withLock { _ = $0.verified.insert(entry.index) }
        }
    }

    private func storedBytes(of entry: ZipEntry) throws(ZipError) -> ZipBytes {
        // Validation placed dataOffset + compressedSize inside the file.
        let view = UnsafeRawBufferPointer(
            rebasing: file.bytes[entry.dataOffset ..< entry.dataOffset + entry.compressedSize])
        if !shared.withLock({ $0.verified.contains(entry.index) }) {
            // Outside the lock: a large entry takes a while, and checking twice is harmless.
            let actual = crc32(view)
            guard actual == entry.crc32 else {
                throw ZipError(path: path, .crcMismatch(entry: entry.name, declared: entry.crc32, actual: actual))
            }
            shared.withLock { _ = $0.verified.insert(entry.index) }
        }
        return ZipBytes(view: view, in: file)
    }

    private func inflatedBytes(of entry: ZipEntry) throws(ZipError) -> ZipBytes {
        var allocation: UnsafeMutableRawPointer?
        // 64-byte alignment matches what PyTorch gives stored tensor data.
        guard posix_memalign(&allocation, 64, max(entry.uncompressedSize, 1)) == 0, let allocation else {
            throw ZipError(path: path, .outOfMemory(entry: entry.name, bytes: entry.uncompressedSize))
        }
        let destination = UnsafeMutableRawBufferPointer(start: allocation, count: entry.uncompressedSize)
        // The result carries the typed error out of the lock.
        let inflated = shared.withLock { state in
            Result { () throws(ZipError) in
                try state.libzip.inflate(index: entry.index, entry: entry.name, declaredCRC: entry.crc32,
                                         into: destination)
            }
        }
        do throws(ZipError) {
            let produced = try inflated.get()
            guard produced == entry.uncompressedSize else {
                throw ZipError(path: path, .sizeMismatch(entry: entry.name, declared: entry.uncompressedSize,
                                                         actual: produced))
            }
        } catch {
            free(allocation)
            throw error
        }
        return ZipBytes(taking: allocation, count: entry.uncompressedSize)
    }
}
