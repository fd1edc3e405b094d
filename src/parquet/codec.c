/*
 * codec.c -- Parquet page compression codecs over the system libraries: snappy (raw
 * blocks), zlib (gzip members), brotli, zstd (frames) and lz4 (raw blocks, Hadoop framing
 * and, for a few old writers, the LZ4 frame format). LZO is not supported (neither Arrow
 * C++ nor DuckDB read it).
 *
 * Decompression has one contract whatever the codec: the page header announces the
 * uncompressed size, the caller allocates exactly that, and the codec must fill it exactly
 * -- producing fewer bytes, wanting to produce more, or leaving input unread is
 * LDR_ECORRUPT with a short message (the reader adds file/column context). Every library
 * call is bounded by the caller's buffers, so hostile input never writes past dst.
 * Compression appends to a bounded ldr_buf. Pure functions: no I/O, no shared state;
 * thread-safe.
 */
#include "parquet/parquet_int.h"

#include <limits.h>
#include <string.h>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define GZIP_DEFAULT_LEVEL   6
#define BROTLI_DEFAULT_LEVEL 8 /* Arrow C++'s default: a good ratio at a usable speed */

bool ldr__pq_codec_supported(int codec)
{
    switch (codec) {
    case LDR__PQ_CODEC_UNCOMPRESSED:
    case LDR__PQ_CODEC_SNAPPY:
    case LDR__PQ_CODEC_GZIP:
    case LDR__PQ_CODEC_BROTLI:
    case LDR__PQ_CODEC_LZ4:
    case LDR__PQ_CODEC_ZSTD:
    case LDR__PQ_CODEC_LZ4_RAW:
        return true;
    default:
        return false;
    }
}

const char *ldr__pq_codec_name(int codec)
{
    switch (codec) {
    case LDR__PQ_CODEC_UNCOMPRESSED:
        return "UNCOMPRESSED";
    case LDR__PQ_CODEC_SNAPPY:
        return "SNAPPY";
    case LDR__PQ_CODEC_GZIP:
        return "GZIP";
    case LDR__PQ_CODEC_LZO:
        return "LZO";
    case LDR__PQ_CODEC_BROTLI:
        return "BROTLI";
    case LDR__PQ_CODEC_LZ4:
        return "LZ4";
    case LDR__PQ_CODEC_ZSTD:
        return "ZSTD";
    case LDR__PQ_CODEC_LZ4_RAW:
        return "LZ4_RAW";
    default:
        return "UNKNOWN";
    }
}

/* ---- decompression --------------------------------------------------------------------- */

static ldr_code size_mismatch(ldr_err *err, const char *codec, size_t got, size_t want)
{
    return ldr_err_setf(err, LDR_ECORRUPT, "%s data decompresses to %zu bytes, expected %zu", codec,
                        got, want);
}

static ldr_code snappy_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                              ldr_err *err)
{
    size_t n = 0;
    if (snappy_uncompressed_length((const char *)src, src_len, &n) != SNAPPY_OK)
        return ldr_err_setf(err, LDR_ECORRUPT, "corrupt SNAPPY data (bad length preamble)");
    if (n != dst_len)
        return size_mismatch(err, "SNAPPY", n, dst_len);
    size_t out = dst_len;
    if (snappy_uncompress((const char *)src, src_len, (char *)dst, &out) != SNAPPY_OK)
        return ldr_err_setf(err, LDR_ECORRUPT, "corrupt SNAPPY data");
    if (out != dst_len)
        return size_mismatch(err, "SNAPPY", out, dst_len);
    return LDR_OK;
}

/* One or more concatenated gzip members (RFC 1952), as parquet-mr's GzipCodec may write. */
static ldr_code gzip_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                            ldr_err *err)
{
    if (src_len > UINT_MAX || dst_len > UINT_MAX)
        return ldr_err_setf(err, LDR_ELIMIT, "GZIP page of more than 4 GiB");
    uint8_t none = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* 15 + 32: gzip or zlib header, detected */
        return ldr_err_setf(err, LDR_ENOMEM, "cannot initialise zlib");
    z.next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const-correct */
    z.avail_in = (uInt)src_len;
    z.next_out = dst_len ? dst : &none;
    z.avail_out = (uInt)dst_len;
    ldr_code rc = LDR_OK;
    for (;;) {
        int zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_OK)
            continue; /* progress was made */
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0)
                break;
            if (inflateReset(&z) != Z_OK) { /* the next member */
                rc = ldr_err_setf(err, LDR_ECORRUPT, "corrupt GZIP data");
                break;
            }
            continue;
        }
        if (zr == Z_BUF_ERROR && z.avail_out == 0)
            rc = ldr_err_setf(err, LDR_ECORRUPT, "GZIP data decompresses to more than %zu bytes",
                              dst_len);
        else if (zr == Z_BUF_ERROR)
            rc = ldr_err_setf(err, LDR_ECORRUPT, "truncated GZIP data");
        else
            rc = ldr_err_setf(err, LDR_ECORRUPT, "corrupt GZIP data: %s",
                              z.msg ? z.msg : "inflate failed");
        break;
    }
    size_t produced = dst_len - z.avail_out;
    inflateEnd(&z);
    if (rc == LDR_OK && produced != dst_len)
        rc = size_mismatch(err, "GZIP", produced, dst_len);
    return rc;
}

static ldr_code brotli_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                              ldr_err *err)
{
    BrotliDecoderState *s = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!s)
        return ldr_err_setf(err, LDR_ENOMEM, "cannot initialise brotli");
    uint8_t none = 0;
    const uint8_t *in = src;
    size_t in_left = src_len;
    uint8_t *out = dst_len ? dst : &none;
    size_t out_left = dst_len;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(s, &in_left, &in, &out_left, &out, NULL);
    ldr_code rc = LDR_OK;
    if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "BROTLI data decompresses to more than %zu bytes",
                          dst_len);
    else if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "truncated BROTLI data");
    else if (r != BROTLI_DECODER_RESULT_SUCCESS)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "corrupt BROTLI data: %s",
                          BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s)));
    else if (in_left != 0)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "%zu bytes of garbage after BROTLI data", in_left);
    else if (out_left != 0)
        rc = size_mismatch(err, "BROTLI", dst_len - out_left, dst_len);
    BrotliDecoderDestroyInstance(s);
    return rc;
}

/* ZSTD_decompress handles several frames, skippable frames and frames without a content
 * size; it never writes past dst_len (dstSize_tooSmall instead). */
static ldr_code zstd_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                            ldr_err *err)
{
    size_t n = ZSTD_decompress(dst, dst_len, src, src_len);
    if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
            return ldr_err_setf(err, LDR_ECORRUPT, "ZSTD data decompresses to more than %zu bytes",
                                dst_len);
        return ldr_err_setf(err, LDR_ECORRUPT, "corrupt ZSTD data: %s", ZSTD_getErrorName(n));
    }
    if (n != dst_len)
        return size_mismatch(err, "ZSTD", n, dst_len);
    return LDR_OK;
}

/* One raw LZ4 block that must decode to exactly dst_len bytes. Returns false otherwise. */
static bool lz4_block(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
    if (src_len > INT_MAX || dst_len > INT_MAX)
        return false;
    int n = LZ4_decompress_safe((const char *)src, (char *)dst, (int)src_len, (int)dst_len);
    return n >= 0 && (size_t)n == dst_len;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Hadoop's BlockCompressorStream framing: blocks of [u32 BE decompressed size] followed by
 * one or more [u32 BE compressed size][raw LZ4 chunk] until the block's size is reached.
 * True when the whole input parses that way and fills dst exactly. */
static bool lz4_hadoop(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
    size_t in = 0, out = 0;
    if (src_len < 8)
        return false;
    while (src_len - in >= 8) {
        size_t block = be32(src + in), done = 0;
        in += 4;
        if (block > dst_len - out)
            return false;
        do { /* at least one chunk, even for an empty block */
            if (src_len - in < 4)
                return false;
            size_t clen = be32(src + in);
            in += 4;
            if (clen > src_len - in || clen > INT_MAX || block > INT_MAX)
                return false;
            int n = LZ4_decompress_safe((const char *)src + in, (char *)dst + out + done, (int)clen,
                                        (int)(block - done));
            if (n < 0 || (n == 0 && block > done))
                return false;
            in += clen;
            done += (size_t)n;
        } while (done < block);
        out += block;
    }
    return in == src_len && out == dst_len;
}

/* The LZ4 frame format (magic 04 22 4D 18), written by a few old Parquet writers. */
static bool lz4_frame(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len)
{
    static const uint8_t magic[4] = {0x04, 0x22, 0x4D, 0x18};
    if (src_len < 4 || memcmp(src, magic, 4) != 0)
        return false;
    LZ4F_dctx *d = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return false;
    size_t in = 0, out = 0;
    bool ok = false;
    for (;;) {
        uint8_t none = 0;
        size_t in_n = src_len - in, out_n = dst_len - out;
        size_t hint = LZ4F_decompress(d, out_n ? dst + out : &none, &out_n, src + in, &in_n, NULL);
        if (LZ4F_isError(hint))
            break;
        in += in_n;
        out += out_n;
        if (hint == 0 && in < src_len) { /* end of a frame; another may follow */
            LZ4F_resetDecompressionContext(d);
            continue;
        }
        if (hint == 0 || (in_n == 0 && out_n == 0)) {
            ok = hint == 0 && in == src_len && out == dst_len;
            break;
        }
    }
    LZ4F_freeDecompressionContext(d);
    return ok;
}

/* Codec 5: Hadoop framing first (parquet-mr, Arrow >= 1.0), then the frame format, then a
 * bare block (parquet-cpp before Arrow 1.0), as Arrow and arrow-rs detect it. */
static ldr_code lz4_decode(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                           ldr_err *err)
{
    if (lz4_hadoop(src, src_len, dst, dst_len) || lz4_frame(src, src_len, dst, dst_len) ||
        lz4_block(src, src_len, dst, dst_len))
        return LDR_OK;
    return ldr_err_setf(err, LDR_ECORRUPT,
                        "corrupt LZ4 data (neither Hadoop-framed, framed nor a raw block of "
                        "%zu bytes)",
                        dst_len);
}

ldr_code ldr__pq_decompress(int codec, const uint8_t *src, size_t src_len, uint8_t *dst,
                            size_t dst_len, ldr_err *err)
{
    if (!ldr__pq_codec_supported(codec))
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "unsupported compression codec %s (%d)",
                            ldr__pq_codec_name(codec), codec);
    uint8_t none = 0;
    if (!dst) /* dst_len == 0: keep pointer arithmetic below defined */
        dst = &none;
    if (codec == LDR__PQ_CODEC_UNCOMPRESSED || (src_len == 0 && dst_len == 0)) {
        if (src_len != dst_len)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "uncompressed page of %zu bytes, header says %zu", src_len,
                                dst_len);
        if (src_len)
            memcpy(dst, src, src_len);
        return LDR_OK;
    }
    if (src_len == 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "empty %s data for %zu bytes",
                            ldr__pq_codec_name(codec), dst_len);
    switch (codec) {
    case LDR__PQ_CODEC_SNAPPY:
        return snappy_decode(src, src_len, dst, dst_len, err);
    case LDR__PQ_CODEC_GZIP:
        return gzip_decode(src, src_len, dst, dst_len, err);
    case LDR__PQ_CODEC_BROTLI:
        return brotli_decode(src, src_len, dst, dst_len, err);
    case LDR__PQ_CODEC_ZSTD:
        return zstd_decode(src, src_len, dst, dst_len, err);
    case LDR__PQ_CODEC_LZ4:
        return lz4_decode(src, src_len, dst, dst_len, err);
    default: /* LZ4_RAW */
        if (!lz4_block(src, src_len, dst, dst_len))
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "corrupt LZ4_RAW data (not a block of %zu bytes)", dst_len);
        return LDR_OK;
    }
}

/* ---- compression ----------------------------------------------------------------------- */

/* The libraries compress into a buffer of their worst-case size; ldr_buf has no way to lend
 * its tail, so the result is copied once (cheap next to compressing it). */
static ldr_code append_owned(ldr_buf *out, uint8_t *tmp, size_t len, ldr_err *err)
{
    ldr_code rc = ldr_buf_append(out, tmp, len, err);
    ldr_free(tmp);
    return rc;
}

static ldr_code snappy_encode(const uint8_t *src, size_t len, ldr_buf *out, ldr_err *err)
{
    size_t cap = snappy_max_compressed_length(len);
    uint8_t *tmp = ldr_xmalloc(cap);
    if (snappy_compress((const char *)src, len, (char *)tmp, &cap) != SNAPPY_OK) {
        ldr_free(tmp);
        return ldr_err_setf(err, LDR_EINVAL, "SNAPPY compression failed");
    }
    return append_owned(out, tmp, cap, err);
}

static ldr_code gzip_encode(const uint8_t *src, size_t len, int level, ldr_buf *out, ldr_err *err)
{
    if (len > UINT_MAX / 2)
        return ldr_err_setf(err, LDR_ELIMIT, "GZIP page of more than 2 GiB");
    if (level <= 0 || level > 9)
        level = GZIP_DEFAULT_LEVEL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ldr_err_setf(err, LDR_ENOMEM, "cannot initialise zlib");
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *tmp = ldr_xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)len;
    z.next_out = tmp;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        ldr_free(tmp);
        return ldr_err_setf(err, LDR_EINVAL, "GZIP compression failed");
    }
    return append_owned(out, tmp, n, err);
}

static ldr_code brotli_encode(const uint8_t *src, size_t len, int level, ldr_buf *out, ldr_err *err)
{
    if (level <= 0 || level > BROTLI_MAX_QUALITY)
        level = BROTLI_DEFAULT_LEVEL;
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0)
        return ldr_err_setf(err, LDR_ELIMIT, "BROTLI input of %zu bytes is too large", len);
    uint8_t *tmp = ldr_xmalloc(cap);
    if (!BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, len, src, &cap,
                               tmp)) {
        ldr_free(tmp);
        return ldr_err_setf(err, LDR_EINVAL, "BROTLI compression failed");
    }
    return append_owned(out, tmp, cap, err);
}

static ldr_code zstd_encode(const uint8_t *src, size_t len, int level, ldr_buf *out, ldr_err *err)
{
    size_t cap = ZSTD_compressBound(len);
    uint8_t *tmp = ldr_xmalloc(cap);
    size_t n = ZSTD_compress(tmp, cap, src, len, level);
    if (ZSTD_isError(n)) {
        ldr_free(tmp);
        return ldr_err_setf(err, LDR_EINVAL, "ZSTD compression failed: %s", ZSTD_getErrorName(n));
    }
    return append_owned(out, tmp, n, err);
}

static ldr_code lz4_encode(const uint8_t *src, size_t len, ldr_buf *out, ldr_err *err)
{
    if (len > LZ4_MAX_INPUT_SIZE)
        return ldr_err_setf(err, LDR_ELIMIT, "LZ4 input of %zu bytes is too large", len);
    int cap = LZ4_compressBound((int)len);
    uint8_t *tmp = ldr_xmalloc((size_t)cap);
    int n = LZ4_compress_default((const char *)src, (char *)tmp, (int)len, cap);
    if (n <= 0) {
        ldr_free(tmp);
        return ldr_err_setf(err, LDR_EINVAL, "LZ4 compression failed");
    }
    return append_owned(out, tmp, (size_t)n, err);
}

ldr_code ldr__pq_compress(int codec, const uint8_t *src, size_t len, int level, ldr_buf *out,
                          ldr_err *err)
{
    switch (codec) {
    case LDR__PQ_CODEC_UNCOMPRESSED:
        return ldr_buf_append(out, src, len, err);
    case LDR__PQ_CODEC_SNAPPY:
        return snappy_encode(src, len, out, err);
    case LDR__PQ_CODEC_GZIP:
        return gzip_encode(src, len, level, out, err);
    case LDR__PQ_CODEC_BROTLI:
        return brotli_encode(src, len, level, out, err);
    case LDR__PQ_CODEC_ZSTD:
        return zstd_encode(src, len, level, out, err);
    case LDR__PQ_CODEC_LZ4_RAW:
        return lz4_encode(src, len, out, err);
    default:
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "cannot write compression codec %s (%d)",
                            ldr__pq_codec_name(codec), codec);
    }
}

uint32_t ldr__pq_crc32(const uint8_t *p, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (len > 0) { /* crc32 takes a uInt length */
        uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}
