#ifndef FG_WORKER_VERDICT_H
#define FG_WORKER_VERDICT_H

/*
 * What a pipeline stage tells the pipeline: go on, refuse with an error
 * (and the Retry-After it needs), wait for the upstream, or, from the
 * relay, how the reply ends. Stages never answer a request themselves;
 * the pipeline (pipeline.c) alone acts on a verdict. Plain values: the
 * verdict lives on its caller's stack.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"

typedef enum {
    FG_VERDICT_CONTINUE = 0,   /* passed: on to the next stage */
    FG_VERDICT_REFUSE,         /* answer with err (+ Retry-After), stop */
    FG_VERDICT_PENDING,        /* waiting for the upstream: its events
                                * take the request on (pipeline.c) */
    FG_VERDICT_FORWARD,        /* relay: answer with the upstream's own
                                * error reply (status, body), as sent */
    FG_VERDICT_COMPLETE,       /* relay: answer 200 with the completion
                                * (body), once settled */
    FG_VERDICT_STREAM_END      /* relay: the stream is over; err.code is
                                * FG_E_NONE or what broke it */
} fg_verdict_kind_t;

/*
 * A stage's verdict. Lives on the pipeline's stack; a stage fills it only
 * when it does not continue. Strings are borrowed: body from the request's
 * relay buffers, valid until the request is freed.
 */
typedef struct fg_verdict_s {
    fg_verdict_kind_t kind;
    fg_err_t          err;              /* REFUSE; STREAM_END's code */
    int64_t           retry_after_ms;   /* REFUSE: the wait asked of the
                                         * client (Retry-After and
                                         * retry-after-ms); FG_RETRY_NONE */
    int               status;           /* FORWARD */
    const char       *body;             /* FORWARD, COMPLETE */
    size_t            body_len;
} fg_verdict_t;

#define FG_RETRY_NONE (-1)   /* a refusal that asks for no wait */

/*
 * Fills @v as a refusal: @code, @param (NULL: none), the message, and a
 * wait of @retry_after_ms (FG_RETRY_NONE: none), sent as Retry-After in
 * whole seconds rounded up and retry-after-ms. Returns FG_VERDICT_REFUSE,
 * so a stage can `return fg_verdict_refuse(...)`. Cannot fail.
 */
fg_verdict_kind_t fg_verdict_refuse(fg_verdict_t *v, int64_t retry_after_ms,
                                    fg_error_code_t code, const char *param,
                                    const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
