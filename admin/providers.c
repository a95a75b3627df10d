/*
 * providers.c: `fluxgate-admin providers`, GET /admin/v1/providers: every
 * endpoint of the catalog the gateway serves, with its health (circuit,
 * time to first token, tokens per second, error rate).
 */

#include <stdio.h>
#include <string.h>

#include "admin/output.h"
#include "admin/verbs.h"

static const char providers_usage[] =
    "usage: fluxgate-admin [global options] providers\n"
    "\n"
    "Lists the endpoints of the catalog the gateway serves (provider,\n"
    "model, country) with their health: circuit state (closed, open,\n"
    "half_open; with the seconds until a request may go again), moving\n"
    "averages of the time to first token and of output tokens per second\n"
    "(\"-\" until measured), and the error rate over the circuit's window.\n"
    "With --json, the API's reply.\n";

static void
providers_row(fg_table_t *t, const json_t *e)
{
    char        state[48], ttft[32], tps[32], rate[32];
    const char *cells[7];
    json_t     *retry = json_object_get(e, "retry_at_s");
    json_t     *v;

    snprintf(state, sizeof(state), "%s",
             json_string_value(json_object_get(e, "state")));
    if (json_is_number(retry)) {
        snprintf(state + strlen(state), sizeof(state) - strlen(state),
                 " (%.0fs)", json_number_value(retry) + 0.5);
    }
    /* null until measured: "-" */
    v = json_object_get(e, "ttft_ms");
    snprintf(ttft, sizeof(ttft), "-");
    if (json_is_number(v)) {
        snprintf(ttft, sizeof(ttft), "%.0f ms", json_number_value(v));
    }
    v = json_object_get(e, "tps");
    snprintf(tps, sizeof(tps), "-");
    if (json_is_number(v)) {
        snprintf(tps, sizeof(tps), "%.1f", json_number_value(v));
    }
    snprintf(rate, sizeof(rate), "%.1f%%",
             100 * json_number_value(json_object_get(e, "error_rate")));
    cells[0] = json_string_value(json_object_get(e, "provider"));
    cells[1] = json_string_value(json_object_get(e, "model"));
    cells[2] = json_string_value(json_object_get(e, "country"));
    cells[3] = state;
    cells[4] = ttft;
    cells[5] = tps;
    cells[6] = rate;
    fg_table_add_row(t, cells);
}

int
fg_admin_providers(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    static const char *const headers[] = {
        "PROVIDER", "MODEL", "COUNTRY", "STATE", "TTFT", "TPS", "ERRORS"
    };
    json_t     *reply, *e;
    fg_table_t *t;
    size_t      i;
    int         opt, rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(providers_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS, opts,
                              NULL)) != -1) {
        rc = fg_admin_opt_common(ctx, "providers", opt, argv);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind != argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "providers: unexpected "
                             "argument \"%s\"", argv[optind]);
    }
    rc = fg_admin_request(ctx, "GET", "/admin/v1/providers", NULL, &reply);
    if (rc != FG_ADMIN_EXIT_OK) {
        return rc;
    }
    if (ctx->is_json) {
        rc = fg_admin_print_json(reply);
        json_decref(reply);
        return rc;
    }
    t = fg_table_new(7, headers);
    json_array_foreach(json_object_get(reply, "data"), i, e) {
        providers_row(t, e);
    }
    fg_table_print(t, stdout);
    fg_table_free(t);
    json_decref(reply);
    return FG_ADMIN_EXIT_OK;
}
