import PTSafetensors

extension CheckpointError {
    /// What is wrong with a Hugging Face shard index (`model.safetensors.index.json`,
    /// `pytorch_model.bin.index.json`), the shards it names, or the folder that should hold one.
    /// Mirrors what `transformers.modeling_utils.load_sharded_checkpoint` and the hub's
    /// `_load_sharded_checkpoint` check, and refuses what they only warn about.
    public enum ShardIndexFault: CustomStringConvertible, Equatable, Sendable {
        /// A folder with no `*.index.json`, no `model.safetensors` or `pytorch_model.bin`, and no
        /// torch.distributed.checkpoint `.metadata`.
        case nothingToRead
        /// A folder with several `*.index.json` files and neither of the two standard ones.
        case severalIndexes([String])
        /// An index whose name says neither `.safetensors` nor `.bin` shards.
        case unknownIndexKind(name: String)
        /// An index file larger than the hub's cap.
        case tooLarge(byteCount: Int, limit: Int)
        /// The index's bytes are not UTF-8.
        case notUTF8
        /// The index's text is not the JSON an index may hold.
        case syntax(HeaderSyntaxError)
        /// A top-level member that must be an object (`weight_map`, `metadata`) is something else.
        case notAnObject(member: String)
        /// No `weight_map`, or one without entries.
        case noWeightMap
        /// A `weight_map` value that is not a string.
        case shardNotAString(key: String)
        /// A shard name that is not a plain file name in the index's folder.
        case shardNameLeavesFolder(key: String, shard: String, why: ShardNameFault)
        /// A shard name without the extension the index's kind implies.
        case wrongExtension(key: String, shard: String, expected: String)
        /// A shard that does not exist.
        case shardMissing(key: String, shard: String)
        /// A shard that is a symbolic link or not a regular file (`what` says which).
        case shardNotRegular(shard: String, what: String)
        /// A shard-pattern file of the index's kind in the folder that the index never names.
        case extraShard(shard: String)
        /// Two `-0000k-of-0000N` names disagree on N.
        case shardTotalsDisagree(shard: String, total: Int, other: String, otherTotal: Int)
        /// The index's `-0000k-of-0000N` names leave out number k.
        case shardNumberMissing(number: Int, total: Int)
        /// A `weight_map` key that its shard does not hold.
        case keyNotInShard(key: String, shard: String)
        /// A tensor in a shard that the `weight_map` does not list at all.
        case tensorNotInIndex(key: String, shard: String)
        /// A tensor in a shard that the `weight_map` assigns to another shard.
        case tensorListedElsewhere(key: String, shard: String, listed: String)
        /// The same key in two shards.
        case keyInTwoShards(key: String, first: String, second: String)
        /// `metadata.total_size` that is not an integer.
        case totalSizeNotAnInteger
        /// `metadata.total_size` equal to neither byte sum a writer takes.
        case totalSizeMismatch(stated: Int, storageBytes: Int, keyBytes: Int)

        public var description: String {
            switch self {
            case .nothingToRead:
                return "the folder holds no Hugging Face index (*.index.json), no model.safetensors or"
                    + " pytorch_model.bin, and no torch.distributed.checkpoint .metadata"
            case .severalIndexes(let names):
                return "the folder holds several indexes (\(names.joined(separator: ", "))); name the one to read"
            case .unknownIndexKind(let name):
                return "index '\(name)' names neither .safetensors nor .bin shards (expected"
                    + " *.safetensors.index.json or *.bin.index.json)"
            case let .tooLarge(byteCount, limit):
                return "the index has \(byteCount) bytes; the limit is \(limit) (the hub's)"
            case .notUTF8: return "the index is not UTF-8"
            case .syntax(let e): return "the index is not a Hugging Face index: \(e)"
            case .notAnObject(let member): return "the index's '\(member)' is not an object"
            case .noWeightMap: return "the index has no weight_map entries"
            case .shardNotAString(let key): return "weight_map '\(key)' is not a shard file name (a string)"
            case let .shardNameLeavesFolder(key, shard, why):
                return "weight_map '\(key)' names shard '\(shard)', which is not a file name in the index's folder"
                    + " (\(why)); refused"
            case let .wrongExtension(key, shard, expected):
                return "weight_map '\(key)' names shard '\(shard)'; this index names \(expected) files"
            case let .shardMissing(key, shard):
                return "shard '\(shard)' (named for weight_map '\(key)') does not exist"
            case let .shardNotRegular(shard, what):
                return "shard '\(shard)' is \(what), not a regular file; refused"
            case .extraShard(let shard):
                return "the folder holds shard '\(shard)', which the index never names"
            case let .shardTotalsDisagree(shard, total, other, otherTotal):
                return "shard '\(shard)' is one of \(total); shard '\(other)' is one of \(otherTotal)"
            case let .shardNumberMissing(number, total):
                return "the index names no shard numbered \(number) of \(total)"
            case let .keyNotInShard(key, shard):
                return "weight_map '\(key)' names shard '\(shard)', which does not hold that tensor"
            case let .tensorNotInIndex(key, shard):
                return "shard '\(shard)' holds tensor '\(key)', which the weight_map does not list"
            case let .tensorListedElsewhere(key, shard, listed):
                return "shard '\(shard)' holds tensor '\(key)', which the weight_map puts in '\(listed)'"
            case let .keyInTwoShards(key, first, second):
                return "tensor '\(key)' is in shard '\(first)' and in shard '\(second)'"
            case .totalSizeNotAnInteger: return "metadata total_size is not an integer"
            case let .totalSizeMismatch(stated, storageBytes, keyBytes):
                return "metadata total_size is \(stated); the shards hold \(storageBytes) bytes of storages"
                    + " (\(keyBytes) counted per key)"
            }
        }
    }

    /// Why a shard name is not a plain file name in the index's folder (the hub refuses a
    /// `PureWindowsPath` with a drive, a root or `..`; ptload refuses any separator too).
    public enum ShardNameFault: CustomStringConvertible, Equatable, Sendable {
        case empty
        case separator
        case parent
        case drive
        case nul
        case currentFolder

        public var description: String {
            switch self {
            case .empty: return "it is empty"
            case .separator: return "it has a path separator"
            case .parent: return "it is '..'"
            case .drive: return "it starts with a drive"
            case .nul: return "it has a NUL byte"
            case .currentFolder: return "it is '.'"
            }
        }
    }
}
