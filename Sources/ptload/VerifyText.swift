import Foundation
import PTRunner

/// The human-readable report of `ptload MODEL --verify REF`.
struct VerifyText {
    let r: ModuleRunReport
    init(_ r: ModuleRunReport) { self.r = r }

    func render() -> String {
        var out = "model: \(r.model)\n"
        for (prefix, config) in zip(r.modules, r.module_configs) {
            out += "module: \(prefix.isEmpty ? "(root)" : prefix)  \(config)\n"
        }
        if let reference = r.reference { out += "reference: \(reference)\n" }
        out += "compute dtype: \(r.compute_dtype), rtol \(r.tolerance.rtol), atol \(r.tolerance.atol)\n"
        out += "kernels: \(r.module_kernels.joined(separator: ", "))\n"
        if let written = r.written {
            let shapes = r.outputs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out += "wrote: \(written) (\(shapes))\n"
        }
        if !r.comparisons.isEmpty {
            let header = ["tensor", "shape", "max abs err", "max rel err", "mismatched", "worst index", "result"]
            let rows = r.comparisons.map { c -> [String] in
                let shape = c.actualShape == c.expectedShape ? "\(c.expectedShape)"
                    : "\(c.actualShape) vs expected \(c.expectedShape)"
                return [c.name, shape, format(c.maxAbsError), format(c.maxRelError), "\(c.mismatches)/\(c.count)",
                        c.worstIndex.map { "\($0)" } ?? "-", c.passed ? "PASS" : "FAIL"]
            }
            out += renderTable(header: header, rows: rows)
            for c in r.comparisons where !c.passed {
                if let index = c.worstIndex, let a = c.worstActual, let e = c.worstExpected {
                    out += "  \(c.name)\(index): ptload \(a), PyTorch \(e)\n"
                } else if c.actualShape != c.expectedShape {
                    out += "  \(c.name): ptload computed shape \(c.actualShape), PyTorch \(c.expectedShape)\n"
                }
            }
            if let distance = r.float64_distance, !distance.isEmpty {
                let parts = ["output", "h_n", "c_n"].compactMap { name in
                    distance[name].map { "\(name) \(format($0))" }
                }
                out += "  float32 drift: ptload's float32 result is within \(parts.joined(separator: ", ")) of its own"
                    + " float64 run;"
                    + " if REF is PyTorch's float32 result of a long or deep model, it can itself be further than that"
                    + " from the exact result: verify against float64 truths (ptload-golden writes them) or widen"
                    + " --atol\n"
            }
            let passed = r.comparisons.filter(\.passed).count
            out += (r.passed ? "PASS" : "FAIL") + " (\(passed) of \(r.comparisons.count) tensors within tolerance)\n"
        }
        if let stream = r.stream {
            out += "streamed: \(stream.chunks) \(stream.chunks == 1 ? "call" : "calls") of up to \(stream.chunk)"
                + " \(stream.chunk == 1 ? "step" : "steps"), state carried; \(format(stream.call_s)) s per call"
                + " (median)\n"
        }
        out += "timings: load \(format(r.timings.load_s)) s, forward \(format(r.timings.forward_s)) s (median of"
            + " \(r.timings.forward_runs))\n"
        return out
    }
}
