/*
 * value.c -- value types (names, list/element relations) and ldr_value conversions to and
 * from text, plus shortest round-trip float formatting.
 *
 * Text forms: integers in decimal; floats in the shortest form that reads back exactly,
 * always with '.', 'e', "nan" or "inf" so they never look like integers ("1.0", "0.1",
 * "1e+20"); bools "true"/"false"; timestamps RFC 3339 UTC; strings and bytes verbatim at
 * top level. Lists are JSON-like arrays ("[1, 2]", "[\"a\", null]"): strings and bytes
 * are JSON strings (bytes escape every non-printable byte as \u00XX, and read \u00XX back
 * as that byte), timestamps are quoted, floats may be nan/inf (not strict JSON).
 * Round trip: from_text(to_text(v)) equals v for every value (ldr_value_eq).
 *
 * Memory: ldr_value_from_text allocates strings and list items from the caller's arena;
 * values borrow that storage. Every function is reentrant.
 */
#include "core/core.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) comparison of s[0..len) with the NUL-terminated word. */
static bool word_ieq(const char *s, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        if (lower(s[i]) != lower(word[i]))
            return false;
    }
    return i == len && word[i] == '\0';
}

/* ---- Types --------------------------------------------------------------------------- */

typedef struct type_name {
    const char *name;
    ldr_type type;
} type_name;

/* Scalar names accepted by ldr_type_parse; canonical names first, then Feast aliases. */
static const type_name scalar_names[] = {
    {"Int32", LDR_TYPE_INT32},     {"Int64", LDR_TYPE_INT64},
    {"Float32", LDR_TYPE_FLOAT32}, {"Float64", LDR_TYPE_FLOAT64},
    {"String", LDR_TYPE_STRING},   {"Bytes", LDR_TYPE_BYTES},
    {"Bool", LDR_TYPE_BOOL},       {"UnixTimestamp", LDR_TYPE_UNIX_TIMESTAMP},
    {"Float", LDR_TYPE_FLOAT32},   {"Double", LDR_TYPE_FLOAT64},
};

static ldr_type scalar_parse(const char *s, size_t len)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(scalar_names); i++) {
        if (word_ieq(s, len, scalar_names[i].name))
            return scalar_names[i].type;
    }
    return LDR_TYPE_INVALID;
}

ldr_type ldr_type_parse(const char *s, size_t len)
{
    /* Whitespace is tolerated around the name and around the parentheses. */
    if (len == 0)
        return LDR_TYPE_INVALID;
    size_t i = 0, end = len;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    if (end - i < 5 || !word_ieq(s + i, 5, "array"))
        return scalar_parse(s + i, end - i);
    i += 5;
    while (i < end && is_space(s[i]))
        i++;
    if (i == end || s[i] != '(' || s[end - 1] != ')')
        return LDR_TYPE_INVALID;
    i++;
    end--;
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    ldr_type elem = scalar_parse(s + i, end - i); /* "Array(Array(...))" fails here */
    return elem == LDR_TYPE_INVALID ? LDR_TYPE_INVALID : (ldr_type)(elem + LDR_TYPE_LIST_OFFSET);
}

const char *ldr_type_name(ldr_type t)
{
    switch (t) {
    case LDR_TYPE_BYTES:
        return "Bytes";
    case LDR_TYPE_STRING:
        return "String";
    case LDR_TYPE_INT32:
        return "Int32";
    case LDR_TYPE_INT64:
        return "Int64";
    case LDR_TYPE_FLOAT64:
        return "Float64";
    case LDR_TYPE_FLOAT32:
        return "Float32";
    case LDR_TYPE_BOOL:
        return "Bool";
    case LDR_TYPE_UNIX_TIMESTAMP:
        return "UnixTimestamp";
    case LDR_TYPE_BYTES_LIST:
        return "Array(Bytes)";
    case LDR_TYPE_STRING_LIST:
        return "Array(String)";
    case LDR_TYPE_INT32_LIST:
        return "Array(Int32)";
    case LDR_TYPE_INT64_LIST:
        return "Array(Int64)";
    case LDR_TYPE_FLOAT64_LIST:
        return "Array(Float64)";
    case LDR_TYPE_FLOAT32_LIST:
        return "Array(Float32)";
    case LDR_TYPE_BOOL_LIST:
        return "Array(Bool)";
    case LDR_TYPE_UNIX_TIMESTAMP_LIST:
        return "Array(UnixTimestamp)";
    case LDR_TYPE_INVALID:
        break;
    }
    return "Invalid";
}

bool ldr_type_valid(ldr_type t)
{
    return (t >= LDR_TYPE_BYTES && t <= LDR_TYPE_UNIX_TIMESTAMP) ||
           (t >= LDR_TYPE_BYTES_LIST && t <= LDR_TYPE_UNIX_TIMESTAMP_LIST);
}

bool ldr_type_is_list(ldr_type t)
{
    return t >= LDR_TYPE_BYTES_LIST && t <= LDR_TYPE_UNIX_TIMESTAMP_LIST;
}

ldr_type ldr_type_elem(ldr_type t)
{
    return ldr_type_is_list(t) ? (ldr_type)(t - LDR_TYPE_LIST_OFFSET) : t;
}

const char *ldr_type_names_help(void)
{
    return "Int32, Int64, Float32, Float64, String, Bytes, Bool, UnixTimestamp, or "
           "Array(<one of these>)";
}

/* ---- Scalars from text --------------------------------------------------------------- */

ldr_value ldr_value_null(ldr_type t)
{
    ldr_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.is_null = true;
    return v;
}

static ldr_code conv_fail(ldr_type t, const char *s, size_t len, ldr_err *err, const char *what)
{
    char q[LDR_QUOTE_BUFSZ];
    return ldr_err_setf(err, LDR_EINVAL, "invalid %s \"%s\": %s", ldr_type_name(t),
                        ldr__quote(s, len, q), what);
}

typedef enum int_status { INT_OK, INT_SYNTAX, INT_RANGE } int_status;

/* Parses [+-]digits, the whole of s[0..len), into an int64. */
static int_status parse_int64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == len)
        return INT_SYNTAX;
    /* Accumulate the magnitude unsigned: -INT64_MIN does not fit in int64. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t mag = 0;
    bool range = false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return INT_SYNTAX;
        unsigned digit = (unsigned)(s[i] - '0');
        range = range || mag > (limit - digit) / 10;
        mag = range ? mag : mag * 10 + digit;
    }
    if (range)
        return INT_RANGE;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return INT_OK;
}

static ldr_code int_from_text(ldr_type t, const char *s, size_t len, ldr_value *out, ldr_err *err)
{
    int64_t v = 0;
    int_status st = parse_int64(s, len, &v);
    if (st == INT_SYNTAX)
        return conv_fail(t, s, len, err, "not an integer");
    if (t == LDR_TYPE_INT32) {
        if (st == INT_RANGE || v < INT32_MIN || v > INT32_MAX)
            return conv_fail(t, s, len, err, "out of range (-2147483648 to 2147483647)");
        out->u.i32 = (int32_t)v;
    } else {
        if (st == INT_RANGE)
            return conv_fail(t, s, len, err,
                             "out of range (-9223372036854775808 to 9223372036854775807)");
        out->u.i64 = v;
    }
    return LDR_OK;
}

/*
 * Fast path of strtod for plain decimals ([+-]digits[.digits], at most 15 digits in all):
 * the digits form an integer m < 10^15 < 2^53 and the value is m / 10^k with k <= 14;
 * both are exact doubles and one IEEE division rounds correctly, so the result is exactly
 * strtod's (Clinger's fast path). glibc's strtod was the largest client cost of a CSV
 * materialization (BENCHMARKS.md, Redis section). Anything else returns false.
 */
bool ldr_f64_parse_decimal(const char *s, size_t len, double *out)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
    size_t i = 0, digits = 0, frac = 0;
    bool neg = false, dot = false;
    if (len && (s[0] == '-' || s[0] == '+'))
        neg = s[i++] == '-';
    uint64_t m = 0;
    size_t int_digits = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 15)
                return false;
            m = m * 10 + (uint64_t)(c - '0');
            frac += dot;
            int_digits += !dot;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            return false;
        }
    }
    if (int_digits == 0 || (dot && frac == 0))
        return false; /* ".5", "1.", "-", "": left to strtod */
    double d = (double)m / p10[frac];
    *out = neg ? -d : d;
    return true;
}

/* strtod/strtof need a NUL-terminated string; short inputs are copied to the stack. */
static ldr_code float_from_text(ldr_type t, const char *s, size_t len, ldr_value *out, ldr_err *err)
{
    if (len == 0 || is_space(s[0]))
        return conv_fail(t, s, len, err, "not a number");
    if (t == LDR_TYPE_FLOAT64 && ldr_f64_parse_decimal(s, len, &out->u.f64))
        return LDR_OK;
    char small[64];
    char *z = len < sizeof small ? small : ldr_xmalloc(len + 1);
    memcpy(z, s, len);
    z[len] = '\0';
    char *end;
    errno = 0;
    bool overflow;
    if (t == LDR_TYPE_FLOAT32) {
        out->u.f32 = strtof(z, &end);
        overflow = errno == ERANGE && isinf(out->u.f32);
    } else {
        out->u.f64 = strtod(z, &end);
        overflow = errno == ERANGE && isinf(out->u.f64);
    }
    bool complete = end == z + len;
    if (z != small)
        ldr_free(z);
    /* Underflow (ERANGE with a tiny or zero result) is accepted: it is correctly rounded. */
    if (!complete)
        return conv_fail(t, s, len, err, "not a number");
    if (overflow)
        return conv_fail(t, s, len, err, "out of range");
    return LDR_OK;
}

static ldr_code bool_from_text(const char *s, size_t len, ldr_value *out, ldr_err *err)
{
    if (word_ieq(s, len, "true") || word_ieq(s, len, "1"))
        out->u.b = true;
    else if (word_ieq(s, len, "false") || word_ieq(s, len, "0"))
        out->u.b = false;
    else
        return conv_fail(LDR_TYPE_BOOL, s, len, err, "expected true, false, 1 or 0");
    return LDR_OK;
}

/* An integer is epoch seconds; anything else must be an RFC 3339 timestamp. */
static ldr_code ts_from_text(const char *s, size_t len, ldr_value *out, ldr_err *err)
{
    int64_t secs;
    int_status st = parse_int64(s, len, &secs);
    if (st == INT_SYNTAX)
        return ldr_ts_parse(s, len, &out->u.ts, err);
    if (st == INT_RANGE || secs > INT64_MAX / 1000000 || secs < INT64_MIN / 1000000)
        return conv_fail(LDR_TYPE_UNIX_TIMESTAMP, s, len, err, "epoch seconds out of range");
    out->u.ts = secs * 1000000;
    return LDR_OK;
}

static ldr_code scalar_from_text(ldr_type t, const char *s, size_t len, ldr_arena *a,
                                 ldr_value *out, ldr_err *err)
{
    memset(out, 0, sizeof *out);
    out->type = t;
    switch (t) {
    case LDR_TYPE_INT32:
    case LDR_TYPE_INT64:
        return int_from_text(t, s, len, out, err);
    case LDR_TYPE_FLOAT32:
    case LDR_TYPE_FLOAT64:
        return float_from_text(t, s, len, out, err);
    case LDR_TYPE_BOOL:
        return bool_from_text(s, len, out, err);
    case LDR_TYPE_UNIX_TIMESTAMP:
        return ts_from_text(s, len, out, err);
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        out->u.str.ptr = ldr_arena_strndup(a, s, len);
        out->u.str.len = len;
        return LDR_OK;
    default:
        break;
    }
    LDR_ASSERT(0 && "scalar_from_text: not a scalar type");
    return LDR_EINVAL;
}

/* ---- Lists from text ----------------------------------------------------------------- */

/* A list being parsed: the whole input (quoted in messages), a read position, and the
 * items so far (in the arena, doubled as needed). */
typedef struct list_parser {
    ldr_type type;
    const char *s;
    size_t len;
    size_t pos;
    ldr_arena *a;
    ldr_value *items;
    size_t n;
    size_t cap;
} list_parser;

/* Fails with a message about the list; elem is the 1-based element concerned, or 0. */
static ldr_code list_fail(const list_parser *p, size_t elem, ldr_err *err, const char *what)
{
    char q[LDR_QUOTE_BUFSZ];
    ldr__quote(p->s, p->len, q);
    if (elem == 0)
        return ldr_err_setf(err, LDR_EINVAL, "invalid %s \"%s\": %s", ldr_type_name(p->type), q,
                            what);
    return ldr_err_setf(err, LDR_EINVAL, "invalid %s \"%s\": element %zu: %s",
                        ldr_type_name(p->type), q, elem, what);
}

static void skip_space(list_parser *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
}

static void push_item(list_parser *p, const ldr_value *v)
{
    if (p->n == p->cap) {
        /* Every item takes at least one input byte, so the input length bounds this. */
        size_t cap = p->cap ? p->cap * 2 : 8;
        ldr_value *items = ldr_arena_alloc(p->a, cap * sizeof *items);
        if (p->n)
            memcpy(items, p->items, p->n * sizeof *items);
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = *v;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads four hex digits at s[i..i+4), which must lie below end. */
static bool read_hex4(const char *s, size_t i, size_t end, uint32_t *out)
{
    if (end < 4 || i > end - 4)
        return false;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_digit(s[i + k]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | cp >> 6);
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | cp >> 12);
        dst[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | cp >> 18);
    dst[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    dst[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes "\uXXXX" (or a surrogate pair) at s[*i], which points at the 'u'. In Bytes,
 * \u0000-\u00ff stand for single bytes; in strings the code point is written as UTF-8.
 * Returns NULL, or what is wrong. */
static const char *decode_unicode(const char *s, size_t end, size_t *i, bool bytes, char *dst,
                                  size_t *o)
{
    uint32_t cp, lo;
    if (!read_hex4(s, *i + 1, end, &cp))
        return "\\u must be followed by 4 hex digits";
    *i += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return "unpaired UTF-16 surrogate in \\u escape";
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u' || !read_hex4(s, *i + 2, end, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return "unpaired UTF-16 surrogate in \\u escape";
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *i += 6;
    }
    if (bytes && cp > 0xFF)
        return "\\u escapes in Bytes must be \\u0000-\\u00ff (one byte each)";
    if (bytes)
        dst[(*o)++] = (char)cp;
    else
        *o += put_utf8(dst + *o, cp);
    return NULL;
}

/* Decodes the JSON string body s[start..end) into dst, which has room for end - start
 * bytes (no escape expands). Returns NULL, or what is wrong. */
static const char *decode_string(const char *s, size_t start, size_t end, bool bytes, char *dst,
                                 size_t *out_len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t o = 0;
    for (size_t i = start; i < end;) {
        if (s[i] != '\\') {
            dst[o++] = s[i++];
            continue;
        }
        i++; /* the scanner guarantees a character after every backslash */
        if (s[i] == 'u') {
            const char *bad = decode_unicode(s, end, &i, bytes, dst, &o);
            if (bad)
                return bad;
            continue;
        }
        const char *hit = memchr(from, s[i], sizeof from - 1);
        if (!hit)
            return "unknown escape (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)";
        dst[o++] = to[hit - from];
        i++;
    }
    *out_len = o;
    return NULL;
}

/* Reads the JSON string at p->pos (a '"') into arena storage. */
static ldr_code parse_json_string(list_parser *p, size_t elem, ldr_value *out, ldr_err *err)
{
    size_t start = p->pos + 1, i = start;
    while (i < p->len && p->s[i] != '"')
        i += p->s[i] == '\\' ? 2 : 1;
    if (i >= p->len)
        return list_fail(p, elem, err, "unterminated string (missing '\"')");
    char *dst = ldr_arena_alloc(p->a, i - start + 1);
    size_t n = 0;
    bool bytes = ldr_type_elem(p->type) == LDR_TYPE_BYTES;
    const char *bad = decode_string(p->s, start, i, bytes, dst, &n);
    if (bad)
        return list_fail(p, elem, err, bad);
    dst[n] = '\0';
    p->pos = i + 1;
    out->u.str.ptr = dst;
    out->u.str.len = n;
    return LDR_OK;
}

/* Reads one element: a JSON string, "null", or a bare token up to ',' or ']'. */
static ldr_code parse_element(list_parser *p, size_t elem, ldr_value *out, ldr_err *err)
{
    ldr_type t = ldr_type_elem(p->type);
    bool textual = t == LDR_TYPE_STRING || t == LDR_TYPE_BYTES;
    ldr_code rc;
    if (p->pos < p->len && p->s[p->pos] == '"') {
        ldr_value str = ldr_value_null(t);
        rc = parse_json_string(p, elem, &str, err);
        if (rc != LDR_OK || textual) {
            str.is_null = false;
            *out = str;
            return rc;
        }
        /* A quoted number, bool or timestamp: convert its decoded text. */
        rc = scalar_from_text(t, str.u.str.ptr, str.u.str.len, p->a, out, err);
    } else {
        size_t start = p->pos;
        while (p->pos < p->len && p->s[p->pos] != ',' && p->s[p->pos] != ']')
            p->pos++;
        size_t end = p->pos;
        while (end > start && is_space(p->s[end - 1]))
            end--;
        if (end == start)
            return list_fail(p, elem, err, "missing value");
        if (end - start == 4 && memcmp(p->s + start, "null", 4) == 0) {
            *out = ldr_value_null(t);
            return LDR_OK;
        }
        if (textual)
            return list_fail(p, elem, err, "strings in a list must be JSON double-quoted");
        rc = scalar_from_text(t, p->s + start, end - start, p->a, out, err);
    }
    if (rc != LDR_OK) {
        char q[LDR_QUOTE_BUFSZ];
        ldr_err_prefix(err, "invalid %s \"%s\": element %zu: ", ldr_type_name(p->type),
                       ldr__quote(p->s, p->len, q), elem);
    }
    return rc;
}

static ldr_code parse_items(list_parser *p, ldr_err *err)
{
    skip_space(p);
    if (p->pos == p->len || p->s[p->pos] != '[')
        return list_fail(p, 0, err, "expected a list \"[...]\"");
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return LDR_OK;
    }
    for (;;) {
        ldr_value v;
        skip_space(p);
        ldr_code rc = parse_element(p, p->n + 1, &v, err);
        if (rc != LDR_OK)
            return rc;
        push_item(p, &v);
        skip_space(p);
        if (p->pos == p->len)
            return list_fail(p, 0, err, "missing ']' at the end");
        char c = p->s[p->pos++];
        if (c == ']')
            return LDR_OK;
        if (c != ',')
            return list_fail(p, p->n, err, "expected ',' or ']' after it");
    }
}

static ldr_code list_from_text(ldr_type t, const char *s, size_t len, ldr_arena *a, ldr_value *out,
                               ldr_err *err)
{
    list_parser p = {t, s, len, 0, a, NULL, 0, 0};
    ldr_code rc = parse_items(&p, err);
    if (rc != LDR_OK)
        return rc;
    skip_space(&p);
    if (p.pos != p.len)
        return list_fail(&p, 0, err, "unexpected characters after ']'");
    memset(out, 0, sizeof *out);
    out->type = t;
    out->u.list.items = p.items;
    out->u.list.n = p.n;
    return LDR_OK;
}

ldr_code ldr_value_from_text(ldr_type t, const char *s, size_t len, ldr_arena *a, ldr_value *out,
                             ldr_err *err)
{
    LDR_ASSERT(ldr_type_valid(t));
    if (ldr_type_is_list(t))
        return list_from_text(t, s, len, a, out, err);
    return scalar_from_text(t, s, len, a, out, err);
}

/* ---- Values to text ------------------------------------------------------------------ */

/* Appends s[0..len) as a JSON string. Strings keep UTF-8 (and any other byte >= 0x80) as
 * is; Bytes escape every byte outside printable ASCII as \u00XX. */
static ldr_code put_json_string(ldr_buf *out, const char *s, size_t len, bool bytes, ldr_err *err)
{
    static const char hex[] = "0123456789abcdef";
    ldr_code rc = ldr_buf_putc(out, '"', err);
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < len && rc == LDR_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c != '"' && c != '\\' && c != 0x7f && (c < 0x80 || !bytes);
        if (plain)
            continue;
        rc = ldr_buf_append(out, s + run, i - run, err);
        run = i + 1;
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (rc == LDR_OK && esc)
            rc = ldr_buf_puts(out, esc, err);
        else if (rc == LDR_OK) {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
            rc = ldr_buf_puts(out, u, err);
        }
    }
    if (rc == LDR_OK)
        rc = ldr_buf_append(out, s + run, len - run, err);
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, '"', err);
    return rc;
}

/* Appends a non-null scalar; in_list quotes strings, bytes and timestamps. */
static ldr_code scalar_to_text(const ldr_value *v, bool in_list, ldr_buf *out, ldr_err *err)
{
    char tmp[LDR_TS_BUFSZ > 32 ? LDR_TS_BUFSZ : 32];
    switch (v->type) {
    case LDR_TYPE_INT32:
        return ldr_buf_printf(out, err, "%" PRId32, v->u.i32);
    case LDR_TYPE_INT64:
        return ldr_buf_printf(out, err, "%" PRId64, v->u.i64);
    case LDR_TYPE_FLOAT32:
        ldr_fmt_float(v->u.f32, tmp);
        return ldr_buf_puts(out, tmp, err);
    case LDR_TYPE_FLOAT64:
        ldr_fmt_double(v->u.f64, tmp);
        return ldr_buf_puts(out, tmp, err);
    case LDR_TYPE_BOOL:
        return ldr_buf_puts(out, v->u.b ? "true" : "false", err);
    case LDR_TYPE_UNIX_TIMESTAMP:
        ldr_ts_format(v->u.ts, tmp);
        return in_list ? ldr_buf_printf(out, err, "\"%s\"", tmp) : ldr_buf_puts(out, tmp, err);
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        if (in_list)
            return put_json_string(out, v->u.str.ptr, v->u.str.len, v->type == LDR_TYPE_BYTES, err);
        return ldr_buf_append(out, v->u.str.ptr, v->u.str.len, err);
    default:
        break;
    }
    LDR_ASSERT(0 && "scalar_to_text: not a scalar type");
    return LDR_EINVAL;
}

static ldr_code list_to_text(const ldr_value *v, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = ldr_buf_putc(out, '[', err);
    for (size_t i = 0; i < v->u.list.n && rc == LDR_OK; i++) {
        const ldr_value *item = &v->u.list.items[i];
        if (i > 0)
            rc = ldr_buf_puts(out, ", ", err);
        if (rc == LDR_OK && item->is_null)
            rc = ldr_buf_puts(out, "null", err);
        else if (rc == LDR_OK)
            rc = scalar_to_text(item, true, out, err);
    }
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, ']', err);
    return rc;
}

ldr_code ldr_value_to_text(const ldr_value *v, ldr_buf *out, ldr_err *err)
{
    if (v->is_null)
        return LDR_OK;
    if (ldr_type_is_list(v->type))
        return list_to_text(v, out, err);
    return scalar_to_text(v, false, out, err);
}

/* ---- Equality ------------------------------------------------------------------------ */

static bool scalar_eq(const ldr_value *a, const ldr_value *b)
{
    switch (a->type) {
    case LDR_TYPE_INT32:
        return a->u.i32 == b->u.i32;
    case LDR_TYPE_INT64:
        return a->u.i64 == b->u.i64;
    /* NaN equals NaN; 0.0 equals -0.0, as with ==. */
    case LDR_TYPE_FLOAT32:
        return a->u.f32 == b->u.f32 || (isnan(a->u.f32) && isnan(b->u.f32));
    case LDR_TYPE_FLOAT64:
        return a->u.f64 == b->u.f64 || (isnan(a->u.f64) && isnan(b->u.f64));
    case LDR_TYPE_BOOL:
        return a->u.b == b->u.b;
    case LDR_TYPE_UNIX_TIMESTAMP:
        return a->u.ts == b->u.ts;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        return a->u.str.len == b->u.str.len &&
               (a->u.str.len == 0 || memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0);
    default:
        return false;
    }
}

bool ldr_value_eq(const ldr_value *a, const ldr_value *b)
{
    if (a->type != b->type)
        return false;
    if (a->is_null || b->is_null)
        return a->is_null && b->is_null;
    if (!ldr_type_is_list(a->type))
        return scalar_eq(a, b);
    if (a->u.list.n != b->u.list.n)
        return false;
    for (size_t i = 0; i < a->u.list.n; i++) {
        if (!ldr_value_eq(&a->u.list.items[i], &b->u.list.items[i]))
            return false;
    }
    return true;
}

/* ---- Float formatting ---------------------------------------------------------------- */

/* Writes nan/inf/-inf and returns true, or returns false for a finite value. */
static bool fmt_special(bool nan, bool inf, bool neg, char buf[32])
{
    const char *s = nan ? "nan" : !inf ? NULL : neg ? "-inf" : "inf";
    if (s)
        memcpy(buf, s, strlen(s) + 1);
    return s != NULL;
}

/* Appends ".0" unless the text already reads as a float ("1" -> "1.0", "1e+20" stays). */
static void mark_float(char buf[32])
{
    if (strpbrk(buf, ".e") == NULL) {
        size_t n = strlen(buf);
        memcpy(buf + n, ".0", 3);
    }
}

/* "00".."99": two digits per division by 100 when writing integers. */
static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes the sign and m / 10^k with k decimals ("0.05" for m 5, k 2), NUL-terminated.
 * m < 10^17 and k <= 17, so the text fits in 32 bytes. */
static void put_decimal(bool neg, uint64_t m, size_t k, char buf[32])
{
    char tmp[24], *end = tmp + sizeof tmp, *p = end;
    while (m >= 100) {
        uint64_t q = m / 100;
        p -= 2;
        memcpy(p, digits2 + 2 * (m - q * 100), 2);
        m = q;
    }
    if (m >= 10) {
        p -= 2;
        memcpy(p, digits2 + 2 * m, 2);
    } else {
        *--p = (char)('0' + m);
    }
    size_t nd = (size_t)(end - p), pos = 0;
    if (neg)
        buf[pos++] = '-';
    if (nd <= k) { /* no integer digits: "0." and leading zeros */
        buf[pos++] = '0';
        buf[pos++] = '.';
        memset(buf + pos, '0', k - nd);
        pos += k - nd;
        memcpy(buf + pos, p, nd);
        pos += nd;
    } else {
        memcpy(buf + pos, p, nd - k);
        pos += nd - k;
        if (k) {
            buf[pos++] = '.';
            memcpy(buf + pos, p + nd - k, k);
            pos += k;
        }
    }
    buf[pos] = '\0';
}

/*
 * Fast path of the shortest round-trip form, without printf: when |d| = m / 10^k for an
 * integer m < 10^15 (the first k that works, so the fewest digits), that is the text
 * %.15g prints (at most one decimal of <= 15 digits lies in a double's rounding interval,
 * see ldr_fmt_double), and for 1e-4 <= |d| < 1e15 %g prints it in fixed notation, which is
 * what this writes. The test is exact: m and 10^k (k <= 17) are exact doubles and IEEE
 * division rounds correctly, as strtod does. Anything else returns false (printf path).
 */
static bool fmt_short_decimal(double d, char buf[32])
{
    static const double p10[] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15))
        return false;
    for (size_t k = 0; k < LDR_ARRAY_LEN(p10); k++) {
        double x = a * p10[k];
        if (x >= 1e15)
            return false;
        double r = (double)(uint64_t)(x + 0.5); /* floor: positive, < 2^63 */
        if (r / p10[k] != a)
            continue;
        put_decimal(d < 0, (uint64_t)r, k, buf);
        if (k == 0)
            memcpy(buf + strlen(buf), ".0", 3);
        return true;
    }
    return false;
}

void ldr_fmt_double(double d, char buf[32])
{
    if (fmt_special(isnan(d), isinf(d), d < 0, buf))
        return;
    if (fmt_short_decimal(d, buf))
        return; /* with its ".0" */
    /* For normal doubles the shortest round-trip text has 15, 16 or 17 digits or is what
     * %.15g prints: with trailing zeros trimmed, a k <= 15 digit answer is also the
     * nearest 15-digit decimal, since the rounding interval (2^-53 relative) is narrower
     * than the 15-digit spacing. Subnormals have wide intervals ("5e-324"), so they
     * search every precision. */
    int prec = fabs(d) < DBL_MIN ? 1 : 15;
    for (; prec < 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(buf, 32, "%.17g", d); /* 17 digits always read back exactly */
    mark_float(buf);
}

/* The sign of r - m * P, exactly, for doubles r (an integer < 2^53), m and P (10^k, exact)
 * with r / (m * P) within [1/2, 2]: m * P = y + e exactly (fma), and r - y is exact
 * (Sterbenz), so comparing r - y with e decides. */
static int cmp_scaled(double r, double m, double P)
{
    double y = m * P;
    double e = fma(m, P, -y);
    double d = r - y;
    return d < e ? -1 : d > e;
}

/*
 * Fast path of ldr_fmt_float, without printf: for 1e-4 <= |f| < 1e6, the text %.6g..%.9g
 * would choose is the fewest-decimals k-place decimal D = r / 10^k that reads back as f
 * (the same argument as for doubles, with the float's interval narrower than 6-digit
 * spacing, and %g in fixed notation in this range), with trailing zeros never present
 * (a shorter k would have matched). Everything is decided exactly in double arithmetic:
 * r is the nearest integer to |f| * 10^k (fma gives the product's rounding error; ties go
 * to even, as printf rounds), and D reads back as f when it lies strictly between the
 * midpoints to f's neighbours, or on one when f's significand is even (round half to
 * even, as strtof does). |f| * 10^k < 1e9 for the k tried, so every step is exact.
 */
static bool fmt_short_decimal_f(float f, char buf[32])
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3,  1e4,  1e5, 1e6,
                                 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
    float fa = fabsf(f);
    if (!(fa >= 1e-4f && fa < 1e6f))
        return false;
    double a = (double)fa;
    /* The neighbours: a positive normal float's bits are ordered like its values. */
    uint32_t bits, b_dn, b_up;
    float dn, up;
    memcpy(&bits, &fa, sizeof bits);
    b_dn = bits - 1;
    b_up = bits + 1;
    memcpy(&dn, &b_dn, sizeof dn);
    memcpy(&up, &b_up, sizeof up);
    double lo = (a + (double)dn) / 2, hi = (a + (double)up) / 2;
    bool even = (bits & 1) == 0;
    for (size_t k = 0; k < LDR_ARRAY_LEN(p10); k++) {
        double P = p10[k];
        double x = a * P;
        if (x >= 1e9)
            return false;
        double xe = fma(a, P, -x); /* a * P = x + xe exactly */
        uint64_t ri = (uint64_t)x; /* floor: 0 < x < 1e9 */
        double r = (double)ri;
        double t = (x - r) - 0.5; /* exact */
        if (t > -xe || (t == -xe && (ri & 1)))
            r += 1;
        if (r == 0)
            continue;
        int c_lo = cmp_scaled(r, lo, P), c_hi = cmp_scaled(r, hi, P);
        bool in = (c_lo > 0 || (c_lo == 0 && even)) && (c_hi < 0 || (c_hi == 0 && even));
        if (!in)
            continue;
        put_decimal(f < 0, (uint64_t)r, k, buf);
        if (k == 0)
            memcpy(buf + strlen(buf), ".0", 3);
        return true;
    }
    return false;
}

void ldr_fmt_float(float f, char buf[32])
{
    if (fmt_special(isnan(f), isinf(f), f < 0, buf))
        return;
    if (fmt_short_decimal_f(f, buf))
        return;
    /* The same argument as ldr_fmt_double with 6..9 digits and a 2^-24 interval. */
    int prec = fabsf(f) < FLT_MIN ? 1 : 6;
    for (; prec < 9; prec++) {
        snprintf(buf, 32, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    if (prec == 9)
        snprintf(buf, 32, "%.9g", (double)f);
    mark_float(buf);
}
