/*
 * test_redis_conn.c -- the Redis connection layer (src/online/redis_conn.c) against real
 * servers: CRC16/hash-slot vectors (and a differential check against CLUSTER KEYSLOT),
 * Feast connection strings (good and each kind of bad input), and then
 *   standalone: 1000-command pipelines with binary keys and values (NUL bytes), error
 *   replies returned as replies, SELECT, AUTH failures, connection refused, a read
 *   timeout against a silent server, and a killed connection transparently reopened;
 *   cluster: a fake node redirecting forever (bounded, connection kept in step), 2000
 *   keys over every primary in one batch, SCAN through exec_node, MOVED after migrating
 *   a slot, ASK during a migration, CLUSTERDOWN -> LDR_EBUSY, and the fault tests
 *   (SIGSTOP, then kill -9, of a primary during a read loop: prompt errors naming the
 *   node, then service resumes after the replica's promotion, on the same handle).
 * Servers come from tests/integration/redis_servers.py (meson runs this binary under
 * it): LARDER_TEST_REDIS=host:port and LARDER_TEST_REDIS_CLUSTER=host:port,... Without
 * them the server tests print TAP skips. Admin steps (CONFIG SET, CLUSTER SETSLOT,
 * MIGRATE) use hiredis directly, which is why this test includes hiredis.h. The fault
 * tests change which nodes are primaries, so they run last.
 */
#include "online/redis_conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "harness.h"

/* ---- Helpers --------------------------------------------------------------------------- */

static const char *g_standalone; /* LARDER_TEST_REDIS or NULL */
static const char *g_cluster;    /* LARDER_TEST_REDIS_CLUSTER or NULL */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct arg {
    const char *p;
    size_t n;
} arg;

#define S(s) ((arg){(s), strlen(s)})

/* A batch of commands whose bytes live in an arena. */
typedef struct batch {
    ldr_arena a;
    ldr_redis_cmd *cmds;
    size_t n, cap;
    redisReply **replies;
    size_t n_replies; /* entries of replies (from the last exec) */
} batch;

static void b_init(batch *b)
{
    memset(b, 0, sizeof *b);
    ldr_arena_init(&b->a, 1 << 16);
}

static void b_fini(batch *b)
{
    if (b->replies)
        ldr_redis_replies_free(b->replies, b->n_replies);
    ldr_free(b->replies);
    ldr_free(b->cmds);
    ldr_arena_fini(&b->a);
}

/* Adds a command; key_arg is the index of the routing key in args, or -1. */
static void b_add(batch *b, int key_arg, int argc, const arg *args)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->cmds = ldr_xreallocarray(b->cmds, b->cap, sizeof *b->cmds);
    }
    const char **argv = ldr_arena_calloc(&b->a, (size_t)argc, sizeof *argv);
    size_t *lens = ldr_arena_calloc(&b->a, (size_t)argc, sizeof *lens);
    for (int i = 0; i < argc; i++) {
        char *p = ldr_arena_alloc(&b->a, args[i].n + 1);
        memcpy(p, args[i].p, args[i].n);
        p[args[i].n] = '\0';
        argv[i] = p;
        lens[i] = args[i].n;
    }
    ldr_redis_cmd *c = &b->cmds[b->n++];
    c->argc = argc;
    c->argv = argv;
    c->argv_len = lens;
    c->key = key_arg >= 0 ? argv[key_arg] : NULL;
    c->key_len = key_arg >= 0 ? lens[key_arg] : 0;
}

static ldr_code b_exec(batch *b, ldr_redis *r, ldr_err *err)
{
    if (b->replies)
        ldr_redis_replies_free(b->replies, b->n_replies);
    b->replies = ldr_xreallocarray(b->replies, b->n ? b->n : 1, sizeof *b->replies);
    b->n_replies = b->n;
    return ldr_redis_exec(r, b->cmds, b->n, b->replies, err);
}

static void b_reset(batch *b)
{
    if (b->replies)
        ldr_redis_replies_free(b->replies, b->n_replies);
    b->n = 0;
    ldr_arena_reset(&b->a);
}

static ldr_redis *open_conn(const char *conn, bool cluster, int read_ms, ldr_err *err)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_redis_opts o;
    ldr_redis *r = NULL;
    if (ldr_redis_opts_parse(conn, cluster, &a, &o, err) == LDR_OK) {
        if (read_ms)
            o.read_timeout_ms = read_ms;
        r = ldr_redis_open(&o, err);
    }
    ldr_arena_fini(&a);
    return r;
}

static void split_addr(const char *addr, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(addr, ':');
    snprintf(host, cap, "%.*s", (int)(colon - addr), addr);
    *port = (int)strtol(colon + 1, NULL, 10);
}

/* A direct hiredis connection for admin commands. */
static redisContext *admin(const char *host, int port)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        HARNESS_FAIL("admin connect %s:%d: %s", host, port, c ? c->errstr : "oom");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

static redisContext *admin_addr(const char *addr)
{
    char host[64];
    int port;
    split_addr(addr, host, sizeof host, &port);
    return admin(host, port);
}

static bool reply_is(const redisReply *rep, const void *s, size_t len)
{
    return rep && rep->type == REDIS_REPLY_STRING && rep->len == len && !memcmp(rep->str, s, len);
}

/* ---- CRC16 and slots ------------------------------------------------------------------- */

TEST(slot_vectors)
{
    /* Expected values from the Redis Cluster specification and an independent CRC16. */
    CHECK_EQ_I64(ldr_redis_slot("123456789", 9), 0x31C3);
    CHECK_EQ_I64(ldr_redis_slot("foo", 3), 12182);
    CHECK_EQ_I64(ldr_redis_slot("bar", 3), 5061);
    CHECK_EQ_I64(ldr_redis_slot("", 0), 0);
    CHECK_EQ_I64(ldr_redis_slot("user1000", 8), 3443);
    CHECK_EQ_I64(ldr_redis_slot("{user1000}.following", 20), 3443);
    CHECK_EQ_I64(ldr_redis_slot("{user1000}.followers", 20), 3443);
    CHECK(ldr_redis_slot("user1000.following", 18) != ldr_redis_slot("user1000.followers", 18));
    /* "{}" is an empty tag: the whole key is hashed, also in "foo{}{bar}". */
    CHECK_EQ_I64(ldr_redis_slot("{}", 2), 15257);
    CHECK_EQ_I64(ldr_redis_slot("{}x", 3), 10595);
    CHECK_EQ_I64(ldr_redis_slot("foo{}{bar}", 10), 8363);
    /* Only the first '{' and the first '}' after it count. */
    CHECK_EQ_I64(ldr_redis_slot("foo{{bar}}zap", 13), 4015); /* tag "{bar" */
    CHECK_EQ_I64(ldr_redis_slot("foo{bar}{zap}", 13), 5061); /* tag "bar" */
    CHECK_EQ_I64(ldr_redis_slot("{bar", 4), 4015);           /* no '}': whole key */
    /* Binary keys: NUL bytes are ordinary bytes. */
    CHECK_EQ_I64(ldr_redis_slot("a\0b", 3), 8383);
}

/* ---- Connection strings ---------------------------------------------------------------- */

TEST(opts_parse_good)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_redis_opts o;
    ldr_err err;
    CHECK_OK(ldr_redis_opts_parse("localhost", false, &a, &o, &err), err);
    CHECK_EQ_I64(o.n_hosts, 1);
    CHECK_EQ_STR(o.hosts[0], "localhost");
    CHECK_EQ_I64(o.ports[0], 6379);
    CHECK_EQ_I64(o.connect_timeout_ms, 2000);
    CHECK_EQ_I64(o.read_timeout_ms, 2000);
    CHECK(!o.cluster && !o.ssl && o.password == NULL && o.db == 0);

    CHECK_OK(ldr_redis_opts_parse("10.0.0.1:7000, h2:7001,[::1]:7002,db=3,password=p=w,"
                                  "username=bob,ssl=false",
                                  false, &a, &o, &err),
             err);
    CHECK_EQ_I64(o.n_hosts, 3);
    CHECK_EQ_STR(o.hosts[0], "10.0.0.1");
    CHECK_EQ_I64(o.ports[0], 7000);
    CHECK_EQ_STR(o.hosts[1], "h2");
    CHECK_EQ_I64(o.ports[1], 7001);
    CHECK_EQ_STR(o.hosts[2], "::1");
    CHECK_EQ_I64(o.ports[2], 7002);
    CHECK_EQ_I64(o.db, 3);
    CHECK_EQ_STR(o.password, "p=w");
    CHECK_EQ_STR(o.username, "bob");
    CHECK(!o.ssl);

    CHECK_OK(ldr_redis_opts_parse("[::1],localhost:7000 , password= sp ", false, &a, &o, &err),
             err);
    CHECK_EQ_I64(o.n_hosts, 2);
    CHECK_EQ_STR(o.hosts[0], "::1");
    CHECK_EQ_I64(o.ports[0], 6379);
    CHECK_EQ_STR(o.hosts[1], "localhost");
    CHECK_EQ_STR(o.password, " sp "); /* values are verbatim */

    CHECK_OK(ldr_redis_opts_parse("a:1,b:2", true, &a, &o, &err), err);
    CHECK(o.cluster);
    CHECK_EQ_I64(o.n_hosts, 2);
    ldr_arena_fini(&a);
}

TEST(opts_parse_bad)
{
    static const struct {
        const char *conn;
        bool cluster;
        const char *needle;
    } cases[] = {
        {"", false, "empty"},
        {"h:", false, "bad port"},
        {"h:0", false, "bad port"},
        {"h:70000", false, "bad port"},
        {"h:12ab", false, "bad port"},
        {"h:-5", false, "bad port"},
        {":6379", false, "empty host"},
        {"h,db=x", false, "bad db"},
        {"h,db=-1", false, "bad db"},
        {"h,db=", false, "bad db"},
        {"h,foo=1", false, "unknown option \"foo\""},
        {"h,passwrd=x", false, "did you mean \"password\""},
        {"h,ssl=maybe", false, "bad ssl"},
        {"h,ssl=true", false, "ssl=true is not supported"},
        {"db=1", false, "no host"},
        {"h,,h2", false, "empty item 2"},
        {"h,", false, "empty item 2"},
        {"h,db=1", true, "only database 0"},
        {"[::1:80", false, "bad host"},
        {"[::1]x", false, "bad host"},
        {"[::1]:", false, "bad port"},
        {"::1", false, "in brackets"},
        {"h:1:2", false, "in brackets"},
    };
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    for (size_t i = 0; i < LDR_ARRAY_LEN(cases); i++) {
        ldr_redis_opts o;
        ldr_err err;
        ldr_err_clear(&err);
        ldr_code rc = ldr_redis_opts_parse(cases[i].conn, cases[i].cluster, &a, &o, &err);
        if (rc != LDR_ECONFIG)
            HARNESS_FAIL("\"%s\": code %d, expected LDR_ECONFIG", cases[i].conn, (int)rc);
        CHECK_CONTAINS(err.msg, cases[i].needle);
    }
    /* Messages never echo a password. */
    static const char *const secret[] = {"h,password=hunter2,,x", "h,password=hunter2,foo=1",
                                         "h,password=hunter2,:1", "h,password=hunter2,ssl=true"};
    for (size_t i = 0; i < LDR_ARRAY_LEN(secret); i++) {
        ldr_redis_opts o;
        ldr_err err;
        CHECK_FAILS(ldr_redis_opts_parse(secret[i], false, &a, &o, &err), LDR_ECONFIG);
        CHECK(strstr(err.msg, "hunter2") == NULL);
    }
    /* Options built by hand are checked by open too. */
    const char *hosts[] = {"127.0.0.1"};
    int ports[] = {1};
    ldr_redis_opts o = {.hosts = hosts, .ports = ports, .n_hosts = 1, .ssl = true};
    ldr_err err;
    CHECK(ldr_redis_open(&o, &err) == NULL);
    CHECK_CONTAINS(err.msg, "ssl=true");
    ldr_arena_fini(&a);
}

/* ---- Standalone ------------------------------------------------------------------------ */

static void bin_key(char *buf, size_t cap, size_t *len, const char *prefix, int i)
{
    int n = snprintf(buf, cap, "%s", prefix);
    buf[n] = '\0'; /* a NUL inside the key */
    int m = snprintf(buf + n + 1, cap - (size_t)n - 1, "%d\xff", i);
    *len = (size_t)n + 1 + (size_t)m;
}

TEST(standalone_pipeline_binary)
{
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    ldr_err err;
    ldr_redis *r = open_conn(g_standalone, false, 0, &err);
    CHECK(r != NULL);
    if (!r) {
        printf("# %s\n", err.msg);
        return;
    }
    CHECK_EQ_I64(ldr_redis_node_count(r), 1);
    batch b;
    b_init(&b);
    char k[64], v[64];
    size_t kl, vl;
    b_add(&b, 1, 2, (arg[]){S("DEL"), {"h\0bin", 5}});
    for (int i = 0; i < 1000; i++) {
        bin_key(k, sizeof k, &kl, "sk", i);
        bin_key(v, sizeof v, &vl, "value", i * 7);
        if (i % 2)
            b_add(&b, 1, 3, (arg[]){S("SET"), {k, kl}, {v, vl}});
        else
            b_add(&b, 1, 4, (arg[]){S("HSET"), {"h\0bin", 5}, {k, kl}, {v, vl}});
    }
    CHECK_OK(b_exec(&b, r, &err), err);
    for (size_t i = 1; i < b.n; i++)
        CHECK(b.replies[i] && b.replies[i]->type != REDIS_REPLY_ERROR);
    b_reset(&b);
    /* Read back: 500 GETs, 499 single-field HMGETs, and one HMGET of all 500 fields. */
    arg *all = ldr_arena_calloc(&b.a, 502, sizeof(arg));
    all[0] = S("HMGET");
    all[1] = (arg){"h\0bin", 5};
    for (int i = 0; i < 999; i++) {
        bin_key(k, sizeof k, &kl, "sk", i);
        if (i % 2) {
            b_add(&b, 1, 2, (arg[]){S("GET"), {k, kl}});
        } else {
            b_add(&b, 1, 3, (arg[]){S("HMGET"), {"h\0bin", 5}, {k, kl}});
            char *kc = ldr_arena_alloc(&b.a, kl);
            memcpy(kc, k, kl);
            all[2 + i / 2] = (arg){kc, kl};
        }
    }
    all[501] = S("no-such-field");
    b_add(&b, 1, 502, all);
    CHECK_EQ_I64(b.n, 1000);
    CHECK_OK(b_exec(&b, r, &err), err);
    int bad = 0;
    for (int i = 0; i < 999 && !harness_g.cur_failed; i++) {
        bin_key(v, sizeof v, &vl, "value", i * 7);
        const redisReply *rep = b.replies[i];
        if (i % 2 == 0)
            rep = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 ? rep->element[0]
                                                                              : NULL;
        bad += !reply_is(rep, v, vl);
    }
    CHECK_EQ_I64(bad, 0);
    const redisReply *last = b.replies[999];
    CHECK(last && last->type == REDIS_REPLY_ARRAY && last->elements == 500);
    if (last && last->type == REDIS_REPLY_ARRAY && last->elements == 500) {
        for (int i = 0; i < 499; i++) {
            bin_key(v, sizeof v, &vl, "value", 2 * i * 7);
            bad += !reply_is(last->element[i], v, vl);
        }
        CHECK_EQ_I64(bad, 0);
        CHECK(last->element[499]->type == REDIS_REPLY_NIL);
    }
    b_fini(&b);
    ldr_redis_close(r);
}

TEST(standalone_error_reply_is_a_reply)
{
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    ldr_err err;
    ldr_redis *r = open_conn(g_standalone, false, 0, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    batch b;
    b_init(&b);
    b_add(&b, 1, 3, (arg[]){S("SET"), S("errkey"), S("1")});
    b_add(&b, 1, 3, (arg[]){S("HGET"), S("errkey"), S("f")});
    b_add(&b, -1, 1, (arg[]){S("NOSUCHCOMMAND")});
    b_add(&b, 1, 2, (arg[]){S("GET"), S("errkey")});
    CHECK_OK(b_exec(&b, r, &err), err);
    CHECK(b.replies[1] && b.replies[1]->type == REDIS_REPLY_ERROR);
    if (b.replies[1] && b.replies[1]->type == REDIS_REPLY_ERROR)
        CHECK_CONTAINS(b.replies[1]->str, "WRONGTYPE");
    CHECK(b.replies[2] && b.replies[2]->type == REDIS_REPLY_ERROR);
    CHECK(reply_is(b.replies[3], "1", 1));
    /* An empty batch is fine. */
    b_reset(&b);
    CHECK_OK(b_exec(&b, r, &err), err);
    b_fini(&b);
    ldr_redis_close(r);
}

TEST(standalone_select_db)
{
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    char conn[128];
    snprintf(conn, sizeof conn, "%s,db=5", g_standalone);
    ldr_err err;
    ldr_redis *r5 = open_conn(conn, false, 0, &err);
    ldr_redis *r0 = open_conn(g_standalone, false, 0, &err);
    CHECK(r5 && r0);
    if (!r5 || !r0)
        goto out;
    batch b;
    b_init(&b);
    b_add(&b, 1, 3, (arg[]){S("SET"), S("dbkey"), S("five")});
    CHECK_OK(b_exec(&b, r5, &err), err);
    b_reset(&b);
    b_add(&b, 1, 2, (arg[]){S("GET"), S("dbkey")});
    CHECK_OK(b_exec(&b, r0, &err), err);
    CHECK(b.replies[0] && b.replies[0]->type == REDIS_REPLY_NIL);
    CHECK_OK(b_exec(&b, r5, &err), err);
    CHECK(reply_is(b.replies[0], "five", 4));
    b_fini(&b);
out:
    ldr_redis_close(r5);
    ldr_redis_close(r0);
}

TEST(standalone_auth)
{
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    redisContext *c = admin_addr(g_standalone);
    if (!c)
        return;
    redisReply *rep = redisCommand(c, "CONFIG SET requirepass s3cret");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    char conn[160];
    ldr_err err;
    snprintf(conn, sizeof conn, "%s,password=wrong", g_standalone);
    ldr_redis *r = open_conn(conn, false, 0, &err);
    CHECK(r == NULL);
    if (!r) {
        CHECK_EQ_I64(err.code, LDR_EBACKEND);
        CHECK_CONTAINS(err.msg, g_standalone);
        CHECK_CONTAINS(err.msg, "AUTH failed");
        CHECK_CONTAINS(err.msg, "WRONGPASS");
    }
    ldr_redis_close(r);
    snprintf(conn, sizeof conn, "%s", g_standalone); /* no password at all */
    r = open_conn(conn, false, 0, &err);
    CHECK(r != NULL); /* connecting works; commands are refused */
    if (r) {
        batch b;
        b_init(&b);
        b_add(&b, 1, 2, (arg[]){S("GET"), S("x")});
        CHECK_OK(b_exec(&b, r, &err), err);
        CHECK(b.replies[0] && b.replies[0]->type == REDIS_REPLY_ERROR);
        b_fini(&b);
        ldr_redis_close(r);
    }
    snprintf(conn, sizeof conn, "%s,username=default,password=s3cret", g_standalone);
    r = open_conn(conn, false, 0, &err);
    CHECK(r != NULL);
    ldr_redis_close(r);
    rep = redisCommand(c, "AUTH s3cret");
    freeReplyObject(rep);
    rep = redisCommand(c, "CONFIG SET requirepass %s", "");
    CHECK(rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    redisFree(c);
}

/* A loopback port with nothing listening. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

TEST(connection_refused_is_prompt_and_named)
{
    char conn[64], name[64];
    int port = closed_port();
    snprintf(conn, sizeof conn, "127.0.0.1:%d", port);
    snprintf(name, sizeof name, "redis 127.0.0.1:%d", port);
    for (int cluster = 0; cluster < 2; cluster++) {
        ldr_err err;
        double t0 = now_s();
        ldr_redis *r = open_conn(conn, cluster, 0, &err);
        double dt = now_s() - t0;
        CHECK(r == NULL);
        ldr_redis_close(r);
        CHECK_EQ_I64(err.code, LDR_EBACKEND);
        CHECK_CONTAINS(err.msg, name);
        CHECK_CONTAINS(err.msg, "refused");
        CHECK(dt < 1.0);
    }
}

TEST(read_timeout_against_a_silent_server)
{
    /* A socket that listens but never answers: connect succeeds (backlog), reads time
     * out. The batch must fail after about read_timeout_ms, naming the node. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    char conn[64];
    snprintf(conn, sizeof conn, "127.0.0.1:%d", ntohs(sa.sin_port));
    ldr_err err;
    ldr_redis *r = open_conn(conn, false, 300, &err);
    CHECK(r != NULL);
    if (r) {
        batch b;
        b_init(&b);
        b_add(&b, 1, 2, (arg[]){S("GET"), S("k")});
        double t0 = now_s();
        ldr_code rc = b_exec(&b, r, &err);
        double dt = now_s() - t0;
        CHECK_EQ_I64(rc, LDR_EBACKEND);
        CHECK_CONTAINS(err.msg, conn);
        CHECK_CONTAINS(err.msg, "read timeout");
        /* One read timeout: the timed-out node is then in backoff, so the retry fails
         * fast instead of waiting a second time. */
        CHECK(dt >= 0.25 && dt < 0.55);
        CHECK(b.replies[0] == NULL);
        b_fini(&b);
        ldr_redis_close(r);
    }
    close(fd);
}

TEST(standalone_reconnects_after_connection_kill)
{
    /* The server closes our connection; the next batch (8 MB, so the write runs into the
     * reset: EPIPE, and SIGPIPE, which this test does not ignore) is retried once on a
     * new connection and succeeds. */
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    ldr_err err;
    ldr_redis *r = open_conn(g_standalone, false, 0, &err);
    redisContext *c = admin_addr(g_standalone);
    CHECK(r && c);
    if (r && c) {
        batch b;
        b_init(&b);
        b_add(&b, 1, 3, (arg[]){S("SET"), S("rk"), S("alive")});
        CHECK_OK(b_exec(&b, r, &err), err);
        redisReply *rep = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
        CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 1);
        freeReplyObject(rep);
        b_reset(&b);
        char *big = ldr_xmalloc(4096);
        memset(big, 'x', 4096);
        for (int i = 0; i < 2048; i++) {
            char k[32];
            snprintf(k, sizeof k, "big%d", i);
            b_add(&b, 1, 3, (arg[]){S("SET"), S(k), {big, 4096}});
        }
        b_add(&b, 1, 2, (arg[]){S("GET"), S("rk")});
        ldr_free(big);
        CHECK_OK(b_exec(&b, r, &err), err);
        CHECK(reply_is(b.replies[2048], "alive", 5));
        b_fini(&b);
    }
    if (c)
        redisFree(c);
    ldr_redis_close(r);
}

/* Kills r's connection from the admin connection c (CLIENT ID, then CLIENT KILL ID). */
static void kill_own_connection(ldr_redis *r, redisContext *c)
{
    const char *argv[] = {"CLIENT", "ID"};
    size_t len[] = {6, 2};
    ldr_redis_cmd cmd = {2, argv, len, NULL, 0};
    redisReply *id = NULL;
    ldr_err err;
    CHECK_OK(ldr_redis_exec(r, &cmd, 1, &id, &err), err);
    CHECK(id && id->type == REDIS_REPLY_INTEGER);
    if (id && id->type == REDIS_REPLY_INTEGER) {
        redisReply *rep = redisCommand(c, "CLIENT KILL ID %lld", id->integer);
        CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
        freeReplyObject(rep);
    }
    ldr_redis_replies_free(&id, 1);
}

TEST(standalone_no_retry_no_reconnect)
{
    /* The flags of the store's WATCH/MULTI transactions: with LDR_REDIS_NO_RETRY a lost
     * connection fails the exec instead of re-sending on a new connection; with
     * LDR_REDIS_NO_RECONNECT a connection lost before is not reopened; without flags the
     * same commands succeed again. */
    SKIP_UNLESS(g_standalone, "LARDER_TEST_REDIS not set (no redis-server)");
    ldr_err err;
    ldr_redis *r = open_conn(g_standalone, false, 0, &err);
    redisContext *c = admin_addr(g_standalone);
    CHECK(r && c);
    if (r && c) {
        const char *argv[] = {"PING"};
        size_t len[] = {4};
        ldr_redis_cmd ping = {1, argv, len, NULL, 0};
        redisReply *rep = NULL;
        kill_own_connection(r, c);
        CHECK_EQ_I64(ldr_redis_exec_flags(r, &ping, 1, LDR_REDIS_NO_RETRY, &rep, &err),
                     LDR_EBACKEND);
        CHECK(rep == NULL);
        CHECK_EQ_I64(ldr_redis_exec_flags(r, &ping, 1, LDR_REDIS_NO_RECONNECT, &rep, &err),
                     LDR_EBACKEND);
        CHECK_CONTAINS(err.msg, "connection lost since the previous command");
        CHECK_OK(ldr_redis_exec(r, &ping, 1, &rep, &err), err); /* reconnects */
        CHECK(rep && rep->type == REDIS_REPLY_STATUS);
        ldr_redis_replies_free(&rep, 1);
        kill_own_connection(r, c);
        CHECK_OK(ldr_redis_exec_flags(r, &ping, 1, 0, &rep, &err), err); /* retried */
        ldr_redis_replies_free(&rep, 1);
    }
    if (c)
        redisFree(c);
    ldr_redis_close(r);
}

/* ---- A fake cluster node: a redirect loop ---------------------------------------------- */

/* Serves one connection at a time on a loopback socket: CLUSTER SLOTS maps every slot to
 * itself, every other keyed command is answered "MOVED <slot> :<port>" (empty host: the
 * replying node's host), PING with +PONG. */
typedef struct fake_node {
    int lfd, port;
    volatile int stop;
    pthread_t thr;
} fake_node;

static bool read_line(FILE *f, char *buf, size_t cap)
{
    return fgets(buf, (int)cap, f) != NULL;
}

/* Reads one RESP command; returns argc (0 at EOF), argv[0..1] upper-cased into a, b. */
static int read_command(FILE *f, char *a, char *b, size_t cap)
{
    char line[128];
    if (!read_line(f, line, sizeof line) || line[0] != '*')
        return 0;
    int argc = (int)strtol(line + 1, NULL, 10);
    for (int i = 0; i < argc; i++) {
        if (!read_line(f, line, sizeof line) || line[0] != '$')
            return 0;
        size_t len = (size_t)strtol(line + 1, NULL, 10);
        char *val = ldr_xmalloc(len + 2);
        size_t got = fread(val, 1, len + 2, f);
        if (i < 2) {
            char *dst = i == 0 ? a : b;
            snprintf(dst, cap, "%.*s", (int)(len < cap ? len : cap - 1), val);
        }
        ldr_free(val);
        if (got != len + 2)
            return 0;
    }
    return argc;
}

static void fake_serve(fake_node *fn, int fd)
{
    FILE *in = fdopen(dup(fd), "r");
    char a[32], b[32], out[160];
    int argc;
    while (in && (argc = read_command(in, a, b, sizeof a)) > 0) {
        if (!strcasecmp(a, "CLUSTER"))
            snprintf(out, sizeof out,
                     "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:%d\r\n$2\r\nid\r\n",
                     fn->port);
        else if (!strcasecmp(a, "PING"))
            snprintf(out, sizeof out, "+PONG\r\n");
        else
            snprintf(out, sizeof out, "-MOVED %u :%d\r\n", ldr_redis_slot(b, strlen(b)), fn->port);
        if (write(fd, out, strlen(out)) < 0)
            break;
    }
    if (in)
        fclose(in);
    close(fd);
}

static void *fake_main(void *p_fn)
{
    fake_node *fn = p_fn;
    while (!fn->stop) {
        struct pollfd p = {fn->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1) {
            int fd = accept(fn->lfd, NULL, NULL);
            if (fd >= 0)
                fake_serve(fn, fd);
        }
    }
    return NULL;
}

static bool fake_start(fake_node *fn)
{
    memset(fn, 0, sizeof *fn);
    fn->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (bind(fn->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(fn->lfd, 8) ||
        getsockname(fn->lfd, (struct sockaddr *)&sa, &len))
        return false;
    fn->port = ntohs(sa.sin_port);
    return pthread_create(&fn->thr, NULL, fake_main, fn) == 0;
}

static void fake_stop(fake_node *fn)
{
    fn->stop = 1;
    pthread_join(fn->thr, NULL);
    close(fn->lfd);
}

TEST(cluster_redirect_loop_is_bounded)
{
    fake_node fn;
    CHECK(fake_start(&fn));
    char conn[64];
    snprintf(conn, sizeof conn, "127.0.0.1:%d", fn.port);
    ldr_err err;
    ldr_redis *r = open_conn(conn, true, 0, &err);
    CHECK(r != NULL);
    if (r) {
        batch b;
        b_init(&b);
        for (int i = 0; i < 3; i++)
            b_add(&b, 1, 2, (arg[]){S("GET"), S(i == 0 ? "a" : i == 1 ? "b" : "c")});
        CHECK_EQ_I64(b_exec(&b, r, &err), LDR_EBACKEND);
        CHECK_CONTAINS(err.msg, "more than 5 redirects");
        CHECK_CONTAINS(err.msg, conn);
        CHECK(b.replies[0] == NULL && b.replies[1] == NULL && b.replies[2] == NULL);
        /* Every reply of the failed batch was consumed: the connection is in step (on
         * exec_node, which follows no redirects, a stale MOVED would be PING's reply). */
        b_reset(&b);
        b_add(&b, -1, 1, (arg[]){S("PING")});
        b.n_replies = 1;
        CHECK_OK(ldr_redis_exec_node(r, 0, b.cmds, 1, b.replies, &err), err);
        CHECK(b.replies[0] && b.replies[0]->type == REDIS_REPLY_STATUS &&
              !strcmp(b.replies[0]->str, "PONG"));
        b_fini(&b);
        ldr_redis_close(r);
    }
    fake_stop(&fn);
}

/* ---- Cluster --------------------------------------------------------------------------- */

#define NKEYS 2000

static void ckey(char *buf, size_t cap, size_t *len, int i)
{
    bin_key(buf, cap, len, "ck", i);
}

static ldr_redis *open_cluster(int read_ms)
{
    ldr_err err;
    ldr_redis *r = open_conn(g_cluster, true, read_ms, &err);
    if (!r)
        HARNESS_FAIL("open cluster %s: %s", g_cluster, err.msg);
    return r;
}

/* Writes the NKEYS cluster keys (value "v<i>") in one batch. */
static void write_cluster_keys(ldr_redis *r)
{
    batch b;
    b_init(&b);
    char k[64], v[32];
    size_t kl;
    for (int i = 0; i < NKEYS; i++) {
        ckey(k, sizeof k, &kl, i);
        snprintf(v, sizeof v, "v%d", i);
        b_add(&b, 1, 3, (arg[]){S("SET"), {k, kl}, S(v)});
    }
    ldr_err err;
    CHECK_OK(b_exec(&b, r, &err), err);
    for (size_t i = 0; i < b.n; i++)
        CHECK(b.replies[i] && b.replies[i]->type == REDIS_REPLY_STATUS);
    b_fini(&b);
}

/* Reads the NKEYS keys in one batch; returns the code, and the number of wrong values. */
static ldr_code read_cluster_keys(ldr_redis *r, int *wrong, ldr_err *err)
{
    batch b;
    b_init(&b);
    char k[64], v[32];
    size_t kl;
    for (int i = 0; i < NKEYS; i++) {
        ckey(k, sizeof k, &kl, i);
        b_add(&b, 1, 2, (arg[]){S("GET"), {k, kl}});
    }
    ldr_code rc = b_exec(&b, r, err);
    *wrong = 0;
    for (int i = 0; i < NKEYS && rc == LDR_OK; i++) {
        snprintf(v, sizeof v, "v%d", i);
        *wrong += !reply_is(b.replies[i], v, strlen(v));
    }
    b_fini(&b);
    return rc;
}

/* Runs one keyless command on every primary; replies[node]. */
static ldr_code on_every_node(ldr_redis *r, int argc, const arg *args, redisReply **replies,
                              ldr_err *err)
{
    batch b;
    b_init(&b);
    b_add(&b, -1, argc, args);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < ldr_redis_node_count(r) && rc == LDR_OK; i++)
        rc = ldr_redis_exec_node(r, i, b.cmds, 1, &replies[i], err);
    b_fini(&b);
    return rc;
}

TEST(cluster_slots_match_server)
{
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    batch b;
    b_init(&b);
    srand(7);
    for (int i = 0; i < 300; i++) {
        char kb[24];
        size_t len = (size_t)(rand() % 24);
        for (size_t j = 0; j < len; j++) {
            int x = rand() % 8; /* many braces, so tags of every shape occur */
            kb[j] = x == 0 ? '{' : x == 1 ? '}' : (char)(rand() % 256);
        }
        b_add(&b, -1, 3, (arg[]){S("CLUSTER"), S("KEYSLOT"), {kb, len}});
    }
    ldr_err err;
    CHECK_OK(b_exec(&b, r, &err), err);
    int bad = 0;
    for (size_t i = 0; i < b.n && b.replies[i]; i++) {
        const redisReply *rep = b.replies[i];
        bad += rep->type != REDIS_REPLY_INTEGER ||
               rep->integer != ldr_redis_slot(b.cmds[i].argv[2], b.cmds[i].argv_len[2]);
    }
    CHECK_EQ_I64(bad, 0);
    b_fini(&b);
    ldr_redis_close(r);
}

TEST(cluster_batch_over_all_nodes)
{
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    CHECK_EQ_I64(ldr_redis_node_count(r), 3);
    ldr_err err;
    redisReply *reps[8] = {0};
    CHECK_OK(on_every_node(r, 1, (arg[]){S("FLUSHALL")}, reps, &err), err);
    ldr_redis_replies_free(reps, 8);
    write_cluster_keys(r);
    int wrong = -1;
    CHECK_OK(read_cluster_keys(r, &wrong, &err), err);
    CHECK_EQ_I64(wrong, 0);
    /* Every primary holds a share: DBSIZE per node, summing to NKEYS. */
    CHECK_OK(on_every_node(r, 1, (arg[]){S("DBSIZE")}, reps, &err), err);
    long long sum = 0;
    for (size_t i = 0; i < ldr_redis_node_count(r); i++) {
        CHECK(reps[i] && reps[i]->type == REDIS_REPLY_INTEGER && reps[i]->integer > NKEYS / 5);
        sum += reps[i] ? reps[i]->integer : 0;
    }
    CHECK_EQ_I64(sum, NKEYS);
    ldr_redis_replies_free(reps, 8);
    ldr_redis_close(r);
}

TEST(cluster_scan_every_node)
{
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    char *seen = ldr_xcalloc(NKEYS, 1);
    int found = 0, dup = 0, foreign = 0;
    ldr_err err;
    for (size_t node = 0; node < ldr_redis_node_count(r); node++) {
        char cursor[32] = "0";
        do {
            batch b;
            b_init(&b);
            b_add(&b, -1, 6,
                  (arg[]){S("SCAN"), S(cursor), S("MATCH"), S("ck*"), S("COUNT"), S("500")});
            b.replies = ldr_xcalloc(1, sizeof *b.replies);
            b.n_replies = 1;
            ldr_code rc = ldr_redis_exec_node(r, node, b.cmds, 1, b.replies, &err);
            CHECK_OK(rc, err);
            const redisReply *rep = b.replies[0];
            if (rc || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
                HARNESS_FAIL("bad SCAN reply");
                b_fini(&b);
                break;
            }
            snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
            for (size_t j = 0; j < rep->element[1]->elements; j++) {
                const redisReply *k = rep->element[1]->element[j];
                long i = -1;
                if (k->len > 3 && !memcmp(k->str, "ck\0", 3))
                    i = strtol(k->str + 3, NULL, 10);
                if (i < 0 || i >= NKEYS) {
                    foreign++;
                    continue;
                }
                dup += seen[i];
                found += !seen[i];
                seen[i] = 1;
            }
            b_fini(&b);
        } while (strcmp(cursor, "0") != 0);
    }
    CHECK_EQ_I64(found, NKEYS);
    CHECK_EQ_I64(foreign, 0);
    (void)dup; /* SCAN may return a key twice; that is allowed */
    ldr_free(seen);
    ldr_redis_close(r);
}

/* The primaries (from CLUSTER SLOTS on a seed): id, host, port of the owner of a slot,
 * and of some other primary. */
typedef struct owner {
    char id[64], host[64];
    int port;
} owner;

static bool find_owners(uint16_t slot, owner *own, owner *other)
{
    char seed[64];
    snprintf(seed, sizeof seed, "%s", g_cluster);
    char *comma = strchr(seed, ',');
    if (comma)
        *comma = '\0';
    redisContext *c = admin_addr(seed);
    if (!c)
        return false;
    redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
    bool got_own = false, got_other = false;
    for (size_t e = 0; rep && rep->type == REDIS_REPLY_ARRAY && e < rep->elements; e++) {
        const redisReply *ent = rep->element[e];
        const redisReply *m = ent->element[2];
        owner o;
        snprintf(o.host, sizeof o.host, "%s", m->element[0]->str);
        o.port = (int)m->element[1]->integer;
        snprintf(o.id, sizeof o.id, "%s", m->element[2]->str);
        if (ent->element[0]->integer <= slot && slot <= ent->element[1]->integer) {
            *own = o;
            got_own = true;
        }
    }
    for (size_t e = 0; got_own && rep && e < rep->elements; e++) {
        const redisReply *m = rep->element[e]->element[2];
        if (strcmp(m->element[2]->str, own->id) != 0) {
            snprintf(other->host, sizeof other->host, "%s", m->element[0]->str);
            other->port = (int)m->element[1]->integer;
            snprintf(other->id, sizeof other->id, "%s", m->element[2]->str);
            got_other = true;
        }
    }
    freeReplyObject(rep);
    redisFree(c);
    if (!got_own || !got_other)
        HARNESS_FAIL("slot %u: owner or other primary not found", slot);
    return got_own && got_other;
}

static bool admin_ok(redisContext *c, redisReply *rep, const char *what)
{
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        HARNESS_FAIL("%s: %s", what, rep ? rep->str : c->errstr);
    freeReplyObject(rep);
    return ok;
}

/* Starts migrating slot from a to b (IMPORTING on b, MIGRATING on a). */
static void migration_start(redisContext *ca, redisContext *cb, uint16_t slot, const owner *a,
                            const owner *b)
{
    admin_ok(cb, redisCommand(cb, "CLUSTER SETSLOT %u IMPORTING %s", slot, a->id), "IMPORTING");
    admin_ok(ca, redisCommand(ca, "CLUSTER SETSLOT %u MIGRATING %s", slot, b->id), "MIGRATING");
}

static void migrate_key(redisContext *ca, const owner *b, const char *key, size_t len)
{
    admin_ok(ca, redisCommand(ca, "MIGRATE %s %d %b 0 5000", b->host, b->port, key, len),
             "MIGRATE");
}

/* Moves every remaining key and assigns the slot to b on every primary. */
static void migration_finish(redisContext *ca, redisContext *cb, uint16_t slot, const owner *b)
{
    for (;;) {
        redisReply *keys = redisCommand(ca, "CLUSTER GETKEYSINSLOT %u 100", slot);
        size_t n = keys && keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        for (size_t i = 0; i < n; i++)
            migrate_key(ca, b, keys->element[i]->str, keys->element[i]->len);
        freeReplyObject(keys);
        if (n == 0)
            break;
    }
    admin_ok(cb, redisCommand(cb, "CLUSTER SETSLOT %u NODE %s", slot, b->id), "SETSLOT b");
    admin_ok(ca, redisCommand(ca, "CLUSTER SETSLOT %u NODE %s", slot, b->id), "SETSLOT a");
}

TEST(cluster_moved_after_slot_migration)
{
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    write_cluster_keys(r); /* the handle learns the current map */
    char k[64];
    size_t kl;
    ckey(k, sizeof k, &kl, 42);
    uint16_t slot = ldr_redis_slot(k, kl);
    owner a, b;
    if (!find_owners(slot, &a, &b))
        goto out;
    redisContext *ca = admin(a.host, a.port), *cb = admin(b.host, b.port);
    if (ca && cb) {
        migration_start(ca, cb, slot, &a, &b);
        migration_finish(ca, cb, slot, &b);
    }
    if (ca)
        redisFree(ca);
    if (cb)
        redisFree(cb);
    /* The handle still routes the slot to a, which answers MOVED. */
    int wrong = -1;
    ldr_err err;
    CHECK_OK(read_cluster_keys(r, &wrong, &err), err);
    CHECK_EQ_I64(wrong, 0);
    /* And a write to the moved slot lands on b. */
    batch bt;
    b_init(&bt);
    b_add(&bt, 1, 3, (arg[]){S("SET"), {k, kl}, S("v42")});
    CHECK_OK(b_exec(&bt, r, &err), err);
    CHECK(bt.replies[0] && bt.replies[0]->type == REDIS_REPLY_STATUS);
    b_fini(&bt);
    cb = admin(b.host, b.port);
    if (cb) {
        redisReply *rep = redisCommand(cb, "EXISTS %b", k, kl);
        CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1);
        freeReplyObject(rep);
        redisFree(cb);
    }
out:
    ldr_redis_close(r);
}

TEST(cluster_ask_during_migration)
{
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    uint16_t slot = ldr_redis_slot("asktag", 6);
    owner a, b;
    if (!find_owners(slot, &a, &b)) {
        ldr_redis_close(r);
        return;
    }
    ldr_err err;
    batch bt;
    b_init(&bt);
    b_add(&bt, 1, 3, (arg[]){S("SET"), S("{asktag}moved"), S("m")});
    b_add(&bt, 1, 3, (arg[]){S("SET"), S("{asktag}stays"), S("s")});
    b_add(&bt, 1, 2, (arg[]){S("DEL"), S("{asktag}new")});
    CHECK_OK(b_exec(&bt, r, &err), err);
    redisContext *ca = admin(a.host, a.port), *cb = admin(b.host, b.port);
    if (!ca || !cb)
        goto out;
    migration_start(ca, cb, slot, &a, &b);
    migrate_key(ca, &b, "{asktag}moved", 13);
    /* a still owns the slot: "moved" gets ASK (to b), "stays" is served by a, and "new"
     * (absent on a) is written on b through ASK. */
    b_reset(&bt);
    b_add(&bt, 1, 2, (arg[]){S("GET"), S("{asktag}moved")});
    b_add(&bt, 1, 2, (arg[]){S("GET"), S("{asktag}stays")});
    b_add(&bt, 1, 3, (arg[]){S("SET"), S("{asktag}new"), S("n")});
    b_add(&bt, 1, 2, (arg[]){S("GET"), S("{asktag}new")});
    CHECK_OK(b_exec(&bt, r, &err), err);
    CHECK(reply_is(bt.replies[0], "m", 1));
    CHECK(reply_is(bt.replies[1], "s", 1));
    CHECK(bt.replies[2] && bt.replies[2]->type == REDIS_REPLY_STATUS);
    CHECK(reply_is(bt.replies[3], "n", 1));
    redisReply *rep = redisCommand(cb, "ASKING");
    freeReplyObject(rep);
    rep = redisCommand(cb, "GET {asktag}new");
    CHECK(reply_is(rep, "n", 1)); /* it really went to b */
    freeReplyObject(rep);
    migration_finish(ca, cb, slot, &b);
    CHECK_OK(b_exec(&bt, r, &err), err);
    CHECK(reply_is(bt.replies[0], "m", 1) && reply_is(bt.replies[1], "s", 1));
out:
    if (ca)
        redisFree(ca);
    if (cb)
        redisFree(cb);
    b_fini(&bt);
    ldr_redis_close(r);
}

/* INFO field (declared early: used by the admin helpers). */
static long info_long(const redisReply *rep, const char *field);

/* Sends one admin command to every primary of the cluster (from CLUSTER SLOTS). */
static void on_every_primary(ldr_redis *r, const char *fmt, unsigned slot)
{
    redisReply *reps[8] = {0};
    ldr_err err;
    CHECK_OK(on_every_node(r, 2, (arg[]){S("INFO"), S("server")}, reps, &err), err);
    for (size_t i = 0; i < ldr_redis_node_count(r) && reps[i]; i++) {
        redisContext *c = admin("127.0.0.1", (int)info_long(reps[i], "tcp_port"));
        if (c) {
            admin_ok(c, redisCommand(c, fmt, slot), fmt);
            redisFree(c);
        }
    }
    ldr_redis_replies_free(reps, 8);
}

TEST(cluster_down_slot_is_busy)
{
    /* A slot that no node serves: CLUSTERDOWN on every try, so after the short retry the
     * batch fails with LDR_EBUSY (promptly); once the slot is served again, reads work. */
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(0);
    if (!r)
        return;
    uint16_t slot = ldr_redis_slot("downtag", 7);
    owner a, b;
    if (!find_owners(slot, &a, &b))
        goto out;
    ldr_err err;
    batch bt;
    b_init(&bt);
    b_add(&bt, 1, 3, (arg[]){S("SET"), S("{downtag}k"), S("d")});
    CHECK_OK(b_exec(&bt, r, &err), err);
    b_reset(&bt);
    b_add(&bt, 1, 2, (arg[]){S("GET"), S("{downtag}k")});
    on_every_primary(r, "CLUSTER DELSLOTS %u", slot);
    double t0 = now_s();
    ldr_code rc = b_exec(&bt, r, &err);
    double dt = now_s() - t0;
    CHECK_EQ_I64(rc, LDR_EBUSY);
    CHECK_CONTAINS(err.msg, "CLUSTERDOWN");
    CHECK(dt > 0.3 && dt < 1.5);
    redisContext *ca = admin(a.host, a.port);
    if (ca) {
        admin_ok(ca, redisCommand(ca, "CLUSTER ADDSLOTS %u", slot), "ADDSLOTS");
        redisFree(ca);
    }
    for (t0 = now_s(); now_s() - t0 < 10;) {
        if ((rc = b_exec(&bt, r, &err)) == LDR_OK)
            break;
        usleep(50000);
    }
    CHECK_OK(rc, err);
    CHECK(rc || reply_is(bt.replies[0], "d", 1));
    b_fini(&bt);
out:
    ldr_redis_close(r);
}

/* INFO field of a reply ("process_id", "tcp_port", "role"). */
static long info_long(const redisReply *rep, const char *field)
{
    if (!rep || rep->type != REDIS_REPLY_STRING)
        return -1;
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s:", field);
    const char *p = strstr(rep->str, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Waits (up to 15 s) until every primary has a replica that acknowledged every write:
 * the replicas can take over without losing keys. */
static bool replicas_in_sync(ldr_redis *r)
{
    ldr_err err;
    redisReply *reps[8] = {0};
    for (double t0 = now_s(); now_s() - t0 < 15;) {
        bool ok = on_every_node(r, 3, (arg[]){S("WAIT"), S("1"), S("1000")}, reps, &err) == LDR_OK;
        for (size_t i = 0; ok && i < ldr_redis_node_count(r); i++)
            ok = reps[i] && reps[i]->type == REDIS_REPLY_INTEGER && reps[i]->integer >= 1;
        ldr_redis_replies_free(reps, 8);
        if (ok)
            return true;
        usleep(100000);
    }
    return false;
}

/* Stops (SIGSTOP) or kills (SIGKILL) primary 1 during a read loop of NKEYS-key batches,
 * until batches succeed again (the replica promoted) or 20 s pass. Reports the failed
 * batches: how many, the slowest, how many named the node / contained `marker`. */
typedef struct fault_run {
    int failures, unnamed, marked;
    double worst, t_back;
    int wrong;
    long pid;
} fault_run;

static bool fault_loop(ldr_redis *r, int sig, const char *marker, fault_run *fr)
{
    ldr_err err;
    redisReply *reps[8] = {0};
    memset(fr, 0, sizeof *fr);
    CHECK_OK(on_every_node(r, 2, (arg[]){S("INFO"), S("server")}, reps, &err), err);
    fr->pid = info_long(reps[1], "process_id");
    long port = info_long(reps[1], "tcp_port");
    ldr_redis_replies_free(reps, 8);
    if (fr->pid <= 0 || port <= 0 || kill((pid_t)fr->pid, sig) != 0) {
        HARNESS_FAIL("no primary to signal (pid %ld)", fr->pid);
        return false;
    }
    char name[64];
    snprintf(name, sizeof name, ":%ld", port);
    double t_sig = now_s();
    while (now_s() - t_sig < 20) {
        double t0 = now_s();
        ldr_code rc = read_cluster_keys(r, &fr->wrong, &err);
        double dt = now_s() - t0;
        if (rc == LDR_OK && fr->failures > 0) {
            fr->t_back = now_s() - t_sig;
            break;
        }
        if (rc != LDR_OK) {
            fr->failures++;
            fr->worst = dt > fr->worst ? dt : fr->worst;
            fr->marked += strstr(err.msg, marker) != NULL;
            if (!strstr(err.msg, name)) {
                fr->unnamed++;
                printf("# error not naming %s: %s\n", name, err.msg);
            }
            if (fr->failures == 1)
                printf("# first failure after %.3f s (batch took %.3f s): %s\n", now_s() - t_sig,
                       dt, err.msg);
        }
        usleep(20000);
    }
    printf("# signal %d to node %s: %d failed batches (%d with \"%s\"), slowest %.3f s; "
           "served again after %.3f s\n",
           sig, name, fr->failures, fr->marked, marker, fr->worst, fr->t_back);
    return true;
}

TEST(cluster_fault_hung_primary)
{
    /* SIGSTOP: the node accepts connections (the kernel does) but never answers. The
     * first batch fails after one read timeout (500 ms), naming the node; then the node
     * is in backoff and batches fail fast, until the replica is promoted. */
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(500);
    if (!r)
        return;
    ldr_err err;
    redisReply *reps[8] = {0};
    CHECK_OK(on_every_node(r, 2, (arg[]){S("INFO"), S("replication")}, reps, &err), err);
    bool replicas = true;
    for (size_t i = 0; i < ldr_redis_node_count(r); i++)
        replicas = replicas && info_long(reps[i], "connected_slaves") >= 1;
    ldr_redis_replies_free(reps, 8);
    if (!replicas)
        ldr_redis_close(r);
    SKIP_UNLESS(replicas, "the cluster has no replicas (--cluster-replicas 1)");
    write_cluster_keys(r);
    CHECK(replicas_in_sync(r));
    fault_run fr;
    bool ran = fault_loop(r, SIGSTOP, "read timeout", &fr);
    if (ran)
        kill((pid_t)fr.pid, SIGCONT);
    CHECK(ran && fr.failures > 0);
    CHECK_EQ_I64(fr.unnamed, 0);
    CHECK(fr.marked > 0);
    CHECK(fr.worst > 0.4 && fr.worst < 1.5); /* about one read timeout */
    CHECK(fr.t_back > 0);
    CHECK_EQ_I64(fr.wrong, 0);
    ldr_redis_close(r);
}

TEST(cluster_fault_kill_primary)
{
    /* kill -9 of a primary during a read loop: every failing batch reports the node
     * promptly (reset, refused, then backoff), and once its replica is promoted the same
     * handle serves every key again. */
    SKIP_UNLESS(g_cluster, "LARDER_TEST_REDIS_CLUSTER not set (no redis-server)");
    ldr_redis *r = open_cluster(1000);
    if (!r)
        return;
    write_cluster_keys(r);
    bool synced = replicas_in_sync(r); /* after the hung-primary test, the old primary
                                        * must have resynced as a replica */
    CHECK(synced);
    fault_run fr;
    if (synced && fault_loop(r, SIGKILL, "next reconnect attempt in", &fr)) {
        CHECK(fr.failures > 0);
        CHECK(fr.marked > 0); /* some failed fast in backoff */
        CHECK_EQ_I64(fr.unnamed, 0);
        CHECK(fr.worst < 3.0);
        CHECK(fr.t_back > 0);
        CHECK_EQ_I64(fr.wrong, 0);
        CHECK_EQ_I64(ldr_redis_node_count(r), 3);
    }
    ldr_redis_close(r);
}

int main(void)
{
    g_standalone = getenv("LARDER_TEST_REDIS");
    g_cluster = getenv("LARDER_TEST_REDIS_CLUSTER");
    if (g_standalone && !*g_standalone)
        g_standalone = NULL;
    if (g_cluster && !*g_cluster)
        g_cluster = NULL;
    RUN(slot_vectors);
    RUN(opts_parse_good);
    RUN(opts_parse_bad);
    RUN(connection_refused_is_prompt_and_named);
    RUN(read_timeout_against_a_silent_server);
    RUN(cluster_redirect_loop_is_bounded);
    RUN(standalone_pipeline_binary);
    RUN(standalone_error_reply_is_a_reply);
    RUN(standalone_select_db);
    RUN(standalone_auth);
    RUN(standalone_reconnects_after_connection_kill);
    RUN(standalone_no_retry_no_reconnect);
    RUN(cluster_slots_match_server);
    RUN(cluster_batch_over_all_nodes);
    RUN(cluster_scan_every_node);
    RUN(cluster_moved_after_slot_migration);
    RUN(cluster_ask_during_migration);
    RUN(cluster_down_slot_is_busy);
    RUN(cluster_fault_hung_primary);
    RUN(cluster_fault_kill_primary); /* last: it kills a primary */
    return harness_done();
}
