/*
 * join.h -- the point-in-time (as-of) join engine behind get-historical-features.
 *
 * For every entity (request) row at time T, ldr_pit_join picks the one source row of a
 * feature view that a training example may see: equal join keys, event timestamp in
 * [T - ttl, T], greatest event timestamp, then greatest created timestamp, then last in
 * source order (reference: feast-behaviour.md §5.1; docs/join.md has the algorithm).
 * The engine returns row indices only; the retrieval layer gathers feature columns with
 * ldr_col_take (a -1 gives a null, so unmatched entity rows are kept: a LEFT join).
 *
 * Pure computation: no I/O, no hidden state, reentrant. Inputs are borrowed for the
 * duration of the call and never modified. ldr_pit_join may run worker threads of its
 * own (pthreads) for the duration of the call; they are joined before it returns.
 */
#ifndef LDR_JOIN_JOIN_H
#define LDR_JOIN_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "col/col.h"

/** Most rows one side of one ldr_pit_join call may have: row indices are kept in 32 bits
 * to keep the engine's arrays compact. Larger inputs are split with ldr_pit_partition_of
 * first. */
#define LDR_PIT_MAX_ROWS ((size_t)UINT32_MAX - 1)

/**
 * One point-in-time join problem: the entity rows of a request and the source rows of one
 * feature view. Columns are borrowed. Every column of a side has at least that side's row
 * count (rows past it are ignored); key column k has the same ldr_type on both sides
 * (asserted: the caller coerces types first), either side may be dictionary-encoded, and
 * keys compare by value with ldr_col_eq semantics except that a null key value never
 * matches anything (SQL equality).
 */
typedef struct ldr_pit_input {
    /* entity side (the request rows) */
    const ldr_col *const *entity_keys; /* n_keys columns (types equal to the feature side's) */
    const ldr_col *entity_ts;          /* UnixTimestamp (µs); a null timestamp never matches */
    size_t n_entity_rows;
    /* feature side: one view's source rows, in source order (row index = source position) */
    const ldr_col *const *feature_keys; /* n_keys columns */
    const ldr_col *feature_ts;          /* UnixTimestamp; null never matches */
    const ldr_col *created_ts;          /* UnixTimestamp or NULL when the view has none */
    size_t n_feature_rows;
    size_t n_keys;          /* 0 = entityless view: every entity row may match every feature row */
    ldr_duration ttl;       /* >= 0; 0 = unbounded */
    bool filter_by_created; /* also require created_ts <= T (ignored when created_ts == NULL) */
} ldr_pit_input;

/**
 * The point-in-time join. For each entity row i, out_rows[i] is the chosen feature row
 * index, or -1 when none matches (or entity row i has a null key or timestamp).
 *
 * Rule: among the feature rows whose keys equal entity row i's keys (null key values
 * never match) and whose event timestamp E satisfies T - ttl <= E <= T (both inclusive;
 * no lower bound when ttl == 0; T - ttl saturates at INT64_MIN), choose the greatest E,
 * then the greatest created timestamp, then the greatest row index (the last in source).
 * A null created timestamp orders as INT64_MIN (LDR_TS_NONE): below every other one, and
 * tied with a real INT64_MIN (then the later row wins).
 * With filter_by_created and created_ts != NULL, a row must also have created <= T; a
 * null created timestamp then never qualifies (as in SQL, `NULL <= T` is not true).
 * Duplicate entity rows each get their own (identical) answer.
 *
 * @param in       the problem; borrowed for the call.
 * @param threads  worker threads (the caller's included); <= 0 means one per online CPU
 *                 for large inputs. The result never depends on it.
 * @param out_rows n_entity_rows entries, written by the call.
 * @return LDR_OK; LDR_EINVAL for a negative ttl; LDR_ELIMIT when a side has more than
 *         LDR_PIT_MAX_ROWS rows. Memory grows with the entity side only: about 40 bytes
 *         per entity row plus 16 per entity row and thread; the feature columns are
 *         read once and never copied (docs/join.md). Aborts on OOM like every ldr_x
 *         allocator.
 * Thread-safety: reentrant; concurrent calls on shared read-only columns are fine.
 */
LDR_MUST_USE ldr_code ldr_pit_join(const ldr_pit_input *in, int threads, int64_t *out_rows,
                                   ldr_err *err);

/**
 * The same rule by brute force, O(n_entity_rows * n_feature_rows), sharing no code with
 * ldr_pit_join beyond ldr_col_eq: the oracle for differential tests and the fuzzer.
 * Asserts ttl >= 0.
 */
void ldr_pit_join_reference(const ldr_pit_input *in, int64_t *out_rows);

/**
 * A stable hash partitioner for joins too large for memory ("Scale"): returns which of
 * n_parts (>= 1) partitions row `row` of the key columns belongs to. Equal key tuples map
 * to the same partition on either side, whatever their encoding (plain or dictionary), so
 * the retrieval layer can split both sides into n_parts spill files, join partition p of
 * the entity side with partition p of the feature side, and scatter the answers back to
 * the entity rows' original positions; the union of the per-partition answers equals the
 * one-shot answer (feature row indices must be mapped back to source positions).
 * Rows with a null key value never match, and go to partition 0. With n_keys == 0
 * (entityless views) every row goes to partition 0: such views cannot be split by key.
 * The value depends only on the key values (not on process, thread or row position) on a
 * given architecture, and is independent of the hash that ldr_pit_join uses internally,
 * so a partition does not degrade the join's own hash table.
 */
unsigned ldr_pit_partition_of(const ldr_col *const *keys, size_t n_keys, size_t row,
                              unsigned n_parts);

#endif /* LDR_JOIN_JOIN_H */
