/*
 * fuzz_online_row.c -- libFuzzer driver for the online row codec's decoders
 * (ldr_online_row_entries, ldr_online_row_decode) over arbitrary bytes, as they would
 * come back from a damaged online store.
 *
 * Each input is decoded twice: as a list of entries, and for 16 requested features named
 * like the seeds' (f_bytes ... l_ts) with requested types rotated by the input's length,
 * so both exact matches and every conversion path run. Invariants (a violation aborts):
 * failures are LDR_ECORRUPT with a message; when the entry list decodes, re-encoding it
 * and decoding again gives the same entries (hashes, types and values), and a projection
 * decode then succeeds too unless a requested feature is stored twice, returning for
 * each feature stored with exactly the requested type the same value as the entry list.
 * Nothing is kept between inputs. Corpus: fuzz/online_row/corpus/ (rows written by the
 * codec, see the seeds' names); dictionary: fuzz/online_row/online_row.dict.
 */
#include "../fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "online/online.h"

#define N_FEATURES 16

static const char *const names[N_FEATURES] = {
    "f_bytes", "f_string", "f_i32", "f_i64", "f_f64", "f_f32", "f_bool", "f_ts",
    "l_bytes", "l_string", "l_i32", "l_i64", "l_f64", "l_f32", "l_bool", "l_ts"};
static const ldr_type all_types[N_FEATURES] = {LDR_TYPE_BYTES,        LDR_TYPE_STRING,
                                               LDR_TYPE_INT32,        LDR_TYPE_INT64,
                                               LDR_TYPE_FLOAT64,      LDR_TYPE_FLOAT32,
                                               LDR_TYPE_BOOL,         LDR_TYPE_UNIX_TIMESTAMP,
                                               LDR_TYPE_BYTES_LIST,   LDR_TYPE_STRING_LIST,
                                               LDR_TYPE_INT32_LIST,   LDR_TYPE_INT64_LIST,
                                               LDR_TYPE_FLOAT64_LIST, LDR_TYPE_FLOAT32_LIST,
                                               LDR_TYPE_BOOL_LIST,    LDR_TYPE_UNIX_TIMESTAMP_LIST};

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_online_row: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_failure(ldr_code rc, const ldr_err *err, const char *what)
{
    if (rc != LDR_ECORRUPT || !err->msg[0])
        fail(what, "failed without LDR_ECORRUPT and a message");
}

static bool entries_equal(const ldr_online_row_entry *x, const ldr_online_row_entry *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (x[i].hash != y[i].hash || x[i].value.is_null != y[i].value.is_null)
            return false;
        if (!x[i].value.is_null && !ldr_value_eq(&x[i].value, &y[i].value))
            return false;
    }
    return true;
}

/* Re-encodes the entries under their own hashes and types and decodes them again. */
static void check_reencode(const ldr_online_row_entry *e, size_t n, ldr_arena *a)
{
    ldr_field *fields = ldr_arena_calloc(a, n, sizeof *fields);
    ldr_value *values = ldr_arena_calloc(a, n, sizeof *values);
    uint32_t *hashes = ldr_arena_calloc(a, n, sizeof *hashes);
    for (size_t i = 0; i < n; i++) {
        fields[i].name = "";
        fields[i].type = e[i].value.is_null ? LDR_TYPE_INT64 : e[i].value.type;
        values[i] = e[i].value;
        hashes[i] = e[i].hash;
    }
    /* A layout built by hand: entries may share hashes, which layout_init would refuse. */
    ldr_online_row_layout layout = {fields, n, hashes};
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    ldr_err err;
    if (ldr_online_row_encode(&layout, values, &b, &err) != LDR_OK)
        fail("re-encoding decoded entries failed", err.msg);
    ldr_online_row_entry *again;
    size_t n2;
    if (ldr_online_row_entries(b.ptr, b.len, a, &again, &n2, &err) != LDR_OK)
        fail("decoding re-encoded entries failed", err.msg);
    if (n2 != n || !entries_equal(e, again, n))
        fail("re-encoded entries differ", NULL);
    ldr_buf_fini(&b);
}

/* True when some requested hash occurs more than once among the entries. */
static bool requested_twice(const ldr_online_row_entry *e, size_t n)
{
    for (size_t f = 0; f < N_FEATURES; f++) {
        uint32_t h = ldr_murmur3_32(names[f], strlen(names[f]), 0);
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
            count += e[i].hash == h;
        if (count > 1)
            return true;
    }
    return false;
}

static void check_projection(const uint8_t *data, size_t size, const ldr_online_row_entry *e,
                             size_t n, bool entries_ok, ldr_arena *a)
{
    ldr_type types[N_FEATURES];
    for (size_t i = 0; i < N_FEATURES; i++)
        types[i] = all_types[(i + size) % N_FEATURES];
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, names, types, N_FEATURES, a);
    ldr_value out[N_FEATURES];
    bool present[N_FEATURES];
    ldr_err err;
    ldr_code rc = ldr_online_row_decode(&proj, data, size, a, out, present, &err);
    if (rc != LDR_OK) {
        check_failure(rc, &err, "row decode");
        if (entries_ok && !requested_twice(e, n))
            fail("projection failed where the entry list decoded", err.msg);
        return;
    }
    for (size_t f = 0; entries_ok && f < N_FEATURES; f++) {
        uint32_t h = ldr_murmur3_32(names[f], strlen(names[f]), 0);
        for (size_t i = 0; i < n; i++) {
            if (e[i].hash != h || e[i].value.is_null || e[i].value.type != types[f])
                continue;
            if (!present[f] || !ldr_value_eq(&out[f], &e[i].value))
                fail("projection and entry list disagree", names[f]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_online_row_entry *entries = NULL;
    size_t n = 0;
    ldr_err err;
    ldr_code rc = ldr_online_row_entries(data, size, &a, &entries, &n, &err);
    if (rc == LDR_OK)
        check_reencode(entries, n, &a);
    else
        check_failure(rc, &err, "entry list");
    check_projection(data, size, entries, n, rc == LDR_OK, &a);
    ldr_arena_fini(&a);
    return 0;
}
