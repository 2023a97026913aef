import Foundation
import PTZip

/// Writes small zip archives byte by byte, so a test shows exactly what its input holds.
/// Stored entries only, data aligned like torch.save's (64 bytes) unless told otherwise.
public struct ZipBuilder {
    public struct Entry {
        public var name: String
        public var data: [UInt8]
        /// Overrides the CRC-32 written in both headers (to test CRC checks).
        public var crcOverride: UInt32?
        public init(_ name: String, _ data: [UInt8], crcOverride: UInt32? = nil) {
            self.name = name
            self.data = data
            self.crcOverride = crcOverride
        }
    }

    public var entries: [Entry] = []
    public var alignment = 64

    public init(_ entries: [Entry] = []) { self.entries = entries }

    public mutating func add(_ name: String, _ data: [UInt8]) { entries.append(Entry(name, data)) }
    public mutating func add(_ name: String, _ text: String) { entries.append(Entry(name, Array(text.utf8))) }

    public func build() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let name = Array(entry.name.utf8)
            let crc = entry.crcOverride ?? entry.data.withUnsafeBytes { crc32($0) }
            let headerEnd = out.count + 30 + name.count
            var padding = 0
            if alignment > 1 {
                // An "extra field" of padding, as miniz does for torch.save (id 'FB').
                let remainder = (headerEnd + 4) % alignment
                padding = remainder == 0 ? 4 : 4 + (alignment - remainder)
            }
            let offset = out.count
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
            out += le32(crc) + le32(UInt32(entry.data.count)) + le32(UInt32(entry.data.count))
            out += le16(UInt16(name.count)) + le16(UInt16(padding))
            out += name
            if padding > 0 { out += le16(0x4246) + le16(UInt16(padding - 4)) + [UInt8](repeating: 0, count: padding - 4) }
            out += entry.data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0)
            central += le32(crc) + le32(UInt32(entry.data.count)) + le32(UInt32(entry.data.count))
            central += le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(UInt32(offset))
            central += name
        }
        let cdOffset = out.count
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(entries.count)) + le16(UInt16(entries.count))
        out += le32(UInt32(central.count)) + le32(UInt32(cdOffset)) + le16(0)
        return out
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
}

/// Writes protocol-2 pickles opcode by opcode.
public struct PickleBuilder {
    public private(set) var bytes: [UInt8] = [0x80, 2]
    public init(protocol proto: UInt8 = 2) { bytes = [0x80, proto] }

    public mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    public mutating func mark() { bytes.append(0x28) }
    public mutating func tuple() { bytes.append(0x74) }
    public mutating func emptyTuple() { bytes.append(0x29) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func emptyList() { bytes.append(0x5D) }
    public mutating func setItems() { bytes.append(0x75) }
    public mutating func setItem() { bytes.append(0x73) }
    public mutating func appends() { bytes.append(0x65) }
    public mutating func reduce() { bytes.append(0x52) }
    public mutating func build() { bytes.append(0x62) }
    public mutating func newobj() { bytes.append(0x81) }
    public mutating func binpersid() { bytes.append(0x51) }
    public mutating func none() { bytes.append(0x4E) }
    public mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }
    public mutating func stop() { bytes.append(0x2E) }
    public mutating func int(_ v: Int) {
        if v >= 0 && v < 256 { bytes += [0x4B, UInt8(v)] }
        else if v >= Int(Int32.min) && v <= Int(Int32.max) {
            let u = UInt32(bitPattern: Int32(v))
            bytes += [0x4A] + (0..<4).map { UInt8((u >> (8 * $0)) & 0xFF) }
        } else {
            // LONG1, 8 bytes two's complement.
            let u = UInt64(bitPattern: Int64(v))
            bytes += [0x8A, 8] + (0..<8).map { UInt8((u >> (8 * UInt64($0))) & 0xFF) }
        }
    }
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        let n = UInt32(utf8.count)
        bytes += [0x58] + (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) } + utf8
    }
    public mutating func ints(_ values: [Int]) {
        mark()
        for v in values { int(v) }
        tuple()
    }
    /// `('storage', torch.<cls>, key, 'cpu', numel)` followed by BINPERSID.
    public mutating func storage(_ cls: String, key: String, numel: Int) {
        mark(); string("storage"); global("torch", cls); string(key); string("cpu"); int(numel); tuple(); binpersid()
    }
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    public mutating func tensorV2(_ cls: String, key: String, numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        storage(cls, key: key, numel: numel)
        int(offset); ints(size); ints(stride); bool(false)
        global("collections", "OrderedDict"); emptyTuple(); reduce()
        tuple()
        reduce()
    }
    public mutating func raw(_ b: [UInt8]) { bytes += b }
}

/// Writes `bytes` to a fresh temporary file and returns its path.
public func temporaryFile(_ bytes: [UInt8], name: String = "ckpt.pt") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ptload-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url.path
}

/// The repository root, found from this source file (`Tests/PTTestSupport/ZipBuilder.swift`).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

public func fixtureURL(_ relative: String) -> URL { repositoryRoot.appendingPathComponent("Fixtures").appendingPathComponent(relative) }

/// A minimal valid torch.save zip archive with the given data.pkl and storages.
public func torchZip(archive: String = "ckpt", pickle: [UInt8], storages: [(String, [UInt8])] = [],
                     version: String = "3\n", byteorder: String? = "little") -> [UInt8] {
    var z = ZipBuilder()
    z.add("\(archive)/data.pkl", pickle)
    if let byteorder { z.add("\(archive)/byteorder", byteorder) }
    for (key, data) in storages { z.add("\(archive)/data/\(key)", data) }
    z.add("\(archive)/version", version)
    z.add("\(archive)/.data/serialization_id", "1234567890")
    return z.build()
}
