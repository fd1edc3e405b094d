/*
 * http.c -- the HTTP layer over h2o 2.2.5 (libh2o-evloop): the only file that includes
 * h2o (ARCHITECTURE.md invariant). docs/server.md explains the choice and the knobs.
 *
 * One thread per worker, each with its own epoll loop, h2o context and listening socket
 * (SO_REUSEPORT: the kernel spreads connections over the workers). Every request goes to
 * one handler that calls ldr__srv_handle and copies the reply into the request's pool
 * (h2o does not copy payloads, and the worker's buffer is reused by the next request),
 * always with a Content-Length (without one h2o closes the connection on non-200 replies).
 *
 * Limits h2o enforces: body size (413 before the body is read), the request deadline
 * (http1.req_timeout: idle keep-alive time, then headers and body together; a slow-loris
 * client is cut off at the deadline whatever it trickles), the TLS handshake deadline.
 * Limits enforced here: total header bytes (431) and open connections (the listener stops
 * reading at the per-worker share of --max-connections, and resumes on a close).
 *
 * Synchronous /materialize runs on a job thread: the request waits; the job's end comes
 * back to the worker's loop as a multithread message. A shared pool block tells whether
 * the request was disposed meanwhile (client gone), so a late reply is simply dropped.
 *
 * Shutdown (h2o 2.2.5 recipe): stop and close the listener, request context shutdown,
 * shrink the request timeout so idle keep-alive connections close at once, answer every
 * request still arriving with Connection: close, run the loop until no connection is
 * left (or the drain deadline), then keep it running 1.1 s more so h2o's own shutdown
 * timers fire before the context is disposed.
 */
#define H2O_USE_LIBUV 0
#include <h2o.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csv/csv.h"
#include "server/http.h"

typedef struct http_worker {
    ldr_srv_worker *w;
    ldr_srv_http *h;
    pthread_t tid;
    bool started;
    int fd; /* the bound listening socket, until the loop adopts it */
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    h2o_socket_t *listener;
    h2o_multithread_receiver_t wake; /* NULL messages: look at `stop` */
    h2o_multithread_receiver_t done; /* finished synchronous jobs */
    size_t conns, max_conns;
    bool paused; /* listener not read because of max_conns */
    _Atomic bool stop;
    _Atomic bool ready;
    bool dead;         /* under srv->mu: the loop is gone, job replies are dropped */
    uint64_t requests; /* seen by on_req: busy polling watches it */
} http_worker;

struct ldr_srv_http {
    ldr_srv *srv;
    h2o_globalconf_t conf;
    bool conf_init;
    SSL_CTX *ssl;
    http_worker *workers;
    size_t n;
    int port;
    ldr_ts deadline;
};

static char alpn_http11_name[] = "http/1.1";
static const h2o_iovec_t alpn_http11[] = {{alpn_http11_name, 8}, {NULL, 0}};

/* ---- replies ------------------------------------------------------------------------------ */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static void access_log(http_worker *hw, h2o_req_t *req, int status, size_t bytes, ldr_ts t0,
                       ldr_ts t1)
{
    ldr_buf b;
    ldr_buf_init(&b, 8192);
    char ts[LDR_TS_BUFSZ];
    ldr_code rc = ldr_buf_printf(&b, NULL,
                                 "{\"ts\":\"%s\",\"level\":\"info\",\"type\":\"access\","
                                 "\"worker\":%u,\"method\":",
                                 ldr_ts_format(t1, ts), hw->w->id);
    if (rc == LDR_OK)
        rc = ldr_json_put_string(&b, req->method.base, req->method.len, NULL);
    if (rc == LDR_OK)
        rc = ldr_buf_puts(&b, ",\"path\":", NULL);
    if (rc == LDR_OK)
        rc = ldr_json_put_string(&b, req->path.base, req->path.len > 1024 ? 1024 : req->path.len,
                                 NULL);
    if (rc == LDR_OK)
        rc = ldr_buf_printf(&b, NULL, ",\"status\":%d,\"bytes\":%zu,\"duration_us\":%lld}\n",
                            status, bytes, (long long)(t1 - t0));
    if (rc == LDR_OK) {
        ssize_t n = write(STDERR_FILENO, b.ptr, b.len);
        (void)n;
    }
    ldr_buf_fini(&b);
}

static void send_reply(http_worker *hw, h2o_req_t *req, int status, const char *content_type,
                       const ldr_buf *body, ldr_srv_endpoint ep, ldr_ts t0)
{
    size_t len = body->len;
    char *copy = h2o_mem_alloc_pool(&req->pool, len ? len : 1);
    if (len)
        memcpy(copy, body->ptr, len);
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = len;
    if (content_type)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    if (hw->ctx.shutdown_requested || atomic_load(&hw->stop))
        req->http1_is_persistent = 0;
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(copy, len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
    ldr_ts t1 = ldr_ts_now();
    ldr_srv_metrics *m = &hw->w->metrics;
    int si = ldr__srv_status_index(status);
    pthread_mutex_lock(&m->mu);
    m->requests[ep][si]++;
    ldr__srv_hist_add(&m->latency[ep][si], LDR_H_LATENCY, (double)(t1 - t0) / 1e6);
    pthread_mutex_unlock(&m->mu);
    if (hw->h->srv->opts.access_log)
        access_log(hw, req, status, len, t0, t1);
}

/* ---- synchronous jobs ----------------------------------------------------------------------- */

typedef struct pending {
    h2o_multithread_message_t msg; /* first: the message is the struct */
    http_worker *hw;
    h2o_req_t *req;        /* NULL once the request was disposed */
    struct pending **slot; /* in the request's pool; cleared when the reply is sent */
    ldr_srv_job *job;
    ldr_srv_endpoint ep;
    ldr_ts t0;
} pending;

static void on_pending_dispose(void *p)
{
    pending **slot = p;
    if (*slot)
        (*slot)->req = NULL;
}

/* Job thread: hand the finished job to the worker's loop. */
static void on_job_done(ldr_srv_job *job)
{
    pending *p = job->done_ctx;
    ldr_srv *srv = p->hw->h->srv;
    pthread_mutex_lock(&srv->mu);
    bool dead = p->hw->dead;
    if (!dead)
        h2o_multithread_send_message(&p->hw->done, &p->msg);
    pthread_mutex_unlock(&srv->mu);
    if (dead) {
        ldr__srv_job_free(job);
        ldr_free(p);
    }
}

static void on_done_messages(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    (void)recv;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        pending *p = (pending *)m;
        if (p->req) {
            *p->slot = NULL;
            send_reply(p->hw, p->req, p->job->status, "application/json", &p->job->body, p->ep,
                       p->t0);
        }
        ldr__srv_job_free(p->job);
        ldr_free(p);
    }
}

static void start_pending(http_worker *hw, h2o_req_t *req, ldr_srv_job *job, ldr_srv_endpoint ep,
                          ldr_ts t0)
{
    pending *p = ldr_xcalloc(1, sizeof *p);
    p->hw = hw;
    p->req = req;
    p->ep = ep;
    p->t0 = t0;
    p->slot = h2o_mem_alloc_shared(&req->pool, sizeof *p->slot, on_pending_dispose);
    *p->slot = p;
    job->done = on_job_done;
    job->done_ctx = p;
    p->job = job;
    ldr__srv_job_start(job);
}

/* ---- requests ---------------------------------------------------------------------------------
 */

static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->method.len + req->path.len + 12;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    http_worker *hw = H2O_STRUCT_FROM_MEMBER(http_worker, ctx, req->conn->ctx);
    ldr_srv *srv = hw->h->srv;
    hw->requests++;
    ldr_ts t0 = ldr_ts_now();
    h2o_iovec_t path = req->path_normalized;
    ldr_srv_endpoint ep = ldr_srv_endpoint_of(path.base, path.len);
    ldr_srv_reply r;
    if (header_bytes(req) > srv->opts.limits.max_header) {
        memset(&r, 0, sizeof r);
        r.body = &hw->w->out;
        char msg[128];
        snprintf(msg, sizeof msg, "the request line and headers exceed %zu bytes",
                 srv->opts.limits.max_header);
        ldr__srv_reply_error(&r, 431, "HeadersTooLarge", msg);
        req->http1_is_persistent = 0;
        send_reply(hw, req, r.status, r.content_type, r.body, ep, t0);
        return 0;
    }
    const char *query = "";
    size_t query_len = 0;
    if (req->query_at != SIZE_MAX && req->query_at < req->path.len) {
        query = req->path.base + req->query_at + 1;
        query_len = req->path.len - req->query_at - 1;
    }
    ldr__srv_handle(hw->w, req->method.base, req->method.len, path.base, path.len, query, query_len,
                    req->entity.base ? req->entity.base : "", req->entity.len, &r);
    if (r.job) {
        start_pending(hw, req, r.job, ep, t0);
        return 0;
    }
    send_reply(hw, req, r.status, r.content_type, r.body, ep, t0);
    return 0;
}

/* ---- connections ------------------------------------------------------------------------------
 */

static void on_accept(h2o_socket_t *listener, const char *err);

static void on_sock_close(void *data)
{
    http_worker *hw = data;
    hw->conns--;
    ldr_srv_metrics *m = &hw->w->metrics;
    pthread_mutex_lock(&m->mu);
    m->connections--;
    pthread_mutex_unlock(&m->mu);
    if (hw->paused && hw->listener && hw->conns < hw->max_conns && !atomic_load(&hw->stop)) {
        hw->paused = false;
        h2o_socket_read_start(hw->listener, on_accept);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    http_worker *hw = listener->data;
    if (err)
        return;
    for (int i = 0; i < 16; i++) {
        if (hw->conns >= hw->max_conns) {
            hw->paused = true;
            h2o_socket_read_stop(listener);
            return;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock)
            return;
        hw->conns++;
        ldr_srv_metrics *m = &hw->w->metrics;
        pthread_mutex_lock(&m->mu);
        m->connections++;
        m->accepted++;
        pthread_mutex_unlock(&m->mu);
        sock->on_close.cb = on_sock_close;
        sock->on_close.data = hw;
        h2o_accept(&hw->actx, sock);
    }
}

static void on_wake(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages)
{
    (void)recv;
    (void)messages; /* only NULL messages are sent here */
}

/* ---- worker threads ---------------------------------------------------------------------------
 */

static void drain(http_worker *hw)
{
    if (hw->listener) {
        h2o_socket_read_stop(hw->listener);
        h2o_evloop_run(hw->loop, 0);
        h2o_socket_close(hw->listener);
        hw->listener = NULL;
    }
    h2o_context_request_shutdown(&hw->ctx);
    hw->ctx.http1.req_timeout.timeout = 300; /* idle keep-alive connections close now */
    ldr_ts shutdown_at = ldr_ts_now();
    while (hw->conns > 0 && ldr_ts_now() < hw->h->deadline)
        h2o_evloop_run(hw->loop, 50);
    /* h2o links HTTP/2 shutdown timers to its 1-second timeout even without HTTP/2
     * connections; disposing before they fire aborts. */
    while (ldr_ts_now() < shutdown_at + 1100000)
        h2o_evloop_run(hw->loop, 50);
}

/* The worker's event loop until stop. With --busy-poll, after a request the loop polls
 * (epoll_wait with no timeout) until busy_poll_us pass without one, and only then sleeps:
 * at low concurrency the next request is picked up without the wake-up of a sleeping
 * thread (on a VM an interrupt and a scheduler pass, often most of a request's latency),
 * paid for with CPU time while traffic is light. */
static void run_loop(http_worker *hw)
{
    ldr_ts window = (ldr_ts)hw->h->srv->opts.busy_poll_us;
    if (window == 0) {
        while (!atomic_load(&hw->stop))
            h2o_evloop_run(hw->loop, INT32_MAX);
        return;
    }
    ldr_ts last = ldr_ts_now();
    while (!atomic_load(&hw->stop)) {
        uint64_t seen = hw->requests;
        h2o_evloop_run(hw->loop, 0);
        ldr_ts now = ldr_ts_now();
        if (hw->requests != seen) {
            last = now;
        } else if (now - last > window) {
            h2o_evloop_run(hw->loop, INT32_MAX);
            last = ldr_ts_now();
        }
    }
}

static void *worker_main(void *arg)
{
    http_worker *hw = arg;
    ldr_srv *srv = hw->h->srv;
    hw->loop = h2o_evloop_create();
    h2o_context_init(&hw->ctx, hw->loop, &hw->h->conf);
    h2o_multithread_register_receiver(hw->ctx.queue, &hw->wake, on_wake);
    h2o_multithread_register_receiver(hw->ctx.queue, &hw->done, on_done_messages);
    hw->actx.ctx = &hw->ctx;
    hw->actx.hosts = hw->h->conf.hosts;
    hw->actx.ssl_ctx = hw->h->ssl;
    hw->listener = h2o_evloop_socket_create(hw->loop, hw->fd, H2O_SOCKET_FLAG_DONT_READ);
    hw->fd = -1; /* the socket owns it now */
    hw->listener->data = hw;
    h2o_socket_read_start(hw->listener, on_accept);
    atomic_store(&hw->ready, true);
    run_loop(hw);
    drain(hw);
    pthread_mutex_lock(&srv->mu);
    hw->dead = true;
    pthread_mutex_unlock(&srv->mu);
    /* Replies of jobs that finished after the drain: run them so nothing leaks. */
    h2o_evloop_run(hw->loop, 0);
    h2o_multithread_unregister_receiver(hw->ctx.queue, &hw->wake);
    h2o_multithread_unregister_receiver(hw->ctx.queue, &hw->done);
    h2o_context_dispose(&hw->ctx);
    h2o_evloop_run(hw->loop, 0); /* deferred closes of the context's sockets */
    h2o_evloop_destroy(hw->loop);
    /* h2o keeps freed socket buffers in a per-thread cache it never empties. Two more
     * allocations of 2.2.5 stay behind (the context's queue struct, which dispose closes
     * but does not free, and the static per-thread pool-chunk cache): the ASan tests
     * suppress exactly those (tests/integration/lsan-h2o.supp). */
    while (h2o_socket_buffer_prototype.allocator.cnt)
        ldr_free(h2o_mem_alloc_recycle(&h2o_socket_buffer_prototype.allocator, 1));
    hw->loop = NULL;
    return NULL;
}

/* ---- setup ------------------------------------------------------------------------------------
 */

static ldr_code bind_listener(const char *host, int port, int *out_fd, int *out_port, ldr_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai != 0)
        return ldr_err_setf(err, LDR_EINVAL, "cannot resolve --host %s: %s", host,
                            gai_strerror(gai));
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return ldr_err_sys(err, LDR_EIO, e, "cannot listen on %s:%d", host, port);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return LDR_OK;
}

static ldr_code setup_tls(ldr_srv_http *h, ldr_err *err)
{
    const ldr_srv_opts *o = &h->srv->opts;
    if (!o->tls_cert && !o->tls_key)
        return LDR_OK;
    if (!o->tls_cert || !o->tls_key)
        return ldr_err_setf(err, LDR_EINVAL, "give both --tls-cert and --tls-key");
    h->ssl = SSL_CTX_new(TLS_server_method());
    if (!h->ssl)
        return ldr_err_setf(err, LDR_EBACKEND, "cannot create a TLS context");
    SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
    const char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(h->ssl, o->tls_cert) != 1)
        what = "cannot load the certificate chain --tls-cert";
    else if (SSL_CTX_use_PrivateKey_file(h->ssl, o->tls_key, SSL_FILETYPE_PEM) != 1)
        what = "cannot load the private key --tls-key";
    else if (SSL_CTX_check_private_key(h->ssl) != 1)
        what = "the private key does not match the certificate";
    if (what) {
        char detail[256];
        ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
        return ldr_err_setf(err, LDR_EINVAL, "%s (%s, %s): %s", what, o->tls_cert, o->tls_key,
                            detail);
    }
    h2o_ssl_register_alpn_protocols(h->ssl, o->http2 ? h2o_alpn_protocols : alpn_http11);
    return LDR_OK;
}

static void setup_conf(ldr_srv_http *h)
{
    const ldr_srv_opts *o = &h->srv->opts;
    h2o_config_init(&h->conf);
    h->conf_init = true;
    h->conf.server_name = h2o_iovec_init(H2O_STRLIT("larder"));
    h->conf.max_request_entity_size = o->limits.max_body;
    h->conf.http1.req_timeout = o->limits.read_timeout_ms;
    h->conf.http1.upgrade_to_http2 = o->http2;
    h->conf.handshake_timeout = o->limits.read_timeout_ms;
    h->conf.http2.idle_timeout = o->limits.read_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&h->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pc, sizeof *handler);
    handler->on_req = on_req;
}

static ldr_code write_port_file(const char *path, int port, ldr_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", tmp);
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", path);
    return LDR_OK;
}

ldr_srv_http *ldr__http_open(ldr_srv *srv, ldr_err *err)
{
    ldr_srv_http *h = ldr_xcalloc(1, sizeof *h);
    h->srv = srv;
    h->n = srv->n_workers;
    h->workers = ldr_xcalloc(h->n, sizeof *h->workers);
    const ldr_srv_opts *o = &srv->opts;
    ldr_code rc = setup_tls(h, err);
    if (rc == LDR_OK)
        setup_conf(h);
    size_t per = (o->limits.max_connections + h->n - 1) / h->n;
    int port = o->port;
    for (size_t i = 0; i < h->n; i++) {
        http_worker *hw = &h->workers[i];
        hw->w = srv->workers[i];
        hw->h = h;
        hw->fd = -1;
        hw->max_conns = per ? per : 1;
        hw->w->http = hw;
        if (rc == LDR_OK)
            rc = bind_listener(o->host, port, &hw->fd, &port, err);
    }
    h->port = port;
    if (rc == LDR_OK && o->port_file)
        rc = write_port_file(o->port_file, port, err);
    if (rc != LDR_OK) {
        ldr__http_close(h);
        return NULL;
    }
    ldr_log(LDR_LOG_INFO, "listening on %s://%s:%d with %zu worker%s", h->ssl ? "https" : "http",
            o->host, port, h->n, h->n == 1 ? "" : "s");
    return h;
}

ldr_code ldr__http_start(ldr_srv_http *h, ldr_err *err)
{
    for (size_t i = 0; i < h->n; i++) {
        int rc = pthread_create(&h->workers[i].tid, NULL, worker_main, &h->workers[i]);
        if (rc != 0)
            return ldr_err_sys(err, LDR_EIO, rc, "cannot start worker thread %zu", i);
        h->workers[i].started = true;
    }
    for (size_t i = 0; i < h->n; i++) {
        while (!atomic_load(&h->workers[i].ready)) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return LDR_OK;
}

void ldr__http_stop(ldr_srv_http *h, ldr_ts deadline)
{
    if (!h)
        return;
    h->deadline = deadline;
    for (size_t i = 0; i < h->n; i++) {
        http_worker *hw = &h->workers[i];
        if (!hw->started)
            continue;
        atomic_store(&hw->stop, true);
        h2o_multithread_send_message(&hw->wake, NULL);
    }
    for (size_t i = 0; i < h->n; i++) {
        if (h->workers[i].started)
            pthread_join(h->workers[i].tid, NULL);
        h->workers[i].started = false;
    }
}

void ldr__http_close(ldr_srv_http *h)
{
    if (!h)
        return;
    ldr__http_stop(h, ldr_ts_now());
    for (size_t i = 0; i < h->n; i++)
        if (h->workers[i].fd >= 0)
            close(h->workers[i].fd);
    if (h->conf_init)
        h2o_config_dispose(&h->conf);
    SSL_CTX_free(h->ssl);
    ldr_free(h->workers);
    ldr_free(h);
}
