/*
 * memory.c -- the in-memory online store (type "memory"): the test fake of STYLE §4 and
 * a store for tests and demos that need no file.
 *
 * One hash table per view (open addressing, linear probing, FNV-1a of the serialized
 * entity key), holding each entity's row *encoded by the row codec* with its event and
 * created timestamps. Storing codec bytes rather than values makes this fake behave
 * exactly like the persistent stores on schema changes and type conversion. Views are
 * found by "project\x1fname" in an ldr_map; a dropped view keeps its (empty) entry, as
 * ldr_map has no delete. Rows are never deleted one by one, so the tables need no
 * tombstones. Writes encode the whole batch before changing anything, so a failed write
 * changes nothing. Data lives as long as the handle: each handle is its own store.
 * Not thread-safe (one thread per handle, like every store handle).
 */
#include "online/online.h"

#include <stdio.h>
#include <string.h>

#include "online/online_int.h"

#define MEM_BATCH_MAX (SIZE_MAX / 2) /* encoded bytes of one write batch: memory is the limit */

typedef struct mem_row {
    uint8_t *key; /* NULL = empty slot */
    size_t key_len;
    uint64_t hash;
    uint8_t *row;
    size_t row_len;
    ldr_ts event_ts;
    ldr_ts created_ts;
} mem_row;

typedef struct mem_view {
    char *id; /* "project\x1fname"; the by_id key */
    bool exists;
    mem_row *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
} mem_view;

typedef struct mem_store {
    ldr_map by_id; /* id -> mem_view *; keys borrowed from the views */
    mem_view **views;
    size_t n_views, cap_views;
} mem_store;

/* ---- Per-view hash table --------------------------------------------------------------- */

static mem_row *find_slot(const mem_view *mv, const void *key, size_t len, uint64_t h)
{
    size_t mask = mv->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        mem_row *s = &mv->slots[i];
        if (!s->key || (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

static void grow(mem_view *mv)
{
    mem_row *old = mv->slots;
    size_t old_cap = mv->cap;
    mv->cap = old_cap ? old_cap * 2 : 64;
    mv->slots = ldr_xcalloc(mv->cap, sizeof *mv->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key)
            *find_slot(mv, old[i].key, old[i].key_len, old[i].hash) = old[i];
    }
    ldr_free(old);
}

static void clear_view(mem_view *mv)
{
    for (size_t i = 0; i < mv->cap; i++) {
        ldr_free(mv->slots[i].key);
        ldr_free(mv->slots[i].row);
    }
    ldr_free(mv->slots);
    mv->slots = NULL;
    mv->cap = mv->n = 0;
}

/* Stores row bytes for a key under the newer-wins rule; true when it inserted/replaced. */
static bool put_row(mem_view *mv, const ldr_online_row *r, const uint8_t *row, size_t row_len)
{
    if ((mv->n + 1) * 10 > mv->cap * 7)
        grow(mv);
    uint64_t h = ldr_hash_bytes(r->key.ptr, r->key.len);
    mem_row *s = find_slot(mv, r->key.ptr, r->key.len, h);
    if (s->key && !ldr__online_newer(r->event_ts, r->created_ts, s->event_ts, s->created_ts))
        return false;
    if (!s->key) {
        s->key = ldr_xmalloc(r->key.len);
        memcpy(s->key, r->key.ptr, r->key.len);
        s->key_len = r->key.len;
        s->hash = h;
        mv->n++;
    }
    s->row = ldr_xrealloc(s->row, row_len);
    memcpy(s->row, row, row_len);
    s->row_len = row_len;
    s->event_ts = r->event_ts;
    s->created_ts = r->created_ts;
    return true;
}

/* ---- Views ----------------------------------------------------------------------------- */

static char *view_id(const ldr_online_view *v)
{
    size_t len = strlen(v->project) + 1 + strlen(v->name) + 1;
    char *id = ldr_xmalloc(len);
    snprintf(id, len, "%s\x1f%s", v->project, v->name);
    return id;
}

/* The view's entry, created (not existing) when create is set; NULL when absent. */
static mem_view *find_view(mem_store *m, const ldr_online_view *v, bool create)
{
    char *id = view_id(v);
    mem_view *mv = ldr_map_get(&m->by_id, id);
    if (mv || !create) {
        ldr_free(id);
        return mv;
    }
    mv = ldr_xcalloc(1, sizeof *mv);
    mv->id = id;
    if (m->n_views == m->cap_views) {
        m->cap_views = m->cap_views ? m->cap_views * 2 : 8;
        m->views = ldr_xreallocarray(m->views, m->cap_views, sizeof *m->views);
    }
    m->views[m->n_views++] = mv;
    ldr_map_put(&m->by_id, mv->id, mv);
    return mv;
}

static ldr_code existing_view(mem_store *m, const ldr_online_view *v, mem_view **out, ldr_err *err)
{
    *out = find_view(m, v, false);
    if (*out && (*out)->exists)
        return LDR_OK;
    return ldr_err_setf(err, LDR_ENOTFOUND,
                        "online store (memory): view %s.%s has no table (apply it first)",
                        v->project, v->name);
}

static void drop_views(mem_store *m, const ldr_online_view *views, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem_view *mv = find_view(m, &views[i], false);
        if (mv) {
            clear_view(mv);
            mv->exists = false;
        }
    }
}

/* ---- Operations ------------------------------------------------------------------------ */

static ldr_code mem_open(const ldr_config *cfg, void **self, ldr_err *err)
{
    (void)cfg;
    (void)err;
    mem_store *m = ldr_xcalloc(1, sizeof *m);
    ldr_map_init(&m->by_id);
    *self = m;
    return LDR_OK;
}

static void mem_close(void *self)
{
    mem_store *m = self;
    if (!m)
        return;
    for (size_t i = 0; i < m->n_views; i++) {
        clear_view(m->views[i]);
        ldr_free(m->views[i]->id);
        ldr_free(m->views[i]);
    }
    ldr_free(m->views);
    ldr_map_fini(&m->by_id);
    ldr_free(m);
}

static ldr_code mem_update(void *self, const ldr_online_view *keep_or_add, size_t n_add,
                           const ldr_online_view *drop, size_t n_drop, ldr_err *err)
{
    (void)err;
    mem_store *m = self;
    drop_views(m, drop, n_drop);
    for (size_t i = 0; i < n_add; i++)
        find_view(m, &keep_or_add[i], true)->exists = true;
    return LDR_OK;
}

/* Encodes every row into one buffer: offs[i]..offs[i+1] is row i. */
static ldr_code encode_batch(const ldr_online_view *v, const ldr_online_row *rows, size_t n,
                             ldr_buf *enc, size_t *offs, ldr_err *err)
{
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_row_layout layout;
    ldr_code rc = ldr_online_row_layout_init(&layout, v->features, v->n_features, &a, err);
    offs[0] = 0;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        rc = ldr_online_row_encode(&layout, rows[i].values, enc, err);
        offs[i + 1] = enc->len;
        if (rc != LDR_OK)
            ldr_err_prefix(err, "row %zu: ", i);
    }
    ldr_arena_fini(&a);
    if (rc != LDR_OK)
        ldr_err_prefix(err, "online write to %s.%s: ", v->project, v->name);
    return rc;
}

static ldr_code mem_write(void *self, const ldr_online_view *v, const ldr_online_row *rows,
                          size_t n, size_t *n_written, ldr_err *err)
{
    mem_view *mv;
    ldr_code rc = existing_view(self, v, &mv, err);
    if (rc != LDR_OK)
        return rc;
    ldr_buf enc;
    ldr_buf_init(&enc, MEM_BATCH_MAX);
    size_t *offs = ldr_xcalloc(n + 1, sizeof *offs);
    rc = encode_batch(v, rows, n, &enc, offs, err);
    size_t written = 0;
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        written += put_row(mv, &rows[i], (const uint8_t *)enc.ptr + offs[i], offs[i + 1] - offs[i]);
    *n_written = written;
    ldr_free(offs);
    ldr_buf_fini(&enc);
    return rc;
}

static ldr_code mem_read(void *self, const ldr_online_view *v, const char *const *features,
                         const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                         size_t n_keys, ldr_arena *a, ldr_online_hit *out, ldr_err *err)
{
    mem_view *mv;
    ldr_code rc = existing_view(self, v, &mv, err);
    if (rc != LDR_OK)
        return rc;
    ldr_online_row_proj proj;
    ldr_online_row_proj_init(&proj, features, types, n_features, a);
    for (size_t i = 0; i < n_keys && rc == LDR_OK; i++) {
        const mem_row *s = NULL;
        if (mv->cap && keys[i].len) { /* writes refuse empty keys: none is stored */
            uint64_t h = ldr_hash_bytes(keys[i].ptr, keys[i].len);
            s = find_slot(mv, keys[i].ptr, keys[i].len, h);
        }
        if (s && s->key)
            rc = ldr__online_hit_decode(&proj, v, s->row, s->row_len, s->event_ts, s->created_ts, a,
                                        &out[i], err);
        else
            ldr__online_hit_miss(&proj, a, &out[i]);
    }
    return rc;
}

static ldr_code mem_teardown(void *self, const ldr_online_view *views, size_t n, ldr_err *err)
{
    (void)err;
    drop_views(self, views, n);
    return LDR_OK;
}

const ldr_online_ops ldr_online_memory_ops = {
    .type = "memory",
    .open = mem_open,
    .close = mem_close,
    .update = mem_update,
    .write = mem_write,
    .read = mem_read,
    .teardown = mem_teardown,
    .has_tables = true,
    .integrity_check = NULL,
};
