/*
 * csv.h -- the CSV reader and the CSV / JSON Lines writers over record batches (col.h).
 *
 * Reader: RFC 4180 text (quoted fields with "" escapes, embedded delimiters and newlines,
 * CRLF / LF / CR line ends, optional trailing newline, UTF-8 BOM skipped) with a required
 * header row, parsed in one pass straight into typed columns. Columns come from a schema
 * (names and types), from type inference, or both (see ldr_csv_read_opts). Every problem
 * is an error naming the place: "FILE:LINE: ..." or "FILE:LINE:COL: ..." (1-based; COL
 * counts bytes from the start of the physical line). Untrusted sizes are bounded (field
 * bytes, columns, rows) and fail with LDR_ELIMIT; hostile input never crashes.
 * Writers: CSV (header + RFC 4180 quoting only where needed) and JSON Lines, whole
 * batches or streamed batch after batch; text forms are listed at each function.
 * The one lossy corner is documented at ldr_csv_write_rows: in CSV an empty string and a
 * null are the same empty field, and the reader returns null.
 * Ownership: batches returned are owned by the caller; inputs are borrowed and may be
 * released when the call returns. Thread-safety: every function is reentrant.
 */
#ifndef LDR_CSV_CSV_H
#define LDR_CSV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "col/col.h"
#include "core/core.h"

#define LDR_CSV_MAX_FIELD_BYTES_DEFAULT ((size_t)16 << 20) /* 16 MiB per field */
#define LDR_CSV_MAX_COLUMNS_DEFAULT     ((size_t)65536)

/**
 * Options of the CSV reader; start from ldr_csv_read_opts_default(). Zero in a limit
 * means its default (max_rows: no limit), so a zero-initialised struct is valid too.
 *
 * Which columns are read, in which order, with which types:
 *  - n == 0 (no schema): every column, in file order. Types are inferred when `infer`,
 *    else every column is String.
 *  - schema (names[0..n), types[0..n) or types == NULL), all_columns false: only those
 *    columns, in schema order; the other columns are skipped without being converted or
 *    copied. all_columns true: every column in file order, schema columns with their
 *    schema type, the others inferred (infer) or String (!infer) -- for entity files,
 *    whose key columns get the entity's type while label columns pass through.
 *  - A schema column missing from the header is LDR_EINVAL
 *    "FILE: missing column 'x' (header has: a, b, c)". A schema type of
 *    LDR_TYPE_INVALID (or types == NULL) means "infer" (or String when !infer).
 *
 * Inference looks at every non-empty value of the column (spaces and tabs around values
 * ignored) and picks the first that fits all of them: Int64 (decimal integers that fit),
 * Float64 (decimal numbers, "nan"/"inf"/"infinity" allowed when at least one value is an
 * ordinary number), Bool (true/false in any case; 1/0 infer as Int64), UnixTimestamp
 * (ISO 8601 / RFC 3339 with a date, "2024-01-02", "2024-01-02T03:04:05+02:00", naive =
 * UTC; bare integers stay Int64), else String. A column without values is String.
 */
typedef struct ldr_csv_read_opts {
    const char *const *names; /* schema column names, or NULL when n == 0 */
    const ldr_type *types;    /* n types (LDR_TYPE_INVALID = infer), or NULL = all infer */
    size_t n;                 /* schema columns */
    bool infer;               /* infer the types of columns without a schema type */
    bool all_columns;         /* with a schema: read the other columns too (file order) */
    char delimiter;           /* field separator; 0 = ','. Not '"', '\r' or '\n' */
    size_t max_field_bytes;   /* longest field in bytes; 0 = LDR_CSV_MAX_FIELD_BYTES_DEFAULT */
    size_t max_rows;          /* most data rows; 0 = no limit */
    size_t max_columns;       /* most header columns; 0 = LDR_CSV_MAX_COLUMNS_DEFAULT */
    /* Only the data records of one range from ldr_csv_split_file (the header is still read
     * from the start): range_end == 0 reads every record. Inferred types would depend on
     * the range: give a schema type to every column read this way. */
    uint64_t range_begin, range_end;
    size_t range_line; /* the physical line of range_begin, for messages */
} ldr_csv_read_opts;

/** A run of whole data records of a CSV file: bytes [begin, end), starting at `line`. */
typedef struct ldr_csv_range {
    uint64_t begin, end;
    size_t line;
} ldr_csv_range;

/**
 * Cuts the data records of the CSV file at path into ranges of about target_bytes each,
 * only at record boundaries, for reading the ranges separately (and in parallel) with
 * ldr_csv_read_opts.range_*. A file without quotes or CRs is cut by looking for the next
 * LF after each target offset (memchr: a few ms per 100 MB); any other file is walked by
 * the lexer, quotes and all. One range covers everything when the file is smaller than
 * 2 * target_bytes, is not a regular file, or is malformed (reading it reports the error).
 * *out: caller frees with ldr_free; *n >= 1. Errors: LDR_ENOTFOUND, LDR_EIO.
 */
LDR_MUST_USE ldr_code ldr_csv_split_file(const char *path, const ldr_csv_read_opts *opts,
                                         size_t target_bytes, ldr_csv_range **out, size_t *n,
                                         ldr_err *err);

/** ldr_csv_split_file of the text data[0..len): the ranges for ldr_csv_read_mem. Cannot
 * fail; *out: caller frees with ldr_free; *n >= 1. */
void ldr_csv_split_mem(const char *data, size_t len, const ldr_csv_read_opts *opts,
                       size_t target_bytes, ldr_csv_range **out, size_t *n);

/** No schema (every column), infer = true, all_columns = false (so a schema set later reads
 * just its columns), ',' and the default limits. */
ldr_csv_read_opts ldr_csv_read_opts_default(void);

/**
 * Reads CSV text data[0..len) into a new batch. `name` (a file name) starts every message.
 *
 * Text rules: the first non-blank line is the header (required: an input without one is
 * "FILE: empty file: a header row is required"); header names are taken verbatim, an
 * empty name becomes "column<N>" (N = 1-based position); a repeated name or a NUL byte in
 * a name is an error.
 * Blank lines (no bytes at all between line ends) are skipped everywhere. Every row must
 * have as many fields as the header ("FILE:LINE: expected N fields, got M"). An empty
 * field -- unquoted, or quoted "" -- is null, for every type including String. Strings
 * and Bytes are taken verbatim (no trimming, any bytes including NUL); other types
 * ignore spaces and tabs around the value, convert with ldr_value_from_text (integers
 * range-checked, floats incl. nan/inf, bools true/false/1/0, timestamps RFC 3339 or
 * integer epoch seconds, lists "[1, 2]" in JSON-like form) and report
 * "FILE:LINE: column 'x': invalid Int64 \"abc\": not an integer". Inside a quoted field a
 * quote is written ""; a quote followed by anything but a delimiter or a line end is
 * "FILE:LINE:COL: unexpected character after closing quote"; an unclosed quote is
 * "FILE:LINE:COL: unterminated quoted field" (at the opening quote). A quote inside an
 * unquoted field is an ordinary character (5'11").
 *
 * Errors: LDR_EINVAL for malformed input or options, LDR_ELIMIT when a field, the
 * header or the row count passes its limit. On success *out is a new batch (caller owns;
 * free with ldr_batch_free) that does not borrow from data; on failure *out is NULL.
 */
LDR_MUST_USE ldr_code ldr_csv_read_mem(const char *name, const char *data, size_t len,
                                       const ldr_csv_read_opts *opts, ldr_batch **out,
                                       ldr_err *err);

/**
 * Reads the CSV file at path (memory-mapped when it is a regular file, read otherwise,
 * e.g. a pipe) as ldr_csv_read_mem does, with the path in messages. Errors as there,
 * plus LDR_ENOTFOUND (no such file) and LDR_EIO (other system errors, sys_errno set).
 * The file must not be truncated while it is read (the mapping would fault).
 */
LDR_MUST_USE ldr_code ldr_csv_read_file(const char *path, const ldr_csv_read_opts *opts,
                                        ldr_batch **out, ldr_err *err);

/* ---- writing ---------------------------------------------------------------------------- */

/**
 * Appends the CSV text of one cell, unquoted, to out: nothing for null; integers in
 * decimal; floats in shortest round-trip form (ldr_fmt_float/ldr_fmt_double: "1.0",
 * "0.1", "1e+20", "nan", "inf", "-inf"); bools true/false; timestamps RFC 3339 UTC with
 * "Z" (ldr_ts_format); strings and bytes verbatim (bytes are not encoded: the reader
 * reads Bytes verbatim, so they round-trip); lists as JSON-like arrays ("[1, 2]",
 * "[\"a\", null]", bytes elements with \u00XX escapes), the form ldr_value_to_text
 * writes and ldr_value_from_text reads. Dictionary columns are resolved.
 * Errors: LDR_ELIMIT when out's maximum is reached.
 */
LDR_MUST_USE ldr_code ldr_csv_format_value(const ldr_col *c, size_t row, ldr_buf *out,
                                           ldr_err *err);

/**
 * Appends the JSON text of one cell to out: null; integers as numbers (Int64 beyond
 * 2^53 loses precision in JavaScript readers, as in every JSON writer); floats as
 * numbers in shortest round-trip form, NaN and +-Inf as null (JSON has no such numbers);
 * bools; timestamps as RFC 3339 UTC strings; strings as JSON strings (invalid UTF-8
 * bytes are replaced by U+FFFD so the output is always valid JSON); bytes as base64
 * strings (RFC 4648, padded); lists as arrays of these. Errors: LDR_ELIMIT from out.
 */
LDR_MUST_USE ldr_code ldr_json_format_value(const ldr_col *c, size_t row, ldr_buf *out,
                                            ldr_err *err);
/** Appends s as a strict JSON string, quotes included (invalid UTF-8 bytes become
 * U+FFFD, control characters are escaped). Errors: LDR_ELIMIT from out. */
LDR_MUST_USE ldr_code ldr_json_put_string(ldr_buf *out, const char *s, size_t len, ldr_err *err);
/** Appends bytes as a padded base64 (RFC 4648) JSON string, quotes included. */
LDR_MUST_USE ldr_code ldr_json_put_base64(ldr_buf *out, const void *s, size_t len, ldr_err *err);
/** Appends v in decimal (as printf's %lld, without printf). Errors: LDR_ELIMIT from out. */
LDR_MUST_USE ldr_code ldr_json_put_i64(ldr_buf *out, int64_t v, ldr_err *err);

/**
 * Writes a CSV header row (names quoted only where needed, "\n" line end). With
 * ldr_csv_write_rows, lets a caller stream batch after batch under one header.
 * Errors: LDR_EIO when writing fails (sys_errno set).
 */
LDR_MUST_USE ldr_code ldr_csv_write_header(const char *const *names, size_t n, FILE *out,
                                           ldr_err *err);

/**
 * Writes every row of b as CSV (no header), one "\n"-terminated line per row, cells as
 * ldr_csv_format_value. A field is quoted only when it must be -- it contains the
 * delimiter ',', a quote, CR or LF, starts or ends with a space or tab (so trimming
 * readers keep it), or starts with a UTF-8 BOM -- and quotes inside are doubled.
 * Null is an empty field; so is the empty string, which therefore reads back as null
 * (CSV cannot tell them apart). In a one-column batch an empty field would be a blank
 * line, which readers skip, so it is written as "" there.
 * Errors: LDR_EIO when writing fails (sys_errno set). Output goes through a 64 KiB
 * buffer: one fwrite per buffer.
 */
LDR_MUST_USE ldr_code ldr_csv_write_rows(const ldr_batch *b, FILE *out, ldr_err *err);

/** ldr_csv_write_header with b's names, then ldr_csv_write_rows. */
LDR_MUST_USE ldr_code ldr_csv_write_batch(const ldr_batch *b, FILE *out, ldr_err *err);

/**
 * Writes every row of b as one compact JSON object per line ({"a":1,"b":null}), keys in
 * column order, values as ldr_json_format_value. JSON Lines has no header, so streaming
 * is calling this per batch. Errors: LDR_EIO when writing fails.
 */
LDR_MUST_USE ldr_code ldr_jsonl_write_rows(const ldr_batch *b, FILE *out, ldr_err *err);

/** The same as ldr_jsonl_write_rows (named for symmetry with ldr_csv_write_batch). */
LDR_MUST_USE ldr_code ldr_jsonl_write_batch(const ldr_batch *b, FILE *out, ldr_err *err);

#endif /* LDR_CSV_CSV_H */
