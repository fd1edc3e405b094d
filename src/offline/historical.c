/*
 * historical.c -- get-historical-features: point-in-time correct training data.
 *
 * Steps: resolve the request into projections (a view, the prefix of its output names,
 * its join_key_map) and output columns in request order, rejecting unknown names and
 * output-name collisions before reading any data; read the entity file, coercing each
 * join-key column to its entity's declared type (so "5" in a file matches a String key
 * and "0012" stays "0012"); find the entity timestamp (event_timestamp, or the only
 * timestamp column); then per view read the source once (only the needed columns, row
 * groups pruned to [min T - ttl, max T]) and per projection run the join (src/join) and
 * gather the winning rows' features. Entity rows keep their order and duplicates.
 *
 * The gather's steps over every entity row or source row (marking the winning rows,
 * numbering them, taking fixed-width feature values) run on req->threads threads too.
 *
 * Non-entity mode (no entity file) builds the entity rows itself: every distinct
 * (join keys, event timestamp) of the requested views' source rows within [start, end],
 * in time order -- SQL offline stores' semantics -- then joins as usual.
 */
#include "offline/offline.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "join/join.h"

/* Join keys plus two timestamps: more keys than this never spill. */
#define LDR_SPILL_MAX_COLS 32

typedef ldr_fplan plan;
typedef ldr_fplan_proj proj;

/* The entity-file column a view's join key is read from. */
static const char *request_col(const proj *pr, const char *join_key)
{
    return ldr_fplan_request_col(pr, join_key);
}

static ldr_type key_type(const ldr_defs *defs, const ldr_view *v, const ldr_entity *e)
{
    (void)defs;
    return ldr_view_key_type(v, e);
}

/* The file source a view reads (a push source's batch source). */
static const ldr_source *view_source(const ldr_defs *defs, const ldr_view *v, ldr_err *err)
{
    const ldr_source *s = ldr_view_file_source(defs, v, err);
    if (!s)
        ldr_err_prefix(err, "feature view '%s': ", v->name);
    return s;
}

/* Finds the entity timestamp column: event_timestamp, or the only timestamp column. */
static ldr_code entity_ts_col(const ldr_batch *e, const char *path, int *out, ldr_err *err)
{
    int k = ldr_batch_find(e, "event_timestamp");
    if (k >= 0) {
        if (e->cols[k]->type != LDR_TYPE_UNIX_TIMESTAMP)
            return ldr_err_setf(err, LDR_EINVAL,
                                "%s: column event_timestamp holds %s values, not timestamps", path,
                                ldr_type_name(e->cols[k]->type));
        *out = k;
        return LDR_OK;
    }
    int found = -1;
    size_t count = 0;
    for (size_t i = 0; i < e->n_cols; i++) {
        if (e->cols[i]->type == LDR_TYPE_UNIX_TIMESTAMP) {
            found = (int)i;
            count++;
        }
    }
    if (count != 1)
        return ldr_err_setf(err, LDR_EINVAL,
                            "%s: no event_timestamp column, and %zu timestamp columns to choose "
                            "from; name the entity timestamp column event_timestamp",
                            path, count);
    *out = found;
    return LDR_OK;
}

/* One view's source, scanned twice: keys and timestamps for the joins (batch), then the
 * feature values of the winning rows only (gather_view). */
typedef struct view_data {
    const ldr_view *view;
    ldr_offline_scan *scan;
    size_t *chunk_rows; /* rows of each chunk in batch */
    ldr_batch *batch;   /* join keys, __ts, __created; NULL when spilled */
    ldr_spill *spill;   /* the same rows partitioned on disk, under a memory limit */
} view_data;

static void view_data_fini(view_data *vd)
{
    ldr_offline_scan_close(vd->scan);
    ldr_free(vd->chunk_rows);
    ldr_batch_free(vd->batch);
    ldr_spill_free(vd->spill);
}

/* Bytes a column holds (capacity, so what the allocator really gave). */
static size_t col_bytes(const ldr_col *c)
{
    size_t n = c->cap;
    size_t b = c->valid ? n / 8 + 1 : 0;
    if (c->dict)
        b += n * sizeof(int32_t) + col_bytes(c->dict);
    else if (c->offsets)
        b += (n + 1) * sizeof(int64_t) + c->bytes_cap;
    else
        b += n * ldr_type_width(c->type);
    if (c->child)
        b += col_bytes(c->child);
    return b;
}

static size_t batch_bytes(const ldr_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_cols; i++)
        n += col_bytes(b->cols[i]);
    return n;
}

/* Pass 1 under a memory budget: chunks are read one at a time, in source order; once the
 * keys and timestamps read so far pass the budget, they and every later chunk go to
 * hash-partitioned spill files instead (spill.c), which the join then takes one
 * partition at a time. The number of partitions is estimated from the bytes per chunk so
 * far, so that a partition fits in about half the budget. */
static ldr_code load_view_bounded(view_data *vd, const char *const *cols, const ldr_type *types,
                                  size_t nk, size_t budget, const char *spill_dir, ldr_err *err)
{
    size_t n_chunks = ldr_offline_scan_chunks(vd->scan);
    ldr_batch *acc = NULL;
    int64_t base = 0;
    ldr_code rc = LDR_OK;
    for (size_t c = 0; c < n_chunks && rc == LDR_OK; c++) {
        ldr_batch *b = NULL;
        rc = ldr_offline_scan_read(vd->scan, c, cols, types, nk, true, &b, err);
        if (rc != LDR_OK)
            break;
        vd->chunk_rows[c] = b->n_rows;
        int64_t chunk_base = base;
        base += (int64_t)b->n_rows;
        if (vd->spill) {
            rc = ldr_spill_add(vd->spill, b, chunk_base, err);
            ldr_batch_free(b);
            continue;
        }
        if (!acc) {
            acc = b;
        } else {
            rc = ldr_batch_append(acc, b, err);
            ldr_batch_free(b);
        }
        size_t bytes = rc == LDR_OK ? batch_bytes(acc) : 0;
        if (rc != LDR_OK || bytes <= budget || acc->n_rows == 0)
            continue;
        double est = (double)bytes * (double)n_chunks / (double)(c + 1);
        double want = est / ((double)budget / 2.0) + 1.0;
        double est_rows = (double)acc->n_rows * (double)n_chunks / (double)(c + 1);
        if (want > est_rows / 8.0) /* no point in partitions of a handful of rows */
            want = est_rows / 8.0;
        unsigned parts = want > 256.0 ? 256u : want < 2.0 ? 2u : (unsigned)want;
        size_t row_bytes = bytes / acc->n_rows + 1;
        size_t buffer_rows = budget / 4 / parts / row_bytes;
        if (buffer_rows < 1024)
            buffer_rows = 1024;
        /* Spill columns: the join keys first (what partitions), then the timestamps. */
        const char *names[LDR_SPILL_MAX_COLS];
        ldr_type stypes[LDR_SPILL_MAX_COLS];
        size_t ns = 0;
        for (size_t k = 0; k < nk; k++) {
            names[ns] = cols[k];
            stypes[ns++] = types[k];
        }
        names[ns] = LDR_OFFLINE_TS_COL;
        stypes[ns++] = LDR_TYPE_UNIX_TIMESTAMP;
        if (ldr_batch_find(acc, LDR_OFFLINE_CREATED_COL) >= 0) {
            names[ns] = LDR_OFFLINE_CREATED_COL;
            stypes[ns++] = LDR_TYPE_UNIX_TIMESTAMP;
        }
        vd->spill = ldr_spill_open(spill_dir, names, stypes, ns, nk, parts, buffer_rows, err);
        if (!vd->spill) {
            rc = err ? err->code : LDR_EIO;
            break;
        }
        ldr_log(LDR_LOG_INFO,
                "historical: feature view '%s': join keys pass the memory budget (%zu bytes) "
                "after %zu of %zu chunks; spilling to %u partitions",
                vd->view->name, budget, c + 1, n_chunks, parts);
        rc = ldr_spill_add(vd->spill, acc, 0, err);
        ldr_batch_free(acc);
        acc = NULL;
    }
    if (rc == LDR_OK && vd->spill) {
        rc = ldr_spill_finish(vd->spill, err);
        ldr_log(LDR_LOG_INFO, "historical: feature view '%s': %zu rows spilled", vd->view->name,
                ldr_spill_rows(vd->spill, UINT_MAX));
    }
    if (rc != LDR_OK) {
        ldr_batch_free(acc);
        return rc;
    }
    if (!vd->spill)
        vd->batch = acc;
    return LDR_OK;
}

/* Pass 1: the view's join keys and timestamps, row groups pruned to [lo - ttl, hi]. */
static ldr_code load_view(const ldr_config *cfg, const ldr_defs *defs, const ldr_view *v, ldr_ts lo,
                          ldr_ts hi, int threads, size_t budget, const char *spill_dir,
                          view_data *vd, ldr_err *err)
{
    vd->view = v;
    const ldr_source *src = view_source(defs, v, err);
    if (!src)
        return LDR_ENOTFOUND;
    ldr_ts from = lo;
    if (lo != LDR_TS_NONE && v->ttl > 0)
        from = lo - v->ttl;
    else if (v->ttl == 0)
        from = LDR_TS_NONE;
    vd->scan = ldr_offline_scan_open(cfg, src, from, hi, err);
    if (!vd->scan) {
        ldr_err_prefix(err, "feature view '%s': ", v->name);
        return err ? err->code : LDR_EIO;
    }
    const char **cols = ldr_xcalloc(v->n_entities + 1, sizeof *cols);
    ldr_type *types = ldr_xcalloc(v->n_entities + 1, sizeof *types);
    for (size_t i = 0; i < v->n_entities; i++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[i]);
        cols[i] = e->join_key;
        types[i] = key_type(defs, v, e);
    }
    size_t n_chunks = ldr_offline_scan_chunks(vd->scan);
    vd->chunk_rows = ldr_xcalloc(n_chunks ? n_chunks : 1, sizeof *vd->chunk_rows);
    ldr_code rc;
    if (budget > 0 && v->n_entities > 0 && n_chunks > 0 && v->n_entities + 2 <= LDR_SPILL_MAX_COLS)
        rc = load_view_bounded(vd, cols, types, v->n_entities, budget, spill_dir, err);
    else
        rc = ldr_offline_scan_read_all(vd->scan, cols, types, v->n_entities, threads, &vd->batch,
                                       vd->chunk_rows, err);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "feature view '%s': ", v->name);
    ldr_free(cols);
    ldr_free(types);
    return rc;
}

/* The spilled join: the entity rows are split with the same partitioner as the source
 * rows, and each partition joins against its spill file; answers are mapped back from
 * positions in the partition to source positions, and scattered to the entity rows. */
static ldr_code join_spilled(const ldr_pit_input *tmpl, const char *const *key_names, ldr_spill *sp,
                             int threads, int64_t *rows, ldr_err *err)
{
    size_t n = tmpl->n_entity_rows, nk = tmpl->n_keys;
    unsigned parts = ldr_spill_parts(sp);
    uint32_t *part = ldr_xmalloc((n ? n : 1) * sizeof *part);
    size_t *start = ldr_xcalloc((size_t)parts + 1, sizeof *start);
    for (size_t r = 0; r < n; r++) {
        part[r] = ldr_pit_partition_of(tmpl->entity_keys, nk, r, parts);
        start[part[r] + 1]++;
    }
    for (unsigned q = 0; q < parts; q++)
        start[q + 1] += start[q];
    int64_t *order = ldr_xmalloc((n ? n : 1) * sizeof *order);
    size_t *fill = ldr_xmalloc((size_t)parts * sizeof *fill);
    memcpy(fill, start, (size_t)parts * sizeof *fill);
    for (size_t r = 0; r < n; r++)
        order[fill[part[r]]++] = (int64_t)r;
    ldr_free(fill);
    ldr_free(part);
    const ldr_col **ek = ldr_xcalloc(nk + 1, sizeof *ek);
    const ldr_col **fk = ldr_xcalloc(nk + 1, sizeof *fk);
    ldr_col **owned = ldr_xcalloc(nk + 1, sizeof *owned);
    ldr_code rc = LDR_OK;
    for (unsigned q = 0; q < parts && rc == LDR_OK; q++) {
        size_t m = start[q + 1] - start[q];
        const int64_t *idx = order + start[q];
        if (m == 0)
            continue;
        if (ldr_spill_rows(sp, q) == 0) {
            for (size_t j = 0; j < m; j++)
                rows[idx[j]] = -1;
            continue;
        }
        ldr_batch *fb = NULL;
        rc = ldr_spill_read(sp, q, threads, &fb, err);
        if (rc != LDR_OK)
            break;
        for (size_t k = 0; k < nk; k++) {
            owned[k] = ldr_col_take(tmpl->entity_keys[k], idx, m);
            ek[k] = owned[k];
            fk[k] = fb->cols[ldr_batch_find(fb, key_names[k])];
        }
        ldr_col *ets = ldr_col_take(tmpl->entity_ts, idx, m);
        int cr = ldr_batch_find(fb, LDR_OFFLINE_CREATED_COL);
        const ldr_col *pos = fb->cols[ldr_batch_find(fb, LDR_SPILL_ROW_COL)];
        ldr_pit_input in = *tmpl;
        in.entity_keys = ek;
        in.entity_ts = ets;
        in.n_entity_rows = m;
        in.feature_keys = fk;
        in.feature_ts = fb->cols[ldr_batch_find(fb, LDR_OFFLINE_TS_COL)];
        in.created_ts = cr >= 0 ? fb->cols[cr] : NULL;
        in.n_feature_rows = fb->n_rows;
        int64_t *local = ldr_xmalloc(m * sizeof *local);
        rc = ldr_pit_join(&in, threads, local, err);
        for (size_t j = 0; rc == LDR_OK && j < m; j++)
            rows[idx[j]] = local[j] < 0 ? -1 : ldr_col_i64(pos, (size_t)local[j]);
        ldr_free(local);
        ldr_col_free(ets);
        for (size_t k = 0; k < nk; k++) {
            ldr_col_free(owned[k]);
            owned[k] = NULL;
        }
        ldr_batch_free(fb);
    }
    ldr_free(owned);
    ldr_free(ek);
    ldr_free(fk);
    ldr_free(order);
    ldr_free(start);
    return rc;
}

/* Runs one projection's join: rows[i] = the winning source row of entity row i, or -1. */
static ldr_code join_projection(const ldr_defs *defs, const plan *p, size_t pi,
                                const ldr_batch *ent, const char *ent_path, const ldr_col *ent_ts,
                                const view_data *vd, bool filter_created, int threads,
                                int64_t *rows, ldr_err *err)
{
    const proj *pr = &p->projs[pi];
    const ldr_view *v = pr->view;
    const ldr_batch *src = vd->batch;
    size_t nk = v->n_entities;
    const ldr_col **ekeys = ldr_xcalloc(nk ? nk : 1, sizeof *ekeys);
    const ldr_col **fkeys = ldr_xcalloc(nk ? nk : 1, sizeof *fkeys);
    const char **key_names = ldr_xcalloc(nk ? nk : 1, sizeof *key_names);
    ldr_col **owned = ldr_xcalloc(nk ? nk : 1, sizeof *owned);
    ldr_code rc = LDR_OK;
    for (size_t k = 0; k < nk && rc == LDR_OK; k++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
        const char *rcol = request_col(pr, e->join_key);
        int ci = ldr_batch_find(ent, rcol);
        if (ci < 0) {
            rc = ldr_err_setf(err, LDR_EINVAL,
                              "%s: the entity file has no column '%s', the join key of feature "
                              "view '%s'",
                              ent_path, rcol, v->name);
            break;
        }
        key_names[k] = e->join_key;
        ldr_type want = key_type(defs, v, e);
        if (src) {
            int fi = ldr_batch_find(src, e->join_key);
            LDR_ASSERT(fi >= 0);
            fkeys[k] = src->cols[fi];
            LDR_ASSERT(fkeys[k]->type == want);
        }
        if (ent->cols[ci]->type == want) {
            ekeys[k] = ent->cols[ci];
        } else {
            char what[512];
            snprintf(what, sizeof what, "%s: column %s", ent_path, rcol);
            owned[k] = ldr_offline_cast(ent->cols[ci], want, what, err);
            if (!owned[k])
                rc = err ? err->code : LDR_EINVAL;
            ekeys[k] = owned[k];
        }
    }
    ldr_pit_input in = {
        .entity_keys = ekeys,
        .entity_ts = ent_ts,
        .n_entity_rows = ent->n_rows,
        .n_keys = nk,
        .ttl = v->ttl,
        .filter_by_created = filter_created,
    };
    if (rc == LDR_OK && vd->spill) {
        rc = join_spilled(&in, key_names, vd->spill, threads, rows, err);
    } else if (rc == LDR_OK) {
        int ts = ldr_batch_find(src, LDR_OFFLINE_TS_COL);
        int cr = ldr_batch_find(src, LDR_OFFLINE_CREATED_COL);
        in.feature_keys = fkeys;
        in.feature_ts = src->cols[ts];
        in.created_ts = cr >= 0 ? src->cols[cr] : NULL;
        in.n_feature_rows = src->n_rows;
        rc = ldr_pit_join(&in, threads, rows, err);
    }
    for (size_t k = 0; k < nk; k++)
        ldr_col_free(owned[k]);
    ldr_free(owned);
    ldr_free(ekeys);
    ldr_free(fkeys);
    ldr_free(key_names);
    return rc;
}

/* Pass 2 state for one view: the sorted distinct winning rows, and per chunk the values
 * of its winning rows' features. */
typedef struct gather {
    view_data *vd;
    const char **cols; /* feature names */
    ldr_type *types;
    size_t n_cols;
    const int64_t *need; /* sorted distinct source rows */
    size_t n_need;
    size_t *chunk_base; /* first source row of each chunk */
    size_t *need_begin; /* need[] index range of each chunk */
    ldr_batch **parts;  /* per chunk: feature values of its needed rows, in need order */
} gather;

static ldr_code gather_chunk(void *ctx, size_t chunk, ldr_err *err)
{
    gather *g = ctx;
    size_t b = g->need_begin[chunk], e = g->need_begin[chunk + 1];
    if (b == e)
        return LDR_OK;
    ldr_batch *full = NULL;
    ldr_code rc =
        ldr_offline_scan_read(g->vd->scan, chunk, g->cols, g->types, g->n_cols, false, &full, err);
    if (rc != LDR_OK)
        return rc;
    if (full->n_rows != g->vd->chunk_rows[chunk]) {
        ldr_batch_free(full);
        return ldr_err_setf(err, LDR_EIO,
                            "feature view '%s': a source file changed while it was "
                            "being read",
                            g->vd->view->name);
    }
    int64_t *local = ldr_xcalloc(e - b, sizeof *local);
    for (size_t i = b; i < e; i++)
        local[i - b] = g->need[i] - (int64_t)g->chunk_base[chunk];
    ldr_batch *part = ldr_batch_new();
    for (size_t c = 0; c < full->n_cols; c++)
        ldr_batch_add(part, full->names[c], ldr_col_take(full->cols[c], local, e - b));
    ldr_free(local);
    ldr_batch_free(full);
    g->parts[chunk] = part;
    return LDR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct winning source rows of a view's projections, sorted; *n_out of them. */
static int64_t *sorted_winners(const plan *p, const ldr_view *v, int64_t *const *proj_rows,
                               size_t n_ent, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_projs; i++)
        if (p->projs[i].view == v)
            for (size_t r = 0; r < n_ent; r++)
                n += proj_rows[i][r] >= 0;
    int64_t *w = ldr_xcalloc(n + 1, sizeof *w);
    n = 0;
    for (size_t i = 0; i < p->n_projs; i++)
        if (p->projs[i].view == v)
            for (size_t r = 0; r < n_ent; r++)
                if (proj_rows[i][r] >= 0)
                    w[n++] = proj_rows[i][r];
    qsort(w, n, sizeof *w, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || w[u - 1] != w[i])
            w[u++] = w[i];
    *n_out = u;
    return w;
}

/* Index of x in the sorted array a (x is present). */
static int64_t position_in(const int64_t *a, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    LDR_ASSERT(lo < n && a[lo] == x);
    return (int64_t)lo;
}

/* ---- threads for the gather's row loops ------------------------------------------------- */

#define PAR_MAX   64
#define PAR_GRAIN 65536 /* rows per thread, at least */

typedef void (*par_fn)(void *ctx, unsigned part, unsigned nparts);

typedef struct par_job {
    par_fn fn;
    void *ctx;
    unsigned part, nparts;
} par_job;

static void *par_main(void *arg)
{
    par_job *j = arg;
    j->fn(j->ctx, j->part, j->nparts);
    return NULL;
}

/* Parts for n rows on `threads` threads (<= 0: one per online CPU), at least PAR_GRAIN
 * rows each. */
static unsigned par_parts(int threads, size_t n)
{
    long t = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    size_t most = 1 + n / PAR_GRAIN;
    if (t < 1)
        t = 1;
    if ((size_t)t > most)
        t = (long)most;
    return t > PAR_MAX ? PAR_MAX : (unsigned)t;
}

/* Runs fn for parts 0..nparts-1, part 0 on the caller; a part whose thread cannot be
 * started runs on the caller too. */
static void par_run(unsigned nparts, par_fn fn, void *ctx)
{
    pthread_t tid[PAR_MAX];
    par_job job[PAR_MAX];
    bool started[PAR_MAX];
    for (unsigned i = 1; i < nparts; i++) {
        job[i] = (par_job){fn, ctx, i, nparts};
        started[i] = pthread_create(&tid[i], NULL, par_main, &job[i]) == 0;
    }
    fn(ctx, 0, nparts);
    for (unsigned i = 1; i < nparts; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            fn(ctx, i, nparts);
    }
}

/* Part `part` of n rows; boundaries are multiples of 8, so parts never share a byte of
 * a validity bitmap. (n rows fit in memory and part <= 64: n * part cannot overflow.) */
static size_t par_begin(size_t n, unsigned part, unsigned nparts)
{
    return part == nparts ? n : (n * part / nparts) & ~(size_t)7;
}

/* The winning source rows of a view: marked (pos_of[row] = 0) from the projections'
 * answers, counted per range of source rows, then numbered in source order (pos_of[row]
 * = its index in need). */
typedef struct mark_ctx {
    const plan *p;
    const ldr_view *view;
    int64_t *const *proj_rows;
    size_t n_ent, total;
    uint32_t *pos_of;
    int64_t *need;
    size_t count[PAR_MAX];
} mark_ctx;

static void mark_part(void *arg, unsigned part, unsigned nparts)
{
    mark_ctx *m = arg;
    size_t b = par_begin(m->n_ent, part, nparts), e = par_begin(m->n_ent, part + 1, nparts);
    for (size_t i = 0; i < m->p->n_projs; i++) {
        if (m->p->projs[i].view != m->view)
            continue;
        const int64_t *rows = m->proj_rows[i];
        for (size_t r = b; r < e; r++) {
            if (r + 16 < e && rows[r + 16] >= 0) /* random writes: fetch the line early */
                __builtin_prefetch(&m->pos_of[rows[r + 16]], 1);
            if (rows[r] >= 0) /* parts may mark the same row: relaxed atomics */
                __atomic_store_n(&m->pos_of[rows[r]], 0, __ATOMIC_RELAXED);
        }
    }
}

static void count_part(void *arg, unsigned part, unsigned nparts)
{
    mark_ctx *m = arg;
    size_t c = 0;
    for (size_t r = par_begin(m->total, part, nparts); r < par_begin(m->total, part + 1, nparts);
         r++)
        c += m->pos_of[r] != UINT32_MAX;
    m->count[part] = c;
}

static void number_part(void *arg, unsigned part, unsigned nparts)
{
    mark_ctx *m = arg;
    size_t u = m->count[part];
    for (size_t r = par_begin(m->total, part, nparts); r < par_begin(m->total, part + 1, nparts);
         r++) {
        if (m->pos_of[r] != UINT32_MAX) {
            m->pos_of[r] = (uint32_t)u;
            m->need[u++] = (int64_t)r;
        }
    }
}

/* ldr_col_take for a fixed-width, non-dictionary column, straight from entity rows:
 * entity row r takes value pos_of[rows[r]] of src (a null for rows[r] < 0). */
typedef struct take_ctx {
    const ldr_col *src;
    ldr_col *out;
    const int64_t *rows;
    const uint32_t *pos_of;
    size_t n, width;
    size_t nulls[PAR_MAX];
} take_ctx;

static void take_part(void *arg, unsigned part, unsigned nparts)
{
    take_ctx *t = arg;
    size_t w = t->width, nulls = 0;
    size_t b = par_begin(t->n, part, nparts), e = par_begin(t->n, part + 1, nparts);
    char *out = t->out->data;
    const char *in = t->src->data;
    for (size_t r = b; r < e; r++) {
        /* Two dependent random reads per row: prefetch pos_of 16 rows ahead, and the
         * value 8 rows ahead (its pos_of entry is in cache by then). */
        if (r + 16 < e && t->rows[r + 16] >= 0)
            __builtin_prefetch(&t->pos_of[t->rows[r + 16]]);
        if (r + 8 < e && t->rows[r + 8] >= 0)
            __builtin_prefetch(in + (size_t)t->pos_of[t->rows[r + 8]] * w);
        int64_t row = t->rows[r];
        size_t k = row < 0 ? 0 : t->pos_of[row];
        if (row < 0 || !ldr_col_valid(t->src, k)) {
            memset(out + r * w, 0, w);
            t->out->valid[r >> 3] &= (uint8_t) ~(1u << (r & 7));
            nulls++;
        } else if (w == 8) {
            memcpy(out + r * 8, in + k * 8, 8);
        } else if (w == 4) {
            memcpy(out + r * 4, in + k * 4, 4);
        } else {
            memcpy(out + r * w, in + k * w, w);
        }
    }
    t->nulls[part] = nulls;
}

/* The values of src for n entity rows (rows: winning source rows, pos_of: their index in
 * src), like ldr_col_take; fixed-width columns on several threads. */
static ldr_col *take_rows(const ldr_col *src, const int64_t *rows, const uint32_t *pos_of, size_t n,
                          int threads, int64_t *idx)
{
    size_t w = ldr_type_width(src->type);
    if (!w || src->dict || n == 0) {
        for (size_t r = 0; r < n; r++)
            idx[r] = rows[r] < 0 ? -1 : (int64_t)pos_of[rows[r]];
        return ldr_col_take(src, idx, n);
    }
    take_ctx t = {.src = src, .rows = rows, .pos_of = pos_of, .n = n, .width = w};
    t.out = ldr_col_new(src->type, n);
    ldr_col_set_valid(t.out, 0, false); /* a bitmap, all valid, for the parts to clear */
    ldr_col_set_valid(t.out, 0, true);
    unsigned np = par_parts(threads, n);
    par_run(np, take_part, &t);
    t.out->n = n;
    for (unsigned i = 0; i < np; i++)
        t.out->null_count += t.nulls[i];
    if (t.out->null_count == 0) {
        ldr_free(t.out->valid);
        t.out->valid = NULL;
    }
    return t.out;
}

/* Gathers the features of every projection of vd->view into taken[] (by output column). */
static ldr_code gather_view(const plan *p, view_data *vd, int64_t *const *proj_rows, size_t n_ent,
                            int threads, ldr_col **taken, ldr_err *err)
{
    gather g = {.vd = vd};
    g.cols = ldr_xcalloc(p->n_cols + 1, sizeof *g.cols);
    g.types = ldr_xcalloc(p->n_cols + 1, sizeof *g.types);
    for (size_t i = 0; i < p->n_cols; i++) {
        if (p->projs[p->cols[i].proj].view != vd->view)
            continue;
        bool dup = false;
        for (size_t k = 0; k < g.n_cols && !dup; k++)
            dup = !strcmp(g.cols[k], p->cols[i].feature->name);
        if (!dup) {
            g.cols[g.n_cols] = p->cols[i].feature->name;
            g.types[g.n_cols++] = p->cols[i].feature->type;
        }
    }
    /* Distinct winning rows over the view's projections, in source order, and for each
     * source row its position among them: marks in a dense array, then one sweep (no
     * sort, no search: both were the hot spot for millions of rows). */
    size_t n_chunks = ldr_offline_scan_chunks(vd->scan);
    size_t total = 0;
    for (size_t c = 0; c < n_chunks; c++)
        total += vd->chunk_rows[c];
    uint32_t *pos_of = NULL;
    int64_t *need = NULL;
    size_t u = 0;
    if (!vd->spill) {
        LDR_ASSERT(total < UINT32_MAX);
        pos_of = ldr_xmalloc((total ? total : 1) * sizeof *pos_of);
        memset(pos_of, 0xff, (total ? total : 1) * sizeof *pos_of);
        mark_ctx m = {.p = p, .view = vd->view, .proj_rows = proj_rows, .n_ent = n_ent};
        m.total = total;
        m.pos_of = pos_of;
        par_run(par_parts(threads, n_ent), mark_part, &m);
        unsigned np = par_parts(threads, total);
        par_run(np, count_part, &m);
        for (unsigned i = 0; i < np; i++) {
            size_t c = m.count[i];
            m.count[i] = u;
            u += c;
        }
        need = ldr_xcalloc(u + 1, sizeof *need);
        m.need = need;
        par_run(np, number_part, &m);
    } else {
        /* Spilled: a dense map over every source row may not fit the memory limit, so
         * sort the winning rows instead (memory grows with the entity rows only). */
        need = sorted_winners(p, vd->view, proj_rows, n_ent, &u);
    }
    g.need = need;
    g.n_need = u;
    g.chunk_base = ldr_xcalloc(n_chunks + 1, sizeof *g.chunk_base);
    g.need_begin = ldr_xcalloc(n_chunks + 1, sizeof *g.need_begin);
    g.parts = ldr_xcalloc(n_chunks + 1, sizeof *g.parts);
    size_t base = 0, j = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        g.chunk_base[c] = base;
        g.need_begin[c] = j;
        base += vd->chunk_rows[c];
        while (j < u && (size_t)need[j] < base)
            j++;
    }
    g.need_begin[n_chunks] = j;
    ldr_code rc = ldr_offline_scan_each(vd->scan, threads, gather_chunk, &g, err);
    /* The gathered rows, concatenated in need order. */
    ldr_batch *all = ldr_batch_new();
    for (size_t k = 0; k < g.n_cols; k++)
        ldr_batch_add(all, g.cols[k], ldr_col_new(g.types[k], u));
    for (size_t c = 0; rc == LDR_OK && c < n_chunks; c++)
        if (g.parts[c])
            rc = ldr_batch_append(all, g.parts[c], err);
    /* Per output column: entity row -> winning row -> its position in need -> value. */
    int64_t *idx = ldr_xcalloc(n_ent + 1, sizeof *idx);
    for (size_t i = 0; rc == LDR_OK && i < p->n_cols; i++) {
        size_t pi = p->cols[i].proj;
        if (p->projs[pi].view != vd->view)
            continue;
        int fc = ldr_batch_find(all, p->cols[i].feature->name);
        LDR_ASSERT(fc >= 0);
        if (pos_of) {
            taken[i] = take_rows(all->cols[fc], proj_rows[pi], pos_of, n_ent, threads, idx);
        } else {
            for (size_t r = 0; r < n_ent; r++) {
                int64_t w = proj_rows[pi][r];
                idx[r] = w < 0 ? -1 : position_in(need, u, w);
            }
            taken[i] = ldr_col_take(all->cols[fc], idx, n_ent);
        }
    }
    ldr_free(idx);
    ldr_free(pos_of);
    ldr_batch_free(all);
    for (size_t c = 0; c <= n_chunks; c++)
        ldr_batch_free(g.parts[c]);
    ldr_free(g.parts);
    ldr_free(g.chunk_base);
    ldr_free(g.need_begin);
    ldr_free(need);
    ldr_free(g.cols);
    ldr_free(g.types);
    return rc;
}

/* ---- non-entity mode ---------------------------------------------------------------------- */

typedef struct rowkey {
    const ldr_batch *b;
    size_t row;
    uint64_t hash;
} rowkey;

/* Builds entity rows from the distinct (keys, ts) of every projection's source rows in
 * [start, end]. All views must share one set of join keys. */
static ldr_code build_entities(const ldr_defs *defs, const plan *p, view_data *vd, size_t n_vd,
                               ldr_ts start, ldr_ts end, ldr_batch **out, ldr_err *err)
{
    const ldr_view *first = p->projs[0].view;
    for (size_t i = 1; i < p->n_projs; i++) {
        const ldr_view *v = p->projs[i].view;
        bool same = v->n_entities == first->n_entities;
        for (size_t k = 0; same && k < v->n_entities; k++)
            same = !strcmp(v->entities[k], first->entities[k]);
        if (!same)
            return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                "without an entity file, every requested view must have the same "
                                "entities ('%s' and '%s' differ)",
                                first->name, v->name);
    }
    size_t nk = first->n_entities;
    ldr_batch *b = ldr_batch_new();
    for (size_t k = 0; k < nk; k++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, first->entities[k]);
        ldr_batch_add(b, e->join_key, ldr_col_new(key_type(defs, first, e), 0));
    }
    ldr_batch_add(b, "event_timestamp", ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, 0));
    /* Distinct rows through a hash set of (batch, row) references. */
    size_t cap = 1024;
    rowkey *set = ldr_xcalloc(cap, sizeof *set);
    size_t used = 0;
    for (size_t d = 0; d < n_vd; d++) {
        const ldr_batch *s = vd[d].batch;
        int ts = ldr_batch_find(s, LDR_OFFLINE_TS_COL);
        const ldr_col **keys = ldr_xcalloc(nk + 1, sizeof *keys);
        for (size_t k = 0; k < nk; k++)
            keys[k] = s->cols[ldr_batch_find(s, b->names[k])];
        keys[nk] = s->cols[ts];
        for (size_t r = 0; r < s->n_rows; r++) {
            if (!ldr_col_valid(keys[nk], r))
                continue;
            ldr_ts t = ldr_col_i64(keys[nk], r);
            if (t < start || t > end)
                continue;
            uint64_t h = 0;
            for (size_t k = 0; k <= nk; k++)
                h = h * 31 + ldr_col_hash(keys[k], r);
            if ((used + 1) * 2 > cap) {
                size_t ncap = cap * 2;
                rowkey *ns = ldr_xcalloc(ncap, sizeof *ns);
                for (size_t i = 0; i < cap; i++) {
                    if (!set[i].b)
                        continue;
                    size_t j = set[i].hash & (ncap - 1);
                    while (ns[j].b)
                        j = (j + 1) & (ncap - 1);
                    ns[j] = set[i];
                }
                ldr_free(set);
                set = ns;
                cap = ncap;
            }
            size_t j = h & (cap - 1);
            bool dup = false;
            while (set[j].b && !dup) {
                if (set[j].hash == h) {
                    dup = true;
                    for (size_t k = 0; k < nk && dup; k++)
                        dup = ldr_col_eq(b->cols[k], set[j].row, keys[k], r);
                    dup = dup && ldr_col_eq(b->cols[nk], set[j].row, keys[nk], r);
                }
                if (!dup)
                    j = (j + 1) & (cap - 1);
            }
            if (dup)
                continue;
            set[j].b = b;
            set[j].row = b->cols[0]->n;
            set[j].hash = h;
            used++;
            for (size_t k = 0; k <= nk; k++)
                ldr_col_append_row(b->cols[k], keys[k], r);
        }
        ldr_free(keys);
    }
    ldr_free(set);
    b->n_rows = b->cols[0]->n;
    /* Time order (then insertion order): a stable sort of row indices by timestamp. */
    size_t n = b->n_rows;
    int64_t *idx = ldr_xcalloc(n ? n : 1, sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = (int64_t)i;
    const ldr_col *tc = b->cols[nk];
    for (size_t i = 1; i < n; i++) { /* insertion sort on mostly sorted data is fine here */
        int64_t x = idx[i];
        size_t j = i;
        while (j > 0 && ldr_col_i64(tc, (size_t)idx[j - 1]) > ldr_col_i64(tc, (size_t)x)) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
    ldr_batch *sorted = ldr_batch_new();
    for (size_t k = 0; k <= nk; k++)
        ldr_batch_add(sorted, b->names[k], ldr_col_take(b->cols[k], idx, n));
    ldr_free(idx);
    ldr_batch_free(b);
    *out = sorted;
    return LDR_OK;
}

/* ---- entry point -------------------------------------------------------------------------- */

/* Logs a phase's duration at info level (`--log-level info`) and restarts the clock. */
static void phase(const char *what, ldr_ts *t0)
{
    ldr_ts now = ldr_ts_now();
    ldr_log(LDR_LOG_INFO, "historical: %s in %.3f s", what, (double)(now - *t0) / 1e6);
    *t0 = now;
}

ldr_code ldr_offline_historical(const ldr_config *cfg, const ldr_defs *defs,
                                const ldr_hist_request *req, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    plan p = {0};
    ldr_arena plan_arena;
    ldr_arena_init(&plan_arena, 0);
    ldr_batch *ent = NULL;
    view_data *vd = NULL;
    size_t n_vd = 0;
    ldr_col **taken = NULL;
    int64_t **proj_rows = NULL;
    const char *ent_path = req->entities_path ? req->entities_path : "(entity rows)";
    ldr_ts t0 = ldr_ts_now();
    ldr_code rc = ldr_fplan_build(defs, req->features, req->n_features, req->feature_service,
                                  req->full_feature_names, &plan_arena, &p, err);
    if (rc != LDR_OK)
        goto out;
    taken = ldr_xcalloc(p.n_cols ? p.n_cols : 1, sizeof *taken);

    /* Entity rows: key columns typed as their entities declare. */
    ldr_ts lo = LDR_TS_NONE, hi = LDR_TS_NONE;
    if (req->entities_path) {
        const char **typed = ldr_xcalloc(p.n_projs * 8 + 1, sizeof *typed);
        ldr_type *types = ldr_xcalloc(p.n_projs * 8 + 1, sizeof *types);
        size_t n_typed = 0;
        for (size_t i = 0; i < p.n_projs; i++) {
            const ldr_view *v = p.projs[i].view;
            for (size_t k = 0; k < v->n_entities && n_typed < p.n_projs * 8; k++) {
                const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
                const char *rcol = request_col(&p.projs[i], e->join_key);
                bool dup = false;
                for (size_t j = 0; j < n_typed && !dup; j++)
                    dup = !strcmp(typed[j], rcol);
                if (!dup) {
                    typed[n_typed] = rcol;
                    types[n_typed++] = key_type(defs, v, e);
                }
            }
        }
        rc = ldr_offline_read_table(req->entities_path, NULL, NULL, 0, &ent, err);
        if (rc == LDR_OK) {
            /* Re-read CSV entity files with the key columns typed, so their text is read as
             * the entity type rather than inferred ("05" stays "05" for a String key). */
            bool present = true;
            for (size_t j = 0; j < n_typed && present; j++)
                present = ldr_batch_find(ent, typed[j]) >= 0;
            size_t len = strlen(req->entities_path);
            if (present && n_typed && len > 4 && ldr_strieq(req->entities_path + len - 4, ".csv")) {
                ldr_batch_free(ent);
                ent = NULL;
                rc = ldr_offline_read_table(req->entities_path, typed, types, n_typed, &ent, err);
            }
        }
        ldr_free(typed);
        ldr_free(types);
        if (rc != LDR_OK)
            goto out;
    }

    if (ent)
        phase("entity file read", &t0);
    /* Sources: each view read once. */
    vd = ldr_xcalloc(p.n_projs, sizeof *vd);
    int ts_i = -1;
    if (ent) {
        rc = entity_ts_col(ent, ent_path, &ts_i, err);
        if (rc != LDR_OK)
            goto out;
        const ldr_col *tc = ent->cols[ts_i];
        for (size_t r = 0; r < tc->n; r++) {
            if (!ldr_col_valid(tc, r))
                continue;
            ldr_ts t = ldr_col_i64(tc, r);
            if (lo == LDR_TS_NONE || t < lo)
                lo = t;
            if (hi == LDR_TS_NONE || t > hi)
                hi = t;
        }
        if (lo == LDR_TS_NONE)
            lo = hi = 0; /* no usable timestamps: prune everything but keep the rows */
    } else {
        lo = req->start;
        hi = req->end;
        if (lo > hi) {
            rc = ldr_err_setf(err, LDR_EINVAL, "--start-date must not be after --end-date");
            goto out;
        }
    }
    /* Under --memory-limit, what the entity rows, the join answers and the output need
     * comes first; the views' join keys share the rest, and spill when it runs out. */
    size_t budget = 0;
    if (req->memory_limit > 0 && ent) {
        size_t fixed = batch_bytes(ent) + ent->n_rows * sizeof(int64_t) * (p.n_projs + p.n_cols);
        size_t floor = req->memory_limit / 8 ? req->memory_limit / 8 : 1;
        budget = fixed + floor < req->memory_limit ? req->memory_limit - fixed : floor;
        if (budget == floor)
            ldr_log(LDR_LOG_WARN,
                    "the entity rows and the output alone need about %zu KiB, more than "
                    "--memory-limit allows; joins will spill, but the limit will be exceeded",
                    (fixed + 1023) >> 10);
    } else if (req->memory_limit > 0) {
        ldr_log(LDR_LOG_WARN, "--memory-limit applies to entity-file retrieval only; without "
                              "an entity file nothing spills");
    }
    for (size_t i = 0; i < p.n_projs; i++) {
        const ldr_view *v = p.projs[i].view;
        bool seen = false;
        for (size_t k = 0; k < n_vd && !seen; k++)
            seen = vd[k].view == v;
        if (seen)
            continue;
        size_t left = budget;
        for (size_t k = 0; k < n_vd && left > 1; k++) {
            size_t used = vd[k].batch ? batch_bytes(vd[k].batch) : 0;
            left = used + 1 < left ? left - used : 1;
        }
        rc = load_view(cfg, defs, v, lo, hi, req->threads, left, req->spill_dir, &vd[n_vd], err);
        n_vd++;
        if (rc != LDR_OK)
            goto out;
    }
    if (!ent) {
        rc = build_entities(defs, &p, vd, n_vd, req->start, req->end, &ent, err);
        if (rc != LDR_OK)
            goto out;
        ts_i = ldr_batch_find(ent, "event_timestamp");
    }

    phase("join keys and timestamps read", &t0);
    proj_rows = ldr_xcalloc(p.n_projs, sizeof *proj_rows);
    for (size_t i = 0; i < p.n_projs && rc == LDR_OK; i++) {
        const view_data *src = NULL;
        for (size_t k = 0; k < n_vd; k++)
            if (vd[k].view == p.projs[i].view)
                src = &vd[k];
        LDR_ASSERT(src != NULL); /* every projection's view was loaded above */
        proj_rows[i] = ldr_xcalloc(ent->n_rows + 1, sizeof *proj_rows[i]);
        rc = join_projection(defs, &p, i, ent, ent_path, ent->cols[ts_i], src,
                             req->filter_by_created, req->threads, proj_rows[i], err);
    }
    if (rc == LDR_OK)
        phase("point-in-time joins", &t0);
    for (size_t k = 0; k < n_vd && rc == LDR_OK; k++) {
        /* The keys are no longer needed: free them before reading feature values. */
        ldr_batch_free(vd[k].batch);
        vd[k].batch = NULL;
        rc = gather_view(&p, &vd[k], proj_rows, ent->n_rows, req->threads, taken, err);
    }
    if (rc != LDR_OK)
        goto out;
    phase("feature values gathered", &t0);
    for (size_t i = 0; i < p.n_cols; i++) {
        if (ldr_batch_find(ent, p.cols[i].name) >= 0) {
            rc = ldr_err_setf(err, LDR_EINVAL,
                              "output column '%s' would appear twice: it is both an entity file "
                              "column and a feature",
                              p.cols[i].name);
            goto out;
        }
        ldr_batch_add(ent, p.cols[i].name, taken[i]);
        taken[i] = NULL;
    }
    *out = ent;
    ent = NULL;
out:
    if (taken)
        for (size_t i = 0; i < p.n_cols; i++)
            ldr_col_free(taken[i]);
    ldr_free(taken);
    for (size_t i = 0; i < n_vd; i++)
        view_data_fini(&vd[i]);
    ldr_free(vd);
    if (proj_rows)
        for (size_t i = 0; i < p.n_projs; i++)
            ldr_free(proj_rows[i]);
    ldr_free(proj_rows);
    ldr_batch_free(ent);
    ldr_arena_fini(&plan_arena);
    return rc;
}
