#ifndef PTLOAD_CLIBZIP_SHIM_H
#define PTLOAD_CLIBZIP_SHIM_H

/* No _GNU_SOURCE here: Swift's Glibc module is built without it, and glibc headers that
   two modules include textually with different feature macros cannot be merged (clang:
   "'fds_bits' from module 'CLibzip' is not present in definition of 'fd_set' in module
   'SwiftGlibc'"), which breaks any Swift module importing both Glibc and CLibzip.
   mmap and friends come from Swift's Glibc module instead. */
#define _FILE_OFFSET_BITS 64

#include <zip.h>
#include <zlib.h>

#endif
