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
    bool num_from = from == LDR_TYPE_INT32 || from == LDR_TYPE_INT64 ||
                    from == LDR_TYPE_FLOAT32 || from == LDR_TYPE_FLOAT64;
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

static ldr_code walk(const char *dir, const char *ext, unsigned depth, pathlist *out,
                     ldr_err *err)
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

/* Reads `names` (file names) of one file with `types`; columns come back in that order. */
static ldr_code read_file(const char *path, ldr_file_format fmt, const char *const *names,
                          const ldr_type *types, size_t n, const char *ts_name, ldr_ts lo,
                          ldr_ts hi, int threads, ldr_batch **out, ldr_err *err)
{
    if (fmt == LDR_FORMAT_CSV) {
        ldr_csv_read_opts o = ldr_csv_read_opts_default();
        o.names = names;
        o.types = types;
        o.n = n;
        return ldr_csv_read_file(path, &o, out, err);
    }
    ldr_pq_reader *r = ldr_pq_reader_open(path, err);
    if (!r)
        return err ? err->code : LDR_EIO;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.columns = names;
    o.n_columns = n;
    o.threads = threads;
    o.keep_dict = true;
    ldr_pq_range range = {.column = ts_name, .min = lo, .max = hi};
    if (ts_name && (lo != LDR_TS_NONE || hi != LDR_TS_NONE)) {
        range.min = lo == LDR_TS_NONE ? INT64_MIN : lo;
        range.max = hi == LDR_TS_NONE ? INT64_MAX : hi;
        o.ranges = &range;
        o.n_ranges = 1;
    }
    ldr_code rc = ldr_pq_read(r, &o, out, err);
    ldr_pq_reader_close(r);
    if (rc != LDR_OK)
        return rc;
    /* Cast to the declared types. */
    ldr_batch *b = *out;
    for (size_t i = 0; i < b->n_cols; i++) {
        if (b->cols[i]->type == types[i])
            continue;
        char what[512];
        snprintf(what, sizeof what, "%s: column %s", path, names[i]);
        ldr_col *c = ldr_offline_cast(b->cols[i], types[i], what, err);
        if (!c) {
            ldr_batch_free(b);
            *out = NULL;
            return err ? err->code : LDR_EINVAL;
        }
        ldr_col_free(b->cols[i]);
        b->cols[i] = c;
    }
    return LDR_OK;
}

ldr_code ldr_offline_read_source(const ldr_config *cfg, const ldr_source *src,
                                 const char *const *cols, const ldr_type *types, size_t n_cols,
                                 ldr_ts lo, ldr_ts hi, int threads, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    LDR_ASSERT(src->kind == LDR_SOURCE_FILE);
    bool has_created = src->created_timestamp_column && *src->created_timestamp_column;
    size_t n = n_cols + 1 + (has_created ? 1 : 0);
    const char **names = ldr_xcalloc(n, sizeof *names);
    const char **view_names = ldr_xcalloc(n, sizeof *view_names);
    ldr_type *ty = ldr_xcalloc(n, sizeof *ty);
    size_t k = 0;
    names[k] = src->timestamp_field;
    view_names[k] = LDR_OFFLINE_TS_COL;
    ty[k++] = LDR_TYPE_UNIX_TIMESTAMP;
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
    pathlist files = {0};
    ldr_batch *acc = NULL;
    ldr_code rc = source_files(cfg, src, &files, err);
    for (size_t f = 0; rc == LDR_OK && f < files.n; f++) {
        ldr_batch *b = NULL;
        rc = read_file(files.items[f], src->format, names, ty, n, src->timestamp_field, lo, hi,
                       threads, &b, err);
        if (rc != LDR_OK) {
            ldr_err_prefix(err, "data source '%s': ", src->name);
            break;
        }
        for (size_t i = 0; i < n; i++)
            ldr_batch_rename(b, i, view_names[i]);
        if (!acc) {
            acc = b;
        } else {
            rc = ldr_batch_append(acc, b, err);
            ldr_batch_free(b);
        }
    }
    paths_free(&files);
    ldr_free(names);
    ldr_free(view_names);
    ldr_free(ty);
    if (rc != LDR_OK) {
        ldr_batch_free(acc);
        return rc;
    }
    *out = acc;
    return LDR_OK;
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
