#ifndef FG_ADMIN_VERBS_H
#define FG_ADMIN_VERBS_H

/*
 * The verbs of fluxgate-admin and what they share. main.c reads the global
 * options and calls a verb from its command table with the arguments from
 * the verb's name on; the verb parses its own options (the global ones are
 * accepted there too), makes its calls through fg_admin_request() and
 * prints the result. A verb returns one of the exit codes below, having
 * printed by then the one error line that goes with a non-zero code.
 */

#include <getopt.h>
#include <stdint.h>

#include <jansson.h>

#include "admin/client.h"

#define FG_ADMIN_PROG "fluxgate-admin"

/* Exit codes, as docs/admin-api.md lists them. */
enum {
    FG_ADMIN_EXIT_OK = 0,
    FG_ADMIN_EXIT_REFUSED = 1,      /* the admin API answered 4xx */
    FG_ADMIN_EXIT_USAGE = 2,        /* bad command line */
    FG_ADMIN_EXIT_UNREACHABLE = 3,  /* cannot reach the admin API, or no
                                       token */
    FG_ADMIN_EXIT_FAILED = 4        /* the admin API answered 5xx, or the
                                       exchange broke */
};

/* getopt_long values of the global options, above every char. */
enum {
    FG_ADMIN_OPT_ADMIN = 0x100,
    FG_ADMIN_OPT_TOKEN,
    FG_ADMIN_OPT_TOKEN_FILE,
    FG_ADMIN_OPT_JSON,
    FG_ADMIN_OPT_CONFIG,
    FG_ADMIN_OPT_VERB               /* first value free for a verb */
};

/* The global options; every verb's option table starts with them. */
#define FG_ADMIN_GLOBAL_OPTIONS                                             \
    { "admin", required_argument, NULL, FG_ADMIN_OPT_ADMIN },               \
    { "token", required_argument, NULL, FG_ADMIN_OPT_TOKEN },               \
    { "token-file", required_argument, NULL, FG_ADMIN_OPT_TOKEN_FILE },     \
    { "json", no_argument, NULL, FG_ADMIN_OPT_JSON },                       \
    { "config", required_argument, NULL, FG_ADMIN_OPT_CONFIG },             \
    { "help", no_argument, NULL, 'h' }

/* The getopt_long short options of every table: -h, and ':' reporting. */
#define FG_ADMIN_SHORT_OPTIONS ":h"

typedef struct {
    const char       *addr_text;    /* --admin */
    const char       *conf_path;    /* --config: the gateway's own */
    const char       *token;        /* --token, borrowed from argv */
    const char       *token_file;   /* --token-file */
    int               is_json;      /* --json */

    /* Resolved by the first fg_admin_request(). */
    int               is_ready;
    fg_admin_addr_t   addr;
    char              token_buf[FG_ADMIN_TOKEN_MAX];
} fg_admin_ctx_t;

typedef int (*fg_admin_verb_fn)(fg_admin_ctx_t *ctx, int argc, char **argv);

/* The verbs: @argv[0] is the verb's own name. */
int fg_admin_status(fg_admin_ctx_t *ctx, int argc, char **argv);
int fg_admin_keys(fg_admin_ctx_t *ctx, int argc, char **argv);
int fg_admin_usage(fg_admin_ctx_t *ctx, int argc, char **argv);
int fg_admin_store(fg_admin_ctx_t *ctx, int argc, char **argv);
int fg_admin_providers(fg_admin_ctx_t *ctx, int argc, char **argv);

/*
 * Prints "fluxgate-admin: <message>" to stderr and returns @code, so a verb
 * can `return fg_admin_fail(...)`. With --json anywhere on the command
 * line, prints instead {"error": {"message", "type", "param": null,
 * "code"}} on stdout, type and code named by @code (docs/admin-api.md).
 */
int fg_admin_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Returns 1 if @argv (from index 1, up to a "--") asks for help with
 * "--help" or "-h", so help works whatever else the line holds.
 */
int fg_admin_wants_help(int argc, char **argv);

/*
 * Handles a getopt_long result that is not the verb's own: a global option
 * is stored in @ctx and 0 returned; an unknown option or a missing argument
 * prints the error for @verb ("keys create") and returns
 * FG_ADMIN_EXIT_USAGE. @argv is the vector getopt_long is scanning.
 */
int fg_admin_opt_common(fg_admin_ctx_t *ctx, const char *verb, int opt,
                        char **argv);

/*
 * Parses @text, the whole string, as a decimal integer 0..@max into *@out.
 * Returns 0, or prints "@verb: --@name: ..." and returns
 * FG_ADMIN_EXIT_USAGE.
 */
int fg_admin_parse_int(const char *verb, const char *name, const char *text,
                       int64_t max, int64_t *out);

/*
 * Parses @text as credits (admin/amount.h: digits, up to six decimals)
 * into micro-units in *@micro. Returns 0, or prints "@verb: --@name: ..."
 * and returns FG_ADMIN_EXIT_USAGE.
 */
int fg_admin_parse_credits(const char *verb, const char *name,
                           const char *text, int64_t *micro);

/*
 * Makes one call to the admin API (resolving address and token first, once
 * per run) and sorts the outcome. On a 2xx reply whose body is a JSON
 * object, stores the body in *@reply (a new reference, the caller's to
 * json_decref) and returns FG_ADMIN_EXIT_OK. Otherwise prints the one error
 * line (the API's error.message and code for a refusal) and returns the
 * exit code: 1 for 4xx, 3 when unreachable or without a token, 4 for 5xx,
 * an unexpected status or a reply that is not a JSON object. @body is
 * borrowed; @path is the escaped path and query. Blocks up to 10 s.
 */
int fg_admin_request(fg_admin_ctx_t *ctx, const char *method,
                     const char *path, const json_t *body, json_t **reply);

/*
 * Prints @root for --json and returns FG_ADMIN_EXIT_OK, or prints an error
 * and returns FG_ADMIN_EXIT_FAILED when stdout cannot take it.
 */
int fg_admin_print_json(const json_t *root);

#endif
