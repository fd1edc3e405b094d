/*
 * cmd_parquet.c -- `larder parquet schema FILE`, `larder parquet cat FILE [--columns
 * a,b] [--format csv|jsonl] [--limit N]` and `larder parquet scan FILE`: look inside a
 * Parquet file with Larder's own reader (src/parquet), the way Larder itself will read it.
 * scan decodes (row group, column) chunks in parallel into columns each thread reuses, and
 * only keeps per-chunk counts and sums.
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

/* The work of one scan: units are (row group, column) chunks, row-group-major, taken by
 * the threads from an atomic counter; each unit's count and sum land in its own slot, and
 * the slots are added in row-group order afterwards, so the sums do not depend on the
 * thread count. */
typedef struct scan_job {
    ldr_pq_reader *r;
    const size_t *cols; /* column indices */
    size_t n_cols;
    size_t n_rgs;
    double *sums;     /* n_rgs x n_cols */
    uint64_t *counts; /* n_rgs x n_cols */
    atomic_size_t next;
    atomic_bool failed;
    pthread_mutex_t lock; /* protects err_unit, err and rc */
    size_t err_unit;      /* the failed unit reported (SIZE_MAX: none) */
    ldr_err err;
    ldr_code rc;
} scan_job;

/* Sums of fixed-width columns, one function per C type. Without nulls the loop keeps four
 * partial sums: one chain of dependent additions would run at one value per
 * floating-point add latency. The order is fixed, so a file always gives the same sum. */
#define DEFINE_SUM(name, ctype)                        \
    static double name(const ldr_col *c)               \
    {                                                  \
        const ctype *v = c->data;                      \
        size_t n = c->n, i = 0;                        \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;         \
        if (!c->valid) {                               \
            for (; i + 4 <= n; i += 4) {               \
                s0 += (double)v[i];                    \
                s1 += (double)v[i + 1];                \
                s2 += (double)v[i + 2];                \
                s3 += (double)v[i + 3];                \
            }                                          \
            for (; i < n; i++)                         \
                s0 += (double)v[i];                    \
        } else {                                       \
            for (; i < n; i++)                         \
                if ((c->valid[i >> 3] >> (i & 7)) & 1) \
                    s0 += (double)v[i];                \
        }                                              \
        return (s0 + s1) + (s2 + s3);                  \
    }
DEFINE_SUM(sum_f64, double)
DEFINE_SUM(sum_f32, float)
DEFINE_SUM(sum_i64, int64_t)
DEFINE_SUM(sum_i32, int32_t)

/* The sum of one row's value for the other types: bools, string and bytes lengths,
 * list lengths, and dictionary columns of any type. */
static double row_value(const ldr_col *c, size_t i)
{
    switch (c->type) {
    case LDR_TYPE_INT32:
        return ldr_col_i32(c, i);
    case LDR_TYPE_INT64:
    case LDR_TYPE_UNIX_TIMESTAMP:
        return (double)ldr_col_i64(c, i);
    case LDR_TYPE_FLOAT32:
        return (double)ldr_col_f32(c, i);
    case LDR_TYPE_FLOAT64:
        return ldr_col_f64(c, i);
    case LDR_TYPE_BOOL:
        return ldr_col_bool(c, i);
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t len;
        (void)ldr_col_str(c, i, &len);
        return (double)len;
    }
    default: {
        size_t b, e;
        ldr_col_list(c, i, &b, &e);
        return (double)(e - b);
    }
    }
}

static void scan_col(const ldr_col *c, double *sum, uint64_t *count)
{
    *count = c->n - c->null_count;
    if (!c->dict) {
        switch (c->type) {
        case LDR_TYPE_FLOAT64:
            *sum = sum_f64(c);
            return;
        case LDR_TYPE_FLOAT32:
            *sum = sum_f32(c);
            return;
        case LDR_TYPE_INT64:
        case LDR_TYPE_UNIX_TIMESTAMP:
            *sum = sum_i64(c);
            return;
        case LDR_TYPE_INT32:
            *sum = sum_i32(c);
            return;
        default:
            break;
        }
    }
    double s = 0;
    for (size_t i = 0; i < c->n; i++)
        if (ldr_col_valid(c, i))
            s += row_value(c, i);
    *sum = s;
}

#define SCAN_TYPES 32 /* above every ldr_type value */

/* A scan thread: decodes chunk after chunk into buffers it keeps (one column per type,
 * emptied and refilled by ldr_pq_read_chunk), so decoding allocates and page-faults once
 * per thread rather than once per chunk, and the buffers stay warm in the caches. */
static void *scan_worker(void *arg)
{
    scan_job *j = arg;
    ldr_pq_scratch *s = ldr_pq_scratch_new();
    ldr_col *cols[SCAN_TYPES] = {NULL};
    for (;;) {
        if (atomic_load(&j->failed))
            break;
        size_t u = atomic_fetch_add(&j->next, 1);
        if (u >= j->n_rgs * j->n_cols)
            break;
        size_t g = u / j->n_cols, k = j->cols[u % j->n_cols];
        ldr_type t = ldr_pq_column(j->r, k)->type;
        LDR_ASSERT((unsigned)t < SCAN_TYPES);
        ldr_err e;
        ldr_code rc = ldr_pq_read_chunk(j->r, g, k, true, s, &cols[t], &e);
        if (rc != LDR_OK) {
            pthread_mutex_lock(&j->lock);
            if (u < j->err_unit) { /* the first unit's error: the same on every run */
                j->err_unit = u;
                j->rc = rc;
                j->err = e;
            }
            pthread_mutex_unlock(&j->lock);
            atomic_store(&j->failed, true);
            break;
        }
        scan_col(cols[t], &j->sums[u], &j->counts[u]);
    }
    for (size_t t = 0; t < SCAN_TYPES; t++)
        ldr_col_free(cols[t]);
    ldr_pq_scratch_free(s);
    return NULL;
}

/* "no column named 'x'", with a suggestion when a column's name is close. */
static ldr_code unknown_column(const ldr_pq_reader *r, const char *path, const char *name,
                               ldr_err *err)
{
    size_t n = ldr_pq_num_columns(r);
    const char **names = ldr_xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = ldr_pq_column(r, i)->name;
    const char *dym = ldr_did_you_mean(name, names, n);
    ldr_code rc = ldr_err_setf(err, LDR_ENOTFOUND, "%s: no column named '%s'%s%s%s", path, name,
                               dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
    ldr_free(names);
    return rc;
}

/* Column indices of the selection (NULL: every column); unknown and unsupported columns
 * fail before anything is decoded. *out is caller-owned. */
static ldr_code scan_columns(const ldr_pq_reader *r, const char *path, const cat_opts *o,
                             size_t **out, size_t *out_n, ldr_err *err)
{
    size_t n = o->columns ? o->n_columns : ldr_pq_num_columns(r);
    size_t *idx = ldr_xcalloc(n ? n : 1, sizeof *idx);
    for (size_t i = 0; i < n; i++) {
        int k = o->columns ? ldr_pq_find_column(r, o->columns[i]) : (int)i;
        if (k < 0) {
            ldr_free(idx);
            return unknown_column(r, path, o->columns[i], err);
        }
        const ldr_pq_column_info *ci = ldr_pq_column(r, (size_t)k);
        if (ci->unsupported) {
            ldr_free(idx);
            return ldr_err_setf(err, LDR_EUNSUPPORTED, "%s: column %s: %s", path, ci->name,
                                ci->unsupported);
        }
        idx[i] = (size_t)k;
    }
    *out = idx;
    *out_n = n;
    return LDR_OK;
}

/* Runs the scan on t threads (the caller's included); the first error wins. */
static void scan_run(scan_job *j, size_t t)
{
    pthread_t tid[64];
    size_t started = 0, units = j->n_rgs * j->n_cols;
    for (size_t i = 1; i < t && i < units && started < 64; i++)
        if (pthread_create(&tid[started], NULL, scan_worker, j) == 0)
            started++;
    scan_worker(j);
    for (size_t i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
}

static void scan_print(const ldr_pq_reader *r, const scan_job *j)
{
    printf("rows: %lld\n", (long long)ldr_pq_num_rows(r));
    for (size_t k = 0; k < j->n_cols; k++) {
        double s = 0;
        uint64_t n = 0;
        for (size_t g = 0; g < j->n_rgs; g++) { /* row-group order: same sum for any -t */
            s += j->sums[g * j->n_cols + k];
            n += j->counts[g * j->n_cols + k];
        }
        char buf[32];
        ldr_fmt_double(s, buf);
        printf("%s: non-null %llu, sum %s\n", ldr_pq_column(r, j->cols[k])->name,
               (unsigned long long)n, buf);
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
            if (end != optarg && !*end && threads >= 0 && threads <= 64)
                continue;
            cat_opts_fini(&o);
            return cli_usage_error("parquet scan", "--threads needs a count from 0 to 64, not '%s'",
                                   optarg);
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
    scan_job j = {.r = r, .err_unit = SIZE_MAX};
    size_t *cols = NULL;
    if (r && scan_columns(r, argv[optind], &o, &cols, &j.n_cols, &err) != LDR_OK) {
        ldr_pq_reader_close(r);
        r = NULL;
    }
    if (!r) {
        cat_opts_fini(&o);
        return cli_fail(&err);
    }
    j.cols = cols;
    j.n_rgs = ldr_pq_num_row_groups(r);
    j.sums = ldr_xcalloc(j.n_rgs * j.n_cols + 1, sizeof *j.sums);
    j.counts = ldr_xcalloc(j.n_rgs * j.n_cols + 1, sizeof *j.counts);
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, false);
    pthread_mutex_init(&j.lock, NULL);
    scan_run(&j, threads > 0 ? (size_t)threads : (size_t)sysconf(_SC_NPROCESSORS_ONLN));
    pthread_mutex_destroy(&j.lock);
    int code = CLI_OK;
    if (j.rc != LDR_OK)
        code = cli_fail(&j.err);
    else
        scan_print(r, &j);
    ldr_free(j.sums);
    ldr_free(j.counts);
    ldr_free(cols);
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
