/*
 * col.c -- typed columns and record batches (layout in col.h).
 *
 * Buffers grow geometrically and are 64-byte aligned (ldr_xaligned_realloc). The
 * validity bitmap is created lazily on the first null, so all-valid columns carry none.
 * ldr_col_take is the gather primitive of joins: it copies fixed-width values with one
 * loop per type and rebuilds string/list payloads, keeping dictionaries as dictionaries.
 * Hashing and equality are by value (dictionaries resolved), so keys from a dictionary
 * column and a plain column of the same type compare as expected.
 */
#include "col/col.h"

#include <math.h>
#include <string.h>

size_t ldr_type_width(ldr_type t)
{
    switch (t) {
    case LDR_TYPE_INT32:
    case LDR_TYPE_FLOAT32:
        return 4;
    case LDR_TYPE_INT64:
    case LDR_TYPE_FLOAT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        return 8;
    case LDR_TYPE_BOOL:
        return 1;
    default:
        return 0;
    }
}

static bool is_varlen(ldr_type t)
{
    return t == LDR_TYPE_STRING || t == LDR_TYPE_BYTES;
}

/* Width of data[] elements: dictionary indices are int32. */
static size_t data_width(const ldr_col *c)
{
    return c->dict ? sizeof(int32_t) : ldr_type_width(c->type);
}

static bool has_offsets(const ldr_col *c)
{
    return !c->dict && (is_varlen(c->type) || ldr_type_is_list(c->type));
}

ldr_col *ldr_col_new(ldr_type t, size_t cap)
{
    LDR_ASSERT(ldr_type_valid(t));
    ldr_col *c = ldr_xcalloc(1, sizeof *c);
    c->type = t;
    if (ldr_type_is_list(t))
        c->child = ldr_col_new(ldr_type_elem(t), cap);
    if (has_offsets(c)) {
        c->offsets = ldr_xaligned_realloc(NULL, 0, sizeof(int64_t));
        c->offsets[0] = 0;
    }
    ldr_col_reserve(c, cap);
    return c;
}

ldr_col *ldr_col_new_dict(ldr_type t, ldr_col *dict, size_t cap)
{
    LDR_ASSERT(dict && dict->type == t && !ldr_type_is_list(t) && !dict->dict);
    ldr_col *c = ldr_xcalloc(1, sizeof *c);
    c->type = t;
    c->dict = dict;
    ldr_col_reserve(c, cap);
    return c;
}

void ldr_col_free(ldr_col *c)
{
    if (!c)
        return;
    ldr_free(c->valid);
    ldr_free(c->data);
    ldr_free(c->offsets);
    ldr_free(c->bytes);
    ldr_col_free(c->child);
    ldr_col_free(c->dict);
    ldr_free(c);
}

void ldr_col_reserve(ldr_col *c, size_t rows)
{
    LDR_ASSERT(rows <= SIZE_MAX / 16 - c->n);
    size_t need = c->n + rows;
    if (need <= c->cap && (c->cap || need == 0))
        return;
    size_t cap = c->cap ? c->cap : 16;
    while (cap < need)
        cap *= 2;
    size_t w = data_width(c);
    if (w)
        c->data = ldr_xaligned_realloc(c->data, c->n * w, cap * w);
    if (has_offsets(c))
        c->offsets = ldr_xaligned_realloc(c->offsets, (c->n + 1) * sizeof(int64_t),
                                          (cap + 1) * sizeof(int64_t));
    if (c->valid) {
        size_t old = (c->cap + 7) / 8, now = (cap + 7) / 8;
        c->valid = ldr_xaligned_realloc(c->valid, old, now);
        memset(c->valid + old, 0xff, now - old);
    }
    c->cap = cap;
}

void ldr_col_reserve_bytes(ldr_col *c, size_t len)
{
    LDR_ASSERT(len <= SIZE_MAX / 4 - c->bytes_len);
    size_t need = c->bytes_len + len;
    if (need <= c->bytes_cap && c->bytes)
        return;
    size_t cap = c->bytes_cap ? c->bytes_cap : 256;
    while (cap < need)
        cap *= 2;
    c->bytes = ldr_xaligned_realloc(c->bytes, c->bytes_len, cap);
    c->bytes_cap = cap;
}

void ldr_col_set_valid(ldr_col *c, size_t i, bool valid)
{
    LDR_DEBUG_ASSERT(i < c->cap);
    if (!c->valid) {
        if (valid)
            return;
        (void)ldr_col_valid_bits(c);
    }
    uint8_t bit = (uint8_t)(1u << (i & 7));
    bool was = (c->valid[i >> 3] & bit) != 0;
    if (valid && !was) {
        c->valid[i >> 3] |= bit;
        c->null_count--;
    } else if (!valid && was) {
        c->valid[i >> 3] &= (uint8_t)~bit;
        c->null_count++;
    }
}

uint8_t *ldr_col_valid_bits(ldr_col *c)
{
    if (!c->valid) {
        size_t bytes = (c->cap + 7) / 8;
        c->valid = ldr_xaligned_realloc(NULL, 0, bytes ? bytes : 1);
        memset(c->valid, 0xff, bytes ? bytes : 1);
    }
    return c->valid;
}

void ldr_col_clear(ldr_col *c)
{
    LDR_ASSERT(!c->dict);
    ldr_free(c->valid); /* like a new column: no bitmap until the first null */
    c->valid = NULL;
    c->n = 0;
    c->null_count = 0;
    c->bytes_len = 0;
    if (c->offsets)
        c->offsets[0] = 0;
    if (c->child)
        ldr_col_clear(c->child);
}

/* Finishes a row whose value slot (if any) was written: advances n and the offsets. */
static void end_row(ldr_col *c)
{
    if (has_offsets(c))
        c->offsets[c->n + 1] =
            ldr_type_is_list(c->type) ? (int64_t)c->child->n : (int64_t)c->bytes_len;
    c->n++;
}

void ldr_col_append_null(ldr_col *c)
{
    ldr_col_reserve(c, 1);
    size_t w = data_width(c);
    if (w)
        memset((char *)c->data + c->n * w, 0, w);
    ldr_col_set_valid(c, c->n, false);
    end_row(c);
}

#define APPEND_FIXED(c, ctype, v)               \
    do {                                        \
        ldr_col_reserve(c, 1);                  \
        ((ctype *)(c)->data)[(c)->n] = (v);     \
        if ((c)->valid)                         \
            ldr_col_set_valid(c, (c)->n, true); \
        (c)->n++;                               \
    } while (0)

void ldr_col_append_i32(ldr_col *c, int32_t v)
{
    LDR_ASSERT(c->type == LDR_TYPE_INT32 && !c->dict);
    APPEND_FIXED(c, int32_t, v);
}

void ldr_col_append_i64(ldr_col *c, int64_t v)
{
    LDR_ASSERT((c->type == LDR_TYPE_INT64 || c->type == LDR_TYPE_UNIX_TIMESTAMP) && !c->dict);
    APPEND_FIXED(c, int64_t, v);
}

void ldr_col_append_f32(ldr_col *c, float v)
{
    LDR_ASSERT(c->type == LDR_TYPE_FLOAT32 && !c->dict);
    APPEND_FIXED(c, float, v);
}

void ldr_col_append_f64(ldr_col *c, double v)
{
    LDR_ASSERT(c->type == LDR_TYPE_FLOAT64 && !c->dict);
    APPEND_FIXED(c, double, v);
}

void ldr_col_append_bool(ldr_col *c, bool v)
{
    LDR_ASSERT(c->type == LDR_TYPE_BOOL && !c->dict);
    APPEND_FIXED(c, uint8_t, v ? 1 : 0);
}

void ldr_col_append_index(ldr_col *c, int32_t index)
{
    LDR_ASSERT(c->dict && index >= 0 && (size_t)index < c->dict->n);
    APPEND_FIXED(c, int32_t, index);
}

void ldr_col_append_str(ldr_col *c, const void *ptr, size_t len)
{
    LDR_ASSERT(is_varlen(c->type) && !c->dict);
    ldr_col_reserve(c, 1);
    ldr_col_reserve_bytes(c, len);
    if (len)
        memcpy(c->bytes + c->bytes_len, ptr, len);
    c->bytes_len += len;
    if (c->valid)
        ldr_col_set_valid(c, c->n, true);
    end_row(c);
}

void ldr_col_append_list(ldr_col *c)
{
    LDR_ASSERT(ldr_type_is_list(c->type));
    ldr_col_reserve(c, 1);
    if (c->valid)
        ldr_col_set_valid(c, c->n, true);
    end_row(c);
}

void ldr_col_append_value(ldr_col *c, const ldr_value *v)
{
    if (v->is_null) {
        ldr_col_append_null(c);
        return;
    }
    LDR_ASSERT(v->type == c->type);
    if (c->dict) {
        /* Appending raw values to a dictionary column: decode it first (rare path). */
        ldr_col_decode_dict(c);
    }
    switch (c->type) {
    case LDR_TYPE_INT32:
        ldr_col_append_i32(c, v->u.i32);
        break;
    case LDR_TYPE_INT64:
        ldr_col_append_i64(c, v->u.i64);
        break;
    case LDR_TYPE_UNIX_TIMESTAMP:
        ldr_col_append_i64(c, v->u.ts);
        break;
    case LDR_TYPE_FLOAT32:
        ldr_col_append_f32(c, v->u.f32);
        break;
    case LDR_TYPE_FLOAT64:
        ldr_col_append_f64(c, v->u.f64);
        break;
    case LDR_TYPE_BOOL:
        ldr_col_append_bool(c, v->u.b);
        break;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        ldr_col_append_str(c, v->u.str.ptr, v->u.str.len);
        break;
    default:
        LDR_ASSERT(ldr_type_is_list(c->type));
        for (size_t i = 0; i < v->u.list.n; i++)
            ldr_col_append_value(c->child, &v->u.list.items[i]);
        ldr_col_append_list(c);
        break;
    }
}

void ldr_col_append_row(ldr_col *dst, const ldr_col *src, size_t row)
{
    LDR_ASSERT(dst->type == src->type && row < src->n);
    if (!ldr_col_valid(src, row)) {
        ldr_col_append_null(dst);
        return;
    }
    if (dst->dict)
        ldr_col_decode_dict(dst);
    switch (dst->type) {
    case LDR_TYPE_INT32:
        ldr_col_append_i32(dst, ldr_col_i32(src, row));
        break;
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        ldr_col_append_i64(dst, ldr_col_i64(src, row));
        break;
    case LDR_TYPE_FLOAT32:
        ldr_col_append_f32(dst, ldr_col_f32(src, row));
        break;
    case LDR_TYPE_FLOAT64:
        ldr_col_append_f64(dst, ldr_col_f64(src, row));
        break;
    case LDR_TYPE_BOOL:
        ldr_col_append_bool(dst, ldr_col_bool(src, row));
        break;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t len;
        const char *p = ldr_col_str(src, row, &len);
        ldr_col_append_str(dst, p, len);
        break;
    }
    default: {
        size_t b, e;
        ldr_col_list(src, row, &b, &e);
        for (size_t k = b; k < e; k++)
            ldr_col_append_row(dst->child, src->child, k);
        ldr_col_append_list(dst);
        break;
    }
    }
}

/* A deep copy of a plain column (used for dictionaries shared by take). */
static ldr_col *col_copy(const ldr_col *src)
{
    ldr_col *c = ldr_col_new(src->type, src->n);
    for (size_t i = 0; i < src->n; i++)
        ldr_col_append_row(c, src, i);
    return c;
}

ldr_col *ldr_col_take(const ldr_col *src, const int64_t *rows, size_t n)
{
    ldr_col *c;
    if (src->dict) {
        c = ldr_col_new_dict(src->type, col_copy(src->dict), n);
        int32_t *out = c->data;
        const int32_t *in = src->data;
        for (size_t i = 0; i < n; i++) {
            int64_t r = rows[i];
            if (r < 0 || !ldr_col_valid(src, (size_t)r)) {
                out[i] = 0;
                ldr_col_set_valid(c, i, false);
            } else {
                out[i] = in[r];
            }
        }
        c->n = n;
        return c;
    }
    size_t w = ldr_type_width(src->type);
    c = ldr_col_new(src->type, n);
    if (w) {
        /* Fixed width: a straight gather, then the validity of the misses. */
        char *out = c->data;
        const char *in = src->data;
        for (size_t i = 0; i < n; i++) {
            int64_t r = rows[i];
            if (r < 0 || !ldr_col_valid(src, (size_t)r)) {
                memset(out + i * w, 0, w);
                ldr_col_set_valid(c, i, false);
            } else {
                memcpy(out + i * w, in + (size_t)r * w, w);
            }
        }
        c->n = n;
        return c;
    }
    for (size_t i = 0; i < n; i++) {
        if (rows[i] < 0)
            ldr_col_append_null(c);
        else
            ldr_col_append_row(c, src, (size_t)rows[i]);
    }
    return c;
}

void ldr_col_decode_dict(ldr_col *c)
{
    if (!c->dict)
        return;
    ldr_col *dict = c->dict;
    int32_t *idx = c->data;
    uint8_t *valid = c->valid;
    size_t n = c->n, nulls = c->null_count;
    ldr_col *plain = ldr_col_new(c->type, n);
    for (size_t i = 0; i < n; i++) {
        if (valid && !((valid[i >> 3] >> (i & 7)) & 1))
            ldr_col_append_null(plain);
        else
            ldr_col_append_row(plain, dict, (size_t)idx[i]);
    }
    LDR_ASSERT(plain->null_count == nulls);
    ldr_free(c->data);
    ldr_free(c->valid);
    ldr_col_free(dict);
    *c = *plain;
    ldr_free(plain);
}

/* ---- access ------------------------------------------------------------------------------- */

void ldr_col_get(const ldr_col *c, size_t i, ldr_arena *a, ldr_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = c->type;
    if (!ldr_col_valid(c, i)) {
        out->is_null = true;
        return;
    }
    switch (c->type) {
    case LDR_TYPE_INT32:
        out->u.i32 = ldr_col_i32(c, i);
        return;
    case LDR_TYPE_INT64:
        out->u.i64 = ldr_col_i64(c, i);
        return;
    case LDR_TYPE_UNIX_TIMESTAMP:
        out->u.ts = ldr_col_i64(c, i);
        return;
    case LDR_TYPE_FLOAT32:
        out->u.f32 = ldr_col_f32(c, i);
        return;
    case LDR_TYPE_FLOAT64:
        out->u.f64 = ldr_col_f64(c, i);
        return;
    case LDR_TYPE_BOOL:
        out->u.b = ldr_col_bool(c, i);
        return;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        out->u.str.ptr = ldr_col_str(c, i, &out->u.str.len);
        return;
    default: {
        size_t b, e;
        ldr_col_list(c, i, &b, &e);
        ldr_value *items = ldr_arena_calloc(a, e - b ? e - b : 1, sizeof *items);
        for (size_t k = b; k < e; k++)
            ldr_col_get(c->child, k, a, &items[k - b]);
        out->u.list.items = items;
        out->u.list.n = e - b;
        return;
    }
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t ldr_col_hash(const ldr_col *c, size_t i)
{
    if (!ldr_col_valid(c, i))
        return 0x9e3779b97f4a7c15ULL;
    switch (c->type) {
    case LDR_TYPE_INT32:
        return mix((uint64_t)(int64_t)ldr_col_i32(c, i));
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        return mix((uint64_t)ldr_col_i64(c, i));
    case LDR_TYPE_BOOL:
        return mix(ldr_col_bool(c, i) ? 1u : 2u);
    case LDR_TYPE_FLOAT32: {
        double d = (double)ldr_col_f32(c, i);
        if (d == 0)
            d = 0; /* -0 == 0 */
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        return mix(isnan(d) ? 0x7ff8000000000000ULL : u);
    }
    case LDR_TYPE_FLOAT64: {
        double d = ldr_col_f64(c, i);
        if (d == 0)
            d = 0;
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        return mix(isnan(d) ? 0x7ff8000000000000ULL : u);
    }
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t len;
        const char *p = ldr_col_str(c, i, &len);
        return mix(ldr_hash_bytes(p, len));
    }
    default: {
        size_t b, e;
        ldr_col_list(c, i, &b, &e);
        uint64_t h = mix(e - b);
        for (size_t k = b; k < e; k++)
            h = mix(h ^ ldr_col_hash(c->child, k));
        return h;
    }
    }
}

bool ldr_col_eq(const ldr_col *a, size_t i, const ldr_col *b, size_t j)
{
    LDR_ASSERT(a->type == b->type);
    bool va = ldr_col_valid(a, i), vb = ldr_col_valid(b, j);
    if (!va || !vb)
        return va == vb;
    switch (a->type) {
    case LDR_TYPE_INT32:
        return ldr_col_i32(a, i) == ldr_col_i32(b, j);
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        return ldr_col_i64(a, i) == ldr_col_i64(b, j);
    case LDR_TYPE_BOOL:
        return ldr_col_bool(a, i) == ldr_col_bool(b, j);
    case LDR_TYPE_FLOAT32: {
        float x = ldr_col_f32(a, i), y = ldr_col_f32(b, j);
        return x == y || (isnan(x) && isnan(y));
    }
    case LDR_TYPE_FLOAT64: {
        double x = ldr_col_f64(a, i), y = ldr_col_f64(b, j);
        return x == y || (isnan(x) && isnan(y));
    }
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t la, lb;
        const char *pa = ldr_col_str(a, i, &la), *pb = ldr_col_str(b, j, &lb);
        return la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
    }
    default: {
        size_t ab, ae, bb, be;
        ldr_col_list(a, i, &ab, &ae);
        ldr_col_list(b, j, &bb, &be);
        if (ae - ab != be - bb)
            return false;
        for (size_t k = 0; k < ae - ab; k++)
            if (!ldr_col_eq(a->child, ab + k, b->child, bb + k))
                return false;
        return true;
    }
    }
}

/* ---- batches ------------------------------------------------------------------------------ */

ldr_batch *ldr_batch_new(void)
{
    return ldr_xcalloc(1, sizeof(ldr_batch));
}

void ldr_batch_free(ldr_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_cols; i++) {
        ldr_free(b->names[i]);
        ldr_col_free(b->cols[i]);
    }
    ldr_free(b->names);
    ldr_free(b->cols);
    ldr_free(b);
}

void ldr_batch_add(ldr_batch *b, const char *name, ldr_col *col)
{
    if (b->n_cols == 0)
        b->n_rows = col->n;
    LDR_ASSERT(col->n == b->n_rows);
    if (b->n_cols == b->cap_cols) {
        b->cap_cols = b->cap_cols ? b->cap_cols * 2 : 8;
        b->names = ldr_xreallocarray(b->names, b->cap_cols, sizeof *b->names);
        b->cols = ldr_xreallocarray(b->cols, b->cap_cols, sizeof *b->cols);
    }
    b->names[b->n_cols] = ldr_xstrdup(name);
    b->cols[b->n_cols] = col;
    b->n_cols++;
}

int ldr_batch_find(const ldr_batch *b, const char *name)
{
    for (size_t i = 0; i < b->n_cols; i++)
        if (!strcmp(b->names[i], name))
            return (int)i;
    return -1;
}

ldr_col *ldr_batch_remove(ldr_batch *b, size_t i)
{
    LDR_ASSERT(i < b->n_cols);
    ldr_col *c = b->cols[i];
    ldr_free(b->names[i]);
    memmove(b->names + i, b->names + i + 1, (b->n_cols - i - 1) * sizeof *b->names);
    memmove(b->cols + i, b->cols + i + 1, (b->n_cols - i - 1) * sizeof *b->cols);
    b->n_cols--;
    return c;
}

void ldr_batch_rename(ldr_batch *b, size_t i, const char *name)
{
    LDR_ASSERT(i < b->n_cols);
    ldr_free(b->names[i]);
    b->names[i] = ldr_xstrdup(name);
}

ldr_code ldr_batch_append(ldr_batch *dst, const ldr_batch *src, ldr_err *err)
{
    if (dst->n_cols != src->n_cols)
        return ldr_err_setf(err, LDR_EINVAL, "cannot append: %zu columns vs %zu", src->n_cols,
                            dst->n_cols);
    int *map = ldr_xcalloc(src->n_cols ? src->n_cols : 1, sizeof *map);
    for (size_t i = 0; i < dst->n_cols; i++) {
        int k = ldr_batch_find(src, dst->names[i]);
        if (k < 0) {
            ldr_free(map);
            return ldr_err_setf(err, LDR_EINVAL, "cannot append: column '%s' is missing",
                                dst->names[i]);
        }
        if (src->cols[k]->type != dst->cols[i]->type) {
            ldr_free(map);
            return ldr_err_setf(err, LDR_EINVAL, "cannot append: column '%s' is %s here, %s there",
                                dst->names[i], ldr_type_name(src->cols[k]->type),
                                ldr_type_name(dst->cols[i]->type));
        }
        map[i] = k;
    }
    for (size_t i = 0; i < dst->n_cols; i++) {
        ldr_col *d = dst->cols[i];
        const ldr_col *s = src->cols[map[i]];
        ldr_col_reserve(d, s->n);
        for (size_t r = 0; r < s->n; r++)
            ldr_col_append_row(d, s, r);
    }
    dst->n_rows += src->n_rows;
    ldr_free(map);
    return LDR_OK;
}
