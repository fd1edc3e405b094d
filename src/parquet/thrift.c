/*
 * thrift.c -- the bounded Thrift compact-protocol decoder behind meta.c (API and limits in
 * thrift.h; wire format in ../shared/reference/parquet-format.md §2).
 *
 * Everything is a read through the cursor: varints (LEB128, at most 10 bytes, 5 for
 * 32-bit values, no bits beyond the target width), zigzag integers range-checked against
 * their type, strings and containers checked against the bytes that remain (every element
 * takes at least one byte, so a list can never claim more elements than bytes) and caps,
 * and a depth counter shared by structs, containers and the recursive skipper, so hostile
 * input cannot recurse without bound. Nothing allocates; strings are borrowed from the
 * input. Reentrant.
 */
#include "parquet/thrift.h"

#include <string.h>

void ldr__pq_tr_init(ldr__pq_tr *t, const uint8_t *p, size_t len)
{
    t->start = p;
    t->p = p;
    t->end = p + len;
    t->depth = 0;
}

size_t ldr__pq_tr_pos(const ldr__pq_tr *t)
{
    return (size_t)(t->p - t->start);
}

static size_t remaining(const ldr__pq_tr *t)
{
    return (size_t)(t->end - t->p);
}

static ldr_code truncated(const ldr__pq_tr *t, ldr_err *err)
{
    return ldr_err_setf(err, LDR_ECORRUPT, "Thrift data truncated at byte %zu", ldr__pq_tr_pos(t));
}

/* LEB128 of at most max_bytes bytes whose value fits in max_bits bits. */
static ldr_code varint(ldr__pq_tr *t, unsigned max_bytes, unsigned max_bits, uint64_t *out,
                       ldr_err *err)
{
    size_t at = ldr__pq_tr_pos(t);
    uint64_t v = 0;
    for (unsigned i = 0;; i++) {
        if (i >= max_bytes)
            return ldr_err_setf(err, LDR_ECORRUPT, "Thrift varint too long at byte %zu", at);
        if (t->p >= t->end)
            return truncated(t, err);
        uint8_t b = *t->p++;
        uint64_t bits = (uint64_t)(b & 0x7f);
        unsigned shift = 7 * i;
        if (shift + 7 > max_bits && (bits >> (max_bits - shift)) != 0)
            return ldr_err_setf(err, LDR_ECORRUPT, "Thrift varint overflows %u bits at byte %zu",
                                max_bits, at);
        v |= bits << shift;
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return LDR_OK;
}

static int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* A zigzag integer that must lie in [lo, hi]. */
static ldr_code zigzag(ldr__pq_tr *t, unsigned bits, int64_t lo, int64_t hi, int64_t *out,
                       ldr_err *err)
{
    size_t at = ldr__pq_tr_pos(t);
    uint64_t u;
    ldr_code rc = varint(t, bits == 64 ? 10 : 5, bits == 64 ? 64 : 32, &u, err);
    if (rc != LDR_OK)
        return rc;
    int64_t v = unzigzag(u);
    if (v < lo || v > hi)
        return ldr_err_setf(err, LDR_ECORRUPT, "Thrift integer %lld out of range at byte %zu",
                            (long long)v, at);
    *out = v;
    return LDR_OK;
}

static ldr_code advance(ldr__pq_tr *t, size_t n, ldr_err *err)
{
    if (n > remaining(t))
        return truncated(t, err);
    t->p += n;
    return LDR_OK;
}

static ldr_code enter(ldr__pq_tr *t, ldr_err *err)
{
    if (t->depth >= LDR__PQ_TR_MAX_DEPTH)
        return ldr_err_setf(err, LDR_ECORRUPT, "Thrift nesting deeper than %d at byte %zu",
                            LDR__PQ_TR_MAX_DEPTH, ldr__pq_tr_pos(t));
    t->depth++;
    return LDR_OK;
}

ldr_code ldr__pq_tr_struct_begin(ldr__pq_tr *t, ldr_err *err)
{
    return enter(t, err);
}

void ldr__pq_tr_struct_end(ldr__pq_tr *t)
{
    LDR_ASSERT(t->depth > 0);
    t->depth--;
}

static bool valid_type(unsigned type)
{
    return type >= LDR__PQ_T_TRUE && type <= LDR__PQ_T_UUID;
}

ldr_code ldr__pq_tr_field(ldr__pq_tr *t, int16_t *last, int16_t *id, unsigned *type, ldr_err *err)
{
    if (t->p >= t->end)
        return truncated(t, err);
    size_t at = ldr__pq_tr_pos(t);
    uint8_t b = *t->p++;
    if (b == 0) {
        *type = LDR__PQ_T_STOP;
        *id = 0;
        return LDR_OK;
    }
    unsigned ty = b & 0x0fu, delta = b >> 4;
    if (!valid_type(ty))
        return ldr_err_setf(err, LDR_ECORRUPT, "invalid Thrift type %u at byte %zu", ty, at);
    int64_t fid;
    if (delta) {
        fid = (int64_t)*last + (int64_t)delta;
        if (fid > INT16_MAX)
            return ldr_err_setf(err, LDR_ECORRUPT, "Thrift field id overflows at byte %zu", at);
    } else {
        ldr_code rc = zigzag(t, 16, INT16_MIN, INT16_MAX, &fid, err);
        if (rc != LDR_OK)
            return rc;
    }
    *id = (int16_t)fid;
    *last = (int16_t)fid;
    *type = ty;
    return LDR_OK;
}

/* Reads a list/set header: element type and count, checked against the remaining bytes. */
static ldr_code list_header(ldr__pq_tr *t, unsigned *elem, size_t *n, ldr_err *err)
{
    if (t->p >= t->end)
        return truncated(t, err);
    size_t at = ldr__pq_tr_pos(t);
    uint8_t h = *t->p++;
    uint64_t count = h >> 4;
    *elem = h & 0x0fu;
    if (count == 15) {
        ldr_code rc = varint(t, 5, 32, &count, err);
        if (rc != LDR_OK)
            return rc;
    }
    if (count > 0 && !valid_type(*elem))
        return ldr_err_setf(err, LDR_ECORRUPT, "invalid Thrift list element type %u at byte %zu",
                            *elem, at);
    if (count > remaining(t) || count > LDR__PQ_TR_MAX_CONTAINER)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "Thrift list of %llu elements at byte %zu exceeds the %zu bytes left",
                            (unsigned long long)count, at, remaining(t));
    *n = (size_t)count;
    return LDR_OK;
}

static ldr_code skip_value(ldr__pq_tr *t, unsigned type, bool element, ldr_err *err);

static ldr_code skip_list(ldr__pq_tr *t, ldr_err *err)
{
    unsigned elem;
    size_t n;
    ldr_code rc = list_header(t, &elem, &n, err);
    if (rc == LDR_OK)
        rc = enter(t, err);
    if (rc != LDR_OK)
        return rc;
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        rc = skip_value(t, elem, true, err);
    t->depth--;
    return rc;
}

static ldr_code skip_map(ldr__pq_tr *t, ldr_err *err)
{
    size_t at = ldr__pq_tr_pos(t);
    uint64_t n;
    ldr_code rc = varint(t, 5, 32, &n, err);
    if (rc != LDR_OK || n == 0)
        return rc;
    if (t->p >= t->end)
        return truncated(t, err);
    uint8_t kv = *t->p++;
    unsigned kt = kv >> 4, vt = kv & 0x0fu;
    if (!valid_type(kt) || !valid_type(vt))
        return ldr_err_setf(err, LDR_ECORRUPT, "invalid Thrift map types at byte %zu", at);
    if (n > remaining(t) / 2 || n > LDR__PQ_TR_MAX_CONTAINER)
        return ldr_err_setf(err, LDR_ECORRUPT, "Thrift map of %llu entries at byte %zu is too big",
                            (unsigned long long)n, at);
    rc = enter(t, err);
    if (rc != LDR_OK)
        return rc;
    for (uint64_t i = 0; i < n && rc == LDR_OK; i++) {
        rc = skip_value(t, kt, true, err);
        if (rc == LDR_OK)
            rc = skip_value(t, vt, true, err);
    }
    t->depth--;
    return rc;
}

static ldr_code skip_struct(ldr__pq_tr *t, ldr_err *err)
{
    ldr_code rc = enter(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t last = 0, id;
    unsigned type;
    for (;;) {
        rc = ldr__pq_tr_field(t, &last, &id, &type, err);
        if (rc != LDR_OK || type == LDR__PQ_T_STOP)
            break;
        rc = skip_value(t, type, false, err);
        if (rc != LDR_OK)
            break;
    }
    t->depth--;
    return rc;
}

/* Skips a value; `element` is true inside containers, where bools take one byte. */
static ldr_code skip_value(ldr__pq_tr *t, unsigned type, bool element, ldr_err *err)
{
    uint64_t u;
    switch (type) {
    case LDR__PQ_T_TRUE:
    case LDR__PQ_T_FALSE:
        return element ? advance(t, 1, err) : LDR_OK;
    case LDR__PQ_T_I8:
        return advance(t, 1, err);
    case LDR__PQ_T_I16:
    case LDR__PQ_T_I32:
    case LDR__PQ_T_I64:
        return varint(t, 10, 64, &u, err);
    case LDR__PQ_T_DOUBLE:
        return advance(t, 8, err);
    case LDR__PQ_T_BINARY: {
        ldr_code rc = varint(t, 5, 32, &u, err);
        return rc != LDR_OK ? rc : advance(t, (size_t)u, err);
    }
    case LDR__PQ_T_LIST:
    case LDR__PQ_T_SET:
        return skip_list(t, err);
    case LDR__PQ_T_MAP:
        return skip_map(t, err);
    case LDR__PQ_T_STRUCT:
        return skip_struct(t, err);
    case LDR__PQ_T_UUID:
        return advance(t, 16, err);
    default:
        return ldr_err_setf(err, LDR_ECORRUPT, "invalid Thrift type %u at byte %zu", type,
                            ldr__pq_tr_pos(t));
    }
}

ldr_code ldr__pq_tr_skip(ldr__pq_tr *t, unsigned type, ldr_err *err)
{
    return skip_value(t, type, false, err);
}

ldr_code ldr__pq_tr_i8(ldr__pq_tr *t, unsigned type, int8_t *out, bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_I8)
        return ldr__pq_tr_skip(t, type, err);
    if (t->p >= t->end)
        return truncated(t, err);
    uint8_t b = *t->p++;
    *out = (int8_t)(b > 127 ? (int)b - 256 : (int)b);
    *got = true;
    return LDR_OK;
}

ldr_code ldr__pq_tr_i16(ldr__pq_tr *t, unsigned type, int16_t *out, bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_I16)
        return ldr__pq_tr_skip(t, type, err);
    int64_t v = 0;
    ldr_code rc = zigzag(t, 32, INT16_MIN, INT16_MAX, &v, err);
    if (rc == LDR_OK) {
        *out = (int16_t)v;
        *got = true;
    }
    return rc;
}

ldr_code ldr__pq_tr_i32(ldr__pq_tr *t, unsigned type, int32_t *out, bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_I32)
        return ldr__pq_tr_skip(t, type, err);
    ldr_code rc = ldr__pq_tr_elem_i32(t, out, err);
    if (rc == LDR_OK)
        *got = true;
    return rc;
}

ldr_code ldr__pq_tr_i64(ldr__pq_tr *t, unsigned type, int64_t *out, bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_I64)
        return ldr__pq_tr_skip(t, type, err);
    ldr_code rc = ldr__pq_tr_elem_i64(t, out, err);
    if (rc == LDR_OK)
        *got = true;
    return rc;
}

ldr_code ldr__pq_tr_bool(ldr__pq_tr *t, unsigned type, bool *out, bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_TRUE && type != LDR__PQ_T_FALSE)
        return ldr__pq_tr_skip(t, type, err);
    *out = type == LDR__PQ_T_TRUE;
    *got = true;
    return LDR_OK;
}

ldr_code ldr__pq_tr_binary(ldr__pq_tr *t, unsigned type, const uint8_t **out, size_t *out_len,
                           bool *got, ldr_err *err)
{
    if (type != LDR__PQ_T_BINARY)
        return ldr__pq_tr_skip(t, type, err);
    ldr_code rc = ldr__pq_tr_elem_binary(t, out, out_len, err);
    if (rc == LDR_OK)
        *got = true;
    return rc;
}

static bool elem_matches(unsigned want, unsigned have)
{
    if (want == LDR__PQ_T_TRUE || want == LDR__PQ_T_FALSE)
        return have == LDR__PQ_T_TRUE || have == LDR__PQ_T_FALSE;
    return want == have;
}

ldr_code ldr__pq_tr_list(ldr__pq_tr *t, unsigned type, unsigned elem, size_t *out_n, bool *got,
                         ldr_err *err)
{
    if (type != LDR__PQ_T_LIST && type != LDR__PQ_T_SET)
        return ldr__pq_tr_skip(t, type, err);
    unsigned have;
    size_t n;
    ldr_code rc = list_header(t, &have, &n, err);
    if (rc != LDR_OK)
        return rc;
    if (n > 0 && !elem_matches(elem, have)) {
        rc = enter(t, err);
        if (rc != LDR_OK)
            return rc;
        for (size_t i = 0; i < n && rc == LDR_OK; i++)
            rc = skip_value(t, have, true, err);
        t->depth--;
        return rc;
    }
    rc = enter(t, err);
    if (rc == LDR_OK) {
        *out_n = n;
        *got = true;
    }
    return rc;
}

void ldr__pq_tr_list_end(ldr__pq_tr *t)
{
    LDR_ASSERT(t->depth > 0);
    t->depth--;
}

ldr_code ldr__pq_tr_elem_i32(ldr__pq_tr *t, int32_t *out, ldr_err *err)
{
    int64_t v = 0;
    ldr_code rc = zigzag(t, 32, INT32_MIN, INT32_MAX, &v, err);
    if (rc == LDR_OK)
        *out = (int32_t)v;
    return rc;
}

ldr_code ldr__pq_tr_elem_i64(ldr__pq_tr *t, int64_t *out, ldr_err *err)
{
    return zigzag(t, 64, INT64_MIN, INT64_MAX, out, err);
}

ldr_code ldr__pq_tr_elem_bool(ldr__pq_tr *t, bool *out, ldr_err *err)
{
    if (t->p >= t->end)
        return truncated(t, err);
    *out = *t->p++ == 1;
    return LDR_OK;
}

ldr_code ldr__pq_tr_elem_binary(ldr__pq_tr *t, const uint8_t **out, size_t *out_len, ldr_err *err)
{
    size_t at = ldr__pq_tr_pos(t);
    uint64_t n;
    ldr_code rc = varint(t, 5, 32, &n, err);
    if (rc != LDR_OK)
        return rc;
    if (n > remaining(t) || n > LDR__PQ_TR_MAX_BINARY)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "Thrift string of %llu bytes at byte %zu exceeds the %zu bytes left",
                            (unsigned long long)n, at, remaining(t));
    *out = t->p;
    *out_len = (size_t)n;
    t->p += n;
    return LDR_OK;
}
