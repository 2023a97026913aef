#ifndef PTKERNELS_H
#define PTKERNELS_H

/* ptload's compute kernels: packed matrix products and fused recurrent gates, written once
 * (kernels.inc) over clang's vector extensions and compiled once per instruction set, each
 * instance under its own target attribute, so that no compiler flag is needed and a CPU that
 * lacks a set never runs a line of it. The caller checks the CPU (PTKernels' CPUFeatures) and
 * asks for the table of the set it chose; a table is NULL where the set does not exist on this
 * architecture.
 *
 * Packed weights: W, [rows, k] row-major (PyTorch's layout), becomes panels of `panel` rows
 * stored k-major, panel after panel: packed[(q·k + kk)·panel + j] = W[q·panel + j, kk], zero past
 * `rows`. A product then streams W sequentially, `panel` outputs per k. `panel` is two vectors of
 * the set (AVX-512 float32: 32; AVX2: 16; NEON and plain: 8; float64 half that). */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ptk_isa {
    PTK_PLAIN = 0,   /* generic 4-lane vectors: any CPU */
    PTK_AVX2 = 1,    /* x86-64 AVX2 + FMA */
    PTK_AVX512 = 2,  /* x86-64 AVX-512 F, BW, DQ, VL */
    PTK_NEON = 3,    /* aarch64 Advanced SIMD */
};

/* One element type's kernels for one instruction set. Lengths and strides count elements. */
#define PTK_OPS(T, NAME)                                                                           \
    typedef struct NAME {                                                                          \
        /* Rows per panel. */                                                                      \
        long panel;                                                                                \
        /* Elements `pack` writes for a [rows, k] matrix: panels(rows) · panel · k. */             \
        long (*packed_count)(long rows, long k);                                                   \
        /* W [rows, k] → packed (packed_count elements). */                                        \
        void (*pack)(const T *w, long rows, long k, T *packed);                                    \
        /* c[i, q·panel + j] = Σ_kk a[i, kk] · W[q·panel + j, kk] for i < m, q in [q0, q1),        \
         * j < panel (c's columns past `rows` get zeros). a: [m, k] with row stride lda. */        \
        void (*gemm)(long m, long k, const T *a, long lda, const T *packed, long q0, long q1,      \
                     T *c, long ldc);                                                              \
        /* gemm with each row's sums done the same way whatever m and the row's place among the  \
         * m (the 1- and 2-row blocks keep one accumulator per row, as the wider ones do, and the  \
         * chunk of k depends on k alone): rows projected in one call, in slices or one chunk of \
         * steps at a time give the same bits. The input projections use it. */                  \
        void (*gemm_rowwise)(long m, long k, const T *a, long lda, const T *packed, long q0,       \
                             long q1, T *c, long ldc);                                             \
        /* a's m rows packed the way gemm reads them (m·k values), so that several products over  \
         * the same rows (a step split among threads) pack them once. */                          \
        void (*pack_rows)(long m, long k, const T *a, long lda, T *ap);                            \
        /* gemm from rows packed by pack_rows; `descending`: the panels read from q1 − 1 down to  \
         * q0 (the same bits), so that a step reading them the other way from the last finds the \
         * panels it read last still in cache. */                                                  \
        void (*gemm_rows)(long m, long k, const T *ap, const T *packed, long q0, long q1,          \
                          T *c, long ldc, int descending);                                         \
        /* LSTM gates of one row, units [0, n): gate g (i, f, g, o) of unit u is                   \
         * x[g·xs + u] + bias[g·xs + u] + r[g·rs + u]. c' = σf·c + σi·tanh g, h' = σo·tanh c';     \
         * c updated in place, h' written to h and out. */                                         \
        void (*lstm)(long n, const T *x, const T *bias, long xs, const T *r, long rs,              \
                     T *c, T *h, T *out);                                                          \
        /* GRU gates of one row: r, z = σ(x + bias + rec); n = tanh(x_n + b_n + r·(rec_n + bhn)); \
         * h' = (1 − z)·n + z·hprev, written to h and out. */                                      \
        void (*gru)(long n, const T *x, const T *bias, long xs, const T *r, long rs,               \
                    const T *bhn, const T *hprev, T *h, T *out);                                   \
        /* RNN: h' = act(x + bias + r), tanh or relu (relu keeps NaN, as torch.relu). */           \
        void (*rnn)(long n, const T *x, const T *bias, const T *r, int relu, T *h, T *out);        \
        /* Elementwise e^x, σ(x), tanh(x) of n values (what the gates use; for tests). */          \
        void (*exp)(long n, const T *x, T *y);                                                     \
        void (*sigmoid)(long n, const T *x, T *y);                                                 \
        void (*tanh)(long n, const T *x, T *y);                                                    \
    } NAME;

PTK_OPS(float, ptk_f32_ops)
PTK_OPS(double, ptk_f64_ops)
#undef PTK_OPS

/* The kernels of `isa`, or NULL where that set is not built for this architecture. */
const ptk_f32_ops *ptk_f32(int isa);
const ptk_f64_ops *ptk_f64(int isa);

/* c[i, j] = Σ_kk a[i, kk] · b[j, kk] for i < m, j < n: plain loops summing in double, for the
 * reference implementation of the recurrent layers (reference.c). */
void ptk_reference_gemm_f32(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                            float *c, long ldc);
void ptk_reference_gemm_f64(long m, long n, long k, const double *a, long lda, const double *b, long ldb,
                            double *c, long ldc);

/* The spin-wait hint (x86 `pause`, arm64 `yield`, nothing elsewhere). */
void ptk_spin_pause(void);

#ifdef __cplusplus
}
#endif

#endif
