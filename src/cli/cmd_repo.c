/*
 * cmd_repo.c -- commands that read the repository: version, plan, apply, teardown.
 *
 * plan and apply print every validation problem as "file:line:column: message" and exit
 * 2 without touching the registry; otherwise they print the diff (apply: what it applied
 * and the new version). Re-applying an unchanged repository prints that nothing changed
 * and creates no version.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    if (cli_wants_help(argc, argv, "Usage: larder version\n\nPrint Larder's version.\n"))
        return CLI_OK;
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("larder %s\n", LDR_VERSION_STRING);
    return CLI_OK;
}

static int plan_or_apply(cli_ctx *ctx, int argc, char **argv, bool apply)
{
    const char *cmd = apply ? "apply" : "plan";
    static const char plan_help[] =
        "Usage: larder [-c REPO] plan\n\n"
        "Validate the repository's definitions and show how the registry would change:\n"
        "objects to add (+), change (~, with each field's old -> new value) and remove (-).\n"
        "Nothing is written. Validation problems are printed as file:line:column: message\n"
        "and the exit status is 2.\n";
    static const char apply_help[] =
        "Usage: larder [-c REPO] apply\n\n"
        "Validate the repository's definitions and apply them to the registry in one\n"
        "transaction: objects missing from the repository are removed. Every apply that\n"
        "changes something creates a registry version (see 'larder registry history').\n"
        "Validation problems are printed as file:line:column: message and the exit status\n"
        "is 2; the registry is then left unchanged.\n";
    if (cli_wants_help(argc, argv, apply ? apply_help : plan_help))
        return CLI_OK;
    if (argc > 1)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[1]);
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    ldr_err err;
    ldr_err_clear(&err);
    ldr_plan *plan = NULL;
    ldr_code rc = apply ? ldr_store_apply(st, &plan, &err) : ldr_store_plan(st, &plan, &err);
    if (rc == LDR_ECONFIG && ldr_store_diagnostics_count(st)) {
        cli_print_diagnostics(st);
        code = CLI_USAGE;
    } else if (rc != LDR_OK) {
        code = cli_fail(&err);
    } else {
        size_t add, mod, rem;
        ldr_plan_counts(plan, &add, &mod, &rem);
        if (add + mod + rem == 0) {
            fputs(ldr_plan_text(plan), stdout);
        } else if (apply) {
            fputs(ldr_plan_text(plan), stdout);
            printf("Applied: project %s is now at registry version %lld.\n", ldr_store_project(st),
                   (long long)ldr_plan_new_version(plan));
        } else {
            printf("Plan for project %s (registry version %lld):\n", ldr_store_project(st),
                   (long long)ldr_plan_base_version(plan));
            fputs(ldr_plan_text(plan), stdout);
            printf("Run 'larder apply' to apply these changes.\n");
        }
        code = CLI_OK;
    }
    ldr_plan_free(plan);
    ldr_store_close(st);
    return code;
}

int cmd_plan(cli_ctx *ctx, int argc, char **argv)
{
    return plan_or_apply(ctx, argc, argv, false);
}

int cmd_apply(cli_ctx *ctx, int argc, char **argv)
{
    return plan_or_apply(ctx, argc, argv, true);
}

int cmd_teardown(cli_ctx *ctx, int argc, char **argv)
{
    static const char help[] =
        "Usage: larder [-c REPO] teardown [--purge]\n\n"
        "Remove the project's infrastructure (online tables) and every object from the\n"
        "registry. The removal is recorded as a new registry version, so history stays\n"
        "readable.\n\n"
        "Options:\n"
        "      --purge   also delete the project's registry history\n";
    if (cli_wants_help(argc, argv, help))
        return CLI_OK;
    static const struct option opts[] = {{"purge", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
    bool purge = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'p')
            purge = true;
        else
            return cli_usage_error("teardown", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return cli_usage_error("teardown", "unexpected argument '%s'", argv[optind]);
    int code;
    ldr_store *st = cli_open_store(ctx, &code);
    if (!st)
        return code;
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr__store_teardown(st, purge, &err) != LDR_OK) {
        code = cli_fail(&err);
    } else {
        printf("Project %s torn down%s.\n", ldr_store_project(st),
               purge ? " and its registry history purged" : "");
        code = CLI_OK;
    }
    ldr_store_close(st);
    return code;
}
