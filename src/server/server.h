/*
 * server.h -- `larder serve`: Feast's HTTP feature server API over the online store.
 *
 * Layers, from the socket inward:
 *   http.c      the HTTP library (h2o 2.2.5, libh2o-evloop; docs/server.md says why) and
 *               nothing else: listeners, one event loop per worker thread, routing,
 *               limits the library enforces, TLS, responses, graceful shutdown. It is
 *               the only file that includes the library's headers.
 *   handlers.c  the endpoints as plain functions from (endpoint, query, body) to
 *               (status, JSON body): no sockets, so tests and benchmarks can call them.
 *   request.c   request bodies -> typed requests (jansson), strict and bounded. Pure, so
 *               a libFuzzer target drives it (fuzz/http_request).
 *   push.c      /push and /write-to-online-store: typing a pushed frame by the registry,
 *               online writes (newer wins) and offline appends (a new Parquet file).
 *   metrics.c   Prometheus counters and histograms, per worker, summed on scrape.
 *   server.c    shared state: the published registry snapshot and its hot reload,
 *               materialization jobs, the run loop (signals, draining).
 *
 * Threading: N workers, each with its own event loop, online-store handle, request arena
 * and metrics; the registry snapshot is shared, immutable and refcounted; materialization
 * runs on job threads. Ownership: parsed requests live in the caller's arena.
 */
#ifndef LDR_SERVER_SERVER_H
#define LDR_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "serving/serving.h"

/* ---- options ------------------------------------------------------------------------------ */

/** Limits on what a client may send. Every one has a flag (`larder serve --help`). */
typedef struct ldr_srv_limits {
    size_t max_body;          /* request body bytes (413 above) */
    size_t max_header;        /* bytes of all request headers together (431 above) */
    size_t max_entities;      /* entity rows per get-online-features, rows per push (413) */
    size_t max_features;      /* features per get-online-features request (413) */
    unsigned max_depth;       /* JSON nesting depth (400 deeper) */
    unsigned read_timeout_ms; /* one deadline per request: idle keep-alive, headers, body */
    size_t max_connections;   /* open connections per process (accepting pauses above) */
} ldr_srv_limits;

/** The defaults: 1 MiB body, 16 KiB headers, 10000 entities, 1000 features, depth 32,
 * 10 s read timeout, 4096 connections. */
ldr_srv_limits ldr_srv_limits_default(void);

typedef struct ldr_srv_opts {
    const char *repo_dir;
    const char *host; /* "127.0.0.1" */
    int port;         /* 6566; 0 picks a free port (logged, and written to port_file) */
    int workers;      /* <= 0: one per core */
    ldr_duration registry_ttl;
    const char *tls_cert, *tls_key; /* both or neither */
    bool http2;                     /* h2 over TLS and h2c (off: HTTP/1.1 only) */
    bool access_log;
    const char *port_file; /* when set, the bound port is written there once listening */
    unsigned drain_timeout_ms;
    unsigned busy_poll_us; /* poll this long after a request before sleeping; 0: off */
    ldr_srv_limits limits;
} ldr_srv_opts;

ldr_srv_opts ldr_srv_opts_default(void);

/**
 * Runs the server until SIGTERM or SIGINT, then drains: stops accepting, finishes the
 * requests in flight (and waits up to drain_timeout_ms for materialization jobs) and
 * returns LDR_OK. Errors before serving (configuration, registry, bind, TLS files) are
 * returned with err set. Must be called from the main thread before any other thread is
 * started (it blocks the signals it waits for).
 */
LDR_MUST_USE ldr_code ldr_srv_run(const ldr_srv_opts *opts, ldr_err *err);

/* ---- endpoints and requests (request.c) ------------------------------------------------- */

typedef enum ldr_srv_endpoint {
    LDR_EP_GET_ONLINE = 0,
    LDR_EP_PUSH,
    LDR_EP_WRITE_ONLINE,
    LDR_EP_MATERIALIZE,
    LDR_EP_MATERIALIZE_INC,
    LDR_EP_HEALTH,
    LDR_EP_METRICS,
    LDR_EP_OTHER, /* unknown path (404) */
    LDR_EP_COUNT
} ldr_srv_endpoint;

/** "/get-online-features", ...; "other" for LDR_EP_OTHER. Static. */
const char *ldr_srv_endpoint_path(ldr_srv_endpoint ep);
/** The endpoint of a path (without the query), LDR_EP_OTHER when unknown. */
ldr_srv_endpoint ldr_srv_endpoint_of(const char *path, size_t len);

/** A JSON array cell of a pushed frame: items keep their own JSON scalar types. */
#define LDR_SRV_JSON_ARRAY LDR_TYPE_BYTES_LIST

/**
 * A pushed data frame as sent: n_cols named columns of n_rows JSON cells each. A cell is
 * a null, or an Int64 (JSON integer), Float64 (other JSON number), String or Bool value,
 * or an LDR_SRV_JSON_ARRAY of such scalars; the registry decides the real types later.
 */
typedef struct ldr_srv_frame {
    const char **names;
    ldr_value **cols; /* [col][row] */
    size_t n_cols, n_rows;
} ldr_srv_frame;

typedef enum ldr_srv_push_to {
    LDR_PUSH_ONLINE = 1,
    LDR_PUSH_OFFLINE = 2,
    LDR_PUSH_BOTH = 3,
} ldr_srv_push_to;

typedef struct ldr_srv_push_req {
    const char *push_source_name;  /* push; NULL for write-to-online-store */
    const char *feature_view_name; /* write-to-online-store */
    ldr_srv_push_to to;
    ldr_srv_frame df;
} ldr_srv_push_req;

typedef struct ldr_srv_mat_req {
    bool incremental;
    ldr_ts start, end;  /* start LDR_TS_NONE when incremental */
    const char **views; /* NULL: every online view */
    size_t n_views;
} ldr_srv_mat_req;

/** Any parsed request body. */
typedef struct ldr_srv_request {
    ldr_srv_endpoint ep;
    ldr_online_request online; /* LDR_EP_GET_ONLINE */
    ldr_srv_push_req push;     /* LDR_EP_PUSH, LDR_EP_WRITE_ONLINE */
    ldr_srv_mat_req mat;       /* LDR_EP_MATERIALIZE, LDR_EP_MATERIALIZE_INC */
} ldr_srv_request;

/**
 * Parses the JSON body of a POST to `ep` into *out; every string and array comes from a
 * (nothing points into body). `now` fills materialize's disable_event_timestamp end.
 * Strict: unknown members, wrong types, duplicate keys, empty names and unequal column
 * lengths are refused. Errors (the message says what and where):
 *   LDR_ECORRUPT  not JSON (syntax, invalid UTF-8, a NUL, trailing bytes) or nested
 *                 deeper than limits->max_depth: HTTP 400;
 *   LDR_EINVAL    valid JSON that is not a valid request (types, values, a number out
 *                 of range, start >= end): HTTP 422;
 *   LDR_ELIMIT    over max_body, max_entities or max_features: HTTP 413.
 */
LDR_MUST_USE ldr_code ldr_srv_parse(ldr_srv_endpoint ep, const char *body, size_t len,
                                    const ldr_srv_limits *limits, ldr_ts now, ldr_arena *a,
                                    ldr_srv_request *out, ldr_err *err);

/** Internal (request.c): ldr_srv_parse without the fast path and without the body size
 * checks: always jansson. For tests comparing the two parsers. */
LDR_MUST_USE ldr_code ldr__srv_parse_json(ldr_srv_endpoint ep, const char *body, size_t len,
                                          const ldr_srv_limits *limits, ldr_ts now, ldr_arena *a,
                                          ldr_srv_request *out, ldr_err *err);

/** Internal (request_fast.c): parses the common /get-online-features body shape
 * ("features" strings, "entities" of integer or string columns, optional
 * "full_feature_names", no escapes) into out, with strings copied into a. Returns false,
 * with out zeroed, for any other body, valid or not: the caller then uses jansson, so
 * errors never come from here. Pure and reentrant. */
bool ldr__srv_parse_online_fast(const char *body, size_t len, const ldr_srv_limits *limits,
                                ldr_arena *a, ldr_online_request *out);

/**
 * Converts one frame cell to type `to` for column `col`, row `row` (messages name both):
 * numbers to numbers when exact (1.0 -> Int64 1; 2^40 -> Int32 refused), String to
 * String, Bytes from base64 text, Bool from true/false, UnixTimestamp from RFC 3339 text
 * or epoch seconds, lists element-wise from arrays; integers become decimal text for a
 * String join key when `key` is set (Feast: 5 -> "5"). Strings are borrowed from the
 * cell or allocated from a. LDR_EINVAL otherwise.
 */
LDR_MUST_USE ldr_code ldr_srv_cell_convert(const ldr_value *cell, ldr_type to, bool key,
                                           const char *col, size_t row, ldr_arena *a,
                                           ldr_value *out, ldr_err *err);

/* ---- errors as HTTP ---------------------------------------------------------------------- */

/** Appends {"error":{"type":TYPE,"message":MSG}}. */
LDR_MUST_USE ldr_code ldr_srv_error_json(ldr_buf *out, const char *type, const char *msg,
                                         ldr_err *err);

#endif /* LDR_SERVER_SERVER_H */
