import PTTestSupport
import PTZip
import XCTest

/// One test per refusal: each builds a valid archive, breaks one thing, and expects the exact error.
final class ZipRefusalTests: ZipTestCase {
    typealias Local = BuiltZip.Local
    typealias Central = BuiltZip.Central
    typealias End = BuiltZip.End

    private func twoEntries() -> BuiltZip {
        ZipFixture([.stored("archive/data.pkl", Array("pickle".utf8)), .stored("archive/data/0", [1, 2, 3, 4])]).build()
    }

    // MARK: 1. Duplicate names

    func testDuplicateEntryNames() throws {
        let built = ZipFixture([.stored("archive/data/0", [1]), .stored("archive/data/0", [2])]).build()
        try assertRefused(built.bytes) {
            ZipError(path: $0, .duplicateEntryName(entry: "archive/data/0", firstIndex: 0, secondIndex: 1))
        }
    }

    func testCanonicallyEquivalentNamesAreTwoEntries() throws {
        // Different bytes, equal as Swift strings: two entries, as Python's zipfile (and numpy's
        // savez, which writes both) see them; each is found by its own bytes.
        let built = ZipFixture([.stored("caf\u{E9}", [1]), .stored("cafe\u{301}", [2])]).build()
        let archive = try built.bytes.withUnsafeBytes {
            try ZipArchive(mapped: MappedFile(copying: $0, path: "equivalent.zip"))
        }
        XCTAssertEqual(archive.entries.count, 2)
        XCTAssertEqual(try archive.entry(named: "caf\u{E9}")
            .map { Array(try archive.bytes(of: $0).withUnsafeBytes { Array($0) }) }, [1])
        XCTAssertEqual(try archive.entry(named: "cafe\u{301}")
            .map { Array(try archive.bytes(of: $0).withUnsafeBytes { Array($0) }) }, [2])
    }

    // MARK: 2. Overlapping entries

    func testEntryDataRunningIntoTheNextEntry() throws {
        var built = twoEntries()
        // "archive/data.pkl" claims 40 more bytes, which reach into the next local header.
        let claimed = UInt32(6 + 40)
        for (header, field) in [(built.centralHeaders[0], Central.compressedSize),
                                (built.centralHeaders[0], Central.uncompressedSize),
                                (built.localHeaders[0], Local.compressedSize),
                                (built.localHeaders[0], Local.uncompressedSize)] {
            built.put32(claimed, at: header + field)
        }
        let firstEnd = 30 + "archive/data.pkl".utf8.count + 46
        try assertRefused(built.bytes) {
            ZipError(path: $0, .overlappingEntries(first: "archive/data.pkl", firstEnd: firstEnd,
                                                   second: "archive/data/0", secondStart: built.localHeaders[1]))
        }
    }

    func testEntryRunningIntoTheCentralDirectory() throws {
        var built = twoEntries()
        for (header, field) in [(built.centralHeaders[1], Central.compressedSize),
                                (built.centralHeaders[1], Central.uncompressedSize),
                                (built.localHeaders[1], Local.compressedSize),
                                (built.localHeaders[1], Local.uncompressedSize)] {
            built.put32(4 + 10, at: header + field)
        }
        try assertRefused(built.bytes) {
            ZipError(path: $0, .entryOverlapsCentralDirectory(entry: "archive/data/0",
                                                              entryEnd: built.centralDirectoryOffset + 10,
                                                              centralDirectoryOffset: built.centralDirectoryOffset))
        }
    }

    func testDataDescriptorRunningIntoTheNextEntry() throws {
        var fixture = ZipFixture([.stored("a", [1, 2, 3]), .stored("b", [4])])
        fixture.entries[0].dataDescriptor = true
        var built = fixture.build()
        // "a" is followed by a signed 16-byte descriptor. Cut its last 4 bytes and move "b" (and
        // the central directory) back by 4: "b" now starts inside a's descriptor.
        let descriptorStart = 30 + 1 + 3
        built.bytes.removeSubrange(descriptorStart + 12 ..< descriptorStart + 16)
        let shift = 4
        built.put32(UInt32(built.localHeaders[1] - shift),
                    at: built.centralHeaders[1] - shift + Central.localHeaderOffset)
        built.put32(UInt32(built.centralDirectoryOffset - shift), at: built.endRecord - shift + End.offset)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .overlappingEntries(first: "a", firstEnd: descriptorStart + 16, second: "b",
                                                   secondStart: built.localHeaders[1] - shift))
        }
    }

    // MARK: 3. Encryption

    func testEncryptedEntry() throws {
        var fixture = ZipFixture([.stored("a", [1]), .stored("secret", [2])])
        fixture.entries[1].flags = 0x0001
        try assertRefused(fixture.build().bytes) { ZipError(path: $0, .encryptedEntry(entry: "secret")) }
    }

    func testStronglyEncryptedEntry() throws {
        var fixture = ZipFixture([.stored("secret", [2])])
        fixture.entries[0].flags = 0x0040
        try assertRefused(fixture.build().bytes) { ZipError(path: $0, .encryptedEntry(entry: "secret")) }
    }

    // MARK: 4. Compression methods

    func testUnsupportedCompressionMethod() throws {
        var fixture = ZipFixture([.stored("archive/data/0", [1, 2, 3])])
        fixture.entries[0].method = 12  // bzip2
        try assertRefused(fixture.build().bytes) {
            ZipError(path: $0, .unsupportedCompressionMethod(entry: "archive/data/0", method: 12))
        }
    }

    // MARK: 5. Sizes and offsets beyond the file

    func testLocalHeaderOffsetBeyondTheFile() throws {
        var built = twoEntries()
        built.put32(1_000_000, at: built.centralHeaders[1] + Central.localHeaderOffset)
        let size = built.bytes.count
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: "archive/data/0", region: .localHeader, offset: 1_000_000,
                                            length: 30, fileSize: size))
        }
    }

    func testLocalNameAndExtraBeyondTheFile() throws {
        var built = twoEntries()
        built.put16(0xFFFF, at: built.localHeaders[1] + Local.extraLength)
        let size = built.bytes.count
        let nameLength = UInt64("archive/data/0".utf8.count)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: "archive/data/0", region: .localHeader,
                                            offset: UInt64(built.localHeaders[1]),
                                            length: 30 + nameLength + 0xFFFF, fileSize: size))
        }
    }

    func testEntryDataBeyondTheFile() throws {
        var built = twoEntries()
        for (header, field) in [(built.centralHeaders[1], Central.compressedSize),
                                (built.centralHeaders[1], Central.uncompressedSize),
                                (built.localHeaders[1], Local.compressedSize),
                                (built.localHeaders[1], Local.uncompressedSize)] {
            built.put32(0x7FFF_0000, at: header + field)
        }
        let size = built.bytes.count
        let dataOffset = built.localHeaders[1] + 30 + "archive/data/0".utf8.count
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: "archive/data/0", region: .entryData, offset: UInt64(dataOffset),
                                            length: 0x7FFF_0000, fileSize: size))
        }
    }

    func testCentralDirectoryBeyondTheFile() throws {
        var built = twoEntries()
        built.put32(0x1000_0000, at: built.endRecord + End.offset)
        let size = built.bytes.count
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: nil, region: .centralDirectory, offset: 0x1000_0000,
                                            length: UInt64(built.centralDirectorySize), fileSize: size))
        }
    }

    func testCentralDirectoryNotEndingAtTheEndRecord() throws {
        var built = twoEntries()
        built.put32(UInt32(built.centralDirectoryOffset - 1), at: built.endRecord + End.offset)
        try assertRefused(built.bytes) {
            ZipError(path: $0,
                     .centralDirectoryMisplaced(centralDirectoryOffset: UInt64(built.centralDirectoryOffset - 1),
                                                          centralDirectorySize: UInt64(built.centralDirectorySize),
                                                          endRecordsOffset: built.endRecord))
        }
    }

    func testZip64LocalHeaderOffsetBeyondTheFile() throws {
        var fixture = ZipFixture([.stored("a", [1]), .stored("big", [2, 3])])
        fixture.entries[1].zip64 = true
        fixture.zip64EndRecords = true
        var built = fixture.build()
        // The ZIP64 extra field holds uncompressed size, compressed size, then the offset.
        let extraData = built.centralHeaders[1] + Central.name + 3 + 4
        built.put64(1 << 62, at: extraData + 16)
        let size = built.bytes.count
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: "big", region: .localHeader, offset: 1 << 62, length: 30,
                                            fileSize: size))
        }
    }

    func testZip64SizeThatOverflows() throws {
        var fixture = ZipFixture([.stored("big", [2, 3])])
        fixture.entries[0].zip64 = true
        var built = fixture.build()
        let extraData = built.centralHeaders[0] + Central.name + 3 + 4
        built.put64(UInt64.max, at: extraData)
        built.put64(UInt64.max, at: extraData + 8)
        let size = built.bytes.count
        let dataOffset = 30 + 3 + 20
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: "big", region: .entryData, offset: UInt64(dataOffset),
                                            length: UInt64.max, fileSize: size))
        }
    }

    func testZip64EndRecordBeyondTheFile() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        fixture.zip64EndRecords = true
        var built = fixture.build()
        built.put64(1 << 40, at: built.endRecord - 20 + 8)
        let size = built.bytes.count
        try assertRefused(built.bytes) {
            ZipError(path: $0, .outOfBounds(entry: nil, region: .zip64EndOfCentralDirectory, offset: 1 << 40,
                                            length: 56, fileSize: size))
        }
    }

    func testZip64ExtraFieldMissing() throws {
        var built = ZipFixture([.stored("a", [1])]).build()
        built.put32(0xFFFF_FFFF, at: built.centralHeaders[0] + Central.localHeaderOffset)
        try assertRefused(built.bytes) { ZipError(path: $0, .missingZip64Field(entry: "a", field: .localHeaderOffset)) }
    }

    func testMalformedExtraField() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        fixture.entries[0].centralExtra = [0x55, 0x54, 0x09, 0x00, 0x03]  // declares 9 bytes, has 1
        try assertRefused(fixture.build().bytes) {
            ZipError(path: $0, .malformedExtraField(entry: "a", headerID: 0x5455, declaredLength: 9, available: 1))
        }
    }

    // MARK: 6. Bytes before the first local header

    func testSelfExtractorStub() throws {
        var fixture = ZipFixture([.stored("a", [1]), .stored("b", [2])])
        fixture.prefix = Array("#!/bin/sh\nexec unzip \"$0\"\n".utf8)
        let count = fixture.prefix.count
        try assertRefused(fixture.build().bytes) {
            ZipError(path: $0, .bytesBeforeFirstEntry(firstRecordOffset: count))
        }
    }

    func testEmptyArchiveAfterAStub() throws {
        var fixture = ZipFixture([])
        fixture.prefix = [0x7F, 0x45, 0x4C, 0x46]
        try assertRefused(fixture.build().bytes) { ZipError(path: $0, .bytesBeforeFirstEntry(firstRecordOffset: 4)) }
    }

    // MARK: 7. Local headers

    func testWrongLocalHeaderSignature() throws {
        var built = twoEntries()
        built.put32(0x0807_4b50, at: built.localHeaders[1])
        try assertRefused(built.bytes) {
            ZipError(path: $0, .badLocalHeaderSignature(entry: "archive/data/0", offset: built.localHeaders[1],
                                                        found: 0x0807_4b50))
        }
    }

    func testLocalNameDiffersFromCentralName() throws {
        var fixture = ZipFixture([.stored("archive/data/0", [1])])
        fixture.entries[0].localName = Array("archive/data/1".utf8)
        try assertRefused(fixture.build().bytes) {
            ZipError(path: $0, .localHeaderNameMismatch(entry: "archive/data/0", localName: "archive/data/1"))
        }
    }

    // MARK: 8. Stored sizes

    func testStoredEntryWithDifferentSizes() throws {
        var built = twoEntries()
        built.put32(2, at: built.centralHeaders[1] + Central.uncompressedSize)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .storedSizeMismatch(entry: "archive/data/0", compressedSize: 4, uncompressedSize: 2))
        }
    }

    func testDeflatedEntryClaimingAnImpossibleSize() throws {
        var fixture = ZipFixture([.deflated("bomb", compressed: Samples.foxDeflated, uncompressed: Samples.foxText)])
        fixture.entries[0].uncompressedSize = 1 << 40
        fixture.entries[0].zip64 = true
        try assertRefused(fixture.build().bytes) {
            ZipError(path: $0, .implausibleUncompressedSize(entry: "bomb", compressedSize: Samples.foxDeflated.count,
                                                            uncompressedSize: 1 << 40))
        }
    }

    // MARK: 9. CRC-32, checked when bytes are first handed out

    func testStoredCRCMismatchIsFoundOnReadNotOnOpen() throws {
        var fixture = ZipFixture([.stored("good", [1]), .stored("archive/data/0", [1, 2, 3, 4])])
        fixture.entries[1].crc = 0xDEAD_BEEF
        let archive = try open(fixture.build().bytes)
        XCTAssertEqual(archive.entries[1].crc32, 0xDEAD_BEEF)
        XCTAssertEqual(try contents(archive, "good"), [1])
        let bad = archive.entries[1]
        for _ in 0 ..< 2 {
            XCTAssertThrowsError(try archive.bytes(of: bad)) { error in
                XCTAssertEqual(error as? ZipError, ZipError(path: archive.path, .crcMismatch(
                    entry: "archive/data/0", declared: 0xDEAD_BEEF, actual: checksum([1, 2, 3, 4]))))
                XCTAssertEqual(String(describing: error),
                               "\(archive.path): entry 'archive/data/0' has CRC-32 0xb63cfbcd; its header declares"
                                   + " 0xdeadbeef")
            }
        }
    }

    func testDeflatedCRCMismatchIsFoundOnReadNotOnOpen() throws {
        var fixture = ZipFixture([.deflated("fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText)])
        fixture.entries[0].crc = 0x1234_ABCD
        let archive = try open(fixture.build().bytes)
        XCTAssertThrowsError(try archive.bytes(of: archive.entries[0])) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: archive.path,
                                                        .crcMismatch(entry: "fox", declared: 0x1234_ABCD,
                                                                                         actual: Samples.foxCRC)))
        }
    }

    func testDeflatedEntryShorterThanDeclared() throws {
        var fixture = ZipFixture([.deflated("fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText)])
        fixture.entries[0].uncompressedSize += 10
        let archive = try open(fixture.build().bytes)
        XCTAssertThrowsError(try archive.bytes(of: archive.entries[0])) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: archive.path, .sizeMismatch(
                entry: "fox", declared: Samples.foxText.count + 10, actual: Samples.foxText.count)))
        }
    }

    func testDeflatedEntryLongerThanDeclared() throws {
        var fixture = ZipFixture([.deflated("fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText)])
        fixture.entries[0].uncompressedSize -= 10
        fixture.entries[0].crc = checksum(Array(Samples.foxText.dropLast(10)))
        let archive = try open(fixture.build().bytes)
        XCTAssertThrowsError(try archive.bytes(of: archive.entries[0])) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: archive.path, .sizeMismatch(
                entry: "fox", declared: Samples.foxText.count - 10, actual: Samples.foxText.count)))
        }
    }

    func testCorruptDeflateStream() throws {
        var fixture = ZipFixture([.deflated("fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText)])
        fixture.entries[0].data[0] = 0xFF  // block type 3 does not exist
        let archive = try open(fixture.build().bytes)
        XCTAssertThrowsError(try archive.bytes(of: archive.entries[0])) { error in
            guard let error = error as? ZipError, case let .libzip(entry, _, message) = error.reason else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(error.path, archive.path)
            XCTAssertEqual(entry, "fox")
            XCTAssertFalse(message.isEmpty)
        }
    }

    // MARK: 10. Not a zip, truncated end records, wrong or absurd counts

    func testNotAZip() throws {
        try assertRefused(Array("just some text, not an archive".utf8)) {
            ZipError(path: $0, .notAZip(leadingBytes: Array("just".utf8)))
        }
    }

    func testLegacyPickleCheckpointIsNotAZip() throws {
        try assertRefused([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8]) {
            ZipError(path: $0, .notAZip(leadingBytes: [0x80, 0x02, 0x8A, 0x0A]))
        }
    }

    func testEndRecordMissing() throws {
        let built = twoEntries()
        try assertRefused(Array(built.bytes[..<built.endRecord])) { ZipError(path: $0, .endOfCentralDirectoryNotFound) }
    }

    func testTruncatedEndRecord() throws {
        let built = twoEntries()
        let cut = Array(built.bytes.dropLast(5))
        try assertRefused(cut) {
            ZipError(path: $0, .truncatedEndOfCentralDirectory(offset: built.endRecord, needed: 22, available: 17))
        }
    }

    func testEndRecordCommentRunningPastTheEnd() throws {
        var built = twoEntries()
        built.put16(10, at: built.endRecord + End.commentLength)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .truncatedEndOfCentralDirectory(offset: built.endRecord, needed: 32, available: 22))
        }
    }

    func testBytesAfterTheEndRecord() throws {
        let built = twoEntries()
        try assertRefused(built.bytes + [0, 0, 0]) {
            ZipError(path: $0, .bytesAfterEndOfCentralDirectory(offset: built.bytes.count, count: 3))
        }
    }

    func testDeclaredCountBelowWhatIsThere() throws {
        var built = twoEntries()
        built.put16(1, at: built.endRecord + End.entriesOnDisk)
        built.put16(1, at: built.endRecord + End.entries)
        try assertRefused(built.bytes) { ZipError(path: $0, .entryCountMismatch(declared: 1, found: 2)) }
    }

    func testDeclaredCountAboveWhatIsThere() throws {
        var built = ZipFixture([.stored("a", [1]), .stored("b", [2]), .stored("c", [3])]).build()
        built.put16(2, at: built.endRecord + End.entriesOnDisk)
        built.put16(2, at: built.endRecord + End.entries)
        try assertRefused(built.bytes) { ZipError(path: $0, .entryCountMismatch(declared: 2, found: 3)) }
    }

    func testAbsurdEntryCount() throws {
        var built = twoEntries()
        built.put16(60_000, at: built.endRecord + End.entriesOnDisk)
        built.put16(60_000, at: built.endRecord + End.entries)
        let size = UInt64(built.centralDirectorySize)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .absurdEntryCount(declared: 60_000, centralDirectorySize: size))
        }
    }

    func testAbsurdZip64EntryCount() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        fixture.zip64EndRecords = true
        var built = fixture.build()
        let record = try XCTUnwrap(built.zip64EndRecord)
        built.put64(UInt64.max, at: record + 24)
        built.put64(UInt64.max, at: record + 32)
        let size = UInt64(built.centralDirectorySize)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .absurdEntryCount(declared: UInt64.max, centralDirectorySize: size))
        }
    }

    func testCentralHeaderWithWrongSignature() throws {
        var built = twoEntries()
        built.put32(0x0403_4b50, at: built.centralHeaders[1])
        try assertRefused(built.bytes) {
            ZipError(path: $0, .badCentralDirectoryHeaderSignature(index: 1, offset: built.centralHeaders[1],
                                                                   found: 0x0403_4b50))
        }
    }

    func testCentralHeaderRunningPastTheCentralDirectory() throws {
        var built = twoEntries()
        built.put16(200, at: built.centralHeaders[1] + Central.nameLength)
        let end = built.centralDirectoryOffset + built.centralDirectorySize
        try assertRefused(built.bytes) {
            ZipError(path: $0, .truncatedCentralDirectoryHeader(index: 1, offset: built.centralHeaders[1],
                                                                centralDirectoryEnd: end))
        }
    }

    func testInvalidUTF8Name() throws {
        let name: [UInt8] = [0x61, 0xFF, 0xFE, 0x2F, 0x30]
        var fixture = ZipFixture([.stored("x", [1])])
        fixture.entries[0].name = name
        try assertRefused(fixture.build().bytes) { ZipError(path: $0, .invalidEntryName(index: 0, bytes: name)) }
    }

    func testMultiDiskArchive() throws {
        var built = twoEntries()
        built.put16(1, at: built.endRecord + End.disk)
        try assertRefused(built.bytes) { ZipError(path: $0, .multiDiskArchive) }
    }

    func testEntryOnAnotherDisk() throws {
        var built = twoEntries()
        built.put16(2, at: built.centralHeaders[0] + Central.disk)
        try assertRefused(built.bytes) { ZipError(path: $0, .multiDiskArchive) }
    }

    func testZip64RecordWithWrongSignature() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        fixture.zip64EndRecords = true
        var built = fixture.build()
        let record = try XCTUnwrap(built.zip64EndRecord)
        built.put32(0x0201_4b50, at: record)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .badZip64EndOfCentralDirectorySignature(offset: UInt64(record), found: 0x0201_4b50))
        }
    }

    func testZip64RecordNotEndingAtTheLocator() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        fixture.zip64EndRecords = true
        var built = fixture.build()
        let record = try XCTUnwrap(built.zip64EndRecord)
        built.put64(40, at: record + 4)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .zip64EndOfCentralDirectoryMisplaced(offset: UInt64(record), recordSize: 40,
                                                                    locatorOffset: built.endRecord - 20))
        }
    }

    func testZip64RecordDisagreeingWithTheClassicRecord() throws {
        var fixture = ZipFixture([.stored("a", [1]), .stored("b", [2])])
        fixture.zip64EndRecords = true
        fixture.classicPlaceholders = false
        var built = fixture.build()
        built.put16(1, at: built.endRecord + End.entriesOnDisk)
        try assertRefused(built.bytes) {
            ZipError(path: $0, .zip64EndOfCentralDirectoryMismatch(field: .entriesOnDisk, endRecord: 1, zip64Record: 2))
        }
    }

    // MARK: libzip cross-check

    func testNamesThatAreNotPlainRelativePaths() throws {
        // Nothing is extracted, but such names never come from torch or numpy: zip-slip paths,
        // and a NUL that libzip's C strings would cut (libzip reads 'model.pt' where we read more).
        let cases: [(String, UnsafeNameReason)] = [("model.pt\u{0}.exe", .nul),
                                                   ("a/../../etc/passwd", .parentComponent),
                                                   ("..", .parentComponent), ("/etc/passwd", .absolute),
                                                   ("a\\b", .backslash), ("a\u{7}b", .controlCharacter), ("", .empty)]
        for (name, reason) in cases {
            var fixture = ZipFixture([.stored("x", [1])])
            fixture.entries[0].name = Array(name.utf8)
            let path = try write(fixture.build().bytes)
            XCTAssertThrowsError(try ZipArchive(path: path)) { error in
                XCTAssertEqual(error as? ZipError, ZipError(path: path,
                                                            .unsafeEntryName(index: 0, name: name, reason: reason)))
            }
        }
    }

    // MARK: Descriptions

    /// The path, then the reason's own line; fields and regions read as APPNOTE names them.
    func testDescriptionIsThePathThenTheReason() {
        let mismatch = ZipError(path: "m.pt",
                                .zip64EndOfCentralDirectoryMismatch(field: .entriesOnDisk, endRecord: 1,
                                                                    zip64Record: 2))
        XCTAssertEqual(mismatch.description,
                       "m.pt: the end of central directory record gives entries on this disk 1; the ZIP64 record gives"
                           + " 2 (expected equal values or the ZIP64 placeholder)")
        XCTAssertEqual(mismatch.description, "m.pt: \(mismatch.reason)")
        let local = ZipError(path: "m.pt", .localHeaderMismatch(entry: "a", field: .crc32, local: 0xAB, central: 0xCD))
        XCTAssertEqual(local.description,
                       "m.pt: entry 'a': its local header gives CRC-32 0x000000ab; the central directory gives"
                           + " 0x000000cd")
        let bounds = ZipError(path: "m.pt", .outOfBounds(entry: nil, region: .centralDirectory, offset: 9, length: 4,
                                                         fileSize: 10))
        XCTAssertEqual(bounds.description,
                       "m.pt: central directory at offset 9, 4 bytes long, runs past the end of the file (10 bytes)")
        let name = ZipError(path: "m.pt", .unsafeEntryName(index: 2, name: "../x", reason: .parentComponent))
        XCTAssertEqual(name.description,
                       "m.pt: entry #2 is named '../x', which is not a plain relative path: it has a '..' component")
    }

    // MARK: Opening files

    func testMissingFile() throws {
        let path = directory.appendingPathComponent("missing.pt").path
        XCTAssertThrowsError(try ZipArchive(path: path)) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: path, .cannotOpen(reason: "No such file or directory")))
            XCTAssertEqual(String(describing: error), "\(path): cannot open: No such file or directory")
        }
    }

    func testDirectoryIsNotAFile() throws {
        XCTAssertThrowsError(try MappedFile(path: directory.path)) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: directory.path, .cannotOpen(reason: "Is a directory")))
        }
    }
}
