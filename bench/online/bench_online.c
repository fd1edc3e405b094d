/*
 * bench_online.c -- read latency of the online store: ldr_online_read of 1 and of 100
 * random keys from a populated view (sqlite and memory), plus the raw SQLite access
 * strategies behind the sqlite backend's choice (one reused point-lookup statement per
 * key, with or without an enclosing read transaction, against `entity_key IN (...)`
 * batches), measured on the same file without decoding, interleaved so that none runs
 * with a warmer cache than the others.
 *
 *   [BENCH_PRAGMA="PRAGMA ..."] bench_online [N_ENTITIES [REPS [DIR]]]
 *     defaults 100000 2000 /tmp; BENCH_PRAGMA is run on the raw connection first.
 *
 * The view has 10 features (6 Float64, 2 Int64, a String and an 8-element Float32 list),
 * about 150 bytes per encoded row. Prints the median and p99 wall time per call in
 * microseconds, and the write throughput of populating the view (batches of 10000 rows).
 * Each read call uses a fresh arena (init + fini), as a request would.
 *
 * Build (not part of `ninja`; needs only core and online):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/online/bench_online.c \
 *      build/src/libldr_online.a build/src/libldr_core.a -lsqlite3 -lm -o bench_online
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "online/online.h"

#define BATCH 10000
#define WIDE  100

static const ldr_field fields[] = {
    {.name = "conv_rate", .type = LDR_TYPE_FLOAT64},
    {.name = "acc_rate", .type = LDR_TYPE_FLOAT64},
    {.name = "avg_speed", .type = LDR_TYPE_FLOAT64},
    {.name = "rating", .type = LDR_TYPE_FLOAT64},
    {.name = "tip_share", .type = LDR_TYPE_FLOAT64},
    {.name = "idle", .type = LDR_TYPE_FLOAT64},
    {.name = "trips", .type = LDR_TYPE_INT64},
    {.name = "days", .type = LDR_TYPE_INT64},
    {.name = "city", .type = LDR_TYPE_STRING},
    {.name = "embedding", .type = LDR_TYPE_FLOAT32_LIST},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, size_t n)
{
    qsort(t, n, sizeof *t, cmp_double);
    printf("%-52s median %8.2f us   p99 %8.2f us\n", what, t[n / 2], t[n * 99 / 100]);
}

/* Serialized driver_id keys 0..n-1, each in its own allocation. */
static ldr_online_keyref *make_keys(size_t n)
{
    ldr_online_keyref *keys = ldr_xcalloc(n, sizeof *keys);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    const char *name = "driver_id";
    for (size_t i = 0; i < n; i++) {
        ldr_buf_reset(&b);
        ldr_value v = {.type = LDR_TYPE_INT64};
        v.u.i64 = (int64_t)i;
        if (ldr_online_key_encode(&name, &v, 1, &b, NULL) != LDR_OK)
            abort();
        void *p = ldr_xmalloc(b.len);
        memcpy(p, b.ptr, b.len);
        keys[i] = (ldr_online_keyref){p, b.len};
    }
    ldr_buf_fini(&b);
    return keys;
}

static void populate(ldr_online_store *s, const ldr_online_view *v, const ldr_online_keyref *keys,
                     size_t n)
{
    static ldr_value vals[BATCH][N_FIELDS];
    static ldr_value emb[8];
    static ldr_online_row rows[BATCH];
    for (size_t j = 0; j < 8; j++)
        emb[j] = (ldr_value){.type = LDR_TYPE_FLOAT32, .u.f32 = (float)j / 8.0f};
    double t0 = now_us();
    for (size_t start = 0; start < n; start += BATCH) {
        size_t m = n - start < BATCH ? n - start : BATCH;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < 6; j++)
                vals[i][j] =
                    (ldr_value){.type = LDR_TYPE_FLOAT64, .u.f64 = (double)(start + i) / 7.0};
            vals[i][6] = (ldr_value){.type = LDR_TYPE_INT64, .u.i64 = (int64_t)(start + i)};
            vals[i][7] = (ldr_value){.type = LDR_TYPE_INT64, .u.i64 = 365};
            vals[i][8] = (ldr_value){.type = LDR_TYPE_STRING, .u.str = {"San Francisco", 13}};
            vals[i][9] = (ldr_value){.type = LDR_TYPE_FLOAT32_LIST, .u.list = {emb, 8}};
            rows[i] = (ldr_online_row){keys[start + i], vals[i], 1700000000000000LL, LDR_TS_NONE};
        }
        ldr_err err;
        if (ldr_online_write(s, v, rows, m, NULL, &err) != LDR_OK) {
            fprintf(stderr, "write: %s\n", err.msg);
            exit(1);
        }
    }
    double dt = now_us() - t0;
    printf("%-10s write %zu rows in batches of %d: %.0f rows/s\n", ldr_online_type(s), n, BATCH,
           (double)n / dt * 1e6);
}

static void bench_read(ldr_online_store *s, const ldr_online_view *v, const ldr_online_keyref *keys,
                       size_t n, size_t reps, size_t per_call)
{
    const char *names[N_FIELDS];
    ldr_type types[N_FIELDS];
    for (size_t j = 0; j < N_FIELDS; j++) {
        names[j] = fields[j].name;
        types[j] = fields[j].type;
    }
    ldr_online_keyref *batch = ldr_xcalloc(per_call, sizeof *batch);
    ldr_online_hit *hits = ldr_xcalloc(per_call, sizeof *hits);
    double *t = ldr_xcalloc(reps, sizeof *t);
    uint64_t rng = 1;
    for (size_t r = 0; r < reps; r++) {
        for (size_t i = 0; i < per_call; i++)
            batch[i] = keys[rng_next(&rng) % n];
        double t0 = now_us();
        ldr_arena a;
        ldr_arena_init(&a, 1 << 16);
        ldr_err err;
        if (ldr_online_read(s, v, names, types, N_FIELDS, batch, per_call, &a, hits, &err) !=
                LDR_OK ||
            !hits[0].found) {
            fprintf(stderr, "read: %s\n", err.msg);
            exit(1);
        }
        ldr_arena_fini(&a);
        t[r] = now_us() - t0;
    }
    char what[96];
    snprintf(what, sizeof what, "%s ldr_online_read, %zu key%s, %zu features", ldr_online_type(s),
             per_call, per_call == 1 ? "" : "s", N_FIELDS);
    report(what, t, reps);
    ldr_free(t);
    ldr_free(hits);
    ldr_free(batch);
}

/* ---- Raw SQLite strategies (no decoding) ------------------------------------------------ */

typedef struct raw_ctx {
    sqlite3 *db;
    sqlite3_stmt *point, *in1, *in_wide, *begin, *end;
    const ldr_online_keyref *keys;
    size_t n;
    uint64_t rng;
    size_t sink;
} raw_ctx;

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return st;
}

static sqlite3_stmt *prep_in(sqlite3 *db, size_t k)
{
    char sql[8192];
    size_t o = (size_t)snprintf(sql, sizeof sql,
                                "SELECT value, event_ts, created_ts, entity_key"
                                " FROM bench_stats WHERE entity_key IN (");
    for (size_t i = 0; i < k; i++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s?", i ? "," : "");
    snprintf(sql + o, sizeof sql - o, ")");
    return prep(db, sql);
}

static void step_all(raw_ctx *c, sqlite3_stmt *st)
{
    while (sqlite3_step(st) == SQLITE_ROW)
        c->sink += (size_t)sqlite3_column_bytes(st, 0) + (size_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
}

static const ldr_online_keyref *pick(raw_ctx *c)
{
    return &c->keys[rng_next(&c->rng) % c->n];
}

/* k lookups with the reused point statement, optionally inside one read transaction. */
static void run_point(raw_ctx *c, size_t k, bool txn)
{
    if (txn)
        step_all(c, c->begin);
    for (size_t i = 0; i < k; i++) {
        const ldr_online_keyref *key = pick(c);
        sqlite3_bind_blob(c->point, 1, key->ptr, (int)key->len, SQLITE_STATIC);
        step_all(c, c->point);
    }
    if (txn)
        step_all(c, c->end);
}

/* One IN (...) statement with k parameters. Rows come back in key order, not request
 * order: a real reader would also match each entity_key to its requests (not timed). */
static void run_in(raw_ctx *c, sqlite3_stmt *st, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        const ldr_online_keyref *key = pick(c);
        sqlite3_bind_blob(st, (int)i + 1, key->ptr, (int)key->len, SQLITE_STATIC);
    }
    step_all(c, st);
}

/* The strategies run interleaved, in an order rotating every repetition, so none gets a
 * warmer cache than the others. */
static void bench_raw(sqlite3 *db, const ldr_online_keyref *keys, size_t n, size_t reps)
{
    raw_ctx c = {db,
                 prep(db, "SELECT value, event_ts, created_ts FROM bench_stats"
                          " WHERE entity_key = ?1"),
                 prep_in(db, 1),
                 prep_in(db, WIDE),
                 prep(db, "BEGIN"),
                 prep(db, "ROLLBACK"),
                 keys,
                 n,
                 3,
                 0};
    enum { N_STRATEGIES = 5 };
    static const char *const names[N_STRATEGIES] = {
        "raw point lookup, 1 key", "raw IN (?), 1 key", "raw point lookups, 100 keys",
        "raw point lookups, 100 keys, one read txn", "raw IN (...) batch, 100 keys"};
    double *t[N_STRATEGIES];
    for (size_t s = 0; s < N_STRATEGIES; s++)
        t[s] = ldr_xcalloc(reps, sizeof *t[s]);
    for (size_t r = 0; r < reps; r++) {
        for (size_t j = 0; j < N_STRATEGIES; j++) {
            size_t s = (j + r) % N_STRATEGIES;
            double t0 = now_us();
            switch (s) {
            case 0:
                run_point(&c, 1, false);
                break;
            case 1:
                run_in(&c, c.in1, 1);
                break;
            case 2:
                run_point(&c, WIDE, false);
                break;
            case 3:
                run_point(&c, WIDE, true);
                break;
            default:
                run_in(&c, c.in_wide, WIDE);
                break;
            }
            t[s][r] = now_us() - t0;
        }
    }
    for (size_t s = 0; s < N_STRATEGIES; s++) {
        report(names[s], t[s], reps);
        ldr_free(t[s]);
    }
    printf("(checksum %zu)\n", c.sink % 1000);
    sqlite3_finalize(c.point);
    sqlite3_finalize(c.in1);
    sqlite3_finalize(c.in_wide);
    sqlite3_finalize(c.begin);
    sqlite3_finalize(c.end);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 100000;
    size_t reps = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 2000;
    const char *dir = argc > 3 ? argv[3] : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/bench_online.%d.db", dir, (int)getpid());
    ldr_online_keyref *keys = make_keys(n);
    ldr_online_view v = {
        .project = "bench", .name = "stats", .features = fields, .n_features = N_FIELDS};
    static const char *const types[] = {"sqlite", "memory"};
    for (size_t t = 0; t < 2; t++) {
        ldr_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.online_type = types[t];
        cfg.online_path = path;
        ldr_err err;
        ldr_online_store *s = ldr_online_open(&cfg, &err);
        if (!s || ldr_online_update(s, &v, 1, NULL, 0, &err) != LDR_OK) {
            fprintf(stderr, "open: %s\n", err.msg);
            return 1;
        }
        populate(s, &v, keys, n);
        bench_read(s, &v, keys, n, reps, 1);
        bench_read(s, &v, keys, n, reps, WIDE);
        ldr_online_close(s);
    }
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 1;
    const char *pragma = getenv("BENCH_PRAGMA"); /* e.g. "PRAGMA mmap_size=1000000000" */
    if (pragma && sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
        return 1;
    bench_raw(db, keys, n, reps);
    sqlite3_close(db);
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    for (size_t i = 0; i < n; i++)
        ldr_free((void *)(uintptr_t)keys[i].ptr);
    ldr_free(keys);
    return 0;
}
