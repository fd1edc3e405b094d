/*
 * test_encoding.c -- unit tests for src/parquet/encoding.c: the byte examples of the
 * Parquet reference (§5: RLE/bit-packed hybrid, BIT_PACKED, DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT), encoder/decoder round
 * trips over every bit width and many value patterns (long runs, bit-packed tails, width
 * 0 and 32, 64-bit deltas between INT64_MIN and INT64_MAX), and hostile inputs (truncated
 * streams, oversized counts, bad widths and block shapes, prefixes longer than the previous
 * value) that must fail with LDR_ECORRUPT and a message. Output buffers are sized exactly,
 * so ASan in `make test` catches any write past the requested count. The reader's byte
 * level decoder (reader_int.h) is checked against the 32-bit hybrid decoder.
 */
#include "parquet/parquet_int.h"

#include "harness.h"
#include "parquet/reader_int.h"

static uint64_t rng_state = 88172645463325252u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- RLE / bit-packing hybrid ----------------------------------------------------------- */

static void rle_roundtrip(const uint32_t *v, size_t n, unsigned w)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    CHECK_OK(ldr__pq_rle_encode(v, n, w, &b, &err), err);
    uint32_t *out = ldr_xmalloc(n * sizeof *out + 1);
    size_t used = 0;
    CHECK_OK(ldr__pq_rle_decode((const uint8_t *)b.ptr, b.len, w, out, n, &used, &err), err);
    if (used != b.len)
        HARNESS_FAIL("w=%u n=%zu: consumed %zu of %zu bytes", w, n, used, b.len);
    if (n && memcmp(out, v, n * sizeof *v) != 0)
        HARNESS_FAIL("w=%u n=%zu: values differ", w, n);
    ldr_free(out);
    ldr_buf_fini(&b);
}

static void check_bytes(const ldr_buf *b, const uint8_t *want, size_t len, const char *what)
{
    if (b->len != len || memcmp(b->ptr, want, len) != 0) {
        printf("# %s: got", what);
        for (size_t i = 0; i < b->len; i++)
            printf(" %02X", (uint8_t)b->ptr[i]);
        printf("\n");
        HARNESS_FAIL("%s: bytes differ from the reference", what);
    }
}

TEST(rle_reference_examples)
{
    ldr_err err;
    uint32_t out[100];
    size_t used;
    /* 100 x 1 at w = 1 */
    const uint8_t rle100[] = {0xC8, 0x01, 0x01};
    CHECK_OK(ldr__pq_rle_decode(rle100, 3, 1, out, 100, &used, &err), err);
    CHECK_EQ_I64(used, 3);
    for (int i = 0; i < 100; i++)
        CHECK(out[i] == 1);
    /* 1,0,1,1,0,0,1,0,1,1 bit-packed at w = 1 */
    const uint8_t bp[] = {0x05, 0x4D, 0x03};
    const uint32_t want[] = {1, 0, 1, 1, 0, 0, 1, 0, 1, 1};
    CHECK_OK(ldr__pq_rle_decode(bp, 3, 1, out, 10, &used, &err), err);
    CHECK_EQ_I64(used, 3);
    CHECK(memcmp(out, want, sizeof want) == 0);
    /* int96_from_spark.parquet dictionary indices: w = 3, one group, 5 of 8 used */
    const uint8_t dict[] = {0x03, 0x88, 0x46, 0x00};
    CHECK_OK(ldr__pq_rle_decode(dict, 4, 3, out, 5, &used, &err), err);
    CHECK_EQ_I64(used, 4);
    for (uint32_t i = 0; i < 5; i++)
        CHECK(out[i] == i);
    /* 0..7 at w = 3 pack to 88 C6 FA */
    const uint8_t seq[] = {0x03, 0x88, 0xC6, 0xFA};
    CHECK_OK(ldr__pq_rle_decode(seq, 4, 3, out, 8, &used, &err), err);
    for (uint32_t i = 0; i < 8; i++)
        CHECK(out[i] == i);

    ldr_buf b;
    ldr_buf_init(&b, 1000);
    uint32_t ones[100];
    for (int i = 0; i < 100; i++)
        ones[i] = 1;
    CHECK_OK(ldr__pq_rle_encode(ones, 100, 1, &b, &err), err);
    check_bytes(&b, rle100, 3, "100 x 1");
    ldr_buf_reset(&b);
    CHECK_OK(ldr__pq_rle_encode(want, 10, 1, &b, &err), err);
    check_bytes(&b, bp, 3, "1,0,1,1,0,0,1,0,1,1");
    ldr_buf_reset(&b);
    const uint32_t zero_to_7[] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_OK(ldr__pq_rle_encode(zero_to_7, 8, 3, &b, &err), err);
    check_bytes(&b, seq, 4, "0..7 at w=3");
    ldr_buf_fini(&b);
}

TEST(rle_roundtrip_all_widths)
{
    size_t counts[] = {0, 1, 7, 8, 9, 31, 32, 33, 63, 100, 1000, 10007};
    uint32_t *v = ldr_xmalloc(10007 * sizeof *v);
    for (unsigned w = 0; w <= 32; w++) {
        uint64_t mask = w == 32 ? UINT32_MAX : (UINT64_C(1) << w) - 1;
        for (size_t c = 0; c < LDR_ARRAY_LEN(counts); c++) {
            size_t n = counts[c];
            for (int pattern = 0; pattern < 4; pattern++) {
                for (size_t i = 0; i < n; i++) {
                    uint64_t r = rnd();
                    switch (pattern) {
                    case 0: /* random */
                        v[i] = (uint32_t)(r & mask);
                        break;
                    case 1: /* runs of random length */
                        v[i] = i && (r % 16) ? v[i - 1] : (uint32_t)((r >> 8) & mask);
                        break;
                    case 2: /* the extremes */
                        v[i] = (r & 1) ? (uint32_t)mask : 0;
                        break;
                    default: /* literals broken by runs of exactly 8 */
                        v[i] = (i / 8) % 2 ? (uint32_t)(mask & 5) : (uint32_t)(r & mask);
                        break;
                    }
                }
                rle_roundtrip(v, n, w);
            }
        }
    }
    ldr_free(v);
}

TEST(rle_long_runs_and_tails)
{
    ldr_err err;
    size_t n = 10 * 1000 * 1000;
    uint32_t *v = ldr_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = i < n / 2 ? 3 : 5;
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr__pq_rle_encode(v, n, 3, &b, &err), err);
    CHECK(b.len <= 12); /* two runs */
    ldr_buf_fini(&b);
    rle_roundtrip(v, n, 3);
    /* 7 literal values at the end: a padded final group */
    for (size_t i = n - 7; i < n; i++)
        v[i] = (uint32_t)(i % 8);
    rle_roundtrip(v, n, 3);
    ldr_free(v);
    /* decoding fewer values than a padded final group holds writes only n values */
    const uint8_t g4[] = {0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    for (size_t k = 9; k <= 16; k++) {
        uint32_t *o = ldr_xmalloc(k * sizeof *o);
        size_t used;
        CHECK_OK(ldr__pq_rle_decode(g4, sizeof g4, 4, o, k, &used, &err), err);
        CHECK_EQ_I64(used, sizeof g4);
        CHECK(o[k - 1] == 15);
        ldr_free(o);
    }
}

TEST(rle_width_zero)
{
    ldr_err err;
    /* ARROW-GH-43605: w = 0 bit-packed run of 2649 groups with no payload */
    uint8_t p[4];
    size_t len = 0, used;
    uint64_t h = 2649 * 2 + 1;
    while (h >= 0x80) {
        p[len++] = (uint8_t)(h | 0x80);
        h >>= 7;
    }
    p[len++] = (uint8_t)h;
    size_t n = 21186;
    uint32_t *out = ldr_xmalloc(n * sizeof *out);
    memset(out, 0xff, n * sizeof *out);
    CHECK_OK(ldr__pq_rle_decode(p, len, 0, out, n, &used, &err), err);
    CHECK_EQ_I64(used, len);
    for (size_t i = 0; i < n; i++)
        if (out[i] != 0) {
            HARNESS_FAIL("value %zu is %u", i, out[i]);
            break;
        }
    /* w = 0 RLE run: the value has no bytes */
    const uint8_t r[] = {0x0A};
    CHECK_OK(ldr__pq_rle_decode(r, 1, 0, out, 5, &used, &err), err);
    CHECK_EQ_I64(used, 1);
    ldr_free(out);
    /* nothing to decode reads nothing */
    CHECK_OK(ldr__pq_rle_decode(NULL, 0, 5, NULL, 0, &used, &err), err);
    CHECK_EQ_I64(used, 0);
}

TEST(rle_hostile)
{
    ldr_err err;
    uint32_t out[64];
    size_t used;
    const uint8_t run70000[] = {0xE0, 0xC5, 0x08, 0x01}; /* RLE run of 70000 */
    CHECK_FAILS(ldr__pq_rle_decode(run70000, 4, 1, out, 64, &used, &err), LDR_ECORRUPT);
    CHECK_EQ_STR(err.msg, "RLE run of 70000 values overflows the 64 expected");
    const uint8_t zero_run[] = {0x00, 0x01};
    CHECK_FAILS(ldr__pq_rle_decode(zero_run, 2, 1, out, 4, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "length 0");
    const uint8_t zero_groups[] = {0x01};
    CHECK_FAILS(ldr__pq_rle_decode(zero_groups, 1, 1, out, 4, &used, &err), LDR_ECORRUPT);
    /* ends early: 21 declared, 1 decoded (ARROW-RS-GH-6229-LEVELS) */
    const uint8_t one[] = {0x02, 0x01};
    CHECK_FAILS(ldr__pq_rle_decode(one, 2, 1, out, 21, &used, &err), LDR_ECORRUPT);
    CHECK_EQ_STR(err.msg, "RLE data ends after 1 of 21 values");
    CHECK_FAILS(ldr__pq_rle_decode(one, 0, 1, out, 1, &used, &err), LDR_ECORRUPT);
    /* RLE value truncated: w = 17 needs 3 bytes */
    const uint8_t short_val[] = {0x04, 0x01, 0x02};
    CHECK_FAILS(ldr__pq_rle_decode(short_val, 3, 17, out, 2, &used, &err), LDR_ECORRUPT);
    /* value wider than the bit width */
    const uint8_t wide[] = {0x04, 0x09};
    CHECK_FAILS(ldr__pq_rle_decode(wide, 2, 3, out, 2, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "does not fit in 3 bits");
    CHECK_FAILS(ldr__pq_rle_decode(wide, 2, 33, out, 2, &used, &err), LDR_ECORRUPT);
    /* bit-packed run missing bytes, and not the final run */
    const uint8_t trunc[] = {0x05, 0xFF, 0xFF};
    CHECK_FAILS(ldr__pq_rle_decode(trunc, 3, 8, out, 16, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated");
    CHECK_FAILS(ldr__pq_rle_decode(trunc, 3, 8, out, 3, &used, &err), LDR_ECORRUPT);
    /* ... but a truncated final run holding every needed value is tolerated (old Polars) */
    CHECK_OK(ldr__pq_rle_decode(trunc, 3, 8, out, 2, &used, &err), err);
    CHECK_EQ_I64(used, 3);
    CHECK(out[0] == 255 && out[1] == 255);
    /* over-long varint header, and a header above 32 bits */
    const uint8_t longv[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    CHECK_FAILS(ldr__pq_rle_decode(longv, sizeof longv, 1, out, 4, &used, &err), LDR_ECORRUPT);
    const uint8_t big[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x01};
    CHECK_FAILS(ldr__pq_rle_decode(big, sizeof big, 1, out, 4, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "too large");
    /* the encoder rejects values wider than the width */
    ldr_buf b;
    ldr_buf_init(&b, 100);
    const uint32_t v[] = {1, 8};
    CHECK_FAILS(ldr__pq_rle_encode(v, 2, 3, &b, &err), LDR_EINVAL);
    CHECK_FAILS(ldr__pq_rle_encode(v, 2, 33, &b, &err), LDR_EINVAL);
    ldr_buf_fini(&b);
}

/* Random bytes must decode or fail, never crash or overrun (ASan). */
TEST(rle_random_garbage)
{
    ldr_err err;
    uint8_t junk[64];
    uint32_t *out = ldr_xmalloc(4096 * sizeof *out);
    for (int t = 0; t < 20000; t++) {
        size_t len = rnd() % sizeof junk;
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rnd();
        unsigned w = (unsigned)(rnd() % 34);
        size_t n = rnd() % 4096, used = 0;
        uint8_t *p = ldr_xmalloc(len); /* exact size, so ASan sees over-reads */
        memcpy(p, junk, len);
        ldr_code rc = ldr__pq_rle_decode(p, len, w, out, n, &used, &err);
        CHECK(rc == LDR_OK || rc == LDR_ECORRUPT);
        if (rc == LDR_OK)
            CHECK(used <= len);
        ldr_free(p);
    }
    ldr_free(out);
}

/* ---- levels (reader_int.h) ----------------------------------------------------------------- */

static unsigned width_of(unsigned max)
{
    unsigned w = 0;
    while ((1u << w) <= max)
        w++;
    return w;
}

/* Levels v[0..n) <= max, encoded, decode to the same bytes and count of max as the 32-bit
 * decoder gives (when every level is max the output may be left unwritten). */
static void levels_match(const uint32_t *v, size_t n, unsigned max)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    CHECK_OK(ldr__pq_rle_encode(v, n, width_of(max), &b, &err), err);
    uint8_t *out = ldr_xmalloc(n + 1);
    size_t n_max = 0, used = 0, want = 0;
    CHECK_OK(ldr__pq_levels_decode((const uint8_t *)b.ptr, b.len, max, "definition", out, n, &n_max,
                                   &used, &err),
             err);
    CHECK_EQ_I64(used, b.len);
    for (size_t i = 0; i < n; i++)
        want += v[i] == max;
    CHECK_EQ_I64(n_max, want);
    for (size_t i = 0; i < n && n_max < n; i++)
        if (out[i] != v[i])
            HARNESS_FAIL("max=%u n=%zu: level %zu is %u, expected %u", max, n, i, out[i], v[i]);
    ldr_free(out);
    ldr_buf_fini(&b);
}

TEST(levels_decode)
{
    static const unsigned maxes[] = {1, 2, 3, 7, 64};
    uint32_t *v = ldr_xmalloc(5000 * sizeof *v);
    for (size_t m = 0; m < LDR_ARRAY_LEN(maxes); m++) {
        unsigned max = maxes[m];
        for (int t = 0; t < 40; t++) {
            size_t n = rnd() % 5000;
            int shape = t % 4; /* all max, runs, random, random with long runs of max */
            for (size_t i = 0; i < n; i++) {
                uint32_t r = (uint32_t)(rnd() % (max + 1));
                v[i] = shape == 0   ? max
                       : shape == 1 ? (i / 300) % (max + 1)
                       : shape == 2 ? r
                                    : ((i / 100) % 2 ? max : r);
            }
            levels_match(v, n, max);
        }
    }
    ldr_free(v);
    /* A page without nulls: one RLE run of the maximum; nothing needs writing. */
    ldr_err err;
    uint8_t out[100];
    size_t n_max, used;
    const uint8_t all1[] = {0xC8, 0x01, 0x01}; /* 100 x 1 */
    CHECK_OK(ldr__pq_levels_decode(all1, 3, 1, "definition", out, 100, &n_max, &used, &err), err);
    CHECK_EQ_I64(n_max, 100);
    CHECK_EQ_I64(used, 3);
    /* Runs of 1 then 0: written out. */
    const uint8_t mixed[] = {0x06, 0x01, 0x04, 0x00}; /* 3 x 1, 2 x 0 */
    CHECK_OK(ldr__pq_levels_decode(mixed, 4, 1, "definition", out, 5, &n_max, &used, &err), err);
    CHECK_EQ_I64(n_max, 3);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 1 && out[3] == 0 && out[4] == 0);
}

TEST(levels_hostile)
{
    ldr_err err;
    uint8_t out[64];
    size_t n_max, used;
    /* Above the maximum but within the width: an RLE run and a bit-packed group. */
    const uint8_t rle3[] = {0x02, 0x02, 0x02, 0x03}; /* 1 x 2, 1 x 3 at w = 2 */
    CHECK_FAILS(ldr__pq_levels_decode(rle3, 4, 2, "definition", out, 2, &n_max, &used, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "definition level 3 exceeds the maximum 2");
    const uint8_t bp3[] = {0x03, 0xE4, 0x00}; /* 0,1,2,3,0,0,0,0 at w = 2 */
    CHECK_FAILS(ldr__pq_levels_decode(bp3, 3, 2, "repetition", out, 8, &n_max, &used, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "repetition level 3 exceeds the maximum 2");
    /* Too wide for the width, truncated, too many. */
    const uint8_t wide[] = {0x02, 0x02};
    CHECK_FAILS(ldr__pq_levels_decode(wide, 2, 1, "definition", out, 1, &n_max, &used, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "RLE value 2 does not fit in 1 bits");
    CHECK_FAILS(ldr__pq_levels_decode(wide, 1, 1, "definition", out, 1, &n_max, &used, &err),
                LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_levels_decode(wide, 0, 1, "definition", out, 1, &n_max, &used, &err),
                LDR_ECORRUPT);
    const uint8_t run70[] = {0x8C, 0x01, 0x01}; /* 70 x 1 */
    CHECK_FAILS(ldr__pq_levels_decode(run70, 3, 1, "definition", out, 64, &n_max, &used, &err),
                LDR_ECORRUPT);
    /* Random bytes decode or fail cleanly, never past n or len (ASan). */
    uint8_t junk[64];
    uint8_t *lv = ldr_xmalloc(4096);
    for (int t = 0; t < 20000; t++) {
        size_t len = rnd() % sizeof junk, n = rnd() % 4096;
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rnd();
        uint8_t *p = ldr_xmalloc(len);
        memcpy(p, junk, len);
        unsigned max = (unsigned)(rnd() % 9);
        ldr_code rc = ldr__pq_levels_decode(p, len, max, "definition", lv, n, &n_max, &used, &err);
        CHECK(rc == LDR_OK || rc == LDR_ECORRUPT);
        if (rc == LDR_OK)
            CHECK(used <= len && n_max <= n);
        ldr_free(p);
    }
    ldr_free(lv);
}

/* ---- BIT_PACKED ------------------------------------------------------------------------- */

TEST(bitpacked_legacy)
{
    ldr_err err;
    uint32_t out[16];
    size_t used;
    const uint8_t seq[] = {0x05, 0x39, 0x77}; /* 0..7 at w = 3, MSB-first */
    CHECK_OK(ldr__pq_bitpacked_decode(seq, 3, 3, out, 8, &used, &err), err);
    CHECK_EQ_I64(used, 3);
    for (uint32_t i = 0; i < 8; i++)
        CHECK(out[i] == i);
    CHECK_OK(ldr__pq_bitpacked_decode(seq, 3, 3, out, 5, &used, &err), err);
    CHECK_EQ_I64(used, 2);
    CHECK_FAILS(ldr__pq_bitpacked_decode(seq, 2, 3, out, 8, &used, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_bitpacked_decode(seq, 3, 33, out, 8, &used, &err), LDR_ECORRUPT);
    CHECK_OK(ldr__pq_bitpacked_decode(NULL, 0, 0, out, 16, &used, &err), err);
    CHECK_EQ_I64(used, 0);
    CHECK(out[15] == 0);
    const uint8_t w32[] = {0x01, 0x02, 0x03, 0x04};
    CHECK_OK(ldr__pq_bitpacked_decode(w32, 4, 32, out, 1, &used, &err), err);
    CHECK(out[0] == 0x01020304u);
}

/* ---- DELTA_BINARY_PACKED ---------------------------------------------------------------- */

static void delta_roundtrip(const int64_t *v, size_t n)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    CHECK_OK(ldr__pq_delta_encode(v, n, &b, &err), err);
    CHECK_OK(ldr_buf_append(&b, "tail", 4, &err), err); /* what follows the stream */
    int64_t *out = ldr_xmalloc(n * sizeof *out + 1);
    size_t used = 0;
    CHECK_OK(ldr__pq_delta_decode((const uint8_t *)b.ptr, b.len, out, n, &used, &err), err);
    CHECK_EQ_I64(used, b.len - 4);
    if (n && memcmp(out, v, n * sizeof *v) != 0)
        HARNESS_FAIL("n=%zu: values differ", n);
    /* fewer values than the stream holds is fine and still finds the end */
    if (n > 3) {
        CHECK_OK(ldr__pq_delta_decode((const uint8_t *)b.ptr, b.len, out, n / 2, &used, &err), err);
        CHECK_EQ_I64(used, b.len - 4);
        CHECK(memcmp(out, v, n / 2 * sizeof *v) == 0);
    }
    ldr_free(out);
    ldr_buf_fini(&b);
}

TEST(delta_reference_example)
{
    ldr_err err;
    const uint8_t ref[] = {0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 0x02, 0x00, 0x00,
                           0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    const int64_t want[] = {7, 5, 3, 1, 2, 3, 4, 5};
    int64_t out[8];
    size_t used;
    CHECK_OK(ldr__pq_delta_decode(ref, sizeof ref, out, 8, &used, &err), err);
    CHECK_EQ_I64(used, 18);
    CHECK(memcmp(out, want, sizeof want) == 0);
    ldr_buf b;
    ldr_buf_init(&b, 1000);
    CHECK_OK(ldr__pq_delta_encode(want, 8, &b, &err), err);
    check_bytes(&b, ref, sizeof ref, "DELTA 7,5,3,1,2,3,4,5");
    ldr_buf_fini(&b);
    /* total 1 (or 0): header only */
    const uint8_t single[] = {0x80, 0x01, 0x04, 0x01, 0x07};
    CHECK_OK(ldr__pq_delta_decode(single, sizeof single, out, 1, &used, &err), err);
    CHECK_EQ_I64(used, 5);
    CHECK_EQ_I64(out[0], -4);
    const uint8_t none[] = {0x80, 0x01, 0x04, 0x00, 0x00};
    CHECK_OK(ldr__pq_delta_decode(none, sizeof none, out, 0, &used, &err), err);
    CHECK_EQ_I64(used, 5);
}

TEST(delta_roundtrips)
{
    size_t n = 5000;
    int64_t *v = ldr_xmalloc(n * sizeof *v);
    size_t counts[] = {0, 1, 2, 33, 128, 129, 130, 257, 1000, 5000};
    for (int pattern = 0; pattern < 7; pattern++) {
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            switch (pattern) {
            case 0:
                v[i] = 42;
                break;
            case 1:
                v[i] = (int64_t)i * 1000 - 7;
                break;
            case 2:
                v[i] = (int64_t)(r >> 40) - (1 << 23);
                break;
            case 3:
                v[i] = (int64_t)r;
                break;
            case 4:
                v[i] = (r & 1) ? INT64_MAX : INT64_MIN;
                break;
            case 5:
                v[i] = (int32_t)(uint32_t)r;
                break;
            default:
                v[i] = i % 3 == 0 ? INT64_MIN : (i % 3 == 1 ? 0 : INT64_MAX);
                break;
            }
        }
        for (size_t c = 0; c < LDR_ARRAY_LEN(counts); c++)
            delta_roundtrip(v, counts[c]);
    }
    ldr_free(v);
}

/* Writers may use other block shapes: 256 values in 2 miniblocks of 128 (DuckDB-like). */
TEST(delta_other_block_shapes)
{
    ldr_err err;
    uint8_t p[200];
    size_t len = 0;
    const uint8_t head[] = {0x80, 0x02, 0x02, 0x81, 0x01, 0x00}; /* 256, 2, 129 values, 0 */
    memcpy(p, head, sizeof head);
    len = sizeof head;
    p[len++] = 0x02; /* min delta 1 */
    p[len++] = 0x00; /* miniblock 0: width 0 (all deltas = 1) */
    p[len++] = 0xEE; /* miniblock 1: unused, garbage width is fine */
    int64_t out[130];
    size_t used;
    CHECK_OK(ldr__pq_delta_decode(p, len, out, 129, &used, &err), err);
    CHECK_EQ_I64(used, len);
    for (int i = 0; i < 129; i++)
        CHECK_EQ_I64(out[i], i);
    /* 130 values need the second miniblock too: its width must then be valid */
    p[3] = 0x82;
    CHECK_FAILS(ldr__pq_delta_decode(p, len, out, 130, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "bit width 238");
}

TEST(delta_hostile)
{
    ldr_err err;
    int64_t out[300];
    size_t used;
    const uint8_t trunc_head[] = {0x80, 0x01, 0x04};
    CHECK_FAILS(ldr__pq_delta_decode(trunc_head, 3, out, 1, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "header is truncated");
    const uint8_t block0[] = {0x00, 0x04, 0x01, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(block0, 4, out, 1, &used, &err), LDR_ECORRUPT);
    const uint8_t block100[] = {0x64, 0x04, 0x01, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(block100, 4, out, 1, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "multiple of 128");
    const uint8_t mb3[] = {0x80, 0x01, 0x03, 0x01, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(mb3, 5, out, 1, &used, &err), LDR_ECORRUPT);
    const uint8_t mb8[] = {0x80, 0x01, 0x08, 0x01, 0x00}; /* 16 values per miniblock */
    CHECK_FAILS(ldr__pq_delta_decode(mb8, 5, out, 1, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "multiple of 32");
    const uint8_t mb0[] = {0x80, 0x01, 0x00, 0x01, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(mb0, 5, out, 1, &used, &err), LDR_ECORRUPT);
    /* fewer values than requested */
    const uint8_t two[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(two, sizeof two, out, 3, &used, &err), LDR_ECORRUPT);
    CHECK_EQ_STR(err.msg, "DELTA_BINARY_PACKED holds 2 values, 3 expected");
    CHECK_OK(ldr__pq_delta_decode(two, sizeof two, out, 2, &used, &err), err);
    /* bit width 65 */
    const uint8_t w65[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 0x41, 0x00, 0x00, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(w65, sizeof w65, out, 2, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "more than 64");
    /* miniblock data truncated: width 8 needs 32 bytes */
    const uint8_t tr[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01};
    CHECK_FAILS(ldr__pq_delta_decode(tr, sizeof tr, out, 2, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "miniblock is truncated");
    /* widths truncated */
    const uint8_t tw[] = {0x80, 0x01, 0x04, 0x02, 0x00, 0x00, 0x00};
    CHECK_FAILS(ldr__pq_delta_decode(tw, sizeof tw, out, 2, &used, &err), LDR_ECORRUPT);
    /* a huge total with zero-width miniblocks: fails at the end of the input, quickly */
    uint8_t huge[4096];
    size_t len = 0;
    const uint8_t hh[] = {0x80, 0x01, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00};
    memcpy(huge, hh, sizeof hh);
    len = sizeof hh;
    while (len + 5 <= sizeof huge) {
        memset(huge + len, 0, 5);
        len += 5;
    }
    CHECK_FAILS(ldr__pq_delta_decode(huge, len, out, 300, &used, &err), LDR_ECORRUPT);
    /* wrapping arithmetic: INT64_MAX + 1 wraps to INT64_MIN without UB (UBSan) */
    const uint8_t wrap[] = {0x80, 0x01, 0x04, 0x02, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                            0xFF, 0xFF, 0xFF, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00};
    CHECK_OK(ldr__pq_delta_decode(wrap, sizeof wrap, out, 2, &used, &err), err);
    CHECK(out[0] == INT64_MAX && out[1] == INT64_MIN);
    /* random garbage */
    uint8_t junk[48];
    for (int t = 0; t < 20000; t++) {
        size_t jl = rnd() % sizeof junk;
        for (size_t i = 0; i < jl; i++)
            junk[i] = (uint8_t)(t % 3 == 0 && i < 3 ? (i == 0   ? 0x80
                                                       : i == 1 ? 0x01
                                                                : 0x04)
                                                    : rnd());
        uint8_t *p = ldr_xmalloc(jl);
        memcpy(p, junk, jl);
        ldr_code rc = ldr__pq_delta_decode(p, jl, out, (size_t)(rnd() % 300), &used, &err);
        CHECK(rc == LDR_OK || rc == LDR_ECORRUPT);
        ldr_free(p);
    }
}

/* ---- DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY ------------------------------------------ */

static void check_strings(const ldr_col *c, size_t first, const char *const *want, size_t n)
{
    CHECK_EQ_I64(c->n, first + n);
    for (size_t i = 0; i < n && first + i < c->n; i++) {
        size_t len;
        const char *s = ldr_col_str(c, first + i, &len);
        if (len != strlen(want[i]) || memcmp(s, want[i], len) != 0)
            HARNESS_FAIL("value %zu: \"%.*s\" != \"%s\"", i, (int)len, s, want[i]);
    }
}

TEST(dlba_reference_example)
{
    ldr_err err;
    const uint8_t ref[] = {0x80, 0x01, 0x04, 0x04, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x02, 0x00, 0x00, 0x00, 'H',  'e',  'l',  'l',  'o',  'W',
                           'o',  'r',  'l',  'd',  'F',  'o',  'o',  'b',  'a',  'r',
                           'A',  'B',  'C',  'D',  'E',  'F',  'x'};
    const char *want[] = {"Hello", "World", "Foobar", "ABCDEF"};
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_str(c, "before", 6);
    size_t used;
    CHECK_OK(ldr__pq_delta_length_decode(ref, sizeof ref, 4, c, &used, &err), err);
    CHECK_EQ_I64(used, sizeof ref - 1);
    check_strings(c, 1, want, 4);
    /* lengths past the end, count mismatch */
    CHECK_FAILS(ldr__pq_delta_length_decode(ref, sizeof ref - 3, 4, c, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "value 3 has length 6");
    CHECK_FAILS(ldr__pq_delta_length_decode(ref, sizeof ref, 3, c, &used, &err), LDR_ECORRUPT);
    CHECK_EQ_STR(err.msg, "DELTA_LENGTH_BYTE_ARRAY holds 4 lengths, 3 expected");
    ldr_col_free(c);

    /* a negative length: first value -1 */
    const uint8_t neg[] = {0x80, 0x01, 0x04, 0x01, 0x01, 'a'};
    c = ldr_col_new(LDR_TYPE_BYTES, 0);
    CHECK_FAILS(ldr__pq_delta_length_decode(neg, sizeof neg, 1, c, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "length -1");
    ldr_col_free(c);
}

TEST(dlba_roundtrip_many)
{
    ldr_err err;
    size_t n = 3000;
    ldr_buf b, data;
    ldr_buf_init(&b, 1 << 24);
    ldr_buf_init(&data, 1 << 24);
    int64_t *lens = ldr_xmalloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lens[i] = (int64_t)(rnd() % (i % 100 == 0 ? 3000 : 12));
        for (int64_t k = 0; k < lens[i]; k++)
            CHECK_OK(ldr_buf_putc(&data, (char)('a' + (i + (size_t)k) % 26), &err), err);
    }
    CHECK_OK(ldr__pq_delta_encode(lens, n, &b, &err), err);
    CHECK_OK(ldr_buf_append(&b, data.ptr, data.len, &err), err);
    ldr_col *c = ldr_col_new(LDR_TYPE_BYTES, 0);
    size_t used;
    CHECK_OK(ldr__pq_delta_length_decode((const uint8_t *)b.ptr, b.len, n, c, &used, &err), err);
    CHECK_EQ_I64(used, b.len);
    CHECK_EQ_I64(c->n, n);
    size_t off = 0;
    for (size_t i = 0; i < n && i < c->n; i++) {
        size_t len;
        const char *s = ldr_col_str(c, i, &len);
        if ((int64_t)len != lens[i] || memcmp(s, data.ptr + off, len) != 0) {
            HARNESS_FAIL("value %zu differs", i);
            break;
        }
        off += len;
    }
    ldr_col_free(c);
    ldr_free(lens);
    ldr_buf_fini(&b);
    ldr_buf_fini(&data);
}

TEST(dba_reference_example)
{
    ldr_err err;
    uint8_t p[100];
    size_t len = 0;
    const uint8_t pre[] = {0x80, 0x01, 0x04, 0x04, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x44, 0x01};
    const uint8_t suf[] = {0x80, 0x01, 0x04, 0x04, 0x08, 0x03, 0x03, 0x00, 0x00, 0x00, 0x70, 0x00};
    memcpy(p + len, pre, sizeof pre);
    len += sizeof pre;
    memset(p + len, 0, 10);
    len += 10;
    memcpy(p + len, suf, sizeof suf);
    len += sizeof suf;
    memset(p + len, 0, 10);
    len += 10;
    memcpy(p + len, "axislebabbleyhood", 17);
    len += 17;
    const char *want[] = {"axis", "axle", "babble", "babyhood"};
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_str(c, "prev page", 9); /* the previous value restarts per page */
    size_t used;
    CHECK_OK(ldr__pq_delta_byte_array_decode(p, len, 4, c, &used, &err), err);
    CHECK_EQ_I64(used, len);
    check_strings(c, 1, want, 4);
    ldr_col_free(c);

    /* prefix longer than the previous value: prefixes 0,5 with "axis" (4 bytes) */
    p[10] = 0x47; /* packed 7,0,5: prefixes 0,5,3,6 and "axis" has 4 bytes */
    c = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_code rc = ldr__pq_delta_byte_array_decode(p, len, 4, c, &used, &err);
    CHECK_FAILS(rc, LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "prefix length");
    ldr_col_free(c);
    p[10] = 0x44;
    /* first value with a prefix: first prefix 1 (zigzag 2) */
    p[4] = 0x02;
    c = ldr_col_new(LDR_TYPE_STRING, 0);
    CHECK_FAILS(ldr__pq_delta_byte_array_decode(p, len, 4, c, &used, &err), LDR_ECORRUPT);
    CHECK_EQ_STR(err.msg, "DELTA_BYTE_ARRAY value 0 has prefix length 1 but the previous value "
                          "has 0 bytes");
    ldr_col_free(c);
    p[4] = 0x00;
    /* suffixes past the end */
    c = ldr_col_new(LDR_TYPE_STRING, 0);
    CHECK_FAILS(ldr__pq_delta_byte_array_decode(p, len - 2, 4, c, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "suffix length 5");
    /* count mismatch */
    CHECK_FAILS(ldr__pq_delta_byte_array_decode(p, len, 5, c, &used, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "prefix stream holds 4 lengths, 5 expected");
    ldr_col_free(c);
}

/* Front coding expands quadratically: each value keeps the whole previous one. The output
 * is capped (LDR_ELIMIT), not allocated without bound. */
TEST(dba_expansion_is_capped)
{
    ldr_err err;
    size_t n = 2000;
    int64_t *pre = ldr_xmalloc(n * sizeof *pre), *suf = ldr_xmalloc(n * sizeof *suf);
    for (size_t i = 0; i < n; i++) {
        pre[i] = (int64_t)(i * 1000);
        suf[i] = 1000;
    }
    ldr_buf b;
    ldr_buf_init(&b, 1 << 28);
    CHECK_OK(ldr__pq_delta_encode(pre, n, &b, &err), err);
    CHECK_OK(ldr__pq_delta_encode(suf, n, &b, &err), err);
    for (size_t i = 0; i < n; i++) {
        char chunk[1000];
        memset(chunk, 'a' + (int)(i % 26), sizeof chunk);
        CHECK_OK(ldr_buf_append(&b, chunk, sizeof chunk, &err), err);
    }
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, 0);
    size_t used;
    CHECK_FAILS(ldr__pq_delta_byte_array_decode((const uint8_t *)b.ptr, b.len, n, c, &used, &err),
                LDR_ELIMIT);
    ldr_col_free(c);
    ldr_buf_fini(&b);
    ldr_free(pre);
    ldr_free(suf);
}

/* ---- BYTE_STREAM_SPLIT ------------------------------------------------------------------ */

TEST(byte_stream_split)
{
    ldr_err err;
    const uint8_t ref[] = {0xAA, 0x00, 0xA3, 0xBB, 0x11, 0xB4, 0xCC, 0x22, 0xC5, 0xDD, 0x33, 0xD6};
    const uint8_t want[] = {0xAA, 0xBB, 0xCC, 0xDD, 0x00, 0x11, 0x22, 0x33, 0xA3, 0xB4, 0xC5, 0xD6};
    uint8_t out[12];
    CHECK_OK(ldr__pq_byte_stream_split_decode(ref, 12, 4, 3, out, &err), err);
    CHECK(memcmp(out, want, 12) == 0);
    CHECK_FAILS(ldr__pq_byte_stream_split_decode(ref, 11, 4, 3, out, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_byte_stream_split_decode(ref, 12, 4, 2, out, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_byte_stream_split_decode(ref, 12, 0, 3, out, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_byte_stream_split_decode(ref, 12, SIZE_MAX / 2, 3, out, &err),
                LDR_ECORRUPT);
    /* widths 8 and 3 (FLBA), against a straightforward reference */
    size_t widths[] = {2, 3, 8, 12, 16};
    for (size_t w = 0; w < LDR_ARRAY_LEN(widths); w++) {
        size_t k = widths[w], n = 37;
        uint8_t *vals = ldr_xmalloc(k * n), *enc = ldr_xmalloc(k * n), *dec = ldr_xmalloc(k * n);
        for (size_t i = 0; i < k * n; i++)
            vals[i] = (uint8_t)rnd();
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                enc[j * n + i] = vals[i * k + j];
        CHECK_OK(ldr__pq_byte_stream_split_decode(enc, k * n, k, n, dec, &err), err);
        CHECK(memcmp(dec, vals, k * n) == 0);
        ldr_free(vals);
        ldr_free(enc);
        ldr_free(dec);
    }
    CHECK_OK(ldr__pq_byte_stream_split_decode(NULL, 0, 8, 0, NULL, &err), err);
}

int main(void)
{
    RUN(rle_reference_examples);
    RUN(rle_roundtrip_all_widths);
    RUN(rle_long_runs_and_tails);
    RUN(rle_width_zero);
    RUN(rle_hostile);
    RUN(rle_random_garbage);
    RUN(levels_decode);
    RUN(levels_hostile);
    RUN(bitpacked_legacy);
    RUN(delta_reference_example);
    RUN(delta_roundtrips);
    RUN(delta_other_block_shapes);
    RUN(delta_hostile);
    RUN(dlba_reference_example);
    RUN(dlba_roundtrip_many);
    RUN(dba_reference_example);
    RUN(dba_expansion_is_capped);
    RUN(byte_stream_split);
    return harness_done();
}
