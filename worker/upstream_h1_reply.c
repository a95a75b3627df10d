/*
 * upstream_h1_reply.c: the native HTTP/1.1 client's reply parsing, taken
 * out of upstream_h1.c unchanged so that a fuzz target can call it (see
 * upstream_h1_reply.h).
 */

#include <string.h>

#include "worker/upstream_h1_reply.h"

int
fg_h1_reply_head(char *buf, size_t *len, size_t *scanned, size_t *seen,
                 fg_http_head_t *head, size_t *head_len)
{
    size_t hl;

    for (;;) {
        hl = fg_http_head_end(buf, *len, scanned);
        if (hl == 0) {
            return *seen + *len > FG_H1_MAX_HEAD ? -1 : 0;
        }
        /* The limit holds however the head arrived: a whole oversized
         * head in one read is as malformed as one that trickles in, and
         * 1xx heads count towards it so they cannot go on for ever. */
        if (*seen + hl > FG_H1_MAX_HEAD
            || fg_http_parse_response_head(buf, hl, head) != 0) {
            return -1;
        }
        if (head->status >= 200) {
            *head_len = hl;
            return 1;
        }
        /* 1xx: informational, a real head follows. */
        *seen += hl;
        memmove(buf, buf + hl, *len - hl);
        *len -= hl;
        *scanned = 0;
    }
}

void
fg_h1_body_init(fg_h1_body_t *body, const fg_http_head_t *head)
{
    memset(body, 0, sizeof(*body));
    body->keep_alive = head->keep_alive;
    if (head->status == 204 || head->status == 304) {
        body->left = 0;
    } else if (head->is_chunked) {
        body->is_chunked = 1;
    } else if (head->content_length >= 0) {
        body->left = head->content_length;
    } else {
        body->left = -1;
        body->keep_alive = 0;   /* the body ends with the connection */
    }
}

int
fg_h1_body_ready(fg_h1_body_t *body, char *buf, size_t len, size_t *ready,
                 size_t *used)
{
    int rc;

    if (body->is_chunked) {
        rc = fg_http_chunked_decode(&body->chunked, buf, len,
                                    &body->chunk_in, &body->chunk_out,
                                    (size_t) INT64_MAX, FG_H1_MAX_LINE);
        if (rc != 0 && rc != 1) {
            return -1;
        }
        *ready = body->chunk_out;
        *used = body->chunk_in;
        return rc;
    }
    *ready = body->left >= 0 && (int64_t) len > body->left
             ? (size_t) body->left : len;
    *used = *ready;
    return body->left >= 0 && (int64_t) *ready == body->left;
}

void
fg_h1_body_consumed(fg_h1_body_t *body, size_t ready)
{
    if (body->is_chunked) {
        body->chunk_in = 0;
        body->chunk_out = 0;
    } else if (body->left >= 0) {
        body->left -= (int64_t) ready;
    }
}
