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
                let shape = c.actualShape == c.expectedShape ? "\(c.expectedShape)" : "\(c.actualShape) vs expected \(c.expectedShape)"
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
            let passed = r.comparisons.filter(\.passed).count
            out += (r.passed ? "PASS" : "FAIL") + " (\(passed) of \(r.comparisons.count) tensors within tolerance)\n"
        }
        out += "timings: load \(format(r.timings.load_s)) s, forward \(format(r.timings.forward_s)) s (median of \(r.timings.forward_runs))\n"
        return out
    }

    private func format(_ x: Double) -> String {
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        if x.isNaN { return "nan" }
        if x == 0 { return "0" }
        var s = String(format: "%.3g", x)
        if s.contains("e") { s = s.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e+") }
        return s
    }
}
