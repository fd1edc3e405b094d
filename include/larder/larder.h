/*
 * larder.h -- the public C API of liblarder.
 *
 * Larder is a feature store: a repository of YAML definitions (entities, data sources,
 * feature views, feature services) is validated, diffed against a versioned registry and
 * applied to it; later modules serve and join features through the same handle.
 *
 * Conventions used throughout:
 *   - Fallible functions return ldr_code and take `ldr_err *err` last (err may be NULL).
 *     Constructors return a pointer, or NULL with err filled in.
 *   - Timestamps are int64 microseconds since the UTC epoch (ldr_ts).
 *   - Objects returned by ldr_store_* accessors are borrowed from an immutable registry
 *     snapshot: valid until the snapshot is released (ldr_snapshot_unref) or, for the
 *     store's own current snapshot, until ldr_store_close / ldr_store_refresh.
 *   - Thread-safety: an ldr_store handle is used by one thread at a time; snapshots are
 *     immutable and may be shared across threads once referenced.
 */
#ifndef LDR_LARDER_H
#define LDR_LARDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LDR_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define LDR_MUST_USE          __attribute__((warn_unused_result))
#define LDR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LDR_MUST_USE
#define LDR_PRINTF(fmt, args)
#endif

/* ---- Errors -------------------------------------------------------------------------- */

/** Error codes. Stable: the CLI maps them to exit codes and the HTTP edge to statuses. */
typedef enum ldr_code {
    LDR_OK = 0,
    LDR_ENOMEM,       /**< out of memory (only where a size came from outside) */
    LDR_EINVAL,       /**< invalid argument or input */
    LDR_EIO,          /**< operating-system I/O failure; sys_errno is set */
    LDR_ENOTFOUND,    /**< a named object or file does not exist */
    LDR_ECORRUPT,     /**< stored or supplied bytes are malformed */
    LDR_ELIMIT,       /**< a size or count exceeds a configured limit */
    LDR_EBACKEND,     /**< a backend (SQLite, Redis, ...) reported a failure */
    LDR_EBUSY,        /**< the resource is locked by someone else */
    LDR_ECONFIG,      /**< the feature repository or its configuration is invalid */
    LDR_EUNSUPPORTED, /**< a valid request for something Larder does not do (yet) */
    LDR_CODE_COUNT
} ldr_code;

/** The one error type: a code, the errno that caused it (0 if none) and a message with
 * context. Filling it never allocates. */
typedef struct ldr_err {
    ldr_code code;
    int sys_errno;
    char msg[256];
} ldr_err;

/** Returns a static, lower-case name for a code ("invalid argument"); never free. */
const char *ldr_code_name(ldr_code code);

/* ---- Time ---------------------------------------------------------------------------- */

/** Microseconds since 1970-01-01T00:00:00Z. */
typedef int64_t ldr_ts;
/** A duration in microseconds; 0 means "unbounded" where a TTL is meant. */
typedef int64_t ldr_duration;

#define LDR_TS_NONE INT64_MIN /**< "no timestamp" marker */

/* ---- Value types --------------------------------------------------------------------- */

/** Value types, numbered as Feast's ValueType enum so they travel unchanged on the wire.
 * LDR_TYPE_LIST_OFFSET added to a scalar gives its Array(...) type. */
typedef enum ldr_type {
    LDR_TYPE_INVALID = 0,
    LDR_TYPE_BYTES = 1,
    LDR_TYPE_STRING = 2,
    LDR_TYPE_INT32 = 3,
    LDR_TYPE_INT64 = 4,
    LDR_TYPE_FLOAT64 = 5, /* Feast DOUBLE */
    LDR_TYPE_FLOAT32 = 6, /* Feast FLOAT */
    LDR_TYPE_BOOL = 7,
    LDR_TYPE_UNIX_TIMESTAMP = 8,
    LDR_TYPE_BYTES_LIST = 11,
    LDR_TYPE_STRING_LIST = 12,
    LDR_TYPE_INT32_LIST = 13,
    LDR_TYPE_INT64_LIST = 14,
    LDR_TYPE_FLOAT64_LIST = 15,
    LDR_TYPE_FLOAT32_LIST = 16,
    LDR_TYPE_BOOL_LIST = 17,
    LDR_TYPE_UNIX_TIMESTAMP_LIST = 18,
} ldr_type;

#define LDR_TYPE_LIST_OFFSET 10

/* ---- Registry objects ---------------------------------------------------------------- */
/* Plain read-only data, borrowed from a snapshot. Strings are NUL-terminated and never
 * NULL (an absent optional string is ""). */

/** A source location in a definition file (line and column are 1-based; 0 = unknown). */
typedef struct ldr_loc {
    const char *file;
    uint32_t line;
    uint32_t col;
} ldr_loc;

typedef struct ldr_kv {
    const char *key;
    const char *value;
} ldr_kv;

typedef struct ldr_kvs {
    const ldr_kv *items; /* sorted by key */
    size_t n;
} ldr_kvs;

typedef struct ldr_field {
    const char *name;
    ldr_type type;
    const char *description;
    ldr_kvs tags;
} ldr_field;

typedef struct ldr_entity {
    const char *name;
    const char *join_key;
    ldr_type value_type; /* LDR_TYPE_INVALID when not declared */
    const char *description;
    const char *owner;
    ldr_kvs tags;
    ldr_loc loc;
} ldr_entity;

typedef enum ldr_source_kind {
    LDR_SOURCE_FILE = 1,
    LDR_SOURCE_PUSH,
    LDR_SOURCE_REQUEST,
} ldr_source_kind;

typedef enum ldr_file_format {
    LDR_FORMAT_PARQUET = 1,
    LDR_FORMAT_CSV,
} ldr_file_format;

typedef struct ldr_source {
    const char *name;
    ldr_source_kind kind;
    /* file sources */
    const char *path; /* as written, relative to the repository */
    ldr_file_format format;
    const char *timestamp_field;
    const char *created_timestamp_column; /* "" when absent */
    ldr_kvs field_mapping;                /* source column -> view column */
    /* push sources */
    const char *batch_source;
    /* request sources */
    const ldr_field *schema;
    size_t n_schema;
    const char *description;
    const char *owner;
    ldr_kvs tags;
    ldr_loc loc;
} ldr_source;

typedef struct ldr_view {
    const char *name;
    const char *const *entities; /* entity names, as declared */
    size_t n_entities;
    ldr_duration ttl; /* 0 = unbounded */
    const char *source;
    const ldr_field *schema; /* as declared: features and (optionally) entity columns */
    size_t n_schema;
    bool online;
    bool offline;
    const char *description;
    const char *owner;
    ldr_kvs tags;
    ldr_loc loc;
} ldr_view;

typedef struct ldr_projection {
    const char *view;
    const char *const *features; /* NULL with n_features 0 means "every feature" */
    size_t n_features;
    const char *alias;    /* "" when none */
    ldr_kvs join_key_map; /* view join key -> request column */
} ldr_projection;

typedef struct ldr_service {
    const char *name;
    const ldr_projection *projections;
    size_t n_projections;
    const char *description;
    const char *owner;
    ldr_kvs tags;
    ldr_loc loc;
} ldr_service;

/* ---- Store handle -------------------------------------------------------------------- */

typedef struct ldr_store ldr_store;
typedef struct ldr_snapshot ldr_snapshot;

typedef struct ldr_store_opts {
    /** Milliseconds to wait for a registry lock held by another writer. */
    int busy_timeout_ms;
} ldr_store_opts;

/** Returns the default options. */
ldr_store_opts ldr_store_opts_default(void);

/**
 * Opens the feature repository in `repo_dir` (reads feature_store.yaml, opens the
 * registry it names, creating it if absent, and loads the current registry snapshot).
 * Definition files are not read here: see ldr_store_plan / ldr_store_apply.
 * Returns: caller owns; free with ldr_store_close. NULL with err set on failure.
 */
ldr_store *ldr_store_open(const char *repo_dir, const ldr_store_opts *opts, ldr_err *err);

/** Closes the store and releases its snapshot reference. NULL is a no-op. */
void ldr_store_close(ldr_store *store);

/** The project name from feature_store.yaml. Borrowed; valid until ldr_store_close. */
const char *ldr_store_project(const ldr_store *store);

/** Reloads the registry snapshot if the registry changed. */
LDR_MUST_USE ldr_code ldr_store_refresh(ldr_store *store, ldr_err *err);

/** The current snapshot, with a new reference. Caller releases it with ldr_snapshot_unref. */
ldr_snapshot *ldr_store_snapshot(ldr_store *store);

/** Takes another reference to a snapshot; thread-safe. */
ldr_snapshot *ldr_snapshot_ref(ldr_snapshot *snap);
/** Drops a reference; the last one frees the snapshot. NULL is a no-op. Thread-safe. */
void ldr_snapshot_unref(ldr_snapshot *snap);

/** Registry version number the snapshot was read at (0 = empty registry). */
int64_t ldr_snapshot_version(const ldr_snapshot *snap);

/* Object lookup in a snapshot. Arrays are sorted by name. All pointers are borrowed from
 * the snapshot. `find` returns NULL when no object has that name. */
const ldr_entity *ldr_snapshot_entities(const ldr_snapshot *snap, size_t *out_n);
const ldr_source *ldr_snapshot_sources(const ldr_snapshot *snap, size_t *out_n);
const ldr_view *ldr_snapshot_views(const ldr_snapshot *snap, size_t *out_n);
const ldr_service *ldr_snapshot_services(const ldr_snapshot *snap, size_t *out_n);
const ldr_entity *ldr_snapshot_find_entity(const ldr_snapshot *snap, const char *name);
const ldr_source *ldr_snapshot_find_source(const ldr_snapshot *snap, const char *name);
const ldr_view *ldr_snapshot_find_view(const ldr_snapshot *snap, const char *name);
const ldr_service *ldr_snapshot_find_service(const ldr_snapshot *snap, const char *name);

/* ---- Plan / apply -------------------------------------------------------------------- */

/** The difference between the repository's definitions and the registry. Opaque. */
typedef struct ldr_plan ldr_plan;

/**
 * Reads and validates the repository's definition files and diffs them against the
 * registry. On validation failure returns LDR_ECONFIG; every problem found is available
 * through ldr_store_diagnostics (err holds the first one).
 * Returns: *out_plan is caller-owned; free with ldr_plan_free.
 */
LDR_MUST_USE ldr_code ldr_store_plan(ldr_store *store, ldr_plan **out_plan, ldr_err *err);

/**
 * Validates, diffs and applies the repository to the registry in one transaction,
 * creating a new registry version when something changed and calling the infra hook
 * for added and removed views. *out_plan (optional) receives what was applied.
 */
LDR_MUST_USE ldr_code ldr_store_apply(ldr_store *store, ldr_plan **out_plan, ldr_err *err);

/** Removes the project's infrastructure and every registry row of the project. */
LDR_MUST_USE ldr_code ldr_store_teardown(ldr_store *store, ldr_err *err);

/** Number of validation messages kept from the last plan/apply (at most 1000), and message
 * i ("file:line:column: message"). Borrowed; valid until the next plan/apply/close.
 * ldr_store_problems_total counts every problem found, including those not kept. */
size_t ldr_store_diagnostics_count(const ldr_store *store);
size_t ldr_store_problems_total(const ldr_store *store);
const char *ldr_store_diagnostic(const ldr_store *store, size_t i);

/** Counts of objects to add, change and remove. */
void ldr_plan_counts(const ldr_plan *plan, size_t *out_add, size_t *out_change, size_t *out_remove);
/** Registry version the plan was computed against, and the version it created (apply
 * with changes) or 0. */
int64_t ldr_plan_base_version(const ldr_plan *plan);
int64_t ldr_plan_new_version(const ldr_plan *plan);
/** Human-readable rendering of the plan. Borrowed; valid until ldr_plan_free. */
const char *ldr_plan_text(const ldr_plan *plan);
/** Frees a plan. NULL is a no-op. */
void ldr_plan_free(ldr_plan *plan);

/* ---- Historical retrieval ------------------------------------------------------------ */

/** A result table (columns of values). Opaque; read with the ldr_table_* accessors. */
typedef struct ldr_table ldr_table;

typedef struct ldr_hist_opts {
    const char *entities_path;   /**< entity rows (.csv or .parquet); NULL: non-entity mode */
    const char *const *features; /**< "view:feature" references ... */
    size_t n_features;
    const char *feature_service;      /**< ... or a feature service name */
    bool full_feature_names;          /**< name columns "<view or alias>__<feature>" */
    bool filter_by_created_timestamp; /**< ignore rows created after the entity time */
    ldr_ts start_date;                /**< non-entity mode: source rows with start <= ts <= end */
    ldr_ts end_date;
    int threads; /**< <= 0: one per core */
    /** Bytes the retrieval should stay within (0: no limit). Views whose join keys would
     * not fit are partitioned by key hash into temporary Parquet files and joined one
     * partition at a time; the result is the same. Entity mode only. */
    size_t memory_limit;
    const char *spill_dir; /**< where spill files go; NULL: $TMPDIR, else /tmp */
} ldr_hist_opts;

/** Default options: no features, entity mode, threads = one per core. */
ldr_hist_opts ldr_hist_opts_default(void);

/**
 * Point-in-time correct training data from the store's current snapshot: for every entity
 * row at time T and every requested view, the values of the source row with the greatest
 * event timestamp in [T - ttl, T] (then greatest created timestamp, then last in the
 * source), or nulls. Every entity row is kept, in order, with all its columns, followed by
 * the features in request order. *out is caller-owned; free with ldr_table_free.
 */
LDR_MUST_USE ldr_code ldr_store_get_historical_features(ldr_store *store, const ldr_hist_opts *opts,
                                                        ldr_table **out, ldr_err *err);

size_t ldr_table_num_rows(const ldr_table *t);
size_t ldr_table_num_columns(const ldr_table *t);
/** Column name; borrowed, valid until ldr_table_free. */
const char *ldr_table_column_name(const ldr_table *t, size_t col);
ldr_type ldr_table_column_type(const ldr_table *t, size_t col);
bool ldr_table_is_null(const ldr_table *t, size_t col, size_t row);
/** Int32, Int64, Bool (0/1) and UnixTimestamp (microseconds) cells. */
int64_t ldr_table_get_int(const ldr_table *t, size_t col, size_t row);
/** Float32 and Float64 cells. */
double ldr_table_get_double(const ldr_table *t, size_t col, size_t row);
/** String and Bytes cells: pointer (borrowed, valid until ldr_table_free) and length. */
const char *ldr_table_get_bytes(const ldr_table *t, size_t col, size_t row, size_t *out_len);
/** Writes the table to a file by extension: .csv, .parquet or .jsonl (atomically). */
LDR_MUST_USE ldr_code ldr_table_write(const ldr_table *t, const char *path, ldr_err *err);
/** Frees the table. NULL is a no-op. */
void ldr_table_free(ldr_table *t);

/* ---- Online store: materialization and online retrieval ------------------------------------ */

typedef struct ldr_materialize_opts {
    ldr_ts start; /**< source rows with start <= event time <= end; ignored when incremental */
    ldr_ts end;
    bool incremental; /**< start where the last run of each view ended (else end - ttl, or the
                           beginning of the data for ttl 0) */
    const char *const *views; /**< NULL: every online view */
    size_t n_views;
    int threads; /**< views at once; <= 0: one per core */
} ldr_materialize_opts;

/** Defaults: no interval, every online view, one thread per core. */
ldr_materialize_opts ldr_materialize_opts_default(void);

/**
 * Writes the latest row per entity key of each view's source rows in the interval to the
 * online store (newer wins), then records the interval in the registry. Crash-safe and
 * idempotent; a view being materialized by another process is refused with LDR_EBUSY.
 */
LDR_MUST_USE ldr_code ldr_store_materialize(ldr_store *store, const ldr_materialize_opts *opts,
                                            ldr_err *err);

/** Feast's feature statuses. */
typedef enum ldr_feature_status {
    LDR_FEATURE_PRESENT = 1,
    LDR_FEATURE_NULL_VALUE = 2,
    LDR_FEATURE_NOT_FOUND = 3,
    LDR_FEATURE_OUTSIDE_MAX_AGE = 4,
} ldr_feature_status;

typedef struct ldr_online_opts {
    const char *const *features; /**< "view:feature" references ... */
    size_t n_features;
    const char *feature_service; /**< ... or a feature service */
    bool full_feature_names;
    const char *const *entity_keys; /**< request columns (join keys) */
    size_t n_entity_keys;
    /** n_rows x n_entity_keys values as text, row-major, converted to each entity's declared
     * type ("5" for an Int64 key is 5); NULL entries are nulls (the row matches nothing) */
    const char *const *entity_values;
    size_t n_rows;
} ldr_online_opts;

typedef struct ldr_online_result ldr_online_result;

/** Online retrieval from the current snapshot: join keys first, then the features in
 * request order; every cell with a status and an event time. *out is caller-owned. */
LDR_MUST_USE ldr_code ldr_store_get_online_features(ldr_store *store, const ldr_online_opts *opts,
                                                    ldr_online_result **out, ldr_err *err);
size_t ldr_online_result_num_rows(const ldr_online_result *r);
size_t ldr_online_result_num_columns(const ldr_online_result *r);
const char *ldr_online_result_column_name(const ldr_online_result *r, size_t col);
ldr_feature_status ldr_online_result_status(const ldr_online_result *r, size_t col, size_t row);
/** Event time of the row the value came from; LDR_TS_NONE for join keys and not found. */
ldr_ts ldr_online_result_event_time(const ldr_online_result *r, size_t col, size_t row);
ldr_type ldr_online_result_type(const ldr_online_result *r, size_t col, size_t row);
bool ldr_online_result_is_null(const ldr_online_result *r, size_t col, size_t row);
/** Int32, Int64, Bool (0/1) and UnixTimestamp (microseconds) cells. */
int64_t ldr_online_result_get_int(const ldr_online_result *r, size_t col, size_t row);
/** Float32 and Float64 cells. */
double ldr_online_result_get_double(const ldr_online_result *r, size_t col, size_t row);
/** String and Bytes cells (borrowed until ldr_online_result_free). */
const char *ldr_online_result_get_bytes(const ldr_online_result *r, size_t col, size_t row,
                                        size_t *out_len);
/** Feast's column-oriented JSON (NUL-terminated; borrowed until ldr_online_result_free). */
LDR_MUST_USE ldr_code ldr_online_result_json(ldr_online_result *r, const char **out_json,
                                             ldr_err *err);
void ldr_online_result_free(ldr_online_result *r);

#ifdef __cplusplus
}
#endif
#endif /* LDR_LARDER_H */
