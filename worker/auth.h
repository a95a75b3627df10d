#ifndef FG_WORKER_AUTH_H
#define FG_WORKER_AUTH_H

/*
 * The authenticate stage: the API key of a request under /v1/, found by its
 * keyed hash in the shm key table, and the model check against the key's
 * allowed models. Each function either passes the request on (FG_OK) or
 * answers it with the OpenAI-format error (FG_ERR), touching nothing else:
 * a rejected request never reaches a provider.
 */

#include "common/base/catalog.h"
#include "worker/request.h"

/*
 * Reads "Authorization: Bearer <key>" (or "x-api-key: <key>"), looks the
 * key up and checks its status and expiry. On FG_OK req->key holds a copy
 * of the key's record.
 */
int fg_auth_request(fg_req_t *req);

/* Whether req->key may use @model; answers 403 model_not_allowed if not. */
int fg_auth_model(fg_req_t *req, const fg_model_t *model);

/* 1 if req->key may use @model, without answering. */
int fg_auth_allows(const fg_req_t *req, const fg_model_t *model);

#endif
