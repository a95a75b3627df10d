#ifndef FG_TESTS_SIM_BADJSON_H
#define FG_TESTS_SIM_BADJSON_H

/*
 * The malformed JSON models write, on purpose: fg-sim's "badjson-<class>"
 * model tag turns the valid JSON it would send (a JSON-mode content, a
 * tool call's arguments) into one class of the mistakes the gateway's
 * repair (common/wire/jsonrepair.h) undoes, or into prose it cannot undo.
 * Each class makes one kind of mistake and no other, so a test knows what
 * a repair has to do. Pure functions; allocation aborts.
 */

#include <stddef.h>

typedef enum {
    FG_SIM_BADJSON_NONE = 0,
    FG_SIM_BADJSON_FENCE,      /* prose, then ```json fences around it */
    FG_SIM_BADJSON_PROSE,      /* a sentence before it and one after */
    FG_SIM_BADJSON_TRUNCATED,  /* the closing ] } at the end cut, and the
                                  closing quote of a string ending there */
    FG_SIM_BADJSON_COMMA,      /* a comma before the last } */
    FG_SIM_BADJSON_SINGLE,     /* every string single-quoted */
    FG_SIM_BADJSON_UNQUOTED,   /* keys that are identifiers unquoted */
    FG_SIM_BADJSON_COMMENTS,   /* a // comment line after the first { */
    FG_SIM_BADJSON_HOPELESS    /* prose with no JSON in it at all */
} fg_sim_badjson_t;

/*
 * Reads a class name (@len bytes at @name, not NUL-terminated). Returns 0
 * with *@cls set, or -1 when it names no class.
 */
int fg_sim_badjson_parse(const char *name, size_t len, fg_sim_badjson_t *cls);

/*
 * Returns the owned (malloc'd, NUL-terminated) text of @len bytes at @json,
 * one JSON object in compact form (jansson's JSON_COMPACT: no white space
 * outside strings), made malformed as @cls says; *@out_len gets its length
 * (at most 2 × @len + 128).
 *
 * Where a class finds nothing to change the text stays valid: comma,
 * single and unquoted leave "{}" as it is (no member, no string, no key),
 * and unquoted leaves keys that are not identifiers ([A-Za-z_$][A-Za-z0-9_$]*)
 * quoted, as JavaScript's object literals do. In single-quoted strings an
 * escaped double quote loses its backslash and a single quote gains one
 * (\'); other escapes stay. truncated never cuts inside a string's text,
 * so closing what it left open gives back the very value.
 */
char *fg_sim_badjson_apply(fg_sim_badjson_t cls, const char *json,
    size_t len, size_t *out_len);

#endif
