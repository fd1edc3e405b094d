/*
 * key.c -- entity keys in Feast's serialization v3 (feast-behaviour.md §7.1) and
 * murmur3_32, the hash Feast's Redis layout and our row codec name features by.
 *
 * A v3 key is self-describing (names and value types are in the bytes), which is what
 * lets ldr_online_key_decode work without a schema. Join keys are sorted by name before
 * serialization, bytewise (strcmp), which is Python's code-point order for UTF-8. Keys
 * travel to and from other tools unchanged, so this file must stay byte-exact with
 * Feast: the unit tests pin the published vectors. One deliberate difference: Feast
 * writes a join-key name's length as Python's len(str), in characters, before its UTF-8
 * bytes, so its keys with non-ASCII names cannot be decoded; we write the byte length.
 * For ASCII names, the only ones Feast reads back correctly, the bytes are identical.
 * Pure functions; reentrant.
 */
#include "online/online.h"

#include <stdlib.h>
#include <string.h>

#include "online/online_int.h"

#define KEY_NAME_TYPE 2u /* join-key names are serialized as Feast STRING */
#define US_PER_S      1000000

/* ---- murmur3 ------------------------------------------------------------------------- */

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t mix_k(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = rotl32(k, 15);
    return k * 0x1b873593u;
}

uint32_t ldr_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = data;
    uint32_t h = seed;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++, p += 4) {
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        h ^= mix_k(k);
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    /* The 1-3 tail bytes, little-endian, mixed without the rotate-and-add step. */
    size_t tail = len & 3;
    if (tail) {
        uint32_t k = 0;
        for (size_t i = tail; i-- > 0;)
            k = k << 8 | p[i];
        h ^= mix_k(k);
    }
    h ^= (uint32_t)len; /* the reference mixes in the length modulo 2^32 */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* ---- Encoding -------------------------------------------------------------------------- */

bool ldr_online_key_type_ok(ldr_type t)
{
    return t == LDR_TYPE_STRING || t == LDR_TYPE_BYTES || t == LDR_TYPE_INT32 ||
           t == LDR_TYPE_INT64 || t == LDR_TYPE_UNIX_TIMESTAMP;
}

typedef struct key_pair {
    const char *name;
    const ldr_value *value;
} key_pair;

static int cmp_pairs(const void *a, const void *b)
{
    return strcmp(((const key_pair *)a)->name, ((const key_pair *)b)->name);
}

/* Appends u32 type, u32 len, payload. */
static ldr_code put_field(ldr_buf *out, uint32_t type, const void *data, size_t len, ldr_err *err)
{
    if (len > UINT32_MAX)
        return ldr_err_setf(err, LDR_ELIMIT, "entity key part of %zu bytes exceeds 4 GiB", len);
    uint8_t head[8];
    ldr__online_le32(head, type);
    ldr__online_le32(head + 4, (uint32_t)len);
    ldr_code rc = ldr_buf_append(out, head, sizeof head, err);
    return rc == LDR_OK ? ldr_buf_append(out, data, len, err) : rc;
}

static ldr_code put_value(ldr_buf *out, const char *name, const ldr_value *v, ldr_err *err)
{
    if (!ldr_online_key_type_ok(v->type))
        return ldr_err_setf(err, LDR_EINVAL,
                            "join key '%s': type %s cannot be part of an entity key (allowed: "
                            "String, Bytes, Int32, Int64, UnixTimestamp)",
                            name, ldr_type_name(v->type));
    if (v->is_null)
        return ldr_err_setf(err, LDR_EINVAL, "join key '%s': value is null", name);
    uint8_t b[8];
    switch (v->type) {
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        return put_field(out, (uint32_t)v->type, v->u.str.ptr, v->u.str.len, err);
    case LDR_TYPE_INT32:
        ldr__online_le32(b, (uint32_t)v->u.i32);
        return put_field(out, (uint32_t)v->type, b, 4, err);
    case LDR_TYPE_INT64:
        ldr__online_le64(b, (uint64_t)v->u.i64);
        return put_field(out, (uint32_t)v->type, b, 8, err);
    default: /* UnixTimestamp */
        if (v->u.ts % US_PER_S != 0) {
            char ts[LDR_TS_BUFSZ];
            return ldr_err_setf(err, LDR_EINVAL,
                                "join key '%s': timestamp %s has a sub-second part, but entity "
                                "keys hold whole seconds (Feast's format)",
                                name, ldr_ts_format(v->u.ts, ts));
        }
        ldr__online_le64(b, (uint64_t)(v->u.ts / US_PER_S));
        return put_field(out, (uint32_t)v->type, b, 8, err);
    }
}

static ldr_code put_sorted(const key_pair *pairs, size_t n, ldr_buf *out, ldr_err *err)
{
    for (size_t i = 1; i < n; i++) {
        if (strcmp(pairs[i - 1].name, pairs[i].name) == 0)
            return ldr_err_setf(err, LDR_EINVAL, "join key '%s' is listed twice", pairs[i].name);
    }
    uint8_t count[4];
    ldr__online_le32(count, (uint32_t)n);
    ldr_code rc = ldr_buf_append(out, count, sizeof count, err);
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        rc = put_field(out, KEY_NAME_TYPE, pairs[i].name, strlen(pairs[i].name), err);
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        rc = put_value(out, pairs[i].name, pairs[i].value, err);
    return rc;
}

ldr_code ldr_online_key_encode(const char *const *join_keys, const ldr_value *values, size_t n,
                               ldr_buf *out, ldr_err *err)
{
    if (n > UINT32_MAX)
        return ldr_err_setf(err, LDR_ELIMIT, "entity key with %zu join keys", n);
    key_pair small[8];
    key_pair *pairs = n <= LDR_ARRAY_LEN(small) ? small : ldr_xcalloc(n, sizeof *pairs);
    for (size_t i = 0; i < n; i++) {
        pairs[i].name = join_keys[i];
        pairs[i].value = &values[i];
    }
    if (n > 1)
        qsort(pairs, n, sizeof *pairs, cmp_pairs);
    size_t old_len = out->len;
    ldr_code rc = put_sorted(pairs, n, out, err);
    if (rc != LDR_OK)
        ldr__online_buf_truncate(out, old_len);
    if (pairs != small)
        ldr_free(pairs);
    return rc;
}

ldr_code ldr_online_key_encode_entityless(ldr_buf *out, ldr_err *err)
{
    static const char *const names[] = {LDR_ONLINE_DUMMY_JOIN_KEY};
    ldr_value v = {.type = LDR_TYPE_STRING, .u.str = {"", 0}};
    return ldr_online_key_encode(names, &v, 1, out, err);
}

/* ---- Decoding -------------------------------------------------------------------------- */

static ldr_code corrupt(const ldr__online_rd *r, ldr_err *err, const char *what)
{
    return ldr_err_setf(err, LDR_ECORRUPT, "entity key (%zu bytes): %s at byte %zu", r->len, what,
                        r->pos);
}

/* Reads u32 type, u32 len and borrows the payload. */
static bool get_field(ldr__online_rd *r, uint32_t *type, const uint8_t **data, size_t *len)
{
    uint32_t n;
    if (!ldr__online_rd_u32(r, type) || !ldr__online_rd_u32(r, &n) ||
        !ldr__online_rd_bytes(r, n, data))
        return false;
    *len = n;
    return true;
}

static ldr_code get_value(ldr__online_rd *r, ldr_arena *a, ldr_value *out, ldr_err *err)
{
    size_t at = r->pos;
    uint32_t type;
    const uint8_t *data;
    size_t len;
    if (!get_field(r, &type, &data, &len))
        return corrupt(r, err, "truncated value");
    ldr__online_rd v = {data, len, 0};
    uint64_t x = 0;
    memset(out, 0, sizeof *out);
    out->type = (ldr_type)type;
    if (type == LDR_TYPE_STRING || type == LDR_TYPE_BYTES) {
        out->u.str.ptr = ldr_arena_strndup(a, (const char *)data, len);
        out->u.str.len = len;
    } else if (type == LDR_TYPE_INT32 && len == 4) {
        uint32_t u;
        (void)ldr__online_rd_u32(&v, &u);
        out->u.i32 = (int32_t)u;
    } else if ((type == LDR_TYPE_INT64 || type == LDR_TYPE_UNIX_TIMESTAMP) && len == 8) {
        (void)ldr__online_rd_u64(&v, &x);
        int64_t s = (int64_t)x;
        if (type == LDR_TYPE_INT64)
            out->u.i64 = s;
        else if (s > INT64_MAX / US_PER_S || s < INT64_MIN / US_PER_S)
            return corrupt(r, err, "timestamp out of range");
        else
            out->u.ts = s * US_PER_S;
    } else {
        r->pos = at;
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "entity key (%zu bytes): value of type %u with %zu bytes at byte %zu "
                            "(expected String, Bytes, Int32 (4), Int64 (8) or UnixTimestamp (8))",
                            r->len, type, len, at);
    }
    return LDR_OK;
}

ldr_code ldr_online_key_decode(const void *data, size_t len, ldr_arena *a, ldr_online_key *out,
                               ldr_err *err)
{
    ldr__online_rd r = {data, len, 0};
    uint32_t n;
    memset(out, 0, sizeof *out);
    if (!ldr__online_rd_u32(&r, &n))
        return corrupt(&r, err, "truncated count");
    /* Each pair takes at least 16 bytes (two 8-byte headers): bound n before allocating. */
    if (n > ldr__online_rd_left(&r) / 16)
        return corrupt(&r, err, "join-key count larger than the input");
    const char **names = ldr_arena_calloc(a, n, sizeof *names);
    ldr_value *values = ldr_arena_calloc(a, n, sizeof *values);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t type;
        const uint8_t *name;
        size_t name_len;
        if (!get_field(&r, &type, &name, &name_len))
            return corrupt(&r, err, "truncated join-key name");
        if (type != KEY_NAME_TYPE)
            return corrupt(&r, err, "join-key name not typed String");
        names[i] = ldr_arena_strndup(a, (const char *)name, name_len);
    }
    for (uint32_t i = 0; i < n; i++) {
        ldr_code rc = get_value(&r, a, &values[i], err);
        if (rc != LDR_OK)
            return rc;
    }
    if (ldr__online_rd_left(&r) != 0)
        return corrupt(&r, err, "trailing bytes");
    out->join_keys = names;
    out->values = values;
    out->n = n;
    return LDR_OK;
}

size_t ldr__online_key_span(const void *data, size_t len)
{
    ldr__online_rd r = {data, len, 0};
    uint32_t n, type;
    const uint8_t *p;
    size_t plen;
    if (!ldr__online_rd_u32(&r, &n) || n > ldr__online_rd_left(&r) / 16)
        return 0;
    for (uint32_t i = 0; i < 2 * n; i++) { /* n names, then n values */
        if (!get_field(&r, &type, &p, &plen) || (i < n && type != KEY_NAME_TYPE))
            return 0;
    }
    return r.pos;
}
