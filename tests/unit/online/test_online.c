/*
 * test_online.c -- the online module's encodings: Feast v3 entity keys (published vectors,
 * sorting, errors, schema-free decoding of hostile bytes), murmur3_32, and the row codec
 * (every type and list type, nulls, absent features, conversions on read, pinned bytes,
 * corrupt input).
 */
#include "online/online.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- Helpers --------------------------------------------------------------------------- */

static ldr_value v_i32(int32_t x)
{
    ldr_value v = {.type = LDR_TYPE_INT32};
    v.u.i32 = x;
    return v;
}

static ldr_value v_i64(int64_t x)
{
    ldr_value v = {.type = LDR_TYPE_INT64};
    v.u.i64 = x;
    return v;
}

static ldr_value v_f32(float x)
{
    ldr_value v = {.type = LDR_TYPE_FLOAT32};
    v.u.f32 = x;
    return v;
}

static ldr_value v_f64(double x)
{
    ldr_value v = {.type = LDR_TYPE_FLOAT64};
    v.u.f64 = x;
    return v;
}

static ldr_value v_bool(bool x)
{
    ldr_value v = {.type = LDR_TYPE_BOOL};
    v.u.b = x;
    return v;
}

static ldr_value v_ts(ldr_ts x)
{
    ldr_value v = {.type = LDR_TYPE_UNIX_TIMESTAMP};
    v.u.ts = x;
    return v;
}

static ldr_value v_str(ldr_type t, const char *s, size_t len)
{
    ldr_value v = {.type = t};
    v.u.str.ptr = s;
    v.u.str.len = len;
    return v;
}

static ldr_value v_list(ldr_type t, const ldr_value *items, size_t n)
{
    ldr_value v = {.type = t};
    v.u.list.items = items;
    v.u.list.n = n;
    return v;
}

static void hex(const ldr_buf *b, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < b->len && o + 3 <= cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", (unsigned char)b->ptr[i]);
    out[o] = '\0';
}

#define CHECK_HEX(buf, expected)     \
    do {                             \
        char hx_[1024];              \
        hex((buf), hx_, sizeof hx_); \
        CHECK_EQ_STR(hx_, expected); \
    } while (0)

/* ---- Entity keys and murmur3 ----------------------------------------------------------- */

TEST(key_feast_vector)
{
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    ldr_err err;
    const char *names[] = {"driver_id"};
    ldr_value v = v_i64(1002);
    CHECK_OK(ldr_online_key_encode(names, &v, 1, &b, &err), err);
    CHECK_HEX(&b, "01000000"
                  "02000000"
                  "09000000"
                  "6472697665725f6964"
                  "04000000"
                  "08000000"
                  "ea03000000000000");
    ldr_buf_reset(&b);
    CHECK_OK(ldr_online_key_encode(NULL, NULL, 0, &b, &err), err);
    CHECK_HEX(&b, "00000000");
    ldr_buf_reset(&b);
    CHECK_OK(ldr_online_key_encode_entityless(&b, &err), err);
    CHECK_HEX(&b, "01000000"
                  "02000000"
                  "0a000000"
                  "5f5f64756d6d795f6964"
                  "02000000"
                  "00000000");
    ldr_buf_fini(&b);
}

TEST(key_sorts_pairs_by_name)
{
    ldr_buf b1, b2;
    ldr_buf_init(&b1, 1 << 20);
    ldr_buf_init(&b2, 1 << 20);
    ldr_err err;
    const char *n1[] = {"b", "a"};
    ldr_value v1[] = {v_i32(7), v_str(LDR_TYPE_STRING, "x", 1)};
    const char *n2[] = {"a", "b"};
    ldr_value v2[] = {v_str(LDR_TYPE_STRING, "x", 1), v_i32(7)};
    CHECK_OK(ldr_online_key_encode(n1, v1, 2, &b1, &err), err);
    CHECK_OK(ldr_online_key_encode(n2, v2, 2, &b2, &err), err);
    CHECK_HEX(&b1, "02000000"
                   "02000000"
                   "01000000"
                   "61"
                   "02000000"
                   "01000000"
                   "62"
                   "02000000"
                   "01000000"
                   "78"
                   "03000000"
                   "04000000"
                   "07000000");
    CHECK(b1.len == b2.len && memcmp(b1.ptr, b2.ptr, b1.len) == 0);
    /* Bytes and timestamps (whole seconds, stored as seconds). */
    ldr_buf_reset(&b1);
    const char *n3[] = {"t", "raw"};
    ldr_value v3[] = {v_ts(-2 * 1000000LL), v_str(LDR_TYPE_BYTES, "\x00\xff", 2)};
    CHECK_OK(ldr_online_key_encode(n3, v3, 2, &b1, &err), err);
    CHECK_HEX(&b1, "02000000"
                   "02000000"
                   "03000000"
                   "726177"
                   "02000000"
                   "01000000"
                   "74"
                   "01000000"
                   "02000000"
                   "00ff"
                   "08000000"
                   "08000000"
                   "feffffffffffffff");
    ldr_buf_fini(&b1);
    ldr_buf_fini(&b2);
}

TEST(key_rejects_bad_values)
{
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    ldr_err err;
    CHECK(ldr_buf_append(&b, "keep", 4, &err) == LDR_OK);
    const char *names[] = {"rating", "id"};
    ldr_value vals[] = {v_f64(1.5), v_i64(1)};
    CHECK_FAILS(ldr_online_key_encode(names, vals, 2, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "join key 'rating'");
    CHECK_CONTAINS(err.msg, "Float64");
    CHECK_EQ_I64(b.len, 4); /* unchanged on failure */
    ldr_value nul = ldr_value_null(LDR_TYPE_INT64);
    CHECK_FAILS(ldr_online_key_encode(names + 1, &nul, 1, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "null");
    const char *dup[] = {"id", "id"};
    ldr_value two[] = {v_i64(1), v_i64(2)};
    CHECK_FAILS(ldr_online_key_encode(dup, two, 2, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "twice");
    ldr_value frac = v_ts(1500000);
    CHECK_FAILS(ldr_online_key_encode(names + 1, &frac, 1, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "sub-second");
    ldr_value flag = v_bool(true);
    CHECK_FAILS(ldr_online_key_encode(names + 1, &flag, 1, &b, &err), LDR_EINVAL);
    CHECK(!ldr_online_key_type_ok(LDR_TYPE_FLOAT32) && ldr_online_key_type_ok(LDR_TYPE_BYTES));
    CHECK_EQ_I64(b.len, 4);
    ldr_buf_fini(&b);
}

TEST(key_decode_round_trip)
{
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    const char *names[] = {"s", "by", "i32", "i64", "ts"};
    ldr_value vals[] = {v_str(LDR_TYPE_STRING, "hé", 3), v_str(LDR_TYPE_BYTES, "\0z", 2),
                        v_i32(INT32_MIN), v_i64(INT64_MAX), v_ts(1700000000LL * 1000000)};
    CHECK_OK(ldr_online_key_encode(names, vals, 5, &b, &err), err);
    ldr_online_key k;
    CHECK_OK(ldr_online_key_decode(b.ptr, b.len, &a, &k, &err), err);
    CHECK_EQ_I64(k.n, 5);
    const char *sorted[] = {"by", "i32", "i64", "s", "ts"};
    const int orig[] = {1, 2, 3, 0, 4};
    for (size_t i = 0; i < 5 && k.n == 5; i++) {
        CHECK_EQ_STR(k.join_keys[i], sorted[i]);
        CHECK(ldr_value_eq(&k.values[i], &vals[orig[i]]));
    }
    /* Every truncation and one trailing byte are corrupt, never a crash. */
    for (size_t len = 0; len < b.len; len++) {
        char *cut = ldr_xmalloc(len ? len : 1);
        memcpy(cut, b.ptr, len);
        CHECK_FAILS(ldr_online_key_decode(cut, len, &a, &k, &err), LDR_ECORRUPT);
        ldr_free(cut);
    }
    CHECK(ldr_buf_append(&b, "\0", 1, &err) == LDR_OK);
    CHECK_FAILS(ldr_online_key_decode(b.ptr, b.len, &a, &k, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "trailing");
    /* A huge count is refused before allocating. */
    CHECK_FAILS(ldr_online_key_decode("\xff\xff\xff\xff", 4, &a, &k, &err), LDR_ECORRUPT);
    /* Int64 with a 4-byte payload. */
    static const char bad[] = "\x01\0\0\0"
                              "\x02\0\0\0\x01\0\0\0a"
                              "\x04\0\0\0\x04\0\0\0\x01\0\0\0";
    CHECK_FAILS(ldr_online_key_decode(bad, sizeof bad - 1, &a, &k, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "type 4");
    ldr_arena_fini(&a);
    ldr_buf_fini(&b);
}

TEST(murmur3_vectors)
{
    const char *s = "driver_hourly_stats:conv_rate";
    uint32_t h = ldr_murmur3_32(s, strlen(s), 0);
    CHECK_EQ_I64(h, 0xdae36061u);
    uint8_t le[4] = {(uint8_t)h, (uint8_t)(h >> 8), (uint8_t)(h >> 16), (uint8_t)(h >> 24)};
    CHECK(le[0] == 0x61 && le[1] == 0x60 && le[2] == 0xe3 && le[3] == 0xda);
    /* Reference vectors of MurmurHash3_x86_32 (tails of 0..3 bytes). */
    CHECK_EQ_I64(ldr_murmur3_32("", 0, 0), 0);
    CHECK_EQ_I64(ldr_murmur3_32("", 0, 1), 0x514e28b7u);
    CHECK_EQ_I64(ldr_murmur3_32("", 0, 0xffffffffu), 0x81f16f39u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK_EQ_I64(ldr_murmur3_32(fox, strlen(fox), 0), 0x2e4ff723u);
}

/* ---- Row codec ------------------------------------------------------------------------- */

/* Every type, and list types with null elements, empty lists and null lists. */
static const ldr_field all_fields[] = {
    {.name = "f_bytes", .type = LDR_TYPE_BYTES},
    {.name = "f_string", .type = LDR_TYPE_STRING},
    {.name = "f_i32", .type = LDR_TYPE_INT32},
    {.name = "f_i64", .type = LDR_TYPE_INT64},
    {.name = "f_f64", .type = LDR_TYPE_FLOAT64},
    {.name = "f_f32", .type = LDR_TYPE_FLOAT32},
    {.name = "f_bool", .type = LDR_TYPE_BOOL},
    {.name = "f_ts", .type = LDR_TYPE_UNIX_TIMESTAMP},
    {.name = "l_bytes", .type = LDR_TYPE_BYTES_LIST},
    {.name = "l_string", .type = LDR_TYPE_STRING_LIST},
    {.name = "l_i32", .type = LDR_TYPE_INT32_LIST},
    {.name = "l_i64", .type = LDR_TYPE_INT64_LIST},
    {.name = "l_f64", .type = LDR_TYPE_FLOAT64_LIST},
    {.name = "l_f32", .type = LDR_TYPE_FLOAT32_LIST},
    {.name = "l_bool", .type = LDR_TYPE_BOOL_LIST},
    {.name = "l_ts", .type = LDR_TYPE_UNIX_TIMESTAMP_LIST},
};
#define N_ALL LDR_ARRAY_LEN(all_fields)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A random non-null scalar of type t, with edge values mixed in. */
static ldr_value random_scalar(ldr_type t, uint64_t *rng, ldr_arena *a)
{
    uint64_t r = rng_next(rng);
    int pick = (int)(r % 8);
    switch (t) {
    case LDR_TYPE_INT32: {
        static const int32_t edge[] = {0, -1, 1, INT32_MIN, INT32_MAX, 63, -64, 300};
        return v_i32(pick < 4 ? edge[r >> 8 & 7] : (int32_t)(uint32_t)(r >> 16));
    }
    case LDR_TYPE_INT64: {
        static const int64_t edge[] = {0, -1, 1, INT64_MIN, INT64_MAX, 63, -64, 1LL << 53};
        return v_i64(pick < 4 ? edge[r >> 8 & 7] : (int64_t)(r >> 1) - (int64_t)(r >> 2));
    }
    case LDR_TYPE_UNIX_TIMESTAMP:
        return v_ts(pick == 0 ? INT64_MIN + 1 : 1700000000000000LL + (int64_t)(r >> 40));
    case LDR_TYPE_FLOAT64: {
        static const double edge[] = {0.0, -0.0, 1.5, -1e300, 5e-324, 0.1};
        if (pick == 0)
            return v_f64((double)NAN);
        if (pick == 1)
            return v_f64(-(double)INFINITY);
        return v_f64(pick < 5 ? edge[r >> 8 & 3] : (double)(int64_t)(r >> 11) / 1024.0);
    }
    case LDR_TYPE_FLOAT32:
        return v_f32(pick == 0 ? NAN : pick == 1 ? INFINITY : (float)(int32_t)(r >> 40) / 8.0f);
    case LDR_TYPE_BOOL:
        return v_bool(r & 1);
    default: { /* String, Bytes: may hold NULs; possibly empty */
        size_t len = (size_t)(r >> 8) % 20;
        char *p = ldr_arena_alloc(a, len + 1);
        for (size_t i = 0; i < len; i++)
            p[i] = t == LDR_TYPE_STRING ? (char)('a' + (rng_next(rng) % 26))
                                        : (char)(rng_next(rng) & 0xff);
        return v_str(t, p, len);
    }
    }
}

/* A random value of type t: sometimes null; lists of 0..6 elements, some null. */
static ldr_value random_value(ldr_type t, uint64_t *rng, ldr_arena *a)
{
    if (rng_next(rng) % 6 == 0)
        return ldr_value_null(t);
    if (!ldr_type_is_list(t))
        return random_scalar(t, rng, a);
    size_t n = (size_t)(rng_next(rng) % 7);
    ldr_value *items = ldr_arena_calloc(a, n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i] = rng_next(rng) % 4 == 0 ? ldr_value_null(ldr_type_elem(t))
                                          : random_scalar(ldr_type_elem(t), rng, a);
    }
    return v_list(t, items, n);
}

static const char *const *field_names(const ldr_field *f, size_t n, ldr_arena *a)
{
    const char **names = ldr_arena_calloc(a, n, sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = f[i].name;
    return names;
}

static const ldr_type *field_types(const ldr_field *f, size_t n, ldr_arena *a)
{
    ldr_type *types = ldr_arena_calloc(a, n, sizeof *types);
    for (size_t i = 0; i < n; i++)
        types[i] = f[i].type;
    return types;
}

TEST(row_round_trip_every_type)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_err err;
    ldr_online_row_layout layout;
    CHECK_OK(ldr_online_row_layout_init(&layout, all_fields, N_ALL, &a, &err), err);
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, field_names(all_fields, N_ALL, &a),
                             field_types(all_fields, N_ALL, &a), N_ALL, &a);
    uint64_t rng = 42;
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    for (int round = 0; round < 500; round++) {
        ldr_value in[N_ALL], out[N_ALL];
        bool present[N_ALL];
        for (size_t i = 0; i < N_ALL; i++)
            in[i] = random_value(all_fields[i].type, &rng, &a);
        ldr_buf_reset(&b);
        CHECK_OK(ldr_online_row_encode(&layout, in, &b, &err), err);
        CHECK_OK(ldr_online_row_decode(&proj, b.ptr, b.len, &a, out, present, &err), err);
        for (size_t i = 0; i < N_ALL; i++) {
            CHECK(present[i]);
            if (!ldr_value_eq(&in[i], &out[i]))
                HARNESS_FAIL("round %d: feature %s differs", round, all_fields[i].name);
        }
        /* The entry list sees the same values in feature order. */
        ldr_online_row_entry *entries;
        size_t n;
        CHECK_OK(ldr_online_row_entries(b.ptr, b.len, &a, &entries, &n, &err), err);
        CHECK_EQ_I64(n, N_ALL);
        for (size_t i = 0; i < n && n == N_ALL; i++) {
            CHECK_EQ_I64(entries[i].hash, layout.hashes[i]);
            CHECK(in[i].is_null ? entries[i].value.is_null
                                : ldr_value_eq(&entries[i].value, &in[i]));
        }
    }
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

TEST(row_pinned_bytes)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_err err;
    static const ldr_field f[] = {{.name = "a", .type = LDR_TYPE_INT64},
                                  {.name = "b", .type = LDR_TYPE_STRING_LIST},
                                  {.name = "c", .type = LDR_TYPE_BOOL}};
    ldr_online_row_layout layout;
    CHECK_OK(ldr_online_row_layout_init(&layout, f, 3, &a, &err), err);
    CHECK_EQ_I64(layout.hashes[0], ldr_murmur3_32("a", 1, 0));
    ldr_value items[] = {v_str(LDR_TYPE_STRING, "xy", 2), ldr_value_null(LDR_TYPE_STRING),
                         v_str(LDR_TYPE_STRING, "", 0)};
    ldr_value vals[] = {v_i64(-3), v_list(LDR_TYPE_STRING_LIST, items, 3),
                        ldr_value_null(LDR_TYPE_BOOL)};
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_online_row_encode(&layout, vals, &b, &err), err);
    char expected[256];
    uint32_t ha = layout.hashes[0], hb = layout.hashes[1], hc = layout.hashes[2];
    /* version 1, 3 entries; a: tag 4, zigzag(-3) = 5; b: tag 12, body 6 bytes:
     * header (3 << 1 | 1) = 7, bitmap 0b010, "xy" (len 2), "" (len 0); c: tag 0 (null). */
    snprintf(expected, sizeof expected,
             "0103%02x%02x%02x%02x0405%02x%02x%02x%02x0c060702027879"
             "00%02x%02x%02x%02x00",
             ha & 255, ha >> 8 & 255, ha >> 16 & 255, ha >> 24, hb & 255, hb >> 8 & 255,
             hb >> 16 & 255, hb >> 24, hc & 255, hc >> 8 & 255, hc >> 16 & 255, hc >> 24);
    CHECK_HEX(&b, expected);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

TEST(row_absent_null_and_duplicate_requests)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_err err;
    static const ldr_field f[] = {{.name = "x", .type = LDR_TYPE_INT64},
                                  {.name = "gone", .type = LDR_TYPE_STRING}};
    ldr_online_row_layout layout;
    CHECK_OK(ldr_online_row_layout_init(&layout, f, 2, &a, &err), err);
    ldr_value vals[] = {v_i64(9), ldr_value_null(LDR_TYPE_STRING)};
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_online_row_encode(&layout, vals, &b, &err), err);
    const char *names[] = {"new", "x", "gone", "x"};
    const ldr_type types[] = {LDR_TYPE_FLOAT64, LDR_TYPE_INT64, LDR_TYPE_STRING, LDR_TYPE_INT64};
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, names, types, 4, &a);
    ldr_value out[4];
    bool present[4];
    CHECK_OK(ldr_online_row_decode(&proj, b.ptr, b.len, &a, out, present, &err), err);
    CHECK(!present[0] && out[0].is_null && out[0].type == LDR_TYPE_FLOAT64);
    CHECK(present[1] && out[1].u.i64 == 9);
    CHECK(present[2] && out[2].is_null && out[2].type == LDR_TYPE_STRING);
    CHECK(present[3] && out[3].u.i64 == 9);
    /* Zero requested features still validates the header. */
    ldr_online_row_proj none;
    ldr_online_row_proj_init(&none, NULL, NULL, 0, &a);
    CHECK_OK(ldr_online_row_decode(&none, b.ptr, b.len, &a, NULL, NULL, &err), err);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

/* Encodes `in` as feature "v" and decodes it as type `want`. */
static bool convert_via_row(ldr_value in, ldr_type want, ldr_arena *a, ldr_value *out)
{
    ldr_field f = {.name = "v", .type = in.type};
    ldr_err err;
    ldr_online_row_layout layout;
    CHECK_OK(ldr_online_row_layout_init(&layout, &f, 1, a, &err), err);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_online_row_encode(&layout, &in, &b, &err), err);
    const char *name = "v";
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, &name, &want, 1, a);
    bool present = false;
    CHECK_OK(ldr_online_row_decode(&proj, b.ptr, b.len, a, out, &present, &err), err);
    ldr_buf_fini(&b);
    CHECK(out->type == want);
    CHECK(present || out->is_null);
    return present;
}

TEST(row_converts_only_exactly)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_value o;
    CHECK(convert_via_row(v_i32(-7), LDR_TYPE_INT64, &a, &o) && o.u.i64 == -7);
    CHECK(convert_via_row(v_i32(INT32_MAX), LDR_TYPE_FLOAT64, &a, &o) && o.u.f64 == INT32_MAX);
    CHECK(!convert_via_row(v_i32(16777217), LDR_TYPE_FLOAT32, &a, &o));
    CHECK(convert_via_row(v_i64(1LL << 31), LDR_TYPE_FLOAT32, &a, &o));
    CHECK(!convert_via_row(v_i64(1LL << 31), LDR_TYPE_INT32, &a, &o));
    CHECK(convert_via_row(v_i64(-5), LDR_TYPE_INT32, &a, &o) && o.u.i32 == -5);
    CHECK(!convert_via_row(v_i64((1LL << 53) + 1), LDR_TYPE_FLOAT64, &a, &o));
    CHECK(!convert_via_row(v_i64(INT64_MAX), LDR_TYPE_FLOAT64, &a, &o));
    CHECK(convert_via_row(v_f64(3.0), LDR_TYPE_INT64, &a, &o) && o.u.i64 == 3);
    CHECK(!convert_via_row(v_f64(3.5), LDR_TYPE_INT64, &a, &o));
    CHECK(!convert_via_row(v_f64(-0.0), LDR_TYPE_INT32, &a, &o));
    CHECK(!convert_via_row(v_f64(9223372036854775808.0), LDR_TYPE_INT64, &a, &o));
    CHECK(!convert_via_row(v_f64((double)NAN), LDR_TYPE_INT64, &a, &o));
    CHECK(convert_via_row(v_f64((double)NAN), LDR_TYPE_FLOAT32, &a, &o) && isnan(o.u.f32));
    CHECK(convert_via_row(v_f64(-(double)INFINITY), LDR_TYPE_FLOAT32, &a, &o) && isinf(o.u.f32));
    CHECK(convert_via_row(v_f64(0.5), LDR_TYPE_FLOAT32, &a, &o) && o.u.f32 == 0.5f);
    CHECK(!convert_via_row(v_f64(0.1), LDR_TYPE_FLOAT32, &a, &o));
    CHECK(!convert_via_row(v_f64(1e300), LDR_TYPE_FLOAT32, &a, &o));
    CHECK(convert_via_row(v_f32(0.1f), LDR_TYPE_FLOAT64, &a, &o) && o.u.f64 == (double)0.1f);
    CHECK(convert_via_row(v_str(LDR_TYPE_STRING, "ab", 2), LDR_TYPE_BYTES, &a, &o) &&
          o.u.str.len == 2 && memcmp(o.u.str.ptr, "ab", 2) == 0);
    CHECK(!convert_via_row(v_str(LDR_TYPE_BYTES, "ab", 2), LDR_TYPE_STRING, &a, &o));
    CHECK(!convert_via_row(v_bool(true), LDR_TYPE_INT32, &a, &o));
    CHECK(!convert_via_row(v_ts(5), LDR_TYPE_INT64, &a, &o));
    CHECK(!convert_via_row(v_i64(5), LDR_TYPE_INT64_LIST, &a, &o));
    ldr_value items[] = {v_i32(1), ldr_value_null(LDR_TYPE_INT32), v_i32(-2)};
    ldr_value list = v_list(LDR_TYPE_INT32_LIST, items, 3);
    CHECK(convert_via_row(list, LDR_TYPE_INT64_LIST, &a, &o) && o.u.list.n == 3 &&
          o.u.list.items[0].u.i64 == 1 && o.u.list.items[1].is_null &&
          o.u.list.items[1].type == LDR_TYPE_INT64 && o.u.list.items[2].u.i64 == -2);
    CHECK(!convert_via_row(list, LDR_TYPE_INT32, &a, &o));
    ldr_value fl[] = {v_f64(0.5), v_f64(0.1)};
    CHECK(!convert_via_row(v_list(LDR_TYPE_FLOAT64_LIST, fl, 2), LDR_TYPE_FLOAT32_LIST, &a, &o));
    ldr_arena_fini(&a);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

TEST(row_layout_and_encode_errors)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 20);
    ldr_err err;
    ldr_online_row_layout layout;
    static const ldr_field dup[] = {{.name = "a", .type = LDR_TYPE_INT64},
                                    {.name = "a", .type = LDR_TYPE_INT32}};
    CHECK_FAILS(ldr_online_row_layout_init(&layout, dup, 2, &a, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "'a' is listed twice");
    static const ldr_field bad_type[] = {{.name = "a", .type = LDR_TYPE_INVALID}};
    CHECK_FAILS(ldr_online_row_layout_init(&layout, bad_type, 1, &a, &err), LDR_EINVAL);
    /* Two names with the same murmur3 hash (birthday bound: ~2^16 names suffice). */
    enum { N = 200000 };
    uint64_t *hn = ldr_xcalloc(N, sizeof *hn);
    char names[2][16];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(names[0], sizeof names[0], "f%u", i);
        hn[i] = (uint64_t)ldr_murmur3_32(names[0], strlen(names[0]), 0) << 32 | i;
    }
    qsort(hn, N, sizeof *hn, cmp_u64);
    size_t k = 1;
    while (k < N && hn[k] >> 32 != hn[k - 1] >> 32)
        k++;
    CHECK(k < N);
    if (k < N) {
        snprintf(names[0], sizeof names[0], "f%u", (unsigned)(hn[k - 1] & 0xffffffffu));
        snprintf(names[1], sizeof names[1], "f%u", (unsigned)(hn[k] & 0xffffffffu));
        ldr_field clash[] = {{.name = names[0], .type = LDR_TYPE_INT64},
                             {.name = names[1], .type = LDR_TYPE_INT64}};
        CHECK_FAILS(ldr_online_row_layout_init(&layout, clash, 2, &a, &err), LDR_EINVAL);
        CHECK_CONTAINS(err.msg, "same murmur3 hash");
    }
    ldr_free(hn);
    /* A value of the wrong type, or a list element of the wrong type, names the feature;
     * the buffer keeps its previous content. */
    static const ldr_field f[] = {{.name = "n", .type = LDR_TYPE_INT64},
                                  {.name = "l", .type = LDR_TYPE_INT64_LIST}};
    CHECK_OK(ldr_online_row_layout_init(&layout, f, 2, &a, &err), err);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK(ldr_buf_append(&b, "keep", 4, &err) == LDR_OK);
    ldr_value wrong[] = {v_i32(1), ldr_value_null(LDR_TYPE_INT64_LIST)};
    CHECK_FAILS(ldr_online_row_encode(&layout, wrong, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "feature 'n': value of type Int32, declared Int64");
    ldr_value elems[] = {v_i64(1), v_f64(2.0)};
    ldr_value wrong2[] = {v_i64(1), v_list(LDR_TYPE_INT64_LIST, elems, 2)};
    CHECK_FAILS(ldr_online_row_encode(&layout, wrong2, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "feature 'l': list element 1");
    CHECK_EQ_I64(b.len, 4);
    /* A null of any type is fine: nulls carry no type. */
    ldr_value nulls[] = {ldr_value_null(LDR_TYPE_STRING), ldr_value_null(LDR_TYPE_BOOL)};
    CHECK_OK(ldr_online_row_encode(&layout, nulls, &b, &err), err);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

/* Decodes (all features, and the entry list) without crashing; on failure the error is
 * ECORRUPT with a message. Returns the decode result. */
static ldr_code decode_any(const ldr_online_row_proj *proj, const void *row, size_t len,
                           ldr_arena *a)
{
    ldr_value out[N_ALL];
    bool present[N_ALL];
    ldr_err err;
    err.msg[0] = '\0';
    ldr_code rc = ldr_online_row_decode(proj, row, len, a, out, present, &err);
    if (rc != LDR_OK && (rc != LDR_ECORRUPT || !err.msg[0]))
        HARNESS_FAIL("decode failed with code %d: %s", (int)rc, err.msg);
    ldr_online_row_entry *entries;
    size_t n;
    ldr_code rc2 = ldr_online_row_entries(row, len, a, &entries, &n, &err);
    if (rc2 != LDR_OK && (rc2 != LDR_ECORRUPT || !err.msg[0]))
        HARNESS_FAIL("entries failed with code %d: %s", (int)rc2, err.msg);
    return rc;
}

TEST(row_corrupt_input_is_an_error)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_err err;
    ldr_online_row_layout layout;
    CHECK_OK(ldr_online_row_layout_init(&layout, all_fields, N_ALL, &a, &err), err);
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, field_names(all_fields, N_ALL, &a),
                             field_types(all_fields, N_ALL, &a), N_ALL, &a);
    uint64_t rng = 7;
    ldr_value in[N_ALL];
    for (size_t i = 0; i < N_ALL; i++) {
        in[i] = random_value(all_fields[i].type, &rng, &a);
        if (in[i].is_null) /* make every payload kind appear */
            in[i] = random_value(all_fields[i].type, &rng, &a);
    }
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_online_row_encode(&layout, in, &b, &err), err);
    /* Every strict prefix is corrupt (copied so ASan sees reads past the end). */
    for (size_t len = 0; len < b.len; len++) {
        char *cut = ldr_xmalloc(len ? len : 1);
        memcpy(cut, b.ptr, len);
        if (decode_any(&proj, cut, len, &a) != LDR_ECORRUPT)
            HARNESS_FAIL("prefix of %zu bytes decoded", len);
        ldr_free(cut);
    }
    /* Every single-byte change either decodes or is a clear error; never a crash. */
    char *copy = ldr_xmalloc(b.len);
    for (size_t i = 0; i < b.len; i++) {
        for (int x = 0; x < 256; x += 17) {
            memcpy(copy, b.ptr, b.len);
            copy[i] = (char)((unsigned char)copy[i] ^ (unsigned char)(x | 1));
            (void)decode_any(&proj, copy, b.len, &a);
        }
    }
    ldr_free(copy);
    /* Specific problems, with readable messages. */
    CHECK_FAILS(ldr_online_row_decode(&proj, "\x02\x00", 2, &a, in, (bool[N_ALL]){0}, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "unknown format version 2");
    static const char bad_tag[] = "\x01\x01\x00\x00\x00\x00\x09";
    CHECK_FAILS(ldr_online_row_decode(&proj, bad_tag, 7, &a, in, (bool[N_ALL]){0}, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "unknown type tag");
    uint32_t h = ldr_murmur3_32("f_bool", 6, 0);
    char bad_bool[8] = {1, 1, (char)h, (char)(h >> 8), (char)(h >> 16), (char)(h >> 24), 7, 2};
    CHECK_FAILS(ldr_online_row_decode(&proj, bad_bool, 8, &a, in, (bool[N_ALL]){0}, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "Bool byte");
    char twice[14] = {1, 2};
    memcpy(twice + 2, bad_bool + 2, 4);
    twice[6] = 0;
    memcpy(twice + 7, bad_bool + 2, 4);
    twice[11] = 0;
    CHECK_FAILS(ldr_online_row_decode(&proj, twice, 12, &a, in, (bool[N_ALL]){0}, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "stored twice");
    /* A list claiming 2^62 elements is refused before allocating. */
    uint32_t hl = ldr_murmur3_32("l_i64", 5, 0);
    char huge[] = {
        1,          1,          (char)hl,   (char)(hl >> 8), (char)(hl >> 16), (char)(hl >> 24),
        14,         11,         (char)0x81, (char)0x80,      (char)0x80,       (char)0x80,
        (char)0x80, (char)0x80, (char)0x80, (char)0x80,      (char)0x80,       0x01,
        0};
    CHECK_FAILS(ldr_online_row_decode(&proj, huge, sizeof huge, &a, in, (bool[N_ALL]){0}, &err),
                LDR_ECORRUPT);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

int main(void)
{
    RUN(key_feast_vector);
    RUN(key_sorts_pairs_by_name);
    RUN(key_rejects_bad_values);
    RUN(key_decode_round_trip);
    RUN(murmur3_vectors);
    RUN(row_round_trip_every_type);
    RUN(row_pinned_bytes);
    RUN(row_absent_null_and_duplicate_requests);
    RUN(row_converts_only_exactly);
    RUN(row_layout_and_encode_errors);
    RUN(row_corrupt_input_is_an_error);
    return harness_done();
}
