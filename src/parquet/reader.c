/*
 * reader.c -- the Parquet reader: opening (footer validation), column-chunk decoding into
 * ldr_col, row-group pruning on statistics, and parallel decoding of (row group, column)
 * units.
 *
 * A chunk is decoded by walking its pages from the first header (never trusting that
 * data_page_offset names a data page): the optional dictionary page becomes a column of
 * Larder values; every data page (v1 or v2) yields repetition and definition levels (one
 * byte each, counted while decoded, and not written at all when every entry is present)
 * and the page's non-null values, decoded (PLAIN here; RLE hybrid, delta and
 * byte-stream-split through parquet_int.h) and converted to Larder's representation into
 * a staging column (or straight into the output for flat pages without nulls); assembly
 * then places nulls from the definition levels (clearing bitmap bits in place) and list
 * boundaries from the repetition levels. Every count
 * read from the file is checked before it sizes an allocation: page entries against the
 * chunk's and row group's totals and LDR__PQ_MAX_PAGE_VALUES, value sections against
 * their bytes, decompressed sizes against LDR__PQ_MAX_PAGE_BYTES and a ratio.
 *
 * Ownership: decoded columns are new ldr_cols owned by the caller's batch (or the
 * caller's column, refilled by ldr_pq_read_chunk); nothing borrows from the file.
 * Thread-safety: the reader is read-only after open; each unit of work owns its scratch
 * buffers (an ldr_pq_scratch), so units run on any thread (a small pthread pool in
 * ldr_pq_read, joined before it returns).
 */
#include "parquet/parquet.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parquet/parquet_int.h"
#include "parquet/reader_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet reader assumes a little-endian host (Parquet data is little-endian)"
#endif

#define MAX_THREADS 64

/* ---- small helpers ------------------------------------------------------------------------ */

static uint32_t u32le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static unsigned bit_width(unsigned max)
{
    unsigned w = 0;
    while (w < 32 && (1u << w) <= max)
        w++;
    return w;
}

/* A reusable scratch allocation (never shrinks; contents not preserved on growth). */
typedef struct scratch {
    void *p;
    size_t cap;
} scratch;

static void *scratch_get(scratch *s, size_t n)
{
    if (n > s->cap || !s->p) {
        ldr_free(s->p);
        s->p = ldr_xmalloc(n ? n : 1);
        s->cap = n;
    }
    return s->p;
}

/* Empties a staging column (no nulls, keeps capacity). */
static void col_clear(ldr_col *c)
{
    c->n = 0;
    c->null_count = 0;
    c->bytes_len = 0;
    if (c->offsets)
        c->offsets[0] = 0;
}

/* ---- chunk decoding state ------------------------------------------------------------------ */

/* Scratch buffers of one worker, reused across the chunks it decodes (large buffers come
 * from mmap: reuse saves a page fault per 4 KiB per chunk). Public as ldr_pq_scratch so
 * that callers decoding chunk after chunk (ldr_pq_read_chunk) keep them across calls. */
struct ldr_pq_scratch {
    scratch page;     /* decompressed page */
    scratch rep, def; /* levels, one byte each */
    scratch lv32;     /* BIT_PACKED levels before narrowing */
    scratch idx;
    scratch tmp, i64;
};
typedef struct ldr_pq_scratch workspace;

static void workspace_fini(workspace *ws)
{
    scratch *s[] = {&ws->page, &ws->rep, &ws->def, &ws->lv32, &ws->idx, &ws->tmp, &ws->i64};
    for (size_t i = 0; i < LDR_ARRAY_LEN(s); i++)
        ldr_free(s[i]->p);
}

typedef struct chunk_dec {
    const ldr_pq_reader *r;
    const ldr__pq_colspec *cs;
    const ldr__pq_leaf *lf;
    const ldr__pq_chunk *ck;
    size_t rg;
    int64_t rg_rows;
    bool keep_dict;
    workspace *ws;  /* the worker's scratch buffers */
    ldr_col *stage; /* a page's non-null values (element type) */
    ldr_col *raw;   /* BYTE_ARRAY values before conversion (decimals) */
    ldr_col *dict;  /* dictionary values; owned by out while out_dict */
    bool out_dict;  /* out is a dictionary column over dict (keep_dict) */
    ldr_col *out;
    int64_t seen;        /* level entries (num_values) decoded so far */
    int64_t max_entries; /* lists: the most entries the chunk may expand to */
    size_t base_rows;    /* rows out held before this chunk (earlier row groups) */
    size_t reserve;      /* rows reserved up front in out */
    int64_t rows;
    bool in_list;   /* a list row is open; its elements may continue on the next page */
    bool seen_data; /* a data page was read (a dictionary page must come first) */
} chunk_dec;

/* Values of one page: `n` values of `col`, or indices d->idx[0..n) into d->dict. */
typedef struct page_vals {
    bool indices;
    const ldr_col *col;
    size_t n;
} page_vals;

/* ---- conversions ----------------------------------------------------------------------------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* unscaled * 10^-scale, correctly rounded (strtod for the cases division cannot do). */
static double decimal_i64(int64_t v, int32_t scale)
{
    if (scale == 0)
        return (double)v;
    if (scale <= 22 && v > -(INT64_C(1) << 53) && v < (INT64_C(1) << 53))
        return (double)v / pow10_exact[scale];
    char buf[48];
    snprintf(buf, sizeof buf, "%" PRId64 "e-%" PRId32, v, scale);
    return strtod(buf, NULL);
}

#define DEC_MAX_BYTES 64 /* widest big-endian DECIMAL accepted (154 digits) */

/* A big-endian two's-complement unscaled value of len bytes, as a double. */
static ldr_code decimal_be(const uint8_t *p, size_t len, int32_t scale, double *out, ldr_err *err)
{
    if (len == 0) {
        *out = 0;
        return LDR_OK;
    }
    bool neg = p[0] & 0x80;
    /* Drop sign-extension bytes. */
    while (len > 1 && p[0] == (neg ? 0xff : 0x00) && ((p[1] & 0x80) != 0) == neg)
        p++, len--;
    if (len <= 8) {
        uint64_t u = neg ? UINT64_MAX : 0;
        for (size_t i = 0; i < len; i++)
            u = (u << 8) | p[i];
        *out = decimal_i64((int64_t)u, scale);
        return LDR_OK;
    }
    if (len > DEC_MAX_BYTES)
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "DECIMAL value of %zu bytes is too wide", len);
    /* Magnitude (negate the two's complement), then base-10^9 digits by long division. */
    uint8_t mag[DEC_MAX_BYTES];
    unsigned carry = 1;
    for (size_t i = len; i-- > 0;) {
        unsigned b = neg ? (unsigned)(uint8_t)~p[i] + carry : p[i];
        mag[i] = (uint8_t)b;
        carry = neg ? b >> 8 : 0;
    }
    uint32_t limbs[DEC_MAX_BYTES]; /* little-endian base 1e9 */
    size_t n_limbs = 0;
    for (;;) {
        bool zero = true;
        uint64_t rem = 0;
        for (size_t i = 0; i < len; i++) {
            uint64_t cur = (rem << 8) | mag[i];
            mag[i] = (uint8_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
            zero = zero && mag[i] == 0;
        }
        limbs[n_limbs++] = (uint32_t)rem;
        if (zero)
            break;
    }
    char buf[DEC_MAX_BYTES * 10 + 32];
    size_t pos = 0;
    if (neg)
        buf[pos++] = '-';
    pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%" PRIu32, limbs[n_limbs - 1]);
    for (size_t i = n_limbs - 1; i-- > 0;)
        pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%09" PRIu32, limbs[i]);
    snprintf(buf + pos, sizeof buf - pos, "e-%" PRId32, scale);
    *out = strtod(buf, NULL);
    return LDR_OK;
}

static float half_to_float(uint16_t h)
{
    unsigned exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float f;
    if (exp == 0)
        f = ldexpf((float)mant, -24);
    else if (exp == 31)
        f = mant ? NAN : INFINITY;
    else
        f = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    return (h & 0x8000u) ? -f : f;
}

/* INT96: nanoseconds of the day (LE int64) and Julian day (LE int32), wrapping math. */
static int64_t int96_to_us(const uint8_t *p)
{
    int64_t nanos;
    int32_t day;
    memcpy(&nanos, p, 8);
    memcpy(&day, p + 8, 4);
    uint64_t days = (uint64_t)((int64_t)day - 2440588);
    uint64_t us = days * UINT64_C(86400000000) + (uint64_t)(nanos / 1000);
    return (int64_t)us;
}

static int64_t floor_div(int64_t v, int64_t d)
{
    int64_t q = v / d;
    return (v % d < 0) ? q - 1 : q;
}

static ldr_code out_of_range(ldr_err *err, const char *what, int64_t v)
{
    return ldr_err_setf(err, LDR_EUNSUPPORTED,
                        "%s value %" PRId64 " is outside the UnixTimestamp range", what, v);
}

/* Time conversions (DATE, TIMESTAMP, TIME, INT96) of n values into i64[]. */
static ldr_code convert_time(ldr__pq_conv conv, const uint8_t *raw, size_t n, int64_t *i64,
                             ldr_err *err)
{
    int32_t v32;
    int64_t v64;
    for (size_t i = 0; i < n; i++) {
        switch (conv) {
        case LDR__PQ_CONV_DATE:
            memcpy(&v32, raw + 4 * i, 4);
            if (v32 > 106751991 || v32 < -106751991)
                return out_of_range(err, "DATE", v32);
            i64[i] = (int64_t)v32 * INT64_C(86400000000);
            break;
        case LDR__PQ_CONV_TS_MS:
            memcpy(&v64, raw + 8 * i, 8);
            if (v64 > INT64_MAX / 1000 || v64 < INT64_MIN / 1000)
                return out_of_range(err, "TIMESTAMP(MILLIS)", v64);
            i64[i] = v64 * 1000;
            break;
        case LDR__PQ_CONV_TIME_MS:
            memcpy(&v32, raw + 4 * i, 4);
            i64[i] = (int64_t)v32 * 1000;
            break;
        case LDR__PQ_CONV_INT96:
            i64[i] = int96_to_us(raw + 12 * i);
            break;
        default: /* TS_NS, TIME_NS */
            memcpy(&v64, raw + 8 * i, 8);
            i64[i] = floor_div(v64, 1000);
            break;
        }
    }
    return LDR_OK;
}

/* Numeric conversions (unsigned, DECIMAL, FLOAT16) of n values into dst. */
static ldr_code convert_numeric(const ldr__pq_colspec *cs, const uint8_t *raw, size_t n, void *dst,
                                ldr_err *err)
{
    int64_t *i64 = dst, v64;
    double *f64 = dst;
    float *f32 = dst;
    int32_t v32;
    size_t tl = (size_t)cs->type_length;
    for (size_t i = 0; i < n; i++) {
        switch (cs->conv) {
        case LDR__PQ_CONV_U32:
            i64[i] = (int64_t)u32le(raw + 4 * i);
            break;
        case LDR__PQ_CONV_U64:
            memcpy(&v64, raw + 8 * i, 8);
            if (v64 < 0)
                return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                    "UINT64 value %" PRIu64 " does not fit Int64", (uint64_t)v64);
            i64[i] = v64;
            break;
        case LDR__PQ_CONV_DEC_I32:
            memcpy(&v32, raw + 4 * i, 4);
            f64[i] = decimal_i64(v32, cs->scale);
            break;
        case LDR__PQ_CONV_DEC_I64:
            memcpy(&v64, raw + 8 * i, 8);
            f64[i] = decimal_i64(v64, cs->scale);
            break;
        case LDR__PQ_CONV_DEC_BE: { /* FIXED_LEN_BYTE_ARRAY */
            ldr_code rc = decimal_be(raw + tl * i, tl, cs->scale, &f64[i], err);
            if (rc != LDR_OK)
                return rc;
            break;
        }
        default: /* FLOAT16 */
            f32[i] = half_to_float((uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8));
            break;
        }
    }
    return LDR_OK;
}

/* Converts n fixed-width physical values at raw into target (element type), appending. */
static ldr_code convert_fixed(const chunk_dec *d, const uint8_t *raw, size_t n, ldr_col *target,
                              ldr_err *err)
{
    const ldr__pq_colspec *cs = d->cs;
    if (n == 0)
        return LDR_OK;
    ldr_col_reserve(target, n);
    if (cs->conv == LDR__PQ_CONV_BYTES) { /* FIXED_LEN_BYTE_ARRAY as Bytes */
        size_t tl = (size_t)cs->type_length;
        for (size_t i = 0; i < n; i++)
            ldr_col_append_str(target, raw + tl * i, tl);
        return LDR_OK;
    }
    size_t w = ldr_type_width(target->type);
    void *dst = (uint8_t *)target->data + target->n * w;
    ldr_code rc = LDR_OK;
    switch (cs->conv) {
    case LDR__PQ_CONV_I32:
    case LDR__PQ_CONV_I64:
    case LDR__PQ_CONV_TS_US:
    case LDR__PQ_CONV_TIME_US:
    case LDR__PQ_CONV_F32:
    case LDR__PQ_CONV_F64:
        memcpy(dst, raw, n * w); /* already Larder's representation */
        break;
    case LDR__PQ_CONV_DATE:
    case LDR__PQ_CONV_TS_MS:
    case LDR__PQ_CONV_TS_NS:
    case LDR__PQ_CONV_TIME_MS:
    case LDR__PQ_CONV_TIME_NS:
    case LDR__PQ_CONV_INT96:
        rc = convert_time(cs->conv, raw, n, dst, err);
        break;
    case LDR__PQ_CONV_BOOL:
    case LDR__PQ_CONV_BYTES:
        LDR_ASSERT(0 && "not a fixed-width conversion");
        break;
    default:
        rc = convert_numeric(cs, raw, n, dst, err);
        break;
    }
    if (rc == LDR_OK)
        target->n += n;
    return rc;
}

/* Byte-array values (in d->raw) converted into target: DECIMAL or FLOAT16, or plain
 * bytes of a FIXED_LEN_BYTE_ARRAY column whose lengths must match. */
static ldr_code convert_raw(const chunk_dec *d, const ldr_col *raw, ldr_col *target, ldr_err *err)
{
    const ldr__pq_colspec *cs = d->cs;
    ldr_col_reserve(target, raw->n);
    for (size_t i = 0; i < raw->n; i++) {
        size_t len;
        const uint8_t *p = (const uint8_t *)ldr_col_str(raw, i, &len);
        if (cs->phys == LDR__PQ_FLBA && len != (size_t)cs->type_length)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "value of %zu bytes in a FIXED_LEN_BYTE_ARRAY(%" PRId32 ")", len,
                                cs->type_length);
        if (cs->conv == LDR__PQ_CONV_DEC_BE) {
            double v;
            ldr_code rc = decimal_be(p, len, cs->scale, &v, err);
            if (rc != LDR_OK)
                return rc;
            ldr_col_append_f64(target, v);
        } else if (cs->conv == LDR__PQ_CONV_F16) {
            ldr_col_append_f32(target, half_to_float((uint16_t)(p[0] | p[1] << 8)));
        } else {
            ldr_col_append_str(target, p, len);
        }
    }
    return LDR_OK;
}

/* ---- PLAIN ----------------------------------------------------------------------------------- */

static size_t phys_width(const ldr__pq_colspec *cs)
{
    switch (cs->phys) {
    case LDR__PQ_INT32:
    case LDR__PQ_FLOAT:
        return 4;
    case LDR__PQ_INT64:
    case LDR__PQ_DOUBLE:
        return 8;
    case LDR__PQ_INT96:
        return 12;
    case LDR__PQ_FLBA:
        return (size_t)cs->type_length;
    default:
        return 0;
    }
}

static ldr_code plain_byte_array(const chunk_dec *d, const uint8_t *p, size_t len, size_t n,
                                 ldr_col *target, ldr_err *err)
{
    if (n > len / 4)
        return ldr_err_setf(err, LDR_ECORRUPT, "%zu BYTE_ARRAY values cannot fit in %zu bytes", n,
                            len);
    bool text = d->cs->conv == LDR__PQ_CONV_BYTES;
    ldr_col_reserve(target, n);
    if (text)
        ldr_col_reserve_bytes(target, len - 4 * n);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 4)
            return ldr_err_setf(err, LDR_ECORRUPT, "BYTE_ARRAY value %zu of %zu is truncated", i,
                                n);
        size_t vlen = u32le(p + pos);
        pos += 4;
        if (vlen > len - pos)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "BYTE_ARRAY value of %zu bytes exceeds the %zu left in the page",
                                vlen, len - pos);
        if (text) {
            ldr_col_append_str(target, p + pos, vlen);
        } else {
            double v;
            ldr_code rc = decimal_be(p + pos, vlen, d->cs->scale, &v, err);
            if (rc != LDR_OK)
                return rc;
            ldr_col_append_f64(target, v);
        }
        pos += vlen;
    }
    return LDR_OK;
}

/* PLAIN: n values of the column's physical type, appended to target after conversion. */
static ldr_code decode_plain(const chunk_dec *d, const uint8_t *p, size_t len, size_t n,
                             ldr_col *target, ldr_err *err)
{
    const ldr__pq_colspec *cs = d->cs;
    if (n == 0)
        return LDR_OK;
    if (cs->phys == LDR__PQ_BOOLEAN) {
        if (n > (size_t)len * 8)
            return ldr_err_setf(err, LDR_ECORRUPT, "%zu BOOLEAN values need more than %zu bytes", n,
                                len);
        ldr_col_reserve(target, n);
        uint8_t *dst = (uint8_t *)target->data + target->n;
        for (size_t i = 0; i < n; i++)
            dst[i] = (p[i >> 3] >> (i & 7)) & 1;
        target->n += n;
        return LDR_OK;
    }
    if (cs->phys == LDR__PQ_BYTE_ARRAY)
        return plain_byte_array(d, p, len, n, target, err);
    size_t w = phys_width(cs);
    if (n > len / w)
        return ldr_err_setf(err, LDR_ECORRUPT, "%zu values of %zu bytes exceed the %zu in the page",
                            n, w, len);
    return convert_fixed(d, p, n, target, err);
}

/* ---- other encodings ------------------------------------------------------------------------- */

static ldr_code decode_indices(chunk_dec *d, const uint8_t *p, size_t len, size_t n, ldr_err *err)
{
    if (!d->dict)
        return ldr_err_setf(err, LDR_ECORRUPT, "dictionary-encoded page without a dictionary page");
    if (n == 0)
        return LDR_OK;
    if (len < 1)
        return ldr_err_setf(err, LDR_ECORRUPT, "dictionary index section is empty");
    unsigned w = p[0];
    if (w > 32)
        return ldr_err_setf(err, LDR_ECORRUPT, "dictionary index bit width %u exceeds 32", w);
    uint32_t *idx = scratch_get(&d->ws->idx, n * sizeof *idx);
    size_t used;
    ldr_code rc = ldr__pq_rle_decode(p + 1, len - 1, w, idx, n, &used, err);
    if (rc != LDR_OK)
        return rc;
    size_t dn = d->dict->n;
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= dn)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "dictionary index %" PRIu32 " out of range (%zu entries)", idx[i],
                                dn);
    return LDR_OK;
}

static ldr_code decode_rle_bool(chunk_dec *d, const uint8_t *p, size_t len, size_t n,
                                ldr_col *target, ldr_err *err)
{
    if (d->cs->phys != LDR__PQ_BOOLEAN)
        return ldr_err_setf(err, LDR_ECORRUPT, "RLE value encoding on a %s column",
                            ldr__pq_type_name(d->cs->phys));
    if (n == 0)
        return LDR_OK;
    if (len < 4 || u32le(p) > len - 4)
        return ldr_err_setf(err, LDR_ECORRUPT, "RLE boolean section length exceeds the page");
    uint32_t *v = scratch_get(&d->ws->idx, n * sizeof *v);
    size_t used;
    ldr_code rc = ldr__pq_rle_decode(p + 4, u32le(p), 1, v, n, &used, err);
    if (rc != LDR_OK)
        return rc;
    ldr_col_reserve(target, n);
    uint8_t *dst = (uint8_t *)target->data + target->n;
    for (size_t i = 0; i < n; i++)
        dst[i] = v[i] != 0;
    target->n += n;
    return LDR_OK;
}

static ldr_code decode_delta_ints(chunk_dec *d, const uint8_t *p, size_t len, size_t n,
                                  ldr_col *target, ldr_err *err)
{
    int32_t phys = d->cs->phys;
    if (phys != LDR__PQ_INT32 && phys != LDR__PQ_INT64)
        return ldr_err_setf(err, LDR_ECORRUPT, "DELTA_BINARY_PACKED on a %s column",
                            ldr__pq_type_name(phys));
    if (n == 0)
        return LDR_OK;
    int64_t *v = scratch_get(&d->ws->i64, n * sizeof *v);
    size_t used;
    ldr_code rc = ldr__pq_delta_decode(p, len, v, n, &used, err);
    if (rc != LDR_OK)
        return rc;
    if (phys == LDR__PQ_INT64)
        return convert_fixed(d, (const uint8_t *)v, n, target, err);
    int32_t *v32 = scratch_get(&d->ws->tmp, n * sizeof *v32);
    for (size_t i = 0; i < n; i++)
        v32[i] = (int32_t)(uint32_t)(uint64_t)v[i]; /* wraps mod 2^32, as the format says */
    return convert_fixed(d, (const uint8_t *)v32, n, target, err);
}

static ldr_code decode_delta_bytes(chunk_dec *d, int32_t enc, const uint8_t *p, size_t len,
                                   size_t n, ldr_col *target, ldr_err *err)
{
    const ldr__pq_colspec *cs = d->cs;
    if (cs->phys != LDR__PQ_BYTE_ARRAY &&
        !(cs->phys == LDR__PQ_FLBA && enc == LDR__PQ_ENC_DELTA_BYTE_ARRAY))
        return ldr_err_setf(err, LDR_ECORRUPT, "%s on a %s column", ldr__pq_encoding_name(enc),
                            ldr__pq_type_name(cs->phys));
    if (n == 0)
        return LDR_OK;
    /* Straight into the target when no conversion or length check is needed. */
    bool direct = cs->conv == LDR__PQ_CONV_BYTES && cs->phys == LDR__PQ_BYTE_ARRAY;
    ldr_col *dst = direct ? target : d->raw;
    if (!direct)
        col_clear(d->raw);
    size_t used;
    ldr_code rc = enc == LDR__PQ_ENC_DELTA_LENGTH_BYTE_ARRAY
                      ? ldr__pq_delta_length_decode(p, len, n, dst, &used, err)
                      : ldr__pq_delta_byte_array_decode(p, len, n, dst, &used, err);
    if (rc != LDR_OK || direct)
        return rc;
    return convert_raw(d, d->raw, target, err);
}

static ldr_code decode_bss(chunk_dec *d, const uint8_t *p, size_t len, size_t n, ldr_col *target,
                           ldr_err *err)
{
    size_t w = phys_width(d->cs);
    if (w == 0 || d->cs->phys == LDR__PQ_INT96)
        return ldr_err_setf(err, LDR_ECORRUPT, "BYTE_STREAM_SPLIT on a %s column",
                            ldr__pq_type_name(d->cs->phys));
    if (n > len / w)
        return ldr_err_setf(err, LDR_ECORRUPT, "%zu BYTE_STREAM_SPLIT values exceed %zu bytes", n,
                            len);
    uint8_t *buf = scratch_get(&d->ws->tmp, n * w);
    ldr_code rc = ldr__pq_byte_stream_split_decode(p, len, w, n, buf, err);
    if (rc != LDR_OK)
        return rc;
    return convert_fixed(d, buf, n, target, err);
}

static bool is_dict_encoding(int32_t enc)
{
    return enc == LDR__PQ_ENC_PLAIN_DICTIONARY || enc == LDR__PQ_ENC_RLE_DICTIONARY;
}

/* Decodes the n non-null values of a page: appended to target, or as indices. */
static ldr_code decode_values(chunk_dec *d, int32_t enc, const uint8_t *p, size_t len, size_t n,
                              ldr_col *target, page_vals *pv, ldr_err *err)
{
    pv->indices = is_dict_encoding(enc);
    pv->col = target;
    pv->n = n;
    switch (enc) {
    case LDR__PQ_ENC_PLAIN:
        return decode_plain(d, p, len, n, target, err);
    case LDR__PQ_ENC_PLAIN_DICTIONARY:
    case LDR__PQ_ENC_RLE_DICTIONARY:
        return decode_indices(d, p, len, n, err);
    case LDR__PQ_ENC_RLE:
        return decode_rle_bool(d, p, len, n, target, err);
    case LDR__PQ_ENC_DELTA_BINARY_PACKED:
        return decode_delta_ints(d, p, len, n, target, err);
    case LDR__PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case LDR__PQ_ENC_DELTA_BYTE_ARRAY:
        return decode_delta_bytes(d, enc, p, len, n, target, err);
    case LDR__PQ_ENC_BYTE_STREAM_SPLIT:
        return decode_bss(d, p, len, n, target, err);
    default:
        return ldr_err_setf(err, LDR_EUNSUPPORTED,
                            "value encoding %s (%" PRId32 ") is not supported",
                            ldr__pq_encoding_name(enc), enc);
    }
}

/* ---- assembly ----------------------------------------------------------------------------------
 */

/* Turns a dictionary output column back into a plain one (a non-dictionary page arrived);
 * the dictionary stays with d for later pages. */
static void undo_dict(chunk_dec *d)
{
    if (!d->out_dict)
        return;
    ldr_col *o = d->out;
    ldr_col *plain = ldr_col_new(o->type, o->n);
    for (size_t i = 0; i < o->n; i++)
        ldr_col_append_row(plain, o, i);
    o->dict = NULL;
    ldr_col_free(o);
    d->out = plain;
    d->out_dict = false;
}

/* Null rows clear their bit of `valid` (the output's bitmap, rows counted from out->n). */
#define SCATTER_FIXED(T)                                       \
    do {                                                       \
        T *dst_ = (T *)out->data + out->n;                     \
        const T *src_ = (const T *)src->data;                  \
        for (size_t i = 0; i < nv; i++) {                      \
            if (!def || def[i] == max) {                       \
                dst_[i] = src_[idx ? idx[k] : k];              \
                k++;                                           \
            } else {                                           \
                size_t j_ = out->n + i;                        \
                dst_[i] = 0;                                   \
                valid[j_ >> 3] &= (uint8_t) ~(1u << (j_ & 7)); \
            }                                                  \
        }                                                      \
    } while (0)

/* Flat columns: nv entries with definition levels def (NULL: all present), of which
 * pv->n are present. */
static void scatter_flat(chunk_dec *d, const uint8_t *def, size_t nv, const page_vals *pv)
{
    ldr_col *out = d->out;
    unsigned max = d->lf->max_def;
    const uint32_t *idx = pv->indices ? d->ws->idx.p : NULL;
    const ldr_col *src = pv->indices ? d->dict : pv->col;
    size_t k = 0, w = d->out_dict ? sizeof(int32_t) : ldr_type_width(out->type);
    if (nv == 0)
        return;
    ldr_col_reserve(out, nv);
    if (w == 0) { /* strings and bytes: the appenders keep offsets and null_count */
        for (size_t i = 0; i < nv; i++) {
            if (!def || def[i] == max) {
                ldr_col_append_row(out, src, idx ? idx[k] : k);
                k++;
            } else {
                ldr_col_append_null(out);
            }
        }
        return;
    }
    /* Fixed width: values written in place, null rows' bits cleared in the bitmap (made
     * only when the page has nulls), counted once per page. */
    uint8_t *valid = def && pv->n < nv ? ldr_col_valid_bits(out) : NULL;
    if (valid)
        out->null_count += nv - pv->n;
    if (d->out_dict) {
        int32_t *dst = (int32_t *)out->data + out->n;
        for (size_t i = 0; i < nv; i++) {
            if (!def || def[i] == max) {
                dst[i] = (int32_t)idx[k++];
            } else {
                size_t j = out->n + i;
                dst[i] = 0;
                valid[j >> 3] &= (uint8_t) ~(1u << (j & 7));
            }
        }
    } else if (w == 1) {
        SCATTER_FIXED(uint8_t);
    } else if (w == 4) {
        SCATTER_FIXED(uint32_t);
    } else {
        LDR_ASSERT(w == 8);
        SCATTER_FIXED(uint64_t);
    }
    out->n += nv;
}

/* List columns: entries (rep, def) become rows of out and elements of out->child. */
static ldr_code assemble_list(chunk_dec *d, const uint8_t *rep, const uint8_t *def, size_t nv,
                              const page_vals *pv, int64_t *page_rows, ldr_err *err)
{
    ldr_col *out = d->out, *child = out->child;
    unsigned max = d->lf->max_def, rd = d->lf->rep_def;
    const uint32_t *idx = pv->indices ? d->ws->idx.p : NULL;
    const ldr_col *src = pv->indices ? d->dict : pv->col;
    size_t k = 0;
    for (size_t i = 0; i < nv; i++) {
        unsigned df = def ? def[i] : max;
        if (rep[i] == 0) {
            if (d->in_list)
                ldr_col_append_list(out);
            d->in_list = false;
            if (++d->rows > d->rg_rows)
                return ldr_err_setf(err, LDR_ECORRUPT, "more rows than the row group's %" PRId64,
                                    d->rg_rows);
            (*page_rows)++;
            if (df + 1 < rd) {
                ldr_col_append_null(out);
                continue;
            }
            if (df + 1 == rd) {
                ldr_col_append_list(out);
                continue;
            }
            d->in_list = true;
        } else if (!d->in_list || df < rd) {
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "repetition level %u at entry %" PRId64 " continues no list",
                                (unsigned)rep[i], d->seen + (int64_t)i);
        }
        if (df == max) {
            ldr_col_append_row(child, src, idx ? idx[k] : k);
            k++;
        } else {
            ldr_col_append_null(child);
        }
    }
    return LDR_OK;
}

/* ---- pages ----------------------------------------------------------------------------------- */

/* The uncompressed bytes of a page section: the file bytes themselves, or decompressed
 * into d->page. */
static ldr_code page_bytes(chunk_dec *d, const uint8_t *src, size_t clen, size_t ulen,
                           bool compressed, const uint8_t **out, ldr_err *err)
{
    int codec = d->ck->codec;
    if (!compressed || codec == LDR__PQ_CODEC_UNCOMPRESSED) {
        if (clen != ulen)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "uncompressed page stores %zu bytes but declares %zu", clen, ulen);
        *out = src;
        return LDR_OK;
    }
    if (ulen > LDR__PQ_MAX_PAGE_BYTES)
        return ldr_err_setf(err, LDR_ELIMIT, "page of %zu bytes exceeds the limit of %u", ulen,
                            LDR__PQ_MAX_PAGE_BYTES);
    if (ulen > LDR__PQ_RATIO_FLOOR && ulen / LDR__PQ_MAX_RATIO > clen)
        return ldr_err_setf(err, LDR_ECORRUPT, "page claims %zu bytes from %zu compressed", ulen,
                            clen);
    uint8_t *dst = scratch_get(&d->ws->page, ulen);
    *out = dst;
    return ldr__pq_decompress(codec, src, clen, dst, ulen, err);
}

/* Legacy BIT_PACKED levels: unpacked into 32-bit scratch, then narrowed and checked. */
static ldr_code levels_bitpacked(workspace *ws, const uint8_t *p, size_t len, unsigned max,
                                 uint8_t *out, size_t n, const char *what, size_t *n_max,
                                 size_t *used, ldr_err *err)
{
    uint32_t *lv = scratch_get(&ws->lv32, n * sizeof *lv);
    ldr_code rc = ldr__pq_bitpacked_decode(p, len, bit_width(max), lv, n, used, err);
    if (rc != LDR_OK)
        return rc;
    size_t eq = 0;
    for (size_t i = 0; i < n; i++) {
        if (lv[i] > max)
            return ldr_err_setf(err, LDR_ECORRUPT, "%s level %" PRIu32 " exceeds the maximum %u",
                                what, lv[i], max);
        eq += lv[i] == max;
        out[i] = (uint8_t)lv[i];
    }
    *n_max = eq;
    return LDR_OK;
}

/* A v1 level section (RLE with its 4-byte length, or BIT_PACKED) at p[0..len); *n_max
 * receives the count of levels equal to max, *used the section's bytes. */
static ldr_code levels_v1(workspace *ws, int32_t enc, const uint8_t *p, size_t len, unsigned max,
                          uint8_t *out, size_t n, const char *what, size_t *n_max, size_t *used,
                          ldr_err *err)
{
    if (enc == LDR__PQ_ENC_RLE) {
        if (len < 4 || u32le(p) > len - 4)
            return ldr_err_setf(err, LDR_ECORRUPT, "%s level section overflows the page", what);
        size_t c;
        *used = 4 + (size_t)u32le(p);
        return ldr__pq_levels_decode(p + 4, u32le(p), max, what, out, n, n_max, &c, err);
    }
    if (enc == LDR__PQ_ENC_BIT_PACKED)
        return levels_bitpacked(ws, p, len, max, out, n, what, n_max, used, err);
    return ldr_err_setf(err, LDR_EUNSUPPORTED, "%s level encoding %s is not supported", what,
                        ldr__pq_encoding_name(enc));
}

/* Level and value sections of a page, after decompression. */
typedef struct page_parts {
    uint8_t *rep, *def; /* NULL when the maximum level is 0 */
    size_t rep_at_max;  /* entries whose repetition level is the maximum */
    size_t present;     /* entries whose definition level is the maximum */
    const uint8_t *vals;
    size_t vlen;
} page_parts;

static ldr_code split_v1(chunk_dec *d, const ldr__pq_page *pg, const uint8_t *body, size_t nv,
                         page_parts *pp, ldr_err *err)
{
    const uint8_t *buf = body;
    size_t ulen = (size_t)pg->uncompressed_size, pos = 0, used = 0;
    ldr_code rc = page_bytes(d, body, (size_t)pg->compressed_size, ulen, true, &buf, err);
    if (rc != LDR_OK)
        return rc;
    if (d->lf->max_rep > 0) {
        rc = levels_v1(d->ws, pg->rep_encoding, buf, ulen, d->lf->max_rep, pp->rep, nv,
                       "repetition", &pp->rep_at_max, &used, err);
        pos += used;
    }
    if (rc == LDR_OK && d->lf->max_def > 0) {
        rc = levels_v1(d->ws, pg->def_encoding, buf + pos, ulen - pos, d->lf->max_def, pp->def, nv,
                       "definition", &pp->present, &used, err);
        pos += used;
    }
    pp->vals = buf + pos;
    pp->vlen = ulen - pos;
    return rc;
}

static ldr_code split_v2(chunk_dec *d, const ldr__pq_page *pg, const uint8_t *body, size_t nv,
                         page_parts *pp, ldr_err *err)
{
    size_t clen = (size_t)pg->compressed_size, ulen = (size_t)pg->uncompressed_size;
    if (pg->rep_len < 0 || pg->def_len < 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "data page v2 has negative level lengths");
    size_t rl = (size_t)pg->rep_len, dl = (size_t)pg->def_len;
    if (rl + dl > clen || rl + dl > ulen)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "data page v2 levels (%zu + %zu bytes) exceed the page", rl, dl);
    ldr_code rc = LDR_OK;
    size_t used;
    if (d->lf->max_rep > 0)
        rc = ldr__pq_levels_decode(body, rl, d->lf->max_rep, "repetition", pp->rep, nv,
                                   &pp->rep_at_max, &used, err);
    if (rc == LDR_OK && d->lf->max_def > 0)
        rc = ldr__pq_levels_decode(body + rl, dl, d->lf->max_def, "definition", pp->def, nv,
                                   &pp->present, &used, err);
    if (rc != LDR_OK)
        return rc;
    size_t stored = clen - rl - dl, expect = ulen - rl - dl;
    pp->vlen = expect;
    pp->vals = body + rl + dl;
    if (stored == 0) /* all-null pages: nothing to decompress (Snappy rejects 0 bytes) */
        return expect == 0
                   ? LDR_OK
                   : ldr_err_setf(err, LDR_ECORRUPT,
                                  "data page v2 stores no values but expects %zu bytes", expect);
    bool compressed = pg->is_compressed || d->r->v2_flag_unreliable;
    return page_bytes(d, body + rl + dl, stored, expect, compressed, &pp->vals, err);
}

/* Checks a data page's entry count against the chunk, the row group and the cap. */
static ldr_code check_page_count(const chunk_dec *d, int32_t num_values, ldr_err *err)
{
    if (num_values < 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "data page with %" PRId32 " values", num_values);
    if ((int64_t)num_values > d->ck->num_values - d->seen)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "pages hold more than the chunk's %" PRId64 " values",
                            d->ck->num_values);
    if ((uint32_t)num_values > LDR__PQ_MAX_PAGE_VALUES)
        return ldr_err_setf(err, LDR_ELIMIT,
                            "data page of %" PRId32 " values exceeds the limit of %u", num_values,
                            LDR__PQ_MAX_PAGE_VALUES);
    if (!d->cs->is_list && (int64_t)num_values > d->rg_rows - d->rows)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "pages hold more values than the row group's %" PRId64 " rows",
                            d->rg_rows);
    if (d->cs->is_list && (int64_t)num_values > d->max_entries - d->seen)
        return ldr_err_setf(err, LDR_ELIMIT,
                            "list column expands to more than %" PRId64 " entries (the limit is "
                            "the row count plus %u per stored byte)",
                            d->max_entries, LDR__PQ_LIST_RATIO);
    return LDR_OK;
}

static ldr_code read_data_page(chunk_dec *d, const ldr__pq_page *pg, const uint8_t *body,
                               ldr_err *err)
{
    d->seen_data = true;
    ldr_code rc = check_page_count(d, pg->num_values, err);
    if (rc != LDR_OK)
        return rc;
    size_t nv = (size_t)pg->num_values;
    bool v2 = pg->type == LDR__PQ_PAGE_DATA_V2;
    page_parts pp = {NULL, NULL, 0, nv, NULL, 0};
    if (d->lf->max_rep > 0)
        pp.rep = scratch_get(&d->ws->rep, nv);
    if (d->lf->max_def > 0)
        pp.def = scratch_get(&d->ws->def, nv);
    rc = v2 ? split_v2(d, pg, body, nv, &pp, err) : split_v1(d, pg, body, nv, &pp, err);
    if (rc != LDR_OK)
        return rc;
    size_t n = pp.present;
    /* Levels that all equal the maximum may not have been written (levels_decode). */
    if (n == nv)
        pp.def = NULL; /* NULL: every entry present */
    if (pp.rep && pp.rep_at_max == nv)
        memset(pp.rep, (int)d->lf->max_rep, nv);
    if (v2 && (pg->num_nulls < 0 || (size_t)pg->num_nulls != nv - n))
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "data page v2 declares %" PRId32 " nulls, the levels %zu",
                            pg->num_nulls, nv - n);
    if (d->out_dict && !is_dict_encoding(pg->encoding))
        undo_dict(d);
    /* Flat pages without nulls decode straight into the output (no staging copy). */
    bool no_nulls = n == nv;
    bool direct = !d->cs->is_list && no_nulls && !d->out_dict;
    ldr_col *target = direct ? d->out : d->stage;
    if (!direct)
        col_clear(d->stage);
    page_vals pv;
    rc = decode_values(d, pg->encoding, pp.vals, pp.vlen, n, target, &pv, err);
    if (rc != LDR_OK)
        return rc;
    if (d->cs->is_list) {
        int64_t page_rows = 0;
        if (v2 && nv > 0 && pp.rep[0] != 0)
            return ldr_err_setf(err, LDR_ECORRUPT, "data page v2 does not start a row");
        rc = assemble_list(d, pp.rep, pp.def, nv, &pv, &page_rows, err);
        if (rc == LDR_OK && v2 && page_rows != pg->num_rows)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "data page v2 declares %" PRId32 " rows, holds %" PRId64,
                                pg->num_rows, page_rows);
    } else {
        if (!direct || pv.indices)
            scatter_flat(d, no_nulls ? NULL : pp.def, nv, &pv);
        d->rows += (int64_t)nv;
    }
    d->seen += (int64_t)nv;
    return rc;
}

static bool keep_as_dict(const chunk_dec *d)
{
    return d->keep_dict && !d->cs->is_list && d->out->n == 0 && d->base_rows == 0 &&
           (d->cs->elem == LDR_TYPE_STRING || d->cs->elem == LDR_TYPE_BYTES) &&
           d->cs->conv == LDR__PQ_CONV_BYTES;
}

static ldr_code read_dict_page(chunk_dec *d, const ldr__pq_page *pg, const uint8_t *body,
                               ldr_err *err)
{
    if (d->dict || d->seen_data)
        return ldr_err_setf(err, LDR_ECORRUPT, "dictionary page %s",
                            d->dict ? "repeated" : "after data pages");
    if (pg->encoding != LDR__PQ_ENC_PLAIN && pg->encoding != LDR__PQ_ENC_PLAIN_DICTIONARY)
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "dictionary page encoding %s is not supported",
                            ldr__pq_encoding_name(pg->encoding));
    if (pg->num_values < 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "dictionary page with %" PRId32 " entries",
                            pg->num_values);
    const uint8_t *buf = body;
    size_t ulen = (size_t)pg->uncompressed_size;
    ldr_code rc = page_bytes(d, body, (size_t)pg->compressed_size, ulen, true, &buf, err);
    if (rc != LDR_OK)
        return rc;
    ldr_col *dict = ldr_col_new(d->cs->elem, 0);
    rc = decode_plain(d, buf, ulen, (size_t)pg->num_values, dict, err);
    if (rc != LDR_OK) {
        ldr_col_free(dict);
        return rc;
    }
    d->dict = dict;
    if (keep_as_dict(d)) {
        ldr_col_free(d->out);
        d->out = ldr_col_new_dict(d->cs->elem, dict, d->reserve);
        d->out_dict = true;
    }
    return LDR_OK;
}

/* Walks the pages of a chunk (bytes p[0..len), starting at file offset base). */
static ldr_code read_pages(chunk_dec *d, const uint8_t *p, size_t len, size_t base, ldr_err *err)
{
    size_t pos = 0;
    while (d->seen < d->ck->num_values) {
        if (pos >= len)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "column chunk ends after %" PRId64 " of %" PRId64 " values",
                                d->seen, d->ck->num_values);
        ldr__pq_page pg;
        size_t hlen = 0;
        ldr_code rc = ldr__pq_page_parse(p + pos, len - pos, &pg, &hlen, err);
        size_t clen = (size_t)pg.compressed_size;
        if (rc == LDR_OK && clen > len - pos - hlen)
            rc = ldr_err_setf(err, LDR_ECORRUPT,
                              "page body of %zu bytes overflows the column chunk", clen);
        const uint8_t *body = p + pos + hlen;
        if (rc == LDR_OK && pg.has_crc && ldr__pq_crc32(body, clen) != pg.crc)
            rc = ldr_err_setf(err, LDR_ECORRUPT,
                              "page CRC mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                              pg.crc, ldr__pq_crc32(body, clen));
        if (rc == LDR_OK && pg.type == LDR__PQ_PAGE_DICT)
            rc = read_dict_page(d, &pg, body, err);
        else if (rc == LDR_OK && (pg.type == LDR__PQ_PAGE_DATA || pg.type == LDR__PQ_PAGE_DATA_V2))
            rc = read_data_page(d, &pg, body, err);
        if (rc != LDR_OK) {
            ldr_err_prefix(err, "page at byte %zu: ", base + pos);
            return rc;
        }
        pos += hlen + clen;
    }
    return LDR_OK;
}

/* The byte range of a chunk: from its first page (the dictionary page when the offset is
 * given and positive) for total_compressed_size bytes, inside [4, data_end). */
static ldr_code chunk_range(const chunk_dec *d, size_t *start, size_t *len, ldr_err *err)
{
    const ldr__pq_chunk *ck = d->ck;
    int64_t s = ck->data_page_offset;
    if (ck->has_dict_offset && ck->dict_page_offset > 0 && ck->dict_page_offset < s)
        s = ck->dict_page_offset;
    size_t end = d->r->data_end;
    if (s < 4 || (uint64_t)s > end || (uint64_t)ck->total_compressed > end - (uint64_t)s)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "column chunk at byte %" PRId64 " (%" PRId64 " bytes) lies outside the "
                            "data area [4, %zu)",
                            s, ck->total_compressed, end);
    *start = (size_t)s;
    *len = (size_t)ck->total_compressed;
    return LDR_OK;
}

static ldr_code decode_chunk_pages(chunk_dec *d, ldr_err *err)
{
    if (!ldr__pq_codec_supported(d->ck->codec))
        return ldr_err_setf(err, LDR_EUNSUPPORTED,
                            "compression codec %s (%" PRId32 ") is not supported",
                            ldr__pq_codec_name(d->ck->codec), d->ck->codec);
    size_t start = 0, len = 0;
    ldr_code rc = chunk_range(d, &start, &len, err);
    /* Room for the rows up front (no regrowth copies), but never more than the chunk's
     * bytes can plausibly expand to: the row count is the file's claim. */
    uint64_t plausible = 1024u + (uint64_t)256u * len;
    d->reserve = (uint64_t)d->rg_rows < plausible ? (size_t)d->rg_rows : (size_t)plausible;
    if (rc == LDR_OK)
        ldr_col_reserve(d->out, d->reserve);
    /* Lists may hold more entries than rows, but not without bound: a few bytes of RLE
     * levels could otherwise claim billions of (null) elements. */
    uint64_t budget = (uint64_t)d->rg_rows + (uint64_t)LDR__PQ_LIST_RATIO * len;
    d->max_entries = budget > INT64_MAX ? INT64_MAX : (int64_t)budget;
    if (rc == LDR_OK)
        rc = read_pages(d, d->r->data + start, len, start, err);
    if (rc == LDR_OK && d->r->mapped)
        ldr__pq_source_release(d->r->data + start, len);
    if (rc != LDR_OK)
        return rc;
    if (d->in_list)
        ldr_col_append_list(d->out);
    d->in_list = false;
    if (d->rows != d->rg_rows)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "column chunk holds %" PRId64 " rows, the row group %" PRId64, d->rows,
                            d->rg_rows);
    return LDR_OK;
}

/* Decodes column `col` of row group `rg`, appending to *inout (plain, as left by an
 * earlier row group) or, when *inout is NULL, into a new column (a dictionary column with
 * keep_dict). *inout receives the column either way; the caller owns and frees it. */
static ldr_code decode_chunk(const ldr_pq_reader *r, size_t rg, size_t col, bool keep_dict,
                             workspace *ws, ldr_col **inout, ldr_err *err)
{
    const ldr__pq_colspec *cs = &r->cols[col];
    LDR_ASSERT(!cs->info.unsupported && rg < r->n_rgs);
    LDR_ASSERT(!*inout || !(*inout)->dict);
    chunk_dec d;
    memset(&d, 0, sizeof d);
    d.r = r;
    d.cs = cs;
    d.lf = &r->leaves[cs->leaf];
    d.ck = &r->rgs[rg].chunks[cs->leaf];
    d.rg = rg;
    d.rg_rows = r->rgs[rg].num_rows;
    d.keep_dict = keep_dict && !*inout;
    d.ws = ws;
    d.out = *inout ? *inout : ldr_col_new(cs->info.type, 0);
    d.base_rows = d.out->n;
    d.stage = ldr_col_new(cs->elem, 0);
    d.raw = ldr_col_new(LDR_TYPE_BYTES, 0);
    ldr_code rc = decode_chunk_pages(&d, err);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "%s: column %s, row group %zu: ", r->name, cs->info.name, rg);
    *inout = d.out;
    if (!d.out_dict)
        ldr_col_free(d.dict);
    ldr_col_free(d.stage);
    ldr_col_free(d.raw);
    return rc;
}

/* ---- concatenation of row groups ------------------------------------------------------------- */

/* Appends plain column src to plain column dst (same type). */
static void append_col(ldr_col *dst, const ldr_col *src)
{
    LDR_ASSERT(dst->type == src->type && !dst->dict && !src->dict);
    ldr_col_reserve(dst, src->n);
    size_t w = ldr_type_width(dst->type);
    if (src->n == 0)
        return;
    if (w) {
        memcpy((uint8_t *)dst->data + dst->n * w, src->data, src->n * w);
    } else {
        int64_t base;
        if (ldr_type_is_list(dst->type)) {
            base = (int64_t)dst->child->n;
            append_col(dst->child, src->child);
        } else {
            base = (int64_t)dst->bytes_len;
            ldr_col_reserve_bytes(dst, src->bytes_len);
            if (src->bytes_len)
                memcpy(dst->bytes + dst->bytes_len, src->bytes, src->bytes_len);
            dst->bytes_len += src->bytes_len;
        }
        for (size_t i = 0; i < src->n; i++)
            dst->offsets[dst->n + i + 1] = base + src->offsets[i + 1];
    }
    if (src->valid)
        for (size_t i = 0; i < src->n; i++)
            if (!ldr_col_valid(src, i))
                ldr_col_set_valid(dst, dst->n + i, false);
    dst->n += src->n;
}

/* Dictionary columns: one dictionary made of all parts' dictionaries, indices shifted. */
static ldr_col *concat_dicts(ldr_col **parts, size_t n)
{
    ldr_col *out = parts[0];
    for (size_t p = 1; p < n; p++) {
        const ldr_col *s = parts[p];
        int32_t base = (int32_t)out->dict->n;
        append_col(out->dict, s->dict);
        if (s->n == 0) {
            ldr_col_free(parts[p]);
            continue;
        }
        ldr_col_reserve(out, s->n);
        int32_t *dst = (int32_t *)out->data + out->n;
        const int32_t *src = s->data;
        for (size_t i = 0; i < s->n; i++) {
            bool valid = ldr_col_valid(s, i);
            dst[i] = valid ? src[i] + base : 0;
            if (!valid)
                ldr_col_set_valid(out, out->n + i, false);
        }
        out->n += s->n;
        ldr_col_free(parts[p]);
    }
    return out;
}

/* Concatenates n parts (ownership moves in) into one column. */
static ldr_col *concat_parts(ldr_col **parts, size_t n)
{
    LDR_ASSERT(n > 0);
    if (n == 1)
        return parts[0];
    bool all_dict = true;
    size_t dict_total = 0;
    for (size_t i = 0; i < n; i++) {
        all_dict = all_dict && parts[i]->dict;
        dict_total += parts[i]->dict ? parts[i]->dict->n : 0;
    }
    if (all_dict && dict_total <= INT32_MAX)
        return concat_dicts(parts, n);
    for (size_t i = 0; i < n; i++)
        ldr_col_decode_dict(parts[i]);
    /* One allocation of the final size, then one copy per part. */
    size_t rows = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        rows += parts[i]->n;
        bytes += parts[i]->bytes_len;
    }
    ldr_col *out = ldr_col_new(parts[0]->type, rows);
    if (bytes)
        ldr_col_reserve_bytes(out, bytes);
    for (size_t i = 0; i < n; i++) {
        append_col(out, parts[i]);
        ldr_col_free(parts[i]);
    }
    return out;
}

/* ---- pruning --------------------------------------------------------------------------------- */

/* A statistics bound in Larder's representation, as int64 (integers, timestamps) or
 * double (floats). False when the bound cannot be used. */
static bool stat_value(const ldr__pq_colspec *cs, const ldr__pq_bytes *b, bool is_max, int64_t *iv,
                       double *dv, bool *is_double)
{
    *is_double = false;
    int32_t v32 = 0;
    int64_t v64 = 0;
    size_t want = cs->phys == LDR__PQ_INT32 || cs->phys == LDR__PQ_FLOAT ? 4 : 8;
    if (!b->set || b->len != want)
        return false;
    if (want == 4)
        memcpy(&v32, b->ptr, 4);
    else
        memcpy(&v64, b->ptr, 8);
    switch (cs->conv) {
    case LDR__PQ_CONV_I32:
        *iv = cs->order == LDR__PQ_ORDER_UNSIGNED ? (int64_t)(uint32_t)v32 : v32;
        return true;
    case LDR__PQ_CONV_U32:
        *iv = (int64_t)(uint32_t)v32;
        return true;
    case LDR__PQ_CONV_I64:
    case LDR__PQ_CONV_TS_US:
        *iv = v64;
        return true;
    case LDR__PQ_CONV_U64:
        if (v64 < 0) /* above INT64_MAX: such values fail to read anyway */
            return false;
        *iv = v64;
        return true;
    case LDR__PQ_CONV_DATE:
        if (v32 > 106751991 || v32 < -106751991)
            return false;
        *iv = (int64_t)v32 * INT64_C(86400000000);
        return true;
    case LDR__PQ_CONV_TS_MS:
        if (v64 > INT64_MAX / 1000 || v64 < INT64_MIN / 1000)
            return false;
        *iv = v64 * 1000;
        return true;
    case LDR__PQ_CONV_TS_NS:
        *iv = floor_div(v64, 1000) + (is_max && v64 % 1000 != 0 ? 1 : 0);
        return true;
    case LDR__PQ_CONV_F32:
    case LDR__PQ_CONV_F64: {
        float f;
        double x;
        if (want == 4) {
            memcpy(&f, b->ptr, 4);
            x = (double)f;
        } else {
            memcpy(&x, b->ptr, 8);
        }
        if (isnan(x))
            return false;
        *dv = x;
        *is_double = true;
        return true;
    }
    default:
        return false;
    }
}

/* Whether row group g may hold values of column cs in [lo, hi]. */
static bool rg_may_match(const ldr_pq_reader *r, size_t g, const ldr__pq_colspec *cs, int64_t lo,
                         int64_t hi)
{
    if (cs->is_list || cs->info.unsupported)
        return true;
    const ldr__pq_chunk *ck = &r->rgs[g].chunks[cs->leaf];
    if (r->rgs[g].num_rows == 0)
        return false;
    if (!ck->has_stats)
        return true;
    const ldr__pq_stats *st = &ck->stats;
    if (st->has_null_count && st->null_count == r->rgs[g].num_rows)
        return false; /* all null: no value can be in range */
    int order = r->leaves[cs->leaf].column_order;
    bool typed = order == 1 ||
                 (order == 2 && (cs->phys == LDR__PQ_FLOAT || cs->phys == LDR__PQ_DOUBLE)) ||
                 (order == 0 && cs->order == LDR__PQ_ORDER_SIGNED);
    const ldr__pq_bytes *mn = &st->min_value, *mx = &st->max_value;
    if (!typed || !mn->set || !mx->set) {
        if (cs->order != LDR__PQ_ORDER_SIGNED)
            return true;
        mn = &st->min, mx = &st->max;
    }
    int64_t imin, imax;
    double dmin, dmax;
    bool fmin, fmax;
    if (!stat_value(cs, mn, false, &imin, &dmin, &fmin) ||
        !stat_value(cs, mx, true, &imax, &dmax, &fmax))
        return true;
    if (fmin)
        return !(dmax < (double)lo || dmin > (double)hi);
    return !(imax < lo || imin > hi);
}

/* ---- units of work and threads ------------------------------------------------------------- */

/* The work of one ldr_pq_read. With at least as many columns as threads, a unit is one
 * column over every kept row group, decoded straight into its final column (no copies);
 * otherwise a unit is one (row group, column) chunk and the parts are concatenated. */
typedef struct job {
    const ldr_pq_reader *r;
    const size_t *rgs; /* kept row groups */
    size_t n_rgs;
    const size_t *cols;
    size_t n_cols;
    bool keep_dict;
    bool by_column;
    size_t n;      /* units */
    ldr_col **res; /* per unit; (row group, column) units are row-group-major */
    ldr_err *errs; /* per unit */
    ldr_code *codes;
    atomic_size_t next;
    atomic_bool failed;
} job;

static bool dict_candidate(const ldr__pq_colspec *cs)
{
    return !cs->is_list && cs->conv == LDR__PQ_CONV_BYTES &&
           (cs->elem == LDR_TYPE_STRING || cs->elem == LDR_TYPE_BYTES);
}

/* Column unit: every kept row group of column cols[c] into *out. */
static ldr_code run_column(const job *j, size_t c, workspace *ws, ldr_col **out, ldr_err *err)
{
    const ldr_pq_reader *r = j->r;
    const ldr__pq_colspec *cs = &r->cols[j->cols[c]];
    if (j->keep_dict && dict_candidate(cs) && j->n_rgs > 1) {
        /* Each row group has its own dictionary: decode apart, then merge dictionaries. */
        ldr_col **parts = ldr_xcalloc(j->n_rgs, sizeof *parts);
        ldr_code rc = LDR_OK;
        for (size_t g = 0; g < j->n_rgs && rc == LDR_OK; g++)
            rc = decode_chunk(r, j->rgs[g], j->cols[c], true, ws, &parts[g], err);
        if (rc == LDR_OK) {
            *out = concat_parts(parts, j->n_rgs);
        } else {
            for (size_t g = 0; g < j->n_rgs; g++)
                ldr_col_free(parts[g]);
        }
        ldr_free(parts);
        return rc;
    }
    /* Room for every row up front, within what the chunks' bytes can plausibly hold. */
    uint64_t rows = 0, plausible = 0;
    for (size_t g = 0; g < j->n_rgs; g++) {
        const ldr__pq_rowgroup *rg = &r->rgs[j->rgs[g]];
        rows += (uint64_t)rg->num_rows;
        plausible += 1024u + 256u * (uint64_t)rg->chunks[cs->leaf].total_compressed;
    }
    uint64_t cap = rows < plausible ? rows : plausible;
    if (j->n_rgs == 1) {
        *out = NULL; /* a fresh column: keep_dict may apply */
        return decode_chunk(r, j->rgs[0], j->cols[c], j->keep_dict, ws, out, err);
    }
    *out = ldr_col_new(cs->info.type, cap > SIZE_MAX / 64 ? SIZE_MAX / 64 : (size_t)cap);
    ldr_code rc = LDR_OK;
    for (size_t g = 0; g < j->n_rgs && rc == LDR_OK; g++)
        rc = decode_chunk(r, j->rgs[g], j->cols[c], false, ws, out, err);
    return rc;
}

static void *worker(void *arg)
{
    job *j = arg;
    workspace ws;
    memset(&ws, 0, sizeof ws);
    for (;;) {
        if (atomic_load(&j->failed))
            break;
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        if (j->by_column)
            j->codes[i] = run_column(j, i, &ws, &j->res[i], &j->errs[i]);
        else
            j->codes[i] = decode_chunk(j->r, j->rgs[i / j->n_cols], j->cols[i % j->n_cols],
                                       j->keep_dict, &ws, &j->res[i], &j->errs[i]);
        if (j->codes[i] != LDR_OK)
            atomic_store(&j->failed, true);
    }
    workspace_fini(&ws);
    return NULL;
}

static size_t thread_count(int threads)
{
    long n = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (size_t)n;
}

/* Runs every unit on up to nt threads (the caller's included). */
static void run_job(job *j, size_t nt)
{
    if (nt > j->n)
        nt = j->n;
    pthread_t tids[MAX_THREADS];
    size_t started = 0;
    for (size_t i = 1; i < nt; i++) {
        if (pthread_create(&tids[started], NULL, worker, j) != 0)
            break; /* fewer threads: the others do the work */
        started++;
    }
    worker(j);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
}

/* ---- public API -------------------------------------------------------------------------------
 */

static ldr_pq_reader *reader_new(const char *name)
{
    ldr_pq_reader *r = ldr_xcalloc(1, sizeof *r);
    r->name = ldr_xstrdup(name);
    ldr_arena_init(&r->arena, 64u << 10);
    return r;
}

/* Validates the file frame (magics, footer length) and parses the footer. */
static ldr_code parse_footer(ldr_pq_reader *r, ldr_err *err)
{
    const uint8_t *p = r->data;
    size_t len = r->len;
    if (len < 12)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s: not a Parquet file (%zu bytes)", r->name, len);
    if (!memcmp(p + len - 4, "PARE", 4))
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "%s: encrypted Parquet files are not supported",
                            r->name);
    if (memcmp(p + len - 4, "PAR1", 4) != 0 || memcmp(p, "PAR1", 4) != 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s: not a Parquet file (no PAR1 magic)", r->name);
    size_t flen = u32le(p + len - 8);
    if (flen > len - 12)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s: footer length %zu exceeds the file (%zu bytes)",
                            r->name, flen, len);
    if (flen > LDR__PQ_MAX_FOOTER)
        return ldr_err_setf(err, LDR_ELIMIT, "%s: footer of %zu bytes exceeds the limit of %u",
                            r->name, flen, LDR__PQ_MAX_FOOTER);
    r->data_end = len - 8 - flen;
    ldr_code rc = ldr__pq_meta_parse(r, p + r->data_end, flen, err);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "%s: ", r->name);
    return rc;
}

ldr_pq_reader *ldr_pq_reader_open_mem(const char *name, const uint8_t *data, size_t len,
                                      ldr_err *err)
{
    ldr_pq_reader *r = reader_new(name);
    r->data = data;
    r->len = len;
    if (parse_footer(r, err) != LDR_OK) {
        ldr_pq_reader_close(r);
        return NULL;
    }
    return r;
}

ldr_pq_reader *ldr_pq_reader_open(const char *path, ldr_err *err)
{
    const uint8_t *data;
    size_t len;
    if (ldr__pq_source_map(path, &data, &len, err) != LDR_OK)
        return NULL;
    ldr_pq_reader *r = reader_new(path);
    r->data = data;
    r->len = len;
    r->mapped = true;
    if (parse_footer(r, err) != LDR_OK) {
        ldr_pq_reader_close(r);
        return NULL;
    }
    return r;
}

void ldr_pq_reader_close(ldr_pq_reader *r)
{
    if (!r)
        return;
    if (r->mapped)
        ldr__pq_source_unmap(r->data, r->len);
    ldr_arena_fini(&r->arena);
    ldr_free(r->name);
    ldr_free(r);
}

int64_t ldr_pq_num_rows(const ldr_pq_reader *r)
{
    return r->num_rows;
}

size_t ldr_pq_num_row_groups(const ldr_pq_reader *r)
{
    return r->n_rgs;
}

size_t ldr_pq_num_columns(const ldr_pq_reader *r)
{
    return r->n_cols;
}

const ldr_pq_column_info *ldr_pq_column(const ldr_pq_reader *r, size_t i)
{
    LDR_ASSERT(i < r->n_cols);
    return &r->cols[i].info;
}

int ldr_pq_find_column(const ldr_pq_reader *r, const char *name)
{
    for (size_t i = 0; i < r->n_cols && i < INT32_MAX; i++)
        if (!strcmp(r->cols[i].info.name, name))
            return (int)i;
    return -1;
}

ldr_pq_read_opts ldr_pq_read_opts_default(void)
{
    ldr_pq_read_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

/* Looks up a requested column: unknown (with a suggestion) or unsupported columns fail. */
static ldr_code resolve_column(const ldr_pq_reader *r, const char *name, size_t *out, ldr_err *err)
{
    int i = ldr_pq_find_column(r, name);
    if (i < 0) {
        const char **names = ldr_xcalloc(r->n_cols + 1, sizeof *names);
        for (size_t k = 0; k < r->n_cols; k++)
            names[k] = r->cols[k].info.name;
        const char *dym = ldr_did_you_mean(name, names, r->n_cols);
        ldr_err_setf(err, LDR_ENOTFOUND, "%s: no column named '%s'%s%s%s", r->name, name,
                     dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
        ldr_free(names);
        return LDR_ENOTFOUND;
    }
    const ldr__pq_colspec *cs = &r->cols[i];
    if (cs->info.unsupported)
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "%s: column %s: %s", r->name, cs->info.name,
                            cs->info.unsupported);
    *out = (size_t)i;
    return LDR_OK;
}

/* Resolves the selection (NULL = every column) into indices; caller frees *out. */
static ldr_code resolve_columns(const ldr_pq_reader *r, const char *const *names, size_t n,
                                size_t **out, size_t *out_n, ldr_err *err)
{
    size_t count = names ? n : r->n_cols;
    size_t *idx = ldr_xcalloc(count ? count : 1, sizeof *idx);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < count && rc == LDR_OK; i++)
        rc = names ? resolve_column(r, names[i], &idx[i], err)
                   : resolve_column(r, r->cols[i].info.name, &idx[i], err);
    if (rc != LDR_OK) {
        ldr_free(idx);
        return rc;
    }
    *out = idx;
    *out_n = count;
    return LDR_OK;
}

/* Decodes the selected columns of the kept row groups and assembles one batch. */
static ldr_code read_units(ldr_pq_reader *r, const size_t *rgs, size_t n_rgs, const size_t *cols,
                           size_t n_cols, bool keep_dict, int threads, ldr_batch **out,
                           ldr_err *err)
{
    size_t nt = thread_count(threads);
    job j;
    memset(&j, 0, sizeof j);
    j.r = r;
    j.rgs = rgs;
    j.n_rgs = n_rgs;
    j.cols = cols;
    j.n_cols = n_cols;
    j.keep_dict = keep_dict;
    j.by_column = n_cols >= nt || n_rgs <= 1;
    j.n = n_rgs == 0 ? 0 : j.by_column ? n_cols : n_rgs * n_cols;
    size_t n = j.n;
    j.res = ldr_xcalloc(n ? n : 1, sizeof *j.res);
    j.errs = ldr_xcalloc(n ? n : 1, sizeof *j.errs);
    j.codes = ldr_xcalloc(n ? n : 1, sizeof *j.codes);
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    if (n > 0)
        run_job(&j, nt);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        if (j.codes[i] != LDR_OK) {
            rc = j.codes[i];
            if (err)
                *err = j.errs[i];
        }
    }
    ldr_batch *b = NULL;
    if (rc == LDR_OK) {
        b = ldr_batch_new();
        ldr_col **parts = ldr_xcalloc(n_rgs ? n_rgs : 1, sizeof *parts);
        for (size_t c = 0; c < n_cols; c++) {
            const ldr__pq_colspec *cs = &r->cols[cols[c]];
            ldr_col *col;
            if (n_rgs == 0) {
                col = ldr_col_new(cs->info.type, 0);
            } else if (j.by_column) {
                col = j.res[c];
            } else {
                for (size_t g = 0; g < n_rgs; g++)
                    parts[g] = j.res[g * n_cols + c];
                col = concat_parts(parts, n_rgs);
            }
            ldr_batch_add(b, cs->info.name, col);
        }
        ldr_free(parts);
    } else {
        for (size_t i = 0; i < n; i++)
            ldr_col_free(j.res[i]);
    }
    ldr_free(j.res);
    ldr_free(j.errs);
    ldr_free(j.codes);
    *out = b;
    return rc;
}

/* The row groups that every range may match. *out (caller frees) and *out_n. */
static ldr_code prune(const ldr_pq_reader *r, const ldr_pq_read_opts *o, size_t **out,
                      size_t *out_n, ldr_err *err)
{
    size_t *keep = ldr_xcalloc(r->n_rgs ? r->n_rgs : 1, sizeof *keep);
    size_t n = 0;
    const ldr__pq_colspec **specs = ldr_xcalloc(o->n_ranges ? o->n_ranges : 1, sizeof *specs);
    for (size_t k = 0; k < o->n_ranges; k++) {
        int i = ldr_pq_find_column(r, o->ranges[k].column);
        if (i < 0) {
            ldr_free(specs);
            ldr_free(keep);
            return ldr_err_setf(err, LDR_ENOTFOUND, "%s: no column named '%s' (pruning range)",
                                r->name, o->ranges[k].column);
        }
        specs[k] = &r->cols[i];
    }
    for (size_t g = 0; g < r->n_rgs; g++) {
        bool ok = true;
        for (size_t k = 0; k < o->n_ranges && ok; k++)
            ok = rg_may_match(r, g, specs[k], o->ranges[k].min, o->ranges[k].max);
        if (ok)
            keep[n++] = g;
    }
    ldr_free(specs);
    *out = keep;
    *out_n = n;
    return LDR_OK;
}

ldr_code ldr_pq_read(ldr_pq_reader *r, const ldr_pq_read_opts *opts, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    ldr_pq_read_opts dflt = ldr_pq_read_opts_default();
    const ldr_pq_read_opts *o = opts ? opts : &dflt;
    size_t *cols = NULL, n_cols = 0, *rgs = NULL, n_rgs = 0;
    ldr_code rc = resolve_columns(r, o->columns, o->n_columns, &cols, &n_cols, err);
    if (rc == LDR_OK)
        rc = prune(r, o, &rgs, &n_rgs, err);
    if (rc == LDR_OK)
        rc = read_units(r, rgs, n_rgs, cols, n_cols, o->keep_dict, o->threads, out, err);
    ldr_free(rgs);
    ldr_free(cols);
    return rc;
}

ldr_code ldr_pq_read_row_group(ldr_pq_reader *r, size_t rg, const char *const *columns,
                               size_t n_columns, bool keep_dict, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    if (rg >= r->n_rgs)
        return ldr_err_setf(err, LDR_EINVAL, "%s: row group %zu does not exist (%zu row groups)",
                            r->name, rg, r->n_rgs);
    size_t *cols = NULL, n_cols = 0;
    ldr_code rc = resolve_columns(r, columns, n_columns, &cols, &n_cols, err);
    if (rc == LDR_OK)
        rc = read_units(r, &rg, 1, cols, n_cols, keep_dict, 1, out, err);
    ldr_free(cols);
    return rc;
}

ldr_pq_scratch *ldr_pq_scratch_new(void)
{
    return ldr_xcalloc(1, sizeof(ldr_pq_scratch));
}

void ldr_pq_scratch_free(ldr_pq_scratch *s)
{
    if (!s)
        return;
    workspace_fini(s);
    ldr_free(s);
}

ldr_code ldr_pq_read_chunk(ldr_pq_reader *r, size_t rg, size_t col, bool keep_dict,
                           ldr_pq_scratch *s, ldr_col **inout, ldr_err *err)
{
    if (rg >= r->n_rgs || col >= r->n_cols)
        return ldr_err_setf(err, LDR_EINVAL,
                            "%s: no column %zu of row group %zu (%zu columns, %zu row groups)",
                            r->name, col, rg, r->n_cols, r->n_rgs);
    const ldr__pq_colspec *cs = &r->cols[col];
    if (cs->info.unsupported)
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "%s: column %s: %s", r->name, cs->info.name,
                            cs->info.unsupported);
    ldr_col *c = *inout;
    /* Only a fresh column may become a dictionary column: with keep_dict, strings start
     * from scratch so every call returns what a first call would. */
    if (c && (c->dict || c->type != cs->info.type || (keep_dict && dict_candidate(cs)))) {
        ldr_col_free(c);
        c = NULL;
    }
    if (c)
        ldr_col_clear(c);
    *inout = c; /* NULL: decode_chunk makes a new column (a dictionary one with keep_dict) */
    return decode_chunk(r, rg, col, keep_dict, s, inout, err);
}

bool ldr_pq_row_group_may_match(const ldr_pq_reader *r, size_t rg, const ldr_pq_range *ranges,
                                size_t n_ranges)
{
    if (rg >= r->n_rgs)
        return false;
    for (size_t k = 0; k < n_ranges; k++) {
        int i = ldr_pq_find_column(r, ranges[k].column);
        if (i >= 0 && !rg_may_match(r, rg, &r->cols[i], ranges[k].min, ranges[k].max))
            return false;
    }
    return true;
}
