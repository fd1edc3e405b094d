/*
 * fplan.c -- feature references and feature services resolved into a retrieval plan:
 * the projections to read (a view, the prefix of its full feature names, its
 * join_key_map) and the output columns in request order. Historical and online retrieval
 * share it, so both accept and reject exactly the same requests with the same messages.
 *
 * Pure: reads the definitions only; everything it returns comes from the caller's arena
 * (the online read path allocates nothing else per request).
 */
#include <stdio.h>
#include <string.h>

#include "repo/repo.h"

bool ldr_view_is_join_key(const ldr_defs *defs, const ldr_view *v, const char *name)
{
    for (size_t i = 0; i < v->n_entities; i++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[i]);
        if (e && !strcmp(e->join_key, name))
            return true;
    }
    return false;
}

ldr_type ldr_view_key_type(const ldr_view *v, const ldr_entity *e)
{
    if (e->value_type != LDR_TYPE_INVALID)
        return e->value_type;
    for (size_t i = 0; i < v->n_schema; i++)
        if (!strcmp(v->schema[i].name, e->join_key))
            return v->schema[i].type;
    return LDR_TYPE_STRING;
}

const ldr_source *ldr_view_file_source(const ldr_defs *defs, const ldr_view *v, ldr_err *err)
{
    const ldr_source *s = ldr_defs_find_source(defs, v->source);
    if (s && s->kind == LDR_SOURCE_PUSH)
        s = ldr_defs_find_source(defs, s->batch_source);
    if (!s || s->kind != LDR_SOURCE_FILE) {
        ldr_err_setf(err, LDR_ENOTFOUND, "no file source to read");
        return NULL;
    }
    return s;
}

const char *ldr_fplan_request_col(const ldr_fplan_proj *pr, const char *join_key)
{
    for (size_t i = 0; i < pr->join_key_map.n; i++)
        if (!strcmp(pr->join_key_map.items[i].key, join_key))
            return pr->join_key_map.items[i].value;
    return join_key;
}

static const ldr_field *view_feature(const ldr_defs *defs, const ldr_view *v, const char *name)
{
    for (size_t i = 0; i < v->n_schema; i++)
        if (!strcmp(v->schema[i].name, name) && !ldr_view_is_join_key(defs, v, name))
            return &v->schema[i];
    return NULL;
}

static const ldr_view *find_view(const ldr_defs *defs, const char *name, ldr_err *err)
{
    const ldr_view *v = ldr_defs_find_view(defs, name);
    if (v)
        return v;
    const char *cands[256];
    size_t n = 0;
    for (size_t i = 0; i < defs->n_views && n < LDR_ARRAY_LEN(cands); i++)
        cands[n++] = defs->views[i].name;
    const char *dym = ldr_did_you_mean(name, cands, n);
    if (dym)
        ldr_err_setf(err, LDR_ENOTFOUND, "feature view '%s' does not exist (did you mean '%s'?)",
                     name, dym);
    else
        ldr_err_setf(err, LDR_ENOTFOUND, "feature view '%s' does not exist", name);
    return NULL;
}

static ldr_code no_feature(const ldr_defs *defs, const ldr_view *v, const char *name, ldr_err *err)
{
    const char *cands[256];
    size_t n = 0;
    for (size_t i = 0; i < v->n_schema && n < LDR_ARRAY_LEN(cands); i++)
        if (!ldr_view_is_join_key(defs, v, v->schema[i].name))
            cands[n++] = v->schema[i].name;
    const char *dym = ldr_did_you_mean(name, cands, n);
    if (dym)
        return ldr_err_setf(err, LDR_ENOTFOUND,
                            "feature view '%s' has no feature '%s' (did you mean '%s'?)", v->name,
                            name, dym);
    return ldr_err_setf(err, LDR_ENOTFOUND, "feature view '%s' has no feature '%s'", v->name, name);
}

/* Grows by one element; arrays in an arena are reallocated by copying (plans are small). */
static void *grow(ldr_arena *a, void *old, size_t n, size_t size)
{
    void *p = ldr_arena_alloc(a, (n + 1) * size);
    if (n)
        memcpy(p, old, n * size);
    return p;
}

static size_t add_proj(ldr_fplan *p, const ldr_view *v, const char *prefix, const ldr_kvs *jkm,
                       ldr_arena *a)
{
    p->projs = grow(a, p->projs, p->n_projs, sizeof *p->projs);
    p->projs[p->n_projs].view = v;
    p->projs[p->n_projs].prefix = prefix;
    p->projs[p->n_projs].join_key_map = *jkm;
    return p->n_projs++;
}

static void add_col(ldr_fplan *p, size_t proj_i, const ldr_field *f, bool full, ldr_arena *a)
{
    p->cols = grow(a, p->cols, p->n_cols, sizeof *p->cols);
    ldr_fplan_col *c = &p->cols[p->n_cols++];
    c->proj = proj_i;
    c->feature = f;
    c->name = full ? ldr_arena_sprintf(a, "%s__%s", p->projs[proj_i].prefix, f->name) : f->name;
}

ldr_code ldr_fplan_build(const ldr_defs *defs, const char *const *refs, size_t n_refs,
                         const char *service, bool full_names, ldr_arena *a, ldr_fplan *p,
                         ldr_err *err)
{
    static const ldr_kvs no_map = {NULL, 0};
    memset(p, 0, sizeof *p);
    if (service) {
        const ldr_service *s = ldr_defs_find_service(defs, service);
        if (!s)
            return ldr_err_setf(err, LDR_ENOTFOUND, "feature service '%s' does not exist", service);
        for (size_t i = 0; i < s->n_projections; i++) {
            const ldr_projection *pr = &s->projections[i];
            const ldr_view *v = find_view(defs, pr->view, err);
            if (!v)
                return LDR_ENOTFOUND;
            size_t pi = add_proj(p, v, *pr->alias ? pr->alias : v->name, &pr->join_key_map, a);
            if (pr->n_features == 0) {
                for (size_t k = 0; k < v->n_schema; k++)
                    if (!ldr_view_is_join_key(defs, v, v->schema[k].name))
                        add_col(p, pi, &v->schema[k], full_names, a);
            } else {
                for (size_t k = 0; k < pr->n_features; k++) {
                    const ldr_field *f = view_feature(defs, v, pr->features[k]);
                    if (!f)
                        return no_feature(defs, v, pr->features[k], err);
                    add_col(p, pi, f, full_names, a);
                }
            }
        }
    } else {
        if (n_refs == 0)
            return ldr_err_setf(err, LDR_EINVAL, "no features requested");
        for (size_t i = 0; i < n_refs; i++) {
            const char *ref = refs[i];
            const char *colon = strchr(ref, ':');
            if (!colon || colon == ref || !colon[1])
                return ldr_err_setf(err, LDR_EINVAL,
                                    "invalid feature reference '%s' (expected VIEW:FEATURE)", ref);
            char *vname = ldr_arena_strndup(a, ref, (size_t)(colon - ref));
            if (strchr(vname, '@'))
                return ldr_err_setf(err, LDR_EUNSUPPORTED,
                                    "feature reference '%s': versioned views are not supported",
                                    ref);
            const ldr_view *v = find_view(defs, vname, err);
            if (!v)
                return LDR_ENOTFOUND;
            const ldr_field *f = view_feature(defs, v, colon + 1);
            if (!f)
                return no_feature(defs, v, colon + 1, err);
            size_t pi = SIZE_MAX;
            for (size_t k = 0; k < p->n_projs; k++)
                if (p->projs[k].view == v)
                    pi = k;
            if (pi == SIZE_MAX)
                pi = add_proj(p, v, v->name, &no_map, a);
            add_col(p, pi, f, full_names, a);
        }
    }
    for (size_t i = 0; i < p->n_cols; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->cols[i].name, p->cols[j].name) != 0)
                continue;
            const ldr_fplan_proj *x = &p->projs[p->cols[j].proj], *y = &p->projs[p->cols[i].proj];
            if (full_names)
                return ldr_err_setf(err, LDR_EINVAL, "feature '%s' is requested twice",
                                    p->cols[i].name);
            return ldr_err_setf(err, LDR_EINVAL,
                                "feature name collision: '%s' comes from both %s and %s; use "
                                "full feature names (--full-feature-names) to tell them apart",
                                p->cols[i].name, x->prefix, y->prefix);
        }
    }
    return LDR_OK;
}
