#ifndef FG_WORKER_RESPONSES_H
#define FG_WORKER_RESPONSES_H

/*
 * worker/responses.h: what the reply of a POST /v1/responses needs of its
 * request (filled by responses_req.c)
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
