#ifndef FG_COMMON_CONF_H
#define FG_COMMON_CONF_H

/*
 * The gateway's configuration: one JSON file, every key optional, every
 * default embedded. One table in conf.c declares each key (JSON path, type,
 * default, bounds, description); parsing, validation, `fluxgate -t` and
 * docs/operations.md all follow it. Unknown keys are errors. Relative file
 * paths for the catalogs are resolved against the config file's directory.
 *
 * The parsed fg_conf_t is immutable once loaded: the master builds it,
 * workers inherit it by fork, a reload builds a new one.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/wire/cors.h"

#define FG_CONF_MAX_LISTEN 8
#define FG_CONF_PATH_MAX   1024

typedef struct {
    char        host[256];
    int         port;
} fg_listen_t;

typedef struct {
    char        path[FG_CONF_PATH_MAX];    /* the file read; "" for defaults */
    char        dir[FG_CONF_PATH_MAX];     /* its directory, for relative paths */

    fg_listen_t listen[FG_CONF_MAX_LISTEN];
    int         listen_count;
    int         workers;                   /* resolved: "auto" = cores */
    char        pid_file[FG_CONF_PATH_MAX];
    char        log_file[FG_CONF_PATH_MAX];
    int         log_level;                 /* fg_log_level_t */
    int64_t     shutdown_timeout_ms;

    /* Client-side limits, per worker (reliability.md 3.7). */
    int64_t     max_header_bytes;
    int64_t     max_body_bytes;
    int64_t     worker_request_bytes;      /* bodies held by a worker's
                                            * requests, together */
    int64_t     max_json_depth;
    int64_t     request_timeout_ms;        /* whole request received by then */
    int64_t     keepalive_timeout_ms;      /* idle connection closed after */
    int64_t     send_timeout_ms;           /* no write progress for this long */
    int64_t     max_connections;           /* per worker */
    int64_t     max_connections_per_client;   /* per node; 0: off */
    char        trusted_proxies[FG_CONF_PATH_MAX];   /* CIDR list */
    int64_t     listen_proxy_protocol;     /* 1: PROXY header first */
    int64_t     stream_high_water_bytes;   /* pause upstream above this */
    int64_t     body_buffer_budget_bytes;  /* bodies being received, all
                                            * together; 503 above */

    /* Upstream client. */
    int64_t     upstream_max_body_bytes;
    int64_t     upstream_max_connections;  /* per host, per worker */
    int64_t     upstream_native_http;      /* 1: upstream_h1.c serves
                                            * http://<IP or localhost> */

    /* Keys, the admin API and the embedded store (docs/admin-api.md). */
    char        data_dir[FG_CONF_PATH_MAX];
    int64_t     keys_max;
    char        keys_server_secret_file[FG_CONF_PATH_MAX];
    int64_t     keys_rotation_grace_s;
    char        admin_listen[FG_CONF_PATH_MAX];
    char        admin_token[FG_CONF_PATH_MAX];
    char        admin_token_file[FG_CONF_PATH_MAX];
    int64_t     store_compact_after;
    int64_t     usage_ring_records;
    int64_t     usage_sync_interval_ms;
    int64_t     usage_sync_records;
    int64_t     usage_reservation_wait_ms;   /* 0: the upstream at once */
    int64_t     usage_journal_max_bytes;
    int64_t     usage_retention_days;
    int64_t     usage_retention_bytes;
    int64_t     usage_query_timeout_ms;
    char        usage_node[FG_CONF_PATH_MAX];
    int64_t     keys_default_balance;
    int64_t     billing_min_reply_tokens;

    /* The response store (docs/operations.md, "Response store"); a
     * restart applies a change. */
    int64_t     responses_store_bytes;     /* all files; 0: store off */
    int64_t     responses_store_key_bytes; /* one key's files */
    int64_t     responses_store_ttl_s;
    int64_t     responses_store_sweep_s;
    char        responses_dir[FG_CONF_PATH_MAX];   /* resolved:
                                                    * data_dir/responses */

    /* Observability (docs/operations.md). */
    char        metrics_listen[FG_CONF_PATH_MAX];
    int64_t     metrics_per_key;
    char        access_log_file[FG_CONF_PATH_MAX];
    int64_t     access_log_content;

    char        impact_dir[FG_CONF_PATH_MAX];
    int64_t     impact_prefill;

    char        providers_file[FG_CONF_PATH_MAX];
    char        models_file[FG_CONF_PATH_MAX];
    char        tokenizers_dir[FG_CONF_PATH_MAX];
    int64_t     exact_count_bytes;         /* limits.exact_count_bytes */

    /* Routing (docs/routing.md). */
    int64_t     routing_max_attempts;
    int64_t     routing_total_timeout_ms;  /* 0: none beyond each
                                              provider's own */
    int64_t     routing_failover_after_send;
    int64_t     routing_expected_completion_tokens;
    int64_t     routing_max_endpoints;     /* health table capacity */
    int64_t     routing_circuit_failures;
    int64_t     routing_circuit_error_rate_percent;
    int64_t     routing_circuit_min_requests;
    int64_t     routing_circuit_window_ms;
    int64_t     routing_circuit_open_ms;

    /* Browser origins allowed to call the public API (docs/api.md,
     * "CORS"); none: CORS off. */
    fg_cors_t   cors;
} fg_conf_t;

/*
 * Fills @conf with the embedded defaults. Cannot fail.
 */
void fg_conf_defaults(fg_conf_t *conf);

/*
 * Loads @path (NULL: defaults only) over the defaults into @conf, validating
 * every key. Returns FG_OK, or FG_ERR with @err's message naming the file,
 * the JSON path and what is wrong; @conf is then unspecified.
 */
int fg_conf_load(fg_conf_t *conf, const char *path, fg_err_t *err);

/*
 * Parses "host:port" ("[::1]:8080" for IPv6) into @out. Returns FG_OK or
 * FG_ERR with @err set.
 */
int fg_conf_parse_listen(const char *s, fg_listen_t *out, fg_err_t *err);

/*
 * Resolves @file against the config directory into @out (@size bytes).
 * Absolute paths are kept. Cannot fail; truncates.
 */
void fg_conf_resolve(const fg_conf_t *conf, const char *file, char *out,
                     size_t size);

#endif
