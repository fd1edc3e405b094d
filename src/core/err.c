/*
 * err.c -- the one error type (ldr_err: code, errno, message) and assertions.
 *
 * Messages are filled once, where a failure happens, with its context; higher layers may
 * only add a prefix (ldr_err_prefix), never overwrite. Producing an error never allocates:
 * the message lives in the fixed buffer inside ldr_err and is truncated if too long.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[LDR_CODE_COUNT] = {
    [LDR_OK] = "ok",
    [LDR_ENOMEM] = "out of memory",
    [LDR_EINVAL] = "invalid argument",
    [LDR_EIO] = "I/O error",
    [LDR_ENOTFOUND] = "not found",
    [LDR_ECORRUPT] = "corrupt data",
    [LDR_ELIMIT] = "limit exceeded",
    [LDR_EBACKEND] = "backend error",
    [LDR_EBUSY] = "busy",
    [LDR_ECONFIG] = "invalid configuration",
    [LDR_EUNSUPPORTED] = "unsupported",
};

const char *ldr_code_name(ldr_code code)
{
    if ((unsigned)code >= LDR_CODE_COUNT)
        return "unknown error";
    return code_names[code];
}

ldr_code ldr_err_setf(ldr_err *err, ldr_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->sys_errno = 0;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

ldr_code ldr_err_sys(ldr_err *err, ldr_code code, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->sys_errno = errnum;
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
    }
    return code;
}

void ldr_err_prefix(ldr_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    size_t plen = (size_t)n < sizeof prefix ? (size_t)n : sizeof prefix - 1;
    size_t mlen = strlen(err->msg);
    if (plen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

void ldr_err_clear(ldr_err *err)
{
    if (err) {
        err->code = LDR_OK;
        err->sys_errno = 0;
        err->msg[0] = '\0';
    }
}

_Noreturn void ldr__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "larder: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
