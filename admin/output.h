#ifndef FG_ADMIN_OUTPUT_H
#define FG_ADMIN_OUTPUT_H

/*
 * What fluxgate-admin prints for people: aligned tables, "field: value"
 * lines, and JSON for --json. Every string that came from the admin API
 * passes through fg_output_clean() first, so a key name holding an escape
 * sequence cannot drive the terminal or break a table row.
 */

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

typedef struct fg_table_s fg_table_t;

/*
 * Returns an owned table of @ncols columns headed by @headers (borrowed,
 * must outlive the table); free with fg_table_free(). Cannot fail.
 */
fg_table_t *fg_table_new(size_t ncols, const char *const *headers);

/*
 * Appends a row of @ncols cells (the table's column count); each cell is
 * copied through fg_output_clean(), and NULL prints as "-". Cannot fail.
 */
void fg_table_add_row(fg_table_t *t, const char *const *cells);

/*
 * Prints the header and the rows, columns left-aligned on their widest
 * cell in characters (UTF-8 code points), two blanks apart, the last
 * column unpadded.
 */
void fg_table_print(const fg_table_t *t, FILE *out);

/* Accepts NULL. */
void fg_table_free(fg_table_t *t);

/*
 * Returns an owned copy of @s (free with free()) with every control
 * character, C0, DEL or C1, replaced by '?'. @s must be valid UTF-8, as
 * every jansson string is. Cannot fail.
 */
char *fg_output_clean(const char *s);

/* Prints "@name: @value\n", @value cleaned. */
void fg_output_field(FILE *out, const char *name, const char *value);

/*
 * Prints every scalar under the object @obj as "path: value" lines, nested
 * objects flattened with dots ("workers.ready: 4"), arrays as compact
 * JSON, in the object's order; a top-level "object" member, which only
 * names the reply's type, is left out. Used where the shape is the API's
 * own business (status), so new fields show up without a change here.
 */
void fg_output_fields_flat(FILE *out, const json_t *obj);

/*
 * Writes the number @v into @buf (@size bytes) as a fixed decimal of at
 * most @places places, trailing zeros cut ("0.000000532", "12.5", "3"):
 * never an exponent, never a binary expansion (0.30000000000000004).
 * For figures that are integers of 10^-@places units underneath, or sums
 * of them. Returns @buf, or "?" when @v is not a number.
 */
const char *fg_output_decimal(const json_t *v, int places, char *buf,
                              size_t size);

/*
 * Prints @root as indented JSON and a newline: --json output. Returns 0,
 * or -1 when the write failed.
 */
int fg_output_json(FILE *out, const json_t *root);

#endif
