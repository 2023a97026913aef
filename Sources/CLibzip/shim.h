#ifndef PTLOAD_CLIBZIP_SHIM_H
#define PTLOAD_CLIBZIP_SHIM_H

/* Feature macros come before any system header so that off_t and
   zip_uint64_t are 64-bit and mmap/pread are declared. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#define _FILE_OFFSET_BITS 64

#include <zip.h>
#include <zlib.h>

#endif
