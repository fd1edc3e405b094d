/*
 * pit.c -- the point-in-time join engine (join.h; docs/join.md has the derivation and
 * the measurements).
 *
 * Call a feature row *visible* at T when ts <= T (and created <= T under the filter).
 * The answer for an entity row at T is the greatest (ts, created, row) visible row of its
 * key, kept only if ts >= T - ttl: when the greatest visible row is too old, all are. So
 * each feature row need only be offered to the first entity row (in T order) that sees
 * it; a running maximum along T hands it on to the later ones:
 *  1. Entity side: key tuples are interned into dense group ids (gid) -- a direct array
 *     for dense integer keys, else a growing open-addressing hash table (String keys
 *     copied to a compact store) -- and the entity rows with a gid are laid out by gid,
 *     sorted by T within a group (eord/et, eoff; large groups get a bucket index). With
 *     threads, the scan, interning (dense keys: marks numbered in parallel; hashed keys:
 *     partitions by hash, private tables, merged region by region) and the layout (a
 *     two-level counting sort) run in parallel too.
 *  2. Feature pass, streaming the feature columns, in chunks whose lookups are pipelined
 *     with prefetches: each row that can qualify finds its gid, searches its group for
 *     the first entity row with T >= its visibility time (ts, or max(ts, created) under
 *     the filter), and offers itself to that slot of a `best` array. In parallel either
 *     over row ranges with a best array per part (row mode), or over group ranges
 *     sharing one array, each part reading every row but serving only its groups (owner
 *     mode).
 *  3. Sweep, in parallel over groups: along each group in T order, the running maximum
 *     of the parts' best slots is each entity row's candidate; the ttl check decides.
 * Time O(n_f + n_e) plus the searches (O(1) expected with the bucket index). Memory is
 * proportional to the entity side only: about 40 bytes per entity row plus 16 per entity
 * row and row-mode part, and the key table; the feature side is read, never copied.
 * Nothing depends on the thread count. Every buffer lives in the pit_ctx and is freed
 * before ldr_pit_join returns; no globals.
 */
#include "join/join.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define PIT_NONE        UINT32_MAX /* "no group" */
#define PIT_MAX_THREADS 64
#define PIT_AUTO_GRAIN  65536           /* rows per thread when the caller lets us choose */
#define PIT_CHUNK       32              /* feature rows whose lookups are pipelined together */
#define PIT_CHUNK_CAP   (2 * PIT_CHUNK) /* owner mode gathers up to 2 chunks' rows */
#define PIT_ISORT_MAX   48              /* groups up to this size use insertion sort */
#define PIT_INDEX_MIN   64              /* groups larger than this get a bucket index */
#define PIT_NB_BITS     26              /* bits of a bucket count in pit_group.nb_shift */
#define PIT_PART_SEED   0x6a09e667f3bcc909ULL
#define PIT_LAYOUT_BLKS 4096 /* gid blocks of the parallel layout, at most */
#define PIT_OWNER_MIN   4    /* owner mode wants at least this many groups per part */

#if defined(__GNUC__)
#define PIT_PREFETCH(p)   __builtin_prefetch(p)
#define PIT_PREFETCH_W(p) __builtin_prefetch(p, 1)
#else
#define PIT_PREFETCH(p)   ((void)0)
#define PIT_PREFETCH_W(p) ((void)0)
#endif

/* An entity row with a gid, in its group's T order. */
typedef struct pit_erow {
    int64_t t;
    uint32_t row;
    uint32_t unused;
} pit_erow;

/* What the feature pass needs of a group, in 16 bytes: its slots [off, off + n) of et,
 * and for a large group a bucket index: with tmin = et[off], bucket b covers T in
 * [tmin + (b << shift), tmin + ((b + 1) << shift)) and its slots start at
 * off + bidx[boff + b] (nb buckets, nb + 1 entries), so a search touches a handful of
 * slots instead of log2(n) cache lines. */
typedef struct pit_group {
    uint32_t off, n;
    uint32_t boff;
    uint32_t nb_shift; /* nb | shift << PIT_NB_BITS; nb == 0: no index */
} pit_group;

/* The greatest feature row offered to a slot: row1 = row + 1, 0 = none yet. */
typedef struct pit_best {
    int64_t ts;
    uint32_t row1;
    uint32_t unused;
} pit_best;

/* What a part of entity_scan found: rows that can match, their T and key ranges. */
typedef struct pit_scan {
    size_t n;
    int64_t tmin, tmax, kmin, kmax;
} pit_scan;

/* Hash table slot: key is the integer value (int_key) or the tuple hash. */
typedef struct pit_slot {
    uint64_t key;
    uint32_t gid;  /* PIT_NONE = empty */
    uint32_t kpos; /* single String/Bytes key: its copy in pit_ctx.kstore, or PIT_NONE */
} pit_slot;

typedef struct pit_ctx {
    const ldr_pit_input *in;
    bool use_filter; /* filter_by_created and a created column */
    bool int_key;    /* one integer-like key column: slots hold the value itself */
    unsigned threads;
    const ldr_col *cr; /* the created column, or NULL */
    /* key table */
    pit_slot *slots;
    size_t mask;
    unsigned shift;   /* slot = hash >> shift */
    uint32_t *direct; /* dense integer keys: gid = direct[v - dmin], or NULL */
    uint64_t drange;  /* dmax - dmin */
    int64_t dmin;
    uint32_t *rep;   /* per gid: an entity row holding that key (tuple equality) */
    bool use_kstore; /* single String/Bytes key: keys are copied to kstore */
    ldr_buf kstore;  /* per distinct key: a uint32_t length, then the bytes */
    size_t n_groups;
    uint32_t *dict_gid;   /* single dictionary feature key: gid per dictionary entry */
    int64_t lo_ts, hi_ts; /* a feature ts outside [lo_ts, hi_ts] can never qualify */
    /* entity layout */
    uint32_t *egid;    /* per entity row: gid or PIT_NONE (while building) */
    size_t n_eligible; /* entity rows with a gid */
    uint32_t *eoff;    /* n_groups + 1 offsets into eord */
    pit_erow *eord;    /* entity rows with a gid, by gid, then by (T, row) */
    int64_t *et;       /* eord[k].t, packed: what the feature pass searches */
    pit_group *grp;    /* n_groups */
    uint32_t *bidx;    /* the bucket indexes of large groups */
    /* parallel entity build */
    pit_scan scan[PIT_MAX_THREADS];   /* per part: what entity_scan found in its rows */
    size_t pbase[PIT_MAX_THREADS];    /* per part: first gid (direct keys), or a count */
    unsigned bshift;                  /* layout: gid block = gid >> bshift */
    size_t nblk;                      /* number of gid blocks */
    uint32_t *bcur;                   /* nparts x nblk: each part's cursor into tmp per block */
    uint32_t *bstart;                 /* nblk + 1: where each block starts in tmp */
    pit_erow *tmp;                    /* entity rows by block, gid in `unused` */
    unsigned pbits;                   /* hashed keys: 2^pbits partitions by the top hash bits */
    uint64_t *eh;                     /* per entity row: its key hash */
    uint32_t *pcur;                   /* nparts x partitions: cursors into prow */
    uint32_t *pstart;                 /* partitions + 1: where each starts in prow */
    uint32_t *prow;                   /* entity rows that can match, by partition */
    struct pit_ptab *ptab;            /* per partition: its private key table */
    pit_slot *defer[PIT_MAX_THREADS]; /* per part: keys whose probe left its region */
    size_t n_defer[PIT_MAX_THREADS];
    /* feature pass */
    unsigned nparts;
    bool owner;     /* parts own group ranges and share one best array, else row ranges */
    pit_best *best; /* nparts x n_eligible slots, parallel to eord */
    int64_t *out;
} pit_ctx;

/* ---- hashing and key access ----------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* A fast non-cryptographic hash of a byte string, 8 bytes per step. */
static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)len * 0xff51afd7ed558ccdULL);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ (w * 0xbf58476d1ce4e5b9ULL)) * 0x94d049bb133111ebULL;
        h ^= h >> 29;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ (w * 0xbf58476d1ce4e5b9ULL)) * 0x94d049bb133111ebULL;
    }
    return mix64(h);
}

static inline bool is_int_kind(ldr_type t)
{
    return t == LDR_TYPE_INT32 || t == LDR_TYPE_INT64 || t == LDR_TYPE_UNIX_TIMESTAMP ||
           t == LDR_TYPE_BOOL;
}

static inline bool is_str_kind(ldr_type t)
{
    return t == LDR_TYPE_STRING || t == LDR_TYPE_BYTES;
}

/* Row i of an integer-like column as int64 (dictionaries resolved; row must be valid). */
static inline int64_t key_int(const ldr_col *c, size_t i)
{
    switch (c->type) {
    case LDR_TYPE_INT32:
        return ldr_col_i32(c, i);
    case LDR_TYPE_BOOL:
        return ldr_col_bool(c, i);
    default:
        return ldr_col_i64(c, i);
    }
}

/* Value hash of a valid row; equal values (ldr_col_eq) hash equal, whatever the encoding. */
static inline uint64_t col_hash(const ldr_col *c, size_t i)
{
    if (is_int_kind(c->type))
        return (uint64_t)key_int(c, i);
    if (is_str_kind(c->type)) {
        size_t len;
        const char *p = ldr_col_str(c, i, &len);
        return hash_bytes(p, len);
    }
    return ldr_col_hash(c, i);
}

static uint64_t tuple_hash(const ldr_col *const *cols, size_t n, size_t i)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (size_t k = 0; k < n; k++)
        h = mix64(h ^ col_hash(cols[k], i));
    return h;
}

static inline bool tuple_valid(const ldr_col *const *cols, size_t n, size_t i)
{
    for (size_t k = 0; k < n; k++)
        if (!ldr_col_valid(cols[k], i))
            return false;
    return true;
}

/* Equality of two valid key tuples (same types column by column). */
static bool tuple_eq(const ldr_col *const *a, size_t i, const ldr_col *const *b, size_t j, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const ldr_col *ca = a[k], *cb = b[k];
        if (is_int_kind(ca->type)) {
            if (key_int(ca, i) != key_int(cb, j))
                return false;
        } else if (is_str_kind(ca->type)) {
            size_t la, lb;
            const char *pa = ldr_col_str(ca, i, &la), *pb = ldr_col_str(cb, j, &lb);
            if (la != lb || (la && memcmp(pa, pb, la) != 0))
                return false;
        } else if (!ldr_col_eq(ca, i, cb, j)) {
            return false;
        }
    }
    return true;
}

/* T - ttl, saturating at INT64_MIN; no lower bound when ttl == 0. */
static inline int64_t lower_of(int64_t t, ldr_duration ttl)
{
    if (ttl == 0 || t < INT64_MIN + ttl)
        return INT64_MIN;
    return t - ttl;
}

/* ---- threads -------------------------------------------------------------------------- */

typedef void (*pit_part_fn)(pit_ctx *x, unsigned part, unsigned nparts);

typedef struct pit_job {
    pit_ctx *x;
    pit_part_fn fn;
    unsigned part, nparts;
} pit_job;

static void *job_main(void *arg)
{
    const pit_job *j = arg;
    j->fn(j->x, j->part, j->nparts);
    return NULL;
}

/* Runs fn for parts 0..nparts-1, part 0 on the calling thread. A thread that cannot be
 * created is no error: its part runs on the caller afterwards. */
static void run_parts(pit_ctx *x, unsigned nparts, pit_part_fn fn)
{
    pthread_t tid[PIT_MAX_THREADS];
    pit_job job[PIT_MAX_THREADS];
    bool started[PIT_MAX_THREADS];
    LDR_ASSERT(nparts >= 1 && nparts <= PIT_MAX_THREADS);
    for (unsigned p = 1; p < nparts; p++) {
        job[p] = (pit_job){x, fn, p, nparts};
        started[p] = pthread_create(&tid[p], NULL, job_main, &job[p]) == 0;
    }
    fn(x, 0, nparts);
    for (unsigned p = 1; p < nparts; p++) {
        if (started[p])
            pthread_join(tid[p], NULL);
        else
            fn(x, p, nparts);
    }
}

/* Parts for n items: at most the thread count, at least 1. */
static unsigned parts_for(const pit_ctx *x, size_t n)
{
    return n < x->threads ? (n ? (unsigned)n : 1u) : x->threads;
}

/* n <= LDR_PIT_MAX_ROWS < 2^32 and part <= 64, so n * part cannot overflow. */
static inline size_t part_begin(size_t n, unsigned part, unsigned nparts)
{
    return n * part / nparts;
}

static unsigned thread_count(int threads, size_t work)
{
    size_t t = 1;
    if (threads > 0) {
        t = (size_t)threads;
    } else {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        t = cpus > 0 ? (size_t)cpus : 1;
        if (t > 1 + work / PIT_AUTO_GRAIN)
            t = 1 + work / PIT_AUTO_GRAIN;
    }
    return (unsigned)(t < PIT_MAX_THREADS ? t : PIT_MAX_THREADS);
}

/* ---- phase 1: the key table over entity rows ------------------------------------------ */

/* Marks entity rows that can match (egid 0) or not (PIT_NONE, answer -1) in this part's
 * row range, and notes their T range and, for integer keys, key range. */
static void scan_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    const ldr_pit_input *in = x->in;
    size_t b = part_begin(in->n_entity_rows, part, nparts);
    size_t e = part_begin(in->n_entity_rows, part + 1, nparts);
    pit_scan s = {0, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = b; i < e; i++) {
        if (!ldr_col_valid(in->entity_ts, i) || !tuple_valid(in->entity_keys, in->n_keys, i)) {
            x->egid[i] = PIT_NONE;
            x->out[i] = -1;
            continue;
        }
        x->egid[i] = 0;
        s.n++;
        int64_t t = ldr_col_i64(in->entity_ts, i);
        s.tmin = t < s.tmin ? t : s.tmin;
        s.tmax = t > s.tmax ? t : s.tmax;
        if (x->int_key) {
            int64_t v = key_int(in->entity_keys[0], i);
            s.kmin = v < s.kmin ? v : s.kmin;
            s.kmax = v > s.kmax ? v : s.kmax;
        }
    }
    x->scan[part] = s;
}

/* Runs scan_part over the entity rows; sets the feature ts window and, for integer keys,
 * the key range. Returns the number of rows that can match. */
static size_t entity_scan(pit_ctx *x, int64_t *out_kmin, int64_t *out_kmax)
{
    unsigned np = parts_for(x, x->in->n_entity_rows);
    run_parts(x, np, scan_part);
    pit_scan s = x->scan[0];
    for (unsigned p = 1; p < np; p++) {
        const pit_scan *q = &x->scan[p];
        s.n += q->n;
        s.tmin = q->tmin < s.tmin ? q->tmin : s.tmin;
        s.tmax = q->tmax > s.tmax ? q->tmax : s.tmax;
        s.kmin = q->kmin < s.kmin ? q->kmin : s.kmin;
        s.kmax = q->kmax > s.kmax ? q->kmax : s.kmax;
    }
    x->lo_ts = lower_of(s.tmin, x->in->ttl);
    x->hi_ts = s.tmax;
    *out_kmin = s.kmin;
    *out_kmax = s.kmax;
    return s.n;
}

/* An empty table with at least 2 * n_keys slots (load factor <= 1/2). It grows as keys
 * arrive (table_intern), so it stays sized for the distinct keys: the feature pass probes
 * it at random, and a table that fits in cache is what makes that fast. */
static void table_alloc(pit_ctx *x, size_t n_keys)
{
    size_t cap = 16;
    unsigned bits = 4;
    while (cap < 2 * n_keys) {
        cap <<= 1;
        bits++;
    }
    x->slots = ldr_xmalloc(cap * sizeof(pit_slot));
    for (size_t s = 0; s < cap; s++)
        x->slots[s].gid = PIT_NONE;
    x->mask = cap - 1;
    x->shift = 64 - bits;
}

/* Whether row i of String/Bytes column c equals the key stored at kpos of ks. */
static inline bool kstore_eq(const ldr_buf *ks, uint32_t kpos, const ldr_col *c, size_t i)
{
    size_t len;
    const char *p = ldr_col_str(c, i, &len);
    const char *k = ks->ptr + kpos;
    uint32_t klen;
    memcpy(&klen, k, sizeof klen);
    return klen == len && (len == 0 || memcmp(k + sizeof klen, p, len) == 0);
}

/* Whether row i of cols has the key of an occupied slot (whose hash matched). */
static inline bool key_matches(const pit_ctx *x, const ldr_col *const *cols, size_t i,
                               const pit_slot *slot)
{
    if (x->int_key)
        return true; /* the slot key is the value itself */
    if (slot->kpos != PIT_NONE)
        return kstore_eq(&x->kstore, slot->kpos, cols[0], i);
    return tuple_eq(cols, i, x->in->entity_keys, x->rep[slot->gid], x->in->n_keys);
}

/* The slot key and hash of row i of cols (the entity or feature key columns). */
static inline void key_of(const pit_ctx *x, const ldr_col *const *cols, size_t i, uint64_t *out_key,
                          uint64_t *out_h)
{
    if (x->int_key) {
        *out_key = (uint64_t)key_int(cols[0], i);
        *out_h = mix64(*out_key);
    } else {
        *out_key = *out_h = tuple_hash(cols, x->in->n_keys, i);
    }
}

static inline const void *slot_addr(const pit_ctx *x, uint64_t key, uint64_t h)
{
    if (x->direct)
        return &x->direct[(key - (uint64_t)x->dmin) <= x->drange ? key - (uint64_t)x->dmin : 0];
    return &x->slots[h >> x->shift];
}

/* The gid of a key (row i of cols, with key_of's key and h), or PIT_NONE. */
static inline uint32_t table_lookup(const pit_ctx *x, const ldr_col *const *cols, size_t i,
                                    uint64_t key, uint64_t h)
{
    if (x->direct) {
        uint64_t d = key - (uint64_t)x->dmin;
        return d <= x->drange ? x->direct[d] : PIT_NONE;
    }
    for (size_t s = (size_t)(h >> x->shift);; s = (s + 1) & x->mask) {
        const pit_slot *slot = &x->slots[s];
        if (slot->gid == PIT_NONE)
            return PIT_NONE;
        if (slot->key == key && key_matches(x, cols, i, slot))
            return slot->gid;
    }
}

/* Doubles the table and moves every key over. */
static void table_grow(pit_ctx *x)
{
    pit_slot *old = x->slots;
    size_t old_cap = x->mask + 1;
    table_alloc(x, old_cap);
    for (size_t o = 0; o < old_cap; o++) {
        if (old[o].gid == PIT_NONE)
            continue;
        uint64_t h = x->int_key ? mix64(old[o].key) : old[o].key;
        size_t s = (size_t)(h >> x->shift);
        while (x->slots[s].gid != PIT_NONE)
            s = (s + 1) & x->mask;
        x->slots[s] = old[o];
    }
    ldr_free(old);
}

/* A single String/Bytes key: copies entity row i's key to the compact key store and
 * returns its position (PIT_NONE once the store would pass 4 GiB: those keys are then
 * verified against the entity column). Verifying a hash match then reads bytes next to
 * each other instead of the entity column at random. */
static uint32_t key_store_add(const pit_ctx *x, ldr_buf *ks, size_t i)
{
    size_t len;
    const char *p = ldr_col_str(x->in->entity_keys[0], i, &len);
    size_t pos = ks->len;
    uint32_t len32 = (uint32_t)len;
    ldr_err err;
    if (len > UINT32_MAX || ldr_buf_append(ks, &len32, sizeof len32, &err) != LDR_OK)
        return PIT_NONE;
    if (ldr_buf_append(ks, p, len, &err) != LDR_OK) {
        ks->len = pos;
        return PIT_NONE;
    }
    return (uint32_t)pos;
}

/* The gid of entity row i's key (key_of's key and h); a new key gets the next gid. */
static uint32_t table_intern(pit_ctx *x, size_t i, uint64_t key, uint64_t h)
{
    if (x->in->n_keys == 0)
        return 0;
    if (x->direct) {
        uint32_t *d = &x->direct[key - (uint64_t)x->dmin]; /* in range: dmin/drange span it */
        if (*d == PIT_NONE)
            *d = (uint32_t)x->n_groups++;
        return *d;
    }
    uint32_t g = table_lookup(x, x->in->entity_keys, i, key, h);
    if (g != PIT_NONE)
        return g;
    if (2 * (x->n_groups + 1) > x->mask + 1)
        table_grow(x);
    size_t s = (size_t)(h >> x->shift);
    while (x->slots[s].gid != PIT_NONE)
        s = (s + 1) & x->mask;
    x->slots[s].key = key;
    x->slots[s].gid = g = (uint32_t)x->n_groups++;
    x->slots[s].kpos = x->use_kstore ? key_store_add(x, &x->kstore, i) : PIT_NONE;
    if (x->rep)
        x->rep[g] = (uint32_t)i;
    return g;
}

/* ---- entity layout: rows by gid, then by T -------------------------------------------- */

static inline bool erow_lt(const pit_erow *a, const pit_erow *b)
{
    return a->t < b->t || (a->t == b->t && a->row < b->row);
}

static void erow_isort(pit_erow *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        pit_erow v = e[i];
        size_t j = i;
        for (; j > 0 && erow_lt(&v, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = v;
    }
}

static inline unsigned t_digit(int64_t t, unsigned shift)
{
    return (unsigned)((((uint64_t)t ^ ((uint64_t)1 << 63)) >> shift) & 0xff);
}

/* Stable LSD radix sort of e[0, n) by t, one byte per pass, skipping the passes where all
 * keys share the byte (most of them, for timestamps). tmp has room for n entries. The
 * input is in row order, so stability gives (t, row) order: no worst case, no fallback. */
static void erow_radix(pit_erow *e, pit_erow *tmp, size_t n)
{
    size_t count[256];
    pit_erow *src = e, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[t_digit(src[i].t, shift)]++;
        if (count[t_digit(src[0].t, shift)] == n)
            continue;
        for (size_t d = 0, sum = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[t_digit(src[i].t, shift)]++] = src[i];
        pit_erow *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
}

/* Sorts a group by (t, row); *tmp is a scratch buffer of *tmp_cap entries, grown here. */
static void erow_sort(pit_erow *e, size_t n, pit_erow **tmp, size_t *tmp_cap)
{
    size_t i = 1;
    while (i < n && !erow_lt(&e[i], &e[i - 1]))
        i++;
    if (i >= n)
        return; /* already in T order, as entity files often are */
    if (n <= PIT_ISORT_MAX) {
        erow_isort(e, n);
        return;
    }
    if (*tmp_cap < n) {
        ldr_free(*tmp);
        *tmp = ldr_xmalloc(n * sizeof(pit_erow));
        *tmp_cap = n;
    }
    erow_radix(e, *tmp, n);
}

/* The first k in [0, n] with off[k] >= target (off: n + 1 ascending offsets). */
static size_t offsets_at(const uint32_t *off, size_t n, size_t target)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (off[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Part `part` of n items with offsets off (n + 1 entries, off[n] = total), in contiguous
 * ranges of about total / nparts rows. */
static void offsets_range(const uint32_t *off, size_t n, unsigned part, unsigned nparts,
                          size_t *out_b, size_t *out_e)
{
    size_t total = off[n];
    *out_b = part == 0 ? 0 : offsets_at(off, n, part_begin(total, part, nparts));
    *out_e = part + 1 == nparts ? n : offsets_at(off, n, part_begin(total, part + 1, nparts));
}

/* Part `part` of the groups, in contiguous ranges of about n_eligible / nparts rows. */
static void group_range(const pit_ctx *x, unsigned part, unsigned nparts, size_t *out_b,
                        size_t *out_e)
{
    offsets_range(x->eoff, x->n_groups, part, nparts, out_b, out_e);
}

static inline uint32_t group_nb(const pit_group *gr)
{
    return gr->nb_shift & ((1u << PIT_NB_BITS) - 1);
}

static inline unsigned group_shift(const pit_group *gr)
{
    return gr->nb_shift >> PIT_NB_BITS;
}

/* Builds the bucket index of a large group (et sorted): about n / 4 buckets of a power
 * of two width, each holding the first slot whose T reaches the bucket. */
static void group_index(pit_ctx *x, pit_group *gr)
{
    gr->nb_shift = 0;
    if (gr->n <= PIT_INDEX_MIN)
        return;
    const int64_t *et = x->et + gr->off;
    uint64_t span = (uint64_t)et[gr->n - 1] - (uint64_t)et[0];
    uint32_t target = gr->n / 4 < (1u << PIT_NB_BITS) - 2 ? gr->n / 4 : (1u << PIT_NB_BITS) - 2;
    unsigned shift = 0;
    while ((span >> shift) >= target)
        shift++;
    uint32_t nb = (uint32_t)(span >> shift) + 1; /* <= target */
    uint32_t *b = x->bidx + gr->boff;
    uint32_t k = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint64_t start = (uint64_t)i << shift;
        while (k < gr->n && (uint64_t)et[k] - (uint64_t)et[0] < start)
            k++;
        b[i] = k;
    }
    b[nb] = gr->n;
    gr->nb_shift = nb | (uint32_t)shift << PIT_NB_BITS;
}

static void sort_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t gb, ge;
    group_range(x, part, nparts, &gb, &ge);
    pit_erow *tmp = NULL;
    size_t tmp_cap = 0;
    for (size_t g = gb; g < ge; g++) {
        erow_sort(x->eord + x->eoff[g], x->eoff[g + 1] - x->eoff[g], &tmp, &tmp_cap);
        for (size_t k = x->eoff[g]; k < x->eoff[g + 1]; k++)
            x->et[k] = x->eord[k].t;
        group_index(x, &x->grp[g]);
    }
    ldr_free(tmp);
}

/* Serial layout: counting sort of the entity rows with a gid by gid (eoff holds counts
 * at g + 1), in row order within a group. */
static void layout_serial(pit_ctx *x)
{
    const ldr_pit_input *in = x->in;
    for (size_t g = 0; g < x->n_groups; g++)
        x->eoff[g + 1] += x->eoff[g];
    x->eord = ldr_xmalloc(x->n_eligible * sizeof(pit_erow));
    for (size_t i = 0; i < in->n_entity_rows; i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        pit_erow *d = &x->eord[x->eoff[x->egid[i]]++];
        d->t = ldr_col_i64(in->entity_ts, i);
        d->row = (uint32_t)i;
        d->unused = 0;
    }
    for (size_t g = x->n_groups; g > 0; g--) /* the cursors moved one group on; undo */
        x->eoff[g] = x->eoff[g - 1];
    x->eoff[0] = 0;
}

/* The gid blocks of the parallel layout on np parts: one block per group as long as the
 * np x blocks counters stay within one per entity row (or PIT_LAYOUT_BLKS per part),
 * else blocks of 2^bshift consecutive groups. Allocates the counters. */
static void layout_blocks(pit_ctx *x, unsigned np)
{
    size_t lim = x->n_eligible / np > PIT_LAYOUT_BLKS ? x->n_eligible / np : PIT_LAYOUT_BLKS;
    x->bshift = 0;
    while (((x->n_groups - 1) >> x->bshift) + 1 > lim)
        x->bshift++;
    x->nblk = ((x->n_groups - 1) >> x->bshift) + 1;
    x->bcur = ldr_xcalloc((size_t)np * x->nblk, sizeof(uint32_t));
}

/* Parallel layout, step 1: each part counts its rows per gid block (for dense integer
 * keys, direct_gid_part does it while it assigns the gids). */
static void layout_count_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = x->in->n_entity_rows;
    uint32_t *cnt = x->bcur + (size_t)part * x->nblk;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++)
        if (x->egid[i] != PIT_NONE)
            cnt[x->egid[i] >> x->bshift]++;
}

/* Step 2: each part moves its rows to their block: straight into eord when a block is a
 * group, else into tmp (gid in `unused`). Within a block, parts follow each other in
 * order, so rows stay in row order. */
static void layout_scatter_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    const ldr_pit_input *in = x->in;
    size_t n = in->n_entity_rows;
    uint32_t *cur = x->bcur + (size_t)part * x->nblk;
    pit_erow *dst = x->bshift ? x->tmp : x->eord;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++) {
        uint32_t g = x->egid[i];
        if (g == PIT_NONE)
            continue;
        pit_erow *d = &dst[cur[g >> x->bshift]++];
        d->t = ldr_col_i64(in->entity_ts, i);
        d->row = (uint32_t)i;
        d->unused = x->bshift ? g : 0;
    }
}

/* Step 3 (blocks of several groups), over block ranges of about n_eligible / nparts
 * rows: a counting sort of each block by gid (stable) from tmp into eord, which also
 * gives the groups' offsets. */
static void layout_block_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t kb, ke;
    offsets_range(x->bstart, x->nblk, part, nparts, &kb, &ke);
    size_t width = (size_t)1 << x->bshift;
    uint32_t *cur = ldr_xmalloc(width * sizeof(uint32_t));
    for (size_t k = kb; k < ke; k++) {
        size_t g0 = k << x->bshift, ng = x->n_groups - g0 < width ? x->n_groups - g0 : width;
        memset(cur, 0, ng * sizeof(uint32_t));
        for (size_t j = x->bstart[k]; j < x->bstart[k + 1]; j++)
            cur[x->tmp[j].unused - g0]++;
        uint32_t pos = x->bstart[k];
        for (size_t g = 0; g < ng; g++) {
            uint32_t c = cur[g];
            x->eoff[g0 + g] = cur[g] = pos;
            pos += c;
        }
        for (size_t j = x->bstart[k]; j < x->bstart[k + 1]; j++) {
            pit_erow *d = &x->eord[cur[x->tmp[j].unused - g0]++];
            *d = x->tmp[j];
            d->unused = 0;
        }
    }
    ldr_free(cur);
}

/* Parallel layout, once layout_blocks and the counts are done: the same eord and eoff as
 * layout_serial. A counting sort by block in parallel over row ranges, then, when blocks
 * hold several groups, each block by gid in parallel over blocks. Memory: the counters
 * (at most about 4 bytes per entity row) and, with blocks of several groups, a second
 * copy of the entity rows (tmp, 16 bytes a row, freed at the end): linear in the entity
 * rows whatever the thread count. */
static void layout_parallel(pit_ctx *x, unsigned np)
{
    x->bstart = ldr_xmalloc((x->nblk + 1) * sizeof(uint32_t));
    uint32_t pos = 0;
    for (size_t k = 0; k < x->nblk; k++) {
        x->bstart[k] = pos;
        for (unsigned p = 0; p < np; p++) {
            uint32_t c = x->bcur[(size_t)p * x->nblk + k];
            x->bcur[(size_t)p * x->nblk + k] = pos;
            pos += c;
        }
    }
    x->bstart[x->nblk] = pos;
    LDR_ASSERT(pos == x->n_eligible);
    x->eord = ldr_xmalloc(x->n_eligible * sizeof(pit_erow));
    if (x->bshift)
        x->tmp = ldr_xmalloc(x->n_eligible * sizeof(pit_erow));
    run_parts(x, np, layout_scatter_part);
    ldr_free(x->egid);
    x->egid = NULL;
    if (x->bshift)
        run_parts(x, parts_for(x, x->n_eligible), layout_block_part);
    else
        memcpy(x->eoff, x->bstart, x->n_groups * sizeof(uint32_t));
    x->eoff[x->n_groups] = (uint32_t)x->n_eligible;
    ldr_free(x->tmp);
    x->tmp = NULL;
    ldr_free(x->bcur);
    x->bcur = NULL;
    ldr_free(x->bstart);
    x->bstart = NULL;
}

/* The groups after the layout: each sorted by T (in parallel), packed T values, and the
 * bucket indexes of large groups. */
static void entity_groups(pit_ctx *x)
{
    ldr_free(x->egid);
    x->egid = NULL;
    x->et = ldr_xmalloc(x->n_eligible * sizeof(int64_t));
    x->grp = ldr_xmalloc(x->n_groups * sizeof(pit_group));
    size_t nbidx = 0;
    for (size_t g = 0; g < x->n_groups; g++) {
        pit_group *gr = &x->grp[g];
        gr->off = x->eoff[g];
        gr->n = x->eoff[g + 1] - x->eoff[g];
        gr->boff = (uint32_t)nbidx; /* room for n / 4 buckets: 1 byte per entity row */
        nbidx += gr->n > PIT_INDEX_MIN ? gr->n / 4 + 1 : 0;
    }
    x->bidx = ldr_xmalloc((nbidx ? nbidx : 1) * sizeof(uint32_t));
    run_parts(x, parts_for(x, x->n_groups), sort_part);
}

/* Direct keys in parallel, step 1: marks (0) the direct entry of every key present. The
 * parts may store the same value to the same entry, hence relaxed atomics. */
static void direct_mark_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    const ldr_col *kc = x->in->entity_keys[0];
    size_t n = x->in->n_entity_rows;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        uint32_t *d = &x->direct[(uint64_t)key_int(kc, i) - (uint64_t)x->dmin];
        if (__atomic_load_n(d, __ATOMIC_RELAXED) != 0)
            __atomic_store_n(d, 0, __ATOMIC_RELAXED);
    }
}

/* Step 2 (over ranges of the direct array): counts the marked entries. */
static void direct_count_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = (size_t)x->drange + 1, c = 0;
    for (size_t d = part_begin(n, part, nparts); d < part_begin(n, part + 1, nparts); d++)
        c += x->direct[d] == 0;
    x->pbase[part] = c;
}

/* Step 3: numbers the marked entries in key order, from the part's first gid. */
static void direct_number_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = (size_t)x->drange + 1;
    uint32_t g = (uint32_t)x->pbase[part];
    for (size_t d = part_begin(n, part, nparts); d < part_begin(n, part + 1, nparts); d++)
        if (x->direct[d] == 0)
            x->direct[d] = g++;
}

/* Step 4: each entity row's gid, counted per layout block (layout_count_part's job). */
static void direct_gid_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    const ldr_col *kc = x->in->entity_keys[0];
    size_t n = x->in->n_entity_rows;
    uint32_t *cnt = x->bcur + (size_t)part * x->nblk;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        uint32_t g = x->direct[(uint64_t)key_int(kc, i) - (uint64_t)x->dmin];
        x->egid[i] = g;
        cnt[g >> x->bshift]++;
    }
}

/* Interns dense integer keys on np threads: groups are numbered in key order (the serial
 * path numbers them in order of first appearance; the answers do not depend on it). */
static void direct_intern_parallel(pit_ctx *x, unsigned np)
{
    run_parts(x, np, direct_mark_part);
    unsigned nd = parts_for(x, (size_t)x->drange + 1);
    run_parts(x, nd, direct_count_part);
    size_t base = 0;
    for (unsigned p = 0; p < nd; p++) {
        size_t c = x->pbase[p];
        x->pbase[p] = base;
        base += c;
    }
    run_parts(x, nd, direct_number_part);
    x->n_groups = base;
    layout_blocks(x, np);
    run_parts(x, np, direct_gid_part);
}

/* ---- hashed keys in parallel ---------------------------------------------------------- */

/* A partition's private key table while hashed keys are interned in parallel: local gids
 * in order of first appearance within the partition (rows are visited in row order).
 * Slots are found from the hash bits below the partition bits. */
typedef struct pit_ptab {
    pit_slot *slots; /* kpos: position in kstore, or PIT_NONE */
    size_t mask;
    unsigned shift;
    size_t n;      /* keys, i.e. local gids */
    uint32_t *rep; /* local gid -> an entity row with that key */
    ldr_buf kstore;
    uint32_t gbase; /* the partition's first global gid */
    uint32_t kbase; /* where its kstore starts in the final one, or PIT_NONE */
} pit_ptab;

static inline uint64_t slot_hash(const pit_ctx *x, uint64_t key)
{
    return x->int_key ? mix64(key) : key;
}

static inline unsigned part_of_hash(const pit_ctx *x, uint64_t h)
{
    return (unsigned)(h >> (64 - x->pbits));
}

static void ptab_alloc(pit_ptab *t, size_t n_keys)
{
    size_t cap = 16;
    unsigned bits = 4;
    while (cap < 2 * n_keys) {
        cap <<= 1;
        bits++;
    }
    t->slots = ldr_xmalloc(cap * sizeof(pit_slot));
    for (size_t s = 0; s < cap; s++)
        t->slots[s].gid = PIT_NONE;
    t->mask = cap - 1;
    t->shift = 64 - bits;
}

static inline size_t ptab_home(const pit_ctx *x, const pit_ptab *t, uint64_t h)
{
    return (size_t)((h << x->pbits) >> t->shift);
}

static void ptab_grow(const pit_ctx *x, pit_ptab *t)
{
    pit_slot *old = t->slots;
    size_t old_cap = t->mask + 1;
    ptab_alloc(t, old_cap);
    for (size_t o = 0; o < old_cap; o++) {
        if (old[o].gid == PIT_NONE)
            continue;
        size_t s = ptab_home(x, t, slot_hash(x, old[o].key));
        while (t->slots[s].gid != PIT_NONE)
            s = (s + 1) & t->mask;
        t->slots[s] = old[o];
    }
    ldr_free(old);
}

/* The local gid of entity row i's key in t; a new key gets the next one. */
static uint32_t ptab_intern(const pit_ctx *x, pit_ptab *t, size_t i, uint64_t key, uint64_t h)
{
    const ldr_col *const *cols = x->in->entity_keys;
    size_t s = ptab_home(x, t, h);
    for (; t->slots[s].gid != PIT_NONE; s = (s + 1) & t->mask) {
        const pit_slot *slot = &t->slots[s];
        if (slot->key != key)
            continue;
        if (x->int_key ||
            (slot->kpos != PIT_NONE ? kstore_eq(&t->kstore, slot->kpos, cols[0], i)
                                    : tuple_eq(cols, i, cols, t->rep[slot->gid], x->in->n_keys)))
            return slot->gid;
    }
    if (2 * (t->n + 1) > t->mask + 1) {
        ptab_grow(x, t);
        s = ptab_home(x, t, h);
        while (t->slots[s].gid != PIT_NONE)
            s = (s + 1) & t->mask;
    }
    uint32_t g = (uint32_t)t->n++;
    t->slots[s].key = key;
    t->slots[s].gid = g;
    t->slots[s].kpos = x->use_kstore ? key_store_add(x, &t->kstore, i) : PIT_NONE;
    t->rep[g] = (uint32_t)i;
    return g;
}

/* Step 1, over row ranges: each row's key hash, counted per partition. */
static void hash_rows_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = x->in->n_entity_rows, np = (size_t)1 << x->pbits;
    uint32_t *cnt = x->pcur + (size_t)part * np;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        uint64_t key, h;
        key_of(x, x->in->entity_keys, i, &key, &h);
        x->eh[i] = h;
        cnt[part_of_hash(x, h)]++;
    }
}

/* Step 2, over row ranges: the rows into prow by partition, in row order. */
static void hash_scatter_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = x->in->n_entity_rows, np = (size_t)1 << x->pbits;
    uint32_t *cur = x->pcur + (size_t)part * np;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++)
        if (x->egid[i] != PIT_NONE)
            x->prow[cur[part_of_hash(x, x->eh[i])]++] = (uint32_t)i;
}

/* Step 3, over partition ranges: each partition's rows interned into its private table;
 * egid receives the local gid. */
static void hash_intern_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t qb, qe;
    offsets_range(x->pstart, (size_t)1 << x->pbits, part, nparts, &qb, &qe);
    for (size_t q = qb; q < qe; q++) {
        pit_ptab *t = &x->ptab[q];
        size_t rows = x->pstart[q + 1] - x->pstart[q];
        ptab_alloc(t, rows < 1024 ? rows : 1024);
        t->rep = ldr_xmalloc((rows ? rows : 1) * sizeof(uint32_t));
        ldr_buf_init(&t->kstore, UINT32_MAX - 1);
        for (size_t j = x->pstart[q]; j < x->pstart[q + 1]; j++) {
            size_t i = x->prow[j];
            uint64_t h = x->eh[i];
            uint64_t key = x->int_key ? (uint64_t)key_int(x->in->entity_keys[0], i) : h;
            x->egid[i] = ptab_intern(x, t, i, key, h);
        }
    }
}

/* Step 4: the keys of partitions [qb, qe) into the final table (sized for every key),
 * probing only below slot re. With several parts, each works inside its partitions'
 * region of the table -- partitions are the top hash bits, and so are table slots -- and
 * a key whose probe would leave the region is deferred (inserted afterwards, serially,
 * past the region: linear probing finds it, as no slot is ever emptied). */
static void merge_range(pit_ctx *x, size_t qb, size_t qe, size_t re, unsigned part)
{
    size_t nd = 0, cap = 0;
    pit_slot *defer = NULL;
    for (size_t q = qb; q < qe; q++) {
        const pit_ptab *t = &x->ptab[q];
        for (size_t o = 0; o <= t->mask; o++) {
            const pit_slot *ps = &t->slots[o];
            if (ps->gid == PIT_NONE)
                continue;
            pit_slot ns = {ps->key, t->gbase + ps->gid, PIT_NONE};
            if (ps->kpos != PIT_NONE && t->kbase != PIT_NONE)
                ns.kpos = t->kbase + ps->kpos;
            if (x->rep)
                x->rep[ns.gid] = t->rep[ps->gid];
            size_t s = (size_t)(slot_hash(x, ns.key) >> x->shift);
            while (s < re && x->slots[s].gid != PIT_NONE)
                s++;
            if (s < re) {
                x->slots[s] = ns;
                continue;
            }
            if (nd == cap) {
                cap = cap ? 2 * cap : 64;
                defer = ldr_xreallocarray(defer, cap, sizeof *defer);
            }
            defer[nd++] = ns;
        }
    }
    x->defer[part] = defer;
    x->n_defer[part] = nd;
}

static void hash_merge_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t qb, qe;
    offsets_range(x->pstart, (size_t)1 << x->pbits, part, nparts, &qb, &qe);
    unsigned rbits = 64 - x->shift - x->pbits; /* slots per partition: 2^rbits */
    merge_range(x, qb, qe, qe << rbits, part);
}

/* Step 5, over row ranges: local gids become global ones, counted per layout block. */
static void hash_gid_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = x->in->n_entity_rows;
    uint32_t *cnt = x->bcur + (size_t)part * x->nblk;
    for (size_t i = part_begin(n, part, nparts); i < part_begin(n, part + 1, nparts); i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        uint32_t g = x->ptab[part_of_hash(x, x->eh[i])].gbase + x->egid[i];
        x->egid[i] = g;
        cnt[g >> x->bshift]++;
    }
}

/* Interns hashed keys (sparse integers, strings, several columns) on np threads: rows
 * are partitioned by their hash's top bits (about 4 partitions per thread), each
 * partition gets a private table, then the keys move into one final table -- the one
 * the serial path builds, sized for the keys, so the feature pass does not change. Gids
 * are numbered by partition, then by first appearance. Memory: 12 bytes per entity row
 * while interning, and the private tables (as large as the final one). */
static void hash_intern_parallel(pit_ctx *x, unsigned np)
{
    size_t n = x->in->n_entity_rows;
    x->pbits = 1;
    while (((size_t)1 << x->pbits) < 4 * (size_t)np)
        x->pbits++;
    size_t nq = (size_t)1 << x->pbits;
    x->eh = ldr_xmalloc(n * sizeof(uint64_t));
    x->pcur = ldr_xcalloc((size_t)np * nq, sizeof(uint32_t));
    run_parts(x, np, hash_rows_part);
    x->pstart = ldr_xmalloc((nq + 1) * sizeof(uint32_t));
    uint32_t pos = 0;
    for (size_t q = 0; q < nq; q++) {
        x->pstart[q] = pos;
        for (unsigned p = 0; p < np; p++) {
            uint32_t c = x->pcur[(size_t)p * nq + q];
            x->pcur[(size_t)p * nq + q] = pos;
            pos += c;
        }
    }
    x->pstart[nq] = pos;
    x->prow = ldr_xmalloc((x->n_eligible ? x->n_eligible : 1) * sizeof(uint32_t));
    run_parts(x, np, hash_scatter_part);
    ldr_free(x->pcur);
    x->pcur = NULL;
    x->ptab = ldr_xcalloc(nq, sizeof(pit_ptab));
    unsigned nparts = parts_for(x, nq);
    run_parts(x, nparts, hash_intern_part);
    ldr_free(x->prow);
    x->prow = NULL;
    /* Global gids and the final key store: the partitions' stores end to end. */
    size_t groups = 0;
    for (size_t q = 0; q < nq; q++) {
        pit_ptab *t = &x->ptab[q];
        t->gbase = (uint32_t)groups;
        groups += t->n;
        t->kbase = PIT_NONE;
        ldr_err err;
        size_t at = x->kstore.len;
        if (x->use_kstore && at <= UINT32_MAX &&
            ldr_buf_append(&x->kstore, t->kstore.ptr, t->kstore.len, &err) == LDR_OK)
            t->kbase = (uint32_t)at;
        ldr_buf_fini(&t->kstore);
    }
    x->n_groups = groups;
    ldr_free(x->slots);
    table_alloc(x, groups); /* x->rep, if any, has room: groups <= n_eligible */
    unsigned mparts = 64 - x->shift >= x->pbits + 4 ? nparts : 1; /* regions of >= 16 slots */
    if (mparts > 1)
        run_parts(x, mparts, hash_merge_part);
    else
        merge_range(x, 0, nq, x->mask + 1, 0);
    for (unsigned p = 0; p < mparts; p++) {
        for (size_t k = 0; k < x->n_defer[p]; k++) {
            size_t s = (size_t)(slot_hash(x, x->defer[p][k].key) >> x->shift);
            while (x->slots[s].gid != PIT_NONE)
                s = (s + 1) & x->mask;
            x->slots[s] = x->defer[p][k];
        }
        ldr_free(x->defer[p]);
        x->defer[p] = NULL;
    }
    layout_blocks(x, np);
    run_parts(x, np, hash_gid_part);
    for (size_t q = 0; q < nq; q++) {
        ldr_free(x->ptab[q].slots);
        ldr_free(x->ptab[q].rep);
    }
    ldr_free(x->ptab);
    x->ptab = NULL;
    ldr_free(x->eh);
    x->eh = NULL;
    ldr_free(x->pstart);
    x->pstart = NULL;
}

/* Interns every entity row's key; the rows that can match get a gid and are laid out by
 * group. With one thread, a single pass interns and counts (then a counting sort); with
 * more, interning and layout are parallel (direct_intern_parallel, hash_intern_parallel,
 * layout_parallel). */
static void entity_build(pit_ctx *x)
{
    const ldr_pit_input *in = x->in;
    int64_t kmin, kmax;
    size_t n = entity_scan(x, &kmin, &kmax);
    if (n == 0)
        return;
    unsigned np = parts_for(x, in->n_entity_rows);
    if (x->int_key && (uint64_t)kmax - (uint64_t)kmin < 2 * (uint64_t)n + 1024) {
        x->dmin = kmin;
        x->drange = (uint64_t)kmax - (uint64_t)kmin;
        x->direct = ldr_xmalloc((size_t)(x->drange + 1) * sizeof(uint32_t));
        memset(x->direct, 0xff, (size_t)(x->drange + 1) * sizeof(uint32_t));
    } else if (in->n_keys > 0) {
        table_alloc(x, n < 4096 ? n : 4096);
        if (!x->int_key)
            x->rep = ldr_xmalloc(n * sizeof(uint32_t));
        x->use_kstore = in->n_keys == 1 && is_str_kind(in->entity_keys[0]->type);
        ldr_buf_init(&x->kstore, UINT32_MAX - 1);
    }
    x->eoff = ldr_xcalloc(n + 2, sizeof(uint32_t));
    x->n_eligible = n;
    if (np > 1) {
        if (x->direct) {
            direct_intern_parallel(x, np); /* counts per layout block too */
        } else if (x->slots) {
            hash_intern_parallel(x, np); /* the same */
        } else {
            x->n_groups = 1; /* entityless: egid is 0 for every row that can match */
            layout_blocks(x, np);
            run_parts(x, np, layout_count_part);
        }
        layout_parallel(x, np);
        entity_groups(x);
        return;
    }
    for (size_t i = 0; i < in->n_entity_rows; i++) {
        if (x->egid[i] == PIT_NONE)
            continue;
        uint64_t key = 0, h = 0;
        if (in->n_keys)
            key_of(x, in->entity_keys, i, &key, &h);
        x->egid[i] = table_intern(x, i, key, h);
        x->eoff[x->egid[i] + 1]++;
    }
    if (in->n_keys == 0)
        x->n_groups = 1;
    layout_serial(x);
    entity_groups(x);
}

/* ---- feature pass --------------------------------------------------------------------- */

/* Created timestamp of feature row `row` for ordering: null or absent is INT64_MIN. */
static inline int64_t created_of(const ldr_col *cr, size_t row)
{
    return cr && ldr_col_valid(cr, row) ? ldr_col_i64(cr, row) : INT64_MIN;
}

/* Offers feature row `row` (event ts `ts`) to a slot: it wins with a greater ts, then a
 * greater created ts, then a greater row. */
static inline void offer(const pit_ctx *x, pit_best *b, int64_t ts, uint32_t row)
{
    if (b->row1 != 0 && ts <= b->ts) {
        if (ts < b->ts)
            return;
        int64_t c = created_of(x->cr, row), bc = created_of(x->cr, b->row1 - 1);
        if (c < bc || (c == bc && row < b->row1 - 1))
            return;
    }
    b->ts = ts;
    b->row1 = row + 1;
}

/* One dictionary-encoded key column: look each dictionary value up once. */
static void dict_prepare(pit_ctx *x)
{
    const ldr_col *kc = x->in->feature_keys[0];
    const ldr_col *dict = kc->dict;
    x->dict_gid = ldr_xmalloc((dict->n ? dict->n : 1) * sizeof(uint32_t));
    for (size_t k = 0; k < dict->n; k++) {
        uint64_t key, h;
        key_of(x, &dict, k, &key, &h);
        x->dict_gid[k] = table_lookup(x, &dict, k, key, h);
    }
}

/* The first slot in [lo, hi) of et whose T >= t: a branchless binary search (the
 * comparison feeds a conditional move, so random data costs no mispredictions). */
static inline size_t et_search(const int64_t *et, size_t lo, size_t hi, int64_t t)
{
    if (lo == hi)
        return lo;
    const int64_t *base = et + lo;
    for (size_t n = hi - lo; n > 1; n -= n / 2)
        base = base[n / 2] < t ? base + n / 2 : base;
    return (size_t)(base - et) + (*base < t);
}

/* A chunk of feature rows on their way through the lookup pipeline, as arrays so that
 * each stage streams through just what it needs. */
typedef struct pit_chunk {
    uint32_t row[PIT_CHUNK_CAP];
    uint32_t g[PIT_CHUNK_CAP];
    uint32_t lo[PIT_CHUNK_CAP], hi[PIT_CHUNK_CAP], end[PIT_CHUNK_CAP];
    int64_t ts[PIT_CHUNK_CAP], vis[PIT_CHUNK_CAP]; /* event ts; time from which it is visible */
    uint64_t key[PIT_CHUNK_CAP], h[PIT_CHUNK_CAP];
} pit_chunk;

/* Stage 1, general case: the rows of [b, e) whose timestamps (and created, under the
 * filter) can qualify, whatever the encodings. Returns how many were kept. */
static unsigned filter_general(const pit_ctx *x, size_t b, size_t e, pit_chunk *c)
{
    const ldr_pit_input *in = x->in;
    unsigned m = 0;
    for (size_t j = b; j < e; j++) {
        if (!ldr_col_valid(in->feature_ts, j))
            continue;
        int64_t ts = ldr_col_i64(in->feature_ts, j), vis = ts;
        if (ts < x->lo_ts || ts > x->hi_ts)
            continue;
        if (x->use_filter) {
            if (!ldr_col_valid(in->created_ts, j))
                continue;
            int64_t cr = ldr_col_i64(in->created_ts, j);
            vis = cr > ts ? cr : ts;
            if (vis > x->hi_ts)
                continue;
        }
        c->row[m] = (uint32_t)j;
        c->ts[m] = ts;
        c->vis[m++] = vis;
    }
    return m;
}

/* Stage 1: as filter_general, without branches for the common plain, null-free event
 * timestamp column without the filter. Then drops rows with a null key value. */
static unsigned chunk_filter(const pit_ctx *x, size_t b, size_t e, pit_chunk *c)
{
    const ldr_pit_input *in = x->in;
    const ldr_col *tc = in->feature_ts;
    unsigned m = 0;
    if (!tc->dict && !tc->valid && !x->use_filter) {
        const int64_t *tv = tc->data;
        int64_t lo = x->lo_ts, hi = x->hi_ts; /* locals: c's stores could alias x's fields */
        for (size_t j = b; j < e; j++) {
            int64_t ts = tv[j];
            c->row[m] = (uint32_t)j;
            c->ts[m] = c->vis[m] = ts;
            m += (ts >= lo) & (ts <= hi);
        }
    } else {
        m = filter_general(x, b, e, c);
    }
    for (size_t k = 0; k < in->n_keys; k++) {
        if (!in->feature_keys[k]->valid)
            continue;
        unsigned kept = 0;
        for (unsigned i = 0; i < m; i++) {
            c->row[kept] = c->row[i];
            c->ts[kept] = c->ts[i];
            c->vis[kept] = c->vis[i];
            kept += ldr_col_valid(in->feature_keys[k], c->row[i]);
        }
        m = kept;
    }
    return m;
}

/* Stage 2 for a single String/Bytes key, once every slot is prefetched: finds the slot
 * whose hash matches and prefetches the stored key, then verifies. A failed
 * verification (a 64-bit hash collision) falls back to the full lookup. */
static void chunk_gids_kstore(const pit_ctx *x, pit_chunk *c, unsigned m)
{
    const ldr_col *const *cols = x->in->feature_keys;
    for (unsigned i = 0; i < m; i++) {
        size_t s = (size_t)(c->h[i] >> x->shift);
        while (x->slots[s].gid != PIT_NONE && x->slots[s].key != c->h[i])
            s = (s + 1) & x->mask;
        c->lo[i] = (uint32_t)s;
        if (x->slots[s].gid != PIT_NONE && x->slots[s].kpos != PIT_NONE)
            PIT_PREFETCH(x->kstore.ptr + x->slots[s].kpos);
    }
    for (unsigned i = 0; i < m; i++) {
        const pit_slot *slot = &x->slots[c->lo[i]];
        if (slot->gid == PIT_NONE)
            c->g[i] = PIT_NONE;
        else if (key_matches(x, cols, c->row[i], slot))
            c->g[i] = slot->gid;
        else
            c->g[i] = table_lookup(x, cols, c->row[i], c->key[i], c->h[i]);
    }
}

/* Stage 2: each row's gid (PIT_NONE when no entity row has its key). Hash lookups go in
 * two rounds, prefetching every slot of the chunk before reading any. */
static void chunk_gids(const pit_ctx *x, pit_chunk *c, unsigned m)
{
    const ldr_pit_input *in = x->in;
    const ldr_col *kc = in->n_keys ? in->feature_keys[0] : NULL;
    if (!kc) {
        memset(c->g, 0, m * sizeof(uint32_t));
    } else if (x->dict_gid) {
        const int32_t *idx = kc->data;
        for (unsigned i = 0; i < m; i++)
            c->g[i] = x->dict_gid[idx[c->row[i]]];
    } else if (x->direct && !kc->dict && kc->type != LDR_TYPE_INT32 && kc->type != LDR_TYPE_BOOL) {
        const int64_t *kv = kc->data; /* plain Int64 or UnixTimestamp */
        const uint32_t *direct = x->direct;
        uint64_t dmin = (uint64_t)x->dmin, drange = x->drange;
        for (unsigned i = 0; i < m; i++) {
            uint64_t d = (uint64_t)kv[c->row[i]] - dmin;
            c->g[i] = d <= drange ? direct[d] : PIT_NONE;
        }
    } else {
        for (unsigned i = 0; i < m; i++) {
            key_of(x, in->feature_keys, c->row[i], &c->key[i], &c->h[i]);
            PIT_PREFETCH(slot_addr(x, c->key[i], c->h[i]));
        }
        if (x->use_kstore)
            chunk_gids_kstore(x, c, m);
        else
            for (unsigned i = 0; i < m; i++)
                c->g[i] = table_lookup(x, in->feature_keys, c->row[i], c->key[i], c->h[i]);
    }
}

/* The bucket of t in large group gr, or UINT64_MAX when t is after every T of the group
 * (then no slot sees the row). t <= tmin gives bucket 0. */
static inline uint64_t group_bucket(const pit_ctx *x, const pit_group *gr, int64_t t)
{
    int64_t tmin = x->et[gr->off];
    if (t <= tmin)
        return 0;
    uint64_t b = ((uint64_t)t - (uint64_t)tmin) >> group_shift(gr);
    return b < group_nb(gr) ? b : UINT64_MAX;
}

/* Stage 3: appends the rows of `in` (m rows) whose group is in [gb, gb + gn) -- not
 * PIT_NONE, and in owner mode one of the part's groups -- to `out` (n rows; may be in
 * itself), prefetching their group. Returns out's new count. */
static unsigned chunk_select(const pit_ctx *x, const pit_chunk *in, unsigned m, pit_chunk *out,
                             unsigned n, uint32_t gb, uint32_t gn)
{
    for (unsigned i = 0; i < m; i++) {
        uint32_t g = in->g[i];
        if (g - gb >= gn)
            continue;
        PIT_PREFETCH(&x->grp[g]);
        out->g[n] = g;
        out->row[n] = in->row[i];
        out->ts[n] = in->ts[i];
        out->vis[n++] = in->vis[i];
    }
    return n;
}

/* Stages 4-8: the group, its first T and bucket (large groups), the first slot whose
 * entity row sees the feature row, and the offer. Each loop prefetches what the next one
 * reads, so the cache misses of a chunk overlap instead of queueing one after another.
 * lo/hi bound the search; the answer may be hi itself (the first slot of the next
 * bucket), so a slot is valid when below end. This is the hot loop of the join
 * (bench/pit/bench_join.c measures it); it is long on purpose. */
static void chunk_offer(const pit_ctx *x, pit_chunk *c, unsigned n, pit_best *best)
{
    for (unsigned i = 0; i < n; i++) {
        const pit_group *gr = &x->grp[c->g[i]];
        c->lo[i] = gr->off;
        c->hi[i] = c->end[i] = gr->off + gr->n;
        PIT_PREFETCH(&x->et[c->lo[i]]);
        if (!group_nb(gr))
            PIT_PREFETCH(&x->et[c->hi[i] - 1]);
    }
    for (unsigned i = 0; i < n; i++) {
        const pit_group *gr = &x->grp[c->g[i]];
        if (!group_nb(gr))
            continue;
        uint64_t b = group_bucket(x, gr, c->vis[i]);
        c->key[i] = b;
        if (b != UINT64_MAX)
            PIT_PREFETCH(&x->bidx[gr->boff + b]);
    }
    for (unsigned i = 0; i < n; i++) {
        const pit_group *gr = &x->grp[c->g[i]];
        if (!group_nb(gr))
            continue;
        if (c->key[i] == UINT64_MAX) {
            c->lo[i] = c->hi[i] = c->end[i];
            continue;
        }
        c->lo[i] = gr->off + x->bidx[gr->boff + c->key[i]];
        c->hi[i] = gr->off + x->bidx[gr->boff + c->key[i] + 1];
        PIT_PREFETCH(&x->et[c->lo[i]]);
    }
    for (unsigned i = 0; i < n; i++) {
        c->lo[i] = (uint32_t)et_search(x->et, c->lo[i], c->hi[i], c->vis[i]);
        if (c->lo[i] < c->end[i])
            PIT_PREFETCH(&best[c->lo[i]]);
    }
    for (unsigned i = 0; i < n; i++)
        if (c->lo[i] < c->end[i])
            offer(x, &best[c->lo[i]], c->ts[i], c->row[i]);
}

/* A part of the feature pass. Row mode: the part's row range, into its own best array.
 * Owner mode: every row, but only for the part's group range, into the shared array. */
static void feature_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t n = x->in->n_feature_rows, b = 0, e = n;
    uint32_t gb = 0, gn = (uint32_t)x->n_groups;
    pit_best *best = x->best;
    if (x->owner) {
        size_t g0, g1;
        group_range(x, part, nparts, &g0, &g1);
        gb = (uint32_t)g0;
        gn = (uint32_t)(g1 - g0);
        if (gn == 0)
            return;
    } else {
        b = part_begin(n, part, nparts);
        e = part_begin(n, part + 1, nparts);
        best += (size_t)part * x->n_eligible;
    }
    pit_chunk c, own; /* owner mode gathers its rows into own, PIT_CHUNK at a time */
    unsigned n_own = 0;
    for (size_t j = b; j < e; j += PIT_CHUNK) {
        unsigned m = chunk_filter(x, j, j + PIT_CHUNK < e ? j + PIT_CHUNK : e, &c);
        chunk_gids(x, &c, m);
        if (!x->owner) {
            chunk_offer(x, &c, chunk_select(x, &c, m, &c, 0, gb, gn), best);
            continue;
        }
        n_own = chunk_select(x, &c, m, &own, n_own, gb, gn);
        if (n_own >= PIT_CHUNK) {
            chunk_offer(x, &own, n_own, best);
            n_own = 0;
        }
    }
    chunk_offer(x, &own, n_own, best);
}

/* ---- sweep ---------------------------------------------------------------------------- */

/* Along each group in T order, the running best of every part's slots answers each
 * entity row, subject to the ttl bound. */
static void sweep_part(pit_ctx *x, unsigned part, unsigned nparts)
{
    size_t gb, ge, n = x->n_eligible;
    group_range(x, part, nparts, &gb, &ge);
    size_t kend = x->eoff[ge];
    for (size_t g = gb; g < ge; g++) {
        pit_best run = {0, 0, 0};
        for (size_t k = x->eoff[g]; k < x->eoff[g + 1]; k++) {
            if (k + 16 < kend) /* the answers go to entity rows at random: fetch ahead */
                PIT_PREFETCH_W(&x->out[x->eord[k + 16].row]);
            for (unsigned p = 0; p < x->nparts; p++) {
                const pit_best *s = &x->best[(size_t)p * n + k];
                if (s->row1)
                    offer(x, &run, s->ts, s->row1 - 1);
            }
            const pit_erow *er = &x->eord[k];
            bool ok = run.row1 && run.ts >= lower_of(er->t, x->in->ttl);
            x->out[er->row] = ok ? (int64_t)run.row1 - 1 : -1;
        }
    }
}

/* ---- driver --------------------------------------------------------------------------- */

static void check_input(const ldr_pit_input *in)
{
    LDR_ASSERT(in->entity_ts && in->feature_ts);
    LDR_ASSERT(in->entity_ts->type == LDR_TYPE_UNIX_TIMESTAMP);
    LDR_ASSERT(in->feature_ts->type == LDR_TYPE_UNIX_TIMESTAMP);
    LDR_ASSERT(in->entity_ts->n >= in->n_entity_rows);
    LDR_ASSERT(in->feature_ts->n >= in->n_feature_rows);
    LDR_ASSERT(!in->created_ts || (in->created_ts->type == LDR_TYPE_UNIX_TIMESTAMP &&
                                   in->created_ts->n >= in->n_feature_rows));
    for (size_t k = 0; k < in->n_keys; k++) {
        LDR_ASSERT(in->entity_keys[k]->type == in->feature_keys[k]->type);
        LDR_ASSERT(in->entity_keys[k]->n >= in->n_entity_rows);
        LDR_ASSERT(in->feature_keys[k]->n >= in->n_feature_rows);
    }
}

/* The feature pass and the sweep. The feature pass runs in one of two modes:
 *  - row mode: parts take row ranges, each into its own best array of 16 bytes per
 *    entity row, merged by the sweep; their number is capped so that these arrays stay
 *    within about 8 bytes per feature row (or 64 MiB);
 *  - owner mode: parts take group ranges (balanced by entity rows) and share one best
 *    array; each reads every feature row and finds its gid, but only offers the rows of
 *    its own groups, so the searches and offers (the cache misses) are divided.
 * Owner mode is used when finding a gid is cheap (dense integer keys, a dictionary key
 * column) or when the best arrays of row mode would not fit, as long as there are enough
 * groups to share out (PIT_OWNER_MIN per part). */
static void feature_join(pit_ctx *x)
{
    const ldr_pit_input *in = x->in;
    const ldr_col *kc = in->n_keys == 1 ? in->feature_keys[0] : NULL;
    if (kc && kc->dict && (is_int_kind(kc->type) || is_str_kind(kc->type)))
        dict_prepare(x);
    unsigned np = parts_for(x, in->n_feature_rows), nrows = np;
    size_t budget =
        in->n_feature_rows * 8 > ((size_t)64 << 20) ? in->n_feature_rows * 8 : ((size_t)64 << 20);
    while (nrows > 1 && (size_t)nrows * x->n_eligible * sizeof(pit_best) > budget)
        nrows--;
    unsigned nown = x->n_groups / PIT_OWNER_MIN < np ? (unsigned)(x->n_groups / PIT_OWNER_MIN) : np;
    bool cheap = x->direct || x->dict_gid;
    x->owner = nown > 1 && (cheap || nown > nrows);
    x->nparts = x->owner ? 1 : nrows;
    x->best = ldr_xcalloc((size_t)x->nparts * x->n_eligible, sizeof(pit_best));
    run_parts(x, x->owner ? nown : nrows, feature_part);
    run_parts(x, parts_for(x, x->n_groups), sweep_part);
}

static void ctx_fini(pit_ctx *x)
{
    ldr_free(x->slots);
    ldr_free(x->direct);
    ldr_free(x->rep);
    ldr_buf_fini(&x->kstore);
    ldr_free(x->dict_gid);
    ldr_free(x->egid);
    ldr_free(x->eoff);
    ldr_free(x->eord);
    ldr_free(x->et);
    ldr_free(x->grp);
    ldr_free(x->bidx);
    ldr_free(x->best);
}

ldr_code ldr_pit_join(const ldr_pit_input *in, int threads, int64_t *out_rows, ldr_err *err)
{
    if (in->ttl < 0)
        return ldr_err_setf(err, LDR_EINVAL, "point-in-time join: negative ttl (%" PRId64 " us)",
                            in->ttl);
    if (in->n_entity_rows > LDR_PIT_MAX_ROWS || in->n_feature_rows > LDR_PIT_MAX_ROWS)
        return ldr_err_setf(err, LDR_ELIMIT,
                            "point-in-time join: %zu entity rows x %zu feature rows exceeds "
                            "%zu rows per side; partition the input by key first",
                            in->n_entity_rows, in->n_feature_rows, LDR_PIT_MAX_ROWS);
    check_input(in);
    pit_ctx x = {0};
    x.in = in;
    x.out = out_rows;
    x.use_filter = in->filter_by_created && in->created_ts;
    x.cr = in->created_ts;
    x.int_key = in->n_keys == 1 && is_int_kind(in->entity_keys[0]->type);
    x.threads = thread_count(threads, in->n_entity_rows + in->n_feature_rows);
    x.egid = ldr_xmalloc((in->n_entity_rows ? in->n_entity_rows : 1) * sizeof(uint32_t));
    entity_build(&x); /* rows that cannot match get -1 here */
    if (x.n_eligible > 0)
        feature_join(&x);
    ctx_fini(&x);
    return LDR_OK;
}

unsigned ldr_pit_partition_of(const ldr_col *const *keys, size_t n_keys, size_t row,
                              unsigned n_parts)
{
    LDR_ASSERT(n_parts >= 1);
    if (n_keys == 0 || !tuple_valid(keys, n_keys, row))
        return 0;
    uint64_t h = mix64(tuple_hash(keys, n_keys, row) ^ PIT_PART_SEED);
    return (unsigned)(((h >> 32) * n_parts) >> 32);
}
