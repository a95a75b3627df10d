/*
 * status.c: `fluxgate-admin status`, GET /admin/v1/status.
 *
 * The reply is printed field by field with dotted names
 * ("workers.ready: 4"), whatever fields it holds: the status object is the
 * gateway's to extend, and a field it adds shows up here unchanged.
 */

#include <stdio.h>
#include <string.h>

#include "admin/output.h"
#include "admin/verbs.h"

static const char status_usage[] =
    "usage: fluxgate-admin [global options] status\n"
    "\n"
    "Prints the gateway's version, uptime, workers, key table and store as\n"
    "\"name: value\" lines (with --json, the API's reply).\n";

int
fg_admin_status(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    json_t *reply;
    int     opt, rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(status_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS, opts,
                              NULL)) != -1)
    {
        rc = fg_admin_opt_common(ctx, "status", opt, argv);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind != argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "status: unexpected "
                             "argument \"%s\"", argv[optind]);
    }

    rc = fg_admin_request(ctx, "GET", "/admin/v1/status", NULL, &reply);
    if (rc != FG_ADMIN_EXIT_OK) {
        return rc;
    }
    if (ctx->is_json) {
        rc = fg_admin_print_json(reply);
    } else {
        fg_output_fields_flat(stdout, reply);
    }
    json_decref(reply);
    return rc;
}
