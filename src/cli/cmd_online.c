/*
 * cmd_online.c -- `larder materialize`, `materialize-incremental` and
 * `get-online-features`: moving features into the online store and reading them back.
 *
 * The commands run on the registry's current snapshot (not the repository files), like
 * every serving path. Materialization shows a progress line per view on a terminal
 * (rows read, rows/s, written, ETA by source chunks) and a plain summary otherwise.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "serving/serving.h"

/* ---- materialize ------------------------------------------------------------------------- */

static const char mat_help[] =
    "Usage: larder [-c REPO] materialize START END [--views VIEW ...] [--threads N]\n\n"
    "Write the latest row per entity of each online view's source rows with\n"
    "START <= event time <= END to the online store (newer rows win over stored ones),\n"
    "then record the interval in the registry. START and END are RFC 3339 times, 'now'\n"
    "or 'now-2h' style. Safe to interrupt and rerun.\n\n"
    "Options:\n"
    "  --views VIEW   only these views (repeat, or separate with commas)\n"
    "  --threads N    views materialized at once (default: one per core)\n";

static const char inc_help[] =
    "Usage: larder [-c REPO] materialize-incremental END [--views VIEW ...] [--threads N]\n\n"
    "Materialize each online view from where its last materialization ended (for a view\n"
    "never materialized: END - ttl, or the beginning of its data when ttl is 0) to END.\n"
    "END is an RFC 3339 time, 'now' or 'now-2h' style.\n\n"
    "Options:\n"
    "  --views VIEW   only these views (repeat, or separate with commas)\n"
    "  --threads N    views materialized at once (default: one per core)\n";

typedef struct progress_ctx {
    bool tty;
    ldr_ts t0;
    size_t lines; /* lines printed by the last update (to redraw) */
} progress_ctx;

static const char *state_name(int s)
{
    static const char *const names[] = {"waiting", "reading", "writing",
                                        "done",    "FAILED",  "up to date"};
    return s >= 0 && s < 6 ? names[s] : "?";
}

static void fmt_interval(const ldr_mat_progress *p, char *buf, size_t len)
{
    char a[LDR_TS_BUFSZ], b[LDR_TS_BUFSZ];
    snprintf(buf, len, "%s .. %s",
             p->start == LDR_TS_NONE ? "beginning" : ldr_ts_format(p->start, a),
             ldr_ts_format(p->end, b));
}

static void on_progress(void *ctx, const ldr_mat_progress *p, size_t n, bool final)
{
    progress_ctx *pc = ctx;
    double secs = (double)(ldr_ts_now() - pc->t0) / 1e6;
    if (!final && !pc->tty)
        return;
    if (pc->tty && pc->lines)
        fprintf(stderr, "\033[%zuA", pc->lines); /* back to the first line */
    for (size_t i = 0; i < n; i++) {
        double rate = secs > 0 ? (double)p[i].rows_read / secs : 0;
        if (final) {
            char iv[128];
            fmt_interval(&p[i], iv, sizeof iv);
            if (pc->tty)
                fprintf(stderr, "\033[2K");
            if (p[i].state == 5)
                fprintf(stderr, "%s: up to date (%s)\n", p[i].view, iv);
            else
                fprintf(stderr,
                        "%s: %s [%s]: read %llu rows, %llu entities, wrote %llu rows in %.2f s "
                        "(%.0f rows/s)\n",
                        p[i].view, state_name(p[i].state), iv, (unsigned long long)p[i].rows_read,
                        (unsigned long long)p[i].keys, (unsigned long long)p[i].rows_written, secs,
                        rate);
            continue;
        }
        char eta[32] = "";
        if (p[i].chunks_total && p[i].chunks_done && p[i].chunks_done < p[i].chunks_total)
            snprintf(eta, sizeof eta, ", ETA %.0f s",
                     secs * (double)(p[i].chunks_total - p[i].chunks_done) /
                         (double)p[i].chunks_done);
        fprintf(stderr, "\033[2K%s: %s, read %llu rows (%.0f rows/s), wrote %llu%s\n", p[i].view,
                state_name(p[i].state), (unsigned long long)p[i].rows_read, rate,
                (unsigned long long)p[i].rows_written, eta);
    }
    pc->lines = final ? 0 : n;
    fflush(stderr);
}

static int materialize_common(cli_ctx *ctx, int argc, char **argv, bool incremental)
{
    const char *help = incremental ? inc_help : mat_help;
    const char *cmd = incremental ? "materialize-incremental" : "materialize";
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    enum { O_VIEWS = 256, O_THREADS };
    static const struct option opts[] = {
        {"views", required_argument, NULL, O_VIEWS},
        {"threads", required_argument, NULL, O_THREADS},
        {NULL, 0, NULL, 0},
    };
    ldr_mat_request req = {.start = LDR_TS_NONE, .end = LDR_TS_NONE, .incremental = incremental};
    char **views = ldr_xcalloc((size_t)argc + 1, sizeof *views);
    char **owned = ldr_xcalloc((size_t)argc + 1, sizeof *owned);
    size_t n_views = 0, n_owned = 0;
    int code = CLI_OK, c;
    ldr_err err;
    ldr_err_clear(&err);
    opterr = 0;
    while (code == CLI_OK && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_VIEWS: {
            char *copy = owned[n_owned++] = ldr_xstrdup(optarg);
            for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
                 t = strtok_r(NULL, ",", &save)) {
                views = ldr_xreallocarray(views, n_views + 2, sizeof *views);
                views[n_views++] = t;
            }
            break;
        }
        case O_THREADS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 1024)
                code = cli_usage_error(cmd, "--threads must be 0..1024, got '%s'", optarg);
            req.threads = (int)n;
            break;
        }
        case ':':
            code = cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            code = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    int want = incremental ? 1 : 2;
    if (code == CLI_OK && argc - optind != want)
        code = cli_usage_error(cmd, incremental ? "give END" : "give START and END");
    if (code == CLI_OK && !incremental && cli_parse_time(argv[optind], &req.start, &err) != LDR_OK)
        code = cli_usage_error(cmd, "START: %s", err.msg);
    if (code == CLI_OK && cli_parse_time(argv[argc - 1], &req.end, &err) != LDR_OK)
        code = cli_usage_error(cmd, "END: %s", err.msg);
    if (code == CLI_OK && !incremental && req.start > req.end)
        code = cli_usage_error(cmd, "START (%s) is after END (%s)", argv[optind], argv[argc - 1]);
    ldr_store *st = code == CLI_OK ? cli_open_store(ctx, &code) : NULL;
    if (st) {
        ldr_registry *reg = ldr__store_registry(st);
        if (!reg) {
            ldr_err_setf(&err, LDR_ENOTFOUND,
                         "nothing has been applied yet: run `larder apply` first");
            code = cli_fail(&err);
        } else {
            progress_ctx pc = {.tty = isatty(STDERR_FILENO) == 1, .t0 = ldr_ts_now()};
            req.views = (const char *const *)views;
            req.n_views = n_views;
            if (n_views == 0)
                req.views = NULL;
            req.progress = on_progress;
            req.progress_ctx = &pc;
            ldr_snapshot *snap = ldr_store_snapshot(st);
            if (ldr_serving_materialize(ldr__store_config(st), ldr__snapshot_defs(snap), reg, &req,
                                        &err) != LDR_OK)
                code = cli_fail(&err);
            ldr_snapshot_unref(snap);
        }
        ldr_store_close(st);
    }
    for (size_t i = 0; i < n_owned; i++)
        ldr_free(owned[i]);
    ldr_free(owned);
    ldr_free(views);
    return code;
}

int cmd_materialize(cli_ctx *ctx, int argc, char **argv)
{
    return materialize_common(ctx, argc, argv, false);
}

int cmd_materialize_incremental(cli_ctx *ctx, int argc, char **argv)
{
    return materialize_common(ctx, argc, argv, true);
}

/* ---- get-online-features ------------------------------------------------------------------ */

static const char online_help[] =
    "Usage: larder [-c REPO] get-online-features\n"
    "           (--features VIEW:FEATURE ... | --feature-service NAME)\n"
    "           --entity KEY=VALUE[,KEY=VALUE] ... [--full-feature-names]\n"
    "           [--format json|table]\n\n"
    "Read the latest materialized values for each entity row. Every --entity is one row;\n"
    "each row gives the same keys. Values are converted to the entity's declared type.\n"
    "Each value comes with a status: PRESENT, NOT_FOUND (no row for the entity),\n"
    "NULL_VALUE (stored null) or OUTSIDE_MAX_AGE (older than the view's ttl; the value is\n"
    "still returned).\n\n"
    "Options:\n"
    "  --features VIEW:FEATURE   a feature (repeat for more)\n"
    "  --feature-service NAME    the features of a feature service\n"
    "  --entity KEY=VALUE,...    one entity row (repeat for more rows)\n"
    "  --full-feature-names      name features VIEW__FEATURE (alias when projected)\n"
    "  --format json|table       Feast's column-oriented JSON (default), or a table\n";

/* Prints the response as a table: one line per entity row; cells that are not PRESENT
 * carry their status. */
static void print_table(const ldr_online_response *r)
{
    ldr_buf line, cellb;
    ldr_buf_init(&line, (size_t)1 << 30);
    ldr_buf_init(&cellb, (size_t)1 << 30);
    size_t *width = ldr_xcalloc(r->n_cols + 1, sizeof *width);
    char ***cells = ldr_xcalloc(r->n_rows + 1, sizeof *cells);
    for (size_t c = 0; c < r->n_cols; c++)
        width[c] = strlen(r->names[c]);
    for (size_t i = 0; i < r->n_rows; i++) {
        cells[i] = ldr_xcalloc(r->n_cols + 1, sizeof **cells);
        for (size_t c = 0; c < r->n_cols; c++) {
            ldr_buf_reset(&cellb);
            const ldr_value *v = &r->values[c][i];
            ldr_code rc = LDR_OK;
            if (v->is_null)
                rc = ldr_buf_puts(&cellb, "-", NULL);
            else
                rc = ldr_value_to_text(v, &cellb, NULL);
            if (rc == LDR_OK && r->status[c][i] != LDR_STATUS_PRESENT)
                rc = ldr_buf_puts(&cellb, " (", NULL) ||
                     ldr_buf_puts(&cellb, ldr_fstatus_name((ldr_fstatus)r->status[c][i]), NULL) ||
                     ldr_buf_puts(&cellb, ")", NULL);
            (void)rc;
            cells[i][c] = ldr_xstrdup(cellb.ptr ? cellb.ptr : "");
            size_t w = strlen(cells[i][c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t c = 0; c < r->n_cols; c++)
        printf("%-*s%s", c + 1 < r->n_cols ? (int)width[c] : 0, r->names[c],
               c + 1 < r->n_cols ? "  " : "\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        for (size_t c = 0; c < r->n_cols; c++) {
            printf("%-*s%s", c + 1 < r->n_cols ? (int)width[c] : 0, cells[i][c],
                   c + 1 < r->n_cols ? "  " : "\n");
            ldr_free(cells[i][c]);
        }
        ldr_free(cells[i]);
    }
    ldr_free(cells);
    ldr_free(width);
    ldr_buf_fini(&line);
    ldr_buf_fini(&cellb);
}

int cmd_get_online_features(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "get-online-features";
    if (cli_wants_help(argc, argv, online_help))
        return CLI_OK;
    enum { O_FEAT = 256, O_SVC, O_ENT, O_FULL, O_FORMAT };
    static const struct option opts[] = {
        {"features", required_argument, NULL, O_FEAT},
        {"feature-service", required_argument, NULL, O_SVC},
        {"entity", required_argument, NULL, O_ENT},
        {"full-feature-names", no_argument, NULL, O_FULL},
        {"format", required_argument, NULL, O_FORMAT},
        {NULL, 0, NULL, 0},
    };
    ldr_arena a;
    ldr_arena_init(&a, 0);
    const char **features = ldr_arena_calloc(&a, (size_t)argc + 1, sizeof *features);
    char **rows = ldr_arena_calloc(&a, (size_t)argc + 1, sizeof *rows);
    size_t n_rows = 0;
    ldr_online_request req = {0};
    bool json = true;
    int code = CLI_OK, c;
    ldr_err err;
    ldr_err_clear(&err);
    opterr = 0;
    while (code == CLI_OK && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_FEAT:
            features[req.n_features++] = optarg;
            break;
        case O_SVC:
            req.feature_service = optarg;
            break;
        case O_ENT:
            rows[n_rows++] = optarg;
            break;
        case O_FULL:
            req.full_feature_names = true;
            break;
        case O_FORMAT:
            if (!strcmp(optarg, "json") || !strcmp(optarg, "table"))
                json = !strcmp(optarg, "json");
            else
                code = cli_usage_error(cmd, "--format must be json or table, got '%s'", optarg);
            break;
        case ':':
            code = cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            code = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (code == CLI_OK && optind < argc)
        code = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (code == CLI_OK && (req.n_features > 0) == (req.feature_service != NULL))
        code = cli_usage_error(cmd, "give --features VIEW:FEATURE ... or --feature-service NAME");
    if (code == CLI_OK && n_rows == 0)
        code = cli_usage_error(cmd, "give at least one --entity KEY=VALUE");
    /* Entity rows: the first row fixes the keys; every row must give the same ones. */
    const char **names = NULL;
    ldr_value **cols = NULL;
    size_t nk = 0;
    if (n_rows) {
        names = ldr_arena_calloc(&a, strlen(rows[0]) + 1, sizeof *names);
        cols = ldr_arena_calloc(&a, strlen(rows[0]) + 1, sizeof *cols);
    }
    for (size_t i = 0; code == CLI_OK && i < n_rows; i++) {
        char *copy = ldr_arena_strdup(&a, rows[i]);
        size_t seen = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && code == CLI_OK;
             t = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(t, '=');
            if (!eq || eq == t) {
                code = cli_usage_error(cmd, "--entity '%s': expected KEY=VALUE", rows[i]);
                break;
            }
            *eq = '\0';
            size_t k = 0;
            while (k < nk && strcmp(names[k], t) != 0)
                k++;
            if (k == nk) {
                if (i > 0) {
                    code = cli_usage_error(cmd,
                                           "--entity '%s': key '%s' is not in the first row; "
                                           "every row must give the same keys",
                                           rows[i], t);
                    break;
                }
                names[nk] = t;
                cols[nk] = ldr_arena_calloc(&a, n_rows, sizeof **cols);
                for (size_t r = 0; r < n_rows; r++)
                    cols[nk][r] = ldr_value_null(LDR_TYPE_STRING);
                nk++;
            }
            ldr_value *v = &cols[k][i];
            if (!v->is_null) {
                code = cli_usage_error(cmd, "--entity '%s': key '%s' is given twice", rows[i], t);
                break;
            }
            v->is_null = false;
            v->u.str.ptr = eq + 1;
            v->u.str.len = strlen(eq + 1);
            seen++;
        }
        if (code == CLI_OK && seen != nk)
            code = cli_usage_error(cmd,
                                   "--entity '%s': every row must give the same keys (%zu, "
                                   "not %zu)",
                                   rows[i], nk, seen);
    }
    ldr_store *st = code == CLI_OK ? cli_open_store(ctx, &code) : NULL;
    if (st) {
        const ldr_config *cfg = ldr__store_config(st);
        ldr_snapshot *snap = ldr_store_snapshot(st);
        ldr_online_store *os = ldr_online_open(cfg, &err);
        req.features = features;
        req.entity_names = names;
        req.entity_values = (const ldr_value *const *)cols;
        req.n_entity_cols = nk;
        req.n_rows = n_rows;
        ldr_online_response resp;
        if (!os || ldr_serving_get_online(ldr__snapshot_defs(snap), cfg->project, os, &req,
                                          ldr_ts_now(), &a, &resp, &err) != LDR_OK) {
            code = cli_fail(&err);
        } else if (json) {
            ldr_buf out;
            ldr_buf_init(&out, (size_t)1 << 31);
            if (ldr_serving_response_json(&resp, &out, &err) != LDR_OK)
                code = cli_fail(&err);
            else
                printf("%s\n", out.ptr);
            ldr_buf_fini(&out);
        } else {
            print_table(&resp);
        }
        ldr_online_close(os);
        ldr_snapshot_unref(snap);
        ldr_store_close(st);
    }
    ldr_arena_fini(&a);
    return code;
}
