#ifndef FG_COMMON_JSON_H
#define FG_COMMON_JSON_H

/*
 * Small jansson helpers for untrusted JSON: a linear nesting pre-scan that
 * runs before jansson ever sees the bytes (jansson 2.14 recurses on parse,
 * dump, equal and deep copy), and a loader that turns every way a client
 * body can fail to parse into one fg_err_t code. Names follow jansson's
 * ownership convention: functions returning json_t * return a new
 * reference; `_new` arguments are stolen; everything else borrows.
 */

#include <stddef.h>

#include <jansson.h>

#include "common/base/errors.h"

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

#endif
