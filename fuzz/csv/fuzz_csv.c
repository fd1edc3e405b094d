/*
 * fuzz_csv.c -- libFuzzer driver for the CSV reader and the CSV / JSON Lines writers.
 *
 * Input layout: byte 0 picks the read options (inference, all_columns, delimiter, small
 * limits), byte 1 up to three of the first eight header columns for a schema (3 bits
 * each, 0 ends the list), bytes 2-3 their types (a nibble each), the rest is CSV text. The driver
 * reads the text once as strings to learn the header, then with the chosen options and schema.
 * Ranges: the strings read is also done range by range (ldr_csv_split_mem with a small
 * target), which must give the same rows in order, or fail exactly when the whole fails.
 * Invariants checked on every batch that reads (a violation aborts with a description on stderr):
 *   - shape: every column has the batch's row count;
 *   - CSV round trip: ldr_csv_write_batch, read back with the batch's own names and
 *     types, gives the same cells (an empty string reads back as null, as documented;
 *     batches holding timestamps outside years 1-9999, which no RFC 3339 text can carry,
 *     are skipped);
 *   - JSON Lines: every line is a JSON object (jansson, strict UTF-8) with one key per
 *     column (per distinct rendered name: invalid UTF-8 in names becomes U+FFFD).
 * Failures must carry a message starting with the file name. No state between calls.
 * Corpus: fuzz/csv/corpus/, dictionary: fuzz/csv/csv.dict.
 */
#include "../fuzz.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv/csv.h"

#define NAME "fuzz.csv"

static const ldr_type type_table[] = {
    LDR_TYPE_INVALID,      LDR_TYPE_STRING,      LDR_TYPE_BYTES,
    LDR_TYPE_INT32,        LDR_TYPE_INT64,       LDR_TYPE_FLOAT32,
    LDR_TYPE_FLOAT64,      LDR_TYPE_BOOL,        LDR_TYPE_UNIX_TIMESTAMP,
    LDR_TYPE_INT64_LIST,   LDR_TYPE_STRING_LIST, LDR_TYPE_FLOAT64_LIST,
    LDR_TYPE_BYTES_LIST,   LDR_TYPE_BOOL_LIST,   LDR_TYPE_UNIX_TIMESTAMP_LIST,
    LDR_TYPE_FLOAT32_LIST,
};
_Static_assert(LDR_ARRAY_LEN(type_table) == 16, "one type per nibble value");

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_csv: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_error(ldr_code rc, const ldr_err *err)
{
    if (rc != LDR_EINVAL && rc != LDR_ELIMIT)
        fail("unexpected error code", err->msg);
    if (strncmp(err->msg, NAME ":", strlen(NAME) + 1) != 0)
        fail("error message without the file name", err->msg);
}

static void check_shape(const ldr_batch *b)
{
    if (b->n_cols == 0)
        fail("a batch without columns", NULL);
    for (size_t j = 0; j < b->n_cols; j++) {
        if (b->cols[j]->n != b->n_rows)
            fail("column length differs from the batch's row count", b->names[j]);
    }
}

/* Timestamps outside years 1-9999 format to text that no parser reads. */
static bool ts_in_range(const ldr_col *c)
{
    if (ldr_type_is_list(c->type))
        return ts_in_range(c->child);
    if (c->type != LDR_TYPE_UNIX_TIMESTAMP)
        return true;
    for (size_t i = 0; i < c->n; i++) {
        int64_t ts = ldr_col_i64(c, i);
        if (ldr_col_valid(c, i) &&
            (ts < INT64_C(-62135596800000000) || ts >= INT64_C(253402300800000000)))
            return false;
    }
    return true;
}

/* Cell i of a against cell j of b (typed values; "" as null for strings). */
static bool cells_equal_at(const ldr_col *a, size_t i, const ldr_col *b, size_t j, ldr_arena *ar)
{
    ldr_value va, vb;
    ldr_col_get(a, i, ar, &va);
    ldr_col_get(b, j, ar, &vb);
    if (a->type == LDR_TYPE_STRING || a->type == LDR_TYPE_BYTES) {
        va.is_null = va.is_null || va.u.str.len == 0;
        vb.is_null = vb.is_null || vb.u.str.len == 0;
    }
    return ldr_value_eq(&va, &vb);
}

/* Split into ranges (target from the text's length and a selector byte) and read range by
 * range as strings, the text gives exactly the rows of the whole read, in order, or fails
 * in some range exactly when the whole read fails. whole: the whole read, NULL when it
 * failed. */
static void check_ranges(const char *text, size_t len, const ldr_csv_read_opts *plain,
                         const ldr_batch *whole, uint8_t sel)
{
    if (plain->max_rows)
        return; /* the row limit applies per read: a range may hold fewer */
    size_t target = 1 + (len >> (1 + sel % 4)) + sel / 4;
    ldr_csv_range *r = NULL;
    size_t n = 0;
    ldr_csv_split_mem(text, len, plain, target, &r, &n);
    ldr_arena ar;
    ldr_arena_init(&ar, 4096);
    size_t row = 0;
    bool failed = false;
    for (size_t i = 0; i < n && !failed; i++) {
        if (i > 0 && r[i].begin != r[i - 1].end)
            fail("ranges are not contiguous", NULL);
        ldr_csv_read_opts ro = *plain;
        ro.range_begin = r[i].begin;
        ro.range_end = r[i].end;
        ro.range_line = r[i].line;
        ldr_batch *b = NULL;
        ldr_err err;
        ldr_err_clear(&err);
        ldr_code rc = ldr_csv_read_mem(NAME, text, len, &ro, &b, &err);
        if (rc != LDR_OK) {
            check_error(rc, &err);
            failed = true;
            break;
        }
        if (whole && (b->n_cols != whole->n_cols || row + b->n_rows > whole->n_rows))
            fail("a range read has other columns or more rows than the whole", NULL);
        for (size_t k = 0; whole && k < b->n_rows; k++, row++)
            for (size_t c = 0; c < b->n_cols; c++)
                if (!cells_equal_at(b->cols[c], k, whole->cols[c], row, &ar))
                    fail("a range read differs from the whole read", whole->names[c]);
        ldr_batch_free(b);
    }
    if (whole && (failed || row != whole->n_rows))
        fail(failed ? "a range fails but the whole text reads" : "the ranges lose rows", NULL);
    if (!whole && !failed)
        fail("the whole text fails but every range reads", NULL);
    ldr_arena_fini(&ar);
    ldr_free(r);
}

static bool cells_equal(const ldr_col *a, const ldr_col *b, size_t i, ldr_arena *ar)
{
    return cells_equal_at(a, i, b, i, ar);
}

/* Writes to a heap buffer through open_memstream; caller frees with free(). */
static char *render(ldr_code (*fn)(const ldr_batch *, FILE *, ldr_err *), const ldr_batch *b,
                    size_t *len)
{
    char *ptr = NULL;
    FILE *f = open_memstream(&ptr, len);
    if (!f)
        fail("open_memstream failed", NULL);
    ldr_err err;
    ldr_err_clear(&err);
    if (fn(b, f, &err) != LDR_OK)
        fail("writer failed", err.msg);
    fclose(f);
    return ptr;
}

static void check_csv_roundtrip(const ldr_batch *b)
{
    for (size_t j = 0; j < b->n_cols; j++) {
        if (!ts_in_range(b->cols[j]))
            return;
    }
    size_t len = 0;
    char *text = render(ldr_csv_write_batch, b, &len);
    ldr_type *types = ldr_xcalloc(b->n_cols, sizeof *types);
    for (size_t j = 0; j < b->n_cols; j++)
        types[j] = b->cols[j]->type;
    ldr_csv_read_opts o = ldr_csv_read_opts_default();
    o.names = (const char *const *)b->names;
    o.types = types;
    o.n = b->n_cols;
    o.all_columns = false;
    ldr_batch *back = NULL;
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr_csv_read_mem("written.csv", text, len, &o, &back, &err) != LDR_OK) {
        fprintf(stderr, "--- written:\n%.*s\n", (int)len, text);
        fail("written CSV does not read back", err.msg);
    }
    if (back->n_rows != b->n_rows || back->n_cols != b->n_cols)
        fail("round trip changed the shape", NULL);
    ldr_arena ar;
    ldr_arena_init(&ar, 0);
    for (size_t j = 0; j < b->n_cols; j++) {
        for (size_t i = 0; i < b->n_rows; i++) {
            if (!cells_equal(b->cols[j], back->cols[j], i, &ar)) {
                fprintf(stderr, "--- written:\n%.*s\n--- row %zu\n", (int)len, text, i);
                fail("round trip changed a value in column", b->names[j]);
            }
        }
    }
    ldr_arena_fini(&ar);
    ldr_batch_free(back);
    ldr_free(types);
    free(text); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
}

/* Keys in the JSON output: names are distinct, but invalid UTF-8 bytes all become
 * U+FFFD there, so two names may render alike (a JSON object then keeps one). */
static size_t distinct_json_names(const ldr_batch *b)
{
    ldr_col *names = ldr_col_new(LDR_TYPE_STRING, b->n_cols);
    for (size_t j = 0; j < b->n_cols; j++)
        ldr_col_append_str(names, b->names[j], strlen(b->names[j]));
    ldr_map seen;
    ldr_map_init(&seen);
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_buf text;
    ldr_buf_init(&text, 1u << 20);
    ldr_err err;
    ldr_err_clear(&err);
    for (size_t j = 0; j < b->n_cols; j++) {
        ldr_buf_reset(&text);
        if (ldr_json_format_value(names, j, &text, &err) != LDR_OK)
            fail("cannot format a name", err.msg);
        ldr_map_put(&seen, ldr_arena_strdup(&a, ldr_buf_cstr(&text)), &seen);
    }
    size_t n = seen.n;
    ldr_buf_fini(&text);
    ldr_arena_fini(&a);
    ldr_map_fini(&seen);
    ldr_col_free(names);
    return n;
}

static void check_jsonl(const ldr_batch *b)
{
    size_t keys = distinct_json_names(b);
    size_t len = 0;
    char *text = render(ldr_jsonl_write_batch, b, &len);
    size_t lines = 0;
    for (char *p = text; p < text + len; lines++) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (!nl)
            fail("JSON Lines output without a final newline", NULL);
        json_error_t je;
        json_t *j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je);
        if (!j || !json_is_object(j)) {
            fprintf(stderr, "--- line: %.*s\n", (int)(nl - p), p);
            fail("JSON Lines output is not a JSON object", je.text);
        }
        if (json_object_size(j) != keys)
            fail("JSON object has the wrong number of keys", NULL);
        json_decref(j);
        p = nl + 1;
    }
    if (lines != b->n_rows)
        fail("JSON Lines output has the wrong number of lines", NULL);
    free(text); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
}

static void check_batch(const ldr_batch *b)
{
    check_shape(b);
    check_csv_roundtrip(b);
    check_jsonl(b);
}

/* Options from byte 0: bit 0 infer, bit 1 all_columns, bits 2-3 delimiter, bit 4 small
 * limits. */
static ldr_csv_read_opts options(uint8_t sel)
{
    static const char delims[] = {',', '\t', ';', '|'};
    ldr_csv_read_opts o = ldr_csv_read_opts_default();
    o.infer = sel & 1;
    o.all_columns = (sel >> 1) & 1;
    o.delimiter = delims[(sel >> 2) & 3];
    if (sel & 16) {
        o.max_field_bytes = 64;
        o.max_rows = 50;
        o.max_columns = 16;
    }
    return o;
}

/* A schema of up to 3 of the first 8 columns (modulo the header's width, repeats
 * dropped), types from the table ("Invalid" means inferred). Returns the count. */
static size_t pick_schema(const ldr_batch *header, uint8_t sel, uint16_t type_sel,
                          const char *names[3], ldr_type types[3])
{
    size_t n = 0;
    for (size_t k = 0; k < 3 && sel; k++) {
        size_t col = (size_t)(sel & 7) % header->n_cols;
        sel >>= 3;
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || strcmp(names[i], header->names[col]) == 0;
        if (dup)
            continue;
        names[n] = header->names[col];
        types[n] = type_table[type_sel >> (4 * k) & 15];
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    ldr_csv_read_opts o = options(data[0]);
    uint8_t schema_sel = data[1];
    uint16_t type_sel = (uint16_t)(data[2] | data[3] << 8);
    const char *text = (const char *)data + 4;
    size_t len = size - 4;

    /* First pass: strings only, to learn the header (and to exercise that mode). */
    ldr_csv_read_opts plain = o;
    plain.infer = false;
    ldr_batch *names = NULL;
    ldr_err err;
    ldr_err_clear(&err);
    ldr_code rc = ldr_csv_read_mem(NAME, text, len, &plain, &names, &err);
    check_ranges(text, len, &plain, rc == LDR_OK ? names : NULL, data[1]);
    if (rc != LDR_OK) {
        check_error(rc, &err);
        return 0;
    }
    check_batch(names);

    /* Second pass: with a schema picked by bytes 1-3. */
    const char *schema_names[3];
    ldr_type schema_types[3];
    size_t n = pick_schema(names, schema_sel, type_sel, schema_names, schema_types);
    o.names = schema_names;
    o.types = schema_types;
    o.n = n;
    ldr_batch *b = NULL;
    rc = ldr_csv_read_mem(NAME, text, len, &o, &b, &err);
    if (rc == LDR_OK) {
        check_batch(b);
        ldr_batch_free(b);
    } else {
        check_error(rc, &err);
    }
    ldr_batch_free(names);
    return 0;
}
