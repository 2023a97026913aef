import PTKernelsC
import PTTensor

/// The reference product and the kernel tables of the element types ptload computes in
/// (float32, float64), hung off `ArrayScalar` so that one protocol names them. A type that
/// conforms to `ArrayScalar` elsewhere has no kernel tables (the layers then run the reference
/// implementation) and a reference product in Swift loops.
///
/// Every matrix here is row-major and dense: `a` is `[m, k]` with row stride `lda`, and so on.
extension ArrayScalar {
    /// `c[m, n] = a[m, k] · bᵀ`, where `b` is stored `[n, k]` (PyTorch's `weight` layout): plain
    /// loops summing in double, for the reference implementation (`Compute.Engine.reference`),
    /// which shares no code with the packed kernels.
    public static func referenceProduct(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int,
                                        b: UnsafePointer<Self>, ldb: Int, c: UnsafeMutablePointer<Self>, ldc: Int) {
        if Self.self == Float.self {
            ptk_reference_gemm_f32(m, n, k, rebound(a), lda, rebound(b), ldb, rebound(c), ldc)
        } else if Self.self == Double.self {
            ptk_reference_gemm_f64(m, n, k, rebound(a), lda, rebound(b), ldb, rebound(c), ldc)
        } else {
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for kk in 0..<k { sum += Double(a[i * lda + kk]) * Double(b[j * ldb + kk]) }
                    c[i * ldc + j] = Self(sum)
                }
            }
        }
    }

    /// The packed kernels of `set` for this type (Kernels.swift); nil where the set is not built
    /// for this architecture or this type has none. A table of a set this CPU cannot run stops
    /// the process on its first use: choose sets through `Compute`, which never holds one.
    public static func kernels(_ set: KernelSet) -> KernelTable<Self>? {
        if Self.self == Float.self { return Float.kernelTable(set) as? KernelTable<Self> }
        if Self.self == Double.self { return Double.kernelTable(set) as? KernelTable<Self> }
        return nil
    }
}

/// `pointer` as a pointer to `T`, the type its memory is bound to (`Self` is `T` where called).
func rebound<S, T>(_ pointer: UnsafePointer<S>) -> UnsafePointer<T> {
    UnsafeRawPointer(pointer).assumingMemoryBound(to: T.self)
}

func rebound<S, T>(_ pointer: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: T.self)
}
