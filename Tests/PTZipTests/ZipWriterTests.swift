import Foundation
import PTTestSupport
@testable import PTZip
import XCTest

/// PTZip's writer, checked by opening its output with PTZip's strict reader (and the libzip
/// cross-check it runs).
final class ZipWriterTests: ZipTestCase {
    private func open(_ writer: ZipWriter, name: String = "w.zip") throws -> ZipArchive {
        try ZipArchive(path: write(writer.finish(), name: name))
    }

    private func contents(_ archive: ZipArchive, _ entry: ZipEntry) throws -> [UInt8] {
        try archive.bytes(of: entry).withUnsafeBytes { Array($0) }
    }

    func testRoundTripThroughZipArchive() throws {
        var writer = ZipWriter()
        let members: [(String, [UInt8])] = [
            ("a.npy", Array("first".utf8)),
            ("dir/b.bin", (0 ..< 1000).map { UInt8(truncatingIfNeeded: $0 * 7) }),
            ("empty", []),
            ("naïve €.txt", Array("utf-8 name".utf8)),
        ]
        for (name, bytes) in members { try writer.add(name: name, bytes: bytes) }
        XCTAssertEqual(writer.count, 4)
        let image = writer.finish()
        XCTAssertEqual(Array(image.prefix(4)), [0x50, 0x4B, 0x03, 0x04])
        let archive = try ZipArchive(path: write(image, name: "w.zip"))
        XCTAssertEqual(archive.entries.map(\.name), members.map(\.0))
        for (entry, (_, bytes)) in zip(archive.entries, members) {
            XCTAssertEqual(entry.method, .stored, entry.name)
            XCTAssertEqual(entry.uncompressedSize, bytes.count, entry.name)
            XCTAssertEqual(entry.crc32, bytes.withUnsafeBytes { crc32($0) }, entry.name)
            XCTAssertEqual(try contents(archive, entry), bytes, entry.name)
        }
        // The UTF-8 flag (general purpose bit 11) is set for the non-ASCII name only.
        XCTAssertEqual(image[archive.entries[3].localHeaderOffset + 7] & 0x08, 0x08)
        XCTAssertEqual(image[archive.entries[0].localHeaderOffset + 7] & 0x08, 0)
    }

    func testOutputIsDeterministic() throws {
        func build() throws -> [UInt8] {
            var writer = ZipWriter()
            try writer.add(name: "x", bytes: [1, 2, 3])
            try writer.add(name: "y", bytes: [4])
            return writer.finish()
        }
        XCTAssertEqual(try build(), try build())
        // finish() leaves the writer usable: more entries can follow.
        var writer = ZipWriter()
        try writer.add(name: "x", bytes: [1])
        _ = writer.finish()
        try writer.add(name: "y", bytes: [2])
        XCTAssertEqual(try open(writer).entries.map(\.name), ["x", "y"])
    }

    func testEmptyArchive() throws {
        let writer = ZipWriter()
        XCTAssertEqual(writer.finish().count, 22)
        XCTAssertEqual(try open(writer).entries.count, 0)
    }

    func testDuplicateAndEmptyNamesAreRefused() throws {
        var writer = ZipWriter()
        try writer.add(name: "a", bytes: [1])
        XCTAssertThrowsError(try writer.add(name: "a", bytes: [2])) { error in
            XCTAssertEqual(error as? ZipWriterError, .duplicateName("a"))
        }
        // Canonically equivalent names are two names (their bytes differ), as in ZipArchive.
        try writer.add(name: "caf\u{E9}", bytes: [])
        try writer.add(name: "cafe\u{301}", bytes: [])
        // Names the reader refuses are refused here too.
        let unsafe: [(String, UnsafeNameReason)] = [("../evil", .parentComponent), ("/abs", .absolute),
                                                    ("a\\b", .backslash), ("a\nb", .controlCharacter)]
        for (name, why) in unsafe {
            XCTAssertThrowsError(try writer.add(name: name, bytes: [])) { error in
                XCTAssertEqual(error as? ZipWriterError, .unsafeName(name: name, reason: why))
            }
        }
        XCTAssertThrowsError(try writer.add(name: "../evil", bytes: [])) { error in
            XCTAssertEqual("\(error)", "zip entry name '../evil' is not a plain relative path: it has a '..' component")
        }
        XCTAssertThrowsError(try writer.add(name: "", bytes: [])) { error in
            XCTAssertEqual(error as? ZipWriterError, .emptyName)
        }
        let long = String(repeating: "x", count: 65_536)
        XCTAssertThrowsError(try writer.add(name: long, bytes: [])) { error in
            XCTAssertEqual(error as? ZipWriterError, .nameTooLong(name: String(repeating: "x", count: 64),
                                                                  byteCount: 65_536))
        }
        XCTAssertEqual(try open(writer).entries.map { Array($0.name.utf8) },
                       [Array("a".utf8), Array("caf\u{E9}".utf8), Array("cafe\u{301}".utf8)])
    }

    /// 65,536 entries: the count does not fit the classic end record, so the ZIP64 end records are written.
    func testMoreThan65535EntriesUseZip64EndRecords() throws {
        var writer = ZipWriter()
        let count = 65_536
        for index in 0 ..< count {
            try writer.add(name: String(index), bytes: [UInt8(truncatingIfNeeded: index)])
        }
        let image = writer.finish()
        let zip64End: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
        let endRecord = image.count - 22
        XCTAssertEqual(Array(image[endRecord - 20 - 56 ..< endRecord - 20 - 52]), zip64End)
        XCTAssertEqual(Array(image[endRecord + 8 ..< endRecord + 12]),
                       [0xFF, 0xFF, 0xFF, 0xFF])  // classic counts: placeholders
        let archive = try ZipArchive(path: write(image, name: "many.zip"))
        XCTAssertEqual(archive.entries.count, count)
        for index in [0, 1, 65_534, 65_535] {
            let entry = try XCTUnwrap(archive.entry(named: String(index)))
            XCTAssertEqual(try contents(archive, entry), [UInt8(truncatingIfNeeded: index)])
        }
    }

    /// Sizes, offsets and the central directory at or past the 32-bit limit go through ZIP64
    /// extra fields and end records; the limit is lowered so that small data exercises them.
    func testZip64ExtraFieldsForLargeSizesAndOffsets() throws {
        var writer = ZipWriter(wideLimit: 64, countLimit: 0xFFFF)
        let small: [UInt8] = [1, 2, 3]                                          // offset 0, small
        let large = (0 ..< 100).map { UInt8($0) }                              // wide size
        let late: [UInt8] = [9]                                                 // wide offset
        try writer.add(name: "small", bytes: small)
        try writer.add(name: "large", bytes: large)
        try writer.add(name: "late", bytes: late)
        let image = writer.finish()
        let archive = try ZipArchive(path: write(image, name: "zip64.zip"))
        XCTAssertEqual(archive.entries.map(\.name), ["small", "large", "late"])
        for (entry, bytes) in zip(archive.entries, [small, large, late]) {
            XCTAssertEqual(try contents(archive, entry), bytes, entry.name)
        }
        // The large entry's local header has 0xFFFFFFFF sizes and a 20-byte ZIP64 extra field.
        let header = archive.entries[1].localHeaderOffset
        XCTAssertEqual(Array(image[header + 18 ..< header + 26]), [UInt8](repeating: 0xFF, count: 8))
        XCTAssertEqual(image[header + 28], 20)
        XCTAssertEqual(image[archive.entries[0].localHeaderOffset + 28], 0)
        // The directory lies past the lowered limit, so the ZIP64 end records are there.
        XCTAssertTrue(image.count > 98
                      && image[image.count - 22 - 20 - 56 ..< image.count - 22 - 20 - 52].elementsEqual(
                          [0x50, 0x4B, 0x06, 0x06]))
    }

    func testWriteToFile() throws {
        var writer = ZipWriter()
        try writer.add(name: "a", bytes: [1, 2])
        let path = scratchPath("out.zip")
        try writer.write(to: path)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), writer.finish())
        let bad = scratchPath("no/such/dir.zip")
        XCTAssertThrowsError(try writer.write(to: bad)) { error in
            XCTAssertEqual(error as? ZipWriterError,
                           .cannotWrite(FileSinkError(path: bad, .system("No such file or directory"))))
            XCTAssertEqual("\(error)", "\(bad): cannot write: No such file or directory")
        }
    }

    /// A streaming writer gives the same bytes as the in-memory one, data aligned as asked
    /// ('FB' padding), and a streamed entry whose data is not its declared size is refused.
    func testStreamingWriterMatchesInMemory() throws {
        var memory = ZipWriter()
        let path = scratchPath("streamed.zip")
        let sink = try FileSink(replacing: path)
        var streamed = ZipWriter(streamingTo: sink)
        let entries: [(String, [UInt8])] = [("a/data.pkl", Array("pickle".utf8)),
                                            ("a/data/0", (0..<1000).map { UInt8($0 % 251) })]
        for (name, bytes) in entries {
            try memory.add(name: name, bytes: bytes, alignment: 64)
            let crc = bytes.withUnsafeBytes { crc32($0) }
            try streamed.add(name: name, size: bytes.count, crc: crc, alignment: 64) { write in
                try bytes.withUnsafeBytes { all in
                    try write(UnsafeRawBufferPointer(rebasing: all[0..<3]))
                    try write(UnsafeRawBufferPointer(rebasing: all[3...]))
                }
            }
        }
        try streamed.finish(into: sink)
        try sink.commit()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(written, memory.finish())
        let archive = try ZipArchive(path: path)
        for entry in archive.entries { XCTAssertEqual(entry.dataOffset % 64, 0, entry.name) }
        let other = try FileSink(replacing: scratchPath("mismatch.zip"))
        var mismatched = ZipWriter(streamingTo: other)
        XCTAssertThrowsError(try mismatched.add(name: "b", size: 10, crc: 0) { write in
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try write($0) }
        }) {
            XCTAssertEqual($0 as? ZipWriterError, .sizeMismatch(name: "b", declared: 10, given: 4))
        }
    }
}
