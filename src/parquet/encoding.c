/*
 * encoding.c -- Parquet value and level encodings (reference §5): the RLE/bit-packing
 * hybrid (decode and encode), legacy BIT_PACKED levels, DELTA_BINARY_PACKED (decode and
 * encode), DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT.
 *
 * Every decoder reads only p[0..len) and checks each count and width read from the input
 * before it is used; problems are LDR_ECORRUPT with a short message and no file context
 * (the reader prefixes it). Decoders allocate nothing sized by the input: output buffers
 * are the caller's (sized from counts the caller validated), DELTA streams are decoded
 * incrementally through the `dbp` cursor, and DELTA_BYTE_ARRAY output is capped.
 * Bit unpacking is the reader's hot loop: widths 1..32 each get a fully unrolled
 * 32-value unpacker (see unpack32); RLE runs are plain fills the compiler vectorises.
 * Both hybrid decoders share one run parser (rle_next): the 32-bit one for dictionary
 * indices and booleans, and the reader's byte-wide level decoder (ldr__pq_levels_decode,
 * declared in reader_int.h), which checks and counts levels while it decodes them.
 * Arithmetic on delta values is unsigned (mod 2^64), as Parquet specifies, so hostile
 * deltas wrap instead of overflowing. Pure functions; thread-safe.
 */
#include "parquet/parquet_int.h"

#include <inttypes.h>
#include <string.h>

#include "parquet/reader_int.h"

#define RLE_MAX_WIDTH      32
#define DELTA_MAX_WIDTH    64
#define DELTA_MAX_BLOCK    (1u << 20)  /* writers use 128..4096; bounds per-block work */
#define DBA_MAX_PAGE_BYTES (1u << 28)  /* front coding can expand quadratically */
#define DELTA_CHUNK        256         /* lengths decoded per step by the BYTE_ARRAY decoders */
#define RLE_MAX_RUN        0x7fffffffu /* Parquet: run lengths <= 2^31 - 1 */
#define DELTA_BLOCK_SIZE   128         /* what the encoder writes: Arrow's and parquet-mr's */
#define DELTA_MINIBLOCKS   4

/* ---- little helpers -------------------------------------------------------------------- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Unsigned LEB128 of at most 64 bits. False when truncated or longer than 10 bytes / 64
 * bits. */
static bool uleb(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t b = p[(*pos)++];
        if (shift == 63 && (b & 0x7e))
            return false; /* bits beyond 64 */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static uint64_t zigzag_dec(uint64_t u)
{
    return (u >> 1) ^ (0 - (u & 1));
}

static uint64_t zigzag_enc(uint64_t n)
{
    return (n << 1) ^ (0 - (n >> 63));
}

static size_t uleb_put(uint8_t *dst, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

/* ---- bit unpacking (LSB-first) -------------------------------------------------------- */

/* 32 values of width w (1..32) from in[0 .. 4w), reading up to 8 bytes past the group: the
 * caller guarantees 4w + 8 readable bytes (or copies the tail into a padded buffer). With
 * w a constant, the loop unrolls into 32 load/shift/mask steps. */
static inline __attribute__((always_inline)) void unpack32_body(const uint8_t *in, uint32_t *out,
                                                                unsigned w)
{
    const uint64_t mask = (UINT64_C(1) << w) - 1;
#pragma GCC unroll 32
    for (unsigned j = 0; j < 32; j++) {
        unsigned bit = j * w;
        out[j] = (uint32_t)((load64(in + (bit >> 3)) >> (bit & 7)) & mask);
    }
}

typedef void (*unpack32_fn)(const uint8_t *in, uint32_t *out);

#define UNPACK32(W)                                            \
    static void unpack32_##W(const uint8_t *in, uint32_t *out) \
    {                                                          \
        unpack32_body(in, out, W);                             \
    }
UNPACK32(1)
UNPACK32(2)
UNPACK32(3)
UNPACK32(4)
UNPACK32(5)
UNPACK32(6)
UNPACK32(7)
UNPACK32(8)
UNPACK32(9)
UNPACK32(10)
UNPACK32(11)
UNPACK32(12)
UNPACK32(13)
UNPACK32(14)
UNPACK32(15)
UNPACK32(16)
UNPACK32(17)
UNPACK32(18)
UNPACK32(19)
UNPACK32(20)
UNPACK32(21)
UNPACK32(22)
UNPACK32(23)
UNPACK32(24)
UNPACK32(25)
UNPACK32(26)
UNPACK32(27)
UNPACK32(28)
UNPACK32(29)
UNPACK32(30)
UNPACK32(31)
UNPACK32(32)

static void unpack32_0(const uint8_t *in, uint32_t *out)
{
    (void)in;
    memset(out, 0, 32 * sizeof *out);
}

static const unpack32_fn unpack32_fns[RLE_MAX_WIDTH + 1] = {
    unpack32_0,  unpack32_1,  unpack32_2,  unpack32_3,  unpack32_4,  unpack32_5,  unpack32_6,
    unpack32_7,  unpack32_8,  unpack32_9,  unpack32_10, unpack32_11, unpack32_12, unpack32_13,
    unpack32_14, unpack32_15, unpack32_16, unpack32_17, unpack32_18, unpack32_19, unpack32_20,
    unpack32_21, unpack32_22, unpack32_23, unpack32_24, unpack32_25, unpack32_26, unpack32_27,
    unpack32_28, unpack32_29, unpack32_30, unpack32_31, unpack32_32,
};

/* Unpacks `need` values (need <= count of the run) of width w from a bit-packed run whose
 * payload starts at in, with `avail` bytes readable from in (avail >= ceil(need*w/8)). */
static void unpack_run(const uint8_t *in, size_t avail, unsigned w, uint32_t *out, size_t need)
{
    unpack32_fn fn = unpack32_fns[w];
    size_t step = 4 * (size_t)w; /* bytes per 32 values */
    size_t i = 0, off = 0;
    while (need - i >= 32 && avail - off >= step + 8) {
        fn(in + off, out + i);
        i += 32;
        off += step;
    }
    while (i < need) { /* the last groups: from a zero-padded copy */
        uint8_t pad[4 * RLE_MAX_WIDTH + 8] = {0};
        uint32_t tmp[32];
        size_t have = avail - off < step ? avail - off : step;
        memcpy(pad, in + off, have);
        fn(pad, tmp);
        size_t k = need - i < 32 ? need - i : 32;
        memcpy(out + i, tmp, k * sizeof *tmp);
        i += k;
        off += step;
    }
}

/* 32 values of width w (0..64) from in, which has 4w + 9 readable bytes. Widths up to 32
 * use the unrolled unpackers above. */
static void unpack32_64(const uint8_t *in, unsigned w, uint64_t *out)
{
    if (w <= RLE_MAX_WIDTH) {
        uint32_t t[32];
        unpack32_fns[w](in, t);
        for (unsigned j = 0; j < 32; j++)
            out[j] = t[j];
        return;
    }
    const uint64_t mask = w == 64 ? UINT64_MAX : (UINT64_C(1) << w) - 1;
    for (unsigned j = 0; j < 32; j++) {
        unsigned bit = j * w, sh = bit & 7;
        const uint8_t *q = in + (bit >> 3);
        uint64_t v = load64(q) >> sh;
        if (sh + w > 64)
            v |= (uint64_t)q[8] << (64 - sh);
        out[j] = v & mask;
    }
}

/* ---- RLE / bit-packing hybrid ---------------------------------------------------------- */

/* One run of the hybrid, validated: `count` copies of `value` (RLE), or the first `count`
 * values of a bit-packed run whose payload starts at `data` with `avail` readable bytes. */
typedef struct rle_run {
    bool packed;
    uint32_t value;
    size_t count;
    const uint8_t *data;
    size_t avail;
} rle_run;

/* Reads the run at p[*pos..len), which must yield values i.. of n (i < n), and advances
 * *pos past it. Every length and value is checked here, once per run. */
static ldr_code rle_next(const uint8_t *p, size_t len, size_t *pos, unsigned bit_width, size_t i,
                         size_t n, rle_run *run, ldr_err *err)
{
    uint64_t h;
    if (!uleb(p, len, pos, &h))
        return ldr_err_setf(err, LDR_ECORRUPT, "RLE data ends after %zu of %zu values", i, n);
    if (h > UINT32_MAX)
        return ldr_err_setf(err, LDR_ECORRUPT, "RLE run header %llu is too large",
                            (unsigned long long)h);
    size_t left = n - i;
    if (!(h & 1)) {
        size_t count = (size_t)(h >> 1), vbytes = (bit_width + 7) / 8;
        if (count == 0)
            return ldr_err_setf(err, LDR_ECORRUPT, "RLE run of length 0");
        if (count > left)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "RLE run of %zu values overflows the %zu expected", count, left);
        if (len - *pos < vbytes)
            return ldr_err_setf(err, LDR_ECORRUPT, "RLE run value is truncated");
        uint32_t v = 0;
        for (size_t b = 0; b < vbytes; b++)
            v |= (uint32_t)p[*pos + b] << (8 * b);
        *pos += vbytes;
        if (bit_width < 32 && (v >> bit_width) != 0)
            return ldr_err_setf(err, LDR_ECORRUPT, "RLE value %u does not fit in %u bits", v,
                                bit_width);
        *run = (rle_run){.packed = false, .value = v, .count = count};
        return LDR_OK;
    }
    size_t groups = (size_t)(h >> 1);
    if (groups == 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "bit-packed run of length 0");
    size_t count = groups * 8, bytes = groups * bit_width;
    size_t need = count < left ? count : left;
    size_t avail = len - *pos;
    if (bytes > avail) { /* old Polars truncates the final run: enough if `need` fit */
        if ((need * bit_width + 7) / 8 > avail || need < left)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "bit-packed run of %zu values is truncated (%zu of %zu "
                                "bytes)",
                                count, avail, bytes);
        bytes = avail;
    }
    *run = (rle_run){.packed = true, .count = need, .data = p + *pos, .avail = avail};
    *pos += bytes;
    return LDR_OK;
}

ldr_code ldr__pq_rle_decode(const uint8_t *p, size_t len, unsigned bit_width, uint32_t *out,
                            size_t n, size_t *consumed, ldr_err *err)
{
    if (bit_width > RLE_MAX_WIDTH)
        return ldr_err_setf(err, LDR_ECORRUPT, "RLE bit width %u is more than 32", bit_width);
    size_t pos = 0, i = 0;
    while (i < n) {
        rle_run run;
        ldr_code rc = rle_next(p, len, &pos, bit_width, i, n, &run, err);
        if (rc != LDR_OK)
            return rc;
        uint32_t *o = out + i;
        if (!run.packed) {
            for (size_t k = 0; k < run.count; k++)
                o[k] = run.value;
        } else if (bit_width == 0) {
            memset(o, 0, run.count * sizeof *o);
        } else {
            unpack_run(run.data, run.avail, bit_width, o, run.count);
        }
        i += run.count;
    }
    if (consumed)
        *consumed = pos;
    return LDR_OK;
}

#define LEVEL_BLOCK 256 /* levels unpacked per step (a multiple of 8: byte-aligned) */

/* Narrows n unpacked levels to bytes; counts those equal to max and returns the greatest. */
static uint32_t narrow_levels(const uint32_t *v, size_t n, uint32_t max, uint8_t *out,
                              size_t *n_max)
{
    uint32_t top = 0;
    size_t eq = 0;
    for (size_t k = 0; k < n; k++) {
        top = v[k] > top ? v[k] : top;
        eq += v[k] == max;
        out[k] = (uint8_t)v[k];
    }
    *n_max += eq;
    return top;
}

/*
 * Levels are the reader's per-row work (bench: the scan benchmark of issue 3), so they
 * get their own decoder: one byte per level, RLE runs as memset, and the check against
 * the maximum and the count of present values (levels equal to the maximum) folded into
 * the same pass, per run rather than per value where the run is RLE. While every run is
 * an RLE run of the maximum (a page without nulls), nothing is written at all.
 */
ldr_code ldr__pq_levels_decode(const uint8_t *p, size_t len, unsigned max, const char *what,
                               uint8_t *out, size_t n, size_t *out_n_max, size_t *consumed,
                               ldr_err *err)
{
    if (max > UINT8_MAX)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s level maximum %u is too large", what, max);
    unsigned w = 0;
    while ((1u << w) <= max)
        w++;
    size_t pos = 0, i = 0, n_max = 0;
    uint32_t top = 0;
    bool written = false; /* out[0..i) holds the levels (else they all equal max) */
    while (i < n && top <= max) {
        rle_run run;
        ldr_code rc = rle_next(p, len, &pos, w, i, n, &run, err);
        if (rc != LDR_OK)
            return rc;
        if (!written && !(!run.packed && run.value == max)) {
            memset(out, (int)max, i);
            written = true;
        }
        if (!written) {
            n_max += run.count;
        } else if (!run.packed) {
            memset(out + i, (int)run.value, run.count);
            n_max += run.value == max ? run.count : 0;
            top = run.value > top ? run.value : top;
        } else if (w == 0) {
            memset(out + i, 0, run.count);
            n_max += run.count; /* max is 0 */
        } else {
            uint32_t tmp[LEVEL_BLOCK];
            for (size_t k = 0; k < run.count && top <= max; k += LEVEL_BLOCK) {
                size_t off = k / 8 * w,
                       m = run.count - k < LEVEL_BLOCK ? run.count - k : LEVEL_BLOCK;
                unpack_run(run.data + off, run.avail - off, w, tmp, m);
                uint32_t t = narrow_levels(tmp, m, max, out + i + k, &n_max);
                top = t > top ? t : top;
            }
        }
        i += run.count;
    }
    if (top > max)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s level %" PRIu32 " exceeds the maximum %u", what,
                            top, max);
    *out_n_max = n_max;
    if (consumed)
        *consumed = pos;
    return LDR_OK;
}

/* Encoder output is staged in a small array so ldr_buf sees one append per ~4 KiB. */
typedef struct stage {
    uint8_t b[4096];
    size_t len;
    ldr_buf *out;
} stage;

static ldr_code stage_flush(stage *s, ldr_err *err)
{
    ldr_code rc = ldr_buf_append(s->out, s->b, s->len, err);
    s->len = 0;
    return rc;
}

/* Makes room for `n` (<= 64) more bytes. */
static ldr_code stage_room(stage *s, size_t n, ldr_err *err)
{
    return s->len + n > sizeof s->b ? stage_flush(s, err) : LDR_OK;
}

static size_t run_length(const uint32_t *v, size_t i, size_t n, size_t cap)
{
    size_t j = i + 1;
    while (j < n && j - i < cap && v[j] == v[i])
        j++;
    return j - i;
}

static ldr_code emit_rle(stage *s, uint32_t v, size_t count, unsigned w, ldr_err *err)
{
    ldr_code rc = stage_room(s, 16, err);
    if (rc)
        return rc;
    s->len += uleb_put(s->b + s->len, (uint64_t)count << 1);
    for (unsigned b = 0; b < (w + 7) / 8; b++)
        s->b[s->len++] = (uint8_t)(v >> (8 * b));
    return LDR_OK;
}

/* v[i..e) as one bit-packed run, the last group zero-padded to 8 values. */
static ldr_code emit_packed(stage *s, const uint32_t *v, size_t i, size_t e, unsigned w,
                            ldr_err *err)
{
    size_t groups = (e - i + 7) / 8;
    ldr_code rc = stage_room(s, 16, err);
    if (rc)
        return rc;
    s->len += uleb_put(s->b + s->len, (uint64_t)groups << 1 | 1);
    for (size_t g = 0; g < groups; g++) {
        if ((rc = stage_room(s, RLE_MAX_WIDTH, err)))
            return rc;
        uint64_t acc = 0;
        unsigned nbits = 0;
        for (size_t k = i + g * 8; k < i + g * 8 + 8; k++) {
            acc |= (uint64_t)(k < e ? v[k] : 0) << nbits;
            nbits += w;
            while (nbits >= 8) {
                s->b[s->len++] = (uint8_t)acc;
                acc >>= 8;
                nbits -= 8;
            }
        }
    }
    return LDR_OK;
}

ldr_code ldr__pq_rle_encode(const uint32_t *v, size_t n, unsigned bit_width, ldr_buf *out,
                            ldr_err *err)
{
    if (bit_width > RLE_MAX_WIDTH)
        return ldr_err_setf(err, LDR_EINVAL, "RLE bit width %u is more than 32", bit_width);
    uint32_t all = 0;
    for (size_t i = 0; i < n; i++)
        all |= v[i];
    if (bit_width < 32 && (all >> bit_width) != 0)
        return ldr_err_setf(err, LDR_EINVAL, "RLE value does not fit in %u bits", bit_width);
    stage s = {.len = 0, .out = out};
    ldr_code rc = LDR_OK;
    size_t i = 0;
    while (i < n && rc == LDR_OK) {
        size_t r = run_length(v, i, n, RLE_MAX_RUN);
        if (r >= 8) {
            rc = emit_rle(&s, v[i], r, bit_width, err);
            i += r;
            continue;
        }
        /* A literal run ends at a group boundary where a run of >= 8 starts (or at the end,
         * where the last group may be padded: only the final run may carry padding). */
        size_t e = i;
        do
            e += 8;
        while (e < n && run_length(v, e, n, 8) < 8);
        if (e > n)
            e = n;
        rc = emit_packed(&s, v, i, e, bit_width, err);
        i = e;
    }
    if (rc == LDR_OK)
        rc = stage_flush(&s, err);
    return rc;
}

/* ---- legacy BIT_PACKED (MSB-first) ----------------------------------------------------- */

ldr_code ldr__pq_bitpacked_decode(const uint8_t *p, size_t len, unsigned bit_width, uint32_t *out,
                                  size_t n, size_t *consumed, ldr_err *err)
{
    if (bit_width > RLE_MAX_WIDTH)
        return ldr_err_setf(err, LDR_ECORRUPT, "BIT_PACKED bit width %u is more than 32",
                            bit_width);
    if (n > SIZE_MAX / RLE_MAX_WIDTH)
        return ldr_err_setf(err, LDR_ECORRUPT, "BIT_PACKED count %zu is too large", n);
    size_t bytes = (n * bit_width + 7) / 8;
    if (bytes > len)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "BIT_PACKED levels need %zu bytes, only %zu are left", bytes, len);
    uint64_t acc = 0, mask = (UINT64_C(1) << bit_width) - 1;
    unsigned nbits = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        while (nbits < bit_width) {
            acc = acc << 8 | p[pos++];
            nbits += 8;
        }
        nbits -= bit_width;
        out[i] = (uint32_t)((acc >> nbits) & mask);
    }
    if (consumed)
        *consumed = bytes;
    return LDR_OK;
}

/* ---- DELTA_BINARY_PACKED --------------------------------------------------------------- */

/* An incremental reader of one DELTA_BINARY_PACKED stream. */
typedef struct dbp {
    const uint8_t *p;
    size_t len, pos;    /* pos: the next unread byte (after the current miniblock's data) */
    uint64_t vpm;       /* values per miniblock, a multiple of 32 */
    uint64_t mb_count;  /* miniblocks per block */
    uint64_t total;     /* values in the stream */
    uint64_t done;      /* values produced so far, the first one included */
    uint64_t last;      /* the previous value, two's complement */
    uint64_t first;     /* the header's first value */
    uint64_t min_delta; /* of the current block */
    size_t widths;      /* offset of the current block's bit-width bytes */
    uint64_t mb;        /* miniblocks of the current block opened so far */
    size_t cur;         /* offset of the current miniblock's packed data */
    unsigned cur_w;     /* its bit width */
    uint64_t cur_used;  /* its values consumed (== vpm: open the next one) */
} dbp;

static ldr_code dbp_init(dbp *d, const uint8_t *p, size_t len, ldr_err *err)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->len = len;
    uint64_t block, first;
    if (!uleb(p, len, &d->pos, &block) || !uleb(p, len, &d->pos, &d->mb_count) ||
        !uleb(p, len, &d->pos, &d->total) || !uleb(p, len, &d->pos, &first))
        return ldr_err_setf(err, LDR_ECORRUPT, "DELTA_BINARY_PACKED header is truncated");
    if (block == 0 || block % 128 != 0 || block > DELTA_MAX_BLOCK)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BINARY_PACKED block size %llu is not a positive multiple "
                            "of 128 (at most %u)",
                            (unsigned long long)block, DELTA_MAX_BLOCK);
    if (d->mb_count == 0 || block % d->mb_count != 0 || (block / d->mb_count) % 32 != 0)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BINARY_PACKED has %llu miniblocks per block of %llu: "
                            "miniblocks must hold a multiple of 32 values",
                            (unsigned long long)d->mb_count, (unsigned long long)block);
    d->vpm = block / d->mb_count;
    d->first = zigzag_dec(first);
    d->mb = d->mb_count;  /* no block read yet */
    d->cur_used = d->vpm; /* no miniblock open */
    return LDR_OK;
}

/* Opens the next miniblock (reading a block header first when the block is exhausted). */
static ldr_code dbp_open(dbp *d, ldr_err *err)
{
    if (d->mb == d->mb_count) {
        uint64_t md;
        if (!uleb(d->p, d->len, &d->pos, &md))
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "DELTA_BINARY_PACKED block header is truncated after %llu "
                                "of %llu values",
                                (unsigned long long)d->done, (unsigned long long)d->total);
        if (d->len - d->pos < d->mb_count)
            return ldr_err_setf(err, LDR_ECORRUPT, "DELTA_BINARY_PACKED bit widths are truncated");
        d->min_delta = zigzag_dec(md);
        d->widths = d->pos;
        d->pos += (size_t)d->mb_count;
        d->mb = 0;
    }
    unsigned w = d->p[d->widths + d->mb++];
    if (w > DELTA_MAX_WIDTH)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BINARY_PACKED miniblock bit width %u is "
                            "more than 64",
                            w);
    size_t bytes = (size_t)(d->vpm / 8 * w);
    if (d->len - d->pos < bytes)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BINARY_PACKED miniblock is truncated (%zu of %zu bytes)",
                            d->len - d->pos, bytes);
    d->cur = d->pos;
    d->cur_w = w;
    d->cur_used = 0;
    d->pos += bytes;
    return LDR_OK;
}

/* Decodes the next `count` values (count <= total - done) into out. */
static ldr_code dbp_next(dbp *d, int64_t *out, size_t count, ldr_err *err)
{
    size_t k = 0;
    if (count > 0 && d->done == 0) {
        d->last = d->first;
        out[k++] = (int64_t)d->first;
        d->done = 1;
    }
    uint64_t tmp[32];
    while (k < count) {
        if (d->cur_used == d->vpm) {
            ldr_code rc = dbp_open(d, err);
            if (rc)
                return rc;
        }
        /* The 32-value group holding value cur_used of the miniblock. */
        size_t g = (size_t)(d->cur_used / 32), in_g = (size_t)(d->cur_used % 32);
        const uint8_t *in = d->p + d->cur + g * 4 * d->cur_w;
        size_t avail = (size_t)(d->p + d->len - in);
        if (avail >= 4 * (size_t)d->cur_w + 9) {
            unpack32_64(in, d->cur_w, tmp);
        } else {
            uint8_t pad[4 * DELTA_MAX_WIDTH + 9] = {0};
            memcpy(pad, in, 4 * (size_t)d->cur_w);
            unpack32_64(pad, d->cur_w, tmp);
        }
        size_t take = 32 - in_g;
        if (take > count - k)
            take = count - k;
        uint64_t last = d->last, md = d->min_delta;
        for (size_t j = 0; j < take; j++) {
            last += md + tmp[in_g + j];
            out[k + j] = (int64_t)last;
        }
        d->last = last;
        k += take;
        d->cur_used += take;
        d->done += take;
    }
    return LDR_OK;
}

/* Skips the values not yet decoded; afterwards d->pos is the end of the stream. */
static ldr_code dbp_finish(dbp *d, ldr_err *err)
{
    if (d->done == 0 && d->total > 0)
        d->done = 1;
    while (d->done < d->total) {
        if (d->cur_used == d->vpm) {
            ldr_code rc = dbp_open(d, err);
            if (rc)
                return rc;
        }
        uint64_t take = d->vpm - d->cur_used;
        if (take > d->total - d->done)
            take = d->total - d->done;
        d->cur_used += take;
        d->done += take;
    }
    return LDR_OK;
}

ldr_code ldr__pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t n,
                              size_t *consumed, ldr_err *err)
{
    dbp d;
    ldr_code rc = dbp_init(&d, p, len, err);
    if (rc)
        return rc;
    if (d.total < n)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BINARY_PACKED holds %llu values, %zu expected",
                            (unsigned long long)d.total, n);
    if ((rc = dbp_next(&d, out, n, err)) || (rc = dbp_finish(&d, err)))
        return rc;
    if (consumed)
        *consumed = d.pos;
    return LDR_OK;
}

/* The encoder writes blocks of 128 values in 4 miniblocks of 32, like Arrow and
 * parquet-mr. Deltas and their offsets from the block minimum are computed mod 2^64. */
static unsigned bits_needed(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

static ldr_code delta_block(stage *s, const uint64_t *deltas, size_t nd, ldr_err *err)
{
    const size_t vpm = DELTA_BLOCK_SIZE / DELTA_MINIBLOCKS;
    int64_t min = (int64_t)deltas[0];
    for (size_t j = 1; j < nd; j++)
        if ((int64_t)deltas[j] < min)
            min = (int64_t)deltas[j];
    ldr_code rc = stage_room(s, 16, err);
    if (rc)
        return rc;
    s->len += uleb_put(s->b + s->len, zigzag_enc((uint64_t)min));
    size_t used = (nd + vpm - 1) / vpm; /* miniblocks holding values */
    unsigned widths[DELTA_MINIBLOCKS] = {0};
    for (size_t m = 0; m < used; m++) {
        uint64_t all = 0;
        for (size_t j = m * vpm; j < nd && j < (m + 1) * vpm; j++)
            all |= deltas[j] - (uint64_t)min;
        widths[m] = bits_needed(all);
    }
    for (size_t m = 0; m < DELTA_MINIBLOCKS; m++)
        s->b[s->len++] = (uint8_t)widths[m];
    for (size_t m = 0; m < used; m++) {    /* full miniblocks, the last one zero-padded */
        unsigned w = widths[m], nbits = 0; /* nbits < 8 between values */
        uint64_t acc = 0;
        for (size_t j = m * vpm; j < (m + 1) * vpm; j++) {
            if ((rc = stage_room(s, 16, err)))
                return rc;
            uint64_t x = j < nd ? deltas[j] - (uint64_t)min : 0;
            uint64_t carry = nbits ? x >> (64 - nbits) : 0; /* bits that overflow acc */
            acc |= x << nbits;
            nbits += w;
            if (nbits >= 64) {
                for (unsigned b = 0; b < 8; b++)
                    s->b[s->len++] = (uint8_t)(acc >> (8 * b));
                acc = carry;
                nbits -= 64;
            }
            while (nbits >= 8) {
                s->b[s->len++] = (uint8_t)acc;
                acc >>= 8;
                nbits -= 8;
            }
        }
    }
    return LDR_OK;
}

ldr_code ldr__pq_delta_encode(const int64_t *v, size_t n, ldr_buf *out, ldr_err *err)
{
    stage s = {.len = 0, .out = out};
    s.len += uleb_put(s.b, DELTA_BLOCK_SIZE);
    s.len += uleb_put(s.b + s.len, DELTA_MINIBLOCKS);
    s.len += uleb_put(s.b + s.len, n);
    s.len += uleb_put(s.b + s.len, zigzag_enc(n ? (uint64_t)v[0] : 0));
    uint64_t deltas[DELTA_BLOCK_SIZE];
    ldr_code rc = LDR_OK;
    for (size_t i = 1; i < n && rc == LDR_OK; i += DELTA_BLOCK_SIZE) {
        size_t nd = n - i < DELTA_BLOCK_SIZE ? n - i : DELTA_BLOCK_SIZE;
        for (size_t j = 0; j < nd; j++)
            deltas[j] = (uint64_t)v[i + j] - (uint64_t)v[i + j - 1];
        rc = delta_block(&s, deltas, nd, err);
    }
    if (rc == LDR_OK)
        rc = stage_flush(&s, err);
    return rc;
}

/* ---- DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY -------------------------------------- */

/* Opens a DELTA stream of exactly n lengths at p[0..len) and finds its end (*end). */
static ldr_code lengths_open(dbp *d, const uint8_t *p, size_t len, size_t n, const char *what,
                             size_t *end, ldr_err *err)
{
    ldr_code rc = dbp_init(d, p, len, err);
    if (rc)
        return rc;
    if (d->total != n)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s holds %llu lengths, %zu expected", what,
                            (unsigned long long)d->total, n);
    dbp probe = *d;
    if ((rc = dbp_finish(&probe, err)))
        return rc;
    *end = probe.pos;
    return LDR_OK;
}

ldr_code ldr__pq_delta_length_decode(const uint8_t *p, size_t len, size_t n, ldr_col *out,
                                     size_t *consumed, ldr_err *err)
{
    dbp d;
    size_t pos;
    ldr_code rc = lengths_open(&d, p, len, n, "DELTA_LENGTH_BYTE_ARRAY", &pos, err);
    if (rc)
        return rc;
    ldr_col_reserve(out, n);
    int64_t lens[DELTA_CHUNK];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < DELTA_CHUNK ? n - i : DELTA_CHUNK;
        if ((rc = dbp_next(&d, lens, k, err)))
            return rc;
        for (size_t j = 0; j < k; j++) {
            if (lens[j] < 0 || (uint64_t)lens[j] > len - pos)
                return ldr_err_setf(err, LDR_ECORRUPT,
                                    "DELTA_LENGTH_BYTE_ARRAY value %zu has length %lld, %zu "
                                    "bytes are left",
                                    i + j, (long long)lens[j], len - pos);
            ldr_col_append_str(out, p + pos, (size_t)lens[j]);
            pos += (size_t)lens[j];
        }
        i += k;
    }
    if (consumed)
        *consumed = pos;
    return LDR_OK;
}

/* One DELTA_BYTE_ARRAY value: the first `prefix` bytes of the previous value (held in
 * `prev`) followed by `suffix` bytes from src; appended to out and kept in prev. */
static ldr_code front_value(ldr_buf *prev, int64_t prefix, int64_t suffix, const uint8_t *src,
                            size_t avail, size_t i, ldr_col *out, ldr_err *err)
{
    if (prefix < 0 || (uint64_t)prefix > prev->len)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BYTE_ARRAY value %zu has prefix length %lld but the "
                            "previous value has %zu bytes",
                            i, (long long)prefix, prev->len);
    if (suffix < 0 || (uint64_t)suffix > avail)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "DELTA_BYTE_ARRAY value %zu has suffix length %lld, %zu bytes "
                            "are left",
                            i, (long long)suffix, avail);
    if ((uint64_t)prefix + (uint64_t)suffix > prev->max)
        return ldr_err_setf(err, LDR_ELIMIT, "DELTA_BYTE_ARRAY value %zu is longer than %zu bytes",
                            i, prev->max);
    prev->len = (size_t)prefix;
    ldr_code rc = ldr_buf_append(prev, src, (size_t)suffix, err);
    if (rc)
        return rc;
    ldr_col_append_str(out, prev->ptr ? prev->ptr : "", prev->len);
    return LDR_OK;
}

ldr_code ldr__pq_delta_byte_array_decode(const uint8_t *p, size_t len, size_t n, ldr_col *out,
                                         size_t *consumed, ldr_err *err)
{
    dbp pre, suf;
    size_t pre_end, suf_end;
    ldr_code rc = lengths_open(&pre, p, len, n, "DELTA_BYTE_ARRAY prefix stream", &pre_end, err);
    if (rc)
        return rc;
    rc = lengths_open(&suf, p + pre_end, len - pre_end, n, "DELTA_BYTE_ARRAY suffix stream",
                      &suf_end, err);
    if (rc)
        return rc;
    size_t pos = pre_end + suf_end, total = 0;
    ldr_buf prev;
    ldr_buf_init(&prev, DBA_MAX_PAGE_BYTES);
    ldr_col_reserve(out, n);
    int64_t a[DELTA_CHUNK], b[DELTA_CHUNK];
    for (size_t i = 0; i < n && rc == LDR_OK;) {
        size_t k = n - i < DELTA_CHUNK ? n - i : DELTA_CHUNK;
        if ((rc = dbp_next(&pre, a, k, err)) || (rc = dbp_next(&suf, b, k, err)))
            break;
        for (size_t j = 0; j < k && rc == LDR_OK; j++) {
            rc = front_value(&prev, a[j], b[j], p + pos, len - pos, i + j, out, err);
            if (rc)
                break;
            pos += (size_t)b[j];
            total += prev.len;
            if (total > DBA_MAX_PAGE_BYTES)
                rc = ldr_err_setf(err, LDR_ELIMIT,
                                  "DELTA_BYTE_ARRAY page decodes to more than %u bytes",
                                  DBA_MAX_PAGE_BYTES);
        }
        i += k;
    }
    ldr_buf_fini(&prev);
    if (rc == LDR_OK && consumed)
        *consumed = pos;
    return rc;
}

/* ---- BYTE_STREAM_SPLIT ------------------------------------------------------------------ */

ldr_code ldr__pq_byte_stream_split_decode(const uint8_t *p, size_t len, size_t width, size_t n,
                                          uint8_t *out, ldr_err *err)
{
    if (width == 0 || n > SIZE_MAX / width || len != width * n)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "BYTE_STREAM_SPLIT data has %zu bytes, expected %zu values of %zu "
                            "bytes",
                            len, n, width);
    if (width == 4) {
        const uint8_t *s0 = p, *s1 = p + n, *s2 = p + 2 * n, *s3 = p + 3 * n;
        for (size_t i = 0; i < n; i++) {
            out[4 * i] = s0[i];
            out[4 * i + 1] = s1[i];
            out[4 * i + 2] = s2[i];
            out[4 * i + 3] = s3[i];
        }
        return LDR_OK;
    }
    if (width == 8) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < 8; j++)
                out[8 * i + j] = p[j * n + i];
        return LDR_OK;
    }
    for (size_t j = 0; j < width; j++) {
        const uint8_t *s = p + j * n;
        for (size_t i = 0; i < n; i++)
            out[i * width + j] = s[i];
    }
    return LDR_OK;
}
