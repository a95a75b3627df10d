#ifndef FG_WORKER_RESPONSES_H
#define FG_WORKER_RESPONSES_H

/*
 * What POST /v1/responses shares between its two halves: the request's
 * translation into a chat-completions body (responses_req.h) fills this
 * struct, and the reply's translation back into a Responses "response"
 * object or its typed SSE events (responses_reply.h) echoes it, as
 * OpenAI echoes the request's settings in every response object.
 *
 * Ownership: the spans borrow from the request body fg_responses_to_chat()
 * was given and are valid while that body lives. Each span is the raw
 * JSON text of the member's value (quotes and brackets included, escapes
 * as the client wrote them), NULL with length 0 when the member is absent
 * or null.
 */

#include <stddef.h>
#include <stdint.h>

/* What the reply needs to know of the Responses request (filled by R1). */
typedef struct {
    int      is_stream;
    int      store;                 /* default 1 */
    /* Raw JSON text spans of the request, echoed in the response object as
     * OpenAI does (NULL/0 when absent): */
    const char *instructions; size_t instructions_len;     /* a JSON string */
    const char *tools;        size_t tools_len;            /* the request's array */
    const char *tool_choice;  size_t tool_choice_len;
    const char *text;         size_t text_len;             /* {"format": ...} */
    const char *reasoning;    size_t reasoning_len;        /* {"effort": ...} */
    const char *metadata;     size_t metadata_len;
    const char *previous_response_id; size_t previous_response_id_len; /* string */
    const char *user;         size_t user_len;
    double   temperature;  int has_temperature;
    double   top_p;        int has_top_p;
    int64_t  max_output_tokens;     /* 0: none */
    int      parallel_tool_calls;   /* default 1 */
} fg_responses_req_t;

#endif
