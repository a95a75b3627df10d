#ifndef FG_COMMON_JSONREPAIR_H
#define FG_COMMON_JSONREPAIR_H

/*
 * Repairs the syntax of a model's JSON output: what a JSON-mode reply or a
 * tool call's arguments should have been, written with the mistakes models
 * make. Input that is valid JSON already is left alone (the caller passes
 * its bytes on unchanged); input that needs more than syntax is left alone
 * too.
 *
 * The repairs, each one a FG_JSONREPAIR_* bit:
 *
 *  FENCE          A run of three or more backticks outside the value is a
 *                 markdown fence and is dropped, with the info word right
 *                 after an opening one (```json, ```JSON, ```javascript).
 *                 A value opened inside a fence ends at the closing fence
 *                 where a token is due, as if cut short there.
 *  PROSE          Text before and after the one value is dropped. The
 *                 value is the one object or array found in the text;
 *                 scalars are never looked for in prose. Ambiguity fails:
 *                 two values (a second complete or cut-short object or
 *                 array anywhere in the prose: "[1]" counts), or a value
 *                 that looks like a piece of a larger broken document (the
 *                 text right before it ends in ',' '{' '[' or a quoted
 *                 key's '":', or the text right after it starts with ','
 *                 ':' '}' ']').
 *  CLOSED         Output cut short (max_tokens, a dropped connection): an
 *                 open string gets its closing quote (a half-written
 *                 escape at the cut is dropped), a dangling comma at the
 *                 cut is dropped, a member whose value never came ("key",
 *                 "key": or an unquoted key at the cut) is removed with
 *                 the comma before it, and the open arrays and objects are
 *                 closed innermost first. An unterminated block comment
 *                 runs to the cut.
 *  TRAILING_COMMA One comma before '}' or ']' is dropped ([1,2,] is
 *                 [1,2]); ",," and "[," are not repaired.
 *  SINGLE_QUOTES  'text' becomes "text": a '"' inside it is escaped, \'
 *                 becomes '; \' inside a "string" also becomes '.
 *  UNQUOTED_KEYS  An object key written as an identifier,
 *                 [A-Za-z_$][A-Za-z0-9_$]*, is quoted ({a: 1}).
 *  COMMENTS       // line comments and block comments between tokens are
 *                 dropped (never inside strings: "http://x" is a string).
 *  CONTROL_CHARS  A raw newline, carriage return or tab inside a string
 *                 becomes \n, \r, \t (models write multi-line strings);
 *                 any other raw control character fails.
 *
 * Why syntax only: the repaired text goes to the client as the model's
 * answer (marked repaired), so every value in it must be one the model
 * wrote, byte for byte; a guess would be the gateway's words passed off as
 * the model's. Hence these fail (FG_JSONREPAIR_FAILED), never guessed at:
 *  - a literal cut short or misspelt (tru, nul, True, None, NaN, Infinity,
 *    undefined): which value it was is not known;
 *  - a number cut mid-way (1., 1e, -) and a number that runs into the end
 *    of cut-short input ({"n": 12): 12 may be the first digits of 1234;
 *    a number ended by any byte (space, newline, fence) is whole;
 *  - numbers JSON does not have (+1, .5, 01, 0x1F), bare words as values,
 *    mismatched brackets, a missing comma or colon;
 *  - invalid UTF-8 anywhere in the value, and nesting deeper than
 *    @max_depth;
 *  - anything the strict parser (common/wire/jdoc.h) refuses in the
 *    repaired text: duplicate keys, \u0000, lone surrogates, integers that
 *    do not fit a long long, reals that overflow a double.
 * A cut-short string is closed nonetheless (as the issue asks): a string
 * has no syntax that says where it was meant to end.
 *
 * Prose around the value is told from a broken value by how far a
 * candidate got: an '{' or '[' in the text starts a candidate; one that
 * fails before it has read a string, a ':', a ',' or a closed inner
 * container ("see [docs]", "{name}", "{it's") was prose and the scan goes
 * on from where it failed; one that fails after that was meant as JSON and
 * the repair fails. A candidate still open at the end of the input is
 * closed (CLOSED) only if it got that far; "{" or "[1" alone is prose.
 *
 * Cost: one forward pass over the input, never returning to an earlier
 * byte except the one that made a candidate fail, plus the strict parser
 * twice (the input, then the output). Linear in @len (the parser's
 * duplicate-key check is n log n in one object's size).
 */

#include <stddef.h>

#define FG_JSONREPAIR_FENCE          (1u << 0)  /* ``` or ```json fences */
#define FG_JSONREPAIR_PROSE          (1u << 1)  /* text before/after the one value */
#define FG_JSONREPAIR_CLOSED         (1u << 2)  /* missing ] } " at the end added */
#define FG_JSONREPAIR_TRAILING_COMMA (1u << 3)
#define FG_JSONREPAIR_SINGLE_QUOTES  (1u << 4)
#define FG_JSONREPAIR_UNQUOTED_KEYS  (1u << 5)
#define FG_JSONREPAIR_COMMENTS       (1u << 6)  /* // and block comments */
#define FG_JSONREPAIR_CONTROL_CHARS  (1u << 7)  /* raw \n \r \t in strings */

typedef enum {
    FG_JSONREPAIR_VALID = 0,     /* @in is valid JSON already: nothing allocated */
    FG_JSONREPAIR_REPAIRED = 1,  /* *@out: malloc'd, NUL-terminated, valid JSON; caller frees */
    FG_JSONREPAIR_FAILED = -1    /* not repairable by syntax alone: leave @in as it is */
} fg_jsonrepair_result_t;

/*
 * Repairs @len bytes of @in (no NUL needed) that should be one JSON value
 * (RFC 8259, UTF-8), by the rules above.
 *
 * VALID: @in, with any JSON whitespace around the value, is what the
 * strict parser (fg_jdoc_parse() with @max_depth) accepts; *@out is NULL.
 * REPAIRED: *@out is a malloc'd NUL-terminated copy of *@out_len bytes
 * that fg_jdoc_parse() accepts with @max_depth (checked before returning);
 * the caller frees it. It holds the value only, without the whitespace or
 * text around it; whitespace inside the value is kept.
 * FAILED: *@out is NULL and nothing is held; @in is to be used as it is.
 *
 * Bounded: *@out_len ≤ 2 × @len + @max_depth + 16 (a '"' in a
 * single-quoted string and a raw control character double, the closers
 * add one per open level and one quote). Nesting deeper than @max_depth
 * (the outermost container is level 1) fails. *@what (may be NULL) gets
 * the FG_JSONREPAIR_* bits of the repairs made (0 unless REPAIRED). Pure:
 * no I/O, no globals; aborts only on out-of-memory (fg_xmalloc).
 */
fg_jsonrepair_result_t fg_json_repair(const char *in, size_t len,
                                      size_t max_depth, char **out,
                                      size_t *out_len, unsigned *what);

#endif
