internal import CLibzip

/// The CRC-32 (ISO-HDLC, as zip uses) of `bytes`.
///
/// The corresponding zlib function is `crc32`.
public func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard var next = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
    var remaining = bytes.count
    var crc: UInt = CLibzip.crc32(0, nil, 0)
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
