/*
 * test_diff.c -- unit tests of ldr_diff, ldr_changeset_render and ldr_changeset_summary.
 *
 * Covers which objects are added, changed and removed (in dependency order), the
 * field-level walk (member paths, removed members last, arrays matched by name or by
 * index, reordered named arrays, type changes, compact value texts with short reals),
 * specs equal up to key order, invalid JSON, and the exact rendered and summary text.
 * Pure in-memory tests: no files.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "registry/registry.h"

static void add(ldr_objset *set, const char *kind, const char *name, const char *spec)
{
    ldr_regobj obj = {.kind = kind, .name = name, .spec = spec};
    ldr_objset_add(set, &obj);
}

/* Diffs one FeatureView "v" from old_spec to new_spec into cs. */
static ldr_code diff_one(const char *old_spec, const char *new_spec, ldr_changeset *cs,
                         ldr_err *err)
{
    ldr_objset from, to;
    ldr_objset_init(&from);
    ldr_objset_init(&to);
    add(&from, "FeatureView", "v", old_spec);
    add(&to, "FeatureView", "v", new_spec);
    ldr_code rc = ldr_diff(&from, &to, cs, err);
    /* The changeset must not borrow from the sets: free them before any check. */
    ldr_objset_fini(&to);
    ldr_objset_fini(&from);
    return rc;
}

static void check_field(const ldr_changeset *cs, size_t i, const char *path, const char *old,
                        const char *new)
{
    if (cs->n != 1 || i >= cs->items[0].n_fields) {
        HARNESS_FAIL("no field %zu (changes %zu)", i, cs->n);
        return;
    }
    const ldr_field_change *f = &cs->items[0].fields[i];
    CHECK_EQ_STR(f->path, path);
    if (old)
        CHECK_EQ_STR(f->old_text, old);
    else
        CHECK(f->old_text == NULL);
    if (new)
        CHECK_EQ_STR(f->new_text, new);
    else
        CHECK(f->new_text == NULL);
}

static const char *render(const ldr_changeset *cs, ldr_buf *buf)
{
    ldr_err err = {0};
    ldr_buf_reset(buf);
    CHECK_OK(ldr_changeset_render(cs, buf, &err), err);
    return ldr_buf_cstr(buf);
}

static const char *summary(const ldr_changeset *cs, ldr_buf *buf)
{
    ldr_err err = {0};
    ldr_buf_reset(buf);
    CHECK_OK(ldr_changeset_summary(cs, buf, &err), err);
    return ldr_buf_cstr(buf);
}

TEST(objects_added_changed_removed_in_order)
{
    ldr_objset from, to;
    ldr_objset_init(&from);
    ldr_objset_init(&to);
    add(&from, "FeatureService", "old_svc", "{}");
    add(&from, "FeatureView", "same", "{\"a\":1}");
    add(&from, "Entity", "driver", "{\"ttl\":\"1d\"}");
    add(&from, "DataSource", "gone", "{}");
    add(&to, "FeatureView", "same", "{\"a\":1}");
    add(&to, "Entity", "driver", "{\"ttl\":\"2d\"}");
    add(&to, "FeatureView", "new_view", "{}");
    add(&to, "Entity", "rider", "{}");
    ldr_objset_sort(&from);
    ldr_objset_sort(&to);
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(ldr_diff(&from, &to, &cs, &err), err);
    CHECK_EQ_I64(cs.n, 5);
    static const struct {
        ldr_change_op op;
        const char *kind, *name;
    } want[] = {
        {LDR_CHANGE_MODIFY, "Entity", "driver"},
        {LDR_CHANGE_ADD, "Entity", "rider"},
        {LDR_CHANGE_REMOVE, "DataSource", "gone"},
        {LDR_CHANGE_ADD, "FeatureView", "new_view"},
        {LDR_CHANGE_REMOVE, "FeatureService", "old_svc"},
    };
    for (size_t i = 0; i < cs.n && i < LDR_ARRAY_LEN(want); i++) {
        CHECK_EQ_I64(cs.items[i].op, want[i].op);
        CHECK_EQ_STR(cs.items[i].kind, want[i].kind);
        CHECK_EQ_STR(cs.items[i].name, want[i].name);
    }
    if (cs.n == 5) {
        CHECK_EQ_STR(cs.items[0].old_spec, "{\"ttl\":\"1d\"}");
        CHECK_EQ_STR(cs.items[0].new_spec, "{\"ttl\":\"2d\"}");
        CHECK(cs.items[1].old_spec == NULL);
        CHECK_EQ_STR(cs.items[1].new_spec, "{}");
        CHECK_EQ_STR(cs.items[2].old_spec, "{}");
        CHECK(cs.items[2].new_spec == NULL);
        CHECK_EQ_I64(cs.items[1].n_fields, 0);
    }
    size_t n_add = 0, n_mod = 0, n_rem = 0;
    ldr_changeset_counts(&cs, &n_add, &n_mod, &n_rem);
    CHECK_EQ_I64(n_add, 2);
    CHECK_EQ_I64(n_mod, 1);
    CHECK_EQ_I64(n_rem, 2);
    ldr_objset_fini(&to);
    ldr_objset_fini(&from);

    ldr_buf buf;
    ldr_buf_init(&buf, 1 << 16);
    CHECK_EQ_STR(render(&cs, &buf), "  ~ Entity driver\n"
                                    "      ttl: \"1d\" -> \"2d\"\n"
                                    "  + Entity rider\n"
                                    "  - DataSource gone\n"
                                    "  + FeatureView new_view\n"
                                    "  - FeatureService old_svc\n");
    CHECK_EQ_STR(summary(&cs, &buf), "added Entity rider, FeatureView new_view; changed Entity "
                                     "driver; removed DataSource gone, FeatureService old_svc");
    ldr_buf_fini(&buf);
    ldr_changeset_fini(&cs);
}

TEST(identical_and_empty_sets_give_no_changes)
{
    ldr_objset a, b;
    ldr_objset_init(&a);
    ldr_objset_init(&b);
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(ldr_diff(&a, &b, &cs, &err), err);
    CHECK_EQ_I64(cs.n, 0);
    add(&a, "Entity", "e", "{\"x\":1}");
    add(&b, "Entity", "e", "{\"x\":1}");
    CHECK_OK(ldr_diff(&a, &b, &cs, &err), err);
    CHECK_EQ_I64(cs.n, 0);

    ldr_buf buf;
    ldr_buf_init(&buf, 1024);
    CHECK_EQ_STR(render(&cs, &buf), "");
    CHECK_EQ_I64(buf.len, 0);
    CHECK_EQ_STR(summary(&cs, &buf), "no changes");
    size_t n_add = 9, n_mod = 9, n_rem = 9;
    ldr_changeset_counts(&cs, &n_add, &n_mod, &n_rem);
    CHECK(n_add == 0 && n_mod == 0 && n_rem == 0);
    ldr_buf_fini(&buf);
    ldr_changeset_fini(&cs);
    ldr_objset_fini(&b);
    ldr_objset_fini(&a);
}

/* The walk of a realistic view change: every kind of path, in the documented order. */
TEST(field_changes_of_a_feature_view)
{
    const char *old_spec = "{\"name\":\"v\",\"ttl\":\"1d\",\"entities\":[\"driver\"],"
                           "\"schema\":[{\"name\":\"conv_rate\",\"dtype\":\"Float32\"},"
                           "{\"name\":\"acc_rate\",\"dtype\":\"Float32\"}],"
                           "\"tags\":{\"team\":\"a\",\"x\":\"1\"},\"online\":true}";
    const char *new_spec = "{\"name\":\"v\",\"ttl\":\"2d\",\"entities\":[\"driver\",\"rider\"],"
                           "\"schema\":[{\"name\":\"conv_rate\",\"dtype\":\"Float64\"},"
                           "{\"name\":\"trips\",\"dtype\":\"Int64\"}],"
                           "\"tags\":{\"team\":\"b\"},\"online\":true,\"description\":\"d\"}";
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one(old_spec, new_spec, &cs, &err), err);
    CHECK_EQ_I64(cs.n, 1);
    if (cs.n != 1)
        return;
    CHECK_EQ_I64(cs.items[0].op, LDR_CHANGE_MODIFY);
    CHECK_EQ_I64(cs.items[0].n_fields, 8);
    check_field(&cs, 0, "ttl", "\"1d\"", "\"2d\"");
    check_field(&cs, 1, "entities[1]", NULL, "\"rider\"");
    check_field(&cs, 2, "schema[conv_rate].dtype", "\"Float32\"", "\"Float64\"");
    check_field(&cs, 3, "schema[trips]", NULL, "{\"name\":\"trips\",\"dtype\":\"Int64\"}");
    check_field(&cs, 4, "schema[acc_rate]", "{\"name\":\"acc_rate\",\"dtype\":\"Float32\"}", NULL);
    check_field(&cs, 5, "tags.team", "\"a\"", "\"b\"");
    check_field(&cs, 6, "tags.x", "\"1\"", NULL);
    check_field(&cs, 7, "description", NULL, "\"d\"");

    ldr_buf buf;
    ldr_buf_init(&buf, 1 << 16);
    CHECK_EQ_STR(render(&cs, &buf),
                 "  ~ FeatureView v\n"
                 "      ttl: \"1d\" -> \"2d\"\n"
                 "      entities[1]: (none) -> \"rider\"\n"
                 "      schema[conv_rate].dtype: \"Float32\" -> \"Float64\"\n"
                 "      schema[trips]: (none) -> {\"name\":\"trips\",\"dtype\":\"Int64\"}\n"
                 "      schema[acc_rate]: {\"name\":\"acc_rate\",\"dtype\":\"Float32\"} -> (none)\n"
                 "      tags.team: \"a\" -> \"b\"\n"
                 "      tags.x: \"1\" -> (none)\n"
                 "      description: (none) -> \"d\"\n");
    CHECK_EQ_STR(summary(&cs, &buf), "changed FeatureView v");
    ldr_buf_fini(&buf);
    ldr_changeset_fini(&cs);
}

TEST(render_appends_to_buffer)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one("{\"a\":1}", "{\"a\":2}", &cs, &err), err);
    ldr_buf buf;
    ldr_buf_init(&buf, 1024);
    CHECK_OK(ldr_buf_puts(&buf, "Plan:\n", &err), err);
    CHECK_OK(ldr_changeset_render(&cs, &buf, &err), err);
    CHECK_EQ_STR(ldr_buf_cstr(&buf), "Plan:\n  ~ FeatureView v\n      a: 1 -> 2\n");
    ldr_buf_reset(&buf);
    CHECK_OK(ldr_buf_puts(&buf, "applied: ", &err), err);
    CHECK_OK(ldr_changeset_summary(&cs, &buf, &err), err);
    CHECK_EQ_STR(ldr_buf_cstr(&buf), "applied: changed FeatureView v");
    /* A buffer too small for the text fails with LDR_ELIMIT. */
    ldr_buf small;
    ldr_buf_init(&small, 8);
    CHECK_FAILS(ldr_changeset_render(&cs, &small, &err), LDR_ELIMIT);
    ldr_buf_fini(&small);
    ldr_buf_fini(&buf);
    ldr_changeset_fini(&cs);
}

TEST(key_order_alone_is_no_change)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one("{\"a\":1,\"b\":{\"c\":[1,2],\"d\":null}}",
                      "{\"b\":{\"d\":null,\"c\":[1,2]}, \"a\":1}", &cs, &err),
             err);
    CHECK_EQ_I64(cs.n, 0);
    ldr_changeset_fini(&cs);
}

TEST(type_changes_and_value_texts)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one("{\"ttl\":\"1d\",\"n\":null,\"o\":{\"k\":[1,{\"z\":true}]},\"i\":1,"
                      "\"f\":0.1,\"g\":100.0,\"s\":\"caf\\u00e9 \\\"q\\\"\",\"h\":1e300}",
                      "{\"ttl\":86400,\"n\":false,\"o\":\"flat\",\"i\":1.0,"
                      "\"f\":0.25,\"g\":[0.1,2.5],\"s\":\"tab\\there\",\"h\":1e300}",
                      &cs, &err),
             err);
    CHECK_EQ_I64(cs.n, 1);
    if (cs.n == 1)
        CHECK_EQ_I64(cs.items[0].n_fields, 7);
    check_field(&cs, 0, "ttl", "\"1d\"", "86400");
    check_field(&cs, 1, "n", "null", "false");
    check_field(&cs, 2, "o", "{\"k\":[1,{\"z\":true}]}", "\"flat\"");
    check_field(&cs, 3, "i", "1", "1.0"); /* integer and real are different JSON values */
    check_field(&cs, 4, "f", "0.1", "0.25");
    check_field(&cs, 5, "g", "100.0", "[0.1,2.5]");
    check_field(&cs, 6, "s", "\"caf\xc3\xa9 \\\"q\\\"\"", "\"tab\\there\"");
    ldr_changeset_fini(&cs);
}

TEST(arrays_by_index)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one("{\"join_keys\":[\"a\",\"b\",\"c\"],\"m\":[[1,2]]}",
                      "{\"join_keys\":[\"a\",\"x\"],\"m\":[[1,3]]}", &cs, &err),
             err);
    if (cs.n == 1)
        CHECK_EQ_I64(cs.items[0].n_fields, 3);
    check_field(&cs, 0, "join_keys[1]", "\"b\"", "\"x\"");
    check_field(&cs, 1, "join_keys[2]", "\"c\"", NULL);
    check_field(&cs, 2, "m[0][1]", "2", "3");
    ldr_changeset_fini(&cs);
}

TEST(arrays_by_name)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    /* Inserting a field in the middle reports only that field, not a shifted tail. */
    CHECK_OK(diff_one("{\"schema\":[{\"name\":\"a\",\"t\":1},{\"name\":\"c\",\"t\":3}]}",
                      "{\"schema\":[{\"name\":\"a\",\"t\":1},{\"name\":\"b\",\"t\":2},"
                      "{\"name\":\"c\",\"t\":4,\"tags\":{\"x\":\"y\"}}]}",
                      &cs, &err),
             err);
    if (cs.n == 1)
        CHECK_EQ_I64(cs.items[0].n_fields, 3);
    check_field(&cs, 0, "schema[b]", NULL, "{\"name\":\"b\",\"t\":2}");
    check_field(&cs, 1, "schema[c].t", "3", "4");
    check_field(&cs, 2, "schema[c].tags", NULL, "{\"x\":\"y\"}");
    ldr_changeset_fini(&cs);

    /* From an empty array every element is added by name. */
    ldr_changeset_init(&cs);
    CHECK_OK(diff_one("{\"s\":[]}", "{\"s\":[{\"name\":\"a\"}]}", &cs, &err), err);
    check_field(&cs, 0, "s[a]", NULL, "{\"name\":\"a\"}");
    ldr_changeset_fini(&cs);
}

TEST(reordered_named_array_is_reported_whole)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_OK(diff_one("{\"schema\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
                      "{\"schema\":[{\"name\":\"b\"},{\"name\":\"a\"}]}", &cs, &err),
             err);
    if (cs.n == 1)
        CHECK_EQ_I64(cs.items[0].n_fields, 1);
    check_field(&cs, 0, "schema", "[{\"name\":\"a\"},{\"name\":\"b\"}]",
                "[{\"name\":\"b\"},{\"name\":\"a\"}]");
    ldr_changeset_fini(&cs);
}

TEST(arrays_without_unique_names_go_by_index)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    /* Duplicate names, and a member that is not an object: index by index. */
    CHECK_OK(diff_one("{\"d\":[{\"name\":\"a\",\"v\":1},{\"name\":\"a\",\"v\":2}],"
                      "\"m\":[{\"name\":\"a\"},3]}",
                      "{\"d\":[{\"name\":\"a\",\"v\":1},{\"name\":\"a\",\"v\":5}],"
                      "\"m\":[{\"name\":\"a\"},4]}",
                      &cs, &err),
             err);
    if (cs.n == 1)
        CHECK_EQ_I64(cs.items[0].n_fields, 2);
    check_field(&cs, 0, "d[1].v", "2", "5");
    check_field(&cs, 1, "m[1]", "3", "4");
    ldr_changeset_fini(&cs);
}

TEST(invalid_json_is_corrupt)
{
    ldr_changeset cs;
    ldr_changeset_init(&cs);
    ldr_err err = {0};
    CHECK_FAILS(diff_one("{\"a\":1}", "{\"a\":", &cs, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "registry object FeatureView v: invalid JSON spec: ");
    CHECK_EQ_I64(cs.n, 0);
    CHECK_FAILS(diff_one("not json", "{}", &cs, &err), LDR_ECORRUPT);
    CHECK_CONTAINS(err.msg, "registry object FeatureView v: invalid JSON spec: ");
    CHECK_EQ_I64(cs.n, 0);

    /* A failing diff leaves what was already in the changeset. */
    ldr_objset from, to;
    ldr_objset_init(&from);
    ldr_objset_init(&to);
    add(&to, "Entity", "e", "{}");
    CHECK_OK(ldr_diff(&from, &to, &cs, &err), err);
    add(&from, "FeatureView", "v", "{}");
    add(&to, "FeatureView", "v", "{");
    CHECK_FAILS(ldr_diff(&from, &to, &cs, &err), LDR_ECORRUPT);
    CHECK_EQ_I64(cs.n, 1);
    ldr_objset_fini(&to);
    ldr_objset_fini(&from);
    ldr_changeset_fini(&cs);
}

int main(void)
{
    RUN(objects_added_changed_removed_in_order);
    RUN(identical_and_empty_sets_give_no_changes);
    RUN(field_changes_of_a_feature_view);
    RUN(render_appends_to_buffer);
    RUN(key_order_alone_is_no_change);
    RUN(type_changes_and_value_texts);
    RUN(arrays_by_index);
    RUN(arrays_by_name);
    RUN(reordered_named_array_is_reported_whole);
    RUN(arrays_without_unique_names_go_by_index);
    RUN(invalid_json_is_corrupt);
    return harness_done();
}
