#ifndef FG_WORKER_RESPONSES_STORE_H
#define FG_WORKER_RESPONSES_STORE_H

/*
 * The worker's side of the response store (common/store/respstore.h):
 * the lookups a Responses request's previous_response_id and
 * item_reference make while it is validated, and the keeping of a
 * response once its reply is whole. Both run in the worker and block on
 * one small file (docs/architecture.md, "Response store").
 */

#include <stddef.h>

#include "common/store/respstore.h"

struct fg_req_s;

/*
 * fg_responses_lookup_pt (worker/responses_req.h) for the request @arg
 * (an fg_req_t, authenticated): the items of @id stored for its key.
 */
int fg_responses_store_lookup(void *arg, const char *id, size_t len,
                              char **json, size_t *json_len);

/*
 * Keeps the response @resp_id (NUL-terminated) of @req, whose output
 * items are the JSON array @output (@output_len bytes), after the
 * conversation it continued, unless the request said "store": false or
 * the store is off. A cap reached or a failure is counted in the store's
 * metrics and logged (a failure only); the reply is never changed by it:
 * a later reference to the id is then a 400, as for an expired one.
 */
void fg_responses_store_keep(struct fg_req_s *req, const char *resp_id,
                             const char *output, size_t output_len);

#endif
