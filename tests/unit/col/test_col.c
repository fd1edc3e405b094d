/*
 * test_col.c -- the columnar core: appends of every type with nulls, lists (null, empty,
 * null elements), dictionary columns, take (gather) against a row-by-row model, hashing
 * and equality by value across plain and dictionary columns, batches (add, find, remove,
 * append with name matching and type checks), bulk validity bits and clearing a column
 * for reuse.
 */
#include "col/col.h"

#include "harness.h"

TEST(fixed_width_with_nulls)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_INT64, 0);
    for (int i = 0; i < 1000; i++) {
        if (i % 7 == 3)
            ldr_col_append_null(c);
        else
            ldr_col_append_i64(c, (int64_t)i * 1000003);
    }
    CHECK_EQ_I64(c->n, 1000);
    CHECK_EQ_I64(c->null_count, 143);
    CHECK(((uintptr_t)c->data & 63) == 0);
    for (size_t i = 0; i < 1000; i++) {
        CHECK(ldr_col_valid(c, i) == (i % 7 != 3));
        if (i % 7 != 3)
            CHECK_EQ_I64(ldr_col_i64(c, i), (int64_t)i * 1000003);
    }
    ldr_col_free(c);
    ldr_col_free(NULL);
}

TEST(all_valid_column_has_no_bitmap)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_FLOAT32, 4);
    for (int i = 0; i < 100; i++)
        ldr_col_append_f32(c, (float)i / 4.0f);
    CHECK(c->valid == NULL);
    CHECK_EQ_I64(c->null_count, 0);
    CHECK_EQ_F64(ldr_col_f32(c, 10), 2.5);
    ldr_col_free(c);
}

/* Decoders clear null bits in bulk; rows past n stay valid for later appends. */
TEST(valid_bits_in_bulk)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_FLOAT64, 20);
    ldr_col_append_f64(c, 1.5);
    uint8_t *v = ldr_col_valid_bits(c);
    CHECK(v == c->valid && v == ldr_col_valid_bits(c));
    double *d = c->data;
    for (size_t i = 1; i < 20; i++) {
        d[i] = i % 3 ? (double)i : 0;
        if (i % 3 == 0)
            v[i >> 3] &= (uint8_t) ~(1u << (i & 7));
    }
    c->n = 20;
    c->null_count += 6;
    for (size_t i = 0; i < 20; i++)
        CHECK(ldr_col_valid(c, i) == (i == 0 || i % 3 != 0));
    ldr_col_append_f64(c, 7); /* row 20 (a new bitmap byte after growth) is valid */
    CHECK(ldr_col_valid(c, 20));
    CHECK_EQ_I64(c->null_count, 6);
    ldr_col_free(c);
}

/* A cleared column is like a new one (no rows, no nulls, no bitmap) with its buffers. */
TEST(clear_keeps_buffers)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, 0);
    for (int i = 0; i < 100; i++) {
        if (i % 5 == 0)
            ldr_col_append_null(c);
        else
            ldr_col_append_str(c, "abc", 3);
    }
    void *offsets = c->offsets, *bytes = c->bytes;
    size_t cap = c->cap;
    ldr_col_clear(c);
    CHECK(c->n == 0 && c->null_count == 0 && !c->valid && c->bytes_len == 0);
    CHECK(c->offsets == offsets && c->bytes == bytes && c->cap == cap && c->offsets[0] == 0);
    ldr_col_append_str(c, "xy", 2);
    size_t len;
    CHECK(ldr_col_valid(c, 0) && !memcmp(ldr_col_str(c, 0, &len), "xy", 2) && len == 2);
    ldr_col_free(c);
    ldr_col *l = ldr_col_new(LDR_TYPE_INT64_LIST, 0);
    ldr_col_append_i64(l->child, 5);
    ldr_col_append_list(l);
    ldr_col_clear(l);
    CHECK(l->n == 0 && l->child->n == 0 && l->offsets[0] == 0);
    ldr_col_append_list(l);
    size_t b, e;
    ldr_col_list(l, 0, &b, &e);
    CHECK(b == 0 && e == 0);
    ldr_col_free(l);
}

TEST(strings_and_bytes)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_str(c, "alpha", 5);
    ldr_col_append_null(c);
    ldr_col_append_str(c, "", 0);
    ldr_col_append_str(c, "a\0b", 3);
    size_t len;
    const char *p = ldr_col_str(c, 0, &len);
    CHECK(len == 5 && !memcmp(p, "alpha", 5));
    CHECK(!ldr_col_valid(c, 1));
    p = ldr_col_str(c, 1, &len);
    CHECK_EQ_I64(len, 0);
    CHECK(ldr_col_valid(c, 2));
    p = ldr_col_str(c, 2, &len);
    CHECK_EQ_I64(len, 0);
    p = ldr_col_str(c, 3, &len);
    CHECK(len == 3 && !memcmp(p, "a\0b", 3));
    CHECK_EQ_I64(c->offsets[4], 8);
    ldr_col_free(c);
}

TEST(lists_null_empty_and_null_elements)
{
    ldr_col *c = ldr_col_new(LDR_TYPE_FLOAT32_LIST, 0);
    ldr_col_append_f32(c->child, 1.5f);
    ldr_col_append_null(c->child);
    ldr_col_append_f32(c->child, 3.0f);
    ldr_col_append_list(c); /* [1.5, null, 3] */
    ldr_col_append_null(c); /* null */
    ldr_col_append_list(c); /* [] */
    CHECK_EQ_I64(c->n, 3);
    size_t b, e;
    ldr_col_list(c, 0, &b, &e);
    CHECK(b == 0 && e == 3);
    CHECK(!ldr_col_valid(c->child, 1));
    CHECK(!ldr_col_valid(c, 1));
    ldr_col_list(c, 2, &b, &e);
    CHECK(b == 3 && e == 3);
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_value v;
    ldr_col_get(c, 0, &a, &v);
    CHECK(v.type == LDR_TYPE_FLOAT32_LIST && v.u.list.n == 3 && v.u.list.items[1].is_null);
    CHECK_EQ_F64(v.u.list.items[2].u.f32, 3.0);
    /* append_value round trip */
    ldr_col *d = ldr_col_new(LDR_TYPE_FLOAT32_LIST, 0);
    for (size_t i = 0; i < 3; i++) {
        ldr_col_get(c, i, &a, &v);
        ldr_col_append_value(d, &v);
    }
    for (size_t i = 0; i < 3; i++)
        CHECK(ldr_col_eq(c, i, d, i));
    CHECK(!ldr_col_eq(c, 0, d, 2));
    ldr_arena_fini(&a);
    ldr_col_free(c);
    ldr_col_free(d);
}

static ldr_col *dict_col(void)
{
    ldr_col *dict = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_str(dict, "red", 3);
    ldr_col_append_str(dict, "green", 5);
    ldr_col *c = ldr_col_new_dict(LDR_TYPE_STRING, dict, 0);
    int32_t idx[] = {1, 0, 1, -1, 0};
    for (size_t i = 0; i < 5; i++) {
        if (idx[i] < 0)
            ldr_col_append_null(c);
        else
            ldr_col_append_index(c, idx[i]);
    }
    return c;
}

TEST(dictionary_columns_resolve_values)
{
    ldr_col *c = dict_col();
    size_t len;
    const char *p = ldr_col_str(c, 0, &len);
    CHECK(len == 5 && !memcmp(p, "green", 5));
    CHECK(!ldr_col_valid(c, 3));
    ldr_col *plain = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_str(plain, "green", 5);
    CHECK(ldr_col_eq(c, 0, plain, 0));
    CHECK(ldr_col_eq(c, 2, plain, 0));
    CHECK(!ldr_col_eq(c, 1, plain, 0));
    CHECK(ldr_col_hash(c, 2) == ldr_col_hash(plain, 0));
    ldr_col_decode_dict(c);
    CHECK(c->dict == NULL);
    CHECK_EQ_I64(c->null_count, 1);
    p = ldr_col_str(c, 4, &len);
    CHECK(len == 3 && !memcmp(p, "red", 3));
    CHECK(!ldr_col_valid(c, 3));
    ldr_col_free(c);
    ldr_col_free(plain);
}

TEST(take_matches_row_model)
{
    /* Columns of several types; take with random rows (including -1 and nulls) must equal
     * appending the same rows one by one. */
    uint64_t seed = 42;
    ldr_type types[] = {LDR_TYPE_INT32,  LDR_TYPE_INT64,      LDR_TYPE_FLOAT64,       LDR_TYPE_BOOL,
                        LDR_TYPE_STRING, LDR_TYPE_INT64_LIST, LDR_TYPE_UNIX_TIMESTAMP};
    for (size_t t = 0; t < LDR_ARRAY_LEN(types); t++) {
        ldr_col *src = ldr_col_new(types[t], 0);
        ldr_arena a;
        ldr_arena_init(&a, 0);
        for (int i = 0; i < 300; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t r = (uint32_t)(seed >> 33);
            ldr_value v = ldr_value_null(types[t]);
            if (r % 5) {
                char text[64];
                snprintf(text, sizeof text,
                         types[t] == LDR_TYPE_BOOL             ? (r & 1 ? "true" : "false")
                         : types[t] == LDR_TYPE_INT64_LIST     ? "[1, 2, 3]"
                         : types[t] == LDR_TYPE_UNIX_TIMESTAMP ? "2024-01-01T00:00:00Z"
                                                               : "%u",
                         r % 1000);
                ldr_err err;
                CHECK_OK(ldr_value_from_text(types[t], text, strlen(text), &a, &v, &err), err);
            }
            ldr_col_append_value(src, &v);
        }
        int64_t rows[500];
        for (size_t i = 0; i < 500; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            rows[i] = (int64_t)((seed >> 33) % 320) - 20; /* some -1..-20 = misses */
            if (rows[i] < 0)
                rows[i] = -1;
        }
        ldr_col *got = ldr_col_take(src, rows, 500);
        ldr_col *want = ldr_col_new(types[t], 0);
        for (size_t i = 0; i < 500; i++) {
            if (rows[i] < 0)
                ldr_col_append_null(want);
            else
                ldr_col_append_row(want, src, (size_t)rows[i]);
        }
        CHECK_EQ_I64(got->n, 500);
        CHECK_EQ_I64(got->null_count, want->null_count);
        for (size_t i = 0; i < 500; i++)
            if (!ldr_col_eq(got, i, want, i))
                HARNESS_FAIL("type %s row %zu differs", ldr_type_name(types[t]), i);
        ldr_col_free(got);
        ldr_col_free(want);
        ldr_col_free(src);
        ldr_arena_fini(&a);
    }
}

TEST(take_keeps_dictionaries)
{
    ldr_col *c = dict_col();
    int64_t rows[] = {4, -1, 0, 3, 2};
    ldr_col *t = ldr_col_take(c, rows, 5);
    CHECK(t->dict != NULL);
    CHECK_EQ_I64(t->null_count, 2);
    size_t len;
    const char *p = ldr_col_str(t, 0, &len);
    CHECK(len == 3 && !memcmp(p, "red", 3));
    CHECK(!ldr_col_valid(t, 1) && !ldr_col_valid(t, 3));
    CHECK(ldr_col_eq(t, 4, c, 0));
    ldr_col_free(t);
    ldr_col_free(c);
}

TEST(hash_and_eq_by_value)
{
    ldr_col *a = ldr_col_new(LDR_TYPE_FLOAT64, 0), *b = ldr_col_new(LDR_TYPE_FLOAT64, 0);
    ldr_col_append_f64(a, 0.0);
    ldr_col_append_f64(b, -0.0);
    ldr_col_append_f64(a, (double)NAN);
    ldr_col_append_f64(b, (double)NAN);
    ldr_col_append_null(a);
    ldr_col_append_null(b);
    for (size_t i = 0; i < 3; i++) {
        CHECK(ldr_col_eq(a, i, b, i));
        CHECK(ldr_col_hash(a, i) == ldr_col_hash(b, i));
    }
    CHECK(!ldr_col_eq(a, 0, b, 2));
    ldr_col_free(a);
    ldr_col_free(b);
}

TEST(batches)
{
    ldr_batch *b = ldr_batch_new();
    ldr_col *k = ldr_col_new(LDR_TYPE_INT64, 0), *s = ldr_col_new(LDR_TYPE_STRING, 0);
    ldr_col_append_i64(k, 1);
    ldr_col_append_i64(k, 2);
    ldr_col_append_str(s, "x", 1);
    ldr_col_append_null(s);
    ldr_batch_add(b, "id", k);
    ldr_batch_add(b, "name", s);
    CHECK_EQ_I64(b->n_rows, 2);
    CHECK_EQ_I64(ldr_batch_find(b, "name"), 1);
    CHECK_EQ_I64(ldr_batch_find(b, "nope"), -1);

    /* append matches columns by name, whatever their order */
    ldr_batch *o = ldr_batch_new();
    ldr_col *s2 = ldr_col_new(LDR_TYPE_STRING, 0), *k2 = ldr_col_new(LDR_TYPE_INT64, 0);
    ldr_col_append_str(s2, "zz", 2);
    ldr_col_append_i64(k2, 3);
    ldr_batch_add(o, "name", s2);
    ldr_batch_add(o, "id", k2);
    ldr_err err;
    CHECK_OK(ldr_batch_append(b, o, &err), err);
    CHECK_EQ_I64(b->n_rows, 3);
    CHECK_EQ_I64(ldr_col_i64(b->cols[0], 2), 3);
    size_t len;
    const char *p = ldr_col_str(b->cols[1], 2, &len);
    CHECK(len == 2 && !memcmp(p, "zz", 2));

    ldr_batch_rename(o, 0, "label");
    CHECK_FAILS(ldr_batch_append(b, o, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "column 'name' is missing");

    ldr_col *removed = ldr_batch_remove(b, 0);
    CHECK_EQ_I64(b->n_cols, 1);
    CHECK_EQ_STR(b->names[0], "name");
    ldr_col_free(removed);
    ldr_batch_free(b);
    ldr_batch_free(o);
    ldr_batch_free(NULL);
}

int main(void)
{
    RUN(fixed_width_with_nulls);
    RUN(all_valid_column_has_no_bitmap);
    RUN(valid_bits_in_bulk);
    RUN(clear_keeps_buffers);
    RUN(strings_and_bytes);
    RUN(lists_null_empty_and_null_elements);
    RUN(dictionary_columns_resolve_values);
    RUN(take_matches_row_model);
    RUN(take_keeps_dictionaries);
    RUN(hash_and_eq_by_value);
    RUN(batches);
    return harness_done();
}
