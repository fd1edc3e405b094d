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

static ldr_code put_ts_cached(ldr_buf *out, ldr_ts ts, ts_cache *c, ldr_err *err)
{
    size_t k = (size_t)(((uint64_t)ts * UINT64_C(0x9E3779B97F4A7C15)) >> 58);
    if (!c->len[k] || c->ts[k] != ts) {
        char *t = c->text[k];
        size_t n = strlen(ldr_ts_format(ts == LDR_TS_NONE ? 0 : ts, t + 1));
        t[0] = t[n + 1] = '"';
        c->ts[k] = ts;
        c->len[k] = (uint8_t)(n + 2);
    }
    return ldr_buf_append(out, c->text[k], c->len[k], err);
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

ldr_code ldr_serving_response_json(const ldr_online_response *r, ldr_buf *out, ldr_err *err)
{
    ts_cache cache;
    memset(cache.len, 0, sizeof cache.len);
    ldr_code rc = ldr_buf_puts(out, "{\"metadata\":{\"feature_names\":[", err);
    for (size_t c = 0; c < r->n_cols && rc == LDR_OK; c++) {
        if (c)
            rc = ldr_buf_putc(out, ',', err);
        if (rc == LDR_OK)
            rc = ldr_json_put_string(out, r->names[c], strlen(r->names[c]), err);
    }
    if (rc == LDR_OK)
        rc = ldr_buf_puts(out, "]},\"results\":[", err);
    for (size_t c = 0; c < r->n_cols && rc == LDR_OK; c++) {
        rc = ldr_buf_puts(out, c ? ",{\"values\":[" : "{\"values\":[", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if (i)
                rc = ldr_buf_putc(out, ',', err);
            if (rc == LDR_OK)
                rc = put_value(out, &r->values[c][i], err);
        }
        if (rc == LDR_OK)
            rc = ldr_buf_puts(out, "],\"statuses\":[", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if (i)
                rc = ldr_buf_putc(out, ',', err);
            if (rc == LDR_OK)
                rc = ldr_buf_putc(out, '"', err);
            if (rc == LDR_OK)
                rc = ldr_buf_puts(out, ldr_fstatus_name((ldr_fstatus)r->status[c][i]), err);
            if (rc == LDR_OK)
                rc = ldr_buf_putc(out, '"', err);
        }
        /* Feast leaves event_timestamps out when the list is empty. */
        if (rc == LDR_OK)
            rc = ldr_buf_puts(out, r->n_rows ? "],\"event_timestamps\":[" : "]", err);
        for (size_t i = 0; i < r->n_rows && rc == LDR_OK; i++) {
            if (i)
                rc = ldr_buf_putc(out, ',', err);
            if (rc == LDR_OK)
                rc = put_ts_cached(out, r->event_ts[c][i], &cache, err);
        }
        if (rc == LDR_OK)
            rc = ldr_buf_puts(out, r->n_rows ? "]}" : "}", err);
    }
    if (rc == LDR_OK)
        rc = ldr_buf_puts(out, "]}", err);
    return rc;
}
