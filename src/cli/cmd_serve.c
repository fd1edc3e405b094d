/*
 * cmd_serve.c -- `larder serve`: the HTTP feature server (src/server, docs/server.md).
 *
 * Parses the options into ldr_srv_opts and hands over to ldr_srv_run, which returns once
 * SIGTERM or SIGINT drained the server. Logs are JSON lines on stderr unless
 * --log-format plain; like every other write to ldr_g this happens before any thread.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static const char serve_help[] =
    "Usage: larder [-c REPO] serve [OPTIONS]\n\n"
    "Serve Feast's HTTP feature server API (get-online-features, push,\n"
    "write-to-online-store, materialize, materialize-incremental, health, metrics)\n"
    "from the registry's current snapshot; an apply is picked up within --registry-ttl.\n"
    "SIGTERM or SIGINT drains the requests in flight and exits 0.\n\n"
    "Options:\n"
    "  --host HOST            address to listen on (default 127.0.0.1)\n"
    "  --port N               port (default 6566; 0 picks a free one)\n"
    "  --workers N            event-loop threads (default: one per core)\n"
    "  --registry-ttl DUR     how often to look for a new registry version (default 5s)\n"
    "  --tls-cert FILE        PEM certificate chain (with --tls-key: HTTPS)\n"
    "  --tls-key FILE         PEM private key\n"
    "  --http2                also speak HTTP/2 (h2 over TLS, h2c); off by default\n"
    "  --access-log           one JSON line per request on stderr\n"
    "  --log-format FMT       json (default) or plain\n"
    "  --port-file FILE       write the bound port there once listening\n"
    "Limits:\n"
    "  --max-body SIZE        request body (default 1M; 413 above)\n"
    "  --max-header SIZE      request line and headers together (default 16K; 431 above)\n"
    "  --max-entities N       entity rows per request, rows per push (default 10000)\n"
    "  --max-features N       features per request (default 1000)\n"
    "  --max-json-depth N     JSON nesting (default 32; 400 deeper)\n"
    "  --read-timeout DUR     per request: idle keep-alive, then headers and body\n"
    "                         (default 10s)\n"
    "  --max-connections N    open connections (default 4096)\n"
    "  --drain-timeout DUR    how long SIGTERM waits for requests and jobs (default 30s)\n"
    "Latency:\n"
    "  --busy-poll USEC       after each request, poll for the next one for up to USEC\n"
    "                         microseconds instead of sleeping (default 0: off). Lowers\n"
    "                         latency at low concurrency (no wake-up per request) at the\n"
    "                         cost of CPU time while traffic is light; for dedicated cores\n";

static bool parse_count(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_dur_ms(const char *s, unsigned *out)
{
    ldr_duration d;
    if (ldr_duration_parse(s, strlen(s), &d, NULL) != LDR_OK || d <= 0 ||
        d / 1000 > (ldr_duration)UINT_MAX)
        return false;
    *out = (unsigned)(d / 1000 ? d / 1000 : 1);
    return true;
}

enum {
    O_HOST = 256,
    O_PORT,
    O_WORKERS,
    O_TTL,
    O_CERT,
    O_KEY,
    O_HTTP2,
    O_ACCESS,
    O_LOGFMT,
    O_PORTFILE,
    O_MAXBODY,
    O_MAXHDR,
    O_MAXENT,
    O_MAXFEAT,
    O_DEPTH,
    O_RTO,
    O_MAXCONN,
    O_DRAIN,
    O_BUSYPOLL
};

/* One option into o; returns false with a message for a bad value. */
static bool apply_opt(int c, const char *arg, ldr_srv_opts *o, char *msg, size_t msg_len)
{
    size_t n = 0;
    ldr_err e;
    ldr_srv_limits *l = &o->limits;
    bool ok = true;
    switch (c) {
    case O_HOST:
        o->host = arg;
        break;
    case O_PORT:
        ok = parse_count(arg, 0, 65535, &n);
        o->port = (int)n;
        break;
    case O_WORKERS:
        ok = parse_count(arg, 1, 256, &n);
        o->workers = (int)n;
        break;
    case O_TTL:
        ok = ldr_duration_parse(arg, strlen(arg), &o->registry_ttl, &e) == LDR_OK &&
             o->registry_ttl >= 1000;
        break;
    case O_CERT:
        o->tls_cert = arg;
        break;
    case O_KEY:
        o->tls_key = arg;
        break;
    case O_PORTFILE:
        o->port_file = arg;
        break;
    case O_MAXBODY:
        ok = cli_parse_size(arg, &l->max_body, &e) == LDR_OK;
        break;
    case O_MAXHDR:
        ok = cli_parse_size(arg, &l->max_header, &e) == LDR_OK;
        break;
    case O_MAXENT:
        ok = parse_count(arg, 1, 100000000, &l->max_entities);
        break;
    case O_MAXFEAT:
        ok = parse_count(arg, 1, 1000000, &l->max_features);
        break;
    case O_DEPTH:
        ok = parse_count(arg, 2, 1000, &n);
        l->max_depth = (unsigned)n;
        break;
    case O_RTO:
        ok = parse_dur_ms(arg, &l->read_timeout_ms);
        break;
    case O_MAXCONN:
        ok = parse_count(arg, 1, 1000000, &l->max_connections);
        break;
    case O_DRAIN:
        ok = parse_dur_ms(arg, &o->drain_timeout_ms);
        break;
    case O_BUSYPOLL:
        ok = parse_count(arg, 0, 1000000, &n);
        o->busy_poll_us = (unsigned)n;
        break;
    default:
        break;
    }
    if (!ok)
        snprintf(msg, msg_len, "invalid value '%s'", arg);
    return ok;
}

int cmd_serve(cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = "serve";
    if (cli_wants_help(argc, argv, serve_help))
        return CLI_OK;
    static const struct option opts[] = {
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"workers", required_argument, NULL, O_WORKERS},
        {"registry-ttl", required_argument, NULL, O_TTL},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"http2", no_argument, NULL, O_HTTP2},
        {"access-log", no_argument, NULL, O_ACCESS},
        {"log-format", required_argument, NULL, O_LOGFMT},
        {"port-file", required_argument, NULL, O_PORTFILE},
        {"max-body", required_argument, NULL, O_MAXBODY},
        {"max-header", required_argument, NULL, O_MAXHDR},
        {"max-entities", required_argument, NULL, O_MAXENT},
        {"max-features", required_argument, NULL, O_MAXFEAT},
        {"max-json-depth", required_argument, NULL, O_DEPTH},
        {"read-timeout", required_argument, NULL, O_RTO},
        {"max-connections", required_argument, NULL, O_MAXCONN},
        {"drain-timeout", required_argument, NULL, O_DRAIN},
        {"busy-poll", required_argument, NULL, O_BUSYPOLL},
        {NULL, 0, NULL, 0},
    };
    ldr_srv_opts o = ldr_srv_opts_default();
    o.repo_dir = ctx->repo_dir;
    bool json_logs = true;
    int c;
    opterr = 0;
    int li = -1;
    while ((c = getopt_long(argc, argv, ":", opts, &li)) != -1) {
        char msg[256];
        if (c == ':')
            return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        if (c == '?')
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        if (c == O_HTTP2) {
            o.http2 = true;
        } else if (c == O_ACCESS) {
            o.access_log = true;
        } else if (c == O_LOGFMT) {
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "plain") != 0)
                return cli_usage_error(cmd, "--log-format must be json or plain, got '%s'", optarg);
            json_logs = !strcmp(optarg, "json");
        } else if (!apply_opt(c, optarg, &o, msg, sizeof msg)) {
            /* Name the option, whether its value came as --opt=V or as the next word. */
            return cli_usage_error(cmd, "--%s: %s", li >= 0 ? opts[li].name : "?", msg);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o.tls_cert != !o.tls_key)
        return cli_usage_error(cmd, "give both --tls-cert and --tls-key, or neither");
    ldr_g.log_json = ldr_g.log_json || json_logs;
    if (ldr_g.log_level == LDR_LOG_WARN && !getenv("LARDER_LOG_LEVEL"))
        ldr_g.log_level = LDR_LOG_INFO; /* a server says when it listens and stops */
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr_srv_run(&o, &err) != LDR_OK)
        return cli_fail(&err);
    return CLI_OK;
}
