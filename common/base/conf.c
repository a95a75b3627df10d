/*
 * conf.c: the configuration table, the JSON loader and its validation.
 *
 * conf_table[] is the single declaration of every configuration key, in the
 * manner of Redis's static_configs[]: its JSON path (nested objects joined
 * with '.'), its type, where it lands in fg_conf_t, its default, its bounds
 * and one line of description. The loader walks the file's JSON tree and
 * looks each leaf up in the table, so an unknown or misspelt key is an error
 * naming its path, never silently ignored.
 *
 * Nothing here touches the process: no sockets, no logging. The caller
 * (master) decides what a failed load means.
 */

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/base/conf.h"
#include "common/base/log.h"

typedef enum {
    CONF_INT,        /* int64_t within [min, max] */
    CONF_STR,        /* char[FG_CONF_PATH_MAX] */
    CONF_LOG_LEVEL,  /* "error".."debug" into int */
    CONF_WORKERS,    /* "auto" or 1..max into int */
    CONF_LISTEN,     /* "host:port" or an array of them */
    CONF_ORIGINS     /* an array of origins or "*" into fg_cors_t */
} conf_type_t;

typedef struct {
    const char  *path;
    conf_type_t  type;
    size_t       offset;
    const char  *default_str;
    int64_t      default_int;
    int64_t      min;
    int64_t      max;
    const char  *description;
} conf_entry_t;

#define CONF_I(p, field, def, lo, hi, desc) \
    { p, CONF_INT, offsetof(fg_conf_t, field), NULL, def, lo, hi, desc }
#define CONF_S(p, field, def, desc) \
    { p, CONF_STR, offsetof(fg_conf_t, field), def, 0, 0, 0, desc }

#define KiB 1024LL
#define MiB (1024LL * 1024)
#define TiB (1024LL * 1024 * MiB)

static const conf_entry_t conf_table[] = {
    { "listen", CONF_LISTEN, 0, "127.0.0.1:8080", 0, 0, 0,
      "public API listeners, \"host:port\" or an array of them" },
    { "workers", CONF_WORKERS, offsetof(fg_conf_t, workers), "auto", 0, 1,
      256, "worker processes; \"auto\" = one per core" },
    CONF_S("pid_file", pid_file, "fluxgate.pid",
           "pid file of the master (\"\" for none)"),
    CONF_S("log.file", log_file, "stderr", "log destination"),
    { "log.level", CONF_LOG_LEVEL, offsetof(fg_conf_t, log_level), "notice",
      0, 0, 0, "error, warn, notice, info or debug" },
    CONF_I("shutdown_timeout_ms", shutdown_timeout_ms, 30000, 0, 3600000,
           "SIGTERM drain deadline for in-flight requests"),
    CONF_I("limits.max_header_bytes", max_header_bytes, 16 * KiB, 1 * KiB,
           1 * MiB, "request line and headers, larger gets 431"),
    CONF_I("limits.max_body_bytes", max_body_bytes, 4 * MiB, 1 * KiB,
           256 * MiB, "request body, larger gets 413"),
    CONF_I("limits.worker_request_bytes", worker_request_bytes, 256 * MiB,
           1 * MiB, 64LL * 1024 * MiB,
           "request bodies a worker's requests hold together (each counted "
           "twice: its copy and the upstream's); above it, 503"),
    CONF_I("limits.max_json_depth", max_json_depth, 64, 4, 1024,
           "nesting of the JSON body, deeper gets 400"),
    CONF_I("limits.request_timeout_ms", request_timeout_ms, 10000, 100,
           600000, "total time to receive one request's headers and body"),
    CONF_I("limits.keepalive_timeout_ms", keepalive_timeout_ms, 60000, 100,
           3600000, "idle keep-alive connections are closed after this"),
    CONF_I("limits.send_timeout_ms", send_timeout_ms, 30000, 100, 3600000,
           "a client that accepts no bytes for this long is dropped"),
    CONF_I("limits.max_connections", max_connections, 4096, 1, 1000000,
           "client connections per worker; above it accept pauses"),
    CONF_I("limits.max_connections_per_client", max_connections_per_client,
           256, 0, 1000000, "client connections one address (an IPv6 /64) "
           "may hold on the node, all workers together; above it 503 "
           "(0: no limit)"),
    CONF_S("limits.trusted_proxies", trusted_proxies, "",
           "addresses and CIDR blocks (comma-separated) whose PROXY "
           "header or X-Forwarded-For names the real client"),
    CONF_I("listen_proxy_protocol", listen_proxy_protocol, 0, 0, 1,
           "1: every public connection starts with a PROXY protocol "
           "header (v1 or v2)"),
    CONF_I("limits.stream_high_water_bytes", stream_high_water_bytes,
           256 * KiB, 4 * KiB, 64 * MiB,
           "unsent stream bytes above which the upstream is paused"),
    CONF_I("limits.body_buffer_budget_bytes", body_buffer_budget_bytes,
           128 * MiB, 64 * KiB, 64 * 1024 * MiB,
           "request bodies being received at once, per worker; a body "
           "that would pass it gets 503 before it is read"),
    CONF_I("limits.exact_count_bytes", exact_count_bytes, 64 * KiB, 0,
           16 * MiB, "prompt text counted exactly by the model's tokenizer; "
           "the rest by the proven bounds (docs/api.md, \"Metering\")"),
    CONF_I("routing.max_attempts", routing_max_attempts, 3, 1, 16,
           "endpoints one request may be sent to (the first try "
           "included) before it fails"),
    CONF_I("routing.total_timeout_ms", routing_total_timeout_ms, 0, 0,
           3600000, "no new attempt starts this long after the request "
           "came (0: no limit beyond each provider's timeouts)"),
    CONF_I("routing.failover_after_send", routing_failover_after_send, 0,
           0, 1, "1: an attempt sent but never answered (sent_no_reply) "
           "moves to the next endpoint too; the provider may bill twice"),
    CONF_I("routing.expected_completion_tokens",
           routing_expected_completion_tokens, 500, 1, 10000000,
           "completion tokens the price ordering assumes, at most the "
           "request's own limit"),
    CONF_I("routing.max_endpoints", routing_max_endpoints, 1024, 16,
           1000000, "capacity of the shared health table (a restart "
           "applies a change)"),
    CONF_I("routing.circuit.failures", routing_circuit_failures, 5, 1,
           1000000, "consecutive failures that open an endpoint's circuit"),
    CONF_I("routing.circuit.error_rate_percent",
           routing_circuit_error_rate_percent, 50, 1, 100,
           "error rate over the window that opens an endpoint's circuit"),
    CONF_I("routing.circuit.min_requests", routing_circuit_min_requests, 20,
           1, 1000000, "attempts in the window before its error rate "
           "counts"),
    CONF_I("routing.circuit.window_ms", routing_circuit_window_ms, 60000,
           1000, 3600000, "the error-rate window"),
    CONF_I("routing.circuit.open_ms", routing_circuit_open_ms, 30000, 100,
           3600000, "an open circuit lets a probe through after this"),
    CONF_I("upstream.max_body_bytes", upstream_max_body_bytes, 32 * MiB,
           64 * KiB, 1024 * MiB, "largest non-streaming upstream reply"),
    CONF_I("upstream.max_connections_per_host", upstream_max_connections,
           256, 1, 100000, "upstream connections per host, per worker"),
    CONF_I("upstream.native_http", upstream_native_http, 1, 0, 1,
           "1: plain http:// to an IP address or localhost without "
           "libcurl (0: libcurl for every provider)"),
    CONF_S("data_dir", data_dir, "/var/lib/fluxgate",
           "durable state (key store, secrets), relative to this file"),
    CONF_I("keys.max_keys", keys_max, 100000, 1, (1 << 24) - 2,
           "capacity of the shared-memory key table"),
    CONF_S("keys.server_secret_file", keys_server_secret_file, "",
           "0600 file of the key-hashing secret (\"\": data_dir/server.secret)"),
    CONF_I("keys.rotation_grace_s", keys_rotation_grace_s, 86400, 0,
           30 * 86400, "how long a rotated-out secret stays valid"),
    CONF_S("admin.listen", admin_listen, "",
           "admin API: \"unix:PATH\", \"127.0.0.1:PORT\", or \"off\" "
           "(\"\": unix:data_dir/admin.sock)"),
    CONF_S("admin.token", admin_token, "",
           "admin API token (\"\": read admin.token_file)"),
    CONF_S("admin.token_file", admin_token_file, "",
           "0600 file of the admin token (\"\": data_dir/admin.token)"),
    CONF_I("keys.default_balance_micro", keys_default_balance, 0, 0,
           1000000000000000LL,
           "energy balance of a key created without one (micro-units)"),
    CONF_I("billing.min_reply_tokens", billing_min_reply_tokens, 16, 1,
           100000, "below what a balance affords for this, answer 402"),
    CONF_I("usage.ring_records", usage_ring_records, 1024, 16, 1 << 20,
           "usage records each worker can hold before the syncer drains"),
    CONF_I("usage.sync_interval_ms", usage_sync_interval_ms, 50, 1, 10000,
           "group commit: fdatasync the usage journal at least this often"),
    CONF_I("usage.sync_records", usage_sync_records, 256, 1, 1000000,
           "group commit: or as soon as this many records wait"),
    CONF_I("usage.reservation_wait_ms", usage_reservation_wait_ms, 0,
           0, 60000, "wait this long for a reservation to be durable "
           "before the upstream call, then 503 (0: do not wait)"),
    CONF_I("usage.journal_max_bytes", usage_journal_max_bytes, 256 * MiB,
           4 * KiB, 1024LL * 1024 * MiB,
           "roll usage.journal to usage.journal.<id> at this size"),
    CONF_I("usage.retention_days", usage_retention_days, 0, 0, 36500,
           "delete rolled usage journals older than this (0: keep all)"),
    CONF_I("usage.retention_bytes", usage_retention_bytes, 0, 0,
           INT64_MAX / 2,
           "delete the oldest rolled usage journals beyond this total "
           "(0: keep all)"),
    CONF_I("usage.query_timeout_ms", usage_query_timeout_ms, 120000, 100,
           3600000, "GET /admin/v1/usage: kill a query running longer"),
    CONF_S("usage.node", usage_node, "",
           "this node's name in usage records (\"\": the host name)"),
    CONF_I("store.compact_after", store_compact_after, 10000, 10, 100000000,
           "journal records after which a snapshot replaces them"),
    CONF_I("responses.store_bytes", responses_store_bytes, 256 * MiB, 0,
           TiB, "stored /v1/responses conversations on disk, all keys "
           "together (0: store off)"),
    CONF_I("responses.store_key_bytes", responses_store_key_bytes,
           16 * MiB, 1 * KiB, TiB, "stored conversations of one key, at "
           "most responses.store_bytes"),
    CONF_I("responses.store_ttl_s", responses_store_ttl_s, 3600, 60,
           2592000, "a stored conversation is forgotten this long after "
           "it was written"),
    CONF_I("responses.store_sweep_s", responses_store_sweep_s, 60, 1, 3600,
           "the syncer deletes expired conversations at least this often"),
    CONF_S("metrics.listen", metrics_listen, "127.0.0.1:9464",
           "Prometheus /metrics listener, \"host:port\" or \"off\""),
    CONF_I("metrics.per_key", metrics_per_key, 0, 0, 1,
           "1: also export per-key series (one per key: mind cardinality)"),
    CONF_S("access_log.file", access_log_file, "off",
           "one JSON line per request: a file path, \"stderr\" or \"off\""),
    CONF_I("access_log.content", access_log_content, 0, 0, 1,
           "1: include prompts and completions in the access log"),
    CONF_S("impact.dir", impact_dir, "",
           "folder of the impact tables (\"\": impact/ beside the model "
           "catalog)"),
    CONF_I("impact.prefill", impact_prefill, 1, 0, 1,
           "1: count prompt tokens' energy too (docs/impact.md)"),
    CONF_S("catalog.providers", providers_file, "providers.json",
           "provider catalog, relative to this file's directory"),
    CONF_S("catalog.models", models_file, "models.json",
           "model catalog, relative to this file's directory"),
    CONF_S("catalog.tokenizers", tokenizers_dir, "",
           "folder of the tokenizers models name (\"\": the tokenizers/ "
           "folder installed with fluxgate)"),
    { "cors.allowed_origins", CONF_ORIGINS, offsetof(fg_conf_t, cors), NULL,
      0, 0, FG_CORS_MAX_ORIGINS, "browser origins (scheme://host[:port]) "
      "that may call the public API, or \"*\" for any; [] = CORS off" },
};

#define CONF_TABLE_SIZE (sizeof(conf_table) / sizeof(conf_table[0]))

static const conf_entry_t *conf_find(const char *path);
static int conf_is_prefix(const char *path);
static int conf_walk(fg_conf_t *conf, json_t *obj, const char *prefix,
                     fg_err_t *err);
static int conf_set(fg_conf_t *conf, const conf_entry_t *e, json_t *v,
                    fg_err_t *err);
static int conf_set_default(fg_conf_t *conf, const conf_entry_t *e);
static int conf_set_listen(fg_conf_t *conf, json_t *v, fg_err_t *err);
static int conf_set_origins(fg_cors_t *cors, json_t *v, int64_t max,
                            fg_err_t *err);
static int conf_derive(fg_conf_t *conf, fg_err_t *err);
static int conf_derive_responses(fg_conf_t *conf, const char *where,
                                 fg_err_t *err);

static const conf_entry_t *
conf_find(const char *path)
{
    size_t i;

    for (i = 0; i < CONF_TABLE_SIZE; i++) {
        if (strcmp(conf_table[i].path, path) == 0) {
            return &conf_table[i];
        }
    }
    return NULL;
}

static int
conf_is_prefix(const char *path)
{
    size_t i, n = strlen(path);

    for (i = 0; i < CONF_TABLE_SIZE; i++) {
        if (strncmp(conf_table[i].path, path, n) == 0
            && conf_table[i].path[n] == '.') {
            return 1;
        }
    }
    return 0;
}

int
fg_conf_parse_listen(const char *s, fg_listen_t *out, fg_err_t *err)
{
    const char *colon, *host = s;
    size_t      host_len;
    char       *end;
    long        port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':') {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%s\" is not [ipv6]:port", s);
        }
        host = s + 1;
        host_len = (size_t) (close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "\"%s\" is not host:port", s);
        }
        host_len = (size_t) (colon - s);
    }
    if (host_len == 0 || host_len >= sizeof(out->host)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "\"%s\" has no usable host", s);
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0
        || port > 65535) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "\"%s\" has no valid port (0-65535)", s);
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int) port;
    return FG_OK;
}

static int
conf_set_listen(fg_conf_t *conf, json_t *v, fg_err_t *err)
{
    size_t  i;
    json_t *item;

    if (json_is_string(v)) {
        conf->listen_count = 1;
        return fg_conf_parse_listen(json_string_value(v), &conf->listen[0],
                                    err);
    }
    if (!json_is_array(v) || json_array_size(v) == 0
        || json_array_size(v) > FG_CONF_MAX_LISTEN) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "expected \"host:port\" or an array of 1 to %d",
                          FG_CONF_MAX_LISTEN);
    }
    conf->listen_count = 0;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "element %zu is not a string", i);
        }
        if (fg_conf_parse_listen(json_string_value(item),
                                 &conf->listen[i], err) != FG_OK) {
            return FG_ERR;
        }
        conf->listen_count++;
    }
    return FG_OK;
}

static int
conf_set_origins(fg_cors_t *cors, json_t *v, int64_t max, fg_err_t *err)
{
    size_t  i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) > (size_t) max) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "expected an array of at most %lld origins "
                          "(\"scheme://host[:port]\" or \"*\")",
                          (long long) max);
    }
    memset(cors, 0, sizeof(*cors));
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "element %zu is not a string", i);
        }
        if (fg_cors_add(cors, json_string_value(item), err) != FG_OK) {
            char msg[FG_ERR_MSG_MAX];

            snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "element %zu: %s", i, msg);
        }
    }
    return FG_OK;
}

static int
conf_workers_auto(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : (n > 256 ? 256 : (int) n);
}

static int
conf_set(fg_conf_t *conf, const conf_entry_t *e, json_t *v, fg_err_t *err)
{
    char *base = (char *) conf;

    switch (e->type) {
    case CONF_INT:
        if (!json_is_integer(v)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "expected an integer");
        }
        if (json_integer_value(v) < e->min
            || json_integer_value(v) > e->max) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                              "%lld is outside %lld..%lld",
                              (long long) json_integer_value(v),
                              (long long) e->min, (long long) e->max);
        }
        *(int64_t *) (base + e->offset) = json_integer_value(v);
        return FG_OK;

    case CONF_STR:
        if (!json_is_string(v)) {
            return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                              "expected a string");
        }
        if (json_string_length(v) >= FG_CONF_PATH_MAX) {
            return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL,
                              "longer than %d bytes", FG_CONF_PATH_MAX - 1);
        }
        snprintf(base + e->offset, FG_CONF_PATH_MAX, "%s",
                 json_string_value(v));
        return FG_OK;

    case CONF_LOG_LEVEL: {
        int level = json_is_string(v)
                    ? fg_log_level_parse(json_string_value(v)) : -1;

        if (level < 0) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "expected one of error, warn, notice, info, "
                              "debug");
        }
        *(int *) (base + e->offset) = level;
        return FG_OK;
    }

    case CONF_WORKERS:
        if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0) {
            *(int *) (base + e->offset) = conf_workers_auto();
            return FG_OK;
        }
        if (!json_is_integer(v) || json_integer_value(v) < e->min
            || json_integer_value(v) > e->max) {
            return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                              "expected \"auto\" or an integer %lld..%lld",
                              (long long) e->min, (long long) e->max);
        }
        *(int *) (base + e->offset) = (int) json_integer_value(v);
        return FG_OK;

    case CONF_LISTEN:
        return conf_set_listen(conf, v, err);

    case CONF_ORIGINS:
        return conf_set_origins((fg_cors_t *) (base + e->offset), v, e->max,
                                err);
    }
    return fg_err_set(err, FG_E_INTERNAL, NULL, "unknown entry type");
}

static int
conf_set_default(fg_conf_t *conf, const conf_entry_t *e)
{
    json_t *v;
    int     rc;

    if (e->type == CONF_INT) {
        v = json_integer(e->default_int);
    } else if (e->type == CONF_ORIGINS) {
        v = json_array();
    } else {
        v = json_string(e->default_str);
    }
    rc = conf_set(conf, e, v, NULL);
    json_decref(v);
    return rc;
}

void
fg_conf_defaults(fg_conf_t *conf)
{
    size_t i;

    memset(conf, 0, sizeof(*conf));
    for (i = 0; i < CONF_TABLE_SIZE; i++) {
        (void) conf_set_default(conf, &conf_table[i]);
    }
    snprintf(conf->dir, sizeof(conf->dir), ".");
}

static int
conf_walk(fg_conf_t *conf, json_t *obj, const char *prefix, fg_err_t *err)
{
    const char         *key;
    json_t             *v;
    char                path[256];
    const conf_entry_t *e;

    json_object_foreach(obj, key, v) {
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
                 key);
        e = conf_find(path);
        if (e != NULL) {
            if (conf_set(conf, e, v, err) != FG_OK) {
                char msg[FG_ERR_MSG_MAX];

                snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
                return fg_err_set(err, err ? err->code : FG_E_INVALID_VALUE,
                                  path, "%s: \"%s\": %s", conf->path, path,
                                  msg);
            }
            continue;
        }
        if (conf_is_prefix(path)) {
            if (!json_is_object(v)) {
                return fg_err_set(err, FG_E_INVALID_TYPE, path,
                                  "%s: \"%s\": expected an object",
                                  conf->path, path);
            }
            if (conf_walk(conf, v, path, err) != FG_OK) {
                return FG_ERR;
            }
            continue;
        }
        return fg_err_set(err, FG_E_INVALID_VALUE, path,
                          "%s: \"%s\": unknown key", conf->path, path);
    }
    return FG_OK;
}

int
fg_conf_load(fg_conf_t *conf, const char *path, fg_err_t *err)
{
    json_error_t jerr;
    json_t      *root;
    const char  *slash;
    int          rc;

    fg_conf_defaults(conf);
    if (path == NULL) {
        return conf_derive(conf, err);
    }
    if (strlen(path) >= sizeof(conf->path)) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL,
                          "configuration path too long");
    }
    snprintf(conf->path, sizeof(conf->path), "%s", path);
    slash = strrchr(path, '/');
    if (slash != NULL) {
        snprintf(conf->dir, sizeof(conf->dir), "%.*s",
                 (int) (slash == path ? 1 : slash - path), path);
    }
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return fg_err_set(err, FG_E_INVALID_JSON, NULL, "%s:%d:%d: %s",
                          path, jerr.line, jerr.column, jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "%s: the top level must be an object", path);
    }
    rc = conf_walk(conf, root, "", err);
    json_decref(root);
    return rc == FG_OK ? conf_derive(conf, err) : rc;
}

/* Fills the paths whose default depends on data_dir, and checks them. */
static int
conf_derive(fg_conf_t *conf, fg_err_t *err)
{
    char        buf[2 * FG_CONF_PATH_MAX + 2];
    const char *where = conf->path[0] ? conf->path : "defaults";
    int         n;

    fg_conf_resolve(conf, conf->data_dir, buf, sizeof(buf));
    /* Room for "/server.secret" and the like after it. */
    if (strlen(buf) + 32 >= FG_CONF_PATH_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "data_dir",
                          "%s: \"data_dir\": path too long", where);
    }
    memcpy(conf->data_dir, buf, strlen(buf) + 1);
    if (conf->keys_server_secret_file[0] == '\0') {
        n = snprintf(conf->keys_server_secret_file, FG_CONF_PATH_MAX,
                     "%s/server.secret", conf->data_dir);
    } else {
        fg_conf_resolve(conf, conf->keys_server_secret_file, buf,
                        sizeof(buf));
        n = snprintf(conf->keys_server_secret_file, FG_CONF_PATH_MAX, "%s",
                     buf);
    }
    if (n >= FG_CONF_PATH_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "keys.server_secret_file",
                          "%s: \"keys.server_secret_file\": path too long",
                          where);
    }
    if (conf->admin_token_file[0] == '\0') {
        n = snprintf(conf->admin_token_file, FG_CONF_PATH_MAX,
                     "%s/admin.token", conf->data_dir);
    } else {
        fg_conf_resolve(conf, conf->admin_token_file, buf, sizeof(buf));
        n = snprintf(conf->admin_token_file, FG_CONF_PATH_MAX, "%s", buf);
    }
    if (n >= FG_CONF_PATH_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "admin.token_file",
                          "%s: \"admin.token_file\": path too long", where);
    }
    if (conf->admin_token[0] != '\0' && strlen(conf->admin_token) < 16) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "admin.token",
                          "%s: \"admin.token\": at least 16 characters",
                          where);
    }
    if (conf->admin_listen[0] == '\0') {
        n = snprintf(conf->admin_listen, FG_CONF_PATH_MAX, "unix:%s/admin.sock",
                     conf->data_dir);
    } else if (strncmp(conf->admin_listen, "unix:", 5) == 0) {
        fg_conf_resolve(conf, conf->admin_listen + 5, buf, sizeof(buf));
        n = snprintf(conf->admin_listen, FG_CONF_PATH_MAX, "unix:%s", buf);
    } else if (strcmp(conf->admin_listen, "off") != 0) {
        fg_listen_t l;

        if (fg_conf_parse_listen(conf->admin_listen, &l, err) != FG_OK) {
            char msg[FG_ERR_MSG_MAX];

            snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
            return fg_err_set(err, FG_E_INVALID_VALUE, "admin.listen",
                              "%s: \"admin.listen\": %s", where, msg);
        }
        n = 0;
    } else {
        n = 0;
    }
    /* sun_path is 108 bytes on Linux, NUL included. */
    if (strncmp(conf->admin_listen, "unix:", 5) == 0
        && (n >= FG_CONF_PATH_MAX || strlen(conf->admin_listen + 5) > 107)) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "admin.listen",
                          "%s: \"admin.listen\": a unix socket path has at "
                          "most 107 bytes", where);
    }
    if (conf->body_buffer_budget_bytes < conf->max_body_bytes) {
        /* Else a body of the size allowed could never be received. */
        return fg_err_set(err, FG_E_OUT_OF_RANGE,
                          "limits.body_buffer_budget_bytes",
                          "%s: \"limits.body_buffer_budget_bytes\" (%lld) "
                          "is less than \"limits.max_body_bytes\" (%lld)",
                          where, (long long) conf->body_buffer_budget_bytes,
                          (long long) conf->max_body_bytes);
    }
    return conf_derive_responses(conf, where, err);
}

/* The response store's folder, and its caps checked together. */
static int
conf_derive_responses(fg_conf_t *conf, const char *where, fg_err_t *err)
{
    int n = snprintf(conf->responses_dir, sizeof(conf->responses_dir),
                     "%s/responses", conf->data_dir);

    if (n >= (int) sizeof(conf->responses_dir)) {
        /* conf_derive left data_dir 32 bytes of room: not reached. */
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "data_dir",
                          "%s: \"data_dir\": path too long", where);
    }
    if (conf->responses_store_bytes != 0
        && conf->responses_store_key_bytes > conf->responses_store_bytes) {
        /* One key could then never be refused before the whole store. */
        return fg_err_set(err, FG_E_OUT_OF_RANGE,
                          "responses.store_key_bytes",
                          "%s: \"responses.store_key_bytes\" (%lld) is "
                          "more than \"responses.store_bytes\" (%lld)",
                          where, (long long) conf->responses_store_key_bytes,
                          (long long) conf->responses_store_bytes);
    }
    return FG_OK;
}

void
fg_conf_resolve(const fg_conf_t *conf, const char *file, char *out,
                size_t size)
{
    int n;

    if (file[0] == '/' || conf->dir[0] == '\0') {
        n = snprintf(out, size, "%s", file);
    } else {
        n = snprintf(out, size, "%s/%s", conf->dir, file);
    }
    (void) n;   /* truncation is documented; the result is then unusable */
}
