/*
 * test_core.c -- unit tests for the core basics: errors, arena, bounded buffer, hash map,
 * strings (edit distance, did-you-mean) and log-level parsing.
 */
#include "core/core.h"

#include "harness.h"

TEST(err_setf_and_prefix)
{
    ldr_err err;
    ldr_err_clear(&err);
    CHECK_EQ_I64(ldr_err_setf(&err, LDR_EINVAL, "bad %s %d", "thing", 7), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "bad thing 7");
    ldr_err_prefix(&err, "loading %s: ", "x.yaml");
    CHECK_EQ_STR(err.msg, "loading x.yaml: bad thing 7");
    CHECK_EQ_I64(err.code, LDR_EINVAL);
    /* NULL err is allowed everywhere */
    CHECK_EQ_I64(ldr_err_setf(NULL, LDR_EIO, "x"), LDR_EIO);
    ldr_err_prefix(NULL, "y");
}

TEST(err_prefix_truncates_safely)
{
    ldr_err err;
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ldr_err_setf(&err, LDR_EIO, "%s", big);
    CHECK_EQ_I64(strlen(err.msg), sizeof err.msg - 1);
    ldr_err_prefix(&err, "PREFIX: ");
    CHECK(strncmp(err.msg, "PREFIX: aaa", 11) == 0);
    CHECK_EQ_I64(strlen(err.msg), sizeof err.msg - 1);
}

TEST(err_sys_appends_strerror)
{
    ldr_err err;
    ldr_err_sys(&err, LDR_EIO, 2, "cannot open %s", "f");
    CHECK_EQ_I64(err.sys_errno, 2);
    CHECK_CONTAINS(err.msg, "cannot open f: ");
    CHECK_CONTAINS(err.msg, "No such file");
}

TEST(code_names)
{
    CHECK_EQ_STR(ldr_code_name(LDR_OK), "ok");
    CHECK_EQ_STR(ldr_code_name(LDR_EBUSY), "busy");
    CHECK_EQ_STR(ldr_code_name((ldr_code)999), "unknown error");
}

TEST(arena_alignment_and_growth)
{
    ldr_arena a;
    ldr_arena_init(&a, 64);
    char *prev = NULL;
    for (int i = 0; i < 1000; i++) {
        char *p = ldr_arena_alloc(&a, (size_t)(i % 37) + 1);
        CHECK(((uintptr_t)p & 15u) == 0);
        memset(p, 0xab, (size_t)(i % 37) + 1);
        CHECK(p != prev);
        prev = p;
    }
    /* a block bigger than the chunk size */
    char *big = ldr_arena_alloc(&a, 10000);
    memset(big, 1, 10000);
    char *after = ldr_arena_alloc(&a, 8);
    CHECK(after != NULL);
    int *z = ldr_arena_calloc(&a, 100, sizeof(int));
    int sum = 0;
    for (int i = 0; i < 100; i++)
        sum += z[i];
    CHECK_EQ_I64(sum, 0);
    CHECK_EQ_STR(ldr_arena_sprintf(&a, "%s-%d", "x", 42), "x-42");
    CHECK_EQ_STR(ldr_arena_strndup(&a, "hello", 3), "hel");
    ldr_arena_fini(&a);
    ldr_arena_fini(&a); /* idempotent */
}

TEST(buf_limits)
{
    ldr_buf b;
    ldr_err err;
    ldr_buf_init(&b, 10);
    CHECK_EQ_STR(ldr_buf_cstr(&b), "");
    CHECK_OK(ldr_buf_puts(&b, "hello", &err), err);
    CHECK_OK(ldr_buf_printf(&b, &err, "%d", 1234), err);
    CHECK_EQ_STR(ldr_buf_cstr(&b), "hello1234");
    CHECK_FAILS(ldr_buf_puts(&b, "xy", &err), LDR_ELIMIT);
    CHECK_EQ_STR(ldr_buf_cstr(&b), "hello1234"); /* unchanged on failure */
    CHECK_OK(ldr_buf_putc(&b, '!', &err), err);
    CHECK_EQ_I64(b.len, 10);
    CHECK_FAILS(ldr_buf_putc(&b, '!', &err), LDR_ELIMIT);
    CHECK_FAILS(ldr_buf_append(&b, "x", SIZE_MAX, &err), LDR_ELIMIT);
    char *s = ldr_buf_take(&b);
    CHECK_EQ_STR(s, "hello1234!");
    ldr_free(s);
    CHECK_EQ_I64(b.len, 0);
    s = ldr_buf_take(&b);
    CHECK_EQ_STR(s, "");
    ldr_free(s);
    ldr_buf_fini(&b);
}

TEST(buf_grows_large)
{
    ldr_buf b;
    ldr_err err;
    ldr_buf_init(&b, 1u << 20);
    for (int i = 0; i < 10000; i++)
        CHECK_OK(ldr_buf_printf(&b, &err, "%05d,", i), err);
    CHECK_EQ_I64(b.len, 60000);
    CHECK(strncmp(b.ptr + 6 * 9999, "09999,", 6) == 0);
    ldr_buf_fini(&b);
}

TEST(map_put_get)
{
    ldr_map m;
    ldr_map_init(&m);
    CHECK(ldr_map_get(&m, "nothing") == NULL);
    CHECK(!ldr_map_has(&m, "nothing"));
    static char keys[2000][8];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        CHECK(ldr_map_put(&m, keys[i], (void *)(intptr_t)(i + 1)) == NULL);
    }
    CHECK_EQ_I64(m.n, 2000);
    for (int i = 0; i < 2000; i++)
        CHECK_EQ_I64((intptr_t)ldr_map_get(&m, keys[i]), i + 1);
    CHECK(ldr_map_put(&m, "k5", (void *)(intptr_t)99) == (void *)(intptr_t)6);
    CHECK_EQ_I64((intptr_t)ldr_map_get(&m, "k5"), 99);
    CHECK_EQ_I64(m.n, 2000);
    CHECK_EQ_I64((intptr_t)ldr_map_getn(&m, "k12xyz", 3), 13);
    CHECK(ldr_map_get(&m, "k2000") == NULL);
    ldr_map_fini(&m);
}

TEST(edit_distance_and_suggestions)
{
    CHECK_EQ_I64(ldr_edit_distance("kitten", "sitting", 10), 3);
    CHECK_EQ_I64(ldr_edit_distance("", "abc", 10), 3);
    CHECK_EQ_I64(ldr_edit_distance("same", "same", 10), 0);
    CHECK_EQ_I64(ldr_edit_distance("abcdef", "zzzzzz", 2), 2);
    const char *const keys[] = {"name", "join_keys", "value_type", "description", "tags", "owner"};
    CHECK_EQ_STR(ldr_did_you_mean("join_key", keys, 6), "join_keys");
    CHECK_EQ_STR(ldr_did_you_mean("valu_type", keys, 6), "value_type");
    CHECK_EQ_STR(ldr_did_you_mean("nmae", keys, 6), "name");
    CHECK(ldr_did_you_mean("completely_different", keys, 6) == NULL);
}

TEST(log_levels)
{
    ldr_log_level l;
    CHECK(ldr_log_level_parse("DEBUG", &l) && l == LDR_LOG_DEBUG);
    CHECK(ldr_log_level_parse("warn", &l) && l == LDR_LOG_WARN);
    CHECK(ldr_log_level_parse("warning", &l) && l == LDR_LOG_WARN);
    CHECK(ldr_log_level_parse("off", &l) && l == LDR_LOG_OFF);
    CHECK(!ldr_log_level_parse("loud", &l));
}

int main(void)
{
    RUN(err_setf_and_prefix);
    RUN(err_prefix_truncates_safely);
    RUN(err_sys_appends_strerror);
    RUN(code_names);
    RUN(arena_alignment_and_growth);
    RUN(buf_limits);
    RUN(buf_grows_large);
    RUN(map_put_get);
    RUN(edit_distance_and_suggestions);
    RUN(log_levels);
    return harness_done();
}
