/*
 * meta.c -- Parquet metadata: FileMetaData (schema, row groups, column chunks,
 * statistics, column orders) and PageHeader decoding on top of thrift.c, and the schema
 * resolution that turns Parquet's flattened schema tree into Larder's top-level columns.
 *
 * Decoding keeps what the reader needs in the structs of reader_int.h, allocated from
 * the reader's arena (strings copied; statistics borrowed from the file bytes), skips
 * everything else, and reports missing required fields. Resolution walks the tree once
 * (depth-limited, every num_children consumed exactly), computes each leaf's maximum
 * definition and repetition levels, then classifies every top-level field: a primitive,
 * a LIST of primitives (3-level and legacy 2-level shapes, or a bare repeated primitive),
 * or something Larder does not read (structs, maps, nested lists), which stays listed
 * with an `unsupported` reason so the other columns remain readable. Row groups are then
 * checked against the leaves (counts, types, paths, row totals).
 * Annotation precedence: a recognised LogicalType, else ConvertedType, else physical.
 */
#include "parquet/reader_int.h"

#include <inttypes.h>
#include <string.h>

#include "parquet/parquet_int.h"
#include "parquet/thrift.h"

/* ---- names --------------------------------------------------------------------------- */

const char *ldr__pq_type_name(int32_t type)
{
    static const char *const names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                        "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && (size_t)type < LDR_ARRAY_LEN(names) ? names[type] : "UNKNOWN";
}

const char *ldr__pq_encoding_name(int32_t enc)
{
    static const char *const names[] = {"PLAIN",
                                        "GROUP_VAR_INT",
                                        "PLAIN_DICTIONARY",
                                        "RLE",
                                        "BIT_PACKED",
                                        "DELTA_BINARY_PACKED",
                                        "DELTA_LENGTH_BYTE_ARRAY",
                                        "DELTA_BYTE_ARRAY",
                                        "RLE_DICTIONARY",
                                        "BYTE_STREAM_SPLIT",
                                        "ALP"};
    return enc >= 0 && (size_t)enc < LDR_ARRAY_LEN(names) ? names[enc] : "UNKNOWN";
}

static ldr_code missing(ldr_err *err, const char *st, const char *field)
{
    return ldr_err_setf(err, LDR_ECORRUPT, "%s is missing required field '%s'", st, field);
}

/* The loop shared by every struct parser: `body` handles field `id` of wire type `ty`
 * (skipping what it does not know) and sets rc. */
#define FOR_EACH_FIELD(t, id, ty, rc, err)                                        \
    for (int16_t last_ = 0;                                                       \
         (rc) == LDR_OK &&                                                        \
         ((rc) = ldr__pq_tr_field((t), &last_, &(id), &(ty), (err))) == LDR_OK && \
         (ty) != LDR__PQ_T_STOP;)

/* ---- LogicalType ---------------------------------------------------------------------- */

/* TimeUnit union: 1 MILLIS, 2 MICROS, 3 NANOS (empty structs). */
static ldr_code parse_time_unit(ldr__pq_tr *t, int *unit, ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    *unit = -1;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (ty == LDR__PQ_T_STRUCT && id >= 1 && id <= 3)
            *unit = id - 1;
        rc = ldr__pq_tr_skip(t, ty, err);
    }
    ldr__pq_tr_struct_end(t);
    return rc;
}

/* TIME / TIMESTAMP: 1 isAdjustedToUTC bool, 2 unit TimeUnit. */
static ldr_code parse_time_type(ldr__pq_tr *t, ldr__pq_logical *lg, ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool got = false;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (id == 1)
            rc = ldr__pq_tr_bool(t, ty, &lg->utc, &got, err);
        else if (id == 2 && ty == LDR__PQ_T_STRUCT)
            rc = parse_time_unit(t, &lg->unit, err);
        else
            rc = ldr__pq_tr_skip(t, ty, err);
    }
    ldr__pq_tr_struct_end(t);
    return rc;
}

/* DECIMAL: 1 scale, 2 precision; INTEGER: 1 bitWidth (i8), 2 isSigned. */
static ldr_code parse_params(ldr__pq_tr *t, ldr__pq_logical *lg, bool integer, ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool got1 = false, got2 = false;
    int8_t width = 0;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (id == 1 && integer)
            rc = ldr__pq_tr_i8(t, ty, &width, &got1, err);
        else if (id == 1)
            rc = ldr__pq_tr_i32(t, ty, &lg->scale, &got1, err);
        else if (id == 2 && integer)
            rc = ldr__pq_tr_bool(t, ty, &lg->is_signed, &got2, err);
        else if (id == 2)
            rc = ldr__pq_tr_i32(t, ty, &lg->precision, &got2, err);
        else
            rc = ldr__pq_tr_skip(t, ty, err);
    }
    ldr__pq_tr_struct_end(t);
    if (rc == LDR_OK && (!got1 || !got2))
        return missing(err, integer ? "IntType" : "DecimalType",
                       !got1 ? (integer ? "bitWidth" : "scale")
                             : (integer ? "isSigned" : "precision"));
    lg->bit_width = width;
    return rc;
}

static ldr__pq_ann simple_member(int16_t id)
{
    switch (id) {
    case 1:
        return LDR__PQ_ANN_STRING;
    case 2:
        return LDR__PQ_ANN_MAP;
    case 3:
        return LDR__PQ_ANN_LIST;
    case 4:
        return LDR__PQ_ANN_ENUM;
    case 6:
        return LDR__PQ_ANN_DATE;
    case 11:
        return LDR__PQ_ANN_NULL;
    case 12:
        return LDR__PQ_ANN_JSON;
    case 13:
        return LDR__PQ_ANN_BSON;
    case 14:
        return LDR__PQ_ANN_UUID;
    case 15:
        return LDR__PQ_ANN_FLOAT16;
    case 16:
        return LDR__PQ_ANN_VARIANT;
    case 17:
        return LDR__PQ_ANN_GEOMETRY;
    case 18:
        return LDR__PQ_ANN_GEOGRAPHY;
    default:
        return LDR__PQ_ANN_OTHER;
    }
}

/* The LogicalType union. An unknown member leaves ann = OTHER (the column then reads by
 * its ConvertedType or physical type). */
static ldr_code parse_logical(ldr__pq_tr *t, ldr__pq_logical *lg, ldr_err *err)
{
    memset(lg, 0, sizeof *lg);
    lg->ann = LDR__PQ_ANN_OTHER;
    lg->unit = -1;
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (ty != LDR__PQ_T_STRUCT) {
            rc = ldr__pq_tr_skip(t, ty, err);
        } else if (id == 5) {
            lg->ann = LDR__PQ_ANN_DECIMAL;
            rc = parse_params(t, lg, false, err);
        } else if (id == 7 || id == 8) {
            lg->ann = id == 7 ? LDR__PQ_ANN_TIME : LDR__PQ_ANN_TIMESTAMP;
            rc = parse_time_type(t, lg, err);
        } else if (id == 10) {
            lg->ann = LDR__PQ_ANN_INT;
            rc = parse_params(t, lg, true, err);
        } else {
            ldr__pq_ann a = simple_member(id);
            if (a != LDR__PQ_ANN_OTHER)
                lg->ann = a;
            rc = ldr__pq_tr_skip(t, ty, err);
        }
    }
    ldr__pq_tr_struct_end(t);
    return rc;
}

/* ---- SchemaElement -------------------------------------------------------------------- */

static ldr_code parse_schema_el(ldr__pq_tr *t, ldr_arena *a, ldr__pq_schema_el *el, ldr_err *err)
{
    memset(el, 0, sizeof *el);
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool has_name = false, dummy = false;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        switch (id) {
        case 1:
            rc = ldr__pq_tr_i32(t, ty, &el->type, &el->has_type, err);
            break;
        case 2:
            rc = ldr__pq_tr_i32(t, ty, &el->type_length, &dummy, err);
            break;
        case 3:
            rc = ldr__pq_tr_i32(t, ty, &el->repetition, &el->has_repetition, err);
            break;
        case 4:
            rc = ldr__pq_tr_binary(t, ty, &name, &name_len, &has_name, err);
            break;
        case 5:
            rc = ldr__pq_tr_i32(t, ty, &el->num_children, &dummy, err);
            break;
        case 6:
            rc = ldr__pq_tr_i32(t, ty, &el->converted, &el->has_converted, err);
            break;
        case 7:
            rc = ldr__pq_tr_i32(t, ty, &el->scale, &dummy, err);
            break;
        case 8:
            rc = ldr__pq_tr_i32(t, ty, &el->precision, &dummy, err);
            break;
        case 10:
            if (ty == LDR__PQ_T_STRUCT) {
                el->has_logical = true;
                rc = parse_logical(t, &el->logical, err);
            } else {
                rc = ldr__pq_tr_skip(t, ty, err);
            }
            break;
        default:
            rc = ldr__pq_tr_skip(t, ty, err);
            break;
        }
    }
    ldr__pq_tr_struct_end(t);
    if (rc != LDR_OK)
        return rc;
    if (!has_name)
        return missing(err, "SchemaElement", "name");
    el->name = ldr_arena_strndup(a, (const char *)name, name_len);
    return LDR_OK;
}

/* ---- Statistics, ColumnMetaData, ColumnChunk, RowGroup -------------------------------- */

static ldr_code parse_bytes(ldr__pq_tr *t, unsigned ty, ldr__pq_bytes *b, ldr_err *err)
{
    return ldr__pq_tr_binary(t, ty, &b->ptr, &b->len, &b->set, err);
}

static ldr_code parse_stats(ldr__pq_tr *t, ldr__pq_stats *s, ldr_err *err)
{
    memset(s, 0, sizeof *s);
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        switch (id) {
        case 1:
            rc = parse_bytes(t, ty, &s->max, err);
            break;
        case 2:
            rc = parse_bytes(t, ty, &s->min, err);
            break;
        case 3:
            rc = ldr__pq_tr_i64(t, ty, &s->null_count, &s->has_null_count, err);
            break;
        case 5:
            rc = parse_bytes(t, ty, &s->max_value, err);
            break;
        case 6:
            rc = parse_bytes(t, ty, &s->min_value, err);
            break;
        default:
            rc = ldr__pq_tr_skip(t, ty, err);
            break;
        }
    }
    ldr__pq_tr_struct_end(t);
    return rc;
}

/* path_in_schema: list<string>, joined with '.' into the arena. */
static ldr_code parse_path(ldr__pq_tr *t, unsigned ty, ldr_arena *a, const char **out, ldr_err *err)
{
    size_t n = 0;
    bool got = false;
    ldr_code rc = ldr__pq_tr_list(t, ty, LDR__PQ_T_BINARY, &n, &got, err);
    if (rc != LDR_OK || !got)
        return rc;
    ldr_buf b;
    ldr_buf_init(&b, LDR__PQ_MAX_FOOTER);
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        const uint8_t *s;
        size_t len;
        rc = ldr__pq_tr_elem_binary(t, &s, &len, err);
        if (rc == LDR_OK && i > 0)
            rc = ldr_buf_putc(&b, '.', err);
        if (rc == LDR_OK)
            rc = ldr_buf_append(&b, s, len, err);
    }
    ldr__pq_tr_list_end(t);
    if (rc == LDR_OK)
        *out = ldr_arena_strndup(a, ldr_buf_cstr(&b), b.len);
    ldr_buf_fini(&b);
    return rc;
}

enum {
    CM_TYPE = 1 << 0,
    CM_CODEC = 1 << 1,
    CM_NUM_VALUES = 1 << 2,
    CM_TOTAL_COMPRESSED = 1 << 3,
    CM_DATA_PAGE = 1 << 4,
};

static ldr_code parse_col_meta(ldr__pq_tr *t, ldr_arena *a, ldr__pq_chunk *c, ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool got[16] = {false};
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        switch (id) {
        case 1:
            rc = ldr__pq_tr_i32(t, ty, &c->type, &got[1], err);
            break;
        case 3:
            rc = parse_path(t, ty, a, &c->path, err);
            break;
        case 4:
            rc = ldr__pq_tr_i32(t, ty, &c->codec, &got[4], err);
            break;
        case 5:
            rc = ldr__pq_tr_i64(t, ty, &c->num_values, &got[5], err);
            break;
        case 7:
            rc = ldr__pq_tr_i64(t, ty, &c->total_compressed, &got[7], err);
            break;
        case 9:
            rc = ldr__pq_tr_i64(t, ty, &c->data_page_offset, &got[9], err);
            break;
        case 11:
            rc = ldr__pq_tr_i64(t, ty, &c->dict_page_offset, &c->has_dict_offset, err);
            break;
        case 12:
            if (ty == LDR__PQ_T_STRUCT) {
                c->has_stats = true;
                rc = parse_stats(t, &c->stats, err);
            } else {
                rc = ldr__pq_tr_skip(t, ty, err);
            }
            break;
        default:
            rc = ldr__pq_tr_skip(t, ty, err);
            break;
        }
    }
    ldr__pq_tr_struct_end(t);
    if (rc != LDR_OK)
        return rc;
    static const struct {
        int id;
        const char *name;
    } req[] = {{1, "type"},
               {4, "codec"},
               {5, "num_values"},
               {7, "total_compressed_size"},
               {9, "data_page_offset"}};
    for (size_t i = 0; i < LDR_ARRAY_LEN(req); i++)
        if (!got[req[i].id])
            return missing(err, "ColumnMetaData", req[i].name);
    return LDR_OK;
}

static ldr_code parse_chunk(ldr__pq_tr *t, ldr_arena *a, ldr__pq_chunk *c, ldr_err *err)
{
    memset(c, 0, sizeof *c);
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool has_meta = false;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (id == 1 && ty == LDR__PQ_T_BINARY)
            c->external = true;
        if ((id == 8 || id == 9) && ty != LDR__PQ_T_STOP)
            c->encrypted = true;
        if (id == 3 && ty == LDR__PQ_T_STRUCT) {
            has_meta = true;
            rc = parse_col_meta(t, a, c, err);
        } else {
            rc = ldr__pq_tr_skip(t, ty, err);
        }
    }
    ldr__pq_tr_struct_end(t);
    if (rc == LDR_OK && !has_meta && !c->encrypted)
        return missing(err, "ColumnChunk", "meta_data");
    return rc;
}

static ldr_code parse_row_group(ldr__pq_tr *t, ldr_arena *a, ldr__pq_rowgroup *g, ldr_err *err)
{
    memset(g, 0, sizeof *g);
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool has_cols = false, has_rows = false;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (id == 1) {
            size_t n = 0;
            bool got = false;
            rc = ldr__pq_tr_list(t, ty, LDR__PQ_T_STRUCT, &n, &got, err);
            if (rc != LDR_OK || !got)
                continue;
            has_cols = true;
            g->chunks = ldr_arena_calloc(a, n ? n : 1, sizeof *g->chunks);
            g->n_chunks = n;
            for (size_t i = 0; i < n && rc == LDR_OK; i++)
                rc = parse_chunk(t, a, &g->chunks[i], err);
            ldr__pq_tr_list_end(t);
        } else if (id == 3) {
            rc = ldr__pq_tr_i64(t, ty, &g->num_rows, &has_rows, err);
        } else {
            rc = ldr__pq_tr_skip(t, ty, err);
        }
    }
    ldr__pq_tr_struct_end(t);
    if (rc == LDR_OK && !has_cols)
        return missing(err, "RowGroup", "columns");
    if (rc == LDR_OK && !has_rows)
        return missing(err, "RowGroup", "num_rows");
    return rc;
}

/* ---- FileMetaData ------------------------------------------------------------------------ */

/* ColumnOrder union: 1 TYPE_ORDER, 2 IEEE_754_TOTAL_ORDER, 3 INT96_TIMESTAMP_ORDER. */
static ldr_code parse_column_order(ldr__pq_tr *t, int *out, ldr_err *err)
{
    *out = -1;
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        if (ty == LDR__PQ_T_STRUCT && id >= 1 && id <= 3)
            *out = id;
        rc = ldr__pq_tr_skip(t, ty, err);
    }
    ldr__pq_tr_struct_end(t);
    return rc;
}

/* A list<struct> field parsed element by element into an arena array. */
typedef ldr_code (*elem_fn)(ldr__pq_tr *t, ldr_arena *a, void *item, ldr_err *err);

static ldr_code parse_struct_list(ldr__pq_tr *t, unsigned ty, ldr_arena *a, size_t size, elem_fn fn,
                                  void **out, size_t *out_n, bool *got, ldr_err *err)
{
    size_t n = 0;
    bool here = false; /* *got may already be set by an earlier field with this id */
    ldr_code rc = ldr__pq_tr_list(t, ty, LDR__PQ_T_STRUCT, &n, &here, err);
    if (rc != LDR_OK || !here)
        return rc;
    *got = true;
    char *items = ldr_arena_calloc(a, n ? n : 1, size);
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        rc = fn(t, a, items + i * size, err);
    ldr__pq_tr_list_end(t);
    *out = items;
    *out_n = n;
    return rc;
}

static ldr_code schema_el_fn(ldr__pq_tr *t, ldr_arena *a, void *item, ldr_err *err)
{
    return parse_schema_el(t, a, item, err);
}

static ldr_code row_group_fn(ldr__pq_tr *t, ldr_arena *a, void *item, ldr_err *err)
{
    return parse_row_group(t, a, item, err);
}

static ldr_code column_order_fn(ldr__pq_tr *t, ldr_arena *a, void *item, ldr_err *err)
{
    (void)a;
    return parse_column_order(t, item, err);
}

static ldr_code parse_file_meta(ldr_pq_reader *r, ldr__pq_tr *t, bool *encrypted, ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool has_version = false, has_schema = false, has_rows = false, has_rgs = false;
    bool has_orders = false, has_by = false;
    const uint8_t *by = NULL;
    size_t by_len = 0;
    void *schema = NULL, *rgs = NULL, *orders = NULL;
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        switch (id) {
        case 1:
            rc = ldr__pq_tr_i32(t, ty, &r->version, &has_version, err);
            break;
        case 2:
            rc = parse_struct_list(t, ty, &r->arena, sizeof(ldr__pq_schema_el), schema_el_fn,
                                   &schema, &r->n_schema, &has_schema, err);
            break;
        case 3:
            rc = ldr__pq_tr_i64(t, ty, &r->num_rows, &has_rows, err);
            break;
        case 4:
            rc = parse_struct_list(t, ty, &r->arena, sizeof(ldr__pq_rowgroup), row_group_fn, &rgs,
                                   &r->n_rgs, &has_rgs, err);
            break;
        case 6:
            rc = ldr__pq_tr_binary(t, ty, &by, &by_len, &has_by, err);
            break;
        case 7:
            rc = parse_struct_list(t, ty, &r->arena, sizeof(int), column_order_fn, &orders,
                                   &r->n_col_orders, &has_orders, err);
            break;
        case 8:
            *encrypted = true;
            rc = ldr__pq_tr_skip(t, ty, err);
            break;
        default:
            rc = ldr__pq_tr_skip(t, ty, err);
            break;
        }
    }
    ldr__pq_tr_struct_end(t);
    r->schema = schema;
    r->rgs = rgs;
    r->col_orders = orders;
    if (rc != LDR_OK)
        return rc;
    if (*encrypted)
        return LDR_OK;
    if (!has_version)
        return missing(err, "FileMetaData", "version");
    if (!has_schema)
        return missing(err, "FileMetaData", "schema");
    if (!has_rows)
        return missing(err, "FileMetaData", "num_rows");
    if (!has_rgs)
        return missing(err, "FileMetaData", "row_groups");
    r->created_by = has_by ? ldr_arena_strndup(&r->arena, (const char *)by, by_len) : "";
    return LDR_OK;
}

/* ---- schema resolution ------------------------------------------------------------------- */

static ldr__pq_logical converted_to_logical(const ldr__pq_schema_el *el)
{
    ldr__pq_logical lg;
    memset(&lg, 0, sizeof lg);
    lg.unit = -1;
    lg.utc = true;
    int c = el->converted;
    if (c >= 11 && c <= 18) {
        static const int widths[] = {8, 16, 32, 64};
        lg.ann = LDR__PQ_ANN_INT;
        lg.is_signed = c >= 15;
        lg.bit_width = widths[(c - 11) % 4];
        return lg;
    }
    switch (c) {
    case 0:
        lg.ann = LDR__PQ_ANN_STRING;
        break;
    case 1:
    case 2:
        lg.ann = LDR__PQ_ANN_MAP;
        break;
    case 3:
        lg.ann = LDR__PQ_ANN_LIST;
        break;
    case 4:
        lg.ann = LDR__PQ_ANN_ENUM;
        break;
    case 5:
        lg.ann = LDR__PQ_ANN_DECIMAL;
        lg.scale = el->scale;
        lg.precision = el->precision;
        break;
    case 6:
        lg.ann = LDR__PQ_ANN_DATE;
        break;
    case 7:
    case 8:
        lg.ann = LDR__PQ_ANN_TIME;
        lg.unit = c == 7 ? LDR__PQ_UNIT_MILLIS : LDR__PQ_UNIT_MICROS;
        break;
    case 9:
    case 10:
        lg.ann = LDR__PQ_ANN_TIMESTAMP;
        lg.unit = c == 9 ? LDR__PQ_UNIT_MILLIS : LDR__PQ_UNIT_MICROS;
        break;
    case 19:
        lg.ann = LDR__PQ_ANN_JSON;
        break;
    case 20:
        lg.ann = LDR__PQ_ANN_BSON;
        break;
    case 21:
        lg.ann = LDR__PQ_ANN_INTERVAL;
        break;
    default:
        lg.ann = LDR__PQ_ANN_NONE;
        break;
    }
    return lg;
}

/* The effective annotation of an element. */
static ldr__pq_logical annotation(const ldr__pq_schema_el *el)
{
    if (el->has_logical && el->logical.ann != LDR__PQ_ANN_OTHER)
        return el->logical;
    if (el->has_converted)
        return converted_to_logical(el);
    ldr__pq_logical lg;
    memset(&lg, 0, sizeof lg);
    lg.unit = -1;
    return lg;
}

static const char *unit_name(int unit)
{
    return unit == LDR__PQ_UNIT_MILLIS   ? "MILLIS"
           : unit == LDR__PQ_UNIT_MICROS ? "MICROS"
           : unit == LDR__PQ_UNIT_NANOS  ? "NANOS"
                                         : "UNKNOWN";
}

/* Text of an annotation for ldr_pq_column_info.logical ("" for none). */
static const char *logical_text(ldr_arena *a, const ldr__pq_logical *lg)
{
    switch (lg->ann) {
    case LDR__PQ_ANN_STRING:
        return "STRING";
    case LDR__PQ_ANN_ENUM:
        return "ENUM";
    case LDR__PQ_ANN_JSON:
        return "JSON";
    case LDR__PQ_ANN_BSON:
        return "BSON";
    case LDR__PQ_ANN_UUID:
        return "UUID";
    case LDR__PQ_ANN_FLOAT16:
        return "FLOAT16";
    case LDR__PQ_ANN_DECIMAL:
        return ldr_arena_sprintf(a, "DECIMAL(%" PRId32 ",%" PRId32 ")", lg->precision, lg->scale);
    case LDR__PQ_ANN_DATE:
        return "DATE";
    case LDR__PQ_ANN_TIME:
    case LDR__PQ_ANN_TIMESTAMP:
        return ldr_arena_sprintf(a, "%s(%s,%s)", lg->ann == LDR__PQ_ANN_TIME ? "TIME" : "TIMESTAMP",
                                 unit_name(lg->unit), lg->utc ? "true" : "false");
    case LDR__PQ_ANN_INT:
        return ldr_arena_sprintf(a, "INT(%d,%s)", lg->bit_width, lg->is_signed ? "true" : "false");
    case LDR__PQ_ANN_INTERVAL:
        return "INTERVAL";
    case LDR__PQ_ANN_NULL:
        return "UNKNOWN";
    case LDR__PQ_ANN_LIST:
        return "LIST";
    case LDR__PQ_ANN_MAP:
        return "MAP";
    case LDR__PQ_ANN_VARIANT:
        return "VARIANT";
    case LDR__PQ_ANN_GEOMETRY:
        return "GEOMETRY";
    case LDR__PQ_ANN_GEOGRAPHY:
        return "GEOGRAPHY";
    default:
        return "";
    }
}

/* Walks the subtree at schema[*pos] (pre-order), appending its leaves. def/rep/rep_def
 * are the levels accumulated above it; prefix its parent's path ("" at the top). */
typedef struct walk_ctx {
    ldr_pq_reader *r;
    size_t pos;
} walk_ctx;

static ldr_code walk(walk_ctx *w, unsigned depth, unsigned def, unsigned rep, unsigned rep_def,
                     const char *prefix, ldr_err *err)
{
    ldr_pq_reader *r = w->r;
    if (w->pos >= r->n_schema)
        return ldr_err_setf(err, LDR_ECORRUPT, "schema ends inside group '%s'", prefix);
    if (depth > LDR__PQ_MAX_SCHEMA_DEPTH)
        return ldr_err_setf(err, LDR_ECORRUPT, "schema nested deeper than %d levels",
                            LDR__PQ_MAX_SCHEMA_DEPTH);
    size_t i = w->pos++;
    ldr__pq_schema_el *el = &r->schema[i];
    if (!el->has_repetition)
        el->repetition = LDR__PQ_REQUIRED;
    if (el->repetition < 0 || el->repetition > LDR__PQ_REPEATED)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "schema element '%s' has invalid repetition %" PRId32, el->name,
                            el->repetition);
    if (el->repetition != LDR__PQ_REQUIRED)
        def++;
    if (el->repetition == LDR__PQ_REPEATED) {
        rep++;
        rep_def = def;
    }
    const char *path = *prefix ? ldr_arena_sprintf(&r->arena, "%s.%s", prefix, el->name) : el->name;
    if (el->num_children < 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "schema element '%s' has %" PRId32 " children", path,
                            el->num_children);
    if (el->num_children == 0) {
        if (!el->has_type)
            return ldr_err_setf(err, LDR_ECORRUPT, "schema leaf '%s' has no physical type", path);
        if (el->type < LDR__PQ_BOOLEAN || el->type > LDR__PQ_FLBA)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "schema leaf '%s' has invalid physical type %" PRId32, path,
                                el->type);
        if (el->type == LDR__PQ_FLBA && el->type_length <= 0)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "schema leaf '%s' is FIXED_LEN_BYTE_ARRAY of length %" PRId32, path,
                                el->type_length);
        ldr__pq_leaf *lf = &r->leaves[r->n_leaves++];
        lf->el = i;
        lf->path = path;
        lf->max_def = def;
        lf->max_rep = rep;
        lf->rep_def = rep_def;
        return LDR_OK;
    }
    for (int32_t k = 0; k < el->num_children; k++) {
        ldr_code rc = walk(w, depth + 1, def, rep, rep_def, path, err);
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}

/* Chooses the conversion of a primitive leaf into a Larder scalar, or an unsupported
 * reason. */
static void map_leaf(ldr_pq_reader *r, const ldr__pq_schema_el *el, ldr__pq_colspec *cs)
{
    ldr__pq_logical lg = annotation(el);
    cs->phys = el->type;
    cs->type_length = el->type_length;
    cs->order = LDR__PQ_ORDER_SIGNED;
    cs->info.physical = ldr__pq_type_name(el->type);
    cs->info.logical = logical_text(&r->arena, &lg);
    ldr__pq_ann ann = lg.ann;
    switch (el->type) {
    case LDR__PQ_BOOLEAN:
        cs->elem = LDR_TYPE_BOOL, cs->conv = LDR__PQ_CONV_BOOL;
        break;
    case LDR__PQ_INT32:
        cs->elem = LDR_TYPE_INT32, cs->conv = LDR__PQ_CONV_I32;
        if (ann == LDR__PQ_ANN_INT && !lg.is_signed) {
            cs->order = LDR__PQ_ORDER_UNSIGNED;
            if (lg.bit_width >= 32)
                cs->elem = LDR_TYPE_INT64, cs->conv = LDR__PQ_CONV_U32;
        } else if (ann == LDR__PQ_ANN_DATE) {
            cs->elem = LDR_TYPE_UNIX_TIMESTAMP, cs->conv = LDR__PQ_CONV_DATE;
        } else if (ann == LDR__PQ_ANN_TIME && lg.unit == LDR__PQ_UNIT_MILLIS) {
            cs->elem = LDR_TYPE_INT64, cs->conv = LDR__PQ_CONV_TIME_MS;
        } else if (ann == LDR__PQ_ANN_DECIMAL) {
            cs->elem = LDR_TYPE_FLOAT64, cs->conv = LDR__PQ_CONV_DEC_I32;
        }
        break;
    case LDR__PQ_INT64:
        cs->elem = LDR_TYPE_INT64, cs->conv = LDR__PQ_CONV_I64;
        if (ann == LDR__PQ_ANN_INT && !lg.is_signed) {
            cs->order = LDR__PQ_ORDER_UNSIGNED;
            cs->conv = LDR__PQ_CONV_U64;
        } else if (ann == LDR__PQ_ANN_TIMESTAMP) {
            static const ldr__pq_conv ts[] = {LDR__PQ_CONV_TS_MS, LDR__PQ_CONV_TS_US,
                                              LDR__PQ_CONV_TS_NS};
            cs->elem = LDR_TYPE_UNIX_TIMESTAMP;
            if (lg.unit < 0)
                cs->info.unsupported = "TIMESTAMP with an unknown time unit is not supported";
            else
                cs->conv = ts[lg.unit];
        } else if (ann == LDR__PQ_ANN_TIME) {
            if (lg.unit < 0)
                cs->info.unsupported = "TIME with an unknown time unit is not supported";
            else
                cs->conv = lg.unit == LDR__PQ_UNIT_NANOS    ? LDR__PQ_CONV_TIME_NS
                           : lg.unit == LDR__PQ_UNIT_MICROS ? LDR__PQ_CONV_TIME_US
                                                            : LDR__PQ_CONV_TIME_MS;
        } else if (ann == LDR__PQ_ANN_DECIMAL) {
            cs->elem = LDR_TYPE_FLOAT64, cs->conv = LDR__PQ_CONV_DEC_I64;
        }
        break;
    case LDR__PQ_INT96:
        cs->elem = LDR_TYPE_UNIX_TIMESTAMP, cs->conv = LDR__PQ_CONV_INT96;
        cs->order = LDR__PQ_ORDER_UNDEFINED;
        break;
    case LDR__PQ_FLOAT:
        cs->elem = LDR_TYPE_FLOAT32, cs->conv = LDR__PQ_CONV_F32;
        break;
    case LDR__PQ_DOUBLE:
        cs->elem = LDR_TYPE_FLOAT64, cs->conv = LDR__PQ_CONV_F64;
        break;
    default: /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY */
        cs->order = LDR__PQ_ORDER_UNSIGNED;
        cs->elem = LDR_TYPE_BYTES, cs->conv = LDR__PQ_CONV_BYTES;
        if (el->type == LDR__PQ_BYTE_ARRAY &&
            (ann == LDR__PQ_ANN_STRING || ann == LDR__PQ_ANN_ENUM || ann == LDR__PQ_ANN_JSON))
            cs->elem = LDR_TYPE_STRING;
        else if (ann == LDR__PQ_ANN_DECIMAL)
            cs->elem = LDR_TYPE_FLOAT64, cs->conv = LDR__PQ_CONV_DEC_BE;
        else if (ann == LDR__PQ_ANN_FLOAT16 && el->type == LDR__PQ_FLBA && el->type_length == 2)
            cs->elem = LDR_TYPE_FLOAT32, cs->conv = LDR__PQ_CONV_F16;
        else if (ann == LDR__PQ_ANN_GEOMETRY || ann == LDR__PQ_ANN_GEOGRAPHY)
            cs->info.unsupported = "geospatial (GEOMETRY/GEOGRAPHY) columns are not supported";
        break;
    }
    if (ann == LDR__PQ_ANN_DECIMAL) {
        cs->scale = lg.scale;
        if (lg.scale < 0 || lg.scale > 76)
            cs->info.unsupported = "DECIMAL with a scale outside 0..76 is not supported";
    }
}

/* Why a group field cannot be read (or NULL when it is a LIST of primitives, in which
 * case *elem_el is the element leaf). Follows the LIST compatibility rules of the
 * format's LogicalTypes.md. */
static const char *classify_group(const ldr_pq_reader *r, size_t i, size_t *elem_el)
{
    const ldr__pq_schema_el *g = &r->schema[i];
    ldr__pq_ann ann = annotation(g).ann;
    if (ann == LDR__PQ_ANN_MAP)
        return "map columns are not supported";
    if (ann == LDR__PQ_ANN_VARIANT)
        return "VARIANT columns are not supported";
    if (ann != LDR__PQ_ANN_LIST)
        return g->repetition == LDR__PQ_REPEATED ? "repeated groups are not supported"
                                                 : "nested struct columns are not supported";
    if (g->repetition == LDR__PQ_REPEATED)
        return "repeated LIST groups are not supported";
    const ldr__pq_schema_el *rep = &r->schema[i + 1];
    if (g->num_children != 1 || rep->repetition != LDR__PQ_REPEATED)
        return "malformed LIST group (expected one repeated field)";
    if (rep->num_children == 0) {
        *elem_el = i + 1; /* legacy 2-level: the repeated field is the element */
        return NULL;
    }
    if (rep->num_children > 1)
        return "lists of structs are not supported";
    const ldr__pq_schema_el *x = &r->schema[i + 2];
    size_t name_len = strlen(g->name);
    bool tuple =
        strncmp(rep->name, g->name, name_len) == 0 && !strcmp(rep->name + name_len, "_tuple");
    if (x->repetition == LDR__PQ_REPEATED || !strcmp(rep->name, "array") || tuple)
        return x->num_children > 0 || x->repetition == LDR__PQ_REPEATED
                   ? "nested lists are not supported"
                   : "lists of structs are not supported";
    if (x->num_children > 0) {
        ldr__pq_ann xa = annotation(x).ann;
        return xa == LDR__PQ_ANN_LIST  ? "nested lists are not supported"
               : xa == LDR__PQ_ANN_MAP ? "lists of maps are not supported"
                                       : "lists of structs are not supported";
    }
    *elem_el = i + 2;
    return NULL;
}

/* Fills cols[k] for the top-level field at schema[i], whose leaves are
 * leaves[first..first+n). */
static void classify(ldr_pq_reader *r, size_t i, size_t first, size_t n, ldr__pq_colspec *cs)
{
    const ldr__pq_schema_el *el = &r->schema[i];
    memset(cs, 0, sizeof *cs);
    cs->info.name = el->name;
    cs->info.type = LDR_TYPE_INVALID;
    cs->leaf = first;
    cs->n_leaves = n;
    size_t elem_el = i;
    if (el->num_children > 0) {
        cs->info.physical = "group";
        cs->info.logical = logical_text(&r->arena, &(ldr__pq_logical){.ann = annotation(el).ann});
        const char *why = classify_group(r, i, &elem_el);
        if (why) {
            cs->info.unsupported = why;
            return;
        }
        cs->is_list = true;
    } else if (el->repetition == LDR__PQ_REPEATED) {
        cs->is_list = true; /* a bare repeated primitive: required list of required items */
    }
    LDR_ASSERT(n == 1 && r->leaves[first].el == elem_el);
    map_leaf(r, &r->schema[elem_el], cs);
    if (r->leaves[first].max_rep > (cs->is_list ? 1u : 0u))
        cs->info.unsupported = "nested lists are not supported";
    if (cs->info.unsupported)
        return;
    if (cs->is_list) {
        const char *inner = *cs->info.logical ? cs->info.logical : cs->info.physical;
        cs->info.logical = ldr_arena_sprintf(&r->arena, "LIST<%s>", inner);
        cs->info.type = (ldr_type)(cs->elem + LDR_TYPE_LIST_OFFSET);
    } else {
        cs->info.type = cs->elem;
    }
}

static ldr_code resolve_schema(ldr_pq_reader *r, ldr_err *err)
{
    if (r->n_schema == 0)
        return ldr_err_setf(err, LDR_ECORRUPT, "empty schema");
    const ldr__pq_schema_el *root = &r->schema[0];
    if (root->num_children < 0 || (size_t)root->num_children > r->n_schema - 1 ||
        (root->num_children == 0 && r->n_schema > 1))
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "schema root has %" PRId32 " children for %zu elements",
                            root->num_children, r->n_schema);
    r->leaves = ldr_arena_calloc(&r->arena, r->n_schema, sizeof *r->leaves);
    r->cols = ldr_arena_calloc(&r->arena, (size_t)root->num_children + 1, sizeof *r->cols);
    walk_ctx w = {r, 1};
    for (int32_t k = 0; k < root->num_children; k++) {
        size_t top = w.pos, first = r->n_leaves;
        ldr_code rc = walk(&w, 1, 0, 0, 0, "", err);
        if (rc != LDR_OK)
            return rc;
        classify(r, top, first, r->n_leaves - first, &r->cols[r->n_cols++]);
    }
    if (w.pos != r->n_schema)
        return ldr_err_setf(err, LDR_ECORRUPT, "schema has %zu elements outside the tree",
                            r->n_schema - w.pos);
    for (size_t i = 0; i < r->n_leaves; i++)
        r->leaves[i].column_order = i < r->n_col_orders ? r->col_orders[i] : 0;
    return LDR_OK;
}

/* Row groups against the leaves: counts, types, paths, and the row total. */
static ldr_code check_row_groups(const ldr_pq_reader *r, ldr_err *err)
{
    int64_t total = 0;
    for (size_t g = 0; g < r->n_rgs; g++) {
        const ldr__pq_rowgroup *rg = &r->rgs[g];
        if (rg->n_chunks != r->n_leaves)
            return ldr_err_setf(err, LDR_ECORRUPT,
                                "row group %zu has %zu column chunks, the schema %zu leaves", g,
                                rg->n_chunks, r->n_leaves);
        if (rg->num_rows < 0 || rg->num_rows > INT64_MAX - total)
            return ldr_err_setf(err, LDR_ECORRUPT, "row group %zu has %" PRId64 " rows", g,
                                rg->num_rows);
        total += rg->num_rows;
        for (size_t c = 0; c < rg->n_chunks; c++) {
            const ldr__pq_chunk *ck = &rg->chunks[c];
            const ldr__pq_leaf *lf = &r->leaves[c];
            if (ck->encrypted)
                return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                    "encrypted Parquet files are not supported");
            if (ck->external)
                return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                    "column chunks in other files (file_path) are not supported");
            if (ck->type != r->schema[lf->el].type)
                return ldr_err_setf(err, LDR_ECORRUPT,
                                    "column %s, row group %zu: chunk type %s differs from the "
                                    "schema's %s",
                                    lf->path, g, ldr__pq_type_name(ck->type),
                                    ldr__pq_type_name(r->schema[lf->el].type));
            if (ck->path && strcmp(ck->path, lf->path) != 0)
                return ldr_err_setf(err, LDR_ECORRUPT,
                                    "row group %zu: column chunk %zu is '%s', the schema says '%s'",
                                    g, c, ck->path, lf->path);
            if (ck->num_values < 0 || ck->total_compressed < 0)
                return ldr_err_setf(err, LDR_ECORRUPT,
                                    "column %s, row group %zu: negative sizes in the metadata",
                                    lf->path, g);
        }
    }
    if (total != r->num_rows)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "row groups hold %" PRId64 " rows, the footer says %" PRId64, total,
                            r->num_rows);
    return LDR_OK;
}

/* parquet-cpp before 2.0 (Arrow < 3.0) wrote is_compressed=false on compressed v2 pages. */
static bool old_parquet_cpp(const char *by)
{
    static const char pfx[] = "parquet-cpp version ";
    if (strncmp(by, pfx, sizeof pfx - 1) != 0)
        return false;
    char c = by[sizeof pfx - 1];
    return c == '0' || (c == '1' && by[sizeof pfx] == '.');
}

ldr_code ldr__pq_meta_parse(ldr_pq_reader *r, const uint8_t *p, size_t len, ldr_err *err)
{
    ldr__pq_tr t;
    ldr__pq_tr_init(&t, p, len);
    bool encrypted = false;
    ldr_code rc = parse_file_meta(r, &t, &encrypted, err);
    if (rc == LDR_OK && encrypted)
        return ldr_err_setf(err, LDR_EUNSUPPORTED, "encrypted Parquet files are not supported");
    if (rc != LDR_OK) {
        ldr_err_prefix(err, "footer: ");
        return rc;
    }
    rc = resolve_schema(r, err);
    if (rc == LDR_OK)
        rc = check_row_groups(r, err);
    if (rc != LDR_OK && rc != LDR_EUNSUPPORTED)
        ldr_err_prefix(err, "footer: ");
    r->v2_flag_unreliable = old_parquet_cpp(r->created_by);
    return rc;
}

/* ---- PageHeader ---------------------------------------------------------------------------- */

/* DataPageHeader (v1), DictionaryPageHeader and DataPageHeaderV2 share this parser: the
 * field ids differ per kind, mapped by `kind` (= the page type). */
static ldr_code parse_sub_header(ldr__pq_tr *t, int kind, ldr__pq_page *pg, unsigned *have,
                                 ldr_err *err)
{
    ldr_code rc = ldr__pq_tr_struct_begin(t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool got;
    /* Per kind, the destination of fields 1..8. */
    int32_t *v1[] = {&pg->num_values, &pg->encoding, &pg->def_encoding, &pg->rep_encoding};
    int32_t *dict[] = {&pg->num_values, &pg->encoding};
    int32_t *v2[] = {&pg->num_values, &pg->num_nulls, &pg->num_rows,
                     &pg->encoding,   &pg->def_len,   &pg->rep_len};
    int32_t **dst = kind == LDR__PQ_PAGE_DATA ? v1 : kind == LDR__PQ_PAGE_DICT ? dict : v2;
    size_t n_dst = kind == LDR__PQ_PAGE_DATA   ? LDR_ARRAY_LEN(v1)
                   : kind == LDR__PQ_PAGE_DICT ? LDR_ARRAY_LEN(dict)
                                               : LDR_ARRAY_LEN(v2);
    FOR_EACH_FIELD(t, id, ty, rc, err)
    {
        got = false;
        if (id >= 1 && (size_t)id <= n_dst) {
            rc = ldr__pq_tr_i32(t, ty, dst[id - 1], &got, err);
            if (got)
                *have |= 1u << id;
        } else if (kind == LDR__PQ_PAGE_DATA_V2 && id == 7) {
            rc = ldr__pq_tr_bool(t, ty, &pg->is_compressed, &got, err);
        } else {
            rc = ldr__pq_tr_skip(t, ty, err);
        }
    }
    ldr__pq_tr_struct_end(t);
    if (rc != LDR_OK)
        return rc;
    for (size_t k = 1; k <= n_dst; k++)
        if (!(*have & (1u << k)))
            return ldr_err_setf(err, LDR_ECORRUPT, "%s header is missing field %zu",
                                kind == LDR__PQ_PAGE_DATA   ? "data page"
                                : kind == LDR__PQ_PAGE_DICT ? "dictionary page"
                                                            : "data page v2",
                                k);
    return LDR_OK;
}

ldr_code ldr__pq_page_parse(const uint8_t *p, size_t len, ldr__pq_page *pg, size_t *out_hlen,
                            ldr_err *err)
{
    memset(pg, 0, sizeof *pg);
    pg->is_compressed = true;
    ldr__pq_tr t;
    ldr__pq_tr_init(&t, p, len < LDR__PQ_MAX_PAGE_HEADER ? len : LDR__PQ_MAX_PAGE_HEADER);
    ldr_code rc = ldr__pq_tr_struct_begin(&t, err);
    if (rc != LDR_OK)
        return rc;
    int16_t id;
    unsigned ty;
    bool got[4] = {false};
    bool has_sub = false;
    int32_t crc = 0;
    FOR_EACH_FIELD(&t, id, ty, rc, err)
    {
        if (id == 1) {
            rc = ldr__pq_tr_i32(&t, ty, &pg->type, &got[1], err);
        } else if (id == 2) {
            rc = ldr__pq_tr_i32(&t, ty, &pg->uncompressed_size, &got[2], err);
        } else if (id == 3) {
            rc = ldr__pq_tr_i32(&t, ty, &pg->compressed_size, &got[3], err);
        } else if (id == 4) {
            rc = ldr__pq_tr_i32(&t, ty, &crc, &pg->has_crc, err);
        } else if (ty == LDR__PQ_T_STRUCT && got[1] &&
                   ((id == 5 && pg->type == LDR__PQ_PAGE_DATA) ||
                    (id == 7 && pg->type == LDR__PQ_PAGE_DICT) ||
                    (id == 8 && pg->type == LDR__PQ_PAGE_DATA_V2))) {
            unsigned have = 0;
            has_sub = true;
            rc = parse_sub_header(&t, pg->type, pg, &have, err);
        } else {
            rc = ldr__pq_tr_skip(&t, ty, err);
        }
    }
    ldr__pq_tr_struct_end(&t);
    if (rc != LDR_OK)
        return rc;
    static const char *const names[] = {"", "type", "uncompressed_page_size",
                                        "compressed_page_size"};
    for (int k = 1; k <= 3; k++)
        if (!got[k])
            return missing(err, "PageHeader", names[k]);
    pg->crc = (uint32_t)crc;
    bool needs_sub = pg->type == LDR__PQ_PAGE_DATA || pg->type == LDR__PQ_PAGE_DICT ||
                     pg->type == LDR__PQ_PAGE_DATA_V2;
    if (needs_sub && !has_sub)
        return ldr_err_setf(err, LDR_ECORRUPT, "page header of type %" PRId32 " has no sub-header",
                            pg->type);
    if (pg->uncompressed_size < 0 || pg->compressed_size < 0)
        return ldr_err_setf(err, LDR_ECORRUPT,
                            "page header has negative sizes (%" PRId32 ", %" PRId32 ")",
                            pg->uncompressed_size, pg->compressed_size);
    *out_hlen = ldr__pq_tr_pos(&t);
    return LDR_OK;
}

/* ---- schema text ---------------------------------------------------------------------------- */

ldr_code ldr_pq_schema_text(const ldr_pq_reader *r, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = ldr_buf_printf(out, err,
                                 "file: %s\nrows: %" PRId64 "\nrow_groups: %zu\ncreated_by: %s\n"
                                 "columns: %zu\n",
                                 r->name, r->num_rows, r->n_rgs,
                                 *r->created_by ? r->created_by : "(unknown)", r->n_cols);
    size_t w = 4;
    for (size_t i = 0; i < r->n_cols; i++)
        if (strlen(r->cols[i].info.name) > w)
            w = strlen(r->cols[i].info.name);
    if (w > 40)
        w = 40;
    for (size_t i = 0; i < r->n_cols && rc == LDR_OK; i++) {
        const ldr_pq_column_info *c = &r->cols[i].info;
        const char *type = c->unsupported ? "unsupported" : ldr_type_name(c->type);
        rc = ldr_buf_printf(out, err, "  %-*s  %-21s  %-20s  %s", (int)w, c->name, type,
                            c->physical, c->logical);
        if (rc == LDR_OK && c->unsupported)
            rc = ldr_buf_printf(out, err, "  (%s)", c->unsupported);
        /* Trim the padding of empty trailing fields. */
        while (rc == LDR_OK && out->len > 0 && out->ptr[out->len - 1] == ' ')
            out->ptr[--out->len] = '\0';
        if (rc == LDR_OK)
            rc = ldr_buf_putc(out, '\n', err);
    }
    return rc;
}
