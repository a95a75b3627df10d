/*
 * upstream_body.c: the client's body with the gateway's edits.
 *
 * Each edit replaces a value's span or inserts a member at the start of
 * its object, and the gateway's own fields are cut with their commas:
 * span edits applied in one copy (common/wire/jedit.h, whose list holds a
 * body's edits without allocating). The token field's span comes from
 * validation (fg_chat_request_t),
 * so no lookup is repeated here: as OpenAI reads them,
 * max_completion_tokens wins and max_tokens is the older name; every one
 * the client sent says the lowered value after the edit.
 *
 * The reasoning asked is written per endpoint, so per attempt: one
 * request may reach an endpoint that takes an effort and then, failing
 * over, one that takes a token budget (upstream_body.h has the rules).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/route/router.h"
#include "common/wire/jedit.h"
#include "common/wire/json.h"
#include "worker/upstream_body.h"

#define UPSTREAM_BODY_LIT(s)    s, sizeof(s) - 1

/* Efforts by rank (routereq.h), and a token budget's bounds. */
#define UPSTREAM_BODY_MINIMAL     1
#define UPSTREAM_BODY_LOW         2
#define UPSTREAM_BODY_MEDIUM      3
#define UPSTREAM_BODY_HIGH        4
#define UPSTREAM_BODY_BUDGET_MIN  1024
#define UPSTREAM_BODY_BUDGET_MAX  32000

/* The share of the token limit an effort's budget is, in per mille, by
 * rank ("none" has no budget). */
static const int64_t upstream_body_permille[FG_ROUTEREQ_EFFORTS] = {
    0, 100, 200, 500, 800, 950
};

/* stream_options.include_usage: true, however the client left it. */
static void
upstream_body_ask_usage(const fg_jdoc_t *doc, fg_jedits_t *edits)
{
    size_t top = doc->nodes[0].start + 1;
    int    so, usage;

    so = fg_jdoc_get(doc, 0, "stream_options");
    if (fg_jdoc_type(doc, so) == FG_JOBJECT) {
        usage = fg_jdoc_get(doc, so, "include_usage");
        if (usage != FG_JNONE) {
            fg_jedits_add(edits, doc->nodes[usage].start,
                          doc->nodes[usage].len,
                          UPSTREAM_BODY_LIT("true"));
        } else if (doc->nodes[so].count > 0) {
            fg_jedits_add(edits, doc->nodes[so].start + 1, 0,
                          UPSTREAM_BODY_LIT("\"include_usage\":true,"));
        } else {
            fg_jedits_add(edits, doc->nodes[so].start + 1, 0,
                          UPSTREAM_BODY_LIT("\"include_usage\":true"));
        }
    } else if (so != FG_JNONE) {
        /* "stream_options": null */
        fg_jedits_add(edits, doc->nodes[so].start,
                      doc->nodes[so].len,
                      UPSTREAM_BODY_LIT("{\"include_usage\":true}"));
    } else {
        fg_jedits_add(edits, top, 0,
                      UPSTREAM_BODY_LIT("\"stream_options\":"
                                        "{\"include_usage\":true},"));
    }
}

/* 1 when top-level key @k is one of the gateway's own fields in @arg
 * (an fg_routereq_t): they never reach the provider, and are cut with
 * fg_jedits_cut_members(). The request keeps "model" and "messages", so
 * the object is never left empty. */
static int
upstream_body_is_routing(const fg_jdoc_t *doc, int k, void *arg)
{
    const fg_routereq_t *rr = arg;
    int                  i;

    (void) doc;
    for (i = 0; i < FG_ROUTEREQ_FIELDS; i++) {
        if (rr->member[i] == k + 1) {
            return 1;
        }
    }
    return 0;
}

/* The effort of a budget of @budget tokens within a limit of @limit. */
static int
upstream_body_effort_of(int64_t budget, int64_t limit)
{
    if (budget * 10 >= limit * 8) {
        return UPSTREAM_BODY_HIGH;
    }
    if (budget * 2 >= limit) {
        return UPSTREAM_BODY_MEDIUM;
    }
    if (budget * 5 >= limit) {
        return UPSTREAM_BODY_LOW;
    }
    return UPSTREAM_BODY_MINIMAL;
}

/*
 * The effort of the endpoint's list @accepted nearest to rank @want, ties
 * going up; "none" is no neighbour of a reasoning asked, and is taken
 * only when asked. NULL when the list holds none of them.
 */
static const char *
upstream_body_nearest(const json_t *accepted, int want)
{
    const char *name;
    size_t      i, n = json_array_size(accepted);
    int         rank, d, best = -1, best_d = 0;

    for (i = 0; i < n; i++) {
        name = json_string_value(json_array_get(accepted, i));
        rank = name != NULL ? fg_routereq_effort_rank(name, strlen(name))
                            : -1;
        if (rank < 0 || (rank == 0) != (want == 0)) {
            continue;
        }
        d = rank > want ? rank - want : want - rank;
        if (best < 0 || d < best_d || (d == best_d && rank > best)) {
            best = rank;
            best_d = d;
        }
    }
    return best < 0 ? NULL : fg_routereq_effort_name(best);
}

/*
 * The budget in tokens for effort rank @effort, or the one asked
 * (@asked > 0), within a limit of @limit tokens; 0 when none fits.
 */
static int64_t
upstream_body_budget(int effort, int64_t asked, int64_t limit)
{
    int64_t budget;

    if (asked > 0) {
        budget = asked < limit ? asked : limit - 1;
        /* Cut below the least budget a provider takes: none at all. */
        return asked < limit || budget >= UPSTREAM_BODY_BUDGET_MIN
               ? budget : 0;
    }
    if (effort <= 0 || limit <= UPSTREAM_BODY_BUDGET_MIN) {
        return 0;
    }
    budget = limit * upstream_body_permille[effort] / 1000;
    if (budget < UPSTREAM_BODY_BUDGET_MIN) {
        budget = UPSTREAM_BODY_BUDGET_MIN;
    }
    if (budget > UPSTREAM_BODY_BUDGET_MAX) {
        budget = UPSTREAM_BODY_BUDGET_MAX;
    }
    return budget;
}

const char *
fg_upstream_body_mapped_effort(const fg_jdoc_t *doc, const fg_endpoint_t *e,
                               fg_route_str_t *asked, size_t *len)
{
    const char *sent;
    int         node = fg_jdoc_value(doc, 0, "reasoning_effort");

    if (e->model->reasoning_effort_map == NULL
        || fg_jdoc_type(doc, node) != FG_JSTRING) {
        return NULL;
    }
    *asked = fg_routereq_str(doc, node);
    sent = fg_route_reasoning_effort(e, *asked, len);
    return sent != asked->s ? sent : NULL;
}

/*
 * The reasoning the request asks, for endpoint @in->endpoint: the
 * top-level reasoning_effort rewritten where only the model's map makes
 * it acceptable, or the "reasoning" object (cut with the gateway's
 * fields) written as a member at the start of the body in the endpoint's
 * format. @buf (of @size bytes) holds the text of the edit.
 */
static void
upstream_body_reasoning(const fg_jdoc_t *doc, const fg_chat_request_t *chat,
                        const fg_upstream_body_in_t *in, char *buf,
                        size_t size, fg_jedits_t *edits)
{
    const fg_transformreq_t *xf = &chat->xf;
    const fg_endpoint_t     *e = in->endpoint;
    size_t                   top = doc->nodes[0].start + 1, len;
    const char              *sent;
    fg_route_str_t           asked;
    int64_t                  limit, budget;
    int                      node, effort, k;

    if (!xf->has_reasoning) {
        sent = fg_upstream_body_mapped_effort(doc, e, &asked, &len);
        if (sent != NULL) {
            node = fg_jdoc_value(doc, 0, "reasoning_effort");
            /* A catalog name: plain, nothing to escape. */
            k = snprintf(buf, size, "\"%.*s\"", (int) len, sent);
            fg_jedits_add(edits, doc->nodes[node].start,
                          doc->nodes[node].len, buf, (size_t) k);
        }
        return;
    }
    effort = xf->reasoning_effort.s == NULL
             ? -1 : fg_routereq_effort_rank(xf->reasoning_effort.s,
                                            xf->reasoning_effort.len);
    /* enabled: false (effort "none" is said as "none" where it can be). */
    if (!xf->reasoning_enabled && effort != 0) {
        return;
    }
    if (effort < 0 && xf->reasoning_max_tokens == 0) {
        effort = UPSTREAM_BODY_MEDIUM;
    }
    limit = in->lowered_max_tokens > 0 ? in->lowered_max_tokens
            : chat->max_tokens > 0 ? chat->max_tokens : in->max_output;
    if (limit <= 0) {
        return;
    }
    switch (e->reasoning_format) {
    case FG_REASONING_EFFORT:
        if (effort < 0) {
            effort = upstream_body_effort_of(xf->reasoning_max_tokens, limit);
        }
        sent = upstream_body_nearest(e->reasoning_effort, effort);
        if (sent == NULL) {
            return;
        }
        /* Beside "reasoning" only a null one passes validation: it is
         * replaced, not doubled. */
        node = fg_jdoc_get(doc, 0, "reasoning_effort");
        if (node != FG_JNONE) {
            k = snprintf(buf, size, "\"%s\"", sent);
            fg_jedits_add(edits, doc->nodes[node].start,
                          doc->nodes[node].len, buf, (size_t) k);
            return;
        }
        k = snprintf(buf, size, "\"reasoning_effort\":\"%s\",", sent);
        break;
    case FG_REASONING_THINKING:
        budget = upstream_body_budget(effort, xf->reasoning_max_tokens,
                                      limit);
        if (budget == 0 || fg_jdoc_get(doc, 0, "thinking") != FG_JNONE) {
            return;
        }
        k = snprintf(buf, size, "\"thinking\":{\"type\":\"enabled\","
                     "\"budget_tokens\":%lld},", (long long) budget);
        break;
    case FG_REASONING_THINKING_BUDGET:
        budget = upstream_body_budget(effort, xf->reasoning_max_tokens,
                                      limit);
        if (budget == 0
            || fg_jdoc_get(doc, 0, "enable_thinking") != FG_JNONE
            || fg_jdoc_get(doc, 0, "thinking_budget") != FG_JNONE) {
            return;
        }
        k = snprintf(buf, size, "\"enable_thinking\":true,"
                     "\"thinking_budget\":%lld,", (long long) budget);
        break;
    default:
        return;
    }
    fg_jedits_add(edits, top, 0, buf, (size_t) k);
}

char *
fg_upstream_body(const fg_jdoc_t *doc, const fg_chat_request_t *chat,
                 const fg_upstream_body_in_t *in, size_t *out_len)
{
    const char      *upstream_model = in->endpoint->upstream_id;
    size_t           id_len = strlen(upstream_model), len;
    fg_jedits_t      edits = FG_JEDITS_INIT;
    const fg_span_t *span;
    char            *model, *out, number[48], member[80];
    char             reasoning[128];
    size_t           number_len = 0;
    int              k;

    model = fg_xmalloc(6 * id_len + 2);
    len = fg_json_quote(upstream_model, id_len, model);
    fg_jedits_add_owned(&edits, doc->nodes[chat->model].start,
                        doc->nodes[chat->model].len, model, len);

    if (in->lowered_max_tokens > 0) {
        k = snprintf(number, sizeof(number), "%lld",
                     (long long) in->lowered_max_tokens);
        number_len = (size_t) k;
        if (chat->tokens_field == FG_TOKENS_FIELD_NONE) {
            k = snprintf(member, sizeof(member), "\"%s\":%s,",
                         in->is_legacy ? "max_tokens"
                                       : "max_completion_tokens", number);
            fg_jedits_add(&edits, doc->nodes[0].start + 1, 0, member,
                          (size_t) k);
        }
        span = &chat->max_completion_tokens_span;
        if (span->len > 0) {
            fg_jedits_add(&edits, span->at, span->len, number, number_len);
        }
        span = &chat->max_tokens_span;
        if (span->len > 0) {
            fg_jedits_add(&edits, span->at, span->len, number, number_len);
        }
    }
    if (in->ask_usage) {
        upstream_body_ask_usage(doc, &edits);
    }
    upstream_body_reasoning(doc, chat, in, reasoning, sizeof(reasoning),
                            &edits);
    for (k = 0; k < FG_ROUTEREQ_FIELDS; k++) {
        if (chat->route.member[k] != FG_JNONE) {
            (void) fg_jedits_cut_members(&edits, doc, 0,
                                         upstream_body_is_routing,
                                         (void *) &chat->route);
            break;
        }
    }
    out = fg_jedits_dup(&edits, doc->buf, doc->len, out_len);
    fg_jedits_free(&edits);
    return out;
}
