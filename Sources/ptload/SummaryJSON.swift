import Foundation
import PTCheckpoint
import PTRunner

/// `ptload MODEL --json`, written as it is made: the summary's small fields through
/// `JSONEncoder`, and its tensor rows one at a time in the same layout (pretty-printed, keys
/// sorted), so that listing a million tensors holds one row, not the whole document.
struct SummaryJSON {
    let summary: CheckpointSummary
    let tensors: [NamedTensor]

    func write(_ encode: (CheckpointSummary) throws -> String, to out: (String) -> Void) throws {
        let text = try encode(summary)
        let empty = "\"tensors\" : [\n\n  ]"
        guard !tensors.isEmpty, let slot = text.range(of: empty) else {
            out(text + "\n")
            return
        }
        out(String(text[..<slot.lowerBound]) + "\"tensors\" : [")
        for (i, t) in tensors.enumerated() {
            out(try row(CheckpointSummary.entry(for: t)) + (i == tensors.count - 1 ? "" : ","))
        }
        out("\n  ]" + String(text[slot.upperBound...]) + "\n")
    }

    /// One `TensorEntry` as the encoder lays it out four levels in: keys sorted, `shard` and
    /// `strides` only when present.
    private func row(_ t: CheckpointSummary.TensorEntry) throws -> String {
        var fields = [("bytes", String(t.bytes)), ("dtype", try string(t.dtype)), ("key", try string(t.key)),
                      ("parameter", t.parameter ? "true" : "false"), ("shape", list(t.shape))]
        if let shard = t.shard { fields.append(("shard", String(shard))) }
        fields += [("storage", try string(t.storage)), ("storage_offset", String(t.storage_offset))]
        if let strides = t.strides { fields.append(("strides", list(strides))) }
        return "\n    {\n" + fields.map { "      \"\($0.0)\" : \($0.1)" }.joined(separator: ",\n") + "\n    }"
    }

    private func list(_ values: [Int]) -> String {
        values.isEmpty ? "[\n\n      ]" : "[\n" + values.map { "        \($0)" }.joined(separator: ",\n") + "\n      ]"
    }

    /// A JSON string: as is when nothing needs escaping, else as the encoder escapes it.
    private func string(_ s: String) throws -> String {
        if !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\"" || $0 == "\\" }) { return "\"" + s + "\"" }
        return String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
    }
}
