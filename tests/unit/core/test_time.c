/*
 * test_time.c -- unit tests for src/core/time.c: RFC 3339 timestamp parsing (every
 * accepted form, range checks, leap years, offsets, error messages, never reading past
 * len), formatting (fraction widths, negative timestamps, extreme values), the calendar
 * conversion against libc's gmtime_r, parse/format round trips over a fixed-seed PRNG,
 * and the duration syntax in both directions.
 *
 * Expected epoch values were computed independently with Python's datetime module.
 */
#include "core/core.h"

#include <time.h>

#include "harness.h"

#define US INT64_C(1000000)

/* xorshift64*: a deterministic PRNG so failures reproduce. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* Parses a NUL-terminated literal; returns the code and leaves the result in *out. */
static ldr_code parse(const char *s, ldr_ts *out, ldr_err *err)
{
    return ldr_ts_parse(s, strlen(s), out, err);
}

/* Checks that s parses to the expected microseconds. */
#define CHECK_TS(s, expected)             \
    do {                                  \
        ldr_err e_ = {0};                 \
        ldr_ts t_ = 0;                    \
        CHECK_OK(parse(s, &t_, &e_), e_); \
        CHECK_EQ_I64(t_, expected);       \
    } while (0)

/* Checks that s is rejected with LDR_EINVAL and a message containing `part`. */
#define CHECK_TS_BAD(s, part)                        \
    do {                                             \
        ldr_err e_ = {0};                            \
        ldr_ts t_ = 0;                               \
        CHECK_FAILS(parse(s, &t_, &e_), LDR_EINVAL); \
        CHECK_CONTAINS(e_.msg, part);                \
    } while (0)

static const char *fmt(ldr_ts ts)
{
    static char buf[LDR_TS_BUFSZ];
    return ldr_ts_format(ts, buf);
}

/* ---- Parsing --------------------------------------------------------------------------- */

TEST(parse_date_only)
{
    CHECK_TS("1970-01-01", 0);
    CHECK_TS("2024-02-29", INT64_C(1709164800) * US);
    CHECK_TS("1969-12-31", -86400 * US);
    CHECK_TS("0001-01-01", INT64_C(-62135596800) * US);
}

TEST(parse_date_time_forms)
{
    int64_t t = INT64_C(1704164645) * US; /* 2024-01-02T03:04:05Z */
    CHECK_TS("2024-01-02T03:04:05Z", t);
    CHECK_TS("2024-01-02t03:04:05z", t);
    CHECK_TS("2024-01-02 03:04:05Z", t);
    CHECK_TS("2024-01-02T03:04:05", t); /* naive means UTC */
    CHECK_TS("2024-01-02 03:04:05", t);
    CHECK_TS("2024-01-02T03:04", t - 5 * US);
    CHECK_TS("2024-01-02T03:04Z", t - 5 * US);
    CHECK_TS("2024-01-02T03:04+00:00", t - 5 * US);
    CHECK_TS("2024-01-02T00:00:00Z", t - (3 * 3600 + 4 * 60 + 5) * US);
    CHECK_TS("2024-01-02T23:59:59Z", t + (20 * 3600 + 55 * 60 + 54) * US);
}

TEST(parse_fractions)
{
    int64_t t = INT64_C(1704164645) * US;
    CHECK_TS("2024-01-02T03:04:05.5Z", t + 500000);
    CHECK_TS("2024-01-02T03:04:05.05Z", t + 50000);
    CHECK_TS("2024-01-02T03:04:05.123Z", t + 123000);
    CHECK_TS("2024-01-02T03:04:05.123456Z", t + 123456);
    CHECK_TS("2024-01-02T03:04:05.000001Z", t + 1);
    CHECK_TS("2024-01-02T03:04:05.1234567Z", t + 123456);   /* truncated, not rounded */
    CHECK_TS("2024-01-02T03:04:05.123456789Z", t + 123456); /* 9 digits: nanoseconds */
    CHECK_TS("2024-01-02T03:04:05.999999999Z", t + 999999);
    CHECK_TS("2024-01-02T03:04:05.000000000Z", t);
    CHECK_TS("2024-01-02T03:04:05.25+01:00", t - 3600 * US + 250000);
    CHECK_TS("2024-01-02T03:04:05.25", t + 250000);
    CHECK_TS_BAD("2024-01-02T03:04:05.1234567890Z", "more than 9 digits");
    CHECK_TS_BAD("2024-01-02T03:04:05.Z", "expected digits after '.'");
    CHECK_TS_BAD("2024-01-02T03:04:05.", "expected digits after '.'");
    CHECK_TS_BAD("2024-01-02T03:04.5Z", "expected a time zone");
    CHECK_TS_BAD("2024-01-02T03:04:05,5Z", "expected a time zone");
}

TEST(parse_offsets)
{
    /* +05:30 at 02:00 local is 20:30 UTC the previous day. */
    CHECK_TS("2024-01-01T02:00:00+05:30", INT64_C(1704054600) * US);
    CHECK_EQ_STR(fmt(INT64_C(1704054600) * US), "2023-12-31T20:30:00Z");
    /* -08:00 at 20:00 on New Year's Eve is 04:00 UTC in the new year. */
    ldr_err err = {0};
    ldr_ts t = 0;
    CHECK_OK(parse("2024-12-31T20:00:00-08:00", &t, &err), err);
    CHECK_EQ_STR(fmt(t), "2025-01-01T04:00:00Z");
    int64_t base = INT64_C(1704054600) * US;
    CHECK_TS("2024-01-01T02:00:00+0530", base);
    CHECK_TS("2024-01-01T01:30:00+05", base);
    CHECK_TS("2023-12-31T12:30:00-08", base);
    CHECK_TS("2023-12-31T12:30:00-0800", base);
    CHECK_TS("2023-12-31T20:30:00-00:00", base);
    CHECK_TS("2023-12-31T20:30:00+00", base);
    CHECK_TS("2024-01-01T20:29:00+23:59", base);
    CHECK_TS("2023-12-30T20:31:00-23:59", base);
    CHECK_TS("2024-01-01T02:00+05:30", base);
    CHECK_TS_BAD("2024-01-01T02:00:00+24:00", "UTC offset hour 24 out of range 0-23");
    CHECK_TS_BAD("2024-01-01T02:00:00+05:60", "UTC offset minute 60 out of range 0-59");
    CHECK_TS_BAD("2024-01-01T02:00:00+5", "expected a UTC offset");
    CHECK_TS_BAD("2024-01-01T02:00:00+05:3", "minutes in the UTC offset");
    CHECK_TS_BAD("2024-01-01T02:00:00+053", "minutes in the UTC offset");
    CHECK_TS_BAD("2024-01-01T02:00:00+05:30:00", "unexpected characters");
    CHECK_TS_BAD("2024-01-01T02:00:00+", "expected a UTC offset");
    CHECK_TS_BAD("2024-01-01T02:00:00 +05:00", "expected a time zone");
    CHECK_TS_BAD("2024-01-01T02:00:00UTC", "expected a time zone");
}

TEST(parse_leap_years)
{
    CHECK_TS("2000-02-29", INT64_C(951782400) * US);
    CHECK_TS("2024-02-29T12:00:00Z", INT64_C(1709208000) * US);
    CHECK_TS("2400-02-29", INT64_C(13574563200) * US);
    CHECK_TS("1904-02-29", INT64_C(-2077747200) * US);
    CHECK_TS_BAD("1900-02-29", "day 29 out of range 1-28 for 1900-02");
    CHECK_TS_BAD("2023-02-29", "day 29 out of range 1-28 for 2023-02");
    CHECK_TS_BAD("2100-02-29T00:00:00Z", "day 29 out of range 1-28 for 2100-02");
    CHECK_TS_BAD("2024-02-30", "day 30 out of range 1-29 for 2024-02");
    CHECK_TS_BAD("2024-04-31", "day 31 out of range 1-30 for 2024-04");
    CHECK_TS_BAD("2024-01-32", "day 32 out of range 1-31 for 2024-01");
    CHECK_TS_BAD("2024-01-00", "day 0 out of range 1-31");
    CHECK_TS("2024-12-31", INT64_C(1735603200) * US);
    CHECK_TS("2024-04-30", INT64_C(1714435200) * US);
}

TEST(parse_field_ranges)
{
    ldr_err err = {0};
    ldr_ts t = 0;
    CHECK_FAILS(parse("2024-13-01", &t, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "invalid timestamp \"2024-13-01\": month 13 out of range 1-12");
    CHECK_TS_BAD("2024-00-01", "month 0 out of range 1-12");
    CHECK_TS_BAD("2024-01-01T24:00:00Z", "hour 24 out of range 0-23");
    CHECK_TS_BAD("2024-01-01T00:60:00Z", "minute 60 out of range 0-59");
    CHECK_TS_BAD("2024-01-01T00:00:61Z", "second 61 out of range 0-60");
    CHECK_TS_BAD("2024-01-01T00:00:99Z", "second 99 out of range 0-60");
    CHECK_TS_BAD("0000-01-01", "year 0000 out of range 0001-9999");
    CHECK_TS("9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999));
    CHECK_TS("9999-12-31T23:59:59.999999-23:59", INT64_C(253402300799999999) + 86340 * US);
    CHECK_TS("0001-01-01T00:00:00+23:59", INT64_C(-62135596800) * US - 86340 * US);
}

TEST(parse_leap_second_folds)
{
    /* Documented choice: :60 is accepted and folds into the next minute. */
    CHECK_TS("2016-12-31T23:59:60Z", INT64_C(1483228800) * US);
    CHECK_TS("2016-12-31T23:59:60.5Z", INT64_C(1483228800) * US + 500000);
    CHECK_TS("2016-12-31T18:59:60-05:00", INT64_C(1483228800) * US);
    CHECK_TS("2024-06-30T10:15:60Z", INT64_C(1719742560) * US);
}

TEST(parse_syntax_errors)
{
    CHECK_TS_BAD("", "empty");
    CHECK_TS_BAD("2024", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("2024-1-01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("2024-01-1", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("24-01-01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("10000-01-01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("2024/01/01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("+2024-01-01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD(" 2024-01-01", "expected a date YYYY-MM-DD");
    CHECK_TS_BAD("2024-01-01x", "expected 'T' or ' '");
    CHECK_TS_BAD("2024-01-01Z", "expected 'T' or ' '");
    CHECK_TS_BAD("2024-01-01T", "expected a time HH:MM");
    CHECK_TS_BAD("2024-01-01 ", "expected a time HH:MM");
    CHECK_TS_BAD("2024-01-01T1:00", "expected a time HH:MM");
    CHECK_TS_BAD("2024-01-01T10", "expected a time HH:MM");
    CHECK_TS_BAD("2024-01-01T10:0", "expected a time HH:MM");
    CHECK_TS_BAD("2024-01-01T10:00:", "expected 2-digit seconds");
    CHECK_TS_BAD("2024-01-01T10:00:5", "expected 2-digit seconds");
    CHECK_TS_BAD("2024-01-01T10:00:00Zx", "unexpected characters after the timestamp");
    CHECK_TS_BAD("2024-01-01T10:00:00Z ", "unexpected characters after the timestamp");
    CHECK_TS_BAD("2024-01-01T10:00:00 ", "expected a time zone");
    CHECK_TS_BAD("2024-01-01T10:00:00.5.5", "expected a time zone");
    CHECK_TS_BAD("now", "expected a date YYYY-MM-DD");
}

TEST(parse_error_messages_quote_input)
{
    ldr_err err = {0};
    ldr_ts t = 0;
    CHECK_FAILS(parse("2024-01-01T25:00:00Z", &t, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg, "invalid timestamp \"2024-01-01T25:00:00Z\": hour 25 out of range 0-23");
    CHECK_EQ_I64(err.code, LDR_EINVAL);
    /* Control characters and quotes are escaped so the message stays on one line. */
    CHECK_FAILS(parse("2024-01-01\n\"", &t, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "\"2024-01-01\\x0a\\\"\"");
    /* Long input is cut short with "..." rather than crowding out the reason. */
    char longs[200];
    memset(longs, '9', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    CHECK_FAILS(parse(longs, &t, &err), LDR_EINVAL);
    CHECK_CONTAINS(err.msg, "...\": expected a date YYYY-MM-DD");
    /* A NULL err is allowed. */
    CHECK_FAILS(parse("garbage", &t, NULL), LDR_EINVAL);
}

TEST(parse_respects_len)
{
    ldr_err err = {0};
    ldr_ts t = 0;
    /* Not NUL-terminated: exactly ten bytes, with no terminator after them. */
    const char date[10] = {'2', '0', '2', '4', '-', '0', '2', '-', '2', '9'};
    CHECK_OK(ldr_ts_parse(date, sizeof date, &t, &err), err);
    CHECK_EQ_I64(t, INT64_C(1709164800) * US);
    const char *s = "2024-01-02T03:04:05Zgarbage";
    CHECK_OK(ldr_ts_parse(s, 20, &t, &err), err);
    CHECK_EQ_I64(t, INT64_C(1704164645) * US);
    CHECK_OK(ldr_ts_parse(s, 16, &t, &err), err); /* "2024-01-02T03:04" */
    CHECK_EQ_I64(t, INT64_C(1704164640) * US);
    /* Every prefix of a full timestamp: only the complete forms are accepted. Run under
     * ASan, a copy of exactly `len` bytes also catches any read past the end. */
    const char *full = "2024-01-02T03:04:05.123+05:30";
    size_t n = strlen(full);
    for (size_t len = 0; len <= n; len++) {
        char *copy = ldr_xmalloc(len);
        memcpy(copy, full, len);
        bool ok = ldr_ts_parse(copy, len, &t, &err) == LDR_OK;
        bool want = len == 10 || len == 16 || len == 19 || (len >= 21 && len <= 23) || len == 26 ||
                    len == 29;
        if (ok != want)
            HARNESS_FAIL("prefix of length %zu: ok=%d, expected %d", len, ok, want);
        ldr_free(copy);
    }
}

/* ---- Formatting ------------------------------------------------------------------------ */

TEST(format_basic)
{
    CHECK_EQ_STR(fmt(0), "1970-01-01T00:00:00Z");
    CHECK_EQ_STR(fmt(INT64_C(1704164645) * US), "2024-01-02T03:04:05Z");
    CHECK_EQ_STR(fmt(INT64_C(1709164800) * US), "2024-02-29T00:00:00Z");
    CHECK_EQ_STR(fmt(INT64_C(951782400) * US), "2000-02-29T00:00:00Z");
    CHECK_EQ_STR(fmt(INT64_C(253402300799999999)), "9999-12-31T23:59:59.999999Z");
    CHECK_EQ_STR(fmt(INT64_C(-62135596800) * US), "0001-01-01T00:00:00Z");
}

TEST(format_fraction_widths)
{
    int64_t t = INT64_C(1704164645) * US;
    CHECK_EQ_STR(fmt(t + 1), "2024-01-02T03:04:05.000001Z");
    CHECK_EQ_STR(fmt(t + 1000), "2024-01-02T03:04:05.001Z");
    CHECK_EQ_STR(fmt(t + 500000), "2024-01-02T03:04:05.500Z");
    CHECK_EQ_STR(fmt(t + 123000), "2024-01-02T03:04:05.123Z");
    CHECK_EQ_STR(fmt(t + 123456), "2024-01-02T03:04:05.123456Z");
    CHECK_EQ_STR(fmt(t + 123450), "2024-01-02T03:04:05.123450Z");
    CHECK_EQ_STR(fmt(t + 999999), "2024-01-02T03:04:05.999999Z");
    CHECK_EQ_STR(fmt(1), "1970-01-01T00:00:00.000001Z");
}

TEST(format_negative)
{
    CHECK_EQ_STR(fmt(-1), "1969-12-31T23:59:59.999999Z");
    CHECK_EQ_STR(fmt(-1000), "1969-12-31T23:59:59.999Z");
    CHECK_EQ_STR(fmt(-US), "1969-12-31T23:59:59Z");
    CHECK_EQ_STR(fmt(-US - 1), "1969-12-31T23:59:58.999999Z");
    CHECK_EQ_STR(fmt(-86400 * US), "1969-12-31T00:00:00Z");
    CHECK_EQ_STR(fmt(-86400 * US - 1), "1969-12-30T23:59:59.999999Z");
    CHECK_EQ_STR(fmt(INT64_C(-2208988800) * US), "1900-01-01T00:00:00Z");
    CHECK_EQ_STR(fmt(INT64_C(-2203891200) * US), "1900-03-01T00:00:00Z");
    CHECK_EQ_STR(fmt(INT64_C(-12219292800) * US + 500000), "1582-10-15T00:00:00.500Z");
}

TEST(format_extremes_fit)
{
    /* Timestamps no parser produces must still format within LDR_TS_BUFSZ. */
    CHECK_EQ_STR(fmt(INT64_MAX), "294247-01-10T04:00:54.775807Z");
    CHECK_EQ_STR(fmt(INT64_MIN), "-290308-12-21T19:59:05.224192Z");
    CHECK(strlen(fmt(LDR_TS_NONE)) < LDR_TS_BUFSZ);
    CHECK_EQ_STR(fmt(INT64_C(-62135596800) * US - 1), "0000-12-31T23:59:59.999999Z");
    CHECK_EQ_STR(fmt(INT64_C(-62167219200) * US - 86400 * US), "-0001-12-31T00:00:00Z");
}

TEST(days_from_civil)
{
    CHECK_EQ_I64(ldr_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_I64(ldr_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_I64(ldr_days_from_civil(2000, 2, 29), 11016);
    CHECK_EQ_I64(ldr_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_I64(ldr_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ_I64(ldr_days_from_civil(1600, 3, 1), -135080);
    CHECK_EQ_I64(ldr_days_from_civil(0, 3, 1), -719468);
    /* Consecutive dates are consecutive days, across every month of 400 years. */
    int64_t prev = ldr_days_from_civil(1799, 12, 31);
    for (int64_t y = 1800; y < 2200; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            unsigned nd = m == 2 && leap ? 29 : mdays[m - 1];
            for (unsigned d = 1; d <= nd; d++) {
                int64_t cur = ldr_days_from_civil(y, m, d);
                if (cur != prev + 1)
                    HARNESS_FAIL("%04" PRId64 "-%02u-%02u: %" PRId64 " after %" PRId64, y, m, d,
                                 cur, prev);
                prev = cur;
            }
        }
    }
}

/* Formats ts as libc sees it (gmtime_r), in our layout without the fraction. */
static void libc_format(int64_t secs, char *buf, size_t cap)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

TEST(format_matches_gmtime)
{
    /* Differential check against libc over years 0001-9999. */
    int64_t lo = INT64_C(-62135596800), hi = INT64_C(253402300799);
    char want[64];
    for (int i = 0; i < 200000; i++) {
        int64_t secs = lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
        libc_format(secs, want, sizeof want);
        const char *got = fmt(secs * US);
        if (strcmp(got, want) != 0) {
            HARNESS_FAIL("%" PRId64 ": got %s, gmtime says %s", secs, got, want);
            break;
        }
    }
}

TEST(round_trip_random)
{
    int64_t lo = INT64_C(-62135596800) * US, hi = INT64_C(253402300799999999);
    ldr_err err = {0};
    for (int i = 0; i < 200000; i++) {
        uint64_t r = rng_next();
        int64_t ts = lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
        /* Also exercise whole seconds and milliseconds, which format differently. */
        if (i % 3 == 1)
            ts -= ((ts % US) + US) % US;
        else if (i % 3 == 2)
            ts -= ((ts % 1000) + 1000) % 1000;
        const char *s = fmt(ts);
        ldr_ts back = 0;
        ldr_code rc = ldr_ts_parse(s, strlen(s), &back, &err);
        if (rc != LDR_OK || back != ts) {
            HARNESS_FAIL("%" PRId64 " -> %s -> %" PRId64 " (%s)", ts, s, back, err.msg);
            break;
        }
    }
}

TEST(round_trip_near_epoch)
{
    ldr_err err = {0};
    for (int64_t ts = -3 * US; ts <= 3 * US; ts += 997) {
        const char *s = fmt(ts);
        ldr_ts back = 0;
        CHECK_OK(ldr_ts_parse(s, strlen(s), &back, &err), err);
        CHECK_EQ_I64(back, ts);
    }
}

TEST(now_is_plausible)
{
    ldr_ts a = ldr_ts_now();
    ldr_ts b = ldr_ts_now();
    CHECK(a > INT64_C(1704067200) * US); /* after 2024-01-01 */
    CHECK(a < INT64_C(4102444800) * US); /* before 2100-01-01 */
    CHECK(b >= a - US);                  /* wall clock; allow a small step back */
    time_t libc_now = time(NULL);
    CHECK(a / US - (int64_t)libc_now <= 2 && (int64_t)libc_now - a / US <= 2);
}

/* ---- Durations ------------------------------------------------------------------------- */

static ldr_code dparse(const char *s, ldr_duration *out, ldr_err *err)
{
    return ldr_duration_parse(s, strlen(s), out, err);
}

#define CHECK_DUR(s, expected)             \
    do {                                   \
        ldr_err e_ = {0};                  \
        ldr_duration d_ = -1;              \
        CHECK_OK(dparse(s, &d_, &e_), e_); \
        CHECK_EQ_I64(d_, expected);        \
    } while (0)

#define CHECK_DUR_BAD(s, part)                        \
    do {                                              \
        ldr_err e_ = {0};                             \
        ldr_duration d_ = 0;                          \
        CHECK_FAILS(dparse(s, &d_, &e_), LDR_EINVAL); \
        CHECK_CONTAINS(e_.msg, part);                 \
    } while (0)

TEST(duration_units)
{
    CHECK_DUR("0", 0);
    CHECK_DUR("1w", 604800 * US);
    CHECK_DUR("1d", 86400 * US);
    CHECK_DUR("1h", 3600 * US);
    CHECK_DUR("1m", 60 * US);
    CHECK_DUR("1s", US);
    CHECK_DUR("1ms", 1000);
    CHECK_DUR("1us", 1);
    CHECK_DUR("0s", 0);
    CHECK_DUR("0d0h", 0);
    CHECK_DUR("90m", 5400 * US);
    CHECK_DUR("3600s", 3600 * US);
    CHECK_DUR("007h", 7 * 3600 * US);
    CHECK_DUR("1500ms", 1500000);
}

TEST(duration_combinations)
{
    CHECK_DUR("1d12h", 129600 * US);
    CHECK_DUR("1h30m", 5400 * US);
    CHECK_DUR("1m1ms", 60 * US + 1000);
    CHECK_DUR("1s500ms", 1500000);
    CHECK_DUR("2w3d", 17 * 86400 * US);
    CHECK_DUR("1w2d3h4m5s6ms7us", ((7 + 2) * 86400 + 3 * 3600 + 4 * 60 + 5) * US + 6 * 1000 + 7);
    CHECK_DUR("1h90m", 150 * 60 * US); /* non-canonical amounts are fine */
}

TEST(duration_errors)
{
    ldr_err err = {0};
    ldr_duration d = 0;
    CHECK_FAILS(dparse("5x", &d, &err), LDR_EINVAL);
    CHECK_EQ_STR(err.msg,
                 "invalid duration \"5x\": unknown unit \"x\" (use w, d, h, m, s, ms or us)");
    CHECK_DUR_BAD("", "empty");
    CHECK_DUR_BAD("-5s", "negative");
    CHECK_DUR_BAD("-0", "negative");
    CHECK_DUR_BAD("90", "missing unit after \"90\"");
    CHECK_DUR_BAD("00", "missing unit after \"00\"");
    CHECK_DUR_BAD("1d12", "missing unit after \"12\"");
    CHECK_DUR_BAD("1.5h", "fractions are not allowed");
    CHECK_DUR_BAD("12h1d", "unit \"d\" must come before \"h\"");
    CHECK_DUR_BAD("1ms1s", "unit \"s\" must come before \"ms\"");
    CHECK_DUR_BAD("1us1ms", "unit \"ms\" must come before \"us\"");
    CHECK_DUR_BAD("1h1h", "unit \"h\" is repeated");
    CHECK_DUR_BAD("1d1h1d", "unit \"d\" must come before \"h\"");
    CHECK_DUR_BAD("1H", "unknown unit \"H\"");
    CHECK_DUR_BAD("1hr", "unknown unit \"hr\"");
    CHECK_DUR_BAD("1sec", "unknown unit \"sec\"");
    CHECK_DUR_BAD("1mus", "unknown unit \"mus\"");
    CHECK_DUR_BAD("h", "expected a number at \"h\"");
    CHECK_DUR_BAD("1h 30m", "expected a number at \" 30m\"");
    CHECK_DUR_BAD(" 1h", "expected a number");
    CHECK_DUR_BAD("1h ", "expected a number");
    CHECK_DUR_BAD("+1h", "expected a number");
    CHECK_DUR_BAD("1h,", "expected a number");
    CHECK_FAILS(dparse("nope", &d, NULL), LDR_EINVAL);
}

TEST(duration_overflow)
{
    CHECK_DUR("9223372036854775807us", INT64_MAX);
    CHECK_DUR("15250284w", INT64_C(15250284) * 604800 * US);
    CHECK_DUR("15250284w3d4h54s775ms807us", INT64_MAX);
    CHECK_DUR_BAD("9223372036854775808us", "too large");
    CHECK_DUR_BAD("15250285w", "too large");
    CHECK_DUR_BAD("15250284w3d4h54s775ms808us", "too large");
    CHECK_DUR_BAD("15250284w4d", "too large");
    CHECK_DUR_BAD("99999999999999999999999999s", "too large");
    CHECK_DUR_BAD("9223372036854775807s", "too large");
}

TEST(duration_respects_len)
{
    ldr_err err = {0};
    ldr_duration d = 0;
    CHECK_OK(ldr_duration_parse("1h30m", 2, &d, &err), err);
    CHECK_EQ_I64(d, 3600 * US);
    CHECK_OK(ldr_duration_parse("0s", 1, &d, &err), err);
    CHECK_EQ_I64(d, 0);
    CHECK_OK(ldr_duration_parse("1ms", 2, &d, &err), err); /* "1m" */
    CHECK_EQ_I64(d, 60 * US);
    const char exact[3] = {'1', 'm', 's'}; /* no terminator */
    CHECK_OK(ldr_duration_parse(exact, sizeof exact, &d, &err), err);
    CHECK_EQ_I64(d, 1000);
}

static const char *dfmt(ldr_duration d)
{
    static char buf[LDR_DURATION_BUFSZ];
    return ldr_duration_format(d, buf);
}

TEST(duration_format)
{
    CHECK_EQ_STR(dfmt(0), "0");
    CHECK_EQ_STR(dfmt(86400 * US), "1d");
    CHECK_EQ_STR(dfmt(129600 * US), "1d12h");
    CHECK_EQ_STR(dfmt(5400 * US), "1h30m");
    CHECK_EQ_STR(dfmt(604800 * US), "1w");
    CHECK_EQ_STR(dfmt(1500000), "1s500ms");
    CHECK_EQ_STR(dfmt(1), "1us");
    CHECK_EQ_STR(dfmt(1000), "1ms");
    CHECK_EQ_STR(dfmt(1001), "1ms1us");
    CHECK_EQ_STR(dfmt(60 * US), "1m");
    CHECK_EQ_STR(dfmt(14 * 86400 * US), "2w");
    CHECK_EQ_STR(dfmt(8 * 86400 * US + 1), "1w1d1us");
    CHECK_EQ_STR(dfmt(INT64_MAX), "15250284w3d4h54s775ms807us");
    CHECK_EQ_STR(dfmt(-3600 * US), "-1h");
    CHECK_EQ_STR(dfmt(INT64_MIN), "-15250284w3d4h54s775ms808us");
}

TEST(duration_round_trip)
{
    ldr_err err = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t r = rng_next();
        /* Spread magnitudes: shift away a random number of low or high bits. */
        int64_t d = (int64_t)(r >> (1 + r % 63));
        if (i % 4 == 0)
            d -= d % US;
        const char *s = dfmt(d);
        ldr_duration back = -1;
        ldr_code rc = ldr_duration_parse(s, strlen(s), &back, &err);
        if (rc != LDR_OK || back != d) {
            HARNESS_FAIL("%" PRId64 " -> %s -> %" PRId64 " (%s)", d, s, back, err.msg);
            break;
        }
    }
}

int main(void)
{
    RUN(parse_date_only);
    RUN(parse_date_time_forms);
    RUN(parse_fractions);
    RUN(parse_offsets);
    RUN(parse_leap_years);
    RUN(parse_field_ranges);
    RUN(parse_leap_second_folds);
    RUN(parse_syntax_errors);
    RUN(parse_error_messages_quote_input);
    RUN(parse_respects_len);
    RUN(format_basic);
    RUN(format_fraction_widths);
    RUN(format_negative);
    RUN(format_extremes_fit);
    RUN(days_from_civil);
    RUN(format_matches_gmtime);
    RUN(round_trip_random);
    RUN(round_trip_near_epoch);
    RUN(now_is_plausible);
    RUN(duration_units);
    RUN(duration_combinations);
    RUN(duration_errors);
    RUN(duration_overflow);
    RUN(duration_respects_len);
    RUN(duration_format);
    RUN(duration_round_trip);
    return harness_done();
}
