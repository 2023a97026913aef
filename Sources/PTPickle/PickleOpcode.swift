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
        // Derived from the case name: insert '_' before each capital, then upper-case.
        var out = ""
        for ch in String(describing: self as PickleOpcode).unicodeScalars {
            if ch.properties.isUppercase { out.append("_") }
            out.unicodeScalars.append(ch)
        }
        return out.uppercased()
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
