/*
 * redis.c -- the Redis online store (type "redis"), byte-compatible with Feast's Redis
 * layout (reference §7.3), so Larder serves from and materializes into a Feast Redis:
 *   key    = Feast v3 entity key || project name (no separator): one hash per (project,
 *            entity key), shared by every view with the same join keys;
 *   fields = `_ts:<view>`          google.protobuf.Timestamp of the row's event time;
 *            murmur3_32("<view>:<feature>", 0) as 4 little-endian bytes -> feast Value;
 *            `_created_ts:<view>`  Timestamp of the created time (Larder only; Feast
 *                                  ignores it; absent when the source has none).
 * Values are encoded by redis_proto.c. Connections, pipelining, cluster routing and
 * reconnects are redis_conn.c's (ldr_redis_*): this file only builds commands.
 *
 * Writes keep Larder's newer-wins contract (online.h) atomically per key. Standalone: a
 * batch goes in optimistic transactions of TX_CHUNK rows (WATCH + HMGET of the stored
 * `_ts`/`_created_ts`, the decision here, MULTI/HSET/EXEC; an aborted EXEC is retried, see
 * "Writes: one optimistic transaction per batch" below). Cluster, and the fallback: each
 * row is one EVALSHA of a small Lua script (WRITE_LUA) that reads, compares, and only then
 * HSETs (and EXPIREs when key_ttl_seconds is set), all inside Redis; one script call
 * touches one key, so it is cluster-safe; the calls of a batch are pipelined (one round
 * trip per node). A batch is not atomic as a whole: a failed batch may leave some rows
 * written, which a rerun overwrites or skips by the same rule.
 *
 * Reads (read_many): one HMGET per distinct hash for the fields of every requested view
 * using it, pipelined. A hash without `_ts:<view>` is NOT_FOUND for that view (Feast
 * reports such keys PRESENT with nulls: a quirk not kept). Redis has no tables: update
 * creates nothing; dropping a view (update or teardown) SCANs every primary node for the
 * project's keys (MATCH *<project>, then an exact check of the key's shape) and HDELs
 * the view's fields; Redis deletes a hash left empty by itself.
 * One handle per thread (the server opens one per worker); not thread-safe.
 */
#include "online/online.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "online/online_int.h"
#include "online/redis_conn.h"

#define SCAN_COUNT  "1000"
#define MAX_BATCH   ((size_t)1 << 31) /* encoded bytes of one write batch */
#define WRITE_FIXED 18                /* EVALSHA sha 2 key epoch + at most 13 fixed ARGV */
#define FIELD_LEN   4                 /* a feature's field name: murmur3, little-endian */

/*
 * Compare-and-set of one row. KEYS[1] the hash; KEYS[2] the project's write epoch
 * (standalone: bumped when the row is written, see "Writes" below), or KEYS[1] again on a
 * cluster, which has no epoch (a script's keys must share a slot). ARGV: 1/2 new event
 * seconds/nanos, 3/4 new created seconds/nanos (3 empty: none), 5 TTL seconds (0: none), 6 the
 * `_created_ts:<view>` field, 7/8 "HSET" and the key (unused here: they make argv[11..] of
 * the EVALSHA the transactions' HSET command as it is, see tx_build), then the field/value
 * pairs to HSET, starting with `_ts:<view>` (9, 10) [and `_created_ts:<view>` when there
 * is one], then the features. So the write is one HSET of ARGV[9..] (in slices of 1000
 * arguments: Lua's unpack has a stack limit), plus an HDEL of a stale created field only
 * when one is stored.
 * Returns 1 when written, 0 when the stored row is newer.
 * ts() decodes a Timestamp: varints split in a low 28-bit part and the rest so that
 * negative (10-byte, two's complement) seconds stay exact in Lua's doubles.
 */
static const char WRITE_LUA[] =
    "local function ts(b)\n"
    "  local f, i = {0, 0}, 1\n"
    "  while i <= #b do\n"
    "    local tag = string.byte(b, i); i = i + 1\n"
    "    local lo, hi, m, k, c = 0, 0, 1, 0, 128\n"
    "    while c >= 128 do\n"
    "      c = string.byte(b, i)\n"
    "      if not c then return nil end\n"
    "      i = i + 1\n"
    "      if k == 4 then m = 1 end\n"
    "      if k < 4 then lo = lo + (c % 128) * m else hi = hi + (c % 128) * m end\n"
    "      m = m * 128; k = k + 1\n"
    "    end\n"
    "    hi = hi % 68719476736\n"
    "    if hi >= 34359738368 then hi = hi - 68719476736 end\n"
    "    if tag == 8 or tag == 16 then f[tag / 8] = hi * 268435456 + lo end\n"
    "  end\n"
    "  return f\n"
    "end\n"
    "local function older(a, s, n)\n"
    "  if not a then return redis.error_reply('larder: corrupt timestamp field') end\n"
    "  return s < a[1] or (s == a[1] and n < a[2])\n"
    "end\n"
    "local k = KEYS[1]\n"
    "local old = redis.call('HMGET', k, ARGV[9], ARGV[6])\n"
    "if old[1] then\n"
    "  local es, en = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "  local o = ts(old[1])\n"
    "  local r = older(o, es, en)\n"
    "  if r then return r == true and 0 or r end\n"
    "  if es == o[1] and en == o[2] then\n"
    "    if ARGV[3] == '' then\n"
    "      if old[2] then return 0 end\n"
    "    elseif old[2] then\n"
    "      r = older(ts(old[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))\n"
    "      if r then return r == true and 0 or r end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local n = #ARGV\n"
    "if n <= 1008 then\n"
    "  redis.call('HSET', k, unpack(ARGV, 9, n))\n"
    "else\n"
    "  for i = 9, n, 1000 do redis.call('HSET', k, unpack(ARGV, i, math.min(i + 999, n))) end\n"
    "end\n"
    "if ARGV[3] == '' and old[2] then redis.call('HDEL', k, ARGV[6]) end\n"
    "if ARGV[5] ~= '0' then redis.call('EXPIRE', k, ARGV[5]) end\n"
    "if KEYS[2] ~= k then redis.call('INCR', KEYS[2]) end\n"
    "return 1\n";

typedef struct rds_store {
    ldr_arena arena; /* the parsed options, alive as long as the connection */
    ldr_redis *conn;
    char ttl[24]; /* key_ttl_seconds as text; "0" for none */
    char sha[48]; /* SHA1 of WRITE_LUA from SCRIPT LOAD; "" until loaded */
    bool cluster;
    int writers;                       /* concurrent_writers: LDR_WRITERS_* (repo.h) */
    ldr__online_redis_tx_hook tx_hook; /* tests: runs between a transaction's two round trips */
    void *tx_hook_arg;
} rds_store;

/* ---- Commands ------------------------------------------------------------------------------ */

/* A command under construction: argv and lengths from an arena. */
typedef struct cmdb {
    const char **argv;
    size_t *len;
    int argc;
} cmdb;

static void cmd_init(cmdb *c, size_t cap, ldr_arena *a)
{
    c->argv = ldr_arena_calloc(a, cap, sizeof *c->argv);
    c->len = ldr_arena_calloc(a, cap, sizeof *c->len);
    c->argc = 0;
}

static void cmd_arg(cmdb *c, const void *p, size_t len)
{
    c->argv[c->argc] = p;
    c->len[c->argc++] = len;
}

static void cmd_str(cmdb *c, const char *s)
{
    cmd_arg(c, s, strlen(s));
}

static ldr_redis_cmd cmd_done(const cmdb *c, const void *key, size_t key_len)
{
    ldr_redis_cmd r = {c->argc, c->argv, c->len, key, key_len};
    return r;
}

/* The hash of a key: entity key bytes followed by the project name. */
static char *full_key(const ldr_online_keyref *k, const char *project, ldr_arena *a,
                      size_t *out_len)
{
    size_t pl = strlen(project);
    char *p = ldr_arena_alloc(a, k->len + pl + 1);
    if (k->len)
        memcpy(p, k->ptr, k->len);
    memcpy(p + k->len, project, pl + 1);
    *out_len = k->len + pl;
    return p;
}

/* A feature's field name: murmur3_32("<view>:<feature>", 0), 4 bytes little-endian. */
static char *feature_field(const char *view, const char *feature, ldr_arena *a)
{
    size_t vl = strlen(view), fl = strlen(feature);
    char *name = ldr_arena_alloc(a, vl + fl + 2);
    memcpy(name, view, vl);
    name[vl] = ':';
    memcpy(name + vl + 1, feature, fl + 1);
    uint8_t *f = ldr_arena_alloc(a, FIELD_LEN);
    ldr__online_le32(f, ldr_murmur3_32(name, vl + 1 + fl, 0));
    return (char *)f;
}

static ldr_code reply_error(const redisReply *r, const char *what, ldr_err *err)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        return ldr_err_setf(err, LDR_EBACKEND, "redis: %s: %.*s", what, (int)r->len, r->str);
    return ldr_err_setf(err, LDR_EBACKEND, "redis: %s: unexpected reply type %d", what,
                        r ? r->type : -1);
}

/* Runs cmds through the connection; replies allocated, caller frees. */
static ldr_code exec(rds_store *s, const ldr_redis_cmd *cmds, size_t n, redisReply **replies,
                     ldr_err *err)
{
    return n ? ldr_redis_exec(s->conn, cmds, n, replies, err) : LDR_OK;
}

/* ---- Open and close ------------------------------------------------------------------------ */

static void rds_close(void *self)
{
    rds_store *s = self;
    if (!s)
        return;
    ldr_redis_close(s->conn);
    ldr_arena_fini(&s->arena);
    ldr_free(s);
}

static ldr_code rds_open(const ldr_config *cfg, void **self, ldr_err *err)
{
    rds_store *s = ldr_xcalloc(1, sizeof *s);
    ldr_arena_init(&s->arena, 1024);
    const char *cs =
        cfg->online_connection_string ? cfg->online_connection_string : "localhost:6379";
    ldr_redis_opts o;
    ldr_code rc = ldr_redis_opts_parse(cs, cfg->online_redis_cluster, &s->arena, &o, err);
    if (rc == LDR_OK && !(s->conn = ldr_redis_open(&o, err)))
        rc = err ? err->code : LDR_EBACKEND;
    if (rc != LDR_OK) {
        ldr_err_prefix(err, "online store (redis): "); /* not cs: it may hold a password */
        rds_close(s);
        return rc;
    }
    s->cluster = ldr_redis_is_cluster(s->conn);
    s->writers = (int)cfg->online_concurrent_writers;
    snprintf(s->ttl, sizeof s->ttl, "%lld",
             cfg->online_key_ttl_seconds > 0 ? cfg->online_key_ttl_seconds : 0);
    *self = s;
    return LDR_OK;
}

/* ---- Writes -------------------------------------------------------------------------------- */

/* Loads WRITE_LUA (once per handle) and keeps its SHA1 for EVALSHA. */
static ldr_code load_script(rds_store *s, ldr_err *err)
{
    if (s->sha[0])
        return LDR_OK;
    const char *argv[] = {"SCRIPT", "LOAD", WRITE_LUA};
    size_t len[] = {6, 4, sizeof WRITE_LUA - 1};
    ldr_redis_cmd c = {3, argv, len, NULL, 0};
    redisReply *r = NULL;
    ldr_code rc = ldr_redis_exec_node(s->conn, 0, &c, 1, &r, err);
    if (rc == LDR_OK && (r->type != REDIS_REPLY_STRING || r->len >= sizeof s->sha))
        rc = reply_error(r, "SCRIPT LOAD", err);
    if (rc == LDR_OK)
        memcpy(s->sha, r->str, r->len + 1);
    ldr_redis_replies_free(&r, 1);
    return rc;
}

/* Checks a row's values against the view and encodes them as Feast Values into a. */
static ldr_code encode_row(const ldr_online_view *v, const ldr_online_row *row, ldr_buf *tmp,
                           ldr_arena *a, cmdb *c, const char *const *fields, ldr_err *err)
{
    for (size_t f = 0; f < v->n_features; f++) {
        const ldr_field *fd = &v->features[f];
        const ldr_value *x = &row->values[f];
        if (!x->is_null && x->type != fd->type)
            return ldr_err_setf(err, LDR_EINVAL, "feature '%s': value of type %s, declared %s",
                                fd->name, ldr_type_name(x->type), ldr_type_name(fd->type));
        uint8_t sb[LDR_ONLINE_PB_SCALAR_MAX];
        size_t sn = ldr_online_pb_scalar_encode(x, sb);
        if (sn) { /* numbers, bools, timestamps: no buffer round trip */
            char *p = ldr_arena_alloc(a, sn);
            memcpy(p, sb, sn);
            cmd_arg(c, fields[f], FIELD_LEN);
            cmd_arg(c, p, sn);
            continue;
        }
        ldr_buf_reset(tmp);
        ldr_code rc = ldr_online_pb_value_encode(x, tmp, err);
        if (rc != LDR_OK) {
            ldr_err_prefix(err, "feature '%s': ", fd->name);
            return rc;
        }
        char *p = ldr_arena_alloc(a, tmp->len + 1);
        if (tmp->len)
            memcpy(p, tmp->ptr, tmp->len);
        cmd_arg(c, fields[f], FIELD_LEN);
        cmd_arg(c, p, tmp->len);
    }
    return LDR_OK;
}

/* Copies a Timestamp's encoding into a. */
static const char *ts_bytes(ldr_ts ts, ldr_buf *tmp, ldr_arena *a, size_t *len, ldr_err *err)
{
    ldr_buf_reset(tmp);
    if (ldr_online_pb_ts_encode(ts, tmp, err) != LDR_OK)
        return NULL;
    char *p = ldr_arena_alloc(a, tmp->len + 1);
    if (tmp->len)
        memcpy(p, tmp->ptr, tmp->len);
    *len = tmp->len;
    return p;
}

/* v in decimal, in a (ldr_arena_sprintf's vfprintf was a visible per-row cost). */
static const char *dec_i64(int64_t v, ldr_arena *a)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    *--p = '\0';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    size_t len = (size_t)(tmp + sizeof tmp - p);
    char *out = ldr_arena_alloc(a, len);
    memcpy(out, p, len);
    return out;
}

static void seconds_nanos(ldr_ts ts, ldr_arena *a, const char **s, const char **ns)
{
    int64_t sec = ts / 1000000, us = ts % 1000000;
    if (us < 0) {
        sec -= 1;
        us += 1000000;
    }
    *s = dec_i64(sec, a);
    *ns = dec_i64(us * 1000, a);
}

/* The write epochs of a project (standalone only): EPOCH_SHARDS counters
 * `larder:write_epoch:<project>:<shard>`; a key's shard is the top bits of its hash. Every
 * Larder write transaction INCRs the epochs of the shards it writes and WATCHes them
 * between its read and its write (see "Writes" below). Never Feast keys: a v3 entity key
 * starts with its key count as 4 little-endian bytes, and "lard" would be 1.7 billion
 * join keys. Names are made on first use (a push of one row needs one). */
#define EPOCH_SHARDS 64

typedef struct epochs {
    const char *project;
    ldr_arena *a;
    const char *key[EPOCH_SHARDS];
    size_t len[EPOCH_SHARDS];
} epochs;

/* The shard of a key from its ldr_hash_bytes. */
static unsigned shard_of(uint64_t hash)
{
    return (unsigned)(hash >> 58); /* 64 = 2^6 shards */
}

static void epoch_arg(epochs *e, unsigned shard, cmdb *c)
{
    if (!e->key[shard]) {
        e->key[shard] = ldr_arena_sprintf(e->a, "larder:write_epoch:%s:%u", e->project, shard);
        e->len[shard] = strlen(e->key[shard]);
    }
    cmd_arg(c, e->key[shard], e->len[shard]);
}

/* Builds the EVALSHA command of every row (validating and encoding all of them first,
 * so a bad value fails the batch before anything is sent). ep: the project's write
 * epochs (standalone; hash[i] gets the ldr_hash_bytes of row i's key), or NULL (cluster). */
static ldr_code build_writes(rds_store *s, const ldr_online_view *v, const ldr_online_row *rows,
                             size_t n, epochs *ep, uint64_t *hash, ldr_arena *a, cmdb *cb,
                             ldr_redis_cmd *cmds, ldr_err *err)
{
    const char **fields = ldr_arena_calloc(a, v->n_features + 1, sizeof *fields);
    for (size_t f = 0; f < v->n_features; f++)
        fields[f] = feature_field(v->name, v->features[f].name, a);
    const char *ts_f = ldr_arena_sprintf(a, "_ts:%s", v->name);
    const char *cr_f = ldr_arena_sprintf(a, "_created_ts:%s", v->name);
    ldr_buf tmp;
    ldr_buf_init(&tmp, MAX_BATCH);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        const ldr_online_row *r = &rows[i];
        cmdb *cp = &cb[i];
        cmd_init(cp, WRITE_FIXED + 2 * v->n_features, a);
        size_t kl, tl = 0, cl = 0;
        const char *key = full_key(&r->key, v->project, a, &kl);
        const char *es, *ens, *cs = "", *cns = "";
        seconds_nanos(r->event_ts, a, &es, &ens);
        const char *tb = ts_bytes(r->event_ts, &tmp, a, &tl, err), *crb = "";
        if (r->created_ts != LDR_TS_NONE) {
            seconds_nanos(r->created_ts, a, &cs, &cns);
            crb = ts_bytes(r->created_ts, &tmp, a, &cl, err);
        }
        if (!tb || !crb) {
            rc = err ? err->code : LDR_ELIMIT;
            break;
        }
        cmd_str(cp, "EVALSHA");
        cmd_str(cp, s->sha);
        cmd_str(cp, "2");
        cmd_arg(cp, key, kl);
        if (ep) {
            hash[i] = ldr_hash_bytes(key, kl);
            epoch_arg(ep, shard_of(hash[i]), cp);
        } else {
            cmd_arg(cp, key, kl);
        }
        const char *fixed[] = {es, ens, cs, cns, s->ttl, cr_f, "HSET"};
        for (size_t j = 0; j < LDR_ARRAY_LEN(fixed); j++)
            cmd_str(cp, fixed[j]);
        cmd_arg(cp, key, kl);
        cmd_str(cp, ts_f);
        cmd_arg(cp, tb, tl);
        if (r->created_ts != LDR_TS_NONE) {
            cmd_str(cp, cr_f);
            cmd_arg(cp, crb, cl);
        }
        rc = encode_row(v, r, &tmp, a, cp, fields, err);
        if (rc != LDR_OK)
            ldr_err_prefix(err, "row %zu: ", i);
        cmds[i] = cmd_done(cp, key, kl);
    }
    ldr_buf_fini(&tmp);
    return rc;
}

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 && !memcmp(r->str, "NOSCRIPT", 8);
}

/* Counts written rows; reruns with EVAL (which loads the script) the commands a node
 * answered NOSCRIPT to (a restarted or failed-over node has an empty script cache). */
static ldr_code collect_writes(rds_store *s, cmdb *cb, ldr_redis_cmd *cmds, size_t n,
                               redisReply **rep, size_t *written, ldr_err *err)
{
    size_t n_retry = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_noscript(rep[i])) {
            cb[i].argv[0] = "EVAL";
            cb[i].len[0] = 4;
            cb[i].argv[1] = WRITE_LUA;
            cb[i].len[1] = sizeof WRITE_LUA - 1;
            cmds[n_retry++] = cmd_done(&cb[i], cmds[i].key, cmds[i].key_len);
        } else if (rep[i]->type == REDIS_REPLY_INTEGER) {
            *written += rep[i]->integer == 1;
        } else {
            return reply_error(rep[i], "write script", err);
        }
    }
    if (!n_retry)
        return LDR_OK;
    ldr_redis_replies_free(rep, n);
    ldr_code rc = exec(s, cmds, n_retry, rep, err);
    for (size_t i = 0; i < n_retry && rc == LDR_OK; i++) {
        if (rep[i]->type != REDIS_REPLY_INTEGER)
            rc = reply_error(rep[i], "write script", err);
        else
            *written += rep[i]->integer == 1;
    }
    return rc;
}

/* ---- Writes: optimistic transactions guarded by write epochs (standalone) --------------
 *
 * A Lua script per row costs Redis about twice the bare HSET (BENCHMARKS.md), so on a
 * standalone server a batch is written in transactions of up to TX_CHUNK rows, each in
 * two rounds on one connection:
 *   1. WATCH the write epochs of the chunk's shards (shard_of: 1 or 2 epochs, since a
 *      batch is put in shard order first), then HMGET `_ts:<view>`/`_created_ts:<view>`
 *      of each row -- or, while the keys met are new, one EXISTS of the chunk's keys
 *      (0: every row is written without a read; else the HMGETs follow, still watched);
 *   2. the newer-wins decision in the client (as WRITE_LUA's, to the nanosecond), then
 *      MULTI, an HSET (+ HDEL of a stale created field, + EXPIRE) per newer row, an INCR
 *      of each of the chunk's epochs, EXEC; only UNWATCH when no row is newer.
 * Every Larder write to a key INCRs its shard's epoch inside the same MULTI (or script)
 * that writes it, so any Larder write to a key of the chunk between 1 and 2 makes EXEC
 * answer nil and nothing of the chunk is applied. The chunk is then redone from 1
 * watching its keys themselves (UNWATCH first: the next chunk's WATCH may be pending), so
 * that only a write to one of them aborts it again, TX_TRIES times in all, and is then
 * written by the per-row scripts. With `concurrent_writers: any` every chunk watches its
 * keys, which also catches writers that are not Larder (Feast) -- at a cost: Redis's
 * instructions per row are 1.38x the bare HSETs' with keyed WATCH, 1.11x with epochs
 * (BENCHMARKS.md). `concurrent_writers: none` sends round 1 without WATCH and round 2
 * as the writes alone (Feast's unguarded protocol, 1.03x).
 * Round 2 of a chunk goes in one pipeline with round 1 of the next: one round trip per
 * chunk. The writer threads of one process would abort each other through the shared
 * epochs, so chunks are picked out of order to avoid shards another thread of the
 * process holds (g_busy_shards, a hint only: correctness rests on the WATCH).
 * The rounds refuse to reconnect or re-send (LDR_REDIS_NO_RETRY/NO_RECONNECT): a WATCH
 * does not survive a reconnect. A connection failure makes the chunk fall back to the
 * scripts, which may reconnect (a script run twice is harmless), so failures are reported
 * as the scripts report them. A batch holding a key twice also uses the scripts (the rule
 * must see the batch's earlier row). A cluster keeps the scripts: MULTI/WATCH need every
 * key in one slot. */

#define TX_TRIES     3
/* Rows per transaction. A keyed WATCH scans the client's list of watched keys for each
 * key it adds (O(n^2) per chunk: 0.5 us per row at 32 keys, 0.8 at 64, 2.9 at 256); with
 * epochs, 128-256 rows measured the same as 64 within the noise, and a small chunk
 * aborts less often under concurrent writers. */
#define TX_CHUNK     64
#define TX_LOOKAHEAD 64 /* chunks tx_pick looks through for one of free shards */
#define TX_REPROBE   16 /* after keys were found, chunks before EXISTS is tried again */
#define ARG_CRF      10 /* EVALSHA argv (build_writes): `_created_ts:<view>` */
#define ARG_HSET     11 /* "HSET", the key: argv[ARG_HSET..] is the row's HSET command */
#define ARG_TSF      13 /* `_ts:<view>`: the HSET pairs start here */

/* Shards held by this process's transactions in flight (a bit each). */
static _Atomic uint64_t g_busy_shards;

void ldr__online_redis_set_tx_hook(void *self, ldr__online_redis_tx_hook fn, void *arg)
{
    rds_store *s = self;
    s->tx_hook = fn;
    s->tx_hook_arg = arg;
}

/* True when two rows of the batch share a key (hash[i]: row i's key's ldr_hash_bytes). */
static bool has_duplicate_keys(const ldr_redis_cmd *cmds, const uint64_t *hash, size_t n,
                               ldr_arena *a)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = ldr_arena_calloc(a, cap, sizeof *slot); /* row + 1 */
    for (size_t i = 0; i < n; i++) {
        const ldr_redis_cmd *c = &cmds[i];
        size_t h = (size_t)hash[i] & (cap - 1);
        for (; slot[h]; h = (h + 1) & (cap - 1)) {
            const ldr_redis_cmd *o = &cmds[slot[h] - 1];
            if (o->key_len == c->key_len && !memcmp(o->key, c->key, c->key_len))
                return true;
        }
        slot[h] = (uint32_t)(i + 1);
    }
    return false;
}

/* -1, 0, 1 as the new time (whole microseconds) is before, equal to or after the stored
 * one (microseconds plus sub_ns nanoseconds). */
static int ts_cmp(ldr_ts new_ts, ldr_ts stored, uint32_t sub_ns)
{
    if (new_ts != stored)
        return new_ts < stored ? -1 : 1;
    return sub_ns ? -1 : 0;
}

/* The newer-wins decision of WRITE_LUA for one row from its HMGET reply (stored `_ts`,
 * `_created_ts`). *write: the row replaces the stored one; *del_cr: the stored created
 * field must go (the new row has none). */
static ldr_code decide(const ldr_online_row *row, const redisReply *r, bool *write, bool *del_cr,
                       ldr_err *err)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return reply_error(r, "HMGET", err);
    const redisReply *ts = r->element[0], *cr = r->element[1];
    bool has_cr = cr->type == REDIS_REPLY_STRING;
    *del_cr = row->created_ts == LDR_TS_NONE && has_cr;
    *write = true;
    if (ts->type != REDIS_REPLY_STRING)
        return LDR_OK;
    ldr_ts st, sc;
    uint32_t st_ns, sc_ns;
    if (ldr_online_pb_ts_decode_exact(ts->str, ts->len, &st, &st_ns, err) != LDR_OK ||
        (has_cr && ldr_online_pb_ts_decode_exact(cr->str, cr->len, &sc, &sc_ns, err) != LDR_OK))
        return ldr_err_setf(err, LDR_EBACKEND, "redis: write: larder: corrupt timestamp field");
    int c = ts_cmp(row->event_ts, st, st_ns);
    if (c == 0 && row->created_ts == LDR_TS_NONE)
        *write = !has_cr;
    else if (c == 0 && has_cr)
        *write = ts_cmp(row->created_ts, sc, sc_ns) >= 0;
    else
        *write = c >= 0;
    return LDR_OK;
}

/* One chunk of a batch in shard order: rows [off, off + m), their shards. */
typedef struct txchunk {
    size_t off, m;
    uint64_t mask;
    bool done;
} txchunk;

/* The state of a batch's transactions. cmds/cb/rows are in shard order. cur is the chunk
 * under way (SIZE_MAX: none left); rd[0..n_rd) holds the replies of its round 1 (WATCH +
 * HMGETs, the HMGETs last) when n_rd > 0. */
typedef struct txrun {
    rds_store *s;
    epochs *ep;
    ldr_redis_cmd *cmds;
    cmdb *cb;
    ldr_online_row *rows;
    size_t *orig; /* orig[j]: the batch's index of row j */
    txchunk *ch;
    size_t n_ch, first_open; /* chunks before first_open are all done */
    size_t cur, n_rd;
    int attempt;
    bool unwatch;         /* a stale WATCH may be pending: UNWATCH before the next one */
    bool probe;           /* round 1 asks EXISTS of the keys, not their timestamps */
    bool rd_probe;        /* rd holds the replies of a probing round 1 */
    unsigned since_probe; /* chunks since the last probe */
    uint64_t held;        /* this run's bits of g_busy_shards */
    redisReply **rd, **rep;
    ldr_redis_cmd *wc;
    bool *write, *del_cr;
    size_t *written;
} txrun;

/* Makes `held` this run's share of g_busy_shards. */
static void tx_hold(txrun *t, uint64_t held)
{
    uint64_t gone = t->held & ~held, added = held & ~t->held;
    if (gone)
        atomic_fetch_and(&g_busy_shards, ~gone);
    if (added)
        atomic_fetch_or(&g_busy_shards, added);
    t->held = held;
}

/* The next chunk to start besides `busy` (SIZE_MAX: none): the first open one whose shards
 * no other transaction of the process holds, else the first open one. */
static size_t tx_pick(txrun *t, size_t busy)
{
    while (t->first_open < t->n_ch && t->ch[t->first_open].done)
        t->first_open++;
    uint64_t others = atomic_load(&g_busy_shards) & ~t->held;
    size_t first = SIZE_MAX, seen = 0;
    for (size_t k = t->first_open; k < t->n_ch && seen < TX_LOOKAHEAD; k++) {
        if (t->ch[k].done || k == busy)
            continue;
        seen++;
        if (first == SIZE_MAX)
            first = k;
        if (!(t->ch[k].mask & others))
            return k;
    }
    return first;
}

/* Adds the epochs of mask's shards to c. */
static void epoch_args(epochs *e, uint64_t mask, cmdb *c)
{
    for (unsigned b = 0; b < EPOCH_SHARDS; b++)
        if (mask >> b & 1)
            epoch_arg(e, b, c);
}

/* The HMGET of each row's timestamps of chunk ck into out; returns the count. */
static size_t tx_read_cmds(const txrun *t, const txchunk *ck, ldr_arena *a, ldr_redis_cmd *out)
{
    const ldr_redis_cmd *cmds = t->cmds + ck->off;
    const cmdb *cb = t->cb + ck->off;
    for (size_t i = 0; i < ck->m; i++) {
        cmdb h;
        cmd_init(&h, 4, a);
        cmd_str(&h, "HMGET");
        cmd_arg(&h, cmds[i].key, cmds[i].key_len);
        cmd_arg(&h, cb[i].argv[ARG_TSF], cb[i].len[ARG_TSF]);
        cmd_arg(&h, cb[i].argv[ARG_CRF], cb[i].len[ARG_CRF]);
        out[i] = cmd_done(&h, cmds[i].key, cmds[i].key_len);
    }
    return ck->m;
}

/* Round 1 of chunk ck into out: [UNWATCH] WATCH <its epochs> or WATCH <its keys> (keyed),
 * then EXISTS <its keys> (probe) or HMGET of each row's timestamps. Returns the count (the
 * EXISTS or the HMGETs are last). */
static size_t tx_watch_cmds(txrun *t, const txchunk *ck, bool unwatch, bool keyed, bool probe,
                            ldr_arena *a, ldr_redis_cmd *out)
{
    static const char *const unwatch_argv[] = {"UNWATCH"};
    static const size_t unwatch_len[] = {7};
    const ldr_redis_cmd *cmds = t->cmds + ck->off;
    size_t n = ck->m, k = 0;
    if (unwatch)
        out[k++] = (ldr_redis_cmd){1, unwatch_argv, unwatch_len, cmds[0].key, cmds[0].key_len};
    if (t->s->writers != LDR_WRITERS_NONE) { /* none: no WATCH */
        cmdb w;
        cmd_init(&w, (keyed ? n : EPOCH_SHARDS) + 1, a);
        cmd_str(&w, "WATCH");
        if (keyed)
            for (size_t i = 0; i < n; i++)
                cmd_arg(&w, cmds[i].key, cmds[i].key_len);
        else
            epoch_args(t->ep, ck->mask, &w);
        out[k++] = cmd_done(&w, cmds[0].key, cmds[0].key_len);
    }
    if (!probe)
        return k + tx_read_cmds(t, ck, a, out + k);
    cmdb e;
    cmd_init(&e, n + 1, a);
    cmd_str(&e, "EXISTS");
    for (size_t i = 0; i < n; i++)
        cmd_arg(&e, cmds[i].key, cmds[i].key_len);
    out[k++] = cmd_done(&e, cmds[0].key, cmds[0].key_len);
    return k;
}

/* Round 2 of chunk ck into out: MULTI, per row to write HSET [HDEL] [EXPIRE], INCR of
 * each of its epochs, EXEC; only UNWATCH when no row is newer. Returns the count (EXEC or
 * UNWATCH is last). */
static size_t tx_build(txrun *t, const txchunk *ck, ldr_arena *a, ldr_redis_cmd *out)
{
    static const char *const multi[] = {"MULTI"}, *const exec_argv[] = {"EXEC"},
                             *const unwatch[] = {"UNWATCH"};
    static const size_t multi_len[] = {5}, exec_len[] = {4}, unwatch_len[] = {7};
    const ldr_redis_cmd *cmds = t->cmds + ck->off;
    const cmdb *cb = t->cb + ck->off;
    bool ttl = strcmp(t->s->ttl, "0") != 0, any = false;
    bool guard = t->s->writers != LDR_WRITERS_NONE;
    size_t k = 0;
    if (guard)
        out[k++] = (ldr_redis_cmd){1, multi, multi_len, cmds[0].key, cmds[0].key_len};
    for (size_t i = 0; i < ck->m; i++) {
        if (!t->write[i])
            continue;
        any = true;
        const void *key = cmds[i].key;
        size_t kl = cmds[i].key_len;
        out[k++] = (ldr_redis_cmd){cb[i].argc - ARG_HSET, cb[i].argv + ARG_HSET,
                                   cb[i].len + ARG_HSET, key, kl};
        if (t->del_cr[i]) {
            cmdb d;
            cmd_init(&d, 3, a);
            cmd_str(&d, "HDEL");
            cmd_arg(&d, key, kl);
            cmd_arg(&d, cb[i].argv[ARG_CRF], cb[i].len[ARG_CRF]);
            out[k++] = cmd_done(&d, key, kl);
        }
        if (ttl) {
            cmdb e;
            cmd_init(&e, 3, a);
            cmd_str(&e, "EXPIRE");
            cmd_arg(&e, key, kl);
            cmd_str(&e, t->s->ttl);
            out[k++] = cmd_done(&e, key, kl);
        }
    }
    if (!guard)
        return k; /* unguarded: the writes alone (nothing when no row is newer) */
    if (!any) {
        out[0] = (ldr_redis_cmd){1, unwatch, unwatch_len, cmds[0].key, cmds[0].key_len};
        return 1;
    }
    for (unsigned b = 0; b < EPOCH_SHARDS; b++) {
        if (!(ck->mask >> b & 1))
            continue;
        cmdb e;
        cmd_init(&e, 2, a);
        cmd_str(&e, "INCR");
        epoch_arg(t->ep, b, &e);
        out[k++] = cmd_done(&e, cmds[0].key, cmds[0].key_len);
    }
    out[k++] = (ldr_redis_cmd){1, exec_argv, exec_len, cmds[0].key, cmds[0].key_len};
    return k;
}

/* Checks EXEC's reply: LDR_OK with *aborted when a watched key changed. */
static ldr_code tx_result(const redisReply *r, bool *aborted, ldr_err *err)
{
    *aborted = r->type == REDIS_REPLY_NIL;
    if (*aborted)
        return LDR_OK;
    if (r->type != REDIS_REPLY_ARRAY)
        return reply_error(r, "write transaction", err);
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_ERROR)
            return reply_error(r->element[i], "write transaction", err);
    return LDR_OK;
}

static void tx_unwatch(rds_store *s)
{
    static const char *const argv[] = {"UNWATCH"};
    static const size_t len[] = {7};
    ldr_redis_cmd c = {1, argv, len, NULL, 0};
    redisReply *r = NULL;
    ldr_err ignored; /* a lost connection drops its watches anyway */
    if (ldr_redis_exec_flags(s->conn, &c, 1, LDR_REDIS_NO_RETRY | LDR_REDIS_NO_RECONNECT, &r,
                             &ignored) == LDR_OK)
        ldr_redis_replies_free(&r, 1);
}

/* The per-row scripts (cluster, fallback): EVALSHA of every row, NOSCRIPT handled. */
static ldr_code script_write(rds_store *s, cmdb *cb, ldr_redis_cmd *cmds, size_t n, size_t *written,
                             ldr_err *err)
{
    ldr_code rc = load_script(s, err);
    if (rc != LDR_OK)
        return rc;
    for (size_t i = 0; i < n; i++) { /* built before the script was loaded, maybe */
        cb[i].argv[1] = s->sha;
        cb[i].len[1] = strlen(s->sha);
        cmds[i] = cmd_done(&cb[i], cmds[i].key, cmds[i].key_len);
    }
    redisReply **rep = ldr_xcalloc(n + 1, sizeof *rep);
    rc = exec(s, cmds, n, rep, err);
    if (rc == LDR_OK)
        rc = collect_writes(s, cb, cmds, n, rep, written, err);
    ldr_redis_replies_free(rep, n);
    ldr_free(rep);
    return rc;
}

/* The chunk under way falls back to the scripts (after a lost connection or too many
 * aborts); the next one is picked. */
static ldr_code tx_fallback(txrun *t, ldr_err *err)
{
    txchunk *ck = &t->ch[t->cur];
    ldr_redis_replies_free(t->rd, t->n_rd);
    t->n_rd = 0;
    t->attempt = 0;
    t->unwatch = true;
    ck->done = true;
    tx_hold(t, 0);
    ldr_code rc = script_write(t->s, t->cb + ck->off, t->cmds + ck->off, ck->m, t->written, err);
    t->cur = tx_pick(t, SIZE_MAX);
    return rc;
}

/* One step: the current chunk's round 2 pipelined with the next chunk's round 1, so that
 * a chunk costs one round trip. Long for the bookkeeping of the two rounds' replies in one
 * array. */
static ldr_code tx_step(txrun *t, ldr_arena *a, ldr_err *err)
{
    const unsigned flags = LDR_REDIS_NO_RETRY | LDR_REDIS_NO_RECONNECT;
    const txchunk *ck = &t->ch[t->cur];
    size_t m = ck->m;
    ldr_err ignored;
    if (!t->n_rd) {
        tx_hold(t, ck->mask);
        bool keyed = t->s->writers == LDR_WRITERS_ANY || t->attempt > 0;
        size_t k = tx_watch_cmds(t, ck, t->unwatch, keyed, t->probe, a, t->wc);
        if (ldr_redis_exec_flags(t->s->conn, t->wc, k, LDR_REDIS_NO_RETRY, t->rd, &ignored))
            return tx_fallback(t, err);
        t->n_rd = k;
        t->rd_probe = t->probe;
    }
    bool fresh = false; /* no key of the chunk exists: every row is written */
    if (t->rd_probe) {
        const redisReply *r = t->rd[t->n_rd - 1];
        if (r->type != REDIS_REPLY_INTEGER) {
            tx_unwatch(t->s);
            return reply_error(r, "EXISTS", err);
        }
        fresh = r->integer == 0;
        t->probe = fresh;
        t->since_probe = 0;
        ldr_redis_replies_free(t->rd, t->n_rd);
        t->n_rd = 0;
        if (!fresh) { /* some exist: their timestamps, still under the WATCH */
            size_t k = tx_read_cmds(t, ck, a, t->wc);
            if (ldr_redis_exec_flags(t->s->conn, t->wc, k, flags, t->rd, &ignored))
                return tx_fallback(t, err);
            t->n_rd = k;
        }
    } else if (++t->since_probe == TX_REPROBE) {
        t->probe = true; /* the keys may be new again */
    }
    size_t n_write = 0;
    for (size_t i = 0; i < m && fresh; i++) {
        t->write[i] = true;
        t->del_cr[i] = false;
        n_write++;
    }
    for (size_t i = 0; i < m && !fresh; i++) {
        ldr_code rc =
            decide(&t->rows[ck->off + i], t->rd[t->n_rd - m + i], &t->write[i], &t->del_cr[i], err);
        if (rc != LDR_OK) {
            tx_unwatch(t->s);
            ldr_err_prefix(err, "row %zu: ", t->orig[ck->off + i]);
            return rc;
        }
        n_write += t->write[i];
    }
    ldr_redis_replies_free(t->rd, t->n_rd);
    t->n_rd = 0;
    if (t->s->tx_hook)
        t->s->tx_hook(t->s->tx_hook_arg, t->attempt);
    size_t k2 = tx_build(t, ck, a, t->wc), k1 = 0;
    size_t next = tx_pick(t, t->cur);
    if (next != SIZE_MAX) {
        tx_hold(t, ck->mask | t->ch[next].mask);
        k1 = tx_watch_cmds(t, &t->ch[next], false, t->s->writers == LDR_WRITERS_ANY, t->probe, a,
                           t->wc + k2);
    }
    if (ldr_redis_exec_flags(t->s->conn, t->wc, k2 + k1, flags, t->rep, &ignored))
        return tx_fallback(t, err); /* EXEC may have run: rewriting is harmless */
    bool aborted = false;
    ldr_code rc = LDR_OK;
    if (t->s->writers == LDR_WRITERS_NONE) { /* no EXEC: each write's own reply */
        for (size_t i = 0; i < k2 && rc == LDR_OK; i++)
            if (t->rep[i]->type == REDIS_REPLY_ERROR)
                rc = reply_error(t->rep[i], "write", err);
    } else if (n_write) {
        rc = tx_result(t->rep[k2 - 1], &aborted, err);
    }
    if (rc != LDR_OK)
        tx_unwatch(t->s);
    if (rc == LDR_OK && !aborted) {
        *t->written += n_write;
        t->ch[t->cur].done = true;
        memcpy(t->rd, t->rep + k2, k1 * sizeof *t->rep);
        memset(t->rep + k2, 0, k1 * sizeof *t->rep);
        t->n_rd = k1;
        t->rd_probe = t->probe;
        t->cur = next;
        t->attempt = 0;
        t->unwatch = false;
    }
    ldr_redis_replies_free(t->rep, k2 + k1);
    if (rc == LDR_OK && aborted) {
        t->unwatch = true; /* the next chunk's WATCH is pending */
        if (++t->attempt == TX_TRIES)
            return tx_fallback(t, err);
    }
    return rc;
}

/* Puts the batch in shard order (a counting sort) and cuts it into chunks. */
static void tx_plan(txrun *t, const ldr_redis_cmd *cmds, const cmdb *cb, const ldr_online_row *rows,
                    const uint64_t *hash, size_t n)
{
    size_t start[EPOCH_SHARDS + 1] = {0};
    for (size_t i = 0; i < n; i++)
        start[shard_of(hash[i]) + 1]++;
    for (size_t b = 0; b < EPOCH_SHARDS; b++)
        start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++) {
        size_t j = start[shard_of(hash[i])]++;
        t->cmds[j] = cmds[i];
        t->cb[j] = cb[i];
        t->rows[j] = rows[i];
        t->orig[j] = i;
    }
    t->n_ch = (n + TX_CHUNK - 1) / TX_CHUNK;
    t->ch = ldr_xcalloc(t->n_ch, sizeof *t->ch);
    for (size_t c = 0; c < t->n_ch; c++) {
        txchunk *ck = &t->ch[c];
        ck->off = c * TX_CHUNK;
        ck->m = n - ck->off < TX_CHUNK ? n - ck->off : TX_CHUNK;
        for (size_t j = ck->off; j < ck->off + ck->m; j++)
            ck->mask |= (uint64_t)1 << shard_of(hash[t->orig[j]]);
    }
}

/* Writes a batch of distinct keys in transactions of up to TX_CHUNK rows (standalone);
 * hash[i] is the ldr_hash_bytes of row i's key. */
static ldr_code tx_write(rds_store *s, epochs *ep, const uint64_t *hash, const ldr_redis_cmd *cmds,
                         const cmdb *cb, const ldr_online_row *rows, size_t n, size_t *written,
                         ldr_err *err)
{
    txrun t = {.s = s, .ep = ep, .written = written};
    t.cmds = ldr_xcalloc(n, sizeof *t.cmds);
    t.cb = ldr_xcalloc(n, sizeof *t.cb);
    t.rows = ldr_xcalloc(n, sizeof *t.rows);
    t.orig = ldr_xcalloc(n, sizeof *t.orig);
    tx_plan(&t, cmds, cb, rows, hash, n);
    size_t cap = 4 * TX_CHUNK + EPOCH_SHARDS + 4; /* round 2 + the next round 1, at most */
    t.rd = ldr_xcalloc(TX_CHUNK + 2, sizeof *t.rd);
    t.rep = ldr_xcalloc(cap, sizeof *t.rep);
    t.wc = ldr_xcalloc(cap, sizeof *t.wc);
    t.write = ldr_xcalloc(TX_CHUNK, sizeof *t.write);
    t.del_cr = ldr_xcalloc(TX_CHUNK, sizeof *t.del_cr);
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_code rc = LDR_OK;
    t.probe = true;
    t.cur = tx_pick(&t, SIZE_MAX);
    while (t.cur != SIZE_MAX && rc == LDR_OK) {
        rc = tx_step(&t, &a, err);
        ldr_arena_fini(&a);
        ldr_arena_init(&a, 1 << 16);
    }
    tx_hold(&t, 0);
    ldr_redis_replies_free(t.rd, t.n_rd);
    ldr_arena_fini(&a);
    ldr_free(t.del_cr);
    ldr_free(t.write);
    ldr_free(t.wc);
    ldr_free(t.rep);
    ldr_free(t.rd);
    ldr_free(t.ch);
    ldr_free(t.orig);
    ldr_free(t.rows);
    ldr_free(t.cb);
    ldr_free(t.cmds);
    return rc;
}

static ldr_code rds_write(void *self, const ldr_online_view *v, const ldr_online_row *rows,
                          size_t n, size_t *n_written, ldr_err *err)
{
    rds_store *s = self;
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    ldr_redis_cmd *cmds = ldr_xcalloc(n + 1, sizeof *cmds);
    cmdb *cb = ldr_xcalloc(n + 1, sizeof *cb);
    epochs ep = {.project = v->project, .a = &a};
    uint64_t *hash = ldr_arena_calloc(&a, n + 1, sizeof *hash);
    size_t written = 0;
    ldr_code rc = build_writes(s, v, rows, n, s->cluster ? NULL : &ep, hash, &a, cb, cmds, err);
    if (rc == LDR_OK && n && !s->cluster && !has_duplicate_keys(cmds, hash, n, &a))
        rc = tx_write(s, &ep, hash, cmds, cb, rows, n, &written, err);
    else if (rc == LDR_OK)
        rc = script_write(s, cb, cmds, n, &written, err);
    *n_written = written;
    ldr_free(cb);
    ldr_free(cmds);
    ldr_arena_fini(&a);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "online write to %s.%s: ", v->project, v->name);
    return rc;
}

/* ---- Reads --------------------------------------------------------------------------------- */

/* The fields one request reads from a hash: its features, then `_ts` and `_created_ts`. */
typedef struct req_fields {
    const char **names;
    size_t *lens;
    size_t n; /* n_features + 2 */
} req_fields;

/* One (request, key) pair, chained per distinct hash. */
typedef struct entry {
    uint32_t req;
    uint32_t key;
    uint32_t next; /* next entry of the same hash, UINT32_MAX at the end */
} entry;

typedef struct group {
    const char *key;
    size_t len;
    uint32_t first, last;
    size_t n_fields;
} group;

static void prepare_fields(const ldr_online_read_req *q, ldr_arena *a, req_fields *out)
{
    out->n = q->n_features + 2;
    out->names = ldr_arena_calloc(a, out->n, sizeof *out->names);
    out->lens = ldr_arena_calloc(a, out->n, sizeof *out->lens);
    for (size_t f = 0; f < q->n_features; f++) {
        out->names[f] = feature_field(q->view->name, q->features[f], a);
        out->lens[f] = FIELD_LEN;
    }
    out->names[q->n_features] = ldr_arena_sprintf(a, "_ts:%s", q->view->name);
    out->names[q->n_features + 1] = ldr_arena_sprintf(a, "_created_ts:%s", q->view->name);
    out->lens[q->n_features] = strlen(out->names[q->n_features]);
    out->lens[q->n_features + 1] = strlen(out->names[q->n_features + 1]);
}

/* Groups every (request, key) by hash: groups[0..*n_groups), chained through entries. */
static group *group_keys(const ldr_online_read_req *reqs, size_t n, const req_fields *rf,
                         ldr_arena *a, entry **out_entries, size_t *n_groups)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += reqs[i].n_keys;
    size_t cap = 16;
    while (cap < 2 * total)
        cap *= 2;
    uint32_t *slot = ldr_arena_calloc(a, cap, sizeof *slot); /* group index + 1 */
    group *g = ldr_arena_calloc(a, total + 1, sizeof *g);
    entry *e = ldr_arena_calloc(a, total + 1, sizeof *e);
    size_t ng = 0, ne = 0;
    for (size_t i = 0; i < n; i++) {
        const ldr_online_read_req *q = &reqs[i];
        for (size_t k = 0; k < q->n_keys; k++) {
            if (q->keys[k].len == 0)
                continue; /* writes refuse empty keys: nothing is stored under one */
            size_t kl;
            const char *key = full_key(&q->keys[k], q->view->project, a, &kl);
            size_t h = (size_t)ldr_hash_bytes(key, kl) & (cap - 1);
            while (slot[h] && !(g[slot[h] - 1].len == kl && !memcmp(g[slot[h] - 1].key, key, kl)))
                h = (h + 1) & (cap - 1);
            e[ne] = (entry){(uint32_t)i, (uint32_t)k, UINT32_MAX};
            if (!slot[h]) {
                g[ng] = (group){key, kl, (uint32_t)ne, (uint32_t)ne, 0};
                slot[h] = (uint32_t)++ng;
            } else {
                e[g[slot[h] - 1].last].next = (uint32_t)ne;
                g[slot[h] - 1].last = (uint32_t)ne;
            }
            g[slot[h] - 1].n_fields += rf[i].n;
            ne++;
        }
    }
    *out_entries = e;
    *n_groups = ng;
    return g;
}

static ldr_redis_cmd build_hmget(const group *g, const entry *e, const req_fields *rf, ldr_arena *a)
{
    cmdb c;
    cmd_init(&c, g->n_fields + 2, a);
    cmd_str(&c, "HMGET");
    cmd_arg(&c, g->key, g->len);
    for (uint32_t i = g->first; i != UINT32_MAX; i = e[i].next) {
        const req_fields *f = &rf[e[i].req];
        for (size_t j = 0; j < f->n; j++)
            cmd_arg(&c, f->names[j], f->lens[j]);
    }
    return cmd_done(&c, g->key, g->len);
}

static void hit_miss(const ldr_online_read_req *q, ldr_arena *a, ldr_online_hit *h)
{
    h->found = false;
    h->event_ts = h->created_ts = LDR_TS_NONE;
    h->values = ldr_arena_calloc(a, q->n_features + 1, sizeof *h->values);
    h->present = ldr_arena_calloc(a, q->n_features + 1, sizeof *h->present);
    for (size_t f = 0; f < q->n_features; f++)
        h->values[f] = ldr_value_null(q->types[f]);
}

/* One feature of a found hash: nil is absent; a stored null is present. */
static ldr_code decode_feature(const redisReply *r, ldr_type want, ldr_arena *a, ldr_value *out,
                               bool *present, ldr_err *err)
{
    *out = ldr_value_null(want);
    *present = false;
    if (r->type != REDIS_REPLY_STRING)
        return LDR_OK;
    ldr_value v;
    ldr_code rc = ldr_online_pb_value_decode(r->str, r->len, a, &v, err);
    if (rc != LDR_OK)
        return rc;
    if (v.is_null) {
        *present = true;
    } else if (v.type != LDR_TYPE_INVALID && ldr__online_convert(&v, want, a, out)) {
        *present = true;
    } else {
        *out = ldr_value_null(want);
    }
    return LDR_OK;
}

/* Fills the hit of one (request, key) from its slice r[0..n_features+2) of the reply;
 * h was set up as a miss by hit_miss. */
static ldr_code decode_hit(const ldr_online_read_req *q, redisReply *const *r, ldr_arena *a,
                           ldr_online_hit *h, ldr_err *err)
{
    const redisReply *ts = r[q->n_features], *cr = r[q->n_features + 1];
    if (ts->type != REDIS_REPLY_STRING)
        return LDR_OK; /* no `_ts:<view>`: the view has no row here */
    ldr_code rc = ldr_online_pb_ts_decode(ts->str, ts->len, &h->event_ts, err);
    if (rc == LDR_OK && cr->type == REDIS_REPLY_STRING)
        rc = ldr_online_pb_ts_decode(cr->str, cr->len, &h->created_ts, err);
    for (size_t f = 0; f < q->n_features && rc == LDR_OK; f++) {
        rc = decode_feature(r[f], q->types[f], a, &h->values[f], &h->present[f], err);
        if (rc != LDR_OK)
            ldr_err_prefix(err, "feature '%s': ", q->features[f]);
    }
    h->found = rc == LDR_OK;
    if (rc != LDR_OK)
        ldr_err_prefix(err, "view %s.%s: ", q->view->project, q->view->name);
    return rc;
}

static ldr_code decode_group(const ldr_online_read_req *reqs, const group *g, const entry *e,
                             const req_fields *rf, const redisReply *r, ldr_arena *a, ldr_err *err)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != g->n_fields)
        return reply_error(r, "HMGET", err);
    size_t off = 0;
    ldr_code rc = LDR_OK;
    for (uint32_t i = g->first; i != UINT32_MAX && rc == LDR_OK; i = e[i].next) {
        const ldr_online_read_req *q = &reqs[e[i].req];
        rc = decode_hit(q, r->element + off, a, &q->out[e[i].key], err);
        off += rf[e[i].req].n;
    }
    return rc;
}

static ldr_code rds_read_many(void *self, const ldr_online_read_req *reqs, size_t n, ldr_arena *a,
                              ldr_err *err)
{
    rds_store *s = self;
    req_fields *rf = ldr_arena_calloc(a, n, sizeof *rf);
    for (size_t i = 0; i < n; i++) {
        prepare_fields(&reqs[i], a, &rf[i]);
        for (size_t k = 0; k < reqs[i].n_keys; k++)
            hit_miss(&reqs[i], a, &reqs[i].out[k]);
    }
    entry *e;
    size_t ng;
    group *g = group_keys(reqs, n, rf, a, &e, &ng);
    ldr_redis_cmd *cmds = ldr_arena_calloc(a, ng + 1, sizeof *cmds);
    for (size_t i = 0; i < ng; i++)
        cmds[i] = build_hmget(&g[i], e, rf, a);
    redisReply **rep = ldr_xcalloc(ng + 1, sizeof *rep);
    ldr_code rc = exec(s, cmds, ng, rep, err);
    for (size_t i = 0; i < ng && rc == LDR_OK; i++)
        rc = decode_group(reqs, &g[i], e, rf, rep[i], a, err);
    ldr_redis_replies_free(rep, ng);
    ldr_free(rep);
    if (rc != LDR_OK && n == 1)
        ldr_err_prefix(err, "online read of %s.%s: ", reqs[0].view->project, reqs[0].view->name);
    return rc;
}

static ldr_code rds_read(void *self, const ldr_online_view *v, const char *const *features,
                         const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                         size_t n_keys, ldr_arena *a, ldr_online_hit *out, ldr_err *err)
{
    ldr_online_read_req q = {v, features, types, n_features, keys, n_keys, out};
    return rds_read_many(self, &q, 1, a, err);
}

/* ---- Dropping views ------------------------------------------------------------------------ */

/* "*<project>" with the glob characters of the name escaped. */
static const char *suffix_pattern(const char *project, ldr_arena *a)
{
    size_t n = strlen(project);
    char *p = ldr_arena_alloc(a, 2 * n + 2), *o = p;
    *o++ = '*';
    for (size_t i = 0; i < n; i++) {
        if (strchr("*?[]\\", project[i]))
            *o++ = '\\';
        *o++ = project[i];
    }
    *o = '\0';
    return p;
}

/* True when key is exactly a v3 entity key followed by the project's name. */
static bool is_project_key(const char *key, size_t len, const char *project, size_t pl)
{
    size_t span = ldr__online_key_span(key, len);
    return span && len - span == pl && !memcmp(key + span, project, pl);
}

/* HDELs `fields` (argv tail of the template) from every key of a SCAN page that
 * belongs to the project. WRONGTYPE replies (a foreign key of another type) are
 * skipped. */
static ldr_code hdel_page(rds_store *s, const redisReply *keys, const char *project,
                          const cmdb *fields, ldr_arena *a, ldr_err *err)
{
    size_t pl = strlen(project), n = 0;
    ldr_redis_cmd *cmds = ldr_arena_calloc(a, keys->elements + 1, sizeof *cmds);
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING || !is_project_key(k->str, k->len, project, pl))
            continue;
        cmdb c;
        cmd_init(&c, (size_t)fields->argc + 2, a);
        cmd_str(&c, "HDEL");
        char *kc = ldr_arena_alloc(a, k->len + 1);
        memcpy(kc, k->str, k->len);
        cmd_arg(&c, kc, k->len);
        for (int j = 0; j < fields->argc; j++)
            cmd_arg(&c, fields->argv[j], fields->len[j]);
        cmds[n++] = cmd_done(&c, kc, k->len);
    }
    redisReply **rep = ldr_xcalloc(n + 1, sizeof *rep);
    ldr_code rc = exec(s, cmds, n, rep, err);
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR && strncmp(rep[i]->str, "WRONGTYPE", 9) != 0)
            rc = reply_error(rep[i], "HDEL", err);
    }
    ldr_redis_replies_free(rep, n);
    ldr_free(rep);
    return rc;
}

/* SCANs one primary node for the project's keys, deleting the fields page by page. */
static ldr_code drop_on_node(rds_store *s, size_t node, const char *project, const cmdb *fields,
                             ldr_err *err)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 14);
    const char *pattern = suffix_pattern(project, &a);
    char cursor[32] = "0";
    ldr_code rc = LDR_OK;
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
        size_t len[LDR_ARRAY_LEN(argv)];
        for (size_t i = 0; i < LDR_ARRAY_LEN(argv); i++)
            len[i] = strlen(argv[i]);
        ldr_redis_cmd c = {(int)LDR_ARRAY_LEN(argv), argv, len, NULL, 0};
        redisReply *r = NULL;
        rc = ldr_redis_exec_node(s->conn, node, &c, 1, &r, err);
        if (rc != LDR_OK)
            break;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = reply_error(r, "SCAN", err);
        } else {
            memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
            rc = hdel_page(s, r->element[1], project, fields, &a, err);
        }
        ldr_redis_replies_free(&r, 1);
        ldr_arena_fini(&a);
        ldr_arena_init(&a, 1 << 14);
        pattern = suffix_pattern(project, &a);
    } while (rc == LDR_OK && strcmp(cursor, "0") != 0);
    ldr_arena_fini(&a);
    return rc;
}

/* Deletes the fields of every view of `views` whose project is views[first].project. */
static ldr_code drop_project(rds_store *s, const ldr_online_view *views, size_t n, size_t first,
                             ldr_err *err)
{
    const char *project = views[first].project;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    size_t cap = 0;
    for (size_t i = first; i < n; i++)
        cap += views[i].n_features + 2;
    cmdb fields;
    cmd_init(&fields, cap, &a);
    for (size_t i = first; i < n; i++) {
        const ldr_online_view *v = &views[i];
        if (strcmp(v->project, project) != 0)
            continue;
        cmd_str(&fields, ldr_arena_sprintf(&a, "_ts:%s", v->name));
        cmd_str(&fields, ldr_arena_sprintf(&a, "_created_ts:%s", v->name));
        for (size_t f = 0; f < v->n_features; f++)
            cmd_arg(&fields, feature_field(v->name, v->features[f].name, &a), FIELD_LEN);
    }
    ldr_code rc = LDR_OK;
    size_t nodes = ldr_redis_node_count(s->conn);
    for (size_t node = 0; node < nodes && rc == LDR_OK; node++)
        rc = drop_on_node(s, node, project, &fields, err);
    ldr_arena_fini(&a);
    return rc;
}

static ldr_code drop_views(rds_store *s, const ldr_online_view *views, size_t n, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        bool seen = false; /* one pass per distinct project */
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(views[j].project, views[i].project);
        if (!seen)
            rc = drop_project(s, views, n, i, err);
    }
    if (rc != LDR_OK)
        ldr_err_prefix(err, "online store (redis): dropping views: ");
    return rc;
}

static ldr_code rds_update(void *self, const ldr_online_view *keep_or_add, size_t n_add,
                           const ldr_online_view *drop, size_t n_drop, ldr_err *err)
{
    (void)keep_or_add; /* Redis has no tables to create */
    (void)n_add;
    return drop_views(self, drop, n_drop, err);
}

/* DELs a project's write epochs (standalone; a cluster has none). */
static ldr_code drop_epochs(rds_store *s, const char *project, ldr_err *err)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    epochs ep = {.project = project, .a = &a};
    cmdb c;
    cmd_init(&c, EPOCH_SHARDS + 1, &a);
    cmd_str(&c, "DEL");
    epoch_args(&ep, UINT64_MAX, &c);
    ldr_redis_cmd cmd = cmd_done(&c, ep.key[0], ep.len[0]);
    redisReply *r = NULL;
    ldr_code rc = exec(s, &cmd, 1, &r, err);
    if (rc == LDR_OK && r->type != REDIS_REPLY_INTEGER)
        rc = reply_error(r, "DEL", err);
    ldr_redis_replies_free(&r, 1);
    ldr_arena_fini(&a);
    return rc;
}

static ldr_code rds_teardown(void *self, const ldr_online_view *views, size_t n, ldr_err *err)
{
    rds_store *s = self;
    ldr_code rc = drop_views(s, views, n, err);
    for (size_t i = 0; i < n && rc == LDR_OK && !s->cluster; i++) {
        bool seen = false; /* one DEL per distinct project */
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(views[j].project, views[i].project);
        if (!seen && (rc = drop_epochs(s, views[i].project, err)) != LDR_OK)
            ldr_err_prefix(err, "online store (redis): deleting the write epochs: ");
    }
    return rc;
}

const ldr_online_ops ldr_online_redis_ops = {
    .type = "redis",
    .open = rds_open,
    .close = rds_close,
    .update = rds_update,
    .write = rds_write,
    .read = rds_read,
    .teardown = rds_teardown,
    .integrity_check = NULL,
    .read_many = rds_read_many,
    .has_tables = false,
    .parallel_writers = 2, /* while one connection waits for Redis, the other works */
};
