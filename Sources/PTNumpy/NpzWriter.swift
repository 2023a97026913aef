import PTTensor
import PTZip

/// Streams an `.npz` into a `FileSink` as `numpy.savez` lays one out: one stored member
/// "NAME.npy" per array, in the order added, each numpy's `.npy` preamble followed by the
/// array's bytes (little-endian, C order). Nothing is held whole: each member's bytes are read
/// twice, once for the CRC-32 its local header needs and once to write them.
///
/// The one npz writer: `Numpy.writeNpz` and the checkpoint exporter both go through it.
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

    /// Adds member `name`.npy: an array of `dtype` and `shape` whose `byteCount` bytes `body`
    /// hands, piece by piece, to the function it is given. `body` is called twice.
    /// - Throws: `NumpyError.invalidArrayName` (empty, or a member name readers refuse),
    ///   `.duplicateArrayName`, `.unsupportedDType` (numpy lacks it); whatever `body` or the
    ///   sink throws passes unchanged.
    public mutating func add(name: String, dtype: DType, shape: [Int], byteCount: Int,
                             body: @escaping ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        guard !name.isEmpty else { throw NumpyError.invalidArrayName(name: name, reason: "names must not be empty") }
        let member = name + Npz.suffix
        guard let descr = Descr.string(for: dtype) else { throw NumpyError.unsupportedDType(name: member, dtype: dtype) }
        guard seen.insert(ExactName(name)).inserted else { throw NumpyError.duplicateArrayName(name) }
        let preamble = NpyWriter.preamble(descr: descr, shape: shape)
        let contents: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void = { write in
            try preamble.withUnsafeBytes { try write($0) }
            try body(write)
        }
        var crc: UInt32 = 0
        try contents { crc = crc32($0, continuing: crc) }
        do {
            try zip.add(name: member, size: preamble.count + byteCount, crc: crc, body: contents)
        } catch let error as ZipWriterError {
            throw NumpyError.invalidArrayName(name: String(name.prefix(64)), reason: error.description)
        }
    }

    /// Adds `array` (a tensor, streamed from its storage, or a computed array) as member `name`.npy.
    /// - Throws: as `add(name:dtype:shape:byteCount:body:)`; `NumpyError.unreadableTensor` when
    ///   the array's bytes cannot be read.
    public mutating func add(name: String, array: some NumpyWritable) throws {
        let byteCount = array.shape.reduce(array.dtype.itemSize, *)
        try add(name: name, dtype: array.dtype, shape: array.shape, byteCount: byteCount) { write in
            do {
                try array.streamBytes(into: write)
            } catch let error as FileSinkError {
                throw error
            } catch {
                throw NumpyError.unreadableTensor(name: name + Npz.suffix, reason: String(describing: error))
            }
        }
    }

    /// Ends the archive: the central directory and the end records go to the sink.
    public func finish() throws {
        try zip.finish(into: sink)
    }
}
