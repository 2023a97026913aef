#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PTZip

/// A MODEL that is a folder: what in it to read. Hugging Face's layouts (`save_pretrained`,
/// `huggingface_hub.save_torch_state_dict`): a sharded checkpoint is an index
/// (`model.safetensors.index.json`, `pytorch_model.bin.index.json`) beside its shards; a model
/// that fits in one shard is a lone `model.safetensors` or `pytorch_model.bin` and no index.
enum ShardedFolder {
    /// What `locate(folder:)` found.
    enum Layout: Equatable {
        /// A Hugging Face shard index, by its path.
        case huggingFaceIndex(String)
        /// One checkpoint file (Hugging Face's unsharded layout), by its path.
        case singleFile(String)
    }

    /// Whether `path` is a folder (following a symbolic link to it, as a user's path may).
    static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `folder` and `name` joined by one `/`.
    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// The names in `folder` (without `.` and `..`), sorted by their bytes.
    /// - Throws: `CheckpointError` (`.zip(.cannotOpen)`) with the system's message when it
    ///   cannot be read.
    static func names(in folder: String) throws(CheckpointError) -> [String] {
        do {
            return try FileOutput.names(in: folder).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw CheckpointError(path: folder, .zip(.cannotOpen(reason: error.reason.description)))
        }
    }

    /// What to read in `folder`: `model.safetensors.index.json`, else `pytorch_model.bin.index.json`,
    /// else the one `*.index.json`; with no index, `model.safetensors` or else `pytorch_model.bin`.
    /// - Throws: `CheckpointError` (`.shardIndex`) naming the folder when it holds several other
    ///   indexes, or nothing ptload reads.
    static func locate(folder: String) throws(CheckpointError) -> Layout {
        let names = try names(in: folder)
        // torch.distributed.checkpoint's `.metadata` is looked for beside these indexes; a folder
        // with neither is `.nothingToRead`, whose line names both.
        let standards = ["model.safetensors.index.json", "pytorch_model.bin.index.json"]
        for standard in standards where names.contains(standard) {
            return .huggingFaceIndex(join(folder, standard))
        }
        let indexes = names.filter { $0.hasSuffix(".index.json") }
        if indexes.count == 1 { return .huggingFaceIndex(join(folder, indexes[0])) }
        if indexes.count > 1 { throw CheckpointError(path: folder, .shardIndex(.severalIndexes(indexes))) }
        // Both, as many hub repositories hold: transformers prefers safetensors.
        for single in ["model.safetensors", "pytorch_model.bin"] where names.contains(single) {
            return .singleFile(join(folder, single))
        }
        throw CheckpointError(path: folder, .shardIndex(.nothingToRead))
    }
}
