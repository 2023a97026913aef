import PTTensor
import PTZip

/// Why a `.npy` / `.npz` file was refused, or an array could not be written: the file's path,
/// the `.npz` member when the error is about one, and a typed reason.
///
/// The description starts with the path (and the member), then says what was expected and what
/// was found, on one line:
/// `ref.npz: member 'h_n.npy': header declares shape (2, 3, 4) = 24 float32 values (96 bytes) but 80 bytes follow`.
/// Values that come from the header are quoted the way Python's `repr` prints them. Reading
/// errors name the file read (or the name given to `readNpy(bytes:name:)`); writing errors name
/// the output.
public struct NumpyError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file read or written (or the name that stands for bytes held in memory).
    public let path: String
    /// The `.npz` member (`"h_n.npy"`) the error is about, or nil (a lone `.npy`, the archive
    /// itself, or an array name that could not become a member).
    public let member: String?
    /// What is wrong.
    public let reason: Reason

    public init(path: String, member: String? = nil, _ reason: Reason) {
        self.path = path
        self.member = member
        self.reason = reason
    }

    /// `path: member 'NAME': reason`, one line (`path: reason` without a member).
    public var description: String {
        member.map { "\(path): member '\($0)': \(reason)" } ?? "\(path): \(reason)"
    }

    /// What is wrong with the file at `path` (or its `member`).
    public enum Reason: CustomStringConvertible, Equatable, Sendable {
        // MARK: .npy structure

        /// The file could not be opened, inspected or mapped; `reason` is the system's message.
        case cannotOpen(reason: String)
        /// The data does not start with the magic string "\x93NUMPY"; `found` is what is there instead (at most 6
        /// bytes).
        case badMagic(found: [UInt8])
        /// The data ends inside the preamble: the magic, the two version bytes and the 2-byte (1.0) or 4-byte (2.0,
        /// 3.0) header length.
        case truncatedPreamble(needed: Int, available: Int)
        /// The format version is not 1.0, 2.0 or 3.0.
        case unsupportedVersion(major: UInt8, minor: UInt8)
        /// The header length field declares more than 10,000 bytes (numpy's `_MAX_HEADER_SIZE`); nothing of it is read.
        case headerTooLarge(declared: Int, limit: Int)
        /// The header length field declares more bytes than the data holds after the preamble.
        case truncatedHeader(declared: Int, available: Int)
        /// A version 3.0 header is not valid UTF-8.
        case headerNotUTF8
        /// The header is not a plain Python literal (names, calls, operators, floats, escapes, string prefixes,
        /// comments, or nesting deeper than 32 levels); `offset` counts bytes from the start of the header,
        /// `expected` is the grammar's word, `found` the token's repr.
        case nonLiteralHeader(offset: Int, expected: String, found: String)
        /// The header is a literal but not a dict; `found` is its repr.
        case headerNotADict(found: String)
        /// The header dict's keys are not exactly 'descr', 'fortran_order' and 'shape' (each once); `found` holds
        /// their reprs in header order.
        case wrongHeaderKeys(found: [String])

        // MARK: .npy header values

        /// 'descr' is an object dtype ('|O'): the data is a pickle, which is never loaded.
        case objectArray(descr: String)
        /// 'descr' is a list (structured dtype with fields), a tuple (subarray) or a dict.
        case structuredDescr(descr: String)
        /// 'descr' is not one of the supported type strings: '<', '>', '=' or '|' then b1, i1/2/4/8, u1/2/4/8,
        /// f2/4/8 or c8/16.
        case unknownDescr(descr: String)
        /// 'fortran_order' is not True or False.
        case invalidFortranOrder(found: String)
        /// 'shape' is not a tuple of integers.
        case invalidShape(found: String)
        /// 'shape' has a negative entry.
        case negativeDimension(shape: String)
        /// 'shape' has more than 64 entries (numpy's and torch's limit).
        case tooManyDimensions(rank: Int, limit: Int)
        /// An entry of 'shape', or the array's size in bytes, does not fit in a signed 64-bit integer.
        case shapeOverflow(shape: String, dtype: DType)
        /// The bytes after the header are fewer or more than 'shape' and 'descr' declare.
        case dataSizeMismatch(shape: [Int], dtype: DType, expectedBytes: Int, actualBytes: Int)
        /// PTTensor refused the array (not expected once the checks above have passed).
        case invalidTensor(TensorError)

        // MARK: .npz

        /// The `.npz` is not a valid zip archive, or a member's bytes could not be read (CRC,
        /// inflate): the zip layer's reason, which names the entry itself.
        case archive(ZipError.Reason)
        /// The member's name does not end in ".npy".
        case notNpyMember

        // MARK: writing

        /// The array's dtype has no numpy equivalent (bfloat16, complex32, float8, packed float4, quantized).
        case unsupportedDType(DType)
        /// An array name cannot become an `.npz` member name.
        case invalidArrayName(name: String, ArrayNameFault)
        /// Two arrays written to one `.npz` have the same name.
        case duplicateArrayName(String)
        /// The array's bytes could not be read: the error its storage (or the caller's body) threw, unchanged.
        case unreadableTensor(Underlying)
        /// A streamed member was handed other than the bytes its dtype and shape declare.
        case byteCountMismatch(declared: Int, given: Int)
        /// The output could not be created or written (`FileSink`).
        case cannotWrite(FileSinkError.Reason)

        /// The reason without the path and member.
        public var description: String {
            switch self {
            case let .cannotOpen(reason):
                return "cannot open: \(reason)"
            case let .badMagic(found):
                let what = found.isEmpty ? "an empty file" : "bytes \(hexBytes(found))"
                return "not a .npy file: expected the magic string 93 4e 55 4d 50 59 ('\\x93NUMPY'), found \(what)"
            case let .truncatedPreamble(needed, available):
                return "truncated .npy: the magic, version and header length need \(needed) bytes but only"
                    + " \(available) are there"
            case let .unsupportedVersion(major, minor):
                return ".npy format version \(major).\(minor) is not supported; expected 1.0, 2.0 or 3.0"
            case let .headerTooLarge(declared, limit):
                return "the .npy header declares \(declared) bytes; at most \(limit) are accepted (numpy's"
                    + " max_header_size)"
            case let .truncatedHeader(declared, available):
                return "truncated .npy: the header declares \(declared) bytes but only \(available) follow the preamble"
            case .headerNotUTF8:
                return "the version 3.0 .npy header is not valid UTF-8"
            case let .nonLiteralHeader(offset, expected, found):
                return "the .npy header is not a plain Python literal: at offset \(offset) expected \(expected),"
                    + " found \(found)"
            case let .headerNotADict(found):
                return "the .npy header is \(found); expected a dict with keys 'descr', 'fortran_order', 'shape'"
            case let .wrongHeaderKeys(found):
                let keys = found.isEmpty ? "no keys" : "keys " + found.joined(separator: ", ")
                return "the .npy header has \(keys); expected exactly 'descr', 'fortran_order', 'shape'"
            case let .objectArray(descr):
                return "descr \(descr) is an object array (pickled Python objects); only numeric and bool arrays are"
                    + " read"
            case let .structuredDescr(descr):
                return "descr \(descr) is a structured or subarray dtype; expected a plain type string such as '<f4'"
            case let .unknownDescr(descr):
                return "descr \(descr) is not a supported dtype; expected a byte order (<, >, |, =) and b1, i1-i8,"
                    + " u1-u8, f2/f4/f8 or c8/c16"
            case let .invalidFortranOrder(found):
                return "fortran_order is \(found); expected True or False"
            case let .invalidShape(found):
                return "shape is \(found); expected a tuple of integers"
            case let .negativeDimension(shape):
                return "shape \(shape) has a negative dimension"
            case let .tooManyDimensions(rank, limit):
                return "shape has \(rank) dimensions; at most \(limit) are accepted"
            case let .shapeOverflow(shape, dtype):
                return "shape \(shape) of \(dtype.rawValue) does not fit in 64 bits (elements or bytes exceed 2^63 - 1)"
            case let .dataSizeMismatch(shape, dtype, expected, actual):
                let count = expected / max(dtype.itemSize, 1)
                let values = count == 1 ? "value" : "values"
                return "header declares shape \(pythonTuple(shape)) = \(count) \(dtype.rawValue) \(values) (\(expected)"
                    + " bytes) but \(actual) bytes follow"
            case let .invalidTensor(error):
                return error.description
            case let .archive(reason):
                return reason.description
            case .notNpyMember:
                return "expected a name ending in '.npy' (an .npz holds only .npy files)"
            case let .unsupportedDType(dtype):
                return "\(dtype.rawValue) has no numpy dtype; expected float16/32/64, int8-64, uint8-64, bool or"
                    + " complex64/128"
            case let .invalidArrayName(name, fault):
                return "array name '\(name)': \(fault.description(member: name + Npz.suffix))"
            case let .duplicateArrayName(name):
                return "array name '\(name)' is given twice; .npz member names must be unique"
            case let .unreadableTensor(underlying):
                return "cannot read the tensor's bytes: \(underlying)"
            case let .byteCountMismatch(declared, given):
                return "the array was declared with \(declared) bytes and given \(given)"
            case let .cannotWrite(reason):
                return "cannot write: \(reason)"
            }
        }
    }

    /// Why an array name cannot be an `.npz` member name (`NAME.npy`).
    public enum ArrayNameFault: Equatable, Sendable {
        /// The name is empty.
        case empty
        /// The member name has more UTF-8 bytes than the 65,535 a zip header records.
        case tooLong(byteCount: Int)
        /// The member name is not a plain relative path, which readers (ptload's among them) refuse.
        case unsafe(UnsafeNameReason)

        /// The fault, for the member name `member` (shown up to its first 64 characters).
        func description(member: String) -> String {
            switch self {
            case .empty: return "names must not be empty"
            case .tooLong(let byteCount):
                return "zip entry name '\(member.prefix(64))…' is \(byteCount) bytes of UTF-8; at most 65,535 fit in a"
                    + " zip header"
            case .unsafe(let reason):
                return "zip entry name '\(member.prefix(64))' is not a plain relative path: \(reason)"
            }
        }
    }
}

/// Where an array is read from: the file (or the name standing for bytes in memory), and the
/// member of an `.npz`; every refusal of the `.npy` reader is made here.
struct NpySource {
    let path: String
    let member: String?

    init(path: String, member: String? = nil) {
        self.path = path
        self.member = member
    }

    func error(_ reason: NumpyError.Reason) -> NumpyError {
        NumpyError(path: path, member: member, reason)
    }

    /// `path` or `path: member 'NAME'`, the storage key and origin of an array read.
    var description: String { member.map { "\(path): member '\($0)'" } ?? path }
}

extension NumpyError {
    /// An error of another layer carried unchanged (a tensor's storage: a checkpoint's
    /// `CheckpointError`, which this layer cannot name). Two are equal when they are of one
    /// `Equatable` type and compare equal.
    public struct Underlying: CustomStringConvertible, Equatable, Sendable {
        public let error: any Error

        public init(_ error: any Error) {
            self.error = error
        }

        /// The error's own description.
        public var description: String { String(describing: error) }

        public static func == (a: Underlying, b: Underlying) -> Bool {
            guard let x = a.error as? any Equatable else { return false }
            return x.isEqual(to: b.error)
        }
    }
}

private extension Equatable {
    func isEqual(to other: Any) -> Bool { (other as? Self).map { $0 == self } ?? false }
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
