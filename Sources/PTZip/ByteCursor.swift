/// Little-endian reads confined to one region of a buffer.
///
/// Each cursor is created for one structure (a header, an extra field…) together with the
/// error to throw if that structure turns out shorter than its reader needs, so every read of
/// untrusted data is bounds-checked and fails with an error that says what was being read.
struct ByteCursor {
    private let bytes: UnsafeRawBufferPointer
    private let end: Int
    private(set) var position: Int
    private let overrun: ZipError

    /// A cursor over `bytes[offset ..< offset + length]`; throws `overrun` if that range is not
    /// inside `bytes` (or cannot be computed).
    init(_ bytes: UnsafeRawBufferPointer, offset: UInt64, length: UInt64, overrun: ZipError) throws(ZipError) {
        guard let range = ByteCursor.range(offset: offset, length: length, within: bytes.count) else {
            throw overrun
        }
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.overrun = overrun
    }

    /// `offset ..< offset + length` as `Int`s if it lies inside a buffer of `count` bytes.
    static func range(offset: UInt64, length: UInt64, within count: Int) -> Range<Int>? {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= UInt64(count), let lower = Int(exactly: offset), let upper = Int(exactly: end) else {
            return nil
        }
        return lower ..< upper
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position == end }

    mutating func u8() throws(ZipError) -> UInt8 {
        try UInt8(truncatingIfNeeded: read(1))
    }

    mutating func u16() throws(ZipError) -> UInt16 {
        try UInt16(truncatingIfNeeded: read(2))
    }

    mutating func u32() throws(ZipError) -> UInt32 {
        try UInt32(truncatingIfNeeded: read(4))
    }

    mutating func u64() throws(ZipError) -> UInt64 {
        try read(8)
    }

    /// The next `count` bytes as a view into the buffer.
    mutating func take(_ count: Int) throws(ZipError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else { throw overrun }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
        position += count
        return slice
    }

    mutating func skip(_ count: Int) throws(ZipError) {
        _ = try take(count)
    }

    /// Assembles `width` bytes little-endian; done bytewise so alignment and host order never matter.
    private mutating func read(_ width: Int) throws(ZipError) -> UInt64 {
        let field = try take(width)
        var value: UInt64 = 0
        for (shift, byte) in field.enumerated() {
            value |= UInt64(byte) << (8 * UInt64(shift))
        }
        return value
    }
}
