/*
 * writer.c -- the Parquet writer (API in parquet.h): Larder batches to a Parquet file that
 * DuckDB, Arrow, Spark and hyparquet read (reference §9 "writer essentials").
 *
 * Layout: every column is OPTIONAL; scalars map to BOOLEAN, INT32, INT64, FLOAT, DOUBLE or
 * BYTE_ARRAY (String adds STRING/UTF8, UnixTimestamp is INT64 TIMESTAMP(MICROS, UTC) plus
 * TIMESTAMP_MICROS); Array(T) is the standard 3-level LIST
 * `optional group x (LIST) { repeated group list { optional T element } }`.
 * Rows are buffered into row groups of opts.row_group_rows (a batch that covers whole row
 * groups is encoded in place, without a copy). Each column chunk gets min/max/null_count
 * statistics and is dictionary-encoded (PLAIN dictionary page + RLE_DICTIONARY data pages)
 * when the dictionary stays under 1 MiB and is smaller than PLAIN; otherwise PLAIN. Data
 * pages are v1, about 1 MiB each, start at row boundaries and carry a CRC.
 * Thrift metadata comes from thrift_write.c; each finished RowGroup is serialized at once,
 * so the footer needs no per-chunk state.
 *
 * Threads: a column chunk's encoding (statistics, dictionary, pages, compression) depends
 * only on its rows, so chunks are encoded into their own buffers, with page offsets
 * relative to the chunk, on a small pthread pool (opts.threads; the calling thread helps).
 * The calling thread emits finished chunks strictly in (row group, column) order and only
 * then fixes their file offsets, so the bytes are those of a serial run whatever the
 * thread count. At most `window` row groups are in flight (a few; one when serial); row
 * groups borrowed from the caller's batch are all emitted before ldr_pq_writer_write
 * returns, pending row groups the writer owns may stay in flight across calls.
 *
 * Files are written to "<path>.tmp-<pid>", fsynced and renamed on close, so a reader never
 * sees half a file; abort (or any failure in close) unlinks the temporary file.
 * Ownership: the writer owns its copies of the schema and of pending rows, never the
 * caller's batches. Not thread-safe: one thread at a time calls a writer.
 */
#include "parquet/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet/parquet_int.h"
#include "parquet/thrift_write.h"

/* PLAIN values are the in-memory little-endian bytes of the columns. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the writer assumes little-endian");

#define PAGE_TARGET_BITS ((uint64_t)8 << 20) /* ~1 MiB of encoded values per data page */
#define PAGE_MAX_ROWS    ((size_t)1 << 17)
#define DICT_MAX_BYTES   ((size_t)1 << 20) /* Arrow's and parquet-mr's default */
#define STATS_MAX_BYTES  4096              /* longer BYTE_ARRAY bounds are not written */
#define OUT_FLUSH_BYTES  ((size_t)8 << 20)
#define PAGE_MAX_BYTES   ((size_t)INT32_MAX)
#define MAX_THREADS      64
#define MAX_WINDOW       8 /* row groups in flight at most */
#define CREATED_BY       "larder version " LDR_VERSION_STRING

/* Parquet enums (reference §3.1). */
enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_FLOAT = 4, PT_DOUBLE = 5, PT_BYTES = 6 };
enum { REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { CT_UTF8 = 0, CT_LIST = 3, CT_TIMESTAMP_MICROS = 10 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };

/* One top-level column of the schema. */
typedef struct wcol {
    char *name;
    ldr_type type; /* as declared */
    ldr_type elem; /* the leaf's scalar type */
    bool list;
    int physical;
    size_t width; /* bytes per PLAIN value; 0 for BYTE_ARRAY and BOOLEAN (bits) */
} wcol;

struct ldr_pq_writer {
    ldr_pq_write_opts opts;
    char *path, *tmp;
    int fd;
    uint64_t pos; /* file offset of the next byte emitted */
    ldr_buf out;  /* emitted bytes not yet written to fd */
    wcol *cols;
    size_t n_cols;
    ldr_batch *pending; /* rows waiting for a full row group, or NULL */
    ldr_buf rgs;        /* Thrift RowGroup structs of the finished row groups */
    size_t n_rg;
    int64_t num_rows;
    ldr_buf cc;  /* Thrift ColumnChunk structs of the current row group */
    bool broken; /* a write failed: the file cannot be completed */
    /* row groups in flight: a ring of `window` entries, oldest at ring_head */
    unsigned threads; /* encoding threads, the caller's included */
    size_t window;
    struct rgjob *ring;
    size_t ring_head, ring_len;
    size_t n_borrowed;  /* of them, row groups of a caller's batch */
    size_t n_submitted; /* row groups handed to the encoders so far */
    /* the encoding pool; mu guards the queue, the flags and every chunk's `done` */
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* a chunk was queued, or stop */
    pthread_cond_t done;  /* a chunk was encoded */
    struct chunk **queue; /* chunks waiting for a thread, FIFO ring of q_cap */
    size_t q_cap, q_head, q_len;
    bool stop;   /* workers exit */
    bool cancel; /* queued chunks are skipped (their row groups are discarded) */
    unsigned n_workers;
    bool spawn_failed;
    pthread_t tids[MAX_THREADS];
    struct wworker *workers; /* threads entries: [0] is the caller, who encodes too */
};

/* Scratch buffers of one encoding thread, reused across the chunks it encodes. */
typedef struct wscratch {
    ldr_buf raw, comp, hdr;             /* page payload, compressed payload, header */
    uint32_t *lv_def, *lv_rep, *lv_idx; /* levels and dictionary indices of a page */
    size_t lv_cap;
} wscratch;

typedef struct wworker {
    ldr_pq_writer *w;
    wscratch s;
} wworker;

/* ---- the dictionary of one column chunk ------------------------------------------------- */

/* Distinct values in first-seen order, held as their PLAIN encoding (the dictionary page
 * payload), with an open-addressing index whose slots carry the key (the value itself for
 * fixed-width types, the 64-bit hash for BYTE_ARRAY), so a lookup touches one cache line
 * (hits on BYTE_ARRAY values compare the bytes once). */
typedef struct dict_slot {
    uint64_t key;
    uint32_t idx; /* entry index + 1; 0 = empty */
} dict_slot;

typedef struct dict_set {
    size_t width;  /* fixed-width values (<= 8 bytes); 0 = BYTE_ARRAY */
    ldr_buf plain; /* PLAIN-encoded entries */
    size_t *offs;  /* BYTE_ARRAY: where entry i's bytes start in plain */
    size_t offs_cap;
    dict_slot *slots;
    size_t cap, n;
} dict_set;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53u;
    return x ^ (x >> 33);
}

/* The slot key of a value: its bits (fixed width) or its hash (BYTE_ARRAY). */
static uint64_t value_key(const uint8_t *p, size_t len, size_t width)
{
    uint64_t v = 0;
    if (width == 0)
        return ldr_hash_bytes(p, len);
    memcpy(&v, p, width);
    return v;
}

static const uint8_t *dict_entry(const dict_set *d, size_t e, size_t *len)
{
    if (d->width) {
        *len = d->width;
        return (const uint8_t *)d->plain.ptr + e * d->width;
    }
    uint32_t n;
    memcpy(&n, d->plain.ptr + d->offs[e] - 4, 4);
    *len = n;
    return (const uint8_t *)d->plain.ptr + d->offs[e];
}

static void dict_init(dict_set *d, size_t width)
{
    memset(d, 0, sizeof *d);
    d->width = width;
    ldr_buf_init(&d->plain, DICT_MAX_BYTES + 1024);
    d->cap = 1024;
    d->slots = ldr_xcalloc(d->cap, sizeof *d->slots);
}

static void dict_fini(dict_set *d)
{
    ldr_buf_fini(&d->plain);
    ldr_free(d->offs);
    ldr_free(d->slots);
}

static void dict_grow(dict_set *d)
{
    dict_slot *old = d->slots;
    size_t old_cap = d->cap;
    d->cap *= 2;
    d->slots = ldr_xcalloc(d->cap, sizeof *d->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].idx)
            continue;
        size_t s = (size_t)mix64(old[i].key) & (d->cap - 1);
        while (d->slots[s].idx)
            s = (s + 1) & (d->cap - 1);
        d->slots[s] = old[i];
    }
    ldr_free(old);
}

/* The index of value p[0..len), added when new. False when the dictionary would pass
 * DICT_MAX_BYTES: the chunk falls back to PLAIN. */
static bool dict_insert(dict_set *d, const uint8_t *p, size_t len, uint32_t *out)
{
    uint64_t key = value_key(p, len, d->width);
    size_t mask = d->cap - 1, s = (size_t)mix64(key) & mask;
    for (; d->slots[s].idx; s = (s + 1) & mask) {
        if (d->slots[s].key != key)
            continue;
        size_t elen;
        const uint8_t *e = d->width ? NULL : dict_entry(d, d->slots[s].idx - 1, &elen);
        if (d->width || (elen == len && memcmp(e, p, len) == 0)) {
            *out = d->slots[s].idx - 1;
            return true;
        }
    }
    if (d->plain.len + len + 4 > DICT_MAX_BYTES)
        return false;
    if (d->width == 0) {
        uint32_t n32 = (uint32_t)len;
        if (d->n == d->offs_cap) {
            d->offs_cap = d->offs_cap ? 2 * d->offs_cap : 256;
            d->offs = ldr_xreallocarray(d->offs, d->offs_cap, sizeof *d->offs);
        }
        if (ldr_buf_append(&d->plain, &n32, 4, NULL) != LDR_OK)
            return false;
        d->offs[d->n] = d->plain.len;
    }
    if (ldr_buf_append(&d->plain, p, len, NULL) != LDR_OK)
        return false;
    d->slots[s].key = key;
    d->slots[s].idx = (uint32_t)(d->n + 1);
    *out = (uint32_t)d->n++;
    if (d->n * 2 > d->cap)
        dict_grow(d);
    return true;
}

/* ---- column values ----------------------------------------------------------------------- */

/* The bytes of value i of c (dictionaries resolved): PLAIN bytes for fixed-width types,
 * the payload for String/Bytes. */
static const uint8_t *value_bytes(const ldr_col *c, size_t i, size_t width, size_t *len)
{
    if (width == 0)
        return (const uint8_t *)ldr_col_str(c, i, len);
    const ldr_col *s = c->dict ? c->dict : c;
    *len = width;
    return (const uint8_t *)s->data + ldr_col_slot(c, i) * width;
}

static unsigned bits_for(size_t max_value)
{
    unsigned b = 0;
    while (b < 32 && (max_value >> b) != 0)
        b++;
    return b;
}

/* ---- one column chunk ------------------------------------------------------------------- */

/* A column chunk: its inputs, the encoder's working state, and the result: the pages
 * (headers and bodies) in `out`, with data_off/dict_off relative to out until the chunk
 * is emitted. Encoded on any thread; emitted by the writer's caller. */
typedef struct chunk {
    const ldr_pq_write_opts *opts;
    const wcol *sc;
    const ldr_col *col;  /* the top-level column */
    const ldr_col *vals; /* leaf values: col, or col->child for lists */
    size_t r0, r1;       /* rows of the row group */
    size_t v0, v1;       /* their leaf values */
    wscratch *s;         /* the encoding thread's scratch, while encoding */
    ldr_buf out;         /* the encoded pages */
    ldr_code rc;         /* the encoding's result, with err */
    ldr_err err;
    bool done; /* encoded (or skipped); guarded by the writer's mu */
    /* dictionary encoding, when used */
    bool use_dict;
    dict_set dict;
    uint32_t *idx; /* dictionary index of each value in [v0, v1) (nulls: 0) */
    unsigned idx_bits;
    /* statistics */
    bool has_minmax;
    uint8_t min[8], max[8]; /* fixed-width bounds */
    const uint8_t *smin, *smax;
    size_t smin_len, smax_len; /* BYTE_ARRAY bounds, borrowed from the column */
    int64_t null_count;
    /* results */
    int64_t num_values, unc_size, comp_size, data_off, dict_off;
    int32_t n_pages;
} chunk;

static bool bytes_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c < 0 || (c == 0 && alen < blen);
}

static void stats_bytes(chunk *c)
{
    const ldr_col *v = c->vals;
    for (size_t i = c->v0; i < c->v1; i++) {
        if (!ldr_col_valid(v, i))
            continue;
        size_t len;
        const uint8_t *p = value_bytes(v, i, 0, &len);
        if (!c->has_minmax || bytes_less(p, len, c->smin, c->smin_len)) {
            c->smin = p;
            c->smin_len = len;
        }
        if (!c->has_minmax || bytes_less(c->smax, c->smax_len, p, len)) {
            c->smax = p;
            c->smax_len = len;
        }
        c->has_minmax = true;
    }
    if (c->smin_len > STATS_MAX_BYTES || c->smax_len > STATS_MAX_BYTES)
        c->has_minmax = false;
}

/* Integer-like bounds (Int32, Int64, UnixTimestamp, Bool as 0/1). */
static void stats_int(chunk *c)
{
    const ldr_col *v = c->vals;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = c->v0; i < c->v1; i++) {
        if (!ldr_col_valid(v, i))
            continue;
        int64_t x;
        switch (c->sc->elem) {
        case LDR_TYPE_INT32:
            x = ldr_col_i32(v, i);
            break;
        case LDR_TYPE_BOOL:
            x = ldr_col_bool(v, i);
            break;
        default:
            x = ldr_col_i64(v, i);
            break;
        }
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        c->has_minmax = true;
    }
    if (!c->has_minmax)
        return;
    if (c->sc->elem == LDR_TYPE_INT32) {
        int32_t a = (int32_t)lo, b = (int32_t)hi;
        memcpy(c->min, &a, 4);
        memcpy(c->max, &b, 4);
    } else if (c->sc->elem == LDR_TYPE_BOOL) {
        c->min[0] = (uint8_t)lo;
        c->max[0] = (uint8_t)hi;
    } else {
        memcpy(c->min, &lo, 8);
        memcpy(c->max, &hi, 8);
    }
}

/* Float bounds: NaN is skipped (no bounds when every value is NaN), and zeros are written
 * as -0.0 for a min and +0.0 for a max, as readers expect (reference §8). */
static void stats_float(chunk *c)
{
    const ldr_col *v = c->vals;
    double lo = (double)INFINITY, hi = -(double)INFINITY;
    bool is32 = c->sc->elem == LDR_TYPE_FLOAT32;
    for (size_t i = c->v0; i < c->v1; i++) {
        if (!ldr_col_valid(v, i))
            continue;
        double x = is32 ? (double)ldr_col_f32(v, i) : ldr_col_f64(v, i);
        if (isnan(x))
            continue;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
        c->has_minmax = true;
    }
    if (!c->has_minmax)
        return;
    if (lo == 0)
        lo = -0.0;
    if (hi == 0)
        hi = 0.0;
    if (is32) {
        float a = (float)lo, b = (float)hi;
        memcpy(c->min, &a, 4);
        memcpy(c->max, &b, 4);
    } else {
        memcpy(c->min, &lo, 8);
        memcpy(c->max, &hi, 8);
    }
}

static void chunk_stats(chunk *c)
{
    switch (c->sc->physical) {
    case PT_BYTES:
        stats_bytes(c);
        break;
    case PT_FLOAT:
    case PT_DOUBLE:
        stats_float(c);
        break;
    default:
        stats_int(c);
        break;
    }
}

/* Builds the dictionary and the index of every value; decides whether it pays off. A
 * dictionary column as input is hashed once per dictionary entry, not once per row. */
#define DICT_PREFETCH 8 /* values ahead whose slot is prefetched */

/* Fixed-width values without an input dictionary, the common case: the lookups are bound
 * by cache misses on the slot table, so the slot of a value a few rows ahead is
 * prefetched (about 2x on a 100 000-entry dictionary). */
static bool dict_scan_fixed(chunk *c, size_t *n_valid, uint64_t *plain_bits)
{
    const ldr_col *v = c->vals;
    size_t w = c->sc->width;
    const uint8_t *data = v->data;
    for (size_t i = c->v0; i < c->v1; i++) {
        if (i + DICT_PREFETCH < c->v1) {
            uint64_t k = value_key(data + (i + DICT_PREFETCH) * w, w, w);
            __builtin_prefetch(&c->dict.slots[(size_t)mix64(k) & (c->dict.cap - 1)]);
        }
        if (!ldr_col_valid(v, i))
            continue;
        (*n_valid)++;
        *plain_bits += w * 8;
        if (!dict_insert(&c->dict, data + i * w, w, &c->idx[i - c->v0]))
            return false;
    }
    return true;
}

/* Any column; a dictionary column as input is hashed once per dictionary entry, not once
 * per row. */
static bool dict_scan(chunk *c, size_t *n_valid, uint64_t *plain_bits)
{
    const ldr_col *v = c->vals;
    size_t width = c->sc->width;
    int32_t *remap = NULL;
    if (v->dict) {
        remap = ldr_xmalloc(v->dict->n * sizeof *remap);
        memset(remap, 0xff, v->dict->n * sizeof *remap);
    }
    bool ok = true;
    for (size_t i = c->v0; i < c->v1 && ok; i++) {
        if (!ldr_col_valid(v, i))
            continue;
        size_t len, s = v->dict ? ldr_col_slot(v, i) : 0;
        (*n_valid)++;
        if (remap && remap[s] >= 0) {
            c->idx[i - c->v0] = (uint32_t)remap[s];
            *plain_bits += width
                               ? width * 8
                               : (4 + (size_t)(v->dict->offsets[s + 1] - v->dict->offsets[s])) * 8;
            continue;
        }
        const uint8_t *p = value_bytes(v, i, width, &len);
        *plain_bits += (uint64_t)(width ? len : 4 + len) * 8;
        ok = dict_insert(&c->dict, p, len, &c->idx[i - c->v0]);
        if (ok && remap)
            remap[s] = (int32_t)c->idx[i - c->v0];
    }
    ldr_free(remap);
    return ok;
}

/* Builds the dictionary and the index of every value, then keeps it only if it pays off
 * against PLAIN. */
static void chunk_dictionary(chunk *c)
{
    size_t n = c->v1 - c->v0, n_valid = 0;
    uint64_t plain_bits = 0;
    dict_init(&c->dict, c->sc->width);
    c->idx = ldr_xcalloc(n ? n : 1, sizeof *c->idx);
    bool ok = c->sc->width && !c->vals->dict ? dict_scan_fixed(c, &n_valid, &plain_bits)
                                             : dict_scan(c, &n_valid, &plain_bits);
    c->idx_bits = bits_for(c->dict.n ? c->dict.n - 1 : 0);
    if (c->idx_bits == 0)
        c->idx_bits = 1; /* width 0 is legal but trips some readers */
    uint64_t dict_bits = (uint64_t)c->dict.plain.len * 8 + (uint64_t)n_valid * c->idx_bits;
    c->use_dict = ok && dict_bits < plain_bits;
    if (!c->use_dict) {
        dict_fini(&c->dict);
        ldr_free(c->idx);
        c->idx = NULL;
    }
}

/* ---- output ------------------------------------------------------------------------------ */

static ldr_code write_all(ldr_pq_writer *w, const char *p, size_t len, ldr_err *err)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(w->fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", w->tmp);
        off += (size_t)n;
    }
    return LDR_OK;
}

static ldr_code flush_out(ldr_pq_writer *w, ldr_err *err)
{
    ldr_code rc = write_all(w, w->out.ptr, w->out.len, err);
    ldr_buf_reset(&w->out);
    return rc;
}

/* Appends bytes to the file: through the out buffer, or straight to the file when large
 * (an encoded column chunk), after what is buffered. */
static ldr_code emit(ldr_pq_writer *w, const void *p, size_t len, ldr_err *err)
{
    ldr_code rc;
    if (len >= OUT_FLUSH_BYTES) {
        if ((rc = flush_out(w, err)) || (rc = write_all(w, p, len, err)))
            return rc;
        w->pos += len;
        return LDR_OK;
    }
    if ((rc = ldr_buf_append(&w->out, p, len, err)))
        return rc;
    w->pos += len;
    return w->out.len >= OUT_FLUSH_BYTES ? flush_out(w, err) : LDR_OK;
}

static int32_t crc_i32(uint32_t crc)
{
    int32_t v;
    memcpy(&v, &crc, 4); /* Thrift has no unsigned types: the bits are stored as i32 */
    return v;
}

/* Compresses the scratch payload (s->raw) and appends a page header plus body to the
 * chunk's bytes. type is PAGE_DATA (num_values level entries of `encoding`) or
 * PAGE_DICTIONARY (num_values entries). */
static ldr_code emit_page(chunk *c, int type, size_t num_values, int encoding, ldr_err *err)
{
    wscratch *s = c->s;
    const ldr_buf *body = &s->raw;
    ldr_code rc;
    if (c->opts->codec != LDR_PQ_UNCOMPRESSED) {
        ldr_buf_reset(&s->comp);
        int level = c->opts->codec == LDR_PQ_ZSTD ? c->opts->zstd_level : 0;
        rc = ldr__pq_compress((int)c->opts->codec, (const uint8_t *)s->raw.ptr, s->raw.len, level,
                              &s->comp, err);
        if (rc)
            return rc;
        body = &s->comp;
    }
    if (s->raw.len > PAGE_MAX_BYTES || body->len > PAGE_MAX_BYTES || num_values > INT32_MAX)
        return ldr_err_setf(err, LDR_ELIMIT, "page of %zu bytes and %zu values is too large",
                            s->raw.len, num_values);
    ldr_buf_reset(&s->hdr);
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &s->hdr, err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 1, type);
    ldr__pq_tw_i32(&t, 2, (int32_t)s->raw.len);
    ldr__pq_tw_i32(&t, 3, (int32_t)body->len);
    ldr__pq_tw_i32(&t, 4, crc_i32(ldr__pq_crc32((const uint8_t *)body->ptr, body->len)));
    ldr__pq_tw_struct_begin(&t, type == PAGE_DATA ? 5 : 7);
    ldr__pq_tw_i32(&t, 1, (int32_t)num_values);
    ldr__pq_tw_i32(&t, 2, encoding);
    if (type == PAGE_DATA) {
        ldr__pq_tw_i32(&t, 3, LDR__PQ_ENC_RLE); /* definition levels */
        ldr__pq_tw_i32(&t, 4, LDR__PQ_ENC_RLE); /* repetition levels */
    }
    ldr__pq_tw_end(&t);
    ldr__pq_tw_end(&t);
    if ((rc = ldr__pq_tw_status(&t)))
        return rc;
    if (type == PAGE_DICTIONARY)
        c->dict_off = (int64_t)c->out.len; /* relative until the chunk is emitted */
    else if (c->n_pages++ == 0)
        c->data_off = (int64_t)c->out.len;
    c->unc_size += (int64_t)(s->hdr.len + s->raw.len);
    c->comp_size += (int64_t)(s->hdr.len + body->len);
    if ((rc = ldr_buf_append(&c->out, s->hdr.ptr, s->hdr.len, err)))
        return rc;
    return ldr_buf_append(&c->out, body->ptr, body->len, err);
}

/* ---- data pages ---------------------------------------------------------------------------- */

static void levels_reserve(wscratch *s, size_t n)
{
    if (n <= s->lv_cap)
        return;
    s->lv_cap = n;
    s->lv_def = ldr_xreallocarray(s->lv_def, n, sizeof *s->lv_def);
    s->lv_rep = ldr_xreallocarray(s->lv_rep, n, sizeof *s->lv_rep);
    s->lv_idx = ldr_xreallocarray(s->lv_idx, n, sizeof *s->lv_idx);
}

/* Level entries of rows [pa, pb) into s->lv_def / lv_rep; returns their count and adds
 * entries without a value to the chunk's null count. */
static size_t page_levels(chunk *c, size_t pa, size_t pb)
{
    wscratch *s = c->s;
    const ldr_col *col = c->col;
    size_t n = 0;
    if (!c->sc->list) {
        for (size_t r = pa; r < pb; r++)
            s->lv_def[n++] = ldr_col_valid(col, r);
        return n;
    }
    for (size_t r = pa; r < pb; r++) {
        size_t b, e;
        ldr_col_list(col, r, &b, &e);
        if (!ldr_col_valid(col, r) || b == e) {
            s->lv_rep[n] = 0;
            s->lv_def[n++] = ldr_col_valid(col, r) ? 1 : 0;
            continue;
        }
        for (size_t i = b; i < e; i++) {
            s->lv_rep[n] = i == b ? 0 : 1;
            s->lv_def[n++] = ldr_col_valid(c->vals, i) ? 3 : 2;
        }
    }
    return n;
}

/* Appends a v1 level section: 4-byte length, then the RLE hybrid. */
static ldr_code put_levels(ldr_buf *raw, const uint32_t *lv, size_t n, unsigned width, ldr_err *err)
{
    uint32_t len = 0;
    size_t at = raw->len;
    ldr_code rc = ldr_buf_append(raw, &len, 4, err);
    if (rc || (rc = ldr__pq_rle_encode(lv, n, width, raw, err)))
        return rc;
    len = (uint32_t)(raw->len - at - 4);
    memcpy(raw->ptr + at, &len, 4);
    return LDR_OK;
}

static ldr_code plain_values(chunk *c, size_t va, size_t vb, ldr_err *err)
{
    ldr_buf *raw = &c->s->raw;
    const ldr_col *v = c->vals;
    size_t width = c->sc->width;
    ldr_code rc = LDR_OK;
    if (c->sc->physical == PT_BOOLEAN) {
        uint8_t byte = 0;
        unsigned k = 0;
        for (size_t i = va; i < vb && rc == LDR_OK; i++) {
            if (!ldr_col_valid(v, i))
                continue;
            byte = (uint8_t)(byte | (unsigned)ldr_col_bool(v, i) << k);
            if (++k == 8) {
                rc = ldr_buf_append(raw, &byte, 1, err);
                byte = 0;
                k = 0;
            }
        }
        return rc || k == 0 ? rc : ldr_buf_append(raw, &byte, 1, err);
    }
    if (width && !v->dict && (!v->valid || v->null_count == 0))
        return ldr_buf_append(raw, (const uint8_t *)v->data + va * width, (vb - va) * width, err);
    for (size_t i = va; i < vb && rc == LDR_OK; i++) {
        if (!ldr_col_valid(v, i))
            continue;
        size_t len;
        const uint8_t *p = value_bytes(v, i, width, &len);
        uint32_t n32 = (uint32_t)len;
        if (width == 0 && (len > UINT32_MAX || (rc = ldr_buf_append(raw, &n32, 4, err))))
            return rc ? rc : ldr_err_setf(err, LDR_ELIMIT, "value of %zu bytes", len);
        rc = ldr_buf_append(raw, p, len, err);
    }
    return rc;
}

static ldr_code dict_values(chunk *c, size_t va, size_t vb, ldr_err *err)
{
    wscratch *s = c->s;
    size_t n = 0;
    for (size_t i = va; i < vb; i++)
        if (ldr_col_valid(c->vals, i))
            s->lv_idx[n++] = c->idx[i - c->v0];
    uint8_t bw = (uint8_t)c->idx_bits;
    ldr_code rc = ldr_buf_append(&s->raw, &bw, 1, err);
    return rc ? rc : ldr__pq_rle_encode(s->lv_idx, n, c->idx_bits, &s->raw, err);
}

/* The leaf value range of rows [pa, pb). */
static void value_range(const chunk *c, size_t pa, size_t pb, size_t *va, size_t *vb)
{
    if (!c->sc->list) {
        *va = pa;
        *vb = pb;
        return;
    }
    *va = (size_t)c->col->offsets[pa];
    *vb = (size_t)c->col->offsets[pb];
}

static ldr_code data_page(chunk *c, size_t pa, size_t pb, ldr_err *err)
{
    wscratch *s = c->s;
    size_t va, vb;
    value_range(c, pa, pb, &va, &vb);
    levels_reserve(s, (pb - pa) + (vb - va) + 1);
    size_t n = page_levels(c, pa, pb);
    unsigned max_def = c->sc->list ? 3 : 1;
    for (size_t i = 0; i < n; i++)
        c->null_count += s->lv_def[i] < max_def;
    ldr_buf_reset(&s->raw);
    ldr_code rc = LDR_OK;
    if (c->sc->list)
        rc = put_levels(&s->raw, s->lv_rep, n, 1, err);
    if (rc == LDR_OK)
        rc = put_levels(&s->raw, s->lv_def, n, bits_for(max_def), err);
    if (rc == LDR_OK)
        rc = c->use_dict ? dict_values(c, va, vb, err) : plain_values(c, va, vb, err);
    if (rc == LDR_OK)
        rc = emit_page(c, PAGE_DATA, n,
                       c->use_dict ? LDR__PQ_ENC_RLE_DICTIONARY : LDR__PQ_ENC_PLAIN, err);
    c->num_values += (int64_t)n;
    return rc;
}

/* Estimated encoded bits of row r's values (and its levels, roughly). */
static uint64_t row_bits(const chunk *c, size_t r)
{
    size_t va, vb;
    value_range(c, r, r + 1, &va, &vb);
    uint64_t bits = 2;
    for (size_t i = va; i < vb; i++) {
        bits += 2;
        if (!ldr_col_valid(c->vals, i))
            continue;
        if (c->use_dict)
            bits += c->idx_bits;
        else if (c->sc->physical == PT_BOOLEAN)
            bits += 1;
        else if (c->sc->width)
            bits += c->sc->width * 8;
        else {
            size_t len;
            (void)ldr_col_str(c->vals, i, &len);
            bits += (4 + (uint64_t)len) * 8;
        }
    }
    return bits;
}

/* Where the data page starting at row pa ends: after ~PAGE_TARGET_BITS of values. Flat
 * columns whose values all encode to the same size are sized by arithmetic. */
static size_t page_end(const chunk *c, size_t pa)
{
    size_t limit = c->r1 - pa < PAGE_MAX_ROWS ? c->r1 : pa + PAGE_MAX_ROWS;
    if (!c->sc->list && (c->use_dict || c->sc->physical != PT_BYTES)) {
        uint64_t per = 2 + (c->use_dict                     ? c->idx_bits
                            : c->sc->physical == PT_BOOLEAN ? 1
                                                            : c->sc->width * 8);
        uint64_t rows = PAGE_TARGET_BITS / per;
        return rows < limit - pa ? pa + (size_t)rows : limit;
    }
    uint64_t bits = 0;
    size_t pb = pa;
    while (pb < limit && bits < PAGE_TARGET_BITS)
        bits += row_bits(c, pb++);
    return pb;
}

static ldr_code chunk_pages(chunk *c, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    if (c->use_dict) {
        ldr_buf_reset(&c->s->raw);
        rc = ldr_buf_append(&c->s->raw, c->dict.plain.ptr, c->dict.plain.len, err);
        if (rc || (rc = emit_page(c, PAGE_DICTIONARY, c->dict.n, LDR__PQ_ENC_PLAIN, err)))
            return rc;
    }
    for (size_t pa = c->r0; pa < c->r1 && rc == LDR_OK;) {
        size_t pb = page_end(c, pa);
        rc = data_page(c, pa, pb, err);
        pa = pb;
    }
    return rc;
}

/* ---- chunk metadata ----------------------------------------------------------------------- */

static void put_statistics(ldr__pq_tw *t, const chunk *c)
{
    ldr__pq_tw_struct_begin(t, 12);
    bool fixed = c->sc->physical != PT_BYTES;
    size_t len = c->sc->physical == PT_BOOLEAN ? 1 : c->sc->width;
    const uint8_t *mn = fixed ? c->min : c->smin, *mx = fixed ? c->max : c->smax;
    size_t mn_len = fixed ? len : c->smin_len, mx_len = fixed ? len : c->smax_len;
    if (c->has_minmax && fixed) { /* deprecated signed-order fields, for old readers */
        ldr__pq_tw_binary(t, 1, mx, mx_len);
        ldr__pq_tw_binary(t, 2, mn, mn_len);
    }
    ldr__pq_tw_i64(t, 3, c->null_count);
    if (c->has_minmax) {
        ldr__pq_tw_binary(t, 5, mx ? mx : (const uint8_t *)"", mx_len);
        ldr__pq_tw_binary(t, 6, mn ? mn : (const uint8_t *)"", mn_len);
    }
    ldr__pq_tw_end(t);
}

static void put_encoding_stats(ldr__pq_tw *t, const chunk *c)
{
    ldr__pq_tw_list_begin(t, 13, LDR__PQ_TW_STRUCT, c->use_dict ? 2 : 1);
    if (c->use_dict) {
        ldr__pq_tw_open(t);
        ldr__pq_tw_i32(t, 1, PAGE_DICTIONARY);
        ldr__pq_tw_i32(t, 2, LDR__PQ_ENC_PLAIN);
        ldr__pq_tw_i32(t, 3, 1);
        ldr__pq_tw_end(t);
    }
    ldr__pq_tw_open(t);
    ldr__pq_tw_i32(t, 1, PAGE_DATA);
    ldr__pq_tw_i32(t, 2, c->use_dict ? LDR__PQ_ENC_RLE_DICTIONARY : LDR__PQ_ENC_PLAIN);
    ldr__pq_tw_i32(t, 3, c->n_pages);
    ldr__pq_tw_end(t);
}

/* Appends an emitted chunk's ColumnChunk struct to w->cc. */
static ldr_code put_column_chunk(ldr_pq_writer *w, const chunk *c, ldr_err *err)
{
    const wcol *sc = c->sc;
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &w->cc, err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i64(&t, 2, 0); /* file_offset: deprecated, required */
    ldr__pq_tw_struct_begin(&t, 3);
    ldr__pq_tw_i32(&t, 1, sc->physical);
    ldr__pq_tw_list_begin(&t, 2, LDR__PQ_TW_I32, c->use_dict ? 3 : 2);
    ldr__pq_tw_elem_i32(&t, LDR__PQ_ENC_PLAIN);
    ldr__pq_tw_elem_i32(&t, LDR__PQ_ENC_RLE);
    if (c->use_dict)
        ldr__pq_tw_elem_i32(&t, LDR__PQ_ENC_RLE_DICTIONARY);
    ldr__pq_tw_list_begin(&t, 3, LDR__PQ_TW_BINARY, sc->list ? 3 : 1);
    ldr__pq_tw_elem_string(&t, sc->name);
    if (sc->list) {
        ldr__pq_tw_elem_string(&t, "list");
        ldr__pq_tw_elem_string(&t, "element");
    }
    ldr__pq_tw_i32(&t, 4, (int32_t)w->opts.codec);
    ldr__pq_tw_i64(&t, 5, c->num_values);
    ldr__pq_tw_i64(&t, 6, c->unc_size);
    ldr__pq_tw_i64(&t, 7, c->comp_size);
    ldr__pq_tw_i64(&t, 9, c->data_off);
    if (c->use_dict)
        ldr__pq_tw_i64(&t, 11, c->dict_off);
    if (w->opts.statistics)
        put_statistics(&t, c);
    put_encoding_stats(&t, c);
    ldr__pq_tw_end(&t);
    ldr__pq_tw_end(&t);
    return ldr__pq_tw_status(&t);
}

/* ---- encoding, on any thread -------------------------------------------------------------- */

/* Encodes a chunk into c->out (statistics, dictionary, pages). The dictionary and the
 * value indices are freed at the end: emission needs only the bytes and the counts. */
static void chunk_encode(chunk *c, wscratch *s)
{
    c->s = s;
    if (c->opts->statistics)
        chunk_stats(c);
    if (c->opts->dictionary && c->sc->physical != PT_BOOLEAN)
        chunk_dictionary(c);
    c->rc = chunk_pages(c, &c->err);
    if (c->use_dict) {
        dict_fini(&c->dict);
        ldr_free(c->idx);
        c->idx = NULL;
    }
    c->s = NULL;
}

/* Pops the oldest queued chunk and encodes it with scratch s. Called with w->mu held;
 * releases it while encoding. */
static void run_next_locked(ldr_pq_writer *w, wscratch *s)
{
    chunk *c = w->queue[w->q_head];
    w->q_head = (w->q_head + 1) % w->q_cap;
    w->q_len--;
    bool skip = w->cancel;
    pthread_mutex_unlock(&w->mu);
    if (!skip)
        chunk_encode(c, s);
    pthread_mutex_lock(&w->mu);
    c->done = true;
    pthread_cond_broadcast(&w->done);
}

static void *worker_main(void *arg)
{
    wworker *k = arg;
    ldr_pq_writer *w = k->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->q_len == 0)
            pthread_cond_wait(&w->wake, &w->mu);
        if (w->q_len == 0)
            break; /* stopping, nothing left */
        run_next_locked(w, &k->s);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until c is encoded; the caller encodes queued chunks meanwhile (with no workers,
 * it encodes everything). */
static void wait_chunk(ldr_pq_writer *w, chunk *c)
{
    pthread_mutex_lock(&w->mu);
    while (!c->done) {
        if (w->q_len)
            run_next_locked(w, &w->workers[0].s);
        else
            pthread_cond_wait(&w->done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Starts workers until there are `want` (at most threads - 1), so a small file spawns
 * none. A thread that cannot be created is no error: the caller encodes more. */
static void start_workers(ldr_pq_writer *w, size_t want)
{
    while (!w->spawn_failed && w->n_workers < want && w->n_workers + 1 < w->threads) {
        wworker *k = &w->workers[w->n_workers + 1];
        if (pthread_create(&w->tids[w->n_workers], NULL, worker_main, k) != 0) {
            w->spawn_failed = true;
            break;
        }
        w->n_workers++;
    }
}

/* ---- row groups in flight ------------------------------------------------------------------ */

/* A row group between submission and emission: one chunk per column. */
typedef struct rgjob {
    const ldr_batch *b;
    ldr_batch *owned; /* b, when the writer owns it (a flushed pending row group) */
    size_t r0, r1;
    size_t index;  /* row group ordinal, for messages */
    chunk *chunks; /* n_cols, reused from one row group to the next */
} rgjob;

/* Queues rows [r0, r1) of b (r1 > r0) for encoding; the ring must have room. With owned,
 * the writer frees b once the row group is emitted or discarded. */
static void submit_row_group(ldr_pq_writer *w, const ldr_batch *b, ldr_batch *owned, size_t r0,
                             size_t r1)
{
    LDR_ASSERT(w->ring_len < w->window);
    rgjob *g = &w->ring[(w->ring_head + w->ring_len) % w->window];
    g->b = b;
    g->owned = owned;
    g->r0 = r0;
    g->r1 = r1;
    g->index = w->n_submitted++;
    for (size_t ci = 0; ci < w->n_cols; ci++) {
        chunk *c = &g->chunks[ci];
        ldr_buf out = c->out; /* keeps its allocation */
        memset(c, 0, sizeof *c);
        ldr_buf_reset(&out);
        c->out = out;
        c->opts = &w->opts;
        c->sc = &w->cols[ci];
        c->col = b->cols[ci];
        c->vals = c->sc->list ? c->col->child : c->col;
        c->r0 = r0;
        c->r1 = r1;
        value_range(c, r0, r1, &c->v0, &c->v1);
    }
    w->ring_len++;
    w->n_borrowed += owned ? 0 : 1;
    start_workers(w, w->ring_len * w->n_cols - 1);
    pthread_mutex_lock(&w->mu);
    for (size_t ci = 0; ci < w->n_cols; ci++) {
        LDR_ASSERT(w->q_len < w->q_cap);
        w->queue[(w->q_head + w->q_len++) % w->q_cap] = &g->chunks[ci];
    }
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for the oldest row group's chunks and takes it off the ring. */
static void release_oldest(ldr_pq_writer *w)
{
    rgjob *g = &w->ring[w->ring_head];
    for (size_t ci = 0; ci < w->n_cols; ci++)
        wait_chunk(w, &g->chunks[ci]); /* encoding leaves nothing allocated but out */
    w->n_borrowed -= g->owned ? 0 : 1;
    ldr_batch_free(g->owned);
    g->owned = NULL;
    g->b = NULL;
    w->ring_head = (w->ring_head + 1) % w->window;
    w->ring_len--;
}

/* Appends an encoded chunk to the file and its ColumnChunk struct to w->cc. */
static ldr_code emit_chunk(ldr_pq_writer *w, chunk *c, ldr_err *err)
{
    int64_t base = (int64_t)w->pos;
    c->data_off += base;
    if (c->use_dict)
        c->dict_off += base;
    ldr_code rc = emit(w, c->out.ptr, c->out.len, err);
    return rc ? rc : put_column_chunk(w, c, err);
}

/* Emits the oldest row group in flight, in column order, then its RowGroup struct. */
static ldr_code emit_row_group(ldr_pq_writer *w, ldr_err *err)
{
    rgjob *g = &w->ring[w->ring_head];
    int64_t first = (int64_t)w->pos, unc = 0, comp = 0;
    ldr_code rc = LDR_OK;
    ldr_buf_reset(&w->cc);
    for (size_t ci = 0; ci < w->n_cols && rc == LDR_OK; ci++) {
        chunk *c = &g->chunks[ci];
        wait_chunk(w, c);
        if (c->rc) {
            rc = c->rc;
            if (err)
                *err = c->err;
            ldr_err_prefix(err, "column %s, row group %zu: ", c->sc->name, g->index);
            break;
        }
        rc = emit_chunk(w, c, err);
        unc += c->unc_size;
        comp += c->comp_size;
    }
    size_t n_rows = g->r1 - g->r0;
    release_oldest(w);
    if (rc)
        return rc;
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, &w->rgs, err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_list_begin(&t, 1, LDR__PQ_TW_STRUCT, w->n_cols);
    ldr__pq_tw_raw(&t, w->cc.ptr, w->cc.len);
    ldr__pq_tw_i64(&t, 2, unc);
    ldr__pq_tw_i64(&t, 3, (int64_t)n_rows);
    ldr__pq_tw_i64(&t, 5, first);
    ldr__pq_tw_i64(&t, 6, comp);
    if (w->n_rg <= INT16_MAX)
        ldr__pq_tw_i16(&t, 7, (int16_t)w->n_rg);
    ldr__pq_tw_end(&t);
    w->n_rg++;
    w->num_rows += (int64_t)n_rows;
    return ldr__pq_tw_status(&t);
}

/* Makes room for one more row group in flight: emits the oldest when the ring is full. */
static ldr_code make_room(ldr_pq_writer *w, ldr_err *err)
{
    return w->ring_len < w->window ? LDR_OK : emit_row_group(w, err);
}

/* After a failure: waits for (or skips) every chunk in flight and drops the row groups;
 * the file cannot be completed any more. */
static void discard_all(ldr_pq_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->cancel = true;
    pthread_mutex_unlock(&w->mu);
    while (w->ring_len)
        release_oldest(w);
    pthread_mutex_lock(&w->mu);
    w->cancel = false;
    pthread_mutex_unlock(&w->mu);
    w->broken = true;
}

/* ---- schema ------------------------------------------------------------------------------ */

static bool wcol_init(wcol *sc, const char *name, ldr_type type)
{
    memset(sc, 0, sizeof *sc);
    if (!ldr_type_valid(type))
        return false;
    sc->type = type;
    sc->list = ldr_type_is_list(type);
    sc->elem = ldr_type_elem(type);
    switch (sc->elem) {
    case LDR_TYPE_BOOL:
        sc->physical = PT_BOOLEAN;
        break;
    case LDR_TYPE_INT32:
        sc->physical = PT_INT32;
        sc->width = 4;
        break;
    case LDR_TYPE_FLOAT32:
        sc->physical = PT_FLOAT;
        sc->width = 4;
        break;
    case LDR_TYPE_FLOAT64:
        sc->physical = PT_DOUBLE;
        sc->width = 8;
        break;
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        sc->physical = PT_INT64;
        sc->width = 8;
        break;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES:
        sc->physical = PT_BYTES;
        break;
    default:
        return false;
    }
    sc->name = ldr_xstrdup(name);
    return true;
}

/* The SchemaElement of a leaf named name. */
static void put_leaf(ldr__pq_tw *t, const wcol *sc, const char *name)
{
    ldr__pq_tw_open(t);
    ldr__pq_tw_i32(t, 1, sc->physical);
    ldr__pq_tw_i32(t, 3, REP_OPTIONAL);
    ldr__pq_tw_string(t, 4, name);
    if (sc->elem == LDR_TYPE_STRING)
        ldr__pq_tw_i32(t, 6, CT_UTF8);
    else if (sc->elem == LDR_TYPE_UNIX_TIMESTAMP)
        ldr__pq_tw_i32(t, 6, CT_TIMESTAMP_MICROS);
    if (sc->elem == LDR_TYPE_STRING) {
        ldr__pq_tw_struct_begin(t, 10); /* LogicalType */
        ldr__pq_tw_struct_begin(t, 1);  /* STRING */
        ldr__pq_tw_end(t);
        ldr__pq_tw_end(t);
    } else if (sc->elem == LDR_TYPE_UNIX_TIMESTAMP) {
        ldr__pq_tw_struct_begin(t, 10);
        ldr__pq_tw_struct_begin(t, 8); /* TIMESTAMP */
        ldr__pq_tw_bool(t, 1, true);   /* isAdjustedToUTC */
        ldr__pq_tw_struct_begin(t, 2); /* unit */
        ldr__pq_tw_struct_begin(t, 2); /* MICROS */
        ldr__pq_tw_end(t);
        ldr__pq_tw_end(t);
        ldr__pq_tw_end(t);
        ldr__pq_tw_end(t);
    }
    ldr__pq_tw_end(t);
}

/* `optional group NAME (LIST) { repeated group list { optional T element } }` */
static void put_list(ldr__pq_tw *t, const wcol *sc)
{
    ldr__pq_tw_open(t);
    ldr__pq_tw_i32(t, 3, REP_OPTIONAL);
    ldr__pq_tw_string(t, 4, sc->name);
    ldr__pq_tw_i32(t, 5, 1);
    ldr__pq_tw_i32(t, 6, CT_LIST);
    ldr__pq_tw_struct_begin(t, 10);
    ldr__pq_tw_struct_begin(t, 3); /* LIST */
    ldr__pq_tw_end(t);
    ldr__pq_tw_end(t);
    ldr__pq_tw_end(t);
    ldr__pq_tw_open(t);
    ldr__pq_tw_i32(t, 3, REP_REPEATED);
    ldr__pq_tw_string(t, 4, "list");
    ldr__pq_tw_i32(t, 5, 1);
    ldr__pq_tw_end(t);
    put_leaf(t, sc, "element");
}

static ldr_code put_footer(ldr_pq_writer *w, ldr_buf *out, ldr_err *err)
{
    size_t n_elems = 1, n_leaves = w->n_cols;
    for (size_t i = 0; i < w->n_cols; i++)
        n_elems += w->cols[i].list ? 3 : 1;
    ldr__pq_tw t;
    ldr__pq_tw_init(&t, out, err);
    ldr__pq_tw_open(&t);
    ldr__pq_tw_i32(&t, 1, 1); /* version */
    ldr__pq_tw_list_begin(&t, 2, LDR__PQ_TW_STRUCT, n_elems);
    ldr__pq_tw_open(&t); /* the root */
    ldr__pq_tw_string(&t, 4, "schema");
    ldr__pq_tw_i32(&t, 5, (int32_t)w->n_cols);
    ldr__pq_tw_end(&t);
    for (size_t i = 0; i < w->n_cols; i++) {
        if (w->cols[i].list)
            put_list(&t, &w->cols[i]);
        else
            put_leaf(&t, &w->cols[i], w->cols[i].name);
    }
    ldr__pq_tw_i64(&t, 3, w->num_rows);
    ldr__pq_tw_list_begin(&t, 4, LDR__PQ_TW_STRUCT, w->n_rg);
    ldr__pq_tw_raw(&t, w->rgs.ptr, w->rgs.len);
    ldr__pq_tw_string(&t, 6, CREATED_BY);
    ldr__pq_tw_list_begin(&t, 7, LDR__PQ_TW_STRUCT, n_leaves); /* column_orders */
    for (size_t i = 0; i < n_leaves; i++) {
        ldr__pq_tw_open(&t);
        ldr__pq_tw_struct_begin(&t, 1); /* TYPE_ORDER */
        ldr__pq_tw_end(&t);
        ldr__pq_tw_end(&t);
    }
    ldr__pq_tw_end(&t);
    return ldr__pq_tw_status(&t);
}

/* ---- the public API ----------------------------------------------------------------------- */

ldr_pq_write_opts ldr_pq_write_opts_default(void)
{
    ldr_pq_write_opts o;
    memset(&o, 0, sizeof o);
    o.codec = LDR_PQ_SNAPPY;
    o.row_group_rows = 1048576;
    o.dictionary = true;
    o.statistics = true;
    o.zstd_level = 3;
    o.threads = 0;
    return o;
}

static void scratch_init(wscratch *s)
{
    memset(s, 0, sizeof *s);
    ldr_buf_init(&s->raw, PAGE_MAX_BYTES);
    ldr_buf_init(&s->comp, SIZE_MAX / 2);
    ldr_buf_init(&s->hdr, 1 << 20);
}

static void scratch_fini(wscratch *s)
{
    ldr_buf_fini(&s->raw);
    ldr_buf_fini(&s->comp);
    ldr_buf_fini(&s->hdr);
    ldr_free(s->lv_def);
    ldr_free(s->lv_rep);
    ldr_free(s->lv_idx);
}

/* Encoding threads for opts.threads: that many (<= 0: one per online CPU), at most
 * MAX_THREADS. */
static unsigned thread_count(int threads)
{
    long n = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* The ring of row groups in flight, the queue and the scratch of each thread (workers
 * start on demand). The window gives every thread a chunk to encode while the caller
 * emits: about threads / n_cols row groups plus one, at most MAX_WINDOW. */
static void pool_init(ldr_pq_writer *w)
{
    w->threads = thread_count(w->opts.threads);
    size_t per = (w->threads + w->n_cols - 1) / w->n_cols;
    w->window = w->threads == 1 ? 1 : (1 + per < MAX_WINDOW ? 1 + per : MAX_WINDOW);
    w->ring = ldr_xcalloc(w->window, sizeof *w->ring);
    for (size_t k = 0; k < w->window; k++) {
        w->ring[k].chunks = ldr_xcalloc(w->n_cols, sizeof *w->ring[k].chunks);
        for (size_t ci = 0; ci < w->n_cols; ci++)
            ldr_buf_init(&w->ring[k].chunks[ci].out, SIZE_MAX / 2);
    }
    w->q_cap = w->window * w->n_cols;
    w->queue = ldr_xcalloc(w->q_cap, sizeof *w->queue);
    w->workers = ldr_xcalloc(w->threads, sizeof *w->workers);
    for (unsigned i = 0; i < w->threads; i++) {
        w->workers[i].w = w;
        scratch_init(&w->workers[i].s);
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
}

/* Drops what is in flight, stops the workers and frees the pool. */
static void pool_fini(ldr_pq_writer *w)
{
    if (w->ring_len)
        discard_all(w);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->n_workers; i++)
        pthread_join(w->tids[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    for (size_t k = 0; k < w->window; k++) {
        for (size_t ci = 0; ci < w->n_cols; ci++)
            ldr_buf_fini(&w->ring[k].chunks[ci].out);
        ldr_free(w->ring[k].chunks);
    }
    ldr_free(w->ring);
    ldr_free(w->queue);
    for (unsigned i = 0; i < w->threads; i++)
        scratch_fini(&w->workers[i].s);
    ldr_free(w->workers);
}

static void writer_free(ldr_pq_writer *w)
{
    pool_fini(w);
    for (size_t i = 0; i < w->n_cols; i++)
        ldr_free(w->cols[i].name);
    ldr_free(w->cols);
    ldr_batch_free(w->pending);
    ldr_buf_fini(&w->out);
    ldr_buf_fini(&w->rgs);
    ldr_buf_fini(&w->cc);
    ldr_free(w->path);
    ldr_free(w->tmp);
    ldr_free(w);
}

static ldr_code check_opts(const ldr_pq_write_opts *o, ldr_err *err)
{
    switch (o->codec) {
    case LDR_PQ_UNCOMPRESSED:
    case LDR_PQ_SNAPPY:
    case LDR_PQ_GZIP:
    case LDR_PQ_BROTLI:
    case LDR_PQ_ZSTD:
    case LDR_PQ_LZ4_RAW:
        break;
    default:
        return ldr_err_setf(err, LDR_EINVAL, "unknown compression codec %d", (int)o->codec);
    }
    if (o->row_group_rows == 0)
        return ldr_err_setf(err, LDR_EINVAL, "row_group_rows must be positive");
    return LDR_OK;
}

static ldr_code check_schema(const char *const *names, const ldr_type *types, size_t n,
                             ldr_err *err)
{
    if (n == 0)
        return ldr_err_setf(err, LDR_EINVAL, "a Parquet file needs at least one column");
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || !names[i][0])
            return ldr_err_setf(err, LDR_EINVAL, "column %zu has no name", i);
        wcol probe;
        if (!wcol_init(&probe, names[i], types[i]))
            return ldr_err_setf(err, LDR_EINVAL, "column %s has invalid type %d", names[i],
                                (int)types[i]);
        ldr_free(probe.name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return ldr_err_setf(err, LDR_EINVAL, "duplicate column name %s", names[i]);
    }
    return LDR_OK;
}

ldr_pq_writer *ldr_pq_writer_open(const char *path, const char *const *names, const ldr_type *types,
                                  size_t n_cols, const ldr_pq_write_opts *opts, ldr_err *err)
{
    ldr_pq_write_opts o = opts ? *opts : ldr_pq_write_opts_default();
    if (check_opts(&o, err) || check_schema(names, types, n_cols, err)) {
        ldr_err_prefix(err, "%s: ", path);
        return NULL;
    }
    ldr_pq_writer *w = ldr_xcalloc(1, sizeof *w);
    w->opts = o;
    w->path = ldr_xstrdup(path);
    ldr_buf tmp;
    ldr_buf_init(&tmp, PATH_MAX);
    if (ldr_buf_printf(&tmp, err, "%s.tmp-%ld", path, (long)getpid()) != LDR_OK) {
        ldr_buf_fini(&tmp);
        ldr_err_prefix(err, "%s: ", path);
        ldr_free(w->path);
        ldr_free(w);
        return NULL;
    }
    w->tmp = ldr_buf_take(&tmp);
    w->cols = ldr_xcalloc(n_cols, sizeof *w->cols);
    for (size_t i = 0; i < n_cols; i++, w->n_cols++)
        (void)wcol_init(&w->cols[i], names[i], types[i]); /* checked above */
    ldr_buf_init(&w->out, SIZE_MAX / 2);
    ldr_buf_init(&w->rgs, SIZE_MAX / 2);
    ldr_buf_init(&w->cc, SIZE_MAX / 2);
    pool_init(w);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        ldr_err_sys(err, LDR_EIO, errno, "cannot create %s", w->tmp);
        writer_free(w);
        return NULL;
    }
    if (emit(w, "PAR1", 4, err) != LDR_OK) {
        ldr_pq_writer_abort(w);
        return NULL;
    }
    return w;
}

static ldr_code check_batch(const ldr_pq_writer *w, const ldr_batch *b, ldr_err *err)
{
    if (b->n_cols != w->n_cols)
        return ldr_err_setf(err, LDR_EINVAL, "batch has %zu columns, the file has %zu", b->n_cols,
                            w->n_cols);
    for (size_t i = 0; i < w->n_cols; i++) {
        const ldr_col *c = b->cols[i];
        if (c->type != w->cols[i].type)
            return ldr_err_setf(err, LDR_EINVAL, "column %s is %s in the batch, %s in the file",
                                w->cols[i].name, ldr_type_name(c->type),
                                ldr_type_name(w->cols[i].type));
        if (c->n != b->n_rows || (w->cols[i].list && !c->child))
            return ldr_err_setf(err, LDR_EINVAL, "column %s is malformed", w->cols[i].name);
    }
    return LDR_OK;
}

/* Appends rows [r0, r1) of src to dst: a bulk copy for plain scalar columns (the usual
 * case), row by row for lists and dictionary columns. */
static void append_rows(ldr_col *dst, const ldr_col *src, size_t r0, size_t r1)
{
    size_t w = ldr_type_width(src->type), k = r1 - r0, base = dst->n;
    bool varlen = src->type == LDR_TYPE_STRING || src->type == LDR_TYPE_BYTES;
    if (src->dict || dst->dict || (w == 0 && !varlen)) {
        for (size_t r = r0; r < r1; r++)
            ldr_col_append_row(dst, src, r);
        return;
    }
    ldr_col_reserve(dst, k);
    if (w) {
        memcpy((uint8_t *)dst->data + base * w, (const uint8_t *)src->data + r0 * w, k * w);
    } else {
        int64_t from = src->offsets[r0], len = src->offsets[r1] - from;
        int64_t shift = (int64_t)dst->bytes_len - from;
        ldr_col_reserve_bytes(dst, (size_t)len);
        if (len)
            memcpy(dst->bytes + dst->bytes_len, src->bytes + from, (size_t)len);
        for (size_t i = 1; i <= k; i++)
            dst->offsets[base + i] = src->offsets[r0 + i] + shift;
        dst->bytes_len += (size_t)len;
    }
    if (src->valid && src->null_count)
        for (size_t r = r0; r < r1; r++)
            if (!ldr_col_valid(src, r))
                ldr_col_set_valid(dst, base + (r - r0), false);
    dst->n += k;
}

/* Copies rows [r0, r1) of b to the pending row group. */
static void pend(ldr_pq_writer *w, const ldr_batch *b, size_t r0, size_t r1)
{
    if (!w->pending) {
        w->pending = ldr_batch_new();
        for (size_t i = 0; i < w->n_cols; i++)
            ldr_batch_add(w->pending, w->cols[i].name, ldr_col_new(w->cols[i].type, r1 - r0));
    }
    for (size_t i = 0; i < w->n_cols; i++)
        append_rows(w->pending->cols[i], b->cols[i], r0, r1);
    w->pending->n_rows += r1 - r0;
}

/* Hands the pending rows to the encoders as one row group the writer owns. */
static ldr_code flush_pending(ldr_pq_writer *w, ldr_err *err)
{
    if (!w->pending || w->pending->n_rows == 0)
        return LDR_OK;
    ldr_code rc = make_room(w, err);
    if (rc)
        return rc;
    ldr_batch *p = w->pending;
    w->pending = NULL;
    submit_row_group(w, p, p, 0, p->n_rows);
    return LDR_OK;
}

static ldr_code check_usable(const ldr_pq_writer *w, ldr_err *err)
{
    if (w->broken)
        return ldr_err_setf(err, LDR_EINVAL, "an earlier write failed; abort the writer");
    return LDR_OK;
}

ldr_code ldr_pq_writer_write(ldr_pq_writer *w, const ldr_batch *b, ldr_err *err)
{
    ldr_code rc = check_batch(w, b, err);
    if (rc == LDR_OK)
        rc = check_usable(w, err);
    if (rc) {
        ldr_err_prefix(err, "%s: ", w->path);
        return rc;
    }
    size_t rg = w->opts.row_group_rows, r = 0, n = b->n_rows;
    if (w->pending) { /* top up the pending row group first */
        size_t k = rg - w->pending->n_rows < n ? rg - w->pending->n_rows : n;
        pend(w, b, 0, k);
        r = k;
        if (w->pending->n_rows == rg)
            rc = flush_pending(w, err);
    }
    for (; rc == LDR_OK && n - r >= rg; r += rg) { /* whole row groups, in place */
        if ((rc = make_room(w, err)) == LDR_OK)
            submit_row_group(w, b, NULL, r, r + rg);
    }
    if (rc == LDR_OK && r < n)
        pend(w, b, r, n);
    /* b belongs to the caller: every row group still reading it goes out now. */
    while (rc == LDR_OK && w->n_borrowed)
        rc = emit_row_group(w, err);
    if (rc && w->ring_len)
        discard_all(w);
    if (rc)
        ldr_err_prefix(err, "%s: ", w->path);
    return rc;
}

static ldr_code finish(ldr_pq_writer *w, ldr_err *err)
{
    ldr_code rc = check_usable(w, err);
    if (rc == LDR_OK)
        rc = flush_pending(w, err);
    while (rc == LDR_OK && w->ring_len)
        rc = emit_row_group(w, err);
    if (rc)
        return rc; /* close aborts: whatever is in flight is discarded */
    ldr_buf footer;
    ldr_buf_init(&footer, (size_t)UINT32_MAX);
    rc = put_footer(w, &footer, err);
    uint32_t flen = (uint32_t)footer.len;
    if (rc == LDR_OK)
        rc = emit(w, footer.ptr, footer.len, err);
    ldr_buf_fini(&footer);
    if (rc || (rc = emit(w, &flen, 4, err)) || (rc = emit(w, "PAR1", 4, err)) ||
        (rc = flush_out(w, err)))
        return rc;
    if (!w->opts.no_sync && fsync(w->fd) != 0)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot fsync %s", w->tmp);
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot close %s", w->tmp);
    if (rename(w->tmp, w->path) != 0)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot rename %s to %s", w->tmp, w->path);
    return LDR_OK;
}

/* Makes the rename durable; best effort (some file systems refuse to fsync a directory). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? ldr_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : ldr_xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    ldr_free(dir);
}

ldr_code ldr_pq_writer_close(ldr_pq_writer *w, ldr_err *err)
{
    ldr_code rc = finish(w, err);
    if (rc) {
        ldr_err_prefix(err, "%s: ", w->path);
        ldr_pq_writer_abort(w);
        return rc;
    }
    if (!w->opts.no_sync)
        sync_dir(w->path);
    writer_free(w);
    return LDR_OK;
}

void ldr_pq_writer_abort(ldr_pq_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    (void)unlink(w->tmp);
    writer_free(w);
}

ldr_code ldr_pq_write_file(const char *path, const ldr_batch *b, const ldr_pq_write_opts *opts,
                           ldr_err *err)
{
    ldr_err local;
    if (!err) /* the code is needed below even when the caller wants no message */
        err = &local;
    ldr_type *types = ldr_xcalloc(b->n_cols ? b->n_cols : 1, sizeof *types);
    for (size_t i = 0; i < b->n_cols; i++)
        types[i] = b->cols[i]->type;
    ldr_pq_writer *w =
        ldr_pq_writer_open(path, (const char *const *)b->names, types, b->n_cols, opts, err);
    ldr_free(types);
    if (!w)
        return err->code;
    ldr_code rc = ldr_pq_writer_write(w, b, err);
    if (rc) {
        ldr_pq_writer_abort(w);
        return rc;
    }
    return ldr_pq_writer_close(w, err);
}
