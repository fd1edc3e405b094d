/*
 * loader.c -- definition documents (ldr_node trees) to typed objects, and validation.
 *
 * Building is schema-driven: each kind has a table of known keys, and every key of a
 * document is either handled or reported ("unknown key 'ttlx' in FeatureView (did you
 * mean 'ttl'?)"). Nothing stops at the first problem: every document and every key is
 * visited and each problem becomes a diagnostic at the exact node, so one run lists all.
 * Objects with problems are still added (with what could be read) so cross-reference
 * checks can go on without a cascade of "unknown entity" messages.
 *
 * Validation (ldr_defs_validate) runs over the whole set: duplicate names, dangling
 * references, join-key and type conflicts; it uses the document nodes kept in
 * defs->prov to point at the offending reference, then drops them and sorts every
 * object array by name (the order the registry and all later modules rely on).
 */
#include "repo/repo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- build context and small readers ----------------------------------------------------- */

typedef struct bctx {
    ldr_defs *defs;
    ldr_diags *diags;
    ldr_arena *a;
    const char *kind; /* for messages */
    bool bad;         /* a problem was reported for the current object */
} bctx;

#define REPORT(c, node, ...)                                   \
    do {                                                       \
        ldr_diags_addf((c)->diags, &(node)->loc, __VA_ARGS__); \
        (c)->bad = true;                                       \
    } while (0)

static const char *const kinds[] = {"Entity", "DataSource", "FeatureView", "FeatureService"};

/* Reads a string scalar. Null and non-scalars are reported. */
static bool get_str(bctx *c, const ldr_node *n, const char *key, const char **out)
{
    if (n->kind != LDR_NODE_SCALAR || n->is_null) {
        REPORT(c, n, "'%s' must be a string, got %s", key, ldr__node_describe(n));
        return false;
    }
    *out = n->str;
    return true;
}

/* Optional string: null means absent (""). */
static void get_opt_str(bctx *c, const ldr_node *n, const char *key, const char **out)
{
    if (n->kind == LDR_NODE_SCALAR && n->is_null) {
        *out = "";
        return;
    }
    if (!get_str(c, n, key, out))
        *out = "";
}

static bool get_bool(bctx *c, const ldr_node *n, const char *key, bool *out)
{
    if (n->kind == LDR_NODE_SCALAR && !n->quoted) {
        if (ldr_strieq(n->str, "true")) {
            *out = true;
            return true;
        }
        if (ldr_strieq(n->str, "false")) {
            *out = false;
            return true;
        }
    }
    if (n->kind == LDR_NODE_SCALAR && n->quoted &&
        (ldr_strieq(n->str, "true") || ldr_strieq(n->str, "false")))
        REPORT(c, n, "'%s' must be true or false, got the quoted string '%s' (remove the quotes)",
               key, n->str);
    else if (n->kind == LDR_NODE_SCALAR)
        REPORT(c, n, "'%s' must be true or false, got '%s'", key, n->str);
    else
        REPORT(c, n, "'%s' must be true or false, got %s", key, ldr__node_describe(n));
    return false;
}

/* Object and field names: letters, digits, '_', '-', '.', not starting with '-' or '.';
 * at most 255 bytes. ':' is excluded because "view:feature" references split on it. */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 255 || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

#define NAME_RULE                                                                           \
    "use letters, digits, '_', '-' and '.', starting with a letter, digit or '_' (at most " \
    "255 characters)"

static bool get_name(bctx *c, const ldr_node *n, const char *key, const char **out)
{
    if (!get_str(c, n, key, out))
        return false;
    if (!name_ok(n->str, n->len)) {
        REPORT(c, n, "invalid %s '%s': " NAME_RULE, key, n->str);
        return false;
    }
    return true;
}

static bool expect_kind(bctx *c, const ldr_node *n, ldr_node_kind kind, const char *key)
{
    if (n->kind == kind && !(kind == LDR_NODE_SCALAR && n->is_null))
        return true;
    const char *want = kind == LDR_NODE_MAP   ? "a mapping"
                       : kind == LDR_NODE_SEQ ? "a list"
                                              : "a string";
    REPORT(c, n, "'%s' must be %s, got %s", key, want, ldr__node_describe(n));
    return false;
}

static int kv_cmp(const void *pa, const void *pb)
{
    const ldr_kv *a = pa, *b = pb;
    return strcmp(a->key, b->key);
}

/* A mapping of string -> string (tags, field_mapping, join_key_map); sorted by key.
 * Null means empty. With names_only, keys and values must be valid names. */
static void get_kvs_rule(bctx *c, const ldr_node *n, const char *key, bool names_only, ldr_kvs *out)
{
    out->items = NULL;
    out->n = 0;
    if (n->kind == LDR_NODE_SCALAR && n->is_null)
        return;
    if (!expect_kind(c, n, LDR_NODE_MAP, key))
        return;
    ldr_kv *kv = ldr_arena_calloc(c->a, n->n, sizeof *kv);
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ldr_node *kn = ldr__node_key(n, i), *vn = ldr__node_val(n, i);
        if (kn->kind != LDR_NODE_SCALAR)
            continue; /* reported by the YAML layer */
        if (kn->is_null || kn->len == 0) {
            REPORT(c, kn, "keys of '%s' must be non-empty strings", key);
            continue;
        }
        if (vn->kind != LDR_NODE_SCALAR || vn->is_null) {
            REPORT(c, vn, "'%s.%s' must be a string, got %s", key, kn->str, ldr__node_describe(vn));
            continue;
        }
        if (names_only && !name_ok(kn->str, kn->len)) {
            REPORT(c, kn, "invalid %s key '%s': " NAME_RULE, key, kn->str);
            continue;
        }
        if (names_only && !name_ok(vn->str, vn->len)) {
            REPORT(c, vn, "invalid %s value '%s': " NAME_RULE, key, vn->str);
            continue;
        }
        kv[k].key = kn->str;
        kv[k].value = vn->str;
        k++;
    }
    qsort(kv, k, sizeof *kv, kv_cmp);
    out->items = kv;
    out->n = k;
}

static void get_kvs(bctx *c, const ldr_node *n, const char *key, ldr_kvs *out)
{
    get_kvs_rule(c, n, key, false, out);
}

/* A list of names (entities, join_keys, features). */
static void get_name_list(bctx *c, const ldr_node *n, const char *key, const char *const **out,
                          size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (!expect_kind(c, n, LDR_NODE_SEQ, key))
        return;
    const char **v = ldr_arena_calloc(c->a, n->n, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        if (get_name(c, n->items[i], key, &s))
            v[k++] = s;
    }
    *out = v;
    *out_n = k;
}

static void get_type(bctx *c, const ldr_node *n, const char *key, ldr_type *out)
{
    const char *s;
    *out = LDR_TYPE_INVALID;
    if (!get_str(c, n, key, &s))
        return;
    *out = ldr_type_parse(s, n->len);
    if (*out == LDR_TYPE_INVALID)
        REPORT(c, n, "unknown %s '%s' (expected %s)", key, s, ldr_type_names_help());
}

/* Checks every key of a document against the known ones. */
static void check_keys(bctx *c, const ldr_node *map, const char *const *known, size_t n_known,
                       const char *where)
{
    for (size_t i = 0; i < map->n; i++) {
        const ldr_node *k = ldr__node_key(map, i);
        if (k->kind != LDR_NODE_SCALAR)
            continue; /* reported by the YAML layer */
        bool found = false;
        for (size_t j = 0; j < n_known && !found; j++)
            found = strcmp(k->str, known[j]) == 0;
        if (found)
            continue;
        const char *dym = ldr_did_you_mean(k->str, known, n_known);
        if (dym)
            REPORT(c, k, "unknown key '%s' in %s (did you mean '%s'?)", k->str, where, dym);
        else
            REPORT(c, k, "unknown key '%s' in %s", k->str, where);
    }
}

static const ldr_node *require(bctx *c, const ldr_node *map, const char *key)
{
    const ldr_node *v = ldr__node_get(map, key);
    if (!v)
        REPORT(c, map, "%s is missing required key '%s'", c->kind, key);
    return v;
}

/* Reads name, description, owner, tags: the members every kind has. */
static void common_members(bctx *c, const ldr_node *doc, const char **name,
                           const char **description, const char **owner, ldr_kvs *tags)
{
    const ldr_node *v;
    *name = "";
    if ((v = require(c, doc, "name")))
        get_name(c, v, "name", name);
    *description = *owner = "";
    tags->items = NULL;
    tags->n = 0;
    if ((v = ldr__node_get(doc, "description")))
        get_opt_str(c, v, "description", description);
    if ((v = ldr__node_get(doc, "owner")))
        get_opt_str(c, v, "owner", owner);
    if ((v = ldr__node_get(doc, "tags")))
        get_kvs(c, v, "tags", tags);
}

/* A list of {name, dtype, description, tags} fields. */
static void get_fields(bctx *c, const ldr_node *n, const char *key, const ldr_field **out,
                       size_t *out_n)
{
    static const char *const field_keys[] = {"name", "dtype", "description", "tags"};
    *out = NULL;
    *out_n = 0;
    if (!expect_kind(c, n, LDR_NODE_SEQ, key))
        return;
    ldr_field *f = ldr_arena_calloc(c->a, n->n, sizeof *f);
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++) {
        const ldr_node *fn = n->items[i];
        if (!expect_kind(c, fn, LDR_NODE_MAP, key))
            continue;
        check_keys(c, fn, field_keys, LDR_ARRAY_LEN(field_keys), "a schema field");
        ldr_field *fld = &f[k];
        fld->name = fld->description = "";
        const ldr_node *v;
        if ((v = ldr__node_get(fn, "name")))
            get_name(c, v, "name", &fld->name);
        else
            REPORT(c, fn, "schema field is missing required key 'name'");
        if ((v = ldr__node_get(fn, "dtype")))
            get_type(c, v, "dtype", &fld->type);
        else
            REPORT(c, fn, "schema field '%s' is missing required key 'dtype'", fld->name);
        if ((v = ldr__node_get(fn, "description")))
            get_opt_str(c, v, "description", &fld->description);
        if ((v = ldr__node_get(fn, "tags")))
            get_kvs(c, v, "tags", &fld->tags);
        if (!*fld->name)
            continue;
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(f[j].name, fld->name) == 0;
        if (dup) {
            REPORT(c, ldr__node_get(fn, "name"), "duplicate schema field '%s'", fld->name);
            continue;
        }
        k++;
    }
    *out = f;
    *out_n = k;
}

/* ---- growable object arrays --------------------------------------------------------------- */

#define GROW(defs, arr, n, cap, prov_arr)                                                   \
    do {                                                                                    \
        if ((defs)->n == (defs)->cap) {                                                     \
            (defs)->cap = (defs)->cap ? (defs)->cap * 2 : 8;                                \
            (defs)->arr = ldr_xreallocarray((defs)->arr, (defs)->cap, sizeof *(defs)->arr); \
            (defs)->prov->prov_arr =                                                        \
                ldr_xreallocarray((defs)->prov->prov_arr, (defs)->cap, sizeof(ldr_node *)); \
        }                                                                                   \
    } while (0)

static ldr_defs_prov *prov_get(ldr_defs *defs)
{
    if (!defs->prov) {
        defs->prov = ldr_xcalloc(1, sizeof *defs->prov);
        /* Arrays may already hold objects (from JSON): give them null provenance. */
        size_t caps[4] = {defs->cap_entities, defs->cap_sources, defs->cap_views,
                          defs->cap_services};
        defs->prov->entities = ldr_xcalloc(caps[0] ? caps[0] : 1, sizeof(ldr_node *));
        defs->prov->sources = ldr_xcalloc(caps[1] ? caps[1] : 1, sizeof(ldr_node *));
        defs->prov->views = ldr_xcalloc(caps[2] ? caps[2] : 1, sizeof(ldr_node *));
        defs->prov->services = ldr_xcalloc(caps[3] ? caps[3] : 1, sizeof(ldr_node *));
    }
    return defs->prov;
}

static void prov_free(ldr_defs *defs)
{
    if (!defs->prov)
        return;
    ldr_free(defs->prov->entities);
    ldr_free(defs->prov->sources);
    ldr_free(defs->prov->views);
    ldr_free(defs->prov->services);
    ldr_free(defs->prov);
    defs->prov = NULL;
}

/* ---- per-kind builders --------------------------------------------------------------------- */

static void build_entity(bctx *c, ldr_node *doc)
{
    static const char *const keys[] = {"kind",        "name", "join_keys", "value_type",
                                       "description", "tags", "owner"};
    check_keys(c, doc, keys, LDR_ARRAY_LEN(keys), "Entity");
    ldr_defs *defs = c->defs;
    prov_get(defs);
    GROW(defs, entities, n_entities, cap_entities, entities);
    ldr_entity *e = &defs->entities[defs->n_entities];
    memset(e, 0, sizeof *e);
    e->loc = doc->loc;
    common_members(c, doc, &e->name, &e->description, &e->owner, &e->tags);
    e->join_key = e->name;
    const ldr_node *v;
    if ((v = ldr__node_get(doc, "join_keys"))) {
        const char *const *jk;
        size_t n;
        get_name_list(c, v, "join_keys", &jk, &n);
        if (v->kind == LDR_NODE_SEQ && v->n == 0)
            REPORT(c, v, "'join_keys' must list one join key (or be omitted to use the name)");
        else if (v->kind == LDR_NODE_SEQ && v->n > 1)
            REPORT(c, v->items[1], "an entity has at most one join key, got %zu", v->n);
        if (n >= 1)
            e->join_key = jk[0];
    }
    if ((v = ldr__node_get(doc, "value_type")) && !(v->kind == LDR_NODE_SCALAR && v->is_null)) {
        get_type(c, v, "value_type", &e->value_type);
        if (e->value_type != LDR_TYPE_INVALID && ldr_type_is_list(e->value_type))
            REPORT(c, v, "an entity's value_type must be a scalar type, not %s",
                   ldr_type_name(e->value_type));
    }
    defs->prov->entities[defs->n_entities++] = doc;
}

static const char *const source_common_keys[] = {"kind",        "name", "type",
                                                 "description", "tags", "owner"};
static const char *const source_file_keys[] = {"path", "file_format", "timestamp_field",
                                               "created_timestamp_column", "field_mapping"};
static const char *const source_push_keys[] = {"batch_source"};
static const char *const source_request_keys[] = {"schema"};

/* Keys that exist for some source type only. */
static bool type_specific_key(const char *k)
{
    for (size_t j = 0; j < LDR_ARRAY_LEN(source_file_keys); j++)
        if (!strcmp(k, source_file_keys[j]))
            return true;
    return !strcmp(k, "batch_source") || !strcmp(k, "schema");
}

static void check_source_keys(bctx *c, const ldr_node *doc, ldr_source_kind kind)
{
    const char *known[16];
    size_t n = 0;
    for (size_t i = 0; i < LDR_ARRAY_LEN(source_common_keys); i++)
        known[n++] = source_common_keys[i];
    const char *const *own = kind == LDR_SOURCE_FILE   ? source_file_keys
                             : kind == LDR_SOURCE_PUSH ? source_push_keys
                                                       : source_request_keys;
    size_t n_own = kind == LDR_SOURCE_FILE   ? LDR_ARRAY_LEN(source_file_keys)
                   : kind == LDR_SOURCE_PUSH ? LDR_ARRAY_LEN(source_push_keys)
                                             : LDR_ARRAY_LEN(source_request_keys);
    for (size_t i = 0; i < n_own; i++)
        known[n++] = own[i];
    /* A key of another source type gets a precise message; the rest go through the usual
     * unknown-key check (with suggestions) on a filtered view of the mapping. */
    ldr_node filtered = *doc;
    ldr_node **items = ldr_arena_calloc(c->a, 2 * doc->n, sizeof *items);
    size_t m = 0;
    for (size_t i = 0; i < doc->n; i++) {
        const ldr_node *k = ldr__node_key(doc, i);
        if (k->kind == LDR_NODE_SCALAR && type_specific_key(k->str)) {
            bool mine = false;
            for (size_t j = 0; j < n_own && !mine; j++)
                mine = !strcmp(k->str, own[j]);
            if (!mine)
                REPORT(c, k, "key '%s' does not apply to a %s source", k->str,
                       ldr_source_kind_name(kind));
            continue;
        }
        items[2 * m] = doc->items[2 * i];
        items[2 * m + 1] = doc->items[2 * i + 1];
        m++;
    }
    filtered.items = items;
    filtered.n = m;
    check_keys(c, &filtered, known, n, "DataSource");
}

static ldr_file_format format_from_path(const char *path)
{
    size_t len = strlen(path);
    if (len >= 4 && ldr_strieq(path + len - 4, ".csv"))
        return LDR_FORMAT_CSV;
    return LDR_FORMAT_PARQUET;
}

static void build_source(bctx *c, ldr_node *doc)
{
    ldr_defs *defs = c->defs;
    prov_get(defs);
    GROW(defs, sources, n_sources, cap_sources, sources);
    ldr_source *s = &defs->sources[defs->n_sources];
    memset(s, 0, sizeof *s);
    s->loc = doc->loc;
    s->path = s->timestamp_field = s->created_timestamp_column = s->batch_source = "";
    common_members(c, doc, &s->name, &s->description, &s->owner, &s->tags);

    const ldr_node *v = require(c, doc, "type");
    const char *type = NULL;
    bool known_type = false;
    s->kind = LDR_SOURCE_FILE;
    if (v && get_str(c, v, "type", &type)) {
        known_type = true;
        static const char *const types[] = {"file", "push", "request"};
        if (!strcmp(type, "file"))
            s->kind = LDR_SOURCE_FILE;
        else if (!strcmp(type, "push"))
            s->kind = LDR_SOURCE_PUSH;
        else if (!strcmp(type, "request"))
            s->kind = LDR_SOURCE_REQUEST;
        else {
            const char *dym = ldr_did_you_mean(type, types, LDR_ARRAY_LEN(types));
            if (dym)
                REPORT(c, v, "unknown DataSource type '%s' (did you mean '%s'?)", type, dym);
            else
                REPORT(c, v, "unknown DataSource type '%s' (expected file, push or request)", type);
            known_type = false;
        }
    }
    if (!known_type) {
        /* Without a type, type-specific checks would only add noise. The source is still
         * added so views naming it do not report it as unknown. */
        defs->prov->sources[defs->n_sources++] = doc;
        return;
    }
    check_source_keys(c, doc, s->kind);

    switch (s->kind) {
    case LDR_SOURCE_FILE:
        if ((v = require(c, doc, "path")) && get_str(c, v, "path", &s->path) && !*s->path)
            REPORT(c, v, "'path' must not be empty");
        s->format = format_from_path(s->path);
        if ((v = ldr__node_get(doc, "file_format")) &&
            !(v->kind == LDR_NODE_SCALAR && v->is_null)) {
            const char *f;
            if (get_str(c, v, "file_format", &f)) {
                if (ldr_strieq(f, "parquet"))
                    s->format = LDR_FORMAT_PARQUET;
                else if (ldr_strieq(f, "csv"))
                    s->format = LDR_FORMAT_CSV;
                else
                    REPORT(c, v, "unknown file_format '%s' (expected parquet or csv)", f);
            }
        }
        if ((v = require(c, doc, "timestamp_field")))
            get_name(c, v, "timestamp_field", &s->timestamp_field);
        if ((v = ldr__node_get(doc, "created_timestamp_column")) &&
            !(v->kind == LDR_NODE_SCALAR && v->is_null)) {
            if (get_name(c, v, "created_timestamp_column", &s->created_timestamp_column) &&
                !strcmp(s->created_timestamp_column, s->timestamp_field))
                REPORT(c, v, "created_timestamp_column must differ from timestamp_field ('%s')",
                       s->timestamp_field);
        }
        if ((v = ldr__node_get(doc, "field_mapping"))) {
            get_kvs(c, v, "field_mapping", &s->field_mapping);
            for (size_t i = 1; i < s->field_mapping.n; i++)
                for (size_t j = 0; j < i; j++)
                    if (!strcmp(s->field_mapping.items[i].value, s->field_mapping.items[j].value))
                        REPORT(c, v, "field_mapping maps both '%s' and '%s' to '%s'",
                               s->field_mapping.items[j].key, s->field_mapping.items[i].key,
                               s->field_mapping.items[i].value);
        }
        break;
    case LDR_SOURCE_PUSH:
        if ((v = require(c, doc, "batch_source")))
            get_name(c, v, "batch_source", &s->batch_source);
        break;
    case LDR_SOURCE_REQUEST:
        if ((v = require(c, doc, "schema"))) {
            get_fields(c, v, "schema", &s->schema, &s->n_schema);
            if (v->kind == LDR_NODE_SEQ && v->n == 0)
                REPORT(c, v, "a request source's schema must list at least one field");
        }
        break;
    }
    defs->prov->sources[defs->n_sources++] = doc;
}

static void build_view(bctx *c, ldr_node *doc)
{
    static const char *const keys[] = {"kind",        "name",   "entities", "ttl",
                                       "source",      "schema", "online",   "offline",
                                       "description", "tags",   "owner"};
    check_keys(c, doc, keys, LDR_ARRAY_LEN(keys), "FeatureView");
    ldr_defs *defs = c->defs;
    prov_get(defs);
    GROW(defs, views, n_views, cap_views, views);
    ldr_view *fv = &defs->views[defs->n_views];
    memset(fv, 0, sizeof *fv);
    fv->loc = doc->loc;
    fv->source = "";
    fv->online = true;
    common_members(c, doc, &fv->name, &fv->description, &fv->owner, &fv->tags);
    const ldr_node *v;
    if ((v = ldr__node_get(doc, "entities")) && !(v->kind == LDR_NODE_SCALAR && v->is_null))
        get_name_list(c, v, "entities", &fv->entities, &fv->n_entities);
    if ((v = ldr__node_get(doc, "ttl")) && !(v->kind == LDR_NODE_SCALAR && v->is_null)) {
        ldr_err err;
        if (v->kind != LDR_NODE_SCALAR)
            REPORT(c, v, "'ttl' must be a duration like 1d, 2h or 3600s, got %s",
                   ldr__node_describe(v));
        else if (ldr_duration_parse(v->str, v->len, &fv->ttl, &err) != LDR_OK)
            REPORT(c, v, "%s", err.msg);
    }
    if ((v = require(c, doc, "source")))
        get_name(c, v, "source", &fv->source);
    if ((v = require(c, doc, "schema")))
        get_fields(c, v, "schema", &fv->schema, &fv->n_schema);
    if ((v = ldr__node_get(doc, "online")))
        get_bool(c, v, "online", &fv->online);
    if ((v = ldr__node_get(doc, "offline")))
        get_bool(c, v, "offline", &fv->offline);
    defs->prov->views[defs->n_views++] = doc;
}

static void build_projection(bctx *c, const ldr_node *n, ldr_projection *p)
{
    static const char *const keys[] = {"feature_view", "features", "alias", "join_key_map"};
    memset(p, 0, sizeof *p);
    p->view = p->alias = "";
    if (n->kind == LDR_NODE_SCALAR && !n->is_null) {
        get_name(c, n, "feature_view", &p->view);
        return;
    }
    if (n->kind != LDR_NODE_MAP) {
        REPORT(c, n,
               "each entry of 'features' must be a feature view name or a mapping with "
               "'feature_view', got %s",
               ldr__node_describe(n));
        return;
    }
    check_keys(c, n, keys, LDR_ARRAY_LEN(keys), "a feature service entry");
    const ldr_node *v;
    if ((v = ldr__node_get(n, "feature_view")))
        get_name(c, v, "feature_view", &p->view);
    else
        REPORT(c, n, "feature service entry is missing required key 'feature_view'");
    if ((v = ldr__node_get(n, "features")) && !(v->kind == LDR_NODE_SCALAR && v->is_null)) {
        get_name_list(c, v, "features", &p->features, &p->n_features);
        if (v->kind == LDR_NODE_SEQ && v->n == 0)
            REPORT(c, v, "'features' must list at least one feature (omit it for all)");
        for (size_t i = 0; i < p->n_features; i++)
            for (size_t j = 0; j < i; j++)
                if (!strcmp(p->features[i], p->features[j]))
                    REPORT(c, v->items[i], "feature '%s' is listed twice", p->features[i]);
    }
    if ((v = ldr__node_get(n, "alias")) && !(v->kind == LDR_NODE_SCALAR && v->is_null))
        get_name(c, v, "alias", &p->alias);
    if ((v = ldr__node_get(n, "join_key_map")))
        get_kvs_rule(c, v, "join_key_map", true, &p->join_key_map);
}

static void build_service(bctx *c, ldr_node *doc)
{
    static const char *const keys[] = {"kind", "name", "features", "description", "tags", "owner"};
    check_keys(c, doc, keys, LDR_ARRAY_LEN(keys), "FeatureService");
    ldr_defs *defs = c->defs;
    prov_get(defs);
    GROW(defs, services, n_services, cap_services, services);
    ldr_service *s = &defs->services[defs->n_services];
    memset(s, 0, sizeof *s);
    s->loc = doc->loc;
    common_members(c, doc, &s->name, &s->description, &s->owner, &s->tags);
    const ldr_node *v = require(c, doc, "features");
    if (v && expect_kind(c, v, LDR_NODE_SEQ, "features")) {
        if (v->n == 0)
            REPORT(c, v, "'features' must list at least one feature view");
        ldr_projection *p = ldr_arena_calloc(c->a, v->n, sizeof *p);
        for (size_t i = 0; i < v->n; i++)
            build_projection(c, v->items[i], &p[i]);
        s->projections = p;
        s->n_projections = v->n;
    }
    defs->prov->services[defs->n_services++] = doc;
}

typedef void (*build_fn)(bctx *c, ldr_node *doc);

static build_fn builder_for(const char *kind)
{
    if (!strcmp(kind, "Entity"))
        return build_entity;
    if (!strcmp(kind, "DataSource"))
        return build_source;
    if (!strcmp(kind, "FeatureView"))
        return build_view;
    if (!strcmp(kind, "FeatureService"))
        return build_service;
    return NULL;
}

void ldr__defs_build_doc(ldr_defs *defs, ldr_node *doc, ldr_diags *diags)
{
    if (!doc || (doc->kind == LDR_NODE_SCALAR && doc->is_null))
        return; /* empty document, e.g. a trailing '---' */
    bctx c = {.defs = defs, .diags = diags, .a = &defs->arena, .kind = "document"};
    if (doc->kind != LDR_NODE_MAP) {
        REPORT(&c, doc, "a definition document must be a mapping with a 'kind' key, got %s",
               ldr__node_describe(doc));
        return;
    }
    const ldr_node *k = ldr__node_get(doc, "kind");
    if (!k) {
        REPORT(&c, doc,
               "document has no 'kind' (expected one of Entity, DataSource, "
               "FeatureView, FeatureService)");
        return;
    }
    const char *kind;
    if (!get_str(&c, k, "kind", &kind))
        return;
    build_fn fn = builder_for(kind);
    if (!fn) {
        const char *dym = ldr_did_you_mean(kind, kinds, LDR_ARRAY_LEN(kinds));
        if (dym)
            REPORT(&c, k, "unknown kind '%s' (did you mean '%s'?)", kind, dym);
        else
            REPORT(&c, k,
                   "unknown kind '%s' (expected one of Entity, DataSource, FeatureView, "
                   "FeatureService)",
                   kind);
        return;
    }
    c.kind = kind;
    fn(&c, doc);
}

/* ---- public entry points ------------------------------------------------------------------- */

void ldr_defs_init(ldr_defs *defs)
{
    memset(defs, 0, sizeof *defs);
    ldr_arena_init(&defs->arena, 16384);
    defs->node_budget = LDR_DEFS_MAX_NODES;
}

void ldr_defs_fini(ldr_defs *defs)
{
    prov_free(defs);
    ldr_free(defs->entities);
    ldr_free(defs->sources);
    ldr_free(defs->views);
    ldr_free(defs->services);
    ldr_arena_fini(&defs->arena);
    memset(defs, 0, sizeof *defs);
}

typedef struct parse_ctx {
    ldr_defs *defs;
    ldr_diags *diags;
} parse_ctx;

static void on_doc(void *ctx, ldr_node *doc)
{
    parse_ctx *p = ctx;
    ldr__defs_build_doc(p->defs, doc, p->diags);
}

ldr_code ldr_defs_parse(ldr_defs *defs, const char *fname, const char *data, size_t len,
                        ldr_diags *diags)
{
    size_t before = diags->n;
    if (len > LDR_DEFS_MAX_FILE_BYTES) {
        ldr_loc l = {.file = fname};
        ldr_diags_addf(diags, &l, "file is larger than the %u MiB limit for definition files",
                       LDR_DEFS_MAX_FILE_BYTES >> 20);
        return LDR_ECONFIG;
    }
    parse_ctx p = {.defs = defs, .diags = diags};
    ldr__yaml_parse(fname, data, len, &defs->arena, &defs->node_budget, diags, on_doc, &p);
    return diags->n > before ? LDR_ECONFIG : LDR_OK;
}

ldr_code ldr_defs_add_json(ldr_defs *defs, const char *kind, const char *name, const char *json,
                           ldr_err *err)
{
    char origin[300];
    snprintf(origin, sizeof origin, "registry %s '%s'", kind, name);
    ldr_node *doc = ldr__node_from_json(json, origin, &defs->arena, err);
    if (!doc)
        return LDR_ECORRUPT;
    build_fn fn = builder_for(kind);
    if (!fn)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s: unknown kind", origin);
    if (doc->kind != LDR_NODE_MAP)
        return ldr_err_setf(err, LDR_ECORRUPT, "%s: spec is not a JSON object", origin);
    ldr_diags d;
    ldr_diags_init(&d);
    bctx c = {.defs = defs, .diags = &d, .a = &defs->arena, .kind = kind};
    fn(&c, doc);
    ldr_code rc = LDR_OK;
    if (d.n)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "%s", d.items[0]);
    ldr_diags_fini(&d);
    return rc;
}

/* ---- validation ---------------------------------------------------------------------------- */

static const ldr_node *node_or(const ldr_node *doc, const char *key)
{
    const ldr_node *v = doc ? ldr__node_get(doc, key) : NULL;
    return v ? v : doc;
}

/* Reports at a node when there is one (repo files), or at the object's loc (JSON). */
static void vreport(ldr_diags *d, const ldr_node *n, const ldr_loc *fallback, const char *fmt, ...)
    LDR_PRINTF(4, 5);
static void vreport(ldr_diags *d, const ldr_node *n, const ldr_loc *fallback, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ldr_diags_addf(d, n ? &n->loc : fallback, "%s", msg);
}

/* The i-th item node of a list member, or the member, or the doc. */
static const ldr_node *item_node(const ldr_node *doc, const char *key, size_t i)
{
    const ldr_node *v = doc ? ldr__node_get(doc, key) : NULL;
    if (v && v->kind == LDR_NODE_SEQ && i < v->n)
        return v->items[i];
    return v ? v : doc;
}

static void check_duplicates(ldr_diags *d, const char *kind, const char *const *names,
                             const ldr_loc *locs, ldr_node *const *docs, size_t n, size_t stride)
{
    ldr_map seen;
    ldr_map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)names + i * stride);
        const ldr_loc *loc = (const ldr_loc *)((const char *)locs + i * stride);
        if (!*name)
            continue;
        uintptr_t first_i = (uintptr_t)ldr_map_get(&seen, name);
        if (first_i) {
            const ldr_loc *first = (const ldr_loc *)((const char *)locs + (first_i - 1) * stride);
            vreport(d, node_or(docs ? docs[i] : NULL, "name"), loc,
                    "duplicate %s name '%s' (first defined at %s:%u:%u)", kind, name,
                    first->file ? first->file : "?", first->line, first->col);
        } else {
            ldr_map_put(&seen, name, (void *)(uintptr_t)(i + 1));
        }
    }
    ldr_map_fini(&seen);
}

/* Duplicate names of one kind; the array may be NULL when there are none. */
#define CHECK_DUPS(d, kind, arr, n, docs)                                                        \
    do {                                                                                         \
        if (n)                                                                                   \
            check_duplicates(d, kind, &(arr)[0].name, &(arr)[0].loc, docs, n, sizeof((arr)[0])); \
    } while (0)

static void validate_sources(ldr_defs *defs, ldr_diags *d)
{
    for (size_t i = 0; i < defs->n_sources; i++) {
        const ldr_source *s = &defs->sources[i];
        ldr_node *doc = defs->prov ? defs->prov->sources[i] : NULL;
        if (s->kind != LDR_SOURCE_PUSH || !*s->batch_source)
            continue;
        const ldr_source *b = ldr_defs_find_source(defs, s->batch_source);
        if (!b)
            vreport(d, node_or(doc, "batch_source"), &s->loc,
                    "push source '%s' names unknown batch_source '%s'", s->name, s->batch_source);
        else if (b->kind != LDR_SOURCE_FILE)
            vreport(d, node_or(doc, "batch_source"), &s->loc,
                    "batch_source '%s' of push source '%s' must be a file source, not a %s source",
                    b->name, s->name, ldr_source_kind_name(b->kind));
    }
}

/* The join key an entity name resolves to, or NULL. */
static const ldr_entity *view_entity(const ldr_defs *defs, const char *name)
{
    return ldr_defs_find_entity(defs, name);
}

static bool view_has_join_key(const ldr_defs *defs, const ldr_view *fv, const char *key)
{
    for (size_t i = 0; i < fv->n_entities; i++) {
        const ldr_entity *e = view_entity(defs, fv->entities[i]);
        if (e && !strcmp(e->join_key, key))
            return true;
    }
    return false;
}

static bool view_has_feature(const ldr_defs *defs, const ldr_view *fv, const char *name)
{
    for (size_t i = 0; i < fv->n_schema; i++)
        if (!strcmp(fv->schema[i].name, name))
            return !view_has_join_key(defs, fv, name);
    return false;
}

static void validate_views(ldr_defs *defs, ldr_diags *d)
{
    for (size_t i = 0; i < defs->n_views; i++) {
        const ldr_view *fv = &defs->views[i];
        ldr_node *doc = defs->prov ? defs->prov->views[i] : NULL;
        /* entities */
        for (size_t j = 0; j < fv->n_entities; j++) {
            const char *en = fv->entities[j];
            const ldr_node *at = item_node(doc, "entities", j);
            const ldr_entity *e = view_entity(defs, en);
            bool twice = false;
            for (size_t k = 0; k < j && !twice; k++)
                twice = !strcmp(fv->entities[k], en);
            if (twice) {
                vreport(d, at, &fv->loc, "entity '%s' is listed twice", en);
                continue;
            }
            if (!e) {
                const char *cands[64];
                size_t nc = 0;
                for (size_t k = 0; k < defs->n_entities && nc < LDR_ARRAY_LEN(cands); k++)
                    cands[nc++] = defs->entities[k].name;
                const char *dym = ldr_did_you_mean(en, cands, nc);
                if (dym)
                    vreport(d, at, &fv->loc, "unknown entity '%s' (did you mean '%s'?)", en, dym);
                else
                    vreport(d, at, &fv->loc, "unknown entity '%s'", en);
                continue;
            }
            for (size_t k = 0; k < j; k++) {
                const ldr_entity *o = view_entity(defs, fv->entities[k]);
                if (o && !strcmp(o->join_key, e->join_key)) {
                    vreport(d, at, &fv->loc,
                            "entities '%s' and '%s' share the join key '%s' in feature view '%s'",
                            o->name, e->name, e->join_key, fv->name);
                    break;
                }
            }
        }
        /* source */
        const ldr_source *src = *fv->source ? ldr_defs_find_source(defs, fv->source) : NULL;
        if (*fv->source && !src) {
            const char *cands[64];
            size_t nc = 0;
            for (size_t k = 0; k < defs->n_sources && nc < LDR_ARRAY_LEN(cands); k++)
                cands[nc++] = defs->sources[k].name;
            const char *dym = ldr_did_you_mean(fv->source, cands, nc);
            if (dym)
                vreport(d, node_or(doc, "source"), &fv->loc,
                        "unknown data source '%s' (did you mean '%s'?)", fv->source, dym);
            else
                vreport(d, node_or(doc, "source"), &fv->loc, "unknown data source '%s'",
                        fv->source);
        } else if (src && src->kind == LDR_SOURCE_REQUEST) {
            vreport(d, node_or(doc, "source"), &fv->loc,
                    "a feature view's source must be a file or push source; '%s' is a request "
                    "source",
                    src->name);
        }
        /* The file source whose columns the schema names (a push source's batch source). */
        const ldr_source *batch = src;
        if (src && src->kind == LDR_SOURCE_PUSH)
            batch = ldr_defs_find_source(defs, src->batch_source);
        /* schema */
        const ldr_node *schema_node = doc ? ldr__node_get(doc, "schema") : NULL;
        size_t n_features = 0;
        for (size_t j = 0; j < fv->n_schema; j++) {
            const ldr_field *f = &fv->schema[j];
            const ldr_node *at = NULL;
            if (schema_node && schema_node->kind == LDR_NODE_SEQ) {
                /* find the field's node by name (duplicates were dropped while building) */
                for (size_t k = 0; k < schema_node->n && !at; k++) {
                    const ldr_node *nn = ldr__node_get(schema_node->items[k], "name");
                    if (nn && nn->kind == LDR_NODE_SCALAR && !strcmp(nn->str, f->name))
                        at = schema_node->items[k];
                }
            }
            bool is_key = false;
            for (size_t k = 0; k < fv->n_entities; k++) {
                const ldr_entity *e = view_entity(defs, fv->entities[k]);
                if (!e || strcmp(e->join_key, f->name) != 0)
                    continue;
                is_key = true;
                if (e->value_type != LDR_TYPE_INVALID && f->type != LDR_TYPE_INVALID &&
                    e->value_type != f->type)
                    vreport(d, node_or(at, "dtype"), &fv->loc,
                            "schema field '%s' is the join key of entity '%s' but has type %s; "
                            "the entity declares %s",
                            f->name, e->name, ldr_type_name(f->type), ldr_type_name(e->value_type));
            }
            if (!is_key)
                n_features++;
            if (batch && batch->kind == LDR_SOURCE_FILE) {
                for (size_t k = 0; k < batch->field_mapping.n; k++) {
                    if (!strcmp(batch->field_mapping.items[k].key, f->name))
                        vreport(d, node_or(at, "name"), &fv->loc,
                                "schema field '%s' is a source column renamed by field_mapping of "
                                "'%s'; use the mapped name '%s'",
                                f->name, batch->name, batch->field_mapping.items[k].value);
                }
                if (!strcmp(f->name, batch->timestamp_field))
                    vreport(d, node_or(at, "name"), &fv->loc,
                            "schema field '%s' is the timestamp_field of source '%s'", f->name,
                            batch->name);
                else if (!strcmp(f->name, batch->created_timestamp_column))
                    vreport(d, node_or(at, "name"), &fv->loc,
                            "schema field '%s' is the created_timestamp_column of source '%s'",
                            f->name, batch->name);
            }
        }
        if (schema_node && schema_node->kind == LDR_NODE_SEQ && fv->n_schema > 0 && n_features == 0)
            vreport(d, schema_node, &fv->loc,
                    "feature view '%s' has no features: its schema lists only join keys", fv->name);
        else if (schema_node && schema_node->kind == LDR_NODE_SEQ && schema_node->n == 0)
            vreport(d, schema_node, &fv->loc, "feature view '%s' has an empty schema", fv->name);
    }
}

/* "has no feature" with the reason when the name is a join key, or a suggestion. */
static void report_missing_feature(const ldr_defs *defs, ldr_diags *d, const ldr_view *fv,
                                   const ldr_node *at, const ldr_loc *fallback, const char *name)
{
    for (size_t i = 0; i < fv->n_entities; i++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, fv->entities[i]);
        if (e && !strcmp(e->join_key, name)) {
            vreport(d, at, fallback,
                    "feature view '%s' has no feature '%s' ('%s' is the join key of entity '%s')",
                    fv->name, name, name, e->name);
            return;
        }
    }
    const char *cands[256];
    size_t nc = 0;
    for (size_t i = 0; i < fv->n_schema && nc < LDR_ARRAY_LEN(cands); i++)
        if (!view_has_join_key(defs, fv, fv->schema[i].name))
            cands[nc++] = fv->schema[i].name;
    const char *dym = ldr_did_you_mean(name, cands, nc);
    if (dym)
        vreport(d, at, fallback, "feature view '%s' has no feature '%s' (did you mean '%s'?)",
                fv->name, name, dym);
    else
        vreport(d, at, fallback, "feature view '%s' has no feature '%s'", fv->name, name);
}

/* The key node of `key` inside a mapping member, or the member itself. */
static const ldr_node *map_key_node(const ldr_node *parent, const char *member, const char *key)
{
    const ldr_node *m = parent ? ldr__node_get(parent, member) : NULL;
    if (!m || m->kind != LDR_NODE_MAP)
        return m ? m : parent;
    for (size_t i = 0; i < m->n; i++) {
        const ldr_node *k = ldr__node_key(m, i);
        if (k->kind == LDR_NODE_SCALAR && !strcmp(k->str, key))
            return k;
    }
    return m;
}

static void validate_services(ldr_defs *defs, ldr_diags *d)
{
    for (size_t i = 0; i < defs->n_services; i++) {
        const ldr_service *s = &defs->services[i];
        ldr_node *doc = defs->prov ? defs->prov->services[i] : NULL;
        for (size_t j = 0; j < s->n_projections; j++) {
            const ldr_projection *p = &s->projections[j];
            const ldr_node *pn = item_node(doc, "features", j);
            if (!*p->view)
                continue;
            const ldr_view *fv = ldr_defs_find_view(defs, p->view);
            if (!fv) {
                const char *cands[64];
                size_t nc = 0;
                for (size_t k = 0; k < defs->n_views && nc < LDR_ARRAY_LEN(cands); k++)
                    cands[nc++] = defs->views[k].name;
                const char *dym = ldr_did_you_mean(p->view, cands, nc);
                const ldr_node *at =
                    pn && pn->kind == LDR_NODE_MAP ? node_or(pn, "feature_view") : pn;
                if (dym)
                    vreport(d, at, &s->loc, "unknown feature view '%s' (did you mean '%s'?)",
                            p->view, dym);
                else
                    vreport(d, at, &s->loc, "unknown feature view '%s'", p->view);
                continue;
            }
            for (size_t k = 0; k < p->n_features; k++) {
                if (!view_has_feature(defs, fv, p->features[k])) {
                    const ldr_node *at =
                        pn && pn->kind == LDR_NODE_MAP ? item_node(pn, "features", k) : pn;
                    report_missing_feature(defs, d, fv, at, &s->loc, p->features[k]);
                }
            }
            for (size_t k = 0; k < p->join_key_map.n; k++) {
                const char *jk = p->join_key_map.items[k].key;
                if (!view_has_join_key(defs, fv, jk)) {
                    const ldr_node *at =
                        pn && pn->kind == LDR_NODE_MAP ? map_key_node(pn, "join_key_map", jk) : pn;
                    vreport(d, at, &s->loc,
                            "join_key_map key '%s' is not a join key of feature view '%s'", jk,
                            fv->name);
                }
            }
        }
    }
}

static int entity_cmp(const void *a, const void *b)
{
    return strcmp(((const ldr_entity *)a)->name, ((const ldr_entity *)b)->name);
}
static int source_cmp(const void *a, const void *b)
{
    return strcmp(((const ldr_source *)a)->name, ((const ldr_source *)b)->name);
}
static int view_cmp(const void *a, const void *b)
{
    return strcmp(((const ldr_view *)a)->name, ((const ldr_view *)b)->name);
}
static int service_cmp(const void *a, const void *b)
{
    return strcmp(((const ldr_service *)a)->name, ((const ldr_service *)b)->name);
}

ldr_code ldr_defs_validate(ldr_defs *defs, const ldr_config *cfg, ldr_diags *diags)
{
    (void)cfg;
    size_t before = diags->n;
    ldr_defs_prov *pv = defs->prov;
    CHECK_DUPS(diags, "Entity", defs->entities, defs->n_entities, pv ? pv->entities : NULL);
    CHECK_DUPS(diags, "DataSource", defs->sources, defs->n_sources, pv ? pv->sources : NULL);
    CHECK_DUPS(diags, "FeatureView", defs->views, defs->n_views, pv ? pv->views : NULL);
    CHECK_DUPS(diags, "FeatureService", defs->services, defs->n_services, pv ? pv->services : NULL);
    validate_sources(defs, diags);
    validate_views(defs, diags);
    validate_services(defs, diags);
    prov_free(defs);
    if (defs->n_entities)
        qsort(defs->entities, defs->n_entities, sizeof *defs->entities, entity_cmp);
    if (defs->n_sources)
        qsort(defs->sources, defs->n_sources, sizeof *defs->sources, source_cmp);
    if (defs->n_views)
        qsort(defs->views, defs->n_views, sizeof *defs->views, view_cmp);
    if (defs->n_services)
        qsort(defs->services, defs->n_services, sizeof *defs->services, service_cmp);
    return diags->n > before ? LDR_ECONFIG : LDR_OK;
}

/* ---- lookup -------------------------------------------------------------------------------- */

#define FIND(arr, n, name)                       \
    do {                                         \
        for (size_t i_ = 0; i_ < (n); i_++)      \
            if (!strcmp((arr)[i_].name, (name))) \
                return &(arr)[i_];               \
        return NULL;                             \
    } while (0)

const ldr_entity *ldr_defs_find_entity(const ldr_defs *defs, const char *name)
{
    FIND(defs->entities, defs->n_entities, name);
}
const ldr_source *ldr_defs_find_source(const ldr_defs *defs, const char *name)
{
    FIND(defs->sources, defs->n_sources, name);
}
const ldr_view *ldr_defs_find_view(const ldr_defs *defs, const char *name)
{
    FIND(defs->views, defs->n_views, name);
}
const ldr_service *ldr_defs_find_service(const ldr_defs *defs, const char *name)
{
    FIND(defs->services, defs->n_services, name);
}

const char *ldr_source_kind_name(ldr_source_kind k)
{
    switch (k) {
    case LDR_SOURCE_FILE:
        return "file";
    case LDR_SOURCE_PUSH:
        return "push";
    case LDR_SOURCE_REQUEST:
        return "request";
    }
    return "unknown";
}

const char *ldr_file_format_name(ldr_file_format f)
{
    return f == LDR_FORMAT_CSV ? "csv" : "parquet";
}
