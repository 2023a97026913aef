import PTTensor

/// The safetensors format (huggingface/safetensors, `safetensors/src/tensor.rs`): an 8-byte
/// little-endian header length N, N bytes of UTF-8 JSON, then the tensors' bytes, contiguous,
/// C order, with no holes or overlaps. The header maps each tensor's name to
/// `{"dtype", "shape", "data_offsets"}`, offsets counted from the end of the header, and
/// `__metadata__` to a map of strings.
public enum Safetensors {
    /// The format's own limit on N (`MAX_HEADER_SIZE`).
    public static let maxHeaderBytes = 100_000_000
    /// The most tensors a header may hold here (`FileLimits.maxTensors`).
    public static let maxTensors = FileLimits.maxTensors

    /// Whether `bytes` look like a safetensors file: a header length that fits, then `{`.
    public static func recognises(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 10 else { return false }
        let n = headerLength(bytes)
        return bytes[8] == UInt8(ascii: "{") && n >= 2 && n <= UInt64(bytes.count - 8)
    }

    /// N, from the first 8 bytes (at least 8 there).
    static func headerLength(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
    }
}

/// One tensor of a safetensors header.
public struct SafetensorsTensor: Equatable, Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Where its bytes are in the data after the header (`data_offsets`).
    public let dataOffsets: Range<Int>
}

/// A safetensors file's header, checked as strictly as the zip layer checks a central
/// directory, before any tensor is made: N at most `Safetensors.maxHeaderBytes` and inside the
/// file; UTF-8; a JSON object of objects, nothing nested deeper, no duplicate key;
/// `__metadata__` a map of strings; each tensor a known dtype, a shape of non-negative integers
/// whose byte size fits 64 bits and equals its `data_offsets` span; the spans, sorted, tile the
/// data exactly from 0 to its end (no hole, no overlap, nothing after).
public struct SafetensorsHeader: Sendable {
    /// `__metadata__`, in header order.
    public let metadata: [(key: String, value: String)]
    /// The tensors, in header order.
    public let tensors: [SafetensorsTensor]
    /// Where the data starts in the file: 8 + N.
    public let dataStart: Int

    /// Reads and checks the header of the safetensors file `file` (the whole file: the data's
    /// length is checked against the spans).
    /// - Throws: `SafetensorsError` for the first rule the file breaks, members checked in
    ///   header order as they are read.
    public init(parsing file: UnsafeRawBufferPointer) throws(SafetensorsError) {
        guard file.count >= 8 else { throw .tooShort(byteCount: file.count) }
        let n = Safetensors.headerLength(file)
        guard n <= UInt64(Safetensors.maxHeaderBytes) else {
            throw .headerOverLimit(length: n, limit: Safetensors.maxHeaderBytes)
        }
        guard n <= UInt64(file.count - 8) else { throw .headerPastEnd(length: n, available: file.count - 8) }
        let headerEnd = 8 + Int(n)
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<headerEnd])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        var parser = HeaderParser(text: headerBytes)
        let dataCount = file.count - headerEnd
        var metadata: [(key: String, value: String)] = []
        var tensors: [SafetensorsTensor] = []
        // One member at a time, as the parser reads it: no tree of the whole header is held.
        try parser.parseHeader { (key, value) throws(SafetensorsError) in
            guard case .object(let fields) = value else { throw .notAnObject(key: key) }
            if key == "__metadata__" {
                for (name, v) in fields {
                    guard case .string(let s) = v else { throw .metadataNotString(key: name) }
                    metadata.append((name, s))
                }
                return
            }
            guard tensors.count < Safetensors.maxTensors else { throw .tooManyTensors(limit: Safetensors.maxTensors) }
            tensors.append(try SafetensorsTensor(key, fields: fields, dataCount: dataCount))
        }
        // By offsets, ties in header order: the later of two overlapping tensors is the one named.
        var position = 0
        let byOffset = tensors.indices.sorted {
            (tensors[$0].dataOffsets.lowerBound, tensors[$0].dataOffsets.upperBound, $0)
                < (tensors[$1].dataOffsets.lowerBound, tensors[$1].dataOffsets.upperBound, $1)
        }
        for t in byOffset.map({ tensors[$0] }) {
            let span = t.dataOffsets
            guard span.lowerBound == position else {
                if span.lowerBound > position { throw .hole(position..<span.lowerBound) }
                throw .overlap(tensor: t.name, begin: span.lowerBound, end: span.upperBound)
            }
            position = span.upperBound
        }
        guard position == dataCount else { throw .trailingBytes(dataCount - position) }
        self.metadata = metadata
        self.tensors = tensors
        self.dataStart = headerEnd
    }
}

extension SafetensorsTensor {
    /// A tensor's entry from its header fields, checked against the data's `dataCount` bytes.
    init(_ name: String, fields: [(String, HeaderParser.Value)], dataCount: Int) throws(SafetensorsError) {
        var dtypeName: String?, shape: [Int]?, offsets: [Int]?
        for (field, v) in fields {
            switch (field, v) {
            case ("dtype", .string(let s)): dtypeName = s
            case ("shape", .integers(let list)): shape = list
            case ("data_offsets", .integers(let list)): offsets = list
            default: throw .unexpectedField(tensor: name, field: field)
            }
        }
        guard let dtypeName, let shape, let offsets else { throw .missingField(tensor: name) }
        guard let dtype = DType(safetensorsName: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
        guard offsets.count == 2, offsets[0] <= offsets[1] else { throw .badOffsets(tensor: name, offsets: offsets) }
        guard shape.count <= Tensor.maxRank else { throw .tooManyDimensions(tensor: name, rank: shape.count) }
        var size = dtype.itemSize
        for d in shape {
            let (product, overflow) = size.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .shapeOverflow(tensor: name, shape: shape) }
            size = product
        }
        guard size == offsets[1] - offsets[0] else {
            throw .sizeMismatch(tensor: name, shape: shape, dtype: dtypeName, needed: size, offsets: offsets)
        }
        guard offsets[1] <= dataCount else { throw .pastData(tensor: name, offsets: offsets, dataCount: dataCount) }
        self.init(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
    }
}
