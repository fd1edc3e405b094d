/*
 * serving.h -- moving features into the online store and serving them out of it.
 *
 * materialize.c: the batch -> online path. For each online view, the source rows with
 * start <= event time <= end are scanned (row groups outside pruned), the latest row per
 * entity key is kept (event time, then created time, then the last in source order: the
 * point-in-time rule, so online values equal get-historical-features at T = end), and
 * written to the online store in batched transactions (newer wins there too). Only then is
 * the interval recorded in the registry: a crash leaves old or new rows, never torn ones,
 * and an unrecorded interval that a rerun completes. Views run in parallel; a view being
 * materialized by another process is refused (an advisory file lock).
 *
 * online_get.c: get-online-features. A request names features (or a feature service)
 * and gives entity rows column by column; each projection's join keys are taken from the
 * request (through join_key_map), coerced to the entity's declared type and serialized
 * (Feast's v3 key); distinct keys are read once per view and the answers fanned out to
 * every row. The response is Feast's column-oriented shape: join keys first (PRESENT),
 * then features in request order with per-row value, status and event time.
 *
 * Ownership: responses live in the caller's arena; nothing else is allocated per request.
 * Thread-safety: reentrant; the defs are an immutable snapshot; an online store handle is
 * used by one thread at a time.
 */
#ifndef LDR_SERVING_SERVING_H
#define LDR_SERVING_SERVING_H

#include "online/online.h"
#include "registry/registry.h"
#include "repo/repo.h"

/* ---- statuses ---------------------------------------------------------------------------- */

/** Feast's FieldStatus numbers. */
typedef enum ldr_fstatus {
    LDR_STATUS_INVALID = 0,
    LDR_STATUS_PRESENT = 1,
    LDR_STATUS_NULL_VALUE = 2,
    LDR_STATUS_NOT_FOUND = 3,
    LDR_STATUS_OUTSIDE_MAX_AGE = 4,
} ldr_fstatus;

/** "PRESENT", "NOT_FOUND", ... Static. */
const char *ldr_fstatus_name(ldr_fstatus s);

/* ---- views as the online store sees them ------------------------------------------------- */

/** A view's features (schema minus its join keys), in schema order, from a. */
void ldr_serving_online_view(const ldr_defs *defs, const char *project, const ldr_view *v,
                             ldr_arena *a, ldr_online_view *out);

/* ---- materialization --------------------------------------------------------------------- */

/** Progress of one view, for progress lines and summaries. Counters only grow. */
typedef struct ldr_mat_progress {
    const char *view;
    ldr_ts start, end;     /* the interval (start LDR_TS_NONE: from the beginning) */
    uint64_t rows_read;    /* source rows scanned so far */
    uint64_t chunks_done;  /* source chunks (row groups, CSV files) read, both passes */
    uint64_t chunks_total; /* chunks to read in both passes (0 until known) */
    uint64_t keys;         /* distinct entity keys found */
    uint64_t rows_written; /* online rows inserted or replaced */
    int state;             /* 0 waiting, 1 reading, 2 writing, 3 done, 4 failed */
} ldr_mat_progress;

typedef struct ldr_mat_request {
    ldr_ts start; /* ignored when incremental */
    ldr_ts end;
    bool incremental;         /* start = latest recorded end (else end - ttl, or the beginning) */
    const char *const *views; /* NULL: every online view */
    size_t n_views;
    int threads; /* views materialized at once; <= 0: one per core */
    /* Called from the calling thread about every 200 ms while views run, and once at the
     * end; p has one entry per view. May be NULL. */
    void (*progress)(void *ctx, const ldr_mat_progress *p, size_t n, bool final);
    void *progress_ctx;
} ldr_mat_request;

/**
 * Materializes the views. Views that fail do not stop the others; the first error is
 * returned (naming the view) after every view finished, and only views that succeeded
 * have their interval recorded. Errors: LDR_ENOTFOUND unknown view; LDR_EINVAL a view
 * that is not online, start after end; LDR_EBUSY another materialization of the view
 * runs; data and store errors.
 */
LDR_MUST_USE ldr_code ldr_serving_materialize(const ldr_config *cfg, const ldr_defs *defs,
                                              ldr_registry *reg, const ldr_mat_request *req,
                                              ldr_err *err);

/* ---- online retrieval -------------------------------------------------------------------- */

/**
 * The part of a request that depends only on its features and the definitions: the
 * resolved plan, each projection's view as the store sees it and the features it reads.
 * A server prepares a feature list once per snapshot and reuses it (src/server keeps a
 * small cache per worker); ldr_serving_get_online prepares one per call otherwise.
 * Borrows defs (and project): valid while they are.
 */
typedef struct ldr_online_prep_proj {
    ldr_online_view view; /* the store's view: features minus join keys */
    const char **jk;      /* the view's join keys (n_jk = view entities) */
    size_t n_jk;
    const char **fnames; /* the features read, in output order */
    ldr_type *ftypes;
    size_t *fcol; /* plan column of fnames[f] */
    size_t nf;
} ldr_online_prep_proj;

typedef struct ldr_online_prep {
    ldr_fplan plan;
    ldr_online_prep_proj *projs; /* plan.n_projs */
    const char **view_of;        /* plan.n_cols: the view name of each feature column */
} ldr_online_prep;

/** Prepares features (or a feature service) for defs, all from a. Errors as
 * ldr_fplan_build. */
LDR_MUST_USE ldr_code ldr_serving_prepare(const ldr_defs *defs, const char *project,
                                          const char *const *features, size_t n_features,
                                          const char *feature_service, bool full_feature_names,
                                          ldr_arena *a, ldr_online_prep *out, ldr_err *err);

typedef struct ldr_online_request {
    /* Prepared features (ldr_serving_prepare on the same defs and feature list): when set,
     * features/feature_service/full_feature_names are not looked at. */
    const ldr_online_prep *prep;
    const char *const *features; /* "view:feature" */
    size_t n_features;
    const char *feature_service; /* instead of features */
    bool full_feature_names;
    /* Entity rows, column-oriented: n_entity_cols columns of n_rows values. Columns that
     * are no requested view's join key are ignored. Values of any scalar type; they are
     * coerced to the entity's declared type (5 -> "5" for a String entity). */
    const char *const *entity_names;
    const ldr_value *const *entity_values;
    size_t n_entity_cols;
    size_t n_rows;
} ldr_online_request;

typedef struct ldr_online_response {
    size_t n_cols, n_rows;
    const char **names; /* join keys, then features in request order */
    ldr_value **values; /* [col][row] */
    uint8_t **status;   /* [col][row], ldr_fstatus */
    ldr_ts **event_ts;  /* [col][row]; LDR_TS_NONE for join keys and rows not found */
} ldr_online_response;

/**
 * Online retrieval at time `now` (for OUTSIDE_MAX_AGE). Everything in *out comes from a.
 * Errors: LDR_ENOTFOUND unknown view, feature or service (named, with a suggestion);
 * LDR_EINVAL a missing join key ("missing join key values for keys: [..]; provided:
 * [..]"), a value that does not convert to its entity type, name collisions, an empty
 * request; store errors.
 */
LDR_MUST_USE ldr_code ldr_serving_get_online(const ldr_defs *defs, const char *project,
                                             ldr_online_store *os, const ldr_online_request *req,
                                             ldr_ts now, ldr_arena *a, ldr_online_response *out,
                                             ldr_err *err);

/** Appends the response as Feast's column-oriented JSON (json_out.c). LDR_ELIMIT from out. */
LDR_MUST_USE ldr_code ldr_serving_response_json(const ldr_online_response *r, ldr_buf *out,
                                                ldr_err *err);

#endif /* LDR_SERVING_SERVING_H */
