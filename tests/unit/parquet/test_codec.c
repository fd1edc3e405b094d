/*
 * test_codec.c -- unit tests for src/parquet/codec.c: round trips through every codec the
 * writer offers (empty, tiny, compressible, random, multi-MiB inputs), framings written
 * by other Parquet writers (concatenated gzip members, Hadoop-framed LZ4 with several
 * blocks and chunks, raw LZ4 under codec 5, the LZ4 frame format, several and skippable
 * zstd frames, zstd frames without a content size), and hostile inputs: truncated or
 * corrupted data and wrong uncompressed sizes must fail cleanly with LDR_ECORRUPT, unknown
 * codecs with LDR_EUNSUPPORTED. Runs under ASan in `make test`, which checks that no
 * decoder reads or writes outside its buffers.
 */
#include "parquet/parquet_int.h"

#include <lz4.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"

static const int write_codecs[] = {
    LDR__PQ_CODEC_UNCOMPRESSED, LDR__PQ_CODEC_SNAPPY, LDR__PQ_CODEC_GZIP,
    LDR__PQ_CODEC_BROTLI,       LDR__PQ_CODEC_ZSTD,   LDR__PQ_CODEC_LZ4_RAW,
};

/* Deterministic pseudo-random bytes (xorshift64). */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 32);
    }
}

static void fill_text(uint8_t *p, size_t n)
{
    static const char words[] = "driver_id conv_rate acc_rate avg_daily_trips 1001 1002 ";
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)words[(i * 7 + i / 13) % (sizeof words - 1)];
}

/* Compresses with codec, checks the exact-size decompression and that one byte more or
 * less of expected output is reported as corrupt. */
static void roundtrip(int codec, const uint8_t *src, size_t len)
{
    ldr_err err;
    ldr_buf c;
    ldr_buf_init(&c, (size_t)1 << 30);
    CHECK_OK(ldr__pq_compress(codec, src, len, 0, &c, &err), err);
    uint8_t *dst = ldr_xmalloc(len + 1);
    CHECK_OK(ldr__pq_decompress(codec, (const uint8_t *)c.ptr, c.len, dst, len, &err), err);
    if (len)
        CHECK(memcmp(dst, src, len) == 0);
    if (c.len > 0) {
        if (ldr__pq_decompress(codec, (const uint8_t *)c.ptr, c.len, dst, len + 1, &err) !=
            LDR_ECORRUPT)
            HARNESS_FAIL("codec %s, %zu bytes: one byte too many accepted",
                         ldr__pq_codec_name(codec), len);
        if (len > 0 && ldr__pq_decompress(codec, (const uint8_t *)c.ptr, c.len, dst, len - 1,
                                          &err) != LDR_ECORRUPT)
            HARNESS_FAIL("codec %s, %zu bytes: one byte too few accepted",
                         ldr__pq_codec_name(codec), len);
    }
    ldr_free(dst);
    ldr_buf_fini(&c);
}

TEST(names_and_support)
{
    CHECK_EQ_STR(ldr__pq_codec_name(LDR__PQ_CODEC_SNAPPY), "SNAPPY");
    CHECK_EQ_STR(ldr__pq_codec_name(LDR__PQ_CODEC_LZ4_RAW), "LZ4_RAW");
    CHECK_EQ_STR(ldr__pq_codec_name(LDR__PQ_CODEC_LZO), "LZO");
    CHECK_EQ_STR(ldr__pq_codec_name(42), "UNKNOWN");
    CHECK_EQ_STR(ldr__pq_codec_name(-1), "UNKNOWN");
    for (int c = 0; c <= 7; c++)
        CHECK(ldr__pq_codec_supported(c) == (c != LDR__PQ_CODEC_LZO));
    CHECK(!ldr__pq_codec_supported(8));
}

TEST(roundtrip_every_codec)
{
    size_t sizes[] = {0, 1, 7, 100, 4096, 65537, (size_t)3 << 20};
    uint8_t *text = ldr_xmalloc(sizes[6]);
    uint8_t *rnd = ldr_xmalloc(sizes[6]);
    fill_text(text, sizes[6]);
    fill_random(rnd, sizes[6], 42);
    for (size_t c = 0; c < LDR_ARRAY_LEN(write_codecs); c++) {
        for (size_t s = 0; s < LDR_ARRAY_LEN(sizes); s++) {
            roundtrip(write_codecs[c], text, sizes[s]);
            roundtrip(write_codecs[c], rnd, sizes[s]);
        }
    }
    ldr_free(text);
    ldr_free(rnd);
}

TEST(compression_levels)
{
    uint8_t text[20000];
    fill_text(text, sizeof text);
    int levels[] = {-5, 0, 1, 9, 11, 19, 99};
    for (size_t i = 0; i < LDR_ARRAY_LEN(levels); i++) {
        ldr_err err;
        for (size_t c = 0; c < LDR_ARRAY_LEN(write_codecs); c++) {
            ldr_buf b;
            ldr_buf_init(&b, 1 << 20);
            CHECK_OK(ldr__pq_compress(write_codecs[c], text, sizeof text, levels[i], &b, &err),
                     err);
            uint8_t out[sizeof text];
            CHECK_OK(ldr__pq_decompress(write_codecs[c], (const uint8_t *)b.ptr, b.len, out,
                                        sizeof out, &err),
                     err);
            CHECK(memcmp(out, text, sizeof text) == 0);
            if (write_codecs[c] != LDR__PQ_CODEC_UNCOMPRESSED && b.len >= sizeof text / 2)
                HARNESS_FAIL("%s level %d: %zu bytes", ldr__pq_codec_name(write_codecs[c]),
                             levels[i], b.len);
            ldr_buf_fini(&b);
        }
    }
}

TEST(compress_appends_and_respects_limit)
{
    ldr_err err;
    ldr_buf b;
    ldr_buf_init(&b, 1 << 20);
    CHECK_OK(ldr_buf_append(&b, "HDR", 3, &err), err);
    uint8_t text[1000];
    fill_text(text, sizeof text);
    CHECK_OK(ldr__pq_compress(LDR__PQ_CODEC_SNAPPY, text, sizeof text, 0, &b, &err), err);
    CHECK(memcmp(b.ptr, "HDR", 3) == 0);
    uint8_t out[sizeof text];
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, (const uint8_t *)b.ptr + 3, b.len - 3, out,
                                sizeof out, &err),
             err);
    ldr_buf_fini(&b);

    uint8_t rnd[5000];
    fill_random(rnd, sizeof rnd, 7);
    for (size_t c = 0; c < LDR_ARRAY_LEN(write_codecs); c++) {
        ldr_buf small;
        ldr_buf_init(&small, 100);
        CHECK_FAILS(ldr__pq_compress(write_codecs[c], rnd, sizeof rnd, 0, &small, &err),
                    LDR_ELIMIT);
        CHECK(small.len == 0);
        ldr_buf_fini(&small);
    }
}

TEST(unsupported_codecs)
{
    ldr_err err;
    uint8_t src[4] = {1, 2, 3, 4}, dst[4];
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZO, src, 4, dst, 4, &err), LDR_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "LZO");
    CHECK_FAILS(ldr__pq_decompress(99, src, 4, dst, 4, &err), LDR_EUNSUPPORTED);
    CHECK_CONTAINS(err.msg, "99");
    ldr_buf b;
    ldr_buf_init(&b, 1000);
    CHECK_FAILS(ldr__pq_compress(LDR__PQ_CODEC_LZO, src, 4, 0, &b, &err), LDR_EUNSUPPORTED);
    CHECK_FAILS(ldr__pq_compress(LDR__PQ_CODEC_LZ4, src, 4, 0, &b, &err), LDR_EUNSUPPORTED);
    CHECK_FAILS(ldr__pq_compress(-3, src, 4, 0, &b, &err), LDR_EUNSUPPORTED);
    ldr_buf_fini(&b);
}

TEST(uncompressed_size_mismatch)
{
    ldr_err err;
    uint8_t src[8] = {0}, dst[9];
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_UNCOMPRESSED, src, 8, dst, 8, &err), err);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_UNCOMPRESSED, src, 8, dst, 9, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "8 bytes");
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_UNCOMPRESSED, src, 8, dst, 7, &err), LDR_ECORRUPT);
    /* Empty in, empty out is fine for any codec (all-null v2 pages); empty in with output
     * expected is corrupt. */
    for (int c = 0; c <= 7; c++) {
        if (c == LDR__PQ_CODEC_LZO)
            continue;
        CHECK_OK(ldr__pq_decompress(c, src, 0, NULL, 0, &err), err);
        if (c != LDR__PQ_CODEC_UNCOMPRESSED) {
            CHECK_FAILS(ldr__pq_decompress(c, src, 0, dst, 4, &err), LDR_ECORRUPT);
            CHECK_CONTAINS(err.msg, ldr__pq_codec_name(c));
        }
    }
}

/* A Snappy block written by hand (reference §7): preamble 12, a literal "abcd", a copy of
 * length 8 at offset 4 (tag 01: len 4 + 4, offset 4). */
TEST(snappy_known_block)
{
    ldr_err err;
    const uint8_t block[] = {12, 3 << 2, 'a', 'b', 'c', 'd', 0x01 | (4 << 2), 4};
    uint8_t out[12];
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, block, sizeof block, out, 12, &err), err);
    CHECK(memcmp(out, "abcdabcdabcd", 12) == 0);
    /* preamble says 12, header says 11 */
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, block, sizeof block, out, 11, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "SNAPPY data decompresses to 12 bytes, expected 11");
    /* copy offset 0 and offsets before the start are invalid */
    const uint8_t bad_off[] = {12, 3 << 2, 'a', 'b', 'c', 'd', 0x01 | (4 << 2), 0};
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, bad_off, sizeof bad_off, out, 12, &err),
                LDR_ECORRUPT);
    const uint8_t far_off[] = {12, 3 << 2, 'a', 'b', 'c', 'd', 0x01 | (4 << 2), 9};
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, far_off, sizeof far_off, out, 12, &err),
                LDR_ECORRUPT);
    /* truncated literal */
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, block, 4, out, 12, &err), LDR_ECORRUPT);
    /* a bad preamble (varint longer than 5 bytes) */
    const uint8_t bad_pre[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_SNAPPY, bad_pre, sizeof bad_pre, out, 12, &err),
                LDR_ECORRUPT);
}

static size_t gzip_member(const uint8_t *src, size_t len, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? n : 0;
}

/* concatenated_gzip_members.parquet has 4096 + 8 bytes in two members. */
TEST(gzip_concatenated_members)
{
    ldr_err err;
    uint8_t text[4104], comp[9000], out[4104];
    fill_text(text, sizeof text);
    size_t a = gzip_member(text, 4096, comp, sizeof comp);
    size_t b = gzip_member(text + 4096, 8, comp + a, sizeof comp - a);
    CHECK(a > 0 && b > 0);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_GZIP, comp, a + b, out, sizeof out, &err), err);
    CHECK(memcmp(out, text, sizeof text) == 0);
    /* the first member alone is short */
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_GZIP, comp, a, out, sizeof out, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "4096 bytes, expected 4104");
    /* truncated second member */
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_GZIP, comp, a + b - 3, out, sizeof out, &err),
                LDR_ECORRUPT);
    /* garbage after the last member */
    comp[a + b] = 0x42;
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_GZIP, comp, a + b + 1, out, sizeof out, &err),
                LDR_ECORRUPT);
    /* a flipped byte in the deflate data or the CRC trailer */
    comp[a - 2] ^= 0x5a;
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_GZIP, comp, a + b, out, sizeof out, &err),
                LDR_ECORRUPT);
}

static size_t put_be32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* One Hadoop block of `len` bytes split into chunks of `chunk` bytes each. */
static size_t hadoop_block(const uint8_t *src, size_t len, size_t chunk, uint8_t *out)
{
    size_t o = put_be32(out, len);
    for (size_t done = 0; done < len || done == 0; done += chunk) {
        size_t k = len - done < chunk ? len - done : chunk;
        int n = LZ4_compress_default((const char *)src + done, (char *)out + o + 4, (int)k,
                                     LZ4_compressBound((int)k));
        o += put_be32(out + o, (size_t)n);
        o += (size_t)n;
        if (len == 0)
            break;
    }
    return o;
}

TEST(lz4_hadoop_framing)
{
    ldr_err err;
    enum { N = 300000 };
    uint8_t *text = ldr_xmalloc(N), *comp = ldr_xmalloc(2 * N), *out = ldr_xmalloc(N);
    fill_text(text, N);
    /* hadoop_lz4_compressed.parquet: one block; _larger: 128 KiB blocks */
    size_t n = hadoop_block(text, 100, 100, comp);
    CHECK(comp[0] == 0 && comp[3] == 100);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, 100, &err), err);
    CHECK(memcmp(out, text, 100) == 0);
    n = 0;
    for (size_t off = 0; off < N; off += 131072)
        n += hadoop_block(text + off, N - off < 131072 ? N - off : 131072, 131072, comp + n);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, N, &err), err);
    CHECK(memcmp(out, text, N) == 0);
    /* one block made of several chunks (general Hadoop BlockCompressorStream) */
    n = hadoop_block(text, N, 65536, comp);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, N, &err), err);
    CHECK(memcmp(out, text, N) == 0);
    /* an empty page */
    n = hadoop_block(text, 0, 1, comp);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, 0, &err), err);
    /* wrong sizes and truncation fall through every detection and fail */
    n = hadoop_block(text, 5000, 5000, comp);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, 4999, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "LZ4");
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n - 1, out, 5000, &err), LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, n, out, 5001, &err), LDR_ECORRUPT);
    ldr_free(text);
    ldr_free(comp);
    ldr_free(out);
}

TEST(lz4_raw_and_frame_fallbacks)
{
    ldr_err err;
    uint8_t text[10000], comp[12000], out[10000];
    fill_text(text, sizeof text);
    /* non_hadoop_lz4_compressed.parquet: a bare block under codec 5 */
    int n =
        LZ4_compress_default((const char *)text, (char *)comp, (int)sizeof text, (int)sizeof comp);
    CHECK(n > 0);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, (size_t)n, out, sizeof out, &err), err);
    CHECK(memcmp(out, text, sizeof text) == 0);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4_RAW, comp, (size_t)n, out, sizeof out, &err),
             err);
    CHECK_FAILS(
        ldr__pq_decompress(LDR__PQ_CODEC_LZ4_RAW, comp, (size_t)n - 1, out, sizeof out, &err),
        LDR_ECORRUPT);
    CHECK_FAILS(
        ldr__pq_decompress(LDR__PQ_CODEC_LZ4_RAW, comp, (size_t)n, out, sizeof out - 1, &err),
        LDR_ECORRUPT);
    /* the LZ4 frame format (arrow-rs reads it too) */
    size_t f = LZ4F_compressFrame(comp, sizeof comp, text, sizeof text, NULL);
    CHECK(!LZ4F_isError(f));
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, f, out, sizeof out, &err), err);
    CHECK(memcmp(out, text, sizeof text) == 0);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, f, out, sizeof out - 1, &err),
                LDR_ECORRUPT);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_LZ4, comp, f - 5, out, sizeof out, &err),
                LDR_ECORRUPT);
}

TEST(zstd_frames)
{
    ldr_err err;
    uint8_t text[20000], comp[40000], out[20000];
    fill_text(text, sizeof text);
    /* two frames with a skippable frame between them */
    size_t a = ZSTD_compress(comp, sizeof comp, text, 12000, 3);
    CHECK(!ZSTD_isError(a));
    const uint8_t skip[] = {0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
    memcpy(comp + a, skip, sizeof skip);
    size_t b =
        ZSTD_compress(comp + a + sizeof skip, sizeof comp - a - sizeof skip, text + 12000, 8000, 1);
    CHECK(!ZSTD_isError(b));
    size_t total = a + sizeof skip + b;
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, total, out, sizeof out, &err), err);
    CHECK(memcmp(out, text, sizeof text) == 0);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, total, out, sizeof out - 1, &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "more than 19999 bytes");
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, total - 2, out, sizeof out, &err),
                LDR_ECORRUPT);
    /* a frame without a content size (streaming writers) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_outBuffer ob = {comp, sizeof comp, 0};
    ZSTD_inBuffer ib = {text, sizeof text, 0};
    size_t r = ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end);
    ZSTD_freeCCtx(cc);
    CHECK(r == 0);
    CHECK(ZSTD_getFrameContentSize(comp, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, ob.pos, out, sizeof out, &err), err);
    CHECK(memcmp(out, text, sizeof text) == 0);
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, ob.pos, out, sizeof out - 7, &err),
                LDR_ECORRUPT);
    /* page_v2_empty_compressed.parquet: a valid frame decompressing to 0 bytes */
    size_t e = ZSTD_compress(comp, sizeof comp, text, 0, 3);
    CHECK_OK(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, e, out, 0, &err), err);
    /* garbage after the frame */
    comp[e] = 0x11;
    CHECK_FAILS(ldr__pq_decompress(LDR__PQ_CODEC_ZSTD, comp, e + 1, out, 0, &err), LDR_ECORRUPT);
}

/* Every codec fed truncated, bit-flipped and random inputs must fail cleanly (or, when a
 * flip happens to keep the data valid, produce exactly the expected size). */
TEST(hostile_inputs_fail_cleanly)
{
    ldr_err err;
    enum { N = 50000 };
    uint8_t *text = ldr_xmalloc(N), *out = ldr_xmalloc(N);
    fill_text(text, N);
    for (size_t c = 1; c < LDR_ARRAY_LEN(write_codecs); c++) {
        int codec = write_codecs[c];
        ldr_buf b;
        ldr_buf_init(&b, 1 << 20);
        CHECK_OK(ldr__pq_compress(codec, text, N, 0, &b, &err), err);
        uint8_t *comp = (uint8_t *)b.ptr;
        size_t cut[] = {1, 2, 5, b.len / 2, b.len - 1};
        for (size_t i = 0; i < LDR_ARRAY_LEN(cut); i++) {
            ldr_code rc = ldr__pq_decompress(codec, comp, cut[i], out, N, &err);
            if (rc != LDR_ECORRUPT)
                HARNESS_FAIL("%s truncated to %zu bytes: code %d", ldr__pq_codec_name(codec),
                             cut[i], (int)rc);
        }
        uint64_t x = 12345;
        for (int t = 0; t < 200; t++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            size_t at = (size_t)(x >> 33) % b.len;
            uint8_t old = comp[at];
            comp[at] = (uint8_t)(old ^ (uint8_t)(1u << (x >> 60 & 7)));
            ldr_code rc = ldr__pq_decompress(codec, comp, b.len, out, N, &err);
            CHECK(rc == LDR_OK || rc == LDR_ECORRUPT);
            if (rc == LDR_ECORRUPT)
                CHECK(err.msg[0] != '\0');
            comp[at] = old;
        }
        ldr_buf_fini(&b);
    }
    for (int codec = 1; codec <= 7; codec++) {
        if (codec == LDR__PQ_CODEC_LZO)
            continue;
        for (int t = 0; t < 100; t++) {
            uint8_t junk[300];
            fill_random(junk, sizeof junk, (uint64_t)(t * 31 + codec));
            size_t len = 1 + (size_t)t * 3;
            ldr_code rc = ldr__pq_decompress(codec, junk, len, out, 1000, &err);
            CHECK(rc == LDR_OK || rc == LDR_ECORRUPT);
        }
    }
    ldr_free(text);
    ldr_free(out);
}

TEST(crc32_check_value)
{
    CHECK_EQ_I64(ldr__pq_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    CHECK_EQ_I64(ldr__pq_crc32((const uint8_t *)"", 0), 0);
}

int main(void)
{
    RUN(names_and_support);
    RUN(roundtrip_every_codec);
    RUN(compression_levels);
    RUN(compress_appends_and_respects_limit);
    RUN(unsupported_codecs);
    RUN(uncompressed_size_mismatch);
    RUN(snappy_known_block);
    RUN(gzip_concatenated_members);
    RUN(lz4_hadoop_framing);
    RUN(lz4_raw_and_frame_fallbacks);
    RUN(zstd_frames);
    RUN(hostile_inputs_fail_cleanly);
    RUN(crc32_check_value);
    return harness_done();
}
