/*
 * main.c: fluxgate-admin's entry point. Reads the global options, picks
 * the verb from the command table and hands it the rest of the line; also
 * home of what every verb shares (verbs.h): option and number parsing,
 * the one error line, and fg_admin_request(), which turns an admin API
 * call into a parsed reply or an exit code.
 *
 * Order of failure is deliberate: the whole command line is checked
 * before anything else (exit 2), so a typo never costs a network call;
 * the address and the token are resolved only when the first call is
 * made (exit 2 for a malformed address, 3 for a missing token), so --help
 * and usage errors work on a machine without a gateway.
 *
 * Where the token comes from, first match wins: --token, --token-file,
 * $FLUXGATE_ADMIN_TOKEN, $FLUXGATE_ADMIN_TOKEN_FILE, then
 * /tmp/fluxgate/admin.token. The command line beats the environment, the
 * usual rule, so an exported token never silently overrides an explicit
 * --token-file. The token is never printed; a --token given on the
 * command line is wiped from argv once copied, which shortens (but cannot
 * close) the window in which `ps` shows it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "admin/amount.h"
#include "admin/output.h"
#include "admin/verbs.h"

typedef struct {
    const char        *name;
    fg_admin_verb_fn   fn;
} main_verb_t;

static const main_verb_t main_verbs[] = {
    { "status", fg_admin_status },
    { "keys", fg_admin_keys },
    { "usage", fg_admin_usage },
};

static const char main_usage[] =
    "usage: fluxgate-admin [--admin ADDR] [--token T | --token-file F] "
    "[--json] VERB ...\n"
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
    "\n"
    "global options (also accepted after the verb):\n"
    "  --admin ADDR       the admin API: unix:/path/admin.sock or "
    "http://127.0.0.1:PORT\n"
    "                     (default $FLUXGATE_ADMIN, else "
    FG_ADMIN_ADDR_DEFAULT ")\n"
    "  --token T          the admin token (default $FLUXGATE_ADMIN_TOKEN)\n"
    "  --token-file F     read the token from F (default "
    "$FLUXGATE_ADMIN_TOKEN_FILE,\n"
    "                     else " FG_ADMIN_TOKEN_FILE_DEFAULT ")\n"
    "  --json             print the API's JSON reply instead of text\n"
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
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "which verb? (status, usage or "
                             "keys; see --help)");
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
                             "(status, keys or usage; see --help)", argv[optind]);
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

int
fg_admin_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs(FG_ADMIN_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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

/* Resolves the address and the token for the first call. */
static int
main_ready(fg_admin_ctx_t *ctx)
{
    const char *addr = ctx->addr_text, *env, *file = ctx->token_file;
    char        errbuf[FG_ADMIN_ERR_MAX];

    if (addr == NULL) {
        env = getenv("FLUXGATE_ADMIN");
        addr = env != NULL && env[0] != '\0' ? env : FG_ADMIN_ADDR_DEFAULT;
    }
    if (fg_admin_addr_parse(addr, &ctx->addr, errbuf, sizeof(errbuf))
        != 0)
    {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s", errbuf);
    }

    if (ctx->token == NULL && file == NULL) {
        env = getenv("FLUXGATE_ADMIN_TOKEN");
        if (env != NULL && env[0] != '\0') {
            if (!fg_admin_token_is_valid(env)) {
                return fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE,
                                     "FLUXGATE_ADMIN_TOKEN is not a usable "
                                     "token (1 to %d visible ASCII "
                                     "characters)", FG_ADMIN_TOKEN_MAX - 1);
            }
            snprintf(ctx->token_buf, sizeof(ctx->token_buf), "%s", env);
            ctx->token = ctx->token_buf;
        }
    }
    if (ctx->token == NULL) {
        if (file == NULL) {
            env = getenv("FLUXGATE_ADMIN_TOKEN_FILE");
            file = env != NULL && env[0] != '\0'
                   ? env : FG_ADMIN_TOKEN_FILE_DEFAULT;
        }
        if (fg_admin_token_read(file, ctx->token_buf, sizeof(ctx->token_buf),
                                errbuf, sizeof(errbuf)) != 0)
        {
            return fg_admin_fail(FG_ADMIN_EXIT_UNREACHABLE, "%s%s", errbuf,
                                 ctx->token_file == NULL
                                 ? "; pass --token or --token-file" : "");
        }
        ctx->token = ctx->token_buf;
    }
    ctx->is_ready = 1;
    return 0;
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
