#ifndef FG_COMMON_KEYSTORE_H
#define FG_COMMON_KEYSTORE_H

/*
 * The key administration: every admin operation on keys (create, list,
 * show, update, rotate, revoke, top-up), each made durable in the store
 * before it is published in the shared-memory key table and answered.
 *
 * It keeps its own copy of every record (the table is for readers; this
 * copy gives lookups by id and ordered listings) and the memos of past
 * top-ups. One process owns it, the syncer; nothing here is thread-safe
 * or called from a worker. Library code: no logging.
 *
 * Replies are admin API JSON (docs/admin-api.md): new references the
 * caller decrefs. On FG_ERR nothing changed anywhere and @err says why
 * (its code maps to the HTTP status).
 */

#include <stdint.h>

#include <jansson.h>

#include "common/base/errors.h"
#include "common/accounts/keys.h"
#include "common/accounts/keytable.h"
#include "common/accounts/ledger.h"
#include "common/accounts/usage.h"
#include "common/store/store.h"

typedef struct fg_keystore_s fg_keystore_t;

typedef struct {
    uint32_t keys;          /* current records (one per key id) */
    uint32_t secrets;       /* records in the table, rotated-out included */
    uint32_t capacity;      /* of the table */
    uint64_t topups;        /* memos kept */
} fg_keystore_stats_t;

/*
 * A key store over @table and @store (both borrowed; they outlive it),
 * hashing secrets with @server_secret (copied). @rotation_grace_ms is the
 * default grace of a rotated-out secret. Never NULL (aborts on OOM).
 */
fg_keystore_t *fg_keystore_new(fg_keytable_t *table, fg_store_t *store,
                               const uint8_t server_secret[FG_KEY_SERVER_SECRET_BYTES],
                               int64_t rotation_grace_ms);

/*
 * Keeps the energy ledger (borrowed) in step with the store, as @owner:
 * at load every key's account gets its stored balance, and every later
 * change that alters a balance (a top-up, an admin update) reaches the
 * live balance as a difference, so reservations in flight stay right.
 * Call before fg_keystore_load(). Without it keys have no accounts.
 */
void fg_keystore_set_ledger(fg_keystore_t *ks, fg_ledger_t *ledger,
                            unsigned owner);

/*
 * Makes the usage journal (and whatever must be durable with it) durable
 * and says where it ends: the position the balances written next
 * include. FG_ERR: nothing may be written.
 */
typedef int (*fg_keystore_usage_sync_fn)(void *arg, uint64_t *file_id,
                                         uint64_t *offset, fg_err_t *err);

/*
 * Cold-start exactness (docs/architecture.md): every balance the store
 * gets is the balance as the usage journal has it (the stored one minus
 * every record appended after its position, each after regeneration up
 * to its end) with @sync's position. @file_id and @end_offset are where
 * the journal ended when it was opened: what a record stored before
 * positions includes. Call before fg_keystore_load(); then load, replay
 * the journal from fg_keystore_replay_from() through
 * fg_keystore_apply_usage(), and fg_keystore_rebuild_ledger(). Without
 * it (tests, tools), balances are written as the ledger has them.
 */
void fg_keystore_set_usage(fg_keystore_t *ks, fg_keystore_usage_sync_fn sync,
                           void *arg, uint64_t file_id, uint64_t end_offset);

/* The offset of usage file @file_id from which a replay must read (0:
 * all of it; UINT64_MAX: none, no key). */
uint64_t fg_keystore_replay_from(const fg_keystore_t *ks, uint64_t file_id);

/*
 * The id of the oldest usage file a stored balance names (UINT64_MAX:
 * none): journal retention must keep that file and every later one, or a
 * cold start could not replay what those balances do not include.
 */
uint64_t fg_keystore_oldest_usage_file(const fg_keystore_t *ks);

/*
 * Takes usage record @rec, which ends at @end_offset of usage file
 * @file_id, into its key's journal balance, unless the stored balance
 * includes it: regeneration up to the record's end, then its charge. The
 * syncer calls it for every record it appends, and for every record of
 * the replay. Unknown keys are ignored.
 */
void fg_keystore_apply_usage(fg_keystore_t *ks, const fg_usage_record_t *rec,
                             uint64_t file_id, uint64_t end_offset);

/*
 * Gives every key an account in the ledger with its journal balance; an
 * account that exists (the arena outlived the syncer) keeps its live one.
 */
int fg_keystore_rebuild_ledger(fg_keystore_t *ks, fg_err_t *err);

/* Key @id's balance as the journal has it (-1: no such key). For tests. */
int64_t fg_keystore_journal_balance(const fg_keystore_t *ks, const char *id);

/* The energy balance a key created without one gets (micro-units). */
void fg_keystore_set_default_balance(fg_keystore_t *ks, int64_t micro);

/*
 * Writes the balances that differ from the stored ones into the store:
 * with fg_keystore_set_usage(), the journal's balances with the position
 * they include (and any whose position is far behind, bounding a cold
 * start's replay); without, the live ones of the ledger (charges and
 * regeneration happen in shm, in the workers), and a crash loses at
 * most the charges since the last call. Returns the number of keys
 * written, or FG_ERR (nothing lost).
 */
int fg_keystore_persist_balances(fg_keystore_t *ks, int64_t now_ms,
                                 fg_err_t *err);

/*
 * The same, for every key whose stored position is not the journal's end
 * now: all positions then name that end. The syncer calls it before it
 * rolls the usage journal, so that no position names a record in a
 * rolled file (a cold start replays the current file only, and retention
 * may delete rolled ones). Returns the number of keys written, or FG_ERR.
 */
int fg_keystore_persist_all_balances(fg_keystore_t *ks, int64_t now_ms,
                                     fg_err_t *err);

/* Frees @ks (not the table or the store). Accepts NULL. */
void fg_keystore_free(fg_keystore_t *ks);

/*
 * Loads the store's state and makes the table hold exactly it: records
 * put, and anything the table had that the store does not, removed (the
 * table may hold a previous syncer's writes). Call once, first.
 */
int fg_keystore_load(fg_keystore_t *ks, int64_t now_ms, fg_err_t *err);

int fg_keystore_create(fg_keystore_t *ks, const json_t *body, int64_t now_ms,
                       json_t **reply, fg_err_t *err);

/* @owner, @status, @after may be NULL; @limit 1..1000. */
int fg_keystore_list(fg_keystore_t *ks, const char *owner,
                     const char *status, const char *after, int limit,
                     int64_t now_ms, json_t **reply, fg_err_t *err);

int fg_keystore_show(fg_keystore_t *ks, const char *id, int64_t now_ms,
                     json_t **reply, fg_err_t *err);

int fg_keystore_update(fg_keystore_t *ks, const char *id, const json_t *body,
                       int64_t now_ms, json_t **reply, fg_err_t *err);

/* @body may be NULL; it may hold "grace_seconds". */
int fg_keystore_rotate(fg_keystore_t *ks, const char *id, const json_t *body,
                       int64_t now_ms, json_t **reply, fg_err_t *err);

int fg_keystore_revoke(fg_keystore_t *ks, const char *id, int64_t now_ms,
                       json_t **reply, fg_err_t *err);

/*
 * Adds @amount_micro to the key's balance (capped at
 * FG_KEYJSON_ENERGY_MAX) once per @idempotency_key: a repeat with the same
 * key and amount changes nothing and replies "applied": false; with
 * another key or amount it is FG_E_IDEMPOTENCY_REUSED.
 */
int fg_keystore_topup(fg_keystore_t *ks, const char *id, int64_t amount_micro,
                      const char *idempotency_key, int64_t now_ms,
                      json_t **reply, fg_err_t *err);

/*
 * When the store holds more than @after_records journal records, writes a
 * snapshot of the current state, dropping rotated-out secrets whose grace
 * ended (they leave the table too). 1 when it compacted, 0 when not
 * needed, FG_ERR on failure (the state is unchanged and still durable).
 */
int fg_keystore_compact(fg_keystore_t *ks, uint64_t after_records,
                        int64_t now_ms, fg_err_t *err);

void fg_keystore_stats(const fg_keystore_t *ks, fg_keystore_stats_t *out);

#endif
