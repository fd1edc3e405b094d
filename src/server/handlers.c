/*
 * handlers.c -- the endpoints: (method, path, query, body) -> (status, JSON body).
 *
 * No sockets here: http.c hands each request in and sends the reply out, so the same
 * code runs under tests and benchmarks. Every handler works in the worker's arena (reset
 * per request) on the worker's snapshot (refreshed when the reload thread published a
 * new one; a request keeps the snapshot it started with) and the worker's online-store
 * handle. Errors are Feast's statuses with a JSON body {"error":{"type","message"}}:
 * 400 not JSON, 404 unknown object or path, 405 wrong method, 409 materialization in
 * progress, 413 over a limit, 422 invalid request or unknown push source, 500 a fault,
 * 503 the store or registry is unavailable.
 */
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>

#include "csv/csv.h"

#define CT_JSON "application/json"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

void ldr__srv_reply_error(ldr_srv_reply *r, int status, const char *type, const char *msg)
{
    ldr_buf_reset(r->body);
    r->status = status;
    r->content_type = CT_JSON;
    if (ldr_srv_error_json(r->body, type, msg, NULL) != LDR_OK) {
        ldr_buf_reset(r->body);
        (void)!ldr_buf_puts(r->body, "{\"error\":{\"type\":\"InternalError\",\"message\":\"\"}}",
                            NULL);
    }
}

static void reply_json(ldr_srv_reply *r, int status, const char *text)
{
    ldr_buf_reset(r->body);
    r->status = status;
    r->content_type = CT_JSON;
    (void)!ldr_buf_puts(r->body, text, NULL);
}

/* An error of the serving layer as a status; notfound_type names 404s. */
static void reply_err(ldr_srv_reply *r, const ldr_err *e, const char *notfound_type)
{
    switch (e->code) {
    case LDR_ENOTFOUND:
        ldr__srv_reply_error(r, 404, notfound_type, e->msg);
        return;
    case LDR_EINVAL:
    case LDR_EUNSUPPORTED:
        ldr__srv_reply_error(r, 422, "InvalidRequest", e->msg);
        return;
    case LDR_ELIMIT:
        ldr__srv_reply_error(r, 413, "LimitExceeded", e->msg);
        return;
    case LDR_EBUSY:
        ldr__srv_reply_error(r, 503, "StoreBusy", e->msg);
        return;
    default:
        ldr_log(LDR_LOG_ERROR, "internal error (%s): %s", ldr_code_name(e->code), e->msg);
        ldr__srv_reply_error(r, 500, "InternalError", e->msg);
        return;
    }
}

/* A body that did not parse. */
static void reply_parse_err(ldr_srv_reply *r, const ldr_err *e, size_t len, size_t max)
{
    if (e->code == LDR_ECORRUPT)
        ldr__srv_reply_error(r, 400, "MalformedJSON", e->msg);
    else if (e->code == LDR_ELIMIT)
        ldr__srv_reply_error(r, 413, len > max ? "BodyTooLarge" : "LimitExceeded", e->msg);
    else
        ldr__srv_reply_error(r, 422, "InvalidRequest", e->msg);
}

/* ---- get-online-features ----------------------------------------------------------------------
 */

/* The type of a 404 from retrieval: which name was unknown. */
static const char *online_notfound_type(const ldr_defs *defs, const ldr_online_request *q)
{
    if (q->feature_service)
        return ldr_defs_find_service(defs, q->feature_service) ? "FeatureViewNotFound"
                                                               : "FeatureServiceNotFound";
    for (size_t i = 0; i < q->n_features; i++) {
        const char *ref = q->features[i], *colon = strchr(ref, ':');
        size_t n = colon ? (size_t)(colon - ref) : strlen(ref);
        char view[256];
        if (n >= sizeof view)
            return "FeatureViewNotFound";
        memcpy(view, ref, n);
        view[n] = '\0';
        if (!ldr_defs_find_view(defs, view))
            return "FeatureViewNotFound";
    }
    return "FeatureNotFound";
}

/* ---- prepared feature lists (ldr_srv_prep_cache) ---------------------------------------- */

void ldr__srv_prep_cache_init(ldr_srv_prep_cache *c)
{
    memset(c, 0, sizeof *c);
    ldr_arena_init(&c->arena, 16u << 10);
}

void ldr__srv_prep_cache_fini(ldr_srv_prep_cache *c)
{
    ldr_arena_fini(&c->arena);
}

static void prep_cache_clear(ldr_srv_prep_cache *c)
{
    ldr_arena_reset(&c->arena);
    memset(c->slots, 0, sizeof c->slots);
    c->n = 0;
}

/* The cache key of a request's feature list: a flag byte (full_feature_names, service),
 * then the service name, or each feature as a 4-byte length and its bytes (so no two
 * lists share a key). Into buf; 0 when it does not fit (such requests are not cached). */
static size_t prep_key(const ldr_online_request *q, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap < 1)
        return 0;
    buf[n++] = (char)((q->full_feature_names ? 1 : 0) | (q->feature_service ? 2 : 0));
    if (q->feature_service) {
        size_t l = strlen(q->feature_service);
        if (l > cap - n)
            return 0;
        memcpy(buf + n, q->feature_service, l);
        return n + l;
    }
    for (size_t i = 0; i < q->n_features; i++) {
        size_t l = strlen(q->features[i]);
        if (l > UINT32_MAX || cap - n < 4 || l > cap - n - 4)
            return 0;
        uint32_t l32 = (uint32_t)l;
        memcpy(buf + n, &l32, 4);
        memcpy(buf + n + 4, q->features[i], l);
        n += 4 + l;
    }
    return n;
}

/* The prepared form of q's features on the worker's snapshot: from the cache, or
 * prepared and added. NULL when preparing fails (the request then runs unprepared and
 * reports the error itself) or the key is too long to cache. */
static const ldr_online_prep *prep_get(ldr_srv_worker *w, const ldr_defs *defs,
                                       const ldr_online_request *q)
{
    ldr_srv_prep_cache *c = w->prep;
    char key[2048];
    size_t kl = prep_key(q, key, sizeof key);
    if (!kl)
        return NULL;
    if (c->snap_gen != w->snap_gen) {
        prep_cache_clear(c);
        c->snap_gen = w->snap_gen;
    }
    uint64_t h = ldr_hash_bytes(key, kl);
    size_t i = (size_t)h & (LDR_SRV_PREP_SLOTS - 1);
    while (c->slots[i].key) {
        ldr_srv_prep_entry *e = &c->slots[i];
        if (e->hash == h && e->key_len == kl && !memcmp(e->key, key, kl))
            return &e->prep;
        i = (i + 1) & (LDR_SRV_PREP_SLOTS - 1);
    }
    if (c->n >= LDR_SRV_PREP_MAX) {
        prep_cache_clear(c);
        i = (size_t)h & (LDR_SRV_PREP_SLOTS - 1);
    }
    ldr_online_prep prep;
    ldr_err e;
    /* Resolve into the request arena first: failures must not grow the cache. */
    if (ldr_serving_prepare(defs, w->srv->cfg->project, q->features, q->n_features,
                            q->feature_service, q->full_feature_names, &w->arena, &prep,
                            &e) != LDR_OK)
        return NULL;
    ldr_srv_prep_entry *slot = &c->slots[i];
    /* The cached copy, prepared again into the cache's arena: it points into defs (valid
     * while the snapshot is the worker's, which is when the cache is used) and into that
     * arena, never into the request. */
    if (ldr_serving_prepare(defs, w->srv->cfg->project, q->features, q->n_features,
                            q->feature_service, q->full_feature_names, &c->arena, &slot->prep,
                            &e) != LDR_OK)
        return NULL;
    char *k = ldr_arena_alloc(&c->arena, kl);
    memcpy(k, key, kl);
    slot->key = k;
    slot->key_len = kl;
    slot->hash = h;
    c->n++;
    return &slot->prep;
}

/* Counts statuses per view into the worker's metrics (one lock per request). */
static void count_statuses(ldr_srv_worker *w, const ldr_defs *defs, const ldr_online_request *q,
                           const ldr_online_prep *prep, const ldr_online_response *resp,
                           double read_s)
{
    ldr_arena *a = &w->arena;
    size_t n_feat = 0;
    const char **view_of = NULL;
    if (prep) {
        n_feat = prep->plan.n_cols;
        view_of = prep->view_of;
    } else if (q->feature_service) {
        ldr_fplan p;
        ldr_err e;
        if (ldr_fplan_build(defs, NULL, 0, q->feature_service, false, a, &p, &e) == LDR_OK) {
            n_feat = p.n_cols;
            view_of = ldr_arena_calloc(a, n_feat + 1, sizeof *view_of);
            for (size_t c = 0; c < p.n_cols; c++)
                view_of[c] = p.projs[p.cols[c].proj].view->name;
        }
    } else {
        n_feat = q->n_features;
        view_of = ldr_arena_calloc(a, n_feat + 1, sizeof *view_of);
        for (size_t c = 0; c < n_feat; c++) {
            const char *colon = strchr(q->features[c], ':');
            view_of[c] =
                colon ? ldr_arena_strndup(a, q->features[c], (size_t)(colon - q->features[c]))
                      : q->features[c];
        }
    }
    size_t n_jk = resp->n_cols >= n_feat ? resp->n_cols - n_feat : 0;
    ldr_srv_metrics *m = &w->metrics;
    pthread_mutex_lock(&m->mu);
    ldr__srv_hist_add(&m->entities, LDR_H_ENTITIES, (double)resp->n_rows);
    ldr__srv_hist_add(&m->online_read, LDR_H_LATENCY, read_s);
    ldr_srv_series *s = NULL;
    const char *last = NULL;
    for (size_t c = 0; c < n_feat && n_jk + c < resp->n_cols; c++) {
        if (!last || strcmp(last, view_of[c]) != 0) {
            s = ldr__srv_table_get(&m->view_status, view_of[c]);
            last = view_of[c];
        }
        const uint8_t *st = resp->status[n_jk + c];
        for (size_t i = 0; i < resp->n_rows; i++)
            if (st[i] >= 1 && st[i] <= 4)
                s->v[st[i]]++;
    }
    pthread_mutex_unlock(&m->mu);
}

static void handle_online(ldr_srv_worker *w, const ldr_srv_request *q, ldr_srv_reply *r)
{
    const ldr_defs *defs = ldr__snapshot_defs(w->snap);
    ldr_online_response resp;
    ldr_err e;
    ldr_err_clear(&e);
    r->n_entities = q->online.n_rows;
    ldr_ts t0 = ldr_ts_now();
    ldr_online_request req = q->online;
    req.prep = prep_get(w, defs, &req);
    ldr_code rc =
        ldr_serving_get_online(defs, w->srv->cfg->project, w->os, &req, t0, &w->arena, &resp, &e);
    ldr_ts t1 = ldr_ts_now();
    if (rc != LDR_OK) {
        reply_err(r, &e, online_notfound_type(defs, &q->online));
        return;
    }
    ldr_buf_reset(r->body);
    if (ldr_serving_response_json(&resp, r->body, &e) != LDR_OK) {
        reply_err(r, &e, "NotFound");
        return;
    }
    r->status = 200;
    r->content_type = CT_JSON;
    count_statuses(w, defs, &q->online, req.prep, &resp, (double)(t1 - t0) / 1e6);
}

/* ---- push, write-to-online-store ------------------------------------------------------------ */

static void count_push(ldr_srv_worker *w, const char *source, const char *mode, size_t rows)
{
    char key[600];
    snprintf(key, sizeof key, "%s\x1f%s", source, mode);
    ldr_srv_metrics *m = &w->metrics;
    pthread_mutex_lock(&m->mu);
    ldr_srv_series *s = ldr__srv_table_get(&m->push, key);
    s->v[0]++;
    s->v[1] += rows;
    pthread_mutex_unlock(&m->mu);
}

static void handle_push(ldr_srv_worker *w, const ldr_srv_request *q, ldr_srv_reply *r)
{
    const ldr_defs *defs = ldr__snapshot_defs(w->snap);
    const ldr_srv_push_req *p = &q->push;
    char msg[512];
    const ldr_source *ps = ldr_defs_find_source(defs, p->push_source_name);
    if (!ps || ps->kind != LDR_SOURCE_PUSH) {
        char qn[LDR_QUOTE_BUFSZ];
        snprintf(msg, sizeof msg, "Unable to find push source '%s'",
                 ldr__quote(p->push_source_name, strlen(p->push_source_name), qn));
        ldr__srv_reply_error(r, 422, "PushSourceNotFound", msg);
        return;
    }
    const ldr_source *batch = ldr_defs_find_source(defs, ps->batch_source);
    const ldr_view **views = ldr_arena_calloc(&w->arena, defs->n_views + 1, sizeof *views);
    size_t n = 0;
    for (size_t i = 0; i < defs->n_views; i++)
        if (!strcmp(defs->views[i].source, ps->name))
            views[n++] = &defs->views[i];
    r->n_entities = p->df.n_rows;
    size_t rows = 0;
    ldr_err e;
    ldr_err_clear(&e);
    if (ldr__srv_push(w, defs, views, n, batch, &p->df, p->to & LDR_PUSH_ONLINE,
                      p->to & LDR_PUSH_OFFLINE, &rows, &e) != LDR_OK) {
        if (e.code == LDR_EUNSUPPORTED)
            ldr__srv_reply_error(r, 422, "UnsupportedOfflinePush", e.msg);
        else
            reply_err(r, &e, "FeatureViewNotFound");
        return;
    }
    static const char *const modes[] = {"", "online", "offline", "online_and_offline"};
    count_push(w, ps->name, modes[p->to], rows);
    ldr_buf_reset(r->body);
    r->status = 200;
    r->content_type = CT_JSON;
}

static void handle_write_online(ldr_srv_worker *w, const ldr_srv_request *q, ldr_srv_reply *r)
{
    const ldr_defs *defs = ldr__snapshot_defs(w->snap);
    const ldr_srv_push_req *p = &q->push;
    char msg[512], qn[LDR_QUOTE_BUFSZ];
    const ldr_view *v = ldr_defs_find_view(defs, p->feature_view_name);
    if (!v) {
        snprintf(msg, sizeof msg, "feature view '%s' does not exist",
                 ldr__quote(p->feature_view_name, strlen(p->feature_view_name), qn));
        ldr__srv_reply_error(r, 404, "FeatureViewNotFound", msg);
        return;
    }
    if (!v->online) {
        snprintf(msg, sizeof msg, "feature view '%s' is not online (online: false)", v->name);
        ldr__srv_reply_error(r, 422, "InvalidRequest", msg);
        return;
    }
    const ldr_source *src = ldr_defs_find_source(defs, v->source);
    const ldr_source *batch =
        src && src->kind == LDR_SOURCE_PUSH ? ldr_defs_find_source(defs, src->batch_source) : src;
    r->n_entities = p->df.n_rows;
    size_t rows = 0;
    ldr_err e;
    ldr_err_clear(&e);
    if (ldr__srv_push(w, defs, &v, 1, batch, &p->df, true, false, &rows, &e) != LDR_OK) {
        reply_err(r, &e, "FeatureViewNotFound");
        return;
    }
    count_push(w, v->name, "write_to_online_store", rows);
    reply_json(r, 200, "null");
}

/* ---- materialize ------------------------------------------------------------------------------
 */

/* Parses "async=true&force=false"; unknown parameters are ignored. */
static bool query_flag(const char *q, size_t len, const char *name, bool *out, bool *bad)
{
    size_t nl = strlen(name);
    const char *p = q, *end = q + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) >= nl && !memcmp(p, name, nl) && (p + nl == e || p[nl] == '=')) {
            const char *v = p + nl + (p + nl < e ? 1 : 0);
            size_t vl = (size_t)(e - v);
            if (vl == 0 || (vl == 4 && !memcmp(v, "true", 4)) || (vl == 1 && *v == '1'))
                *out = true;
            else if ((vl == 5 && !memcmp(v, "false", 5)) || (vl == 1 && *v == '0'))
                *out = false;
            else
                *bad = true;
            return true;
        }
        p = amp ? amp + 1 : end;
    }
    return false;
}

static void put_view_list(ldr_buf *b, const char *const *views, size_t n)
{
    (void)!ldr_buf_putc(b, '[', NULL);
    for (size_t i = 0; i < n; i++) {
        if (i)
            (void)!ldr_buf_putc(b, ',', NULL);
        (void)!ldr_json_put_string(b, views[i], strlen(views[i]), NULL);
    }
    (void)!ldr_buf_putc(b, ']', NULL);
}

/* The views a materialization targets, validated; NULL with the reply set on error. */
static const char **mat_targets(const ldr_defs *defs, const ldr_srv_mat_req *m, size_t *n_out,
                                ldr_arena *a, ldr_srv_reply *r)
{
    char msg[512], qn[LDR_QUOTE_BUFSZ];
    const char **out = ldr_arena_calloc(a, defs->n_views + m->n_views + 1, sizeof *out);
    size_t n = 0;
    if (m->views) {
        for (size_t i = 0; i < m->n_views; i++) {
            const ldr_view *v = ldr_defs_find_view(defs, m->views[i]);
            if (!v) {
                snprintf(msg, sizeof msg, "feature view '%s' does not exist",
                         ldr__quote(m->views[i], strlen(m->views[i]), qn));
                ldr__srv_reply_error(r, 404, "FeatureViewNotFound", msg);
                return NULL;
            }
            if (!v->online) {
                snprintf(msg, sizeof msg,
                         "feature view '%s' is not online (online: false); it cannot be "
                         "materialized",
                         v->name);
                ldr__srv_reply_error(r, 422, "InvalidRequest", msg);
                return NULL;
            }
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = out[k] == v->name;
            if (!dup)
                out[n++] = v->name;
        }
    } else {
        for (size_t i = 0; i < defs->n_views; i++)
            if (defs->views[i].online)
                out[n++] = defs->views[i].name;
    }
    if (n == 0) {
        ldr__srv_reply_error(r, 422, "InvalidRequest", "no online feature views to materialize");
        return NULL;
    }
    *n_out = n;
    return out;
}

/* Marks the views busy, or replies 409 naming the busy ones. */
static bool mark_busy(ldr_srv *srv, const char *const *views, size_t n, ldr_srv_reply *r)
{
    pthread_mutex_lock(&srv->mu);
    size_t n_busy = 0;
    const char *busy[64];
    for (size_t i = 0; i < n; i++)
        if (ldr__srv_table_get(&srv->busy, views[i])->v[0] && n_busy < LDR_ARRAY_LEN(busy))
            busy[n_busy++] = views[i];
    for (size_t i = 0; i < n && !n_busy; i++)
        ldr__srv_table_get(&srv->busy, views[i])->v[0] = 1;
    pthread_mutex_unlock(&srv->mu);
    if (!n_busy)
        return true;
    char msg[256];
    snprintf(msg, sizeof msg, "%zu feature view%s already being materialized: %s%s", n_busy,
             n_busy == 1 ? " is" : "s are", busy[0], n_busy > 1 ? ", ..." : "");
    ldr__srv_reply_error(r, 409, "MaterializationInProgress", msg);
    r->body->len--; /* drop the closing brace: add the views */
    r->body->ptr[r->body->len] = '\0';
    (void)!ldr_buf_puts(r->body, ",\"feature_views\":", NULL);
    put_view_list(r->body, busy, n_busy);
    (void)!ldr_buf_putc(r->body, '}', NULL);
    return false;
}

static void handle_materialize(ldr_srv_worker *w, const ldr_srv_request *q, const char *query,
                               size_t query_len, ldr_srv_reply *r)
{
    bool async = false, force = false, bad = false;
    query_flag(query, query_len, "async", &async, &bad);
    query_flag(query, query_len, "force", &force, &bad);
    if (bad) {
        ldr__srv_reply_error(r, 422, "InvalidRequest",
                             "query parameters 'async' and 'force' take true or false");
        return;
    }
    const ldr_defs *defs = ldr__snapshot_defs(w->snap);
    size_t n = 0;
    const char **views = mat_targets(defs, &q->mat, &n, &w->arena, r);
    if (!views || !mark_busy(w->srv, views, n, r))
        return;
    ldr_srv_job *job = ldr_xcalloc(1, sizeof *job);
    job->srv = w->srv;
    ldr_arena_init(&job->arena, 0);
    job->views = ldr_arena_calloc(&job->arena, n, sizeof *job->views);
    for (size_t i = 0; i < n; i++)
        job->views[i] = ldr_arena_strdup(&job->arena, views[i]);
    job->n_views = n;
    job->async = async;
    job->req.start = q->mat.start;
    job->req.end = q->mat.end;
    job->req.incremental = q->mat.incremental;
    job->req.views = job->views;
    job->req.n_views = n;
    ldr_buf_init(&job->body, 1u << 20);
    if (!async) {
        r->job = job;
        return;
    }
    ldr_buf_reset(r->body);
    (void)!ldr_buf_puts(r->body, "{\"status\":\"accepted\",\"feature_views\":", NULL);
    put_view_list(r->body, views, n);
    (void)!ldr_buf_putc(r->body, '}', NULL);
    r->status = 202;
    r->content_type = CT_JSON;
    ldr__srv_job_start(job);
}

/* ---- GET endpoints ------------------------------------------------------------------------------
 */

static void handle_health(ldr_srv_worker *w, ldr_srv_reply *r)
{
    ldr_srv *srv = w->srv;
    if (!atomic_load(&srv->registry_ok)) {
        ldr__srv_reply_error(r, 503, "RegistryUnavailable",
                             "the registry could not be read at the last refresh");
        return;
    }
    ldr_buf_reset(r->body);
    (void)!ldr_buf_printf(r->body, NULL, "{\"status\":\"ok\",\"registry_version\":%lld}",
                          (long long)ldr_snapshot_version(w->snap));
    r->status = 200;
    r->content_type = CT_JSON;
}

static void handle_metrics(ldr_srv_worker *w, ldr_srv_reply *r)
{
    ldr_buf_reset(r->body);
    ldr_err e;
    if (ldr__srv_metrics_render(w->srv, r->body, &e) != LDR_OK) {
        reply_err(r, &e, "NotFound");
        return;
    }
    r->status = 200;
    r->content_type = CT_PROM;
}

/* ---- dispatch -------------------------------------------------------------------------------- */

void ldr__srv_handle(ldr_srv_worker *w, const char *method, size_t method_len, const char *path,
                     size_t path_len, const char *query, size_t query_len, const char *body,
                     size_t body_len, ldr_srv_reply *r)
{
    ldr_arena_reset(&w->arena);
    memset(r, 0, sizeof *r);
    r->body = &w->out;
    ldr_buf_reset(r->body);
    w->seq++;
    ldr_srv_endpoint ep = ldr_srv_endpoint_of(path, path_len);
    bool is_get = ep == LDR_EP_HEALTH || ep == LDR_EP_METRICS;
    char msg[256], qp[LDR_QUOTE_BUFSZ];
    if (ep == LDR_EP_OTHER) {
        snprintf(msg, sizeof msg, "no endpoint \"%s\"", ldr__quote(path, path_len, qp));
        ldr__srv_reply_error(r, 404, "NotFound", msg);
        return;
    }
    const char *want = is_get ? "GET" : "POST";
    if (!(method_len == strlen(want) && !memcmp(method, want, method_len)) &&
        !(is_get && method_len == 4 && !memcmp(method, "HEAD", 4))) {
        snprintf(msg, sizeof msg, "%s takes %s", ldr_srv_endpoint_path(ep), want);
        ldr__srv_reply_error(r, 405, "MethodNotAllowed", msg);
        return;
    }
    ldr__srv_worker_sync(w);
    if (ep == LDR_EP_HEALTH) {
        handle_health(w, r);
        return;
    }
    if (ep == LDR_EP_METRICS) {
        handle_metrics(w, r);
        return;
    }
    ldr_srv_request q;
    ldr_err e;
    ldr_err_clear(&e);
    const ldr_srv_limits *lim = &w->srv->opts.limits;
    if (ldr_srv_parse(ep, body, body_len, lim, ldr_ts_now(), &w->arena, &q, &e) != LDR_OK) {
        reply_parse_err(r, &e, body_len, lim->max_body);
        return;
    }
    switch (ep) {
    case LDR_EP_GET_ONLINE:
        handle_online(w, &q, r);
        break;
    case LDR_EP_PUSH:
        handle_push(w, &q, r);
        break;
    case LDR_EP_WRITE_ONLINE:
        handle_write_online(w, &q, r);
        break;
    default:
        handle_materialize(w, &q, query, query_len, r);
        break;
    }
}
