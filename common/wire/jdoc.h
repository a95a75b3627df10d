#ifndef FG_COMMON_JDOC_H
#define FG_COMMON_JDOC_H

/*
 * A read-only JSON document over the bytes it was parsed from: one strict
 * pass (RFC 8259, UTF-8 checked, duplicate keys refused) builds a flat
 * array of nodes that point back into those bytes. Nothing is copied or
 * decoded until asked for, so a request body can be validated and then
 * forwarded as the very bytes that were checked, with only the edits the
 * gateway makes (model name, stream_options, a lowered max_tokens).
 *
 * It exists because jansson builds a tree of allocated nodes through a
 * per-character stream callback: on the request path that was 40 % of a
 * request's instructions (docs/performance.md). jansson stays for
 * configuration, the admin API and everything off the hot path.
 *
 * Acceptance equals jansson's json_loadb() with JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY: any value at top level, \u0000 refused, integers that
 * do not fit a long long refused, reals that overflow a double refused
 * (tests/unit/test_jdoc.c checks the two side by side).
 *
 * Layout: node 0 is the root. A container's children follow it in order;
 * an object's children alternate key (a string node) and value. Every node
 * knows `end`, the index just past its subtree, so siblings are reached by
 * jumping: the first child of node i is i + 1, the next sibling of c is
 * nodes[c].end. Ownership: the document owns its node array and borrows
 * the bytes, which must outlive it; fg_jdoc_free() releases the nodes.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

typedef enum {
    FG_JNULL = 0,
    FG_JFALSE,
    FG_JTRUE,
    FG_JINT,
    FG_JREAL,
    FG_JSTRING,
    FG_JARRAY,
    FG_JOBJECT
} fg_jtype_t;

#define FG_JNONE (-1)   /* "no such node" */

typedef struct {
    uint8_t   type;         /* fg_jtype_t */
    uint8_t   has_escapes;  /* strings: the raw text holds a backslash */
    uint32_t  start;        /* first byte: a string's opening quote, a
                               container's bracket */
    uint32_t  len;          /* bytes from start, quotes/brackets included */
    uint32_t  end;          /* index of the node after this subtree */
    uint32_t  count;        /* array elements, object members */
    union {
        long long i;        /* FG_JINT */
        double    d;        /* FG_JREAL */
    } num;
} fg_jnode_t;

typedef struct {
    const char *buf;        /* borrowed */
    size_t      len;
    fg_jnode_t *nodes;      /* owned */
    uint32_t    count;
    uint32_t    cap;
} fg_jdoc_t;

/*
 * Parses @len bytes of @buf (no NUL needed) into @doc. @max_depth bounds
 * object/array nesting (the outermost container is depth 1). Returns FG_OK,
 * or FG_ERR with @err (may be NULL) set, exactly as fg_json_load_body():
 * FG_E_EMPTY_BODY, FG_E_NESTING_TOO_DEEP, FG_E_DUPLICATE_KEY (naming the
 * key), FG_E_INVALID_JSON (reason, line and column); a message quotes at
 * most 32 bytes of input, printable ASCII only. On failure @doc holds
 * nothing to free. Never recurses; linear in @len except for duplicate
 * checks (n log n in an object's size).
 */
int fg_jdoc_parse(fg_jdoc_t *doc, const char *buf, size_t len,
                  size_t max_depth, fg_err_t *err);

/* Releases the nodes; @doc may be zeroed or already freed. */
void fg_jdoc_free(fg_jdoc_t *doc);

/* The type of node @i, FG_JNULL for FG_JNONE (absent reads as null). */
fg_jtype_t fg_jdoc_type(const fg_jdoc_t *doc, int i);

/* The value of member @key of object @obj, or FG_JNONE (also when @obj is
 * not an object). Keys are compared decoded. */
int fg_jdoc_get(const fg_jdoc_t *doc, int obj, const char *key);

/* fg_jdoc_get(), with a null member read as missing (FG_JNONE): how the
 * request schema treats an optional field set to null. */
int fg_jdoc_value(const fg_jdoc_t *doc, int obj, const char *key);

/*
 * Iteration: fg_jdoc_first(doc, c) is the first child (an element, or an
 * object's first key) or FG_JNONE; fg_jdoc_next(doc, c, i) the sibling
 * after @i inside container @c (for objects, from key to key).
 * The value of key @k is k + 1.
 */
int fg_jdoc_first(const fg_jdoc_t *doc, int c);
int fg_jdoc_next(const fg_jdoc_t *doc, int c, int i);

/* Decoded byte length of string node @i (0 for a non-string). */
size_t fg_jdoc_str_len(const fg_jdoc_t *doc, int i);

/* 1 when string node @i decodes to exactly @s, else 0. */
int fg_jdoc_str_eq(const fg_jdoc_t *doc, int i, const char *s);

/*
 * Decodes string node @i into @dst (NUL-terminated, cut to @size - 1
 * bytes, possibly inside a UTF-8 sequence) and returns its full decoded
 * length. Strings never hold NUL (\u0000 is refused).
 */
size_t fg_jdoc_str_copy(const fg_jdoc_t *doc, int i, char *dst, size_t size);

/* A malloc'd decoded copy of string node @i (freed by the caller). */
char *fg_jdoc_str_dup(const fg_jdoc_t *doc, int i);

#endif
