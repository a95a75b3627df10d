#ifndef FG_COMMON_SCRIPTS_H
#define FG_COMMON_SCRIPTS_H

/*
 * The cluster's Redis scripts: every change of the shared state (the node
 * registry, key records, balances, leases, reports) is one Lua script,
 * atomic in Redis. This module only holds their sources: the syncer SCRIPT
 * LOADs them at connect and calls EVALSHA (EVAL on NOSCRIPT); nothing here
 * talks to Redis. docs/cluster.md ("Scripts") gives the argument for the
 * invariant each keeps.
 *
 * Key space ({K} is a tenant key id, key_<16 hex>, the hash tag of all its
 * names):
 *   fg:{K}:rec       hash: json (the record, keyjson's store shape),
 *                    version (1, 2, ...: bumped by every record change)
 *   fg:{K}:bal       hash: balance (unleased credit), initial, topups,
 *                    adjust, regen, charged, regen_at_ms, regen_carry,
 *                    regen_per_hour, cap
 *   fg:{K}:lease     hash: node -> credit the node holds on lease (no
 *                    field when none)
 *   fg:{K}:op        hash: node -> "<op id>:<amount>" of its last applied
 *                    lease operation (a return's amount negated)
 *   fg:{K}:seq       hash: node -> its last applied report batch
 *   fg:{K}:idem:<i>  string, EX 86400: "<op>:<amount>:<version>:<event
 *                    id>:<balance>", a top-up or adjust made under
 *                    idempotency key <i>
 *   fg:{K}:use:<yyyymmdd>  hash, EXPIRE: <model>|requests, |prompt,
 *                    |completion, |charged (split at the last '|')
 *   fg:events        stream: key K op <op> version <v>, one per key write
 *   fg:usage         stream, MAXLEN ~: node, key, record (usage JSON)
 *   fg:nodes         hash: node -> {"instance", "seen_ms", ...its json}
 *   fg:epoch         string: the cluster's epoch
 *   fg:secret        string: the key-hashing secret's fingerprint
 *
 * The invariant, exact after every script, for every key:
 *   balance + sum(lease) + charged = initial + topups + adjust + regen
 *
 * Numbers. Redis's Lua numbers are doubles. Every amount is an integer of
 * micro-units, passed as a decimal string of at most 16 digits. Amounts,
 * rates, caps and times (want, initial, amount, charged, regen_per_hour,
 * cap, now_ms, ...) are at most FG_CLUSTER_AMOUNT_MAX, as the admin API's
 * own bound (FG_KEYJSON_ENERGY_MAX); a key's credit (balance + its leases)
 * stays within it too, down to -FG_CLUSTER_AMOUNT_MAX for a balance a late
 * report took below 0. Within those bounds every sum and product the
 * scripts make is below 2^53, so exact (regeneration splits its product:
 * see the prelude's regenerate()); a stored total that would pass
 * FG_CLUSTER_SAFE_MAX (a key's lifetime top-ups, charges, regeneration) is
 * refused rather than rounded. Op ids, report sequences and versions are
 * 1 to FG_CLUSTER_SAFE_MAX.
 *
 * Errors are error replies "<KIND> <message>", KIND one of:
 *   FGARG      an argument is malformed or out of its bounds, KEYS name
 *              another key than the rest, or the change would break a
 *              bound (a balance below 0 or past the limit)
 *   FGNOKEY    the tenant key does not exist
 *   FGEXISTS   create: it does
 *   FGVERSION  the record is not at the expected version
 *   FGREVOKED  the key is revoked: it changes no more
 *   FGIDEM     an idempotency key already used for another change
 *   FGSTALE    a lease op id below the node's last, or equal to it with
 *              another operation
 *   FGGAP      a report batch past the node's last + 1
 *   FGEPOCH    join: no epoch, and the node must not make one
 *   FGSECRET   join: another key-hashing secret
 *   FGNODE     join, heartbeat: another process holds the node id, or
 *              the node was forgotten
 *   FGSTATE    what Redis holds is not what a script writes (a
 *              malformed figure, one past FG_CLUSTER_SAFE_MAX, a key of
 *              another type): never rounded or overwritten
 * A script that fails changed nothing: each checks and computes
 * everything before its first write.
 */

#include <stdint.h>

/* 10^15 micro-units: FG_KEYJSON_ENERGY_MAX (test_cluster_scripts checks
 * that they agree; cluster/ does not include store/). */
#define FG_CLUSTER_AMOUNT_MAX   1000000000000000LL
#define FG_CLUSTER_SAFE_MAX     9007199254740991LL      /* 2^53 - 1 */
#define FG_CLUSTER_IDEM_TTL_S   86400

typedef enum {
    /*
     * A node enters the cluster (at every connect).
     * KEYS fg:epoch, fg:secret, fg:nodes
     * ARGV node, instance (a nonce of this process), secret fingerprint,
     *      epoch candidate ("" when the node remembers an epoch and must
     *      not make one), now_ms, stale_ms, node json (an object, without
     *      "instance" or "seen_ms")
     * Epoch absent: set to the candidate (FGEPOCH when ""). Secret absent:
     * set; another: FGSECRET. An entry of another instance seen less than
     * stale_ms ago: FGNODE. Then the entry becomes {"instance",
     * "seen_ms": now_ms, ...json}.
     * Reply: the epoch (bulk string). A node that remembers one compares
     * it and goes no further on a difference.
     */
    FG_CLUSTER_SCRIPT_JOIN,

    /*
     * KEYS fg:nodes
     * ARGV node, instance, now_ms, node json (as join's)
     * FGNODE when the entry is gone (forgotten) or of another instance
     * (another process took the id): join again. Else refreshes seen_ms
     * and json. Reply: OK.
     */
    FG_CLUSTER_SCRIPT_HEARTBEAT,

    /*
     * An admin change of a key; each appends one event to fg:events.
     * KEYS fg:{K}:rec, fg:{K}:bal, fg:events, fg:{K}:idem:<i> (used only
     *      with the idem flag; without, pass fg:{K}:idem:), fg:{K}:lease
     * ARGV op, K, now_ms, then by op:
     *   create  json, initial, regen_per_hour, cap: FGEXISTS if the key
     *           exists; version 1, balance = initial, regeneration from
     *           now_ms.
     *   update  json, expected version, regen_per_hour, cap: regenerates
     *           to now under the old settings, then takes the new ones.
     *   revoke  json (status revoked), expected version
     *   rotate  json, expected version
     *   topup   amount (1 to the limit), idem flag ("1" or "0")
     *   adjust  amount (not 0; negative takes credit away), idem flag
     * update, revoke, rotate: compare-and-set, no unconditional form
     * (FGVERSION: read the record again and redo the change); they write
     * the record and bump its version. topup, adjust: regenerate, then
     * move balance and topups (adjust) by amount; the version stays (the
     * record is unchanged, so an update read before still applies).
     * FGARG when the credit would pass FG_CLUSTER_AMOUNT_MAX, or a
     * negative adjust would take the unleased balance below 0 (leased
     * credit is the nodes'). With the flag, a repeat under the same
     * idempotency key replies the first reply and changes nothing (also
     * once the key is revoked); under another op or amount, FGIDEM.
     * json must be an object whose "id" is K; its "status" is revoked
     * exactly for revoke. FGNOKEY: no record; FGREVOKED: the stored
     * record is revoked (for every op but create; revoking twice is the
     * caller's no-op).
     * Reply: {version, event id, balance (unleased), applied}; applied is
     * 0 only for a repeat under an idempotency key.
     */
    FG_CLUSTER_SCRIPT_KEY_WRITE,

    /*
     * KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:op
     * ARGV node, op id, want, now_ms
     * Op id equal to the node's last grant: its reply again, nothing
     * moves (balance and lease as they are now). Below the last, or
     * equal to a return: FGSTALE. Else regenerates (the cap against
     * balance + all leases), grants g = min(want, max(balance, 0)),
     * moves g from balance to the node's lease.
     * Reply: {g, balance, the node's lease}.
     */
    FG_CLUSTER_SCRIPT_LEASE_GRANT,

    /*
     * KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:op
     * ARGV node, op id (one sequence with the grants), amount (> 0)
     * Op id equal to the node's last return of the same amount: its reply
     * again. Below, or equal to anything else: FGSTALE. More than the
     * node's lease: FGARG. Else moves amount from the lease to balance.
     * Reply: {amount, balance, the node's lease}.
     */
    FG_CLUSTER_SCRIPT_LEASE_RETURN,

    /*
     * The operator's "cluster forget NODE", one key at a time.
     * KEYS fg:{K}:bal, fg:{K}:lease
     * ARGV node
     * Moves the node's whole lease into balance. Its op and seq stay, so
     * its later reports still apply once each (taking what its lease no
     * longer covers from balance: the exposure).
     * Reply: the amount released (0: none held).
     */
    FG_CLUSTER_SCRIPT_LEASE_RELEASE,

    /*
     * A node's charges of one key, one numbered batch.
     * KEYS fg:{K}:bal, fg:{K}:lease, fg:{K}:seq, fg:{K}:use:<yyyymmdd>,
     *      fg:usage
     * ARGV node, seq, charged, retention_s, usage_maxlen, n_models (at
     *      most 500), then n_models times (model, requests, prompt,
     *      completion, charged), then zero or more usage records (JSON
     *      text)
     * seq at or below the node's last: {"dup", last}, nothing changes.
     * Past last + 1: FGGAP (Redis lost acknowledged batches). The
     * models' charged must add up to charged (FGARG). Else takes charged
     * from the node's lease, what it lacks from balance (which may go
     * below 0, not below -FG_CLUSTER_AMOUNT_MAX: FGARG), adds it to
     * charged, adds the counters to the day's hash and sets its expiry to
     * retention_s, appends each record to fg:usage (MAXLEN ~
     * usage_maxlen), and records seq. No regeneration (no clock here).
     * Reply: {"ok", seq}.
     */
    FG_CLUSTER_SCRIPT_REPORT,

    /*
     * Read-only.
     * KEYS fg:{K}:bal, fg:{K}:lease
     * ARGV now_ms
     * Reply: {balance, sum of the leases, charged, initial, topups,
     * adjust, regen}, regenerated to now_ms without writing.
     */
    FG_CLUSTER_SCRIPT_BALANCE,

    FG_CLUSTER_SCRIPTS
} fg_cluster_script_t;

/* The script's name ("lease_grant"); "" for a value out of range. */
const char *fg_cluster_script_name(fg_cluster_script_t s);

/* The script's Lua source, static; "" for a value out of range. */
const char *fg_cluster_script_text(fg_cluster_script_t s);

/* How many KEYS the script takes (EVALSHA's numkeys); 0 out of range. */
unsigned fg_cluster_script_numkeys(fg_cluster_script_t s);

#endif
