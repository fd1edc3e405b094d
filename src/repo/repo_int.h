/*
 * repo_int.h -- structures shared only among the repo module's files (SQLite's btreeInt.h
 * idea). Nothing outside src/repo includes this.
 *
 * ldr_node is a small document tree with source positions: scalars (text + whether it was
 * quoted, and whether it is null), sequences and mappings (keys and values interleaved in
 * items[]). YAML (yaml.c) and JSON from the registry (model.c) both become nodes, so one
 * builder (loader.c) turns either into objects. Nodes live in the ldr_defs/ldr_config
 * arena; an alias in YAML shares the anchored node (a DAG, never an expansion).
 */
#ifndef LDR_REPO_REPO_INT_H
#define LDR_REPO_REPO_INT_H

#include "repo/repo.h"

typedef enum ldr_node_kind {
    LDR_NODE_SCALAR = 1,
    LDR_NODE_SEQ,
    LDR_NODE_MAP,
} ldr_node_kind;

typedef struct ldr_node {
    ldr_node_kind kind;
    bool quoted;  /* scalar written with quotes (or a JSON string): never null/bool/number */
    bool is_null; /* plain "null", "~", empty, or JSON null */
    ldr_loc loc;
    const char *str; /* scalar text, NUL-terminated (may contain NULs: see len) */
    size_t len;
    struct ldr_node **items; /* SEQ: n items; MAP: keys at 2i, values at 2i+1 */
    size_t n;                /* SEQ: item count; MAP: pair count */
} ldr_node;

/** Parses every document of a YAML buffer. Calls on_doc for each top-level node (NULL for
 * an empty document). Syntax errors, duplicate keys, and limit violations are reported to
 * diags; returns false if parsing had to stop. Nodes are allocated from a. */
typedef void (*ldr_yaml_doc_fn)(void *ctx, ldr_node *doc);
bool ldr__yaml_parse(const char *fname, const char *data, size_t len, ldr_arena *a,
                     size_t *node_budget, ldr_diags *diags, ldr_yaml_doc_fn on_doc, void *ctx);

/** Builds a node tree from JSON text (registry specs). NULL with err set on bad JSON. */
ldr_node *ldr__node_from_json(const char *json, const char *origin, ldr_arena *a, ldr_err *err);

/** Mapping lookup: the value node for key, or NULL. */
ldr_node *ldr__node_get(const ldr_node *map, const char *key);
/** The key node of pair i of a mapping. */
static inline ldr_node *ldr__node_key(const ldr_node *map, size_t i)
{
    return map->items[2 * i];
}
static inline ldr_node *ldr__node_val(const ldr_node *map, size_t i)
{
    return map->items[2 * i + 1];
}
/** "a mapping", "a list", "a string", "null" -- for messages. */
const char *ldr__node_describe(const ldr_node *n);

/** Interns a file name in the arena (stable pointer for ldr_loc.file). */
const char *ldr__intern_file(ldr_arena *a, const char *fname);

/** Reads a whole file into a heap buffer (caller owns; free with ldr_free), refusing files
 * over max bytes with LDR_ELIMIT. A missing file is LDR_ENOTFOUND. */
ldr_code ldr__read_file(const char *path, size_t max, char **out, size_t *out_len, ldr_err *err);

/** Builds the objects of one document (loader.c). */
void ldr__defs_build_doc(ldr_defs *defs, ldr_node *doc, ldr_diags *diags);

/** Private state hung off ldr_defs during loading: the document node of each object, so
 * validation can point at the exact key of a reference. Index-aligned with the arrays. */
typedef struct ldr_defs_prov {
    ldr_node **entities;
    ldr_node **sources;
    ldr_node **views;
    ldr_node **services;
} ldr_defs_prov;

#endif /* LDR_REPO_REPO_INT_H */
