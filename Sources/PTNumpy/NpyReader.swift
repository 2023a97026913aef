import PTTensor

/// Reads one `.npy` image into an owned, contiguous, little-endian, C-order tensor.
///
/// `read_array` in `numpy/lib/format.py`, with two differences: the data must be exactly as
/// long as the header declares (numpy ignores bytes after it), and the output buffer is
/// allocated only after that check, so a header that declares a huge shape over a short file
/// costs nothing.
enum NpyReader {
    static func read(_ bytes: UnsafeRawBufferPointer, source: NpySource) throws(NumpyError) -> Tensor {
        let preamble = try NpyPreamble.read(bytes, source: source)
        let headerBytes = Array(bytes[preamble.headerOffset ..< preamble.dataOffset])
        if preamble.version == .v3, String(validating: headerBytes, as: UTF8.self) == nil {
            throw source.error(.headerNotUTF8)
        }
        let literal = try HeaderLiteralParser.parse(headerBytes, version: preamble.version, source: source)
        let header = try NpyHeader.interpret(literal, source: source)

        let available = bytes.count - preamble.dataOffset
        guard available == header.byteCount else {
            throw source.error(.dataSizeMismatch(shape: header.shape, dtype: header.dtype,
                                              expectedBytes: header.byteCount, actualBytes: available))
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[preamble.dataOffset...])
        let owned = StorageBytes(count: header.byteCount) { destination in
            guard header.elementCount > 0 else { return }
            if header.fortranOrder && header.shape.count > 1 {
                ElementOrder.fortranToC(data, into: destination, shape: header.shape, itemSize: header.dtype.itemSize)
            } else {
                destination.copyMemory(from: data)
            }
            if header.bigEndian {
                StorageBytes.swapBytes(destination, unit: header.dtype.swapUnit)
            }
        }
        let storage = Storage(key: source.description, dtype: header.dtype, byteCount: header.byteCount,
                              origin: source.description) { owned }
        do {
            return try Tensor(storage: storage, dtype: header.dtype, shape: header.shape,
                              strides: Tensor.contiguousStrides(for: header.shape), storageOffset: 0)
        } catch let error as TensorError {
            throw source.error(.invalidTensor(error))
        } catch {
            preconditionFailure("\(source.description): Tensor.init threw \(error), not a TensorError")
        }
    }
}
