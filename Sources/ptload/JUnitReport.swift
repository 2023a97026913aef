import Foundation
import PTRunner
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
        out += "<testsuite name=\"\(xml(suiteName))\" tests=\"\(cases.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\" time=\"\(seconds(total))\">\n"
        for c in cases {
            out += "  <testcase name=\"\(xml(c.name))\" classname=\"\(xml(c.className))\" time=\"\(seconds(c.seconds))\""
            if c.passed {
                out += "/>\n"
                continue
            }
            let message = c.failures.first ?? "mismatch"
            let body = c.failures.joined(separator: "\n")
            out += ">\n    <failure type=\"mismatch\" message=\"\(xml(message))\">\(xml(body))</failure>\n  </testcase>\n"
        }
        out += "</testsuite>\n"
        return out
    }

    private func seconds(_ s: Double) -> String { String(format: "%.6f", s) }

    /// Text as XML character data or an attribute value: markup escaped, and characters XML 1.0
    /// cannot hold (most control characters) written as `\u{…}`.
    private func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF || (0xD800...0xDFFF).contains(v) {
                    out += "\\u{\(String(v, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
