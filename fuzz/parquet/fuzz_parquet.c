/*
 * fuzz_parquet.c -- libFuzzer driver for the Parquet reader (footer, Thrift, page headers,
 * levels, every value decoder, assembly and pruning) over arbitrary bytes.
 *
 * Each input is opened with ldr_pq_reader_open_mem (no I/O), its schema text rendered,
 * and, when the file claims at most FUZZ_MAX_ROWS rows (decoded size is otherwise bounded
 * only by the row counts the input declares), every readable column is decoded with
 * ldr_pq_read (threads = 1, keep_dict from the input's length), then every row group on
 * its own, then with a pruning range. Invariants checked on success (a violation aborts):
 * row counts agree with the footer, every column has the batch's row count, string and
 * list offsets are monotonic and inside their payload, dictionary indices are in range,
 * null counts match the validity bitmaps. Failures must carry a message. Nothing is kept
 * between inputs. Corpus: fuzz/parquet/corpus/ (small parquet-testing files, hand-built
 * files and mutations of both); dictionary: fuzz/parquet/parquet.dict.
 */
#include "../fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "parquet/parquet.h"

#define FUZZ_MAX_ROWS 65536

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_parquet: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_col(const ldr_col *c, size_t n)
{
    if (c->n != n)
        fail("column row count differs from the batch", NULL);
    size_t nulls = 0;
    for (size_t i = 0; i < c->n; i++)
        nulls += !ldr_col_valid(c, i);
    if (nulls != c->null_count)
        fail("null_count differs from the validity bitmap", NULL);
    if (c->dict) {
        for (size_t i = 0; i < c->n; i++)
            if (ldr_col_valid(c, i) && (size_t)((const int32_t *)c->data)[i] >= c->dict->n)
                fail("dictionary index out of range", NULL);
        check_col(c->dict, c->dict->n);
        return;
    }
    if (c->type == LDR_TYPE_STRING || c->type == LDR_TYPE_BYTES || ldr_type_is_list(c->type)) {
        size_t limit = ldr_type_is_list(c->type) ? c->child->n : c->bytes_len;
        if (c->offsets[0] != 0)
            fail("offsets[0] is not 0", NULL);
        for (size_t i = 0; i < c->n; i++)
            if (c->offsets[i + 1] < c->offsets[i] || (size_t)c->offsets[i + 1] > limit)
                fail("offsets not monotonic or past the payload", NULL);
    }
    if (ldr_type_is_list(c->type))
        check_col(c->child, c->child->n);
}

static void check_batch(const ldr_batch *b, size_t n_cols, int64_t rows)
{
    if (b->n_cols != n_cols)
        fail("batch has the wrong column count", NULL);
    if (n_cols > 0 && rows >= 0 && (int64_t)b->n_rows != rows)
        fail("batch row count differs from the footer", NULL);
    for (size_t i = 0; i < b->n_cols; i++)
        check_col(b->cols[i], b->n_rows);
}

static void read_everything(ldr_pq_reader *r, bool keep_dict)
{
    size_t n = ldr_pq_num_columns(r), k = 0;
    const char **names = ldr_xcalloc(n ? n : 1, sizeof *names);
    int first_int = -1;
    for (size_t i = 0; i < n; i++) {
        const ldr_pq_column_info *ci = ldr_pq_column(r, i);
        if (ci->unsupported)
            continue;
        if (first_int < 0 && (ci->type == LDR_TYPE_INT64 || ci->type == LDR_TYPE_INT32 ||
                              ci->type == LDR_TYPE_UNIX_TIMESTAMP))
            first_int = (int)k;
        names[k++] = ci->name;
    }
    ldr_err err;
    ldr_batch *b = NULL;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.columns = names;
    o.n_columns = k;
    o.threads = 1;
    o.keep_dict = keep_dict;
    if (ldr_pq_read(r, &o, &b, &err) == LDR_OK)
        check_batch(b, k, ldr_pq_num_rows(r));
    else if (!err.msg[0] || b)
        fail("ldr_pq_read failed without a message", NULL);
    ldr_batch_free(b);
    /* Row groups one by one (the CLI's streaming path). */
    for (size_t g = 0; g < ldr_pq_num_row_groups(r) && g < 64; g++) {
        b = NULL;
        if (ldr_pq_read_row_group(r, g, names, k, !keep_dict, &b, &err) == LDR_OK)
            check_batch(b, k, -1);
        else if (!err.msg[0])
            fail("ldr_pq_read_row_group failed without a message", NULL);
        ldr_batch_free(b);
    }
    /* Pruning on the first integer-like column. */
    if (first_int >= 0) {
        ldr_pq_range range = {names[first_int], -1000, 1000};
        o.ranges = &range;
        o.n_ranges = 1;
        b = NULL;
        if (ldr_pq_read(r, &o, &b, &err) == LDR_OK)
            check_batch(b, k, -1);
        ldr_batch_free(b);
    }
    ldr_free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldr_err err;
    ldr_pq_reader *r = ldr_pq_reader_open_mem("fuzz.parquet", data, size, &err);
    if (!r) {
        if (!err.msg[0])
            fail("open failed without a message", NULL);
        return 0;
    }
    ldr_buf text;
    ldr_buf_init(&text, (size_t)64 << 20);
    if (ldr_pq_schema_text(r, &text, &err) != LDR_OK && err.code != LDR_ELIMIT)
        fail("schema text failed", err.msg);
    ldr_buf_fini(&text);
    /* All columns at once: fails when one is unsupported, with a message. */
    ldr_batch *b = NULL;
    if (ldr_pq_num_rows(r) >= 0 && ldr_pq_num_rows(r) <= FUZZ_MAX_ROWS) {
        if (ldr_pq_read(r, NULL, &b, &err) != LDR_OK && !err.msg[0])
            fail("read of all columns failed without a message", NULL);
        ldr_batch_free(b);
        read_everything(r, size & 1);
    }
    ldr_pq_reader_close(r);
    return 0;
}
