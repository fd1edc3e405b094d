/*
 * online.c -- the online store handle: picks a backend by type name and dispatches
 * through its ldr_online_ops table.
 *
 * Every argument check lives here, once, so backends see validated input and report the
 * same errors for the same mistakes (a row without an event timestamp, a view without a
 * name). Values are type-checked by the row codec when a backend encodes them. A handle
 * holds only the backend's state: it is used by one thread at a time.
 */
#include "online/online.h"

#include <string.h>

#include "online/online_int.h"

struct ldr_online_store {
    const ldr_online_ops *ops;
    void *self;
};

static const ldr_online_ops *const backends[] = {&ldr_online_memory_ops, &ldr_online_sqlite_ops,
                                                 &ldr_online_redis_ops};

void *ldr__online_store_self(ldr_online_store *os)
{
    return os->self;
}

const ldr_online_ops *ldr_online_lookup_ops(const char *type, ldr_err *err)
{
    for (size_t i = 0; type && i < LDR_ARRAY_LEN(backends); i++) {
        if (strcmp(backends[i]->type, type) == 0)
            return backends[i];
    }
    char q[LDR_QUOTE_BUFSZ];
    ldr_err_setf(err, LDR_EUNSUPPORTED,
                 "unknown online store type \"%s\" (known: memory, sqlite, redis)",
                 type ? ldr__quote(type, strlen(type), q) : "");
    return NULL;
}

ldr_online_store *ldr_online_open(const ldr_config *cfg, ldr_err *err)
{
    const ldr_online_ops *ops = ldr_online_lookup_ops(cfg->online_type, err);
    if (!ops)
        return NULL;
    void *self = NULL;
    if (ops->open(cfg, &self, err) != LDR_OK)
        return NULL;
    ldr_online_store *s = ldr_xcalloc(1, sizeof *s);
    s->ops = ops;
    s->self = self;
    return s;
}

void ldr_online_close(ldr_online_store *s)
{
    if (!s)
        return;
    s->ops->close(s->self);
    ldr_free(s);
}

const char *ldr_online_type(const ldr_online_store *s)
{
    return s->ops->type;
}

static ldr_code check_views(const ldr_online_view *views, size_t n, ldr_err *err)
{
    if (n && !views)
        return ldr_err_setf(err, LDR_EINVAL, "online store: %zu views but no array", n);
    for (size_t i = 0; i < n; i++) {
        const ldr_online_view *v = &views[i];
        if (!v->project || !v->project[0] || !v->name || !v->name[0])
            return ldr_err_setf(err, LDR_EINVAL, "online store: view %zu has no project or name",
                                i);
        if (v->n_features && !v->features)
            return ldr_err_setf(err, LDR_EINVAL, "online store: view %s has no feature array",
                                v->name);
    }
    return LDR_OK;
}

ldr_code ldr_online_update(ldr_online_store *s, const ldr_online_view *keep_or_add, size_t n_add,
                           const ldr_online_view *drop, size_t n_drop, ldr_err *err)
{
    ldr_code rc = check_views(keep_or_add, n_add, err);
    if (rc == LDR_OK)
        rc = check_views(drop, n_drop, err);
    return rc == LDR_OK ? s->ops->update(s->self, keep_or_add, n_add, drop, n_drop, err) : rc;
}

static ldr_code check_rows(const ldr_online_view *v, const ldr_online_row *rows, size_t n,
                           ldr_err *err)
{
    if (n && !rows)
        return ldr_err_setf(err, LDR_EINVAL, "online write to %s: %zu rows but no array", v->name,
                            n);
    for (size_t i = 0; i < n; i++) {
        const ldr_online_row *r = &rows[i];
        if (r->event_ts == LDR_TS_NONE)
            return ldr_err_setf(err, LDR_EINVAL,
                                "online write to %s: row %zu has no event timestamp", v->name, i);
        if (!r->key.ptr || r->key.len == 0)
            return ldr_err_setf(err, LDR_EINVAL, "online write to %s: row %zu has no entity key",
                                v->name, i);
        if (v->n_features && !r->values)
            return ldr_err_setf(err, LDR_EINVAL, "online write to %s: row %zu has no values",
                                v->name, i);
    }
    return LDR_OK;
}

ldr_code ldr_online_write(ldr_online_store *s, const ldr_online_view *v, const ldr_online_row *rows,
                          size_t n, size_t *n_written, ldr_err *err)
{
    size_t written = 0;
    ldr_code rc = check_views(v, 1, err);
    if (rc == LDR_OK)
        rc = check_rows(v, rows, n, err);
    if (rc == LDR_OK && n)
        rc = s->ops->write(s->self, v, rows, n, &written, err);
    if (n_written)
        *n_written = rc == LDR_OK ? written : 0;
    return rc;
}

static ldr_code check_read(const ldr_online_view *v, const char *const *features,
                           const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                           size_t n_keys, const ldr_online_hit *out, ldr_err *err)
{
    ldr_code rc = check_views(v, 1, err);
    if (rc != LDR_OK)
        return rc;
    if ((n_features && (!features || !types)) || (n_keys && (!keys || !out)))
        return ldr_err_setf(err, LDR_EINVAL, "online read of %s: missing feature or key array",
                            v->name);
    for (size_t i = 0; i < n_features; i++) {
        if (!features[i] || !ldr_type_valid(types[i]))
            return ldr_err_setf(err, LDR_EINVAL,
                                "online read of %s: requested feature %zu has no name or type",
                                v->name, i);
    }
    for (size_t i = 0; i < n_keys; i++) {
        if (!keys[i].ptr && keys[i].len)
            return ldr_err_setf(err, LDR_EINVAL, "online read of %s: key %zu has no bytes", v->name,
                                i);
    }
    return LDR_OK;
}

ldr_code ldr_online_read(ldr_online_store *s, const ldr_online_view *v, const char *const *features,
                         const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                         size_t n_keys, ldr_arena *a, ldr_online_hit *out, ldr_err *err)
{
    ldr_code rc = check_read(v, features, types, n_features, keys, n_keys, out, err);
    if (rc != LDR_OK)
        return rc;
    return s->ops->read(s->self, v, features, types, n_features, keys, n_keys, a, out, err);
}

ldr_code ldr_online_read_many(ldr_online_store *s, const ldr_online_read_req *reqs, size_t n,
                              ldr_arena *a, ldr_err *err)
{
    if (n && !reqs)
        return ldr_err_setf(err, LDR_EINVAL, "online read: %zu requests but no array", n);
    for (size_t i = 0; i < n; i++) {
        const ldr_online_read_req *q = &reqs[i];
        if (!q->view)
            return ldr_err_setf(err, LDR_EINVAL, "online read: request %zu has no view", i);
        ldr_code rc = check_read(q->view, q->features, q->types, q->n_features, q->keys, q->n_keys,
                                 q->out, err);
        if (rc != LDR_OK)
            return rc;
    }
    if (s->ops->read_many)
        return n ? s->ops->read_many(s->self, reqs, n, a, err) : LDR_OK;
    for (size_t i = 0; i < n; i++) {
        const ldr_online_read_req *q = &reqs[i];
        ldr_code rc = s->ops->read(s->self, q->view, q->features, q->types, q->n_features, q->keys,
                                   q->n_keys, a, q->out, err);
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}

bool ldr_online_key_ordered_writes(const ldr_online_store *s)
{
    return s->ops->key_ordered_writes;
}

unsigned ldr_online_parallel_writers(const ldr_online_store *s)
{
    return s->ops->parallel_writers ? s->ops->parallel_writers : 1;
}

bool ldr_online_has_tables(const ldr_online_store *s)
{
    return s->ops->has_tables;
}

ldr_code ldr_online_teardown(ldr_online_store *s, const ldr_online_view *views, size_t n,
                             ldr_err *err)
{
    ldr_code rc = check_views(views, n, err);
    return rc == LDR_OK ? s->ops->teardown(s->self, views, n, err) : rc;
}

ldr_code ldr_online_integrity_check(ldr_online_store *s, ldr_err *err)
{
    return s->ops->integrity_check ? s->ops->integrity_check(s->self, err) : LDR_OK;
}

/* ---- Read results ---------------------------------------------------------------------- */

static void hit_alloc(const ldr_online_row_proj *p, ldr_arena *a, ldr_online_hit *out)
{
    out->values = ldr_arena_calloc(a, p->n, sizeof *out->values);
    out->present = ldr_arena_calloc(a, p->n, sizeof *out->present);
}

void ldr__online_hit_miss(const ldr_online_row_proj *p, ldr_arena *a, ldr_online_hit *out)
{
    hit_alloc(p, a, out);
    out->found = false;
    out->event_ts = LDR_TS_NONE;
    out->created_ts = LDR_TS_NONE;
    for (size_t i = 0; i < p->n; i++)
        out->values[i] = ldr_value_null(p->types[i]);
}

ldr_code ldr__online_hit_decode(const ldr_online_row_proj *p, const ldr_online_view *v,
                                const void *row, size_t len, ldr_ts event_ts, ldr_ts created_ts,
                                ldr_arena *a, ldr_online_hit *out, ldr_err *err)
{
    hit_alloc(p, a, out);
    out->found = true;
    out->event_ts = event_ts;
    out->created_ts = created_ts;
    ldr_code rc = ldr_online_row_decode(p, row, len, a, out->values, out->present, err);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "view %s.%s: ", v->project, v->name);
    return rc;
}
