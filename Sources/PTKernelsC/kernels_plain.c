/* The kernels for generic 4-lane vectors for any CPU (SSE2 on x86-64, NEON on aarch64, scalar code elsewhere), no attribute. */
#include "ptkernels.h"

#if 1
#define SET plain
#define LANES 4
#define MR 4
#define PREFETCH 0
#define ROW_PANELS 4
#include "instances.inc"
#endif
