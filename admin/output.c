/*
 * output.c: tables, field lines and JSON on stdout.
 *
 * A table keeps its cells until it is printed, because a column's width is
 * known only after its last row. Widths count UTF-8 code points, not bytes,
 * so "Zürich" lines up; wide (CJK) characters still take two cells on most
 * terminals and are not measured, a cosmetic limit accepted here.
 *
 * Cleaning replaces C0 controls, DEL and the C1 range (U+0080 to U+009F,
 * which some terminals obey as escapes too) with '?'. Newlines go with
 * them: a value never spans two lines of a table or a field list.
 */

#include <stdlib.h>
#include <string.h>

#include "admin/output.h"
#include "common/base/alloc.h"

#define OUTPUT_PATH_MAX 256

struct fg_table_s {
    size_t              ncols;
    const char *const  *headers;
    char              **cells;      /* rows * ncols, row-major, owned */
    size_t              rows;
    size_t              cap_rows;
};

static size_t output_width(const char *s);
static void output_flat(FILE *out, const json_t *obj, const char *prefix);
static void output_value(FILE *out, const char *path, const json_t *v);

fg_table_t *
fg_table_new(size_t ncols, const char *const *headers)
{
    fg_table_t *t = fg_xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    t->headers = headers;
    return t;
}

void
fg_table_add_row(fg_table_t *t, const char *const *cells)
{
    size_t i;

    if (t->rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
        t->cells = fg_xrealloc(t->cells,
                               t->cap_rows * t->ncols * sizeof(char *));
    }
    for (i = 0; i < t->ncols; i++) {
        t->cells[t->rows * t->ncols + i] =
            fg_output_clean(cells[i] != NULL ? cells[i] : "-");
    }
    t->rows++;
}

void
fg_table_print(const fg_table_t *t, FILE *out)
{
    size_t *width, r, c, w;

    width = fg_xcalloc(t->ncols, sizeof(*width));
    for (c = 0; c < t->ncols; c++) {
        width[c] = output_width(t->headers[c]);
        for (r = 0; r < t->rows; r++) {
            w = output_width(t->cells[r * t->ncols + c]);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    /* Line 0 is the header; line r > 0 prints row r - 1. */
    for (r = 0; r <= t->rows; r++) {
        for (c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->headers[c]
                                   : t->cells[(r - 1) * t->ncols + c];

            fputs(s, out);
            if (c + 1 < t->ncols) {
                fprintf(out, "%*s", (int) (width[c] - output_width(s) + 2),
                        "");
            }
        }
        fputc('\n', out);
    }
    free(width);
}

void
fg_table_free(fg_table_t *t)
{
    size_t i;

    if (t == NULL) {
        return;
    }
    for (i = 0; i < t->rows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t);
}

char *
fg_output_clean(const char *s)
{
    char          *copy = fg_xstrdup(s);
    unsigned char *p = (unsigned char *) copy;
    size_t         i, j;

    for (i = 0, j = 0; p[i] != '\0'; i++) {
        if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            /* A C1 control is two bytes in UTF-8; it becomes one '?'. */
            p[j++] = '?';
            i++;
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            p[j++] = '?';
        } else {
            p[j++] = p[i];
        }
    }
    p[j] = '\0';
    return copy;
}

void
fg_output_field(FILE *out, const char *name, const char *value)
{
    char *clean = fg_output_clean(value);

    fprintf(out, "%s: %s\n", name, clean);
    free(clean);
}

const char *
fg_output_decimal(const json_t *v, int places, char *buf, size_t size)
{
    size_t n;

    if (!json_is_number(v) || size < 2) {
        return "?";
    }
    snprintf(buf, size, "%.*f", places, json_number_value(v));
    if (strchr(buf, '.') != NULL) {
        n = strlen(buf);
        while (n > 0 && buf[n - 1] == '0') {
            buf[--n] = '\0';
        }
        if (n > 0 && buf[n - 1] == '.') {
            buf[--n] = '\0';
        }
    }
    return buf;
}

void
fg_output_fields_flat(FILE *out, const json_t *obj)
{
    output_flat(out, obj, "");
}

int
fg_output_json(FILE *out, const json_t *root)
{
    /* 15 digits: the decimal a real stands for, not its binary
     * expansion (jansson's default 17 print 0.3 as 0.29999999999999999). */
    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0
        || fputc('\n', out) == EOF) {
        return -1;
    }
    return 0;
}

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t
output_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

static void
output_flat(FILE *out, const json_t *obj, const char *prefix)
{
    const char *name;
    json_t     *v;
    char        path[OUTPUT_PATH_MAX];

    json_object_foreach((json_t *) obj, name, v) {
        if (prefix[0] == '\0' && strcmp(name, "object") == 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
                 name);
        if (json_is_object(v) && json_object_size(v) > 0) {
            output_flat(out, v, path);
        } else {
            output_value(out, path, v);
        }
    }
}

static void
output_value(FILE *out, const char *path, const json_t *v)
{
    char  num[64];
    char *text = NULL, *clean;

    switch (json_typeof(v)) {
    case JSON_STRING:
        fg_output_field(out, path, json_string_value(v));
        return;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.15g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(num, sizeof(num), "true");
        break;
    case JSON_FALSE:
        snprintf(num, sizeof(num), "false");
        break;
    case JSON_NULL:
        snprintf(num, sizeof(num), "-");
        break;
    default:
        text = json_dumps(v, JSON_COMPACT);
        clean = fg_output_clean(text != NULL ? text : "?");
        fprintf(out, "%s: %s\n", path, clean);
        free(clean);
        free(text);
        return;
    }
    fprintf(out, "%s: %s\n", path, num);
}
