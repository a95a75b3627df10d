#ifndef FG_WORKER_FOOTPRINT_H
#define FG_WORKER_FOOTPRINT_H

/*
 * The environmental footprint of a completion: the impact model
 * (common/accounts/impact.h) applied to the request's usage, its model, its
 * provider's data centre and the measured upstream time, and the
 * "environment_impact" object it adds to the response.
 */

#include "worker/request.h"

/* Computes req->impact from its usage (once; a no-op without usage or
 * without impact tables). */
void fg_footprint_compute(fg_req_t *req);

/*
 * The non-streaming reply @body (@len bytes, a JSON object) with
 * "environment_impact" added as its last member, spliced into the text so
 * the upstream's own bytes are passed on unchanged. Returns a malloc'd
 * buffer (the caller frees it) and its length in *@out_len, or NULL when
 * there is nothing to add.
 */
char *fg_footprint_splice(const fg_req_t *req, const char *body, size_t len,
                          size_t *out_len);

#endif
