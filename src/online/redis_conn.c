/*
 * redis_conn.c -- the pipelining Redis client of redis_conn.h: Feast connection strings,
 * one standalone server or a Redis Cluster, over blocking hiredis 0.14 contexts.
 *
 * Key structures: ldr_redis holds every node it has heard of (seeds, CLUSTER SLOTS
 * entries, redirect targets) in `nodes`, each with its lazily opened redisContext and
 * reconnect backoff; `slot_node[slot]` is 1 + the index of the primary serving a slot
 * (0 = unknown) and `primaries` lists the primaries in CLUSTER SLOTS order. Standalone
 * mode is the same machinery with one node, every slot mapped to it and no redirects.
 *
 * One exec is a sequence of rounds. A round queues every unfinished command on its
 * node, writes and flushes every node's queue, then reads the replies node by node.
 * MOVED updates the slot and schedules a full map refresh, ASK sends ASKING + the
 * command to the named node once, CLUSTERDOWN/TRYAGAIN wait a little (bounded), and a
 * connection failure drops the context, refreshes the map and retries the affected
 * commands once. Every round either finishes commands or spends a bounded per-command
 * budget, so an exec always ends. Scratch arrays live in the handle and are reused.
 *
 * Invariants: a context is either healthy or freed (never kept with c->err set), and
 * every reply of a round is read before exec returns, so a kept connection never holds
 * stale replies; a node in backoff (retry_at in the future) is not dialled: commands for
 * it fail at once. Waits are bounded by the connect and read timeouts (set on every
 * socket). SIGPIPE is blocked around our I/O unless the process ignores it.
 * Everything is allocated with the ldr_x* allocators except hiredis's own objects.
 * Thread-safety: none; one thread uses a handle at a time (redis_conn.h).
 */
#include "online/redis_conn.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#define NSLOTS           16384
#define MAX_REDIRECTS    5 /* MOVED/ASK followed per command and exec */
#define MAX_BUSY_RETRIES 5 /* CLUSTERDOWN/TRYAGAIN rounds: 20+40+80+160+320 ms */
#define BUSY_SLEEP_MS    20
#define BACKOFF_MIN_MS   10   /* reconnect backoff per node: 10 ms doubling ... */
#define BACKOFF_MAX_MS   1000 /* ... to 1 s */
#define MAX_NODES        4096 /* slot_node holds uint16_t indices */
#define DEFAULT_PORT     6379
#define DEFAULT_TIMEOUT  2000
#define NODE_MSG_LEN     256 /* as ldr_err.msg */

typedef struct rnode {
    char *host; /* caller owns: ldr_xstrdup */
    int port;
    redisContext *c;         /* NULL when not connected */
    int64_t retry_at_ms;     /* monotonic ms before which no connect is attempted */
    int backoff_ms;          /* the current backoff step, 0 while healthy */
    char down[NODE_MSG_LEN]; /* why the last connect failed (for fail-fast messages) */
    size_t *q;               /* this round: indices of queued commands, in send order */
    size_t q_n, q_cap;
    bool failed;             /* this round: connection lost; q[q_ok..] need a retry */
    size_t q_ok;             /* this round: replies read before the failure */
    char fail[NODE_MSG_LEN]; /* this round: the failure, for the batch error */
} rnode;

/* Per-command state of one exec. */
typedef struct cstate {
    size_t node; /* where the command goes next */
    unsigned redirects;
    bool asking; /* send ASKING first (one ASK redirect) */
    bool conn_retried;
    bool done;
} cstate;

struct ldr_redis {
    bool cluster;
    int db;
    char *password, *username; /* caller owns; NULL when unset */
    int connect_ms, read_ms;
    rnode *nodes;
    size_t n_nodes, cap_nodes;
    size_t n_seeds; /* nodes[0..n_seeds) are the configured hosts */
    size_t *primaries;
    size_t n_primaries;
    uint16_t *slot_node; /* NSLOTS entries: 1 + node index, 0 = unknown */
    cstate *st;          /* exec scratch, grown as needed */
    size_t st_cap;
    bool sigpipe_ignored; /* SIGPIPE was SIG_IGN at open: no guard needed */
    unsigned flags;       /* ldr_redis_exec_flag of the exec running, 0 between execs */
};

/* ---- Small helpers --------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* hiredis writes with write(2), so a peer that closed its end raises SIGPIPE, which
 * kills a process that has not ignored it (the server does; a CLI may not). Unless the
 * process ignores SIGPIPE, the calling thread blocks it around our I/O, and a SIGPIPE
 * that we caused is consumed before the mask is restored; the write itself fails with
 * EPIPE and is handled as a lost connection. */
typedef struct pipe_guard {
    bool active;
    sigset_t old;
} pipe_guard;

static void pipe_guard_on(const ldr_redis *r, pipe_guard *g)
{
    g->active = false;
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    if (r->sigpipe_ignored || sigpending(&pending) != 0 || sigismember(&pending, SIGPIPE))
        return; /* a SIGPIPE already pending is not ours to consume */
    g->active = pthread_sigmask(SIG_BLOCK, &pipe, &g->old) == 0;
}

static void pipe_guard_off(pipe_guard *g)
{
    if (!g->active)
        return;
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    struct timespec zero = {0, 0};
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {
        }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- CRC16 and hash slots ---------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection, as the Redis
 * Cluster specification defines for key hash slots. Bitwise: keys are short. */
static uint16_t crc16(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc = (uint16_t)(crc ^ (uint16_t)(p[i] << 8));
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

uint16_t ldr_redis_slot(const void *key, size_t len)
{
    const unsigned char *k = key;
    /* Hash tag: the bytes between the first '{' and the first '}' after it, when
     * non-empty; otherwise the whole key. */
    const unsigned char *open = len ? memchr(k, '{', len) : NULL;
    if (open) {
        size_t start = (size_t)(open - k) + 1;
        const unsigned char *close = memchr(k + start, '}', len - start);
        if (close && close > k + start)
            return (uint16_t)(crc16(k + start, (size_t)(close - (k + start))) % NSLOTS);
    }
    return (uint16_t)(crc16(k, len) % NSLOTS);
}

/* ---- Connection strings ---------------------------------------------------------------- */

static const char *const opt_names[] = {"db", "password", "username", "ssl"};

static ldr_code parse_int(const char *s, size_t len, long lo, long hi, long *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof buf)
        return LDR_ECONFIG;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || buf[0] == '+' || buf[0] == '-' || buf[0] == ' ' || v < lo || v > hi)
        return LDR_ECONFIG;
    *out = v;
    return LDR_OK;
}

static ldr_code parse_hostport(const char *s, size_t len, ldr_arena *a, const char **out_host,
                               int *out_port, ldr_err *err)
{
    char q[LDR_QUOTE_BUFSZ];
    const char *host = s, *colon = NULL;
    size_t host_len = len;
    if (len && s[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(s, ']', len);
        if (!close || (close + 1 < s + len && close[1] != ':'))
            return ldr_err_setf(err, LDR_ECONFIG, "redis connection_string: bad host \"%s\"",
                                ldr__quote(s, len, q));
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1 < s + len ? close + 1 : NULL;
    } else {
        colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (colon && memchr(colon + 1, ':', len - host_len - 1))
            return ldr_err_setf(err, LDR_ECONFIG,
                                "redis connection_string: bad host \"%s\" (write IPv6 "
                                "addresses in brackets: [::1]:6379)",
                                ldr__quote(s, len, q));
    }
    if (host_len == 0)
        return ldr_err_setf(err, LDR_ECONFIG, "redis connection_string: empty host in \"%s\"",
                            ldr__quote(s, len, q));
    long port = DEFAULT_PORT;
    if (colon && parse_int(colon + 1, len - (size_t)(colon + 1 - s), 1, 65535, &port))
        return ldr_err_setf(err, LDR_ECONFIG,
                            "redis connection_string: bad port in \"%s\" (expected 1-65535)",
                            ldr__quote(s, len, q));
    *out_host = ldr_arena_strndup(a, host, host_len);
    *out_port = (int)port;
    return LDR_OK;
}

static ldr_code parse_option(const char *s, size_t len, ldr_arena *a, ldr_redis_opts *o,
                             ldr_err *err)
{
    char q[LDR_QUOTE_BUFSZ];
    const char *eq = memchr(s, '=', len);
    char *key = ldr_arena_strndup(a, s, (size_t)(eq - s));
    const char *val = eq + 1;
    size_t val_len = len - (size_t)(val - s);
    if (ldr_strieq(key, "db")) {
        long db;
        if (parse_int(val, val_len, 0, INT_MAX, &db))
            return ldr_err_setf(err, LDR_ECONFIG,
                                "redis connection_string: bad db \"%s\" (expected an integer "
                                ">= 0)",
                                ldr__quote(val, val_len, q));
        o->db = (int)db;
    } else if (ldr_strieq(key, "password")) {
        o->password = val_len ? ldr_arena_strndup(a, val, val_len) : NULL;
    } else if (ldr_strieq(key, "username")) {
        o->username = val_len ? ldr_arena_strndup(a, val, val_len) : NULL;
    } else if (ldr_strieq(key, "ssl")) {
        char *v = ldr_arena_strndup(a, val, val_len);
        if (!ldr_strieq(v, "true") && !ldr_strieq(v, "false"))
            return ldr_err_setf(err, LDR_ECONFIG,
                                "redis connection_string: bad ssl \"%s\" (expected true or "
                                "false)",
                                ldr__quote(val, val_len, q));
        o->ssl = ldr_strieq(v, "true");
    } else {
        const char *hint = ldr_did_you_mean(key, opt_names, LDR_ARRAY_LEN(opt_names));
        return ldr_err_setf(err, LDR_ECONFIG,
                            "redis connection_string: unknown option \"%s\"%s%s%s (known: db, "
                            "password, username, ssl)",
                            ldr__quote(key, strlen(key), q), hint ? "; did you mean \"" : "",
                            hint ? hint : "", hint ? "\"?" : "");
    }
    return LDR_OK;
}

static ldr_code check_opts(const ldr_redis_opts *o, ldr_err *err)
{
    if (o->n_hosts == 0)
        return ldr_err_setf(err, LDR_ECONFIG, "redis connection_string: no host:port given");
    if (o->ssl)
        return ldr_err_setf(err, LDR_ECONFIG,
                            "redis connection_string: ssl=true is not supported (Larder's "
                            "Redis client has no TLS); use a TLS proxy such as stunnel, or "
                            "ssl=false");
    if (o->cluster && o->db != 0)
        return ldr_err_setf(err, LDR_ECONFIG,
                            "redis connection_string: db=%d with redis_type redis_cluster "
                            "(a cluster has only database 0)",
                            o->db);
    return LDR_OK;
}

ldr_code ldr_redis_opts_parse(const char *conn, bool cluster, ldr_arena *a, ldr_redis_opts *o,
                              ldr_err *err)
{
    memset(o, 0, sizeof *o);
    o->cluster = cluster;
    o->connect_timeout_ms = DEFAULT_TIMEOUT;
    o->read_timeout_ms = DEFAULT_TIMEOUT;
    if (!conn || !*conn)
        return ldr_err_setf(err, LDR_ECONFIG, "redis connection_string is empty");
    size_t cap = 1;
    for (const char *p = conn; *p; p++)
        cap += *p == ',';
    const char **hosts = ldr_arena_calloc(a, cap, sizeof(char *));
    int *ports = ldr_arena_calloc(a, cap, sizeof(int));
    o->hosts = hosts;
    o->ports = ports;
    size_t item = 1;
    for (const char *p = conn;; item++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        bool option = memchr(p, '=', len) != NULL;
        while (!option && len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--; /* an option's value is kept verbatim (a password may end in a space) */
        ldr_code rc = LDR_OK;
        if (len == 0) /* the string is not quoted: it may hold a password */
            rc = ldr_err_setf(err, LDR_ECONFIG,
                              "redis connection_string: empty item %zu (stray comma)", item);
        else if (option)
            rc = parse_option(p, len, a, o, err);
        else if ((rc = parse_hostport(p, len, a, &hosts[o->n_hosts], &ports[o->n_hosts], err)) ==
                 LDR_OK)
            o->n_hosts++;
        if (rc)
            return rc;
        if (!end)
            break;
        p = end + 1;
    }
    return check_opts(o, err);
}

/* ---- Nodes and connections ------------------------------------------------------------- */

static size_t node_find(ldr_redis *r, const char *host, size_t host_len, int port)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i].port == port && strlen(r->nodes[i].host) == host_len &&
            memcmp(r->nodes[i].host, host, host_len) == 0)
            return i;
    return SIZE_MAX;
}

/* The index of node host:port, added when new. */
static size_t node_get(ldr_redis *r, const char *host, size_t host_len, int port)
{
    size_t i = node_find(r, host, host_len, port);
    if (i != SIZE_MAX)
        return i;
    LDR_ASSERT(r->n_nodes < MAX_NODES);
    if (r->n_nodes == r->cap_nodes) {
        r->cap_nodes = r->cap_nodes ? 2 * r->cap_nodes : 8;
        r->nodes = ldr_xreallocarray(r->nodes, r->cap_nodes, sizeof *r->nodes);
    }
    rnode *nd = &r->nodes[r->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->host = ldr_xstrndup(host, host_len);
    nd->port = port;
    return r->n_nodes++;
}

static void node_drop(rnode *nd)
{
    if (nd->c) {
        redisFree(nd->c);
        nd->c = NULL;
    }
}

/* Records a failed connect or a read timeout and schedules the next attempt (10 ms
 * doubling to 1 s, until the node answers again). */
static void node_backoff(rnode *nd, const char *why)
{
    nd->backoff_ms = nd->backoff_ms ? nd->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (nd->backoff_ms > BACKOFF_MAX_MS)
        nd->backoff_ms = BACKOFF_MAX_MS;
    nd->retry_at_ms = now_ms() + nd->backoff_ms;
    snprintf(nd->down, sizeof nd->down, "%s", why);
}

/* One synchronous command on a fresh connection (AUTH, SELECT): false with `why` set
 * when it fails or Redis answers with an error. */
static bool setup_command(redisContext *c, int argc, const char **argv, char *why, size_t cap)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep) {
        snprintf(why, cap, "%s failed: %s", argv[0], c->errstr);
        return false;
    }
    bool ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(why, cap, "%s failed: %s", argv[0], rep->str);
    freeReplyObject(rep);
    return ok;
}

static bool connect_setup(const ldr_redis *r, redisContext *c, char *why, size_t cap)
{
    if (redisSetTimeout(c, ms_tv(r->read_ms)) != REDIS_OK) {
        snprintf(why, cap, "setting the read timeout: %s", c->errstr);
        return false;
    }
    if (r->password) {
        const char *auth_user[] = {"AUTH", r->username, r->password};
        const char *auth[] = {"AUTH", r->password};
        bool ok = r->username ? setup_command(c, 3, auth_user, why, cap)
                              : setup_command(c, 2, auth, why, cap);
        if (!ok)
            return false;
    }
    if (r->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *sel[] = {"SELECT", db};
        if (!setup_command(c, 2, sel, why, cap))
            return false;
    }
    return true;
}

/* Makes sure node i has a healthy context. On failure (or during backoff) sets err
 * (LDR_EBACKEND naming host:port) and returns false without waiting. */
static bool node_connect(ldr_redis *r, size_t i, ldr_err *err)
{
    rnode *nd = &r->nodes[i];
    if (nd->c)
        return true;
    int64_t now = now_ms();
    if (now < nd->retry_at_ms) {
        ldr_err_setf(err, LDR_EBACKEND,
                     "redis %s:%d: unavailable (%s); next reconnect attempt in %d ms", nd->host,
                     nd->port, nd->down, (int)(nd->retry_at_ms - now));
        return false;
    }
    char why[NODE_MSG_LEN];
    redisContext *c = redisConnectWithTimeout(nd->host, nd->port, ms_tv(r->connect_ms));
    if (!c)
        snprintf(why, sizeof why, "cannot allocate a connection");
    else if (c->err)
        snprintf(why, sizeof why, "connect: %s", c->errstr);
    if (!c || c->err || !connect_setup(r, c, why, sizeof why)) {
        if (c)
            redisFree(c);
        node_backoff(nd, why);
        ldr_err_setf(err, LDR_EBACKEND, "redis %s:%d: %s", nd->host, nd->port, why);
        return false;
    }
    nd->c = c;
    nd->retry_at_ms = 0; /* backoff_ms is reset by a reply, not by a connect: a hung
                          * server still accepts connections (the kernel does) */
    return true;
}

/* Describes the error of a context after a failed read or write, then drops it. A read
 * timeout also starts the node's backoff: a node that stopped answering is not waited
 * for again at once (the retry goes to a new owner, or fails fast). */
static void node_lost(ldr_redis *r, rnode *nd, int errnum)
{
    redisContext *c = nd->c;
    if (c->err == REDIS_ERR_IO &&
        (errnum == EAGAIN || errnum == EWOULDBLOCK || strstr(c->errstr, "temporarily"))) {
        char why[64];
        snprintf(why, sizeof why, "read timeout: no reply within %d ms", r->read_ms);
        snprintf(nd->fail, sizeof nd->fail, "redis %s:%d: %s", nd->host, nd->port, why);
        node_backoff(nd, why);
    } else {
        snprintf(nd->fail, sizeof nd->fail, "redis %s:%d: connection lost: %s", nd->host, nd->port,
                 c->errstr[0] ? c->errstr : "I/O error");
    }
    node_drop(nd);
}

/* ---- Slot map -------------------------------------------------------------------------- */

/* Checks one CLUSTER SLOTS entry: [start, end, [host, port, ...], replicas...]. */
static bool slots_entry_ok(const redisReply *ent)
{
    if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 3 ||
        ent->element[0]->type != REDIS_REPLY_INTEGER ||
        ent->element[1]->type != REDIS_REPLY_INTEGER ||
        ent->element[2]->type != REDIS_REPLY_ARRAY || ent->element[2]->elements < 2)
        return false;
    long long lo = ent->element[0]->integer, hi = ent->element[1]->integer;
    const redisReply *h = ent->element[2]->element[0], *p = ent->element[2]->element[1];
    return lo >= 0 && hi < NSLOTS && lo <= hi && h->type == REDIS_REPLY_STRING &&
           p->type == REDIS_REPLY_INTEGER && p->integer >= 1 && p->integer <= 65535;
}

/* Applies one CLUSTER SLOTS reply obtained from node `from` (whose host stands in for an
 * empty host, per the spec). False, changing nothing, when the reply is malformed. */
static bool slots_apply(ldr_redis *r, const redisReply *rep, size_t from, uint16_t *map)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return false;
    for (size_t e = 0; e < rep->elements; e++)
        if (!slots_entry_ok(rep->element[e]))
            return false;
    memset(map, 0, NSLOTS * sizeof *map);
    size_t *prim = ldr_xmalloc(rep->elements * sizeof *prim), n_prim = 0;
    for (size_t e = 0; e < rep->elements; e++) {
        const redisReply *ent = rep->element[e];
        const redisReply *h = ent->element[2]->element[0], *p = ent->element[2]->element[1];
        const char *host = h->len ? h->str : r->nodes[from].host;
        size_t host_len = h->len ? h->len : strlen(host);
        size_t node = node_get(r, host, host_len, (int)p->integer);
        for (long long s = ent->element[0]->integer; s <= ent->element[1]->integer; s++)
            map[s] = (uint16_t)(node + 1);
        bool seen = false;
        for (size_t k = 0; k < n_prim; k++)
            seen = seen || prim[k] == node;
        if (!seen)
            prim[n_prim++] = node;
    }
    ldr_free(r->primaries);
    r->primaries = prim;
    r->n_primaries = n_prim;
    memcpy(r->slot_node, map, NSLOTS * sizeof *map);
    return true;
}

/* Asks node i for CLUSTER SLOTS and applies the answer. */
static bool slots_load_from(ldr_redis *r, size_t i, uint16_t *map, ldr_err *err)
{
    if (!node_connect(r, i, err))
        return false;
    redisReply *rep = redisCommand(r->nodes[i].c, "CLUSTER SLOTS");
    if (!rep) {
        node_lost(r, &r->nodes[i], errno);
        ldr_err_setf(err, LDR_EBACKEND, "%s (CLUSTER SLOTS)", r->nodes[i].fail);
        return false;
    }
    r->nodes[i].backoff_ms = 0; /* the node answers */
    bool ok = rep->type != REDIS_REPLY_ERROR && slots_apply(r, rep, i, map);
    const rnode *nd = &r->nodes[i]; /* after slots_apply, which may add nodes */
    if (!ok && rep->type == REDIS_REPLY_ERROR)
        ldr_err_setf(err, LDR_EBACKEND, "redis %s:%d: CLUSTER SLOTS failed: %s%s", nd->host,
                     nd->port, rep->str,
                     strstr(rep->str, "cluster support disabled")
                         ? " (redis_type redis_cluster needs a Redis Cluster)"
                         : "");
    else if (!ok)
        ldr_err_setf(err, LDR_EBACKEND, "redis %s:%d: malformed or empty CLUSTER SLOTS reply",
                     nd->host, nd->port);
    freeReplyObject(rep);
    return ok;
}

/* Reloads the slot map from any reachable node: connected nodes first, then the others
 * not in backoff, seeds included. err describes the last failure. */
static bool slots_refresh(ldr_redis *r, ldr_err *err)
{
    if (!r->cluster)
        return true;
    uint16_t *map = ldr_xmalloc(NSLOTS * sizeof *map);
    bool ok = false;
    int64_t now = now_ms();
    for (int pass = 0; pass < 2 && !ok; pass++) {
        for (size_t i = 0; i < r->n_nodes && !ok; i++) {
            const rnode *nd = &r->nodes[i];
            bool connected = nd->c != NULL;
            if ((pass == 0) != connected || (!connected && now < nd->retry_at_ms))
                continue;
            ok = slots_load_from(r, i, map, err);
        }
    }
    if (!ok && err && err->code == LDR_OK)
        ldr_err_setf(err, LDR_EBACKEND, "redis cluster: no node reachable for CLUSTER SLOTS");
    ldr_free(map);
    return ok;
}

/* ---- Open and close -------------------------------------------------------------------- */

static ldr_redis *redis_new(const ldr_redis_opts *o)
{
    ldr_redis *r = ldr_xcalloc(1, sizeof *r);
    r->cluster = o->cluster;
    r->db = o->db;
    r->password = o->password ? ldr_xstrdup(o->password) : NULL;
    r->username = o->username && o->password ? ldr_xstrdup(o->username) : NULL;
    r->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_TIMEOUT;
    r->read_ms = o->read_timeout_ms > 0 ? o->read_timeout_ms : DEFAULT_TIMEOUT;
    r->slot_node = ldr_xcalloc(NSLOTS, sizeof *r->slot_node);
    struct sigaction sa;
    r->sigpipe_ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
    for (size_t i = 0; i < o->n_hosts; i++)
        node_get(r, o->hosts[i], strlen(o->hosts[i]), o->ports[i]);
    r->n_seeds = r->n_nodes;
    return r;
}

ldr_redis *ldr_redis_open(const ldr_redis_opts *o, ldr_err *err)
{
    if (check_opts(o, err))
        return NULL;
    ldr_redis *r = redis_new(o);
    pipe_guard g;
    pipe_guard_on(r, &g);
    bool ok;
    if (!r->cluster) {
        /* Standalone: the first host serves every slot; further hosts are ignored. */
        r->primaries = ldr_xmalloc(sizeof(size_t));
        r->primaries[0] = 0;
        r->n_primaries = 1;
        for (size_t s = 0; s < NSLOTS; s++)
            r->slot_node[s] = 1;
        ok = node_connect(r, 0, err);
    } else {
        ldr_err_clear(err);
        ok = slots_refresh(r, err);
    }
    pipe_guard_off(&g);
    if (ok)
        return r;
    ldr_redis_close(r);
    return NULL;
}

void ldr_redis_close(ldr_redis *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_nodes; i++) {
        node_drop(&r->nodes[i]);
        ldr_free(r->nodes[i].host);
        ldr_free(r->nodes[i].q);
    }
    ldr_free(r->nodes);
    ldr_free(r->primaries);
    ldr_free(r->slot_node);
    ldr_free(r->st);
    ldr_free(r->password);
    ldr_free(r->username);
    ldr_free(r);
}

void ldr_redis_replies_free(struct redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

size_t ldr_redis_node_count(ldr_redis *r)
{
    return r->n_primaries;
}

/* ---- Exec: one round ------------------------------------------------------------------- */

/* The node for a command: its slot's primary, or any primary for keyless commands and
 * slots with no known owner (that node answers MOVED). */
static size_t route(const ldr_redis *r, const ldr_redis_cmd *cmd)
{
    if (cmd->key && r->cluster) { /* standalone: one node, no slot to compute */
        uint16_t n = r->slot_node[ldr_redis_slot(cmd->key, cmd->key_len)];
        if (n)
            return (size_t)n - 1;
    }
    return r->n_primaries ? r->primaries[0] : 0;
}

/* RESP encoding of commands, done here rather than by hiredis's redisAppendCommandArgv:
 * that one grows an sds string per argument with a printf-like formatter, which was a
 * third of the client's instructions in a materialization (BENCHMARKS.md, callgrind).
 * A node's whole queue is encoded into one buffer, sized exactly beforehand, and handed
 * to hiredis with one redisAppendFormattedCommand. */
#define RESP_ASKING "*1\r\n$6\r\nASKING\r\n"

static size_t dec_len(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_dec(char *p, size_t v)
{
    size_t n = dec_len(v);
    for (size_t i = n; i-- > 0; v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* "*argc\r\n" then "$len\r\n<bytes>\r\n" per argument. */
static size_t resp_size(const ldr_redis_cmd *cmd)
{
    LDR_ASSERT(cmd->argc > 0);
    size_t len = 3 + dec_len((size_t)cmd->argc);
    for (int i = 0; i < cmd->argc; i++)
        len += 5 + dec_len(cmd->argv_len[i]) + cmd->argv_len[i];
    return len;
}

static char *resp_write(char *p, const ldr_redis_cmd *cmd)
{
    *p++ = '*';
    p = put_dec(p, (size_t)cmd->argc);
    *p++ = '\r';
    *p++ = '\n';
    for (int i = 0; i < cmd->argc; i++) {
        size_t len = cmd->argv_len[i];
        *p++ = '$';
        p = put_dec(p, len);
        *p++ = '\r';
        *p++ = '\n';
        if (len)
            memcpy(p, cmd->argv[i], len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    return p;
}

static void queue_push(rnode *nd, size_t i)
{
    if (nd->q_n == nd->q_cap) {
        nd->q_cap = nd->q_cap ? 2 * nd->q_cap : 16;
        nd->q = ldr_xreallocarray(nd->q, nd->q_cap, sizeof *nd->q);
    }
    nd->q[nd->q_n++] = i;
}

/* Appends a node's queue to its context and writes it out. False (node->fail set, context
 * dropped) when the node cannot be reached or the write fails. */
static bool node_send(ldr_redis *r, rnode *nd, size_t node, const ldr_redis_cmd *cmds)
{
    ldr_err e;
    ldr_err_clear(&e);
    if (!nd->c && (r->flags & LDR_REDIS_NO_RECONNECT)) {
        snprintf(nd->fail, sizeof nd->fail,
                 "redis %s:%d: connection lost since the previous command (not reopened: "
                 "its state, such as WATCH, would be gone)",
                 nd->host, nd->port);
        return false;
    }
    if (!node_connect(r, node, &e)) {
        snprintf(nd->fail, sizeof nd->fail, "%s", e.msg);
        return false;
    }
    size_t len = 0;
    for (size_t k = 0; k < nd->q_n; k++)
        len += resp_size(&cmds[nd->q[k]]) + (r->st[nd->q[k]].asking ? sizeof RESP_ASKING - 1 : 0);
    char *buf = ldr_xmalloc(len + 1), *p = buf;
    for (size_t k = 0; k < nd->q_n; k++) {
        if (r->st[nd->q[k]].asking) {
            memcpy(p, RESP_ASKING, sizeof RESP_ASKING - 1);
            p += sizeof RESP_ASKING - 1;
        }
        p = resp_write(p, &cmds[nd->q[k]]);
    }
    LDR_ASSERT((size_t)(p - buf) == len);
    int added = redisAppendFormattedCommand(nd->c, buf, len);
    ldr_free(buf);
    if (added != REDIS_OK)
        ldr__assert_fail("redisAppendFormattedCommand: out of memory", __FILE__, __LINE__);
    int done = 0;
    while (!done) {
        if (redisBufferWrite(nd->c, &done) != REDIS_OK) {
            node_lost(r, nd, errno);
            return false;
        }
    }
    return true;
}

/* Parses "MOVED <slot> <host>:<port>" / "ASK ..." (after the word) into slot and node. */
static bool parse_redirect(ldr_redis *r, const char *s, size_t from, uint16_t *slot, size_t *node)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != ' ' || v < 0 || v >= NSLOTS)
        return false;
    const char *addr = end + 1, *colon = strrchr(addr, ':');
    long port;
    if (!colon || parse_int(colon + 1, strlen(colon + 1), 1, 65535, &port))
        return false;
    const char *host = colon > addr ? addr : r->nodes[from].host;
    size_t host_len = colon > addr ? (size_t)(colon - addr) : strlen(host);
    *slot = (uint16_t)v;
    *node = node_get(r, host, host_len, (int)port);
    return true;
}

typedef enum verdict { V_DONE, V_RETRY, V_BUSY, V_REFRESH, V_FAIL } verdict;

/* Classifies the reply of command i from node `from`: a result (kept), a redirect (state
 * updated), or a busy cluster. */
static verdict classify(ldr_redis *r, size_t i, size_t from, redisReply *rep, ldr_err *err)
{
    cstate *st = &r->st[i];
    bool moved = !strncmp(rep->str, "MOVED ", 6), ask = !strncmp(rep->str, "ASK ", 4);
    if (moved || ask) {
        uint16_t slot;
        size_t node;
        if (!parse_redirect(r, rep->str + (moved ? 6 : 4), from, &slot, &node))
            return V_DONE; /* not a redirect we understand: the caller sees the error */
        if (++st->redirects > MAX_REDIRECTS) {
            ldr_err_setf(err, LDR_EBACKEND,
                         "redis %s:%d: more than %d redirects for one command (last: %s)",
                         r->nodes[from].host, r->nodes[from].port, MAX_REDIRECTS, rep->str);
            return V_FAIL;
        }
        st->node = node;
        st->asking = ask;
        if (moved)
            r->slot_node[slot] = (uint16_t)(node + 1);
        return moved ? V_REFRESH : V_RETRY;
    }
    if (!strncmp(rep->str, "TRYAGAIN", 8) || !strncmp(rep->str, "CLUSTERDOWN", 11))
        return V_BUSY;
    return V_DONE;
}

typedef struct round_state {
    bool refresh, busy;
    bool fatal; /* err is set: the batch fails once every reply of the round is read */
    char busy_msg[NODE_MSG_LEN];
} round_state;

/* Reads the replies of one node's queue, all of them even after a batch-fatal error (so
 * the connection stays in step with its requests). A lost connection marks the node
 * failed; the commands from q[q_ok] on then need a retry. */
static void node_recv(ldr_redis *r, size_t node, bool follow, redisReply **replies, round_state *rs,
                      ldr_err *err)
{
    for (r->nodes[node].q_ok = 0; r->nodes[node].q_ok < r->nodes[node].q_n; r->nodes[node].q_ok++) {
        rnode *nd = &r->nodes[node]; /* classify may add nodes (and move the array) */
        size_t i = nd->q[nd->q_ok];
        void *v = NULL;
        int got = REDIS_OK;
        if (r->st[i].asking && (got = redisGetReply(nd->c, &v)) == REDIS_OK)
            freeReplyObject(v); /* ASKING's +OK */
        if (got == REDIS_OK)
            got = redisGetReply(nd->c, &v);
        if (got != REDIS_OK) {
            node_lost(r, nd, errno);
            nd->failed = true;
            return;
        }
        redisReply *rep = v;
        r->st[i].asking = false;
        nd->backoff_ms = 0; /* the node answers */
        verdict vd = follow && rep->type == REDIS_REPLY_ERROR && !rs->fatal
                         ? classify(r, i, node, rep, err)
                         : V_DONE;
        if (vd == V_DONE) {
            replies[i] = rep;
            r->st[i].done = true;
            continue;
        }
        if (vd == V_BUSY)
            snprintf(rs->busy_msg, sizeof rs->busy_msg, "redis %s:%d: %s", r->nodes[node].host,
                     r->nodes[node].port, rep->str);
        freeReplyObject(rep);
        rs->fatal |= vd == V_FAIL;
        rs->busy |= vd == V_BUSY;
        rs->refresh |= vd == V_REFRESH || vd == V_BUSY;
    }
}

/* After a round: commands of a failed node get their one retry, or fail the batch. */
static bool retry_failed(ldr_redis *r, size_t node, round_state *rs, ldr_err *err)
{
    rnode *nd = &r->nodes[node];
    for (size_t k = nd->q_ok; k < nd->q_n; k++) {
        cstate *st = &r->st[nd->q[k]];
        if (st->conn_retried || (r->flags & LDR_REDIS_NO_RETRY)) {
            ldr_err_setf(err, LDR_EBACKEND, "%s", nd->fail);
            return false;
        }
        st->conn_retried = true;
        st->asking = false;
        rs->refresh = true;
    }
    return true;
}

/* One round: queue, send, receive. Returns LDR_OK (maybe with commands left) or the
 * batch error. fixed is SIZE_MAX for routed execs, else the only node to use. */
static ldr_code run_round(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n, size_t fixed,
                          redisReply **replies, round_state *rs, ldr_err *err)
{
    for (size_t j = 0; j < r->n_nodes; j++) {
        r->nodes[j].q_n = 0;
        r->nodes[j].failed = false;
    }
    for (size_t i = 0; i < n; i++)
        if (!r->st[i].done)
            queue_push(&r->nodes[r->st[i].node], i);
    for (size_t j = 0; j < r->n_nodes; j++) {
        rnode *nd = &r->nodes[j];
        if (nd->q_n && !node_send(r, nd, j, cmds)) {
            nd->failed = true;
            nd->q_ok = 0;
        }
    }
    bool follow = r->cluster && fixed == SIZE_MAX;
    for (size_t j = 0; j < r->n_nodes; j++)
        if (r->nodes[j].q_n && !r->nodes[j].failed)
            node_recv(r, j, follow, replies, rs, err);
    ldr_code rc = rs->fatal ? LDR_EBACKEND : LDR_OK;
    for (size_t j = 0; j < r->n_nodes && rc == LDR_OK; j++)
        if (r->nodes[j].q_n && r->nodes[j].failed && !retry_failed(r, j, rs, err))
            rc = LDR_EBACKEND;
    return rc;
}

/* ---- Exec ------------------------------------------------------------------------------ */

static void st_reserve(ldr_redis *r, size_t n)
{
    if (n <= r->st_cap)
        return;
    r->st = ldr_xreallocarray(r->st, n, sizeof *r->st);
    r->st_cap = n;
}

static size_t count_left(const ldr_redis *r, size_t n)
{
    size_t left = 0;
    for (size_t i = 0; i < n; i++)
        left += !r->st[i].done;
    return left;
}

/* Re-routes unfinished commands after a refresh (except those going to an ASK target). */
static void reroute(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!r->st[i].done && !r->st[i].asking)
            r->st[i].node = route(r, &cmds[i]);
}

static ldr_code exec_rounds(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n, size_t fixed,
                            redisReply **replies, ldr_err *err)
{
    int busy_tries = 0;
    while (count_left(r, n)) {
        round_state rs = {0};
        ldr_code rc = run_round(r, cmds, n, fixed, replies, &rs, err);
        if (rc)
            return rc;
        if (rs.busy && ++busy_tries > MAX_BUSY_RETRIES)
            return ldr_err_setf(err, LDR_EBUSY, "%s (still after %d retries)", rs.busy_msg,
                                MAX_BUSY_RETRIES);
        if (rs.busy)
            sleep_ms(BUSY_SLEEP_MS << (busy_tries - 1));
        if (rs.refresh && fixed == SIZE_MAX) {
            ldr_err ignored; /* a failed refresh keeps the old map; the retry reports */
            ldr_err_clear(&ignored);
            (void)slots_refresh(r, &ignored);
            reroute(r, cmds, n);
        }
    }
    return LDR_OK;
}

static ldr_code exec_on(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n, size_t fixed,
                        unsigned flags, struct redisReply **replies, ldr_err *err)
{
    r->flags = flags;
    st_reserve(r, n);
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        memset(&r->st[i], 0, sizeof r->st[i]);
        r->st[i].node = fixed != SIZE_MAX ? fixed : route(r, &cmds[i]);
    }
    pipe_guard g;
    pipe_guard_on(r, &g);
    ldr_code rc = exec_rounds(r, cmds, n, fixed, replies, err);
    pipe_guard_off(&g);
    r->flags = 0;
    if (rc)
        ldr_redis_replies_free(replies, n);
    return rc;
}

ldr_code ldr_redis_exec(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n,
                        struct redisReply **replies, ldr_err *err)
{
    return exec_on(r, cmds, n, SIZE_MAX, 0, replies, err);
}

ldr_code ldr_redis_exec_flags(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n, unsigned flags,
                              struct redisReply **replies, ldr_err *err)
{
    return exec_on(r, cmds, n, SIZE_MAX, flags, replies, err);
}

bool ldr_redis_is_cluster(const ldr_redis *r)
{
    return r->cluster;
}

ldr_code ldr_redis_exec_node(ldr_redis *r, size_t node, const ldr_redis_cmd *cmds, size_t n,
                             struct redisReply **replies, ldr_err *err)
{
    if (node >= r->n_primaries) { /* the cluster may have shrunk since node_count */
        for (size_t i = 0; i < n; i++)
            replies[i] = NULL;
        return ldr_err_setf(err, LDR_EINVAL, "redis: node %zu out of range (%zu primaries now)",
                            node, r->n_primaries);
    }
    return exec_on(r, cmds, n, r->primaries[node], 0, replies, err);
}
