/// How an entry's bytes are stored in the archive; the only two methods this reader accepts.
public enum ZipMethod: Equatable, Sendable {
    /// Method 0: the bytes are stored as they are and can be handed out without copying.
    case stored
    /// Method 8: raw deflate, inflated by libzip.
    case deflated
}

/// One file in the archive, as its central directory header and local header describe it.
/// All offsets are absolute positions in the archive file.
public struct ZipEntry: Equatable, Sendable {
    /// The name as stored, decoded as UTF-8; directories are separated by "/".
    public let name: String
    /// Position in the central directory (0-based); libzip uses the same index.
    public let index: Int
    public let method: ZipMethod
    /// Bytes the entry occupies in the archive (equal to `uncompressedSize` when stored).
    public let compressedSize: Int
    public let uncompressedSize: Int
    /// The CRC-32 the central directory declares; checked when the bytes are first read.
    public let crc32: UInt32
    public let localHeaderOffset: Int
    /// First byte of the entry's (compressed) data, from the local header's own name and
    /// extra-field lengths: these can differ from the central directory's (PyTorch pads the
    /// local extra field so that stored data starts on a 64-byte boundary).
    public let dataOffset: Int
}
