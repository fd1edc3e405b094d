/*
 * cli.h -- the larder command-line interface: command table, shared helpers.
 *
 * main.c parses global options (-c/--chdir, --log-level, --help) and dispatches to a
 * command function; each command parses its own options with getopt_long, prints its
 * own --help, and returns an exit status. Errors print as "larder: error: <message>" on
 * stderr; exit codes come from one table (cli_exit_code): 0 success, 1 runtime failure,
 * 2 invalid input (usage, validation, configuration), 3 busy (registry locked).
 */
#ifndef LDR_CLI_CLI_H
#define LDR_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "api/api.h"

typedef struct cli_ctx {
    const char *repo_dir; /* from -c/--chdir, default "." */
} cli_ctx;

typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

/* Exit codes. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_BUSY = 3 };

int cli_exit_code(ldr_code code);
/** Prints "larder: error: msg" and returns the exit code for err->code. */
int cli_fail(const ldr_err *err);
/** Prints a usage error ("larder CMD: msg", then "Try 'larder CMD --help'.") and returns
 * CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) LDR_PRINTF(2, 3);

/** Opens the store of ctx->repo_dir, printing every diagnostic on failure. NULL on
 * failure with *exit_code set. */
ldr_store *cli_open_store(cli_ctx *ctx, int *exit_code);
/** Prints the store's diagnostics (validation messages) to stderr, then a count line. */
void cli_print_diagnostics(const ldr_store *st);

/** Parses "k:v" tag filters. */
bool cli_tags_match(const ldr_kvs *tags, char *const *filters, size_t n_filters);

/** Returns true (and prints help) when argv holds -h/--help before any "--". */
bool cli_wants_help(int argc, char **argv, const char *help);

/** A registry object as JSON: kind, its spec members, and meta {created_timestamp,
 * last_updated_timestamp, version}. NULL when the spec is corrupt. Caller owns
 * (json_decref). */
json_t *cli_object_json(const ldr_regobj *o);
/** Adds meta.materialization_intervals ([{start_date, end_date, recorded, rows}]) to a
 * FeatureView's JSON from the registry; other kinds are left alone. */
void cli_attach_intervals(ldr_store *st, json_t *obj, const char *kind, const char *name);

/** Parses a time for the command line: RFC 3339 (see ldr_ts_parse), "now", or "now-2h" /
 * "now+1d" with a duration. */
LDR_MUST_USE ldr_code cli_parse_time(const char *s, ldr_ts *out, ldr_err *err);
/** Parses a byte size: a whole number with an optional binary suffix K, M, G or T (also
 * KB/KiB...; case-insensitive), e.g. "512M", "4G", "1048576". Zero is invalid. */
LDR_MUST_USE ldr_code cli_parse_size(const char *s, size_t *out, ldr_err *err);

/* Commands. */
int cmd_version(cli_ctx *ctx, int argc, char **argv);
int cmd_plan(cli_ctx *ctx, int argc, char **argv);
int cmd_apply(cli_ctx *ctx, int argc, char **argv);
int cmd_teardown(cli_ctx *ctx, int argc, char **argv);
int cmd_registry_dump(cli_ctx *ctx, int argc, char **argv);
int cmd_registry(cli_ctx *ctx, int argc, char **argv);
int cmd_entities(cli_ctx *ctx, int argc, char **argv);
int cmd_data_sources(cli_ctx *ctx, int argc, char **argv);
int cmd_feature_views(cli_ctx *ctx, int argc, char **argv);
int cmd_feature_services(cli_ctx *ctx, int argc, char **argv);
int cmd_search(cli_ctx *ctx, int argc, char **argv);
int cmd_parquet(cli_ctx *ctx, int argc, char **argv);
int cmd_get_historical_features(cli_ctx *ctx, int argc, char **argv);
int cmd_materialize(cli_ctx *ctx, int argc, char **argv);
int cmd_materialize_incremental(cli_ctx *ctx, int argc, char **argv);
int cmd_get_online_features(cli_ctx *ctx, int argc, char **argv);
int cmd_init(cli_ctx *ctx, int argc, char **argv);
int cmd_serve(cli_ctx *ctx, int argc, char **argv);

#endif /* LDR_CLI_CLI_H */
