import PTPickle
import PTTensor
import PTZip

/// Reads `torch.save(..., _use_new_zipfile_serialization=False)` files
/// (`torch/serialization.py _legacy_save` / `_legacy_load`):
///
///     pickle(MAGIC_NUMBER) pickle(1001) pickle(sys_info) pickle(obj) pickle(sorted storage keys)
///     for each key: int64 little-endian element count, then count · itemsize raw bytes
struct LegacyCheckpointReader {
    let path: String
    let file: MappedFile
    let options: LoadOptions

    /// `torch.serialization.MAGIC_NUMBER`, 0x1950A86A20F9469CFC6C, as signed little-endian bytes.
    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let protocolVersion: Int64 = 1001

    func read() throws -> Checkpoint {
        let bytes = file.bytes
        var offset = 0

        let magic = try pickle(bytes, &offset, record: "magic number")
        guard case .bigInt(let big) = magic.root, LegacyCheckpointReader.trimmed(big.bytes) == LegacyCheckpointReader.magic else {
            throw CheckpointError(path: path, .notACheckpoint("the first pickle is \(magic.root), not torch's magic number"))
        }
        let version = try pickle(bytes, &offset, record: "protocol version")
        guard case .int(let v) = version.root, v == LegacyCheckpointReader.protocolVersion else {
            throw CheckpointError(path: path, .layout("legacy protocol version is \(version.root); expected 1001"))
        }
        let sysInfo = try pickle(bytes, &offset, record: "sys_info")
        if case .dict(let info) = sysInfo.root, case .bool(false)? = info.value(forStringKey: "little_endian") {
            throw CheckpointError(path: path, .layout("sys_info says the file was written big-endian; legacy big-endian files are not read"))
        }

        let storages = LegacyStorages(path: path, file: file)
        let mainStart = offset
        let main = try pickle(bytes, &offset, record: "main pickle (offset \(mainStart))") { pid in
            try storages.resolve(pid)
        }
        var walker = StateDictWalker(path: path, options: options, torchScript: false)
        try walker.walkRoot(main.root)

        let keys = try pickle(bytes, &offset, record: "storage key list")
        guard case .list(let keyList) = keys.root else {
            throw CheckpointError(path: path, .layout("the storage key list is \(kindName(keys.root)); expected a list"))
        }
        var order: [String] = []
        for item in keyList.items {
            guard let key = StorageID.text(item) else {
                throw CheckpointError(path: path, .layout("storage key list holds \(item); expected strings"))
            }
            order.append(key)
        }
        try storages.locate(keys: order, dataStart: offset)

        return Checkpoint(path: path, format: .legacy, archiveName: nil, pickleProtocol: main.protocol,
                          records: [("protocol_version", "1001")], tensors: walker.tensors,
                          modules: walker.modules, opaqueClasses: opaqueClasses(main.globals),
                          globals: main.globals.map(\.description), constants: [])
    }

    private func pickle(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int, record: String,
                        persistentLoad: ((PickleValue) throws -> PickleValue)? = nil) throws -> Unpickled {
        guard offset < bytes.count else {
            throw CheckpointError(path: path, .layout("the file ends before the \(record)"))
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        let result = try PickleReading(path: path, record: record, options: options).unpickle(rest, persistentLoad: persistentLoad)
        offset += result.bytesConsumed
        return result
    }

    /// Drops sign-extension bytes so that equal numbers compare equal.
    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        while b.count > 1, b[b.count - 1] == 0, b[b.count - 2] & 0x80 == 0 { b.removeLast() }
        return b
    }
}

/// The storages of a legacy file: declared by persistent ids inside the main pickle, located
/// after the key list, each as an int64 count and its bytes.
final class LegacyStorages {
    let path: String
    let file: MappedFile
    private var roots: [ExactName: Storage] = [:]
    private var declared: [ExactName: StorageID] = [:]
    private var views: [ExactName: (Int, Int)] = [:]
    /// Byte offset of each root's data, known once the key list has been read.
    private let located = LocatedStorages()

    init(path: String, file: MappedFile) {
        self.path = path
        self.file = file
    }

    func resolve(_ pid: PickleValue) throws -> PickleValue {
        // ('module', cls, source_file, source): a full module's class, returned as is.
        if case .tuple(let t) = pid, let first = t.items.first, StorageID.text(first) == "module", t.items.count == 4 {
            return t.items[1]
        }
        let id = try StorageID(pid, fields: 6)
        let root = try rootStorage(id)
        guard let view = id.view else { return .custom(StorageRef(root)) }
        // (view_key, offset, size) in elements: torch slices the root's bytes.
        let (end, overflow) = view.offset.addingReportingOverflow(view.size)
        guard !overflow, end <= id.numel else {
            throw HookError(reason: .storage("storage view '\(view.key)' covers elements \(view.offset)..<\(view.offset &+ view.size) of '\(id.key)', which has \(id.numel)"))
        }
        if let first = views[ExactName(view.key)], first != (view.offset, view.size) {
            throw HookError(reason: .storage("storage view '\(view.key)' is declared twice with different extents"))
        }
        views[ExactName(view.key)] = (view.offset, view.size)
        return .custom(StorageRef(root, viewOffset: view.offset, viewCount: view.size))
    }

    private func rootStorage(_ id: StorageID) throws -> Storage {
        if let existing = roots[ExactName(id.key)], let first = declared[ExactName(id.key)] {
            guard first.dtype == id.dtype, first.numel == id.numel else {
                throw HookError(reason: .storage("storage '\(id.key)' is declared as \(first.numel) × \(first.dtype.rawValue) and as \(id.numel) × \(id.dtype.rawValue)"))
            }
            return existing
        }
        let file = self.file
        let key = id.key
        let located = self.located
        let path = self.path
        let storage = Storage(key: id.key, dtype: id.dtype, byteCount: id.byteCount, origin: "legacy storage \(id.key)") {
            guard let start = located.offsets[ExactName(key)] else {
                throw CheckpointError(path: path, .storage("storage '\(key)' was never located"))
            }
            return StorageBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + id.byteCount)]), owner: file)
        }
        roots[ExactName(id.key)] = storage
        declared[ExactName(id.key)] = id
        return storage
    }

    /// Walks the raw storages that follow the key list, checking each count against its
    /// declaration and each extent against the file.
    func locate(keys: [String], dataStart: Int) throws {
        var offset = dataStart
        let bytes = file.bytes
        for key in keys {
            guard let id = declared[ExactName(key)] else {
                throw CheckpointError(path: path, .storage("storage key list names '\(key)', which no tensor uses"))
            }
            guard located.offsets[ExactName(key)] == nil else {
                throw CheckpointError(path: path, .storage("storage key list names '\(key)' twice"))
            }
            guard bytes.count - offset >= 8 else {
                throw CheckpointError(path: path, .storage("file ends at byte \(bytes.count) before the size of storage '\(key)' (offset \(offset))"))
            }
            let count = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            guard count == Int64(id.numel) else {
                throw CheckpointError(path: path, .storage("storage '\(key)' at offset \(offset) holds \(count) elements; its id declares \(id.numel)"))
            }
            offset += 8
            guard bytes.count - offset >= id.byteCount else {
                throw CheckpointError(path: path, .storage("storage '\(key)' needs \(id.byteCount) bytes at offset \(offset); the file has \(bytes.count - offset) left"))
            }
            located.offsets[ExactName(key)] = offset
            offset += id.byteCount
        }
        if let missing = declared.keys.sorted(by: { $0.string < $1.string }).first(where: { located.offsets[$0] == nil }) {
            throw CheckpointError(path: path, .storage("storage '\(missing)' is used but missing from the storage key list"))
        }
        if offset != bytes.count {
            throw CheckpointError(path: path, .layout("\(bytes.count - offset) bytes follow the last storage"))
        }
    }
}

/// Where each legacy storage's bytes start; shared with the storages' loaders.
final class LocatedStorages {
    var offsets: [ExactName: Int] = [:]
}
