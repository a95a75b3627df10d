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
#include "common/wire/attempt.h"

/* Longest value of each string field, in bytes (not counting the NUL).
 * The two ids take what the worker accepts whole (FG_REQUEST_ID_MAX):
 * nothing that reaches a record is cut. */
#define FG_USAGE_REQUEST_ID_MAX  128
#define FG_USAGE_KEY_ID_MAX      23
#define FG_USAGE_MODEL_MAX       63
#define FG_USAGE_PROVIDER_MAX    31
#define FG_USAGE_ERROR_MAX       47

/*
 * The upstream attempts a record keeps: the cap of the future
 * routing.max_attempts (a router that tries more keeps the first ones
 * and says so with FG_USAGE_ATTEMPTS_CUT).
 */
#define FG_USAGE_MAX_ATTEMPTS    4

/* What the record says about itself: bits of fg_usage_record_t.flags. A
 * new bit gets a name in fg_usage_flag_name() and nothing else changes:
 * the journal writes the names of the bits that are set. */
#define FG_USAGE_ESTIMATED                 (1u << 0)  /* tokens counted by
                                                         the gateway, not
                                                         the provider */
#define FG_USAGE_IMPACT_ESTIMATED          (1u << 1)  /* model's parameters
                                                         not known */
#define FG_USAGE_STREAM                    (1u << 2)
#define FG_USAGE_CLIENT_GONE               (1u << 3)  /* left before the
                                                         end */
#define FG_USAGE_WORKER_LOST               (1u << 4)  /* written by the
                                                         master: its worker
                                                         was killed */
#define FG_USAGE_PROVIDER_USAGE_MALFORMED  (1u << 5)  /* the provider's
                                                         usage was there
                                                         but unusable */
#define FG_USAGE_JSON_REPAIRED             (1u << 6)  /* the reply's JSON
                                                         was repaired */
#define FG_USAGE_COMPRESSED                (1u << 7)  /* the prompt was
                                                         compressed */
#define FG_USAGE_ATTEMPTS_CUT              (1u << 8)  /* more attempts
                                                         than kept */
/* The next two mark entries of the reservation log (master/syncer.c),
 * never lines of the usage journal: a request's reservation, taken
 * before its upstream call (charged_micro is the amount held), and the
 * syncer's note that the request's usage record is in the journal. */
#define FG_USAGE_RESERVATION               (1u << 9)
#define FG_USAGE_RESERVATION_END           (1u << 10)
#define FG_USAGE_FLAG_BITS                 11

/* The API a request was served on. */
typedef enum {
    FG_USAGE_API_CHAT = 0,         /* /v1/chat/completions */
    FG_USAGE_API_RESPONSES,        /* /v1/responses */
    FG_USAGE_API_EMBEDDINGS,       /* /v1/embeddings */
    FG_USAGE_API_COMPLETIONS,      /* /v1/completions */
    FG_USAGE_API_COUNT
} fg_usage_api_t;

/* One upstream attempt: where it went and how it ended. */
typedef struct {
    char     provider[FG_USAGE_PROVIDER_MAX + 1];  /* catalog provider id */
    char     model[FG_USAGE_MODEL_MAX + 1];        /* the provider's model
                                                      id */
    int32_t  status;               /* provider's HTTP status; 0 if none */
    uint8_t  outcome;              /* fg_attempt_outcome_t */
    uint8_t  pad[3];
    int64_t  latency_us;           /* start to end of the attempt */
} fg_usage_attempt_t;

_Static_assert(sizeof(fg_usage_attempt_t) == 112, "usage attempt layout");

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
    int64_t  uncharged_micro;      /* the provider's usage priced beyond
                                      the reservation: counted, not
                                      charged */
    double   energy_kwh;
    double   carbon_g_co2;
    double   water_liters;

    uint32_t flags;                /* FG_USAGE_* bits */
    uint8_t  api;                  /* fg_usage_api_t */
    uint8_t  attempts_n;           /* attempts[] in use, at most
                                      FG_USAGE_MAX_ATTEMPTS */
    uint8_t  pad[2];

    char     request_id[FG_USAGE_REQUEST_ID_MAX + 1];   /* the gateway's */
    char     client_request_id[FG_USAGE_REQUEST_ID_MAX + 1];  /* the
                                      client's x-request-id; "" if none */
    char     key_id[FG_USAGE_KEY_ID_MAX + 1];
    char     model_requested[FG_USAGE_MODEL_MAX + 1];
    char     model_served[FG_USAGE_MODEL_MAX + 1];  /* "" if not routed */
    char     provider[FG_USAGE_PROVIDER_MAX + 1];   /* "" if not routed */
    char     error_code[FG_USAGE_ERROR_MAX + 1];    /* "" on success */
    uint8_t  pad2[6];

    fg_usage_attempt_t attempts[FG_USAGE_MAX_ATTEMPTS];  /* in order */
} fg_usage_record_t;

/* A change of size or layout is a shm layout change: bump
 * FG_SHM_LAYOUT_VERSION (common/base/shm.h) with it. */
_Static_assert(sizeof(fg_usage_record_t) == 1064, "usage record layout");

/* The stable name of a flag bit ("estimated", …; NULL for a bit with no
 * name) and of an API ("chat", …; "chat" when out of range). */
const char *fg_usage_flag_name(unsigned bit);
const char *fg_usage_api_name(unsigned api);

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

/* Clears @rec: every field zero or "", ttfb_us -1, api chat, no
 * attempt. Cannot fail. */
void fg_usage_init(fg_usage_record_t *rec);

/*
 * Clears @rec and fills what the request summary @s has: the gateway's
 * request id, key, models, provider, status, error code string
 * (fg_error_code_str(), "" for FG_E_NONE), tokens, credit, latencies,
 * start time, and the estimated, stream and client-gone flags; the
 * impact figures and their flag when it has them. The client's id,
 * uncharged_micro, the API and the attempts are the worker's to add
 * (worker/usagerec.c); seq and ring are the ring's. Cannot fail.
 */
void fg_usage_from_summary(fg_usage_record_t *rec,
                           const fg_request_summary_t *s);

/*
 * Appends an attempt to @rec: @provider and @model (the provider's id for
 * it) and how @res says it ended. Past FG_USAGE_MAX_ATTEMPTS the attempt
 * is not kept and FG_USAGE_ATTEMPTS_CUT is set. Cannot fail.
 */
void fg_usage_add_attempt(fg_usage_record_t *rec, const char *provider,
                          const char *model, const fg_attempt_result_t *res);

/*
 * The record as a JSON object (line format 2 of the usage journal), one
 * member per field named as the field, and:
 *   "api":     fg_usage_api_name();
 *   "flags":   the names of the bits set, in bit order;
 *   "usage_estimated", "impact_estimated", "stream", "client_gone",
 *   "worker_lost": booleans of those bits, as format 1 wrote them;
 *   "attempts": [{"provider", "model", "outcome" (fg_attempt_outcome_name),
 *                 "status", "latency_us"}, …].
 * Non-finite impact figures are written as 0. Returns a new reference
 * (the caller owns it); never NULL (allocation failure aborts).
 */
json_t *fg_usage_to_json(const fg_usage_record_t *rec);

/*
 * Writes the members of fg_usage_to_json() after "ring", in its order and
 * as jansson would print them, each preceded by a comma, into @dst, which
 * must hold FG_USAGE_MEMBERS_MAX bytes (enough for every string at its
 * longest and made of quotes); returns the length. For the usage
 * journal's hot path: no allocation, no jansson.
 */
#define FG_USAGE_MEMBERS_MAX 6144
size_t fg_usage_write_members(const fg_usage_record_t *rec, char *dst);

/*
 * The versions of the record's JSON shape that fg_usage_from_json()
 * reads: 1, the members of the 392-byte record (one id, no flags word,
 * api, uncharged_micro or attempts), and 2, fg_usage_to_json()'s.
 */
#define FG_USAGE_JSON_V1       1
#define FG_USAGE_JSON_VERSION  2

/*
 * Fills @rec from @obj, the shape of @version. Every member of that
 * version must be there with its type; unknown members, and flag names
 * this build does not know, are ignored (a later version may add some).
 * A version 1 object reads as: its one id ("request_id", the id the
 * response returned) into request_id, client_request_id "", api chat,
 * uncharged_micro 0, no attempt, the flags from its booleans. Strings go
 * through fg_usage_set_str(). Returns FG_OK, or FG_ERR with @err naming
 * the member (FG_E_INVALID_VALUE), and @rec then holds no meaning.
 */
int fg_usage_from_json(fg_usage_record_t *rec, const json_t *obj,
                       int version, fg_err_t *err);

#endif
