import Foundation
import PTZip

/// Writes `bytes` to a fresh temporary file and returns its path.
public func temporaryFile(_ bytes: [UInt8], name: String = "ckpt.pt") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url.path
}

/// A fresh, empty temporary folder; its path ends without a slash.
public func temporaryFolder() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

/// The names in `folder`, sorted.
public func folderContents(_ folder: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
}

/// The repository root, found from this source file (`Tests/PTTestSupport/Files.swift`).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

public func fixtureURL(_ relative: String) -> URL {
    repositoryRoot.appendingPathComponent("Fixtures").appendingPathComponent(relative)
}

/// A zip archive of stored `entries`, data aligned to 64 bytes as torch.save aligns it.
public func zipArchive(_ entries: [ZipFixture.Entry]) -> [UInt8] {
    var fixture = ZipFixture(entries)
    fixture.alignment = 64
    return fixture.build().bytes
}

extension ZipFixture.Entry {
    /// A stored entry holding `text`'s UTF-8 bytes.
    public static func stored(_ name: String, text: String) -> Self { .stored(name, Array(text.utf8)) }

    /// This entry with `crc` written in both headers in place of its CRC-32 (to test CRC checks).
    public func withCRC(_ crc: UInt32) -> Self {
        var entry = self
        entry.crc = crc
        return entry
    }
}

/// A minimal valid torch.save zip archive with the given data.pkl and storages.
public func torchZip(archive: String = "ckpt", pickle: [UInt8], storages: [(String, [UInt8])] = [],
                     version: String = "3\n", byteorder: String? = "little") -> [UInt8] {
    var entries: [ZipFixture.Entry] = [.stored("\(archive)/data.pkl", pickle)]
    if let byteorder { entries.append(.stored("\(archive)/byteorder", text: byteorder)) }
    for (key, data) in storages { entries.append(.stored("\(archive)/data/\(key)", data)) }
    entries.append(.stored("\(archive)/version", text: version))
    entries.append(.stored("\(archive)/.data/serialization_id", text: "1234567890"))
    return zipArchive(entries)
}
