/// Constants of the `.npy` format, as `numpy/lib/format.py` (`numpy/lib/_format_impl.py` in
/// numpy 2) defines them.
///
/// A file is: the magic "\x93NUMPY", a major and a minor version byte, the header length
/// (little-endian uint16 for 1.0, uint32 for 2.0 and 3.0), the header (a Python dict literal,
/// latin-1 for 1.0 and 2.0, UTF-8 for 3.0, space-padded and ending in "\n" so that the data
/// starts on a 64-byte boundary), then the raw array data.
enum NpyFormat {
    /// `MAGIC_PREFIX`.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// `MAGIC_LEN`: the magic plus the two version bytes.
    static let magicAndVersionLength = 8
    /// `ARRAY_ALIGN`: the preamble plus the header is a multiple of this.
    static let alignment = 64
    /// `_MAX_HEADER_SIZE`: numpy refuses longer headers unless told to trust the file.
    static let maxHeaderSize = 10_000
    /// `GROWTH_AXIS_MAX_DIGITS`: the writer leaves room for the growth axis to reach this many digits.
    static let growthAxisMaxDigits = 21
    /// `NPY_MAXDIMS` in numpy 2 (and torch's limit).
    static let maxRank = 64
}

/// The three versions `_header_size_info` knows.
enum NpyVersion: Equatable {
    case v1, v2, v3

    init?(major: UInt8, minor: UInt8) {
        switch (major, minor) {
        case (1, 0): self = .v1
        case (2, 0): self = .v2
        case (3, 0): self = .v3
        default: return nil
        }
    }

    var major: UInt8 {
        switch self {
        case .v1: return 1
        case .v2: return 2
        case .v3: return 3
        }
    }

    /// Bytes of the header length field: `'<H'` for 1.0, `'<I'` otherwise.
    var lengthFieldSize: Int { self == .v1 ? 2 : 4 }

    /// Versions 1.0 and 2.0 may come from Python 2, whose longs print as `3L`;
    /// numpy's `_filter_header` drops that suffix for them.
    var allowsLongSuffix: Bool { self != .v3 }
}
