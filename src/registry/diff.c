/*
 * diff.c -- changesets between two object sets, with field-level changes, and their
 * rendering as text.
 *
 * ldr_diff merges the two sorted sets. An object whose spec text differs in both is
 * parsed (only then: added and removed specs are not parsed) and the two JSON trees are
 * walked together: object members in the new spec's order, then removed members; arrays
 * whose elements are all objects with a unique string "name" (schema fields, projections)
 * are matched by name unless their common names changed order, other arrays index by
 * index. Each difference becomes one ldr_field_change whose path is built in a bounded
 * buffer used as a stack. Specs that differ only in text (say, key order) are unchanged.
 *
 * Every string of a changeset (kinds, names, specs, paths, value texts) is copied into
 * the changeset's arena; the sets diffed may be freed afterwards. jansson trees are
 * local to one object's diff and released before the next.
 */
#include "registry/registry.h"

#include <string.h>

#include <jansson.h>

#define DIFF_PATH_MAX   (64u * 1024u) /* longest field path */
#define DUMP_FLAGS      (JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)
#define SPEC_LOAD_FLAGS JSON_DECODE_ANY

/* State of one object's spec walk. */
typedef struct diff_walk {
    ldr_arena *a;            /* the changeset's arena: paths and value texts go here */
    ldr_buf path;            /* current path; segments pushed and popped while walking */
    ldr_field_change *items; /* heap vector of the changes found so far */
    size_t n;
    size_t cap;
} diff_walk;

static ldr_code walk_values(diff_walk *w, json_t *old, json_t *new, ldr_err *err);

/* ---- Value text ------------------------------------------------------------------------ */

static const char *dump_with(ldr_arena *a, const json_t *v, size_t flags)
{
    size_t len = json_dumpb(v, NULL, 0, flags);
    LDR_ASSERT(len > 0); /* only fails for trees json_loads cannot produce */
    char *s = ldr_arena_alloc(a, len + 1);
    json_dumpb(v, s, len, flags);
    s[len] = '\0';
    return s;
}

static bool reads_back_equal(const char *text, const json_t *v)
{
    json_t *back = json_loads(text, SPEC_LOAD_FLAGS, NULL);
    bool same = back && json_equal(back, v);
    json_decref(back);
    return same;
}

/* Compact JSON text of v. jansson prints reals with 17 digits by default (0.1 becomes
 * 0.10000000000000001); 15 or 16 digits read back exactly for almost every double, so
 * try those first (the argument of ldr_fmt_double). */
static const char *dump_json(ldr_arena *a, const json_t *v)
{
    for (int prec = 15; prec <= 16; prec++) {
        const char *s = dump_with(a, v, DUMP_FLAGS | JSON_REAL_PRECISION(prec));
        if (reads_back_equal(s, v))
            return s;
    }
    return dump_with(a, v, DUMP_FLAGS);
}

/* ---- Field walk ------------------------------------------------------------------------ */

/* Records a difference at the current path; old or new is NULL when absent. */
static ldr_code record(diff_walk *w, const json_t *old, const json_t *new)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->items = ldr_xreallocarray(w->items, w->cap, sizeof *w->items);
    }
    ldr_field_change *fc = &w->items[w->n++];
    /* A spec whose root is not an object can only change as a whole. */
    fc->path = ldr_arena_strdup(w->a, w->path.len ? ldr_buf_cstr(&w->path) : "(spec)");
    fc->old_text = old ? dump_json(w->a, old) : NULL;
    fc->new_text = new ? dump_json(w->a, new) : NULL;
    return LDR_OK;
}

/* Appends ".key" (or "key" at the root) to the path. */
static ldr_code push_member(diff_walk *w, const char *key, ldr_err *err)
{
    ldr_code rc = w->path.len ? ldr_buf_putc(&w->path, '.', err) : LDR_OK;
    return rc == LDR_OK ? ldr_buf_puts(&w->path, key, err) : rc;
}

static ldr_code push_name(diff_walk *w, const char *name, ldr_err *err)
{
    return ldr_buf_printf(&w->path, err, "[%s]", name);
}

static ldr_code push_index(diff_walk *w, size_t i, ldr_err *err)
{
    return ldr_buf_printf(&w->path, err, "[%zu]", i);
}

static void pop_to(diff_walk *w, size_t len)
{
    w->path.len = len;
    w->path.ptr[len] = '\0';
}

/* Compares old[i] with new[i] under the segment already pushed, then pops it. */
static ldr_code walk_pushed(diff_walk *w, size_t saved, json_t *old, json_t *new, ldr_err *err)
{
    ldr_code rc = old && new ? walk_values(w, old, new, err) : record(w, old, new);
    pop_to(w, saved);
    return rc;
}

static ldr_code walk_member(diff_walk *w, const char *key, json_t *old, json_t *new, ldr_err *err)
{
    size_t saved = w->path.len;
    ldr_code rc = push_member(w, key, err);
    return rc == LDR_OK ? walk_pushed(w, saved, old, new, err) : rc;
}

static ldr_code walk_objects(diff_walk *w, json_t *old, json_t *new, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (void *it = json_object_iter(new); it && rc == LDR_OK;
         it = json_object_iter_next(new, it)) {
        const char *key = json_object_iter_key(it);
        rc = walk_member(w, key, json_object_get(old, key), json_object_iter_value(it), err);
    }
    for (void *it = json_object_iter(old); it && rc == LDR_OK;
         it = json_object_iter_next(old, it)) {
        const char *key = json_object_iter_key(it);
        if (!json_object_get(new, key))
            rc = walk_member(w, key, json_object_iter_value(it), NULL, err);
    }
    return rc;
}

static const char *element_name(const json_t *el)
{
    return json_string_value(json_object_get(el, "name"));
}

/* Maps name -> element for an array whose elements are all objects with a unique string
 * "name" member. Returns false (map partly filled) for any other array. */
static bool index_by_name(const json_t *arr, ldr_map *out)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *el = json_array_get(arr, i);
        const char *name = element_name(el);
        if (!name || ldr_map_has(out, name))
            return false;
        ldr_map_put(out, name, el);
    }
    return true;
}

/* True when the names present in both arrays appear in the same relative order. */
static bool same_order(const json_t *old, const ldr_map *old_names, const json_t *new,
                       const ldr_map *new_names)
{
    size_t j = 0, n_old = json_array_size(old);
    for (size_t i = 0; i < json_array_size(new); i++) {
        const char *name = element_name(json_array_get(new, i));
        if (!ldr_map_has(old_names, name))
            continue;
        while (j < n_old && !ldr_map_has(new_names, element_name(json_array_get(old, j))))
            j++;
        if (j == n_old || strcmp(element_name(json_array_get(old, j)), name) != 0)
            return false;
        j++;
    }
    return true;
}

static ldr_code walk_element(diff_walk *w, const char *name, json_t *old, json_t *new, ldr_err *err)
{
    size_t saved = w->path.len;
    ldr_code rc = push_name(w, name, err);
    return rc == LDR_OK ? walk_pushed(w, saved, old, new, err) : rc;
}

static ldr_code walk_named(diff_walk *w, const json_t *old, const ldr_map *old_names,
                           const json_t *new, const ldr_map *new_names, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < json_array_size(new) && rc == LDR_OK; i++) {
        json_t *el = json_array_get(new, i);
        const char *name = element_name(el);
        rc = walk_element(w, name, ldr_map_get(old_names, name), el, err);
    }
    for (size_t i = 0; i < json_array_size(old) && rc == LDR_OK; i++) {
        json_t *el = json_array_get(old, i);
        const char *name = element_name(el);
        if (!ldr_map_has(new_names, name))
            rc = walk_element(w, name, el, NULL, err);
    }
    return rc;
}

static ldr_code walk_indexed(diff_walk *w, json_t *old, json_t *new, ldr_err *err)
{
    size_t saved = w->path.len;
    size_t n_old = json_array_size(old), n_new = json_array_size(new);
    size_t n = n_old > n_new ? n_old : n_new;
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        rc = push_index(w, i, err);
        if (rc == LDR_OK)
            rc = walk_pushed(w, saved, json_array_get(old, i), json_array_get(new, i), err);
    }
    return rc;
}

/* Arrays of named objects are matched by name, so inserting a field in the middle of a
 * schema reports one added field, not a shifted tail. A reordering of the common names is
 * a real change (column order) that name matching would hide: report the whole array. */
static ldr_code walk_arrays(diff_walk *w, json_t *old, json_t *new, ldr_err *err)
{
    ldr_map old_names, new_names;
    ldr_map_init(&old_names);
    ldr_map_init(&new_names);
    ldr_code rc;
    if (!index_by_name(old, &old_names) || !index_by_name(new, &new_names))
        rc = walk_indexed(w, old, new, err);
    else if (!same_order(old, &old_names, new, &new_names))
        rc = record(w, old, new);
    else
        rc = walk_named(w, old, &old_names, new, &new_names, err);
    ldr_map_fini(&new_names);
    ldr_map_fini(&old_names);
    return rc;
}

static ldr_code walk_values(diff_walk *w, json_t *old, json_t *new, ldr_err *err)
{
    if (json_equal(old, new))
        return LDR_OK;
    if (json_is_object(old) && json_is_object(new))
        return walk_objects(w, old, new, err);
    if (json_is_array(old) && json_is_array(new))
        return walk_arrays(w, old, new, err);
    return record(w, old, new);
}

/* ---- Changeset building ---------------------------------------------------------------- */

static ldr_change *push_change(ldr_changeset *cs, ldr_change_op op, const ldr_regobj *from,
                               const ldr_regobj *to)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->items = ldr_xreallocarray(cs->items, cs->cap, sizeof *cs->items);
    }
    const ldr_regobj *any = to ? to : from;
    ldr_change *c = &cs->items[cs->n++];
    c->op = op;
    c->kind = ldr_arena_strdup(&cs->arena, any->kind);
    c->name = ldr_arena_strdup(&cs->arena, any->name);
    c->old_spec = from ? ldr_arena_strdup(&cs->arena, from->spec) : NULL;
    c->new_spec = to ? ldr_arena_strdup(&cs->arena, to->spec) : NULL;
    c->fields = NULL;
    c->n_fields = 0;
    return c;
}

static json_t *parse_spec(const ldr_regobj *obj, ldr_err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(obj->spec, SPEC_LOAD_FLAGS, &jerr);
    if (!root)
        ldr_err_setf(err, LDR_ECORRUPT,
                     "registry object %s %s: invalid JSON spec: %s (line %d, column %d)", obj->kind,
                     obj->name, jerr.text, jerr.line, jerr.column);
    return root;
}

/* Diffs two versions of one object; appends a MODIFY unless they are semantically equal. */
static ldr_code diff_object(ldr_changeset *cs, const ldr_regobj *from, const ldr_regobj *to,
                            ldr_err *err)
{
    diff_walk w = {.a = &cs->arena};
    ldr_buf_init(&w.path, DIFF_PATH_MAX);
    ldr_code rc = LDR_ECORRUPT; /* until both specs parse; parse_spec sets err */
    json_t *old = parse_spec(from, err);
    json_t *new = old ? parse_spec(to, err) : NULL;
    if (!new)
        goto fail;
    rc = walk_values(&w, old, new, err);
    if (rc != LDR_OK) {
        ldr_err_prefix(err, "diffing %s %s: ", to->kind, to->name);
        goto fail;
    }
    if (w.n > 0) {
        ldr_change *c = push_change(cs, LDR_CHANGE_MODIFY, from, to);
        ldr_field_change *fields = ldr_arena_calloc(&cs->arena, w.n, sizeof *fields);
        memcpy(fields, w.items, w.n * sizeof *fields);
        c->fields = fields;
        c->n_fields = w.n;
    }
fail:
    json_decref(new);
    json_decref(old);
    ldr_free(w.items);
    ldr_buf_fini(&w.path);
    return rc;
}

ldr_code ldr_diff(const ldr_objset *from, const ldr_objset *to, ldr_changeset *out, ldr_err *err)
{
    size_t i = 0, j = 0, start = out->n;
    ldr_code rc = LDR_OK;
    while (rc == LDR_OK && (i < from->n || j < to->n)) {
        const ldr_regobj *a = i < from->n ? &from->items[i] : NULL;
        const ldr_regobj *b = j < to->n ? &to->items[j] : NULL;
        int c = !a ? 1 : !b ? -1 : ldr_regobj_cmp(a, b);
        if (c < 0) {
            push_change(out, LDR_CHANGE_REMOVE, a, NULL);
            i++;
        } else if (c > 0) {
            push_change(out, LDR_CHANGE_ADD, NULL, b);
            j++;
        } else {
            if (strcmp(a->spec, b->spec) != 0)
                rc = diff_object(out, a, b, err);
            i++;
            j++;
        }
    }
    if (rc != LDR_OK)
        out->n = start; /* all or nothing; the arena keeps the strings until fini */
    return rc;
}

/* ---- Rendering ------------------------------------------------------------------------- */

static ldr_code render_fields(const ldr_change *c, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < c->n_fields && rc == LDR_OK; i++) {
        const ldr_field_change *f = &c->fields[i];
        rc = ldr_buf_printf(out, err, "      %s: %s -> %s\n", f->path,
                            f->old_text ? f->old_text : "(none)",
                            f->new_text ? f->new_text : "(none)");
    }
    return rc;
}

ldr_code ldr_changeset_render(const ldr_changeset *cs, ldr_buf *out, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < cs->n && rc == LDR_OK; i++) {
        const ldr_change *c = &cs->items[i];
        char marker = c->op == LDR_CHANGE_ADD ? '+' : c->op == LDR_CHANGE_MODIFY ? '~' : '-';
        rc = ldr_buf_printf(out, err, "  %c %s %s\n", marker, c->kind, c->name);
        if (rc == LDR_OK && c->op == LDR_CHANGE_MODIFY)
            rc = render_fields(c, out, err);
    }
    return rc;
}

/* Appends "<verb> Kind name, Kind name" for the changes with op; *first_group tracks
 * whether a "; " separator is needed. */
static ldr_code summary_group(const ldr_changeset *cs, ldr_change_op op, const char *verb,
                              bool *first_group, ldr_buf *out, ldr_err *err)
{
    bool first = true;
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < cs->n && rc == LDR_OK; i++) {
        const ldr_change *c = &cs->items[i];
        if (c->op != op)
            continue;
        if (first)
            rc = ldr_buf_printf(out, err, "%s%s ", *first_group ? "" : "; ", verb);
        else
            rc = ldr_buf_puts(out, ", ", err);
        if (rc == LDR_OK)
            rc = ldr_buf_printf(out, err, "%s %s", c->kind, c->name);
        first = false;
        *first_group = false;
    }
    return rc;
}

ldr_code ldr_changeset_summary(const ldr_changeset *cs, ldr_buf *out, ldr_err *err)
{
    if (cs->n == 0)
        return ldr_buf_puts(out, "no changes", err);
    bool first_group = true;
    ldr_code rc = summary_group(cs, LDR_CHANGE_ADD, "added", &first_group, out, err);
    if (rc == LDR_OK)
        rc = summary_group(cs, LDR_CHANGE_MODIFY, "changed", &first_group, out, err);
    if (rc == LDR_OK)
        rc = summary_group(cs, LDR_CHANGE_REMOVE, "removed", &first_group, out, err);
    return rc;
}
