/* The kernels for AVX2 + FMA (16 vector registers: 6-row kernels). */
#include "ptkernels.h"

#if defined(__x86_64__)
#define SET avx2
#define LANES 8
#define MR 6
#define PREFETCH 1
#define ROW_PANELS 4
#pragma clang attribute push (__attribute__((target("avx2,fma"))), apply_to = function)
#include "instances.inc"
#pragma clang attribute pop
#endif
