/*
 * map.c -- a string-keyed hash map with open addressing and linear probing.
 *
 * Slots hold (hash, key, value); the table doubles at 70% load. Keys are borrowed (they
 * typically live in an arena or in the object that owns the map). There is no delete:
 * maps here are built once (name indexes of a registry snapshot, symbol tables of a load)
 * and then only read, which is also what makes concurrent readers safe.
 */
#include "core/core.h"

#include <string.h>

struct ldr_map_slot {
    uint64_t hash;
    const char *key; /* NULL = empty */
    void *value;
};

/* Eight bytes at a time (FNV-1a's byte loop was a multiply per byte on the serving path's
 * keys): each word is multiplied in, the length seeds the state, and a final avalanche
 * (the splitmix64/murmur3 finalizer) spreads every input bit over the low bits that open
 * addressing masks with. In-memory use only: nothing stores these values. */
static inline uint64_t rotl64(uint64_t x, int r)
{
    return x << r | x >> (64 - r);
}

uint64_t ldr_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    const uint64_t k1 = UINT64_C(0x87C37B91114253D5), k2 = UINT64_C(0x4CF5AD432745937F);
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)len * k2);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= rotl64(w * k1, 31) * k2;
        h = rotl64(h, 27) * 5 + UINT64_C(0x52DCE729);
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= rotl64(w * k1, 31) * k2;
    }
    h ^= h >> 33;
    h *= UINT64_C(0xFF51AFD7ED558CCD);
    h ^= h >> 33;
    h *= UINT64_C(0xC4CEB9FE1A85EC53);
    h ^= h >> 33;
    return h;
}

void ldr_map_init(ldr_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void ldr_map_fini(ldr_map *m)
{
    ldr_free(m->slots);
    ldr_map_init(m);
}

static struct ldr_map_slot *find_slot(const ldr_map *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct ldr_map_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && strncmp(s->key, key, len) == 0 && s->key[len] == '\0')
            return s;
    }
}

static void grow(ldr_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct ldr_map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = ldr_xcalloc(ncap, sizeof *m->slots);
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].key) {
            struct ldr_map_slot *s = find_slot(m, old[i].key, strlen(old[i].key), old[i].hash);
            *s = old[i];
        }
    }
    ldr_free(old);
}

void *ldr_map_put(ldr_map *m, const char *key, void *value)
{
    if ((m->n + 1) * 10 > m->cap * 7)
        grow(m);
    size_t len = strlen(key);
    uint64_t h = ldr_hash_bytes(key, len);
    struct ldr_map_slot *s = find_slot(m, key, len, h);
    if (s->key) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    s->hash = h;
    s->key = key;
    s->value = value;
    m->n++;
    return NULL;
}

void *ldr_map_getn(const ldr_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    struct ldr_map_slot *s = find_slot(m, key, len, ldr_hash_bytes(key, len));
    return s->key ? s->value : NULL;
}

void *ldr_map_get(const ldr_map *m, const char *key)
{
    return ldr_map_getn(m, key, strlen(key));
}

bool ldr_map_has(const ldr_map *m, const char *key)
{
    if (!m->cap)
        return false;
    size_t len = strlen(key);
    return find_slot(m, key, len, ldr_hash_bytes(key, len))->key != NULL;
}
