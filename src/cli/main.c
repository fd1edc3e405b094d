/*
 * main.c -- the `larder` executable: global options and command dispatch.
 *
 *     larder [-c DIR] [--log-level LEVEL] [--log-json] COMMAND [ARGS...]
 *
 * Global options come before the command, as in Feast's CLI. Environment:
 * LARDER_REPO (default repository directory), LARDER_LOG_LEVEL. main() is the only
 * writer of ldr_g (the process globals).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
} command;

static const command commands[] = {
    {"version", cmd_version, "Print the version"},
    {"init", cmd_init, "Create a demo feature repository with generated data"},
    {"plan", cmd_plan, "Show what apply would change in the registry"},
    {"apply", cmd_apply, "Apply the repository's definitions to the registry"},
    {"teardown", cmd_teardown, "Remove the project's infrastructure and registry content"},
    {"registry-dump", cmd_registry_dump, "Print the whole registry as JSON"},
    {"registry", cmd_registry, "Registry versions: history, diff"},
    {"entities", cmd_entities, "List or describe entities"},
    {"data-sources", cmd_data_sources, "List or describe data sources"},
    {"feature-views", cmd_feature_views, "List or describe feature views"},
    {"feature-services", cmd_feature_services, "List or describe feature services"},
    {"search", cmd_search, "Search names, descriptions and tags"},
    {"parquet", cmd_parquet, "Inspect Parquet files: schema, cat"},
    {"get-historical-features", cmd_get_historical_features,
     "Point-in-time correct training data from an entity file"},
    {"materialize", cmd_materialize, "Load an interval of source rows into the online store"},
    {"materialize-incremental", cmd_materialize_incremental,
     "Materialize each online view from where it last ended"},
    {"get-online-features", cmd_get_online_features, "Read feature values from the online store"},
    {"serve", cmd_serve, "Serve features over HTTP (Feast's feature server API)"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: larder [OPTIONS] COMMAND [ARGS]...\n\n"
            "Larder is a feature store: define features once in a repository, apply them\n"
            "to a versioned registry, and serve the same values for training and inference.\n\n"
            "Options:\n"
            "  -c, --chdir DIR        feature repository directory (default: current directory)\n"
            "      --log-level LEVEL  debug, info, warning (default), error or off\n"
            "      --log-json         log as JSON lines on stderr\n"
            "  -h, --help             show this help\n"
            "  -V, --version          print the version\n\n"
            "Commands:\n");
    for (size_t i = 0; i < LDR_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'larder COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {.repo_dir = "."};
    const char *env_repo = getenv("LARDER_REPO");
    if (env_repo && *env_repo)
        ctx.repo_dir = env_repo;
    const char *env_level = getenv("LARDER_LOG_LEVEL");
    if (env_level && !ldr_log_level_parse(env_level, &ldr_g.log_level))
        fprintf(stderr, "larder: warning: ignoring LARDER_LOG_LEVEL=%s\n", env_level);

    enum { OPT_LOG_LEVEL = 256, OPT_LOG_JSON };
    static const struct option opts[] = {
        {"chdir", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"log-json", no_argument, NULL, OPT_LOG_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    /* '+': stop at the command name, so its options are left for it. */
    while ((c = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            ctx.repo_dir = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (!ldr_log_level_parse(optarg, &ldr_g.log_level)) {
                fprintf(stderr,
                        "larder: invalid --log-level '%s' (debug, info, warning, error, "
                        "off)\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case OPT_LOG_JSON:
            ldr_g.log_json = true;
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        case 'V':
            printf("larder %s\n", LDR_VERSION_STRING);
            return CLI_OK;
        case ':':
            fprintf(stderr, "larder: option '%s' needs a value\n", argv[optind - 1]);
            return CLI_USAGE;
        default:
            fprintf(stderr, "larder: unknown option '%s'\nTry 'larder --help'.\n",
                    argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < LDR_ARRAY_LEN(commands); i++) {
        if (!strcmp(name, commands[i].name)) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* reset getopt for the command's own parsing */
            return commands[i].fn(&ctx, sub_argc, sub_argv);
        }
    }
    const char *names[LDR_ARRAY_LEN(commands)];
    for (size_t i = 0; i < LDR_ARRAY_LEN(commands); i++)
        names[i] = commands[i].name;
    const char *dym = ldr_did_you_mean(name, names, LDR_ARRAY_LEN(commands));
    if (dym)
        fprintf(stderr, "larder: unknown command '%s' (did you mean '%s'?)\n", name, dym);
    else
        fprintf(stderr, "larder: unknown command '%s'\n", name);
    fprintf(stderr, "Try 'larder --help'.\n");
    return CLI_USAGE;
}
