import PTPickle
import PTTensor
import PTText
import PTZip

/// Reads `torch.save` zip archives and `torch.jit.save` TorchScript archives
/// (`caffe2/serialize/inline_container.cc`, `torch/serialization.py _load`).
///
/// Records are found by name under the folder that holds `data.pkl`, never by position.
struct ZipCheckpointReader {
    let path: String
    let archive: ZipArchive
    let options: LoadOptions

    /// File format versions PyTorch reads (`caffe2/serialize/versions.h`).
    static let supportedVersions: ClosedRange<UInt64> = 1...10

    func read() throws(CheckpointError) -> Checkpoint {
        let prefix = try archiveFolder()
        var records: [(name: String, value: String)] = []

        // The version lives in `.data/version` when present, else `version` (inline_container.cc).
        let versionName = archive.entry(named: prefix + "/.data/version") != nil ? ".data/version" : "version"
        guard let versionText = try smallRecord(prefix, versionName) else {
            throw layout(.missingRecord("\(prefix)/version"))
        }
        guard let version = ZipCheckpointReader.parseVersion(versionText) else {
            throw layout(.unreadableVersion(record: "\(prefix)/\(versionName)", text: versionText))
        }
        guard ZipCheckpointReader.supportedVersions.contains(version) else {
            throw layout(.unsupportedVersion(record: "\(prefix)/\(versionName)", version: version,
                                             supported: ZipCheckpointReader.supportedVersions))
        }
        records.append((versionName, String(version)))

        // Missing `byteorder` means little-endian (torch.serialization.get_default_load_endianness).
        var bigEndian = false
        if let order = try smallRecord(prefix, "byteorder") {
            switch order {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default:
                throw layout(.badByteOrder(record: "\(prefix)/byteorder", text: order))
            }
            records.append(("byteorder", order))
        }
        if let formatVersion = try smallRecord(prefix, ".format_version") {
            records.append((".format_version", formatVersion))
        }
        if let alignment = try smallRecord(prefix, ".storage_alignment") {
            guard let value = Int(alignment.trimmingWhitespace()), value > 0 else {
                throw layout(.badStorageAlignment(record: "\(prefix)/.storage_alignment", text: alignment))
            }
            records.append((".storage_alignment", String(value)))
        }

        let isTorchScript = archive.entry(named: prefix + "/constants.pkl") != nil
        let storages = StorageTable(path: path, archive: archive, prefix: prefix, bigEndian: bigEndian)

        let main = try unpickle(prefix, "data.pkl", storages: storages, folder: "data")
        var walker = StateDictWalker(path: path, options: options, torchScript: isTorchScript)
        if isTorchScript { walker.declarations = ScriptDeclarations(archive: archive, prefix: prefix) }
        try walker.walkRoot(main.root)

        var constants: [Tensor] = []
        if isTorchScript {
            let consts = try unpickle(prefix, "constants.pkl", storages: storages, folder: "constants")
            var constantWalker = StateDictWalker(path: path, options: options, torchScript: true)
            try constantWalker.walk(consts.root, prefix: "", depth: 0)
            constants = constantWalker.tensors.map(\.tensor)
        }
        return Checkpoint(path: path, format: isTorchScript ? .torchscript : .zip, archiveName: prefix,
                          pickleProtocol: main.protocol, records: records, tensors: walker.tensors,
                          modules: walker.modules, opaqueClasses: opaqueClasses(main.globals),
                          globals: main.globals.map(\.description), constants: constants,
                          recordCheck: { [archive] () throws(ZipError) in try archive.verifyAllEntries() })
    }

    /// The one folder holding `data.pkl`. `torch.save` names it after the file's stem, or
    /// `archive` when saving to a buffer; torch takes the first entry's folder, we look by name.
    private func layout(_ fault: CheckpointError.LayoutFault) -> CheckpointError {
        CheckpointError(path: path, .layout(fault))
    }

    private func archiveFolder() throws(CheckpointError) -> String {
        let folders = archive.entries.compactMap { entry -> String? in
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts[1] == "data.pkl" && !parts[0].isEmpty ? String(parts[0]) : nil
        }
        guard let folder = folders.first else {
            throw layout(.noDataPickle)
        }
        guard folders.count == 1 else {
            throw layout(.severalArchives(folders: folders))
        }
        return folder
    }

    /// A small text record (`version`, `byteorder`), or nil when absent.
    private func smallRecord(_ prefix: String, _ name: String) throws(CheckpointError) -> String? {
        guard let entry = archive.entry(named: prefix + "/" + name) else { return nil }
        guard entry.uncompressedSize <= 64 else {
            throw layout(.recordTooLong(record: entry.name, byteCount: entry.uncompressedSize))
        }
        let bytes = try zipBytes(entry)
        return String(decoding: bytes.buffer, as: UTF8.self)
    }

    private func zipBytes(_ entry: ZipEntry) throws(CheckpointError) -> ZipBytes {
        do {
            return try archive.bytes(of: entry)
        } catch {
            throw CheckpointError(error)
        }
    }

    private func unpickle(_ prefix: String, _ name: String, storages: StorageTable,
                          folder: String) throws(CheckpointError) -> Unpickled {
        guard let entry = archive.entry(named: prefix + "/" + name) else {
            throw layout(.missingRecord("\(prefix)/\(name)"))
        }
        let bytes = try zipBytes(entry)
        let reading = PickleReading(path: path, record: entry.name, options: options)
        let result = try withExtendedLifetime(bytes) { () throws(CheckpointError) in
            try reading.unpickle(bytes.buffer) { pid in
                .custom(StorageRef(try storages.storage(for: StorageID(pid, fields: 5), folder: folder)))
            }
        }
        // torch writes one pickle per record; bytes after its STOP are a payload for some other reader.
        guard result.bytesConsumed == bytes.buffer.count else {
            throw layout(.bytesAfterStop(record: entry.name, count: bytes.buffer.count - result.bytesConsumed,
                                         stopOffset: result.bytesConsumed - 1))
        }
        return result
    }

    /// `std::stoull` semantics: leading whitespace, then digits; trailing text is ignored.
    static func parseVersion(_ text: String) -> UInt64? {
        let trimmed = text.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return nil }
        return UInt64(digits)
    }
}

/// Storages of one archive, by key: each key is one record under `data/` (or `constants/`),
/// read at most once, in one dtype.
final class StorageTable {
    let path: String
    let archive: ZipArchive
    let prefix: String
    let bigEndian: Bool
    private var byKey: [ExactName: Storage] = [:]

    init(path: String, archive: ZipArchive, prefix: String, bigEndian: Bool) {
        self.path = path
        self.archive = archive
        self.prefix = prefix
        self.bigEndian = bigEndian
    }

    /// The storage `id` names, made on first reference: its loader and streamer throw
    /// `CheckpointError` (`.zip`: a CRC-32 mismatch, an inflate failure) when the record is read.
    /// - Throws: `HookError` with a `StorageFault` when `id` disagrees with the record or with
    ///   an earlier reference.
    func storage(for id: StorageID, folder: String) throws(HookError) -> Storage {
        let name = "\(folder)/\(id.key)"
        if let existing = byKey[ExactName(name)] {
            // torch/serialization.py _save writes one dtype per record that has data.
            guard existing.dtype == id.dtype || (existing.byteCount == 0 && id.byteCount == 0) else {
                throw HookError(reason: .storage(.dtypeConflict(storage: name, first: existing.dtype,
                                                                second: id.dtype)))
            }
            guard existing.byteCount == id.byteCount else {
                throw HookError(reason: .storage(.sizeConflict(storage: name, first: existing.byteCount,
                                                               second: id.byteCount)))
            }
            return existing
        }
        guard let entry = archive.entry(named: "\(prefix)/\(name)") else {
            throw HookError(reason: .storage(.missingRecord("\(prefix)/\(name)")))
        }
        guard entry.uncompressedSize == id.byteCount else {
            throw HookError(reason: .storage(.recordSize(record: entry.name, byteCount: entry.uncompressedSize,
                                                         elements: id.numel, dtype: id.dtype, needed: id.byteCount)))
        }
        let archive = self.archive
        let swapUnit = bigEndian ? id.dtype.swapUnit : 1
        // Unswapped records stream straight from the mapping (exports); swapped ones load whole.
        let streamer: Storage.Streamer? = swapUnit > 1 ? nil : { range, body in
            do {
                try archive.stream(entry, range: range, body)
            } catch let e as ZipError {
                throw CheckpointError(e)
            }
        }
        let storage = Storage(key: id.key, dtype: id.dtype, byteCount: id.byteCount, origin: name, streamer: streamer) {
            let bytes: ZipBytes
            do throws(ZipError) {
                bytes = try archive.bytes(of: entry)
            } catch {
                throw CheckpointError(error)
            }
            if swapUnit > 1 {
                return StorageBytes.byteSwapped(bytes.buffer, unit: swapUnit)
            }
            return StorageBytes(borrowing: bytes.buffer, owner: bytes)
        }
        byKey[ExactName(name)] = storage
        return storage
    }
}

/// A record's text in a message: quoted, one line, at most 40 characters of it.
func quoted(_ s: String) -> String {
    "'" + Escaped.line(s.count > 40 ? String(s.prefix(40)) + "…" : s) + "'"
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
