/*
 * http.h -- the HTTP layer of the server (http.c), as server.c sees it.
 *
 * The library behind it (h2o 2.2.5) stays out of every header: only http.c includes it.
 * Life cycle: open (configure, load TLS, bind every worker's listener, so the port is
 * known and errors come before any thread starts), start (one thread and event loop per
 * worker), stop (stop accepting, finish the requests in flight, close idle connections,
 * join the threads) and close (free).
 */
#ifndef LDR_SERVER_HTTP_H
#define LDR_SERVER_HTTP_H

#include "server/server_int.h"

typedef struct ldr_srv_http ldr_srv_http;

/** Configures the library and binds the listeners (SO_REUSEPORT, one per worker). Writes
 * opts.port_file when set. NULL with err set on failure. Caller owns; ldr__http_close. */
ldr_srv_http *ldr__http_open(ldr_srv *srv, ldr_err *err);
/** Starts one thread per worker. */
LDR_MUST_USE ldr_code ldr__http_start(ldr_srv_http *h, ldr_err *err);
/** Drains and joins the worker threads; connections still open at `deadline` are closed. */
void ldr__http_stop(ldr_srv_http *h, ldr_ts deadline);
/** Frees everything. NULL is a no-op. */
void ldr__http_close(ldr_srv_http *h);

#endif /* LDR_SERVER_HTTP_H */
