/*
 * store_file.c: the embedded store, a snapshot and a journal in a folder
 * (common/store/journal.h has the framing and the crash arguments). Each change
 * is one journal record whose payload is JSON:
 *
 *   {"keys": [<key record, store shape>…], "topup": {"idempotency_key": "…",
 *    "key_id": "key_…", "amount_micro": N}}      (either member optional)
 *
 * The snapshot holds the same payloads, one per record and one per
 * top-up memo. A flock() on keys.lock keeps a second process (an orphan
 * syncer of a killed master, say) from writing the same journal.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/base/alloc.h"
#include "common/store/journal.h"
#include "common/store/keyjson.h"
#include "common/store/store.h"

#define STORE_FILE_CHANGE 1u   /* the journal record type of a change */

typedef struct {
    fg_store_t      base;
    int             lock_fd;
    fg_journal_t    journal;
    int             is_loaded;
    fg_store_info_t info;
    char            journal_path[FG_JOURNAL_PATH_MAX];
    char            snapshot_path[FG_JOURNAL_PATH_MAX];
} store_file_t;

typedef struct {
    fg_store_visit_cb cb;
    void             *arg;
    uint64_t          covered_seq;
    uint64_t          changes;
} store_file_load_t;

static json_t *
store_file_encode(const fg_store_change_t *ch)
{
    json_t *o = json_object();

    if (ch->key_count > 0) {
        json_t *keys = json_array();
        size_t  i;

        for (i = 0; i < ch->key_count; i++) {
            json_array_append_new(keys, fg_keyjson_store(&ch->keys[i]));
        }
        json_object_set_new(o, "keys", keys);
    }
    if (ch->topup != NULL) {
        json_object_set_new(o, "topup",
            json_pack("{s:s, s:s, s:I}",
                      "idempotency_key", ch->topup->idempotency_key,
                      "key_id", ch->topup->key_id,
                      "amount_micro", (json_int_t) ch->topup->amount_micro));
    }
    return o;
}

/* Decodes one payload and hands it to the caller's callback. */
static int
store_file_visit(const fg_journal_entry_t *e, store_file_load_t *ld,
                 fg_err_t *err)
{
    fg_key_record_t   recs[FG_STORE_CHANGE_KEYS_MAX];
    fg_store_topup_t  topup;
    fg_store_change_t ch = { NULL, 0, NULL };
    json_error_t      jerr;
    json_t           *o, *k, *t;
    int               rc = FG_ERR;

    if (e->type != STORE_FILE_CHANGE) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "store record %llu has unknown type %u",
                          (unsigned long long) e->seq, e->type);
    }
    o = json_loadb(e->payload, e->len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "store record %llu is not a JSON object",
                          (unsigned long long) e->seq);
    }
    k = json_object_get(o, "keys");
    t = json_object_get(o, "topup");
    if (k != NULL) {
        size_t  i;
        json_t *one;

        if (!json_is_array(k) || json_array_size(k) > FG_STORE_CHANGE_KEYS_MAX) {
            fg_err_set(err, FG_E_INTERNAL, NULL,
                       "store record %llu has a bad key list",
                       (unsigned long long) e->seq);
            goto done;
        }
        json_array_foreach(k, i, one) {
            if (fg_keyjson_from_store(one, &recs[i], err) != FG_OK) {
                goto done;
            }
        }
        ch.keys = recs;
        ch.key_count = json_array_size(k);
    }
    if (t != NULL) {
        const char *idem, *key_id;
        json_int_t  amount;

        memset(&topup, 0, sizeof(topup));
        if (json_unpack_ex(t, &jerr, JSON_STRICT, "{s:s, s:s, s:I}",
                           "idempotency_key", &idem, "key_id", &key_id,
                           "amount_micro", &amount) != 0
            || strlen(idem) > FG_STORE_IDEMPOTENCY_MAX
            || strlen(key_id) >= sizeof(topup.key_id)) {
            fg_err_set(err, FG_E_INTERNAL, NULL,
                       "store record %llu has a bad top-up memo",
                       (unsigned long long) e->seq);
            goto done;
        }
        memcpy(topup.idempotency_key, idem, strlen(idem) + 1);
        memcpy(topup.key_id, key_id, strlen(key_id) + 1);
        topup.amount_micro = amount;
        ch.topup = &topup;
    }
    rc = ld->cb(&ch, ld->arg, err);
    ld->changes++;

done:
    json_decref(o);
    return rc;
}

static int
store_file_snapshot_cb(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    return store_file_visit(e, arg, err);
}

static int
store_file_journal_cb(const fg_journal_entry_t *e, void *arg, fg_err_t *err)
{
    store_file_load_t *ld = arg;

    if (e->seq <= ld->covered_seq) {
        return FG_OK;   /* the snapshot has it already */
    }
    return store_file_visit(e, ld, err);
}

static int
store_file_load(fg_store_t *base, fg_store_visit_cb cb, void *arg,
                fg_err_t *err)
{
    store_file_t      *s = (store_file_t *) base;
    store_file_load_t  ld = { cb, arg, 0, 0 };
    fg_replay_stats_t  st;

    if (s->is_loaded) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "store loaded twice");
    }
    if (fg_journal_snapshot_read(s->snapshot_path, store_file_snapshot_cb,
                                 &ld, &ld.covered_seq, err) != FG_OK) {
        return FG_ERR;
    }
    if (fg_journal_replay(s->journal_path, store_file_journal_cb, &ld, &st,
                          err) != FG_OK) {
        return FG_ERR;
    }
    if (fg_journal_open(s->journal_path, &s->journal, err) != FG_OK) {
        return FG_ERR;
    }
    /* A journal lost beside its snapshot would restart at sequence 1, and
     * its records would be skipped as covered at the next load: continue
     * the sequence after the snapshot instead. */
    if (s->journal.next_seq - 1 < ld.covered_seq
        && fg_journal_rotate(&s->journal, ld.covered_seq, err) != FG_OK) {
        return FG_ERR;
    }
    s->is_loaded = 1;
    s->info.changes_loaded = ld.changes;
    s->info.journal_records = st.records;
    s->info.last_seq = s->journal.next_seq - 1;
    s->info.had_torn_tail = st.has_torn_tail;
    s->info.torn_offset = st.dropped_offset;
    s->info.torn_bytes = st.dropped_bytes;
    return FG_OK;
}

static int
store_file_commit(fg_store_t *base, const fg_store_change_t *ch,
                  int64_t now_ms, fg_err_t *err)
{
    store_file_t *s = (store_file_t *) base;
    json_t       *o;
    char         *text;
    int           rc;

    if (!s->is_loaded) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "store committed to before loading");
    }
    o = store_file_encode(ch);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
    }
    rc = fg_journal_append(&s->journal, STORE_FILE_CHANGE, text,
                           strlen(text), now_ms, err);
    free(text);
    if (rc != FG_OK || fg_journal_sync(&s->journal, err) != FG_OK) {
        return FG_ERR;
    }
    s->info.journal_records++;
    s->info.last_seq = s->journal.next_seq - 1;
    return FG_OK;
}

static int
store_file_compact(fg_store_t *base, const fg_store_change_t *all, size_t n,
                   int64_t now_ms, fg_err_t *err)
{
    store_file_t         *s = (store_file_t *) base;
    fg_journal_snapshot_t snap;
    uint64_t              covered = s->journal.next_seq - 1;
    size_t                i;

    if (fg_journal_snapshot_begin(&snap, s->snapshot_path, covered, now_ms,
                                  err) != FG_OK) {
        return FG_ERR;
    }
    for (i = 0; i < n; i++) {
        json_t *o = store_file_encode(&all[i]);
        char   *text = json_dumps(o, JSON_COMPACT);
        int     rc;

        json_decref(o);
        if (text == NULL) {
            fg_journal_snapshot_abort(&snap);
            return fg_err_set(err, FG_E_INTERNAL, NULL, "out of memory");
        }
        rc = fg_journal_snapshot_add(&snap, STORE_FILE_CHANGE, text,
                                     strlen(text), err);
        free(text);
        if (rc != FG_OK) {
            return FG_ERR;   /* the snapshot is aborted already */
        }
    }
    if (fg_journal_snapshot_commit(&snap, err) != FG_OK) {
        return FG_ERR;
    }
    /* The snapshot covers the journal now; a crash before the rotation
     * only means the journal's records are skipped as covered. */
    if (fg_journal_rotate(&s->journal, covered, err) != FG_OK) {
        return FG_ERR;
    }
    s->info.journal_records = 0;
    return FG_OK;
}

static void
store_file_info(const fg_store_t *base, fg_store_info_t *out)
{
    const store_file_t *s = (const store_file_t *) base;

    *out = s->info;
}

static void
store_file_close(fg_store_t *base)
{
    store_file_t *s = (store_file_t *) base;

    fg_journal_close(&s->journal);
    if (s->lock_fd >= 0) {
        close(s->lock_fd);   /* releases the flock */
    }
    free(s);
}

static const fg_store_ops_t store_file_ops = {
    store_file_load, store_file_commit, store_file_compact, store_file_info,
    store_file_close
};

fg_store_t *
fg_store_file_open(const char *dir, int64_t lock_wait_ms, fg_err_t *err)
{
    store_file_t   *s;
    char            lock_path[FG_JOURNAL_PATH_MAX];
    struct timespec nap = { 0, 50 * 1000000L };
    int64_t         waited = 0;

    if (strlen(dir) + 32 >= FG_JOURNAL_PATH_MAX) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "data folder path too long");
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "mkdir(\"%s\"): %s", dir,
                   strerror(errno));
        return NULL;
    }
    s = fg_xcalloc(1, sizeof(*s));
    s->base.ops = &store_file_ops;
    s->journal.fd = -1;
    s->info.kind = "file";
    snprintf(s->journal_path, sizeof(s->journal_path), "%s/keys.journal",
             dir);
    snprintf(s->snapshot_path, sizeof(s->snapshot_path), "%s/keys.snapshot",
             dir);
    snprintf(lock_path, sizeof(lock_path), "%s/keys.lock", dir);
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\"): %s", lock_path,
                   strerror(errno));
        free(s);
        return NULL;
    }
    while (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || waited >= lock_wait_ms) {
            fg_err_set(err, FG_E_INTERNAL, NULL,
                       "\"%s\" is locked by another process (another "
                       "fluxgate on the same data_dir?)", lock_path);
            close(s->lock_fd);
            free(s);
            return NULL;
        }
        nanosleep(&nap, NULL);
        waited += 50;
    }
    return &s->base;
}
