/*
 * offline.h -- the offline store: reading file sources and historical retrieval
 * (point-in-time correct training data).
 *
 * A file source is a Parquet or CSV file, a directory of them, or a glob, relative to the
 * repository. Reading a source for a view gives a batch whose columns carry the *view's*
 * names (field_mapping applied, join keys included) and the view's declared types, plus
 * the event timestamp ("__ts") and created timestamp ("__created", when the source has
 * one), rows in source order (files in sorted path order): the order that breaks the
 * last tie of the point-in-time rule.
 *
 * Historical retrieval resolves the requested features (references or a feature service)
 * into projections, reads the entity file, coerces entity keys to the entity's declared
 * type, runs one point-in-time join per projection (src/join) and gathers the winning
 * rows' features into the output, in request order.
 *
 * Ownership: batches returned are caller-owned (ldr_batch_free). Thread-safety: a call
 * uses its own memory; the defs it reads are immutable.
 */
#ifndef LDR_OFFLINE_OFFLINE_H
#define LDR_OFFLINE_OFFLINE_H

#include "col/col.h"
#include "core/core.h"
#include "repo/repo.h"

#define LDR_OFFLINE_TS_COL      "__ts"
#define LDR_OFFLINE_CREATED_COL "__created"

/**
 * Reads the columns `cols` (view column names: join keys and features) of file source
 * `src`, typed `types`, plus its timestamp columns. Row groups entirely outside [lo, hi]
 * (event time; LDR_TS_NONE for no bound) may be skipped; rows are not filtered.
 * Errors name the file and column.
 */
LDR_MUST_USE ldr_code ldr_offline_read_source(const ldr_config *cfg, const ldr_source *src,
                                              const char *const *cols, const ldr_type *types,
                                              size_t n_cols, ldr_ts lo, ldr_ts hi, int threads,
                                              ldr_batch **out, ldr_err *err);

/**
 * A file source opened for reading in chunks (a Parquet row group, or a whole CSV file),
 * in source order, keeping only the row groups that may hold event times in [lo, hi].
 * Reading the same chunk list twice gives the same rows in the same order: historical
 * retrieval joins on keys and timestamps first, then reads feature values only for the
 * chunks that hold winning rows. Caller owns; free with ldr_offline_scan_close.
 */
typedef struct ldr_offline_scan ldr_offline_scan;
ldr_offline_scan *ldr_offline_scan_open(const ldr_config *cfg, const ldr_source *src, ldr_ts lo,
                                        ldr_ts hi, ldr_err *err);
void ldr_offline_scan_close(ldr_offline_scan *s);
size_t ldr_offline_scan_chunks(const ldr_offline_scan *s);
/** Reads chunk i: view columns `cols` with `types` plus the timestamp columns, named as in
 * ldr_offline_read_source (with_ts false leaves the timestamp columns out). Thread-safe
 * for distinct or equal chunks. */
LDR_MUST_USE ldr_code ldr_offline_scan_read(ldr_offline_scan *s, size_t chunk,
                                            const char *const *cols, const ldr_type *types,
                                            size_t n_cols, bool with_ts, ldr_batch **out,
                                            ldr_err *err);

/** Work on one chunk, for ldr_offline_scan_each; called concurrently for distinct chunks. */
typedef ldr_code (*ldr_offline_chunk_fn)(void *ctx, size_t chunk, ldr_err *err);
/** Runs fn on every chunk on up to `threads` threads (<= 0: one per core); the first
 * error stops the rest and is returned. */
LDR_MUST_USE ldr_code ldr_offline_scan_each(const ldr_offline_scan *s, int threads,
                                            ldr_offline_chunk_fn fn, void *ctx, ldr_err *err);
/** Reads every chunk (in parallel) into one batch in source order, like
 * ldr_offline_read_source; chunk_rows (n_chunks entries, may be NULL) receives each
 * chunk's row count. */
LDR_MUST_USE ldr_code ldr_offline_scan_read_all(ldr_offline_scan *s, const char *const *cols,
                                                const ldr_type *types, size_t n_cols, int threads,
                                                ldr_batch **out, size_t *chunk_rows, ldr_err *err);

/** Converts a column to another type (numbers widen/narrow with range checks, numbers and
 * strings convert through their text form, "5" <-> 5). Caller owns the result. A value
 * that does not convert is LDR_EINVAL naming `what` and the row. */
ldr_col *ldr_offline_cast(const ldr_col *c, ldr_type to, const char *what, ldr_err *err);

typedef struct ldr_hist_request {
    const char *entities_path;   /* .csv or .parquet; NULL for non-entity mode */
    const char *const *features; /* "view:feature" references */
    size_t n_features;
    const char *feature_service; /* instead of features, or NULL */
    bool full_feature_names;
    bool filter_by_created;
    ldr_ts start; /* non-entity mode */
    ldr_ts end;
    int threads;           /* <= 0: one per core */
    size_t memory_limit;   /* bytes; 0 = no limit. Above it, joins spill (see spill.c) */
    const char *spill_dir; /* where spill files go; NULL: $TMPDIR, else /tmp */
} ldr_hist_request;

/**
 * Historical retrieval over the definitions `defs` (an applied registry snapshot). The
 * output has every entity column, in order, then one column per requested feature.
 * Errors: unknown view/feature/service (LDR_ENOTFOUND), name collisions and a missing
 * entity column (LDR_EINVAL), unreadable data (LDR_EIO / LDR_ECORRUPT).
 */
LDR_MUST_USE ldr_code ldr_offline_historical(const ldr_config *cfg, const ldr_defs *defs,
                                             const ldr_hist_request *req, ldr_batch **out,
                                             ldr_err *err);

/** Writes a batch to path, format by extension (.csv, .parquet, .jsonl), atomically
 * (temporary file, then rename). */
LDR_MUST_USE ldr_code ldr_offline_write(const ldr_batch *b, const char *path, ldr_err *err);

/** Reads an entity/data file by extension (.csv with type inference, .parquet). Columns
 * named in `typed` get the matching `types` (CSV) or are cast to them (Parquet). */
LDR_MUST_USE ldr_code ldr_offline_read_table(const char *path, const char *const *typed,
                                             const ldr_type *types, size_t n_typed, ldr_batch **out,
                                             ldr_err *err);

/* ---- spilling (spill.c) ------------------------------------------------------------------ */

/** The column a spill file adds: each row's original position. */
#define LDR_SPILL_ROW_COL "__row"

/**
 * Hash-partitioned temporary Parquet files for joins larger than memory. Rows added are
 * split by ldr_pit_partition_of over the first n_keys columns of `names` into n_parts
 * files in a new private directory under `dir` (NULL: $TMPDIR, else /tmp); each file
 * keeps the order rows were added in. Every partition writer buffers up to buffer_rows
 * rows (0: a default) before writing a row group. Caller owns; ldr_spill_free removes
 * the files and the directory. Not thread-safe.
 */
typedef struct ldr_spill ldr_spill;
ldr_spill *ldr_spill_open(const char *dir, const char *const *names, const ldr_type *types,
                          size_t n_cols, size_t n_keys, unsigned n_parts, size_t buffer_rows,
                          ldr_err *err);
/** Adds every row of b (columns found by name; extra columns ignored), row r getting
 * position row_base + r. */
LDR_MUST_USE ldr_code ldr_spill_add(ldr_spill *s, const ldr_batch *b, int64_t row_base,
                                    ldr_err *err);
/** Closes the writers; after it only reads are allowed. */
LDR_MUST_USE ldr_code ldr_spill_finish(ldr_spill *s, ldr_err *err);
unsigned ldr_spill_parts(const ldr_spill *s);
/** Rows in partition p (p >= parts: all rows). */
size_t ldr_spill_rows(const ldr_spill *s, unsigned p);
/** Reads partition p back: the columns given to open plus LDR_SPILL_ROW_COL (Int64), in
 * the order added. Caller owns *out. */
LDR_MUST_USE ldr_code ldr_spill_read(ldr_spill *s, unsigned p, int threads, ldr_batch **out,
                                     ldr_err *err);
void ldr_spill_free(ldr_spill *s);

#endif /* LDR_OFFLINE_OFFLINE_H */
