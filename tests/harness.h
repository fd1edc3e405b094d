/*
 * harness.h -- the in-house unit-test harness (STYLE §43): TEST/CHECK macros, TAP output,
 * and a closing "N passed, N failed" line. One executable per test file; meson runs them
 * in parallel with protocol 'tap'.
 *
 * Usage:
 *     TEST(parses_z) { ldr_ts t; CHECK_OK(ldr_ts_parse("...", 3, &t, &err), err); ... }
 *     int main(void) { RUN(parses_z); ...; return harness_done(); }
 *
 * A failing CHECK prints a TAP diagnostic line ("# file:line: ...") and marks the current
 * test failed; the test continues so one run shows every broken assertion.
 * Header-only; every function is static inline so each test file is self-contained.
 */
#ifndef LDR_TESTS_HARNESS_H
#define LDR_TESTS_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "larder/larder.h"

typedef struct harness_state {
    int run;
    int passed;
    int failed;
    int cur_failed;
    const char *cur_skip; /* set by SKIP_UNLESS: the test was skipped, and why */
} harness_state;

static harness_state harness_g;

#define TEST(name) static void test_##name(void)

/* Runs one test and prints its TAP line ("ok N - name # SKIP why" after SKIP_UNLESS). */
#define RUN(name)                                                                                  \
    do {                                                                                           \
        harness_g.cur_failed = 0;                                                                  \
        harness_g.cur_skip = NULL;                                                                 \
        test_##name();                                                                             \
        harness_g.run++;                                                                           \
        if (harness_g.cur_failed) {                                                                \
            harness_g.failed++;                                                                    \
            printf("not ok %d - %s\n", harness_g.run, #name);                                      \
        } else {                                                                                   \
            harness_g.passed++;                                                                    \
            printf("ok %d - %s%s%s\n", harness_g.run, #name, harness_g.cur_skip ? " # SKIP " : "", \
                   harness_g.cur_skip ? harness_g.cur_skip : "");                                  \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

/* Ends the current test as skipped (a TAP SKIP directive) unless cond holds: for tests
 * that need something the machine may lack, such as a Redis server. */
#define SKIP_UNLESS(cond, why)             \
    do {                                   \
        if (!(cond)) {                     \
            printf("# SKIP: %s\n", (why)); \
            harness_g.cur_skip = (why);    \
            return;                        \
        }                                  \
    } while (0)

#define HARNESS_FAIL(...)                        \
    do {                                         \
        printf("# %s:%d: ", __FILE__, __LINE__); \
        printf(__VA_ARGS__);                     \
        printf("\n");                            \
        harness_g.cur_failed = 1;                \
    } while (0)

#define CHECK(cond)                                  \
    do {                                             \
        if (!(cond))                                 \
            HARNESS_FAIL("CHECK(%s) failed", #cond); \
    } while (0)

#define CHECK_EQ_I64(a, b)                                                       \
    do {                                                                         \
        int64_t ha_ = (int64_t)(a), hb_ = (int64_t)(b);                          \
        if (ha_ != hb_)                                                          \
            HARNESS_FAIL("%s == %s: %" PRId64 " != %" PRId64, #a, #b, ha_, hb_); \
    } while (0)

#define CHECK_EQ_F64(a, b)                                              \
    do {                                                                \
        double ha_ = (double)(a), hb_ = (double)(b);                    \
        if (!(ha_ == hb_ || (isnan(ha_) && isnan(hb_))))                \
            HARNESS_FAIL("%s == %s: %.17g != %.17g", #a, #b, ha_, hb_); \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                \
    do {                                                                                  \
        const char *ha_ = (a), *hb_ = (b);                                                \
        if (!ha_ || !hb_ || strcmp(ha_, hb_) != 0)                                        \
            HARNESS_FAIL("%s == %s:\n#   got:      \"%s\"\n#   expected: \"%s\"", #a, #b, \
                         ha_ ? ha_ : "(null)", hb_ ? hb_ : "(null)");                     \
    } while (0)

/* Checks that a substring occurs in a string. */
#define CHECK_CONTAINS(hay, needle)                                                    \
    do {                                                                               \
        const char *ha_ = (hay), *hb_ = (needle);                                      \
        if (!ha_ || !strstr(ha_, hb_))                                                 \
            HARNESS_FAIL("\"%s\" does not contain \"%s\"", ha_ ? ha_ : "(null)", hb_); \
    } while (0)

/* Checks that an ldr_code is LDR_OK, printing the error message otherwise. */
#define CHECK_OK(expr, err)                                              \
    do {                                                                 \
        ldr_code hc_ = (expr);                                           \
        if (hc_ != LDR_OK)                                               \
            HARNESS_FAIL("%s: code %d: %s", #expr, (int)hc_, (err).msg); \
    } while (0)

/* Checks that an expression fails with the given code. */
#define CHECK_FAILS(expr, code)                                                         \
    do {                                                                                \
        ldr_code hc_ = (expr);                                                          \
        if (hc_ != (code))                                                              \
            HARNESS_FAIL("%s: expected code %d, got %d", #expr, (int)(code), (int)hc_); \
    } while (0)

static inline int harness_done(void)
{
    printf("1..%d\n", harness_g.run);
    printf("# %d passed, %d failed\n", harness_g.passed, harness_g.failed);
    return harness_g.failed ? 1 : 0;
}

#endif /* LDR_TESTS_HARNESS_H */
