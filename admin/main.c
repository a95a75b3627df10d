/*
 * main.c: fluxgate-admin's entry point. Reads the global options, picks
 * the verb from the command table and hands it the rest of the line; also
 * home of what every verb shares (verbs.h): option and number parsing,
 * the one error line (or, with --json, the one JSON error on stdout), and
 * fg_admin_request(), which turns an admin API call into a parsed reply
 * or an exit code.
 *
 * Order of failure is deliberate: the whole command line is checked
 * before anything else (exit 2), so a typo never costs a network call;
 * the address and the token are resolved only when the first call is
 * made (exit 2 for a malformed address or configuration, 3 for none or a
 * missing token), so --help and usage errors work on a machine without a
 * gateway.
 *
 * Where the admin API is, first match wins: --admin, $FLUXGATE_ADMIN,
 * then the gateway's own configuration named by --config or
 * $FLUXGATE_CONF (its admin.listen). The token: --token, --token-file,
 * $FLUXGATE_ADMIN_TOKEN, $FLUXGATE_ADMIN_TOKEN_FILE, then that
 * configuration (admin.token, else admin.token_file, by default beside
 * data_dir). With none, a clear error: there is no default address, so a
 * command meant for one gateway can never reach another (the demo's)
 * silently. The token is never printed; a --token given on the command
 * line is wiped from argv once copied, which shortens (but cannot close)
 * the window in which `ps` shows it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "admin/amount.h"
#include "common/base/alloc.h"
#include "admin/output.h"
#include "admin/verbs.h"
#include "common/base/conf.h"

/* --json anywhere on the line: errors go to stdout as JSON. Set before
 * the options are parsed, so that even their errors follow it. */
static int main_json_errors;

typedef struct {
    const char        *name;
    fg_admin_verb_fn   fn;
} main_verb_t;

static const main_verb_t main_verbs[] = {
    { "status", fg_admin_status },
    { "keys", fg_admin_keys },
    { "usage", fg_admin_usage },
    { "store", fg_admin_store },
    { "providers", fg_admin_providers },
};

static const char main_usage[] =
    "usage: fluxgate-admin [--admin ADDR | --config FILE] "
    "[--token T | --token-file F]\n"
    "                      [--json] VERB ...\n"
    "\n"
    "Administers a fluxgate gateway through its admin API.\n"
    "\n"
    "verbs:\n"
    "  status                      the gateway's version, workers, key "
    "table, store\n"
    "  keys create --name N ...    create an API key; shows its secret "
    "once\n"
    "  keys list [...]             list keys\n"
    "  keys show ID                show one key\n"
    "  keys update ID ...          change a key\n"
    "  keys rotate ID [--grace S]  give a key a new secret\n"
    "  keys revoke ID              revoke a key at once\n"
    "  usage [--key ID] [--from DAY] [--to DAY]\n"
    "                              usage per key, model and day\n"
    "  keys topup ID --amount C --idempotency-key K\n"
    "                              add credits to a key's balance\n"
    "  providers                   the catalog's endpoints and their "
    "health\n"
    "  store check|repair [--data-dir DIR]\n"
    "                              the usage journal's files, read "
    "directly: damage,\n"
    "                              and its repair (gateway stopped)\n"
    "\n"
    "global options (also accepted after the verb):\n"
    "  --admin ADDR       the admin API: unix:/path/admin.sock or "
    "http://127.0.0.1:PORT\n"
    "                     (default $FLUXGATE_ADMIN)\n"
    "  --config FILE      else the gateway's configuration (default "
    "$FLUXGATE_CONF):\n"
    "                     its admin.listen, and its admin token\n"
    "  --token T          the admin token (default $FLUXGATE_ADMIN_TOKEN)\n"
    "  --token-file F     read the token from F (default "
    "$FLUXGATE_ADMIN_TOKEN_FILE,\n"
    "                     else the configuration's)\n"
    "  --json             print the API's JSON reply instead of text, and "
    "errors as\n"
    "                     {\"error\": {...}} on stdout\n"
    "  --help             this help; `fluxgate-admin VERB --help` for a "
    "verb\n"
    "\n"
    "Credits are decimals with up to six places (12.5 = 12 500 000 "
    "micro-units).\n"
    "\n"
    "exit codes: 0 done, 1 the admin API refused the request (4xx), 2 bad "
    "command line,\n"
    "            3 cannot reach the admin API or no token, 4 the admin API "
    "failed (5xx)\n";

static int main_ready(fg_admin_ctx_t *ctx);
static int main_reply_error(const fg_admin_reply_t *r);

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    fg_admin_ctx_t ctx;
    size_t         i;
    int            opt, rc;

    memset(&ctx, 0, sizeof(ctx));
    for (i = 1; i < (size_t) argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            main_json_errors = 1;
        }
    }
    opterr = 0;
    /* '+': stop at the verb; its options belong to it. */
    while ((opt = getopt_long(argc, argv, "+" FG_ADMIN_SHORT_OPTIONS, opts,
                              NULL)) != -1)
    {
        if (opt == 'h') {
            fputs(main_usage, stdout);
            return FG_ADMIN_EXIT_OK;
        }
        rc = fg_admin_opt_common(&ctx, NULL, opt, argv);
        if (rc != 0) {
            return rc;
        }
    }
    if (optind == argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "which verb? (status, usage, "
                             "keys, providers or store; see --help)");
    }
    if (strcmp(argv[optind], "help") == 0) {
        fputs(main_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    for (i = 0; i < sizeof(main_verbs) / sizeof(main_verbs[0]); i++) {
        if (strcmp(argv[optind], main_verbs[i].name) == 0) {
            break;
        }
    }
    if (i == sizeof(main_verbs) / sizeof(main_verbs[0])) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "unknown verb \"%s\" "
                             "(status, keys, usage, providers or store; see --help)", argv[optind]);
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED,
                             "curl_global_init() failed");
    }
    rc = main_verbs[i].fn(&ctx, argc - optind, argv + optind);
    explicit_bzero(ctx.token_buf, sizeof(ctx.token_buf));
    curl_global_cleanup();

    /*
     * A full disk or a closed pipe must not pass for success. A verb that
     * failed has said why already.
     */
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == FG_ADMIN_EXIT_OK) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "writing the output "
                             "failed (%s)", strerror(errno));
    }
    return rc;
}

/* The JSON error's type and code for an exit code (docs/admin-api.md). */
static void
main_error_kind(int code, const char **type, const char **name)
{
    switch (code) {
    case FG_ADMIN_EXIT_REFUSED:
        *type = "invalid_request_error";
        *name = "admin_refused";
        return;
    case FG_ADMIN_EXIT_USAGE:
        *type = "invalid_request_error";
        *name = "invalid_command_line";
        return;
    case FG_ADMIN_EXIT_UNREACHABLE:
        *type = "connection_error";
        *name = "admin_unreachable";
        return;
    default:
        *type = "api_error";
        *name = "admin_failed";
        return;
    }
}

/* Prints {"error": @error} on stdout, @error borrowed. */
static void
main_json_error(json_t *error)
{
    json_t *root = json_pack("{s:O}", "error", error);

    if (root != NULL) {
        (void) fg_output_json(stdout, root);
        json_decref(root);
    }
    fflush(stdout);
}

int
fg_admin_fail(int code, const char *fmt, ...)
{
    va_list     ap;
    char        msg[FG_ADMIN_ERR_MAX * 2];
    const char *type, *name;
    json_t     *error;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (main_json_errors) {
        json_t *text = json_string(msg);
        size_t  i;

        if (text == NULL) {
            /* Not UTF-8 (a path from the command line): keep it readable
             * rather than lose the message. */
            for (i = 0; msg[i] != '\0'; i++) {
                if ((unsigned char) msg[i] >= 0x80) {
                    msg[i] = '?';
                }
            }
            text = json_string(msg);
        }
        main_error_kind(code, &type, &name);
        error = json_pack("{s:o*, s:s, s:n, s:s}", "message", text,
                          "type", type, "param", "code", name);
        if (error != NULL) {
            main_json_error(error);
            json_decref(error);
        }
        return code;
    }
    fflush(stdout);
    fprintf(stderr, FG_ADMIN_PROG ": %s\n", msg);
    return code;
}

int
fg_admin_wants_help(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
    }
    return 0;
}

int
fg_admin_opt_common(fg_admin_ctx_t *ctx, const char *verb, int opt,
                    char **argv)
{
    const char *where = verb != NULL ? verb : "";
    const char *sep = verb != NULL ? ": " : "";

    switch (opt) {
    case FG_ADMIN_OPT_ADMIN:
        ctx->addr_text = optarg;
        return 0;

    case FG_ADMIN_OPT_TOKEN:
    case FG_ADMIN_OPT_TOKEN_FILE:
        if ((opt == FG_ADMIN_OPT_TOKEN && ctx->token_file != NULL)
            || (opt == FG_ADMIN_OPT_TOKEN_FILE && ctx->token != NULL))
        {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s%s--token and "
                                 "--token-file exclude each other", where,
                                 sep);
        }
        if (opt == FG_ADMIN_OPT_TOKEN_FILE) {
            ctx->token_file = optarg;
            return 0;
        }
        if (!fg_admin_token_is_valid(optarg)) {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s%s--token: expected "
                                 "1 to %d visible ASCII characters", where,
                                 sep, FG_ADMIN_TOKEN_MAX - 1);
        }
        snprintf(ctx->token_buf, sizeof(ctx->token_buf), "%s", optarg);
        explicit_bzero(optarg, strlen(optarg));
        ctx->token = ctx->token_buf;
        return 0;

    case FG_ADMIN_OPT_JSON:
        ctx->is_json = 1;
        return 0;

    case FG_ADMIN_OPT_CONFIG:
        ctx->conf_path = optarg;
        return 0;

    case ':':
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s%s%s needs a value "
                             "(see --help)", where, sep, argv[optind - 1]);

    case '?':
    default:
        if (optopt != 0) {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s%sunknown option "
                                 "-%c (see --help)", where, sep, optopt);
        }
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s%sunknown option %s "
                             "(see --help)", where, sep, argv[optind - 1]);
    }
}

int
fg_admin_parse_int(const char *verb, const char *name, const char *text,
                   int64_t max, int64_t *out)
{
    const char *p;
    int64_t     n = 0;

    for (p = text; *p >= '0' && *p <= '9'; p++) {
        if (n > (max - (*p - '0')) / 10) {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --%s: \"%s\" is "
                                 "larger than %lld", verb, name, text,
                                 (long long) max);
        }
        n = n * 10 + (*p - '0');
    }
    if (p == text || *p != '\0') {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --%s: \"%s\" is not a "
                             "whole number 0 or more", verb, name, text);
    }
    *out = n;
    return 0;
}

int
fg_admin_parse_credits(const char *verb, const char *name, const char *text,
                       int64_t *micro)
{
    const char *why = fg_amount_parse(text, micro);

    if (why != NULL) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: --%s: \"%s\": %s",
                             verb, name, text, why);
    }
    return 0;
}

int
fg_admin_request(fg_admin_ctx_t *ctx, const char *method, const char *path,
                 const json_t *body, json_t **reply)
{
    fg_admin_reply_t r;
    fg_admin_call_t  outcome;
    char             errbuf[FG_ADMIN_ERR_MAX];
    int              rc;

    *reply = NULL;
    if (!ctx->is_ready) {
        rc = main_ready(ctx);
        if (rc != 0) {
            return rc;
        }
    }
    outcome = fg_admin_call(&ctx->addr, ctx->token_buf, method, path, body,
                            &r, errbuf, sizeof(errbuf));
    if (outcome == FG_ADMIN_CALL_UNREACHABLE) {
        return fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "%s", errbuf);
    }
    if (outcome != FG_ADMIN_CALL_OK) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "%s", errbuf);
    }
    if (r.status >= 200 && r.status < 300 && json_is_object(r.body)) {
        *reply = r.body;
        return FG_ADMIN_EXIT_OK;
    }
    rc = main_reply_error(&r);
    fg_admin_reply_cleanup(&r);
    return rc;
}

int
fg_admin_print_json(const json_t *root)
{
    if (fg_output_json(stdout, root) != 0) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED,
                             "writing the output failed (%s)",
                             strerror(errno));
    }
    return FG_ADMIN_EXIT_OK;
}

/*
 * The gateway's configuration named by --config or $FLUXGATE_CONF, loaded
 * into @conf; 0 when none is named (*@conf untouched), 1 when loaded, or
 * the exit code of the error printed. @where gets how it was named.
 */
static int
main_conf(const fg_admin_ctx_t *ctx, fg_conf_t *conf, const char **where)
{
    const char *path = ctx->conf_path;
    fg_err_t    err;

    *where = "--config";
    if (path == NULL) {
        path = getenv("FLUXGATE_CONF");
        *where = "FLUXGATE_CONF";
        if (path == NULL || path[0] == '\0') {
            return 0;
        }
    }
    if (fg_conf_load(conf, path, &err) != FG_OK) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: %s", *where,
                             err.msg);
    }
    return 1;
}

/* Resolves the address and the token for the first call. */
static int
main_ready(fg_admin_ctx_t *ctx)
{
    const char *addr = ctx->addr_text, *env, *file = ctx->token_file;
    const char *where = NULL;
    char        errbuf[FG_ADMIN_ERR_MAX];
    fg_conf_t  *conf = fg_xcalloc(1, sizeof(*conf));
    int         has_conf, has_token_env = 0, rc = 0;

    if (addr == NULL) {
        env = getenv("FLUXGATE_ADMIN");
        addr = env != NULL && env[0] != '\0' ? env : NULL;
    }
    if (ctx->token == NULL && file == NULL) {
        env = getenv("FLUXGATE_ADMIN_TOKEN");
        has_token_env = env != NULL && env[0] != '\0';
        env = getenv("FLUXGATE_ADMIN_TOKEN_FILE");
        has_token_env |= env != NULL && env[0] != '\0';
    }
    /* The configuration only when something is still missing: a broken
     * FLUXGATE_CONF does not stop a command that names all it needs. */
    has_conf = 0;
    if (addr == NULL || (ctx->token == NULL && file == NULL
                         && !has_token_env)) {
        has_conf = main_conf(ctx, conf, &where);
        if (has_conf > 1) {
            rc = has_conf;
            goto done;
        }
    }
    if (addr == NULL && has_conf) {
        if (strcmp(conf->admin_listen, "off") == 0) {
            rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "%s: %s turns the "
                               "admin API off (admin.listen \"off\")",
                               where, conf->path);
            goto done;
        }
        addr = conf->admin_listen;
    }
    if (addr == NULL) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "no admin API address: "
                           "pass --admin ADDR (or set FLUXGATE_ADMIN), "
                           "or --config FILE (or FLUXGATE_CONF) naming the "
                           "gateway's configuration");
        goto done;
    }
    if (fg_admin_addr_parse(addr, &ctx->addr, errbuf, sizeof(errbuf))
        != 0)
    {
        rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s", errbuf);
        goto done;
    }

    if (ctx->token == NULL && file == NULL) {
        env = getenv("FLUXGATE_ADMIN_TOKEN");
        if (env != NULL && env[0] != '\0') {
            if (!fg_admin_token_is_valid(env)) {
                rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE,
                                   "FLUXGATE_ADMIN_TOKEN is not a usable "
                                   "token (1 to %d visible ASCII "
                                   "characters)", FG_ADMIN_TOKEN_MAX - 1);
                goto done;
            }
            snprintf(ctx->token_buf, sizeof(ctx->token_buf), "%s", env);
            ctx->token = ctx->token_buf;
        }
    }
    if (ctx->token == NULL && file == NULL) {
        env = getenv("FLUXGATE_ADMIN_TOKEN_FILE");
        file = env != NULL && env[0] != '\0' ? env : NULL;
    }
    if (ctx->token == NULL && file == NULL && has_conf) {
        if (conf->admin_token[0] != '\0') {
            if (!fg_admin_token_is_valid(conf->admin_token)) {
                rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "%s: "
                                   "admin.token is not a usable token",
                                   where);
                goto done;
            }
            /* Valid: shorter than the buffer. */
            memcpy(ctx->token_buf, conf->admin_token,
                   strlen(conf->admin_token) + 1);
            ctx->token = ctx->token_buf;
        } else {
            file = conf->admin_token_file;
        }
    }
    if (ctx->token == NULL && file == NULL) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "no admin token: pass "
                           "--token or --token-file (or set "
                           "FLUXGATE_ADMIN_TOKEN or "
                           "FLUXGATE_ADMIN_TOKEN_FILE), or --config FILE (or "
                           "FLUXGATE_CONF) naming the gateway's "
                           "configuration");
        goto done;
    }
    if (ctx->token == NULL) {
        if (fg_admin_token_read(file, ctx->token_buf, sizeof(ctx->token_buf),
                                errbuf, sizeof(errbuf)) != 0)
        {
            rc = fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "%s%s", errbuf,
                               ctx->token_file == NULL
                               ? "; pass --token or --token-file" : "");
            goto done;
        }
        ctx->token = ctx->token_buf;
    }
    ctx->is_ready = 1;

done:
    explicit_bzero(conf->admin_token, sizeof(conf->admin_token));
    free(conf);
    return rc;
}

/*
 * The one line for a reply that is not a success: the OpenAI-format
 * error's message and code when the body has them, the status otherwise.
 */
static int
main_reply_error(const fg_admin_reply_t *r)
{
    const json_t *error = json_object_get(r->body, "error");
    const json_t *msg = json_object_get(error, "message");
    const json_t *code = json_object_get(error, "code");
    char         *clean_msg, *clean_code;
    int           rc;

    if (r->status >= 200 && r->status < 300) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "the admin API answered "
                             "HTTP %ld with a body that is not a JSON "
                             "object", r->status);
    }
    rc = r->status >= 400 && r->status < 500 ? FG_ADMIN_EXIT_REFUSED
                                             : FG_ADMIN_EXIT_FAILED;
    /* --json: the API's own error object, as it sent it. */
    if (main_json_errors && json_is_object(error) && json_is_string(msg)) {
        main_json_error((json_t *) error);
        return rc;
    }
    if (!json_is_string(msg) || json_string_length(msg) == 0) {
        if (r->status < 400 || r->status > 599) {
            return fg_admin_fail(rc, "the admin API answered an unexpected "
                                 "HTTP %ld", r->status);
        }
        return fg_admin_fail(rc, "the admin API answered HTTP %ld with no "
                             "error message", r->status);
    }
    clean_msg = fg_output_clean(json_string_value(msg));
    if (json_is_string(code) && json_string_length(code) > 0) {
        clean_code = fg_output_clean(json_string_value(code));
        fg_admin_fail(rc, "%s (%s)", clean_msg, clean_code);
        free(clean_code);
    } else {
        fg_admin_fail(rc, "%s (HTTP %ld)", clean_msg, r->status);
    }
    free(clean_msg);
    return rc;
}
