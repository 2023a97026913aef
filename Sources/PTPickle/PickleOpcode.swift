// The opcodes of pickle protocols 0–5. The raw value of each case IS the opcode byte, so
// `PickleOpcode(rawValue: byte)` is the only decoding table there is.
//
// Names follow CPython's Lib/pickle.py (and pickletools) in lowerCamelCase; `name` gives the
// python spelling (SHORT_BINUNICODE …) for messages.

/// One pickle opcode; `rawValue` is the byte that encodes it.
public enum PickleOpcode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    // Protocol 0 (text) and 1 (binary) — "protocol 1" is the binary subset below.
    case mark = 0x28            // '('  push a mark
    case stop = 0x2E            // '.'  end; the top of stack is the result
    case pop = 0x30             // '0'  discard top (or the mark, if the frame is empty)
    case popMark = 0x31         // '1'  discard everything down to the topmost mark
    case dup = 0x32             // '2'  duplicate top
    case float = 0x46           // 'F'  float as text, newline-terminated
    case int = 0x49             // 'I'  int as text; "01"/"00" are True/False
    case binint = 0x4A          // 'J'  4-byte signed little-endian int
    case binint1 = 0x4B         // 'K'  1-byte unsigned int
    case long = 0x4C            // 'L'  long as text, optionally ending in 'L'
    case binint2 = 0x4D         // 'M'  2-byte unsigned little-endian int
    case none = 0x4E            // 'N'  None
    case persid = 0x50          // 'P'  persistent id as text
    case binpersid = 0x51       // 'Q'  persistent id from the stack
    case reduce = 0x52          // 'R'  apply callable to an argument tuple
    case string = 0x53          // 'S'  quoted python-2 str repr
    case binstring = 0x54       // 'T'  4-byte signed length + bytes (python-2 str)
    case shortBinstring = 0x55  // 'U'  1-byte length + bytes (python-2 str)
    case unicode = 0x56         // 'V'  raw-unicode-escape text, newline-terminated
    case binunicode = 0x58      // 'X'  4-byte length + UTF-8
    case append = 0x61          // 'a'
    case build = 0x62           // 'b'  __setstate__ / __dict__.update
    case global = 0x63          // 'c'  module\nname\n
    case dict = 0x64            // 'd'  dict from the items above the mark
    case emptyDict = 0x7D       // '}'
    case appends = 0x65         // 'e'
    case get = 0x67             // 'g'  memo index as text
    case binget = 0x68          // 'h'  1-byte memo index
    case inst = 0x69            // 'i'  module\nname\n, args above the mark
    case longBinget = 0x6A      // 'j'  4-byte memo index
    case list = 0x6C            // 'l'  list from the items above the mark
    case emptyList = 0x5D       // ']'
    case obj = 0x6F             // 'o'  class and args above the mark
    case put = 0x70             // 'p'  memo index as text
    case binput = 0x71          // 'q'
    case longBinput = 0x72      // 'r'
    case setitem = 0x73         // 's'
    case tuple = 0x74           // 't'  tuple from the items above the mark
    case emptyTuple = 0x29      // ')'
    case setitems = 0x75        // 'u'
    case binfloat = 0x47        // 'G'  8-byte big-endian IEEE double
    // Protocol 2
    case proto = 0x80
    case newobj = 0x81
    case ext1 = 0x82
    case ext2 = 0x83
    case ext4 = 0x84
    case tuple1 = 0x85
    case tuple2 = 0x86
    case tuple3 = 0x87
    case newtrue = 0x88
    case newfalse = 0x89
    case long1 = 0x8A
    case long4 = 0x8B
    // Protocol 3
    case binbytes = 0x42        // 'B'
    case shortBinbytes = 0x43   // 'C'
    // Protocol 4
    case shortBinunicode = 0x8C
    case binunicode8 = 0x8D
    case binbytes8 = 0x8E
    case emptySet = 0x8F
    case additems = 0x90
    case frozenset = 0x91
    case newobjEx = 0x92
    case stackGlobal = 0x93
    case memoize = 0x94
    case frame = 0x95
    // Protocol 5
    case bytearray8 = 0x96
    case nextBuffer = 0x97
    case readonlyBuffer = 0x98

    /// The python name, e.g. `SHORT_BINUNICODE`.
    public var name: String {
        switch self {
        case .mark: return "MARK"
        case .stop: return "STOP"
        case .pop: return "POP"
        case .popMark: return "POP_MARK"
        case .dup: return "DUP"
        case .float: return "FLOAT"
        case .int: return "INT"
        case .binint: return "BININT"
        case .binint1: return "BININT1"
        case .long: return "LONG"
        case .binint2: return "BININT2"
        case .none: return "NONE"
        case .persid: return "PERSID"
        case .binpersid: return "BINPERSID"
        case .reduce: return "REDUCE"
        case .string: return "STRING"
        case .binstring: return "BINSTRING"
        case .shortBinstring: return "SHORT_BINSTRING"
        case .unicode: return "UNICODE"
        case .binunicode: return "BINUNICODE"
        case .append: return "APPEND"
        case .build: return "BUILD"
        case .global: return "GLOBAL"
        case .dict: return "DICT"
        case .emptyDict: return "EMPTY_DICT"
        case .appends: return "APPENDS"
        case .get: return "GET"
        case .binget: return "BINGET"
        case .inst: return "INST"
        case .longBinget: return "LONG_BINGET"
        case .list: return "LIST"
        case .emptyList: return "EMPTY_LIST"
        case .obj: return "OBJ"
        case .put: return "PUT"
        case .binput: return "BINPUT"
        case .longBinput: return "LONG_BINPUT"
        case .setitem: return "SETITEM"
        case .tuple: return "TUPLE"
        case .emptyTuple: return "EMPTY_TUPLE"
        case .setitems: return "SETITEMS"
        case .binfloat: return "BINFLOAT"
        case .proto: return "PROTO"
        case .newobj: return "NEWOBJ"
        case .ext1: return "EXT1"
        case .ext2: return "EXT2"
        case .ext4: return "EXT4"
        case .tuple1: return "TUPLE1"
        case .tuple2: return "TUPLE2"
        case .tuple3: return "TUPLE3"
        case .newtrue: return "NEWTRUE"
        case .newfalse: return "NEWFALSE"
        case .long1: return "LONG1"
        case .long4: return "LONG4"
        case .binbytes: return "BINBYTES"
        case .shortBinbytes: return "SHORT_BINBYTES"
        case .shortBinunicode: return "SHORT_BINUNICODE"
        case .binunicode8: return "BINUNICODE8"
        case .binbytes8: return "BINBYTES8"
        case .emptySet: return "EMPTY_SET"
        case .additems: return "ADDITEMS"
        case .frozenset: return "FROZENSET"
        case .newobjEx: return "NEWOBJ_EX"
        case .stackGlobal: return "STACK_GLOBAL"
        case .memoize: return "MEMOIZE"
        case .frame: return "FRAME"
        case .bytearray8: return "BYTEARRAY8"
        case .nextBuffer: return "NEXT_BUFFER"
        case .readonlyBuffer: return "READONLY_BUFFER"
        }
    }

    public var description: String { name }

    /// The protocol that introduced the opcode (pickletools' `proto` field).
    public var protocolIntroduced: Int {
        switch self {
        case .mark, .stop, .pop, .dup, .float, .int, .long, .none, .persid, .reduce, .string,
             .unicode, .append, .build, .global, .dict, .get, .inst, .list, .put, .setitem, .tuple:
            return 0
        case .popMark, .binint, .binint1, .binint2, .binpersid, .binstring, .shortBinstring,
             .binunicode, .emptyDict, .appends, .binget, .longBinget, .emptyList, .obj, .binput,
             .longBinput, .emptyTuple, .setitems, .binfloat:
            return 1
        case .proto, .newobj, .ext1, .ext2, .ext4, .tuple1, .tuple2, .tuple3, .newtrue, .newfalse,
             .long1, .long4:
            return 2
        case .binbytes, .shortBinbytes:
            return 3
        case .shortBinunicode, .binunicode8, .binbytes8, .emptySet, .additems, .frozenset,
             .newobjEx, .stackGlobal, .memoize, .frame:
            return 4
        case .bytearray8, .nextBuffer, .readonlyBuffer:
            return 5
        }
    }
}
