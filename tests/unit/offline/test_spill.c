/*
 * test_spill.c -- unit tests for src/offline/spill.c: rows added in several batches come
 * back from their partition files complete, in the order added, with their positions;
 * every row lands in the partition ldr_pit_partition_of names (so the entity side, split
 * by the same function, meets it); dictionary and null keys; files are removed at free.
 */
#include "offline/offline.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "join/join.h"

static char tmpdir[256];

static size_t files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A batch of n rows: k (Int64, every 7th null), s (String, dictionary-encoded), __ts. */
static ldr_batch *make_batch(size_t n, uint64_t seed)
{
    ldr_col *dict = ldr_col_new(LDR_TYPE_STRING, 4);
    ldr_col_append_str(dict, "x", 1);
    ldr_col_append_str(dict, "yy", 2);
    ldr_col_append_str(dict, "", 0);
    ldr_col *k = ldr_col_new(LDR_TYPE_INT64, n);
    ldr_col *s = ldr_col_new_dict(LDR_TYPE_STRING, dict, n);
    ldr_col *ts = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        if (i % 7 == 3)
            ldr_col_append_null(k);
        else
            ldr_col_append_i64(k, (int64_t)(seed >> 40) % 50);
        ldr_col_append_index(s, (int32_t)((seed >> 20) % 3));
        ldr_col_append_i64(ts, (int64_t)i * 1000);
    }
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, LDR_OFFLINE_TS_COL, ts); /* not in spill order: found by name */
    ldr_batch_add(b, "k", k);
    ldr_batch_add(b, "s", s);
    b->n_rows = n;
    return b;
}

TEST(partitions_round_trip_in_order)
{
    const char *names[] = {"k", "s", LDR_OFFLINE_TS_COL};
    const ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_STRING, LDR_TYPE_UNIX_TIMESTAMP};
    ldr_err err;
    ldr_err_clear(&err);
    const unsigned parts = 5;
    ldr_spill *sp = ldr_spill_open(tmpdir, names, types, 3, 2, parts, 100, &err);
    CHECK(sp != NULL);
    if (!sp)
        return;
    ldr_batch *b1 = make_batch(1000, 1), *b2 = make_batch(777, 2);
    CHECK(ldr_spill_add(sp, b1, 0, &err) == LDR_OK);
    CHECK(ldr_spill_add(sp, b2, 1000, &err) == LDR_OK);
    CHECK(ldr_spill_finish(sp, &err) == LDR_OK);
    CHECK_EQ_I64(ldr_spill_parts(sp), parts);
    CHECK_EQ_I64(ldr_spill_rows(sp, parts), 1777);
    size_t seen = 0, nonempty = 0;
    for (unsigned p = 0; p < parts; p++) {
        ldr_batch *got = NULL;
        CHECK(ldr_spill_read(sp, p, 1, &got, &err) == LDR_OK);
        if (!got)
            continue;
        CHECK_EQ_I64(got->n_rows, ldr_spill_rows(sp, p));
        nonempty += got->n_rows > 0;
        int ki = ldr_batch_find(got, "k"), si = ldr_batch_find(got, "s");
        int ti = ldr_batch_find(got, LDR_OFFLINE_TS_COL),
            ri = ldr_batch_find(got, LDR_SPILL_ROW_COL);
        CHECK(ki >= 0 && si >= 0 && ti >= 0 && ri >= 0);
        if (ki < 0 || si < 0 || ti < 0 || ri < 0) {
            ldr_batch_free(got);
            continue;
        }
        const ldr_col *keys[2] = {got->cols[ki], got->cols[si]};
        int64_t prev = -1;
        for (size_t r = 0; r < got->n_rows; r++) {
            int64_t pos = ldr_col_i64(got->cols[ri], r);
            CHECK(pos > prev); /* the order added */
            prev = pos;
            const ldr_batch *src = pos < 1000 ? b1 : b2;
            size_t sr = (size_t)(pos < 1000 ? pos : pos - 1000);
            const ldr_col *skeys[2] = {src->cols[1], src->cols[2]};
            CHECK(ldr_col_eq(got->cols[ki], r, src->cols[1], sr));
            CHECK(ldr_col_eq(got->cols[si], r, src->cols[2], sr));
            CHECK(ldr_col_eq(got->cols[ti], r, src->cols[0], sr));
            /* Same partition whatever the encoding: the spilled copy is plain. */
            CHECK_EQ_I64(ldr_pit_partition_of(keys, 2, r, parts), p);
            CHECK_EQ_I64(ldr_pit_partition_of(skeys, 2, sr, parts), p);
            seen++;
        }
        ldr_batch_free(got);
    }
    CHECK_EQ_I64(seen, 1777);
    CHECK(nonempty >= 3); /* the hash spreads the rows */
    CHECK(files_in(tmpdir) == 1);
    ldr_spill_free(sp);
    CHECK(files_in(tmpdir) == 0); /* the spill directory is gone */
    ldr_batch_free(b1);
    ldr_batch_free(b2);
}

TEST(free_before_finish_removes_everything)
{
    const char *names[] = {"k", LDR_OFFLINE_TS_COL};
    const ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_UNIX_TIMESTAMP};
    ldr_err err;
    ldr_err_clear(&err);
    ldr_spill *sp = ldr_spill_open(tmpdir, names, types, 2, 1, 3, 0, &err);
    CHECK(sp != NULL);
    ldr_batch *b = make_batch(50, 3);
    CHECK(ldr_spill_add(sp, b, 0, &err) == LDR_OK);
    ldr_spill_free(sp);
    ldr_batch_free(b);
    CHECK(files_in(tmpdir) == 0);
}

TEST(unusable_directory_is_an_error)
{
    const char *names[] = {"k"};
    const ldr_type types[] = {LDR_TYPE_INT64};
    ldr_err err;
    ldr_err_clear(&err);
    ldr_spill *sp = ldr_spill_open("/nonexistent/dir", names, types, 1, 1, 2, 0, &err);
    CHECK(sp == NULL);
    CHECK(strstr(err.msg, "cannot create a spill directory in /nonexistent/dir") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/larder-test-spill-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(partitions_round_trip_in_order);
    RUN(free_before_finish_removes_everything);
    RUN(unusable_directory_is_an_error);
    rmdir(tmpdir);
    return harness_done();
}
