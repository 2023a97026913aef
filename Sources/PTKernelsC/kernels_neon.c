/* The kernels for aarch64 Advanced SIMD, which every aarch64 CPU has, so no target attribute (32 vector registers: 8-row kernels). */
#include "ptkernels.h"

#if defined(__aarch64__)

#define T float
#define TI int
#define VL 4
#define MR 8
#define SUF f32_neon
#define OPS_T ptk_f32_ops
#define IS_F64 0
#define PREFETCH 0
#include "kernels.inc"
#undef T
#undef TI
#undef VL
#undef SUF
#undef OPS_T
#undef IS_F64

#define T double
#define TI long long
#define VL 2
#define SUF f64_neon
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

#endif
