/*
 * sqlite.c -- the SQLite online store (type "sqlite"), the embedded default
 * (`online_store: {type: sqlite, path: data/online.db}`).
 *
 * One table per view, named "<project>_<view>" like Feast's (identifiers quoted):
 *   entity_key BLOB PRIMARY KEY   Feast v3 serialized key
 *   value      BLOB NOT NULL      the row codec's bytes (online.h)
 *   event_ts   INTEGER NOT NULL   microseconds since the epoch
 *   created_ts INTEGER            microseconds, NULL when the source has none
 * WITHOUT ROWID, so a read is one B-tree descent on the key. Unlike Feast's table (one row
 * per entity *and feature*), one row holds an entity's whole view: a read is one lookup
 * and a write one upsert. Newer-wins is a single UPSERT whose DO UPDATE has a WHERE
 * clause, so the comparison happens inside SQLite against the stored row, including rows
 * written earlier in the same batch.
 *
 * The connection runs in WAL mode (readers never block the writer) with
 * synchronous=NORMAL and a busy timeout; writes take the lock with BEGIN IMMEDIATE.
 * Statements are prepared once per handle and table and cached (tables are looked up by
 * name in an ldr_map). One handle per thread: the connection is opened NOMUTEX.
 *
 * Held read snapshot: a read transaction in autocommit mode costs a few lock system calls
 * (fcntl on the database and the -shm file) each time, most of a one-key read. So reads
 * keep their read transaction open between calls and reuse it while the database has
 * not changed: every commit, by any connection or process, rewrites the WAL-index
 * header at the start of the -shm file (sqlite.org/walformat.html), and reads compare the
 * header's first copy (48 bytes, mapped with the VFS's own xShmMap) with the one seen
 * when the transaction started; any difference ends the transaction and starts a new
 * one. Reads therefore see every commit that completed before they began, as before.
 * Writes on the handle end the held transaction first. An idle handle keeps its old
 * snapshot, which stops checkpoints from recycling the WAL past it until its next read
 * or close. Without a -shm mapping (not WAL) every read is its own transaction.
 *
 * Row cache: while one read snapshot is held, a key's row cannot change, so the stored
 * bytes of rows read (and "no row" answers) are kept per handle, keyed by (table, entity
 * key), and a repeated key skips SQLite's statement (bind, B-tree descent, reset: about
 * 5 k instructions of a 10-feature read). The cache belongs to the snapshot: it is emptied
 * whenever the snapshot ends (a commit seen, a write on the handle, a check, close), so a
 * cached answer is always the one SQLite would give. Bounded: RC_MAX_ENTRIES entries and
 * RC_MAX_BYTES of copied bytes per handle, emptied when either is reached. Entries carry
 * the generation they were added in; emptying bumps the generation, so it costs nothing
 * per slot.
 * sqlite.c and registry/registry_sqlite.c are the only files including sqlite3.h.
 */
#include "online/online.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "online/online_int.h"

#define BUSY_TIMEOUT_MS 5000
#define ROW_MAX_BYTES   ((size_t)1 << 30) /* SQLite's default blob limit is 1e9 bytes */
#define WAL_HDR_BYTES   48                /* one copy of the WAL-index header */

typedef struct sql_table {
    char *name;           /* "<project>_<view>": the map key and the table's name */
    char *quoted;         /* the name as an SQL identifier */
    sqlite3_stmt *upsert; /* prepared on first write; NULL until then */
    sqlite3_stmt *select; /* prepared on first read */
} sql_table;

/* Row cache (file comment). Slots: open addressing, RC_SLOTS a power of two, at most
 * half full. */
#define RC_SLOTS       8192
#define RC_MAX_ENTRIES (RC_SLOTS / 2)
#define RC_MAX_BYTES   ((size_t)8 << 20)

typedef struct rc_entry {
    uint64_t gen; /* the entry is live when this is the store's rc_gen */
    uint64_t hash;
    const sql_table *t;
    const uint8_t *key; /* copied into rc_arena */
    size_t key_len;
    const uint8_t *row; /* copied; NULL when the table has no row for the key */
    size_t row_len;
    ldr_ts event_ts, created_ts;
} rc_entry;

typedef struct sql_store {
    sqlite3 *db;
    char *path;     /* for messages */
    ldr_map tables; /* name -> sql_table *; keys borrowed from the entries */
    sql_table **list;
    size_t n_tables, cap_tables;
    ldr_buf enc; /* one encoded row at a time */
    /* The held read snapshot (file comment): shm is the WAL-index header (NULL until
     * mapped, or when there is none), seen its first copy when the transaction began. */
    const volatile unsigned char *shm;
    unsigned char seen[WAL_HDR_BYTES];
    bool held;
    bool no_shm; /* mapping failed once: do not retry */
    /* The row cache of the held snapshot: slots allocated on first use. */
    rc_entry *rc;
    uint64_t rc_gen; /* starts at 1: zeroed slots are never live */
    size_t rc_n;
    ldr_arena rc_arena;
} sql_store;

/* ---- Errors and statements ------------------------------------------------------------- */

/* Copies SQLite's message for a failure of `what` into err, mapping the result code. */
static ldr_code db_error(const sql_store *s, int rc, const char *what, ldr_err *err)
{
    ldr_code code = LDR_EBACKEND;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = LDR_EBUSY;
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        code = LDR_ECORRUPT;
        break;
    default:
        break;
    }
    return ldr_err_setf(err, code, "online store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Runs one parameterless statement to completion. */
static ldr_code exec_sql(const sql_store *s, const char *sql, const char *what, ldr_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        }
    }
    ldr_code code = rc == SQLITE_DONE ? LDR_OK : db_error(s, rc, what, err);
    sqlite3_finalize(st);
    return code;
}

static void rollback(const sql_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        (void)exec_sql(s, "ROLLBACK", "rolling back", NULL);
}

/* Empties the row cache (a new generation). */
static void rc_clear(sql_store *s)
{
    if (s->rc_n) {
        s->rc_gen++;
        s->rc_n = 0;
        ldr_arena_reset(&s->rc_arena);
    }
}

/* Ends the held read snapshot, if any (before writes, checks and close), and with it the
 * row cache. */
static void release_snapshot(sql_store *s)
{
    if (s->held) {
        s->held = false;
        rollback(s);
    }
    rc_clear(s);
}

static uint64_t rc_hash(const sql_table *t, const ldr_online_keyref *k)
{
    return ldr_hash_bytes(k->ptr, k->len) ^ ((uint64_t)(uintptr_t)t * UINT64_C(0x9E3779B97F4A7C15));
}

/* The live entry for (t, key), or the free slot where it would go (gen not live). */
static rc_entry *rc_find(sql_store *s, const sql_table *t, const ldr_online_keyref *k, uint64_t h)
{
    size_t i = (size_t)h & (RC_SLOTS - 1);
    for (;;) {
        rc_entry *e = &s->rc[i];
        if (e->gen != s->rc_gen)
            return e;
        if (e->hash == h && e->t == t && e->key_len == k->len &&
            (!k->len || !memcmp(e->key, k->ptr, k->len)))
            return e;
        i = (i + 1) & (RC_SLOTS - 1);
    }
}

/* Remembers a read's answer in slot e (from rc_find, not live), unless over a bound. */
static void rc_add(sql_store *s, rc_entry *e, const sql_table *t, const ldr_online_keyref *k,
                   uint64_t h, const void *row, size_t row_len, ldr_ts event_ts, ldr_ts created_ts)
{
    size_t bytes = k->len + (row ? row_len : 0);
    if (bytes > RC_MAX_BYTES / 8)
        return; /* a huge row would crowd out the rest */
    if (s->rc_n >= RC_MAX_ENTRIES || s->rc_arena.total > RC_MAX_BYTES - bytes) {
        rc_clear(s);
        e = rc_find(s, t, k, h); /* the slot may now be an earlier one */
    }
    uint8_t *kc = ldr_arena_alloc(&s->rc_arena, k->len + 1);
    if (k->len)
        memcpy(kc, k->ptr, k->len);
    uint8_t *rc = NULL;
    if (row) {
        rc = ldr_arena_alloc(&s->rc_arena, row_len + 1);
        if (row_len)
            memcpy(rc, row, row_len);
    }
    *e = (rc_entry){s->rc_gen, h, t, kc, k->len, rc, row_len, event_ts, created_ts};
    s->rc_n++;
}

/* Maps the WAL-index header through the connection's VFS (the mapping SQLite itself
 * uses, valid while the connection is in WAL mode, that is, until close). Needs the WAL
 * open, so it is called once a read has run. */
static void map_shm(sql_store *s)
{
    sqlite3_file *f = NULL;
    volatile void *p = NULL;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f &&
        f->pMethods && f->pMethods->iVersion >= 2 && f->pMethods->xShmMap &&
        f->pMethods->xShmMap(f, 0, 32768, 0, &p) == SQLITE_OK && p)
        s->shm = (const volatile unsigned char *)p;
    else
        s->no_shm = true;
}

static bool snapshot_current(const sql_store *s)
{
    unsigned char now[WAL_HDR_BYTES];
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* as SQLite's walShmBarrier before reading */
    for (size_t i = 0; i < WAL_HDR_BYTES; i++)
        now[i] = s->shm[i];
    return memcmp(now, s->seen, WAL_HDR_BYTES) == 0;
}

/* Makes sure a read transaction on the database's current state is open: the held one
 * when nothing was committed since it began, else a new one. *txn is set when the
 * caller must end it (no held snapshot: no -shm mapping). */
static ldr_code begin_read(sql_store *s, size_t n_keys, bool *txn, ldr_err *err)
{
    *txn = false;
    if (s->held && snapshot_current(s))
        return LDR_OK;
    release_snapshot(s);
    if (!sqlite3_get_autocommit(s->db))
        return LDR_OK; /* inside a caller's transaction: read in it */
    if (!s->shm) {
        /* Without the mapping (first read, or no WAL) a read is its own transaction;
         * several keys share one, so they come from one snapshot. */
        if (n_keys <= 1)
            return LDR_OK;
        *txn = true;
        return exec_sql(s, "BEGIN", "starting a read transaction", err);
    }
    /* The header is copied before the transaction takes its snapshot: a commit in
     * between only causes one needless renewal, never a missed change. */
    for (size_t i = 0; i < WAL_HDR_BYTES; i++)
        s->seen[i] = s->shm[i];
    ldr_code rc = exec_sql(s, "BEGIN", "starting a read transaction", err);
    s->held = rc == LDR_OK;
    return rc;
}

/* Starts a write transaction, taking the write lock now rather than at the first write
 * (a deferred transaction that upgrades can fail with SQLITE_BUSY without waiting). */
static ldr_code begin_write(const sql_store *s, ldr_err *err)
{
    ldr_code rc = exec_sql(s, "BEGIN IMMEDIATE", "starting a write transaction", err);
    if (rc == LDR_EBUSY)
        rc = ldr_err_setf(err, LDR_EBUSY,
                          "online store %s is locked by another writer (waited %d ms)", s->path,
                          BUSY_TIMEOUT_MS);
    return rc;
}

/* Commits when rc is LDR_OK, else rolls back; returns the first failure. */
static ldr_code end_txn(const sql_store *s, ldr_code rc, ldr_err *err)
{
    if (rc == LDR_OK)
        rc = exec_sql(s, "COMMIT", "committing", err);
    if (rc != LDR_OK)
        rollback(s);
    return rc;
}

/* ---- Tables ---------------------------------------------------------------------------- */

/* Writes "<project>_<view>" into buf when it fits (cap bytes), else into a new heap
 * string; the caller frees a result that is not buf. No snprintf: it runs on every read. */
static char *table_name(const ldr_online_view *v, char *buf, size_t cap)
{
    size_t lp = strlen(v->project), ln = strlen(v->name);
    char *name = lp + ln + 2 <= cap ? buf : ldr_xmalloc(lp + ln + 2);
    memcpy(name, v->project, lp);
    name[lp] = '_';
    memcpy(name + lp + 1, v->name, ln + 1);
    return name;
}

/* "name" with embedded double quotes doubled: safe for any name. */
static char *quote_ident(const char *name)
{
    size_t len = 3;
    for (const char *p = name; *p; p++)
        len += *p == '"' ? 2 : 1;
    char *q = ldr_xmalloc(len), *o = q;
    *o++ = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            *o++ = '"';
        *o++ = *p;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

/* The cache entry of the view's table (created when first seen; it says nothing about
 * whether the table exists). */
static sql_table *table_of(sql_store *s, const ldr_online_view *v)
{
    char buf[256];
    char *name = table_name(v, buf, sizeof buf);
    sql_table *t = ldr_map_get(&s->tables, name);
    if (t) {
        if (name != buf)
            ldr_free(name);
        return t;
    }
    t = ldr_xcalloc(1, sizeof *t);
    t->name = name != buf ? name : ldr_xstrdup(buf);
    t->quoted = quote_ident(name);
    if (s->n_tables == s->cap_tables) {
        s->cap_tables = s->cap_tables ? s->cap_tables * 2 : 8;
        s->list = ldr_xreallocarray(s->list, s->cap_tables, sizeof *s->list);
    }
    s->list[s->n_tables++] = t;
    ldr_map_put(&s->tables, t->name, t);
    return t;
}

static void forget_statements(sql_table *t)
{
    sqlite3_finalize(t->upsert);
    sqlite3_finalize(t->select);
    t->upsert = t->select = NULL;
}

static bool table_exists(const sql_store *s, const char *name)
{
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

/* A failure to prepare or run a statement on the view's table: LDR_ENOTFOUND when the
 * table does not exist (apply never created it, or another process dropped it). */
static ldr_code table_error(const sql_store *s, sql_table *t, const ldr_online_view *v, int rc,
                            const char *what, ldr_err *err)
{
    if ((rc & 0xff) == SQLITE_ERROR && !table_exists(s, t->name)) {
        forget_statements(t);
        return ldr_err_setf(err, LDR_ENOTFOUND,
                            "online store %s: view %s.%s has no table %s (apply it first)", s->path,
                            v->project, v->name, t->quoted);
    }
    return db_error(s, rc, what, err);
}

/* Prepares (once) the statement `before` <table> `after` of the view's table. */
static ldr_code prepare_cached(sql_store *s, sql_table *t, const ldr_online_view *v,
                               const char *before, const char *after, sqlite3_stmt **slot,
                               ldr_err *err)
{
    if (*slot)
        return LDR_OK;
    ldr_buf sql;
    ldr_buf_init(&sql, 4096);
    ldr_code rc = ldr_buf_printf(&sql, err, "%s%s%s", before, t->quoted, after);
    if (rc == LDR_OK) {
        int src = sqlite3_prepare_v3(s->db, sql.ptr, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (src != SQLITE_OK) {
            *slot = NULL;
            rc = table_error(s, t, v, src, "preparing a statement", err);
        }
    }
    ldr_buf_fini(&sql);
    return rc;
}

static ldr_code create_table(const sql_store *s, const sql_table *t, ldr_err *err)
{
    ldr_buf sql;
    ldr_buf_init(&sql, 4096);
    ldr_code rc = ldr_buf_printf(&sql, err,
                                 "CREATE TABLE IF NOT EXISTS %s (entity_key BLOB PRIMARY KEY,"
                                 " value BLOB NOT NULL, event_ts INTEGER NOT NULL,"
                                 " created_ts INTEGER) WITHOUT ROWID",
                                 t->quoted);
    if (rc == LDR_OK)
        rc = exec_sql(s, sql.ptr, "creating a table", err);
    ldr_buf_fini(&sql);
    return rc;
}

static ldr_code drop_table(const sql_store *s, sql_table *t, ldr_err *err)
{
    forget_statements(t);
    ldr_buf sql;
    ldr_buf_init(&sql, 4096);
    ldr_code rc = ldr_buf_printf(&sql, err, "DROP TABLE IF EXISTS %s", t->quoted);
    if (rc == LDR_OK)
        rc = exec_sql(s, sql.ptr, "dropping a table", err);
    ldr_buf_fini(&sql);
    return rc;
}

static ldr_code drop_all(sql_store *s, const ldr_online_view *views, size_t n, ldr_err *err)
{
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++)
        rc = drop_table(s, table_of(s, &views[i]), err);
    return rc;
}

/* ---- Open and close -------------------------------------------------------------------- */

/* Creates every missing directory above path ("mkdir -p" of its dirname). */
static ldr_code ensure_parent_dirs(const char *path, ldr_err *err)
{
    char *dir = ldr_xstrdup(path);
    ldr_code rc = LDR_OK;
    for (char *p = dir + 1; *p && rc == LDR_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        struct stat sb;
        if (stat(dir, &sb) != 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
            rc = ldr_err_sys(err, LDR_EIO, errno, "online store %s: cannot create directory %s",
                             path, dir);
        *p = '/';
    }
    ldr_free(dir);
    return rc;
}

/* Switches to WAL. The switch needs an exclusive lock, and SQLite returns SQLITE_BUSY at
 * once (without the busy handler) when another connection is reading at that moment, so
 * retry until the busy timeout has passed. Returns a SQLite result code. */
static int set_wal_mode(const sql_store *s)
{
    int src;
    for (int waited_ms = 0;; waited_ms += 5) {
        sqlite3_stmt *st;
        src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (src == SQLITE_OK) {
            while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            }
            sqlite3_finalize(st);
        }
        if ((src & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_sleep(5);
    }
    return src == SQLITE_DONE ? SQLITE_OK : src;
}

static ldr_code configure(const sql_store *s, ldr_err *err)
{
    int src = set_wal_mode(s);
    if ((src & 0xff) == SQLITE_NOTADB)
        return ldr_err_setf(err, LDR_ECORRUPT, "online store %s is not a SQLite database (%s)",
                            s->path, sqlite3_errmsg(s->db));
    if (src != SQLITE_OK)
        return db_error(s, src, "setting WAL journal mode", err);
    return exec_sql(s, "PRAGMA synchronous=NORMAL", "setting synchronous mode", err);
}

static void sql_close(void *self)
{
    sql_store *s = self;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_tables; i++) {
        forget_statements(s->list[i]);
        ldr_free(s->list[i]->name);
        ldr_free(s->list[i]->quoted);
        ldr_free(s->list[i]);
    }
    ldr_free(s->list);
    ldr_map_fini(&s->tables);
    ldr_buf_fini(&s->enc);
    if (s->rc) {
        ldr_free(s->rc);
        ldr_arena_fini(&s->rc_arena);
    }
    if (s->db) {
        s->held = false;
        rollback(s);
        int rc = sqlite3_close(s->db);
        LDR_DEBUG_ASSERT(rc == SQLITE_OK); /* every statement is finalized above */
        (void)rc;
    }
    ldr_free(s->path);
    ldr_free(s);
}

static ldr_code sql_open(const ldr_config *cfg, void **self, ldr_err *err)
{
    if (!cfg->online_path || !cfg->online_path[0])
        return ldr_err_setf(err, LDR_EINVAL, "online store type sqlite needs a path");
    sql_store *s = ldr_xcalloc(1, sizeof *s);
    s->path = ldr_xstrdup(cfg->online_path);
    ldr_map_init(&s->tables);
    ldr_buf_init(&s->enc, ROW_MAX_BYTES);
    s->rc_gen = 1;
    ldr_code rc = ensure_parent_dirs(s->path, err);
    if (rc != LDR_OK)
        goto fail;
    int src = sqlite3_open_v2(
        s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(s, src, "cannot open", err);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if ((rc = configure(s, err)) != LDR_OK)
        goto fail;
    *self = s;
    return LDR_OK;
fail:
    sql_close(s);
    return rc;
}

/* ---- Operations ------------------------------------------------------------------------ */

static ldr_code sql_update(void *self, const ldr_online_view *keep_or_add, size_t n_add,
                           const ldr_online_view *drop, size_t n_drop, ldr_err *err)
{
    sql_store *s = self;
    release_snapshot(s);
    ldr_code rc = begin_write(s, err);
    if (rc != LDR_OK)
        return rc;
    rc = drop_all(s, drop, n_drop, err);
    for (size_t i = 0; i < n_add && rc == LDR_OK; i++)
        rc = create_table(s, table_of(s, &keep_or_add[i]), err);
    return end_txn(s, rc, err);
}

static ldr_code sql_teardown(void *self, const ldr_online_view *views, size_t n, ldr_err *err)
{
    sql_store *s = self;
    release_snapshot(s);
    ldr_code rc = begin_write(s, err);
    if (rc != LDR_OK)
        return rc;
    rc = drop_all(s, views, n, err);
    return end_txn(s, rc, err);
}

/* Newer wins (ldr__online_newer): the conflict update applies only when the incoming row
 * has a later event timestamp, or the same one and a created timestamp at least as late
 * (NULL, "none", is older than any). Unqualified columns in the DO UPDATE's WHERE are
 * the stored row's; excluded.* is the incoming one. */
static const char upsert_sql[] =
    " (entity_key, value, event_ts, created_ts) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (entity_key) DO UPDATE SET value = excluded.value,"
    " event_ts = excluded.event_ts, created_ts = excluded.created_ts"
    " WHERE excluded.event_ts > event_ts OR (excluded.event_ts = event_ts AND"
    " (created_ts IS NULL OR excluded.created_ts >= created_ts))";

/* Encodes and upserts one row; *written is 1 when it inserted or replaced. */
static ldr_code upsert_row(sql_store *s, sql_table *t, const ldr_online_view *v,
                           const ldr_online_row_layout *layout, const ldr_online_row *r,
                           int *written, ldr_err *err)
{
    sqlite3_stmt *st = t->upsert;
    ldr_buf_reset(&s->enc);
    ldr_code rc = ldr_online_row_encode(layout, r->values, &s->enc, err);
    if (rc != LDR_OK)
        return rc;
    sqlite3_reset(st);
    int src = sqlite3_bind_blob(st, 1, r->key.ptr, (int)r->key.len, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_blob(st, 2, s->enc.ptr, (int)s->enc.len, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_bind_int64(st, 3, r->event_ts);
    if (src == SQLITE_OK)
        src = r->created_ts == LDR_TS_NONE ? sqlite3_bind_null(st, 4)
                                           : sqlite3_bind_int64(st, 4, r->created_ts);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    *written = src == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
    sqlite3_reset(st);
    return src == SQLITE_DONE ? LDR_OK : table_error(s, t, v, src, "writing a row", err);
}

/*
 * One transaction per call. A crash (process killed, power lost) in the middle leaves
 * every row either as it was or as written: SQLite commits a transaction atomically
 * (in WAL mode, by appending its frames and a commit record to the -wal file; a
 * transaction without its commit record is ignored on recovery). synchronous=NORMAL may
 * lose the last commits on power loss, never half of one.
 */
static ldr_code sql_write(void *self, const ldr_online_view *v, const ldr_online_row *rows,
                          size_t n, size_t *n_written, ldr_err *err)
{
    sql_store *s = self;
    release_snapshot(s);
    sql_table *t = table_of(s, v);
    size_t written = 0;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_online_row_layout layout;
    ldr_code rc = ldr_online_row_layout_init(&layout, v->features, v->n_features, &a, err);
    if (rc == LDR_OK)
        rc = begin_write(s, err);
    if (rc != LDR_OK)
        goto out;
    rc = prepare_cached(s, t, v, "INSERT INTO ", upsert_sql, &t->upsert, err);
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        if (rows[i].key.len > ROW_MAX_BYTES) {
            rc = ldr_err_setf(err, LDR_ELIMIT, "entity key of %zu bytes", rows[i].key.len);
        } else {
            int w = 0;
            rc = upsert_row(s, t, v, &layout, &rows[i], &w, err);
            written += w > 0;
        }
        if (rc != LDR_OK)
            ldr_err_prefix(err, "row %zu: ", i);
    }
    rc = end_txn(s, rc, err);
    *n_written = rc == LDR_OK ? written : 0;
out:
    if (rc != LDR_OK)
        ldr_err_prefix(err, "online write to %s.%s: ", v->project, v->name);
    ldr_arena_fini(&a);
    return rc;
}

/* Looks one key up with the table's cached SELECT. */
static ldr_code read_key(sql_store *s, sql_table *t, const ldr_online_view *v,
                         const ldr_online_row_proj *p, const ldr_online_keyref *key, ldr_arena *a,
                         ldr_online_hit *out, ldr_err *err)
{
    if (key->len > ROW_MAX_BYTES) { /* longer than any key a write accepts */
        ldr__online_hit_miss(p, a, out);
        return LDR_OK;
    }
    /* Inside the held snapshot, an answer read before is the answer (file comment). */
    rc_entry *slot = NULL;
    uint64_t h = 0;
    if (s->held) {
        if (!s->rc) {
            s->rc = ldr_xcalloc(RC_SLOTS, sizeof *s->rc);
            ldr_arena_init(&s->rc_arena, 64u << 10);
        }
        h = rc_hash(t, key);
        slot = rc_find(s, t, key, h);
        if (slot->gen == s->rc_gen) {
            if (!slot->row) {
                ldr__online_hit_miss(p, a, out);
                return LDR_OK;
            }
            return ldr__online_hit_decode(p, v, slot->row, slot->row_len, slot->event_ts,
                                          slot->created_ts, a, out, err);
        }
    }
    sqlite3_stmt *st = t->select;
    int src = sqlite3_bind_blob(st, 1, key->len ? key->ptr : "", (int)key->len, SQLITE_STATIC);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    ldr_code rc = LDR_OK;
    if (src == SQLITE_ROW) {
        ldr_ts created =
            sqlite3_column_type(st, 2) == SQLITE_NULL ? LDR_TS_NONE : sqlite3_column_int64(st, 2);
        const void *row = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        ldr_ts event = sqlite3_column_int64(st, 1);
        rc = ldr__online_hit_decode(p, v, row, (size_t)len, event, created, a, out, err);
        if (rc == LDR_OK && slot)
            rc_add(s, slot, t, key, h, row ? row : "", (size_t)len, event, created);
    } else if (src == SQLITE_DONE) {
        ldr__online_hit_miss(p, a, out);
        if (slot)
            rc_add(s, slot, t, key, h, NULL, 0, LDR_TS_NONE, LDR_TS_NONE);
    } else {
        rc = table_error(s, t, v, src, "reading a row", err);
    }
    if (t->select)
        sqlite3_reset(st);
    return rc;
}

static ldr_code sql_read(void *self, const ldr_online_view *v, const char *const *features,
                         const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                         size_t n_keys, ldr_arena *a, ldr_online_hit *out, ldr_err *err)
{
    sql_store *s = self;
    sql_table *t = table_of(s, v);
    /* All keys in one read transaction, so they come from one snapshot. Point lookups
     * inside it were also the fastest form measured (BENCHMARKS.md, 100 keys: 6.5 k
     * instructions per key, against 7.4 k for IN (...) batches and 8.5 k for a read
     * transaction per key). The transaction is held for the next call (file comment);
     * it begins before the statement is prepared, so the schema is the current one. */
    bool txn;
    ldr_code rc = begin_read(s, n_keys, &txn, err);
    if (rc != LDR_OK)
        return rc;
    rc = prepare_cached(s, t, v, "SELECT value, event_ts, created_ts FROM ",
                        " WHERE entity_key = ?1", &t->select, err);
    if (rc == LDR_OK) {
        ldr_online_row_proj proj;
        ldr_online_row_proj_init(&proj, features, types, n_features, a);
        for (size_t i = 0; i < n_keys && rc == LDR_OK; i++)
            rc = read_key(s, t, v, &proj, &keys[i], a, &out[i], err);
    }
    if (txn)
        rollback(s); /* nothing to commit */
    if (!s->shm && !s->no_shm && rc == LDR_OK)
        map_shm(s); /* a read ran, so the WAL is open */
    return rc;
}

static ldr_code sql_integrity_check(void *self, ldr_err *err)
{
    sql_store *s = self;
    release_snapshot(s);
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (src != SQLITE_OK)
        return db_error(s, src, "checking integrity", err);
    ldr_code rc = LDR_OK;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (!msg || strcmp(msg, "ok") != 0)
            rc = ldr_err_setf(err, LDR_ECORRUPT, "online store %s: integrity check failed: %s",
                              s->path, msg ? msg : "(no message)");
    } else {
        rc = db_error(s, src, "checking integrity", err);
    }
    sqlite3_finalize(st);
    return rc;
}

const ldr_online_ops ldr_online_sqlite_ops = {
    .type = "sqlite",
    .open = sql_open,
    .close = sql_close,
    .update = sql_update,
    .write = sql_write,
    .read = sql_read,
    .teardown = sql_teardown,
    .has_tables = true,
    .key_ordered_writes = true,
    .integrity_check = sql_integrity_check,
};
