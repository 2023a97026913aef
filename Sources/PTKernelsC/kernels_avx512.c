/* The kernels for AVX-512 F/BW/DQ/VL (32 vector registers: 8-row kernels). */
#include "ptkernels.h"

#if defined(__x86_64__)
#define SET avx512
#define LANES 16
#define MR 8
#define PREFETCH 1
#define ROW_PANELS 3
#pragma clang attribute push (__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), apply_to = function)
#include "instances.inc"
#pragma clang attribute pop
#endif
