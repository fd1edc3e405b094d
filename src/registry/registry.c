/*
 * registry.c -- object sets, changeset bookkeeping and the generic registry handle.
 *
 * An ldr_objset is a heap array of ldr_regobj kept in ldr_regobj_cmp order (kind rank,
 * kind, name) once ldr_objset_sort has run; every string it points at lives in the set's
 * arena, so one ldr_objset_fini releases everything. Changesets follow the same pattern
 * (diff.c fills them).
 *
 * ldr_registry is a thin dispatcher over ldr_registry_ops: it picks the backend from
 * cfg->type, tracks whether a write transaction is open and checks the arguments every
 * backend would otherwise check itself (negative versions, empty changesets, writes
 * outside a transaction). Backends may therefore assume valid arguments.
 * Thread-safety: objsets/changesets are plain data; one ldr_registry handle per thread.
 */
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>

#define OBJSET_ARENA_CHUNK 16384

struct ldr_registry {
    const ldr_registry_ops *ops;
    void *impl;
    bool in_write; /* between a successful begin_write and commit/rollback */
};

/* ---- Object sets ----------------------------------------------------------------------- */

void ldr_objset_init(ldr_objset *set)
{
    set->items = NULL;
    set->n = 0;
    set->cap = 0;
    ldr_arena_init(&set->arena, OBJSET_ARENA_CHUNK);
}

void ldr_objset_fini(ldr_objset *set)
{
    ldr_free(set->items);
    set->items = NULL;
    set->n = set->cap = 0;
    ldr_arena_fini(&set->arena);
}

void ldr_objset_add(ldr_objset *set, const ldr_regobj *obj)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->items = ldr_xreallocarray(set->items, set->cap, sizeof *set->items);
    }
    ldr_regobj *dst = &set->items[set->n++];
    dst->kind = ldr_arena_strdup(&set->arena, obj->kind);
    dst->name = ldr_arena_strdup(&set->arena, obj->name);
    dst->spec = ldr_arena_strdup(&set->arena, obj->spec);
    dst->created = obj->created;
    dst->updated = obj->updated;
    dst->version = obj->version;
}

static int regobj_qsort_cmp(const void *a, const void *b)
{
    return ldr_regobj_cmp(a, b);
}

void ldr_objset_sort(ldr_objset *set)
{
    if (set->n > 1)
        qsort(set->items, set->n, sizeof *set->items, regobj_qsort_cmp);
    /* (kind, name) is unique in a set; a duplicate means a caller added an object twice. */
    for (size_t i = 1; i < set->n; i++)
        LDR_ASSERT(ldr_regobj_cmp(&set->items[i - 1], &set->items[i]) < 0);
}

const ldr_regobj *ldr_objset_find(const ldr_objset *set, const char *kind, const char *name)
{
    ldr_regobj key = {.kind = kind, .name = name};
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ldr_regobj_cmp(&set->items[mid], &key);
        if (c == 0)
            return &set->items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ldr_kind_rank(const char *kind)
{
    static const char *const order[] = {
        "Project", "Entity", "DataSource", "FeatureView", "OnDemandFeatureView", "FeatureService"};
    for (size_t i = 0; i < LDR_ARRAY_LEN(order); i++) {
        if (strcmp(kind, order[i]) == 0)
            return (int)i;
    }
    return (int)LDR_ARRAY_LEN(order);
}

int ldr_regobj_cmp(const ldr_regobj *a, const ldr_regobj *b)
{
    int ra = ldr_kind_rank(a->kind), rb = ldr_kind_rank(b->kind);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    int c = strcmp(a->kind, b->kind);
    if (c != 0)
        return c;
    return strcmp(a->name, b->name);
}

/* ---- Changesets ------------------------------------------------------------------------ */

void ldr_changeset_init(ldr_changeset *cs)
{
    cs->items = NULL;
    cs->n = 0;
    cs->cap = 0;
    ldr_arena_init(&cs->arena, OBJSET_ARENA_CHUNK);
}

void ldr_changeset_fini(ldr_changeset *cs)
{
    ldr_free(cs->items);
    cs->items = NULL;
    cs->n = cs->cap = 0;
    ldr_arena_fini(&cs->arena);
}

void ldr_changeset_counts(const ldr_changeset *cs, size_t *out_add, size_t *out_modify,
                          size_t *out_remove)
{
    size_t add = 0, modify = 0, remove = 0;
    for (size_t i = 0; i < cs->n; i++) {
        switch (cs->items[i].op) {
        case LDR_CHANGE_ADD:
            add++;
            break;
        case LDR_CHANGE_MODIFY:
            modify++;
            break;
        case LDR_CHANGE_REMOVE:
            remove++;
            break;
        }
    }
    if (out_add)
        *out_add = add;
    if (out_modify)
        *out_modify = modify;
    if (out_remove)
        *out_remove = remove;
}

/* ---- Registry handle ------------------------------------------------------------------- */

static const ldr_registry_ops *const backends[] = {&ldr_registry_sqlite_ops};

static const ldr_registry_ops *find_backend(const char *type)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(backends); i++) {
        if (strcmp(backends[i]->name, type) == 0)
            return backends[i];
    }
    return NULL;
}

ldr_registry *ldr_registry_open(const ldr_registry_config *cfg, ldr_err *err)
{
    if (!cfg->type || !cfg->type[0]) {
        ldr_err_setf(err, LDR_EINVAL, "registry type is not set");
        return NULL;
    }
    if (!cfg->path || !cfg->path[0]) {
        ldr_err_setf(err, LDR_EINVAL, "registry path is not set");
        return NULL;
    }
    const ldr_registry_ops *ops = find_backend(cfg->type);
    if (!ops) {
        ldr_err_setf(err, LDR_EUNSUPPORTED,
                     "registry type \"%s\" is not supported (supported: sqlite)", cfg->type);
        return NULL;
    }
    void *impl = NULL;
    if (ops->open(cfg, &impl, err) != LDR_OK)
        return NULL;
    ldr_registry *reg = ldr_xcalloc(1, sizeof *reg);
    reg->ops = ops;
    reg->impl = impl;
    return reg;
}

void ldr_registry_close(ldr_registry *reg)
{
    if (!reg)
        return;
    if (reg->in_write)
        reg->ops->rollback(reg->impl);
    reg->ops->close(reg->impl);
    ldr_free(reg);
}

ldr_code ldr_registry_begin_write(ldr_registry *reg, ldr_err *err)
{
    if (reg->in_write)
        return ldr_err_setf(err, LDR_EINVAL, "registry write transaction is already open");
    ldr_code rc = reg->ops->begin_write(reg->impl, err);
    if (rc == LDR_OK)
        reg->in_write = true;
    return rc;
}

ldr_code ldr_registry_commit(ldr_registry *reg, ldr_err *err)
{
    if (!reg->in_write)
        return ldr_err_setf(err, LDR_EINVAL, "registry commit without a write transaction");
    /* The backend ends the transaction even when the commit fails (it rolls back). */
    reg->in_write = false;
    return reg->ops->commit(reg->impl, err);
}

void ldr_registry_rollback(ldr_registry *reg)
{
    if (!reg->in_write)
        return;
    reg->in_write = false;
    reg->ops->rollback(reg->impl);
}

ldr_code ldr_registry_current_version(ldr_registry *reg, const char *project, int64_t *out,
                                      ldr_err *err)
{
    return reg->ops->current_version(reg->impl, project, out, err);
}

ldr_code ldr_registry_load(ldr_registry *reg, const char *project, int64_t version, ldr_objset *out,
                           ldr_err *err)
{
    if (version < 0)
        return ldr_err_setf(err, LDR_EINVAL, "registry version %lld is negative",
                            (long long)version);
    return reg->ops->load(reg->impl, project, version, out, err);
}

ldr_code ldr_registry_write_version(ldr_registry *reg, const char *project, const ldr_changeset *cs,
                                    ldr_ts now, const char *summary, int64_t *out_version,
                                    ldr_err *err)
{
    /* Writing outside a transaction would commit change by change and defeat the
     * serialization of concurrent applies; refuse it rather than half-apply. */
    if (!reg->in_write)
        return ldr_err_setf(err, LDR_EINVAL,
                            "registry write_version called outside a write transaction");
    if (cs->n == 0)
        return ldr_err_setf(err, LDR_EINVAL, "registry write_version with an empty changeset");
    return reg->ops->write_version(reg->impl, project, cs, now, summary ? summary : "", out_version,
                                   err);
}

ldr_code ldr_registry_versions(ldr_registry *reg, const char *project, ldr_arena *a,
                               ldr_regversion **out, size_t *out_n, ldr_err *err)
{
    return reg->ops->versions(reg->impl, project, a, out, out_n, err);
}

ldr_code ldr_registry_purge_project(ldr_registry *reg, const char *project, ldr_err *err)
{
    if (!reg->in_write)
        return ldr_err_setf(err, LDR_EINVAL,
                            "registry purge_project called outside a write transaction");
    return reg->ops->purge_project(reg->impl, project, err);
}

ldr_code ldr_registry_record_materialization(ldr_registry *reg, const char *project,
                                             const ldr_materialization *m, ldr_err *err)
{
    if (reg->in_write)
        return ldr_err_setf(err, LDR_EINVAL,
                            "registry record_materialization called inside a write transaction");
    return reg->ops->record_materialization(reg->impl, project, m, err);
}

ldr_code ldr_registry_materializations(ldr_registry *reg, const char *project, ldr_arena *a,
                                       ldr_materialization **out, size_t *out_n, ldr_err *err)
{
    *out = NULL;
    *out_n = 0;
    return reg->ops->materializations(reg->impl, project, a, out, out_n, err);
}
