#ifndef FG_COMMON_TOKENS_TOKCOUNT_H
#define FG_COMMON_TOKENS_TOKCOUNT_H

/*
 * How many tokens a chat request's prompt is, before any provider says:
 * the one estimator that metering (the reservation covers the upper
 * bound), the context-window check (it rejects only on the lower bound)
 * and, later, the router use. docs/api.md, "Metering", is the reference
 * for every rule below and why each bound holds.
 *
 * A model's token profile says how its prompts are counted: its
 * tokenizer (o200k_base, cl100k_base: the count is exact, lower ==
 * upper, for text, messages and images whose size is read), its image
 * formula and its audio rate. Without a shipped tokenizer the text is
 * bounded: at most one token a UTF-8 byte (a byte-level BPE never makes
 * more tokens than bytes), at least one per max_token_bytes.
 *
 * The chat template's overhead is counted as OpenAI documents it: 3
 * tokens a message, 1 more for a name, 3 to prime the reply; tools by
 * the cookbook's formula (lower) and by their whole JSON text (upper).
 * Without a tokenizer: at most FG_TOKCOUNT_TEMPLATE_MAX tokens of
 * markers a message and for the reply, at least none.
 *
 * Cost: text is counted exactly up to @exact_budget bytes a request
 * (limits.exact_count_bytes); past it, by the proven bounds. Reading an
 * image's size decodes at most a few header bytes (common/tokens/media.h).
 * Allocates only a scratch copy of strings that hold escapes, freed
 * before return.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/tokens/bounds.h"
#include "common/tokens/bpe.h"
#include "common/tokens/media.h"
#include "common/wire/jdoc.h"

/* Markers a chat template may put around a message, at most, when the
 * tokenizer is unknown (Llama 3's is 4 plus the role, ChatML's 3). */
#define FG_TOKCOUNT_TEMPLATE_MAX      8

/* The longest token assumed for a model without a shipped tokenizer
 * (o200k_base's longest is 128 bytes, cl100k_base's 128). */
#define FG_TOKCOUNT_MAX_TOKEN_BYTES   256

/* Audio without a readable duration counts as this long, at most. */
#define FG_TOKCOUNT_AUDIO_MAX_MS      (60LL * 60 * 1000)

typedef struct {
    const fg_bpe_t     *bpe;              /* NULL: no shipped tokenizer;
                                             borrowed from the catalog */
    fg_image_formula_t  image;
    int64_t             audio_tokens_per_second;
    int64_t             max_token_bytes;  /* without @bpe: the lower
                                             bound's divisor */
} fg_token_profile_t;

typedef struct {
    fg_token_bounds_t   prompt;           /* everything below, summed */
    fg_token_bounds_t   text;             /* message text, names, roles,
                                             tool calls */
    fg_token_bounds_t   template;         /* the chat template's markers */
    fg_token_bounds_t   tools;            /* tool definitions, schemas */
    fg_token_bounds_t   images;
    fg_token_bounds_t   audio;
    int64_t             image_count;
    int64_t             exact_bytes;      /* text counted exactly */
    int64_t             bounded_bytes;    /* text past the budget */
} fg_tokcount_t;

/* The default profile: no tokenizer, gpt-4o's image formula, 10 audio
 * tokens a second, FG_TOKCOUNT_MAX_TOKEN_BYTES. */
void fg_token_profile_default(fg_token_profile_t *p);

/*
 * Counts the prompt of the chat-completions request @doc (node 0 is its
 * root, already validated: messages is a non-empty array of objects)
 * under @profile into @out. Never fails: whatever cannot be read is
 * bounded. Worker process, on the request path; bounded work (above).
 */
void fg_tokcount_chat(const fg_token_profile_t *profile,
                      const fg_jdoc_t *doc, size_t exact_budget,
                      fg_tokcount_t *out);

/*
 * The same count in pieces, for a caller that weighs messages one by one
 * (common/tokens/compress.h): fg_tokcount_message() counts message @msg
 * (a node of @doc's "messages"), fg_tokcount_chat_rest() what follows the
 * messages (the reply's priming, tools, a json_schema format). Each fills
 * @out (its prompt the sum of its parts), counts exactly while *@budget
 * lasts and lowers *@budget by the bytes it counted exactly. Called for
 * every message in order and then for the rest, one budget carried from
 * @exact_budget, the pieces add up, part by part, to fg_tokcount_chat():
 * it is that very walk. Never fail.
 */
void fg_tokcount_message(const fg_token_profile_t *profile,
                         const fg_jdoc_t *doc, int msg, size_t *budget,
                         fg_tokcount_t *out);
void fg_tokcount_chat_rest(const fg_token_profile_t *profile,
                           const fg_jdoc_t *doc, size_t *budget,
                           fg_tokcount_t *out);

/*
 * The tokens of the inputs at top-level @member of @doc: an embeddings
 * request's "input", a legacy completion's "prompt" (validated: a string,
 * token ids, or an array of either kind), under @profile into @out (all
 * in text; no template: neither has a chat frame). Token ids count as
 * themselves, exactly. The string at top-level @suffix (NULL: none; a
 * legacy completion's "suffix") follows every input and counts with
 * each. *@largest_lower is the largest input's lower bound (its suffix
 * with it): a model's window holds each input, not their sum. Never
 * fails.
 */
void fg_tokcount_inputs(const fg_token_profile_t *profile,
                        const fg_jdoc_t *doc, const char *member,
                        const char *suffix, size_t exact_budget,
                        fg_tokcount_t *out, int64_t *largest_lower);

#endif
