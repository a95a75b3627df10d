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

int
fg_auth_request(fg_req_t *req)
{
    fg_worker_t            *w = req->worker;
    const char             *h, *secret = NULL;
    size_t                  len = 0;
    uint8_t                 hash[FG_KEY_HASH_BYTES];
    fg_keytable_result_t    found;
    int                     parsed = FG_ERR;

    if (!atomic_load_explicit(&w->wc->shm->header->sh_keys_loaded,
                              memory_order_acquire)) {
        fg_req_add_header(req, "Retry-After", "1");
        fg_req_fail(req, FG_E_KEY_STORE_LOADING, NULL,
                    "the gateway is loading its keys; retry in a second");
        return FG_ERR;
    }
    h = fg_req_header(req, "Authorization");
    if (h != NULL) {
        parsed = fg_key_parse_bearer(h, &secret, &len);
    } else if ((h = fg_req_header(req, "x-api-key")) != NULL) {
        parsed = fg_key_parse_api_key(h, &secret, &len);
    }
    if (h == NULL) {
        fg_req_fail(req, FG_E_INVALID_API_KEY, NULL,
                    "You didn't provide an API key. Pass it in the "
                    "Authorization header (Authorization: Bearer YOUR_KEY).");
        return FG_ERR;
    }
    if (parsed != FG_OK || !fg_key_secret_is_well_formed(secret, len)) {
        fg_req_fail(req, FG_E_INVALID_API_KEY, NULL,
                    "Incorrect API key provided.");
        return FG_ERR;
    }
    fg_key_hash(w->wc->server_secret, secret, len, hash);
    found = fg_keytable_lookup(w->wc->shm->keys, hash, &req->key);
    if (found == FG_KEYTABLE_BUSY) {
        /* Writes kept spoiling the read: fail closed, never open. */
        fg_req_add_header(req, "Retry-After", "1");
        fg_req_fail(req, FG_E_KEY_STORE_LOADING, NULL,
                    "the key could not be read consistently; retry");
        return FG_ERR;
    }
    if (found != FG_KEYTABLE_FOUND) {
        fg_req_fail(req, FG_E_INVALID_API_KEY, NULL,
                    "Incorrect API key provided.");
        return FG_ERR;
    }
    /* The clock read fresh, not libevent's cached time: expiry and
     * rotation instants come from the syncer's clock_gettime(), and the
     * cache can lag it enough to let a secret rotated with no grace
     * through once more. */
    switch (fg_key_record_check(&req->key, fg_wall_ms())) {
    case FG_KEY_CHECK_OK:
        req->has_key = 1;
        req->key_subject = fg_limiter_subject(req->key.kr_id);
        return FG_OK;
    case FG_KEY_CHECK_EXPIRED:
        fg_req_fail(req, FG_E_KEY_EXPIRED, NULL, "This API key (%s) has "
                    "expired.", req->key.kr_id);
        return FG_ERR;
    case FG_KEY_CHECK_ROTATED:
        fg_req_fail(req, FG_E_KEY_ROTATED, NULL, "This API key (%s) was "
                    "replaced by a new secret and its grace period is over.",
                    req->key.kr_id);
        return FG_ERR;
    default:
        fg_req_fail(req, FG_E_KEY_REVOKED, NULL, "This API key (%s) has "
                    "been revoked.", req->key.kr_id);
        return FG_ERR;
    }
}

int
fg_auth_allows(const fg_req_t *req, const fg_model_t *model)
{
    return req->has_key
           && fg_keytable_matches_model(&req->key, model->id,
                                        model->provider->id);
}

int
fg_auth_model(fg_req_t *req, const fg_model_t *model)
{
    if (fg_auth_allows(req, model)) {
        return FG_OK;
    }
    fg_req_fail(req, FG_E_MODEL_NOT_ALLOWED, "model",
                "This API key (%s) may not use the model '%.128s'.",
                req->key.kr_id, model->id);
    return FG_ERR;
}
