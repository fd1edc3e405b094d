/*
 * online_int.h -- private helpers shared by the online module's files: a bounds-checked
 * little-endian byte reader for stored bytes (keys, rows) and little-endian writers.
 *
 * The reader never reads past `len`: every get checks the remaining length first and
 * reports false, leaving the caller to fill the error with `pos` for context. Nothing
 * outside src/online/ includes this header.
 */
#ifndef LDR_ONLINE_ONLINE_INT_H
#define LDR_ONLINE_ONLINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "online/online.h"

typedef struct ldr__online_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
} ldr__online_rd;

static inline size_t ldr__online_rd_left(const ldr__online_rd *r)
{
    return r->len - r->pos;
}

static inline bool ldr__online_rd_u32(ldr__online_rd *r, uint32_t *out)
{
    if (ldr__online_rd_left(r) < 4)
        return false;
    const uint8_t *b = r->p + r->pos;
    *out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->pos += 4;
    return true;
}

static inline bool ldr__online_rd_u64(ldr__online_rd *r, uint64_t *out)
{
    if (ldr__online_rd_left(r) < 8)
        return false;
    const uint8_t *b = r->p + r->pos;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    *out = v;
    r->pos += 8;
    return true;
}

/* Borrows n bytes of the input. */
static inline bool ldr__online_rd_bytes(ldr__online_rd *r, size_t n, const uint8_t **out)
{
    if (ldr__online_rd_left(r) < n)
        return false;
    *out = r->p + r->pos;
    r->pos += n;
    return true;
}

static inline void ldr__online_le32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline void ldr__online_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* Protobuf-style varints (the row codec's and the Redis Values'): v into b (at most 10
 * bytes), returning the count. */
static inline size_t ldr__online_varint_put(uint8_t *b, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return n;
}

static inline size_t ldr__online_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Reads a varint of at most 10 bytes; false on truncation or a value past 64 bits. */
static inline bool ldr__online_rd_varint(ldr__online_rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (ldr__online_rd_left(r) == 0)
            return false;
        uint8_t b = r->p[r->pos++];
        if (i == 9 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Drops what was appended to b after its length was `len` (error paths keep a buffer's
 * previous content). */
static inline void ldr__online_buf_truncate(ldr_buf *b, size_t len)
{
    b->len = len;
    if (b->ptr)
        b->ptr[len] = '\0';
}

/* ---- Conversion on read (row.c), shared with the Redis store -------------------------- */

/* Converts a non-null stored value to the requested type by the row codec's rules
 * (online.h: numbers when exact, String -> Bytes, lists element-wise). Strings are
 * borrowed from in; a converted list's items come from a. False when it does not
 * convert (the feature then reads as absent). */
bool ldr__online_convert(const ldr_value *in, ldr_type want, ldr_arena *a, ldr_value *out);

/* The length of the Feast v3 entity key at the start of data (key.c), without decoding
 * it: 0 when data does not start with a well-formed key. */
size_t ldr__online_key_span(const void *data, size_t len);

/* ---- Read results (online.c), shared by the backends ------------------------------------ */

/* Fills a hit for a key the store has no row for: arrays from a, nulls of the requested
 * types, nothing present. */
void ldr__online_hit_miss(const ldr_online_row_proj *p, ldr_arena *a, ldr_online_hit *out);

/* Fills a hit from a stored row (decoded into a; row may be released afterwards).
 * LDR_ECORRUPT from the codec, prefixed with the view's name. */
LDR_MUST_USE ldr_code ldr__online_hit_decode(const ldr_online_row_proj *p, const ldr_online_view *v,
                                             const void *row, size_t len, ldr_ts event_ts,
                                             ldr_ts created_ts, ldr_arena *a, ldr_online_hit *out,
                                             ldr_err *err);

/* True when a row with timestamps (event_ts, created_ts) replaces a stored row with
 * (stored_event, stored_created): newer event, or the same event and a created timestamp
 * at least as new (LDR_TS_NONE, INT64_MIN, is older than any). The SQL of sqlite.c
 * states the same rule. */
static inline bool ldr__online_newer(ldr_ts event_ts, ldr_ts created_ts, ldr_ts stored_event,
                                     ldr_ts stored_created)
{
    return event_ts > stored_event || (event_ts == stored_event && created_ts >= stored_created);
}

/* Tests of the Redis store: fn(arg, attempt) runs in a write's optimistic transaction
 * between the WATCH/HMGET round trip and the MULTI/EXEC one (attempt 0, 1, ...), so a test
 * can change a watched key there as a concurrent writer would. NULL removes it. */
typedef void (*ldr__online_redis_tx_hook)(void *arg, int attempt);
void ldr__online_redis_set_tx_hook(void *self, ldr__online_redis_tx_hook fn, void *arg);

/* The backend state of a store (the self of its ops), for backend-specific test hooks. */
void *ldr__online_store_self(ldr_online_store *os);

#endif /* LDR_ONLINE_ONLINE_INT_H */
