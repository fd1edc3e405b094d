/*
 * fuzz_http_request.c -- libFuzzer driver for the server's request parsing
 * (ldr_srv_parse, ldr_srv_cell_convert, ldr_srv_error_json; src/server/request.c).
 *
 * Input layout: byte 0 picks the endpoint (get-online-features, push,
 * write-to-online-store, materialize, materialize-incremental), byte 1 bit 0 small limits
 * (so limit paths are reachable with short inputs); the rest is the request body.
 * Invariants checked (a violation aborts with a description on stderr):
 *   - the result is LDR_OK, or LDR_ECORRUPT / LDR_EINVAL / LDR_ELIMIT with a message;
 *   - the error reply {"error":{"type","message"}} is valid JSON (jansson, strict);
 *   - a parsed request respects the limits and its shape: equal column lengths, one of
 *     features / feature_service, start < end for a full materialization;
 *   - every pushed cell converts to every type with LDR_OK or LDR_EINVAL only.
 * No state between calls. Corpus: fuzz/http_request/corpus/, dictionary:
 * fuzz/http_request/http_request.dict.
 */
#include "../fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_http_request: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_error_json(const ldr_err *err)
{
    ldr_buf b;
    ldr_buf_init(&b, 1u << 16);
    if (ldr_srv_error_json(&b, "InvalidRequest", err->msg, NULL) != LDR_OK)
        fail("error JSON does not fit", err->msg);
    json_error_t je;
    json_t *j = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        fail("error reply is not JSON", je.text);
    json_decref(j);
    ldr_buf_fini(&b);
}

static const ldr_type types[] = {
    LDR_TYPE_INT32,      LDR_TYPE_INT64,       LDR_TYPE_FLOAT32,      LDR_TYPE_FLOAT64,
    LDR_TYPE_STRING,     LDR_TYPE_BYTES,       LDR_TYPE_BOOL,         LDR_TYPE_UNIX_TIMESTAMP,
    LDR_TYPE_INT64_LIST, LDR_TYPE_STRING_LIST, LDR_TYPE_FLOAT32_LIST, LDR_TYPE_BYTES_LIST,
};

static void check_frame(const ldr_srv_frame *df, const ldr_srv_limits *lim, ldr_arena *a)
{
    if (df->n_cols == 0 || df->n_rows > lim->max_entities)
        fail("frame shape", NULL);
    for (size_t c = 0; c < df->n_cols; c++) {
        if (!df->names[c] || !*df->names[c])
            fail("frame column without a name", NULL);
        for (size_t r = 0; r < df->n_rows; r++) {
            for (size_t t = 0; t < LDR_ARRAY_LEN(types); t++) {
                ldr_value v;
                ldr_err err;
                ldr_err_clear(&err);
                ldr_code rc = ldr_srv_cell_convert(&df->cols[c][r], types[t], t & 1, df->names[c],
                                                   r, a, &v, &err);
                if (rc != LDR_OK && rc != LDR_EINVAL)
                    fail("cell conversion: unexpected code", err.msg);
                if (rc == LDR_OK && v.type != types[t])
                    fail("cell conversion: wrong type", df->names[c]);
            }
        }
    }
}

static void check_ok(const ldr_srv_request *q, const ldr_srv_limits *lim, ldr_arena *a)
{
    switch (q->ep) {
    case LDR_EP_GET_ONLINE: {
        const ldr_online_request *o = &q->online;
        if ((o->features != NULL) == (o->feature_service != NULL))
            fail("online: features and feature_service", NULL);
        if (o->n_rows > lim->max_entities || o->n_features > lim->max_features ||
            o->n_entity_cols == 0)
            fail("online: limits", NULL);
        for (size_t i = 0; i < o->n_features; i++)
            if (!*o->features[i])
                fail("online: empty feature", NULL);
        break;
    }
    case LDR_EP_PUSH:
    case LDR_EP_WRITE_ONLINE:
        if (!(q->ep == LDR_EP_PUSH ? q->push.push_source_name : q->push.feature_view_name))
            fail("push: no name", NULL);
        check_frame(&q->push.df, lim, a);
        break;
    default:
        if (!q->mat.incremental && q->mat.start >= q->mat.end)
            fail("materialize: start >= end", NULL);
        if (q->mat.incremental && q->mat.end == LDR_TS_NONE)
            fail("materialize-incremental: no end", NULL);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const ldr_srv_endpoint eps[] = {LDR_EP_GET_ONLINE, LDR_EP_PUSH, LDR_EP_WRITE_ONLINE,
                                           LDR_EP_MATERIALIZE, LDR_EP_MATERIALIZE_INC};
    ldr_srv_endpoint ep = eps[data[0] % LDR_ARRAY_LEN(eps)];
    ldr_srv_limits lim = ldr_srv_limits_default();
    if (data[1] & 1) {
        lim.max_body = 256;
        lim.max_entities = 4;
        lim.max_features = 3;
        lim.max_depth = 4;
    }
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_srv_request q;
    ldr_err err;
    ldr_err_clear(&err);
    ldr_code rc = ldr_srv_parse(ep, (const char *)data + 2, size - 2, &lim,
                                INT64_C(1700000000000000), &a, &q, &err);
    if (rc == LDR_OK) {
        check_ok(&q, &lim, &a);
    } else {
        if (rc != LDR_ECORRUPT && rc != LDR_EINVAL && rc != LDR_ELIMIT)
            fail("unexpected error code", err.msg);
        if (!err.msg[0])
            fail("error without a message", NULL);
        check_error_json(&err);
    }
    ldr_arena_fini(&a);
    return 0;
}
