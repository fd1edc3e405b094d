/*
 * test_reader.c -- unit tests for the Parquet reader (src/parquet/{thrift,meta,reader,
 * source}.c) over files built byte by byte in the test: a small Thrift compact-protocol
 * writer (tw_*) encodes footers and page headers, and page bodies are written by hand
 * (PLAIN values, RLE/bit-packed levels and indices), so every encoding and level case is
 * pinned independently of Larder's own writer.
 *
 * Covered: the reference's 100-byte minimal file; nulls; dictionary pages with and
 * without keep_dict (and the fall-back to plain pages); booleans (PLAIN, RLE); lists in
 * 3-level, legacy 2-level and bare repeated form incl. null lists, empty lists, null
 * elements and rows spanning pages; data page v2 (levels outside compression, ZSTD
 * values, all-null pages without value bytes); conversions (DATE, TIMESTAMP units,
 * INT96, DECIMAL in four physical types, unsigned, FLOAT16); unsupported columns that
 * leave the others readable; encryption; projection, pruning on statistics, threads; and
 * hostile inputs: every truncation and many single-byte mutations of valid files, plus
 * crafted sizes, offsets, counts, codecs, levels and Thrift bombs, all clean errors.
 */
#include "parquet/parquet.h"

#include <math.h>

#include "harness.h"
#include "parquet/parquet_int.h"

/* ---- a Thrift compact-protocol writer ----------------------------------------------------- */

enum {
    T_TRUE = 1,
    T_FALSE,
    T_I8,
    T_I16,
    T_I32,
    T_I64,
    T_DOUBLE,
    T_BIN,
    T_LIST,
    T_SET,
    T_MAP,
    T_STRUCT
};

typedef struct tw {
    ldr_buf *b;
    int16_t last[64];
    int sp;
} tw;

static void tw_init(tw *w, ldr_buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
}

static void put(ldr_buf *b, const void *p, size_t n)
{
    ldr_err err;
    if (ldr_buf_append(b, p, n, &err) != LDR_OK)
        abort();
}

static void tw_byte(tw *w, uint8_t c)
{
    put(w->b, &c, 1);
}

static void tw_varint(tw *w, uint64_t v)
{
    while (v >= 0x80) {
        tw_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    tw_byte(w, (uint8_t)v);
}

static void tw_zz(tw *w, int64_t v)
{
    tw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void tw_fh(tw *w, int id, int type)
{
    int d = id - w->last[w->sp];
    if (d > 0 && d <= 15) {
        tw_byte(w, (uint8_t)(d << 4 | type));
    } else {
        tw_byte(w, (uint8_t)type);
        tw_zz(w, id);
    }
    w->last[w->sp] = (int16_t)id;
}

static void tw_i32(tw *w, int id, int32_t v)
{
    tw_fh(w, id, T_I32);
    tw_zz(w, v);
}

static void tw_i64(tw *w, int id, int64_t v)
{
    tw_fh(w, id, T_I64);
    tw_zz(w, v);
}

static void tw_bin(tw *w, int id, const void *p, size_t n)
{
    tw_fh(w, id, T_BIN);
    tw_varint(w, n);
    put(w->b, p, n);
}

static void tw_str(tw *w, int id, const char *s)
{
    tw_bin(w, id, s, strlen(s));
}

static void tw_bool(tw *w, int id, bool v)
{
    tw_fh(w, id, v ? T_TRUE : T_FALSE);
}

static void tw_push(tw *w)
{
    w->last[++w->sp] = 0;
}

static void tw_begin(tw *w, int id)
{
    tw_fh(w, id, T_STRUCT);
    tw_push(w);
}

static void tw_end(tw *w)
{
    tw_byte(w, 0);
    w->sp--;
}

static void tw_list(tw *w, int id, int elem, size_t n)
{
    tw_fh(w, id, T_LIST);
    if (n < 15) {
        tw_byte(w, (uint8_t)(n << 4 | (size_t)elem));
    } else {
        tw_byte(w, (uint8_t)(0xf0 | elem));
        tw_varint(w, n);
    }
}

/* ---- page bodies ------------------------------------------------------------------------- */

static void put_u32(ldr_buf *b, uint32_t v)
{
    put(b, &v, 4);
}

/* RLE hybrid of n levels, one RLE run per value (simple and valid). */
static void rle_runs(ldr_buf *b, const uint32_t *v, size_t n, unsigned w)
{
    tw t;
    tw_init(&t, b);
    for (size_t i = 0; i < n; i++) {
        tw_varint(&t, 1u << 1);
        for (unsigned k = 0; k < (w + 7) / 8; k++)
            tw_byte(&t, (uint8_t)(v[i] >> (8 * k)));
    }
}

/* The same as one bit-packed run (LSB first, padded to groups of 8). */
static void rle_packed(ldr_buf *b, const uint32_t *v, size_t n, unsigned w)
{
    tw t;
    tw_init(&t, b);
    size_t groups = (n + 7) / 8;
    tw_varint(&t, groups << 1 | 1);
    uint8_t bytes[4096];
    memset(bytes, 0, sizeof bytes);
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < w; k++)
            if (v[i] >> k & 1)
                bytes[(i * w + k) / 8] |= (uint8_t)(1u << ((i * w + k) % 8));
    put(b, bytes, groups * w);
}

/* v1 level section: 4-byte length, then RLE runs. */
static void levels_v1(ldr_buf *b, const uint32_t *v, size_t n, unsigned w)
{
    ldr_buf tmp;
    ldr_buf_init(&tmp, 1 << 20);
    rle_runs(&tmp, v, n, w);
    put_u32(b, (uint32_t)tmp.len);
    put(b, tmp.ptr, tmp.len);
    ldr_buf_fini(&tmp);
}

static void plain_str(ldr_buf *b, const char *s)
{
    put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

/* ---- page headers -------------------------------------------------------------------------- */

enum { ENC_PLAIN = 0, ENC_PLAIN_DICT = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4, ENC_RLE_DICT = 8 };

/* A DATA_PAGE (v1) header + body; compressed with codec (0 = as is). */
static void page_v1(ldr_buf *out, int32_t nv, int32_t enc, const ldr_buf *body, int codec)
{
    ldr_buf c;
    ldr_buf_init(&c, 1 << 24);
    ldr_err err;
    if (codec)
        CHECK_OK(ldr__pq_compress(codec, (const uint8_t *)body->ptr, body->len, 3, &c, &err), err);
    else
        put(&c, body->ptr, body->len);
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, 0);
    tw_i32(&w, 2, (int32_t)body->len);
    tw_i32(&w, 3, (int32_t)c.len);
    tw_begin(&w, 5);
    tw_i32(&w, 1, nv);
    tw_i32(&w, 2, enc);
    tw_i32(&w, 3, ENC_RLE);
    tw_i32(&w, 4, ENC_RLE);
    tw_end(&w);
    tw_byte(&w, 0);
    put(out, c.ptr, c.len);
    ldr_buf_fini(&c);
}

static void page_dict(ldr_buf *out, int32_t n, const ldr_buf *body)
{
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, 2);
    tw_i32(&w, 2, (int32_t)body->len);
    tw_i32(&w, 3, (int32_t)body->len);
    tw_begin(&w, 7);
    tw_i32(&w, 1, n);
    tw_i32(&w, 2, ENC_PLAIN);
    tw_end(&w);
    tw_byte(&w, 0);
    put(out, body->ptr, body->len);
}

/* DATA_PAGE_V2: raw rep/def level bytes, then values (compressed with codec if nonzero). */
static void page_v2(ldr_buf *out, int32_t nv, int32_t nulls, int32_t rows, int32_t enc,
                    const ldr_buf *rep, const ldr_buf *def, const ldr_buf *vals, int codec)
{
    ldr_buf c;
    ldr_buf_init(&c, 1 << 24);
    ldr_err err;
    if (codec && vals->len)
        CHECK_OK(ldr__pq_compress(codec, (const uint8_t *)vals->ptr, vals->len, 3, &c, &err), err);
    else
        put(&c, vals->ptr, vals->len);
    size_t lv = rep->len + def->len;
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, 3);
    tw_i32(&w, 2, (int32_t)(lv + vals->len));
    tw_i32(&w, 3, (int32_t)(lv + c.len));
    tw_begin(&w, 8);
    tw_i32(&w, 1, nv);
    tw_i32(&w, 2, nulls);
    tw_i32(&w, 3, rows);
    tw_i32(&w, 4, enc);
    tw_i32(&w, 5, (int32_t)def->len);
    tw_i32(&w, 6, (int32_t)rep->len);
    tw_end(&w);
    tw_byte(&w, 0);
    put(out, rep->ptr, rep->len);
    put(out, def->ptr, def->len);
    put(out, c.ptr, c.len);
    ldr_buf_fini(&c);
}

/* ---- schema and file assembly ------------------------------------------------------------ */

enum { PT_BOOL = 0, PT_I32, PT_I64, PT_I96, PT_FLOAT, PT_DOUBLE, PT_BA, PT_FLBA };
enum { REQ = 0, OPT = 1, REP = 2 };

typedef struct tel {
    const char *name;
    int type;      /* physical type, or -1 for a group */
    int rep;       /* repetition, -1 to omit (root) */
    int children;  /* groups */
    int converted; /* -1 none */
    int type_length;
    int logical; /* LogicalType member id, 0 none */
    int p1, p2;  /* DECIMAL scale/precision; TIMESTAMP utc/unit(1..3); INT width/signed */
} tel;

static void write_logical(tw *w, const tel *e)
{
    tw_begin(w, 10);
    tw_begin(w, e->logical);
    if (e->logical == 5) {
        tw_i32(w, 1, e->p1);
        tw_i32(w, 2, e->p2);
    } else if (e->logical == 7 || e->logical == 8) {
        tw_bool(w, 1, e->p1 != 0);
        tw_begin(w, 2);
        tw_begin(w, e->p2);
        tw_end(w);
        tw_end(w);
    } else if (e->logical == 10) {
        tw_fh(w, 1, T_I8);
        tw_byte(w, (uint8_t)e->p1);
        tw_bool(w, 2, e->p2 != 0);
    }
    tw_end(w);
    tw_end(w);
}

static void write_schema(tw *w, const tel *els, size_t n)
{
    tw_list(w, 2, T_STRUCT, n);
    for (size_t i = 0; i < n; i++) {
        const tel *e = &els[i];
        tw_push(w);
        if (e->type >= 0)
            tw_i32(w, 1, e->type);
        if (e->type_length)
            tw_i32(w, 2, e->type_length);
        if (e->rep >= 0)
            tw_i32(w, 3, e->rep);
        tw_str(w, 4, e->name);
        if (e->children)
            tw_i32(w, 5, e->children);
        if (e->converted >= 0)
            tw_i32(w, 6, e->converted);
        if (e->converted == 5) {
            tw_i32(w, 7, e->p1);
            tw_i32(w, 8, e->p2);
        }
        if (e->logical)
            write_logical(w, e);
        tw_end(w);
    }
}

/* One column chunk of a test file. */
typedef struct tchunk {
    const char *path;
    int type;
    int codec;
    int64_t num_values;
    ldr_buf pages; /* headers and bodies */
    bool dict;     /* first page is a dictionary page (sets dictionary_page_offset) */
    bool stats;
    int64_t min, max; /* INT32/INT64 statistics (min_value/max_value) when stats */
} tchunk;

static void chunk_init(tchunk *c, const char *path, int type, int64_t nv)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->type = type;
    c->num_values = nv;
    ldr_buf_init(&c->pages, 1 << 26);
}

static void write_stats(tw *w, const tchunk *c)
{
    uint8_t mn[8], mx[8];
    size_t n = c->type == PT_I32 ? 4 : 8;
    int32_t a = (int32_t)c->min, b = (int32_t)c->max;
    if (n == 4) {
        memcpy(mn, &a, 4);
        memcpy(mx, &b, 4);
    } else {
        memcpy(mn, &c->min, 8);
        memcpy(mx, &c->max, 8);
    }
    tw_begin(w, 12);
    tw_i64(w, 3, 0);
    tw_bin(w, 5, mx, n);
    tw_bin(w, 6, mn, n);
    tw_end(w);
}

/* A whole file: n_rgs row groups of n_cols chunks each (chunks[g * n_cols + c]). */
static void build_file(ldr_buf *out, const tel *els, size_t n_els, tchunk *chunks, size_t n_rgs,
                       size_t n_cols, const int64_t *rg_rows)
{
    put(out, "PAR1", 4);
    int64_t *offs = ldr_xcalloc(n_rgs * n_cols + 1, sizeof *offs);
    for (size_t i = 0; i < n_rgs * n_cols; i++) {
        offs[i] = (int64_t)out->len;
        put(out, chunks[i].pages.ptr, chunks[i].pages.len);
    }
    size_t footer = out->len;
    tw w;
    tw_init(&w, out);
    tw_i32(&w, 1, 1);
    write_schema(&w, els, n_els);
    int64_t total = 0;
    for (size_t g = 0; g < n_rgs; g++)
        total += rg_rows[g];
    tw_i64(&w, 3, total);
    tw_list(&w, 4, T_STRUCT, n_rgs);
    for (size_t g = 0; g < n_rgs; g++) {
        tw_push(&w);
        tw_list(&w, 1, T_STRUCT, n_cols);
        for (size_t c = 0; c < n_cols; c++) {
            const tchunk *ck = &chunks[g * n_cols + c];
            tw_push(&w);
            tw_i64(&w, 2, 0);
            tw_begin(&w, 3);
            tw_i32(&w, 1, ck->type);
            tw_list(&w, 2, T_I32, 1);
            tw_zz(&w, 0);
            size_t parts = 1;
            for (const char *p = ck->path; *p; p++)
                parts += *p == '.';
            tw_list(&w, 3, T_BIN, parts);
            for (const char *p = ck->path;;) {
                const char *dot = strchr(p, '.');
                size_t len = dot ? (size_t)(dot - p) : strlen(p);
                tw_varint(&w, len);
                put(out, p, len);
                if (!dot)
                    break;
                p = dot + 1;
            }
            tw_i32(&w, 4, ck->codec);
            tw_i64(&w, 5, ck->num_values);
            tw_i64(&w, 6, (int64_t)ck->pages.len);
            tw_i64(&w, 7, (int64_t)ck->pages.len);
            tw_i64(&w, 9, offs[g * n_cols + c]);
            if (ck->dict)
                tw_i64(&w, 11, offs[g * n_cols + c]);
            if (ck->stats)
                write_stats(&w, ck);
            tw_end(&w);
            tw_end(&w);
        }
        tw_i64(&w, 2, 0);
        tw_i64(&w, 3, rg_rows[g]);
        tw_end(&w);
    }
    tw_str(&w, 6, "larder test_reader");
    tw_byte(&w, 0);
    put_u32(out, (uint32_t)(out->len - footer));
    put(out, "PAR1", 4);
    ldr_free(offs);
}

static void chunks_fini(tchunk *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ldr_buf_fini(&c[i].pages);
}

/* Opens bytes; the buffer must outlive the reader. */
static ldr_pq_reader *open_buf(const ldr_buf *b, ldr_err *err)
{
    return ldr_pq_reader_open_mem("t.parquet", (const uint8_t *)b->ptr, b->len, err);
}

/* Reads everything (all columns) into a batch; NULL on failure with err set. */
static ldr_batch *read_all(const ldr_buf *file, ldr_err *err)
{
    ldr_pq_reader *r = open_buf(file, err);
    if (!r)
        return NULL;
    ldr_batch *b = NULL;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.threads = 1;
    if (ldr_pq_read(r, &o, &b, err) != LDR_OK)
        b = NULL;
    ldr_pq_reader_close(r);
    return b;
}

/* Text of row i of column c ("" for null) via the core text form. */
static const char *cell(const ldr_batch *b, size_t c, size_t i, char *buf, size_t cap)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_value v;
    ldr_col_get(b->cols[c], i, &a, &v);
    ldr_buf t;
    ldr_buf_init(&t, 1 << 20);
    ldr_err err;
    if (v.is_null)
        snprintf(buf, cap, "null");
    else if (ldr_value_to_text(&v, &t, &err) == LDR_OK)
        snprintf(buf, cap, "%s", ldr_buf_cstr(&t));
    else
        snprintf(buf, cap, "<error>");
    ldr_buf_fini(&t);
    ldr_arena_fini(&a);
    return buf;
}

/* Checks a whole column against "v1|v2|..." (cells in text form, null as "null"). */
#define CHECK_COL(b, c, expected)                                                                 \
    do {                                                                                          \
        char got_[4096] = "", one_[512];                                                          \
        for (size_t i_ = 0; i_ < (b)->n_rows; i_++) {                                             \
            if (i_)                                                                               \
                strncat(got_, "|", sizeof got_ - strlen(got_) - 1);                               \
            strncat(got_, cell((b), (c), i_, one_, sizeof one_), sizeof got_ - strlen(got_) - 1); \
        }                                                                                         \
        CHECK_EQ_STR(got_, (expected));                                                           \
    } while (0)

/* ---- the reference's minimal file ----------------------------------------------------------- */

static const uint8_t minimal[] = {
    'P',  'A',  'R',  '1',  0x15, 0x00, 0x15, 0x18, 0x15, 0x18, 0x2C, 0x15, 0x06, 0x15, 0x00,
    0x15, 0x06, 0x15, 0x06, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x15, 0x02, 0x19, 0x2C, 0x48, 0x06, 's',  'c',  'h',  'e',  'm',  'a',
    0x15, 0x02, 0x00, 0x15, 0x02, 0x25, 0x00, 0x18, 0x01, 'x',  0x00, 0x16, 0x06, 0x19, 0x1C,
    0x19, 0x1C, 0x26, 0x00, 0x1C, 0x15, 0x02, 0x19, 0x15, 0x00, 0x19, 0x18, 0x01, 'x',  0x15,
    0x00, 0x16, 0x06, 0x16, 0x3A, 0x16, 0x3A, 0x26, 0x08, 0x00, 0x00, 0x16, 0x3A, 0x16, 0x06,
    0x00, 0x00, 0x3B, 0x00, 0x00, 0x00, 'P',  'A',  'R',  '1'};

TEST(reference_minimal_file)
{
    ldr_err err;
    CHECK_EQ_I64(sizeof minimal, 100);
    ldr_pq_reader *r = ldr_pq_reader_open_mem("min.parquet", minimal, sizeof minimal, &err);
    CHECK(r != NULL);
    if (!r) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_I64(ldr_pq_num_rows(r), 3);
    CHECK_EQ_I64(ldr_pq_num_columns(r), 1);
    CHECK_EQ_I64(ldr_pq_num_row_groups(r), 1);
    CHECK_EQ_STR(ldr_pq_column(r, 0)->name, "x");
    CHECK(ldr_pq_column(r, 0)->type == LDR_TYPE_INT32);
    CHECK_EQ_I64(ldr_pq_find_column(r, "x"), 0);
    CHECK_EQ_I64(ldr_pq_find_column(r, "y"), -1);
    ldr_batch *b = NULL;
    CHECK_OK(ldr_pq_read_row_group(r, 0, NULL, 0, false, &b, &err), err);
    if (b)
        CHECK_COL(b, 0, "1|2|3");
    ldr_batch_free(b);
    CHECK_FAILS(ldr_pq_read_row_group(r, 1, NULL, 0, false, &b, &err), LDR_EINVAL);
    ldr_buf t;
    ldr_buf_init(&t, 1 << 20);
    CHECK_OK(ldr_pq_schema_text(r, &t, &err), err);
    CHECK_CONTAINS(ldr_buf_cstr(&t), "rows: 3");
    CHECK_CONTAINS(ldr_buf_cstr(&t), "  x     Int32  ");
    ldr_buf_fini(&t);
    ldr_pq_reader_close(r);
}

/* Every truncation and every single-byte change of the minimal file: errors or values,
 * never a crash (ASan checks the reads). */
TEST(minimal_file_mutations)
{
    uint8_t buf[sizeof minimal];
    for (size_t len = 0; len < sizeof minimal; len++) {
        uint8_t *p = ldr_xmalloc(len ? len : 1);
        memcpy(p, minimal, len);
        ldr_err err;
        ldr_pq_reader *r = ldr_pq_reader_open_mem("cut", p, len, &err);
        CHECK(r == NULL);
        if (!r)
            CHECK(err.code == LDR_ECORRUPT && err.msg[0]);
        ldr_pq_reader_close(r);
        ldr_free(p);
    }
    static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0f, 0xf0, 0x19, 0x3c};
    for (size_t i = 0; i < sizeof minimal; i++) {
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(buf, minimal, sizeof buf);
            buf[i] = vals[k];
            ldr_err err;
            ldr_pq_reader *r = ldr_pq_reader_open_mem("mut", buf, sizeof buf, &err);
            if (!r) {
                CHECK(err.msg[0] != '\0');
                continue;
            }
            ldr_batch *b = NULL;
            if (ldr_pq_read(r, NULL, &b, &err) != LDR_OK)
                CHECK(err.msg[0] != '\0' && b == NULL);
            ldr_batch_free(b);
            ldr_pq_reader_close(r);
        }
    }
}

/* ---- flat columns ------------------------------------------------------------------------ */

/* optional int64 x: 5, null, 7, null */
static void file_optional_i64(ldr_buf *f, int codec)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"x", PT_I64, OPT, 0, -1, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "x", PT_I64, 4);
    c.codec = codec;
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    uint32_t def[] = {1, 0, 1, 0};
    levels_v1(&body, def, 4, 1);
    int64_t v[] = {5, 7};
    put(&body, v, sizeof v);
    page_v1(&c.pages, 4, ENC_PLAIN, &body, codec);
    ldr_buf_fini(&body);
    int64_t rows = 4;
    build_file(f, els, 2, &c, 1, 1, &rows);
    chunks_fini(&c, 1);
}

TEST(optional_values_and_codecs)
{
    static const int codecs[] = {0,
                                 LDR__PQ_CODEC_SNAPPY,
                                 LDR__PQ_CODEC_GZIP,
                                 LDR__PQ_CODEC_ZSTD,
                                 LDR__PQ_CODEC_LZ4_RAW,
                                 LDR__PQ_CODEC_BROTLI};
    for (size_t i = 0; i < LDR_ARRAY_LEN(codecs); i++) {
        ldr_buf f;
        ldr_buf_init(&f, 1 << 24);
        file_optional_i64(&f, codecs[i]);
        ldr_err err;
        ldr_batch *b = read_all(&f, &err);
        CHECK(b != NULL);
        if (b) {
            CHECK_COL(b, 0, "5|null|7|null");
            CHECK_EQ_I64(b->cols[0]->null_count, 2);
        } else {
            printf("# codec %d: %s\n", codecs[i], err.msg);
        }
        ldr_batch_free(b);
        ldr_buf_fini(&f);
    }
}

/* required string s with a dictionary ["b", "a"] and indices by one bit-packed run, then
 * (optionally) a PLAIN fallback page. */
static void file_dict(ldr_buf *f, bool fallback, bool optional)
{
    static const tel els_req[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                                  {"s", PT_BA, REQ, 0, 0, 0, 0, 0, 0}};
    static const tel els_opt[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                                  {"s", PT_BA, OPT, 0, 0, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "s", PT_BA, fallback ? 6 : 4);
    c.dict = true;
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    plain_str(&body, "b");
    plain_str(&body, "a");
    page_dict(&c.pages, 2, &body);
    ldr_buf_reset(&body);
    uint32_t def[] = {1, 0, 1, 1};
    if (optional)
        levels_v1(&body, def, 4, 1);
    uint32_t idx[] = {0, 1, 1, 0};
    size_t n = optional ? 3 : 4;
    uint32_t present[] = {0, 1, 0};
    put(&body, "\x01", 1);
    rle_packed(&body, optional ? present : idx, n, 1);
    page_v1(&c.pages, 4, ENC_RLE_DICT, &body, 0);
    if (fallback) {
        ldr_buf_reset(&body);
        uint32_t def2[] = {1, 1};
        if (optional)
            levels_v1(&body, def2, 2, 1);
        plain_str(&body, "zz");
        plain_str(&body, "");
        page_v1(&c.pages, 2, ENC_PLAIN, &body, 0);
    }
    ldr_buf_fini(&body);
    int64_t rows = fallback ? 6 : 4;
    build_file(f, optional ? els_opt : els_req, 2, &c, 1, 1, &rows);
    chunks_fini(&c, 1);
}

static ldr_batch *read_keep_dict(const ldr_buf *f, bool keep, ldr_err *err)
{
    ldr_pq_reader *r = open_buf(f, err);
    if (!r)
        return NULL;
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.keep_dict = keep;
    ldr_batch *b = NULL;
    if (ldr_pq_read(r, &o, &b, err) != LDR_OK)
        b = NULL;
    ldr_pq_reader_close(r);
    return b;
}

TEST(dictionary_pages)
{
    for (int opt = 0; opt < 2; opt++) {
        for (int fb = 0; fb < 2; fb++) {
            for (int keep = 0; keep < 2; keep++) {
                ldr_buf f;
                ldr_buf_init(&f, 1 << 24);
                file_dict(&f, fb, opt);
                ldr_err err;
                ldr_batch *b = read_keep_dict(&f, keep, &err);
                CHECK(b != NULL);
                if (!b) {
                    printf("# %s\n", err.msg);
                    ldr_buf_fini(&f);
                    continue;
                }
                const char *want =
                    opt ? (fb ? "b|null|a|b|zz|" : "b|null|a|b") : (fb ? "b|a|a|b|zz|" : "b|a|a|b");
                CHECK_COL(b, 0, want);
                /* keep_dict leaves a dictionary column only when every page is one */
                CHECK((b->cols[0]->dict != NULL) == (keep && !fb));
                CHECK(b->cols[0]->type == LDR_TYPE_STRING);
                ldr_batch_free(b);
                ldr_buf_fini(&f);
            }
        }
    }
}

/* required boolean b: PLAIN bit-packed page, then a v2 page of RLE booleans. */
TEST(booleans)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"b", PT_BOOL, REQ, 0, -1, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "b", PT_BOOL, 13);
    c.codec = LDR__PQ_CODEC_GZIP;
    ldr_buf body, none, vals;
    ldr_buf_init(&body, 1 << 20);
    ldr_buf_init(&none, 16);
    ldr_buf_init(&vals, 1 << 20);
    put(&body, "\x4d\x03", 2); /* T,F,T,T,F,F,T,F,T,T */
    page_v1(&c.pages, 10, ENC_PLAIN, &body, LDR__PQ_CODEC_GZIP);
    ldr_buf rle;
    ldr_buf_init(&rle, 64);
    uint32_t bv[] = {0, 1, 1};
    rle_runs(&rle, bv, 3, 1);
    put_u32(&vals, (uint32_t)rle.len);
    put(&vals, rle.ptr, rle.len);
    page_v2(&c.pages, 3, 0, 3, ENC_RLE, &none, &none, &vals, LDR__PQ_CODEC_GZIP);
    int64_t rows = 13;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    build_file(&f, els, 2, &c, 1, 1, &rows);
    ldr_err err;
    ldr_batch *b = read_all(&f, &err);
    CHECK(b != NULL);
    if (b)
        CHECK_COL(b, 0, "true|false|true|true|false|false|true|false|true|true|false|true|true");
    else
        printf("# %s\n", err.msg);
    ldr_batch_free(b);
    ldr_buf_fini(&f);
    ldr_buf_fini(&rle);
    ldr_buf_fini(&vals);
    ldr_buf_fini(&none);
    ldr_buf_fini(&body);
    chunks_fini(&c, 1);
}

/* ---- lists -------------------------------------------------------------------------------- */

/* optional group tags (LIST) { repeated group list { optional int32 element } }
 * rows: null, [], [1, null, 2], [null], [3] -- the [1, null, 2] row spans two v1 pages. */
TEST(three_level_list)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"tags", -1, OPT, 1, 3, 0, 0, 0, 0},
                              {"list", -1, REP, 1, -1, 0, 0, 0, 0},
                              {"element", PT_I32, OPT, 0, -1, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "tags.list.element", PT_I32, 7);
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    /* page 1: (0,0) (0,1) (0,3)=1 (1,2) */
    uint32_t rep1[] = {0, 0, 0, 1}, def1[] = {0, 1, 3, 2};
    levels_v1(&body, rep1, 4, 1);
    levels_v1(&body, def1, 4, 2);
    int32_t v1[] = {1};
    put(&body, v1, sizeof v1);
    page_v1(&c.pages, 4, ENC_PLAIN, &body, 0);
    /* page 2: (1,3)=2 (0,2) (0,3)=3 */
    ldr_buf_reset(&body);
    uint32_t rep2[] = {1, 0, 0}, def2[] = {3, 2, 3};
    levels_v1(&body, rep2, 3, 1);
    levels_v1(&body, def2, 3, 2);
    int32_t v2[] = {2, 3};
    put(&body, v2, sizeof v2);
    page_v1(&c.pages, 3, ENC_PLAIN, &body, 0);
    int64_t rows = 5;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    build_file(&f, els, 4, &c, 1, 1, &rows);
    ldr_err err;
    ldr_batch *b = read_all(&f, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->cols[0]->type == LDR_TYPE_INT32_LIST);
        CHECK_COL(b, 0, "null|[]|[1, null, 2]|[null]|[3]");
    } else {
        printf("# %s\n", err.msg);
    }
    ldr_batch_free(b);
    ldr_buf_fini(&f);
    ldr_buf_fini(&body);
    chunks_fini(&c, 1);
}

/* Legacy 2-level list (optional group l (LIST) { repeated binary str (UTF8) }) and a bare
 * repeated primitive, in v2 pages (levels without length prefixes). */
TEST(legacy_and_bare_lists)
{
    static const tel els[] = {{"schema", -1, -1, 2, -1, 0, 0, 0, 0},
                              {"l", -1, OPT, 1, 3, 0, 0, 0, 0},
                              {"str", PT_BA, REP, 0, 0, 0, 0, 0, 0},
                              {"r", PT_I64, REP, 0, -1, 0, 0, 0, 0}};
    tchunk c[2];
    chunk_init(&c[0], "l.str", PT_BA, 4);
    chunk_init(&c[1], "r", PT_I64, 4);
    c[0].codec = LDR__PQ_CODEC_ZSTD;
    c[1].codec = LDR__PQ_CODEC_SNAPPY;
    ldr_buf rep, def, vals;
    ldr_buf_init(&rep, 1 << 10);
    ldr_buf_init(&def, 1 << 10);
    ldr_buf_init(&vals, 1 << 10);
    /* l: ["a", "b"], null, [] */
    uint32_t r0[] = {0, 1, 0, 0}, d0[] = {2, 2, 0, 1};
    rle_runs(&rep, r0, 4, 1);
    rle_runs(&def, d0, 4, 2);
    plain_str(&vals, "a");
    plain_str(&vals, "b");
    page_v2(&c[0].pages, 4, 2, 3, ENC_PLAIN, &rep, &def, &vals, LDR__PQ_CODEC_ZSTD);
    /* r: [7], [], [8, 9] */
    ldr_buf_reset(&rep);
    ldr_buf_reset(&def);
    ldr_buf_reset(&vals);
    uint32_t r1[] = {0, 0, 0, 1}, d1[] = {1, 0, 1, 1};
    rle_packed(&rep, r1, 4, 1);
    rle_packed(&def, d1, 4, 1);
    int64_t v[] = {7, 8, 9};
    put(&vals, v, sizeof v);
    page_v2(&c[1].pages, 4, 1, 3, ENC_PLAIN, &rep, &def, &vals, LDR__PQ_CODEC_SNAPPY);
    int64_t rows = 3;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    build_file(&f, els, 4, c, 1, 2, &rows);
    ldr_err err;
    ldr_batch *b = read_all(&f, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK(b->cols[0]->type == LDR_TYPE_STRING_LIST);
        CHECK(b->cols[1]->type == LDR_TYPE_INT64_LIST);
        CHECK_COL(b, 0, "[\"a\", \"b\"]|null|[]");
        CHECK_COL(b, 1, "[7]|[]|[8, 9]");
    } else {
        printf("# %s\n", err.msg);
    }
    ldr_batch_free(b);
    ldr_buf_fini(&f);
    ldr_buf_fini(&rep);
    ldr_buf_fini(&def);
    ldr_buf_fini(&vals);
    chunks_fini(c, 2);
}

/* ---- conversions ------------------------------------------------------------------------- */

TEST(conversions)
{
    static const tel els[] = {
        {"schema", -1, -1, 12, -1, 0, 0, 0, 0},     {"date", PT_I32, REQ, 0, 6, 0, 0, 0, 0},
        {"ts_ms", PT_I64, REQ, 0, -1, 0, 8, 1, 1},  {"ts_ns", PT_I64, REQ, 0, -1, 0, 8, 0, 3},
        {"i96", PT_I96, REQ, 0, -1, 0, 0, 0, 0},    {"dec32", PT_I32, REQ, 0, 5, 0, 0, 2, 9},
        {"dec64", PT_I64, REQ, 0, -1, 0, 5, 3, 18}, {"decfl", PT_FLBA, REQ, 0, 5, 3, 0, 1, 5},
        {"decba", PT_BA, REQ, 0, -1, 0, 5, 2, 30},  {"u32", PT_I32, REQ, 0, 13, 0, 0, 0, 0},
        {"i8", PT_I32, REQ, 0, -1, 0, 10, 8, 1},    {"f16", PT_FLBA, REQ, 0, -1, 2, 15, 0, 0},
        {"t_ms", PT_I32, REQ, 0, 7, 0, 0, 0, 0},
    };
    static const int types[] = {PT_I32,  PT_I64, PT_I64, PT_I96, PT_I32,  PT_I64,
                                PT_FLBA, PT_BA,  PT_I32, PT_I32, PT_FLBA, PT_I32};
    static const char *const names[] = {"date",  "ts_ms", "ts_ns", "i96", "dec32", "dec64",
                                        "decfl", "decba", "u32",   "i8",  "f16",   "t_ms"};
    tchunk c[12];
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    for (size_t i = 0; i < 12; i++) {
        chunk_init(&c[i], names[i], types[i], 2);
        ldr_buf_reset(&body);
        switch (i) {
        case 0: {
            int32_t v[] = {19723, -1};
            put(&body, v, sizeof v);
            break;
        }
        case 1: {
            int64_t v[] = {1704067200123, -1};
            put(&body, v, sizeof v);
            break;
        }
        case 2: {
            int64_t v[] = {1704067200123456789, -1};
            put(&body, v, sizeof v);
            break;
        }
        case 3:
            put(&body,
                "\x00\x2a\x1e\xd9\x63\x43\x00\x00\x97\x8a\x25\x00"
                "\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x3d\x25\x00",
                24);
            break;
        case 4: {
            int32_t v[] = {12345, -5};
            put(&body, v, sizeof v);
            break;
        }
        case 5: {
            int64_t v[] = {-1234567, 1};
            put(&body, v, sizeof v);
            break;
        }
        case 6:
            put(&body, "\x00\x30\x39\xff\xff\xff", 6);
            break;
        case 7:
            break; /* below */
        case 8: {
            uint32_t v[] = {4294967295u, 7};
            put(&body, v, sizeof v);
            break;
        }
        case 9: {
            int32_t v[] = {-128, 127};
            put(&body, v, sizeof v);
            break;
        }
        case 10:
            put(&body, "\x00\x3c\x00\xc0", 4);
            break;
        case 11: {
            int32_t v[] = {1000, 86399999};
            put(&body, v, sizeof v);
            break;
        }
        }
        if (i == 7) { /* the first value: 0x01 then 12 zero bytes and 5 = 2^96 + 5 */
            ldr_buf_reset(&body);
            put_u32(&body, 13);
            put(&body, "\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05", 13);
            put_u32(&body, 1);
            put(&body, "\x85", 1);
        }
        page_v1(&c[i].pages, 2, ENC_PLAIN, &body, 0);
    }
    int64_t rows = 2;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    build_file(&f, els, 13, c, 1, 12, &rows);
    ldr_err err;
    ldr_batch *b = read_all(&f, &err);
    CHECK(b != NULL);
    if (b) {
        CHECK_COL(b, 0, "2024-01-01T00:00:00Z|1969-12-31T00:00:00Z");
        CHECK_COL(b, 1, "2024-01-01T00:00:00.123Z|1969-12-31T23:59:59.999Z");
        CHECK_COL(b, 2, "2024-01-01T00:00:00.123456Z|1969-12-31T23:59:59.999999Z");
        CHECK_COL(b, 3, "2024-01-01T20:34:56.123456Z|1970-01-01T00:00:00Z");
        CHECK_COL(b, 4, "123.45|-0.05");
        CHECK_COL(b, 5, "-1234.567|0.001");
        CHECK_COL(b, 6, "1234.5|-0.1");
        CHECK_COL(b, 7, "7.922816251426434e+26|-1.23");
        CHECK_COL(b, 8, "4294967295|7");
        CHECK(b->cols[8]->type == LDR_TYPE_INT64);
        CHECK_COL(b, 9, "-128|127");
        CHECK(b->cols[9]->type == LDR_TYPE_INT32);
        CHECK_COL(b, 10, "1.0|-2.0");
        CHECK(b->cols[10]->type == LDR_TYPE_FLOAT32);
        CHECK_COL(b, 11, "1000000|86399999000"); /* TIME: microseconds since midnight */
        CHECK(b->cols[11]->type == LDR_TYPE_INT64);
    } else {
        printf("# %s\n", err.msg);
    }
    ldr_batch_free(b);
    ldr_buf_fini(&f);
    ldr_buf_fini(&body);
    chunks_fini(c, 12);
}

TEST(uint64_above_int64_fails)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"u", PT_I64, REQ, 0, 14, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "u", PT_I64, 2);
    ldr_buf body;
    ldr_buf_init(&body, 1 << 10);
    uint64_t v[] = {1, UINT64_MAX};
    put(&body, v, sizeof v);
    page_v1(&c.pages, 2, ENC_PLAIN, &body, 0);
    int64_t rows = 2;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 20);
    build_file(&f, els, 2, &c, 1, 1, &rows);
    ldr_err err;
    ldr_batch *b = read_all(&f, &err);
    CHECK(b == NULL);
    CHECK(err.code == LDR_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "t.parquet: column u, row group 0: ");
    CHECK_CONTAINS(err.msg, "18446744073709551615 does not fit Int64");
    ldr_buf_fini(&f);
    ldr_buf_fini(&body);
    chunks_fini(&c, 1);
}

/* ---- unsupported columns, encryption ------------------------------------------------------ */

TEST(unsupported_columns_leave_others_readable)
{
    static const tel els[] = {
        {"schema", -1, -1, 4, -1, 0, 0, 0, 0},       {"st", -1, OPT, 1, -1, 0, 0, 0, 0},
        {"a", PT_I32, OPT, 0, -1, 0, 0, 0, 0},       {"m", -1, OPT, 1, 1, 0, 0, 0, 0},
        {"key_value", -1, REP, 1, -1, 0, 0, 0, 0},   {"key", PT_I32, REQ, 0, -1, 0, 0, 0, 0},
        {"nl", -1, OPT, 1, 3, 0, 0, 0, 0},           {"list", -1, REP, 1, -1, 0, 0, 0, 0},
        {"element", -1, OPT, 1, 3, 0, 0, 0, 0},      {"list", -1, REP, 1, -1, 0, 0, 0, 0},
        {"element", PT_I32, OPT, 0, -1, 0, 0, 0, 0}, {"ok", PT_I32, REQ, 0, -1, 0, 0, 0, 0}};
    tchunk c[4];
    const char *paths[] = {"st.a", "m.key_value.key", "nl.list.element.list.element", "ok"};
    ldr_buf body;
    ldr_buf_init(&body, 1 << 10);
    for (int i = 0; i < 4; i++) {
        chunk_init(&c[i], paths[i], PT_I32, i == 3 ? 1 : 0);
        if (i == 3) {
            int32_t v = 42;
            put(&body, &v, 4);
            page_v1(&c[i].pages, 1, ENC_PLAIN, &body, 0);
        }
    }
    int64_t rows = 1;
    ldr_buf f;
    ldr_buf_init(&f, 1 << 20);
    build_file(&f, els, 12, c, 1, 4, &rows);
    ldr_err err;
    ldr_pq_reader *r = open_buf(&f, &err);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_I64(ldr_pq_num_columns(r), 4);
        CHECK_CONTAINS(ldr_pq_column(r, 0)->unsupported, "nested struct");
        CHECK_CONTAINS(ldr_pq_column(r, 1)->unsupported, "map columns are not supported");
        CHECK_CONTAINS(ldr_pq_column(r, 2)->unsupported, "nested lists");
        CHECK(ldr_pq_column(r, 3)->unsupported == NULL);
        ldr_batch *b = NULL;
        CHECK_FAILS(ldr_pq_read(r, NULL, &b, &err), LDR_EUNSUPPORTED);
        CHECK_CONTAINS(err.msg, "t.parquet: column st: nested struct columns are not supported");
        const char *sel[] = {"ok"};
        ldr_pq_read_opts o = ldr_pq_read_opts_default();
        o.columns = sel;
        o.n_columns = 1;
        CHECK_OK(ldr_pq_read(r, &o, &b, &err), err);
        if (b)
            CHECK_COL(b, 0, "42");
        ldr_batch_free(b);
        const char *bad[] = {"okk"};
        o.columns = bad;
        CHECK_FAILS(ldr_pq_read(r, &o, &b, &err), LDR_ENOTFOUND);
        CHECK_CONTAINS(err.msg, "no column named 'okk' (did you mean 'ok'?)");
        ldr_buf t;
        ldr_buf_init(&t, 1 << 20);
        CHECK_OK(ldr_pq_schema_text(r, &t, &err), err);
        CHECK_CONTAINS(ldr_buf_cstr(&t), "unsupported");
        ldr_buf_fini(&t);
    } else {
        printf("# %s\n", err.msg);
    }
    ldr_pq_reader_close(r);
    ldr_buf_fini(&f);
    ldr_buf_fini(&body);
    chunks_fini(c, 4);
}

TEST(encrypted_files)
{
    ldr_err err;
    uint8_t p[sizeof minimal];
    memcpy(p, minimal, sizeof p);
    memcpy(p + sizeof p - 4, "PARE", 4);
    CHECK(ldr_pq_reader_open_mem("e", p, sizeof p, &err) == NULL);
    CHECK(err.code == LDR_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "encrypted Parquet files are not supported");
    /* A plaintext footer with encryption_algorithm (field 8) set. */
    ldr_buf f;
    ldr_buf_init(&f, 1 << 16);
    put(&f, "PAR1", 4);
    tw w;
    tw_init(&w, &f);
    tw_i32(&w, 1, 1);
    tw_begin(&w, 8);
    tw_begin(&w, 1);
    tw_end(&w);
    tw_end(&w);
    tw_byte(&w, 0);
    put_u32(&f, (uint32_t)(f.len - 4));
    put(&f, "PAR1", 4);
    CHECK(open_buf(&f, &err) == NULL);
    CHECK(err.code == LDR_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "encrypted Parquet files are not supported");
    ldr_buf_fini(&f);
}

/* ---- projection, pruning, threads ----------------------------------------------------------- */

/* Row groups g = 0..n-1 with columns id (int64, 10g..10g+9, stats) and ts
 * (TIMESTAMP(MILLIS) 1000 * id, stats in millis) and name (dictionary strings). */
static void file_row_groups(ldr_buf *f, size_t n)
{
    static const tel els[] = {{"schema", -1, -1, 3, -1, 0, 0, 0, 0},
                              {"id", PT_I64, REQ, 0, -1, 0, 0, 0, 0},
                              {"ts", PT_I64, OPT, 0, 9, 0, 0, 0, 0},
                              {"name", PT_BA, OPT, 0, 0, 0, 0, 0, 0}};
    tchunk *c = ldr_xcalloc(n * 3, sizeof *c);
    int64_t *rows = ldr_xcalloc(n, sizeof *rows);
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    for (size_t g = 0; g < n; g++) {
        rows[g] = 10;
        chunk_init(&c[g * 3], "id", PT_I64, 10);
        chunk_init(&c[g * 3 + 1], "ts", PT_I64, 10);
        chunk_init(&c[g * 3 + 2], "name", PT_BA, 10);
        int64_t v[10];
        uint32_t def[10], idx[10];
        for (int i = 0; i < 10; i++) {
            v[i] = (int64_t)(10 * g) + i;
            def[i] = 1;
            idx[i] = (uint32_t)(i % 2);
        }
        ldr_buf_reset(&body);
        put(&body, v, sizeof v);
        page_v1(&c[g * 3].pages, 10, ENC_PLAIN, &body, LDR__PQ_CODEC_SNAPPY);
        c[g * 3].codec = LDR__PQ_CODEC_SNAPPY;
        c[g * 3].stats = true, c[g * 3].min = v[0], c[g * 3].max = v[9];
        for (int i = 0; i < 10; i++)
            v[i] *= 1000;
        ldr_buf_reset(&body);
        levels_v1(&body, def, 10, 1);
        put(&body, v, sizeof v);
        page_v1(&c[g * 3 + 1].pages, 10, ENC_PLAIN, &body, 0);
        c[g * 3 + 1].stats = true, c[g * 3 + 1].min = v[0], c[g * 3 + 1].max = v[9];
        ldr_buf_reset(&body);
        char s1[16], s2[16];
        snprintf(s1, sizeof s1, "even%zu", g);
        snprintf(s2, sizeof s2, "odd%zu", g);
        plain_str(&body, s1);
        plain_str(&body, s2);
        page_dict(&c[g * 3 + 2].pages, 2, &body);
        c[g * 3 + 2].dict = true;
        ldr_buf_reset(&body);
        levels_v1(&body, def, 10, 1);
        put(&body, "\x01", 1);
        rle_packed(&body, idx, 10, 1);
        page_v1(&c[g * 3 + 2].pages, 10, ENC_PLAIN_DICT, &body, 0);
    }
    build_file(f, els, 4, c, n, 3, rows);
    chunks_fini(c, n * 3);
    ldr_free(c);
    ldr_free(rows);
    ldr_buf_fini(&body);
}

TEST(pruning_on_statistics)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    file_row_groups(&f, 5);
    ldr_err err;
    ldr_pq_reader *r = open_buf(&f, &err);
    CHECK(r != NULL);
    if (!r) {
        printf("# %s\n", err.msg);
        ldr_buf_fini(&f);
        return;
    }
    const char *sel[] = {"id"};
    ldr_pq_range ranges[2] = {{"id", 15, 25}, {"ts", 0, INT64_MAX}};
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.columns = sel;
    o.n_columns = 1;
    o.ranges = ranges;
    o.n_ranges = 1;
    ldr_batch *b = NULL;
    CHECK_OK(ldr_pq_read(r, &o, &b, &err), err);
    CHECK(b && b->n_rows == 20); /* row groups 1 and 2 */
    if (b)
        CHECK_EQ_I64(ldr_col_i64(b->cols[0], 0), 10);
    ldr_batch_free(b);
    /* Timestamps in microseconds against statistics in milliseconds. */
    ranges[0] = (ldr_pq_range){"ts", 41000000, 41000000};
    CHECK_OK(ldr_pq_read(r, &o, &b, &err), err);
    CHECK(b && b->n_rows == 10);
    if (b)
        CHECK_EQ_I64(ldr_col_i64(b->cols[0], 0), 40);
    ldr_batch_free(b);
    ranges[0] = (ldr_pq_range){"id", 100, 200};
    CHECK_OK(ldr_pq_read(r, &o, &b, &err), err);
    CHECK(b && b->n_rows == 0 && b->n_cols == 1);
    ldr_batch_free(b);
    ranges[0] = (ldr_pq_range){"nope", 0, 1};
    CHECK_FAILS(ldr_pq_read(r, &o, &b, &err), LDR_ENOTFOUND);
    ldr_pq_reader_close(r);
    ldr_buf_fini(&f);
}

TEST(threads_and_projection)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    file_row_groups(&f, 9);
    ldr_err err;
    ldr_pq_reader *r = open_buf(&f, &err);
    CHECK(r != NULL);
    if (!r) {
        ldr_buf_fini(&f);
        return;
    }
    const char *sel[] = {"name", "id", "ts"};
    ldr_pq_read_opts o = ldr_pq_read_opts_default();
    o.columns = sel;
    o.n_columns = 3;
    ldr_batch *one = NULL, *many = NULL;
    o.threads = 1;
    CHECK_OK(ldr_pq_read(r, &o, &one, &err), err);
    o.threads = 4;
    o.keep_dict = true;
    CHECK_OK(ldr_pq_read(r, &o, &many, &err), err);
    CHECK(one && many && one->n_rows == 90 && many->n_rows == 90);
    if (one && many) {
        CHECK_EQ_STR(one->names[0], "name");
        CHECK_EQ_STR(one->names[2], "ts");
        CHECK(many->cols[0]->dict != NULL && one->cols[0]->dict == NULL);
        for (size_t c = 0; c < 3; c++)
            for (size_t i = 0; i < 90; i++)
                if (!ldr_col_eq(one->cols[c], i, many->cols[c], i))
                    HARNESS_FAIL("column %zu row %zu differs", c, i);
        size_t len;
        const char *s = ldr_col_str(many->cols[0], 87, &len);
        CHECK(len == 4 && !memcmp(s, "odd8", 4));
        CHECK_EQ_I64(ldr_col_i64(one->cols[2], 89), 89000000);
        CHECK(one->cols[2]->type == LDR_TYPE_UNIX_TIMESTAMP);
    }
    /* One thread with keep_dict: column units merging per-row-group dictionaries. */
    ldr_batch *dict1 = NULL;
    o.threads = 1;
    CHECK_OK(ldr_pq_read(r, &o, &dict1, &err), err);
    if (one && dict1) {
        CHECK(dict1->cols[0]->dict != NULL && dict1->cols[0]->dict->n == 18);
        for (size_t c = 0; c < 3; c++)
            for (size_t i = 0; i < 90; i++)
                if (!ldr_col_eq(one->cols[c], i, dict1->cols[c], i))
                    HARNESS_FAIL("keep_dict: column %zu row %zu differs", c, i);
    }
    ldr_batch_free(dict1);
    ldr_batch_free(one);
    ldr_batch_free(many);
    ldr_pq_reader_close(r);
    ldr_buf_fini(&f);
}

/* Row groups of 5 rows: optional int64 x, string s and double d, with nulls in row group
 * 0, none in row group 1 and only nulls in row group 2. */
static void file_nulls_by_row_group(ldr_buf *f)
{
    static const tel els[] = {{"schema", -1, -1, 3, -1, 0, 0, 0, 0},
                              {"x", PT_I64, OPT, 0, -1, 0, 0, 0, 0},
                              {"s", PT_BA, OPT, 0, 0, 0, 0, 0, 0},
                              {"d", PT_DOUBLE, OPT, 0, -1, 0, 0, 0, 0}};
    static const uint32_t defs[3][5] = {{1, 0, 1, 1, 0}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}};
    tchunk c[9];
    int64_t rows[3] = {5, 5, 5};
    ldr_buf body;
    ldr_buf_init(&body, 1 << 20);
    for (size_t g = 0; g < 3; g++) {
        chunk_init(&c[g * 3], "x", PT_I64, 5);
        chunk_init(&c[g * 3 + 1], "s", PT_BA, 5);
        chunk_init(&c[g * 3 + 2], "d", PT_DOUBLE, 5);
        for (size_t k = 0; k < 3; k++) {
            ldr_buf_reset(&body);
            levels_v1(&body, defs[g], 5, 1);
            for (size_t i = 0; i < 5; i++) {
                if (!defs[g][i])
                    continue;
                int64_t x = (int64_t)(10 * g + i);
                double d = 0.5 * (double)x;
                char str[16];
                snprintf(str, sizeof str, "s%zu", 10 * g + i);
                if (k == 0)
                    put(&body, &x, 8);
                else if (k == 1)
                    plain_str(&body, str);
                else
                    put(&body, &d, 8);
            }
            page_v1(&c[g * 3 + k].pages, 5, ENC_PLAIN, &body, k == 2 ? LDR__PQ_CODEC_SNAPPY : 0);
            c[g * 3 + k].codec = k == 2 ? LDR__PQ_CODEC_SNAPPY : 0;
        }
    }
    build_file(f, els, 4, c, 3, 3, rows);
    chunks_fini(c, 9);
    ldr_buf_fini(&body);
}

/* b's column c and col hold the same rows (values, nulls and null counts). */
static void check_same_col(const ldr_batch *b, size_t c, const ldr_col *col, const char *what)
{
    const ldr_col *want = b->cols[c];
    if (!col || col->n != want->n || col->null_count != want->null_count) {
        HARNESS_FAIL("%s: column %zu: %zu rows / %zu nulls, expected %zu / %zu", what, c,
                     col ? col->n : 0, col ? col->null_count : 0, want->n, want->null_count);
        return;
    }
    for (size_t i = 0; i < want->n; i++)
        if (!ldr_col_eq(want, i, col, i))
            HARNESS_FAIL("%s: column %zu row %zu differs", what, c, i);
}

/* ldr_pq_read_chunk refills one column (and one scratch) chunk after chunk, as `scan`
 * does, and gives what ldr_pq_read_row_group gives. */
TEST(read_chunk_reuses_columns)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    file_nulls_by_row_group(&f);
    ldr_err err;
    ldr_pq_reader *r = open_buf(&f, &err);
    CHECK(r != NULL);
    if (!r) {
        printf("# %s\n", err.msg);
        ldr_buf_fini(&f);
        return;
    }
    ldr_pq_scratch *s = ldr_pq_scratch_new();
    ldr_col *per_col[3] = {NULL, NULL, NULL}, *shared = NULL;
    for (size_t g = 0; g < 3; g++) {
        ldr_batch *b = NULL;
        CHECK_OK(ldr_pq_read_row_group(r, g, NULL, 0, false, &b, &err), err);
        for (size_t c = 0; b && c < 3; c++) {
            CHECK_OK(ldr_pq_read_chunk(r, g, c, false, s, &per_col[c], &err), err);
            check_same_col(b, c, per_col[c], "per column");
            CHECK_OK(ldr_pq_read_chunk(r, g, c, false, s, &shared, &err), err);
            check_same_col(b, c, shared, "shared across types");
        }
        if (b && g == 0)
            CHECK_COL(b, 0, "0|null|2|3|null");
        if (b && g == 2)
            CHECK_COL(b, 1, "null|null|null|null|null");
        ldr_batch_free(b);
    }
    CHECK(per_col[0] && per_col[0]->null_count == 5 && per_col[0]->n == 5);
    CHECK_FAILS(ldr_pq_read_chunk(r, 3, 0, false, s, &shared, &err), LDR_EINVAL);
    CHECK_FAILS(ldr_pq_read_chunk(r, 0, 3, false, s, &shared, &err), LDR_EINVAL);
    for (size_t c = 0; c < 3; c++)
        ldr_col_free(per_col[c]);
    ldr_col_free(shared);
    ldr_pq_reader_close(r);
    /* keep_dict: dictionary string chunks come back as dictionary columns every time. */
    ldr_buf_reset(&f);
    file_row_groups(&f, 3);
    r = open_buf(&f, &err);
    CHECK(r != NULL);
    ldr_col *col = NULL;
    for (size_t g = 0; r && g < 3; g++) {
        ldr_batch *b = NULL;
        CHECK_OK(ldr_pq_read_row_group(r, g, NULL, 0, true, &b, &err), err);
        for (size_t c = 0; b && c < 3; c++) {
            CHECK_OK(ldr_pq_read_chunk(r, g, c, true, s, &col, &err), err);
            check_same_col(b, c, col, "keep_dict");
            CHECK((col->dict != NULL) == (c == 2));
        }
        ldr_batch_free(b);
    }
    ldr_col_free(col);
    ldr_pq_scratch_free(s);
    ldr_pq_scratch_free(NULL);
    ldr_pq_reader_close(r);
    ldr_buf_fini(&f);
}

/* ---- hostile inputs -------------------------------------------------------------------------- */

/* Opens and reads; returns the error code (LDR_OK when it read). */
static ldr_code try_read(const ldr_buf *f, ldr_err *err)
{
    ldr_pq_reader *r = open_buf(f, err);
    if (!r)
        return err->code;
    ldr_batch *b = NULL;
    ldr_code rc = ldr_pq_read(r, NULL, &b, err);
    ldr_batch_free(b);
    ldr_pq_reader_close(r);
    return rc;
}

/* A one-column optional-int32 file whose only page is given raw (header and body). */
static void file_raw_page(ldr_buf *f, const ldr_buf *page, int64_t nv, int64_t rows, int codec)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"x", PT_I32, OPT, 0, -1, 0, 0, 0, 0}};
    tchunk c;
    chunk_init(&c, "x", PT_I32, nv);
    c.codec = codec;
    put(&c.pages, page->ptr, page->len);
    build_file(f, els, 2, &c, 1, 1, &rows);
    chunks_fini(&c, 1);
}

#define CHECK_CORRUPT(f, code, fragment)                                        \
    do {                                                                        \
        ldr_err e_;                                                             \
        ldr_code rc_ = try_read((f), &e_);                                      \
        if (rc_ != (code))                                                      \
            HARNESS_FAIL("expected code %d, got %d: %s", (int)(code), (int)rc_, \
                         rc_ ? e_.msg : "");                                    \
        else                                                                    \
            CHECK_CONTAINS(e_.msg, (fragment));                                 \
    } while (0)

TEST(hostile_frames)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 20);
    put(&f, minimal, sizeof minimal);
    f.ptr[0] = 'X'; /* first magic */
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "no PAR1 magic");
    memcpy(f.ptr, minimal, sizeof minimal);
    uint32_t huge = 0xfffffff0u;
    memcpy(f.ptr + sizeof minimal - 8, &huge, 4);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "footer length 4294967280 exceeds the file");
    /* Chunk offset past the data area: data_page_offset 4 -> 0x7f (field 9 = 26 08). */
    memcpy(f.ptr, minimal, sizeof minimal);
    for (size_t i = 40; i + 1 < f.len; i++)
        if ((uint8_t)f.ptr[i] == 0x26 && (uint8_t)f.ptr[i + 1] == 0x08) {
            f.ptr[i + 1] = 0x7e;
            break;
        }
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "lies outside the data area");
    ldr_buf_fini(&f);
}

TEST(hostile_pages)
{
    ldr_buf page, body, f;
    ldr_buf_init(&page, 1 << 20);
    ldr_buf_init(&body, 1 << 20);
    ldr_buf_init(&f, 1 << 20);
    uint32_t def[] = {1, 1, 0};
    int32_t v[] = {1, 2};
    /* Baseline works. */
    levels_v1(&body, def, 3, 1);
    put(&body, v, sizeof v);
    page_v1(&page, 3, ENC_PLAIN, &body, 0);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_OK, "");

    /* More values in the page than rows in the row group. */
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 2, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "more values than the row group");
    /* Fewer values in the chunk than the metadata says. */
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 4, 4, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "column chunk ends after 3 of 4 values");
    /* Unknown and unsupported codecs. */
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 99);
    CHECK_CORRUPT(&f, LDR_EUNSUPPORTED, "compression codec");
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, LDR__PQ_CODEC_LZO);
    CHECK_CORRUPT(&f, LDR_EUNSUPPORTED, "LZO");

    /* Negative num_values, then a page body that overflows the chunk. */
    ldr_buf_reset(&page);
    page_v1(&page, -5, ENC_PLAIN, &body, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "data page with -5 values");
    ldr_buf_reset(&page);
    page_v1(&page, 3, ENC_PLAIN, &body, 0);
    page.len -= 3;
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "overflows the column chunk");

    /* A definition level above the maximum. */
    ldr_buf_reset(&body);
    uint32_t bad_def[] = {1, 3, 0};
    levels_v1(&body, bad_def, 3, 2);
    put(&body, v, sizeof v);
    ldr_buf_reset(&page);
    page_v1(&page, 3, ENC_PLAIN, &body, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "RLE value 3 does not fit in 1 bits");

    /* Values section too short for the present values. */
    ldr_buf_reset(&body);
    levels_v1(&body, def, 3, 1);
    put(&body, v, 5);
    ldr_buf_reset(&page);
    page_v1(&page, 3, ENC_PLAIN, &body, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "exceed the 5 in the page");

    /* Dictionary indices without a dictionary; unknown encodings. */
    ldr_buf_reset(&body);
    levels_v1(&body, def, 3, 1);
    put(&body, "\x01\x02\x00\x02\x01", 5);
    ldr_buf_reset(&page);
    page_v1(&page, 3, ENC_RLE_DICT, &body, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "without a dictionary page");
    ldr_buf_reset(&page);
    page_v1(&page, 3, 10, &body, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_EUNSUPPORTED, "value encoding ALP");

    /* Compressed page claiming a gigantic size. */
    ldr_buf_reset(&page);
    tw w;
    tw_init(&w, &page);
    tw_i32(&w, 1, 0);
    tw_i32(&w, 2, INT32_MAX);
    tw_i32(&w, 3, 4);
    tw_begin(&w, 5);
    tw_i32(&w, 1, 3);
    tw_i32(&w, 2, 0);
    tw_i32(&w, 3, 3);
    tw_i32(&w, 4, 3);
    tw_end(&w);
    tw_byte(&w, 0);
    put(&page, "abcd", 4);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, LDR__PQ_CODEC_SNAPPY);
    CHECK_CORRUPT(&f, LDR_ELIMIT, "exceeds the limit");

    /* CRC mismatch. */
    ldr_buf_reset(&body);
    levels_v1(&body, def, 3, 1);
    put(&body, v, sizeof v);
    ldr_buf_reset(&page);
    tw_init(&w, &page);
    tw_i32(&w, 1, 0);
    tw_i32(&w, 2, (int32_t)body.len);
    tw_i32(&w, 3, (int32_t)body.len);
    tw_i32(&w, 4, (int32_t)(ldr__pq_crc32((const uint8_t *)body.ptr, body.len) ^ 1));
    tw_begin(&w, 5);
    tw_i32(&w, 1, 3);
    tw_i32(&w, 2, 0);
    tw_i32(&w, 3, 3);
    tw_i32(&w, 4, 3);
    tw_end(&w);
    tw_byte(&w, 0);
    put(&page, body.ptr, body.len);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT,
                  "t.parquet: column x, row group 0: page at byte 4: page CRC mismatch");

    /* A page header missing required fields. */
    ldr_buf_reset(&page);
    tw_init(&w, &page);
    tw_i32(&w, 1, 0);
    tw_byte(&w, 0);
    ldr_buf_reset(&f);
    file_raw_page(&f, &page, 3, 3, 0);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "missing required field 'uncompressed_page_size'");

    ldr_buf_fini(&page);
    ldr_buf_fini(&body);
    ldr_buf_fini(&f);
}

TEST(hostile_lists_and_dictionaries)
{
    static const tel els[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                              {"r", PT_I32, REP, 0, -1, 0, 0, 0, 0}};
    ldr_buf body, f;
    ldr_buf_init(&body, 1 << 20);
    ldr_buf_init(&f, 1 << 20);
    /* Repetition levels starting with 1 (ARROW-GH-45185). */
    tchunk c;
    chunk_init(&c, "r", PT_I32, 2);
    uint32_t rep[] = {1, 0}, def[] = {1, 1};
    levels_v1(&body, rep, 2, 1);
    levels_v1(&body, def, 2, 1);
    int32_t v[] = {1, 2};
    put(&body, v, sizeof v);
    page_v1(&c.pages, 2, ENC_PLAIN, &body, 0);
    int64_t rows = 1;
    build_file(&f, els, 2, &c, 1, 1, &rows);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "continues no list");
    chunks_fini(&c, 1);

    /* A definition level above the maximum of a 2-level optional list (max 2, 2 bits). */
    static const tel els3[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                               {"l", -1, OPT, 1, 3, 0, 0, 0, 0},
                               {"e", PT_I32, REP, 0, -1, 0, 0, 0, 0}};
    chunk_init(&c, "l.e", PT_I32, 2);
    ldr_buf_reset(&body);
    uint32_t rep3[] = {0, 1}, def3[] = {2, 3};
    levels_v1(&body, rep3, 2, 1);
    levels_v1(&body, def3, 2, 2);
    put(&body, v, sizeof v);
    page_v1(&c.pages, 2, ENC_PLAIN, &body, 0);
    ldr_buf_reset(&f);
    build_file(&f, els3, 3, &c, 1, 1, &rows);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "definition level 3 exceeds the maximum 2");
    chunks_fini(&c, 1);

    /* A dictionary index out of range; a negative dictionary size. */
    static const tel els2[] = {{"schema", -1, -1, 1, -1, 0, 0, 0, 0},
                               {"s", PT_BA, REQ, 0, 0, 0, 0, 0, 0}};
    chunk_init(&c, "s", PT_BA, 2);
    ldr_buf_reset(&body);
    plain_str(&body, "only");
    page_dict(&c.pages, 1, &body);
    ldr_buf_reset(&body);
    uint32_t idx[] = {0, 5};
    put(&body, "\x03", 1);
    rle_runs(&body, idx, 2, 3);
    page_v1(&c.pages, 2, ENC_RLE_DICT, &body, 0);
    rows = 2;
    ldr_buf_reset(&f);
    build_file(&f, els2, 2, &c, 1, 1, &rows);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "dictionary index 5 out of range (1 entries)");
    chunks_fini(&c, 1);
    chunk_init(&c, "s", PT_BA, 2);
    ldr_buf_reset(&body);
    page_dict(&c.pages, -26, &body);
    ldr_buf_reset(&f);
    build_file(&f, els2, 2, &c, 1, 1, &rows);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "dictionary page with -26 entries");
    chunks_fini(&c, 1);
    /* A BYTE_ARRAY length past the end of the page. */
    chunk_init(&c, "s", PT_BA, 1);
    ldr_buf_reset(&body);
    put_u32(&body, 1000);
    put(&body, "abc", 3);
    page_v1(&c.pages, 1, ENC_PLAIN, &body, 0);
    rows = 1;
    ldr_buf_reset(&f);
    build_file(&f, els2, 2, &c, 1, 1, &rows);
    CHECK_CORRUPT(&f, LDR_ECORRUPT, "BYTE_ARRAY value of 1000 bytes exceeds the 3 left");
    chunks_fini(&c, 1);
    ldr_buf_fini(&body);
    ldr_buf_fini(&f);
}

/* Thrift-level bombs in the footer: deep nesting, huge lists, long varints. */
TEST(hostile_thrift)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 20);
    ldr_err err;
    /* 1000 nested structs in an unknown field. */
    put(&f, "PAR1", 4);
    size_t start = f.len;
    for (int i = 0; i < 1000; i++)
        put(&f, "\x1c", 1); /* field +1, STRUCT */
    for (int i = 0; i < 1001; i++)
        put(&f, "\x00", 1);
    put_u32(&f, (uint32_t)(f.len - start));
    put(&f, "PAR1", 4);
    CHECK(open_buf(&f, &err) == NULL);
    CHECK_CONTAINS(err.msg, "Thrift nesting deeper than 64");
    /* A schema list claiming 2^31 elements. */
    ldr_buf_reset(&f);
    put(&f, "PAR1", 4);
    start = f.len;
    put(&f, "\x15\x02\x19\xfc\xff\xff\xff\xff\x07", 9);
    put_u32(&f, (uint32_t)(f.len - start));
    put(&f, "PAR1", 4);
    CHECK(open_buf(&f, &err) == NULL);
    CHECK_CONTAINS(err.msg, "Thrift list of 2147483647 elements");
    /* An 11-byte varint. */
    ldr_buf_reset(&f);
    put(&f, "PAR1", 4);
    start = f.len;
    put(&f, "\x16\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    put_u32(&f, (uint32_t)(f.len - start));
    put(&f, "PAR1", 4);
    CHECK(open_buf(&f, &err) == NULL);
    CHECK_CONTAINS(err.msg, "Thrift varint");
    /* A footer without the required schema. */
    ldr_buf_reset(&f);
    put(&f, "PAR1", 4);
    start = f.len;
    put(&f, "\x15\x02\x00", 3);
    put_u32(&f, (uint32_t)(f.len - start));
    put(&f, "PAR1", 4);
    CHECK(open_buf(&f, &err) == NULL);
    CHECK_CONTAINS(err.msg, "footer: FileMetaData is missing required field 'schema'");
    ldr_buf_fini(&f);
}

/* Every truncation of a richer file, and byte mutations over its pages and footer. */
TEST(rich_file_mutations)
{
    ldr_buf f;
    ldr_buf_init(&f, 1 << 24);
    file_row_groups(&f, 2);
    size_t n = f.len;
    uint8_t *p = ldr_xmalloc(n);
    for (size_t cut = 0; cut < n; cut += 1) {
        uint8_t *q = ldr_xmalloc(cut ? cut : 1);
        memcpy(q, f.ptr, cut);
        ldr_err err;
        ldr_pq_reader *r = ldr_pq_reader_open_mem("cut", q, cut, &err);
        if (!r)
            CHECK(err.msg[0]);
        ldr_pq_reader_close(r);
        ldr_free(q);
    }
    uint64_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        memcpy(p, f.ptr, n);
        for (int k = 0; k < 1 + round % 3; k++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            p[(seed >> 33) % n] = (uint8_t)(seed >> 20);
        }
        ldr_err err;
        ldr_pq_reader *r = ldr_pq_reader_open_mem("mut", p, n, &err);
        if (!r)
            continue;
        ldr_batch *b = NULL;
        ldr_pq_read_opts o = ldr_pq_read_opts_default();
        o.threads = 2;
        if (ldr_pq_read(r, &o, &b, &err) != LDR_OK)
            CHECK(err.msg[0] && !b);
        ldr_batch_free(b);
        ldr_pq_reader_close(r);
    }
    ldr_free(p);
    ldr_buf_fini(&f);
}

TEST(open_file_errors)
{
    ldr_err err;
    CHECK(ldr_pq_reader_open("/nonexistent/x.parquet", &err) == NULL);
    CHECK(err.code == LDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "/nonexistent/x.parquet");
    CHECK(ldr_pq_reader_open("/", &err) == NULL);
    CHECK(err.code == LDR_EINVAL);
    FILE *fp = fopen("test_reader_empty.parquet", "wb");
    if (fp)
        fclose(fp);
    CHECK(ldr_pq_reader_open("test_reader_empty.parquet", &err) == NULL);
    CHECK_CONTAINS(err.msg, "not a Parquet file (0 bytes)");
    fp = fopen("test_reader_min.parquet", "wb");
    if (fp) {
        fwrite(minimal, 1, sizeof minimal, fp);
        fclose(fp);
    }
    ldr_pq_reader *r = ldr_pq_reader_open("test_reader_min.parquet", &err);
    CHECK(r != NULL);
    ldr_batch *b = NULL;
    if (r)
        CHECK_OK(ldr_pq_read(r, NULL, &b, &err), err);
    CHECK(b && b->n_rows == 3);
    ldr_batch_free(b);
    ldr_pq_reader_close(r);
    remove("test_reader_empty.parquet");
    remove("test_reader_min.parquet");
}

int main(void)
{
    RUN(reference_minimal_file);
    RUN(minimal_file_mutations);
    RUN(optional_values_and_codecs);
    RUN(dictionary_pages);
    RUN(booleans);
    RUN(three_level_list);
    RUN(legacy_and_bare_lists);
    RUN(conversions);
    RUN(uint64_above_int64_fails);
    RUN(unsupported_columns_leave_others_readable);
    RUN(encrypted_files);
    RUN(pruning_on_statistics);
    RUN(threads_and_projection);
    RUN(read_chunk_reuses_columns);
    RUN(hostile_frames);
    RUN(hostile_pages);
    RUN(hostile_lists_and_dictionaries);
    RUN(hostile_thrift);
    RUN(rich_file_mutations);
    RUN(open_file_errors);
    return harness_done();
}
