/*
 * compress.c: "middle-out", a chat request cut down to a prompt size.
 *
 * The plan lives in one array of message records (what each message is,
 * its lower bound where it stands, whether it is kept or gone) and, for
 * truncation, one array of the strings that may be cut. A plan becomes a
 * body by one copy of the client's bytes with the edits applied in order
 * (cp_build); that body is parsed and counted afresh, and only a body
 * whose count fits is ever returned.
 *
 * Why a guess and a check rather than subtraction alone: fg_tokcount_chat
 * counts text exactly while the exact-count budget lasts and bounds the
 * rest (a string past it counts len / max_token_bytes at least, far below
 * its real count). A removed message that was counted exactly gives its
 * share of the budget to the strings after it, which then count for what
 * they really are: the prompt shrinks by less than the removed message's
 * count, and may not shrink at all. Without a tokenizer, or when all the
 * text fits the budget, nothing moves and the guess is exact; otherwise
 * the kept messages are counted again (cp_count), at most about
 * log2(units) times.
 *
 * Truncation measures instead of guessing: each trial is a body built,
 * parsed and counted, a constant number of them per string searched
 * (CP_CUT_PROBES), and the strings cut to their minimum are found by
 * galloping, so that a thousand text parts do not cost a thousand counts.
 *
 * Deliberately not done: no message is rewritten or merged, no content
 * part is removed (an array stays as long as it was), a tool call's
 * arguments are never cut (they are JSON a tool parses).
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/tokens/compress.h"

/* The configuration's ceiling for limits.max_json_depth: the request
 * passed under it, and a compressed body is never deeper. */
#define CP_MAX_DEPTH     1024
/* Trials spent on how much of one string to keep. */
#define CP_CUT_PROBES    8
#define CP_MARKER_LEN    (sizeof(FG_COMPRESS_MARKER) - 1)
/* The least a cut string keeps, in raw bytes, and the least it must be
 * for a cut to shorten it. */
#define CP_KEEP_MIN      (2 * FG_COMPRESS_EDGE_MIN)
#define CP_CUTTABLE      (CP_KEEP_MIN + CP_MARKER_LEN)

typedef struct {
    int       node;         /* the message object */
    int64_t   lower;        /* its lower bound where it stands */
    uint32_t  end;          /* a unit's first message: past its last */
    uint32_t  unit;         /* record k: the first message of the k-th
                               removable unit (a list in the records) */
    uint8_t   kept;         /* never removed */
    uint8_t   no_cut;       /* system, developer: never truncated */
    uint8_t   gone;         /* removed in the current plan */
    uint8_t   cut;          /* one of its strings is cut */
} cp_msg_t;

typedef struct {
    int       node;         /* a string: a content, a text part's text */
    uint32_t  msg;          /* its message's index */
    size_t    inner;        /* raw bytes between its quotes */
    size_t    keep;         /* raw bytes it keeps; inner: whole */
} cp_str_t;

/* A string's place in the order of cutting. */
typedef struct {
    size_t    inner;
    uint32_t  str;          /* index in strs: the body's order */
} cp_rank_t;

/* A body built from a plan, parsed and counted. */
typedef struct {
    char          *body;
    size_t         len;
    fg_tokcount_t  count;
} cp_trial_t;

typedef struct {
    const fg_token_profile_t *p;
    const fg_jdoc_t          *doc;
    size_t                    budget;
    int64_t                   target;
    cp_msg_t                 *msgs;
    size_t                    n;
    size_t                    m;        /* removable units */
    cp_str_t                 *strs;     /* in the body's order */
    cp_rank_t                *longest;  /* strs, longest first */
    size_t                    nstrs;
    cp_trial_t                best;     /* the fitting body found so far */
} cp_t;

static int
cp_role_is(const fg_jdoc_t *doc, int msg, const char *role)
{
    return fg_jdoc_str_eq(doc, fg_jdoc_get(doc, msg, "role"), role);
}

/* An assistant message whose tool results must go or stay with it. */
static int
cp_calls_tools(const fg_jdoc_t *doc, int msg)
{
    int calls = fg_jdoc_get(doc, msg, "tool_calls");

    if (!cp_role_is(doc, msg, "assistant")) {
        return 0;
    }
    return (fg_jdoc_type(doc, calls) == FG_JARRAY
            && doc->nodes[calls].count > 0)
           || fg_jdoc_type(doc, fg_jdoc_get(doc, msg, "function_call"))
              == FG_JOBJECT;
}

/*
 * The records: what is kept, each message's count where it stands, and
 * the removable units. A unit is a message, or an assistant message with
 * tool calls and the tool messages right after it (the API requires a
 * tool result to follow the call it answers, so adjacency is the
 * grouping; matching tool_call_ids could only split a group).
 */
static void
cp_plan_units(cp_t *cp, int messages)
{
    const fg_jdoc_t *doc = cp->doc;
    size_t           i, j, k, budget = cp->budget;
    int              msg, seen_user = 0, kept;
    fg_tokcount_t    c;

    for (i = 0, msg = fg_jdoc_first(doc, messages); msg != FG_JNONE;
         i++, msg = fg_jdoc_next(doc, messages, msg)) {
        cp->msgs[i].node = msg;
        fg_tokcount_message(cp->p, doc, msg, &budget, &c);
        cp->msgs[i].lower = c.prompt.lower;
        if (cp_role_is(doc, msg, "system")
            || cp_role_is(doc, msg, "developer")) {
            cp->msgs[i].kept = cp->msgs[i].no_cut = 1;
        } else if (!seen_user && cp_role_is(doc, msg, "user")) {
            cp->msgs[i].kept = 1;
            seen_user = 1;
        }
    }
    for (i = 0; i < cp->n; i = j) {
        j = i + 1;
        if (cp_calls_tools(doc, cp->msgs[i].node)) {
            while (j < cp->n && cp_role_is(doc, cp->msgs[j].node, "tool")) {
                j++;
            }
        }
        kept = j == cp->n;    /* the last message's unit */
        for (k = i; k < j; k++) {
            kept |= cp->msgs[k].kept;
        }
        cp->msgs[i].end = (uint32_t) j;
        if (kept) {
            for (k = i; k < j; k++) {
                cp->msgs[k].kept = 1;
            }
        } else {
            cp->msgs[cp->m++].unit = (uint32_t) i;
        }
    }
}

/*
 * The @j-th unit to remove of @m, middle-out: the middle one (of an even
 * count, the older of the two), then alternately the older and the newer
 * neighbour of the removed run.
 */
static size_t
cp_middle_out(size_t m, size_t j)
{
    size_t c;

    if (m % 2 == 1) {
        c = m / 2;
        if (j == 0) {
            return c;
        }
        return j % 2 == 1 ? c - (j + 1) / 2 : c + j / 2;
    }
    c = m / 2 - 1;
    return j % 2 == 0 ? c - j / 2 : c + 1 + j / 2;
}

/* The plan with the first @k units of the middle-out order removed. */
static void
cp_remove(cp_t *cp, size_t k)
{
    size_t i, j, u;

    for (i = 0; i < cp->n; i++) {
        cp->msgs[i].gone = 0;
    }
    for (j = 0; j < k; j++) {
        u = cp->msgs[cp_middle_out(cp->m, j)].unit;
        for (i = u; i < cp->msgs[u].end; i++) {
            cp->msgs[i].gone = 1;
        }
    }
}

/* The prompt's lower bound with the plan's messages removed: the kept
 * ones counted in order from a whole budget, as a fresh count would. */
static int64_t
cp_count(cp_t *cp)
{
    size_t        i, budget = cp->budget;
    fg_tokcount_t c;
    int64_t       lower = 0;

    for (i = 0; i < cp->n; i++) {
        if (!cp->msgs[i].gone) {
            fg_tokcount_message(cp->p, cp->doc, cp->msgs[i].node, &budget,
                                &c);
            lower += c.prompt.lower;
        }
    }
    fg_tokcount_chat_rest(cp->p, cp->doc, &budget, &c);
    return lower + c.prompt.lower;
}

/*
 * How many units to remove. The guess: remove middle-out, subtracting
 * each message's count, until the rest fits. The check: count what is
 * left. When the budget moved and it does not fit, bisect between the
 * guess and every unit for the fewest that fit (every unit, when even
 * that does not: truncation follows).
 */
static size_t
cp_units_to_remove(cp_t *cp, int64_t before)
{
    int64_t guess = before;
    size_t  k = 0, u, i, lo, hi, mid;

    while (k < cp->m && guess > cp->target) {
        u = cp->msgs[cp_middle_out(cp->m, k)].unit;
        for (i = u; i < cp->msgs[u].end; i++) {
            guess -= cp->msgs[i].lower;
        }
        k++;
    }
    cp_remove(cp, k);
    if (k == cp->m || cp_count(cp) <= cp->target) {
        return k;
    }
    cp_remove(cp, cp->m);
    if (cp_count(cp) > cp->target) {
        return cp->m;
    }
    /* Removing lo units does not fit, removing hi does. */
    lo = k;
    hi = cp->m;
    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        cp_remove(cp, mid);
        if (cp_count(cp) <= cp->target) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return hi;
}

/* 1 for a UTF-8 continuation byte: never the start of a character. */
static int
cp_is_continuation(unsigned char b)
{
    return (b & 0xc0) == 0x80;
}

/* The raw length of the character at @p: an escape (a surrogate pair's
 * two escapes as one) or a UTF-8 sequence the parser has checked. */
static size_t
cp_char_len(const unsigned char *p)
{
    if (p[0] == '\\') {
        if (p[1] != 'u') {
            return 2;
        }
        /* \uD800 to \uDBFF: the high half of a pair. */
        return (p[2] == 'd' || p[2] == 'D')
               && strchr("89abAB", p[3]) != NULL ? 12 : 6;
    }
    if (p[0] < 0x80) {
        return 1;
    }
    return p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
}

/*
 * Where a cut of string @s to @s->keep raw bytes falls: the head ends at
 * the last character start at or before half the keep, the tail starts
 * at the first one at or after the other half from the end. A string
 * without escapes needs only a step back over continuation bytes; one
 * with escapes is walked from its start, since a backslash seen from
 * behind could be its own escape's second byte.
 */
static void
cp_cut_points(const fg_jdoc_t *doc, const cp_str_t *s, size_t *head_end,
              size_t *tail_start)
{
    const unsigned char *b = (const unsigned char *) doc->buf;
    size_t               from = doc->nodes[s->node].start + 1;
    size_t               to = from + s->inner;
    size_t               h = from + s->keep / 2;
    size_t               t = to - (s->keep - s->keep / 2);
    size_t               p;

    if (!doc->nodes[s->node].has_escapes) {
        while (h > from && cp_is_continuation(b[h])) {
            h--;
        }
        while (t < to && cp_is_continuation(b[t])) {
            t++;
        }
        *head_end = h;
        *tail_start = t;
        return;
    }
    *head_end = from;
    for (p = from; p < to && p < t; p += cp_char_len(b + p)) {
        if (p <= h) {
            *head_end = p;
        }
    }
    *tail_start = p;
}

/* Appends the client's bytes from @from to @to at @out + @len. */
static size_t
cp_copy(char *out, size_t len, const fg_jdoc_t *doc, size_t from, size_t to)
{
    memcpy(out + len, doc->buf + from, to - from);
    return len + (to - from);
}

/*
 * The plan as a body: the client's bytes with each run of removed
 * messages cut from its first element to the next kept one (the commas
 * between go with it; the last message is always kept, so a kept one
 * follows every run) and each cut string's middle replaced by the marker.
 */
static char *
cp_build(const cp_t *cp, size_t *out_len)
{
    const fg_jdoc_t *doc = cp->doc;
    char            *out = fg_xmalloc(doc->len + cp->nstrs * CP_MARKER_LEN
                                      + 1);
    size_t           len = 0, pos = 0, i, s = 0, head, tail;
    const cp_str_t  *str;

    for (i = 0; i < cp->n; i++) {
        if (cp->msgs[i].gone) {
            if (i == 0 || !cp->msgs[i - 1].gone) {
                len = cp_copy(out, len, doc, pos,
                              doc->nodes[cp->msgs[i].node].start);
            }
            pos = doc->nodes[cp->msgs[i + 1].node].start;
            continue;
        }
        for (; s < cp->nstrs && cp->strs[s].msg == i; s++) {
            str = &cp->strs[s];
            if (str->keep >= str->inner) {
                continue;
            }
            cp_cut_points(doc, str, &head, &tail);
            len = cp_copy(out, len, doc, pos, head);
            memcpy(out + len, FG_COMPRESS_MARKER, CP_MARKER_LEN);
            len += CP_MARKER_LEN;
            pos = tail;
        }
    }
    len = cp_copy(out, len, doc, pos, doc->len);
    out[len] = '\0';
    *out_len = len;
    return out;
}

/*
 * Builds, parses and counts the current plan into @t. Returns 1 when it
 * fits (the body is then kept as the best so far), 0 when it does not,
 * -1 when the body does not parse (out of memory: the parser allocates
 * without aborting).
 */
static int
cp_trial(cp_t *cp, cp_trial_t *t)
{
    fg_jdoc_t doc;

    t->body = cp_build(cp, &t->len);
    if (fg_jdoc_parse(&doc, t->body, t->len, CP_MAX_DEPTH, NULL) != FG_OK) {
        free(t->body);
        t->body = NULL;
        return -1;
    }
    fg_tokcount_chat(cp->p, &doc, cp->budget, &t->count);
    fg_jdoc_free(&doc);
    if (t->count.prompt.lower > cp->target) {
        free(t->body);
        t->body = NULL;
        return 0;
    }
    free(cp->best.body);
    cp->best = *t;
    return 1;
}

/*
 * A trial of the current plan as a step of a search over @k: a body that
 * fits moves the fitting end (*@fit, its count *@f_fit) to @k, one that
 * does not the other end. Returns cp_trial()'s result.
 */
static int
cp_probe(cp_t *cp, size_t k, size_t *fit, int64_t *f_fit, size_t *over,
         int64_t *f_over)
{
    cp_trial_t t;
    int        r = cp_trial(cp, &t);

    if (r == 1) {
        *fit = k;
        *f_fit = t.count.prompt.lower;
    } else if (r == 0) {
        *over = k;
        *f_over = t.count.prompt.lower;
    }
    return r;
}

/* A string a cut can shorten, in a message that may be cut. */
static void
cp_add_str(cp_t *cp, size_t i, int node, int count_only)
{
    const fg_jdoc_t *doc = cp->doc;
    cp_str_t        *s;

    if (fg_jdoc_type(doc, node) != FG_JSTRING
        || doc->nodes[node].len - 2 <= CP_CUTTABLE) {
        return;
    }
    if (!count_only) {
        s = &cp->strs[cp->nstrs];
        s->node = node;
        s->msg = (uint32_t) i;
        s->inner = doc->nodes[node].len - 2;
        s->keep = s->inner;
    }
    cp->nstrs++;
}

/* The strings that may be cut, in the body's order: string contents and
 * text parts of the kept messages but system and developer ones. */
static void
cp_find_strs(cp_t *cp, int count_only)
{
    const fg_jdoc_t *doc = cp->doc;
    size_t           i;
    int              content, part;

    cp->nstrs = 0;
    for (i = 0; i < cp->n; i++) {
        if (cp->msgs[i].gone || cp->msgs[i].no_cut) {
            continue;
        }
        content = fg_jdoc_get(doc, cp->msgs[i].node, "content");
        if (fg_jdoc_type(doc, content) == FG_JARRAY) {
            for (part = fg_jdoc_first(doc, content); part != FG_JNONE;
                 part = fg_jdoc_next(doc, content, part)) {
                if (fg_jdoc_str_eq(doc, fg_jdoc_get(doc, part, "type"),
                                   "text")) {
                    cp_add_str(cp, i, fg_jdoc_get(doc, part, "text"),
                               count_only);
                }
            }
        } else {
            cp_add_str(cp, i, content, count_only);
        }
    }
}

/* Longest first; of two as long, the older first. */
static int
cp_longer(const void *a, const void *b)
{
    const cp_rank_t *x = a, *y = b;

    if (x->inner != y->inner) {
        return x->inner > y->inner ? -1 : 1;
    }
    return (x->str > y->str) - (x->str < y->str);
}

/* The plan with the @p longest strings cut to their least. */
static void
cp_cut_longest(cp_t *cp, size_t p)
{
    size_t j;

    for (j = 0; j < cp->nstrs; j++) {
        cp->strs[cp->longest[j].str].keep = j < p ? CP_KEEP_MIN
                                                  : cp->longest[j].inner;
    }
}

/*
 * How much of string @s to keep, between @lo bytes (fits, lower bound
 * @f_lo) and @hi (does not, @f_hi): by interpolation, since a prompt's
 * count follows its bytes nearly in proportion, and by halving after two
 * trials that moved the same end (where the count jumps, as a string
 * comes within the exact-count budget); until what fits is within about
 * 1 % of the target or CP_CUT_PROBES trials are spent. Leaves the best
 * fitting body in cp->best. -1 when a body does not parse.
 */
static int
cp_cut_one(cp_t *cp, cp_str_t *s, size_t lo, int64_t f_lo, size_t hi,
           int64_t f_hi)
{
    int        probes, r, last = -1, halve = 0;
    int64_t    slack = cp->target / 128 + 4;
    size_t     k;

    for (probes = 0; probes < CP_CUT_PROBES && hi - lo > 1
                     && cp->target - f_lo > slack; probes++) {
        if (halve) {
            k = lo + (hi - lo) / 2;
        } else {
            k = lo + (size_t) ((double) (hi - lo)
                               * (double) (cp->target - f_lo)
                               / (double) (f_hi - f_lo));
        }
        k = k <= lo ? lo + 1 : k >= hi ? hi - 1 : k;
        s->keep = k;
        if ((r = cp_probe(cp, k, &lo, &f_lo, &hi, &f_hi)) < 0) {
            return -1;
        }
        halve = r == last;
        last = r;
    }
    s->keep = lo;
    return 0;
}

/*
 * Truncation, with every unit removed: the fewest longest strings cut to
 * their least that fit (galloping 1, 2, 4... then bisecting), then the
 * last of them given back as much as fits. FG_ERR when even every string
 * cut to its least does not fit.
 */
static int
cp_truncate(cp_t *cp, int64_t f_whole)
{
    size_t     lo = 0, hi = 0, next = 1, mid, j;
    int64_t    f_lo = f_whole, f_hi = 0;
    int        r;
    cp_str_t  *s;

    cp_find_strs(cp, 1);
    if (cp->nstrs == 0) {
        return FG_ERR;
    }
    cp->strs = fg_xmalloc(cp->nstrs * sizeof(*cp->strs));
    cp->longest = fg_xmalloc(cp->nstrs * sizeof(*cp->longest));
    cp_find_strs(cp, 0);
    for (j = 0; j < cp->nstrs; j++) {
        cp->longest[j].inner = cp->strs[j].inner;
        cp->longest[j].str = (uint32_t) j;
    }
    qsort(cp->longest, cp->nstrs, sizeof(*cp->longest), cp_longer);

    /* lo strings cut do not fit (count f_lo), hi strings do (f_hi). */
    for (;;) {
        cp_cut_longest(cp, next);
        if ((r = cp_probe(cp, next, &hi, &f_hi, &lo, &f_lo)) < 0) {
            return FG_ERR;
        }
        if (r == 1) {
            break;
        }
        if (next == cp->nstrs) {
            return FG_ERR;
        }
        next = next * 2 < cp->nstrs ? next * 2 : cp->nstrs;
    }
    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;
        cp_cut_longest(cp, mid);
        if (cp_probe(cp, mid, &hi, &f_hi, &lo, &f_lo) < 0) {
            return FG_ERR;
        }
    }
    /* hi strings cut to their least fit, one fewer does not: the hi-th
     * gets back what fits. cp->best is the hi plan's body until a better
     * one is found. */
    cp_cut_longest(cp, hi);
    s = &cp->strs[cp->longest[hi - 1].str];
    if (cp_cut_one(cp, s, CP_KEEP_MIN, f_hi, s->inner, f_lo) < 0) {
        return FG_ERR;
    }
    for (j = 0; j < hi; j++) {
        cp->msgs[cp->strs[cp->longest[j].str].msg].cut = 1;
    }
    return FG_OK;
}

int
fg_compress_chat(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                 size_t exact_budget, int64_t max_prompt_lower,
                 char **out, size_t *out_len, fg_compress_result_t *res)
{
    cp_t          cp;
    fg_tokcount_t before;
    cp_trial_t    t;
    int           messages, r, rc = FG_ERR;
    size_t        i, k;

    memset(&cp, 0, sizeof(cp));
    cp.p = profile;
    cp.doc = doc;
    cp.budget = exact_budget;
    cp.target = max_prompt_lower;
    fg_tokcount_chat(profile, doc, exact_budget, &before);
    messages = fg_jdoc_get(doc, 0, "messages");
    if (fg_jdoc_type(doc, messages) != FG_JARRAY
        || doc->nodes[messages].count == 0) {
        return FG_ERR;
    }
    if (before.prompt.lower <= cp.target) {
        /* Nothing to do; the caller's copy is made all the same. */
        memset(res, 0, sizeof(*res));
        res->prompt_lower = before.prompt.lower;
        res->prompt_upper = before.prompt.upper;
        *out = fg_xstrndup(doc->buf, doc->len);
        *out_len = doc->len;
        return FG_OK;
    }
    cp.n = doc->nodes[messages].count;
    cp.msgs = fg_xcalloc(cp.n, sizeof(*cp.msgs));
    cp_plan_units(&cp, messages);
    k = cp_units_to_remove(&cp, before.prompt.lower);
    cp_remove(&cp, k);
    /* With fewer than every unit removed the count of the kept messages
     * fits, and a fresh count of the body is that same count; only a
     * fitting body leaves all the same. With none removed (there is none
     * to remove) the body is the client's, known not to fit. */
    r = k > 0 ? cp_trial(&cp, &t) : 0;
    if (r == 0 && k == cp.m
        && cp_truncate(&cp, k > 0 ? t.count.prompt.lower
                                  : before.prompt.lower) != FG_OK) {
        goto done;
    }
    if (cp.best.body == NULL) {
        goto done;
    }
    memset(res, 0, sizeof(*res));
    for (i = 0; i < cp.n; i++) {
        res->messages_removed += cp.msgs[i].gone;
        res->messages_truncated += cp.msgs[i].cut;
    }
    res->prompt_lower = cp.best.count.prompt.lower;
    res->prompt_upper = cp.best.count.prompt.upper;
    res->tokens_removed = before.prompt.lower - res->prompt_lower;
    *out = cp.best.body;
    *out_len = cp.best.len;
    cp.best.body = NULL;
    rc = FG_OK;

done:
    free(cp.best.body);
    free(cp.msgs);
    free(cp.strs);
    free(cp.longest);
    return rc;
}
