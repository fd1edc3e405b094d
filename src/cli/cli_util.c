/*
 * cli_util.c -- helpers shared by the CLI commands: the ldr_code -> exit code table,
 * error and usage printing, opening a store with full diagnostics, --help detection and
 * tag filters.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

static const int exit_codes[LDR_CODE_COUNT] = {
    [LDR_OK] = CLI_OK,         [LDR_ENOMEM] = CLI_FAIL,        [LDR_EINVAL] = CLI_USAGE,
    [LDR_EIO] = CLI_FAIL,      [LDR_ENOTFOUND] = CLI_FAIL,     [LDR_ECORRUPT] = CLI_FAIL,
    [LDR_ELIMIT] = CLI_USAGE,  [LDR_EBACKEND] = CLI_FAIL,      [LDR_EBUSY] = CLI_BUSY,
    [LDR_ECONFIG] = CLI_USAGE, [LDR_EUNSUPPORTED] = CLI_USAGE,
};

int cli_exit_code(ldr_code code)
{
    if ((unsigned)code >= LDR_CODE_COUNT)
        return CLI_FAIL;
    return exit_codes[code];
}

int cli_fail(const ldr_err *err)
{
    fprintf(stderr, "larder: error: %s\n", err->msg[0] ? err->msg : ldr_code_name(err->code));
    return cli_exit_code(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "larder %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'larder %s --help'.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

void cli_print_diagnostics(const ldr_store *st)
{
    size_t n = ldr_store_diagnostics_count(st), total = ldr_store_problems_total(st);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s\n", ldr_store_diagnostic(st, i));
    if (total > n)
        fprintf(stderr, "%zu problems found (the first %zu are shown); nothing was changed.\n",
                total, n);
    else if (n)
        fprintf(stderr, "%zu problem%s found; nothing was changed.\n", n, n == 1 ? "" : "s");
}

ldr_store *cli_open_store(cli_ctx *ctx, int *exit_code)
{
    ldr_err err;
    ldr_err_clear(&err);
    ldr_store_opts opts = ldr_store_opts_default();
    ldr_store *st = ldr_store_open(ctx->repo_dir, &opts, &err);
    if (!st) {
        /* Configuration problems come as diagnostics; the error carries the first. The
         * full list is only reachable through a store, so reload the config to print it. */
        if (err.code == LDR_ECONFIG) {
            ldr_config cfg;
            ldr_diags d;
            ldr_diags_init(&d);
            ldr_err e2;
            if (ldr_config_load(ctx->repo_dir, &cfg, &d, &e2) != LDR_OK && d.n) {
                for (size_t i = 0; i < d.n; i++)
                    fprintf(stderr, "%s\n", d.items[i]);
                fprintf(stderr, "%zu problem%s found in feature_store.yaml.\n", d.n,
                        d.n == 1 ? "" : "s");
                ldr_config_fini(&cfg);
                ldr_diags_fini(&d);
                *exit_code = CLI_USAGE;
                return NULL;
            }
            ldr_config_fini(&cfg);
            ldr_diags_fini(&d);
        }
        *exit_code = cli_fail(&err);
        return NULL;
    }
    return st;
}

bool cli_wants_help(int argc, char **argv, const char *help)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return true;
        }
    }
    return false;
}

bool cli_tags_match(const ldr_kvs *tags, char *const *filters, size_t n_filters)
{
    for (size_t i = 0; i < n_filters; i++) {
        const char *f = filters[i];
        const char *colon = strchr(f, ':');
        size_t klen = colon ? (size_t)(colon - f) : strlen(f);
        bool ok = false;
        for (size_t j = 0; j < tags->n && !ok; j++) {
            const ldr_kv *kv = &tags->items[j];
            if (strlen(kv->key) == klen && !strncmp(kv->key, f, klen))
                ok = !colon || !strcmp(kv->value, colon + 1);
        }
        if (!ok)
            return false;
    }
    return true;
}

ldr_code cli_parse_time(const char *s, ldr_ts *out, ldr_err *err)
{
    if (strncmp(s, "now", 3) != 0)
        return ldr_ts_parse(s, strlen(s), out, err);
    ldr_ts now = ldr_ts_now();
    if (!s[3]) {
        *out = now;
        return LDR_OK;
    }
    if (s[3] != '-' && s[3] != '+')
        return ldr_err_setf(err, LDR_EINVAL, "invalid time \"%s\" (use RFC 3339, now, now-2h)", s);
    ldr_duration d;
    ldr_code rc = ldr_duration_parse(s + 4, strlen(s + 4), &d, err);
    if (rc != LDR_OK)
        return rc;
    *out = s[3] == '-' ? now - d : now + d;
    return LDR_OK;
}

ldr_code cli_parse_size(const char *s, size_t *out, ldr_err *err)
{
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return ldr_err_setf(err, LDR_EINVAL, "'%s' is not a size (expected e.g. 512M or 4G)", s);
    unsigned long long v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (ULLONG_MAX - 9) / 10)
            return ldr_err_setf(err, LDR_EINVAL, "size '%s' is too large", s);
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    static const char units[] = "KMGT";
    unsigned shift = 0;
    if (*p) {
        const char *u = strchr(units, toupper((unsigned char)*p));
        if (!u)
            return ldr_err_setf(err, LDR_EINVAL, "size '%s' has an unknown unit (use K, M, G or T)",
                                s);
        shift = 10u * (unsigned)(u - units + 1);
        p++;
        if (toupper((unsigned char)*p) == 'I')
            p++;
        if (toupper((unsigned char)*p) == 'B')
            p++;
    }
    if (*p)
        return ldr_err_setf(err, LDR_EINVAL, "'%s' is not a size (expected e.g. 512M or 4G)", s);
    if (v == 0)
        return ldr_err_setf(err, LDR_EINVAL, "size must be greater than zero");
    if (shift && v > (SIZE_MAX >> shift))
        return ldr_err_setf(err, LDR_EINVAL, "size '%s' is too large", s);
    *out = (size_t)(v << shift);
    if ((unsigned long long)*out != v << shift)
        return ldr_err_setf(err, LDR_EINVAL, "size '%s' is too large", s);
    return LDR_OK;
}
