import PTTensor
import PTZip

/// Streams an `.npz` into a `FileSink` as `numpy.savez` lays one out: one stored member
/// "NAME.npy" per array, in the order added, each numpy's `.npy` preamble followed by the
/// array's bytes (little-endian, C order). Nothing is held whole: each member's bytes are read
/// twice, once for the CRC-32 its local header needs and once to write them.
///
/// The one npz writer: `Numpy.writeNpz` and the checkpoint exporter both go through it. Every
/// error is a `NumpyError` naming the sink's path (and the member, once there is one).
public struct NpzWriter {
    private let sink: FileSink
    private var zip: ZipWriter
    private var seen: Set<ExactName> = []

    /// A writer whose members go to `sink` as they are added; `finish()` ends the archive
    /// (the caller then commits the sink).
    public init(streamingTo sink: FileSink) {
        self.sink = sink
        zip = ZipWriter(streamingTo: sink)
    }

    /// The output: what every error names.
    public var path: String { sink.path }

    /// Adds member `name`.npy: an array of `dtype` and `shape` whose `byteCount` bytes `body`
    /// hands, piece by piece, to the function it is given. `body` is called twice.
    ///
    /// `body` is untyped: what it throws is either the failure of the function it was given
    /// (the sink's, passed on unchanged), reported as `.cannotWrite`, or its own failure to
    /// produce the bytes, carried unchanged in `.unreadableTensor`.
    /// - Throws: `NumpyError` naming the output: `.invalidArrayName` (empty, longer than a zip
    ///   header records, or a member name readers refuse), `.duplicateArrayName`,
    ///   `.cannotWrite`, and, naming the member, `.unsupportedDType` (numpy lacks it),
    ///   `.unreadableTensor`, `.byteCountMismatch` (other than `byteCount` bytes).
    public mutating func add(name: String, dtype: DType, shape: [Int], byteCount: Int,
                             body: @escaping ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)
        throws(NumpyError) {
        let path = self.path
        guard !name.isEmpty else { throw NumpyError(path: path, .invalidArrayName(name: name, .empty)) }
        let member = name + Npz.suffix
        guard let descr = Descr.string(for: dtype) else {
            throw NumpyError(path: path, member: member, .unsupportedDType(dtype))
        }
        guard seen.insert(ExactName(name)).inserted else { throw NumpyError(path: path, .duplicateArrayName(name)) }
        let memberBytes = member.utf8.count
        guard memberBytes <= 0xFFFF else {
            throw NumpyError(path: path, .invalidArrayName(name: String(name.prefix(64)),
                                                           .tooLong(byteCount: memberBytes)))
        }
        if let why = ZipWriter.unsafeNameReason(member) {
            throw NumpyError(path: path, .invalidArrayName(name: String(name.prefix(64)), .unsafe(why)))
        }
        let preamble = NpyWriter.preamble(descr: descr, shape: shape)
        // The member's bytes: the preamble, then `body`'s pieces, counted. A failure of `write`
        // passes unchanged; any other failure of `body` becomes `.unreadableTensor`.
        let contents: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void = { write in
            try preamble.withUnsafeBytes { try write($0) }
            var given = 0
            var writeFailed = false
            do {
                try body { piece in
                    do { try write(piece) } catch { writeFailed = true; throw error }
                    given += piece.count
                }
            } catch {
                if writeFailed { throw error }
                throw NumpyError(path: path, member: member, .unreadableTensor(.init(error)))
            }
            guard given == byteCount else {
                throw NumpyError(path: path, member: member, .byteCountMismatch(declared: byteCount, given: given))
            }
        }
        do {
            var crc: UInt32 = 0
            try contents { crc = crc32($0, continuing: crc) }
            try zip.add(name: member, size: preamble.count + byteCount, crc: crc, body: contents)
        } catch {
            throw NumpyError.unerased(error, member: member)
        }
    }

    /// Adds `array` (a tensor, streamed from its storage, or a computed array) as member `name`.npy.
    /// - Throws: as `add(name:dtype:shape:byteCount:body:)`; `.unreadableTensor` carries what
    ///   reading the array's bytes threw (a tensor's storage: its loader's error).
    public mutating func add(name: String, array: some NumpyWritable) throws(NumpyError) {
        let byteCount = array.shape.reduce(array.dtype.itemSize, *)
        try add(name: name, dtype: array.dtype, shape: array.shape, byteCount: byteCount) { write in
            try array.streamBytes(into: write)
        }
    }

    /// Ends the archive: the central directory and the end records go to the sink.
    /// - Throws: `NumpyError.Reason.cannotWrite` naming the output.
    public func finish() throws(NumpyError) {
        do throws(FileSinkError) {
            try zip.finish(into: sink)
        } catch {
            throw NumpyError(path: error.path, .cannotWrite(error.reason))
        }
    }
}

extension NumpyError {
    /// What `ZipWriter.add(name:size:crc:body:)` threw, which is untyped because its body's
    /// errors pass through it: the member's own `NumpyError` (made by the body above), or the
    /// sink's `FileSinkError`. Its own `ZipWriterError`s cannot happen (the name is checked
    /// first, the size by the body), so any other type is a bug in this module.
    static func unerased(_ error: any Error, member: String) -> NumpyError {
        switch error {
        case let e as NumpyError: return e
        case let e as FileSinkError: return NumpyError(path: e.path, .cannotWrite(e.reason))
        default: preconditionFailure("\(member): \(error) (\(type(of: error))) reached the npz writer untyped")
        }
    }
}
