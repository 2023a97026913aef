import PTTensor

/// Reading and writing numpy's `.npy` and `.npz` files (`numpy/lib/format.py`,
/// `numpy.save`, `numpy.savez`, `numpy.savez_compressed`, `numpy.load`).
///
/// Every tensor read is owned, contiguous, little-endian and in C (row-major) order: a
/// `fortran_order` array of shape `(2, 3)` is returned with shape `[2, 3]` and its elements
/// reordered, big-endian data is byte-swapped. Files are refused with a `NumpyError` before
/// anything sized by the file's own claims is allocated.
public enum Numpy {
    /// Reads one .npy file → a contiguous little-endian tensor in C order (fortran_order arrays are
    /// transposed into C order; big-endian data is byte-swapped).
    ///
    /// Versions 1.0, 2.0 and 3.0; descr `<`, `>`, `=` or `|` + b1, i1/2/4/8, u1/2/4/8, f2/4/8, c8/16;
    /// 0-d arrays have shape `[]`, and any dimension may be 0.
    /// - Throws: `NumpyError` naming `path` (`.cannotOpen`, or any refusal of `readNpy(bytes:name:)`).
    public static func readNpy(path: String) throws(NumpyError) -> Tensor {
        try FileIO.withContents(of: path) { (bytes) throws(NumpyError) in
            try NpyReader.read(bytes, source: NpySource(path: path))
        }
    }

    /// Reads one .npy image held in memory; `name` stands for the file in error messages.
    /// The bytes are copied: the tensor does not refer to `bytes` once this returns.
    /// - Throws: `NumpyError` whose path is `name`.
    public static func readNpy(bytes: UnsafeRawBufferPointer, name: String) throws(NumpyError) -> Tensor {
        try NpyReader.read(bytes, source: NpySource(path: name))
    }

    /// Reads every member of an .npz (stored or deflated, through PTZip's ZipArchive), in archive
    /// order; member names without the ".npy" suffix.
    /// - Throws: `NumpyError` naming `path`: `.archive` for a zip-level problem (the zip layer's
    ///   reason, which names the entry), `.notNpyMember`, or a member's `.npy` refusal with
    ///   `member` set.
    public static func readNpz(path: String) throws(NumpyError) -> [(name: String, tensor: Tensor)] {
        try Npz.read(path: path)
    }

    /// Reads only the members named in `wanted` (without ".npy"), as `numpy.load`'s lazy
    /// `NpzFile` does: every other member is listed but never inflated or parsed, so an unused
    /// 768 MiB deflated member costs nothing.
    /// - Returns: every member's name in archive order, and the wanted members found, in archive order.
    /// - Throws: as `readNpz(path:)`, for the wanted members only (every name is still checked).
    public static func readNpz(path: String, only wanted: [String])
        throws(NumpyError) -> (names: [String], arrays: [(name: String, tensor: Tensor)]) {
        try Npz.read(path: path, only: wanted)
    }

    /// Reads an .npz held in memory, as `readNpz(path:)`; `name` stands for the file in errors.
    public static func readNpz(bytes: UnsafeRawBufferPointer, name: String)
        throws(NumpyError) -> [(name: String, tensor: Tensor)] {
        try Npz.read(bytes: bytes, name: name)
    }

    /// Writes version 1.0 (2.0 when the header needs it), little-endian, C order: the bytes
    /// `numpy.save` writes for the same array.
    /// - Throws: `NumpyError` whose path is "tensor" (no file is involved):
    ///   `.unsupportedDType` for dtypes numpy lacks, `.unreadableTensor`.
    public static func npyBytes(_ tensor: Tensor) throws(NumpyError) -> [UInt8] {
        try NpyWriter.bytes(of: tensor, path: "tensor")
    }

    /// Writes `npyBytes(tensor)` to a new file renamed over `path` once complete.
    /// - Throws: `NumpyError` naming `path`: as `npyBytes(_:)`, and `.cannotWrite`.
    public static func writeNpy(_ tensor: Tensor, to path: String) throws(NumpyError) {
        try FileIO.write(try NpyWriter.bytes(of: tensor, path: path), to: path)
    }

    /// Whether numpy has `dtype` (`.npy` and `.npz` can hold it).
    public static func holds(_ dtype: DType) -> Bool { Descr.string(for: dtype) != nil }

    /// Writes an .npz of stored members "name.npy", in the order given, as `numpy.savez` does
    /// (the zip timestamps are fixed at 1980-01-01 so the output is reproducible), streamed
    /// through `NpzWriter` into a new file renamed over `path` once complete.
    /// - Parameter inputs: files the output must not replace (the model, the references).
    /// - Throws: `NumpyError` naming `path`: as `NpzWriter.add(name:array:)` (`.invalidArrayName`,
    ///   `.duplicateArrayName`, `.unsupportedDType`, `.unreadableTensor`), `.cannotWrite`.
    public static func writeNpz(arrays: [(name: String, array: any NumpyWritable)], to path: String,
                                inputs: [String] = []) throws(NumpyError) {
        try FileIO.writeStreaming(to: path, inputs: inputs) { (sink) throws(NumpyError) in
            var writer = NpzWriter(streamingTo: sink)
            for (name, array) in arrays { try writer.add(name: name, array: array) }
            try writer.finish()
        }
    }

    /// `writeNpz(arrays:to:inputs:)` for tensors.
    public static func writeNpz(_ arrays: [(name: String, tensor: Tensor)], to path: String) throws(NumpyError) {
        try writeNpz(arrays: arrays.map { ($0.name, $0.tensor as any NumpyWritable) }, to: path)
    }
}
