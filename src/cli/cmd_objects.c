/*
 * cmd_objects.c -- `entities|data-sources|feature-views|feature-services list|describe`
 * and `search`.
 *
 * list prints an aligned table (filtered by --tags k:v, repeatable, all must match);
 * describe prints one object as JSON with its registry metadata; search matches text,
 * case-insensitively, against names, descriptions, tags and feature names and prints
 * one line per matching object with where it matched. All read the current registry
 * snapshot (what was applied), not the repository files.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>
#include <strings.h>

typedef enum okind { K_ENTITY, K_SOURCE, K_VIEW, K_SERVICE } okind;

static const char *const cmd_names[] = {"entities", "data-sources", "feature-views",
                                        "feature-services"};
static const char *const kind_names[] = {"Entity", "DataSource", "FeatureView", "FeatureService"};

static void list_entities(const ldr_snapshot *snap, char **tags, size_t n_tags)
{
    size_t n;
    const ldr_entity *e = ldr_snapshot_entities(snap, &n);
    printf("%-24s %-20s %-16s %s\n", "NAME", "JOIN KEY", "VALUE TYPE", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        if (!cli_tags_match(&e[i].tags, tags, n_tags))
            continue;
        printf("%-24s %-20s %-16s %s\n", e[i].name, e[i].join_key,
               e[i].value_type ? ldr_type_name(e[i].value_type) : "-", e[i].description);
    }
}

static void list_sources(const ldr_snapshot *snap, char **tags, size_t n_tags)
{
    size_t n;
    const ldr_source *s = ldr_snapshot_sources(snap, &n);
    printf("%-24s %-8s %s\n", "NAME", "TYPE", "DETAIL");
    for (size_t i = 0; i < n; i++) {
        if (!cli_tags_match(&s[i].tags, tags, n_tags))
            continue;
        char detail[512];
        switch (s[i].kind) {
        case LDR_SOURCE_FILE:
            snprintf(detail, sizeof detail, "%s (%s, timestamp %s)", s[i].path,
                     ldr_file_format_name(s[i].format), s[i].timestamp_field);
            break;
        case LDR_SOURCE_PUSH:
            snprintf(detail, sizeof detail, "batch source %s", s[i].batch_source);
            break;
        case LDR_SOURCE_REQUEST:
            snprintf(detail, sizeof detail, "%zu request field%s", s[i].n_schema,
                     s[i].n_schema == 1 ? "" : "s");
            break;
        }
        printf("%-24s %-8s %s\n", s[i].name, ldr_source_kind_name(s[i].kind), detail);
    }
}

static void list_views(const ldr_snapshot *snap, char **tags, size_t n_tags)
{
    size_t n;
    const ldr_view *v = ldr_snapshot_views(snap, &n);
    printf("%-28s %-24s %-8s %-24s %-7s %s\n", "NAME", "ENTITIES", "TTL", "SOURCE", "ONLINE",
           "FIELDS");
    for (size_t i = 0; i < n; i++) {
        if (!cli_tags_match(&v[i].tags, tags, n_tags))
            continue;
        char ents[256] = "", ttl[LDR_DURATION_BUFSZ];
        size_t pos = 0;
        for (size_t j = 0; j < v[i].n_entities && pos < sizeof ents; j++) {
            int k = snprintf(ents + pos, sizeof ents - pos, "%s%s", j ? "," : "", v[i].entities[j]);
            pos += k > 0 ? (size_t)k : 0;
        }
        printf("%-28s %-24s %-8s %-24s %-7s %zu\n", v[i].name, v[i].n_entities ? ents : "-",
               v[i].ttl ? ldr_duration_format(v[i].ttl, ttl) : "0", v[i].source,
               v[i].online ? "yes" : "no", v[i].n_schema);
    }
}

static void list_services(const ldr_snapshot *snap, char **tags, size_t n_tags)
{
    size_t n;
    const ldr_service *s = ldr_snapshot_services(snap, &n);
    printf("%-28s %s\n", "NAME", "FEATURE VIEWS");
    for (size_t i = 0; i < n; i++) {
        if (!cli_tags_match(&s[i].tags, tags, n_tags))
            continue;
        printf("%-28s ", s[i].name);
        for (size_t j = 0; j < s[i].n_projections; j++) {
            const ldr_projection *p = &s[i].projections[j];
            printf("%s%s", j ? ", " : "", p->view);
            if (*p->alias)
                printf(" as %s", p->alias);
        }
        printf("\n");
    }
}

static int objects_cmd(cli_ctx *ctx, int argc, char **argv, okind kind)
{
    const char *cmd = cmd_names[kind];
    char help[1024];
    snprintf(help, sizeof help,
             "Usage: larder [-c REPO] %s list [--tags KEY:VALUE]...\n"
             "       larder [-c REPO] %s describe NAME\n\n"
             "list      a table of the applied %s; --tags keeps those carrying every given\n"
             "          tag (KEY:VALUE, or KEY alone for any value)\n"
             "describe  one object as JSON, with created/updated times and version\n",
             cmd, cmd, cmd);
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    if (argc < 2)
        return cli_usage_error(cmd, "missing subcommand (list or describe)");
    const char *sub = argv[1];
    char *tags[64];
    size_t n_tags = 0;
    const char *name = NULL;
    if (!strcmp(sub, "list")) {
        static const struct option opts[] = {{"tags", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
        int c;
        optind = 0;
        opterr = 0;
        /* getopt_long permutes: parse argv[1..] as if "list" were the program name. */
        while ((c = getopt_long(argc - 1, argv + 1, ":t:", opts, NULL)) != -1) {
            if (c == 't') {
                if (n_tags == LDR_ARRAY_LEN(tags))
                    return cli_usage_error(cmd, "too many --tags filters (max %zu)",
                                           LDR_ARRAY_LEN(tags));
                tags[n_tags++] = optarg;
            } else if (c == ':') {
                return cli_usage_error(cmd, "option '%s' needs a value", argv[optind]);
            } else {
                return cli_usage_error(cmd, "unknown option '%s'", argv[optind]);
            }
        }
        if (optind + 1 < argc)
            return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    } else if (!strcmp(sub, "describe")) {
        if (argc != 3)
            return cli_usage_error(cmd, "describe needs exactly one NAME");
        name = argv[2];
    } else {
        return cli_usage_error(cmd, "unknown subcommand '%s' (list or describe)", sub);
    }
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    ldr_snapshot *snap = ldr_store_snapshot(st);
    code = CLI_OK;
    if (!name) {
        switch (kind) {
        case K_ENTITY:
            list_entities(snap, tags, n_tags);
            break;
        case K_SOURCE:
            list_sources(snap, tags, n_tags);
            break;
        case K_VIEW:
            list_views(snap, tags, n_tags);
            break;
        case K_SERVICE:
            list_services(snap, tags, n_tags);
            break;
        }
    } else {
        const ldr_regobj *o = ldr_objset_find(ldr__snapshot_objects(snap), kind_names[kind], name);
        json_t *j = o ? cli_object_json(o) : NULL;
        if (j)
            cli_attach_intervals(st, j, kind_names[kind], name);
        if (!o) {
            fprintf(stderr, "larder: error: no %s named '%s' in project %s\n", kind_names[kind],
                    name, ldr_store_project(st));
            code = CLI_FAIL;
        } else if (!j) {
            fprintf(stderr, "larder: error: registry object %s '%s' has a corrupt spec\n",
                    kind_names[kind], name);
            code = CLI_FAIL;
        } else {
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        }
        json_decref(j);
    }
    ldr_snapshot_unref(snap);
    ldr_store_close(st);
    return code;
}

int cmd_entities(cli_ctx *ctx, int argc, char **argv)
{
    return objects_cmd(ctx, argc, argv, K_ENTITY);
}
int cmd_data_sources(cli_ctx *ctx, int argc, char **argv)
{
    return objects_cmd(ctx, argc, argv, K_SOURCE);
}
int cmd_feature_views(cli_ctx *ctx, int argc, char **argv)
{
    return objects_cmd(ctx, argc, argv, K_VIEW);
}
int cmd_feature_services(cli_ctx *ctx, int argc, char **argv)
{
    return objects_cmd(ctx, argc, argv, K_SERVICE);
}

/* ---- search -------------------------------------------------------------------------------- */

typedef struct hit {
    char where[256];
    size_t len;
} hit;

static void note(hit *h, const char *what)
{
    if (h->len + strlen(what) + 3 >= sizeof h->where)
        return;
    int n = snprintf(h->where + h->len, sizeof h->where - h->len, "%s%s", h->len ? ", " : "", what);
    h->len += n > 0 ? (size_t)n : 0;
}

static bool has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static void match_common(hit *h, const char *q, const char *name, const char *desc,
                         const char *owner, const ldr_kvs *tags)
{
    if (has(name, q))
        note(h, "name");
    if (has(desc, q))
        note(h, "description");
    if (has(owner, q))
        note(h, "owner");
    for (size_t i = 0; i < tags->n; i++) {
        if (has(tags->items[i].key, q) || has(tags->items[i].value, q)) {
            char t[128];
            snprintf(t, sizeof t, "tag %s=%s", tags->items[i].key, tags->items[i].value);
            note(h, t);
        }
    }
}

static void match_fields(hit *h, const char *q, const ldr_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char t[300];
        if (has(f[i].name, q)) {
            snprintf(t, sizeof t, "field %s", f[i].name);
            note(h, t);
        } else if (has(f[i].description, q)) {
            snprintf(t, sizeof t, "field %s description", f[i].name);
            note(h, t);
        }
    }
}

static size_t print_hit(const hit *h, const char *kind, const char *name)
{
    if (!h->len)
        return 0;
    printf("%-16s %-28s %s\n", kind, name, h->where);
    return 1;
}

int cmd_search(cli_ctx *ctx, int argc, char **argv)
{
    static const char help[] =
        "Usage: larder [-c REPO] search TEXT\n\n"
        "Find applied objects whose name, description, owner, tags, or field names and\n"
        "descriptions contain TEXT (case-insensitive). One line per object: kind, name,\n"
        "and where it matched.\n";
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    if (argc != 2 || !*argv[1])
        return cli_usage_error("search", "expected one non-empty TEXT argument");
    const char *q = argv[1];
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    ldr_snapshot *snap = ldr_store_snapshot(st);
    size_t found = 0, n;
    const ldr_entity *e = ldr_snapshot_entities(snap, &n);
    for (size_t i = 0; i < n; i++) {
        hit h = {0};
        match_common(&h, q, e[i].name, e[i].description, e[i].owner, &e[i].tags);
        if (has(e[i].join_key, q) && strcmp(e[i].join_key, e[i].name) != 0)
            note(&h, "join key");
        found += print_hit(&h, "Entity", e[i].name);
    }
    const ldr_source *s = ldr_snapshot_sources(snap, &n);
    for (size_t i = 0; i < n; i++) {
        hit h = {0};
        match_common(&h, q, s[i].name, s[i].description, s[i].owner, &s[i].tags);
        match_fields(&h, q, s[i].schema, s[i].n_schema);
        found += print_hit(&h, "DataSource", s[i].name);
    }
    const ldr_view *v = ldr_snapshot_views(snap, &n);
    for (size_t i = 0; i < n; i++) {
        hit h = {0};
        match_common(&h, q, v[i].name, v[i].description, v[i].owner, &v[i].tags);
        match_fields(&h, q, v[i].schema, v[i].n_schema);
        found += print_hit(&h, "FeatureView", v[i].name);
    }
    const ldr_service *sv = ldr_snapshot_services(snap, &n);
    for (size_t i = 0; i < n; i++) {
        hit h = {0};
        match_common(&h, q, sv[i].name, sv[i].description, sv[i].owner, &sv[i].tags);
        found += print_hit(&h, "FeatureService", sv[i].name);
    }
    if (!found)
        printf("No objects in project %s match '%s'.\n", ldr_store_project(st), q);
    ldr_snapshot_unref(snap);
    ldr_store_close(st);
    return CLI_OK;
}
