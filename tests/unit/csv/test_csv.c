/*
 * test_csv.c -- unit tests for src/csv/: the CSV reader (RFC 4180 lexing, schema,
 * projection, inference, conversions, errors with exact line/column, limits, hostile
 * input) and the CSV / JSON Lines writers (exact output, quoting, nulls, escapes, base64,
 * streaming, write failures), plus round trips write -> read for every type.
 *
 * Texts are small literals; expected messages are compared whole. A fixed-seed PRNG
 * drives the random-input robustness check and the random round trips, so failures
 * reproduce. JSON Lines output is also checked with jansson (every line must parse).
 */
#include "csv/csv.h"

#include <errno.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* xorshift64*: deterministic PRNG. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* ---- helpers ------------------------------------------------------------------------- */

static ldr_csv_read_opts opts_default(void)
{
    return ldr_csv_read_opts_default();
}

/* Reads text (NUL-terminated) and checks success; NULL on failure (reported). */
static ldr_batch *rd_opts(const char *text, size_t len, const ldr_csv_read_opts *o)
{
    ldr_batch *b = NULL;
    ldr_err err = {0};
    ldr_code rc = ldr_csv_read_mem("t.csv", text, len, o, &b, &err);
    if (rc != LDR_OK) {
        HARNESS_FAIL("read failed: code %d: %s", (int)rc, err.msg);
        return NULL;
    }
    if (!b)
        HARNESS_FAIL("read returned OK without a batch");
    return b;
}

static ldr_batch *rd(const char *text)
{
    ldr_csv_read_opts o = opts_default();
    return rd_opts(text, strlen(text), &o);
}

/* Reads text expecting failure with code; returns the message (static). */
static const char *rd_err_opts(const char *text, size_t len, const ldr_csv_read_opts *o,
                               ldr_code code)
{
    static ldr_err err;
    ldr_batch *b = (ldr_batch *)1;
    ldr_err_clear(&err);
    ldr_code rc = ldr_csv_read_mem("t.csv", text, len, o, &b, &err);
    if (rc != code)
        HARNESS_FAIL("expected code %d, got %d (%s)", (int)code, (int)rc, err.msg);
    if (b != NULL) {
        HARNESS_FAIL("batch not NULL after a failure");
        if (rc == LDR_OK)
            ldr_batch_free(b);
    }
    return err.msg;
}

static const char *rd_err(const char *text, ldr_code code)
{
    ldr_csv_read_opts o = opts_default();
    return rd_err_opts(text, strlen(text), &o, code);
}

static const ldr_col *col_of(const ldr_batch *b, const char *name)
{
    int i = b ? ldr_batch_find(b, name) : -1;
    if (i < 0) {
        HARNESS_FAIL("no column '%s'", name);
        return NULL;
    }
    return b->cols[i];
}

static ldr_type type_of(const ldr_batch *b, const char *name)
{
    const ldr_col *c = col_of(b, name);
    return c ? c->type : LDR_TYPE_INVALID;
}

/* CSV text of a cell, "<null>" for null; static buffer replaced by the next call. */
static const char *cell(const ldr_batch *b, const char *name, size_t row)
{
    static char out[4096];
    const ldr_col *c = col_of(b, name);
    if (!c || row >= c->n)
        return "<missing>";
    if (!ldr_col_valid(c, row))
        return "<null>";
    ldr_buf buf;
    ldr_err err = {0};
    ldr_buf_init(&buf, sizeof out - 1);
    if (ldr_csv_format_value(c, row, &buf, &err) != LDR_OK)
        snprintf(out, sizeof out, "<error: %s>", err.msg);
    else
        memcpy(out, ldr_buf_cstr(&buf), buf.len + 1);
    ldr_buf_fini(&buf);
    return out;
}

/* Same with JSON. */
static const char *jcell(const ldr_col *c, size_t row)
{
    static char out[4096];
    ldr_buf buf;
    ldr_err err = {0};
    ldr_buf_init(&buf, sizeof out - 1);
    if (ldr_json_format_value(c, row, &buf, &err) != LDR_OK)
        snprintf(out, sizeof out, "<error: %s>", err.msg);
    else
        memcpy(out, ldr_buf_cstr(&buf), buf.len + 1);
    ldr_buf_fini(&buf);
    return out;
}

typedef ldr_code (*writer_fn)(const ldr_batch *, FILE *, ldr_err *);

/* Output of a writer as a string; caller frees with ldr_free. */
static char *render(writer_fn fn, const ldr_batch *b, size_t *out_len)
{
    char *ptr = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ptr, &len);
    ldr_err err = {0};
    ldr_code rc = fn(b, f, &err);
    fclose(f);
    if (rc != LDR_OK)
        HARNESS_FAIL("writer failed: %s", err.msg);
    char *copy = ldr_xstrndup(ptr, len);
    free(ptr); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
    if (out_len)
        *out_len = len;
    return copy;
}

/* Cell equality for round trips: CSV cannot tell "" from null at top level. */
static bool cells_equal(const ldr_col *a, size_t i, const ldr_col *b, size_t j, ldr_arena *ar)
{
    ldr_value va, vb;
    ldr_col_get(a, i, ar, &va);
    ldr_col_get(b, j, ar, &vb);
    bool textual = a->type == LDR_TYPE_STRING || a->type == LDR_TYPE_BYTES;
    if (textual && !va.is_null && va.u.str.len == 0)
        va.is_null = true;
    if (textual && !vb.is_null && vb.u.str.len == 0)
        vb.is_null = true;
    return ldr_value_eq(&va, &vb);
}

static bool batches_equal(const ldr_batch *a, const ldr_batch *b)
{
    if (!a || !b || a->n_cols != b->n_cols || a->n_rows != b->n_rows) {
        HARNESS_FAIL("batch shapes differ");
        return false;
    }
    ldr_arena ar;
    ldr_arena_init(&ar, 0);
    bool ok = true;
    for (size_t j = 0; j < a->n_cols && ok; j++) {
        if (strcmp(a->names[j], b->names[j]) != 0 || a->cols[j]->type != b->cols[j]->type) {
            HARNESS_FAIL("column %zu: '%s' %s vs '%s' %s", j, a->names[j],
                         ldr_type_name(a->cols[j]->type), b->names[j],
                         ldr_type_name(b->cols[j]->type));
            ok = false;
        }
        for (size_t i = 0; i < a->n_rows && ok; i++) {
            if (!cells_equal(a->cols[j], i, b->cols[j], i, &ar)) {
                char x[4096];
                snprintf(x, sizeof x, "%s", cell(a, a->names[j], i));
                HARNESS_FAIL("column '%s' row %zu: %s vs %s", a->names[j], i, x,
                             cell(b, b->names[j], i));
                ok = false;
            }
        }
    }
    ldr_arena_fini(&ar);
    return ok;
}

/* Reads CSV text back with b's own schema (names and types). */
static ldr_batch *reread(const ldr_batch *b, const char *text, size_t len)
{
    ldr_type *types = ldr_xcalloc(b->n_cols ? b->n_cols : 1, sizeof *types);
    for (size_t j = 0; j < b->n_cols; j++)
        types[j] = b->cols[j]->type;
    ldr_csv_read_opts o = opts_default();
    o.names = (const char *const *)b->names;
    o.types = types;
    o.n = b->n_cols;
    o.all_columns = false;
    ldr_batch *back = rd_opts(text, len, &o);
    ldr_free(types);
    return back;
}

/* Appends a value given as text (ldr_value_from_text; "\x01" = null) to c. */
static void put(ldr_col *c, const char *text)
{
    if (strcmp(text, "\x01") == 0) {
        ldr_col_append_null(c);
        return;
    }
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_value v;
    ldr_err err = {0};
    if (ldr_value_from_text(c->type, text, strlen(text), &a, &v, &err) != LDR_OK)
        HARNESS_FAIL("bad test value %s: %s", text, err.msg);
    else
        ldr_col_append_value(c, &v);
    ldr_arena_fini(&a);
}

#define NUL_V "\x01"

static ldr_col *make_col(ldr_type t, const char *const *vals, size_t n)
{
    ldr_col *c = ldr_col_new(t, n);
    for (size_t i = 0; i < n; i++)
        put(c, vals[i]);
    return c;
}

#define MAKE_COL(t, ...)                            \
    make_col(t, (const char *const[]){__VA_ARGS__}, \
             LDR_ARRAY_LEN(((const char *const[]){__VA_ARGS__})))

/* ---- RFC 4180 lexing ------------------------------------------------------------------ */

TEST(basic_header_and_rows)
{
    ldr_batch *b = rd("a,b,c\n1,x,2.5\n2,y,3\n");
    if (!b)
        return;
    CHECK_EQ_I64(b->n_cols, 3);
    CHECK_EQ_I64(b->n_rows, 2);
    CHECK_EQ_STR(b->names[0], "a");
    CHECK_EQ_STR(b->names[1], "b");
    CHECK_EQ_STR(b->names[2], "c");
    CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_INT64);
    CHECK_EQ_I64(type_of(b, "b"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "c"), LDR_TYPE_FLOAT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "a"), 1), 2);
    CHECK_EQ_STR(cell(b, "b", 1), "y");
    CHECK_EQ_F64(ldr_col_f64(col_of(b, "c"), 0), 2.5);
    ldr_batch_free(b);
}

TEST(quoted_fields)
{
    const char *text = "s,n\n"
                       "\"plain\",1\n"
                       "\"with,comma\",2\n"
                       "\"say \"\"hi\"\"\",3\n"
                       "\"multi\nline\r\nend\",4\n"
                       "\"\"\"\",5\n"
                       "5'11\",6\n"
                       "  padded  ,7\n";
    ldr_batch *b = rd(text);
    if (!b)
        return;
    CHECK_EQ_I64(b->n_rows, 7);
    CHECK_EQ_STR(cell(b, "s", 0), "plain");
    CHECK_EQ_STR(cell(b, "s", 1), "with,comma");
    CHECK_EQ_STR(cell(b, "s", 2), "say \"hi\"");
    CHECK_EQ_STR(cell(b, "s", 3), "multi\nline\r\nend");
    CHECK_EQ_STR(cell(b, "s", 4), "\"");
    CHECK_EQ_STR(cell(b, "s", 5), "5'11\"");     /* a quote inside an unquoted field is data */
    CHECK_EQ_STR(cell(b, "s", 6), "  padded  "); /* strings are verbatim */
    CHECK_EQ_I64(type_of(b, "n"), LDR_TYPE_INT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "n"), 6), 7);
    ldr_batch_free(b);
}

TEST(line_endings_bom_blank_lines)
{
    const char *variants[] = {
        "a,b\n1,x\n2,y\n",
        "a,b\r\n1,x\r\n2,y\r\n",
        "a,b\r1,x\r2,y\r",
        "a,b\n1,x\n2,y",                       /* no trailing newline */
        "\357\273\277a,b\n1,x\n2,y\n",         /* BOM (octal: no hex escape runs on) */
        "\n\r\na,b\n\n1,x\r\n\r\n\n2,y\n\n\n", /* blank lines anywhere */
    };
    for (size_t k = 0; k < LDR_ARRAY_LEN(variants); k++) {
        ldr_batch *b = rd(variants[k]);
        if (!b)
            continue;
        CHECK_EQ_I64(b->n_rows, 2);
        CHECK_EQ_STR(b->names[0], "a");
        CHECK_EQ_STR(b->names[1], "b");
        CHECK_EQ_STR(cell(b, "a", 0), "1");
        CHECK_EQ_STR(cell(b, "b", 1), "y");
        ldr_batch_free(b);
    }
}

TEST(empty_fields_are_null)
{
    ldr_batch *b = rd("i,s,f,q\n1,,2.5,\"\"\n,x,,\"\"\n3,\"\",,\"\"\n");
    if (!b)
        return;
    CHECK_EQ_I64(b->n_rows, 3);
    CHECK_EQ_STR(cell(b, "i", 1), "<null>");
    CHECK_EQ_STR(cell(b, "s", 0), "<null>");
    CHECK_EQ_STR(cell(b, "s", 2), "<null>"); /* quoted "" is null too */
    CHECK_EQ_STR(cell(b, "f", 1), "<null>");
    CHECK_EQ_I64(col_of(b, "s")->null_count, 2);
    CHECK_EQ_I64(type_of(b, "q"), LDR_TYPE_STRING); /* no values at all: String */
    CHECK_EQ_I64(col_of(b, "q")->null_count, 3);
    CHECK_EQ_I64(type_of(b, "i"), LDR_TYPE_INT64);
    ldr_batch_free(b);
}

TEST(trailing_delimiter_and_tab_delimiter)
{
    ldr_batch *b = rd("a,b\n1,\n");
    if (b) {
        CHECK_EQ_STR(cell(b, "b", 0), "<null>");
        ldr_batch_free(b);
    }
    ldr_csv_read_opts o = opts_default();
    o.delimiter = '\t';
    const char *t = "a\tb c\n1,5\t\"x\ty\"\n";
    b = rd_opts(t, strlen(t), &o);
    if (b) {
        CHECK_EQ_STR(b->names[1], "b c");
        CHECK_EQ_STR(cell(b, "a", 0), "1,5");
        CHECK_EQ_STR(cell(b, "b c", 0), "x\ty");
        ldr_batch_free(b);
    }
    o.delimiter = '"';
    CHECK_EQ_STR(rd_err_opts("a\n", 2, &o, LDR_EINVAL),
                 "t.csv: the delimiter cannot be a quote, CR or LF");
}

TEST(header_names)
{
    ldr_batch *b = rd("\"x,y\",,\"q\"\"\"\n1,2,3\n");
    if (!b)
        return;
    CHECK_EQ_STR(b->names[0], "x,y");
    CHECK_EQ_STR(b->names[1], "column2"); /* empty names are numbered */
    CHECK_EQ_STR(b->names[2], "q\"");
    ldr_batch_free(b);
    b = rd("only\n");
    if (b) {
        CHECK_EQ_I64(b->n_cols, 1);
        CHECK_EQ_I64(b->n_rows, 0);
        CHECK_EQ_I64(type_of(b, "only"), LDR_TYPE_STRING);
        ldr_batch_free(b);
    }
}

TEST(nul_bytes_are_data)
{
    static const char text[] = "a,b\nx\0y,1\n\0,2\n";
    ldr_csv_read_opts o = opts_default();
    ldr_batch *b = rd_opts(text, sizeof text - 1, &o);
    if (b) {
        size_t len;
        const char *s = ldr_col_str(col_of(b, "a"), 0, &len);
        CHECK_EQ_I64(len, 3);
        CHECK(memcmp(s, "x\0y", 3) == 0);
        s = ldr_col_str(col_of(b, "a"), 1, &len);
        CHECK_EQ_I64(len, 1);
        CHECK_EQ_I64(type_of(b, "b"), LDR_TYPE_INT64);
        ldr_batch_free(b);
    }
    static const char bad[] = "n\n1\n2\0\n";
    const char *names[] = {"n"};
    ldr_type types[] = {LDR_TYPE_INT64};
    o.names = names;
    o.types = types;
    o.n = 1;
    CHECK_EQ_STR(rd_err_opts(bad, sizeof bad - 1, &o, LDR_EINVAL),
                 "t.csv:3: column 'n': invalid Int64 \"2\\x00\": not an integer");
}

/* ---- errors with positions -------------------------------------------------------------- */

TEST(error_empty_file)
{
    const char *want = "t.csv: empty file: a header row is required";
    CHECK_EQ_STR(rd_err("", LDR_EINVAL), want);
    CHECK_EQ_STR(rd_err("\xEF\xBB\xBF", LDR_EINVAL), want);
    CHECK_EQ_STR(rd_err("\n\r\n\n", LDR_EINVAL), want);
    ldr_csv_read_opts o = opts_default();
    CHECK_EQ_STR(rd_err_opts(NULL, 0, &o, LDR_EINVAL), want);
}

TEST(error_field_count)
{
    CHECK_EQ_STR(rd_err("a,b\n1,2\n3\n", LDR_EINVAL), "t.csv:3: expected 2 fields, got 1");
    CHECK_EQ_STR(rd_err("a,b\r\n1,2\r\n3,4,5\r\n", LDR_EINVAL),
                 "t.csv:3: expected 2 fields, got 3");
    /* the record starts on line 4: a quoted field before it spans lines 2-3 */
    CHECK_EQ_STR(rd_err("a,b\n\"x\ny\",2\n3,4,5\n", LDR_EINVAL),
                 "t.csv:4: expected 2 fields, got 3");
    /* blank lines still count */
    CHECK_EQ_STR(rd_err("a\n\n\n1,2\n", LDR_EINVAL), "t.csv:4: expected 1 field, got 2");
    /* a short row is reported before a bad value in it */
    const char *names[] = {"a", "b"};
    ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_INT64};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.types = types;
    o.n = 2;
    CHECK_EQ_STR(rd_err_opts("a,b,c\nx,1\n", 10, &o, LDR_EINVAL),
                 "t.csv:2: expected 3 fields, got 2");
}

TEST(error_quotes)
{
    CHECK_EQ_STR(rd_err("a,b\n1,\"abc\n", LDR_EINVAL), "t.csv:2:3: unterminated quoted field");
    CHECK_EQ_STR(rd_err("a\n\"", LDR_EINVAL), "t.csv:2:1: unterminated quoted field");
    CHECK_EQ_STR(rd_err("a,b\n1,2\n3,\"x\ny\"\"\n", LDR_EINVAL),
                 "t.csv:3:3: unterminated quoted field");
    CHECK_EQ_STR(rd_err("\xEF\xBB\xBF\"a", LDR_EINVAL), "t.csv:1:1: unterminated quoted field");
    CHECK_EQ_STR(rd_err("a,b\n\"x\"y,2\n", LDR_EINVAL),
                 "t.csv:2:4: unexpected character after closing quote (a quote inside a "
                 "quoted field is written \"\")");
    /* position after an embedded newline is on the new line */
    CHECK_EQ_STR(rd_err("a,b\n1,\"x\nyz\" \n", LDR_EINVAL),
                 "t.csv:3:4: unexpected character after closing quote (a quote inside a "
                 "quoted field is written \"\")");
    CHECK_EQ_STR(rd_err("\"a\"b\n", LDR_EINVAL),
                 "t.csv:1:4: unexpected character after closing quote (a quote inside a "
                 "quoted field is written \"\")");
}

TEST(error_duplicate_header)
{
    CHECK_EQ_STR(rd_err("a,b,a\n", LDR_EINVAL),
                 "t.csv:1: duplicate column name 'a' (columns 1 and 3)");
    CHECK_EQ_STR(rd_err("\ncolumn2,\n", LDR_EINVAL),
                 "t.csv:2: duplicate column name 'column2' (columns 1 and 2)");
}

TEST(error_nul_in_header_name)
{
    static const char text[] = "a,\"x\0\",b\n1,2,3\n";
    ldr_csv_read_opts o = opts_default();
    CHECK_EQ_STR(rd_err_opts(text, sizeof text - 1, &o, LDR_EINVAL),
                 "t.csv:1:3: column 2: NUL byte in the name");
}

TEST(error_conversion)
{
    const char *names[] = {"id", "v"};
    ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_INT32};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.types = types;
    o.n = 2;
    o.all_columns = false;
    const char *t1 = "id,v\n1,2\nabc,3\n";
    CHECK_EQ_STR(rd_err_opts(t1, strlen(t1), &o, LDR_EINVAL),
                 "t.csv:3: column 'id': invalid Int64 \"abc\": not an integer");
    const char *t2 = "id,v,s\n1,2,\"x\ny\"\n4,2147483648,z\n";
    CHECK_EQ_STR(rd_err_opts(t2, strlen(t2), &o, LDR_EINVAL),
                 "t.csv:4: column 'v': invalid Int32 \"2147483648\": out of range "
                 "(-2147483648 to 2147483647)");
    types[1] = LDR_TYPE_UNIX_TIMESTAMP;
    const char *t3 = "id,v\n1,2024-13-01\n";
    const char *msg = rd_err_opts(t3, strlen(t3), &o, LDR_EINVAL);
    CHECK(strncmp(msg, "t.csv:2: column 'v': ", 21) == 0);
    types[1] = LDR_TYPE_INT64_LIST;
    const char *t4 = "id,v\n1,\"[1, x]\"\n";
    CHECK_EQ_STR(rd_err_opts(t4, strlen(t4), &o, LDR_EINVAL),
                 "t.csv:2: column 'v': invalid Array(Int64) \"[1, x]\": element 2: invalid "
                 "Int64 \"x\": not an integer");
    types[1] = LDR_TYPE_BOOL;
    const char *t5 = "id,v\n1,yes\n";
    CHECK_EQ_STR(rd_err_opts(t5, strlen(t5), &o, LDR_EINVAL),
                 "t.csv:2: column 'v': invalid Bool \"yes\": expected true, false, 1 or 0");
}

TEST(error_missing_schema_column)
{
    const char *names[] = {"a", "x"};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.n = 2;
    const char *t = "a,b,c\n1,2,3\n";
    CHECK_EQ_STR(rd_err_opts(t, strlen(t), &o, LDR_EINVAL),
                 "t.csv: missing column 'x' (header has: a, b, c)");
    /* a long header is cut short */
    ldr_buf h;
    ldr_err err = {0};
    ldr_buf_init(&h, 1 << 20);
    for (int i = 0; i < 200; i++)
        CHECK_OK(ldr_buf_printf(&h, &err, "%scolumn_number_%d", i ? "," : "", i), err);
    CHECK_OK(ldr_buf_puts(&h, "\n", &err), err);
    const char *msg = rd_err_opts(h.ptr, h.len, &o, LDR_EINVAL);
    CHECK(strncmp(msg, "t.csv: missing column 'a' (header has: column_number_0, ", 56) == 0);
    CHECK_CONTAINS(msg, ", ...)");
    ldr_buf_fini(&h);
    const char *dup[] = {"a", "a"};
    o.names = dup;
    CHECK_EQ_STR(rd_err_opts(t, strlen(t), &o, LDR_EINVAL), "t.csv: column 'a' is requested twice");
}

/* ---- schema, projection, inference ------------------------------------------------------ */

TEST(schema_projection_skips_columns)
{
    const char *names[] = {"c", "a"};
    ldr_type types[] = {LDR_TYPE_FLOAT32, LDR_TYPE_INT32};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.types = types;
    o.n = 2; /* the default all_columns = false: only the schema columns */
    /* b holds junk that would fail any conversion: skipped columns are never looked at */
    const char *t = "a,b,c\n1,\"junk\"\"\n,\",0.1\n-2,zz,\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (!b)
        return;
    CHECK_EQ_I64(b->n_cols, 2);
    CHECK_EQ_STR(b->names[0], "c");
    CHECK_EQ_STR(b->names[1], "a");
    CHECK_EQ_I64(type_of(b, "c"), LDR_TYPE_FLOAT32);
    CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_INT32);
    CHECK(ldr_col_f32(col_of(b, "c"), 0) == 0.1f);
    CHECK_EQ_STR(cell(b, "c", 1), "<null>");
    CHECK_EQ_I64(ldr_col_i32(col_of(b, "a"), 1), -2);
    ldr_batch_free(b);
}

TEST(schema_all_types)
{
    const char *names[] = {"i32", "i64", "f32", "f64", "b", "ts", "s", "by", "li", "ls", "lt"};
    ldr_type types[] = {LDR_TYPE_INT32,
                        LDR_TYPE_INT64,
                        LDR_TYPE_FLOAT32,
                        LDR_TYPE_FLOAT64,
                        LDR_TYPE_BOOL,
                        LDR_TYPE_UNIX_TIMESTAMP,
                        LDR_TYPE_STRING,
                        LDR_TYPE_BYTES,
                        LDR_TYPE_INT64_LIST,
                        LDR_TYPE_STRING_LIST,
                        LDR_TYPE_UNIX_TIMESTAMP_LIST};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.types = types;
    o.n = LDR_ARRAY_LEN(names);
    o.all_columns = false;
    const char *t =
        "i32,i64,f32,f64,b,ts,s,by,li,ls,lt\n"
        " 7 ,-9223372036854775808,1.5,nan,TRUE,2024-01-02T03:04:05+02:00, x ,\\x,\"[1, 2]\","
        "\"[\"\"a\"\", null]\",\"[\"\"2024-01-01\"\"]\"\n"
        "-2147483648,9223372036854775807,-inf,1e300,0,1700000000,\"\",\"\",[],[],[]\n"
        ",,,,,2024-01-02,,,,,\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (!b)
        return;
    CHECK_EQ_I64(b->n_rows, 3);
    CHECK_EQ_I64(ldr_col_i32(col_of(b, "i32"), 0), 7); /* spaces around numbers ignored */
    CHECK_EQ_I64(ldr_col_i32(col_of(b, "i32"), 1), INT32_MIN);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "i64"), 0), INT64_MIN);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "i64"), 1), INT64_MAX);
    CHECK_EQ_F64(ldr_col_f32(col_of(b, "f32"), 0), 1.5);
    CHECK(isinf(ldr_col_f32(col_of(b, "f32"), 1)));
    CHECK(isnan(ldr_col_f64(col_of(b, "f64"), 0)));
    CHECK_EQ_F64(ldr_col_f64(col_of(b, "f64"), 1), 1e300);
    CHECK(ldr_col_bool(col_of(b, "b"), 0));
    CHECK(!ldr_col_bool(col_of(b, "b"), 1));
    CHECK_EQ_STR(cell(b, "ts", 0), "2024-01-02T01:04:05Z");
    CHECK_EQ_STR(cell(b, "ts", 1), "2023-11-14T22:13:20Z"); /* epoch seconds */
    CHECK_EQ_STR(cell(b, "ts", 2), "2024-01-02T00:00:00Z");
    CHECK_EQ_STR(cell(b, "s", 0), " x ");
    CHECK_EQ_STR(cell(b, "s", 1), "<null>");
    CHECK_EQ_STR(cell(b, "by", 0), "\\x");
    CHECK_EQ_STR(cell(b, "li", 0), "[1, 2]");
    CHECK_EQ_STR(cell(b, "li", 1), "[]");
    CHECK_EQ_STR(cell(b, "li", 2), "<null>");
    CHECK_EQ_STR(cell(b, "ls", 0), "[\"a\", null]");
    CHECK_EQ_STR(cell(b, "lt", 0), "[\"2024-01-01T00:00:00Z\"]");
    for (size_t j = 0; j < b->n_cols; j++) {
        if (strcmp(b->names[j], "ts") != 0)
            CHECK(!ldr_col_valid(b->cols[j], 2));
    }
    ldr_batch_free(b);
}

TEST(infer_each_type)
{
    const char *t = "i,f,fi,b,ts,d,s,big,e,nanonly,nanmix,ws,mixed_ib,mixed_tn\n"
                    "1,1.5,1,true,2024-01-02T03:04:05Z,2024-01-02,x,9223372036854775808,1e3,"
                    "nan,NaN,\" 12 \",1,2024-01-01\n"
                    "-20,-2,2.5,FALSE,2024-01-02 03:04:05.5+01:00,2023-12-31,1,1,,inf,3,7,"
                    "true,5\n"
                    "+3,.5,,True,,,2.5,2,-2E-3,-Infinity,-inf,,0,\n";
    ldr_batch *b = rd(t);
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "i"), LDR_TYPE_INT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "i"), 2), 3);
    CHECK_EQ_I64(type_of(b, "f"), LDR_TYPE_FLOAT64);
    CHECK_EQ_F64(ldr_col_f64(col_of(b, "f"), 2), 0.5);
    CHECK_EQ_I64(type_of(b, "fi"), LDR_TYPE_FLOAT64); /* ints and floats mixed */
    CHECK_EQ_F64(ldr_col_f64(col_of(b, "fi"), 0), 1.0);
    CHECK_EQ_I64(type_of(b, "b"), LDR_TYPE_BOOL);
    CHECK(ldr_col_bool(col_of(b, "b"), 2));
    CHECK(!ldr_col_bool(col_of(b, "b"), 1));
    CHECK_EQ_I64(type_of(b, "ts"), LDR_TYPE_UNIX_TIMESTAMP);
    CHECK_EQ_STR(cell(b, "ts", 1), "2024-01-02T02:04:05.500Z");
    CHECK_EQ_STR(cell(b, "ts", 2), "<null>");
    CHECK_EQ_I64(type_of(b, "d"), LDR_TYPE_UNIX_TIMESTAMP); /* date-only */
    CHECK_EQ_STR(cell(b, "d", 1), "2023-12-31T00:00:00Z");
    CHECK_EQ_I64(type_of(b, "s"), LDR_TYPE_STRING);
    CHECK_EQ_STR(cell(b, "s", 1), "1");                /* verbatim text of the mixed column */
    CHECK_EQ_I64(type_of(b, "big"), LDR_TYPE_FLOAT64); /* past int64: a float */
    CHECK_EQ_I64(type_of(b, "e"), LDR_TYPE_FLOAT64);
    CHECK_EQ_F64(ldr_col_f64(col_of(b, "e"), 2), -2e-3);
    CHECK_EQ_I64(type_of(b, "nanonly"), LDR_TYPE_STRING); /* only words: strings */
    CHECK_EQ_I64(type_of(b, "nanmix"), LDR_TYPE_FLOAT64);
    CHECK(isnan(ldr_col_f64(col_of(b, "nanmix"), 0)));
    CHECK(isinf(ldr_col_f64(col_of(b, "nanmix"), 2)));
    CHECK_EQ_I64(type_of(b, "ws"), LDR_TYPE_INT64); /* " 12 " is 12 */
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "ws"), 0), 12);
    CHECK_EQ_I64(type_of(b, "mixed_ib"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "mixed_tn"), LDR_TYPE_STRING);
    ldr_batch_free(b);
}

TEST(infer_edge_cases)
{
    /* 1/0 are integers, not bools; leading zeros are integers; huge exponents that
     * overflow a double fall back to String; quoted numbers are numbers */
    ldr_batch *b = rd("a,z,o,q,w\n1,007,1e999,\"42\",  \n0,010,1,\"7\",\n");
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_INT64);
    CHECK_EQ_I64(type_of(b, "z"), LDR_TYPE_INT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "z"), 0), 7);
    CHECK_EQ_I64(type_of(b, "o"), LDR_TYPE_STRING);
    CHECK_EQ_STR(cell(b, "o", 0), "1e999");
    CHECK_EQ_I64(type_of(b, "q"), LDR_TYPE_INT64);
    CHECK_EQ_I64(type_of(b, "w"), LDR_TYPE_STRING); /* whitespace only: kept as text */
    CHECK_EQ_STR(cell(b, "w", 0), "  ");
    ldr_batch_free(b);
    /* strings that merely look like dates or numbers at first */
    b = rd("d,n,x,h\n2024-01-02,1.,-,0x10\n2024-01-02x,2,+,1\n");
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "d"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "n"), LDR_TYPE_FLOAT64);
    CHECK_EQ_I64(type_of(b, "x"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "h"), LDR_TYPE_STRING); /* hex is not inferred */
    ldr_batch_free(b);
    /* int64 limits exactly */
    b = rd("lo,hi,over\n-9223372036854775808,9223372036854775807,-9223372036854775809\n"
           "-0000000000000000000001,+00000000000000000000009223372036854775807,1\n");
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "lo"), LDR_TYPE_INT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "lo"), 0), INT64_MIN);
    CHECK_EQ_I64(type_of(b, "hi"), LDR_TYPE_INT64);
    CHECK_EQ_I64(ldr_col_i64(col_of(b, "hi"), 1), INT64_MAX);
    CHECK_EQ_I64(type_of(b, "over"), LDR_TYPE_FLOAT64);
    ldr_batch_free(b);
}

TEST(infer_off_gives_strings)
{
    ldr_csv_read_opts o = opts_default();
    o.infer = false;
    const char *t = "a,b\n1,true\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "b"), LDR_TYPE_STRING);
    CHECK_EQ_STR(cell(b, "b", 0), "true");
    ldr_batch_free(b);
}

TEST(partial_schema_with_inference)
{
    /* entity file: the key gets the entity type (String, though it looks like an int),
     * the other columns pass through, inferred, in file order */
    const char *names[] = {"driver_id", "event_timestamp"};
    ldr_type types[] = {LDR_TYPE_STRING, LDR_TYPE_INVALID};
    ldr_csv_read_opts o = opts_default();
    o.names = names;
    o.types = types;
    o.n = 2;
    o.all_columns = true;
    o.infer = true;
    const char *t = "label,driver_id,event_timestamp,weight\n"
                    "1,1001,2024-01-01T00:00:00Z,0.5\n"
                    "0,1002,2024-01-02T00:00:00Z,1\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (!b)
        return;
    CHECK_EQ_I64(b->n_cols, 4);
    CHECK_EQ_STR(b->names[0], "label");
    CHECK_EQ_STR(b->names[1], "driver_id");
    CHECK_EQ_STR(b->names[2], "event_timestamp");
    CHECK_EQ_STR(b->names[3], "weight");
    CHECK_EQ_I64(type_of(b, "label"), LDR_TYPE_INT64);
    CHECK_EQ_I64(type_of(b, "driver_id"), LDR_TYPE_STRING);
    CHECK_EQ_STR(cell(b, "driver_id", 1), "1002");
    CHECK_EQ_I64(type_of(b, "event_timestamp"), LDR_TYPE_UNIX_TIMESTAMP);
    CHECK_EQ_I64(type_of(b, "weight"), LDR_TYPE_FLOAT64);
    ldr_batch_free(b);
    /* without infer the others are strings; the typed key still converts */
    types[0] = LDR_TYPE_INT64;
    o.infer = false;
    b = rd_opts(t, strlen(t), &o);
    if (!b)
        return;
    CHECK_EQ_I64(type_of(b, "driver_id"), LDR_TYPE_INT64);
    CHECK_EQ_I64(type_of(b, "label"), LDR_TYPE_STRING);
    CHECK_EQ_I64(type_of(b, "event_timestamp"), LDR_TYPE_STRING);
    ldr_batch_free(b);
    /* names without types (types == NULL): a projection with inference */
    const char *proj[] = {"weight"};
    ldr_csv_read_opts p = opts_default();
    p.names = proj;
    p.n = 1;
    p.all_columns = false;
    b = rd_opts(t, strlen(t), &p);
    if (!b)
        return;
    CHECK_EQ_I64(b->n_cols, 1);
    CHECK_EQ_I64(type_of(b, "weight"), LDR_TYPE_FLOAT64);
    ldr_batch_free(b);
}

TEST(zero_initialised_opts_and_null_opts)
{
    ldr_csv_read_opts o;
    memset(&o, 0, sizeof o); /* all columns, Strings, default limits and ',' */
    const char *t = "a,b\n1,2\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (b) {
        CHECK_EQ_I64(b->n_cols, 2);
        CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_STRING);
        ldr_batch_free(b);
    }
    ldr_err err = {0};
    CHECK_OK(ldr_csv_read_mem("t.csv", t, strlen(t), NULL, &b, &err), err);
    if (b) {
        CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_INT64); /* NULL = the defaults: inferred */
        ldr_batch_free(b);
    }
}

/* ---- limits and hostile input ------------------------------------------------------------ */

TEST(limit_field_bytes)
{
    ldr_csv_read_opts o = opts_default();
    o.max_field_bytes = 4;
    CHECK_EQ_STR(rd_err_opts("a\n1234\n12345\n", 13, &o, LDR_ELIMIT),
                 "t.csv:3:1: field is longer than the limit of 4 bytes (max_field_bytes)");
    const char *t2 = "a,b\n1,\"12\n\"\"45\"\n";
    CHECK_EQ_STR(rd_err_opts(t2, strlen(t2), &o, LDR_ELIMIT),
                 "t.csv:2:3: field is longer than the limit of 4 bytes (max_field_bytes)");
    CHECK_EQ_STR(rd_err_opts("abcde\n", 6, &o, LDR_ELIMIT),
                 "t.csv:1:1: field is longer than the limit of 4 bytes (max_field_bytes)");
    /* the limit counts the bytes as written: "12""" holds 4 (the value is 3) */
    const char *t = "a\n\"12\"\"\"\n";
    ldr_batch *b = rd_opts(t, strlen(t), &o);
    if (b) {
        CHECK_EQ_STR(cell(b, "a", 0), "12\"");
        ldr_batch_free(b);
    }
}

TEST(limit_default_field_bytes)
{
    /* a 17 MiB field passes the default 16 MiB limit; 1 MiB is fine */
    size_t big = ((size_t)17 << 20);
    char *t = ldr_xmalloc(big + 16);
    memcpy(t, "a\n", 2);
    memset(t + 2, 'x', big);
    ldr_csv_read_opts o = opts_default();
    CHECK_EQ_STR(rd_err_opts(t, big + 2, &o, LDR_ELIMIT),
                 "t.csv:2:1: field is longer than the limit of 16777216 bytes (max_field_bytes)");
    ldr_batch *b = rd_opts(t, ((size_t)1 << 20) + 2, &o);
    if (b) {
        size_t len;
        (void)ldr_col_str(col_of(b, "a"), 0, &len);
        CHECK_EQ_I64(len, 1 << 20);
        ldr_batch_free(b);
    }
    ldr_free(t);
}

TEST(limit_rows_and_columns)
{
    ldr_csv_read_opts o = opts_default();
    o.max_rows = 2;
    ldr_batch *b = rd_opts("a\n1\n2\n", 6, &o);
    if (b) {
        CHECK_EQ_I64(b->n_rows, 2);
        ldr_batch_free(b);
    }
    CHECK_EQ_STR(rd_err_opts("a\n1\n2\n\n3\n", 9, &o, LDR_ELIMIT),
                 "t.csv:5: more than 2 data rows (max_rows)");
    o = opts_default();
    o.max_columns = 3;
    CHECK_EQ_STR(rd_err_opts("a,b,c,d\n", 8, &o, LDR_ELIMIT),
                 "t.csv:1: the header has more than 3 columns (max_columns)");
    b = rd_opts("a,b,c\n1,2,3\n", 12, &o);
    if (b) {
        CHECK_EQ_I64(b->n_cols, 3);
        ldr_batch_free(b);
    }
}

TEST(hostile_million_column_header)
{
    size_t n = 1000000;
    char *t = ldr_xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        t[2 * i] = 'x';
        t[2 * i + 1] = i + 1 == n ? '\n' : ',';
    }
    ldr_csv_read_opts o = opts_default();
    CHECK_EQ_STR(rd_err_opts(t, 2 * n, &o, LDR_ELIMIT),
                 "t.csv:1: the header has more than 65536 columns (max_columns)");
    /* and a data row with a million fields under a short header is only counted */
    memcpy(t, "a\n", 2);
    CHECK_EQ_STR(rd_err_opts(t, 2 * n, &o, LDR_EINVAL), "t.csv:2: expected 1 field, got 999999");
    ldr_free(t);
}

TEST(hostile_unterminated_quote_large)
{
    size_t n = (size_t)4 << 20;
    char *t = ldr_xmalloc(n);
    memset(t, 'y', n);
    memcpy(t, "a,b\n1,\"", 7);
    for (size_t i = 100; i < n; i += 100)
        t[i] = '\n';
    ldr_csv_read_opts o = opts_default();
    CHECK_EQ_STR(rd_err_opts(t, n, &o, LDR_EINVAL), "t.csv:2:3: unterminated quoted field");
    ldr_free(t);
}

/* Random bytes from a CSV-heavy alphabet: never a crash; errors always carry a message;
 * successes have consistent shapes. */
TEST(hostile_random_inputs)
{
    static const char alphabet[] = {',', '"', '\n', '\r', 'a', '1', ' ', '\0', '.', '-', 'e', 't'};
    char text[96];
    size_t ok = 0, failed = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rng_next() % sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = alphabet[rng_next() % sizeof alphabet];
        ldr_csv_read_opts o = opts_default();
        o.infer = (round & 1) == 0;
        o.max_field_bytes = round % 3 == 0 ? 8 : 0;
        ldr_batch *b = NULL;
        ldr_err err = {0};
        ldr_code rc = ldr_csv_read_mem("r.csv", text, len, &o, &b, &err);
        if (rc == LDR_OK) {
            ok++;
            CHECK(b != NULL && b->n_cols > 0);
            for (size_t j = 0; b && j < b->n_cols; j++)
                CHECK(b->cols[j]->n == b->n_rows);
            ldr_batch_free(b);
        } else {
            failed++;
            CHECK(b == NULL);
            CHECK(strncmp(err.msg, "r.csv:", 6) == 0);
        }
    }
    CHECK(ok > 1000);
    CHECK(failed > 1000);
}

/* ---- writers: exact output ----------------------------------------------------------------- */

static ldr_batch *sample_batch(void)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "id", MAKE_COL(LDR_TYPE_INT64, "1", "2", "3"));
    ldr_batch_add(b, "name", MAKE_COL(LDR_TYPE_STRING, "a", "b,c", NUL_V));
    ldr_batch_add(b, "score", MAKE_COL(LDR_TYPE_FLOAT64, "0.5", "nan", "1e20"));
    ldr_batch_add(b, "ok", MAKE_COL(LDR_TYPE_BOOL, "true", "false", NUL_V));
    ldr_batch_add(
        b, "ts",
        MAKE_COL(LDR_TYPE_UNIX_TIMESTAMP, "1970-01-01", "2023-11-14T22:13:20.123Z", NUL_V));
    ldr_batch_add(b, "tags", MAKE_COL(LDR_TYPE_STRING_LIST, "[\"x\", \"y\"]", "[]", NUL_V));
    return b;
}

TEST(csv_writer_exact)
{
    ldr_batch *b = sample_batch();
    char *s = render(ldr_csv_write_batch, b, NULL);
    CHECK_EQ_STR(s, "id,name,score,ok,ts,tags\n"
                    "1,a,0.5,true,1970-01-01T00:00:00Z,\"[\"\"x\"\", \"\"y\"\"]\"\n"
                    "2,\"b,c\",nan,false,2023-11-14T22:13:20.123Z,[]\n"
                    "3,,1e+20,,,\n");
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(jsonl_writer_exact)
{
    ldr_batch *b = sample_batch();
    char *s = render(ldr_jsonl_write_batch, b, NULL);
    CHECK_EQ_STR(s, "{\"id\":1,\"name\":\"a\",\"score\":0.5,\"ok\":true,"
                    "\"ts\":\"1970-01-01T00:00:00Z\",\"tags\":[\"x\",\"y\"]}\n"
                    "{\"id\":2,\"name\":\"b,c\",\"score\":null,\"ok\":false,"
                    "\"ts\":\"2023-11-14T22:13:20.123Z\",\"tags\":[]}\n"
                    "{\"id\":3,\"name\":null,\"score\":1e+20,\"ok\":null,\"ts\":null,"
                    "\"tags\":null}\n");
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(csv_quoting_rules)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "s",
                  MAKE_COL(LDR_TYPE_STRING, "plain", "a,b", "q\"q", "l\nf", "c\rr", " lead",
                           "trail\t", "mid space", "\357\273\277bom", "", NUL_V, "'single'"));
    ldr_batch_add(
        b, "n",
        MAKE_COL(LDR_TYPE_INT32, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"));
    char *s = render(ldr_csv_write_batch, b, NULL);
    CHECK_EQ_STR(s, "s,n\n"
                    "plain,1\n"
                    "\"a,b\",2\n"
                    "\"q\"\"q\",3\n"
                    "\"l\nf\",4\n"
                    "\"c\rr\",5\n"
                    "\" lead\",6\n"
                    "\"trail\t\",7\n"
                    "mid space,8\n"
                    "\"\357\273\277bom\",9\n"
                    ",10\n"
                    ",11\n"
                    "'single',12\n");
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(csv_single_column_nulls)
{
    /* a one-column null would be a blank line, which readers skip: written as "" */
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "x", MAKE_COL(LDR_TYPE_INT64, "1", NUL_V, "3"));
    char *s = render(ldr_csv_write_batch, b, NULL);
    CHECK_EQ_STR(s, "x\n1\n\"\"\n3\n");
    ldr_batch *back = reread(b, s, strlen(s));
    if (back) {
        CHECK(batches_equal(b, back));
        ldr_batch_free(back);
    }
    ldr_free(s);
    ldr_batch_free(b);
    /* header names quoted as needed; an empty name as "" */
    const char *names[] = {"a b", "c,d", "", "e\"f"};
    char *ptr = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ptr, &len);
    ldr_err err = {0};
    CHECK_OK(ldr_csv_write_header(names, 4, f, &err), err);
    fclose(f);
    CHECK_EQ_STR(ptr, "a b,\"c,d\",\"\",\"e\"\"f\"\n");
    free(ptr); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
}

TEST(format_value_every_type)
{
    ldr_col *c = MAKE_COL(LDR_TYPE_FLOAT32, "0.1", "-0", "inf", "3e38", "1");
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "f32", c);
    ldr_batch_add(b, "f64", MAKE_COL(LDR_TYPE_FLOAT64, "0.1", "-0", "-inf", "5e-324", "123456789"));
    ldr_batch_add(b, "i32",
                  MAKE_COL(LDR_TYPE_INT32, "-2147483648", "0", "2147483647", "-1", NUL_V));
    ldr_batch_add(
        b, "i64",
        MAKE_COL(LDR_TYPE_INT64, "-9223372036854775808", "0", "9223372036854775807", "-10", "10"));
    ldr_batch_add(
        b, "ts",
        MAKE_COL(LDR_TYPE_UNIX_TIMESTAMP, "-1", "0", "1", "2024-02-29T23:59:59.000001Z", "1"));
    ldr_batch_add(b, "by", MAKE_COL(LDR_TYPE_BYTES, "\xff\x01", "f", "fo", "foo", ""));
    ldr_batch_add(b, "lb",
                  MAKE_COL(LDR_TYPE_BYTES_LIST, "[\"\\u00ff\\u0001\\\"\"]", "[null]", "[]", NUL_V,
                           "[\"\", \"a\"]"));
    ldr_batch_add(
        b, "lf",
        MAKE_COL(LDR_TYPE_FLOAT64_LIST, "[nan, inf, -inf, 0.5, null]", "[1]", "[]", "[-0]", NUL_V));
    ldr_batch_add(b, "lbo",
                  MAKE_COL(LDR_TYPE_BOOL_LIST, "[true, false]", "[null]", "[]", "[]", "[1]"));
    if (b->n_rows != 5) {
        HARNESS_FAIL("setup");
        ldr_batch_free(b);
        return;
    }
    CHECK_EQ_STR(cell(b, "f32", 0), "0.1");
    CHECK_EQ_STR(cell(b, "f32", 1), "-0.0");
    CHECK_EQ_STR(cell(b, "f32", 2), "inf");
    CHECK_EQ_STR(cell(b, "f32", 3), "3e+38");
    CHECK_EQ_STR(cell(b, "f32", 4), "1.0");
    CHECK_EQ_STR(cell(b, "f64", 0), "0.1");
    CHECK_EQ_STR(cell(b, "f64", 2), "-inf");
    CHECK_EQ_STR(cell(b, "f64", 3), "5e-324");
    CHECK_EQ_STR(cell(b, "f64", 4), "123456789.0");
    CHECK_EQ_STR(cell(b, "i32", 0), "-2147483648");
    CHECK_EQ_STR(cell(b, "i64", 0), "-9223372036854775808");
    CHECK_EQ_STR(cell(b, "i64", 2), "9223372036854775807");
    CHECK_EQ_STR(cell(b, "i64", 3), "-10");
    CHECK_EQ_STR(cell(b, "ts", 0), "1969-12-31T23:59:59Z");
    CHECK_EQ_STR(cell(b, "ts", 3), "2024-02-29T23:59:59.000001Z");
    CHECK_EQ_STR(cell(b, "by", 0), "\xff\x01");
    CHECK_EQ_STR(cell(b, "lb", 0), "[\"\\u00ff\\u0001\\\"\"]");
    CHECK_EQ_STR(cell(b, "lb", 1), "[null]");
    CHECK_EQ_STR(cell(b, "lb", 4), "[\"\", \"a\"]");
    CHECK_EQ_STR(cell(b, "lf", 0), "[nan, inf, -inf, 0.5, null]");
    CHECK_EQ_STR(cell(b, "lf", 3), "[-0.0]");
    CHECK_EQ_STR(cell(b, "lbo", 0), "[true, false]");
    /* JSON forms */
    CHECK_EQ_STR(jcell(col_of(b, "f32"), 2), "null");
    CHECK_EQ_STR(jcell(col_of(b, "f32"), 0), "0.1");
    CHECK_EQ_STR(jcell(col_of(b, "f64"), 2), "null");
    CHECK_EQ_STR(jcell(col_of(b, "f64"), 3), "5e-324");
    CHECK_EQ_STR(jcell(col_of(b, "i32"), 4), "null");
    CHECK_EQ_STR(jcell(col_of(b, "ts"), 0), "\"1969-12-31T23:59:59Z\"");
    CHECK_EQ_STR(jcell(col_of(b, "by"), 0), "\"/wE=\"");
    CHECK_EQ_STR(jcell(col_of(b, "by"), 1), "\"Zg==\"");
    CHECK_EQ_STR(jcell(col_of(b, "by"), 2), "\"Zm8=\"");
    CHECK_EQ_STR(jcell(col_of(b, "by"), 3), "\"Zm9v\"");
    CHECK_EQ_STR(jcell(col_of(b, "by"), 4), "\"\"");
    CHECK_EQ_STR(jcell(col_of(b, "lb"), 0), "[\"/wEi\"]");
    CHECK_EQ_STR(jcell(col_of(b, "lb"), 4), "[\"\",\"YQ==\"]");
    CHECK_EQ_STR(jcell(col_of(b, "lf"), 0), "[null,null,null,0.5,null]");
    CHECK_EQ_STR(jcell(col_of(b, "lbo"), 1), "[null]");
    /* limits of the output buffer are reported */
    ldr_buf small;
    ldr_err err = {0};
    ldr_buf_init(&small, 4);
    CHECK_FAILS(ldr_csv_format_value(col_of(b, "i64"), 0, &small, &err), LDR_ELIMIT);
    CHECK_FAILS(ldr_json_format_value(col_of(b, "lf"), 0, &small, &err), LDR_ELIMIT);
    ldr_buf_fini(&small);
    ldr_batch_free(b);
}

/* A double of one of several shapes: short decimals (the writer's fast path), integers,
 * tiny and huge magnitudes, boundary values and random bit patterns. */
static double random_double(void)
{
    static const double edges[] = {1e-4,
                                   9.999999999999999e-5,
                                   1e15,
                                   999999999999999.0,
                                   999999999999999.9,
                                   1e-5,
                                   0.1,
                                   0.3,
                                   1.0 / 3,
                                   123456789012345.6,
                                   2.5e-4,
                                   1e22,
                                   9007199254740993.0};
    uint64_t r = rng_next();
    double sign = (r & 1) ? -1.0 : 1.0;
    switch ((r >> 1) % 5) {
    case 0: {
        double m = (double)(rng_next() % 1000000000000000ULL >> (rng_next() % 50));
        return sign * m / pow(10.0, (double)(rng_next() % 20));
    }
    case 1:
        return sign * (double)(rng_next() % 100000);
    case 2:
        return sign * edges[rng_next() % LDR_ARRAY_LEN(edges)];
    case 3: {
        double x;
        uint64_t bits = rng_next();
        memcpy(&x, &bits, sizeof x);
        return x;
    }
    default:
        return sign * (double)(rng_next() % 1000) / 8.0;
    }
}

/* The writer's float and timestamp text equals core's (ldr_fmt_double, ldr_fmt_float,
 * ldr_ts_format) for every value: the writer has printf-free fast paths for both. */
TEST(fast_formatting_matches_core)
{
    size_t n = 200000;
    ldr_col *d = ldr_col_new(LDR_TYPE_FLOAT64, n), *f = ldr_col_new(LDR_TYPE_FLOAT32, n);
    ldr_col *t = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, n);
    for (size_t i = 0; i < n; i++) {
        double x = random_double();
        ldr_col_append_f64(d, x);
        float y = (float)x;
        if (i % 3 == 0)
            y = (float)(int32_t)(rng_next() % 2000001) - 1000000.0f;
        ldr_col_append_f32(f, y);
        uint64_t r = rng_next();
        int64_t ts = (int64_t)r;
        if (i % 4 == 1)
            ts = (int64_t)(r % UINT64_C(630000000000000000)) - INT64_C(62135596800000000);
        else if (i % 4 == 2)
            ts = (int64_t)(r % UINT64_C(4000000000)) * 1000000 + (int64_t)(rng_next() % 3) * 1000;
        else if (i % 4 == 3)
            ts = (int64_t)(r % UINT64_C(4000000000000000));
        ldr_col_append_i64(t, ts);
    }
    ldr_buf out;
    ldr_err err = {0};
    ldr_buf_init(&out, 1 << 10);
    size_t bad = 0;
    for (size_t i = 0; i < n && bad < 5; i++) {
        char want[LDR_TS_BUFSZ > 32 ? LDR_TS_BUFSZ : 32];
        ldr_buf_reset(&out);
        CHECK_OK(ldr_csv_format_value(d, i, &out, &err), err);
        ldr_fmt_double(ldr_col_f64(d, i), want);
        if (strcmp(out.ptr, want) != 0 && ++bad)
            HARNESS_FAIL("double %.17g: %s != %s", ldr_col_f64(d, i), out.ptr, want);
        ldr_buf_reset(&out);
        CHECK_OK(ldr_csv_format_value(f, i, &out, &err), err);
        ldr_fmt_float(ldr_col_f32(f, i), want);
        if (strcmp(out.ptr, want) != 0 && ++bad)
            HARNESS_FAIL("float %.9g: %s != %s", (double)ldr_col_f32(f, i), out.ptr, want);
        ldr_buf_reset(&out);
        CHECK_OK(ldr_csv_format_value(t, i, &out, &err), err);
        ldr_ts_format(ldr_col_i64(t, i), want);
        if (strcmp(out.ptr, want) != 0 && ++bad)
            HARNESS_FAIL("ts %" PRId64 ": %s != %s", ldr_col_i64(t, i), out.ptr, want);
    }
    /* the range edges of the timestamp fast path */
    static const int64_t edges[] = {INT64_C(-62135596800000000),
                                    INT64_C(-62135596800000001),
                                    INT64_C(253402300799999999),
                                    INT64_C(253402300800000000),
                                    INT64_MIN,
                                    INT64_MAX,
                                    0,
                                    -1};
    for (size_t i = 0; i < LDR_ARRAY_LEN(edges); i++) {
        ldr_col *e = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, 1);
        ldr_col_append_i64(e, edges[i]);
        char want[LDR_TS_BUFSZ];
        ldr_buf_reset(&out);
        CHECK_OK(ldr_csv_format_value(e, 0, &out, &err), err);
        CHECK_EQ_STR(out.ptr, ldr_ts_format(edges[i], want));
        ldr_col_free(e);
    }
    ldr_buf_fini(&out);
    ldr_col_free(d);
    ldr_col_free(f);
    ldr_col_free(t);
}

TEST(json_strings_escapes_and_utf8)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "s",
                  MAKE_COL(LDR_TYPE_STRING, "q\"b\\n\nr\rt\tc\001d\x7f",
                           "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "a\377b", "\xc0\x80",
                           "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"));
    ldr_batch_add(b, "k\"ey\x01", MAKE_COL(LDR_TYPE_INT32, "1", "2", "3", "4", "5", "6", "7"));
    const ldr_col *c = col_of(b, "s");
    if (!c || c->n != 7) {
        ldr_batch_free(b);
        return;
    }
    CHECK_EQ_STR(jcell(c, 0), "\"q\\\"b\\\\n\\nr\\rt\\tc\\u0001d\\u007f\"");
    CHECK_EQ_STR(jcell(c, 1), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    CHECK_EQ_STR(jcell(c, 2), "\"a\\ufffdb\"");
    CHECK_EQ_STR(jcell(c, 3), "\"\\ufffd\\ufffd\"");               /* overlong */
    CHECK_EQ_STR(jcell(c, 4), "\"\\ufffd\\ufffd\\ufffd\"");        /* surrogate */
    CHECK_EQ_STR(jcell(c, 5), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    CHECK_EQ_STR(jcell(c, 6), "\"\\ufffd\\ufffd\"");               /* truncated */
    /* every line of the JSONL output is valid JSON (jansson rejects invalid UTF-8) */
    size_t len;
    char *s = render(ldr_jsonl_write_batch, b, &len);
    char *save = NULL;
    size_t lines = 0;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        CHECK(j != NULL);
        if (j) {
            CHECK(json_object_size(j) == 2);
            CHECK(json_integer_value(json_object_get(j, "k\"ey\x01")) == (json_int_t)lines + 1);
            json_decref(j);
        }
        lines++;
    }
    CHECK_EQ_I64(lines, 7);
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(writers_resolve_dictionaries)
{
    ldr_col *dict = MAKE_COL(LDR_TYPE_STRING, "red", "green, blue");
    ldr_col *c = ldr_col_new_dict(LDR_TYPE_STRING, dict, 4);
    ldr_col_append_index(c, 1);
    ldr_col_append_index(c, 0);
    ldr_col_append_null(c);
    ldr_col_append_index(c, 1);
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "color", c);
    ldr_batch_add(b, "n", MAKE_COL(LDR_TYPE_INT64, "1", "2", "3", "4"));
    char *s = render(ldr_csv_write_batch, b, NULL);
    CHECK_EQ_STR(s, "color,n\n\"green, blue\",1\nred,2\n,3\n\"green, blue\",4\n");
    ldr_free(s);
    s = render(ldr_jsonl_write_rows, b, NULL);
    CHECK_EQ_STR(s, "{\"color\":\"green, blue\",\"n\":1}\n{\"color\":\"red\",\"n\":2}\n"
                    "{\"color\":null,\"n\":3}\n{\"color\":\"green, blue\",\"n\":4}\n");
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(writers_empty_batches)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "a", ldr_col_new(LDR_TYPE_INT64, 0));
    ldr_batch_add(b, "b", ldr_col_new(LDR_TYPE_STRING, 0));
    char *s = render(ldr_csv_write_batch, b, NULL);
    CHECK_EQ_STR(s, "a,b\n");
    ldr_batch *back = reread(b, s, strlen(s));
    if (back) {
        CHECK(batches_equal(b, back));
        ldr_batch_free(back);
    }
    ldr_free(s);
    s = render(ldr_jsonl_write_batch, b, NULL);
    CHECK_EQ_STR(s, "");
    ldr_free(s);
    ldr_batch_free(b);
}

TEST(writers_report_io_errors)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        printf("# skipped: no /dev/full\n");
        return;
    }
    ldr_batch *b = sample_batch();
    ldr_err err = {0};
    CHECK_FAILS(ldr_csv_write_batch(b, f, &err), LDR_EIO);
    CHECK_EQ_STR(err.msg, "cannot write CSV output: No space left on device");
    CHECK_EQ_I64(err.sys_errno, ENOSPC);
    clearerr(f);
    CHECK_FAILS(ldr_jsonl_write_batch(b, f, &err), LDR_EIO);
    CHECK_EQ_STR(err.msg, "cannot write JSON Lines output: No space left on device");
    clearerr(f);
    const char *names[] = {"a"};
    CHECK_FAILS(ldr_csv_write_header(names, 1, f, &err), LDR_EIO);
    fclose(f);
    ldr_batch_free(b);
}

/* ---- round trips --------------------------------------------------------------------------- */

static ldr_batch *every_type_batch(void)
{
    ldr_batch *b = ldr_batch_new();
    ldr_batch_add(b, "i32", MAKE_COL(LDR_TYPE_INT32, "-2147483648", "2147483647", NUL_V, "0", "5"));
    ldr_batch_add(
        b, "i64",
        MAKE_COL(LDR_TYPE_INT64, "-9223372036854775808", NUL_V, "9223372036854775807", "0", "-1"));
    ldr_batch_add(b, "f32", MAKE_COL(LDR_TYPE_FLOAT32, "0.1", "nan", "-inf", "1e-45", NUL_V));
    ldr_batch_add(
        b, "f64",
        MAKE_COL(LDR_TYPE_FLOAT64, "0.1", "-0", "1.7976931348623157e308", "5e-324", NUL_V));
    ldr_batch_add(b, "bool", MAKE_COL(LDR_TYPE_BOOL, "true", "false", NUL_V, "1", "0"));
    ldr_batch_add(b, "ts",
                  MAKE_COL(LDR_TYPE_UNIX_TIMESTAMP, "-1", "0", "9999-12-31T23:59:59.999999Z",
                           "0001-01-01T00:00:00Z", NUL_V));
    ldr_batch_add(b, "str",
                  MAKE_COL(LDR_TYPE_STRING, "with,comma", "\"quoted\"", "multi\r\nline\n",
                           " spaced ", NUL_V));
    ldr_batch_add(b, "bytes", MAKE_COL(LDR_TYPE_BYTES, "\xff\xfe", "\r", "", "a\"b", "\x01"));
    ldr_batch_add(b, "li32",
                  MAKE_COL(LDR_TYPE_INT32_LIST, "[1, 2]", "[]", NUL_V, "[null]", "[-2147483648]"));
    ldr_batch_add(b, "li64",
                  MAKE_COL(LDR_TYPE_INT64_LIST, "[9223372036854775807]", "[null, 1]", "[]", NUL_V,
                           "[0, 0, 0]"));
    ldr_batch_add(b, "lf32",
                  MAKE_COL(LDR_TYPE_FLOAT32_LIST, "[0.1, nan]", "[inf]", NUL_V, "[]", "[null]"));
    ldr_batch_add(
        b, "lf64",
        MAKE_COL(LDR_TYPE_FLOAT64_LIST, "[0.1, -0]", "[5e-324, -inf]", "[]", NUL_V, "[1e300]"));
    ldr_batch_add(b, "lbool",
                  MAKE_COL(LDR_TYPE_BOOL_LIST, "[true]", "[false, null]", "[]", NUL_V, "[1]"));
    ldr_batch_add(b, "lts",
                  MAKE_COL(LDR_TYPE_UNIX_TIMESTAMP_LIST, "[\"2024-01-01T00:00:00.5Z\"]",
                           "[0, null]", NUL_V, "[]", "[1700000000]"));
    ldr_batch_add(b, "lstr",
                  MAKE_COL(LDR_TYPE_STRING_LIST, "[\"a,b\", \"\\\"q\\\"\"]", "[\"\", null]",
                           "[\"\\n\\r\\t\\u0001\"]", NUL_V, "[\"\xc3\xa9\", \"[x]\"]"));
    ldr_batch_add(b, "lbytes",
                  MAKE_COL(LDR_TYPE_BYTES_LIST, "[\"\\u00ff\\u0000\"]", "[]", NUL_V, "[null, \"\"]",
                           "[\"\\u007f\"]"));
    return b;
}

TEST(roundtrip_every_type)
{
    ldr_batch *b = every_type_batch();
    if (b->n_cols != 16 || b->n_rows != 5) {
        HARNESS_FAIL("setup");
        ldr_batch_free(b);
        return;
    }
    size_t len;
    char *s = render(ldr_csv_write_batch, b, &len);
    ldr_batch *back = reread(b, s, len);
    if (back) {
        CHECK(batches_equal(b, back));
        /* "" at top level reads back as null (documented) */
        CHECK(!ldr_col_valid(col_of(back, "bytes"), 2));
        ldr_batch_free(back);
    }
    /* CRLF line ends and a BOM in front change nothing */
    ldr_buf crlf;
    ldr_err err = {0};
    ldr_buf_init(&crlf, 1 << 20);
    CHECK_OK(ldr_buf_puts(&crlf, "\xEF\xBB\xBF", &err), err);
    /* only line ends between records: the writer quotes every CR/LF inside values, so
     * converting those too would change values; quote parity tells them apart */
    bool in_quotes = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            in_quotes = !in_quotes;
        if (s[i] == '\n' && !in_quotes)
            CHECK_OK(ldr_buf_putc(&crlf, '\r', &err), err);
        CHECK_OK(ldr_buf_putc(&crlf, s[i], &err), err);
    }
    back = reread(b, crlf.ptr, crlf.len);
    if (back) {
        CHECK(batches_equal(b, back));
        ldr_batch_free(back);
    }
    ldr_buf_fini(&crlf);
    /* JSONL of the same batch: every line parses */
    char *j = render(ldr_jsonl_write_batch, b, NULL);
    char *save = NULL;
    size_t lines = 0;
    for (char *line = strtok_r(j, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *obj = json_loads(line, JSON_ALLOW_NUL, &je);
        if (!obj)
            HARNESS_FAIL("line %zu: %s: %s", lines + 1, je.text, line);
        CHECK(obj && json_object_size(obj) == 16);
        json_decref(obj);
        lines++;
    }
    CHECK_EQ_I64(lines, 5);
    ldr_free(j);
    ldr_free(s);
    ldr_batch_free(b);
}

/* Random strings over an alphabet rich in CSV syntax survive write -> read. */
TEST(roundtrip_random_strings)
{
    static const char alphabet[] = {',', '"',  '\n', '\r',   ' ',    '\t',   'a', 'Z',
                                    '0', '\0', '\'', '\xEF', '\xBB', '\xBF', '[', ']'};
    for (int round = 0; round < 200; round++) {
        size_t ncols = 1 + (size_t)(rng_next() % 3), nrows = (size_t)(rng_next() % 20);
        ldr_batch *b = ldr_batch_new();
        for (size_t j = 0; j < ncols; j++) {
            ldr_col *c = ldr_col_new(j == 1 ? LDR_TYPE_BYTES : LDR_TYPE_STRING, nrows);
            for (size_t i = 0; i < nrows; i++) {
                char v[12];
                size_t len = (size_t)(rng_next() % sizeof v);
                for (size_t k = 0; k < len; k++)
                    v[k] = alphabet[rng_next() % sizeof alphabet];
                if (len == 0 && rng_next() % 2)
                    ldr_col_append_null(c);
                else
                    ldr_col_append_str(c, v, len);
            }
            char name[16];
            snprintf(name, sizeof name, "c%zu", j);
            ldr_batch_add(b, name, c);
        }
        size_t len;
        char *s = render(ldr_csv_write_batch, b, &len);
        ldr_batch *back = reread(b, s, len);
        if (back) {
            if (!batches_equal(b, back))
                HARNESS_FAIL("round %d", round);
            ldr_batch_free(back);
        }
        ldr_free(s);
        ldr_batch_free(b);
    }
}

TEST(streaming_header_then_batches)
{
    ldr_batch *b1 = ldr_batch_new();
    ldr_batch_add(b1, "k", MAKE_COL(LDR_TYPE_STRING, "a", "b"));
    ldr_batch_add(b1, "v", MAKE_COL(LDR_TYPE_FLOAT64, "1.5", NUL_V));
    ldr_batch *b2 = ldr_batch_new();
    ldr_batch_add(b2, "k", MAKE_COL(LDR_TYPE_STRING, "c"));
    ldr_batch_add(b2, "v", MAKE_COL(LDR_TYPE_FLOAT64, "-2"));
    char *ptr = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&ptr, &len);
    ldr_err err = {0};
    CHECK_OK(ldr_csv_write_header((const char *const *)b1->names, b1->n_cols, f, &err), err);
    CHECK_OK(ldr_csv_write_rows(b1, f, &err), err);
    CHECK_OK(ldr_csv_write_rows(b2, f, &err), err);
    fclose(f);
    CHECK_EQ_STR(ptr, "k,v\na,1.5\nb,\nc,-2.0\n");
    ldr_batch *back = reread(b1, ptr, len);
    CHECK_OK(ldr_batch_append(b1, b2, &err), err);
    if (back) {
        CHECK(batches_equal(b1, back));
        ldr_batch_free(back);
    }
    free(ptr); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
    f = open_memstream(&ptr, &len);
    CHECK_OK(ldr_jsonl_write_rows(b2, f, &err), err);
    CHECK_OK(ldr_jsonl_write_rows(b2, f, &err), err);
    fclose(f);
    CHECK_EQ_STR(ptr, "{\"k\":\"c\",\"v\":-2.0}\n{\"k\":\"c\",\"v\":-2.0}\n");
    free(ptr); /* checksrc: allow -- open_memstream's buffer comes from libc malloc */
    ldr_batch_free(b1);
    ldr_batch_free(b2);
}

/* ---- files ----------------------------------------------------------------------------------- */

static char *temp_file(const char *content, size_t len)
{
    char *path = ldr_xstrdup("/tmp/larder_test_csv_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) {
        HARNESS_FAIL("mkstemp");
        return path;
    }
    if (write(fd, content, len) != (ssize_t)len)
        HARNESS_FAIL("write");
    close(fd);
    return path;
}

TEST(read_file_paths)
{
    const char *t = "a,b\n1,x\n";
    char *path = temp_file(t, strlen(t));
    ldr_batch *b = NULL;
    ldr_err err = {0};
    CHECK_OK(ldr_csv_read_file(path, NULL, &b, &err), err);
    if (b) {
        CHECK_EQ_I64(b->n_rows, 1);
        CHECK_EQ_I64(type_of(b, "a"), LDR_TYPE_INT64);
        ldr_batch_free(b);
    }
    unlink(path);
    ldr_free(path);
    /* errors name the path */
    path = temp_file("a,b\n1\n", 6);
    CHECK_FAILS(ldr_csv_read_file(path, NULL, &b, &err), LDR_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s:2: expected 2 fields, got 1", path);
    CHECK_EQ_STR(err.msg, want);
    unlink(path);
    ldr_free(path);
    path = temp_file("", 0);
    CHECK_FAILS(ldr_csv_read_file(path, NULL, &b, &err), LDR_EINVAL);
    snprintf(want, sizeof want, "%s: empty file: a header row is required", path);
    CHECK_EQ_STR(err.msg, want);
    unlink(path);
    ldr_free(path);
    CHECK_FAILS(ldr_csv_read_file("/nonexistent/x.csv", NULL, &b, &err), LDR_ENOTFOUND);
    CHECK_EQ_STR(err.msg, "cannot open /nonexistent/x.csv: No such file or directory");
    CHECK(b == NULL);
    CHECK_FAILS(ldr_csv_read_file("/tmp", NULL, &b, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "/tmp: is a directory, not a CSV file");
    /* a character device goes through the read() path */
    CHECK_FAILS(ldr_csv_read_file("/dev/null", NULL, &b, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "/dev/null: empty file: a header row is required");
}

/* Reads the whole file and then every range of a split with `target`, and checks that
 * the ranges are contiguous, cover every data record, and read back to the same rows in
 * the same order. Returns the number of ranges. */
static size_t check_split(const char *text, size_t len, size_t target)
{
    char *path = temp_file(text, len);
    static const char *const names[] = {"id", "name"};
    static const ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_STRING};
    ldr_csv_read_opts o = ldr_csv_read_opts_default();
    o.names = names;
    o.types = types;
    o.n = 2;
    ldr_err err = {0};
    ldr_batch *whole = NULL;
    CHECK_OK(ldr_csv_read_file(path, &o, &whole, &err), err);
    ldr_csv_range *r = NULL;
    size_t n = 0;
    CHECK_OK(ldr_csv_split_file(path, &o, target, &r, &n, &err), err);
    size_t row = 0;
    for (size_t i = 0; whole && r && i < n; i++) {
        CHECK(i == 0 || r[i].begin == r[i - 1].end);
        CHECK(r[i].end == 0 || r[i].begin < r[i].end);
        ldr_csv_read_opts ro = o;
        ro.range_begin = r[i].begin;
        ro.range_end = r[i].end;
        ro.range_line = r[i].line;
        ldr_batch *b = NULL;
        CHECK_OK(ldr_csv_read_file(path, &ro, &b, &err), err);
        for (size_t k = 0; b && k < b->n_rows; k++, row++) {
            CHECK_EQ_I64(ldr_col_i64(b->cols[0], k), ldr_col_i64(whole->cols[0], row));
            size_t l1, l2;
            const char *s1 = ldr_col_str(b->cols[1], k, &l1);
            const char *s2 = ldr_col_str(whole->cols[1], row, &l2);
            CHECK(l1 == l2 && !memcmp(s1, s2, l1));
        }
        ldr_batch_free(b);
    }
    CHECK(r && (n == 1 ? r[0].end == 0 || r[0].end == len : r[n - 1].end == len));
    if (whole)
        CHECK_EQ_I64(row, whole->n_rows);
    ldr_batch_free(whole);
    ldr_free(r);
    unlink(path);
    ldr_free(path);
    return n;
}

/* A line number, reported from inside a later range: the ranges carry their first line. */
static void check_range_error_line(const char *text, size_t target, const char *want_tail)
{
    char *path = temp_file(text, strlen(text));
    ldr_csv_read_opts o = ldr_csv_read_opts_default();
    static const char *const names[] = {"id", "name"};
    static const ldr_type types[] = {LDR_TYPE_INT64, LDR_TYPE_STRING};
    o.names = names;
    o.types = types;
    o.n = 2;
    ldr_err err = {0};
    ldr_csv_range *r = NULL;
    size_t n = 0;
    CHECK_OK(ldr_csv_split_file(path, &o, target, &r, &n, &err), err);
    CHECK(n > 2);
    char want[512];
    snprintf(want, sizeof want, "%s%s", path, want_tail);
    bool seen = false;
    for (size_t i = 0; r && i < n; i++) {
        ldr_csv_read_opts ro = o;
        ro.range_begin = r[i].begin;
        ro.range_end = r[i].end;
        ro.range_line = r[i].line;
        ldr_batch *b = NULL;
        if (ldr_csv_read_file(path, &ro, &b, &err) != LDR_OK) {
            CHECK_EQ_STR(err.msg, want);
            CHECK(i > 0); /* the bad row is not in the first range */
            seen = true;
        }
        ldr_batch_free(b);
    }
    CHECK(seen);
    ldr_free(r);
    unlink(path);
    ldr_free(path);
}

TEST(split_ranges)
{
    ldr_buf t;
    ldr_err err = {0};
    ldr_buf_init(&t, (size_t)1 << 24);
    /* plain: no quotes, no CR -> cut at the LF after each target offset */
    CHECK_OK(ldr_buf_puts(&t, "id,name\n", &err), err);
    for (int i = 0; i < 500; i++)
        CHECK_OK(ldr_buf_printf(&t, &err, "%d,name %d\n", i, i), err);
    CHECK(check_split(t.ptr, t.len, 200) > 20);
    CHECK_EQ_I64(check_split(t.ptr, t.len, t.len), 1); /* smaller than 2 targets: one */
    CHECK_EQ_I64(check_split(t.ptr, t.len, 0), 1);
    /* quoted fields with line ends and delimiters inside, CRLF, a BOM, blank lines: the
     * lexer walks the records */
    ldr_buf_reset(&t);
    CHECK_OK(ldr_buf_puts(&t, "\xEF\xBB\xBFid,name\r\n", &err), err);
    for (int i = 0; i < 500; i++)
        CHECK_OK(ldr_buf_printf(
                     &t, &err,
                     i % 7 == 0 ? "%d,\"two\nlines, \"\"q\"\" %d\"\r\n\r\n" : "%d,n%d\r\n", i, i),
                 err);
    CHECK(check_split(t.ptr, t.len, 150) > 20);
    /* a row with no final line end */
    CHECK_OK(ldr_buf_puts(&t, "500,last", &err), err);
    CHECK(check_split(t.ptr, t.len, 150) > 20);
    /* malformed text (an unterminated quote) is not split; reading reports it */
    ldr_buf_reset(&t);
    CHECK_OK(ldr_buf_puts(&t, "id,name\n1,\"open\n", &err), err);
    for (int i = 0; i < 100; i++)
        CHECK_OK(ldr_buf_printf(&t, &err, "%d,x\n", i), err);
    char *path = temp_file(t.ptr, t.len);
    ldr_csv_range *r = NULL;
    size_t n = 0;
    CHECK_OK(ldr_csv_split_file(path, NULL, 64, &r, &n, &err), err);
    CHECK(n == 1 && r && r[0].end == 0);
    ldr_free(r);
    unlink(path);
    ldr_free(path);
    CHECK_FAILS(ldr_csv_split_file("/nonexistent/x.csv", NULL, 64, &r, &n, &err), LDR_ENOTFOUND);
    /* errors inside a later range name the right line, plain and lexer-walked */
    ldr_buf_reset(&t);
    CHECK_OK(ldr_buf_puts(&t, "id,name\n", &err), err);
    for (int i = 0; i < 300; i++)
        CHECK_OK(ldr_buf_printf(&t, &err, i == 250 ? "%d\n" : "%d,v\n", i), err);
    check_range_error_line(ldr_buf_cstr(&t), 100, ":252: expected 2 fields, got 1");
    ldr_buf_reset(&t);
    CHECK_OK(ldr_buf_puts(&t, "id,name\n", &err), err);
    for (int i = 0; i < 300; i++)
        CHECK_OK(ldr_buf_printf(&t, &err, i == 250 ? "x%d,v\n" : "%d,\"a\nb\"\n", i), err);
    check_range_error_line(ldr_buf_cstr(&t), 100,
                           ":502: column 'id': invalid Int64 \"x250\": not an integer");
    /* a range outside the data is refused */
    path = temp_file("id,name\n1,a\n", 12);
    ldr_csv_read_opts o = ldr_csv_read_opts_default();
    o.range_begin = 2;
    o.range_end = 12;
    ldr_batch *b = NULL;
    CHECK_FAILS(ldr_csv_read_file(path, &o, &b, &err), LDR_EINVAL);
    o.range_begin = 8;
    o.range_end = 99;
    CHECK_FAILS(ldr_csv_read_file(path, &o, &b, &err), LDR_EINVAL);
    unlink(path);
    ldr_free(path);
    ldr_buf_fini(&t);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(big_file_performance_sanity)
{
    size_t rows = 100000;
    ldr_buf t;
    ldr_err err = {0};
    ldr_buf_init(&t, (size_t)1 << 30);
    CHECK_OK(ldr_buf_puts(&t, "id,value,name,ts,flag,skipme\n", &err), err);
    for (size_t i = 0; i < rows; i++) {
        CHECK_OK(ldr_buf_printf(&t, &err,
                                "%zu,%zu.25,\"name, %zu\",2024-01-01T00:%02zu:%02zuZ,%s,"
                                "junk\n",
                                i, i % 1000, i % 97, (i / 60) % 60, i % 60,
                                i % 3 ? "true" : "false"),
                 err);
    }
    char *path = temp_file(t.ptr, t.len);
    double t0 = now_sec();
    ldr_batch *b = NULL;
    CHECK_OK(ldr_csv_read_file(path, NULL, &b, &err), err);
    double t1 = now_sec();
    if (b) {
        CHECK_EQ_I64(b->n_rows, rows);
        CHECK_EQ_I64(type_of(b, "id"), LDR_TYPE_INT64);
        CHECK_EQ_I64(type_of(b, "value"), LDR_TYPE_FLOAT64);
        CHECK_EQ_I64(type_of(b, "name"), LDR_TYPE_STRING);
        CHECK_EQ_I64(type_of(b, "ts"), LDR_TYPE_UNIX_TIMESTAMP);
        CHECK_EQ_I64(type_of(b, "flag"), LDR_TYPE_BOOL);
        int64_t sum = 0;
        const ldr_col *id = col_of(b, "id");
        for (size_t i = 0; i < rows; i++)
            sum += ldr_col_i64(id, i);
        CHECK_EQ_I64(sum, (int64_t)(rows * (rows - 1) / 2));
        CHECK_EQ_STR(cell(b, "name", 12345), "name, 26");
        /* projection of two typed columns */
        const char *names[] = {"ts", "id"};
        ldr_type types[] = {LDR_TYPE_UNIX_TIMESTAMP, LDR_TYPE_INT64};
        ldr_csv_read_opts o = opts_default();
        o.names = names;
        o.types = types;
        o.n = 2;
        o.all_columns = false;
        ldr_batch *p = NULL;
        double t2 = now_sec();
        CHECK_OK(ldr_csv_read_file(path, &o, &p, &err), err);
        double t3 = now_sec();
        if (p) {
            CHECK_EQ_I64(p->n_cols, 2);
            CHECK_EQ_I64(p->n_rows, rows);
            ldr_batch_free(p);
        }
        /* write it back and read it again with the schema: identical */
        size_t len;
        double t4 = now_sec();
        char *s = render(ldr_csv_write_batch, b, &len);
        double t5 = now_sec();
        ldr_batch *back = reread(b, s, len);
        if (back) {
            CHECK(batches_equal(b, back));
            ldr_batch_free(back);
        }
        printf("# %zu rows (%.1f MB): read+infer %.3fs, projected read %.3fs, write %.3fs\n", rows,
               (double)t.len / 1e6, t1 - t0, t3 - t2, t5 - t4);
        /* generous bounds: this runs under ASan on shared machines */
        CHECK(t1 - t0 < 10.0);
        CHECK(t5 - t4 < 10.0);
        ldr_free(s);
        ldr_batch_free(b);
    }
    unlink(path);
    ldr_free(path);
    ldr_buf_fini(&t);
}

int main(void)
{
    RUN(basic_header_and_rows);
    RUN(quoted_fields);
    RUN(line_endings_bom_blank_lines);
    RUN(empty_fields_are_null);
    RUN(trailing_delimiter_and_tab_delimiter);
    RUN(header_names);
    RUN(nul_bytes_are_data);
    RUN(error_empty_file);
    RUN(error_field_count);
    RUN(error_quotes);
    RUN(error_duplicate_header);
    RUN(error_nul_in_header_name);
    RUN(error_conversion);
    RUN(error_missing_schema_column);
    RUN(schema_projection_skips_columns);
    RUN(schema_all_types);
    RUN(infer_each_type);
    RUN(infer_edge_cases);
    RUN(infer_off_gives_strings);
    RUN(partial_schema_with_inference);
    RUN(zero_initialised_opts_and_null_opts);
    RUN(limit_field_bytes);
    RUN(limit_default_field_bytes);
    RUN(limit_rows_and_columns);
    RUN(hostile_million_column_header);
    RUN(hostile_unterminated_quote_large);
    RUN(hostile_random_inputs);
    RUN(csv_writer_exact);
    RUN(jsonl_writer_exact);
    RUN(csv_quoting_rules);
    RUN(csv_single_column_nulls);
    RUN(format_value_every_type);
    RUN(fast_formatting_matches_core);
    RUN(json_strings_escapes_and_utf8);
    RUN(writers_resolve_dictionaries);
    RUN(writers_empty_batches);
    RUN(writers_report_io_errors);
    RUN(roundtrip_every_type);
    RUN(roundtrip_random_strings);
    RUN(streaming_header_then_batches);
    RUN(read_file_paths);
    RUN(split_ranges);
    RUN(big_file_performance_sanity);
    return harness_done();
}
