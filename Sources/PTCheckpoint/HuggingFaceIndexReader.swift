#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTSafetensors
import PTTensor
import PTZip

/// Reads a Hugging Face sharded checkpoint: the index (`model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`; `transformers.modeling_utils.save_pretrained`) and every shard
/// it names, each shard through the reader of its own format with the same `LoadOptions`, into
/// one `Checkpoint`. The index and the shards must agree exactly: every `weight_map` key in its
/// shard, every shard tensor listed for that shard, no key in two shards, no unnamed
/// `-0000k-of-0000N` file, and `metadata.total_size` (when present) equal to what a writer counts.
struct HuggingFaceIndexReader {
    /// The hub's cap on an index file (`huggingface_hub` `SAFETENSORS_INDEX_FILE` downloads).
    static let maxIndexBytes = 10 << 20

    /// What the user named: the folder, or the index itself.
    let path: String
    /// The index file.
    let indexPath: String
    let options: LoadOptions

    private func fault(_ f: CheckpointError.ShardIndexFault) -> CheckpointError {
        CheckpointError(path: indexPath, .shardIndex(f))
    }

    func read() throws(CheckpointError) -> Checkpoint {
        let (folder, indexName) = Self.split(indexPath)
        let shardExtension: String
        if indexName.contains(".safetensors.index") { shardExtension = ".safetensors" }
        else if indexName.contains(".bin.index") { shardExtension = ".bin" }
        else { throw fault(.unknownIndexKind(name: indexName)) }

        let (weightMap, metadata) = try parseIndex()
        // Every name is checked before any file is touched.
        var listed: [ExactName: String] = [:]
        var firstKey: [ExactName: String] = [:]
        var keysOf: [ExactName: [String]] = [:]
        for (key, shard) in weightMap {
            if let why = Self.nameFault(shard) { throw fault(.shardNameLeavesFolder(key: key, shard: shard, why: why)) }
            guard shard.hasSuffix(shardExtension), shard.utf8.count > shardExtension.utf8.count else {
                throw fault(.wrongExtension(key: key, shard: shard, expected: shardExtension))
            }
            listed[ExactName(key)] = shard
            if firstKey[ExactName(shard)] == nil { firstKey[ExactName(shard)] = key }
            keysOf[ExactName(shard), default: []].append(key)
        }
        let shards = firstKey.keys.map(\.string).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        func shardPath(_ name: String) -> String { folder.map { ShardedFolder.join($0, name) } ?? name }

        // The file each shard is read from: itself, or a hub cache snapshot's link into `blobs/`.
        var source: [ExactName: String] = [:]
        for shard in shards {
            source[ExactName(shard)] = try checkRegularFile(shardPath(shard), shard: shard,
                                                            key: firstKey[ExactName(shard)] ?? "")
        }
        try checkNumbering(shards: shards, folder: folder ?? ".", shardExtension: shardExtension)

        var parts: [Checkpoint] = []
        var holder: [ExactName: String] = [:]
        for shard in shards {
            let file: MappedFile
            do {
                file = try MappedFile(path: source[ExactName(shard)] ?? shardPath(shard), followingLinks: false)
            } catch {
                throw CheckpointError(error)
            }
            let part = try Checkpoint.load(file: file, options: options)
            for t in part.tensors {
                let key = ExactName(t.key)
                if let first = holder[key] {
                    // A key twice within one shard is the shard reader's to refuse (a pickle's
                    // dict keeps one); twice across shards is the index's.
                    if first != shard { throw fault(.keyInTwoShards(key: t.key, first: first, second: shard)) }
                    continue
                }
                holder[key] = shard
                guard let want = listed[key] else { throw fault(.tensorNotInIndex(key: t.key, shard: shard)) }
                guard want.isExactly(shard) else {
                    throw fault(.tensorListedElsewhere(key: t.key, shard: shard, listed: want))
                }
            }
            for key in keysOf[ExactName(shard)] ?? [] where holder[ExactName(key)] == nil {
                throw fault(.keyNotInShard(key: key, shard: shard))
            }
            parts.append(part)
        }
        try checkTotalSize(metadata, parts: parts)
        return merge(parts, shardPaths: shards.map(shardPath), metadata: metadata)
    }

    /// The index's `weight_map` (key → shard, in file order) and `metadata` members.
    private func parseIndex() throws(CheckpointError)
        -> (weightMap: [(String, String)], metadata: [(String, HeaderParser.Value)]) {
        let file: MappedFile
        do {
            file = try MappedFile(path: indexPath)
        } catch {
            throw CheckpointError(error)
        }
        let bytes = file.bytes
        guard bytes.count <= Self.maxIndexBytes else {
            throw fault(.tooLarge(byteCount: bytes.count, limit: Self.maxIndexBytes))
        }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw fault(.notUTF8) }
        let members: [(String, HeaderParser.Value)]
        do {
            members = try HeaderParser.members(of: bytes)
        } catch {
            throw fault(.syntax(error))
        }
        var weightMap: [(String, String)] = []
        var metadata: [(String, HeaderParser.Value)] = []
        for (name, value) in members where name == "weight_map" || name == "metadata" {
            guard case .object(let fields) = value else { throw fault(.notAnObject(member: name)) }
            if name == "metadata" {
                metadata = fields
                continue
            }
            for (key, shard) in fields {
                guard case .string(let s) = shard else { throw fault(.shardNotAString(key: key)) }
                weightMap.append((key, s))
            }
        }
        guard !weightMap.isEmpty else { throw fault(.noWeightMap) }
        return (weightMap, metadata)
    }

    /// Refuses a shard that is missing, a symbolic link, or not a regular file (`lstat`: the link
    /// itself, not what it points to).
    /// The file to read for `shard` at `path`: `path` itself when it is a regular file; the link's
    /// target when `path` is a link in a hub cache snapshot (`…/snapshots/<revision>/`) to a
    /// regular file in the same repository's `blobs/`, as `huggingface_hub` lays the cache out.
    /// Any other link, a folder or a special file is refused.
    private func checkRegularFile(_ path: String, shard: String, key: String) throws(CheckpointError) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { throw fault(.shardMissing(key: key, shard: shard)) }
            throw CheckpointError(path: path, .zip(.cannotOpen(reason: FileOutput.systemMessage(errno))))
        }
        let what: String
        switch info.st_mode & S_IFMT {
        case S_IFREG: return path
        case S_IFLNK:
            if let blob = Self.hubCacheBlob(link: path) { return blob }
            what = "a symbolic link"
        case S_IFDIR: what = "a folder"
        default: what = "a special file"
        }
        throw fault(.shardNotRegular(shard: shard, what: what))
    }

    /// The regular file `link` resolves to when `link` lies in `<repo>/snapshots/<revision>/` and
    /// resolves into `<repo>/blobs/` (both resolved through every link); nil otherwise.
    static func hubCacheBlob(link: String) -> String? {
        func resolved(_ path: String) -> String? {
            guard let real = realpath(path, nil) else { return nil }
            defer { free(real) }
            return String(cString: real)
        }
        func parent(_ path: String) -> String {
            guard let slash = path.lastIndex(of: "/") else { return "." }
            return slash == path.startIndex ? "/" : String(path[..<slash])
        }
        let (folder, _) = split(link)
        guard let snapshot = resolved(folder ?? "."), let target = resolved(link) else { return nil }
        let snapshots = parent(snapshot)
        guard snapshots.hasSuffix("/snapshots") else { return nil }
        let blobs = parent(snapshots) + "/blobs/"
        guard target.hasPrefix(blobs), !target.dropFirst(blobs.count).contains("/") else { return nil }
        var info = stat()
        guard lstat(target, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return target
    }

    /// `-0000k-of-0000N` names (`huggingface_hub` `constants.py`): the index's agree on N and,
    /// when every shard is so named, cover 1…N; no such file of the same stem and extension
    /// lies in the folder unnamed.
    private func checkNumbering(shards: [String], folder: String, shardExtension: String) throws(CheckpointError) {
        var totals: (String, Int)?
        var numbers = Set<Int>()
        var stems = Set<ExactName>()
        for shard in shards {
            guard let n = Self.shardNumber(shard, shardExtension: shardExtension) else { continue }
            stems.insert(ExactName(n.stem))
            numbers.insert(n.number)
            if let (other, total) = totals, total != n.total {
                throw fault(.shardTotalsDisagree(shard: shard, total: n.total, other: other, otherTotal: total))
            }
            if totals == nil { totals = (shard, n.total) }
        }
        guard let (_, total) = totals else { return }
        let named = Set(shards.map(ExactName.init))
        for name in try ShardedFolder.names(in: folder) where !named.contains(ExactName(name)) {
            if let n = Self.shardNumber(name, shardExtension: shardExtension), stems.contains(ExactName(n.stem)) {
                throw fault(.extraShard(shard: name))
            }
        }
        if numbers.count == shards.count, let missing = (1...max(total, 1)).first(where: { !numbers.contains($0) }) {
            throw fault(.shardNumberMissing(number: missing, total: total))
        }
    }

    /// `total_size` is what a writer counts: `huggingface_hub` (and transformers from 4.4x) sums
    /// each storage's bytes once (`get_torch_storage_size`, tied tensors once); transformers'
    /// older `shard_checkpoint` summed `numel × itemsize` per key.
    private func checkTotalSize(_ metadata: [(String, HeaderParser.Value)],
                                parts: [Checkpoint]) throws(CheckpointError) {
        guard let (_, value) = metadata.first(where: { $0.0 == "total_size" }) else { return }
        guard case .integer(let stated) = value else { throw fault(.totalSizeNotAnInteger) }
        var storageBytes = 0
        var keyBytes = 0
        for part in parts {
            var seen = Set<ObjectIdentifier>()
            for t in part.tensors {
                keyBytes &+= t.tensor.byteCount
                if seen.insert(ObjectIdentifier(t.tensor.storage)).inserted {
                    storageBytes &+= t.tensor.storage.byteCount
                }
            }
        }
        guard stated == storageBytes || stated == keyBytes else {
            throw fault(.totalSizeMismatch(stated: stated, storageBytes: storageBytes, keyBytes: keyBytes))
        }
    }

    /// One checkpoint: tensors in shard order, then each shard's own order.
    private func merge(_ parts: [Checkpoint], shardPaths: [String],
                       metadata: [(String, HeaderParser.Value)]) -> Checkpoint {
        var records: [(name: String, value: String)] = []
        for (name, value) in metadata {
            switch value {
            case .string(let s): records.append(("index metadata " + name, s))
            case .integer(let i): records.append(("index metadata " + name, String(i)))
            case .integers(let list): records.append(("index metadata " + name, "\(list)"))
            case .object: continue
            }
        }
        records.append(("shard count", String(parts.count)))
        func union(_ lists: [[String]]) -> [String] {
            var seen = Set<ExactName>()
            return lists.joined().filter { seen.insert(ExactName($0)).inserted }
        }
        var tensors: [NamedTensor] = []
        for (i, part) in parts.enumerated() {
            for var t in part.tensors {
                t.shard = i
                tensors.append(t)
            }
        }
        let checks = parts.compactMap(\.recordCheck)
        let recordCheck: (() throws(ZipError) -> Void)? = checks.isEmpty ? nil : { () throws(ZipError) in
            for check in checks { try check() }
        }
        return Checkpoint(path: path, format: .huggingface, archiveName: nil,
                          pickleProtocol: parts.first { $0.format != .safetensors }?.pickleProtocol ?? 0,
                          records: records, tensors: tensors, modules: parts.flatMap(\.modules),
                          opaqueClasses: union(parts.map(\.opaqueClasses)), globals: union(parts.map(\.globals)),
                          constants: parts.flatMap(\.constants), shards: shardPaths, recordCheck: recordCheck)
    }

    /// Whether `path` names a shard index: `*.index.json`, or a variant's
    /// `model.safetensors.index.fp16.json` (transformers' `_add_variant`).
    static func isIndexName(_ path: String) -> Bool {
        let name = split(path).name
        return name.hasSuffix(".index.json") || (name.contains(".index.") && name.hasSuffix(".json"))
    }

    /// The folder of `path` (nil when it has none) and its last component.
    static func split(_ path: String) -> (folder: String?, name: String) {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return (nil, path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    /// Why `name` is not a plain file name in the index's folder, or nil.
    static func nameFault(_ name: String) -> CheckpointError.ShardNameFault? {
        if name.isEmpty { return .empty }
        if name.utf8.contains(0) { return .nul }
        if name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(UInt8(ascii: "\\")) { return .separator }
        if name == ".." { return .parent }
        if name == "." { return .currentFolder }
        let u = Array(name.utf8)
        if u.count >= 2, u[1] == UInt8(ascii: ":"), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(u[0] | 0x20) {
            return .drive
        }
        return nil
    }

    /// `stem-KKKKK-of-NNNNN<ext>` split into its parts (`huggingface_hub`'s
    /// `f"-{idx+1:05d}-of-{nb_shards:05d}"`), or nil for another name.
    static func shardNumber(_ name: String, shardExtension: String) -> (stem: String, number: Int, total: Int)? {
        guard name.hasSuffix(shardExtension) else { return nil }
        let u = Array(name.utf8.dropLast(shardExtension.utf8.count))
        // "-" 5 digits "-of-" 5 digits
        guard u.count >= 15 else { return nil }
        let tail = Array(u[(u.count - 15)...])
        func digits(_ r: Range<Int>) -> Int? {
            var v = 0
            for c in tail[r] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard tail[0] == UInt8(ascii: "-"), Array(tail[6..<10]) == Array("-of-".utf8),
              let number = digits(1..<6), let total = digits(10..<15) else { return nil }
        return (String(decoding: u[..<(u.count - 15)], as: UTF8.self), number, total)
    }
}
