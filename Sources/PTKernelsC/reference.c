/* The reference product: plain loops, no vectors, no packing, no target attribute. The
 * recurrent layers' second implementation (PTLOAD_KERNELS=reference) uses it, so that the tests
 * can check the packed kernels against code that shares nothing with them. */
#include "ptkernels.h"

void ptk_reference_gemm_f32(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                            float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double sum = 0;
            for (long kk = 0; kk < k; kk++) sum += (double)a[i * lda + kk] * b[j * ldb + kk];
            c[i * ldc + j] = (float)sum;
        }
}

void ptk_reference_gemm_f64(long m, long n, long k, const double *a, long lda, const double *b, long ldb,
                            double *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double sum = 0;
            for (long kk = 0; kk < k; kk++) sum += a[i * lda + kk] * b[j * ldb + kk];
            c[i * ldc + j] = sum;
        }
}
