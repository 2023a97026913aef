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
        // Each case twice: ptload's float32 run within the float32 defaults widened by PyTorch's
        // own distance from the truth (the allowance), and its float64 run within the float64 defaults.
        let header = ["case", "module", "tensors", "float32 max abs err", "allowance", "float64 max abs err",
                      "mismatched", "result"]
        let rows = r.cases.map { c -> [String] in
            let report = c.report
            let comparisons = report.comparisons + (report.float64?.comparisons ?? [])
            let mismatched = comparisons.reduce(0) { $0 + $1.mismatches }
            let count = comparisons.reduce(0) { $0 + $1.count }
            let allowance = report.allowance.flatMap { $0.values.max() }.map(format) ?? "-"
            let wide = report.float64.map { format($0.comparisons.map(\.maxAbsError).max() ?? 0) } ?? "-"
            return [c.name, c.module.isEmpty ? "(root)" : c.module,
                    report.comparisons.map(\.name).joined(separator: ","),
                    format(report.comparisons.map(\.maxAbsError).max() ?? 0), allowance, wide,
                    "\(mismatched)/\(count)", verdict(report)]
        }
        out += renderTable(header: header, rows: rows)
        for c in r.cases where !c.report.passed {
            for line in failureLines(c.report) { out += "  \(c.name): " + line + "\n" }
        }
        let failed = r.cases.filter { !$0.report.passed }.count
        out += r.passed ? "PASS (\(r.cases.count) of \(r.cases.count) cases)\n"
            : "FAIL (\(failed) of \(r.cases.count) cases failed)\n"
        let forward = r.cases.reduce(0) { $0 + $1.report.timings.forward_s }
        out += "timings: load \(format(r.load_s)) s, forward \(format(forward)) s (all cases)\n"
        return out
    }
}

/// PASS, or FAIL and which verdict failed.
func verdict(_ r: ModuleRunReport) -> String {
    if r.passed { return "PASS" }
    guard let wide = r.float64 else { return "FAIL" }
    switch (r.float32Passed, wide.passed) {
    case (false, false): return "FAIL (float32, float64)"
    case (false, true): return "FAIL (float32)"
    default: return "FAIL (float64)"
    }
}

/// One line per failed comparison, each verdict's named when a run has two.
func failureLines(_ r: ModuleRunReport) -> [String] {
    guard let wide = r.float64 else { return r.comparisons.filter { !$0.passed }.map(failureLine) }
    return r.comparisons.filter { !$0.passed }.map { "float32 " + failureLine($0) }
        + wide.comparisons.filter { !$0.passed }.map { "float64 " + failureLine($0) }
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
