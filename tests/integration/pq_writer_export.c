/*
 * pq_writer_export.c -- writes every case of tests/unit/parquet/writer_cases.h into a
 * directory for parquet_writer_duckdb.py: CASE.parquet (Larder's writer) and CASE.json
 * (the expected contents: column names, Larder types and rows in the canonical value form
 * of pqw_value_json), plus manifest.json listing the cases.
 *
 * Usage: pq_writer_export OUTDIR. Exits 1 (with the message on stderr) when a file cannot
 * be written. Single-threaded test tool.
 */
#include <stdio.h>

#include "unit/parquet/writer_cases.h"

static int export_case(const pqw_case *c, const char *dir)
{
    char path[4096], json[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, c->name);
    snprintf(json, sizeof json, "%s/%s.json", dir, c->name);
    ldr_err err;
    ldr_batch *b = NULL;
    if (pqw_write_case(c, path, &b, &err) != LDR_OK) {
        fprintf(stderr, "pq_writer_export: %s: %s\n", c->name, err.msg);
        ldr_batch_free(b);
        return 1;
    }
    FILE *f = fopen(json, "w");
    if (!f) {
        perror(json);
        ldr_batch_free(b);
        return 1;
    }
    fprintf(f, "{\"name\":\"%s\",\"file\":\"%s\",\"statistics\":%s,\"columns\":[", c->name, path,
            c->statistics ? "true" : "false");
    for (size_t i = 0; i < b->n_cols; i++)
        fprintf(f, "%s{\"name\":\"%s\",\"type\":\"%s\"}", i ? "," : "", b->names[i],
                ldr_type_name(b->cols[i]->type));
    fputs("],\"rows\":[", f);
    for (size_t r = 0; r < b->n_rows; r++) {
        fputs(r ? ",\n[" : "\n[", f);
        for (size_t i = 0; i < b->n_cols; i++) {
            if (i)
                fputc(',', f);
            pqw_value_json(f, b->cols[i], r);
        }
        fputc(']', f);
    }
    fputs("]}\n", f);
    int bad = ferror(f) | fclose(f);
    ldr_batch_free(b);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pq_writer_export OUTDIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", argv[1]);
    FILE *m = fopen(path, "w");
    if (!m) {
        perror(path);
        return 1;
    }
    int bad = 0;
    fputs("[", m);
    for (size_t i = 0; i < LDR_ARRAY_LEN(pqw_cases); i++) {
        bad |= export_case(&pqw_cases[i], argv[1]);
        fprintf(m, "%s\"%s\"", i ? "," : "", pqw_cases[i].name);
    }
    fputs("]\n", m);
    bad |= fclose(m);
    return bad ? 1 : 0;
}
