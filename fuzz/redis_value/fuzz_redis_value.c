/*
 * fuzz_redis_value.c -- libFuzzer driver for the hand-written protobuf decoders of the
 * Redis online store (redis_proto.c): feast.types.Value and google.protobuf.Timestamp,
 * over arbitrary bytes, as they come back from a Redis server anyone may write to.
 *
 * Each input is decoded as a Value and as a Timestamp. Invariants (a violation aborts):
 * a failure is LDR_ECORRUPT (or LDR_ELIMIT for a huge list) with a message; a Value that
 * decodes to a Larder type re-encodes without error and decodes again to an equal value
 * (the decoder never yields what the encoder cannot write); a Timestamp that decodes
 * re-encodes and decodes to the same microseconds. Nothing is kept between inputs.
 * Corpus: fuzz/redis_value/corpus/ (Feast-shaped values, see the seeds' names);
 * dictionary: fuzz/redis_value/redis_value.dict.
 */
#include "../fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "online/online.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_redis_value: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_failure(ldr_code rc, const ldr_err *err, const char *what)
{
    if ((rc != LDR_ECORRUPT && rc != LDR_ELIMIT) || !err->msg[0])
        fail(what, "failed without LDR_ECORRUPT/LDR_ELIMIT and a message");
}

static void check_value(const uint8_t *data, size_t size, ldr_arena *a)
{
    ldr_value v;
    ldr_err err;
    ldr_code rc = ldr_online_pb_value_decode(data, size, a, &v, &err);
    if (rc != LDR_OK) {
        check_failure(rc, &err, "Value decode");
        return;
    }
    if (v.type == LDR_TYPE_INVALID)
        return; /* null, or a member Larder has no type for */
    ldr_buf b;
    ldr_buf_init(&b, (size_t)1 << 30);
    if (ldr_online_pb_value_encode(&v, &b, &err) != LDR_OK)
        fail("re-encoding a decoded Value failed", err.msg);
    ldr_value again;
    if (ldr_online_pb_value_decode(b.ptr, b.len, a, &again, &err) != LDR_OK)
        fail("decoding a re-encoded Value failed", err.msg);
    if (!ldr_value_eq(&v, &again))
        fail("re-encoded Value differs", ldr_type_name(v.type));
    ldr_buf_fini(&b);
}

static void check_timestamp(const uint8_t *data, size_t size)
{
    ldr_ts ts, again;
    ldr_err err;
    ldr_code rc = ldr_online_pb_ts_decode(data, size, &ts, &err);
    if (rc != LDR_OK) {
        check_failure(rc, &err, "Timestamp decode");
        return;
    }
    ldr_buf b;
    ldr_buf_init(&b, 64);
    if (ldr_online_pb_ts_encode(ts, &b, &err) != LDR_OK)
        fail("re-encoding a Timestamp failed", err.msg);
    if (ldr_online_pb_ts_decode(b.ptr, b.len, &again, &err) != LDR_OK || again != ts)
        fail("re-encoded Timestamp differs", NULL);
    ldr_buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldr_arena a;
    ldr_arena_init(&a, 1 << 16);
    check_value(data, size, &a);
    check_timestamp(data, size);
    ldr_arena_fini(&a);
    return 0;
}
