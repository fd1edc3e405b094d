/*
 * str.c -- small string helpers: equality, case-insensitive equality, a capped
 * Levenshtein distance and "did you mean" suggestions for error messages about unknown
 * keys, kinds and names.
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
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap; /* suggestions are for short words; avoid quadratic work on long ones */
    if ((la > lb ? la - lb : lb - la) >= cap)
        return cap;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = diag + cost;
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best >= cap)
            return cap;
    }
    return row[lb] < cap ? row[lb] : cap;
}

const char *ldr_did_you_mean(const char *word, const char *const *candidates, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
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
