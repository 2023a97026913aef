import PTKernelsC
import PTTensor
import RealModule

/// The element types the recurrent layers compute in (float32, float64): their packed kernels
/// and the reference product.
///
/// Every matrix here is row-major and dense: `a` is `[m, k]` with row stride `lda`, and so on.
public protocol GEMMScalar: Real, ArrayScalar {
    /// `c[m, n] = a[m, k] · bᵀ`, where `b` is stored `[n, k]` (PyTorch's `weight` layout): plain
    /// loops summing in double, for the reference implementation (`PTLOAD_KERNELS=reference`),
    /// which shares no code with the packed kernels.
    static func referenceProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int,
                                 b: UnsafePointer<Self>, ldb: Int, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// The packed kernels of `set` for this type (Kernels.swift); nil where the set is not built
    /// for this architecture.
    static func kernels(_ set: KernelSet) -> KernelTable<Self>?
}

extension Float: GEMMScalar {
    public static func referenceProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        ptk_reference_gemm_f32(m, n, k, a, lda, b, ldb, c, ldc)
    }
}

extension Double: GEMMScalar {
    public static func referenceProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int,
                                        b: UnsafePointer<Double>, ldb: Int, c: UnsafeMutablePointer<Double>, ldc: Int) {
        ptk_reference_gemm_f64(m, n, k, a, lda, b, ldb, c, ldc)
    }
}
