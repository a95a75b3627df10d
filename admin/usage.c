/*
 * usage.c: `fluxgate-admin usage`, GET /admin/v1/usage: the usage journal
 * summed per key, model and day (UTC), with totals of requests, tokens,
 * energy credit and environmental impact.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "admin/amount.h"
#include "admin/output.h"
#include "admin/verbs.h"

#define USAGE_OPT_KEY  1001
#define USAGE_OPT_FROM 1002
#define USAGE_OPT_TO   1003

static const char usage_usage[] =
    "usage: fluxgate-admin [global options] usage [--key ID] [--from DAY] "
    "[--to DAY]\n"
    "\n"
    "Sums the usage records per key, model and day (days are UTC,\n"
    "YYYY-MM-DD, both ends included): requests, tokens, credit charged,\n"
    "credit the provider's usage cost beyond a reservation (uncharged),\n"
    "energy (kWh), carbon (g CO2e) and water (L). With --json, the API's\n"
    "reply.\n";

static void
usage_row(fg_table_t *t, json_t *row, int is_total)
{
    char        req[24], prompt[24], completion[24], credit[40];
    char        uncharged[40], kwh[64], co2[64];
    const char *cells[10], *energy, *carbon;

    snprintf(req, sizeof(req), "%lld", (long long) json_integer_value(
                 json_object_get(row, "requests")));
    snprintf(prompt, sizeof(prompt), "%lld", (long long) json_integer_value(
                 json_object_get(row, "prompt_tokens")));
    snprintf(completion, sizeof(completion), "%lld",
             (long long) json_integer_value(
                 json_object_get(row, "completion_tokens")));
    fg_amount_format(json_integer_value(json_object_get(row,
                                                        "charged_micro")),
                     credit, sizeof(credit));
    /* A journal of line format 1 has none: the server sums it as 0. */
    fg_amount_format(json_integer_value(json_object_get(row,
                                                        "uncharged_micro")),
                     uncharged, sizeof(uncharged));
    /* Fixed decimals, as /metrics and keys show have them. */
    energy = fg_output_decimal(json_object_get(row, "energy_kwh"), 12, kwh,
                               sizeof(kwh));
    carbon = fg_output_decimal(json_object_get(row, "carbon_g_co2"), 9, co2,
                               sizeof(co2));
    cells[0] = is_total ? "total" : json_string_value(
                                        json_object_get(row, "day"));
    cells[1] = is_total ? "" : json_string_value(
                                   json_object_get(row, "key_id"));
    cells[2] = is_total ? "" : json_string_value(
                                   json_object_get(row, "model"));
    cells[3] = req;
    cells[4] = prompt;
    cells[5] = completion;
    cells[6] = credit;
    cells[7] = uncharged;
    cells[8] = energy;
    cells[9] = carbon;
    fg_table_add_row(t, cells);
}

int
fg_admin_usage(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { "key", required_argument, NULL, USAGE_OPT_KEY },
        { "from", required_argument, NULL, USAGE_OPT_FROM },
        { "to", required_argument, NULL, USAGE_OPT_TO },
        { NULL, 0, NULL, 0 }
    };
    static const char *const headers[] = {
        "DAY", "KEY", "MODEL", "REQUESTS", "PROMPT", "COMPLETION", "CREDITS",
        "UNCHARGED", "KWH", "G_CO2E"
    };
    const char *key = NULL, *from = NULL, *to = NULL;
    char        path[512];
    json_t     *reply, *row;
    fg_table_t *t;
    size_t      i, n = 0;
    int         opt, rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(usage_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS, opts,
                              NULL)) != -1) {
        switch (opt) {
        case USAGE_OPT_KEY:  key = optarg; break;
        case USAGE_OPT_FROM: from = optarg; break;
        case USAGE_OPT_TO:   to = optarg; break;
        default:
            rc = fg_admin_opt_common(ctx, "usage", opt, argv);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (optind != argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "usage: unexpected "
                             "argument \"%s\"", argv[optind]);
    }
    n = (size_t) snprintf(path, sizeof(path), "/admin/v1/usage");
    /* Values are checked by the server; escape them for the URL. */
    {
        const char *names[] = { "key", "from", "to" };
        const char *values[] = { key, from, to };
        char        sep = '?';

        for (i = 0; i < 3; i++) {
            char *esc;

            if (values[i] == NULL) {
                continue;
            }
            esc = curl_easy_escape(NULL, values[i], 0);
            if (esc == NULL || n + strlen(esc) + 16 >= sizeof(path)) {
                curl_free(esc);
                return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "usage: --%s is "
                                     "too long", names[i]);
            }
            n += (size_t) snprintf(path + n, sizeof(path) - n, "%c%s=%s",
                                   sep, names[i], esc);
            curl_free(esc);
            sep = '&';
        }
    }
    rc = fg_admin_request(ctx, "GET", path, NULL, &reply);
    if (rc != FG_ADMIN_EXIT_OK) {
        return rc;
    }
    if (ctx->is_json) {
        rc = fg_admin_print_json(reply);
        json_decref(reply);
        return rc;
    }
    t = fg_table_new(10, headers);
    json_array_foreach(json_object_get(reply, "rows"), i, row) {
        usage_row(t, row, 0);
    }
    usage_row(t, json_object_get(reply, "totals"), 1);
    fg_table_print(t, stdout);
    fg_table_free(t);
    json_decref(reply);
    return FG_ADMIN_EXIT_OK;
}
