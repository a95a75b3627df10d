#ifndef FG_COMMON_JSON_H
#define FG_COMMON_JSON_H

/*
 * JSON text helpers, all named fg_json_*: one lax string scanner and the
 * two passes built on it (the nesting pre-scan, which proves a body
 * shallow before jansson, recursive in 2.14, ever sees it; a whitespace
 * compactor), a string quoter, the blank test and the clip of client
 * input that every body-parse error uses (here and in jdoc), and the
 * loader that turns every way a client body can fail to parse into one
 * fg_err_t code. The strict, validating parser is common/wire/jdoc.h.
 *
 * Ownership: functions returning json_t * return a new reference (jansson's
 * convention); output buffers are the caller's, sized as each contract
 * says; nothing else allocates. No function here keeps state.
 */

#include <stddef.h>

#include <jansson.h>

#include "common/base/errors.h"

/*
 * The index just past the JSON string whose contents start at @buf[@i]
 * (the byte after its opening quote): one past the closing quote, or @len
 * when the string runs to the end of the buffer. A backslash takes the
 * byte after it, whatever it is, so an escaped quote never ends a string
 * and "\\" followed by a quote does; nothing is validated (\u escapes,
 * surrogates, control bytes and UTF-8 pass as they are: the hex digits of
 * \uXXXX are never quotes). Reads no byte at or past @buf + @len. Cannot
 * fail.
 */
size_t fg_json_string_end(const char *buf, size_t len, size_t i);

/*
 * Returns 1 if the object/array nesting of @buf exceeds @max_depth (the
 * outermost container is depth 1), 0 otherwise. Brackets inside strings do
 * not count, and a backslash inside a string escapes the byte after it.
 * Linear in @len, reads no byte at or past @buf + @len, needs no NUL and
 * does not validate the JSON otherwise (unbalanced closers never take the
 * depth below zero). Cannot fail.
 */
int fg_json_depth_exceeds(const char *buf, size_t len, size_t max_depth);

/*
 * Parses an untrusted request body of @len bytes (no NUL needed) into any
 * JSON value, rejecting duplicate keys, invalid UTF-8 and \u0000.
 * Returns a new reference (json_decref it), or NULL with @err set to:
 *   FG_E_EMPTY_BODY        @len is 0 or the body is only whitespace;
 *   FG_E_NESTING_TOO_DEEP  nesting exceeds @max_depth (checked first, by
 *                          fg_json_depth_exceeds, before jansson runs);
 *   FG_E_DUPLICATE_KEY     a key repeats inside one object, at any depth;
 *   FG_E_INVALID_JSON      anything else jansson refuses, with its reason
 *                          and line/column in the message.
 * The message quotes at most 32 bytes of the body, printable ASCII only.
 * @err->param is "" for all of them. Never reads past @len.
 */
json_t *fg_json_load_body(const char *buf, size_t len, size_t max_depth,
                          fg_err_t *err);

/*
 * Copies the JSON text of @len bytes at @src (valid JSON) to @dst without
 * the whitespace between tokens, and returns the length of the result
 * (<= @len). @dst must hold @len bytes: bytes past the result's length
 * may be written too. Strings are copied whole (fg_json_string_end()).
 */
size_t fg_json_compact(const char *src, size_t len, char *dst);

/*
 * Writes @s (@len bytes, valid UTF-8) as a JSON string, quotes included,
 * into @dst, which must hold 6 * @len + 2 bytes. Returns the length.
 */
size_t fg_json_quote(const char *s, size_t len, char *dst);

/* 1 when the @len bytes at @buf are only JSON whitespace (space, tab, CR,
 * LF: RFC 8259, section 2), or @len is 0. */
int fg_json_is_blank(const char *buf, size_t len);

/*
 * Copies @len bytes of client input at @src into @dst (@size >= 1 bytes)
 * as printable ASCII, any other byte becoming '?', cut to @size - 1 bytes
 * with "..." as the last three when cut, and NUL-terminated: what an
 * error message may quote of a body.
 */
void fg_json_clip(char *dst, size_t size, const char *src, size_t len);

#endif
