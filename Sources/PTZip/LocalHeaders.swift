/// An entry together with the bytes it occupies in the file.
struct EntryLayout {
    let entry: ZipEntry
    /// Local header through data and data descriptor: `entry.localHeaderOffset ..< end`.
    let end: Int
}

/// Reads an entry's local header to find where its data starts and where the entry ends,
/// checking each piece lies inside the file. Reads headers only, never entry data.
enum LocalHeaderReader {
    private static let fixedSize: UInt64 = 30
    private static let descriptorSignature: UInt32 = 0x0807_4b50

    static func layout(of record: CentralDirectoryRecord, method: ZipMethod,
                       in bytes: UnsafeRawBufferPointer, path: String) throws(ZipError) -> EntryLayout {
        let offset = record.localHeaderOffset
        let fileSize = bytes.count
        var header = try ByteCursor(bytes, offset: offset, length: fixedSize,
                                    overrun: ZipError(path: path, .outOfBounds(entry: record.name, region: .localHeader,
                                                                               offset: offset, length: fixedSize,
                                                                               fileSize: fileSize)))
        let headerStart = header.position
        let signature = try header.u32()
        guard signature == EndRecordsReader.localHeaderSignature else {
            throw ZipError(path: path, .badLocalHeaderSignature(entry: record.name, offset: headerStart,
                                                                found: signature))
        }
        try header.skip(4)  // versions, flags
        let localMethod = try header.u16()
        try header.skip(4)  // time, date
        let localCRC = try header.u32()
        let compressedSize32 = try header.u32()
        let uncompressedSize32 = try header.u32()
        let nameLength = UInt64(try header.u16())
        let extraLength = UInt64(try header.u16())

        // The header start is inside the file, so these sums stay far below overflow.
        let variableStart = offset + fixedSize
        var variable = try ByteCursor(bytes, offset: variableStart, length: nameLength + extraLength,
                                      overrun: ZipError(path: path,
                                                        .outOfBounds(entry: record.name, region: .localHeader,
                                                                                 offset: offset,
                                                                                 length: fixedSize + nameLength
                                                                                     + extraLength,
                                                                                 fileSize: fileSize)))
        let localName = try variable.take(Int(nameLength))
        guard localName.elementsEqual(record.nameBytes) else {
            throw ZipError(path: path, .localHeaderNameMismatch(entry: record.name,
                                                                localName: String(decoding: localName, as: UTF8.self)))
        }
        try variable.skip(Int(extraLength))
        let dataOffset = variable.position

        // The two headers of one entry must agree: readers that trust the local one (streaming
        // unzip tools) would otherwise see other bytes than this reader. With a data descriptor
        // the local CRC and sizes are zero by design; 0xFFFFFFFF defers to the ZIP64 field.
        func agree(_ field: ZipError.Field, _ local: UInt64, _ central: UInt64) throws(ZipError) {
            guard local == central else {
                throw ZipError(path: path, .localHeaderMismatch(entry: record.name, field: field, local: local,
                                                                central: central))
            }
        }
        try agree(.compressionMethod, UInt64(localMethod), UInt64(record.method))
        if !record.hasDataDescriptor {
            try agree(.crc32, UInt64(localCRC), UInt64(record.crc32))
            if compressedSize32 != 0xFFFF_FFFF {
                try agree(.compressedSize, UInt64(compressedSize32), record.compressedSize)
            }
            if uncompressedSize32 != 0xFFFF_FFFF {
                try agree(.uncompressedSize, UInt64(uncompressedSize32), record.uncompressedSize)
            }
        }

        guard let data = ByteCursor.range(offset: UInt64(dataOffset), length: record.compressedSize,
                                          within: fileSize) else {
            throw ZipError(path: path, .outOfBounds(entry: record.name, region: .entryData, offset: UInt64(dataOffset),
                                                    length: record.compressedSize, fileSize: fileSize))
        }
        var end = data.upperBound
        if record.hasDataDescriptor {
            let zip64 = record.hasZip64Sizes || compressedSize32 == 0xFFFF_FFFF || uncompressedSize32 == 0xFFFF_FFFF
            end += try descriptorLength(at: data.upperBound, zip64: zip64, in: bytes, entry: record.name, path: path)
        }

        // Sizes are in range now: the compressed size fits in the file, and the caller has
        // checked the uncompressed size (equal for stored, bounded by the deflate ratio).
        let entry = ZipEntry(name: record.name, index: record.index, method: method,
                             compressedSize: data.count, uncompressedSize: Int(clamping: record.uncompressedSize),
                             crc32: record.crc32, localHeaderOffset: headerStart, dataOffset: dataOffset)
        return EntryLayout(entry: entry, end: end)
    }

    /// A data descriptor is CRC-32 and two sizes (4 or 8 bytes each), optionally preceded by
    /// its own signature; which form is used can only be seen by looking for that signature.
    private static func descriptorLength(at offset: Int, zip64: Bool, in bytes: UnsafeRawBufferPointer,
                                         entry: String, path: String) throws(ZipError) -> Int {
        let unsigned = zip64 ? 20 : 12
        let length = EndRecordsReader.signature(in: bytes, at: offset) == descriptorSignature ? unsigned + 4 : unsigned
        guard ByteCursor.range(offset: UInt64(offset), length: UInt64(length), within: bytes.count) != nil else {
            throw ZipError(path: path, .outOfBounds(entry: entry, region: .dataDescriptor, offset: UInt64(offset),
                                                    length: UInt64(length), fileSize: bytes.count))
        }
        return length
    }
}
