import PTTensor
import PTZip

/// Reads a `.safetensors` file (huggingface/safetensors): an 8-byte little-endian header length
/// N, N bytes of UTF-8 JSON, then the tensors' bytes. Every tensor is a view of the mapped file;
/// nothing is copied until read.
///
/// The header is checked as strictly as the zip layer checks a central directory, before any
/// tensor is made: N at most `maxHeaderBytes` and inside the file; UTF-8; a JSON object of
/// objects, nothing nested deeper, no duplicate key; `__metadata__` a map of strings; each
/// tensor a known dtype, a shape of non-negative integers whose byte size fits 64 bits and equals
/// its `data_offsets` span; the spans, sorted, tile the data exactly from 0 to its end (no hole,
/// no overlap, nothing after).
struct SafetensorsReader {
    /// The format's own limit (`MAX_HEADER_SIZE`).
    static let maxHeaderBytes = 100_000_000
    static let maxTensors = FileLimits.maxTensors

    let path: String
    let file: MappedFile

    /// Whether `bytes` look like a safetensors file: a header length that fits, then `{`.
    static func recognises(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 10 else { return false }
        let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        return bytes[8] == UInt8(ascii: "{") && n >= 2 && n <= UInt64(bytes.count - 8)
    }

    func read() throws -> Checkpoint {
        let bytes = file.bytes
        func bad(_ why: String) -> CheckpointError { CheckpointError(path: path, .safetensors(why)) }
        guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes; a safetensors file starts with an 8-byte header length") }
        let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard n <= UInt64(SafetensorsReader.maxHeaderBytes) else {
            throw bad("header length \(n) is over the format's limit of \(SafetensorsReader.maxHeaderBytes) bytes")
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw bad("header length \(n) runs past the end of the file (\(bytes.count - 8) bytes after the length)")
        }
        let headerEnd = 8 + Int(n)
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw bad("the header is not UTF-8") }
        var parser = HeaderParser(text: headerBytes)
        let dataCount = bytes.count - headerEnd
        var records: [(name: String, value: String)] = []
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        // One member at a time, as the parser reads it: no tree of the whole header is held. The
        // parser refuses duplicate keys (compared by their bytes).
        do {
          try parser.parseHeader { key, value in
            guard case .object(let fields) = value else { throw bad("'\(key)' is not an object") }
            if key == "__metadata__" {
                for (name, v) in fields {
                    guard case .string(let s) = v else { throw bad("__metadata__ '\(name)' is not a string") }
                    records.append(("metadata " + name, s))
                }
                return
            }
            guard entries.count < SafetensorsReader.maxTensors else { throw bad("more than \(SafetensorsReader.maxTensors) tensors") }
            var dtypeName: String?, shape: [Int]?, offsets: [Int]?
            for (field, v) in fields {
                switch (field, v) {
                case ("dtype", .string(let s)): dtypeName = s
                case ("shape", .integers(let list)): shape = list
                case ("data_offsets", .integers(let list)): offsets = list
                default: throw bad("tensor '\(key)': unexpected field '\(field)' or value")
                }
            }
            guard let dtypeName, let shape, let offsets else {
                throw bad("tensor '\(key)' needs dtype, shape and data_offsets")
            }
            guard let dtype = SafetensorsReader.dtype(named: dtypeName) else {
                throw bad("tensor '\(key)' has dtype '\(dtypeName)', which ptload does not know")
            }
            guard offsets.count == 2, offsets[0] <= offsets[1] else {
                throw bad("tensor '\(key)' has data_offsets \(offsets); expected [begin, end] with begin <= end")
            }
            guard shape.count <= Tensor.maxRank else { throw bad("tensor '\(key)' has \(shape.count) dimensions") }
            var size = dtype.itemSize
            for d in shape {
                let (product, overflow) = size.multipliedReportingOverflow(by: d)
                guard !overflow else { throw bad("tensor '\(key)': shape \(shape) overflows 64 bits") }
                size = product
            }
            guard size == offsets[1] - offsets[0] else {
                throw bad("tensor '\(key)': shape \(shape) of \(dtypeName) needs \(size) bytes; data_offsets \(offsets) hold \(offsets[1] - offsets[0])")
            }
            guard offsets[1] <= dataCount else {
                throw bad("tensor '\(key)': data_offsets \(offsets) run past the data's \(dataCount) bytes")
            }
            entries.append((key, dtype, shape, offsets[0], offsets[1]))
          }
        } catch let e as HeaderParser.Failure {
            throw bad("the header is not a safetensors header: \(e.why)")
        }
        var position = 0
        // By offsets, ties in header order: the later of two overlapping tensors is the one named.
        let byOffset = entries.indices.sorted { (entries[$0].begin, entries[$0].end, $0) < (entries[$1].begin, entries[$1].end, $1) }
        for e in byOffset.map({ entries[$0] }) {
            guard e.begin == position else {
                throw bad(e.begin > position ? "bytes \(position)..<\(e.begin) of the data belong to no tensor"
                                             : "tensor '\(e.name)' (data_offsets [\(e.begin), \(e.end)]) overlaps the tensor before it")
            }
            position = e.end
        }
        guard position == dataCount else {
            throw bad("\(dataCount - position) bytes after the last tensor belong to no tensor")
        }
        let file = self.file
        let tensors = try entries.sorted(by: { $0.begin < $1.begin || ($0.begin == $1.begin && $0.end < $1.end) }).map { e -> NamedTensor in
            let start = headerEnd + e.begin, count = e.end - e.begin
            let storage = Storage(key: e.name, dtype: e.dtype, byteCount: count, origin: "data[\(e.begin)..<\(e.end)]") {
                StorageBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + count)]), owner: file)
            }
            do {
                let tensor = try Tensor(storage: storage, dtype: e.dtype, shape: e.shape,
                                        strides: Tensor.contiguousStrides(for: e.shape), storageOffset: 0)
                return NamedTensor(key: e.name, tensor: tensor, isParameter: false)
            } catch let error as TensorError {
                throw CheckpointError(path: path, .tensor(key: e.name, error))
            }
        }
        return Checkpoint(path: path, format: .safetensors, archiveName: nil, pickleProtocol: 0, records: records,
                          tensors: tensors, modules: [], opaqueClasses: [], globals: [], constants: [])
    }

    static let names: [String: DType] = [
        "BOOL": .bool, "U8": .uint8, "I8": .int8, "F8_E5M2": .float8_e5m2, "F8_E4M3": .float8_e4m3fn,
        "F8_E8M0": .float8_e8m0fnu, "F8_E4M3FNUZ": .float8_e4m3fnuz, "F8_E5M2FNUZ": .float8_e5m2fnuz, "I16": .int16,
        "U16": .uint16, "F16": .float16, "BF16": .bfloat16, "I32": .int32, "U32": .uint32, "F32": .float32,
        "C64": .complex64, "F64": .float64, "I64": .int64, "U64": .uint64,
    ]

    static func dtype(named name: String) -> DType? { names[name] }
}

/// The JSON a safetensors header may hold, and nothing more: an object whose values are objects
/// whose values are strings or arrays of non-negative integers (below 2^63, written without
/// leading zeros, as serde_json requires). Works on the header's bytes, already checked to be
/// UTF-8, so that a 100 MB header costs no more than its own size again.
struct HeaderParser {
    enum Value {
        case string(String)
        case integers([Int])
        case object([(String, Value)])
    }
    struct Failure: Error { let why: String }

    let text: UnsafeRawBufferPointer
    var i = 0

    init(text: UnsafeRawBufferPointer) { self.text = text }

    /// Reads the header, handing each top-level member to `each` as soon as it is read.
    /// - Throws: `Failure` for text outside the grammar, and whatever `each` throws.
    mutating func parseHeader(_ each: (String, Value) throws -> Void) throws {
        skipSpace()
        _ = try withoutActuallyEscaping(each) { each in try object(depth: 0, each: each) }
        skipSpace()
        guard i == text.count else { throw Failure(why: "text after the closing brace at byte \(i)") }
    }

    /// An object's members; at the top level (`each` given) handed over one by one instead.
    private mutating func object(depth: Int, each: ((String, Value) throws -> Void)? = nil) throws -> [(String, Value)] {
        try expect("{")
        var members: [(String, Value)] = []
        var keys = Set<ExactName>()
        skipSpace()
        if peek() == UInt8(ascii: "}") { i += 1; return members }
        while true {
            skipSpace()
            let key = try string()
            guard keys.insert(ExactName(key)).inserted else { throw Failure(why: "key '\(key)' appears twice") }
            skipSpace()
            try expect(":")
            skipSpace()
            let value: Value
            switch peek().map(UnicodeScalar.init) {
            case "{":
                guard depth == 0 else { throw Failure(why: "objects nest deeper than a safetensors header does") }
                value = .object(try object(depth: depth + 1))
            case "\"": value = .string(try string())
            case "[": value = .integers(try integers())
            default: throw Failure(why: "unexpected character at byte \(i)")
            }
            if let each { try each(key, value) } else { members.append((key, value)) }
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect("}")
            return members
        }
    }

    private mutating func integers() throws -> [Int] {
        try expect("[")
        var out: [Int] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") { i += 1; return out }
        while true {
            skipSpace()
            var value = 0
            var digits = 0
            let start = i
            while let c = peek(), c >= 48 && c <= 57 {
                if digits == 1 && text[start] == 48 { throw Failure(why: "an integer at \(start) has a leading zero") }
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(Int(c - 48))
                guard !o1 && !o2 else { throw Failure(why: "an integer at \(i) overflows 64 bits") }
                value = plus
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw Failure(why: "expected a non-negative integer at \(i)") }
            out.append(value)
            guard out.count <= Tensor.maxRank + 2 else { throw Failure(why: "an array longer than any shape") }
            skipSpace()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect("]")
            return out
        }
    }

    private mutating func string() throws -> String {
        try expect("\"")
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw Failure(why: "a string runs to the end of the header") }
            i += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw Failure(why: "a string runs to the end of the header") }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard peek() == UInt8(ascii: "\\") else { throw Failure(why: "an unpaired surrogate at \(i)") }
                        i += 1
                        try expect("u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Failure(why: "an unpaired surrogate at \(i)") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw Failure(why: "an unpaired surrogate at \(i)") }
                    out.append(contentsOf: String(scalar).utf8)
                default: throw Failure(why: "a bad escape at \(i)")
                }
            default:
                guard c >= 0x20 else { throw Failure(why: "a control character in a string at \(i)") }
                out.append(c)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek(), let digit = UInt32(String(UnicodeScalar(c)), radix: 16) else {
                throw Failure(why: "a bad \\u escape at \(i)")
            }
            code = code * 16 + digit
            i += 1
        }
        return code
    }

    private mutating func expect(_ c: Unicode.Scalar) throws {
        guard peek() == UInt8(c.value) else { throw Failure(why: "expected '\(c)' at byte \(i)") }
        i += 1
    }

    private func peek() -> UInt8? { i < text.count ? text[i] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 }
    }
}
