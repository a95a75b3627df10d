#ifndef FG_COMMON_STORE_H
#define FG_COMMON_STORE_H

/*
 * The durable key store behind one interface, so that the embedded store
 * (a snapshot and an append-only journal in a data folder) and, later, a
 * Redis store are interchangeable. The store knows changes, not
 * operations: each change is a key record's whole new state, and maybe
 * the top-up memo that made it (what makes a retried top-up apply once).
 * Replaying every change in order rebuilds the state exactly.
 *
 * Only the syncer process calls these; every call may block on disk or
 * network. Library code: no logging, errors through fg_err_t.
 */

#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/keytable.h"

#define FG_STORE_IDEMPOTENCY_MAX 64   /* bytes, NUL excluded */

/* A top-up's memo: its idempotency key, the key it went to, the amount. */
typedef struct {
    char    idempotency_key[FG_STORE_IDEMPOTENCY_MAX + 1];
    char    key_id[FG_KEY_RECORD_ID_SIZE];
    int64_t amount_micro;
} fg_store_topup_t;

/*
 * One change, applied all or nothing: the new state of @key_count records
 * (a rotation changes two, a revocation every secret of the key), and
 * maybe the top-up memo that made it.
 */
typedef struct {
    const fg_key_record_t  *keys;        /* @key_count records, or NULL */
    size_t                  key_count;
    const fg_store_topup_t *topup;       /* NULL: not a top-up */
} fg_store_change_t;

#define FG_STORE_CHANGE_KEYS_MAX 64

/* Receives each change of a load, in order; FG_ERR stops the load. The
 * pointed-to data is valid only during the call. */
typedef int (*fg_store_visit_cb)(const fg_store_change_t *ch, void *arg,
                                 fg_err_t *err);

typedef struct {
    const char *kind;                /* "file" */
    uint64_t    changes_loaded;
    uint64_t    journal_records;     /* since the last snapshot */
    uint64_t    last_seq;
    int         had_torn_tail;       /* a torn last record was cut off */
    uint64_t    torn_offset;
    uint64_t    torn_bytes;
} fg_store_info_t;

typedef struct fg_store_s fg_store_t;

typedef struct {
    int  (*load)(fg_store_t *s, fg_store_visit_cb cb, void *arg,
                 fg_err_t *err);
    int  (*commit)(fg_store_t *s, const fg_store_change_t *ch,
                   int64_t now_ms, fg_err_t *err);
    int  (*compact)(fg_store_t *s, const fg_store_change_t *all, size_t n,
                    int64_t now_ms, fg_err_t *err);
    void (*info)(const fg_store_t *s, fg_store_info_t *out);
    void (*close)(fg_store_t *s);
} fg_store_ops_t;

struct fg_store_s {
    const fg_store_ops_t *ops;
};

/*
 * Opens the embedded store in the folder @dir (created 0700 if missing):
 * "keys.snapshot" and "keys.journal". Takes an exclusive lock on
 * "@dir/keys.lock" so that two processes never write one store: if
 * another process holds it, waits up to @lock_wait_ms, then fails.
 * Returns the store (the caller closes it with fg_store_close()), or NULL
 * with @err set.
 */
fg_store_t *fg_store_file_open(const char *dir, int64_t lock_wait_ms,
                               fg_err_t *err);

/*
 * Hands every change to @cb in order: the snapshot's, then the journal's
 * after it. A torn journal tail is cut off and reported in the info
 * (had_torn_tail); corruption in the middle is an error. Call once,
 * before the first commit.
 */
int fg_store_load(fg_store_t *s, fg_store_visit_cb cb, void *arg,
                  fg_err_t *err);

/*
 * Makes @ch durable before returning FG_OK (journal append + fsync). On
 * FG_ERR the change must be treated as not made; a failed fsync is sticky
 * (every later commit fails) because the kernel may have dropped the
 * data: the syncer must restart and reload.
 */
int fg_store_commit(fg_store_t *s, const fg_store_change_t *ch,
                    int64_t now_ms, fg_err_t *err);

/*
 * Replaces the history with @all (the whole current state, @n changes)
 * as a new snapshot, then starts an empty journal. A crash at any point
 * leaves a loadable store with the same state.
 */
int fg_store_compact(fg_store_t *s, const fg_store_change_t *all, size_t n,
                     int64_t now_ms, fg_err_t *err);

void fg_store_info(const fg_store_t *s, fg_store_info_t *out);

/* Closes @s and releases its lock. Accepts NULL. */
void fg_store_close(fg_store_t *s);

#endif
