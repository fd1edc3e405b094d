/*
 * writer_cases.h -- the Parquet writer's test corpus, shared by tests/unit/parquet/
 * test_writer.c (round trips through Larder's reader) and tests/integration/
 * pq_writer_export.c (files that DuckDB and hyparquet must read identically).
 *
 * Each case is a deterministic batch builder plus writer options and a batch size: every
 * Larder type, nulls everywhere, lists (null, empty, null elements, long), extreme values
 * (INT64_MIN, NaN, -0.0, empty and non-ASCII strings, NUL bytes), all-null and empty
 * files, high-cardinality columns that overflow the dictionary, pages over 1 MiB,
 * dictionary-encoded input columns, every codec, several row groups and batches that do
 * not line up with row groups. pqw_value_json renders one value in the canonical form the
 * integration test compares (ints as JSON numbers, int64 and timestamps as decimal
 * strings, floats as IEEE bit patterns in hex or "nan", strings and bytes as hex).
 * Header-only (static functions); tests are single-threaded.
 */
#ifndef LDR_TESTS_UNIT_PARQUET_WRITER_CASES_H
#define LDR_TESTS_UNIT_PARQUET_WRITER_CASES_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "col/col.h"
#include "parquet/parquet.h"

static uint64_t pqw_rng = 1;

static uint64_t pqw_rand(void)
{
    pqw_rng ^= pqw_rng << 13;
    pqw_rng ^= pqw_rng >> 7;
    pqw_rng ^= pqw_rng << 17;
    return pqw_rng;
}

static const ldr_type pqw_scalar_types[] = {
    LDR_TYPE_INT32, LDR_TYPE_INT64,  LDR_TYPE_FLOAT32, LDR_TYPE_FLOAT64,
    LDR_TYPE_BOOL,  LDR_TYPE_STRING, LDR_TYPE_BYTES,   LDR_TYPE_UNIX_TIMESTAMP,
};

static const char *const pqw_words[] = {
    "alpha", "beta", "gamma", "", "héllo wörld", "日本語", "emoji 🎉", "a,b;\"c\"\n", "zeta",
};

/* Appends one random non-null value of scalar type t to c; `card` bounds the number of
 * distinct values (0 = unbounded). */
static void pqw_append_random(ldr_col *c, ldr_type t, uint64_t card)
{
    uint64_t r = pqw_rand();
    uint64_t k = card ? r % card : r;
    char buf[64];
    switch (t) {
    case LDR_TYPE_INT32:
        ldr_col_append_i32(c, (int32_t)(k % 2000000) - 1000000);
        break;
    case LDR_TYPE_INT64:
        ldr_col_append_i64(c, card ? (int64_t)k * 1000003 - 5 : (int64_t)r);
        break;
    case LDR_TYPE_FLOAT32:
        ldr_col_append_f32(c, (float)((double)(k % 100000) / 7.0 - 500.0));
        break;
    case LDR_TYPE_FLOAT64:
        ldr_col_append_f64(c, (double)(k % 1000000) / 3.0 - 1e5);
        break;
    case LDR_TYPE_BOOL:
        ldr_col_append_bool(c, (k & 1) != 0);
        break;
    case LDR_TYPE_STRING: {
        const char *w = pqw_words[k % LDR_ARRAY_LEN(pqw_words)];
        int n = snprintf(buf, sizeof buf, "%s-%llu", w, (unsigned long long)(k % 97));
        ldr_col_append_str(c, buf, (size_t)n);
        break;
    }
    case LDR_TYPE_BYTES: {
        size_t n = (size_t)(k % 9);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(uint8_t)((k >> (i * 3)) + i); /* includes NUL and high bytes */
        ldr_col_append_str(c, buf, n);
        break;
    }
    default: /* timestamps between 1969 and 2040, microsecond precision */
        ldr_col_append_i64(c, (int64_t)(k % 2240000000000000ull) - 10000000000000);
        break;
    }
}

/* A scalar column of n rows, every `null_every`-th row null (0 = none). */
static ldr_col *pqw_scalar_col(ldr_type t, size_t n, size_t null_every, uint64_t card)
{
    ldr_col *c = ldr_col_new(t, n);
    for (size_t i = 0; i < n; i++) {
        if (null_every && (pqw_rand() % null_every) == 0)
            ldr_col_append_null(c);
        else
            pqw_append_random(c, t, card);
    }
    return c;
}

static ldr_batch *pqw_make_scalars(void)
{
    size_t n = 3500;
    ldr_batch *b = ldr_batch_new();
    char name[32];
    for (size_t i = 0; i < LDR_ARRAY_LEN(pqw_scalar_types); i++) {
        ldr_type t = pqw_scalar_types[i];
        snprintf(name, sizeof name, "%s_lowcard", ldr_type_name(t));
        ldr_batch_add(b, name, pqw_scalar_col(t, n, 10, 50));
        snprintf(name, sizeof name, "%s_any", ldr_type_name(t));
        ldr_batch_add(b, name, pqw_scalar_col(t, n, 0, 0));
    }
    return b;
}

/* Array(T) of each scalar T: null lists, empty lists, null elements, a few long lists. */
static ldr_col *pqw_list_col(ldr_type elem, size_t n)
{
    ldr_col *c = ldr_col_new((ldr_type)(elem + LDR_TYPE_LIST_OFFSET), n);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = pqw_rand() % 10;
        if (r == 0) {
            ldr_col_append_null(c);
            continue;
        }
        size_t len = r == 1 ? 0 : (i % 97 == 5 ? 300 : (size_t)(pqw_rand() % 6));
        for (size_t k = 0; k < len; k++) {
            if (pqw_rand() % 7 == 0)
                ldr_col_append_null(c->child);
            else
                pqw_append_random(c->child, elem, 40);
        }
        ldr_col_append_list(c);
    }
    return c;
}

static ldr_batch *pqw_make_lists(void)
{
    size_t n = 1200;
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "id", pqw_scalar_col(LDR_TYPE_INT64, n, 0, 0));
    char name[40];
    for (size_t i = 0; i < LDR_ARRAY_LEN(pqw_scalar_types); i++) {
        snprintf(name, sizeof name, "list_%s", ldr_type_name(pqw_scalar_types[i]));
        ldr_batch_add(b, name, pqw_list_col(pqw_scalar_types[i], n));
    }
    return b;
}

/* Extreme values; one row each, in every column. */
static ldr_batch *pqw_make_edges(void)
{
    ldr_batch *b = ldr_batch_new();
    const int32_t i32[] = {INT32_MIN, INT32_MAX, 0, -1, 1, 42, INT32_MIN, 7};
    const int64_t i64[] = {
        INT64_MIN, INT64_MAX, 0, -1, 1, (int64_t)1 << 53, -((int64_t)1 << 53) - 1, 9};
    const float f32[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e-45f, 3.4028235e38f, 0.1f};
    const double f64[] = {(double)NAN, (double)INFINITY, -(double)INFINITY,      -0.0,
                          0.0,         5e-324,           1.7976931348623157e308, 0.1};
    const int64_t ts[] = {0,
                          -1,
                          1,
                          -62135596800000000,
                          253402300799999999,
                          1704141296123456,
                          -2208988800000000,
                          86400000000};
    const char *strs[] = {"",          "a",           "\xc3\xa9t\xc3\xa9",  "\xf0\x9f\x98\x80",
                          "tab\there", "line\nbreak", "quote\"back\\slash", "zzzz"};
    size_t n = LDR_ARRAY_LEN(i32);
    ldr_col *c[8];
    for (size_t k = 0; k < 8; k++)
        c[k] = ldr_col_new(pqw_scalar_types[k], n);
    for (size_t i = 0; i < n; i++) {
        ldr_col_append_i32(c[0], i32[i]);
        ldr_col_append_i64(c[1], i64[i]);
        ldr_col_append_f32(c[2], f32[i]);
        ldr_col_append_f64(c[3], f64[i]);
        ldr_col_append_bool(c[4], i % 3 == 0);
        ldr_col_append_str(c[5], strs[i], strlen(strs[i]));
        ldr_col_append_str(c[6], "\0\xff\x00\x80zz", i % 7);
        ldr_col_append_i64(c[7], ts[i]);
    }
    for (size_t k = 0; k < 8; k++)
        ldr_batch_add(b, ldr_type_name(pqw_scalar_types[k]), c[k]);
    return b;
}

static ldr_batch *pqw_make_all_null(void)
{
    size_t n = 1000;
    ldr_batch *b = ldr_batch_new();
    char name[40];
    for (size_t k = 0; k < 8; k++) {
        ldr_col *c = ldr_col_new(pqw_scalar_types[k], n);
        ldr_col *l = ldr_col_new((ldr_type)(pqw_scalar_types[k] + LDR_TYPE_LIST_OFFSET), n);
        for (size_t i = 0; i < n; i++) {
            ldr_col_append_null(c);
            ldr_col_append_null(l);
        }
        snprintf(name, sizeof name, "n_%s", ldr_type_name(pqw_scalar_types[k]));
        ldr_batch_add(b, name, c);
        snprintf(name, sizeof name, "l_%s", ldr_type_name(pqw_scalar_types[k]));
        ldr_batch_add(b, name, l);
    }
    return b;
}

static ldr_batch *pqw_make_empty(void)
{
    ldr_batch *b = ldr_batch_new();
    for (size_t k = 0; k < 8; k++) {
        ldr_batch_add(b, ldr_type_name(pqw_scalar_types[k]), ldr_col_new(pqw_scalar_types[k], 0));
    }
    ldr_batch_add(b, "list", ldr_col_new(LDR_TYPE_FLOAT32_LIST, 0));
    return b;
}

/* 60 000 distinct strings of ~30 bytes: the dictionary passes 1 MiB and falls back. */
static ldr_batch *pqw_make_high_card(void)
{
    size_t n = 60000;
    ldr_batch *b = ldr_batch_new();
    ldr_col *s = ldr_col_new(LDR_TYPE_STRING, n);
    ldr_col *d = ldr_col_new(LDR_TYPE_FLOAT64, n);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        int len =
            snprintf(buf, sizeof buf, "customer-%08zu-%016llx", i, (unsigned long long)pqw_rand());
        ldr_col_append_str(s, buf, (size_t)len);
        ldr_col_append_f64(d, (double)pqw_rand() / 3.0);
    }
    ldr_batch_add(b, "key", s);
    ldr_batch_add(b, "score", d);
    return b;
}

/* Values larger than a page: 3 strings of 1.5 MiB between small ones. */
static ldr_batch *pqw_make_big_values(void)
{
    size_t n = 9, big = (size_t)3 << 19;
    ldr_batch *b = ldr_batch_new();
    ldr_col *s = ldr_col_new(LDR_TYPE_BYTES, n);
    char *buf = ldr_xmalloc(big);
    for (size_t i = 0; i < n; i++) {
        size_t len = i % 3 == 1 ? big : i;
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)('a' + (k * 7 + i) % 26);
        ldr_col_append_str(s, buf, len);
    }
    ldr_free(buf);
    ldr_batch_add(b, "blob", s);
    return b;
}

/* Dictionary-encoded input columns (as the reader's keep_dict and the CSV reader produce),
 * with unused and duplicate dictionary entries. */
static ldr_batch *pqw_make_dict_input(void)
{
    size_t n = 5000;
    ldr_col *sd = ldr_col_new(LDR_TYPE_STRING, 8);
    const char *v[] = {"red", "green", "blue", "green", "unused", "", "ünï", "red"};
    for (size_t i = 0; i < LDR_ARRAY_LEN(v); i++)
        ldr_col_append_str(sd, v[i], strlen(v[i]));
    ldr_col *s = ldr_col_new_dict(LDR_TYPE_STRING, sd, n);
    ldr_col *id = ldr_col_new(LDR_TYPE_INT64, 4);
    for (int64_t i = 0; i < 4; i++)
        ldr_col_append_i64(id, i * -1000000007);
    ldr_col *d = ldr_col_new_dict(LDR_TYPE_INT64, id, n);
    for (size_t i = 0; i < n; i++) {
        if (i % 11 == 3)
            ldr_col_append_null(s);
        else
            ldr_col_append_index(s, (int32_t)(pqw_rand() % 8 == 4 ? 6 : pqw_rand() % 4));
        if (i % 13 == 0)
            ldr_col_append_null(d);
        else
            ldr_col_append_index(d, (int32_t)(i % 4));
    }
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "color", s);
    ldr_batch_add(b, "code", d);
    return b;
}

typedef struct pqw_case {
    const char *name;
    ldr_batch *(*make)(void);
    ldr_pq_codec codec;
    bool dictionary;
    bool statistics;
    size_t row_group_rows;
    size_t batch_rows; /* write in batches of this many rows; 0 = one batch */
} pqw_case;

static const pqw_case pqw_cases[] = {
    {"scalars_snappy_dict", pqw_make_scalars, LDR_PQ_SNAPPY, true, true, 1000, 0},
    {"scalars_zstd_plain", pqw_make_scalars, LDR_PQ_ZSTD, false, true, 1000000, 0},
    {"scalars_gzip", pqw_make_scalars, LDR_PQ_GZIP, true, true, 1500, 0},
    {"scalars_brotli", pqw_make_scalars, LDR_PQ_BROTLI, true, true, 2000, 0},
    {"scalars_lz4raw", pqw_make_scalars, LDR_PQ_LZ4_RAW, true, true, 1000000, 0},
    {"scalars_uncompressed", pqw_make_scalars, LDR_PQ_UNCOMPRESSED, true, false, 1000000, 0},
    {"scalars_batches", pqw_make_scalars, LDR_PQ_SNAPPY, true, true, 1000, 333},
    {"scalars_small_groups", pqw_make_scalars, LDR_PQ_ZSTD, true, true, 7, 1100},
    {"lists_snappy_dict", pqw_make_lists, LDR_PQ_SNAPPY, true, true, 500, 0},
    {"lists_zstd_plain", pqw_make_lists, LDR_PQ_ZSTD, false, true, 1000000, 0},
    {"lists_batches", pqw_make_lists, LDR_PQ_UNCOMPRESSED, true, true, 400, 77},
    {"edges_snappy", pqw_make_edges, LDR_PQ_SNAPPY, true, true, 1000, 0},
    {"edges_plain", pqw_make_edges, LDR_PQ_UNCOMPRESSED, false, true, 3, 0},
    {"all_null", pqw_make_all_null, LDR_PQ_SNAPPY, true, true, 600, 0},
    {"empty", pqw_make_empty, LDR_PQ_SNAPPY, true, true, 1000, 0},
    {"high_cardinality", pqw_make_high_card, LDR_PQ_ZSTD, true, true, 1000000, 0},
    {"big_values", pqw_make_big_values, LDR_PQ_SNAPPY, true, true, 1000, 0},
    {"dict_input", pqw_make_dict_input, LDR_PQ_SNAPPY, true, true, 2000, 0},
    {"dict_input_plain", pqw_make_dict_input, LDR_PQ_GZIP, false, true, 2000, 999},
};

static ldr_pq_write_opts pqw_opts(const pqw_case *c)
{
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    o.codec = c->codec;
    o.dictionary = c->dictionary;
    o.statistics = c->statistics;
    o.row_group_rows = c->row_group_rows;
    return o;
}

/* Builds the case's batch (deterministically) and writes it to path. */
static ldr_code pqw_write_case(const pqw_case *c, const char *path, ldr_batch **out_batch,
                               ldr_err *err)
{
    pqw_rng = 0x9E3779B97F4A7C15u ^ (uint64_t)strlen(c->name);
    ldr_batch *b = c->make();
    *out_batch = b;
    ldr_pq_write_opts o = pqw_opts(c);
    if (c->batch_rows == 0)
        return ldr_pq_write_file(path, b, &o, err);
    ldr_type types[64];
    for (size_t i = 0; i < b->n_cols; i++)
        types[i] = b->cols[i]->type;
    ldr_pq_writer *w =
        ldr_pq_writer_open(path, (const char *const *)b->names, types, b->n_cols, &o, err);
    if (!w)
        return err->code;
    for (size_t r = 0; r < b->n_rows; r += c->batch_rows) {
        size_t k = b->n_rows - r < c->batch_rows ? b->n_rows - r : c->batch_rows;
        int64_t *rows = ldr_xmalloc(k * sizeof *rows);
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

/* ---- canonical JSON of values ---------------------------------------------------------- */

static void pqw_hex(FILE *f, const uint8_t *p, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

static void pqw_value_json(FILE *f, const ldr_col *c, size_t i)
{
    if (!ldr_col_valid(c, i)) {
        fputs("null", f);
        return;
    }
    switch (c->type) {
    case LDR_TYPE_INT32:
        fprintf(f, "%d", ldr_col_i32(c, i));
        break;
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        fprintf(f, "\"%lld\"", (long long)ldr_col_i64(c, i));
        break;
    case LDR_TYPE_BOOL:
        fputs(ldr_col_bool(c, i) ? "true" : "false", f);
        break;
    case LDR_TYPE_FLOAT32: {
        float x = ldr_col_f32(c, i);
        uint32_t u;
        memcpy(&u, &x, 4);
        if (isnan(x))
            fputs("\"nan\"", f);
        else
            fprintf(f, "\"%08x\"", u);
        break;
    }
    case LDR_TYPE_FLOAT64: {
        double x = ldr_col_f64(c, i);
        uint64_t u;
        memcpy(&u, &x, 8);
        if (isnan(x))
            fputs("\"nan\"", f);
        else
            fprintf(f, "\"%016llx\"", (unsigned long long)u);
        break;
    }
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t len;
        const char *p = ldr_col_str(c, i, &len);
        pqw_hex(f, (const uint8_t *)p, len);
        break;
    }
    default: {
        size_t b, e;
        ldr_col_list(c, i, &b, &e);
        fputc('[', f);
        for (size_t k = b; k < e; k++) {
            if (k > b)
                fputc(',', f);
            pqw_value_json(f, c->child, k);
        }
        fputc(']', f);
        break;
    }
    }
}

#endif /* LDR_TESTS_UNIT_PARQUET_WRITER_CASES_H */
