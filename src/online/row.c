/*
 * row.c -- the row codec: one entity's feature values for one view as a compact,
 * self-describing byte string (format described in online.h).
 *
 * Entries are keyed by murmur3_32 of the feature name and tagged with their type, so a
 * reader asks for features by name and the row answers for those it holds: views can
 * gain or lose features without rewriting stored rows, and a changed type is converted
 * when the stored value survives it exactly (otherwise the feature reads as absent).
 * Decoding reads bytes that come from disk: every length is checked against what is
 * left before use, counts are bounded by the remaining bytes before anything is
 * allocated, and every failure is LDR_ECORRUPT with the byte offset. Decoded strings
 * and lists are copied into the caller's arena. Pure functions; reentrant.
 */
#include "online/online.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "online/online_int.h"

#define ROW_VERSION   1
#define TAG_NULL      0
#define ENTRY_MIN_LEN 5 /* hash and tag */

/* ---- Varints --------------------------------------------------------------------------- */

static ldr_code put_uvarint(ldr_buf *out, uint64_t v, ldr_err *err)
{
    uint8_t b[10];
    return ldr_buf_append(out, b, ldr__online_varint_put(b, v), err);
}

static uint64_t zigzag(int64_t x)
{
    return x < 0 ? ~((uint64_t)x << 1) : (uint64_t)x << 1;
}

static int64_t unzigzag(uint64_t u)
{
    return (u & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

/* ---- Encoding -------------------------------------------------------------------------- */

static bool tag_valid(unsigned tag)
{
    return tag == TAG_NULL || ldr_type_valid((ldr_type)tag);
}

/* Bytes of a non-null scalar's payload (lists: see list_body_len). */
static size_t scalar_len(const ldr_value *v)
{
    switch (v->type) {
    case LDR_TYPE_INT32:
        return ldr__online_varint_len(zigzag(v->u.i32));
    case LDR_TYPE_INT64:
        return ldr__online_varint_len(zigzag(v->u.i64));
    case LDR_TYPE_UNIX_TIMESTAMP:
        return ldr__online_varint_len(zigzag(v->u.ts));
    case LDR_TYPE_FLOAT32:
        return 4;
    case LDR_TYPE_FLOAT64:
        return 8;
    case LDR_TYPE_BOOL:
        return 1;
    default: /* String, Bytes */
        return ldr__online_varint_len(v->u.str.len) + v->u.str.len;
    }
}

static ldr_code put_scalar(ldr_buf *out, const ldr_value *v, ldr_err *err)
{
    uint8_t b[8];
    switch (v->type) {
    case LDR_TYPE_INT32:
        return put_uvarint(out, zigzag(v->u.i32), err);
    case LDR_TYPE_INT64:
        return put_uvarint(out, zigzag(v->u.i64), err);
    case LDR_TYPE_UNIX_TIMESTAMP:
        return put_uvarint(out, zigzag(v->u.ts), err);
    case LDR_TYPE_FLOAT32: {
        uint32_t bits;
        memcpy(&bits, &v->u.f32, 4);
        ldr__online_le32(b, bits);
        return ldr_buf_append(out, b, 4, err);
    }
    case LDR_TYPE_FLOAT64: {
        uint64_t bits;
        memcpy(&bits, &v->u.f64, 8);
        ldr__online_le64(b, bits);
        return ldr_buf_append(out, b, 8, err);
    }
    case LDR_TYPE_BOOL:
        b[0] = v->u.b ? 1 : 0;
        return ldr_buf_append(out, b, 1, err);
    default: { /* String, Bytes */
        ldr_code rc = put_uvarint(out, v->u.str.len, err);
        return rc == LDR_OK ? ldr_buf_append(out, v->u.str.ptr, v->u.str.len, err) : rc;
    }
    }
}

static bool list_has_nulls(const ldr_value *v)
{
    for (size_t i = 0; i < v->u.list.n; i++) {
        if (v->u.list.items[i].is_null)
            return true;
    }
    return false;
}

static size_t list_body_len(const ldr_value *v, bool has_nulls)
{
    size_t n = v->u.list.n;
    size_t len =
        ldr__online_varint_len((uint64_t)n << 1 | has_nulls) + (has_nulls ? (n + 7) / 8 : 0);
    for (size_t i = 0; i < n; i++) {
        if (!v->u.list.items[i].is_null)
            len += scalar_len(&v->u.list.items[i]);
    }
    return len;
}

static ldr_code put_list(ldr_buf *out, const ldr_value *v, ldr_err *err)
{
    size_t n = v->u.list.n;
    bool has_nulls = list_has_nulls(v);
    size_t body = list_body_len(v, has_nulls);
    size_t start = out->len;
    ldr_code rc = put_uvarint(out, body, err);
    if (rc == LDR_OK)
        rc = put_uvarint(out, (uint64_t)n << 1 | has_nulls, err);
    for (size_t i = 0; has_nulls && i < n && rc == LDR_OK; i += 8) {
        uint8_t bits = 0;
        for (size_t j = i; j < n && j < i + 8; j++)
            bits = (uint8_t)(bits | (v->u.list.items[j].is_null ? 1u << (j - i) : 0u));
        rc = ldr_buf_append(out, &bits, 1, err);
    }
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        if (!v->u.list.items[i].is_null)
            rc = put_scalar(out, &v->u.list.items[i], err);
    }
    LDR_ASSERT(rc != LDR_OK || out->len - start == ldr__online_varint_len(body) + body);
    return rc;
}

/* Checks that a non-null value matches the declared type (list elements included). */
static ldr_code check_value(const ldr_field *f, const ldr_value *v, ldr_err *err)
{
    if (v->type != f->type)
        return ldr_err_setf(err, LDR_EINVAL, "feature '%s': value of type %s, declared %s", f->name,
                            ldr_type_name(v->type), ldr_type_name(f->type));
    if (!ldr_type_is_list(v->type))
        return LDR_OK;
    ldr_type elem = ldr_type_elem(v->type);
    for (size_t i = 0; i < v->u.list.n; i++) {
        const ldr_value *e = &v->u.list.items[i];
        if (!e->is_null && e->type != elem)
            return ldr_err_setf(err, LDR_EINVAL, "feature '%s': list element %zu of type %s in %s",
                                f->name, i, ldr_type_name(e->type), ldr_type_name(f->type));
    }
    return LDR_OK;
}

static ldr_code put_entry(ldr_buf *out, uint32_t hash, const ldr_value *v, ldr_err *err)
{
    uint8_t head[5];
    ldr__online_le32(head, hash);
    head[4] = (uint8_t)(v->is_null ? TAG_NULL : v->type);
    ldr_code rc = ldr_buf_append(out, head, sizeof head, err);
    if (rc != LDR_OK || v->is_null)
        return rc;
    return ldr_type_is_list(v->type) ? put_list(out, v, err) : put_scalar(out, v, err);
}

typedef struct hash_ix {
    uint32_t hash;
    size_t index;
} hash_ix;

static int cmp_hash_ix(const void *a, const void *b)
{
    const hash_ix *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts by (hash, index). Insertion sort for the usual handful of requested features
 * (qsort's indirect calls were most of a 10-feature projection's cost), qsort above. */
static void sort_hash_ix(hash_ix *v, size_t n)
{
    if (n > 32) {
        qsort(v, n, sizeof *v, cmp_hash_ix);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        hash_ix x = v[i];
        size_t j = i;
        while (j > 0 &&
               (v[j - 1].hash > x.hash || (v[j - 1].hash == x.hash && v[j - 1].index > x.index))) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static uint32_t name_hash(const char *name)
{
    return ldr_murmur3_32(name, strlen(name), 0);
}

ldr_code ldr_online_row_layout_init(ldr_online_row_layout *l, const ldr_field *features, size_t n,
                                    ldr_arena *a, ldr_err *err)
{
    l->features = features;
    l->n = n;
    l->hashes = ldr_arena_calloc(a, n, sizeof *l->hashes);
    hash_ix *sorted = ldr_arena_calloc(a, n, sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        if (!ldr_type_valid(features[i].type))
            return ldr_err_setf(err, LDR_EINVAL, "feature '%s': invalid type %d", features[i].name,
                                (int)features[i].type);
        l->hashes[i] = name_hash(features[i].name);
        sorted[i] = (hash_ix){l->hashes[i], i};
    }
    sort_hash_ix(sorted, n);
    for (size_t i = 1; i < n; i++) {
        if (sorted[i].hash != sorted[i - 1].hash)
            continue;
        const char *x = features[sorted[i - 1].index].name, *y = features[sorted[i].index].name;
        if (strcmp(x, y) == 0)
            return ldr_err_setf(err, LDR_EINVAL, "feature '%s' is listed twice", x);
        return ldr_err_setf(err, LDR_EINVAL,
                            "features '%s' and '%s' have the same murmur3 hash 0x%08x, which "
                            "online rows cannot tell apart: rename one",
                            x, y, sorted[i].hash);
    }
    return LDR_OK;
}

ldr_code ldr_online_row_encode(const ldr_online_row_layout *l, const ldr_value *values,
                               ldr_buf *out, ldr_err *err)
{
    size_t old_len = out->len;
    uint8_t version = ROW_VERSION;
    ldr_code rc = ldr_buf_append(out, &version, 1, err);
    if (rc == LDR_OK)
        rc = put_uvarint(out, l->n, err);
    for (size_t i = 0; i < l->n && rc == LDR_OK; i++) {
        if (!values[i].is_null)
            rc = check_value(&l->features[i], &values[i], err);
        if (rc == LDR_OK)
            rc = put_entry(out, l->hashes[i], &values[i], err);
    }
    if (rc != LDR_OK)
        ldr__online_buf_truncate(out, old_len);
    return rc;
}

/* ---- Decoding -------------------------------------------------------------------------- */

typedef struct dec {
    ldr__online_rd r; /* the row, or a window of it (a list body): positions are row offsets */
    size_t row_len;   /* for messages */
    ldr_arena *a;
    uint32_t hash; /* entry being decoded, for messages */
    ldr_err *err;
} dec;

static ldr_code corrupt(const dec *d, const char *what)
{
    return ldr_err_setf(d->err, LDR_ECORRUPT,
                        "online row (%zu bytes): %s at byte %zu (feature hash 0x%08x)", d->row_len,
                        what, d->r.pos, d->hash);
}

static ldr_code get_varint_i64(dec *d, int64_t *out)
{
    uint64_t u;
    if (!ldr__online_rd_varint(&d->r, &u))
        return corrupt(d, "truncated or overlong varint");
    *out = unzigzag(u);
    return LDR_OK;
}

static ldr_code get_string(dec *d, ldr_value *out)
{
    uint64_t len;
    const uint8_t *p;
    if (!ldr__online_rd_varint(&d->r, &len) || len > ldr__online_rd_left(&d->r))
        return corrupt(d, "truncated string");
    (void)ldr__online_rd_bytes(&d->r, (size_t)len, &p);
    out->u.str.ptr = ldr_arena_strndup(d->a, (const char *)p, (size_t)len);
    out->u.str.len = (size_t)len;
    return LDR_OK;
}

static ldr_code get_fixed(dec *d, ldr_value *out)
{
    if (out->type == LDR_TYPE_FLOAT32) {
        uint32_t bits;
        if (!ldr__online_rd_u32(&d->r, &bits))
            return corrupt(d, "truncated Float32");
        memcpy(&out->u.f32, &bits, 4);
        return LDR_OK;
    }
    if (out->type == LDR_TYPE_FLOAT64) {
        uint64_t bits;
        if (!ldr__online_rd_u64(&d->r, &bits))
            return corrupt(d, "truncated Float64");
        memcpy(&out->u.f64, &bits, 8);
        return LDR_OK;
    }
    const uint8_t *b; /* Bool */
    if (!ldr__online_rd_bytes(&d->r, 1, &b))
        return corrupt(d, "truncated Bool");
    if (*b > 1)
        return corrupt(d, "Bool byte other than 0 or 1");
    out->u.b = *b == 1;
    return LDR_OK;
}

/* Decodes a non-null scalar payload of type t. */
static ldr_code get_scalar(dec *d, ldr_type t, ldr_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = t;
    int64_t x = 0;
    ldr_code rc;
    switch (t) {
    case LDR_TYPE_INT32:
        if ((rc = get_varint_i64(d, &x)) != LDR_OK)
            return rc;
        if (x < INT32_MIN || x > INT32_MAX)
            return corrupt(d, "Int32 out of range");
        out->u.i32 = (int32_t)x;
        return LDR_OK;
    case LDR_TYPE_INT64:
        return get_varint_i64(d, &out->u.i64);
    case LDR_TYPE_UNIX_TIMESTAMP:
        return get_varint_i64(d, &out->u.ts);
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        return get_string(d, out);
    default:
        return get_fixed(d, out);
    }
}

static bool is_null_bit(const uint8_t *bitmap, size_t i)
{
    return bitmap && (bitmap[i / 8] >> (i % 8) & 1);
}

/* Payload bytes of a fixed-width scalar type, 0 for varints and strings. */
static size_t fixed_width(ldr_type t)
{
    return t == LDR_TYPE_FLOAT32 ? 4 : t == LDR_TYPE_FLOAT64 ? 8 : t == LDR_TYPE_BOOL ? 1 : 0;
}

/* List elements of a fixed-width type (Float32, Float64, Bool): the bytes of every
 * non-null element are checked at once, then decoded in a tight loop, since embeddings
 * of hundreds of floats are the common long lists (callgrind: 73 -> 18 instructions per
 * float of a 512-float list). */
static ldr_code get_fixed_elems(dec *d, ldr_type elem, size_t width, const uint8_t *bitmap,
                                size_t n, ldr_value *items)
{
    size_t present = n;
    for (size_t i = 0; bitmap && i < n; i++)
        present -= is_null_bit(bitmap, i);
    const uint8_t *p;
    if (present > ldr__online_rd_left(&d->r) / width ||
        !ldr__online_rd_bytes(&d->r, present * width, &p))
        return corrupt(d, "truncated list elements");
    for (size_t i = 0; i < n; i++) {
        ldr_value *v = &items[i];
        memset(v, 0, sizeof *v);
        v->type = elem;
        if (is_null_bit(bitmap, i)) {
            v->is_null = true;
        } else if (elem == LDR_TYPE_FLOAT32) {
            uint32_t bits =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&v->u.f32, &bits, 4);
            p += 4;
        } else if (elem == LDR_TYPE_FLOAT64) {
            uint64_t bits = 0;
            for (int k = 7; k >= 0; k--)
                bits = bits << 8 | p[k];
            memcpy(&v->u.f64, &bits, 8);
            p += 8;
        } else if (*p > 1) {
            d->r.pos = (size_t)(p - d->r.p);
            return corrupt(d, "Bool byte other than 0 or 1");
        } else {
            v->u.b = *p++ == 1;
        }
    }
    return LDR_OK;
}

/* List elements of a varint or length-prefixed type, one by one. */
static ldr_code get_var_elems(dec *d, ldr_type elem, const uint8_t *bitmap, size_t n,
                              ldr_value *items)
{
    for (size_t i = 0; i < n; i++) {
        if (is_null_bit(bitmap, i)) {
            items[i] = ldr_value_null(elem);
            continue;
        }
        ldr_code rc = get_scalar(d, elem, &items[i]);
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}

/* Decodes a list body of `body_len` bytes (already bounds-checked) of list type t. */
static ldr_code get_list_body(dec *d, ldr_type t, size_t body_len, ldr_value *out)
{
    size_t end = d->r.pos + body_len;
    dec sub = *d;
    sub.r.len = end; /* the body is a window of the row: offsets stay row offsets */
    uint64_t head;
    if (!ldr__online_rd_varint(&sub.r, &head))
        return corrupt(&sub, "truncated list header");
    uint64_t n = head >> 1;
    bool has_nulls = head & 1;
    size_t left = ldr__online_rd_left(&sub.r);
    /* Each element takes a bitmap bit (nulls) or at least one byte: bound n first. */
    if (has_nulls ? n / 8 > left : n > left)
        return corrupt(&sub, "list length larger than its body");
    const uint8_t *bitmap = NULL;
    if (has_nulls && !ldr__online_rd_bytes(&sub.r, (size_t)((n + 7) / 8), &bitmap))
        return corrupt(&sub, "truncated list null bitmap");
    ldr_value *items = ldr_arena_alloc(d->a, (size_t)n * sizeof *items);
    ldr_type elem = ldr_type_elem(t);
    size_t width = fixed_width(elem);
    ldr_code rc = width ? get_fixed_elems(&sub, elem, width, bitmap, (size_t)n, items)
                        : get_var_elems(&sub, elem, bitmap, (size_t)n, items);
    if (rc != LDR_OK)
        return rc;
    if (sub.r.pos != end)
        return corrupt(&sub, "list body has trailing bytes");
    d->r.pos = end;
    memset(out, 0, sizeof *out);
    out->type = t;
    out->u.list.items = items;
    out->u.list.n = (size_t)n;
    return LDR_OK;
}

/* Reads a list's body length and checks it against the row. */
static ldr_code get_list_len(dec *d, size_t *out)
{
    uint64_t len;
    if (!ldr__online_rd_varint(&d->r, &len) || len > ldr__online_rd_left(&d->r))
        return corrupt(d, "truncated list");
    *out = (size_t)len;
    return LDR_OK;
}

/* Decodes the payload of an entry tagged `tag` (not null). */
static ldr_code get_payload(dec *d, ldr_type tag, ldr_value *out)
{
    if (!ldr_type_is_list(tag))
        return get_scalar(d, tag, out);
    size_t len = 0;
    ldr_code rc = get_list_len(d, &len);
    return rc == LDR_OK ? get_list_body(d, tag, len, out) : rc;
}

/* Skips the payload of an entry that nobody asked for. */
static ldr_code skip_payload(dec *d, ldr_type tag)
{
    size_t len = 0;
    const uint8_t *p;
    switch (tag) {
    case LDR_TYPE_FLOAT32:
        len = 4;
        break;
    case LDR_TYPE_FLOAT64:
        len = 8;
        break;
    case LDR_TYPE_BOOL:
        len = 1;
        break;
    case LDR_TYPE_INT32:
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP: {
        int64_t x;
        return get_varint_i64(d, &x);
    }
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        uint64_t n;
        if (!ldr__online_rd_varint(&d->r, &n) || n > ldr__online_rd_left(&d->r))
            return corrupt(d, "truncated string");
        len = (size_t)n;
        break;
    }
    default: {
        ldr_code rc = get_list_len(d, &len);
        if (rc != LDR_OK)
            return rc;
    }
    }
    return ldr__online_rd_bytes(&d->r, len, &p) ? LDR_OK : corrupt(d, "truncated value");
}

/* Reads the version and entry count. */
static ldr_code get_header(dec *d, size_t *count)
{
    const uint8_t *v;
    if (!ldr__online_rd_bytes(&d->r, 1, &v))
        return corrupt(d, "empty row");
    if (*v != ROW_VERSION)
        return ldr_err_setf(d->err, LDR_ECORRUPT, "online row: unknown format version %u",
                            (unsigned)*v);
    uint64_t n;
    if (!ldr__online_rd_varint(&d->r, &n) || n > ldr__online_rd_left(&d->r) / ENTRY_MIN_LEN)
        return corrupt(d, "entry count larger than the row");
    *count = (size_t)n;
    return LDR_OK;
}

/* Reads an entry's hash and tag. */
static ldr_code get_entry_head(dec *d, unsigned *tag)
{
    const uint8_t *t;
    if (!ldr__online_rd_u32(&d->r, &d->hash) || !ldr__online_rd_bytes(&d->r, 1, &t))
        return corrupt(d, "truncated entry");
    if (!tag_valid(*t))
        return corrupt(d, "unknown type tag");
    *tag = *t;
    return LDR_OK;
}

/* ---- Type conversion on read ----------------------------------------------------------- */

static bool is_number(ldr_type t)
{
    return t == LDR_TYPE_INT32 || t == LDR_TYPE_INT64 || t == LDR_TYPE_FLOAT32 ||
           t == LDR_TYPE_FLOAT64;
}

/* An integral, finite double in int64 range, and not -0.0. */
static bool f64_to_i64_exact(double x, int64_t *out)
{
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return false; /* also NaN */
    int64_t i = (int64_t)x;
    if ((double)i != x || (x == 0 && signbit(x)))
        return false;
    *out = i;
    return true;
}

static bool from_i64(int64_t x, ldr_type want, ldr_value *out)
{
    int64_t back;
    switch (want) {
    case LDR_TYPE_INT32:
        out->u.i32 = (int32_t)x;
        return x >= INT32_MIN && x <= INT32_MAX;
    case LDR_TYPE_INT64:
        out->u.i64 = x;
        return true;
    case LDR_TYPE_FLOAT32:
        out->u.f32 = (float)x;
        return f64_to_i64_exact((double)out->u.f32, &back) && back == x;
    default:
        out->u.f64 = (double)x;
        return f64_to_i64_exact(out->u.f64, &back) && back == x;
    }
}

static bool from_f64(double x, ldr_type want, ldr_value *out)
{
    int64_t i;
    switch (want) {
    case LDR_TYPE_INT32:
    case LDR_TYPE_INT64:
        return f64_to_i64_exact(x, &i) && from_i64(i, want, out);
    case LDR_TYPE_FLOAT32:
        if (!isnan(x) && !isinf(x) && fabs(x) > (double)FLT_MAX)
            return false; /* out of float's range: the conversion itself is undefined */
        out->u.f32 = (float)x;
        return isnan(x) || (double)out->u.f32 == x;
    default:
        out->u.f64 = x;
        return true;
    }
}

/* Converts a non-null scalar; false when the value does not survive exactly. */
static bool convert_scalar(const ldr_value *in, ldr_type want, ldr_value *out)
{
    if (in->type == want) {
        *out = *in;
        return true;
    }
    memset(out, 0, sizeof *out);
    out->type = want;
    if (in->type == LDR_TYPE_STRING && want == LDR_TYPE_BYTES) {
        out->u.str = in->u.str;
        return true;
    }
    if (!is_number(in->type) || !is_number(want))
        return false;
    switch (in->type) {
    case LDR_TYPE_INT32:
        return from_i64(in->u.i32, want, out);
    case LDR_TYPE_INT64:
        return from_i64(in->u.i64, want, out);
    case LDR_TYPE_FLOAT32:
        return from_f64((double)in->u.f32, want, out);
    default:
        return from_f64(in->u.f64, want, out);
    }
}

bool ldr__online_convert(const ldr_value *in, ldr_type want, ldr_arena *a, ldr_value *out)
{
    if (in->type == want) {
        *out = *in;
        return true;
    }
    if (ldr_type_is_list(in->type) != ldr_type_is_list(want))
        return false;
    if (!ldr_type_is_list(want))
        return convert_scalar(in, want, out);
    ldr_type elem = ldr_type_elem(want);
    size_t n = in->u.list.n;
    ldr_value *items = ldr_arena_calloc(a, n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        const ldr_value *e = &in->u.list.items[i];
        if (e->is_null)
            items[i] = ldr_value_null(elem);
        else if (!convert_scalar(e, elem, &items[i]))
            return false;
    }
    memset(out, 0, sizeof *out);
    out->type = want;
    out->u.list.items = items;
    out->u.list.n = n;
    return true;
}

/* ---- Decoding entry points ------------------------------------------------------------- */

void ldr_online_row_proj_init(ldr_online_row_proj *p, const char *const *names,
                              const ldr_type *types, size_t n, ldr_arena *a)
{
    hash_ix *sorted = ldr_arena_alloc(a, (n + 1) * sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (hash_ix){name_hash(names[i]), i};
    sort_hash_ix(sorted, n);
    p->n = n;
    p->types = types;
    p->hashes = ldr_arena_alloc(a, (n + 1) * sizeof *p->hashes);
    p->index = ldr_arena_alloc(a, (n + 1) * sizeof *p->index);
    for (size_t i = 0; i < n; i++) {
        p->hashes[i] = sorted[i].hash;
        p->index[i] = sorted[i].index;
    }
}

/* First position k with p->hashes[k] >= h. */
static size_t proj_lower_bound(const ldr_online_row_proj *p, uint32_t h)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->hashes[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Stores the entry's value (stored as `v`, or null) into every request of its hash. */
static ldr_code assign(const ldr_online_row_proj *p, dec *d, size_t k, const ldr_value *v,
                       bool *seen, ldr_value *out_values, bool *out_present)
{
    for (; k < p->n && p->hashes[k] == d->hash; k++) {
        size_t i = p->index[k];
        if (seen[i])
            return corrupt(d, "feature stored twice");
        seen[i] = true;
        if (!v)
            out_present[i] = true; /* a stored null: present, of the requested type */
        else
            out_present[i] = ldr__online_convert(v, p->types[i], d->a, &out_values[i]);
        if (!out_present[i] || !v)
            out_values[i] = ldr_value_null(p->types[i]);
    }
    return LDR_OK;
}

ldr_code ldr_online_row_decode(const ldr_online_row_proj *p, const void *row, size_t len,
                               ldr_arena *a, ldr_value *out_values, bool *out_present, ldr_err *err)
{
    dec d = {{row, len, 0}, len, a, 0, err};
    for (size_t i = 0; i < p->n; i++) {
        out_values[i] = ldr_value_null(p->types[i]);
        out_present[i] = false;
    }
    size_t count;
    ldr_code rc = get_header(&d, &count);
    bool *seen = ldr_arena_calloc(a, p->n, sizeof *seen);
    for (size_t e = 0; e < count && rc == LDR_OK; e++) {
        unsigned tag;
        if ((rc = get_entry_head(&d, &tag)) != LDR_OK)
            break;
        size_t k = proj_lower_bound(p, d.hash);
        bool wanted = k < p->n && p->hashes[k] == d.hash;
        ldr_value v;
        /* Fast path, the common case: a float stored as the type requested, requested
         * once. The same result as get_payload + assign (a same-type conversion is a
         * copy); out_values[i] already holds a null of that type. */
        if (wanted && (tag == LDR_TYPE_FLOAT64 || tag == LDR_TYPE_FLOAT32) &&
            p->types[p->index[k]] == (ldr_type)tag &&
            (k + 1 == p->n || p->hashes[k + 1] != d.hash)) {
            size_t i = p->index[k];
            if (seen[i]) {
                rc = corrupt(&d, "feature stored twice");
                break;
            }
            seen[i] = true;
            if (tag == LDR_TYPE_FLOAT64) {
                uint64_t bits;
                if (!ldr__online_rd_u64(&d.r, &bits)) {
                    rc = corrupt(&d, "truncated Float64");
                    break;
                }
                memcpy(&out_values[i].u.f64, &bits, 8);
            } else {
                uint32_t bits;
                if (!ldr__online_rd_u32(&d.r, &bits)) {
                    rc = corrupt(&d, "truncated Float32");
                    break;
                }
                memcpy(&out_values[i].u.f32, &bits, 4);
            }
            out_values[i].is_null = false;
            out_present[i] = true;
            continue;
        }
        if (!wanted)
            rc = tag == TAG_NULL ? LDR_OK : skip_payload(&d, (ldr_type)tag);
        else if (tag == TAG_NULL)
            rc = assign(p, &d, k, NULL, seen, out_values, out_present);
        else if ((rc = get_payload(&d, (ldr_type)tag, &v)) == LDR_OK)
            rc = assign(p, &d, k, &v, seen, out_values, out_present);
    }
    if (rc == LDR_OK && ldr__online_rd_left(&d.r) != 0)
        rc = corrupt(&d, "trailing bytes");
    return rc;
}

ldr_code ldr_online_row_entries(const void *row, size_t len, ldr_arena *a,
                                ldr_online_row_entry **out, size_t *out_n, ldr_err *err)
{
    dec d = {{row, len, 0}, len, a, 0, err};
    size_t count;
    *out = NULL;
    *out_n = 0;
    ldr_code rc = get_header(&d, &count);
    if (rc != LDR_OK)
        return rc;
    ldr_online_row_entry *entries = ldr_arena_calloc(a, count, sizeof *entries);
    for (size_t e = 0; e < count && rc == LDR_OK; e++) {
        unsigned tag;
        if ((rc = get_entry_head(&d, &tag)) != LDR_OK)
            break;
        entries[e].hash = d.hash;
        if (tag == TAG_NULL)
            entries[e].value = ldr_value_null(LDR_TYPE_INVALID);
        else
            rc = get_payload(&d, (ldr_type)tag, &entries[e].value);
    }
    if (rc == LDR_OK && ldr__online_rd_left(&d.r) != 0)
        rc = corrupt(&d, "trailing bytes");
    if (rc == LDR_OK) {
        *out = entries;
        *out_n = count;
    }
    return rc;
}
