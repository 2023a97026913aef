#ifndef PTLOAD_CPREFETCH_H
#define PTLOAD_CPREFETCH_H

/* A software prefetch for the packed matrix kernels. Swift has no prefetch intrinsic; this
 * static inline function compiles to one prefetcht0 in the caller. It reads nothing and cannot
 * fault, whatever the address. */
static inline __attribute__((always_inline)) void ptload_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 2);
}

#endif
