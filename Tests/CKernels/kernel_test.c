/* The C kernels on their own, for every instruction set this build and CPU can run, against
 * plain loops in long double: built and run natively by `make test-kernels`, and cross-built for
 * aarch64 and run under qemu-aarch64 (the NEON and plain sets), since Swift itself cannot be built
 * for aarch64 here. Prints one line per set and a closing "N passed, M failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptkernels.h"

static int passed, failed;

static void check(int ok, const char *set, const char *what, long i) {
    if (ok) {
        passed++;
    } else {
        failed++;
        if (failed < 30) printf("FAIL %s: %s at %ld\n", set, what, i);
    }
}

static unsigned long long seed = 42;
static double next(void) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)((long)(seed >> 40) % 2001 - 1000) / 1000.0;
}

static int cpu_runs(int isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == PTK_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (isa == PTK_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return 1;
}

static const char *names[] = {"plain", "avx2", "avx512", "neon"};

static long double sigmoid_ld(long double v) { return 1.0L / (1.0L + expl(-v)); }

/* The same tests for float and double: TYPE, OPS, EPS (relative tolerance), on table t. */
#define DEFINE_TESTS(TYPE, OPS, EPS, NAME)                                                        \
static void NAME(const OPS *t, const char *set) {                                                  \
    char what[160];                                                                                \
    /* Products: every row count through 23 and a few larger, k around the chunks. */              \
    long shapes[][2] = {{t->panel * 3 - 5, 7}, {2 * t->panel, 128}, {t->panel + 3, 300}, {3 * t->panel, 1030}}; \
    for (int s = 0; s < 4; s++) {                                                                  \
        long rows = shapes[s][0], k = shapes[s][1];                                                \
        TYPE *w = malloc(sizeof(TYPE) * rows * k);                                                 \
        for (long i = 0; i < rows * k; i++) w[i] = (TYPE)next();                                   \
        TYPE *packed = malloc(sizeof(TYPE) * t->packed_count(rows, k));                            \
        t->pack(w, rows, k, packed);                                                               \
        long ldc = (rows + t->panel - 1) / t->panel * t->panel;                                    \
        long ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23, 33, 200};     \
        for (int mi = 0; mi < 20; mi++) {                                                          \
            long m = ms[mi];                                                                       \
            TYPE *a = malloc(sizeof(TYPE) * m * k), *c = malloc(sizeof(TYPE) * m * ldc);           \
            for (long i = 0; i < m * k; i++) a[i] = (TYPE)next();                                  \
            for (long i = 0; i < m * ldc; i++) c[i] = (TYPE)NAN;                                   \
            t->gemm(m, k, a, k, packed, 0, ldc / t->panel, c, ldc);                                \
            int ok = 1; long bad = -1;                                                             \
            for (long i = 0; i < m && ok; i++)                                                     \
                for (long r = 0; r < ldc; r++) {                                                   \
                    long double sum = 0, mag = 0;                                                  \
                    if (r < rows)                                                                  \
                        for (long kk = 0; kk < k; kk++) {                                          \
                            long double p = (long double)a[i * k + kk] * w[r * k + kk];            \
                            sum += p; mag += fabsl(p);                                             \
                        }                                                                          \
                    if (!(fabsl(c[i * ldc + r] - sum) <= EPS * mag + 1e-30L)) { ok = 0; bad = i * ldc + r; break; } \
                }                                                                                  \
            snprintf(what, sizeof what, "%s product rows %ld k %ld m %ld", #TYPE, rows, k, m);     \
            check(ok, set, what, bad);                                                             \
            /* The same rows packed once and multiplied from the packing: the same bits. */        \
            TYPE *ap = malloc(sizeof(TYPE) * m * k), *c2 = malloc(sizeof(TYPE) * m * ldc);         \
            t->pack_rows(m, k, a, k, ap);                                                          \
            t->gemm_rows(m, k, ap, packed, 0, ldc / t->panel, c2, ldc, 0);                            \
            snprintf(what, sizeof what, "%s packed rows rows %ld k %ld m %ld", #TYPE, rows, k, m); \
            check(memcmp(c, c2, sizeof(TYPE) * m * ldc) == 0, set, what, m);                       \
            /* The panels read from the last down: the same bits. */                              \
            for (long i = 0; i < m * ldc; i++) c2[i] = (TYPE)NAN;                                  \
            t->gemm_rows(m, k, ap, packed, 0, ldc / t->panel, c2, ldc, 1);                         \
            snprintf(what, sizeof what, "%s descending rows %ld k %ld m %ld", #TYPE, rows, k, m);  \
            check(memcmp(c, c2, sizeof(TYPE) * m * ldc) == 0, set, what, m);                       \
            free(ap); free(c2);                                                                    \
            /* Row by row alike: the m rows at once, within tolerance, and each row alone (one   \
             * call per row, as a streamed step projects it), the same bits as in the m. */        \
            TYPE *cw = malloc(sizeof(TYPE) * m * ldc), *c1 = malloc(sizeof(TYPE) * ldc);           \
            t->gemm_rowwise(m, k, a, k, packed, 0, ldc / t->panel, cw, ldc);                       \
            int same = 1, close = 1;                                                               \
            for (long i = 0; i < m; i++) {                                                         \
                t->gemm_rowwise(1, k, a + i * k, k, packed, 0, ldc / t->panel, c1, ldc);           \
                same = same && memcmp(c1, cw + i * ldc, sizeof(TYPE) * ldc) == 0;                  \
                for (long r = 0; r < rows; r++) {                                                  \
                    long double sum = 0, mag = 0;                                                  \
                    for (long kk = 0; kk < k; kk++) {                                              \
                        long double p = (long double)a[i * k + kk] * w[r * k + kk];                \
                        sum += p; mag += fabsl(p);                                                 \
                    }                                                                              \
                    close = close && fabsl(cw[i * ldc + r] - sum) <= EPS * mag + 1e-30L;           \
                }                                                                                  \
            }                                                                                      \
            snprintf(what, sizeof what, "%s rowwise rows %ld k %ld m %ld", #TYPE, rows, k, m);     \
            check(same && close, set, what, m);                                                    \
            free(cw); free(c1);                                                                    \
            free(a); free(c);                                                                      \
        }                                                                                          \
        free(w); free(packed);                                                                     \
    }                                                                                              \
    /* Functions: exp, sigmoid, tanh over a range, with NaN and ±0. */                             \
    enum { N = 433 };                                                                              \
    TYPE x[N], e[N], sg[N], th[N];                                                                 \
    for (int i = 0; i < N; i++) x[i] = (TYPE)((i - 216) / 23.0);                                   \
    x[0] = (TYPE)-0.0; x[1] = (TYPE)NAN; x[2] = (TYPE)INFINITY; x[3] = (TYPE)-INFINITY; x[4] = (TYPE)1e-8; \
    t->exp(N, x, e); t->sigmoid(N, x, sg); t->tanh(N, x, th);                                      \
    for (int i = 0; i < N; i++) {                                                                  \
        long double v = x[i];                                                                      \
        snprintf(what, sizeof what, "%s functions at %Lg", #TYPE, v);                              \
        if (isnan(x[i])) { check(isnan(e[i]) && isnan(sg[i]) && isnan(th[i]), set, what, i); continue; } \
        long double ev = expl(v), sv = sigmoid_ld(v), tv = tanhl(v);                               \
        long double tiny = sizeof(TYPE) == 4 ? 1.2e-38L : 2.3e-308L; /* the least normal */        \
        int ok = fabsl(sg[i] - sv) <= 4 * EPS * sv + tiny && fabsl(th[i] - tv) <= 4 * EPS * fabsl(tv) + tiny; \
        if (isfinite(x[i])) ok = ok && fabsl(e[i] - ev) <= 4 * EPS * ev;                            \
        if (i == 0) ok = ok && signbit(th[i]);                                                     \
        check(ok, set, what, i);                                                                   \
    }                                                                                              \
    /* Gates of one row: LSTM, GRU, RNN tanh and relu, every tail length. */                       \
    long ns[] = {1, t->panel / 2 - 1, t->panel / 2 + 1, t->panel + 3, 37};                         \
    for (int ni = 0; ni < 5; ni++) {                                                               \
        long n = ns[ni]; if (n < 1) continue;                                                      \
        long xs = n + 5, rs = n + 9;                                                               \
        TYPE gx[4 * 50], gb[4 * 50], gr[4 * 50], c[50], c0[50], h[50], out[50], hp[50], bhn[50];   \
        for (long i = 0; i < 4 * xs; i++) { gx[i] = (TYPE)(3 * next()); gb[i] = (TYPE)next(); }    \
        for (long i = 0; i < 4 * rs; i++) gr[i] = (TYPE)(2 * next());                              \
        for (long i = 0; i < n; i++) { c0[i] = c[i] = (TYPE)next(); hp[i] = (TYPE)next(); bhn[i] = (TYPE)next(); } \
        t->lstm(n, gx, gb, xs, gr, rs, c, h, out);                                                 \
        int ok = 1;                                                                                \
        for (long u = 0; u < n; u++) {                                                             \
            long double p[4];                                                                      \
            for (int g = 0; g < 4; g++) p[g] = (long double)gx[g * xs + u] + gb[g * xs + u] + gr[g * rs + u]; \
            long double cell = sigmoid_ld(p[1]) * c0[u] + sigmoid_ld(p[0]) * tanhl(p[2]);          \
            long double hid = sigmoid_ld(p[3]) * tanhl(cell);                                      \
            ok = ok && fabsl(c[u] - cell) <= 16 * EPS && fabsl(h[u] - hid) <= 16 * EPS && out[u] == h[u]; \
        }                                                                                          \
        snprintf(what, sizeof what, "%s lstm n %ld", #TYPE, n); check(ok, set, what, n);           \
        t->gru(n, gx, gb, xs, gr, rs, bhn, hp, h, out);                                            \
        ok = 1;                                                                                    \
        for (long u = 0; u < n; u++) {                                                             \
            long double r = sigmoid_ld((long double)gx[u] + gb[u] + gr[u]);                        \
            long double z = sigmoid_ld((long double)gx[xs + u] + gb[xs + u] + gr[rs + u]);         \
            long double cand = tanhl((long double)gx[2 * xs + u] + gb[2 * xs + u] + r * ((long double)gr[2 * rs + u] + bhn[u])); \
            long double hid = (1 - z) * cand + z * hp[u];                                          \
            ok = ok && fabsl(h[u] - hid) <= 16 * EPS && out[u] == h[u];                            \
        }                                                                                          \
        snprintf(what, sizeof what, "%s gru n %ld", #TYPE, n); check(ok, set, what, n);            \
        for (int relu = 0; relu < 2; relu++) {                                                     \
            t->rnn(n, gx, gb, gr, relu, h, out);                                                   \
            ok = 1;                                                                                \
            for (long u = 0; u < n; u++) {                                                         \
                long double p = (long double)gx[u] + gb[u] + gr[u];                                \
                long double want = relu ? (p < 0 ? 0 : p) : tanhl(p);                              \
                ok = ok && fabsl(h[u] - want) <= 16 * EPS && out[u] == h[u];                       \
            }                                                                                      \
            snprintf(what, sizeof what, "%s rnn relu=%d n %ld", #TYPE, relu, n); check(ok, set, what, n); \
        }                                                                                          \
    }                                                                                              \
}

DEFINE_TESTS(float, ptk_f32_ops, 2e-6L, test_f32)
DEFINE_TESTS(double, ptk_f64_ops, 1e-14L, test_f64)

int main(void) {
#if defined(__aarch64__)
    const char *arch = "aarch64";
#elif defined(__x86_64__)
    const char *arch = "x86-64";
#else
    const char *arch = "other";
#endif
    int isas[] = {PTK_AVX512, PTK_AVX2, PTK_NEON, PTK_PLAIN};
    for (int i = 0; i < 4; i++) {
        int isa = isas[i];
        if (!ptk_f32(isa) || !ptk_f64(isa)) { printf("%s: %s not built for this architecture\n", arch, names[isa]); continue; }
        if (!cpu_runs(isa)) { printf("%s: %s skipped: this CPU lacks it\n", arch, names[isa]); continue; }
        int before = failed, count = passed + failed;
        test_f32(ptk_f32(isa), names[isa]);
        test_f64(ptk_f64(isa), names[isa]);
        printf("%s: %s: %d checks, %d failed\n", arch, names[isa], passed + failed - count, failed - before);
    }
#if defined(__x86_64__)
    /* The avx512 layout on AVX2 instructions (kernels_avx512_layout.c), wherever AVX2 runs. */
    if (cpu_runs(PTK_AVX2)) {
        extern const ptk_f32_ops ptk_table_f32_avx512_layout;
        extern const ptk_f64_ops ptk_table_f64_avx512_layout;
        int before = failed, count = passed + failed;
        test_f32(&ptk_table_f32_avx512_layout, "avx512 layout on avx2");
        test_f64(&ptk_table_f64_avx512_layout, "avx512 layout on avx2");
        printf("%s: avx512 layout on avx2 instructions: %d checks, %d failed\n", arch, passed + failed - count, failed - before);
    }
#endif
    ptk_spin_pause();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
