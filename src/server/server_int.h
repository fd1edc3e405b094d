/*
 * server_int.h -- structures shared by the files of src/server/ (not by anyone else).
 *
 * ldr_srv is the process-wide state: options, the configuration, the published registry
 * snapshot (swapped by the reload thread under `mu`, announced through `snap_gen`), the
 * set of views being materialized and the shared metrics. ldr_srv_worker is one event
 * loop's state: its online-store handle, request arena, response buffer, cached snapshot
 * reference and metrics; only its own thread touches it, except `metrics`, which the
 * /metrics handler of any worker reads under the metrics mutex.
 */
#ifndef LDR_SERVER_SERVER_INT_H
#define LDR_SERVER_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "server/server.h"

/* ---- metrics (metrics.c) ------------------------------------------------------------------ */

/* HTTP statuses counted by their own label; anything else counts as "other". */
#define LDR_SRV_N_STATUS 15
int ldr__srv_status_index(int status);

#define LDR_SRV_MAX_BUCKETS 16

typedef struct ldr_srv_hist {
    uint64_t buckets[LDR_SRV_MAX_BUCKETS]; /* non-cumulative counts per bucket */
    uint64_t count;
    double sum;
} ldr_srv_hist;

/* One labelled series group: a key (label values joined by '\x1f') -> counters. */
typedef struct ldr_srv_series {
    char *key;
    uint64_t v[5];
    ldr_srv_hist hist;
} ldr_srv_series;

typedef struct ldr_srv_table {
    ldr_map index; /* key -> ldr_srv_series* */
    ldr_srv_series **items;
    size_t n, cap;
} ldr_srv_table;

void ldr__srv_table_init(ldr_srv_table *t);
void ldr__srv_table_fini(ldr_srv_table *t);
/** The series of key (created zeroed on first use). */
ldr_srv_series *ldr__srv_table_get(ldr_srv_table *t, const char *key);

/* Per-worker metrics. `mu` protects everything: the worker writes once per request,
 * /metrics reads. */
typedef struct ldr_srv_metrics {
    pthread_mutex_t mu;
    uint64_t requests[LDR_EP_COUNT][LDR_SRV_N_STATUS];
    ldr_srv_hist latency[LDR_EP_COUNT][LDR_SRV_N_STATUS];
    ldr_srv_hist entities;     /* entity rows per get-online-features */
    ldr_srv_hist online_read;  /* seconds in ldr_serving_get_online */
    ldr_srv_table view_status; /* view -> v[status 1..4] */
    ldr_srv_table push;        /* source\x1fmode -> v[0] requests, v[1] rows */
    uint64_t connections;      /* open now */
    uint64_t accepted;
} ldr_srv_metrics;

void ldr__srv_metrics_init(ldr_srv_metrics *m);
void ldr__srv_metrics_fini(ldr_srv_metrics *m);

typedef enum ldr_srv_hist_kind {
    LDR_H_LATENCY,
    LDR_H_ENTITIES,
    LDR_H_MATERIALIZE
} ldr_srv_hist_kind;
void ldr__srv_hist_add(ldr_srv_hist *h, ldr_srv_hist_kind kind, double v);

/* ---- shared state ------------------------------------------------------------------------- */

typedef struct ldr_srv_worker ldr_srv_worker;

typedef struct ldr_srv {
    ldr_srv_opts opts;
    ldr_store *store;          /* owned by the reload thread (registry handle); cfg is shared */
    const ldr_config *cfg;     /* read-only after start */
    pthread_mutex_t mu;        /* protects snap, busy, freshness, mat_* and jobs_running */
    pthread_cond_t cond;       /* signalled when a job ends and on stop */
    ldr_snapshot *snap;        /* the published snapshot */
    _Atomic uint64_t snap_gen; /* bumped on every publish */
    _Atomic int64_t snap_version;
    _Atomic bool registry_ok; /* the last registry read worked (GET /health) */
    _Atomic uint64_t reloads;
    _Atomic bool stopping;
    ldr_srv_table busy;       /* view -> v[0] = 1 while a job of this process materializes it */
    ldr_srv_table freshness;  /* view -> v[0] = last materialized end (µs) */
    ldr_srv_table mat_result; /* view\x1fstatus -> v[0] count; view -> hist (duration) */
    size_t jobs_running;
    ldr_srv_worker **workers;
    size_t n_workers;
    ldr_ts started;
} ldr_srv;

/* Prepared feature lists of one worker (handlers.c): a request whose feature list (or
 * service) and full_feature_names were seen on the same snapshot reuses the plan instead
 * of resolving names again. Open addressing over a binary key; emptied when the worker's
 * snapshot changes or when it holds LDR_SRV_PREP_MAX entries. */
#define LDR_SRV_PREP_SLOTS 256
#define LDR_SRV_PREP_MAX   128
typedef struct ldr_srv_prep_entry {
    const char *key; /* NULL: empty slot; in the cache's arena */
    size_t key_len;
    uint64_t hash;
    ldr_online_prep prep;
} ldr_srv_prep_entry;

typedef struct ldr_srv_prep_cache {
    ldr_arena arena; /* keys and plans */
    uint64_t snap_gen;
    size_t n;
    ldr_srv_prep_entry slots[LDR_SRV_PREP_SLOTS];
} ldr_srv_prep_cache;

void ldr__srv_prep_cache_init(ldr_srv_prep_cache *c);
void ldr__srv_prep_cache_fini(ldr_srv_prep_cache *c);

struct ldr_srv_worker {
    ldr_srv *srv;
    unsigned id;
    ldr_online_store *os; /* this thread's handle */
    ldr_arena arena;      /* reset per request */
    ldr_buf out;          /* response body, reused */
    ldr_snapshot *snap;   /* a reference held between requests */
    uint64_t snap_gen;
    uint64_t seq; /* requests served, for file names */
    ldr_srv_metrics metrics;
    ldr_srv_prep_cache *prep; /* owned */
    void *http;               /* http.c's per-worker state */
};

/** Makes the worker's snapshot the published one (a mutex only when it changed). */
void ldr__srv_worker_sync(ldr_srv_worker *w);

/* ---- handlers (handlers.c) ------------------------------------------------------------------ */

typedef struct ldr_srv_job ldr_srv_job;

typedef struct ldr_srv_reply {
    int status;
    const char *content_type; /* static */
    ldr_buf *body;            /* the worker's out buffer */
    ldr_srv_job *job;         /* set: the answer comes when this job ends (sync materialize) */
    size_t n_entities;        /* for metrics */
} ldr_srv_reply;

/**
 * Serves one request: method "GET"/"POST"/..., path without query, query without '?'.
 * Fills r (status, body in w->out). Resets w->arena first. When r->job is set, the
 * caller must start it with ldr__srv_job_start after setting its completion callback;
 * the reply is then in the job.
 */
void ldr__srv_handle(ldr_srv_worker *w, const char *method, size_t method_len, const char *path,
                     size_t path_len, const char *query, size_t query_len, const char *body,
                     size_t body_len, ldr_srv_reply *r);

/** Writes a JSON error reply. */
void ldr__srv_reply_error(ldr_srv_reply *r, int status, const char *type, const char *msg);

/* ---- materialization jobs (server.c) -------------------------------------------------------- */

struct ldr_srv_job {
    ldr_srv *srv;
    ldr_arena arena; /* owns views and the request */
    ldr_mat_request req;
    const char **views; /* the views marked busy (all targets, resolved) */
    size_t n_views;
    bool async;
    /* Called on the job thread when a synchronous job ends; the callee then owns the job
     * and frees it with ldr__srv_job_free. NULL for async jobs, which free themselves. */
    void (*done)(ldr_srv_job *job);
    void *done_ctx;
    int status; /* reply of a synchronous job */
    ldr_buf body;
    ldr_ts t0;
};

/** Starts the job thread. On failure to start, completes at once with a 500. */
void ldr__srv_job_start(ldr_srv_job *job);
void ldr__srv_job_free(ldr_srv_job *job);

/* ---- push (push.c) ----------------------------------------------------------------------------
 */

/**
 * Writes a pushed frame for the views `views` (n of them) to the online store (when
 * online) and/or appends it to `batch` as a new file (when offline). Errors: LDR_EINVAL
 * for a frame that does not fit the views (missing, unknown or mistyped columns; names
 * them), LDR_EUNSUPPORTED when the batch source cannot take a new file, store errors.
 * *rows receives the rows written online (or appended offline).
 */
LDR_MUST_USE ldr_code ldr__srv_push(ldr_srv_worker *w, const ldr_defs *defs,
                                    const ldr_view *const *views, size_t n, const ldr_source *batch,
                                    const ldr_srv_frame *df, bool online, bool offline,
                                    size_t *rows, ldr_err *err);

/* ---- metrics rendering (metrics.c) ------------------------------------------------------------
 */

/** Appends every metric in Prometheus text format 0.0.4. */
LDR_MUST_USE ldr_code ldr__srv_metrics_render(ldr_srv *srv, ldr_buf *out, ldr_err *err);

#endif /* LDR_SERVER_SERVER_INT_H */
