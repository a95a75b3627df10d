#ifndef FG_ADMIN_KEYFIELDS_H
#define FG_ADMIN_KEYFIELDS_H

/*
 * The options of `keys create` and `keys update` that set a key's fields,
 * and the request body they build. A verb puts FG_KEYFIELD_OPTIONS in its
 * getopt_long table, hands every value fg_keyfields_is_option() claims to
 * fg_keyfields_option(), and sends fg_keyfields_body().
 *
 * Only what was given goes into the body, so the same body is a complete
 * create or the partial PATCH an update needs.
 */

#include <getopt.h>

#include <jansson.h>

#include "admin/verbs.h"

/* getopt_long values of the field options. */
enum {
    FG_KEYFIELD_NAME = FG_ADMIN_OPT_VERB,
    FG_KEYFIELD_OWNER,
    FG_KEYFIELD_MODEL,
    FG_KEYFIELD_RPM,
    FG_KEYFIELD_TPM,
    FG_KEYFIELD_CONCURRENCY,
    FG_KEYFIELD_BALANCE,
    FG_KEYFIELD_REGEN,
    FG_KEYFIELD_CAP,
    FG_KEYFIELD_EXPIRES,
    FG_KEYFIELD_METADATA,
    FG_KEYFIELD_PRESET,
    FG_KEYFIELD_TRANSFORMS,
    FG_KEYFIELD_NO_EXPIRY,          /* update only */
    FG_KEYFIELD_MODELS_ALL,         /* update only */
    FG_KEYFIELD_END                 /* first value free for a verb */
};

/* The options create and update share. */
#define FG_KEYFIELD_OPTIONS                                                 \
    { "name", required_argument, NULL, FG_KEYFIELD_NAME },                  \
    { "owner", required_argument, NULL, FG_KEYFIELD_OWNER },                \
    { "model", required_argument, NULL, FG_KEYFIELD_MODEL },                \
    { "rpm", required_argument, NULL, FG_KEYFIELD_RPM },                    \
    { "tpm", required_argument, NULL, FG_KEYFIELD_TPM },                    \
    { "concurrency", required_argument, NULL, FG_KEYFIELD_CONCURRENCY },    \
    { "balance", required_argument, NULL, FG_KEYFIELD_BALANCE },            \
    { "regen", required_argument, NULL, FG_KEYFIELD_REGEN },                \
    { "cap", required_argument, NULL, FG_KEYFIELD_CAP },                    \
    { "expires", required_argument, NULL, FG_KEYFIELD_EXPIRES },            \
    { "metadata", required_argument, NULL, FG_KEYFIELD_METADATA },          \
    { "preset", required_argument, NULL, FG_KEYFIELD_PRESET },              \
    { "transforms", required_argument, NULL, FG_KEYFIELD_TRANSFORMS }

/* The two that only make sense on an existing key. */
#define FG_KEYFIELD_UPDATE_OPTIONS                                          \
    { "no-expiry", no_argument, NULL, FG_KEYFIELD_NO_EXPIRY },              \
    { "models-all", no_argument, NULL, FG_KEYFIELD_MODELS_ALL }

/* Help lines of FG_KEYFIELD_OPTIONS but --name. */
#define FG_KEYFIELD_HELP                                                    \
    "  --owner O            the tenant the key belongs to\n"                \
    "  --model M            allow model M: an id, '*' or 'provider/*';\n"   \
    "                       repeat for more (at most 8); none allows all\n" \
    "  --rpm N              requests per minute (0 = unlimited)\n"          \
    "  --tpm N              tokens per minute (0 = unlimited)\n"            \
    "  --concurrency N      requests in flight at once (0 = unlimited)\n"   \
    "  --balance C          energy balance, in credits (12.5)\n"            \
    "  --regen C            credits regenerated per hour\n"                 \
    "  --cap C              energy cap, in credits\n"                       \
    "  --expires WHEN       Unix seconds, or +Nd for N days from now\n"     \
    "  --metadata JSON      a JSON object, at most 511 bytes\n"             \
    "  --preset P           requests naming no preset get P: balanced,\n"   \
    "                       speed, price, quality or environment;\n"        \
    "                       none clears it (they get balanced)\n"           \
    "  --transforms T       requests naming no transforms get T, a\n"       \
    "                       comma-separated list: middle-out (compress\n"   \
    "                       a prompt no window fits); none clears it\n"

typedef struct {
    json_t  *body;          /* the request object */
    json_t  *limits;        /* NULL until a limit is given */
    json_t  *energy;        /* NULL until an energy setting is given */
    json_t  *models;        /* NULL until a --model is given */
    int      is_models_all;
    int      has_expires;
    int      is_no_expiry;
} fg_keyfields_t;

/* Starts an empty body in @f. Cannot fail. */
void fg_keyfields_init(fg_keyfields_t *f);

/* Returns 1 if getopt_long value @opt is a field option. */
int fg_keyfields_is_option(int opt);

/*
 * Applies field option @opt with value @arg (NULL for a flag) to the body
 * for @verb ("keys update"). Returns 0, or prints the one error line and
 * returns FG_ADMIN_EXIT_USAGE: a malformed number, amount, time or JSON
 * object, an unknown preset, a --transforms list with an unknown, empty
 * or repeated name (or none in a list), or --model with --models-all,
 * --expires with --no-expiry.
 */
int fg_keyfields_option(fg_keyfields_t *f, const char *verb, int opt,
                        const char *arg);

/*
 * Completes and returns the body: borrowed, valid until
 * fg_keyfields_cleanup(). Call once, after the last option.
 */
json_t *fg_keyfields_body(fg_keyfields_t *f);

/* Releases everything @f holds, on any path. */
void fg_keyfields_cleanup(fg_keyfields_t *f);

#endif
