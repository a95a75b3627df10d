/*
 * responses_store.c: the worker's lookups in and additions to the
 * response store (responses_store.h).
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "worker/request.h"
#include "worker/responses_store.h"
#include "worker/worker.h"

int
fg_responses_store_lookup(void *arg, const char *id, size_t len,
                          char **json, size_t *json_len)
{
    fg_req_t *req = arg;

    return fg_respstore_get(&req->worker->respstore, req->auth.key.kr_id, id,
                            len, fg_wall_ms(), json, json_len);
}

void
fg_responses_store_keep(fg_req_t *req, const char *resp_id,
                        const char *output, size_t output_len)
{
    fg_worker_t *w = req->worker;
    fg_err_t     err;

    if (!req->validated.rq.store || w->respstore.total_bytes_max == 0) {
        return;
    }
    if (fg_respstore_put(w->wc->shm->responses, &w->respstore,
                         req->auth.key.kr_id, resp_id, fg_wall_ms(),
                         req->validated.resp_context,
                         req->validated.resp_context_len, output, output_len,
                         &err) == FG_ERR) {
        fg_log(FG_LOG_WARN, 0, "req=%s response %s not stored: %s", req->id,
               resp_id, err.msg);
    }
}
