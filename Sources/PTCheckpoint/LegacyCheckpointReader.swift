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

    func read() throws(CheckpointError) -> Checkpoint {
        func layout(_ fault: CheckpointError.LayoutFault) -> CheckpointError {
            CheckpointError(path: path, .layout(fault))
        }
        let bytes = file.bytes
        var offset = 0

        let magic = try pickle(bytes, &offset, record: "magic number")
        guard case .bigInt(let big) = magic.root,
              LegacyCheckpointReader.trimmed(big.bytes) == LegacyCheckpointReader.magic else {
            throw CheckpointError(path: path, .notACheckpoint(.noLegacyMagic(found: "\(magic.root)")))
        }
        let version = try pickle(bytes, &offset, record: "protocol version")
        guard case .int(let v) = version.root, v == LegacyCheckpointReader.protocolVersion else {
            throw layout(.legacyProtocolVersion(found: "\(version.root)"))
        }
        let sysInfo = try pickle(bytes, &offset, record: "sys_info")
        if case .dict(let info) = sysInfo.root, case .bool(false)? = info.value(forStringKey: "little_endian") {
            throw layout(.legacyBigEndian)
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
            throw layout(.keyListNotAList(found: kindName(keys.root)))
        }
        var order: [String] = []
        for item in keyList.items {
            guard let key = StorageID.text(item) else {
                throw layout(.keyListItem(found: "\(item)"))
            }
            order.append(key)
        }
        try storages.locate(keys: order, dataStart: offset)

        return Checkpoint(path: path, format: .legacy, archiveName: nil, pickleProtocol: main.protocol,
                          records: [("protocol_version", "1001")], tensors: walker.tensors,
                          modules: walker.modules, opaqueClasses: opaqueClasses(main.globals),
                          globals: main.globals.map(\.description), constants: [])
    }

    private func pickle(
        _ bytes: UnsafeRawBufferPointer, _ offset: inout Int, record: String,
        persistentLoad: ((PickleValue) throws -> PickleValue)? = nil
    ) throws(CheckpointError) -> Unpickled {
        guard offset < bytes.count else {
            throw CheckpointError(path: path, .layout(.endsBefore(record: record)))
        }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        let result = try PickleReading(path: path, record: record, options: options)
            .unpickle(rest, persistentLoad: persistentLoad)
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

    /// - Throws: `HookError` with a `StorageFault`.
    func resolve(_ pid: PickleValue) throws(HookError) -> PickleValue {
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
            throw HookError(reason: .storage(.viewOutOfRange(view: view.key, offset: view.offset, size: view.size,
                                                             storage: id.key, elements: id.numel)))
        }
        if let first = views[ExactName(view.key)], first != (view.offset, view.size) {
            throw HookError(reason: .storage(.viewRedeclared(view: view.key)))
        }
        views[ExactName(view.key)] = (view.offset, view.size)
        return .custom(StorageRef(root, viewOffset: view.offset, viewCount: view.size))
    }

    private func rootStorage(_ id: StorageID) throws(HookError) -> Storage {
        if let existing = roots[ExactName(id.key)], let first = declared[ExactName(id.key)] {
            guard first.dtype == id.dtype, first.numel == id.numel else {
                throw HookError(reason: .storage(.declarationConflict(storage: id.key, firstElements: first.numel,
                                                                      firstDType: first.dtype, elements: id.numel,
                                                                      dtype: id.dtype)))
            }
            return existing
        }
        let file = self.file
        let key = id.key
        let located = self.located
        let path = self.path
        // The loader throws `CheckpointError`, as a zip record's does.
        let storage = Storage(key: id.key, dtype: id.dtype, byteCount: id.byteCount,
                              origin: "legacy storage \(id.key)") {
            guard let start = located.offsets[ExactName(key)] else {
                throw CheckpointError(path: path, .storage(.notLocated(storage: key)))
            }
            return StorageBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + id.byteCount)]),
                                owner: file)
        }
        roots[ExactName(id.key)] = storage
        declared[ExactName(id.key)] = id
        return storage
    }

    /// Walks the raw storages that follow the key list, checking each count against its
    /// declaration and each extent against the file.
    func locate(keys: [String], dataStart: Int) throws(CheckpointError) {
        func fault(_ fault: CheckpointError.StorageFault) -> CheckpointError {
            CheckpointError(path: path, .storage(fault))
        }
        var offset = dataStart
        let bytes = file.bytes
        for key in keys {
            guard let id = declared[ExactName(key)] else {
                throw fault(.unusedKey(key))
            }
            guard located.offsets[ExactName(key)] == nil else {
                throw fault(.keyListedTwice(key))
            }
            guard bytes.count - offset >= 8 else {
                throw fault(.endsBeforeCount(storage: key, fileSize: bytes.count, offset: offset))
            }
            let count = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            guard count == Int64(id.numel) else {
                throw fault(.countMismatch(storage: key, offset: offset, count: count, declared: id.numel))
            }
            offset += 8
            guard bytes.count - offset >= id.byteCount else {
                throw fault(.bytesPastEnd(storage: key, needed: id.byteCount, offset: offset,
                                          left: bytes.count - offset))
            }
            located.offsets[ExactName(key)] = offset
            offset += id.byteCount
        }
        if let missing = declared.keys.sorted(by: { $0.string < $1.string })
            .first(where: { located.offsets[$0] == nil }) {
            throw fault(.notInKeyList(storage: missing.string))
        }
        if offset != bytes.count {
            throw CheckpointError(path: path, .layout(.bytesAfterLastStorage(count: bytes.count - offset)))
        }
    }
}

/// Where each legacy storage's bytes start; shared with the storages' loaders.
final class LocatedStorages {
    var offsets: [ExactName: Int] = [:]
}
