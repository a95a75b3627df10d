/*
 * fg-sim: the upstream simulator. It speaks OpenAI's chat-completions,
 * Responses, embeddings and legacy completions APIs like a real provider
 * and backs the demo provider of `make run`, the integration tests and the
 * benchmarks.
 *
 *   fg-sim [-l HOST:PORT] [-t TTFT_MS] [-d TOKEN_DELAY_MS] [-T DIR] [-q] [-v]
 *
 * At start it loads the tokenizers it counts prompts with (count.h) from
 * DIR (default FG_SYSCONFDIR/tokenizers); FG_SIM_DEFAULT_TOK (o200k,
 * cl100k, dense or bytes4) sets the mode a request without a "tok-" tag is
 * counted in. Once bound it prints exactly one line, "fg-sim listening on
 * HOST:PORT" (the real port when PORT is 0), to stdout. SIGTERM and SIGINT
 * end it with status 0; a bad option, a tokenizer that does not load or a
 * failed bind ends it with status 1. Logs go to stderr: start and exit at
 * notice, one line per model request only with -v (never a prompt, a
 * completion or an Authorization header), errors only with -q.
 *
 * Endpoints:
 *   POST /v1/chat/completions  the answer plan.c decides, sent as below
 *   POST /v1/embeddings        deterministic unit vectors (embed.c: input
 *                              shapes, "dimensions", 1536 or the model's
 *                              "dim-<n>" tag, encoding_format float or
 *                              base64, usage)
 *   POST /v1/completions       legacy text completions (complete.c:
 *                              prompts, n, best_of, echo, suffix, legacy
 *                              logprobs 0..5, stop, stream and usage)
 *   POST /v1/responses         the Responses API natively (respond.c):
 *                              checked strictly (an unknown member is a
 *                              400 naming it), answered with what chat
 *                              answers the same conversation, as a
 *                              response object or its typed events; no
 *                              stored state, so previous_response_id and
 *                              item_reference items are a 400
 *   GET  /v1/models            a list of a few model ids
 *   GET  /sim/stats            counters (sim.h; "requests" counts requests
 *                              to the four model endpoints), "last_path"
 *                              (which of them the last one went to),
 *                              whether it carried "Authorization: Bearer
 *                              ...", its body as parsed (null if invalid),
 *                              and "plan": what is left of the failure plan
 *   POST /sim/plan             sets the failure plan, below
 *   POST /sim/reset            zeroes the counters, forgets the body and
 *                              clears the plan
 * Anything else is an OpenAI-format 404 or 405 (501 for other methods).
 *
 * The four model endpoints share what follows: the fault modes, the
 * failure plan, the delays and "tok-" tags apply to each (an embeddings
 * reply is one token: it comes after the TTFT; a completions stream steps
 * one token per delay, a Responses stream one delta event per delay); the
 * usage tags (overcount, overprompt, negative-usage), badjson and
 * reasoning are chat's and, since its answer is chat's, Responses'.
 *
 * A model request is counted and its body recorded first; then an invalid
 * body or bad sim option is a 400; then the fault mode applies. Fault, by
 * the failure plan, else header "x-sim-fault: <mode>", else "fault-<mode>"
 * in the model name (an unknown mode is a 400): 500, 429 (with
 * Retry-After: 1, or the plan's retry_after_s), 400, 401, 403 and 404
 * answer at once with an OpenAI error body; empty is a 200
 * application/json with an empty body; reset, malformed, stall, slow,
 * close, empty-stream and stream-error are played by call.c. Delays: -t and
 * -d give the defaults (the plan may replace them); headers x-sim-ttft-ms
 * and x-sim-token-delay-ms, or "ttft-<ms>" and "delay-<ms>" in the model
 * name, set them per request (header first). The model-name forms exist
 * because the gateway forwards the model but not our headers.
 *
 * The failure plan makes one instance fail where others serving the same
 * upstream id do not. POST /sim/plan with {"faults": [mode, ...],
 * "always"?: mode, "retry_after_s"?: n, "ttft_ms"?: ms, "token_delay_ms"?:
 * ms}: the next valid model requests take the listed modes one each, in
 * order ("none": a normal reply); once the list is used up every request
 * takes "always", or none. A plan replaces the last one whole: members not
 * given are back to their defaults, so {"faults": []} clears it. A body
 * that is not such an object (an unknown member or mode included) is a 400
 * and changes nothing.
 * "overcount-<k>" in the model name (k 1 to 1000) reports k times the
 * completion tokens generated, as a provider that ignored max_tokens in
 * its bill would; "overprompt-<k>" k times the prompt tokens (a tokenizer
 * that counts more than the gateway's estimate); "negative-usage" reports
 * completion_tokens -5000000, as a lying provider did. "tok-<mode>" and
 * "img-mini" / "img-patches" choose how prompt tokens are counted (plan.c;
 * an unknown one is a 400).
 * "badjson-<class>" makes the JSON the reply carries malformed, as models
 * do (plan.c 5, badjson.h): a JSON-mode content (response_format
 * json_object or json_schema), and a tool call's arguments in every mode.
 * Classes: fence (prose, then the value in ```json fences, then prose),
 * prose (a sentence before the value and one after), truncated (the
 * closing brackets and braces at the end cut, and the closing quote of a
 * string ending there), comma (a trailing comma before the last }), single
 * (single-quoted strings), unquoted (unquoted keys), comments (a // comment
 * line after the first {) and hopeless (prose with no JSON at all); an
 * unknown class is a 400. A stream sends the text in tokens of at most 4
 * bytes that also end after every backslash, so fences, words and escapes
 * are split across deltas; usage counts the tokens sent.
 * "reasoning", "reasoning-<n>", "reasoning-field", "reasoning-field-<n>"
 * make the reply reason first (plan.c 6): n tokens (default 16) of text
 * in message.reasoning_content (the "-field" forms: message.reasoning),
 * or in a stream as that member's deltas before the first content delta;
 * a token limit bounds reasoning and answer together, leaving the answer
 * one token at least; usage.completion_tokens includes the reasoning and
 * completion_tokens_details.reasoning_tokens says how many it was. A bad
 * count (0, above 1000000, not a number) is a 400.
 *
 * Replies are what a strict validator of the OpenAI spec accepts (plan.c
 * 2 to 4): every message has "refusal": null (a stream's first delta
 * too); "logprobs": true (with "top_logprobs" 0..20) gives each choice
 * {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}
 * matching the tokens sent, in the reply and in each content chunk, and
 * logprobs is null otherwise; json_schema and tool arguments are the
 * instance schema.c builds (required, enum/const, min/maxItems,
 * min/maxLength, minimum/maximum and exclusive forms, multipleOf,
 * formats, a subset of patterns, type lists, anyOf/oneOf/allOf, $ref;
 * bounded depth, values, items, string and total sizes); a tool is called
 * unless tool_choice is "none" or the last message is a tool result (then
 * the answer is text echoing the user's words and the results), and
 * always when tool_choice is "required" or names a function.
 *
 * Design. One process, one event_base, no threads, no sleeps: evhttp serves
 * keep-alive HTTP/1.1 and every delay is a libevent timer. A reply with no
 * delay and no fault is written whole from the request callback (the fast
 * path); anything else becomes a call (call.c). All mutable state is the
 * one fg_sim_t that main() owns.
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/base/alloc.h"
#include "common/base/log.h"
#include "tests/sim/plan.h"
#include "tests/sim/sim.h"

#define SIM_DEFAULT_LISTEN     "127.0.0.1:8081"
#define SIM_DEFAULT_TOKENIZERS FG_SYSCONFDIR "/tokenizers"
#define SIM_MAX_BODY_BYTES     (8 * 1024 * 1024)
#define SIM_MAX_HEADERS_BYTES  (64 * 1024)
#define SIM_TIMEOUT_S          120
#define SIM_MAX_DELAY_MS       600000
#define SIM_SLOW_DELAY_MS      200
#define SIM_MAX_PLAN_FAULTS    4096
#define SIM_MAX_RETRY_AFTER_S  3600
#define SIM_RETRY_AFTER_S      1

typedef void (*sim_handler_cb)(fg_sim_t *sim, struct evhttp_request *req);
typedef int (*sim_build_cb)(fg_sim_plan_t *plan, json_t *body,
    const fg_sim_tokenizers_t *toks, uint64_t seq, int64_t created_s,
    char *err, size_t err_size);

typedef struct {
    enum evhttp_cmd_type    method;
    const char             *path;
    sim_handler_cb          handler;
} sim_route_t;

static void sim_usage(void);
static int sim_parse_ms(const char *s, unsigned *ms);
static int sim_parse_listen(const char *arg, char *host, size_t host_size,
    unsigned *port);
static void sim_on_signal(evutil_socket_t fd, short what, void *arg);
static void sim_on_request(struct evhttp_request *req, void *arg);
static void sim_chat(fg_sim_t *sim, struct evhttp_request *req);
static void sim_embeddings(fg_sim_t *sim, struct evhttp_request *req);
static void sim_completions(fg_sim_t *sim, struct evhttp_request *req);
static void sim_responses(fg_sim_t *sim, struct evhttp_request *req);
static void sim_model_call(fg_sim_t *sim, struct evhttp_request *req,
    const char *path, sim_build_cb build);
static void sim_models(fg_sim_t *sim, struct evhttp_request *req);
static void sim_stats(fg_sim_t *sim, struct evhttp_request *req);
static void sim_reset(fg_sim_t *sim, struct evhttp_request *req);
static void sim_plan(fg_sim_t *sim, struct evhttp_request *req);
static int sim_plan_parse(json_t *body, fg_sim_fault_plan_t *fp,
    unsigned *retry_after_s, unsigned *ttft_ms, unsigned *token_delay_ms,
    char *err, size_t err_size);
static int sim_plan_ms(json_t *v, unsigned max, unsigned *out);
static void sim_plan_clear(fg_sim_t *sim);
static fg_sim_fault_t sim_plan_take(fg_sim_t *sim);
static int sim_fault_parse(const char *s, size_t len, fg_sim_fault_t *fault);
static int sim_fault_parse_tag(const char *tag, fg_sim_fault_t *fault);
static int sim_options(struct evhttp_request *req, const char *model,
    fg_sim_fault_t *fault, unsigned *ttft_ms, unsigned *token_delay_ms,
    char *err, size_t err_size);
static int sim_model_ms(const char *model, const char *tag, unsigned *ms);
static void sim_reply_json(struct evhttp_request *req, int status,
    json_t *json);
static void sim_reply_error(struct evhttp_request *req, int status,
    const char *type, const char *code, const char *message);
static void sim_reply_fast(struct evhttp_request *req, fg_sim_plan_t *plan);

static const char *const sim_fault_names[] = {
    "", "500", "429", "400", "reset", "malformed", "stall", "slow", "401",
    "403", "404", "empty", "empty-stream", "stream-error", "close"
};

static const sim_route_t sim_routes[] = {
    { EVHTTP_REQ_POST, "/v1/chat/completions", sim_chat },
    { EVHTTP_REQ_POST, "/v1/embeddings",       sim_embeddings },
    { EVHTTP_REQ_POST, "/v1/completions",      sim_completions },
    { EVHTTP_REQ_POST, "/v1/responses",        sim_responses },
    { EVHTTP_REQ_GET,  "/v1/models",           sim_models },
    { EVHTTP_REQ_GET,  "/sim/stats",           sim_stats },
    { EVHTTP_REQ_POST, "/sim/plan",            sim_plan },
    { EVHTTP_REQ_POST, "/sim/reset",           sim_reset }
};

static const char *const sim_model_ids[] = {
    "sim-small", "sim-large", "sim-fault-500", "sim-fault-reset"
};

int
main(int argc, char **argv)
{
    fg_sim_t sim;
    struct evhttp_bound_socket *bound;
    struct sockaddr_storage ss;
    socklen_t ss_len = sizeof(ss);
    const char *listen_arg = SIM_DEFAULT_LISTEN;
    const char *tokenizer_dir = SIM_DEFAULT_TOKENIZERS;
    const char *default_tok;
    fg_err_t err;
    char host[256];
    unsigned port;
    int opt, rc = 1;
    fg_log_level_t level = FG_LOG_NOTICE;

    memset(&sim, 0, sizeof(sim));
    sim.retry_after_s = SIM_RETRY_AFTER_S;
    while ((opt = getopt(argc, argv, "l:t:d:T:qvh")) != -1) {
        switch (opt) {
        case 'l':
            listen_arg = optarg;
            break;
        case 't':
            if (sim_parse_ms(optarg, &sim.ttft_ms) != 0) {
                sim_usage();
                return 1;
            }
            break;
        case 'd':
            if (sim_parse_ms(optarg, &sim.token_delay_ms) != 0) {
                sim_usage();
                return 1;
            }
            break;
        case 'T':
            tokenizer_dir = optarg;
            break;
        case 'q':
            level = FG_LOG_ERROR;
            break;
        case 'v':
            level = FG_LOG_INFO;
            break;
        default:
            sim_usage();
            return 1;
        }
    }
    sim.opt_ttft_ms = sim.ttft_ms;
    sim.opt_token_delay_ms = sim.token_delay_ms;
    if (optind != argc
        || sim_parse_listen(listen_arg, host, sizeof(host), &port) != 0)
    {
        sim_usage();
        return 1;
    }

    fg_log_set_role("fg-sim");
    (void) fg_log_open(NULL, level);

    default_tok = getenv("FG_SIM_DEFAULT_TOK");
    if (default_tok != NULL && *default_tok != '\0'
        && fg_sim_tok_parse(default_tok, strlen(default_tok),
                            &sim.tokenizers.default_tok) != 0)
    {
        fg_log(FG_LOG_ERROR, 0, "FG_SIM_DEFAULT_TOK \"%s\" is none of "
               "o200k, cl100k, dense, bytes4", default_tok);
        return 1;
    }
    if (fg_sim_tokenizers_load(&sim.tokenizers, tokenizer_dir, &err) != 0) {
        fg_log(FG_LOG_ERROR, 0, "cannot load the tokenizers (-T %s): %s",
               tokenizer_dir, err.msg);
        return 1;
    }

    /* A client that goes away mid-stream must cost an EPIPE, not the
     * process. */
    signal(SIGPIPE, SIG_IGN);

    sim.base = event_base_new();
    sim.http = sim.base ? evhttp_new(sim.base) : NULL;
    if (sim.http == NULL) {
        fg_log(FG_LOG_ERROR, 0, "event_base_new() or evhttp_new() failed");
        goto done;
    }
    evhttp_set_max_body_size(sim.http, SIM_MAX_BODY_BYTES);
    evhttp_set_max_headers_size(sim.http, SIM_MAX_HEADERS_BYTES);
    evhttp_set_timeout(sim.http, SIM_TIMEOUT_S);
    evhttp_set_allowed_methods(sim.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_default_content_type(sim.http, "application/json");
    evhttp_set_gencb(sim.http, sim_on_request, &sim);

    bound = evhttp_bind_socket_with_handle(sim.http, host, (uint16_t) port);
    if (bound == NULL) {
        fg_log(FG_LOG_ERROR, errno, "bind(%s) failed", listen_arg);
        goto done;
    }
    {
        /* Streams go out event by event, as a provider's do. */
        int one = 1;

        (void) setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP,
                          TCP_NODELAY, &one, sizeof(one));
        (void) listen(evhttp_bound_socket_get_fd(bound), 4096);
    }
    if (getsockname(evhttp_bound_socket_get_fd(bound),
                    (struct sockaddr *) &ss, &ss_len) == 0)
    {
        port = ntohs(ss.ss_family == AF_INET6
                     ? ((struct sockaddr_in6 *) &ss)->sin6_port
                     : ((struct sockaddr_in *) &ss)->sin_port);
    }

    sim.sig_term = evsignal_new(sim.base, SIGTERM, sim_on_signal, &sim);
    sim.sig_int = evsignal_new(sim.base, SIGINT, sim_on_signal, &sim);
    if (sim.sig_term == NULL || sim.sig_int == NULL
        || evsignal_add(sim.sig_term, NULL) != 0
        || evsignal_add(sim.sig_int, NULL) != 0)
    {
        fg_log(FG_LOG_ERROR, 0, "evsignal_add() failed");
        goto done;
    }

    /* Print the line the harness waits for, with brackets kept for IPv6. */
    if (strchr(host, ':') != NULL) {
        printf("fg-sim listening on [%s]:%u\n", host, port);
    } else {
        printf("fg-sim listening on %s:%u\n", host, port);
    }
    fflush(stdout);
    fg_log(FG_LOG_NOTICE, 0, "ttft %u ms, token delay %u ms, prompts "
           "counted by %s unless the model says", sim.ttft_ms,
           sim.token_delay_ms, fg_sim_tok_name(sim.tokenizers.default_tok));

    if (event_base_dispatch(sim.base) == -1) {
        fg_log(FG_LOG_ERROR, 0, "event_base_dispatch() failed");
        goto done;
    }
    fg_log(FG_LOG_NOTICE, 0, "exiting, %llu requests served",
           (unsigned long long) sim.requests);
    rc = 0;

done:
    /* Calls first: their requests then go down with their connections
     * inside evhttp_free(), and no close callback finds a freed call. */
    fg_sim_call_drop_all(&sim);
    if (sim.http != NULL) {
        evhttp_free(sim.http);
    }
    if (sim.sig_term != NULL) {
        event_free(sim.sig_term);
    }
    if (sim.sig_int != NULL) {
        event_free(sim.sig_int);
    }
    if (sim.base != NULL) {
        event_base_free(sim.base);
    }
    json_decref(sim.last_body);
    sim_plan_clear(&sim);
    fg_sim_tokenizers_free(&sim.tokenizers);
    libevent_global_shutdown();
    return rc;
}

static void
sim_usage(void)
{
    fprintf(stderr,
            "usage: fg-sim [-l HOST:PORT] [-t TTFT_MS] [-d TOKEN_DELAY_MS]"
            " [-T DIR] [-q] [-v]\n"
            "  -l  listen address (default " SIM_DEFAULT_LISTEN
            "; port 0 picks a free one)\n"
            "  -t  time to first token in ms (default 0)\n"
            "  -d  delay between tokens in ms (default 0)\n"
            "  -T  folder of " FG_SIM_O200K_FILE " and " FG_SIM_CL100K_FILE
            "\n      (default " SIM_DEFAULT_TOKENIZERS ")\n"
            "  -q  log errors only\n"
            "  -v  log one line per model request\n"
            "Prompt tokens are counted by o200k_base, or as\n"
            "FG_SIM_DEFAULT_TOK=o200k|cl100k|dense|bytes4 says; a tag in the\n"
            "model name overrides it: tok-o200k, tok-cl100k, tok-dense,\n"
            "tok-bytes4. Images cost gpt-4o's tiles, or img-mini's, or\n"
            "img-patches'. Other tags: fault-<mode>, ttft-<ms>, delay-<ms>,\n"
            "overcount-<k>, overprompt-<k>, negative-usage,\n"
            "badjson-<fence|prose|truncated|comma|single|unquoted|comments|\n"
            "hopeless>, reasoning[-field][-<n>], dim-<n> and float-only (embeddings).\n"
            "Fault modes:\n"
            "500 429 400 401 403 404 reset malformed stall slow empty\n"
            "empty-stream stream-error close; POST /sim/plan sets a plan.\n");
}

/* Parses a decimal number of milliseconds up to SIM_MAX_DELAY_MS. */
static int
sim_parse_ms(const char *s, unsigned *ms)
{
    unsigned long v;
    char *end;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIM_MAX_DELAY_MS) {
        return -1;
    }
    *ms = (unsigned) v;
    return 0;
}

/* Splits HOST:PORT or [V6HOST]:PORT; @host receives the bare host. */
static int
sim_parse_listen(const char *arg, char *host, size_t host_size,
    unsigned *port)
{
    const char *colon = strrchr(arg, ':');
    const char *h = arg;
    size_t len;
    unsigned long v;
    char *end;

    if (colon == NULL || colon[1] == '\0') {
        return -1;
    }
    len = (size_t) (colon - arg);
    if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') {
        h = arg + 1;
        len -= 2;
    }
    if (len == 0 || len >= host_size) {
        return -1;
    }
    errno = 0;
    v = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535) {
        return -1;
    }
    memcpy(host, h, len);
    host[len] = '\0';
    *port = (unsigned) v;
    return 0;
}

static void
sim_on_signal(evutil_socket_t fd, short what, void *arg)
{
    fg_sim_t *sim = arg;

    (void) fd;
    (void) what;
    event_base_loopbreak(sim->base);
}

static void
sim_on_request(struct evhttp_request *req, void *arg)
{
    fg_sim_t *sim = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    size_t i;
    int is_known_path = 0;

    if (path == NULL) {
        path = "";
    }
    for (i = 0; i < sizeof(sim_routes) / sizeof(sim_routes[0]); i++) {
        if (strcmp(path, sim_routes[i].path) != 0) {
            continue;
        }
        if (evhttp_request_get_command(req) == sim_routes[i].method) {
            sim_routes[i].handler(sim, req);
            return;
        }
        is_known_path = 1;
    }
    if (is_known_path) {
        sim_reply_error(req, 405, "invalid_request_error",
                        "method_not_allowed", "method not allowed");
    } else {
        sim_reply_error(req, 404, "invalid_request_error", "not_found",
                        "unknown path");
    }
}

/* POST /v1/chat/completions */
static void
sim_chat(fg_sim_t *sim, struct evhttp_request *req)
{
    sim_model_call(sim, req, "/v1/chat/completions", fg_sim_plan_build);
}

/* POST /v1/embeddings */
static void
sim_embeddings(fg_sim_t *sim, struct evhttp_request *req)
{
    sim_model_call(sim, req, "/v1/embeddings", fg_sim_embed_build);
}

/* POST /v1/completions */
static void
sim_completions(fg_sim_t *sim, struct evhttp_request *req)
{
    sim_model_call(sim, req, "/v1/completions", fg_sim_complete_build);
}

/* POST /v1/responses */
static void
sim_responses(fg_sim_t *sim, struct evhttp_request *req)
{
    sim_model_call(sim, req, "/v1/responses", fg_sim_respond_build);
}

/*
 * A request to a model, its plan made by @build. Order matters to tests:
 * the request is counted and its body recorded before anything can reject
 * it, and faults apply only to requests that are valid.
 */
static void
sim_model_call(fg_sim_t *sim, struct evhttp_request *req, const char *path,
    sim_build_cb build)
{
    struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    const char *auth;
    json_t *body;
    json_error_t jerr;
    fg_sim_plan_t plan;
    fg_sim_fault_t fault;
    unsigned ttft_ms, token_delay_ms;
    char err[256];
    size_t len;
    int status;

    sim->requests++;
    sim->last_path = path;
    auth = evhttp_find_header(headers, "Authorization");
    sim->is_last_auth_bearer = auth != NULL
                               && strncasecmp(auth, "Bearer ", 7) == 0;

    len = evbuffer_get_length(in);
    body = json_loadb((const char *) evbuffer_pullup(in, -1), len,
                      JSON_ALLOW_NUL, &jerr);
    json_decref(sim->last_body);
    sim->last_body = body != NULL ? json_incref(body) : NULL;

    memset(&plan, 0, sizeof(plan));
    if (body == NULL) {
        snprintf(err, sizeof(err), "We could not parse the JSON body of "
                 "your request (%s at byte %d).", jerr.text, jerr.position);
        goto reject;
    }
    if (build(&plan, body, &sim->tokenizers, ++sim->next_seq,
              (int64_t) time(NULL), err, sizeof(err)) != 0)
    {
        goto reject;
    }
    json_decref(body);
    body = NULL;
    if (plan.is_stream) {
        sim->streams++;
    }

    ttft_ms = sim->ttft_ms;
    token_delay_ms = sim->token_delay_ms;
    if (sim_options(req, plan.model, &fault, &ttft_ms, &token_delay_ms, err,
                    sizeof(err)) != 0)
    {
        goto reject;
    }
    if (sim->fault_plan.is_set) {
        fg_sim_fault_t planned = sim_plan_take(sim);

        if (planned != FG_SIM_FAULT_NONE) {
            fault = planned;
        }
    }
    if (fault == FG_SIM_FAULT_SLOW) {
        token_delay_ms = SIM_SLOW_DELAY_MS;
    } else if (fault == FG_SIM_FAULT_EMPTY_STREAM && !plan.is_stream) {
        fault = FG_SIM_FAULT_EMPTY;
    }

    status = 200;
    switch (fault) {
    case FG_SIM_FAULT_500:
        status = 500;
        sim_reply_error(req, status, "server_error", NULL,
                        "simulated upstream failure");
        break;
    case FG_SIM_FAULT_429: {
        char secs[16];

        status = 429;
        snprintf(secs, sizeof(secs), "%u", sim->retry_after_s);
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "Retry-After", secs);
        sim_reply_error(req, status, "rate_limit_error",
                        "rate_limit_exceeded", "simulated rate limit");
        break;
    }
    case FG_SIM_FAULT_400:
        status = 400;
        sim_reply_error(req, status, "invalid_request_error",
                        "simulated_bad_request",
                        "simulated upstream rejection");
        break;
    /* The messages are distinct on purpose: a test can prove the gateway
     * never shows a tenant the provider's own words about its key. */
    case FG_SIM_FAULT_401:
        status = 401;
        sim_reply_error(req, status, "invalid_request_error",
                        "invalid_api_key", "simulated: incorrect API key "
                        "provided: sim-****-key");
        break;
    case FG_SIM_FAULT_403:
        status = 403;
        sim_reply_error(req, status, "request_forbidden",
                        "unsupported_country_region_territory",
                        "simulated: country, region, or territory not "
                        "supported");
        break;
    case FG_SIM_FAULT_404:
        status = 404;
        sim_reply_error(req, status, "invalid_request_error",
                        "model_not_found", "simulated: the model does not "
                        "exist or you do not have access to it");
        break;
    case FG_SIM_FAULT_EMPTY: {
        struct evbuffer *empty = fg_sim_evbuffer_new();

        fg_sim_reply(req, status, "application/json", empty);
        evbuffer_free(empty);
        break;
    }
    case FG_SIM_FAULT_NONE:
        if (ttft_ms == 0 && token_delay_ms == 0) {
            sim_reply_fast(req, &plan);
            break;
        }
        /* fall through */
    default:
        fg_sim_call_start(sim, req, &plan, fault, ttft_ms, token_delay_ms);
        return;
    }
    sim->completed++;
    fg_log(FG_LOG_INFO, 0, "%s%llu completed, status %d, model \"%s\", "
           "%zu tokens", plan.id_prefix, (unsigned long long) plan.seq,
           status, plan.model, fg_sim_plan_n_tokens(&plan));
    fg_sim_plan_cleanup(&plan);
    return;

reject:
    json_decref(body);
    fg_sim_plan_cleanup(&plan);
    sim_reply_error(req, 400, "invalid_request_error", NULL, err);
    sim->completed++;
    fg_log(FG_LOG_INFO, 0, "%s request rejected, status 400",
           sim->last_path);
}

/* GET /v1/models */
static void
sim_models(fg_sim_t *sim, struct evhttp_request *req)
{
    json_t *data = json_array();
    size_t i;

    (void) sim;
    for (i = 0; i < sizeof(sim_model_ids) / sizeof(sim_model_ids[0]); i++) {
        json_array_append_new(data, json_pack(
            "{ss ss sI ss}", "id", sim_model_ids[i], "object", "model",
            "created", (json_int_t) 1700000000, "owned_by", "fg-sim"));
    }
    sim_reply_json(req, 200, json_pack("{ss so}", "object", "list",
                                       "data", data));
}

/* GET /sim/stats */
static void
sim_stats(fg_sim_t *sim, struct evhttp_request *req)
{
    fg_sim_fault_plan_t *fp = &sim->fault_plan;
    json_t *left = json_array();
    size_t i;

    for (i = fp->next; fp->is_set && i < fp->n_faults; i++) {
        json_array_append_new(left, json_string(
            fp->faults[i] == FG_SIM_FAULT_NONE
            ? "none" : fg_sim_fault_name(fp->faults[i])));
    }
    sim_reply_json(req, 200, json_pack(
        "{sI sI sI sI sI sI ss? sb sO s{so so? sI sI sI}}",
        "requests", (json_int_t) sim->requests,
        "streams", (json_int_t) sim->streams,
        "completed", (json_int_t) sim->completed,
        "cancelled", (json_int_t) sim->cancelled,
        "aborted", (json_int_t) sim->aborted,
        "in_flight", (json_int_t) sim->in_flight,
        "last_path", sim->last_path,
        "last_authorization_seen", sim->is_last_auth_bearer,
        "last_body", sim->last_body != NULL ? sim->last_body : json_null(),
        "plan",
        "faults", left,
        "always", fp->is_set && fp->always != FG_SIM_FAULT_NONE
                  ? json_string(fg_sim_fault_name(fp->always)) : NULL,
        "retry_after_s", (json_int_t) sim->retry_after_s,
        "ttft_ms", (json_int_t) sim->ttft_ms,
        "token_delay_ms", (json_int_t) sim->token_delay_ms));
}

/*
 * POST /sim/reset zeroes the counters. in_flight is a gauge of calls that
 * really exist, so it stays; a call that ends after the reset still counts.
 */
static void
sim_reset(fg_sim_t *sim, struct evhttp_request *req)
{
    sim->requests = sim->in_flight;
    sim->streams = 0;
    sim->completed = 0;
    sim->cancelled = 0;
    sim->aborted = 0;
    sim->is_last_auth_bearer = 0;
    sim->last_path = NULL;
    json_decref(sim->last_body);
    sim->last_body = NULL;
    sim_plan_clear(sim);
    sim_reply_json(req, 200, json_pack("{sb}", "ok", 1));
}

/* POST /sim/plan: replaces the failure plan whole, or changes nothing. */
static void
sim_plan(fg_sim_t *sim, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    fg_sim_fault_plan_t fp;
    unsigned retry_after_s, ttft_ms, token_delay_ms;
    json_t *body;
    json_error_t jerr;
    char err[256];

    body = json_loadb((const char *) evbuffer_pullup(in, -1),
                      evbuffer_get_length(in), 0, &jerr);
    memset(&fp, 0, sizeof(fp));
    if (body == NULL) {
        snprintf(err, sizeof(err), "the plan is not JSON (%s)", jerr.text);
        goto reject;
    }
    retry_after_s = SIM_RETRY_AFTER_S;
    ttft_ms = sim->opt_ttft_ms;
    token_delay_ms = sim->opt_token_delay_ms;
    if (sim_plan_parse(body, &fp, &retry_after_s, &ttft_ms, &token_delay_ms,
                       err, sizeof(err)) != 0)
    {
        goto reject;
    }
    json_decref(body);
    sim_plan_clear(sim);
    fp.is_set = fp.n_faults > 0 || fp.always != FG_SIM_FAULT_NONE;
    sim->fault_plan = fp;
    sim->retry_after_s = retry_after_s;
    sim->ttft_ms = ttft_ms;
    sim->token_delay_ms = token_delay_ms;
    sim_reply_json(req, 200, json_pack("{sb sI}", "ok", 1, "faults",
                                       (json_int_t) fp.n_faults));
    return;

reject:
    json_decref(body);
    free(fp.faults);
    sim_reply_error(req, 400, "invalid_request_error", NULL, err);
}

static int
sim_plan_parse(json_t *body, fg_sim_fault_plan_t *fp,
    unsigned *retry_after_s, unsigned *ttft_ms, unsigned *token_delay_ms,
    char *err, size_t err_size)
{
    const char *key, *s;
    json_t *v, *f;
    size_t i;

    if (!json_is_object(body)) {
        snprintf(err, err_size, "the plan is not a JSON object");
        return -1;
    }
    json_object_foreach(body, key, v) {
        if (strcmp(key, "faults") == 0) {
            if (!json_is_array(v) || json_array_size(v) > SIM_MAX_PLAN_FAULTS) {
                snprintf(err, err_size, "faults: not an array of at most %d "
                         "modes", SIM_MAX_PLAN_FAULTS);
                return -1;
            }
            fp->n_faults = json_array_size(v);
            fp->faults = fg_xcalloc(fp->n_faults + 1, sizeof(*fp->faults));
            json_array_foreach(v, i, f) {
                s = json_string_value(f);
                if (s == NULL || (strcmp(s, "none") != 0
                    && sim_fault_parse(s, strlen(s), &fp->faults[i]) != 0))
                {
                    snprintf(err, err_size, "faults[%zu]: not a fault mode",
                             i);
                    return -1;
                }
            }
        } else if (strcmp(key, "always") == 0) {
            s = json_string_value(v);
            if (s == NULL || (strcmp(s, "none") != 0
                && sim_fault_parse(s, strlen(s), &fp->always) != 0))
            {
                snprintf(err, err_size, "always: not a fault mode");
                return -1;
            }
        } else if (strcmp(key, "retry_after_s") == 0) {
            if (sim_plan_ms(v, SIM_MAX_RETRY_AFTER_S, retry_after_s) != 0) {
                snprintf(err, err_size, "retry_after_s: not 0 to %d",
                         SIM_MAX_RETRY_AFTER_S);
                return -1;
            }
        } else if (strcmp(key, "ttft_ms") == 0
                   || strcmp(key, "token_delay_ms") == 0)
        {
            if (sim_plan_ms(v, SIM_MAX_DELAY_MS,
                            key[0] == 't' && key[1] == 't'
                            ? ttft_ms : token_delay_ms) != 0)
            {
                snprintf(err, err_size, "%s: not 0 to %d", key,
                         SIM_MAX_DELAY_MS);
                return -1;
            }
        } else {
            snprintf(err, err_size, "unknown plan member \"%.64s\"", key);
            return -1;
        }
    }
    return 0;
}

/* Reads an integer 0..@max. */
static int
sim_plan_ms(json_t *v, unsigned max, unsigned *out)
{
    json_int_t n;

    if (!json_is_integer(v)) {
        return -1;
    }
    n = json_integer_value(v);
    if (n < 0 || n > (json_int_t) max) {
        return -1;
    }
    *out = (unsigned) n;
    return 0;
}

/* Back to no plan: no faults, the -t and -d speeds, Retry-After: 1. */
static void
sim_plan_clear(fg_sim_t *sim)
{
    free(sim->fault_plan.faults);
    memset(&sim->fault_plan, 0, sizeof(sim->fault_plan));
    sim->retry_after_s = SIM_RETRY_AFTER_S;
    sim->ttft_ms = sim->opt_ttft_ms;
    sim->token_delay_ms = sim->opt_token_delay_ms;
}

/* The fault the plan gives the next valid chat request. */
static fg_sim_fault_t
sim_plan_take(fg_sim_t *sim)
{
    fg_sim_fault_plan_t *fp = &sim->fault_plan;

    if (fp->next < fp->n_faults) {
        return fp->faults[fp->next++];
    }
    if (fp->always == FG_SIM_FAULT_NONE) {
        fp->is_set = 0;    /* used up: the fast path is back */
    }
    return fp->always;
}

static int
sim_fault_parse(const char *s, size_t len, fg_sim_fault_t *fault)
{
    size_t i;

    for (i = 1; i < sizeof(sim_fault_names) / sizeof(sim_fault_names[0]);
         i++)
    {
        if (strlen(sim_fault_names[i]) == len
            && strncmp(s, sim_fault_names[i], len) == 0)
        {
            *fault = (fg_sim_fault_t) i;
            return 0;
        }
    }
    return -1;
}

/*
 * Reads the mode a model-name tag starts with: the longest name followed by
 * the end or by a character other than a letter or digit, so that
 * "empty-stream-ttft-5" is empty-stream and "empty-ttft-5" is empty.
 */
static int
sim_fault_parse_tag(const char *tag, fg_sim_fault_t *fault)
{
    size_t i, len, best = 0;
    char c;

    for (i = 1; i < sizeof(sim_fault_names) / sizeof(sim_fault_names[0]);
         i++)
    {
        len = strlen(sim_fault_names[i]);
        if (len <= best || strncmp(tag, sim_fault_names[i], len) != 0) {
            continue;
        }
        c = tag[len];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            continue;
        }
        best = len;
        *fault = (fg_sim_fault_t) i;
    }
    return best > 0 ? 0 : -1;
}

/*
 * Reads the per-request fault and delays: headers first, then tags in the
 * model name, so a test can reach them through the gateway, which forwards
 * the model but not our headers. An unknown fault or a bad number is a 400:
 * a typo in a test should fail loudly, not pass as a normal reply.
 */
static int
sim_options(struct evhttp_request *req, const char *model,
    fg_sim_fault_t *fault, unsigned *ttft_ms, unsigned *token_delay_ms,
    char *err, size_t err_size)
{
    struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    const char *v, *tag;

    *fault = FG_SIM_FAULT_NONE;
    v = evhttp_find_header(headers, "x-sim-fault");
    if (v != NULL) {
        if (sim_fault_parse(v, strlen(v), fault) != 0) {
            snprintf(err, err_size, "unknown x-sim-fault mode \"%s\"", v);
            return -1;
        }
    } else if ((tag = strstr(model, "fault-")) != NULL) {
        if (sim_fault_parse_tag(tag + sizeof("fault-") - 1, fault) != 0) {
            snprintf(err, err_size, "unknown fault mode in model \"%s\"",
                     model);
            return -1;
        }
    }

    v = evhttp_find_header(headers, "x-sim-ttft-ms");
    if (v != NULL ? sim_parse_ms(v, ttft_ms) != 0
                  : sim_model_ms(model, "ttft-", ttft_ms) != 0)
    {
        snprintf(err, err_size, "bad time to first token (0 to %u ms)",
                 SIM_MAX_DELAY_MS);
        return -1;
    }
    v = evhttp_find_header(headers, "x-sim-token-delay-ms");
    if (v != NULL ? sim_parse_ms(v, token_delay_ms) != 0
                  : sim_model_ms(model, "delay-", token_delay_ms) != 0)
    {
        snprintf(err, err_size, "bad token delay (0 to %u ms)",
                 SIM_MAX_DELAY_MS);
        return -1;
    }
    return 0;
}

/* Reads "<tag><digits>" from the model name; leaves @ms when absent. */
static int
sim_model_ms(const char *model, const char *tag, unsigned *ms)
{
    const char *p = strstr(model, tag);
    char digits[16];
    size_t len;

    if (p == NULL) {
        return 0;
    }
    p += strlen(tag);
    len = strspn(p, "0123456789");
    if (len == 0 || len >= sizeof(digits)) {
        return -1;
    }
    memcpy(digits, p, len);
    digits[len] = '\0';
    return sim_parse_ms(digits, ms);
}

void
fg_sim_reply(struct evhttp_request *req, int status, const char *content_type,
    struct evbuffer *body)
{
    const char *reason;

    switch (status) {
    case 200:
        reason = "OK";
        break;
    case 400:
        reason = "Bad Request";
        break;
    case 401:
        reason = "Unauthorized";
        break;
    case 403:
        reason = "Forbidden";
        break;
    case 404:
        reason = "Not Found";
        break;
    case 405:
        reason = "Method Not Allowed";
        break;
    case 429:
        reason = "Too Many Requests";
        break;
    default:
        reason = "Internal Server Error";
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      content_type);
    evhttp_send_reply(req, status, reason, body);
}

/* Sends @json (taken) as the whole reply. */
static void
sim_reply_json(struct evhttp_request *req, int status, json_t *json)
{
    struct evbuffer *body = fg_sim_evbuffer_new();

    fg_sim_json_add(body, json);
    json_decref(json);
    fg_sim_reply(req, status, "application/json", body);
    evbuffer_free(body);
}

static void
sim_reply_error(struct evhttp_request *req, int status, const char *type,
    const char *code, const char *message)
{
    sim_reply_json(req, status, json_pack(
        "{s{ss ss sn ss?}}", "error", "message", message, "type", type,
        "param", "code", code));
}

/* Writes a whole reply, stream or not, from the request callback. */
static void
sim_reply_fast(struct evhttp_request *req, fg_sim_plan_t *plan)
{
    struct evbuffer *body = fg_sim_evbuffer_new();
    size_t i, n = fg_sim_plan_n_tokens(plan);

    if (!plan->is_stream) {
        fg_sim_plan_render_reply(plan, body);
        fg_sim_reply(req, 200, "application/json", body);
        evbuffer_free(body);
        return;
    }
    fg_sim_plan_render_head(plan, body);
    for (i = 0; i < n; i++) {
        fg_sim_plan_render_piece(plan, i, body);
    }
    fg_sim_plan_render_tail(plan, body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/event-stream");
    evhttp_add_header(evhttp_request_get_output_headers(req),
                      "Cache-Control", "no-cache");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_send_reply_chunk(req, body);
    evhttp_send_reply_end(req);
    evbuffer_free(body);
}

struct evbuffer *
fg_sim_evbuffer_new(void)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        fprintf(stderr, "fg-sim: out of memory in evbuffer_new()\n");
        abort();
    }
    return b;
}

const char *
fg_sim_fault_name(fg_sim_fault_t fault)
{
    return sim_fault_names[fault];
}
