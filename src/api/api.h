/*
 * api.h -- internals of liblarder's facade shared with the CLI and tests (not installed).
 *
 * The public API (include/larder/larder.h) is what applications use; the CLI also needs
 * the configuration, the registry handle (history, diffs) and the raw objects of a
 * snapshot (created/updated times, canonical specs for describe and registry-dump), and
 * tests need to install a fake infra hook. Those live here.
 */
#ifndef LDR_API_API_H
#define LDR_API_API_H

#include "larder/larder.h"
#include "registry/registry.h"
#include "repo/repo.h"

/**
 * The infra hook: what apply and teardown call to create and drop serving infrastructure
 * (online tables, later indexes). `desired` holds the definitions being applied and `cs`
 * what changes; teardown passes the views being removed. Both run inside the registry
 * write transaction: a failure rolls the registry back.
 */
typedef struct ldr_infra_ops {
    ldr_code (*update)(void *ctx, const ldr_config *cfg, const ldr_defs *desired,
                       const ldr_changeset *cs, ldr_err *err);
    ldr_code (*teardown)(void *ctx, const ldr_config *cfg, const ldr_defs *current, ldr_err *err);
} ldr_infra_ops;

/** The default infra: nothing to create until an online store exists (it logs). */
extern const ldr_infra_ops ldr__infra_default;

/** Replaces the store's infra hook (tests use a recording fake). ctx is borrowed. */
void ldr__store_set_infra(ldr_store *store, const ldr_infra_ops *ops, void *ctx);

/** Borrowed; valid until ldr_store_close. The registry is NULL while none exists (nothing
 * was ever applied: read-only commands do not create it). */
const ldr_config *ldr__store_config(const ldr_store *store);
ldr_registry *ldr__store_registry(ldr_store *store);

/** The snapshot's objects with registry metadata (canonical specs, created/updated).
 * Borrowed from the snapshot. */
const ldr_objset *ldr__snapshot_objects(const ldr_snapshot *snap);
/** The snapshot's typed definitions. Borrowed from the snapshot. */
const ldr_defs *ldr__snapshot_defs(const ldr_snapshot *snap);

/** Changes of the plan. Borrowed from the plan. */
const ldr_changeset *ldr__plan_changes(const ldr_plan *plan);

/** Teardown; with purge, the project's history is deleted too. */
LDR_MUST_USE ldr_code ldr__store_teardown(ldr_store *store, bool purge, ldr_err *err);

#endif /* LDR_API_API_H */
