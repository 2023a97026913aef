/// One central directory header, decoded, with ZIP64 values already substituted.
struct CentralDirectoryRecord {
    /// Why `name` is not a plain relative path, as every writer of checkpoints and .npz files
    /// produces (torch: `<archive>/data/<key>`; numpy: `<array>.npy`), or nil. Nothing is ever
    /// extracted, but such a name in an archive is a sign of tampering (zip-slip paths, a name
    /// that C code would cut at the NUL), so the archive is refused whole.
    static func unsafeNameReason(_ name: String) -> UnsafeNameReason? {
        if name.isEmpty { return .empty }
        if name.utf8.contains(0) { return .nul }
        if name.hasPrefix("/") { return .absolute }
        if name.contains("\\") { return .backslash }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." }) {
            return .parentComponent
        }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return .controlCharacter }
        return nil
    }

    let index: Int
    /// The name exactly as stored; local headers and libzip are compared against these bytes.
    let nameBytes: [UInt8]
    let name: String
    let flags: UInt16
    let method: UInt16
    let crc32: UInt32
    let compressedSize: UInt64
    let uncompressedSize: UInt64
    let localHeaderOffset: UInt64
    /// Whether a size came from the ZIP64 extra field; a data descriptor then has 8-byte sizes.
    let hasZip64Sizes: Bool

    var isEncrypted: Bool { flags & 0x0001 != 0 || flags & 0x0040 != 0 }
    var hasDataDescriptor: Bool { flags & 0x0008 != 0 }
}

/// Reads every header of the central directory, checking that the headers exactly fill the
/// bytes the end record gives them.
enum CentralDirectoryReader {
    static let headerSignature: UInt32 = 0x0201_4b50
    static let fixedHeaderSize: UInt64 = 46
    private static let zip64ExtraID: UInt16 = 0x0001

    static func read(_ bytes: UnsafeRawBufferPointer, at location: CentralDirectoryLocation,
                     path: String) throws(ZipError) -> [CentralDirectoryRecord] {
        guard let directory = ByteCursor.range(offset: location.offset, length: location.size,
                                               within: bytes.count) else {
            throw ZipError(path: path, .outOfBounds(entry: nil, region: .centralDirectory, offset: location.offset,
                                                    length: location.size, fileSize: bytes.count))
        }
        guard directory.upperBound == location.endRecordsOffset else {
            throw ZipError(path: path, .centralDirectoryMisplaced(centralDirectoryOffset: location.offset,
                                                                  centralDirectorySize: location.size,
                                                                  endRecordsOffset: location.endRecordsOffset))
        }
        // Checked before anything is reserved, so a hostile count cannot drive allocation.
        guard location.entryCount <= location.size / fixedHeaderSize,
              let declared = Int(exactly: location.entryCount) else {
            throw ZipError(path: path, .absurdEntryCount(declared: location.entryCount,
                                                         centralDirectorySize: location.size))
        }

        var records: [CentralDirectoryRecord] = []
        records.reserveCapacity(declared)
        var position = directory.lowerBound
        // Headers are read until the bytes run out, not until the count is reached, so that
        // a count that disagrees with the contents is reported with both numbers.
        while position < directory.upperBound {
            var header = try ByteCursor(
                bytes, offset: UInt64(position), length: UInt64(directory.upperBound - position),
                overrun: ZipError(path: path, .truncatedCentralDirectoryHeader(
                    index: records.count, offset: position, centralDirectoryEnd: directory.upperBound)))
            records.append(try readHeader(&header, index: records.count, path: path))
            position = header.position
        }
        guard records.count == declared else {
            throw ZipError(path: path, .entryCountMismatch(declared: declared, found: records.count))
        }
        return records
    }

    private static func readHeader(_ header: inout ByteCursor, index: Int,
                                   path: String) throws(ZipError) -> CentralDirectoryRecord {
        let offset = header.position
        let signature = try header.u32()
        guard signature == headerSignature else {
            throw ZipError(path: path,
                           .badCentralDirectoryHeaderSignature(index: index, offset: offset, found: signature))
        }
        _ = try header.u16()  // version made by
        _ = try header.u16()  // version needed
        let flags = try header.u16()
        let method = try header.u16()
        _ = try header.u32()  // modification time and date
        let crc = try header.u32()
        let compressedSize32 = try header.u32()
        let uncompressedSize32 = try header.u32()
        let nameLength = Int(try header.u16())
        let extraLength = Int(try header.u16())
        let commentLength = Int(try header.u16())
        let diskStart = try header.u16()
        _ = try header.u16()  // internal attributes
        _ = try header.u32()  // external attributes
        let localOffset32 = try header.u32()
        let nameBytes = Array(try header.take(nameLength))
        let extra = try header.take(extraLength)
        try header.skip(commentLength)

        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw ZipError(path: path, .invalidEntryName(index: index, bytes: nameBytes))
        }
        if let why = CentralDirectoryRecord.unsafeNameReason(name) {
            throw ZipError(path: path, .unsafeEntryName(index: index, name: name, reason: why))
        }

        // The ZIP64 extra field holds, in this order, only the values whose 32-bit field is the
        // placeholder (APPNOTE 4.5.3).
        var zip64 = try zip64Field(in: extra, entry: name, path: path)
        func wide(_ value: UInt32, _ field: ZipError.Field) throws(ZipError) -> UInt64 {
            guard value == 0xFFFF_FFFF else { return UInt64(value) }
            guard zip64?.remaining ?? 0 >= 8, let extended = try zip64?.u64() else {
                throw ZipError(path: path, .missingZip64Field(entry: name, field: field))
            }
            return extended
        }
        let uncompressedSize = try wide(uncompressedSize32, .uncompressedSize)
        let compressedSize = try wide(compressedSize32, .compressedSize)
        let localHeaderOffset = try wide(localOffset32, .localHeaderOffset)
        if diskStart == 0xFFFF {
            guard zip64?.remaining ?? 0 >= 4, let disk = try zip64?.u32() else {
                throw ZipError(path: path, .missingZip64Field(entry: name, field: .startingDiskNumber))
            }
            guard disk == 0 else { throw ZipError(path: path, .multiDiskArchive) }
        } else if diskStart != 0 {
            throw ZipError(path: path, .multiDiskArchive)
        }

        return CentralDirectoryRecord(
            index: index, nameBytes: nameBytes, name: name, flags: flags, method: method, crc32: crc,
            compressedSize: compressedSize, uncompressedSize: uncompressedSize, localHeaderOffset: localHeaderOffset,
            hasZip64Sizes: compressedSize32 == 0xFFFF_FFFF || uncompressedSize32 == 0xFFFF_FFFF)
    }

    /// A cursor over the data of the first ZIP64 extra field, if there is one.
    private static func zip64Field(in extra: UnsafeRawBufferPointer, entry: String,
                                   path: String) throws(ZipError) -> ByteCursor? {
        var fields = try ByteCursor(extra, offset: 0, length: UInt64(extra.count),
                                    overrun: ZipError(path: path, .malformedExtraField(entry: entry, headerID: 0,
                                                                                       declaredLength: 4,
                                                                                       available: extra.count)))
        // Fewer than 4 trailing bytes cannot hold a field header; like Python's zipfile, they
        // are ignored as padding.
        while fields.remaining >= 4 {
            let id = try fields.u16()
            let length = Int(try fields.u16())
            guard length <= fields.remaining else {
                throw ZipError(path: path, .malformedExtraField(entry: entry, headerID: id, declaredLength: length,
                                                                available: fields.remaining))
            }
            let data = try fields.take(length)
            if id == zip64ExtraID {
                return try ByteCursor(data, offset: 0, length: UInt64(data.count),
                                      overrun: ZipError(path: path,
                                                        .missingZip64Field(entry: entry, field: .zip64Values)))
            }
        }
        return nil
    }
}
