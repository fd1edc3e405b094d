/*
 * json_out.c -- Feast's OnlineFeaturesResponse JSON, written straight into a buffer.
 *
 * Shape (reference §6.2): {"metadata":{"feature_names":[...]},"results":[{"values":[...],
 * "statuses":[...],"event_timestamps":[...]}, ...]}, one result per column. Values are
 * native JSON scalars: integers as numbers, floats in shortest round-trip form (NaN and
 * infinities as the strings "NaN", "Infinity", "-Infinity", as protobuf's JSON mapping
 * does, since JSON has no such numbers), bools, strings (invalid UTF-8 becomes U+FFFD),
 * bytes as base64, UnixTimestamp values as RFC 3339 strings, lists as arrays, null for
 * nulls. Event timestamps are RFC 3339 UTC with "Z"; "no timestamp" is the epoch, as
 * Feast writes it.
 *
 * A purpose-built writer rather than a generic JSON library: it never builds a tree and
 * appends into one buffer, which is what the serving hot path needs.
 */
#include "serving/serving.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv/csv.h"

static ldr_code put_value(ldr_buf *out, const ldr_value *v, ldr_err *err);

static ldr_code put_double(ldr_buf *out, double d, bool is_float, ldr_err *err)
{
    if (isnan(d))
        return ldr_buf_puts(out, "\"NaN\"", err);
    if (isinf(d))
        return ldr_buf_puts(out, d > 0 ? "\"Infinity\"" : "\"-Infinity\"", err);
    char buf[32];
    if (is_float)
        ldr_fmt_float((float)d, buf);
    else
        ldr_fmt_double(d, buf);
    return ldr_buf_puts(out, buf, err);
}

static ldr_code put_ts(ldr_buf *out, ldr_ts ts, ldr_err *err)
{
    char buf[LDR_TS_BUFSZ];
    ldr_code rc = ldr_buf_putc(out, '"', err);
    if (rc == LDR_OK)
        rc = ldr_buf_puts(out, ldr_ts_format(ts == LDR_TS_NONE ? 0 : ts, buf), err);
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, '"', err);
    return rc;
}

/* Event times formatted recently: a response repeats few of them many times (the epoch
 * for join keys, one event time per entity row across a view's features), and
 * formatting costs a few hundred instructions. Direct-mapped by a hash of the time. */
#define TS_CACHE_SLOTS 64
typedef struct ts_cache {
    ldr_ts ts[TS_CACHE_SLOTS];
    uint8_t len[TS_CACHE_SLOTS]; /* 0: empty */
    char text[TS_CACHE_SLOTS][LDR_TS_BUFSZ + 2];
} ts_cache;

static const char *ts_cached(ldr_ts ts, ts_cache *c, size_t *len)
{
    size_t k = (size_t)(((uint64_t)ts * UINT64_C(0x9E3779B97F4A7C15)) >> 58);
    if (!c->len[k] || c->ts[k] != ts) {
        char *t = c->text[k];
        size_t n = strlen(ldr_ts_format(ts == LDR_TS_NONE ? 0 : ts, t + 1));
        t[0] = t[n + 1] = '"';
        c->ts[k] = ts;
        c->len[k] = (uint8_t)(n + 2);
    }
    *len = c->len[k];
    return c->text[k];
}

static ldr_code put_value(ldr_buf *out, const ldr_value *v, ldr_err *err)
{
    if (v->is_null)
        return ldr_buf_puts(out, "null", err);
    if (ldr_type_is_list(v->type)) {
        ldr_code rc = ldr_buf_putc(out, '[', err);
        for (size_t i = 0; i < v->u.list.n && rc == LDR_OK; i++) {
            if (i)
                rc = ldr_buf_putc(out, ',', err);
            if (rc == LDR_OK)
                rc = put_value(out, &v->u.list.items[i], err);
        }
        return rc == LDR_OK ? ldr_buf_putc(out, ']', err) : rc;
    }
    switch (v->type) {
    case LDR_TYPE_INT32:
        return ldr_json_put_i64(out, v->u.i32, err);
    case LDR_TYPE_INT64:
        return ldr_json_put_i64(out, v->u.i64, err);
    case LDR_TYPE_FLOAT32:
        return put_double(out, (double)v->u.f32, true, err);
    case LDR_TYPE_FLOAT64:
        return put_double(out, v->u.f64, false, err);
    case LDR_TYPE_BOOL:
        return ldr_buf_puts(out, v->u.b ? "true" : "false", err);
    case LDR_TYPE_UNIX_TIMESTAMP:
        return put_ts(out, v->u.ts, err);
    case LDR_TYPE_STRING:
        return ldr_json_put_string(out, v->u.str.ptr, v->u.str.len, err);
    case LDR_TYPE_BYTES:
        return ldr_json_put_base64(out, v->u.str.ptr, v->u.str.len, err);
    default:
        return ldr_buf_puts(out, "null", err);
    }
}

/* ---- direct writes ------------------------------------------------------------------------
 * The response is mostly short fixed pieces: numbers, pre-quoted statuses and cached
 * event times. Instead of one checked append per piece, the writer makes room once per
 * element (ldr_buf_reserve) and copies into the buffer; only strings, bytes and lists take
 * the general path above. The NUL is written once at the end. */

/* The most any direct element writes: a quoted RFC 3339 time and a comma. */
#define ELEM_MAX (LDR_TS_BUFSZ + 4)

static inline ldr_code room(ldr_buf *b, size_t n, ldr_err *err)
{
    return n < b->cap - b->len ? LDR_OK : ldr_buf_reserve(b, n, err);
}

static inline void put_raw(ldr_buf *b, const char *s, size_t n)
{
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
}

#define PUT_LIT(b, s) put_raw(b, s, sizeof(s) - 1)

/* A quoted event time (room for ELEM_MAX made). */
static void put_ts_raw(ldr_buf *b, ldr_ts ts, ts_cache *c)
{
    size_t n;
    const char *t = ts_cached(ts, c, &n);
    put_raw(b, t, n);
}

static void put_u64_raw(ldr_buf *b, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do {
        t[sizeof t - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_raw(b, t + sizeof t - n, n);
}

/* Writes v when it is a scalar of fixed bounded size (room for ELEM_MAX made); false for
 * strings, bytes and lists, which go through put_value. */
static bool put_simple(ldr_buf *b, const ldr_value *v)
{
    if (v->is_null) {
        PUT_LIT(b, "null");
        return true;
    }
    int64_t i;
    switch (v->type) {
    case LDR_TYPE_INT32:
        i = v->u.i32;
        goto integer;
    case LDR_TYPE_INT64:
        i = v->u.i64;
        goto integer;
    case LDR_TYPE_FLOAT32:
    case LDR_TYPE_FLOAT64: {
        double d = v->type == LDR_TYPE_FLOAT32 ? (double)v->u.f32 : v->u.f64;
        if (isnan(d)) {
            PUT_LIT(b, "\"NaN\"");
        } else if (isinf(d)) {
            if (d > 0)
                PUT_LIT(b, "\"Infinity\"");
            else
                PUT_LIT(b, "\"-Infinity\"");
        } else {
            char *p = b->ptr + b->len; /* room for 32 bytes was made */
            if (v->type == LDR_TYPE_FLOAT32)
                ldr_fmt_float(v->u.f32, p);
            else
                ldr_fmt_double(d, p);
            b->len += strlen(p);
        }
        return true;
    }
    case LDR_TYPE_BOOL:
        if (v->u.b)
            PUT_LIT(b, "true");
        else
            PUT_LIT(b, "false");
        return true;
    case LDR_TYPE_UNIX_TIMESTAMP: {
        b->ptr[b->len++] = '"';
        char *p = b->ptr + b->len;
        ldr_ts_format(v->u.ts == LDR_TS_NONE ? 0 : v->u.ts, p);
        b->len += strlen(p);
        b->ptr[b->len++] = '"';
        return true;
    }
    default:
        return false;
    }
integer:
    if (i < 0) {
        b->ptr[b->len++] = '-';
        put_u64_raw(b, (uint64_t)0 - (uint64_t)i);
    } else {
        put_u64_raw(b, (uint64_t)i);
    }
    return true;
}

/* Statuses as they appear in the output, quoted. */
static const struct {
    const char *text;
    size_t len;
} status_json[] = {
#define ST(s)                      \
    {                              \
        "\"" s "\"", sizeof(s) + 1 \
    }
    ST("INVALID"), ST("PRESENT"), ST("NULL_VALUE"), ST("NOT_FOUND"), ST("OUTSIDE_MAX_AGE"),
#undef ST
};

/* Appends a string that needs no escaping (printable ASCII without '"' and '\\') with one
 * copy; others through ldr_json_put_string. Names are almost always plain. */
static ldr_code put_name(ldr_buf *b, const char *s, ldr_err *err)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
            return ldr_json_put_string(b, s, strlen(s), err);
    }
    ldr_code rc = room(b, n + 3, err);
    if (rc != LDR_OK)
        return rc;
    b->ptr[b->len++] = '"';
    put_raw(b, s, n);
    b->ptr[b->len++] = '"';
    return LDR_OK;
}

/* Appends a literal piece; PUT_LIT after making room. */
#define PIECE(b, s, err) (room(b, sizeof(s), err) == LDR_OK ? (PUT_LIT(b, s), LDR_OK) : LDR_ELIMIT)

ldr_code ldr_serving_response_json(const ldr_online_response *r, ldr_buf *out, ldr_err *err)
{
    ts_cache cache;
    memset(cache.len, 0, sizeof cache.len);
    ldr_code rc = PIECE(out, "{\"metadata\":{\"feature_names\":[", err);
    for (size_t c = 0; c < r->n_cols && rc == LDR_OK; c++) {
        if (c && (rc = PIECE(out, ",", err)) != LDR_OK)
            break;
        rc = put_name(out, r->names[c], err);
    }
    if (rc == LDR_OK)
        rc = PIECE(out, "]},\"results\":[", err);
    for (size_t c = 0; c < r->n_cols && rc == LDR_OK; c++) {
        rc = c ? PIECE(out, ",{\"values\":[", err) : PIECE(out, "{\"values\":[", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if ((rc = room(out, ELEM_MAX, err)) != LDR_OK)
                break;
            if (i)
                out->ptr[out->len++] = ',';
            if (!put_simple(out, &r->values[c][i]))
                rc = put_value(out, &r->values[c][i], err);
        }
        if (rc == LDR_OK)
            rc = PIECE(out, "],\"statuses\":[", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if ((rc = room(out, ELEM_MAX, err)) != LDR_OK)
                break;
            if (i)
                out->ptr[out->len++] = ',';
            uint8_t st = r->status[c][i];
            if (st > LDR_STATUS_OUTSIDE_MAX_AGE)
                st = LDR_STATUS_INVALID;
            put_raw(out, status_json[st].text, status_json[st].len);
        }
        /* Feast leaves event_timestamps out when the list is empty. */
        if (rc == LDR_OK)
            rc = r->n_rows ? PIECE(out, "],\"event_timestamps\":[", err) : PIECE(out, "]", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if ((rc = room(out, ELEM_MAX, err)) != LDR_OK)
                break;
            if (i)
                out->ptr[out->len++] = ',';
            put_ts_raw(out, r->event_ts[c][i], &cache);
        }
        if (rc == LDR_OK)
            rc = r->n_rows ? PIECE(out, "]}", err) : PIECE(out, "}", err);
    }
    if (rc == LDR_OK)
        rc = PIECE(out, "]}", err);
    if (out->ptr)
        out->ptr[out->len] = '\0'; /* after direct writes; room() kept a byte for it */
    return rc;
}
