/// Checks that libzip reads the archive as this parser did. The two parsers agreeing is what
/// lets stored entries come from our offsets and deflated ones from libzip.
enum LibzipCrossCheck {
    static func compare(_ directory: ValidatedDirectory, with libzip: LibzipArchive, path: String) throws(ZipError) {
        guard libzip.entryCount == directory.entries.count else {
            throw ZipError(path: path, .libzipDisagrees(entry: nil, field: .entryCount,
                                                        ours: String(directory.entries.count),
                                                        libzip: String(libzip.entryCount)))
        }
        for (entry, rawName) in zip(directory.entries, directory.rawNames) {
            let stat = try libzip.stat(index: entry.index, entry: entry.name)
            func disagree(_ field: ZipError.Field, _ ours: String, _ theirs: String) -> ZipError {
                ZipError(path: path, .libzipDisagrees(entry: entry.name, field: field, ours: ours, libzip: theirs))
            }
            guard let name = stat.rawName, name == rawName else {
                throw disagree(.name, "'\(entry.name)'",
                               stat.rawName.map { "'\(String(decoding: $0, as: UTF8.self))'" } ?? "none")
            }
            guard !stat.isEncrypted else { throw ZipError(path: path, .encryptedEntry(entry: entry.name)) }
            let method: UInt16 = entry.method == .stored ? 0 : 8
            let comparisons: [(ZipError.Field, UInt64, UInt64?)] = [
                (.compressionMethod, UInt64(method), stat.method.map(UInt64.init)),
                (.compressedSize, UInt64(entry.compressedSize), stat.compressedSize),
                (.uncompressedSize, UInt64(entry.uncompressedSize), stat.size),
                (.crc32, UInt64(entry.crc32), stat.crc32.map(UInt64.init)),
            ]
            for (field, ours, theirs) in comparisons where theirs != ours {
                throw disagree(field, String(ours), theirs.map { String($0) } ?? "none")
            }
        }
    }
}
