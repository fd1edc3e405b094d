/*
 * metrics.c -- Prometheus metrics of the server (text exposition format 0.0.4).
 *
 * Every worker counts into its own ldr_srv_metrics under its own mutex, taken once per
 * request (uncontended except while /metrics reads), so the hot path never shares a cache
 * line with another worker. A scrape sums the workers' fixed arrays and merges their
 * labelled tables, then adds the process-wide series (materialization, freshness,
 * registry), which live in ldr_srv under its mutex. Series with no observation are left
 * out, so the output stays small; names, units and suffixes follow the Prometheus naming
 * rules that `promtool check metrics` enforces. The series are listed in docs/server.md.
 */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statuses and buckets ----------------------------------------------------------------- */

static const int status_codes[LDR_SRV_N_STATUS - 1] = {200, 202, 400, 403, 404, 405, 408,
                                                       409, 413, 415, 422, 431, 500, 503};

int ldr__srv_status_index(int status)
{
    for (int i = 0; i < LDR_SRV_N_STATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return LDR_SRV_N_STATUS - 1;
}

static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
static const double entity_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000};
static const double mat_bounds[] = {0.1, 1, 5, 10, 30, 60, 300, 900, 1800, 3600};

static const double *bounds_of(ldr_srv_hist_kind k, size_t *n)
{
    switch (k) {
    case LDR_H_ENTITIES:
        *n = LDR_ARRAY_LEN(entity_bounds);
        return entity_bounds;
    case LDR_H_MATERIALIZE:
        *n = LDR_ARRAY_LEN(mat_bounds);
        return mat_bounds;
    case LDR_H_LATENCY:
        break;
    }
    *n = LDR_ARRAY_LEN(latency_bounds);
    return latency_bounds;
}

void ldr__srv_hist_add(ldr_srv_hist *h, ldr_srv_hist_kind kind, double v)
{
    size_t n;
    const double *b = bounds_of(kind, &n);
    size_t i = 0;
    while (i < n && v > b[i])
        i++;
    if (i < n) /* above the last bound: only +Inf (count) holds it */
        h->buckets[i]++;
    h->count++;
    h->sum += v;
}

static void hist_merge(ldr_srv_hist *into, const ldr_srv_hist *h)
{
    for (size_t i = 0; i < LDR_SRV_MAX_BUCKETS; i++)
        into->buckets[i] += h->buckets[i];
    into->count += h->count;
    into->sum += h->sum;
}

/* ---- labelled tables ------------------------------------------------------------------------ */

void ldr__srv_table_init(ldr_srv_table *t)
{
    memset(t, 0, sizeof *t);
    ldr_map_init(&t->index);
}

void ldr__srv_table_fini(ldr_srv_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ldr_free(t->items[i]->key);
        ldr_free(t->items[i]);
    }
    ldr_free(t->items);
    ldr_map_fini(&t->index);
}

ldr_srv_series *ldr__srv_table_get(ldr_srv_table *t, const char *key)
{
    ldr_srv_series *s = ldr_map_get(&t->index, key);
    if (s)
        return s;
    s = ldr_xcalloc(1, sizeof *s);
    s->key = ldr_xstrdup(key);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->items = ldr_xreallocarray(t->items, t->cap, sizeof *t->items);
    }
    t->items[t->n++] = s;
    ldr_map_put(&t->index, s->key, s);
    return s;
}

static void table_merge(ldr_srv_table *into, const ldr_srv_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        ldr_srv_series *s = ldr__srv_table_get(into, t->items[i]->key);
        for (size_t k = 0; k < LDR_ARRAY_LEN(s->v); k++)
            s->v[k] += t->items[i]->v[k];
        hist_merge(&s->hist, &t->items[i]->hist);
    }
}

static int series_cmp(const void *a, const void *b)
{
    return strcmp((*(ldr_srv_series *const *)a)->key, (*(ldr_srv_series *const *)b)->key);
}

void ldr__srv_metrics_init(ldr_srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    ldr__srv_table_init(&m->view_status);
    ldr__srv_table_init(&m->push);
}

void ldr__srv_metrics_fini(ldr_srv_metrics *m)
{
    ldr__srv_table_fini(&m->view_status);
    ldr__srv_table_fini(&m->push);
    pthread_mutex_destroy(&m->mu);
}

/* ---- rendering ------------------------------------------------------------------------------ */

typedef struct totals {
    uint64_t requests[LDR_EP_COUNT][LDR_SRV_N_STATUS];
    ldr_srv_hist latency[LDR_EP_COUNT][LDR_SRV_N_STATUS];
    ldr_srv_hist entities, online_read;
    ldr_srv_table view_status, push;
    uint64_t connections, accepted;
} totals;

/* A label value, escaped as the format requires (backslash, quote, newline). */
static ldr_code put_label(ldr_buf *out, const char *s, size_t len, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < len && rc == LDR_OK; i++) {
        char c = s[i];
        if (c == '\\' || c == '"')
            rc = ldr_buf_putc(out, '\\', err);
        if (rc == LDR_OK)
            rc = c == '\n' ? ldr_buf_puts(out, "\\n", err) : ldr_buf_putc(out, c, err);
    }
    return rc;
}

/* Labels `names` (comma-separated) with values from key (split at '\x1f'). */
static ldr_code put_labels(ldr_buf *out, const char *names, const char *key, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    const char *n = names, *k = key;
    bool first = true;
    while (rc == LDR_OK && *n) {
        const char *ne = strchr(n, ',');
        size_t nl = ne ? (size_t)(ne - n) : strlen(n);
        const char *ke = strchr(k, '\x1f');
        size_t kl = ke ? (size_t)(ke - k) : strlen(k);
        rc = ldr_buf_printf(out, err, "%s%.*s=\"", first ? "" : ",", (int)nl, n);
        if (rc == LDR_OK)
            rc = put_label(out, k, kl, err);
        if (rc == LDR_OK)
            rc = ldr_buf_putc(out, '"', err);
        first = false;
        n = ne ? ne + 1 : n + nl;
        k = ke ? ke + 1 : k + kl;
    }
    return rc;
}

static ldr_code header(ldr_buf *out, const char *name, const char *type, const char *help,
                       ldr_err *err)
{
    return ldr_buf_printf(out, err, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; `labels` is the rendered label list without braces ("" none). */
static ldr_code put_hist(ldr_buf *out, const char *name, const char *labels, const ldr_srv_hist *h,
                         ldr_srv_hist_kind kind, ldr_err *err)
{
    size_t n;
    const double *b = bounds_of(kind, &n);
    uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        cum += h->buckets[i];
        char num[32];
        ldr_fmt_double(b[i], num);
        rc = ldr_buf_printf(out, err, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num,
                            (unsigned long long)cum);
    }
    char sum[32];
    ldr_fmt_double(h->sum, sum);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                            (unsigned long long)h->count);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "%s_sum%s%s%s %s\n%s_count%s%s%s %llu\n", name,
                            *labels ? "{" : "", labels, *labels ? "}" : "", sum, name,
                            *labels ? "{" : "", labels, *labels ? "}" : "",
                            (unsigned long long)h->count);
    return rc;
}

static void gather(ldr_srv *srv, totals *t)
{
    memset(t, 0, sizeof *t);
    ldr__srv_table_init(&t->view_status);
    ldr__srv_table_init(&t->push);
    for (size_t w = 0; w < srv->n_workers; w++) {
        ldr_srv_metrics *m = &srv->workers[w]->metrics;
        pthread_mutex_lock(&m->mu);
        for (int e = 0; e < LDR_EP_COUNT; e++) {
            for (int s = 0; s < LDR_SRV_N_STATUS; s++) {
                t->requests[e][s] += m->requests[e][s];
                hist_merge(&t->latency[e][s], &m->latency[e][s]);
            }
        }
        hist_merge(&t->entities, &m->entities);
        hist_merge(&t->online_read, &m->online_read);
        table_merge(&t->view_status, &m->view_status);
        table_merge(&t->push, &m->push);
        t->connections += m->connections;
        t->accepted += m->accepted;
        pthread_mutex_unlock(&m->mu);
    }
    qsort(t->view_status.items, t->view_status.n, sizeof *t->view_status.items, series_cmp);
    qsort(t->push.items, t->push.n, sizeof *t->push.items, series_cmp);
}

static const char *status_label(int s, char buf[8])
{
    if (s == LDR_SRV_N_STATUS - 1)
        return "other";
    snprintf(buf, 8, "%d", status_codes[s]);
    return buf;
}

static ldr_code render_http(const totals *t, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = header(out, "larder_http_requests_total", "counter",
                         "HTTP requests by endpoint and status code.", err);
    char sb[8];
    for (int e = 0; e < LDR_EP_COUNT && rc == LDR_OK; e++)
        for (int s = 0; s < LDR_SRV_N_STATUS && rc == LDR_OK; s++)
            if (t->requests[e][s])
                rc = ldr_buf_printf(out, err,
                                    "larder_http_requests_total{endpoint=\"%s\",status=\"%s\"} "
                                    "%llu\n",
                                    ldr_srv_endpoint_path((ldr_srv_endpoint)e), status_label(s, sb),
                                    (unsigned long long)t->requests[e][s]);
    if (rc == LDR_OK)
        rc = header(out, "larder_http_request_duration_seconds", "histogram",
                    "Time from the request's arrival at the handler to its reply, by endpoint "
                    "and status code.",
                    err);
    for (int e = 0; e < LDR_EP_COUNT && rc == LDR_OK; e++) {
        for (int s = 0; s < LDR_SRV_N_STATUS && rc == LDR_OK; s++) {
            if (!t->latency[e][s].count)
                continue;
            char labels[96];
            snprintf(labels, sizeof labels, "endpoint=\"%s\",status=\"%s\"",
                     ldr_srv_endpoint_path((ldr_srv_endpoint)e), status_label(s, sb));
            rc = put_hist(out, "larder_http_request_duration_seconds", labels, &t->latency[e][s],
                          LDR_H_LATENCY, err);
        }
    }
    if (rc == LDR_OK)
        rc = header(out, "larder_http_connections", "gauge", "Open client connections.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_http_connections %llu\n",
                            (unsigned long long)t->connections);
    if (rc == LDR_OK)
        rc = header(out, "larder_http_connections_accepted_total", "counter",
                    "Client connections accepted.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_http_connections_accepted_total %llu\n",
                            (unsigned long long)t->accepted);
    return rc;
}

static ldr_code render_online(const totals *t, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = header(out, "larder_online_entities_per_request", "histogram",
                         "Entity rows per get-online-features request.", err);
    if (rc == LDR_OK)
        rc = put_hist(out, "larder_online_entities_per_request", "", &t->entities, LDR_H_ENTITIES,
                      err);
    if (rc == LDR_OK)
        rc = header(out, "larder_online_read_duration_seconds", "histogram",
                    "Time to read features from the online store per get-online-features "
                    "request (key encoding and store reads).",
                    err);
    if (rc == LDR_OK)
        rc = put_hist(out, "larder_online_read_duration_seconds", "", &t->online_read,
                      LDR_H_LATENCY, err);
    if (rc == LDR_OK)
        rc = header(out, "larder_online_feature_status_total", "counter",
                    "Feature values served, by feature view and status.", err);
    for (size_t i = 0; i < t->view_status.n && rc == LDR_OK; i++) {
        const ldr_srv_series *s = t->view_status.items[i];
        for (int st = 1; st <= 4 && rc == LDR_OK; st++) {
            if (!s->v[st])
                continue;
            rc = ldr_buf_puts(out, "larder_online_feature_status_total{", err);
            if (rc == LDR_OK)
                rc = put_labels(out, "feature_view", s->key, err);
            if (rc == LDR_OK)
                rc =
                    ldr_buf_printf(out, err, ",status=\"%s\"} %llu\n",
                                   ldr_fstatus_name((ldr_fstatus)st), (unsigned long long)s->v[st]);
        }
    }
    if (rc == LDR_OK)
        rc = header(out, "larder_push_requests_total", "counter",
                    "Successful push and write-to-online-store requests, by source and mode.", err);
    for (size_t i = 0; i < t->push.n && rc == LDR_OK; i++) {
        rc = ldr_buf_puts(out, "larder_push_requests_total{", err);
        if (rc == LDR_OK)
            rc = put_labels(out, "push_source,mode", t->push.items[i]->key, err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(out, err, "} %llu\n", (unsigned long long)t->push.items[i]->v[0]);
    }
    if (rc == LDR_OK)
        rc = header(out, "larder_push_rows_total", "counter",
                    "Rows written by push and write-to-online-store, by source and mode.", err);
    for (size_t i = 0; i < t->push.n && rc == LDR_OK; i++) {
        rc = ldr_buf_puts(out, "larder_push_rows_total{", err);
        if (rc == LDR_OK)
            rc = put_labels(out, "push_source,mode", t->push.items[i]->key, err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(out, err, "} %llu\n", (unsigned long long)t->push.items[i]->v[1]);
    }
    return rc;
}

/* Materialization, freshness and registry series (ldr_srv, under srv->mu). */
static ldr_code render_shared(ldr_srv *srv, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = header(out, "larder_materialization_result_total", "counter",
                         "Materializations by feature view and result (success, failure).", err);
    pthread_mutex_lock(&srv->mu);
    ldr_srv_table *mr = &srv->mat_result;
    qsort(mr->items, mr->n, sizeof *mr->items, series_cmp);
    for (size_t i = 0; i < mr->n && rc == LDR_OK; i++) {
        if (!strchr(mr->items[i]->key, '\x1f'))
            continue;
        rc = ldr_buf_puts(out, "larder_materialization_result_total{", err);
        if (rc == LDR_OK)
            rc = put_labels(out, "feature_view,status", mr->items[i]->key, err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(out, err, "} %llu\n", (unsigned long long)mr->items[i]->v[0]);
    }
    if (rc == LDR_OK)
        rc = header(out, "larder_materialization_duration_seconds", "histogram",
                    "Duration of materializations by feature view.", err);
    for (size_t i = 0; i < mr->n && rc == LDR_OK; i++) {
        if (strchr(mr->items[i]->key, '\x1f') || !mr->items[i]->hist.count)
            continue;
        ldr_buf lb;
        ldr_buf_init(&lb, 4096);
        rc = put_labels(&lb, "feature_view", mr->items[i]->key, err);
        if (rc == LDR_OK)
            rc = put_hist(out, "larder_materialization_duration_seconds", ldr_buf_cstr(&lb),
                          &mr->items[i]->hist, LDR_H_MATERIALIZE, err);
        ldr_buf_fini(&lb);
    }
    if (rc == LDR_OK)
        rc = header(out, "larder_feature_freshness_seconds", "gauge",
                    "Seconds since the end of the latest materialized interval, by feature view.",
                    err);
    ldr_ts now = ldr_ts_now();
    ldr_srv_table *fr = &srv->freshness;
    qsort(fr->items, fr->n, sizeof *fr->items, series_cmp);
    for (size_t i = 0; i < fr->n && rc == LDR_OK; i++) {
        char num[32];
        ldr_fmt_double((double)(now - (ldr_ts)fr->items[i]->v[0]) / 1e6, num);
        rc = ldr_buf_puts(out, "larder_feature_freshness_seconds{", err);
        if (rc == LDR_OK)
            rc = put_labels(out, "feature_view", fr->items[i]->key, err);
        if (rc == LDR_OK)
            rc = ldr_buf_puts(out, ",project=\"", err);
        if (rc == LDR_OK)
            rc = put_label(out, srv->cfg->project, strlen(srv->cfg->project), err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(out, err, "\"} %s\n", num);
    }
    size_t jobs = srv->jobs_running;
    pthread_mutex_unlock(&srv->mu);
    if (rc == LDR_OK)
        rc = header(out, "larder_materialization_jobs", "gauge",
                    "Materialization jobs running in this server.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_materialization_jobs %zu\n", jobs);
    if (rc == LDR_OK)
        rc = header(out, "larder_registry_version", "gauge",
                    "Registry version of the snapshot being served.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_registry_version %lld\n",
                            (long long)atomic_load(&srv->snap_version));
    if (rc == LDR_OK)
        rc = header(out, "larder_registry_reloads_total", "counter",
                    "Registry snapshots loaded after an apply.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_registry_reloads_total %llu\n",
                            (unsigned long long)atomic_load(&srv->reloads));
    if (rc == LDR_OK)
        rc =
            header(out, "larder_start_time_seconds", "gauge", "Unix time the server started.", err);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(out, err, "larder_start_time_seconds %lld\n",
                            (long long)(srv->started / 1000000));
    return rc;
}

ldr_code ldr__srv_metrics_render(ldr_srv *srv, ldr_buf *out, ldr_err *err)
{
    totals *t = ldr_xcalloc(1, sizeof *t);
    gather(srv, t);
    ldr_code rc = render_http(t, out, err);
    if (rc == LDR_OK)
        rc = render_online(t, out, err);
    if (rc == LDR_OK)
        rc = render_shared(srv, out, err);
    ldr__srv_table_fini(&t->view_status);
    ldr__srv_table_fini(&t->push);
    ldr_free(t);
    return rc;
}
