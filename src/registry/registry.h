/*
 * registry.h -- the versioned registry: where applied definitions live.
 *
 * The registry stores objects as (project, kind, name, spec) rows, where spec is the
 * object's canonical JSON text (produced by the repo module: fixed key order, defaults
 * filled in). It knows nothing about what a FeatureView is; that keeps it small and lets
 * plan/diff/history work on every object kind the same way.
 *
 * Every write that changes something is one registry *version* (number, time, summary)
 * per project; object_history keeps each version's changed specs, so the state at any
 * version can be rebuilt and two versions diffed.
 *
 * Backends sit behind ldr_registry_ops (SQLite now, PostgreSQL later). All writes happen
 * inside ldr_registry_begin_write .. commit: one transaction, so two concurrent applies
 * serialize (the loser waits up to busy_timeout_ms, then fails with LDR_EBUSY).
 *
 * diff.c compares two object sets and produces a changeset with field-level changes
 * (walking the two JSON specs; arrays of objects with a "name" member are matched by
 * name), and renders it as text.
 *
 * Ownership: object sets and changesets own an arena holding all their strings; free
 * them with ldr_objset_fini / ldr_changeset_fini. Thread-safety: one ldr_registry handle
 * per thread.
 */
#ifndef LDR_REGISTRY_REGISTRY_H
#define LDR_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- Objects and object sets ----------------------------------------------------------- */

/** One registry object. All strings borrowed from the owning set's arena. */
typedef struct ldr_regobj {
    const char *kind; /* "Entity", "DataSource", "FeatureView", "FeatureService", ... */
    const char *name;
    const char *spec; /* canonical JSON text of the object */
    ldr_ts created;   /* when the object was first added (0 if not from a registry) */
    ldr_ts updated;   /* when its spec last changed (0 if not from a registry) */
    int64_t version;  /* registry version that last changed it (0 if not from a registry) */
} ldr_regobj;

/** A set of objects sorted by ldr_regobj_cmp, with unique (kind, name). */
typedef struct ldr_objset {
    ldr_regobj *items;
    size_t n;
    size_t cap;
    ldr_arena arena; /* owns items' strings */
} ldr_objset;

void ldr_objset_init(ldr_objset *set);
void ldr_objset_fini(ldr_objset *set);
/** Adds a copy of the object (strings copied into the set's arena). Call ldr_objset_sort
 * after the last add. */
void ldr_objset_add(ldr_objset *set, const ldr_regobj *obj);
void ldr_objset_sort(ldr_objset *set);
/** Binary search; NULL when absent. Borrowed from set. */
const ldr_regobj *ldr_objset_find(const ldr_objset *set, const char *kind, const char *name);

/** Rank of a kind in dependency order: Project, Entity, DataSource, FeatureView,
 * OnDemandFeatureView, FeatureService, then unknown kinds. */
int ldr_kind_rank(const char *kind);
/** Orders by (kind rank, kind, name). */
int ldr_regobj_cmp(const ldr_regobj *a, const ldr_regobj *b);

/* ---- Changesets (diff.c) --------------------------------------------------------------- */

typedef enum ldr_change_op {
    LDR_CHANGE_ADD = 1,
    LDR_CHANGE_MODIFY,
    LDR_CHANGE_REMOVE,
} ldr_change_op;

/** One field-level difference. path is like "ttl", "tags.team", "schema[conv_rate].dtype"
 * or "join_keys[0]"; old_text/new_text are compact JSON texts of the values, NULL when
 * the member is absent on that side. */
typedef struct ldr_field_change {
    const char *path;
    const char *old_text;
    const char *new_text;
} ldr_field_change;

typedef struct ldr_change {
    ldr_change_op op;
    const char *kind;
    const char *name;
    const char *old_spec;           /* NULL for ADD */
    const char *new_spec;           /* NULL for REMOVE */
    const ldr_field_change *fields; /* MODIFY only */
    size_t n_fields;
} ldr_change;

typedef struct ldr_changeset {
    ldr_change *items; /* in ldr_regobj_cmp order of (kind, name) */
    size_t n;
    size_t cap;
    ldr_arena arena;
} ldr_changeset;

void ldr_changeset_init(ldr_changeset *cs);
void ldr_changeset_fini(ldr_changeset *cs);

/**
 * Computes what turns `from` into `to`: objects only in `to` are ADD, only in `from` are
 * REMOVE, in both with different spec text are MODIFY (with field changes). Specs that
 * are not valid JSON give LDR_ECORRUPT naming the object.
 */
LDR_MUST_USE ldr_code ldr_diff(const ldr_objset *from, const ldr_objset *to, ldr_changeset *out,
                               ldr_err *err);

/**
 * Renders a changeset for people, one object per line with a marker, then indented field
 * changes:
 *     + Entity driver
 *     ~ FeatureView driver_hourly_stats
 *         ttl: "1d" -> "2d"
 *         schema[conv_rate].dtype: "Float32" -> "Float64"
 *     - FeatureService old
 * Nothing is appended for an empty changeset.
 */
LDR_MUST_USE ldr_code ldr_changeset_render(const ldr_changeset *cs, ldr_buf *out, ldr_err *err);

/** One-line summary: "added Entity driver, DataSource s; changed FeatureView v; removed
 * FeatureService f". Appends to out. */
LDR_MUST_USE ldr_code ldr_changeset_summary(const ldr_changeset *cs, ldr_buf *out, ldr_err *err);

/** Counts per op. */
void ldr_changeset_counts(const ldr_changeset *cs, size_t *out_add, size_t *out_modify,
                          size_t *out_remove);

/* ---- Registry handle ------------------------------------------------------------------- */

typedef struct ldr_registry_config {
    const char *type; /* "sqlite" */
    const char *path; /* file path (absolute, or relative to the working directory) */
    int busy_timeout_ms;
} ldr_registry_config;

typedef struct ldr_regversion {
    int64_t version;
    ldr_ts created;
    const char *summary;
} ldr_regversion;

typedef struct ldr_registry ldr_registry;

/** One materialized interval of a view: rows with start <= event time <= end were written
 * to the online store at `recorded`. */
typedef struct ldr_materialization {
    const char *view;
    ldr_ts start;
    ldr_ts end;
    ldr_ts recorded;
    uint64_t rows; /* rows written */
} ldr_materialization;

/** Backend operations (SQLite's VFS idea). impl is the backend's private state. */
typedef struct ldr_registry_ops {
    const char *name;
    ldr_code (*open)(const ldr_registry_config *cfg, void **out_impl, ldr_err *err);
    void (*close)(void *impl);
    ldr_code (*begin_write)(void *impl, ldr_err *err);
    ldr_code (*commit)(void *impl, ldr_err *err);
    void (*rollback)(void *impl);
    ldr_code (*current_version)(void *impl, const char *project, int64_t *out, ldr_err *err);
    ldr_code (*load)(void *impl, const char *project, int64_t version, ldr_objset *out,
                     ldr_err *err);
    ldr_code (*write_version)(void *impl, const char *project, const ldr_changeset *cs, ldr_ts now,
                              const char *summary, int64_t *out_version, ldr_err *err);
    ldr_code (*versions)(void *impl, const char *project, ldr_arena *a, ldr_regversion **out,
                         size_t *out_n, ldr_err *err);
    ldr_code (*purge_project)(void *impl, const char *project, ldr_err *err);
    ldr_code (*record_materialization)(void *impl, const char *project,
                                       const ldr_materialization *m, ldr_err *err);
    ldr_code (*materializations)(void *impl, const char *project, ldr_arena *a,
                                 ldr_materialization **out, size_t *out_n, ldr_err *err);
} ldr_registry_ops;

extern const ldr_registry_ops ldr_registry_sqlite_ops;

/** Opens the registry named by cfg->type ("sqlite"; LDR_EUNSUPPORTED otherwise), creating
 * its schema if absent. A registry written by a newer Larder (higher schema version) is
 * refused with LDR_EUNSUPPORTED. Caller owns; free with ldr_registry_close. */
ldr_registry *ldr_registry_open(const ldr_registry_config *cfg, ldr_err *err);
void ldr_registry_close(ldr_registry *reg);

/** Starts the write transaction; waits up to busy_timeout_ms for another writer, then
 * fails with LDR_EBUSY ("registry is locked by another apply"). */
LDR_MUST_USE ldr_code ldr_registry_begin_write(ldr_registry *reg, ldr_err *err);
LDR_MUST_USE ldr_code ldr_registry_commit(ldr_registry *reg, ldr_err *err);
/** Rolls back an open write transaction; no-op when none is open. */
void ldr_registry_rollback(ldr_registry *reg);

/** Latest version number of the project (0 when it has none). */
LDR_MUST_USE ldr_code ldr_registry_current_version(ldr_registry *reg, const char *project,
                                                   int64_t *out, ldr_err *err);
/** Loads the project's objects as of `version` (0 = current) into out (initialised by the
 * caller), sorted. A version that does not exist gives LDR_ENOTFOUND. */
LDR_MUST_USE ldr_code ldr_registry_load(ldr_registry *reg, const char *project, int64_t version,
                                        ldr_objset *out, ldr_err *err);
/** Inside a write transaction: applies the changeset (ADD/MODIFY/REMOVE of objects),
 * records version current+1 with `now` and `summary`, and history rows. An empty
 * changeset is refused with LDR_EINVAL (callers skip the write). */
LDR_MUST_USE ldr_code ldr_registry_write_version(ldr_registry *reg, const char *project,
                                                 const ldr_changeset *cs, ldr_ts now,
                                                 const char *summary, int64_t *out_version,
                                                 ldr_err *err);
/** All versions of the project, oldest first; strings and array from a. */
LDR_MUST_USE ldr_code ldr_registry_versions(ldr_registry *reg, const char *project, ldr_arena *a,
                                            ldr_regversion **out, size_t *out_n, ldr_err *err);
/** Inside a write transaction: deletes every row of the project, history included. */
LDR_MUST_USE ldr_code ldr_registry_purge_project(ldr_registry *reg, const char *project,
                                                 ldr_err *err);

/** Records a materialized interval (its own transaction; not a registry version). */
LDR_MUST_USE ldr_code ldr_registry_record_materialization(ldr_registry *reg, const char *project,
                                                          const ldr_materialization *m,
                                                          ldr_err *err);
/** Every recorded interval of the project, by view then time recorded; from a. */
LDR_MUST_USE ldr_code ldr_registry_materializations(ldr_registry *reg, const char *project,
                                                    ldr_arena *a, ldr_materialization **out,
                                                    size_t *out_n, ldr_err *err);

#endif /* LDR_REGISTRY_REGISTRY_H */
