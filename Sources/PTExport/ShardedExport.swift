import PTSafetensors
import PTTensor
import PTZip

/// A maximum shard size as Hugging Face reads one (`huggingface_hub/serialization/_base.py
/// parse_size_to_int`): the text stripped of white space, its last two characters a unit `TB`,
/// `GB`, `MB` or `KB` in any case (powers of 10), the rest a Python float; the result is
/// `int(value * multiplier)`, truncated toward zero.
///
///     try ShardSize.parse("200KB")   // 200_000
///     try ShardSize.parse(" 1.5mb ") // 1_500_000
///     try ShardSize.parse("2GiB")    // throws .unit("iB")
public enum ShardSize {
    /// Each unit and the bytes it stands for (`SIZE_UNITS`).
    static let units: [String: Double] = ["TB": 1e12, "GB": 1e9, "MB": 1e6, "KB": 1e3]

    /// The bytes `text` stands for.
    ///
    /// Where the hub answers and ptload refuses: a negative value (the hub returns it, and
    /// every tensor then gets a shard of its own) and a value of 2⁶³ bytes or more.
    /// - Throws: `ShardSizeFault`: no text, a unit other than the four, a value that is not a
    ///   number, not finite (the hub's `ValueError`/`OverflowError`), negative or too large.
    public static func parse(_ text: String) throws(ShardSizeFault) -> Int {
        let scalars = stripped(Array(text.unicodeScalars))
        guard !scalars.isEmpty else { throw .empty }
        let unitScalars = scalars.suffix(2)
        let unit = String(String.UnicodeScalarView(unitScalars))
        let upper = String(String.UnicodeScalarView(unitScalars.map { scalar in
            ("a"..."z").contains(scalar) ? Unicode.Scalar(scalar.value - 32)! : scalar
        }))
        guard scalars.count >= 2, let multiplier = units[upper] else { throw .unit(unit) }
        let number = Array(scalars.dropLast(2))
        guard let value = pythonFloat(stripped(number)) else {
            throw .value(String(String.UnicodeScalarView(number)))
        }
        let bytes = value * multiplier
        guard bytes.isFinite else { throw .notFinite }
        guard value >= 0 else { throw .negative }
        guard bytes < 0x1p63 else { throw .tooLarge }
        return Int(bytes)
    }

    /// `scalars` without the white space Python's `str.strip()` removes at either end.
    static func stripped(_ scalars: [Unicode.Scalar]) -> ArraySlice<Unicode.Scalar> {
        func space(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }
        guard let first = scalars.firstIndex(where: { !space($0) }) else { return [] }
        let last = scalars.lastIndex(where: { !space($0) })!
        return scalars[first...last]
    }

    /// What Python's `float(text)` gives for already stripped text, or nil where it raises:
    /// `[sign] digits [. digits] [e [sign] digits]` (or `.digits`), with single underscores
    /// between digits and any Unicode decimal digit, or `inf`, `infinity`, `nan` in any case.
    static func pythonFloat(_ text: ArraySlice<Unicode.Scalar>) -> Double? {
        var rest = text[...]
        var sign = ""
        if let first = rest.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            rest = rest.dropFirst()
        }
        let word = String(String.UnicodeScalarView(rest)).lowercased()
        if word == "inf" || word == "infinity" { return sign == "-" ? -.infinity : .infinity }
        if word == "nan" { return .nan }
        /// Digits with single underscores between them, as ASCII; nil when there are none.
        func digits() -> String? {
            var out = ""
            var underscore = false
            while let s = rest.first {
                if s == "_" {
                    guard !out.isEmpty, !underscore else { return nil }
                    underscore = true
                } else if s.properties.numericType == .decimal, let v = s.properties.numericValue {
                    out.append(Character(Unicode.Scalar(UInt8(48 + Int(v)))))
                    underscore = false
                } else {
                    break
                }
                rest = rest.dropFirst()
            }
            return underscore || out.isEmpty ? nil : out
        }
        let startsWithDigit = rest.first.map { $0 != "." } ?? false
        var whole = "0"
        if startsWithDigit {
            guard let d = digits() else { return nil }
            whole = d
        }
        var fraction = "0"
        if rest.first == "." {
            rest = rest.dropFirst()
            if let first = rest.first, first.properties.numericType == .decimal {
                guard let d = digits() else { return nil }
                fraction = d
            } else if !startsWithDigit {
                return nil
            }
        } else if !startsWithDigit {
            return nil
        }
        var exponent = "0"
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            var exponentSign = ""
            if let s = rest.first, s == "+" || s == "-" {
                exponentSign = s == "-" ? "-" : ""
                rest = rest.dropFirst()
            }
            guard let d = digits() else { return nil }
            exponent = exponentSign + d
        }
        guard rest.isEmpty else { return nil }
        return Double(sign + whole + "." + fraction + "e" + exponent)
    }
}

/// Why a maximum shard size is refused.
public enum ShardSizeFault: Error, CustomStringConvertible, Equatable, Sendable {
    /// Nothing but white space.
    case empty
    /// The last two characters (as given) are not TB, GB, MB or KB in any case.
    case unit(String)
    /// The text before the unit (as given) is not a number.
    case value(String)
    /// The value is infinite or not a number, or the bytes overflow a float.
    case notFinite
    /// The value is negative.
    case negative
    /// 2⁶³ bytes or more.
    case tooLarge

    public var description: String {
        switch self {
        case .empty: return "no size given; expected a number and a unit, such as 5GB or 200KB"
        case .unit(let unit):
            return "the unit '\(unit)' is not TB, GB, MB or KB (powers of 10, as Hugging Face reads sizes);"
                + " expected a number and a unit, such as 5GB or 200KB"
        case .value(let value): return "'\(value)' is not a number"
        case .notFinite: return "the size is not a finite number"
        case .negative: return "a size cannot be negative"
        case .tooLarge: return "the size is 2^63 bytes or more"
        }
    }
}

/// Which tensors go into which shard, as `huggingface_hub.split_torch_state_dict_into_shards`
/// (`_base.py split_state_dict_into_shards_factory`) groups them: greedily, in the state dict's
/// order, no bin packing.
///
/// - A tensor whose storage an earlier one already uses is set aside, then put into the shard of
///   the first tensor of that storage (after it and the tensors before it there).
/// - Otherwise its size is its whole storage's bytes (`get_torch_storage_size`), counted once in
///   `totalSize`. A tensor larger than the maximum gets a shard of its own, appended at once,
///   ahead of the shard being filled; one that would take the shard being filled past the
///   maximum closes it and starts the next.
public struct ShardPlan: Equatable, Sendable {
    /// One tensor of the state dict.
    public struct Entry: Equatable, Sendable {
        /// The tensors' storage (equal for tensors that share one); nil for a tensor that shares none.
        public var storage: Int?
        /// The bytes of its whole storage.
        public var storageBytes: Int

        public init(storage: Int?, storageBytes: Int) {
            self.storage = storage
            self.storageBytes = storageBytes
        }
    }

    /// For each shard in order, the indices of its entries, in the order the hub lists them.
    public let shards: [[Int]]
    /// The bytes of every distinct storage (`metadata["total_size"]`).
    public let totalSize: Int

    /// - Parameters:
    ///   - entries: the state dict's tensors, in its order.
    ///   - maxShardSize: bytes, as `ShardSize.parse` gives them.
    public init(_ entries: [Entry], maxShardSize: Int) {
        var shards: [[Int]] = []
        var current: [Int] = []
        var currentSize = 0
        var total = 0
        var groupOf: [Int: Int] = [:]
        var groups: [(first: Int, later: [Int])] = []
        for (index, entry) in entries.enumerated() {
            if let storage = entry.storage {
                if let group = groupOf[storage] {
                    groups[group].later.append(index)
                    continue
                }
                groupOf[storage] = groups.count
                groups.append((index, []))
            }
            let size = entry.storageBytes
            if size > maxShardSize {
                total += size
                shards.append([index])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(index)
            currentSize += size
            total += size
        }
        if !current.isEmpty { shards.append(current) }
        var shardOf: [Int: Int] = [:]
        for (shard, members) in shards.enumerated() { for member in members { shardOf[member] = shard } }
        for group in groups where !group.later.isEmpty {
            if let shard = shardOf[group.first] { shards[shard] += group.later }
        }
        self.shards = shards
        self.totalSize = total
    }

    /// Hugging Face's name for shard `index` (0-based) of `count` of the file `stem.safetensors`:
    /// `model-00001-of-00003.safetensors` (`"-{idx+1:05d}-of-{nb_shards:05d}"`).
    public static func fileName(stem: String, index: Int, count: Int) -> String {
        func padded(_ n: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        }
        return "\(stem)-\(padded(index + 1))-of-\(padded(count)).safetensors"
    }

    /// Whether `name` is a shard's name for `stem` (`stem-NNNNN-of-NNNNN.safetensors`, five digits each).
    static func isShardName(_ name: String, stem: String) -> Bool {
        let prefix = Array((stem + "-").utf8)
        let suffix = Array(".safetensors".utf8)
        let bytes = Array(name.utf8)
        guard bytes.count == prefix.count + 14 + suffix.count, bytes.starts(with: prefix),
              bytes.suffix(suffix.count).elementsEqual(suffix) else { return false }
        let middle = Array(bytes[prefix.count..<(prefix.count + 14)])
        let digit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        return middle[0..<5].allSatisfy(digit) && middle[5..<9].elementsEqual("-of-".utf8)
            && middle[9..<14].allSatisfy(digit)
    }
}

/// `model.safetensors.index.json` as transformers writes it (`modeling_utils.py save_pretrained`):
/// `json.dumps(index, indent=2, sort_keys=True) + "\n"`, keys sorted by code point, every
/// character outside printable ASCII escaped (`ensure_ascii`).
public enum ShardIndex {
    /// The index's bytes.
    /// - Parameters:
    ///   - totalParameters: `metadata["total_parameters"]` (transformers 4.4x on), nil to leave it out.
    ///   - totalSize: `metadata["total_size"]`.
    ///   - weightMap: each tensor's name and its shard's file name, in any order.
    public static func json(totalParameters: Int?, totalSize: Int, weightMap: [(name: String, file: String)])
        -> [UInt8] {
        var out = "{\n  \"metadata\": {\n"
        var metadata: [String] = []
        if let totalParameters { metadata.append("    \"total_parameters\": \(totalParameters)") }
        metadata.append("    \"total_size\": \(totalSize)")
        out += metadata.joined(separator: ",\n") + "\n  },\n  \"weight_map\": {"
        let sorted = weightMap.sorted {
            $0.name.unicodeScalars.lexicographicallyPrecedes($1.name.unicodeScalars) { $0.value < $1.value }
        }
        if sorted.isEmpty {
            out += "}\n}\n"
        } else {
            out += "\n" + sorted.map { "    \(quoted($0.name)): \(quoted($0.file))" }.joined(separator: ",\n")
                + "\n  }\n}\n"
        }
        return Array(out.utf8)
    }

    /// A JSON string as Python's `json.dumps` writes it with `ensure_ascii=True`.
    static func quoted(_ text: String) -> String {
        var out = "\""
        func hex(_ unit: UInt16) -> String {
            let digits = String(unit, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if scalar.value >= 0x20 && scalar.value < 0x7F {
                    out.unicodeScalars.append(scalar)
                } else {
                    for unit in String(scalar).utf16 { out += hex(unit) }
                }
            }
        }
        return out + "\""
    }
}

extension CheckpointWriter {
    /// A tensor left out of a sharded output because it is an exact alias of one written.
    public struct DroppedAlias: Codable, Equatable, Sendable {
        /// The tensor left out.
        public let name: String
        /// The earlier tensor it is the same as (same storage, offset, shape, strides and dtype).
        public let kept: String
    }

    /// What `writeSharded(to:maxShardSize:)` did.
    public struct ShardedSummary: Equatable, Sendable {
        /// The tensors written (aliases left out).
        public var summary: Summary
        /// The files written, in shard order: `path` itself when one shard holds everything.
        public var files: [String]
        /// The index written, when there are two shards or more.
        public var index: String?
        /// `metadata["total_size"]`: the bytes of every distinct storage written.
        public var totalSize: Int
        /// `metadata["total_parameters"]`: the elements of every tensor written.
        public var totalParameters: Int
        /// The aliases left out, in the order they were added.
        public var droppedAliases: [DroppedAlias]
        /// Files of an earlier output removed from the folder.
        public var removed: [String]
    }

    /// Writes the tensors as Hugging Face's `save_pretrained(dir, max_shard_size=…,
    /// safe_serialization=True)` writes a state dict: `stem-0000N-of-0000M.safetensors` beside
    /// `path` (`dir/stem.safetensors`), grouped as `ShardPlan` groups them, each byte for byte
    /// `safetensors.torch.save_file(shard, metadata={"format": "pt"})`, and
    /// `stem.safetensors.index.json` (`ShardIndex`); when one shard holds everything, `path`
    /// itself and no index.
    ///
    /// - Tied weights: a tensor that is exactly an earlier one (same storage, offset, shape,
    ///   strides and dtype) is left out, as transformers leaves out the names in
    ///   `_tied_weights_keys` (GPT-2's `lm_head.weight`, kept: `transformer.wte.weight`), so that
    ///   `from_pretrained` loads the shards with no missing or unexpected keys. Other tensors
    ///   sharing a storage are each written contiguous, and ride with the first tensor of their
    ///   storage, whose whole bytes they are counted by.
    /// - Every file is written beside its destination, and renamed over it only when every shard
    ///   and the index are complete; on a failure before that nothing in the folder changes.
    /// - Afterwards, files of an earlier output that would contradict this one are removed: other
    ///   `stem-NNNNN-of-NNNNN.safetensors` shards (as transformers removes them), and
    ///   `stem.safetensors` when shards were written, or the index when one file was. Only files
    ///   and links are removed (never followed). The folder must exist.
    /// - Parameters:
    ///   - path: `dir/stem.safetensors`.
    ///   - maxShardSize: bytes (`ShardSize.parse`).
    /// - Throws: `ExportError`: what `write(to:)` refuses, `.shardsNeedSafetensors`,
    ///   `.badShardSize` (negative), `.wouldRemoveInput` (a file to remove is one of `inputs`),
    ///   or `.cannotWrite` naming the shard, the index or the folder.
    @discardableResult
    public func writeSharded(to path: String, maxShardSize: Int) throws(ExportError) -> ShardedSummary {
        guard maxShardSize >= 0 else { throw ExportError(path: path, .badShardSize(String(maxShardSize), .negative)) }
        guard Format(path: path) == .safetensors else { throw ExportError(path: path, .shardsNeedSafetensors) }
        _ = try check(path: path, format: .safetensors)

        // Exact aliases: the first in order is written, the others are left out.
        var firstOf: [AliasKey: Int] = [:]
        var kept: [Item] = []
        var dropped: [DroppedAlias] = []
        for item in items {
            if let key = item.alias {
                if let first = firstOf[key] {
                    dropped.append(DroppedAlias(name: item.name, kept: kept[first].name))
                    continue
                }
                firstOf[key] = kept.count
            }
            kept.append(item)
        }

        var tokens: [ObjectIdentifier: Int] = [:]
        let entries = kept.map { item in
            ShardPlan.Entry(storage: item.storage.map { id in
                if let token = tokens[id] { return token }
                tokens[id] = tokens.count
                return tokens.count - 1
            }, storageBytes: item.storageBytes)
        }
        let plan = ShardPlan(entries, maxShardSize: maxShardSize)

        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let fileName = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let stem = String(fileName.dropLast(".safetensors".count))
        let sharded = plan.shards.count > 1
        let names = sharded ? plan.shards.indices.map { ShardPlan.fileName(stem: stem, index: $0,
                                                                            count: plan.shards.count) }
            : [fileName]
        let indexName = stem + ".safetensors.index.json"

        // What an earlier output left that this one would contradict.
        let listed: [String]
        do throws(FileSinkError) {
            listed = try FileOutput.names(in: folder.isEmpty ? "." : folder == "/" ? folder : String(folder.dropLast()))
        } catch {
            throw ExportError(path: error.path, .cannotWrite(error.reason))
        }
        let written = Set(names.map { Array($0.utf8) } + (sharded ? [Array(indexName.utf8)] : []))
        let stale = listed.filter { name in
            guard !written.contains(Array(name.utf8)) else { return false }
            return ShardPlan.isShardName(name, stem: stem)
                || Array(name.utf8) == Array((sharded ? fileName : indexName).utf8)
        }.sorted().map { folder + $0 }.filter(FileOutput.isFileOrLink)
        for file in stale {
            if let input = FileOutput.input(at: file, among: inputs) {
                throw ExportError(path: path, .wouldRemoveInput(file: file, input: input))
            }
        }

        var summary = ShardedSummary(summary: summary(of: kept), files: names.map { folder + $0 }, index: nil,
                                     totalSize: plan.totalSize,
                                     totalParameters: kept.reduce(0) { $0 + $1.byteCount / $1.dtype.itemSize },
                                     droppedAliases: dropped, removed: [])
        func sink(_ file: String) throws(ExportError) -> FileSink {
            do throws(FileSinkError) {
                return try FileSink(replacing: file, inputs: inputs)
            } catch {
                throw ExportError(path: error.path, .cannotWrite(error.reason))
            }
        }
        func finish(_ sink: FileSink, publish: Bool) throws(ExportError) {
            do throws(FileSinkError) {
                if publish { try sink.commit() } else { try sink.finish() }
            } catch {
                throw ExportError(path: error.path, .cannotWrite(error.reason))
            }
        }
        if sharded {
            // Every shard and the index complete before the first is renamed.
            var sinks: [FileSink] = []
            defer { for sink in sinks { sink.discard() } }
            var weightMap: [(name: String, file: String)] = []
            for (shard, members) in plan.shards.enumerated() {
                let output = try sink(folder + names[shard])
                sinks.append(output)
                try writeSafetensors(members.map { kept[$0] }, into: output)
                try finish(output, publish: false)
                weightMap += members.map { (kept[$0].name, names[shard]) }
            }
            let index = try sink(folder + indexName)
            sinks.append(index)
            do throws(FileSinkError) {
                try index.write(ShardIndex.json(totalParameters: summary.totalParameters, totalSize: plan.totalSize,
                                                weightMap: weightMap))
            } catch {
                throw ExportError(path: error.path, .cannotWrite(error.reason))
            }
            try finish(index, publish: false)
            for output in sinks { try finish(output, publish: true) }
            sinks = []
            summary.index = folder + indexName
        } else {
            let output = try sink(path)
            try writeSafetensors(kept, into: output)
            try finish(output, publish: true)
        }
        for file in stale {
            do throws(FileSinkError) {
                try FileOutput.remove(file)
            } catch {
                throw ExportError(path: error.path, .cannotWrite(error.reason))
            }
            summary.removed.append(file)
        }
        return summary
    }
}
