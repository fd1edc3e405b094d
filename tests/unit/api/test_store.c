/*
 * test_store.c -- the store facade (ldr_store_*): plan and apply against a real SQLite
 * registry in a temporary repository, the infra hook (a recording fake, including a
 * failing one that must roll back), snapshots that outlive an apply, teardown, and
 * concurrent applies from several processes.
 */
#include "api/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char defs_v1[] =
    "kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
    "kind: DataSource\nname: src\ntype: file\npath: data/x.csv\ntimestamp_field: ts\n---\n"
    "kind: FeatureView\nname: stats\nentities: [driver]\nttl: 1d\nsource: src\n"
    "schema: [{name: conv, dtype: Float32}]\n---\n"
    "kind: FeatureView\nname: offline_only\nsource: src\nonline: false\n"
    "schema: [{name: total, dtype: Int64}]\n";

static const char defs_v2[] =
    "kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
    "kind: DataSource\nname: src\ntype: file\npath: data/x.csv\ntimestamp_field: ts\n---\n"
    "kind: FeatureView\nname: stats\nentities: [driver]\nttl: 2d\nsource: src\n"
    "schema: [{name: conv, dtype: Float32}]\n";

static char *make_repo(const char *defs)
{
    char tmpl[] = "/tmp/ldr_store_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    write_file(dir, "feature_store.yaml", "project: proj\n");
    write_file(dir, "defs.yaml", defs);
    return ldr_xstrdup(dir);
}

static void remove_tree(char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    ldr_free(dir);
}

/* A recording infra fake. */
typedef struct rec {
    int updates, teardowns;
    char seen[512];
    bool fail;
} rec;

static ldr_code rec_update(void *ctx, const ldr_config *cfg, const ldr_defs *desired,
                           const ldr_changeset *cs, ldr_err *err)
{
    rec *r = ctx;
    (void)cfg;
    r->updates++;
    r->seen[0] = '\0';
    for (size_t i = 0; i < cs->n; i++) {
        if (strcmp(cs->items[i].kind, "FeatureView") != 0)
            continue;
        const ldr_view *v = ldr_defs_find_view(desired, cs->items[i].name);
        size_t len = strlen(r->seen);
        snprintf(r->seen + len, sizeof r->seen - len, "%c%s%s;",
                 cs->items[i].op == LDR_CHANGE_ADD      ? '+'
                 : cs->items[i].op == LDR_CHANGE_REMOVE ? '-'
                                                        : '~',
                 cs->items[i].name, v && v->online ? "(online)" : "");
    }
    if (r->fail)
        return ldr_err_setf(err, LDR_EBACKEND, "fake infra refuses");
    return LDR_OK;
}

static ldr_code rec_teardown(void *ctx, const ldr_config *cfg, const ldr_defs *current,
                             ldr_err *err)
{
    rec *r = ctx;
    (void)cfg;
    (void)err;
    r->teardowns++;
    snprintf(r->seen, sizeof r->seen, "%zu views", current->n_views);
    return LDR_OK;
}

static const ldr_infra_ops rec_ops = {.update = rec_update, .teardown = rec_teardown};

TEST(plan_then_apply_then_noop)
{
    char *dir = make_repo(defs_v1);
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st) {
        printf("# %s\n", err.msg);
        return;
    }
    rec r = {0};
    ldr__store_set_infra(st, &rec_ops, &r);
    ldr_plan *p = NULL;
    CHECK_OK(ldr_store_plan(st, &p, &err), err);
    size_t a, m, x;
    ldr_plan_counts(p, &a, &m, &x);
    CHECK_EQ_I64(a, 4);
    CHECK_EQ_I64(ldr_plan_base_version(p), 0);
    CHECK_CONTAINS(ldr_plan_text(p), "  + FeatureView stats\n");
    ldr_plan_free(p);
    CHECK_EQ_I64(r.updates, 0); /* plan never touches infra */

    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    CHECK_EQ_I64(ldr_plan_new_version(p), 1);
    ldr_plan_free(p);
    CHECK_EQ_I64(r.updates, 1);
    CHECK_EQ_STR(r.seen, "+offline_only;+stats(online);");

    /* the store's snapshot was refreshed */
    ldr_snapshot *s = ldr_store_snapshot(st);
    CHECK_EQ_I64(ldr_snapshot_version(s), 1);
    const ldr_view *v = ldr_snapshot_find_view(s, "stats");
    CHECK(v && v->ttl == (int64_t)86400 * 1000000);
    CHECK(ldr_snapshot_find_view(s, "nope") == NULL);
    CHECK(ldr_snapshot_find_entity(s, "driver") != NULL);

    /* nothing changed: no version, no infra call, plan text says so */
    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    CHECK_EQ_I64(ldr_plan_new_version(p), 0);
    CHECK_CONTAINS(ldr_plan_text(p), "No changes");
    ldr_plan_free(p);
    CHECK_EQ_I64(r.updates, 1);

    /* v2: modify and remove; the old snapshot stays valid and unchanged */
    write_file(dir, "defs.yaml", defs_v2);
    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    CHECK_EQ_I64(ldr_plan_new_version(p), 2);
    CHECK_CONTAINS(ldr_plan_text(p), "      ttl: \"1d\" -> \"2d\"\n");
    CHECK_CONTAINS(ldr_plan_text(p), "  - FeatureView offline_only\n");
    ldr_plan_free(p);
    CHECK_EQ_STR(r.seen, "-offline_only;~stats(online);");
    CHECK(v && v->ttl == (int64_t)86400 * 1000000);
    CHECK_EQ_I64(ldr_snapshot_version(s), 1);
    ldr_snapshot_unref(s);
    s = ldr_store_snapshot(st);
    v = ldr_snapshot_find_view(s, "stats");
    CHECK(v && v->ttl == (int64_t)2 * 86400 * 1000000);
    size_t n;
    ldr_snapshot_views(s, &n);
    CHECK_EQ_I64(n, 1);
    ldr_snapshot_unref(s);
    ldr_store_close(st);
    remove_tree(dir);
}

TEST(failing_infra_rolls_back)
{
    char *dir = make_repo(defs_v1);
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    rec r = {.fail = true};
    ldr__store_set_infra(st, &rec_ops, &r);
    ldr_plan *p = NULL;
    CHECK_FAILS(ldr_store_apply(st, &p, &err), LDR_EBACKEND);
    CHECK(p == NULL);
    CHECK_CONTAINS(err.msg, "fake infra refuses");
    int64_t v = -1;
    CHECK_OK(ldr_registry_current_version(ldr__store_registry(st), "proj", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    r.fail = false;
    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    CHECK_EQ_I64(ldr_plan_new_version(p), 1);
    ldr_plan_free(p);
    ldr_store_close(st);
    remove_tree(dir);
}

TEST(validation_errors_leave_registry_alone)
{
    char *dir = make_repo("kind: Entity\nname: e\nbogus: 1\n---\nkind: Entitty\nname: f\n");
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    ldr_plan *p = NULL;
    CHECK_FAILS(ldr_store_apply(st, &p, &err), LDR_ECONFIG);
    CHECK_EQ_I64(ldr_store_diagnostics_count(st), 2);
    CHECK_EQ_STR(ldr_store_diagnostic(st, 0), "defs.yaml:3:1: unknown key 'bogus' in Entity");
    CHECK_EQ_STR(ldr_store_diagnostic(st, 1),
                 "defs.yaml:5:7: unknown kind 'Entitty' (did you mean 'Entity'?)");
    CHECK(ldr_store_diagnostic(st, 2) == NULL);
    /* a broken repository never creates the registry */
    CHECK(ldr__store_registry(st) == NULL);
    char path[1100];
    snprintf(path, sizeof path, "%s/data/registry.db", dir);
    CHECK(access(path, F_OK) != 0);
    ldr_store_close(st);
    remove_tree(dir);
}

TEST(teardown_records_and_purges)
{
    char *dir = make_repo(defs_v1);
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    rec r = {0};
    ldr__store_set_infra(st, &rec_ops, &r);
    ldr_plan *p = NULL;
    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    ldr_plan_free(p);
    CHECK_OK(ldr_store_teardown(st, &err), err);
    CHECK_EQ_I64(r.teardowns, 1);
    CHECK_EQ_STR(r.seen, "2 views");
    ldr_snapshot *s = ldr_store_snapshot(st);
    size_t n;
    ldr_snapshot_entities(s, &n);
    CHECK_EQ_I64(n, 0);
    CHECK_EQ_I64(ldr_snapshot_version(s), 2);
    ldr_snapshot_unref(s);
    /* history is kept: version 1 can still be loaded */
    ldr_objset o;
    ldr_objset_init(&o);
    CHECK_OK(ldr_registry_load(ldr__store_registry(st), "proj", 1, &o, &err), err);
    CHECK_EQ_I64(o.n, 4);
    ldr_objset_fini(&o);
    CHECK_OK(ldr__store_teardown(st, true, &err), err);
    int64_t v = -1;
    CHECK_OK(ldr_registry_current_version(ldr__store_registry(st), "proj", &v, &err), err);
    CHECK_EQ_I64(v, 0);
    ldr_store_close(st);
    remove_tree(dir);
}

TEST(read_only_use_creates_nothing)
{
    char *dir = make_repo(defs_v1);
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    ldr_plan *p = NULL;
    CHECK_OK(ldr_store_plan(st, &p, &err), err);
    size_t a, m, x;
    ldr_plan_counts(p, &a, &m, &x);
    CHECK_EQ_I64(a, 4);
    ldr_plan_free(p);
    CHECK_OK(ldr_store_refresh(st, &err), err);
    CHECK_OK(ldr_store_teardown(st, &err), err);
    ldr_snapshot *s = ldr_store_snapshot(st);
    CHECK_EQ_I64(ldr_snapshot_version(s), 0);
    ldr_snapshot_unref(s);
    char path[1100];
    snprintf(path, sizeof path, "%s/data", dir);
    CHECK(access(path, F_OK) != 0); /* not even the data/ directory */
    /* another process applies: refresh picks the new registry up */
    ldr_store *other = ldr_store_open(dir, NULL, &err);
    CHECK(other != NULL);
    if (other) {
        CHECK_OK(ldr_store_apply(other, NULL, &err), err);
        ldr_store_close(other);
    }
    CHECK_OK(ldr_store_refresh(st, &err), err);
    s = ldr_store_snapshot(st);
    CHECK_EQ_I64(ldr_snapshot_version(s), 1);
    ldr_snapshot_unref(s);
    ldr_store_close(st);
    remove_tree(dir);
}

TEST(open_errors)
{
    ldr_err err;
    CHECK(ldr_store_open("/nonexistent/larder/repo", NULL, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ENOTFOUND);
    char *dir = make_repo(defs_v1);
    write_file(dir, "feature_store.yaml", "project: [x\n");
    CHECK(ldr_store_open(dir, NULL, &err) == NULL);
    CHECK_EQ_I64(err.code, LDR_ECONFIG);
    CHECK_CONTAINS(err.msg, "feature_store.yaml:");
    remove_tree(dir);
}

TEST(concurrent_applies_serialize)
{
    /* Several processes apply the same repository at once: exactly one version results,
     * and every process succeeds (the losers wait for the lock, then find nothing to do). */
    char *dir = make_repo(defs_v1);
    enum { N = 6 };
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            ldr_err e;
            ldr_store *st = ldr_store_open(dir, NULL, &e);
            if (!st)
                _exit(10);
            ldr_plan *p = NULL;
            ldr_code rc = ldr_store_apply(st, &p, &e);
            ldr_plan_free(p);
            ldr_store_close(st);
            _exit(rc == LDR_OK ? 0 : 20 + (int)rc);
        }
    }
    for (int i = 0; i < N; i++) {
        int status = 0;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status));
        CHECK_EQ_I64(WEXITSTATUS(status), 0);
    }
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (st) {
        ldr_arena a;
        ldr_arena_init(&a, 0);
        ldr_regversion *v;
        size_t n = 0;
        CHECK_OK(ldr_registry_versions(ldr__store_registry(st), "proj", &a, &v, &n, &err), err);
        CHECK_EQ_I64(n, 1);
        ldr_arena_fini(&a);
        ldr_store_close(st);
    }
    remove_tree(dir);
}

/* The public online API end to end: apply (default infra creates the SQLite tables),
 * materialize, read back through ldr_store_get_online_features and its accessors. */
TEST(materialize_and_online_api)
{
    char *dir = make_repo(defs_v1);
    char data[1100];
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK(mkdir(data, 0777) == 0);
    write_file(dir, "data/x.csv",
               "driver_id,ts,conv,total\n"
               "1,2024-01-01T00:00:00Z,0.5,1\n"
               "1,2024-01-01T02:00:00Z,0.75,2\n"
               "2,2024-01-01T01:00:00Z,,3\n"
               "3,2025-01-01T00:00:00Z,9,4\n");
    ldr_err err;
    ldr_store *st = ldr_store_open(dir, NULL, &err);
    CHECK(st != NULL);
    if (!st) {
        remove_tree(dir);
        return;
    }
    ldr_plan *p = NULL;
    CHECK_OK(ldr_store_apply(st, &p, &err), err);
    ldr_plan_free(p);
    ldr_materialize_opts mo = ldr_materialize_opts_default();
    CHECK(ldr_store_materialize(st, &mo, &err) == LDR_EINVAL); /* no interval */
    mo.start = 1704067200LL * 1000000;                         /* 2024-01-01 */
    mo.end = mo.start + 86400LL * 1000000;
    mo.threads = 2;
    /* the reading threads lower their own priority; the caller's is left alone */
    errno = 0;
    int nice_before = getpriority(PRIO_PROCESS, 0);
    CHECK(errno == 0);
    CHECK_OK(ldr_store_materialize(st, &mo, &err), err);
    CHECK_EQ_I64(getpriority(PRIO_PROCESS, 0), nice_before);
    const char *feats[] = {"stats:conv"};
    const char *keys[] = {"driver_id"};
    const char *vals[] = {"1", "2", "3", NULL};
    ldr_online_opts oo = {.features = feats,
                          .n_features = 1,
                          .entity_keys = keys,
                          .n_entity_keys = 1,
                          .entity_values = vals,
                          .n_rows = 4};
    ldr_online_result *r = NULL;
    CHECK_OK(ldr_store_get_online_features(st, &oo, &r, &err), err);
    if (r) {
        CHECK_EQ_I64(ldr_online_result_num_columns(r), 2);
        CHECK_EQ_I64(ldr_online_result_num_rows(r), 4);
        CHECK_EQ_STR(ldr_online_result_column_name(r, 0), "driver_id");
        CHECK_EQ_I64(ldr_online_result_get_int(r, 0, 2), 3);
        CHECK_EQ_F64(ldr_online_result_get_double(r, 1, 0), 0.75);
        CHECK_EQ_I64(ldr_online_result_status(r, 1, 0), LDR_FEATURE_OUTSIDE_MAX_AGE);
        CHECK_EQ_I64(ldr_online_result_event_time(r, 1, 0), mo.start + 7200LL * 1000000);
        CHECK_EQ_I64(ldr_online_result_status(r, 1, 1), LDR_FEATURE_NULL_VALUE);
        CHECK(ldr_online_result_is_null(r, 1, 1));
        CHECK_EQ_I64(ldr_online_result_status(r, 1, 2), LDR_FEATURE_NOT_FOUND); /* 2025 */
        CHECK_EQ_I64(ldr_online_result_status(r, 1, 3), LDR_FEATURE_NOT_FOUND); /* null key */
        const char *json = NULL;
        CHECK_OK(ldr_online_result_json(r, &json, &err), err);
        CHECK(json && strstr(json, "\"values\":[0.75,null,null,null]") != NULL);
        ldr_online_result_free(r);
    }
    /* unknown view: an error naming it */
    const char *bad[] = {"stat:conv"};
    oo.features = bad;
    CHECK(ldr_store_get_online_features(st, &oo, &r, &err) == LDR_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "'stat'");
    ldr_store_close(st);
    remove_tree(dir);
}

int main(void)
{
    RUN(plan_then_apply_then_noop);
    RUN(failing_infra_rolls_back);
    RUN(validation_errors_leave_registry_alone);
    RUN(teardown_records_and_purges);
    RUN(read_only_use_creates_nothing);
    RUN(open_errors);
    RUN(concurrent_applies_serialize);
    RUN(materialize_and_online_api);
    return harness_done();
}
