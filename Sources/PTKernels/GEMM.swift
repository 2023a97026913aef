import COpenBLAS
import RealModule

/// The element types the recurrent layers compute in (float32, float64), with their BLAS matrix
/// product and their packed kernels.
///
/// Every matrix here is row-major and dense: `a` is `[m, k]` with row stride `lda`, and so on.
public protocol GEMMScalar: Real, BinaryFloatingPoint {
    /// `c[m, n] = alpha · a[m, k] · bᵀ + beta · c`, where `b` is stored `[n, k]` (PyTorch's
    /// `weight` layout, so `x · Wᵀ` needs no transposed copy).
    /// The corresponding CBLAS function is `cblas_sgemm` / `cblas_dgemm`.
    static func gemmABt(m: Int, n: Int, k: Int, alpha: Self,
                        a: UnsafePointer<Self>, lda: Int,
                        b: UnsafePointer<Self>, ldb: Int,
                        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// The packed kernels of `set` for this type (Kernels.swift); nil where the set is not built
    /// for this architecture.
    static func kernels(_ set: KernelSet) -> KernelTable<Self>?
}

extension Float: GEMMScalar {
    public static func gemmABt(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int, beta: Float,
                               c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        // BLAS requires leading dimensions ≥ 1 even when k = 0.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)), beta, c, Int32(max(ldc, 1)))
    }
}

extension Double: GEMMScalar {
    public static func gemmABt(m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                               b: UnsafePointer<Double>, ldb: Int, beta: Double,
                               c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)), beta, c, Int32(max(ldc, 1)))
    }
}

/// OpenBLAS's thread count (the benchmark pins it to match PyTorch's).
public enum BLASThreads {
    public static var count: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}
