/* The kernels for aarch64 Advanced SIMD, which every aarch64 CPU has, so no target attribute (32 vector registers: 8-row kernels). */
#include "ptkernels.h"

#if defined(__aarch64__)
#define SET neon
#define LANES 4
#define MR 8
#define PREFETCH 0
#define ROW_PANELS 4
#include "instances.inc"
#endif
