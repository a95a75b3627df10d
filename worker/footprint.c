/*
 * footprint.c: environment_impact on responses. The figures are the impact
 * model's (docs/impact.md) for the usage the request is charged for; the
 * generation time is the upstream's, measured from the request's arrival
 * to now, which is the upper bound the model caps its latency fit with.
 * footprint.c is the only writer of req->footprint.
 */

#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "worker/footprint.h"
#include "worker/request.h"
#include "worker/worker.h"

void
fg_footprint_compute(fg_req_t *req)
{
    const fg_impact_data_t    *data = req->worker->catalog->impact;
    const fg_req_settlement_t *st = &req->settlement;
    const fg_endpoint_t       *e = req->route.endpoint;
    fg_req_footprint_t        *fp = &req->footprint;
    fg_impact_usage_t          usage;
    fg_err_t                   err;
    unsigned                   flags;

    /* The usage charged: reported, or estimated by fg_meter_charge(). */
    if (fp->has_impact || data == NULL || e == NULL
        || (!req->relay.has_usage && !st->usage_estimated)) {
        return;
    }
    usage.prompt_tokens = st->prompt_tokens;
    usage.cached_tokens = st->cached_tokens;
    usage.completion_tokens = st->completion_tokens;
    usage.measured_s = (double) (fg_mono_us() - req->started_us) / 1e6;
    flags = req->worker->catalog->impact_flags;
    /* An embedding is a forward pass over its input and nothing else:
     * the prompt term is all of its compute (docs/api.md, "POST
     * /v1/embeddings"). */
    if (req->validated.api == FG_USAGE_API_EMBEDDINGS) {
        flags |= FG_IMPACT_PREFILL;
    }
    if (fg_impact_data_estimate_at(data, e->model->id, e->provider->id,
                                   e->country, e->pue, &usage, flags,
                                   &fp->impact, &err) != FG_OK) {
        fg_log(FG_LOG_WARN, 0, "req=%s impact not computed: %s", req->id,
               err.msg);
        return;
    }
    if (st->usage_estimated) {
        fp->impact.is_estimated = 1;
    }
    fp->has_impact = 1;
}

/* Where the endpoint that answered runs: set when the impact tables were
 * attached (catalog.h). */
static const char *
footprint_location(const fg_req_t *req)
{
    const char *at = req->route.endpoint->location;

    return at != NULL ? at : "WORLD";
}

char *
fg_footprint_splice(const fg_req_t *req, const char *body, size_t len,
                    size_t *out_len)
{
    char       *text, *out;
    size_t      end = len, text_len, n = 0;
    const char *sep;

    if (!req->footprint.has_impact) {
        return NULL;
    }
    while (end > 0 && body[end - 1] != '}') {
        end--;
    }
    if (end == 0) {
        return NULL;
    }
    text = fg_impact_json_text(&req->footprint.impact,
                               req->route.endpoint->provider->id,
                               footprint_location(req));
    if (text == NULL) {
        return NULL;
    }
    text_len = strlen(text);
    /* An empty object takes no comma: look back past the white space. */
    {
        size_t k = end - 1;

        while (k > 0 && (body[k - 1] == ' ' || body[k - 1] == '\n'
                         || body[k - 1] == '\r' || body[k - 1] == '\t')) {
            k--;
        }
        sep = k > 0 && body[k - 1] == '{' ? "" : ",";
    }
    out = fg_xmalloc(len + text_len + 32);
    memcpy(out, body, end - 1);
    n = end - 1;
    n += (size_t) sprintf(out + n, "%s\"environment_impact\":", sep);
    memcpy(out + n, text, text_len);
    n += text_len;
    memcpy(out + n, body + end - 1, len - (end - 1));
    n += len - (end - 1);
    free(text);
    *out_len = n;
    return out;
}
