/*
 * redis_proto.c -- the two protobuf messages Feast's Redis layout stores, encoded and
 * decoded by hand: feast.types.Value (a feature value) and google.protobuf.Timestamp
 * (the `_ts:<view>` field). Formats and field numbers are in online.h.
 *
 * Why by hand: it is two small messages (a oneof of 8 scalars and 8 list wrappers, and
 * a pair of varints). protobuf-c would need the .proto files, generated code and a
 * protoc-c step in the build for what is ~400 lines here, and it would still allocate
 * through its own allocator rather than the caller's arena.
 *
 * Encoding writes exactly the bytes Feast's Python SDK writes: a oneof member is written
 * even when it holds a zero; repeated numbers are packed (proto3's default); a null value
 * is the empty message. Decoding reads bytes that come from the network: every varint,
 * length and element count is checked against the bytes left before use, elements are
 * counted before anything is allocated, and every failure is LDR_ECORRUPT with the byte
 * offset. Unknown fields are skipped, packed and unpacked repeated fields are both read,
 * and a repeated list member is merged, as protobuf parsers do. Pure and reentrant.
 */
#include "online/online.h"

#include <string.h>

#include "online/online_int.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define US_PER_S         1000000
#define NULL_TS_SENTINEL INT64_MIN /* numpy NaT: Feast's null inside timestamp lists */
#define MAX_S_FOR_US     (INT64_MAX / US_PER_S)

/* ---- Wire helpers ------------------------------------------------------------------------ */

static ldr_code put_varint(ldr_buf *out, uint64_t v, ldr_err *err)
{
    uint8_t b[10];
    return ldr_buf_append(out, b, ldr__online_varint_put(b, v), err);
}

static ldr_code put_tag(ldr_buf *out, unsigned field, unsigned wt, ldr_err *err)
{
    return put_varint(out, (uint64_t)field << 3 | wt, err);
}

/* Seconds of a microsecond timestamp, rounded down (so the nanos are never negative). */
static int64_t floor_seconds(ldr_ts us)
{
    int64_t s = us / US_PER_S;
    return (us % US_PER_S < 0) ? s - 1 : s;
}

/* ---- Timestamp ----------------------------------------------------------------------------- */

ldr_code ldr_online_pb_ts_encode(ldr_ts ts, ldr_buf *out, ldr_err *err)
{
    int64_t s = floor_seconds(ts);
    int64_t nanos = (ts - s * US_PER_S) * 1000;
    size_t start = out->len;
    ldr_code rc = LDR_OK;
    if (s != 0 && (rc = put_tag(out, 1, WT_VARINT, err)) == LDR_OK)
        rc = put_varint(out, (uint64_t)s, err);
    if (rc == LDR_OK && nanos != 0 && (rc = put_tag(out, 2, WT_VARINT, err)) == LDR_OK)
        rc = put_varint(out, (uint64_t)nanos, err);
    if (rc != LDR_OK)
        ldr__online_buf_truncate(out, start);
    return rc;
}

typedef struct pbdec {
    ldr__online_rd r;
    ldr_arena *a;
    ldr_err *err;
    size_t base; /* offset of r.p in the outermost input, for messages */
} pbdec;

static ldr_code corrupt(const pbdec *d, const char *what)
{
    return ldr_err_setf(d->err, LDR_ECORRUPT, "protobuf: %s at byte %zu", what, d->base + d->r.pos);
}

static ldr_code get_key(pbdec *d, unsigned *field, unsigned *wt)
{
    uint64_t k;
    if (!ldr__online_rd_varint(&d->r, &k))
        return corrupt(d, "truncated or overlong field key");
    if ((k >> 3) == 0 || (k >> 3) > 536870911u)
        return corrupt(d, "invalid field number");
    *field = (unsigned)(k >> 3);
    *wt = (unsigned)(k & 7);
    return LDR_OK;
}

/* The payload of a length-delimited field, borrowed. */
static ldr_code get_len(pbdec *d, const uint8_t **p, size_t *len)
{
    uint64_t n;
    if (!ldr__online_rd_varint(&d->r, &n) || n > ldr__online_rd_left(&d->r))
        return corrupt(d, "truncated length-delimited field");
    *len = (size_t)n;
    return ldr__online_rd_bytes(&d->r, *len, p) ? LDR_OK : corrupt(d, "truncated field");
}

static ldr_code skip_field(pbdec *d, unsigned wt)
{
    uint64_t v;
    const uint8_t *p;
    size_t len;
    switch (wt) {
    case WT_VARINT:
        return ldr__online_rd_varint(&d->r, &v) ? LDR_OK : corrupt(d, "truncated varint");
    case WT_I64:
        return ldr__online_rd_bytes(&d->r, 8, &p) ? LDR_OK : corrupt(d, "truncated fixed64");
    case WT_I32:
        return ldr__online_rd_bytes(&d->r, 4, &p) ? LDR_OK : corrupt(d, "truncated fixed32");
    case WT_LEN:
        return get_len(d, &p, &len);
    default:
        return corrupt(d, "unsupported wire type (groups are not used by these messages)");
    }
}

ldr_code ldr_online_pb_ts_decode(const void *data, size_t len, ldr_ts *out, ldr_err *err)
{
    uint32_t sub_us;
    return ldr_online_pb_ts_decode_exact(data, len, out, &sub_us, err);
}

ldr_code ldr_online_pb_ts_decode_exact(const void *data, size_t len, ldr_ts *out,
                                       uint32_t *out_sub_us_ns, ldr_err *err)
{
    pbdec d = {{data, len, 0}, NULL, err, 0};
    int64_t s = 0, nanos = 0;
    while (ldr__online_rd_left(&d.r)) {
        unsigned field, wt;
        uint64_t v;
        ldr_code rc = get_key(&d, &field, &wt);
        if (rc != LDR_OK)
            return rc;
        if ((field == 1 || field == 2) && wt != WT_VARINT)
            return corrupt(&d, "Timestamp field with a wrong wire type");
        if (field != 1 && field != 2) {
            if ((rc = skip_field(&d, wt)) != LDR_OK)
                return rc;
            continue;
        }
        if (!ldr__online_rd_varint(&d.r, &v))
            return corrupt(&d, "truncated Timestamp varint");
        if (field == 1)
            s = (int64_t)v;
        else
            nanos = (int64_t)(int32_t)(uint32_t)v; /* int32: the low 32 bits */
    }
    if (nanos < 0 || nanos > 999999999)
        return corrupt(&d, "Timestamp nanos outside 0..999999999");
    if (s > MAX_S_FOR_US || s < -MAX_S_FOR_US)
        return corrupt(&d, "Timestamp seconds outside Larder's range");
    *out = s * US_PER_S + nanos / 1000;
    *out_sub_us_ns = (uint32_t)(nanos % 1000);
    return LDR_OK;
}

/* ---- Value: encoding ----------------------------------------------------------------------- */

/* Bytes of one packed element (numbers, bools, timestamps). */
static uint64_t elem_varint(const ldr_value *e)
{
    switch (e->type) {
    case LDR_TYPE_INT32:
        return (uint64_t)(int64_t)e->u.i32; /* sign-extended, as protobuf's int32 */
    case LDR_TYPE_INT64:
        return (uint64_t)e->u.i64;
    case LDR_TYPE_BOOL:
        return e->u.b ? 1 : 0;
    default: /* UnixTimestamp: whole seconds (Feast's unix_timestamp_val) */
        return e->is_null ? (uint64_t)NULL_TS_SENTINEL : (uint64_t)floor_seconds(e->u.ts);
    }
}

static size_t fixed_width(ldr_type t)
{
    return t == LDR_TYPE_FLOAT64 ? 8 : t == LDR_TYPE_FLOAT32 ? 4 : 0;
}

static void put_fixed_le(uint8_t *b, const ldr_value *e)
{
    if (e->type == LDR_TYPE_FLOAT64) {
        uint64_t bits;
        memcpy(&bits, &e->u.f64, 8);
        ldr__online_le64(b, bits);
    } else {
        uint32_t bits;
        memcpy(&bits, &e->u.f32, 4);
        ldr__online_le32(b, bits);
    }
}

static ldr_code put_scalar(ldr_buf *out, const ldr_value *v, ldr_err *err)
{
    unsigned field = (unsigned)v->type; /* Value's oneof numbers are Feast's type numbers */
    ldr_code rc;
    uint8_t b[8];
    switch (v->type) {
    case LDR_TYPE_BYTES:
    case LDR_TYPE_STRING:
        if ((rc = put_tag(out, field, WT_LEN, err)) == LDR_OK &&
            (rc = put_varint(out, v->u.str.len, err)) == LDR_OK)
            rc = ldr_buf_append(out, v->u.str.ptr, v->u.str.len, err);
        return rc;
    case LDR_TYPE_FLOAT64:
    case LDR_TYPE_FLOAT32:
        put_fixed_le(b, v);
        if ((rc = put_tag(out, field, v->type == LDR_TYPE_FLOAT64 ? WT_I64 : WT_I32, err)) ==
            LDR_OK)
            rc = ldr_buf_append(out, b, fixed_width(v->type), err);
        return rc;
    default:
        if ((rc = put_tag(out, field, WT_VARINT, err)) == LDR_OK)
            rc = put_varint(out, elem_varint(v), err);
        return rc;
    }
}

size_t ldr_online_pb_scalar_encode(const ldr_value *v, uint8_t out[LDR_ONLINE_PB_SCALAR_MAX])
{
    if (v->is_null || !ldr_type_valid(v->type) || ldr_type_is_list(v->type) ||
        v->type == LDR_TYPE_STRING || v->type == LDR_TYPE_BYTES)
        return 0;
    unsigned field = (unsigned)v->type; /* < 16: the tag is one byte */
    if (v->type == LDR_TYPE_FLOAT64 || v->type == LDR_TYPE_FLOAT32) {
        out[0] = (uint8_t)(field << 3 | (v->type == LDR_TYPE_FLOAT64 ? WT_I64 : WT_I32));
        put_fixed_le(out + 1, v);
        return 1 + fixed_width(v->type);
    }
    out[0] = (uint8_t)(field << 3 | WT_VARINT);
    return 1 + ldr__online_varint_put(out + 1, elem_varint(v));
}

/* Checks a list's elements: of the element type, and null only in timestamp lists. */
static ldr_code check_list(const ldr_value *v, ldr_err *err)
{
    ldr_type elem = ldr_type_elem(v->type);
    for (size_t i = 0; i < v->u.list.n; i++) {
        const ldr_value *e = &v->u.list.items[i];
        if (e->is_null && elem != LDR_TYPE_UNIX_TIMESTAMP)
            return ldr_err_setf(err, LDR_EINVAL,
                                "element %zu of an %s is null, which Feast's protobuf Value "
                                "cannot hold (only timestamp lists have a null sentinel)",
                                i, ldr_type_name(v->type));
        if (!e->is_null && e->type != elem)
            return ldr_err_setf(err, LDR_EINVAL, "element %zu of type %s in an %s", i,
                                ldr_type_name(e->type), ldr_type_name(v->type));
    }
    return LDR_OK;
}

/* The list wrapper message (`repeated T val = 1`): its body length. */
static size_t list_body_len(const ldr_value *v, ldr_type elem, size_t *packed_len)
{
    size_t n = 0;
    *packed_len = 0;
    for (size_t i = 0; i < v->u.list.n; i++) {
        const ldr_value *e = &v->u.list.items[i];
        if (elem == LDR_TYPE_STRING || elem == LDR_TYPE_BYTES)
            n += 1 + ldr__online_varint_len(e->u.str.len) + e->u.str.len;
        else if (fixed_width(elem))
            *packed_len += fixed_width(elem);
        else
            *packed_len += ldr__online_varint_len(elem_varint(e));
    }
    if (*packed_len)
        n = 1 + ldr__online_varint_len(*packed_len) +
            *packed_len; /* packing omits an empty field */
    return n;
}

static ldr_code put_list(ldr_buf *out, const ldr_value *v, ldr_err *err)
{
    ldr_type elem = ldr_type_elem(v->type);
    size_t packed_len;
    size_t body = list_body_len(v, elem, &packed_len);
    ldr_code rc = put_tag(out, (unsigned)v->type, WT_LEN, err);
    if (rc == LDR_OK)
        rc = put_varint(out, body, err);
    if (rc == LDR_OK && packed_len && (rc = put_tag(out, 1, WT_LEN, err)) == LDR_OK)
        rc = put_varint(out, packed_len, err);
    for (size_t i = 0; i < v->u.list.n && rc == LDR_OK; i++) {
        const ldr_value *e = &v->u.list.items[i];
        uint8_t b[10];
        if (elem == LDR_TYPE_STRING || elem == LDR_TYPE_BYTES) {
            if ((rc = put_tag(out, 1, WT_LEN, err)) == LDR_OK &&
                (rc = put_varint(out, e->u.str.len, err)) == LDR_OK)
                rc = ldr_buf_append(out, e->u.str.ptr, e->u.str.len, err);
        } else if (fixed_width(elem)) {
            put_fixed_le(b, e);
            rc = ldr_buf_append(out, b, fixed_width(elem), err);
        } else {
            ldr_value tmp = *e;
            tmp.type = elem; /* a null timestamp element carries no type */
            rc = ldr_buf_append(out, b, ldr__online_varint_put(b, elem_varint(&tmp)), err);
        }
    }
    return rc;
}

ldr_code ldr_online_pb_value_encode(const ldr_value *v, ldr_buf *out, ldr_err *err)
{
    if (v->is_null)
        return LDR_OK; /* the empty message: no oneof member set */
    if (!ldr_type_valid(v->type))
        return ldr_err_setf(err, LDR_EINVAL, "value of invalid type %d", (int)v->type);
    size_t start = out->len;
    ldr_code rc = LDR_OK;
    if (ldr_type_is_list(v->type)) {
        rc = check_list(v, err);
        if (rc == LDR_OK)
            rc = put_list(out, v, err);
    } else {
        rc = put_scalar(out, v, err);
    }
    if (rc != LDR_OK)
        ldr__online_buf_truncate(out, start);
    return rc;
}

/* ---- Value: decoding ----------------------------------------------------------------------- */

/* The wire type a Value member (or list element of that type) is written with. */
static unsigned scalar_wt(ldr_type t)
{
    switch (t) {
    case LDR_TYPE_BYTES:
    case LDR_TYPE_STRING:
        return WT_LEN;
    case LDR_TYPE_FLOAT64:
        return WT_I64;
    case LDR_TYPE_FLOAT32:
        return WT_I32;
    default:
        return WT_VARINT;
    }
}

/* Seconds to microseconds; false when out of Larder's range. */
static bool seconds_to_us(int64_t s, ldr_ts *out)
{
    if (s > MAX_S_FOR_US || s < -MAX_S_FOR_US)
        return false;
    *out = s * US_PER_S;
    return true;
}

/* One scalar of type t from the reader (after its key, or inside a packed run). */
static ldr_code get_scalar(pbdec *d, ldr_type t, ldr_value *out)
{
    uint64_t v = 0;
    const uint8_t *p;
    size_t len;
    memset(out, 0, sizeof *out);
    out->type = t;
    ldr_code rc = LDR_OK;
    switch (t) {
    case LDR_TYPE_BYTES:
    case LDR_TYPE_STRING:
        if ((rc = get_len(d, &p, &len)) != LDR_OK)
            return rc;
        char *s = ldr_arena_alloc(d->a, len + 1);
        memcpy(s, p, len);
        s[len] = '\0';
        out->u.str.ptr = s;
        out->u.str.len = len;
        return LDR_OK;
    case LDR_TYPE_FLOAT64:
        if (!ldr__online_rd_u64(&d->r, &v))
            return corrupt(d, "truncated double");
        memcpy(&out->u.f64, &v, 8);
        return LDR_OK;
    case LDR_TYPE_FLOAT32: {
        uint32_t w;
        if (!ldr__online_rd_u32(&d->r, &w))
            return corrupt(d, "truncated float");
        memcpy(&out->u.f32, &w, 4);
        return LDR_OK;
    }
    default:
        break;
    }
    if (!ldr__online_rd_varint(&d->r, &v))
        return corrupt(d, "truncated varint");
    if (t == LDR_TYPE_INT32)
        out->u.i32 = (int32_t)(uint32_t)v; /* protobuf int32: the low 32 bits */
    else if (t == LDR_TYPE_INT64)
        out->u.i64 = (int64_t)v;
    else if (t == LDR_TYPE_BOOL)
        out->u.b = v != 0;
    else if ((int64_t)v == NULL_TS_SENTINEL)
        *out = ldr_value_null(t);
    else if (!seconds_to_us((int64_t)v, &out->u.ts))
        return corrupt(d, "unix timestamp outside Larder's range");
    return rc;
}

/* Elements in a list body: a packed run counts its elements; anything else counts one. */
static ldr_code count_elems(pbdec *d, ldr_type elem, size_t *out)
{
    size_t n = 0;
    unsigned want = scalar_wt(elem);
    while (ldr__online_rd_left(&d->r)) {
        unsigned field, wt;
        const uint8_t *p;
        size_t len;
        ldr_code rc = get_key(d, &field, &wt);
        if (rc != LDR_OK)
            return rc;
        if (field != 1) {
            if ((rc = skip_field(d, wt)) != LDR_OK)
                return rc;
            continue;
        }
        if (wt == want) {
            n++;
            rc = skip_field(d, wt);
        } else if (wt == WT_LEN && want != WT_LEN) { /* packed */
            if ((rc = get_len(d, &p, &len)) != LDR_OK)
                return rc;
            size_t w = fixed_width(elem);
            if (w && len % w)
                return corrupt(d, "packed run length not a multiple of the element size");
            if (w)
                n += len / w;
            for (size_t i = 0; !w && i < len; i++)
                n += p[i] < 0x80;
            if (!w && len && p[len - 1] >= 0x80)
                return corrupt(d, "packed run ends inside a varint");
        } else {
            return corrupt(d, "list element with a wrong wire type");
        }
        if (rc != LDR_OK)
            return rc;
    }
    *out = n;
    return LDR_OK;
}

/* Appends the elements of one list body to items[*n..]. count_elems checked the shape. */
static ldr_code fill_elems(pbdec *d, ldr_type elem, ldr_value *items, size_t *n)
{
    unsigned want = scalar_wt(elem);
    while (ldr__online_rd_left(&d->r)) {
        unsigned field, wt;
        ldr_code rc = get_key(d, &field, &wt);
        if (rc == LDR_OK && field != 1)
            rc = skip_field(d, wt);
        else if (rc == LDR_OK && wt == want)
            rc = get_scalar(d, elem, &items[(*n)++]);
        else if (rc == LDR_OK) { /* packed */
            const uint8_t *p;
            size_t len;
            if ((rc = get_len(d, &p, &len)) != LDR_OK)
                return rc;
            pbdec sub = {{p, len, 0}, d->a, d->err, d->base + (size_t)(p - d->r.p)};
            while (rc == LDR_OK && ldr__online_rd_left(&sub.r))
                rc = get_scalar(&sub, elem, &items[(*n)++]);
        }
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}

/* A list member's body, appended to out's items when out already holds this list type
 * (protobuf merges a repeated message field), else replacing out. */
static ldr_code get_list(pbdec *d, ldr_type t, const uint8_t *body, size_t len, ldr_value *out)
{
    ldr_type elem = ldr_type_elem(t);
    size_t base = d->base + (size_t)(body - d->r.p);
    pbdec sub = {{body, len, 0}, d->a, d->err, base};
    size_t n = 0;
    ldr_code rc = count_elems(&sub, elem, &n);
    if (rc != LDR_OK)
        return rc;
    size_t old = (out->type == t && !out->is_null) ? out->u.list.n : 0;
    if (n > LDR_ONLINE_PB_MAX_ITEMS - old)
        return ldr_err_setf(d->err, LDR_ELIMIT, "protobuf: a list of more than %u elements",
                            (unsigned)LDR_ONLINE_PB_MAX_ITEMS);
    ldr_value *items = ldr_arena_calloc(d->a, old + n + 1, sizeof *items);
    if (old)
        memcpy(items, out->u.list.items, old * sizeof *items);
    size_t k = old;
    sub.r.pos = 0;
    if ((rc = fill_elems(&sub, elem, items, &k)) != LDR_OK)
        return rc;
    memset(out, 0, sizeof *out);
    out->type = t;
    out->u.list.items = items;
    out->u.list.n = k;
    return LDR_OK;
}

static bool is_value_member(unsigned field)
{
    return (field >= 1 && field <= 8) || (field >= 11 && field <= 18);
}

ldr_code ldr_online_pb_value_decode(const void *data, size_t len, ldr_arena *a, ldr_value *out,
                                    ldr_err *err)
{
    pbdec d = {{data, len, 0}, a, err, 0};
    *out = ldr_value_null(LDR_TYPE_INVALID);
    while (ldr__online_rd_left(&d.r)) {
        unsigned field, wt;
        ldr_code rc = get_key(&d, &field, &wt);
        if (rc != LDR_OK)
            return rc;
        ldr_type t = (ldr_type)field;
        if (!is_value_member(field)) {
            if ((rc = skip_field(&d, wt)) != LDR_OK)
                return rc;
            /* null_val (19) clears the oneof; any other member is one Larder has no
             * type for (map_val, uuid_val, ... in newer Feast): not null, no type. */
            *out = ldr_value_null(LDR_TYPE_INVALID);
            out->is_null = field == 19;
            continue;
        }
        if (wt != (ldr_type_is_list(t) ? WT_LEN : scalar_wt(t)))
            return corrupt(&d, "Value member with a wrong wire type");
        if (!ldr_type_is_list(t)) {
            rc = get_scalar(&d, t, out);
            if (rc == LDR_OK && out->is_null) /* a NaT timestamp: Feast's null */
                *out = ldr_value_null(LDR_TYPE_INVALID);
        } else {
            const uint8_t *p;
            size_t n;
            if ((rc = get_len(&d, &p, &n)) == LDR_OK)
                rc = get_list(&d, t, p, n, out);
        }
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}
