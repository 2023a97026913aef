import PTKernels
import PTTensor

/// `out[r, s, :] = x[r, order[s], :]` for `rows` groups of `batch` rows of `width`.
func permuteRows<Scalar: ArrayScalar>(_ x: [Scalar], rows: Int, batch: Int, width: Int, order: [Int]) -> [Scalar] {
    if order.enumerated().allSatisfy({ $0.offset == $0.element }) { return x }
    var out = [Scalar](repeating: 0, count: x.count)
    for r in 0..<rows {
        for s in 0..<batch {
            let from = (r * batch + order[s]) * width, to = (r * batch + s) * width
            for j in 0..<width { out[to + j] = x[from + j] }
        }
    }
    return out
}

func inversePermutation(_ order: [Int]) -> [Int] {
    var inverse = [Int](repeating: 0, count: order.count)
    for (s, b) in order.enumerated() { inverse[b] = s }
    return inverse
}
