/*
 * models.c: GET /v1/models and GET /v1/models/{id}, from the catalog. The
 * list is built once per worker (the catalog is immutable), so the request
 * path is a copy of a ready body; a key limited to some models gets a list
 * built for it.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "worker/auth.h"
#include "worker/http.h"

void
fg_models_prepare(fg_worker_t *w)
{
    json_t *list = json_array();
    json_t *root;
    size_t  i;

    for (i = 0; i < w->catalog->model_count; i++) {
        const fg_model_t *m = &w->catalog->models[i];

        if (m->provider->is_enabled) {
            json_array_append_new(list, fg_catalog_model_json(m));
        }
    }
    root = json_pack("{s:s, s:o}", "object", "list", "data", list);
    w->models_body = json_dumps(root, JSON_COMPACT);
    w->models_len = strlen(w->models_body);
    json_decref(root);
}

/* The list narrowed to the models the caller's key allows. */
static void
models_reply_allowed(fg_req_t *req)
{
    const fg_catalog_t *c = req->worker->catalog;
    json_t             *list = json_array(), *root;
    char               *body;
    size_t              i;

    for (i = 0; i < c->model_count; i++) {
        const fg_model_t *m = &c->models[i];

        if (m->provider->is_enabled && fg_auth_allows(req, m)) {
            json_array_append_new(list, fg_catalog_model_json(m));
        }
    }
    root = json_pack("{s:s, s:o}", "object", "list", "data", list);
    body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    fg_req_reply(req, 200, body, strlen(body));
    free(body);
}

void
fg_models_handle(fg_req_t *req, const char *id)
{
    const fg_model_t *m;
    json_t           *obj;
    char             *body;

    if (id == NULL && req->auth.key.kr_models_count == 0) {
        fg_req_reply(req, 200, req->worker->models_body,
                     req->worker->models_len);
        return;
    }
    if (id == NULL) {
        models_reply_allowed(req);
        return;
    }
    m = fg_catalog_route(req->worker->catalog, id);
    /* A model the key may not use does not exist for it, as at OpenAI. */
    if (m == NULL || !fg_auth_allows(req, m)) {
        fg_req_fail(req, FG_E_MODEL_NOT_FOUND, "model",
                    "The model '%.128s' does not exist", id);
        return;
    }
    obj = fg_catalog_model_json(m);
    body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    fg_req_reply(req, 200, body, strlen(body));
    free(body);
}
