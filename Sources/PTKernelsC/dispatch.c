/* Which table each instruction set has on this architecture. Compiled for the baseline: the
 * caller has checked the CPU before it calls into a table. */
#include "ptkernels.h"

extern const ptk_f32_ops ptk_table_f32_plain;
extern const ptk_f64_ops ptk_table_f64_plain;
#if defined(__x86_64__)
extern const ptk_f32_ops ptk_table_f32_avx2, ptk_table_f32_avx512;
extern const ptk_f64_ops ptk_table_f64_avx2, ptk_table_f64_avx512;
#endif
#if defined(__aarch64__)
extern const ptk_f32_ops ptk_table_f32_neon;
extern const ptk_f64_ops ptk_table_f64_neon;
#endif

const ptk_f32_ops *ptk_f32(int isa) {
    switch (isa) {
    case PTK_PLAIN: return &ptk_table_f32_plain;
#if defined(__x86_64__)
    case PTK_AVX2: return &ptk_table_f32_avx2;
    case PTK_AVX512: return &ptk_table_f32_avx512;
#endif
#if defined(__aarch64__)
    case PTK_NEON: return &ptk_table_f32_neon;
#endif
    default: return 0;
    }
}

const ptk_f64_ops *ptk_f64(int isa) {
    switch (isa) {
    case PTK_PLAIN: return &ptk_table_f64_plain;
#if defined(__x86_64__)
    case PTK_AVX2: return &ptk_table_f64_avx2;
    case PTK_AVX512: return &ptk_table_f64_avx512;
#endif
#if defined(__aarch64__)
    case PTK_NEON: return &ptk_table_f64_neon;
#endif
    default: return 0;
    }
}

void ptk_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
