/*
 * discover.c -- finding a repository's definition files and loading them.
 *
 * Every *.yaml / *.yml below the repository root is a definition file, except
 * feature_store.yaml at the root, the top-level data/ directory, hidden files and
 * directories (".git", ".venv"), and paths matching a pattern of .larderignore (one glob
 * per line, relative to the root, '#' comments; a pattern without '/' also matches a base
 * name at any depth; a matched directory is skipped whole). Files are visited in sorted
 * order so diagnostics and error order never depend on readdir order. Depth is capped so
 * a symlink loop cannot recurse forever.
 */
#include "repo/repo_int.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DEPTH 24
#define MAX_FILES 10000

typedef struct walk {
    const ldr_config *cfg;
    char **patterns;
    size_t n_patterns;
    char **files; /* relative paths, heap */
    size_t n_files, cap_files;
    ldr_err *err;
    ldr_arena a; /* paths built during the walk */
} walk;

static bool ignored(const walk *w, const char *rel, const char *base)
{
    for (size_t i = 0; i < w->n_patterns; i++) {
        const char *p = w->patterns[i];
        if (fnmatch(p, rel, FNM_PATHNAME) == 0)
            return true;
        if (!strchr(p, '/') && fnmatch(p, base, 0) == 0)
            return true;
    }
    return false;
}

static bool has_yaml_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && ldr_strieq(name + n - 5, ".yaml")) ||
           (n > 4 && ldr_strieq(name + n - 4, ".yml"));
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static ldr_code walk_dir(walk *w, const char *rel, unsigned depth)
{
    if (depth > MAX_DEPTH)
        return ldr_err_setf(w->err, LDR_ELIMIT,
                            "%s: directories nested deeper than %d levels (symlink loop?)", rel,
                            MAX_DEPTH);
    const char *abs =
        rel[0] ? ldr_arena_sprintf(&w->a, "%s/%s", w->cfg->repo_dir, rel) : w->cfg->repo_dir;
    DIR *d = opendir(abs);
    if (!d)
        return ldr_err_sys(w->err, LDR_EIO, errno, "cannot read directory %s", abs);
    /* Collect and sort the names first: readdir order is arbitrary. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* hidden entries, "." and ".." */
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = ldr_xreallocarray(names, cap, sizeof *names);
        }
        names[n++] = ldr_xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, str_cmp);
    ldr_code rc = LDR_OK;
    for (size_t i = 0; i < n && rc == LDR_OK; i++) {
        const char *name = names[i];
        char *crel =
            rel[0] ? ldr_arena_sprintf(&w->a, "%s/%s", rel, name) : ldr_arena_strdup(&w->a, name);
        char *cabs = ldr_arena_sprintf(&w->a, "%s/%s", w->cfg->repo_dir, crel);
        if (depth == 0 && (!strcmp(name, "data") || !strcmp(name, "feature_store.yaml")))
            continue;
        if (ignored(w, crel, name))
            continue;
        struct stat st;
        if (stat(cabs, &st) != 0)
            continue; /* dangling symlink: not a definition file */
        if (S_ISDIR(st.st_mode)) {
            rc = walk_dir(w, crel, depth + 1);
        } else if (S_ISREG(st.st_mode) && has_yaml_ext(name)) {
            if (w->n_files >= MAX_FILES) {
                rc = ldr_err_setf(w->err, LDR_ELIMIT, "more than %d definition files", MAX_FILES);
                break;
            }
            if (w->n_files == w->cap_files) {
                w->cap_files = w->cap_files ? w->cap_files * 2 : 16;
                w->files = ldr_xreallocarray(w->files, w->cap_files, sizeof *w->files);
            }
            w->files[w->n_files++] = ldr_xstrdup(crel);
        }
    }
    for (size_t i = 0; i < n; i++)
        ldr_free(names[i]);
    ldr_free(names);
    return rc;
}

static void load_ignore(walk *w)
{
    char *path = ldr_arena_sprintf(&w->a, "%s/.larderignore", w->cfg->repo_dir);
    char *data;
    size_t len;
    ldr_err e;
    if (ldr__read_file(path, 1u << 20, &data, &len, &e) != LDR_OK)
        return; /* absent (or unreadable): nothing ignored */
    char *save = data;
    while (save && *save) {
        char *nl = strchr(save, '\n');
        if (nl)
            *nl = '\0';
        char *line = save;
        save = nl ? nl + 1 : NULL;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        if (line[0] == '/')
            line++; /* anchored at the root: patterns are relative to it anyway */
        l = strlen(line);
        if (l && line[l - 1] == '/')
            line[--l] = '\0'; /* "dir/" ignores the directory */
        if (!l)
            continue;
        w->patterns = ldr_xreallocarray(w->patterns, w->n_patterns + 1, sizeof *w->patterns);
        w->patterns[w->n_patterns++] = ldr_xstrdup(line);
    }
    ldr_free(data);
}

ldr_code ldr_defs_load_repo(ldr_defs *defs, const ldr_config *cfg, ldr_diags *diags, ldr_err *err)
{
    walk w = {.cfg = cfg, .err = err};
    ldr_arena_init(&w.a, 8192);
    load_ignore(&w);
    ldr_code rc = walk_dir(&w, "", 0);
    for (size_t i = 0; i < w.n_files && rc == LDR_OK; i++) {
        char *abs = ldr_arena_sprintf(&w.a, "%s/%s", cfg->repo_dir, w.files[i]);
        char *data;
        size_t len;
        rc = ldr__read_file(abs, LDR_DEFS_MAX_FILE_BYTES, &data, &len, err);
        if (rc == LDR_ELIMIT) {
            ldr_loc l = {.file = w.files[i]};
            ldr_diags_addf(diags, &l, "file is larger than the %u MiB limit for definition files",
                           LDR_DEFS_MAX_FILE_BYTES >> 20);
            rc = LDR_OK;
            continue;
        }
        if (rc != LDR_OK)
            break;
        (void)ldr_defs_parse(defs, w.files[i], data, len, diags);
        ldr_free(data);
    }
    if (rc == LDR_OK)
        (void)ldr_defs_validate(defs, cfg, diags);
    for (size_t i = 0; i < w.n_files; i++)
        ldr_free(w.files[i]);
    ldr_free(w.files);
    for (size_t i = 0; i < w.n_patterns; i++)
        ldr_free(w.patterns[i]);
    ldr_free(w.patterns);
    ldr_arena_fini(&w.a);
    if (rc != LDR_OK)
        return rc;
    if (diags->n) {
        ldr_diags_sort(diags);
        return ldr_err_setf(err, LDR_ECONFIG, "%s", diags->items[0]);
    }
    return LDR_OK;
}
