#ifndef PTALLOCATIONS_H
#define PTALLOCATIONS_H

/* Heap allocations made by the calling thread since it started, counted by the allocator
 * functions that allocations.c interposes (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign), or -1 where they are not interposed (not glibc). Swift's
 * allocations (swift_slowAlloc: objects, array and string storage, closure contexts) go through
 * them. */
long pt_thread_allocations(void);

#endif
