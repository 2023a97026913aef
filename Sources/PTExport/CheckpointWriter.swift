import PTNumpy
import PTSafetensors
import PTTensor
import PTZip

/// Writes named tensors to a checkpoint file without running Python: `.safetensors` (as the
/// format's own writer lays it out, `__metadata__` `{"format": "pt"}`) or `.npz` (numpy's
/// format). Tensors come from a loaded checkpoint (`add(_:tensor:)`) or from Swift
/// (`add(_:array:)`); each is written contiguous, in C order, in its own dtype unless a cast is
/// asked for. A view, or a tensor sharing its storage with another, becomes a separate
/// contiguous tensor (`Summary.materialized` counts them).
///
///     var writer = CheckpointWriter()
///     try writer.add("lstm.weight_ih_l0", array: ShapedArray<Float>(shape: [16, 5], values: w))
///     try writer.write(to: "model.safetensors")
public struct CheckpointWriter {
    /// The output formats, chosen by the path's extension.
    public enum Format: String, Sendable, CaseIterable {
        case safetensors, npz, pt

        /// The format named by `path`'s extension (`.pth` is `.pt`).
        public init?(path: String) {
            if path.hasSuffix(".safetensors") { self = .safetensors }
            else if path.hasSuffix(".npz") { self = .npz }
            else if path.hasSuffix(".pt") || path.hasSuffix(".pth") { self = .pt }
            else { return nil }
        }
    }

    /// One tensor to write: its name, dtype and shape as written, and how to get its bytes.
    struct Item {
        let name: String
        let dtype: DType
        let shape: [Int]
        let byteCount: Int
        /// Whether the source is not one whole contiguous storage of its own (a view).
        let view: Bool
        /// The storage it reads, for tensors that share one.
        let storage: ObjectIdentifier?
        /// Hands the bytes as written (contiguous, little-endian, C order, cast where asked) to
        /// its argument in pieces, in order; called once per pass over the output.
        let pieces: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    }

    /// What a write did.
    public struct Summary: Sendable, Equatable {
        public var tensors = 0
        public var bytes = 0
        /// Tensors written as separate contiguous copies of a view or a shared storage.
        public var materialized = 0
        /// Tensors cast to another dtype.
        public var cast = 0
    }

    private var items: [Item] = []
    private var names: Set<ExactName> = []
    private var storageUsers: [ObjectIdentifier: Int] = [:]
    /// Floating-point tensors are cast to this dtype when set (float16, bfloat16 or float32).
    public let cast: DType?
    /// Files the output must not replace (the checkpoint the tensors come from): an output that
    /// is one of them, or a link to one, is refused.
    public var inputs: [String] = []

    /// - Parameter cast: float16, bfloat16 or float32: every floating-point tensor is written in
    ///   that dtype, rounded as `tensor.half()` / `.bfloat16()` / `.float()` round.
    /// - Throws: `ExportError.badCast` for any other dtype.
    public init(cast: DType? = nil) throws(ExportError) {
        if let cast, ![.float16, .bfloat16, .float32].contains(cast) { throw .badCast(cast) }
        self.cast = cast
    }

    public var count: Int { items.count }

    /// Adds a tensor read from a checkpoint under `name`.
    /// - Throws: `ExportError.duplicateName`.
    public mutating func add(_ name: String, tensor: Tensor) throws(ExportError) {
        guard names.insert(ExactName(name)).inserted else { throw .duplicateName(name) }
        storageUsers[ObjectIdentifier(tensor.storage), default: 0] += 1
        let whole = tensor.isContiguous && tensor.storageOffset == 0 && tensor.byteCount == tensor.storage.byteCount
        let dtype = target(for: tensor.dtype)
        let source = tensor.dtype
        items.append(Item(name: name, dtype: dtype, shape: tensor.shape, byteCount: tensor.elementCount * dtype.itemSize,
                          view: !whole, storage: ObjectIdentifier(tensor.storage)) { body in
            guard dtype != source else { return try tensor.streamBytes(body) }
            var converted: [UInt8] = []
            try tensor.streamBytes { piece in
                converted.removeAll(keepingCapacity: true)
                Cast.convert(piece, from: source, to: dtype, into: &converted)
                try converted.withUnsafeBytes { try body($0) }
            }
        })
    }

    /// Adds an array computed in Swift under `name`.
    /// - Throws: `ExportError.duplicateName`.
    public mutating func add<Scalar: ArrayScalar>(_ name: String, array: ShapedArray<Scalar>) throws(ExportError) {
        guard names.insert(ExactName(name)).inserted else { throw .duplicateName(name) }
        let dtype = target(for: Scalar.dtype)
        let values = array.values
        items.append(Item(name: name, dtype: dtype, shape: array.shape, byteCount: values.count * dtype.itemSize,
                          view: false, storage: nil) { body in
            try values.withUnsafeBytes { all in
                guard dtype != Scalar.dtype else { return try body(all) }
                var converted: [UInt8] = []
                Cast.convert(all, from: Scalar.dtype, to: dtype, into: &converted)
                try converted.withUnsafeBytes { try body($0) }
            }
        })
    }

    /// The dtype an input dtype is written as: the cast's for floating-point dtypes, when asked.
    private func target(for dtype: DType) -> DType {
        guard let cast, dtype.isFloatingPoint else { return dtype }
        return cast
    }

    /// Writes every tensor to `path` in `format` (by default the one its extension names),
    /// streaming one tensor at a time.
    /// - Throws: `ExportError` for a dtype the format cannot hold (naming the tensor), a
    ///   tensor whose bytes cannot be read (a CRC mismatch on first use), or a failed write.
    @discardableResult
    public func write(to path: String, format: Format? = nil) throws(ExportError) -> Summary {
        guard let format = format ?? Format(path: path) else { throw .unknownFormat(path) }
        for item in items {
            switch format {
            case .safetensors:
                if item.name.isExactly("__metadata__") {
                    throw .unwritableName(name: item.name, format: format, reason: "the header reserves '__metadata__' for the file's metadata")
                }
                if !Safetensors.holds(item.dtype) {
                    throw .unsupportedDType(name: item.name, dtype: item.dtype, format: format, hint: nil)
                }
            case .npz:
                if item.name.isEmpty {
                    throw .unwritableName(name: item.name, format: format, reason: "names must not be empty")
                }
                if let why = ZipWriter.unsafeNameReason(item.name + ".npy") {
                    throw .unwritableName(name: item.name, format: format, reason: "the member name is not a plain relative path (\(why)), which readers refuse")
                }
                if !Numpy.holds(item.dtype) {
                    let hint = item.dtype.isFloatingPoint ? "cast it to float32 or float16" : nil
                    throw .unsupportedDType(name: item.name, dtype: item.dtype, format: format, hint: hint)
                }
            case .pt:
                if !TorchSave.holds(item.dtype) {
                    throw .unsupportedDType(name: item.name, dtype: item.dtype, format: format, hint: nil)
                }
            }
        }
        guard items.count <= FileLimits.maxTensors else { throw .tooManyTensors(items.count, limit: FileLimits.maxTensors) }
        var summary = Summary()
        summary.tensors = items.count
        summary.bytes = items.reduce(0) { $0 + $1.byteCount }
        summary.materialized = items.filter { $0.view || $0.storage.map { storageUsers[$0, default: 0] > 1 } == true }.count
        summary.cast = cast == nil ? 0 : items.filter { $0.dtype == cast }.count
        switch format {
        case .safetensors: try writeSafetensors(to: path)
        case .npz: try writeNpz(to: path)
        case .pt: try writeTorchSave(to: path)
        }
        return summary
    }

    /// The safetensors header, then every tensor in the format's order.
    private func writeSafetensors(to path: String) throws(ExportError) {
        let ordered = Safetensors.storageOrder(items, name: \.name, dtype: \.dtype)
        let header = Safetensors.header(metadata: [("format", "pt")], tensors: ordered.map { ($0.name, $0.dtype, $0.shape) })
        try writeBeside(path) { sink in
            try sink.write(header)
            for item in ordered { try send(item) { try sink.write($0) } }
        }
    }

    /// An `.npz` as `numpy.savez` writes one (`NpzWriter`): stored members `name.npy`, each
    /// numpy's preamble then the tensor's bytes.
    private func writeNpz(to path: String) throws(ExportError) {
        try writeBeside(path) { sink in
            var npz = NpzWriter(streamingTo: sink)
            for item in items {
                do {
                    try npz.add(name: item.name, dtype: item.dtype, shape: item.shape, byteCount: item.byteCount) { write in
                        try send(item, to: write)
                    }
                } catch let e as NumpyError {
                    throw ExportError.numpy(e)
                }
            }
            try npz.finish()
        }
    }

    /// A `torch.save` archive (TorchSave), record by record.
    private func writeTorchSave(to path: String) throws(ExportError) {
        let stem = TorchSave.archiveName(forPath: path)
        let records = items.map { item in
            TorchSave.Record(name: item.name, dtype: item.dtype, shape: item.shape, byteCount: item.byteCount) { write in
                try send(item, to: write)
            }
        }
        try writeBeside(path) { sink in try TorchSave.write(records, stem: stem, to: sink) }
    }

    /// Writes through `body` into a new file beside `path` (`FileSink`), renamed over it once
    /// complete: a failure part way (a record failing its CRC check, a full disk) leaves `path`
    /// as it was and removes only the file this write created.
    private func writeBeside(_ path: String, _ body: (FileSink) throws -> Void) throws(ExportError) {
        do {
            let sink = try FileSink(replacing: path, inputs: inputs)
            try body(sink)
            try sink.commit()
        } catch let e as FileSinkError {
            throw .cannotWrite(path: path, reason: e.reason.description)
        } catch let e as ExportError {
            throw e
        } catch {
            throw .cannotWrite(path: path, reason: "\(error)")
        }
    }

    /// Hands `item`'s bytes to `write`, piece by piece. A failure to read them names the tensor;
    /// the sink's own errors pass.
    private func send(_ item: Item, to write: (UnsafeRawBufferPointer) throws -> Void) throws {
        do {
            var given = 0
            try item.pieces { piece in
                try write(piece)
                given += piece.count
            }
            guard given == item.byteCount else {
                throw ExportError.unreadable(name: item.name, reason: "\(given) bytes for \(item.byteCount)")
            }
        } catch let e as FileSinkError {
            throw e
        } catch let e as ExportError {
            throw e
        } catch {
            throw ExportError.unreadable(name: item.name, reason: "\(error)")
        }
    }
}
