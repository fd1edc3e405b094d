/*
 * test_registry.c -- unit tests of the registry handle and its SQLite backend: object
 * sets, real registry files in a temporary directory (round trips across reopen, version
 * numbering, the state rebuilt at every historic version, purge), transaction rules,
 * writer serialization (a busy second handle, and two processes applying at once), and
 * refusal of files that are not registries or come from a newer Larder.
 *
 * Each test works in its own directory under a mkdtemp directory created in the working
 * directory (meson runs tests in the build's tests directory); main removes it at the end.
 * Files that must look foreign are made by patching bytes of a real registry file, so
 * the tests need no SQLite API of their own.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "registry/registry.h"

#define T1 1700000000000000LL /* fixed "now" values: microseconds since the epoch */
#define T2 1700000100000000LL
#define T3 1700000200000000LL
#define T4 1700000300000000LL

static char tmp_root[64];
static int dir_seq;

/* A fresh directory for one test; returns "<root>/<n>" in buf. */
static const char *test_dir(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%d", tmp_root, ++dir_seq);
    if (mkdir(buf, 0777) != 0)
        HARNESS_FAIL("mkdir %s: %s", buf, strerror(errno));
    return buf;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static ldr_registry *open_reg(const char *path, int busy_ms, ldr_err *err)
{
    ldr_registry_config cfg = {.type = "sqlite", .path = path, .busy_timeout_ms = busy_ms};
    return ldr_registry_open(&cfg, err);
}

static void set_add(ldr_objset *set, const char *kind, const char *name, const char *spec)
{
    ldr_regobj obj = {.kind = kind, .name = name, .spec = spec};
    ldr_objset_add(set, &obj);
}

/* Applies "registry becomes `want`" the way apply does: diff inside the write txn. */
static ldr_code apply_set(ldr_registry *reg, const char *project, ldr_objset *want, ldr_ts now,
                          int64_t *out_version, ldr_err *err)
{
    ldr_objset cur;
    ldr_changeset cs;
    ldr_objset_init(&cur);
    ldr_changeset_init(&cs);
    ldr_objset_sort(want);
    ldr_code rc = ldr_registry_begin_write(reg, err);
    if (rc == LDR_OK)
        rc = ldr_registry_load(reg, project, 0, &cur, err);
    if (rc == LDR_OK)
        rc = ldr_diff(&cur, want, &cs, err);
    ldr_buf summary;
    ldr_buf_init(&summary, 4096);
    if (rc == LDR_OK)
        rc = ldr_changeset_summary(&cs, &summary, err);
    if (rc == LDR_OK)
        rc = ldr_registry_write_version(reg, project, &cs, now, ldr_buf_cstr(&summary), out_version,
                                        err);
    if (rc == LDR_OK)
        rc = ldr_registry_commit(reg, err);
    else
        ldr_registry_rollback(reg);
    ldr_buf_fini(&summary);
    ldr_changeset_fini(&cs);
    ldr_objset_fini(&cur);
    return rc;
}

/* Replaces every occurrence of `from` by `to` (same length) in a file; returns the count. */
static int patch_file(const char *path, const char *from, const char *to)
{
    size_t len = strlen(from);
    if (strlen(to) != len)
        return -1;
    FILE *f = fopen(path, "r+b");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = ldr_xmalloc((size_t)size);
    int count = 0;
    if (fread(data, 1, (size_t)size, f) == (size_t)size) {
        for (char *p = data; (p = memmem(p, (size_t)(data + size - p), from, len)); p += len) {
            memcpy(p, to, len);
            count++;
        }
        fseek(f, 0, SEEK_SET);
        if (fwrite(data, 1, (size_t)size, f) != (size_t)size)
            count = -1;
    }
    ldr_free(data);
    fclose(f);
    return count;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- Object sets ----------------------------------------------------------------------- */

TEST(kind_rank_orders_by_dependency)
{
    CHECK_EQ_I64(ldr_kind_rank("Project"), 0);
    CHECK_EQ_I64(ldr_kind_rank("Entity"), 1);
    CHECK_EQ_I64(ldr_kind_rank("DataSource"), 2);
    CHECK_EQ_I64(ldr_kind_rank("FeatureView"), 3);
    CHECK_EQ_I64(ldr_kind_rank("OnDemandFeatureView"), 4);
    CHECK_EQ_I64(ldr_kind_rank("FeatureService"), 5);
    CHECK_EQ_I64(ldr_kind_rank("SavedDataset"), 6);
    CHECK_EQ_I64(ldr_kind_rank("Permission"), 6);
}

TEST(objset_sorts_and_finds)
{
    ldr_objset set;
    ldr_objset_init(&set);
    set_add(&set, "FeatureService", "svc", "{}");
    set_add(&set, "Permission", "p", "{}");
    set_add(&set, "FeatureView", "b", "{}");
    set_add(&set, "Entity", "driver", "{\"name\":\"driver\"}");
    set_add(&set, "FeatureView", "a", "{}");
    set_add(&set, "DataSource", "src", "{}");
    set_add(&set, "Permission", "a", "{}");
    set_add(&set, "Alias", "z", "{}");
    ldr_objset_sort(&set);
    static const char *const want[][2] = {
        {"Entity", "driver"}, {"DataSource", "src"},     {"FeatureView", "a"},
        {"FeatureView", "b"}, {"FeatureService", "svc"}, {"Alias", "z"},
        {"Permission", "a"},  {"Permission", "p"},
    };
    CHECK_EQ_I64(set.n, LDR_ARRAY_LEN(want));
    for (size_t i = 0; i < set.n && i < LDR_ARRAY_LEN(want); i++) {
        CHECK_EQ_STR(set.items[i].kind, want[i][0]);
        CHECK_EQ_STR(set.items[i].name, want[i][1]);
    }
    const ldr_regobj *e = ldr_objset_find(&set, "Entity", "driver");
    CHECK(e != NULL);
    if (e)
        CHECK_EQ_STR(e->spec, "{\"name\":\"driver\"}");
    CHECK(ldr_objset_find(&set, "Permission", "p") != NULL);
    CHECK(ldr_objset_find(&set, "Alias", "z") != NULL);
    CHECK(ldr_objset_find(&set, "Entity", "rider") == NULL);
    CHECK(ldr_objset_find(&set, "FeatureView", "driver") == NULL);
    ldr_objset_fini(&set);

    ldr_objset empty;
    ldr_objset_init(&empty);
    ldr_objset_sort(&empty);
    CHECK(ldr_objset_find(&empty, "Entity", "driver") == NULL);
    ldr_objset_fini(&empty);
}

TEST(objset_copies_strings)
{
    char kind[] = "Entity", name[] = "driver", spec[] = "{}";
    ldr_objset set;
    ldr_objset_init(&set);
    ldr_regobj obj = {
        .kind = kind, .name = name, .spec = spec, .created = 5, .updated = 6, .version = 7};
    ldr_objset_add(&set, &obj);
    name[0] = 'X';
    CHECK_EQ_STR(set.items[0].name, "driver");
    CHECK_EQ_I64(set.items[0].created, 5);
    CHECK_EQ_I64(set.items[0].updated, 6);
    CHECK_EQ_I64(set.items[0].version, 7);
    ldr_objset_fini(&set);
}

/* ---- Opening --------------------------------------------------------------------------- */

TEST(open_creates_directory_and_empty_registry)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg) {
        HARNESS_FAIL("%s", err.msg);
        return;
    }
    CHECK(file_exists(path));
    int64_t v = -1;
    CHECK_OK(ldr_registry_current_version(reg, "p", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    ldr_objset set;
    ldr_objset_init(&set);
    CHECK_OK(ldr_registry_load(reg, "p", 0, &set, &err), err);
    CHECK_EQ_I64(set.n, 0);
    ldr_objset_fini(&set);
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_regversion *vs = NULL;
    size_t n = 99;
    CHECK_OK(ldr_registry_versions(reg, "p", &a, &vs, &n, &err), err);
    CHECK_EQ_I64(n, 0);
    ldr_arena_fini(&a);
    ldr_registry_close(reg);

    /* Reopening an existing registry works and does not recreate anything. */
    reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    ldr_registry_close(reg);
    ldr_registry_close(NULL);
}

TEST(open_rejects_unknown_type)
{
    ldr_err err = {0};
    ldr_registry_config cfg = {.type = "postgres", .path = "x.db", .busy_timeout_ms = 10};
    CHECK(ldr_registry_open(&cfg, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EUNSUPPORTED);
    CHECK_EQ_STR(err.msg, "registry type \"postgres\" is not supported (supported: sqlite)");
    CHECK(!file_exists("x.db"));
}

TEST(open_rejects_non_database_file)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    for (int i = 0; i < 64; i++)
        fputs("this is a text file, not a registry\n", f);
    fclose(f);
    ldr_err err = {0};
    CHECK(open_reg(path, 100, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "is not a SQLite database");
}

TEST(open_rejects_foreign_sqlite_database)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 100, &err);
    CHECK(reg != NULL);
    ldr_registry_close(reg);
    /* Renaming the meta table leaves a valid SQLite database that is not a registry. */
    CHECK(patch_file(path, "meta", "mexa") >= 2);
    CHECK(open_reg(path, 100, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "is a SQLite database but not a Larder registry (no meta table)");
}

TEST(open_refuses_newer_schema)
{
    char dir[128], path[256], want[512];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 100, &err);
    CHECK(reg != NULL);
    ldr_registry_close(reg);
    /* meta's record holds the key and the value side by side. */
    CHECK_EQ_I64(patch_file(path, "schema_version2", "schema_version7"), 1);
    CHECK(open_reg(path, 100, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_EUNSUPPORTED);
    snprintf(want, sizeof want, "registry %s has schema version 7; this Larder supports up to 2",
             path);
    CHECK_EQ_STR(err.msg, want);
}

/* ---- Writes and loads ------------------------------------------------------------------ */

TEST(write_and_load_round_trip)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_objset want;
    ldr_objset_init(&want);
    set_add(&want, "FeatureView", "stats", "{\"name\":\"stats\",\"ttl\":\"1d\"}");
    set_add(&want, "Entity", "driver", "{\"name\":\"driver\"}");
    int64_t v = 0;
    CHECK_OK(apply_set(reg, "proj", &want, T1, &v, &err), err);
    CHECK_EQ_I64(v, 1);
    ldr_objset_fini(&want);
    ldr_registry_close(reg);

    reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_objset got;
    ldr_objset_init(&got);
    CHECK_OK(ldr_registry_load(reg, "proj", 0, &got, &err), err);
    CHECK_EQ_I64(got.n, 2);
    if (got.n == 2) {
        CHECK_EQ_STR(got.items[0].kind, "Entity");
        CHECK_EQ_STR(got.items[0].name, "driver");
        CHECK_EQ_STR(got.items[0].spec, "{\"name\":\"driver\"}");
        CHECK_EQ_I64(got.items[0].created, T1);
        CHECK_EQ_I64(got.items[0].updated, T1);
        CHECK_EQ_I64(got.items[0].version, 1);
        CHECK_EQ_STR(got.items[1].kind, "FeatureView");
        CHECK_EQ_STR(got.items[1].spec, "{\"name\":\"stats\",\"ttl\":\"1d\"}");
    }
    ldr_objset_fini(&got);

    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_regversion *vs = NULL;
    size_t n = 0;
    CHECK_OK(ldr_registry_versions(reg, "proj", &a, &vs, &n, &err), err);
    CHECK_EQ_I64(n, 1);
    if (n == 1) {
        CHECK_EQ_I64(vs[0].version, 1);
        CHECK_EQ_I64(vs[0].created, T1);
        CHECK_EQ_STR(vs[0].summary, "added Entity driver, FeatureView stats");
    }
    ldr_arena_fini(&a);
    /* Another project in the same file is untouched. */
    CHECK_OK(ldr_registry_current_version(reg, "other", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    ldr_registry_close(reg);
}

static void check_obj(const ldr_objset *set, const char *kind, const char *name, const char *spec,
                      ldr_ts created, ldr_ts updated, int64_t version)
{
    const ldr_regobj *o = ldr_objset_find(set, kind, name);
    if (!o) {
        HARNESS_FAIL("%s %s missing", kind, name);
        return;
    }
    CHECK_EQ_STR(o->spec, spec);
    CHECK_EQ_I64(o->created, created);
    CHECK_EQ_I64(o->updated, updated);
    CHECK_EQ_I64(o->version, version);
}

static ldr_code load_at(ldr_registry *reg, int64_t version, ldr_objset *out, ldr_err *err)
{
    ldr_objset_fini(out);
    ldr_objset_init(out);
    return ldr_registry_load(reg, "p", version, out, err);
}

/* Opens a fresh registry holding four versions of project "p": v1 adds driver and s, v2
 * modifies driver and adds fv, v3 removes s, v4 adds s again with a new spec. */
static ldr_registry *open_four_versions(void)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    if (!reg) {
        HARNESS_FAIL("open: %s", err.msg);
        return NULL;
    }
    static const struct {
        const char *kind, *name, *spec;
        int first, last; /* versions whose desired state holds this object */
    } objs[] = {
        {"Entity", "driver", "{\"v\":1}", 1, 1},  {"Entity", "driver", "{\"v\":2}", 2, 4},
        {"DataSource", "s", "{\"s\":1}", 1, 2},   {"DataSource", "s", "{\"s\":2}", 4, 4},
        {"FeatureView", "fv", "{\"f\":1}", 2, 4},
    };
    const ldr_ts times[] = {T1, T2, T3, T4};
    for (int v = 1; v <= 4; v++) {
        ldr_objset want;
        ldr_objset_init(&want);
        for (size_t i = 0; i < LDR_ARRAY_LEN(objs); i++) {
            if (objs[i].first <= v && v <= objs[i].last)
                set_add(&want, objs[i].kind, objs[i].name, objs[i].spec);
        }
        int64_t got = 0;
        CHECK_OK(apply_set(reg, "p", &want, times[v - 1], &got, &err), err);
        CHECK_EQ_I64(got, v);
        ldr_objset_fini(&want);
    }
    return reg;
}

TEST(history_rebuilds_every_version)
{
    ldr_registry *reg = open_four_versions();
    if (!reg)
        return;
    ldr_err err = {0};
    ldr_objset got;
    ldr_objset_init(&got);
    CHECK_OK(load_at(reg, 1, &got, &err), err);
    CHECK_EQ_I64(got.n, 2);
    check_obj(&got, "Entity", "driver", "{\"v\":1}", T1, T1, 1);
    check_obj(&got, "DataSource", "s", "{\"s\":1}", T1, T1, 1);
    CHECK_OK(load_at(reg, 2, &got, &err), err);
    CHECK_EQ_I64(got.n, 3);
    check_obj(&got, "Entity", "driver", "{\"v\":2}", T1, T2, 2);
    check_obj(&got, "DataSource", "s", "{\"s\":1}", T1, T1, 1);
    check_obj(&got, "FeatureView", "fv", "{\"f\":1}", T2, T2, 2);
    CHECK_OK(load_at(reg, 3, &got, &err), err);
    CHECK_EQ_I64(got.n, 2);
    CHECK(ldr_objset_find(&got, "DataSource", "s") == NULL);
    CHECK_OK(load_at(reg, 4, &got, &err), err);
    CHECK_EQ_I64(got.n, 3);
    check_obj(&got, "DataSource", "s", "{\"s\":2}", T4, T4, 4); /* created again at T4 */
    check_obj(&got, "Entity", "driver", "{\"v\":2}", T1, T2, 2);

    CHECK_FAILS(load_at(reg, 5, &got, &err), LDR_ENOTFOUND);
    CHECK_EQ_STR(err.msg, "project p has no registry version 5 (latest is 4)");
    CHECK_FAILS(load_at(reg, -1, &got, &err), LDR_EINVAL);
    ldr_objset_fini(&got);
    ldr_registry_close(reg);
}

/* The current state (objects table) equals the state rebuilt at the latest version. */
TEST(current_state_equals_latest_version)
{
    ldr_registry *reg = open_four_versions();
    if (!reg)
        return;
    ldr_err err = {0};
    ldr_objset cur, latest;
    ldr_objset_init(&cur);
    ldr_objset_init(&latest);
    CHECK_OK(ldr_registry_load(reg, "p", 0, &cur, &err), err);
    CHECK_OK(ldr_registry_load(reg, "p", 4, &latest, &err), err);
    CHECK_EQ_I64(cur.n, 3);
    CHECK_EQ_I64(cur.n, latest.n);
    for (size_t i = 0; i < cur.n && i < latest.n; i++) {
        CHECK_EQ_STR(cur.items[i].kind, latest.items[i].kind);
        CHECK_EQ_STR(cur.items[i].name, latest.items[i].name);
        CHECK_EQ_STR(cur.items[i].spec, latest.items[i].spec);
        CHECK_EQ_I64(cur.items[i].created, latest.items[i].created);
        CHECK_EQ_I64(cur.items[i].updated, latest.items[i].updated);
        CHECK_EQ_I64(cur.items[i].version, latest.items[i].version);
    }
    ldr_objset_fini(&latest);
    ldr_objset_fini(&cur);
    ldr_registry_close(reg);
}

TEST(versions_listed_oldest_first)
{
    ldr_registry *reg = open_four_versions();
    if (!reg)
        return;
    ldr_err err = {0};
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_regversion *vs = NULL;
    size_t n = 0;
    CHECK_OK(ldr_registry_versions(reg, "p", &a, &vs, &n, &err), err);
    CHECK_EQ_I64(n, 4);
    static const char *const summaries[] = {
        "added Entity driver, DataSource s",
        "added FeatureView fv; changed Entity driver",
        "removed DataSource s",
        "added DataSource s",
    };
    const ldr_ts times[] = {T1, T2, T3, T4};
    for (size_t i = 0; i < n && i < 4; i++) {
        CHECK_EQ_I64(vs[i].version, (int64_t)i + 1);
        CHECK_EQ_I64(vs[i].created, times[i]);
        CHECK_EQ_STR(vs[i].summary, summaries[i]);
    }
    ldr_arena_fini(&a);
    ldr_registry_close(reg);
}

/* Builds the changeset that turns `from` into `to` (both given as one object each). */
static void one_change(ldr_changeset *cs, const char *from_spec, const char *to_spec)
{
    ldr_objset from, to;
    ldr_objset_init(&from);
    ldr_objset_init(&to);
    if (from_spec)
        set_add(&from, "Entity", "driver", from_spec);
    if (to_spec)
        set_add(&to, "Entity", "driver", to_spec);
    ldr_err err = {0};
    CHECK_OK(ldr_diff(&from, &to, cs, &err), err);
    ldr_objset_fini(&to);
    ldr_objset_fini(&from);
}

TEST(write_rules_and_conflicts)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_changeset add, modify, remove, empty;
    ldr_changeset_init(&add);
    ldr_changeset_init(&modify);
    ldr_changeset_init(&remove);
    ldr_changeset_init(&empty);
    one_change(&add, NULL, "{\"a\":1}");
    one_change(&modify, "{\"a\":1}", "{\"a\":2}");
    one_change(&remove, "{\"a\":2}", NULL);
    int64_t v = 0;

    /* Outside a transaction: refused. */
    CHECK_FAILS(ldr_registry_write_version(reg, "p", &add, T1, "s", &v, &err), LDR_EINVAL);
    CHECK_FAILS(ldr_registry_purge_project(reg, "p", &err), LDR_EINVAL);
    CHECK_FAILS(ldr_registry_commit(reg, &err), LDR_EINVAL);
    ldr_registry_rollback(reg); /* no-op */

    CHECK_OK(ldr_registry_begin_write(reg, &err), err);
    CHECK_FAILS(ldr_registry_begin_write(reg, &err), LDR_EINVAL);
    CHECK_FAILS(ldr_registry_write_version(reg, "p", &empty, T1, "s", &v, &err), LDR_EINVAL);
    CHECK_FAILS(ldr_registry_write_version(reg, "p", &modify, T1, "s", &v, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "cannot modify Entity driver in project p: it does not exist");
    CHECK_FAILS(ldr_registry_write_version(reg, "p", &remove, T1, "s", &v, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "cannot remove Entity driver in project p: it does not exist");
    /* A failed write leaves nothing behind, not even its version row. */
    CHECK_OK(ldr_registry_current_version(reg, "p", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    CHECK_OK(ldr_registry_write_version(reg, "p", &add, T1, "s", &v, &err), err);
    CHECK_EQ_I64(v, 1);
    CHECK_FAILS(ldr_registry_write_version(reg, "p", &add, T2, "s", &v, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "cannot add Entity driver in project p: it already exists");
    CHECK_OK(ldr_registry_write_version(reg, "p", &modify, T2, "s", &v, &err), err);
    CHECK_EQ_I64(v, 2);
    CHECK_OK(ldr_registry_commit(reg, &err), err);

    /* Rollback discards the write. */
    CHECK_OK(ldr_registry_begin_write(reg, &err), err);
    CHECK_OK(ldr_registry_write_version(reg, "p", &remove, T3, "s", &v, &err), err);
    CHECK_EQ_I64(v, 3);
    ldr_registry_rollback(reg);
    ldr_objset got;
    ldr_objset_init(&got);
    CHECK_OK(ldr_registry_load(reg, "p", 0, &got, &err), err);
    CHECK_EQ_I64(got.n, 1);
    check_obj(&got, "Entity", "driver", "{\"a\":2}", T1, T2, 2);
    ldr_objset_fini(&got);
    CHECK_OK(ldr_registry_current_version(reg, "p", &v, &err), err);
    CHECK_EQ_I64(v, 2);

    ldr_changeset_fini(&empty);
    ldr_changeset_fini(&remove);
    ldr_changeset_fini(&modify);
    ldr_changeset_fini(&add);
    ldr_registry_close(reg);
}

TEST(purge_removes_only_that_project)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_objset want;
    ldr_objset_init(&want);
    set_add(&want, "Entity", "driver", "{}");
    int64_t v = 0;
    CHECK_OK(apply_set(reg, "p", &want, T1, &v, &err), err);
    CHECK_OK(apply_set(reg, "q", &want, T1, &v, &err), err);
    CHECK_EQ_I64(v, 1); /* versions are numbered per project */
    set_add(&want, "Entity", "rider", "{}");
    CHECK_OK(apply_set(reg, "p", &want, T2, &v, &err), err);
    CHECK_EQ_I64(v, 2);
    ldr_objset_fini(&want);

    CHECK_OK(ldr_registry_begin_write(reg, &err), err);
    CHECK_OK(ldr_registry_purge_project(reg, "p", &err), err);
    CHECK_OK(ldr_registry_commit(reg, &err), err);

    ldr_objset got;
    ldr_objset_init(&got);
    CHECK_OK(ldr_registry_load(reg, "p", 0, &got, &err), err);
    CHECK_EQ_I64(got.n, 0);
    CHECK_OK(ldr_registry_current_version(reg, "p", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    CHECK_FAILS(load_at(reg, 1, &got, &err), LDR_ENOTFOUND);
    CHECK_EQ_STR(err.msg, "project p has no registry version 1 (latest is 0)");
    ldr_objset_fini(&got);
    ldr_objset_init(&got);
    CHECK_OK(ldr_registry_load(reg, "q", 1, &got, &err), err);
    CHECK_EQ_I64(got.n, 1);
    ldr_objset_fini(&got);
    CHECK_OK(ldr_registry_current_version(reg, "q", &v, &err), err);
    CHECK_EQ_I64(v, 1);
    ldr_registry_close(reg);
}

/* ---- Concurrency ----------------------------------------------------------------------- */

TEST(second_writer_gets_busy_until_commit)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *a = open_reg(path, 1000, &err);
    ldr_registry *b = open_reg(path, 50, &err);
    CHECK(a != NULL && b != NULL);
    if (!a || !b)
        goto out;
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    one_change(&cs, NULL, "{}");
    int64_t v = 0;
    CHECK_OK(ldr_registry_begin_write(a, &err), err);
    CHECK_OK(ldr_registry_write_version(a, "p", &cs, T1, "s", &v, &err), err);

    CHECK_FAILS(ldr_registry_begin_write(b, &err), LDR_EBUSY);
    CHECK_CONTAINS(err.msg, "is locked by another writer (waited 50 ms)");
    CHECK_CONTAINS(err.msg, path);
    /* Readers are not blocked and see only committed data. */
    CHECK_OK(ldr_registry_current_version(b, "p", &v, &err), err);
    CHECK_EQ_I64(v, 0);

    CHECK_OK(ldr_registry_commit(a, &err), err);
    CHECK_OK(ldr_registry_begin_write(b, &err), err);
    CHECK_OK(ldr_registry_current_version(b, "p", &v, &err), err);
    CHECK_EQ_I64(v, 1);
    CHECK_OK(ldr_registry_commit(b, &err), err);
    ldr_changeset_fini(&cs);
out:
    ldr_registry_close(b);
    ldr_registry_close(a);
}

#define N_PROCS   3
#define N_APPLIES 15

/* One read-modify-write apply: inside the write transaction, load the current state and
 * add one view to it. A lost update would show as a version that does not add one. */
static ldr_code add_view(ldr_registry *reg, const char *name, ldr_ts now, ldr_err *err)
{
    ldr_objset cur, want;
    ldr_changeset cs;
    ldr_objset_init(&cur);
    ldr_objset_init(&want);
    ldr_changeset_init(&cs);
    ldr_code rc = ldr_registry_begin_write(reg, err);
    if (rc == LDR_OK)
        rc = ldr_registry_load(reg, "p", 0, &cur, err);
    for (size_t j = 0; rc == LDR_OK && j < cur.n; j++)
        ldr_objset_add(&want, &cur.items[j]);
    set_add(&want, "FeatureView", name, "{}");
    ldr_objset_sort(&want);
    if (rc == LDR_OK)
        rc = ldr_diff(&cur, &want, &cs, err);
    if (rc == LDR_OK)
        rc = ldr_registry_write_version(reg, "p", &cs, now, name, NULL, err);
    if (rc == LDR_OK)
        rc = ldr_registry_commit(reg, err);
    else
        ldr_registry_rollback(reg);
    ldr_changeset_fini(&cs);
    ldr_objset_fini(&want);
    ldr_objset_fini(&cur);
    return rc;
}

/* One process's share of the applies; returns the exit status. */
static int child_applies(const char *path, int id)
{
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 20000, &err);
    if (!reg) {
        fprintf(stderr, "child %d: %s\n", id, err.msg);
        return 1;
    }
    int status = 0;
    for (int i = 0; i < N_APPLIES && status == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "v%d_%02d", id, i);
        if (add_view(reg, name, T1 + i, &err) != LDR_OK) {
            fprintf(stderr, "child %d: %s\n", id, err.msg);
            status = 1;
        }
    }
    ldr_registry_close(reg);
    return status;
}

TEST(concurrent_processes_serialize)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    fflush(stdout);
    pid_t pids[N_PROCS];
    for (int i = 0; i < N_PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(child_applies(path, i));
        CHECK(pids[i] > 0);
    }
    for (int i = 0; i < N_PROCS; i++) {
        int status = 0;
        if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i])
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 1000, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    const int64_t total = N_PROCS * N_APPLIES;
    int64_t v = 0;
    CHECK_OK(ldr_registry_current_version(reg, "p", &v, &err), err);
    CHECK_EQ_I64(v, total);
    /* Every version added exactly one view on top of the previous one: no lost update. */
    ldr_objset got;
    ldr_objset_init(&got);
    for (int64_t i = 1; i <= total; i++) {
        CHECK_OK(load_at(reg, i, &got, &err), err);
        CHECK_EQ_I64(got.n, i);
    }
    CHECK_OK(load_at(reg, 0, &got, &err), err);
    CHECK_EQ_I64(got.n, total);
    ldr_objset_fini(&got);
    ldr_registry_close(reg);
}

/* ---- Materialization intervals ----------------------------------------------------------- */

TEST(materializations_record_list_purge)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 100, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_materialization a = {.view = "v1", .start = 10, .end = 20, .recorded = T1, .rows = 5};
    ldr_materialization b = {.view = "v1", .start = 20, .end = 30, .recorded = T2, .rows = 7};
    ldr_materialization c = {.view = "v0", .start = 1, .end = 2, .recorded = T2, .rows = 0};
    CHECK(ldr_registry_record_materialization(reg, "p", &b, &err) == LDR_OK);
    CHECK(ldr_registry_record_materialization(reg, "p", &a, &err) == LDR_OK);
    CHECK(ldr_registry_record_materialization(reg, "p", &c, &err) == LDR_OK);
    CHECK(ldr_registry_record_materialization(reg, "other", &c, &err) == LDR_OK);
    ldr_arena ar;
    ldr_arena_init(&ar, 0);
    ldr_materialization *m = NULL;
    size_t n = 0;
    CHECK(ldr_registry_materializations(reg, "p", &ar, &m, &n, &err) == LDR_OK);
    CHECK_EQ_I64(n, 3);
    if (n == 3) { /* by view, then time recorded */
        CHECK_EQ_STR(m[0].view, "v0");
        CHECK_EQ_STR(m[1].view, "v1");
        CHECK_EQ_I64(m[1].start, 10);
        CHECK_EQ_I64(m[1].end, 20);
        CHECK_EQ_I64(m[1].rows, 5);
        CHECK_EQ_I64(m[2].end, 30);
        CHECK_EQ_I64(m[2].recorded, T2);
    }
    /* Not a version: nothing to diff. */
    int64_t v = -1;
    CHECK(ldr_registry_current_version(reg, "p", &v, &err) == LDR_OK);
    CHECK_EQ_I64(v, 0);
    /* Not allowed inside a write transaction (it commits on its own). */
    CHECK(ldr_registry_begin_write(reg, &err) == LDR_OK);
    CHECK(ldr_registry_record_materialization(reg, "p", &a, &err) == LDR_EINVAL);
    CHECK(ldr_registry_purge_project(reg, "p", &err) == LDR_OK);
    CHECK(ldr_registry_commit(reg, &err) == LDR_OK);
    CHECK(ldr_registry_materializations(reg, "p", &ar, &m, &n, &err) == LDR_OK);
    CHECK_EQ_I64(n, 0);
    CHECK(ldr_registry_materializations(reg, "other", &ar, &m, &n, &err) == LDR_OK);
    CHECK_EQ_I64(n, 1);
    ldr_arena_fini(&ar);
    ldr_registry_close(reg);
}

TEST(schema_1_is_upgraded)
{
    char dir[128], path[256];
    test_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/registry.db", dir);
    ldr_err err = {0};
    ldr_registry *reg = open_reg(path, 100, &err);
    CHECK(reg != NULL);
    ldr_registry_close(reg);
    /* Turn it into what Larder with schema 1 wrote. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "DROP TABLE materializations;"
                       "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    reg = open_reg(path, 100, &err);
    CHECK(reg != NULL);
    if (!reg)
        return;
    ldr_materialization a = {.view = "v", .start = 1, .end = 2, .recorded = T1, .rows = 1};
    CHECK(ldr_registry_record_materialization(reg, "p", &a, &err) == LDR_OK);
    ldr_registry_close(reg);
    db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                             NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "2");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "registry_test.XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(kind_rank_orders_by_dependency);
    RUN(objset_sorts_and_finds);
    RUN(objset_copies_strings);
    RUN(open_creates_directory_and_empty_registry);
    RUN(open_rejects_unknown_type);
    RUN(open_rejects_non_database_file);
    RUN(open_rejects_foreign_sqlite_database);
    RUN(open_refuses_newer_schema);
    RUN(write_and_load_round_trip);
    RUN(history_rebuilds_every_version);
    RUN(current_state_equals_latest_version);
    RUN(versions_listed_oldest_first);
    RUN(write_rules_and_conflicts);
    RUN(purge_removes_only_that_project);
    RUN(second_writer_gets_busy_until_commit);
    RUN(concurrent_processes_serialize);
    RUN(materializations_record_list_purge);
    RUN(schema_1_is_upgraded);
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return harness_done();
}
