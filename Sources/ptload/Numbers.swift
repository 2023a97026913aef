import Foundation

/// An error or a time as the reports print it: three significant digits, `inf`, `nan`, `0`,
/// exponents without leading zeros (`1.2e-7`).
func format(_ x: Double) -> String {
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    if x.isNaN { return "nan" }
    if x == 0 { return "0" }
    var s = String(format: "%.3g", x)
    if s.contains("e") { s = s.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e+") }
    return s
}
