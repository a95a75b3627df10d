#ifndef FG_COMMON_JEDIT_H
#define FG_COMMON_JEDIT_H

/*
 * Edits to a JSON text by span, applied in one copy: how the gateway
 * changes a body it parsed (common/wire/jdoc.h) without re-serialising
 * it. An edit replaces @cut bytes at @at with @len bytes of @text; the
 * list is kept in order of position (stable: edits at one position apply
 * in the order they were added, except that an insertion, cutting
 * nothing, goes before a cut starting at its position), and edits never
 * overlap (the caller's duty, checked: fg_jedits_apply() aborts on
 * overlapping edits rather than write past its buffer;
 * fg_jedits_cut_members() keeps its own cuts apart).
 *
 * Ownership: an edit's text is borrowed and must outlive the apply,
 * unless it was added with fg_jedits_add_owned(), which takes a malloc'd
 * text and frees it in fg_jedits_free().
 */

#include <stddef.h>

#include "common/wire/jdoc.h"

typedef struct {
    size_t      at;
    size_t      cut;
    const char *text;
    size_t      len;
    int         is_owned;
} fg_jedit_t;

/* Edits a list holds in itself before it allocates: a request body's
 * edits (worker/upstream_body.c) fit, so building one allocates nothing
 * for its list. */
#define FG_JEDITS_SMALL 16

/* A list points into itself: initialise it with FG_JEDITS_INIT where it
 * lives, and never copy one in use. */
typedef struct {
    fg_jedit_t *e;              /* small, or the heap past it */
    size_t      n;
    size_t      cap;
    fg_jedit_t  small[FG_JEDITS_SMALL];
} fg_jedits_t;

#define FG_JEDITS_INIT { .e = NULL }

/* Adds an edit (aborts on out-of-memory, as fg_xmalloc). Edits added in
 * order of position cost O(1) each. */
void fg_jedits_add(fg_jedits_t *l, size_t at, size_t cut, const char *text,
                   size_t len);

/* fg_jedits_add() of a malloc'd @text the list now owns. */
void fg_jedits_add_owned(fg_jedits_t *l, size_t at, size_t cut, char *text,
                         size_t len);

/*
 * Removes the members of object @obj of @doc whose key node @drop says
 * (1: remove), with the commas that separated them: a run of removed
 * members followed by a kept one is cut from the run's first key to the
 * kept member's key; a run at the end, from the value before it to the
 * object's closing brace; when every member goes, from the first key to
 * the closing brace. What remains is valid JSON. Returns how many went.
 */
size_t fg_jedits_cut_members(fg_jedits_t *l, const fg_jdoc_t *doc, int obj,
                             int (*drop)(const fg_jdoc_t *doc, int key,
                                         void *arg),
                             void *arg);

/* The length of @len bytes of source once @l is applied. */
size_t fg_jedits_length(const fg_jedits_t *l, size_t len);

/*
 * Writes @src (@len bytes) with the edits applied to @dst, which holds
 * fg_jedits_length() bytes (a NUL after them is the caller's). Returns
 * the length written.
 */
size_t fg_jedits_apply(const fg_jedits_t *l, const char *src, size_t len,
                       char *dst);

/* A malloc'd, NUL-terminated copy of @src with @l applied; its length in
 * *@out_len. Aborts on out-of-memory. */
char *fg_jedits_dup(const fg_jedits_t *l, const char *src, size_t len,
                    size_t *out_len);

/* Frees the owned texts and the list; @l is empty (reusable) after. */
void fg_jedits_free(fg_jedits_t *l);

#endif
