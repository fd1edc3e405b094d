/*
 * materialize.c -- the batch -> online path (see serving.h for the contract).
 *
 * Per view, two passes over the source, like historical retrieval:
 *   1. keys and timestamps only: every row with start <= event time <= end and no null
 *      key is serialized (Feast v3) and kept in a hash table of the latest row per key
 *      (event time, then created time, then the later row: the point-in-time rule);
 *   2. feature values, read only from the chunks holding winners, written to the online
 *      store in batches of LDR_MAT_BATCH rows, one transaction each, by writer threads
 *      while the view's thread reads the next batch: reading and the store's round trips
 *      overlap. One writer, or ldr_online_parallel_writers (Redis: 2) with their own
 *      handles, writing distinct batches at once; the first failure stops them all.
 * Memory grows with the distinct keys (about 80 bytes plus the key each), not the rows.
 * The interval is recorded in the registry only after every batch committed, so a killed
 * run leaves rows old or new (each batch is atomic; the store's newer-wins rule makes a
 * rerun converge on the same state) and no interval: rerunning completes.
 *
 * Concurrency: one worker thread per view (up to `threads`), each with its own online
 * store handle (plus one per extra writer), used only by the writer threads in pass 2. A view is
 * locked with flock(2) on `.larder-locks/<project>.<view>.lock` next to the registry: a second run
 * on the same view is refused at once, and the lock vanishes with the process, whatever kills it.
 */
#include "serving/serving.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "offline/offline.h"

#define LDR_MAT_BATCH 10000

enum { ST_WAIT, ST_READ, ST_WRITE, ST_DONE, ST_FAILED, ST_UPTODATE };

typedef struct winner {
    const uint8_t *key; /* in the view's key arena */
    uint32_t key_len;
    uint32_t chunk;
    uint64_t row; /* within the chunk */
    ldr_ts ts, created;
    uint64_t hash;
} winner;

typedef struct mat_view {
    const ldr_config *cfg;
    const ldr_defs *defs;
    const ldr_view *view;
    ldr_online_view ov;
    ldr_ts start, end;
    int lock_fd;
    bool skip;       /* incremental and already up to date */
    bool own_thread; /* runs on a pool thread, which may lower its own priority */
    /* progress, written by the worker, read by the reporter */
    _Atomic uint64_t rows_read, chunks_done, chunks_total, keys, rows_written;
    _Atomic int state;
    ldr_code rc;
    ldr_err err;
} mat_view;

/* ---- locking ------------------------------------------------------------------------------ */

static ldr_code lock_view(const ldr_config *cfg, const char *view, int *out_fd, ldr_err *err)
{
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s", cfg->registry_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    size_t len = strlen(dir);
    snprintf(dir + len, sizeof dir - len, "/.larder-locks");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot create %s", dir);
    snprintf(path, sizeof path, "%s/%s.%s.lock", dir, cfg->project, view);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return ldr_err_sys(err, LDR_EIO, errno, "cannot open %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return ldr_err_setf(err, LDR_EBUSY,
                                "feature view '%s' is already being materialized%s%s%s; wait for "
                                "it to finish",
                                view, *pid ? " (by process " : "", pid, *pid ? ")" : "");
        return ldr_err_sys(err, LDR_EIO, e, "cannot lock %s", path);
    }
    char pid[32];
    int pn = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)pn, 0) != pn) {
        /* the pid is only for messages */
    }
    *out_fd = fd;
    return LDR_OK;
}

/* ---- pass 1: the latest row per key ----------------------------------------------------- */

/* The latest row per key: winners in a dense array (in first-seen order), found through
 * an open-addressing index of 4-byte slots (0: empty, else the winner's position + 1).
 * Probing touches the small index, not the 48-byte winners: a 200 k-key table is 2 MiB
 * of index instead of 25 MiB of slots, and a growth rehashes only the index. */
typedef struct table {
    uint32_t *idx;
    size_t cap; /* slots of idx, a power of two (0 before the first row) */
    winner *w;
    size_t used, w_cap;
} table;

static void table_grow(table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    uint32_t *ni = ldr_xcalloc(ncap, sizeof *ni);
    for (size_t i = 0; i < t->used; i++) {
        size_t j = t->w[i].hash & (ncap - 1);
        while (ni[j])
            j = (j + 1) & (ncap - 1);
        ni[j] = (uint32_t)(i + 1);
    }
    ldr_free(t->idx);
    t->idx = ni;
    t->cap = ncap;
}

/* Makes room for `more` new keys without growing on the way (a growing table rehashes
 * every key once more per doubling). */
static void table_reserve(table *t, size_t more)
{
    LDR_ASSERT(t->used + more < UINT32_MAX);
    while ((t->used + more) * 4 > t->cap * 3)
        table_grow(t);
    if (t->used + more > t->w_cap) {
        t->w_cap = t->used + more > 2 * t->w_cap ? t->used + more : 2 * t->w_cap;
        t->w = ldr_xreallocarray(t->w, t->w_cap, sizeof *t->w);
    }
}

/* Offers a row; keys are copied into a on first sight. */
static void table_offer(table *t, ldr_arena *a, const uint8_t *key, size_t len, uint32_t chunk,
                        uint64_t row, ldr_ts ts, ldr_ts created)
{
    table_reserve(t, 1);
    uint64_t h = ldr_hash_bytes(key, len);
    size_t j = h & (t->cap - 1);
    for (; t->idx[j]; j = (j + 1) & (t->cap - 1)) {
        winner *w = &t->w[t->idx[j] - 1];
        if (w->hash == h && w->key_len == len && !memcmp(w->key, key, len)) {
            /* Later rows come later in source order: ties go to them. */
            if (ts > w->ts || (ts == w->ts && created >= w->created)) {
                w->chunk = chunk;
                w->row = row;
                w->ts = ts;
                w->created = created;
            }
            return;
        }
    }
    uint8_t *copy = ldr_arena_alloc(a, len ? len : 1);
    memcpy(copy, key, len);
    t->w[t->used] = (winner){.key = copy,
                             .key_len = (uint32_t)len,
                             .chunk = chunk,
                             .row = row,
                             .ts = ts,
                             .created = created,
                             .hash = h};
    t->idx[j] = (uint32_t)++t->used;
}

static uint64_t winner_pos(const winner *w)
{
    return (uint64_t)w->chunk << 40 | w->row;
}

/* Puts the winners in source order (chunk, then row): an LSD radix sort on
 * chunk << 40 | row, 11 bits a pass, only as many passes as the largest position needs
 * (two up to 4 M rows in one chunk). qsort's comparator calls were a fifth of pass 1. */
static void sort_winners(winner *w, size_t n)
{
    uint64_t max = 0;
    for (size_t i = 0; i < n; i++) {
        LDR_ASSERT(w[i].row < ((uint64_t)1 << 40));
        uint64_t k = winner_pos(&w[i]);
        max = k > max ? k : max;
    }
    if (n < 2 || !max)
        return;
    winner *tmp = ldr_xmalloc(n * sizeof *tmp), *src = w, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && (max >> shift); shift += 11) {
        size_t at[2049] = {0};
        for (size_t i = 0; i < n; i++)
            at[(winner_pos(&src[i]) >> shift & 2047) + 1]++;
        for (size_t d = 0; d < 2048; d++)
            at[d + 1] += at[d];
        for (size_t i = 0; i < n; i++)
            dst[at[winner_pos(&src[i]) >> shift & 2047]++] = src[i];
        winner *x = src;
        src = dst;
        dst = x;
    }
    if (src != w)
        memcpy(w, src, n * sizeof *w);
    ldr_free(tmp);
}

/* ---- one view ------------------------------------------------------------------------------- */

static int cmp_row_key(const void *x, const void *y)
{
    const ldr_online_row *a = x, *b = y;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int c = memcmp(a->key.ptr, b->key.ptr, n);
    return c ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

/* Writes one batch. Its keys are distinct (one winner per key), so the batch may be put
 * in key order first when the store is a B-tree: neighbouring pages instead of random ones
 * (the v3 key's little-endian integers scatter consecutive ids over the whole tree). A
 * hashing store (Redis) skips the sort: it was a sixth of a Redis materialization's
 * client instructions. */
static ldr_code write_batch(ldr_online_store *os, mat_view *mv, ldr_online_row *rows, size_t n,
                            ldr_err *err)
{
    if (ldr_online_key_ordered_writes(os))
        qsort(rows, n, sizeof *rows, cmp_row_key);
    size_t written = 0;
    ldr_code rc = ldr_online_write(os, &mv->ov, rows, n, &written, err);
    if (rc == LDR_OK)
        atomic_fetch_add(&mv->rows_written, written);
    return rc;
}

/* ---- the writer thread --------------------------------------------------------------------- */

/* One batch of rows: its values point into held source chunks and into scratch. */
typedef struct wslot {
    ldr_online_row *rows;
    ldr_value *vals;
    ldr_arena scratch;
    size_t n_rows;
    size_t first_chunk; /* the source chunk of rows[0]: the batch refers to no earlier one */
    bool busy;          /* handed to the writers, not yet written (under writer.mu) */
} wslot;

/* A view's writer threads write the batches the reading thread hands over, so that
 * reading and decoding the next batch overlaps the store's writing (on a network store the
 * reader would otherwise wait for every round trip), and, with a store that allows it
 * (ldr_online_parallel_writers), several batches are written at once, each thread with its
 * own store handle: a view's batches hold distinct keys, so their order does not matter.
 * The reader owns n + 1 slots for n threads: at most n batches are being written while it
 * fills the last one. The first failure stops the writing; the reader sees it at its next
 * hand-over and stops too. */
#define MAX_WRITERS 4

typedef struct writer {
    pthread_mutex_t mu; /* protects queue, n_queued, busy, quit, rc, err and wslot.busy */
    pthread_cond_t cond;
    wslot *queue[MAX_WRITERS + 1]; /* handed over, not yet taken by a thread */
    size_t n_queued;
    size_t busy; /* batches queued or being written */
    bool quit;
    ldr_code rc; /* the first failure */
    ldr_err err;
    ldr_online_store *os[MAX_WRITERS]; /* os[i] is used only by thread i while it runs */
    size_t n;
    mat_view *mv;
    pthread_t thr[MAX_WRITERS];
} writer;

typedef struct writer_arg {
    writer *w;
    size_t i;
} writer_arg;

static ldr_code write_batch(ldr_online_store *os, mat_view *mv, ldr_online_row *rows, size_t n,
                            ldr_err *err);

static void *writer_main(void *arg)
{
    writer *w = ((writer_arg *)arg)->w;
    ldr_online_store *os = w->os[((writer_arg *)arg)->i];
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->n_queued && !w->quit)
            pthread_cond_wait(&w->cond, &w->mu);
        if (!w->n_queued)
            break;
        wslot *b = w->queue[--w->n_queued];
        bool failed = w->rc != LDR_OK;
        pthread_mutex_unlock(&w->mu);
        ldr_err e;
        ldr_err_clear(&e);
        ldr_code rc = failed ? LDR_OK : write_batch(os, w->mv, b->rows, b->n_rows, &e);
        pthread_mutex_lock(&w->mu);
        if (rc != LDR_OK && w->rc == LDR_OK) {
            w->rc = rc;
            w->err = e;
        }
        b->busy = false;
        w->busy--;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Lets the threads finish what was handed over, then stops them. */
static void writer_stop(writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n; i++)
        pthread_join(w->thr[i], NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mu);
}

/* Starts n threads (1 <= n <= MAX_WRITERS) over the handles os[0..n). */
static ldr_code writer_start(writer *w, ldr_online_store *const *os, size_t n, mat_view *mv,
                             writer_arg *args, ldr_err *err)
{
    memset(w, 0, sizeof *w);
    w->mv = mv;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        w->os[i] = os[i];
        args[i] = (writer_arg){w, i};
        int e = pthread_create(&w->thr[i], NULL, writer_main, &args[i]);
        if (e != 0)
            rc = ldr_err_sys(err, LDR_EIO, e, "cannot start a writer thread");
        else
            w->n++;
    }
    if (rc != LDR_OK)
        writer_stop(w);
    return rc;
}

/* Hands b over (NULL: nothing); with wait_all, first waits until nothing is being
 * written. Returns the writers' first failure (b is then not handed over). */
static ldr_code writer_put(writer *w, wslot *b, bool wait_all, ldr_err *err)
{
    pthread_mutex_lock(&w->mu);
    while (wait_all && w->busy)
        pthread_cond_wait(&w->cond, &w->mu);
    ldr_code rc = w->rc;
    if (rc != LDR_OK) {
        if (err)
            *err = w->err;
    } else if (b) {
        b->busy = true;
        w->queue[w->n_queued++] = b;
        w->busy++;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Waits until one of slots[0..n) is not being written and returns it; *lo is then the
 * lowest first chunk of the batches still being written (SIZE_MAX: none). */
static wslot *writer_free_slot(writer *w, wslot *slots, size_t n, size_t *lo)
{
    pthread_mutex_lock(&w->mu);
    wslot *free_slot = NULL;
    for (;;) {
        *lo = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (!slots[i].busy && !free_slot)
                free_slot = &slots[i];
            else if (slots[i].busy && slots[i].first_chunk < *lo)
                *lo = slots[i].first_chunk;
        }
        if (free_slot)
            break;
        pthread_cond_wait(&w->cond, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return free_slot;
}

static void wslot_init(wslot *b, size_t nf)
{
    b->rows = ldr_xcalloc(LDR_MAT_BATCH, sizeof *b->rows);
    b->vals = ldr_xcalloc((size_t)LDR_MAT_BATCH * (nf ? nf : 1), sizeof *b->vals);
    ldr_arena_init(&b->scratch, 0);
    b->n_rows = 0;
    b->first_chunk = 0;
    b->busy = false;
}

static void wslot_reset(wslot *b, size_t first_chunk)
{
    ldr_arena_fini(&b->scratch);
    ldr_arena_init(&b->scratch, 0);
    b->n_rows = 0;
    b->first_chunk = first_chunk;
}

static void wslot_fini(wslot *b)
{
    ldr_free(b->rows);
    ldr_free(b->vals);
    ldr_arena_fini(&b->scratch);
}

/* Pass 2: the winners' values, chunk by chunk, handed to the writers in batches. A chunk
 * stays held until no batch being written refers to it. */
static ldr_code read_winners(ldr_offline_scan *scan, mat_view *mv, const winner *w, size_t n_w,
                             const char **fcols, const ldr_type *ftypes, writer *wr, ldr_err *err)
{
    size_t nf = mv->ov.n_features, n_chunks = ldr_offline_scan_chunks(scan);
    size_t n_slots = wr->n + 1, lo;
    wslot slots[MAX_WRITERS + 1];
    for (size_t i = 0; i < n_slots; i++)
        wslot_init(&slots[i], nf);
    wslot *cur = &slots[0];
    ldr_batch **held = ldr_xcalloc(n_chunks + 1, sizeof *held);
    size_t first_held = 0;
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n_w && rc == LDR_OK;) {
        uint32_t c = w[i].chunk;
        size_t j = i;
        while (j < n_w && w[j].chunk == c)
            j++;
        rc = ldr_offline_scan_read(scan, c, fcols, ftypes, nf, false, &held[c], err);
        if (rc != LDR_OK)
            break;
        const ldr_batch *b = held[c];
        for (size_t k = i; k < j && rc == LDR_OK; k++) {
            if (w[k].row >= b->n_rows) {
                rc = ldr_err_setf(err, LDR_EIO, "a source file changed while it was being read");
                break;
            }
            ldr_value *rv = cur->vals + cur->n_rows * nf;
            for (size_t f = 0; f < nf; f++)
                ldr_col_get(b->cols[f], (size_t)w[k].row, &cur->scratch, &rv[f]);
            cur->rows[cur->n_rows] = (ldr_online_row){.key = {w[k].key, w[k].key_len},
                                                      .values = rv,
                                                      .event_ts = w[k].ts,
                                                      .created_ts = w[k].created};
            if (++cur->n_rows < LDR_MAT_BATCH)
                continue;
            rc = writer_put(wr, cur, false, err);
            cur = writer_free_slot(wr, slots, n_slots, &lo);
            for (; rc == LDR_OK && first_held < c && first_held < lo; first_held++) {
                ldr_batch_free(held[first_held]);
                held[first_held] = NULL;
            }
            wslot_reset(cur, c);
        }
        atomic_fetch_add(&mv->chunks_done, 1);
        i = j;
    }
    if (rc == LDR_OK && cur->n_rows)
        rc = writer_put(wr, cur, false, err);
    ldr_code wrc = writer_put(wr, NULL, true, rc == LDR_OK ? err : NULL); /* the last ones */
    if (rc == LDR_OK)
        rc = wrc;
    for (size_t c = 0; c < n_chunks; c++)
        ldr_batch_free(held[c]);
    ldr_free(held);
    for (size_t i = 0; i < n_slots; i++)
        wslot_fini(&slots[i]);
    return rc;
}

/* Pass 2's reading thread yields the CPU to its writer threads: on a busy machine a writer
 * woken by its store's reply would otherwise wait behind the reader's parsing while the
 * store sits idle (2 shared CPUs, Redis: busy ~80% -> ~90% of the run, the materialization
 * 0.69x -> 0.75x of redis-cli --pipe; BENCHMARKS.md). Nice values are per thread on Linux
 * (setpriority(2)); lowering one is always allowed, raising it back may not be (RLIMIT_NICE),
 * and then the pool thread stays lower until it exits -- hence pool threads only. Returns
 * the old value, or INT_MIN when nothing was changed. */
#define READER_NICE 10

static int reader_yield(void)
{
    id_t tid = (id_t)gettid();
    errno = 0;
    int old = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 || setpriority(PRIO_PROCESS, tid, old + READER_NICE) != 0)
        return INT_MIN;
    return old;
}

static void reader_restore(int old)
{
    if (old != INT_MIN)
        (void)setpriority(PRIO_PROCESS, (id_t)gettid(), old); /* may fail: see above */
}

/* Opens the writers' extra store handles (os[0] is open) and runs pass 2. */
static ldr_code write_pass(ldr_offline_scan *scan, mat_view *mv, const winner *w, size_t n_w,
                           const char **fcols, const ldr_type *ftypes, ldr_online_store *os0,
                           ldr_err *err)
{
    ldr_online_store *os[MAX_WRITERS] = {os0};
    size_t n = ldr_online_parallel_writers(os0);
    n = n > MAX_WRITERS ? MAX_WRITERS : n;
    if (n > 1 && n_w <= LDR_MAT_BATCH)
        n = 1; /* one batch: nothing to write in parallel */
    ldr_code rc = LDR_OK;
    for (size_t i = 1; i < n && rc == LDR_OK; i++)
        if (!(os[i] = ldr_online_open(mv->cfg, err)))
            rc = err->code;
    writer wr;
    writer_arg args[MAX_WRITERS];
    if (rc == LDR_OK && (rc = writer_start(&wr, os, n, mv, args, err)) == LDR_OK) {
        int nice_was = mv->own_thread ? reader_yield() : INT_MIN;
        rc = read_winners(scan, mv, w, n_w, fcols, ftypes, &wr, err);
        reader_restore(nice_was);
        writer_stop(&wr);
    }
    for (size_t i = 1; i < n; i++)
        ldr_online_close(os[i]);
    return rc;
}

static ldr_code run_view(mat_view *mv, ldr_err *err)
{
    const ldr_view *v = mv->view;
    const ldr_defs *defs = mv->defs;
    const ldr_source *src = ldr_view_file_source(defs, v, err);
    if (!src)
        return LDR_ENOTFOUND;
    ldr_offline_scan *scan = ldr_offline_scan_open(mv->cfg, src, mv->start, mv->end, err);
    if (!scan)
        return err->code;
    size_t nk = v->n_entities, nf = mv->ov.n_features;
    const char **kcols = ldr_xcalloc(nk + 1, sizeof *kcols);
    ldr_type *ktypes = ldr_xcalloc(nk + 1, sizeof *ktypes);
    for (size_t k = 0; k < nk; k++) {
        const ldr_entity *e = ldr_defs_find_entity(defs, v->entities[k]);
        kcols[k] = e->join_key;
        ktypes[k] = ldr_view_key_type(v, e);
    }
    const char **fcols = ldr_xcalloc(nf + 1, sizeof *fcols);
    ldr_type *ftypes = ldr_xcalloc(nf + 1, sizeof *ftypes);
    for (size_t f = 0; f < nf; f++) {
        fcols[f] = mv->ov.features[f].name;
        ftypes[f] = mv->ov.features[f].type;
    }
    size_t n_chunks = ldr_offline_scan_chunks(scan);
    atomic_store(&mv->chunks_total, (uint64_t)n_chunks * 2);
    atomic_store(&mv->state, ST_READ);

    /* Pass 1. */
    table t = {0};
    ldr_arena keys;
    ldr_arena_init(&keys, 1 << 20);
    ldr_buf kb;
    ldr_buf_init(&kb, 1 << 20);
    ldr_arena scratch;
    ldr_arena_init(&scratch, 0);
    ldr_value *kv = ldr_xcalloc(nk + 1, sizeof *kv);
    uint64_t null_keys = 0;
    ldr_code rc = LDR_OK;
    for (size_t c = 0; c < n_chunks && rc == LDR_OK; c++) {
        ldr_batch *b = NULL;
        rc = ldr_offline_scan_read(scan, c, kcols, ktypes, nk, true, &b, err);
        if (rc != LDR_OK)
            break;
        const ldr_col *ts = b->cols[ldr_batch_find(b, LDR_OFFLINE_TS_COL)];
        int ci = ldr_batch_find(b, LDR_OFFLINE_CREATED_COL);
        const ldr_col *cr = ci >= 0 ? b->cols[ci] : NULL;
        table_reserve(&t, b->n_rows);
        const ldr_col **kc = ldr_xcalloc(nk + 1, sizeof *kc);
        for (size_t k = 0; k < nk; k++)
            kc[k] = b->cols[ldr_batch_find(b, kcols[k])];
        for (size_t r = 0; r < b->n_rows && rc == LDR_OK; r++) {
            if (!ldr_col_valid(ts, r))
                continue;
            ldr_ts e = ldr_col_i64(ts, r);
            if ((mv->start != LDR_TS_NONE && e < mv->start) || e > mv->end)
                continue;
            bool has_null = false;
            for (size_t k = 0; k < nk; k++) {
                ldr_col_get(kc[k], r, &scratch, &kv[k]);
                has_null |= kv[k].is_null;
            }
            if (has_null) {
                null_keys++;
                continue;
            }
            ldr_buf_reset(&kb);
            rc = nk ? ldr_online_key_encode(kcols, kv, nk, &kb, err)
                    : ldr_online_key_encode_entityless(&kb, err);
            if (rc != LDR_OK) {
                ldr_err_prefix(err, "chunk %zu, row %zu: ", c, r);
                break;
            }
            ldr_ts created = cr && ldr_col_valid(cr, r) ? ldr_col_i64(cr, r) : LDR_TS_NONE;
            table_offer(&t, &keys, (const uint8_t *)kb.ptr, kb.len, (uint32_t)c, r, e, created);
        }
        ldr_free(kc);
        atomic_fetch_add(&mv->rows_read, b->n_rows);
        atomic_fetch_add(&mv->chunks_done, 1);
        atomic_store(&mv->keys, t.used);
        ldr_batch_free(b);
        ldr_arena_fini(&scratch);
        ldr_arena_init(&scratch, 0);
    }
    if (null_keys)
        ldr_log(LDR_LOG_WARN,
                "materialize: feature view '%s': %llu rows with a null join key "
                "skipped",
                v->name, (unsigned long long)null_keys);

    /* Pass 2: winners in source order, chunk by chunk. */
    winner *w = t.w ? t.w : ldr_xcalloc(1, sizeof *w);
    size_t n_w = t.used;
    ldr_free(t.idx);
    sort_winners(w, n_w);
    atomic_store(&mv->state, ST_WRITE);
    ldr_online_store *os = rc == LDR_OK ? ldr_online_open(mv->cfg, err) : NULL;
    if (rc == LDR_OK && !os)
        rc = err->code;
    /* The table normally exists since apply; a registry applied before this store
     * existed (or a store file that was replaced) gets it here. Idempotent. */
    if (rc == LDR_OK)
        rc = ldr_online_update(os, &mv->ov, 1, NULL, 0, err);
    if (rc == LDR_OK)
        rc = write_pass(scan, mv, w, n_w, fcols, ftypes, os, err);
    atomic_store(&mv->chunks_done, atomic_load(&mv->chunks_total));
    ldr_free(w);
    ldr_online_close(os);
    ldr_free(kv);
    ldr_arena_fini(&scratch);
    ldr_buf_fini(&kb);
    ldr_arena_fini(&keys);
    ldr_free(kcols);
    ldr_free(ktypes);
    ldr_free(fcols);
    ldr_free(ftypes);
    ldr_offline_scan_close(scan);
    return rc;
}

/* ---- the pool ------------------------------------------------------------------------------ */

typedef struct pool {
    mat_view *views;
    size_t n;
    _Atomic size_t next;
    _Atomic size_t done;
} pool;

static void run_pool(pool *p, bool own_thread)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        mat_view *mv = &p->views[i];
        mv->own_thread = own_thread;
        if (!mv->skip) {
            ldr_err_clear(&mv->err);
            mv->rc = run_view(mv, &mv->err);
            if (mv->rc != LDR_OK)
                ldr_err_prefix(&mv->err, "feature view '%s': ", mv->view->name);
            atomic_store(&mv->state, mv->rc == LDR_OK ? ST_DONE : ST_FAILED);
        }
        atomic_fetch_add(&p->done, 1);
    }
}

static void *worker(void *arg)
{
    run_pool(arg, true);
    return NULL;
}

static void report(const ldr_mat_request *req, pool *p, ldr_mat_progress *snap, bool final)
{
    if (!req->progress)
        return;
    for (size_t i = 0; i < p->n; i++) {
        mat_view *mv = &p->views[i];
        snap[i] = (ldr_mat_progress){
            .view = mv->view->name,
            .start = mv->start,
            .end = mv->end,
            .rows_read = atomic_load(&mv->rows_read),
            .chunks_done = atomic_load(&mv->chunks_done),
            .chunks_total = atomic_load(&mv->chunks_total),
            .keys = atomic_load(&mv->keys),
            .rows_written = atomic_load(&mv->rows_written),
            .state = atomic_load(&mv->state),
        };
    }
    req->progress(req->progress_ctx, snap, p->n, final);
}

/* The latest recorded end of a view, or LDR_TS_NONE. */
static ldr_ts latest_end(const ldr_materialization *m, size_t n, const char *view)
{
    ldr_ts best = LDR_TS_NONE;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(m[i].view, view) && m[i].end > best)
            best = m[i].end;
    return best;
}

ldr_code ldr_serving_materialize(const ldr_config *cfg, const ldr_defs *defs, ldr_registry *reg,
                                 const ldr_mat_request *req, ldr_err *err)
{
    if (!req->incremental && req->start != LDR_TS_NONE && req->start > req->end)
        return ldr_err_setf(err, LDR_EINVAL, "the start of the interval is after its end");
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_materialization *hist = NULL;
    size_t n_hist = 0;
    ldr_code rc = ldr_registry_materializations(reg, cfg->project, &a, &hist, &n_hist, err);
    /* The views. */
    size_t cap = req->views ? req->n_views : defs->n_views;
    mat_view *views = ldr_xcalloc(cap + 1, sizeof *views);
    size_t n = 0;
    for (size_t i = 0; rc == LDR_OK && i < cap; i++) {
        const ldr_view *v;
        if (req->views) {
            v = ldr_defs_find_view(defs, req->views[i]);
            if (!v) {
                rc = ldr_err_setf(err, LDR_ENOTFOUND, "feature view '%s' does not exist",
                                  req->views[i]);
                break;
            }
            if (!v->online) {
                rc = ldr_err_setf(err, LDR_EINVAL,
                                  "feature view '%s' is not online (online: false); it cannot be "
                                  "materialized",
                                  v->name);
                break;
            }
            bool dup = false;
            for (size_t k = 0; k < n && !dup; k++)
                dup = views[k].view == v;
            if (dup)
                continue;
        } else {
            v = &defs->views[i];
            if (!v->online)
                continue;
        }
        mat_view *mv = &views[n++];
        mv->cfg = cfg;
        mv->defs = defs;
        mv->view = v;
        mv->lock_fd = -1;
        mv->end = req->end;
        ldr_serving_online_view(defs, cfg->project, v, &a, &mv->ov);
        if (req->incremental) {
            ldr_ts last = latest_end(hist, n_hist, v->name);
            if (last != LDR_TS_NONE)
                mv->start = last;
            else if (v->ttl > 0 && req->end - v->ttl < req->end)
                mv->start = req->end - v->ttl;
            else
                mv->start = LDR_TS_NONE;
            if (mv->start != LDR_TS_NONE && mv->start >= mv->end) {
                mv->skip = true;
                atomic_store(&mv->state, ST_UPTODATE);
            }
        } else {
            mv->start = req->start;
        }
    }
    if (rc == LDR_OK && n == 0)
        rc = ldr_err_setf(err, LDR_EINVAL, "no online feature views to materialize");
    for (size_t i = 0; rc == LDR_OK && i < n; i++)
        if (!views[i].skip)
            rc = lock_view(cfg, views[i].view->name, &views[i].lock_fd, err);
    if (rc == LDR_OK) {
        pool p = {.views = views, .n = n};
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        size_t threads = req->threads > 0 ? (size_t)req->threads : ncpu > 0 ? (size_t)ncpu : 1;
        if (threads > n)
            threads = n;
        /* Workers take views; the calling thread reports progress (or works itself
         * when no thread could be started). */
        pthread_t *tids = ldr_xcalloc(threads, sizeof *tids);
        size_t started = 0;
        for (; started < threads; started++)
            if (pthread_create(&tids[started], NULL, worker, &p) != 0)
                break;
        ldr_mat_progress *snap = ldr_xcalloc(n, sizeof *snap);
        if (started == 0)
            run_pool(&p, false); /* the caller's thread keeps its priority */
        for (unsigned tick = 1; atomic_load(&p.done) < n; tick++) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (tick % 40 == 0) /* every 200 ms */
                report(req, &p, snap, false);
        }
        for (size_t i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        ldr_free(tids);
        /* Record the intervals of the views that succeeded; report the first failure. */
        ldr_ts now = ldr_ts_now();
        for (size_t i = 0; i < n; i++) {
            mat_view *mv = &views[i];
            if (mv->skip)
                continue;
            if (mv->rc != LDR_OK) {
                if (rc == LDR_OK) {
                    *err = mv->err;
                    rc = mv->rc;
                }
                continue;
            }
            ldr_materialization m = {.view = mv->view->name,
                                     .start = mv->start,
                                     .end = mv->end,
                                     .recorded = now,
                                     .rows = atomic_load(&mv->rows_written)};
            ldr_err e2;
            ldr_err_clear(&e2);
            if (ldr_registry_record_materialization(reg, cfg->project, &m, &e2) != LDR_OK) {
                atomic_store(&mv->state, ST_FAILED);
                if (rc == LDR_OK) {
                    *err = e2;
                    rc = e2.code;
                }
            }
        }
        report(req, &p, snap, true);
        ldr_free(snap);
    }
    for (size_t i = 0; i < n; i++)
        if (views[i].lock_fd >= 0)
            close(views[i].lock_fd);
    ldr_free(views);
    ldr_arena_fini(&a);
    return rc;
}
