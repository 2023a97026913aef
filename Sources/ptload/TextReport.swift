import PTCheckpoint
import PTRunner

/// The human-readable listing of `ptload MODEL`.
struct TextReport {
    let s: CheckpointSummary
    /// The tensors to list, when `s` was made without them (`listingTensors: false`).
    let tensors: [NamedTensor]?
    init(_ s: CheckpointSummary, tensors: [NamedTensor]? = nil) {
        self.s = s
        self.tensors = tensors
    }

    func render() -> String {
        var out = ""
        render { out += $0 }
        return out
    }

    /// The listing, a line at a time, without holding it whole (a file may list a million tensors).
    func render(into write: (String) -> Void) {
        func line(_ text: String = "") { write(oneLine(text) + "\n") }
        var format = s.format
        if let archive = s.archive { format += " (archive '\(archive)')" }
        line("file: \(s.file)")
        line("format: \(format)")
        if let shards = s.shards {
            line("shards: \(shards.count)")
            for (i, shard) in shards.enumerated() { line("  \(i + 1): \(shard)") }
        }
        line("pickle protocol: \(s.pickle_protocol)")
        for (name, value) in s.records.sorted(by: { $0.key < $1.key }) { line("record \(name): \(value)") }
        let safetensorsShards = s.shards.map { !$0.isEmpty && $0.allSatisfy { $0.hasSuffix(".safetensors") } } ?? false
        if s.records_checked { line("checksums: every record's CRC-32 matches") }
        else if s.format == Checkpoint.Format.legacy.rawValue { line("checksums: none (the legacy format has none)") }
        else if s.format == Checkpoint.Format.safetensors.rawValue || safetensorsShards {
            line("checksums: none (the safetensors format has none)")
        }
        else { line("checksums: not checked (--skip-crc)") }
        line("tensors: \(s.tensor_count), \(s.total_bytes) bytes")
        let count = tensors?.count ?? s.tensors.count
        func entry(_ i: Int) -> CheckpointSummary.TensorEntry {
            tensors.map { CheckpointSummary.entry(for: $0[i]) } ?? s.tensors[i]
        }
        // A sharded checkpoint's storages are named within their shard (each has a data/0): the
        // shard column says which, by its number in the list above.
        let sharded = s.shards != nil
        streamTable(header: ["key", "dtype", "shape", "strides"] + (sharded ? ["shard"] : [])
                        + ["storage", "offset", "bytes"],
                    count: count, row: { i in
            let t = entry(i)
            return [oneLine(t.key, limit: 200), t.dtype, "[" + t.shape.map(String.init).joined(separator: ", ") + "]",
                    t.strides.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? ""]
                + (sharded ? [t.shard.map { String($0 + 1) } ?? ""] : [])
                + [t.storage, String(t.storage_offset), String(t.bytes)]
        }, write: write)
        if s.constants > 0 { line("constants: \(s.constants) tensors in constants.pkl") }
        line("recurrent modules: \(s.recurrent_modules.count)")
        for r in s.recurrent_modules {
            var parts = ["input_size=\(r.input_size)", "hidden_size=\(r.hidden_size)"]
            if !r.kind.hasSuffix("Cell") {
                parts += ["num_layers=\(r.num_layers)", "bidirectional=\(r.bidirectional)"]
            }
            parts.append("bias=\(r.bias)")
            if r.proj_size > 0 { parts.append("proj_size=\(r.proj_size)") }
            if let n = r.nonlinearity { parts.append("nonlinearity=\(n)") }
            if let b = r.batch_first { parts.append("batch_first=\(b)") }
            line("  \(r.prefix.isEmpty ? "(root)" : r.prefix)  \(r.kind)  " + parts.joined(separator: " "))
        }
        if !s.modules.isEmpty {
            line("modules: \(s.modules.count)")
            for m in s.modules {
                let config = m.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                line("  \(m.path.isEmpty ? "(root)" : m.path)  \(m.class)" + (config.isEmpty ? "" : "  " + config))
            }
        }
        line("opaque classes: \(s.opaque_classes.count)")
        for c in s.opaque_classes { line("  " + oneLine(c, limit: 200)) }
    }
}
