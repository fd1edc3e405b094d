/*
 * redis_conn.h -- a pipelining Redis client over hiredis for the Redis online store:
 * one standalone server or a Redis Cluster, behind the same batch interface.
 *
 * hiredis 0.14 (Debian 12) has no cluster client, so cluster support lives here: keys
 * are routed by CRC16 hash slot (with {hash tags}), the slot map is learned from
 * CLUSTER SLOTS, MOVED and ASK redirects are followed (MOVED refreshes the map), and a
 * batch is pipelined per node: every command for one node is written before any reply
 * is read, so a batch costs one round trip per node involved, not one per command.
 *
 * Failure model: connect and read timeouts bound every wait (no hang when a node goes
 * away); a broken connection is dropped and reopened on the next use, with exponential
 * backoff between attempts to the same node; in cluster mode a connection error on a
 * node triggers a slot-map refresh and one retry of the affected commands on the new
 * owner before the batch fails. A failed batch reports which node and what happened.
 *
 * Ownership: ldr_redis_exec copies nothing it does not need after returning; replies are
 * hiredis redisReply trees owned by the caller (freeReplyObject each, or
 * ldr_redis_replies_free). Thread-safety: an ldr_redis is used by one thread at a time
 * (the server opens one per worker thread: the connection pool is per thread).
 */
#ifndef LDR_ONLINE_REDIS_CONN_H
#define LDR_ONLINE_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct redisReply; /* hiredis */

/** Where and how to connect. Parsed from Feast's connection_string by
 * ldr_redis_opts_parse; every field has a default. */
typedef struct ldr_redis_opts {
    /* host:port pairs: the server (standalone) or seed nodes (cluster). At least one. */
    const char *const *hosts;
    const int *ports;
    size_t n_hosts;
    int db;                 /* SELECT db on connect (standalone only; 0 = none) */
    const char *password;   /* AUTH on connect when non-NULL */
    const char *username;   /* AUTH username password when both are set (Redis 6 ACLs) */
    bool cluster;           /* redis_type: redis_cluster */
    bool ssl;               /* ssl=true in the connection string: rejected (unsupported) */
    int connect_timeout_ms; /* default 2000 */
    int read_timeout_ms;    /* default 2000: the longest wait for one reply */
} ldr_redis_opts;

/**
 * Parses Feast's connection_string "host:port[,host:port...][,db=N][,password=P]
 * [,username=U][,ssl=true]" into o (strings from a). Unknown options and bad numbers are
 * LDR_ECONFIG naming the option. cluster comes from redis_type, not from the string.
 */
LDR_MUST_USE ldr_code ldr_redis_opts_parse(const char *conn, bool cluster, ldr_arena *a,
                                           ldr_redis_opts *o, ldr_err *err);

typedef struct ldr_redis ldr_redis;

/** Connects (standalone: to hosts[0]; cluster: to the first reachable seed, then loads
 * the slot map). Returns: caller owns; free with ldr_redis_close. NULL with err set
 * (LDR_EBACKEND naming host:port and hiredis's message) when nothing answers. */
ldr_redis *ldr_redis_open(const ldr_redis_opts *o, ldr_err *err);

void ldr_redis_close(ldr_redis *r);

/** One command: argv[0..argc) with lengths (binary-safe). key/key_len route it in
 * cluster mode (the key argument; NULL for keyless commands, which go to any node). */
typedef struct ldr_redis_cmd {
    int argc;
    const char *const *argv;
    const size_t *argv_len;
    const void *key;
    size_t key_len;
} ldr_redis_cmd;

/**
 * Runs n commands pipelined and stores reply i of command i in replies[i] (caller frees).
 * Commands for the same node run in order; commands for different nodes have no order
 * between them. A Redis error reply (REDIS_REPLY_ERROR other than MOVED/ASK) is returned
 * as a reply, not as a failure: callers check reply types. Redirects are followed (at
 * most 5 per command).
 * Errors (every replies[i] is then NULL, nothing to free): LDR_EBACKEND naming the node
 * for connection loss, timeouts and protocol errors; LDR_EBUSY while a cluster has no
 * owner for a slot (CLUSTERDOWN) past the retry.
 */
LDR_MUST_USE ldr_code ldr_redis_exec(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n,
                                     struct redisReply **replies, ldr_err *err);

/** Flags of ldr_redis_exec_flags, for commands that depend on connection state (WATCH ...
 * MULTI ... EXEC spread over two execs). */
typedef enum ldr_redis_exec_flag {
    /* A lost connection fails the exec: its unanswered commands are not re-sent on a
     * new connection (where a WATCH issued before would no longer hold). */
    LDR_REDIS_NO_RETRY = 1,
    /* A node whose connection was lost since the previous exec is not reconnected: the
     * exec fails (LDR_EBACKEND naming the node) instead. */
    LDR_REDIS_NO_RECONNECT = 2,
} ldr_redis_exec_flag;

/** ldr_redis_exec with ldr_redis_exec_flag bits in flags (0: exactly ldr_redis_exec). */
LDR_MUST_USE ldr_code ldr_redis_exec_flags(ldr_redis *r, const ldr_redis_cmd *cmds, size_t n,
                                           unsigned flags, struct redisReply **replies,
                                           ldr_err *err);

/** True for a Redis Cluster handle (redis_type: redis_cluster). */
bool ldr_redis_is_cluster(const ldr_redis *r);

/** Frees n replies (NULL entries are skipped) and sets them to NULL. */
void ldr_redis_replies_free(struct redisReply **replies, size_t n);

/** The number of primary nodes (1 standalone). For whole-keyspace work such as SCAN. */
size_t ldr_redis_node_count(ldr_redis *r);

/** Runs n commands pipelined on primary node i (0 <= i < ldr_redis_node_count), without
 * slot routing. Errors as ldr_redis_exec. */
LDR_MUST_USE ldr_code ldr_redis_exec_node(ldr_redis *r, size_t node, const ldr_redis_cmd *cmds,
                                          size_t n, struct redisReply **replies, ldr_err *err);

/** The cluster hash slot of a key (CRC16-CCITT/XMODEM mod 16384, honouring {hash tags});
 * exposed for tests. CRC16("123456789") is 0x31C3. */
uint16_t ldr_redis_slot(const void *key, size_t len);

#endif /* LDR_ONLINE_REDIS_CONN_H */
