/*
 * buf.c -- ldr_buf, the one growable byte buffer, always with a maximum size (curl's
 * dynbuf "toobig"). Appends that would pass the maximum fail with LDR_ELIMIT and leave the
 * buffer unchanged, so a hostile input can never grow memory without bound. The content
 * is kept NUL-terminated so it can be used as a C string at any time.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

void ldr_buf_init(ldr_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void ldr_buf_fini(ldr_buf *b)
{
    ldr_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void ldr_buf_init_fixed(ldr_buf *b, void *mem, size_t size)
{
    LDR_ASSERT(size >= 1);
    b->ptr = mem;
    b->len = 0;
    b->cap = size;
    b->max = size - 1;
    b->ptr[0] = '\0';
}

void ldr_buf_reset(ldr_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

static ldr_code reserve(ldr_buf *b, size_t add, ldr_err *err)
{
    if (add > b->max || b->len > b->max - add)
        return ldr_err_setf(err, LDR_ELIMIT, "buffer limit of %zu bytes exceeded", b->max);
    size_t need = b->len + add + 1;
    if (need <= b->cap)
        return LDR_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    b->ptr = ldr_xrealloc(b->ptr, cap);
    b->cap = cap;
    return LDR_OK;
}

ldr_code ldr_buf_reserve(ldr_buf *b, size_t add, ldr_err *err)
{
    return reserve(b, add, err);
}

/* The fast paths below skip reserve() when the bytes and the NUL already fit: cap never
 * exceeds max + 1, so fitting in cap also respects max. The JSON writers of the serving
 * path append a few bytes at a time (BENCHMARKS.md, "HTTP feature server"). */
ldr_code ldr_buf_append(ldr_buf *b, const void *data, size_t len, ldr_err *err)
{
    if (len && len < b->cap - b->len) { /* len 0 may come with data NULL: the slow path */
        memcpy(b->ptr + b->len, data, len);
        b->len += len;
        b->ptr[b->len] = '\0';
        return LDR_OK;
    }
    ldr_code rc = reserve(b, len, err);
    if (rc)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return LDR_OK;
}

ldr_code ldr_buf_puts(ldr_buf *b, const char *s, ldr_err *err)
{
    return ldr_buf_append(b, s, strlen(s), err);
}

ldr_code ldr_buf_putc(ldr_buf *b, char c, ldr_err *err)
{
    if (b->cap - b->len > 1) {
        b->ptr[b->len++] = c;
        b->ptr[b->len] = '\0';
        return LDR_OK;
    }
    return ldr_buf_append(b, &c, 1, err);
}

ldr_code ldr_buf_vprintf(ldr_buf *b, ldr_err *err, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return ldr_err_setf(err, LDR_EINVAL, "invalid format string");
    }
    ldr_code rc = reserve(b, (size_t)n, err);
    if (rc == LDR_OK) {
        vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return rc;
}

ldr_code ldr_buf_printf(ldr_buf *b, ldr_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldr_code rc = ldr_buf_vprintf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

char *ldr_buf_take(ldr_buf *b)
{
    char *p = b->ptr ? b->ptr : ldr_xstrdup("");
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *ldr_buf_cstr(const ldr_buf *b)
{
    return b->ptr ? b->ptr : "";
}
