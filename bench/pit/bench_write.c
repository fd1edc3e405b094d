/*
 * bench_write.c -- micro benchmark of the Parquet writer alone (ldr_pq_write_file): reads
 * a Parquet file into memory once, then writes it REPS times with each thread count and
 * prints the median and minimum wall time, the process CPU time, and whether every
 * output is byte for byte the same as the first (serial) one. Used to check that the
 * writer's thread pool (ldr_pq_write_opts.threads) helps and never changes the bytes.
 *
 *   bench_write FILE.parquet [THREADS_LIST [REPS [OUT]]]
 *     THREADS_LIST like 1,2,4 (default 1,2); REPS default 5; OUT default /tmp/bench_write.parquet
 *     (each run also fsyncs, as ldr_pq_writer_close does).
 *
 * Build (not part of `ninja`; needs parquet, col and core):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/pit/bench_write.c \
 *      build/src/libldr_parquet.a build/src/libldr_col.a build/src/libldr_core.a \
 *      -lsnappy -lz -lzstd -llz4 -lbrotlienc -lbrotlidec -lm -pthread
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet/parquet.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = ldr_xmalloc(n > 0 ? (size_t)n : 1);
    *len = fread(p, 1, n > 0 ? (size_t)n : 0, f);
    fclose(f);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_write FILE.parquet [THREADS_LIST [REPS [OUT]]]\n");
        return 2;
    }
    const char *list = argc > 2 ? argv[2] : "1,2";
    int reps = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 5;
    if (reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_write: REPS must be 1..1000\n");
        return 2;
    }
    const char *out = argc > 4 ? argv[4] : "/tmp/bench_write.parquet";
    ldr_err err = {0};
    ldr_pq_reader *r = ldr_pq_reader_open(argv[1], &err);
    ldr_batch *b = NULL;
    ldr_pq_read_opts ro = ldr_pq_read_opts_default();
    if (!r || ldr_pq_read(r, &ro, &b, &err) != LDR_OK) {
        fprintf(stderr, "bench_write: %s\n", err.msg);
        return 1;
    }
    ldr_pq_reader_close(r);
    char *first = NULL;
    size_t first_len = 0;
    double *secs = ldr_xcalloc((size_t)reps, sizeof *secs);
    double *cpus = ldr_xcalloc((size_t)reps, sizeof *cpus);
    for (const char *p = list; *p;) {
        char *end;
        int t = (int)strtol(p, &end, 10);
        if (end == p || t < 0 || t > 1024) {
            fprintf(stderr, "bench_write: bad thread count in '%s'\n", list);
            return 2;
        }
        bool same = true;
        for (int k = 0; k < reps; k++) {
            ldr_pq_write_opts o = ldr_pq_write_opts_default();
            o.threads = t;
            double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            if (ldr_pq_write_file(out, b, &o, &err) != LDR_OK) {
                fprintf(stderr, "bench_write: %s\n", err.msg);
                return 1;
            }
            secs[k] = clock_s(CLOCK_MONOTONIC) - t0;
            cpus[k] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
            size_t len;
            char *bytes = slurp(out, &len);
            if (!first) {
                first = bytes;
                first_len = len;
            } else {
                same = same && bytes && len == first_len && memcmp(bytes, first, len) == 0;
                ldr_free(bytes);
            }
        }
        qsort(secs, (size_t)reps, sizeof *secs, cmp_double);
        qsort(cpus, (size_t)reps, sizeof *cpus, cmp_double);
        printf("%zu rows x %zu columns, threads %d: median %.3f s (min %.3f s), cpu %.3f s, "
               "%zu bytes, %s\n",
               b->n_rows, b->n_cols, t, secs[reps / 2], secs[0], cpus[reps / 2], first_len,
               same ? "identical to the first run" : "DIFFERENT BYTES");
        p = *end == ',' ? end + 1 : end;
    }
    ldr_free(first);
    ldr_free(secs);
    ldr_free(cpus);
    ldr_batch_free(b);
    return 0;
}
