import PTNumpy
import PTSafetensors
import PTTensor
import PTZip

/// Writes named tensors to a checkpoint file without running Python: `.safetensors` (as the
/// format's own writer lays it out, `__metadata__` `{"format": "pt"}`) or `.npz` (numpy's
/// format). Tensors come from a loaded checkpoint (`add(_:tensor:)`) or from Swift
/// (`add(_:array:)`); each is written contiguous, in C order, in its own dtype unless a cast is
/// asked for. A view, or a tensor sharing its storage with another, becomes a separate
/// contiguous tensor (`Summary.materialized` counts them). `writeSharded(to:maxShardSize:)`
/// writes Hugging Face's sharded `.safetensors` folder instead, leaving out exact aliases (tied
/// weights); a single file keeps every name.
///
///     var writer = CheckpointWriter()
///     writer.add("lstm.weight_ih_l0", array: ShapedArray<Float>(shape: [16, 5], values: w))
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
        /// The bytes of the whole storage it reads, as written (in the cast dtype when cast):
        /// what Hugging Face's shard plan counts (`get_torch_storage_size`).
        let storageBytes: Int
        /// Where it lies in its storage: tensors with equal keys are the same tensor (aliases).
        let alias: AliasKey?
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

    /// A tensor's place in its storage: storage, offset, shape, strides and dtype.
    struct AliasKey: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        let shape: [Int]
        let strides: [Int]
        let dtype: DType
    }

    var items: [Item] = []
    private var names: Set<ExactName> = []
    /// The first name added twice, refused by `write(to:)`.
    private var duplicate: String?
    /// Floating-point tensors are cast to this dtype when set (float16, bfloat16 or float32).
    public let cast: DType?
    /// Files the output must not replace (the checkpoint the tensors come from): an output that
    /// is one of them, or a link to one, is refused.
    public var inputs: [String] = []

    /// - Parameter cast: float16, bfloat16 or float32: every floating-point tensor is written in
    ///   that dtype, rounded as `tensor.half()` / `.bfloat16()` / `.float()` round. Any other
    ///   dtype is refused by `write(to:)` (`.badCast`), which names the output.
    public init(cast: DType? = nil) {
        self.cast = cast
    }

    public var count: Int { items.count }

    /// Adds a tensor read from a checkpoint (or from `.npy`/`.npz`, or built in memory) under
    /// `name`. A name added twice is refused by `write(to:)` (`.duplicateName`).
    ///
    /// The tensor's storage must throw only `CheckpointError` when its bytes cannot be read, as a
    /// `Checkpoint`'s do (Storage.swift): that error is carried, typed, in `.unreadable`.
    public mutating func add(_ name: String, tensor: Tensor) {
        guard names.insert(ExactName(name)).inserted else {
            duplicate = duplicate ?? name
            return
        }
        let whole = tensor.isContiguous && tensor.storageOffset == 0 && tensor.byteCount == tensor.storage.byteCount
        let dtype = target(for: tensor.dtype)
        let source = tensor.dtype
        let storage = ObjectIdentifier(tensor.storage)
        let storageBytes = dtype == source ? tensor.storage.byteCount
            : tensor.storage.byteCount / source.itemSize * dtype.itemSize
        items.append(Item(name: name, dtype: dtype, shape: tensor.shape,
                          byteCount: tensor.elementCount * dtype.itemSize,
                          view: !whole, storage: storage, storageBytes: storageBytes,
                          alias: AliasKey(storage: storage, offset: tensor.storageOffset, shape: tensor.shape,
                                          strides: tensor.strides, dtype: source)) { body in
            guard dtype != source else { return try tensor.streamBytes(body) }
            var converted: [UInt8] = []
            try tensor.streamBytes { piece in
                converted.removeAll(keepingCapacity: true)
                Cast.convert(piece, from: source, to: dtype, into: &converted)
                try converted.withUnsafeBytes { try body($0) }
            }
        })
    }

    /// Adds an array computed in Swift under `name`. A name added twice is refused by
    /// `write(to:)` (`.duplicateName`).
    public mutating func add<Scalar: ArrayScalar>(_ name: String, array: ShapedArray<Scalar>) {
        guard names.insert(ExactName(name)).inserted else {
            duplicate = duplicate ?? name
            return
        }
        let dtype = target(for: Scalar.dtype)
        let values = array.values
        items.append(Item(name: name, dtype: dtype, shape: array.shape, byteCount: values.count * dtype.itemSize,
                          view: false, storage: nil, storageBytes: values.count * dtype.itemSize,
                          alias: nil) { body in
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
    /// - Throws: `ExportError` naming `path`: `.badCast`, `.duplicateName`, `.unknownFormat`, a
    ///   dtype or name the format cannot hold (naming the tensor), `.tooManyTensors`, a tensor
    ///   whose bytes cannot be read (`.unreadable`, with the input's typed error: a CRC mismatch
    ///   on first use), or a failed write (`.cannotWrite`). The output is then as it was.
    @discardableResult
    public func write(to path: String, format: Format? = nil) throws(ExportError) -> Summary {
        let format = try check(path: path, format: format)
        let summary = summary(of: items)
        switch format {
        case .safetensors: try writeSafetensors(items, to: path)
        case .npz: try writeNpz(to: path)
        case .pt: try writeTorchSave(to: path)
        }
        return summary
    }

    /// The format to write `path` in, once every tensor is known to fit it.
    /// - Throws: what `write(to:format:)` refuses before writing.
    func check(path: String, format: Format?) throws(ExportError) -> Format {
        func refuse(_ reason: ExportError.Reason) -> ExportError { ExportError(path: path, reason) }
        if let cast, ![.float16, .bfloat16, .float32].contains(cast) { throw refuse(.badCast(cast)) }
        if let duplicate { throw refuse(.duplicateName(duplicate)) }
        guard let format = format ?? Format(path: path) else { throw refuse(.unknownFormat) }
        for item in items {
            switch format {
            case .safetensors:
                if item.name.isExactly("__metadata__") {
                    throw refuse(.unwritableName(name: item.name, format: format, .reservedMetadata))
                }
                if !Safetensors.holds(item.dtype) {
                    throw refuse(.unsupportedDType(name: item.name, dtype: item.dtype, format: format))
                }
            case .npz:
                if item.name.isEmpty {
                    throw refuse(.unwritableName(name: item.name, format: format, .empty))
                }
                let member = item.name + ".npy"
                if member.utf8.count > 0xFFFF {
                    throw refuse(.unwritableName(name: String(item.name.prefix(64)), format: format,
                                                 .memberTooLong(byteCount: member.utf8.count)))
                }
                if let why = ZipWriter.unsafeNameReason(member) {
                    throw refuse(.unwritableName(name: item.name, format: format, .unsafeMember(why)))
                }
                if !Numpy.holds(item.dtype) {
                    throw refuse(.unsupportedDType(name: item.name, dtype: item.dtype, format: format))
                }
            case .pt:
                if !TorchSave.holds(item.dtype) {
                    throw refuse(.unsupportedDType(name: item.name, dtype: item.dtype, format: format))
                }
            }
        }
        guard items.count <= FileLimits.maxTensors else {
            throw refuse(.tooManyTensors(items.count, limit: FileLimits.maxTensors))
        }
        return format
    }

    /// The counts of writing `written`: views and tensors whose storage several of them share
    /// are materialised; sharing is counted among `written` only.
    func summary(of written: [Item]) -> Summary {
        var users: [ObjectIdentifier: Int] = [:]
        for case let storage? in written.map(\.storage) { users[storage, default: 0] += 1 }
        var summary = Summary()
        summary.tensors = written.count
        summary.bytes = written.reduce(0) { $0 + $1.byteCount }
        summary.materialized = written.filter {
            $0.view || $0.storage.map { users[$0, default: 0] > 1 } == true
        }.count
        summary.cast = cast == nil ? 0 : written.filter { $0.dtype == cast }.count
        return summary
    }

    /// One `.safetensors` file of `items` at `path`, published whole.
    private func writeSafetensors(_ items: [Item], to path: String) throws(ExportError) {
        try writeBeside(path) { (sink) throws(ExportError) in try writeSafetensors(items, into: sink) }
    }

    /// The safetensors header, then every tensor in the format's order, into `sink` (whose path
    /// the errors name), byte for byte `safetensors.torch.save_file(tensors, metadata={"format": "pt"})`.
    func writeSafetensors(_ items: [Item], into sink: FileSink) throws(ExportError) {
        let path = sink.path
        let ordered = Safetensors.storageOrder(items, name: \.name, dtype: \.dtype)
        let header = Safetensors.header(metadata: [("format", "pt")],
                                        tensors: ordered.map { ($0.name, $0.dtype, $0.shape) })
        do throws(FileSinkError) {
            try sink.write(header)
        } catch {
            throw ExportError(path: path, .cannotWrite(error.reason))
        }
        for item in ordered {
            do throws(Interrupted<FileSinkError>) {
                try send(item) { (piece) throws(FileSinkError) in try sink.write(piece) }
            } catch {
                switch error {
                case .read(let failure): throw ExportError(path: path, .unreadable(name: item.name, failure))
                case .write(let e): throw ExportError(path: path, .cannotWrite(e.reason))
                }
            }
        }
    }

    /// An `.npz` as `numpy.savez` writes one (`NpzWriter`): stored members `name.npy`, each
    /// numpy's preamble then the tensor's bytes.
    private func writeNpz(to path: String) throws(ExportError) {
        try writeBeside(path) { (sink) throws(ExportError) in
            var npz = NpzWriter(streamingTo: sink)
            for item in items {
                // The writer carries a body's failure as `.unreadableTensor`; the typed reason
                // is kept here.
                var unreadable: ExportError.ReadFailure?
                do throws(NumpyError) {
                    try npz.add(name: item.name, dtype: item.dtype, shape: item.shape,
                                byteCount: item.byteCount) { write in
                        do throws(Interrupted<any Error>) {
                            try send(item, to: write)
                        } catch {
                            switch error {
                            case .read(let failure):
                                unreadable = failure
                                throw ExportError(path: path, .unreadable(name: item.name, failure))
                            case .write(let e): throw e
                            }
                        }
                    }
                } catch {
                    if let unreadable { throw ExportError(path: path, .unreadable(name: item.name, unreadable)) }
                    throw ExportError(error)
                }
            }
            do throws(NumpyError) {
                try npz.finish()
            } catch {
                throw ExportError(error)
            }
        }
    }

    /// A `torch.save` archive (TorchSave), record by record.
    private func writeTorchSave(to path: String) throws(ExportError) {
        let stem = TorchSave.archiveName(forPath: path)
        let records = items.map { item in
            TorchSave.Record(name: item.name, dtype: item.dtype, shape: item.shape,
                             byteCount: item.byteCount) { write in
                do throws(Interrupted<any Error>) {
                    try send(item, to: write)
                } catch {
                    switch error {
                    case .read(let failure): throw ExportError(path: path, .unreadable(name: item.name, failure))
                    case .write(let e): throw e
                    }
                }
            }
        }
        try writeBeside(path) { (sink) throws(ExportError) in try TorchSave.write(records, stem: stem, to: sink) }
    }

    /// Writes through `body` into a new file beside `path` (`FileSink`), renamed over it once
    /// complete: a failure part way (a record failing its CRC check, a full disk) leaves `path`
    /// as it was and removes only the file this write created.
    func writeBeside(_ path: String, _ body: (FileSink) throws(ExportError) -> Void) throws(ExportError) {
        try FileOutput.stream(to: path, inputs: inputs,
                              failure: { ExportError(path: $0.path, .cannotWrite($0.reason)) }, body)
    }

    /// Why handing a tensor's bytes over stopped: they could not be read, or the function they
    /// were handed to failed (its error, unchanged).
    enum Interrupted<WriteFailure: Error>: Error {
        case read(ExportError.ReadFailure)
        case write(WriteFailure)
    }

    /// Hands `item`'s bytes to `write`, piece by piece, checking that they are as many as the
    /// item declares.
    func send<WriteFailure: Error>(_ item: Item,
                                           to write: (UnsafeRawBufferPointer) throws(WriteFailure) -> Void)
        throws(Interrupted<WriteFailure>) {
        var writeFailure: WriteFailure?
        var given = 0
        do {
            try item.pieces { piece in
                do throws(WriteFailure) { try write(piece) } catch {
                    writeFailure = error
                    throw error
                }
                given += piece.count
            }
        } catch {
            if let writeFailure { throw .write(writeFailure) }
            throw .read(ExportError.ReadFailure(unerasing: error))
        }
        guard given == item.byteCount else { throw .read(.byteCount(given: given, expected: item.byteCount)) }
    }
}
