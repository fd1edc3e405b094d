/*
 * test_loader.c -- unit tests for the repo module: YAML to objects, validation messages,
 * hostile YAML (aliases, depth, size), canonical JSON round trips, feature_store.yaml and
 * file discovery (.larderignore, data/, hidden directories).
 */
#include "repo/repo.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static const char good_defs[] =
    "kind: Entity\n"
    "name: driver\n"
    "join_keys: [driver_id]\n"
    "value_type: Int64\n"
    "description: A driver\n"
    "tags: {team: drivers, b: '2'}\n"
    "owner: ml@example.com\n"
    "---\n"
    "kind: DataSource\n"
    "name: stats\n"
    "type: file\n"
    "path: data/stats.parquet\n"
    "timestamp_field: event_timestamp\n"
    "created_timestamp_column: created\n"
    "field_mapping: {id: driver_id}\n"
    "---\n"
    "kind: DataSource\n"
    "name: stats_push\n"
    "type: push\n"
    "batch_source: stats\n"
    "---\n"
    "kind: DataSource\n"
    "name: req\n"
    "type: request\n"
    "schema: [{name: val_to_add, dtype: int64}]\n"
    "---\n"
    "kind: FeatureView\n"
    "name: hourly\n"
    "entities: [driver]\n"
    "ttl: 1d12h\n"
    "source: stats\n"
    "schema:\n"
    "  - {name: driver_id, dtype: Int64}\n"
    "  - {name: conv_rate, dtype: Float32, description: conversion rate}\n"
    "  - {name: trips, dtype: Array(Int64)}\n"
    "online: true\n"
    "offline: false\n"
    "---\n"
    "kind: FeatureView\n"
    "name: global\n"
    "source: stats_push\n"
    "schema: [{name: total, dtype: Float64}]\n"
    "---\n"
    "kind: FeatureService\n"
    "name: svc\n"
    "features:\n"
    "  - hourly\n"
    "  - {feature_view: hourly, features: [conv_rate], alias: h2, join_key_map: {driver_id: "
    "other}}\n";

/* Parses and validates text as one file; returns the diagnostics count. */
static size_t load(ldr_defs *d, ldr_diags *g, const char *text)
{
    ldr_defs_init(d);
    ldr_diags_init(g);
    (void)ldr_defs_parse(d, "defs.yaml", text, strlen(text), g);
    (void)ldr_defs_validate(d, NULL, g);
    ldr_diags_sort(g);
    return g->n;
}

/* Loads text expecting exactly one diagnostic equal to `want`. */
static void expect_one(const char *text, const char *want)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, text);
    CHECK_EQ_I64(n, 1);
    if (n >= 1)
        CHECK_EQ_STR(g.items[0], want);
    for (size_t i = 1; i < n; i++)
        printf("#   extra: %s\n", g.items[i]);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(good_repo_builds_objects)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, good_defs);
    for (size_t i = 0; i < n; i++)
        printf("#   %s\n", g.items[i]);
    CHECK_EQ_I64(n, 0);
    CHECK_EQ_I64(d.n_entities, 1);
    CHECK_EQ_I64(d.n_sources, 3);
    CHECK_EQ_I64(d.n_views, 2);
    CHECK_EQ_I64(d.n_services, 1);
    const ldr_entity *e = ldr_defs_find_entity(&d, "driver");
    CHECK(e && !strcmp(e->join_key, "driver_id") && e->value_type == LDR_TYPE_INT64);
    CHECK(e && e->tags.n == 2 && !strcmp(e->tags.items[0].key, "b")); /* sorted */
    CHECK(e && e->loc.line == 1 && e->loc.col == 1 && !strcmp(e->loc.file, "defs.yaml"));
    const ldr_source *s = ldr_defs_find_source(&d, "stats");
    CHECK(s && s->kind == LDR_SOURCE_FILE && s->format == LDR_FORMAT_PARQUET);
    CHECK(s && !strcmp(s->created_timestamp_column, "created"));
    CHECK(s && s->field_mapping.n == 1 && !strcmp(s->field_mapping.items[0].value, "driver_id"));
    const ldr_source *r = ldr_defs_find_source(&d, "req");
    CHECK(r && r->kind == LDR_SOURCE_REQUEST && r->n_schema == 1 &&
          r->schema[0].type == LDR_TYPE_INT64);
    const ldr_view *v = ldr_defs_find_view(&d, "hourly");
    CHECK(v && v->ttl == (int64_t)36 * 3600 * 1000000);
    CHECK(v && v->n_schema == 3 && v->schema[2].type == LDR_TYPE_INT64_LIST);
    CHECK(v && v->online && !v->offline);
    const ldr_view *gv = ldr_defs_find_view(&d, "global");
    CHECK(gv && gv->n_entities == 0 && gv->ttl == 0 && gv->online);
    const ldr_service *svc = ldr_defs_find_service(&d, "svc");
    CHECK(svc && svc->n_projections == 2);
    CHECK(svc && svc->projections[0].n_features == 0 && !*svc->projections[0].alias);
    CHECK(svc && !strcmp(svc->projections[1].alias, "h2") &&
          svc->projections[1].join_key_map.n == 1);
    /* arrays are sorted by name after validation */
    CHECK(!strcmp(d.sources[0].name, "req") && !strcmp(d.sources[2].name, "stats_push"));
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

typedef struct collected {
    ldr_defs *target;
    char kinds[16][32];
    char jsons[16][2048];
    size_t n;
    bool failed;
} collected;

static void collect(void *ctx, const char *kind, const char *name, const char *json)
{
    collected *c = ctx;
    if (c->n < 16) {
        snprintf(c->kinds[c->n], sizeof c->kinds[c->n], "%s", kind);
        snprintf(c->jsons[c->n], sizeof c->jsons[c->n], "%s", json);
        c->n++;
    }
    if (c->target) {
        ldr_err err;
        if (ldr_defs_add_json(c->target, kind, name, json, &err) != LDR_OK) {
            printf("#   add_json %s %s: %s\n", kind, name, err.msg);
            c->failed = true;
        }
    }
}

TEST(canonical_json_round_trips)
{
    ldr_defs d, d2;
    ldr_diags g;
    CHECK_EQ_I64(load(&d, &g, good_defs), 0);
    ldr_defs_init(&d2);
    collected c1 = {.target = &d2};
    ldr_defs_canonical(&d, collect, &c1);
    CHECK(!c1.failed);
    CHECK_EQ_I64(c1.n, 7);
    ldr_diags g2;
    ldr_diags_init(&g2);
    CHECK_EQ_I64(ldr_defs_validate(&d2, NULL, &g2), LDR_OK);
    collected c2 = {0};
    ldr_defs_canonical(&d2, collect, &c2);
    CHECK_EQ_I64(c2.n, c1.n);
    for (size_t i = 0; i < c1.n && i < c2.n; i++)
        CHECK_EQ_STR(c2.jsons[i], c1.jsons[i]);
    /* the exact canonical form of the entity and the view pins the registry format */
    CHECK_EQ_STR(c1.jsons[0], "{\"name\":\"driver\",\"join_keys\":[\"driver_id\"],\"value_type\":"
                              "\"Int64\",\"description\":\"A driver\",\"owner\":\"ml@example.com\","
                              "\"tags\":{\"b\":\"2\",\"team\":\"drivers\"}}");
    CHECK_CONTAINS(c1.jsons[5], "\"ttl\":\"1d12h\"");
    CHECK_CONTAINS(c1.jsons[5], "{\"name\":\"trips\",\"dtype\":\"Array(Int64)\",\"description\":"
                                "\"\",\"tags\":{}}");
    CHECK_CONTAINS(c1.jsons[6], "{\"feature_view\":\"hourly\",\"features\":null,\"alias\":null,"
                                "\"join_key_map\":{}}");
    ldr_diags_fini(&g2);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d2);
    ldr_defs_fini(&d);
}

TEST(equivalent_yaml_gives_identical_canonical_json)
{
    /* different spelling, same meaning: dtype case, key order, flow vs block, 24h vs 1d */
    const char *a = "kind: Entity\nname: e\nvalue_type: INT64\n---\n"
                    "kind: DataSource\nname: s\ntype: file\npath: x.csv\ntimestamp_field: ts\n---\n"
                    "kind: FeatureView\nname: v\nentities: [e]\nttl: 24h\nsource: s\n"
                    "schema: [{name: f, dtype: float32}]\n";
    const char *b = "kind: FeatureView\nsource: s\nname: v\nttl: 1d\nentities:\n  - e\nschema:\n"
                    "  - dtype: Float32\n    name: f\nonline: true\n---\n"
                    "kind: DataSource\ntype: file\nname: s\npath: x.csv\nfile_format: csv\n"
                    "timestamp_field: ts\n---\n"
                    "kind: Entity\nname: e\njoin_keys: [e]\nvalue_type: Int64\ndescription: ''\n";
    ldr_defs da, db;
    ldr_diags ga, gb;
    CHECK_EQ_I64(load(&da, &ga, a), 0);
    CHECK_EQ_I64(load(&db, &gb, b), 0);
    collected ca = {0}, cb = {0};
    ldr_defs_canonical(&da, collect, &ca);
    ldr_defs_canonical(&db, collect, &cb);
    CHECK_EQ_I64(ca.n, 3);
    CHECK_EQ_I64(cb.n, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ_STR(cb.jsons[i], ca.jsons[i]);
    ldr_diags_fini(&ga);
    ldr_diags_fini(&gb);
    ldr_defs_fini(&da);
    ldr_defs_fini(&db);
}

TEST(unknown_key_suggests)
{
    expect_one("kind: Entity\nname: e\nvalue_typ: Int64\n",
               "defs.yaml:3:1: unknown key 'value_typ' in Entity (did you mean 'value_type'?)");
}

TEST(unknown_kind_suggests)
{
    expect_one("kind: FeatureVeiw\nname: x\n",
               "defs.yaml:1:7: unknown kind 'FeatureVeiw' (did you mean 'FeatureView'?)");
}

TEST(bad_dtype_and_duration)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g,
                    "kind: DataSource\nname: s\ntype: file\npath: a.csv\ntimestamp_field: ts\n---\n"
                    "kind: FeatureView\nname: v\nttl: 5x\nsource: s\n"
                    "schema: [{name: f, dtype: Float16}]\n");
    CHECK_EQ_I64(n, 2);
    if (n == 2) {
        CHECK(strncmp(g.items[0], "defs.yaml:9:6: invalid duration \"5x\"", 36) == 0);
        CHECK(strncmp(g.items[1], "defs.yaml:11:27: unknown dtype 'Float16' (expected ", 51) == 0);
    }
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(dangling_references_are_reported_where_written)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g,
                    "kind: Entity\nname: driver\n---\n"
                    "kind: FeatureView\nname: v\nentities: [drivr]\nsource: nope\n"
                    "schema: [{name: f, dtype: Int32}]\n---\n"
                    "kind: FeatureService\nname: s\nfeatures:\n"
                    "  - {feature_view: v, features: [g]}\n  - w\n");
    CHECK_EQ_I64(n, 4);
    if (n == 4) {
        CHECK_EQ_STR(g.items[0], "defs.yaml:6:12: unknown entity 'drivr' (did you mean 'driver'?)");
        CHECK_EQ_STR(g.items[1], "defs.yaml:7:9: unknown data source 'nope'");
        CHECK_EQ_STR(g.items[2], "defs.yaml:13:34: feature view 'v' has no feature 'g'");
        CHECK_EQ_STR(g.items[3], "defs.yaml:14:5: unknown feature view 'w'");
    }
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(join_key_type_conflict_and_shared_join_key)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g,
                    "kind: Entity\nname: a\njoin_keys: [id]\nvalue_type: Int64\n---\n"
                    "kind: Entity\nname: b\njoin_keys: [id]\n---\n"
                    "kind: DataSource\nname: s\ntype: file\npath: a.csv\ntimestamp_field: ts\n---\n"
                    "kind: FeatureView\nname: v\nentities: [a, b]\nsource: s\n"
                    "schema: [{name: id, dtype: String}, {name: f, dtype: Int32}]\n");
    CHECK_EQ_I64(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(g.items[0], "defs.yaml:18:15: entities 'a' and 'b' share the join key 'id' "
                                 "in feature view 'v'");
        CHECK_EQ_STR(g.items[1], "defs.yaml:20:28: schema field 'id' is the join key of entity "
                                 "'a' but has type String; the entity declares Int64");
    }
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(field_mapping_key_in_schema)
{
    expect_one("kind: DataSource\nname: s\ntype: file\npath: a.csv\ntimestamp_field: ts\n"
               "field_mapping: {id: driver_id}\n---\n"
               "kind: FeatureView\nname: v\nsource: s\nschema: [{name: id, dtype: Int64}, "
               "{name: f, dtype: Int64}]\n",
               "defs.yaml:11:17: schema field 'id' is a source column renamed by field_mapping "
               "of 's'; use the mapped name 'driver_id'");
}

TEST(duplicate_names_point_at_both)
{
    expect_one("kind: Entity\nname: e\n---\nkind: Entity\nname: e\n",
               "defs.yaml:5:7: duplicate Entity name 'e' (first defined at defs.yaml:1:1)");
}

TEST(duplicate_yaml_keys)
{
    expect_one("kind: Entity\nname: e\nname: f\n",
               "defs.yaml:3:1: duplicate key 'name' (first at line 2)");
}

TEST(wrong_types)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g,
                    "kind: DataSource\nname: s\ntype: file\npath: a.csv\ntimestamp_field: ts\n---\n"
                    "kind: FeatureView\nname: v\nentities: e\nsource: s\nonline: maybe\n"
                    "tags: [a]\nschema: [{name: f, dtype: Int64}]\n");
    CHECK_EQ_I64(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(g.items[0], "defs.yaml:9:11: 'entities' must be a list, got a scalar");
        CHECK_EQ_STR(g.items[1], "defs.yaml:11:9: 'online' must be true or false, got 'maybe'");
        CHECK_EQ_STR(g.items[2], "defs.yaml:12:7: 'tags' must be a mapping, got a list");
    }
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(yaml_syntax_error_has_position)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, "kind: Entity\nname: [unclosed\n");
    CHECK(n >= 1);
    if (n >= 1)
        CHECK(strncmp(g.items[0], "defs.yaml:3:1: YAML syntax error", 32) == 0);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(alias_bomb_is_cheap)
{
    /* "billion laughs": each level references the previous one nine times. Aliases share
     * nodes, so this costs a few hundred nodes, not 10^9. */
    char text[4096];
    size_t pos = (size_t)snprintf(text, sizeof text, "kind: Entity\nname: e\nx0: &a0 [lol]\n");
    for (int i = 1; i < 10; i++) {
        pos += (size_t)snprintf(text + pos, sizeof text - pos, "x%d: &a%d [", i, i);
        for (int j = 0; j < 9; j++)
            pos += (size_t)snprintf(text + pos, sizeof text - pos, "%s*a%d", j ? "," : "", i - 1);
        pos += (size_t)snprintf(text + pos, sizeof text - pos, "]\n");
    }
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, text);
    CHECK_EQ_I64(n, 10); /* ten unknown keys, nothing else */
    CHECK(d.node_budget > LDR_DEFS_MAX_NODES - 1000);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(deep_nesting_is_refused)
{
    char text[1024];
    size_t pos = (size_t)snprintf(text, sizeof text, "kind: Entity\nname: e\ntags: ");
    for (int i = 0; i < 100; i++)
        text[pos++] = '[';
    text[pos] = '\0';
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, text);
    CHECK(n >= 1);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || strstr(g.items[i], "nesting deeper than 64 levels");
    CHECK(found);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(every_problem_is_collected)
{
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g,
                    "kind: Entity\nname: a b\nbogus: 1\n---\n- not a mapping\n---\n"
                    "name: nokind\n---\nkind: FeatureView\nname: v\n");
    CHECK_EQ_I64(n, 6);
    if (n == 6) {
        CHECK_CONTAINS(g.items[0], "defs.yaml:2:7: invalid name 'a b'");
        CHECK_EQ_STR(g.items[1], "defs.yaml:3:1: unknown key 'bogus' in Entity");
        CHECK_EQ_STR(g.items[2], "defs.yaml:5:1: a definition document must be a mapping with "
                                 "a 'kind' key, got a list");
        CHECK_CONTAINS(g.items[3], "defs.yaml:7:1: document has no 'kind'");
        CHECK_EQ_STR(g.items[4], "defs.yaml:9:1: FeatureView is missing required key 'source'");
        CHECK_EQ_STR(g.items[5], "defs.yaml:9:1: FeatureView is missing required key 'schema'");
    }
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
}

TEST(diagnostics_are_capped_but_counted)
{
    ldr_buf b;
    ldr_err err;
    ldr_buf_init(&b, 1u << 20);
    CHECK_OK(ldr_buf_puts(&b, "kind: Entity\nname: e\n", &err), err);
    for (int i = 0; i < 1100; i++)
        CHECK_OK(ldr_buf_printf(&b, &err, "junk_%d: 1\n", i), err);
    ldr_defs d;
    ldr_diags g;
    size_t n = load(&d, &g, ldr_buf_cstr(&b));
    CHECK_EQ_I64(n, 1000);
    CHECK_EQ_I64(g.total, 1100);
    ldr_diags_fini(&g);
    ldr_defs_fini(&d);
    ldr_buf_fini(&b);
}

TEST(json_spec_rejects_garbage)
{
    ldr_defs d;
    ldr_defs_init(&d);
    ldr_err err;
    CHECK_FAILS(ldr_defs_add_json(&d, "Entity", "e", "{not json", &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "registry Entity 'e': invalid JSON");
    CHECK_FAILS(ldr_defs_add_json(&d, "Entity", "e", "{\"name\":\"e\",\"surprise\":1}", &err),
                LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "unknown key 'surprise'");
    CHECK_FAILS(ldr_defs_add_json(&d, "Gizmo", "g", "{}", &err), LDR_ECORRUPT);
    ldr_defs_fini(&d);
}

/* ---- files: feature_store.yaml and discovery ---------------------------------------------- */

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    CHECK(system(cmd) == 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *make_repo(void)
{
    char tmpl[] = "/tmp/ldr_loader_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    return ldr_xstrdup(dir);
}

static void remove_tree(char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    ldr_free(dir);
}

TEST(config_defaults_and_paths)
{
    char *dir = make_repo();
    write_file(dir, "feature_store.yaml", "project: p1\n");
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_STR(cfg.project, "p1");
    CHECK_EQ_STR(cfg.registry_type, "sqlite");
    char want[1100];
    snprintf(want, sizeof want, "%s/data/registry.db", cfg.repo_dir);
    CHECK_EQ_STR(cfg.registry_path, want);
    snprintf(want, sizeof want, "%s/data/online.db", cfg.repo_dir);
    CHECK_EQ_STR(cfg.online_path, want);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml",
               "project: p2\nregistry: {type: sqlite, path: /tmp/elsewhere.db}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_STR(cfg.registry_path, "/tmp/elsewhere.db");
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

TEST(config_online_store_types)
{
    char *dir = make_repo();
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store:\n  type: redis\n  connection_string: "
               "\"10.0.0.1:7000,10.0.0.2:7000,password=pw\"\n  redis_type: redis_cluster\n"
               "  key_ttl_seconds: 2\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_STR(cfg.online_type, "redis");
    CHECK_EQ_STR(cfg.online_connection_string, "10.0.0.1:7000,10.0.0.2:7000,password=pw");
    CHECK(cfg.online_redis_cluster);
    CHECK_EQ_I64(cfg.online_key_ttl_seconds, 2);
    CHECK(cfg.online_path == NULL);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml", "project: p\nonline_store: {type: redis}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_STR(cfg.online_connection_string, "localhost:6379"); /* Feast's default */
    CHECK(!cfg.online_redis_cluster);
    CHECK_EQ_I64(cfg.online_key_ttl_seconds, 0);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml", "project: p\nonline_store: {type: memory}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_STR(cfg.online_type, "memory");
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: sqlite, connection_string: x:1, "
               "key_ttl_seconds: 0}\n");
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 2);
    if (g.n == 2) {
        CHECK_EQ_STR(g.items[0], "feature_store.yaml:2:30: 'connection_string' does not apply "
                                 "to online_store type 'sqlite' (it is a redis option)");
        CHECK_EQ_STR(g.items[1], "feature_store.yaml:2:54: 'key_ttl_seconds' does not apply "
                                 "to online_store type 'sqlite' (it is a redis option)");
    }
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    ldr_diags_init(&g);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: redis, redis_type: sentinel, "
               "key_ttl_seconds: 1.5, connection_string: ''}\n");
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 3);
    if (g.n == 3) {
        CHECK_CONTAINS(g.items[0], "unknown redis_type 'sentinel' (supported: redis, "
                                   "redis_cluster)");
        CHECK_CONTAINS(g.items[1], "'key_ttl_seconds' must be a positive number of seconds");
        CHECK_CONTAINS(g.items[2], "'connection_string' must be \"host:port");
    }
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    /* concurrent_writers: larder (the default) or any; a redis option only */
    ldr_diags_init(&g);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: redis, concurrent_writers: any}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_I64(cfg.online_concurrent_writers, LDR_WRITERS_ANY);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: redis, concurrent_writers: larder}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_I64(cfg.online_concurrent_writers, LDR_WRITERS_LARDER);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: redis, concurrent_writers: none}\n");
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    CHECK_EQ_I64(cfg.online_concurrent_writers, LDR_WRITERS_NONE);
    ldr_config_fini(&cfg);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: redis, concurrent_writers: all}\n");
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 1);
    if (g.n == 1)
        CHECK_EQ_STR(g.items[0], "feature_store.yaml:2:49: unknown concurrent_writers 'all' "
                                 "(supported: larder, any, none)");
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    ldr_diags_init(&g);
    write_file(dir, "feature_store.yaml",
               "project: p\nonline_store: {type: sqlite, concurrent_writers: any}\n");
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 1);
    if (g.n == 1)
        CHECK_EQ_STR(g.items[0], "feature_store.yaml:2:30: 'concurrent_writers' does not apply "
                                 "to online_store type 'sqlite' (it is a redis option)");
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

TEST(config_problems_all_reported)
{
    char *dir = make_repo();
    write_file(dir, "feature_store.yaml",
               "project: -bad\nonline_store: {type: dynamodb}\nregistyr: x.db\n");
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 3);
    if (g.n == 3) {
        CHECK_EQ_STR(g.items[0], "feature_store.yaml:1:10: invalid project name '-bad': it must "
                                 "match ^[A-Za-z0-9][A-Za-z0-9_-]*$");
        CHECK_EQ_STR(g.items[1], "feature_store.yaml:2:22: unsupported online_store type "
                                 "'dynamodb' (supported: sqlite, redis, memory)");
        CHECK_EQ_STR(g.items[2], "feature_store.yaml:3:1: unknown key 'registyr' in "
                                 "feature_store.yaml (did you mean 'registry'?)");
    }
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

TEST(missing_config_is_not_found)
{
    char *dir = make_repo();
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    CHECK_FAILS(ldr_config_load(dir, &cfg, &g, &err), LDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no feature_store.yaml in");
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

TEST(discovery_skips_data_hidden_and_ignored)
{
    char *dir = make_repo();
    write_file(dir, "feature_store.yaml", "project: p\n");
    write_file(dir, "a.yaml", "kind: Entity\nname: a\n");
    write_file(dir, "sub/deeper/b.yml", "kind: Entity\nname: b\n");
    write_file(dir, "data/broken.yaml", "this is: [not valid\n");
    write_file(dir, ".hidden/broken.yaml", "this is: [not valid\n");
    write_file(dir, "sub/.x.yaml", "this is: [not valid\n");
    write_file(dir, "scratch/broken.yaml", "this is: [not valid\n");
    write_file(dir, "sub/tmp.yaml", "this is: [not valid\n");
    write_file(dir, "notes.txt", "kind: Entity\nname: txt\n");
    write_file(dir, ".larderignore", "# comment\nscratch/\ntmp.yaml\n\n");
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    ldr_defs d;
    ldr_defs_init(&d);
    CHECK_OK(ldr_defs_load_repo(&d, &cfg, &g, &err), err);
    for (size_t i = 0; i < g.n; i++)
        printf("#   %s\n", g.items[i]);
    CHECK_EQ_I64(d.n_entities, 2);
    const ldr_entity *b = ldr_defs_find_entity(&d, "b");
    CHECK(b && !strcmp(b->loc.file, "sub/deeper/b.yml"));
    ldr_defs_fini(&d);
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

TEST(diagnostics_sorted_across_files)
{
    char *dir = make_repo();
    write_file(dir, "feature_store.yaml", "project: p\n");
    write_file(dir, "b.yaml", "kind: Entity\nname: e\nzz: 1\n");
    write_file(dir, "a.yaml", "kind: Entity\nname: f\nyy: 1\n---\nkind: Entity\nname: g\nxx: 1\n");
    ldr_config cfg;
    ldr_diags g;
    ldr_diags_init(&g);
    ldr_err err;
    CHECK_OK(ldr_config_load(dir, &cfg, &g, &err), err);
    ldr_defs d;
    ldr_defs_init(&d);
    CHECK_FAILS(ldr_defs_load_repo(&d, &cfg, &g, &err), LDR_ECONFIG);
    CHECK_EQ_I64(g.n, 3);
    if (g.n == 3) {
        CHECK_EQ_STR(g.items[0], "a.yaml:3:1: unknown key 'yy' in Entity");
        CHECK_EQ_STR(g.items[1], "a.yaml:7:1: unknown key 'xx' in Entity");
        CHECK_EQ_STR(g.items[2], "b.yaml:3:1: unknown key 'zz' in Entity");
    }
    CHECK_EQ_STR(err.msg, "a.yaml:3:1: unknown key 'yy' in Entity");
    ldr_defs_fini(&d);
    ldr_config_fini(&cfg);
    ldr_diags_fini(&g);
    remove_tree(dir);
}

int main(void)
{
    RUN(good_repo_builds_objects);
    RUN(canonical_json_round_trips);
    RUN(equivalent_yaml_gives_identical_canonical_json);
    RUN(unknown_key_suggests);
    RUN(unknown_kind_suggests);
    RUN(bad_dtype_and_duration);
    RUN(dangling_references_are_reported_where_written);
    RUN(join_key_type_conflict_and_shared_join_key);
    RUN(field_mapping_key_in_schema);
    RUN(duplicate_names_point_at_both);
    RUN(duplicate_yaml_keys);
    RUN(wrong_types);
    RUN(yaml_syntax_error_has_position);
    RUN(alias_bomb_is_cheap);
    RUN(deep_nesting_is_refused);
    RUN(every_problem_is_collected);
    RUN(diagnostics_are_capped_but_counted);
    RUN(json_spec_rejects_garbage);
    RUN(config_defaults_and_paths);
    RUN(config_online_store_types);
    RUN(config_problems_all_reported);
    RUN(missing_config_is_not_found);
    RUN(discovery_skips_data_hidden_and_ignored);
    RUN(diagnostics_sorted_across_files);
    return harness_done();
}
