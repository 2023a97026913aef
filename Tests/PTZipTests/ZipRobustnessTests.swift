import Foundation
import PTTestSupport
import PTZip
import XCTest

/// Damaged input must end in a thrown error, never a trap, and real files must open.
final class ZipRobustnessTests: ZipTestCase {
    private func sample() -> BuiltZip {
        var fixture = ZipFixture([
            .stored("archive/data.pkl", Array("pickle".utf8)),
            .deflated("archive/fox", compressed: Samples.foxDeflated, uncompressed: Samples.foxText),
            .stored("archive/data/0", [1, 2, 3, 4]),
        ])
        fixture.entries[2].zip64 = true
        fixture.zip64EndRecords = true
        return fixture.build()
    }

    /// Opens and, if that works, reads every entry; returns whether it opened.
    private func openAndReadAll(_ path: String) -> Bool {
        guard let archive = try? ZipArchive(path: path) else { return false }
        for entry in archive.entries {
            _ = try? archive.bytes(of: entry)
        }
        return true
    }

    func testTruncationAtEveryOffsetNeverTraps() throws {
        let bytes = sample().bytes
        var opened: [Int] = []
        for length in 0 ... bytes.count {
            let path = try write(Array(bytes[..<length]), name: "cut.zip")
            if openAndReadAll(path) { opened.append(length) }
        }
        XCTAssertEqual(opened, [bytes.count], "only the whole archive opens")
    }

    func testOverwritingEveryByteNeverTraps() throws {
        let bytes = sample().bytes
        for value: UInt8 in [0x00, 0xFF, 0x7F] {
            for offset in bytes.indices {
                var damaged = bytes
                damaged[offset] = value
                _ = openAndReadAll(try write(damaged, name: "damaged.zip"))
            }
        }
    }

    func testRemovingPartOfTheZip64EndRecordsIsRefused() throws {
        let built = sample()
        let record = try XCTUnwrap(built.zip64EndRecord)
        // Dropping bytes from the middle of the end records shifts the classic record.
        for cut in 1 ..< 76 {
            var damaged = built.bytes
            damaged.removeSubrange(record ..< min(record + cut, built.endRecord))
            let path = try write(damaged, name: "endcut.zip")
            XCTAssertThrowsError(try ZipArchive(path: path), "cut \(cut)")
        }
    }

    /// A checkpoint written by `torch.save`, when one is at hand: PTLOAD_ZIP_SAMPLE=/path/to/model.pt.
    func testRealPyTorchCheckpoint() throws {
        guard let path = ProcessInfo.processInfo.environment["PTLOAD_ZIP_SAMPLE"], !path.isEmpty else {
            throw XCTSkip("set PTLOAD_ZIP_SAMPLE to a file written by torch.save to run this test")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("PTLOAD_ZIP_SAMPLE=\(path) does not exist")
        }
        let archive = try ZipArchive(path: path)
        XCTAssertFalse(archive.entries.isEmpty)
        let pickle = try XCTUnwrap(archive.entries.first { $0.name.hasSuffix("/data.pkl") }, "no data.pkl")
        let root = pickle.name.dropLast("data.pkl".count)
        XCTAssertTrue(archive.entries.allSatisfy { $0.name.hasPrefix(root) }, "all records share the archive folder")
        for entry in archive.entries {
            let bytes = try archive.bytes(of: entry)
            XCTAssertEqual(bytes.buffer.count, entry.uncompressedSize, entry.name)
            if entry.method == .stored, entry.name.hasPrefix(root + "data/") {
                XCTAssertEqual(entry.dataOffset % 64, 0, "PyTorch aligns \(entry.name)")
            }
        }
    }
}
