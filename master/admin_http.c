/*
 * admin_http.c: the admin API's routes.
 *
 *   GET   /admin/v1/status
 *   GET   /admin/v1/keys                  POST /admin/v1/keys
 *   GET   /admin/v1/keys/{id}             PATCH /admin/v1/keys/{id}
 *   POST  /admin/v1/keys/{id}/rotate|revoke|topup
 *   GET   /admin/v1/usage?key=&from=&to=
 *   GET   /admin/v1/providers
 *
 * Every request must carry the admin token; it is compared in constant
 * time. Methods other than GET, POST and PATCH are 501 before the token
 * is looked at. Errors are OpenAI-format bodies from common/base/errors,
 * the server's own (malformed, too large, timeouts) included.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/version.h"
#include "common/store/usagelog.h"
#include "common/wire/json.h"
#include "common/wire/retry_after.h"
#include "common/wire/uri.h"
#include "master/admin_http.h"

#define ADMIN_JSON_DEPTH 16

/* Query parameters: how many one request may carry, and their sizes. */
#define ADMIN_QUERY_MAX  8
#define ADMIN_QUERY_NAME 32
#define ADMIN_QUERY_VALUE 256

/* One admin request, borrowed from the server for the dispatch. */
typedef struct {
    fg_httpconn_t        *conn;
    const fg_http_head_t *head;
    const char           *body;
    size_t                body_len;
} admin_req_t;

/* A parsed query string: the parameters the route accepts, decoded. */
typedef struct {
    char name[ADMIN_QUERY_MAX][ADMIN_QUERY_NAME];
    char value[ADMIN_QUERY_MAX][ADMIN_QUERY_VALUE];
    int  count;
} admin_query_t;

static void
admin_send(admin_req_t *r, int status, json_t *body)
{
    static const char headers[] = "Content-Type: application/json\r\n"
                                  "Cache-Control: no-store\r\n";
    /* 15 digits: a real prints as the decimal it stands for (0.3), not
     * as its binary expansion (jansson's 17: 0.29999999999999999). */
    char             *text = json_dumps(body, JSON_COMPACT
                                              | JSON_REAL_PRECISION(15));
    char             *out;
    size_t            len;

    if (text == NULL) {
        fg_err_t err;

        fg_err_set(&err, FG_E_INTERNAL, NULL, "cannot serialise the reply");
        fg_httpconn_reply_error(r->conn, &err, NULL, 0);
        return;
    }
    /* Create and rotate replies hold a secret: every copy is wiped. */
    len = strlen(text);
    out = fg_xmalloc(len + 1);
    memcpy(out, text, len);
    out[len] = '\n';
    sodium_memzero(text, len);
    free(text);
    fg_httpconn_reply(r->conn, status, headers, sizeof(headers) - 1, out,
                      len + 1);
    sodium_memzero(out, len + 1);
    free(out);
}

static void
admin_send_error(admin_req_t *r, const fg_err_t *err)
{
    fg_httpconn_reply_error(r->conn, err, NULL, 0);
}

static int
admin_token_ok(const fg_admin_http_t *a, const admin_req_t *r)
{
    const char *h = fg_http_field(r->head, "Authorization", NULL);
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
admin_body(const admin_req_t *r, int may_be_empty, json_t **out,
           fg_err_t *err)
{
    *out = NULL;
    if (r->body_len == 0) {
        if (may_be_empty) {
            return FG_OK;
        }
        return fg_err_set(err, FG_E_EMPTY_BODY, NULL,
                          "the request needs a JSON body");
    }
    *out = fg_json_load_body(r->body, r->body_len, ADMIN_JSON_DEPTH, err);
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
admin_status(fg_admin_http_t *a, admin_req_t *r)
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

/* @v rounded to @places decimals, so a reply shows 12.5, not
 * 12.499999999999998. */
static double
admin_round(double v, int places)
{
    double scale = pow(10, places);

    return round(v * scale) / scale;
}

/* One endpoint of the published catalog listing, with its health. */
static json_t *
admin_endpoint(const fg_health_row_t *row, const fg_health_view_t *v,
               int64_t now)
{
    json_t *o = json_object();

    json_object_set_new(o, "object", json_string("endpoint"));
    json_object_set_new(o, "provider", json_string(v->provider));
    json_object_set_new(o, "model", json_string(row->model));
    json_object_set_new(o, "upstream_id", json_string(v->model));
    json_object_set_new(o, "country", row->country[0] != '\0'
                                      ? json_string(row->country)
                                      : json_null());
    json_object_set_new(o, "state", json_string(fg_circuit_name(v->state)));
    json_object_set_new(o, "retry_at_s", v->retry_at_ms > now
        ? json_real(admin_round((double) (v->retry_at_ms - now) / 1000, 3))
        : json_null());
    json_object_set_new(o, "ttft_ms", v->ttft_ms > 0
                        ? json_real(admin_round(v->ttft_ms, 1))
                        : json_null());
    json_object_set_new(o, "tps", v->tps > 0
                        ? json_real(admin_round(v->tps, 1)) : json_null());
    json_object_set_new(o, "successes", json_integer(
                            (json_int_t) v->successes));
    json_object_set_new(o, "failures", json_integer(
                            (json_int_t) v->failures));
    json_object_set_new(o, "error_rate", json_real(
        v->window_attempts == 0 ? 0.0
            : admin_round((double) v->window_failures
                          / (double) v->window_attempts, 4)));
    return o;
}

/*
 * GET /admin/v1/providers: every endpoint of the catalog the workers
 * serve, joined with its entry of the health table. The syncer keeps no
 * catalog: the master publishes the list beside the table at every load.
 */
static int
admin_providers(fg_admin_http_t *a, json_t **reply, fg_err_t *err)
{
    fg_health_row_t *rows;
    fg_health_view_t v;
    json_t          *data;
    int64_t          now = fg_mono_ms();
    size_t           i, n;

    if (fg_health_rows(a->shm->health, &rows, &n) != FG_OK) {
        return fg_err_set(err, FG_E_SERVICE_UNAVAILABLE, NULL, "the "
                          "catalog is being reloaded; try again");
    }
    data = json_array();
    for (i = 0; i < n; i++) {
        if (fg_health_read(a->shm->health, rows[i].slot, &a->health, now,
                           &v) == FG_OK) {
            json_array_append_new(data, admin_endpoint(&rows[i], &v, now));
        }
    }
    free(rows);
    *reply = json_pack("{s:s, s:o}", "object", "list", "data", data);
    return FG_OK;
}

/* The index of parameter @name in @q, or -1. */
static int
admin_query_find(const admin_query_t *q, const char *name)
{
    int i;

    for (i = 0; i < q->count; i++) {
        if (strcmp(q->name[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

/* Query parameter @name of @q, or NULL (also when it is empty). */
static const char *
admin_query(const admin_query_t *q, const char *name)
{
    int i = admin_query_find(q, name);

    return i >= 0 && q->value[i][0] != '\0' ? q->value[i] : NULL;
}

/*
 * Parses the request's query string into @q, refusing any parameter not
 * in @names (NULL-terminated). A parameter given twice keeps its first
 * value.
 */
static int
admin_parse_query(const admin_req_t *r, const char *const *names,
                  admin_query_t *q, fg_err_t *err)
{
    fg_uri_query_t     walk;
    const char *const *n;
    char               name[ADMIN_QUERY_NAME];
    char               value[ADMIN_QUERY_VALUE];
    int                rc;

    q->count = 0;
    fg_uri_query_init(&walk, r->head->query, r->head->query_len);
    while ((rc = fg_uri_query_next(&walk, name, sizeof(name), value,
                                   sizeof(value))) == 1) {
        for (n = names; *n != NULL && strcmp(name, *n) != 0; n++) {
        }
        if (*n == NULL) {
            return fg_err_set(err, FG_E_FORBIDDEN_FIELD, name,
                              "unknown query parameter \"%.31s\"", name);
        }
        if (admin_query_find(q, name) >= 0) {
            continue;
        }
        if (q->count == ADMIN_QUERY_MAX) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "more than %d "
                              "query parameters", ADMIN_QUERY_MAX);
        }
        memcpy(q->name[q->count], name, sizeof(name));
        memcpy(q->value[q->count], value, sizeof(value));
        q->count++;
    }
    if (rc < 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "the query string is malformed");
    }
    return FG_OK;
}

static int
admin_list(fg_admin_http_t *a, admin_req_t *r, json_t **reply,
           fg_err_t *err)
{
    static const char *const names[] = { "owner", "status", "limit",
                                         "after", NULL };
    admin_query_t      q;
    const char        *lim;
    long               limit = 100;
    char              *end;

    if (admin_parse_query(r, names, &q, err) != FG_OK) {
        return FG_ERR;
    }
    lim = admin_query(&q, "limit");
    if (lim != NULL) {
        limit = strtol(lim, &end, 10);
        if (*end != '\0' || limit < 1 || limit > 1000) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, "limit",
                              "limit must be an integer from 1 to 1000");
        }
    }
    return fg_keystore_list(a->keys, admin_query(&q, "owner"),
                            admin_query(&q, "status"),
                            admin_query(&q, "after"), (int) limit,
                            fg_wall_ms(), reply, err);
}

static int
admin_topup(fg_admin_http_t *a, admin_req_t *r, const char *id,
            json_t *body, json_t **reply, fg_err_t *err)
{
    const char *header = fg_http_field(r->head, "Idempotency-Key", NULL);
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

/*
 * GET /admin/v1/usage?key=&from=&to=: the usage journal, summed, in a
 * child process (usage_query.h) that answers later; FG_ERR with @err set
 * when it cannot start (a bad filter, too many queries).
 */
static int
admin_usage(fg_admin_http_t *a, admin_req_t *r, fg_err_t *err)
{
    static const char *const names[] = { "key", "from", "to", NULL };
    admin_query_t        q;
    fg_usagelog_filter_t filter;

    if (admin_parse_query(r, names, &q, err) != FG_OK) {
        return FG_ERR;
    }
    memset(&filter, 0, sizeof(filter));
    filter.key_id = admin_query(&q, "key");
    filter.day_from = admin_query(&q, "from");
    filter.day_to = admin_query(&q, "to");
    if (fg_usagelog_filter_check(&filter, err) != FG_OK) {
        return FG_ERR;
    }
    return fg_usage_query_start(a->queries, r->conn, &filter, err);
}

/* Routes /admin/v1/keys/{id}[/verb]. */
static int
admin_key(fg_admin_http_t *a, admin_req_t *r, const char *rest,
          int *status, json_t **reply, fg_err_t *err)
{
    fg_http_method_t m = r->head->method;
    char             id[64];
    const char      *slash = strchr(rest, '/'), *verb = NULL;
    size_t           len = slash ? (size_t) (slash - rest) : strlen(rest);
    json_t          *body = NULL;
    int              rc;

    if (len == 0 || len >= sizeof(id)) {
        return fg_err_set(err, FG_E_KEY_NOT_FOUND, "id", "no such key");
    }
    memcpy(id, rest, len);
    id[len] = '\0';
    if (slash != NULL) {
        verb = slash + 1;
    }
    if (verb == NULL && m == FG_HTTP_GET) {
        return fg_keystore_show(a->keys, id, fg_wall_ms(), reply, err);
    }
    if (verb == NULL && m == FG_HTTP_PATCH) {
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
    if (m != FG_HTTP_POST) {
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
admin_request(void *arg, fg_httpconn_t *conn, const fg_http_head_t *head,
              const char *in, size_t in_len)
{
    fg_admin_http_t  *a = arg;
    admin_req_t       req = { conn, head, in, in_len };
    admin_req_t      *r = &req;
    const char       *path = head->path;
    fg_http_method_t  m = head->method;
    json_t           *reply = NULL, *body = NULL;
    fg_err_t          err;
    int               status = 200, rc;
    static const char keys[] = "/admin/v1/keys";

    memset(&err, 0, sizeof(err));
    if (m != FG_HTTP_GET && m != FG_HTTP_POST && m != FG_HTTP_PATCH) {
        fg_err_set(&err, FG_E_NOT_IMPLEMENTED, NULL, "the method %.32s is "
                   "not implemented by the admin API; use GET, POST or "
                   "PATCH", head->method_name);
        admin_send_error(r, &err);
        return;
    }
    if (!admin_token_ok(a, r)) {
        fg_err_set(&err, FG_E_INVALID_ADMIN_TOKEN, NULL,
                   "a valid admin token is required (Authorization: Bearer "
                   "<admin token>)");
        admin_send_error(r, &err);
        return;
    }
    if (strcmp(path, "/admin/v1/status") == 0) {
        if (m != FG_HTTP_GET) {
            fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "use GET");
            admin_send_error(r, &err);
            return;
        }
        admin_status(a, r);
        return;
    }
    if (strcmp(path, "/admin/v1/usage") == 0) {
        if (m != FG_HTTP_GET) {
            fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "use GET");
            admin_send_error(r, &err);
        } else if (admin_usage(a, r, &err) != FG_OK) {
            if (err.code == FG_E_USAGE_QUERY_BUSY) {
                fg_httpconn_reply_error(conn, &err, FG_RETRY_AFTER_1S_LINES,
                                        sizeof(FG_RETRY_AFTER_1S_LINES) - 1);
            } else {
                admin_send_error(r, &err);
            }
        }
        return;
    }
    if (strcmp(path, "/admin/v1/providers") == 0) {
        static const char *const none[] = { NULL };
        admin_query_t            q;

        if (m != FG_HTTP_GET) {
            rc = fg_err_set(&err, FG_E_METHOD_NOT_ALLOWED, NULL, "use GET");
        } else {
            rc = admin_parse_query(r, none, &q, &err);
            if (rc == FG_OK) {
                rc = admin_providers(a, &reply, &err);
            }
        }
    } else if (strcmp(path, keys) == 0) {
        if (m == FG_HTTP_GET) {
            rc = admin_list(a, r, &reply, &err);
        } else if (m == FG_HTTP_POST) {
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
fg_admin_http_limits(fg_httpserver_limits_t *out)
{
    memset(out, 0, sizeof(*out));
    out->name = "admin";
    out->max_connections = FG_ADMIN_MAX_CONNECTIONS;
    out->max_header_bytes = FG_ADMIN_MAX_HEADER_BYTES;
    out->max_body_bytes = FG_ADMIN_MAX_BODY_BYTES;
    out->header_timeout_ms = FG_ADMIN_TIMEOUT_MS;
    out->body_timeout_ms = FG_ADMIN_TIMEOUT_MS;
    out->keepalive_timeout_ms = FG_ADMIN_TIMEOUT_MS;
    out->send_timeout_ms = FG_ADMIN_TIMEOUT_MS;
    out->body_budget_bytes = 0;   /* bounded by connections x body size */
}

fg_httpserver_t *
fg_admin_http_new(struct event_base *base, fg_admin_http_t *a)
{
    static const fg_httpserver_handler_t handler = {
        .request = admin_request,
        /* Only a usage query answers later and attaches itself. */
        .client_gone = fg_usage_query_gone,
    };
    fg_httpserver_limits_t limits = { 0 };

    fg_admin_http_limits(&limits);
    a->started_ms = fg_mono_ms();
    return fg_httpserver_new(base, &limits, &handler, a);
}
