/*
 * spill.c -- hash-partitioned spill files for joins larger than the memory limit.
 *
 * Historical retrieval keeps every source row's join keys and timestamps in memory for
 * the point-in-time join. When that would exceed --memory-limit, the rows are instead
 * split by a hash of their join keys (ldr_pit_partition_of) into n temporary Parquet files,
 * one per partition, each row carrying its original source position in a "__row" column.
 * The join then runs one partition at a time: equal keys always land in the same
 * partition, so the union of the per-partition answers is the one-shot answer.
 *
 * Rows reach a partition file in the order they were added, and the caller adds them in
 * source order: within a partition, a later position is a later row, which keeps the
 * join's last tie-break ("last in source order") intact.
 *
 * Parquet is the spill format because the project already writes and reads it fast,
 * typed and compressed (snappy); the files live in a private mkdtemp directory that
 * ldr_spill_free removes, on success and on error alike.
 */
#include "offline/offline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "join/join.h"
#include "parquet/parquet.h"

struct ldr_spill {
    char dir[4096];
    unsigned n_parts;
    size_t n_cols; /* data columns, without __row */
    size_t n_keys; /* the first n_keys of key_idx are the join keys */
    char **names;  /* n_cols + 1, the last is __row */
    ldr_type *types;
    ldr_pq_writer **writers; /* open until ldr_spill_finish */
    size_t *rows;            /* rows per partition */
    size_t total;
};

static void part_path(const ldr_spill *s, unsigned p, char *buf, size_t len)
{
    snprintf(buf, len, "%s/part-%04u.parquet", s->dir, p);
}

ldr_spill *ldr_spill_open(const char *dir, const char *const *names, const ldr_type *types,
                          size_t n_cols, size_t n_keys, unsigned n_parts, size_t buffer_rows,
                          ldr_err *err)
{
    LDR_ASSERT(n_parts >= 1 && n_keys <= n_cols);
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    ldr_spill *s = ldr_xcalloc(1, sizeof *s);
    int len = snprintf(s->dir, sizeof s->dir, "%s/larder-spill-XXXXXX", dir);
    if (len < 0 || (size_t)len >= sizeof s->dir) {
        ldr_free(s);
        ldr_err_setf(err, LDR_EINVAL, "spill directory path is too long: %s", dir);
        return NULL;
    }
    if (!mkdtemp(s->dir)) {
        ldr_err_sys(err, LDR_EIO, errno, "cannot create a spill directory in %s", dir);
        ldr_free(s);
        return NULL;
    }
    s->n_parts = n_parts;
    s->n_cols = n_cols;
    s->n_keys = n_keys;
    s->names = ldr_xcalloc(n_cols + 1, sizeof *s->names);
    s->types = ldr_xcalloc(n_cols + 1, sizeof *s->types);
    for (size_t i = 0; i < n_cols; i++) {
        s->names[i] = ldr_xstrdup(names[i]);
        s->types[i] = types[i];
    }
    s->names[n_cols] = ldr_xstrdup(LDR_SPILL_ROW_COL);
    s->types[n_cols] = LDR_TYPE_INT64;
    s->rows = ldr_xcalloc(n_parts, sizeof *s->rows);
    s->writers = ldr_xcalloc(n_parts, sizeof *s->writers);
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    o.row_group_rows = buffer_rows ? buffer_rows : 65536;
    o.statistics = false;
    o.no_sync = true; /* scratch files: durability buys nothing, fsyncs cost much */
    o.threads = 1;    /* small row groups, many files: encoding threads would only wait */
    for (unsigned p = 0; p < n_parts; p++) {
        char path[4200];
        part_path(s, p, path, sizeof path);
        s->writers[p] =
            ldr_pq_writer_open(path, (const char *const *)s->names, s->types, n_cols + 1, &o, err);
        if (!s->writers[p]) {
            ldr_err_prefix(err, "spilling: ");
            ldr_spill_free(s);
            return NULL;
        }
    }
    return s;
}

ldr_code ldr_spill_add(ldr_spill *s, const ldr_batch *b, int64_t row_base, ldr_err *err)
{
    LDR_ASSERT(s->writers != NULL); /* not finished */
    if (b->n_rows == 0)
        return LDR_OK;
    /* The batch's columns by spill position (the batch may order them differently). */
    const ldr_col **cols = ldr_xcalloc(s->n_cols + 1, sizeof *cols);
    for (size_t i = 0; i < s->n_cols; i++) {
        int k = ldr_batch_find(b, s->names[i]);
        LDR_ASSERT(k >= 0 && b->cols[k]->type == s->types[i]);
        cols[i] = b->cols[k];
    }
    /* Counting sort of the rows by partition, stable: source order within a partition. */
    size_t n = b->n_rows;
    uint32_t *part = ldr_xmalloc(n * sizeof *part);
    size_t *start = ldr_xcalloc((size_t)s->n_parts + 1, sizeof *start);
    for (size_t r = 0; r < n; r++) {
        part[r] = ldr_pit_partition_of(cols, s->n_keys, r, s->n_parts);
        start[part[r] + 1]++;
    }
    for (unsigned p = 0; p < s->n_parts; p++)
        start[p + 1] += start[p];
    int64_t *order = ldr_xmalloc(n * sizeof *order);
    size_t *fill = ldr_xmalloc((size_t)s->n_parts * sizeof *fill);
    memcpy(fill, start, (size_t)s->n_parts * sizeof *fill);
    for (size_t r = 0; r < n; r++)
        order[fill[part[r]]++] = (int64_t)r;
    ldr_code rc = LDR_OK;
    for (unsigned p = 0; p < s->n_parts && rc == LDR_OK; p++) {
        size_t m = start[p + 1] - start[p];
        if (m == 0)
            continue;
        const int64_t *idx = order + start[p];
        ldr_batch *pb = ldr_batch_new();
        for (size_t i = 0; i < s->n_cols; i++) {
            ldr_col *c = ldr_col_take(cols[i], idx, m);
            ldr_col_decode_dict(c); /* the writer builds its own dictionaries */
            ldr_batch_add(pb, s->names[i], c);
        }
        ldr_col *pos = ldr_col_new(LDR_TYPE_INT64, m);
        for (size_t r = 0; r < m; r++)
            ldr_col_append_i64(pos, row_base + idx[r]);
        ldr_batch_add(pb, LDR_SPILL_ROW_COL, pos);
        pb->n_rows = m;
        rc = ldr_pq_writer_write(s->writers[p], pb, err);
        ldr_batch_free(pb);
        s->rows[p] += m;
    }
    s->total += n;
    ldr_free(fill);
    ldr_free(order);
    ldr_free(start);
    ldr_free(part);
    ldr_free(cols);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "spilling: ");
    return rc;
}

ldr_code ldr_spill_finish(ldr_spill *s, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (unsigned p = 0; p < s->n_parts; p++) {
        ldr_pq_writer *w = s->writers[p];
        s->writers[p] = NULL;
        if (rc == LDR_OK)
            rc = ldr_pq_writer_close(w, err);
        else
            ldr_pq_writer_abort(w);
    }
    ldr_free(s->writers);
    s->writers = NULL;
    if (rc != LDR_OK)
        ldr_err_prefix(err, "spilling: ");
    return rc;
}

unsigned ldr_spill_parts(const ldr_spill *s)
{
    return s->n_parts;
}

size_t ldr_spill_rows(const ldr_spill *s, unsigned p)
{
    return p < s->n_parts ? s->rows[p] : s->total;
}

ldr_code ldr_spill_read(ldr_spill *s, unsigned p, int threads, ldr_batch **out, ldr_err *err)
{
    LDR_ASSERT(s->writers == NULL && p < s->n_parts); /* finished */
    *out = NULL;
    char path[4200];
    part_path(s, p, path, sizeof path);
    ldr_pq_reader *r = ldr_pq_reader_open(path, err);
    if (!r)
        return err ? err->code : LDR_EIO;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.threads = threads;
    o.keep_dict = true;
    ldr_code rc = ldr_pq_read(r, &o, out, err);
    ldr_pq_reader_close(r);
    if (rc == LDR_OK && (*out)->n_rows != s->rows[p]) {
        ldr_batch_free(*out);
        *out = NULL;
        rc = ldr_err_setf(err, LDR_ECORRUPT, "%s: expected %zu rows, found a different count", path,
                          s->rows[p]);
    }
    return rc;
}

void ldr_spill_free(ldr_spill *s)
{
    if (!s)
        return;
    if (s->writers)
        for (unsigned p = 0; p < s->n_parts; p++)
            ldr_pq_writer_abort(s->writers[p]);
    ldr_free(s->writers);
    for (unsigned p = 0; p < s->n_parts; p++) {
        char path[4200];
        part_path(s, p, path, sizeof path);
        (void)unlink(path);
    }
    (void)rmdir(s->dir);
    for (size_t i = 0; i <= s->n_cols; i++)
        ldr_free(s->names[i]);
    ldr_free(s->names);
    ldr_free(s->types);
    ldr_free(s->rows);
    ldr_free(s);
}
