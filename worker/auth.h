#ifndef FG_WORKER_AUTH_H
#define FG_WORKER_AUTH_H

/*
 * The authenticate stage: the API key of a request under /v1/, found by its
 * keyed hash in the shm key table, and the model check against the key's
 * allowed models. Each check returns a verdict: continue, or refuse with
 * the OpenAI-format error; the pipeline answers. A rejected request never
 * reaches a provider. auth.c is the only writer of req->auth.
 */

#include "common/base/catalog.h"
#include "worker/request.h"

/*
 * Reads "Authorization: Bearer <key>" (or "x-api-key: <key>"), looks the
 * key up and checks its status and expiry. On FG_VERDICT_CONTINUE
 * req->auth holds a copy of the key's record; otherwise @v says why
 * (401, or 503 with Retry-After while the keys load). Only while http.c
 * dispatches @req.
 */
fg_verdict_kind_t fg_auth_request(fg_req_t *req, fg_verdict_t *v);

/* Whether the key may use @model: continue, or refuse 403
 * model_not_allowed in @v. */
fg_verdict_kind_t fg_auth_model(const fg_req_t *req, const fg_model_t *model,
                                fg_verdict_t *v);

/* 1 if the key may use @model. */
int fg_auth_allows(const fg_req_t *req, const fg_model_t *model);

#endif
