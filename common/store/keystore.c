/*
 * keystore.c: admin operations on keys. Every operation follows the same
 * order, which is what makes a crash at any point harmless:
 *
 *   1) build the new state of the records it touches, in locals;
 *   2) commit it to the store (durable on return);
 *   3) apply it to the private copy, then publish it in the shm table;
 *   4) answer.
 *
 * A crash after 2) and before 3) loses nothing: the next syncer loads the
 * store and rewrites the table from it (fg_keystore_load()). Anything
 * refused is refused before 2), so a refusal changes no state.
 *
 * The private copy is an array of entries, one per secret, with two
 * open-addressed maps over it: by hash (every entry) and by key id (the
 * current entry of each key; rotated-out secrets are chained behind it
 * through next_sibling). Top-up memos have their own array and map.
 */

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/base/alloc.h"
#include "common/route/router.h"
#include "common/store/keyjson.h"
#include "common/store/keystore.h"
#include "common/accounts/limiter.h"

typedef struct {
    fg_key_record_t rec;
    int32_t         next_sibling;   /* -1: none */
    /* The balance as the usage journal has it now: the stored one, with
     * every record appended since the stored position (cold start). */
    int64_t         sh_balance, sh_regen_at, sh_carry;
} ks_entry_t;

/* A stored position this far behind the journal's end is written again
 * even unchanged, so a cold start replays at most this much. */
#define KS_USAGE_REPLAY_MAX (16u << 20)

typedef enum { KS_BY_HASH, KS_BY_ID, KS_BY_IDEM } ks_kind_t;

typedef struct {
    uint32_t *slots;                /* entry index + 1; 0: empty */
    uint32_t  mask;                 /* slots - 1 */
    uint32_t  used;
} ks_map_t;

struct fg_keystore_s {
    fg_keytable_t    *table;
    fg_store_t       *store;
    uint8_t           server_secret[FG_KEY_SERVER_SECRET_BYTES];
    int64_t           grace_ms;
    ks_entry_t       *entries;
    uint32_t          count, cap;
    fg_store_topup_t *topups;
    uint32_t          topup_count, topup_cap;
    ks_map_t          by_hash, by_id, by_idem;
    fg_ledger_t      *ledger;       /* NULL: no accounts kept */
    int64_t           default_balance;
    unsigned          ledger_owner;
    fg_keystore_usage_sync_fn usage_sync;  /* NULL: no positions kept */
    void             *usage_arg;
    uint64_t          usage_file, usage_end;   /* the journal at load */
};

static uint64_t
ks_fnv(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t             h = 0xcbf29ce484222325ULL;

    while (n-- > 0) {
        h = (h ^ *s++) * 0x100000001b3ULL;
    }
    return h;
}

static int
ks_equals(const fg_keystore_t *ks, ks_kind_t kind, uint32_t i,
          const void *key)
{
    switch (kind) {
    case KS_BY_HASH:
        return memcmp(ks->entries[i].rec.kr_hash, key, FG_KEY_HASH_BYTES)
               == 0;
    case KS_BY_ID:
        return strcmp(ks->entries[i].rec.kr_id, key) == 0;
    default:
        return strcmp(ks->topups[i].idempotency_key, key) == 0;
    }
}

static uint64_t
ks_hash_key(ks_kind_t kind, const void *key)
{
    return kind == KS_BY_HASH ? ks_fnv(key, FG_KEY_HASH_BYTES)
                              : ks_fnv(key, strlen(key));
}

/* The slot holding @key, or the empty slot where it would go. */
static uint32_t *
ks_map_slot(const fg_keystore_t *ks, const ks_map_t *m, ks_kind_t kind,
            const void *key)
{
    uint32_t i = (uint32_t) ks_hash_key(kind, key) & m->mask;

    while (m->slots[i] != 0 && !ks_equals(ks, kind, m->slots[i] - 1, key)) {
        i = (i + 1) & m->mask;
    }
    return &m->slots[i];
}

static int64_t
ks_map_find(const fg_keystore_t *ks, const ks_map_t *m, ks_kind_t kind,
            const void *key)
{
    uint32_t *slot;

    if (m->slots == NULL) {
        return -1;
    }
    slot = ks_map_slot(ks, m, kind, key);
    return *slot == 0 ? -1 : (int64_t) *slot - 1;
}

static void
ks_map_reset(ks_map_t *m, uint32_t want)
{
    uint32_t size = 16;

    while (size < want * 2) {
        size *= 2;
    }
    free(m->slots);
    m->slots = fg_xcalloc(size, sizeof(uint32_t));
    m->mask = size - 1;
    m->used = 0;
}

static void ks_map_set(fg_keystore_t *ks, ks_map_t *m, ks_kind_t kind,
                       uint32_t index);

static void
ks_map_grow(fg_keystore_t *ks, ks_map_t *m, ks_kind_t kind)
{
    uint32_t *old = m->slots, old_size = m->mask + 1, i;

    m->slots = NULL;
    ks_map_reset(m, old_size);   /* doubles */
    for (i = 0; i < old_size; i++) {
        if (old[i] != 0) {
            ks_map_set(ks, m, kind, old[i] - 1);
        }
    }
    free(old);
}

/* Points the map entry of item @index's key at @index. */
static void
ks_map_set(fg_keystore_t *ks, ks_map_t *m, ks_kind_t kind, uint32_t index)
{
    const void *key;
    uint32_t   *slot;

    if (m->slots == NULL) {
        ks_map_reset(m, 16);
    }
    if ((m->used + 1) * 2 > m->mask + 1) {
        ks_map_grow(ks, m, kind);
    }
    key = kind == KS_BY_HASH ? (const void *) ks->entries[index].rec.kr_hash
          : kind == KS_BY_ID ? (const void *) ks->entries[index].rec.kr_id
          : (const void *) ks->topups[index].idempotency_key;
    slot = ks_map_slot(ks, m, kind, key);
    if (*slot == 0) {
        m->used++;
    }
    *slot = index + 1;
}

fg_keystore_t *
fg_keystore_new(fg_keytable_t *table, fg_store_t *store,
                const uint8_t server_secret[FG_KEY_SERVER_SECRET_BYTES],
                int64_t rotation_grace_ms)
{
    fg_keystore_t *ks = fg_xcalloc(1, sizeof(*ks));

    ks->table = table;
    ks->store = store;
    memcpy(ks->server_secret, server_secret, FG_KEY_SERVER_SECRET_BYTES);
    ks->grace_ms = rotation_grace_ms;
    return ks;
}

void
fg_keystore_set_default_balance(fg_keystore_t *ks, int64_t micro)
{
    ks->default_balance = micro;
}

void
fg_keystore_set_ledger(fg_keystore_t *ks, fg_ledger_t *ledger,
                       unsigned owner)
{
    ks->ledger = ledger;
    ks->ledger_owner = owner;
}

/* @rec's balance as the ledger has it now (charges and regeneration
 * happen there); unchanged without a ledger or an account. */
static void
ks_live_balance(const fg_keystore_t *ks, fg_key_record_t *rec,
                int64_t now_ms)
{
    int64_t live;

    if (ks->ledger == NULL) {
        return;
    }
    live = fg_ledger_balance(ks->ledger, ks->ledger_owner,
                             fg_limiter_subject(rec->kr_id), now_ms);
    if (live >= 0) {
        rec->kr_balance_micro = live;
    }
}

/* Brings the account of the current record @rec in line: @delta is what
 * the change adds to its live balance. */
static int
ks_ledger_put(fg_keystore_t *ks, const fg_key_record_t *rec, int64_t delta,
              int64_t now_ms, fg_err_t *err)
{
    fg_energy_settings_t settings;

    if (ks->ledger == NULL || rec->kr_status == FG_KEY_STATUS_ROTATED) {
        return FG_OK;
    }
    settings.regen_per_hour_micro = rec->kr_regen_per_hour_micro;
    settings.cap_micro = rec->kr_cap_micro;
    return fg_ledger_put(ks->ledger, ks->ledger_owner,
                         fg_limiter_subject(rec->kr_id),
                         rec->kr_balance_micro, delta, &settings, now_ms,
                         err);
}

void
fg_keystore_free(fg_keystore_t *ks)
{
    if (ks == NULL) {
        return;
    }
    sodium_memzero(ks->server_secret, sizeof(ks->server_secret));
    free(ks->entries);
    free(ks->topups);
    free(ks->by_hash.slots);
    free(ks->by_id.slots);
    free(ks->by_idem.slots);
    free(ks);
}

/* Rebuilds the sibling chains: each rotated-out secret behind its key's
 * current entry. O(entries). */
static void
ks_relink(fg_keystore_t *ks)
{
    uint32_t i;

    for (i = 0; i < ks->count; i++) {
        ks->entries[i].next_sibling = -1;
    }
    for (i = 0; i < ks->count; i++) {
        int64_t cur;

        if (ks->entries[i].rec.kr_status != FG_KEY_STATUS_ROTATED) {
            continue;
        }
        cur = ks_map_find(ks, &ks->by_id, KS_BY_ID, ks->entries[i].rec.kr_id);
        if (cur >= 0 && (uint32_t) cur != i) {
            ks->entries[i].next_sibling = ks->entries[cur].next_sibling;
            ks->entries[cur].next_sibling = (int32_t) i;
        }
    }
}

/* Takes one record's new state into the private copy. */
static void
ks_take(fg_keystore_t *ks, const fg_key_record_t *rec)
{
    int64_t  at = ks_map_find(ks, &ks->by_hash, KS_BY_HASH, rec->kr_hash);
    uint32_t i;

    if (at >= 0) {
        i = (uint32_t) at;
    } else {
        if (ks->count == ks->cap) {
            ks->cap = ks->cap ? ks->cap * 2 : 64;
            ks->entries = fg_xrealloc(ks->entries,
                                      ks->cap * sizeof(ks_entry_t));
        }
        i = ks->count++;
        ks->entries[i].next_sibling = -1;
    }
    ks->entries[i].rec = *rec;
    ks->entries[i].sh_balance = rec->kr_balance_micro;
    ks->entries[i].sh_regen_at = rec->kr_regen_at_ms;
    ks->entries[i].sh_carry = rec->kr_regen_carry;
    if (at < 0) {
        ks_map_set(ks, &ks->by_hash, KS_BY_HASH, i);
    }
    if (rec->kr_status != FG_KEY_STATUS_ROTATED) {
        ks_map_set(ks, &ks->by_id, KS_BY_ID, i);
    }
}

static void
ks_take_topup(fg_keystore_t *ks, const fg_store_topup_t *t)
{
    if (ks_map_find(ks, &ks->by_idem, KS_BY_IDEM, t->idempotency_key) >= 0) {
        return;
    }
    if (ks->topup_count == ks->topup_cap) {
        ks->topup_cap = ks->topup_cap ? ks->topup_cap * 2 : 64;
        ks->topups = fg_xrealloc(ks->topups,
                                 ks->topup_cap * sizeof(fg_store_topup_t));
    }
    ks->topups[ks->topup_count] = *t;
    ks_map_set(ks, &ks->by_idem, KS_BY_IDEM, ks->topup_count++);
}

static int
ks_load_cb(const fg_store_change_t *ch, void *arg, fg_err_t *err)
{
    fg_keystore_t *ks = arg;
    size_t         i;

    (void) err;
    for (i = 0; i < ch->key_count; i++) {
        ks_take(ks, &ch->keys[i]);
    }
    if (ch->topup != NULL) {
        ks_take_topup(ks, ch->topup);
    }
    return FG_OK;
}

/* Makes the table hold exactly the private copy. */
static int
ks_publish_all(fg_keystore_t *ks, fg_err_t *err)
{
    fg_key_record_t rec;
    uint32_t        cursor = 0, i, stale_count = 0, stale_cap = 0;
    uint8_t       (*stale)[FG_KEY_HASH_BYTES] = NULL;
    int             spins = 0;

    for (i = 0; i < ks->count; i++) {
        if (fg_keytable_put(ks->table, &ks->entries[i].rec, err) != FG_OK) {
            return FG_ERR;
        }
    }
    for (;;) {
        fg_keytable_result_t r = fg_keytable_next(ks->table, &cursor, &rec);

        if (r == FG_KEYTABLE_NOT_FOUND) {
            break;
        }
        if (r == FG_KEYTABLE_BUSY) {
            /* Only our own writes could spoil a read, and none runs. */
            if (++spins > 1000) {
                free(stale);
                return fg_err_set(err, FG_E_INTERNAL, NULL,
                                  "key table iteration does not settle");
            }
            continue;
        }
        if (ks_map_find(ks, &ks->by_hash, KS_BY_HASH, rec.kr_hash) < 0) {
            if (stale_count == stale_cap) {
                stale_cap = stale_cap ? stale_cap * 2 : 16;
                stale = fg_xrealloc(stale, stale_cap * sizeof(*stale));
            }
            memcpy(stale[stale_count++], rec.kr_hash, FG_KEY_HASH_BYTES);
        }
    }
    for (i = 0; i < stale_count; i++) {
        (void) fg_keytable_delete(ks->table, stale[i]);
    }
    free(stale);
    return FG_OK;
}

int
fg_keystore_load(fg_keystore_t *ks, int64_t now_ms, fg_err_t *err)
{
    uint32_t i;

    (void) now_ms;
    if (fg_store_load(ks->store, ks_load_cb, ks, err) != FG_OK) {
        return FG_ERR;
    }
    ks_relink(ks);
    if (ks_publish_all(ks, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < ks->count; i++) {
        fg_key_record_t *r = &ks->entries[i].rec;

        if (r->kr_usage_file == FG_KEY_USAGE_LEGACY) {
            /* Written before positions: it held what the journal had. */
            r->kr_usage_file = ks->usage_file;
            r->kr_usage_offset = ks->usage_end;
        }
    }
    /* With positions the syncer replays the journal first, then calls
     * fg_keystore_rebuild_ledger() itself. */
    return ks->usage_sync == NULL ? fg_keystore_rebuild_ledger(ks, err)
                                  : FG_OK;
}

void
fg_keystore_set_usage(fg_keystore_t *ks, fg_keystore_usage_sync_fn sync,
                      void *arg, uint64_t file_id, uint64_t end_offset)
{
    ks->usage_sync = sync;
    ks->usage_arg = arg;
    ks->usage_file = file_id;
    ks->usage_end = end_offset;
}

uint64_t
fg_keystore_replay_from(const fg_keystore_t *ks, uint64_t file_id)
{
    uint64_t from = UINT64_MAX;
    uint32_t i;

    for (i = 0; i < ks->count; i++) {
        const fg_key_record_t *r = &ks->entries[i].rec;

        if (r->kr_status == FG_KEY_STATUS_ROTATED) {
            continue;
        }
        if (r->kr_usage_file != file_id) {
            return 0;   /* an older file: all of this one is owed */
        }
        if (r->kr_usage_offset < from) {
            from = r->kr_usage_offset;
        }
    }
    return from;
}

uint64_t
fg_keystore_oldest_usage_file(const fg_keystore_t *ks)
{
    uint64_t oldest = UINT64_MAX;
    uint32_t i;

    for (i = 0; i < ks->count; i++) {
        const fg_key_record_t *r = &ks->entries[i].rec;

        if (r->kr_status != FG_KEY_STATUS_ROTATED
            && r->kr_usage_file < oldest) {
            oldest = r->kr_usage_file;
        }
    }
    return oldest;
}

/* Does the stored balance of @r include the record ending at @end_offset
 * of file @file_id? */
static int
ks_includes(const fg_key_record_t *r, uint64_t file_id, uint64_t end_offset)
{
    return file_id < r->kr_usage_file
           || (file_id == r->kr_usage_file && end_offset <= r->kr_usage_offset);
}

void
fg_keystore_apply_usage(fg_keystore_t *ks, const fg_usage_record_t *rec,
                        uint64_t file_id, uint64_t end_offset)
{
    int64_t              at = ks_map_find(ks, &ks->by_id, KS_BY_ID,
                                          rec->key_id);
    ks_entry_t          *e;
    fg_energy_settings_t settings;
    int64_t              end_ms;

    if (at < 0) {
        return;
    }
    e = &ks->entries[at];
    if (ks_includes(&e->rec, file_id, end_offset)) {
        return;
    }
    settings.regen_per_hour_micro = e->rec.kr_regen_per_hour_micro;
    settings.cap_micro = e->rec.kr_cap_micro;
    end_ms = rec->started_unix_ms + rec->latency_us / 1000;
    e->sh_balance = fg_ledger_regen(e->sh_balance, &e->sh_regen_at,
                                    &e->sh_carry, &settings, end_ms);
    e->sh_balance -= rec->charged_micro;
}

int
fg_keystore_rebuild_ledger(fg_keystore_t *ks, fg_err_t *err)
{
    uint32_t i;

    for (i = 0; i < ks->count; i++) {
        const ks_entry_t    *e = &ks->entries[i];
        fg_energy_settings_t settings;

        if (ks->ledger == NULL || e->rec.kr_status == FG_KEY_STATUS_ROTATED) {
            continue;
        }
        settings.regen_per_hour_micro = e->rec.kr_regen_per_hour_micro;
        settings.cap_micro = e->rec.kr_cap_micro;
        /* A live account (the arena outlived the syncer) is kept. */
        if (fg_ledger_put_state(ks->ledger, ks->ledger_owner,
                                fg_limiter_subject(e->rec.kr_id),
                                e->sh_balance, e->sh_regen_at, e->sh_carry,
                                &settings, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

int64_t
fg_keystore_journal_balance(const fg_keystore_t *ks, const char *id)
{
    int64_t at = ks_map_find((fg_keystore_t *) ks,
                             &((fg_keystore_t *) ks)->by_id, KS_BY_ID, id);

    return at < 0 ? -1 : ks->entries[at].sh_balance;
}

/* The entry of the current record of key @id, or NULL with @err set. */
static ks_entry_t *
ks_current(fg_keystore_t *ks, const char *id, fg_err_t *err)
{
    int64_t at = ks_map_find(ks, &ks->by_id, KS_BY_ID, id);

    if (at < 0) {
        fg_err_set(err, FG_E_KEY_NOT_FOUND, "id", "no key with id \"%.40s\"",
                   id);
        return NULL;
    }
    return &ks->entries[at];
}

static int64_t
ks_previous_valid_until(const fg_keystore_t *ks, const ks_entry_t *e,
                        int64_t now_ms)
{
    int64_t until = 0;
    int32_t s;

    if (e->rec.kr_status != FG_KEY_STATUS_ACTIVE) {
        return 0;
    }
    for (s = e->next_sibling; s >= 0; s = ks->entries[s].next_sibling) {
        if (ks->entries[s].rec.kr_grace_until_ms > now_ms
            && ks->entries[s].rec.kr_grace_until_ms > until) {
            until = ks->entries[s].rec.kr_grace_until_ms;
        }
    }
    return until;
}

static json_t *
ks_view(const fg_keystore_t *ks, const ks_entry_t *e, int64_t now_ms)
{
    fg_key_record_t    rec = e->rec;
    fg_ledger_totals_t t;
    json_t            *view;

    ks_live_balance(ks, &rec, now_ms);
    view = fg_keyjson_view(&rec, ks_previous_valid_until(ks, e, now_ms));
    if (ks->ledger != NULL
        && fg_ledger_totals(ks->ledger, fg_limiter_subject(rec.kr_id), &t)
           == FG_OK) {
        json_object_set_new(view, "totals",
            json_pack("{s:I, s:I, s:f, s:f, s:f}",
                      "requests", (json_int_t) t.requests,
                      "charged_micro", (json_int_t) t.charged_micro,
                      "energy_kwh", t.energy_kwh,
                      "carbon_g_co2", t.carbon_g_co2,
                      "water_liters", t.water_liters));
    }
    return view;
}

/*
 * Collects @e's record (as changed into @cur) and its rotated-out siblings
 * with the same shared settings, ready to commit: limits, energy, models,
 * names and metadata belong to the key, not to one of its secrets.
 */
static size_t
ks_with_siblings(const fg_keystore_t *ks, const ks_entry_t *e,
                 const fg_key_record_t *cur, fg_key_record_t *out,
                 size_t max)
{
    size_t  n = 0;
    int32_t s;

    out[n++] = *cur;
    for (s = e->next_sibling; s >= 0 && n < max;
         s = ks->entries[s].next_sibling) {
        fg_key_record_t r = *cur;

        memcpy(r.kr_hash, ks->entries[s].rec.kr_hash, FG_KEY_HASH_BYTES);
        r.kr_status = ks->entries[s].rec.kr_status;
        r.kr_grace_until_ms = ks->entries[s].rec.kr_grace_until_ms;
        r.kr_created_ms = ks->entries[s].rec.kr_created_ms;
        /* Revoking ends every grace at once. Siblings stay ROTATED: only
         * the current record may be anything else, which is how a replay
         * tells which record is the key's current one. */
        if (cur->kr_status == FG_KEY_STATUS_REVOKED
            && r.kr_grace_until_ms > cur->kr_updated_ms) {
            r.kr_grace_until_ms = cur->kr_updated_ms;
        }
        out[n++] = r;
    }
    return n;
}

/* Steps 2) and 3) of every operation. */
/*
 * Steps 2) and 3) of every operation. @delta is what the operation adds
 * to the key's live balance (a top-up's amount; what an admin's new
 * balance differs from the live one by); the stored balance of the
 * change is already the live one plus @delta.
 */
static int ks_commit_change(fg_keystore_t *ks, const fg_store_change_t *ch,
                            int64_t now_ms, int64_t delta, fg_err_t *err);

/*
 * With positions kept: makes the journal durable, then writes each current
 * record's balance as the journal has it (regenerated to @now_ms, plus
 * @delta) with the journal's position, so that a cold start replays
 * exactly the records after it. @fill 0 (persisting) writes the journal
 * balance as it is.
 */
static int
ks_fill_durable(fg_keystore_t *ks, fg_key_record_t *recs, size_t n,
                int64_t now_ms, int64_t delta, int fill, fg_err_t *err)
{
    uint64_t file_id, offset;
    size_t   i;

    if (ks->usage_sync == NULL) {
        return FG_OK;
    }
    if (ks->usage_sync(ks->usage_arg, &file_id, &offset, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < n; i++) {
        fg_key_record_t     *r = &recs[i];
        int64_t              at;

        if (r->kr_status == FG_KEY_STATUS_ROTATED) {
            continue;
        }
        r->kr_usage_file = file_id;
        r->kr_usage_offset = offset;
        if (!fill) {
            continue;
        }
        at = ks_map_find(ks, &ks->by_id, KS_BY_ID, r->kr_id);
        if (at < 0) {
            /* A new key: what the caller set, from now. */
            r->kr_regen_at_ms = now_ms;
            r->kr_regen_carry = 0;
        } else {
            const ks_entry_t    *e = &ks->entries[at];
            fg_energy_settings_t settings;
            int64_t              b, rat = e->sh_regen_at, carry = e->sh_carry;

            settings.regen_per_hour_micro = e->rec.kr_regen_per_hour_micro;
            settings.cap_micro = e->rec.kr_cap_micro;
            b = fg_ledger_regen(e->sh_balance, &rat, &carry, &settings,
                                now_ms) + delta;
            r->kr_balance_micro = b < 0 ? 0 : b;
            r->kr_regen_at_ms = rat;
            r->kr_regen_carry = carry;
        }
    }
    return FG_OK;
}

static int
ks_commit_ex(fg_keystore_t *ks, const fg_store_change_t *in, int64_t now_ms,
             int64_t delta, fg_err_t *err)
{
    fg_store_change_t ch_copy = *in;
    fg_store_change_t *ch = &ch_copy;
    fg_key_record_t   *recs = NULL;
    int                rc;

    if (ks->usage_sync != NULL && in->key_count > 0) {
        recs = fg_xcalloc(in->key_count, sizeof(*recs));
        memcpy(recs, in->keys, in->key_count * sizeof(*recs));
        if (ks_fill_durable(ks, recs, in->key_count, now_ms, delta,
                            1, err) != FG_OK) {
            free(recs);
            return fg_err_set(err, FG_E_STORE_UNAVAILABLE, NULL,
                              "the usage journal could not be made "
                              "durable");
        }
        ch->keys = recs;
    }
    rc = ks_commit_change(ks, ch, now_ms, delta, err);
    free(recs);
    return rc;
}

static int
ks_commit_change(fg_keystore_t *ks, const fg_store_change_t *ch,
                 int64_t now_ms, int64_t delta, fg_err_t *err)
{
    size_t i;

    if (fg_store_commit(ks->store, ch, now_ms, err) != FG_OK) {
        fg_err_t cause = *err;

        return fg_err_set(err, FG_E_STORE_UNAVAILABLE, NULL,
                          "the change could not be made durable: %s",
                          cause.msg);
    }
    for (i = 0; i < ch->key_count; i++) {
        ks_take(ks, &ch->keys[i]);
    }
    if (ch->topup != NULL) {
        ks_take_topup(ks, ch->topup);
    }
    ks_relink(ks);
    for (i = 0; i < ch->key_count; i++) {
        /* Cannot fail: records were validated and room checked before. */
        if (fg_keytable_put(ks->table, &ch->keys[i], err) != FG_OK) {
            return FG_ERR;
        }
        /* The account first exists, or learns the difference; a key's
         * account is put before any worker can use the key's new state. */
        if (ks_ledger_put(ks, &ch->keys[i], delta, now_ms, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

static int
ks_commit(fg_keystore_t *ks, const fg_store_change_t *ch, int64_t now_ms,
          fg_err_t *err)
{
    return ks_commit_ex(ks, ch, now_ms, 0, err);
}

static int
ks_room_for(const fg_keystore_t *ks, uint32_t more, fg_err_t *err)
{
    fg_keytable_stats_t st;

    fg_keytable_stats(ks->table, &st);
    if (st.count + more > st.max_keys) {
        return fg_err_set(err, FG_E_KEY_TABLE_FULL, NULL,
                          "the key table is full (%u of keys.max_keys %u "
                          "secrets); raise keys.max_keys and restart",
                          st.count, st.max_keys);
    }
    return FG_OK;
}

/* A new secret for @rec: its hash into the record, the text into
 * @secret (wiped by the caller). @rec->kr_id is set when @new_id. */
static int
ks_new_secret(fg_keystore_t *ks, fg_key_record_t *rec, int new_id,
              char secret[FG_KEY_SECRET_SIZE], fg_err_t *err)
{
    char id[FG_KEY_ID_SIZE];
    int  tries;

    for (tries = 0; tries < 8; tries++) {
        if (fg_key_generate(secret, FG_KEY_SECRET_SIZE, id, sizeof(id), err)
            != FG_OK) {
            return FG_ERR;
        }
        if (new_id && ks_map_find(ks, &ks->by_id, KS_BY_ID, id) >= 0) {
            continue;   /* 2^-64 per key; cheap to rule out anyway */
        }
        fg_key_hash(ks->server_secret, secret, strlen(secret), rec->kr_hash);
        if (ks_map_find(ks, &ks->by_hash, KS_BY_HASH, rec->kr_hash) >= 0) {
            continue;
        }
        if (new_id) {
            memcpy(rec->kr_id, id, sizeof(id));
        }
        return FG_OK;
    }
    return fg_err_set(err, FG_E_INTERNAL, NULL,
                      "could not draw a unique key; is the RNG broken?");
}

static json_t *
ks_reply_with_secret(const fg_keystore_t *ks, const ks_entry_t *e,
                     char *secret, int64_t now_ms)
{
    json_t *reply = json_pack("{s:o, s:s}", "key", ks_view(ks, e, now_ms),
                              "secret", secret);

    sodium_memzero(secret, FG_KEY_SECRET_SIZE);
    return reply;
}

int
fg_keystore_create(fg_keystore_t *ks, const json_t *body, int64_t now_ms,
                   json_t **reply, fg_err_t *err)
{
    fg_key_record_t   rec;
    fg_store_change_t ch;
    char              secret[FG_KEY_SECRET_SIZE];

    memset(&rec, 0, sizeof(rec));
    rec.kr_status = FG_KEY_STATUS_ACTIVE;
    rec.kr_created_ms = now_ms;
    rec.kr_balance_micro = ks->default_balance;
    rec.kr_preset = FG_PRESET_UNSET;
    /* A placeholder id so validation passes; the real one comes below. */
    memcpy(rec.kr_id, "key_0000000000000000", FG_KEY_ID_SIZE);
    if (fg_keyjson_apply(&rec, body, 1, now_ms, err) != FG_OK
        || ks_room_for(ks, 1, err) != FG_OK
        || ks_new_secret(ks, &rec, 1, secret, err) != FG_OK) {
        return FG_ERR;
    }
    ch.keys = &rec;
    ch.key_count = 1;
    ch.topup = NULL;
    if (ks_commit(ks, &ch, now_ms, err) != FG_OK) {
        sodium_memzero(secret, sizeof(secret));
        return FG_ERR;
    }
    *reply = ks_reply_with_secret(ks, ks_current(ks, rec.kr_id, err), secret,
                                  now_ms);
    return FG_OK;
}

static int
ks_by_id_cmp(const void *a, const void *b, void *arg)
{
    const fg_keystore_t *ks = arg;

    return strcmp(ks->entries[*(const uint32_t *) a].rec.kr_id,
                  ks->entries[*(const uint32_t *) b].rec.kr_id);
}

int
fg_keystore_list(fg_keystore_t *ks, const char *owner, const char *status,
                 const char *after, int limit, int64_t now_ms, json_t **reply,
                 fg_err_t *err)
{
    uint32_t *pick, n = 0, i, start = 0, end;
    uint32_t  want_status = 0;
    json_t   *data;

    if (limit < 1 || limit > 1000) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "limit",
                          "limit must be between 1 and 1000");
    }
    if (status != NULL) {
        if (strcmp(status, "active") == 0) {
            want_status = FG_KEY_STATUS_ACTIVE;
        } else if (strcmp(status, "revoked") == 0) {
            want_status = FG_KEY_STATUS_REVOKED;
        } else {
            return fg_err_set(err, FG_E_INVALID_VALUE, "status",
                              "status must be \"active\" or \"revoked\"");
        }
    }
    pick = fg_xmalloc((ks->count + 1) * sizeof(uint32_t));
    for (i = 0; i < ks->count; i++) {
        const fg_key_record_t *r = &ks->entries[i].rec;

        if (r->kr_status == FG_KEY_STATUS_ROTATED
            || ks_map_find(ks, &ks->by_id, KS_BY_ID, r->kr_id) != (int64_t) i
            || (want_status != 0 && r->kr_status != want_status)
            || (owner != NULL && strcmp(r->kr_owner, owner) != 0)
            || (after != NULL && strcmp(r->kr_id, after) <= 0)) {
            continue;
        }
        pick[n++] = i;
    }
    qsort_r(pick, n, sizeof(uint32_t), ks_by_id_cmp, ks);
    end = n - start > (uint32_t) limit ? start + (uint32_t) limit : n;
    data = json_array();
    for (i = start; i < end; i++) {
        json_array_append_new(data, ks_view(ks, &ks->entries[pick[i]],
                                            now_ms));
    }
    *reply = json_pack("{s:s, s:o, s:b, s:o}", "object", "list",
                       "data", data, "has_more", end < n,
                       "next_after", end < n
                       ? json_string(ks->entries[pick[end - 1]].rec.kr_id)
                       : json_null());
    free(pick);
    return FG_OK;
}

int
fg_keystore_show(fg_keystore_t *ks, const char *id, int64_t now_ms,
                 json_t **reply, fg_err_t *err)
{
    ks_entry_t *e = ks_current(ks, id, err);

    if (e == NULL) {
        return FG_ERR;
    }
    *reply = ks_view(ks, e, now_ms);
    return FG_OK;
}

static ks_entry_t *
ks_changeable(fg_keystore_t *ks, const char *id, fg_err_t *err)
{
    ks_entry_t *e = ks_current(ks, id, err);

    if (e != NULL && e->rec.kr_status == FG_KEY_STATUS_REVOKED) {
        fg_err_set(err, FG_E_KEY_NOT_CHANGEABLE, "id",
                   "key \"%s\" is revoked; create a new key instead",
                   e->rec.kr_id);
        return NULL;
    }
    return e;
}

int
fg_keystore_update(fg_keystore_t *ks, const char *id, const json_t *body,
                   int64_t now_ms, json_t **reply, fg_err_t *err)
{
    fg_key_record_t   recs[FG_STORE_CHANGE_KEYS_MAX], cur;
    int64_t           live;
    fg_store_change_t ch;
    ks_entry_t       *e = ks_changeable(ks, id, err);

    if (e == NULL) {
        return FG_ERR;
    }
    cur = e->rec;
    ks_live_balance(ks, &cur, now_ms);
    live = cur.kr_balance_micro;
    if (fg_keyjson_apply(&cur, body, 0, now_ms, err) != FG_OK) {
        return FG_ERR;
    }
    ch.keys = recs;
    ch.key_count = ks_with_siblings(ks, e, &cur, recs,
                                    FG_STORE_CHANGE_KEYS_MAX);
    ch.topup = NULL;
    /* A new energy.balance_micro sets the live balance. */
    if (ks_commit_ex(ks, &ch, now_ms, cur.kr_balance_micro - live, err)
        != FG_OK) {
        return FG_ERR;
    }
    *reply = ks_view(ks, ks_current(ks, id, err), now_ms);
    return FG_OK;
}

int
fg_keystore_rotate(fg_keystore_t *ks, const char *id, const json_t *body,
                   int64_t now_ms, json_t **reply, fg_err_t *err)
{
    fg_key_record_t   recs[FG_STORE_CHANGE_KEYS_MAX], fresh;
    fg_store_change_t ch;
    ks_entry_t       *e = ks_changeable(ks, id, err);
    int64_t           grace_ms = ks->grace_ms;
    char              secret[FG_KEY_SECRET_SIZE], key_id[FG_KEY_ID_SIZE];
    size_t            n;

    if (e == NULL) {
        return FG_ERR;
    }
    if (body != NULL && json_is_object(body)) {
        const char *k;
        json_t     *v;

        json_object_foreach((json_t *) body, k, v) {
            if (strcmp(k, "grace_seconds") != 0) {
                return fg_err_set(err, FG_E_FORBIDDEN_FIELD, k,
                                  "unknown field \"%.64s\"", k);
            }
            if (!json_is_integer(v) || json_integer_value(v) < 0
                || json_integer_value(v) > 30 * 86400) {
                return fg_err_set(err, FG_E_OUT_OF_RANGE, "grace_seconds",
                                  "grace_seconds must be an integer from 0 "
                                  "to 2592000 (30 days)");
            }
            grace_ms = json_integer_value(v) * 1000;
        }
    } else if (body != NULL && !json_is_null(body)) {
        return fg_err_set(err, FG_E_INVALID_TYPE, NULL,
                          "the body must be a JSON object");
    }
    if (ks_room_for(ks, 1, err) != FG_OK) {
        return FG_ERR;
    }
    /* The new secret takes over the key; the old becomes a sibling. */
    fresh = e->rec;
    fresh.kr_updated_ms = now_ms;
    if (ks_new_secret(ks, &fresh, 0, secret, err) != FG_OK) {
        return FG_ERR;
    }
    n = ks_with_siblings(ks, e, &fresh, recs + 1,
                         FG_STORE_CHANGE_KEYS_MAX - 1);
    if (n >= FG_STORE_CHANGE_KEYS_MAX - 1) {
        sodium_memzero(secret, sizeof(secret));
        return fg_err_set(err, FG_E_KEY_NOT_CHANGEABLE, "id",
                          "key \"%s\" has too many secrets in their grace "
                          "period; rotate with grace_seconds 0 later",
                          e->rec.kr_id);
    }
    /* recs[1] is the fresh record; recs[0] the old current, rotated. */
    recs[0] = e->rec;
    recs[0].kr_status = FG_KEY_STATUS_ROTATED;
    recs[0].kr_updated_ms = now_ms;
    recs[0].kr_grace_until_ms = now_ms + grace_ms;
    ch.keys = recs;
    ch.key_count = n + 1;
    ch.topup = NULL;
    memcpy(key_id, e->rec.kr_id, sizeof(key_id));
    if (ks_commit(ks, &ch, now_ms, err) != FG_OK) {
        sodium_memzero(secret, sizeof(secret));
        return FG_ERR;
    }
    *reply = ks_reply_with_secret(ks, ks_current(ks, key_id, err), secret,
                                  now_ms);
    return FG_OK;
}

int
fg_keystore_revoke(fg_keystore_t *ks, const char *id, int64_t now_ms,
                   json_t **reply, fg_err_t *err)
{
    fg_key_record_t   recs[FG_STORE_CHANGE_KEYS_MAX], cur;
    fg_store_change_t ch;
    ks_entry_t       *e = ks_current(ks, id, err);

    if (e == NULL) {
        return FG_ERR;
    }
    if (e->rec.kr_status == FG_KEY_STATUS_REVOKED) {
        *reply = ks_view(ks, e, now_ms);   /* revoking twice is a no-op */
        return FG_OK;
    }
    cur = e->rec;
    ks_live_balance(ks, &cur, now_ms);
    cur.kr_status = FG_KEY_STATUS_REVOKED;
    cur.kr_updated_ms = now_ms;
    ch.keys = recs;
    ch.key_count = ks_with_siblings(ks, e, &cur, recs,
                                    FG_STORE_CHANGE_KEYS_MAX);
    ch.topup = NULL;
    if (ks_commit(ks, &ch, now_ms, err) != FG_OK) {
        return FG_ERR;
    }
    *reply = ks_view(ks, ks_current(ks, id, err), now_ms);
    return FG_OK;
}

int
fg_keystore_topup(fg_keystore_t *ks, const char *id, int64_t amount_micro,
                  const char *idempotency_key, int64_t now_ms,
                  json_t **reply, fg_err_t *err)
{
    fg_key_record_t   recs[FG_STORE_CHANGE_KEYS_MAX], cur;
    fg_store_change_t ch;
    fg_store_topup_t  memo;
    ks_entry_t       *e;
    int64_t           seen;
    size_t            i, len = strlen(idempotency_key);

    if (amount_micro <= 0 || amount_micro > FG_KEYJSON_ENERGY_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "amount_micro",
                          "amount_micro must be from 1 to %lld",
                          (long long) FG_KEYJSON_ENERGY_MAX);
    }
    if (len == 0 || len > FG_STORE_IDEMPOTENCY_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "idempotency_key",
                          "idempotency_key must be 1 to %d characters",
                          FG_STORE_IDEMPOTENCY_MAX);
    }
    for (i = 0; i < len; i++) {
        if (idempotency_key[i] < 0x21 || idempotency_key[i] > 0x7e) {
            return fg_err_set(err, FG_E_INVALID_VALUE, "idempotency_key",
                              "idempotency_key must be printable ASCII "
                              "without spaces");
        }
    }
    e = ks_current(ks, id, err);
    if (e == NULL) {
        return FG_ERR;
    }
    seen = ks_map_find(ks, &ks->by_idem, KS_BY_IDEM, idempotency_key);
    if (seen >= 0) {
        const fg_store_topup_t *t = &ks->topups[seen];

        if (strcmp(t->key_id, e->rec.kr_id) != 0
            || t->amount_micro != amount_micro) {
            return fg_err_set(err, FG_E_IDEMPOTENCY_REUSED,
                              "idempotency_key",
                              "idempotency_key \"%s\" was used for another "
                              "top-up (%s, %lld micro-units)",
                              idempotency_key, t->key_id,
                              (long long) t->amount_micro);
        }
        *reply = json_pack("{s:o, s:b}", "key", ks_view(ks, e, now_ms),
                           "applied", 0);
        return FG_OK;
    }
    if (e->rec.kr_status == FG_KEY_STATUS_REVOKED) {
        return fg_err_set(err, FG_E_KEY_NOT_CHANGEABLE, "id",
                          "key \"%s\" is revoked", e->rec.kr_id);
    }
    cur = e->rec;
    ks_live_balance(ks, &cur, now_ms);
    if (cur.kr_balance_micro > FG_KEYJSON_ENERGY_MAX - amount_micro) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "amount_micro",
                          "the balance would pass %lld micro-units",
                          (long long) FG_KEYJSON_ENERGY_MAX);
    }
    cur.kr_balance_micro += amount_micro;
    cur.kr_updated_ms = now_ms;
    memset(&memo, 0, sizeof(memo));
    memcpy(memo.idempotency_key, idempotency_key, len + 1);
    memcpy(memo.key_id, e->rec.kr_id, sizeof(memo.key_id));
    memo.amount_micro = amount_micro;
    ch.keys = recs;
    ch.key_count = ks_with_siblings(ks, e, &cur, recs,
                                    FG_STORE_CHANGE_KEYS_MAX);
    ch.topup = &memo;
    if (ks_commit_ex(ks, &ch, now_ms, amount_micro, err) != FG_OK) {
        return FG_ERR;
    }
    *reply = json_pack("{s:o, s:b}", "key",
                       ks_view(ks, ks_current(ks, id, err), now_ms),
                       "applied", 1);
    return FG_OK;
}

int
fg_keystore_compact(fg_keystore_t *ks, uint64_t after_records,
                    int64_t now_ms, fg_err_t *err)
{
    fg_store_info_t    info;
    fg_store_change_t *all;
    ks_entry_t        *kept;
    uint32_t           i, n_kept = 0, n_all = 0;
    uint8_t          (*gone)[FG_KEY_HASH_BYTES];
    uint32_t           n_gone = 0;

    fg_store_info(ks->store, &info);
    if (info.journal_records <= after_records) {
        return 0;
    }
    kept = fg_xmalloc((ks->count + 1) * sizeof(ks_entry_t));
    gone = fg_xmalloc((ks->count + 1) * sizeof(*gone));
    for (i = 0; i < ks->count; i++) {
        const fg_key_record_t *r = &ks->entries[i].rec;

        if (r->kr_status == FG_KEY_STATUS_ROTATED
            && r->kr_grace_until_ms <= now_ms) {
            memcpy(gone[n_gone++], r->kr_hash, FG_KEY_HASH_BYTES);
        } else {
            kept[n_kept++] = ks->entries[i];
        }
    }
    all = fg_xmalloc((n_kept + ks->topup_count + 1) * sizeof(*all));
    for (i = 0; i < n_kept; i++) {
        all[n_all].keys = &kept[i].rec;
        all[n_all].key_count = 1;
        all[n_all++].topup = NULL;
    }
    for (i = 0; i < ks->topup_count; i++) {
        all[n_all].keys = NULL;
        all[n_all].key_count = 0;
        all[n_all++].topup = &ks->topups[i];
    }
    if (fg_store_compact(ks->store, all, n_all, now_ms, err) != FG_OK) {
        free(all);
        free(kept);
        free(gone);
        return FG_ERR;
    }
    free(all);
    /* The snapshot no longer has them: take them out everywhere. */
    free(ks->entries);
    ks->entries = kept;
    ks->count = n_kept;
    ks->cap = n_kept + 1;
    ks_map_reset(&ks->by_hash, ks->count);
    ks_map_reset(&ks->by_id, ks->count);
    for (i = 0; i < ks->count; i++) {
        ks_map_set(ks, &ks->by_hash, KS_BY_HASH, i);
        if (ks->entries[i].rec.kr_status != FG_KEY_STATUS_ROTATED) {
            ks_map_set(ks, &ks->by_id, KS_BY_ID, i);
        }
    }
    ks_relink(ks);
    for (i = 0; i < n_gone; i++) {
        (void) fg_keytable_delete(ks->table, gone[i]);
    }
    free(gone);
    return 1;
}

void
fg_keystore_stats(const fg_keystore_t *ks, fg_keystore_stats_t *out)
{
    fg_keytable_stats_t st;

    fg_keytable_stats(ks->table, &st);
    out->keys = ks->by_id.used;
    out->secrets = st.count;
    out->capacity = st.max_keys;
    out->topups = ks->topup_count;
}

static int ks_persist(fg_keystore_t *ks, int64_t now_ms, int all,
                      fg_err_t *err);

int
fg_keystore_persist_balances(fg_keystore_t *ks, int64_t now_ms,
                             fg_err_t *err)
{
    return ks_persist(ks, now_ms, 0, err);
}

int
fg_keystore_persist_all_balances(fg_keystore_t *ks, int64_t now_ms,
                                 fg_err_t *err)
{
    return ks_persist(ks, now_ms, 1, err);
}

/* @all: every key whose stored position is not the journal's end now. */
static int
ks_persist(fg_keystore_t *ks, int64_t now_ms, int all, fg_err_t *err)
{
    fg_key_record_t   batch[FG_STORE_CHANGE_KEYS_MAX];
    fg_store_change_t ch;
    uint64_t          file_id = 0, offset = 0;
    uint32_t          i;
    size_t            n = 0;
    int               written = 0;

    if (ks->ledger == NULL) {
        return 0;
    }
    /* With positions: the journal's balances, once the journal that
     * they include is durable; without: the live ones. */
    if (ks->usage_sync != NULL
        && ks->usage_sync(ks->usage_arg, &file_id, &offset, err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i <= ks->count; i++) {
        if (i < ks->count) {
            const ks_entry_t      *e = &ks->entries[i];
            const fg_key_record_t *r = &e->rec;
            int64_t                live;

            if (r->kr_status == FG_KEY_STATUS_ROTATED) {
                continue;
            }
            if (ks->usage_sync != NULL) {
                if (e->sh_balance == r->kr_balance_micro
                    && e->sh_regen_at == r->kr_regen_at_ms
                    && e->sh_carry == r->kr_regen_carry
                    && r->kr_usage_file == file_id
                    && (all ? r->kr_usage_offset == offset
                            : offset - r->kr_usage_offset
                              < KS_USAGE_REPLAY_MAX)) {
                    continue;
                }
                batch[n] = *r;
                batch[n].kr_balance_micro = e->sh_balance;
                batch[n].kr_regen_at_ms = e->sh_regen_at;
                batch[n].kr_regen_carry = e->sh_carry;
                batch[n].kr_usage_file = file_id;
                batch[n].kr_usage_offset = offset;
                batch[n].kr_updated_ms = now_ms;
                n++;
            } else {
                live = fg_ledger_balance(ks->ledger, ks->ledger_owner,
                                         fg_limiter_subject(r->kr_id),
                                         now_ms);
                if (live < 0 || live == r->kr_balance_micro) {
                    continue;
                }
                batch[n] = *r;
                batch[n].kr_balance_micro = live;
                batch[n].kr_regen_at_ms = now_ms;
                batch[n].kr_updated_ms = now_ms;
                n++;
            }
        }
        if (n == FG_STORE_CHANGE_KEYS_MAX || (i == ks->count && n > 0)) {
            ch.keys = batch;
            ch.key_count = n;
            ch.topup = NULL;
            if (ks_commit_change(ks, &ch, now_ms, 0, err) != FG_OK) {
                return FG_ERR;
            }
            written += (int) n;
            n = 0;
        }
    }
    return written;
}
