import Foundation
import PTRunner
import PTText
import PTVerify

/// JUnit XML as Jenkins, GitLab and GitHub's test reporters read it: one `testsuite`, one
/// `testcase` per case (named after the case, which carries the module's dotted prefix; its
/// `classname` is the prefix), and a `failure` naming the worst element's index and both values.
struct JUnitReport {
    struct TestCase {
        let name: String
        let className: String
        let seconds: Double
        /// One line per failed comparison (`failureLines`).
        let failures: [String]
        let passed: Bool
    }

    let suiteName: String
    let cases: [TestCase]

    init(_ r: GoldenSuiteReport) {
        suiteName = "ptload \(r.model) --verify \(r.manifest)"
        cases = r.cases.map {
            TestCase(name: $0.name, className: "ptload." + ($0.module.isEmpty ? "(root)" : $0.module),
                     seconds: $0.seconds, failures: failureLines($0.report), passed: $0.report.passed)
        }
    }

    init(_ r: ModuleRunReport) {
        suiteName = "ptload \(r.model) --verify \(r.reference ?? "")"
        let module = r.modules.map { $0.isEmpty ? "(root)" : $0 }.joined(separator: ",")
        cases = [TestCase(name: module, className: "ptload." + module, seconds: r.timings.load_s + r.timings.forward_s,
                          failures: failureLines(r), passed: r.passed)]
    }

    func render() -> String {
        let failures = cases.filter { !$0.passed }.count
        let total = cases.reduce(0) { $0 + $1.seconds }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuite name=\"\(Escaped.xml(suiteName))\" tests=\"\(cases.count)\" failures=\"\(failures)\""
            + " errors=\"0\" skipped=\"0\" time=\"\(seconds(total))\">\n"
        for c in cases {
            out += "  <testcase name=\"\(Escaped.xml(c.name))\" classname=\"\(Escaped.xml(c.className))\""
                + " time=\"\(seconds(c.seconds))\""
            if c.passed {
                out += "/>\n"
                continue
            }
            let message = c.failures.first ?? "mismatch"
            let body = c.failures.joined(separator: "\n")
            out += ">\n    <failure type=\"mismatch\" message=\"\(Escaped.xml(message))\">"
                + "\(Escaped.xml(body))</failure>\n  </testcase>\n"
        }
        out += "</testsuite>\n"
        return out
    }

    private func seconds(_ s: Double) -> String { String(format: "%.6f", s) }
}
