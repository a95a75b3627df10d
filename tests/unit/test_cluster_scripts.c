/*
 * test_cluster_scripts.c: the cluster's Redis scripts (common/cluster/
 * scripts) in a real redis-server, through hiredis's synchronous API.
 * Each script's happy path and each of its errors; resends of lease
 * operations, report batches and top-ups applied once; a randomised
 * sequence of every operation by three nodes on two keys, after each of
 * which Redis holds exactly what a model in C computes and the invariant
 * holds; regeneration equal to fg_ledger_regen() for random figures
 * within the documented bounds, and at those bounds.
 *
 * One server for the file, on a unix socket in a fresh mkdtemp folder (no
 * TCP port: --port 0), appendonly with appendfsync always, started by the
 * first test and ended by PID at exit (SIGTERM, SIGKILL after a bound,
 * waitpid); it also dies with the test process (PR_SET_PDEATHSIG). Every
 * test starts from FLUSHALL, with the scripts loaded by SCRIPT LOAD and
 * called by EVALSHA. redis-server is a dependency (`make deps` installs
 * Debian's): without it every test fails, saying so.
 */

#include "common/cluster/scripts.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/wait.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "common/accounts/keytable.h"
#include "common/accounts/ledger.h"
#include "common/base/clock.h"
#include "common/store/keyjson.h"
#include "tests/unit/fg_test.h"
#include "tests/unit/redis_server.h"

#define T0        1800000000000LL       /* ms */
#define HOUR      3600000LL             /* ms */
#define LIMIT     FG_CLUSTER_AMOUNT_MAX
#define K1        "key_0123456789abcdef"
#define K2        "key_fedcba9876543210"
#define NODES     3
#define ARGS_MAX  64

/* ---- the server --------------------------------------------------------- */

static struct {
    redis_server_t server;              /* tests/unit/redis_server.h */
    int            is_started;
    int            is_broken;           /* could not start: every test
                                           fails */
    redisContext  *c;
    char           sha[FG_CLUSTER_SCRIPTS][41];
} srv;

/* Ends the server by PID, always (atexit). */
static void
server_stop(void)
{
    if (srv.c != NULL) {
        redisFree(srv.c);
        srv.c = NULL;
    }
    if (srv.is_started) {
        redis_server_stop(&srv.server);
        srv.is_started = 0;
    }
}

/* Starts the server and loads the scripts; FG_ERR after recording why. */
static int
server_start(void)
{
    int s;

    if (redis_server_start(&srv.server, NULL) != 0) {
        return FG_ERR;
    }
    srv.is_started = 1;
    atexit(server_stop);
    srv.c = redisConnectUnix(srv.server.sock);
    if (srv.c == NULL || srv.c->err != 0) {
        FG_TEST_FAIL("cannot connect to redis-server on %s: %s",
                     srv.server.sock,
                     srv.c != NULL ? srv.c->errstr : "out of memory");
        return FG_ERR;
    }
    for (s = 0; s < FG_CLUSTER_SCRIPTS; s++) {
        redisReply *r = redisCommand(srv.c, "SCRIPT LOAD %s",
                                     fg_cluster_script_text(s));

        if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
            FG_TEST_FAIL("SCRIPT LOAD %s: %s", fg_cluster_script_name(s),
                         r != NULL && r->str != NULL ? r->str
                                                     : srv.c->errstr);
            freeReplyObject(r);
            return FG_ERR;
        }
        memcpy(srv.sha[s], r->str, 41);
        freeReplyObject(r);
    }
    return FG_OK;
}

/* A clean database for one test; 0 (with a failure recorded) when there
 * is no server. */
static int
fresh(void)
{
    redisReply *r;

    if (srv.is_broken) {
        FG_TEST_FAIL("no redis-server (see the first test's failure)");
        return 0;
    }
    if (srv.c == NULL && server_start() != FG_OK) {
        srv.is_broken = 1;
        return 0;
    }
    r = redisCommand(srv.c, "FLUSHALL");
    freeReplyObject(r);
    return 1;
}

/* ---- calls -------------------------------------------------------------- */

/* A reply, copied out of hiredis's. */
typedef struct {
    int     is_err;
    char    err[256];
    int     n;                      /* elements (1 for a scalar) */
    int     is_int[8];
    int64_t v[8];
    char    s[8][256];              /* strings, status, errors */
} res_t;

static void
res_put(res_t *res, int i, const redisReply *r)
{
    if (i >= 8) {
        return;
    }
    if (r->type == REDIS_REPLY_INTEGER) {
        res->is_int[i] = 1;
        res->v[i] = r->integer;
    } else if (r->str != NULL) {
        snprintf(res->s[i], sizeof(res->s[i]), "%s", r->str);
    }
}

static res_t
res_of(redisReply *r)
{
    res_t  res;
    size_t i;

    memset(&res, 0, sizeof(res));
    if (r == NULL) {
        res.is_err = 1;
        snprintf(res.err, sizeof(res.err), "(no reply: %s)",
                 srv.c != NULL ? srv.c->errstr : "no server");
        return res;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        res.is_err = 1;
        snprintf(res.err, sizeof(res.err), "%s", r->str);
    } else if (r->type == REDIS_REPLY_ARRAY) {
        res.n = (int) r->elements;
        for (i = 0; i < r->elements; i++) {
            res_put(&res, (int) i, r->element[i]);
        }
    } else {
        res.n = 1;
        res_put(&res, 0, r);
    }
    freeReplyObject(r);
    return res;
}

/* EVALSHA of @s with @argc arguments, its KEYS first. */
static res_t
call_argv(fg_cluster_script_t s, int argc, const char **args)
{
    const char *argv[ARGS_MAX + 3];
    char        numkeys[16];
    int         i;

    if (srv.c == NULL || argc > ARGS_MAX) {
        return res_of(NULL);
    }
    snprintf(numkeys, sizeof(numkeys), "%u", fg_cluster_script_numkeys(s));
    argv[0] = "EVALSHA";
    argv[1] = srv.sha[s];
    argv[2] = numkeys;
    for (i = 0; i < argc; i++) {
        argv[i + 3] = args[i];
    }
    return res_of(redisCommandArgv(srv.c, argc + 3, argv, NULL));
}

/* The same, arguments as a NULL-terminated list. */
static res_t
call(fg_cluster_script_t s, ...)
{
    const char *args[ARGS_MAX];
    const char *a;
    int         argc = 0;
    va_list     ap;

    va_start(ap, s);
    while ((a = va_arg(ap, const char *)) != NULL && argc < ARGS_MAX) {
        args[argc++] = a;
    }
    va_end(ap);
    return call_argv(s, argc, args);
}

static res_t
cmd(const char *fmt, ...)
{
    va_list ap;
    void   *r;

    if (srv.c == NULL) {
        return res_of(NULL);
    }
    va_start(ap, fmt);
    r = redisvCommand(srv.c, fmt, ap);
    va_end(ap);
    return res_of(r);
}

/* @v as a decimal string, in a ring of buffers long enough for a call. */
static const char *
I(int64_t v)
{
    static char ring[ARGS_MAX][24];
    static int  at;

    at = (at + 1) % ARGS_MAX;
    snprintf(ring[at], sizeof(ring[at]), "%lld", (long long) v);
    return ring[at];
}

/* The name of @suffix of tenant key @k, in a ring of buffers. */
static const char *
N(const char *k, const char *suffix)
{
    static char ring[32][300];
    static int  at;

    at = (at + 1) % 32;
    snprintf(ring[at], sizeof(ring[at]), "fg:{%s}:%s", k, suffix);
    return ring[at];
}

#define expect_ok(r)                                                        \
    do {                                                                    \
        if ((r).is_err) {                                                   \
            FG_TEST_FAIL("%s: unexpected error %s", #r, (r).err);           \
        }                                                                   \
    } while (0)

/* An error reply of @kind: "<kind> <message>". */
#define expect_err(r, kind)                                                 \
    do {                                                                    \
        if (!(r).is_err || strncmp((r).err, kind " ",                       \
                                   sizeof(kind)) != 0) {                    \
            FG_TEST_FAIL("%s: expected %s, got %s%s", #r, kind,             \
                         (r).is_err ? "" : "no error", (r).err);            \
        }                                                                   \
    } while (0)

/* ---- the scripts, as the syncer will call them -------------------------- */

static const char *
rec_json(const char *k, int status)
{
    static char buf[160];

    snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"status\":%d,"
             "\"name\":\"test\"}", k, status);
    return buf;
}

static res_t
kw_create(const char *k, int64_t initial, int64_t rate, int64_t cap,
          int64_t now)
{
    return call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(k, "rec"), N(k, "bal"),
                "fg:events", N(k, "idem:"), N(k, "lease"), "create", k,
                I(now), rec_json(k, FG_KEY_STATUS_ACTIVE), I(initial),
                I(rate), I(cap), NULL);
}

static res_t
kw_update(const char *k, int64_t version, int64_t rate, int64_t cap,
          int64_t now)
{
    return call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(k, "rec"), N(k, "bal"),
                "fg:events", N(k, "idem:"), N(k, "lease"), "update", k,
                I(now), rec_json(k, FG_KEY_STATUS_ACTIVE), I(version),
                I(rate), I(cap), NULL);
}

/* revoke or rotate */
static res_t
kw_record(const char *k, const char *op, int64_t version, int64_t now)
{
    int status = strcmp(op, "revoke") == 0 ? FG_KEY_STATUS_REVOKED
                                           : FG_KEY_STATUS_ACTIVE;

    return call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(k, "rec"), N(k, "bal"),
                "fg:events", N(k, "idem:"), N(k, "lease"), op, k, I(now),
                rec_json(k, status), I(version), NULL);
}

/* topup or adjust; @idem NULL: none */
static res_t
kw_money(const char *k, const char *op, int64_t amount, const char *idem,
         int64_t now)
{
    char name[300];

    snprintf(name, sizeof(name), "fg:{%s}:idem:%s", k,
             idem != NULL ? idem : "");
    return call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(k, "rec"), N(k, "bal"),
                "fg:events", name, N(k, "lease"), op, k, I(now),
                I(amount), idem != NULL ? "1" : "0", NULL);
}

static res_t
grant(const char *k, const char *node, int64_t op, int64_t want,
      int64_t now)
{
    return call(FG_CLUSTER_SCRIPT_LEASE_GRANT, N(k, "bal"), N(k, "lease"),
                N(k, "op"), node, I(op), I(want), I(now), NULL);
}

static res_t
give_back(const char *k, const char *node, int64_t op, int64_t amount)
{
    return call(FG_CLUSTER_SCRIPT_LEASE_RETURN, N(k, "bal"), N(k, "lease"),
                N(k, "op"), node, I(op), I(amount), NULL);
}

static res_t
release(const char *k, const char *node)
{
    return call(FG_CLUSTER_SCRIPT_LEASE_RELEASE, N(k, "bal"),
                N(k, "lease"), node, NULL);
}

/* A batch of one model's charges, with one usage record. */
static res_t
report(const char *k, const char *node, int64_t seq, int64_t charged)
{
    return call(FG_CLUSTER_SCRIPT_REPORT, N(k, "bal"), N(k, "lease"),
                N(k, "seq"), N(k, "use:20270115"), "fg:usage", node, I(seq),
                I(charged), "86400", "1000", "1", "gpt-4o", "1", "10", "20",
                I(charged), "{\"request\":1}", NULL);
}

static res_t
balance(const char *k, int64_t now)
{
    return call(FG_CLUSTER_SCRIPT_BALANCE, N(k, "bal"), N(k, "lease"),
                I(now), NULL);
}

/* ---- what Redis holds --------------------------------------------------- */

typedef struct {
    int     exists;
    int64_t balance, initial, topups, adjust, regen, charged;
    int64_t regen_at_ms, regen_carry, regen_per_hour, cap;
    int64_t lease[NODES];           /* n1, n2, n3 */
    int64_t leased;                 /* all leases */
    int     lease_fields;
} bal_t;

static const char *const node_names[NODES] = { "n1", "n2", "n3" };

static bal_t
bal_read(const char *k)
{
    static const char *const fields[] = {
        "balance", "initial", "topups", "adjust", "regen", "charged",
        "regen_at_ms", "regen_carry", "regen_per_hour", "cap"
    };
    bal_t       b;
    int64_t    *at[] = { &b.balance, &b.initial, &b.topups, &b.adjust,
                         &b.regen, &b.charged, &b.regen_at_ms,
                         &b.regen_carry, &b.regen_per_hour, &b.cap };
    redisReply *r;
    size_t      i, f;
    int         n;

    memset(&b, 0, sizeof(b));
    r = redisCommand(srv.c, "HGETALL %s", N(k, "bal"));
    for (i = 0; r != NULL && i + 1 < r->elements; i += 2) {
        for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            if (strcmp(r->element[i]->str, fields[f]) == 0) {
                *at[f] = strtoll(r->element[i + 1]->str, NULL, 10);
            }
        }
        b.exists = 1;
    }
    freeReplyObject(r);
    r = redisCommand(srv.c, "HGETALL %s", N(k, "lease"));
    for (i = 0; r != NULL && i + 1 < r->elements; i += 2) {
        int64_t v = strtoll(r->element[i + 1]->str, NULL, 10);

        for (n = 0; n < NODES; n++) {
            if (strcmp(r->element[i]->str, node_names[n]) == 0) {
                b.lease[n] = v;
            }
        }
        b.leased += v;
        b.lease_fields++;
    }
    freeReplyObject(r);
    return b;
}

/* balance + leases + charged = initial + topups + adjust + regen */
#define expect_invariant(k)                                                 \
    do {                                                                    \
        bal_t inv_ = bal_read(k);                                          \
        expect_int_eq(inv_.balance + inv_.leased + inv_.charged,         \
                      inv_.initial + inv_.topups + inv_.adjust           \
                      + inv_.regen);                                       \
    } while (0)

/* A bal hash set as a test wants it (a state no script sequence needs to
 * reach first): credit = @balance + @lease_n1. */
static void
bal_set(const char *k, int64_t bal, int64_t lease_n1, int64_t at,
        int64_t carry, int64_t rate, int64_t cap)
{
    redisReply *r;

    r = redisCommand(srv.c, "DEL %s %s %s", N(k, "bal"), N(k, "lease"),
                     N(k, "op"));
    freeReplyObject(r);
    r = redisCommand(srv.c, "HSET %s balance %s initial 0 topups 0 "
                     "adjust 0 regen 0 charged 0 regen_at_ms %s "
                     "regen_carry %s regen_per_hour %s cap %s",
                     N(k, "bal"), I(bal), I(at), I(carry), I(rate), I(cap));
    freeReplyObject(r);
    if (lease_n1 != 0) {
        r = redisCommand(srv.c, "HSET %s n1 %s", N(k, "lease"),
                         I(lease_n1));
        freeReplyObject(r);
    }
}

static int64_t
stream_len(const char *name)
{
    res_t r = cmd("XLEN %s", name);

    return r.is_err ? -1 : r.v[0];
}

/* ---- the module --------------------------------------------------------- */

static void
scripts_are_named_and_load(void)
{
    const char *names[] = { "join", "heartbeat", "key_write", "lease_grant",
                            "lease_return", "lease_release", "report",
                            "balance" };
    unsigned    keys[] = { 3, 1, 5, 3, 3, 2, 5, 2 };
    int         s;

    if (!fresh()) {
        return;
    }
    for (s = 0; s < FG_CLUSTER_SCRIPTS; s++) {
        expect_str_eq(fg_cluster_script_name(s), names[s]);
        expect_int_eq(fg_cluster_script_numkeys(s), keys[s]);
        expect_true(strlen(fg_cluster_script_text(s)) > 100);
        expect_int_eq(strlen(srv.sha[s]), 40);
    }
    expect_str_eq(fg_cluster_script_name(FG_CLUSTER_SCRIPTS), "");
    expect_str_eq(fg_cluster_script_text(FG_CLUSTER_SCRIPTS), "");
    expect_int_eq(fg_cluster_script_numkeys(FG_CLUSTER_SCRIPTS), 0);
}

/* The Lua states these as literals; they are the other modules'. */
static void
bounds_are_the_admin_apis(void)
{
    expect_int_eq(FG_CLUSTER_AMOUNT_MAX, FG_KEYJSON_ENERGY_MAX);
    expect_int_eq(FG_KEY_STATUS_REVOKED, 2);
    expect_int_eq(FG_CLUSTER_SAFE_MAX, (1LL << 53) - 1);
    expect_true(strstr(fg_cluster_script_text(FG_CLUSTER_SCRIPT_BALANCE),
                       "local LIMIT = 1000000000000000\n") != NULL);
    expect_true(strstr(fg_cluster_script_text(FG_CLUSTER_SCRIPT_KEY_WRITE),
                       "local REVOKED = 2 ") != NULL);
}

static void
wrong_numkeys_is_fgarg(void)
{
    const char *argv[] = { "EVALSHA", NULL, "1", N(K1, "bal"), "0" };
    res_t       r;

    if (!fresh()) {
        return;
    }
    argv[1] = srv.sha[FG_CLUSTER_SCRIPT_BALANCE];
    r = res_of(redisCommandArgv(srv.c, 5, argv, NULL));
    expect_err(r, "FGARG");
}

/* ---- join and heartbeat ------------------------------------------------- */

static res_t
join(const char *node, const char *instance, const char *fingerprint,
     const char *candidate, int64_t now, const char *json)
{
    return call(FG_CLUSTER_SCRIPT_JOIN, "fg:epoch", "fg:secret", "fg:nodes",
                node, instance, fingerprint, candidate, I(now), "10000",
                json, NULL);
}

static res_t
heartbeat(const char *node, const char *instance, int64_t now)
{
    return call(FG_CLUSTER_SCRIPT_HEARTBEAT, "fg:nodes", node, instance,
                I(now), "{\"address\":\"10.0.0.1:8080\"}", NULL);
}

static void
join_makes_the_epoch_and_records_the_secret(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    r = join("n1", "i1", "fp1", "epochA", T0, "{}");
    expect_ok(r);
    expect_str_eq(r.s[0], "epochA");
    expect_str_eq(cmd("GET fg:epoch").s[0], "epochA");
    expect_str_eq(cmd("GET fg:secret").s[0], "fp1");
}

static void
join_answers_the_epoch_there_not_the_candidate(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    r = join("n2", "i2", "fp1", "epochB", T0, "{}");
    expect_str_eq(r.s[0], "epochA");
    r = join("n3", "i3", "fp1", "", T0, "{}");
    expect_str_eq(r.s[0], "epochA");
    expect_str_eq(cmd("GET fg:epoch").s[0], "epochA");
}

static void
join_is_fgepoch_when_redis_lost_the_epoch(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    r = join("n1", "i1", "fp1", "", T0, "{}");
    expect_err(r, "FGEPOCH");
    expect_int_eq(cmd("EXISTS fg:epoch fg:secret fg:nodes").v[0], 0);
}

static void
join_with_another_secret_is_fgsecret(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    r = join("n2", "i2", "fp2", "", T0, "{}");
    expect_err(r, "FGSECRET");
    expect_int_eq(cmd("HEXISTS fg:nodes n2").v[0], 0);
}

static void
join_of_a_live_node_id_by_another_instance_is_fgnode(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    r = join("n1", "i2", "fp1", "", T0 + 9999, "{}");
    expect_err(r, "FGNODE");
    /* The same instance again (a reconnect) is no second node. */
    expect_ok(join("n1", "i1", "fp1", "", T0 + 5000, "{}"));
}

static void
join_takes_over_a_stale_entry(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    r = join("n1", "i2", "fp1", "", T0 + 10000, "{}");
    expect_ok(r);
    r = cmd("HGET fg:nodes n1");
    expect_str_eq(r.s[0], "{\"instance\":\"i2\",\"seen_ms\":1800000010000}");
}

static void
join_keeps_the_node_json_as_given(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0,
                   "{\"address\":\"10.0.0.1:8080\",\"pid\":4242,"
                   "\"started_ms\":1234567890123456}"));
    r = cmd("HGET fg:nodes n1");
    expect_str_eq(r.s[0], "{\"instance\":\"i1\",\"seen_ms\":1800000000000,"
                  "\"address\":\"10.0.0.1:8080\",\"pid\":4242,"
                  "\"started_ms\":1234567890123456}");
}

static void
join_with_bad_node_json_is_fgarg(void)
{
    if (!fresh()) {
        return;
    }
    expect_err(join("n1", "i1", "fp1", "e", T0, "{\"instance\":\"x\"}"),
               "FGARG");
    expect_err(join("n1", "i1", "fp1", "e", T0, "{\"seen_ms\":1}"),
               "FGARG");
    expect_err(join("n1", "i1", "fp1", "e", T0, "[1]"), "FGARG");
    expect_err(join("n1", "i1", "fp1", "e", T0, "{oops"), "FGARG");
    expect_err(join("", "i1", "fp1", "e", T0, "{}"), "FGARG");
    expect_err(join("n 1", "i1", "fp1", "e", T0, "{}"), "FGARG");
    expect_int_eq(cmd("EXISTS fg:epoch fg:secret fg:nodes").v[0], 0);
}

static void
heartbeat_refreshes_seen_ms_and_json(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    r = heartbeat("n1", "i1", T0 + 3000);
    expect_ok(r);
    expect_str_eq(r.s[0], "OK");
    r = cmd("HGET fg:nodes n1");
    expect_str_eq(r.s[0], "{\"instance\":\"i1\",\"seen_ms\":1800000003000,"
                  "\"address\":\"10.0.0.1:8080\"}");
}

static void
heartbeat_of_another_instance_is_fgnode(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    expect_ok(join("n1", "i2", "fp1", "", T0 + 20000, "{}"));
    expect_err(heartbeat("n1", "i1", T0 + 20001), "FGNODE");
}

static void
heartbeat_of_a_forgotten_node_is_fgnode(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(join("n1", "i1", "fp1", "epochA", T0, "{}"));
    cmd("HDEL fg:nodes n1");
    expect_err(heartbeat("n1", "i1", T0 + 1000), "FGNODE");
    expect_int_eq(cmd("HEXISTS fg:nodes n1").v[0], 0);
}

/* ---- key_write ---------------------------------------------------------- */

static void
create_sets_version_1_the_balance_and_one_event(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    r = kw_create(K1, 5000, 3600, 100000, T0);
    expect_ok(r);
    expect_int_eq(r.n, 4);
    expect_int_eq(r.v[0], 1);
    expect_true(strchr(r.s[1], '-') != NULL);
    expect_int_eq(r.v[2], 5000);
    expect_int_eq(r.v[3], 1);
    b = bal_read(K1);
    expect_int_eq(b.balance, 5000);
    expect_int_eq(b.initial, 5000);
    expect_int_eq(b.topups + b.adjust + b.regen + b.charged, 0);
    expect_int_eq(b.regen_at_ms, T0);
    expect_int_eq(b.regen_carry, 0);
    expect_int_eq(b.regen_per_hour, 3600);
    expect_int_eq(b.cap, 100000);
    expect_str_eq(cmd("HGET %s json", N(K1, "rec")).s[0],
                  rec_json(K1, FG_KEY_STATUS_ACTIVE));
    expect_str_eq(cmd("HGET %s version", N(K1, "rec")).s[0], "1");
    r = cmd("XRANGE fg:events - +");
    expect_int_eq(r.n, 1);
    expect_invariant(K1);
}

static void
create_takes_the_record_as_keyjson_writes_it(void)
{
    fg_key_record_t rec;
    json_t         *j;
    char           *text;
    res_t           r;
    redisReply     *stored;

    if (!fresh()) {
        return;
    }
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.kr_id, K1, sizeof(K1));
    memcpy(rec.kr_name, "prod", 5);
    rec.kr_status = FG_KEY_STATUS_ACTIVE;
    rec.kr_created_ms = T0;
    rec.kr_updated_ms = T0;
    rec.kr_balance_micro = 999999999999999LL;
    rec.kr_usage_offset = 1234567890123456ULL;
    j = fg_keyjson_store(&rec);
    text = json_dumps(j, JSON_COMPACT);
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "create", K1,
             I(T0), text, "5", "0", "0", NULL);
    expect_ok(r);
    /* Stored as given: every digit of its numbers kept. */
    stored = redisCommand(srv.c, "HGET %s json", N(K1, "rec"));
    expect_true(stored != NULL && stored->type == REDIS_REPLY_STRING);
    if (stored != NULL && stored->type == REDIS_REPLY_STRING) {
        expect_str_eq(stored->str, text);
    }
    freeReplyObject(stored);
    free(text);
    json_decref(j);
}

static void
create_of_an_existing_key_is_fgexists(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 5000, 0, 0, T0));
    expect_err(kw_create(K1, 7000, 0, 0, T0 + 1), "FGEXISTS");
    expect_int_eq(bal_read(K1).balance, 5000);
    expect_int_eq(stream_len("fg:events"), 1);
}

static void
create_with_a_record_of_another_key_is_fgarg(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "create", K1,
             I(T0), rec_json(K2, 1), "5", "0", "0", NULL);
    expect_err(r, "FGARG");
    /* KEYS of another key than ARGV's */
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K2, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "create", K1,
             I(T0), rec_json(K1, 1), "5", "0", "0", NULL);
    expect_err(r, "FGARG");
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K2, "idem:"), N(K1, "lease"), "create", K1,
             I(T0), rec_json(K1, 1), "5", "0", "0", NULL);
    expect_err(r, "FGARG");
    expect_int_eq(cmd("DBSIZE").v[0], 0);
}

static void
update_regenerates_under_the_old_settings_first(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    /* 3600 an hour: 1 a second, up to 100000. */
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    r = kw_update(K1, 1, 7200, 50000, T0 + 10000);
    expect_ok(r);
    expect_int_eq(r.v[0], 2);
    expect_int_eq(r.v[2], 1010);
    b = bal_read(K1);
    expect_int_eq(b.regen, 10);
    expect_int_eq(b.regen_per_hour, 7200);
    expect_int_eq(b.cap, 50000);
    /* From now, the new rate: 2 a second. */
    r = balance(K1, T0 + 20000);
    expect_int_eq(r.v[0], 1030);
    expect_str_eq(cmd("HGET %s version", N(K1, "rec")).s[0], "2");
    expect_int_eq(stream_len("fg:events"), 2);
    expect_invariant(K1);
}

static void
update_of_another_version_is_fgversion(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    expect_ok(kw_update(K1, 1, 0, 0, T0 + 1000));
    expect_err(kw_update(K1, 1, 7200, 0, T0 + 2000), "FGVERSION");
    /* No unconditional form: 0 is no version. */
    expect_err(kw_update(K1, 0, 7200, 0, T0 + 2000), "FGARG");
    expect_int_eq(bal_read(K1).regen_per_hour, 0);
    expect_int_eq(stream_len("fg:events"), 2);
}

static void
changes_of_a_missing_key_are_fgnokey(void)
{
    if (!fresh()) {
        return;
    }
    expect_err(kw_update(K1, 1, 0, 0, T0), "FGNOKEY");
    expect_err(kw_record(K1, "revoke", 1, T0), "FGNOKEY");
    expect_err(kw_record(K1, "rotate", 1, T0), "FGNOKEY");
    expect_err(kw_money(K1, "topup", 5, NULL, T0), "FGNOKEY");
    expect_err(kw_money(K1, "adjust", 5, "i", T0), "FGNOKEY");
    expect_err(grant(K1, "n1", 1, 5, T0), "FGNOKEY");
    expect_err(give_back(K1, "n1", 1, 5), "FGNOKEY");
    expect_err(release(K1, "n1"), "FGNOKEY");
    expect_err(report(K1, "n1", 1, 0), "FGNOKEY");
    expect_err(balance(K1, T0), "FGNOKEY");
    expect_int_eq(cmd("DBSIZE").v[0], 0);
}

static void
revoke_writes_the_record_and_bumps_the_version(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    r = kw_record(K1, "revoke", 1, T0 + 5000);
    expect_ok(r);
    expect_int_eq(r.v[0], 2);
    expect_int_eq(r.v[2], 1000);
    expect_str_eq(cmd("HGET %s json", N(K1, "rec")).s[0],
                  rec_json(K1, FG_KEY_STATUS_REVOKED));
    /* Only the record: the balance is not touched, not regenerated. */
    expect_int_eq(bal_read(K1).regen_at_ms, T0);
    r = cmd("XREVRANGE fg:events + - COUNT 1");
    expect_int_eq(r.n, 1);
}

static void
a_revoked_key_changes_no_more(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(kw_record(K1, "revoke", 1, T0));
    expect_err(kw_update(K1, 2, 0, 0, T0), "FGREVOKED");
    expect_err(kw_record(K1, "rotate", 2, T0), "FGREVOKED");
    expect_err(kw_record(K1, "revoke", 2, T0), "FGREVOKED");
    expect_err(kw_money(K1, "topup", 5, NULL, T0), "FGREVOKED");
    expect_err(kw_money(K1, "adjust", -5, NULL, T0), "FGREVOKED");
    expect_int_eq(bal_read(K1).balance, 1000);
    expect_int_eq(stream_len("fg:events"), 2);
}

static void
record_status_must_fit_the_op(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    /* a revoke whose json is not revoked; an update that revokes */
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "revoke", K1,
             I(T0), rec_json(K1, 1), "1", NULL);
    expect_err(r, "FGARG");
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "update", K1,
             I(T0), rec_json(K1, 2), "1", "0", "0", NULL);
    expect_err(r, "FGARG");
    r = call(FG_CLUSTER_SCRIPT_KEY_WRITE, N(K1, "rec"), N(K1, "bal"),
             "fg:events", N(K1, "idem:"), N(K1, "lease"), "delete", K1,
             I(T0), NULL);
    expect_err(r, "FGARG");
    expect_str_eq(cmd("HGET %s version", N(K1, "rec")).s[0], "1");
}

static void
rotate_writes_the_record_only(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    r = kw_record(K1, "rotate", 1, T0 + 60000);
    expect_ok(r);
    expect_int_eq(r.v[0], 2);
    b = bal_read(K1);
    expect_int_eq(b.balance, 1000);
    expect_int_eq(b.regen_at_ms, T0);
    expect_int_eq(stream_len("fg:events"), 2);
}

static void
topup_adds_to_balance_and_topups_and_keeps_the_version(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    r = kw_money(K1, "topup", 500, NULL, T0 + 1000);
    expect_ok(r);
    expect_int_eq(r.v[0], 1);
    expect_int_eq(r.v[2], 1501);        /* a second's regeneration */
    expect_int_eq(r.v[3], 1);
    b = bal_read(K1);
    expect_int_eq(b.topups, 500);
    expect_int_eq(b.regen, 1);
    r = cmd("XREVRANGE fg:events + - COUNT 1");
    expect_int_eq(r.n, 1);
    /* An update read before the top-up still applies. */
    expect_ok(kw_update(K1, 1, 3600, 100000, T0 + 2000));
    expect_invariant(K1);
}

static void
topup_resent_under_its_idempotency_key_applies_once(void)
{
    res_t first, again;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    first = kw_money(K1, "topup", 500, "req-7", T0 + 1000);
    expect_ok(first);
    expect_ok(kw_money(K1, "topup", 100, NULL, T0 + 1500));
    again = kw_money(K1, "topup", 500, "req-7", T0 + 2000);
    expect_ok(again);
    expect_int_eq(again.v[0], first.v[0]);
    expect_str_eq(again.s[1], first.s[1]);
    expect_int_eq(again.v[2], first.v[2]);
    expect_int_eq(first.v[3], 1);
    expect_int_eq(again.v[3], 0);
    b = bal_read(K1);
    expect_int_eq(b.balance, 1600);
    expect_int_eq(b.topups, 600);
    expect_int_eq(stream_len("fg:events"), 3);
    expect_true(cmd("TTL %s", N(K1, "idem:req-7")).v[0] > 86000);
    /* Once revoked, the repeat is still answered (as the keystore). */
    expect_ok(kw_record(K1, "revoke", 1, T0 + 3000));
    again = kw_money(K1, "topup", 500, "req-7", T0 + 4000);
    expect_ok(again);
    expect_int_eq(again.v[3], 0);
    expect_invariant(K1);
}

static void
idempotency_key_of_another_change_is_fgidem(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(kw_money(K1, "topup", 500, "req-7", T0));
    expect_err(kw_money(K1, "topup", 501, "req-7", T0), "FGIDEM");
    expect_err(kw_money(K1, "adjust", 500, "req-7", T0), "FGIDEM");
    expect_int_eq(bal_read(K1).balance, 1500);
    /* A bad idempotency key */
    expect_err(kw_money(K1, "topup", 5, "", T0), "FGARG");
    expect_err(kw_money(K1, "topup", 5, "a b", T0), "FGARG");
}

static void
topup_past_the_limit_is_fgarg(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, LIMIT - 10, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 5, T0));
    /* The credit counts what is leased. */
    expect_err(kw_money(K1, "topup", 11, NULL, T0), "FGARG");
    expect_ok(kw_money(K1, "topup", 10, NULL, T0));
    expect_int_eq(bal_read(K1).balance, LIMIT - 5);
    expect_err(kw_money(K1, "topup", LIMIT + 1, NULL, T0), "FGARG");
    expect_err(kw_money(K1, "topup", 0, NULL, T0), "FGARG");
    expect_invariant(K1);
}

static void
adjust_moves_balance_and_adjust_both_ways(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    r = kw_money(K1, "adjust", 250, NULL, T0);
    expect_ok(r);
    expect_int_eq(r.v[2], 1250);
    r = kw_money(K1, "adjust", -1250, "fix-1", T0);
    expect_ok(r);
    expect_int_eq(r.v[2], 0);
    expect_int_eq(kw_money(K1, "adjust", -1250, "fix-1", T0).v[3], 0);
    b = bal_read(K1);
    expect_int_eq(b.balance, 0);
    expect_int_eq(b.adjust, -1000);
    expect_err(kw_money(K1, "adjust", 0, NULL, T0), "FGARG");
    expect_invariant(K1);
}

static void
adjust_below_zero_is_fgarg_and_cannot_take_leased_credit(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 900, T0));
    expect_err(kw_money(K1, "adjust", -101, NULL, T0), "FGARG");
    expect_int_eq(bal_read(K1).balance, 100);
    expect_ok(kw_money(K1, "adjust", -100, NULL, T0));
    expect_int_eq(bal_read(K1).balance, 0);
    expect_invariant(K1);
}

static void
adjust_may_raise_a_negative_balance(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 100, 0, 0, T0));
    expect_ok(report(K1, "n1", 1, 300));
    expect_int_eq(bal_read(K1).balance, -200);
    expect_ok(kw_money(K1, "adjust", 50, NULL, T0));
    expect_int_eq(bal_read(K1).balance, -150);
    expect_err(kw_money(K1, "adjust", -1, NULL, T0), "FGARG");
    expect_invariant(K1);
}

static void
malformed_numbers_are_fgarg(void)
{
    const char *bad[] = { "", "1.5", " 5", "5 ", "+5", "0x10", "1e3",
                          "12345678901234567", "-", "abc" };
    size_t      i;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        res_t r = call(FG_CLUSTER_SCRIPT_LEASE_GRANT, N(K1, "bal"),
                       N(K1, "lease"), N(K1, "op"), "n1", "1", bad[i],
                       I(T0), NULL);

        expect_err(r, "FGARG");
    }
    expect_err(kw_create(K2, LIMIT + 1, 0, 0, T0), "FGARG");
    expect_err(kw_create(K2, 0, LIMIT + 1, 0, T0), "FGARG");
    expect_err(kw_create(K2, 0, 0, LIMIT + 1, T0), "FGARG");
    expect_err(kw_create(K2, -1, 0, 0, T0), "FGARG");
    expect_err(kw_create(K2, 0, 0, 0, LIMIT + 1), "FGARG");
    expect_err(grant(K1, "n1", FG_CLUSTER_SAFE_MAX + 1, 1, T0), "FGARG");
    expect_int_eq(bal_read(K1).balance, 1000);
    expect_int_eq(cmd("EXISTS %s", N(K2, "bal")).v[0], 0);
}

static void
every_key_write_appends_its_event(void)
{
    static const char *const ops[] = { "create", "topup", "update",
                                       "adjust", "rotate", "revoke" };
    static const char *const versions[] = { "1", "1", "2", "2", "3", "4" };
    redisReply *x;
    size_t      i;
    char        got[160], want[160];

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(kw_money(K1, "topup", 5, NULL, T0));
    expect_ok(kw_update(K1, 1, 0, 0, T0));
    expect_ok(kw_money(K1, "adjust", 5, NULL, T0));
    expect_ok(kw_record(K1, "rotate", 2, T0));
    expect_ok(kw_record(K1, "revoke", 3, T0));
    x = redisCommand(srv.c, "XRANGE fg:events - +");
    if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != 6) {
        FG_TEST_FAIL("fg:events does not hold 6 events");
        freeReplyObject(x);
        return;
    }
    for (i = 0; i < 6; i++) {
        redisReply *f = x->element[i]->element[1];

        if (f->elements != 6) {
            FG_TEST_FAIL("event %zu has %zu fields", i, f->elements);
            continue;
        }
        snprintf(got, sizeof(got), "%s %s %s %s %s %s", f->element[0]->str,
                 f->element[1]->str, f->element[2]->str, f->element[3]->str,
                 f->element[4]->str, f->element[5]->str);
        snprintf(want, sizeof(want), "key %s op %s version %s", K1, ops[i],
                 versions[i]);
        expect_str_eq(got, want);
    }
    freeReplyObject(x);
}

/* ---- leases ------------------------------------------------------------- */

static void
grant_moves_credit_from_balance_to_the_nodes_lease(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    r = grant(K1, "n1", 1, 300, T0);
    expect_ok(r);
    expect_int_eq(r.n, 3);
    expect_int_eq(r.v[0], 300);
    expect_int_eq(r.v[1], 700);
    expect_int_eq(r.v[2], 300);
    r = grant(K1, "n1", 2, 200, T0);
    expect_int_eq(r.v[2], 500);
    b = bal_read(K1);
    expect_int_eq(b.balance, 500);
    expect_int_eq(b.lease[0], 500);
    expect_str_eq(cmd("HGET %s n1", N(K1, "op")).s[0], "2:200");
    expect_invariant(K1);
}

static void
grant_never_grants_more_than_the_balance(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    r = grant(K1, "n1", 1, 5000, T0);
    expect_int_eq(r.v[0], 1000);
    expect_int_eq(r.v[1], 0);
    r = grant(K1, "n2", 1, 5000, T0);
    expect_ok(r);
    expect_int_eq(r.v[0], 0);
    expect_int_eq(r.v[2], 0);
    /* Nothing granted: no lease field, but the op is taken. */
    expect_int_eq(bal_read(K1).lease_fields, 1);
    expect_str_eq(cmd("HGET %s n2", N(K1, "op")).s[0], "1:0");
    expect_invariant(K1);
}

static void
grant_resent_replies_the_first_grant_and_moves_nothing(void)
{
    res_t first, again;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    first = grant(K1, "n1", 7, 300, T0);
    expect_ok(grant(K1, "n2", 1, 100, T0));
    again = grant(K1, "n1", 7, 999, T0 + 60000);
    expect_ok(again);
    expect_int_eq(again.v[0], first.v[0]);
    expect_int_eq(again.v[1], 600);     /* as it is now */
    expect_int_eq(again.v[2], 300);
    b = bal_read(K1);
    expect_int_eq(b.lease[0], 300);
    expect_int_eq(b.regen_at_ms, T0);   /* no regeneration either */
    expect_invariant(K1);
}

static void
grant_with_an_older_op_is_fgstale(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 5, 100, T0));
    expect_err(grant(K1, "n1", 4, 100, T0), "FGSTALE");
    expect_ok(give_back(K1, "n1", 6, 50));
    /* 6 was a return: a grant under it is another operation */
    expect_err(grant(K1, "n1", 6, 100, T0), "FGSTALE");
    expect_int_eq(bal_read(K1).lease[0], 50);
    /* Each node numbers its own. */
    expect_ok(grant(K1, "n2", 1, 100, T0));
    expect_invariant(K1);
}

static void
grant_regenerates_against_balance_and_leases(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    /* 3600 an hour, cap 1000: the credit is full. */
    expect_ok(kw_create(K1, 1000, 3600, 1000, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    /* An hour later: balance 400 + lease 600 is at the cap, no gain. */
    r = grant(K1, "n1", 2, 0, T0 + HOUR);
    expect_int_eq(r.v[1], 400);
    /* A report lowers the credit; the next grant fills it to the cap. */
    expect_ok(report(K1, "n1", 1, 500));
    r = grant(K1, "n2", 1, 0, T0 + 2 * HOUR);
    expect_int_eq(r.v[1], 900);
    b = bal_read(K1);
    expect_int_eq(b.balance + b.leased, 1000);
    expect_int_eq(b.regen, 500);
    expect_int_eq(b.regen_carry, 0);
    expect_invariant(K1);
}

static void
grant_from_a_negative_balance_grants_nothing(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 100, 0, 0, T0));
    expect_ok(report(K1, "n1", 1, 150));
    r = grant(K1, "n2", 1, 10, T0);
    expect_ok(r);
    expect_int_eq(r.v[0], 0);
    expect_int_eq(r.v[1], -50);
    expect_invariant(K1);
}

static void
return_moves_lease_back_to_balance(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    r = give_back(K1, "n1", 2, 250);
    expect_ok(r);
    expect_int_eq(r.v[0], 250);
    expect_int_eq(r.v[1], 650);
    expect_int_eq(r.v[2], 350);
    expect_str_eq(cmd("HGET %s n1", N(K1, "op")).s[0], "2:-250");
    r = give_back(K1, "n1", 3, 350);
    expect_int_eq(r.v[2], 0);
    expect_int_eq(bal_read(K1).lease_fields, 0);
    expect_invariant(K1);
}

static void
return_resent_applies_once(void)
{
    res_t first, again;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    first = give_back(K1, "n1", 2, 250);
    again = give_back(K1, "n1", 2, 250);
    expect_ok(again);
    expect_int_eq(again.v[0], first.v[0]);
    expect_int_eq(again.v[1], first.v[1]);
    expect_int_eq(again.v[2], first.v[2]);
    expect_int_eq(bal_read(K1).lease[0], 350);
    /* The same op with another amount is another operation. */
    expect_err(give_back(K1, "n1", 2, 100), "FGSTALE");
    expect_err(give_back(K1, "n1", 1, 100), "FGSTALE");
    expect_invariant(K1);
}

static void
return_of_more_than_the_lease_is_fgarg(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    expect_err(give_back(K1, "n1", 2, 601), "FGARG");
    expect_err(give_back(K1, "n2", 1, 1), "FGARG");
    expect_err(give_back(K1, "n1", 2, 0), "FGARG");
    /* Refused ops are not taken: 2 is still free. */
    expect_ok(give_back(K1, "n1", 2, 600));
    expect_invariant(K1);
}

static void
release_moves_the_whole_lease_into_the_balance(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    expect_ok(grant(K1, "n2", 1, 100, T0));
    r = release(K1, "n1");
    expect_ok(r);
    expect_int_eq(r.v[0], 600);
    b = bal_read(K1);
    expect_int_eq(b.balance, 900);
    expect_int_eq(b.lease[0], 0);
    expect_int_eq(b.lease[1], 100);
    expect_int_eq(b.lease_fields, 1);
    expect_int_eq(release(K1, "n1").v[0], 0);
    expect_int_eq(release(K1, "n9").v[0], 0);
    /* Its op numbering stays: a resend is answered, and moves nothing. */
    r = grant(K1, "n1", 1, 5, T0);
    expect_int_eq(r.v[0], 600);
    expect_int_eq(r.v[2], 0);
    expect_int_eq(bal_read(K1).balance, 900);
    expect_invariant(K1);
}

static void
report_after_release_takes_the_rest_from_the_balance(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 1000, T0));
    expect_ok(release(K1, "n1"));
    expect_ok(grant(K1, "n2", 1, 1000, T0));
    /* n1 comes back and reports what it spent from its old lease: the
     * exposure of "cluster forget". */
    r = report(K1, "n1", 1, 700);
    expect_ok(r);
    b = bal_read(K1);
    expect_int_eq(b.balance, -700);
    expect_int_eq(b.lease[1], 1000);
    expect_int_eq(b.charged, 700);
    expect_invariant(K1);
}

/* ---- reports ------------------------------------------------------------ */

static void
report_takes_charges_from_the_lease_and_counts_usage(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K1, "use:20270115"), "fg:usage", "n1", "1",
             "250", "86400", "1000", "2",
             "gpt-4o", "2", "100", "50", "200",
             "openai/o3|mini", "1", "10", "5", "50",
             "{\"r\":1}", "{\"r\":2}", "{\"r\":3}", NULL);
    expect_ok(r);
    expect_str_eq(r.s[0], "ok");
    expect_int_eq(r.v[1], 1);
    b = bal_read(K1);
    expect_int_eq(b.balance, 400);
    expect_int_eq(b.lease[0], 350);
    expect_int_eq(b.charged, 250);
    r = cmd("HGET %s gpt-4o|charged", N(K1, "use:20270115"));
    expect_str_eq(r.s[0], "200");
    r = cmd("HGET %s openai/o3|mini|prompt", N(K1, "use:20270115"));
    expect_str_eq(r.s[0], "10");
    r = cmd("HGET %s gpt-4o|requests", N(K1, "use:20270115"));
    expect_str_eq(r.s[0], "2");
    r = cmd("TTL %s", N(K1, "use:20270115"));
    expect_true(r.v[0] > 86000 && r.v[0] <= 86400);
    expect_int_eq(stream_len("fg:usage"), 3);
    expect_str_eq(cmd("HGET %s n1", N(K1, "seq")).s[0], "1");
    expect_invariant(K1);
}

static void
report_resent_is_dup_and_changes_nothing(void)
{
    res_t r;
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 600, T0));
    expect_ok(report(K1, "n1", 1, 100));
    expect_ok(report(K1, "n1", 2, 100));
    r = report(K1, "n1", 2, 100);
    expect_ok(r);
    expect_str_eq(r.s[0], "dup");
    expect_int_eq(r.v[1], 2);
    r = report(K1, "n1", 1, 100);
    expect_str_eq(r.s[0], "dup");
    expect_int_eq(r.v[1], 2);
    b = bal_read(K1);
    expect_int_eq(b.charged, 200);
    expect_int_eq(b.lease[0], 400);
    expect_str_eq(cmd("HGET %s gpt-4o|charged", N(K1, "use:20270115")).s[0],
                  "200");
    expect_int_eq(stream_len("fg:usage"), 2);
    expect_invariant(K1);
}

static void
report_past_the_next_batch_is_fggap(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(report(K1, "n1", 1, 100));
    expect_err(report(K1, "n1", 3, 100), "FGGAP");
    expect_err(report(K1, "n2", 2, 100), "FGGAP");
    expect_int_eq(bal_read(K1).charged, 100);
    expect_ok(report(K1, "n1", 2, 100));
    expect_invariant(K1);
}

static void
report_whose_models_do_not_add_up_is_fgarg(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K1, "use:20270115"), "fg:usage", "n1", "1",
             "250", "86400", "1000", "1", "gpt-4o", "2", "100", "50", "200",
             NULL);
    expect_err(r, "FGARG");
    /* n_models past the arguments there */
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K1, "use:20270115"), "fg:usage", "n1", "1",
             "200", "86400", "1000", "2", "gpt-4o", "2", "100", "50", "200",
             NULL);
    expect_err(r, "FGARG");
    /* a day key of another key, a bad day */
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K2, "use:20270115"), "fg:usage", "n1", "1",
             "0", "86400", "1000", "0", NULL);
    expect_err(r, "FGARG");
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K1, "use:2027011"), "fg:usage", "n1", "1",
             "0", "86400", "1000", "0", NULL);
    expect_err(r, "FGARG");
    expect_int_eq(bal_read(K1).charged, 0);
    expect_int_eq(cmd("EXISTS %s fg:usage %s", N(K1, "use:20270115"),
                      N(K1, "seq")).v[0], 0);
}

static void
report_adds_a_model_given_twice(void)
{
    res_t r;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    r = call(FG_CLUSTER_SCRIPT_REPORT, N(K1, "bal"), N(K1, "lease"),
             N(K1, "seq"), N(K1, "use:20270115"), "fg:usage", "n1", "1",
             "30", "86400", "1000", "2", "m", "1", "2", "3", "10",
             "m", "4", "5", "6", "20", NULL);
    expect_ok(r);
    expect_str_eq(cmd("HGET %s m|requests", N(K1, "use:20270115")).s[0],
                  "5");
    expect_str_eq(cmd("HGET %s m|charged", N(K1, "use:20270115")).s[0],
                  "30");
    expect_ok(report(K1, "n1", 2, 7));
    expect_str_eq(cmd("HGET %s gpt-4o|charged", N(K1, "use:20270115")).s[0],
                  "7");
    expect_invariant(K1);
}

static void
report_caps_fg_usage_near_usage_maxlen(void)
{
    const char *args[ARGS_MAX];
    int         argc, i, seq;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    for (seq = 1; seq <= 40; seq++) {
        argc = 0;
        args[argc++] = N(K1, "bal");
        args[argc++] = N(K1, "lease");
        args[argc++] = N(K1, "seq");
        args[argc++] = N(K1, "use:20270115");
        args[argc++] = "fg:usage";
        args[argc++] = "n1";
        args[argc++] = I(seq);
        args[argc++] = "0";
        args[argc++] = "86400";
        args[argc++] = "100";
        args[argc++] = "0";
        for (i = 0; i < 20; i++) {
            args[argc++] = "{\"r\":0}";
        }
        expect_ok(call_argv(FG_CLUSTER_SCRIPT_REPORT, argc, args));
    }
    /* ~: trimmed by whole nodes, so at least 100 and well under 800. */
    expect_true(stream_len("fg:usage") >= 100);
    expect_true(stream_len("fg:usage") < 400);
}

static void
report_of_a_wrong_seq_or_node_is_fgarg(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_err(report(K1, "n1", 0, 5), "FGARG");
    expect_err(report(K1, "", 1, 5), "FGARG");
    expect_err(report(K1, "n1", 1, -5), "FGARG");
    expect_int_eq(bal_read(K1).charged, 0);
}

static void
report_may_not_take_the_balance_below_minus_the_limit(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 0, 0, 0, T0));
    expect_ok(report(K1, "n1", 1, LIMIT));
    expect_int_eq(bal_read(K1).balance, -LIMIT);
    expect_err(report(K1, "n1", 2, 1), "FGARG");
    expect_int_eq(bal_read(K1).charged, LIMIT);
    expect_invariant(K1);
}

/* Nothing half-done: the failing write comes before any other. */
static void
report_into_a_usage_key_of_another_type_changes_nothing(void)
{
    bal_t b;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    expect_ok(grant(K1, "n1", 1, 500, T0));
    cmd("SET fg:usage oops");
    expect_err(report(K1, "n1", 1, 100), "FGSTATE");
    b = bal_read(K1);
    expect_int_eq(b.lease[0], 500);
    expect_int_eq(b.charged, 0);
    expect_int_eq(cmd("EXISTS %s %s", N(K1, "seq"),
                      N(K1, "use:20270115")).v[0], 0);
    cmd("DEL fg:usage");
    cmd("SET fg:events oops");
    expect_true(kw_money(K1, "topup", 5, "i1", T0).is_err);
    expect_int_eq(bal_read(K1).topups, 0);
    expect_int_eq(cmd("EXISTS %s", N(K1, "idem:i1")).v[0], 0);
}

static void
a_corrupt_lease_operation_is_fgstate(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    cmd("HSET %s n1 garbage", N(K1, "op"));
    expect_err(grant(K1, "n1", 1, 5, T0), "FGSTATE");
    expect_int_eq(bal_read(K1).balance, 1000);
}

/* A total that would pass 2^53 - 1 is refused, not rounded. */
static void
totals_past_2_53_are_refused(void)
{
    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 0, 0, T0));
    cmd("HSET %s charged %s adjust %s", N(K1, "bal"),
        I(FG_CLUSTER_SAFE_MAX - 1), I(FG_CLUSTER_SAFE_MAX - 1));
    expect_ok(report(K1, "n1", 1, 1));
    expect_err(report(K1, "n1", 2, 1), "FGARG");
    expect_int_eq(bal_read(K1).charged, FG_CLUSTER_SAFE_MAX);
    expect_invariant(K1);
    /* One past it, stored by something else: refused, not rounded. */
    cmd("HSET %s regen 9007199254740993", N(K1, "bal"));
    expect_err(grant(K1, "n2", 1, 1, T0), "FGSTATE");
    expect_str_eq(cmd("HGET %s regen", N(K1, "bal")).s[0],
                  "9007199254740993");
}

/* ---- balance ------------------------------------------------------------ */

static void
balance_regenerates_without_writing(void)
{
    res_t r;
    bal_t before, after;

    if (!fresh()) {
        return;
    }
    expect_ok(kw_create(K1, 1000, 3600, 100000, T0));
    expect_ok(grant(K1, "n1", 1, 400, T0));
    expect_ok(report(K1, "n1", 1, 100));
    expect_ok(kw_money(K1, "topup", 50, NULL, T0));
    expect_ok(kw_money(K1, "adjust", -20, NULL, T0));
    before = bal_read(K1);
    r = balance(K1, T0 + 10000);
    expect_ok(r);
    expect_int_eq(r.n, 7);
    expect_int_eq(r.v[0], 640);
    expect_int_eq(r.v[1], 300);
    expect_int_eq(r.v[2], 100);
    expect_int_eq(r.v[3], 1000);
    expect_int_eq(r.v[4], 50);
    expect_int_eq(r.v[5], -20);
    expect_int_eq(r.v[6], 10);
    expect_int_eq(r.v[0] + r.v[1] + r.v[2], r.v[3] + r.v[4] + r.v[5]
                  + r.v[6]);
    after = bal_read(K1);
    expect_int_eq(after.balance, before.balance);
    expect_int_eq(after.regen, before.regen);
    expect_int_eq(after.regen_at_ms, before.regen_at_ms);
    expect_int_eq(after.regen_carry, before.regen_carry);
    expect_int_eq(after.leased, before.leased);
}

/* ---- regeneration, against fg_ledger_regen ------------------------------ */

static uint64_t rng_state;

static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n) (0 for n <= 0). */
static int64_t
rnd(int64_t n)
{
    return n > 0 ? (int64_t) (rng() % (uint64_t) n) : 0;
}

/* In [0, max], spread over the magnitudes: small values as often as
 * large ones. */
static int64_t
rnd_scaled(int64_t max)
{
    int64_t top = (int64_t) 1 << rnd(51);

    return rnd(top < max ? top : max + 1);
}

/* Sets the state, then checks the balance script's view and a grant of
 * 0's writes against fg_ledger_regen() with the credit as its balance.
 * Returns 0 after recording a mismatch. */
static int
regen_case(int64_t credit, int64_t lease, int64_t at, int64_t carry,
           int64_t rate, int64_t cap, int64_t now, int64_t op)
{
    fg_energy_settings_t s = { rate, cap };
    int64_t              want_at = at, want_carry = carry, want;
    res_t                r;
    bal_t                b;

    want = fg_ledger_regen(credit, &want_at, &want_carry, &s, now);
    bal_set(K1, credit - lease, lease, at, carry, rate, cap);
    r = balance(K1, now);
    if (r.is_err || r.v[0] + r.v[1] != want || r.v[6] != want - credit) {
        FG_TEST_FAIL("credit %lld (lease %lld) at %lld carry %lld rate "
                     "%lld cap %lld now %lld: view %lld + %lld (gain "
                     "%lld), fg_ledger_regen %lld %s",
                     (long long) credit, (long long) lease, (long long) at,
                     (long long) carry, (long long) rate, (long long) cap,
                     (long long) now, (long long) r.v[0],
                     (long long) r.v[1], (long long) r.v[6],
                     (long long) want, r.err);
        return 0;
    }
    r = grant(K1, "n2", op, 0, now);
    b = bal_read(K1);
    if (r.is_err || b.balance + b.leased != want || b.regen_at_ms != want_at
        || b.regen_carry != want_carry || b.regen != want - credit) {
        FG_TEST_FAIL("credit %lld (lease %lld) at %lld carry %lld rate "
                     "%lld cap %lld now %lld: wrote %lld at %lld carry "
                     "%lld, fg_ledger_regen %lld at %lld carry %lld %s",
                     (long long) credit, (long long) lease, (long long) at,
                     (long long) carry, (long long) rate, (long long) cap,
                     (long long) now, (long long) (b.balance + b.leased),
                     (long long) b.regen_at_ms, (long long) b.regen_carry,
                     (long long) want, (long long) want_at,
                     (long long) want_carry, r.err);
        return 0;
    }
    return 1;
}

static void
regeneration_equals_fg_ledger_regen(void)
{
    int i;

    if (!fresh()) {
        return;
    }
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < 3000; i++) {
        int64_t credit = rnd_scaled(LIMIT) * (rnd(4) == 0 ? -1 : 1);
        int64_t lease = credit > 0 ? rnd(credit + 1) : 0;
        int64_t now = rnd(3) == 0 ? rnd_scaled(LIMIT) : T0 + rnd(HOUR);
        int64_t at = now - rnd_scaled(now);
        int64_t carry = rnd(HOUR);
        int64_t rate = rnd_scaled(LIMIT);
        int64_t cap = rnd(3) == 0 ? rnd_scaled(LIMIT)
                                  : credit + rnd_scaled(LIMIT - credit);

        if (rnd(8) == 0) {
            at = now + rnd(1000);       /* a clock behind */
        }
        if (cap > LIMIT) {
            cap = LIMIT;
        }
        if (!regen_case(credit, lease, at, carry, rate, cap, now, 1)) {
            return;
        }
    }
}

static void
regeneration_is_exact_at_the_bounds(void)
{
    const int64_t rates[] = { 0, 1, HOUR - 1, HOUR, HOUR + 1, LIMIT - 1,
                              LIMIT };
    const int64_t spans[] = { 0, 1, HOUR - 1, HOUR, 7 * HOUR + 1,
                              LIMIT / 3, LIMIT };
    const int64_t carries[] = { 0, 1, HOUR - 1 };
    const int64_t caps[] = { 0, 1, LIMIT - 1, LIMIT };
    const int64_t credits[] = { -LIMIT, -1, 0, 1, LIMIT - 1, LIMIT };
    size_t        a, b, c, d, e;
    int64_t       op = 0;

    if (!fresh()) {
        return;
    }
    for (a = 0; a < sizeof(rates) / sizeof(rates[0]); a++)
    for (b = 0; b < sizeof(spans) / sizeof(spans[0]); b++)
    for (c = 0; c < sizeof(carries) / sizeof(carries[0]); c++)
    for (d = 0; d < sizeof(caps) / sizeof(caps[0]); d++)
    for (e = 0; e < sizeof(credits) / sizeof(credits[0]); e++) {
        int64_t credit = credits[e];
        int64_t lease = credit > 0 ? credit / 2 : 0;

        if (!regen_case(credit, lease, LIMIT - spans[b], carries[c],
                        rates[a], caps[d], LIMIT, ++op)) {
            return;
        }
    }
}

/* ---- the invariant under a random sequence ------------------------------ */

#define MEMOS 4

typedef struct {
    int     is_used;
    int     is_adjust;
    int64_t amount, version, balance;
    char    event[48];
} memo_t;

typedef struct {
    const char *id;
    int64_t     balance, initial, topups, adjust, regen, charged;
    int64_t     at, carry, rate, cap, version;
    int64_t     lease[NODES];
    int64_t     op[NODES], op_amount[NODES];    /* a return's negated */
    int64_t     seq[NODES];
    memo_t      memo[MEMOS];
} model_t;

static int64_t
model_credit(const model_t *m)
{
    return m->balance + m->lease[0] + m->lease[1] + m->lease[2];
}

static void
model_regen(model_t *m, int64_t now)
{
    fg_energy_settings_t s = { m->rate, m->cap };
    int64_t              credit = model_credit(m);
    int64_t              gain = fg_ledger_regen(credit, &m->at, &m->carry,
                                                &s, now) - credit;

    m->balance += gain;
    m->regen += gain;
}

/* Redis holds what @m says, and the invariant holds; 0 after recording
 * a difference. */
static int
model_matches(const model_t *m, int step, const char *what)
{
    bal_t b = bal_read(m->id);
    int   n, ok;

    ok = b.balance == m->balance && b.initial == m->initial
         && b.topups == m->topups && b.adjust == m->adjust
         && b.regen == m->regen && b.charged == m->charged
         && b.regen_at_ms == m->at && b.regen_carry == m->carry
         && b.regen_per_hour == m->rate && b.cap == m->cap
         && b.balance + b.leased + b.charged
            == b.initial + b.topups + b.adjust + b.regen;
    for (n = 0; n < NODES; n++) {
        ok = ok && b.lease[n] == m->lease[n];
    }
    if (!ok) {
        FG_TEST_FAIL("step %d (%s) on %s: redis balance %lld leases %lld "
                     "%lld %lld charged %lld regen %lld at %lld carry "
                     "%lld; model %lld, %lld %lld %lld, %lld, %lld, %lld, "
                     "%lld", step, what, m->id, (long long) b.balance,
                     (long long) b.lease[0], (long long) b.lease[1],
                     (long long) b.lease[2], (long long) b.charged,
                     (long long) b.regen, (long long) b.regen_at_ms,
                     (long long) b.regen_carry, (long long) m->balance,
                     (long long) m->lease[0], (long long) m->lease[1],
                     (long long) m->lease[2], (long long) m->charged,
                     (long long) m->regen, (long long) m->at,
                     (long long) m->carry);
    }
    return ok;
}

/* The reply's first three integers are @a, @b, @c (or it is the error
 * @kind when not NULL). */
static int
reply_is(const res_t *r, const char *kind, int64_t a, int64_t b, int64_t c,
         int step, const char *what)
{
    if (kind != NULL) {
        if (r->is_err && strncmp(r->err, kind, strlen(kind)) == 0) {
            return 1;
        }
        FG_TEST_FAIL("step %d (%s): expected %s, got %s", step, what, kind,
                     r->is_err ? r->err : "a reply");
        return 0;
    }
    if (r->is_err || r->v[0] != a || r->v[1] != b || r->v[2] != c) {
        FG_TEST_FAIL("step %d (%s): got %lld %lld %lld %s, expected %lld "
                     "%lld %lld", step, what, (long long) r->v[0],
                     (long long) r->v[1], (long long) r->v[2], r->err,
                     (long long) a, (long long) b, (long long) c);
        return 0;
    }
    return 1;
}

/* One random operation of node @n on @m at @now; 0 after a failure. */
static int
model_step(model_t *m, int n, int64_t now, int step)
{
    const char *node = node_names[n];
    model_t     x = *m;         /* the outcome; kept only on success */
    res_t       r;
    int64_t     v, op;
    int         kind = (int) rnd(100), ok;
    const char *what, *err = NULL;

    if (kind < 22) {
        what = "grant";
        op = m->op[n] + 1 + rnd(2);
        v = rnd(rnd(4) == 0 ? LIMIT : m->balance * 3 / 2 + 1000);
        model_regen(&x, now);
        x.op[n] = op;
        x.op_amount[n] = v < x.balance ? v : x.balance > 0 ? x.balance : 0;
        x.balance -= x.op_amount[n];
        x.lease[n] += x.op_amount[n];
        r = grant(m->id, node, op, v, now);
        ok = reply_is(&r, NULL, x.op_amount[n], x.balance, x.lease[n], step,
                      what);
    } else if (kind < 28) {
        what = "grant resent";
        op = m->op[n] - (m->op[n] > 1 && rnd(3) == 0);
        if (op < 1) {
            return 1;
        }
        if (op != m->op[n] || m->op_amount[n] < 0) {
            err = "FGSTALE";
        }
        r = grant(m->id, node, op, rnd(1000), now);
        ok = reply_is(&r, err, m->op_amount[n], m->balance, m->lease[n],
                      step, what);
    } else if (kind < 42) {
        what = "return";
        op = m->op[n] + 1;
        v = 1 + rnd(m->lease[n] + (rnd(6) == 0 ? 100 : 0));
        if (v > m->lease[n]) {
            err = "FGARG";
        } else {
            x.op[n] = op;
            x.op_amount[n] = -v;
            x.lease[n] -= v;
            x.balance += v;
        }
        r = give_back(m->id, node, op, v);
        ok = reply_is(&r, err, v, x.balance, x.lease[n], step, what);
    } else if (kind < 46) {
        what = "return resent";
        if (m->op[n] < 1) {
            return 1;
        }
        v = m->op_amount[n] < 0 ? -m->op_amount[n] : 1 + rnd(10);
        if (m->op_amount[n] >= 0) {
            err = "FGSTALE";
        }
        r = give_back(m->id, node, m->op[n], v);
        ok = reply_is(&r, err, v, m->balance, m->lease[n], step, what);
    } else if (kind < 64) {
        int64_t take;

        what = "report";
        v = rnd(m->lease[n] + (rnd(5) == 0 ? 3000 : 1));
        take = v < m->lease[n] ? v : m->lease[n];
        x.lease[n] -= take;
        x.balance -= v - take;
        x.charged += v;
        x.seq[n]++;
        r = report(m->id, node, x.seq[n], v);
        ok = !r.is_err && strcmp(r.s[0], "ok") == 0 && r.v[1] == x.seq[n];
        if (!ok) {
            FG_TEST_FAIL("step %d (report): %s %s", step, r.s[0], r.err);
        }
    } else if (kind < 68) {
        what = "report resent or past";
        if (rnd(2) == 0 && m->seq[n] > 0) {
            r = report(m->id, node, m->seq[n] - rnd(m->seq[n]), 5);
            ok = !r.is_err && strcmp(r.s[0], "dup") == 0
                 && r.v[1] == m->seq[n];
        } else {
            r = report(m->id, node, m->seq[n] + 2 + rnd(3), 5);
            ok = r.is_err && strncmp(r.err, "FGGAP ", 6) == 0;
        }
        if (!ok) {
            FG_TEST_FAIL("step %d (%s): %s %s", step, what, r.s[0], r.err);
        }
    } else if (kind < 84) {
        int     is_adjust = rnd(2);
        int     i = (int) rnd(MEMOS * 2);
        memo_t *memo = i < MEMOS ? &x.memo[i] : NULL;
        char    idem[16];

        what = is_adjust ? "adjust" : "topup";
        v = 1 + rnd(200000);
        if (is_adjust && rnd(2) == 0) {
            v = -v;
        }
        if (memo != NULL && memo->is_used && rnd(3) != 0) {
            v = memo->amount;   /* the same request again */
            is_adjust = memo->is_adjust;
            what = is_adjust ? "adjust" : "topup";
        }
        snprintf(idem, sizeof(idem), "idem%d", i);
        r = kw_money(m->id, what, v, memo != NULL ? idem : NULL, now);
        if (memo != NULL && memo->is_used) {
            if (memo->amount != v || memo->is_adjust != is_adjust) {
                ok = reply_is(&r, "FGIDEM", 0, 0, 0, step, what);
            } else {
                ok = !r.is_err && r.v[0] == memo->version
                     && strcmp(r.s[1], memo->event) == 0
                     && r.v[2] == memo->balance && r.v[3] == 0;
                if (!ok) {
                    FG_TEST_FAIL("step %d (%s repeated): %s", step, what,
                                 r.err);
                }
            }
        } else {
            model_regen(&x, now);
            if (v < 0 && x.balance + v < 0) {
                ok = reply_is(&r, "FGARG", 0, 0, 0, step, what);
            } else {
                x.balance += v;
                *(is_adjust ? &x.adjust : &x.topups) += v;
                ok = !r.is_err && r.v[0] == x.version
                     && r.v[2] == x.balance && r.v[3] == 1;
                if (!ok) {
                    FG_TEST_FAIL("step %d (%s): %lld %lld %s, expected "
                                 "balance %lld", step, what,
                                 (long long) r.v[0], (long long) r.v[2],
                                 r.err, (long long) x.balance);
                } else if (memo != NULL) {
                    memo->is_used = 1;
                    memo->is_adjust = is_adjust;
                    memo->amount = v;
                    memo->version = r.v[0];
                    memo->balance = r.v[2];
                    snprintf(memo->event, sizeof(memo->event), "%.47s",
                             r.s[1]);
                }
            }
        }
    } else if (kind < 88) {
        what = "release";
        x.balance += x.lease[n];
        v = x.lease[n];
        x.lease[n] = 0;
        r = release(m->id, node);
        ok = !r.is_err && r.v[0] == v;
        if (!ok) {
            FG_TEST_FAIL("step %d (release): %lld %s", step,
                         (long long) r.v[0], r.err);
        }
    } else {
        int64_t rate = rnd(3) == 0 ? 0 : rnd_scaled(36000000);
        int64_t cap = rnd_scaled(10000000);

        what = "update";
        v = m->version + (rnd(5) == 0);
        if (v != m->version) {
            err = "FGVERSION";
        } else {
            model_regen(&x, now);
            x.rate = rate;
            x.cap = cap;
            x.version++;
        }
        r = kw_update(m->id, v, rate, cap, now);
        if (err != NULL) {
            ok = reply_is(&r, err, 0, 0, 0, step, what);
        } else {
            ok = !r.is_err && r.v[0] == x.version && r.v[2] == x.balance;
            if (!ok) {
                FG_TEST_FAIL("step %d (update): %s", step, r.err);
            }
        }
    }
    if (ok && (r.is_err || strcmp(what, "grant resent") == 0
               || strcmp(what, "return resent") == 0
               || strcmp(what, "report resent or past") == 0)) {
        x = *m;                 /* refused or repeated: nothing changed */
    }
    *m = x;
    return ok && model_matches(m, step, what);
}

static void
invariant_holds_after_every_call_of_a_random_sequence(void)
{
    model_t keys[2];
    int64_t now = T0;
    int     step, k;

    if (!fresh()) {
        return;
    }
    rng_state = 0x5eed5eed5eed5eedULL;
    memset(keys, 0, sizeof(keys));
    keys[0].id = K1;
    keys[1].id = K2;
    for (k = 0; k < 2; k++) {
        model_t *m = &keys[k];

        m->initial = m->balance = 50000 + rnd(1000000);
        m->rate = 3600000;
        m->cap = 2000000;
        m->at = now;
        m->version = 1;
        expect_ok(kw_create(m->id, m->initial, m->rate, m->cap, now));
    }
    for (step = 0; step < 4000; step++) {
        switch (rnd(10)) {
        case 0:
            now += rnd(3) == 0 ? rnd(3 * 24 * HOUR) : rnd(HOUR);
            break;
        case 1:
            now += rnd(2000);
            break;
        default:
            break;
        }
        /* each node's clock a little off the others' */
        if (!model_step(&keys[rnd(2)], (int) rnd(NODES),
                        now - rnd(300), step)) {
            return;
        }
    }
    expect_invariant(K1);
    expect_invariant(K2);
}

int
main(void)
{
    static const fg_test_case_t cases[] = {
        FG_TEST_CASE(scripts_are_named_and_load),
        FG_TEST_CASE(bounds_are_the_admin_apis),
        FG_TEST_CASE(wrong_numkeys_is_fgarg),
        FG_TEST_CASE(join_makes_the_epoch_and_records_the_secret),
        FG_TEST_CASE(join_answers_the_epoch_there_not_the_candidate),
        FG_TEST_CASE(join_is_fgepoch_when_redis_lost_the_epoch),
        FG_TEST_CASE(join_with_another_secret_is_fgsecret),
        FG_TEST_CASE(join_of_a_live_node_id_by_another_instance_is_fgnode),
        FG_TEST_CASE(join_takes_over_a_stale_entry),
        FG_TEST_CASE(join_keeps_the_node_json_as_given),
        FG_TEST_CASE(join_with_bad_node_json_is_fgarg),
        FG_TEST_CASE(heartbeat_refreshes_seen_ms_and_json),
        FG_TEST_CASE(heartbeat_of_another_instance_is_fgnode),
        FG_TEST_CASE(heartbeat_of_a_forgotten_node_is_fgnode),
        FG_TEST_CASE(create_sets_version_1_the_balance_and_one_event),
        FG_TEST_CASE(create_takes_the_record_as_keyjson_writes_it),
        FG_TEST_CASE(create_of_an_existing_key_is_fgexists),
        FG_TEST_CASE(create_with_a_record_of_another_key_is_fgarg),
        FG_TEST_CASE(update_regenerates_under_the_old_settings_first),
        FG_TEST_CASE(update_of_another_version_is_fgversion),
        FG_TEST_CASE(changes_of_a_missing_key_are_fgnokey),
        FG_TEST_CASE(revoke_writes_the_record_and_bumps_the_version),
        FG_TEST_CASE(a_revoked_key_changes_no_more),
        FG_TEST_CASE(record_status_must_fit_the_op),
        FG_TEST_CASE(rotate_writes_the_record_only),
        FG_TEST_CASE(topup_adds_to_balance_and_topups_and_keeps_the_version),
        FG_TEST_CASE(topup_resent_under_its_idempotency_key_applies_once),
        FG_TEST_CASE(idempotency_key_of_another_change_is_fgidem),
        FG_TEST_CASE(topup_past_the_limit_is_fgarg),
        FG_TEST_CASE(adjust_moves_balance_and_adjust_both_ways),
        FG_TEST_CASE(adjust_below_zero_is_fgarg_and_cannot_take_leased_credit),
        FG_TEST_CASE(adjust_may_raise_a_negative_balance),
        FG_TEST_CASE(malformed_numbers_are_fgarg),
        FG_TEST_CASE(every_key_write_appends_its_event),
        FG_TEST_CASE(grant_moves_credit_from_balance_to_the_nodes_lease),
        FG_TEST_CASE(grant_never_grants_more_than_the_balance),
        FG_TEST_CASE(grant_resent_replies_the_first_grant_and_moves_nothing),
        FG_TEST_CASE(grant_with_an_older_op_is_fgstale),
        FG_TEST_CASE(grant_regenerates_against_balance_and_leases),
        FG_TEST_CASE(grant_from_a_negative_balance_grants_nothing),
        FG_TEST_CASE(return_moves_lease_back_to_balance),
        FG_TEST_CASE(return_resent_applies_once),
        FG_TEST_CASE(return_of_more_than_the_lease_is_fgarg),
        FG_TEST_CASE(release_moves_the_whole_lease_into_the_balance),
        FG_TEST_CASE(report_after_release_takes_the_rest_from_the_balance),
        FG_TEST_CASE(report_takes_charges_from_the_lease_and_counts_usage),
        FG_TEST_CASE(report_resent_is_dup_and_changes_nothing),
        FG_TEST_CASE(report_past_the_next_batch_is_fggap),
        FG_TEST_CASE(report_whose_models_do_not_add_up_is_fgarg),
        FG_TEST_CASE(report_adds_a_model_given_twice),
        FG_TEST_CASE(report_caps_fg_usage_near_usage_maxlen),
        FG_TEST_CASE(report_of_a_wrong_seq_or_node_is_fgarg),
        FG_TEST_CASE(report_may_not_take_the_balance_below_minus_the_limit),
        FG_TEST_CASE(report_into_a_usage_key_of_another_type_changes_nothing),
        FG_TEST_CASE(a_corrupt_lease_operation_is_fgstate),
        FG_TEST_CASE(totals_past_2_53_are_refused),
        FG_TEST_CASE(balance_regenerates_without_writing),
        FG_TEST_CASE(regeneration_equals_fg_ledger_regen),
        FG_TEST_CASE(regeneration_is_exact_at_the_bounds),
        FG_TEST_CASE(invariant_holds_after_every_call_of_a_random_sequence),
    };
    int rc = fg_test_run("cluster_scripts", cases,
                         sizeof(cases) / sizeof(cases[0]));

    server_stop();
    return rc;
}
