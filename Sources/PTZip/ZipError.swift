import PTText

/// Why an archive, or one of its entries, was refused: the file's path and a typed reason.
///
/// The description starts with the path, so that a message read out of context still says which
/// file is at fault; reasons about a single entry carry its name. Offsets and lengths that come
/// straight from the file are kept as `UInt64` because a hostile value need not fit in `Int`.
public struct ZipError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The archive (or the file that was to be mapped).
    public let path: String
    /// What is wrong with it.
    public let reason: Reason

    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`, one line.
    public var description: String { "\(path): \(reason)" }

    /// A part of the archive that the structure being read needs.
    public enum Region: String, Equatable, Sendable {
        case zip64Locator = "ZIP64 end of central directory locator"
        case zip64EndOfCentralDirectory = "ZIP64 end of central directory record"
        case centralDirectory = "central directory"
        case localHeader = "local header"
        case entryData = "data"
        case dataDescriptor = "data descriptor"
    }

    /// A header field named in a refusal, as APPNOTE names it.
    public enum Field: String, CustomStringConvertible, Equatable, Sendable {
        case diskNumber = "disk number"
        case centralDirectoryDisk = "central directory disk"
        case entriesOnDisk = "entries on this disk"
        case totalEntries = "total entries"
        case centralDirectorySize = "central directory size"
        case centralDirectoryOffset = "central directory offset"
        case compressionMethod = "compression method"
        case crc32 = "CRC-32"
        case compressedSize = "compressed size"
        case uncompressedSize = "uncompressed size"
        case localHeaderOffset = "local header offset"
        case startingDiskNumber = "starting disk number"
        case entryCount = "entry count"
        case name = "name"
        case zip64Values = "ZIP64 values"

        public var description: String { rawValue }
    }

    /// What is wrong with the archive at `path`.
    public enum Reason: CustomStringConvertible, Equatable, Sendable {
        /// The file could not be opened, inspected or mapped; `reason` is the system's message.
        case cannotOpen(reason: String)
        /// The file has no end of central directory record and does not start like a zip archive.
        case notAZip(leadingBytes: [UInt8])
        /// The file starts like a zip archive, but no end of central directory record is in its last 65,557 bytes
        /// (usually a truncated download).
        case endOfCentralDirectoryNotFound
        /// An end of central directory signature was found, but the record (22 bytes plus its comment) runs past the
        /// end of the file.
        case truncatedEndOfCentralDirectory(offset: Int, needed: UInt64, available: Int)
        /// Bytes follow the end of central directory record and its comment.
        case bytesAfterEndOfCentralDirectory(offset: Int, count: Int)
        /// The archive claims to span several disks (split or spanned archives are not supported).
        case multiDiskArchive
        /// The ZIP64 locator points at something that is not a ZIP64 end of central directory record.
        case badZip64EndOfCentralDirectorySignature(offset: UInt64, found: UInt32)
        /// The ZIP64 end of central directory record does not end where its locator begins, or declares a size too
        /// small to hold its fields.
        case zip64EndOfCentralDirectoryMisplaced(offset: UInt64, recordSize: UInt64, locatorOffset: Int)
        /// A value in the end of central directory record is neither the ZIP64 placeholder nor equal to the ZIP64
        /// record's value.
        case zip64EndOfCentralDirectoryMismatch(field: Field, endRecord: UInt64, zip64Record: UInt64)
        /// A structure (a record, a name, entry data…) lies partly or wholly beyond the end of the file, or its end
        /// cannot be computed without overflow.
        case outOfBounds(entry: String?, region: Region, offset: UInt64, length: UInt64, fileSize: Int)
        /// The central directory does not end exactly where the end of central directory records begin.
        case centralDirectoryMisplaced(centralDirectoryOffset: UInt64, centralDirectorySize: UInt64,
                                       endRecordsOffset: Int)
        /// The declared entry count is more than the central directory's bytes could hold (46 bytes per header at
        /// least).
        case absurdEntryCount(declared: UInt64, centralDirectorySize: UInt64)
        /// The central directory holds a different number of headers than the end record declares.
        case entryCountMismatch(declared: Int, found: Int)
        /// A central directory header (with its name, extra field and comment) runs past the end of the central
        /// directory.
        case truncatedCentralDirectoryHeader(index: Int, offset: Int, centralDirectoryEnd: Int)
        /// A central directory header does not start with the signature PK\x01\x02.
        case badCentralDirectoryHeaderSignature(index: Int, offset: Int, found: UInt32)
        /// An entry name is not valid UTF-8.
        case invalidEntryName(index: Int, bytes: [UInt8])
        /// An entry name is not a plain relative path (empty, absolute, a '..' component, a backslash, NUL or another
        /// control character).
        case unsafeEntryName(index: Int, name: String, reason: UnsafeNameReason)
        /// An extra field's header declares more bytes than the extra-field block holds.
        case malformedExtraField(entry: String, headerID: UInt16, declaredLength: Int, available: Int)
        /// A size or offset is marked 0xFFFFFFFF (stored in the ZIP64 extra field), but the ZIP64 extra field is
        /// missing or too short to hold it.
        case missingZip64Field(entry: String, field: Field)
        /// The entry is encrypted (general-purpose bit 0 or 6, or libzip reports an encryption method).
        case encryptedEntry(entry: String)
        /// The entry's compression method is neither 0 (stored) nor 8 (deflated).
        case unsupportedCompressionMethod(entry: String, method: UInt16)
        /// A stored entry whose compressed and uncompressed sizes differ.
        case storedSizeMismatch(entry: String, compressedSize: Int, uncompressedSize: Int)
        /// A deflated entry declares an uncompressed size that deflate cannot reach from its compressed size (at most
        /// 1,032 : 1).
        case implausibleUncompressedSize(entry: String, compressedSize: Int, uncompressedSize: Int)
        /// A local header does not start with the signature PK\x03\x04.
        case badLocalHeaderSignature(entry: String, offset: Int, found: UInt32)
        /// A local header names a different file than the central directory does for the same entry.
        case localHeaderNameMismatch(entry: String, localName: String)
        /// A local header gives another compression method, CRC-32 or size than the central directory for the same
        /// entry.
        case localHeaderMismatch(entry: String, field: Field, local: UInt64, central: UInt64)
        /// Two entries have the same name (compared as Swift strings, so canonically equivalent names collide too).
        case duplicateEntryName(entry: String, firstIndex: Int, secondIndex: Int)
        /// The archive does not start with its first local header: bytes (such as a self-extractor stub) precede it.
        case bytesBeforeFirstEntry(firstRecordOffset: Int)
        /// Two entries occupy overlapping byte ranges (local header through data and data descriptor).
        case overlappingEntries(first: String, firstEnd: Int, second: String, secondStart: Int)
        /// An entry's bytes run into (or lie after the start of) the central directory.
        case entryOverlapsCentralDirectory(entry: String, entryEnd: Int, centralDirectoryOffset: Int)
        /// libzip read the archive differently from this parser (entry count, a name, a size, a CRC or a method).
        case libzipDisagrees(entry: String?, field: Field, ours: String, libzip: String)
        /// libzip refused the archive or an entry; `code` is libzip's ZIP_ER_* value and `message` its text.
        case libzip(entry: String?, code: Int32, message: String)
        /// The entry's bytes do not have the CRC-32 its headers declare.
        case crcMismatch(entry: String, declared: UInt32, actual: UInt32)
        /// A deflated entry inflates to a different number of bytes than its headers declare.
        case sizeMismatch(entry: String, declared: Int, actual: Int)
        /// Memory for an inflated entry could not be allocated.
        case outOfMemory(entry: String, bytes: Int)
        /// `bytes(of:)` was given an entry that does not belong to this archive.
        case noSuchEntry(entry: String)

        /// The reason without the path.
        public var description: String {
            switch self {
            case let .cannotOpen(reason):
                return "cannot open: \(reason)"
            case let .notAZip(leadingBytes):
                let found = leadingBytes.isEmpty ? "an empty file" : "bytes \(hex(leadingBytes))"
                return "not a zip archive: expected 'PK\\x03\\x04' at offset 0 and an end of central directory record,"
                    + " found \(found) and no end record"
            case .endOfCentralDirectoryNotFound:
                return "no end of central directory record in the last 65,557 bytes; the file looks truncated"
            case let .truncatedEndOfCentralDirectory(offset, needed, available):
                return "the end of central directory record at offset \(offset) needs \(needed) bytes (22 plus its"
                    + " comment) but only \(available) remain in the file; the file looks truncated"
            case let .bytesAfterEndOfCentralDirectory(offset, count):
                return "expected the file to end with the end of central directory record; \(count) unexpected bytes"
                    + " follow it at offset \(offset)"
            case .multiDiskArchive:
                return "the archive spans several disks (disk numbers are not 0 or entry counts per disk differ); only"
                    + " single-file archives are supported"
            case let .badZip64EndOfCentralDirectorySignature(offset, found):
                return "the ZIP64 locator points at offset \(offset), expected signature 'PK\\x06\\x06' there, found"
                    + " \(hex32(found))"
            case let .zip64EndOfCentralDirectoryMisplaced(offset, recordSize, locatorOffset):
                return "the ZIP64 end of central directory record at offset \(offset) declares \(recordSize) bytes"
                    + " after its first 12; expected at least 44 and to end at the locator at offset \(locatorOffset)"
            case let .zip64EndOfCentralDirectoryMismatch(field, endRecord, zip64Record):
                return "the end of central directory record gives \(field) \(endRecord); the ZIP64 record gives"
                    + " \(zip64Record) (expected equal values or the ZIP64 placeholder)"
            case let .outOfBounds(entry, region, offset, length, fileSize):
                return "\(entryPrefix(entry))\(region.rawValue) at offset \(offset), \(length) bytes long, runs past"
                    + " the end of the file (\(fileSize) bytes)"
            case let .centralDirectoryMisplaced(offset, size, endOffset):
                return "the central directory (offset \(offset), \(size) bytes) should end where the end records begin,"
                    + " at offset \(endOffset)"
            case let .absurdEntryCount(declared, size):
                return "the end record declares \(declared) entries, but a central directory of \(size) bytes holds at"
                    + " most \(size / 46)"
            case let .entryCountMismatch(declared, found):
                return "the end record declares \(declared) entries; the central directory holds \(found)"
            case let .truncatedCentralDirectoryHeader(index, offset, cdEnd):
                return "central directory header #\(index) at offset \(offset) runs past the end of the central"
                    + " directory at offset \(cdEnd)"
            case let .badCentralDirectoryHeaderSignature(index, offset, found):
                return "central directory header #\(index) at offset \(offset): expected signature 'PK\\x01\\x02',"
                    + " found \(hex32(found))"
            case let .invalidEntryName(index, bytes):
                return "entry #\(index) has a name that is not valid UTF-8:"
                    + " \(hex(Array(bytes.prefix(64))))\(bytes.count > 64 ? "…" : "")"
            case let .unsafeEntryName(index, name, reason):
                return "entry #\(index) is named '\(Escaped.line(name, controlCodes: true))', which is not a plain"
                    + " relative path: \(reason)"
            case let .malformedExtraField(entry, headerID, declaredLength, available):
                return "entry '\(entry)' has an extra field 0x\(String(headerID, radix: 16)) declaring"
                    + " \(declaredLength) bytes; only \(available) remain in the extra-field block"
            case let .missingZip64Field(entry, field):
                return "entry '\(entry)' marks its \(field) as stored in the ZIP64 extra field (0xFFFFFFFF), but that"
                    + " field is missing or too short"
            case let .encryptedEntry(entry):
                return "entry '\(entry)' is encrypted; encrypted entries are not supported"
            case let .unsupportedCompressionMethod(entry, method):
                return "entry '\(entry)' uses compression method \(method); expected 0 (stored) or 8 (deflated)"
            case let .storedSizeMismatch(entry, compressed, uncompressed):
                return "stored entry '\(entry)' has compressed size \(compressed) but uncompressed size"
                    + " \(uncompressed); they must be equal"
            case let .implausibleUncompressedSize(entry, compressed, uncompressed):
                return "deflated entry '\(entry)' declares \(uncompressed) bytes from \(compressed) compressed bytes;"
                    + " deflate expands at most 1,032 times"
            case let .badLocalHeaderSignature(entry, offset, found):
                return "entry '\(entry)': expected a local header signature 'PK\\x03\\x04' at offset \(offset), found"
                    + " \(hex32(found))"
            case let .localHeaderNameMismatch(entry, localName):
                return "entry '\(entry)': its local header names it '\(localName)'"
            case let .localHeaderMismatch(entry, field, local, central):
                let show = { (v: UInt64) in field == .crc32 ? hex32(UInt32(truncatingIfNeeded: v)) : String(v) }
                return "entry '\(entry)': its local header gives \(field) \(show(local)); the central directory gives"
                    + " \(show(central))"
            case let .duplicateEntryName(entry, first, second):
                return "entries #\(first) and #\(second) are both named '\(entry)'"
            case let .bytesBeforeFirstEntry(offset):
                return "expected the first local header at offset 0, found it at offset \(offset); bytes such as a"
                    + " self-extractor stub precede the archive"
            case let .overlappingEntries(first, firstEnd, second, secondStart):
                return "entry '\(first)' extends to offset \(firstEnd) but entry '\(second)' starts at offset"
                    + " \(secondStart); entries must not overlap"
            case let .entryOverlapsCentralDirectory(entry, entryEnd, cdOffset):
                return "entry '\(entry)' extends to offset \(entryEnd), past the start of the central directory at"
                    + " offset \(cdOffset)"
            case let .libzipDisagrees(entry, field, ours, libzip):
                return "\(entryPrefix(entry))this reader finds \(field) \(ours) but libzip finds \(libzip)"
            case let .libzip(entry, code, message):
                return "\(entryPrefix(entry))libzip: \(message) (ZIP_ER \(code))"
            case let .crcMismatch(entry, declared, actual):
                return "entry '\(entry)' has CRC-32 \(hex32(actual)); its header declares \(hex32(declared))"
            case let .sizeMismatch(entry, declared, actual):
                return "entry '\(entry)' inflates to \(actual) bytes; its header declares \(declared)"
            case let .outOfMemory(entry, bytes):
                return "entry '\(entry)': cannot allocate \(bytes) bytes for its inflated contents"
            case let .noSuchEntry(entry):
                return "no entry '\(entry)' with that index and those headers in this archive"
            }
        }
    }
}

/// Why a name cannot be an entry name: it is not a plain relative path, so readers (ptload's
/// among them) refuse it.
public enum UnsafeNameReason: String, CustomStringConvertible, Equatable, Sendable {
    case empty = "it is empty"
    case nul = "it contains a NUL byte"
    case absolute = "it is an absolute path"
    case backslash = "it contains a backslash"
    case parentComponent = "it has a '..' component"
    case controlCharacter = "it contains a control character"

    public var description: String { rawValue }
}

private func entryPrefix(_ entry: String?) -> String {
    entry.map { "entry '\($0)': " } ?? ""
}

private func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}
