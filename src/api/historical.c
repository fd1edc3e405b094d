/*
 * historical.c -- the public face of historical retrieval: ldr_store_get_historical_features
 * and the ldr_table result type (a record batch behind accessors, so the columnar layout
 * stays internal and free to change).
 */
#include "api/api.h"

#include "offline/offline.h"

struct ldr_table {
    ldr_batch *batch;
};

ldr_hist_opts ldr_hist_opts_default(void)
{
    ldr_hist_opts o = {0};
    o.start_date = LDR_TS_NONE;
    o.end_date = LDR_TS_NONE;
    return o;
}

ldr_code ldr_store_get_historical_features(ldr_store *st, const ldr_hist_opts *opts,
                                           ldr_table **out, ldr_err *err)
{
    *out = NULL;
    if (!opts->entities_path && (opts->start_date == LDR_TS_NONE || opts->end_date == LDR_TS_NONE))
        return ldr_err_setf(err, LDR_EINVAL,
                            "give an entity file, or both a start and an end date");
    if (opts->entities_path && (opts->start_date != LDR_TS_NONE || opts->end_date != LDR_TS_NONE))
        return ldr_err_setf(err, LDR_EINVAL,
                            "an entity file and start/end dates are mutually exclusive");
    if ((opts->n_features > 0) == (opts->feature_service != NULL))
        return ldr_err_setf(err, LDR_EINVAL, "give either features or a feature service");
    ldr_snapshot *snap = ldr_store_snapshot(st);
    ldr_hist_request req = {
        .entities_path = opts->entities_path,
        .features = opts->features,
        .n_features = opts->n_features,
        .feature_service = opts->feature_service,
        .full_feature_names = opts->full_feature_names,
        .filter_by_created = opts->filter_by_created_timestamp,
        .start = opts->start_date,
        .end = opts->end_date,
        .threads = opts->threads,
        .memory_limit = opts->memory_limit,
        .spill_dir = opts->spill_dir,
    };
    ldr_batch *b = NULL;
    ldr_code rc =
        ldr_offline_historical(ldr__store_config(st), ldr__snapshot_defs(snap), &req, &b, err);
    ldr_snapshot_unref(snap);
    if (rc != LDR_OK)
        return rc;
    ldr_table *t = ldr_xcalloc(1, sizeof *t);
    t->batch = b;
    *out = t;
    return LDR_OK;
}

size_t ldr_table_num_rows(const ldr_table *t)
{
    return t->batch->n_rows;
}

size_t ldr_table_num_columns(const ldr_table *t)
{
    return t->batch->n_cols;
}

const char *ldr_table_column_name(const ldr_table *t, size_t col)
{
    return col < t->batch->n_cols ? t->batch->names[col] : NULL;
}

ldr_type ldr_table_column_type(const ldr_table *t, size_t col)
{
    return col < t->batch->n_cols ? t->batch->cols[col]->type : LDR_TYPE_INVALID;
}

bool ldr_table_is_null(const ldr_table *t, size_t col, size_t row)
{
    LDR_ASSERT(col < t->batch->n_cols && row < t->batch->n_rows);
    return !ldr_col_valid(t->batch->cols[col], row);
}

int64_t ldr_table_get_int(const ldr_table *t, size_t col, size_t row)
{
    LDR_ASSERT(col < t->batch->n_cols && row < t->batch->n_rows);
    const ldr_col *c = t->batch->cols[col];
    if (!ldr_col_valid(c, row))
        return 0;
    switch (c->type) {
    case LDR_TYPE_INT32:
        return ldr_col_i32(c, row);
    case LDR_TYPE_BOOL:
        return ldr_col_bool(c, row);
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        return ldr_col_i64(c, row);
    default:
        LDR_ASSERT(!"ldr_table_get_int on a non-integer column");
        return 0;
    }
}

double ldr_table_get_double(const ldr_table *t, size_t col, size_t row)
{
    LDR_ASSERT(col < t->batch->n_cols && row < t->batch->n_rows);
    const ldr_col *c = t->batch->cols[col];
    if (!ldr_col_valid(c, row))
        return 0;
    LDR_ASSERT(c->type == LDR_TYPE_FLOAT32 || c->type == LDR_TYPE_FLOAT64);
    return c->type == LDR_TYPE_FLOAT32 ? (double)ldr_col_f32(c, row) : ldr_col_f64(c, row);
}

const char *ldr_table_get_bytes(const ldr_table *t, size_t col, size_t row, size_t *out_len)
{
    LDR_ASSERT(col < t->batch->n_cols && row < t->batch->n_rows);
    const ldr_col *c = t->batch->cols[col];
    LDR_ASSERT(c->type == LDR_TYPE_STRING || c->type == LDR_TYPE_BYTES);
    return ldr_col_str(c, row, out_len);
}

ldr_code ldr_table_write(const ldr_table *t, const char *path, ldr_err *err)
{
    return ldr_offline_write(t->batch, path, err);
}

void ldr_table_free(ldr_table *t)
{
    if (!t)
        return;
    ldr_batch_free(t->batch);
    ldr_free(t);
}
