/*
 * test_serving.c -- unit tests for src/serving/online_get.c and json_out.c over the
 * in-memory online store: statuses (PRESENT, NOT_FOUND, NULL_VALUE, OUTSIDE_MAX_AGE),
 * entity coercion (Feast case 14: an int 5 for a String entity reads customer "5"),
 * duplicate rows fanned out, composite keys, entityless views, feature services with
 * aliases and join_key_map, full names, the missing-join-key and unknown-name errors
 * (Feast case 16), and the exact JSON shape.
 */
#include "serving/serving.h"

#include <string.h>

#include "harness.h"

static const char defs_yaml[] =
    "kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
    "kind: Entity\nname: customer\njoin_keys: [customer_id]\nvalue_type: String\n---\n"
    "kind: DataSource\nname: s\ntype: file\npath: data/x.csv\ntimestamp_field: ts\n---\n"
    "kind: FeatureView\nname: driver_locations\nentities: [driver]\nttl: 0\nsource: s\n"
    "schema:\n  - {name: lat, dtype: Float32}\n  - {name: lon, dtype: String}\n---\n"
    "kind: FeatureView\nname: customer_profile\nentities: [customer]\nttl: 1h\nsource: s\n"
    "schema:\n  - {name: avg_orders_day, dtype: Float32}\n  - {name: name, dtype: String}\n"
    "  - {name: age, dtype: Int64}\n---\n"
    "kind: FeatureView\nname: customer_driver_combined\nentities: [customer, driver]\nttl: 0\n"
    "source: s\nschema:\n  - {name: trips, dtype: Int64}\n---\n"
    "kind: FeatureView\nname: global_stats\nentities: []\nttl: 0\nsource: s\n"
    "schema:\n  - {name: total, dtype: Int64}\n---\n"
    "kind: FeatureService\nname: svc\nfeatures:\n"
    "  - {feature_view: driver_locations, features: [lon], alias: origin, join_key_map: "
    "{driver_id: "
    "origin_id}}\n"
    "  - {feature_view: driver_locations, features: [lon], alias: dest, join_key_map: {driver_id: "
    "dest_id}}\n";

#define NOW ((ldr_ts)1700000000 * 1000000)

typedef struct fixture {
    ldr_defs defs;
    ldr_config cfg;
    ldr_online_store *os;
    ldr_arena a;
} fixture;

static ldr_value v_i64(int64_t x)
{
    ldr_value v = ldr_value_null(LDR_TYPE_INT64);
    v.is_null = false;
    v.u.i64 = x;
    return v;
}

static ldr_value v_str(const char *s)
{
    ldr_value v = ldr_value_null(LDR_TYPE_STRING);
    v.is_null = false;
    v.u.str.ptr = s;
    v.u.str.len = strlen(s);
    return v;
}

static ldr_value v_f32(float x)
{
    ldr_value v = ldr_value_null(LDR_TYPE_FLOAT32);
    v.is_null = false;
    v.u.f32 = x;
    return v;
}

/* Writes one row of view `name`: keys (names, values) and n feature values. */
static void put(fixture *f, const char *name, const char *const *jk, const ldr_value *kv, size_t nk,
                const ldr_value *vals, ldr_ts ts)
{
    ldr_err err;
    ldr_err_clear(&err);
    const ldr_view *v = ldr_defs_find_view(&f->defs, name);
    ldr_online_view ov;
    ldr_serving_online_view(&f->defs, "p", v, &f->a, &ov);
    ldr_buf key;
    ldr_buf_init(&key, 4096);
    ldr_code rc = nk ? ldr_online_key_encode(jk, kv, nk, &key, &err)
                     : ldr_online_key_encode_entityless(&key, &err);
    CHECK(rc == LDR_OK);
    ldr_online_row row = {
        .key = {key.ptr, key.len}, .values = vals, .event_ts = ts, .created_ts = LDR_TS_NONE};
    CHECK(ldr_online_write(f->os, &ov, &row, 1, NULL, &err) == LDR_OK);
    ldr_buf_fini(&key);
}

static bool setup(fixture *f)
{
    memset(f, 0, sizeof *f);
    ldr_err err;
    ldr_err_clear(&err);
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_defs_init(&f->defs);
    (void)ldr_defs_parse(&f->defs, "defs.yaml", defs_yaml, strlen(defs_yaml), &g);
    (void)ldr_defs_validate(&f->defs, NULL, &g);
    for (size_t i = 0; i < g.n; i++)
        printf("# %s\n", g.items[i]);
    bool ok = g.n == 0;
    ldr_diags_fini(&g);
    ldr_arena_init(&f->cfg.arena, 0);
    f->cfg.project = "p";
    f->cfg.online_type = "memory";
    ldr_arena_init(&f->a, 0);
    f->os = ldr_online_open(&f->cfg, &err);
    CHECK(f->os != NULL);
    if (!ok || !f->os)
        return false;
    ldr_online_view views[4];
    for (size_t i = 0; i < f->defs.n_views; i++)
        ldr_serving_online_view(&f->defs, "p", &f->defs.views[i], &f->a, &views[i]);
    CHECK(ldr_online_update(f->os, views, f->defs.n_views, NULL, 0, &err) == LDR_OK);
    /* Feast case 14's data. */
    const char *d[] = {"driver_id"}, *c[] = {"customer_id"};
    const char *cd[] = {"customer_id", "driver_id"};
    ldr_value k1 = v_i64(1), k5 = v_str("5"), kcd[2] = {v_str("5"), v_i64(1)};
    ldr_value loc[2] = {v_f32(0.1f), v_str("1.0")};
    put(f, "driver_locations", d, &k1, 1, loc, NOW - 5000000);
    ldr_value prof[3] = {v_f32(1.0f), v_str("John"), v_i64(3)};
    put(f, "customer_profile", c, &k5, 1, prof, NOW - 2 * 3600 * (ldr_ts)1000000);
    ldr_value trips = v_i64(7);
    put(f, "customer_driver_combined", cd, kcd, 2, &trips, NOW);
    ldr_value k2 = v_i64(2), nul[2] = {ldr_value_null(LDR_TYPE_FLOAT32), v_str("x")};
    put(f, "driver_locations", d, &k2, 1, nul, NOW);
    ldr_value total = v_i64(42);
    put(f, "global_stats", NULL, NULL, 0, &total, NOW);
    return true;
}

static void teardown(fixture *f)
{
    ldr_online_close(f->os);
    ldr_defs_fini(&f->defs);
    ldr_arena_fini(&f->cfg.arena);
    ldr_arena_fini(&f->a);
}

static int col_of(const ldr_online_response *r, const char *name)
{
    for (size_t c = 0; c < r->n_cols; c++)
        if (!strcmp(r->names[c], name))
            return (int)c;
    return -1;
}

TEST(feast_case_14_online_read_basics)
{
    fixture f;
    if (!setup(&f)) {
        teardown(&f);
        return;
    }
    const char *feats[] = {"driver_locations:lon", "customer_profile:avg_orders_day",
                           "customer_profile:name", "customer_driver_combined:trips"};
    const char *names[] = {"driver_id", "customer_id"};
    ldr_value drv[2] = {v_i64(1), v_i64(1)};
    ldr_value cus[2] = {v_str("5"), v_i64(5)}; /* an int 5 for a String entity */
    const ldr_value *cols[2] = {drv, cus};
    ldr_online_request req = {.features = feats,
                              .n_features = 4,
                              .entity_names = names,
                              .entity_values = cols,
                              .n_entity_cols = 2,
                              .n_rows = 2};
    ldr_online_response r;
    ldr_err err;
    ldr_err_clear(&err);
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_OK);
    CHECK_EQ_I64(r.n_cols, 6);
    CHECK_EQ_STR(r.names[0], "driver_id");
    CHECK_EQ_STR(r.names[1], "customer_id");
    CHECK_EQ_STR(r.names[2], "lon");
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_I64(r.values[0][i].u.i64, 1);
        CHECK(r.values[1][i].type == LDR_TYPE_STRING && r.values[1][i].u.str.len == 1 &&
              r.values[1][i].u.str.ptr[0] == '5');
        CHECK_EQ_I64(r.status[1][i], LDR_STATUS_PRESENT);
        CHECK(r.values[2][i].u.str.len == 3 && !memcmp(r.values[2][i].u.str.ptr, "1.0", 3));
        CHECK_EQ_F64(r.values[3][i].u.f32, 1.0f);
        CHECK(r.values[4][i].u.str.len == 4);
        CHECK_EQ_I64(r.values[5][i].u.i64, 7);
        CHECK_EQ_I64(r.status[5][i], LDR_STATUS_PRESENT);
        CHECK_EQ_I64(r.event_ts[5][i], NOW);
        /* customer_profile has a 1h ttl and its row is 2h old */
        CHECK_EQ_I64(r.status[3][i], LDR_STATUS_OUTSIDE_MAX_AGE);
    }
    teardown(&f);
}

TEST(feast_case_15_unknown_entity_and_null_value)
{
    fixture f;
    if (!setup(&f)) {
        teardown(&f);
        return;
    }
    const char *feats[] = {"customer_driver_combined:trips", "driver_locations:lat"};
    const char *names[] = {"customer_id", "driver_id"};
    ldr_value cus[3] = {v_str("0"), v_str("5"), ldr_value_null(LDR_TYPE_STRING)};
    ldr_value drv[3] = {v_i64(0), v_i64(2), v_i64(1)};
    const ldr_value *cols[2] = {cus, drv};
    ldr_online_request req = {.features = feats,
                              .n_features = 2,
                              .entity_names = names,
                              .entity_values = cols,
                              .n_entity_cols = 2,
                              .n_rows = 3};
    ldr_online_response r;
    ldr_err err;
    ldr_err_clear(&err);
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_OK);
    int t = col_of(&r, "trips"), lat = col_of(&r, "lat");
    CHECK(t >= 0 && lat >= 0);
    if (t < 0 || lat < 0) {
        teardown(&f);
        return;
    }
    CHECK(r.values[t][0].is_null);
    CHECK_EQ_I64(r.status[t][0], LDR_STATUS_NOT_FOUND);
    CHECK_EQ_I64(r.event_ts[t][0], LDR_TS_NONE);
    CHECK_EQ_I64(r.status[t][1], LDR_STATUS_NOT_FOUND);    /* (5, 2) was never written */
    CHECK_EQ_I64(r.status[t][2], LDR_STATUS_NOT_FOUND);    /* a null key matches nothing */
    CHECK_EQ_I64(r.status[lat][1], LDR_STATUS_NULL_VALUE); /* driver 2: stored null */
    CHECK(r.values[lat][1].is_null);
    CHECK_EQ_I64(r.event_ts[lat][1], NOW);
    CHECK_EQ_I64(r.status[lat][2], LDR_STATUS_PRESENT);
    teardown(&f);
}

TEST(feast_case_16_errors)
{
    fixture f;
    if (!setup(&f)) {
        teardown(&f);
        return;
    }
    const char *names[] = {"customer_id"};
    ldr_value cus[1] = {v_str("5")};
    const ldr_value *cols[1] = {cus};
    ldr_online_response r;
    ldr_err err;
    ldr_err_clear(&err);
    const char *f1[] = {"driver_locations:lon"};
    ldr_online_request req = {.features = f1,
                              .n_features = 1,
                              .entity_names = names,
                              .entity_values = cols,
                              .n_entity_cols = 1,
                              .n_rows = 1};
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_EINVAL);
    CHECK_EQ_STR(
        err.msg,
        "missing join key values for keys: [driver_id]; provided join keys: [customer_id]");
    const char *f2[] = {"driver_location:lon"};
    req.features = f2;
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_ENOTFOUND);
    CHECK_EQ_STR(
        err.msg,
        "feature view 'driver_location' does not exist (did you mean 'driver_locations'?)");
    const char *f3[] = {"customer_profile:nam"};
    req.features = f3;
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_ENOTFOUND);
    CHECK_EQ_STR(err.msg,
                 "feature view 'customer_profile' has no feature 'nam' (did you mean 'name'?)");
    /* a value that cannot be a driver id */
    const char *f4[] = {"driver_locations:lon"};
    const char *dn[] = {"driver_id"};
    ldr_value bad[1] = {v_str("abc")};
    const ldr_value *bcols[1] = {bad};
    ldr_online_request req2 = {.features = f4,
                               .n_features = 1,
                               .entity_names = dn,
                               .entity_values = bcols,
                               .n_entity_cols = 1,
                               .n_rows = 1};
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req2, NOW, &f.a, &r, &err) == LDR_EINVAL);
    CHECK(strstr(err.msg, "entity column 'driver_id', row 0") != NULL);
    teardown(&f);
}

TEST(service_aliases_join_key_map_and_full_names)
{
    fixture f;
    if (!setup(&f)) {
        teardown(&f);
        return;
    }
    const char *names[] = {"dest_id", "origin_id"};
    ldr_value dst[2] = {v_i64(2), v_i64(1)}, org[2] = {v_i64(1), v_i64(9)};
    const ldr_value *cols[2] = {dst, org};
    ldr_online_request req = {.feature_service = "svc",
                              .entity_names = names,
                              .entity_values = cols,
                              .n_entity_cols = 2,
                              .n_rows = 2};
    ldr_online_response r;
    ldr_err err;
    ldr_err_clear(&err);
    /* both projections name their feature "lon": a collision without full names */
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_EINVAL);
    CHECK(strstr(err.msg, "'lon' comes from both origin and dest") != NULL);
    req.full_feature_names = true;
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_OK);
    CHECK_EQ_I64(r.n_cols, 4);
    CHECK_EQ_STR(r.names[0], "dest_id"); /* request column order */
    CHECK_EQ_STR(r.names[1], "origin_id");
    CHECK_EQ_STR(r.names[2], "origin__lon");
    CHECK_EQ_STR(r.names[3], "dest__lon");
    CHECK(r.values[2][0].u.str.len == 3);               /* origin 1 -> "1.0" */
    CHECK_EQ_I64(r.status[2][1], LDR_STATUS_NOT_FOUND); /* origin 9 */
    CHECK(r.values[3][0].u.str.len == 1);               /* dest 2 -> "x" */
    CHECK(r.values[3][1].u.str.len == 3);               /* dest 1 */
    teardown(&f);
}

TEST(entityless_view_and_json_shape)
{
    fixture f;
    if (!setup(&f)) {
        teardown(&f);
        return;
    }
    const char *feats[] = {"global_stats:total", "driver_locations:lat"};
    const char *names[] = {"driver_id", "ignored"};
    ldr_value drv[3] = {v_i64(1), v_i64(1), v_i64(3)}, ign[3] = {v_i64(0), v_i64(0), v_i64(0)};
    const ldr_value *cols[2] = {drv, ign};
    ldr_online_request req = {.features = feats,
                              .n_features = 2,
                              .entity_names = names,
                              .entity_values = cols,
                              .n_entity_cols = 2,
                              .n_rows = 3};
    ldr_online_response r;
    ldr_err err;
    ldr_err_clear(&err);
    CHECK(ldr_serving_get_online(&f.defs, "p", f.os, &req, NOW, &f.a, &r, &err) == LDR_OK);
    ldr_buf out;
    ldr_buf_init(&out, 1 << 20);
    CHECK(ldr_serving_response_json(&r, &out, &err) == LDR_OK);
    CHECK_EQ_STR(out.ptr,
                 "{\"metadata\":{\"feature_names\":[\"driver_id\",\"total\",\"lat\"]},\"results\":["
                 "{\"values\":[1,1,3],\"statuses\":[\"PRESENT\",\"PRESENT\",\"PRESENT\"],"
                 "\"event_timestamps\":[\"1970-01-01T00:00:00Z\",\"1970-01-01T00:00:00Z\","
                 "\"1970-01-01T00:00:00Z\"]},"
                 "{\"values\":[42,42,42],\"statuses\":[\"PRESENT\",\"PRESENT\",\"PRESENT\"],"
                 "\"event_timestamps\":[\"2023-11-14T22:13:20Z\",\"2023-11-14T22:13:20Z\","
                 "\"2023-11-14T22:13:20Z\"]},"
                 "{\"values\":[0.1,0.1,null],\"statuses\":[\"PRESENT\",\"PRESENT\",\"NOT_FOUND\"],"
                 "\"event_timestamps\":[\"2023-11-14T22:13:15Z\",\"2023-11-14T22:13:15Z\","
                 "\"1970-01-01T00:00:00Z\"]}]}");
    ldr_buf_fini(&out);
    teardown(&f);
}

int main(void)
{
    RUN(feast_case_14_online_read_basics);
    RUN(feast_case_15_unknown_entity_and_null_value);
    RUN(feast_case_16_errors);
    RUN(service_aliases_join_key_map_and_full_names);
    RUN(entityless_view_and_json_shape);
    return harness_done();
}
