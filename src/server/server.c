/*
 * server.c -- the server's shared state and life cycle: startup, the registry snapshot
 * and its hot reload, materialization jobs, signals and draining.
 *
 * The main thread owns the ldr_store (and so the registry handle). After starting the
 * workers it waits for SIGTERM/SIGINT with a timeout of --registry-ttl; each timeout it
 * refreshes the store and, when the registry version changed, publishes the new snapshot
 * under srv->mu and bumps srv->snap_gen. Workers compare the generation before each
 * request (one atomic load) and take the new snapshot between requests, so a request
 * runs on one snapshot from start to end and an apply never fails one in flight.
 *
 * Materialization jobs run on their own threads with their own store (registry handle)
 * and online-store handles. Views being materialized by this process are in srv->busy,
 * so a second request for one gets 409 at once, before any thread starts; another
 * process holding a view's lock (serving/materialize.c) also gives 409.
 */
#include "server/server_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/http.h"

ldr_srv_limits ldr_srv_limits_default(void)
{
    ldr_srv_limits l = {.max_body = 1u << 20,
                        .max_header = 16u << 10,
                        .max_entities = 10000,
                        .max_features = 1000,
                        .max_depth = 32,
                        .read_timeout_ms = 10000,
                        .max_connections = 4096};
    return l;
}

ldr_srv_opts ldr_srv_opts_default(void)
{
    ldr_srv_opts o = {.repo_dir = ".",
                      .host = "127.0.0.1",
                      .port = 6566,
                      .registry_ttl = 5 * INT64_C(1000000),
                      .drain_timeout_ms = 30000,
                      .limits = ldr_srv_limits_default()};
    return o;
}

/* ---- snapshots ------------------------------------------------------------------------------- */

void ldr__srv_worker_sync(ldr_srv_worker *w)
{
    ldr_srv *srv = w->srv;
    if (atomic_load_explicit(&srv->snap_gen, memory_order_acquire) == w->snap_gen)
        return;
    pthread_mutex_lock(&srv->mu);
    ldr_snapshot *s = ldr_snapshot_ref(srv->snap);
    uint64_t g = atomic_load(&srv->snap_gen);
    pthread_mutex_unlock(&srv->mu);
    ldr_snapshot_unref(w->snap);
    w->snap = s;
    w->snap_gen = g;
}

/* Reads every view's latest materialized end into srv->freshness. */
static void load_freshness(ldr_srv *srv)
{
    ldr_registry *reg = ldr__store_registry(srv->store);
    if (!reg)
        return;
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_materialization *m = NULL;
    size_t n = 0;
    ldr_err e;
    if (ldr_registry_materializations(reg, srv->cfg->project, &a, &m, &n, &e) == LDR_OK) {
        pthread_mutex_lock(&srv->mu);
        for (size_t i = 0; i < n; i++) {
            ldr_srv_series *s = ldr__srv_table_get(&srv->freshness, m[i].view);
            if ((ldr_ts)s->v[0] < m[i].end || s->v[0] == 0)
                s->v[0] = (uint64_t)m[i].end;
        }
        pthread_mutex_unlock(&srv->mu);
    }
    ldr_arena_fini(&a);
}

/* One refresh: publish a new snapshot when the registry version changed. */
static void reload(ldr_srv *srv)
{
    ldr_err e;
    ldr_err_clear(&e);
    ldr_code rc = ldr_store_refresh(srv->store, &e);
    bool was_ok = atomic_exchange(&srv->registry_ok, rc == LDR_OK);
    if (rc != LDR_OK) {
        if (was_ok)
            ldr_log(LDR_LOG_ERROR, "registry refresh failed (serving the previous snapshot): %s",
                    e.msg);
        return;
    }
    ldr_snapshot *s = ldr_store_snapshot(srv->store);
    int64_t v = ldr_snapshot_version(s);
    if (v == atomic_load(&srv->snap_version)) {
        ldr_snapshot_unref(s);
    } else {
        pthread_mutex_lock(&srv->mu);
        ldr_snapshot *old = srv->snap;
        srv->snap = s;
        atomic_store(&srv->snap_version, v);
        atomic_fetch_add_explicit(&srv->snap_gen, 1, memory_order_release);
        pthread_mutex_unlock(&srv->mu);
        ldr_snapshot_unref(old);
        atomic_fetch_add(&srv->reloads, 1);
        ldr_log(LDR_LOG_INFO, "registry version %lld is now served", (long long)v);
    }
    load_freshness(srv);
}

/* ---- materialization jobs ----------------------------------------------------------------------
 */

typedef struct job_progress {
    ldr_srv_job *job;
    ldr_ts *done_at; /* per view (req order), 0 while running */
    int *state;
} job_progress;

static void on_job_progress(void *ctx, const ldr_mat_progress *p, size_t n, bool final)
{
    job_progress *jp = ctx;
    ldr_ts now = ldr_ts_now();
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < jp->job->n_views; k++) {
            if (strcmp(jp->job->views[k], p[i].view) != 0)
                continue;
            jp->state[k] = p[i].state;
            if (!jp->done_at[k] && (p[i].state >= 3 || final))
                jp->done_at[k] = now;
        }
    }
}

/* Metrics, freshness and the busy set once a job ended. */
static void job_finish(ldr_srv_job *job, const job_progress *jp, ldr_code rc)
{
    ldr_srv *srv = job->srv;
    pthread_mutex_lock(&srv->mu);
    for (size_t k = 0; k < job->n_views; k++) {
        const char *v = job->views[k];
        bool ok = rc == LDR_OK || jp->state[k] == 3 || jp->state[k] == 5;
        char key[600];
        snprintf(key, sizeof key, "%s\x1f%s", v, ok ? "success" : "failure");
        ldr__srv_table_get(&srv->mat_result, key)->v[0]++;
        ldr_ts end = jp->done_at[k] ? jp->done_at[k] : ldr_ts_now();
        ldr__srv_hist_add(&ldr__srv_table_get(&srv->mat_result, v)->hist, LDR_H_MATERIALIZE,
                          (double)(end - job->t0) / 1e6);
        if (ok && jp->state[k] == 3) {
            ldr_srv_series *f = ldr__srv_table_get(&srv->freshness, v);
            if ((ldr_ts)f->v[0] < job->req.end || f->v[0] == 0)
                f->v[0] = (uint64_t)job->req.end;
        }
        ldr__srv_table_get(&srv->busy, v)->v[0] = 0;
    }
    pthread_mutex_unlock(&srv->mu);
}

static void job_reply(ldr_srv_job *job, ldr_code rc, const ldr_err *e)
{
    ldr_buf_reset(&job->body);
    if (rc == LDR_OK) {
        job->status = 200;
        (void)!ldr_buf_puts(&job->body, "null", NULL);
        return;
    }
    static const struct {
        ldr_code code;
        int status;
        const char *type;
    } map[] = {{LDR_EBUSY, 409, "MaterializationInProgress"},
               {LDR_ENOTFOUND, 404, "FeatureViewNotFound"},
               {LDR_EINVAL, 422, "InvalidRequest"}};
    job->status = 500;
    const char *type = "InternalError";
    for (size_t i = 0; i < LDR_ARRAY_LEN(map); i++)
        if (map[i].code == rc) {
            job->status = map[i].status;
            type = map[i].type;
        }
    (void)!ldr_srv_error_json(&job->body, type, e->msg, NULL);
}

static void *job_main(void *arg)
{
    ldr_srv_job *job = arg;
    ldr_srv *srv = job->srv;
    job_progress jp = {.job = job,
                       .done_at = ldr_xcalloc(job->n_views, sizeof *jp.done_at),
                       .state = ldr_xcalloc(job->n_views, sizeof *jp.state)};
    ldr_err e;
    ldr_err_clear(&e);
    ldr_code rc;
    ldr_store *st = ldr_store_open(srv->opts.repo_dir, NULL, &e);
    if (!st) {
        rc = e.code;
    } else if (!ldr__store_registry(st)) {
        rc = ldr_err_setf(&e, LDR_ENOTFOUND, "nothing has been applied yet");
    } else {
        ldr_snapshot *snap = ldr_store_snapshot(st);
        ldr_mat_request req = job->req;
        req.progress = on_job_progress;
        req.progress_ctx = &jp;
        if (req.incremental)
            req.start = LDR_TS_NONE;
        rc = ldr_serving_materialize(ldr__store_config(st), ldr__snapshot_defs(snap),
                                     ldr__store_registry(st), &req, &e);
        ldr_snapshot_unref(snap);
    }
    ldr_store_close(st);
    if (rc != LDR_OK)
        ldr_log(LDR_LOG_WARN, "materialization failed: %s", e.msg);
    else
        ldr_log(LDR_LOG_INFO, "materialized %zu feature view%s", job->n_views,
                job->n_views == 1 ? "" : "s");
    job_finish(job, &jp, rc);
    job_reply(job, rc, &e);
    ldr_free(jp.done_at);
    ldr_free(jp.state);
    bool sync = !job->async && job->done;
    if (sync)
        job->done(job); /* the callee owns the job now */
    else
        ldr__srv_job_free(job);
    pthread_mutex_lock(&srv->mu);
    srv->jobs_running--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

void ldr__srv_job_free(ldr_srv_job *job)
{
    if (!job)
        return;
    ldr_buf_fini(&job->body);
    ldr_arena_fini(&job->arena);
    ldr_free(job);
}

void ldr__srv_job_start(ldr_srv_job *job)
{
    ldr_srv *srv = job->srv;
    job->t0 = ldr_ts_now();
    pthread_mutex_lock(&srv->mu);
    srv->jobs_running++;
    pthread_mutex_unlock(&srv->mu);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, job_main, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        ldr_log(LDR_LOG_ERROR, "cannot start a materialization thread: %s", strerror(rc));
        job_main(job); /* run it here rather than lose it */
    }
}

/* ---- life cycle
 * ---------------------------------------------------------------------------------- */

static ldr_srv_worker *worker_new(ldr_srv *srv, unsigned id, ldr_err *err)
{
    ldr_srv_worker *w = ldr_xcalloc(1, sizeof *w);
    w->srv = srv;
    w->id = id;
    ldr_arena_init(&w->arena, 64u << 10);
    ldr_buf_init(&w->out, 256u << 20);
    ldr__srv_metrics_init(&w->metrics);
    w->prep = ldr_xmalloc(sizeof *w->prep);
    ldr__srv_prep_cache_init(w->prep);
    w->snap = ldr_snapshot_ref(srv->snap);
    w->snap_gen = atomic_load(&srv->snap_gen);
    w->os = ldr_online_open(srv->cfg, err);
    if (!w->os) {
        ldr_err_prefix(err, "online store: ");
        return w; /* the caller frees it */
    }
    return w;
}

static void worker_free(ldr_srv_worker *w)
{
    if (!w)
        return;
    ldr_online_close(w->os);
    ldr_snapshot_unref(w->snap);
    ldr__srv_metrics_fini(&w->metrics);
    if (w->prep) {
        ldr__srv_prep_cache_fini(w->prep);
        ldr_free(w->prep);
    }
    ldr_buf_fini(&w->out);
    ldr_arena_fini(&w->arena);
    ldr_free(w);
}

static void srv_fini(ldr_srv *srv)
{
    for (size_t i = 0; i < srv->n_workers; i++)
        worker_free(srv->workers[i]);
    ldr_free(srv->workers);
    ldr_snapshot_unref(srv->snap);
    ldr_store_close(srv->store);
    ldr__srv_table_fini(&srv->busy);
    ldr__srv_table_fini(&srv->freshness);
    ldr__srv_table_fini(&srv->mat_result);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->mu);
}

static ldr_code srv_init(ldr_srv *srv, const ldr_srv_opts *opts, ldr_err *err)
{
    memset(srv, 0, sizeof *srv);
    srv->opts = *opts;
    srv->started = ldr_ts_now();
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cond, NULL);
    ldr__srv_table_init(&srv->busy);
    ldr__srv_table_init(&srv->freshness);
    ldr__srv_table_init(&srv->mat_result);
    ldr_store_opts so = ldr_store_opts_default();
    srv->store = ldr_store_open(opts->repo_dir, &so, err);
    if (!srv->store)
        return err->code;
    srv->cfg = ldr__store_config(srv->store);
    srv->snap = ldr_store_snapshot(srv->store);
    atomic_store(&srv->snap_version, ldr_snapshot_version(srv->snap));
    atomic_store(&srv->registry_ok, true);
    load_freshness(srv);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = opts->workers > 0 ? (size_t)opts->workers : ncpu > 0 ? (size_t)ncpu : 1;
    srv->workers = ldr_xcalloc(n, sizeof *srv->workers);
    for (size_t i = 0; i < n; i++) {
        srv->workers[i] = worker_new(srv, (unsigned)i, err);
        srv->n_workers++;
        if (!srv->workers[i]->os)
            return err->code;
    }
    return LDR_OK;
}

/* Waits for materialization jobs until the deadline; false when some still run. */
static bool wait_jobs(ldr_srv *srv, ldr_ts deadline)
{
    pthread_mutex_lock(&srv->mu);
    while (srv->jobs_running > 0 && ldr_ts_now() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
    }
    bool done = srv->jobs_running == 0;
    pthread_mutex_unlock(&srv->mu);
    return done;
}

/* Waits for a stop signal, refreshing the registry every ttl. Returns the signal. */
static int serve_until_signal(ldr_srv *srv, const sigset_t *set)
{
    ldr_duration ttl = srv->opts.registry_ttl > 0 ? srv->opts.registry_ttl : 1000000;
    for (;;) {
        struct timespec ts = {.tv_sec = (time_t)(ttl / 1000000),
                              .tv_nsec = (long)(ttl % 1000000) * 1000};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        reload(srv);
    }
}

ldr_code ldr_srv_run(const ldr_srv_opts *opts, ldr_err *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    signal(SIGPIPE, SIG_IGN);
    ldr_srv *srv = ldr_xcalloc(1, sizeof *srv);
    ldr_code rc = srv_init(srv, opts, err);
    ldr_srv_http *h = rc == LDR_OK ? ldr__http_open(srv, err) : NULL;
    if (rc == LDR_OK && !h)
        rc = err->code;
    if (rc == LDR_OK)
        rc = ldr__http_start(h, err);
    if (rc != LDR_OK) {
        ldr__http_close(h);
        srv_fini(srv);
        ldr_free(srv);
        return rc;
    }
    int sig = serve_until_signal(srv, &set);
    ldr_log(LDR_LOG_INFO, "%s: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&srv->stopping, true);
    ldr_ts deadline = ldr_ts_now() + (ldr_ts)opts->drain_timeout_ms * 1000;
    ldr__http_stop(h, deadline);
    bool jobs_done = wait_jobs(srv, deadline);
    ldr__http_close(h);
    if (!jobs_done) {
        /* A job thread still uses srv: leave it to the process exit (a materialization
         * interrupted this way is recorded nowhere and completes on its next run). */
        ldr_log(LDR_LOG_WARN, "drain timeout: exiting with materialization still running");
        return LDR_OK;
    }
    srv_fini(srv);
    ldr_free(srv);
    ldr_log(LDR_LOG_INFO, "stopped");
    return LDR_OK;
}
