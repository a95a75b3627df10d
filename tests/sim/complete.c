/*
 * complete.c: fg-sim's answer to the legacy POST /v1/completions, as a
 * canned plan.
 *
 * "prompt" is a string, an array of strings, an array of token ids (one
 * prompt) or an array of arrays of token ids; each prompt gets n choices
 * (index = prompt × n + j), at most FG_SIM_MAX_CHOICES in all (the sim's
 * bound). A choice's text continues its prompt as rule 1 of plan.c
 * echoes: the prompt's words as tokens " word", repeated, max_tokens
 * (default 16; 0 allowed) of them, finish_reason "length", or cut before
 * the first "stop" string with "stop"; a token prompt has no words and
 * continues " sim". "echo" puts the prompt text first (a token prompt's
 * text is ""). "suffix" (a string) is read and billed, not written, as
 * OpenAI does for models without insertion. "best_of" (n to 20) is
 * accepted; with stream it must be 1.
 *
 * "logprobs" (0 to FG_SIM_MAX_LEGACY_LOGPROBS) gives each choice the
 * legacy object {tokens, token_logprobs, top_logprobs, text_offset}: with
 * echo the prompt's tokens first (each a run of white space and the word
 * after it; the first one's logprob and top_logprobs null), then the
 * completion's; top_logprobs maps the token and logprobs - 1
 * alternatives to their logprobs (fg_sim_logprob()); text_offset counts
 * code points from the start of the choice's text.
 *
 * usage: prompt_tokens sums each prompt's tokens (count.h, "tok-" tags
 * apply; a token prompt its length) and its suffix's; completion_tokens
 * the tokens of every choice. A stream sends, for each step, every choice
 * that still has a token ({"text", "index", "logprobs", "finish_reason":
 * null}; with echo, the prompt first, in the head), then each choice's
 * finish chunk (text ""), the usage chunk (choices []) when
 * stream_options.include_usage, and [DONE]; chunks then carry "usage":
 * null. Every chunk is a "text_completion" object with one id.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/wire/utf8.h"
#include "tests/sim/plan.h"
#include "tests/sim/sim.h"

#define COMPLETE_MAX_BEST_OF 20

typedef struct {
    char        *prompt;        /* owned: the prompt's text ("" for ids) */
    size_t       prompt_len;
    size_t       n_echo;        /* echoed prompt tokens (with echo) */
    size_t      *echo_end;      /* owned: their end offsets */
    fg_sim_plan_t text;         /* its completion (rule 1 of plan.c) */
} complete_prompt_t;

static int complete_check(json_t *body, json_t **prompts, char *err,
    size_t err_size);
static void complete_echo_split(complete_prompt_t *cp);
static json_t *complete_logprobs(const complete_prompt_t *cp, int is_echo,
    size_t base, unsigned k, size_t from, size_t to);
static void complete_chunk(struct evbuffer *out, json_t *head,
    json_t *choice, int has_usage);

int
fg_sim_complete_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size)
{
    json_t *prompts = NULL, *one, *v, *head, *reply, *choices, *choice;
    json_t *stop, *usage;
    fg_sim_counting_t counting;
    complete_prompt_t *cps = NULL;
    struct evbuffer *out;
    const char *model;
    size_t i, n_prompts, limit = FG_SIM_DEFAULT_TOKENS, step, steps = 0;
    size_t suffix_tokens = 0;
    unsigned n = 1, k = 0, c;
    int is_echo, has_lp = 0, rc = -1;
    char id[64];

    if (complete_check(body, &prompts, err, err_size) != 0) {
        return -1;
    }
    model = json_string_value(json_object_get(body, "model"));
    if (fg_sim_counting_for_model(&counting, toks, model, err, err_size)
        != 0)
    {
        goto done;
    }
    if (json_is_integer(v = json_object_get(body, "n"))) {
        n = (unsigned) json_integer_value(v);
    }
    if (json_is_integer(v = json_object_get(body, "max_tokens"))) {
        limit = (size_t) json_integer_value(v);
    }
    if (json_is_integer(v = json_object_get(body, "logprobs"))) {
        has_lp = 1;
        k = (unsigned) json_integer_value(v);
    }
    n_prompts = json_array_size(prompts);
    if (n_prompts * n > FG_SIM_MAX_CHOICES) {
        snprintf(err, err_size, "%zu prompts times n = %u are more than the "
                 "simulator's %d choices", n_prompts, n, FG_SIM_MAX_CHOICES);
        goto done;
    }
    is_echo = json_is_true(json_object_get(body, "echo"));
    stop = json_object_get(body, "stop");
    v = json_object_get(body, "suffix");
    if (json_is_string(v)) {
        suffix_tokens = (size_t) fg_sim_count_text(&counting,
            json_string_value(v), json_string_length(v));
    }

    plan->seq = seq;
    plan->id_prefix = "cmpl-sim-";
    plan->created_s = created_s;
    plan->model = fg_xstrdup(model);
    plan->is_stream = json_is_true(json_object_get(body, "stream"));
    plan->has_usage = plan->is_stream && json_is_true(json_object_get(
        json_object_get(body, "stream_options"), "include_usage"));
    plan->n_choices = (unsigned) (n_prompts * n);
    plan->finish_reason = "length";

    cps = fg_xcalloc(n_prompts, sizeof(*cps));
    json_array_foreach(prompts, i, one) {
        complete_prompt_t *cp = &cps[i];

        if (json_is_string(one)) {
            cp->prompt_len = json_string_length(one);
            cp->prompt = fg_xstrndup(json_string_value(one), cp->prompt_len);
            plan->prompt_tokens += (uint64_t) fg_sim_count_text(&counting,
                cp->prompt, cp->prompt_len);
        } else {
            cp->prompt = fg_xstrdup("");
            plan->prompt_tokens += json_array_size(one);
        }
        plan->prompt_tokens += suffix_tokens;
        if (is_echo) {
            complete_echo_split(cp);
        }
        if (limit > 0) {
            fg_sim_plan_echo(&cp->text, "", cp->prompt, cp->prompt_len,
                             limit, 1, stop);
        } else {
            cp->text.text = fg_xstrdup("");
            cp->text.finish_reason = "length";
        }
        plan->completion_tokens += (uint64_t) cp->text.n_pieces * n;
        if (cp->text.n_pieces > steps) {
            steps = cp->text.n_pieces;
        }
    }

    snprintf(id, sizeof(id), "cmpl-sim-%llu", (unsigned long long) seq);
    head = json_pack("{ss ss sI ss ss}", "id", id, "object",
                     "text_completion", "created", (json_int_t) created_s,
                     "model", model, "system_fingerprint", "fg-sim");
    usage = json_pack("{sI sI sI}", "prompt_tokens",
                      (json_int_t) plan->prompt_tokens, "completion_tokens",
                      (json_int_t) plan->completion_tokens, "total_tokens",
                      (json_int_t) (plan->prompt_tokens
                                    + plan->completion_tokens));
    out = fg_sim_evbuffer_new();

    if (!plan->is_stream) {
        choices = json_array();
        for (c = 0; c < plan->n_choices; c++) {
            complete_prompt_t *cp = &cps[c / n];
            size_t tlen = cp->text.n_pieces
                          ? cp->text.piece_end[cp->text.n_pieces - 1] : 0;
            char *text = fg_xmalloc(cp->prompt_len + tlen + 1);
            size_t len = 0;

            if (is_echo) {
                memcpy(text, cp->prompt, cp->prompt_len);
                len = cp->prompt_len;
            }
            memcpy(text + len, cp->text.text, tlen);
            len += tlen;
            json_array_append_new(choices, json_pack(
                "{ss% sI so ss}", "text", text, len, "index", (json_int_t) c,
                "logprobs", has_lp ? complete_logprobs(cp, is_echo, 0, k, 0,
                                                       cp->text.n_pieces)
                                   : json_null(),
                "finish_reason", cp->text.finish_reason));
            free(text);
        }
        reply = json_deep_copy(head);
        json_object_set_new(reply, "choices", choices);
        json_object_set(reply, "usage", usage);
        fg_sim_json_add(out, reply);
        json_decref(reply);
    } else {
        /* The head: with echo, each choice's prompt. */
        for (c = 0; is_echo && c < plan->n_choices; c++) {
            complete_prompt_t *cp = &cps[c / n];

            choice = json_pack("{ss% sI so sn}", "text", cp->prompt,
                cp->prompt_len, "index", (json_int_t) c, "logprobs",
                has_lp ? complete_logprobs(cp, 1, 0, k, 0, 0) : json_null(),
                "finish_reason");
            complete_chunk(out, head, choice, plan->has_usage);
        }
        plan->canned_head_end = evbuffer_get_length(out);
        plan->piece_end = fg_xmalloc((steps + 1) * sizeof(size_t));
        for (step = 0; step < steps; step++) {
            for (c = 0; c < plan->n_choices; c++) {
                complete_prompt_t *cp = &cps[c / n];
                size_t start, base;

                if (step >= cp->text.n_pieces) {
                    continue;
                }
                start = step == 0 ? 0 : cp->text.piece_end[step - 1];
                base = is_echo ? fg_utf8_count((const unsigned char *)
                                               cp->prompt, cp->prompt_len)
                               : 0;
                choice = json_pack("{ss% sI so sn}", "text",
                    cp->text.text + start, cp->text.piece_end[step] - start,
                    "index", (json_int_t) c, "logprobs",
                    has_lp ? complete_logprobs(cp, 0, base, k, step, step + 1)
                           : json_null(),
                    "finish_reason");
                complete_chunk(out, head, choice, plan->has_usage);
            }
            plan->piece_end[step] = evbuffer_get_length(out);
        }
        plan->n_pieces = steps;
        for (c = 0; c < plan->n_choices; c++) {
            choice = json_pack("{ss sI sn ss}", "text", "", "index",
                               (json_int_t) c, "logprobs", "finish_reason",
                               cps[c / n].text.finish_reason);
            complete_chunk(out, head, choice, plan->has_usage);
        }
        if (plan->has_usage) {
            reply = json_deep_copy(head);
            json_object_set_new(reply, "choices", json_array());
            json_object_set(reply, "usage", usage);
            evbuffer_add(out, "data: ", 6);
            fg_sim_json_add(out, reply);
            evbuffer_add(out, "\n\n", 2);
            json_decref(reply);
        }
        evbuffer_add_printf(out, "data: [DONE]\n\n");
    }
    json_decref(head);
    json_decref(usage);
    fg_sim_plan_can(plan, out);
    rc = 0;

done:
    for (i = 0; cps != NULL && i < json_array_size(prompts); i++) {
        free(cps[i].prompt);
        free(cps[i].echo_end);
        fg_sim_plan_cleanup(&cps[i].text);
    }
    free(cps);
    json_decref(prompts);
    return rc;
}

/*
 * Checks @body as OpenAI does and puts its prompts in a new array (each a
 * string or an array of ids). Returns 0, or -1 with a message in @err.
 */
static int
complete_check(json_t *body, json_t **prompts, char *err, size_t err_size)
{
    json_t *v, *p, *item, *id;
    json_int_t n = 1, best_of;
    size_t i, j;
    int kind = 0;

    if (fg_sim_plan_model(body, err, err_size) == NULL) {
        return -1;
    }
    p = json_object_get(body, "prompt");
    if (json_is_string(p)) {
        *prompts = json_pack("[O]", p);
    } else if (json_is_array(p) && json_array_size(p) > 0) {
        json_array_foreach(p, i, item) {
            int k = json_is_string(item) ? 1 : json_is_integer(item) ? 2
                    : json_is_array(item) ? 3 : 0;

            if (k == 0 || (kind != 0 && k != kind)
                || (k == 2 && json_integer_value(item) < 0))
            {
                goto bad_prompt;
            }
            kind = k;
            json_array_foreach(item, j, id) {
                if (!json_is_integer(id) || json_integer_value(id) < 0) {
                    goto bad_prompt;
                }
            }
        }
        *prompts = kind == 2 ? json_pack("[O]", p) : json_incref(p);
    } else {
        goto bad_prompt;
    }

    v = json_object_get(body, "n");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1
            || json_integer_value(v) > FG_SIM_MAX_CHOICES)
        {
            snprintf(err, err_size, "'n' must be an integer from 1 to %d",
                     FG_SIM_MAX_CHOICES);
            goto bad;
        }
        n = json_integer_value(v);
    }
    v = json_object_get(body, "best_of");
    if (v != NULL && !json_is_null(v)) {
        best_of = json_is_integer(v) ? json_integer_value(v) : 0;
        if (best_of < n || best_of > COMPLETE_MAX_BEST_OF) {
            snprintf(err, err_size, "'best_of' must be an integer from n to "
                     "%d", COMPLETE_MAX_BEST_OF);
            goto bad;
        }
        if (best_of > 1 && json_is_true(json_object_get(body, "stream"))) {
            snprintf(err, err_size, "Cannot stream results with best_of "
                     "greater than 1");
            goto bad;
        }
    }
    v = json_object_get(body, "max_tokens");
    if (v != NULL && !json_is_null(v)
        && (!json_is_integer(v) || json_integer_value(v) < 0))
    {
        snprintf(err, err_size, "'max_tokens' must be a non-negative "
                 "integer");
        goto bad;
    }
    v = json_object_get(body, "logprobs");
    if (v != NULL && !json_is_null(v)
        && (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) > FG_SIM_MAX_LEGACY_LOGPROBS))
    {
        snprintf(err, err_size, "'logprobs' must be an integer from 0 to %d",
                 FG_SIM_MAX_LEGACY_LOGPROBS);
        goto bad;
    }
    v = json_object_get(body, "suffix");
    if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
        snprintf(err, err_size, "'suffix' must be a string");
        goto bad;
    }
    v = json_object_get(body, "echo");
    if (v != NULL && !json_is_null(v) && !json_is_boolean(v)) {
        snprintf(err, err_size, "'echo' must be a boolean");
        goto bad;
    }
    return 0;

bad_prompt:
    snprintf(err, err_size, "'prompt' must be a string, an array of strings, "
             "an array of tokens or an array of token arrays");
    return -1;
bad:
    json_decref(*prompts);
    *prompts = NULL;
    return -1;
}

/* Cuts the prompt into its echo tokens: white space, then a word. */
static void
complete_echo_split(complete_prompt_t *cp)
{
    size_t i = 0, cap = 0;
    const char *s = cp->prompt;

    while (i < cp->prompt_len) {
        while (i < cp->prompt_len && strchr(" \t\n\r\f\v", s[i]) != NULL
               && s[i] != '\0')
        {
            i++;
        }
        while (i < cp->prompt_len && (strchr(" \t\n\r\f\v", s[i]) == NULL
                                      || s[i] == '\0'))
        {
            i++;
        }
        if (cp->n_echo == cap) {
            cap = cap ? cap * 2 : 16;
            cp->echo_end = fg_xrealloc(cp->echo_end, cap * sizeof(size_t));
        }
        cp->echo_end[cp->n_echo++] = i;
    }
}

/*
 * The legacy logprobs of a choice of @cp: its echoed prompt tokens when
 * @is_echo (then @from is 0), then its completion tokens @from..@to-1,
 * whose text starts @base code points into the choice's text.
 */
static json_t *
complete_logprobs(const complete_prompt_t *cp, int is_echo, size_t base,
    unsigned k, size_t from, size_t to)
{
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array();
    json_t *offsets = json_array(), *top;
    size_t i, pos, start, end, offset, n_echo = is_echo ? cp->n_echo : 0;
    const char *text, *alt;
    unsigned r;

    /* Offsets count from the choice's start: the echo, if any, first. */
    offset = is_echo ? 0 : base + (from == 0 ? 0 : fg_utf8_count(
        (const unsigned char *) cp->text.text, cp->text.piece_end[from - 1]));
    for (i = 0; i < n_echo + (to - from); i++) {
        if (i < n_echo) {
            text = cp->prompt;
            start = i == 0 ? 0 : cp->echo_end[i - 1];
            end = cp->echo_end[i];
            pos = i;
        } else {
            pos = from + i - n_echo;
            text = cp->text.text;
            start = pos == 0 ? 0 : cp->text.piece_end[pos - 1];
            end = cp->text.piece_end[pos];
            pos += cp->n_echo;
        }
        json_array_append_new(tokens, json_stringn(text + start,
                                                   end - start));
        json_array_append_new(offsets, json_integer((json_int_t) offset));
        offset += fg_utf8_count((const unsigned char *) text + start,
                                end - start);
        if (i == 0 && i < n_echo) {
            json_array_append_new(lps, json_null());
            json_array_append_new(tops, json_null());
            continue;
        }
        json_array_append_new(lps, json_real(fg_sim_logprob(
            text + start, end - start, pos, 0, &alt)));
        top = json_object();
        for (r = 0; r < (k > 0 ? k : 1); r++) {
            double lp = fg_sim_logprob(text + start, end - start, pos, r,
                                       &alt);
            char *key = r == 0 ? fg_xstrndup(text + start, end - start)
                               : fg_xstrdup(alt);

            json_object_set_new(top, key, json_real(lp));
            free(key);
        }
        json_array_append_new(tops, top);
    }
    return json_pack("{so so so so}", "tokens", tokens, "token_logprobs",
                     lps, "top_logprobs", tops, "text_offset", offsets);
}

static void
complete_chunk(struct evbuffer *out, json_t *head, json_t *choice,
    int has_usage)
{
    json_t *chunk = json_deep_copy(head);

    json_object_set_new(chunk, "choices", json_pack("[o]", choice));
    if (has_usage) {
        json_object_set_new(chunk, "usage", json_null());
    }
    evbuffer_add(out, "data: ", 6);
    fg_sim_json_add(out, chunk);
    evbuffer_add(out, "\n\n", 2);
    json_decref(chunk);
}
