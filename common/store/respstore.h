#ifndef FG_COMMON_RESPSTORE_H
#define FG_COMMON_RESPSTORE_H

/*
 * The response store: the conversations of POST /v1/responses replies a
 * client asked to keep ("store", true by default), so that a later
 * request's previous_response_id and item_reference resolve
 * (docs/api.md, "/v1/responses"; docs/operations.md, "Response store").
 *
 * On local disk, one file per response under <dir>/<shard>/, where <dir>
 * is <data_dir>/responses and <shard> two hex digits of a hash of the id
 * (256 folders, so no folder grows past what one readdir handles well).
 * A record's file holds the whole conversation as one JSON array of
 * Responses items: the context that response continued, then its own
 * output items. Each output item id gets a small alias file naming the
 * record, so an item_reference resolves whatever the id scheme (the
 * gateway's own ids and a pass-through provider's alike).
 *
 *   record: "FGRS1 R <key_id> <created_ms> <expires_ms> <len>\n" + len
 *           bytes of the JSON array
 *   alias:  "FGRS1 A <key_id> <created_ms> <expires_ms> <len>\n" + len
 *           bytes of the response id it belongs to
 *
 * A file is written under a temporary name and linked into place, never
 * over an existing one (link(2), EEXIST: not stored), so a reader sees
 * all of a file or none of it. Lookups check the key: a record of
 * another key is a miss, exactly like an unknown id, so ids leak nothing
 * across tenants. Nothing is fsync'd: the store is a cache with a TTL; a
 * machine crash may lose recent records, and a later reference to one is
 * then the same 400 as an expired id.
 *
 * Bounds (conf "responses.*"): every record and alias expires ttl_ms after
 * it was written; the bytes of each key's files and of all files together
 * are counted in a shm region every process shares (fg_respstore_t), and
 * a put that would pass either cap stores nothing (FG_RESPSTORE_FULL).
 * The syncer's sweep deletes expired files and, for a key or the whole
 * store past 7/8 of its cap, the oldest files until it is under 3/4, so
 * a steady writer keeps storing while its old records make room. A put
 * that passes 7/8 of a cap asks for a sweep at the syncer's next tick.
 *
 * Ids are 1..FG_RESPSTORE_ID_MAX bytes of [A-Za-z0-9_-]; anything else is
 * never stored and never found (no path can be named through an id).
 *
 * Processes: workers call put and get (blocking file I/O of one record,
 * in the page cache in the steady state: documented in
 * docs/architecture.md); the master calls fg_respstore_prepare() before
 * forking; the syncer calls fg_respstore_sweep(). The counters may only
 * overstate what is on disk (a worker killed between counting and
 * linking leaks its count until the next start's prepare), so the caps
 * hold whatever dies when.
 *
 * Library code: no logging; errors through fg_err_t.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/conf.h"
#include "common/base/errors.h"

#define FG_RESPSTORE_ID_MAX    64      /* bytes of a response or item id */
#define FG_RESPSTORE_SHARDS    256
#define FG_RESPSTORE_ALIASES_MAX 256   /* output items given an alias */
#define FG_RESPSTORE_MAX_KEYS  (1u << 24)   /* fg_respstore_bytes() */
#define FG_RESPSTORE_FULL      1       /* fg_respstore_put(): over a cap */

/* The shared counters: a region of the shm arena (common/base/shm.h). */
typedef struct fg_respstore_s fg_respstore_t;

/* The operator's bounds (conf "responses.*"), and where the files are. */
typedef struct {
    const char *dir;               /* <data_dir>/responses; borrowed */
    uint64_t    total_bytes_max;   /* responses.store_bytes; 0: store off */
    uint64_t    key_bytes_max;     /* responses.store_key_bytes */
    int64_t     ttl_ms;            /* responses.store_ttl_s * 1000 */
} fg_respstore_conf_t;

/* The bounds of @conf (responses.*; dir borrowed from it). Cannot fail. */
fg_respstore_conf_t fg_respstore_conf_from(const fg_conf_t *conf);

/* What the store holds and has done, for /metrics. */
typedef struct {
    uint64_t bytes;                /* counted bytes of every file */
    uint64_t files;                /* records and aliases */
    uint64_t stored_total;         /* records stored */
    uint64_t refused_total;        /* puts refused by a cap */
    uint64_t failed_total;         /* puts that failed on I/O, or of
                                      an id stored already */
    uint64_t expired_total;        /* files the sweep deleted for age */
    uint64_t evicted_total;        /* files the sweep deleted for room */
    uint64_t sweeps_total;
} fg_respstore_stats_t;

/* What one sweep did. */
typedef struct {
    uint64_t scanned;
    uint64_t expired;
    uint64_t evicted;
    uint64_t freed_bytes;
} fg_respstore_sweep_t;

/*
 * Bytes of the shm region for @max_keys keys (1..FG_RESPSTORE_MAX_KEYS;
 * else 0): the counters and a table of bytes per key with room for
 * 2 x @max_keys keys and some. A key takes its entry at its first put
 * and keeps it until the next start's prepare, so puts of keys past that
 * room (keys made and deleted by the thousand between restarts) are
 * refused as FULL.
 */
size_t fg_respstore_bytes(uint32_t max_keys);

/* Lays out empty counters in the zeroed, 64-byte aligned @mem of @bytes.
 * Master, before forking. NULL with @err set on a bad size. */
fg_respstore_t *fg_respstore_init(void *mem, size_t bytes, uint32_t max_keys,
                                  fg_err_t *err);

/*
 * Master, before forking: creates @c->dir and its shard folders (0700),
 * deletes expired files, unreadable ones and leftover temporary files,
 * and sets the counters (bytes and files, all and per key) to what is
 * on disk; a store past 7/8 of a cap asks for a sweep. With
 * @c->total_bytes_max 0 it does nothing (the folder may be absent; files
 * in it are left alone). FG_ERR with @err on an I/O error.
 */
int fg_respstore_prepare(fg_respstore_t *s, const fg_respstore_conf_t *c,
                         int64_t now_ms, fg_err_t *err);

/*
 * Worker: stores the conversation of response @resp_id for key @key_id at
 * wall time @now_ms. The array written is "[" + @context + ("," when both
 * are non-empty) + the items of @output + "]": @context is @context_len
 * bytes of comma-separated JSON items (0 or only white space: none; the
 * caller vouches that they are JSON), @output a JSON array of the
 * response's output items (@output_len bytes, parsed here); each of its
 * first FG_RESPSTORE_ALIASES_MAX items with a string "id" that is a
 * storable id other than @resp_id gets an alias.
 *
 * Returns FG_OK once the record is stored; FG_RESPSTORE_FULL when the
 * record and its aliases would pass the key's or the total cap, the
 * per-key table has no room for a new key, or the store is off (nothing
 * written); FG_ERR with @err when an id is not a storable id
 * (FG_E_INVALID_VALUE), @output not a JSON array (the parse's code, or
 * FG_E_INVALID_VALUE), a file has @resp_id's name already (a response or
 * an item of that id is stored: FG_E_INVALID_VALUE, and what is there
 * stays as it was), or on I/O (disk full...: FG_E_INTERNAL); the last
 * two count as failed_total. A failed record leaves nothing on disk and
 * gives its counts back. An alias that cannot be written (its id names a
 * file already, or I/O) is skipped, its count given back, and the put
 * still succeeds: that item is then reachable through the response id
 * only. Blocks on the file system (a few small writes).
 */
int fg_respstore_put(fg_respstore_t *s, const fg_respstore_conf_t *c,
                     const char *key_id, const char *resp_id, int64_t now_ms,
                     const char *context, size_t context_len,
                     const char *output, size_t output_len, fg_err_t *err);

/*
 * Worker: looks up @id (@id_len bytes; need not be NUL-terminated) for
 * key @key_id at wall time @now_ms. A response id gives its whole
 * conversation array; an output item id gives "[" + that item + "]" (the
 * last item of its response with that id). FG_OK with *@json malloc'd
 * and NUL-terminated (*@json_len bytes; the caller frees it), FG_ERR when
 * unknown, expired, another key's, not a storable id, unreadable
 * (truncated, corrupt, larger than the key cap allows), or the store is
 * off (the caller says "no stored response or item has the id"). This
 * matches fg_responses_lookup_pt's contract (worker/responses_req.h).
 * Blocks on the file system (one or two files read whole).
 */
int fg_respstore_get(const fg_respstore_conf_t *c, const char *key_id,
                     const char *id, size_t id_len, int64_t now_ms,
                     char **json, size_t *json_len);

/* Whether a put has asked for a sweep since the last one. Syncer, each
 * tick; any process. */
int fg_respstore_sweep_wanted(const fg_respstore_t *s);

/*
 * Syncer: one pass over every shard: deletes expired files, unreadable
 * ones and temporary files older than a minute; then, for a key or the
 * whole store past 7/8 of its cap, the oldest files until it is under
 * 3/4 (two more passes: a histogram of bytes by age, then the deletes),
 * giving their bytes back to the counters. Memory is bounded (a
 * histogram per key over its cap, at most 64 keys per sweep; the rest at
 * the next). Clears the wanted flag first. FG_ERR with @err when a shard
 * folder cannot be read (the others are still swept); a file that
 * vanished meanwhile is skipped. With the store off, does nothing. Blocks
 * for as long as the pass takes (one open and one small read per file).
 */
int fg_respstore_sweep(fg_respstore_t *s, const fg_respstore_conf_t *c,
                       int64_t now_ms, fg_respstore_sweep_t *out,
                       fg_err_t *err);

/* The counters, for /metrics. Any process. */
void fg_respstore_stats(const fg_respstore_t *s, fg_respstore_stats_t *out);

/* The counted bytes of key @key_id's files. Any process. */
uint64_t fg_respstore_key_bytes(const fg_respstore_t *s, const char *key_id);

#endif
