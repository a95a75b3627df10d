/*
 * keyview.c: key objects for people.
 *
 * Every accessor here tolerates a reply that lacks a field or types it
 * differently: a newer or older gateway must still print, never crash the
 * tool. Formatting goes through small fixed buffers; the one unbounded
 * piece, the model list, is built on the heap.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/amount.h"
#include "admin/keyview.h"
#include "admin/output.h"
#include "common/base/alloc.h"

#define KEYVIEW_COLS 9
#define KEYVIEW_CELL 64

static const json_t *keyview_get(const json_t *obj, const char *group,
                                 const char *name);
static const char *keyview_int(const json_t *v, char *buf, size_t size,
                               const char *zero);
static const char *keyview_credits(const json_t *v, char *buf,
                                   size_t size);
static void keyview_time(FILE *out, const char *name, const json_t *v,
                         const char *if_null);
static char *keyview_list(const json_t *list, const char *sep,
                          const char *if_empty);

void
fg_keyview_print(FILE *out, const json_t *key)
{
    static const char *const strings[] = { "id", "name", "owner", "status" };
    static const char *const limits[] = {
        "requests_per_min", "tokens_per_min", "max_concurrent"
    };
    static const struct {
        const char *field;
        const char *label;
    } energy[] = {
        { "balance_micro", "balance" },
        { "regen_per_hour_micro", "regen_per_hour" },
        { "cap_micro", "cap" },
    };
    const json_t *v;
    char          buf[KEYVIEW_CELL];
    char         *text;
    size_t        i;

    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        v = json_object_get(key, strings[i]);
        if (json_is_string(v)) {
            fg_output_field(out, strings[i], json_string_value(v));
        } else if (json_is_null(v)) {
            fg_output_field(out, strings[i], "-");
        }
    }
    keyview_time(out, "created_at", json_object_get(key, "created_at"),
                 NULL);
    keyview_time(out, "updated_at", json_object_get(key, "updated_at"),
                 NULL);
    keyview_time(out, "expires_at", json_object_get(key, "expires_at"),
                 "never");
    /* Only worth a line while a rotated-out secret still works. */
    keyview_time(out, "previous_secret_valid_until",
                 json_object_get(key, "previous_secret_valid_until"), NULL);

    text = keyview_list(json_object_get(key, "models"), ", ", "all");
    if (text != NULL) {
        fg_output_field(out, "models", text);
        free(text);
    }
    for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        v = keyview_get(key, "limits", limits[i]);
        if (json_is_integer(v)) {
            fg_output_field(out, limits[i],
                            keyview_int(v, buf, sizeof(buf), "unlimited"));
        }
    }
    for (i = 0; i < sizeof(energy) / sizeof(energy[0]); i++) {
        v = keyview_get(key, "energy", energy[i].field);
        if (json_is_integer(v)) {
            fg_output_field(out, energy[i].label,
                            keyview_credits(v, buf, sizeof(buf)));
        }
    }
    /* An older gateway sends no preset: no line, rather than a guess. */
    v = json_object_get(key, "preset");
    if (json_is_string(v)) {
        fg_output_field(out, "preset", json_string_value(v));
    } else if (json_is_null(v)) {
        fg_output_field(out, "preset", "none (balanced)");
    }
    /* Likewise no transforms line from an older gateway. */
    text = keyview_list(json_object_get(key, "transforms"), ", ", "none");
    if (text != NULL) {
        fg_output_field(out, "transforms", text);
        free(text);
    }
    v = json_object_get(key, "totals");
    if (json_is_object(v)) {
        /* Since the node started: the usage verb has the whole history. */
        snprintf(buf, sizeof(buf), "%lld",
                 (long long) json_integer_value(json_object_get(v,
                                                                "requests")));
        fg_output_field(out, "requests_since_start", buf);
        fg_output_field(out, "charged_since_start",
                        keyview_credits(json_object_get(v, "charged_micro"),
                                        buf, sizeof(buf)));
        {
            char kwh[48], g[48], l[48];

            /* Nano-unit integers underneath (ledger.h): their decimals. */
            snprintf(buf, sizeof(buf), "%s kWh, %s g CO2e, %s L",
                     fg_output_decimal(json_object_get(v, "energy_kwh"), 12,
                                     kwh, sizeof(kwh)),
                     fg_output_decimal(json_object_get(v, "carbon_g_co2"), 9,
                                     g, sizeof(g)),
                     fg_output_decimal(json_object_get(v, "water_liters"), 9,
                                     l, sizeof(l)));
        }
        fg_output_field(out, "impact_since_start", buf);
    }
    v = json_object_get(key, "metadata");
    if (v != NULL && !json_is_null(v)) {
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text != NULL) {
            fg_output_field(out, "metadata", text);
            free(text);
        }
    }
}

void
fg_keyview_table(FILE *out, const json_t *keys)
{
    static const char *const headers[KEYVIEW_COLS] = {
        "ID", "NAME", "OWNER", "STATUS", "BALANCE", "RPM", "TPM", "CONC",
        "MODELS"
    };
    fg_table_t   *t;
    const json_t *key, *v;
    const char   *cells[KEYVIEW_COLS];
    char          balance[KEYVIEW_CELL], rpm[KEYVIEW_CELL];
    char          tpm[KEYVIEW_CELL], conc[KEYVIEW_CELL];
    char         *models;
    size_t        i, c;

    if (json_array_size(keys) == 0) {
        fprintf(out, "no keys\n");
        return;
    }
    t = fg_table_new(KEYVIEW_COLS, headers);
    json_array_foreach((json_t *) keys, i, key) {
        static const char *const strings[] = { "id", "name", "owner",
                                               "status" };

        for (c = 0; c < 4; c++) {
            v = json_object_get(key, strings[c]);
            cells[c] = json_is_string(v) ? json_string_value(v)
                       : json_is_null(v) ? "-" : "?";
        }
        cells[4] = keyview_credits(keyview_get(key, "energy",
                                               "balance_micro"),
                                   balance, sizeof(balance));
        cells[5] = keyview_int(keyview_get(key, "limits",
                                           "requests_per_min"),
                               rpm, sizeof(rpm), "-");
        cells[6] = keyview_int(keyview_get(key, "limits", "tokens_per_min"),
                               tpm, sizeof(tpm), "-");
        cells[7] = keyview_int(keyview_get(key, "limits", "max_concurrent"),
                               conc, sizeof(conc), "-");
        models = keyview_list(json_object_get(key, "models"), ",", "all");
        cells[8] = models != NULL ? models : "?";
        fg_table_add_row(t, cells);
        free(models);
    }
    fg_table_print(t, out);
    fg_table_free(t);
}

/* @obj.@group.@name, borrowed, or NULL. */
static const json_t *
keyview_get(const json_t *obj, const char *group, const char *name)
{
    return json_object_get(json_object_get(obj, group), name);
}

/* An integer as text, @zero for 0 (a limit of 0 means none), "?" else. */
static const char *
keyview_int(const json_t *v, char *buf, size_t size, const char *zero)
{
    if (!json_is_integer(v)) {
        return "?";
    }
    if (json_integer_value(v) == 0) {
        return zero;
    }
    snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
}

static const char *
keyview_credits(const json_t *v, char *buf, size_t size)
{
    if (!json_is_integer(v)) {
        return "?";
    }
    return fg_amount_format((int64_t) json_integer_value(v), buf, size);
}

/* "2026-11-20 12:53:20 UTC (1795400000)"; @if_null when null. */
static void
keyview_time(FILE *out, const char *name, const json_t *v,
             const char *if_null)
{
    char      date[48], line[96];
    time_t    t;
    struct tm tm;

    if (json_is_null(v) && if_null != NULL) {
        fg_output_field(out, name, if_null);
        return;
    }
    if (!json_is_integer(v)) {
        return;
    }
    t = (time_t) json_integer_value(v);
    if (gmtime_r(&t, &tm) == NULL
        || strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    {
        snprintf(date, sizeof(date), "?");
    }
    snprintf(line, sizeof(line), "%s (%" JSON_INTEGER_FORMAT ")", date,
             json_integer_value(v));
    fg_output_field(out, name, line);
}

/*
 * The strings of @list (model patterns, transform names) joined by @sep,
 * @if_empty for an empty list; an owned string, or NULL when @list is not
 * an array.
 */
static char *
keyview_list(const json_t *list, const char *sep, const char *if_empty)
{
    const json_t *m;
    const char   *s;
    size_t        i, n, len = 1;
    char         *text, *p;

    if (!json_is_array(list)) {
        return NULL;
    }
    if (json_array_size(list) == 0) {
        return fg_xstrdup(if_empty);
    }
    json_array_foreach((json_t *) list, i, m) {
        len += (json_is_string(m) ? strlen(json_string_value(m)) : 1)
               + strlen(sep);
    }
    p = text = fg_xmalloc(len);
    json_array_foreach((json_t *) list, i, m) {
        if (i > 0) {
            n = strlen(sep);
            memcpy(p, sep, n);
            p += n;
        }
        s = json_is_string(m) ? json_string_value(m) : "?";
        n = strlen(s);
        memcpy(p, s, n);
        p += n;
    }
    *p = '\0';
    return text;
}
