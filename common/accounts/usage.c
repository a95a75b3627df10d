/*
 * usage.c: the usage record's string fields, its filling from a request
 * summary, and its JSON shape.
 *
 * Strings reach a record from many places (a client's x-request-id, a
 * model name the client sent, an upstream's error), and the record ends
 * as a JSON line that jansson must be able to write. So every string is
 * copied through one function that makes it valid UTF-8 without control
 * characters and cuts it at a character boundary, never in the middle of
 * one: a record can always be written, and reading it back gives the
 * same bytes.
 *
 * The JSON shape has a version (FG_USAGE_JSON_VERSION) because journals
 * outlive builds: version 1 is what the 392-byte record wrote, and it
 * stays readable; only the newest is written.
 */

#include <math.h>
#include <string.h>

#include "common/wire/fmt.h"
#include "common/accounts/usage.h"
#include "common/wire/utf8.h"

static int usage_copy(char *dst, size_t size, const char *src, size_t len);
static json_t *usage_json_str(const char *field, size_t size);
static double usage_finite(double v);
static json_t *usage_flags_json(uint32_t flags);
static json_t *usage_attempts_json(const fg_usage_record_t *rec);
static int usage_flags_from_json(fg_usage_record_t *rec, const json_t *a,
                                 fg_err_t *err);
static int usage_attempts_from_json(fg_usage_record_t *rec, const json_t *a,
                                    fg_err_t *err);

static const char *const usage_flag_names[FG_USAGE_FLAG_BITS] = {
    "estimated", "impact_estimated", "stream", "client_gone",
    "worker_lost", "provider_usage_malformed", "json_repaired",
    "compressed", "attempts_cut", "reservation", "reservation_end"
};

static const char *const usage_api_names[FG_USAGE_API_COUNT] = {
    "chat", "responses", "embeddings", "completions"
};

const char *
fg_usage_flag_name(unsigned bit)
{
    return bit < FG_USAGE_FLAG_BITS ? usage_flag_names[bit] : NULL;
}

const char *
fg_usage_api_name(unsigned api)
{
    return usage_api_names[api < FG_USAGE_API_COUNT ? api : 0];
}

static int
usage_copy(char *dst, size_t size, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *) src;
    size_t               i = 0, o = 0, n, out;
    int                  is_cut = 0;

    while (i < len) {
        /* Ids and names are printable ASCII: copy such a run at once. */
        for (n = 0; i + n < len && s[i + n] >= 0x20 && s[i + n] < 0x7f; n++) {
        }
        if (n > 0) {
            if (o + n > size - 1) {
                n = size - 1 - o;
                is_cut = 1;
            }
            memcpy(dst + o, s + i, n);
            o += n;
            i += n;
            if (is_cut) {
                break;
            }
            continue;
        }
        n = fg_utf8_len(s + i, len - i);
        out = n == 0 ? 1 : n;
        if (o + out > size - 1) {
            is_cut = 1;
            break;
        }
        if (n == 0 || s[i] < 0x20 || s[i] == 0x7f) {
            dst[o++] = '?';
            i += n == 0 ? 1 : n;
            continue;
        }
        memcpy(dst + o, s + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
    return is_cut;
}

int
fg_usage_set_str(char *dst, size_t size, const char *src)
{
    if (size == 0) {
        return src != NULL && src[0] != '\0';
    }
    if (src == NULL) {
        dst[0] = '\0';
        return 0;
    }
    return usage_copy(dst, size, src, strlen(src));
}

void
fg_usage_init(fg_usage_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->ttfb_us = -1;
}

void
fg_usage_from_summary(fg_usage_record_t *rec, const fg_request_summary_t *s)
{
    fg_usage_init(rec);
    FG_USAGE_SET(rec->request_id, s->request_id);
    FG_USAGE_SET(rec->key_id, s->key_id);
    FG_USAGE_SET(rec->model_requested, s->model_requested);
    FG_USAGE_SET(rec->model_served, s->model_served);
    FG_USAGE_SET(rec->provider, s->provider);
    FG_USAGE_SET(rec->error_code,
                 s->error == FG_E_NONE ? "" : fg_error_code_str(s->error));
    rec->status = s->status;
    rec->started_unix_ms = s->started_unix_ms;
    rec->latency_us = s->latency_us;
    rec->ttfb_us = s->ttfb_us;
    rec->prompt_tokens = s->prompt_tokens;
    rec->completion_tokens = s->completion_tokens;
    rec->reasoning_tokens = s->reasoning_tokens;
    rec->cached_tokens = s->cached_tokens;
    rec->charged_micro = s->charged_micro;
    if (s->usage_estimated) {
        rec->flags |= FG_USAGE_ESTIMATED;
    }
    if (s->is_usage_invalid) {
        rec->flags |= FG_USAGE_PROVIDER_USAGE_MALFORMED;
    }
    if (s->has_impact) {
        rec->energy_kwh = s->energy_kwh;
        rec->carbon_g_co2 = s->carbon_g_co2;
        rec->water_liters = s->water_liters;
        if (s->impact_estimated) {
            rec->flags |= FG_USAGE_IMPACT_ESTIMATED;
        }
    }
    if (s->is_stream) {
        rec->flags |= FG_USAGE_STREAM;
    }
    if (s->is_client_gone) {
        rec->flags |= FG_USAGE_CLIENT_GONE;
    }
}

void
fg_usage_add_attempt(fg_usage_record_t *rec, const char *provider,
                     const char *model, const fg_attempt_result_t *res)
{
    fg_usage_attempt_t *a;

    if (rec->attempts_n >= FG_USAGE_MAX_ATTEMPTS) {
        rec->flags |= FG_USAGE_ATTEMPTS_CUT;
        return;
    }
    a = &rec->attempts[rec->attempts_n++];
    memset(a, 0, sizeof(*a));
    FG_USAGE_SET(a->provider, provider);
    FG_USAGE_SET(a->model, model);
    a->outcome = (unsigned) res->outcome < FG_ATTEMPT_OUTCOME_COUNT
                 ? (uint8_t) res->outcome : FG_ATTEMPT_NONE;
    a->status = res->status;
    a->latency_us = res->latency_us;
}

/*
 * A string field as JSON. The field may have been filled without
 * fg_usage_set_str() (or be unterminated in a damaged record), so it is
 * bounded by its array and cleaned again: jansson refuses invalid UTF-8.
 */
static json_t *
usage_json_str(const char *field, size_t size)
{
    char buf[FG_USAGE_REQUEST_ID_MAX + 1];

    usage_copy(buf, sizeof(buf), field, strnlen(field, size - 1));
    return json_string(buf);
}

static double
usage_finite(double v)
{
    return isfinite(v) ? v : 0.0;
}

static json_t *
usage_flags_json(uint32_t flags)
{
    json_t  *a = json_array();
    unsigned bit;

    for (bit = 0; bit < FG_USAGE_FLAG_BITS; bit++) {
        if (flags & (1u << bit)) {
            json_array_append_new(a, json_string(usage_flag_names[bit]));
        }
    }
    return a;
}

#define USAGE_STR(rec, f)  usage_json_str((rec)->f, sizeof((rec)->f))

static json_t *
usage_attempts_json(const fg_usage_record_t *rec)
{
    json_t  *a = json_array();
    unsigned i, n = rec->attempts_n;

    for (i = 0; i < n && i < FG_USAGE_MAX_ATTEMPTS; i++) {
        const fg_usage_attempt_t *at = &rec->attempts[i];

        json_array_append_new(a, json_pack(
            "{s:o, s:o, s:s, s:i, s:I}",
            "provider", USAGE_STR(at, provider),
            "model", USAGE_STR(at, model),
            "outcome", fg_attempt_outcome_name(at->outcome),
            "status", (int) at->status,
            "latency_us", (json_int_t) at->latency_us));
    }
    return a;
}

#define USAGE_HAS(rec, bit)  (((rec)->flags & (bit)) != 0)

json_t *
fg_usage_to_json(const fg_usage_record_t *rec)
{
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:i, "
                     "s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, "
                     "s:I, s:f, s:f, s:f, s:b, s:b, s:b, s:b, s:o, s:o}",
                     "seq", (json_int_t) rec->seq,
                     "ring", (json_int_t) rec->ring,
                     "request_id", USAGE_STR(rec, request_id),
                     "client_request_id", USAGE_STR(rec, client_request_id),
                     "key_id", USAGE_STR(rec, key_id),
                     "api", fg_usage_api_name(rec->api),
                     "model_requested", USAGE_STR(rec, model_requested),
                     "model_served", USAGE_STR(rec, model_served),
                     "provider", USAGE_STR(rec, provider),
                     "status", (int) rec->status,
                     "error_code", USAGE_STR(rec, error_code),
                     "started_unix_ms", (json_int_t) rec->started_unix_ms,
                     "latency_us", (json_int_t) rec->latency_us,
                     "ttfb_us", (json_int_t) rec->ttfb_us,
                     "prompt_tokens", (json_int_t) rec->prompt_tokens,
                     "completion_tokens",
                     (json_int_t) rec->completion_tokens,
                     "reasoning_tokens", (json_int_t) rec->reasoning_tokens,
                     "cached_tokens", (json_int_t) rec->cached_tokens,
                     "usage_estimated", USAGE_HAS(rec, FG_USAGE_ESTIMATED),
                     "charged_micro", (json_int_t) rec->charged_micro,
                     "uncharged_micro", (json_int_t) rec->uncharged_micro,
                     "energy_kwh", usage_finite(rec->energy_kwh),
                     "carbon_g_co2", usage_finite(rec->carbon_g_co2),
                     "water_liters", usage_finite(rec->water_liters),
                     "impact_estimated",
                     USAGE_HAS(rec, FG_USAGE_IMPACT_ESTIMATED),
                     "stream", USAGE_HAS(rec, FG_USAGE_STREAM),
                     "client_gone", USAGE_HAS(rec, FG_USAGE_CLIENT_GONE),
                     "worker_lost", USAGE_HAS(rec, FG_USAGE_WORKER_LOST),
                     "flags", usage_flags_json(rec->flags),
                     "attempts", usage_attempts_json(rec));
}

/* Appends the JSON string of a record field (cleaned as usage_json_str). */
static char *
usage_put_str(char *o, const char *field, size_t size)
{
    char   buf[FG_USAGE_REQUEST_ID_MAX + 1];
    size_t i;

    usage_copy(buf, sizeof(buf), field, strnlen(field, size - 1));
    *o++ = '"';
    for (i = 0; buf[i] != '\0'; i++) {
        /* usage_copy() left no control byte: only these two escape. */
        if (buf[i] == '"' || buf[i] == '\\') {
            *o++ = '\\';
        }
        *o++ = buf[i];
    }
    *o++ = '"';
    return o;
}

static char *
usage_put_i64(char *o, int64_t v)
{
    return o + fg_fmt_i64(o, v);
}

/* A real as jansson writes one: %.17g, always with '.' or an exponent,
 * the exponent without '+' or leading zeros. */
static char *
usage_put_real(char *o, double v)
{
    char   buf[40], *e;
    int    n;
    size_t i, k;

    v = usage_finite(v);
    if (v == 0.0) {
        /* Reservation and settle entries carry no impact: no printf. */
        memcpy(o, "0.0", 3);
        return o + 3;
    }
    n = snprintf(buf, sizeof(buf), "%.17g", v);
    if (n <= 0 || (size_t) n >= sizeof(buf)) {
        memcpy(o, "0.0", 3);
        return o + 3;
    }
    e = strchr(buf, 'e');
    if (e == NULL && strchr(buf, '.') == NULL) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    if (e != NULL) {
        k = (size_t) (e - buf) + 1;
        i = k;
        if (buf[i] == '+') {
            i++;
        } else if (buf[i] == '-') {
            buf[k++] = '-';
            i++;
        }
        while (buf[i] == '0' && buf[i + 1] != '\0') {
            i++;
        }
        while (buf[i] != '\0') {
            buf[k++] = buf[i++];
        }
        buf[k] = '\0';
        n = (int) k;
    }
    memcpy(o, buf, (size_t) n);
    return o + n;
}

#define USAGE_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), \
                           (o) + sizeof(lit) - 1)
#define USAGE_PUT_STR(o, rec, f) usage_put_str((o), (rec)->f, \
                                               sizeof((rec)->f))
#define USAGE_PUT_BOOL(o, v) ((v) ? USAGE_LIT((o), "true") \
                                  : USAGE_LIT((o), "false"))

/* The names of the flag bits set, as a JSON array. */
static char *
usage_put_flags(char *o, uint32_t flags)
{
    const char *name;
    unsigned    bit, n = 0;
    size_t      len;

    *o++ = '[';
    for (bit = 0; bit < FG_USAGE_FLAG_BITS; bit++) {
        if (!(flags & (1u << bit))) {
            continue;
        }
        name = usage_flag_names[bit];
        len = strlen(name);
        if (n++ > 0) {
            *o++ = ',';
        }
        *o++ = '"';
        memcpy(o, name, len);
        o += len;
        *o++ = '"';
    }
    *o++ = ']';
    return o;
}

static char *
usage_put_attempts(char *o, const fg_usage_record_t *rec)
{
    const char *outcome;
    unsigned    i;
    size_t      len;

    *o++ = '[';
    for (i = 0; i < rec->attempts_n && i < FG_USAGE_MAX_ATTEMPTS; i++) {
        const fg_usage_attempt_t *at = &rec->attempts[i];

        if (i > 0) {
            *o++ = ',';
        }
        o = USAGE_LIT(o, "{\"provider\":");
        o = USAGE_PUT_STR(o, at, provider);
        o = USAGE_LIT(o, ",\"model\":");
        o = USAGE_PUT_STR(o, at, model);
        o = USAGE_LIT(o, ",\"outcome\":\"");
        outcome = fg_attempt_outcome_name(at->outcome);
        len = strlen(outcome);
        memcpy(o, outcome, len);
        o += len;
        o = USAGE_LIT(o, "\",\"status\":");
        o = usage_put_i64(o, at->status);
        o = USAGE_LIT(o, ",\"latency_us\":");
        o = usage_put_i64(o, at->latency_us);
        *o++ = '}';
    }
    *o++ = ']';
    return o;
}

size_t
fg_usage_write_members(const fg_usage_record_t *rec, char *dst)
{
    char *o = dst;

    o = USAGE_LIT(o, ",\"request_id\":");
    o = USAGE_PUT_STR(o, rec, request_id);
    o = USAGE_LIT(o, ",\"client_request_id\":");
    o = USAGE_PUT_STR(o, rec, client_request_id);
    o = USAGE_LIT(o, ",\"key_id\":");
    o = USAGE_PUT_STR(o, rec, key_id);
    o = USAGE_LIT(o, ",\"api\":\"");
    o = stpcpy(o, fg_usage_api_name(rec->api));
    o = USAGE_LIT(o, "\",\"model_requested\":");
    o = USAGE_PUT_STR(o, rec, model_requested);
    o = USAGE_LIT(o, ",\"model_served\":");
    o = USAGE_PUT_STR(o, rec, model_served);
    o = USAGE_LIT(o, ",\"provider\":");
    o = USAGE_PUT_STR(o, rec, provider);
    o = USAGE_LIT(o, ",\"status\":");
    o = usage_put_i64(o, rec->status);
    o = USAGE_LIT(o, ",\"error_code\":");
    o = USAGE_PUT_STR(o, rec, error_code);
    o = USAGE_LIT(o, ",\"started_unix_ms\":");
    o = usage_put_i64(o, rec->started_unix_ms);
    o = USAGE_LIT(o, ",\"latency_us\":");
    o = usage_put_i64(o, rec->latency_us);
    o = USAGE_LIT(o, ",\"ttfb_us\":");
    o = usage_put_i64(o, rec->ttfb_us);
    o = USAGE_LIT(o, ",\"prompt_tokens\":");
    o = usage_put_i64(o, rec->prompt_tokens);
    o = USAGE_LIT(o, ",\"completion_tokens\":");
    o = usage_put_i64(o, rec->completion_tokens);
    o = USAGE_LIT(o, ",\"reasoning_tokens\":");
    o = usage_put_i64(o, rec->reasoning_tokens);
    o = USAGE_LIT(o, ",\"cached_tokens\":");
    o = usage_put_i64(o, rec->cached_tokens);
    o = USAGE_LIT(o, ",\"usage_estimated\":");
    o = USAGE_PUT_BOOL(o, USAGE_HAS(rec, FG_USAGE_ESTIMATED));
    o = USAGE_LIT(o, ",\"charged_micro\":");
    o = usage_put_i64(o, rec->charged_micro);
    o = USAGE_LIT(o, ",\"uncharged_micro\":");
    o = usage_put_i64(o, rec->uncharged_micro);
    o = USAGE_LIT(o, ",\"energy_kwh\":");
    o = usage_put_real(o, rec->energy_kwh);
    o = USAGE_LIT(o, ",\"carbon_g_co2\":");
    o = usage_put_real(o, rec->carbon_g_co2);
    o = USAGE_LIT(o, ",\"water_liters\":");
    o = usage_put_real(o, rec->water_liters);
    o = USAGE_LIT(o, ",\"impact_estimated\":");
    o = USAGE_PUT_BOOL(o, USAGE_HAS(rec, FG_USAGE_IMPACT_ESTIMATED));
    o = USAGE_LIT(o, ",\"stream\":");
    o = USAGE_PUT_BOOL(o, USAGE_HAS(rec, FG_USAGE_STREAM));
    o = USAGE_LIT(o, ",\"client_gone\":");
    o = USAGE_PUT_BOOL(o, USAGE_HAS(rec, FG_USAGE_CLIENT_GONE));
    o = USAGE_LIT(o, ",\"worker_lost\":");
    o = USAGE_PUT_BOOL(o, USAGE_HAS(rec, FG_USAGE_WORKER_LOST));
    o = USAGE_LIT(o, ",\"flags\":");
    o = usage_put_flags(o, rec->flags);
    o = USAGE_LIT(o, ",\"attempts\":");
    o = usage_put_attempts(o, rec);
    return (size_t) (o - dst);
}

/* The bits named in @a (an array of strings); unknown names are a later
 * build's and are skipped. */
static int
usage_flags_from_json(fg_usage_record_t *rec, const json_t *a, fg_err_t *err)
{
    const char *name;
    size_t      i;
    unsigned    bit;

    if (!json_is_array(a)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "flags",
                          "usage record: flags is not an array");
    }
    for (i = 0; i < json_array_size(a); i++) {
        name = json_string_value(json_array_get(a, i));
        if (name == NULL) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "flags",
                              "usage record: a flag is not a string");
        }
        for (bit = 0; bit < FG_USAGE_FLAG_BITS; bit++) {
            if (strcmp(name, usage_flag_names[bit]) == 0) {
                rec->flags |= 1u << bit;
                break;
            }
        }
    }
    return FG_OK;
}

static int
usage_attempts_from_json(fg_usage_record_t *rec, const json_t *a,
                         fg_err_t *err)
{
    fg_attempt_result_t res;
    json_error_t        jerr;
    json_int_t          latency;
    const char         *provider, *model, *outcome;
    size_t              i;
    int                 status, o;

    if (!json_is_array(a)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "attempts",
                          "usage record: attempts is not an array");
    }
    for (i = 0; i < json_array_size(a); i++) {
        if (json_unpack_ex(json_array_get(a, i), &jerr, 0,
                           "{s:s, s:s, s:s, s:i, s:I}",
                           "provider", &provider, "model", &model,
                           "outcome", &outcome, "status", &status,
                           "latency_us", &latency) != 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "attempts",
                              "usage record: attempt %zu: %s", i,
                              jerr.text);
        }
        memset(&res, 0, sizeof(res));
        for (o = 0; o < FG_ATTEMPT_OUTCOME_COUNT; o++) {
            if (strcmp(outcome, fg_attempt_outcome_name(o)) == 0) {
                res.outcome = (fg_attempt_outcome_t) o;
                break;
            }
        }
        res.status = status;
        res.latency_us = latency;
        fg_usage_add_attempt(rec, provider, model, &res);
    }
    return FG_OK;
}

int
fg_usage_from_json(fg_usage_record_t *rec, const json_t *obj, int version,
                   fg_err_t *err)
{
    json_int_t   seq, ring, started, latency, ttfb, prompt, completion,
                 reasoning, cached, charged, uncharged = 0;
    int          status, est, impact_est, stream, gone, lost;
    unsigned     api;
    const char  *request_id, *key_id, *requested, *served, *provider,
                *error_code, *client_id = "", *api_name = "chat";
    json_t      *flags = NULL, *attempts = NULL;
    json_error_t jerr;

    fg_usage_init(rec);
    if (version != FG_USAGE_JSON_V1 && version != FG_USAGE_JSON_VERSION) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "v",
                          "usage record: version %d is not one this build "
                          "reads (%d, %d)", version, FG_USAGE_JSON_V1,
                          FG_USAGE_JSON_VERSION);
    }
    if (json_unpack_ex((json_t *) obj, &jerr, 0,
                       "{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:s, "
                       "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, "
                       "s:F, s:F, s:F, s:b, s:b, s:b, s:b}",
                       "seq", &seq, "ring", &ring,
                       "request_id", &request_id, "key_id", &key_id,
                       "model_requested", &requested,
                       "model_served", &served, "provider", &provider,
                       "status", &status, "error_code", &error_code,
                       "started_unix_ms", &started, "latency_us", &latency,
                       "ttfb_us", &ttfb, "prompt_tokens", &prompt,
                       "completion_tokens", &completion,
                       "reasoning_tokens", &reasoning,
                       "cached_tokens", &cached, "usage_estimated", &est,
                       "charged_micro", &charged,
                       "energy_kwh", &rec->energy_kwh,
                       "carbon_g_co2", &rec->carbon_g_co2,
                       "water_liters", &rec->water_liters,
                       "impact_estimated", &impact_est, "stream", &stream,
                       "client_gone", &gone, "worker_lost", &lost) != 0
        || (version == FG_USAGE_JSON_VERSION
            && json_unpack_ex((json_t *) obj, &jerr, 0,
                              "{s:s, s:s, s:I, s:o, s:o}",
                              "client_request_id", &client_id,
                              "api", &api_name,
                              "uncharged_micro", &uncharged,
                              "flags", &flags, "attempts", &attempts)
               != 0)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "usage record: %s", jerr.text);
    }
    if (seq < 0 || ring < 0 || ring > UINT32_MAX) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "usage record: seq %lld or ring %lld out of range",
                          (long long) seq, (long long) ring);
    }
    for (api = 0; api < FG_USAGE_API_COUNT; api++) {
        if (strcmp(api_name, usage_api_names[api]) == 0) {
            break;
        }
    }
    if (api == FG_USAGE_API_COUNT) {
        return fg_err_set(err, FG_E_INVALID_VALUE, "api",
                          "usage record: unknown api \"%s\"", api_name);
    }
    rec->seq = (uint64_t) seq;
    rec->ring = (uint32_t) ring;
    rec->status = status;
    rec->started_unix_ms = started;
    rec->latency_us = latency;
    rec->ttfb_us = ttfb;
    rec->prompt_tokens = prompt;
    rec->completion_tokens = completion;
    rec->reasoning_tokens = reasoning;
    rec->cached_tokens = cached;
    rec->charged_micro = charged;
    rec->uncharged_micro = uncharged;
    rec->api = (uint8_t) api;
    if (flags != NULL) {
        if (usage_flags_from_json(rec, flags, err) != FG_OK
            || usage_attempts_from_json(rec, attempts, err) != FG_OK) {
            return FG_ERR;
        }
    } else {
        /* Version 1: the booleans were the only flags. */
        rec->flags = (est ? FG_USAGE_ESTIMATED : 0)
                     | (impact_est ? FG_USAGE_IMPACT_ESTIMATED : 0)
                     | (stream ? FG_USAGE_STREAM : 0)
                     | (gone ? FG_USAGE_CLIENT_GONE : 0)
                     | (lost ? FG_USAGE_WORKER_LOST : 0);
    }
    FG_USAGE_SET(rec->request_id, request_id);
    FG_USAGE_SET(rec->client_request_id, client_id);
    FG_USAGE_SET(rec->key_id, key_id);
    FG_USAGE_SET(rec->model_requested, requested);
    FG_USAGE_SET(rec->model_served, served);
    FG_USAGE_SET(rec->provider, provider);
    FG_USAGE_SET(rec->error_code, error_code);
    return FG_OK;
}
