#ifndef FG_COMMON_USAGE_H
#define FG_COMMON_USAGE_H

/*
 * The usage record: what one request that passed authentication cost,
 * exactly one per such request (success, upstream error, client gone,
 * timeout, refusal for balance or limits, or a worker killed under it).
 * A worker fills one when the request has finished and pushes it onto its
 * ring in shm (common/accounts/usagering.h); the syncer drains the rings into the
 * usage journal (common/store/usagelog.h).
 *
 * The record is a fixed-size value with no pointers, so it can be copied
 * into shared memory and out again as bytes. Strings are NUL-terminated
 * arrays filled through fg_usage_set_str() (or FG_USAGE_SET), which cuts
 * at a UTF-8 character boundary and replaces invalid UTF-8 and control
 * characters with '?', so every record turns into valid JSON. Impact
 * figures are doubles: they are estimates, never money; money (credit) is
 * int64 micro-units.
 *
 * Library code: no logging, no globals; every function here is pure
 * (memory only) and may be called by any process.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/base/summary.h"

/* Longest value of each string field, in bytes (not counting the NUL). */
#define FG_USAGE_REQUEST_ID_MAX  40
#define FG_USAGE_KEY_ID_MAX      23
#define FG_USAGE_MODEL_MAX       63
#define FG_USAGE_PROVIDER_MAX    31
#define FG_USAGE_ERROR_MAX       47

typedef struct {
    /* Set by fg_usagering_push(), not by the filler. */
    uint64_t seq;                  /* node-local sequence, from 1 */
    uint32_t ring;                 /* the ring it went through */

    int32_t  status;               /* HTTP status sent; 0 if none */
    int64_t  started_unix_ms;      /* wall clock at arrival */
    int64_t  latency_us;           /* arrival to finish */
    int64_t  ttfb_us;              /* to the upstream's first byte; -1 if
                                      none came */
    int64_t  prompt_tokens;        /* cached_tokens included */
    int64_t  completion_tokens;    /* reasoning_tokens included */
    int64_t  reasoning_tokens;
    int64_t  cached_tokens;
    int64_t  charged_micro;        /* credit taken from the balance */
    double   energy_kwh;
    double   carbon_g_co2;
    double   water_liters;

    /* Predicates, 0 or 1 (bytes, not bool: the record lives in shm). */
    uint8_t  is_usage_estimated;   /* counted by the gateway, not reported
                                      by the upstream */
    uint8_t  is_impact_estimated;  /* the model's parameters were not known */
    uint8_t  is_stream;
    uint8_t  is_client_gone;       /* the client left before the end */
    uint8_t  is_worker_lost;       /* written by the master for a request
                                      whose worker was killed */
    uint8_t  pad[3];

    char     request_id[FG_USAGE_REQUEST_ID_MAX + 1];
    char     key_id[FG_USAGE_KEY_ID_MAX + 1];
    char     model_requested[FG_USAGE_MODEL_MAX + 1];
    char     model_served[FG_USAGE_MODEL_MAX + 1];  /* "" if not routed */
    char     provider[FG_USAGE_PROVIDER_MAX + 1];   /* "" if not routed */
    char     error_code[FG_USAGE_ERROR_MAX + 1];    /* "" on success */
    uint8_t  pad2[7];
} fg_usage_record_t;

_Static_assert(sizeof(fg_usage_record_t) == 392, "usage record layout");

/*
 * Copies the C string @src (NULL: "") into @dst of @size bytes (> 0),
 * always NUL-terminated: invalid UTF-8 and control characters become '?',
 * and a value too long is cut at the last whole character that fits.
 * Returns 1 when the value was cut, else 0. Cannot fail.
 */
int fg_usage_set_str(char *dst, size_t size, const char *src);

/* fg_usage_set_str() into a field of a record (an array, not a pointer). */
#define FG_USAGE_SET(field, src)                                            \
    fg_usage_set_str((field), sizeof(field), (src))

/* Clears @rec: every field zero or "", ttfb_us -1. Cannot fail. */
void fg_usage_init(fg_usage_record_t *rec);

/*
 * Clears @rec and fills it from the request summary @s: ids, models,
 * provider, status, error code string (fg_error_code_str(), "" for
 * FG_E_NONE), tokens, the usage-estimated flag, credit, latencies, start
 * time, stream and client-gone flags. The impact figures and their flag
 * come from the summary too when it has them; seq and ring are the
 * ring's. Cannot fail.
 */
void fg_usage_from_summary(fg_usage_record_t *rec,
                           const fg_request_summary_t *s);

/*
 * The record as a JSON object, one member per field named as the field
 * (booleans without their "is_" prefix: "usage_estimated", "stream", …).
 * Non-finite impact figures are written as 0. Returns a new reference
 * (the caller owns it); never NULL (allocation failure aborts).
 */
json_t *fg_usage_to_json(const fg_usage_record_t *rec);

/*
 * Writes the members of fg_usage_to_json() after "ring", in its order and
 * as jansson would print them, each preceded by a comma, into @dst, which
 * must hold FG_USAGE_MEMBERS_MAX bytes; returns the length. For the usage
 * journal's hot path: no allocation, no jansson.
 */
#define FG_USAGE_MEMBERS_MAX 4096
size_t fg_usage_write_members(const fg_usage_record_t *rec, char *dst);

/*
 * Fills @rec from @obj, the shape fg_usage_to_json() writes. Every member
 * must be there with its type; unknown members are ignored (a later
 * version may add some). Strings go through fg_usage_set_str(). Returns
 * FG_OK, or FG_ERR with @err naming the member (FG_E_INVALID_VALUE), and
 * @rec then holds no meaning.
 */
int fg_usage_from_json(fg_usage_record_t *rec, const json_t *obj,
                       fg_err_t *err);

#endif
