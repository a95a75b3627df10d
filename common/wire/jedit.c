/*
 * jedit.c: span edits to a JSON text, applied in one copy.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/jedit.h"

static void
jedits_insert(fg_jedits_t *l, size_t at, size_t cut, const char *text,
              size_t len, int is_owned)
{
    size_t i;

    if (l->e == NULL) {
        l->e = l->small;
        l->cap = FG_JEDITS_SMALL;
    }
    if (l->n == l->cap) {
        /* Past the list's own room: the heap, doubling. */
        fg_jedit_t *e = fg_xmalloc(2 * l->cap * sizeof(*e));

        memcpy(e, l->e, l->n * sizeof(*e));
        if (l->e != l->small) {
            free(l->e);
        }
        l->e = e;
        l->cap *= 2;
    }
    /* Usually appended in order: the loop then does not run. An
     * insertion goes before a cut that starts where it does, whenever it
     * was added: after it, it would stand inside the cut. */
    i = l->n;
    while (i > 0 && (l->e[i - 1].at > at
                     || (l->e[i - 1].at == at && cut == 0
                         && l->e[i - 1].cut > 0))) {
        l->e[i] = l->e[i - 1];
        i--;
    }
    l->e[i].at = at;
    l->e[i].cut = cut;
    l->e[i].text = text;
    l->e[i].len = len;
    l->e[i].is_owned = is_owned;
    l->n++;
}

void
fg_jedits_add(fg_jedits_t *l, size_t at, size_t cut, const char *text,
              size_t len)
{
    jedits_insert(l, at, cut, text, len, 0);
}

void
fg_jedits_add_owned(fg_jedits_t *l, size_t at, size_t cut, char *text,
                    size_t len)
{
    jedits_insert(l, at, cut, text, len, 1);
}

size_t
fg_jedits_cut_members(fg_jedits_t *l, const fg_jdoc_t *doc, int obj,
                      int (*drop)(const fg_jdoc_t *doc, int key, void *arg),
                      void *arg)
{
    const fg_jnode_t *nd = doc->nodes;
    size_t            kept_end = 0, run_from = 0, n = 0;
    int               k, in_run = 0, has_kept = 0;

    if (fg_jdoc_type(doc, obj) != FG_JOBJECT) {
        return 0;
    }
    for (k = fg_jdoc_first(doc, obj); k != FG_JNONE;
         k = fg_jdoc_next(doc, obj, k)) {
        if (drop(doc, k, arg)) {
            if (!in_run) {
                in_run = 1;
                run_from = nd[k].start;
            }
            n++;
            continue;
        }
        if (in_run) {
            fg_jedits_add(l, run_from, nd[k].start - run_from, "", 0);
            in_run = 0;
        }
        has_kept = 1;
        kept_end = nd[k + 1].start + nd[k + 1].len;
    }
    if (in_run) {
        /* The object's closing brace ends the run. */
        size_t close = nd[obj].start + nd[obj].len - 1;

        if (has_kept) {
            fg_jedits_add(l, kept_end, close - kept_end, "", 0);
        } else {
            fg_jedits_add(l, run_from, close - run_from, "", 0);
        }
    }
    return n;
}

size_t
fg_jedits_length(const fg_jedits_t *l, size_t len)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        len = len - l->e[i].cut + l->e[i].len;
    }
    return len;
}

size_t
fg_jedits_apply(const fg_jedits_t *l, const char *src, size_t len, char *dst)
{
    size_t i, pos = 0, n = 0;

    for (i = 0; i < l->n; i++) {
        const fg_jedit_t *e = &l->e[i];

        if (e->at < pos) {
            abort();     /* overlapping edits: the caller's bug (jedit.h) */
        }
        memcpy(dst + n, src + pos, e->at - pos);
        n += e->at - pos;
        memcpy(dst + n, e->text, e->len);
        n += e->len;
        pos = e->at + e->cut;
    }
    memcpy(dst + n, src + pos, len - pos);
    return n + len - pos;
}

char *
fg_jedits_dup(const fg_jedits_t *l, const char *src, size_t len,
              size_t *out_len)
{
    char *out = fg_xmalloc(fg_jedits_length(l, len) + 1);

    *out_len = fg_jedits_apply(l, src, len, out);
    out[*out_len] = '\0';
    return out;
}

void
fg_jedits_free(fg_jedits_t *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (l->e[i].is_owned) {
            free((char *) l->e[i].text);
        }
    }
    if (l->e != l->small) {
        free(l->e);
    }
    l->e = NULL;
    l->n = l->cap = 0;
}
