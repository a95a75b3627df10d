/*
 * metrics.c: the counters behind /metrics, in one region of the shm arena.
 *
 * The region is one struct, fixed at compile time, holding no pointer:
 *
 *   header   magic, the per-key switch, and one "has counted" flag per
 *            worker slot, so that a scrape reads only the blocks in use and
 *            never faults in the pages of slots nobody ever ran in;
 *   names    FG_METRICS_NAMES catalog ids (models and providers share the
 *            table), written by the master alone;
 *   series   FG_METRICS_SERIES label sets (model, provider, status class,
 *            error code), each packed whole into one 64-bit word;
 *   keys     FG_METRICS_KEYS per-key counters, shared by all workers;
 *   blocks   one per worker slot: the histograms, the rate-limit and
 *            upstream-error counters, and requests, tokens and impact
 *            (nano-unit integers) per series;
 *   journal  the syncer's histogram of the usage journal's fdatasync,
 *            next to the header (one writer: the syncer).
 *
 * Names. Only the master enters names, from the catalog it loaded, before
 * it forks the workers that may serve them. So a worker only reads the
 * table (a slot is empty or complete, published by a release store), no
 * worker ever waits on another, and a label value can never be a string
 * a client chose. A name the table has no room for counts as "other";
 * "" (a request that was not routed) is its own label value.
 *
 * Series. A worker enters a label set with one compare-and-swap of its
 * word into a free slot. The word is the whole content, so a slot is free
 * or complete at every instruction, and a worker killed anywhere leaves
 * nothing half-written. Two workers racing for the same label set: the
 * loser's CAS hands back the winner's word, equal to its own, and it uses
 * that slot; so every label set has one slot and no series is rendered
 * twice. When the table is full (no free slot within METRICS_PROBES), the
 * request counts in a fixed overflow entry per (status class, code),
 * rendered with model and provider "other"; a label set whose model and
 * provider are both "other" always goes there, for the same uniqueness.
 * Totals stay exact; only attribution coarsens.
 *
 * Counting. A block has one writer: the worker in its slot (a respawned
 * worker only after the master reaped the dead one), so a relaxed load
 * and store does (no locked instruction on the request path). Readers see
 * a sum a few requests old, never a torn value. Per-key counters are
 * shared, hence fetch_add, and only kept when metrics.per_key is on.
 * Histograms keep per-bucket counts; the render accumulates them and takes
 * _count from the last bucket, so _count equals the +Inf bucket in every
 * scrape even while workers count.
 */

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/alloc.h"
#include "common/accounts/keys.h"
#include "common/base/metrics.h"

#define METRICS_MAGIC        0x317274656d676678ULL   /* "xfgmetr1" */
#define METRICS_NAME_NONE    FG_METRICS_NAMES        /* "": not routed */
#define METRICS_NAME_OTHER   (FG_METRICS_NAMES + 1)
#define METRICS_NAME_IDS     (FG_METRICS_NAMES + 2)
#define METRICS_CLASSES      6                       /* none, 1xx .. 5xx */
#define METRICS_DIRS         4
#define METRICS_BUCKETS      14                      /* and +Inf */
#define METRICS_OVERFLOW     (METRICS_CLASSES * FG_E__COUNT)
#define METRICS_SERIES_ALL   (FG_METRICS_SERIES + METRICS_OVERFLOW)
#define METRICS_PROBES       128
#define METRICS_KEY_PROBES   64
#define METRICS_KEY_OTHER    FG_METRICS_KEYS

_Static_assert(FG_E__COUNT <= 256, "an error code fits a byte of a series");
_Static_assert((FG_METRICS_SERIES & (FG_METRICS_SERIES - 1)) == 0
               && (FG_METRICS_KEYS & (FG_METRICS_KEYS - 1)) == 0
               && (FG_METRICS_NAMES & (FG_METRICS_NAMES - 1)) == 0,
               "table sizes are powers of two");
/* A new limit or upstream failure kind needs its label value below. */
_Static_assert(FG_LIMIT__COUNT == 4, "label every fg_limit_kind_t");
_Static_assert(FG_UPSTREAM__COUNT == 8, "label every fg_upstream_kind_t");

typedef struct {
    _Atomic uint32_t mn_state;             /* 0 free, 1 set; master only */
    uint32_t         mn_len;
    char             mn_name[FG_METRICS_NAME_MAX];
} metrics_name_t;

/*
 * Impact, as integers of fixed nano-units, rendered in the unit. Nano,
 * not micro: a short request uses 5e-7 kWh and 2e-6 L, which micro-units
 * would round by a tenth to a half. 2^64 nano-units are still 1.8e7 kWh,
 * 18 000 t CO2e or 1.8e10 L in one worker's block of one series.
 */
enum {
    METRICS_ENERGY_NWH = 0,      /* nano-watt-hours: 1e-12 kWh */
    METRICS_CARBON_NG,           /* nanograms CO2e */
    METRICS_WATER_NL,            /* nanolitres */
    METRICS_IMPACTS
};

typedef struct {
    _Atomic uint64_t ms_requests;
    _Atomic uint64_t ms_tokens[METRICS_DIRS];
    _Atomic uint64_t ms_impact[METRICS_IMPACTS];
} metrics_series_t;

typedef struct {
    _Atomic uint64_t mk_id;                /* key id's 64 bits; 0 free */
    _Atomic uint64_t mk_requests;
    _Atomic uint64_t mk_tokens[METRICS_DIRS];
    uint8_t          mk_pad[16];
} metrics_key_t;

typedef struct {
    _Atomic uint64_t mh_buckets[METRICS_BUCKETS + 1];   /* not cumulative */
    _Atomic uint64_t mh_sum_us;
} metrics_hist_t;

typedef struct {
    _Alignas(64) metrics_hist_t mb_duration;
    metrics_hist_t   mb_ttfb;
    _Atomic uint64_t mb_limit[FG_LIMIT__COUNT];
    _Atomic uint64_t mb_charged_micro;      /* energy credit charged */
    _Atomic uint64_t mb_energy_refusals;    /* 402 for the balance */
    _Atomic uint64_t mb_upstream[METRICS_NAME_IDS][FG_UPSTREAM__COUNT];
    _Atomic uint64_t mb_usage_invalid[METRICS_SERIES_ALL];  /* by series */
    _Atomic uint64_t mb_uncharged_micro[METRICS_SERIES_ALL];   /* likewise */
    _Atomic uint64_t mb_json_repaired[METRICS_SERIES_ALL];     /* likewise */
    _Atomic uint64_t mb_compressed[METRICS_SERIES_ALL];        /* likewise */
    _Atomic uint64_t mb_compressed_tokens[METRICS_SERIES_ALL]; /* likewise */
    metrics_series_t mb_series[METRICS_SERIES_ALL];
} metrics_block_t;

struct fg_metrics_s {
    uint64_t         mm_magic;
    /* Written by the syncer alone (one at a time: the master starts the
     * next only after the last one died). */
    _Alignas(64) metrics_hist_t mm_journal_sync;
    _Atomic uint32_t mm_per_key;           /* metrics.per_key; master */
    uint32_t         mm_pad;
    _Atomic uint32_t mm_used[FG_METRICS_WORKERS];   /* once, by the worker */
    metrics_name_t   mm_names[FG_METRICS_NAMES];
    _Atomic uint64_t mm_series[FG_METRICS_SERIES];  /* packed label sets */
    _Alignas(64) metrics_key_t mm_keys[FG_METRICS_KEYS + 1];   /* +other */
    metrics_block_t  mm_blocks[FG_METRICS_WORKERS];
};

_Static_assert(sizeof(metrics_key_t) == 64, "a key's counters: one line");
_Static_assert(sizeof(metrics_series_t) == 64, "a series: one line");
_Static_assert(sizeof(metrics_block_t) % 64 == 0, "blocks share no line");

/* Upper bounds of the request latency buckets, in microseconds and as
 * labels. */
static const int64_t metrics_bound_us[METRICS_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000
};
static const char *const metrics_le[METRICS_BUCKETS + 1] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "30", "60", "120", "+Inf"
};
/* The journal's fdatasync: a disk's time, from 0.5 ms (cached) to 10 s. */
static const int64_t metrics_sync_bound_us[METRICS_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 2500000, 5000000, 10000000
};
static const char *const metrics_sync_le[METRICS_BUCKETS + 1] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};
/* The impact families: name, help, nano-units per unit, decimals. */
static const struct {
    const char *name;
    const char *help;
    uint64_t    per_unit;
    int         decimals;
} metrics_impact[METRICS_IMPACTS] = {
    { "fluxgate_energy_kwh_total",
      "Energy the requests used at the data centre's meter (PUE included), "
      "by the impact model, in kWh (nano-watt-hour integers underneath).",
      1000000000000ULL, 12 },
    { "fluxgate_carbon_grams_total",
      "Carbon the requests emitted (usage phase, grid of the data centre's "
      "country), in grams CO2e (nanogram integers underneath).",
      1000000000, 9 },
    { "fluxgate_water_liters_total",
      "Water the requests consumed (on-site cooling and power generation), "
      "in litres (nanolitre integers underneath).",
      1000000000, 9 },
};
static const char *const metrics_class[METRICS_CLASSES] = {
    "none", "1xx", "2xx", "3xx", "4xx", "5xx"
};
static const char *const metrics_dir[METRICS_DIRS] = {
    "prompt", "completion", "reasoning", "cached"
};

static uint64_t
metrics_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t
metrics_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
    size_t   i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char) s[i]) * 0x100000001b3ULL;
    }
    return metrics_mix(h);
}

/* The slot of @name, METRICS_NAME_NONE for "", or METRICS_NAME_OTHER. */
static unsigned
metrics_name_find(const fg_metrics_t *m, const char *name)
{
    const metrics_name_t *n;
    size_t                len;
    unsigned              i, probes;

    if (name == NULL || name[0] == '\0') {
        return METRICS_NAME_NONE;
    }
    len = strlen(name);
    /* A catalog id "other" is the overflow label anyway: one series. */
    if (len >= FG_METRICS_NAME_MAX || strcmp(name, "other") == 0) {
        return METRICS_NAME_OTHER;
    }
    i = (unsigned) metrics_hash(name, len) & (FG_METRICS_NAMES - 1);
    for (probes = 0; probes < FG_METRICS_NAMES; probes++) {
        n = &m->mm_names[i];
        if (atomic_load_explicit(&n->mn_state, memory_order_acquire) == 0) {
            break;
        }
        if (n->mn_len == len && memcmp(n->mn_name, name, len) == 0) {
            return i;
        }
        i = (i + 1) & (FG_METRICS_NAMES - 1);
    }
    return METRICS_NAME_OTHER;
}

static const char *
metrics_name_str(const fg_metrics_t *m, unsigned id)
{
    if (id == METRICS_NAME_NONE) {
        return "";
    }
    if (id >= FG_METRICS_NAMES
        || atomic_load_explicit(&m->mm_names[id].mn_state,
                                memory_order_acquire) == 0) {
        return "other";
    }
    return m->mm_names[id].mn_name;
}

size_t
fg_metrics_bytes(void)
{
    return (sizeof(fg_metrics_t) + 63) & ~(size_t) 63;
}

fg_metrics_t *
fg_metrics_init(void *mem, size_t bytes, fg_err_t *err)
{
    fg_metrics_t *m = mem;

    if (mem == NULL || bytes < sizeof(fg_metrics_t)
        || ((uintptr_t) mem & 63) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "the metrics region needs %zu "
                   "aligned bytes, got %zu", sizeof(fg_metrics_t), bytes);
        return NULL;
    }
    m->mm_magic = METRICS_MAGIC;
    return m;
}

int
fg_metrics_name_add(fg_metrics_t *m, const char *name, fg_err_t *err)
{
    metrics_name_t *n;
    size_t          len = strlen(name);
    unsigned        i, probes;

    if (len >= FG_METRICS_NAME_MAX) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL, "metrics: \"%s\" is "
                          "longer than %d bytes; counted as \"other\"", name,
                          FG_METRICS_NAME_MAX - 1);
    }
    if (metrics_name_find(m, name) != METRICS_NAME_OTHER
        || strcmp(name, "other") == 0) {
        return FG_OK;
    }
    i = (unsigned) metrics_hash(name, len) & (FG_METRICS_NAMES - 1);
    for (probes = 0; probes < FG_METRICS_NAMES; probes++) {
        n = &m->mm_names[i];
        if (atomic_load_explicit(&n->mn_state, memory_order_relaxed) == 0) {
            /* The name first, then the release store that publishes it. */
            memcpy(n->mn_name, name, len + 1);
            n->mn_len = (uint32_t) len;
            atomic_store_explicit(&n->mn_state, 1, memory_order_release);
            return FG_OK;
        }
        i = (i + 1) & (FG_METRICS_NAMES - 1);
    }
    return fg_err_set(err, FG_E_OUT_OF_RANGE, NULL, "metrics: more than %d "
                      "model and provider ids; \"%s\" is counted as "
                      "\"other\"", FG_METRICS_NAMES, name);
}

void
fg_metrics_set_per_key(fg_metrics_t *m, int on)
{
    atomic_store_explicit(&m->mm_per_key, on ? 1 : 0, memory_order_relaxed);
}

/* Single writer per block (file comment): no locked instruction needed. */
static void
metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
                             + n, memory_order_relaxed);
}

static void
metrics_observe(metrics_hist_t *h, const int64_t *bound_us, int64_t us)
{
    unsigned b = 0;

    if (us < 0) {
        us = 0;
    }
    while (b < METRICS_BUCKETS && us > bound_us[b]) {
        b++;
    }
    metrics_add(&h->mh_buckets[b], 1);
    metrics_add(&h->mh_sum_us, (uint64_t) us);
}

static unsigned
metrics_status_class(int status)
{
    return status >= 100 && status <= 599 ? (unsigned) status / 100 : 0;
}

/* Two table entries may share a code string (key_revoked): one series. */
static unsigned
metrics_code(fg_error_code_t e)
{
    unsigned i;

    if ((unsigned) e >= FG_E__COUNT) {
        return FG_E_INTERNAL;
    }
    for (i = 0; i < (unsigned) e; i++) {
        if (strcmp(fg_error_code_str((fg_error_code_t) i),
                   fg_error_code_str(e)) == 0) {
            return i;
        }
    }
    return (unsigned) e;
}

static uint64_t
metrics_series_word(unsigned model, unsigned provider, unsigned cls,
                    unsigned code)
{
    return 1ULL << 63 | (uint64_t) model << 32 | (uint64_t) provider << 16
           | (uint64_t) cls << 8 | code;
}

static unsigned
metrics_series_index(fg_metrics_t *m, unsigned model, unsigned provider,
                     unsigned cls, unsigned code)
{
    uint64_t word, seen;
    unsigned i, probes;

    if (model != METRICS_NAME_OTHER || provider != METRICS_NAME_OTHER) {
        word = metrics_series_word(model, provider, cls, code);
        i = (unsigned) metrics_mix(word) & (FG_METRICS_SERIES - 1);
        for (probes = 0; probes < METRICS_PROBES; probes++) {
            seen = atomic_load_explicit(&m->mm_series[i],
                                        memory_order_relaxed);
            if (seen == 0) {
                /* On failure, seen is the winner's word. */
                if (atomic_compare_exchange_strong_explicit(
                        &m->mm_series[i], &seen, word, memory_order_relaxed,
                        memory_order_relaxed)) {
                    return i;
                }
            }
            if (seen == word) {
                return i;
            }
            i = (i + 1) & (FG_METRICS_SERIES - 1);
        }
    }
    return FG_METRICS_SERIES + cls * FG_E__COUNT + code;
}

/* "key_<16 hex>" to its 64 bits; 0 for anything else (counted as other). */
static uint64_t
metrics_key_id(const char *s)
{
    uint64_t id = 0;
    int      i, c;

    if (strncmp(s, FG_KEY_ID_PREFIX, FG_KEY_ID_PREFIX_LEN) != 0
        || strlen(s) != FG_KEY_ID_LEN) {
        return 0;
    }
    for (i = FG_KEY_ID_PREFIX_LEN; i < FG_KEY_ID_LEN; i++) {
        c = s[i];
        if (c >= '0' && c <= '9') {
            c -= '0';
        } else if (c >= 'a' && c <= 'f') {
            c -= 'a' - 10;
        } else {
            return 0;
        }
        id = id << 4 | (uint64_t) c;
    }
    return id;
}

static metrics_key_t *
metrics_key_slot(fg_metrics_t *m, uint64_t id)
{
    uint64_t seen;
    unsigned i, probes;

    if (id == 0) {
        return &m->mm_keys[METRICS_KEY_OTHER];
    }
    i = (unsigned) metrics_mix(id) & (FG_METRICS_KEYS - 1);
    for (probes = 0; probes < METRICS_KEY_PROBES; probes++) {
        seen = atomic_load_explicit(&m->mm_keys[i].mk_id,
                                    memory_order_relaxed);
        if (seen == 0
            && atomic_compare_exchange_strong_explicit(
                   &m->mm_keys[i].mk_id, &seen, id, memory_order_relaxed,
                   memory_order_relaxed)) {
            return &m->mm_keys[i];
        }
        if (seen == id) {
            return &m->mm_keys[i];
        }
        i = (i + 1) & (FG_METRICS_KEYS - 1);
    }
    return &m->mm_keys[METRICS_KEY_OTHER];
}

/*
 * @v units in integer nano-units (@per_unit to the unit), rounded; 0 for
 * what no request can have used (negative, NaN), and at most 2^52 (4 500
 * kWh in one request), so that no one figure can wrap a counter.
 */
static uint64_t
metrics_nano(double v, uint64_t per_unit)
{
    double x = v * (double) per_unit;

    if (!(x > 0)) {
        return 0;
    }
    if (x > (double) (1ULL << 52)) {
        return 1ULL << 52;
    }
    return (uint64_t) (x + 0.5);
}

void
fg_metrics_request_done(fg_metrics_t *m, unsigned worker_slot,
                        const fg_request_summary_t *s)
{
    metrics_block_t  *b;
    metrics_series_t *se;
    metrics_key_t    *k;
    int64_t           tokens[METRICS_DIRS];
    unsigned          model, provider, cls, d, series;

    if (m == NULL || worker_slot >= FG_METRICS_WORKERS) {
        return;
    }
    b = &m->mm_blocks[worker_slot];
    if (atomic_load_explicit(&m->mm_used[worker_slot],
                             memory_order_relaxed) == 0) {
        atomic_store_explicit(&m->mm_used[worker_slot], 1,
                              memory_order_relaxed);
    }
    model = metrics_name_find(m, s->model_served);
    provider = metrics_name_find(m, s->provider);
    cls = metrics_status_class(s->status);
    series = metrics_series_index(m, model, provider, cls,
                                  metrics_code(s->error));
    se = &b->mb_series[series];
    if (s->is_usage_invalid) {
        metrics_add(&b->mb_usage_invalid[series], 1);
    }
    if (s->uncharged_micro > 0) {
        metrics_add(&b->mb_uncharged_micro[series],
                    (uint64_t) s->uncharged_micro);
    }
    if (s->is_json_repaired) {
        metrics_add(&b->mb_json_repaired[series], 1);
    }
    if (s->is_compressed) {
        metrics_add(&b->mb_compressed[series], 1);
        if (s->compressed_tokens > 0) {
            metrics_add(&b->mb_compressed_tokens[series],
                        (uint64_t) s->compressed_tokens);
        }
    }
    tokens[0] = s->prompt_tokens;
    tokens[1] = s->completion_tokens;
    tokens[2] = s->reasoning_tokens;
    tokens[3] = s->cached_tokens;

    metrics_add(&se->ms_requests, 1);
    for (d = 0; d < METRICS_DIRS; d++) {
        if (tokens[d] > 0) {
            metrics_add(&se->ms_tokens[d], (uint64_t) tokens[d]);
        }
    }
    if (s->has_impact) {
        uint64_t nano[METRICS_IMPACTS];

        nano[METRICS_ENERGY_NWH] = metrics_nano(s->energy_kwh,
            metrics_impact[METRICS_ENERGY_NWH].per_unit);
        nano[METRICS_CARBON_NG] = metrics_nano(s->carbon_g_co2,
            metrics_impact[METRICS_CARBON_NG].per_unit);
        nano[METRICS_WATER_NL] = metrics_nano(s->water_liters,
            metrics_impact[METRICS_WATER_NL].per_unit);
        for (d = 0; d < METRICS_IMPACTS; d++) {
            if (nano[d] > 0) {
                metrics_add(&se->ms_impact[d], nano[d]);
            }
        }
    }
    metrics_observe(&b->mb_duration, metrics_bound_us, s->latency_us);
    if (s->ttfb_us >= 0) {
        metrics_observe(&b->mb_ttfb, metrics_bound_us, s->ttfb_us);
    }
    if (s->limit > FG_LIMIT_NONE && s->limit < FG_LIMIT__COUNT) {
        metrics_add(&b->mb_limit[s->limit], 1);
    }
    if (s->charged_micro > 0) {
        metrics_add(&b->mb_charged_micro, (uint64_t) s->charged_micro);
    }
    if (s->error == FG_E_INSUFFICIENT_ENERGY) {
        metrics_add(&b->mb_energy_refusals, 1);
    }
    if (s->upstream > FG_UPSTREAM_OK && s->upstream < FG_UPSTREAM__COUNT) {
        metrics_add(&b->mb_upstream[provider][s->upstream], 1);
    }

    if (atomic_load_explicit(&m->mm_per_key, memory_order_relaxed) == 0
        || s->key_id == NULL || s->key_id[0] == '\0') {
        return;
    }
    /* Shared by every worker serving the key: fetch_add. */
    k = metrics_key_slot(m, metrics_key_id(s->key_id));
    atomic_fetch_add_explicit(&k->mk_requests, 1, memory_order_relaxed);
    for (d = 0; d < METRICS_DIRS; d++) {
        if (tokens[d] > 0) {
            atomic_fetch_add_explicit(&k->mk_tokens[d], (uint64_t) tokens[d],
                                      memory_order_relaxed);
        }
    }
}

void
fg_metrics_journal_synced(fg_metrics_t *m, int64_t us)
{
    if (m != NULL) {
        metrics_observe(&m->mm_journal_sync, metrics_sync_bound_us, us);
    }
}

/* ---- rendering ---------------------------------------------------- */

/* The region summed over the blocks in use, private to one render. */
typedef struct {
    uint64_t word[METRICS_SERIES_ALL];          /* 0: no such series */
    uint64_t requests[METRICS_SERIES_ALL];
    uint64_t tokens[METRICS_SERIES_ALL][METRICS_DIRS];
    uint64_t impact[METRICS_SERIES_ALL][METRICS_IMPACTS];
    uint64_t duration[METRICS_BUCKETS + 1];
    uint64_t duration_sum_us;
    uint64_t ttfb[METRICS_BUCKETS + 1];
    uint64_t ttfb_sum_us;
    uint64_t limit[FG_LIMIT__COUNT];
    uint64_t charged_micro;
    uint64_t energy_refusals;
    uint64_t upstream[METRICS_NAME_IDS][FG_UPSTREAM__COUNT];
    uint64_t usage_invalid[METRICS_SERIES_ALL];
    uint64_t uncharged_micro[METRICS_SERIES_ALL];
    uint64_t json_repaired[METRICS_SERIES_ALL];
    uint64_t compressed[METRICS_SERIES_ALL];
    uint64_t compressed_tokens[METRICS_SERIES_ALL];
    uint8_t  provider_seen[METRICS_NAME_IDS];
} metrics_totals_t;

static uint64_t
metrics_load(const _Atomic uint64_t *c)
{
    return atomic_load_explicit((_Atomic uint64_t *) c, memory_order_relaxed);
}

static void
metrics_sum(const fg_metrics_t *m, metrics_totals_t *t)
{
    const metrics_block_t *b;
    unsigned               w, i, d, cls, code;

    /* Label sets first: a series entered after this is counted below but
     * shown from the next scrape on; no count is ever lost. */
    for (i = 0; i < FG_METRICS_SERIES; i++) {
        t->word[i] = metrics_load(&m->mm_series[i]);
    }
    for (cls = 0; cls < METRICS_CLASSES; cls++) {
        for (code = 0; code < FG_E__COUNT; code++) {
            t->word[FG_METRICS_SERIES + cls * FG_E__COUNT + code] =
                metrics_series_word(METRICS_NAME_OTHER, METRICS_NAME_OTHER,
                                    cls, code);
        }
    }
    for (w = 0; w < FG_METRICS_WORKERS; w++) {
        if (atomic_load_explicit((_Atomic uint32_t *) &m->mm_used[w],
                                 memory_order_relaxed) == 0) {
            continue;
        }
        b = &m->mm_blocks[w];
        for (i = 0; i <= METRICS_BUCKETS; i++) {
            t->duration[i] += metrics_load(&b->mb_duration.mh_buckets[i]);
            t->ttfb[i] += metrics_load(&b->mb_ttfb.mh_buckets[i]);
        }
        t->duration_sum_us += metrics_load(&b->mb_duration.mh_sum_us);
        t->ttfb_sum_us += metrics_load(&b->mb_ttfb.mh_sum_us);
        for (i = 0; i < FG_LIMIT__COUNT; i++) {
            t->limit[i] += metrics_load(&b->mb_limit[i]);
        }
        t->charged_micro += metrics_load(&b->mb_charged_micro);
        t->energy_refusals += metrics_load(&b->mb_energy_refusals);
        for (i = 0; i < METRICS_NAME_IDS; i++) {
            for (d = 0; d < FG_UPSTREAM__COUNT; d++) {
                t->upstream[i][d] += metrics_load(&b->mb_upstream[i][d]);
            }
        }
        for (i = 0; i < METRICS_SERIES_ALL; i++) {
            if (t->word[i] == 0) {
                continue;
            }
            t->requests[i] += metrics_load(&b->mb_series[i].ms_requests);
            t->usage_invalid[i] += metrics_load(&b->mb_usage_invalid[i]);
            t->uncharged_micro[i] +=
                metrics_load(&b->mb_uncharged_micro[i]);
            t->json_repaired[i] += metrics_load(&b->mb_json_repaired[i]);
            t->compressed[i] += metrics_load(&b->mb_compressed[i]);
            t->compressed_tokens[i] +=
                metrics_load(&b->mb_compressed_tokens[i]);
            for (d = 0; d < METRICS_DIRS; d++) {
                t->tokens[i][d] += metrics_load(&b->mb_series[i].ms_tokens[d]);
            }
            for (d = 0; d < METRICS_IMPACTS; d++) {
                t->impact[i][d] += metrics_load(&b->mb_series[i].ms_impact[d]);
            }
        }
    }
}

void
fg_metrics_label(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s=\"", name);
    for (; *value != '\0'; value++) {
        switch (*value) {
        case '\\': fputs("\\\\", out); break;
        case '"':  fputs("\\\"", out); break;
        case '\n': fputs("\\n", out); break;
        default:   fputc(*value, out); break;
        }
    }
    fputc('"', out);
}

static void
metrics_family(FILE *out, const char *name, const char *type,
               const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_histogram(FILE *out, const char *name, const char *help,
                  const char *const *le, const uint64_t *buckets,
                  uint64_t sum_us)
{
    uint64_t cum = 0;
    unsigned i;

    metrics_family(out, name, "histogram", help);
    for (i = 0; i <= METRICS_BUCKETS; i++) {
        cum += buckets[i];
        fprintf(out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
                le[i], cum);
    }
    fprintf(out, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name,
            sum_us / 1000000, sum_us % 1000000);
    fprintf(out, "%s_count %" PRIu64 "\n", name, cum);
}

static unsigned
metrics_word_model(uint64_t w)
{
    return (unsigned) (w >> 32) & 0xffff;
}

static unsigned
metrics_word_provider(uint64_t w)
{
    return (unsigned) (w >> 16) & 0xffff;
}

/* A series' (model, provider) pair, to group its tokens by. */
typedef struct {
    uint64_t pair;
    unsigned index;
} metrics_pair_t;

static int
metrics_by_pair(const void *a, const void *b)
{
    const metrics_pair_t *pa = a, *pb = b;

    if (pa->pair != pb->pair) {
        return pa->pair < pb->pair ? -1 : 1;
    }
    return pa->index < pb->index ? -1 : pa->index > pb->index;
}

static void
metrics_render_requests(const fg_metrics_t *m, FILE *out,
                        metrics_totals_t *t)
{
    uint64_t w;
    unsigned i;

    metrics_family(out, "fluxgate_requests_total", "counter",
                   "Requests answered, by model and provider served, status "
                   "class and error code.");
    for (i = 0; i < METRICS_SERIES_ALL; i++) {
        w = t->word[i];
        /* Overflow entries are shown once something counted in them. */
        if (w == 0 || (i >= FG_METRICS_SERIES && t->requests[i] == 0)) {
            continue;
        }
        t->provider_seen[metrics_word_provider(w)] = 1;
        fputs("fluxgate_requests_total{", out);
        fg_metrics_label(out, "model", metrics_name_str(m, metrics_word_model(w)));
        fputc(',', out);
        fg_metrics_label(out, "provider",
                      metrics_name_str(m, metrics_word_provider(w)));
        fprintf(out, ",status_class=\"%s\",",
                metrics_class[(w >> 8) & 0xff]);
        fg_metrics_label(out, "code",
                      fg_error_code_str((fg_error_code_t) (w & 0xff)));
        fprintf(out, "} %" PRIu64 "\n", t->requests[i]);
    }
}

/*
 * The routed series in @order (METRICS_SERIES_ALL entries), grouped by
 * their (model, provider) pair; returns how many.
 */
static unsigned
metrics_pairs(const metrics_totals_t *t, metrics_pair_t *order)
{
    uint64_t w;
    unsigned n = 0, i;

    for (i = 0; i < METRICS_SERIES_ALL; i++) {
        w = t->word[i];
        if (w != 0 && metrics_word_model(w) != METRICS_NAME_NONE
            && (i < FG_METRICS_SERIES || t->requests[i] > 0)) {
            order[n].pair = w >> 16 & 0xffffffffULL;
            order[n++].index = i;
        }
    }
    qsort(order, n, sizeof(*order), metrics_by_pair);
    return n;
}

static void
metrics_pair_labels(const fg_metrics_t *m, FILE *out, uint64_t w)
{
    fg_metrics_label(out, "model", metrics_name_str(m, metrics_word_model(w)));
    fputc(',', out);
    fg_metrics_label(out, "provider",
                  metrics_name_str(m, metrics_word_provider(w)));
}

static void
metrics_render_tokens(const fg_metrics_t *m, FILE *out,
                      const metrics_totals_t *t, const metrics_pair_t *order,
                      unsigned n)
{
    uint64_t sum[METRICS_DIRS], w;
    unsigned i, j, d;

    metrics_family(out, "fluxgate_tokens_total", "counter",
                   "Tokens the upstreams reported, by model, provider and "
                   "direction (cached is part of prompt, reasoning part of "
                   "completion).");
    for (i = 0; i < n; i = j) {
        memset(sum, 0, sizeof(sum));
        for (j = i; j < n && order[j].pair == order[i].pair; j++) {
            for (d = 0; d < METRICS_DIRS; d++) {
                sum[d] += t->tokens[order[j].index][d];
            }
        }
        w = t->word[order[i].index];
        for (d = 0; d < METRICS_DIRS; d++) {
            fputs("fluxgate_tokens_total{", out);
            metrics_pair_labels(m, out, w);
            fprintf(out, ",direction=\"%s\"} %" PRIu64 "\n", metrics_dir[d],
                    sum[d]);
        }
    }
}

/* One family per figure, each sample the exact integer sum shown as a
 * fixed decimal of the unit: no float ever adds up. */
static void
metrics_render_impact(const fg_metrics_t *m, FILE *out,
                      const metrics_totals_t *t, const metrics_pair_t *order,
                      unsigned n)
{
    uint64_t sum, per;
    unsigned f, i, j;

    for (f = 0; f < METRICS_IMPACTS; f++) {
        per = metrics_impact[f].per_unit;
        metrics_family(out, metrics_impact[f].name, "counter",
                       metrics_impact[f].help);
        for (i = 0; i < n; i = j) {
            sum = 0;
            for (j = i; j < n && order[j].pair == order[i].pair; j++) {
                sum += t->impact[order[j].index][f];
            }
            fprintf(out, "%s{", metrics_impact[f].name);
            metrics_pair_labels(m, out, t->word[order[i].index]);
            fprintf(out, "} %" PRIu64 ".%0*" PRIu64 "\n", sum / per,
                    metrics_impact[f].decimals, sum % per);
        }
    }
}

/* A counter by model and provider: @values indexed by series. */
static void
metrics_render_pair_counter(const fg_metrics_t *m, FILE *out,
                            const char *name, const char *help,
                            const metrics_totals_t *t,
                            const uint64_t *values,
                            const metrics_pair_t *order, unsigned n)
{
    uint64_t sum;
    unsigned i, j;

    metrics_family(out, name, "counter", help);
    for (i = 0; i < n; i = j) {
        sum = 0;
        for (j = i; j < n && order[j].pair == order[i].pair; j++) {
            sum += values[order[j].index];
        }
        fprintf(out, "%s{", name);
        metrics_pair_labels(m, out, t->word[order[i].index]);
        fprintf(out, "} %" PRIu64 "\n", sum);
    }
}

static void
metrics_render_upstream(const fg_metrics_t *m, FILE *out,
                        const metrics_totals_t *t)
{
    unsigned p, k;

    metrics_family(out, "fluxgate_upstream_errors_total", "counter",
                   "Requests an upstream failed, by provider and kind of "
                   "failure.");
    for (p = 0; p < METRICS_NAME_IDS; p++) {
        int any = t->provider_seen[p] && p != METRICS_NAME_NONE;

        for (k = 1; k < FG_UPSTREAM__COUNT; k++) {
            any |= t->upstream[p][k] != 0;
        }
        if (!any) {
            continue;
        }
        for (k = 1; k < FG_UPSTREAM__COUNT; k++) {
            fputs("fluxgate_upstream_errors_total{", out);
            fg_metrics_label(out, "provider", metrics_name_str(m, p));
            fprintf(out, ",kind=\"%s\"} %" PRIu64 "\n", fg_upstream_kind_name((fg_upstream_kind_t) k),
                    t->upstream[p][k]);
        }
    }
}

static void
metrics_render_keys(const fg_metrics_t *m, FILE *out)
{
    const metrics_key_t *k;
    uint64_t             id;
    unsigned             i, d, pass;
    char                 label[FG_KEY_ID_SIZE];

    /* Pass 0: requests, pass 1: tokens; a family's samples together. */
    for (pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            metrics_family(out, "fluxgate_key_requests_total", "counter",
                           "Requests made with each API key "
                           "(metrics.per_key).");
        } else {
            metrics_family(out, "fluxgate_key_tokens_total", "counter",
                           "Tokens of each API key's requests, by direction "
                           "(metrics.per_key).");
        }
        for (i = 0; i <= FG_METRICS_KEYS; i++) {
            k = &m->mm_keys[i];
            id = metrics_load(&k->mk_id);
            if (i == FG_METRICS_KEYS) {
                /* Keys beyond the table's room: shown once there is one. */
                if (metrics_load(&k->mk_requests) == 0) {
                    continue;
                }
                snprintf(label, sizeof(label), "other");
            } else if (id == 0) {
                continue;
            } else {
                snprintf(label, sizeof(label), FG_KEY_ID_PREFIX "%016" PRIx64,
                         id);
            }
            if (pass == 0) {
                fprintf(out, "fluxgate_key_requests_total{key=\"%s\"} %"
                        PRIu64 "\n", label, metrics_load(&k->mk_requests));
                continue;
            }
            for (d = 0; d < METRICS_DIRS; d++) {
                fprintf(out, "fluxgate_key_tokens_total{key=\"%s\","
                        "direction=\"%s\"} %" PRIu64 "\n", label,
                        metrics_dir[d], metrics_load(&k->mk_tokens[d]));
            }
        }
    }
}

int
fg_metrics_render(const fg_metrics_t *m, FILE *out, fg_err_t *err)
{
    metrics_totals_t *t = fg_xcalloc(1, sizeof(*t));
    metrics_pair_t   *order = fg_xmalloc(METRICS_SERIES_ALL * sizeof(*order));
    uint64_t          sync[METRICS_BUCKETS + 1];
    unsigned          i, npairs;

    metrics_sum(m, t);
    metrics_render_requests(m, out, t);
    metrics_histogram(out, "fluxgate_request_duration_seconds",
                      "Time from a request's arrival to its end.",
                      metrics_le, t->duration, t->duration_sum_us);
    metrics_histogram(out, "fluxgate_upstream_time_to_first_byte_seconds",
                      "Time from a request's arrival to the first byte of "
                      "its upstream's reply.", metrics_le, t->ttfb,
                      t->ttfb_sum_us);
    npairs = metrics_pairs(t, order);
    metrics_render_tokens(m, out, t, order, npairs);
    metrics_render_impact(m, out, t, order, npairs);
    metrics_render_pair_counter(m, out,
        "fluxgate_provider_usage_invalid_total",
        "Replies whose usage no reply to the request could have "
        "(negative, or beyond its output limit or the model's context "
        "window): charged the reservation in full.",
        t, t->usage_invalid, order, npairs);
    metrics_render_pair_counter(m, out, "fluxgate_uncharged_micro_total",
        "Micro-credits of usage priced beyond a request's reservation and "
        "not charged (0 unless a provider counts past the estimate's upper "
        "bound or the output limit it was sent).",
        t, t->uncharged_micro, order, npairs);
    metrics_render_pair_counter(m, out, "fluxgate_json_repaired_total",
        "Replies whose JSON (a JSON mode's content, tool-call arguments) "
        "the gateway repaired.", t, t->json_repaired, order, npairs);
    metrics_render_pair_counter(m, out, "fluxgate_compressed_requests_total",
        "Requests whose prompt was compressed to fit a context window "
        "(transforms middle-out).", t, t->compressed, order, npairs);
    metrics_render_pair_counter(m, out, "fluxgate_compressed_tokens_total",
        "Prompt tokens (the lower bound) compression removed.", t,
        t->compressed_tokens, order, npairs);
    free(order);
    for (i = 0; i <= METRICS_BUCKETS; i++) {
        sync[i] = metrics_load(&m->mm_journal_sync.mh_buckets[i]);
    }
    metrics_histogram(out, "fluxgate_usage_journal_sync_duration_seconds",
                      "Time the syncer's fdatasync of the usage journal "
                      "took, for each group commit.", metrics_sync_le, sync,
                      metrics_load(&m->mm_journal_sync.mh_sum_us));
    metrics_family(out, "fluxgate_rate_limit_rejections_total", "counter",
                   "Requests refused by a rate limit, by limit.");
    for (i = 1; i < FG_LIMIT__COUNT; i++) {
        fprintf(out, "fluxgate_rate_limit_rejections_total{limit=\"%s\"} %"
                PRIu64 "\n", fg_limit_kind_name((fg_limit_kind_t) i), t->limit[i]);
    }
    metrics_family(out, "fluxgate_energy_charged_credits_total", "counter",
                   "Energy credit charged to keys (exact: micro-credit "
                   "integers underneath).");
    fprintf(out, "fluxgate_energy_charged_credits_total %" PRIu64 ".%06"
            PRIu64 "\n", t->charged_micro / 1000000,
            t->charged_micro % 1000000);
    metrics_family(out, "fluxgate_energy_rejections_total", "counter",
                   "Requests refused (402) because the key's balance could "
                   "not pay for a minimal reply.");
    fprintf(out, "fluxgate_energy_rejections_total %" PRIu64 "\n",
            t->energy_refusals);
    metrics_render_upstream(m, out, t);
    if (atomic_load_explicit((_Atomic uint32_t *) &m->mm_per_key,
                             memory_order_relaxed)) {
        metrics_render_keys(m, out);
    }
    free(t);
    if (fflush(out) != 0 || ferror(out)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "writing the metrics "
                          "failed");
    }
    return FG_OK;
}
