/*
 * fuzz_pit.c -- differential libFuzzer driver for the point-in-time join (src/join/).
 *
 * The input bytes describe a small join problem: a 5-byte header (entity and feature row
 * counts, key shape, ttl, created column, filter flag, thread count), then one byte per
 * key value and timestamp, consumed in order (missing bytes read as 0). Byte 0xff is a
 * null, 0xfe and 0xfd the extreme timestamps INT64_MAX and INT64_MIN; other bytes map to
 * a few key values and timestamps so ties and matches are frequent. The driver runs
 * ldr_pit_join and ldr_pit_join_reference and aborts, printing the first differing row,
 * when they disagree. Key shapes: entityless, Int64, String, String dictionary on the
 * feature side, Int32 with a dictionary on the entity side, Int64 + String.
 * Everything is freed on every call; no state is kept.
 * Corpus: fuzz/pit/corpus/, dictionary: fuzz/pit/pit.dict.
 */
#include "../fuzz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "col/col.h"
#include "join/join.h"

#define MAX_ENTITY  96 /* > 64: entityless inputs reach the bucket index of large groups */
#define MAX_FEATURE 128

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint8_t next(reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

typedef enum shape {
    SHAPE_NONE,
    SHAPE_INT64,
    SHAPE_STRING,
    SHAPE_STRING_DICT, /* feature side dictionary-encoded */
    SHAPE_INT32_DICT,  /* entity side dictionary-encoded */
    SHAPE_MULTI,       /* Int64 + String */
    SHAPE_COUNT
} shape;

static const char *const words[] = {"", "a", "b", "ab", "ba", "long-key-000", "long-key-001"};
#define N_WORDS (sizeof words / sizeof words[0])

/* A dictionary over every word, with "a" stored twice (value equality, not index). */
static ldr_col *word_dict(void)
{
    ldr_col *d = ldr_col_new(LDR_TYPE_STRING, N_WORDS + 1);
    for (size_t i = 0; i < N_WORDS; i++)
        ldr_col_append_str(d, words[i], strlen(words[i]));
    ldr_col_append_str(d, "a", 1);
    return d;
}

static ldr_col *int_dict(void)
{
    ldr_col *d = ldr_col_new(LDR_TYPE_INT32, 8);
    for (int32_t v = 0; v < 8; v++)
        ldr_col_append_i32(d, v % 5);
    return d;
}

/* One key column of n rows; col_idx 1 of SHAPE_MULTI is the String part. */
static ldr_col *key_col(reader *r, shape s, int col_idx, bool entity, size_t n)
{
    bool str = s == SHAPE_STRING || s == SHAPE_STRING_DICT || (s == SHAPE_MULTI && col_idx);
    ldr_col *c;
    if (s == SHAPE_STRING_DICT && !entity)
        c = ldr_col_new_dict(LDR_TYPE_STRING, word_dict(), n);
    else if (s == SHAPE_INT32_DICT && entity)
        c = ldr_col_new_dict(LDR_TYPE_INT32, int_dict(), n);
    else
        c = ldr_col_new(str                     ? LDR_TYPE_STRING
                        : s == SHAPE_INT32_DICT ? LDR_TYPE_INT32
                                                : LDR_TYPE_INT64,
                        n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = next(r);
        if (b == 0xff)
            ldr_col_append_null(c);
        else if (c->dict)
            ldr_col_append_index(c, (int32_t)(b % c->dict->n));
        else if (str)
            ldr_col_append_str(c, words[b % N_WORDS], strlen(words[b % N_WORDS]));
        else if (c->type == LDR_TYPE_INT32)
            ldr_col_append_i32(c, b % 6);
        else
            ldr_col_append_i64(c, b & 0x80 ? (int64_t)0x7000000000000000 + (b & 3) : b % 6);
    }
    return c;
}

static ldr_col *ts_col(reader *r, size_t n)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = next(r);
        if (b == 0xff)
            ldr_col_append_null(c);
        else if (b == 0xfe)
            ldr_col_append_i64(c, INT64_MAX);
        else if (b == 0xfd)
            ldr_col_append_i64(c, INT64_MIN);
        else
            ldr_col_append_i64(c, (int64_t)(b % 24) - 4);
    }
    return c;
}

static void compare(const ldr_pit_input *in, int threads)
{
    int64_t got[MAX_ENTITY], want[MAX_ENTITY];
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr_pit_join(in, threads, got, &err) != LDR_OK) {
        fprintf(stderr, "fuzz_pit: ldr_pit_join failed: %s\n", err.msg);
        abort();
    }
    ldr_pit_join_reference(in, want);
    for (size_t i = 0; i < in->n_entity_rows; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr,
                    "fuzz_pit: entity row %zu: engine %" PRId64 ", reference %" PRId64
                    " (%zu x %zu rows, %zu keys, ttl %" PRId64 ", filter %d, threads %d)\n",
                    i, got[i], want[i], in->n_entity_rows, in->n_feature_rows, in->n_keys, in->ttl,
                    (int)in->filter_by_created, threads);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    size_t n_e = next(&r) % (MAX_ENTITY + 1), n_f = next(&r) % (MAX_FEATURE + 1);
    shape s = (shape)(next(&r) % SHAPE_COUNT);
    uint8_t opt = next(&r), thr = next(&r);
    static const ldr_duration ttls[] = {0, 1, 3, 10, INT64_MAX, 2, 5, 0};
    size_t n_keys = s == SHAPE_NONE ? 0 : s == SHAPE_MULTI ? 2 : 1;
    ldr_col *ek[2] = {NULL, NULL}, *fk[2] = {NULL, NULL};
    for (size_t k = 0; k < n_keys; k++) {
        ek[k] = key_col(&r, s, (int)k, true, n_e);
        fk[k] = key_col(&r, s, (int)k, false, n_f);
    }
    ldr_col *et = ts_col(&r, n_e), *ft = ts_col(&r, n_f);
    ldr_col *fc = opt & 0x10 ? ts_col(&r, n_f) : NULL;
    const ldr_col *ekc[2] = {ek[0], ek[1]}, *fkc[2] = {fk[0], fk[1]};
    ldr_pit_input in = {.entity_keys = ekc,
                        .entity_ts = et,
                        .n_entity_rows = n_e,
                        .feature_keys = fkc,
                        .feature_ts = ft,
                        .created_ts = fc,
                        .n_feature_rows = n_f,
                        .n_keys = n_keys,
                        .ttl = ttls[opt & 7],
                        .filter_by_created = (opt & 0x20) != 0};
    compare(&in, 1 + thr % 3);
    for (size_t k = 0; k < 2; k++) {
        ldr_col_free(ek[k]);
        ldr_col_free(fk[k]);
    }
    ldr_col_free(et);
    ldr_col_free(ft);
    ldr_col_free(fc);
    return 0;
}
