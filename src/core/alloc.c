/*
 * alloc.c -- the only file that calls malloc, calloc, realloc and free (STYLE §19, §40).
 *
 * Policy: out of memory aborts the process (Redis, h2o), so call sites stay simple. Sizes
 * that come from untrusted input are checked against explicit limits *before* they get
 * here. Debug builds honour ldr_g.alloc_fail_at to fail the Nth allocation, for
 * allocation-failure injection in tests; failure still means abort, so those tests run
 * the code in a child process.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ldr_globals ldr_g = {.log_level = LDR_LOG_WARN};

_Noreturn static void oom(size_t n)
{
    fprintf(stderr, "larder: out of memory allocating %zu bytes\n", n);
    abort();
}

static void count_alloc(size_t n)
{
#ifndef NDEBUG
    if (ldr_g.alloc_fail_at && ++ldr_g.alloc_count == ldr_g.alloc_fail_at)
        oom(n);
#else
    (void)n;
#endif
}

void *ldr_xmalloc(size_t n)
{
    count_alloc(n);
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *ldr_xcalloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    count_alloc(count * size);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *ldr_xrealloc(void *p, size_t n)
{
    count_alloc(n);
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *ldr_xreallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    return ldr_xrealloc(p, count * size);
}

void *ldr_xaligned_realloc(void *p, size_t old_len, size_t n)
{
    count_alloc(n);
    void *q = NULL;
    if (posix_memalign(&q, LDR_ALIGN, n ? n : 1) != 0)
        oom(n);
    if (p) {
        memcpy(q, p, old_len < n ? old_len : n);
        free(p);
    }
    return q;
}

void ldr_free(void *p)
{
    free(p);
}

char *ldr_xstrdup(const char *s)
{
    return ldr_xstrndup(s, strlen(s));
}

char *ldr_xstrndup(const char *s, size_t len)
{
    char *p = ldr_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
