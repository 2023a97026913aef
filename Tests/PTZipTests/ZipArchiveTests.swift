import Foundation
import PTTestSupport
import Synchronization
@testable import PTZip
import XCTest

/// Archives that must open, and what reading them gives.
final class ZipArchiveTests: ZipTestCase {
    func testStoredArchiveListsAndReadsEntries() throws {
        let built = ZipFixture([
            .stored("archive/data.pkl", Array("pickle".utf8)),
            .stored("archive/data/0", [1, 2, 3, 4, 5, 6, 7, 8]),
        ]).build()
        let archive = try open(built.bytes)

        XCTAssertEqual(archive.entries.map(\.name), ["archive/data.pkl", "archive/data/0"])
        XCTAssertEqual(archive.entries.map(\.index), [0, 1])
        let tensor = try XCTUnwrap(archive.entry(named: "archive/data/0"))
        XCTAssertEqual(tensor.method, .stored)
        XCTAssertEqual(tensor.compressedSize, 8)
        XCTAssertEqual(tensor.uncompressedSize, 8)
        XCTAssertEqual(tensor.crc32, checksum([1, 2, 3, 4, 5, 6, 7, 8]))
        XCTAssertEqual(tensor.localHeaderOffset, built.localHeaders[1])
        XCTAssertEqual(tensor.dataOffset, built.localHeaders[1] + 30 + "archive/data/0".utf8.count)
        XCTAssertEqual(try contents(archive, "archive/data/0"), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try contents(archive, "archive/data.pkl"), Array("pickle".utf8))
        XCTAssertNil(archive.entry(named: "archive/data/1"))
    }

    func testStoredBytesAreAViewIntoTheMapping() throws {
        let archive = try open(ZipFixture([.stored("a", [9, 8, 7])]).build().bytes)
        let entry = archive.entries[0]
        let bytes = try archive.bytes(of: entry)
        XCTAssertEqual(bytes.buffer.baseAddress, archive.file.bytes.baseAddress.map { $0 + entry.dataOffset })
        // Reading twice (the CRC is checked only the first time) gives the same view.
        XCTAssertEqual(try archive.bytes(of: entry).buffer.baseAddress, bytes.buffer.baseAddress)
    }

    func testBytesOutliveTheArchive() throws {
        var archive: ZipArchive? = try open(ZipFixture([
            .stored("s", [1, 2, 3]),
            .deflated("d", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
        ]).build().bytes)
        let stored = try archive.map { try $0.bytes(of: $0.entries[0]) }
        let inflated = try archive.map { try $0.bytes(of: $0.entries[1]) }
        archive = nil
        XCTAssertEqual(stored.map { Array($0.buffer) }, [1, 2, 3])
        XCTAssertEqual(inflated.map { Array($0.buffer) }, Samples.foxText)
    }

    func testDeflatedEntryInflates() throws {
        XCTAssertEqual(checksum(Samples.foxText), Samples.foxCRC, "the embedded sample and crc32 agree")
        let archive = try open(ZipFixture([
            .deflated("fox.txt", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
        ]).build().bytes)
        let entry = archive.entries[0]
        XCTAssertEqual(entry.method, .deflated)
        XCTAssertEqual(entry.compressedSize, Samples.foxDeflated.count)
        XCTAssertEqual(entry.uncompressedSize, Samples.foxText.count)
        let bytes = try archive.bytes(of: entry)
        XCTAssertEqual(Array(bytes.buffer), Samples.foxText)
        XCTAssertEqual(Int(bitPattern: bytes.buffer.baseAddress) % 64, 0, "inflated buffers are 64-byte aligned")
    }

    func testZip64ArchiveWithEndRecordsAndExtraFields() throws {
        var fixture = ZipFixture([
            .stored("archive/data/0", Array(0 ..< 100)),
            .deflated("archive/fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
        ])
        fixture.entries[0].zip64 = true
        fixture.entries[1].zip64 = true
        fixture.zip64EndRecords = true
        let built = fixture.build()
        let archive = try open(built.bytes)

        XCTAssertEqual(archive.entries.map(\.name), ["archive/data/0", "archive/fox"])
        XCTAssertEqual(archive.entries[0].compressedSize, 100)
        XCTAssertEqual(archive.entries[0].localHeaderOffset, 0)
        XCTAssertEqual(archive.entries[1].localHeaderOffset, built.localHeaders[1])
        XCTAssertEqual(archive.entries[1].uncompressedSize, Samples.foxText.count)
        XCTAssertEqual(try contents(archive, "archive/data/0"), Array(0 ..< 100))
        XCTAssertEqual(try contents(archive, "archive/fox"), Samples.foxText)
    }

    func testZip64EndRecordsWithRealValuesInTheClassicRecord() throws {
        var fixture = ZipFixture([.stored("a", [1]), .stored("b", [2])])
        fixture.zip64EndRecords = true
        fixture.classicPlaceholders = false
        XCTAssertEqual(try open(fixture.build().bytes).entries.count, 2)
    }

    func testPythonForceZip64Archive() throws {
        let archive = try open(Samples.pythonForceZip64)
        XCTAssertEqual(archive.entries.map(\.name), ["a.txt"])
        XCTAssertEqual(archive.entries[0].dataOffset, 30 + 5 + 20)
        XCTAssertEqual(try contents(archive, "a.txt"), Array("hello".utf8))
    }

    /// The layout PyTorch's writer (miniz) produces: local extra fields padding the data to 64
    /// bytes (so the local and central extra fields differ) and ZIP64 end records with real values.
    func testPyTorchLayoutHandsOutAlignedData() throws {
        var fixture = ZipFixture([
            .stored("archive/data.pkl", Array(repeating: 0x80, count: 37)),
            .stored("archive/byteorder", Array("little".utf8)),
            .stored("archive/data/0", (0 ..< 256).map { UInt8($0) }),
            .stored("archive/version", Array("3\n".utf8)),
        ])
        fixture.alignment = 64
        fixture.zip64EndRecords = true
        fixture.classicPlaceholders = false
        let archive = try open(fixture.build().bytes)
        for entry in archive.entries {
            XCTAssertEqual(entry.dataOffset % 64, 0, entry.name)
            XCTAssertGreaterThan(entry.dataOffset, entry.localHeaderOffset + 30 + entry.name.utf8.count)
        }
        XCTAssertEqual(try contents(archive, "archive/data/0"), (0 ..< 256).map { UInt8($0) })
        XCTAssertEqual(try contents(archive, "archive/version"), Array("3\n".utf8))
    }

    func testEmptyArchive() throws {
        let bytes = ZipFixture([]).build().bytes
        XCTAssertEqual(bytes.count, 22)
        XCTAssertTrue(bytes.withUnsafeBytes(ZipArchive.isZip))
        XCTAssertEqual(try open(bytes).entries, [])
    }

    func testEmptyFileIsNotAZip() throws {
        let path = try write([])
        XCTAssertEqual(try MappedFile(path: path).bytes.count, 0)
        XCTAssertThrowsError(try ZipArchive(path: path)) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: path, .notAZip(leadingBytes: [])))
        }
    }

    func testIsZip() {
        func sniff(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes(ZipArchive.isZip) }
        XCTAssertTrue(sniff(ZipFixture([.stored("a", [1])]).build().bytes))
        XCTAssertTrue(sniff([0x50, 0x4B, 0x03, 0x04]))
        XCTAssertTrue(sniff([0x50, 0x4B, 0x05, 0x06]))
        XCTAssertFalse(sniff([]))
        XCTAssertFalse(sniff([0x50, 0x4B, 0x03]))
        XCTAssertFalse(sniff([0x80, 0x02, 0x8A, 0x0A]), "a legacy (pickle) checkpoint")
        XCTAssertFalse(sniff([0x50, 0x4B, 0x01, 0x02]))
    }

    func testZeroLengthEntries() throws {
        let archive = try open(ZipFixture([
            .stored("empty-stored", []),
            .deflated("empty-deflated", compressed: Samples.emptyDeflated, uncompressed: []),
            .stored("after", [42]),
        ]).build().bytes)
        XCTAssertEqual(archive.entries.map(\.uncompressedSize), [0, 0, 1])
        XCTAssertEqual(try contents(archive, "empty-stored"), [])
        XCTAssertEqual(try contents(archive, "empty-deflated"), [])
        XCTAssertEqual(try contents(archive, "after"), [42])
    }

    func testNamesWithDirectoriesAndUnicode() throws {
        let names = ["model/", "model/archive/data/0", "model/.data/serialization_id", "modèle/poids €.bin"]
        let archive = try open(ZipFixture(names.map { .stored($0, Array($0.utf8)) }).build().bytes)
        XCTAssertEqual(archive.entries.map(\.name), names)
        for name in names {
            XCTAssertEqual(try contents(archive, name), Array(name.utf8))
        }
    }

    func testDataDescriptorEntries() throws {
        var fixture = ZipFixture([
            .stored("first", [1, 2, 3]),
            .deflated("second", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
            .stored("third", [4, 5]),
        ])
        fixture.entries[0].dataDescriptor = true
        fixture.entries[1].dataDescriptor = true
        // ZIP64: the descriptor's sizes are 8 bytes each (24 bytes in all).
        fixture.entries[2].dataDescriptor = true
        fixture.entries[2].zip64 = true
        let archive = try open(fixture.build().bytes)
        XCTAssertEqual(try contents(archive, "first"), [1, 2, 3])
        XCTAssertEqual(try contents(archive, "second"), Samples.foxText)
        XCTAssertEqual(try contents(archive, "third"), [4, 5])
    }

    func testArchiveComment() throws {
        var fixture = ZipFixture([.stored("a", [1])])
        // A comment that itself contains an end-record signature must not be mistaken for the record.
        fixture.comment = [0x50, 0x4B, 0x05, 0x06] + Array("trailing comment".utf8)
        XCTAssertEqual(try open(fixture.build().bytes).entries.map(\.name), ["a"])
    }

    func testOpeningAnExistingMapping() throws {
        let path = try write(ZipFixture([.stored("a", [1, 2])]).build().bytes)
        let mapped = try MappedFile(path: path)
        XCTAssertTrue(ZipArchive.isZip(mapped.bytes))
        let archive = try ZipArchive(mapped: mapped)
        XCTAssertTrue(archive.file === mapped)
        XCTAssertEqual(archive.path, path)
        XCTAssertEqual(try contents(archive, "a"), [1, 2])
    }

    func testEntryFromAnotherArchiveIsRefused() throws {
        let first = try open(ZipFixture([.stored("a", [1, 2])]).build().bytes, name: "first.zip")
        let second = try open(ZipFixture([.stored("a", [1, 2, 3])]).build().bytes, name: "second.zip")
        XCTAssertThrowsError(try first.bytes(of: second.entries[0])) { error in
            XCTAssertEqual(error as? ZipError, ZipError(path: first.path, .noSuchEntry(entry: "a")))
        }
    }

    func testConcurrentReads() throws {
        let archive = try open(ZipFixture([
            .stored("s", Array(repeating: 7, count: 4096)),
            .deflated("d", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
        ]).build().bytes)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 64) { iteration in
            let entry = archive.entries[iteration % 2]
            let expected = iteration % 2 == 0 ? Array(repeating: 7, count: 4096) : Samples.foxText
            if (try? archive.bytes(of: entry)).map({ Array($0.buffer) }) != expected { failures.withLock { $0 += 1 } }
        }
        XCTAssertEqual(failures.withLock { $0 }, 0)
    }

    func testCRC32() {
        XCTAssertEqual(checksum([]), 0)
        XCTAssertEqual(checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    /// Opening reads headers only: of a 1 GiB archive of 30 stored entries (sparse on disk), the
    /// pages that opening brought into memory are the headers' and the kernel's read-ahead around
    /// them (counted with mincore), far from the whole file, as they would be if any entry's data
    /// were read or checksummed. The count depends on what was read, not on how fast.
    func testOpeningALargeArchiveReadsOnlyHeaders() throws {
        let entryCount = 30
        let entrySize = (1 << 30) / entryCount
        var fixture = ZipFixture((0 ..< entryCount).map { .stored("archive/data/\($0)", []) })
        for index in fixture.entries.indices {
            fixture.entries[index].hole = entrySize
            fixture.entries[index].uncompressedSize = UInt64(entrySize)
            fixture.entries[index].crc = 0  // the CRC-32 of zeros is not 0; opening must not notice
        }
        let url = directory.appendingPathComponent("large.zip")
        try fixture.build().writeSparse(to: url.path)

        let archive = try ZipArchive(path: url.path)
        XCTAssertEqual(archive.entries.count, entryCount)
        XCTAssertEqual(archive.entries.last?.compressedSize, entrySize)
        let mapped = archive.file.bytes
        XCTAssertGreaterThanOrEqual(mapped.count, 1 << 30 - entryCount)

        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var residency = [UInt8](repeating: 0, count: (mapped.count + page - 1) / page)
        XCTAssertEqual(mincore(UnsafeMutableRawPointer(mutating: mapped.baseAddress!), mapped.count, &residency), 0)
        let resident = residency.filter { $0 & 1 != 0 }.count * page
        // Read-ahead brings at most a few MB around each of the 31 places read; reading the data
        // would bring the whole GiB.
        XCTAssertLessThan(resident, mapped.count / 4, "opening brought \(resident >> 20) MiB of the file into memory")
        print("ZipArchiveTests: opening a 1 GiB archive brought \(resident >> 10) KiB into memory")
    }
}
