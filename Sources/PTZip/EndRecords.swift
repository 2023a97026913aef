/// Where the central directory lies and how many headers it should hold, as the end records
/// (the classic end of central directory record, and the ZIP64 one when present) declare.
struct CentralDirectoryLocation: Equatable {
    let offset: UInt64
    let size: UInt64
    let entryCount: UInt64
    /// Where the end records begin (the ZIP64 record if there is one); the central directory
    /// must end exactly here.
    let endRecordsOffset: Int
}

/// Finds and decodes the end of central directory record and, when a ZIP64 locator precedes
/// it, the ZIP64 end of central directory record.
enum EndRecordsReader {
    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let localHeaderSignature: UInt32 = 0x0403_4b50

    private static let endRecordSize = 22
    private static let locatorSize = 20
    private static let zip64EndFixedSize: UInt64 = 56
    /// The record plus the longest comment it can declare.
    private static let searchWindow = endRecordSize + 0xFFFF

    static func locate(in bytes: UnsafeRawBufferPointer, path: String) throws(ZipError) -> CentralDirectoryLocation {
        let endOffset = try findEndRecord(in: bytes, path: path)
        var end = try ByteCursor(bytes, offset: UInt64(endOffset), length: UInt64(endRecordSize),
                                 overrun: ZipError(path: path, .truncatedEndOfCentralDirectory(
                                     offset: endOffset, needed: UInt64(endRecordSize),
                                     available: bytes.count - endOffset)))
        _ = try end.u32()
        let disk = try end.u16()
        let directoryDisk = try end.u16()
        let entriesOnDisk = try end.u16()
        let entries = try end.u16()
        let directorySize = try end.u32()
        let directoryOffset = try end.u32()

        guard let zip64 = try readZip64(in: bytes, endOffset: endOffset, path: path) else {
            guard disk == 0, directoryDisk == 0, entriesOnDisk == entries else {
                throw ZipError(path: path, .multiDiskArchive)
            }
            return CentralDirectoryLocation(offset: UInt64(directoryOffset), size: UInt64(directorySize),
                                            entryCount: UInt64(entries), endRecordsOffset: endOffset)
        }

        // Writers put either the real value or the placeholder in the classic record; any other
        // value means the two records describe different archives.
        let pairs: [(ZipError.Field, UInt64, UInt64, UInt64)] = [
            (.diskNumber, UInt64(disk), 0xFFFF, UInt64(zip64.disk)),
            (.centralDirectoryDisk, UInt64(directoryDisk), 0xFFFF, UInt64(zip64.directoryDisk)),
            (.entriesOnDisk, UInt64(entriesOnDisk), 0xFFFF, zip64.entriesOnDisk),
            (.totalEntries, UInt64(entries), 0xFFFF, zip64.entries),
            (.centralDirectorySize, UInt64(directorySize), 0xFFFF_FFFF, zip64.directorySize),
            (.centralDirectoryOffset, UInt64(directoryOffset), 0xFFFF_FFFF, zip64.directoryOffset),
        ]
        for (field, classic, placeholder, wide) in pairs where classic != placeholder && classic != wide {
            throw ZipError(path: path,
                           .zip64EndOfCentralDirectoryMismatch(field: field, endRecord: classic, zip64Record: wide))
        }
        guard zip64.disk == 0, zip64.directoryDisk == 0, zip64.entriesOnDisk == zip64.entries else {
            throw ZipError(path: path, .multiDiskArchive)
        }
        return CentralDirectoryLocation(offset: zip64.directoryOffset, size: zip64.directorySize,
                                        entryCount: zip64.entries, endRecordsOffset: zip64.recordOffset)
    }

    /// The offset of the end of central directory record: the last signature in the search
    /// window whose record and comment end exactly at the end of the file.
    private static func findEndRecord(in bytes: UnsafeRawBufferPointer, path: String) throws(ZipError) -> Int {
        let count = bytes.count
        // The first near miss (nearest the end of the file) explains the failure best.
        var nearMiss: ZipError?
        var candidate = count - 4
        let lowest = max(0, count - searchWindow)
        while candidate >= lowest {
            defer { candidate -= 1 }
            guard signature(in: bytes, at: candidate) == endSignature else { continue }
            let available = count - candidate
            guard available >= endRecordSize else {
                nearMiss = nearMiss ?? ZipError(path: path, .truncatedEndOfCentralDirectory(
                    offset: candidate, needed: UInt64(endRecordSize), available: available))
                continue
            }
            let commentLength = Int(bytes[candidate + 20]) | Int(bytes[candidate + 21]) << 8
            let needed = endRecordSize + commentLength
            if needed == available { return candidate }
            nearMiss = nearMiss ?? (needed > available
                ? ZipError(path: path,
                           .truncatedEndOfCentralDirectory(offset: candidate, needed: UInt64(needed),
                                                           available: available))
                : ZipError(path: path,
                           .bytesAfterEndOfCentralDirectory(offset: candidate + needed, count: available - needed)))
        }
        if let nearMiss { throw nearMiss }
        if count >= 4, signature(in: bytes, at: 0) == localHeaderSignature {
            throw ZipError(path: path, .endOfCentralDirectoryNotFound)
        }
        throw ZipError(path: path, .notAZip(leadingBytes: Array(bytes.prefix(4))))
    }

    private struct Zip64End {
        let recordOffset: Int
        let disk: UInt32
        let directoryDisk: UInt32
        let entriesOnDisk: UInt64
        let entries: UInt64
        let directorySize: UInt64
        let directoryOffset: UInt64
    }

    /// The ZIP64 record, if a locator sits immediately before the classic end record.
    private static func readZip64(in bytes: UnsafeRawBufferPointer, endOffset: Int,
                                  path: String) throws(ZipError) -> Zip64End? {
        let locatorOffset = endOffset - locatorSize
        guard locatorOffset >= 0, signature(in: bytes, at: locatorOffset) == zip64LocatorSignature else {
            return nil
        }
        var locator = try ByteCursor(bytes, offset: UInt64(locatorOffset), length: UInt64(locatorSize),
                                     overrun: ZipError(path: path, .outOfBounds(entry: nil, region: .zip64Locator,
                                                                                offset: UInt64(locatorOffset),
                                                                                length: UInt64(locatorSize),
                                                                                fileSize: bytes.count)))
        _ = try locator.u32()
        let recordDisk = try locator.u32()
        let recordOffset = try locator.u64()
        let diskCount = try locator.u32()
        guard recordDisk == 0, diskCount <= 1 else { throw ZipError(path: path, .multiDiskArchive) }

        var record = try ByteCursor(bytes, offset: recordOffset, length: zip64EndFixedSize,
                                    overrun: ZipError(path: path,
                                                      .outOfBounds(entry: nil, region: .zip64EndOfCentralDirectory,
                                                                               offset: recordOffset,
                                                                               length: zip64EndFixedSize,
                                                                               fileSize: bytes.count)))
        let found = try record.u32()
        guard found == zip64EndSignature else {
            throw ZipError(path: path, .badZip64EndOfCentralDirectorySignature(offset: recordOffset, found: found))
        }
        let recordSize = try record.u64()
        // The size excludes the signature and the size field itself (12 bytes). The cursor has
        // already placed recordOffset + 56 inside the file, so adding 12 cannot overflow.
        let (recordEnd, overflow) = (recordOffset + 12).addingReportingOverflow(recordSize)
        guard !overflow, recordSize >= zip64EndFixedSize - 12, recordEnd == UInt64(locatorOffset),
              let start = Int(exactly: recordOffset) else {
            throw ZipError(path: path,
                           .zip64EndOfCentralDirectoryMisplaced(offset: recordOffset, recordSize: recordSize,
                                                                            locatorOffset: locatorOffset))
        }
        _ = try record.u16()  // version made by
        _ = try record.u16()  // version needed
        return Zip64End(recordOffset: start,
                        disk: try record.u32(),
                        directoryDisk: try record.u32(),
                        entriesOnDisk: try record.u64(),
                        entries: try record.u64(),
                        directorySize: try record.u64(),
                        directoryOffset: try record.u64())
    }

    /// The little-endian 32-bit value at `offset`, or nil when fewer than 4 bytes remain.
    static func signature(in bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32? {
        guard offset >= 0, offset <= bytes.count - 4 else { return nil }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}
