/*
 * repo.h -- the feature repository: feature_store.yaml, definition files, validation and
 * the canonical form of every object.
 *
 * Pipeline: discover files (discover.c) -> parse YAML into position-carrying nodes
 * (yaml.c, node.c) -> build typed objects from nodes, collecting *every* problem as a
 * diagnostic "file:line:column: message" (loader.c) -> cross-reference validation
 * (loader.c) -> canonical JSON per object (model.c) for the registry, plan and dumps.
 * The registry's JSON goes back through the same builder (ldr_defs_add_json), so objects
 * read from the registry are built by exactly the code that validated them.
 *
 * Ownership: ldr_config and ldr_defs own an arena holding every string and array they
 * point to; free with ldr_config_fini / ldr_defs_fini. Diagnostics own their strings.
 * Thread-safety: none needed; a load is single-threaded and the result is immutable.
 */
#ifndef LDR_REPO_REPO_H
#define LDR_REPO_REPO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* ---- Diagnostics ----------------------------------------------------------------------- */

/** Collected validation messages, each "file:line:column: message" (or "file: message"
 * when there is no position). */
typedef struct ldr_diags {
    char **items;
    size_t n;
    size_t cap;
    size_t max;   /* stop collecting after max messages (0 = 1000) */
    size_t total; /* problems reported, including those past max */
} ldr_diags;

void ldr_diags_init(ldr_diags *d);
void ldr_diags_fini(ldr_diags *d);
void ldr_diags_addf(ldr_diags *d, const ldr_loc *loc, const char *fmt, ...) LDR_PRINTF(3, 4);
/** Sorts by file, line, column (stable), so output order does not depend on the order
 * files were discovered or checks ran. */
void ldr_diags_sort(ldr_diags *d);

/* ---- feature_store.yaml ---------------------------------------------------------------- */

typedef struct ldr_config {
    ldr_arena arena;
    const char *repo_dir;    /* absolute */
    const char *config_path; /* absolute path of feature_store.yaml */
    const char *project;
    const char *project_description;
    const char *provider;      /* "local" */
    const char *registry_type; /* "sqlite" */
    const char *registry_path; /* absolute */
    const char *online_type;   /* "sqlite" (default), "redis" or "memory" */
    const char *online_path;   /* absolute, for file-based online stores */
    /* redis: Feast's connection_string ("host:port[,host:port...][,db=N][,password=P]...",
     * default "localhost:6379"), redis_type (redis | redis_cluster) and key_ttl_seconds
     * (an EXPIRE on every key written; 0 = none). */
    const char *online_connection_string;
    bool online_redis_cluster;
    long long online_key_ttl_seconds;
    /* concurrent_writers (redis): who else may write the store during a write, so what
     * Larder's read-compare-write must guard against (docs/online-redis.md). */
    enum {
        LDR_WRITERS_LARDER = 0, /* other Larder writers: WATCH of write epochs (default) */
        LDR_WRITERS_ANY,        /* any client, Feast too: WATCH of every key */
        LDR_WRITERS_NONE        /* nobody: read, then write, unguarded (Feast's protocol) */
    } online_concurrent_writers;
    const char *offline_type;             /* "file" */
    int entity_key_serialization_version; /* 3 */
} ldr_config;

/**
 * Reads repo_dir/feature_store.yaml. Problems are added to diags and LDR_ECONFIG returned
 * (err carries the first). A missing file is LDR_ENOTFOUND ("no feature_store.yaml in
 * DIR: is this a feature repository? (use -c/--chdir)").
 */
LDR_MUST_USE ldr_code ldr_config_load(const char *repo_dir, ldr_config *out, ldr_diags *diags,
                                      ldr_err *err);
void ldr_config_fini(ldr_config *cfg);

/* ---- Definitions ----------------------------------------------------------------------- */

typedef struct ldr_defs {
    ldr_arena arena;
    ldr_entity *entities;
    size_t n_entities, cap_entities;
    ldr_source *sources;
    size_t n_sources, cap_sources;
    ldr_view *views;
    size_t n_views, cap_views;
    ldr_service *services;
    size_t n_services, cap_services;
    size_t node_budget;         /* YAML nodes still allowed (LDR_DEFS_MAX_NODES in all) */
    struct ldr_defs_prov *prov; /* private: document nodes, until ldr_defs_validate */
} ldr_defs;

/* Limits on hostile definition files. */
#define LDR_DEFS_MAX_FILE_BYTES (16u << 20)
#define LDR_DEFS_MAX_NODES      1000000u
#define LDR_DEFS_MAX_DEPTH      64u

void ldr_defs_init(ldr_defs *defs);
void ldr_defs_fini(ldr_defs *defs);

/**
 * Parses one definition file's bytes (YAML, '---'-separated documents with `kind:`) and
 * adds the objects it defines. Pure: no I/O; `fname` is used in messages only. Problems
 * go to diags. Returns LDR_OK or LDR_ECONFIG when something was reported.
 */
ldr_code ldr_defs_parse(ldr_defs *defs, const char *fname, const char *data, size_t len,
                        ldr_diags *diags);

/**
 * Cross-object validation: duplicate names, dangling references, key/type conflicts,
 * rules that need the config (cfg may be NULL). Sorts every object array by name.
 */
ldr_code ldr_defs_validate(ldr_defs *defs, const ldr_config *cfg, ldr_diags *diags);

/**
 * Discovers and parses every definition file of the repository (*.yaml, *.yml under
 * cfg->repo_dir, recursively, skipping feature_store.yaml, data/, hidden entries and
 * .larderignore patterns), then validates. Returns LDR_ECONFIG with diags filled when the
 * repository has problems, LDR_EIO when a file cannot be read.
 */
ldr_code ldr_defs_load_repo(ldr_defs *defs, const ldr_config *cfg, ldr_diags *diags, ldr_err *err);

/**
 * Adds one object from its canonical JSON (as stored in the registry). kind is
 * "Entity", "DataSource", "FeatureView" or "FeatureService". A spec that does not build
 * cleanly is LDR_ECORRUPT naming the object.
 */
LDR_MUST_USE ldr_code ldr_defs_add_json(ldr_defs *defs, const char *kind, const char *name,
                                        const char *json, ldr_err *err);

/** Callback receiving one object's canonical JSON; json is borrowed for the call. */
typedef void (*ldr_defs_emit_fn)(void *ctx, const char *kind, const char *name, const char *json);

/** Emits every object's canonical JSON (compact, fixed key order, defaults filled in). */
void ldr_defs_canonical(const ldr_defs *defs, ldr_defs_emit_fn emit, void *ctx);

/* Lookup by name (after ldr_defs_validate sorted the arrays; linear before). */
const ldr_entity *ldr_defs_find_entity(const ldr_defs *defs, const char *name);
const ldr_source *ldr_defs_find_source(const ldr_defs *defs, const char *name);
const ldr_view *ldr_defs_find_view(const ldr_defs *defs, const char *name);
const ldr_service *ldr_defs_find_service(const ldr_defs *defs, const char *name);

/* ---- Retrieval plans (fplan.c) ----------------------------------------------------------- */

/** Whether `name` is the join key of one of v's entities. */
bool ldr_view_is_join_key(const ldr_defs *defs, const ldr_view *v, const char *name);
/** The type a view's join key compares as: the entity's declared type, else the view's
 * schema type for that column, else String. */
ldr_type ldr_view_key_type(const ldr_view *v, const ldr_entity *e);

/** One view as a request reads it. */
typedef struct ldr_fplan_proj {
    const ldr_view *view;
    const char *prefix;   /* alias or view name, for full feature names */
    ldr_kvs join_key_map; /* view join key -> request column */
} ldr_fplan_proj;

/** One output feature column. */
typedef struct ldr_fplan_col {
    size_t proj; /* index into projs */
    const ldr_field *feature;
    const char *name; /* "feature", or "prefix__feature" with full names */
} ldr_fplan_col;

typedef struct ldr_fplan {
    ldr_fplan_proj *projs; /* one per view (references), or per service projection */
    size_t n_projs;
    ldr_fplan_col *cols; /* request order */
    size_t n_cols;
} ldr_fplan;

/**
 * Resolves feature references ("view:feature", n_refs of them) or a feature service
 * (when service != NULL) into a plan, all from a. Errors: LDR_ENOTFOUND unknown view,
 * feature or service (with a did-you-mean); LDR_EINVAL malformed references, no
 * features, output-name collisions (naming both sources); LDR_EUNSUPPORTED "view@v".
 */
LDR_MUST_USE ldr_code ldr_fplan_build(const ldr_defs *defs, const char *const *refs, size_t n_refs,
                                      const char *service, bool full_names, ldr_arena *a,
                                      ldr_fplan *out, ldr_err *err);
/** The file source a view's rows come from: its source, or a push source's batch source.
 * NULL with LDR_ENOTFOUND ("no file source to read"; callers name the view) otherwise. */
const ldr_source *ldr_view_file_source(const ldr_defs *defs, const ldr_view *v, ldr_err *err);
/** The request column a projection reads a view's join key from (join_key_map). */
const char *ldr_fplan_request_col(const ldr_fplan_proj *pr, const char *join_key);

/** Static names used in messages and the registry. */
const char *ldr_source_kind_name(ldr_source_kind k); /* "file", "push", "request" */
const char *ldr_file_format_name(ldr_file_format f); /* "parquet", "csv" */

#endif /* LDR_REPO_REPO_H */
