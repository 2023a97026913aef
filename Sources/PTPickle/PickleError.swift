/// Every way `unpickle` can fail. Offsets are byte offsets into the input (of the opcode unless
/// said otherwise). Errors thrown by hooks are not wrapped: they propagate unchanged.
public enum PickleError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The input ended inside an opcode or its argument: `needed` bytes were wanted at `offset`, `available` remained.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A declared length (BINBYTES8, BINUNICODE8, BYTEARRAY8 …) is larger than this machine can address at all.
    case lengthOverflow(offset: Int, opcode: PickleOpcode, length: UInt64)
    /// A declared byte count is negative (BINSTRING, LONG4 take signed lengths).
    case negativeLength(offset: Int, opcode: PickleOpcode, length: Int64)
    /// FRAME announces more bytes than remain in the input.
    case frameExceedsInput(offset: Int, length: UInt64, available: Int)
    /// The opcode at `offset` began inside a FRAME and runs past its end at `frameEnd`.
    case frameOverrun(offset: Int, opcode: PickleOpcode, frameEnd: Int)
    /// A FRAME begins before the previous frame, which ends at `frameEnd`, has ended.
    case frameInsideFrame(offset: Int, frameEnd: Int)
    /// PROTO anywhere but at offset 0 (CPython's pickler writes it first or not at all).
    case lateProto(offset: Int)
    /// The byte at `offset` is not a pickle opcode.
    case unknownOpcode(byte: UInt8, offset: Int)
    /// PROTO names a protocol this machine does not know (above 5).
    case unsupportedProtocol(Int, offset: Int)
    /// The opcode's inline argument is not well formed (INT/LONG/FLOAT/PUT/GET text, STRING quoting or escapes, odd
    /// item counts …).
    case malformed(offset: Int, opcode: PickleOpcode, reason: String)
    /// Text is not valid in its encoding (invalid UTF-8, bad raw-unicode-escape, lone surrogate, non-ASCII PERSID).
    case invalidString(offset: Int, opcode: PickleOpcode, reason: String)
    /// The opcode needed a value and the stack (above the topmost mark) was empty.
    case stackUnderflow(offset: Int, opcode: PickleOpcode)
    /// The opcode needed a MARK and none was set.
    case markMissing(offset: Int, opcode: PickleOpcode)
    /// GET / BINGET / LONG_BINGET of a memo index that was never stored.
    case memoMissing(index: Int, offset: Int)
    /// A value has the wrong type for the opcode consuming it (APPEND to a non-list, REDUCE args not a tuple …).
    case wrongType(offset: Int, opcode: PickleOpcode, expected: String, found: String)
    /// REDUCE / NEWOBJ / NEWOBJ_EX / OBJ applied to something that is not a global name.
    case notCallable(offset: Int, opcode: PickleOpcode, found: String)
    /// A dict key or set element python could not hash (a list, dict, set, bytearray), or one nested too deeply or
    /// holding too many values to hash.
    case unhashable(offset: Int, opcode: PickleOpcode, found: String)
    /// BUILD on a value that cannot take state (list, tuple, set, scalar …).
    case cannotBuild(offset: Int, found: String)
    /// BUILD on a hook-made `.custom` value and no `build` hook was supplied.
    case buildWithoutHook(offset: Int)
    /// PERSID / BINPERSID and no `persistentLoad` hook was supplied: persistent id without a loader.
    case persistentIDWithoutLoader(offset: Int)
    /// EXT1 / EXT2 / EXT4: the copyreg extension registry is a code lookup; refused.
    case extensionRegistry(offset: Int, opcode: PickleOpcode, code: Int)
    /// NEXT_BUFFER / READONLY_BUFFER: out-of-band buffers are never part of a file; refused.
    case outOfBandBuffer(offset: Int, opcode: PickleOpcode)
    /// More than `PickleLimits.maxOpcodes` opcodes.
    case tooManyOpcodes(limit: Int, offset: Int)
    /// The stack (values plus marks) would grow beyond `PickleLimits.maxStackDepth`.
    case stackTooDeep(limit: Int, offset: Int)
    /// The memo would hold more than `PickleLimits.maxMemoEntries` entries.
    case tooManyMemoEntries(limit: Int, offset: Int)
    /// Strings, bytes and big ints materialized would exceed `PickleLimits.maxTotalBytes`.
    case tooManyBytes(limit: Int, offset: Int)
    /// A built value would nest containers deeper than `PickleLimits.maxNestingDepth`.
    case nestingTooDeep(limit: Int, offset: Int)
    /// Hashing keys and set elements would cost more than `PickleLimits.maxKeyWork` plus
    /// `keyWorkPerByte` per byte of pickle (`limit` is that sum for this pickle).
    case tooMuchKeyWork(limit: Int, offset: Int)

    public var description: String {
        switch self {
        case let .truncated(offset, needed, available):
            return "pickle truncated at offset \(offset): needed \(needed) byte(s), \(available) available"
        case let .lengthOverflow(offset, opcode, length):
            return "\(opcode) at offset \(offset) declares \(length) bytes, more than can be addressed"
        case let .negativeLength(offset, opcode, length):
            return "\(opcode) at offset \(offset) declares a negative byte count (\(length))"
        case let .frameExceedsInput(offset, length, available):
            return "FRAME at offset \(offset) announces \(length) bytes but only \(available) remain"
        case let .frameOverrun(offset, opcode, frameEnd):
            return "\(opcode) at offset \(offset) runs past the end of its FRAME at offset \(frameEnd)"
        case let .frameInsideFrame(offset, frameEnd):
            return "FRAME at offset \(offset) begins inside the previous frame, which ends at offset \(frameEnd)"
        case let .lateProto(offset):
            return "PROTO at offset \(offset): only the first opcode may be PROTO"
        case let .unknownOpcode(byte, offset):
            return "unknown pickle opcode 0x\(String(byte, radix: 16)) at offset \(offset)"
        case let .unsupportedProtocol(proto, offset):
            return "unsupported pickle protocol \(proto) at offset \(offset)"
        case let .malformed(offset, opcode, reason):
            return "malformed \(opcode) at offset \(offset): \(reason)"
        case let .invalidString(offset, opcode, reason):
            return "invalid string in \(opcode) at offset \(offset): \(reason)"
        case let .stackUnderflow(offset, opcode):
            return "\(opcode) at offset \(offset): unpickling stack underflow"
        case let .markMissing(offset, opcode):
            return "\(opcode) at offset \(offset): could not find MARK"
        case let .memoMissing(index, offset):
            return "memo value not found at index \(index) (offset \(offset))"
        case let .wrongType(offset, opcode, expected, found):
            return "\(opcode) at offset \(offset) expected \(expected), found \(found)"
        case let .notCallable(offset, opcode, found):
            return "\(opcode) at offset \(offset): callable is \(found), not a global"
        case let .unhashable(offset, opcode, found):
            return "\(opcode) at offset \(offset): unhashable key or element (\(found)); keys are numbers, strings,"
                + " bytes, globals, objects, or tuples and frozensets of those nesting at most 100 levels and holding"
                + " at most 100,000 values"
        case let .cannotBuild(offset, found):
            return "BUILD at offset \(offset): \(found) cannot take state"
        case let .buildWithoutHook(offset):
            return "BUILD at offset \(offset) on a hook-made value and no build hook"
        case let .persistentIDWithoutLoader(offset):
            return "persistent id without a loader at offset \(offset)"
        case let .extensionRegistry(offset, opcode, code):
            return "\(opcode) at offset \(offset) refers to extension code \(code); the extension registry is refused"
        case let .outOfBandBuffer(offset, opcode):
            return "\(opcode) at offset \(offset): out-of-band buffers are refused (there are none in a file)"
        case let .tooManyOpcodes(limit, offset):
            return "more than \(limit) opcodes (offset \(offset))"
        case let .stackTooDeep(limit, offset):
            return "stack deeper than \(limit) entries at offset \(offset)"
        case let .tooManyMemoEntries(limit, offset):
            return "memo larger than \(limit) entries at offset \(offset)"
        case let .tooManyBytes(limit, offset):
            return "more than \(limit) bytes of strings/bytes materialized at offset \(offset)"
        case let .nestingTooDeep(limit, offset):
            return "value nested deeper than \(limit) levels at offset \(offset)"
        case let .tooMuchKeyWork(limit, offset):
            return "more than \(limit) units of work hashing dict keys and set elements at offset \(offset); the same"
                + " keys are hashed again and again"
        }
    }
}
