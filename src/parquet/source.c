/*
 * source.c -- the Parquet reader's byte source: a whole file memory-mapped read-only
 * (MAP_PRIVATE), so decoding reads pages straight from the page cache and a reader can be
 * shared by decoding threads without locks.
 *
 * This is the only file of the module that touches the operating system; everything else
 * reads through the (data, len) pair, which is what ldr_pq_reader_open_mem takes too (the
 * fuzz target). The mapping lives until ldr__pq_source_unmap (called by
 * ldr_pq_reader_close). A file that shrinks while mapped raises SIGBUS on access: Larder
 * assumes Parquet files are immutable once written (writers rename into place).
 */
#include "parquet/reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

ldr_code ldr__pq_source_map(const char *path, const uint8_t **out_data, size_t *out_len,
                            ldr_err *err)
{
    *out_data = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno, "cannot open %s",
                           path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ldr_err_sys(err, LDR_EIO, e, "cannot stat %s", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ldr_err_setf(err, LDR_EINVAL, "%s is not a regular file", path);
    }
    if (sb.st_size <= 0) {
        close(fd);
        return LDR_OK;
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return ldr_err_setf(err, LDR_ELIMIT, "%s is too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return ldr_err_sys(err, LDR_EIO, e, "cannot map %s", path);
    *out_data = p;
    *out_len = len;
    return LDR_OK;
}

void ldr__pq_source_unmap(const uint8_t *data, size_t len)
{
    if (data && len)
        munmap((void *)(uintptr_t)data, len);
}

void ldr__pq_source_release(const uint8_t *p, size_t len)
{
    /* Drop the whole pages inside [p, p + len) from this process's resident set: decoded
     * columns own copies of every byte, and the page cache keeps the file for re-reads,
     * so a scan's RSS is its decoded data rather than decoded data plus the file. */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || !p || len == 0)
        return;
    uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t begin = ((uintptr_t)p + mask) & ~mask;
    uintptr_t end = ((uintptr_t)p + len) & ~mask;
    if (end > begin)
        (void)madvise((void *)begin, end - begin, MADV_DONTNEED);
}
