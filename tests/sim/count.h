#ifndef FG_TESTS_SIM_COUNT_H
#define FG_TESTS_SIM_COUNT_H

/*
 * How fg-sim counts a request's prompt tokens: as the provider it stands
 * for would bill them, by a real tokenizer (OpenAI's BPE), a tokenizer
 * denser than BPE, or the old bytes / 4 rule. plan.c documents the rules;
 * this module applies them, apart from plan.c so a unit test can link it.
 *
 * The tokenizers are loaded once at start and borrowed by every count.
 * Counting allocates only the short lines the tool rules join, and never
 * fails.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/tokens/bpe.h"
#include "common/tokens/media.h"

/* The tokenizer file names under the -T folder. */
#define FG_SIM_O200K_FILE   "o200k_base.json"
#define FG_SIM_CL100K_FILE  "cl100k_base.json"

/* Longest input_audio the sim bills, whatever its size says. */
#define FG_SIM_AUDIO_MAX_MS       3600000
/* Audio tokens a second. */
#define FG_SIM_AUDIO_TOKENS_PER_S 10

typedef enum {
    FG_SIM_TOK_O200K = 0,   /* exact BPE, o200k_base (the default) */
    FG_SIM_TOK_CL100K,      /* exact BPE, cl100k_base */
    FG_SIM_TOK_DENSE,       /* denser than BPE on non-English text */
    FG_SIM_TOK_BYTES4       /* content bytes / 4, the sim's first rule */
} fg_sim_tok_t;

/* What the sim loads at start; owned by main(). */
typedef struct {
    fg_bpe_t     *o200k;
    fg_bpe_t     *cl100k;
    fg_sim_tok_t  default_tok;   /* without a "tok-" tag */
} fg_sim_tokenizers_t;

/* How one request is counted, from the tags in its model name. */
typedef struct {
    fg_sim_tok_t        tok;
    const fg_bpe_t     *bpe;     /* borrowed; NULL unless an exact mode */
    fg_image_formula_t  image;
} fg_sim_counting_t;

/*
 * Loads FG_SIM_O200K_FILE and FG_SIM_CL100K_FILE from @dir into @toks
 * (default_tok is left as it is). Returns 0, or -1 with @err naming the
 * file and what is wrong; @toks then holds nothing.
 */
int fg_sim_tokenizers_load(fg_sim_tokenizers_t *toks, const char *dir,
    fg_err_t *err);

/* Frees what @toks holds; a zeroed @toks is fine. */
void fg_sim_tokenizers_free(fg_sim_tokenizers_t *toks);

/*
 * Reads a mode's name ("o200k", "cl100k", "dense", "bytes4"; @len bytes,
 * no NUL needed). Returns 0, or -1 for any other name.
 */
int fg_sim_tok_parse(const char *name, size_t len, fg_sim_tok_t *tok);

/* The name fg_sim_tok_parse() reads as @tok. */
const char *fg_sim_tok_name(fg_sim_tok_t tok);

/*
 * Decides how a request for @model is counted: "tok-<mode>" picks the
 * mode (else toks->default_tok), "img-mini" and "img-patches" the image
 * formula (else gpt-4o's tiles). Returns 0, or -1 with a client-facing
 * message in @err for an unknown mode or formula: a typo in a test must
 * fail, not count by the default.
 */
int fg_sim_counting_for_model(fg_sim_counting_t *counting,
    const fg_sim_tokenizers_t *toks, const char *model, char *err,
    size_t err_size);

/* The tokens of @len bytes of UTF-8 @text in @counting's mode. */
int64_t fg_sim_count_text(const fg_sim_counting_t *counting,
    const char *text, size_t len);

/*
 * The prompt tokens of @body (a borrowed chat-completions request whose
 * "messages" is an array): the rules at the top of plan.c.
 */
uint64_t fg_sim_count_prompt(const fg_sim_counting_t *counting,
    json_t *body);

#endif
