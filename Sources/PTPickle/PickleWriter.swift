/// Writes a pickle opcode by opcode, every byte through `PickleOpcode`: the one writer for
/// `.pt` export and for the pickles tests build. It writes what it is told, in order, and checks
/// nothing: a test can write a stream the machine must refuse as easily as a valid one.
///
///     var pickle = PickleWriter()          // PROTO 2
///     pickle.op(.emptyDict)
///     pickle.string("w"); pickle.int(3)
///     pickle.op(.setitem)
///     pickle.op(.stop)                     // {'w': 3}
///
/// Argument-free opcodes (MARK, TUPLE, REDUCE, SETITEMS, BINPERSID, STOP, …) go through `op`;
/// the others have a method each, named for the value they write. No memo is written unless
/// asked (`put`): the unpickler needs none.
public struct PickleWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    /// A pickle that starts with PROTO `version` (CPython's `Pickler` writes it for protocol 2
    /// and later).
    public init(protocol version: UInt8 = 2) {
        op(.proto)
        bytes.append(version)
    }

    /// The opcode's byte alone: the whole of an argument-free opcode, or the start of a stream
    /// a test means to break.
    public mutating func op(_ opcode: PickleOpcode) { bytes.append(opcode.rawValue) }

    /// GLOBAL: `module\nname\n`, as text.
    public mutating func global(_ module: String, _ name: String) {
        op(.global)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    /// The first of BININT1, BININT2 (both unsigned), BININT (signed 32-bit) and LONG1 that
    /// holds `value`, as CPython's `save_long` chooses; LONG1 here always of 8 bytes, signed
    /// little-endian (CPython writes the fewest bytes that hold the value).
    public mutating func int(_ value: Int) {
        if let byte = UInt8(exactly: value) {
            op(.binint1)
            bytes.append(byte)
        } else if let short = UInt16(exactly: value) {
            op(.binint2)
            append(littleEndian: short)
        } else if let word = Int32(exactly: value) {
            op(.binint)
            append(littleEndian: word)
        } else {
            long1(littleEndian: withUnsafeBytes(of: Int64(value).littleEndian, Array.init))
        }
    }

    /// LONG1: a signed little-endian integer of `bytes.count` (at most 255) bytes, written as
    /// given (the legacy format's magic number is 10 bytes).
    public mutating func long1(littleEndian integer: [UInt8]) {
        op(.long1)
        bytes.append(UInt8(integer.count))
        bytes += integer
    }

    /// A tuple of ints: EMPTY_TUPLE for none, else MARK, each `int`, TUPLE.
    public mutating func ints(_ values: [Int]) {
        if values.isEmpty { return op(.emptyTuple) }
        op(.mark)
        for value in values { int(value) }
        op(.tuple)
    }

    /// BINFLOAT: the IEEE double, big-endian (the one big-endian number in pickle).
    public mutating func float(_ value: Double) {
        op(.binfloat)
        withUnsafeBytes(of: value.bitPattern.bigEndian) { bytes += $0 }
    }

    /// NEWTRUE or NEWFALSE.
    public mutating func bool(_ value: Bool) { op(value ? .newtrue : .newfalse) }

    /// BINUNICODE: a 4-byte little-endian length, then the UTF-8 bytes.
    public mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        op(.binunicode)
        append(littleEndian: UInt32(utf8.count))
        bytes += utf8
    }

    /// SHORT_BINUNICODE: a 1-byte length (the UTF-8 must fit 255 bytes), then the UTF-8 bytes,
    /// which are written as given, valid or not.
    public mutating func shortString(utf8: [UInt8]) {
        op(.shortBinunicode)
        bytes.append(UInt8(utf8.count))
        bytes += utf8
    }

    /// BINPUT or LONG_BINPUT: stores the top of the stack at memo `index`.
    public mutating func put(_ index: Int) { memo(index, .binput, .longBinput) }

    /// BINGET or LONG_BINGET: pushes memo `index`.
    public mutating func get(_ index: Int) { memo(index, .binget, .longBinget) }

    /// A memo opcode: the 1-byte form where `index` fits, else the 4-byte little-endian one.
    private mutating func memo(_ index: Int, _ short: PickleOpcode, _ long: PickleOpcode) {
        if let byte = UInt8(exactly: index) {
            op(short)
            bytes.append(byte)
        } else {
            op(long)
            append(littleEndian: UInt32(index))
        }
    }

    private mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }
}
