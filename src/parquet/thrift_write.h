/*
 * thrift_write.h -- the writer's Thrift compact-protocol encoder (thrift_write.c), private
 * to writer.c: the reader has its own bounded decoder (thrift.h). Wire format:
 * ../shared/reference/parquet-format.md §2.
 *
 * A ldr__pq_tw appends to a caller-owned ldr_buf. Structs are written field by field in
 * ascending id order (short-form field headers carry the delta from the previous id of
 * the same struct; a stack keeps each open struct's last id). Errors (only the buffer's
 * LDR_ELIMIT) are sticky: the first one is kept in the encoder and every later call is a
 * no-op, so callers write a whole struct and check ldr__pq_tw_status once.
 * Nesting deeper than LDR__PQ_TW_MAX_DEPTH is a bug (asserted). Not thread-safe; one
 * encoder per buffer.
 */
#ifndef LDR_PARQUET_THRIFT_WRITE_H
#define LDR_PARQUET_THRIFT_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define LDR__PQ_TW_MAX_DEPTH 16

/* Compact-protocol element types, for list headers. */
enum {
    LDR__PQ_TW_BOOL = 1,
    LDR__PQ_TW_I32 = 5,
    LDR__PQ_TW_I64 = 6,
    LDR__PQ_TW_BINARY = 8,
    LDR__PQ_TW_STRUCT = 12,
};

typedef struct ldr__pq_tw {
    ldr_buf *out;
    ldr_err *err;
    ldr_code rc;  /* the first error, sticky */
    size_t depth; /* open structs */
    int16_t last[LDR__PQ_TW_MAX_DEPTH];
} ldr__pq_tw;

/** Starts encoding at the end of out (borrowed; must outlive the encoder). */
void ldr__pq_tw_init(ldr__pq_tw *t, ldr_buf *out, ldr_err *err);
/** LDR_OK, or the first error met (err was filled then). */
LDR_MUST_USE ldr_code ldr__pq_tw_status(const ldr__pq_tw *t);

/* Struct fields. */
void ldr__pq_tw_i16(ldr__pq_tw *t, int16_t id, int16_t v);
void ldr__pq_tw_i32(ldr__pq_tw *t, int16_t id, int32_t v);
void ldr__pq_tw_i64(ldr__pq_tw *t, int16_t id, int64_t v);
void ldr__pq_tw_bool(ldr__pq_tw *t, int16_t id, bool v);
void ldr__pq_tw_binary(ldr__pq_tw *t, int16_t id, const void *p, size_t len);
void ldr__pq_tw_string(ldr__pq_tw *t, int16_t id, const char *s);
/** A struct-typed field: writes its header and opens the struct. */
void ldr__pq_tw_struct_begin(ldr__pq_tw *t, int16_t id);
/** A list-typed field of n elements of elem_type; the elements follow. */
void ldr__pq_tw_list_begin(ldr__pq_tw *t, int16_t id, uint8_t elem_type, size_t n);

/* Structs without a field header: the top-level struct and list elements. */
void ldr__pq_tw_open(ldr__pq_tw *t);
/** Closes the innermost open struct (writes STOP). */
void ldr__pq_tw_end(ldr__pq_tw *t);

/* List elements. */
void ldr__pq_tw_elem_i32(ldr__pq_tw *t, int32_t v);
void ldr__pq_tw_elem_string(ldr__pq_tw *t, const char *s);
/** Bytes already encoded with this protocol (for example whole structs of a list). */
void ldr__pq_tw_raw(ldr__pq_tw *t, const void *p, size_t len);

#endif /* LDR_PARQUET_THRIFT_WRITE_H */
