/*
 * str.c -- small string helpers: equality, case-insensitive equality, a capped edit
 * distance and "did you mean" suggestions for messages about unknown keys, kinds and
 * names, and ldr__quote, which renders untrusted input safely inside an error message.
 */
#include "core/core.h"

#include <string.h>
#include <strings.h>

bool ldr_streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

bool ldr_strieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

size_t ldr_edit_distance(const char *a, const char *b, size_t cap)
{
    /* Optimal string alignment distance: insertions, deletions, substitutions and
     * transpositions of adjacent characters ("nmae" -> "name" is 1), three rolling rows. */
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap; /* suggestions are for short words; avoid quadratic work on long ones */
    if ((la > lb ? la - lb : lb - la) >= cap)
        return cap;
    size_t rows[3][65];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best >= cap)
            return cap;
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb] < cap ? prev[lb] : cap;
}

const char *ldr_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
    /* At most one edit per three characters (and at least one): "rider" does not suggest
     * "driver", "valu_type" suggests "value_type". */
    size_t len = strlen(word);
    size_t limit = len / 3 ? len / 3 : 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = ldr_edit_distance(word, candidates[i], best_d);
        if (d < best_d && d < len) { /* never suggest a wholesale replacement */
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

const char *ldr__quote(const char *s, size_t len, char out[LDR_QUOTE_BUFSZ])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && i < LDR_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (len > LDR_QUOTE_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}
