#ifndef FG_TESTS_SIM_SIM_H
#define FG_TESTS_SIM_SIM_H

/*
 * What the simulator's two halves share: fg-sim.c (the program, its
 * endpoints and counters) and call.c (replies that take time or fail on
 * purpose). plan.h decides the content; nothing here does.
 *
 * Everything runs on the one event_base of the one thread; no function here
 * blocks.
 */

#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "tests/sim/plan.h"

typedef enum {
    FG_SIM_FAULT_NONE = 0,
    FG_SIM_FAULT_500,
    FG_SIM_FAULT_429,
    FG_SIM_FAULT_400,
    FG_SIM_FAULT_RESET,
    FG_SIM_FAULT_MALFORMED,
    FG_SIM_FAULT_STALL,
    FG_SIM_FAULT_SLOW,
    FG_SIM_FAULT_401,
    FG_SIM_FAULT_403,
    FG_SIM_FAULT_404,
    FG_SIM_FAULT_EMPTY,
    FG_SIM_FAULT_EMPTY_STREAM,
    FG_SIM_FAULT_STREAM_ERROR,
    FG_SIM_FAULT_CLOSE
} fg_sim_fault_t;

/*
 * The instance's failure plan (POST /sim/plan): the next valid model
 * requests take faults[next++]; once the list is used up, every request
 * takes @always (NONE: a normal reply). is_set is the one branch the fast
 * path pays: it is 0 whenever nothing is left to play.
 */
typedef struct {
    fg_sim_fault_t     *faults;             /* owned */
    size_t              n_faults;
    size_t              next;
    fg_sim_fault_t      always;
    int                 is_set;
} fg_sim_fault_plan_t;

typedef struct fg_sim_call_s fg_sim_call_t;

/*
 * The whole mutable state of the process, owned by main(). Every model
 * request ends exactly once as completed, cancelled or aborted, so
 * requests == completed + cancelled + aborted + in_flight at all times.
 */
typedef struct {
    struct event_base  *base;
    struct evhttp      *http;
    struct event       *sig_term;
    struct event       *sig_int;
    unsigned            ttft_ms;            /* the plan's, else -t */
    unsigned            token_delay_ms;     /* the plan's, else -d */
    unsigned            opt_ttft_ms;        /* -t */
    unsigned            opt_token_delay_ms; /* -d */
    unsigned            retry_after_s;      /* the 429 fault's; plan's */
    fg_sim_fault_plan_t fault_plan;
    uint64_t            next_seq;           /* never reset: ids stay unique */
    uint64_t            requests;           /* model requests received */
    uint64_t            streams;            /* ... valid, with stream: true */
    uint64_t            completed;          /* a whole reply was sent */
    uint64_t            cancelled;          /* the client left first */
    uint64_t            aborted;            /* reset, close, empty-stream,
                                               stream-error, or shutdown */
    uint64_t            in_flight;          /* calls not yet ended */
    const char         *last_path;          /* static: the route's path of
                                               the last model request */
    int                 is_last_auth_bearer;
    json_t             *last_body;          /* owned; NULL if none/invalid */
    fg_sim_tokenizers_t tokenizers;         /* -T, FG_SIM_DEFAULT_TOK */
    fg_sim_call_t      *calls;              /* calls not yet ended */
} fg_sim_t;

/* fg-sim.c */

/* Sends the whole reply; @body is drained, still the caller's to free. */
void fg_sim_reply(struct evhttp_request *req, int status,
    const char *content_type, struct evbuffer *body);

/* Returns a new evbuffer. Cannot fail: aborts when out of memory. */
struct evbuffer *fg_sim_evbuffer_new(void);

/* Returns the mode's name as in x-sim-fault ("" for none). */
const char *fg_sim_fault_name(fg_sim_fault_t fault);

/* call.c */

/*
 * Answers @req over time: takes what @plan owns (leaving it zeroed) and
 * owns @req until the call ends; counts it in sim->in_flight until then.
 * For a stream it sends the head at once. Cannot fail.
 */
void fg_sim_call_start(fg_sim_t *sim, struct evhttp_request *req,
    fg_sim_plan_t *plan, fg_sim_fault_t fault, unsigned ttft_ms,
    unsigned token_delay_ms);

/*
 * Ends every call as aborted without sending anything more; their requests
 * stay with their connections, for evhttp_free() to free. For shutdown.
 */
void fg_sim_call_drop_all(fg_sim_t *sim);

#endif
