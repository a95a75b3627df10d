#ifndef FG_COMMON_EXPOSITION_H
#define FG_COMMON_EXPOSITION_H

/*
 * The /metrics body: the counters of the metrics region (common/base/metrics.h)
 * and the gauges read from the rest of the shm arena (requests in flight,
 * workers up and restarted, the key table's use, concurrency slots held,
 * the response store's counters), and the endpoints' health
 * (common/route/health.h), in the Prometheus
 * text format 0.0.4. Apart from metrics.c because it needs shm.h, which
 * includes metrics.h.
 */

#include <stddef.h>

#include "common/base/errors.h"
#include "common/base/shm.h"

#define FG_EXPOSITION_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders the whole exposition of @shm, summed over every worker, the
 * endpoints' circuits read with @health's thresholds. Returns
 * an owned NUL-terminated buffer (free() it) with its length in *@len, or
 * NULL with @err set (out of memory). Any process; reads the arena only,
 * never blocks on its writers.
 */
char *fg_exposition_render(const fg_shm_t *shm,
                           const fg_health_conf_t *health, size_t *len,
                           fg_err_t *err);

#endif
