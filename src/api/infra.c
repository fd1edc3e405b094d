/*
 * infra.c -- the default infra hook called by apply and teardown.
 *
 * Serving infrastructure (online-store tables, vector indexes) is created here when the
 * online store module exists; until then the hook only reports, at info level, which
 * online views would get tables and which would lose them, so `--log-level info` shows
 * exactly what apply decided. The decision logic (which views need infra) lives here so
 * later stores only implement create/drop.
 */
#include "api/api.h"

#include <string.h>

static bool online_view(const ldr_defs *defs, const char *name)
{
    const ldr_view *v = ldr_defs_find_view(defs, name);
    return v && v->online;
}

static ldr_code default_update(void *ctx, const ldr_config *cfg, const ldr_defs *desired,
                               const ldr_changeset *cs, ldr_err *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < cs->n; i++) {
        const ldr_change *c = &cs->items[i];
        if (strcmp(c->kind, "FeatureView") != 0)
            continue;
        if (c->op == LDR_CHANGE_REMOVE)
            ldr_log(LDR_LOG_INFO, "infra: drop online table for %s.%s", cfg->project, c->name);
        else if (online_view(desired, c->name))
            ldr_log(LDR_LOG_INFO, "infra: ensure online table for %s.%s", cfg->project, c->name);
        else
            ldr_log(LDR_LOG_INFO, "infra: no online table for %s.%s (online: false)", cfg->project,
                    c->name);
    }
    return LDR_OK;
}

static ldr_code default_teardown(void *ctx, const ldr_config *cfg, const ldr_defs *current,
                                 ldr_err *err)
{
    (void)ctx;
    (void)err;
    for (size_t i = 0; i < current->n_views; i++)
        ldr_log(LDR_LOG_INFO, "infra: drop online table for %s.%s", cfg->project,
                current->views[i].name);
    return LDR_OK;
}

const ldr_infra_ops ldr__infra_default = {.update = default_update, .teardown = default_teardown};
