#ifndef FG_COMMON_ALLOC_H
#define FG_COMMON_ALLOC_H

/*
 * Allocation that cannot fail: on out-of-memory the process writes one line
 * to stderr and aborts (Redis's zmalloc). A worker abort is survivable by
 * design: the master respawns it. Sizes driven by clients are bounded by
 * configured limits before they reach these functions.
 */

#include <stddef.h>

/* Returns owned memory; free with free(). Never returns NULL. */
void *fg_xmalloc(size_t size);
void *fg_xcalloc(size_t count, size_t size);
void *fg_xrealloc(void *p, size_t size);
char *fg_xstrdup(const char *s);
char *fg_xstrndup(const char *s, size_t n);

#endif
