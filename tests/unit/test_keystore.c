/*
 * test_keystore.c: admin operations on keys over a real file store (in a
 * temporary folder) and a key table in malloc'd memory: what each
 * operation publishes, that refusals change nothing, and that a reload
 * from disk rebuilds exactly the same state.
 */

#include "common/store/keystore.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/store/keyjson.h"
#include "common/accounts/limiter.h"
#include "common/route/router.h"
#include "tests/unit/fg_test.h"

#define NOW 1800000000000LL   /* a fixed wall clock, ms */

static const uint8_t server[FG_KEY_SERVER_SECRET_BYTES] = { 7, 7, 7 };

/* One store + table + keystore, in a fresh folder. */
typedef struct {
    char           dir[64];
    void          *mem;
    fg_keytable_t *table;
    fg_store_t    *store;
    fg_keystore_t *ks;
} fixture_t;

static void
fixture_open(fixture_t *f, uint32_t max_keys, int fresh_dir)
{
    fg_err_t err;
    size_t   bytes = fg_keytable_bytes(max_keys);

    if (fresh_dir) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/fg-test-ks-XXXXXX");
        if (mkdtemp(f->dir) == NULL) {
            FG_TEST_FAIL("mkdtemp failed");
        }
    }
    f->mem = aligned_alloc(64, bytes);
    memset(f->mem, 0, bytes);
    f->table = fg_keytable_init(f->mem, bytes, max_keys, &err);
    f->store = fg_store_file_open(f->dir, 0, &err);
    expect_true(f->store != NULL);
    f->ks = fg_keystore_new(f->table, f->store, server, 60000);
    expect_int_eq(fg_keystore_load(f->ks, NOW, &err), FG_OK);
}

static void
fixture_close(fixture_t *f)
{
    fg_keystore_free(f->ks);
    fg_store_close(f->store);
    free(f->mem);
}

static void
fixture_remove(fixture_t *f)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        FG_TEST_FAIL("cannot remove %s", f->dir);
    }
}

static json_t *
body(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    if (j == NULL) {
        FG_TEST_FAIL("bad JSON in the test: %s", text);
    }
    return j;
}

/* Creates a key from @fields; copies its id and secret out. */
static void
create(fixture_t *f, const char *fields, char *id, char *secret)
{
    json_t  *b = body(fields), *reply = NULL;
    fg_err_t err;

    expect_int_eq(fg_keystore_create(f->ks, b, NOW, &reply, &err), FG_OK);
    if (reply != NULL) {
        snprintf(id, FG_KEY_ID_SIZE, "%s", json_string_value(
                     json_object_get(json_object_get(reply, "key"), "id")));
        snprintf(secret, FG_KEY_SECRET_SIZE, "%s", json_string_value(
                     json_object_get(reply, "secret")));
    }
    json_decref(b);
    json_decref(reply);
}

static fg_keytable_result_t
lookup(fixture_t *f, const char *secret, fg_key_record_t *out)
{
    uint8_t hash[FG_KEY_HASH_BYTES];

    fg_key_hash(server, secret, strlen(secret), hash);
    return fg_keytable_lookup(f->table, hash, out);
}

static uint64_t
journal_records(fixture_t *f)
{
    fg_store_info_t info;

    fg_store_info(f->store, &info);
    return info.journal_records;
}

static void
created_key_is_in_the_table_under_the_hash_of_its_secret(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    char            id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"a\",\"owner\":\"acme\",\"models\":[\"openai/*\"],"
           "\"limits\":{\"requests_per_min\":60},"
           "\"energy\":{\"balance_micro\":5000000}}", id, secret);
    expect_int_eq(lookup(&f, secret, &rec), FG_KEYTABLE_FOUND);
    expect_str_eq(rec.kr_id, id);
    expect_str_eq(rec.kr_owner, "acme");
    expect_int_eq(rec.kr_status, FG_KEY_STATUS_ACTIVE);
    expect_int_eq(rec.kr_requests_per_min, 60);
    expect_int_eq(rec.kr_balance_micro, 5000000);
    expect_int_eq(rec.kr_models_count, 1);
    expect_int_eq(journal_records(&f), 1);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
refused_bodies_change_nothing(void)
{
    static const char *bad[] = {
        "{\"owner\":\"no name\"}",
        "{\"name\":\"x\",\"bogus\":1}",
        "{\"name\":\"x\",\"limits\":{\"requests_per_min\":-1}}",
        "{\"name\":\"x\",\"energy\":{\"balance\":1}}",
        "{\"name\":\"x\",\"models\":[\"a*b\"]}",
        "{\"name\":\"x\",\"expires_at\":1}",
        "{\"name\":\"\"}",
        "{\"name\":\"x\",\"preset\":\"fast\"}",
        "{\"name\":\"x\",\"preset\":1}",
        "{\"name\":\"x\",\"transforms\":\"middle-out\"}",
        "{\"name\":\"x\",\"transforms\":[\"middle-in\"]}",
        "{\"name\":\"x\",\"transforms\":[\"middle-out\",\"middle-out\"]}",
        "{\"name\":\"x\",\"transforms\":[1]}",
        "[1,2]",
    };
    fixture_t f;
    size_t    i;

    fixture_open(&f, 16, 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t  *b = body(bad[i]), *reply = NULL;
        fg_err_t err;

        expect_int_eq(fg_keystore_create(f.ks, b, NOW, &reply, &err),
                      FG_ERR);
        expect_true(reply == NULL);
        expect_int_eq(fg_error_status(err.code), 400);
        json_decref(b);
    }
    expect_int_eq(fg_keytable_count(f.table), 0);
    expect_int_eq(journal_records(&f), 0);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
rotation_keeps_the_old_secret_for_its_grace_only(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], old[FG_KEY_SECRET_SIZE];
    const char     *fresh;

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"r\"}", id, old);
    expect_int_eq(fg_keystore_rotate(f.ks, id, NULL, NOW, &reply, &err),
                  FG_OK);
    fresh = json_string_value(json_object_get(reply, "secret"));
    expect_int_eq(lookup(&f, fresh, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(fg_key_record_check(&rec, NOW), FG_KEY_CHECK_OK);
    expect_int_eq(lookup(&f, old, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(fg_key_record_check(&rec, NOW + 59999), FG_KEY_CHECK_OK);
    expect_int_eq(fg_key_record_check(&rec, NOW + 60000),
                  FG_KEY_CHECK_ROTATED);
    expect_true(json_integer_value(json_object_get(json_object_get(reply,
                "key"), "previous_secret_valid_until")) == (NOW + 60000) / 1000);
    json_decref(reply);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
revoking_ends_the_current_and_the_rotated_secret(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL, *b;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], old[FG_KEY_SECRET_SIZE];
    char            fresh[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"v\"}", id, old);
    expect_int_eq(fg_keystore_rotate(f.ks, id, NULL, NOW, &reply, &err),
                  FG_OK);
    snprintf(fresh, sizeof(fresh), "%s",
             json_string_value(json_object_get(reply, "secret")));
    json_decref(reply);
    expect_int_eq(fg_keystore_revoke(f.ks, id, NOW + 1, &reply, &err), FG_OK);
    json_decref(reply);
    expect_int_eq(lookup(&f, fresh, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(fg_key_record_check(&rec, NOW + 1), FG_KEY_CHECK_REVOKED);
    expect_int_eq(lookup(&f, old, &rec), FG_KEYTABLE_FOUND);
    expect_true(fg_key_record_check(&rec, NOW + 1) != FG_KEY_CHECK_OK);
    /* A revoked key takes no more changes. */
    b = body("{\"name\":\"again\"}");
    expect_int_eq(fg_keystore_update(f.ks, id, b, NOW + 2, &reply, &err),
                  FG_ERR);
    expect_int_eq(err.code, FG_E_KEY_NOT_CHANGEABLE);
    json_decref(b);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_topup_applies_once_per_idempotency_key(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"t\",\"energy\":{\"balance_micro\":10}}", id,
           secret);
    expect_int_eq(fg_keystore_topup(f.ks, id, 5, "pay-1", NOW, &reply, &err),
                  FG_OK);
    expect_true(json_is_true(json_object_get(reply, "applied")));
    json_decref(reply);
    expect_int_eq(fg_keystore_topup(f.ks, id, 5, "pay-1", NOW, &reply, &err),
                  FG_OK);
    expect_true(json_is_false(json_object_get(reply, "applied")));
    json_decref(reply);
    expect_int_eq(fg_keystore_topup(f.ks, id, 6, "pay-1", NOW, &reply, &err),
                  FG_ERR);
    expect_int_eq(err.code, FG_E_IDEMPOTENCY_REUSED);
    expect_int_eq(lookup(&f, secret, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(rec.kr_balance_micro, 15);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_reload_from_disk_rebuilds_the_same_state(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL, *b;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];
    char            id2[FG_KEY_ID_SIZE], secret2[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"one\"}", id, secret);
    create(&f, "{\"name\":\"two\"}", id2, secret2);
    b = body("{\"name\":\"one renamed\",\"metadata\":{\"plan\":\"pro\"}}");
    expect_int_eq(fg_keystore_update(f.ks, id, b, NOW, &reply, &err), FG_OK);
    json_decref(b);
    json_decref(reply);
    expect_int_eq(fg_keystore_topup(f.ks, id, 7, "p", NOW, &reply, &err),
                  FG_OK);
    json_decref(reply);
    expect_int_eq(fg_keystore_revoke(f.ks, id2, NOW, &reply, &err), FG_OK);
    json_decref(reply);
    fixture_close(&f);

    fixture_open(&f, 16, 0);   /* same folder, empty table */
    expect_int_eq(fg_keytable_count(f.table), 2);
    expect_int_eq(lookup(&f, secret, &rec), FG_KEYTABLE_FOUND);
    expect_str_eq(rec.kr_name, "one renamed");
    expect_str_eq(rec.kr_metadata, "{\"plan\":\"pro\"}");
    expect_int_eq(rec.kr_balance_micro, 7);
    expect_int_eq(lookup(&f, secret2, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(rec.kr_status, FG_KEY_STATUS_REVOKED);
    /* The memo came back too: the same top-up is not applied twice. */
    expect_int_eq(fg_keystore_topup(f.ks, id, 7, "p", NOW, &reply, &err),
                  FG_OK);
    expect_true(json_is_false(json_object_get(reply, "applied")));
    json_decref(reply);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_reload_removes_table_entries_the_store_does_not_have(void)
{
    fixture_t       f;
    fg_key_record_t ghost;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"real\"}", id, secret);
    /* As if a syncer published a change and died before it was durable. */
    memset(&ghost, 0, sizeof(ghost));
    memset(ghost.kr_hash, 0xab, sizeof(ghost.kr_hash));
    memcpy(ghost.kr_id, "key_00000000000000ab", FG_KEY_ID_SIZE);
    memcpy(ghost.kr_name, "ghost", 6);
    ghost.kr_status = FG_KEY_STATUS_ACTIVE;
    expect_int_eq(fg_keytable_put(f.table, &ghost, &err), FG_OK);
    fg_keystore_free(f.ks);
    fg_store_close(f.store);
    f.store = fg_store_file_open(f.dir, 0, &err);
    f.ks = fg_keystore_new(f.table, f.store, server, 60000);
    expect_int_eq(fg_keystore_load(f.ks, NOW, &err), FG_OK);
    expect_int_eq(fg_keytable_count(f.table), 1);
    expect_int_eq(fg_keytable_lookup(f.table, ghost.kr_hash, &ghost),
                  FG_KEYTABLE_NOT_FOUND);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_full_table_refuses_a_new_key_before_storing_it(void)
{
    fixture_t f;
    json_t   *b = body("{\"name\":\"x\"}"), *reply = NULL;
    fg_err_t  err;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 2, 1);
    create(&f, "{\"name\":\"a\"}", id, secret);
    create(&f, "{\"name\":\"b\"}", id, secret);
    expect_int_eq(fg_keystore_create(f.ks, b, NOW, &reply, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_KEY_TABLE_FULL);
    expect_int_eq(journal_records(&f), 2);
    json_decref(b);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
compaction_keeps_the_state_and_drops_dead_rotated_secrets(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], old[FG_KEY_SECRET_SIZE];
    char            fresh[FG_KEY_SECRET_SIZE];
    int             i;

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"c\"}", id, old);
    expect_int_eq(fg_keystore_rotate(f.ks, id, NULL, NOW, &reply, &err),
                  FG_OK);
    snprintf(fresh, sizeof(fresh), "%s",
             json_string_value(json_object_get(reply, "secret")));
    json_decref(reply);
    for (i = 0; i < 5; i++) {
        char idem[16];

        snprintf(idem, sizeof(idem), "c-%d", i);
        expect_int_eq(fg_keystore_topup(f.ks, id, 1, idem, NOW, &reply,
                                        &err), FG_OK);
        json_decref(reply);
    }
    expect_int_eq(fg_keystore_compact(f.ks, 100, NOW, &err), 0);
    /* After the old secret's grace: it is dropped from snapshot and table. */
    expect_int_eq(fg_keystore_compact(f.ks, 3, NOW + 60000, &err), 1);
    expect_int_eq(journal_records(&f), 0);
    expect_int_eq(lookup(&f, old, &rec), FG_KEYTABLE_NOT_FOUND);
    fixture_close(&f);

    fixture_open(&f, 16, 0);
    expect_int_eq(fg_keytable_count(f.table), 1);
    expect_int_eq(lookup(&f, fresh, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(rec.kr_balance_micro, 5);
    expect_int_eq(fg_keystore_topup(f.ks, id, 1, "c-3", NOW, &reply, &err),
                  FG_OK);
    expect_true(json_is_false(json_object_get(reply, "applied")));
    json_decref(reply);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
list_pages_by_id_and_filters_by_owner_and_status(void)
{
    fixture_t f;
    json_t   *reply = NULL;
    fg_err_t  err;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];
    char      after[FG_KEY_ID_SIZE] = "";
    int       i, seen = 0, pages = 0;

    fixture_open(&f, 16, 1);
    for (i = 0; i < 5; i++) {
        create(&f, i % 2 ? "{\"name\":\"n\",\"owner\":\"odd\"}"
                         : "{\"name\":\"n\",\"owner\":\"even\"}", id, secret);
    }
    do {
        json_t     *data, *k;
        size_t      j;
        const char *prev = "";

        expect_int_eq(fg_keystore_list(f.ks, NULL, NULL,
                                       after[0] ? after : NULL, 2, NOW,
                                       &reply, &err), FG_OK);
        data = json_object_get(reply, "data");
        json_array_foreach(data, j, k) {
            const char *kid = json_string_value(json_object_get(k, "id"));

            expect_true(strcmp(kid, prev) > 0);
            prev = kid;
            seen++;
        }
        after[0] = '\0';
        if (json_is_true(json_object_get(reply, "has_more"))) {
            snprintf(after, sizeof(after), "%s", json_string_value(
                         json_object_get(reply, "next_after")));
        }
        json_decref(reply);
        pages++;
    } while (after[0] != '\0' && pages < 10);
    expect_int_eq(seen, 5);
    expect_int_eq(pages, 3);
    expect_int_eq(fg_keystore_list(f.ks, "odd", "active", NULL, 100, NOW,
                                   &reply, &err), FG_OK);
    expect_int_eq(json_array_size(json_object_get(reply, "data")), 2);
    json_decref(reply);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_journal_lost_beside_its_snapshot_does_not_hide_later_changes(void)
{
    fixture_t       f;
    fg_key_record_t rec;
    json_t         *reply = NULL;
    fg_err_t        err;
    char            id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];
    char            id2[FG_KEY_ID_SIZE], secret2[FG_KEY_SECRET_SIZE];
    char            path[128];
    int             i;

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"before\"}", id, secret);
    for (i = 0; i < 4; i++) {
        char idem[16];

        snprintf(idem, sizeof(idem), "l-%d", i);
        expect_int_eq(fg_keystore_topup(f.ks, id, 1, idem, NOW, &reply,
                                        &err), FG_OK);
        json_decref(reply);
    }
    expect_int_eq(fg_keystore_compact(f.ks, 2, NOW, &err), 1);
    fixture_close(&f);
    snprintf(path, sizeof(path), "%s/keys.journal", f.dir);
    expect_int_eq(unlink(path), 0);

    fixture_open(&f, 16, 0);
    create(&f, "{\"name\":\"after\"}", id2, secret2);
    fixture_close(&f);
    fixture_open(&f, 16, 0);
    expect_int_eq(lookup(&f, secret, &rec), FG_KEYTABLE_FOUND);
    expect_int_eq(rec.kr_balance_micro, 4);
    expect_int_eq(lookup(&f, secret2, &rec), FG_KEYTABLE_FOUND);
    fixture_close(&f);
    fixture_remove(&f);
}

/* The record the table holds for @secret's key. */
static fg_key_record_t
table_record(fixture_t *f, const char *secret)
{
    fg_key_record_t rec;

    memset(&rec, 0, sizeof(rec));
    expect_int_eq(lookup(f, secret, &rec), FG_KEYTABLE_FOUND);
    return rec;
}

/* Member @member of the key object for @id as compact JSON ("\"price\"",
 * "null", "[]"), or "absent". */
static const char *
shown(fixture_t *f, const char *id, const char *member)
{
    static char   text[64];
    json_t       *reply = NULL;
    const json_t *v;
    char         *dump;
    fg_err_t      err;

    expect_int_eq(fg_keystore_show(f->ks, id, NOW, &reply, &err), FG_OK);
    v = json_object_get(reply, member);
    dump = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(text, sizeof(text), "%s", dump != NULL ? dump : "absent");
    free(dump);
    json_decref(reply);
    return text;
}

/* Updates @id with @fields, which must be accepted. */
static void
update_ok(fixture_t *f, const char *id, const char *fields)
{
    json_t  *reply = NULL, *b = body(fields);
    fg_err_t err;

    expect_int_eq(fg_keystore_update(f->ks, id, b, NOW, &reply, &err), FG_OK);
    json_decref(b);
    json_decref(reply);
}

/* A minimal active record with id @id and no preset, as the store keeps
 * one. */
static void
plain_record(fg_key_record_t *rec, const char *id)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->kr_id, id, FG_KEY_ID_SIZE);
    memcpy(rec->kr_name, "old", 4);
    rec->kr_status = FG_KEY_STATUS_ACTIVE;
    rec->kr_preset = FG_PRESET_UNSET;
}

static void
a_key_created_without_a_preset_has_none(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"plain\"}", id, secret);
    expect_int_eq(table_record(&f, secret).kr_preset, FG_PRESET_UNSET);
    expect_str_eq(shown(&f, id, "preset"), "null");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_preset_survives_a_reload_from_disk(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"p\",\"preset\":\"price\"}", id, secret);
    expect_int_eq(table_record(&f, secret).kr_preset, FG_PRESET_PRICE);
    fixture_close(&f);

    fixture_open(&f, 16, 0);
    expect_int_eq(table_record(&f, secret).kr_preset, FG_PRESET_PRICE);
    expect_str_eq(shown(&f, id, "preset"), "\"price\"");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_null_preset_clears_it(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"c\",\"preset\":\"speed\"}", id, secret);
    update_ok(&f, id, "{\"preset\":null}");
    expect_int_eq(table_record(&f, secret).kr_preset, FG_PRESET_UNSET);
    expect_str_eq(shown(&f, id, "preset"), "null");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
an_unknown_preset_is_refused_naming_the_field_and_the_presets(void)
{
    fixture_t f;
    json_t   *b = body("{\"name\":\"u\",\"preset\":\"fast\"}");
    json_t   *reply = NULL;
    fg_err_t  err;

    fixture_open(&f, 16, 1);
    expect_int_eq(fg_keystore_create(f.ks, b, NOW, &reply, &err), FG_ERR);
    expect_int_eq(err.code, FG_E_INVALID_VALUE);
    expect_str_eq(err.param, "preset");
    expect_true(strstr(err.msg, "\"balanced\", \"speed\", \"price\", "
                       "\"quality\", \"environment\"") != NULL);
    json_decref(b);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_stored_record_from_before_presets_loads_with_none(void)
{
    fg_key_record_t rec, back;
    json_t         *stored;
    fg_err_t        err;

    plain_record(&rec, "key_00000000000000aa");
    rec.kr_preset = FG_PRESET_QUALITY;
    stored = fg_keyjson_store(&rec);
    expect_str_eq(json_string_value(json_object_get(stored, "preset")),
                  "quality");
    /* What a store written before presets holds. */
    expect_int_eq(json_object_del(stored, "preset"), 0);
    expect_int_eq(fg_keyjson_from_store(stored, &back, &err), FG_OK);
    expect_int_eq(back.kr_preset, FG_PRESET_UNSET);
    json_decref(stored);
}

/* The error updating @id with @fields gives, which must be refused. */
static fg_err_t
update_refused(fixture_t *f, const char *id, const char *fields)
{
    json_t  *reply = NULL, *b = body(fields);
    fg_err_t err;

    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keystore_update(f->ks, id, b, NOW, &reply, &err),
                  FG_ERR);
    json_decref(b);
    json_decref(reply);
    return err;
}

static void
a_key_created_without_transforms_has_none_and_shows_an_empty_list(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"plain\"}", id, secret);
    expect_int_eq(table_record(&f, secret).kr_transforms, 0);
    expect_str_eq(shown(&f, id, "transforms"), "[]");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
middle_out_reaches_the_table_and_survives_a_reload(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"mo\",\"transforms\":[\"middle-out\"]}", id,
           secret);
    expect_int_eq(table_record(&f, secret).kr_transforms,
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    expect_str_eq(shown(&f, id, "transforms"), "[\"middle-out\"]");
    fixture_close(&f);

    fixture_open(&f, 16, 0);
    expect_int_eq(table_record(&f, secret).kr_transforms,
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    expect_str_eq(shown(&f, id, "transforms"), "[\"middle-out\"]");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
an_empty_list_and_null_each_clear_the_transforms(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"c\",\"transforms\":[\"middle-out\"]}", id,
           secret);
    update_ok(&f, id, "{\"transforms\":[]}");
    expect_int_eq(table_record(&f, secret).kr_transforms, 0);
    expect_str_eq(shown(&f, id, "transforms"), "[]");
    update_ok(&f, id, "{\"transforms\":[\"middle-out\"]}");
    expect_int_eq(table_record(&f, secret).kr_transforms,
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    update_ok(&f, id, "{\"transforms\":null}");
    expect_int_eq(table_record(&f, secret).kr_transforms, 0);
    expect_str_eq(shown(&f, id, "transforms"), "[]");
    fixture_close(&f);
    fixture_remove(&f);
}

static void
an_update_naming_other_fields_keeps_the_transforms(void)
{
    fixture_t f;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"k\",\"transforms\":[\"middle-out\"]}", id,
           secret);
    update_ok(&f, id, "{\"name\":\"renamed\",\"preset\":\"price\"}");
    expect_int_eq(table_record(&f, secret).kr_transforms,
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_bad_transforms_list_is_refused_and_changes_nothing(void)
{
    static const struct {
        const char *fields;
        fg_error_code_t code;
    } bad[] = {
        { "{\"transforms\":\"middle-out\"}", FG_E_INVALID_TYPE },
        { "{\"transforms\":{}}", FG_E_INVALID_TYPE },
        { "{\"transforms\":[1]}", FG_E_INVALID_TYPE },
        { "{\"transforms\":[null]}", FG_E_INVALID_TYPE },
        { "{\"transforms\":[\"middle-in\"]}", FG_E_INVALID_VALUE },
        { "{\"transforms\":[\"Middle-Out\"]}", FG_E_INVALID_VALUE },
        { "{\"transforms\":[\"middle-out\",\"middle-out\"]}",
          FG_E_INVALID_VALUE },
        { "{\"transforms\":[\"middle-out\",\"a\",\"a\",\"a\",\"a\",\"a\","
          "\"a\",\"a\",\"a\"]}", FG_E_OUT_OF_RANGE },
    };
    fixture_t f;
    fg_err_t  err;
    json_t   *b, *reply = NULL;
    char      id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];
    size_t    i;

    fixture_open(&f, 16, 1);
    create(&f, "{\"name\":\"b\",\"transforms\":[\"middle-out\"]}", id,
           secret);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = update_refused(&f, id, bad[i].fields);
        expect_int_eq(err.code, bad[i].code);
        expect_str_eq(err.param, "transforms");
    }
    err = update_refused(&f, id, "{\"transforms\":[\"middle-out\",\"x\"]}");
    expect_true(strstr(err.msg, "transforms[1]") != NULL);
    expect_true(strstr(err.msg, "\"middle-out\"") != NULL);
    /* A name is its whole length: a NUL inside does not end it. */
    b = json_pack("{s:[o]}", "transforms", json_stringn("middle-out\0", 11));
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keystore_update(f.ks, id, b, NOW, &reply, &err), FG_ERR);
    expect_str_eq(err.param, "transforms");
    json_decref(b);
    json_decref(reply);
    expect_int_eq(table_record(&f, secret).kr_transforms,
                  FG_KEY_TRANSFORM_MIDDLE_OUT);
    fixture_close(&f);
    fixture_remove(&f);
}

static void
a_stored_record_from_before_transforms_loads_with_none(void)
{
    fg_key_record_t rec, back;
    json_t         *stored;
    char           *text;
    fg_err_t        err;

    plain_record(&rec, "key_00000000000000ab");
    /* None is no member, as in a store written before transforms. */
    stored = fg_keyjson_store(&rec);
    expect_true(json_object_get(stored, "transforms") == NULL);
    json_decref(stored);

    rec.kr_transforms = FG_KEY_TRANSFORM_MIDDLE_OUT;
    stored = fg_keyjson_store(&rec);
    text = json_dumps(json_object_get(stored, "transforms"), JSON_COMPACT);
    expect_str_eq(text, "[\"middle-out\"]");
    free(text);
    expect_int_eq(fg_keyjson_from_store(stored, &back, &err), FG_OK);
    expect_int_eq(back.kr_transforms, FG_KEY_TRANSFORM_MIDDLE_OUT);
    expect_int_eq(json_object_del(stored, "transforms"), 0);
    expect_int_eq(fg_keyjson_from_store(stored, &back, &err), FG_OK);
    expect_int_eq(back.kr_transforms, 0);
    json_decref(stored);
}

static void
a_stored_record_with_an_unknown_transform_is_refused(void)
{
    fg_key_record_t rec, back;
    json_t         *stored;
    fg_err_t        err;

    plain_record(&rec, "key_00000000000000ac");
    stored = fg_keyjson_store(&rec);
    /* What a later build's store could hold: not silently dropped. */
    json_object_set_new(stored, "transforms", json_pack("[s]", "squeeze"));
    memset(&err, 0, sizeof(err));
    expect_int_eq(fg_keyjson_from_store(stored, &back, &err), FG_ERR);
    expect_str_eq(err.param, "transforms");
    json_decref(stored);
}

/* The usage journal, as the keystore's sync hook sees it: file 7, ending
 * at usage_end. */
static uint64_t usage_end;

static int
fake_usage_sync(void *arg, uint64_t *file_id, uint64_t *offset,
                fg_err_t *err)
{
    (void) arg;
    (void) err;
    *file_id = 7;
    *offset = usage_end;
    return FG_OK;
}

/* A keystore with positions and a ledger of its own, loaded and replayed
 * up to nothing (the caller replays). */
static void
positions_open(fixture_t *f, void **ledger_mem, fg_ledger_t **ledger)
{
    fg_err_t err;
    size_t   bytes = fg_keytable_bytes(16);
    size_t   lbytes = fg_ledger_bytes(16, 3);

    f->mem = aligned_alloc(64, bytes);
    memset(f->mem, 0, bytes);
    f->table = fg_keytable_init(f->mem, bytes, 16, &err);
    f->store = fg_store_file_open(f->dir, 0, &err);
    expect_true(f->store != NULL);
    *ledger_mem = aligned_alloc(64, lbytes);
    memset(*ledger_mem, 0, lbytes);
    *ledger = fg_ledger_init(*ledger_mem, lbytes, 16, 3, &err);
    expect_true(*ledger != NULL);
    f->ks = fg_keystore_new(f->table, f->store, server, 60000);
    fg_keystore_set_ledger(f->ks, *ledger, fg_ledger_owner_syncer(*ledger));
    fg_keystore_set_usage(f->ks, fake_usage_sync, NULL, 7, usage_end);
    expect_int_eq(fg_keystore_load(f->ks, NOW, &err), FG_OK);
}

static fg_usage_record_t
charge_at(const char *id, int64_t end_ms, int64_t micro)
{
    fg_usage_record_t rec;

    fg_usage_init(&rec);
    FG_USAGE_SET(rec.key_id, id);
    rec.started_unix_ms = end_ms - 10;
    rec.latency_us = 10000;
    rec.charged_micro = micro;
    return rec;
}

static void
a_cold_start_replays_the_records_after_the_stored_position_with_regeneration(void)
{
    fixture_t         f;
    fg_ledger_t      *ledger;
    void             *lmem;
    fg_err_t          err;
    fg_usage_record_t r1, r2, r3;
    char              id[FG_KEY_ID_SIZE], secret[FG_KEY_SECRET_SIZE];

    snprintf(f.dir, sizeof(f.dir), "/tmp/fg-test-ks-XXXXXX");
    if (mkdtemp(f.dir) == NULL) {
        FG_TEST_FAIL("mkdtemp failed");
    }
    usage_end = 0;
    positions_open(&f, &lmem, &ledger);
    expect_true(fg_keystore_replay_from(f.ks, 7) == UINT64_MAX);
    expect_int_eq(fg_keystore_rebuild_ledger(f.ks, &err), FG_OK);
    /* 3,600,000 micro an hour: one a millisecond. */
    create(&f, "{\"name\":\"cold\",\"energy\":{\"balance_micro\":1000000,"
               "\"regen_per_hour_micro\":3600000,\"cap_micro\":10000000}}",
           id, secret);
    r1 = charge_at(id, NOW + 1000, 500);
    r2 = charge_at(id, NOW + 3000, 200);
    r3 = charge_at(id, NOW + 3500, 50);

    /* r1 is journaled, then the balances are written: they include it. */
    usage_end = 100;
    fg_keystore_apply_usage(f.ks, &r1, 7, 100);
    expect_int_eq(fg_keystore_persist_balances(f.ks, NOW + 1000, &err), 1);
    expect_true(fg_keystore_oldest_usage_file(f.ks) == 7);
    /* r2 and r3 are journaled; the machine stops before the next write. */
    fg_keystore_apply_usage(f.ks, &r2, 7, 200);
    fg_keystore_apply_usage(f.ks, &r3, 7, 300);
    expect_int_eq(fg_keystore_journal_balance(f.ks, id),
                  1000000 + 3500 - 750);
    fg_keystore_free(f.ks);
    fg_store_close(f.store);
    free(f.mem);
    free(lmem);

    /* The cold start: the store, then every record from the earliest
     * position on, as the syncer's replay hands them over. */
    usage_end = 300;
    positions_open(&f, &lmem, &ledger);
    expect_int_eq(fg_keystore_replay_from(f.ks, 7), 100);
    fg_keystore_apply_usage(f.ks, &r1, 7, 100);   /* included: skipped */
    fg_keystore_apply_usage(f.ks, &r2, 7, 200);
    fg_keystore_apply_usage(f.ks, &r3, 7, 300);
    expect_int_eq(fg_keystore_rebuild_ledger(f.ks, &err), FG_OK);
    /* initial + regeneration to the last record - every charge. */
    expect_int_eq(fg_keystore_journal_balance(f.ks, id),
                  1000000 + 3500 - 750);
    expect_int_eq(fg_ledger_balance(ledger, 0, fg_limiter_subject(id),
                                    NOW + 3500), 1000000 + 3500 - 750);
    fixture_close(&f);
    free(lmem);
    fixture_remove(&f);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(created_key_is_in_the_table_under_the_hash_of_its_secret),
        FG_TEST_CASE(refused_bodies_change_nothing),
        FG_TEST_CASE(rotation_keeps_the_old_secret_for_its_grace_only),
        FG_TEST_CASE(revoking_ends_the_current_and_the_rotated_secret),
        FG_TEST_CASE(a_topup_applies_once_per_idempotency_key),
        FG_TEST_CASE(a_reload_from_disk_rebuilds_the_same_state),
        FG_TEST_CASE(a_reload_removes_table_entries_the_store_does_not_have),
        FG_TEST_CASE(a_full_table_refuses_a_new_key_before_storing_it),
        FG_TEST_CASE(compaction_keeps_the_state_and_drops_dead_rotated_secrets),
        FG_TEST_CASE(list_pages_by_id_and_filters_by_owner_and_status),
        FG_TEST_CASE(
            a_journal_lost_beside_its_snapshot_does_not_hide_later_changes),
        FG_TEST_CASE(a_key_created_without_a_preset_has_none),
        FG_TEST_CASE(a_preset_survives_a_reload_from_disk),
        FG_TEST_CASE(a_null_preset_clears_it),
        FG_TEST_CASE(
            an_unknown_preset_is_refused_naming_the_field_and_the_presets),
        FG_TEST_CASE(a_stored_record_from_before_presets_loads_with_none),
        FG_TEST_CASE(
            a_key_created_without_transforms_has_none_and_shows_an_empty_list),
        FG_TEST_CASE(middle_out_reaches_the_table_and_survives_a_reload),
        FG_TEST_CASE(an_empty_list_and_null_each_clear_the_transforms),
        FG_TEST_CASE(an_update_naming_other_fields_keeps_the_transforms),
        FG_TEST_CASE(a_bad_transforms_list_is_refused_and_changes_nothing),
        FG_TEST_CASE(a_stored_record_from_before_transforms_loads_with_none),
        FG_TEST_CASE(a_stored_record_with_an_unknown_transform_is_refused),
        FG_TEST_CASE(
            a_cold_start_replays_the_records_after_the_stored_position_with_regeneration),
    };

    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 1;
    }
    return fg_test_run("keystore", cases, sizeof(cases) / sizeof(cases[0]));
}
