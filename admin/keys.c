/*
 * keys.c: `fluxgate-admin keys ...`, one function per sub-command over the
 * key endpoints of the admin API (docs/admin-api.md). create and update
 * get their field options from admin/keyfields.c; what a key looks like
 * on screen is admin/keyview.c.
 *
 * Ids and cursors are checked for the characters a key id can hold before
 * they go into a URL path; everything else that goes into a query string
 * is percent-escaped.
 *
 * `keys list --all` follows next_after from page to page, bounded at
 * KEYS_PAGES_MAX pages, and refuses a reply that claims more pages without
 * a new cursor, so a confused server cannot keep it looping.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "admin/keyfields.h"
#include "admin/keyview.h"
#include "admin/output.h"
#include "admin/verbs.h"
#include "common/base/alloc.h"

#define KEYS_ID_MAX           64
#define KEYS_PAGES_MAX        10000
#define KEYS_LIMIT_MAX        1000
#define KEYS_ALL_PAGE_SIZE    1000
#define KEYS_IDEMPOTENCY_MAX  64
#define KEYS_PATH_MAX         128

/* getopt_long values of the options that are not key fields. */
enum {
    KEYS_OPT_OWNER = FG_KEYFIELD_END,
    KEYS_OPT_STATUS,
    KEYS_OPT_LIMIT,
    KEYS_OPT_AFTER,
    KEYS_OPT_ALL,
    KEYS_OPT_GRACE,
    KEYS_OPT_AMOUNT,
    KEYS_OPT_IDEMPOTENCY_KEY
};

typedef struct {
    const char        *name;
    fg_admin_verb_fn   fn;
} keys_cmd_t;

static int keys_create(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_list(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_show(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_update(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_rotate(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_revoke(fg_admin_ctx_t *ctx, int argc, char **argv);
static int keys_topup(fg_admin_ctx_t *ctx, int argc, char **argv);

static int keys_options(fg_admin_ctx_t *ctx, const char *verb, int argc,
                        char **argv, const struct option *opts,
                        fg_keyfields_t *f, const char **id);
static int keys_id_is_valid(const char *id);
static int keys_check_id(const char *verb, const char *what,
                         const char *id);
static void keys_path(char *buf, size_t size, const char *id,
                      const char *action);
static int keys_print_key(fg_admin_ctx_t *ctx, json_t *reply,
                          int is_wrapped);
static int keys_print_secret(fg_admin_ctx_t *ctx, json_t *reply,
                             const char *verb);
static char *keys_list_path(const char *owner, const char *status,
                            int64_t limit, const char *after);

static const keys_cmd_t keys_cmds[] = {
    { "create", keys_create },
    { "list", keys_list },
    { "show", keys_show },
    { "update", keys_update },
    { "rotate", keys_rotate },
    { "revoke", keys_revoke },
    { "topup", keys_topup },
};

static const char keys_usage[] =
    "usage: fluxgate-admin [global options] keys COMMAND ...\n"
    "\n"
    "  create --name N [options]   create a key; shows its secret once\n"
    "  list [--owner O] [--status active|revoked] [--limit N] [--after ID] "
    "[--all]\n"
    "  show ID\n"
    "  update ID [options]\n"
    "  rotate ID [--grace SECONDS]\n"
    "  revoke ID\n"
    "  topup ID --amount C --idempotency-key K\n"
    "\n"
    "`fluxgate-admin keys COMMAND --help` describes each.\n";

static const char keys_create_usage[] =
    "usage: fluxgate-admin [global options] keys create --name N "
    "[--owner O]\n"
    "           [--model M]... [--rpm N] [--tpm N] [--concurrency N]\n"
    "           [--balance C] [--regen C] [--cap C] [--expires WHEN]\n"
    "           [--metadata JSON] [--preset P] [--transforms T]\n"
    "\n"
    "Creates an API key and prints it with its secret. The secret is shown\n"
    "this once and never again: store it at once.\n"
    "\n"
    "  --name N             a name for people (required)\n"
    FG_KEYFIELD_HELP;

static const char keys_list_usage[] =
    "usage: fluxgate-admin [global options] keys list [--owner O]\n"
    "           [--status active|revoked] [--limit N] [--after ID] [--all]\n"
    "\n"
    "Lists keys ordered by id, one page (at most --limit, 1-1000, default\n"
    "100) after the key --after; --all follows every page to the end.\n";

static const char keys_show_usage[] =
    "usage: fluxgate-admin [global options] keys show ID\n"
    "\n"
    "Shows one key.\n";

static const char keys_update_usage[] =
    "usage: fluxgate-admin [global options] keys update ID [--name N]\n"
    "           [--owner O] [--model M]... [--models-all] [--rpm N] "
    "[--tpm N]\n"
    "           [--concurrency N] [--balance C] [--regen C] [--cap C]\n"
    "           [--expires WHEN | --no-expiry] [--metadata JSON]\n"
    "           [--preset P|none] [--transforms T|none]\n"
    "\n"
    "Changes what is given and leaves the rest. --model replaces the list\n"
    "of allowed models; --metadata replaces the metadata object.\n"
    "\n"
    "  --name N             a new name\n"
    FG_KEYFIELD_HELP
    "  --models-all         allow every model (clears the list)\n"
    "  --no-expiry          the key never expires\n";

static const char keys_rotate_usage[] =
    "usage: fluxgate-admin [global options] keys rotate ID "
    "[--grace SECONDS]\n"
    "\n"
    "Gives the key a new secret, shown this once. The old secret keeps\n"
    "working for SECONDS (default: the gateway's keys.rotation_grace_s;\n"
    "0 ends it now).\n";

static const char keys_revoke_usage[] =
    "usage: fluxgate-admin [global options] keys revoke ID\n"
    "\n"
    "Revokes the key: its secrets stop working at once, for good.\n";

static const char keys_topup_usage[] =
    "usage: fluxgate-admin [global options] keys topup ID --amount C\n"
    "           --idempotency-key K\n"
    "\n"
    "Adds C credits (more than 0, up to six decimals) to the key's balance.\n"
    "K (1-64 printable characters) makes a retry safe: the same K and\n"
    "amount again changes nothing and reports \"applied: no\".\n";

int
fg_admin_keys(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys: which command? "
                             "(create, list, show, update, rotate, revoke "
                             "or topup; see keys --help)");
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        fputs(keys_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    for (i = 0; i < sizeof(keys_cmds) / sizeof(keys_cmds[0]); i++) {
        if (strcmp(argv[1], keys_cmds[i].name) == 0) {
            return keys_cmds[i].fn(ctx, argc - 1, argv + 1);
        }
    }
    return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys: unknown command \"%s\" "
                         "(create, list, show, update, rotate, revoke or "
                         "topup)", argv[1]);
}

static int
keys_create(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        FG_KEYFIELD_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    fg_keyfields_t f;
    json_t        *body, *reply;
    int            rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(keys_create_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    fg_keyfields_init(&f);
    rc = keys_options(ctx, "keys create", argc, argv, opts, &f, NULL);
    body = fg_keyfields_body(&f);
    if (rc == 0 && json_object_get(body, "name") == NULL) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys create: --name is "
                           "required");
    }
    if (rc == 0) {
        rc = fg_admin_request(ctx, "POST", "/admin/v1/keys", body, &reply);
    }
    fg_keyfields_cleanup(&f);
    if (rc != 0) {
        return rc;
    }
    rc = keys_print_secret(ctx, reply, "create");
    json_decref(reply);
    return rc;
}

static int
keys_update(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        FG_KEYFIELD_OPTIONS,
        FG_KEYFIELD_UPDATE_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    fg_keyfields_t f;
    json_t        *body, *reply;
    const char    *id;
    char           path[KEYS_PATH_MAX];
    int            rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(keys_update_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    fg_keyfields_init(&f);
    rc = keys_options(ctx, "keys update", argc, argv, opts, &f, &id);
    body = fg_keyfields_body(&f);
    if (rc == 0 && json_object_size(body) == 0) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys update: nothing to "
                           "change (see --help)");
    }
    if (rc == 0) {
        keys_path(path, sizeof(path), id, NULL);
        rc = fg_admin_request(ctx, "PATCH", path, body, &reply);
    }
    fg_keyfields_cleanup(&f);
    if (rc != 0) {
        return rc;
    }
    rc = keys_print_key(ctx, reply, 0);
    json_decref(reply);
    return rc;
}

/* A verb that takes only a key id: GET the key or POST an action to it. */
static int
keys_id_verb(fg_admin_ctx_t *ctx, int argc, char **argv, const char *name,
             const char *usage, const char *method, const char *action)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { NULL, 0, NULL, 0 }
    };
    json_t     *reply;
    const char *id;
    char        path[KEYS_PATH_MAX];
    int         rc;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    rc = keys_options(ctx, name, argc, argv, opts, NULL, &id);
    if (rc != 0) {
        return rc;
    }
    keys_path(path, sizeof(path), id, action);
    /* revoke takes no body: the POST goes out empty. */
    rc = fg_admin_request(ctx, method, path, NULL, &reply);
    if (rc != 0) {
        return rc;
    }
    rc = keys_print_key(ctx, reply, 0);
    json_decref(reply);
    return rc;
}

static int
keys_show(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    return keys_id_verb(ctx, argc, argv, "keys show", keys_show_usage, "GET",
                        NULL);
}

static int
keys_revoke(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    return keys_id_verb(ctx, argc, argv, "keys revoke", keys_revoke_usage,
                        "POST", "revoke");
}

static int
keys_rotate(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { "grace", required_argument, NULL, KEYS_OPT_GRACE },
        { NULL, 0, NULL, 0 }
    };
    json_t     *body, *reply;
    const char *id = NULL;
    char        path[KEYS_PATH_MAX];
    int64_t     grace;
    int         opt, rc = 0;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(keys_rotate_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    body = json_object();
    optind = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS,
                                         opts, NULL)) != -1)
    {
        if (opt == KEYS_OPT_GRACE) {
            rc = fg_admin_parse_int("keys rotate", "grace", optarg,
                                    INT64_MAX, &grace);
            if (rc == 0) {
                json_object_set_new(body, "grace_seconds",
                                    json_integer(grace));
            }
        } else {
            rc = fg_admin_opt_common(ctx, "keys rotate", opt, argv);
        }
    }
    if (rc == 0) {
        rc = keys_options(ctx, "keys rotate", argc, argv, NULL, NULL, &id);
    }
    if (rc == 0) {
        keys_path(path, sizeof(path), id, "rotate");
        rc = fg_admin_request(ctx, "POST", path, body, &reply);
    }
    json_decref(body);
    if (rc != 0) {
        return rc;
    }
    rc = keys_print_secret(ctx, reply, "rotate");
    json_decref(reply);
    return rc;
}

static int
keys_topup(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { "amount", required_argument, NULL, KEYS_OPT_AMOUNT },
        { "idempotency-key", required_argument, NULL,
          KEYS_OPT_IDEMPOTENCY_KEY },
        { NULL, 0, NULL, 0 }
    };
    json_t     *body, *reply;
    const char *id = NULL, *idem = NULL, *p;
    char        path[KEYS_PATH_MAX];
    int64_t     amount = -1;
    int         opt, rc = 0;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(keys_topup_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS,
                                         opts, NULL)) != -1)
    {
        if (opt == KEYS_OPT_AMOUNT) {
            rc = fg_admin_parse_credits("keys topup", "amount", optarg,
                                        &amount);
            if (rc == 0 && amount == 0) {
                rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys topup: "
                                   "--amount: must be more than 0");
            }
        } else if (opt == KEYS_OPT_IDEMPOTENCY_KEY) {
            idem = optarg;
        } else {
            rc = fg_admin_opt_common(ctx, "keys topup", opt, argv);
        }
    }
    if (rc == 0) {
        rc = keys_options(ctx, "keys topup", argc, argv, NULL, NULL, &id);
    }
    if (rc != 0) {
        return rc;
    }
    if (amount < 0) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys topup: --amount is "
                             "required");
    }
    if (idem == NULL) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys topup: "
                             "--idempotency-key is required (any unique "
                             "text, so that a retry cannot pay twice)");
    }
    for (p = idem; *p >= 0x20 && *p <= 0x7e; p++) {
        /* printable ASCII */
    }
    if (*p != '\0' || p == idem || p - idem > KEYS_IDEMPOTENCY_MAX) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys topup: "
                             "--idempotency-key: expected 1 to %d printable "
                             "ASCII characters", KEYS_IDEMPOTENCY_MAX);
    }

    body = json_object();
    json_object_set_new(body, "amount_micro", json_integer(amount));
    json_object_set_new(body, "idempotency_key", json_string(idem));
    keys_path(path, sizeof(path), id, "topup");
    rc = fg_admin_request(ctx, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0) {
        return rc;
    }
    rc = keys_print_key(ctx, reply, 1);
    json_decref(reply);
    return rc;
}

static int
keys_list(fg_admin_ctx_t *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        FG_ADMIN_GLOBAL_OPTIONS,
        { "owner", required_argument, NULL, KEYS_OPT_OWNER },
        { "status", required_argument, NULL, KEYS_OPT_STATUS },
        { "limit", required_argument, NULL, KEYS_OPT_LIMIT },
        { "after", required_argument, NULL, KEYS_OPT_AFTER },
        { "all", no_argument, NULL, KEYS_OPT_ALL },
        { NULL, 0, NULL, 0 }
    };
    const char   *owner = NULL, *status = NULL, *after = NULL;
    const json_t *has_more, *next;
    json_t       *data, *all = NULL, *reply = NULL, *page = NULL;
    char         *path, *cursor = NULL;
    int64_t       limit = 0;
    int           opt, rc = 0, is_all = 0, more = 0, pages;

    if (fg_admin_wants_help(argc, argv)) {
        fputs(keys_list_usage, stdout);
        return FG_ADMIN_EXIT_OK;
    }
    optind = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS,
                                         opts, NULL)) != -1)
    {
        switch (opt) {
        case KEYS_OPT_OWNER:
            owner = optarg;
            break;
        case KEYS_OPT_STATUS:
            status = optarg;
            if (strcmp(status, "active") != 0
                && strcmp(status, "revoked") != 0)
            {
                rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys list: "
                                   "--status: expected active or revoked");
            }
            break;
        case KEYS_OPT_LIMIT:
            rc = fg_admin_parse_int("keys list", "limit", optarg,
                                    KEYS_LIMIT_MAX, &limit);
            if (rc == 0 && limit == 0) {
                rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys list: "
                                   "--limit: expected 1 to %d",
                                   KEYS_LIMIT_MAX);
            }
            break;
        case KEYS_OPT_AFTER:
            after = optarg;
            rc = keys_check_id("keys list", "--after", after);
            break;
        case KEYS_OPT_ALL:
            is_all = 1;
            break;
        default:
            rc = fg_admin_opt_common(ctx, "keys list", opt, argv);
            break;
        }
    }
    if (rc == 0 && optind != argc) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_USAGE, "keys list: unexpected "
                           "argument \"%s\"", argv[optind]);
    }
    if (rc != 0) {
        return rc;
    }
    if (is_all && limit == 0) {
        limit = KEYS_ALL_PAGE_SIZE;
    }

    for (pages = 0; pages < KEYS_PAGES_MAX; pages++) {
        path = keys_list_path(owner, status, limit, after);
        rc = fg_admin_request(ctx, "GET", path, NULL, &page);
        free(path);
        if (rc != 0) {
            break;
        }
        data = json_object_get(page, "data");
        has_more = json_object_get(page, "has_more");
        next = json_object_get(page, "next_after");
        if (!json_is_array(data) || !json_is_boolean(has_more)) {
            rc = fg_admin_fail(FG_ADMIN_EXIT_FAILED, "the admin API sent a "
                               "key list without \"data\" or \"has_more\"");
            break;
        }
        more = json_is_true(has_more);
        if (more && (!json_is_string(next)
                     || !keys_id_is_valid(json_string_value(next))
                     || (after != NULL
                         && strcmp(after, json_string_value(next)) == 0)))
        {
            rc = fg_admin_fail(FG_ADMIN_EXIT_FAILED, "the admin API said "
                               "more keys follow but gave no usable new "
                               "next_after");
            break;
        }
        if (!is_all) {
            reply = page;
            page = NULL;
            break;
        }
        /* Copy the cursor first: @next dies with its page. */
        free(cursor);
        cursor = more ? fg_xstrdup(json_string_value(next)) : NULL;
        after = cursor;
        /* The first page is the envelope; later pages add their data. */
        if (all == NULL) {
            all = page;
        } else {
            json_array_extend(json_object_get(all, "data"), data);
            json_decref(page);
        }
        page = NULL;
        json_object_set_new(all, "has_more", json_boolean(more));
        json_object_set_new(all, "next_after",
                            more ? json_string(cursor) : json_null());
        if (!more) {
            break;
        }
    }
    json_decref(page);
    if (is_all) {
        reply = all;
    }
    if (rc == 0) {
        if (ctx->is_json) {
            rc = fg_admin_print_json(reply);
        } else {
            fg_keyview_table(stdout, json_object_get(reply, "data"));
            next = json_object_get(reply, "next_after");
            if (more && json_is_string(next)) {
                printf("more keys follow: --after %s",
                       json_string_value(next));
                if (is_all) {
                    printf(" (stopped after %d pages)\n", KEYS_PAGES_MAX);
                } else {
                    printf(", or --all\n");
                }
            }
        }
    }
    json_decref(reply);
    free(cursor);
    return rc;
}

/*
 * Reads the options of a verb that takes one key id. With @opts, runs the
 * getopt loop, sending field options to @f (may be NULL); with @opts NULL
 * the caller ran it already. Then checks the positional arguments: exactly
 * one id when @id is not NULL, none otherwise. Returns 0 or an exit code.
 */
static int
keys_options(fg_admin_ctx_t *ctx, const char *verb, int argc, char **argv,
             const struct option *opts, fg_keyfields_t *f, const char **id)
{
    int opt, rc;

    if (opts != NULL) {
        optind = 0;
        while ((opt = getopt_long(argc, argv, FG_ADMIN_SHORT_OPTIONS, opts,
                                  NULL)) != -1)
        {
            rc = f != NULL && fg_keyfields_is_option(opt)
                 ? fg_keyfields_option(f, verb, opt, optarg)
                 : fg_admin_opt_common(ctx, verb, opt, argv);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (id == NULL) {
        if (optind != argc) {
            return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: unexpected "
                                 "argument \"%s\"", verb, argv[optind]);
        }
        return 0;
    }
    if (optind == argc) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: which key? Give its "
                             "id (key_...)", verb);
    }
    if (argc - optind > 1) {
        return fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: unexpected argument "
                             "\"%s\" after the key id", verb,
                             argv[optind + 1]);
    }
    *id = argv[optind];
    return keys_check_id(verb, "", *id);
}

/*
 * A key id goes into a URL path unescaped, so it may hold only what an id
 * holds ("key_" and hex, or any [A-Za-z0-9_-]): no '/', '?', '%' or "..".
 */
static int
keys_id_is_valid(const char *id)
{
    const char *p;

    for (p = id; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
        {
            return 0;
        }
    }
    return p > id && p - id <= KEYS_ID_MAX;
}

/* keys_id_is_valid(), or the usage error naming @what ("--after"). */
static int
keys_check_id(const char *verb, const char *what, const char *id)
{
    char *clean;

    if (keys_id_is_valid(id)) {
        return 0;
    }
    clean = fg_output_clean(id);
    fg_admin_fail(FG_ADMIN_EXIT_USAGE, "%s: %s%s\"%s\" is not a key id "
                  "(key_ and 16 hex digits)", verb, what, what[0] ? " " : "",
                  clean);
    free(clean);
    return FG_ADMIN_EXIT_USAGE;
}

/* "/admin/v1/keys/ID" or "/admin/v1/keys/ID/ACTION"; @id is checked. */
static void
keys_path(char *buf, size_t size, const char *id, const char *action)
{
    snprintf(buf, size, "/admin/v1/keys/%s%s%s", id, action ? "/" : "",
             action ? action : "");
}

/* Returns an owned "/admin/v1/keys?..." with the given filters. */
static char *
keys_list_path(const char *owner, const char *status, int64_t limit,
               const char *after)
{
    char   *esc = NULL, *path;
    size_t  size, n;
    char    sep = '?';

    if (owner != NULL) {
        esc = curl_easy_escape(NULL, owner, 0);
        if (esc == NULL) {
            fprintf(stderr, FG_ADMIN_PROG ": out of memory\n");
            abort();
        }
    }
    /* Room for the fixed text, a 19-digit limit, and the two variables. */
    size = 96 + (esc ? strlen(esc) : 0) + (after ? strlen(after) : 0);
    path = fg_xmalloc(size);
    n = (size_t) snprintf(path, size, "/admin/v1/keys");
    if (esc != NULL) {
        n += (size_t) snprintf(path + n, size - n, "%cowner=%s", sep, esc);
        sep = '&';
    }
    if (status != NULL) {
        n += (size_t) snprintf(path + n, size - n, "%cstatus=%s", sep,
                               status);
        sep = '&';
    }
    if (limit > 0) {
        n += (size_t) snprintf(path + n, size - n, "%climit=%lld", sep,
                               (long long) limit);
        sep = '&';
    }
    if (after != NULL) {
        snprintf(path + n, size - n, "%cafter=%s", sep, after);
    }
    curl_free(esc);
    return path;
}

/*
 * Prints the key of a reply: the reply itself, or its "key" member when
 * @is_wrapped (topup, whose "applied" follows). Borrows @reply.
 */
static int
keys_print_key(fg_admin_ctx_t *ctx, json_t *reply, int is_wrapped)
{
    const json_t *key = is_wrapped ? json_object_get(reply, "key") : reply;
    const json_t *applied = json_object_get(reply, "applied");
    int           rc = FG_ADMIN_EXIT_OK;

    if (ctx->is_json) {
        rc = fg_admin_print_json(reply);
    } else if (!json_is_object(key)) {
        rc = fg_admin_fail(FG_ADMIN_EXIT_FAILED, "the admin API's reply "
                           "holds no key object");
    } else {
        fg_keyview_print(stdout, key);
        if (is_wrapped && json_is_boolean(applied)) {
            fg_output_field(stdout, "applied", json_is_true(applied)
                            ? "yes"
                            : "no (this idempotency key was used before "
                              "with this amount; nothing changed)");
        }
    }
    return rc;
}

/* create and rotate: the key, then its secret, once. Borrows @reply. */
static int
keys_print_secret(fg_admin_ctx_t *ctx, json_t *reply, const char *verb)
{
    const json_t *key = json_object_get(reply, "key");
    const json_t *secret = json_object_get(reply, "secret");
    const json_t *id;

    if (ctx->is_json) {
        return fg_admin_print_json(reply);
    }
    if (json_is_object(key)) {
        fg_keyview_print(stdout, key);
    }
    if (!json_is_string(secret)) {
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "keys %s: the admin API's "
                             "reply holds no secret; %s the key again",
                             verb, strcmp(verb, "create") == 0
                             ? "revoke it and create" : "rotate");
    }
    printf("\n");
    fg_output_field(stdout, "secret", json_string_value(secret));
    printf("\nThis secret is shown only this once: fluxgate keeps only its "
           "hash.\nStore it now; if it is lost, rotate the key.\n");
    /* The key exists now; say so if its only copy of the secret is gone. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        id = json_object_get(key, "id");
        return fg_admin_fail(FG_ADMIN_EXIT_FAILED, "keys %s: writing the "
                             "secret failed (%s); key %s has a secret "
                             "nobody saw: rotate it", verb, strerror(errno),
                             json_is_string(id) && keys_id_is_valid(
                                 json_string_value(id))
                             ? json_string_value(id) : "?");
    }
    return FG_ADMIN_EXIT_OK;
}
