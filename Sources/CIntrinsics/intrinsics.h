#ifndef PTLOAD_CINTRINSICS_H
#define PTLOAD_CINTRINSICS_H

/* Two x86 instructions the kernels need and Swift cannot spell. Each static inline function
 * compiles to the one instruction in its caller. */

/* prefetcht0: asks for the line at `address` in L1. Reads nothing and cannot fault, whatever
 * the address. */
static inline __attribute__((always_inline)) void ptload_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* pause: the spin-wait hint. A spinning thread yields the core's shared resources to its
 * sibling hyperthread (or, in a VM, lets the hypervisor see the spin) while it waits. */
static inline __attribute__((always_inline)) void ptload_pause(void) {
    __builtin_ia32_pause();
}

#endif
