/*
 * keyjson.c: key records to and from JSON (see keyjson.h for the shapes).
 *
 * Applying an admin body works on a copy of the record, so a body that is
 * wrong in its last field changes nothing.
 */

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/route/router.h"
#include "common/store/keyjson.h"

#define KEYJSON_PRESETS_ACCEPTED \
    "\"balanced\", \"speed\", \"price\", \"quality\", \"environment\""

static int keyjson_apply_limits(fg_key_record_t *rec, json_t *v,
                                fg_err_t *err);
static int keyjson_get_transforms(const json_t *v, uint8_t *out,
                                  fg_err_t *err);
static json_t *keyjson_transforms(uint8_t transforms);
static int keyjson_apply_energy(fg_key_record_t *rec, json_t *v,
                                fg_err_t *err);

const char *
fg_keyjson_status_name(uint32_t status)
{
    switch (status) {
    case FG_KEY_STATUS_ACTIVE:  return "active";
    case FG_KEY_STATUS_REVOKED: return "revoked";
    case FG_KEY_STATUS_ROTATED: return "rotated";
    default:                    return "unknown";
    }
}

/* @preset's name, or NULL for none (or a value no preset has). */
static const char *
keyjson_preset_name(int32_t preset)
{
    return preset >= 0 && preset < FG_PRESET_COUNT
           ? fg_route_preset_name((fg_preset_t) preset) : NULL;
}

json_t *
fg_keyjson_store(const fg_key_record_t *rec)
{
    char     hex[FG_KEY_HASH_BYTES * 2 + 1];
    json_t  *models = json_array();
    uint32_t i;

    sodium_bin2hex(hex, sizeof(hex), rec->kr_hash, FG_KEY_HASH_BYTES);
    for (i = 0; i < rec->kr_models_count && i < FG_KEY_RECORD_MODELS_MAX;
         i++) {
        json_array_append_new(models, json_string(rec->kr_models[i]));
    }
    /* "s*", "o*": no "preset" or "transforms" member for none, as in
     * stores from before them. */
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:o, "
                     "s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, "
                     "s:I, s:s*, s:o*}",
                     "hash", hex,
                     "id", rec->kr_id,
                     "name", rec->kr_name,
                     "owner", rec->kr_owner,
                     "created_ms", (json_int_t) rec->kr_created_ms,
                     "updated_ms", (json_int_t) rec->kr_updated_ms,
                     "expires_ms", (json_int_t) rec->kr_expires_ms,
                     "grace_until_ms", (json_int_t) rec->kr_grace_until_ms,
                     "status", (int) rec->kr_status,
                     "models", models,
                     "requests_per_min", (json_int_t) rec->kr_requests_per_min,
                     "tokens_per_min", (json_int_t) rec->kr_tokens_per_min,
                     "max_concurrent", (json_int_t) rec->kr_max_concurrent,
                     "balance_micro", (json_int_t) rec->kr_balance_micro,
                     "regen_per_hour_micro",
                     (json_int_t) rec->kr_regen_per_hour_micro,
                     "cap_micro", (json_int_t) rec->kr_cap_micro,
                     "metadata", rec->kr_metadata,
                     "usage_file", (json_int_t) rec->kr_usage_file,
                     "usage_offset", (json_int_t) rec->kr_usage_offset,
                     "regen_at_ms", (json_int_t) rec->kr_regen_at_ms,
                     "regen_carry", (json_int_t) rec->kr_regen_carry,
                     "preset", keyjson_preset_name(rec->kr_preset),
                     "transforms", rec->kr_transforms != 0
                                   ? keyjson_transforms(rec->kr_transforms)
                                   : NULL);
}

int
fg_keyjson_from_store(const json_t *obj, fg_key_record_t *rec, fg_err_t *err)
{
    const char  *hash, *id, *name, *owner, *metadata, *preset = NULL;
    json_int_t   created, updated, expires, grace, rpm, tpm, conc;
    json_int_t   balance, regen, cap;
    json_int_t   usage_file = -1, usage_offset = 0, regen_at = -1;
    json_int_t   regen_carry = 0;
    int          status;
    json_t      *models, *m, *transforms = NULL;
    json_error_t jerr;
    size_t       i, bin_len;

    memset(rec, 0, sizeof(*rec));
    if (json_unpack_ex((json_t *) obj, &jerr, JSON_STRICT,
                       "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:o, "
                       "s:I, s:I, s:I, s:I, s:I, s:I, s:s, s?I, s?I, "
                       "s?I, s?I, s?s, s?o}",
                       "hash", &hash, "id", &id, "name", &name,
                       "owner", &owner, "created_ms", &created,
                       "updated_ms", &updated, "expires_ms", &expires,
                       "grace_until_ms", &grace, "status", &status,
                       "models", &models, "requests_per_min", &rpm,
                       "tokens_per_min", &tpm, "max_concurrent", &conc,
                       "balance_micro", &balance,
                       "regen_per_hour_micro", &regen, "cap_micro", &cap,
                       "metadata", &metadata,
                       /* since the cold-start replay; absent before */
                       "usage_file", &usage_file,
                       "usage_offset", &usage_offset,
                       "regen_at_ms", &regen_at,
                       "regen_carry", &regen_carry,
                       /* since the routing presets; absent: none */
                       "preset", &preset,
                       /* since the default transforms; absent: none */
                       "transforms", &transforms) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "key record: %s", jerr.text);
    }
    if (sodium_hex2bin(rec->kr_hash, FG_KEY_HASH_BYTES, hash, strlen(hash),
                       NULL, &bin_len, NULL) != 0
        || bin_len != FG_KEY_HASH_BYTES) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "hash",
                          "key record: the hash is not 64 hex digits");
    }
    if (FG_KEY_RECORD_SET(rec, id, id, err) != FG_OK
        || FG_KEY_RECORD_SET(rec, name, name, err) != FG_OK
        || FG_KEY_RECORD_SET(rec, owner, owner, err) != FG_OK
        || FG_KEY_RECORD_SET(rec, metadata, metadata, err) != FG_OK) {
        return FG_ERR;
    }
    if (!json_is_array(models)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "models",
                          "key record: models is not an array");
    }
    json_array_foreach(models, i, m) {
        if (!json_is_string(m)
            || fg_key_record_add_model(rec, json_string_value(m), err)
               != FG_OK) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "models",
                              "key record: bad model pattern");
        }
    }
    rec->kr_created_ms = created;
    rec->kr_updated_ms = updated;
    rec->kr_expires_ms = expires;
    rec->kr_grace_until_ms = grace;
    rec->kr_status = (uint32_t) status;
    rec->kr_requests_per_min = rpm;
    rec->kr_tokens_per_min = tpm;
    rec->kr_max_concurrent = conc;
    rec->kr_balance_micro = balance;
    rec->kr_regen_per_hour_micro = regen;
    rec->kr_cap_micro = cap;
    if (usage_file < -1 || usage_offset < 0 || regen_carry < 0
        || regen_carry >= 3600000) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "usage_offset",
                          "key record: a bad usage position");
    }
    rec->kr_usage_file = usage_file < 0 ? FG_KEY_USAGE_LEGACY
                                        : (uint64_t) usage_file;
    rec->kr_usage_offset = (uint64_t) usage_offset;
    /* Before positions, the balance was regenerated up to updated_ms. */
    rec->kr_regen_at_ms = regen_at > 0 ? regen_at : updated;
    rec->kr_regen_carry = regen_carry;
    rec->kr_preset = FG_PRESET_UNSET;
    if (preset != NULL
        && (rec->kr_preset = fg_route_preset_parse(preset, strlen(preset)))
           == FG_PRESET_UNSET) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "preset",
                          "key record: an unknown preset");
    }
    if (transforms != NULL
        && keyjson_get_transforms(transforms, &rec->kr_transforms, err)
           != FG_OK) {
        return FG_ERR;
    }
    return fg_key_record_validate(rec, err);
}

json_t *
fg_keyjson_view(const fg_key_record_t *rec, int64_t previous_valid_until_ms)
{
    json_t  *models = json_array(), *metadata, *v;
    uint32_t i;

    for (i = 0; i < rec->kr_models_count && i < FG_KEY_RECORD_MODELS_MAX;
         i++) {
        json_array_append_new(models, json_string(rec->kr_models[i]));
    }
    metadata = rec->kr_metadata[0]
               ? json_loads(rec->kr_metadata, 0, NULL) : NULL;
    if (metadata == NULL) {
        metadata = json_object();
    }
    v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, "
                  "s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:s?, s:o, "
                  "s:o, s:o}",
                  "object", "api_key",
                  "id", rec->kr_id,
                  "name", rec->kr_name,
                  "owner", rec->kr_owner,
                  "status", fg_keyjson_status_name(rec->kr_status),
                  "created_at", (json_int_t) (rec->kr_created_ms / 1000),
                  "updated_at", (json_int_t) (rec->kr_updated_ms / 1000),
                  "expires_at", rec->kr_expires_ms > 0
                                ? json_integer(rec->kr_expires_ms / 1000)
                                : json_null(),
                  "models", models,
                  "limits",
                  "requests_per_min", (json_int_t) rec->kr_requests_per_min,
                  "tokens_per_min", (json_int_t) rec->kr_tokens_per_min,
                  "max_concurrent", (json_int_t) rec->kr_max_concurrent,
                  "energy",
                  "balance_micro", (json_int_t) rec->kr_balance_micro,
                  "regen_per_hour_micro",
                  (json_int_t) rec->kr_regen_per_hour_micro,
                  "cap_micro", (json_int_t) rec->kr_cap_micro,
                  "preset", keyjson_preset_name(rec->kr_preset),
                  "transforms", keyjson_transforms(rec->kr_transforms),
                  "metadata", metadata,
                  "previous_secret_valid_until",
                  previous_valid_until_ms > 0
                  ? json_integer(previous_valid_until_ms / 1000)
                  : json_null());
    if (v == NULL) {
        abort();
    }
    return v;
}

static int
keyjson_get_count(json_t *v, const char *param, int64_t max, int64_t *out,
                  fg_err_t *err)
{
    if (!json_is_integer(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, param,
                          "%s must be an integer", param);
    }
    if (json_integer_value(v) < 0 || json_integer_value(v) > max) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, param,
                          "%s must be between 0 and %lld", param,
                          (long long) max);
    }
    *out = json_integer_value(v);
    return FG_OK;
}

static int
keyjson_apply_limits(fg_key_record_t *rec, json_t *v, fg_err_t *err)
{
    const char *key;
    json_t     *f;

    if (!json_is_object(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "limits",
                          "limits must be an object");
    }
    json_object_foreach(v, key, f) {
        int64_t *dst;
        char     param[64];

        if (strcmp(key, "requests_per_min") == 0) {
            dst = &rec->kr_requests_per_min;
        } else if (strcmp(key, "tokens_per_min") == 0) {
            dst = &rec->kr_tokens_per_min;
        } else if (strcmp(key, "max_concurrent") == 0) {
            dst = &rec->kr_max_concurrent;
        } else {
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, "limits",
                              "unknown field limits.%.40s", key);
        }
        snprintf(param, sizeof(param), "limits.%s", key);
        if (keyjson_get_count(f, param, FG_KEYJSON_LIMIT_MAX, dst, err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

static int
keyjson_apply_energy(fg_key_record_t *rec, json_t *v, fg_err_t *err)
{
    const char *key;
    json_t     *f;

    if (!json_is_object(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "energy",
                          "energy must be an object");
    }
    json_object_foreach(v, key, f) {
        int64_t *dst;
        char     param[64];

        if (strcmp(key, "balance_micro") == 0) {
            dst = &rec->kr_balance_micro;
        } else if (strcmp(key, "regen_per_hour_micro") == 0) {
            dst = &rec->kr_regen_per_hour_micro;
        } else if (strcmp(key, "cap_micro") == 0) {
            dst = &rec->kr_cap_micro;
        } else {
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, "energy",
                              "unknown field energy.%.40s", key);
        }
        snprintf(param, sizeof(param), "energy.%s", key);
        if (keyjson_get_count(f, param, FG_KEYJSON_ENERGY_MAX, dst, err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

static int
keyjson_apply_string(char *dst, size_t size, json_t *v, const char *param,
                     int may_be_empty, fg_err_t *err)
{
    const char *s;
    size_t      i, len;

    if (!json_is_string(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, param,
                          "%s must be a string", param);
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if ((len == 0 && !may_be_empty) || len >= size) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, param,
                          "%s must be %d to %zu bytes", param,
                          may_be_empty ? 0 : 1, size - 1);
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return fg_err_set(err, FG_E_INVALID_VALUE, param,
                              "%s must not hold control characters", param);
        }
    }
    memcpy(dst, s, len + 1);
    return FG_OK;
}

static int
keyjson_apply_models(fg_key_record_t *rec, json_t *v, fg_err_t *err)
{
    size_t  i;
    json_t *m;

    if (!json_is_array(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "models",
                          "models must be an array of model ids or "
                          "\"provider/*\" patterns");
    }
    rec->kr_models_count = 0;
    memset(rec->kr_models, 0, sizeof(rec->kr_models));
    json_array_foreach(v, i, m) {
        if (!json_is_string(m)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, "models",
                              "models[%zu] must be a string", i);
        }
        if (fg_key_record_add_model(rec, json_string_value(m), err)
            != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

static int
keyjson_apply_metadata(fg_key_record_t *rec, json_t *v, fg_err_t *err)
{
    char *text;
    int   rc;

    if (!json_is_object(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "metadata",
                          "metadata must be an object");
    }
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "metadata",
                          "metadata cannot be serialised");
    }
    rc = FG_KEY_RECORD_SET(rec, metadata, text, err);
    free(text);
    return rc;
}

/* "preset": a preset's name, or null for none. */
static int
keyjson_apply_preset(fg_key_record_t *rec, json_t *v, fg_err_t *err)
{
    int32_t p = FG_PRESET_UNSET;

    if (json_is_null(v)) {
        rec->kr_preset = FG_PRESET_UNSET;
        return FG_OK;
    }
    if (json_is_string(v)) {
        p = fg_route_preset_parse(json_string_value(v),
                                  json_string_length(v));
    }
    if (p == FG_PRESET_UNSET) {
        return fg_err_set(err, json_is_string(v) ? FG_E_INVALID_VALUE
                                                 : FG_E_INVALID_TYPE,
                          "preset", "preset must be one of "
                          KEYJSON_PRESETS_ACCEPTED ", or null for none");
    }
    rec->kr_preset = p;
    return FG_OK;
}

/* The names of the @transforms bits, as a new array ([] for none). */
static json_t *
keyjson_transforms(uint8_t transforms)
{
    json_t  *names = json_array();
    unsigned bit;

    for (bit = 1; bit <= FG_KEY_TRANSFORMS_KNOWN; bit <<= 1) {
        if ((transforms & bit) != 0) {
            json_array_append_new(names,
                                  json_string(fg_key_transform_name(bit)));
        }
    }
    return names;
}

/*
 * "transforms": an array of at most FG_KEY_TRANSFORMS_LIST_MAX distinct
 * transform names into *@out's bits; null or [] for none. *@out is only
 * written on success. The message names the entry, never echoes it (a
 * cut name could end inside a UTF-8 sequence).
 */
static int
keyjson_get_transforms(const json_t *v, uint8_t *out, fg_err_t *err)
{
    unsigned bits = 0, bit;
    size_t   i;
    json_t  *name;

    if (json_is_null(v)) {
        *out = 0;
        return FG_OK;
    }
    if (!json_is_array(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "transforms",
                          "transforms must be an array of transform names "
                          "(\"middle-out\"), or [] or null for none");
    }
    if (json_array_size(v) > FG_KEY_TRANSFORMS_LIST_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "transforms",
                          "transforms has %zu entries, at most %d",
                          json_array_size(v), FG_KEY_TRANSFORMS_LIST_MAX);
    }
    json_array_foreach(v, i, name) {
        if (!json_is_string(name)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, "transforms",
                              "transforms[%zu] must be a string", i);
        }
        bit = fg_key_transform_parse(json_string_value(name),
                                     json_string_length(name));
        if (bit == 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "transforms",
                              "transforms[%zu] is not a transform: the "
                              "one transform is \"middle-out\"", i);
        }
        if ((bits & bit) != 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "transforms",
                              "transforms[%zu] repeats \"%s\"", i,
                              fg_key_transform_name(bit));
        }
        bits |= bit;
    }
    *out = (uint8_t) bits;
    return FG_OK;
}

static int
keyjson_apply_expiry(fg_key_record_t *rec, json_t *v, int64_t now_ms,
                     fg_err_t *err)
{
    if (json_is_null(v)) {
        rec->kr_expires_ms = 0;
        return FG_OK;
    }
    if (!json_is_integer(v)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, "expires_at",
                          "expires_at must be a Unix time in seconds or "
                          "null");
    }
    /* Up to the year 9999; in the past would make a dead key. */
    if (json_integer_value(v) * 1000 <= now_ms
        || json_integer_value(v) > 253402300799LL) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "expires_at",
                          "expires_at must be in the future");
    }
    rec->kr_expires_ms = json_integer_value(v) * 1000;
    return FG_OK;
}

int
fg_keyjson_apply(fg_key_record_t *rec, const json_t *body, int is_create,
                 int64_t now_ms, fg_err_t *err)
{
    fg_key_record_t copy = *rec;
    const char     *key;
    json_t         *v;
    int             rc;

    if (!json_is_object(body)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "the body must be a JSON object");
    }
    if (is_create && json_object_get(body, "name") == NULL) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, "name",
                          "name is required");
    }
    json_object_foreach((json_t *) body, key, v) {
        if (strcmp(key, "name") == 0) {
            rc = keyjson_apply_string(copy.kr_name, sizeof(copy.kr_name), v,
                                      "name", 0, err);
        } else if (strcmp(key, "owner") == 0) {
            rc = keyjson_apply_string(copy.kr_owner, sizeof(copy.kr_owner),
                                      v, "owner", 1, err);
        } else if (strcmp(key, "models") == 0) {
            rc = keyjson_apply_models(&copy, v, err);
        } else if (strcmp(key, "limits") == 0) {
            rc = keyjson_apply_limits(&copy, v, err);
        } else if (strcmp(key, "energy") == 0) {
            rc = keyjson_apply_energy(&copy, v, err);
        } else if (strcmp(key, "metadata") == 0) {
            rc = keyjson_apply_metadata(&copy, v, err);
        } else if (strcmp(key, "expires_at") == 0) {
            rc = keyjson_apply_expiry(&copy, v, now_ms, err);
        } else if (strcmp(key, "preset") == 0) {
            rc = keyjson_apply_preset(&copy, v, err);
        } else if (strcmp(key, "transforms") == 0) {
            rc = keyjson_get_transforms(v, &copy.kr_transforms, err);
        } else {
            rc = fg_err_set(err, FG_E_FORBIDDEN_FIELD, key,
                            "unknown field \"%.64s\"", key);
        }
        if (rc != FG_OK) {
            return FG_ERR;
        }
    }
    copy.kr_updated_ms = now_ms;
    if (fg_key_record_validate(&copy, err) != FG_OK) {
        return FG_ERR;
    }
    *rec = copy;
    return FG_OK;
}
