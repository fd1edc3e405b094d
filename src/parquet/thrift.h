/*
 * thrift.h -- a bounded decoder for the Thrift compact protocol (parquet/thrift.c), used
 * by meta.c for the footer (FileMetaData) and page headers. Private to src/parquet.
 *
 * The decoder is a cursor over [p, end): every read checks the bytes that remain, varints
 * are limited to 10 bytes (5 for 32-bit values) and to the width of their type, strings
 * and containers are checked against the remaining bytes and against caps, and nesting
 * (structs, lists, maps, skipped values) is limited to LDR__PQ_TR_MAX_DEPTH. Unknown
 * fields, and known fields with an unexpected wire type, are skipped -- the readers of
 * typed fields (ldr__pq_tr_i32, ...) do that themselves and report whether they read a
 * value, so struct parsers can track required fields.
 *
 * Errors are LDR_ECORRUPT with a short message naming the byte offset ("Thrift varint
 * too long at byte 17"); callers prefix file and context. Pure and reentrant: no
 * allocation, no global state.
 */
#ifndef LDR_PARQUET_THRIFT_H
#define LDR_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define LDR__PQ_TR_MAX_DEPTH     64
#define LDR__PQ_TR_MAX_BINARY    (100u * 1000u * 1000u) /* bytes of one string/binary */
#define LDR__PQ_TR_MAX_CONTAINER (1000u * 1000u)        /* elements of one list/set/map */

/* Wire types (low nibble of a field header, or a list's element type). */
enum {
    LDR__PQ_T_STOP = 0,
    LDR__PQ_T_TRUE = 1,
    LDR__PQ_T_FALSE = 2,
    LDR__PQ_T_I8 = 3,
    LDR__PQ_T_I16 = 4,
    LDR__PQ_T_I32 = 5,
    LDR__PQ_T_I64 = 6,
    LDR__PQ_T_DOUBLE = 7,
    LDR__PQ_T_BINARY = 8,
    LDR__PQ_T_LIST = 9,
    LDR__PQ_T_SET = 10,
    LDR__PQ_T_MAP = 11,
    LDR__PQ_T_STRUCT = 12,
    LDR__PQ_T_UUID = 13,
};

/** A cursor over compact-protocol bytes. Plain data: keep it on the stack. */
typedef struct ldr__pq_tr {
    const uint8_t *start; /* for offsets in messages */
    const uint8_t *p;
    const uint8_t *end;
    unsigned depth; /* structs and containers currently open */
} ldr__pq_tr;

void ldr__pq_tr_init(ldr__pq_tr *t, const uint8_t *p, size_t len);
/** Bytes consumed so far. */
size_t ldr__pq_tr_pos(const ldr__pq_tr *t);

/** Enters a struct (depth check). Every successful call is paired with _struct_end. */
LDR_MUST_USE ldr_code ldr__pq_tr_struct_begin(ldr__pq_tr *t, ldr_err *err);
void ldr__pq_tr_struct_end(ldr__pq_tr *t);

/**
 * Reads a field header inside a struct. *last is the previous field id of this struct
 * (start at 0). On STOP, *type is LDR__PQ_T_STOP and *id 0. Bool fields carry their value
 * in the type (TRUE/FALSE); use ldr__pq_tr_bool to read it.
 */
LDR_MUST_USE ldr_code ldr__pq_tr_field(ldr__pq_tr *t, int16_t *last, int16_t *id, unsigned *type,
                                       ldr_err *err);
/** Skips one value of the given wire type (recursively for containers and structs). */
LDR_MUST_USE ldr_code ldr__pq_tr_skip(ldr__pq_tr *t, unsigned type, ldr_err *err);

/*
 * Typed field values. Each takes the field's wire type: when it is the expected one the
 * value is read and *got set; otherwise the value is skipped and *got left unchanged.
 */
LDR_MUST_USE ldr_code ldr__pq_tr_i8(ldr__pq_tr *t, unsigned type, int8_t *out, bool *got,
                                    ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_i16(ldr__pq_tr *t, unsigned type, int16_t *out, bool *got,
                                     ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_i32(ldr__pq_tr *t, unsigned type, int32_t *out, bool *got,
                                     ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_i64(ldr__pq_tr *t, unsigned type, int64_t *out, bool *got,
                                     ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_bool(ldr__pq_tr *t, unsigned type, bool *out, bool *got,
                                      ldr_err *err);
/** A binary/string field: *out points into the input (borrowed), *out_len its length. */
LDR_MUST_USE ldr_code ldr__pq_tr_binary(ldr__pq_tr *t, unsigned type, const uint8_t **out,
                                        size_t *out_len, bool *got, ldr_err *err);
/**
 * A list (or set) field whose elements should have wire type `elem`: reads the header and
 * sets *out_n (checked against the remaining bytes and LDR__PQ_TR_MAX_CONTAINER); the
 * caller then reads exactly *out_n elements with the _elem_ readers below (or structs),
 * and calls ldr__pq_tr_list_end. When the field or its element type differs, the whole
 * list is skipped and *got stays false (no _list_end then). Bool elements: elem
 * LDR__PQ_T_TRUE matches element types 1 and 2.
 */
LDR_MUST_USE ldr_code ldr__pq_tr_list(ldr__pq_tr *t, unsigned type, unsigned elem, size_t *out_n,
                                      bool *got, ldr_err *err);
void ldr__pq_tr_list_end(ldr__pq_tr *t);

/* List elements (no wire type check: ldr__pq_tr_list did it). */
LDR_MUST_USE ldr_code ldr__pq_tr_elem_i32(ldr__pq_tr *t, int32_t *out, ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_elem_i64(ldr__pq_tr *t, int64_t *out, ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_elem_bool(ldr__pq_tr *t, bool *out, ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_tr_elem_binary(ldr__pq_tr *t, const uint8_t **out, size_t *out_len,
                                             ldr_err *err);

#endif /* LDR_PARQUET_THRIFT_H */
