/*
 * source.c -- reading file sources and tables, casting columns, writing results.
 *
 * A source path is a file, a directory (every *.parquet or *.csv below it, skipping
 * hidden and "_"-prefixed files such as _SUCCESS) or a glob; files are read in sorted path
 * order, so "last in the source" is well defined. Columns are requested by the view's
 * names and translated to the file's names through field_mapping; Parquet files prune row
 * groups on the event-time range; every column is cast to the type the view declares, so
 * what the join sees never depends on how a file happened to be written.
 */
#include "offline/offline.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv/csv.h"
#include "parquet/parquet.h"

/* ---- casting ------------------------------------------------------------------------------ */

ldr_col *ldr_offline_cast(const ldr_col *c, ldr_type to, const char *what, ldr_err *err)
{
    ldr_col *out = ldr_col_new(to, c->n);
    ldr_type from = c->type;
    /* Fast paths: identical type, integer widening, float widening. */
    if (from == to) {
        for (size_t i = 0; i < c->n; i++)
            ldr_col_append_row(out, c, i);
        return out;
    }
    bool num_from = from == LDR_TYPE_INT32 || from == LDR_TYPE_INT64 || from == LDR_TYPE_FLOAT32 ||
                    from == LDR_TYPE_FLOAT64;
    if (num_from && (to == LDR_TYPE_INT64 || to == LDR_TYPE_FLOAT64) &&
        !(to == LDR_TYPE_INT64 && (from == LDR_TYPE_FLOAT32 || from == LDR_TYPE_FLOAT64))) {
        for (size_t i = 0; i < c->n; i++) {
            if (!ldr_col_valid(c, i)) {
                ldr_col_append_null(out);
                continue;
            }
            int64_t iv = from == LDR_TYPE_INT32   ? ldr_col_i32(c, i)
                         : from == LDR_TYPE_INT64 ? ldr_col_i64(c, i)
                                                  : 0;
            double dv = from == LDR_TYPE_FLOAT32   ? (double)ldr_col_f32(c, i)
                        : from == LDR_TYPE_FLOAT64 ? ldr_col_f64(c, i)
                                                   : (double)iv;
            if (to == LDR_TYPE_INT64)
                ldr_col_append_i64(out, iv);
            else
                ldr_col_append_f64(out, dv);
        }
        return out;
    }
    /* General path: through the canonical text form, which every type has (5 <-> "5",
     * "2024-01-01T00:00:00Z" <-> timestamp, range-checked narrowing). */
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_buf text;
    ldr_buf_init(&text, 64u << 20);
    for (size_t i = 0; i < c->n; i++) {
        if (!ldr_col_valid(c, i)) {
            ldr_col_append_null(out);
            continue;
        }
        ldr_value v, w;
        ldr_col_get(c, i, &a, &v);
        ldr_buf_reset(&text);
        ldr_code rc = ldr_value_to_text(&v, &text, err);
        if (rc == LDR_OK)
            rc = ldr_value_from_text(to, text.ptr ? text.ptr : "", text.len, &a, &w, err);
        if (rc != LDR_OK) {
            ldr_err_prefix(err, "%s, row %zu: cannot convert %s to %s: ", what, i + 1,
                           ldr_type_name(from), ldr_type_name(to));
            ldr_buf_fini(&text);
            ldr_arena_fini(&a);
            ldr_col_free(out);
            return NULL;
        }
        ldr_col_append_value(out, &w);
        if (a.total > (16u << 20)) {
            ldr_arena_fini(&a);
            ldr_arena_init(&a, 0);
        }
    }
    ldr_buf_fini(&text);
    ldr_arena_fini(&a);
    return out;
}

/* ---- file discovery ----------------------------------------------------------------------- */

typedef struct pathlist {
    char **items;
    size_t n, cap;
} pathlist;

static void paths_add(pathlist *p, const char *s)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->items = ldr_xreallocarray(p->items, p->cap, sizeof *p->items);
    }
    p->items[p->n++] = ldr_xstrdup(s);
}

static void paths_free(pathlist *p)
{
    for (size_t i = 0; i < p->n; i++)
        ldr_free(p->items[i]);
    ldr_free(p->items);
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && ldr_strieq(name + n - e, ext);
}

static ldr_code walk(const char *dir, const char *ext, unsigned depth, pathlist *out, ldr_err *err)
{
    if (depth > 16)
        return ldr_err_setf(err, LDR_ELIMIT, "%s: directories nested too deeply", dir);
    DIR *d = opendir(dir);
    if (!d)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot read directory %s", dir);
    struct dirent *de;
    ldr_code rc = LDR_OK;
    while (rc == LDR_OK && (de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *full = ldr_xmalloc(len);
        snprintf(full, len, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                rc = walk(full, ext, depth + 1, out, err);
            else if (S_ISREG(st.st_mode) && has_ext(de->d_name, ext))
                paths_add(out, full);
        }
        ldr_free(full);
    }
    closedir(d);
    return rc;
}

static ldr_code source_files(const ldr_config *cfg, const ldr_source *src, pathlist *out,
                             ldr_err *err)
{
    char full[4096];
    if (src->path[0] == '/')
        snprintf(full, sizeof full, "%s", src->path);
    else
        snprintf(full, sizeof full, "%s/%s", cfg->repo_dir, src->path);
    const char *ext = src->format == LDR_FORMAT_CSV ? ".csv" : ".parquet";
    if (strpbrk(src->path, "*?[")) {
        glob_t g;
        int r = glob(full, 0, NULL, &g);
        if (r == GLOB_NOMATCH)
            return ldr_err_setf(err, LDR_ENOTFOUND, "data source '%s': no file matches %s",
                                src->name, src->path);
        if (r != 0)
            return ldr_err_setf(err, LDR_EIO, "data source '%s': cannot expand %s", src->name,
                                src->path);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
                paths_add(out, g.gl_pathv[i]);
        }
        globfree(&g);
    } else {
        struct stat st;
        if (stat(full, &st) != 0)
            return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno,
                               "data source '%s': cannot open %s", src->name, src->path);
        if (S_ISDIR(st.st_mode)) {
            ldr_code rc = walk(full, ext, 0, out, err);
            if (rc != LDR_OK)
                return rc;
        } else {
            paths_add(out, full);
        }
    }
    if (out->n == 0)
        return ldr_err_setf(err, LDR_ENOTFOUND, "data source '%s': no %s files in %s", src->name,
                            ext, src->path);
    qsort(out->items, out->n, sizeof *out->items, path_cmp);
    return LDR_OK;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* The file column holding view column `col` (field_mapping is source -> view). */
static const char *file_name_of(const ldr_source *src, const char *col)
{
    for (size_t i = 0; i < src->field_mapping.n; i++)
        if (!strcmp(src->field_mapping.items[i].value, col))
            return src->field_mapping.items[i].key;
    return col;
}

/* An empty batch shaped like a source read (no row survived pruning). */
static ldr_code empty_source_batch(const ldr_source *src, const char *const *cols,
                                   const ldr_type *types, size_t n_cols, ldr_batch **out)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, LDR_OFFLINE_TS_COL, ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, 0));
    if (src->created_timestamp_column && *src->created_timestamp_column)
        ldr_batch_add(b, LDR_OFFLINE_CREATED_COL, ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, 0));
    for (size_t i = 0; i < n_cols; i++)
        ldr_batch_add(b, cols[i], ldr_col_new(types[i], 0));
    *out = b;
    return LDR_OK;
}

/* ---- chunked scans ------------------------------------------------------------------------ */

typedef struct scan_chunk {
    size_t file;
    size_t rg;           /* SIZE_MAX: CSV */
    ldr_csv_range range; /* CSV: the records of this chunk (end 0: all) */
} scan_chunk;

/* CSV files are read in chunks of about this many bytes, so that a large file is read
 * by several threads, and a materialization writes its first batch after reading
 * 8 MiB rather than the whole file. */
#define CSV_CHUNK_BYTES ((size_t)2 << 20)

struct ldr_offline_scan {
    const ldr_source *src;
    pathlist files;
    ldr_pq_reader **readers; /* per file; NULL for CSV files */
    scan_chunk *chunks;
    size_t n_chunks;
};

void ldr_offline_scan_close(ldr_offline_scan *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->files.n; i++)
        ldr_pq_reader_close(s->readers[i]);
    ldr_free(s->readers);
    ldr_free(s->chunks);
    paths_free(&s->files);
    ldr_free(s);
}

ldr_offline_scan *ldr_offline_scan_open(const ldr_config *cfg, const ldr_source *src, ldr_ts lo,
                                        ldr_ts hi, ldr_err *err)
{
    LDR_ASSERT(src->kind == LDR_SOURCE_FILE);
    ldr_offline_scan *s = ldr_xcalloc(1, sizeof *s);
    s->src = src;
    if (source_files(cfg, src, &s->files, err) != LDR_OK) {
        ldr_offline_scan_close(s);
        return NULL;
    }
    s->readers = ldr_xcalloc(s->files.n, sizeof *s->readers);
    size_t cap = 0;
    ldr_pq_range range = {.column = src->timestamp_field,
                          .min = lo == LDR_TS_NONE ? INT64_MIN : lo,
                          .max = hi == LDR_TS_NONE ? INT64_MAX : hi};
    bool prune = lo != LDR_TS_NONE || hi != LDR_TS_NONE;
    for (size_t f = 0; f < s->files.n; f++) {
        size_t n_rg = 1;
        ldr_csv_range *ranges = NULL;
        if (src->format != LDR_FORMAT_PARQUET) {
            ldr_csv_read_opts o = ldr_csv_read_opts_default();
            if (ldr_csv_split_file(s->files.items[f], &o, CSV_CHUNK_BYTES, &ranges, &n_rg, err) !=
                LDR_OK) {
                ldr_err_prefix(err, "data source '%s': ", src->name);
                ldr_offline_scan_close(s);
                return NULL;
            }
        }
        if (src->format == LDR_FORMAT_PARQUET) {
            s->readers[f] = ldr_pq_reader_open(s->files.items[f], err);
            if (!s->readers[f]) {
                ldr_err_prefix(err, "data source '%s': ", src->name);
                ldr_offline_scan_close(s);
                return NULL;
            }
            n_rg = ldr_pq_num_row_groups(s->readers[f]);
        }
        for (size_t g = 0; g < n_rg; g++) {
            if (s->readers[f] && prune && !ldr_pq_row_group_may_match(s->readers[f], g, &range, 1))
                continue;
            if (s->n_chunks == cap) {
                cap = cap ? cap * 2 : 16;
                s->chunks = ldr_xreallocarray(s->chunks, cap, sizeof *s->chunks);
            }
            s->chunks[s->n_chunks].file = f;
            s->chunks[s->n_chunks].rg = s->readers[f] ? g : SIZE_MAX;
            s->chunks[s->n_chunks].range = ranges ? ranges[g] : (ldr_csv_range){0, 0, 1};
            s->n_chunks++;
        }
        ldr_free(ranges);
    }
    return s;
}

size_t ldr_offline_scan_chunks(const ldr_offline_scan *s)
{
    return s->n_chunks;
}

ldr_code ldr_offline_scan_read(ldr_offline_scan *s, size_t chunk, const char *const *cols,
                               const ldr_type *types, size_t n_cols, bool with_ts, ldr_batch **out,
                               ldr_err *err)
{
    *out = NULL;
    LDR_ASSERT(chunk < s->n_chunks);
    const ldr_source *src = s->src;
    const scan_chunk *ck = &s->chunks[chunk];
    const char *path = s->files.items[ck->file];
    bool has_created = with_ts && src->created_timestamp_column && *src->created_timestamp_column;
    size_t n = n_cols + (with_ts ? 1 : 0) + (has_created ? 1 : 0);
    const char **names = ldr_xcalloc(n ? n : 1, sizeof *names);
    const char **view_names = ldr_xcalloc(n ? n : 1, sizeof *view_names);
    ldr_type *ty = ldr_xcalloc(n ? n : 1, sizeof *ty);
    size_t k = 0;
    if (with_ts) {
        names[k] = src->timestamp_field;
        view_names[k] = LDR_OFFLINE_TS_COL;
        ty[k++] = LDR_TYPE_UNIX_TIMESTAMP;
    }
    if (has_created) {
        names[k] = src->created_timestamp_column;
        view_names[k] = LDR_OFFLINE_CREATED_COL;
        ty[k++] = LDR_TYPE_UNIX_TIMESTAMP;
    }
    for (size_t i = 0; i < n_cols; i++) {
        names[k] = file_name_of(src, cols[i]);
        view_names[k] = cols[i];
        ty[k++] = types[i];
    }
    ldr_code rc;
    ldr_batch *b = NULL;
    if (ck->rg == SIZE_MAX) {
        ldr_csv_read_opts o = ldr_csv_read_opts_default();
        o.names = names;
        o.types = ty;
        o.n = n;
        o.range_begin = ck->range.begin;
        o.range_end = ck->range.end;
        o.range_line = ck->range.line;
        rc = ldr_csv_read_file(path, &o, &b, err);
    } else {
        rc = ldr_pq_read_row_group(s->readers[ck->file], ck->rg, names, n, true, &b, err);
        for (size_t i = 0; rc == LDR_OK && i < n; i++) {
            if (b->cols[i]->type == ty[i])
                continue;
            char what[512];
            snprintf(what, sizeof what, "%s: column %s", path, names[i]);
            ldr_col *c = ldr_offline_cast(b->cols[i], ty[i], what, err);
            if (!c) {
                rc = err ? err->code : LDR_EINVAL;
                break;
            }
            ldr_col_free(b->cols[i]);
            b->cols[i] = c;
        }
    }
    if (rc == LDR_OK) {
        for (size_t i = 0; i < n; i++)
            ldr_batch_rename(b, i, view_names[i]);
        *out = b;
    } else {
        ldr_batch_free(b);
        ldr_err_prefix(err, "data source '%s': ", src->name);
    }
    ldr_free(names);
    ldr_free(view_names);
    ldr_free(ty);
    return rc;
}

/* The chunk pool: fn on every chunk, on up to `threads` threads; the first error wins. */
typedef struct pool {
    size_t n;
    ldr_offline_chunk_fn fn;
    void *ctx;
    atomic_size_t next;
    pthread_mutex_t lock;
    ldr_code rc;
    ldr_err err;
} pool;

static void *pool_worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            return NULL;
        pthread_mutex_lock(&p->lock);
        bool stop = p->rc != LDR_OK;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
        ldr_err e;
        ldr_err_clear(&e);
        ldr_code rc = p->fn(p->ctx, i, &e);
        if (rc != LDR_OK) {
            pthread_mutex_lock(&p->lock);
            if (p->rc == LDR_OK) {
                p->rc = rc;
                p->err = e;
            }
            pthread_mutex_unlock(&p->lock);
        }
    }
}

ldr_code ldr_offline_scan_each(const ldr_offline_scan *s, int threads, ldr_offline_chunk_fn fn,
                               void *ctx, ldr_err *err)
{
    pool p = {.n = s->n_chunks, .fn = fn, .ctx = ctx, .rc = LDR_OK};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.lock, NULL);
    size_t t = threads > 0 ? (size_t)threads : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
    if (t > p.n)
        t = p.n ? p.n : 1;
    if (t > 64)
        t = 64;
    pthread_t tid[64];
    size_t started = 0;
    for (size_t i = 1; i < t; i++)
        if (pthread_create(&tid[started], NULL, pool_worker, &p) == 0)
            started++;
    pool_worker(&p);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.rc != LDR_OK && err)
        *err = p.err;
    return p.rc;
}

typedef struct read_all {
    ldr_offline_scan *scan;
    const char *const *cols;
    const ldr_type *types;
    size_t n_cols;
    ldr_batch **parts;
} read_all;

static ldr_code read_one(void *ctx, size_t chunk, ldr_err *err)
{
    read_all *r = ctx;
    return ldr_offline_scan_read(r->scan, chunk, r->cols, r->types, r->n_cols, true,
                                 &r->parts[chunk], err);
}

ldr_code ldr_offline_scan_read_all(ldr_offline_scan *scan, const char *const *cols,
                                   const ldr_type *types, size_t n_cols, int threads,
                                   ldr_batch **out, size_t *chunk_rows, ldr_err *err)
{
    *out = NULL;
    size_t n = scan->n_chunks;
    read_all r = {.scan = scan, .cols = cols, .types = types, .n_cols = n_cols};
    r.parts = ldr_xcalloc(n ? n : 1, sizeof *r.parts);
    ldr_code rc = ldr_offline_scan_each(scan, threads, read_one, &r, err);
    ldr_batch *acc = NULL;
    for (size_t i = 0; i < n; i++) {
        if (rc == LDR_OK && chunk_rows)
            chunk_rows[i] = r.parts[i]->n_rows;
        if (rc == LDR_OK && !acc) {
            acc = r.parts[i];
            r.parts[i] = NULL;
        } else if (rc == LDR_OK) {
            rc = ldr_batch_append(acc, r.parts[i], err);
        }
        ldr_batch_free(r.parts[i]);
    }
    ldr_free(r.parts);
    if (rc == LDR_OK && !acc)
        rc = empty_source_batch(scan->src, cols, types, n_cols, &acc);
    if (rc != LDR_OK) {
        ldr_batch_free(acc);
        return rc;
    }
    *out = acc;
    return LDR_OK;
}

ldr_code ldr_offline_read_source(const ldr_config *cfg, const ldr_source *src,
                                 const char *const *cols, const ldr_type *types, size_t n_cols,
                                 ldr_ts lo, ldr_ts hi, int threads, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    ldr_offline_scan *scan = ldr_offline_scan_open(cfg, src, lo, hi, err);
    if (!scan)
        return err ? err->code : LDR_EIO;
    ldr_code rc = ldr_offline_scan_read_all(scan, cols, types, n_cols, threads, out, NULL, err);
    ldr_offline_scan_close(scan);
    return rc;
}

ldr_code ldr_offline_read_table(const char *path, const char *const *typed, const ldr_type *types,
                                size_t n_typed, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    if (has_ext(path, ".csv")) {
        ldr_csv_read_opts o = ldr_csv_read_opts_default();
        o.names = typed;
        o.types = types;
        o.n = n_typed;
        o.infer = true;
        o.all_columns = true;
        return ldr_csv_read_file(path, &o, out, err);
    }
    if (!has_ext(path, ".parquet"))
        return ldr_err_setf(err, LDR_EINVAL, "%s: unknown file type (expected .csv or .parquet)",
                            path);
    ldr_pq_reader *r = ldr_pq_reader_open(path, err);
    if (!r)
        return err ? err->code : LDR_EIO;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    ldr_code rc = ldr_pq_read(r, &o, out, err);
    ldr_pq_reader_close(r);
    if (rc != LDR_OK)
        return rc;
    ldr_batch *b = *out;
    for (size_t i = 0; i < n_typed; i++) {
        int k = ldr_batch_find(b, typed[i]);
        if (k < 0 || b->cols[k]->type == types[i])
            continue;
        char what[512];
        snprintf(what, sizeof what, "%s: column %s", path, typed[i]);
        ldr_col *c = ldr_offline_cast(b->cols[k], types[i], what, err);
        if (!c) {
            ldr_batch_free(b);
            *out = NULL;
            return err ? err->code : LDR_EINVAL;
        }
        ldr_col_free(b->cols[k]);
        b->cols[k] = c;
    }
    return LDR_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

ldr_code ldr_offline_write(const ldr_batch *b, const char *path, ldr_err *err)
{
    if (has_ext(path, ".parquet")) {
        ldr_pq_write_opts o = ldr_pq_write_opts_default();
        return ldr_pq_write_file(path, b, &o, err);
    }
    bool csv = has_ext(path, ".csv"), jsonl = has_ext(path, ".jsonl") || has_ext(path, ".json");
    if (!csv && !jsonl)
        return ldr_err_setf(err, LDR_EINVAL,
                            "%s: unknown output type (expected .csv, .parquet or .jsonl)", path);
    size_t len = strlen(path) + 32;
    char *tmp = ldr_xmalloc(len);
    snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ldr_code rc = ldr_err_sys(err, LDR_EIO, errno, "cannot create %s", tmp);
        ldr_free(tmp);
        return rc;
    }
    ldr_code rc = csv ? ldr_csv_write_batch(b, f, err) : ldr_jsonl_write_batch(b, f, err);
    if (fflush(f) != 0 && rc == LDR_OK)
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", path);
    if (rc == LDR_OK && fsync(fileno(f)) != 0)
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot sync %s", path);
    if (fclose(f) != 0 && rc == LDR_OK)
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", path);
    if (rc == LDR_OK && rename(tmp, path) != 0)
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot rename %s to %s", tmp, path);
    if (rc != LDR_OK)
        unlink(tmp);
    ldr_free(tmp);
    return rc;
}
