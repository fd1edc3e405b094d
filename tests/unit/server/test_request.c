/*
 * test_request.c -- unit tests for src/server/request.c: request bodies of every endpoint
 * parsed into typed requests (Feast's shapes), the error classes that become HTTP
 * statuses (LDR_ECORRUPT 400, LDR_EINVAL 422, LDR_ELIMIT 413) with their messages, cell
 * conversion of pushed values (exact numbers, ranges, base64, timestamps, lists, the
 * int -> String join key rule) and the error JSON. The fast /get-online-features parser
 * (request_fast.c) is compared with the jansson walk on bodies it takes, and must
 * decline every other body.
 */
#include "server/server.h"

#include <string.h>

#include "harness.h"

static ldr_code parse(ldr_srv_endpoint ep, const char *body, ldr_arena *a, ldr_srv_request *q,
                      ldr_err *err)
{
    ldr_srv_limits lim = ldr_srv_limits_default();
    lim.max_entities = 3;
    return ldr_srv_parse(ep, body, strlen(body), &lim, 1000000, a, q, err);
}

TEST(online_request)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_srv_request q;
    ldr_err err;
    CHECK_OK(parse(LDR_EP_GET_ONLINE,
                   "{\"features\":[\"v:a\",\"v:b\"],\"entities\":{\"driver_id\":[1,2],"
                   "\"name\":[\"x\",null]},\"full_feature_names\":true}",
                   &a, &q, &err),
             err);
    CHECK_EQ_I64(q.online.n_features, 2);
    CHECK_EQ_STR(q.online.features[1], "v:b");
    CHECK(q.online.full_feature_names);
    CHECK_EQ_I64(q.online.n_entity_cols, 2);
    CHECK_EQ_I64(q.online.n_rows, 2);
    CHECK_EQ_STR(q.online.entity_names[0], "driver_id"); /* request order is kept */
    CHECK_EQ_I64(q.online.entity_values[0][1].u.i64, 2);
    CHECK(q.online.entity_values[1][1].is_null);
    ldr_arena_fini(&a);
}

/* The two parsers' results are the same request. */
static void check_same_online(const ldr_online_request *f, const ldr_online_request *j)
{
    CHECK_EQ_I64(f->n_features, j->n_features);
    for (size_t i = 0; i < f->n_features && i < j->n_features; i++)
        CHECK_EQ_STR(f->features[i], j->features[i]);
    CHECK(f->feature_service == NULL && j->feature_service == NULL);
    CHECK(f->full_feature_names == j->full_feature_names);
    CHECK_EQ_I64(f->n_entity_cols, j->n_entity_cols);
    CHECK_EQ_I64(f->n_rows, j->n_rows);
    for (size_t c = 0; c < f->n_entity_cols && c < j->n_entity_cols; c++) {
        CHECK_EQ_STR(f->entity_names[c], j->entity_names[c]);
        for (size_t r = 0; r < f->n_rows && r < j->n_rows; r++) {
            const ldr_value *x = &f->entity_values[c][r], *y = &j->entity_values[c][r];
            CHECK(x->type == y->type && x->is_null == y->is_null);
            if (x->type == LDR_TYPE_INT64 && y->type == LDR_TYPE_INT64)
                CHECK_EQ_I64(x->u.i64, y->u.i64);
            if (x->type == LDR_TYPE_STRING && y->type == LDR_TYPE_STRING) {
                CHECK_EQ_I64(x->u.str.len, y->u.str.len);
                CHECK_EQ_STR(x->u.str.ptr, y->u.str.ptr);
            }
        }
    }
}

TEST(online_fast_parser)
{
    static const char *const taken[] = {
        "{\"features\":[\"v:a\",\"v:b\"],\"entities\":{\"driver_id\":[7]}}",
        " {\n\t\"entities\" : { \"a\" : [ -0 , 123456789012345678, -5 ] ,\"b\":[\"\",\"x "
        "y\",\"9\"]} ,"
        "\"full_feature_names\": false, \"features\" : [ \"v:a\" ] }\r\n",
        "{\"features\":[\"v:a\",\"v:a\"],\"entities\":{\"k\":[0]},\"full_feature_names\":true}",
    };
    static const char *const declined[] = {
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1.0]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1e3]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[01]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1234567890123456789]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[null]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1,2,3,4]}}", /* over max_entities */
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[]}}",
        "{\"features\":[\"v:a\"],\"entities\":{}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1],\"k\":[2]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1],\"j\":[2,3]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"\":[1]}}",
        "{\"features\":[\"v:a\"],\"features\":[\"v:b\"],\"entities\":{\"k\":[1]}}",
        "{\"features\":[],\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"\"],\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"v:\\u0061\"],\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"v:\xc3\xa9\"],\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"v:a\",],\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1]}} x",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1]}",
        "{\"features\":[\"v:a\"]}",
        "{\"entities\":{\"k\":[1]}}",
        "{\"feature_service\":\"s\",\"entities\":{\"k\":[1]}}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1]},\"full_feature_names\":null}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1]},\"full_feature_names\":tru}",
        "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1]},\"featurs\":1}",
    };
    ldr_srv_limits lim = ldr_srv_limits_default();
    lim.max_entities = 3;
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++) {
        ldr_arena a;
        ldr_arena_init(&a, 0);
        ldr_online_request f;
        ldr_srv_request j;
        ldr_err err;
        CHECK(ldr__srv_parse_online_fast(taken[i], strlen(taken[i]), &lim, &a, &f));
        CHECK_OK(ldr__srv_parse_json(LDR_EP_GET_ONLINE, taken[i], strlen(taken[i]), &lim, 0, &a, &j,
                                     &err),
                 err);
        check_same_online(&f, &j.online);
        ldr_arena_fini(&a);
    }
    for (size_t i = 0; i < sizeof declined / sizeof *declined; i++) {
        ldr_arena a;
        ldr_arena_init(&a, 0);
        ldr_online_request f;
        if (ldr__srv_parse_online_fast(declined[i], strlen(declined[i]), &lim, &a, &f))
            HARNESS_FAIL("the fast parser took %s", declined[i]);
        CHECK_EQ_I64(f.n_features + f.n_entity_cols, 0);
        ldr_arena_fini(&a);
    }
}

TEST(error_classes)
{
    static const struct {
        ldr_srv_endpoint ep;
        const char *body;
        ldr_code code;
        const char *msg;
    } cases[] = {
        {LDR_EP_GET_ONLINE, "{\"features\":[\"v:a\"", LDR_ECORRUPT, "malformed JSON"},
        {LDR_EP_GET_ONLINE, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
         LDR_ECORRUPT, "nested deeper than 32"},
        {LDR_EP_GET_ONLINE, "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1e999]}}", LDR_EINVAL,
         "number out of range"},
        {LDR_EP_GET_ONLINE, "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1,2,3,4]}}", LDR_ELIMIT,
         "the limit is 3"},
        {LDR_EP_GET_ONLINE, "{\"featurs\":[\"v:a\"],\"entities\":{\"k\":[1]}}", LDR_EINVAL,
         "did you mean \"features\""},
        {LDR_EP_GET_ONLINE, "{\"features\":[\"v:a\"],\"entities\":{\"k\":[1],\"j\":[]}}",
         LDR_EINVAL, "one value per row"},
        {LDR_EP_PUSH, "{\"df\":{\"a\":[1]}}", LDR_EINVAL, "'push_source_name' is required"},
        {LDR_EP_PUSH, "{\"push_source_name\":\"p\",\"df\":{\"a\":[[[1]]]}}", LDR_EINVAL,
         "must be a scalar"},
        {LDR_EP_MATERIALIZE, "{\"start_ts\":\"2024-01-02\",\"end_ts\":\"2024-01-01\"}", LDR_EINVAL,
         "must be before"},
        {LDR_EP_MATERIALIZE_INC, "{\"start_ts\":\"2024-01-02\"}", LDR_EINVAL, "unknown member"},
    };
    for (size_t i = 0; i < LDR_ARRAY_LEN(cases); i++) {
        ldr_arena a;
        ldr_arena_init(&a, 0);
        ldr_srv_request q;
        ldr_err err;
        ldr_err_clear(&err);
        CHECK_EQ_I64(parse(cases[i].ep, cases[i].body, &a, &q, &err), cases[i].code);
        CHECK_CONTAINS(err.msg, cases[i].msg);
        ldr_arena_fini(&a);
    }
}

TEST(materialize_requests)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_srv_request q;
    ldr_err err;
    CHECK_OK(parse(LDR_EP_MATERIALIZE, "{\"disable_event_timestamp\":true,\"feature_views\":[]}",
                   &a, &q, &err),
             err);
    CHECK_EQ_I64(q.mat.start, 0);
    CHECK_EQ_I64(q.mat.end, 1000000); /* now */
    CHECK(q.mat.views == NULL);       /* [] means every view */
    CHECK_OK(parse(LDR_EP_MATERIALIZE_INC, "{\"end_ts\":\"1970-01-01T00:00:02Z\"}", &a, &q, &err),
             err);
    CHECK(q.mat.incremental);
    CHECK_EQ_I64(q.mat.end, 2000000);
    ldr_arena_fini(&a);
}

static ldr_code conv(ldr_value cell, ldr_type to, bool key, ldr_arena *a, ldr_value *out,
                     ldr_err *err)
{
    return ldr_srv_cell_convert(&cell, to, key, "c", 0, a, out, err);
}

TEST(cell_conversion)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err;
    ldr_value v, i = {.type = LDR_TYPE_INT64, .u.i64 = 5}, f = {.type = LDR_TYPE_FLOAT64};
    f.u.f64 = 3.0;
    CHECK_OK(conv(f, LDR_TYPE_INT64, false, &a, &v, &err), err);
    CHECK_EQ_I64(v.u.i64, 3);
    f.u.f64 = 3.5;
    CHECK_EQ_I64(conv(f, LDR_TYPE_INT64, false, &a, &v, &err), LDR_EINVAL);
    i.u.i64 = INT64_C(1) << 40;
    CHECK_EQ_I64(conv(i, LDR_TYPE_INT32, false, &a, &v, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "out of range for Int32");
    i.u.i64 = 5;
    CHECK_EQ_I64(conv(i, LDR_TYPE_STRING, false, &a, &v, &err), LDR_EINVAL);
    CHECK_OK(conv(i, LDR_TYPE_STRING, true, &a, &v, &err), err); /* a join key: Feast's 5 -> "5" */
    CHECK(v.u.str.len == 1 && v.u.str.ptr[0] == '5');
    CHECK_OK(conv(i, LDR_TYPE_UNIX_TIMESTAMP, false, &a, &v, &err), err);
    CHECK_EQ_I64(v.u.ts, 5000000);
    ldr_value s = {.type = LDR_TYPE_STRING, .u.str = {"aGk", 3}};
    CHECK_OK(conv(s, LDR_TYPE_BYTES, false, &a, &v, &err), err);
    CHECK(v.u.str.len == 2 && !memcmp(v.u.str.ptr, "hi", 2));
    ldr_value items[2] = {{.type = LDR_TYPE_INT64, .u.i64 = 1}, {.is_null = true}};
    ldr_value arr = {.type = LDR_SRV_JSON_ARRAY, .u.list = {items, 2}};
    CHECK_OK(conv(arr, LDR_TYPE_FLOAT64_LIST, false, &a, &v, &err), err);
    CHECK(v.u.list.n == 2 && v.u.list.items[0].u.f64 == 1.0 && v.u.list.items[1].is_null);
    CHECK_EQ_I64(conv(arr, LDR_TYPE_FLOAT64, false, &a, &v, &err), LDR_EINVAL);
    ldr_arena_fini(&a);
}

TEST(error_json)
{
    ldr_buf b;
    ldr_buf_init(&b, 1024);
    ldr_err err;
    CHECK_OK(ldr_srv_error_json(&b, "InvalidRequest", "bad \"x\"\n", &err), err);
    CHECK_EQ_STR(b.ptr,
                 "{\"error\":{\"type\":\"InvalidRequest\",\"message\":\"bad \\\"x\\\"\\n\"}}");
    ldr_buf_fini(&b);
    CHECK_EQ_I64(ldr_srv_endpoint_of("/push", 5), LDR_EP_PUSH);
    CHECK_EQ_I64(ldr_srv_endpoint_of("/pushx", 6), LDR_EP_OTHER);
}

int main(void)
{
    RUN(online_request);
    RUN(online_fast_parser);
    RUN(error_classes);
    RUN(materialize_requests);
    RUN(cell_conversion);
    RUN(error_json);
    return harness_done();
}
