/*
 * request_fast.c -- a purpose-built parser for the common /get-online-features body.
 *
 * jansson builds a tree with one malloc per node; for the usual request
 * ({"features": ["v:f", ...], "entities": {"id": [1, 2]}}) that was about 28 k of the
 * ~107 k instructions the server spent per request (BENCHMARKS.md, "HTTP feature
 * server"). This parser accepts only a strict subset of valid bodies and fills the same
 * ldr_online_request the jansson walk of request.c would:
 *   - one object whose members are "features" (a non-empty array of non-empty strings),
 *     "entities" (a non-empty object of equally long, non-empty arrays of integers or
 *     strings) and optionally "full_feature_names" (true or false), each at most once;
 *   - strings of printable ASCII without escapes; integers of at most 18 digits in JSON's
 *     syntax (no fraction or exponent); JSON whitespace anywhere JSON allows it.
 * Anything else -- another member, an escape, a float, null, a limit reached, a
 * duplicate name, invalid JSON -- makes it return false, and the caller parses the body
 * again with jansson, so every error and every unusual shape keeps its one code path.
 * One pass over a copy of the body in the arena: strings are terminated in place (the
 * closing quote becomes a NUL), so names and values point into the copy, and arrays grow
 * by doubling in the arena.
 * Pure, like request.c; fuzzed through ldr_srv_parse (fuzz/http_request) and checked
 * against the jansson walk by tests/unit/server/test_request.c.
 */
#include "server/server.h"

#include <string.h>

/* A cursor over the arena copy of the body (NUL-terminated: end[0] == '\0'). */
typedef struct cursor {
    char *p, *end;
} cursor;

static inline bool is_ws(char ch)
{
    return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

static inline void skip_ws(cursor *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

/* Skips whitespace, then consumes ch if it is next. */
static inline bool eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A string of printable ASCII without escapes, after its opening quote was seen:
 * terminated in place; *s points into the copy. */
static bool plain_string_body(cursor *c, char **s, size_t *len)
{
    char *start = c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch > 0x7e || ch == '\\')
            return false;
        c->p++;
    }
    if (c->p == c->end)
        return false;
    *s = start;
    *len = (size_t)(c->p - start);
    *c->p++ = '\0';
    return true;
}

static bool plain_string(cursor *c, char **s, size_t *len)
{
    return eat(c, '"') && plain_string_body(c, s, len);
}

/* -?(0|[1-9][0-9]*) of at most 18 digits (never overflows), not followed by a fraction,
 * an exponent or another digit. */
static bool plain_integer(cursor *c, int64_t *out)
{
    bool neg = c->p < c->end && *c->p == '-';
    char *d = c->p + neg, *p = d;
    int64_t v = 0;
    while (p < c->end && *p >= '0' && *p <= '9') {
        if (p - d == 18)
            return false;
        v = v * 10 + (*p++ - '0');
    }
    size_t n = (size_t)(p - d);
    if (n == 0 || (n > 1 && *d == '0'))
        return false;
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return false;
    *out = neg ? -v : v;
    c->p = p;
    return true;
}

/* Makes room for element n of an arena array of *cap elements of size bytes: doubles it
 * (copying) when full. */
static void *grow(ldr_arena *a, void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    size_t nc = *cap ? *cap * 2 : 8;
    void *na = ldr_arena_alloc(a, nc * size);
    if (n)
        memcpy(na, arr, n * size);
    *cap = nc;
    return na;
}

/* A non-empty array of at most max values: plain strings (non-empty unless ints), or
 * plain integers when ints. */
static bool value_array(cursor *c, bool ints, size_t max, ldr_arena *a, ldr_value **out,
                        size_t *n_out)
{
    if (!eat(c, '['))
        return false;
    ldr_value *vals = NULL;
    size_t n = 0, cap = 0;
    do {
        if (n == max)
            return false;
        vals = grow(a, vals, n, &cap, sizeof *vals);
        ldr_value *v = &vals[n++];
        memset(v, 0, sizeof *v);
        skip_ws(c);
        if (c->p < c->end && *c->p == '"') {
            char *str;
            size_t len;
            c->p++;
            if (!plain_string_body(c, &str, &len) || (!ints && len == 0))
                return false;
            v->type = LDR_TYPE_STRING;
            v->u.str.ptr = str;
            v->u.str.len = len;
        } else if (!ints || !plain_integer(c, &v->u.i64)) {
            return false;
        } else {
            v->type = LDR_TYPE_INT64;
        }
    } while (eat(c, ','));
    if (!eat(c, ']'))
        return false;
    *out = vals;
    *n_out = n;
    return true;
}

static bool features(cursor *c, const ldr_srv_limits *lim, ldr_arena *a, ldr_online_request *o)
{
    if (o->features || !eat(c, '['))
        return false;
    const char **f = NULL;
    size_t n = 0, cap = 0;
    do {
        char *s;
        size_t len;
        if (n == lim->max_features || !plain_string(c, &s, &len) || len == 0)
            return false;
        f = grow(a, f, n, &cap, sizeof *f);
        f[n++] = s;
    } while (eat(c, ','));
    if (!eat(c, ']'))
        return false;
    o->features = f;
    o->n_features = n;
    return true;
}

/* The entity columns, at most 16 (more go to jansson). */
#define FAST_MAX_COLS 16

static bool entities(cursor *c, const ldr_srv_limits *lim, ldr_arena *a, ldr_online_request *o)
{
    if (o->entity_names || !eat(c, '{'))
        return false;
    const char *names[FAST_MAX_COLS];
    ldr_value *cols[FAST_MAX_COLS];
    size_t nc = 0, rows = 0;
    do {
        char *key;
        size_t len, n;
        if (nc == FAST_MAX_COLS || !plain_string(c, &key, &len) || len == 0 || !eat(c, ':') ||
            !value_array(c, true, lim->max_entities, a, &cols[nc], &n) || (nc && n != rows))
            return false;
        names[nc] = key;
        for (size_t i = 0; i < nc; i++)
            if (!strcmp(names[i], names[nc]))
                return false; /* a duplicate: jansson names the error */
        rows = n;
        nc++;
    } while (eat(c, ','));
    if (!eat(c, '}'))
        return false;
    const char **nm = ldr_arena_alloc(a, nc * sizeof *nm);
    ldr_value **cv = ldr_arena_alloc(a, nc * sizeof *cv);
    memcpy(nm, names, nc * sizeof *nm);
    memcpy(cv, cols, nc * sizeof *cv);
    o->entity_names = nm;
    o->entity_values = (const ldr_value *const *)cv;
    o->n_entity_cols = nc;
    o->n_rows = rows;
    return true;
}

static bool boolean(cursor *c, bool *seen, bool *out)
{
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (*seen)
        return false;
    *seen = true;
    if (left >= 4 && !memcmp(c->p, "true", 4)) {
        *out = true;
        c->p += 4;
    } else if (left >= 5 && !memcmp(c->p, "false", 5)) {
        *out = false;
        c->p += 5;
    } else {
        return false;
    }
    return true;
}

/* One member "name": value. */
static bool member(cursor *c, const ldr_srv_limits *lim, ldr_arena *a, bool *seen_full,
                   ldr_online_request *o)
{
    char *key;
    size_t len;
    if (!plain_string(c, &key, &len) || !eat(c, ':'))
        return false;
    if (len == 8 && !memcmp(key, "features", 8))
        return features(c, lim, a, o);
    if (len == 8 && !memcmp(key, "entities", 8))
        return entities(c, lim, a, o);
    if (len == 18 && !memcmp(key, "full_feature_names", 18))
        return boolean(c, seen_full, &o->full_feature_names);
    return false;
}

bool ldr__srv_parse_online_fast(const char *body, size_t len, const ldr_srv_limits *lim,
                                ldr_arena *a, ldr_online_request *out)
{
    memset(out, 0, sizeof *out);
    if (lim->max_depth < 3) /* {"entities": {"id": [...]}} nests three deep */
        return false;
    char *copy = ldr_arena_alloc(a, len + 1);
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    cursor c = {copy, copy + len};
    bool seen_full = false;
    if (!eat(&c, '{'))
        return false;
    do {
        if (!member(&c, lim, a, &seen_full, out))
            goto fallback;
    } while (eat(&c, ','));
    if (!eat(&c, '}'))
        goto fallback;
    skip_ws(&c);
    if (c.p != c.end || !out->features || !out->entity_names)
        goto fallback;
    return true;
fallback:
    memset(out, 0, sizeof *out);
    return false;
}
