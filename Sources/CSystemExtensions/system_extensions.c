#define _GNU_SOURCE
#include "CSystemExtensions.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

ssize_t gs_copy_file_range(int input, int64_t *offset, int output, size_t count) {
#if defined(__linux__)
    off_t position = (off_t)*offset;
    ssize_t copied = copy_file_range(input, &position, output, NULL, count, 0);
    *offset = (int64_t)position;
    return copied;
#else
    (void)input; (void)offset; (void)output; (void)count;
    errno = ENOSYS;
    return -1;
#endif
}

int gs_start_writeback(int descriptor, int64_t offset, int64_t count) {
#if defined(__linux__)
    return sync_file_range(descriptor, (off_t)offset, (off_t)count, SYNC_FILE_RANGE_WRITE);
#else
    (void)descriptor; (void)offset; (void)count;
    errno = ENOSYS;
    return -1;
#endif
}
