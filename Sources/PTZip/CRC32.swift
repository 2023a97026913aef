internal import CLibzip

/// The CRC-32 (ISO-HDLC, as zip uses) of `bytes`, or of `previous`'s bytes followed by `bytes`
/// when `previous` is the CRC-32 of what came before.
///
/// The corresponding zlib function is `crc32`.
public func crc32(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
    guard var next = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return previous }
    var remaining = bytes.count
    var crc = UInt(previous)
    // zlib's length parameter is 32-bit, so larger buffers go in chunks.
    let chunk = 1 << 30
    while remaining > 0 {
        let length = min(remaining, chunk)
        crc = CLibzip.crc32(crc, next, UInt32(length))
        next += length
        remaining -= length
    }
    return UInt32(truncatingIfNeeded: crc)
}
