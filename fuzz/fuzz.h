/*
 * fuzz.h -- the libFuzzer entry point shared by every fuzz driver in fuzz/<target>/.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput. The same object links either with
 * libFuzzer's main (clang, -Dfuzz=true, see fuzz/meson.build) or with fuzz/replay.c, a
 * plain main that replays a corpus under gcc+ASan as a TAP test (STYLE §45).
 * Declaring the prototype here keeps -Wmissing-prototypes -Werror happy.
 * A driver reports a broken invariant by aborting; it must not leak, print on success,
 * or keep state between calls (the replay runs every input in one process).
 */
#ifndef LDR_FUZZ_FUZZ_H
#define LDR_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/** Runs one input. Returns 0 (libFuzzer reserves other values); aborts on a bug. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* LDR_FUZZ_FUZZ_H */
