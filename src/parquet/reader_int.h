/*
 * reader_int.h -- the Parquet reader's internal structures, shared by meta.c (footer and
 * page-header parsing, schema resolution), source.c (memory mapping), encoding.c (level
 * decoding) and reader.c (page decoding and assembly). Private to src/parquet; nothing
 * outside includes it.
 *
 * An open reader holds the file bytes (mapped or caller-owned), and one arena with the
 * whole parsed footer: schema elements, leaves (one per column chunk), top-level column
 * specs (what Larder reads: a flat primitive or a LIST of primitives, with the conversion
 * to apply) and row groups with their chunk metadata. Statistics and names borrow from
 * the arena or the file bytes; both live until ldr_pq_reader_close. After open everything
 * here is read-only, which is what makes concurrent decoding of chunks safe.
 */
#ifndef LDR_PARQUET_READER_INT_H
#define LDR_PARQUET_READER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parquet/parquet.h"

/* Limits on untrusted sizes (documented in docs/parquet.md). */
#define LDR__PQ_MAX_FOOTER       (256u << 20) /* FileMetaData bytes */
#define LDR__PQ_MAX_PAGE_HEADER  (16u << 20)  /* one PageHeader */
#define LDR__PQ_MAX_PAGE_BYTES   (1u << 30)   /* uncompressed page size */
#define LDR__PQ_MAX_RATIO        1024u        /* uncompressed / compressed, above the floor */
#define LDR__PQ_RATIO_FLOOR      (16u << 20)  /* pages up to this size skip the ratio check */
#define LDR__PQ_MAX_PAGE_VALUES  (1u << 27)   /* level entries in one page */
#define LDR__PQ_LIST_RATIO       1024u        /* list entries per stored chunk byte, past rows */
#define LDR__PQ_MAX_SCHEMA_DEPTH 64

/* Physical types, repetitions and page types (Thrift enum values). */
enum {
    LDR__PQ_BOOLEAN = 0,
    LDR__PQ_INT32 = 1,
    LDR__PQ_INT64 = 2,
    LDR__PQ_INT96 = 3,
    LDR__PQ_FLOAT = 4,
    LDR__PQ_DOUBLE = 5,
    LDR__PQ_BYTE_ARRAY = 6,
    LDR__PQ_FLBA = 7,
};
enum { LDR__PQ_REQUIRED = 0, LDR__PQ_OPTIONAL = 1, LDR__PQ_REPEATED = 2 };
enum {
    LDR__PQ_PAGE_DATA = 0,
    LDR__PQ_PAGE_INDEX = 1,
    LDR__PQ_PAGE_DICT = 2,
    LDR__PQ_PAGE_DATA_V2 = 3,
};

/* A logical annotation, from LogicalType or else ConvertedType. */
typedef enum ldr__pq_ann {
    LDR__PQ_ANN_NONE = 0,
    LDR__PQ_ANN_STRING,
    LDR__PQ_ANN_ENUM,
    LDR__PQ_ANN_JSON,
    LDR__PQ_ANN_BSON,
    LDR__PQ_ANN_UUID,
    LDR__PQ_ANN_FLOAT16,
    LDR__PQ_ANN_DECIMAL,
    LDR__PQ_ANN_DATE,
    LDR__PQ_ANN_TIME,
    LDR__PQ_ANN_TIMESTAMP,
    LDR__PQ_ANN_INT,
    LDR__PQ_ANN_INTERVAL,
    LDR__PQ_ANN_NULL, /* LogicalType UNKNOWN: always null */
    LDR__PQ_ANN_LIST,
    LDR__PQ_ANN_MAP,
    LDR__PQ_ANN_VARIANT,
    LDR__PQ_ANN_GEOMETRY,
    LDR__PQ_ANN_GEOGRAPHY,
    LDR__PQ_ANN_OTHER, /* a LogicalType member this reader does not know */
} ldr__pq_ann;

enum { LDR__PQ_UNIT_MILLIS = 0, LDR__PQ_UNIT_MICROS = 1, LDR__PQ_UNIT_NANOS = 2 };

typedef struct ldr__pq_logical {
    ldr__pq_ann ann;
    int unit; /* LDR__PQ_UNIT_*, or -1 when unknown (TIME, TIMESTAMP) */
    bool utc;
    int bit_width; /* INT */
    bool is_signed;
    int32_t scale, precision; /* DECIMAL */
} ldr__pq_logical;

typedef struct ldr__pq_schema_el {
    const char *name; /* arena */
    int32_t type;     /* physical type; valid when has_type */
    bool has_type;
    int32_t type_length;
    int32_t repetition;
    bool has_repetition;
    int32_t num_children;
    int32_t converted;
    bool has_converted;
    int32_t scale, precision;
    bool has_logical;
    ldr__pq_logical logical; /* as written in LogicalType */
} ldr__pq_schema_el;

typedef struct ldr__pq_bytes {
    const uint8_t *ptr; /* borrowed from the file */
    size_t len;
    bool set;
} ldr__pq_bytes;

typedef struct ldr__pq_stats {
    ldr__pq_bytes min_value, max_value; /* ColumnOrder-defined bounds */
    ldr__pq_bytes min, max;             /* deprecated, signed order */
    bool has_null_count;
    int64_t null_count;
} ldr__pq_stats;

typedef struct ldr__pq_chunk {
    int32_t type;
    int32_t codec;
    int64_t num_values;
    int64_t total_compressed;
    int64_t data_page_offset;
    int64_t dict_page_offset;
    bool has_dict_offset;
    bool has_stats;
    ldr__pq_stats stats;
    const char *path; /* path_in_schema joined with '.', or NULL when absent */
    bool external;    /* file_path set: the data lives in another file */
    bool encrypted;
} ldr__pq_chunk;

typedef struct ldr__pq_rowgroup {
    int64_t num_rows;
    ldr__pq_chunk *chunks;
    size_t n_chunks;
} ldr__pq_rowgroup;

typedef struct ldr__pq_leaf {
    size_t el;        /* schema element */
    const char *path; /* "tags.list.element" */
    unsigned max_def; /* optional and repeated nodes on the path */
    unsigned max_rep; /* repeated nodes on the path */
    unsigned rep_def; /* definition level of the repeated node (lists) */
    int column_order; /* 0 absent, 1 TYPE_ORDER, 2 IEEE_754, 3 INT96, -1 unknown */
} ldr__pq_leaf;

/* How a leaf's physical values become Larder values. */
typedef enum ldr__pq_conv {
    LDR__PQ_CONV_BOOL,
    LDR__PQ_CONV_I32, /* INT32 -> Int32 (INT(8/16/32) signed, UINT(8/16)) */
    LDR__PQ_CONV_U32, /* INT32 UINT(32) -> Int64 */
    LDR__PQ_CONV_I64, /* INT64 -> Int64 */
    LDR__PQ_CONV_U64, /* INT64 UINT(64) -> Int64; values above INT64_MAX fail */
    LDR__PQ_CONV_F32,
    LDR__PQ_CONV_F64,
    LDR__PQ_CONV_F16,   /* FLBA(2) FLOAT16 -> Float32 */
    LDR__PQ_CONV_DATE,  /* INT32 days -> UnixTimestamp at midnight UTC */
    LDR__PQ_CONV_TS_MS, /* INT64 TIMESTAMP -> UnixTimestamp */
    LDR__PQ_CONV_TS_US,
    LDR__PQ_CONV_TS_NS,
    LDR__PQ_CONV_INT96,   /* INT96 (nanos of day, Julian day) -> UnixTimestamp */
    LDR__PQ_CONV_TIME_MS, /* TIME -> Int64 microseconds since midnight */
    LDR__PQ_CONV_TIME_US,
    LDR__PQ_CONV_TIME_NS,
    LDR__PQ_CONV_DEC_I32, /* DECIMAL -> Float64 */
    LDR__PQ_CONV_DEC_I64,
    LDR__PQ_CONV_DEC_BE, /* DECIMAL in FLBA / BYTE_ARRAY (big-endian two's complement) */
    LDR__PQ_CONV_BYTES,  /* BYTE_ARRAY / FLBA -> String or Bytes */
} ldr__pq_conv;

/* Sort order of a leaf's statistics. */
enum { LDR__PQ_ORDER_UNDEFINED = 0, LDR__PQ_ORDER_SIGNED, LDR__PQ_ORDER_UNSIGNED };

/* One top-level column. */
typedef struct ldr__pq_colspec {
    ldr_pq_column_info info; /* strings in the reader's arena */
    size_t leaf;             /* its first leaf */
    size_t n_leaves;
    bool is_list;  /* Array(elem), from a LIST group or a repeated primitive */
    ldr_type elem; /* scalar type (of the elements for lists) */
    ldr__pq_conv conv;
    int32_t phys;
    int32_t type_length;
    int32_t scale; /* DECIMAL */
    int order;     /* LDR__PQ_ORDER_* */
} ldr__pq_colspec;

struct ldr_pq_reader {
    char *name;          /* for messages; owned */
    const uint8_t *data; /* the whole file */
    size_t len;
    size_t data_end; /* start of the footer: column chunks lie in [4, data_end) */
    bool mapped;     /* data is our mmap (unmap on close) */
    ldr_arena arena; /* everything parsed from the footer */

    int32_t version;
    int64_t num_rows;
    const char *created_by;  /* "" when absent */
    bool v2_flag_unreliable; /* parquet-cpp < 2.0 wrote is_compressed=false wrongly */

    ldr__pq_schema_el *schema;
    size_t n_schema;
    ldr__pq_rowgroup *rgs;
    size_t n_rgs;
    int *col_orders; /* per leaf, when the footer has column_orders */
    size_t n_col_orders;

    ldr__pq_leaf *leaves;
    size_t n_leaves;
    ldr__pq_colspec *cols;
    size_t n_cols;
};

/* A decoded PageHeader. Sub-header fields are valid for the page's type only. */
typedef struct ldr__pq_page {
    int32_t type;
    int32_t uncompressed_size;
    int32_t compressed_size;
    bool has_crc;
    uint32_t crc;
    /* DATA_PAGE, DICTIONARY_PAGE (num_values, encoding), DATA_PAGE_V2 */
    int32_t num_values;
    int32_t encoding;
    int32_t def_encoding; /* v1 */
    int32_t rep_encoding; /* v1 */
    int32_t num_nulls;    /* v2 */
    int32_t num_rows;     /* v2 */
    int32_t def_len;      /* v2 */
    int32_t rep_len;      /* v2 */
    bool is_compressed;   /* v2, default true */
} ldr__pq_page;

/* ---- meta.c ----------------------------------------------------------------------------- */

/**
 * Parses FileMetaData from p[0..len) into r (allocating from r->arena), resolves the
 * schema into leaves and top-level column specs, and validates the row groups against it.
 * Errors (LDR_ECORRUPT, LDR_EUNSUPPORTED for encryption) carry no file-name prefix.
 */
LDR_MUST_USE ldr_code ldr__pq_meta_parse(ldr_pq_reader *r, const uint8_t *p, size_t len,
                                         ldr_err *err);
/** Parses one PageHeader at p[0..len); *out_hlen receives its encoded length. */
LDR_MUST_USE ldr_code ldr__pq_page_parse(const uint8_t *p, size_t len, ldr__pq_page *out,
                                         size_t *out_hlen, ldr_err *err);
/** Static names for messages ("INT64", "RLE_DICTIONARY"; "UNKNOWN" otherwise). */
const char *ldr__pq_type_name(int32_t type);
const char *ldr__pq_encoding_name(int32_t enc);

/* ---- encoding.c (levels) ---------------------------------------------------------------- */

/**
 * Definition or repetition levels in the RLE / bit-packing hybrid (no length prefix):
 * decodes exactly n levels of bit width bit_width(max) from p[0..len) into out, one byte
 * each. A level above max is LDR_ECORRUPT ("<what> level L exceeds the maximum M").
 * *out_n_max receives how many levels equal max (for definition levels: the present
 * values), *consumed the bytes used. When every level equals max (*out_n_max == n), out
 * may be left unwritten: the common page without nulls costs no per-level work.
 */
LDR_MUST_USE ldr_code ldr__pq_levels_decode(const uint8_t *p, size_t len, unsigned max,
                                            const char *what, uint8_t *out, size_t n,
                                            size_t *out_n_max, size_t *consumed, ldr_err *err);

/* ---- source.c --------------------------------------------------------------------------- */

/** Maps a whole file read-only (MAP_PRIVATE). Empty files give len 0 and data NULL. */
LDR_MUST_USE ldr_code ldr__pq_source_map(const char *path, const uint8_t **out_data,
                                         size_t *out_len, ldr_err *err);
void ldr__pq_source_unmap(const uint8_t *data, size_t len);
/** Releases the mapped pages wholly inside [p, p + len) once decoded (madvise DONTNEED);
 * only for readers whose data is our own mapping. */
void ldr__pq_source_release(const uint8_t *p, size_t len);

#endif /* LDR_PARQUET_READER_INT_H */
