/* The kernels for generic 4-lane vectors for any CPU (SSE2 on x86-64, NEON on aarch64, scalar code elsewhere), no attribute. */
#include "ptkernels.h"

#if 1

#define T float
#define TI int
#define VL 4
#define MR 4
#define SUF f32_plain
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
#define SUF f64_plain
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
