/*
 * test_respstore.c: the response store (common/store/respstore.h): what a
 * put writes and a get gives back, per key and within the time to live;
 * ids that are never stored; the caps, refused before anything is
 * written; the sweep's expiry and eviction; prepare's count of the disk.
 * Each test has a folder of its own under /tmp and a region of its own;
 * time is a parameter. After every step the counters are checked against
 * the files on disk.
 */

#include "common/store/respstore.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/wire/jdoc.h"
#include "tests/unit/fg_test.h"

#define NOW      1700000000000LL
#define TTL_MS   3600000LL
#define MAX_KEYS 16

typedef struct {
    char                 root[64];
    char                 dir[96];
    fg_respstore_conf_t  conf;
    fg_respstore_t      *s;
    void                *mem;
} store_t;

static const char output2[] =
    "[{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\","
    "\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]},"
    "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\","
    "\"name\":\"f\",\"arguments\":\"{}\"}]";

static const char context1[] =
    "{\"role\":\"user\",\"content\":\"hello\"}";

static fg_respstore_t *
region_new(void **mem)
{
    size_t bytes = fg_respstore_bytes(MAX_KEYS);

    *mem = aligned_alloc(64, bytes);
    memset(*mem, 0, bytes);
    return fg_respstore_init(*mem, bytes, MAX_KEYS, NULL);
}

/* A store in a fresh folder: total cap @total, key cap @key. */
static void
store_open(store_t *st, uint64_t total, uint64_t key)
{
    fg_err_t err;

    memset(st, 0, sizeof(*st));
    snprintf(st->root, sizeof(st->root), "/tmp/fg-test-respstore-XXXXXX");
    if (mkdtemp(st->root) == NULL) {
        FG_TEST_FAIL("mkdtemp failed");
    }
    snprintf(st->dir, sizeof(st->dir), "%s/responses", st->root);
    st->conf.dir = st->dir;
    st->conf.total_bytes_max = total;
    st->conf.key_bytes_max = key;
    st->conf.ttl_ms = TTL_MS;
    st->s = region_new(&st->mem);
    expect_true(st->s != NULL);
    expect_int_eq(fg_respstore_prepare(st->s, &st->conf, NOW, &err), FG_OK);
}

static int
store_rm(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void) sb;
    (void) flag;
    (void) f;
    return remove(path);
}

static void
store_close(store_t *st)
{
    nftw(st->root, store_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(st->mem);
}

/* Files and bytes on disk (temporary files included). */
static uint64_t disk_files, disk_bytes;

static int
store_count(const char *path, const struct stat *sb, int flag,
            struct FTW *f)
{
    (void) path;
    (void) f;
    if (flag == FTW_F) {
        disk_files++;
        disk_bytes += (uint64_t) sb->st_size;
    }
    return 0;
}

/* The counters say exactly what is on disk. */
static void
expect_counters_match_disk(const store_t *st)
{
    fg_respstore_stats_t stats;

    disk_files = disk_bytes = 0;
    nftw(st->dir, store_count, 16, FTW_PHYS);
    fg_respstore_stats(st->s, &stats);
    expect_int_eq(stats.files, disk_files);
    expect_int_eq(stats.bytes, disk_bytes);
}

static int
put(store_t *st, const char *key, const char *id, int64_t now,
    const char *context, const char *output)
{
    fg_err_t err;

    return fg_respstore_put(st->s, &st->conf, key, id, now, context,
                            strlen(context), output, strlen(output), &err);
}

/* The get's JSON, malloc'd, or NULL on a miss. */
static char *
get(const store_t *st, const char *key, const char *id, int64_t now)
{
    char  *json = NULL;
    size_t len = 0;

    if (fg_respstore_get(&st->conf, key, id, strlen(id), now, &json, &len)
        != FG_OK) {
        return NULL;
    }
    expect_int_eq(strlen(json), len);
    return json;
}

static int
is_hit(const store_t *st, const char *key, const char *id, int64_t now)
{
    char *json = get(st, key, id, now);

    free(json);
    return json != NULL;
}

/* 1 when @json is a JSON array. */
static int
is_array(const char *json)
{
    fg_jdoc_t doc;
    int       ok;

    if (fg_jdoc_parse(&doc, json, strlen(json), 64, NULL) != FG_OK) {
        return 0;
    }
    ok = fg_jdoc_type(&doc, 0) == FG_JARRAY;
    fg_jdoc_free(&doc);
    return ok;
}

static void
file_of(const store_t *st, const char *id, char *path, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t   i;

    for (i = 0; id[i] != '\0'; i++) {
        h = (h ^ (unsigned char) id[i]) * 0x100000001b3ULL;
    }
    snprintf(path, size, "%s/%02x/%s", st->dir, (unsigned) (h & 0xff), id);
}

static void
put_then_get_of_a_record_returns_the_array_exactly(void)
{
    store_t st;
    char   *json;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    json = get(&st, "key_a", "resp_1", NOW + 1000);
    expect_str_eq(json, "[{\"role\":\"user\",\"content\":\"hello\"},"
                  "{\"type\":\"message\",\"id\":\"msg_1\",\"role\":"
                  "\"assistant\",\"content\":[{\"type\":\"output_text\","
                  "\"text\":\"hi\"}]},{\"type\":\"function_call\",\"id\":"
                  "\"fc_1\",\"call_id\":\"call_1\",\"name\":\"f\","
                  "\"arguments\":\"{}\"}]");
    free(json);
    expect_counters_match_disk(&st);
    store_close(&st);
}

static void
get_of_an_output_item_id_returns_that_item(void)
{
    store_t st;
    char   *json;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    json = get(&st, "key_a", "fc_1", NOW);
    expect_str_eq(json, "[{\"type\":\"function_call\",\"id\":\"fc_1\","
                  "\"call_id\":\"call_1\",\"name\":\"f\","
                  "\"arguments\":\"{}\"}]");
    free(json);
    json = get(&st, "key_a", "msg_1", NOW);
    expect_true(json != NULL && strncmp(json, "[{\"type\":\"message\"", 18)
                                == 0);
    free(json);
    /* The record and one alias per item. */
    expect_counters_match_disk(&st);
    expect_int_eq(disk_files, 3);
    store_close(&st);
}

static void
an_item_id_repeated_in_one_output_gives_the_last_item(void)
{
    store_t st;
    char   *json;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, "",
                      "[{\"id\":\"x\",\"n\":1},{\"id\":\"x\",\"n\":2},"
                      "{\"id\":\"resp_1\"},{\"id\":\"a/b\"},{\"id\":7}]"),
                  FG_OK);
    json = get(&st, "key_a", "x", NOW);
    expect_str_eq(json, "[{\"id\":\"x\",\"n\":2}]");
    free(json);
    /* One alias for "x"; none for the response's own id, a path or a
     * number. */
    expect_counters_match_disk(&st);
    expect_int_eq(disk_files, 2);
    store_close(&st);
}

static void
another_keys_get_is_a_miss(void)
{
    store_t st;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    expect_true(!is_hit(&st, "key_b", "resp_1", NOW));
    expect_true(!is_hit(&st, "key_b", "msg_1", NOW));
    expect_true(is_hit(&st, "key_a", "resp_1", NOW));
    store_close(&st);
}

static void
an_expired_record_or_item_is_a_miss(void)
{
    store_t st;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    expect_true(is_hit(&st, "key_a", "resp_1", NOW + TTL_MS - 1));
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW + TTL_MS));
    expect_true(!is_hit(&st, "key_a", "msg_1", NOW + TTL_MS));
    store_close(&st);
}

static void
bad_ids_are_never_stored_or_found(void)
{
    static const char *bad[] = {
        "a/b", "..", "", "../resp_1", "resp 1", "resp.1",
        "01234567890123456789012345678901234567890123456789012345678901234"
    };
    store_t st;
    size_t  i;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(strlen(bad[6]), FG_RESPSTORE_ID_MAX + 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_int_eq(put(&st, "key_a", bad[i], NOW, "", "[]"), FG_ERR);
        expect_int_eq(put(&st, bad[i], "resp_1", NOW, "", "[]"), FG_ERR);
        expect_true(!is_hit(&st, "key_a", bad[i], NOW));
    }
    expect_counters_match_disk(&st);
    expect_int_eq(disk_files, 0);
    /* 64 bytes is the longest id, and is stored. */
    expect_int_eq(put(&st, "key_a", bad[6] + 1, NOW, "", "[]"), FG_OK);
    expect_true(is_hit(&st, "key_a", bad[6] + 1, NOW));
    store_close(&st);
}

static void
put_over_the_key_cap_is_full_and_writes_nothing(void)
{
    fg_respstore_stats_t before, after;
    store_t              st;
    char                 big[2048];

    store_open(&st, 1 << 20, 1024);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, "", output2), FG_OK);
    fg_respstore_stats(st.s, &before);
    memset(big, 'x', sizeof(big));
    memcpy(big, "\"", 1);
    memcpy(big + sizeof(big) - 2, "\"", 2);
    expect_int_eq(put(&st, "key_a", "resp_2", NOW, big, "[]"),
                  FG_RESPSTORE_FULL);
    fg_respstore_stats(st.s, &after);
    expect_int_eq(after.bytes, before.bytes);
    expect_int_eq(after.files, before.files);
    expect_int_eq(after.refused_total, before.refused_total + 1);
    expect_int_eq(after.stored_total, before.stored_total);
    expect_int_eq(fg_respstore_key_bytes(st.s, "key_a"), before.bytes);
    expect_true(!is_hit(&st, "key_a", "resp_2", NOW));
    expect_counters_match_disk(&st);
    /* Another key has a cap of its own. */
    expect_int_eq(put(&st, "key_b", "resp_3", NOW, "", output2), FG_OK);
    store_close(&st);
}

static void
put_over_the_total_cap_is_full(void)
{
    store_t st;
    char    id[32];
    int     i, rc = FG_OK;

    store_open(&st, 2048, 1024);
    /* Each key stays under its own cap; together they reach the total. */
    for (i = 0; i < 64 && rc == FG_OK; i++) {
        snprintf(id, sizeof(id), "resp_%d", i);
        rc = put(&st, i % 2 ? "key_a" : "key_b", id, NOW, context1, "[]");
        if (i % 2 == 0 && rc == FG_OK) {
            rc = put(&st, "key_c", id + 1, NOW, context1, "[]");
        }
    }
    expect_int_eq(rc, FG_RESPSTORE_FULL);
    expect_true(fg_respstore_key_bytes(st.s, "key_a") < 1024 - 128);
    expect_true(fg_respstore_key_bytes(st.s, "key_b") < 1024 - 128);
    expect_true(fg_respstore_key_bytes(st.s, "key_c") < 1024 - 128);
    expect_counters_match_disk(&st);
    expect_true(disk_bytes <= 2048 && disk_bytes > 2048 - 128);
    store_close(&st);
}

static void
a_put_passing_seven_eighths_of_a_cap_wants_a_sweep(void)
{
    store_t st;
    char    id[32];
    int     i;

    store_open(&st, 1 << 20, 1024);
    expect_int_eq(fg_respstore_sweep_wanted(st.s), 0);
    for (i = 0; fg_respstore_key_bytes(st.s, "key_a") <= 1024 - 1024 / 8;
         i++) {
        expect_int_eq(fg_respstore_sweep_wanted(st.s), 0);
        snprintf(id, sizeof(id), "resp_%d", i);
        expect_int_eq(put(&st, "key_a", id, NOW, context1, "[]"), FG_OK);
    }
    expect_int_eq(fg_respstore_sweep_wanted(st.s), 1);
    store_close(&st);
}

static void
sweep_deletes_expired_files_and_gives_their_bytes_back(void)
{
    fg_respstore_sweep_t sw;
    fg_respstore_stats_t stats, before;
    fg_err_t             err;
    store_t              st;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    expect_int_eq(put(&st, "key_a", "resp_2", NOW + 1000, context1, "[]"),
                  FG_OK);
    fg_respstore_stats(st.s, &before);
    expect_int_eq(fg_respstore_sweep(st.s, &st.conf, NOW + TTL_MS, &sw,
                                     &err), FG_OK);
    expect_int_eq(sw.scanned, 4);
    expect_int_eq(sw.expired, 3);
    expect_int_eq(sw.evicted, 0);
    expect_counters_match_disk(&st);
    expect_int_eq(disk_files, 1);
    expect_int_eq(fg_respstore_key_bytes(st.s, "key_a"), disk_bytes);
    expect_true(is_hit(&st, "key_a", "resp_2", NOW + TTL_MS));
    fg_respstore_stats(st.s, &stats);
    expect_int_eq(stats.expired_total, 3);
    expect_int_eq(stats.sweeps_total, 1);
    expect_int_eq(sw.freed_bytes, before.bytes - stats.bytes);
    store_close(&st);
}

/* Fills key @key with records one minute apart from @t0 until it passes
 * 7/8 of @cap; returns how many. */
static int
fill(store_t *st, const char *key, const char *prefix, int64_t t0,
     uint64_t cap)
{
    char id[32];
    int  i;

    for (i = 0; fg_respstore_key_bytes(st->s, key) <= cap - cap / 8; i++) {
        snprintf(id, sizeof(id), "%s_%d", prefix, i);
        expect_int_eq(put(st, key, id, t0 + i * 60000LL, context1, "[]"),
                      FG_OK);
    }
    return i;
}

static void
sweep_evicts_a_keys_oldest_files_until_under_three_quarters(void)
{
    fg_respstore_sweep_t sw;
    fg_err_t             err;
    store_t              st;
    char                 id[32];
    int                  n, i, kept = 0;

    store_open(&st, 1 << 20, 4096);
    n = fill(&st, "key_a", "resp", NOW, 4096);
    expect_int_eq(put(&st, "key_b", "other", NOW, context1, "[]"), FG_OK);
    expect_int_eq(fg_respstore_sweep(st.s, &st.conf, NOW + n * 60000LL, &sw,
                                     &err), FG_OK);
    expect_true(sw.evicted > 0);
    expect_int_eq(sw.expired, 0);
    expect_true(fg_respstore_key_bytes(st.s, "key_a") <= 4096 / 4 * 3);
    /* Oldest first: what is left is a run of the newest. */
    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "resp_%d", i);
        if (is_hit(&st, "key_a", id, NOW + n * 60000LL)) {
            kept++;
        } else {
            expect_int_eq(kept, 0);
        }
    }
    expect_true(kept > 0);
    expect_true(is_hit(&st, "key_a", id, NOW + n * 60000LL));
    /* Another key under its cap lost nothing. */
    expect_true(is_hit(&st, "key_b", "other", NOW + n * 60000LL));
    expect_counters_match_disk(&st);
    store_close(&st);
}

static void
sweep_evicts_the_whole_stores_oldest_files(void)
{
    fg_respstore_sweep_t sw;
    fg_err_t             err;
    store_t              st;
    char                 id[32];
    int                  i;

    store_open(&st, 4096, 4096);
    /* Two keys, alternating, together past 7/8 of the total. */
    for (i = 0; fg_respstore_key_bytes(st.s, "key_a")
                + fg_respstore_key_bytes(st.s, "key_b") <= 4096 - 512;
         i++) {
        snprintf(id, sizeof(id), "resp_%d", i);
        expect_int_eq(put(&st, i % 2 ? "key_a" : "key_b", id,
                          NOW + i * 60000LL, context1, "[]"), FG_OK);
    }
    expect_int_eq(fg_respstore_sweep_wanted(st.s), 1);
    expect_int_eq(fg_respstore_sweep(st.s, &st.conf, NOW + i * 60000LL, &sw,
                                     &err), FG_OK);
    expect_int_eq(fg_respstore_sweep_wanted(st.s), 0);
    expect_true(sw.evicted > 0);
    expect_counters_match_disk(&st);
    expect_true(disk_bytes <= 4096 / 4 * 3);
    expect_true(!is_hit(&st, "key_b", "resp_0", NOW + i * 60000LL));
    snprintf(id, sizeof(id), "resp_%d", i - 1);
    expect_true(is_hit(&st, i % 2 ? "key_b" : "key_a", id,
                       NOW + i * 60000LL));
    store_close(&st);
}

static void
prepare_counts_what_is_on_disk(void)
{
    fg_respstore_stats_t a, b;
    fg_respstore_t      *fresh;
    fg_err_t             err;
    store_t              st;
    void                *mem;
    char                 junk[256];
    int                  fd;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    expect_int_eq(put(&st, "key_b", "resp_2", NOW, context1, "[]"), FG_OK);
    expect_int_eq(put(&st, "key_b", "resp_3", NOW - TTL_MS, "", "[]"),
                  FG_OK);
    fg_respstore_stats(st.s, &a);
    /* A file a machine crash left without its data: deleted, uncounted. */
    snprintf(junk, sizeof(junk), "%s/00/resp_junk", st.dir);
    fd = open(junk, O_WRONLY | O_CREAT, 0600);
    close(fd);
    fresh = region_new(&mem);
    expect_int_eq(fg_respstore_prepare(fresh, &st.conf, NOW + 1, &err),
                  FG_OK);
    fg_respstore_stats(fresh, &b);
    /* resp_3 had expired: deleted, not counted. */
    expect_int_eq(b.files, a.files - 1);
    expect_int_eq(fg_respstore_key_bytes(fresh, "key_a"),
                  fg_respstore_key_bytes(st.s, "key_a"));
    expect_true(fg_respstore_key_bytes(fresh, "key_b")
                < fg_respstore_key_bytes(st.s, "key_b"));
    /* A region that already counted is set, not added to. */
    expect_int_eq(fg_respstore_prepare(fresh, &st.conf, NOW + 1, &err),
                  FG_OK);
    fg_respstore_stats(fresh, &a);
    expect_int_eq(a.bytes, b.bytes);
    expect_int_eq(fg_respstore_key_bytes(fresh, "key_a"),
                  fg_respstore_key_bytes(st.s, "key_a"));
    free(st.mem);
    st.mem = mem;
    st.s = fresh;
    expect_true(access(junk, F_OK) != 0);
    expect_counters_match_disk(&st);
    store_close(&st);
}

static void
prepare_and_sweep_delete_temporary_files(void)
{
    fg_respstore_sweep_t sw;
    struct timeval       old[2] = { { 1000, 0 }, { 1000, 0 } };
    fg_err_t             err;
    store_t              st;
    char                 path[256], young[256];
    struct stat          sb;
    int                  fd;

    store_open(&st, 1 << 20, 1 << 16);
    snprintf(path, sizeof(path), "%s/00/.tmp.1.1", st.dir);
    snprintf(young, sizeof(young), "%s/00/.tmp.1.2", st.dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    fd = open(young, O_WRONLY | O_CREAT, 0600);
    close(fd);
    /* The sweep: only a minute-old one goes (the other may be a put's). */
    utimes(path, old);
    expect_int_eq(fg_respstore_sweep(st.s, &st.conf, 1000 * 1000 + 61000,
                                     &sw, &err), FG_OK);
    expect_true(stat(path, &sb) != 0);
    expect_true(stat(young, &sb) == 0);
    /* Prepare: before any worker, every one goes. */
    expect_int_eq(fg_respstore_prepare(st.s, &st.conf, NOW, &err), FG_OK);
    expect_true(stat(young, &sb) != 0);
    store_close(&st);
}

static void
a_second_put_of_one_id_is_not_stored_and_keeps_the_first(void)
{
    fg_respstore_stats_t before, after;
    store_t              st;
    char                *json;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, context1, output2),
                  FG_OK);
    fg_respstore_stats(st.s, &before);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW + 5, "", "[]"), FG_ERR);
    expect_int_eq(put(&st, "key_b", "resp_1", NOW + 5, "", "[]"), FG_ERR);
    fg_respstore_stats(st.s, &after);
    expect_int_eq(after.bytes, before.bytes);
    expect_int_eq(after.failed_total, before.failed_total + 2);
    json = get(&st, "key_a", "resp_1", NOW + 10);
    expect_true(json != NULL && strncmp(json, "[{\"role\":\"user\"", 15)
                                == 0);
    free(json);
    expect_counters_match_disk(&st);
    store_close(&st);
}

static void
an_alias_whose_id_is_taken_is_skipped_and_the_record_kept(void)
{
    store_t st;
    char   *json;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, "", output2), FG_OK);
    /* msg_1 names resp_1's item already. */
    expect_int_eq(put(&st, "key_a", "resp_2", NOW, "",
                      "[{\"id\":\"msg_1\",\"n\":2},{\"id\":\"msg_2\"}]"),
                  FG_OK);
    json = get(&st, "key_a", "msg_1", NOW);
    expect_true(json != NULL && strstr(json, "\"n\":2") == NULL);
    free(json);
    expect_true(is_hit(&st, "key_a", "msg_2", NOW));
    expect_counters_match_disk(&st);
    expect_int_eq(disk_files, 5);
    store_close(&st);
}

static void
empty_context_and_output_give_valid_arrays(void)
{
    static const char *contexts[] = { "", "  \n", context1,
                                      "{\"a\":1}, {\"b\":2}" };
    static const char *outputs[] = { "[]", " [ ] ", output2 };
    store_t st;
    char    id[32], *json;
    size_t  i, j;

    store_open(&st, 1 << 20, 1 << 16);
    for (i = 0; i < 4; i++) {
        for (j = 0; j < 3; j++) {
            snprintf(id, sizeof(id), "resp_%zu_%zu", i, j);
            expect_int_eq(put(&st, "key_a", id, NOW + (int64_t) (i * 3 + j),
                              contexts[i], outputs[j]), FG_OK);
            json = get(&st, "key_a", id, NOW + 100);
            expect_true(json != NULL && is_array(json));
            if (i < 2 && j < 2) {
                expect_str_eq(json, "[]");
            }
            free(json);
        }
    }
    /* Not an array, or not JSON: refused. */
    expect_int_eq(put(&st, "key_a", "resp_x", NOW, "", "{}"), FG_ERR);
    expect_int_eq(put(&st, "key_a", "resp_y", NOW, "", "[1,"), FG_ERR);
    expect_counters_match_disk(&st);
    store_close(&st);
}

/* Rewrites the file of @id as @text. */
static void
overwrite(const store_t *st, const char *id, const char *text)
{
    char path[256];
    int  fd;

    file_of(st, id, path, sizeof(path));
    fd = open(path, O_WRONLY | O_TRUNC);
    expect_true(fd >= 0);
    expect_int_eq(write(fd, text, strlen(text)), strlen(text));
    close(fd);
}

static void
a_truncated_or_corrupt_file_is_a_miss(void)
{
    store_t st;
    char    good[128];

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, "", "[]"), FG_OK);
    expect_true(is_hit(&st, "key_a", "resp_1", NOW));
    snprintf(good, sizeof(good), "FGRS1 R key_a %lld %lld 2\n[]",
             NOW, NOW + TTL_MS);
    overwrite(&st, "resp_1", good);
    expect_true(is_hit(&st, "key_a", "resp_1", NOW));
    snprintf(good, sizeof(good), "FGRS1 R key_a %lld %lld 3\n[]",
             NOW, NOW + TTL_MS);
    overwrite(&st, "resp_1", good);              /* a short body */
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    snprintf(good, sizeof(good), "FGRS1 R key_a %lld %lld 2\n[]x",
             NOW, NOW + TTL_MS);
    overwrite(&st, "resp_1", good);              /* a long one */
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    overwrite(&st, "resp_1", "FGRS1 R key_a 1");  /* a cut header */
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    snprintf(good, sizeof(good), "FGRS1 R key_a %lld -5 2\n[]", NOW);
    overwrite(&st, "resp_1", good);
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    snprintf(good, sizeof(good), "FGRS2 R key_a %lld %lld 2\n[]",
             NOW, NOW + TTL_MS);
    overwrite(&st, "resp_1", good);
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    overwrite(&st, "resp_1", "");                /* a crash's empty file */
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    store_close(&st);
}

static void
the_store_off_stores_nothing_and_needs_no_folder(void)
{
    store_t  st;
    fg_err_t err;

    store_open(&st, 1 << 20, 1 << 16);
    expect_int_eq(put(&st, "key_a", "resp_1", NOW, "", "[]"), FG_OK);
    st.conf.total_bytes_max = 0;
    expect_int_eq(put(&st, "key_a", "resp_2", NOW, "", "[]"),
                  FG_RESPSTORE_FULL);
    expect_true(!is_hit(&st, "key_a", "resp_1", NOW));
    st.conf.dir = "/nonexistent/fluxgate/responses";
    expect_int_eq(fg_respstore_prepare(st.s, &st.conf, NOW, &err), FG_OK);
    st.conf.dir = st.dir;
    store_close(&st);
}

static void
the_region_is_sized_for_twice_the_keys(void)
{
    void           *mem;
    store_t         st;
    fg_err_t        err;
    char            key[32];
    int             i, rc = FG_OK;

    expect_int_eq(fg_respstore_bytes(0), 0);
    expect_int_eq(fg_respstore_bytes(FG_RESPSTORE_MAX_KEYS + 1), 0);
    expect_true(fg_respstore_bytes(1) > 0);
    mem = aligned_alloc(64, fg_respstore_bytes(4));
    expect_true(fg_respstore_init(mem, fg_respstore_bytes(4) - 1, 4, &err)
                == NULL);
    free(mem);
    /* A table full of keys refuses a new one, not an old one. */
    store_open(&st, 1 << 24, 1 << 16);
    for (i = 0; i < 1000 && rc == FG_OK; i++) {
        snprintf(key, sizeof(key), "key_%d", i);
        rc = put(&st, key, key + 1, NOW, "", "[]");
    }
    expect_int_eq(rc, FG_RESPSTORE_FULL);
    expect_true(i > 2 * MAX_KEYS);
    expect_int_eq(put(&st, "key_0", "resp_more", NOW, "", "[]"), FG_OK);
    expect_counters_match_disk(&st);
    store_close(&st);
}

FG_TEST_MAIN("respstore",
    FG_TEST_CASE(put_then_get_of_a_record_returns_the_array_exactly),
    FG_TEST_CASE(get_of_an_output_item_id_returns_that_item),
    FG_TEST_CASE(an_item_id_repeated_in_one_output_gives_the_last_item),
    FG_TEST_CASE(another_keys_get_is_a_miss),
    FG_TEST_CASE(an_expired_record_or_item_is_a_miss),
    FG_TEST_CASE(bad_ids_are_never_stored_or_found),
    FG_TEST_CASE(put_over_the_key_cap_is_full_and_writes_nothing),
    FG_TEST_CASE(put_over_the_total_cap_is_full),
    FG_TEST_CASE(a_put_passing_seven_eighths_of_a_cap_wants_a_sweep),
    FG_TEST_CASE(sweep_deletes_expired_files_and_gives_their_bytes_back),
    FG_TEST_CASE(sweep_evicts_a_keys_oldest_files_until_under_three_quarters),
    FG_TEST_CASE(sweep_evicts_the_whole_stores_oldest_files),
    FG_TEST_CASE(prepare_counts_what_is_on_disk),
    FG_TEST_CASE(prepare_and_sweep_delete_temporary_files),
    FG_TEST_CASE(a_second_put_of_one_id_is_not_stored_and_keeps_the_first),
    FG_TEST_CASE(an_alias_whose_id_is_taken_is_skipped_and_the_record_kept),
    FG_TEST_CASE(empty_context_and_output_give_valid_arrays),
    FG_TEST_CASE(a_truncated_or_corrupt_file_is_a_miss),
    FG_TEST_CASE(the_store_off_stores_nothing_and_needs_no_folder),
    FG_TEST_CASE(the_region_is_sized_for_twice_the_keys))
