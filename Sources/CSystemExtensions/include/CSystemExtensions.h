// Linux system calls that the Swift Glibc module does not declare (they need
// _GNU_SOURCE), wrapped so Swift can call them. On other systems the wrappers
// report ENOSYS and callers take their portable path.
#ifndef GS_CSYSTEM_EXTENSIONS_H
#define GS_CSYSTEM_EXTENSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2) from `input` at *offset (advanced) to `output` at its
/// file position: bytes copied, or -1 with errno.
ssize_t gs_copy_file_range(int input, int64_t *offset, int output, size_t count);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writeback of the
/// range without waiting for it. 0, or -1 with errno.
int gs_start_writeback(int descriptor, int64_t offset, int64_t count);

#endif
