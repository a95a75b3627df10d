/*
 * fuzz_jedit.c: libFuzzer target for span edits to a JSON text
 * (common/wire/jedit.c).
 *
 * The input is any JSON text; what fg_jdoc_parse() refuses is skipped. A
 * hash of the bytes drives every choice. First round, on the objects of
 * the document (the root and nested ones, in order, at most
 * FUZZ_OBJECTS_MAX, none inside a member already cut): no member, every
 * member or some members cut with fg_jedits_cut_members(); then some
 * value strings outside the cuts replaced by other JSON strings (borrowed
 * literals with fg_jedits_add(), malloc'd copies of the document's
 * strings with fg_jedits_add_owned()), added after the cuts, so out of
 * order; then two insertions of whitespace at one value's start.
 * Checked:
 *  1) the count fg_jedits_cut_members() returns is the members its
 *     callback said to drop;
 *  2) fg_jedits_dup() is NUL-terminated, as long as fg_jedits_length()
 *     says, and fg_jedits_apply() into a buffer of exactly that length
 *     writes the same bytes (ASan sees an overrun);
 *  3) the result parses; each cut object is there with count - cut
 *     members, its kept keys in order; each replaced string is its
 *     replacement; the two insertions stand in the order they were added.
 * Second round, on the list fg_jedits_free() emptied: every string,
 * keys too, replaced by a copy of itself, added last first; the result
 * is the input, byte for byte.
 * A broken property aborts, which libFuzzer reports as a crash.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire/jdoc.h"
#include "common/wire/jedit.h"

#define FUZZ_DEPTH        64
#define FUZZ_OBJECTS_MAX  32
#define FUZZ_STRINGS_MAX  32
#define FUZZ_COPIES_MAX   256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replacements that need no copy: valid JSON strings. */
static const char *const fuzz_literals[] = {
    "\"\"", "\"x\"", "\"caf\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\xe4\xb8\xad\"",
    "\"a \\\"quoted\\\" \\\\ word\"",
};

typedef struct {
    const fg_jdoc_t *doc;
    uint64_t         rnd;
    int              mode;      /* this object: 0 keep all, 1 cut all,
                                   else some */
    uint8_t         *is_key;    /* per node: an object's key */
    uint8_t         *dropped;   /* per node: a key whose member goes */
    uint8_t         *dead;      /* per node: inside a member that goes */
    uint8_t         *edited;    /* per node: a string replaced */
} fuzz_state_t;

typedef struct {
    int     node;
    size_t  cut;
} fuzz_obj_t;

typedef struct {
    int         node;
    const char *text;           /* the replacement, NUL-terminated */
} fuzz_str_t;

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static unsigned
fuzz_rnd(fuzz_state_t *st, unsigned n)
{
    st->rnd = st->rnd * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned) (st->rnd >> 33) % n;
}

static int
fuzz_drop(const fg_jdoc_t *doc, int key, void *arg)
{
    fuzz_state_t *st = arg;
    int           drop;

    fuzz_check(doc == st->doc && st->is_key[key]);
    drop = st->mode == 1 || (st->mode > 1 && fuzz_rnd(st, 2));
    st->dropped[key] = (uint8_t) drop;
    return drop;
}

/* Where byte @x of the source lands in the output: after every edit
 * before it and the insertions at it. */
static size_t
fuzz_map(const fg_jedits_t *l, size_t x)
{
    size_t i, at = x;

    for (i = 0; i < l->n; i++) {
        if (l->e[i].at < x || (l->e[i].at == x && l->e[i].cut == 0)) {
            at = at + l->e[i].len - l->e[i].cut;
        }
    }
    return at;
}

/* The node of @doc starting at byte @at, or FG_JNONE. */
static int
fuzz_node_at(const fg_jdoc_t *doc, size_t at)
{
    uint32_t lo = 0, hi = doc->count, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (doc->nodes[mid].start < at) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < doc->count && doc->nodes[lo].start == at ? (int) lo
                                                         : FG_JNONE;
}

/* The raw texts of nodes @a of @x and @b of @y are the same. */
static int
fuzz_same_raw(const fg_jdoc_t *x, int a, const fg_jdoc_t *y, int b)
{
    return x->nodes[a].len == y->nodes[b].len
           && memcmp(x->buf + x->nodes[a].start, y->buf + y->nodes[b].start,
                     x->nodes[a].len) == 0;
}

/* Property 3 for object @o: its kept keys, in order, and no other. */
static void
fuzz_check_object(const fuzz_state_t *st, const fg_jedits_t *l,
                  const fg_jdoc_t *out, const fuzz_obj_t *o)
{
    const fg_jdoc_t *doc = st->doc;
    int              b = fuzz_node_at(out, fuzz_map(l, doc->nodes[o->node]
                                                           .start));
    int              k, kb;

    fuzz_check(fg_jdoc_type(out, b) == FG_JOBJECT);
    fuzz_check(out->nodes[b].count == doc->nodes[o->node].count - o->cut);
    kb = fg_jdoc_first(out, b);
    for (k = fg_jdoc_first(doc, o->node); k != FG_JNONE;
         k = fg_jdoc_next(doc, o->node, k)) {
        if (!st->dropped[k]) {
            fuzz_check(kb != FG_JNONE && fuzz_same_raw(doc, k, out, kb));
            kb = fg_jdoc_next(out, b, kb);
        }
    }
    fuzz_check(kb == FG_JNONE);
}

/* Cuts members of the objects outside the cuts so far, into @objs. */
static size_t
fuzz_cut_objects(fuzz_state_t *st, fg_jedits_t *l, fuzz_obj_t *objs)
{
    const fg_jdoc_t *doc = st->doc;
    size_t           n = 0, want;
    uint32_t         i, j;
    int              k;

    for (i = 0; i < doc->count && n < FUZZ_OBJECTS_MAX; i++) {
        if (doc->nodes[i].type != FG_JOBJECT || st->dead[i]) {
            continue;
        }
        st->mode = (int) fuzz_rnd(st, 4);
        objs[n].node = (int) i;
        objs[n].cut = fg_jedits_cut_members(l, doc, (int) i, fuzz_drop, st);
        want = 0;
        for (k = fg_jdoc_first(doc, (int) i); k != FG_JNONE;
             k = fg_jdoc_next(doc, (int) i, k)) {
            if (st->dropped[k]) {
                want++;
                for (j = (uint32_t) k; j < doc->nodes[k + 1].end; j++) {
                    st->dead[j] = 1;
                }
            }
        }
        fuzz_check(objs[n].cut == want);
        n++;
    }
    return n;
}

/* Replaces some value strings outside the cuts, into @strs. */
static size_t
fuzz_replace_strings(fuzz_state_t *st, fg_jedits_t *l, fuzz_str_t *strs)
{
    const fg_jdoc_t  *doc = st->doc;
    const fg_jnode_t *src;
    size_t            n = 0, nlit = sizeof(fuzz_literals) / sizeof(char *);
    uint32_t          i;
    unsigned          pick;
    char             *copy;

    for (i = 0; i < doc->count && n < FUZZ_STRINGS_MAX; i++) {
        if (doc->nodes[i].type != FG_JSTRING || st->dead[i] || st->is_key[i]
            || fuzz_rnd(st, 4) != 0) {
            continue;
        }
        pick = fuzz_rnd(st, (unsigned) (nlit + doc->count));
        strs[n].node = (int) i;
        if (pick < nlit) {
            strs[n].text = fuzz_literals[pick];
            fg_jedits_add(l, doc->nodes[i].start, doc->nodes[i].len,
                          fuzz_literals[pick], strlen(fuzz_literals[pick]));
        } else {
            /* A copy of a string of the document, or "" for another
             * node. */
            src = &doc->nodes[pick - nlit];
            copy = src->type == FG_JSTRING ? strndup(doc->buf + src->start,
                                                     src->len)
                                           : strdup("\"\"");
            fuzz_check(copy != NULL);
            strs[n].text = copy;
            fg_jedits_add_owned(l, doc->nodes[i].start, doc->nodes[i].len,
                                copy, strlen(copy));
        }
        st->edited[i] = 1;
        n++;
    }
    return n;
}

/* Two insertions at the start of one value outside the cuts and the
 * replaced strings; its node, or FG_JNONE when there is none. */
static int
fuzz_insert(fuzz_state_t *st, fg_jedits_t *l)
{
    const fg_jdoc_t *doc = st->doc;
    uint32_t         i, from = fuzz_rnd(st, doc->count);

    for (i = from; i < doc->count; i++) {
        if (!st->dead[i] && !st->is_key[i] && !st->edited[i]) {
            fg_jedits_add(l, doc->nodes[i].start, 0, " ", 1);
            fg_jedits_add(l, doc->nodes[i].start, 0, "\n", 1);
            return (int) i;
        }
    }
    return FG_JNONE;
}

/* The first round: cuts, replacements, insertions, checked. */
static void
fuzz_edit(fuzz_state_t *st, fg_jedits_t *l)
{
    const fg_jdoc_t *doc = st->doc;
    fuzz_obj_t       objs[FUZZ_OBJECTS_MAX];
    fuzz_str_t       strs[FUZZ_STRINGS_MAX];
    size_t           nobjs, nstrs, i, len, out_len, at;
    char            *out, *exact;
    fg_jdoc_t        check;
    int              b, ins;

    nobjs = fuzz_cut_objects(st, l, objs);
    nstrs = fuzz_replace_strings(st, l, strs);
    ins = fuzz_insert(st, l);

    len = fg_jedits_length(l, doc->len);
    out = fg_jedits_dup(l, doc->buf, doc->len, &out_len);
    fuzz_check(out_len == len && out[out_len] == '\0');
    exact = malloc(len > 0 ? len : 1);
    fuzz_check(exact != NULL);
    fuzz_check(fg_jedits_apply(l, doc->buf, doc->len, exact) == len);
    fuzz_check(memcmp(exact, out, len) == 0);
    free(exact);

    fuzz_check(fg_jdoc_parse(&check, out, out_len, FUZZ_DEPTH, NULL)
               == FG_OK);
    for (i = 0; i < nobjs; i++) {
        fuzz_check_object(st, l, &check, &objs[i]);
    }
    for (i = 0; i < nstrs; i++) {
        b = fuzz_node_at(&check, fuzz_map(l, doc->nodes[strs[i].node]
                                                 .start));
        fuzz_check(fg_jdoc_type(&check, b) == FG_JSTRING);
        fuzz_check(check.nodes[b].len == strlen(strs[i].text)
                   && memcmp(out + check.nodes[b].start, strs[i].text,
                             check.nodes[b].len) == 0);
    }
    if (ins != FG_JNONE) {
        at = fuzz_map(l, doc->nodes[ins].start);
        fuzz_check(at >= 2 && memcmp(out + at - 2, " \n", 2) == 0);
    }
    fg_jdoc_free(&check);
    free(out);
}

/* The second round: every string replaced by itself, last first. */
static void
fuzz_identity(const fg_jdoc_t *doc, fg_jedits_t *l)
{
    uint32_t i, n = 0;
    size_t   out_len;
    char    *out, *copy;

    for (i = doc->count; i-- > 0 && n < FUZZ_COPIES_MAX;) {
        if (doc->nodes[i].type == FG_JSTRING) {
            copy = strndup(doc->buf + doc->nodes[i].start,
                           doc->nodes[i].len);
            fuzz_check(copy != NULL);
            fg_jedits_add_owned(l, doc->nodes[i].start, doc->nodes[i].len,
                                copy, doc->nodes[i].len);
            n++;
        }
    }
    fuzz_check(fg_jedits_length(l, doc->len) == doc->len);
    out = fg_jedits_dup(l, doc->buf, doc->len, &out_len);
    fuzz_check(out_len == doc->len
               && memcmp(out, doc->buf, out_len) == 0);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_state_t st;
    fg_jedits_t  l = FG_JEDITS_INIT;
    fg_jdoc_t    doc;
    uint8_t     *marks;
    uint32_t     i;
    size_t       j;
    int          k;

    if (fg_jdoc_parse(&doc, (const char *) data, size, FUZZ_DEPTH, NULL)
        != FG_OK) {
        return 0;
    }
    memset(&st, 0, sizeof(st));
    st.doc = &doc;
    st.rnd = 14695981039346656037ull;
    for (j = 0; j < size; j++) {
        st.rnd = (st.rnd ^ data[j]) * 1099511628211ull;
    }
    marks = calloc(4, doc.count);
    fuzz_check(marks != NULL);
    st.is_key = marks;
    st.dropped = marks + doc.count;
    st.dead = marks + 2 * doc.count;
    st.edited = marks + 3 * doc.count;
    for (i = 0; i < doc.count; i++) {
        if (doc.nodes[i].type == FG_JOBJECT) {
            for (k = fg_jdoc_first(&doc, (int) i); k != FG_JNONE;
                 k = fg_jdoc_next(&doc, (int) i, k)) {
                st.is_key[k] = 1;
            }
        }
    }

    fuzz_edit(&st, &l);
    fg_jedits_free(&l);
    fuzz_check(l.e == NULL && l.n == 0 && l.cap == 0);
    fuzz_identity(&doc, &l);
    fg_jedits_free(&l);

    free(marks);
    fg_jdoc_free(&doc);
    return 0;
}
