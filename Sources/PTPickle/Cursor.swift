// The one bounds-checked reader over the input. Every read checks the remaining length first and
// throws `truncated` if it is short; multi-byte integers are copied out with `loadUnaligned`
// (the buffer is never rebound); offsets never overflow because `offset <= base.count` always holds
// and no read advances past `base.count`.

struct Cursor {
    let base: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ base: UnsafeRawBufferPointer) {
        self.base = base
    }

    var remaining: Int { base.count - offset }

    @inline(__always)
    private func need(_ n: Int) throws {
        guard n <= remaining else {
            throw PickleError.truncated(offset: offset, needed: n, available: remaining)
        }
    }

    mutating func u8() throws -> UInt8 {
        try need(1)
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt8.self)
        offset += 1
        return v
    }

    mutating func u16le() throws -> UInt16 {
        try need(2)
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        offset += 2
        return UInt16(littleEndian: v)
    }

    mutating func u32le() throws -> UInt32 {
        try need(4)
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return UInt32(littleEndian: v)
    }

    mutating func i32le() throws -> Int32 {
        Int32(bitPattern: try u32le())
    }

    mutating func u64le() throws -> UInt64 {
        try need(8)
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(littleEndian: v)
    }

    mutating func u64be() throws -> UInt64 {
        try need(8)
        let v = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        offset += 8
        return UInt64(bigEndian: v)
    }

    /// The next `n` bytes (a view into the input; nothing is copied). `n` must be >= 0.
    mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0 else { throw PickleError.truncated(offset: offset, needed: n, available: remaining) }
        try need(n)
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n)])
        offset += n
        return slice
    }

    /// Checks a declared length against the bytes left, before anything is allocated, and
    /// returns it as an Int. Lengths beyond Int.max are `lengthOverflow`, the rest `truncated`.
    func checkedLength(_ declared: UInt64, opcode: PickleOpcode, opcodeOffset: Int) throws -> Int {
        guard declared <= UInt64(Int.max) else {
            throw PickleError.lengthOverflow(offset: opcodeOffset, opcode: opcode, length: declared)
        }
        let n = Int(declared)
        try need(n)
        return n
    }

    /// The bytes up to (not including) the next '\n', which is consumed. No newline → truncated.
    mutating func line() throws -> UnsafeRawBufferPointer {
        var i = offset
        while i < base.count {
            if base[i] == 0x0A {
                let slice = UnsafeRawBufferPointer(rebasing: base[offset..<i])
                offset = i + 1
                return slice
            }
            i += 1
        }
        throw PickleError.truncated(offset: offset, needed: remaining + 1, available: remaining)
    }
}
