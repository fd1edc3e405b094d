/*
 * cmd_offline.c -- `larder get-historical-features`: point-in-time correct training data
 * from an entity file (or a time range), written to a CSV, Parquet or JSONL file.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char hist_help[] =
    "Usage: larder [-c REPO] get-historical-features\n"
    "           (--entities FILE | --start-date T1 --end-date T2)\n"
    "           (--features VIEW:FEATURE ... | --feature-service NAME)\n"
    "           [--full-feature-names] [--filter-by-created-timestamp] [--threads N]\n"
    "           [--memory-limit SIZE [--spill-dir DIR]] --output FILE\n\n"
    "For every row of the entity file (its join-key columns and an event_timestamp column,\n"
    "or its only timestamp column) and every requested view, join the source row with the\n"
    "greatest event timestamp in [T - ttl, T] (ties: greatest created timestamp, then last\n"
    "in the source); no such row gives empty values. Every entity row is kept, in order,\n"
    "with all its columns, followed by the features in request order.\n\n"
    "Options:\n"
    "  --entities FILE             entity rows, .csv or .parquet\n"
    "  --start-date T, --end-date T  without an entity file: every distinct (keys, time)\n"
    "                              of the views' source rows in [T1, T2] (RFC 3339, 'now',\n"
    "                              'now-2h')\n"
    "  --features VIEW:FEATURE     a feature to join (repeat for more)\n"
    "  --feature-service NAME      the features of a feature service\n"
    "  --full-feature-names        name columns VIEW__FEATURE (alias when projected)\n"
    "  --filter-by-created-timestamp  ignore source rows created after the entity time\n"
    "  --threads N                 worker threads (default: one per core)\n"
    "  --memory-limit SIZE         keep the join's working set under SIZE (e.g. 512M, 4G):\n"
    "                              views whose keys do not fit are partitioned by key hash\n"
    "                              into temporary Parquet files and joined a part at a time\n"
    "                              (same output; entity rows and output stay in memory)\n"
    "  --spill-dir DIR             where those files go (default: $TMPDIR, else /tmp)\n"
    "  --output FILE               .csv, .parquet or .jsonl (written atomically)\n";

int cmd_get_historical_features(cli_ctx *ctx, int argc, char **argv)
{
    if (cli_wants_help(argc, argv, hist_help))
        return CLI_OK;
    enum {
        O_ENT = 256,
        O_FEAT,
        O_SVC,
        O_FULL,
        O_FILTER,
        O_OUT,
        O_START,
        O_END,
        O_THREADS,
        O_MEM,
        O_SPILL
    };
    static const struct option opts[] = {
        {"entities", required_argument, NULL, O_ENT},
        {"features", required_argument, NULL, O_FEAT},
        {"feature-service", required_argument, NULL, O_SVC},
        {"full-feature-names", no_argument, NULL, O_FULL},
        {"filter-by-created-timestamp", no_argument, NULL, O_FILTER},
        {"output", required_argument, NULL, O_OUT},
        {"start-date", required_argument, NULL, O_START},
        {"end-date", required_argument, NULL, O_END},
        {"threads", required_argument, NULL, O_THREADS},
        {"memory-limit", required_argument, NULL, O_MEM},
        {"spill-dir", required_argument, NULL, O_SPILL},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "get-historical-features";
    ldr_hist_opts o = ldr_hist_opts_default();
    const char **features = ldr_xcalloc((size_t)argc + 1, sizeof *features);
    const char *output = NULL;
    int code = CLI_OK, c;
    ldr_err err;
    ldr_err_clear(&err);
    opterr = 0;
    while (code == CLI_OK && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_ENT:
            o.entities_path = optarg;
            break;
        case O_FEAT:
            features[o.n_features++] = optarg;
            break;
        case O_SVC:
            o.feature_service = optarg;
            break;
        case O_FULL:
            o.full_feature_names = true;
            break;
        case O_FILTER:
            o.filter_by_created_timestamp = true;
            break;
        case O_OUT:
            output = optarg;
            break;
        case O_START:
        case O_END:
            if (cli_parse_time(optarg, c == O_START ? &o.start_date : &o.end_date, &err) != LDR_OK)
                code = cli_usage_error(cmd, "%s", err.msg);
            break;
        case O_THREADS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 1024)
                code = cli_usage_error(cmd, "--threads must be 0..1024, got '%s'", optarg);
            o.threads = (int)n;
            break;
        }
        case O_MEM:
            if (cli_parse_size(optarg, &o.memory_limit, &err) != LDR_OK)
                code = cli_usage_error(cmd, "--memory-limit: %s", err.msg);
            break;
        case O_SPILL:
            o.spill_dir = optarg;
            break;
        case ':':
            code = cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            code = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (code == CLI_OK && optind < argc)
        code = cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (code == CLI_OK && !output)
        code = cli_usage_error(cmd, "--output FILE is required");
    if (code == CLI_OK && !o.entities_path &&
        (o.start_date == LDR_TS_NONE || o.end_date == LDR_TS_NONE))
        code = cli_usage_error(cmd, "give --entities FILE, or --start-date and --end-date");
    if (code == CLI_OK && o.entities_path &&
        (o.start_date != LDR_TS_NONE || o.end_date != LDR_TS_NONE))
        code = cli_usage_error(cmd, "--entities cannot be combined with --start-date/--end-date");
    if (code == CLI_OK && (o.n_features > 0) == (o.feature_service != NULL))
        code = cli_usage_error(cmd, "give --features VIEW:FEATURE ... or --feature-service NAME");
    if (code != CLI_OK) {
        ldr_free(features);
        return code;
    }
    o.features = features;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st) {
        ldr_free(features);
        return code;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ldr_table *t = NULL;
    if (ldr_store_get_historical_features(st, &o, &t, &err) != LDR_OK ||
        ldr_table_write(t, output, &err) != LDR_OK) {
        code = cli_fail(&err);
    } else {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "Wrote %zu rows x %zu columns to %s in %.3f s.\n", ldr_table_num_rows(t),
                ldr_table_num_columns(t), output, secs);
    }
    ldr_table_free(t);
    ldr_store_close(st);
    ldr_free(features);
    return code;
}
