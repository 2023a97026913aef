import PTTensor
import PTZip

/// A `torch.save` zip archive of a plain state dict, as PyTorch writes one: records
/// `<stem>/data.pkl`, `.format_version` (1), `.storage_alignment` (64), `byteorder` (little),
/// `data/<i>` (one per tensor, its data on a 64-byte boundary), `version` (3) and
/// `.data/serialization_id`, stored; `data.pkl` a protocol-2 pickle of an `OrderedDict` mapping
/// each name to `torch._utils._rebuild_tensor_v2` of a typed storage (`_rebuild_tensor_v3` of an
/// `UntypedStorage` and the dtype, for dtypes without a legacy storage class, as torch does).
/// Only names `torch.load(weights_only=True)` allows; `torch.load(mmap=True)` maps the records.
enum TorchSave {
    /// One tensor: its name, dtype, shape and size, and how to hand its bytes over (once for
    /// the CRC-32 the local header needs, once more for the data).
    struct Record {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
        let write: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    }

    /// The folder every record lives in, as torch's writer names it (`basename` in
    /// caffe2/serialize/inline_container.cc: the file name after the last '/' or '\\', less its
    /// last extension), or `archive` where that is empty or not a plain relative name (`.`, `..`,
    /// a control character), which readers refuse and torch.load reads under any name.
    static func archiveName(forPath path: String) -> String {
        let scalars = Array(path.unicodeScalars)
        let start = (scalars.lastIndex { $0 == "/" || $0 == "\\" }).map { $0 + 1 } ?? 0
        var name = Array(scalars[start...])
        if let dot = name.lastIndex(of: ".") { name.removeSubrange(dot...) }
        let text = String(String.UnicodeScalarView(name))
        if text.isEmpty || text == "." || text == ".." || name.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "archive"
        }
        return text
    }

    /// Writes the archive of `items` to `sink`, one record at a time.
    static func write(_ items: [Record], stem: String, to sink: FileSink) throws {
        var zip = ZipWriter(streamingTo: sink)
        try zip.add(name: "\(stem)/data.pkl", bytes: pickle(items), alignment: 64)
        try zip.add(name: "\(stem)/.format_version", bytes: Array("1".utf8), alignment: 64)
        try zip.add(name: "\(stem)/.storage_alignment", bytes: Array("64".utf8), alignment: 64)
        try zip.add(name: "\(stem)/byteorder", bytes: Array("little".utf8), alignment: 64)
        for (i, item) in items.enumerated() {
            var crc: UInt32 = 0
            try item.write { crc = crc32($0, continuing: crc) }
            try zip.add(name: "\(stem)/data/\(i)", size: item.byteCount, crc: crc, alignment: 64, body: item.write)
        }
        try zip.add(name: "\(stem)/version", bytes: Array("3\n".utf8), alignment: 64)
        try zip.add(name: "\(stem)/.data/serialization_id", bytes: Array(serializationID(items).utf8), alignment: 64)
        try zip.finish(into: sink)
    }

    /// `data.pkl`: the OrderedDict of rebuilt tensors.
    static func pickle(_ items: [Record]) -> [UInt8] {
        var pickle = PickleWriter()
        pickle.proto(2)
        pickle.global("collections", "OrderedDict")
        pickle.emptyTuple()
        pickle.reduce()
        pickle.mark()
        for (i, item) in items.enumerated() {
            pickle.string(item.name)
            let legacy = storageClass(item.dtype)
            pickle.global("torch._utils", legacy == nil ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2")
            pickle.mark()
            // The persistent id: ('storage', class, key, location, numel of the class's elements).
            pickle.mark()
            pickle.string("storage")
            if let legacy { pickle.global("torch", legacy) } else { pickle.global("torch.storage", "UntypedStorage") }
            pickle.string(String(i))
            pickle.string("cpu")
            pickle.int(legacy == nil ? item.byteCount : item.shape.reduce(1, *))
            pickle.tuple()
            pickle.persistentID()
            pickle.int(0)
            pickle.ints(item.shape)
            pickle.ints(Tensor.contiguousStrides(for: item.shape))
            pickle.bool(false)
            pickle.global("collections", "OrderedDict")
            pickle.emptyTuple()
            pickle.reduce()
            if legacy == nil { pickle.global("torch", item.dtype.rawValue) }
            pickle.tuple()
            pickle.reduce()
        }
        pickle.setItems()
        pickle.stop()
        return pickle.bytes
    }

    /// torch's legacy typed-storage class for `dtype`, where it has one.
    static func storageClass(_ dtype: DType) -> String? {
        switch dtype {
        case .float32: return "FloatStorage"
        case .float64: return "DoubleStorage"
        case .float16: return "HalfStorage"
        case .bfloat16: return "BFloat16Storage"
        case .int64: return "LongStorage"
        case .int32: return "IntStorage"
        case .int16: return "ShortStorage"
        case .int8: return "CharStorage"
        case .uint8: return "ByteStorage"
        case .bool: return "BoolStorage"
        case .complex64: return "ComplexFloatStorage"
        case .complex128: return "ComplexDoubleStorage"
        default: return nil
        }
    }

    /// Which dtypes a `.pt` can hold: every dtype torch has but the quantized ones, which need
    /// their quantizer too.
    static func holds(_ dtype: DType) -> Bool {
        switch dtype {
        case .qint8, .quint8, .qint32: return false
        default: return true
        }
    }

    /// A fixed-width decimal id derived from the contents (torch writes a random one; a
    /// reproducible one keeps exports byte-identical run to run).
    static func serializationID(_ items: [Record]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for item in items {
            for byte in item.name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash = (hash ^ UInt64(item.byteCount)) &* 0x100_0000_01b3
        }
        let text = String(hash)
        return String(repeating: "0", count: max(0, 20 - text.count)) + text
    }
}

/// Protocol-2 pickle opcodes, written one by one (no memo: the unpickler needs none).
struct PickleWriter {
    private(set) var bytes: [UInt8] = []

    mutating func proto(_ version: UInt8) { bytes += [0x80, version] }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func mark() { bytes.append(0x28) }
    mutating func tuple() { bytes.append(0x74) }
    mutating func emptyTuple() { bytes.append(0x29) }
    mutating func reduce() { bytes.append(0x52) }
    mutating func setItems() { bytes.append(0x75) }
    mutating func persistentID() { bytes.append(0x51) }
    mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }
    mutating func stop() { bytes.append(0x2E) }

    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        bytes.append(0x58)  // BINUNICODE
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }

    /// BININT1, BININT2, BININT or LONG1, the shortest that holds `value`.
    mutating func int(_ value: Int) {
        if value >= 0 && value < 256 {
            bytes += [0x4B, UInt8(value)]
        } else if value >= 0 && value < 65_536 {
            bytes += [0x4D, UInt8(value & 0xFF), UInt8(value >> 8)]
        } else if let v = Int32(exactly: value) {
            bytes.append(0x4A)
            withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
        } else {
            bytes += [0x8A, 8]
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
        }
    }

    mutating func ints(_ values: [Int]) {
        if values.isEmpty { emptyTuple(); return }
        mark()
        for v in values { int(v) }
        tuple()
    }
}
