/*
 * auth.c: API keys on the request path. The cost is one BLAKE2b of a
 * 46-byte secret and one lock-free probe of the shm table: no syscall,
 * no allocation. A malformed header is refused before hashing; every
 * failure of the key itself says only "invalid", so a caller learns
 * nothing about which keys exist (revoked, expired and rotated keys have
 * their own codes because only their holder can present them).
 */

#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "common/base/clock.h"
#include "common/accounts/keys.h"
#include "common/accounts/keytable.h"
#include "common/accounts/limiter.h"
#include "worker/auth.h"
#include "worker/worker.h"

/* A request header, or NULL (also once the head is gone). */
static const char *
auth_header(const fg_req_t *req, const char *name)
{
    return req->head != NULL ? fg_http_field(req->head, name, NULL) : NULL;
}

fg_verdict_kind_t
fg_auth_request(fg_req_t *req, fg_verdict_t *v)
{
    fg_worker_t            *w = req->worker;
    const char             *h, *secret = NULL;
    size_t                  len = 0;
    uint8_t                 hash[FG_KEY_HASH_BYTES];
    fg_req_auth_t          *a = &req->auth;
    fg_keytable_result_t    found;
    int                     parsed = FG_ERR;

    if (!atomic_load_explicit(&w->wc->shm->header->sh_keys_loaded,
                              memory_order_acquire)) {
        return fg_verdict_refuse(v, 1000, FG_E_KEY_STORE_LOADING, NULL,
                                 "the gateway is loading its keys; retry "
                                 "in a second");
    }
    h = auth_header(req, "Authorization");
    if (h != NULL) {
        parsed = fg_key_parse_bearer(h, &secret, &len);
    } else if ((h = auth_header(req, "x-api-key")) != NULL) {
        parsed = fg_key_parse_api_key(h, &secret, &len);
    }
    if (h == NULL) {
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_INVALID_API_KEY, NULL,
                                 "You didn't provide an API key. Pass it in "
                                 "the Authorization header (Authorization: "
                                 "Bearer YOUR_KEY).");
    }
    if (parsed != FG_OK || !fg_key_secret_is_well_formed(secret, len)) {
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_INVALID_API_KEY, NULL,
                                 "Incorrect API key provided.");
    }
    fg_key_hash(w->wc->server_secret, secret, len, hash);
    found = fg_keytable_lookup(w->wc->shm->keys, hash, &a->key);
    if (found == FG_KEYTABLE_BUSY) {
        /* Writes kept spoiling the read: fail closed, never open. */
        return fg_verdict_refuse(v, 1000, FG_E_KEY_STORE_LOADING, NULL,
                                 "the key could not be read consistently; "
                                 "retry");
    }
    if (found != FG_KEYTABLE_FOUND) {
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_INVALID_API_KEY, NULL,
                                 "Incorrect API key provided.");
    }
    /* The clock read fresh, not libevent's cached time: expiry and
     * rotation instants come from the syncer's clock_gettime(), and the
     * cache can lag it enough to let a secret rotated with no grace
     * through once more. */
    switch (fg_key_record_check(&a->key, fg_wall_ms())) {
    case FG_KEY_CHECK_OK:
        a->has_key = 1;
        a->subject = fg_limiter_subject(a->key.kr_id);
        return FG_VERDICT_CONTINUE;
    case FG_KEY_CHECK_EXPIRED:
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_KEY_EXPIRED, NULL,
                                 "This API key (%s) has expired.",
                                 a->key.kr_id);
    case FG_KEY_CHECK_ROTATED:
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_KEY_ROTATED, NULL,
                                 "This API key (%s) was replaced by a new "
                                 "secret and its grace period is over.",
                                 a->key.kr_id);
    default:
        return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_KEY_REVOKED, NULL,
                                 "This API key (%s) has been revoked.",
                                 a->key.kr_id);
    }
}

int
fg_auth_allows(const fg_req_t *req, const fg_model_t *model)
{
    return req->auth.has_key
           && fg_keytable_matches_model(&req->auth.key, model->id,
                                        model->provider->id);
}

fg_verdict_kind_t
fg_auth_model(const fg_req_t *req, const fg_model_t *model, fg_verdict_t *v)
{
    if (fg_auth_allows(req, model)) {
        return FG_VERDICT_CONTINUE;
    }
    return fg_verdict_refuse(v, FG_RETRY_NONE, FG_E_MODEL_NOT_ALLOWED, "model",
                             "This API key (%s) may not use the model "
                             "'%.128s'.", req->auth.key.kr_id, model->id);
}
