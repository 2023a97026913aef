import PTRunner
import PTVerify

/// The human-readable report of `ptload MODEL --verify golden.json`: one row per case.
struct SuiteText {
    let r: GoldenSuiteReport
    init(_ r: GoldenSuiteReport) { self.r = r }

    func render() -> String {
        var out = "model: \(r.model)\n"
        var about: [String] = []
        if let c = r.model_class { about.append(c) }
        if let t = r.torch_version { about.append("torch \(t)") }
        out += "manifest: \(r.manifest)" + (about.isEmpty ? "" : " (\(about.joined(separator: ", ")))") + "\n"
        let header = ["case", "module", "tensors", "max abs err", "max rel err", "mismatched", "against", "result"]
        let rows = r.cases.map { c -> [String] in
            let comparisons = c.report.comparisons
            let mismatched = comparisons.reduce(0) { $0 + $1.mismatches }
            let count = comparisons.reduce(0) { $0 + $1.count }
            return [c.name, c.module.isEmpty ? "(root)" : c.module, comparisons.map(\.name).joined(separator: ","),
                    format(comparisons.map(\.maxAbsError).max() ?? 0), format(comparisons.map(\.maxRelError).max() ?? 0),
                    "\(mismatched)/\(count)", c.truth ?? "-", c.report.passed ? "PASS" : "FAIL"]
        }
        out += renderTable(header: header, rows: rows)
        for c in r.cases where !c.report.passed {
            for m in c.report.comparisons where !m.passed {
                out += "  \(c.name): " + failureLine(m) + "\n"
            }
        }
        let failed = r.cases.filter { !$0.report.passed }.count
        out += r.passed ? "PASS (\(r.cases.count) of \(r.cases.count) cases)\n" : "FAIL (\(failed) of \(r.cases.count) cases failed)\n"
        let forward = r.cases.reduce(0) { $0 + $1.report.timings.forward_s }
        out += "timings: load \(format(r.load_s)) s, forward \(format(forward)) s (all cases)\n"
        return out
    }
}

/// What a failed comparison's report line says: where the worst element is and both values.
func failureLine(_ c: Comparison) -> String {
    if let index = c.worstIndex, let a = c.worstActual, let e = c.worstExpected {
        return "\(c.name)\(index): ptload \(a), PyTorch \(e) (\(c.mismatches) of \(c.count) elements beyond tolerance)"
    }
    if c.actualShape != c.expectedShape {
        return "\(c.name): ptload computed shape \(c.actualShape), PyTorch \(c.expectedShape)"
    }
    return "\(c.name): \(c.mismatches) of \(c.count) elements beyond tolerance"
}
