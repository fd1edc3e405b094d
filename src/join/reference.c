/*
 * reference.c -- the brute-force point-in-time join: the oracle that the differential
 * unit test and the pit fuzzer compare ldr_pit_join against.
 *
 * It is written to be obviously right rather than fast: for every entity row it scans
 * every feature row, applies the rule of join.h literally and keeps the greatest
 * (event ts, created ts, row index) triple. It shares nothing with pit.c except
 * ldr_col_eq, so a bug in the engine's hashing, sorting or searching shows up as a
 * difference. O(n_entity_rows * n_feature_rows * n_keys); reentrant.
 */
#include "join/join.h"

/* Every key value of both rows present and equal. */
static bool keys_match(const ldr_pit_input *in, size_t i, size_t j)
{
    for (size_t k = 0; k < in->n_keys; k++) {
        const ldr_col *a = in->entity_keys[k], *b = in->feature_keys[k];
        if (!ldr_col_valid(a, i) || !ldr_col_valid(b, j) || !ldr_col_eq(a, i, b, j))
            return false;
    }
    return true;
}

/* Feature row j's created timestamp for ordering; a null (or absent) one is INT64_MIN. */
static int64_t created_of(const ldr_pit_input *in, size_t j)
{
    const ldr_col *c = in->created_ts;
    return c && ldr_col_valid(c, j) ? ldr_col_i64(c, j) : INT64_MIN;
}

/* Whether feature row j qualifies for entity row i at time t (keys already compared). */
static bool qualifies(const ldr_pit_input *in, size_t j, int64_t t)
{
    if (!ldr_col_valid(in->feature_ts, j))
        return false;
    int64_t e = ldr_col_i64(in->feature_ts, j);
    if (e > t)
        return false;
    /* e >= t - ttl, written without overflow: t - e >= 0 here, so compare as unsigned. */
    if (in->ttl != 0 && (uint64_t)t - (uint64_t)e > (uint64_t)in->ttl)
        return false;
    if (in->filter_by_created && in->created_ts) {
        if (!ldr_col_valid(in->created_ts, j) || ldr_col_i64(in->created_ts, j) > t)
            return false;
    }
    return true;
}

static int64_t best_for(const ldr_pit_input *in, size_t i)
{
    if (!ldr_col_valid(in->entity_ts, i))
        return -1;
    for (size_t k = 0; k < in->n_keys; k++)
        if (!ldr_col_valid(in->entity_keys[k], i))
            return -1;
    int64_t t = ldr_col_i64(in->entity_ts, i);
    int64_t best = -1, best_e = 0, best_c = 0;
    for (size_t j = 0; j < in->n_feature_rows; j++) {
        if (!keys_match(in, i, j) || !qualifies(in, j, t))
            continue;
        int64_t e = ldr_col_i64(in->feature_ts, j), c = created_of(in, j);
        /* j only grows, so ">=" on (e, c) also prefers the later row on a full tie. */
        if (best < 0 || e > best_e || (e == best_e && c >= best_c)) {
            best = (int64_t)j;
            best_e = e;
            best_c = c;
        }
    }
    return best;
}

void ldr_pit_join_reference(const ldr_pit_input *in, int64_t *out_rows)
{
    LDR_ASSERT(in->ttl >= 0);
    for (size_t i = 0; i < in->n_entity_rows; i++)
        out_rows[i] = best_for(in, i);
}
