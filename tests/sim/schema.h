#ifndef FG_TESTS_SIM_SCHEMA_H
#define FG_TESTS_SIM_SCHEMA_H

/*
 * The instance fg-sim answers a JSON schema with (json_schema replies,
 * tool-call arguments): one value that satisfies the schema's keywords
 * where that is feasible, deterministic, and bounded in work and size
 * whatever the schema. The rules are in schema.c's file comment. Pure
 * functions; allocation aborts.
 */

#include <stddef.h>

#include <jansson.h>

/* Deepest nesting filled (objects, arrays, $ref hops); deeper: {} / []. */
#define FG_SIM_SCHEMA_MAX_DEPTH   16
/* Most values built for one instance; past it containers stay empty. */
#define FG_SIM_SCHEMA_MAX_NODES   4096
/* Most items in one array, whatever minItems says. */
#define FG_SIM_SCHEMA_MAX_ITEMS   64
/* Longest string (bytes), whatever minLength or a pattern says. */
#define FG_SIM_SCHEMA_MAX_STRING  4096
/* Bytes of strings in one instance past which containers stop growing. */
#define FG_SIM_SCHEMA_MAX_BYTES   (256 * 1024)
/* Longest pattern tried; a longer one falls back to the plain string. */
#define FG_SIM_SCHEMA_MAX_PATTERN 1024

/*
 * Returns a new value for @schema (borrowed; any JSON: a non-object is
 * "any value"). Cannot fail.
 */
json_t *fg_sim_schema_fill(json_t *schema);

/*
 * Writes into @out (size @size, NUL-terminated) the shortest string the
 * ECMA-262 @pattern matches in the subset schema.c documents, repeating
 * open quantifiers @extra more times. Returns its length in bytes, or -1
 * when the pattern is outside the subset or the string would not fit.
 */
long fg_sim_schema_pattern(const char *pattern, size_t extra, char *out,
    size_t size);

#endif
