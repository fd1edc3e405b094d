/*
 * thrift_write.c -- the Thrift compact-protocol encoder of the Parquet writer (interface
 * and error model in thrift_write.h). Integers are zigzag varints, binary is a varint
 * length plus bytes, booleans in structs live in the field header's type nibble, and a
 * field header is one byte `delta << 4 | type` when the id grows by 1..15 from the previous
 * field of the same struct (the long form, type byte then zigzag i16 id, otherwise).
 * Output goes straight to the caller's ldr_buf; nothing else is allocated. Reentrant.
 */
#include "parquet/thrift_write.h"

#include <string.h>

enum {
    T_STOP = 0,
    T_TRUE = 1,
    T_FALSE = 2,
    T_I16 = 4,
    T_I32 = 5,
    T_I64 = 6,
    T_BINARY = 8,
    T_LIST = 9,
    T_STRUCT = 12,
};

void ldr__pq_tw_init(ldr__pq_tw *t, ldr_buf *out, ldr_err *err)
{
    t->out = out;
    t->err = err;
    t->rc = LDR_OK;
    t->depth = 0;
}

ldr_code ldr__pq_tw_status(const ldr__pq_tw *t)
{
    return t->rc;
}

static void put(ldr__pq_tw *t, const void *p, size_t len)
{
    if (t->rc == LDR_OK)
        t->rc = ldr_buf_append(t->out, p, len, t->err);
}

static void put_varint(ldr__pq_tw *t, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    put(t, b, n);
}

static void put_zigzag(ldr__pq_tw *t, int64_t v)
{
    uint64_t u = (uint64_t)v;
    put_varint(t, (u << 1) ^ (0 - (u >> 63)));
}

static void field(ldr__pq_tw *t, int16_t id, uint8_t type)
{
    LDR_ASSERT(t->depth > 0);
    int16_t *last = &t->last[t->depth - 1];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        uint8_t b = (uint8_t)(delta << 4 | type);
        put(t, &b, 1);
    } else {
        put(t, &type, 1);
        put_zigzag(t, id);
    }
    *last = id;
}

static void push(ldr__pq_tw *t)
{
    LDR_ASSERT(t->depth < LDR__PQ_TW_MAX_DEPTH);
    t->last[t->depth++] = 0;
}

void ldr__pq_tw_i16(ldr__pq_tw *t, int16_t id, int16_t v)
{
    field(t, id, T_I16);
    put_zigzag(t, v);
}

void ldr__pq_tw_i32(ldr__pq_tw *t, int16_t id, int32_t v)
{
    field(t, id, T_I32);
    put_zigzag(t, v);
}

void ldr__pq_tw_i64(ldr__pq_tw *t, int16_t id, int64_t v)
{
    field(t, id, T_I64);
    put_zigzag(t, v);
}

void ldr__pq_tw_bool(ldr__pq_tw *t, int16_t id, bool v)
{
    field(t, id, v ? T_TRUE : T_FALSE);
}

void ldr__pq_tw_binary(ldr__pq_tw *t, int16_t id, const void *p, size_t len)
{
    field(t, id, T_BINARY);
    put_varint(t, len);
    put(t, p, len);
}

void ldr__pq_tw_string(ldr__pq_tw *t, int16_t id, const char *s)
{
    ldr__pq_tw_binary(t, id, s, strlen(s));
}

void ldr__pq_tw_struct_begin(ldr__pq_tw *t, int16_t id)
{
    field(t, id, T_STRUCT);
    push(t);
}

void ldr__pq_tw_list_begin(ldr__pq_tw *t, int16_t id, uint8_t elem_type, size_t n)
{
    field(t, id, T_LIST);
    if (n < 15) {
        uint8_t b = (uint8_t)(n << 4 | elem_type);
        put(t, &b, 1);
    } else {
        uint8_t b = (uint8_t)(0xf0 | elem_type);
        put(t, &b, 1);
        put_varint(t, n);
    }
}

void ldr__pq_tw_open(ldr__pq_tw *t)
{
    push(t);
}

void ldr__pq_tw_end(ldr__pq_tw *t)
{
    LDR_ASSERT(t->depth > 0);
    uint8_t stop = T_STOP;
    put(t, &stop, 1);
    t->depth--;
}

void ldr__pq_tw_elem_i32(ldr__pq_tw *t, int32_t v)
{
    put_zigzag(t, v);
}

void ldr__pq_tw_elem_string(ldr__pq_tw *t, const char *s)
{
    size_t len = strlen(s);
    put_varint(t, len);
    put(t, s, len);
}

void ldr__pq_tw_raw(ldr__pq_tw *t, const void *p, size_t len)
{
    put(t, p, len);
}
