/*
 * fuzz_loader.c -- libFuzzer driver for the definition loader (YAML bytes -> objects).
 *
 * Feeds arbitrary bytes to the repo module's pure API, exactly as `larder plan` would for
 * one definition file: ldr_defs_parse, then ldr_defs_validate without a config. Then it
 * checks the registry round trip that `apply` relies on: every object's canonical JSON
 * (ldr_defs_canonical) must build again through ldr_defs_add_json, and, for input that
 * validated cleanly, the rebuilt objects must emit byte-identical canonical JSON (otherwise
 * a second `apply` would see a change that is not there). A violated invariant aborts with
 * the offending JSON on stderr. Everything is freed on every call; no state is kept.
 * Corpus: fuzz/loader/corpus/, dictionary: fuzz/loader/loader.dict.
 */
#include "../fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "repo/repo.h"

#define TRANSCRIPT_MAX (256u << 20)

/* State shared by the emit callbacks of one input. */
typedef struct roundtrip {
    ldr_defs *copy;    /* receives every emitted object (NULL: only record) */
    ldr_buf *out;      /* transcript "kind\tname\tjson\n" of what was emitted */
    bool must_rebuild; /* abort when ldr_defs_add_json fails */
} roundtrip;

static void record(ldr_buf *out, const char *kind, const char *name, const char *json)
{
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr_buf_printf(out, &err, "%s\t%s\t%s\n", kind, name, json) != LDR_OK) {
        fprintf(stderr, "fuzz_loader: transcript too large: %s\n", err.msg);
        abort();
    }
}

static void emit(void *ctx, const char *kind, const char *name, const char *json)
{
    roundtrip *rt = ctx;
    LDR_ASSERT(kind != NULL && name != NULL && json != NULL);
    record(rt->out, kind, name, json);
    if (!rt->copy)
        return;
    ldr_err err;
    ldr_err_clear(&err);
    if (ldr_defs_add_json(rt->copy, kind, name, json, &err) != LDR_OK && rt->must_rebuild) {
        fprintf(stderr, "fuzz_loader: canonical JSON of %s '%s' does not build again: %s\n%s\n",
                kind, name, err.msg, json);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldr_defs defs, copy;
    ldr_diags diags;
    ldr_buf first, second;
    ldr_defs_init(&defs);
    ldr_defs_init(&copy);
    ldr_diags_init(&diags);
    ldr_buf_init(&first, TRANSCRIPT_MAX);
    ldr_buf_init(&second, TRANSCRIPT_MAX);

    ldr_code rc = ldr_defs_parse(&defs, "fuzz.yaml", (const char *)data, size, &diags);
    if (ldr_defs_validate(&defs, NULL, &diags) != LDR_OK)
        rc = LDR_ECONFIG;
    ldr_diags_sort(&diags);
    /* The registry only ever stores definitions that validated, so a rebuild failure is a
     * bug there; for invalid input the round trip still runs to exercise the code. */
    bool clean = rc == LDR_OK && diags.n == 0;

    roundtrip rt = {&copy, &first, clean};
    ldr_defs_canonical(&defs, emit, &rt);
    if (clean) {
        roundtrip again = {NULL, &second, false};
        ldr_defs_canonical(&copy, emit, &again);
        const char *a = ldr_buf_cstr(&first), *b = ldr_buf_cstr(&second);
        if (first.len != second.len || memcmp(a, b, first.len) != 0) {
            fprintf(stderr,
                    "fuzz_loader: canonical form is not a fixed point\n"
                    "--- from YAML:\n%s--- rebuilt from JSON:\n%s",
                    a, b);
            abort();
        }
    }

    ldr_buf_fini(&second);
    ldr_buf_fini(&first);
    ldr_diags_fini(&diags);
    ldr_defs_fini(&copy);
    ldr_defs_fini(&defs);
    return 0;
}
