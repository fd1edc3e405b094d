/*
 * registry_sqlite.c -- the SQLite registry backend (ldr_registry_sqlite_ops). The only
 * file in Larder that includes sqlite3.h.
 *
 * Schema version 1 (created in one transaction when the file has no tables):
 *   meta(key PK, value)                       schema_version = "1"
 *   versions(project, version, created_at, summary)          PK (project, version)
 *   objects(project, kind, name, spec, created_at, updated_at, version)
 *                                             PK (project, kind, name); current state
 *   object_history(project, version, kind, name, op, spec)   PK (project, version, kind, name)
 * Times are int64 microseconds since the epoch. op is 'add', 'modify' or 'remove' (spec
 * NULL exactly for 'remove'). objects and object_history reference versions (foreign keys
 * on). Invariant: objects equals the state rebuilt from object_history at the latest
 * version, so load(0) reads objects and load(V) replays history.
 *
 * The connection runs in WAL mode: readers never block the writer. Writers take the lock
 * with BEGIN IMMEDIATE, so two applies serialize, the loser waiting busy_timeout_ms.
 * Multi-statement reads outside a write transaction run in a deferred BEGIN..ROLLBACK
 * (nothing to commit) so they see one snapshot. One handle per thread: the connection is
 * opened NOMUTEX.
 */
#include "registry/registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#define SCHEMA_VERSION 2

typedef struct sqlite_reg {
    sqlite3 *db;
    char *path; /* as configured; for messages */
    int busy_timeout_ms;
} sqlite_reg;

/* Materialization intervals: operational state, not definitions, so they are not
 * versions (an apply's diff never shows them) and survive re-applies of the view. */
#define MATERIALIZATIONS_SQL                                                         \
    "CREATE TABLE materializations ("                                                \
    " project TEXT NOT NULL, view TEXT NOT NULL, start_ts INTEGER NOT NULL,"         \
    " end_ts INTEGER NOT NULL, recorded_at INTEGER NOT NULL, rows INTEGER NOT NULL," \
    " PRIMARY KEY (project, view, end_ts, start_ts)) WITHOUT ROWID"

static const char *const schema_sql[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE versions ("
    " project TEXT NOT NULL, version INTEGER NOT NULL CHECK (version > 0),"
    " created_at INTEGER NOT NULL, summary TEXT NOT NULL,"
    " PRIMARY KEY (project, version)) WITHOUT ROWID",
    "CREATE TABLE objects ("
    " project TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, version INTEGER NOT NULL,"
    " PRIMARY KEY (project, kind, name),"
    " FOREIGN KEY (project, version) REFERENCES versions (project, version))",
    "CREATE INDEX objects_by_version ON objects (project, version)",
    "CREATE TABLE object_history ("
    " project TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " op TEXT NOT NULL CHECK (op IN ('add', 'modify', 'remove')),"
    " spec TEXT CHECK ((op = 'remove') = (spec IS NULL)),"
    " PRIMARY KEY (project, version, kind, name),"
    " FOREIGN KEY (project, version) REFERENCES versions (project, version))",
    "CREATE INDEX object_history_by_object ON object_history (project, kind, name, version)",
    /* schema 2 */
    MATERIALIZATIONS_SQL,
};

/* ---- Statement helpers ----------------------------------------------------------------- */

/* Copies SQLite's message for a failure of `what` into err, mapping the result code. */
static ldr_code db_error(const sqlite_reg *r, int rc, const char *what, ldr_err *err)
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
    }
    return ldr_err_setf(err, code, "registry %s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

static ldr_code prepare(const sqlite_reg *r, const char *sql, const char *what, sqlite3_stmt **out,
                        ldr_err *err)
{
    int rc = sqlite3_prepare_v2(r->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return db_error(r, rc, what, err);
    }
    return LDR_OK;
}

/* Binds parameters 1..n described by types: 't' const char * (NULL binds NULL), 'i'
 * int64_t. Strings are bound SQLITE_STATIC: they must outlive the statement's steps. */
static int vbindf(sqlite3_stmt *st, const char *types, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; types[i] && rc == SQLITE_OK; i++) {
        if (types[i] == 't') {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC)
                   : sqlite3_bind_null(st, i + 1);
        } else {
            LDR_ASSERT(types[i] == 'i');
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    return rc;
}

static ldr_code bindf(const sqlite_reg *r, sqlite3_stmt *st, const char *what, ldr_err *err,
                      const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_reset(st);
    int rc = vbindf(st, types, ap);
    va_end(ap);
    return rc == SQLITE_OK ? LDR_OK : db_error(r, rc, what, err);
}

/* Steps a statement that returns no rows (or whose rows are ignored) to completion. */
static ldr_code step_done(const sqlite_reg *r, sqlite3_stmt *st, const char *what, ldr_err *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    ldr_code code = rc == SQLITE_DONE ? LDR_OK : db_error(r, rc, what, err);
    sqlite3_reset(st);
    return code;
}

/* Runs one parameterless statement. */
static ldr_code exec_sql(const sqlite_reg *r, const char *sql, const char *what, ldr_err *err)
{
    sqlite3_stmt *st;
    ldr_code rc = prepare(r, sql, what, &st, err);
    if (rc == LDR_OK)
        rc = step_done(r, st, what, err);
    sqlite3_finalize(st);
    return rc;
}

/* Runs one statement with bound parameters (see vbindf). When out is not NULL it receives
 * the first column of the first row as an integer (0 when there is no row or it is NULL). */
static ldr_code exec_bound(const sqlite_reg *r, const char *sql, const char *what, int64_t *out,
                           ldr_err *err, const char *types, ...)
{
    sqlite3_stmt *st;
    ldr_code rc = prepare(r, sql, what, &st, err);
    if (rc != LDR_OK)
        return rc;
    va_list ap;
    va_start(ap, types);
    int src = vbindf(st, types, ap);
    va_end(ap);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (out)
        *out = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = db_error(r, src, what, err);
    sqlite3_finalize(st);
    return rc;
}

static const char *column_str(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? (const char *)s : "";
}

/* Starts a deferred read transaction unless one (read or write) is already open, so the
 * statements that follow see one consistent snapshot. *owned tells read_end to finish it. */
static ldr_code read_begin(const sqlite_reg *r, bool *owned, ldr_err *err)
{
    *owned = sqlite3_get_autocommit(r->db) != 0;
    return *owned ? exec_sql(r, "BEGIN", "starting a read transaction", err) : LDR_OK;
}

static void read_end(const sqlite_reg *r, bool owned)
{
    /* A read transaction has nothing to commit; ROLLBACK never fails in a useful way. */
    if (owned && !sqlite3_get_autocommit(r->db))
        (void)exec_sql(r, "ROLLBACK", "ending a read transaction", NULL);
}

/* A savepoint makes a multi-statement write all-or-nothing inside the caller's
 * transaction, so a failed write_version leaves the transaction as it was. */
static ldr_code savepoint_begin(const sqlite_reg *r, ldr_err *err)
{
    return exec_sql(r, "SAVEPOINT ldr_write", "starting a savepoint", err);
}

static ldr_code savepoint_end(const sqlite_reg *r, ldr_code rc, ldr_err *err)
{
    if (rc == LDR_OK)
        return exec_sql(r, "RELEASE ldr_write", "releasing a savepoint", err);
    (void)exec_sql(r, "ROLLBACK TO ldr_write", "rolling back a savepoint", NULL);
    (void)exec_sql(r, "RELEASE ldr_write", "releasing a savepoint", NULL);
    return rc;
}

/* ---- Open, schema ---------------------------------------------------------------------- */

/* Creates the directory holding path when it is missing (one level, e.g. "repo/data"). */
static ldr_code ensure_parent_dir(const char *path, ldr_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return LDR_OK;
    char *dir = ldr_xstrndup(path, (size_t)(slash - path));
    ldr_code rc = LDR_OK;
    struct stat sb;
    if (stat(dir, &sb) != 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
        rc = ldr_err_sys(err, LDR_EIO, errno, "registry %s: cannot create directory %s", path, dir);
    ldr_free(dir);
    return rc;
}

/* Switches the file to WAL mode; returns a SQLite result code. The switch needs an
 * exclusive lock, and SQLite returns SQLITE_BUSY at once, without calling the busy handler,
 * when another connection is reading at the same moment (it would risk a deadlock). That
 * happens when several processes open a new registry together, so retry here until the
 * busy timeout has passed. */
static int set_wal_mode(const sqlite_reg *r)
{
    int src, waited_ms = 0;
    for (;;) {
        sqlite3_stmt *st;
        src = sqlite3_prepare_v2(r->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
        if (src == SQLITE_OK) {
            while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            }
            sqlite3_finalize(st);
        }
        if ((src & 0xff) != SQLITE_BUSY || waited_ms >= r->busy_timeout_ms)
            break;
        sqlite3_sleep(5);
        waited_ms += 5;
    }
    return src == SQLITE_DONE ? SQLITE_OK : src;
}

static ldr_code configure(const sqlite_reg *r, ldr_err *err)
{
    int src = set_wal_mode(r);
    ldr_code rc = LDR_OK;
    if ((src & 0xff) == SQLITE_NOTADB)
        rc = ldr_err_setf(err, LDR_ECORRUPT, "registry %s is not a SQLite database (%s)", r->path,
                          sqlite3_errmsg(r->db));
    else if (src != SQLITE_OK)
        rc = db_error(r, src, "setting WAL journal mode", err);
    if (rc == LDR_OK)
        rc = exec_sql(r, "PRAGMA synchronous=NORMAL", "setting synchronous mode", err);
    if (rc == LDR_OK)
        rc = exec_sql(r, "PRAGMA foreign_keys=ON", "enabling foreign keys", err);
    return rc;
}

static ldr_code not_a_registry(const sqlite_reg *r, const char *why, ldr_err *err)
{
    return ldr_err_setf(err, LDR_ECORRUPT,
                        "registry %s is a SQLite database but not a Larder registry (%s)", r->path,
                        why);
}

/* Reads the schema version: 0 for a database without tables (a new file), the stored
 * version for a Larder registry, an error for any other database. Call inside a txn. */
static ldr_code read_schema_version(const sqlite_reg *r, int64_t *out, ldr_err *err)
{
    int64_t n_tables = 0, has_meta = 0;
    ldr_code rc = exec_bound(r, "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                             "reading the schema", &n_tables, err, "");
    if (rc == LDR_OK)
        rc = exec_bound(r, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        "reading the schema", &has_meta, err, "t", "meta");
    if (rc != LDR_OK)
        return rc;
    *out = 0;
    if (n_tables == 0)
        return LDR_OK;
    if (!has_meta)
        return not_a_registry(r, "no meta table", err);
    sqlite3_stmt *st;
    rc = prepare(r, "SELECT value FROM meta WHERE key = 'schema_version'",
                 "reading the schema version", &st, err);
    if (rc != LDR_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *text = column_str(st, 0);
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (end == text || *end || errno || v < 1)
            rc = not_a_registry(r, "invalid schema_version in meta", err);
        *out = v;
    } else if (src == SQLITE_DONE) {
        rc = not_a_registry(r, "no schema_version in meta", err);
    } else {
        rc = db_error(r, src, "reading the schema version", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Creates the schema of a new file. Takes the write lock first and re-checks, since
 * another process may be creating the same file at the same time. */
static ldr_code create_schema(const sqlite_reg *r, int64_t *out_version, ldr_err *err)
{
    ldr_code rc = exec_sql(r, "BEGIN IMMEDIATE", "creating the schema", err);
    if (rc != LDR_OK)
        return rc;
    rc = read_schema_version(r, out_version, err);
    bool create = rc == LDR_OK && *out_version == 0;
    for (size_t i = 0; create && rc == LDR_OK && i < LDR_ARRAY_LEN(schema_sql); i++)
        rc = exec_sql(r, schema_sql[i], "creating the schema", err);
    if (create && rc == LDR_OK) {
        rc = exec_bound(r,
                        "INSERT INTO meta (key, value)"
                        " VALUES ('schema_version', CAST(?1 AS TEXT))",
                        "creating the schema", NULL, err, "i", (int64_t)SCHEMA_VERSION);
        *out_version = SCHEMA_VERSION;
    }
    if (rc == LDR_OK)
        rc = exec_sql(r, "COMMIT", "creating the schema", err);
    if (rc != LDR_OK && !sqlite3_get_autocommit(r->db))
        (void)exec_sql(r, "ROLLBACK", "creating the schema", NULL);
    return rc;
}

/* Schema 1 -> 2: adds the materializations table. Under the write lock, re-checked. */
static ldr_code upgrade_1_to_2(const sqlite_reg *r, int64_t *version, ldr_err *err)
{
    const char *what = "upgrading the registry schema to version 2";
    ldr_code rc = exec_sql(r, "BEGIN IMMEDIATE", what, err);
    if (rc != LDR_OK)
        return rc;
    rc = read_schema_version(r, version, err);
    if (rc == LDR_OK && *version == 1) {
        rc = exec_sql(r, MATERIALIZATIONS_SQL, what, err);
        if (rc == LDR_OK)
            rc = exec_sql(r, "UPDATE meta SET value = '2' WHERE key = 'schema_version'", what, err);
        if (rc == LDR_OK)
            *version = 2;
    }
    if (rc == LDR_OK)
        rc = exec_sql(r, "COMMIT", what, err);
    if (rc != LDR_OK && !sqlite3_get_autocommit(r->db))
        (void)exec_sql(r, "ROLLBACK", what, NULL);
    return rc;
}

static ldr_code ensure_schema(const sqlite_reg *r, ldr_err *err)
{
    bool owned;
    int64_t version = 0;
    ldr_code rc = read_begin(r, &owned, err);
    if (rc != LDR_OK)
        return rc;
    rc = read_schema_version(r, &version, err);
    read_end(r, owned);
    if (rc == LDR_OK && version == 0)
        rc = create_schema(r, &version, err);
    if (rc == LDR_OK && version == 1)
        rc = upgrade_1_to_2(r, &version, err);
    if (rc == LDR_OK && version > SCHEMA_VERSION)
        rc = ldr_err_setf(err, LDR_EUNSUPPORTED,
                          "registry %s has schema version %lld; this Larder supports up to %d",
                          r->path, (long long)version, SCHEMA_VERSION);
    return rc;
}

static void sqlite_close(void *impl)
{
    sqlite_reg *r = impl;
    if (!r)
        return;
    if (r->db) {
        if (!sqlite3_get_autocommit(r->db))
            (void)exec_sql(r, "ROLLBACK", "closing", NULL);
        int rc = sqlite3_close(r->db);
        LDR_DEBUG_ASSERT(rc == SQLITE_OK); /* every statement is finalized where prepared */
        (void)rc;
    }
    ldr_free(r->path);
    ldr_free(r);
}

static ldr_code sqlite_open(const ldr_registry_config *cfg, void **out_impl, ldr_err *err)
{
    sqlite_reg *r = ldr_xcalloc(1, sizeof *r);
    r->path = ldr_xstrdup(cfg->path);
    r->busy_timeout_ms = cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 0;
    ldr_code rc = ensure_parent_dir(r->path, err);
    if (rc != LDR_OK)
        goto fail;
    int src = sqlite3_open_v2(
        r->path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = db_error(r, src, "cannot open", err);
        goto fail;
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, r->busy_timeout_ms);
    rc = configure(r, err);
    if (rc == LDR_OK)
        rc = ensure_schema(r, err);
    if (rc != LDR_OK)
        goto fail;
    *out_impl = r;
    return LDR_OK;
fail:
    sqlite_close(r);
    return rc;
}

/* ---- Transactions ---------------------------------------------------------------------- */

static ldr_code sqlite_begin_write(void *impl, ldr_err *err)
{
    sqlite_reg *r = impl;
    sqlite3_stmt *st;
    ldr_code rc = prepare(r, "BEGIN IMMEDIATE", "starting a write transaction", &st, err);
    if (rc != LDR_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = LDR_OK;
    else if ((src & 0xff) == SQLITE_BUSY)
        rc = ldr_err_setf(err, LDR_EBUSY, "registry %s is locked by another writer (waited %d ms)",
                          r->path, r->busy_timeout_ms);
    else
        rc = db_error(r, src, "starting a write transaction", err);
    sqlite3_finalize(st);
    return rc;
}

static void sqlite_rollback(void *impl)
{
    sqlite_reg *r = impl;
    if (!sqlite3_get_autocommit(r->db))
        (void)exec_sql(r, "ROLLBACK", "rolling back", NULL);
}

static ldr_code sqlite_commit(void *impl, ldr_err *err)
{
    sqlite_reg *r = impl;
    ldr_code rc = exec_sql(r, "COMMIT", "committing", err);
    /* A failed COMMIT may leave the transaction open; end it so the handle is usable. */
    if (rc != LDR_OK)
        sqlite_rollback(r);
    return rc;
}

/* ---- Reads ----------------------------------------------------------------------------- */

static ldr_code sqlite_current_version(void *impl, const char *project, int64_t *out, ldr_err *err)
{
    return exec_bound(impl, "SELECT max(version) FROM versions WHERE project = ?1",
                      "reading the current version", out, err, "t", project);
}

/* Current objects: columns kind, name, spec, created, updated, version. */
static const char load_current_sql[] =
    "SELECT kind, name, spec, created_at, updated_at, version FROM objects"
    " WHERE project = ?1";

/* The state at version ?2 rebuilt from history: the latest history row per (kind, name)
 * at or before ?2, unless it is a removal. created is the time of the most recent 'add'
 * of the object, updated the time of that latest row. */
static const char load_at_sql[] =
    "SELECT h.kind, h.name, h.spec,"
    " (SELECT v.created_at FROM object_history a JOIN versions v"
    "   ON v.project = a.project AND v.version = a.version"
    "   WHERE a.project = h.project AND a.kind = h.kind AND a.name = h.name"
    "   AND a.op = 'add' AND a.version <= h.version ORDER BY a.version DESC LIMIT 1),"
    " (SELECT v.created_at FROM versions v WHERE v.project = h.project"
    "   AND v.version = h.version),"
    " h.version"
    " FROM object_history h"
    " WHERE h.project = ?1 AND h.op <> 'remove' AND h.version = (SELECT max(m.version)"
    "   FROM object_history m WHERE m.project = h.project AND m.kind = h.kind"
    "   AND m.name = h.name AND m.version <= ?2)";

static ldr_code load_rows(const sqlite_reg *r, const char *project, int64_t version,
                          ldr_objset *out, ldr_err *err)
{
    sqlite3_stmt *st;
    const char *what = "loading objects";
    ldr_code rc = prepare(r, version ? load_at_sql : load_current_sql, what, &st, err);
    if (rc != LDR_OK)
        return rc;
    rc = version ? bindf(r, st, what, err, "ti", project, version)
                 : bindf(r, st, what, err, "t", project);
    int src;
    while (rc == LDR_OK && (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src != SQLITE_ROW) {
            rc = db_error(r, src, what, err);
            break;
        }
        ldr_regobj obj = {
            .kind = column_str(st, 0),
            .name = column_str(st, 1),
            .spec = column_str(st, 2),
            .created = sqlite3_column_int64(st, 3),
            .updated = sqlite3_column_int64(st, 4),
            .version = sqlite3_column_int64(st, 5),
        };
        ldr_objset_add(out, &obj);
    }
    sqlite3_finalize(st);
    return rc;
}

static ldr_code check_version_exists(const sqlite_reg *r, const char *project, int64_t version,
                                     ldr_err *err)
{
    int64_t found = 0, latest = 0;
    ldr_code rc = exec_bound(r, "SELECT count(*) FROM versions WHERE project = ?1 AND version = ?2",
                             "checking the version", &found, err, "ti", project, version);
    if (rc == LDR_OK && !found) {
        rc = exec_bound(r, "SELECT max(version) FROM versions WHERE project = ?1",
                        "checking the version", &latest, err, "t", project);
        if (rc == LDR_OK)
            rc = ldr_err_setf(err, LDR_ENOTFOUND,
                              "project %s has no registry version %lld (latest is %lld)", project,
                              (long long)version, (long long)latest);
    }
    return rc;
}

static ldr_code sqlite_load(void *impl, const char *project, int64_t version, ldr_objset *out,
                            ldr_err *err)
{
    sqlite_reg *r = impl;
    bool owned;
    ldr_code rc = read_begin(r, &owned, err);
    if (rc != LDR_OK)
        return rc;
    if (version > 0)
        rc = check_version_exists(r, project, version, err);
    if (rc == LDR_OK)
        rc = load_rows(r, project, version, out, err);
    read_end(r, owned);
    if (rc == LDR_OK)
        ldr_objset_sort(out);
    return rc;
}

static ldr_code sqlite_versions(void *impl, const char *project, ldr_arena *a, ldr_regversion **out,
                                size_t *out_n, ldr_err *err)
{
    sqlite_reg *r = impl;
    const char *what = "listing versions";
    sqlite3_stmt *st;
    ldr_code rc = prepare(r,
                          "SELECT version, created_at, summary FROM versions"
                          " WHERE project = ?1 ORDER BY version",
                          what, &st, err);
    if (rc != LDR_OK)
        return rc;
    rc = bindf(r, st, what, err, "t", project);
    ldr_regversion *items = NULL;
    size_t n = 0, cap = 0;
    int src;
    while (rc == LDR_OK && (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src != SQLITE_ROW) {
            rc = db_error(r, src, what, err);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = ldr_xreallocarray(items, cap, sizeof *items);
        }
        items[n].version = sqlite3_column_int64(st, 0);
        items[n].created = sqlite3_column_int64(st, 1);
        items[n].summary = ldr_arena_strdup(a, column_str(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    if (rc == LDR_OK) {
        *out = ldr_arena_calloc(a, n, sizeof **out);
        if (n)
            memcpy(*out, items, n * sizeof *items);
        *out_n = n;
    }
    ldr_free(items);
    return rc;
}

/* ---- Writes ---------------------------------------------------------------------------- */

typedef struct write_stmts {
    sqlite3_stmt *add;
    sqlite3_stmt *modify;
    sqlite3_stmt *remove;
    sqlite3_stmt *history;
} write_stmts;

static ldr_code write_stmts_prepare(const sqlite_reg *r, write_stmts *ws, ldr_err *err)
{
    const char *what = "preparing the write";
    ldr_code rc = prepare(r,
                          "INSERT INTO objects (project, kind, name, spec, created_at,"
                          " updated_at, version) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                          what, &ws->add, err);
    if (rc == LDR_OK)
        rc = prepare(r,
                     "UPDATE objects SET spec = ?4, updated_at = ?5, version = ?6"
                     " WHERE project = ?1 AND kind = ?2 AND name = ?3",
                     what, &ws->modify, err);
    if (rc == LDR_OK)
        rc = prepare(r, "DELETE FROM objects WHERE project = ?1 AND kind = ?2 AND name = ?3", what,
                     &ws->remove, err);
    if (rc == LDR_OK)
        rc = prepare(r,
                     "INSERT INTO object_history (project, version, kind, name, op, spec)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     what, &ws->history, err);
    return rc;
}

static void write_stmts_finalize(write_stmts *ws)
{
    sqlite3_finalize(ws->add);
    sqlite3_finalize(ws->modify);
    sqlite3_finalize(ws->remove);
    sqlite3_finalize(ws->history);
}

static const char *op_name(ldr_change_op op)
{
    switch (op) {
    case LDR_CHANGE_ADD:
        return "add";
    case LDR_CHANGE_MODIFY:
        return "modify";
    case LDR_CHANGE_REMOVE:
        break;
    }
    return "remove";
}

/* The changeset disagrees with the stored objects. Callers diff inside the same write
 * transaction, so this means a stale changeset (a bug or misuse), not a user error. */
static ldr_code conflict(const sqlite_reg *r, const char *project, const ldr_change *c,
                         ldr_err *err)
{
    return ldr_err_setf(err, LDR_ECORRUPT,
                        "registry %s: cannot %s %s %s in project %s: it %s (changeset is stale)",
                        r->path, op_name(c->op), c->kind, c->name, project,
                        c->op == LDR_CHANGE_ADD ? "already exists" : "does not exist");
}

/* Applies one change to objects and records it in object_history. */
static ldr_code apply_change(const sqlite_reg *r, const write_stmts *ws, const char *project,
                             int64_t version, ldr_ts now, const ldr_change *c, ldr_err *err)
{
    const char *what = "writing objects";
    sqlite3_stmt *st = c->op == LDR_CHANGE_ADD      ? ws->add
                       : c->op == LDR_CHANGE_MODIFY ? ws->modify
                                                    : ws->remove;
    const char *spec = c->op == LDR_CHANGE_REMOVE ? NULL : c->new_spec;
    LDR_ASSERT(c->op == LDR_CHANGE_REMOVE || spec);
    ldr_code rc = c->op == LDR_CHANGE_REMOVE
                      ? bindf(r, st, what, err, "ttt", project, c->kind, c->name)
                      : bindf(r, st, what, err, "ttttii", project, c->kind, c->name, spec,
                              (int64_t)now, version);
    if (rc != LDR_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY || src == SQLITE_CONSTRAINT_UNIQUE)
        rc = conflict(r, project, c, err);
    else if (src != SQLITE_DONE)
        rc = db_error(r, src, what, err);
    sqlite3_reset(st);
    if (rc != LDR_OK)
        return rc;
    if (c->op != LDR_CHANGE_ADD && sqlite3_changes(r->db) == 0)
        return conflict(r, project, c, err);
    rc = bindf(r, ws->history, "writing history", err, "titttt", project, version, c->kind, c->name,
               op_name(c->op), spec);
    return rc == LDR_OK ? step_done(r, ws->history, "writing history", err) : rc;
}

static ldr_code write_changes(const sqlite_reg *r, const char *project, const ldr_changeset *cs,
                              ldr_ts now, const char *summary, int64_t *out_version, ldr_err *err)
{
    int64_t version = 0;
    ldr_code rc = exec_bound(r,
                             "SELECT coalesce(max(version), 0) + 1 FROM versions"
                             " WHERE project = ?1",
                             "reading the current version", &version, err, "t", project);
    if (rc == LDR_OK)
        rc = exec_bound(r,
                        "INSERT INTO versions (project, version, created_at, summary)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        "writing the version", NULL, err, "tiit", project, version, (int64_t)now,
                        summary);
    write_stmts ws = {0};
    if (rc == LDR_OK)
        rc = write_stmts_prepare(r, &ws, err);
    for (size_t i = 0; rc == LDR_OK && i < cs->n; i++)
        rc = apply_change(r, &ws, project, version, now, &cs->items[i], err);
    write_stmts_finalize(&ws);
    if (rc == LDR_OK && out_version)
        *out_version = version;
    return rc;
}

static ldr_code sqlite_write_version(void *impl, const char *project, const ldr_changeset *cs,
                                     ldr_ts now, const char *summary, int64_t *out_version,
                                     ldr_err *err)
{
    sqlite_reg *r = impl;
    LDR_ASSERT(!sqlite3_get_autocommit(r->db)); /* ldr_registry_write_version checks */
    ldr_code rc = savepoint_begin(r, err);
    if (rc != LDR_OK)
        return rc;
    rc = write_changes(r, project, cs, now, summary, out_version, err);
    return savepoint_end(r, rc, err);
}

static ldr_code sqlite_purge_project(void *impl, const char *project, ldr_err *err)
{
    /* Children first: objects and object_history reference versions. */
    static const char *const sql[] = {
        "DELETE FROM materializations WHERE project = ?1",
        "DELETE FROM objects WHERE project = ?1",
        "DELETE FROM object_history WHERE project = ?1",
        "DELETE FROM versions WHERE project = ?1",
    };
    sqlite_reg *r = impl;
    LDR_ASSERT(!sqlite3_get_autocommit(r->db));
    ldr_code rc = savepoint_begin(r, err);
    if (rc != LDR_OK)
        return rc;
    for (size_t i = 0; rc == LDR_OK && i < LDR_ARRAY_LEN(sql); i++)
        rc = exec_bound(r, sql[i], "purging the project", NULL, err, "t", project);
    return savepoint_end(r, rc, err);
}

static ldr_code sqlite_record_materialization(void *impl, const char *project,
                                              const ldr_materialization *m, ldr_err *err)
{
    sqlite_reg *r = impl;
    return exec_bound(r,
                      "INSERT OR REPLACE INTO materializations"
                      " (project, view, start_ts, end_ts, recorded_at, rows)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      "recording a materialization", NULL, err, "ttiiii", project, m->view,
                      (int64_t)m->start, (int64_t)m->end, (int64_t)m->recorded, (int64_t)m->rows);
}

static ldr_code sqlite_materializations(void *impl, const char *project, ldr_arena *a,
                                        ldr_materialization **out, size_t *out_n, ldr_err *err)
{
    sqlite_reg *r = impl;
    const char *what = "listing materializations";
    sqlite3_stmt *st;
    ldr_code rc = prepare(r,
                          "SELECT view, start_ts, end_ts, recorded_at, rows FROM materializations"
                          " WHERE project = ?1 ORDER BY view, recorded_at, end_ts",
                          what, &st, err);
    if (rc != LDR_OK)
        return rc;
    rc = bindf(r, st, what, err, "t", project);
    ldr_materialization *items = NULL;
    size_t n = 0, cap = 0;
    int src;
    while (rc == LDR_OK && (src = sqlite3_step(st)) != SQLITE_DONE) {
        if (src != SQLITE_ROW) {
            rc = db_error(r, src, what, err);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = ldr_xreallocarray(items, cap, sizeof *items);
        }
        items[n].view = ldr_arena_strdup(a, column_str(st, 0));
        items[n].start = sqlite3_column_int64(st, 1);
        items[n].end = sqlite3_column_int64(st, 2);
        items[n].recorded = sqlite3_column_int64(st, 3);
        items[n].rows = (uint64_t)sqlite3_column_int64(st, 4);
        n++;
    }
    sqlite3_finalize(st);
    if (rc == LDR_OK) {
        *out = ldr_arena_calloc(a, n ? n : 1, sizeof **out);
        if (n)
            memcpy(*out, items, n * sizeof *items);
        *out_n = n;
    }
    ldr_free(items);
    return rc;
}

const ldr_registry_ops ldr_registry_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .begin_write = sqlite_begin_write,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .current_version = sqlite_current_version,
    .load = sqlite_load,
    .write_version = sqlite_write_version,
    .versions = sqlite_versions,
    .purge_project = sqlite_purge_project,
    .record_materialization = sqlite_record_materialization,
    .materializations = sqlite_materializations,
};
