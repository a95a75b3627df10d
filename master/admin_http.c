/*
 * admin_http.c: the admin API's routes.
 *
 *   GET   /admin/v1/status
 *   GET   /admin/v1/keys                  POST /admin/v1/keys
 *   GET   /admin/v1/keys/{id}             PATCH /admin/v1/keys/{id}
 *   POST  /admin/v1/keys/{id}/rotate|revoke|topup
 *
 * Every request must carry the admin token; it is compared in constant
 * time. Errors are OpenAI-format bodies from common/base/errors.h.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "common/base/clock.h"
#include "common/wire/json.h"
#include "common/store/usagelog.h"
#include "common/base/log.h"
#include "common/base/version.h"
#include "master/admin_http.h"

#define ADMIN_BODY_MAX   (64 * 1024)
#define ADMIN_JSON_DEPTH 16

static void
admin_send(struct evhttp_request *r, int status, json_t *body)
{
    struct evbuffer *buf = evbuffer_new();
    /* 15 digits: a real prints as the decimal it stands for (0.3), not
     * as its binary expansion (jansson's 17: 0.29999999999999999). */
    char            *text = json_dumps(body, JSON_COMPACT
                                             | JSON_REAL_PRECISION(15));

    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(r), "Cache-Control",
                      "no-store");
    if (text != NULL) {
        evbuffer_add(buf, text, strlen(text));
        evbuffer_add(buf, "\n", 1);
        /* Create and rotate replies hold a secret. */
        sodium_memzero(text, strlen(text));
        free(text);
    }
    evhttp_send_reply(r, status, status < 300 ? "OK" : "Error", buf);
    evbuffer_free(buf);
}

static void
admin_send_error(struct evhttp_request *r, const fg_err_t *err)
{
    struct evbuffer *buf = evbuffer_new();
    char             body[FG_ERROR_BODY_MAX];
    size_t           n = fg_error_render(err, body, sizeof(body));

    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type",
                      "application/json");
    evbuffer_add(buf, body, n);
    evhttp_send_reply(r, fg_error_status(err->code), "Error", buf);
    evbuffer_free(buf);
}

static int
admin_token_ok(const fg_admin_http_t *a, struct evhttp_request *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r),
                                       "Authorization");
    size_t      len = strlen(a->token);

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        return 0;
    }
    h += 7;
    return strlen(h) == len && sodium_memcmp(h, a->token, len) == 0;
}

/* The request's JSON body; an empty body is NULL without error when
 * @may_be_empty. */
static int
admin_body(struct evhttp_request *r, int may_be_empty, json_t **out,
           fg_err_t *err)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t           len = evbuffer_get_length(in);
    char            *buf;

    *out = NULL;
    if (len == 0) {
        if (may_be_empty) {
            return FG_OK;
        }
        return fg_err_set(err, FG_E_EMPTY_BODY, NULL,
                          "the request needs a JSON body");
    }
    buf = (char *) evbuffer_pullup(in, (ev_ssize_t) len);
    *out = fg_json_load_body(buf, len, ADMIN_JSON_DEPTH, err);
    return *out != NULL ? FG_OK : FG_ERR;
}

/* @part of @whole in percent, rounded to two decimals (0 for none). */
static double
admin_percent(uint64_t part, uint64_t whole)
{
    if (whole == 0) {
        return 0.0;
    }
    return (double) ((part * 10000 + whole / 2) / whole) / 100.0;
}

static void
admin_status(fg_admin_http_t *a, struct evhttp_request *r)
{
    fg_keystore_stats_t ks;
    fg_store_info_t     si;
    uint32_t            gen;
    json_t             *o;

    fg_keystore_stats(a->keys, &ks);
    fg_store_info(a->store, &si);
    gen = atomic_load(&a->shm->header->sh_generation);
    o = json_pack("{s:s, s:s, s:I, s:{s:i, s:i}, "
                  "s:{s:i, s:i, s:i, s:f}, s:{s:s, s:I, s:I}}",
                  "object", "status",
                  "version", FG_VERSION,
                  "uptime_seconds",
                  (json_int_t) ((fg_mono_ms() - a->started_ms)
                                / 1000),
                  "workers",
                  "wanted", (int) atomic_load(
                      &a->shm->header->sh_workers_wanted),
                  "ready", (int) fg_shm_workers_ready(a->shm, gen),
                  "keys",
                  "count", (int) ks.keys,
                  "secrets", (int) ks.secrets,
                  "capacity", (int) ks.capacity,
                  "used_percent", admin_percent(ks.secrets, ks.capacity),
                  "store",
                  "kind", si.kind,
                  "journal_records", (json_int_t) si.journal_records,
                  "last_seq", (json_int_t) si.last_seq);
    admin_send(r, 200, o);
    json_decref(o);
}

/* Query parameter @name of @q, or NULL. */
static const char *
admin_query(struct evkeyvalq *q, const char *name)
{
    const char *v = evhttp_find_header(q, name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * Parses the request's query string into @q (the caller clears it),
 * refusing any parameter not in @names (NULL-terminated). On FG_ERR @q
 * is already cleared.
 */
static int
admin_parse_query(struct evhttp_request *r, const char *const *names,
                  struct evkeyvalq *q, fg_err_t *err)
{
    struct evkeyval   *kv;
    const char        *query = evhttp_uri_get_query(
                                   evhttp_request_get_evhttp_uri(r));
    const char *const *n;

    TAILQ_INIT(q);
    if (query != NULL && evhttp_parse_query_str(query, q) != 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "the query string is malformed");
    }
    TAILQ_FOREACH(kv, q, next) {
        for (n = names; *n != NULL && strcmp(kv->key, *n) != 0; n++) {
        }
        if (*n == NULL) {
            fg_err_set(err, FG_E_FORBIDDEN_FIELD, kv->key,
                       "unknown query parameter \"%.40s\"", kv->key);
            evhttp_clear_headers(q);
            return FG_ERR;
        }
    }
    return FG_OK;
}

static int
admin_list(fg_admin_http_t *a, struct evhttp_request *r, json_t **reply,
           fg_err_t *err)
{
    static const char *const names[] = { "owner", "status", "limit",
                                         "after", NULL };
    struct evkeyvalq q;
    const char      *lim;
    long             limit = 100;
    char            *end;
    int              rc = FG_ERR;

    if (admin_parse_query(r, names, &q, err) != FG_OK) {
        return FG_ERR;
    }
    lim = admin_query(&q, "limit");
    if (lim != NULL) {
        limit = strtol(lim, &end, 10);
        if (*end != '\0' || limit < 1 || limit > 1000) {
            fg_err_set(err, FG_E_OUT_OF_RANGE, "limit",
                       "limit must be an integer from 1 to 1000");
            goto done;
        }
    }
    rc = fg_keystore_list(a->keys, admin_query(&q, "owner"),
                          admin_query(&q, "status"), admin_query(&q, "after"),
                          (int) limit, fg_wall_ms(), reply, err);
done:
    evhttp_clear_headers(&q);
    return rc;
}

static int
admin_topup(fg_admin_http_t *a, struct evhttp_request *r, const char *id,
            json_t *body, json_t **reply, fg_err_t *err)
{
    const char *header = evhttp_find_header(
                             evhttp_request_get_input_headers(r),
                             "Idempotency-Key");
    const char *idem = header, *k;
    json_int_t  amount = 0;
    int         has_amount = 0;
    json_t     *v;

    if (!json_is_object(body)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "the body must be a JSON object");
    }
    json_object_foreach(body, k, v) {
        if (strcmp(k, "amount_micro") == 0) {
            if (!json_is_integer(v)) {
                return fg_err_set(err, FG_E_INVALID_TYPE, "amount_micro",
                                  "amount_micro must be an integer");
            }
            amount = json_integer_value(v);
            has_amount = 1;
        } else if (strcmp(k, "idempotency_key") == 0) {
            if (!json_is_string(v)) {
                return fg_err_set(err, FG_E_INVALID_TYPE, "idempotency_key",
                                  "idempotency_key must be a string");
            }
            if (header != NULL && strcmp(header, json_string_value(v)) != 0) {
                return fg_err_set(err, FG_E_INVALID_VALUE, "idempotency_key",
                                  "the Idempotency-Key header and the "
                                  "body's idempotency_key differ");
            }
            idem = json_string_value(v);
        } else {
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, k,
                              "unknown field \"%.64s\"", k);
        }
    }
    if (!has_amount) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, "amount_micro",
                          "amount_micro is required");
    }
    if (idem == NULL) {
        return fg_err_set(err, FG_E_REQUIRED_FIELD, "idempotency_key",
                          "idempotency_key (or the Idempotency-Key header) "
                          "is required, so that a retried top-up applies "
                          "once");
    }
    return fg_keystore_topup(a->keys, id, amount, idem, fg_wall_ms(),
                             reply, err);
}

/* GET /admin/v1/usage?key=&from=&to=: the usage journal, summed. */
static int
admin_usage(fg_admin_http_t *a, struct evhttp_request *r, json_t **reply,
            fg_err_t *err)
{
    static const char *const names[] = { "key", "from", "to", NULL };
    struct evkeyvalq     q;
    fg_usagelog_filter_t filter;

    if (admin_parse_query(r, names, &q, err) != FG_OK) {
        return FG_ERR;
    }
    memset(&filter, 0, sizeof(filter));
    filter.key_id = admin_query(&q, "key");
    filter.day_from = admin_query(&q, "from");
    filter.day_to = admin_query(&q, "to");
    *reply = fg_usagelog_aggregate(a->usage_path, &filter, err);
    evhttp_clear_headers(&q);
    return *reply != NULL ? FG_OK : FG_ERR;
}

/* Routes /admin/v1/keys/{id}[/verb]. */
static int
admin_key(fg_admin_http_t *a, struct evhttp_request *r, const char *rest,
          int *status, json_t **reply, fg_err_t *err)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r);
    char                 id[64];
    const char          *slash = strchr(rest, '/'), *verb = NULL;
    size_t               len = slash ? (size_t) (slash - rest) : strlen(rest);
    json_t              *body = NULL;
    int                  rc;

    if (len == 0 || len >= sizeof(id)) {
        return fg_err_set(err, FG_E_KEY_NOT_FOUND, "id", "no such key");
    }
    memcpy(id, rest, len);
    id[len] = '\0';
    if (slash != NULL) {
        verb = slash + 1;
    }
    if (verb == NULL && m == EVHTTP_REQ_GET) {
        return fg_keystore_show(a->keys, id, fg_wall_ms(), reply, err);
    }
    if (verb == NULL && m == EVHTTP_REQ_PATCH) {
        if (admin_body(r, 0, &body, err) != FG_OK) {
            return FG_ERR;
        }
        rc = fg_keystore_update(a->keys, id, body, fg_wall_ms(), reply,
                                err);
        json_decref(body);
        return rc;
    }
    if (verb == NULL) {
        return fg_err_set(err, FG_E_METHOD_NOT_ALLOWED, NULL,
                          "use GET or PATCH on a key");
    }
    if (m != EVHTTP_REQ_POST) {
        return fg_err_set(err, FG_E_METHOD_NOT_ALLOWED, NULL,
                          "use POST for %s", verb);
    }
    if (strcmp(verb, "rotate") == 0) {
        if (admin_body(r, 1, &body, err) != FG_OK) {
            return FG_ERR;
        }
        rc = fg_keystore_rotate(a->keys, id, body, fg_wall_ms(), reply,
                                err);
    } else if (strcmp(verb, "revoke") == 0) {
        if (admin_body(r, 1, &body, err) != FG_OK) {
            return FG_ERR;
        }
        if (body != NULL && !(json_is_object(body) && json_object_size(body)
                              == 0)) {
            json_decref(body);
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, NULL,
                              "revoke takes no fields");
        }
        rc = fg_keystore_revoke(a->keys, id, fg_wall_ms(), reply, err);
    } else if (strcmp(verb, "topup") == 0) {
        if (admin_body(r, 0, &body, err) != FG_OK) {
            return FG_ERR;
        }
        rc = admin_topup(a, r, id, body, reply, err);
    } else {
        return fg_err_set(err, FG_E_NOT_FOUND, NULL,
                          "unknown key action \"%.32s\"", verb);
    }
    *status = 200;
    json_decref(body);
    return rc;
}

static void
admin_route(struct evhttp_request *r, void *arg)
{
    fg_admin_http_t     *a = arg;
    const char          *path = evhttp_uri_get_path(
                                    evhttp_request_get_evhttp_uri(r));
    enum evhttp_cmd_type m = evhttp_request_get_command(r);
    json_t              *reply = NULL, *body = NULL;
    fg_err_t             err;
    int                  status = 200, rc;
    static const char    keys[] = "/admin/v1/keys";

    memset(&err, 0, sizeof(err));
    if (!admin_token_ok(a, r)) {
        fg_err_set(&err, FG_E_INVALID_ADMIN_TOKEN, NULL,
                   "a valid admin token is required (Authorization: Bearer "
                   "<admin token>)");
        admin_send_error(r, &err);
        return;
    }
    if (path == NULL) {
        path = "/";
    }
    if (strcmp(path, "/admin/v1/status") == 0) {
        if (m != EVHTTP_REQ_GET) {
            fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "use GET");
            admin_send_error(r, &err);
            return;
        }
        admin_status(a, r);
        return;
    }
    if (strcmp(path, "/admin/v1/usage") == 0) {
        rc = m == EVHTTP_REQ_GET
             ? admin_usage(a, r, &reply, &err)
             : fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "use GET");
    } else if (strcmp(path, keys) == 0) {
        if (m == EVHTTP_REQ_GET) {
            rc = admin_list(a, r, &reply, &err);
        } else if (m == EVHTTP_REQ_POST) {
            rc = admin_body(r, 0, &body, &err);
            if (rc == FG_OK) {
                rc = fg_keystore_create(a->keys, body, fg_wall_ms(),
                                        &reply, &err);
                status = 201;
            }
            json_decref(body);
        } else {
            rc = fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL,
                            "use GET or POST");
        }
    } else if (strncmp(path, keys, sizeof(keys) - 1) == 0
               && path[sizeof(keys) - 1] == '/') {
        rc = admin_key(a, r, path + sizeof(keys), &status, &reply, &err);
    } else {
        rc = fg_err_set(&err, FG_E_NOT_FOUND, NULL, "no admin route %.64s",
                        path);
    }
    if (rc != FG_OK) {
        if (err.code == FG_E_STORE_UNAVAILABLE) {
            fg_log(FG_LOG_ERROR, 0, "key store: %s", err.msg);
            a->store_failed = 1;
        }
        admin_send_error(r, &err);
        return;
    }
    admin_send(r, status, reply);
    json_decref(reply);
}

void
fg_admin_http_init(struct evhttp *http, fg_admin_http_t *a)
{
    evhttp_set_max_body_size(http, ADMIN_BODY_MAX);
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 30);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
                                     | EVHTTP_REQ_PATCH);
    a->started_ms = fg_mono_ms();
    evhttp_set_gencb(http, admin_route, a);
}
