/*
 * online.h -- the online store: the latest feature values of every entity of a view, for
 * low-latency serving. Materialization and push write it; get-online-features reads it.
 *
 * Three layers:
 *   - entity keys in Feast's v3 serialization (key.c), so keys are byte-compatible with
 *     Feast's stores; murmur3_32 (key.c), the hash Feast's Redis layout uses;
 *   - a compact binary *row codec* (row.c) holding one entity's values for one view. Each
 *     feature is tagged with the murmur3 of its name and its type, so decoding looks
 *     features up by name: adding or removing a feature never rewrites stored rows;
 *   - the store interface, an ops table plus an opaque handle (SQLite's VFS idea), with
 *     `memory` (memory.c, the test fake), `sqlite` (sqlite.c, the embedded default) and
 *     `redis` (redis.c: Feast's Redis layout byte for byte, with its protobuf values in
 *     redis_proto.c and its connections in redis_conn.c; docs/online-redis.md).
 * online.c dispatches through the table and checks arguments, so every backend sees
 * validated input and behaves the same. Newer wins on every write (see ldr_online_write).
 *
 * Ownership: nothing here keeps a pointer to its inputs past the call. Reads and decoders
 * allocate only from the caller's arena. Thread-safety: the codecs are pure and
 * reentrant; a store handle is used by one thread at a time (a server opens one handle
 * per worker thread); distinct handles may be used concurrently.
 */
#ifndef LDR_ONLINE_ONLINE_H
#define LDR_ONLINE_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "repo/repo.h"

/* ---- Entity keys (Feast serialization v3) ---------------------------------------------- */

/** The join key of entityless views (Feast's DUMMY_ENTITY_ID); its value is "". */
#define LDR_ONLINE_DUMMY_JOIN_KEY "__dummy_id"

/** True for the value types an entity key may hold: String, Bytes, Int32, Int64 and
 * UnixTimestamp (Feast rejects floats and bools as keys). */
bool ldr_online_key_type_ok(ldr_type t);

/**
 * Appends the v3 serialization of an entity key to out (little-endian throughout):
 *     u32 n; per key, sorted by join-key name: u32 2 (String), u32 len, name;
 *     then per value in the same order: u32 type, u32 len, payload
 * with payloads String/Bytes raw, Int32 4 bytes, Int64 8 bytes, UnixTimestamp 8 bytes
 * of *seconds* (Feast's unix_timestamp_val). Pairs are sorted together, so the result
 * does not depend on the order the caller lists them in. n == 0 gives 00000000.
 * Example: driver_id=1002 (Int64) -> 01000000 02000000 09000000 6472697665725f6964
 * 04000000 08000000 ea03000000000000.
 * Errors (out then keeps its previous content): LDR_EINVAL naming the key for an
 * unsupported type, a null value, a UnixTimestamp with a sub-second part (Feast stores
 * whole seconds; rounding would merge distinct entities) or a join key listed twice;
 * LDR_ELIMIT when out's maximum is reached or a string exceeds 4 GiB.
 */
LDR_MUST_USE ldr_code ldr_online_key_encode(const char *const *join_keys, const ldr_value *values,
                                            size_t n, ldr_buf *out, ldr_err *err);

/** Appends the key of an entityless view: __dummy_id = "" (String). Errors as above. */
LDR_MUST_USE ldr_code ldr_online_key_encode_entityless(ldr_buf *out, ldr_err *err);

/** A decoded entity key: n join keys (sorted, as serialized) and their values. */
typedef struct ldr_online_key {
    const char **join_keys; /* NUL-terminated names */
    ldr_value *values;      /* String/Bytes/Int32/Int64/UnixTimestamp (microseconds) */
    size_t n;
} ldr_online_key;

/**
 * Decodes a v3 key without a schema (document retrieval returns entity keys this way).
 * Every length is checked against the input first, so any bytes are safe to pass.
 * Strings are copied (NUL-terminated): out is borrowed from a, valid until its fini.
 * Errors: LDR_ECORRUPT with the byte offset for truncated input, trailing bytes, a name
 * that is not typed String, an unknown value type or a wrong fixed-size length.
 */
LDR_MUST_USE ldr_code ldr_online_key_decode(const void *data, size_t len, ldr_arena *a,
                                            ldr_online_key *out, ldr_err *err);

/** MurmurHash3 x86_32 of len bytes. Feast's Redis layout names a feature's hash field by
 * murmur3_32("<view>:<feature>", seed 0), stored as its 4 little-endian bytes. */
uint32_t ldr_murmur3_32(const void *data, size_t len, uint32_t seed);

/* ---- Row codec -------------------------------------------------------------------------- */

/*
 * One entity's values for one view, as stored (format version 1, little-endian):
 *   row     = u8 version (1), uvarint count, entry * count
 *   entry   = u32 murmur3_32(feature name, seed 0), u8 tag, payload
 *   tag     = 0 null (no payload) | ldr_type of the value (1..8 scalars, 11..18 lists)
 *   payload = Int32/Int64/UnixTimestamp: zigzag varint (timestamps in microseconds)
 *             Float32 4 bytes, Float64 8 bytes (IEEE 754); Bool 1 byte (0 or 1)
 *             String/Bytes: uvarint length, bytes
 *             list: uvarint body length, then body = uvarint (n << 1 | has_nulls),
 *                   a bitmap of ceil(n/8) bytes when has_nulls (bit i set = element i is
 *                   null), and the non-null elements' scalar payloads in order
 * Every payload is skippable without decoding it, so a read of two features of a wide
 * view only parses the two. Decoding a feature of requested type R from a stored tag T:
 *   T == R                        the value;
 *   T null                        a null of type R (present: the row holds the feature);
 *   numbers (Int32, Int64, Float32, Float64) converted to another number type when this
 *   value is exactly representable there (3.0 -> Int64 3; 2^40 -> Int32 absent; NaN and
 *   infinities only between floats; -0.0 not to integers);
 *   String -> Bytes; lists element-wise by the same rules;
 *   anything else, or a feature missing from the row: absent.
 */

/** A view's features prepared for encoding: their name hashes, in feature order. */
typedef struct ldr_online_row_layout {
    const ldr_field *features; /* borrowed */
    size_t n;
    uint32_t *hashes; /* murmur3_32(features[i].name, 0) */
} ldr_online_row_layout;

/**
 * Prepares a layout. Fails with LDR_EINVAL when a feature has an invalid type, a name is
 * listed twice, or two names have the same murmur3 hash (rows could not tell them apart;
 * renaming one fixes it). features is borrowed; hashes come from a.
 */
LDR_MUST_USE ldr_code ldr_online_row_layout_init(ldr_online_row_layout *l,
                                                 const ldr_field *features, size_t n, ldr_arena *a,
                                                 ldr_err *err);

/**
 * Appends the row encoding of values[0..l->n) (feature order) to out. A value must be
 * null or of its feature's declared type (the writer casts before); otherwise LDR_EINVAL
 * naming the feature. LDR_ELIMIT when out's maximum is reached. On failure out keeps its
 * previous content.
 */
LDR_MUST_USE ldr_code ldr_online_row_encode(const ldr_online_row_layout *l, const ldr_value *values,
                                            ldr_buf *out, ldr_err *err);

/** Requested features prepared for decoding: hashes sorted for binary search. */
typedef struct ldr_online_row_proj {
    size_t n;
    const ldr_type *types; /* requested type of feature i; borrowed */
    uint32_t *hashes;      /* sorted ascending */
    size_t *index;         /* hashes[k] is the hash of requested feature index[k] */
} ldr_online_row_proj;

/** Prepares a projection of n requested features (a name may be requested twice). types
 * is borrowed and must outlive p; the arrays come from a. */
void ldr_online_row_proj_init(ldr_online_row_proj *p, const char *const *names,
                              const ldr_type *types, size_t n, ldr_arena *a);

/**
 * Decodes the requested features of one stored row: out_values[i] and out_present[i] for
 * requested feature i (an absent feature is a null of its requested type with
 * out_present[i] false). Bounds-checked: any bytes are safe. Strings and lists are copied
 * into a (borrowed; valid until its fini), so row may be released right after.
 * Errors: LDR_ECORRUPT with the byte offset (bad version, truncation, unknown tag, a
 * Bool byte other than 0/1, varint overflow, trailing bytes, a requested feature stored
 * twice); outputs are then unspecified.
 */
LDR_MUST_USE ldr_code ldr_online_row_decode(const ldr_online_row_proj *p, const void *row,
                                            size_t len, ldr_arena *a, ldr_value *out_values,
                                            bool *out_present, ldr_err *err);

/** One stored entry, for tools and tests: a null entry has value.type LDR_TYPE_INVALID. */
typedef struct ldr_online_row_entry {
    uint32_t hash;
    ldr_value value;
} ldr_online_row_entry;

/** Decodes every entry of a row in stored order (strings, lists and the array from a).
 * Errors as ldr_online_row_decode. */
LDR_MUST_USE ldr_code ldr_online_row_entries(const void *row, size_t len, ldr_arena *a,
                                             ldr_online_row_entry **out, size_t *out_n,
                                             ldr_err *err);

/* ---- Feast protobuf values (redis_proto.c) ---------------------------------------------- */

/*
 * Feast's Redis layout stores each feature as a serialized feast.types.Value and the
 * row's event time as a google.protobuf.Timestamp (reference §7.3):
 *   Value     = oneof, field number = Feast's type number = ldr_type:
 *               1 bytes_val, 2 string_val (length-delimited), 3 int32_val, 4 int64_val,
 *               7 bool_val, 8 unix_timestamp_val (varint; int32 sign-extended to 64 bits;
 *               timestamps in whole *seconds*), 5 double_val (fixed64), 6 float_val
 *               (fixed32), 11..18 the list wrappers (length-delimited message holding
 *               `repeated T val = 1`, numbers packed), 19 null_val;
 *               a null is the empty message (no member set), as Feast writes it;
 *   Timestamp = 1 seconds (int64 varint), 2 nanos (int32 varint, 0..999999999); zero
 *               fields are omitted (proto3).
 * Feast cannot hold a null inside a list except in timestamp lists, where null is the
 * sentinel INT64_MIN seconds (numpy NaT); encoding any other list with a null element is
 * LDR_EINVAL. UnixTimestamp values lose their sub-second part (rounded down to the
 * second), like Feast's own writes; the Timestamp message keeps microseconds.
 */

/** Decoded lists longer than this are LDR_ELIMIT (bytes from the network). */
#define LDR_ONLINE_PB_MAX_ITEMS (1u << 24)

/** Appends the serialized Value of v (null: nothing). LDR_EINVAL for a null list element
 * (see above) or an element of the wrong type; LDR_ELIMIT from out. On failure out keeps
 * its previous content. */
LDR_MUST_USE ldr_code ldr_online_pb_value_encode(const ldr_value *v, ldr_buf *out, ldr_err *err);

/** The longest Value ldr_online_pb_scalar_encode writes: a tag byte and a 10-byte varint. */
#define LDR_ONLINE_PB_SCALAR_MAX 11

/** The serialized Value of a non-null number, bool or timestamp (the same bytes as
 * ldr_online_pb_value_encode) into out; returns its length, or 0 for other values (null,
 * strings, bytes, lists), which take ldr_online_pb_value_encode. No allocation: the
 * materialization's per-value path. */
size_t ldr_online_pb_scalar_encode(const ldr_value *v, uint8_t out[LDR_ONLINE_PB_SCALAR_MAX]);

/**
 * Decodes a serialized Value. *out is a value of the stored type; a null of type
 * LDR_TYPE_INVALID for the empty message or null_val; and, for a member Larder has no
 * type for (map_val, uuid_val, ... of newer Feast versions), type LDR_TYPE_INVALID with
 * is_null false (readers treat it as absent). Strings and lists are copied into a
 * (borrowed; valid until its fini). Bounds-checked: any bytes are safe. Errors:
 * LDR_ECORRUPT with the byte offset (truncation, overlong varints, wrong wire types,
 * groups, packed runs that do not divide, timestamps outside Larder's range);
 * LDR_ELIMIT for lists over LDR_ONLINE_PB_MAX_ITEMS elements.
 */
LDR_MUST_USE ldr_code ldr_online_pb_value_decode(const void *data, size_t len, ldr_arena *a,
                                                 ldr_value *out, ldr_err *err);

/** Appends the serialized Timestamp of ts (microseconds: seconds rounded down, nanos
 * from the remainder, so it round-trips exactly). LDR_ELIMIT from out. */
LDR_MUST_USE ldr_code ldr_online_pb_ts_encode(ldr_ts ts, ldr_buf *out, ldr_err *err);

/** Decodes a serialized Timestamp into microseconds (nanos truncated). LDR_ECORRUPT for
 * malformed bytes, nanos outside 0..999999999 or seconds outside Larder's range. */
LDR_MUST_USE ldr_code ldr_online_pb_ts_decode(const void *data, size_t len, ldr_ts *out,
                                              ldr_err *err);

/** As ldr_online_pb_ts_decode, and also returns the nanoseconds below the microsecond
 * (0..999) in out_sub_us_ns, so that comparisons can be exact to the nanosecond as the
 * Redis store's write script compares (Larder writes whole microseconds; others may not). */
LDR_MUST_USE ldr_code ldr_online_pb_ts_decode_exact(const void *data, size_t len, ldr_ts *out,
                                                    uint32_t *out_sub_us_ns, ldr_err *err);

/* ---- Store interface -------------------------------------------------------------------- */

/** What a store needs to know about a view. Borrowed for the duration of each call. */
typedef struct ldr_online_view {
    const char *project;
    const char *name;
    const ldr_field *features; /* name + type, in schema order (entity columns excluded) */
    size_t n_features;
} ldr_online_view;

/** A serialized entity key (ldr_online_key_encode), borrowed. */
typedef struct ldr_online_keyref {
    const void *ptr;
    size_t len;
} ldr_online_keyref;

/** One entity's values for one view, for writes. */
typedef struct ldr_online_row {
    ldr_online_keyref key;
    const ldr_value *values; /* n_features entries in view order; each may be null */
    ldr_ts event_ts;         /* required */
    ldr_ts created_ts;       /* LDR_TS_NONE when the source has none (older than any) */
} ldr_online_row;

/** One key's answer to a read. */
typedef struct ldr_online_hit {
    bool found;        /* the store has a row for the key */
    ldr_ts event_ts;   /* of the stored row; LDR_TS_NONE when not found */
    ldr_ts created_ts; /* of the stored row; LDR_TS_NONE when not found or none stored */
    ldr_value *values; /* n requested features, arena-allocated; .is_null for null */
    bool *present;     /* per requested feature: false when not found or the stored row
                          lacks the feature (or holds it as an inconvertible type) */
} ldr_online_hit;

/** One view's part of a multi-view read (ldr_online_read_many): the arguments of
 * ldr_online_read, borrowed for the call. */
typedef struct ldr_online_read_req {
    const ldr_online_view *view;
    const char *const *features;
    const ldr_type *types;
    size_t n_features;
    const ldr_online_keyref *keys;
    size_t n_keys;
    ldr_online_hit *out; /* n_keys hits */
} ldr_online_read_req;

/**
 * Backend operations. `self` is the backend's private state from open. The dispatcher
 * (ldr_online_*) checks arguments before calling, so backends may assume: views have a
 * project and a name, rows' event timestamps are set, arrays are non-NULL when their
 * count is non-zero. Errors follow the ldr_online_* functions below.
 */
typedef struct ldr_online_ops {
    const char *type; /* "sqlite", "memory": the online_store type in feature_store.yaml */
    ldr_code (*open)(const ldr_config *cfg, void **self, ldr_err *err);
    void (*close)(void *self);
    ldr_code (*update)(void *self, const ldr_online_view *keep_or_add, size_t n_add,
                       const ldr_online_view *drop, size_t n_drop, ldr_err *err);
    ldr_code (*write)(void *self, const ldr_online_view *v, const ldr_online_row *rows, size_t n,
                      size_t *n_written, ldr_err *err);
    ldr_code (*read)(void *self, const ldr_online_view *v, const char *const *features,
                     const ldr_type *types, size_t n_features, const ldr_online_keyref *keys,
                     size_t n_keys, ldr_arena *a, ldr_online_hit *out, ldr_err *err);
    ldr_code (*teardown)(void *self, const ldr_online_view *views, size_t n, ldr_err *err);
    ldr_code (*integrity_check)(void *self, ldr_err *err); /* NULL: nothing to check */
    /* Optional: several views in one go (NULL: one read per request). */
    ldr_code (*read_many)(void *self, const ldr_online_read_req *reqs, size_t n, ldr_arena *a,
                          ldr_err *err);
    bool has_tables; /* false: views need no update first (Redis); reads of a view never
                        applied find nothing instead of failing with LDR_ENOTFOUND */
    /* How many handles may usefully write batches of distinct keys at once (0 counts as
     * 1): a network store overlaps one writer's client work with another's round trips;
     * sqlite has one writer at a time and a memory store is private to its handle. */
    unsigned parallel_writers;
    /* Batches go faster in key order (neighbouring B-tree pages): the materialization
     * sorts them first. Redis and the memory store hash their keys: no use. */
    bool key_ordered_writes;
} ldr_online_ops;

extern const ldr_online_ops ldr_online_memory_ops;
extern const ldr_online_ops ldr_online_sqlite_ops;
extern const ldr_online_ops ldr_online_redis_ops;

/** The backend for a type name ("memory", "sqlite", "redis"). Static; never free. NULL
 * with LDR_EUNSUPPORTED (`unknown online store type "x" (known: memory, sqlite, redis)`)
 * otherwise. */
const ldr_online_ops *ldr_online_lookup_ops(const char *type, ldr_err *err);

/** An open online store: a backend and its handle. Opaque; one thread at a time. */
typedef struct ldr_online_store ldr_online_store;

/**
 * Opens the store cfg->online_type names (cfg->online_path for file-based stores).
 *   memory: an empty store private to this handle; its data goes away on close.
 *   sqlite: opens or creates cfg->online_path (and its missing parent directories) in
 *           WAL mode; other handles and processes may use the same file at once.
 *   redis:  connects to cfg->online_connection_string (standalone, or a Redis Cluster
 *           when cfg->online_redis_cluster); cfg->online_key_ttl_seconds > 0 EXPIREs
 *           every key written. LDR_ECONFIG for a bad connection string, LDR_EBACKEND
 *           naming host:port when nothing answers.
 * Returns: caller owns; free with ldr_online_close. NULL with err set: LDR_EUNSUPPORTED
 * for an unknown type, LDR_EINVAL without a path, LDR_EIO/LDR_EBACKEND/LDR_ECORRUPT when
 * the file cannot be created or is not a SQLite database.
 */
ldr_online_store *ldr_online_open(const ldr_config *cfg, ldr_err *err);

/** Closes the store. NULL is a no-op. */
void ldr_online_close(ldr_online_store *s);

/** The backend's type name. Static; never free. */
const char *ldr_online_type(const ldr_online_store *s);

/**
 * Makes the store match the applied definitions: creates the tables of `keep_or_add`
 * that are missing (existing ones keep their rows: rows survive schema changes, see the
 * row codec) and drops the tables of `drop` with their rows. Drops happen before
 * creates, so a view in both lists ends up empty. Atomic on sqlite.
 * Errors: LDR_EINVAL for a view without project or name; backend errors.
 */
LDR_MUST_USE ldr_code ldr_online_update(ldr_online_store *s, const ldr_online_view *keep_or_add,
                                        size_t n_add, const ldr_online_view *drop, size_t n_drop,
                                        ldr_err *err);

/**
 * Writes rows of view v in one transaction: all of them or, on error, none (on Redis,
 * which has no multi-key transactions in a cluster, each row is atomic on its own; rows
 * that fail validation still fail the batch before anything is sent).
 * Newer wins: a row replaces the stored row of its key only when its event timestamp is
 * greater, or equal with a created timestamp greater or equal (LDR_TS_NONE is older
 * than any created timestamp). So an older event never replaces a newer one, equal
 * timestamps resolve to the later write, and rows of one batch are applied in order
 * under the same rule (duplicates of a key within a batch resolve correctly).
 * *n_written (optional) receives how many rows inserted or replaced a row (0 on error).
 * Errors: LDR_EINVAL for a row without an event timestamp or key, or a value whose type
 * is not its feature's (naming the row and feature); LDR_ENOTFOUND when the view has no
 * table (update was not called for it); LDR_EBUSY when another writer holds the lock
 * past the busy timeout (5 s); LDR_EBACKEND.
 */
LDR_MUST_USE ldr_code ldr_online_write(ldr_online_store *s, const ldr_online_view *v,
                                       const ldr_online_row *rows, size_t n, size_t *n_written,
                                       ldr_err *err);

/**
 * Reads n_features features (names and requested types; a feature the view does not
 * hold is simply absent) for n_keys serialized keys into out[0..n_keys). Every hit's
 * arrays are allocated from a, also for keys not found. Keys may repeat. All keys are
 * read from one consistent snapshot on sqlite.
 * Errors: LDR_EINVAL for a missing array or a requested feature without a name or a
 * valid type; LDR_ENOTFOUND when the view has no table; LDR_ECORRUPT when a stored row
 * does not decode (naming the view); backend errors. out is then unspecified.
 */
LDR_MUST_USE ldr_code ldr_online_read(ldr_online_store *s, const ldr_online_view *v,
                                      const char *const *features, const ldr_type *types,
                                      size_t n_features, const ldr_online_keyref *keys,
                                      size_t n_keys, ldr_arena *a, ldr_online_hit *out,
                                      ldr_err *err);

/**
 * Reads several views at once: request i as ldr_online_read(s, reqs[i].view, ...) into
 * reqs[i].out. Same results and errors as those n reads (the first failing one is
 * reported); the point is the round trips: the Redis store fetches every view that
 * shares an entity key (the same hash) with one HMGET per key, pipelined. Stores without
 * a read_many op run the n reads in order.
 */
LDR_MUST_USE ldr_code ldr_online_read_many(ldr_online_store *s, const ldr_online_read_req *reqs,
                                           size_t n, ldr_arena *a, ldr_err *err);

/** Whether the store keeps a table per view (sqlite, memory: reading or writing a view
 * that update never created is LDR_ENOTFOUND). Redis has no tables: false. */
bool ldr_online_has_tables(const ldr_online_store *s);

/** ops->key_ordered_writes of the store's backend. */
bool ldr_online_key_ordered_writes(const ldr_online_store *s);

/** ops->parallel_writers of the store's backend, at least 1. */
unsigned ldr_online_parallel_writers(const ldr_online_store *s);

/** Drops the tables of the given views (missing ones are fine). Atomic on sqlite. */
LDR_MUST_USE ldr_code ldr_online_teardown(ldr_online_store *s, const ldr_online_view *views,
                                          size_t n, ldr_err *err);

/** Checks the store's physical integrity: on sqlite `PRAGMA integrity_check`, whose
 * findings give LDR_ECORRUPT with the first of them in the message. LDR_OK for memory. */
LDR_MUST_USE ldr_code ldr_online_integrity_check(ldr_online_store *s, ldr_err *err);

#endif /* LDR_ONLINE_ONLINE_H */
