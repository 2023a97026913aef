/// The fixed-size start of an `.npy` file: magic, version and header length, with the header's
/// extent checked against the bytes that are there. Nothing is allocated from the declared
/// length: it is compared with the limit and with what is available first.
///
/// `read_magic` and `_read_array_header` in `numpy/lib/format.py`; unlike numpy, the 10,000
/// limit is applied to the declared length in bytes, before the header is read or decoded.
struct NpyPreamble: Equatable {
    let version: NpyVersion
    /// Offset of the header: 10 for version 1.0, 12 for 2.0 and 3.0.
    let headerOffset: Int
    let headerLength: Int

    /// Offset of the array data.
    var dataOffset: Int { headerOffset + headerLength }

    static func read(_ bytes: UnsafeRawBufferPointer, source: NpySource) throws(NumpyError) -> NpyPreamble {
        let magic = NpyFormat.magic
        let present = min(bytes.count, magic.count)
        guard bytes.prefix(present).elementsEqual(magic.prefix(present)) else {
            throw source.error(.badMagic(found: Array(bytes.prefix(magic.count))))
        }
        let versionEnd = NpyFormat.magicAndVersionLength
        guard bytes.count >= versionEnd else {
            throw source.error(.truncatedPreamble(needed: versionEnd, available: bytes.count))
        }
        let major = bytes[magic.count], minor = bytes[magic.count + 1]
        guard let version = NpyVersion(major: major, minor: minor) else {
            throw source.error(.unsupportedVersion(major: major, minor: minor))
        }
        let headerOffset = versionEnd + version.lengthFieldSize
        guard bytes.count >= headerOffset else {
            throw source.error(.truncatedPreamble(needed: headerOffset, available: bytes.count))
        }
        var headerLength = 0
        for index in (versionEnd ..< headerOffset).reversed() {
            headerLength = headerLength << 8 | Int(bytes[index])
        }
        guard headerLength <= NpyFormat.maxHeaderSize else {
            throw source.error(.headerTooLarge(declared: headerLength, limit: NpyFormat.maxHeaderSize))
        }
        let available = bytes.count - headerOffset
        guard headerLength <= available else {
            throw source.error(.truncatedHeader(declared: headerLength, available: available))
        }
        return NpyPreamble(version: version, headerOffset: headerOffset, headerLength: headerLength)
    }
}
