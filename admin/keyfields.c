/*
 * keyfields.c: a key's fields from the command line into a request body.
 *
 * Each option lands in the body as it is read: --rpm in "limits",
 * --balance in "energy". Limits and energy are built on the side and
 * moved in at the end, so a body never carries an empty group the user
 * did not ask for. Credits go through admin/amount.c, so the body holds
 * the integer micro-units the user meant, never a rounded float.
 *
 * Everything is checked here, before any call: a typo in --metadata or
 * --expires costs no round trip and cannot half-apply an update.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/keyfields.h"
#include "admin/output.h"
#include "common/accounts/keytable.h"
#include "common/base/alloc.h"
#include "common/route/router.h"
#include "common/wire/json.h"

/* The server allows 16 levels; this only keeps jansson's recursion safe. */
#define KEYFIELDS_METADATA_DEPTH   32
#define KEYFIELDS_EXPIRES_DAYS_MAX 36500    /* a century */

static int keyfields_expires(const char *verb, const char *arg,
                             int64_t *at);
static int keyfields_metadata(fg_keyfields_t *f, const char *verb,
                              const char *arg);
static int keyfields_preset(fg_keyfields_t *f, const char *verb,
                            const char *arg);
static int keyfields_transforms(fg_keyfields_t *f, const char *verb,
                                const char *arg);
static json_t *keyfields_group(json_t **group);

void
fg_keyfields_init(fg_keyfields_t *f)
{
    memset(f, 0, sizeof(*f));
    f->body = json_object();
}

int
fg_keyfields_is_option(int opt)
{
    return opt >= FG_KEYFIELD_NAME && opt < FG_KEYFIELD_END;
}

int
fg_keyfields_option(fg_keyfields_t *f, const char *verb, int opt,
                    const char *arg)
{
    /* Options that set one member of "limits" or "energy". */
    static const struct {
        int         opt;
        const char *name;
        const char *field;
        int         is_credits;     /* energy, else a limit */
    } members[] = {
        { FG_KEYFIELD_RPM, "rpm", "requests_per_min", 0 },
        { FG_KEYFIELD_TPM, "tpm", "tokens_per_min", 0 },
        { FG_KEYFIELD_CONCURRENCY, "concurrency", "max_concurrent", 0 },
        { FG_KEYFIELD_BALANCE, "balance", "balance_micro", 1 },
        { FG_KEYFIELD_REGEN, "regen", "regen_per_hour_micro", 1 },
        { FG_KEYFIELD_CAP, "cap", "cap_micro", 1 },
    };
    int64_t n;
    size_t  i;
    int     rc;

    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        if (opt != members[i].opt) {
            continue;
        }
        rc = members[i].is_credits
             ? fg_admin_parse_credits(verb, members[i].name, arg, &n)
             : fg_admin_parse_int(verb, members[i].name, arg, INT64_MAX, &n);
        if (rc == 0) {
            json_object_set_new(keyfields_group(members[i].is_credits
                                                ? &f->energy : &f->limits),
                                members[i].field, json_integer(n));
        }
        return rc;
    }

    switch (opt) {
    case FG_KEYFIELD_NAME:
        json_object_set_new(f->body, "name", json_string(arg));
        return 0;

    case FG_KEYFIELD_OWNER:
        json_object_set_new(f->body, "owner", json_string(arg));
        return 0;

    case FG_KEYFIELD_MODEL:
    case FG_KEYFIELD_MODELS_ALL:
        if ((opt == FG_KEYFIELD_MODEL && f->is_models_all)
            || (opt == FG_KEYFIELD_MODELS_ALL && f->models != NULL))
        {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --model and "
                                 "--models-all exclude each other", verb);
        }
        if (opt == FG_KEYFIELD_MODELS_ALL) {
            f->is_models_all = 1;
            return 0;
        }
        if (f->models == NULL) {
            f->models = json_array();
        }
        json_array_append_new(f->models, json_string(arg));
        return 0;

    case FG_KEYFIELD_EXPIRES:
    case FG_KEYFIELD_NO_EXPIRY:
        if ((opt == FG_KEYFIELD_EXPIRES && f->is_no_expiry)
            || (opt == FG_KEYFIELD_NO_EXPIRY && f->has_expires))
        {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --expires and "
                                 "--no-expiry exclude each other", verb);
        }
        if (opt == FG_KEYFIELD_NO_EXPIRY) {
            f->is_no_expiry = 1;
            json_object_set_new(f->body, "expires_at", json_null());
            return 0;
        }
        rc = keyfields_expires(verb, arg, &n);
        if (rc == 0) {
            f->has_expires = 1;
            json_object_set_new(f->body, "expires_at", json_integer(n));
        }
        return rc;

    case FG_KEYFIELD_METADATA:
        return keyfields_metadata(f, verb, arg);

    case FG_KEYFIELD_PRESET:
        return keyfields_preset(f, verb, arg);

    case FG_KEYFIELD_TRANSFORMS:
        return keyfields_transforms(f, verb, arg);

    default:
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: unexpected option",
                             verb);
    }
}

json_t *
fg_keyfields_body(fg_keyfields_t *f)
{
    if (f->limits != NULL) {
        json_object_set_new(f->body, "limits", f->limits);
        f->limits = NULL;
    }
    if (f->energy != NULL) {
        json_object_set_new(f->body, "energy", f->energy);
        f->energy = NULL;
    }
    if (f->is_models_all) {
        json_object_set_new(f->body, "models", json_array());
    } else if (f->models != NULL) {
        json_object_set_new(f->body, "models", f->models);
        f->models = NULL;
    }
    return f->body;
}

void
fg_keyfields_cleanup(fg_keyfields_t *f)
{
    json_decref(f->body);
    json_decref(f->limits);
    json_decref(f->energy);
    json_decref(f->models);
    memset(f, 0, sizeof(*f));
}

/* --expires: Unix seconds, or "+Nd", N days from now. */
static int
keyfields_expires(const char *verb, const char *arg, int64_t *at)
{
    size_t  len = strlen(arg);
    int64_t days = 0;
    size_t  i;

    if (arg[0] != '+' && strspn(arg, "0123456789") == len) {
        return fg_admin_parse_int(verb, "expires", arg, INT64_MAX, at);
    }
    /* At most 5 digits: the century bound below cannot overflow. */
    if (arg[0] != '+' || len < 3 || len > 7 || arg[len - 1] != 'd'
        || strspn(arg + 1, "0123456789") != len - 2)
    {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --expires: \"%s\": "
                             "expected Unix seconds or +Nd (N days from now, "
                             "e.g. +30d)", verb, arg);
    }
    for (i = 1; i < len - 1; i++) {
        days = days * 10 + (arg[i] - '0');
    }
    if (days > KEYFIELDS_EXPIRES_DAYS_MAX) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --expires: \"%s\" is "
                             "more than %d days away", verb, arg,
                             KEYFIELDS_EXPIRES_DAYS_MAX);
    }
    *at = (int64_t) time(NULL) + days * 86400;
    return 0;
}

/* --metadata: must be a JSON object; the server checks its size. */
static int
keyfields_metadata(fg_keyfields_t *f, const char *verb, const char *arg)
{
    json_t       *metadata;
    json_error_t  jerr;

    /* jansson dumps recursively: no deep input reaches it. */
    if (fg_json_depth_exceeds(arg, strlen(arg), KEYFIELDS_METADATA_DEPTH)) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --metadata: nested "
                             "deeper than %d levels", verb,
                             KEYFIELDS_METADATA_DEPTH);
    }
    metadata = json_loads(arg, JSON_REJECT_DUPLICATES, &jerr);
    if (metadata == NULL) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --metadata: not "
                             "valid JSON: %s (column %d)", verb, jerr.text,
                             jerr.column);
    }
    if (!json_is_object(metadata)) {
        json_decref(metadata);
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --metadata: expected "
                             "a JSON object, e.g. '{\"plan\": \"pro\"}'",
                             verb);
    }
    json_object_set_new(f->body, "metadata", metadata);
    return 0;
}

/*
 * --preset: a preset's name, or "none" (null: the key has none). Checked
 * here so a typo costs no round trip.
 */
static int
keyfields_preset(fg_keyfields_t *f, const char *verb, const char *arg)
{
    char *clean;

    if (strcmp(arg, "none") == 0) {
        json_object_set_new(f->body, "preset", json_null());
        return 0;
    }
    if (fg_route_preset_parse(arg, strlen(arg)) != FG_PRESET_UNSET) {
        json_object_set_new(f->body, "preset", json_string(arg));
        return 0;
    }
    clean = fg_output_clean(arg);
    fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --preset: \"%s\" is not a "
                  "preset: expected balanced, speed, price, quality, "
                  "environment or none", verb, clean);
    free(clean);
    return FG_ADMIN_EXIT_USAGE;
}

/*
 * --transforms: a comma-separated list of transform names, or "none"
 * ([]: the key has none). Checked here, as the server checks the list, so
 * a typo costs no round trip.
 */
static int
keyfields_transforms(fg_keyfields_t *f, const char *verb, const char *arg)
{
    json_t     *names;
    const char *p = arg, *end, *why;
    unsigned    bits = 0, bit;
    char       *item, *clean;

    names = json_array();
    if (strcmp(arg, "none") == 0) {
        json_object_set_new(f->body, "transforms", names);
        return 0;
    }
    /* Distinct names are at most 8 (the bits of kr_transforms): refusing
     * a repeat keeps the list within the server's bound. */
    for (;;) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }
        bit = fg_key_transform_parse(p, (size_t) (end - p));
        if (bit == 0 || (bits & bit) != 0) {
            why = bit != 0 ? "is repeated"
                  : (size_t) (end - p) == 4 && memcmp(p, "none", 4) == 0
                  ? "stands alone, not in a list"
                  : "is not a transform: expected middle-out, a "
                    "comma-separated list of them, or none";
            item = fg_xstrndup(p, (size_t) (end - p));
            clean = fg_output_clean(item);
            fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --transforms: \"%s\" %s",
                          verb, clean, why);
            free(clean);
            free(item);
            json_decref(names);
            return FG_ADMIN_EXIT_USAGE;
        }
        bits |= bit;
        json_array_append_new(names, json_string(fg_key_transform_name(bit)));
        if (*end == '\0') {
            break;
        }
        p = end + 1;
    }
    json_object_set_new(f->body, "transforms", names);
    return 0;
}

/* *@group, created empty on first use; borrowed. */
static json_t *
keyfields_group(json_t **group)
{
    if (*group == NULL) {
        *group = json_object();
    }
    return *group;
}
