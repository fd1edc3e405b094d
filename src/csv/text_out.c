/*
 * text_out.c -- batches as text: CSV (RFC 4180) and JSON Lines writers, and the text of
 * single cells (ldr_csv_format_value, ldr_json_format_value). The forms are listed in
 * csv.h; in short, CSV uses the same text as ldr_value_to_text (so the reader and
 * ldr_value_from_text read it back exactly), JSON uses strict JSON (NaN/Inf as null,
 * bytes as base64, strings always valid UTF-8).
 *
 * Cells are formatted column-wise from ldr_col storage (dictionaries resolved by the
 * accessors), never through ldr_value, so no per-cell allocation happens. Output goes
 * through a 64 KiB text_out buffer with one fwrite per buffer; the first failed write is
 * remembered and reported as LDR_EIO when the call ends (later output is dropped).
 * Reentrant; a FILE must not be shared with another thread during a call.
 */
#include "csv/csv.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define OUT_BUF_SIZE ((size_t)1 << 16)
#define CELL_MAX     (SIZE_MAX / 4) /* a cell's text is bounded by its column's memory */

/* ---- buffered output ------------------------------------------------------------------- */

typedef struct text_out {
    FILE *f;
    char *buf; /* OUT_BUF_SIZE bytes */
    size_t len;
    int sys_errno; /* first write failure, 0 if none */
} text_out;

static void out_init(text_out *o, FILE *f)
{
    o->f = f;
    o->buf = ldr_xmalloc(OUT_BUF_SIZE);
    o->len = 0;
    o->sys_errno = 0;
}

static void out_write(text_out *o, const void *p, size_t n)
{
    if (n && !o->sys_errno && fwrite(p, 1, n, o->f) != n)
        o->sys_errno = errno ? errno : EIO;
}

static void out_flush(text_out *o)
{
    out_write(o, o->buf, o->len);
    o->len = 0;
}

static void out_put(text_out *o, const void *p, size_t n)
{
    if (n > OUT_BUF_SIZE - o->len) {
        out_flush(o);
        if (n >= OUT_BUF_SIZE) {
            out_write(o, p, n);
            return;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void out_putc(text_out *o, char c)
{
    if (o->len == OUT_BUF_SIZE)
        out_flush(o);
    o->buf[o->len++] = c;
}

/* Flushes everything (also the FILE, so a full disk shows up now) and frees the buffer.
 * rc is the formatting result so far; a write failure wins over LDR_OK only. */
static ldr_code out_fini(text_out *o, ldr_code rc, const char *what, ldr_err *err)
{
    out_flush(o);
    errno = 0;
    if (!o->sys_errno && (fflush(o->f) != 0 || ferror(o->f)))
        o->sys_errno = errno ? errno : EIO;
    ldr_free(o->buf);
    if (rc == LDR_OK && o->sys_errno)
        return ldr_err_sys(err, LDR_EIO, o->sys_errno, "cannot write %s output", what);
    return rc;
}

/* ---- scalar text ------------------------------------------------------------------------ */

/* Decimal text of v; returns its length (at most 20). */
static size_t fmt_i64(int64_t v, char buf[24])
{
    char tmp[24];
    size_t n = 0;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
}

static ldr_code put_i64(ldr_buf *out, int64_t v, ldr_err *err)
{
    char tmp[24];
    size_t n = fmt_i64(v, tmp);
    return ldr_buf_append(out, tmp, n, err);
}

/* Floats as text (ldr_fmt_float/ldr_fmt_double: shortest round trip, printf-free for the
 * common values); json maps NaN and infinities to null. */
static ldr_code put_float(ldr_buf *out, const ldr_col *c, size_t row, bool json, ldr_err *err)
{
    char tmp[32];
    bool finite;
    if (c->type == LDR_TYPE_FLOAT32) {
        float f = ldr_col_f32(c, row);
        finite = isfinite(f);
        ldr_fmt_float(f, tmp);
    } else {
        double d = ldr_col_f64(c, row);
        finite = isfinite(d);
        ldr_fmt_double(d, tmp);
    }
    if (json && !finite)
        return ldr_buf_append(out, "null", 4, err);
    return ldr_buf_append(out, tmp, strlen(tmp), err);
}

static void put2(char *p, int64_t v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/*
 * ldr_ts_format's text without printf for years 1-9999 (every timestamp a parser can
 * produce): civil-from-days as in core/time.c (Howard Hinnant's algorithm; the range
 * keeps every quantity non-negative), then fixed-width digits. Returns the length, or 0
 * outside the range (ldr_ts_format handles it).
 */
static size_t fmt_ts_fast(ldr_ts ts, char buf[LDR_TS_BUFSZ])
{
    const int64_t us_per_day = INT64_C(86400000000);
    const int64_t first = INT64_C(-719162) * us_per_day; /* 0001-01-01 */
    const int64_t end = INT64_C(2932897) * us_per_day;   /* 10000-01-01 */
    if (ts < first || ts >= end)
        return 0;
    int64_t days = (ts - first) / us_per_day - 719162, us = (ts - first) % us_per_day;
    int64_t z = days + 719468; /* days since 0000-03-01, > 0 here */
    int64_t era = z / 146097, doe = z % 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    int64_t sec = us / 1000000, frac = us % 1000000;
    put2(buf, y / 100);
    put2(buf + 2, y % 100);
    buf[4] = '-';
    put2(buf + 5, m);
    buf[7] = '-';
    put2(buf + 8, d);
    buf[10] = 'T';
    put2(buf + 11, sec / 3600);
    buf[13] = ':';
    put2(buf + 14, sec / 60 % 60);
    buf[16] = ':';
    put2(buf + 17, sec % 60);
    size_t o = 19;
    if (frac != 0) {
        bool millis = frac % 1000 == 0;
        int64_t f = millis ? frac / 1000 : frac;
        size_t w = millis ? 3 : 6;
        buf[o++] = '.';
        for (size_t i = w; i-- > 0; f /= 10)
            buf[o + i] = (char)('0' + f % 10);
        o += w;
    }
    buf[o++] = 'Z';
    buf[o] = '\0';
    return o;
}

static ldr_code put_ts(ldr_buf *out, ldr_ts ts, bool quoted, ldr_err *err)
{
    char tmp[LDR_TS_BUFSZ + 2];
    size_t n = fmt_ts_fast(ts, tmp + 1);
    if (n == 0)
        n = strlen(ldr_ts_format(ts, tmp + 1));
    if (!quoted)
        return ldr_buf_append(out, tmp + 1, n, err);
    tmp[0] = '"';
    tmp[n + 1] = '"';
    return ldr_buf_append(out, tmp, n + 2, err);
}

/* ---- JSON strings ----------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid (overlong forms,
 * surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    }
    return need;
}

/* The escape for byte c inside a JSON string, or NULL when c needs none. */
static const char *json_escape(unsigned char c, char u[7])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        break;
    }
    if (c >= 0x20)
        return NULL;
    u[0] = '\\';
    u[1] = 'u';
    u[2] = '0';
    u[3] = '0';
    u[4] = hex[c >> 4];
    u[5] = hex[c & 15];
    u[6] = '\0';
    return u;
}

/*
 * Appends s as a JSON string. mode 'j' (strict JSON): UTF-8 is validated and invalid
 * bytes become \ufffd. mode 's' / 'b' (the list element form ldr_value_from_text reads):
 * strings keep every byte >= 0x80 as is, bytes escape them as \u00XX; both escape DEL.
 */
static ldr_code put_json_string(ldr_buf *out, const char *s, size_t len, char mode, ldr_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    ldr_code rc = ldr_buf_putc(out, '"', err);
    size_t run = 0; /* start of the pending bytes that need no escape */
    for (size_t i = 0; i < len && rc == LDR_OK;) {
        char esc_buf[7];
        const char *esc = json_escape(u[i], esc_buf);
        size_t adv = 1;
        if (!esc && u[i] >= 0x7f) {
            if (mode == 'j' && u[i] >= 0x80) {
                adv = utf8_len(u + i, len - i);
                esc = adv ? NULL : "\\ufffd";
                adv = adv ? adv : 1;
            } else if (u[i] == 0x7f || mode == 'b') {
                static const char hex[] = "0123456789abcdef";
                char t[7] = {'\\', 'u', '0', '0', hex[u[i] >> 4], hex[u[i] & 15], '\0'};
                memcpy(esc_buf, t, sizeof t);
                esc = esc_buf;
            }
        }
        if (esc) {
            rc = ldr_buf_append(out, s + run, i - run, err);
            if (rc == LDR_OK)
                rc = ldr_buf_puts(out, esc, err);
            run = i + adv;
        }
        i += adv;
    }
    if (rc == LDR_OK)
        rc = ldr_buf_append(out, s + run, len - run, err);
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, '"', err);
    return rc;
}

/* Appends bytes as a padded base64 JSON string (RFC 4648). */
static ldr_code put_base64(ldr_buf *out, const unsigned char *s, size_t len, ldr_err *err)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ldr_code rc = ldr_buf_putc(out, '"', err);
    char q[4];
    for (size_t i = 0; i < len && rc == LDR_OK; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        q[0] = b64[v >> 18 & 63];
        q[1] = b64[v >> 12 & 63];
        q[2] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        q[3] = i + 2 < len ? b64[v & 63] : '=';
        rc = ldr_buf_append(out, q, 4, err);
    }
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, '"', err);
    return rc;
}

ldr_code ldr_json_put_string(ldr_buf *out, const char *s, size_t len, ldr_err *err)
{
    return put_json_string(out, s, len, 'j', err);
}

ldr_code ldr_json_put_i64(ldr_buf *out, int64_t v, ldr_err *err)
{
    return put_i64(out, v, err);
}

ldr_code ldr_json_put_base64(ldr_buf *out, const void *s, size_t len, ldr_err *err)
{
    return put_base64(out, s, len, err);
}

/* ---- cells -------------------------------------------------------------------------------- */

typedef enum cell_form {
    FORM_CSV,  /* top-level CSV cell: strings verbatim, timestamps bare */
    FORM_ELEM, /* list element in the ldr_value_to_text form */
    FORM_JSON, /* strict JSON */
} cell_form;

/* A valid, non-list cell. */
static ldr_code put_scalar(ldr_buf *out, const ldr_col *c, size_t row, cell_form form, ldr_err *err)
{
    size_t len;
    const char *s;
    switch (c->type) {
    case LDR_TYPE_INT32:
        return put_i64(out, ldr_col_i32(c, row), err);
    case LDR_TYPE_INT64:
        return put_i64(out, ldr_col_i64(c, row), err);
    case LDR_TYPE_FLOAT32:
    case LDR_TYPE_FLOAT64:
        return put_float(out, c, row, form == FORM_JSON, err);
    case LDR_TYPE_BOOL:
        return ldr_buf_puts(out, ldr_col_bool(c, row) ? "true" : "false", err);
    case LDR_TYPE_UNIX_TIMESTAMP:
        return put_ts(out, ldr_col_i64(c, row), form != FORM_CSV, err);
    case LDR_TYPE_STRING:
        s = ldr_col_str(c, row, &len);
        if (form == FORM_CSV)
            return ldr_buf_append(out, s, len, err);
        return put_json_string(out, s, len, form == FORM_JSON ? 'j' : 's', err);
    case LDR_TYPE_BYTES:
        s = ldr_col_str(c, row, &len);
        if (form == FORM_CSV)
            return ldr_buf_append(out, s, len, err);
        if (form == FORM_JSON)
            return put_base64(out, (const unsigned char *)s, len, err);
        return put_json_string(out, s, len, 'b', err);
    default:
        break;
    }
    LDR_ASSERT(0 && "put_scalar: not a scalar type");
    return LDR_EINVAL;
}

static ldr_code put_list(ldr_buf *out, const ldr_col *c, size_t row, cell_form form, ldr_err *err)
{
    size_t begin, end;
    ldr_col_list(c, row, &begin, &end);
    const char *sep = form == FORM_JSON ? "," : ", ";
    cell_form elem = form == FORM_JSON ? FORM_JSON : FORM_ELEM;
    ldr_code rc = ldr_buf_putc(out, '[', err);
    for (size_t k = begin; k < end && rc == LDR_OK; k++) {
        if (k > begin)
            rc = ldr_buf_puts(out, sep, err);
        if (rc != LDR_OK)
            break;
        if (!ldr_col_valid(c->child, k))
            rc = ldr_buf_puts(out, "null", err);
        else
            rc = put_scalar(out, c->child, k, elem, err);
    }
    if (rc == LDR_OK)
        rc = ldr_buf_putc(out, ']', err);
    return rc;
}

static ldr_code put_cell(ldr_buf *out, const ldr_col *c, size_t row, cell_form form, ldr_err *err)
{
    LDR_ASSERT(row < c->n);
    if (!ldr_col_valid(c, row))
        return form == FORM_JSON ? ldr_buf_puts(out, "null", err) : LDR_OK;
    if (ldr_type_is_list(c->type))
        return put_list(out, c, row, form, err);
    return put_scalar(out, c, row, form, err);
}

ldr_code ldr_csv_format_value(const ldr_col *c, size_t row, ldr_buf *out, ldr_err *err)
{
    return put_cell(out, c, row, FORM_CSV, err);
}

ldr_code ldr_json_format_value(const ldr_col *c, size_t row, ldr_buf *out, ldr_err *err)
{
    return put_cell(out, c, row, FORM_JSON, err);
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* True when a field must be quoted (see ldr_csv_write_rows). */
static bool needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (is_blank(s[0]) || is_blank(s[len - 1]) || (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0))
        return true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ',' || c == '"' || c == '\n' || c == '\r')
            return true;
    }
    return false;
}

/* Writes one field; `alone` (a one-column row) writes an empty field as "". */
static void put_field(text_out *o, const char *s, size_t len, bool alone)
{
    if (len == 0) {
        if (alone)
            out_put(o, "\"\"", 2);
        return;
    }
    if (!needs_quotes(s, len)) {
        out_put(o, s, len);
        return;
    }
    out_putc(o, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            out_put(o, s + run, i + 1 - run); /* through the quote, then one more */
            out_putc(o, '"');
            run = i + 1;
        }
    }
    out_put(o, s + run, len - run);
    out_putc(o, '"');
}

static ldr_code write_header(text_out *o, const char *const *names, size_t n, ldr_err *err)
{
    (void)err;
    for (size_t j = 0; j < n; j++) {
        if (j)
            out_putc(o, ',');
        size_t len = strlen(names[j]);
        if (len == 0)
            out_put(o, "\"\"", 2); /* keeps a one-column header from being a blank line */
        else
            put_field(o, names[j], len, false);
    }
    out_putc(o, '\n');
    return LDR_OK;
}

static ldr_code write_csv_rows(text_out *o, const ldr_batch *b, ldr_err *err)
{
    ldr_buf cell;
    ldr_buf_init(&cell, CELL_MAX);
    ldr_code rc = LDR_OK;
    bool alone = b->n_cols == 1;
    for (size_t i = 0; i < b->n_rows && rc == LDR_OK && !o->sys_errno; i++) {
        for (size_t j = 0; j < b->n_cols && rc == LDR_OK; j++) {
            const ldr_col *c = b->cols[j];
            if (j)
                out_putc(o, ',');
            if (!ldr_col_valid(c, i)) {
                put_field(o, "", 0, alone);
            } else if (c->type == LDR_TYPE_STRING || c->type == LDR_TYPE_BYTES) {
                size_t len;
                const char *s = ldr_col_str(c, i, &len);
                put_field(o, s, len, alone);
            } else {
                ldr_buf_reset(&cell);
                rc = put_cell(&cell, c, i, FORM_CSV, err);
                put_field(o, ldr_buf_cstr(&cell), cell.len, alone);
            }
        }
        out_putc(o, '\n');
    }
    ldr_buf_fini(&cell);
    return rc;
}

ldr_code ldr_csv_write_header(const char *const *names, size_t n, FILE *out, ldr_err *err)
{
    text_out o;
    out_init(&o, out);
    ldr_code rc = write_header(&o, names, n, err);
    return out_fini(&o, rc, "CSV", err);
}

ldr_code ldr_csv_write_rows(const ldr_batch *b, FILE *out, ldr_err *err)
{
    text_out o;
    out_init(&o, out);
    ldr_code rc = write_csv_rows(&o, b, err);
    return out_fini(&o, rc, "CSV", err);
}

ldr_code ldr_csv_write_batch(const ldr_batch *b, FILE *out, ldr_err *err)
{
    text_out o;
    out_init(&o, out);
    ldr_code rc = write_header(&o, (const char *const *)b->names, b->n_cols, err);
    if (rc == LDR_OK)
        rc = write_csv_rows(&o, b, err);
    return out_fini(&o, rc, "CSV", err);
}

/* ---- JSON Lines --------------------------------------------------------------------------- */

ldr_code ldr_jsonl_write_rows(const ldr_batch *b, FILE *out, ldr_err *err)
{
    text_out o;
    out_init(&o, out);
    /* The keys are rendered once: keys holds `"name":` for every column, back to back. */
    ldr_buf keys, cell;
    ldr_buf_init(&keys, CELL_MAX);
    ldr_buf_init(&cell, CELL_MAX);
    size_t *key_end = ldr_xcalloc(b->n_cols + 1, sizeof *key_end);
    ldr_code rc = LDR_OK;
    for (size_t j = 0; j < b->n_cols && rc == LDR_OK; j++) {
        rc = put_json_string(&keys, b->names[j], strlen(b->names[j]), 'j', err);
        if (rc == LDR_OK)
            rc = ldr_buf_putc(&keys, ':', err);
        key_end[j + 1] = keys.len;
    }
    for (size_t i = 0; i < b->n_rows && rc == LDR_OK && !o.sys_errno; i++) {
        out_putc(&o, '{');
        for (size_t j = 0; j < b->n_cols && rc == LDR_OK; j++) {
            if (j)
                out_putc(&o, ',');
            out_put(&o, keys.ptr + key_end[j], key_end[j + 1] - key_end[j]);
            ldr_buf_reset(&cell);
            rc = put_cell(&cell, b->cols[j], i, FORM_JSON, err);
            out_put(&o, ldr_buf_cstr(&cell), cell.len);
        }
        out_put(&o, "}\n", 2);
    }
    ldr_free(key_end);
    ldr_buf_fini(&cell);
    ldr_buf_fini(&keys);
    return out_fini(&o, rc, "JSON Lines", err);
}

ldr_code ldr_jsonl_write_batch(const ldr_batch *b, FILE *out, ldr_err *err)
{
    return ldr_jsonl_write_rows(b, out, err);
}
