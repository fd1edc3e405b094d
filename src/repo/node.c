/*
 * node.c -- the position-carrying document tree (ldr_node) shared by the YAML and JSON
 * front ends, plus the diagnostics list.
 *
 * JSON from the registry is parsed with jansson and converted to nodes: strings become
 * quoted scalars, numbers and booleans plain scalars (as YAML would give them), null a
 * null scalar. Positions of JSON nodes are unknown (line 0); their "file" names the
 * registry object so a corrupt spec can still be located.
 */
#include "repo/repo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- diagnostics ------------------------------------------------------------------------ */

void ldr_diags_init(ldr_diags *d)
{
    d->items = NULL;
    d->n = d->cap = d->total = 0;
    d->max = 1000;
}

void ldr_diags_fini(ldr_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        ldr_free(d->items[i]);
    ldr_free(d->items);
    d->items = NULL;
    d->n = d->cap = d->total = 0;
}

void ldr_diags_addf(ldr_diags *d, const ldr_loc *loc, const char *fmt, ...)
{
    d->total++;
    if (d->n >= (d->max ? d->max : 1000))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[1400];
    if (loc && loc->file && loc->line)
        snprintf(line, sizeof line, "%s:%u:%u: %s", loc->file, loc->line, loc->col, msg);
    else if (loc && loc->file)
        snprintf(line, sizeof line, "%s: %s", loc->file, msg);
    else
        snprintf(line, sizeof line, "%s", msg);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = ldr_xreallocarray(d->items, d->cap, sizeof *d->items);
    }
    d->items[d->n++] = ldr_xstrdup(line);
}

/* A diagnostic split into its sort key: file, line, column, then arrival order (which
 * makes the qsort stable). Lines without a position sort before positioned ones of the
 * same file. */
typedef struct diag_ent {
    char *s;
    size_t flen;
    unsigned long line, col;
    size_t idx;
} diag_ent;

static void diag_split(diag_ent *e)
{
    const char *c1 = strchr(e->s, ':');
    e->flen = c1 ? (size_t)(c1 - e->s) : strlen(e->s);
    e->line = e->col = 0;
    if (c1) {
        char *end;
        e->line = strtoul(c1 + 1, &end, 10);
        if (end != c1 + 1 && *end == ':')
            e->col = strtoul(end + 1, NULL, 10);
    }
}

static int diag_cmp(const void *pa, const void *pb)
{
    const diag_ent *a = pa, *b = pb;
    size_t m = a->flen < b->flen ? a->flen : b->flen;
    int c = memcmp(a->s, b->s, m);
    if (c)
        return c;
    if (a->flen != b->flen)
        return a->flen < b->flen ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

void ldr_diags_sort(ldr_diags *d)
{
    if (d->n < 2)
        return;
    diag_ent *e = ldr_xcalloc(d->n, sizeof *e);
    for (size_t i = 0; i < d->n; i++) {
        e[i].s = d->items[i];
        e[i].idx = i;
        diag_split(&e[i]);
    }
    qsort(e, d->n, sizeof *e, diag_cmp);
    for (size_t i = 0; i < d->n; i++)
        d->items[i] = e[i].s;
    ldr_free(e);
}

/* ---- nodes ------------------------------------------------------------------------------ */

ldr_node *ldr__node_get(const ldr_node *map, const char *key)
{
    if (!map || map->kind != LDR_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const ldr_node *k = ldr__node_key(map, i);
        if (k->kind == LDR_NODE_SCALAR && strcmp(k->str, key) == 0)
            return ldr__node_val(map, i);
    }
    return NULL;
}

const char *ldr__node_describe(const ldr_node *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case LDR_NODE_MAP:
        return "a mapping";
    case LDR_NODE_SEQ:
        return "a list";
    case LDR_NODE_SCALAR:
        return n->is_null ? "null" : "a scalar";
    }
    return "?";
}

const char *ldr__intern_file(ldr_arena *a, const char *fname)
{
    return ldr_arena_strdup(a, fname);
}

static ldr_node *json_to_node(json_t *j, const ldr_loc *loc, ldr_arena *a, unsigned depth)
{
    if (depth > LDR_DEFS_MAX_DEPTH)
        return NULL;
    ldr_node *n = ldr_arena_calloc(a, 1, sizeof *n);
    n->loc = *loc;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        n->kind = LDR_NODE_MAP;
        n->n = json_object_size(j);
        n->items = ldr_arena_calloc(a, 2 * n->n, sizeof *n->items);
        size_t i = 0;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            ldr_node *kn = ldr_arena_calloc(a, 1, sizeof *kn);
            kn->kind = LDR_NODE_SCALAR;
            kn->quoted = true;
            kn->loc = *loc;
            kn->str = ldr_arena_strdup(a, k);
            kn->len = strlen(k);
            ldr_node *vn = json_to_node(v, loc, a, depth + 1);
            if (!vn)
                return NULL;
            n->items[2 * i] = kn;
            n->items[2 * i + 1] = vn;
            i++;
        }
        return n;
    }
    case JSON_ARRAY: {
        n->kind = LDR_NODE_SEQ;
        n->n = json_array_size(j);
        n->items = ldr_arena_calloc(a, n->n, sizeof *n->items);
        for (size_t i = 0; i < n->n; i++) {
            n->items[i] = json_to_node(json_array_get(j, i), loc, a, depth + 1);
            if (!n->items[i])
                return NULL;
        }
        return n;
    }
    case JSON_STRING:
        n->kind = LDR_NODE_SCALAR;
        n->quoted = true;
        n->len = json_string_length(j);
        n->str = ldr_arena_strndup(a, json_string_value(j), n->len);
        return n;
    case JSON_INTEGER:
        n->kind = LDR_NODE_SCALAR;
        n->str = ldr_arena_sprintf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        n->len = strlen(n->str);
        return n;
    case JSON_REAL: {
        char buf[32];
        ldr_fmt_double(json_real_value(j), buf);
        n->kind = LDR_NODE_SCALAR;
        n->str = ldr_arena_strdup(a, buf);
        n->len = strlen(n->str);
        return n;
    }
    case JSON_TRUE:
    case JSON_FALSE:
        n->kind = LDR_NODE_SCALAR;
        n->str = json_is_true(j) ? "true" : "false";
        n->len = strlen(n->str);
        return n;
    case JSON_NULL:
        n->kind = LDR_NODE_SCALAR;
        n->is_null = true;
        n->str = "";
        return n;
    }
    return NULL;
}

ldr_node *ldr__node_from_json(const char *json, const char *origin, ldr_arena *a, ldr_err *err)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        ldr_err_setf(err, LDR_ECORRUPT, "%s: invalid JSON at line %d column %d: %s", origin,
                     jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    ldr_loc loc = {.file = ldr__intern_file(a, origin), .line = 0, .col = 0};
    ldr_node *n = json_to_node(j, &loc, a, 0);
    json_decref(j);
    if (!n)
        ldr_err_setf(err, LDR_ECORRUPT, "%s: JSON nested too deeply", origin);
    return n;
}
