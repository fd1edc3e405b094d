/*
 * time.c -- timestamps and durations: RFC 3339 parsing and formatting, the proleptic
 * Gregorian calendar conversions, and the "1d12h" duration syntax.
 *
 * A timestamp (ldr_ts) is int64 microseconds since 1970-01-01T00:00:00Z; a duration is
 * int64 microseconds. Calendar arithmetic follows Howard Hinnant's days_from_civil /
 * civil_from_days algorithms (400-year eras, March-based years), valid for every int64
 * day count we can produce, so timestamps before 1970 format correctly.
 *
 * Leap seconds: a seconds field of 60 is accepted and folds into the next minute
 * ("2016-12-31T23:59:60Z" is 2017-01-01T00:00:00Z), because Larder has no leap-second
 * table and rejecting such rows would drop real data. Formatting never emits :60.
 *
 * Parsers never read past `len` and need no NUL. Every function is reentrant; only
 * ldr_ts_now reads the clock.
 */
#include "core/core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define US_PER_SEC  INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)
#define US_PER_DAY  (SEC_PER_DAY * US_PER_SEC)

/* ---- Calendar ------------------------------------------------------------------------ */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29u : mdays[m - 1];
}

/* Floor division and its non-negative remainder, for dates before the epoch. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t ldr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Count years from March so the leap day is the last day of the year. */
    int64_t year = m <= 2 ? y - 1 : y;
    int64_t era = floor_div(year, 400);
    int64_t year_of_era = year - era * 400;                             /* [0, 399] */
    int64_t month_from_march = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9; /* [0, 11] */
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + (int64_t)d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    /* 719468 days separate 0000-03-01 (era 0, day 0) from 1970-01-01. */
    return era * 146097 + day_of_era - 719468;
}

/* The inverse of ldr_days_from_civil. */
static void civil_from_days(int64_t days, int64_t *out_y, unsigned *out_m, unsigned *out_d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t day_of_era = z - era * 146097; /* [0, 146096] */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153; /* [0, 11] */
    int64_t m = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    *out_d = (unsigned)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *out_m = (unsigned)m;
    *out_y = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
}

/* ---- Timestamp parsing --------------------------------------------------------------- */

/* The input being parsed and a read position; pos never exceeds len. */
typedef struct cursor {
    const char *s;
    size_t len;
    size_t pos;
} cursor;

/* Broken-down fields of a parsed timestamp, before validation. */
typedef struct ts_fields {
    unsigned year, month, day, hour, minute, second;
    int64_t frac_us;
    int64_t offset_sec; /* local time minus UTC */
} ts_fields;

static bool at(const cursor *c, char ch)
{
    return c->pos < c->len && c->s[c->pos] == ch;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Reads exactly n digits; false (and pos unchanged) if they are not there. */
static bool fixed_digits(cursor *c, size_t n, unsigned *out)
{
    if (c->len - c->pos < n)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = c->s[c->pos + i];
        if (!is_digit(ch))
            return false;
        v = v * 10 + (unsigned)(ch - '0');
    }
    c->pos += n;
    *out = v;
    return true;
}

static ldr_code ts_fail(const cursor *c, ldr_err *err, const char *what)
{
    char q[LDR_QUOTE_BUFSZ];
    return ldr_err_setf(err, LDR_EINVAL, "invalid timestamp \"%s\": %s",
                        ldr__quote(c->s, c->len, q), what);
}

static ldr_code ts_range(const cursor *c, ldr_err *err, const char *field, unsigned v, unsigned lo,
                         unsigned hi)
{
    char q[LDR_QUOTE_BUFSZ];
    return ldr_err_setf(err, LDR_EINVAL, "invalid timestamp \"%s\": %s %u out of range %u-%u",
                        ldr__quote(c->s, c->len, q), field, v, lo, hi);
}

static ldr_code parse_date(cursor *c, ts_fields *f, ldr_err *err)
{
    if (!fixed_digits(c, 4, &f->year) || !at(c, '-'))
        return ts_fail(c, err, "expected a date YYYY-MM-DD");
    c->pos++;
    if (!fixed_digits(c, 2, &f->month) || !at(c, '-'))
        return ts_fail(c, err, "expected a date YYYY-MM-DD");
    c->pos++;
    if (!fixed_digits(c, 2, &f->day))
        return ts_fail(c, err, "expected a date YYYY-MM-DD");
    if (f->year < 1)
        return ts_fail(c, err, "year 0000 out of range 0001-9999");
    if (f->month < 1 || f->month > 12)
        return ts_range(c, err, "month", f->month, 1, 12);
    unsigned mdays = days_in_month(f->year, f->month);
    if (f->day < 1 || f->day > mdays) {
        char q[LDR_QUOTE_BUFSZ];
        return ldr_err_setf(err, LDR_EINVAL,
                            "invalid timestamp \"%s\": day %u out of range 1-%u for %04u-%02u",
                            ldr__quote(c->s, c->len, q), f->day, mdays, f->year, f->month);
    }
    return LDR_OK;
}

/* Reads ".f{1,9}" (already past the '.'), keeping the first six digits as microseconds. */
static ldr_code parse_fraction(cursor *c, ts_fields *f, ldr_err *err)
{
    size_t start = c->pos;
    int64_t us = 0;
    while (c->pos < c->len && is_digit(c->s[c->pos])) {
        if (c->pos - start < 6)
            us = us * 10 + (c->s[c->pos] - '0');
        c->pos++;
    }
    size_t n = c->pos - start;
    if (n == 0)
        return ts_fail(c, err, "expected digits after '.'");
    if (n > 9)
        return ts_fail(c, err, "fraction has more than 9 digits");
    for (size_t i = n; i < 6; i++)
        us *= 10;
    f->frac_us = us;
    return LDR_OK;
}

/* Reads "HH:MM[:SS[.fff]]" and validates the ranges. */
static ldr_code parse_time(cursor *c, ts_fields *f, ldr_err *err)
{
    if (!fixed_digits(c, 2, &f->hour) || !at(c, ':'))
        return ts_fail(c, err, "expected a time HH:MM[:SS] after the date");
    c->pos++;
    if (!fixed_digits(c, 2, &f->minute))
        return ts_fail(c, err, "expected a time HH:MM[:SS] after the date");
    if (at(c, ':')) {
        c->pos++;
        if (!fixed_digits(c, 2, &f->second))
            return ts_fail(c, err, "expected 2-digit seconds after HH:MM:");
        if (at(c, '.')) {
            c->pos++;
            ldr_code rc = parse_fraction(c, f, err);
            if (rc != LDR_OK)
                return rc;
        }
    }
    if (f->hour > 23)
        return ts_range(c, err, "hour", f->hour, 0, 23);
    if (f->minute > 59)
        return ts_range(c, err, "minute", f->minute, 0, 59);
    if (f->second > 60)
        return ts_range(c, err, "second", f->second, 0, 60);
    return LDR_OK;
}

/* Reads "Z", "+HH:MM", "+HHMM" or "+HH" (or '-'); nothing at all means UTC. */
static ldr_code parse_zone(cursor *c, ts_fields *f, ldr_err *err)
{
    if (c->pos == c->len)
        return LDR_OK;
    char ch = c->s[c->pos];
    if (ch == 'Z' || ch == 'z') {
        c->pos++;
        return LDR_OK;
    }
    if (ch != '+' && ch != '-')
        return ts_fail(c, err, "expected a time zone \"Z\", \"+HH:MM\" or \"-HH:MM\"");
    c->pos++;
    unsigned hh, mm = 0;
    if (!fixed_digits(c, 2, &hh))
        return ts_fail(c, err, "expected a UTC offset +HH:MM, +HHMM or +HH");
    if (at(c, ':')) {
        c->pos++;
        if (!fixed_digits(c, 2, &mm))
            return ts_fail(c, err, "expected 2-digit minutes in the UTC offset");
    } else if (c->pos < c->len && is_digit(c->s[c->pos])) {
        if (!fixed_digits(c, 2, &mm))
            return ts_fail(c, err, "expected 2-digit minutes in the UTC offset");
    }
    if (hh > 23)
        return ts_range(c, err, "UTC offset hour", hh, 0, 23);
    if (mm > 59)
        return ts_range(c, err, "UTC offset minute", mm, 0, 59);
    int64_t off = (int64_t)hh * 3600 + (int64_t)mm * 60;
    f->offset_sec = ch == '-' ? -off : off;
    return LDR_OK;
}

static ldr_code parse_fields(cursor *c, ts_fields *f, ldr_err *err)
{
    ldr_code rc = parse_date(c, f, err);
    if (rc != LDR_OK || c->pos == c->len)
        return rc;
    char sep = c->s[c->pos];
    if (sep != 'T' && sep != 't' && sep != ' ')
        return ts_fail(c, err, "expected 'T' or ' ' between date and time");
    c->pos++;
    rc = parse_time(c, f, err);
    if (rc == LDR_OK)
        rc = parse_zone(c, f, err);
    if (rc == LDR_OK && c->pos != c->len)
        rc = ts_fail(c, err, "unexpected characters after the timestamp");
    return rc;
}

ldr_code ldr_ts_parse(const char *s, size_t len, ldr_ts *out, ldr_err *err)
{
    cursor c = {s, len, 0};
    ts_fields f = {0};
    if (len == 0)
        return ts_fail(&c, err, "empty");
    ldr_code rc = parse_fields(&c, &f, err);
    if (rc != LDR_OK)
        return rc;
    /* Years 1-9999 and offsets below a day keep all of this far from int64 limits. A
     * second of 60 simply adds up into the next minute (see the file comment). */
    int64_t days = ldr_days_from_civil(f.year, f.month, f.day);
    int64_t secs = days * SEC_PER_DAY + (int64_t)f.hour * 3600 + (int64_t)f.minute * 60 +
                   (int64_t)f.second - f.offset_sec;
    *out = secs * US_PER_SEC + f.frac_us;
    return LDR_OK;
}

/* ---- Timestamp formatting ------------------------------------------------------------ */

/* Writes v (< 10^width) as exactly `width` decimal digits, zero-padded. */
static char *put_digits(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* On the serving hot path (every event timestamp of a response), so the common case,
 * years 0-9999, writes its digits directly: snprintf cost about 3.5 k instructions a call
 * (BENCHMARKS.md, "HTTP feature server"). The output is the same as the snprintf form. */
char *ldr_ts_format(ldr_ts ts, char buf[LDR_TS_BUFSZ])
{
    int64_t days = floor_div(ts, US_PER_DAY);
    int64_t us_of_day = ts % US_PER_DAY; /* not ts - days * US_PER_DAY: overflows near INT64_MIN */
    if (us_of_day < 0)
        us_of_day += US_PER_DAY;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    uint32_t sec_of_day = (uint32_t)(us_of_day / US_PER_SEC);
    uint32_t frac = (uint32_t)(us_of_day % US_PER_SEC);
    char *p = buf;
    if (y >= 0 && y <= 9999) {
        p = put_digits(p, (uint32_t)y, 4);
    } else {
        /* Years outside 0-9999 only arise from timestamps no parser produced; print them
         * with a sign and at least four digits rather than truncating. */
        int n = snprintf(buf, LDR_TS_BUFSZ, "%s%04" PRId64, y < 0 ? "-" : "", y < 0 ? -y : y);
        LDR_ASSERT(n > 0 && (size_t)n < LDR_TS_BUFSZ - 23);
        p += n;
    }
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sec_of_day / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sec_of_day / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sec_of_day % 60, 2);
    if (frac != 0) {
        *p++ = '.';
        p = frac % 1000 == 0 ? put_digits(p, frac / 1000, 3) : put_digits(p, frac, 6);
    }
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

ldr_ts ldr_ts_now(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 0; /* cannot happen with CLOCK_REALTIME and a valid pointer */
    return (int64_t)now.tv_sec * US_PER_SEC + (int64_t)now.tv_nsec / 1000;
}

/* ---- Durations ----------------------------------------------------------------------- */

typedef struct duration_unit {
    const char *name;
    int64_t us;
} duration_unit;

/* Largest first: the order groups must appear in, and the order format uses. */
static const duration_unit units[] = {
    {"w", 7 * US_PER_DAY},
    {"d", US_PER_DAY},
    {"h", 3600 * US_PER_SEC},
    {"m", 60 * US_PER_SEC},
    {"s", US_PER_SEC},
    {"ms", 1000},
    {"us", 1},
};

#define UNITS_HELP "(use w, d, h, m, s, ms or us)"

static ldr_code dur_fail(const char *s, size_t len, ldr_err *err, const char *what)
{
    char q[LDR_QUOTE_BUFSZ];
    return ldr_err_setf(err, LDR_EINVAL, "invalid duration \"%s\": %s", ldr__quote(s, len, q),
                        what);
}

/* Fails because unit u follows unit last (u <= last): repeated or out of order. */
static ldr_code dur_fail_order(const char *s, size_t len, ldr_err *err, int u, int last)
{
    char q[LDR_QUOTE_BUFSZ];
    if (u == last) {
        return ldr_err_setf(err, LDR_EINVAL,
                            "invalid duration \"%s\": unit \"%s\" is repeated (each unit at "
                            "most once, largest first)",
                            ldr__quote(s, len, q), units[u].name);
    }
    return ldr_err_setf(err, LDR_EINVAL,
                        "invalid duration \"%s\": unit \"%s\" must come before \"%s\" "
                        "(largest units first, as in \"1d12h\")",
                        ldr__quote(s, len, q), units[u].name, units[last].name);
}

/* Returns the index in units[] of the unit spelled s[0..len), or -1. */
static int find_unit(const char *s, size_t len)
{
    for (size_t i = 0; i < LDR_ARRAY_LEN(units); i++) {
        if (strlen(units[i].name) == len && memcmp(units[i].name, s, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Reads one "<digits><unit>" group at c into *out_us and its unit index into *out_unit. */
static ldr_code parse_group(cursor *c, int64_t *out_us, int *out_unit, ldr_err *err)
{
    char q[LDR_QUOTE_BUFSZ];
    size_t start = c->pos;
    int64_t n = 0;
    bool overflow = false;
    while (c->pos < c->len && is_digit(c->s[c->pos])) {
        int digit = c->s[c->pos++] - '0';
        overflow = overflow || n > (INT64_MAX - digit) / 10;
        n = overflow ? n : n * 10 + digit;
    }
    if (c->pos == start) {
        char qr[LDR_QUOTE_BUFSZ];
        return ldr_err_setf(err, LDR_EINVAL, "invalid duration \"%s\": expected a number at \"%s\"",
                            ldr__quote(c->s, c->len, q),
                            ldr__quote(c->s + c->pos, c->len - c->pos, qr));
    }
    if (c->pos < c->len && (c->s[c->pos] == '.' || c->s[c->pos] == ','))
        return dur_fail(c->s, c->len, err,
                        "fractions are not allowed (use a smaller unit, as in \"1h30m\")");
    size_t ustart = c->pos;
    while (c->pos < c->len && is_alpha(c->s[c->pos]))
        c->pos++;
    if (c->pos == ustart) {
        char qn[LDR_QUOTE_BUFSZ];
        return ldr_err_setf(
            err, LDR_EINVAL, "invalid duration \"%s\": missing unit after \"%s\" " UNITS_HELP,
            ldr__quote(c->s, c->len, q), ldr__quote(c->s + start, ustart - start, qn));
    }
    int u = find_unit(c->s + ustart, c->pos - ustart);
    if (u < 0) {
        char qu[LDR_QUOTE_BUFSZ];
        return ldr_err_setf(
            err, LDR_EINVAL, "invalid duration \"%s\": unknown unit \"%s\" " UNITS_HELP,
            ldr__quote(c->s, c->len, q), ldr__quote(c->s + ustart, c->pos - ustart, qu));
    }
    if (overflow || n > INT64_MAX / units[u].us)
        return dur_fail(c->s, c->len, err, "too large");
    *out_us = n * units[u].us;
    *out_unit = u;
    return LDR_OK;
}

ldr_code ldr_duration_parse(const char *s, size_t len, ldr_duration *out, ldr_err *err)
{
    if (len == 0)
        return dur_fail(s, len, err, "empty (use e.g. \"0\", \"90m\" or \"1d12h\")");
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return LDR_OK;
    }
    if (s[0] == '-')
        return dur_fail(s, len, err, "negative durations are not allowed");
    cursor c = {s, len, 0};
    int64_t total = 0;
    int last = -1;
    while (c.pos < c.len) {
        int64_t us;
        int u;
        ldr_code rc = parse_group(&c, &us, &u, err);
        if (rc != LDR_OK)
            return rc;
        if (u <= last)
            return dur_fail_order(s, len, err, u, last);
        if (us > INT64_MAX - total)
            return dur_fail(s, len, err, "too large");
        total += us;
        last = u;
    }
    *out = total;
    return LDR_OK;
}

char *ldr_duration_format(ldr_duration d, char buf[LDR_DURATION_BUFSZ])
{
    if (d == 0) {
        memcpy(buf, "0", 2);
        return buf;
    }
    /* Negative durations are never parsed, but format them readably rather than wrongly;
     * the unsigned magnitude also covers INT64_MIN. */
    uint64_t rest = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
    size_t pos = 0;
    if (d < 0)
        buf[pos++] = '-';
    for (size_t i = 0; i < LDR_ARRAY_LEN(units) && rest > 0; i++) {
        uint64_t unit = (uint64_t)units[i].us;
        if (rest < unit)
            continue;
        int n = snprintf(buf + pos, LDR_DURATION_BUFSZ - pos, "%" PRIu64 "%s", rest / unit,
                         units[i].name);
        LDR_ASSERT(n > 0 && (size_t)n < LDR_DURATION_BUFSZ - pos);
        pos += (size_t)n;
        rest %= unit;
    }
    return buf;
}
