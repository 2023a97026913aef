import PTPickle
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
        if text.isEmpty || text == "." || text == ".."
            || name.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "archive"
        }
        return text
    }

    /// Writes the archive of `items` to `sink`, one record at a time.
    /// - Throws: `ExportError` naming the sink's path: what a record's `write` throws (an
    ///   `ExportError`, or the sink's failure it was handed, as `.cannotWrite`), `.cannotWrite`.
    static func write(_ items: [Record], stem: String, to sink: FileSink) throws(ExportError) {
        do {
            try writeRecords(items, stem: stem, to: sink)
        } catch {
            throw ExportError.unerased(error, path: sink.path)
        }
    }

    /// `write(_:stem:to:)` through ZipWriter's untyped `add`.
    private static func writeRecords(_ items: [Record], stem: String, to sink: FileSink) throws {
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
        var pickle = PickleWriter(protocol: 2)
        pickle.global("collections", "OrderedDict")
        pickle.op(.emptyTuple)
        pickle.op(.reduce)
        pickle.op(.mark)
        for (i, item) in items.enumerated() {
            pickle.string(item.name)
            let legacy = item.dtype.storageClass
            pickle.global("torch._utils", legacy == nil ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2")
            pickle.op(.mark)
            // The persistent id: ('storage', class, key, location, numel of the class's elements).
            pickle.op(.mark)
            pickle.string("storage")
            if let legacy { pickle.global("torch", legacy) } else { pickle.global("torch.storage", "UntypedStorage") }
            pickle.string(String(i))
            pickle.string("cpu")
            pickle.int(legacy == nil ? item.byteCount : item.shape.reduce(1, *))
            pickle.op(.tuple)
            pickle.op(.binpersid)
            pickle.int(0)
            pickle.ints(item.shape)
            pickle.ints(Tensor.contiguousStrides(for: item.shape))
            pickle.bool(false)
            pickle.global("collections", "OrderedDict")
            pickle.op(.emptyTuple)
            pickle.op(.reduce)
            if legacy == nil { pickle.global("torch", item.dtype.rawValue) }
            pickle.op(.tuple)
            pickle.op(.reduce)
        }
        pickle.op(.setitems)
        pickle.op(.stop)
        return pickle.bytes
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
