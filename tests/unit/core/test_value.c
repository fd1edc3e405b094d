/*
 * test_value.c -- unit tests for src/core/value.c: type names (canonical, aliases, case,
 * whitespace, invalid and nested forms), type predicates, text-to-value conversion and
 * its errors for every type, JSON-like lists with escapes and nulls, value-to-text
 * output, structural equality, and shortest round-trip float formatting.
 *
 * Property checks use a fixed-seed PRNG: random doubles/floats (as bit patterns) must
 * format to text that reads back bit-exactly and that no shorter precision would give,
 * and random values of every type must survive to_text -> from_text unchanged.
 */
#include "core/core.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* xorshift64*: a deterministic PRNG so failures reproduce. */
static uint64_t rng_state = UINT64_C(0x2545F4914F6CDD1D);

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* Every valid type, scalars then lists. */
static const ldr_type all_types[] = {
    LDR_TYPE_BYTES,        LDR_TYPE_STRING,       LDR_TYPE_INT32,      LDR_TYPE_INT64,
    LDR_TYPE_FLOAT64,      LDR_TYPE_FLOAT32,      LDR_TYPE_BOOL,       LDR_TYPE_UNIX_TIMESTAMP,
    LDR_TYPE_BYTES_LIST,   LDR_TYPE_STRING_LIST,  LDR_TYPE_INT32_LIST, LDR_TYPE_INT64_LIST,
    LDR_TYPE_FLOAT64_LIST, LDR_TYPE_FLOAT32_LIST, LDR_TYPE_BOOL_LIST,  LDR_TYPE_UNIX_TIMESTAMP_LIST,
};

static ldr_type tparse(const char *s)
{
    return ldr_type_parse(s, strlen(s));
}

/* Converts a NUL-terminated literal. */
static ldr_code from(ldr_type t, const char *s, ldr_arena *a, ldr_value *v, ldr_err *err)
{
    return ldr_value_from_text(t, s, strlen(s), a, v, err);
}

/* The text form of v, in a static buffer replaced by the next call. */
static const char *text(const ldr_value *v)
{
    static char out[4096];
    ldr_buf b;
    ldr_err err = {0};
    ldr_buf_init(&b, sizeof out - 1);
    if (ldr_value_to_text(v, &b, &err) != LDR_OK) {
        snprintf(out, sizeof out, "<error: %s>", err.msg);
    } else {
        memcpy(out, ldr_buf_cstr(&b), b.len + 1);
    }
    ldr_buf_fini(&b);
    return out;
}

static bool str_is(const ldr_value *v, const char *s, size_t len)
{
    return !v->is_null && v->u.str.len == len && memcmp(v->u.str.ptr, s, len) == 0;
}

/* Checks that text converts to type t and prints back as `canon`. */
#define CHECK_CANON(t, text_in, canon)                \
    do {                                              \
        ldr_err e_ = {0};                             \
        ldr_value v_;                                 \
        CHECK_OK(from(t, text_in, &a, &v_, &e_), e_); \
        CHECK_EQ_STR(text(&v_), canon);               \
    } while (0)

/* Checks that text fails for type t with LDR_EINVAL and a message containing `part`. */
#define CHECK_BAD(t, text_in, part)                              \
    do {                                                         \
        ldr_err e_ = {0};                                        \
        ldr_value v_;                                            \
        CHECK_FAILS(from(t, text_in, &a, &v_, &e_), LDR_EINVAL); \
        CHECK_CONTAINS(e_.msg, part);                            \
    } while (0)

/* ---- Types ----------------------------------------------------------------------------- */

TEST(type_names_canonical)
{
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_INT32), "Int32");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_INT64), "Int64");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_FLOAT32), "Float32");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_FLOAT64), "Float64");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_STRING), "String");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_BYTES), "Bytes");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_BOOL), "Bool");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_UNIX_TIMESTAMP), "UnixTimestamp");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_FLOAT32_LIST), "Array(Float32)");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_INT64_LIST), "Array(Int64)");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_UNIX_TIMESTAMP_LIST), "Array(UnixTimestamp)");
    CHECK_EQ_STR(ldr_type_name(LDR_TYPE_INVALID), "Invalid");
    CHECK_EQ_STR(ldr_type_name((ldr_type)9), "Invalid");
    CHECK_EQ_STR(ldr_type_name((ldr_type)99), "Invalid");
    /* Every canonical name parses back to its type. */
    for (size_t i = 0; i < LDR_ARRAY_LEN(all_types); i++) {
        const char *name = ldr_type_name(all_types[i]);
        CHECK_EQ_I64(tparse(name), all_types[i]);
        if (ldr_type_is_list(all_types[i])) {
            char want[64];
            snprintf(want, sizeof want, "Array(%s)", ldr_type_name(ldr_type_elem(all_types[i])));
            CHECK_EQ_STR(name, want);
        }
    }
}

TEST(type_parse_case_and_aliases)
{
    CHECK_EQ_I64(tparse("int32"), LDR_TYPE_INT32);
    CHECK_EQ_I64(tparse("INT64"), LDR_TYPE_INT64);
    CHECK_EQ_I64(tparse("fLoAt32"), LDR_TYPE_FLOAT32);
    CHECK_EQ_I64(tparse("float64"), LDR_TYPE_FLOAT64);
    CHECK_EQ_I64(tparse("string"), LDR_TYPE_STRING);
    CHECK_EQ_I64(tparse("BYTES"), LDR_TYPE_BYTES);
    CHECK_EQ_I64(tparse("bool"), LDR_TYPE_BOOL);
    CHECK_EQ_I64(tparse("unixtimestamp"), LDR_TYPE_UNIX_TIMESTAMP);
    CHECK_EQ_I64(tparse("Float"), LDR_TYPE_FLOAT32);
    CHECK_EQ_I64(tparse("FLOAT"), LDR_TYPE_FLOAT32);
    CHECK_EQ_I64(tparse("Double"), LDR_TYPE_FLOAT64);
    CHECK_EQ_I64(tparse("double"), LDR_TYPE_FLOAT64);
    CHECK_EQ_I64(tparse("array(float32)"), LDR_TYPE_FLOAT32_LIST);
    CHECK_EQ_I64(tparse("ARRAY(STRING)"), LDR_TYPE_STRING_LIST);
    CHECK_EQ_I64(tparse("Array(Float)"), LDR_TYPE_FLOAT32_LIST);
    CHECK_EQ_I64(tparse("Array(double)"), LDR_TYPE_FLOAT64_LIST);
    CHECK_EQ_I64(tparse("Array(Bytes)"), LDR_TYPE_BYTES_LIST);
    CHECK_EQ_I64(tparse("Array(Bool)"), LDR_TYPE_BOOL_LIST);
    CHECK_EQ_I64(tparse("Array(Int32)"), LDR_TYPE_INT32_LIST);
    CHECK_EQ_I64(tparse("Array(UnixTimestamp)"), LDR_TYPE_UNIX_TIMESTAMP_LIST);
}

TEST(type_parse_whitespace)
{
    CHECK_EQ_I64(tparse("array( float32 )"), LDR_TYPE_FLOAT32_LIST);
    CHECK_EQ_I64(tparse("Array (Int64)"), LDR_TYPE_INT64_LIST);
    CHECK_EQ_I64(tparse("Array(\tString\n)"), LDR_TYPE_STRING_LIST);
    CHECK_EQ_I64(tparse("  Int32  "), LDR_TYPE_INT32);
    CHECK_EQ_I64(tparse(" Array( Bool ) "), LDR_TYPE_BOOL_LIST);
}

TEST(type_parse_invalid)
{
    static const char *const bad[] = {
        "",
        "   ",
        "Int",
        "Int16",
        "Int 32",
        "Int32x",
        "xInt32",
        "Float128",
        "Float16",
        "Str",
        "Timestamp",
        "Unix_Timestamp",
        "Array",
        "Array()",
        "Array( )",
        "Array(Int32",
        "ArrayInt32)",
        "Array Int32",
        "Array(Int32)x",
        "Array(Int32))",
        "Array((Int32))",
        "Array(Array(Int32))",
        "array(array(float))",
        "List(Int32)",
        "Array(Invalid)",
        "Invalid",
        "Int32[]",
        "Array<Int32>",
        "Array(Int32,Int64)",
    };
    for (size_t i = 0; i < LDR_ARRAY_LEN(bad); i++) {
        if (tparse(bad[i]) != LDR_TYPE_INVALID)
            HARNESS_FAIL("\"%s\" parsed as %s", bad[i], ldr_type_name(tparse(bad[i])));
    }
}

TEST(type_parse_respects_len)
{
    CHECK_EQ_I64(ldr_type_parse("Int32abc", 5), LDR_TYPE_INT32);
    CHECK_EQ_I64(ldr_type_parse("Int32", 3), LDR_TYPE_INVALID);
    CHECK_EQ_I64(ldr_type_parse("Array(Int32))", 12), LDR_TYPE_INT32_LIST);
    CHECK_EQ_I64(ldr_type_parse("Float64", 5), LDR_TYPE_FLOAT32); /* "Float" */
    const char exact[4] = {'B', 'o', 'o', 'l'};                   /* no terminator */
    CHECK_EQ_I64(ldr_type_parse(exact, sizeof exact), LDR_TYPE_BOOL);
    CHECK_EQ_I64(ldr_type_parse(NULL, 0), LDR_TYPE_INVALID);
}

TEST(type_predicates)
{
    for (int i = -1; i <= 25; i++) {
        ldr_type t = (ldr_type)i;
        bool scalar = i >= 1 && i <= 8, list = i >= 11 && i <= 18;
        CHECK_EQ_I64(ldr_type_valid(t), scalar || list);
        CHECK_EQ_I64(ldr_type_is_list(t), list);
        if (list)
            CHECK_EQ_I64(ldr_type_elem(t), i - LDR_TYPE_LIST_OFFSET);
        if (scalar)
            CHECK_EQ_I64(ldr_type_elem(t), i);
    }
    CHECK_EQ_I64(ldr_type_elem(LDR_TYPE_INVALID), LDR_TYPE_INVALID);
    CHECK_EQ_I64(ldr_type_elem(LDR_TYPE_FLOAT32_LIST), LDR_TYPE_FLOAT32);
}

TEST(type_names_help)
{
    const char *help = ldr_type_names_help();
    CHECK(help == ldr_type_names_help()); /* static */
    static const char *const names[] = {"Int32", "Int64", "Float32",       "Float64", "String",
                                        "Bytes", "Bool",  "UnixTimestamp", "Array("};
    for (size_t i = 0; i < LDR_ARRAY_LEN(names); i++)
        CHECK_CONTAINS(help, names[i]);
}

/* ---- Scalars from text ------------------------------------------------------------------- */

TEST(value_null)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(all_types); i++) {
        ldr_value v = ldr_value_null(all_types[i]);
        CHECK(v.is_null);
        CHECK_EQ_I64(v.type, all_types[i]);
        CHECK_EQ_STR(text(&v), "");
    }
}

TEST(int32_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_INT32, "42", &a, &v, &err), err);
    CHECK_EQ_I64(v.type, LDR_TYPE_INT32);
    CHECK(!v.is_null);
    CHECK_EQ_I64(v.u.i32, 42);
    CHECK_CANON(LDR_TYPE_INT32, "0", "0");
    CHECK_CANON(LDR_TYPE_INT32, "-0", "0");
    CHECK_CANON(LDR_TYPE_INT32, "-42", "-42");
    CHECK_CANON(LDR_TYPE_INT32, "+7", "7");
    CHECK_CANON(LDR_TYPE_INT32, "007", "7");
    CHECK_CANON(LDR_TYPE_INT32, "2147483647", "2147483647");
    CHECK_CANON(LDR_TYPE_INT32, "-2147483648", "-2147483648");
    CHECK_FAILS(from(LDR_TYPE_INT32, "3000000000", &a, &v, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "invalid Int32 \"3000000000\": out of range");
    CHECK_BAD(LDR_TYPE_INT32, "2147483648", "out of range");
    CHECK_BAD(LDR_TYPE_INT32, "-2147483649", "out of range");
    CHECK_BAD(LDR_TYPE_INT32, "99999999999999999999999", "out of range");
    CHECK_BAD(LDR_TYPE_INT32, "12a", "invalid Int32 \"12a\": not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "", "invalid Int32 \"\": not an integer");
    CHECK_BAD(LDR_TYPE_INT32, " 1", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "1 ", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "-", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "+", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "+-1", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "1.0", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "1e3", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "0x10", "not an integer");
    CHECK_BAD(LDR_TYPE_INT32, "null", "not an integer");
    ldr_arena_fini(&a);
}

TEST(int64_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_INT64, "-9223372036854775808", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.i64, INT64_MIN);
    CHECK_OK(from(LDR_TYPE_INT64, "9223372036854775807", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.i64, INT64_MAX);
    CHECK_CANON(LDR_TYPE_INT64, "3000000000", "3000000000");
    CHECK_CANON(LDR_TYPE_INT64, "+00000000000000000000000001", "1");
    CHECK_BAD(LDR_TYPE_INT64, "9223372036854775808", "invalid Int64 \"9223372036854775808\": out");
    CHECK_BAD(LDR_TYPE_INT64, "-9223372036854775809", "out of range");
    CHECK_BAD(LDR_TYPE_INT64, "18446744073709551616", "out of range");
    CHECK_BAD(LDR_TYPE_INT64, "1_000", "not an integer");
    CHECK_BAD(LDR_TYPE_INT64, "١", "not an integer"); /* non-ASCII digit */
    /* Only len bytes are read. */
    CHECK_OK(ldr_value_from_text(LDR_TYPE_INT64, "12345", 3, &a, &v, &err), err);
    CHECK_EQ_I64(v.u.i64, 123);
    ldr_arena_fini(&a);
}

TEST(float64_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_FLOAT64, "1.5", &a, &v, &err), err);
    CHECK_EQ_F64(v.u.f64, 1.5);
    CHECK_OK(from(LDR_TYPE_FLOAT64, "5e-324", &a, &v, &err), err);
    CHECK_EQ_F64(v.u.f64, 5e-324);
    CHECK_OK(from(LDR_TYPE_FLOAT64, "1e-400", &a, &v, &err), err); /* underflow rounds to 0 */
    CHECK_EQ_F64(v.u.f64, 0.0);
    CHECK_OK(from(LDR_TYPE_FLOAT64, "nan", &a, &v, &err), err);
    CHECK(isnan(v.u.f64));
    CHECK_OK(from(LDR_TYPE_FLOAT64, "-Infinity", &a, &v, &err), err);
    CHECK(isinf(v.u.f64) && v.u.f64 < 0);
    CHECK_CANON(LDR_TYPE_FLOAT64, "1", "1.0");
    CHECK_CANON(LDR_TYPE_FLOAT64, "-0.25", "-0.25");
    CHECK_CANON(LDR_TYPE_FLOAT64, "+.5", "0.5");
    CHECK_CANON(LDR_TYPE_FLOAT64, "1e300", "1e+300");
    CHECK_CANON(LDR_TYPE_FLOAT64, "NaN", "nan");
    CHECK_CANON(LDR_TYPE_FLOAT64, "INF", "inf");
    CHECK_CANON(LDR_TYPE_FLOAT64, "-inf", "-inf");
    CHECK_CANON(LDR_TYPE_FLOAT64, "0.1000000000000000055511151231257827", "0.1");
    CHECK_BAD(LDR_TYPE_FLOAT64, "1e400", "invalid Float64 \"1e400\": out of range");
    CHECK_BAD(LDR_TYPE_FLOAT64, "-1e400", "out of range");
    CHECK_BAD(LDR_TYPE_FLOAT64, "abc", "invalid Float64 \"abc\": not a number");
    CHECK_BAD(LDR_TYPE_FLOAT64, "1.5x", "not a number");
    CHECK_BAD(LDR_TYPE_FLOAT64, "", "not a number");
    CHECK_BAD(LDR_TYPE_FLOAT64, " 1.5", "not a number");
    CHECK_BAD(LDR_TYPE_FLOAT64, "1.5 ", "not a number");
    CHECK_BAD(LDR_TYPE_FLOAT64, "1,5", "not a number");
    /* Only len bytes are read: "1.5" followed by more digits. */
    CHECK_OK(ldr_value_from_text(LDR_TYPE_FLOAT64, "1.5999", 3, &a, &v, &err), err);
    CHECK_EQ_F64(v.u.f64, 1.5);
    /* Input longer than the stack copy: 0.(199 zeros)1 = 1e-200. */
    char longs[256] = "0.";
    memset(longs + 2, '0', 199);
    longs[201] = '1';
    longs[202] = '\0';
    CHECK_OK(from(LDR_TYPE_FLOAT64, longs, &a, &v, &err), err);
    CHECK_EQ_F64(v.u.f64, 1e-200);
    longs[202] = 'x';
    longs[203] = '\0';
    CHECK_BAD(LDR_TYPE_FLOAT64, longs, "...\": not a number");
    ldr_arena_fini(&a);
}

TEST(float32_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_FLOAT32, "0.1", &a, &v, &err), err);
    CHECK(v.u.f32 == 0.1f);
    CHECK_OK(from(LDR_TYPE_FLOAT32, "3.4028235e38", &a, &v, &err), err);
    CHECK(v.u.f32 == FLT_MAX);
    /* Parsed as a float directly, not via double (no double rounding). */
    CHECK_OK(from(LDR_TYPE_FLOAT32, "1.00000005960464477539062500001", &a, &v, &err), err);
    CHECK(v.u.f32 == nextafterf(1.0f, 2.0f));
    CHECK_CANON(LDR_TYPE_FLOAT32, "0.1", "0.1");
    CHECK_CANON(LDR_TYPE_FLOAT32, "16777216", "16777216.0");
    CHECK_CANON(LDR_TYPE_FLOAT32, "1e-50", "0.0"); /* underflow rounds to 0 */
    CHECK_CANON(LDR_TYPE_FLOAT32, "-nan", "nan");
    CHECK_CANON(LDR_TYPE_FLOAT32, "inf", "inf");
    CHECK_BAD(LDR_TYPE_FLOAT32, "1e39", "invalid Float32 \"1e39\": out of range");
    CHECK_BAD(LDR_TYPE_FLOAT32, "3.5e38", "out of range");
    CHECK_BAD(LDR_TYPE_FLOAT32, "one", "not a number");
    ldr_arena_fini(&a);
}

TEST(bool_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    static const char *const yes[] = {"true", "TRUE", "True", "tRuE", "1"};
    static const char *const no[] = {"false", "FALSE", "False", "0"};
    ldr_err err = {0};
    ldr_value v;
    for (size_t i = 0; i < LDR_ARRAY_LEN(yes); i++) {
        CHECK_OK(from(LDR_TYPE_BOOL, yes[i], &a, &v, &err), err);
        CHECK(v.u.b == true);
    }
    for (size_t i = 0; i < LDR_ARRAY_LEN(no); i++) {
        CHECK_OK(from(LDR_TYPE_BOOL, no[i], &a, &v, &err), err);
        CHECK(v.u.b == false);
    }
    CHECK_CANON(LDR_TYPE_BOOL, "1", "true");
    CHECK_CANON(LDR_TYPE_BOOL, "False", "false");
    CHECK_BAD(LDR_TYPE_BOOL, "yes", "invalid Bool \"yes\": expected true, false, 1 or 0");
    CHECK_BAD(LDR_TYPE_BOOL, "no", "expected true, false, 1 or 0");
    CHECK_BAD(LDR_TYPE_BOOL, "t", "expected true");
    CHECK_BAD(LDR_TYPE_BOOL, "2", "expected true");
    CHECK_BAD(LDR_TYPE_BOOL, "01", "expected true");
    CHECK_BAD(LDR_TYPE_BOOL, "", "expected true");
    CHECK_BAD(LDR_TYPE_BOOL, "true ", "expected true");
    CHECK_BAD(LDR_TYPE_BOOL, "truex", "expected true");
    CHECK_OK(ldr_value_from_text(LDR_TYPE_BOOL, "truex", 4, &a, &v, &err), err);
    CHECK(v.u.b == true);
    ldr_arena_fini(&a);
}

TEST(timestamp_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_UNIX_TIMESTAMP, "2024-01-02T03:04:05Z", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.ts, INT64_C(1704164645000000));
    CHECK_OK(from(LDR_TYPE_UNIX_TIMESTAMP, "1700000000", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.ts, INT64_C(1700000000000000));
    CHECK_OK(from(LDR_TYPE_UNIX_TIMESTAMP, "-1", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.ts, -1000000);
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP, "0", "1970-01-01T00:00:00Z");
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP, "+86400", "1970-01-02T00:00:00Z");
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP, "2024-01-01 02:00:00.5+05:30", "2023-12-31T20:30:00.500Z");
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP, "1969-07-20T20:17:40.000001Z",
                "1969-07-20T20:17:40.000001Z");
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP, "9223372036854", "294247-01-10T04:00:54Z");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "9223372036855",
              "invalid UnixTimestamp \"9223372036855\": epoch seconds out of range");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "-9223372036855", "out of range");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "2024-02-30", "invalid timestamp \"2024-02-30\": day 30");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "yesterday", "invalid timestamp \"yesterday\"");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "1.5", "invalid timestamp \"1.5\"");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP, "", "invalid timestamp \"\"");
    ldr_arena_fini(&a);
}

TEST(string_bytes_from_text)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    char input[] = "héllo, \"world\"";
    CHECK_OK(from(LDR_TYPE_STRING, input, &a, &v, &err), err);
    CHECK(str_is(&v, "héllo, \"world\"", strlen(input)));
    CHECK(v.u.str.ptr != input);          /* copied into the arena */
    CHECK(v.u.str.ptr[v.u.str.len] == 0); /* and NUL-terminated for convenience */
    input[0] = 'X';
    CHECK(v.u.str.ptr[0] == 'h');
    CHECK_OK(from(LDR_TYPE_STRING, "", &a, &v, &err), err);
    CHECK(!v.is_null && v.u.str.len == 0);
    CHECK_CANON(LDR_TYPE_STRING, "  [not a list] \\n ", "  [not a list] \\n ");
    const char raw[5] = {'a', '\0', (char)0xff, '\n', 'z'};
    CHECK_OK(ldr_value_from_text(LDR_TYPE_BYTES, raw, sizeof raw, &a, &v, &err), err);
    CHECK_EQ_I64(v.type, LDR_TYPE_BYTES);
    CHECK(str_is(&v, raw, sizeof raw));
    CHECK_OK(ldr_value_from_text(LDR_TYPE_STRING, "abcdef", 3, &a, &v, &err), err);
    CHECK(str_is(&v, "abc", 3));
    ldr_arena_fini(&a);
}

/* ---- Lists from text --------------------------------------------------------------------- */

TEST(list_numbers)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_INT32_LIST, "[1, 2, 3]", &a, &v, &err), err);
    CHECK_EQ_I64(v.type, LDR_TYPE_INT32_LIST);
    CHECK_EQ_I64(v.u.list.n, 3);
    for (size_t i = 0; i < 3 && v.u.list.n == 3; i++) {
        CHECK_EQ_I64(v.u.list.items[i].type, LDR_TYPE_INT32);
        CHECK(!v.u.list.items[i].is_null);
        CHECK_EQ_I64(v.u.list.items[i].u.i32, (int64_t)i + 1);
    }
    CHECK_OK(from(LDR_TYPE_INT64_LIST, "[]", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.list.n, 0);
    CHECK(!v.is_null);
    CHECK_CANON(LDR_TYPE_INT64_LIST, " [ ] ", "[]");
    CHECK_CANON(LDR_TYPE_INT64_LIST, "[ 1 ,2 , 3 ]", "[1, 2, 3]");
    CHECK_CANON(LDR_TYPE_INT64_LIST, "\n[\t-1,\r\n+2\n]\n", "[-1, 2]");
    CHECK_CANON(LDR_TYPE_INT64_LIST, "[9223372036854775807]", "[9223372036854775807]");
    CHECK_CANON(LDR_TYPE_INT32_LIST, "[\"5\", 6]", "[5, 6]"); /* quoted numbers are fine */
    CHECK_CANON(LDR_TYPE_FLOAT64_LIST, "[0.1, nan, -inf, 1e300, 2]",
                "[0.1, nan, -inf, 1e+300, 2.0]");
    CHECK_CANON(LDR_TYPE_FLOAT32_LIST, "[0.1, 3.4028235e38]", "[0.1, 3.4028235e+38]");
    /* Many elements: the item array grows several times. */
    char big[8192];
    size_t pos = 0;
    big[pos++] = '[';
    for (int i = 0; i < 1000; i++)
        pos += (size_t)snprintf(big + pos, sizeof big - pos, "%s%d", i ? "," : "", i * 7);
    big[pos++] = ']';
    big[pos] = '\0';
    CHECK_OK(from(LDR_TYPE_INT32_LIST, big, &a, &v, &err), err);
    CHECK_EQ_I64(v.u.list.n, 1000);
    for (size_t i = 0; i < v.u.list.n; i++) {
        if (v.u.list.items[i].u.i32 != (int32_t)i * 7)
            HARNESS_FAIL("item %zu is %d", i, v.u.list.items[i].u.i32);
    }
    ldr_arena_fini(&a);
}

TEST(list_nulls)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_INT32_LIST, "[1, null, 3]", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.list.n, 3);
    if (v.u.list.n == 3) {
        CHECK(!v.u.list.items[0].is_null);
        CHECK(v.u.list.items[1].is_null);
        CHECK_EQ_I64(v.u.list.items[1].type, LDR_TYPE_INT32);
        CHECK_EQ_I64(v.u.list.items[2].u.i32, 3);
    }
    CHECK_CANON(LDR_TYPE_INT32_LIST, "[null]", "[null]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[null, \"null\"]", "[null, \"null\"]");
    CHECK_CANON(LDR_TYPE_BOOL_LIST, "[true, FALSE, 1, 0, null]",
                "[true, false, true, false, null]");
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP_LIST, "[null, 0]", "[null, \"1970-01-01T00:00:00Z\"]");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[NULL]", "not an integer"); /* JSON spelling only */
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[Null]", "must be JSON double-quoted");
    ldr_arena_fini(&a);
}

TEST(list_timestamps)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP_LIST, "[\"2024-01-02T03:04:05Z\", 86400]",
                "[\"2024-01-02T03:04:05Z\", \"1970-01-02T00:00:00Z\"]");
    /* Unquoted RFC 3339 works too (a token ends at ',' or ']'), even with a space. */
    CHECK_CANON(LDR_TYPE_UNIX_TIMESTAMP_LIST, "[2024-01-02 03:04:05+01:00 , 2024-02-29]",
                "[\"2024-01-02T02:04:05Z\", \"2024-02-29T00:00:00Z\"]");
    CHECK_BAD(LDR_TYPE_UNIX_TIMESTAMP_LIST, "[\"2024-02-30\"]",
              "element 1: invalid timestamp \"2024-02-30\": day 30");
    ldr_arena_fini(&a);
}

TEST(list_strings_and_escapes)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    const char *in = "[\"a\", \"b\\\"c\", \"\\\\\", \"\\n\\t\\r\\b\\f\\/\", \"\\u00e9\", "
                     "\"\\ud83d\\ude00\", null, \"\", \"\\u0041\\u20AC\", \"x\\u0000y\"]";
    CHECK_OK(from(LDR_TYPE_STRING_LIST, in, &a, &v, &err), err);
    CHECK_EQ_I64(v.u.list.n, 10);
    if (v.u.list.n == 10) {
        const ldr_value *it = v.u.list.items;
        CHECK(str_is(&it[0], "a", 1));
        CHECK(str_is(&it[1], "b\"c", 3));
        CHECK(str_is(&it[2], "\\", 1));
        CHECK(str_is(&it[3], "\n\t\r\b\f/", 6));
        CHECK(str_is(&it[4], "\xc3\xa9", 2));         /* é in UTF-8 */
        CHECK(str_is(&it[5], "\xf0\x9f\x98\x80", 4)); /* U+1F600 from a surrogate pair */
        CHECK(it[6].is_null);
        CHECK(str_is(&it[7], "", 0));
        CHECK(str_is(&it[8], "A\xe2\x82\xac", 4)); /* uppercase hex, U+20AC */
        CHECK(str_is(&it[9], "x\0y", 3));
        CHECK_EQ_I64(it[0].type, LDR_TYPE_STRING);
    }
    /* Raw UTF-8 and a ',' or ']' inside quotes are plain content. */
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"h\xc3\xa9, ]\"]", "[\"h\xc3\xa9, ]\"]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"\\u00e9\"]", "[\"\xc3\xa9\"]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"tab\\there\"]", "[\"tab\\there\"]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"\\u001f\\u007f\"]", "[\"\\u001f\\u007f\"]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"\\ud800\\udc00\"]", "[\"\xf0\x90\x80\x80\"]");
    CHECK_CANON(LDR_TYPE_STRING_LIST, "[\"\\udbff\\udfff\"]", "[\"\xf4\x8f\xbf\xbf\"]");
    ldr_arena_fini(&a);
}

TEST(list_string_errors)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[a]",
              "invalid Array(String) \"[a]\": element 1: strings in a list must be JSON "
              "double-quoted");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"abc]", "element 1: unterminated string");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"abc\\\"]", "element 1: unterminated string");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"abc\\", "element 1: unterminated string");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"a\", \"\\x41\"]", "element 2: unknown escape");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\ud83d\"]", "unpaired UTF-16 surrogate");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\ud83dx\"]", "unpaired UTF-16 surrogate");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\ud83d\\u0041\"]", "unpaired UTF-16 surrogate");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\ude00\"]", "unpaired UTF-16 surrogate");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\u12\"]", "4 hex digits");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\u12G4\"]", "4 hex digits");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"\\u\"]", "4 hex digits");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"a\" \"b\"]", "element 1: expected ',' or ']'");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "[\"a\"x]", "element 1: expected ',' or ']'");
    CHECK_BAD(LDR_TYPE_STRING_LIST, "['a']", "must be JSON double-quoted");
    ldr_arena_fini(&a);
}

TEST(list_bytes)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_OK(from(LDR_TYPE_BYTES_LIST, "[\"\\u0000\\u00ff\\u0080A\", \"\"]", &a, &v, &err), err);
    CHECK_EQ_I64(v.u.list.n, 2);
    if (v.u.list.n == 2) {
        CHECK(str_is(&v.u.list.items[0],
                     "\0\xff\x80"
                     "A",
                     4)); /* one byte per \u00XX */
        CHECK_EQ_I64(v.u.list.items[0].type, LDR_TYPE_BYTES);
    }
    CHECK_CANON(LDR_TYPE_BYTES_LIST, "[\"\\u00FF\\n\\\"\"]", "[\"\\u00ff\\n\\\"\"]");
    CHECK_CANON(LDR_TYPE_BYTES_LIST, "[\"\xc3\xa9\"]", "[\"\\u00c3\\u00a9\"]"); /* raw bytes */
    CHECK_BAD(LDR_TYPE_BYTES_LIST, "[\"\\u0100\"]",
              "invalid Array(Bytes) \"[\\\"\\\\u0100\\\"]\": element 1: \\u escapes in Bytes "
              "must be \\u0000-\\u00ff");
    CHECK_BAD(LDR_TYPE_BYTES_LIST, "[\"\\ud83d\\ude00\"]", "must be \\u0000-\\u00ff");
    CHECK_BAD(LDR_TYPE_BYTES_LIST, "[abc]", "must be JSON double-quoted");
    ldr_arena_fini(&a);
}

TEST(list_structure_errors)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value v;
    CHECK_FAILS(from(LDR_TYPE_INT32_LIST, "[1, x]", &a, &v, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "invalid Array(Int32) \"[1, x]\": element 2: invalid Int32 \"x\": not "
                          "an integer");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[3000000000]", "element 1: invalid Int32 \"3000000000\": out");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "", "invalid Array(Int32) \"\": expected a list \"[...]\"");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "   ", "expected a list");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "1, 2", "expected a list");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "(1, 2)", "expected a list");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[", "element 1: missing value");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1", "missing ']' at the end");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1,", "element 2: missing value");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1,]", "element 2: missing value");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[,1]", "element 1: missing value");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1,,2]", "element 2: missing value");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1 2]", "element 1: invalid Int32 \"1 2\"");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1]x", "unexpected characters after ']'");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[1] [2]", "unexpected characters after ']'");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[[1]]", "element 1: invalid Int32 \"[1\"");
    CHECK_BAD(LDR_TYPE_INT32_LIST, "[\"1]", "unterminated string");
    CHECK_BAD(LDR_TYPE_BOOL_LIST, "[true, maybe]", "element 2: invalid Bool \"maybe\"");
    CHECK_BAD(LDR_TYPE_FLOAT64_LIST, "[1.5, 1e999]", "element 2: invalid Float64 \"1e999\": out");
    /* Only len bytes are read: the closing bracket is outside. */
    CHECK_FAILS(ldr_value_from_text(LDR_TYPE_INT32_LIST, "[1, 2]", 5, &a, &v, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "missing ']'");
    CHECK_FAILS(from(LDR_TYPE_INT32_LIST, "[1, x]", &a, &v, NULL), LDR_EINVAL);
    ldr_arena_fini(&a);
}

/* ---- Values to text ---------------------------------------------------------------------- */

TEST(to_text_scalars)
{
    ldr_value v = {0};
    v.type = LDR_TYPE_INT32;
    v.u.i32 = INT32_MIN;
    CHECK_EQ_STR(text(&v), "-2147483648");
    v.type = LDR_TYPE_INT64;
    v.u.i64 = INT64_MIN;
    CHECK_EQ_STR(text(&v), "-9223372036854775808");
    v.type = LDR_TYPE_FLOAT64;
    v.u.f64 = 1.0;
    CHECK_EQ_STR(text(&v), "1.0");
    v.u.f64 = -0.0;
    CHECK_EQ_STR(text(&v), "-0.0");
    v.u.f64 = 1e20;
    CHECK_EQ_STR(text(&v), "1e+20");
    v.u.f64 = (double)NAN;
    CHECK_EQ_STR(text(&v), "nan");
    v.type = LDR_TYPE_FLOAT32;
    v.u.f32 = 0.1f;
    CHECK_EQ_STR(text(&v), "0.1");
    v.u.f32 = -INFINITY;
    CHECK_EQ_STR(text(&v), "-inf");
    v.type = LDR_TYPE_BOOL;
    v.u.b = true;
    CHECK_EQ_STR(text(&v), "true");
    v.type = LDR_TYPE_UNIX_TIMESTAMP;
    v.u.ts = -1;
    CHECK_EQ_STR(text(&v), "1969-12-31T23:59:59.999999Z");
    v.type = LDR_TYPE_STRING;
    v.u.str.ptr = "say \"hi\"\n";
    v.u.str.len = 9;
    CHECK_EQ_STR(text(&v), "say \"hi\"\n"); /* verbatim at top level */
    v.type = LDR_TYPE_BYTES;
    v.u.str.ptr = "abcdef";
    v.u.str.len = 3; /* only len bytes */
    CHECK_EQ_STR(text(&v), "abc");
}

TEST(to_text_null_appends_nothing)
{
    ldr_buf b;
    ldr_err err = {0};
    ldr_buf_init(&b, 1024);
    CHECK_OK(ldr_buf_puts(&b, "before|", &err), err);
    ldr_value v = ldr_value_null(LDR_TYPE_INT64);
    CHECK_OK(ldr_value_to_text(&v, &b, &err), err);
    v = ldr_value_null(LDR_TYPE_STRING_LIST);
    CHECK_OK(ldr_value_to_text(&v, &b, &err), err);
    CHECK_EQ_STR(ldr_buf_cstr(&b), "before|");
    /* Non-null values append after existing content. */
    v.type = LDR_TYPE_INT32;
    v.is_null = false;
    v.u.i32 = 5;
    CHECK_OK(ldr_value_to_text(&v, &b, &err), err);
    CHECK_EQ_STR(ldr_buf_cstr(&b), "before|5");
    ldr_buf_fini(&b);
}

TEST(to_text_lists)
{
    ldr_value items[4];
    ldr_value list = {0};
    list.type = LDR_TYPE_STRING_LIST;
    list.u.list.items = items;
    list.u.list.n = 0;
    CHECK_EQ_STR(text(&list), "[]");
    items[0] = ldr_value_null(LDR_TYPE_STRING);
    items[0].is_null = false;
    items[0].u.str.ptr = "a\"b\\c\n\t\r\x01\x7f\xc3\xa9";
    items[0].u.str.len = strlen(items[0].u.str.ptr);
    items[1] = ldr_value_null(LDR_TYPE_STRING);
    items[2] = items[0];
    items[2].u.str.ptr = "";
    items[2].u.str.len = 0;
    list.u.list.n = 3;
    CHECK_EQ_STR(text(&list), "[\"a\\\"b\\\\c\\n\\t\\r\\u0001\\u007f\xc3\xa9\", null, \"\"]");
    /* Bytes escape everything outside printable ASCII. */
    list.type = LDR_TYPE_BYTES_LIST;
    items[0].type = items[1].type = LDR_TYPE_BYTES;
    items[0].u.str.ptr = "\0\xff A~";
    items[0].u.str.len = 5;
    list.u.list.n = 2;
    CHECK_EQ_STR(text(&list), "[\"\\u0000\\u00ff A~\", null]");
    /* Timestamps are quoted, numbers are not. */
    list.type = LDR_TYPE_UNIX_TIMESTAMP_LIST;
    items[0] = ldr_value_null(LDR_TYPE_UNIX_TIMESTAMP);
    items[0].is_null = false;
    items[0].u.ts = 1000;
    list.u.list.n = 1;
    CHECK_EQ_STR(text(&list), "[\"1970-01-01T00:00:00.001Z\"]");
    list.type = LDR_TYPE_FLOAT64_LIST;
    for (int i = 0; i < 4; i++) {
        items[i] = ldr_value_null(LDR_TYPE_FLOAT64);
        items[i].is_null = false;
    }
    items[0].u.f64 = 0.1;
    items[1].u.f64 = (double)NAN;
    items[2].u.f64 = 3.0;
    items[3].is_null = true;
    list.u.list.n = 4;
    CHECK_EQ_STR(text(&list), "[0.1, nan, 3.0, null]");
}

TEST(to_text_buffer_limit)
{
    ldr_buf b;
    ldr_err err = {0};
    ldr_buf_init(&b, 8);
    ldr_value v = ldr_value_null(LDR_TYPE_STRING);
    v.is_null = false;
    v.u.str.ptr = "0123456789";
    v.u.str.len = 10;
    CHECK_FAILS(ldr_value_to_text(&v, &b, &err), LDR_ELIMIT);
    ldr_value items[3];
    for (int i = 0; i < 3; i++) {
        items[i] = ldr_value_null(LDR_TYPE_INT32);
        items[i].is_null = false;
        items[i].u.i32 = 1000;
    }
    ldr_value list = ldr_value_null(LDR_TYPE_INT32_LIST);
    list.is_null = false;
    list.u.list.items = items;
    list.u.list.n = 3;
    ldr_buf_reset(&b);
    CHECK_FAILS(ldr_value_to_text(&list, &b, &err), LDR_ELIMIT);
    ldr_buf_fini(&b);
}

/* ---- Equality ---------------------------------------------------------------------------- */

TEST(value_eq)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value x, y;
    CHECK_OK(from(LDR_TYPE_INT32, "1", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_INT64, "1", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y)); /* types must match */
    CHECK_OK(from(LDR_TYPE_INT32, "+1", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    x = ldr_value_null(LDR_TYPE_INT32);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK(!ldr_value_eq(&y, &x));
    y = ldr_value_null(LDR_TYPE_INT32);
    CHECK(ldr_value_eq(&x, &y));
    y = ldr_value_null(LDR_TYPE_INT64);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_FLOAT64, "nan", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_FLOAT64, "-nan", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_FLOAT64, "0.0", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_FLOAT64, "-0.0", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y)); /* as with == */
    CHECK_OK(from(LDR_TYPE_FLOAT32, "nan", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_FLOAT32, "0.1", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK(ldr_value_eq(&x, &x));
    CHECK_OK(from(LDR_TYPE_STRING, "abc", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_STRING, "abd", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_STRING, "ab", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_BYTES, "abc", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_STRING, "", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_STRING, "", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_BOOL, "1", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_BOOL, "true", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_UNIX_TIMESTAMP, "60", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_UNIX_TIMESTAMP, "1970-01-01T00:01:00Z", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    ldr_arena_fini(&a);
}

TEST(value_eq_lists)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_err err = {0};
    ldr_value x, y;
    CHECK_OK(from(LDR_TYPE_FLOAT64_LIST, "[1, nan, null]", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_FLOAT64_LIST, "[1.0, NaN, null]", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_FLOAT64_LIST, "[1.0, NaN, 0]", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_FLOAT64_LIST, "[1.0, NaN]", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_FLOAT32_LIST, "[1, nan, null]", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_STRING_LIST, "[]", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_STRING_LIST, " [ ] ", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    y = ldr_value_null(LDR_TYPE_STRING_LIST);
    CHECK(!ldr_value_eq(&x, &y)); /* an empty list is not a null list */
    CHECK_OK(from(LDR_TYPE_STRING_LIST, "[\"a\", \"b\"]", &a, &x, &err), err);
    CHECK_OK(from(LDR_TYPE_STRING_LIST, "[\"a\", \"\\u0062\"]", &a, &y, &err), err);
    CHECK(ldr_value_eq(&x, &y));
    CHECK_OK(from(LDR_TYPE_STRING_LIST, "[\"b\", \"a\"]", &a, &y, &err), err);
    CHECK(!ldr_value_eq(&x, &y));
    ldr_arena_fini(&a);
}

/* ---- Float formatting -------------------------------------------------------------------- */

static const char *fd(double d)
{
    static char buf[32];
    ldr_fmt_double(d, buf);
    return buf;
}

static const char *ff(float f)
{
    static char buf[32];
    ldr_fmt_float(f, buf);
    return buf;
}

TEST(fmt_double_cases)
{
    /* Expected strings match Python's repr() except for exponent thresholds. */
    CHECK_EQ_STR(fd(0.1), "0.1");
    CHECK_EQ_STR(fd(1.0 / 3.0), "0.3333333333333333");
    CHECK_EQ_STR(fd(2.0 / 3.0), "0.6666666666666666");
    CHECK_EQ_STR(fd(0.1 + 0.2), "0.30000000000000004");
    CHECK_EQ_STR(fd(1e300), "1e+300");
    CHECK_EQ_STR(fd(5e-324), "5e-324");
    CHECK_EQ_STR(fd(-5e-324), "-5e-324");
    CHECK_EQ_STR(fd(1.5e-323), "1.5e-323");
    CHECK_EQ_STR(fd(2.2250738585072014e-308), "2.2250738585072014e-308");
    CHECK_EQ_STR(fd(2.225073858507201e-308), "2.225073858507201e-308"); /* largest subnormal */
    CHECK_EQ_STR(fd(DBL_MAX), "1.7976931348623157e+308");
    CHECK_EQ_STR(fd(1e23), "1e+23");
    CHECK_EQ_STR(fd(123456789.0), "123456789.0");
    CHECK_EQ_STR(fd(1.0), "1.0");
    CHECK_EQ_STR(fd(100.0), "100.0");
    CHECK_EQ_STR(fd(-2.5), "-2.5");
    CHECK_EQ_STR(fd(0.0), "0.0");
    CHECK_EQ_STR(fd(-0.0), "-0.0");
    CHECK_EQ_STR(fd(1e-5), "1e-05");
    CHECK_EQ_STR(fd(9007199254740993.0), "9007199254740992.0");
    CHECK_EQ_STR(fd((double)NAN), "nan");
    CHECK_EQ_STR(fd(-(double)NAN), "nan");
    CHECK_EQ_STR(fd((double)INFINITY), "inf");
    CHECK_EQ_STR(fd(-(double)INFINITY), "-inf");
}

TEST(fmt_float_cases)
{
    CHECK_EQ_STR(ff(0.1f), "0.1");
    CHECK_EQ_STR(ff(1.0f / 3.0f), "0.33333334");
    CHECK_EQ_STR(ff(FLT_MAX), "3.4028235e+38");
    CHECK_EQ_STR(ff(FLT_MIN), "1.1754944e-38");
    CHECK_EQ_STR(ff(1e-45f), "1e-45"); /* smallest subnormal */
    CHECK_EQ_STR(ff(16777216.0f), "16777216.0");
    CHECK_EQ_STR(ff(16777217.0f), "16777216.0");
    CHECK_EQ_STR(ff(1.0f), "1.0");
    CHECK_EQ_STR(ff(-0.0f), "-0.0");
    CHECK_EQ_STR(ff(0.3f), "0.3");
    CHECK_EQ_STR(ff(nextafterf(1.0f, 2.0f)), "1.0000001");
    CHECK_EQ_STR(ff(NAN), "nan");
    CHECK_EQ_STR(ff(INFINITY), "inf");
    CHECK_EQ_STR(ff(-INFINITY), "-inf");
}

/* Number of significant digits in formatted text ("100.0" -> 1, "1.25e-05" -> 3). */
static int sig_digits(const char *s)
{
    char digits[40];
    int n = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s >= '0' && *s <= '9')
            digits[n++] = *s;
    }
    int lo = 0, hi = n;
    while (lo < hi && digits[lo] == '0')
        lo++;
    while (hi > lo && digits[hi - 1] == '0')
        hi--;
    return hi - lo;
}

/* Text reads as a float (not an int) and shows no more digits than needed. */
static bool looks_float(const char *s)
{
    return strchr(s, '.') || strchr(s, 'e') || strcmp(s, "nan") == 0 || strstr(s, "inf");
}

TEST(fmt_double_round_trip_random)
{
    char shorter[320];
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rng_next();
        if (i % 4 == 1)
            bits &= UINT64_C(0x800FFFFFFFFFFFFF); /* subnormals */
        double d;
        memcpy(&d, &bits, sizeof d);
        if (i % 4 == 2)
            d = (double)(int64_t)(bits % 2000001) / 1000.0 - 1000.0; /* "nice" decimals */
        const char *s = fd(d);
        double back = strtod(s, NULL);
        if (!looks_float(s) || !(back == d || (isnan(d) && isnan(back))) ||
            (!isnan(d) && signbit(back) != signbit(d))) {
            HARNESS_FAIL("%a -> \"%s\" does not read back", d, s);
            break;
        }
        int k = sig_digits(s);
        if (isfinite(d) && k > 1) {
            snprintf(shorter, sizeof shorter, "%.*g", k - 1, d);
            if (strtod(shorter, NULL) == d) {
                HARNESS_FAIL("%a -> \"%s\" but \"%s\" is shorter", d, s, shorter);
                break;
            }
        }
    }
}

TEST(fmt_float_round_trip_random)
{
    char shorter[320];
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)rng_next();
        if (i % 4 == 1)
            bits &= UINT32_C(0x807FFFFF); /* subnormals */
        float f;
        memcpy(&f, &bits, sizeof f);
        const char *s = ff(f);
        float back = strtof(s, NULL);
        if (!looks_float(s) || !(back == f || (isnan(f) && isnan(back))) ||
            (!isnan(f) && signbit(back) != signbit(f))) {
            HARNESS_FAIL("%a -> \"%s\" does not read back", (double)f, s);
            break;
        }
        int k = sig_digits(s);
        if (isfinite(f) && k > 1) {
            snprintf(shorter, sizeof shorter, "%.*g", k - 1, (double)f);
            if (strtof(shorter, NULL) == f) {
                HARNESS_FAIL("%a -> \"%s\" but \"%s\" is shorter", (double)f, s, shorter);
                break;
            }
        }
    }
}

/* ---- Round trips of whole values --------------------------------------------------------- */

/* Fills v with a random non-list value of type t; strings and bytes go into a. */
static void random_scalar(ldr_type t, ldr_arena *a, ldr_value *v)
{
    uint64_t r = rng_next();
    *v = ldr_value_null(t);
    v->is_null = r % 10 == 0;
    switch (t) {
    case LDR_TYPE_INT32:
        v->u.i32 = (int32_t)(uint32_t)r;
        break;
    case LDR_TYPE_INT64:
        v->u.i64 = (int64_t)(r >> (r % 64));
        break; /* any sign and magnitude */
    case LDR_TYPE_FLOAT32:
        memcpy(&v->u.f32, &r, sizeof v->u.f32);
        break;
    case LDR_TYPE_FLOAT64:
        memcpy(&v->u.f64, &r, sizeof v->u.f64);
        break;
    case LDR_TYPE_BOOL:
        v->u.b = (r >> 8) & 1;
        break;
    case LDR_TYPE_UNIX_TIMESTAMP:
        v->u.ts = (int64_t)(r % UINT64_C(315537897600000000)) - INT64_C(62135596800000000);
        break;
    case LDR_TYPE_STRING:
    case LDR_TYPE_BYTES: {
        size_t len = (size_t)(r >> 8) % 12;
        char *p = ldr_arena_alloc(a, len + 1);
        for (size_t i = 0; i < len; i++)
            p[i] = (char)(rng_next() >> 56); /* any byte, including NUL, '"' and '\\' */
        v->u.str.ptr = p;
        v->u.str.len = len;
        break;
    }
    default:
        HARNESS_FAIL("not a scalar type %d", (int)t);
    }
}

static void random_value(ldr_type t, ldr_arena *a, ldr_value *v)
{
    if (!ldr_type_is_list(t)) {
        random_scalar(t, a, v);
        return;
    }
    size_t n = (size_t)(rng_next() % 6);
    ldr_value *items = ldr_arena_alloc(a, (n ? n : 1) * sizeof *items);
    for (size_t i = 0; i < n; i++)
        random_scalar(ldr_type_elem(t), a, &items[i]);
    *v = ldr_value_null(t);
    v->is_null = rng_next() % 10 == 0;
    v->u.list.items = items;
    v->u.list.n = n;
}

TEST(value_round_trip_random)
{
    ldr_arena a;
    ldr_arena_init(&a, 0);
    ldr_buf b;
    ldr_buf_init(&b, 1 << 16);
    ldr_err err = {0};
    int failures = 0;
    for (int i = 0; i < 50000 && failures < 5; i++) {
        ldr_type t = all_types[(size_t)i % LDR_ARRAY_LEN(all_types)];
        ldr_value v, back;
        random_value(t, &a, &v);
        ldr_buf_reset(&b);
        CHECK_OK(ldr_value_to_text(&v, &b, &err), err);
        if (v.is_null)
            continue; /* a top-level null has no text; callers track nulls themselves */
        if (ldr_value_from_text(t, b.ptr, b.len, &a, &back, &err) != LDR_OK) {
            HARNESS_FAIL("%s \"%s\" does not parse: %s", ldr_type_name(t), b.ptr, err.msg);
            failures++;
        } else if (!ldr_value_eq(&v, &back)) {
            HARNESS_FAIL("%s \"%s\" parses to a different value", ldr_type_name(t), b.ptr);
            failures++;
        }
        if (i % 1000 == 999) {
            ldr_arena_fini(&a);
            ldr_arena_init(&a, 0);
        }
    }
    ldr_buf_fini(&b);
    ldr_arena_fini(&a);
}

/* The printf search ldr_fmt_double used before its fast path (%.15g, %.16g, %.17g, each
 * checked by strtod), as the reference the fast path must match byte for byte. */
static void fmt_double_reference(double d, char buf[32])
{
    int prec = fabs(d) < DBL_MIN ? 1 : 15;
    for (; prec < 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(buf, 32, "%.17g", d);
    if (!strpbrk(buf, ".e"))
        memcpy(buf + strlen(buf), ".0", 3);
}

/* The printf search ldr_fmt_float uses outside its fast path, as the reference. */
static void fmt_float_reference(float f, char buf[32])
{
    int prec = fabsf(f) < FLT_MIN ? 1 : 6;
    for (; prec < 9; prec++) {
        snprintf(buf, 32, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    if (prec == 9)
        snprintf(buf, 32, "%.9g", (double)f);
    if (!strpbrk(buf, ".e"))
        memcpy(buf + strlen(buf), ".0", 3);
}

TEST(fmt_float_fast_path_matches_printf)
{
    uint64_t x = 0x2545F4914F6CDD1Du;
    char got[32], want[32];
    int checked = 0;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        float f;
        switch (i % 4) {
        case 0: /* short decimals read from text, the common case */
            f = (float)((double)(int64_t)(x % 2000001u - 1000000) /
                        (double)(uint64_t[]){1, 10, 100, 1000, 10000, 100000,
                                             1000000}[(x >> 40) % 7]);
            break;
        case 1: { /* arbitrary bits in and around the fast range */
            uint32_t b = (uint32_t)x;
            b = (b & UINT32_C(0x807FFFFF)) | (uint32_t)(100 + (x >> 32) % 60) << 23;
            memcpy(&f, &b, sizeof f);
            break;
        }
        case 2: /* powers of two and their neighbours (uneven intervals) */
            f = ldexpf(1.0f, (int)((x >> 8) % 40) - 16);
            if (x & 1)
                f = nextafterf(f, (x & 2) ? INFINITY : 0.0f);
            break;
        default:
            f = (float)((double)(x % 1000000) / 7.0);
            break;
        }
        if (isnan(f) || isinf(f))
            continue;
        ldr_fmt_float(f, got);
        fmt_float_reference(f, want);
        checked++;
        if (strcmp(got, want) != 0) {
            HARNESS_FAIL("%a: got %s, want %s", (double)f, got, want);
            return;
        }
    }
    CHECK(checked > 390000);
    static const float edges[] = {1e-4f, 9.9999997e-5f, 1e6f,       999999.94f, 0.1f, 0.3f, -2.5f,
                                  1.0f,  0.000123f,     123456.79f, 8388608.0f, 0.5f, 3.0f};
    for (size_t i = 0; i < LDR_ARRAY_LEN(edges); i++) {
        ldr_fmt_float(edges[i], got);
        fmt_float_reference(edges[i], want);
        CHECK_EQ_STR(got, want);
    }
}

/* Float64 parsing has a fast path for plain decimals of <= 15 digits (value.c,
 * f64_short_decimal): it must give strtod's bits, sign of zero included, and leave every
 * other form to strtod. */
TEST(f64_parse_fast_path_matches_strtod)
{
    uint64_t x = 0x2545F4914F6CDD1Du;
    ldr_arena a;
    ldr_arena_init(&a, 4096);
    ldr_err err;
    char buf[64];
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t digits = 1 + (x >> 8) % 17; /* 1..17: both sides of the 15-digit limit */
        uint64_t frac = (x >> 16) % (digits + 1);
        size_t n = 0;
        if (x & 1)
            buf[n++] = '-';
        else if ((x & 6) == 2)
            buf[n++] = '+';
        uint64_t y = x;
        for (uint64_t d = 0; d < digits; d++) {
            if (d == digits - frac && frac && d)
                buf[n++] = '.';
            buf[n++] = (char)('0' + (y % 10));
            y = y / 10 ^ (y << 7);
        }
        buf[n] = '\0';
        ldr_value v;
        char *end;
        double want = strtod(buf, &end);
        ldr_code rc = from(LDR_TYPE_FLOAT64, buf, &a, &v, &err);
        if (*end != '\0') {
            CHECK(rc != LDR_OK);
            continue;
        }
        CHECK_OK(rc, err);
        if (rc == LDR_OK && memcmp(&v.u.f64, &want, sizeof want) != 0) {
            HARNESS_FAIL("%s: got %.17g, want %.17g", buf, v.u.f64, want);
            break;
        }
    }
    static const char *const edges[] = {"0",
                                        "-0",
                                        "-0.0",
                                        "+0.000",
                                        "999999999999999",
                                        "0.1",
                                        "0.3",
                                        "1.",
                                        ".5",
                                        "-.5",
                                        "1e5",
                                        "1.5E-3",
                                        "9007199254740993",
                                        "123456789012345.6",
                                        "0.000000000000001",
                                        "nan",
                                        "-inf",
                                        "0x10"};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        ldr_value v;
        double want = strtod(edges[i], NULL);
        CHECK_OK(from(LDR_TYPE_FLOAT64, edges[i], &a, &v, &err), err);
        if (memcmp(&v.u.f64, &want, sizeof want) != 0 && !(isnan(want) && isnan(v.u.f64)))
            HARNESS_FAIL("%s: got %.17g, want %.17g", edges[i], v.u.f64, want);
    }
    ldr_value v;
    CHECK(from(LDR_TYPE_FLOAT64, "1.2.3", &a, &v, &err) != LDR_OK);
    CHECK(from(LDR_TYPE_FLOAT64, "-", &a, &v, &err) != LDR_OK);
    CHECK(from(LDR_TYPE_FLOAT64, "1 ", &a, &v, &err) != LDR_OK);
    ldr_arena_fini(&a);
}

TEST(fmt_double_fast_path_matches_printf)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    char got[32], want[32];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        switch (i % 4) {
        case 0: /* short decimals, the common case of stored features */
            d = (double)(int64_t)(x % 2000000001u - 1000000000) /
                (double)(uint64_t[]){1, 10, 100, 1000, 10000, 100000, 1000000}[(x >> 40) % 7];
            break;
        case 1: /* arbitrary bits */
            memcpy(&d, &x, sizeof d);
            break;
        case 2: /* around the notation boundaries */
            d = ldexp((double)(x % 1000003), (int)((x >> 32) % 80) - 40);
            break;
        default:
            d = (double)(x % 1000000) / 7.0;
            break;
        }
        if (isnan(d) || isinf(d))
            continue;
        ldr_fmt_double(d, got);
        fmt_double_reference(d, want);
        if (strcmp(got, want) != 0) {
            HARNESS_FAIL("%.17g: got %s, want %s", d, got, want);
            return;
        }
    }
    static const double edges[] = {1e-4,
                                   9.999999999999999e-5,
                                   1e15,
                                   999999999999999.0,
                                   99999999999999.9,
                                   0.1,
                                   0.3,
                                   -2.5,
                                   1.0,
                                   123456789012345.0,
                                   0.000123,
                                   -0.0,
                                   0.0};
    for (size_t i = 0; i < LDR_ARRAY_LEN(edges); i++) {
        ldr_fmt_double(edges[i], got);
        fmt_double_reference(edges[i], want);
        CHECK_EQ_STR(got, want);
    }
}

int main(void)
{
    RUN(type_names_canonical);
    RUN(type_parse_case_and_aliases);
    RUN(type_parse_whitespace);
    RUN(type_parse_invalid);
    RUN(type_parse_respects_len);
    RUN(type_predicates);
    RUN(type_names_help);
    RUN(value_null);
    RUN(int32_from_text);
    RUN(int64_from_text);
    RUN(float64_from_text);
    RUN(float32_from_text);
    RUN(bool_from_text);
    RUN(timestamp_from_text);
    RUN(string_bytes_from_text);
    RUN(list_numbers);
    RUN(list_nulls);
    RUN(list_timestamps);
    RUN(list_strings_and_escapes);
    RUN(list_string_errors);
    RUN(list_bytes);
    RUN(list_structure_errors);
    RUN(to_text_scalars);
    RUN(to_text_null_appends_nothing);
    RUN(to_text_lists);
    RUN(to_text_buffer_limit);
    RUN(value_eq);
    RUN(value_eq_lists);
    RUN(fmt_double_cases);
    RUN(fmt_float_cases);
    RUN(fmt_double_round_trip_random);
    RUN(f64_parse_fast_path_matches_strtod);
    RUN(fmt_double_fast_path_matches_printf);
    RUN(fmt_float_fast_path_matches_printf);
    RUN(fmt_float_round_trip_random);
    RUN(value_round_trip_random);
    return harness_done();
}
