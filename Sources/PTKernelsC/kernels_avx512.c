/* The kernels for AVX-512 F/BW/DQ/VL (32 vector registers: 8-row kernels). */
#include "ptkernels.h"

#if defined(__x86_64__)
#pragma clang attribute push (__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), apply_to = function)

#define T float
#define TI int
#define VL 16
#define MR 8
#define SUF f32_avx512
#define OPS_T ptk_f32_ops
#define IS_F64 0
#define PREFETCH 1
#include "kernels.inc"
#undef T
#undef TI
#undef VL
#undef SUF
#undef OPS_T
#undef IS_F64

#define T double
#define TI long long
#define VL 8
#define SUF f64_avx512
#define OPS_T ptk_f64_ops
#define IS_F64 1
#include "kernels.inc"
#undef T
#undef TI
#undef VL
#undef MR
#undef SUF
#undef OPS_T
#undef IS_F64
#undef PREFETCH

#pragma clang attribute pop
#endif
