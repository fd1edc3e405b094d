/*
 * test_online.c -- the online store module: Feast v3 entity keys (published vectors,
 * sorting, errors, schema-free decoding of hostile bytes), murmur3_32, the row codec
 * (every type and list type, nulls, absent features, conversions on read, pinned bytes,
 * corrupt input), and ONE behavioural suite run against both backends (STORE_TEST
 * defines <name>_memory and <name>_sqlite): round trips, NOT_FOUND, newer-wins (older
 * event, equal event with older created, equal both, within one batch), atomic writes,
 * schema changes, update/drop/teardown. SQLite-only tests cover reopening, WAL, parent
 * directories, corrupt row blobs and files, and integrity_check; a random differential
 * test applies the same batches to both stores and to a brute-force model.
 *
 * SQLite files live under a mkdtemp directory in the working directory, removed at the
 * end. The corruption tests open the file with SQLite's own API to damage it, which is
 * why this test (not the module) includes sqlite3.h.
 */
#include "online/online.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "harness.h"
#include "online/online_int.h"
#include "online/redis_conn.h"

/* ---- Helpers --------------------------------------------------------------------------- */

static char tmp_root[64];
static int dir_seq;
static const char *g_type;    /* backend of the running store test */
static const char *g_redis;   /* LARDER_TEST_REDIS ("127.0.0.1:PORT") or NULL */
static const char *g_cluster; /* LARDER_TEST_REDIS_CLUSTER (seed list) or NULL */
/* Set while a Redis store test runs: random values stay within what Feast's protobuf
 * Value holds (whole-second timestamps, no null inside non-timestamp lists). */
static bool g_feast_values;
static long long g_ttl; /* key_ttl_seconds of the next Redis store opened */
static int g_writers;   /* concurrent_writers of the next Redis store opened */

static void fresh_path(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%d", tmp_root, ++dir_seq);
    if (mkdir(buf, 0777) != 0)
        HARNESS_FAIL("mkdir %s: %s", buf, strerror(errno));
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "/online.db");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* "redis" runs against LARDER_TEST_REDIS, "redis_cluster" against the cluster. */
static ldr_online_store *open_type(const char *type, const char *path, ldr_err *err)
{
    ldr_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.project = "proj";
    cfg.online_type = type;
    cfg.online_path = path;
    if (!strcmp(type, "redis_cluster")) {
        cfg.online_type = "redis";
        cfg.online_connection_string = g_cluster;
        cfg.online_redis_cluster = true;
    } else if (!strcmp(type, "redis")) {
        cfg.online_connection_string = g_redis;
    }
    cfg.online_key_ttl_seconds = g_ttl;
    cfg.online_concurrent_writers = g_writers;
    return ldr_online_open(&cfg, err);
}

static bool is_redis(const char *type)
{
    return !strncmp(type, "redis", 5);
}

/* A raw connection to the running Redis test server (or cluster), for setup and checks. */
static ldr_redis *raw_redis(ldr_arena *a)
{
    bool cluster = !strcmp(g_type, "redis_cluster");
    ldr_redis_opts o;
    ldr_err err;
    CHECK_OK(ldr_redis_opts_parse(cluster ? g_cluster : g_redis, cluster, a, &o, &err), err);
    ldr_redis *r = ldr_redis_open(&o, &err);
    if (!r)
        HARNESS_FAIL("connect: %s", err.msg);
    return r;
}

/* Runs one command with binary arguments (NULL-terminated argv; lengths by strlen unless
 * given in lens) routed by argv[1]; returns the reply (caller frees) or NULL. */
static redisReply *raw_cmd(ldr_redis *r, const char *const *argv, const size_t *lens, int argc)
{
    size_t len[16];
    for (int i = 0; i < argc; i++)
        len[i] = lens && lens[i] ? lens[i] : strlen(argv[i]);
    ldr_redis_cmd c = {argc, argv, len, argc > 1 ? argv[1] : NULL, argc > 1 ? len[1] : 0};
    redisReply *rep = NULL;
    ldr_err err;
    CHECK_OK(ldr_redis_exec(r, &c, 1, &rep, &err), err);
    return rep;
}

/* The Redis key of an entity key: its bytes followed by the project (from a). */
static const char *full_key_of(const ldr_online_keyref *k, const char *project, ldr_arena *a,
                               size_t *len)
{
    size_t pl = strlen(project);
    char *p = ldr_arena_alloc(a, k->len + pl);
    memcpy(p, k->ptr, k->len);
    memcpy(p + k->len, project, pl);
    *len = k->len + pl;
    return p;
}

/* FLUSHALL on every primary node. */
static void redis_flush(void)
{
    ldr_arena a;
    ldr_arena_init(&a, 1024);
    ldr_redis *r = raw_redis(&a);
    for (size_t i = 0; r && i < ldr_redis_node_count(r); i++) {
        const char *argv[] = {"FLUSHALL"};
        size_t len[] = {8};
        ldr_redis_cmd c = {1, argv, len, NULL, 0};
        redisReply *rep = NULL;
        ldr_err err;
        CHECK_OK(ldr_redis_exec_node(r, i, &c, 1, &rep, &err), err);
        ldr_redis_replies_free(&rep, 1);
    }
    ldr_redis_close(r);
    ldr_arena_fini(&a);
}

/* A fresh, empty store of the running backend type. */
static ldr_online_store *open_fresh(char *path, size_t cap)
{
    fresh_path(path, cap);
    if (is_redis(g_type))
        redis_flush();
    ldr_err err;
    ldr_online_store *s = open_type(g_type, path, &err);
    if (!s)
        HARNESS_FAIL("open %s: %s", g_type, err.msg);
    return s;
}

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

/* Serializes a one-key Int64 entity key into the arena. */
static ldr_online_keyref key_i64(ldr_arena *a, const char *name, int64_t id)
{
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    ldr_value v = v_i64(id);
    ldr_err err;
    CHECK_OK(ldr_online_key_encode(&name, &v, 1, &b, &err), err);
    char *copy = ldr_arena_alloc(a, b.len);
    memcpy(copy, b.ptr, b.len);
    ldr_online_keyref k = {copy, b.len};
    ldr_buf_fini(&b);
    return k;
}

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
    case LDR_TYPE_UNIX_TIMESTAMP: {
        ldr_ts ts = pick == 0 ? INT64_MIN + 1 : 1700000000000000LL + (int64_t)(r >> 40);
        return v_ts(g_feast_values ? ts - ts % 1000000 : ts);
    }
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
        bool null_ok = !g_feast_values || t == LDR_TYPE_UNIX_TIMESTAMP_LIST;
        items[i] = rng_next(rng) % 4 == 0 && null_ok ? ldr_value_null(ldr_type_elem(t))
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

/* ---- The store suite (run against every backend) -------------------------------------- */

/* Defines test_<name>_memory, _sqlite, _redis, _redis_cluster and _redis_unguarded
 * (concurrent_writers: none) running the same body.
 * The Redis ones skip (TAP) unless redis_servers.py exported the servers' addresses. */
#define STORE_TEST(name)                                                          \
    static void store_##name(void);                                               \
    TEST(name##_memory)                                                           \
    {                                                                             \
        g_type = "memory";                                                        \
        store_##name();                                                           \
    }                                                                             \
    TEST(name##_sqlite)                                                           \
    {                                                                             \
        g_type = "sqlite";                                                        \
        store_##name();                                                           \
    }                                                                             \
    TEST(name##_redis)                                                            \
    {                                                                             \
        SKIP_UNLESS(g_redis, "LARDER_TEST_REDIS not set (no redis-server)");      \
        g_type = "redis";                                                         \
        g_feast_values = true;                                                    \
        store_##name();                                                           \
        g_feast_values = false;                                                   \
    }                                                                             \
    TEST(name##_redis_cluster)                                                    \
    {                                                                             \
        SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no cluster)"); \
        g_type = "redis_cluster";                                                 \
        g_feast_values = true;                                                    \
        store_##name();                                                           \
        g_feast_values = false;                                                   \
    }                                                                             \
    TEST(name##_redis_unguarded)                                                  \
    {                                                                             \
        SKIP_UNLESS(g_redis, "LARDER_TEST_REDIS not set (no redis-server)");      \
        g_type = "redis";                                                         \
        g_writers = LDR_WRITERS_NONE;                                             \
        g_feast_values = true;                                                    \
        store_##name();                                                           \
        g_feast_values = false;                                                   \
        g_writers = LDR_WRITERS_LARDER;                                           \
    }                                                                             \
    static void store_##name(void)

static const ldr_field xs_fields[] = {{.name = "x", .type = LDR_TYPE_INT64},
                                      {.name = "s", .type = LDR_TYPE_STRING}};

static ldr_online_view view_of(const char *project, const char *name, const ldr_field *f, size_t n)
{
    ldr_online_view v = {.project = project, .name = name, .features = f, .n_features = n};
    return v;
}

static const char *const xs_names[] = {"x", "s"};
static const ldr_type xs_types[] = {LDR_TYPE_INT64, LDR_TYPE_STRING};

/* Writes one row (x, s) for driver id `id`; returns the code, *n_written the count. */
static ldr_code write_xs(ldr_online_store *s, const ldr_online_view *v, int64_t id, int64_t x,
                         const char *str, ldr_ts ev, ldr_ts cr, size_t *n_written, ldr_err *err)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_value vals[] = {v_i64(x), str ? v_str(LDR_TYPE_STRING, str, strlen(str))
                                      : ldr_value_null(LDR_TYPE_STRING)};
    ldr_online_row row = {key_i64(&a, "driver_id", id), vals, ev, cr};
    ldr_code rc = ldr_online_write(s, v, &row, 1, n_written, err);
    ldr_arena_fini(&a);
    return rc;
}

/* Reads (x, s) of one driver; returns the hit (arrays from a). */
static ldr_online_hit read_xs(ldr_online_store *s, const ldr_online_view *v, int64_t id,
                              ldr_arena *a)
{
    ldr_online_keyref k = key_i64(a, "driver_id", id);
    ldr_online_hit hit;
    memset(&hit, 0, sizeof hit);
    ldr_err err;
    CHECK_OK(ldr_online_read(s, v, xs_names, xs_types, 2, &k, 1, a, &hit, &err), err);
    return hit;
}

/* Checks that a driver's stored (x, event, created). */
#define CHECK_XS(s, v, id, x, ev, cr)                      \
    do {                                                   \
        ldr_arena ca_;                                     \
        ldr_arena_init(&ca_, 4096);                        \
        ldr_online_hit h_ = read_xs((s), (v), (id), &ca_); \
        CHECK(h_.found);                                   \
        if (h_.found) {                                    \
            CHECK_EQ_I64(h_.values[0].u.i64, (x));         \
            CHECK_EQ_I64(h_.event_ts, (ev));               \
            CHECK_EQ_I64(h_.created_ts, (cr));             \
        }                                                  \
        ldr_arena_fini(&ca_);                              \
    } while (0)

STORE_TEST(round_trip_every_type)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    CHECK_EQ_STR(ldr_online_type(s), is_redis(g_type) ? "redis" : g_type);
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_online_view v = view_of("proj", "all_types", all_fields, N_ALL);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    enum { N = 50 };
    ldr_online_row rows[N];
    ldr_online_keyref keys[N + 2];
    uint64_t rng = 3;
    for (int i = 0; i < N; i++) {
        ldr_value *vals = ldr_arena_calloc(&a, N_ALL, sizeof *vals);
        for (size_t j = 0; j < N_ALL; j++)
            vals[j] = random_value(all_fields[j].type, &rng, &a);
        keys[i] = key_i64(&a, "driver_id", i);
        rows[i] = (ldr_online_row){keys[i], vals, 1000 + i, i % 2 ? LDR_TS_NONE : 7};
    }
    keys[N] = key_i64(&a, "driver_id", 999);
    keys[N + 1] = keys[3]; /* a key may repeat */
    size_t written = 0;
    CHECK_OK(ldr_online_write(s, &v, rows, N, &written, &err), err);
    CHECK_EQ_I64(written, N);
    ldr_online_hit hits[N + 2];
    CHECK_OK(ldr_online_read(s, &v, field_names(all_fields, N_ALL, &a),
                             field_types(all_fields, N_ALL, &a), N_ALL, keys, N + 2, &a, hits,
                             &err),
             err);
    for (int i = 0; i < N + 2; i++) {
        int src = i == N + 1 ? 3 : i;
        CHECK(hits[i].found == (i != N));
        if (!hits[i].found)
            continue;
        CHECK_EQ_I64(hits[i].event_ts, 1000 + src);
        CHECK_EQ_I64(hits[i].created_ts, src % 2 ? LDR_TS_NONE : 7);
        for (size_t j = 0; j < N_ALL; j++) {
            CHECK(hits[i].present[j]);
            if (!ldr_value_eq(&hits[i].values[j], &rows[src].values[j]))
                HARNESS_FAIL("key %d feature %s differs", src, all_fields[j].name);
        }
    }
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(unknown_keys_are_not_found)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    /* An empty view reads as "not found" for every key. */
    ldr_online_hit h = read_xs(s, &v, 1, &a);
    CHECK(!h.found);
    CHECK_OK(write_xs(s, &v, 1, 10, "a", 100, LDR_TS_NONE, NULL, &err), err);
    ldr_online_keyref keys[] = {key_i64(&a, "driver_id", 2),
                                key_i64(&a, "driver_id", 1),
                                {NULL, 0},
                                {"\x01\x02", 2},
                                key_i64(&a, "other_id", 1)};
    ldr_online_hit hits[5];
    CHECK_OK(ldr_online_read(s, &v, xs_names, xs_types, 2, keys, 5, &a, hits, &err), err);
    for (int i = 0; i < 5; i++) {
        CHECK(hits[i].found == (i == 1));
        if (i == 1)
            continue;
        CHECK_EQ_I64(hits[i].event_ts, LDR_TS_NONE);
        CHECK_EQ_I64(hits[i].created_ts, LDR_TS_NONE);
        for (int j = 0; j < 2; j++) {
            CHECK(!hits[i].present[j]);
            CHECK(hits[i].values[j].is_null && hits[i].values[j].type == xs_types[j]);
        }
    }
    CHECK(hits[1].present[0] && hits[1].values[0].u.i64 == 10);
    CHECK(hits[1].present[1] && hits[1].values[1].u.str.len == 1);
    /* Zero keys, zero features. */
    CHECK_OK(ldr_online_read(s, &v, NULL, NULL, 0, keys, 2, &a, hits, &err), err);
    CHECK(!hits[0].found && hits[1].found);
    CHECK_OK(ldr_online_read(s, &v, xs_names, xs_types, 2, NULL, 0, &a, NULL, &err), err);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(newer_wins)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    size_t w = 99;
    CHECK_OK(write_xs(s, &v, 1, 1, "a", 10, 5, &w, &err), err);
    CHECK_EQ_I64(w, 1);
    CHECK_OK(write_xs(s, &v, 1, 2, "b", 9, 100, &w, &err), err); /* older event */
    CHECK_EQ_I64(w, 0);
    CHECK_XS(s, &v, 1, 1, 10, 5);
    CHECK_OK(write_xs(s, &v, 1, 3, "c", 10, 4, &w, &err), err); /* same event, older created */
    CHECK_EQ_I64(w, 0);
    CHECK_XS(s, &v, 1, 1, 10, 5);
    CHECK_OK(write_xs(s, &v, 1, 4, "d", 10, 5, &w, &err), err); /* both equal: later wins */
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 4, 10, 5);
    CHECK_OK(write_xs(s, &v, 1, 5, "e", 10, 6, &w, &err), err); /* newer created */
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 5, 10, 6);
    CHECK_OK(write_xs(s, &v, 1, 6, "f", 11, LDR_TS_NONE, &w, &err), err); /* newer event */
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 6, 11, LDR_TS_NONE);
    CHECK_OK(write_xs(s, &v, 1, 7, "g", 11, LDR_TS_NONE, &w, &err), err); /* none == none */
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 7, 11, LDR_TS_NONE);
    CHECK_OK(write_xs(s, &v, 1, 8, "h", 11, -5, &w, &err), err); /* any created > none */
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 8, 11, -5);
    CHECK_OK(write_xs(s, &v, 1, 9, "i", 11, LDR_TS_NONE, &w, &err), err); /* none < -5 */
    CHECK_EQ_I64(w, 0);
    CHECK_XS(s, &v, 1, 8, 11, -5);
    CHECK_OK(write_xs(s, &v, 1, 10, NULL, INT64_MAX, INT64_MAX, &w, &err), err);
    CHECK_XS(s, &v, 1, 10, INT64_MAX, INT64_MAX);
    ldr_online_close(s);
}

STORE_TEST(newer_wins_within_one_batch)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    ldr_online_keyref k1 = key_i64(&a, "driver_id", 1), k2 = key_i64(&a, "driver_id", 2);
    ldr_value vals[6][2];
    for (int i = 0; i < 6; i++) {
        vals[i][0] = v_i64(i);
        vals[i][1] = ldr_value_null(LDR_TYPE_STRING);
    }
    ldr_online_row rows[] = {
        {k1, vals[0], 5, LDR_TS_NONE}, /* inserted */
        {k1, vals[1], 7, LDR_TS_NONE}, /* replaces */
        {k1, vals[2], 6, 1000},        /* older event: ignored */
        {k2, vals[3], 1, 2},           /* inserted */
        {k2, vals[4], 1, 1},           /* older created: ignored */
        {k1, vals[5], 7, LDR_TS_NONE}, /* equal: the later row wins */
    };
    size_t w = 0;
    CHECK_OK(ldr_online_write(s, &v, rows, 6, &w, &err), err);
    CHECK_EQ_I64(w, 4);
    CHECK_XS(s, &v, 1, 5, 7, LDR_TS_NONE);
    CHECK_XS(s, &v, 2, 3, 1, 2);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(failed_write_changes_nothing)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 1, 1, "a", 10, LDR_TS_NONE, NULL, &err), err);
    ldr_value good[] = {v_i64(2), v_str(LDR_TYPE_STRING, "b", 1)};
    ldr_value bad[] = {v_f64(2.5), v_str(LDR_TYPE_STRING, "b", 1)};
    ldr_online_row rows[] = {{key_i64(&a, "driver_id", 1), good, 20, LDR_TS_NONE},
                             {key_i64(&a, "driver_id", 2), good, 20, LDR_TS_NONE},
                             {key_i64(&a, "driver_id", 3), bad, 20, LDR_TS_NONE}};
    size_t w = 99;
    CHECK_FAILS(ldr_online_write(s, &v, rows, 3, &w, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "online write to proj.driver: row 2: feature 'x'");
    CHECK_EQ_I64(w, 0);
    CHECK_XS(s, &v, 1, 1, 10, LDR_TS_NONE);
    CHECK(!read_xs(s, &v, 2, &a).found);
    rows[2].values = good;
    rows[1].event_ts = LDR_TS_NONE;
    CHECK_FAILS(ldr_online_write(s, &v, rows, 3, &w, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "row 1 has no event timestamp");
    rows[1].event_ts = 20;
    rows[2].key.len = 0;
    CHECK_FAILS(ldr_online_write(s, &v, rows, 3, &w, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "row 2 has no entity key");
    CHECK(!read_xs(s, &v, 2, &a).found);
    CHECK_OK(ldr_online_write(s, &v, rows, 0, &w, &err), err); /* nothing to do */
    CHECK_EQ_I64(w, 0);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(schema_change_needs_no_rewrite)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v1 = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v1, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v1, 1, 5, "old", 10, LDR_TS_NONE, NULL, &err), err);
    /* The view loses s and gains y; apply keeps the table. */
    static const ldr_field f2[] = {{.name = "x", .type = LDR_TYPE_INT64},
                                   {.name = "y", .type = LDR_TYPE_FLOAT64}};
    ldr_online_view v2 = view_of("proj", "driver", f2, 2);
    CHECK_OK(ldr_online_update(s, &v2, 1, NULL, 0, &err), err);
    ldr_value vals[] = {v_i64(6), v_f64(0.25)};
    ldr_online_row row = {key_i64(&a, "driver_id", 2), vals, 10, LDR_TS_NONE};
    CHECK_OK(ldr_online_write(s, &v2, &row, 1, NULL, &err), err);
    /* x read as Float64 (converted exactly), y, and s (no longer declared). */
    const char *names[] = {"x", "y", "s"};
    const ldr_type types[] = {LDR_TYPE_FLOAT64, LDR_TYPE_FLOAT64, LDR_TYPE_STRING};
    ldr_online_keyref keys[] = {key_i64(&a, "driver_id", 1), key_i64(&a, "driver_id", 2)};
    ldr_online_hit h[2];
    CHECK_OK(ldr_online_read(s, &v2, names, types, 3, keys, 2, &a, h, &err), err);
    CHECK(h[0].found && h[1].found);
    CHECK(h[0].present[0] && h[0].values[0].u.f64 == 5.0);
    CHECK(!h[0].present[1] && h[0].values[1].is_null); /* absent: NOT_FOUND for y */
    CHECK(h[0].present[2] && h[0].values[2].u.str.len == 3);
    CHECK(h[1].present[0] && h[1].values[0].u.f64 == 6.0);
    CHECK(h[1].present[1] && h[1].values[1].u.f64 == 0.25);
    CHECK(!h[1].present[2]);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(update_drop_and_teardown)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view va = view_of("proj", "va", xs_fields, 2);
    ldr_online_view vb = view_of("proj", "vb", xs_fields, 2);
    ldr_online_keyref k = key_i64(&a, "driver_id", 1);
    ldr_online_hit h;
    /* Stores with tables refuse views update never created; Redis has no tables: such
     * a view simply has no rows, and writes need no update first. */
    bool tables = ldr_online_has_tables(s);
    CHECK(tables == !is_redis(g_type));
    if (tables) {
        CHECK_FAILS(ldr_online_read(s, &va, xs_names, xs_types, 2, &k, 1, &a, &h, &err),
                    LDR_ENOTFOUND);
        CHECK_CONTAINS(err.msg, "view proj.va has no table");
        CHECK_FAILS(write_xs(s, &va, 1, 1, "a", 1, LDR_TS_NONE, NULL, &err), LDR_ENOTFOUND);
    } else {
        CHECK(!read_xs(s, &va, 1, &a).found);
    }
    ldr_online_view both[] = {va, vb};
    CHECK_OK(ldr_online_update(s, both, 2, NULL, 0, &err), err);
    CHECK_OK(ldr_online_update(s, both, 2, NULL, 0, &err), err); /* idempotent */
    CHECK_OK(write_xs(s, &va, 1, 1, "a", 1, LDR_TS_NONE, NULL, &err), err);
    CHECK_OK(write_xs(s, &vb, 1, 2, "b", 1, LDR_TS_NONE, NULL, &err), err);
    /* Keep va, drop vb. */
    CHECK_OK(ldr_online_update(s, &va, 1, &vb, 1, &err), err);
    CHECK_XS(s, &va, 1, 1, 1, LDR_TS_NONE);
    if (tables)
        CHECK_FAILS(ldr_online_read(s, &vb, xs_names, xs_types, 2, &k, 1, &a, &h, &err),
                    LDR_ENOTFOUND);
    else
        CHECK(!read_xs(s, &vb, 1, &a).found);
    /* Re-adding gives an empty table; a view in both lists ends up empty too. */
    CHECK_OK(ldr_online_update(s, &vb, 1, NULL, 0, &err), err);
    CHECK(!read_xs(s, &vb, 1, &a).found);
    CHECK_OK(ldr_online_update(s, &va, 1, &va, 1, &err), err);
    CHECK(!read_xs(s, &va, 1, &a).found);
    CHECK_OK(write_xs(s, &va, 1, 3, "c", 1, LDR_TS_NONE, NULL, &err), err);
    CHECK_OK(ldr_online_teardown(s, both, 2, &err), err);
    if (tables)
        CHECK_FAILS(ldr_online_read(s, &va, xs_names, xs_types, 2, &k, 1, &a, &h, &err),
                    LDR_ENOTFOUND);
    else
        CHECK(!read_xs(s, &va, 1, &a).found);
    CHECK_OK(ldr_online_teardown(s, both, 2, &err), err); /* nothing left: fine */
    ldr_online_view nameless = view_of("proj", "", xs_fields, 2);
    CHECK_FAILS(ldr_online_update(s, &nameless, 1, NULL, 0, &err), LDR_EINVAL);
    CHECK_OK(ldr_online_integrity_check(s, &err), err);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

STORE_TEST(views_and_projects_are_separate)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_online_view views[] = {view_of("p1", "v", xs_fields, 2), view_of("p2", "v", xs_fields, 2),
                               view_of("p1", "w", xs_fields, 2)};
    CHECK_OK(ldr_online_update(s, views, 3, NULL, 0, &err), err);
    for (int i = 0; i < 3; i++)
        CHECK_OK(write_xs(s, &views[i], 7, 100 + i, "x", 1, LDR_TS_NONE, NULL, &err), err);
    for (int i = 0; i < 3; i++)
        CHECK_XS(s, &views[i], 7, 100 + i, 1, LDR_TS_NONE);
    CHECK_OK(ldr_online_teardown(s, &views[1], 1, &err), err);
    CHECK_XS(s, &views[0], 7, 100, 1, LDR_TS_NONE);
    CHECK_XS(s, &views[2], 7, 102, 1, LDR_TS_NONE);
    ldr_online_close(s);
}

STORE_TEST(entityless_and_composite_keys)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v = view_of("proj", "global", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_online_key_encode_entityless(&b, &err), err);
    size_t dummy_len = b.len;
    const char *names[] = {"user", "item"};
    ldr_value kv[] = {v_str(LDR_TYPE_STRING, "u1", 2), v_i32(4)};
    CHECK_OK(ldr_online_key_encode(names, kv, 2, &b, &err), err);
    ldr_online_keyref keys[] = {{b.ptr, dummy_len}, {b.ptr + dummy_len, b.len - dummy_len}};
    ldr_value v1[] = {v_i64(1), v_str(LDR_TYPE_STRING, "", 0)};
    ldr_value v2[] = {v_i64(2), v_str(LDR_TYPE_STRING, "z", 1)};
    ldr_online_row rows[] = {{keys[0], v1, 5, LDR_TS_NONE}, {keys[1], v2, 5, LDR_TS_NONE}};
    CHECK_OK(ldr_online_write(s, &v, rows, 2, NULL, &err), err);
    ldr_online_hit h[2];
    CHECK_OK(ldr_online_read(s, &v, xs_names, xs_types, 2, keys, 2, &a, h, &err), err);
    CHECK(h[0].found && h[0].values[0].u.i64 == 1 && h[0].values[1].u.str.len == 0);
    CHECK(h[1].found && h[1].values[0].u.i64 == 2);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* ---- SQLite only ----------------------------------------------------------------------- */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        HARNESS_FAIL("sqlite3_open %s: %s", path, db ? sqlite3_errmsg(db) : "?");
    return db;
}

/* The first column of the first row of sql, as text (static buffer). */
static const char *raw_query(sqlite3 *db, const char *sql)
{
    static char out[512];
    out[0] = '\0';
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        HARNESS_FAIL("prepare %s: %s", sql, sqlite3_errmsg(db));
        return out;
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        HARNESS_FAIL("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
}

TEST(sqlite_file_layout)
{
    char path[256];
    fresh_path(path, sizeof path);
    /* Parent directories are created. */
    char *slash = strrchr(path, '/');
    snprintf(slash, sizeof path - (size_t)(slash - path), "/data/nested/online.db");
    ldr_err err;
    ldr_online_store *s = open_type("sqlite", path, &err);
    CHECK(s != NULL);
    if (!s) {
        HARNESS_FAIL("%s", err.msg);
        return;
    }
    ldr_online_view v = view_of("proj", "driver_stats", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 1, 1, "a", 1700000000000000LL, LDR_TS_NONE, NULL, &err), err);
    sqlite3 *db = raw_open(path);
    CHECK_EQ_STR(raw_query(db, "PRAGMA journal_mode"), "wal");
    const char *sql =
        raw_query(db, "SELECT sql FROM sqlite_master WHERE name = 'proj_driver_stats'");
    CHECK_CONTAINS(sql, "entity_key BLOB PRIMARY KEY");
    CHECK_CONTAINS(sql, "WITHOUT ROWID");
    CHECK_EQ_STR(raw_query(db, "SELECT hex(entity_key) || ' ' || event_ts || ' ' ||"
                               " quote(created_ts) FROM proj_driver_stats"),
                 "01000000020000000900000064726976"
                 "65725F69640400000008000000010000"
                 "0000000000 1700000000000000 NULL");
    sqlite3_close(db);
    ldr_online_close(s);
}

TEST(sqlite_reopen_and_second_handle)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *s = open_type("sqlite", path, &err);
    ldr_online_store *t = open_type("sqlite", path, &err);
    CHECK(s && t);
    if (!s || !t)
        return;
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 1, 11, "a", 5, 6, NULL, &err), err);
    CHECK_XS(t, &v, 1, 11, 5, 6); /* the other handle sees the commit */
    CHECK_OK(write_xs(t, &v, 1, 12, "b", 6, 6, NULL, &err), err);
    CHECK_XS(s, &v, 1, 12, 6, 6);
    /* Another handle dropping the table is reported by the first, not a crash. */
    CHECK_OK(ldr_online_teardown(t, &v, 1, &err), err);
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_keyref k = key_i64(&a, "driver_id", 1);
    ldr_online_hit h;
    CHECK_FAILS(ldr_online_read(s, &v, xs_names, xs_types, 2, &k, 1, &a, &h, &err), LDR_ENOTFOUND);
    CHECK_FAILS(write_xs(s, &v, 1, 1, "a", 100, 6, NULL, &err), LDR_ENOTFOUND);
    CHECK_OK(ldr_online_update(t, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 1, 13, "c", 7, 6, NULL, &err), err);
    ldr_online_close(s);
    ldr_online_close(t);
    s = open_type("sqlite", path, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_XS(s, &v, 1, 13, 7, 6);
        CHECK_OK(ldr_online_integrity_check(s, &err), err);
    }
    ldr_online_close(s);
    ldr_arena_fini(&a);
}

/* Reads keep their read transaction between calls (sqlite.c, "held read snapshot"):
 * every commit of another handle must still be visible to the next read, on the same
 * key, on a second key, across a table drop and re-create, and after the reader's own
 * writes. */
TEST(sqlite_held_snapshot_sees_commits)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *r = open_type("sqlite", path, &err);
    ldr_online_store *w = open_type("sqlite", path, &err);
    CHECK(r && w);
    if (!r || !w)
        return;
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(w, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(w, &v, 1, 10, "a", 5, 6, NULL, &err), err);
    for (int64_t i = 0; i < 20; i++) {
        CHECK_XS(r, &v, 1, 10 + i, 5 + i, 6);
        CHECK_XS(r, &v, 1, 10 + i, 5 + i, 6); /* unchanged: the held snapshot */
        CHECK_OK(write_xs(w, &v, 1, 11 + i, "a", 6 + i, 6, NULL, &err), err);
        CHECK_OK(write_xs(w, &v, 2, 100 + i, "b", 6 + i, 6, NULL, &err), err);
        CHECK_XS(r, &v, 2, 100 + i, 6 + i, 6);
        /* A key read as missing, then written by the other handle: found next time (the
         * row cache must not keep the "no row" answer past the commit). */
        ldr_arena ma;
        ldr_arena_init(&ma, 4096);
        ldr_online_keyref mk = key_i64(&ma, "driver_id", 1000 + i);
        ldr_online_hit mh;
        CHECK_OK(ldr_online_read(r, &v, xs_names, xs_types, 2, &mk, 1, &ma, &mh, &err), err);
        CHECK(!mh.found);
        CHECK_OK(write_xs(w, &v, 1000 + i, 5, "m", 3, 3, NULL, &err), err);
        CHECK_XS(r, &v, 1000 + i, 5, 3, 3);
        ldr_arena_fini(&ma);
    }
    CHECK_OK(write_xs(r, &v, 3, 7, "c", 1, 1, NULL, &err), err); /* a write on the reader */
    CHECK_XS(w, &v, 3, 7, 1, 1);
    CHECK_XS(r, &v, 3, 7, 1, 1);
    CHECK_OK(ldr_online_teardown(w, &v, 1, &err), err);
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_keyref k = key_i64(&a, "driver_id", 1);
    ldr_online_hit h;
    CHECK_FAILS(ldr_online_read(r, &v, xs_names, xs_types, 2, &k, 1, &a, &h, &err), LDR_ENOTFOUND);
    CHECK_OK(ldr_online_update(w, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(w, &v, 1, 42, "d", 9, 9, NULL, &err), err);
    CHECK_XS(r, &v, 1, 42, 9, 9);
    CHECK_OK(ldr_online_integrity_check(r, &err), err);
    ldr_online_close(r);
    ldr_online_close(w);
    ldr_arena_fini(&a);
}

TEST(sqlite_corrupt_row_is_a_clear_error)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *s = open_type("sqlite", path, &err);
    if (!s) {
        HARNESS_FAIL("%s", err.msg);
        return;
    }
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 1, 1, "a", 1, LDR_TS_NONE, NULL, &err), err);
    CHECK_OK(write_xs(s, &v, 2, 2, "b", 1, LDR_TS_NONE, NULL, &err), err);
    sqlite3 *db = raw_open(path);
    static const char *const blobs[] = {"x'01ff'", "x''", "x'02'", "x'0101'", "'text'"};
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    for (size_t i = 0; i < LDR_ARRAY_LEN(blobs); i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE proj_driver SET value = %s", blobs[i]);
        raw_exec(db, sql);
        ldr_online_keyref k = key_i64(&a, "driver_id", 1);
        ldr_online_hit h;
        err.msg[0] = '\0';
        CHECK_FAILS(ldr_online_read(s, &v, xs_names, xs_types, 2, &k, 1, &a, &h, &err),
                    LDR_ECORRUPT);
        CHECK_CONTAINS(err.msg, "view proj.driver: online row");
    }
    sqlite3_close(db);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

TEST(sqlite_damaged_file)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *s = open_type("sqlite", path, &err);
    if (!s) {
        HARNESS_FAIL("%s", err.msg);
        return;
    }
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    enum { N = 3000 };
    ldr_online_row *rows = ldr_arena_calloc(&a, N, sizeof *rows);
    ldr_value vals[2] = {v_i64(1), v_str(LDR_TYPE_STRING, "some padding to fill pages", 26)};
    for (int i = 0; i < N; i++)
        rows[i] = (ldr_online_row){key_i64(&a, "driver_id", i), vals, 1, LDR_TS_NONE};
    CHECK_OK(ldr_online_write(s, &v, rows, N, NULL, &err), err);
    CHECK_OK(ldr_online_integrity_check(s, &err), err);
    ldr_online_close(s); /* the last connection checkpoints the WAL into the file */
    /* Scribble over the middle of the file (B-tree pages, not the header page). */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        CHECK(size > 16 * 4096);
        for (long off = 2 * 4096 + 100; off < size - 4096; off += 4096 * 3) {
            fseek(f, off, SEEK_SET);
            fwrite("\xde\xad\xbe\xef\xde\xad\xbe\xef", 1, 8, f);
        }
        fclose(f);
    }
    s = open_type("sqlite", path, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_FAILS(ldr_online_integrity_check(s, &err), LDR_ECORRUPT);
        CHECK_CONTAINS(err.msg, "integrity check failed");
        ldr_online_close(s);
    }
    /* Not a database at all. */
    fresh_path(path, sizeof path);
    f = fopen(path, "wb");
    if (f) {
        for (int i = 0; i < 100; i++)
            fputs("this is not a database\n", f);
        fclose(f);
    }
    CHECK(open_type("sqlite", path, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "not a SQLite database");
    ldr_arena_fini(&a);
}

TEST(sqlite_quotes_identifiers)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *s = open_type("sqlite", path, &err);
    if (!s) {
        HARNESS_FAIL("%s", err.msg);
        return;
    }
    ldr_online_view v = view_of("p\"q", "drop table; --", xs_fields, 2);
    CHECK_OK(ldr_online_update(s, &v, 1, NULL, 0, &err), err);
    CHECK_OK(write_xs(s, &v, 3, 33, "q", 1, LDR_TS_NONE, NULL, &err), err);
    CHECK_XS(s, &v, 3, 33, 1, LDR_TS_NONE);
    sqlite3 *db = raw_open(path);
    CHECK_EQ_STR(raw_query(db, "SELECT name FROM sqlite_master WHERE type = 'table'"),
                 "p\"q_drop table; --");
    sqlite3_close(db);
    CHECK_OK(ldr_online_teardown(s, &v, 1, &err), err);
    ldr_online_close(s);
}

TEST(open_errors)
{
    ldr_err err;
    CHECK(ldr_online_lookup_ops("postgres", &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EUNSUPPORTED);
    CHECK_EQ_STR(err.msg, "unknown online store type \"postgres\" (known: memory, sqlite, redis)");
    CHECK(open_type("postgres", "x", &err) == NULL);
    CHECK(ldr_online_lookup_ops("redis", &err) == &ldr_online_redis_ops);
    /* Redis: a bad connection string or an unreachable server is named, the password is
     * never shown. */
    ldr_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.project = "proj";
    cfg.online_type = "redis";
    cfg.online_connection_string = "127.0.0.1:1,password=s3cret,bogus=1";
    CHECK(ldr_online_open(&cfg, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ECONFIG);
    CHECK_CONTAINS(err.msg, "online store (redis): ");
    CHECK_CONTAINS(err.msg, "bogus");
    CHECK(!strstr(err.msg, "s3cret"));
    cfg.online_connection_string = "127.0.0.1:1,password=s3cret";
    CHECK(ldr_online_open(&cfg, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EBACKEND);
    CHECK_CONTAINS(err.msg, "127.0.0.1:1");
    CHECK(!strstr(err.msg, "s3cret"));
    CHECK(ldr_online_lookup_ops("sqlite", &err) == &ldr_online_sqlite_ops);
    CHECK(open_type("sqlite", NULL, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EINVAL);
    CHECK(open_type("sqlite", "/proc/no/such/dir/online.db", &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EIO);
    ldr_online_close(NULL);
}

/* ---- Multi-view reads (every backend) ---------------------------------------------------- */

STORE_TEST(read_many_matches_single_reads)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 14);
    ldr_online_view va = view_of("proj", "va", xs_fields, 2),
                    vb = view_of("proj", "vb", xs_fields, 2);
    ldr_online_view both[] = {va, vb};
    CHECK_OK(ldr_online_update(s, both, 2, NULL, 0, &err), err);
    for (int id = 1; id <= 3; id++) {
        CHECK_OK(write_xs(s, &va, id, 10 + id, "a", 100 + id, LDR_TS_NONE, NULL, &err), err);
        if (id != 2)
            CHECK_OK(write_xs(s, &vb, id, 20 + id, "b", 200 + id, 5, NULL, &err), err);
    }
    ldr_online_keyref keys[] = {key_i64(&a, "driver_id", 1), key_i64(&a, "driver_id", 2),
                                key_i64(&a, "driver_id", 3), key_i64(&a, "driver_id", 9)};
    ldr_online_hit ha[4], hb[3];
    ldr_online_read_req reqs[] = {{&va, xs_names, xs_types, 2, keys, 4, ha},
                                  {&vb, xs_names, xs_types, 2, keys, 3, hb}};
    CHECK_OK(ldr_online_read_many(s, reqs, 2, &a, &err), err);
    for (int i = 0; i < 4; i++) {
        CHECK(ha[i].found == (i < 3));
        if (i < 3)
            CHECK(ha[i].values[0].u.i64 == 11 + i && ha[i].event_ts == 101 + i);
    }
    CHECK(hb[0].found && hb[0].values[0].u.i64 == 21 && hb[0].created_ts == 5);
    CHECK(!hb[1].found && !hb[1].present[0] && hb[1].values[0].is_null);
    CHECK(hb[2].found && hb[2].values[0].u.i64 == 23);
    CHECK_OK(ldr_online_read_many(s, NULL, 0, &a, &err), err);
    ldr_online_read_req bad = {NULL, xs_names, xs_types, 2, keys, 1, ha};
    CHECK_FAILS(ldr_online_read_many(s, &bad, 1, &a, &err), LDR_EINVAL);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* ---- Feast's protobuf values (fixed vectors, derived by hand from the wire format) ------- *
 * A field key is varint(field_number << 3 | wire_type), wire types 0 varint, 1 fixed64,
 * 2 length-delimited, 5 fixed32. Value's oneof members are numbered like Feast's types:
 * bytes_val 1 -> key 0x0a (1<<3|2), string_val 2 -> 0x12, int32_val 3 -> 0x18 (3<<3|0),
 * int64_val 4 -> 0x20, double_val 5 -> 0x29 (5<<3|1), float_val 6 -> 0x35 (6<<3|5),
 * bool_val 7 -> 0x38, unix_timestamp_val 8 -> 0x40, bytes_list_val 11 -> 0x5a (11<<3|2),
 * string_list_val 12 -> 0x62, int32_list_val 13 -> 0x6a, int64_list_val 14 -> 0x72,
 * double_list_val 15 -> 0x7a, float_list_val 16 -> 130 = varint 82 01, bool_list_val 17
 * -> 138 = 8a 01, unix_timestamp_list_val 18 -> 146 = 92 01, null_val 19 -> 152 = 98 01.
 * A list member holds a message with `repeated T val = 1`: numbers packed under key 0x0a
 * (1<<3|2) with the byte length of the run; strings/bytes one 0x0a field each.
 * Varints: 7-bit groups, least significant first, high bit = more follows.
 *   1002 = 0x3ea: groups 0x6a, 0x07 -> ea 07.   150: 0x16, 0x01 -> 96 01.   300 -> ac 02.
 *   -1 as int32/int64 is sign-extended to 64 bits: nine ff groups then 01 (10 bytes).
 *   INT64_MIN (Feast's null timestamp in lists): nine 80 then 01.
 *   1700000000 = 0x6553f100: groups 0x00, 0x62, 0x4f, 0x2a, 0x06 -> 80 e2 cf aa 06
 *     (0x62<<7 + 0x4f<<14 + 0x2a<<21 + 0x06<<28 = 12544 + 1294336 + 88080384 + 1610612736).
 *   500000000: groups 0x00, 0x4a, 0x35, 0x6e, 0x01 -> 80 ca b5 ee 01.
 *   999995000 (the nanos of -5 us = -1 s + 999995000 ns) -> f8 ec ea dc 03.
 * IEEE 754 little-endian: 0.5 double 000000000000e03f, float 0000003f; 1.0f 0000803f;
 * -2.25 double 00000000000002c0. */

typedef struct pb_vector {
    ldr_value v;
    const char *hex;
} pb_vector;

static ldr_value v_list_of(ldr_type t, ldr_arena *a, size_t n, const ldr_value *items)
{
    ldr_value *copy = ldr_arena_calloc(a, n + 1, sizeof *copy);
    memcpy(copy, items, n * sizeof *items);
    return v_list(t, copy, n);
}

TEST(pb_value_vectors)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_err err;
    ldr_value i64s[] = {v_i64(1), v_i64(2), v_i64(300)};
    ldr_value strs[] = {v_str(LDR_TYPE_STRING, "a", 1), v_str(LDR_TYPE_STRING, "bc", 2)};
    ldr_value f32s[] = {v_f32(1.0f)}, f64s[] = {v_f64(-2.25)}, i32s[] = {v_i32(-1)};
    ldr_value bools[] = {v_bool(true), v_bool(false)}, bytes[] = {v_str(LDR_TYPE_BYTES, "", 0)};
    ldr_value tss[] = {v_ts(1000000), ldr_value_null(LDR_TYPE_UNIX_TIMESTAMP)};
    const pb_vector vec[] = {
        {ldr_value_null(LDR_TYPE_INT64), ""}, /* null: the empty message, as Feast writes it */
        {v_str(LDR_TYPE_BYTES, "\0\xff", 2), "0a0200ff"},
        {v_str(LDR_TYPE_STRING, "hi", 2), "12026869"},
        {v_i32(-1), "18ffffffffffffffffff01"},
        {v_i32(150), "189601"},
        {v_i64(1002), "20ea07"},
        {v_i64(0), "2000"}, /* a set oneof member is written even when zero */
        {v_f64(0.5), "29000000000000e03f"},
        {v_f32(0.5f), "350000003f"},
        {v_bool(true), "3801"},
        {v_bool(false), "3800"},
        {v_ts(1700000000000000LL), "4080e2cfaa06"}, /* seconds */
        {v_list_of(LDR_TYPE_INT64_LIST, &a, 3, i64s), "72060a040102ac02"},
        {v_list_of(LDR_TYPE_STRING_LIST, &a, 2, strs), "62070a01610a026263"},
        {v_list_of(LDR_TYPE_INT64_LIST, &a, 0, i64s), "7200"}, /* empty: no packed field */
        {v_list_of(LDR_TYPE_FLOAT32_LIST, &a, 1, f32s), "8201060a040000803f"},
        {v_list_of(LDR_TYPE_FLOAT64_LIST, &a, 1, f64s), "7a0a0a0800000000000002c0"},
        {v_list_of(LDR_TYPE_INT32_LIST, &a, 1, i32s), "6a0c0a0affffffffffffffffff01"},
        {v_list_of(LDR_TYPE_BOOL_LIST, &a, 2, bools), "8a01040a020100"},
        {v_list_of(LDR_TYPE_BYTES_LIST, &a, 1, bytes), "5a020a00"},
        {v_list_of(LDR_TYPE_UNIX_TIMESTAMP_LIST, &a, 2, tss), "92010d0a0b0180808080808080808001"},
    };
    ldr_buf b;
    ldr_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < LDR_ARRAY_LEN(vec); i++) {
        ldr_buf_reset(&b);
        CHECK_OK(ldr_online_pb_value_encode(&vec[i].v, &b, &err), err);
        CHECK_HEX(&b, vec[i].hex);
        /* the allocation-free scalar path writes the same bytes, or declines */
        uint8_t sb[LDR_ONLINE_PB_SCALAR_MAX];
        size_t sn = ldr_online_pb_scalar_encode(&vec[i].v, sb);
        ldr_type t = vec[i].v.type;
        bool scalar = !vec[i].v.is_null && !ldr_type_is_list(t) && t != LDR_TYPE_STRING &&
                      t != LDR_TYPE_BYTES;
        CHECK_EQ_I64(sn, scalar ? b.len : 0);
        CHECK(!sn || !memcmp(sb, b.ptr, sn));
        ldr_value back;
        CHECK_OK(ldr_online_pb_value_decode(b.ptr, b.len, &a, &back, &err), err);
        if (vec[i].v.is_null)
            CHECK(back.is_null && back.type == LDR_TYPE_INVALID);
        else if (!ldr_value_eq(&back, &vec[i].v))
            HARNESS_FAIL("vector %zu (%s) does not decode back", i, vec[i].hex);
    }
    /* The scalar path against the general one on random numbers of every width. */
    for (int i = 0; i < 20000; i++) {
        uint64_t x = (uint64_t)rand() << 40 ^ (uint64_t)rand() << 20 ^ (uint64_t)rand();
        int shift = rand() % 64;
        ldr_value r[] = {v_i64((int64_t)(x >> shift)),
                         v_i64(-(int64_t)(x >> shift)),
                         v_i32((int32_t)(x >> 32)),
                         v_f64((double)x / (double)(shift + 1)),
                         v_f32((float)(x >> shift)),
                         v_ts((ldr_ts)(x >> shift) - (1LL << 40)),
                         v_bool(x & 1)};
        for (size_t k = 0; k < LDR_ARRAY_LEN(r); k++) {
            ldr_buf_reset(&b);
            CHECK_OK(ldr_online_pb_value_encode(&r[k], &b, &err), err);
            uint8_t sb[LDR_ONLINE_PB_SCALAR_MAX];
            size_t sn = ldr_online_pb_scalar_encode(&r[k], sb);
            if (sn != b.len || memcmp(sb, b.ptr, sn) != 0)
                HARNESS_FAIL("scalar encoding of value %zu (type %d) differs", k, (int)r[k].type);
        }
    }
    /* Sub-second parts of UnixTimestamp values are dropped (rounded down), like Feast. */
    ldr_value frac = v_ts(1700000000750000LL), neg = v_ts(-1);
    ldr_buf_reset(&b);
    CHECK_OK(ldr_online_pb_value_encode(&frac, &b, &err), err);
    CHECK_HEX(&b, "4080e2cfaa06");
    ldr_buf_reset(&b);
    CHECK_OK(ldr_online_pb_value_encode(&neg, &b, &err), err);
    CHECK_HEX(&b, "40ffffffffffffffffff01"); /* -1 us -> -1 s */
    /* Feast cannot hold a null inside other lists. */
    ldr_value with_null[] = {v_i64(1), ldr_value_null(LDR_TYPE_INT64)};
    ldr_value bad = v_list_of(LDR_TYPE_INT64_LIST, &a, 2, with_null);
    ldr_buf_reset(&b);
    CHECK_FAILS(ldr_online_pb_value_encode(&bad, &b, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "element 1 of an Array(Int64) is null");
    CHECK_EQ_I64(b.len, 0);
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

TEST(pb_timestamp_vectors)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, 1024);
    const struct {
        ldr_ts ts;
        const char *hex;
    } vec[] = {
        {0, ""}, /* proto3 omits zero fields */
        {1700000000500000LL, "0880e2cfaa061080cab5ee01"},
        {1700000000000000LL, "0880e2cfaa06"},
        {-5, "08ffffffffffffffffff0110f8eceadc03"}, /* -1 s + 999995000 ns */
    };
    for (size_t i = 0; i < LDR_ARRAY_LEN(vec); i++) {
        ldr_buf_reset(&b);
        CHECK_OK(ldr_online_pb_ts_encode(vec[i].ts, &b, &err), err);
        CHECK_HEX(&b, vec[i].hex);
        ldr_ts back = 1;
        CHECK_OK(ldr_online_pb_ts_decode(b.ptr, b.len, &back, &err), err);
        CHECK_EQ_I64(back, vec[i].ts);
    }
    ldr_ts t;
    CHECK_FAILS(
        ldr_online_pb_ts_decode("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11, &t, &err),
        LDR_ECORRUPT); /* nanos -1 */
    CHECK_FAILS(ldr_online_pb_ts_decode("\x08", 1, &t, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr_online_pb_ts_decode("\x08\xff\xff\xff\xff\xff\xff\xff\x7f", 9, &t, &err),
                LDR_ECORRUPT); /* seconds beyond Larder's microsecond range */
    CHECK_OK(ldr_online_pb_ts_decode("\x18\x05\x08\x01", 4, &t, &err), err); /* unknown field */
    CHECK_EQ_I64(t, 1000000);
    ldr_buf_fini(&b);
}

/* Hex string to bytes (into a). */
static const char *unhex(const char *hx, ldr_arena *a, size_t *len)
{
    size_t n = strlen(hx) / 2;
    char *p = ldr_arena_alloc(a, n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(hx + 2 * i, "%2x", &x);
        p[i] = (char)x;
    }
    *len = n;
    return p;
}

TEST(pb_value_decoding_edge_cases)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_err err;
    const struct {
        const char *hex;
        ldr_code code;
        const char *value; /* expected text form, or NULL */
    } cases[] = {
        {"720408010802", LDR_OK, "[1, 2]"},     /* unpacked repeated int64 */
        {"7202080172020802", LDR_OK, "[1, 2]"}, /* a repeated list member is merged */
        {"20057202080a", LDR_OK, "[10]"},       /* the last oneof member wins */
        {"980100", LDR_OK, NULL},               /* null_val */
        {"a20100", LDR_OK, NULL},               /* map_val (20): unknown to Larder */
        {"20", LDR_ECORRUPT, NULL},
        {"0801", LDR_ECORRUPT, NULL},                         /* bytes_val as a varint */
        {"820103 0a0100", LDR_ECORRUPT, NULL},                /* packed floats: 1 byte */
        {"2080808080808080808080 01", LDR_ECORRUPT, NULL},    /* 11-byte varint */
        {"0b", LDR_ECORRUPT, NULL},                           /* a group */
        {"0a05 6869", LDR_ECORRUPT, NULL},                    /* length past the end */
        {"72030a0280", LDR_ECORRUPT, NULL},                   /* packed run ends in a varint */
        {"92010b0a09ffffffffffffffff7f", LDR_ECORRUPT, NULL}, /* timestamp out of range */
    };
    for (size_t i = 0; i < LDR_ARRAY_LEN(cases); i++) {
        char clean[128];
        size_t o = 0;
        for (const char *p = cases[i].hex; *p && o + 1 < sizeof clean; p++)
            if (*p != ' ')
                clean[o++] = *p;
        clean[o] = '\0';
        size_t len;
        const char *bytes = unhex(clean, &a, &len);
        ldr_value v;
        ldr_code rc = ldr_online_pb_value_decode(bytes, len, &a, &v, &err);
        if (rc != cases[i].code) {
            HARNESS_FAIL("case %zu (%s): code %d, expected %d", i, clean, (int)rc,
                         (int)cases[i].code);
            continue;
        }
        if (rc == LDR_OK && cases[i].value) {
            ldr_buf t;
            ldr_buf_init(&t, 1024);
            CHECK_OK(ldr_value_to_text(&v, &t, &err), err);
            CHECK_EQ_STR(t.ptr, cases[i].value);
            ldr_buf_fini(&t);
        }
    }
    ldr_value v;
    CHECK_OK(ldr_online_pb_value_decode("\x98\x01\x00", 3, &a, &v, &err), err);
    CHECK(v.is_null);
    CHECK_OK(ldr_online_pb_value_decode("\xa2\x01\x00", 3, &a, &v, &err), err);
    CHECK(!v.is_null && v.type == LDR_TYPE_INVALID);
    ldr_arena_fini(&a);
}

/* ---- Redis only: Feast's bytes, key TTL, round trips, scripts, drops ------------------- */

/* Defines test_<name>_redis and test_<name>_redis_cluster (TAP skips without servers). */
#define REDIS_TEST(name)                                                          \
    static void redis_##name(void);                                               \
    TEST(name##_redis)                                                            \
    {                                                                             \
        SKIP_UNLESS(g_redis, "LARDER_TEST_REDIS not set (no redis-server)");      \
        g_type = "redis";                                                         \
        redis_##name();                                                           \
    }                                                                             \
    TEST(name##_redis_cluster)                                                    \
    {                                                                             \
        SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no cluster)"); \
        g_type = "redis_cluster";                                                 \
        redis_##name();                                                           \
    }                                                                             \
    static void redis_##name(void)

static const ldr_field dhs_fields[] = {{.name = "conv_rate", .type = LDR_TYPE_FLOAT32},
                                       {.name = "acc_rate", .type = LDR_TYPE_FLOAT64},
                                       {.name = "avg_daily_trips", .type = LDR_TYPE_INT64},
                                       {.name = "note", .type = LDR_TYPE_STRING}};

/* The hex of one field of a hash (raw HGET), "" when absent. */
static void hget_hex(ldr_redis *r, const char *key, size_t key_len, const char *field,
                     size_t field_len, char *out, size_t cap)
{
    const char *argv[] = {"HGET", key, field};
    size_t lens[] = {0, key_len, field_len};
    redisReply *rep = raw_cmd(r, argv, lens, 3);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 16);
    if (rep && rep->type == REDIS_REPLY_STRING)
        CHECK_OK(ldr_buf_append(&b, rep->str, rep->len, NULL), (ldr_err){0});
    hex(&b, out, cap);
    ldr_buf_fini(&b);
    ldr_redis_replies_free(&rep, 1);
}

REDIS_TEST(feast_bytes_both_ways)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 14);
    ldr_redis *r = raw_redis(&a);
    ldr_online_view v = view_of("proj", "driver_hourly_stats", dhs_fields, 4);
    /* Larder -> Redis: the key is the v3 key of driver_id=1002 followed by "proj". */
    ldr_online_keyref k = key_i64(&a, "driver_id", 1002);
    ldr_value vals[] = {v_f32(0.5f), v_f64(0.5), v_i64(1002), ldr_value_null(LDR_TYPE_STRING)};
    ldr_online_row row = {k, vals, 1700000000500000LL, LDR_TS_NONE};
    CHECK_OK(ldr_online_write(s, &v, &row, 1, NULL, &err), err);
    size_t kl;
    const char *key = unhex("01000000020000000900000064726976"
                            "65725f69640400000008000000ea0300000000000070726f6a",
                            &a, &kl);
    CHECK(kl == k.len + 4 && !memcmp(key, k.ptr, k.len));
    char hx[256];
    hget_hex(r, key, kl, "_ts:driver_hourly_stats", 23, hx, sizeof hx);
    CHECK_EQ_STR(hx, "0880e2cfaa061080cab5ee01");
    hget_hex(r, key, kl, "\x61\x60\xe3\xda", 4, hx, sizeof hx); /* murmur3 of view:conv_rate */
    CHECK_EQ_STR(hx, "350000003f");
    char f[4];
    uint32_t h = ldr_murmur3_32("driver_hourly_stats:avg_daily_trips", 35, 0);
    for (int i = 0; i < 4; i++)
        f[i] = (char)(h >> (8 * i));
    hget_hex(r, key, kl, f, 4, hx, sizeof hx);
    CHECK_EQ_STR(hx, "20ea07");
    hget_hex(r, key, kl, "_created_ts:driver_hourly_stats", 31, hx, sizeof hx);
    CHECK_EQ_STR(hx, ""); /* no created time: no field */
    /* Redis -> Larder: a hash written the way Feast writes it (raw HSET). */
    ldr_online_keyref k2 = key_i64(&a, "driver_id", 1003);
    char *key2 = ldr_arena_alloc(&a, k2.len + 4);
    memcpy(key2, k2.ptr, k2.len);
    memcpy(key2 + k2.len, "proj", 4);
    uint32_t hn = ldr_murmur3_32("driver_hourly_stats:note", 24, 0);
    char fn[4] = {(char)hn, (char)(hn >> 8), (char)(hn >> 16), (char)(hn >> 24)};
    const char *argv[] = {"HSET",
                          key2,
                          "_ts:driver_hourly_stats",
                          "\x08\x80\xe2\xcf\xaa\x06",
                          "\x61\x60\xe3\xda",
                          "\x35\x00\x00\x80\x3f",
                          fn,
                          "\x12\x02hi"};
    size_t lens[] = {0, k2.len + 4, 0, 6, 4, 5, 4, 4};
    redisReply *rep = raw_cmd(r, argv, lens, 8);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER);
    ldr_redis_replies_free(&rep, 1);
    const char *names[] = {"conv_rate", "acc_rate", "note", "conv_rate"};
    const ldr_type types[] = {LDR_TYPE_FLOAT64, LDR_TYPE_FLOAT64, LDR_TYPE_STRING,
                              LDR_TYPE_FLOAT32};
    ldr_online_keyref keys[] = {k, k2, key_i64(&a, "driver_id", 1)};
    ldr_online_hit hits[3];
    CHECK_OK(ldr_online_read(s, &v, names, types, 4, keys, 3, &a, hits, &err), err);
    CHECK(hits[0].found && hits[0].event_ts == 1700000000500000LL);
    CHECK(hits[0].created_ts == LDR_TS_NONE);
    CHECK(hits[0].present[0] && hits[0].values[0].u.f64 == 0.5); /* Float32 read as Float64 */
    CHECK(hits[0].present[2] && hits[0].values[2].is_null);      /* a stored null */
    CHECK(hits[1].found && hits[1].event_ts == 1700000000000000LL);
    CHECK(hits[1].present[0] && hits[1].values[0].u.f64 == 1.0);
    CHECK(!hits[1].present[1]); /* acc_rate: no field */
    CHECK(hits[1].present[2] && hits[1].values[2].u.str.len == 2);
    CHECK(hits[1].present[3] && hits[1].values[3].u.f32 == 1.0f);
    CHECK(!hits[2].found);
    /* Feast's quirk fixed: a hash holding features but no `_ts:<view>` is NOT_FOUND. */
    const char *argv2[] = {"HDEL", key2, "_ts:driver_hourly_stats"};
    size_t lens2[] = {0, k2.len + 4, 0};
    rep = raw_cmd(r, argv2, lens2, 3);
    ldr_redis_replies_free(&rep, 1);
    CHECK_OK(ldr_online_read(s, &v, names, types, 4, keys + 1, 1, &a, hits, &err), err);
    CHECK(!hits[0].found && !hits[0].present[0]);
    /* A corrupt Value is a clear error naming the view and feature. */
    const char *argv3[] = {"HSET", key, "\x61\x60\xe3\xda", "\x35\x00"};
    size_t lens3[] = {0, kl, 4, 2};
    rep = raw_cmd(r, argv3, lens3, 4);
    ldr_redis_replies_free(&rep, 1);
    CHECK_FAILS(ldr_online_read(s, &v, names, types, 1, keys, 1, &a, hits, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "view proj.driver_hourly_stats: feature 'conv_rate': protobuf:");
    /* A truncated `_ts` makes the write script refuse (nothing is overwritten). */
    const char *argv4[] = {"HSET", key, "_ts:driver_hourly_stats", "\x08"};
    size_t lens4[] = {0, kl, 0, 1};
    rep = raw_cmd(r, argv4, lens4, 4);
    ldr_redis_replies_free(&rep, 1);
    CHECK_FAILS(ldr_online_write(s, &v, &row, 1, NULL, &err), LDR_EBACKEND);
    CHECK_CONTAINS(err.msg, "larder: corrupt timestamp field");
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* Feast case 20: key_ttl_seconds: 1 -> readable at once, gone (NOT_FOUND) after expiry. */
REDIS_TEST(key_ttl_expires)
{
    char path[128];
    g_ttl = 1;
    ldr_online_store *s = open_fresh(path, sizeof path);
    g_ttl = 0;
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(write_xs(s, &v, 1, 5, "a", 100, LDR_TS_NONE, NULL, &err), err);
    CHECK_XS(s, &v, 1, 5, 100, LDR_TS_NONE);
    ldr_redis *r = raw_redis(&a);
    ldr_online_keyref k = key_i64(&a, "driver_id", 1);
    size_t kl;
    const char *key = full_key_of(&k, "proj", &a, &kl);
    const char *argv[] = {"TTL", key};
    size_t lens[] = {0, kl};
    redisReply *rep = raw_cmd(r, argv, lens, 2);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 && rep->integer <= 1);
    ldr_redis_replies_free(&rep, 1);
    usleep(2100 * 1000);
    CHECK(!read_xs(s, &v, 1, &a).found);
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

static long long cmd_calls(ldr_redis *r, const char *cmd, bool reset);
static size_t write_ids(ldr_online_store *s, const ldr_online_view *v, int n, ldr_ts ev);

/* Sums "cmdstat_hmget:calls=N" of INFO commandstats over every node. */
static long long hmget_calls(ldr_redis *r, bool reset)
{
    return cmd_calls(r, "hmget", reset);
}

/* Sums "cmdstat_<cmd>:calls=N" of INFO commandstats over every node (reset: CONFIG
 * RESETSTAT instead, returns 0). */
static long long cmd_calls(ldr_redis *r, const char *cmd, bool reset)
{
    char needle[64];
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
    long long total = 0;
    for (size_t i = 0; i < ldr_redis_node_count(r); i++) {
        const char *a1[] = {"CONFIG", "RESETSTAT"}, *a2[] = {"INFO", "commandstats"};
        size_t l1[] = {6, 9}, l2[] = {4, 12};
        ldr_redis_cmd c =
            reset ? (ldr_redis_cmd){2, a1, l1, NULL, 0} : (ldr_redis_cmd){2, a2, l2, NULL, 0};
        redisReply *rep = NULL;
        ldr_err err;
        CHECK_OK(ldr_redis_exec_node(r, i, &c, 1, &rep, &err), err);
        const char *p = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, needle) : NULL;
        if (p)
            total += strtoll(p + strlen(needle), NULL, 10);
        ldr_redis_replies_free(&rep, 1);
    }
    return total;
}

/* What each concurrent_writers mode sends for 200 new keys (4 chunks of 64 or fewer):
 * larder watches epochs in MULTI/EXEC transactions, any watches the keys, none sends the
 * reads and the HSETs alone. New keys are probed with one EXISTS per chunk and need no
 * HMGET; keys that exist are read with HMGET. */
REDIS_TEST(concurrent_writers_modes_send_what_they_say)
{
    if (strcmp(g_type, "redis") != 0)
        return;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_redis *r = raw_redis(&a);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    const int modes[] = {LDR_WRITERS_LARDER, LDR_WRITERS_ANY, LDR_WRITERS_NONE};
    for (size_t m = 0; m < LDR_ARRAY_LEN(modes); m++) {
        char path[128];
        g_writers = modes[m];
        ldr_online_store *s = open_fresh(path, sizeof path);
        g_writers = LDR_WRITERS_LARDER;
        if (!s)
            break;
        cmd_calls(r, "", true);
        CHECK_EQ_I64(write_ids(s, &v, 200, 10), 200);
        long long watch = cmd_calls(r, "watch", false), exec = cmd_calls(r, "exec", false);
        CHECK_EQ_I64(cmd_calls(r, "hset", false), 200);
        CHECK_EQ_I64(cmd_calls(r, "exists", false), 4);
        CHECK_EQ_I64(cmd_calls(r, "hmget", false), 0);
        CHECK_EQ_I64(exec, modes[m] == LDR_WRITERS_NONE ? 0 : 4);
        CHECK_EQ_I64(watch, modes[m] == LDR_WRITERS_NONE ? 0 : 4);
        CHECK_EQ_I64(cmd_calls(r, "incr", false) > 0, modes[m] != LDR_WRITERS_NONE);
        /* older rows of the same keys: they exist, so they are read, and all skipped */
        cmd_calls(r, "", true);
        CHECK_EQ_I64(write_ids(s, &v, 200, 5), 0);
        CHECK_EQ_I64(cmd_calls(r, "hmget", false), 200);
        CHECK_EQ_I64(cmd_calls(r, "hset", false), 0);
        ldr_online_close(s);
    }
    ldr_redis_close(r);
    ldr_arena_fini(&a);
}

/* Views sharing join keys share a hash: a two-view read is one HMGET per entity key. */
REDIS_TEST(read_many_one_hmget_per_key)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 14);
    ldr_online_view va = view_of("proj", "va", xs_fields, 2),
                    vb = view_of("proj", "vb", xs_fields, 2);
    ldr_online_keyref keys[4];
    for (int id = 0; id < 3; id++) {
        keys[id] = key_i64(&a, "driver_id", id);
        CHECK_OK(write_xs(s, &va, id, id, "a", 10, LDR_TS_NONE, NULL, &err), err);
        CHECK_OK(write_xs(s, &vb, id, 100 + id, "b", 20, LDR_TS_NONE, NULL, &err), err);
    }
    keys[3] = keys[1];
    ldr_redis *r = raw_redis(&a);
    hmget_calls(r, true);
    ldr_online_hit ha[4], hb[3];
    ldr_online_read_req reqs[] = {{&va, xs_names, xs_types, 2, keys, 4, ha},
                                  {&vb, xs_names, xs_types, 2, keys, 3, hb}};
    CHECK_OK(ldr_online_read_many(s, reqs, 2, &a, &err), err);
    CHECK_EQ_I64(hmget_calls(r, false), 3);
    for (int i = 0; i < 3; i++) {
        CHECK(ha[i].found && ha[i].values[0].u.i64 == i);
        CHECK(hb[i].found && hb[i].values[0].u.i64 == 100 + i);
    }
    CHECK(ha[3].found && ha[3].values[0].u.i64 == 1);
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* The concurrent writer of the transaction tests: before attempt `attempt` (or every
 * attempt when every), writes driver `id` with event time ev + attempt through its own
 * handle, between the batch's WATCH/HMGET and its MULTI/EXEC. */
typedef struct tx_rival {
    ldr_online_store *s;
    const ldr_online_view *v;
    int64_t id;
    ldr_ts ev;
    bool every;
    int calls;
    int on_call; /* unless every: write only at this call (0-based) */
} tx_rival;

static void tx_rival_write(void *arg, int attempt)
{
    tx_rival *t = arg;
    if (!t->every && t->calls++ != t->on_call)
        return;
    t->calls += t->every;
    ldr_err err;
    CHECK_OK(write_xs(t->s, t->v, t->id, 1000 + attempt, "rival", t->ev + attempt, LDR_TS_NONE,
                      NULL, &err),
             err);
}

/* Writes drivers 1..n (n <= 300) at event time ev (x = 10 * id) in one batch; returns
 * written. */
static size_t write_ids(ldr_online_store *s, const ldr_online_view *v, int n, ldr_ts ev)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    static ldr_value vals[300][2];
    static ldr_online_row rows[300];
    for (int i = 0; i < n; i++) {
        vals[i][0] = v_i64(10 * (i + 1));
        vals[i][1] = v_str(LDR_TYPE_STRING, "batch", 5);
        rows[i] = (ldr_online_row){key_i64(&a, "driver_id", i + 1), vals[i], ev, LDR_TS_NONE};
    }
    size_t w = 0;
    ldr_err err;
    CHECK_OK(ldr_online_write(s, v, rows, (size_t)n, &w, &err), err);
    ldr_arena_fini(&a);
    return w;
}

static size_t write_three(ldr_online_store *s, const ldr_online_view *v, ldr_ts ev)
{
    return write_ids(s, v, 3, ev);
}

/* Standalone writes a batch as one WATCH ... MULTI/EXEC transaction. A writer changing a
 * watched key between the two round trips aborts EXEC; the retry rereads and keeps the
 * rival's newer row. A rival that always interferes exhausts the retries and the batch
 * goes through the per-row scripts, still newer-wins. (A cluster uses the scripts: the
 * hook never runs there.) */
REDIS_TEST(tx_concurrent_writer_keeps_newer)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_online_store *s2 = open_type(g_type, path, &err);
    CHECK(s2 != NULL);
    if (!s2) {
        ldr_online_close(s);
        return;
    }
    bool standalone = !strcmp(g_type, "redis");
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_EQ_I64(write_three(s, &v, 10), 3);
    tx_rival t = {s2, &v, 2, 30, false, 0, 0};
    ldr__online_redis_set_tx_hook(ldr__online_store_self(s), tx_rival_write, &t);
    CHECK_EQ_I64(write_three(s, &v, 20), standalone ? 2 : 3); /* driver 2: the rival's 30 wins */
    CHECK_EQ_I64(t.calls, standalone ? 2 : 0);
    CHECK_XS(s, &v, 1, 10, 20, LDR_TS_NONE);
    CHECK_XS(s, &v, 2, standalone ? 1000 : 20, standalone ? 30 : 20, LDR_TS_NONE);
    CHECK_XS(s, &v, 3, 30, 20, LDR_TS_NONE);

    t = (tx_rival){s2, &v, 1, 40, true, 0, 0}; /* interferes every time: 40, 41, 42 */
    CHECK_EQ_I64(write_three(s, &v, 41), standalone ? 2 : 3);
    CHECK_EQ_I64(t.calls, standalone ? 3 : 0);
    CHECK_XS(s, &v, 1, standalone ? 1002 : 10, standalone ? 42 : 41, LDR_TS_NONE);
    CHECK_XS(s, &v, 2, 20, 41, LDR_TS_NONE);
    CHECK_XS(s, &v, 3, 30, 41, LDR_TS_NONE);

    /* 200 rows: transactions of 64 rows, each sent with the next one's WATCH. The rival
     * changes driver 101 (the second transaction) when that one is about to EXEC, while
     * the third one's WATCH is already pending: the second is retried alone. */
    t = (tx_rival){s2, &v, 101, 60, false, 0, 1};
    CHECK_EQ_I64(write_ids(s, &v, 200, 50), standalone ? 199 : 200);
    CHECK_EQ_I64(t.calls, standalone ? 5 : 0);
    CHECK_XS(s, &v, 101, standalone ? 1000 : 1010, standalone ? 60 : 50, LDR_TS_NONE);
    for (int id = 4; id <= 200; id += 7)
        if (id != 101)
            CHECK_XS(s, &v, id, 10 * id, 50, LDR_TS_NONE);
    ldr__online_redis_set_tx_hook(ldr__online_store_self(s), NULL, NULL);
    ldr_online_close(s2);
    ldr_online_close(s);
}

/* A writer that is not Larder (a raw HSET of a newer `_ts`, as Feast's materialization
 * would write) between the two round trips. With the default (concurrent_writers: larder)
 * the transaction watches only the write epochs, which such a writer does not bump: its
 * row is overwritten (the documented limit, the same race as Feast's own writer). With
 * concurrent_writers: any the keys themselves are watched: EXEC aborts, the retry reads
 * the newer row and keeps it. (A cluster writes by scripts: the hook never runs there.) */
typedef struct foreign_rival {
    ldr_redis *r;
    const char *key;
    size_t key_len;
    int calls;
} foreign_rival;

static void foreign_write(void *arg, int attempt)
{
    foreign_rival *f = arg;
    if (f->calls++ > 0 || attempt > 0)
        return;
    const char *argv[] = {"HSET", f->key, "_ts:driver", "\x08\x01"}; /* 1 s: newer */
    size_t lens[] = {0, f->key_len, 0, 2};
    redisReply *rep = raw_cmd(f->r, argv, lens, 4);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER);
    ldr_redis_replies_free(&rep, 1);
}

REDIS_TEST(foreign_writer_needs_concurrent_writers_any)
{
    if (strcmp(g_type, "redis") != 0)
        return;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_redis *r = raw_redis(&a);
    ldr_online_keyref k = key_i64(&a, "driver_id", 2);
    foreign_rival f = {r, NULL, 0, 0};
    f.key = full_key_of(&k, "proj", &a, &f.key_len);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    for (int any = 0; any < 2; any++) {
        char path[128];
        g_writers = any ? LDR_WRITERS_ANY : LDR_WRITERS_LARDER;
        ldr_online_store *s = open_fresh(path, sizeof path);
        g_writers = LDR_WRITERS_LARDER;
        if (!s)
            break;
        CHECK_EQ_I64(write_three(s, &v, 10), 3);
        f.calls = 0;
        ldr__online_redis_set_tx_hook(ldr__online_store_self(s), foreign_write, &f);
        CHECK_EQ_I64(write_three(s, &v, 20), any ? 2 : 3);
        CHECK_EQ_I64(f.calls, any ? 2 : 1); /* any: the retry ran the hook again */
        ldr_online_hit h = read_xs(s, &v, 2, &a);
        CHECK(h.found);
        CHECK_EQ_I64(h.event_ts, any ? 1000000 : 20);
        CHECK_XS(s, &v, 3, 30, 20, LDR_TS_NONE);
        ldr__online_redis_set_tx_hook(ldr__online_store_self(s), NULL, NULL);
        ldr_online_close(s);
    }
    ldr_redis_close(r);
    ldr_arena_fini(&a);
}

/* The sum of a project's write epochs (standalone). */
static long long epoch_sum(ldr_redis *r, const char *project)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "larder:write_epoch:%s:*", project);
    const char *argv[] = {"KEYS", pattern};
    redisReply *keys = raw_cmd(r, argv, NULL, 2);
    long long sum = 0;
    for (size_t i = 0; keys && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
        const char *g[] = {"GET", keys->element[i]->str};
        redisReply *v = raw_cmd(r, g, NULL, 2);
        if (v && v->type == REDIS_REPLY_STRING)
            sum += strtoll(v->str, NULL, 10);
        ldr_redis_replies_free(&v, 1);
    }
    ldr_redis_replies_free(&keys, 1);
    return sum;
}

/* The per-row scripts bump the epoch of every row they write, inside the script, so that a
 * transaction of another Larder writer that read before the script wrote aborts. A batch
 * holding a key twice goes through the scripts. */
REDIS_TEST(scripts_bump_write_epochs)
{
    if (strcmp(g_type, "redis") != 0)
        return;
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_redis *r = raw_redis(&a);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    ldr_value vals[] = {v_i64(1), v_str(LDR_TYPE_STRING, "s", 1)};
    ldr_online_row rows[] = {{key_i64(&a, "driver_id", 1), vals, 10, LDR_TS_NONE},
                             {key_i64(&a, "driver_id", 2), vals, 10, LDR_TS_NONE},
                             {key_i64(&a, "driver_id", 1), vals, 20, LDR_TS_NONE},
                             {key_i64(&a, "driver_id", 2), vals, 5, LDR_TS_NONE}};
    size_t w = 0;
    ldr_err err;
    CHECK_OK(ldr_online_write(s, &v, rows, 4, &w, &err), err);
    CHECK_EQ_I64(w, 3); /* driver 2 at 5 is older */
    CHECK_EQ_I64(epoch_sum(r, "proj"), 3);
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* A node that lost its script cache (restart, failover, SCRIPT FLUSH) answers EVALSHA
 * with NOSCRIPT; the write falls back to EVAL and still applies newer-wins. */
REDIS_TEST(script_cache_flush_is_recovered)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 14);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    CHECK_OK(write_xs(s, &v, 1, 1, "a", 10, LDR_TS_NONE, NULL, &err), err);
    ldr_redis *r = raw_redis(&a);
    for (size_t i = 0; r && i < ldr_redis_node_count(r); i++) {
        const char *argv[] = {"SCRIPT", "FLUSH"};
        size_t len[] = {6, 5};
        ldr_redis_cmd c = {2, argv, len, NULL, 0};
        redisReply *rep = NULL;
        CHECK_OK(ldr_redis_exec_node(r, i, &c, 1, &rep, &err), err);
        ldr_redis_replies_free(&rep, 1);
    }
    size_t w = 0;
    CHECK_OK(write_xs(s, &v, 1, 2, "b", 9, LDR_TS_NONE, &w, &err), err);
    CHECK_EQ_I64(w, 0);
    CHECK_OK(write_xs(s, &v, 1, 3, "c", 11, LDR_TS_NONE, &w, &err), err);
    CHECK_EQ_I64(w, 1);
    CHECK_XS(s, &v, 1, 3, 11, LDR_TS_NONE);
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* Sums DBSIZE over every node. */
static long long dbsize(ldr_redis *r)
{
    long long total = 0;
    for (size_t i = 0; i < ldr_redis_node_count(r); i++) {
        const char *argv[] = {"DBSIZE"};
        size_t len[] = {6};
        ldr_redis_cmd c = {1, argv, len, NULL, 0};
        redisReply *rep = NULL;
        ldr_err err;
        CHECK_OK(ldr_redis_exec_node(r, i, &c, 1, &rep, &err), err);
        if (rep && rep->type == REDIS_REPLY_INTEGER)
            total += rep->integer;
        ldr_redis_replies_free(&rep, 1);
    }
    return total;
}

/* Counts the write epochs (`larder:write_epoch:<project>:<shard>`) on every node; project
 * "*" for every project's. */
static long long epoch_keys(ldr_redis *r, const char *project)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "larder:write_epoch:%s:*", project);
    long long total = 0;
    for (size_t i = 0; i < ldr_redis_node_count(r); i++) {
        const char *argv[] = {"KEYS", pattern};
        size_t len[] = {4, strlen(pattern)};
        ldr_redis_cmd c = {2, argv, len, NULL, 0};
        redisReply *rep = NULL;
        ldr_err err;
        CHECK_OK(ldr_redis_exec_node(r, i, &c, 1, &rep, &err), err);
        if (rep && rep->type == REDIS_REPLY_ARRAY)
            total += (long long)rep->elements;
        ldr_redis_replies_free(&rep, 1);
    }
    return total;
}

/* The entity hashes on every node (keys that are not write epochs). */
static long long hashes(ldr_redis *r)
{
    return dbsize(r) - epoch_keys(r, "*");
}

/* Dropping a view SCANs every node, leaves other views and projects alone (also a
 * project whose name ends like this one's), and deletes hashes left empty. */
REDIS_TEST(drop_scans_every_node)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_online_view va = view_of("proj", "va", xs_fields, 2),
                    vb = view_of("proj", "vb", xs_fields, 2);
    ldr_online_view other = view_of("xproj", "va", xs_fields, 2);
    enum { N = 300 };
    ldr_online_row *rows = ldr_arena_calloc(&a, N, sizeof *rows);
    ldr_value vals[] = {v_i64(1), v_str(LDR_TYPE_STRING, "s", 1)};
    for (int i = 0; i < N; i++)
        rows[i] = (ldr_online_row){key_i64(&a, "driver_id", i), vals, 5, LDR_TS_NONE};
    CHECK_OK(ldr_online_write(s, &va, rows, N, NULL, &err), err);
    CHECK_OK(ldr_online_write(s, &vb, rows, N / 2, NULL, &err), err);
    CHECK_OK(ldr_online_write(s, &other, rows, 10, NULL, &err), err);
    ldr_redis *r = raw_redis(&a);
    bool cluster = !strcmp(g_type, "redis_cluster");
    CHECK_EQ_I64(hashes(r), N + 10);
    /* 300 keys over 64 shards touch nearly all of them (63 with today's hash); a cluster
     * has no epochs */
    long long ep = epoch_keys(r, "proj");
    CHECK(cluster ? ep == 0 : ep >= 48 && ep <= 64);
    if (cluster)
        CHECK_EQ_I64(ldr_redis_node_count(r), 3);
    CHECK_OK(ldr_online_update(s, &vb, 1, &va, 1, &err), err);
    CHECK_EQ_I64(hashes(r), N / 2 + 10); /* hashes holding only va are gone */
    ldr_online_keyref keys[] = {rows[0].key, rows[N - 1].key};
    ldr_online_hit h[2];
    CHECK_OK(ldr_online_read(s, &va, xs_names, xs_types, 2, keys, 2, &a, h, &err), err);
    CHECK(!h[0].found && !h[1].found);
    CHECK_XS(s, &vb, 0, 1, 5, LDR_TS_NONE);
    CHECK_XS(s, &other, 0, 1, 5, LDR_TS_NONE);
    CHECK_OK(ldr_online_teardown(s, &vb, 1, &err), err);
    CHECK_EQ_I64(hashes(r), 10);
    CHECK_EQ_I64(epoch_keys(r, "proj"), 0);       /* teardown deletes the project's epochs */
    CHECK(cluster || epoch_keys(r, "xproj") > 0); /* and no other project's */
    ldr_redis_close(r);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* A view wider than one Lua unpack slice (1000 arguments): the script HSETs in slices. */
REDIS_TEST(wide_view_over_one_hset_slice)
{
    char path[128];
    ldr_online_store *s = open_fresh(path, sizeof path);
    if (!s)
        return;
    ldr_err err;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    enum { NF = 700 };
    ldr_field *f = ldr_arena_calloc(&a, NF, sizeof *f);
    const char **names = ldr_arena_calloc(&a, NF, sizeof *names);
    ldr_type *types = ldr_arena_calloc(&a, NF, sizeof *types);
    ldr_value *vals = ldr_arena_calloc(&a, NF, sizeof *vals);
    for (int i = 0; i < NF; i++) {
        names[i] = f[i].name = ldr_arena_sprintf(&a, "f%d", i);
        types[i] = f[i].type = LDR_TYPE_INT64;
        vals[i] = v_i64(i * 3);
    }
    ldr_online_view v = view_of("proj", "wide", f, NF);
    ldr_online_row row = {key_i64(&a, "driver_id", 1), vals, 10, 20};
    size_t w = 0;
    CHECK_OK(ldr_online_write(s, &v, &row, 1, &w, &err), err);
    CHECK_EQ_I64(w, 1);
    ldr_online_hit h;
    CHECK_OK(ldr_online_read(s, &v, names, types, NF, &row.key, 1, &a, &h, &err), err);
    CHECK(h.found && h.created_ts == 20);
    int wrong = 0;
    for (int i = 0; h.found && i < NF; i++)
        wrong += !h.present[i] || h.values[i].u.i64 != i * 3;
    CHECK_EQ_I64(wrong, 0);
    ldr_arena_fini(&a);
    ldr_online_close(s);
}

/* Two handles writing the same keys at once: the compare-and-set runs inside Redis, so
 * the newest row wins whatever the interleaving. */
REDIS_TEST(concurrent_writers_keep_the_newest)
{
    char path[128];
    ldr_online_store *s1 = open_fresh(path, sizeof path);
    ldr_err err;
    ldr_online_store *s2 = open_type(g_type, path, &err);
    if (!s1 || !s2) {
        ldr_online_close(s1);
        ldr_online_close(s2);
        return;
    }
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_online_view v = view_of("proj", "driver", xs_fields, 2);
    enum { N = 200 };
    ldr_online_row *r1 = ldr_arena_calloc(&a, N, sizeof *r1),
                   *r2 = ldr_arena_calloc(&a, N, sizeof *r2);
    ldr_value v1[] = {v_i64(1), v_str(LDR_TYPE_STRING, "1", 1)};
    ldr_value v2[] = {v_i64(2), v_str(LDR_TYPE_STRING, "2", 1)};
    for (int i = 0; i < N; i++) {
        ldr_online_keyref k = key_i64(&a, "driver_id", i);
        /* s1 holds the newer row for even ids, s2 for odd ones */
        r1[i] = (ldr_online_row){k, v1, i % 2 ? 10 : 20, LDR_TS_NONE};
        r2[i] = (ldr_online_row){k, v2, i % 2 ? 20 : 10, LDR_TS_NONE};
    }
    for (int round = 0; round < 5; round++) {
        size_t w1 = 0, w2 = 0;
        CHECK_OK(ldr_online_write(round % 2 ? s1 : s2, &v, round % 2 ? r1 : r2, N, &w1, &err), err);
        CHECK_OK(ldr_online_write(round % 2 ? s2 : s1, &v, round % 2 ? r2 : r1, N, &w2, &err), err);
    }
    for (int i = 0; i < N; i += 37)
        CHECK_XS(s1, &v, i, i % 2 ? 2 : 1, 20, LDR_TS_NONE);
    ldr_arena_fini(&a);
    ldr_online_close(s1);
    ldr_online_close(s2);
}

/* ---- Differential: memory vs sqlite vs a brute-force model ------------------------------ */

enum { DIFF_KEYS = 24, DIFF_BATCHES = 60 };

typedef struct model_row {
    bool found;
    ldr_ts ev, cr;
    const ldr_value *vals;
} model_row;

/* Compares one store's answers for keys[0..n) against the model. */
static void diff_read(ldr_online_store *s, const ldr_online_view *v, const ldr_online_keyref *keys,
                      size_t n, const model_row *model, const size_t *perm, ldr_arena *a, int batch)
{
    const char **names = ldr_arena_calloc(a, N_ALL, sizeof *names);
    ldr_type *types = ldr_arena_calloc(a, N_ALL, sizeof *types);
    for (size_t j = 0; j < N_ALL; j++) {
        names[j] = all_fields[perm[j]].name;
        types[j] = all_fields[perm[j]].type;
    }
    ldr_online_hit *hits = ldr_arena_calloc(a, n, sizeof *hits);
    ldr_err err;
    CHECK_OK(ldr_online_read(s, v, names, types, N_ALL, keys, n, a, hits, &err), err);
    for (size_t i = 0; i < n; i++) {
        const model_row *m = &model[i % (DIFF_KEYS + 2)];
        if (hits[i].found != m->found ||
            (m->found && (hits[i].event_ts != m->ev || hits[i].created_ts != m->cr))) {
            HARNESS_FAIL("%s batch %d key %zu: found/timestamps differ", ldr_online_type(s), batch,
                         i);
            continue;
        }
        for (size_t j = 0; m->found && j < N_ALL; j++) {
            if (!hits[i].present[j] || !ldr_value_eq(&hits[i].values[j], &m->vals[perm[j]]))
                HARNESS_FAIL("%s batch %d key %zu feature %s differs", ldr_online_type(s), batch, i,
                             names[j]);
        }
    }
}

TEST(random_differential_memory_sqlite_model)
{
    char path[128];
    fresh_path(path, sizeof path);
    ldr_err err;
    ldr_online_store *mem = open_type("memory", NULL, &err);
    ldr_online_store *sql = open_type("sqlite", path, &err);
    CHECK(mem && sql);
    if (!mem || !sql)
        return;
    ldr_online_view v = view_of("proj", "diff", all_fields, N_ALL);
    CHECK_OK(ldr_online_update(mem, &v, 1, NULL, 0, &err), err);
    CHECK_OK(ldr_online_update(sql, &v, 1, NULL, 0, &err), err);
    ldr_arena a; /* values and keys live for the whole test */
    ldr_arena_init(&a, 1 << 16);
    ldr_online_keyref keys[DIFF_KEYS + 2];
    for (int i = 0; i < DIFF_KEYS + 2; i++)
        keys[i] = key_i64(&a, "driver_id", i * 7919); /* the last two are never written */
    model_row model[DIFF_KEYS + 2];
    memset(model, 0, sizeof model);
    uint64_t rng = 20240601;
    for (int batch = 0; batch < DIFF_BATCHES; batch++) {
        size_t n = 1 + (size_t)(rng_next(&rng) % 40);
        ldr_online_row *rows = ldr_arena_calloc(&a, n, sizeof *rows);
        size_t expect_written = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)(rng_next(&rng) % DIFF_KEYS);
            ldr_value *vals = ldr_arena_calloc(&a, N_ALL, sizeof *vals);
            for (size_t j = 0; j < N_ALL; j++)
                vals[j] = random_value(all_fields[j].type, &rng, &a);
            /* Few distinct timestamps, so ties of both kinds are common. */
            ldr_ts ev = (ldr_ts)(rng_next(&rng) % 4) + batch / 8;
            uint64_t c = rng_next(&rng) % 4;
            ldr_ts cr = c == 0 ? LDR_TS_NONE : (ldr_ts)c;
            rows[i] = (ldr_online_row){keys[k], vals, ev, cr};
            model_row *m = &model[k];
            if (!m->found || ev > m->ev || (ev == m->ev && cr >= m->cr)) {
                *m = (model_row){true, ev, cr, vals};
                expect_written++;
            }
        }
        size_t w_mem = 0, w_sql = 0;
        CHECK_OK(ldr_online_write(mem, &v, rows, n, &w_mem, &err), err);
        CHECK_OK(ldr_online_write(sql, &v, rows, n, &w_sql, &err), err);
        CHECK_EQ_I64(w_mem, expect_written);
        CHECK_EQ_I64(w_sql, expect_written);
        /* Read every key (twice over, so repeats occur) in a shuffled feature order. */
        size_t perm[N_ALL];
        for (size_t j = 0; j < N_ALL; j++)
            perm[j] = j;
        for (size_t j = N_ALL - 1; j > 0; j--) {
            size_t r = (size_t)(rng_next(&rng) % (j + 1)), t = perm[j];
            perm[j] = perm[r];
            perm[r] = t;
        }
        ldr_online_keyref twice[2 * (DIFF_KEYS + 2)];
        for (size_t i = 0; i < 2 * (DIFF_KEYS + 2); i++)
            twice[i] = keys[i % (DIFF_KEYS + 2)];
        ldr_arena ra;
        ldr_arena_init(&ra, 1 << 16);
        diff_read(mem, &v, twice, LDR_ARRAY_LEN(twice), model, perm, &ra, batch);
        diff_read(sql, &v, twice, LDR_ARRAY_LEN(twice), model, perm, &ra, batch);
        ldr_arena_fini(&ra);
    }
    ldr_arena_fini(&a);
    ldr_online_close(mem);
    ldr_online_close(sql);
}

int main(void)
{
    g_redis = getenv("LARDER_TEST_REDIS");
    g_cluster = getenv("LARDER_TEST_REDIS_CLUSTER");
    if (g_redis && !*g_redis)
        g_redis = NULL;
    if (g_cluster && !*g_cluster)
        g_cluster = NULL;
    snprintf(tmp_root, sizeof tmp_root, "online_test.XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
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
    RUN(pb_value_vectors);
    RUN(pb_timestamp_vectors);
    RUN(pb_value_decoding_edge_cases);
    RUN(round_trip_every_type_memory);
    RUN(round_trip_every_type_sqlite);
    RUN(round_trip_every_type_redis);
    RUN(round_trip_every_type_redis_cluster);
    RUN(round_trip_every_type_redis_unguarded);
    RUN(unknown_keys_are_not_found_memory);
    RUN(unknown_keys_are_not_found_sqlite);
    RUN(unknown_keys_are_not_found_redis);
    RUN(unknown_keys_are_not_found_redis_cluster);
    RUN(unknown_keys_are_not_found_redis_unguarded);
    RUN(newer_wins_memory);
    RUN(newer_wins_sqlite);
    RUN(newer_wins_redis);
    RUN(newer_wins_redis_cluster);
    RUN(newer_wins_redis_unguarded);
    RUN(newer_wins_within_one_batch_memory);
    RUN(newer_wins_within_one_batch_sqlite);
    RUN(newer_wins_within_one_batch_redis);
    RUN(newer_wins_within_one_batch_redis_cluster);
    RUN(newer_wins_within_one_batch_redis_unguarded);
    RUN(failed_write_changes_nothing_memory);
    RUN(failed_write_changes_nothing_sqlite);
    RUN(failed_write_changes_nothing_redis);
    RUN(failed_write_changes_nothing_redis_cluster);
    RUN(failed_write_changes_nothing_redis_unguarded);
    RUN(schema_change_needs_no_rewrite_memory);
    RUN(schema_change_needs_no_rewrite_sqlite);
    RUN(schema_change_needs_no_rewrite_redis);
    RUN(schema_change_needs_no_rewrite_redis_cluster);
    RUN(schema_change_needs_no_rewrite_redis_unguarded);
    RUN(update_drop_and_teardown_memory);
    RUN(update_drop_and_teardown_sqlite);
    RUN(update_drop_and_teardown_redis);
    RUN(update_drop_and_teardown_redis_cluster);
    RUN(update_drop_and_teardown_redis_unguarded);
    RUN(views_and_projects_are_separate_memory);
    RUN(views_and_projects_are_separate_sqlite);
    RUN(views_and_projects_are_separate_redis);
    RUN(views_and_projects_are_separate_redis_cluster);
    RUN(views_and_projects_are_separate_redis_unguarded);
    RUN(entityless_and_composite_keys_memory);
    RUN(entityless_and_composite_keys_sqlite);
    RUN(entityless_and_composite_keys_redis);
    RUN(entityless_and_composite_keys_redis_cluster);
    RUN(entityless_and_composite_keys_redis_unguarded);
    RUN(read_many_matches_single_reads_memory);
    RUN(read_many_matches_single_reads_sqlite);
    RUN(read_many_matches_single_reads_redis);
    RUN(read_many_matches_single_reads_redis_cluster);
    RUN(read_many_matches_single_reads_redis_unguarded);
    RUN(feast_bytes_both_ways_redis);
    RUN(feast_bytes_both_ways_redis_cluster);
    RUN(key_ttl_expires_redis);
    RUN(key_ttl_expires_redis_cluster);
    RUN(read_many_one_hmget_per_key_redis);
    RUN(read_many_one_hmget_per_key_redis_cluster);
    RUN(tx_concurrent_writer_keeps_newer_redis);
    RUN(tx_concurrent_writer_keeps_newer_redis_cluster);
    RUN(concurrent_writers_modes_send_what_they_say_redis);
    RUN(concurrent_writers_modes_send_what_they_say_redis_cluster);
    RUN(foreign_writer_needs_concurrent_writers_any_redis);
    RUN(scripts_bump_write_epochs_redis);
    RUN(scripts_bump_write_epochs_redis_cluster);
    RUN(foreign_writer_needs_concurrent_writers_any_redis_cluster);
    RUN(script_cache_flush_is_recovered_redis);
    RUN(script_cache_flush_is_recovered_redis_cluster);
    RUN(drop_scans_every_node_redis);
    RUN(drop_scans_every_node_redis_cluster);
    RUN(wide_view_over_one_hset_slice_redis);
    RUN(wide_view_over_one_hset_slice_redis_cluster);
    RUN(concurrent_writers_keep_the_newest_redis);
    RUN(concurrent_writers_keep_the_newest_redis_cluster);
    RUN(sqlite_file_layout);
    RUN(sqlite_reopen_and_second_handle);
    RUN(sqlite_held_snapshot_sees_commits);
    RUN(sqlite_corrupt_row_is_a_clear_error);
    RUN(sqlite_damaged_file);
    RUN(sqlite_quotes_identifiers);
    RUN(open_errors);
    RUN(random_differential_memory_sqlite_model);
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return harness_done();
}
