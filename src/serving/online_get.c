/*
 * online_get.c -- get-online-features: the latest values of the requested features for
 * the given entity rows, with Feast's statuses (see serving.h).
 *
 * Per request: resolve the plan (repo/fplan.c, shared with historical retrieval), or take
 * the one prepared earlier for the same feature list (ldr_serving_prepare); find
 * every join key the projections need in the request (through join_key_map), each
 * coerced once to its entity's declared type; per projection serialize each row's key
 * (Feast v3) and deduplicate the keys with an open-addressing table; then read every
 * projection's distinct keys in one store call (ldr_online_read_many: on Redis one HMGET
 * per hash for all the views sharing it), and fan the answers out to the rows. Statuses follow the
 * Go server (reference §6.3), which is TTL-aware: NOT_FOUND when the store has no row for the key
 * (or the row lacks the feature), NULL_VALUE for a stored null, OUTSIDE_MAX_AGE when
 * now - event time > ttl (the value is still returned), else PRESENT.
 *
 * Every allocation comes from the caller's arena (the keys too: a fixed ldr_buf over
 * arena memory sized by a first pass), so a server thread reuses one arena per request.
 */
#include "serving/serving.h"

#include <stdio.h>
#include <string.h>

const char *ldr_fstatus_name(ldr_fstatus s)
{
    switch (s) {
    case LDR_STATUS_PRESENT:
        return "PRESENT";
    case LDR_STATUS_NULL_VALUE:
        return "NULL_VALUE";
    case LDR_STATUS_NOT_FOUND:
        return "NOT_FOUND";
    case LDR_STATUS_OUTSIDE_MAX_AGE:
        return "OUTSIDE_MAX_AGE";
    case LDR_STATUS_INVALID:
        break;
    }
    return "INVALID";
}

void ldr_serving_online_view(const ldr_defs *defs, const char *project, const ldr_view *v,
                             ldr_arena *a, ldr_online_view *out)
{
    ldr_field *f = ldr_arena_calloc(a, v->n_schema ? v->n_schema : 1, sizeof *f);
    size_t n = 0;
    for (size_t i = 0; i < v->n_schema; i++)
        if (!ldr_view_is_join_key(defs, v, v->schema[i].name))
            f[n++] = v->schema[i];
    out->project = project;
    out->name = v->name;
    out->features = f;
    out->n_features = n;
}

/* ---- entity values ----------------------------------------------------------------------- */

/* Converts a request value to a join key of type `to`. A null stays null (the row then
 * matches nothing). Integers become decimal text for String keys (Feast: 5 -> "5"). */
static ldr_code coerce_key(const ldr_value *in, ldr_type to, const char *col, size_t row,
                           ldr_arena *a, ldr_value *out, ldr_err *err)
{
    if (in->is_null) {
        *out = ldr_value_null(to);
        return LDR_OK;
    }
    if (in->type == to) {
        *out = *in;
        return LDR_OK;
    }
    ldr_type from = in->type;
    bool from_int = from == LDR_TYPE_INT32 || from == LDR_TYPE_INT64;
    if (to == LDR_TYPE_STRING || to == LDR_TYPE_BYTES) {
        if (from == LDR_TYPE_STRING || from == LDR_TYPE_BYTES) {
            *out = *in;
            out->type = to;
            return LDR_OK;
        }
        if (from_int) {
            int64_t v = from == LDR_TYPE_INT32 ? in->u.i32 : in->u.i64;
            char *s = ldr_arena_sprintf(a, "%lld", (long long)v);
            out->type = to;
            out->is_null = false;
            out->u.str.ptr = s;
            out->u.str.len = strlen(s);
            return LDR_OK;
        }
    } else if (to == LDR_TYPE_INT32 || to == LDR_TYPE_INT64 || to == LDR_TYPE_UNIX_TIMESTAMP) {
        int64_t v = 0;
        bool ok = false;
        if (from_int) {
            v = from == LDR_TYPE_INT32 ? in->u.i32 : in->u.i64;
            ok = true;
        } else if (from == LDR_TYPE_FLOAT64 && in->u.f64 == (double)(int64_t)in->u.f64 &&
                   in->u.f64 >= -9.2e18 && in->u.f64 <= 9.2e18) {
            v = (int64_t)in->u.f64;
            ok = true;
        } else if (from == LDR_TYPE_STRING) {
            ldr_value tmp;
            ldr_err e2;
            ldr_err_clear(&e2);
            if (ldr_value_from_text(to, in->u.str.ptr, in->u.str.len, a, &tmp, &e2) == LDR_OK) {
                *out = tmp;
                return LDR_OK;
            }
        }
        if (ok && to == LDR_TYPE_INT32 && (v < INT32_MIN || v > INT32_MAX))
            return ldr_err_setf(err, LDR_EINVAL,
                                "entity column '%s', row %zu: %lld is out of range for Int32", col,
                                row, (long long)v);
        if (ok) {
            out->type = to;
            out->is_null = false;
            if (to == LDR_TYPE_INT32)
                out->u.i32 = (int32_t)v;
            else if (to == LDR_TYPE_INT64)
                out->u.i64 = v;
            else /* a number for a timestamp key: epoch seconds */
                out->u.ts = v * 1000000;
            return LDR_OK;
        }
    }
    return ldr_err_setf(err, LDR_EINVAL,
                        "entity column '%s', row %zu: a %s value is not a valid %s", col, row,
                        ldr_type_name(from), ldr_type_name(to));
}

/* One request column coerced to one type, shared by the projections that need it. */
typedef struct keycol {
    const char *name; /* request column */
    ldr_type type;
    ldr_value *values; /* n_rows */
} keycol;

/* ---- key deduplication ------------------------------------------------------------------- */

/* Bytes the v3 key of a row needs at most (strings counted exactly). */
static size_t key_bound(const char *const *names, const ldr_value *vals, size_t nk)
{
    size_t n = 4;
    for (size_t k = 0; k < nk; k++) {
        n += 16 + strlen(names[k]);
        n += (vals[k].type == LDR_TYPE_STRING || vals[k].type == LDR_TYPE_BYTES) ? vals[k].u.str.len
                                                                                 : 8;
    }
    return n;
}

/* ---- one projection's read ------------------------------------------------------------ */

/* A projection's keys (deduplicated), requested features and where they go. */
typedef struct projread {
    ldr_online_read_req req;
    const ldr_online_prep_proj *pp; /* the view, its features and their plan columns */
    uint32_t *uniq; /* per request row: distinct key index, UINT32_MAX for a null key */
} projread;

/* Encodes and deduplicates a projection's keys (key k of row r is kc[key_kc[k]].values[r])
 * and sets up its read (all from a; kv is scratch of pp->n_jk values). */
static ldr_code prepare_proj(const ldr_online_prep_proj *pp, const size_t *key_kc, const keycol *kc,
                             size_t n, ldr_value *kv, ldr_arena *a, projread *out, ldr_err *err)
{
    size_t nk = pp->n_jk;
    /* Pass 1: room for every key. */
    size_t total = 16 + 64; /* the entityless key, with slack */
    for (size_t r = 0; r < n; r++) {
        for (size_t k = 0; k < nk; k++)
            kv[k] = kc[key_kc[k]].values[r];
        total += key_bound(pp->jk, kv, nk);
    }
    ldr_buf keys;
    ldr_buf_init_fixed(&keys, ldr_arena_alloc(a, total + 1), total + 1);
    /* Pass 2: encode and deduplicate. uniq[r] = distinct key index, UINT32_MAX none. */
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = ldr_arena_calloc(a, cap, sizeof *slot); /* distinct index + 1 */
    ldr_online_keyref *refs = ldr_arena_alloc(a, (n + 1) * sizeof *refs);
    uint32_t *uniq = ldr_arena_alloc(a, (n ? n : 1) * sizeof *uniq);
    size_t n_uniq = 0;
    for (size_t r = 0; r < n; r++) {
        bool has_null = false;
        for (size_t k = 0; k < nk; k++) {
            kv[k] = kc[key_kc[k]].values[r];
            has_null |= kv[k].is_null;
        }
        uniq[r] = UINT32_MAX;
        if (has_null)
            continue;
        size_t start = keys.len;
        ldr_code rc = nk ? ldr_online_key_encode(pp->jk, kv, nk, &keys, err)
                         : ldr_online_key_encode_entityless(&keys, err);
        if (rc != LDR_OK)
            return rc;
        const uint8_t *kp = (const uint8_t *)keys.ptr + start;
        size_t kl = keys.len - start;
        size_t h = (size_t)ldr_hash_bytes(kp, kl) & (cap - 1);
        while (slot[h]) {
            const ldr_online_keyref *o = &refs[slot[h] - 1];
            if (o->len == kl && !memcmp(o->ptr, kp, kl))
                break;
            h = (h + 1) & (cap - 1);
        }
        if (!slot[h]) {
            refs[n_uniq].ptr = kp;
            refs[n_uniq].len = kl;
            slot[h] = (uint32_t)++n_uniq;
        } else {
            keys.len = start; /* a duplicate: its bytes are not needed */
        }
        uniq[r] = slot[h] - 1;
    }
    out->pp = pp;
    out->uniq = uniq;
    out->req =
        (ldr_online_read_req){.view = &pp->view,
                              .features = pp->fnames,
                              .types = pp->ftypes,
                              .n_features = pp->nf,
                              .keys = refs,
                              .n_keys = n_uniq,
                              .out = ldr_arena_alloc(a, (n_uniq + 1) * sizeof(ldr_online_hit))};
    return LDR_OK;
}

/* Copies a projection's answers to every request row, with Feast's statuses. Feature f
 * goes to output column n_jk + its plan column. */
static void fan_out(const projread *pr, const ldr_view *v, size_t n_jk, size_t n, ldr_ts now,
                    ldr_online_response *out)
{
    const ldr_online_read_req *q = &pr->req;
    for (size_t f = 0; f < q->n_features; f++) {
        size_t c = n_jk + pr->pp->fcol[f];
        for (size_t r = 0; r < n; r++) {
            const ldr_online_hit *hit = pr->uniq[r] == UINT32_MAX ? NULL : &q->out[pr->uniq[r]];
            if (!hit || !hit->found || !hit->present[f]) {
                out->values[c][r] = ldr_value_null(q->types[f]);
                out->status[c][r] = LDR_STATUS_NOT_FOUND;
                out->event_ts[c][r] = LDR_TS_NONE;
                continue;
            }
            out->values[c][r] = hit->values[f];
            out->event_ts[c][r] = hit->event_ts;
            if (hit->values[f].is_null)
                out->status[c][r] = LDR_STATUS_NULL_VALUE;
            else if (v->ttl > 0 && now - hit->event_ts > v->ttl)
                out->status[c][r] = LDR_STATUS_OUTSIDE_MAX_AGE;
            else
                out->status[c][r] = LDR_STATUS_PRESENT;
        }
    }
}

/* ---- the request --------------------------------------------------------------------------- */

static ldr_code missing_keys(const ldr_online_request *req, const char *const *missing,
                             size_t n_missing, ldr_err *err)
{
    ldr_buf m, p;
    ldr_buf_init(&m, 4096);
    ldr_buf_init(&p, 4096);
    for (size_t i = 0; i < n_missing; i++)
        (void)(ldr_buf_puts(&m, i ? ", " : "", NULL) || ldr_buf_puts(&m, missing[i], NULL));
    for (size_t i = 0; i < req->n_entity_cols; i++)
        (void)(ldr_buf_puts(&p, i ? ", " : "", NULL) ||
               ldr_buf_puts(&p, req->entity_names[i], NULL));
    ldr_code rc = ldr_err_setf(err, LDR_EINVAL,
                               "missing join key values for keys: [%s]; provided join keys: [%s]",
                               m.ptr ? m.ptr : "", p.ptr ? p.ptr : "");
    ldr_buf_fini(&m);
    ldr_buf_fini(&p);
    return rc;
}

ldr_code ldr_serving_prepare(const ldr_defs *defs, const char *project, const char *const *features,
                             size_t n_features, const char *feature_service,
                             bool full_feature_names, ldr_arena *a, ldr_online_prep *out,
                             ldr_err *err)
{
    memset(out, 0, sizeof *out);
    ldr_fplan *p = &out->plan;
    ldr_code rc =
        ldr_fplan_build(defs, features, n_features, feature_service, full_feature_names, a, p, err);
    if (rc != LDR_OK)
        return rc;
    out->projs = ldr_arena_calloc(a, p->n_projs + 1, sizeof *out->projs);
    out->view_of = ldr_arena_calloc(a, p->n_cols + 1, sizeof *out->view_of);
    for (size_t c = 0; c < p->n_cols; c++)
        out->view_of[c] = p->projs[p->cols[c].proj].view->name;
    for (size_t i = 0; i < p->n_projs; i++) {
        ldr_online_prep_proj *pp = &out->projs[i];
        const ldr_view *v = p->projs[i].view;
        ldr_serving_online_view(defs, project, v, a, &pp->view);
        pp->n_jk = v->n_entities;
        pp->jk = ldr_arena_calloc(a, pp->n_jk + 1, sizeof *pp->jk);
        for (size_t k = 0; k < pp->n_jk; k++)
            pp->jk[k] = ldr_defs_find_entity(defs, v->entities[k])->join_key;
        size_t nf = 0;
        for (size_t c = 0; c < p->n_cols; c++)
            nf += p->cols[c].proj == i;
        pp->fnames = ldr_arena_calloc(a, nf + 1, sizeof *pp->fnames);
        pp->ftypes = ldr_arena_calloc(a, nf + 1, sizeof *pp->ftypes);
        pp->fcol = ldr_arena_calloc(a, nf + 1, sizeof *pp->fcol);
        for (size_t c = 0; c < p->n_cols; c++) {
            if (p->cols[c].proj != i)
                continue;
            pp->fnames[pp->nf] = p->cols[c].feature->name;
            pp->ftypes[pp->nf] = p->cols[c].feature->type;
            pp->fcol[pp->nf++] = c;
        }
    }
    return LDR_OK;
}

ldr_code ldr_serving_get_online(const ldr_defs *defs, const char *project, ldr_online_store *os,
                                const ldr_online_request *req, ldr_ts now, ldr_arena *a,
                                ldr_online_response *out, ldr_err *err)
{
    memset(out, 0, sizeof *out);
    const ldr_online_prep *prep = req->prep;
    ldr_online_prep own;
    ldr_code rc = LDR_OK;
    if (!prep) {
        rc = ldr_serving_prepare(defs, project, req->features, req->n_features,
                                 req->feature_service, req->full_feature_names, a, &own, err);
        if (rc != LDR_OK)
            return rc;
        prep = &own;
    }
    const ldr_fplan *p = &prep->plan;
    size_t n = req->n_rows;

    /* Every (request column, type) the projections need, in request column order. */
    size_t max_kc = 0;
    for (size_t i = 0; i < p->n_projs; i++)
        max_kc += prep->projs[i].n_jk;
    keycol *kc = ldr_arena_alloc(a, (max_kc + 1) * sizeof *kc);
    size_t n_kc = 0;
    const char **missing = ldr_arena_alloc(a, (max_kc + 1) * sizeof *missing);
    size_t n_missing = 0;
    /* kc index of projection i's key k */
    size_t *proj_kc = ldr_arena_alloc(a, (max_kc + 1) * sizeof *proj_kc);
    size_t **pkc = ldr_arena_alloc(a, (p->n_projs + 1) * sizeof *pkc);
    for (size_t i = 0, off = 0; i < p->n_projs; i++) {
        const ldr_view *v = p->projs[i].view;
        pkc[i] = proj_kc + off;
        off += prep->projs[i].n_jk;
        for (size_t k = 0; k < prep->projs[i].n_jk; k++) {
            const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
            const char *rcol = ldr_fplan_request_col(&p->projs[i], e->join_key);
            ldr_type t = ldr_view_key_type(v, e);
            size_t j = 0;
            while (j < n_kc && !(kc[j].type == t && !strcmp(kc[j].name, rcol)))
                j++;
            if (j == n_kc) {
                kc[n_kc].name = rcol;
                kc[n_kc].type = t;
                kc[n_kc].values = NULL;
                n_kc++;
            }
            pkc[i][k] = j;
        }
    }
    for (size_t j = 0; j < n_kc; j++) {
        size_t c = 0;
        while (c < req->n_entity_cols && strcmp(req->entity_names[c], kc[j].name) != 0)
            c++;
        if (c == req->n_entity_cols) {
            bool dup = false;
            for (size_t m = 0; m < n_missing && !dup; m++)
                dup = !strcmp(missing[m], kc[j].name);
            if (!dup)
                missing[n_missing++] = kc[j].name;
            continue;
        }
        kc[j].values = ldr_arena_alloc(a, (n ? n : 1) * sizeof *kc[j].values);
        for (size_t r = 0; r < n && rc == LDR_OK; r++)
            rc = coerce_key(&req->entity_values[c][r], kc[j].type, kc[j].name, r, a,
                            &kc[j].values[r], err);
        if (rc != LDR_OK)
            return rc;
    }
    if (n_missing)
        return missing_keys(req, missing, n_missing, err);

    /* Output columns: join keys (request column order), then features. */
    size_t n_jk = 0;
    size_t *jk_kc = ldr_arena_alloc(a, (n_kc + 1) * sizeof *jk_kc);
    for (size_t c = 0; c < req->n_entity_cols; c++) {
        for (size_t j = 0; j < n_kc; j++) {
            if (strcmp(kc[j].name, req->entity_names[c]) != 0)
                continue;
            bool dup = false;
            for (size_t m = 0; m < n_jk && !dup; m++)
                dup = !strcmp(kc[jk_kc[m]].name, kc[j].name);
            if (!dup)
                jk_kc[n_jk++] = j;
        }
    }
    out->n_rows = n;
    out->n_cols = n_jk + p->n_cols;
    size_t nc = out->n_cols, nr = n ? n : 1;
    out->names = ldr_arena_alloc(a, (nc + 1) * sizeof *out->names);
    out->values = ldr_arena_alloc(a, (nc + 1) * sizeof *out->values);
    out->status = ldr_arena_alloc(a, (nc + 1) * sizeof *out->status);
    out->event_ts = ldr_arena_alloc(a, (nc + 1) * sizeof *out->event_ts);
    /* One block per array kind; every cell is written below. */
    ldr_value *vblock = ldr_arena_alloc(a, nc * nr * sizeof *vblock);
    uint8_t *sblock = ldr_arena_alloc(a, nc * nr * sizeof *sblock);
    ldr_ts *tblock = ldr_arena_alloc(a, nc * nr * sizeof *tblock);
    for (size_t c = 0; c < nc; c++) {
        out->values[c] = vblock + c * nr;
        out->status[c] = sblock + c * nr;
        out->event_ts[c] = tblock + c * nr;
    }
    for (size_t m = 0; m < n_jk; m++) {
        const keycol *k = &kc[jk_kc[m]];
        out->names[m] = k->name;
        for (size_t r = 0; r < n; r++) {
            out->values[m][r] = k->values[r];
            out->status[m][r] = LDR_STATUS_PRESENT;
            out->event_ts[m][r] = LDR_TS_NONE;
        }
    }
    for (size_t i = 0; i < p->n_cols; i++)
        out->names[n_jk + i] = p->cols[i].name;

    /* Per projection: keys and deduplication; then one read of every projection (the
     * Redis store fetches the views sharing a hash in one HMGET); then the fan out. */
    projread *pr = ldr_arena_alloc(a, (p->n_projs + 1) * sizeof *pr);
    ldr_online_read_req *reqs = ldr_arena_alloc(a, (p->n_projs + 1) * sizeof *reqs);
    ldr_value *kv = ldr_arena_alloc(a, (max_kc + 1) * sizeof *kv);
    size_t n_reqs = 0;
    for (size_t i = 0; i < p->n_projs && rc == LDR_OK; i++) {
        rc = prepare_proj(&prep->projs[i], pkc[i], kc, n, kv, a, &pr[i], err);
        if (rc != LDR_OK)
            ldr_err_prefix(err, "feature view '%s': ", p->projs[i].view->name);
        else if (pr[i].req.n_keys)
            reqs[n_reqs++] = pr[i].req;
    }
    if (rc == LDR_OK && n_reqs)
        rc = ldr_online_read_many(os, reqs, n_reqs, a, err);
    if (rc != LDR_OK)
        return rc;
    for (size_t i = 0; i < p->n_projs; i++)
        fan_out(&pr[i], p->projs[i].view, n_jk, n, now, out);
    return rc;
}
