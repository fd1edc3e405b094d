/*
 * config.c -- feature_store.yaml: the project name and where the registry, online and
 * offline stores live.
 *
 * Unknown keys are errors (with a suggestion), like everywhere in Larder, and every
 * problem in the file is reported in one run. Relative paths are resolved against the
 * repository directory, so commands behave the same from any working directory. Keys of
 * Feast's file that Larder does not use yet are rejected rather than silently ignored.
 */
#include "repo/repo_int.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool project_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (p == s ? !alnum : !(alnum || c == '_' || c == '-'))
            return false;
    }
    return strlen(s) <= 255;
}

static const char *abs_path(ldr_arena *a, const char *base, const char *p)
{
    if (p[0] == '/')
        return ldr_arena_strdup(a, p);
    return ldr_arena_sprintf(a, "%s/%s", base, p);
}

typedef struct cfgctx {
    ldr_config *cfg;
    ldr_diags *diags;
    ldr_node *root;
    bool seen_doc;
} cfgctx;

static void on_doc(void *ctx, ldr_node *doc)
{
    cfgctx *c = ctx;
    if (c->seen_doc) {
        if (doc)
            ldr_diags_addf(c->diags, &doc->loc, "feature_store.yaml must hold one document");
        return;
    }
    c->seen_doc = true;
    c->root = doc;
}

static void check_keys(ldr_diags *d, const ldr_node *map, const char *const *known, size_t n,
                       const char *where)
{
    for (size_t i = 0; i < map->n; i++) {
        const ldr_node *k = ldr__node_key(map, i);
        if (k->kind != LDR_NODE_SCALAR)
            continue;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = !strcmp(k->str, known[j]);
        if (found)
            continue;
        const char *dym = ldr_did_you_mean(k->str, known, n);
        if (dym)
            ldr_diags_addf(d, &k->loc, "unknown key '%s' in %s (did you mean '%s'?)", k->str, where,
                           dym);
        else
            ldr_diags_addf(d, &k->loc, "unknown key '%s' in %s", k->str, where);
    }
}

static const char *scalar(ldr_diags *d, const ldr_node *n, const char *key)
{
    if (n->kind != LDR_NODE_SCALAR || n->is_null) {
        ldr_diags_addf(d, &n->loc, "'%s' must be a string, got %s", key, ldr__node_describe(n));
        return NULL;
    }
    return n->str;
}

/* registry: a path, or {type|registry_type: sqlite, path: ..., cache_ttl_seconds: N} */
static void read_registry(cfgctx *c, const ldr_node *n)
{
    ldr_config *cfg = c->cfg;
    if (n->kind == LDR_NODE_SCALAR) {
        const char *p = scalar(c->diags, n, "registry");
        if (p)
            cfg->registry_path = abs_path(&cfg->arena, cfg->repo_dir, p);
        return;
    }
    if (n->kind != LDR_NODE_MAP) {
        ldr_diags_addf(c->diags, &n->loc, "'registry' must be a path or a mapping, got %s",
                       ldr__node_describe(n));
        return;
    }
    static const char *const keys[] = {"type", "registry_type", "path", "cache_ttl_seconds"};
    check_keys(c->diags, n, keys, LDR_ARRAY_LEN(keys), "registry");
    const ldr_node *v;
    if ((v = ldr__node_get(n, "type")) || (v = ldr__node_get(n, "registry_type"))) {
        const char *t = scalar(c->diags, v, "type");
        if (t && strcmp(t, "sqlite") != 0)
            ldr_diags_addf(c->diags, &v->loc, "unsupported registry type '%s' (supported: sqlite)",
                           t);
    }
    if ((v = ldr__node_get(n, "path"))) {
        const char *p = scalar(c->diags, v, "path");
        if (p)
            cfg->registry_path = abs_path(&cfg->arena, cfg->repo_dir, p);
    }
    if ((v = ldr__node_get(n, "cache_ttl_seconds"))) {
        const char *t = scalar(c->diags, v, "cache_ttl_seconds");
        char *end = NULL;
        long long x = t ? strtoll(t, &end, 10) : 0;
        if (t && (end == t || *end || x < 0))
            ldr_diags_addf(c->diags, &v->loc,
                           "'cache_ttl_seconds' must be a non-negative integer, got '%s'", t);
    }
}

/* The online_store keys each type accepts (type is always accepted). */
static const char *const online_keys_sqlite[] = {"type", "path"};
static const char *const online_keys_redis[] = {"type", "connection_string", "redis_type",
                                                "key_ttl_seconds", "concurrent_writers"};
static const char *const online_keys_all[] = {
    "type", "path", "connection_string", "redis_type", "key_ttl_seconds", "concurrent_writers"};

/* Reports keys that exist for another online store type ("'path' applies to ..."). */
static void check_online_keys(cfgctx *c, const ldr_node *n, const char *type)
{
    bool redis = !strcmp(type, "redis"), sqlite = !strcmp(type, "sqlite");
    const char *const *own = redis ? online_keys_redis : online_keys_sqlite;
    size_t n_own =
        redis ? LDR_ARRAY_LEN(online_keys_redis) : (sqlite ? LDR_ARRAY_LEN(online_keys_sqlite) : 1);
    for (size_t i = 0; i < n->n; i++) {
        const ldr_node *k = ldr__node_key(n, i);
        if (k->kind != LDR_NODE_SCALAR)
            continue;
        bool mine = false, known = false;
        for (size_t j = 0; j < n_own; j++)
            mine |= !strcmp(k->str, own[j]);
        for (size_t j = 0; j < LDR_ARRAY_LEN(online_keys_all); j++)
            known |= !strcmp(k->str, online_keys_all[j]);
        if (known && !mine)
            ldr_diags_addf(c->diags, &k->loc,
                           "'%s' does not apply to online_store type '%s' (it is a%s option)",
                           k->str, type, !strcmp(k->str, "path") ? " sqlite" : " redis");
    }
}

static void read_redis_options(cfgctx *c, const ldr_node *n)
{
    ldr_config *cfg = c->cfg;
    const ldr_node *v;
    if ((v = ldr__node_get(n, "connection_string"))) {
        const char *cs = scalar(c->diags, v, "connection_string");
        if (cs && (!*cs || cs[0] == ',' || strstr(cs, ",,")))
            ldr_diags_addf(c->diags, &v->loc,
                           "'connection_string' must be \"host:port[,host:port...][,db=N]"
                           "[,password=...]\", got '%s'",
                           cs);
        else if (cs)
            cfg->online_connection_string = cs;
    }
    if ((v = ldr__node_get(n, "redis_type"))) {
        const char *t = scalar(c->diags, v, "redis_type");
        if (t && !strcmp(t, "redis_cluster"))
            cfg->online_redis_cluster = true;
        else if (t && !strcmp(t, "redis_sentinel"))
            ldr_diags_addf(c->diags, &v->loc,
                           "redis_type 'redis_sentinel' is not supported (supported: redis, "
                           "redis_cluster)");
        else if (t && strcmp(t, "redis") != 0)
            ldr_diags_addf(c->diags, &v->loc,
                           "unknown redis_type '%s' (supported: redis, redis_cluster)", t);
    }
    if ((v = ldr__node_get(n, "key_ttl_seconds")) && !v->is_null) {
        const char *t = scalar(c->diags, v, "key_ttl_seconds");
        char *end = NULL;
        errno = 0;
        long long x = t ? strtoll(t, &end, 10) : 0;
        if (t && (end == t || *end || x <= 0 || errno == ERANGE || x > INT32_MAX))
            ldr_diags_addf(c->diags, &v->loc,
                           "'key_ttl_seconds' must be a positive number of seconds (at most "
                           "2147483647), got '%s'",
                           t);
        else if (t)
            cfg->online_key_ttl_seconds = x;
    }
    if ((v = ldr__node_get(n, "concurrent_writers"))) {
        const char *t = scalar(c->diags, v, "concurrent_writers");
        if (t && !strcmp(t, "any"))
            cfg->online_concurrent_writers = LDR_WRITERS_ANY;
        else if (t && !strcmp(t, "none"))
            cfg->online_concurrent_writers = LDR_WRITERS_NONE;
        else if (t && strcmp(t, "larder") != 0)
            ldr_diags_addf(c->diags, &v->loc,
                           "unknown concurrent_writers '%s' (supported: larder, any, none)", t);
    }
}

/* online_store: {type: sqlite, path: ...} | {type: redis, connection_string: ...,
 * redis_type: redis|redis_cluster, key_ttl_seconds: N, concurrent_writers: larder|any|none} |
 * {type: memory} */
static void read_online(cfgctx *c, const ldr_node *n)
{
    ldr_config *cfg = c->cfg;
    if (n->kind == LDR_NODE_SCALAR && n->is_null)
        return;
    if (n->kind != LDR_NODE_MAP) {
        ldr_diags_addf(c->diags, &n->loc, "'online_store' must be a mapping, got %s",
                       ldr__node_describe(n));
        return;
    }
    check_keys(c->diags, n, online_keys_all, LDR_ARRAY_LEN(online_keys_all), "online_store");
    const char *type = "sqlite";
    const ldr_node *v;
    if ((v = ldr__node_get(n, "type"))) {
        const char *t = scalar(c->diags, v, "type");
        if (!t)
            return;
        if (strcmp(t, "sqlite") != 0 && strcmp(t, "redis") != 0 && strcmp(t, "memory") != 0) {
            ldr_diags_addf(c->diags, &v->loc,
                           "unsupported online_store type '%s' (supported: sqlite, redis, memory)",
                           t);
            return;
        }
        type = t;
    }
    cfg->online_type = type;
    check_online_keys(c, n, type);
    if (!strcmp(type, "redis")) {
        cfg->online_path = NULL;
        cfg->online_connection_string = "localhost:6379"; /* Feast's default */
        read_redis_options(c, n);
    } else if ((v = ldr__node_get(n, "path"))) {
        const char *p = scalar(c->diags, v, "path");
        if (p)
            cfg->online_path = abs_path(&cfg->arena, cfg->repo_dir, p);
    }
}

static void read_offline(cfgctx *c, const ldr_node *n)
{
    if (n->kind == LDR_NODE_SCALAR && n->is_null)
        return;
    if (n->kind != LDR_NODE_MAP) {
        ldr_diags_addf(c->diags, &n->loc, "'offline_store' must be a mapping, got %s",
                       ldr__node_describe(n));
        return;
    }
    static const char *const keys[] = {"type"};
    check_keys(c->diags, n, keys, LDR_ARRAY_LEN(keys), "offline_store");
    const ldr_node *v = ldr__node_get(n, "type");
    if (v) {
        const char *t = scalar(c->diags, v, "type");
        if (t && strcmp(t, "file") != 0 && strcmp(t, "dask") != 0)
            ldr_diags_addf(c->diags, &v->loc,
                           "unsupported offline_store type '%s' (supported: file)", t);
    }
}

static void read_root(cfgctx *c)
{
    ldr_config *cfg = c->cfg;
    ldr_node *root = c->root;
    ldr_loc file_loc = {.file = "feature_store.yaml"};
    if (!root || root->kind != LDR_NODE_MAP) {
        ldr_diags_addf(c->diags, root ? &root->loc : &file_loc,
                       "feature_store.yaml must be a mapping with at least 'project'");
        return;
    }
    static const char *const keys[] = {"project",
                                       "project_description",
                                       "provider",
                                       "registry",
                                       "online_store",
                                       "offline_store",
                                       "entity_key_serialization_version"};
    check_keys(c->diags, root, keys, LDR_ARRAY_LEN(keys), "feature_store.yaml");
    const ldr_node *v = ldr__node_get(root, "project");
    if (!v) {
        ldr_diags_addf(c->diags, &root->loc,
                       "feature_store.yaml is missing required key 'project'");
    } else if ((cfg->project = scalar(c->diags, v, "project"))) {
        if (!project_name_ok(cfg->project))
            ldr_diags_addf(c->diags, &v->loc,
                           "invalid project name '%s': it must match ^[A-Za-z0-9][A-Za-z0-9_-]*$",
                           cfg->project);
        else if (strchr(cfg->project, '-'))
            ldr_diags_addf(c->diags, &v->loc,
                           "project name '%s' contains '-', which the sqlite online store does "
                           "not allow (it becomes part of table names); use '_'",
                           cfg->project);
    }
    if ((v = ldr__node_get(root, "project_description")) && !v->is_null)
        cfg->project_description = scalar(c->diags, v, "project_description");
    if ((v = ldr__node_get(root, "provider"))) {
        const char *p = scalar(c->diags, v, "provider");
        if (p && strcmp(p, "local") != 0)
            ldr_diags_addf(c->diags, &v->loc, "unsupported provider '%s' (supported: local)", p);
    }
    if ((v = ldr__node_get(root, "registry")))
        read_registry(c, v);
    if ((v = ldr__node_get(root, "online_store")))
        read_online(c, v);
    if ((v = ldr__node_get(root, "offline_store")))
        read_offline(c, v);
    if ((v = ldr__node_get(root, "entity_key_serialization_version"))) {
        const char *t = scalar(c->diags, v, "entity_key_serialization_version");
        if (t && strcmp(t, "3") != 0)
            ldr_diags_addf(c->diags, &v->loc,
                           "entity_key_serialization_version must be 3 (the only version "
                           "Larder writes), got '%s'",
                           t);
    }
}

ldr_code ldr__read_file(const char *path, size_t max, char **out, size_t *out_len, ldr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno, "cannot open %s",
                           path);
    ldr_buf b;
    ldr_buf_init(&b, max);
    char chunk[65536];
    size_t n;
    ldr_code rc = LDR_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (ldr_buf_append(&b, chunk, n, err) != LDR_OK) {
            rc = ldr_err_setf(err, LDR_ELIMIT, "%s is larger than the %zu MiB limit", path,
                              max >> 20);
            break;
        }
    }
    if (rc == LDR_OK && ferror(f))
        rc = ldr_err_sys(err, LDR_EIO, errno, "cannot read %s", path);
    fclose(f);
    if (rc != LDR_OK) {
        ldr_buf_fini(&b);
        return rc;
    }
    *out_len = b.len;
    *out = ldr_buf_take(&b);
    return LDR_OK;
}

ldr_code ldr_config_load(const char *repo_dir, ldr_config *cfg, ldr_diags *diags, ldr_err *err)
{
    memset(cfg, 0, sizeof *cfg);
    ldr_arena_init(&cfg->arena, 4096);
    char resolved[PATH_MAX];
    if (!realpath(repo_dir, resolved))
        return ldr_err_sys(err, errno == ENOENT ? LDR_ENOTFOUND : LDR_EIO, errno,
                           "cannot open repository directory %s", repo_dir);
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        return ldr_err_setf(err, LDR_EINVAL, "%s is not a directory", repo_dir);
    cfg->repo_dir = ldr_arena_strdup(&cfg->arena, resolved);
    cfg->config_path = ldr_arena_sprintf(&cfg->arena, "%s/feature_store.yaml", cfg->repo_dir);
    cfg->provider = "local";
    cfg->registry_type = "sqlite";
    cfg->registry_path = ldr_arena_sprintf(&cfg->arena, "%s/data/registry.db", cfg->repo_dir);
    cfg->online_type = "sqlite";
    cfg->online_path = ldr_arena_sprintf(&cfg->arena, "%s/data/online.db", cfg->repo_dir);
    cfg->offline_type = "file";
    cfg->project_description = "";
    cfg->entity_key_serialization_version = 3;

    char *data = NULL;
    size_t len = 0;
    ldr_code rc = ldr__read_file(cfg->config_path, 1u << 20, &data, &len, err);
    if (rc == LDR_ENOTFOUND)
        return ldr_err_setf(err, LDR_ENOTFOUND,
                            "no feature_store.yaml in %s: is this a feature repository? (use "
                            "-c/--chdir to point at one)",
                            cfg->repo_dir);
    if (rc != LDR_OK)
        return rc;
    size_t before = diags->n;
    size_t budget = 10000;
    cfgctx c = {.cfg = cfg, .diags = diags};
    ldr__yaml_parse("feature_store.yaml", data, len, &cfg->arena, &budget, diags, on_doc, &c);
    if (diags->n == before)
        read_root(&c);
    ldr_free(data);
    if (diags->n > before) {
        ldr_diags_sort(diags);
        return ldr_err_setf(err, LDR_ECONFIG, "%s", diags->items[0]);
    }
    return LDR_OK;
}

void ldr_config_fini(ldr_config *cfg)
{
    ldr_arena_fini(&cfg->arena);
    memset(cfg, 0, sizeof *cfg);
}
