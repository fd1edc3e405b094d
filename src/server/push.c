/*
 * push.c -- /push and /write-to-online-store: a frame of rows sent by a client, typed by
 * the registry and written online (newer wins) and/or appended offline.
 *
 * Columns are named as in the batch source (Feast applies the source's field_mapping on
 * the way in): the timestamp field and created-timestamp column of the batch source, each
 * view's join keys and features. Every column must be known and every column a target
 * view needs must be present; values are converted to the declared types
 * (ldr_srv_cell_convert), so a bad cell is a 422 naming the column and row, and nothing
 * is written unless the whole frame converts.
 *
 * Offline: the rows become a *new* Parquet file in the batch source's directory (a
 * directory source) or one matching its glob, written to a temporary name and renamed,
 * so a reader sees all of it or none and historical retrieval picks it up on its next
 * scan. The file has the columns of the newest existing file of the source (types
 * included: the frame must give exactly those columns, as Feast requires), or, for an
 * empty source, the views' columns. A single-file source cannot grow that way and is
 * refused (docs/server.md).
 */
#include "server/server_int.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "col/col.h"
#include "offline/offline.h"
#include "parquet/parquet.h"

/* The frame column feeding view column `col` (field_mapping is source -> view). */
static const char *frame_name_of(const ldr_source *batch, const char *col)
{
    for (size_t i = 0; batch && i < batch->field_mapping.n; i++)
        if (!strcmp(batch->field_mapping.items[i].value, col))
            return batch->field_mapping.items[i].key;
    return col;
}

static int frame_find(const ldr_srv_frame *df, const char *name)
{
    for (size_t i = 0; i < df->n_cols; i++)
        if (!strcmp(df->names[i], name))
            return (int)i;
    return -1;
}

/* ---- checking the frame against the views ----------------------------------------------- */

typedef struct colset {
    const char **names;
    size_t n, cap;
} colset;

static void colset_add(colset *s, ldr_arena *a, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        const char **nn = ldr_arena_calloc(a, cap, sizeof *nn);
        if (s->n)
            memcpy(nn, s->names, s->n * sizeof *nn);
        s->names = nn;
        s->cap = cap;
    }
    s->names[s->n++] = name;
}

/* Every column a view needs from the frame: timestamps, join keys, features. */
static void needed_columns(const ldr_defs *defs, const ldr_view *v, const ldr_source *batch,
                           ldr_arena *a, colset *out)
{
    colset_add(out, a, batch->timestamp_field);
    if (*batch->created_timestamp_column)
        colset_add(out, a, batch->created_timestamp_column);
    for (size_t k = 0; k < v->n_entities; k++)
        colset_add(out, a,
                   frame_name_of(batch, ldr_defs_find_entity(defs, v->entities[k])->join_key));
    for (size_t i = 0; i < v->n_schema; i++)
        colset_add(out, a, frame_name_of(batch, v->schema[i].name));
}

static ldr_code list_error(const char *what, const colset *s, const char *tail, ldr_err *err)
{
    char buf[200];
    size_t pos = 0;
    for (size_t i = 0; i < s->n && pos + 4 < sizeof buf; i++) {
        int n = snprintf(buf + pos, sizeof buf - pos, "%s%s", i ? ", " : "", s->names[i]);
        pos = n < 0 ? pos : pos + (size_t)n;
    }
    if (pos >= sizeof buf)
        pos = sizeof buf - 1;
    buf[pos] = '\0';
    return ldr_err_setf(err, LDR_EINVAL, "%s: [%s]%s", what, buf, tail);
}

/* Frame columns must all be known and cover what every view needs. */
static ldr_code check_columns(const ldr_defs *defs, const ldr_view *const *views, size_t n,
                              const ldr_source *batch, const ldr_srv_frame *df, bool allow_extra,
                              ldr_arena *a, ldr_err *err)
{
    colset need = {0}, missing = {0}, unknown = {0};
    for (size_t i = 0; i < n; i++)
        needed_columns(defs, views[i], batch, a, &need);
    for (size_t i = 0; i < need.n; i++)
        if (frame_find(df, need.names[i]) < 0)
            colset_add(&missing, a, need.names[i]);
    for (size_t c = 0; c < df->n_cols; c++) {
        bool known = false;
        for (size_t i = 0; i < need.n && !known; i++)
            known = !strcmp(need.names[i], df->names[c]);
        if (!known)
            colset_add(&unknown, a, df->names[c]);
    }
    if (missing.n)
        return list_error("'df' lacks columns", &missing, "", err);
    if (unknown.n && !allow_extra)
        return list_error("'df' has columns no target feature view has", &unknown, "", err);
    return LDR_OK;
}

/* The frame's timestamp column as event times (required) or created times (optional). */
static ldr_code frame_times(const ldr_srv_frame *df, const char *name, bool required, ldr_arena *a,
                            ldr_ts **out, ldr_err *err)
{
    *out = NULL;
    if (!*name)
        return LDR_OK;
    int c = frame_find(df, name);
    if (c < 0 && required)
        return ldr_err_setf(err, LDR_EINVAL, "'df' lacks the event timestamp column '%s'", name);
    if (c < 0)
        return LDR_OK;
    ldr_ts *ts = ldr_arena_calloc(a, df->n_rows ? df->n_rows : 1, sizeof *ts);
    for (size_t r = 0; r < df->n_rows; r++) {
        ldr_value v;
        ldr_code rc = ldr_srv_cell_convert(&df->cols[c][r], LDR_TYPE_UNIX_TIMESTAMP, false, name, r,
                                           a, &v, err);
        if (rc != LDR_OK)
            return rc;
        if (v.is_null && required)
            return ldr_err_setf(err, LDR_EINVAL,
                                "column '%s', row %zu: the event timestamp is null", name, r);
        ts[r] = v.is_null ? LDR_TS_NONE : v.u.ts;
    }
    *out = ts;
    return LDR_OK;
}

/* ---- online ------------------------------------------------------------------------------- */

static ldr_code push_online_view(ldr_srv_worker *w, const ldr_defs *defs, const ldr_view *v,
                                 const ldr_source *batch, const ldr_srv_frame *df,
                                 const ldr_ts *event, const ldr_ts *created, size_t *written,
                                 ldr_err *err)
{
    ldr_arena *a = &w->arena;
    ldr_online_view ov;
    ldr_serving_online_view(defs, w->srv->cfg->project, v, a, &ov);
    size_t nk = v->n_entities, nr = df->n_rows;
    const char **jk = ldr_arena_calloc(a, nk + 1, sizeof *jk);
    ldr_type *kt = ldr_arena_calloc(a, nk + 1, sizeof *kt);
    int *kcol = ldr_arena_calloc(a, nk + 1, sizeof *kcol);
    for (size_t k = 0; k < nk; k++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
        jk[k] = e->join_key;
        kt[k] = ldr_view_key_type(v, e);
        kcol[k] = frame_find(df, frame_name_of(batch, e->join_key));
    }
    int *fcol = ldr_arena_calloc(a, ov.n_features + 1, sizeof *fcol);
    for (size_t f = 0; f < ov.n_features; f++)
        fcol[f] = frame_find(df, frame_name_of(batch, ov.features[f].name));
    ldr_online_row *rows = ldr_arena_calloc(a, nr + 1, sizeof *rows);
    ldr_value *kv = ldr_arena_calloc(a, nk + 1, sizeof *kv);
    ldr_buf key;
    ldr_buf_init(&key, 1u << 20);
    ldr_code rc = LDR_OK;
    for (size_t r = 0; r < nr && rc == LDR_OK; r++) {
        for (size_t k = 0; k < nk && rc == LDR_OK; k++) {
            rc = ldr_srv_cell_convert(&df->cols[kcol[k]][r], kt[k], true, df->names[kcol[k]], r, a,
                                      &kv[k], err);
            if (rc == LDR_OK && kv[k].is_null)
                rc = ldr_err_setf(err, LDR_EINVAL, "column '%s', row %zu: a join key is null",
                                  df->names[kcol[k]], r);
        }
        ldr_value *vals = ldr_arena_calloc(a, ov.n_features + 1, sizeof *vals);
        for (size_t f = 0; f < ov.n_features && rc == LDR_OK; f++)
            rc = ldr_srv_cell_convert(&df->cols[fcol[f]][r], ov.features[f].type, false,
                                      df->names[fcol[f]], r, a, &vals[f], err);
        ldr_buf_reset(&key);
        if (rc == LDR_OK)
            rc = nk ? ldr_online_key_encode(jk, kv, nk, &key, err)
                    : ldr_online_key_encode_entityless(&key, err);
        if (rc != LDR_OK)
            break;
        void *kp = ldr_arena_alloc(a, key.len + 1);
        memcpy(kp, key.ptr, key.len);
        rows[r].key.ptr = kp;
        rows[r].key.len = key.len;
        rows[r].values = vals;
        rows[r].event_ts = event[r];
        rows[r].created_ts = created ? created[r] : LDR_TS_NONE;
    }
    ldr_buf_fini(&key);
    size_t n_written = 0;
    if (rc == LDR_OK && nr)
        rc = ldr_online_write(w->os, &ov, rows, nr, &n_written, err);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "feature view '%s': ", v->name);
    *written += n_written;
    return rc;
}

/* ---- offline ------------------------------------------------------------------------------ */

/* The directory a new file goes to, and its name (fnmatch-checked for globs). */
static ldr_code offline_target(const ldr_config *cfg, const ldr_source *batch, const char *stem,
                               ldr_buf *path, ldr_err *err)
{
    if (batch->format != LDR_FORMAT_PARQUET)
        return ldr_err_setf(err, LDR_EUNSUPPORTED,
                            "batch source '%s' is a CSV source; offline pushes write Parquet",
                            batch->name);
    char full[4096];
    if (batch->path[0] == '/')
        snprintf(full, sizeof full, "%s", batch->path);
    else
        snprintf(full, sizeof full, "%s/%s", cfg->repo_dir, batch->path);
    if (strpbrk(batch->path, "*?[")) {
        char *slash = strrchr(full, '/');
        const char *pat = slash ? slash + 1 : full;
        if (slash)
            *slash = '\0';
        if (strpbrk(full, "*?[") || !strchr(pat, '*') || strpbrk(pat, "?["))
            return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                "batch source '%s': an offline push needs a glob whose directory "
                                "has no wildcard and whose file pattern uses only '*' (%s)",
                                batch->name, batch->path);
        ldr_buf name;
        ldr_buf_init(&name, 4096);
        ldr_code rc = LDR_OK;
        for (const char *p = pat; *p && rc == LDR_OK; p++)
            rc = *p == '*' ? ldr_buf_puts(&name, stem, err) : ldr_buf_putc(&name, *p, err);
        if (rc == LDR_OK && fnmatch(pat, ldr_buf_cstr(&name), 0) != 0)
            rc = ldr_err_setf(err, LDR_EUNSUPPORTED, "batch source '%s': no file name fits %s",
                              batch->name, batch->path);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(path, err, "%s/%s", full, ldr_buf_cstr(&name));
        ldr_buf_fini(&name);
        return rc;
    }
    struct stat st;
    if (stat(full, &st) != 0)
        return ldr_err_sys(err, LDR_EIO, errno, "batch source '%s': cannot open %s", batch->name,
                           batch->path);
    if (!S_ISDIR(st.st_mode))
        return ldr_err_setf(err, LDR_EUNSUPPORTED,
                            "batch source '%s' is a single file (%s); offline pushes add a new "
                            "file, so the source must be a directory or a glob",
                            batch->name, batch->path);
    return ldr_buf_printf(path, err, "%s/%s.parquet", full, stem);
}

/* The newest Parquet file next to the target (same directory, same extension). */
static char *newest_sibling(const char *target)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", target);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *best = NULL;
    struct timespec best_t = {0, 0};
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || de->d_name[0] == '_' || len < 8 ||
            strcmp(de->d_name + len - 8, ".parquet") != 0)
            continue;
        char full[4400];
        snprintf(full, sizeof full, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!best || st.st_mtim.tv_sec > best_t.tv_sec ||
            (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec)) {
            ldr_free(best);
            best = ldr_xstrdup(full);
            best_t = st.st_mtim;
        }
    }
    closedir(d);
    return best;
}

/* Column names and types of the new file: an existing file's, else the views'. */
static ldr_code offline_schema(const ldr_defs *defs, const ldr_view *const *views, size_t n,
                               const ldr_source *batch, const char *target, ldr_arena *a,
                               const char ***names, ldr_type **types, size_t *n_cols, ldr_err *err)
{
    char *sib = newest_sibling(target);
    if (sib) {
        ldr_pq_reader *r = ldr_pq_reader_open(sib, err);
        ldr_free(sib);
        if (!r)
            return err->code;
        size_t nc = ldr_pq_num_columns(r);
        *names = ldr_arena_calloc(a, nc + 1, sizeof **names);
        *types = ldr_arena_calloc(a, nc + 1, sizeof **types);
        for (size_t i = 0; i < nc; i++) {
            const ldr_pq_column_info *ci = ldr_pq_column(r, i);
            (*names)[i] = ldr_arena_strdup(a, ci->name);
            (*types)[i] = ci->type;
        }
        *n_cols = nc;
        ldr_pq_reader_close(r);
        return LDR_OK;
    }
    colset cols = {0};
    for (size_t i = 0; i < n; i++)
        needed_columns(defs, views[i], batch, a, &cols);
    *names = cols.names;
    *n_cols = cols.n;
    *types = ldr_arena_calloc(a, cols.n + 1, sizeof **types);
    for (size_t c = 0; c < cols.n; c++) {
        ldr_type t = LDR_TYPE_UNIX_TIMESTAMP;
        for (size_t i = 0; i < n && c >= (*batch->created_timestamp_column ? 2u : 1u); i++) {
            const ldr_view *v = views[i];
            for (size_t k = 0; k < v->n_entities; k++) {
                const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
                if (!strcmp(frame_name_of(batch, e->join_key), cols.names[c]))
                    t = ldr_view_key_type(v, e);
            }
            for (size_t f = 0; f < v->n_schema; f++)
                if (!strcmp(frame_name_of(batch, v->schema[f].name), cols.names[c]))
                    t = v->schema[f].type;
        }
        (*types)[c] = t;
    }
    return LDR_OK;
}

static ldr_code push_offline(ldr_srv_worker *w, const ldr_defs *defs, const ldr_view *const *views,
                             size_t n, const ldr_source *batch, const ldr_srv_frame *df,
                             ldr_err *err)
{
    ldr_arena *a = &w->arena;
    char ts[LDR_TS_BUFSZ], stem[128];
    ldr_ts now = ldr_ts_now();
    ldr_ts_format(now, ts);
    size_t j = 0;
    for (size_t i = 0; ts[i] && j + 1 < 40;
         i++) /* 2024-01-02T03:04:05.123Z -> 20240102T030405123Z */
        if (ts[i] != '-' && ts[i] != ':' && ts[i] != '.')
            stem[j++] = ts[i];
    snprintf(stem + j, sizeof stem - j, "-%06lld-w%u-%llu", (long long)(now % 1000000), w->id,
             (unsigned long long)w->seq);
    memmove(stem + 5, stem, strlen(stem) + 1);
    memcpy(stem, "push-", 5);
    ldr_buf path;
    ldr_buf_init(&path, 8192);
    const char **names = NULL;
    ldr_type *types = NULL;
    size_t nc = 0;
    ldr_code rc = offline_target(w->srv->cfg, batch, stem, &path, err);
    if (rc == LDR_OK)
        rc =
            offline_schema(defs, views, n, batch, ldr_buf_cstr(&path), a, &names, &types, &nc, err);
    colset missing = {0}, extra = {0};
    for (size_t c = 0; rc == LDR_OK && c < nc; c++)
        if (frame_find(df, names[c]) < 0)
            colset_add(&missing, a, names[c]);
    for (size_t c = 0; rc == LDR_OK && c < df->n_cols; c++) {
        bool found = false;
        for (size_t k = 0; k < nc && !found; k++)
            found = !strcmp(names[k], df->names[c]);
        if (!found)
            colset_add(&extra, a, df->names[c]);
    }
    if (rc == LDR_OK && missing.n)
        rc = list_error("'df' lacks columns of the batch source", &missing,
                        " (an offline push must give every column of its files)", err);
    if (rc == LDR_OK && extra.n)
        rc = list_error("'df' has columns the batch source's files do not have", &extra, "", err);
    ldr_batch *b = rc == LDR_OK ? ldr_batch_new() : NULL;
    for (size_t c = 0; rc == LDR_OK && c < nc; c++) {
        int fc = frame_find(df, names[c]);
        ldr_col *col = ldr_col_new(types[c], df->n_rows);
        for (size_t r = 0; r < df->n_rows && rc == LDR_OK; r++) {
            ldr_value v;
            rc = ldr_srv_cell_convert(&df->cols[fc][r], types[c], false, names[c], r, a, &v, err);
            if (rc == LDR_OK)
                ldr_col_append_value(col, &v);
        }
        ldr_batch_add(b, names[c], col);
    }
    if (rc == LDR_OK)
        rc = ldr_offline_write(b, ldr_buf_cstr(&path), err);
    if (rc == LDR_OK)
        ldr_log(LDR_LOG_INFO, "push: appended %zu rows to %s", df->n_rows, ldr_buf_cstr(&path));
    ldr_batch_free(b);
    ldr_buf_fini(&path);
    return rc;
}

/* ---- entry point ---------------------------------------------------------------------------- */

ldr_code ldr__srv_push(ldr_srv_worker *w, const ldr_defs *defs, const ldr_view *const *views,
                       size_t n, const ldr_source *batch, const ldr_srv_frame *df, bool online,
                       bool offline, size_t *rows, ldr_err *err)
{
    *rows = 0;
    ldr_arena *a = &w->arena;
    /* Offline pushes must give every column of the source's files (checked there), which
     * may include columns of views not fed by this push. */
    ldr_code rc = online ? check_columns(defs, views, n, batch, df, offline, a, err) : LDR_OK;
    ldr_ts *event = NULL, *created = NULL;
    if (rc == LDR_OK)
        rc = frame_times(df, batch->timestamp_field, true, a, &event, err);
    if (rc == LDR_OK)
        rc = frame_times(df, batch->created_timestamp_column, false, a, &created, err);
    if (rc != LDR_OK || df->n_rows == 0)
        return rc;
    /* Offline first: the file is the durable record; a failed online write after it is
     * reported and can be repeated (online writes are idempotent: newer wins). */
    if (offline) {
        rc = push_offline(w, defs, views, n, batch, df, err);
        if (rc != LDR_OK)
            return rc;
        *rows = df->n_rows;
    }
    if (online) {
        size_t written = 0;
        for (size_t i = 0; i < n && rc == LDR_OK; i++)
            if (views[i]->online)
                rc = push_online_view(w, defs, views[i], batch, df, event, created, &written, err);
        if (!offline)
            *rows = rc == LDR_OK ? df->n_rows : 0;
    }
    return rc;
}
