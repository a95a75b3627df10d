/*
 * alloc.c: allocation wrappers that abort on out-of-memory. The abort is the
 * policy, not an accident: a half-served request after a failed malloc is
 * worse than a worker the master respawns.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"

static void
alloc_oom(size_t size)
{
    fprintf(stderr, "fluxgate: out of memory allocating %zu bytes\n", size);
    abort();
}

void *
fg_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        alloc_oom(size);
    }
    return p;
}

void *
fg_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL) {
        alloc_oom(count * size);
    }
    return p;
}

void *
fg_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL) {
        alloc_oom(size);
    }
    return q;
}

char *
fg_xstrdup(const char *s)
{
    return fg_xstrndup(s, strlen(s));
}

char *
fg_xstrndup(const char *s, size_t n)
{
    char *p = fg_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
