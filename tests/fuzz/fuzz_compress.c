/*
 * fuzz_compress.c: libFuzzer target for "middle-out" context compression
 * (common/tokens/compress.c).
 *
 * The input is a chat request body; bytes fg_validate_chat_body() refuses
 * are skipped. Each body is compressed to five targets drawn from its own
 * prompt's lower bound (all of it, one less, a half, a tenth, none),
 * under the default profile (no tokenizer) and under o200k_base, with an
 * exact-count budget picked from a hash of the bytes. Checked, as
 * compress.h states it:
 *  1) a target the request meets gives FG_OK and an identical copy, with
 *     nothing removed;
 *  2) FG_ERR only for a target below the request's count, with nothing
 *     allocated (LSan), *out, *out_len and the result untouched, and the
 *     document counting as before;
 *  3) FG_OK gives a NUL-terminated body of *out_len bytes that validates,
 *     whose fresh count is the one reported and within the target, and
 *     tokens_removed the difference;
 *  4) its messages are the input's in order less whole removable units:
 *     every system and developer message, the first user message and the
 *     last message's unit stay, an assistant's tool calls and the tool
 *     messages after them stay or go together; messages_removed is the
 *     difference in count;
 *  5) a kept message is byte for byte the input's but for cut strings:
 *     only a content string or a text part's text, never in a system or
 *     developer message; a cut keeps a head and a tail of the raw text
 *     with FG_COMPRESS_MARKER between, at character boundaries (an escape
 *     or a surrogate pair whole, a UTF-8 sequence whole), and at least
 *     FG_COMPRESS_EDGE_MIN bytes at each end less the part of a character
 *     the cut would split (at most 11 bytes: a surrogate pair's 12);
 *     messages_truncated is the number of messages changed, and only once
 *     every removable unit is gone;
 *  6) the body is never longer than the input plus the markers inserted.
 * A broken property aborts, which libFuzzer reports as a crash.
 *
 * Not checked here: which units go first (the unit tests pin middle-out
 * by expected bodies), nor that the result is the largest that fits.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/tokens/compress.h"
#include "common/tokens/tokcount.h"
#include "common/wire/jdoc.h"
#include "worker/validate.h"

#include "tests/unit/tokenizer.h"

#define FUZZ_DEPTH       64
#define FUZZ_MSGS_MAX    256
#define FUZZ_MARKER_LEN  (sizeof(FG_COMPRESS_MARKER) - 1)
/* The longest character in raw JSON: a surrogate pair's two escapes. */
#define FUZZ_CHAR_MAX    12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's messages, its removable units, the output's messages. */
typedef struct {
    const fg_jdoc_t *in;
    const fg_jdoc_t *out;
    int              in_msg[FUZZ_MSGS_MAX];
    int              out_msg[FUZZ_MSGS_MAX];
    size_t           n;
    size_t           m;
    size_t           unit[FUZZ_MSGS_MAX + 1];   /* first message of each */
    uint8_t          kept[FUZZ_MSGS_MAX];       /* a unit never removed */
    size_t           units;
    size_t           kept_msgs;                 /* messages in kept units */
} fuzz_cmp_t;

static void
fuzz_check(int ok)
{
    if (!ok) {
        abort();
    }
}

static int
fuzz_role_is(const fg_jdoc_t *doc, int msg, const char *role)
{
    return fg_jdoc_str_eq(doc, fg_jdoc_get(doc, msg, "role"), role);
}

/* An assistant message calling tools: non-empty tool_calls, or a
 * function_call (the validator's reading). */
static int
fuzz_calls_tools(const fg_jdoc_t *doc, int msg)
{
    int calls = fg_jdoc_get(doc, msg, "tool_calls");

    return fuzz_role_is(doc, msg, "assistant")
           && ((fg_jdoc_type(doc, calls) == FG_JARRAY
                && doc->nodes[calls].count > 0)
               || fg_jdoc_type(doc, fg_jdoc_get(doc, msg, "function_call"))
                  == FG_JOBJECT);
}

/* The message nodes of @doc's messages into @msgs; their count. */
static size_t
fuzz_messages(const fg_jdoc_t *doc, int *msgs)
{
    int    arr = fg_jdoc_get(doc, 0, "messages"), msg;
    size_t n = 0;

    for (msg = fg_jdoc_first(doc, arr); msg != FG_JNONE;
         msg = fg_jdoc_next(doc, arr, msg)) {
        msgs[n++] = msg;
    }
    return n;
}

/* The units of compress.h and which are kept, from the header's words. */
static void
fuzz_units(fuzz_cmp_t *c)
{
    const fg_jdoc_t *doc = c->in;
    size_t           i, j, k;
    int              seen_user = 0, kept;

    c->units = 0;
    c->kept_msgs = 0;
    for (i = 0; i < c->n; i = j) {
        j = i + 1;
        if (fuzz_calls_tools(doc, c->in_msg[i])) {
            while (j < c->n && fuzz_role_is(doc, c->in_msg[j], "tool")) {
                j++;
            }
        }
        kept = j == c->n;
        for (k = i; k < j; k++) {
            if (fuzz_role_is(doc, c->in_msg[k], "system")
                || fuzz_role_is(doc, c->in_msg[k], "developer")) {
                kept = 1;
            } else if (!seen_user && fuzz_role_is(doc, c->in_msg[k], "user")) {
                kept = seen_user = 1;
            }
        }
        c->unit[c->units] = i;
        c->kept[c->units++] = (uint8_t) kept;
        c->kept_msgs += kept ? j - i : 0;
    }
    c->unit[c->units] = c->n;
}

/* Raw length of the character at @p of a string's raw text (validated):
 * an escape, a surrogate pair's two, or a UTF-8 sequence. */
static size_t
fuzz_char_len(const unsigned char *p)
{
    char     hex[5];
    unsigned code;

    if (p[0] != '\\') {
        return p[0] < 0x80 ? 1 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
    }
    if (p[1] != 'u') {
        return 2;
    }
    memcpy(hex, p + 2, 4);
    hex[4] = '\0';
    code = (unsigned) strtoul(hex, NULL, 16);
    return code >= 0xd800 && code <= 0xdbff ? 12 : 6;
}

/* 1 when offsets @a and @b of raw string text @s (@len bytes) both fall
 * between characters. */
static int
fuzz_boundaries(const unsigned char *s, size_t len, size_t a, size_t b)
{
    size_t p;
    int    seen_a = 0, seen_b = 0;

    for (p = 0; p <= len; p += fuzz_char_len(s + p)) {
        seen_a |= p == a;
        seen_b |= p == b;
        if (p == len) {
            break;
        }
    }
    return seen_a && seen_b;
}

/* 1 when raw text @o (@olen) is @i (@ilen) with a middle cut as
 * compress.h says: head, marker, tail, between characters, each end at
 * least FG_COMPRESS_EDGE_MIN bytes less one split character. */
static int
fuzz_is_cut(const char *i, size_t ilen, const char *o, size_t olen)
{
    size_t pre = 0, suf = 0, h, t, tail;

    if (olen < FUZZ_MARKER_LEN) {
        return 0;
    }
    while (pre < ilen && pre < olen && i[pre] == o[pre]) {
        pre++;
    }
    while (suf < ilen && suf < olen && i[ilen - 1 - suf] == o[olen - 1 - suf]) {
        suf++;
    }
    /* Every head length the common ends allow, for a marker between. */
    for (h = 0; h + FUZZ_MARKER_LEN <= olen && h <= pre; h++) {
        tail = olen - h - FUZZ_MARKER_LEN;
        if (tail > suf || tail >= ilen - h
            || memcmp(o + h, FG_COMPRESS_MARKER, FUZZ_MARKER_LEN) != 0) {
            continue;
        }
        t = ilen - tail;
        if (h + FUZZ_CHAR_MAX - 1 >= FG_COMPRESS_EDGE_MIN
            && tail + FUZZ_CHAR_MAX - 1 >= FG_COMPRESS_EDGE_MIN
            && fuzz_boundaries((const unsigned char *) i, ilen, h, t)) {
            return 1;
        }
    }
    return 0;
}

/* 1 when string node @s of input message @msg may be cut: its content,
 * or a text part's text, of a message neither system nor developer. */
static int
fuzz_cuttable(const fg_jdoc_t *doc, int msg, int s)
{
    int content = fg_jdoc_get(doc, msg, "content"), part;

    if (fuzz_role_is(doc, msg, "system")
        || fuzz_role_is(doc, msg, "developer")) {
        return 0;
    }
    if (s == content) {
        return 1;
    }
    if (fg_jdoc_type(doc, content) != FG_JARRAY) {
        return 0;
    }
    for (part = fg_jdoc_first(doc, content); part != FG_JNONE;
         part = fg_jdoc_next(doc, content, part)) {
        if (s == fg_jdoc_get(doc, part, "text")
            && fg_jdoc_str_eq(doc, fg_jdoc_get(doc, part, "type"), "text")) {
            return 1;
        }
    }
    return 0;
}

/*
 * 1 when output message node @b is input message @a, byte for byte but
 * for cut strings (*@cuts of them): the same nodes, the same bytes
 * between strings, each string the same or cut.
 */
static int
fuzz_same_message(const fuzz_cmp_t *c, int a, int b, size_t *cuts)
{
    const fg_jnode_t *x = c->in->nodes, *y = c->out->nodes;
    size_t            pi = x[a].start, po = y[b].start, d, gap;
    const char       *bi = c->in->buf, *bo = c->out->buf;
    uint32_t          size = x[a].end - (uint32_t) a;

    *cuts = 0;
    if (y[b].end - (uint32_t) b != size) {
        return 0;
    }
    for (d = 0; d < size; d++) {
        const fg_jnode_t *na = &x[a + (int) d], *nb = &y[b + (int) d];

        if (na->type != nb->type || na->count != nb->count) {
            return 0;
        }
        if (na->type != FG_JSTRING) {
            continue;
        }
        gap = na->start - pi;
        if (nb->start - po != gap || memcmp(bi + pi, bo + po, gap) != 0) {
            return 0;
        }
        if (na->len != nb->len || memcmp(bi + na->start, bo + nb->start,
                                         na->len) != 0) {
            if (!fuzz_cuttable(c->in, a, a + (int) d)
                || !fuzz_is_cut(bi + na->start + 1, na->len - 2,
                                bo + nb->start + 1, nb->len - 2)) {
                return 0;
            }
            (*cuts)++;
        }
        pi = na->start + na->len;
        po = nb->start + nb->len;
    }
    gap = x[a].start + x[a].len - pi;
    return y[b].start + y[b].len - po == gap
           && memcmp(bi + pi, bo + po, gap) == 0;
}

/*
 * Matches the output's messages to the input's: each unit whole or gone,
 * every kept unit there, in order (a table over units and output
 * messages, since equal messages make greedy matching ambiguous). 1 when
 * a match exists; then *@cuts strings and *@changed messages were cut.
 */
static int
fuzz_match(const fuzz_cmp_t *c, size_t *cuts, size_t *changed)
{
    size_t   u, j, k, len, w = c->m + 1, s;
    uint8_t *can = calloc((c->units + 1) * w, 1);
    int      ok;

    fuzz_check(can != NULL);
    can[c->units * w + c->m] = 1;
    for (u = c->units; u-- > 0;) {
        len = c->unit[u + 1] - c->unit[u];
        for (j = 0; j <= c->m; j++) {
            ok = !c->kept[u] && can[(u + 1) * w + j];
            if (!ok && j + len <= c->m && can[(u + 1) * w + j + len]) {
                for (ok = 1, k = 0; ok && k < len; k++) {
                    ok = fuzz_same_message(c, c->in_msg[c->unit[u] + k],
                                           c->out_msg[j + k], &s);
                }
            }
            can[u * w + j] = (uint8_t) ok;
        }
    }
    ok = can[0];
    /* One match, removing where it can, for the cuts' count. */
    *cuts = *changed = 0;
    for (u = 0, j = 0; ok && u < c->units; u++) {
        len = c->unit[u + 1] - c->unit[u];
        if (!c->kept[u] && can[(u + 1) * w + j]) {
            continue;
        }
        for (k = 0; k < len; k++) {
            fuzz_check(fuzz_same_message(c, c->in_msg[c->unit[u] + k],
                                         c->out_msg[j + k], &s));
            *cuts += s;
            *changed += s > 0;
        }
        j += len;
    }
    free(can);
    return ok;
}

/* Properties 3 to 6 of an FG_OK body. */
static void
fuzz_check_result(const fg_token_profile_t *p, const fg_jdoc_t *in,
                  size_t budget, int64_t before, int64_t target,
                  const char *out, size_t out_len,
                  const fg_compress_result_t *res)
{
    fg_jdoc_t     doc;
    fg_tokcount_t c;
    fg_err_t      err;
    fuzz_cmp_t   *cmp;
    size_t        cuts, changed;

    fuzz_check(out != NULL && out[out_len] == '\0'
               && strlen(out) == out_len);
    fuzz_check(fg_validate_chat_body(out, out_len, FUZZ_DEPTH, &doc, NULL,
                                     &err) == FG_OK);
    fg_tokcount_chat(p, &doc, budget, &c);
    fuzz_check(c.prompt.lower == res->prompt_lower
               && c.prompt.upper == res->prompt_upper);
    fuzz_check(res->prompt_lower <= target);
    fuzz_check(res->tokens_removed == before - res->prompt_lower);

    cmp = calloc(1, sizeof(*cmp));
    fuzz_check(cmp != NULL);
    cmp->in = in;
    cmp->out = &doc;
    cmp->n = fuzz_messages(in, cmp->in_msg);
    cmp->m = fuzz_messages(&doc, cmp->out_msg);
    fuzz_units(cmp);
    fuzz_check(cmp->m >= 1);
    fuzz_check(res->messages_removed + (int64_t) cmp->m == (int64_t) cmp->n);
    fuzz_check(fuzz_match(cmp, &cuts, &changed));
    fuzz_check(res->messages_truncated == (int64_t) changed);
    fuzz_check(changed == 0 || cmp->m == cmp->kept_msgs);
    fuzz_check(out_len <= in->len + cuts * FUZZ_MARKER_LEN);
    free(cmp);
    fg_jdoc_free(&doc);
}

/* One compression of @doc to @target, checked. */
static void
fuzz_compress(const fg_token_profile_t *p, const fg_jdoc_t *doc,
              size_t budget, int64_t before, int64_t target)
{
    fg_compress_result_t res, untouched;
    fg_tokcount_t        again;
    char                *out = (char *) "untouched";
    size_t               out_len = 7;

    memset(&res, 0x5a, sizeof(res));
    untouched = res;
    if (fg_compress_chat(p, doc, budget, target, &out, &out_len, &res)
        != FG_OK) {
        fuzz_check(target < before);
        fuzz_check(strcmp(out, "untouched") == 0 && out_len == 7);
        fuzz_check(memcmp(&res, &untouched, sizeof(res)) == 0);
        fg_tokcount_chat(p, doc, budget, &again);
        fuzz_check(again.prompt.lower == before);
        return;
    }
    if (target >= before) {
        fuzz_check(out_len == doc->len
                   && memcmp(out, doc->buf, out_len) == 0);
        fuzz_check(res.messages_removed == 0 && res.messages_truncated == 0
                   && res.tokens_removed == 0 && res.prompt_lower == before);
    }
    fuzz_check_result(p, doc, budget, before, target, out, out_len, &res);
    free(out);
}

/* Every target of one profile and budget. */
static void
fuzz_targets(const fg_token_profile_t *p, const fg_jdoc_t *doc,
             size_t budget)
{
    fg_tokcount_t c;
    int64_t       full;

    fg_tokcount_chat(p, doc, budget, &c);
    full = c.prompt.lower;
    fuzz_compress(p, doc, budget, full, full);
    fuzz_compress(p, doc, budget, full, full - 1);
    fuzz_compress(p, doc, budget, full, full / 2);
    fuzz_compress(p, doc, budget, full, full / 10);
    fuzz_compress(p, doc, budget, full, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t budgets[] = { 64 * 1024, 700, 0 };
    fg_token_profile_t  p;
    fg_jdoc_t           doc;
    fg_err_t            err;
    uint32_t            h = 2166136261u;
    size_t              i, budget;

    if (fg_validate_chat_body((const char *) data, size, FUZZ_DEPTH, &doc,
                              NULL, &err) != FG_OK) {
        return 0;
    }
    if (doc.nodes[fg_jdoc_get(&doc, 0, "messages")].count > FUZZ_MSGS_MAX) {
        fg_jdoc_free(&doc);
        return 0;
    }
    for (i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }
    budget = budgets[h % 3];
    fg_token_profile_default(&p);
    fuzz_targets(&p, &doc, budget);
    p.bpe = fg_test_o200k();
    fuzz_targets(&p, &doc, budget);
    fg_jdoc_free(&doc);
    return 0;
}
