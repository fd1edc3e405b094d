/*
 * csv.c -- the CSV reader: RFC 4180 text to a record batch (see csv.h for the rules).
 *
 * One pass. A lexer (csv_lexer) walks the bytes and cuts each record into fields
 * (csv_field: a span of the input, plus position and quoting); nothing is copied unless a
 * quoted field holds "" escapes. A record is lexed completely before any of it is
 * converted, so a short row is reported as such. Each wanted field then goes straight
 * into its column: typed columns convert the text (ldr_value_from_text semantics),
 * inferred columns keep the text in a String column while a candidate-type mask narrows
 * value by value; at the end each inferred column is converted once to the winning type
 * (or kept as the String column it already is). Skipped columns cost only the lexing.
 * Input is borrowed for the duration of the call (a memory map for files); the batch owns
 * copies. Limits: max_field_bytes per field, max_columns in the header, max_rows; the
 * lexer is linear in the input whatever it holds (unterminated quotes, NULs, huge rows).
 * Reentrant: all state lives in the csv_reader of one call.
 */
#include "csv/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_LIST_MAX  160               /* bytes of header names quoted in messages */
#define LIST_ARENA_RESET ((size_t)1 << 20) /* list values' scratch arena is renewed past this */
#define PIPE_READ_MAX    ((size_t)1 << 36) /* non-regular files are read into memory up to this */

ldr_csv_read_opts ldr_csv_read_opts_default(void)
{
    ldr_csv_read_opts o;
    memset(&o, 0, sizeof o);
    o.infer = true;
    o.all_columns = false;
    o.delimiter = ',';
    o.max_field_bytes = LDR_CSV_MAX_FIELD_BYTES_DEFAULT;
    o.max_rows = 0;
    o.max_columns = LDR_CSV_MAX_COLUMNS_DEFAULT;
    return o;
}

/* ---- lexer ------------------------------------------------------------------------------ */

/* One field of a record: raw bytes (inside the quotes when quoted, "" pairs still doubled
 * when `escapes`) and where it starts. */
typedef struct csv_field {
    const char *ptr;
    size_t len;
    size_t line; /* 1-based physical line of the first byte */
    size_t col;  /* 1-based byte column of the first byte (the quote, when quoted) */
    bool escapes;
} csv_field;

typedef struct csv_lexer {
    const char *name;
    const char *data; /* the whole input */
    const char *p;
    const char *end;
    const char *line_start;
    size_t line;
    char delim;
    size_t max_field;
    bool special[256]; /* bytes that end an unquoted field: delimiter, CR, LF */
} csv_lexer;

static void lexer_init(csv_lexer *lx, const char *name, const char *data, size_t len, char delim,
                       size_t max_field)
{
    memset(lx, 0, sizeof *lx);
    lx->name = name;
    lx->data = data;
    lx->p = data;
    lx->end = data + len;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        lx->p += 3; /* UTF-8 BOM; editors do not show it, so columns start after it */
    lx->line_start = lx->p;
    lx->line = 1;
    lx->delim = delim;
    lx->max_field = max_field;
    lx->special[(unsigned char)delim] = true;
    lx->special['\r'] = true;
    lx->special['\n'] = true;
}

static size_t lexer_col(const csv_lexer *lx, const char *at)
{
    return (size_t)(at - lx->line_start) + 1;
}

/* Counts the line ends inside a quoted field's bytes [from, to) (CRLF is one). */
static void count_lines(csv_lexer *lx, const char *from, const char *to)
{
    for (const char *q = from; q < to; q++) {
        if (*q == '\n' || (*q == '\r' && (q + 1 == to || q[1] != '\n'))) {
            lx->line++;
            lx->line_start = q + 1;
        }
    }
}

static ldr_code lex_quoted(csv_lexer *lx, csv_field *f, ldr_err *err)
{
    const char *open = lx->p, *q = open + 1;
    for (;;) {
        const char *hit = memchr(q, '"', (size_t)(lx->end - q));
        if (!hit)
            return ldr_err_setf(err, LDR_EINVAL, "%s:%zu:%zu: unterminated quoted field", lx->name,
                                f->line, f->col);
        if (hit + 1 < lx->end && hit[1] == '"') {
            f->escapes = true;
            q = hit + 2;
            continue;
        }
        f->ptr = open + 1;
        f->len = (size_t)(hit - f->ptr);
        count_lines(lx, f->ptr, hit);
        lx->p = hit + 1;
        break;
    }
    const char *p = lx->p;
    if (p < lx->end && *p != lx->delim && *p != '\r' && *p != '\n')
        return ldr_err_setf(err, LDR_EINVAL,
                            "%s:%zu:%zu: unexpected character after closing quote (a quote "
                            "inside a quoted field is written \"\")",
                            lx->name, lx->line, lexer_col(lx, p));
    return LDR_OK;
}

/* Lexes one field at lx->p and its terminator; *more tells whether another field of the
 * same record follows (the terminator was the delimiter). */
static ldr_code lex_field(csv_lexer *lx, csv_field *f, bool *more, ldr_err *err)
{
    f->line = lx->line;
    f->col = lexer_col(lx, lx->p);
    f->escapes = false;
    if (lx->p < lx->end && *lx->p == '"') {
        ldr_code rc = lex_quoted(lx, f, err);
        if (rc != LDR_OK)
            return rc;
    } else {
        const char *p = lx->p;
        while (p < lx->end && !lx->special[(unsigned char)*p])
            p++;
        f->ptr = lx->p;
        f->len = (size_t)(p - lx->p);
        lx->p = p;
    }
    if (f->len > lx->max_field)
        return ldr_err_setf(err, LDR_ELIMIT,
                            "%s:%zu:%zu: field is longer than the limit of %zu bytes "
                            "(max_field_bytes)",
                            lx->name, f->line, f->col, lx->max_field);
    *more = false;
    if (lx->p == lx->end)
        return LDR_OK;
    char c = *lx->p++;
    if (c == lx->delim) {
        *more = true;
        return LDR_OK;
    }
    if (c == '\r' && lx->p < lx->end && *lx->p == '\n')
        lx->p++;
    lx->line++;
    lx->line_start = lx->p;
    return LDR_OK;
}

/* Skips blank lines; returns false at the end of the input. */
static bool lex_next_record(csv_lexer *lx)
{
    while (lx->p < lx->end && (*lx->p == '\n' || *lx->p == '\r')) {
        if (*lx->p == '\r' && lx->p + 1 < lx->end && lx->p[1] == '\n')
            lx->p++;
        lx->p++;
        lx->line++;
        lx->line_start = lx->p;
    }
    return lx->p < lx->end;
}

/* Lexes one record, storing its first `cap` fields; *out_n counts them all. */
static ldr_code lex_record(csv_lexer *lx, csv_field *fields, size_t cap, size_t *out_n,
                           ldr_err *err)
{
    size_t n = 0;
    bool more = true;
    while (more) {
        csv_field f;
        ldr_code rc = lex_field(lx, &f, &more, err);
        if (rc != LDR_OK)
            return rc;
        if (n < cap)
            fields[n] = f;
        n++;
    }
    *out_n = n;
    return LDR_OK;
}

/* ---- inference ---------------------------------------------------------------------------- */

enum {
    CAND_INT = 1u,
    CAND_FLOAT = 2u,
    CAND_BOOL = 4u,
    CAND_TS = 8u,
    CAND_ALL = 15u,
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Trims spaces and tabs (the text of non-string types). */
static const char *trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n > 0 && is_blank(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    *len = n;
    return s;
}

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && is_digit(s[i]))
        i++;
    return i;
}

/* ASCII case-insensitive equality of s[0..len) with a lower-case word. */
static bool word_ieq(const char *s, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        if (c != word[i])
            return false;
    }
    return i == len && word[i] == '\0';
}

typedef enum num_kind { NUM_NONE, NUM_INT, NUM_FLOAT, NUM_SPECIAL } num_kind;

/* Decimal syntax only: [+-]digits (NUM_INT), [+-](digits[.digits]|.digits)[e[+-]digits]
 * (NUM_FLOAT), [+-]nan|inf|infinity (NUM_SPECIAL). A subset of what strtod reads. */
static num_kind number_kind(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (word_ieq(s + i, len - i, "nan") || word_ieq(s + i, len - i, "inf") ||
        word_ieq(s + i, len - i, "infinity"))
        return NUM_SPECIAL;
    size_t int_end = skip_digits(s, i, len);
    bool int_digits = int_end > i;
    if (int_end == len)
        return int_digits ? NUM_INT : NUM_NONE;
    i = int_end;
    bool frac_digits = false;
    if (s[i] == '.') {
        size_t frac_end = skip_digits(s, i + 1, len);
        frac_digits = frac_end > i + 1;
        i = frac_end;
    }
    if (!int_digits && !frac_digits)
        return NUM_NONE;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_end = skip_digits(s, i, len);
        if (exp_end == i)
            return NUM_NONE;
        i = exp_end;
    }
    return i == len ? NUM_FLOAT : NUM_NONE;
}

/* True when [+-]digits fits an int64. */
static bool fits_int64(const char *s, size_t len)
{
    size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    while (i + 1 < len && s[i] == '0')
        i++; /* leading zeros do not count towards the 19 digits */
    size_t digits = len - i;
    if (digits != 19)
        return digits < 19;
    const char *lim = s[0] == '-' ? "9223372036854775808" : "9223372036854775807";
    return memcmp(s + i, lim, 19) <= 0;
}

static bool looks_like_timestamp(const char *s, size_t len)
{
    if (len < 10 || s[4] != '-' || s[7] != '-')
        return false;
    ldr_ts ts;
    return ldr_ts_parse(s, len, &ts, NULL) == LDR_OK;
}

/* Narrows the candidate mask by one non-empty, trimmed value. */
static unsigned classify(const char *s, size_t len, unsigned cand, bool *finite)
{
    unsigned fits = 0;
    if (cand & (CAND_INT | CAND_FLOAT)) {
        num_kind k = number_kind(s, len);
        if (k == NUM_INT && fits_int64(s, len))
            fits |= CAND_INT | CAND_FLOAT;
        else if (k == NUM_INT || k == NUM_FLOAT)
            fits |= CAND_FLOAT;
        else if (k == NUM_SPECIAL)
            fits |= CAND_FLOAT;
        if (k == NUM_INT || k == NUM_FLOAT)
            *finite = true;
    }
    if ((cand & CAND_BOOL) && (word_ieq(s, len, "true") || word_ieq(s, len, "false")))
        fits |= CAND_BOOL;
    if ((cand & CAND_TS) && looks_like_timestamp(s, len))
        fits |= CAND_TS;
    return cand & fits;
}

/* ---- reader state -------------------------------------------------------------------------- */

/* One output column. */
typedef struct out_col {
    const char *name; /* NUL-terminated, in the reader's arena */
    size_t field;     /* index of the field in a record */
    ldr_type type;    /* target type; LDR_TYPE_STRING while inferring */
    bool infer;
    bool seen;   /* inference: saw a value that is not blank */
    bool finite; /* inference: saw an ordinary number */
    unsigned cand;
    ldr_col *col;
} out_col;

typedef struct csv_reader {
    csv_lexer lx;
    const ldr_csv_read_opts *opts;
    ldr_arena a;       /* header names and small lookups for this call */
    ldr_arena values;  /* list values between conversions; renewed now and then */
    ldr_buf scratch;   /* unescaped quoted fields */
    csv_field *fields; /* one record's fields (n_fields of them) */
    size_t n_fields;
    const char **header; /* header names (n_fields) */
    out_col *out;
    size_t n_out;
} csv_reader;

static void reader_fini(csv_reader *r)
{
    for (size_t i = 0; i < r->n_out; i++)
        ldr_col_free(r->out[i].col);
    ldr_buf_fini(&r->scratch);
    ldr_arena_fini(&r->values);
    ldr_arena_fini(&r->a);
}

/* The text of a field, with "" escapes undone (into the scratch buffer). Borrowed until
 * the next call. */
static const char *field_text(csv_reader *r, const csv_field *f, size_t *len)
{
    *len = f->len;
    if (!f->escapes)
        return f->ptr;
    ldr_buf_reset(&r->scratch);
    /* The field is at most max_field bytes and the buffer's maximum is that: no failure. */
    ldr_code rc = ldr_buf_append(&r->scratch, f->ptr, f->len, NULL);
    LDR_ASSERT(rc == LDR_OK);
    char *d = r->scratch.ptr;
    size_t o = 0;
    for (size_t i = 0; i < f->len; i++) {
        d[o++] = f->ptr[i];
        if (f->ptr[i] == '"')
            i++; /* the lexer only accepts quotes in pairs inside a quoted field */
    }
    d[o] = '\0';
    *len = o;
    return d;
}

/* ---- header and column plan ---------------------------------------------------------------- */

static ldr_code read_header(csv_reader *r, ldr_err *err)
{
    csv_lexer *lx = &r->lx;
    if (!lex_next_record(lx))
        return ldr_err_setf(err, LDR_EINVAL, "%s: empty file: a header row is required", lx->name);
    size_t max_cols = r->opts->max_columns;
    ldr_buf fields;
    ldr_buf_init(&fields, SIZE_MAX / 2);
    bool more = true;
    ldr_code rc = LDR_OK;
    size_t n = 0;
    while (more && rc == LDR_OK) {
        csv_field f;
        rc = lex_field(lx, &f, &more, err);
        if (rc == LDR_OK && n == max_cols)
            rc = ldr_err_setf(err, LDR_ELIMIT,
                              "%s:%zu: the header has more than %zu columns (max_columns)",
                              lx->name, f.line, max_cols);
        if (rc == LDR_OK)
            rc = ldr_buf_append(&fields, &f, sizeof f, err);
        n++;
    }
    if (rc != LDR_OK) {
        ldr_buf_fini(&fields);
        return rc;
    }
    r->n_fields = n;
    r->fields = ldr_arena_alloc(&r->a, n * sizeof *r->fields);
    memcpy(r->fields, fields.ptr, n * sizeof *r->fields);
    ldr_buf_fini(&fields);
    return LDR_OK;
}

/* Names the header columns (unescaped copies; empty names become "column<N>") and rejects
 * repeated names and names holding NUL bytes. */
static ldr_code name_header(csv_reader *r, ldr_map *by_name, ldr_err *err)
{
    r->header = ldr_arena_alloc(&r->a, r->n_fields * sizeof *r->header);
    for (size_t j = 0; j < r->n_fields; j++) {
        size_t len;
        const char *s = field_text(r, &r->fields[j], &len);
        if (memchr(s, '\0', len)) /* names are C strings everywhere downstream */
            return ldr_err_setf(err, LDR_EINVAL, "%s:%zu:%zu: column %zu: NUL byte in the name",
                                r->lx.name, r->fields[j].line, r->fields[j].col, j + 1);
        r->header[j] =
            len ? ldr_arena_strndup(&r->a, s, len) : ldr_arena_sprintf(&r->a, "column%zu", j + 1);
        void *prev = ldr_map_put(by_name, r->header[j], (void *)(uintptr_t)(j + 1));
        if (prev) {
            char q[LDR_QUOTE_BUFSZ];
            return ldr_err_setf(
                err, LDR_EINVAL, "%s:%zu: duplicate column name '%s' (columns %zu and %zu)",
                r->lx.name, r->fields[j].line, ldr__quote(r->header[j], strlen(r->header[j]), q),
                (size_t)(uintptr_t)prev, j + 1);
        }
    }
    return LDR_OK;
}

/* "a, b, c" (cut short with "...") for the missing-column message. */
static void header_list(const csv_reader *r, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t j = 0; j < r->n_fields; j++) {
        int n = snprintf(out + o, cap - o, "%s%s", j ? ", " : "", r->header[j]);
        if (n < 0 || (size_t)n >= cap - o || o + (size_t)n > HEADER_LIST_MAX) {
            snprintf(out + o, cap - o, "%s", j ? ", ..." : "...");
            return;
        }
        o += (size_t)n;
    }
}

static void add_out(csv_reader *r, size_t field, const char *name, ldr_type type)
{
    out_col *oc = &r->out[r->n_out++];
    memset(oc, 0, sizeof *oc);
    oc->name = name;
    oc->field = field;
    oc->infer = type == LDR_TYPE_INVALID && r->opts->infer;
    oc->type = type == LDR_TYPE_INVALID ? LDR_TYPE_STRING : type;
    oc->cand = oc->infer ? CAND_ALL : 0;
    oc->col = ldr_col_new(oc->type, 64);
}

static ldr_type schema_type(const ldr_csv_read_opts *o, size_t i)
{
    return o->types ? o->types[i] : LDR_TYPE_INVALID;
}

/* Decides which fields become which columns. */
static ldr_code plan_columns(csv_reader *r, const ldr_map *by_name, ldr_err *err)
{
    const ldr_csv_read_opts *o = r->opts;
    size_t *schema_of = ldr_arena_alloc(&r->a, r->n_fields * sizeof *schema_of);
    for (size_t j = 0; j < r->n_fields; j++)
        schema_of[j] = SIZE_MAX;
    for (size_t i = 0; i < o->n; i++) {
        void *hit = ldr_map_get(by_name, o->names[i]);
        if (!hit) {
            char list[HEADER_LIST_MAX + 16], q[LDR_QUOTE_BUFSZ];
            header_list(r, list, sizeof list);
            return ldr_err_setf(err, LDR_EINVAL, "%s: missing column '%s' (header has: %s)",
                                r->lx.name, ldr__quote(o->names[i], strlen(o->names[i]), q), list);
        }
        size_t j = (size_t)(uintptr_t)hit - 1;
        if (schema_of[j] != SIZE_MAX) {
            char q[LDR_QUOTE_BUFSZ];
            return ldr_err_setf(err, LDR_EINVAL, "%s: column '%s' is requested twice", r->lx.name,
                                ldr__quote(o->names[i], strlen(o->names[i]), q));
        }
        schema_of[j] = i;
    }
    bool all = o->n == 0 || o->all_columns;
    r->out = ldr_arena_calloc(&r->a, all ? r->n_fields : o->n, sizeof *r->out);
    if (all) {
        for (size_t j = 0; j < r->n_fields; j++) {
            ldr_type t = schema_of[j] == SIZE_MAX ? LDR_TYPE_INVALID : schema_type(o, schema_of[j]);
            add_out(r, j, r->header[j], t);
        }
    } else {
        for (size_t i = 0; i < o->n; i++) {
            size_t j = (size_t)(uintptr_t)ldr_map_get(by_name, o->names[i]) - 1;
            add_out(r, j, r->header[j], schema_type(o, i));
        }
    }
    return LDR_OK;
}

/* ---- rows ----------------------------------------------------------------------------------- */

/* Converts the text of a non-string value (trimmed; empty = null) and appends it. */
static ldr_code append_converted(csv_reader *r, ldr_col *c, const char *s, size_t len, ldr_err *err)
{
    s = trim(s, &len);
    if (len == 0) {
        ldr_col_append_null(c);
        return LDR_OK;
    }
    double d; /* the common feature column: no ldr_value round trip */
    if (c->type == LDR_TYPE_FLOAT64 && ldr_f64_parse_decimal(s, len, &d)) {
        ldr_col_append_f64(c, d);
        return LDR_OK;
    }
    ldr_value v;
    ldr_code rc = ldr_value_from_text(c->type, s, len, &r->values, &v, err);
    if (rc != LDR_OK)
        return rc;
    ldr_col_append_value(c, &v);
    if (r->values.total > LIST_ARENA_RESET) {
        ldr_arena_fini(&r->values);
        ldr_arena_init(&r->values, 0);
    }
    return LDR_OK;
}

static ldr_code read_cell(csv_reader *r, out_col *oc, const csv_field *f, ldr_err *err)
{
    size_t len;
    const char *s = field_text(r, f, &len);
    if (len == 0) {
        ldr_col_append_null(oc->col);
        return LDR_OK;
    }
    if (oc->type == LDR_TYPE_STRING || oc->type == LDR_TYPE_BYTES) {
        ldr_col_append_str(oc->col, s, len);
        if (oc->cand) {
            size_t tlen = len;
            const char *t = trim(s, &tlen);
            if (tlen) {
                oc->seen = true;
                oc->cand = classify(t, tlen, oc->cand, &oc->finite);
            }
        }
        return LDR_OK;
    }
    ldr_code rc = append_converted(r, oc->col, s, len, err);
    if (rc != LDR_OK) {
        char q[LDR_QUOTE_BUFSZ];
        ldr_err_prefix(err, "%s:%zu: column '%s': ", r->lx.name, f->line,
                       ldr__quote(oc->name, strlen(oc->name), q));
    }
    return rc;
}

static ldr_code read_rows(csv_reader *r, ldr_err *err)
{
    csv_lexer *lx = &r->lx;
    size_t rows = 0, max_rows = r->opts->max_rows;
    while (lex_next_record(lx)) {
        size_t line = lx->line, n;
        if (max_rows && rows == max_rows)
            return ldr_err_setf(err, LDR_ELIMIT, "%s:%zu: more than %zu data rows (max_rows)",
                                lx->name, line, max_rows);
        ldr_code rc = lex_record(lx, r->fields, r->n_fields, &n, err);
        if (rc != LDR_OK)
            return rc;
        if (n != r->n_fields)
            return ldr_err_setf(err, LDR_EINVAL, "%s:%zu: expected %zu field%s, got %zu", lx->name,
                                line, r->n_fields, r->n_fields == 1 ? "" : "s", n);
        for (size_t k = 0; k < r->n_out; k++) {
            rc = read_cell(r, &r->out[k], &r->fields[r->out[k].field], err);
            if (rc != LDR_OK)
                return rc;
        }
        rows++;
    }
    return LDR_OK;
}

/* ---- inferred columns ---------------------------------------------------------------------- */

/* Converts a String column to type t; NULL when some value does not convert (the
 * classification and the converter disagree only on overflowing floats). */
static ldr_col *convert_column(csv_reader *r, const ldr_col *src, ldr_type t)
{
    ldr_col *dst = ldr_col_new(t, src->n);
    for (size_t i = 0; i < src->n; i++) {
        if (!ldr_col_valid(src, i)) {
            ldr_col_append_null(dst);
            continue;
        }
        size_t len;
        const char *s = ldr_col_str(src, i, &len);
        if (append_converted(r, dst, s, len, NULL) != LDR_OK) {
            ldr_col_free(dst);
            return NULL;
        }
    }
    return dst;
}

static void finish_inferred(csv_reader *r, out_col *oc)
{
    static const struct {
        unsigned cand;
        ldr_type type;
    } order[] = {
        {CAND_INT, LDR_TYPE_INT64},
        {CAND_FLOAT, LDR_TYPE_FLOAT64},
        {CAND_BOOL, LDR_TYPE_BOOL},
        {CAND_TS, LDR_TYPE_UNIX_TIMESTAMP},
    };
    if (!oc->finite)
        oc->cand &= ~(unsigned)CAND_FLOAT; /* only nan/inf: keep the words as strings */
    if (!oc->seen)
        return; /* no values, or only blanks: String */
    for (size_t k = 0; k < LDR_ARRAY_LEN(order); k++) {
        if (!(oc->cand & order[k].cand))
            continue;
        ldr_col *c = convert_column(r, oc->col, order[k].type);
        if (c) {
            ldr_col_free(oc->col);
            oc->col = c;
            oc->type = order[k].type;
            return;
        }
    }
}

/* ---- entry points --------------------------------------------------------------------------- */

static ldr_code check_opts(const char *name, const ldr_csv_read_opts *o, ldr_err *err)
{
    if (o->n && !o->names)
        return ldr_err_setf(err, LDR_EINVAL, "%s: a schema of %zu columns without names", name,
                            o->n);
    char d = o->delimiter;
    if (d == '"' || d == '\r' || d == '\n')
        return ldr_err_setf(err, LDR_EINVAL, "%s: the delimiter cannot be a quote, CR or LF", name);
    for (size_t i = 0; i < o->n; i++) {
        LDR_ASSERT(o->names[i] != NULL);
        ldr_type t = schema_type(o, i);
        if (t != LDR_TYPE_INVALID && !ldr_type_valid(t))
            return ldr_err_setf(err, LDR_EINVAL, "%s: column '%s': invalid type %d", name,
                                o->names[i], (int)t);
    }
    return LDR_OK;
}

/* Fills the zero "use the default" fields of the caller's options. */
static ldr_csv_read_opts effective_opts(const ldr_csv_read_opts *in)
{
    ldr_csv_read_opts o = in ? *in : ldr_csv_read_opts_default();
    if (o.delimiter == '\0')
        o.delimiter = ',';
    if (o.max_field_bytes == 0)
        o.max_field_bytes = LDR_CSV_MAX_FIELD_BYTES_DEFAULT;
    if (o.max_columns == 0)
        o.max_columns = LDR_CSV_MAX_COLUMNS_DEFAULT;
    return o;
}

static ldr_code read_all(csv_reader *r, ldr_err *err)
{
    ldr_code rc = read_header(r, err);
    if (rc != LDR_OK)
        return rc;
    ldr_map by_name;
    ldr_map_init(&by_name);
    rc = name_header(r, &by_name, err);
    if (rc == LDR_OK)
        rc = plan_columns(r, &by_name, err);
    ldr_map_fini(&by_name);
    const ldr_csv_read_opts *o = r->opts;
    if (rc == LDR_OK && o->range_end) {
        csv_lexer *lx = &r->lx;
        size_t len = (size_t)(lx->end - lx->data);
        if (o->range_begin < (uint64_t)(lx->p - lx->data) || o->range_end > len ||
            o->range_begin > o->range_end)
            return ldr_err_setf(err, LDR_EINVAL, "%s: the range %llu..%llu is not within the data",
                                lx->name, (unsigned long long)o->range_begin,
                                (unsigned long long)o->range_end);
        lx->p = lx->data + o->range_begin;
        lx->end = lx->data + o->range_end;
        lx->line_start = lx->p;
        lx->line = o->range_line;
    }
    if (rc == LDR_OK)
        rc = read_rows(r, err);
    return rc;
}

ldr_code ldr_csv_read_mem(const char *name, const char *data, size_t len,
                          const ldr_csv_read_opts *opts, ldr_batch **out, ldr_err *err)
{
    *out = NULL;
    ldr_csv_read_opts o = effective_opts(opts);
    ldr_code rc = check_opts(name, &o, err);
    if (rc != LDR_OK)
        return rc;
    csv_reader r;
    memset(&r, 0, sizeof r);
    r.opts = &o;
    lexer_init(&r.lx, name, data ? data : "", data ? len : 0, o.delimiter, o.max_field_bytes);
    ldr_arena_init(&r.a, 0);
    ldr_arena_init(&r.values, 0);
    ldr_buf_init(&r.scratch, o.max_field_bytes);
    rc = read_all(&r, err);
    if (rc == LDR_OK) {
        ldr_batch *b = ldr_batch_new();
        for (size_t k = 0; k < r.n_out; k++) {
            if (r.out[k].infer)
                finish_inferred(&r, &r.out[k]);
            ldr_batch_add(b, r.out[k].name, r.out[k].col);
            r.out[k].col = NULL;
        }
        *out = b;
    }
    reader_fini(&r);
    return rc;
}

/* Reads a non-regular file (a pipe, a terminal) into buf. */
static ldr_code slurp_fd(int fd, const char *path, ldr_buf *buf, ldr_err *err)
{
    char chunk[65536];
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ldr_err_sys(err, LDR_EIO, errno, "cannot read %s", path);
        if (got == 0)
            return LDR_OK;
        ldr_code rc = ldr_buf_append(buf, chunk, (size_t)got, err);
        if (rc != LDR_OK) {
            ldr_err_prefix(err, "%s: ", path);
            return rc;
        }
    }
}

static ldr_code read_mapped(int fd, const char *path, size_t len, const ldr_csv_read_opts *opts,
                            ldr_batch **out, ldr_err *err)
{
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot map %s", path);
    (void)madvise(map, len, MADV_SEQUENTIAL); /* a hint; failure changes nothing */
    ldr_code rc = ldr_csv_read_mem(path, map, len, opts, out, err);
    munmap(map, len);
    return rc;
}

ldr_code ldr_csv_read_file(const char *path, const ldr_csv_read_opts *opts, ldr_batch **out,
                           ldr_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno, "cannot open %s",
                           path);
    struct stat st;
    ldr_code rc;
    if (fstat(fd, &st) != 0) {
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot stat %s", path);
    } else if (S_ISDIR(st.st_mode)) {
        rc = ldr_err_setf(err, LDR_EINVAL, "%s: is a directory, not a CSV file", path);
    } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
        rc = read_mapped(fd, path, (size_t)st.st_size, opts, out, err);
    } else {
        ldr_buf buf;
        ldr_buf_init(&buf, PIPE_READ_MAX);
        rc = slurp_fd(fd, path, &buf, err);
        if (rc == LDR_OK)
            rc = ldr_csv_read_mem(path, ldr_buf_cstr(&buf), buf.len, opts, out, err);
        ldr_buf_fini(&buf);
    }
    close(fd);
    return rc;
}

/* ---- splitting ------------------------------------------------------------------------------- */

static void ranges_add(ldr_buf *b, uint64_t begin, uint64_t end, size_t line)
{
    ldr_csv_range r = {begin, end, line};
    ldr_code rc = ldr_buf_append(b, &r, sizeof r, NULL);
    LDR_ASSERT(rc == LDR_OK); /* the buffer's limit is SIZE_MAX / 2 */
}

/* Lines in [from, to) of a text without CR: its LFs. */
static size_t count_lf(const char *from, const char *to)
{
    size_t n = 0;
    for (const char *q = from; (q = memchr(q, '\n', (size_t)(to - q))); q++)
        n++;
    return n;
}

/* The cut points of data[0..len): after the header, a record start at or after every
 * multiple of target. Appends ranges to out; false when the text does not lex (the
 * caller then keeps one range, and reading reports the error). */
static bool split_mem(const char *data, size_t len, const ldr_csv_read_opts *o, size_t target,
                      ldr_buf *out)
{
    csv_lexer lx;
    lexer_init(&lx, "", data, len, o->delimiter ? o->delimiter : ',', SIZE_MAX);
    csv_field f;
    size_t n;
    if (!lex_next_record(&lx) || lex_record(&lx, &f, 0, &n, NULL) != LDR_OK)
        return false;
    bool plain =
        !memchr(lx.p, '"', (size_t)(lx.end - lx.p)) && !memchr(lx.p, '\r', (size_t)(lx.end - lx.p));
    const char *begin = lx.p;
    size_t line = lx.line;
    while ((size_t)(lx.end - begin) >= 2 * target) {
        const char *cut;
        size_t cut_line;
        if (plain) {
            cut = memchr(begin + target, '\n', (size_t)(lx.end - begin) - target);
            if (!cut)
                break;
            cut++;
            cut_line = line + count_lf(begin, cut);
        } else {
            while (lx.p < begin + target && lex_next_record(&lx))
                if (lex_record(&lx, &f, 0, &n, NULL) != LDR_OK)
                    return false;
            if (!lex_next_record(&lx))
                break;
            cut = lx.p;
            cut_line = lx.line;
        }
        ranges_add(out, (uint64_t)(begin - data), (uint64_t)(cut - data), line);
        begin = cut;
        line = cut_line;
        if (plain) {
            lx.p = cut;
            lx.line = cut_line;
        }
    }
    ranges_add(out, (uint64_t)(begin - data), len, line);
    return true;
}

/* The ranges of b (one "everything" range unless split) into *out, *n; finishes b. */
static void ranges_out(ldr_buf *b, bool split, ldr_csv_range **out, size_t *n)
{
    if (!split) {
        ldr_buf_reset(b);
        ranges_add(b, 0, 0, 1); /* end 0: everything */
    }
    *n = b->len / sizeof(ldr_csv_range);
    *out = ldr_xmalloc(b->len);
    memcpy(*out, b->ptr, b->len);
    ldr_buf_fini(b);
}

void ldr_csv_split_mem(const char *data, size_t len, const ldr_csv_read_opts *opts,
                       size_t target_bytes, ldr_csv_range **out, size_t *n)
{
    ldr_csv_read_opts o = effective_opts(opts);
    ldr_buf b;
    ldr_buf_init(&b, SIZE_MAX / 2);
    bool split = data && target_bytes && len >= 2 * target_bytes &&
                 split_mem(data, len, &o, target_bytes, &b);
    ranges_out(&b, split, out, n);
}

ldr_code ldr_csv_split_file(const char *path, const ldr_csv_read_opts *opts, size_t target_bytes,
                            ldr_csv_range **out, size_t *n, ldr_err *err)
{
    *out = NULL;
    *n = 0;
    ldr_csv_read_opts o = effective_opts(opts);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno, "cannot open %s",
                           path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ldr_err_sys(err, LDR_EIO, e, "cannot stat %s", path);
    }
    ldr_buf b;
    ldr_buf_init(&b, SIZE_MAX / 2);
    size_t len = S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    bool split = false;
    if (target_bytes && len >= 2 * target_bytes) {
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            split = split_mem(map, len, &o, target_bytes, &b);
            munmap(map, len);
        }
    }
    close(fd);
    ranges_out(&b, split, out, n);
    return LDR_OK;
}
