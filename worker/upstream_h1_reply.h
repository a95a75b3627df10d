#ifndef FG_WORKER_UPSTREAM_H1_REPLY_H
#define FG_WORKER_UPSTREAM_H1_REPLY_H

/*
 * The reply side of the native HTTP/1.1 client (upstream_h1.c) as pure
 * functions on the client's read buffer: no I/O, no event, no allocation.
 * The client calls them as bytes arrive; the fuzz targets
 * tests/fuzz/fuzz_h1head.c and fuzz_h1chunked.c call them the same way.
 *
 *   fg_h1_reply_head()     the reply's head, 1xx heads skipped;
 *   fg_h1_body_init()      how its body is framed (RFC 9112 6.3);
 *   fg_h1_body_ready()     what of the buffer is body now, chunks decoded
 *                          in place; fg_h1_body_consumed() once relayed.
 */

#include <stddef.h>
#include <stdint.h>

#include "common/wire/httpparse.h"

/* A reply head larger than this is malformed; so is a chunk-size line. */
#define FG_H1_MAX_HEAD (64 * 1024)
#define FG_H1_MAX_LINE 4096

/*
 * The reply's head at the start of @buf, *@len bytes read so far;
 * *@scanned carries fg_http_head_end's resume between calls (0 at first),
 * *@seen the bytes of informational (1xx) heads already dropped (0 at
 * first): such a head is dropped from @buf (*@len shrinks), counted, and
 * the next one read; all of them count towards FG_H1_MAX_HEAD. Returns 1 with the final head parsed into @head and
 * its length in *@head_len (still at @buf's start: the caller drops it
 * when done with @head); 0 when it is not all in; -1 when it is malformed
 * or passes FG_H1_MAX_HEAD, finished or not.
 */
int fg_h1_reply_head(char *buf, size_t *len, size_t *scanned, size_t *seen,
                     fg_http_head_t *head, size_t *head_len);

/* How a reply's body is framed, and where its reading stands. */
typedef struct {
    int64_t           left;         /* bytes due; -1: to the close (not
                                     * chunked) */
    int               is_chunked;
    int               keep_alive;   /* the connection may carry another */
    fg_http_chunked_t chunked;
    size_t            chunk_in;     /* encoded bytes decoded so far */
    size_t            chunk_out;    /* decoded bytes, at the buffer's start */
} fg_h1_body_t;

/* The framing @head gives its body: no body for 204 and 304, chunked,
 * Content-Length, else up to the close (which ends keep-alive). */
void fg_h1_body_init(fg_h1_body_t *body, const fg_http_head_t *head);

/*
 * The body bytes @buf (@len bytes read, the head gone) holds now: the
 * first *@ready bytes of @buf (chunks decoded in place), which take the
 * first *@used bytes of it. Returns 1 when the body ends with them, 0
 * when more is due, -1 when the chunked framing is malformed. Called
 * again before fg_h1_body_consumed() (a relay that paused), it answers
 * the same, with what arrived since added.
 */
int fg_h1_body_ready(fg_h1_body_t *body, char *buf, size_t len,
                     size_t *ready, size_t *used);

/* The @ready bytes were relayed and the @used bytes dropped from the
 * buffer's start. */
void fg_h1_body_consumed(fg_h1_body_t *body, size_t ready);

#endif
