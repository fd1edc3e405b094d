/*
 * arena.c -- bump allocation for request- and command-scoped memory (STYLE §23).
 *
 * An arena is a singly linked list of chunks; allocation bumps an offset in the head
 * chunk and opens a new chunk when it is full (a request larger than the chunk size gets
 * a chunk of its own). Everything is released at once by ldr_arena_fini. Allocations are
 * 16-byte aligned. Not thread-safe: one arena belongs to one request or command.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

struct ldr_arena_chunk {
    ldr_arena_chunk *next;
    size_t used;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_ALIGN        16u
#define ARENA_DEFAULT_SIZE 8192u

void ldr_arena_init(ldr_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : ARENA_DEFAULT_SIZE;
    a->total = 0;
}

void ldr_arena_fini(ldr_arena *a)
{
    ldr_arena_chunk *c = a->head;
    while (c) {
        ldr_arena_chunk *next = c->next;
        ldr_free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void ldr_arena_reset(ldr_arena *a)
{
    /* Keep the oldest chunk of the default size (the tail of the list); free the rest. */
    ldr_arena_chunk *keep = NULL, *c = a->head;
    while (c) {
        ldr_arena_chunk *next = c->next;
        if (!next && c->cap == a->chunk_size)
            keep = c;
        else
            ldr_free(c);
        c = next;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->total = 0;
}

void *ldr_arena_alloc(ldr_arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    LDR_ASSERT(need >= n);
    ldr_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_size ? need : a->chunk_size;
        LDR_ASSERT(cap <= SIZE_MAX - sizeof *c);
        ldr_arena_chunk *nc = ldr_xmalloc(sizeof *nc + cap);
        nc->used = 0;
        nc->cap = cap;
        if (c && need > a->chunk_size) {
            /* A big one-off block goes behind the head so the head keeps its free room. */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *ldr_arena_calloc(ldr_arena *a, size_t count, size_t size)
{
    LDR_ASSERT(size == 0 || count <= SIZE_MAX / size);
    void *p = ldr_arena_alloc(a, count * size);
    memset(p, 0, count * size);
    return p;
}

char *ldr_arena_strndup(ldr_arena *a, const char *s, size_t len)
{
    char *p = ldr_arena_alloc(a, len + 1);
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *ldr_arena_strdup(ldr_arena *a, const char *s)
{
    return ldr_arena_strndup(a, s, strlen(s));
}

char *ldr_arena_sprintf(ldr_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    LDR_ASSERT(n >= 0);
    char *p = ldr_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}
