#ifndef FG_TESTS_SIM_PLAN_H
#define FG_TESTS_SIM_PLAN_H

/*
 * The simulator's answer to one chat-completions request, decided in full
 * before the first byte is written: the message text (or the tool call's
 * arguments) cut into tokens, the finish reason and the usage. fg-sim.c
 * decides when each piece goes out; this module only decides what it is and
 * how it is rendered, as one chat.completion object or as SSE chunks.
 *
 * Everything here is a pure function of the request body plus the
 * tokenizers, sequence number and timestamp the caller passes in, so a test
 * can predict every byte. No libevent loop, no clock, no logging.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "tests/sim/count.h"

/* Tokens per choice when the request gives no max_(completion_)tokens. */
#define FG_SIM_DEFAULT_TOKENS     16
/* Largest n accepted (OpenAI's own bound). */
#define FG_SIM_MAX_CHOICES        128
/* A choice's text stops growing at this size; the reply then ends "stop". */
#define FG_SIM_MAX_TEXT_BYTES     (256 * 1024)
/* Longest echoed word; longer words are cut (on a UTF-8 boundary). */
#define FG_SIM_MAX_WORD_BYTES     64
/* Largest token of JSON content or tool arguments. */
#define FG_SIM_MAX_PIECE_BYTES    8
/* ... of the malformed JSON a "badjson-" tag asks for (badjson.h). */
#define FG_SIM_BADJSON_PIECE_BYTES 4
/* Largest top_logprobs (OpenAI's bound). */
#define FG_SIM_MAX_TOP_LOGPROBS   20
/* Largest legacy logprobs (OpenAI's bound). */
#define FG_SIM_MAX_LEGACY_LOGPROBS 5
/* Reasoning tokens per choice of a bare "reasoning" tag, and the most. */
#define FG_SIM_DEFAULT_REASONING  16
#define FG_SIM_MAX_REASONING      1000000

typedef struct {
    uint64_t     seq;               /* ids: chatcmpl-sim-<seq>, call_<seq> */
    int64_t      created_s;         /* unix seconds, same in every chunk */
    char        *model;             /* owned, as the request named it */
    int          is_stream;
    int          has_usage;         /* stream_options.include_usage */
    int          is_tool_call;
    unsigned     n_choices;         /* identical choices, index 0..n-1 */
    char        *text;              /* owned: content or tool arguments */
    size_t      *piece_end;         /* owned: end offset of token i */
    size_t       n_pieces;          /* tokens per choice */
    char        *tool_name;         /* owned; NULL unless is_tool_call */
    char        *reasoning;         /* owned; NULL: no reasoning tag */
    size_t      *reasoning_end;     /* owned: end offset of its token i */
    size_t       n_reasoning;       /* its tokens per choice, sent first */
    const char  *reasoning_field;   /* "reasoning_content" or "reasoning" */
    const char  *finish_reason;     /* static string */
    uint64_t     prompt_tokens;
    uint64_t     completion_tokens; /* summed over all choices, reasoning
                                       included */
    uint64_t     reasoning_tokens;  /* summed over all choices */
    char        *chunk_prefix;      /* owned; streams only: "data: {...[" */
    size_t       chunk_prefix_len;
    int          has_logprobs;      /* logprobs: true */
    unsigned     top_logprobs;      /* 0..FG_SIM_MAX_TOP_LOGPROBS */
    /*
     * A canned plan (embeddings, legacy completions, responses) is
     * rendered ahead: @canned is the non-stream body, or the stream's head
     * (up to canned_head_end), then its n_pieces steps (step i ends at
     * piece_end[i]), then its tail. text and the chat members are unused.
     * A non-stream canned plan may set n_pieces alone (piece_end NULL):
     * call.c then waits for that many tokens before the reply, as chat's.
     */
    char        *canned;            /* owned; NULL: a chat plan */
    size_t       canned_len;
    size_t       canned_head_end;
    const char  *id_prefix;         /* static: "chatcmpl-sim-", ... */
} fg_sim_plan_t;

/*
 * Decides the answer to @body (a borrowed, parsed request body) into @plan,
 * which the caller provides zeroed, counting the prompt with @toks
 * (borrowed). Returns 0, or -1 with a client-facing message in @err (size
 * @err_size) when the body is not a valid request or its model names an
 * unknown tokenizer or image formula;
 * @plan then holds nothing to clean up beyond what fg_sim_plan_cleanup()
 * accepts. Cannot fail otherwise (allocation aborts).
 */
int fg_sim_plan_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size);

/*
 * Makes the bytes of @out (taken: drained and freed) @plan's canned reply;
 * a stream's head end and step ends must already be offsets into them.
 */
void fg_sim_plan_can(fg_sim_plan_t *plan, struct evbuffer *out);

/*
 * Returns the borrowed model name of @body when it is an object with a
 * non-empty "model" string; else NULL with OpenAI's message in @err.
 */
const char *fg_sim_plan_model(json_t *body, char *err, size_t err_size);

/* Frees what @plan owns; accepts a zeroed or partly built plan. */
void fg_sim_plan_cleanup(fg_sim_plan_t *plan);

/* Appends the whole chat.completion object (non-stream reply) to @out. */
void fg_sim_plan_render_reply(const fg_sim_plan_t *plan, struct evbuffer *out);

/* Appends the first SSE event of every choice (role, tool call header). */
void fg_sim_plan_render_head(const fg_sim_plan_t *plan, struct evbuffer *out);

/* A choice's tokens: its reasoning's, then its content's (n_pieces). */
size_t fg_sim_plan_n_tokens(const fg_sim_plan_t *plan);

/*
 * Appends token @i (0 <= @i < fg_sim_plan_n_tokens()) of every choice as
 * SSE events: a reasoning delta for the first n_reasoning, then content
 * (or tool-call arguments).
 */
void fg_sim_plan_render_piece(const fg_sim_plan_t *plan, size_t i,
    struct evbuffer *out);

/* Appends the finish events, the usage event if asked for, and [DONE]. */
void fg_sim_plan_render_tail(const fg_sim_plan_t *plan, struct evbuffer *out);

/*
 * Makes @plan's text the echo of rule 1 (plan.c): @first (no token when
 * ""), then the words of @user (@user_len bytes) as tokens " word",
 * @limit tokens in all (with @has_limit, ending "length"; else ending
 * "stop"), cut before the
 * first of the @stop strings (borrowed; a string, an array or NULL).
 * Sets text, piece_end, n_pieces and finish_reason; @plan is zeroed or a
 * plan whose text is not set yet.
 */
void fg_sim_plan_echo(fg_sim_plan_t *plan, const char *first,
    const char *user, size_t user_len, size_t limit, int has_limit,
    json_t *stop);

/*
 * The log probability fg-sim gives token @pos of a choice (@len bytes at
 * @token): with @rank 0 the chosen token's, in [-0.49, -0.1]; with @rank
 * 1..FG_SIM_MAX_TOP_LOGPROBS that of the rank-th most likely alternative,
 * whose text goes to *@alt (static; never the token itself), each below
 * the one before, all exp() summing under 1. A pure function.
 */
double fg_sim_logprob(const char *token, size_t len, size_t pos,
    unsigned rank, const char **alt);

/*
 * The other endpoints, as canned plans (same contract as
 * fg_sim_plan_build()): embed.c answers POST /v1/embeddings, complete.c
 * POST /v1/completions, respond.c POST /v1/responses; their file comments
 * give the rules.
 */
int fg_sim_embed_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size);
int fg_sim_complete_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size);
int fg_sim_respond_build(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size);

/* Appends @json in compact form to @out. Returns 0, or -1 on failure. */
int fg_sim_json_add(struct evbuffer *out, const json_t *json);

#endif
