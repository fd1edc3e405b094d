/*
 * parquet.h -- Parquet reader and writer (written here: Debian has no Parquet library
 * for C). See docs/parquet.md for what is supported.
 *
 * Reader: a file is opened (memory-mapped) or a byte range is wrapped; the footer is
 * parsed and validated up front; columns are decoded into ldr_col/ldr_batch (col.h) with
 * projection, row-group pruning on min/max statistics, and parallel decoding across row
 * groups and columns. Every size read from the file is checked against the bytes that
 * exist and against explicit caps: a hostile file yields LDR_ECORRUPT (or
 * LDR_EUNSUPPORTED for valid features Larder does not read), with a message like
 * "FILE: column X, row group N: problem" -- never a crash, a hang or a huge allocation.
 *
 * Writer: batches of Larder columns to a Parquet file (PLAIN or dictionary encoding,
 * SNAPPY by default, ZSTD or none, statistics, configurable row-group size), written to a
 * temporary name and renamed on close, so readers never see half a file.
 *
 * Thread-safety: a reader may be used from several threads for ldr_pq_read_row_group;
 * ldr_pq_read parallelises internally. A writer is called from one thread at a time; it
 * encodes column chunks on its own threads (ldr_pq_write_opts.threads), a few row groups
 * at a time, and writes the same bytes whatever their number.
 */
#ifndef LDR_PARQUET_PARQUET_H
#define LDR_PARQUET_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "col/col.h"
#include "core/core.h"

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct ldr_pq_reader ldr_pq_reader;

/** One top-level column as Larder sees it. */
typedef struct ldr_pq_column_info {
    const char *name;        /* top-level field name */
    ldr_type type;           /* Larder type, LDR_TYPE_INVALID when unsupported */
    const char *physical;    /* "INT64", "BYTE_ARRAY", ... (or "group" for nested) */
    const char *logical;     /* "TIMESTAMP(MICROS,true)", "STRING", "LIST<DOUBLE>", "" */
    const char *unsupported; /* why the column cannot be read, or NULL */
} ldr_pq_column_info;

/** Opens a file (memory-mapped; the mapping lives until ldr_pq_reader_close) and parses
 * its footer. Caller owns; free with ldr_pq_reader_close. NULL with err set. */
ldr_pq_reader *ldr_pq_reader_open(const char *path, ldr_err *err);
/** The same over caller-owned bytes that must stay valid until close; `name` is used in
 * messages. Pure: no I/O (the fuzz target uses this). */
ldr_pq_reader *ldr_pq_reader_open_mem(const char *name, const uint8_t *data, size_t len,
                                      ldr_err *err);
void ldr_pq_reader_close(ldr_pq_reader *r);

int64_t ldr_pq_num_rows(const ldr_pq_reader *r);
size_t ldr_pq_num_row_groups(const ldr_pq_reader *r);
size_t ldr_pq_num_columns(const ldr_pq_reader *r);
/** Column i's description. Borrowed; valid until close. */
const ldr_pq_column_info *ldr_pq_column(const ldr_pq_reader *r, size_t i);
/** Index of the top-level column named name, or -1. */
int ldr_pq_find_column(const ldr_pq_reader *r, const char *name);

/** Appends a human-readable schema (one line per column: name, Larder type, physical and
 * logical type, plus row and row-group counts and the writer) to out. */
LDR_MUST_USE ldr_code ldr_pq_schema_text(const ldr_pq_reader *r, ldr_buf *out, ldr_err *err);

/** Row-group pruning: keep only row groups whose statistics for `column` may hold values
 * in [min, max] (inclusive; Larder representation: microseconds for timestamps, integer
 * values for integer columns). Row groups without statistics are always kept. Rows of a
 * kept group are all returned (filtering rows is the caller's business). */
typedef struct ldr_pq_range {
    const char *column;
    int64_t min;
    int64_t max;
} ldr_pq_range;

typedef struct ldr_pq_read_opts {
    const char *const *columns; /* top-level names to read; NULL = all */
    size_t n_columns;
    const ldr_pq_range *ranges; /* pruning ranges, all must hold; may be NULL */
    size_t n_ranges;
    int threads;    /* decoding threads; <= 0 = one per core */
    bool keep_dict; /* leave dictionary-encoded string columns as dictionary columns */
} ldr_pq_read_opts;

ldr_pq_read_opts ldr_pq_read_opts_default(void);

/** Reads the selected columns of every kept row group into one batch (columns in the
 * order requested). Unknown names give LDR_ENOTFOUND; unsupported columns
 * LDR_EUNSUPPORTED. *out is caller-owned; free with ldr_batch_free. */
LDR_MUST_USE ldr_code ldr_pq_read(ldr_pq_reader *r, const ldr_pq_read_opts *opts, ldr_batch **out,
                                  ldr_err *err);
/** Whether row group rg may hold rows inside every range (min/max statistics; true
 * without statistics, false for a row group that does not exist). A range naming a column
 * the file lacks does not prune. */
bool ldr_pq_row_group_may_match(const ldr_pq_reader *r, size_t rg, const ldr_pq_range *ranges,
                                size_t n_ranges);

/** Reads one row group (no pruning). Thread-safe on one reader. */
LDR_MUST_USE ldr_code ldr_pq_read_row_group(ldr_pq_reader *r, size_t rg, const char *const *columns,
                                            size_t n_columns, bool keep_dict, ldr_batch **out,
                                            ldr_err *err);

/** Decoding buffers that one thread keeps across ldr_pq_read_chunk calls (decompressed
 * pages, levels, dictionary indices), so a loop over many chunks allocates, and
 * page-faults, once instead of per chunk. Caller owns; free with ldr_pq_scratch_free. One
 * per thread: a scratch is not thread-safe. */
typedef struct ldr_pq_scratch ldr_pq_scratch;

ldr_pq_scratch *ldr_pq_scratch_new(void);
/** Frees s and its buffers. NULL is a no-op. */
void ldr_pq_scratch_free(ldr_pq_scratch *s);

/** Decodes top-level column `col` (an index as for ldr_pq_column) of row group rg into
 * *inout, reusing its buffers: a plain column of the column's type (from an earlier call)
 * is emptied and refilled in place; NULL, a column of another type or a dictionary column
 * is replaced by a new column, as are string columns with keep_dict (which may come back
 * as dictionary columns, as from ldr_pq_read_row_group).
 * *inout stays caller-owned either way (free with ldr_col_free), also after an error,
 * when its contents are unspecified. A column that does not exist is LDR_EINVAL, an
 * unsupported one LDR_EUNSUPPORTED. Thread-safe on one reader with a scratch per thread. */
LDR_MUST_USE ldr_code ldr_pq_read_chunk(ldr_pq_reader *r, size_t rg, size_t col, bool keep_dict,
                                        ldr_pq_scratch *s, ldr_col **inout, ldr_err *err);

/* ---- writing ---------------------------------------------------------------------------- */

typedef enum ldr_pq_codec {
    LDR_PQ_UNCOMPRESSED = 0,
    LDR_PQ_SNAPPY = 1,
    LDR_PQ_GZIP = 2,
    LDR_PQ_BROTLI = 4,
    LDR_PQ_ZSTD = 6,
    LDR_PQ_LZ4_RAW = 7,
} ldr_pq_codec;

typedef struct ldr_pq_write_opts {
    ldr_pq_codec codec;    /* default SNAPPY */
    size_t row_group_rows; /* default 1,048,576 */
    bool dictionary;       /* dictionary-encode when it pays off (default true) */
    bool statistics;       /* min/max/null_count per chunk (default true) */
    int zstd_level;        /* default 3 */
    int threads;           /* encoding threads: 0 (default) = one per online CPU, 1 = serial;
                              the bytes written do not depend on it */
    bool no_sync;          /* skip fsync of the file and its directory (temporary files
                              such as spills, which a crash makes worthless anyway) */
} ldr_pq_write_opts;

ldr_pq_write_opts ldr_pq_write_opts_default(void);

typedef struct ldr_pq_writer ldr_pq_writer;

/** Starts a file with the given schema (names and Larder types). Writes to a temporary
 * file next to path. Caller owns; finish with ldr_pq_writer_close or _abort. */
ldr_pq_writer *ldr_pq_writer_open(const char *path, const char *const *names, const ldr_type *types,
                                  size_t n_cols, const ldr_pq_write_opts *opts, ldr_err *err);
/** Appends a batch whose columns match the schema by position and type. */
LDR_MUST_USE ldr_code ldr_pq_writer_write(ldr_pq_writer *w, const ldr_batch *b, ldr_err *err);
/** Flushes, writes the footer, fsyncs and renames the file into place; frees w. */
LDR_MUST_USE ldr_code ldr_pq_writer_close(ldr_pq_writer *w, ldr_err *err);
/** Discards the temporary file; frees w. NULL is a no-op. */
void ldr_pq_writer_abort(ldr_pq_writer *w);

/** Convenience: one batch to one file. */
LDR_MUST_USE ldr_code ldr_pq_write_file(const char *path, const ldr_batch *b,
                                        const ldr_pq_write_opts *opts, ldr_err *err);

#endif /* LDR_PARQUET_PARQUET_H */
