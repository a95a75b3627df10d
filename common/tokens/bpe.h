#ifndef FG_COMMON_TOKENS_BPE_H
#define FG_COMMON_TOKENS_BPE_H

/*
 * A byte-level BPE tokenizer of OpenAI's kind (o200k_base, cl100k_base):
 * the text is split into pieces by the tokenizer's pre-tokenizer pattern
 * (PCRE2 with JIT, UTF and UCP), and each piece is merged from its bytes
 * by rank. Counting is what the gateway needs; encoding exists for the
 * tests that compare with the reference implementation.
 *
 * A tokenizer is described by a JSON file (etc/tokenizers/NAME.json):
 *   { "name": "o200k_base", "pattern": "<PCRE2 pattern>",
 *     "ranks": "o200k_base.tiktoken.gz",  (beside the JSON file)
 *     "source": "...", "licence": "..." }
 * The ranks file is the tiktoken format (one "<base64 token> <rank>" a
 * line), gzip-compressed. Special tokens are never produced: text that
 * spells one is counted as ordinary text, as the providers do for
 * message content.
 *
 * Proven bounds: every single byte is a token of these vocabularies, so
 * a text of n bytes is at most n tokens; and no token is longer than
 * fg_bpe_max_token_bytes(), so it is at least ceil(n / that) tokens.
 *
 * Ownership: fg_bpe_load() returns a tokenizer the caller frees with
 * fg_bpe_free(). It is immutable after load except for its private
 * scratch (the PCRE2 match data), so one process uses it from one thread
 * at a time; forked workers each have their own copy-on-write copy.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/tokens/bounds.h"

typedef struct fg_bpe_s fg_bpe_t;

/*
 * A piece (one pre-tokenizer match) longer than this is not merged: it
 * is counted by the proven bounds instead, so that no input costs more
 * than O(FG_BPE_PIECE_MAX) merge work a piece.
 */
#define FG_BPE_PIECE_MAX 4096

/*
 * Loads the tokenizer described by the JSON file @path. Returns it, or
 * NULL with @err naming the file and what is wrong.
 */
fg_bpe_t *fg_bpe_load(const char *path, fg_err_t *err);

/* Frees @bpe; NULL is fine. */
void fg_bpe_free(fg_bpe_t *bpe);

/* The tokenizer's name ("o200k_base"). Borrowed. */
const char *fg_bpe_name(const fg_bpe_t *bpe);

/* The longest token of the vocabulary, in bytes. */
size_t fg_bpe_max_token_bytes(const fg_bpe_t *bpe);

/*
 * Counts the tokens of @len bytes of @text. Exact (lower == upper) for
 * valid UTF-8 whose pieces are all at most FG_BPE_PIECE_MAX bytes; a
 * longer piece, text that is not valid UTF-8, or a regex failure (JIT
 * stack, match limit) is counted by the proven bounds for the bytes
 * concerned. Never fails, never allocates after load.
 */
void fg_bpe_count(const fg_bpe_t *bpe, const char *text, size_t len,
                  fg_token_bounds_t *out);

/*
 * Encodes @len bytes of valid UTF-8 @text into token ids. Writes at most
 * @cap ids to @ids and returns how many the text has (which may exceed
 * @cap), or -1 when the text cannot be encoded exactly (see
 * fg_bpe_count()). For tests; allocates nothing.
 */
int64_t fg_bpe_encode(const fg_bpe_t *bpe, const char *text, size_t len,
                      uint32_t *ids, size_t cap);

#endif
