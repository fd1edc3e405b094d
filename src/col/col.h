/*
 * col.h -- the columnar core: typed columns and record batches shared by the Parquet and
 * CSV readers and writers, the point-in-time join, and (later) materialization and
 * statistics.
 *
 * Physical layout per ldr_type (one value model with ldr_value, see core.h):
 *   Int32            int32_t[n]          Float32  float[n]       Bool  uint8_t[n] (0/1)
 *   Int64            int64_t[n]          Float64  double[n]
 *   UnixTimestamp    int64_t[n], microseconds since the UTC epoch
 *   String, Bytes    offsets int64_t[n+1] into bytes[] (strings are UTF-8, not checked)
 *   Array(T)         offsets int64_t[n+1] into `child`, a column of T with its own validity
 * A *dictionary* column (dict != NULL) stores int32_t indices in data[] and its values in
 * `dict` (a plain column of the same scalar type): Parquet dictionaries and CSV strings
 * stay compact until someone needs the values. Accessors resolve dictionaries.
 * Validity: `valid` is a bitmap (bit i of byte i/8 set = row i present); NULL means every
 * row is present. A null row still occupies a slot (zero, or an empty string/list).
 *
 * Ownership: a column owns its buffers (64-byte aligned), its child and its dictionary; a
 * batch owns its columns and names. Reads are thread-safe; appends are not.
 * Memory policy: growth aborts on OOM (core's rule); sizes taken from untrusted input must
 * be checked by the caller before they reach ldr_col_reserve*.
 */
#ifndef LDR_COL_COL_H
#define LDR_COL_COL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct ldr_col {
    ldr_type type;
    size_t n;          /* rows */
    size_t cap;        /* rows the buffers can hold */
    size_t null_count; /* rows with the validity bit clear */
    uint8_t *valid;    /* validity bitmap, or NULL = all valid */
    void *data;        /* fixed-width values, or int32_t indices when dict != NULL */
    int64_t *offsets;  /* String/Bytes/list types: n+1 offsets (offsets[0] == 0) */
    uint8_t *bytes;    /* String/Bytes payload */
    size_t bytes_len;
    size_t bytes_cap;
    struct ldr_col *child; /* list types: the element column */
    struct ldr_col *dict;  /* dictionary values, or NULL */
} ldr_col;

/** Bytes per value of a fixed-width scalar type (0 for String/Bytes and lists). */
size_t ldr_type_width(ldr_type t);

/** A new empty column with room for cap rows. Caller owns; free with ldr_col_free. For a
 * list type the element column is created too. */
ldr_col *ldr_col_new(ldr_type t, size_t cap);
/** A new empty dictionary column over `dict` (ownership of dict moves to the column);
 * dict's type must be the scalar type t. */
ldr_col *ldr_col_new_dict(ldr_type t, ldr_col *dict, size_t cap);
/** Frees the column, its child and dictionary. NULL is a no-op. */
void ldr_col_free(ldr_col *c);

/** Ensures room for `rows` more rows / `len` more payload bytes. */
void ldr_col_reserve(ldr_col *c, size_t rows);
void ldr_col_reserve_bytes(ldr_col *c, size_t len);

/* Appends. The typed appenders assert the column's type (a bug otherwise). */
void ldr_col_append_null(ldr_col *c);
void ldr_col_append_i32(ldr_col *c, int32_t v);
void ldr_col_append_i64(ldr_col *c, int64_t v); /* Int64 and UnixTimestamp */
void ldr_col_append_f32(ldr_col *c, float v);
void ldr_col_append_f64(ldr_col *c, double v);
void ldr_col_append_bool(ldr_col *c, bool v);
void ldr_col_append_str(ldr_col *c, const void *ptr, size_t len); /* String and Bytes */
/** Dictionary columns: appends a row holding dictionary entry `index` (asserted in range). */
void ldr_col_append_index(ldr_col *c, int32_t index);
/** List columns: closes a row whose elements were appended to c->child since the previous
 * row (zero elements = an empty list). */
void ldr_col_append_list(ldr_col *c);
/** Appends a value of the column's type (nulls included; lists recursively). */
void ldr_col_append_value(ldr_col *c, const ldr_value *v);
/** Appends row `row` of src, which must have the same type (either may use a dictionary). */
void ldr_col_append_row(ldr_col *dst, const ldr_col *src, size_t row);

/** Marks the validity of row i (allocating the bitmap on the first null). Used by decoders
 * that fill data[] directly after ldr_col_reserve, then set n. */
void ldr_col_set_valid(ldr_col *c, size_t i, bool valid);

/** The validity bitmap, created (every row valid) when the column has none: for decoders
 * that fill data[] directly and clear the bits of null rows in bulk; they must add those
 * rows to null_count themselves. Bits of rows n..cap-1 are set. Borrowed; valid until the
 * column grows or is freed. */
uint8_t *ldr_col_valid_bits(ldr_col *c);

/** Empties a plain (non-dictionary) column, keeping its buffers, so that a loop refilling
 * it (e.g. one row group after another) allocates and page-faults only once. */
void ldr_col_clear(ldr_col *c);

/**
 * A new column with rows[i] of src for each i (rows[i] < 0 gives a null): the gather at
 * the heart of joins. Dictionary columns stay dictionary columns sharing a copy of the
 * dictionary. Caller owns; free with ldr_col_free.
 */
ldr_col *ldr_col_take(const ldr_col *src, const int64_t *rows, size_t n);
/** Replaces a dictionary column's indices by the values, in place. No-op otherwise. */
void ldr_col_decode_dict(ldr_col *c);

/* ---- access --------------------------------------------------------------------------- */

static inline bool ldr_col_valid(const ldr_col *c, size_t i)
{
    return !c->valid || (c->valid[i >> 3] >> (i & 7)) & 1;
}

/** The storage row of row i: i itself, or the dictionary entry for dictionary columns. */
static inline size_t ldr_col_slot(const ldr_col *c, size_t i)
{
    return c->dict ? (size_t)((const int32_t *)c->data)[i] : i;
}

/* Typed reads of row i (valid rows only). */
static inline int32_t ldr_col_i32(const ldr_col *c, size_t i)
{
    const ldr_col *s = c->dict ? c->dict : c;
    return ((const int32_t *)s->data)[ldr_col_slot(c, i)];
}
static inline int64_t ldr_col_i64(const ldr_col *c, size_t i)
{
    const ldr_col *s = c->dict ? c->dict : c;
    return ((const int64_t *)s->data)[ldr_col_slot(c, i)];
}
static inline float ldr_col_f32(const ldr_col *c, size_t i)
{
    const ldr_col *s = c->dict ? c->dict : c;
    return ((const float *)s->data)[ldr_col_slot(c, i)];
}
static inline double ldr_col_f64(const ldr_col *c, size_t i)
{
    const ldr_col *s = c->dict ? c->dict : c;
    return ((const double *)s->data)[ldr_col_slot(c, i)];
}
static inline bool ldr_col_bool(const ldr_col *c, size_t i)
{
    const ldr_col *s = c->dict ? c->dict : c;
    return ((const uint8_t *)s->data)[ldr_col_slot(c, i)] != 0;
}
/** String/Bytes row i: pointer (borrowed from the column) and length. */
static inline const char *ldr_col_str(const ldr_col *c, size_t i, size_t *out_len)
{
    const ldr_col *s = c->dict ? c->dict : c;
    size_t k = ldr_col_slot(c, i);
    *out_len = (size_t)(s->offsets[k + 1] - s->offsets[k]);
    return (const char *)s->bytes + s->offsets[k];
}
/** List row i: the element range [*out_begin, *out_end) of c->child. */
static inline void ldr_col_list(const ldr_col *c, size_t i, size_t *out_begin, size_t *out_end)
{
    *out_begin = (size_t)c->offsets[i];
    *out_end = (size_t)c->offsets[i + 1];
}

/** Row i as an ldr_value. Scalars and strings borrow from the column; list items are
 * allocated from `a`. */
void ldr_col_get(const ldr_col *c, size_t i, ldr_arena *a, ldr_value *out);
/** Hash of row i's value (type-aware; equal values hash equal; nulls hash to one value). */
uint64_t ldr_col_hash(const ldr_col *c, size_t i);
/** Row equality across two columns of the same type (null == null). */
bool ldr_col_eq(const ldr_col *a, size_t i, const ldr_col *b, size_t j);

/* ---- record batches ------------------------------------------------------------------- */

typedef struct ldr_batch {
    size_t n_rows;
    size_t n_cols;
    size_t cap_cols;
    char **names;   /* owned */
    ldr_col **cols; /* owned */
} ldr_batch;

/** A new empty batch. Caller owns; free with ldr_batch_free. */
ldr_batch *ldr_batch_new(void);
void ldr_batch_free(ldr_batch *b);
/** Adds a column (ownership moves to the batch). The first column sets n_rows; later ones
 * must have the same row count (asserted). */
void ldr_batch_add(ldr_batch *b, const char *name, ldr_col *col);
/** Index of the column named name, or -1. */
int ldr_batch_find(const ldr_batch *b, const char *name);
/** Removes column i and returns it (caller owns). */
ldr_col *ldr_batch_remove(ldr_batch *b, size_t i);
/** Renames column i. */
void ldr_batch_rename(ldr_batch *b, size_t i, const char *name);
/**
 * Appends the rows of src to dst. Columns are matched by name and must have the same
 * types; dst must have exactly src's column names (else LDR_EINVAL naming the column).
 */
LDR_MUST_USE ldr_code ldr_batch_append(ldr_batch *dst, const ldr_batch *src, ldr_err *err);

#endif /* LDR_COL_COL_H */
