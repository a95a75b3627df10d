/*
 * models.c: GET /v1/models, GET /v1/models/{id} and
 * GET /v1/models/{id}/endpoints, from the catalog. The list is built once
 * per worker (the catalog is immutable), so the request path is a copy of
 * a ready body; a key limited to some models gets a list built for it.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/route/health.h"
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

static void
models_reply_json(fg_req_t *req, json_t *obj)
{
    char *body = json_dumps(obj, JSON_COMPACT);

    json_decref(obj);
    fg_req_reply(req, 200, body, strlen(body));
    free(body);
}

/*
 * The endpoint's live health from the shared table (health.h): circuit
 * state, when it may be tried again, the measured time to first token
 * and output speed (null until measured), and the window's error rate.
 * null for an endpoint the table had no room for.
 */
static json_t *
models_endpoint_health(const fg_req_t *req, const fg_endpoint_t *e)
{
    fg_worker_t      *w = req->worker;
    fg_health_view_t  view;
    int64_t           now = fg_mono_ms();
    json_t           *retry;

    if (fg_health_read(w->wc->shm->health, e->health_slot,
                       &w->route_conf.circuit, now, &view) != FG_OK) {
        return json_null();
    }
    retry = view.retry_at_ms > now
            ? json_integer((view.retry_at_ms - now + 999) / 1000)
            : json_null();
    return json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:f}",
                     "state", fg_circuit_name(view.state),
                     "retry_after_s", retry,
                     "ttft_ms", view.ttft_ms > 0 ? json_real(view.ttft_ms)
                                                 : json_null(),
                     "tokens_per_second", view.tps > 0 ? json_real(view.tps)
                                                       : json_null(),
                     "successes", (json_int_t) view.successes,
                     "failures", (json_int_t) view.failures,
                     "error_rate", view.window_attempts > 0
                                   ? (double) view.window_failures
                                     / (double) view.window_attempts : 0.0);
}

/* The enabled endpoints of @m (only @pinned's when a "provider/model"
 * name pinned one), with their health. */
static void
models_reply_endpoints(fg_req_t *req, const fg_model_t *m,
                       const fg_provider_t *pinned)
{
    const fg_endpoint_t *e;
    json_t              *list = json_array(), *obj;
    size_t               k;

    for (k = 0; k < m->endpoint_count; k++) {
        e = m->endpoints[k];
        if (!e->provider->is_enabled
            || (pinned != NULL && e->provider != pinned)) {
            continue;
        }
        obj = fg_catalog_endpoint_json(e);
        json_object_set_new(obj, "health", models_endpoint_health(req, e));
        json_array_append_new(list, obj);
    }
    models_reply_json(req, json_pack("{s:s, s:s, s:o}", "object", "list",
                                     "model", m->id, "data", list));
}

/*
 * Ids may hold slashes, so ".../endpoints" is the sub-resource only when
 * @id is no model as given: then @base receives the id before it (1).
 */
static int
models_endpoints_of(const char *id, char *base, size_t size)
{
    static const char suffix[] = "/endpoints";
    size_t            len = strlen(id), slen = sizeof(suffix) - 1;

    if (len <= slen || len - slen >= size
        || strcmp(id + len - slen, suffix) != 0) {
        return 0;
    }
    memcpy(base, id, len - slen);
    base[len - slen] = '\0';
    return 1;
}

void
fg_models_handle(fg_req_t *req, const char *id)
{
    const fg_catalog_t  *cat = req->worker->catalog;
    const fg_provider_t *pinned = NULL;
    const fg_model_t    *m;
    char                 base[256];
    int                  endpoints = 0;

    if (id == NULL && req->auth.key.kr_models_count == 0) {
        fg_req_reply(req, 200, req->worker->models_body,
                     req->worker->models_len);
        return;
    }
    if (id == NULL) {
        models_reply_allowed(req);
        return;
    }
    m = fg_catalog_route(cat, id);
    if (m == NULL && models_endpoints_of(id, base, sizeof(base))) {
        endpoints = 1;
        id = base;
        m = fg_catalog_resolve(cat, id, &pinned);
    }
    /* A model the key may not use does not exist for it, as at OpenAI. */
    if (m == NULL || !fg_auth_allows(req, m)) {
        fg_req_fail(req, FG_E_MODEL_NOT_FOUND, "model",
                    "The model '%.128s' does not exist", id);
        return;
    }
    if (endpoints) {
        models_reply_endpoints(req, m, pinned);
        return;
    }
    models_reply_json(req, fg_catalog_model_json(m));
}
