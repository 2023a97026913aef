import PTTensor

/// Encodes an array as an `.npy` image, byte for byte as numpy's `write_array` (with
/// `version=None`) writes the same C-contiguous little-endian array.
///
/// The header is `_write_array_header`'s: the keys in sorted order, each followed by ", ",
/// `repr(shape)`, then room for the first dimension to grow to 21 digits, then spaces and a
/// final "\n" so that magic, version, length field and header end on a multiple of 64
/// (`_wrap_header`). Version 1.0 unless the header exceeds its 2-byte length field, then 2.0
/// (`_wrap_header_guess_version`; 3.0 is never needed, the header is ASCII).
enum NpyWriter {
    /// - Parameter path: the output (or the name standing for the bytes), named by errors.
    /// - Throws: `NumpyError.Reason.unsupportedDType`; `.unreadableTensor` carrying what reading
    ///   the array's bytes threw.
    static func bytes(of tensor: some NumpyWritable, path: String) throws(NumpyError) -> [UInt8] {
        guard let descr = Descr.string(for: tensor.dtype) else {
            throw NumpyError(path: path, .unsupportedDType(tensor.dtype))
        }
        var data: [UInt8] = []
        do {
            try tensor.streamBytes { data.append(contentsOf: $0) }
        } catch {
            throw NumpyError(path: path, .unreadableTensor(.init(error)))
        }
        var output = preamble(descr: descr, shape: tensor.shape)
        output.reserveCapacity(output.count + data.count)
        output.append(contentsOf: data)
        return output
    }

    /// Magic, version, header length and header for a C-order array.
    static func preamble(descr: String, shape: [Int]) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(pythonTuple(shape)), }"
        if let first = shape.first {
            header += String(repeating: " ", count: max(0, NpyFormat.growthAxisMaxDigits - String(first).count))
        }
        let text = Array(header.utf8)
        let version: NpyVersion = paddedLength(text.count, version: .v1) <= Int(UInt16.max) ? .v1 : .v2
        let length = paddedLength(text.count, version: version)
        var output = NpyFormat.magic + [version.major, 0]
        for shift in stride(from: 0, to: version.lengthFieldSize * 8, by: 8) {
            output.append(UInt8(truncatingIfNeeded: length >> shift))
        }
        output += text
        output += [UInt8](repeating: 0x20, count: length - text.count - 1)
        output.append(0x0A)
        return output
    }

    /// The header length after padding: text, at least one space, and "\n", ending on a
    /// multiple of 64 counted from the start of the file (`_wrap_header`'s `padlen`).
    private static func paddedLength(_ textCount: Int, version: NpyVersion) -> Int {
        let unpadded = textCount + 1
        let prefix = NpyFormat.magicAndVersionLength + version.lengthFieldSize
        return unpadded + NpyFormat.alignment - (prefix + unpadded) % NpyFormat.alignment
    }
}
