/*
 * log.c -- logging to stderr, plain ("larder: warning: ...") or one JSON object per line
 * ({"ts":"...","level":"warning","msg":"..."}) when ldr_g.log_json is set. Each line is
 * formatted into a stack buffer and written with a single write(2), so lines from
 * different threads never interleave. Messages longer than the buffer are truncated.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warning", "error", "off"};

bool ldr_log_level_parse(const char *s, ldr_log_level *out)
{
    for (unsigned i = 0; i < LDR_ARRAY_LEN(level_names); i++) {
        if (ldr_strieq(s, level_names[i])) {
            *out = (ldr_log_level)i;
            return true;
        }
    }
    if (ldr_strieq(s, "warn")) {
        *out = LDR_LOG_WARN;
        return true;
    }
    return false;
}

/* Appends s JSON-escaped into buf[*pos..cap), truncating safely. */
static void json_escape(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

void ldr_log(ldr_log_level level, const char *fmt, ...)
{
    if (level < ldr_g.log_level || level >= LDR_LOG_OFF)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char line[4096];
    size_t pos = 0;
    if (ldr_g.log_json) {
        char ts[LDR_TS_BUFSZ];
        pos = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"",
                               ldr_ts_format(ldr_ts_now(), ts), level_names[level]);
        json_escape(line, sizeof line, &pos, msg);
        pos += (size_t)snprintf(line + pos, sizeof line - pos, "\"}\n");
    } else {
        int n = snprintf(line, sizeof line, "larder: %s: %s\n", level_names[level], msg);
        pos = n < 0 ? 0 : (size_t)n;
    }
    if (pos >= sizeof line) {
        pos = sizeof line - 1;
        line[pos - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w;
}
