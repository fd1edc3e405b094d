/*
 * test_pit.c -- the point-in-time join engine (src/join/): Feast's acceptance cases 1-5
 * and 10 (feast-behaviour.md §15) as small columns, the tie-breaks (created timestamp,
 * last in source, null created), duplicate entity rows, null keys and timestamps,
 * extreme timestamps, multi-column and dictionary-encoded keys, the partitioner, larger
 * inputs that reach the engine's other paths (bucket index of large groups, radix sort,
 * hash table growth, several parts), and a randomized differential test against
 * ldr_pit_join_reference with a fixed seed, also on inputs of thousands of groups (the
 * reference then runs partition by partition). Every engine run is repeated with 1, 2, 3
 * and 4 threads and compared with the reference as well as with the expected rows.
 */
#include "join/join.h"

#include "harness.h"

#define US   1000000LL
#define HOUR (3600 * US)
#define DAY  (24 * HOUR)
#define NA   INT64_MIN /* marks a null in the literal column helpers below */

/* ---- helpers -------------------------------------------------------------------------- */

static ldr_col *col_of(ldr_type t, const int64_t *v, size_t n)
{
    ldr_col *c = ldr_col_new(t, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NA)
            ldr_col_append_null(c);
        else if (t == LDR_TYPE_INT32)
            ldr_col_append_i32(c, (int32_t)v[i]);
        else
            ldr_col_append_i64(c, v[i]);
    }
    return c;
}

static ldr_col *ts_col(const int64_t *v, size_t n)
{
    return col_of(LDR_TYPE_UNIX_TIMESTAMP, v, n);
}

/* Strings; NULL entries are nulls. */
static ldr_col *str_col(const char *const *v, size_t n)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, n);
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            ldr_col_append_null(c);
        else
            ldr_col_append_str(c, v[i], strlen(v[i]));
    }
    return c;
}

static int64_t ts(const char *s)
{
    ldr_ts t = 0;
    ldr_err err = {0};
    if (ldr_ts_parse(s, strlen(s), &t, &err) != LDR_OK)
        HARNESS_FAIL("bad timestamp %s: %s", s, err.msg);
    return t;
}

/* A problem with one optional key column on each side; the test owns the columns. */
typedef struct fx {
    ldr_col *ek, *et, *fk, *ft, *fc;
    const ldr_col *ekeys[1], *fkeys[1];
    ldr_pit_input in;
} fx;

static void fx_init(fx *f, ldr_col *ek, ldr_col *et, ldr_col *fk, ldr_col *ft, ldr_col *fc,
                    ldr_duration ttl)
{
    memset(f, 0, sizeof *f);
    f->ek = ek;
    f->et = et;
    f->fk = fk;
    f->ft = ft;
    f->fc = fc;
    f->ekeys[0] = ek;
    f->fkeys[0] = fk;
    f->in.entity_keys = f->ekeys;
    f->in.entity_ts = et;
    f->in.n_entity_rows = et->n;
    f->in.feature_keys = f->fkeys;
    f->in.feature_ts = ft;
    f->in.created_ts = fc;
    f->in.n_feature_rows = ft->n;
    f->in.n_keys = ek ? 1 : 0;
    f->in.ttl = ttl;
}

static void fx_fini(fx *f)
{
    ldr_col_free(f->ek);
    ldr_col_free(f->et);
    ldr_col_free(f->fk);
    ldr_col_free(f->ft);
    ldr_col_free(f->fc);
}

/* When not 0, engine_check runs 1 thread and this many only (the 3000 small random
 * cases spread 2, 3 and 4 threads among them instead of running all: thread start-up
 * would dominate under the sanitizers). */
static int check_only_threads;

/* Runs the engine with 1 to 4 threads (serial and parallel entity builds, row and owner
 * modes of the feature pass) against ref (the reference's answer); all must equal expect
 * (when not NULL) and each other. Returns the number of mismatching rows. */
static size_t engine_check(const ldr_pit_input *in, const int64_t *ref, const int64_t *expect)
{
    size_t n = in->n_entity_rows, bad = 0;
    int64_t *got = ldr_xmalloc((n + 1) * sizeof(int64_t));
    for (int threads = 1; threads <= 4; threads++) {
        if (threads > 1 && check_only_threads && threads != check_only_threads)
            continue;
        ldr_err err = {0};
        CHECK_OK(ldr_pit_join(in, threads, got, &err), err);
        for (size_t i = 0; i < n; i++) {
            int64_t want = expect ? expect[i] : ref[i];
            if (got[i] != want || ref[i] != want) {
                if (bad++ < 5)
                    HARNESS_FAIL("threads %d, entity row %zu: engine %" PRId64
                                 ", reference %" PRId64 ", expected %" PRId64,
                                 threads, i, got[i], ref[i], want);
            }
        }
    }
    ldr_free(got);
    return bad;
}

/* Runs the reference and engine_check. */
static size_t join_check(const ldr_pit_input *in, const int64_t *expect)
{
    int64_t *ref = ldr_xmalloc((in->n_entity_rows + 1) * sizeof(int64_t));
    ldr_pit_join_reference(in, ref);
    size_t bad = engine_check(in, ref, expect);
    ldr_free(ref);
    return bad;
}

/* ---- Feast acceptance cases ----------------------------------------------------------- */

/* §15.1: equal timestamp included, no match gives -1 and keeps the row. */
TEST(feast_basic_pit)
{
    int64_t fk[] = {1001, 1001}, ek[] = {1001, 1001, 1001, 9999};
    int64_t ft[] = {ts("2024-05-01T10:00:00Z"), ts("2024-05-01T12:00:00Z")};
    int64_t et[] = {ts("2024-05-01T11:00:00Z"), ts("2024-05-01T12:00:00Z"),
                    ts("2024-05-01T09:00:00Z"), ts("2024-05-01T12:00:00Z")};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 4), ts_col(et, 4), col_of(LDR_TYPE_INT64, fk, 2),
            ts_col(ft, 2), NULL, 2 * DAY);
    int64_t expect[] = {0, 1, -1, -1};
    join_check(&f.in, expect);
    fx_fini(&f);
}

/* §15.2: the ttl lower bound is inclusive; a row after T never joins. */
TEST(feast_ttl_lower_bound_inclusive)
{
    int64_t end = ts("2025-01-02T10:00:00Z");
    int64_t ft[] = {ts("2024-12-30T00:00:00Z"), ts("2025-01-01T10:00:00Z"),
                    ts("2025-01-02T10:00:00.000001Z")};
    int64_t fk[] = {7, 7, 7}, ek[] = {7, 7, 7};
    int64_t et[] = {end, end + 1, end + 3 * DAY};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 3), ts_col(et, 3), col_of(LDR_TYPE_INT64, fk, 3),
            ts_col(ft, 3), NULL, DAY);
    /* At `end` the row at exactly end - ttl qualifies (and the row at end + 1 µs is in
     * the future); at end + 1 µs that later row is the latest; 3 days on, nothing is in
     * the window. */
    int64_t expect[] = {1, 2, -1};
    join_check(&f.in, expect);
    fx_fini(&f);

    int64_t ft2[] = {ts("2024-12-30T00:00:00Z"), end - DAY - 1, end + 1};
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 1), ts_col(et, 1), col_of(LDR_TYPE_INT64, fk, 3),
            ts_col(ft2, 3), NULL, DAY);
    int64_t expect2[] = {-1};
    join_check(&f.in, expect2);
    fx_fini(&f);
}

/* §15.3: same event ts -> greater created wins; a newer event ts beats an older one even
 * with an older created ts. Sources in both orders, so the answer is not "last row". */
TEST(feast_created_tie_break)
{
    int64_t now = ts("2024-06-01T00:00:00Z"), tomorrow = now + DAY;
    int64_t fk[] = {1001, 1001, 1002, 1002};
    int64_t ft[] = {now, now, now, tomorrow};
    int64_t fc[] = {now, tomorrow, tomorrow, now};
    int64_t ek[] = {1001, 1002}, et[] = {now + 2 * DAY, now + 2 * DAY};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 2), ts_col(et, 2), col_of(LDR_TYPE_INT64, fk, 4),
            ts_col(ft, 4), ts_col(fc, 4), 0);
    int64_t expect[] = {1, 3}; /* values 20 and 40 */
    join_check(&f.in, expect);
    fx_fini(&f);

    int64_t fk2[] = {1002, 1001, 1002, 1001};
    int64_t ft2[] = {tomorrow, now, now, now};
    int64_t fc2[] = {now, tomorrow, tomorrow, now};
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 2), ts_col(et, 2), col_of(LDR_TYPE_INT64, fk2, 4),
            ts_col(ft2, 4), ts_col(fc2, 4), 0);
    int64_t expect2[] = {1, 0};
    join_check(&f.in, expect2);
    fx_fini(&f);
}

/* §15.4: by default the backfilled value wins (20/40); with the flag, the value as known at
 * T wins (10/30). */
TEST(feast_filter_by_created)
{
    int64_t now = ts("2024-06-01T00:00:00Z");
    int64_t fk[] = {1001, 1001, 1002, 1002};
    int64_t ft[] = {now, now, now, now};
    int64_t fc[] = {now, now + 2 * DAY, now, now + 2 * DAY};
    int64_t ek[] = {1001, 1002}, et[] = {now + DAY, now + DAY};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 2), ts_col(et, 2), col_of(LDR_TYPE_INT64, fk, 4),
            ts_col(ft, 4), ts_col(fc, 4), 0);
    int64_t dflt[] = {1, 3}, filtered[] = {0, 2};
    join_check(&f.in, dflt);
    f.in.filter_by_created = true;
    join_check(&f.in, filtered);
    /* The flag is ignored without a created column. */
    f.in.created_ts = NULL;
    join_check(&f.in, dflt);
    fx_fini(&f);
}

/* §15.5: ttl 0 means an unbounded lookback. */
TEST(feast_ttl_zero_unbounded)
{
    int64_t t = ts("2024-06-01T00:00:00Z");
    int64_t fk[] = {5}, ft[] = {t - 366 * DAY}, ek[] = {5}, et[] = {t};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 1), ts_col(et, 1), col_of(LDR_TYPE_INT64, fk, 1),
            ts_col(ft, 1), NULL, 0);
    int64_t hit[] = {0}, miss[] = {-1};
    join_check(&f.in, hit);
    f.in.ttl = DAY;
    join_check(&f.in, miss);
    fx_fini(&f);
}

/* §15.10: an entityless view joins every entity row to the latest global row in ttl. */
TEST(feast_entityless_view)
{
    int64_t t0 = ts("2024-06-01T00:00:00Z");
    int64_t ft[] = {t0, t0 + 2 * HOUR, t0 + HOUR, t0 + 5 * HOUR};
    int64_t et[] = {t0 + 3 * HOUR, t0 - HOUR, t0 + HOUR, t0 + 10 * HOUR, NA, t0 + 9 * HOUR};
    fx f;
    fx_init(&f, NULL, ts_col(et, 6), NULL, ts_col(ft, 4), NULL, 4 * HOUR);
    int64_t expect[] = {1, -1, 2, -1, -1, 3};
    join_check(&f.in, expect);
    f.in.ttl = 0;
    int64_t unbounded[] = {1, -1, 2, 3, -1, 3};
    join_check(&f.in, unbounded);
    fx_fini(&f);
}

/* ---- tie-breaks, duplicates, nulls ---------------------------------------------------- */

TEST(last_in_source_wins_full_tie)
{
    int64_t fk[] = {1, 1, 1, 2, 2}, ft[] = {10, 10, 10, 10, 10}, fc[] = {5, 5, 4, 5, 5};
    int64_t ek[] = {1, 2}, et[] = {10, 10};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 2), ts_col(et, 2), col_of(LDR_TYPE_INT64, fk, 5),
            ts_col(ft, 5), ts_col(fc, 5), 0);
    int64_t with_created[] = {1, 4};
    join_check(&f.in, with_created);
    f.in.created_ts = NULL; /* no created column: the last row of the tie */
    int64_t without[] = {2, 4};
    join_check(&f.in, without);
    fx_fini(&f);
}

TEST(null_created_sorts_lowest)
{
    int64_t fk[] = {1, 1, 2, 2}, ft[] = {10, 10, 10, 10}, fc[] = {3, NA, NA, NA};
    int64_t ek[] = {1, 2}, et[] = {20, 20};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 2), ts_col(et, 2), col_of(LDR_TYPE_INT64, fk, 4),
            ts_col(ft, 4), ts_col(fc, 4), 0);
    int64_t dflt[] = {0, 3};
    join_check(&f.in, dflt);
    f.in.filter_by_created = true; /* a null created never passes the filter */
    int64_t filtered[] = {0, -1};
    join_check(&f.in, filtered);
    fx_fini(&f);
}

TEST(duplicate_entity_rows_each_answered)
{
    int64_t fk[] = {1, 1, 2}, ft[] = {10, 20, 15};
    int64_t ek[] = {1, 1, 2, 1, 2, 1}, et[] = {25, 25, 15, 15, 15, 25};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 6), ts_col(et, 6), col_of(LDR_TYPE_INT64, fk, 3),
            ts_col(ft, 3), NULL, 0);
    int64_t expect[] = {1, 1, 2, 0, 2, 1};
    join_check(&f.in, expect);
    fx_fini(&f);
}

TEST(null_keys_and_timestamps_never_match)
{
    /* Feature rows: null key, null ts, and a good row per key. */
    int64_t fk[] = {NA, 1, 1, 2, NA}, ft[] = {50, NA, 10, 10, NA};
    int64_t ek[] = {NA, 1, 1, 2, NA}, et[] = {60, 60, NA, 60, NA};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 5), ts_col(et, 5), col_of(LDR_TYPE_INT64, fk, 5),
            ts_col(ft, 5), NULL, 0);
    int64_t expect[] = {-1, 2, -1, 3, -1};
    join_check(&f.in, expect);
    fx_fini(&f);

    const char *fs[] = {NULL, "a", NULL}, *es[] = {NULL, "a", ""};
    int64_t ft2[] = {5, 5, 5}, et2[] = {9, 9, 9};
    fx_init(&f, str_col(es, 3), ts_col(et2, 3), str_col(fs, 3), ts_col(ft2, 3), NULL, 0);
    int64_t expect2[] = {-1, 1, -1}; /* "" is a value, not null, and has no match */
    join_check(&f.in, expect2);
    fx_fini(&f);
}

TEST(negative_ttl_is_an_error)
{
    int64_t v[] = {1};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, v, 1), ts_col(v, 1), col_of(LDR_TYPE_INT64, v, 1),
            ts_col(v, 1), NULL, -1);
    int64_t out[1];
    ldr_err err = {0};
    CHECK_FAILS(ldr_pit_join(&f.in, 1, out, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "negative ttl");
    fx_fini(&f);
}

TEST(extreme_timestamps_saturate)
{
    int64_t fk[] = {1, 1, 1}, ft[] = {INT64_MIN + 1, -5, INT64_MAX};
    int64_t ek[] = {1, 1, 1, 1}, et[] = {INT64_MIN + 2, -4, INT64_MAX, INT64_MIN + 1};
    fx f;
    fx_init(&f, col_of(LDR_TYPE_INT64, ek, 4), ts_col(et, 4), col_of(LDR_TYPE_INT64, fk, 3),
            ts_col(ft, 3), NULL, INT64_MAX);
    int64_t expect[] = {0, 1, 2, 0};
    join_check(&f.in, expect);
    f.in.ttl = 3;
    int64_t expect2[] = {0, 1, 2, 0};
    join_check(&f.in, expect2);
    fx_fini(&f);
}

/* ---- key shapes ----------------------------------------------------------------------- */

TEST(multi_column_keys_int64_and_string)
{
    int64_t fa[] = {1, 1, 2, 1}, ea[] = {1, 1, 2, 2, NA};
    const char *fb[] = {"x", "y", "x", "x"}, *eb[] = {"x", "y", "y", "x", "x"};
    int64_t ft[] = {10, 11, 12, 30}, et[] = {20, 20, 20, 20, 20};
    ldr_col *ek[2] = {col_of(LDR_TYPE_INT64, ea, 5), str_col(eb, 5)};
    ldr_col *fk[2] = {col_of(LDR_TYPE_INT64, fa, 4), str_col(fb, 4)};
    ldr_col *etc = ts_col(et, 5), *ftc = ts_col(ft, 4);
    const ldr_col *ekc[2] = {ek[0], ek[1]}, *fkc[2] = {fk[0], fk[1]};
    ldr_pit_input in = {.entity_keys = ekc,
                        .entity_ts = etc,
                        .n_entity_rows = 5,
                        .feature_keys = fkc,
                        .feature_ts = ftc,
                        .n_feature_rows = 4,
                        .n_keys = 2};
    int64_t expect[] = {0, 1, -1, 2, -1};
    join_check(&in, expect);
    for (int k = 0; k < 2; k++) {
        ldr_col_free(ek[k]);
        ldr_col_free(fk[k]);
    }
    ldr_col_free(etc);
    ldr_col_free(ftc);
}

/* A dictionary column over `dict` holding the given dictionary indices (-1 = null). */
static ldr_col *dict_col(ldr_col *dict, const int *idx, size_t n)
{
    ldr_col *c = ldr_col_new_dict(dict->type, dict, n);
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0)
            ldr_col_append_null(c);
        else
            ldr_col_append_index(c, idx[i]);
    }
    return c;
}

TEST(dictionary_keys_compare_by_value)
{
    /* Feature dictionary has "b" twice and an unused entry; entity side is plain. */
    const char *dv[] = {"b", "a", "b", "zz"};
    int fidx[] = {0, 1, 2, -1, 1};
    int64_t ft[] = {10, 10, 12, 13, 14};
    const char *es[] = {"a", "b", "c", "b"};
    int64_t et[] = {20, 20, 20, 11};
    fx f;
    fx_init(&f, str_col(es, 4), ts_col(et, 4), dict_col(str_col(dv, 4), fidx, 5), ts_col(ft, 5),
            NULL, 0);
    int64_t expect[] = {4, 2, -1, 0};
    join_check(&f.in, expect);
    fx_fini(&f);

    /* Both sides dictionary-encoded with different dictionaries. */
    const char *ev[] = {"c", "b", "a"};
    int eidx[] = {2, 1, 0, 1};
    fx_init(&f, dict_col(str_col(ev, 3), eidx, 4), ts_col(et, 4), dict_col(str_col(dv, 4), fidx, 5),
            ts_col(ft, 5), NULL, 0);
    join_check(&f.in, expect);
    fx_fini(&f);

    /* Int64 dictionary on the feature side, Int32 keys (plain) through the same paths. */
    int64_t idv[] = {7, 9, 7};
    int iidx[] = {0, 1, 2, 1};
    int64_t ft3[] = {1, 2, 3, 4}, ek3[] = {7, 9, 8}, et3[] = {10, 10, 10};
    fx_init(&f, col_of(LDR_TYPE_INT64, ek3, 3), ts_col(et3, 3),
            dict_col(col_of(LDR_TYPE_INT64, idv, 3), iidx, 4), ts_col(ft3, 4), NULL, 0);
    int64_t expect3[] = {2, 3, -1};
    join_check(&f.in, expect3);
    fx_fini(&f);
    int64_t fk4[] = {7, 9, 7, 9};
    fx_init(&f, col_of(LDR_TYPE_INT32, ek3, 3), ts_col(et3, 3), col_of(LDR_TYPE_INT32, fk4, 4),
            ts_col(ft3, 4), NULL, 0);
    join_check(&f.in, expect3);
    fx_fini(&f);
}

/* ---- partitioner ---------------------------------------------------------------------- */

TEST(partition_of_is_by_value)
{
    const char *dv[] = {"k1", "k2", "k3"};
    int idx[] = {0, 1, 2, 0, -1};
    const char *pv[] = {"k1", "k2", "k3", "k1", NULL};
    ldr_col *d = dict_col(str_col(dv, 3), idx, 5), *p = str_col(pv, 5);
    const ldr_col *dk[] = {d}, *pk[] = {p};
    for (size_t i = 0; i < 5; i++)
        for (unsigned parts = 1; parts <= 9; parts++) {
            unsigned a = ldr_pit_partition_of(dk, 1, i, parts);
            CHECK(a == ldr_pit_partition_of(pk, 1, i, parts));
            CHECK(a < parts);
        }
    CHECK_EQ_I64(ldr_pit_partition_of(pk, 1, 4, 8), 0); /* null key */
    CHECK_EQ_I64(ldr_pit_partition_of(pk, 0, 1, 8), 0); /* entityless */
    /* Spread: 10000 distinct ints over 16 parts, each part within 30% of the mean. */
    ldr_col *c = ldr_col_new(LDR_TYPE_INT64, 10000);
    for (int64_t v = 0; v < 10000; v++)
        ldr_col_append_i64(c, v * 16); /* multiples of 16: a bad hash would clump */
    const ldr_col *ck[] = {c};
    size_t count[16] = {0};
    for (size_t i = 0; i < 10000; i++)
        count[ldr_pit_partition_of(ck, 1, i, 16)]++;
    for (int k = 0; k < 16; k++)
        CHECK(count[k] > 625 * 7 / 10 && count[k] < 625 * 13 / 10);
    ldr_col_free(c);
    ldr_col_free(d);
    ldr_col_free(p);
}

/* ---- randomized differential test against the reference ------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rng_below(rng *r, size_t n)
{
    return n ? (size_t)(rng_next(r) % n) : 0;
}

typedef enum key_mode {
    KEYS_NONE,       /* entityless */
    KEYS_DENSE_INT,  /* Int64 0..card: the direct-array path */
    KEYS_SPARSE_INT, /* Int64 spread over 64 bits: the hashed path */
    KEYS_INT32,
    KEYS_STRING,
    KEYS_STRING_DICT, /* dictionary on one or both sides */
    KEYS_INT_DICT,
    KEYS_MULTI, /* Int64 + String */
    KEYS_BOOL,
    KEYS_NMODES
} key_mode;

typedef struct gen {
    rng r;
    key_mode mode;
    size_t card;
    unsigned null_pct;
    int64_t pool[64]; /* key values (ints, or string lengths/seeds) */
    int64_t ts_span;
    bool extreme;
} gen;

static bool gen_null(gen *g)
{
    return rng_below(&g->r, 100) < g->null_pct;
}

static void str_of(int64_t v, char buf[32])
{
    snprintf(buf, 32, "key-%" PRId64, v);
}

/* Key column k (0 or 1 for KEYS_MULTI) of n rows; `dict` asks for dictionary encoding. */
static ldr_col *gen_keys(gen *g, size_t n, int k, bool dict)
{
    bool is_str =
        g->mode == KEYS_STRING || g->mode == KEYS_STRING_DICT || (g->mode == KEYS_MULTI && k == 1);
    ldr_type t = is_str                  ? LDR_TYPE_STRING
                 : g->mode == KEYS_INT32 ? LDR_TYPE_INT32
                 : g->mode == KEYS_BOOL  ? LDR_TYPE_BOOL
                                         : LDR_TYPE_INT64;
    char buf[32];
    ldr_col *d = NULL, *c;
    if (dict) {
        /* Every pool value, some twice: the same value under two indices. */
        d = ldr_col_new(t, 2 * g->card);
        for (size_t i = 0; i < 2 * g->card; i++) {
            int64_t v = g->pool[i % g->card];
            if (is_str) {
                str_of(v, buf);
                ldr_col_append_str(d, buf, strlen(buf));
            } else {
                ldr_col_append_i64(d, v);
            }
        }
        c = ldr_col_new_dict(t, d, n);
    } else {
        c = ldr_col_new(t, n);
    }
    for (size_t i = 0; i < n; i++) {
        size_t pick = rng_below(&g->r, g->card);
        int64_t v = g->pool[pick];
        if (gen_null(g))
            ldr_col_append_null(c);
        else if (dict)
            ldr_col_append_index(c, (int32_t)(pick + g->card * rng_below(&g->r, 2)));
        else if (is_str) {
            str_of(v, buf);
            ldr_col_append_str(c, buf, strlen(buf));
        } else if (t == LDR_TYPE_INT32)
            ldr_col_append_i32(c, (int32_t)v);
        else if (t == LDR_TYPE_BOOL)
            ldr_col_append_bool(c, v & 1);
        else
            ldr_col_append_i64(c, v);
    }
    return c;
}

static int64_t gen_ts_value(gen *g)
{
    if (g->extreme && rng_below(&g->r, 8) == 0) {
        static const int64_t edge[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, 0};
        return edge[rng_below(&g->r, LDR_ARRAY_LEN(edge))];
    }
    return (int64_t)rng_below(&g->r, (size_t)g->ts_span) * HOUR;
}

static ldr_col *gen_ts(gen *g, size_t n)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    for (size_t i = 0; i < n; i++) {
        if (gen_null(g))
            ldr_col_append_null(c);
        else
            ldr_col_append_i64(c, gen_ts_value(g));
    }
    return c;
}

static void gen_setup(gen *g)
{
    g->mode = (key_mode)rng_below(&g->r, KEYS_NMODES);
    g->card = 1 + rng_below(&g->r, rng_below(&g->r, 4) == 0 ? 60 : 8);
    static const unsigned nulls[] = {0, 0, 3, 10, 30};
    g->null_pct = nulls[rng_below(&g->r, LDR_ARRAY_LEN(nulls))];
    g->ts_span = 1 + (int64_t)rng_below(&g->r, rng_below(&g->r, 2) ? 6 : 200);
    g->extreme = rng_below(&g->r, 10) == 0;
    for (size_t i = 0; i < g->card; i++) {
        switch (g->mode) {
        case KEYS_SPARSE_INT:
            g->pool[i] = (int64_t)rng_next(&g->r);
            break;
        case KEYS_DENSE_INT:
            g->pool[i] = (int64_t)i - 3;
            break;
        default:
            g->pool[i] = (int64_t)rng_below(&g->r, 1000) - 500;
        }
    }
}

/* One random problem; returns the number of mismatching rows. */
static size_t random_case(uint64_t seed, size_t max_rows, bool verbose)
{
    gen g = {.r = {seed}};
    gen_setup(&g);
    size_t n_e = rng_below(&g.r, max_rows + 1), n_f = rng_below(&g.r, max_rows + 1);
    size_t n_keys = g.mode == KEYS_NONE ? 0 : g.mode == KEYS_MULTI ? 2 : 1;
    bool dict_modes = g.mode == KEYS_STRING_DICT || g.mode == KEYS_INT_DICT;
    unsigned dict_sides = dict_modes ? 1 + (unsigned)rng_below(&g.r, 3) : 0; /* 1 e, 2 f, 3 both */
    ldr_col *ek[2] = {0}, *fk[2] = {0};
    for (size_t k = 0; k < n_keys; k++) {
        ek[k] = gen_keys(&g, n_e, (int)k, dict_sides & 1);
        fk[k] = gen_keys(&g, n_f, (int)k, dict_sides & 2);
    }
    ldr_col *et = gen_ts(&g, n_e), *ft = gen_ts(&g, n_f);
    ldr_col *fc = rng_below(&g.r, 10) < 7 ? gen_ts(&g, n_f) : NULL;
    const ldr_col *ekc[2] = {ek[0], ek[1]}, *fkc[2] = {fk[0], fk[1]};
    ldr_pit_input in = {.entity_keys = ekc,
                        .entity_ts = et,
                        .n_entity_rows = n_e,
                        .feature_keys = fkc,
                        .feature_ts = ft,
                        .created_ts = fc,
                        .n_feature_rows = n_f,
                        .n_keys = n_keys,
                        .filter_by_created = rng_below(&g.r, 2) == 0};
    size_t ttl_pick = rng_below(&g.r, 5);
    in.ttl = ttl_pick == 0   ? 0
             : ttl_pick == 1 ? INT64_MAX
                             : (int64_t)rng_below(&g.r, (size_t)g.ts_span + 2) * HOUR;
    size_t bad = join_check(&in, NULL);
    if (bad && verbose)
        HARNESS_FAIL("seed %" PRIu64 ": mode %d, %zu x %zu rows, ttl %" PRId64 ", filter %d", seed,
                     (int)g.mode, n_e, n_f, in.ttl, (int)in.filter_by_created);
    for (size_t k = 0; k < 2; k++) {
        ldr_col_free(ek[k]);
        ldr_col_free(fk[k]);
    }
    ldr_col_free(et);
    ldr_col_free(ft);
    ldr_col_free(fc);
    return bad;
}

TEST(differential_random_small)
{
    size_t failed = 0;
    for (uint64_t c = 0; c < 3000; c++) {
        check_only_threads = 2 + (int)(c % 3);
        failed += random_case(0x5eed0000 + c, 1 + (size_t)(c % 200), failed < 3) != 0;
    }
    check_only_threads = 0;
    CHECK_EQ_I64(failed, 0);
}

/* Bigger inputs: groups of hundreds to thousands of entity rows, so large groups get a
 * bucket index and are radix-sorted, with 1 and 3 threads. */
TEST(differential_random_large)
{
    size_t failed = 0;
    for (uint64_t c = 0; c < 12; c++)
        failed += random_case(0xb16b00 + c, 3000, failed < 3) != 0;
    CHECK_EQ_I64(failed, 0);
}

/* One large group (entityless), shuffled source, created mostly after most entity
 * times: under the filter most rows become visible late, far from their event ts. */
TEST(filter_skips_long_runs)
{
    rng r = {42};
    size_t n_f = 20000, n_e = 300;
    ldr_col *ft = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
    ldr_col *fc = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
    for (size_t j = 0; j < n_f; j++) {
        int64_t e = (int64_t)rng_below(&r, 100000);
        ldr_col_append_i64(ft, e);
        /* Late rows get created = the last entity T (not later: rows created after
         * every T are dropped before the join's main pass). */
        ldr_col_append_i64(fc, rng_below(&r, 50) == 0 ? e : 120000);
    }
    ldr_col *et = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_e);
    for (size_t i = 0; i < n_e; i++)
        ldr_col_append_i64(et, i == 0 ? 120000 : (int64_t)rng_below(&r, 119000));
    ldr_pit_input in = {.entity_ts = et,
                        .n_entity_rows = n_e,
                        .feature_ts = ft,
                        .created_ts = fc,
                        .n_feature_rows = n_f,
                        .filter_by_created = true};
    CHECK_EQ_I64(join_check(&in, NULL), 0);
    in.ttl = 5000;
    CHECK_EQ_I64(join_check(&in, NULL), 0);
    ldr_col_free(ft);
    ldr_col_free(fc);
    ldr_col_free(et);
}

/* Rows passing the created filter early are rare (0.3%), so the answer for most entity
 * rows is a row far back in time, in groups of thousands of entity rows, with ttls
 * from 3 to 9000. */
TEST(filter_rare_passes_any_position)
{
    rng r = {4242};
    size_t n_f = 30000, n_e = 800;
    ldr_col *fk = ldr_col_new(LDR_TYPE_INT64, n_f), *ft = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
    ldr_col *fc = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
    for (size_t j = 0; j < n_f; j++) {
        int64_t e = (int64_t)rng_below(&r, 10000);
        ldr_col_append_i64(fk, (int64_t)rng_below(&r, 3));
        ldr_col_append_i64(ft, e);
        ldr_col_append_i64(fc, rng_below(&r, 300) == 0 ? e : 11000);
    }
    ldr_col *ek = ldr_col_new(LDR_TYPE_INT64, n_e), *et = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_e);
    for (size_t i = 0; i < n_e; i++) {
        ldr_col_append_i64(ek, (int64_t)rng_below(&r, 4));
        ldr_col_append_i64(et, i == 0 ? 11000 : (int64_t)rng_below(&r, 10999));
    }
    const ldr_col *ekc[] = {ek}, *fkc[] = {fk};
    ldr_pit_input in = {.entity_keys = ekc,
                        .entity_ts = et,
                        .n_entity_rows = n_e,
                        .feature_keys = fkc,
                        .feature_ts = ft,
                        .created_ts = fc,
                        .n_feature_rows = n_f,
                        .n_keys = 1,
                        .filter_by_created = true};
    static const int64_t ttls[] = {0, 3, 50, 400, 2000, 9000};
    for (size_t k = 0; k < LDR_ARRAY_LEN(ttls); k++) {
        in.ttl = ttls[k];
        CHECK_EQ_I64(join_check(&in, NULL), 0);
    }
    ldr_col_free(fk);
    ldr_col_free(ft);
    ldr_col_free(fc);
    ldr_col_free(ek);
    ldr_col_free(et);
}

/* Splitting both sides with ldr_pit_partition_of and joining partition by partition gives
 * the one-shot answer once feature rows are mapped back to source positions. */
TEST(partitioned_join_equals_whole)
{
    rng r = {7};
    size_t n_e = 2000, n_f = 6000, parts = 5;
    const char *names[] = {"a", "bb", "ccc", "dddd", "e", "ff", "g7", "h8"};
    ldr_col *ek = ldr_col_new(LDR_TYPE_STRING, n_e),
            *et = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_e);
    ldr_col *fk = ldr_col_new(LDR_TYPE_STRING, n_f),
            *ft = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
    for (size_t i = 0; i < n_e; i++) {
        const char *s = names[rng_below(&r, 8)];
        ldr_col_append_str(ek, s, strlen(s));
        ldr_col_append_i64(et, (int64_t)rng_below(&r, 500));
    }
    for (size_t j = 0; j < n_f; j++) {
        const char *s = names[rng_below(&r, 8)];
        ldr_col_append_str(fk, s, strlen(s));
        ldr_col_append_i64(ft, (int64_t)rng_below(&r, 500));
    }
    const ldr_col *ekc[] = {ek}, *fkc[] = {fk};
    ldr_pit_input whole = {.entity_keys = ekc,
                           .entity_ts = et,
                           .n_entity_rows = n_e,
                           .feature_keys = fkc,
                           .feature_ts = ft,
                           .n_feature_rows = n_f,
                           .n_keys = 1,
                           .ttl = 100};
    int64_t *want = ldr_xmalloc(n_e * sizeof(int64_t)), *got = ldr_xmalloc(n_e * sizeof(int64_t));
    ldr_err err = {0};
    CHECK_OK(ldr_pit_join(&whole, 2, want, &err), err);
    int64_t *erow = ldr_xmalloc(n_e * sizeof(int64_t)), *frow = ldr_xmalloc(n_f * sizeof(int64_t));
    int64_t *pout = ldr_xmalloc(n_e * sizeof(int64_t));
    for (unsigned p = 0; p < parts; p++) {
        size_t ne = 0, nf = 0;
        for (size_t i = 0; i < n_e; i++)
            if (ldr_pit_partition_of(ekc, 1, i, (unsigned)parts) == p)
                erow[ne++] = (int64_t)i;
        for (size_t j = 0; j < n_f; j++)
            if (ldr_pit_partition_of(fkc, 1, j, (unsigned)parts) == p)
                frow[nf++] = (int64_t)j;
        ldr_col *pek = ldr_col_take(ek, erow, ne), *pet = ldr_col_take(et, erow, ne);
        ldr_col *pfk = ldr_col_take(fk, frow, nf), *pft = ldr_col_take(ft, frow, nf);
        const ldr_col *pekc[] = {pek}, *pfkc[] = {pfk};
        ldr_pit_input part = whole;
        part.entity_keys = pekc;
        part.entity_ts = pet;
        part.n_entity_rows = ne;
        part.feature_keys = pfkc;
        part.feature_ts = pft;
        part.n_feature_rows = nf;
        CHECK_OK(ldr_pit_join(&part, 1, pout, &err), err);
        for (size_t i = 0; i < ne; i++)
            got[erow[i]] = pout[i] < 0 ? -1 : frow[pout[i]];
        ldr_col_free(pek);
        ldr_col_free(pet);
        ldr_col_free(pfk);
        ldr_col_free(pft);
    }
    size_t diff = 0, hits = 0;
    for (size_t i = 0; i < n_e; i++) {
        diff += got[i] != want[i];
        hits += want[i] >= 0;
    }
    CHECK_EQ_I64(diff, 0);
    CHECK(hits > n_e / 2);
    ldr_free(want);
    ldr_free(got);
    ldr_free(erow);
    ldr_free(frow);
    ldr_free(pout);
    ldr_col_free(ek);
    ldr_col_free(et);
    ldr_col_free(fk);
    ldr_col_free(ft);
}

/* ---- many groups: the parallel entity build ------------------------------------------- */

/* The reference's answer computed partition by partition (ldr_pit_partition_of), so that
 * inputs of tens of thousands of rows stay cheap for the O(n * m) reference. */
static void reference_by_partition(const ldr_pit_input *in, unsigned parts, int64_t *out)
{
    size_t n_e = in->n_entity_rows, n_f = in->n_feature_rows;
    unsigned *pe = ldr_xmalloc((n_e + 1) * sizeof *pe), *pf = ldr_xmalloc((n_f + 1) * sizeof *pf);
    for (size_t i = 0; i < n_e; i++)
        pe[i] = ldr_pit_partition_of(in->entity_keys, in->n_keys, i, parts);
    for (size_t j = 0; j < n_f; j++)
        pf[j] = ldr_pit_partition_of(in->feature_keys, in->n_keys, j, parts);
    int64_t *erow = ldr_xmalloc((n_e + 1) * sizeof(int64_t));
    int64_t *frow = ldr_xmalloc((n_f + 1) * sizeof(int64_t));
    int64_t *pout = ldr_xmalloc((n_e + 1) * sizeof(int64_t));
    for (unsigned p = 0; p < parts; p++) {
        size_t ne = 0, nf = 0;
        for (size_t i = 0; i < n_e; i++)
            if (pe[i] == p)
                erow[ne++] = (int64_t)i;
        for (size_t j = 0; j < n_f; j++)
            if (pf[j] == p)
                frow[nf++] = (int64_t)j;
        ldr_col *ek[2] = {0}, *fk[2] = {0};
        const ldr_col *ekc[2] = {0}, *fkc[2] = {0};
        for (size_t k = 0; k < in->n_keys; k++) {
            ekc[k] = ek[k] = ldr_col_take(in->entity_keys[k], erow, ne);
            fkc[k] = fk[k] = ldr_col_take(in->feature_keys[k], frow, nf);
        }
        ldr_pit_input sub = *in;
        sub.entity_keys = ekc;
        sub.feature_keys = fkc;
        sub.n_entity_rows = ne;
        sub.n_feature_rows = nf;
        ldr_col *et = ldr_col_take(in->entity_ts, erow, ne);
        ldr_col *ft = ldr_col_take(in->feature_ts, frow, nf);
        ldr_col *fc = in->created_ts ? ldr_col_take(in->created_ts, frow, nf) : NULL;
        sub.entity_ts = et;
        sub.feature_ts = ft;
        sub.created_ts = fc;
        ldr_pit_join_reference(&sub, pout);
        for (size_t i = 0; i < ne; i++)
            out[erow[i]] = pout[i] < 0 ? -1 : frow[pout[i]];
        for (size_t k = 0; k < in->n_keys; k++) {
            ldr_col_free(ek[k]);
            ldr_col_free(fk[k]);
        }
        ldr_col_free(et);
        ldr_col_free(ft);
        ldr_col_free(fc);
    }
    ldr_free(pe);
    ldr_free(pf);
    ldr_free(erow);
    ldr_free(frow);
    ldr_free(pout);
}

typedef enum many_kind { MANY_DENSE, MANY_SPARSE, MANY_STRING, MANY_MULTI, MANY_NKINDS } many_kind;

/* Key k of key value v for a kind (MANY_MULTI: Int64 then String). */
static void many_append(ldr_col *c, many_kind kind, int k, uint64_t v)
{
    char buf[32];
    if (kind == MANY_STRING || (kind == MANY_MULTI && k == 1)) {
        snprintf(buf, sizeof buf, "id-%" PRIu64, v);
        ldr_col_append_str(c, buf, strlen(buf));
    } else if (kind == MANY_SPARSE) {
        ldr_col_append_i64(c, (int64_t)(v * 0x9e3779b97f4a7c15ULL));
    } else {
        ldr_col_append_i64(c, (int64_t)(kind == MANY_MULTI ? v % 97 : v));
    }
}

/* Tens of thousands of rows over thousands of keys, so that the parallel layout uses
 * both one block per group and blocks of several groups, with nulls, duplicates, a
 * created column and the filter, for every key path; the engine with 1 to 4 threads
 * against the reference. */
TEST(many_groups_threads_1_to_4)
{
    rng r = {99};
    size_t n_e = 30000, n_f = 40000, card = 12000;
    for (int kind = 0; kind < MANY_NKINDS; kind++) {
        size_t n_keys = kind == MANY_MULTI ? 2 : 1;
        ldr_col *ek[2] = {0}, *fk[2] = {0};
        for (size_t k = 0; k < n_keys; k++) {
            bool str = kind == MANY_STRING || (kind == MANY_MULTI && k == 1);
            ek[k] = ldr_col_new(str ? LDR_TYPE_STRING : LDR_TYPE_INT64, n_e);
            fk[k] = ldr_col_new(str ? LDR_TYPE_STRING : LDR_TYPE_INT64, n_f);
        }
        ldr_col *et = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_e);
        ldr_col *ft = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
        ldr_col *fc = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n_f);
        for (size_t i = 0; i < n_e; i++) {
            uint64_t v = rng_below(&r, card);
            for (size_t k = 0; k < n_keys; k++) {
                if (rng_below(&r, 100) == 0)
                    ldr_col_append_null(ek[k]);
                else
                    many_append(ek[k], (many_kind)kind, (int)k, v);
            }
            if (rng_below(&r, 100) == 0)
                ldr_col_append_null(et);
            else
                ldr_col_append_i64(et, (int64_t)rng_below(&r, 5000) * HOUR);
        }
        for (size_t j = 0; j < n_f; j++) {
            uint64_t v = rng_below(&r, card + card / 10); /* some keys only here */
            for (size_t k = 0; k < n_keys; k++)
                many_append(fk[k], (many_kind)kind, (int)k, v);
            int64_t e = (int64_t)rng_below(&r, 5000) * HOUR;
            ldr_col_append_i64(ft, e);
            ldr_col_append_i64(fc, e + (int64_t)rng_below(&r, 3) * 40 * HOUR);
        }
        const ldr_col *ekc[2] = {ek[0], ek[1]}, *fkc[2] = {fk[0], fk[1]};
        ldr_pit_input in = {.entity_keys = ekc,
                            .entity_ts = et,
                            .n_entity_rows = n_e,
                            .feature_keys = fkc,
                            .feature_ts = ft,
                            .created_ts = fc,
                            .n_feature_rows = n_f,
                            .n_keys = n_keys,
                            .ttl = kind % 2 ? 0 : 1500 * HOUR,
                            .filter_by_created = kind >= MANY_STRING};
        int64_t *ref = ldr_xmalloc(n_e * sizeof(int64_t));
        reference_by_partition(&in, 2000, ref);
        size_t hits = 0;
        for (size_t i = 0; i < n_e; i++)
            hits += ref[i] >= 0;
        if (hits < n_e / 3)
            HARNESS_FAIL("key kind %d: only %zu matches", kind, hits);
        if (engine_check(&in, ref, NULL) != 0)
            HARNESS_FAIL("key kind %d", kind);
        ldr_free(ref);
        for (size_t k = 0; k < n_keys; k++) {
            ldr_col_free(ek[k]);
            ldr_col_free(fk[k]);
        }
        ldr_col_free(et);
        ldr_col_free(ft);
        ldr_col_free(fc);
    }
}

int main(void)
{
    RUN(feast_basic_pit);
    RUN(feast_ttl_lower_bound_inclusive);
    RUN(feast_created_tie_break);
    RUN(feast_filter_by_created);
    RUN(feast_ttl_zero_unbounded);
    RUN(feast_entityless_view);
    RUN(last_in_source_wins_full_tie);
    RUN(null_created_sorts_lowest);
    RUN(duplicate_entity_rows_each_answered);
    RUN(null_keys_and_timestamps_never_match);
    RUN(negative_ttl_is_an_error);
    RUN(extreme_timestamps_saturate);
    RUN(multi_column_keys_int64_and_string);
    RUN(dictionary_keys_compare_by_value);
    RUN(partition_of_is_by_value);
    RUN(differential_random_small);
    RUN(differential_random_large);
    RUN(filter_skips_long_runs);
    RUN(filter_rare_passes_any_position);
    RUN(partitioned_join_equals_whole);
    RUN(many_groups_threads_1_to_4);
    return harness_done();
}
