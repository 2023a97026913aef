import PTTensor

/// How one computed tensor compares with PyTorch's: shape first, then every element.
public struct Comparison: Codable, Equatable {
    public let name: String
    public let expectedShape: [Int]
    public let actualShape: [Int]
    /// Largest `|a − e|` over elements where both are finite; 0 when there are none.
    public let maxAbsError: Double
    /// Largest `|a − e| / |e|` over those elements (infinite where e = 0 and a ≠ 0).
    public let maxRelError: Double
    /// Elements outside tolerance (every element on a shape mismatch).
    public let mismatches: Int
    public let count: Int
    /// The element furthest outside tolerance, or with the largest error when all pass; nil when empty or shapes
    /// differ.
    public let worstIndex: [Int]?
    public let worstActual: Double?
    public let worstExpected: Double?
    public let passed: Bool

    enum CodingKeys: String, CodingKey {
        case name, passed, count, mismatches
        case expectedShape = "expected_shape", actualShape = "actual_shape"
        case maxAbsError = "max_abs_error", maxRelError = "max_rel_error"
        case worstIndex = "worst_index", worstActual = "worst_actual", worstExpected = "worst_expected"
    }

    /// Compares what ptload computed, `actual`, with PyTorch's `expected` under `tolerance`.
    /// - Throws: `TensorError` when `expected`'s values cannot be read (complex, a CRC error on
    ///   first use).
    public init<Scalar>(name: String, actual: ShapedArray<Scalar>, expected: Tensor, tolerance: Tolerance) throws {
        self.name = name
        expectedShape = expected.shape
        actualShape = actual.shape
        count = expected.elementCount
        guard actual.shape == expected.shape else {
            maxAbsError = .infinity
            maxRelError = .infinity
            mismatches = Swift.max(expected.elementCount, actual.values.count)
            worstIndex = nil
            worstActual = nil
            worstExpected = nil
            passed = false
            return
        }
        // Chunk by chunk, so that comparing a 50 MB output does not hold two Double copies of it.
        var maxAbs = 0.0, maxRel = 0.0, failures = 0
        var worst: Int?, worstExcess = -Double.infinity, largest = -1.0, largestAt: Int?
        var worstPair: (Double, Double)?, largestPair: (Double, Double)?
        let chunk = 1 << 16
        var start = 0
        while start < expected.elementCount {
            let range = start..<min(start + chunk, expected.elementCount)
            let e = try expected.doubles(in: range)
            let a = Scalar.doubles(actual.values[range])
            for (offset, y) in e.enumerated() {
                let i = range.lowerBound + offset
                let x = a[offset]
                let ok = tolerance.accepts(x, y)
                if !ok { failures += 1 }
                let diff = abs(x - y)
                if x.isFinite && y.isFinite {
                    maxAbs = Swift.max(maxAbs, diff)
                    let rel = y == 0 ? (diff == 0 ? 0 : Double.infinity) : diff / abs(y)
                    maxRel = Swift.max(maxRel, rel)
                    if diff > largest { largest = diff; largestAt = i; largestPair = (x, y) }
                }
                if !ok {
                    let excess = diff.isNaN ? Double.infinity : diff - (tolerance.atol + tolerance.rtol * abs(y))
                    if worst == nil || excess > worstExcess { worst = i; worstExcess = excess; worstPair = (x, y) }
                }
            }
            start = range.upperBound
        }
        let at = worst ?? largestAt
        maxAbsError = maxAbs
        maxRelError = maxRel
        mismatches = failures
        worstIndex = at.map { Comparison.unravel($0, expected.shape) }
        let pair = worst != nil ? worstPair : largestPair
        worstActual = at.map { _ in pair?.0 ?? .nan }
        worstExpected = at.map { _ in pair?.1 ?? .nan }
        passed = failures == 0
    }

    /// Row-major flat index → multi-index.
    static func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] > 0 {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }
}
