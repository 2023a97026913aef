/// The archive's entries after every structural check, with the raw names libzip is compared against.
struct ValidatedDirectory {
    let entries: [ZipEntry]
    let rawNames: [[UInt8]]
}

/// Decides whether an archive's headers can be trusted: parses the end records, the central
/// directory and every local header, then checks the entries against each other. Reads
/// headers only; entry data is checked (CRC-32) when it is first handed out.
enum ArchiveValidator {
    static func validate(_ bytes: UnsafeRawBufferPointer, path: String) throws(ZipError) -> ValidatedDirectory {
        let location = try EndRecordsReader.locate(in: bytes, path: path)
        let records = try CentralDirectoryReader.read(bytes, at: location, path: path)
        let layouts = try records.map { record throws(ZipError) in
            try LocalHeaderReader.layout(of: record, method: try method(of: record, path: path), in: bytes, path: path)
        }
        try checkUniqueNames(records, path: path)
        try checkStartsAtFirstEntry(layouts, location: location, path: path)
        try checkDisjoint(layouts, centralDirectoryOffset: location.offset, path: path)
        return ValidatedDirectory(entries: layouts.map(\.entry), rawNames: records.map(\.nameBytes))
    }

    /// The method, once the entry is known to be readable: not encrypted, stored or deflated,
    /// and with sizes that method can produce.
    private static func method(of record: CentralDirectoryRecord, path: String) throws(ZipError) -> ZipMethod {
        guard !record.isEncrypted else { throw ZipError(path: path, .encryptedEntry(entry: record.name)) }
        switch record.method {
        case 0:
            guard record.compressedSize == record.uncompressedSize else {
                throw ZipError(path: path, .storedSizeMismatch(entry: record.name,
                                                               compressedSize: Int(clamping: record.compressedSize),
                                                               uncompressedSize: Int(
                                                                   clamping: record.uncompressedSize)))
            }
            return .stored
        case 8:
            // Each deflate bit encodes at most 258/2 bytes (a 258-byte match in two 1-bit
            // codes), so a larger claim is a lie that would only make us over-allocate.
            let (ratioLimit, overflow) = record.compressedSize.multipliedReportingOverflow(by: 1032)
            let (limit, overflowAgain) = ratioLimit.addingReportingOverflow(258)
            let plausible = overflow || overflowAgain || record.uncompressedSize <= limit
            guard plausible, Int(exactly: record.uncompressedSize) != nil else {
                throw ZipError(path: path, .implausibleUncompressedSize(entry: record.name,
                                                                        compressedSize: Int(
                                                                            clamping: record.compressedSize),
                                                                        uncompressedSize: Int(
                                                                            clamping: record.uncompressedSize)))
            }
            return .deflated
        default:
            throw ZipError(path: path, .unsupportedCompressionMethod(entry: record.name, method: record.method))
        }
    }

    private static func checkUniqueNames(_ records: [CentralDirectoryRecord], path: String) throws(ZipError) {
        var seen: [[UInt8]: Int] = [:]
        seen.reserveCapacity(records.count)
        for record in records {
            if let first = seen.updateValue(record.index, forKey: record.nameBytes) {
                throw ZipError(path: path, .duplicateEntryName(entry: record.name, firstIndex: first,
                                                               secondIndex: record.index))
            }
        }
    }

    /// Offsets are taken as absolute, so anything in front of the first record (a
    /// self-extractor stub, a second archive) would be bytes no entry accounts for.
    private static func checkStartsAtFirstEntry(_ layouts: [EntryLayout], location: CentralDirectoryLocation,
                                                path: String) throws(ZipError) {
        let first = layouts.map(\.entry.localHeaderOffset).min() ?? location.endRecordsOffset
        guard first == 0 else { throw ZipError(path: path, .bytesBeforeFirstEntry(firstRecordOffset: first)) }
    }

    /// Overlapping entries are how "zip bombs" reuse one payload many times, and how two
    /// readers can be shown different contents; libzip does not check for them.
    private static func checkDisjoint(_ layouts: [EntryLayout], centralDirectoryOffset: UInt64,
                                      path: String) throws(ZipError) {
        for layout in layouts where UInt64(layout.end) > centralDirectoryOffset {
            throw ZipError(path: path, .entryOverlapsCentralDirectory(entry: layout.entry.name, entryEnd: layout.end,
                                                                      centralDirectoryOffset: Int(
                                                                          clamping: centralDirectoryOffset)))
        }
        let ordered = layouts.sorted {
            ($0.entry.localHeaderOffset, $0.entry.index) < ($1.entry.localHeaderOffset, $1.entry.index)
        }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.entry.localHeaderOffset < previous.end {
            throw ZipError(path: path, .overlappingEntries(first: previous.entry.name, firstEnd: previous.end,
                                                           second: next.entry.name,
                                                           secondStart: next.entry.localHeaderOffset))
        }
    }
}
