#ifndef FG_COMMON_METRICS_H
#define FG_COMMON_METRICS_H

/*
 * Prometheus metrics in the shm arena: every worker counts into its own
 * cache-line-aligned block (relaxed atomics, no contention), and whoever
 * serves /metrics sums the blocks. A dead worker's counts are kept: the
 * block belongs to the shm slot, and the next worker in that slot goes on
 * counting into it. (Layout and series: metrics.c; the gauges read from
 * the rest of the arena: common/base/exposition.h; the list of every series:
 * docs/operations.md.)
 *
 * Label values come from bounded sets only: model and provider labels are
 * catalog ids the master enters into a name table (fg_metrics_name_add),
 * never a string a client sent; a name outside the table counts as
 * "other". No series is ever removed, so every counter is monotonic.
 */

#include <stddef.h>
#include <stdio.h>

#include "common/base/errors.h"
#include "common/base/summary.h"

#define FG_METRICS_WORKERS   512     /* blocks; equals FG_SHM_MAX_WORKERS */
#define FG_METRICS_NAMES     256     /* model and provider ids, together */
#define FG_METRICS_NAME_MAX  64      /* bytes of one id, NUL included */
#define FG_METRICS_SERIES    2048    /* model x provider x status x code */
#define FG_METRICS_KEYS      16384   /* per-key series (metrics.per_key) */

typedef struct fg_metrics_s fg_metrics_t;

/* Bytes of the metrics region (a multiple of 64). Cannot fail. */
size_t fg_metrics_bytes(void);

/*
 * Lays out an empty region in the zeroed, 64-byte aligned block @mem of
 * @bytes bytes. Returns it (borrowed: it is @mem), or NULL with @err set.
 * Master only, before forking. Touches one page: the rest stays untouched
 * (and costs no memory) until counted into.
 */
fg_metrics_t *fg_metrics_init(void *mem, size_t bytes, fg_err_t *err);

/*
 * Enters @name (a catalog model or provider id) into the name table, so
 * that requests naming it get it as their label value. Idempotent.
 * Returns FG_OK, or FG_ERR with @err set when the table is full or the
 * name longer than FG_METRICS_NAME_MAX - 1 bytes (requests naming it then
 * count under "other"). The master is the only writer: call it before
 * forking the workers that may name @name (start-up and reload). Never
 * blocks.
 */
int fg_metrics_name_add(fg_metrics_t *m, const char *name, fg_err_t *err);

/*
 * Turns per-key counting (requests and tokens by key id, for
 * metrics.per_key) on or off. Master only; workers and renderers follow
 * at once. Cannot fail.
 */
void fg_metrics_set_per_key(fg_metrics_t *m, int on);

/*
 * Counts one finished request of the worker in shm slot @worker_slot: its
 * series, tokens, latencies, and, when @s has them, its impact figures
 * (added as integer nano-units: nano-watt-hours, nanograms CO2e,
 * nanolitres; rendered as fixed decimals of kWh, grams and litres).
 * Any worker; never blocks, no syscalls, no allocation.
 */
void fg_metrics_request_done(fg_metrics_t *m, unsigned worker_slot,
                             const fg_request_summary_t *s);

/*
 * Counts one group commit of the usage journal whose fdatasync took @us
 * microseconds (fluxgate_usage_journal_sync_duration_seconds). The
 * syncer only: the histogram has that one writer. Never blocks.
 */
void fg_metrics_journal_synced(fg_metrics_t *m, int64_t us);

/*
 * Writes every series of the region, summed over all worker blocks, to
 * @out in the Prometheus text format 0.0.4 (# HELP, # TYPE, samples).
 * Any process; reads only, never blocks on the writers; allocates a
 * scratch table (aborts on out-of-memory). Returns FG_OK, or FG_ERR with
 * @err set when writing to @out failed.
 */
int fg_metrics_render(const fg_metrics_t *m, FILE *out, fg_err_t *err);

/* Writes name="value" with @value escaped as the text format wants (\\,
 * \", \n): for every family's labels, in here and out. */
void fg_metrics_label(FILE *out, const char *name, const char *value);

#endif
