#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a zip archive of stored (uncompressed) entries in memory, in the layout Python's
/// `zipfile` writes: local header and data for each entry in order, then the central directory,
/// then (when needed) the ZIP64 end of central directory record and locator, then the end of
/// central directory record. No bytes precede the first header, entries never overlap and no
/// data descriptors are used, so the result passes `ZipArchive`'s validation.
///
/// ZIP64 (APPNOTE 4.5.3) is used only where a value does not fit its classic field: an entry of
/// 0xFFFFFFFF bytes or more gets a ZIP64 extra field with both sizes in its local and central
/// headers, an entry starting at offset 0xFFFFFFFF or later gets its offset in the central
/// header's ZIP64 extra field, and 65,535 entries or more (or a central directory that large or
/// that far in) get the ZIP64 end records. A value equal to a placeholder (0xFFFF, 0xFFFFFFFF)
/// always goes to ZIP64, so it can never be mistaken for one.
///
/// Every timestamp is 1980-01-01 00:00 (the earliest DOS date), so the same entries always give
/// the same bytes.
public struct ZipWriter {
    /// What the central directory needs to know about an entry already written.
    private struct Record {
        let name: [UInt8]
        let crc: UInt32
        let size: UInt64
        let offset: UInt64
        let utf8Flag: Bool
    }

    /// Values at or above these go to ZIP64 records; lowered only by tests, so that the ZIP64
    /// paths can be exercised without gigabytes of data.
    let wideLimit: UInt64
    let countLimit: Int

    private var output: [UInt8] = []
    private var records: [Record] = []
    private var names: Set<[UInt8]> = []
    /// Where a streaming writer writes (nil: in memory, `finish()`).
    private let sink: FileSink?
    /// Bytes written so far (in memory or to the sink).
    private var position: UInt64 = 0

    public init() {
        self.init(wideLimit: 0xFFFF_FFFF, countLimit: 0xFFFF)
    }

    /// A writer that writes each entry to `sink` as it is added (`finish(into:)` ends it), for
    /// archives that should not be held in memory whole.
    public init(streamingTo sink: FileSink) {
        self.init(wideLimit: 0xFFFF_FFFF, countLimit: 0xFFFF, sink: sink)
    }

    init(wideLimit: UInt64, countLimit: Int, sink: FileSink? = nil) {
        self.wideLimit = wideLimit
        self.countLimit = countLimit
        self.sink = sink
    }

    private mutating func emit(_ bytes: UnsafeRawBufferPointer) throws(FileSinkError) {
        if let sink { try sink.write(bytes) } else { output.append(contentsOf: bytes) }
        position += UInt64(bytes.count)
    }

    /// Why `name` cannot be an entry name (readers, ptload's among them, refuse it), or nil.
    public static func unsafeNameReason(_ name: String) -> UnsafeNameReason? {
        CentralDirectoryRecord.unsafeNameReason(name)
    }

    /// The number of entries added so far.
    public var count: Int { records.count }

    /// Appends a stored entry; with `alignment` above 1 its data starts on a multiple of it, the
    /// local header padded with an extra field of id 'FB' as PyTorch's writer (miniz) pads it.
    /// - Throws: `ZipWriterError.emptyName`, `.nameTooLong` (over 65,535 UTF-8 bytes) or
    ///   `.duplicateName` (names compare by their UTF-8 bytes), `.unsafeName` for a name the
    ///   reader would refuse.
    public mutating func add(name: String, bytes: [UInt8], alignment: Int = 1) throws {
        let crc = bytes.withUnsafeBytes { crc32($0) }
        try add(name: name, size: bytes.count, crc: crc, alignment: alignment) { write in
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    /// Appends a stored entry of `size` bytes whose CRC-32 is `crc`, its data handed over by
    /// `body` piece by piece (through the function it is given), in order.
    /// - Throws: as `add(name:bytes:)`, `ZipWriterError.sizeMismatch` when `body` gives other
    ///   than `size` bytes, and whatever `body` or the sink throws.
    public mutating func add(name: String, size count: Int, crc: UInt32, alignment: Int = 1,
                             body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty else { throw ZipWriterError.emptyName }
        guard nameBytes.count <= 0xFFFF else {
            throw ZipWriterError.nameTooLong(name: String(name.prefix(64)), byteCount: nameBytes.count)
        }
        if let why = CentralDirectoryRecord.unsafeNameReason(name) {
            throw ZipWriterError.unsafeName(name: String(name.prefix(64)), reason: why)
        }
        guard !names.contains(nameBytes) else { throw ZipWriterError.duplicateName(name) }

        let offset = position
        let size = UInt64(count)
        let record = Record(name: nameBytes, crc: crc, size: size, offset: offset,
                            utf8Flag: nameBytes.contains { $0 >= 0x80 })
        let wideSize = size >= wideLimit

        var header = LittleEndianBytes()
        header.u32(0x0403_4b50)
        header.u16(wideSize ? 45 : 20)  // version needed to extract
        header.u16(record.utf8Flag ? 0x0800 : 0)
        header.u16(0)  // stored
        header.u16(ZipWriter.dosTime)
        header.u16(ZipWriter.dosDate)
        header.u32(crc)
        header.u32(wideSize ? 0xFFFF_FFFF : UInt32(size))  // compressed size
        header.u32(wideSize ? 0xFFFF_FFFF : UInt32(size))  // uncompressed size
        // Padding: an extra field of at least its own 4-byte header, so that the data after the
        // local header (30 bytes, the name, the ZIP64 field, the padding) lands on `alignment`.
        var padding = 0
        if alignment > 1 {
            let unpadded = Int(offset) + 30 + nameBytes.count + (wideSize ? 20 : 0) + 4
            padding = 4 + (alignment - unpadded % alignment) % alignment
        }
        header.u16(UInt16(nameBytes.count))
        header.u16(UInt16((wideSize ? 20 : 0) + padding))
        header.append(nameBytes)
        if wideSize {
            // The local ZIP64 field holds both sizes, uncompressed first (APPNOTE 4.5.3).
            header.u16(0x0001)
            header.u16(16)
            header.u64(size)
            header.u64(size)
        }
        if padding > 0 {
            header.u16(0x4246)
            header.u16(UInt16(padding - 4))
            header.append([UInt8](repeating: 0, count: padding - 4))
        }
        try header.bytes.withUnsafeBytes { try emit($0) }
        var given = 0
        try body { piece in
            try emit(piece)
            given += piece.count
        }
        guard given == count else { throw ZipWriterError.sizeMismatch(name: name, declared: count, given: given) }
        records.append(record)
        names.insert(nameBytes)
    }

    /// Ends a streaming archive: the central directory and the end records go to the sink.
    public func finish(into sink: FileSink) throws(FileSinkError) {
        try sink.write(finishRecords())
    }

    /// The whole archive: the entries added so far, their central directory and the end records.
    public func finish() -> [UInt8] {
        var archive = output
        archive.append(contentsOf: finishRecords())
        return archive
    }

    /// The central directory and the end records for the entries written so far.
    private func finishRecords() -> [UInt8] {
        let directoryOffset = position
        var directory = LittleEndianBytes()
        for record in records {
            appendCentralHeader(record, to: &directory)
        }
        let directorySize = UInt64(directory.bytes.count)
        let entryCount = UInt64(records.count)

        var end = LittleEndianBytes()
        let needsZip64 = records.count >= countLimit || directoryOffset >= wideLimit || directorySize >= wideLimit
        if needsZip64 {
            let zip64RecordOffset = directoryOffset + directorySize
            end.u32(0x0606_4b50)
            end.u64(44)  // size of the rest of the record
            end.u16(45)  // version made by
            end.u16(45)  // version needed
            end.u32(0)   // this disk
            end.u32(0)   // disk with the central directory
            end.u64(entryCount)
            end.u64(entryCount)
            end.u64(directorySize)
            end.u64(directoryOffset)
            end.u32(0x0706_4b50)
            end.u32(0)   // disk with the ZIP64 record
            end.u64(zip64RecordOffset)
            end.u32(1)   // total disks
        }
        let classicCount = records.count >= countLimit ? 0xFFFF : UInt16(records.count)
        end.u32(0x0605_4b50)
        end.u16(0)  // this disk
        end.u16(0)  // disk with the central directory
        end.u16(classicCount)
        end.u16(classicCount)
        end.u32(directorySize >= wideLimit ? 0xFFFF_FFFF : UInt32(directorySize))
        end.u32(directoryOffset >= wideLimit ? 0xFFFF_FFFF : UInt32(directoryOffset))
        end.u16(0)  // comment length

        return directory.bytes + end.bytes
    }

    /// Writes `finish()` to `path`, replacing any file there.
    /// - Throws: `ZipWriterError.cannotWrite` with the file's error.
    public func write(to path: String) throws(ZipWriterError) {
        do throws(FileSinkError) {
            try FileOutput.write(finish(), to: path)
        } catch {
            throw .cannotWrite(error)
        }
    }

    private func appendCentralHeader(_ record: Record, to directory: inout LittleEndianBytes) {
        let wideSize = record.size >= wideLimit
        let wideOffset = record.offset >= wideLimit
        // The central ZIP64 field holds only the values whose classic field is the placeholder,
        // in the order uncompressed size, compressed size, offset (APPNOTE 4.5.3).
        var extra = LittleEndianBytes()
        if wideSize || wideOffset {
            extra.u16(0x0001)
            extra.u16((wideSize ? 16 : 0) + (wideOffset ? 8 : 0))
            if wideSize {
                extra.u64(record.size)
                extra.u64(record.size)
            }
            if wideOffset { extra.u64(record.offset) }
        }
        let version: UInt16 = wideSize || wideOffset ? 45 : 20
        directory.u32(0x0201_4b50)
        directory.u16(version)  // version made by (MS-DOS attributes)
        directory.u16(version)  // version needed to extract
        directory.u16(record.utf8Flag ? 0x0800 : 0)
        directory.u16(0)  // stored
        directory.u16(ZipWriter.dosTime)
        directory.u16(ZipWriter.dosDate)
        directory.u32(record.crc)
        directory.u32(wideSize ? 0xFFFF_FFFF : UInt32(record.size))
        directory.u32(wideSize ? 0xFFFF_FFFF : UInt32(record.size))
        directory.u16(UInt16(record.name.count))
        directory.u16(UInt16(extra.bytes.count))
        directory.u16(0)  // comment length
        directory.u16(0)  // disk number start
        directory.u16(0)  // internal attributes
        directory.u32(0)  // external attributes
        directory.u32(wideOffset ? 0xFFFF_FFFF : UInt32(record.offset))
        directory.append(record.name)
        directory.append(extra.bytes)
    }

    /// 00:00:00 on 1980-01-01 in MS-DOS format (APPNOTE 4.4.6).
    private static let dosTime: UInt16 = 0
    private static let dosDate: UInt16 = (0 << 9) | (1 << 5) | 1
}

/// Why `ZipWriter` refused an entry or could not write the archive.
public enum ZipWriterError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An entry name is empty.
    case emptyName
    /// An entry name is longer than the 65,535 bytes a zip header can record; `name` is its start.
    case nameTooLong(name: String, byteCount: Int)
    /// An entry with this name (the same bytes) was already added.
    case duplicateName(String)
    /// A name ptload's reader (and any careful one) would refuse: absolute, a '..' component, a
    /// backslash, a NUL or another control character (`CentralDirectoryRecord.unsafeNameReason`).
    case unsafeName(name: String, reason: UnsafeNameReason)
    /// The archive file could not be created or written.
    case cannotWrite(FileSinkError)
    /// A streamed entry's data was not the size declared for it.
    case sizeMismatch(name: String, declared: Int, given: Int)

    public var description: String {
        switch self {
        case .emptyName:
            return "zip entry names must not be empty"
        case let .nameTooLong(name, byteCount):
            return "zip entry name '\(name)…' is \(byteCount) bytes of UTF-8; at most 65,535 fit in a zip header"
        case let .duplicateName(name):
            return "an entry named '\(name)' is already in the archive; entry names must be unique"
        case let .cannotWrite(error):
            return error.description
        case let .unsafeName(name, reason):
            return "zip entry name '\(name)' is not a plain relative path: \(reason)"
        case let .sizeMismatch(name, declared, given):
            return "zip entry '\(name)' was declared with \(declared) bytes and given \(given)"
        }
    }
}

/// Little-endian field encoding for zip headers.
private struct LittleEndianBytes {
    var bytes: [UInt8] = []

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func append(_ more: [UInt8]) {
        bytes.append(contentsOf: more)
    }
}
