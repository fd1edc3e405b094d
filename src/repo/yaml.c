/*
 * yaml.c -- YAML text to ldr_node trees, on libyaml's event parser.
 *
 * libyaml (Debian libyaml-dev) is used rather than libfyaml because it is the more
 * mature and more heavily fuzzed parser (OSS-Fuzz since 2016); what it lacks -- a tree
 * with positions -- is this file. Events are folded into nodes with an explicit stack
 * (no recursion), positions are kept 1-based, and the hostile-input rules are enforced
 * here: nesting depth <= LDR_DEFS_MAX_DEPTH, a global node budget, aliases share the
 * anchored node instead of copying it (so "billion laughs" costs nothing), duplicate
 * mapping keys and non-scalar keys are errors, and explicit tags other than the standard
 * scalar ones are refused.
 */
#include "repo/repo_int.h"

#include <string.h>

#include <yaml.h>

typedef struct frame {
    ldr_node *node;
    ldr_node **items; /* temporary growable array (heap), copied to the arena on close */
    size_t n, cap;
} frame;

typedef struct yctx {
    const char *file; /* interned */
    ldr_arena *a;
    size_t *budget;
    ldr_diags *diags;
    frame stack[LDR_DEFS_MAX_DEPTH + 1];
    size_t depth;
    ldr_map anchors; /* anchor name (arena) -> node, per document */
    ldr_node *root;
    bool failed;
} yctx;

static ldr_loc mark_loc(const yctx *y, yaml_mark_t m)
{
    ldr_loc l = {.file = y->file, .line = (uint32_t)m.line + 1, .col = (uint32_t)m.column + 1};
    return l;
}

static void frame_push_item(frame *f, ldr_node *n)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->items = ldr_xreallocarray(f->items, f->cap, sizeof *f->items);
    }
    f->items[f->n++] = n;
}

static bool is_plain_null(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* Checks a finished mapping for duplicate keys and non-scalar keys. */
static void check_map_keys(yctx *y, const ldr_node *m)
{
    for (size_t i = 0; i < m->n; i++) {
        const ldr_node *k = ldr__node_key(m, i);
        if (k->kind != LDR_NODE_SCALAR) {
            ldr_diags_addf(y->diags, &k->loc, "mapping keys must be plain strings, not %s",
                           ldr__node_describe(k));
            continue;
        }
        /* Definition mappings are small; a quadratic scan with an early length check is
         * fine, and big hostile ones are capped by the node budget. Use a map past 32. */
        if (m->n > 32)
            continue;
        for (size_t j = 0; j < i; j++) {
            const ldr_node *p = ldr__node_key(m, j);
            if (p->kind == LDR_NODE_SCALAR && p->len == k->len && !memcmp(p->str, k->str, k->len)) {
                ldr_diags_addf(y->diags, &k->loc, "duplicate key '%s' (first at line %u)", k->str,
                               p->loc.line);
                break;
            }
        }
    }
    if (m->n > 32) {
        ldr_map seen;
        ldr_map_init(&seen);
        for (size_t i = 0; i < m->n; i++) {
            ldr_node *k = ldr__node_key(m, i);
            if (k->kind != LDR_NODE_SCALAR)
                continue;
            ldr_node *p = ldr_map_get(&seen, k->str);
            if (p)
                ldr_diags_addf(y->diags, &k->loc, "duplicate key '%s' (first at line %u)", k->str,
                               p->loc.line);
            else
                ldr_map_put(&seen, k->str, k);
        }
        ldr_map_fini(&seen);
    }
}

static ldr_node *new_node(yctx *y, ldr_node_kind kind, yaml_mark_t m)
{
    if (*y->budget == 0) {
        if (!y->failed) {
            ldr_loc l = mark_loc(y, m);
            ldr_diags_addf(y->diags, &l, "too many YAML nodes (limit %u)", LDR_DEFS_MAX_NODES);
        }
        y->failed = true;
        return NULL;
    }
    (*y->budget)--;
    ldr_node *n = ldr_arena_calloc(y->a, 1, sizeof *n);
    n->kind = kind;
    n->loc = mark_loc(y, m);
    n->str = "";
    return n;
}

static void register_anchor(yctx *y, const yaml_char_t *anchor, ldr_node *n)
{
    if (anchor)
        ldr_map_put(&y->anchors, ldr_arena_strdup(y->a, (const char *)anchor), n);
}

/* Attaches a finished node to its parent, or makes it the document root. */
static void attach(yctx *y, ldr_node *n)
{
    if (y->depth == 0)
        y->root = n;
    else
        frame_push_item(&y->stack[y->depth - 1], n);
}

static bool tag_ok(yctx *y, const yaml_char_t *tag, yaml_mark_t m, bool *force_string)
{
    *force_string = false;
    if (!tag)
        return true;
    const char *t = (const char *)tag;
    if (!strcmp(t, YAML_STR_TAG)) {
        *force_string = true;
        return true;
    }
    if (!strcmp(t, YAML_MAP_TAG) || !strcmp(t, YAML_SEQ_TAG) || !strcmp(t, YAML_INT_TAG) ||
        !strcmp(t, YAML_FLOAT_TAG) || !strcmp(t, YAML_BOOL_TAG) || !strcmp(t, YAML_NULL_TAG) ||
        !strcmp(t, "!"))
        return true;
    ldr_loc l = mark_loc(y, m);
    ldr_diags_addf(y->diags, &l, "YAML tag '%s' is not supported", t);
    return false;
}

static void handle_event(yctx *y, yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        bool force_string;
        if (!tag_ok(y, ev->data.scalar.tag, ev->start_mark, &force_string))
            force_string = true;
        ldr_node *n = new_node(y, LDR_NODE_SCALAR, ev->start_mark);
        if (!n)
            return;
        n->len = ev->data.scalar.length;
        n->str = ldr_arena_strndup(y->a, (const char *)ev->data.scalar.value, n->len);
        n->quoted = force_string || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        n->is_null = !n->quoted && is_plain_null(n->str, n->len);
        if (memchr(n->str, '\0', n->len)) {
            ldr_diags_addf(y->diags, &n->loc, "strings must not contain NUL characters");
            n->len = strlen(n->str);
        }
        register_anchor(y, ev->data.scalar.anchor, n);
        attach(y, n);
        return;
    }
    case YAML_ALIAS_EVENT: {
        ldr_node *target = ldr_map_get(&y->anchors, (const char *)ev->data.alias.anchor);
        if (!target) {
            ldr_loc l = mark_loc(y, ev->start_mark);
            ldr_diags_addf(y->diags, &l, "unknown alias '*%s'",
                           (const char *)ev->data.alias.anchor);
            target = new_node(y, LDR_NODE_SCALAR, ev->start_mark);
            if (!target)
                return;
            target->is_null = true;
        }
        /* A shallow copy: the children stay shared (no expansion), but problems with the
         * aliased value itself are reported where the alias is used. */
        ldr_node *use = new_node(y, target->kind, ev->start_mark);
        if (!use)
            return;
        ldr_loc at = use->loc;
        *use = *target;
        use->loc = at;
        attach(y, use);
        return;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        bool force_string;
        const yaml_char_t *tag = seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
        (void)tag_ok(y, tag, ev->start_mark, &force_string);
        if (y->depth >= LDR_DEFS_MAX_DEPTH) {
            ldr_loc l = mark_loc(y, ev->start_mark);
            ldr_diags_addf(y->diags, &l, "nesting deeper than %u levels", LDR_DEFS_MAX_DEPTH);
            y->failed = true;
            return;
        }
        ldr_node *n = new_node(y, seq ? LDR_NODE_SEQ : LDR_NODE_MAP, ev->start_mark);
        if (!n)
            return;
        register_anchor(y, seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor, n);
        frame *f = &y->stack[y->depth++];
        f->node = n;
        f->items = NULL;
        f->n = f->cap = 0;
        return;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        LDR_ASSERT(y->depth > 0);
        frame *f = &y->stack[--y->depth];
        ldr_node *n = f->node;
        n->items = ldr_arena_calloc(y->a, f->n, sizeof *n->items);
        if (f->n)
            memcpy(n->items, f->items, f->n * sizeof *n->items);
        n->n = n->kind == LDR_NODE_MAP ? f->n / 2 : f->n;
        ldr_free(f->items);
        f->items = NULL;
        if (n->kind == LDR_NODE_MAP)
            check_map_keys(y, n);
        attach(y, n);
        return;
    }
    default:
        return;
    }
}

static void unwind(yctx *y)
{
    while (y->depth > 0)
        ldr_free(y->stack[--y->depth].items);
}

bool ldr__yaml_parse(const char *fname, const char *data, size_t len, ldr_arena *a,
                     size_t *node_budget, ldr_diags *diags, ldr_yaml_doc_fn on_doc, void *ctx)
{
    yctx y = {.file = ldr__intern_file(a, fname), .a = a, .budget = node_budget, .diags = diags};
    ldr_map_init(&y.anchors);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        ldr_diags_addf(diags, NULL, "%s: cannot initialise the YAML parser", fname);
        return false;
    }
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) {
        data += 3; /* byte order mark: libyaml would count it as a column */
        len -= 3;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    bool ok = true;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            ldr_loc l = mark_loc(&y, p.problem_mark);
            bool elsewhere = p.context_mark.line != p.problem_mark.line ||
                             p.context_mark.column != p.problem_mark.column;
            if (p.context && elsewhere)
                ldr_diags_addf(diags, &l,
                               "YAML syntax error: %s %s (started at line %zu, column %zu)",
                               p.problem ? p.problem : "", p.context, p.context_mark.line + 1,
                               p.context_mark.column + 1);
            else if (p.context)
                ldr_diags_addf(diags, &l, "YAML syntax error: %s %s", p.problem ? p.problem : "",
                               p.context);
            else
                ldr_diags_addf(diags, &l, "YAML syntax error: %s",
                               p.problem ? p.problem : "unknown problem");
            ok = false;
            break;
        }
        yaml_event_type_t type = ev.type;
        if (type == YAML_DOCUMENT_START_EVENT) {
            y.root = NULL;
            ldr_map_fini(&y.anchors);
            ldr_map_init(&y.anchors);
        } else if (type == YAML_DOCUMENT_END_EVENT) {
            on_doc(ctx, y.root);
        } else {
            handle_event(&y, &ev);
        }
        yaml_event_delete(&ev);
        if (y.failed) {
            ok = false;
            break;
        }
        if (type == YAML_STREAM_END_EVENT)
            break;
    }
    unwind(&y);
    ldr_map_fini(&y.anchors);
    yaml_parser_delete(&p);
    return ok;
}
