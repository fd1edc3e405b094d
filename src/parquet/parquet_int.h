/*
 * parquet_int.h -- internals shared among src/parquet files only: compression codecs
 * (codec.c) and value encodings (encoding.c), used by the reader (reader.c) and the
 * writer (writer.c). Nothing outside src/parquet includes this.
 *
 * All functions here are pure functions over byte buffers: they never read past `len`,
 * never allocate from a size they did not check against the input, and report problems
 * with LDR_ECORRUPT and a short message without file/column context ("RLE run of 70000
 * values overflows the 1000 expected") -- the reader prefixes "FILE: column X, row group
 * N: ". Codes of codecs and encodings are Parquet's Thrift enum values.
 */
#ifndef LDR_PARQUET_PARQUET_INT_H
#define LDR_PARQUET_PARQUET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "col/col.h"
#include "core/core.h"

/* Thrift CompressionCodec values. */
enum {
    LDR__PQ_CODEC_UNCOMPRESSED = 0,
    LDR__PQ_CODEC_SNAPPY = 1,
    LDR__PQ_CODEC_GZIP = 2,
    LDR__PQ_CODEC_LZO = 3,
    LDR__PQ_CODEC_BROTLI = 4,
    LDR__PQ_CODEC_LZ4 = 5, /* Hadoop-framed LZ4 (or raw LZ4 from old writers: try both) */
    LDR__PQ_CODEC_ZSTD = 6,
    LDR__PQ_CODEC_LZ4_RAW = 7,
};

/* Thrift Encoding values. */
enum {
    LDR__PQ_ENC_PLAIN = 0,
    LDR__PQ_ENC_PLAIN_DICTIONARY = 2,
    LDR__PQ_ENC_RLE = 3,
    LDR__PQ_ENC_BIT_PACKED = 4,
    LDR__PQ_ENC_DELTA_BINARY_PACKED = 5,
    LDR__PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    LDR__PQ_ENC_DELTA_BYTE_ARRAY = 7,
    LDR__PQ_ENC_RLE_DICTIONARY = 8,
    LDR__PQ_ENC_BYTE_STREAM_SPLIT = 9,
};

/* ---- codecs (codec.c) ------------------------------------------------------------------ */

/** True when the codec can be decompressed (UNCOMPRESSED, SNAPPY, GZIP incl. concatenated
 * members, BROTLI, LZ4 (Hadoop framing, falling back to raw), ZSTD, LZ4_RAW). */
bool ldr__pq_codec_supported(int codec);
/** Static name ("SNAPPY", "UNKNOWN(9)" via a static buffer is not allowed: unknown codes
 * give "UNKNOWN"). */
const char *ldr__pq_codec_name(int codec);

/**
 * Decompresses src[0..src_len) into dst[0..dst_len), where dst_len is the page header's
 * uncompressed size; the output must fill dst exactly (LDR_ECORRUPT otherwise: too
 * short, too long, or malformed input). Unsupported codecs give LDR_EUNSUPPORTED.
 */
LDR_MUST_USE ldr_code ldr__pq_decompress(int codec, const uint8_t *src, size_t src_len,
                                         uint8_t *dst, size_t dst_len, ldr_err *err);
/** Compresses src and appends the result to out. level is used by ZSTD, GZIP, BROTLI. */
LDR_MUST_USE ldr_code ldr__pq_compress(int codec, const uint8_t *src, size_t len, int level,
                                       ldr_buf *out, ldr_err *err);

/* ---- encodings (encoding.c) ------------------------------------------------------------ */

/**
 * RLE / bit-packing hybrid (levels, dictionary indices, RLE booleans), without a length
 * prefix: decodes exactly n values of bit_width (0..32) from p[0..len) into out.
 * *consumed receives the bytes used. Runs that would overflow n are an error; a final
 * bit-packed group may be padded past n.
 */
LDR_MUST_USE ldr_code ldr__pq_rle_decode(const uint8_t *p, size_t len, unsigned bit_width,
                                         uint32_t *out, size_t n, size_t *consumed, ldr_err *err);
/** Appends the hybrid encoding of v[0..n) (no length prefix). */
LDR_MUST_USE ldr_code ldr__pq_rle_encode(const uint32_t *v, size_t n, unsigned bit_width,
                                         ldr_buf *out, ldr_err *err);
/** Deprecated BIT_PACKED levels (MSB-first), exactly n values. */
LDR_MUST_USE ldr_code ldr__pq_bitpacked_decode(const uint8_t *p, size_t len, unsigned bit_width,
                                               uint32_t *out, size_t n, size_t *consumed,
                                               ldr_err *err);

/** DELTA_BINARY_PACKED: decodes up to n values (the header's total count must be >= n;
 * fewer is an error) as int64 (INT32 columns narrow afterwards, wrapping as Parquet's
 * two's-complement arithmetic requires). */
LDR_MUST_USE ldr_code ldr__pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t n,
                                           size_t *consumed, ldr_err *err);
LDR_MUST_USE ldr_code ldr__pq_delta_encode(const int64_t *v, size_t n, ldr_buf *out, ldr_err *err);

/** DELTA_LENGTH_BYTE_ARRAY: appends n values to a String/Bytes column (no nulls: the
 * caller places nulls). */
LDR_MUST_USE ldr_code ldr__pq_delta_length_decode(const uint8_t *p, size_t len, size_t n,
                                                  ldr_col *out, size_t *consumed, ldr_err *err);
/** DELTA_BYTE_ARRAY (front coding): appends n values to a String/Bytes column. */
LDR_MUST_USE ldr_code ldr__pq_delta_byte_array_decode(const uint8_t *p, size_t len, size_t n,
                                                      ldr_col *out, size_t *consumed, ldr_err *err);
/** BYTE_STREAM_SPLIT: n values of `width` bytes each into out (n * width bytes). */
LDR_MUST_USE ldr_code ldr__pq_byte_stream_split_decode(const uint8_t *p, size_t len, size_t width,
                                                       size_t n, uint8_t *out, ldr_err *err);

/** CRC-32 (the zlib/IEEE polynomial) used by page checksums. */
uint32_t ldr__pq_crc32(const uint8_t *p, size_t len);

#endif /* LDR_PARQUET_PARQUET_INT_H */
