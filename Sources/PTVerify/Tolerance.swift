import PTTensor

/// `|actual − expected| ≤ atol + rtol · |expected|`, elementwise.
///
/// Defaults are `torch.testing.assert_close`'s for the dtype the module computes in
/// (`torch/testing/_comparison.py`): float16 (1e-3, 1e-5), bfloat16 (1.6e-2, 1e-5),
/// float32 (1.3e-6, 1e-5), float64 (1e-7, 1e-7). The one tolerance policy of ptload.
public struct Tolerance: Equatable, Codable, Sendable {
    public var rtol: Double
    public var atol: Double

    public init(rtol: Double, atol: Double) {
        self.rtol = rtol
        self.atol = atol
    }

    public static func defaults(for dtype: DType) -> Tolerance {
        switch dtype {
        case .float16, .complex32: return Tolerance(rtol: 1e-3, atol: 1e-5)
        case .bfloat16: return Tolerance(rtol: 1.6e-2, atol: 1e-5)
        case .float64, .complex128: return Tolerance(rtol: 1e-7, atol: 1e-7)
        default: return Tolerance(rtol: 1.3e-6, atol: 1e-5)
        }
    }

    /// Whether `actual` is close to `expected`; NaN equals only NaN, an infinity only itself.
    @inlinable
    public func accepts(_ actual: Double, _ expected: Double) -> Bool {
        if actual.isNaN || expected.isNaN { return actual.isNaN && expected.isNaN }
        if actual == expected { return true }
        if actual.isInfinite || expected.isInfinite { return false }
        return abs(actual - expected) <= atol + rtol * abs(expected)
    }
}
