/*
 * infra.c -- the default infra hook called by apply and teardown.
 *
 * Serving infrastructure (online-store tables, later vector indexes): apply makes sure
 * every online view has its table (idempotent, rows kept across schema changes: the row
 * codec looks features up by name) and drops the tables of views removed or turned
 * offline; teardown drops them all. `--log-level info` shows what apply decided. The
 * decision logic (which views need infra) lives here so stores only create and drop.
 */
#include "api/api.h"

#include <string.h>

#include "serving/serving.h"

static bool online_view(const ldr_defs *defs, const char *name)
{
    const ldr_view *v = ldr_defs_find_view(defs, name);
    return v && v->online;
}

/* Opens the configured online store; logs what it is about to do at info level. */
static ldr_online_store *open_store(const ldr_config *cfg, ldr_err *err)
{
    ldr_online_store *os = ldr_online_open(cfg, err);
    if (!os)
        ldr_err_prefix(err, "online store: ");
    return os;
}

/* The schema a dropped view had (from its old spec), so stores without tables (Redis)
 * can delete its feature fields; join-key columns are included, which is harmless (no
 * field carries their names). Nothing when the old spec does not build. */
static void old_features(const ldr_change *c, ldr_defs *old, ldr_online_view *out)
{
    if (!c->old_spec || ldr_defs_add_json(old, "FeatureView", c->name, c->old_spec, NULL) != LDR_OK)
        return;
    const ldr_view *v = &old->views[old->n_views - 1];
    out->features = v->schema;
    out->n_features = v->n_schema;
}

static ldr_code default_update(void *ctx, const ldr_config *cfg, const ldr_defs *desired,
                               const ldr_changeset *cs, ldr_err *err)
{
    (void)ctx;
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_defs old; /* dropped views' previous definitions */
    ldr_defs_init(&old);
    /* Every online view gets its table (creating is idempotent: existing rows stay). */
    ldr_online_view *keep = ldr_arena_calloc(&a, desired->n_views + 1, sizeof *keep);
    size_t n_keep = 0;
    for (size_t i = 0; i < desired->n_views; i++)
        if (desired->views[i].online)
            ldr_serving_online_view(desired, cfg->project, &desired->views[i], &a, &keep[n_keep++]);
    /* Views removed, or no longer online, lose theirs. */
    ldr_online_view *drop = ldr_arena_calloc(&a, cs->n + 1, sizeof *drop);
    size_t n_drop = 0;
    for (size_t i = 0; i < cs->n; i++) {
        const ldr_change *c = &cs->items[i];
        if (strcmp(c->kind, "FeatureView") != 0)
            continue;
        if (c->op == LDR_CHANGE_REMOVE || !online_view(desired, c->name)) {
            ldr_log(LDR_LOG_INFO, "infra: drop online table for %s.%s", cfg->project, c->name);
            drop[n_drop].project = cfg->project;
            drop[n_drop].name = c->name;
            old_features(c, &old, &drop[n_drop]);
            n_drop++;
        } else {
            ldr_log(LDR_LOG_INFO, "infra: ensure online table for %s.%s", cfg->project, c->name);
        }
    }
    ldr_code rc = LDR_OK;
    if (n_keep || n_drop) {
        ldr_online_store *os = open_store(cfg, err);
        rc = os ? ldr_online_update(os, keep, n_keep, drop, n_drop, err) : err->code;
        ldr_online_close(os);
    }
    ldr_defs_fini(&old);
    ldr_arena_fini(&a);
    return rc;
}

static ldr_code default_teardown(void *ctx, const ldr_config *cfg, const ldr_defs *current,
                                 ldr_err *err)
{
    (void)ctx;
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_online_view *views = ldr_arena_calloc(&a, current->n_views + 1, sizeof *views);
    for (size_t i = 0; i < current->n_views; i++) {
        ldr_log(LDR_LOG_INFO, "infra: drop online table for %s.%s", cfg->project,
                current->views[i].name);
        ldr_serving_online_view(current, cfg->project, &current->views[i], &a, &views[i]);
    }
    ldr_code rc = LDR_OK;
    if (current->n_views) {
        ldr_online_store *os = open_store(cfg, err);
        rc = os ? ldr_online_teardown(os, views, current->n_views, err) : err->code;
        ldr_online_close(os);
    }
    ldr_arena_fini(&a);
    return rc;
}

const ldr_infra_ops ldr__infra_default = {.update = default_update, .teardown = default_teardown};
