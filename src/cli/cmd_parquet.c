/*
 * cmd_parquet.c -- `larder parquet schema FILE`, `larder parquet cat FILE [--columns
 * a,b] [--format csv|jsonl] [--limit N]` and `larder parquet scan FILE`: look inside a
 * Parquet file with Larder's own reader (src/parquet), the way Larder itself will read it.
 * scan decodes row groups in parallel and only keeps per-column counts and sums.
 *
 * cat streams: it decodes one row group at a time (ldr_pq_read_row_group) and writes it
 * with the CSV / JSON Lines writers of src/csv before decoding the next, so memory stays
 * proportional to a row group, and --limit stops decoding as soon as enough rows are out.
 * CSV gets one header row (even for an empty file); text forms (RFC 3339 timestamps,
 * shortest round-trip floats, lists as JSON arrays, null as an empty field) are the
 * writers'. Errors print "larder: error: FILE: column X, row group N: problem".
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv/csv.h"
#include "parquet/parquet.h"

static const char help_main[] =
    "Usage: larder parquet COMMAND FILE [OPTIONS]\n\n"
    "Inspect Parquet files with Larder's reader.\n\n"
    "Commands:\n"
    "  schema FILE   print the columns with their Larder, physical and logical types\n"
    "  cat FILE      print the rows as CSV or JSON Lines\n"
    "  scan FILE     decode every value and print per-column counts and sums\n\n"
    "Run 'larder parquet COMMAND --help' for a command's options.\n";

static const char help_schema[] =
    "Usage: larder parquet schema FILE\n\n"
    "Print the file's row and row-group counts, its writer, and one line per top-level\n"
    "column: name, Larder type, physical type and logical type. Columns Larder cannot read\n"
    "(nested structs, maps, ...) show 'unsupported' and the reason.\n";

static const char help_cat[] =
    "Usage: larder parquet cat FILE [--columns a,b] [--format csv|jsonl] [--limit N]\n\n"
    "Print the rows of a Parquet file.\n\n"
    "Options:\n"
    "  --columns a,b        only these columns, in this order (default: all)\n"
    "  --format csv|jsonl   CSV with a header row (default), or one JSON object per line\n"
    "  --limit N            stop after N rows\n\n"
    "CSV: RFC 4180 quoting, an empty field for null, timestamps in RFC 3339 UTC ('Z'),\n"
    "floats in shortest round-trip form, lists as JSON arrays. JSON Lines: null, numbers\n"
    "(NaN and infinities as null), RFC 3339 strings for timestamps, base64 for bytes.\n";

static int parquet_schema(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, help_schema))
        return CLI_OK;
    if (argc < 2)
        return cli_usage_error("parquet schema", "missing FILE");
    if (argc > 2)
        return cli_usage_error("parquet schema", "unexpected argument '%s'", argv[2]);
    ldr_err err;
    ldr_err_clear(&err);
    ldr_pq_reader *r = ldr_pq_reader_open(argv[1], &err);
    if (!r)
        return cli_fail(&err);
    ldr_buf out;
    ldr_buf_init(&out, (size_t)64 << 20);
    int code = CLI_OK;
    if (ldr_pq_schema_text(r, &out, &err) != LDR_OK)
        code = cli_fail(&err);
    else
        fputs(ldr_buf_cstr(&out), stdout);
    ldr_buf_fini(&out);
    ldr_pq_reader_close(r);
    return code;
}

/* Options of `cat`. columns points into a copy of the --columns argument. */
typedef struct cat_opts {
    const char *path;
    char *columns_arg; /* owned */
    const char **columns;
    size_t n_columns;
    bool jsonl;
    bool limited;
    uint64_t limit;
} cat_opts;

static void cat_opts_fini(cat_opts *o)
{
    ldr_free(o->columns);
    ldr_free(o->columns_arg);
}

/* Splits "a,b,c" in place. Empty names are an error. */
static bool split_columns(cat_opts *o, const char *arg)
{
    o->columns_arg = ldr_xstrdup(arg);
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    o->columns = ldr_xcalloc(n, sizeof *o->columns);
    char *s = o->columns_arg;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (!*s)
            return false;
        o->columns[o->n_columns++] = s;
        if (!comma)
            return true;
        s = comma + 1;
    }
}

static int parse_cat(int argc, char **argv, cat_opts *o)
{
    enum { OPT_COLUMNS = 256, OPT_FORMAT, OPT_LIMIT };
    static const struct option opts[] = {
        {"columns", required_argument, NULL, OPT_COLUMNS},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 0; /* 0, not 1: glibc then re-reads the option string (permuting order) */
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == OPT_COLUMNS) {
            if (o->columns)
                return cli_usage_error("parquet cat", "--columns given twice");
            if (!split_columns(o, optarg))
                return cli_usage_error("parquet cat", "--columns has an empty column name");
        } else if (c == OPT_FORMAT) {
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0)
                return cli_usage_error("parquet cat", "--format must be csv or jsonl, not '%s'",
                                       optarg);
            o->jsonl = !strcmp(optarg, "jsonl");
        } else if (c == OPT_LIMIT) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return cli_usage_error("parquet cat", "--limit needs a row count, not '%s'",
                                       optarg);
            o->limited = true;
            o->limit = v;
        } else if (c == ':') {
            return cli_usage_error("parquet cat", "option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error("parquet cat", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("parquet cat", "missing FILE");
    if (optind + 1 < argc)
        return cli_usage_error("parquet cat", "unexpected argument '%s'", argv[optind + 1]);
    o->path = argv[optind];
    return CLI_OK;
}

/* The first n rows of b as a new batch (caller owns). */
static ldr_batch *batch_head(const ldr_batch *b, size_t n)
{
    int64_t *rows = ldr_xcalloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        rows[i] = (int64_t)i;
    ldr_batch *h = ldr_batch_new();
    for (size_t c = 0; c < b->n_cols; c++)
        ldr_batch_add(h, b->names[c], ldr_col_take(b->cols[c], rows, n));
    ldr_free(rows);
    return h;
}

/* Writes the selected columns' names as the CSV header. */
static ldr_code write_header(const ldr_pq_reader *r, const cat_opts *o, ldr_err *err)
{
    size_t n = o->columns ? o->n_columns : ldr_pq_num_columns(r);
    const char **names = ldr_xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = o->columns ? o->columns[i] : ldr_pq_column(r, i)->name;
    ldr_code rc = ldr_csv_write_header(names, n, stdout, err);
    ldr_free(names);
    return rc;
}

/* Decodes and prints row group after row group until the limit. */
static ldr_code cat_rows(ldr_pq_reader *r, const cat_opts *o, ldr_err *err)
{
    uint64_t left = o->limit;
    for (size_t g = 0; g < ldr_pq_num_row_groups(r); g++) {
        if (o->limited && left == 0)
            break;
        ldr_batch *b = NULL;
        ldr_code rc = ldr_pq_read_row_group(r, g, o->columns, o->n_columns, false, &b, err);
        if (rc != LDR_OK)
            return rc;
        if (o->limited && b->n_rows > left) {
            ldr_batch *h = batch_head(b, (size_t)left);
            ldr_batch_free(b);
            b = h;
        }
        left -= o->limited ? b->n_rows : 0;
        rc = o->jsonl ? ldr_jsonl_write_rows(b, stdout, err) : ldr_csv_write_rows(b, stdout, err);
        ldr_batch_free(b);
        if (rc != LDR_OK)
            return rc;
    }
    return LDR_OK;
}

static int parquet_cat(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, help_cat))
        return CLI_OK;
    cat_opts o;
    memset(&o, 0, sizeof o);
    int code = parse_cat(argc, argv, &o);
    if (code != CLI_OK) {
        cat_opts_fini(&o);
        return code;
    }
    ldr_err err;
    ldr_err_clear(&err);
    ldr_pq_reader *r = ldr_pq_reader_open(o.path, &err);
    ldr_code rc = r ? LDR_OK : err.code;
    /* Check the whole selection before printing anything: an unknown or unsupported
     * column fails here, not after half the file. */
    for (size_t i = 0; rc == LDR_OK && i < (o.columns ? o.n_columns : ldr_pq_num_columns(r)); i++) {
        const char *name = o.columns ? o.columns[i] : ldr_pq_column(r, i)->name;
        int k = ldr_pq_find_column(r, name);
        const ldr_pq_column_info *ci = k >= 0 ? ldr_pq_column(r, (size_t)k) : NULL;
        if (!ci)
            rc = ldr_err_setf(&err, LDR_ENOTFOUND, "%s: no column named '%s'", o.path, name);
        else if (ci->unsupported)
            rc = ldr_err_setf(&err, LDR_EUNSUPPORTED, "%s: column %s: %s", o.path, name,
                              ci->unsupported);
    }
    if (rc == LDR_OK && !o.jsonl)
        rc = write_header(r, &o, &err);
    if (rc == LDR_OK)
        rc = cat_rows(r, &o, &err);
    if (rc == LDR_OK && fflush(stdout) != 0)
        rc = ldr_err_sys(&err, LDR_EIO, errno, "writing to standard output");
    code = rc == LDR_OK ? CLI_OK : cli_fail(&err);
    ldr_pq_reader_close(r);
    cat_opts_fini(&o);
    return code;
}

/* ---- scan ------------------------------------------------------------------------------- */

static const char help_scan[] =
    "Usage: larder parquet scan FILE [--columns a,b] [--threads N]\n\n"
    "Decode every value of the selected columns (default: all), row group by row group on N\n"
    "threads (default: one per core), and print the row count and, per column, the number\n"
    "of non-null values and their sum (numbers, booleans, timestamps in microseconds) or\n"
    "total length (strings, bytes; element count for lists). Checks that a file reads end\n"
    "to end, and measures decoding speed (bench/scan).\n";

typedef struct scan_job {
    ldr_pq_reader *r;
    const char *const *cols;
    size_t n_cols;
    size_t n_rgs;
    double *sums;     /* n_rgs x n_cols */
    uint64_t *counts; /* n_rgs x n_cols */
    atomic_size_t next;
    pthread_mutex_t lock;
    ldr_err err;
    ldr_code rc;
} scan_job;

/* Sums a plain fixed-width column with one tight loop per type (the common case). */
#define SUM_FIXED(ctype, conv)                    \
    do {                                          \
        const ctype *v = c->data;                 \
        for (size_t i = 0; i < c->n; i++)         \
            if (!c->valid || ldr_col_valid(c, i)) \
                s += conv(v[i]);                  \
        *sum = s;                                 \
        *count = c->n - c->null_count;            \
        return;                                   \
    } while (0)
#define AS_DOUBLE(x) ((double)(x))

static void scan_col(const ldr_col *c, double *sum, uint64_t *count)
{
    double s = 0;
    if (!c->dict) {
        switch (c->type) {
        case LDR_TYPE_FLOAT64:
            SUM_FIXED(double, AS_DOUBLE);
        case LDR_TYPE_FLOAT32:
            SUM_FIXED(float, AS_DOUBLE);
        case LDR_TYPE_INT64:
        case LDR_TYPE_UNIX_TIMESTAMP:
            SUM_FIXED(int64_t, AS_DOUBLE);
        case LDR_TYPE_INT32:
            SUM_FIXED(int32_t, AS_DOUBLE);
        default:
            break;
        }
    }
    uint64_t k = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!ldr_col_valid(c, i))
            continue;
        k++;
        switch (c->type) {
        case LDR_TYPE_INT32:
            s += ldr_col_i32(c, i);
            break;
        case LDR_TYPE_INT64:
        case LDR_TYPE_UNIX_TIMESTAMP:
            s += (double)ldr_col_i64(c, i);
            break;
        case LDR_TYPE_FLOAT32:
            s += (double)ldr_col_f32(c, i);
            break;
        case LDR_TYPE_FLOAT64:
            s += ldr_col_f64(c, i);
            break;
        case LDR_TYPE_BOOL:
            s += ldr_col_bool(c, i);
            break;
        case LDR_TYPE_STRING:
        case LDR_TYPE_BYTES: {
            size_t len;
            (void)ldr_col_str(c, i, &len);
            s += (double)len;
            break;
        }
        default: {
            size_t b, e;
            ldr_col_list(c, i, &b, &e);
            s += (double)(e - b);
            break;
        }
        }
    }
    *sum = s;
    *count = k;
}

static void *scan_worker(void *arg)
{
    scan_job *j = arg;
    for (;;) {
        size_t g = atomic_fetch_add(&j->next, 1);
        if (g >= j->n_rgs)
            return NULL;
        ldr_batch *b = NULL;
        ldr_err e;
        ldr_code rc = ldr_pq_read_row_group(j->r, g, j->cols, j->n_cols, true, &b, &e);
        if (rc != LDR_OK) {
            pthread_mutex_lock(&j->lock);
            if (j->rc == LDR_OK) {
                j->rc = rc;
                j->err = e;
            }
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
        for (size_t c = 0; c < b->n_cols; c++)
            scan_col(b->cols[c], &j->sums[g * j->n_cols + c], &j->counts[g * j->n_cols + c]);
        ldr_batch_free(b);
    }
}

static int parquet_scan(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, help_scan))
        return CLI_OK;
    enum { OPT_COLUMNS = 256, OPT_THREADS };
    static const struct option opts[] = {
        {"columns", required_argument, NULL, OPT_COLUMNS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {NULL, 0, NULL, 0},
    };
    cat_opts o = {0};
    long threads = 0;
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == OPT_COLUMNS && !o.columns && split_columns(&o, optarg))
            continue;
        if (c == OPT_THREADS) {
            char *end;
            threads = strtol(optarg, &end, 10);
            if (!*end && threads >= 0 && threads <= 64)
                continue;
        }
        cat_opts_fini(&o);
        return cli_usage_error("parquet scan", "invalid option '%s'", argv[optind - 1]);
    }
    if (optind + 1 != argc) {
        cat_opts_fini(&o);
        return cli_usage_error("parquet scan", "expected one FILE");
    }
    ldr_err err;
    ldr_err_clear(&err);
    ldr_pq_reader *r = ldr_pq_reader_open(argv[optind], &err);
    if (!r) {
        cat_opts_fini(&o);
        return cli_fail(&err);
    }
    const char **names = ldr_xcalloc(ldr_pq_num_columns(r) + 1, sizeof *names);
    size_t n_cols = o.n_columns;
    if (o.columns) {
        for (size_t i = 0; i < n_cols; i++)
            names[i] = o.columns[i];
    } else {
        for (size_t i = 0; i < ldr_pq_num_columns(r); i++)
            names[i] = ldr_pq_column(r, i)->name;
        n_cols = ldr_pq_num_columns(r);
    }
    scan_job j = {.r = r, .cols = names, .n_cols = n_cols, .n_rgs = ldr_pq_num_row_groups(r)};
    j.sums = ldr_xcalloc(j.n_rgs * n_cols + 1, sizeof *j.sums);
    j.counts = ldr_xcalloc(j.n_rgs * n_cols + 1, sizeof *j.counts);
    atomic_init(&j.next, 0);
    pthread_mutex_init(&j.lock, NULL);
    size_t t = threads > 0 ? (size_t)threads : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t tid[64];
    size_t started = 0;
    for (size_t i = 1; i < t && i < j.n_rgs && started < 64; i++)
        if (pthread_create(&tid[started], NULL, scan_worker, &j) == 0)
            started++;
    scan_worker(&j);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&j.lock);
    int code = CLI_OK;
    if (j.rc != LDR_OK) {
        code = cli_fail(&j.err);
    } else {
        printf("rows: %lld\n", (long long)ldr_pq_num_rows(r));
        for (size_t k = 0; k < n_cols; k++) {
            double s = 0;
            uint64_t n = 0;
            for (size_t g = 0; g < j.n_rgs; g++) { /* row-group order: same sum for any -t */
                s += j.sums[g * n_cols + k];
                n += j.counts[g * n_cols + k];
            }
            char buf[32];
            ldr_fmt_double(s, buf);
            printf("%s: non-null %llu, sum %s\n", names[k], (unsigned long long)n, buf);
        }
    }
    ldr_free(j.sums);
    ldr_free(j.counts);
    ldr_free(names);
    ldr_pq_reader_close(r);
    cat_opts_fini(&o);
    return code;
}

int cmd_parquet(cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (argc < 2) {
        fputs(help_main, stderr);
        return CLI_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(help_main, stdout);
        return CLI_OK;
    }
    if (!strcmp(sub, "schema"))
        return parquet_schema(argc - 1, argv + 1);
    if (!strcmp(sub, "cat"))
        return parquet_cat(argc - 1, argv + 1);
    if (!strcmp(sub, "scan"))
        return parquet_scan(argc - 1, argv + 1);
    static const char *const subs[] = {"schema", "cat", "scan"};
    const char *dym = ldr_did_you_mean(sub, subs, LDR_ARRAY_LEN(subs));
    if (dym)
        return cli_usage_error("parquet", "unknown command '%s' (did you mean '%s'?)", sub, dym);
    return cli_usage_error("parquet", "unknown command '%s'", sub);
}
