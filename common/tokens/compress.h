#ifndef FG_COMMON_TOKENS_COMPRESS_H
#define FG_COMMON_TOKENS_COMPRESS_H

/*
 * "middle-out" context compression (OpenRouter's transform): a chat
 * request whose prompt does not fit is made to fit by removing messages
 * from the middle of the conversation, then, if that is not enough, by
 * cutting the middle out of its longest texts. docs/api.md, "Context
 * compression", is the reference.
 *
 * Kept whole: every system and developer message, the first user message
 * and the last message (with the tool call it answers, when it is a tool
 * result). Everything else is removable, in units: one message, or an
 * assistant message with tool_calls (or a function_call) together with
 * the tool messages that follow it, which answer it.
 *
 * 1) Removal. The removable units, in order, are removed from the middle
 *    outwards: the one nearest the middle of that list first, then its
 *    neighbours alternately, the older first of two equally near. The
 *    removed units are thus always one run in the middle, the oldest and
 *    the most recent turns go last. Each message's lower bound is counted
 *    once where it stands and subtracted as it goes; a count of what is
 *    left checks the guess, because the exact-count budget (tokcount.h)
 *    freed by a removed message passes to text that was only bounded
 *    before, which then counts for more. When the check fails, the
 *    smallest number of units that fits is found by bisection, one count
 *    of the kept messages a step.
 * 2) Truncation, when removing every unit is not enough: the string
 *    contents of the kept messages other than system and developer ones
 *    (a string content, a text part's text; never an image, audio or file
 *    part, a tool call's arguments or a name), longest first: the longest
 *    is cut to the length that fits, found in a few counts; when even
 *    FG_COMPRESS_EDGE_MIN bytes at each end are too much, it keeps those
 *    and the next longest is cut. A cut keeps the head and the tail of
 *    the raw JSON text, in equal parts, with FG_COMPRESS_MARKER between
 *    them, and falls between characters: never inside a UTF-8 sequence
 *    or an escape (a surrogate pair is one character).
 *
 * The body is edited as text (worker/upstream_body.c's manner): a removed
 * message's element is cut with the comma after it, a cut string's middle
 * is replaced by the marker; every other byte stays as the client sent
 * it. Work: a count of the request, one of each message, about
 * log2(units) + 2 counts of the kept messages for the removal and, when
 * strings are cut, about 2 log2(strings) + 10 trials, each a body built,
 * parsed and counted: linear in the body, every count bounded by the
 * exact-count budget. Allocates one record a message, one a cuttable
 * string, and the trials' bodies (one kept at a time).
 */

#include <stddef.h>
#include <stdint.h>

#include "common/tokens/tokcount.h"
#include "common/wire/jdoc.h"

/* What a cut string keeps at least at each end, in raw JSON bytes, less
 * the part of a character the cut would split: it falls between
 * characters, so an end may be up to 11 bytes shorter (a surrogate
 * pair's two escapes are 12 bytes). */
#define FG_COMPRESS_EDGE_MIN 32

/* What replaces a cut string's middle, as JSON text: "\n[…]\n". */
#define FG_COMPRESS_MARKER   "\\n[\xe2\x80\xa6]\\n"

typedef struct {
    int64_t messages_removed;     /* whole messages removed */
    int64_t messages_truncated;   /* messages whose text was cut in the
                                     middle */
    int64_t tokens_removed;       /* prompt lower bound before minus after */
    int64_t prompt_lower;         /* the compressed prompt's bounds
                                     (tokcount.h) */
    int64_t prompt_upper;
} fg_compress_result_t;

/*
 * Compresses the validated chat request @doc so that its prompt's lower
 * bound under @profile (fg_tokcount_chat() with @exact_budget) is
 * <= @max_prompt_lower, as above. FG_OK with *@out a malloc'd
 * NUL-terminated body (the caller frees) of *@out_len bytes, every byte
 * outside the removed messages and the cut strings identical, and @res
 * filled (its bounds are fg_tokcount_chat() of a fresh parse of *@out).
 * A request that fits already comes back as an identical copy with
 * nothing removed (the pipeline calls only when it does not). FG_ERR when
 * it cannot fit: the kept messages alone are too long and nothing is left
 * to cut; nothing is allocated then and @res is untouched.
 * Worker process, on the request path; never blocks.
 */
int fg_compress_chat(const fg_token_profile_t *profile, const fg_jdoc_t *doc,
                     size_t exact_budget, int64_t max_prompt_lower,
                     char **out, size_t *out_len, fg_compress_result_t *res);

#endif
