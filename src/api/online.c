/*
 * online.c -- the public face of the online store: ldr_store_materialize and
 * ldr_store_get_online_features with the ldr_online_result accessors (serving.h has the
 * logic; the result is a response in its own arena behind accessors).
 */
#include "api/api.h"

#include <string.h>

#include "serving/serving.h"

ldr_materialize_opts ldr_materialize_opts_default(void)
{
    ldr_materialize_opts o = {0};
    o.start = LDR_TS_NONE;
    o.end = LDR_TS_NONE;
    return o;
}

/* The registry, or an error when nothing was ever applied. */
static ldr_registry *applied_registry(ldr_store *st, ldr_err *err)
{
    ldr_registry *reg = ldr__store_registry(st);
    if (!reg)
        ldr_err_setf(err, LDR_ENOTFOUND, "nothing has been applied yet: run `larder apply` first");
    return reg;
}

ldr_code ldr_store_materialize(ldr_store *st, const ldr_materialize_opts *opts, ldr_err *err)
{
    if (opts->end == LDR_TS_NONE)
        return ldr_err_setf(err, LDR_EINVAL, "materialize needs an end time");
    if (!opts->incremental && opts->start == LDR_TS_NONE)
        return ldr_err_setf(err, LDR_EINVAL, "materialize needs a start time (or incremental)");
    ldr_registry *reg = applied_registry(st, err);
    if (!reg)
        return LDR_ENOTFOUND;
    ldr_snapshot *snap = ldr_store_snapshot(st);
    ldr_mat_request req = {
        .start = opts->start,
        .end = opts->end,
        .incremental = opts->incremental,
        .views = opts->views,
        .n_views = opts->n_views,
        .threads = opts->threads,
    };
    ldr_code rc =
        ldr_serving_materialize(ldr__store_config(st), ldr__snapshot_defs(snap), reg, &req, err);
    ldr_snapshot_unref(snap);
    return rc;
}

struct ldr_online_result {
    ldr_arena arena;
    ldr_online_response resp;
    ldr_buf json;
};

ldr_code ldr_store_get_online_features(ldr_store *st, const ldr_online_opts *opts,
                                       ldr_online_result **out, ldr_err *err)
{
    *out = NULL;
    const ldr_config *cfg = ldr__store_config(st);
    ldr_online_result *r = ldr_xcalloc(1, sizeof *r);
    ldr_arena_init(&r->arena, 0);
    ldr_buf_init(&r->json, (size_t)1 << 30);
    /* Text values become String values; serving coerces them to each entity's type. */
    size_t nk = opts->n_entity_keys, n = opts->n_rows;
    const ldr_value **cols = ldr_arena_calloc(&r->arena, nk + 1, sizeof *cols);
    for (size_t k = 0; k < nk; k++) {
        ldr_value *c = ldr_arena_calloc(&r->arena, n + 1, sizeof *c);
        for (size_t i = 0; i < n; i++) {
            const char *s = opts->entity_values[i * nk + k];
            c[i] = ldr_value_null(LDR_TYPE_STRING);
            if (s) {
                c[i].is_null = false;
                c[i].u.str.ptr = s;
                c[i].u.str.len = strlen(s);
            }
        }
        cols[k] = c;
    }
    ldr_online_request req = {
        .features = opts->features,
        .n_features = opts->n_features,
        .feature_service = opts->feature_service,
        .full_feature_names = opts->full_feature_names,
        .entity_names = opts->entity_keys,
        .entity_values = cols,
        .n_entity_cols = nk,
        .n_rows = n,
    };
    ldr_snapshot *snap = ldr_store_snapshot(st);
    ldr_code rc;
    ldr_online_store *os = ldr_online_open(cfg, err);
    if (!os)
        rc = err ? err->code : LDR_EIO;
    else
        rc = ldr_serving_get_online(ldr__snapshot_defs(snap), cfg->project, os, &req, ldr_ts_now(),
                                    &r->arena, &r->resp, err);
    ldr_online_close(os);
    ldr_snapshot_unref(snap);
    if (rc != LDR_OK) {
        ldr_online_result_free(r);
        return rc;
    }
    *out = r;
    return LDR_OK;
}

size_t ldr_online_result_num_rows(const ldr_online_result *r)
{
    return r->resp.n_rows;
}

size_t ldr_online_result_num_columns(const ldr_online_result *r)
{
    return r->resp.n_cols;
}

const char *ldr_online_result_column_name(const ldr_online_result *r, size_t col)
{
    return col < r->resp.n_cols ? r->resp.names[col] : NULL;
}

static const ldr_value *cell(const ldr_online_result *r, size_t col, size_t row)
{
    LDR_ASSERT(col < r->resp.n_cols && row < r->resp.n_rows);
    return &r->resp.values[col][row];
}

ldr_feature_status ldr_online_result_status(const ldr_online_result *r, size_t col, size_t row)
{
    (void)cell(r, col, row);
    return (ldr_feature_status)r->resp.status[col][row];
}

ldr_ts ldr_online_result_event_time(const ldr_online_result *r, size_t col, size_t row)
{
    (void)cell(r, col, row);
    return r->resp.event_ts[col][row];
}

ldr_type ldr_online_result_type(const ldr_online_result *r, size_t col, size_t row)
{
    return cell(r, col, row)->type;
}

bool ldr_online_result_is_null(const ldr_online_result *r, size_t col, size_t row)
{
    return cell(r, col, row)->is_null;
}

int64_t ldr_online_result_get_int(const ldr_online_result *r, size_t col, size_t row)
{
    const ldr_value *v = cell(r, col, row);
    switch (v->type) {
    case LDR_TYPE_INT32:
        return v->u.i32;
    case LDR_TYPE_BOOL:
        return v->u.b;
    case LDR_TYPE_UNIX_TIMESTAMP:
        return v->u.ts;
    default:
        return v->u.i64;
    }
}

double ldr_online_result_get_double(const ldr_online_result *r, size_t col, size_t row)
{
    const ldr_value *v = cell(r, col, row);
    return v->type == LDR_TYPE_FLOAT32 ? (double)v->u.f32 : v->u.f64;
}

const char *ldr_online_result_get_bytes(const ldr_online_result *r, size_t col, size_t row,
                                        size_t *out_len)
{
    const ldr_value *v = cell(r, col, row);
    *out_len = v->u.str.len;
    return v->u.str.ptr;
}

ldr_code ldr_online_result_json(ldr_online_result *r, const char **out_json, ldr_err *err)
{
    ldr_buf_reset(&r->json);
    ldr_code rc = ldr_serving_response_json(&r->resp, &r->json, err);
    *out_json = rc == LDR_OK ? (r->json.ptr ? r->json.ptr : "") : NULL;
    return rc;
}

void ldr_online_result_free(ldr_online_result *r)
{
    if (!r)
        return;
    ldr_arena_fini(&r->arena);
    ldr_buf_fini(&r->json);
    ldr_free(r);
}
