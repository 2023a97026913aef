#ifndef PTLOAD_COPENBLAS_SHIM_H
#define PTLOAD_COPENBLAS_SHIM_H

/* Debian's libopenblas-dev: pkg-config "openblas" puts its own cblas.h first on the path. */
#include <cblas.h>

/* Not in every cblas.h; OpenBLAS exports it. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

#endif
