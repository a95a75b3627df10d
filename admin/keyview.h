#ifndef FG_ADMIN_KEYVIEW_H
#define FG_ADMIN_KEYVIEW_H

/*
 * How a key object of the admin API (docs/admin-api.md, "Key object")
 * looks to a person: one "field: value" line per field for a single key,
 * an aligned table for a list. Credits show as decimals ("5.000000"),
 * times as UTC dates with the Unix seconds beside them, an empty model
 * list as "all", a zero limit as unlimited, no preset as "none
 * (balanced)", no transforms as "none". A field the reply lacks or
 * gives with the wrong type is left out (lines) or shown as "?" (table);
 * --json is the place to see the reply exactly.
 */

#include <stdio.h>

#include <jansson.h>

/* Prints the key object @key as field lines. */
void fg_keyview_print(FILE *out, const json_t *key);

/*
 * Prints the array @keys of key objects as a table with the columns ID,
 * NAME, OWNER, STATUS, BALANCE, RPM, TPM, CONC, MODELS; "no keys" when
 * the array is empty.
 */
void fg_keyview_table(FILE *out, const json_t *keys);

#endif
