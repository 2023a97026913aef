/* A heap-allocation counter for the tests: on glibc, the test executable defines the allocator's
 * entry points itself, which the dynamic linker then binds every library's calls to (the
 * executable's symbols come first), counts each call in a thread-local counter and hands it to
 * glibc's own functions (__libc_malloc, …). Counting per thread keeps the tests that run at the
 * same time on other threads out of the count. free is not interposed: only allocations count. */
#include "ptallocations.h"

#include <errno.h>   /* and features.h, which defines __GLIBC__ */
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local long allocations;

long pt_thread_allocations(void) { return allocations; }

void *malloc(size_t size) {
    allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    allocations++;
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    allocations++;
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    allocations++;
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *result = pointer;
    return 0;
}
#else
long pt_thread_allocations(void) { return -1; }
#endif
