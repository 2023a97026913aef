/* The AVX-512 set's layout (16 float lanes, 8-row kernels, prefetch) compiled for AVX2 + FMA, for
 * the kernel tests only: on a CPU without AVX-512 this runs the very template code and blocking
 * the avx512 table runs (32-row panels, 8/6/4/2/1-row kernels, half the lanes for float64), the
 * compiler splitting each 16-lane vector into two AVX2 halves. What it cannot check is the AVX-512
 * instructions themselves; the avx512 table proper is tested on a CPU that has them. */
#include "ptkernels.h"

#if defined(__x86_64__)
#define SET avx512_layout
#define LANES 16
#define MR 8
#define PREFETCH 1
#define ROW_PANELS 3
/* The 16-lane helpers are static and inlined within this file, so the ABI note for passing a
 * 16-lane vector without AVX-512 concerns no call that exists. */
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang attribute push (__attribute__((target("avx2,fma"))), apply_to = function)
#include "../../Sources/PTKernelsC/instances.inc"
#pragma clang attribute pop
#endif
