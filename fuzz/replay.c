/*
 * replay.c -- a main that replays fuzz corpora through LLVMFuzzerTestOneInput, in the
 * manner of SQLite's fuzzcheck, so gcc/ASan builds run every corpus as a regression test.
 *
 * Usage: replay_<target> PATH...   (each PATH a file, or a directory whose regular,
 * non-hidden files are replayed in name order; not recursive).
 * Output is TAP: "ok N - <file>" per input, then "1..N" and "# N passed, N failed".
 * A crash or sanitizer report kills the process mid-run; the "# replaying <file>" line
 * printed (and flushed) before each input names the culprit in the test log.
 * Each input is copied into a heap buffer of exactly its size, so ASan catches reads past
 * the end just as libFuzzer would. Unreadable paths are "not ok".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "fuzz.h"

#define REPLAY_MAX_BYTES (64u << 20) /* corpora hold small files; refuse anything huge */

typedef struct replay_state {
    int run;
    int failed;
} replay_state;

static void report(replay_state *st, int ok, const char *path, const char *why)
{
    st->run++;
    if (ok) {
        printf("ok %d - %s\n", st->run, path);
    } else {
        st->failed++;
        printf("not ok %d - %s\n# %s\n", st->run, path, why);
    }
    fflush(stdout);
}

/* Reads a whole file into a fresh exact-size buffer; caller owns; free with ldr_free. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (size_t)sb.st_size > REPLAY_MAX_BYTES) {
        fclose(f);
        return -1;
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = ldr_xmalloc(len ? len : 1);
    size_t got = len ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (got != len) {
        ldr_free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static void replay_file(replay_state *st, const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_file(path, &data, &len) != 0) {
        report(st, 0, path, strerror(errno ? errno : EIO));
        return;
    }
    printf("# replaying %s (%zu bytes)\n", path, len);
    fflush(stdout);
    (void)LLVMFuzzerTestOneInput(data, len);
    ldr_free(data);
    report(st, 1, path, NULL);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(replay_state *st, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        report(st, 0, dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = ldr_xreallocarray(names, cap, sizeof(*names));
        }
        names[n++] = ldr_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *path = ldr_xmalloc(plen);
        snprintf(path, plen, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            replay_file(st, path);
        ldr_free(path);
        ldr_free(names[i]);
    }
    ldr_free(names);
}

int main(int argc, char **argv)
{
    replay_state st = {0, 0};
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0)
            report(&st, 0, argv[i], strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            replay_dir(&st, argv[i]);
        else
            replay_file(&st, argv[i]);
    }
    printf("1..%d\n# %d passed, %d failed\n", st.run, st.run - st.failed, st.failed);
    return st.failed ? 1 : 0;
}
