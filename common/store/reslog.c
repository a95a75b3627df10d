/*
 * reslog.c: the reservation log (reslog.h says why).
 *
 * The open set is an array of records with an open-addressed index by the
 * gateway's request id (unique per request): a close swaps the last
 * record into the hole. It grows by doubling up to max_open, the number
 * of reservations the ledger can hold at once, so it is bounded by the
 * ledger's own bound.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/alloc.h"
#include "common/base/durable.h"
#include "common/base/clock.h"
#include "common/store/usagelog.h"
#include "common/store/reslog.h"

#define RESLOG_EMPTY  (-1)
#define RESLOG_TOMB   (-2)

struct fg_reslog_s {
    fg_usagelog_t     *log;
    fg_usage_record_t *open;          /* the open reservations */
    size_t             n, cap, max_open;
    int32_t           *index;         /* record index, or EMPTY / TOMB */
    size_t             slots, tombs;  /* slots: a power of two */
    fg_usage_record_t *queue;         /* to append at the next flush */
    size_t             queued, queue_cap;
    uint64_t           last_seq;
    char               path[4096];
    char               node[FG_USAGELOG_NODE_MAX + 1];
};

static uint64_t
reslog_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (*id != '\0') {
        h = (h ^ (unsigned char) *id++) * 0x100000001b3ULL;
    }
    return h;
}

/* The slot holding @id, or -1. */
static int64_t
reslog_find(const fg_reslog_t *rl, const char *id)
{
    size_t mask = rl->slots - 1, i, probes;

    if (rl->slots == 0) {
        return -1;
    }
    i = (size_t) reslog_hash(id) & mask;
    for (probes = 0; probes < rl->slots; probes++, i = (i + 1) & mask) {
        if (rl->index[i] == RESLOG_EMPTY) {
            return -1;
        }
        if (rl->index[i] >= 0
            && strcmp(rl->open[rl->index[i]].request_id, id) == 0) {
            return (int64_t) i;
        }
    }
    return -1;
}

static void
reslog_index_put(fg_reslog_t *rl, size_t rec)
{
    size_t mask = rl->slots - 1;
    size_t i = (size_t) reslog_hash(rl->open[rec].request_id) & mask;

    while (rl->index[i] >= 0) {
        i = (i + 1) & mask;
    }
    if (rl->index[i] == RESLOG_TOMB) {
        rl->tombs--;
    }
    rl->index[i] = (int32_t) rec;
}

static void
reslog_rebuild(fg_reslog_t *rl, size_t slots)
{
    size_t i;

    free(rl->index);
    rl->slots = slots;
    rl->tombs = 0;
    rl->index = fg_xcalloc(slots, sizeof(int32_t));
    for (i = 0; i < slots; i++) {
        rl->index[i] = RESLOG_EMPTY;
    }
    for (i = 0; i < rl->n; i++) {
        reslog_index_put(rl, i);
    }
}

/* Enters @rec into the open set (1), or not: known already, or full (0). */
static int
reslog_add(fg_reslog_t *rl, const fg_usage_record_t *rec)
{
    if (reslog_find(rl, rec->request_id) >= 0 || rl->n >= rl->max_open) {
        return 0;
    }
    if (rl->n == rl->cap) {
        rl->cap = rl->cap ? rl->cap * 2 : 64;
        rl->open = fg_xrealloc(rl->open, rl->cap * sizeof(*rl->open));
    }
    if ((rl->n + 1 + rl->tombs) * 2 > rl->slots) {
        reslog_rebuild(rl, rl->slots ? (rl->n + 1) * 4 > rl->slots
                                       ? rl->slots * 2 : rl->slots
                                     : 128);
    }
    rl->open[rl->n] = *rec;
    reslog_index_put(rl, rl->n);
    rl->n++;
    return 1;
}

/* Removes @id from the open set: 1 if it was there. */
static int
reslog_remove(fg_reslog_t *rl, const char *id)
{
    int64_t slot = reslog_find(rl, id), last;
    size_t  hole;

    if (slot < 0) {
        return 0;
    }
    hole = (size_t) rl->index[slot];
    rl->index[slot] = RESLOG_TOMB;
    rl->tombs++;
    rl->n--;
    if (hole != rl->n) {
        last = reslog_find(rl, rl->open[rl->n].request_id);
        rl->open[hole] = rl->open[rl->n];
        if (last >= 0) {
            rl->index[last] = (int32_t) hole;
        }
    }
    return 1;
}

static void
reslog_queue(fg_reslog_t *rl, const fg_usage_record_t *rec)
{
    if (rl->queued == rl->queue_cap) {
        rl->queue_cap = rl->queue_cap ? rl->queue_cap * 2 : 64;
        rl->queue = fg_xrealloc(rl->queue, rl->queue_cap * sizeof(*rec));
    }
    rl->queue[rl->queued++] = *rec;
    if (rec->seq > rl->last_seq) {
        rl->last_seq = rec->seq;
    }
}

static int
reslog_read_cb(const fg_usage_record_t *rec, const char *node, void *arg,
               fg_err_t *err)
{
    fg_reslog_t *rl = arg;

    (void) node;
    (void) err;
    if (rec->flags & FG_USAGE_RESERVATION) {
        (void) reslog_add(rl, rec);
    } else if (rec->flags & FG_USAGE_RESERVATION_END) {
        (void) reslog_remove(rl, rec->request_id);
    }
    return FG_OK;
}

fg_reslog_t *
fg_reslog_open(const char *path, const char *node, size_t max_open,
               fg_err_t *err)
{
    fg_reslog_t       *rl = fg_xcalloc(1, sizeof(*rl));
    fg_usagelog_scan_t scan;

    snprintf(rl->path, sizeof(rl->path), "%s", path);
    snprintf(rl->node, sizeof(rl->node), "%s", node);
    rl->max_open = max_open;
    /* Open first: it cuts a torn tail, which the read then never sees. */
    rl->log = fg_usagelog_open(path, node, &scan, err);
    if (rl->log == NULL
        || fg_usagelog_read(path, reslog_read_cb, rl, NULL, err) != FG_OK) {
        fg_reslog_close(rl);
        return NULL;
    }
    rl->last_seq = scan.last_seq;
    return rl;
}

void
fg_reslog_close(fg_reslog_t *rl)
{
    if (rl == NULL) {
        return;
    }
    fg_usagelog_close(rl->log);
    free(rl->open);
    free(rl->index);
    free(rl->queue);
    free(rl);
}

void
fg_reslog_reserve(fg_reslog_t *rl, const fg_usage_record_t *rec)
{
    if (reslog_add(rl, rec)) {
        reslog_queue(rl, rec);
    }
}

int
fg_reslog_settle(fg_reslog_t *rl, const fg_usage_record_t *rec)
{
    fg_usage_record_t end;

    if (!reslog_remove(rl, rec->request_id)) {
        return 0;
    }
    /* The usage record's ring and seq: after its reservation's, in its
     * ring's order. */
    fg_usage_init(&end);
    end.seq = rec->seq;
    end.ring = rec->ring;
    end.started_unix_ms = rec->started_unix_ms;
    end.flags = FG_USAGE_RESERVATION_END;
    memcpy(end.request_id, rec->request_id, sizeof(end.request_id));
    memcpy(end.key_id, rec->key_id, sizeof(end.key_id));
    reslog_queue(rl, &end);
    return 1;
}

int
fg_reslog_flush(fg_reslog_t *rl, fg_err_t *err)
{
    int rc;

    if (rl->queued == 0) {
        return FG_OK;
    }
    rc = fg_usagelog_append(rl->log, rl->queue, rl->queued, fg_mono_ms(),
                            NULL, err);
    rl->queued = 0;
    return rc;
}

int
fg_reslog_sync(fg_reslog_t *rl, fg_err_t *err)
{
    return fg_usagelog_sync(rl->log, err);
}

static int
reslog_by_seq(const void *a, const void *b)
{
    const fg_usage_record_t *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
fg_reslog_compact(fg_reslog_t *rl, fg_err_t *err)
{
    fg_usagelog_pos_t  pos;
    fg_usagelog_t     *tmp;
    fg_usage_record_t *sorted;
    char               tmp_path[sizeof(rl->path) + 8];

    fg_usagelog_position(rl->log, &pos);
    if (pos.offset < FG_RESLOG_COMPACT_BYTES) {
        return 0;
    }
    snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", rl->path);
    (void) unlink(tmp_path);
    tmp = fg_usagelog_open(tmp_path, rl->node, NULL, err);
    if (tmp == NULL) {
        return FG_ERR;
    }
    /* In seq order, so each ring's seqs increase, as the format wants. */
    sorted = fg_xcalloc(rl->n ? rl->n : 1, sizeof(*sorted));
    memcpy(sorted, rl->open, rl->n * sizeof(*sorted));
    qsort(sorted, rl->n, sizeof(*sorted), reslog_by_seq);
    if ((rl->n > 0 && fg_usagelog_append(tmp, sorted, rl->n, fg_mono_ms(),
                                         NULL, err) != FG_OK)
        || fg_usagelog_sync(tmp, err) != FG_OK
        || (rename(tmp_path, rl->path) != 0
            && fg_err_set(err, FG_E_INTERNAL, NULL, "rename(%s): %s",
                          tmp_path, strerror(errno)) != FG_OK)
        || fg_fsync_dir_of(rl->path, err) != FG_OK) {
        free(sorted);
        fg_usagelog_close(tmp);
        (void) unlink(tmp_path);
        return FG_ERR;
    }
    free(sorted);
    fg_usagelog_close(rl->log);
    rl->log = tmp;   /* the same file, now under the log's own name */
    return 1;
}

size_t
fg_reslog_open_count(const fg_reslog_t *rl)
{
    return rl->n;
}

const fg_usage_record_t *
fg_reslog_open_at(const fg_reslog_t *rl, size_t i)
{
    return i < rl->n ? &rl->open[i] : NULL;
}

const fg_usage_record_t *
fg_reslog_held(const fg_reslog_t *rl, const char *request_id)
{
    int64_t slot = reslog_find(rl, request_id);

    return slot >= 0 ? &rl->open[rl->index[slot]] : NULL;
}

uint64_t
fg_reslog_last_seq(const fg_reslog_t *rl)
{
    return rl->last_seq;
}
