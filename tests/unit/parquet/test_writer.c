/*
 * test_writer.c -- unit tests for the Parquet writer (src/parquet/writer.c and the Thrift
 * encoder thrift_write.c): the encoder against the reference's byte examples; every case
 * of writer_cases.h (all types, nulls, lists, edge values, each codec, dictionary and
 * PLAIN, several row groups, uneven batches) written and read back with Larder's reader,
 * value for value; statistics checked through row-group pruning; the file protocol
 * (temporary name, rename on close, unlink on abort); API misuse reported as errors; and
 * files that are byte for byte the same whatever the number of encoding threads.
 * The same cases are read by DuckDB and hyparquet in
 * tests/integration/parquet_writer_duckdb.py. Files go to a fresh directory under /tmp.
 */
#include "parquet/parquet.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "parquet/thrift_write.h"
#include "unit/parquet/writer_cases.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static ldr_buf slurp(const char *path)
{
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (ldr_buf_append(&b, chunk, n, NULL) != LDR_OK)
            break;
    fclose(f);
    return b;
}

static void check_bytes(const ldr_buf *b, const uint8_t *want, size_t len, const char *what)
{
    if (b->len == len && memcmp(b->ptr, want, len) == 0)
        return;
    printf("# %s: got", what);
    for (size_t i = 0; i < b->len; i++)
        printf(" %02X", (uint8_t)b->ptr[i]);
    printf("\n");
    HARNESS_FAIL("%s: bytes differ from the reference", what);
}

/* ---- the Thrift encoder ------------------------------------------------------------------ */

/* Reference §2's worked example: a DATA_PAGE header. */
TEST(thrift_page_header_example)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, 1000);
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &b, &err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 1, 0);
    ldr__pq_tw_i32(&t, 2, 12);
    ldr__pq_tw_i32(&t, 3, 12);
    ldr__pq_tw_struct_begin(&t, 5);
    ldr__pq_tw_i32(&t, 1, 3);
    ldr__pq_tw_i32(&t, 2, 0);
    ldr__pq_tw_i32(&t, 3, 3);
    ldr__pq_tw_i32(&t, 4, 3);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_end(&t);
    CHECK_OK(ldr__pq_tw_status(&t), err);
    const uint8_t want[] = {0x15, 0x00, 0x15, 0x18, 0x15, 0x18, 0x2C, 0x15, 0x06,
                            0x15, 0x00, 0x15, 0x06, 0x15, 0x06, 0x00, 0x00};
    check_bytes(&b, want, sizeof want, "page header");
    ldr_buf_fini(&b);
}

/* Reference §9's minimal file: the FileMetaData of one required INT32 column. */
TEST(thrift_minimal_file_metadata)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, 1000);
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &b, &err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 1, 1);
    ldr__pq_tw_list_begin(&t, 2, LDR__PQ_TW_STRUCT, 2);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_string(&t, 4, "schema");
    ldr__pq_tw_i32(&t, 5, 1);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 1, 1);
    ldr__pq_tw_i32(&t, 3, 0);
    ldr__pq_tw_string(&t, 4, "x");
    ldr__pq_tw_end(&t);
    ldr__pq_tw_i64(&t, 3, 3);
    ldr__pq_tw_list_begin(&t, 4, LDR__PQ_TW_STRUCT, 1);
    ldr__pq_tw_open(&t); /* RowGroup */
    ldr__pq_tw_list_begin(&t, 1, LDR__PQ_TW_STRUCT, 1);
    ldr__pq_tw_open(&t); /* ColumnChunk */
    ldr__pq_tw_i64(&t, 2, 0);
    ldr__pq_tw_struct_begin(&t, 3);
    ldr__pq_tw_i32(&t, 1, 1);
    ldr__pq_tw_list_begin(&t, 2, LDR__PQ_TW_I32, 1);
    ldr__pq_tw_elem_i32(&t, 0);
    ldr__pq_tw_list_begin(&t, 3, LDR__PQ_TW_BINARY, 1);
    ldr__pq_tw_elem_string(&t, "x");
    ldr__pq_tw_i32(&t, 4, 0);
    ldr__pq_tw_i64(&t, 5, 3);
    ldr__pq_tw_i64(&t, 6, 29);
    ldr__pq_tw_i64(&t, 7, 29);
    ldr__pq_tw_i64(&t, 9, 4);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_i64(&t, 2, 29);
    ldr__pq_tw_i64(&t, 3, 3);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_end(&t);
    CHECK_OK(ldr__pq_tw_status(&t), err);
    const uint8_t want[] = {0x15, 0x02, 0x19, 0x2C, 0x48, 0x06, 's',  'c',  'h',  'e',  'm',  'a',
                            0x15, 0x02, 0x00, 0x15, 0x02, 0x25, 0x00, 0x18, 0x01, 'x',  0x00, 0x16,
                            0x06, 0x19, 0x1C, 0x19, 0x1C, 0x26, 0x00, 0x1C, 0x15, 0x02, 0x19, 0x15,
                            0x00, 0x19, 0x18, 0x01, 'x',  0x15, 0x00, 0x16, 0x06, 0x16, 0x3A, 0x16,
                            0x3A, 0x26, 0x08, 0x00, 0x00, 0x16, 0x3A, 0x16, 0x06, 0x00, 0x00};
    check_bytes(&b, want, sizeof want, "FileMetaData");
    CHECK_EQ_I64(b.len, 0x3B);
    ldr_buf_fini(&b);
}

TEST(thrift_long_forms_and_errors)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, 1000);
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &b, &err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 32767, -1);        /* long-form header: type, zigzag id */
    ldr__pq_tw_bool(&t, 32768 - 1, true); /* delta 0: long form again */
    ldr__pq_tw_list_begin(&t, 1, LDR__PQ_TW_I32, 20);
    for (int i = 0; i < 20; i++)
        ldr__pq_tw_elem_i32(&t, i);
    ldr__pq_tw_end(&t);
    CHECK_OK(ldr__pq_tw_status(&t), err);
    const uint8_t head[] = {0x05, 0xFE, 0xFF, 0x03, 0x01, 0x01, 0xFE,
                            0xFF, 0x03, 0x09, 0x02, 0xF5, 0x14};
    CHECK(b.len == sizeof head + 20 + 1 && memcmp(b.ptr, head, sizeof head) == 0);
    ldr_buf_fini(&b);
    /* errors are sticky */
    ldr_buf_init(&b, 5);
    ldr__pq_tw_init(&t, &b, &err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_string(&t, 1, "too long for the buffer");
    ldr__pq_tw_i32(&t, 2, 1);
    ldr__pq_tw_end(&t);
    CHECK_FAILS(ldr__pq_tw_status(&t), LDR_ELIMIT);
    ldr_buf_fini(&b);
}

/* ---- round trips through Larder's reader ---------------------------------------------- */

static void compare_batches(const char *what, const ldr_batch *got, const ldr_batch *want)
{
    if (got->n_cols != want->n_cols || got->n_rows != want->n_rows) {
        HARNESS_FAIL("%s: %zu x %zu read, %zu x %zu written", what, got->n_rows, got->n_cols,
                     want->n_rows, want->n_cols);
        return;
    }
    for (size_t c = 0; c < want->n_cols; c++) {
        const ldr_col *a = got->cols[c], *b = want->cols[c];
        if (strcmp(got->names[c], want->names[c]) != 0 || a->type != b->type) {
            HARNESS_FAIL("%s: column %zu is %s %s, wrote %s %s", what, c, got->names[c],
                         ldr_type_name(a->type), want->names[c], ldr_type_name(b->type));
            continue;
        }
        for (size_t r = 0; r < want->n_rows; r++) {
            if (ldr_col_eq(a, r, b, r))
                continue;
            printf("# got ");
            pqw_value_json(stdout, a, r);
            printf("\n# expected ");
            pqw_value_json(stdout, b, r);
            printf("\n");
            HARNESS_FAIL("%s: column %s, row %zu differs", what, want->names[c], r);
            break;
        }
    }
}

static size_t expected_row_groups(const pqw_case *c, size_t rows)
{
    return (rows + c->row_group_rows - 1) / c->row_group_rows;
}

TEST(cases_roundtrip_through_reader)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(pqw_cases); i++) {
        const pqw_case *c = &pqw_cases[i];
        char name[128];
        snprintf(name, sizeof name, "%s.parquet", c->name);
        const char *path = tmp_path(name);
        ldr_err err;
        ldr_batch *want = NULL;
        CHECK_OK(pqw_write_case(c, path, &want, &err), err);
        ldr_pq_reader *r = ldr_pq_reader_open(path, &err);
        if (!r) {
            HARNESS_FAIL("%s: %s", c->name, err.msg);
            ldr_batch_free(want);
            continue;
        }
        CHECK_EQ_I64(ldr_pq_num_rows(r), want->n_rows);
        CHECK_EQ_I64(ldr_pq_num_columns(r), want->n_cols);
        if (ldr_pq_num_row_groups(r) != expected_row_groups(c, want->n_rows))
            HARNESS_FAIL("%s: %zu row groups, expected %zu", c->name, ldr_pq_num_row_groups(r),
                         expected_row_groups(c, want->n_rows));
        for (int keep_dict = 0; keep_dict <= 1; keep_dict++) {
            ldr_pq_read_opts o = ldr_pq_read_opts_default();
            o.keep_dict = keep_dict;
            o.threads = 2;
            ldr_batch *got = NULL;
            CHECK_OK(ldr_pq_read(r, &o, &got, &err), err);
            if (got)
                compare_batches(c->name, got, want);
            ldr_batch_free(got);
        }
        ldr_pq_reader_close(r);
        ldr_batch_free(want);
        unlink(path);
    }
}

/* A sorted Int64 and timestamp column in row groups of 1000: the statistics must let the
 * reader keep exactly the row groups that overlap a range. */
TEST(statistics_prune_row_groups)
{
    ldr_err err;
    size_t n = 10000;
    ldr_col *id = ldr_col_new(LDR_TYPE_INT64, n), *ts = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    ldr_col *i32 = ldr_col_new(LDR_TYPE_INT32, n);
    for (size_t i = 0; i < n; i++) {
        ldr_col_append_i64(id, (int64_t)i);
        ldr_col_append_i64(ts, 1700000000000000 + (int64_t)i * 1000000);
        if (i % 1000 == 999)
            ldr_col_append_null(i32); /* nulls do not widen the bounds */
        else
            ldr_col_append_i32(i32, -(int32_t)i);
    }
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "id", id);
    ldr_batch_add(b, "ts", ts);
    ldr_batch_add(b, "neg", i32);
    ldr_pq_write_opts wo = ldr_pq_write_opts_default();
    wo.row_group_rows = 1000;
    const char *path = tmp_path("pruning.parquet");
    CHECK_OK(ldr_pq_write_file(path, b, &wo, &err), err);
    ldr_pq_reader *r = ldr_pq_reader_open(path, &err);
    CHECK(r != NULL);
    if (r) {
        struct {
            ldr_pq_range range;
            size_t rows;
        } cases[] = {
            {{"id", 2500, 3100}, 2000},
            {{"id", 999, 1000}, 2000},
            {{"id", 10000, 20000}, 0},
            {{"ts", 1700000000000000 + 5000 * 1000000LL, 1700000000000000 + 5000 * 1000000LL},
             1000},
            {{"neg", -1998, -1998}, 1000},
            {{"neg", -1999, -1999}, 0}, /* row 1999 is null in "neg" */
        };
        for (size_t i = 0; i < LDR_ARRAY_LEN(cases); i++) {
            ldr_pq_read_opts o = ldr_pq_read_opts_default();
            o.ranges = &cases[i].range;
            o.n_ranges = 1;
            ldr_batch *got = NULL;
            CHECK_OK(ldr_pq_read(r, &o, &got, &err), err);
            if (got && got->n_rows != cases[i].rows)
                HARNESS_FAIL("range %zu on %s: %zu rows, expected %zu", i, cases[i].range.column,
                             got->n_rows, cases[i].rows);
            ldr_batch_free(got);
        }
        ldr_pq_reader_close(r);
    }
    ldr_batch_free(b);
    unlink(path);
}

/* ---- threads ----------------------------------------------------------------------------- */

/* Writes b to path in batches of batch_rows rows (0 = one batch), as pqw_write_case does. */
static ldr_code write_batches(const char *path, const ldr_batch *b, const ldr_pq_write_opts *o,
                              size_t batch_rows, ldr_err *err)
{
    if (batch_rows == 0)
        return ldr_pq_write_file(path, b, o, err);
    ldr_type types[64];
    for (size_t i = 0; i < b->n_cols; i++)
        types[i] = b->cols[i]->type;
    ldr_pq_writer *w =
        ldr_pq_writer_open(path, (const char *const *)b->names, types, b->n_cols, o, err);
    if (!w)
        return err->code;
    for (size_t r = 0; r < b->n_rows; r += batch_rows) {
        size_t k = b->n_rows - r < batch_rows ? b->n_rows - r : batch_rows;
        int64_t *rows = ldr_xmalloc((k ? k : 1) * sizeof *rows);
        for (size_t i = 0; i < k; i++)
            rows[i] = (int64_t)(r + i);
        ldr_batch *part = ldr_batch_new();
        for (size_t i = 0; i < b->n_cols; i++)
            ldr_batch_add(part, b->names[i], ldr_col_take(b->cols[i], rows, k));
        ldr_free(rows);
        ldr_code rc = ldr_pq_writer_write(w, part, err);
        ldr_batch_free(part);
        if (rc) {
            ldr_pq_writer_abort(w);
            return rc;
        }
    }
    return ldr_pq_writer_close(w, err);
}

static const int thread_counts[] = {2, 3, 4, 8, 0};

/* Writes b with every thread count and checks each file equals the serial one. */
static void check_threads_identical(const char *name, const ldr_batch *b, ldr_pq_write_opts o,
                                    size_t batch_rows)
{
    ldr_err err;
    const char *path = tmp_path("threads.parquet");
    o.threads = 1;
    CHECK_OK(write_batches(path, b, &o, batch_rows, &err), err);
    ldr_buf want = slurp(path);
    CHECK(want.len > 12);
    for (size_t t = 0; t < LDR_ARRAY_LEN(thread_counts); t++) {
        o.threads = thread_counts[t];
        CHECK_OK(write_batches(path, b, &o, batch_rows, &err), err);
        ldr_buf got = slurp(path);
        if (got.len != want.len || memcmp(got.ptr, want.ptr, want.len) != 0)
            HARNESS_FAIL("%s: %d threads wrote %zu bytes that differ from the serial %zu", name,
                         thread_counts[t], got.len, want.len);
        ldr_buf_fini(&got);
    }
    ldr_buf_fini(&want);
    unlink(path);
}

/* Every writer case, and a file of many small row groups (in one batch, and in batches
 * that leave pending rows in flight across calls): the bytes never depend on threads. */
TEST(threads_write_identical_bytes)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(pqw_cases); i++) {
        const pqw_case *c = &pqw_cases[i];
        pqw_rng = 0x9E3779B97F4A7C15u ^ (uint64_t)strlen(c->name);
        ldr_batch *b = c->make();
        check_threads_identical(c->name, b, pqw_opts(c), c->batch_rows);
        ldr_batch_free(b);
    }
    size_t n = 20000;
    ldr_col *k = ldr_col_new(LDR_TYPE_INT64, n), *s = ldr_col_new(LDR_TYPE_STRING, n);
    ldr_col *f = ldr_col_new(LDR_TYPE_FLOAT64, n);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        ldr_col_append_i64(k, (int64_t)((i * 2654435761u) % 97));
        int len = snprintf(buf, sizeof buf, "s%zu", (i * 7) % 5000);
        ldr_col_append_str(s, buf, (size_t)len);
        if (i % 13 == 0)
            ldr_col_append_null(f);
        else
            ldr_col_append_f64(f, (double)i / 7.0);
    }
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "k", k);
    ldr_batch_add(b, "s", s);
    ldr_batch_add(b, "f", f);
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    o.row_group_rows = 300;
    check_threads_identical("many_row_groups", b, o, 0);
    check_threads_identical("many_row_groups_batches", b, o, 1000);
    o.codec = LDR_PQ_ZSTD;
    check_threads_identical("many_row_groups_zstd_batches", b, o, 77);
    ldr_batch_free(b);
}

/* Aborting with row groups in flight (pending rows the writer owns) frees everything and
 * leaves no file; ASan checks for leaks. */
TEST(threads_abort_in_flight)
{
    ldr_err err;
    const char *names[] = {"x", "y"};
    ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_STRING};
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    o.row_group_rows = 10;
    o.threads = 4;
    const char *path = tmp_path("abort_threads.parquet");
    ldr_pq_writer *w = ldr_pq_writer_open(path, names, types, 2, &o, &err);
    CHECK(w != NULL);
    ldr_batch *b = ldr_batch_new();
    ldr_col *x = ldr_col_new(LDR_TYPE_INT64, 7), *y = ldr_col_new(LDR_TYPE_STRING, 7);
    for (int64_t i = 0; i < 7; i++) {
        ldr_col_append_i64(x, i);
        ldr_col_append_str(y, "abc", 3);
    }
    ldr_batch_add(b, "x", x);
    ldr_batch_add(b, "y", y);
    for (int i = 0; w && i < 9; i++)
        CHECK_OK(ldr_pq_writer_write(w, b, &err), err);
    ldr_pq_writer_abort(w);
    CHECK(!file_exists(path));
    ldr_batch_free(b);
}

/* ---- file protocol and options --------------------------------------------------------- */

TEST(temporary_file_and_rename)
{
    ldr_err err;
    const char *names[] = {"x"};
    ldr_type types[] = {LDR_TYPE_INT32};
    char path[512], tmp[600];
    snprintf(path, sizeof path, "%s", tmp_path("atomic.parquet"));
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    ldr_pq_writer *w = ldr_pq_writer_open(path, names, types, 1, NULL, &err);
    CHECK(w != NULL);
    CHECK(file_exists(tmp) && !file_exists(path));
    ldr_batch *b = ldr_batch_new();
    ldr_col *c = ldr_col_new(LDR_TYPE_INT32, 3);
    for (int32_t i = 1; i <= 3; i++)
        ldr_col_append_i32(c, i);
    ldr_batch_add(b, "x", c);
    CHECK_OK(ldr_pq_writer_write(w, b, &err), err);
    CHECK_OK(ldr_pq_writer_close(w, &err), err);
    CHECK(!file_exists(tmp) && file_exists(path));
    ldr_buf f = slurp(path);
    CHECK(f.len > 12 && memcmp(f.ptr, "PAR1", 4) == 0 && memcmp(f.ptr + f.len - 4, "PAR1", 4) == 0);
    uint32_t flen = 0;
    if (f.len > 12)
        memcpy(&flen, f.ptr + f.len - 8, 4);
    CHECK(flen > 0 && flen <= f.len - 12);
    CHECK(memmem(f.ptr, f.len, "larder version 0.1.0", 20) != NULL);
    ldr_buf_fini(&f);
    /* abort leaves nothing behind (and does not touch an existing file) */
    w = ldr_pq_writer_open(path, names, types, 1, NULL, &err);
    CHECK(w != NULL);
    CHECK_OK(ldr_pq_writer_write(w, b, &err), err);
    ldr_pq_writer_abort(w);
    CHECK(!file_exists(tmp) && file_exists(path));
    ldr_pq_writer_abort(NULL);
    unlink(path);
    ldr_batch_free(b);
}

TEST(api_errors)
{
    ldr_err err;
    const char *names[] = {"a", "b"};
    ldr_type types[] = {LDR_TYPE_INT32, LDR_TYPE_STRING};
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    const char *path = tmp_path("errors.parquet");
    CHECK(ldr_pq_writer_open(path, names, types, 0, &o, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EINVAL);
    const char *dup[] = {"a", "a"};
    CHECK(ldr_pq_writer_open(path, dup, types, 2, &o, &err) == NULL);
    CHECK_CONTAINS(err.msg, "duplicate column name a");
    ldr_type bad[] = {LDR_TYPE_INT32, (ldr_type)99};
    CHECK(ldr_pq_writer_open(path, names, bad, 2, &o, &err) == NULL);
    CHECK_CONTAINS(err.msg, "invalid type");
    o.codec = (ldr_pq_codec)3; /* LZO */
    CHECK(ldr_pq_writer_open(path, names, types, 2, &o, &err) == NULL);
    CHECK_CONTAINS(err.msg, "codec");
    o = ldr_pq_write_opts_default();
    o.row_group_rows = 0;
    CHECK(ldr_pq_writer_open(path, names, types, 2, &o, &err) == NULL);
    o = ldr_pq_write_opts_default();
    CHECK(ldr_pq_writer_open("/nonexistent-dir/x.parquet", names, types, 2, &o, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EIO);
    CHECK_CONTAINS(err.msg, "/nonexistent-dir/x.parquet.tmp-");

    ldr_pq_writer *w = ldr_pq_writer_open(path, names, types, 2, &o, &err);
    CHECK(w != NULL);
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "a", ldr_col_new(LDR_TYPE_INT32, 0));
    CHECK_FAILS(ldr_pq_writer_write(w, b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "batch has 1 columns, the file has 2");
    ldr_batch_add(b, "b", ldr_col_new(LDR_TYPE_BYTES, 0));
    CHECK_FAILS(ldr_pq_writer_write(w, b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "column b is Bytes in the batch, String in the file");
    ldr_pq_writer_abort(w);
    ldr_batch_free(b);
    CHECK(!file_exists(path));
}

/* Dictionary encoding must pay off on a low-cardinality column, and every codec must
 * shrink a compressible file. */
TEST(dictionary_and_codecs_shrink_files)
{
    ldr_err err;
    size_t n = 100000;
    ldr_col *s = ldr_col_new(LDR_TYPE_STRING, n);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "category-number-%zu", (i * 7919) % 13);
        ldr_col_append_str(s, buf, (size_t)len);
    }
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "s", s);
    long sizes[2][8] = {{0}};
    ldr_pq_codec codecs[] = {LDR_PQ_UNCOMPRESSED, LDR_PQ_SNAPPY, LDR_PQ_GZIP,
                             LDR_PQ_BROTLI,       LDR_PQ_ZSTD,   LDR_PQ_LZ4_RAW};
    const char *path = tmp_path("sizes.parquet");
    for (int dict = 0; dict <= 1; dict++) {
        for (size_t c = 0; c < LDR_ARRAY_LEN(codecs); c++) {
            ldr_pq_write_opts o = ldr_pq_write_opts_default();
            o.dictionary = dict;
            o.codec = codecs[c];
            CHECK_OK(ldr_pq_write_file(path, b, &o, &err), err);
            struct stat st;
            sizes[dict][c] = stat(path, &st) == 0 ? (long)st.st_size : -1;
        }
    }
    CHECK(sizes[1][0] * 20 < sizes[0][0]); /* dictionary, uncompressed: ~4 bits a row */
    for (size_t c = 1; c < LDR_ARRAY_LEN(codecs); c++)
        if (!(sizes[0][c] * 4 < sizes[0][0]))
            HARNESS_FAIL("codec %d: %ld bytes, uncompressed %ld", (int)codecs[c], sizes[0][c],
                         sizes[0][0]);
    unlink(path);
    ldr_batch_free(b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/larder-test-writer-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(thrift_page_header_example);
    RUN(thrift_minimal_file_metadata);
    RUN(thrift_long_forms_and_errors);
    RUN(cases_roundtrip_through_reader);
    RUN(statistics_prune_row_groups);
    RUN(threads_write_identical_bytes);
    RUN(threads_abort_in_flight);
    RUN(temporary_file_and_rename);
    RUN(api_errors);
    RUN(dictionary_and_codecs_shrink_files);
    rmdir(tmpdir);
    return harness_done();
}
