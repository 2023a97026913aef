import Foundation
import PTTestSupport
import PTZip
import XCTest

/// Writes archives to a fresh temporary directory per test and opens them.
class ZipTestCase: XCTestCase {
    private(set) var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("PTZipTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `bytes` to a file in the test's directory and returns its path.
    func write(_ bytes: [UInt8], name: String = "test.zip") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// A path in the test's directory, for a file the test writes itself.
    func scratchPath(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    func open(_ bytes: [UInt8], name: String = "test.zip") throws -> ZipArchive {
        try ZipArchive(path: write(bytes, name: name))
    }

    /// Asserts that opening `bytes` throws exactly the error `expected(path)` builds.
    func assertRefused(_ bytes: [UInt8], _ expected: (String) -> ZipError,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(bytes, name: "refused.zip")
        XCTAssertThrowsError(try ZipArchive(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? ZipError, expected(path), file: file, line: line)
            // Every refusal names the file.
            let description = String(describing: error)
            XCTAssertTrue(description.hasPrefix(path + ": "), description, file: file, line: line)
            XCTAssertFalse(description.contains("\n"), "one line: \(description)", file: file, line: line)
        }
    }

    func contents(_ archive: ZipArchive, _ name: String, file: StaticString = #filePath,
                  line: UInt = #line) throws -> [UInt8] {
        let entry = try XCTUnwrap(archive.entry(named: name), "no entry \(name)", file: file, line: line)
        return try archive.bytes(of: entry).withUnsafeBytes { Array($0) }
    }
}
