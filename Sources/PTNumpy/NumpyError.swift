import PTTensor
import PTZip

/// Why a `.npy` / `.npz` file was refused, or an array could not be written.
///
/// Reading errors carry a `Source` (the file, and the member for an `.npz`), so that every
/// description starts by naming what is at fault, then says what was expected and what was
/// found, on one line:
/// `ref.npz: member 'h_n.npy': header declares shape (2, 3, 4) = 24 float32 values (96 bytes) but 80 bytes follow`.
/// Values that come from the header are quoted the way Python's `repr` prints them.
public enum NumpyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Where an array was read from: a `.npy` file (or the name given to
    /// `readNpy(bytes:name:)`), or one member of an `.npz` archive.
    public struct Source: Equatable, Sendable, CustomStringConvertible {
        public let file: String
        /// The archive member (`"h_n.npy"`), or nil for a lone `.npy`.
        public let member: String?

        public init(file: String, member: String? = nil) {
            self.file = file
            self.member = member
        }

        public var description: String {
            member.map { "\(file): member '\($0)'" } ?? file
        }
    }

    // MARK: .npy structure

    /// The file could not be opened, inspected or mapped; `reason` is the system's message.
    case cannotOpen(path: String, reason: String)
    /// The data does not start with the magic string "\x93NUMPY"; `found` is what is there instead (at most 6 bytes).
    case badMagic(source: Source, found: [UInt8])
    /// The data ends inside the preamble: the magic, the two version bytes and the 2-byte (1.0) or 4-byte (2.0, 3.0) header length.
    case truncatedPreamble(source: Source, needed: Int, available: Int)
    /// The format version is not 1.0, 2.0 or 3.0.
    case unsupportedVersion(source: Source, major: UInt8, minor: UInt8)
    /// The header length field declares more than 10,000 bytes (numpy's `_MAX_HEADER_SIZE`); nothing of it is read.
    case headerTooLarge(source: Source, declared: Int, limit: Int)
    /// The header length field declares more bytes than the data holds after the preamble.
    case truncatedHeader(source: Source, declared: Int, available: Int)
    /// A version 3.0 header is not valid UTF-8.
    case headerNotUTF8(source: Source)
    /// The header is not a plain Python literal (names, calls, operators, floats, escapes, string prefixes, comments, or nesting deeper than 32 levels); `offset` counts bytes from the start of the header.
    case nonLiteralHeader(source: Source, offset: Int, expected: String, found: String)
    /// The header is a literal but not a dict.
    case headerNotADict(source: Source, found: String)
    /// The header dict's keys are not exactly 'descr', 'fortran_order' and 'shape' (each once); `found` holds their reprs in header order.
    case wrongHeaderKeys(source: Source, found: [String])

    // MARK: .npy header values

    /// 'descr' is an object dtype ('|O'): the data is a pickle, which is never loaded.
    case objectArray(source: Source, descr: String)
    /// 'descr' is a list (structured dtype with fields), a tuple (subarray) or a dict.
    case structuredDescr(source: Source, descr: String)
    /// 'descr' is not one of the supported type strings: '<', '>', '=' or '|' then b1, i1/2/4/8, u1/2/4/8, f2/4/8 or c8/16.
    case unknownDescr(source: Source, descr: String)
    /// 'fortran_order' is not True or False.
    case invalidFortranOrder(source: Source, found: String)
    /// 'shape' is not a tuple of integers.
    case invalidShape(source: Source, found: String)
    /// 'shape' has a negative entry.
    case negativeDimension(source: Source, shape: String)
    /// 'shape' has more than 64 entries (numpy's and torch's limit).
    case tooManyDimensions(source: Source, rank: Int, limit: Int)
    /// An entry of 'shape', or the array's size in bytes, does not fit in a signed 64-bit integer.
    case shapeOverflow(source: Source, shape: String, dtype: DType)
    /// The bytes after the header are fewer or more than 'shape' and 'descr' declare.
    case dataSizeMismatch(source: Source, shape: [Int], dtype: DType, expectedBytes: Int, actualBytes: Int)
    /// PTTensor refused the array (not expected once the checks above have passed).
    case invalidTensor(source: Source, error: TensorError)

    // MARK: .npz

    /// The `.npz` is not a valid zip archive, or a member's bytes could not be read (CRC, inflate); the zip layer's error names the file and member.
    case archive(ZipError)
    /// An `.npz` member's name does not end in ".npy".
    case memberNotNpy(path: String, member: String)

    // MARK: writing

    /// The tensor's dtype has no numpy equivalent (bfloat16, complex32, float8, packed float4, quantized).
    case unsupportedDType(name: String, dtype: DType)
    /// An array name for an `.npz` is empty, or its member name is longer than 65,535 bytes.
    case invalidArrayName(name: String, reason: String)
    /// Two arrays given to `writeNpz` have the same name.
    case duplicateArrayName(String)
    /// The tensor's bytes could not be read (its storage loader failed); `reason` is that error's description.
    case unreadableTensor(name: String, reason: String)
    /// The file could not be created or written; `reason` is the system's message.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open: \(reason)"
        case let .badMagic(source, found):
            let what = found.isEmpty ? "an empty file" : "bytes \(hexBytes(found))"
            return "\(source): not a .npy file: expected the magic string 93 4e 55 4d 50 59 ('\\x93NUMPY'), found \(what)"
        case let .truncatedPreamble(source, needed, available):
            return "\(source): truncated .npy: the magic, version and header length need \(needed) bytes but only \(available) are there"
        case let .unsupportedVersion(source, major, minor):
            return "\(source): .npy format version \(major).\(minor) is not supported; expected 1.0, 2.0 or 3.0"
        case let .headerTooLarge(source, declared, limit):
            return "\(source): the .npy header declares \(declared) bytes; at most \(limit) are accepted (numpy's max_header_size)"
        case let .truncatedHeader(source, declared, available):
            return "\(source): truncated .npy: the header declares \(declared) bytes but only \(available) follow the preamble"
        case let .headerNotUTF8(source):
            return "\(source): the version 3.0 .npy header is not valid UTF-8"
        case let .nonLiteralHeader(source, offset, expected, found):
            return "\(source): the .npy header is not a plain Python literal: at offset \(offset) expected \(expected), found \(found)"
        case let .headerNotADict(source, found):
            return "\(source): the .npy header is \(found); expected a dict with keys 'descr', 'fortran_order', 'shape'"
        case let .wrongHeaderKeys(source, found):
            let keys = found.isEmpty ? "no keys" : "keys " + found.joined(separator: ", ")
            return "\(source): the .npy header has \(keys); expected exactly 'descr', 'fortran_order', 'shape'"
        case let .objectArray(source, descr):
            return "\(source): descr \(descr) is an object array (pickled Python objects); only numeric and bool arrays are read"
        case let .structuredDescr(source, descr):
            return "\(source): descr \(descr) is a structured or subarray dtype; expected a plain type string such as '<f4'"
        case let .unknownDescr(source, descr):
            return "\(source): descr \(descr) is not a supported dtype; expected a byte order (<, >, |, =) and b1, i1-i8, u1-u8, f2/f4/f8 or c8/c16"
        case let .invalidFortranOrder(source, found):
            return "\(source): fortran_order is \(found); expected True or False"
        case let .invalidShape(source, found):
            return "\(source): shape is \(found); expected a tuple of integers"
        case let .negativeDimension(source, shape):
            return "\(source): shape \(shape) has a negative dimension"
        case let .tooManyDimensions(source, rank, limit):
            return "\(source): shape has \(rank) dimensions; at most \(limit) are accepted"
        case let .shapeOverflow(source, shape, dtype):
            return "\(source): shape \(shape) of \(dtype.rawValue) does not fit in 64 bits (elements or bytes exceed 2^63 - 1)"
        case let .dataSizeMismatch(source, shape, dtype, expected, actual):
            let count = expected / max(dtype.itemSize, 1)
            let values = count == 1 ? "value" : "values"
            return "\(source): header declares shape \(pythonTuple(shape)) = \(count) \(dtype.rawValue) \(values) (\(expected) bytes) but \(actual) bytes follow"
        case let .invalidTensor(source, error):
            return "\(source): \(error)"
        case let .archive(error):
            return error.description
        case let .memberNotNpy(path, member):
            return "\(path): member '\(member)': expected a name ending in '.npy' (an .npz holds only .npy files)"
        case let .unsupportedDType(name, dtype):
            return "\(name): \(dtype.rawValue) has no numpy dtype; expected float16/32/64, int8-64, uint8-64, bool or complex64/128"
        case let .invalidArrayName(name, reason):
            return "array name '\(name)': \(reason)"
        case let .duplicateArrayName(name):
            return "array name '\(name)' is given twice; .npz member names must be unique"
        case let .unreadableTensor(name, reason):
            return "\(name): cannot read the tensor's bytes: \(reason)"
        case let .cannotWrite(path, reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}

/// `(2, 3)`, `(3,)`, `()`: a shape as Python prints a tuple.
func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

private func hexBytes(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}
