/*
 * bench_join.c -- micro benchmark of the point-in-time join engine alone (ldr_pit_join):
 * synthetic columns in memory, no Parquet, no gather. The end-to-end comparison against
 * DuckDB's ASOF join (files, 10 feature columns, checksums) belongs to bench/pit's
 * runner; this program isolates the engine so its phases can be tuned.
 *
 *   bench_join [N_ENTITY [N_FEATURE [N_KEYS [THREADS [REPS [FLAGS]]]]]]
 *     defaults 1000000 10000000 100000 1 3; FLAGS is a set of letters:
 *     s = sparse 64-bit keys (hash table instead of the dense direct array),
 *     t = String keys ("driver-<n>"), d = dictionary-encoded String feature keys,
 *     o = feature rows in time order (the common layout of real sources),
 *     c = a created-timestamp column, f = filter_by_created, n = no ttl (default 30 days).
 * Prints the median wall time of REPS runs (and the median CPU time of all threads: on a
 * shared machine it varies less than wall time), the peak RSS during the joins above the
 * RSS held by the inputs (VmHWM after resetting it through /proc/self/clear_refs), the
 * match count and a checksum (sum of matched rows) that must not depend on THREADS.
 *
 * Build (not part of `ninja`; needs only core, col and join):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/pit/bench_join.c \
 *      build/src/libldr_join.a build/src/libldr_col.a build/src/libldr_core.a -lm -pthread
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "col/col.h"
#include "join/join.h"

#define YEAR_US (365LL * 24 * 3600 * 1000000)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* A "VmRSS:"/"VmHWM:" line of /proc/self/status in MiB, or -1. */
static double proc_mib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = strtod(line + strlen(field), NULL) / 1024.0;
    if (f)
        fclose(f);
    return v;
}

static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct opts {
    size_t n_e, n_f, n_keys;
    int threads, reps;
    const char *flags;
} opts;

static bool has(const opts *o, char c)
{
    return strchr(o->flags, c) != NULL;
}

static uint64_t key_value(const opts *o, uint64_t k)
{
    return has(o, 's') ? (k * 0x9e3779b97f4a7c15ULL) >> 1 : k;
}

/* Key column of n rows drawn from n_keys distinct keys (dictionary: one entry per key). */
static ldr_col *make_keys(const opts *o, size_t n, uint64_t *seed, bool dict)
{
    bool str = has(o, 't') || has(o, 'd');
    char buf[32];
    ldr_col *c;
    if (dict) {
        ldr_col *d = ldr_col_new(LDR_TYPE_STRING, o->n_keys);
        for (size_t k = 0; k < o->n_keys; k++) {
            int len = snprintf(buf, sizeof buf, "driver-%zu", k);
            ldr_col_append_str(d, buf, (size_t)len);
        }
        c = ldr_col_new_dict(LDR_TYPE_STRING, d, n);
    } else {
        c = ldr_col_new(str ? LDR_TYPE_STRING : LDR_TYPE_INT64, n);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = rng_next(seed) % o->n_keys;
        if (dict) {
            ldr_col_append_index(c, (int32_t)k);
        } else if (str) {
            int len = snprintf(buf, sizeof buf, "driver-%" PRIu64, k);
            ldr_col_append_str(c, buf, (size_t)len);
        } else {
            ldr_col_append_i64(c, (int64_t)key_value(o, k));
        }
    }
    return c;
}

static ldr_col *make_ts(size_t n, uint64_t *seed, bool ordered, int64_t shift)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    for (size_t i = 0; i < n; i++) {
        int64_t t = ordered ? (int64_t)((double)i / (double)n * YEAR_US)
                            : (int64_t)(rng_next(seed) % (uint64_t)YEAR_US);
        ldr_col_append_i64(c, t + shift);
    }
    return c;
}

int main(int argc, char **argv)
{
    opts o = {1000000, 10000000, 100000, 1, 3, ""};
    if (argc > 1)
        o.n_e = strtoull(argv[1], NULL, 10);
    if (argc > 2)
        o.n_f = strtoull(argv[2], NULL, 10);
    if (argc > 3)
        o.n_keys = strtoull(argv[3], NULL, 10);
    if (argc > 4)
        o.threads = (int)strtol(argv[4], NULL, 10);
    if (argc > 5)
        o.reps = (int)strtol(argv[5], NULL, 10);
    if (argc > 6)
        o.flags = argv[6];
    uint64_t seed = 12345;
    double g0 = now_s();
    ldr_col *ek = make_keys(&o, o.n_e, &seed, false), *et = make_ts(o.n_e, &seed, false, 0);
    ldr_col *fk = make_keys(&o, o.n_f, &seed, has(&o, 'd'));
    ldr_col *ft = make_ts(o.n_f, &seed, has(&o, 'o'), -30 * 24 * 3600 * 1000000LL);
    ldr_col *fc = has(&o, 'c') ? make_ts(o.n_f, &seed, has(&o, 'o'), 0) : NULL;
    const ldr_col *ekc[] = {ek}, *fkc[] = {fk};
    ldr_pit_input in = {.entity_keys = ekc,
                        .entity_ts = et,
                        .n_entity_rows = o.n_e,
                        .feature_keys = fkc,
                        .feature_ts = ft,
                        .created_ts = fc,
                        .n_feature_rows = o.n_f,
                        .n_keys = 1,
                        .ttl = has(&o, 'n') ? 0 : 30 * 24 * 3600 * 1000000LL,
                        .filter_by_created = has(&o, 'f')};
    int64_t *out = ldr_xmalloc(o.n_e * sizeof(int64_t));
    memset(out, 0, o.n_e * sizeof(int64_t)); /* fault the pages in before measuring */
    double base = proc_mib("VmRSS:");
    double *secs = ldr_xcalloc((size_t)o.reps, sizeof(double)), peak = 0;
    double *cpus = ldr_xcalloc((size_t)o.reps, sizeof(double));
    printf("generated in %.2fs; inputs hold %.0f MiB\n", now_s() - g0, base);
    for (int r = 0; r < o.reps; r++) {
        reset_peak();
        ldr_err err = {0};
        double t0 = now_s(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (ldr_pit_join(&in, o.threads, out, &err) != LDR_OK) {
            fprintf(stderr, "bench_join: %s\n", err.msg);
            return 1;
        }
        secs[r] = now_s() - t0;
        cpus[r] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        double hwm = proc_mib("VmHWM:");
        peak = hwm > peak ? hwm : peak;
    }
    uint64_t sum = 0;
    size_t hits = 0;
    for (size_t i = 0; i < o.n_e; i++)
        if (out[i] >= 0) {
            hits++;
            sum += (uint64_t)out[i];
        }
    qsort(secs, (size_t)o.reps, sizeof(double), cmp_double);
    qsort(cpus, (size_t)o.reps, sizeof(double), cmp_double);
    printf("%zu x %zu rows, %zu keys, threads %d, flags '%s': median %.3fs (min %.3fs, "
           "cpu %.3fs), peak RSS %.0f MiB (+%.0f MiB over inputs), %zu matched, checksum "
           "%" PRIu64 "\n",
           o.n_e, o.n_f, o.n_keys, o.threads, o.flags, secs[o.reps / 2], secs[0], cpus[o.reps / 2],
           peak, peak - base, hits, sum);
    ldr_free(secs);
    ldr_free(cpus);
    ldr_free(out);
    ldr_col_free(ek);
    ldr_col_free(et);
    ldr_col_free(fk);
    ldr_col_free(ft);
    ldr_col_free(fc);
    return 0;
}
