/*
 * core.h -- the core module: allocation, errors, assertions, arenas, bounded buffers,
 * hash maps, logging, time and value types. Everything else in Larder builds on it.
 *
 * core depends only on libc (and on the public header for ldr_err/ldr_code/ldr_type).
 * Out-of-memory policy: the ldr_x* allocators abort; sizes that come from untrusted
 * input are checked against explicit limits before they reach an allocator.
 * Thread-safety: every function here is thread-safe on distinct objects; ldr_g is
 * written only by main() before threads start.
 */
#ifndef LDR_CORE_CORE_H
#define LDR_CORE_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "larder/larder.h"

/* ---- Process globals (STYLE §27: the one mutable global) ------------------------------ */

typedef enum ldr_log_level {
    LDR_LOG_DEBUG = 0,
    LDR_LOG_INFO,
    LDR_LOG_WARN,
    LDR_LOG_ERROR,
    LDR_LOG_OFF
} ldr_log_level;

typedef struct ldr_globals {
    ldr_log_level log_level; /* messages below this level are dropped */
    bool log_json;           /* structured JSON lines instead of plain text */
    size_t alloc_fail_at;    /* debug builds: fail the Nth allocation (0 = never) */
    size_t alloc_count;
} ldr_globals;

extern ldr_globals ldr_g;

/* ---- Assertions ------------------------------------------------------------------------ */

/** Aborts with file:line and the expression. Stays on in release builds: for cheap checks
 * of invariants (bugs), never for input validation. */
#define LDR_ASSERT(cond)                                 \
    do {                                                 \
        if (!(cond))                                     \
            ldr__assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
#ifdef NDEBUG
#define LDR_DEBUG_ASSERT(cond) ((void)0)
#else
#define LDR_DEBUG_ASSERT(cond) LDR_ASSERT(cond)
#endif
_Noreturn void ldr__assert_fail(const char *expr, const char *file, int line);

#define LDR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Allocation (alloc.c is the only file calling malloc/realloc/free) ----------------- */

/** malloc that aborts on failure. Never returns NULL (n == 0 gives a unique pointer). */
void *ldr_xmalloc(size_t n);
/** calloc(count, size) with overflow check; aborts on failure. */
void *ldr_xcalloc(size_t count, size_t size);
/** realloc that aborts on failure. */
void *ldr_xrealloc(void *p, size_t n);
/** realloc of an array with count*size overflow check; aborts on failure. */
void *ldr_xreallocarray(void *p, size_t count, size_t size);
#define LDR_ALIGN 64 /* alignment of column buffers (cache lines, SIMD loads) */
/** Grows (or allocates, p == NULL) a LDR_ALIGN-aligned block, keeping its first
 * min(old_len, n) bytes; aborts on failure. Free with ldr_free. */
void *ldr_xaligned_realloc(void *p, size_t old_len, size_t n);
/** free; NULL is a no-op. */
void ldr_free(void *p);
/** strdup that aborts on failure. Caller owns; free with ldr_free. */
char *ldr_xstrdup(const char *s);
/** Copies len bytes and a NUL. Caller owns; free with ldr_free. */
char *ldr_xstrndup(const char *s, size_t len);

/* ---- Errors ---------------------------------------------------------------------------- */

/** Sets code and message (printf-style). err may be NULL. Returns code, so callers can
 * write `return ldr_err_setf(err, LDR_EINVAL, ...)`. */
ldr_code ldr_err_setf(ldr_err *err, ldr_code code, const char *fmt, ...) LDR_PRINTF(3, 4);
/** Like ldr_err_setf, and records errno (sys_errno) and appends ": strerror(errno)". */
ldr_code ldr_err_sys(ldr_err *err, ldr_code code, int errnum, const char *fmt, ...)
    LDR_PRINTF(4, 5);
/** Prepends a printf-formatted prefix to the existing message (truncating the tail if the
 * whole does not fit). The code is unchanged. */
void ldr_err_prefix(ldr_err *err, const char *fmt, ...) LDR_PRINTF(2, 3);
/** Resets to LDR_OK with an empty message. */
void ldr_err_clear(ldr_err *err);

/* ---- Arena ----------------------------------------------------------------------------- */

/** A bump allocator: many small allocations, freed all at once by ldr_arena_fini.
 * Not thread-safe. Nothing that outlives the arena may point into it. */
typedef struct ldr_arena_chunk ldr_arena_chunk;
typedef struct ldr_arena {
    ldr_arena_chunk *head;
    size_t chunk_size; /* default size of new chunks */
    size_t total;      /* bytes handed out, for limits and statistics */
} ldr_arena;

void ldr_arena_init(ldr_arena *a, size_t chunk_size);
void ldr_arena_fini(ldr_arena *a);
/** Frees everything allocated from a but keeps one chunk for reuse, so a server thread
 * that resets its arena per request allocates nothing in the steady state. */
void ldr_arena_reset(ldr_arena *a);
/** Returns n bytes aligned to 16, uninitialised. Aborts on OOM. Borrowed from a. */
void *ldr_arena_alloc(ldr_arena *a, size_t n);
/** Zeroed array of count elements of size bytes (overflow-checked). */
void *ldr_arena_calloc(ldr_arena *a, size_t count, size_t size);
char *ldr_arena_strdup(ldr_arena *a, const char *s);
char *ldr_arena_strndup(ldr_arena *a, const char *s, size_t len);
char *ldr_arena_sprintf(ldr_arena *a, const char *fmt, ...) LDR_PRINTF(2, 3);

/* ---- Bounded growable buffer (curl's dynbuf) ------------------------------------------- */

/** A growable byte buffer with a mandatory maximum. The content is always NUL-terminated
 * (the NUL is not counted in len). */
typedef struct ldr_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* appends that would exceed max fail with LDR_ELIMIT */
} ldr_buf;

void ldr_buf_init(ldr_buf *b, size_t max);
/** A buffer over caller-owned memory (`size` >= 1 bytes, e.g. from an arena) that never
 * reallocates: its maximum is size - 1 (room for the NUL). Do not ldr_buf_fini it. */
void ldr_buf_init_fixed(ldr_buf *b, void *mem, size_t size);
void ldr_buf_fini(ldr_buf *b);
void ldr_buf_reset(ldr_buf *b);
LDR_MUST_USE ldr_code ldr_buf_append(ldr_buf *b, const void *data, size_t len, ldr_err *err);
LDR_MUST_USE ldr_code ldr_buf_puts(ldr_buf *b, const char *s, ldr_err *err);
/** Makes room for add more bytes (and the NUL) without changing the content, so a writer
 * may fill ptr[len .. len + add) directly and then advance len (and write the NUL).
 * LDR_ELIMIT when len + add would pass the maximum. */
LDR_MUST_USE ldr_code ldr_buf_reserve(ldr_buf *b, size_t add, ldr_err *err);
LDR_MUST_USE ldr_code ldr_buf_putc(ldr_buf *b, char c, ldr_err *err);
LDR_MUST_USE ldr_code ldr_buf_printf(ldr_buf *b, ldr_err *err, const char *fmt, ...)
    LDR_PRINTF(3, 4);
LDR_MUST_USE ldr_code ldr_buf_vprintf(ldr_buf *b, ldr_err *err, const char *fmt, va_list ap)
    LDR_PRINTF(3, 0);
/** Moves the content out (never NULL; "" when empty) and resets b. Caller owns; free with
 * ldr_free. */
char *ldr_buf_take(ldr_buf *b);
/** The content (never NULL). Borrowed; valid until the next write to b. */
const char *ldr_buf_cstr(const ldr_buf *b);

/* ---- Hash map (string keys) ------------------------------------------------------------ */

/** Open-addressing hash map from NUL-terminated string keys to pointers. Keys are
 * borrowed: they must outlive the map. Not thread-safe for writers. */
typedef struct ldr_map {
    struct ldr_map_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
} ldr_map;

void ldr_map_init(ldr_map *m);
void ldr_map_fini(ldr_map *m);
/** Inserts or replaces. Returns the previous value or NULL. */
void *ldr_map_put(ldr_map *m, const char *key, void *value);
/** Returns the value, or NULL when absent. */
void *ldr_map_get(const ldr_map *m, const char *key);
/** Same, with a key that need not be NUL-terminated. */
void *ldr_map_getn(const ldr_map *m, const char *key, size_t len);
bool ldr_map_has(const ldr_map *m, const char *key);
/** 64-bit FNV-1a hash of len bytes. */
uint64_t ldr_hash_bytes(const void *data, size_t len);

/* ---- Logging --------------------------------------------------------------------------- */

/** Writes one log line to stderr (plain "larder: level: message" or a JSON object when
 * ldr_g.log_json). Thread-safe: each line is written with one write(2). */
void ldr_log(ldr_log_level level, const char *fmt, ...) LDR_PRINTF(2, 3);
/** Parses "debug", "info", "warning"/"warn", "error", "off" (case-insensitive). */
bool ldr_log_level_parse(const char *s, ldr_log_level *out);

/* ---- Strings --------------------------------------------------------------------------- */

bool ldr_streq(const char *a, const char *b);
bool ldr_strieq(const char *a, const char *b);
#define LDR_QUOTE_MAX   48 /* bytes of input shown in a message; longer input ends in "..." */
#define LDR_QUOTE_BUFSZ (LDR_QUOTE_MAX * 4 + 4)
/** Renders up to LDR_QUOTE_MAX bytes of s for an error message, escaping '"', '\\' and
 * non-printable bytes (\xNN) so the message stays one readable line. Returns out. */
const char *ldr__quote(const char *s, size_t len, char out[LDR_QUOTE_BUFSZ]);
/** Optimal-string-alignment distance, capped at `cap` (returns cap when the distance is >= cap). */
size_t ldr_edit_distance(const char *a, const char *b, size_t cap);
/** Among candidates[0..n), the closest to word within distance max(1, len/3) (and less
 * than its length), or NULL. */
const char *ldr_did_you_mean(const char *word, const char *const *candidates, size_t n);

/* ---- Time ------------------------------------------------------------------------------ */

#define LDR_TS_BUFSZ 32 /* enough for "-292277-01-01T00:00:00.000000Z" and a NUL */

/**
 * Parses an ISO-8601 / RFC 3339 timestamp: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.f{1,9}]]"
 * with 'T', 't' or ' ' as separator, followed by "Z"/"z", "+HH:MM", "-HH:MM", "+HHMM",
 * "+HH", or nothing (naive means UTC). Fractions past microseconds are truncated.
 * Years 0001-9999. Returns LDR_EINVAL with a message naming the problem.
 */
LDR_MUST_USE ldr_code ldr_ts_parse(const char *s, size_t len, ldr_ts *out, ldr_err *err);
/** Formats as RFC 3339 UTC: "2024-01-02T03:04:05Z", with ".ffffff" (trailing zeros
 * trimmed to 3 or 6 digits) when there are sub-second microseconds. Returns buf. */
char *ldr_ts_format(ldr_ts ts, char buf[LDR_TS_BUFSZ]);
/** Current wall-clock time. */
ldr_ts ldr_ts_now(void);
/** Days since the epoch for a proleptic Gregorian date (no range check). */
int64_t ldr_days_from_civil(int64_t y, unsigned m, unsigned d);

/**
 * Parses a duration: "0", or one or more <integer><unit> groups with units w, d, h, m,
 * s, ms, us in decreasing order ("1d12h", "90m", "3600s"). Result in microseconds.
 */
LDR_MUST_USE ldr_code ldr_duration_parse(const char *s, size_t len, ldr_duration *out,
                                         ldr_err *err);
#define LDR_DURATION_BUFSZ 64
/** Formats canonically with the largest units ("1d12h", "90m" -> "1h30m", "0"). */
char *ldr_duration_format(ldr_duration d, char buf[LDR_DURATION_BUFSZ]);

/* ---- Value types and values ------------------------------------------------------------ */

/** Parses a type name, case-insensitively: Int32, Int64, Float32, Float64, String, Bytes,
 * Bool, UnixTimestamp and Array(<scalar>). Also accepts Feast aliases Float (Float32) and
 * Double (Float64). Returns LDR_TYPE_INVALID for anything else. */
ldr_type ldr_type_parse(const char *s, size_t len);
/** Canonical name ("Float32", "Array(Int64)"). Static; never free. "Invalid" if unknown. */
const char *ldr_type_name(ldr_type t);
bool ldr_type_valid(ldr_type t);
bool ldr_type_is_list(ldr_type t);
/** The element type of a list type, or t itself for scalars. */
ldr_type ldr_type_elem(ldr_type t);
/** All valid types, for messages ("expected one of ..."). Static. */
const char *ldr_type_names_help(void);

/** A value of any Larder type. Scalars are held inline; strings/bytes and lists borrow
 * their storage (from an arena, a record batch or a request), per the function that
 * produced them. This is the one value model of Larder: offline, online and HTTP paths
 * all use it, so a value never changes shape between training and serving. */
typedef struct ldr_value {
    ldr_type type;
    bool is_null;
    union {
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
        bool b;
        ldr_ts ts; /* UnixTimestamp: microseconds since the epoch */
        struct {
            const char *ptr;
            size_t len;
        } str; /* String (UTF-8) and Bytes */
        struct {
            const struct ldr_value *items; /* each of the element type; may be null */
            size_t n;
        } list;
    } u;
} ldr_value;

/** A null value of type t. */
ldr_value ldr_value_null(ldr_type t);
/**
 * Converts text to a value of type t: integers (range-checked), floats (strtod, also
 * "nan", "inf"), bools (true/false/1/0, case-insensitive), timestamps (ldr_ts_parse, or
 * integer epoch seconds), strings and bytes (copied as-is). Lists take a JSON-like
 * "[a, b]" form. Storage is allocated from a.
 */
LDR_MUST_USE ldr_code ldr_value_from_text(ldr_type t, const char *s, size_t len, ldr_arena *a,
                                          ldr_value *out, ldr_err *err);

/** Clinger's fast path of strtod: s[0..len) as a plain decimal ([+-]digits[.digits], at
 * most 15 digits in all) into *out, exactly what strtod returns; false for anything else
 * (exponents, more digits, "nan", ".5"), which ldr_value_from_text handles. */
bool ldr_f64_parse_decimal(const char *s, size_t len, double *out);
/** Appends the canonical text form (floats in shortest round-trip form, timestamps RFC
 * 3339, lists as JSON arrays, null as "null" inside lists and "" at top level). */
LDR_MUST_USE ldr_code ldr_value_to_text(const ldr_value *v, ldr_buf *out, ldr_err *err);
/** Structural equality (types must match; NaN equals NaN; null equals null). */
bool ldr_value_eq(const ldr_value *a, const ldr_value *b);
/** Shortest decimal text that reads back to exactly the same double / float. */
void ldr_fmt_double(double d, char buf[32]);
void ldr_fmt_float(float f, char buf[32]);

#endif /* LDR_CORE_CORE_H */
