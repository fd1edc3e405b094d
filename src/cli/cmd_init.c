/*
 * cmd_init.c -- `larder init [DIR]`: a working demo repository.
 *
 * Writes feature_store.yaml, definitions (two entities, a Parquet file source with a
 * created-timestamp column, a push source, two feature views, a feature service), and
 * generated data: hourly statistics for 5 drivers over the last 7 days (values from a
 * fixed-seed generator, timestamps relative to now so online TTLs make sense) and an
 * entity file of requests for get-historical-features. Refuses to touch a non-empty
 * directory unless --force.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "parquet/parquet.h"

static const char init_help[] =
    "Usage: larder init [DIR] [--force]\n\n"
    "Create a demo feature repository in DIR (default: larder_demo): definitions for a\n"
    "driver-ranking model and generated Parquet data (5 drivers, hourly over the last 7\n"
    "days), plus an entity file. Then try:\n"
    "  cd DIR && larder apply\n"
    "  larder get-historical-features --entities data/entities.parquet \\\n"
    "      --feature-service driver_activity --output training.csv\n"
    "  larder materialize-incremental now\n"
    "  larder get-online-features --feature-service driver_activity --entity driver_id=1001\n\n"
    "Options:\n"
    "  --force   write into DIR even if it is not empty (existing files are replaced)\n";

static const char init_defs[] =
    "# Demo definitions written by `larder init`. See docs/repository.md for the format.\n"
    "kind: Entity\n"
    "name: driver\n"
    "join_keys: [driver_id]\n"
    "value_type: Int64\n"
    "description: A driver\n"
    "---\n"
    "kind: DataSource\n"
    "name: driver_stats_source\n"
    "type: file\n"
    "path: data/driver_stats.parquet\n"
    "timestamp_field: event_timestamp\n"
    "created_timestamp_column: created\n"
    "description: Hourly driver statistics\n"
    "---\n"
    "kind: DataSource\n"
    "name: driver_stats_push\n"
    "type: push\n"
    "batch_source: driver_stats_source\n"
    "---\n"
    "kind: FeatureView\n"
    "name: driver_hourly_stats\n"
    "entities: [driver]\n"
    "ttl: 1d\n"
    "source: driver_stats_source\n"
    "schema:\n"
    "  - {name: driver_id, dtype: Int64}\n"
    "  - {name: conv_rate, dtype: Float32, description: conversion rate}\n"
    "  - {name: acc_rate, dtype: Float32, description: acceptance rate}\n"
    "  - {name: avg_daily_trips, dtype: Int64}\n"
    "online: true\n"
    "tags: {team: drivers}\n"
    "---\n"
    "kind: FeatureView\n"
    "name: driver_hourly_stats_fresh\n"
    "entities: [driver]\n"
    "ttl: 2h\n"
    "source: driver_stats_push\n"
    "schema:\n"
    "  - {name: conv_rate, dtype: Float32}\n"
    "  - {name: acc_rate, dtype: Float32}\n"
    "---\n"
    "kind: FeatureService\n"
    "name: driver_activity\n"
    "description: Features of the driver ranking model\n"
    "features:\n"
    "  - driver_hourly_stats\n";

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return true;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

static ldr_code write_text(const char *dir, const char *name, const char *text, ldr_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot create %s", path);
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len;
    if (fclose(f) != 0 || !ok)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot write %s", path);
    return LDR_OK;
}

/* xorshift64*: reproducible demo values. */
static double next_unit(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static ldr_code write_data(const char *dir, ldr_err *err)
{
    enum { DRIVERS = 5, HOURS = 7 * 24 };
    const ldr_ts hour = (ldr_ts)3600 * 1000000;
    ldr_ts end = ldr_ts_now() / hour * hour;
    ldr_ts start = end - (HOURS - 1) * hour;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    ldr_batch *b = ldr_batch_new();
    ldr_col *id = ldr_col_new(LDR_TYPE_INT64, DRIVERS * HOURS);
    ldr_col *ts = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, DRIVERS * HOURS);
    ldr_col *created = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, DRIVERS * HOURS);
    ldr_col *conv = ldr_col_new(LDR_TYPE_FLOAT32, DRIVERS * HOURS);
    ldr_col *acc = ldr_col_new(LDR_TYPE_FLOAT32, DRIVERS * HOURS);
    ldr_col *trips = ldr_col_new(LDR_TYPE_INT64, DRIVERS * HOURS);
    for (int h = 0; h < HOURS; h++) {
        for (int d = 0; d < DRIVERS; d++) {
            ldr_ts t = start + h * hour;
            ldr_col_append_i64(id, 1001 + d);
            ldr_col_append_i64(ts, t);
            ldr_col_append_i64(created, t + 5 * 60 * 1000000LL);
            ldr_col_append_f32(conv, (float)((int)(next_unit(&seed) * 10000)) / 10000.0f);
            ldr_col_append_f32(acc, (float)((int)(next_unit(&seed) * 10000)) / 10000.0f);
            ldr_col_append_i64(trips, (int64_t)(next_unit(&seed) * 1000));
        }
    }
    ldr_batch_add(b, "driver_id", id);
    ldr_batch_add(b, "event_timestamp", ts);
    ldr_batch_add(b, "created", created);
    ldr_batch_add(b, "conv_rate", conv);
    ldr_batch_add(b, "acc_rate", acc);
    ldr_batch_add(b, "avg_daily_trips", trips);
    char path[4096];
    snprintf(path, sizeof path, "%s/data/driver_stats.parquet", dir);
    ldr_pq_write_opts o = ldr_pq_write_opts_default();
    ldr_code rc = ldr_pq_write_file(path, b, &o, err);
    ldr_batch_free(b);
    if (rc != LDR_OK)
        return rc;

    /* Entity rows: each driver at a few times, one label column passed through. */
    ldr_batch *e = ldr_batch_new();
    ldr_col *eid = ldr_col_new(LDR_TYPE_INT64, 0);
    ldr_col *ets = ldr_col_new(LDR_TYPE_UNIX_TIMESTAMP, 0);
    ldr_col *label = ldr_col_new(LDR_TYPE_BOOL, 0);
    for (int k = 0; k < 4; k++) {
        for (int d = 0; d < DRIVERS; d++) {
            ldr_col_append_i64(eid, 1001 + d);
            ldr_col_append_i64(ets, end - (k * 30 + d * 7) * hour / 4);
            ldr_col_append_bool(label, next_unit(&seed) < 0.5);
        }
    }
    ldr_col_append_i64(eid, 9999); /* an unknown driver: its features are empty */
    ldr_col_append_i64(ets, end);
    ldr_col_append_bool(label, false);
    ldr_batch_add(e, "driver_id", eid);
    ldr_batch_add(e, "event_timestamp", ets);
    ldr_batch_add(e, "label_driver_reported_satisfaction", label);
    snprintf(path, sizeof path, "%s/data/entities.parquet", dir);
    rc = ldr_pq_write_file(path, e, &o, err);
    ldr_batch_free(e);
    return rc;
}

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cli_wants_help(argc, argv, init_help))
        return CLI_OK;
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    bool force = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else
            return cli_usage_error("init", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind > 1)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind + 1]);
    const char *dir = optind < argc ? argv[optind] : "larder_demo";
    if (!force && !dir_is_empty(dir)) {
        fprintf(stderr,
                "larder: error: %s exists and is not empty (use --force to write into it)\n", dir);
        return CLI_FAIL;
    }
    char data[4096];
    snprintf(data, sizeof data, "%s/data", dir);
    ldr_err err;
    ldr_err_clear(&err);
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) || (mkdir(data, 0777) != 0 && errno != EEXIST)) {
        ldr_err_sys(&err, LDR_EIO, errno, "cannot create %s", data);
        return cli_fail(&err);
    }
    /* The project name: the directory's base name, made valid. */
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    char project[128];
    size_t n = 0;
    for (const char *p = base; *p && n < sizeof project - 1; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        project[n] = ok ? ch : '_';
        n++;
    }
    project[n] = '\0';
    if (n == 0 || project[0] == '_')
        snprintf(project, sizeof project, "larder_demo");
    char store_yaml[512];
    snprintf(store_yaml, sizeof store_yaml,
             "# Written by `larder init`: embedded defaults, nothing to run.\n"
             "project: %s\n"
             "registry: data/registry.db\n"
             "online_store: {type: sqlite, path: data/online.db}\n"
             "offline_store: {type: file}\n",
             project);
    if (write_text(dir, "feature_store.yaml", store_yaml, &err) != LDR_OK ||
        write_text(dir, "definitions.yaml", init_defs, &err) != LDR_OK ||
        write_data(dir, &err) != LDR_OK)
        return cli_fail(&err);
    printf("Created feature repository %s (project %s).\n"
           "Next:\n"
           "  cd %s\n"
           "  larder apply\n"
           "  larder get-historical-features --entities data/entities.parquet "
           "--feature-service driver_activity --output training.csv\n"
           "  larder materialize-incremental now\n"
           "  larder get-online-features --feature-service driver_activity "
           "--entity driver_id=1001\n",
           dir, project, dir);
    return CLI_OK;
}
