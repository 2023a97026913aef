import Foundation
import PTNumpy
import PTZip
import XCTest

/// `.npz` archives that are broken at the zip level or hold a member that is not a valid `.npy`.
final class HostileNpzTests: NumpyTestCase {
    private func archive(_ members: [(String, [UInt8])]) throws -> [UInt8] {
        var writer = ZipWriter()
        for (name, bytes) in members { try writer.add(name: name, bytes: bytes) }
        return writer.finish()
    }

    private func assertNpzRefused(_ path: String, _ expected: NumpyError,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Numpy.readNpz(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? NumpyError, expected, file: file, line: line)
            assertOneLine(error, startingWith: path + ": ", file: file, line: line)
        }
    }

    private var validMember: [UInt8] { npy(header(shape: "(2, 3)"), data: [UInt8](repeating: 0, count: 24)) }

    func testMemberWithoutNpySuffix() throws {
        let path = try write(try archive([("a.npy", validMember), ("notes.txt", Array("hello".utf8))]), name: "m.npz")
        assertNpzRefused(path, NumpyError(path: path, member: "notes.txt", .notNpyMember))
        let folder = try write(try archive([("dir/", []), ("dir/a.npy", validMember)]), name: "d.npz")
        assertNpzRefused(folder, NumpyError(path: folder, member: "dir/", .notNpyMember))
    }

    func testNotAZip() throws {
        let path = try write(Array("not a zip archive at all".utf8), name: "broken.npz")
        assertNpzRefused(path, NumpyError(path: path, .archive(.notAZip(leadingBytes: Array("not ".utf8)))))
        // A lone .npy is not an .npz either.
        let npyPath = try write(validMember, name: "lone.npz")
        assertNpzRefused(npyPath, NumpyError(path: npyPath, .archive(.notAZip(leadingBytes: [0x93, 0x4E, 0x55, 0x4D]))))
        let missing = scratchPath("missing.npz")
        assertNpzRefused(missing, NumpyError(path: missing, .archive(.cannotOpen(reason: "No such file or directory"))))
    }

    func testCorruptMemberNamesTheMember() throws {
        let short = Array(validMember.dropLast())
        let path = try write(try archive([("a.npy", validMember), ("h_n.npy", short)]), name: "ref.npz")
        assertNpzRefused(path, NumpyError(path: path, member: "h_n.npy",
                                          .dataSizeMismatch(shape: [2, 3], dtype: .float32, expectedBytes: 24,
                                                            actualBytes: 23)))
        XCTAssertThrowsError(try Numpy.readNpz(path: path)) { error in
            XCTAssertEqual(String(describing: error),
                           "\(path): member 'h_n.npy': header declares shape (2, 3) = 6 float32 values (24 bytes) but"
                               + " 23 bytes follow")
        }

        let notNpy = try write(try archive([("x.npy", Array("PK\u{3}\u{4}".utf8))]), name: "x.npz")
        assertNpzRefused(notNpy, NumpyError(path: notNpy, member: "x.npy", .badMagic(found: [0x50, 0x4B, 0x03, 0x04])))

        let evil = npy("{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,), }",
                       data: [0, 0, 0, 0])
        let evilPath = try write(try archive([("evil.npy", evil)]), name: "evil.npz")
        assertNpzRefused(evilPath, NumpyError(path: evilPath, member: "evil.npy",
                                              .nonLiteralHeader(offset: 10,
                                                                expected: "a literal value (a name is not one)",
                                                                found: "'__import__'")))
    }

    func testStoredMemberWithBadCRC() throws {
        var bytes = try fixtureBytes("stored.npz")
        let original = try ZipArchive(path: fixturePath("stored.npz"))
        let entry = original.entries[0]
        let position = entry.dataOffset + entry.compressedSize - 1
        bytes[position] ^= 0xFF
        let path = try write(bytes, name: "crc.npz")
        let actual = bytes[entry.dataOffset ..< entry.dataOffset + entry.compressedSize].withUnsafeBytes { crc32($0) }
        assertNpzRefused(path, NumpyError(path: path, .archive(.crcMismatch(entry: entry.name, declared: entry.crc32,
                                                                            actual: actual))))
    }

    func testDuplicateMemberNamesAreRefusedByTheZipLayer() throws {
        // Two distinct names of the same length, then the second renamed in both headers.
        var bytes = try archive([("a.npy", validMember), ("b.npy", validMember)])
        for index in bytes.indices where bytes[index] == UInt8(ascii: "b")
            && Array(bytes[index ..< min(index + 5, bytes.count)]) == Array("b.npy".utf8) {
            bytes[index] = UInt8(ascii: "a")
        }
        let path = try write(bytes, name: "dup.npz")
        assertNpzRefused(path, NumpyError(path: path,
                                          .archive(.duplicateEntryName(entry: "a.npy", firstIndex: 0, secondIndex: 1))))
    }

    func testEveryTruncationOfAnNpzIsRefused() throws {
        for name in ["stored.npz", "deflated.npz"] {
            let bytes = try fixtureBytes(name)
            for length in 0 ..< bytes.count {
                let path = try write(Array(bytes.prefix(length)), name: "cut.npz")
                XCTAssertThrowsError(try Numpy.readNpz(path: path), "\(name) cut at \(length)") { error in
                    XCTAssertTrue(error is NumpyError, "\(name) cut at \(length): \(error)")
                }
            }
        }
    }
}
