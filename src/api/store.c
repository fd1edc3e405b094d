/*
 * store.c -- ldr_store, the handle every command and later module goes through.
 *
 * A store is a repository's configuration, an open registry, and the current registry
 * *snapshot*: the registry's objects at one version, built into typed definitions by the
 * same builder that validates YAML. Snapshots are immutable and refcounted (atomic), so a
 * server thread can keep serving from one while an apply publishes the next (STYLE §24).
 *
 * plan = load + validate the repository, render it canonically, diff it against the
 * registry. apply = the same inside the registry's write transaction (so two applies
 * serialize and the second sees the first's result), then the infra hook, then one new
 * registry version; nothing is written when nothing changed.
 */
#include "api/api.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ldr_snapshot {
    atomic_long refs;
    int64_t version;
    ldr_objset objs; /* canonical specs + registry metadata */
    ldr_defs defs;   /* typed objects built from objs */
};

struct ldr_store {
    ldr_config cfg;
    ldr_registry *reg;
    ldr_snapshot *snap;
    ldr_diags diags;
    ldr_store_opts opts;
    const ldr_infra_ops *infra;
    void *infra_ctx;
};

struct ldr_plan {
    ldr_changeset cs;
    int64_t base_version;
    int64_t new_version;
    char *text;
};

ldr_store_opts ldr_store_opts_default(void)
{
    ldr_store_opts o = {.busy_timeout_ms = 10000};
    return o;
}

/* ---- snapshots ---------------------------------------------------------------------------- */

ldr_snapshot *ldr_snapshot_ref(ldr_snapshot *snap)
{
    atomic_fetch_add(&snap->refs, 1);
    return snap;
}

void ldr_snapshot_unref(ldr_snapshot *snap)
{
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1)
        return;
    ldr_objset_fini(&snap->objs);
    ldr_defs_fini(&snap->defs);
    ldr_free(snap);
}

int64_t ldr_snapshot_version(const ldr_snapshot *snap)
{
    return snap->version;
}

/* Builds a snapshot of the project at `version` (0 = current). No registry (reg NULL:
 * nothing was ever applied) gives the empty snapshot. */
static ldr_snapshot *snapshot_load(ldr_registry *reg, const char *project, int64_t version,
                                   ldr_err *err)
{
    ldr_snapshot *s = ldr_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    ldr_objset_init(&s->objs);
    ldr_defs_init(&s->defs);
    if (!reg)
        return s;
    if (ldr_registry_current_version(reg, project, &s->version, err) != LDR_OK)
        goto fail;
    if (version)
        s->version = version;
    if (ldr_registry_load(reg, project, version, &s->objs, err) != LDR_OK)
        goto fail;
    for (size_t i = 0; i < s->objs.n; i++) {
        const ldr_regobj *o = &s->objs.items[i];
        if (ldr_defs_add_json(&s->defs, o->kind, o->name, o->spec, err) != LDR_OK)
            goto fail;
    }
    ldr_diags d;
    ldr_diags_init(&d);
    if (ldr_defs_validate(&s->defs, NULL, &d) != LDR_OK) {
        ldr_err_setf(err, LDR_ECORRUPT, "registry content of project %s is inconsistent: %s",
                     project, d.items[0]);
        ldr_diags_fini(&d);
        goto fail;
    }
    ldr_diags_fini(&d);
    return s;
fail:
    ldr_snapshot_unref(s);
    return NULL;
}

const ldr_objset *ldr__snapshot_objects(const ldr_snapshot *snap)
{
    return &snap->objs;
}

const ldr_defs *ldr__snapshot_defs(const ldr_snapshot *snap)
{
    return &snap->defs;
}

const ldr_entity *ldr_snapshot_entities(const ldr_snapshot *snap, size_t *out_n)
{
    *out_n = snap->defs.n_entities;
    return snap->defs.entities;
}
const ldr_source *ldr_snapshot_sources(const ldr_snapshot *snap, size_t *out_n)
{
    *out_n = snap->defs.n_sources;
    return snap->defs.sources;
}
const ldr_view *ldr_snapshot_views(const ldr_snapshot *snap, size_t *out_n)
{
    *out_n = snap->defs.n_views;
    return snap->defs.views;
}
const ldr_service *ldr_snapshot_services(const ldr_snapshot *snap, size_t *out_n)
{
    *out_n = snap->defs.n_services;
    return snap->defs.services;
}

/* Arrays are sorted by name: binary search. */
#define BSEARCH(arr, n, key)                          \
    do {                                              \
        size_t lo_ = 0, hi_ = (n);                    \
        while (lo_ < hi_) {                           \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;      \
            int c_ = strcmp((arr)[mid_].name, (key)); \
            if (c_ == 0)                              \
                return &(arr)[mid_];                  \
            if (c_ < 0)                               \
                lo_ = mid_ + 1;                       \
            else                                      \
                hi_ = mid_;                           \
        }                                             \
        return NULL;                                  \
    } while (0)

const ldr_entity *ldr_snapshot_find_entity(const ldr_snapshot *snap, const char *name)
{
    BSEARCH(snap->defs.entities, snap->defs.n_entities, name);
}
const ldr_source *ldr_snapshot_find_source(const ldr_snapshot *snap, const char *name)
{
    BSEARCH(snap->defs.sources, snap->defs.n_sources, name);
}
const ldr_view *ldr_snapshot_find_view(const ldr_snapshot *snap, const char *name)
{
    BSEARCH(snap->defs.views, snap->defs.n_views, name);
}
const ldr_service *ldr_snapshot_find_service(const ldr_snapshot *snap, const char *name)
{
    BSEARCH(snap->defs.services, snap->defs.n_services, name);
}

/* ---- store -------------------------------------------------------------------------------- */

/* Opens the registry if it exists, or (create) creating it. Read-only commands never
 * create it: plan, list or describe in a fresh checkout leave the directory untouched,
 * and work on a read-only one. */
static ldr_code registry_attach(ldr_store *st, bool create, ldr_err *err)
{
    if (st->reg)
        return LDR_OK;
    if (!create && access(st->cfg.registry_path, F_OK) != 0 && errno == ENOENT)
        return LDR_OK;
    ldr_registry_config rc = {.type = st->cfg.registry_type,
                              .path = st->cfg.registry_path,
                              .busy_timeout_ms = st->opts.busy_timeout_ms};
    st->reg = ldr_registry_open(&rc, err);
    return st->reg ? LDR_OK : (err ? err->code : LDR_EBACKEND);
}

ldr_store *ldr_store_open(const char *repo_dir, const ldr_store_opts *opts, ldr_err *err)
{
    ldr_store *st = ldr_xcalloc(1, sizeof *st);
    st->opts = opts ? *opts : ldr_store_opts_default();
    st->infra = &ldr__infra_default;
    ldr_diags_init(&st->diags);
    if (ldr_config_load(repo_dir ? repo_dir : ".", &st->cfg, &st->diags, err) != LDR_OK)
        goto fail;
    if (registry_attach(st, false, err) != LDR_OK)
        goto fail;
    st->snap = snapshot_load(st->reg, st->cfg.project, 0, err);
    if (!st->snap)
        goto fail;
    return st;
fail:
    ldr_store_close(st);
    return NULL;
}

void ldr_store_close(ldr_store *st)
{
    if (!st)
        return;
    ldr_snapshot_unref(st->snap);
    ldr_registry_close(st->reg);
    ldr_diags_fini(&st->diags);
    ldr_config_fini(&st->cfg);
    ldr_free(st);
}

const char *ldr_store_project(const ldr_store *st)
{
    return st->cfg.project;
}

const ldr_config *ldr__store_config(const ldr_store *st)
{
    return &st->cfg;
}

ldr_registry *ldr__store_registry(ldr_store *st)
{
    return st->reg;
}

void ldr__store_set_infra(ldr_store *st, const ldr_infra_ops *ops, void *ctx)
{
    st->infra = ops ? ops : &ldr__infra_default;
    st->infra_ctx = ctx;
}

ldr_code ldr_store_refresh(ldr_store *st, ldr_err *err)
{
    int64_t v = 0;
    ldr_code rc = registry_attach(st, false, err);
    if (rc == LDR_OK && st->reg)
        rc = ldr_registry_current_version(st->reg, st->cfg.project, &v, err);
    if (rc != LDR_OK)
        return rc;
    if (st->snap && v == st->snap->version)
        return LDR_OK;
    ldr_snapshot *s = snapshot_load(st->reg, st->cfg.project, 0, err);
    if (!s)
        return err ? err->code : LDR_EBACKEND;
    ldr_snapshot_unref(st->snap);
    st->snap = s;
    return LDR_OK;
}

ldr_snapshot *ldr_store_snapshot(ldr_store *st)
{
    return ldr_snapshot_ref(st->snap);
}

size_t ldr_store_diagnostics_count(const ldr_store *st)
{
    return st->diags.n;
}

size_t ldr_store_problems_total(const ldr_store *st)
{
    return st->diags.total;
}

const char *ldr_store_diagnostic(const ldr_store *st, size_t i)
{
    return i < st->diags.n ? st->diags.items[i] : NULL;
}

/* ---- plan / apply -------------------------------------------------------------------------- */

static void emit_obj(void *ctx, const char *kind, const char *name, const char *json)
{
    ldr_regobj o = {.kind = kind, .name = name, .spec = json};
    ldr_objset_add(ctx, &o);
}

/* Loads and validates the repository into defs and its canonical objects into desired. */
static ldr_code load_desired(ldr_store *st, ldr_defs *defs, ldr_objset *desired, ldr_err *err)
{
    ldr_diags_fini(&st->diags);
    ldr_diags_init(&st->diags);
    ldr_code rc = ldr_defs_load_repo(defs, &st->cfg, &st->diags, err);
    if (rc != LDR_OK)
        return rc;
    ldr_defs_canonical(defs, emit_obj, desired);
    ldr_objset_sort(desired);
    return LDR_OK;
}

static ldr_code plan_finish(ldr_plan *p, const char *project, ldr_err *err)
{
    size_t add, mod, rem;
    ldr_changeset_counts(&p->cs, &add, &mod, &rem);
    ldr_buf b;
    ldr_buf_init(&b, 64u << 20);
    ldr_code rc = LDR_OK;
    if (p->cs.n == 0) {
        rc = ldr_buf_printf(&b, err,
                            "No changes: project %s is up to date (registry version %lld).\n",
                            project, (long long)p->base_version);
    } else {
        rc = ldr_changeset_render(&p->cs, &b, err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(&b, err, "%zu to add, %zu to change, %zu to remove.\n", add, mod,
                                rem);
    }
    if (rc != LDR_OK) {
        ldr_buf_fini(&b);
        return rc;
    }
    p->text = ldr_buf_take(&b);
    return LDR_OK;
}

static ldr_plan *plan_new(void)
{
    ldr_plan *p = ldr_xcalloc(1, sizeof *p);
    ldr_changeset_init(&p->cs);
    return p;
}

void ldr_plan_free(ldr_plan *p)
{
    if (!p)
        return;
    ldr_changeset_fini(&p->cs);
    ldr_free(p->text);
    ldr_free(p);
}

void ldr_plan_counts(const ldr_plan *p, size_t *out_add, size_t *out_change, size_t *out_remove)
{
    ldr_changeset_counts(&p->cs, out_add, out_change, out_remove);
}

int64_t ldr_plan_base_version(const ldr_plan *p)
{
    return p->base_version;
}

int64_t ldr_plan_new_version(const ldr_plan *p)
{
    return p->new_version;
}

const char *ldr_plan_text(const ldr_plan *p)
{
    return p->text ? p->text : "";
}

const ldr_changeset *ldr__plan_changes(const ldr_plan *p)
{
    return &p->cs;
}

/* Shared by plan and apply: desired vs the registry's current content. */
static ldr_code compute_plan(ldr_store *st, ldr_defs *defs, ldr_plan *p, ldr_err *err)
{
    ldr_objset desired, current;
    ldr_objset_init(&desired);
    ldr_objset_init(&current);
    ldr_code rc = load_desired(st, defs, &desired, err);
    if (rc == LDR_OK && st->reg)
        rc = ldr_registry_current_version(st->reg, st->cfg.project, &p->base_version, err);
    if (rc == LDR_OK && st->reg)
        rc = ldr_registry_load(st->reg, st->cfg.project, 0, &current, err);
    if (rc == LDR_OK)
        rc = ldr_diff(&current, &desired, &p->cs, err);
    ldr_objset_fini(&desired);
    ldr_objset_fini(&current);
    return rc;
}

ldr_code ldr_store_plan(ldr_store *st, ldr_plan **out_plan, ldr_err *err)
{
    *out_plan = NULL;
    ldr_defs defs;
    ldr_defs_init(&defs);
    ldr_plan *p = plan_new();
    ldr_code rc = compute_plan(st, &defs, p, err);
    if (rc == LDR_OK)
        rc = plan_finish(p, st->cfg.project, err);
    ldr_defs_fini(&defs);
    if (rc != LDR_OK) {
        ldr_plan_free(p);
        return rc;
    }
    *out_plan = p;
    return LDR_OK;
}

ldr_code ldr_store_apply(ldr_store *st, ldr_plan **out_plan, ldr_err *err)
{
    if (out_plan)
        *out_plan = NULL;
    ldr_defs defs;
    ldr_defs_init(&defs);
    ldr_plan *p = plan_new();
    ldr_buf summary;
    ldr_buf_init(&summary, 1u << 20);
    bool in_txn = false;
    /* Validate before creating anything, so a broken repository leaves no registry. */
    ldr_code rc = st->reg ? LDR_OK : compute_plan(st, &defs, p, err);
    if (rc != LDR_OK || (!st->reg && p->cs.n == 0))
        goto out;
    if (!st->reg) {
        ldr_changeset_fini(&p->cs);
        ldr_changeset_init(&p->cs);
        ldr_defs_fini(&defs);
        ldr_defs_init(&defs);
    }
    rc = registry_attach(st, true, err);
    if (rc != LDR_OK)
        goto out;
    rc = ldr_registry_begin_write(st->reg, err);
    if (rc != LDR_OK)
        goto out;
    in_txn = true;
    rc = compute_plan(st, &defs, p, err);
    if (rc != LDR_OK || p->cs.n == 0)
        goto out;
    rc = st->infra->update(st->infra_ctx, &st->cfg, &defs, &p->cs, err);
    if (rc != LDR_OK) {
        ldr_err_prefix(err, "apply: infra update failed, registry unchanged: ");
        goto out;
    }
    rc = ldr_changeset_summary(&p->cs, &summary, err);
    if (rc == LDR_OK)
        rc = ldr_registry_write_version(st->reg, st->cfg.project, &p->cs, ldr_ts_now(),
                                        ldr_buf_cstr(&summary), &p->new_version, err);
    if (rc == LDR_OK)
        rc = ldr_registry_commit(st->reg, err);
    if (rc == LDR_OK)
        in_txn = false;
out:
    if (in_txn)
        ldr_registry_rollback(st->reg);
    if (rc == LDR_OK)
        rc = plan_finish(p, st->cfg.project, err);
    if (rc == LDR_OK && p->new_version)
        rc = ldr_store_refresh(st, err);
    ldr_buf_fini(&summary);
    ldr_defs_fini(&defs);
    if (rc != LDR_OK || !out_plan)
        ldr_plan_free(p);
    else
        *out_plan = p;
    return rc;
}

ldr_code ldr__store_teardown(ldr_store *st, bool purge, ldr_err *err)
{
    if (!st->reg)
        return LDR_OK; /* nothing was ever applied: nothing to tear down */
    ldr_objset current, empty;
    ldr_objset_init(&current);
    ldr_objset_init(&empty);
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_snapshot *snap = NULL;
    bool in_txn = false;
    ldr_code rc = ldr_registry_begin_write(st->reg, err);
    if (rc != LDR_OK)
        goto out;
    in_txn = true;
    snap = snapshot_load(st->reg, st->cfg.project, 0, err);
    if (!snap) {
        rc = err ? err->code : LDR_EBACKEND;
        goto out;
    }
    rc = st->infra->teardown(st->infra_ctx, &st->cfg, &snap->defs, err);
    if (rc != LDR_OK)
        goto out;
    if (purge) {
        rc = ldr_registry_purge_project(st->reg, st->cfg.project, err);
    } else {
        rc = ldr_diff(&snap->objs, &empty, &cs, err);
        if (rc == LDR_OK && cs.n > 0) {
            int64_t v;
            rc = ldr_registry_write_version(st->reg, st->cfg.project, &cs, ldr_ts_now(),
                                            "teardown: removed every object", &v, err);
        }
    }
    if (rc == LDR_OK)
        rc = ldr_registry_commit(st->reg, err);
    if (rc == LDR_OK)
        in_txn = false;
out:
    if (in_txn)
        ldr_registry_rollback(st->reg);
    ldr_snapshot_unref(snap);
    ldr_changeset_fini(&cs);
    ldr_objset_fini(&current);
    ldr_objset_fini(&empty);
    if (rc == LDR_OK) {
        /* Force a reload: after a purge the version number may repeat. */
        ldr_snapshot *s = snapshot_load(st->reg, st->cfg.project, 0, err);
        if (!s)
            return err ? err->code : LDR_EBACKEND;
        ldr_snapshot_unref(st->snap);
        st->snap = s;
    }
    return rc;
}

ldr_code ldr_store_teardown(ldr_store *st, ldr_err *err)
{
    return ldr__store_teardown(st, false, err);
}
