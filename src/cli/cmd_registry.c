/*
 * cmd_registry.c -- registry-dump, registry history, registry diff V1 V2.
 *
 * registry-dump prints the whole current registry as one JSON document: the project, its
 * version, and each object kind as an array of {spec..., meta: {created_timestamp,
 * last_updated_timestamp, version}}. history lists versions oldest first; diff shows
 * what changed between two versions (0 is the empty registry before the first apply).
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The JSON array name of each kind in dumps. */
static const char *kind_key(const char *kind)
{
    if (!strcmp(kind, "Entity"))
        return "entities";
    if (!strcmp(kind, "DataSource"))
        return "data_sources";
    if (!strcmp(kind, "FeatureView"))
        return "feature_views";
    if (!strcmp(kind, "FeatureService"))
        return "feature_services";
    return "other";
}

json_t *cli_object_json(const ldr_regobj *o)
{
    json_t *spec = json_loads(o->spec, 0, NULL);
    if (!spec)
        return NULL;
    char created[LDR_TS_BUFSZ], updated[LDR_TS_BUFSZ];
    json_t *meta = json_object();
    json_object_set_new(meta, "created_timestamp", json_string(ldr_ts_format(o->created, created)));
    json_object_set_new(meta, "last_updated_timestamp",
                        json_string(ldr_ts_format(o->updated, updated)));
    json_object_set_new(meta, "version", json_integer(o->version));
    json_t *out = json_object();
    json_object_set_new(out, "kind", json_string(o->kind));
    json_object_update(out, spec);
    json_object_set_new(out, "meta", meta);
    json_decref(spec);
    return out;
}

/* The project's recorded materializations (none when nothing was applied). */
static void load_intervals(ldr_store *st, ldr_arena *a, ldr_materialization **m, size_t *n)
{
    *m = NULL;
    *n = 0;
    ldr_registry *reg = ldr__store_registry(st);
    ldr_err err;
    ldr_err_clear(&err);
    if (reg && ldr_registry_materializations(reg, ldr_store_project(st), a, m, n, &err) != LDR_OK)
        fprintf(stderr, "larder: warning: cannot read materialization intervals: %s\n", err.msg);
}

void cli_attach_intervals(ldr_store *st, json_t *obj, const char *kind, const char *name)
{
    if (!obj || strcmp(kind, "FeatureView") != 0)
        return;
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_materialization *m;
    size_t n;
    load_intervals(st, &a, &m, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].view, name) != 0)
            continue;
        char s[LDR_TS_BUFSZ], e[LDR_TS_BUFSZ], r[LDR_TS_BUFSZ];
        json_t *iv = json_object();
        json_object_set_new(iv, "start_date",
                            m[i].start == LDR_TS_NONE ? json_null()
                                                      : json_string(ldr_ts_format(m[i].start, s)));
        json_object_set_new(iv, "end_date", json_string(ldr_ts_format(m[i].end, e)));
        json_object_set_new(iv, "recorded", json_string(ldr_ts_format(m[i].recorded, r)));
        json_object_set_new(iv, "rows", json_integer((json_int_t)m[i].rows));
        json_array_append_new(arr, iv);
    }
    json_t *meta = json_object_get(obj, "meta");
    if (meta)
        json_object_set_new(meta, "materialization_intervals", arr);
    else
        json_decref(arr);
    ldr_arena_fini(&a);
}

int cmd_registry_dump(cli_ctx *ctx, int argc, char **argv)
{
    static const char help[] = "Usage: larder [-c REPO] registry-dump\n\n"
                               "Print the project's whole registry (current version) as JSON.\n";
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    if (argc > 1)
        return cli_usage_error("registry-dump", "unexpected argument '%s'", argv[1]);
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    ldr_snapshot *snap = ldr_store_snapshot(st);
    const ldr_objset *objs = ldr__snapshot_objects(snap);
    json_t *root = json_object();
    json_object_set_new(root, "project", json_string(ldr_store_project(st)));
    json_object_set_new(root, "version", json_integer(ldr_snapshot_version(snap)));
    static const char *const keys[] = {"entities", "data_sources", "feature_views",
                                       "feature_services"};
    for (size_t i = 0; i < LDR_ARRAY_LEN(keys); i++)
        json_object_set_new(root, keys[i], json_array());
    code = CLI_OK;
    for (size_t i = 0; i < objs->n; i++) {
        json_t *o = cli_object_json(&objs->items[i]);
        cli_attach_intervals(st, o, objs->items[i].kind, objs->items[i].name);
        if (!o) {
            fprintf(stderr, "larder: error: registry object %s '%s' has a corrupt spec\n",
                    objs->items[i].kind, objs->items[i].name);
            code = CLI_FAIL;
            continue;
        }
        json_t *arr = json_object_get(root, kind_key(objs->items[i].kind));
        if (!arr) {
            arr = json_array();
            json_object_set_new(root, kind_key(objs->items[i].kind), arr);
        }
        json_array_append_new(arr, o);
    }
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
    ldr_snapshot_unref(snap);
    ldr_store_close(st);
    return code;
}

static bool parse_version(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static int registry_history(ldr_store *st)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_regversion *v = NULL;
    size_t n = 0;
    ldr_err err;
    ldr_err_clear(&err);
    int code = CLI_OK;
    ldr_registry *reg = ldr__store_registry(st);
    if (reg && ldr_registry_versions(reg, ldr_store_project(st), &a, &v, &n, &err) != LDR_OK) {
        code = cli_fail(&err);
    } else if (n == 0) {
        printf("Project %s has no registry versions yet: run 'larder apply'.\n",
               ldr_store_project(st));
    } else {
        printf("%-8s %-27s %s\n", "VERSION", "CREATED", "SUMMARY");
        for (size_t i = 0; i < n; i++) {
            char ts[LDR_TS_BUFSZ];
            printf("%-8lld %-27s %s\n", (long long)v[i].version, ldr_ts_format(v[i].created, ts),
                   v[i].summary);
        }
    }
    ldr_arena_fini(&a);
    return code;
}

static int registry_diff(ldr_store *st, int64_t v1, int64_t v2)
{
    ldr_registry *reg = ldr__store_registry(st);
    const char *project = ldr_store_project(st);
    ldr_objset a, b;
    ldr_objset_init(&a);
    ldr_objset_init(&b);
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_buf out;
    ldr_buf_init(&out, 64u << 20);
    ldr_err err;
    ldr_err_clear(&err);
    int code = CLI_OK;
    /* Version 0 is the empty registry; ldr_registry_load treats 0 as "current". */
    ldr_code rc = LDR_OK;
    if (!reg && (v1 || v2))
        rc = ldr_err_setf(&err, LDR_ENOTFOUND,
                          "project %s has no registry version %lld (latest is 0)", project,
                          (long long)(v1 ? v1 : v2));
    if (rc == LDR_OK && v1)
        rc = ldr_registry_load(reg, project, v1, &a, &err);
    if (rc == LDR_OK && v2)
        rc = ldr_registry_load(reg, project, v2, &b, &err);
    if (rc == LDR_OK)
        rc = ldr_diff(&a, &b, &cs, &err);
    if (rc == LDR_OK)
        rc = ldr_changeset_render(&cs, &out, &err);
    if (rc != LDR_OK) {
        code = cli_fail(&err);
    } else if (cs.n == 0) {
        printf("No differences between versions %lld and %lld.\n", (long long)v1, (long long)v2);
    } else {
        size_t add, mod, rem;
        ldr_changeset_counts(&cs, &add, &mod, &rem);
        printf("Changes from version %lld to %lld:\n%s%zu added, %zu changed, %zu removed.\n",
               (long long)v1, (long long)v2, ldr_buf_cstr(&out), add, mod, rem);
    }
    ldr_buf_fini(&out);
    ldr_changeset_fini(&cs);
    ldr_objset_fini(&a);
    ldr_objset_fini(&b);
    return code;
}

int cmd_registry(cli_ctx *ctx, int argc, char **argv)
{
    static const char help[] =
        "Usage: larder [-c REPO] registry history\n"
        "       larder [-c REPO] registry diff V1 V2\n\n"
        "history  list the project's registry versions (number, time, summary of changes)\n"
        "diff     show what changed from version V1 to version V2 (0 = before the first\n"
        "         apply), with each changed field's old -> new value\n";
    if (argc < 2) {
        if (argc > 1 && cli_wants_help(argc, argv, help))
            return CLI_OK;
        return cli_usage_error("registry", "missing subcommand (history or diff)");
    }
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    const char *sub = argv[1];
    int64_t v1 = 0, v2 = 0;
    if (!strcmp(sub, "history")) {
        if (argc > 2)
            return cli_usage_error("registry", "unexpected argument '%s'", argv[2]);
    } else if (!strcmp(sub, "diff")) {
        if (argc != 4)
            return cli_usage_error("registry", "diff needs two version numbers, e.g. 'diff 1 2'");
        if (!parse_version(argv[2], &v1) || !parse_version(argv[3], &v2))
            return cli_usage_error("registry",
                                   "versions must be non-negative integers, got '%s' "
                                   "and '%s'",
                                   argv[2], argv[3]);
    } else {
        return cli_usage_error("registry", "unknown subcommand '%s' (history or diff)", sub);
    }
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    code = !strcmp(sub, "history") ? registry_history(st) : registry_diff(st, v1, v2);
    ldr_store_close(st);
    return code;
}
