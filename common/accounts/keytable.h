#ifndef FG_COMMON_KEYTABLE_H
#define FG_COMMON_KEYTABLE_H

/*
 * The key table: every API key's record, found by its keyed hash, in a
 * block of shared memory that one writer process (the admin/syncer
 * process; callers serialise writes) updates while many worker processes
 * read it without locks, syscalls or blocking. A reader never sees a
 * half-written record: each change is written into a spare record
 * version and published with one atomic store into an open-addressed
 * index. keytable.c's file comment gives the argument.
 *
 * The block is caller-provided (a region of the shm arena, or malloc'd or
 * mmap'd memory in tests), 8-byte aligned, fg_keytable_bytes(max_keys)
 * long, and zeroed. It holds no pointers, so it can be mapped at any
 * address in any process.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/errors.h"
#include "common/accounts/keys.h"

#ifndef FG_MUST_USE
#define FG_MUST_USE __attribute__((warn_unused_result))
#endif

#define FG_KEYTABLE_MAGIC          0x31626174796b6766ULL   /* "fgkytab1" */
#define FG_KEYTABLE_LAYOUT_VERSION 4     /* 2: the usage position;
                                            3: the routing preset;
                                            4: the default transforms */
#define FG_KEYTABLE_MAX_KEYS       ((1u << 24) - 2)
/* Reader restarts before a lookup gives up with FG_KEYTABLE_BUSY. */
#define FG_KEYTABLE_READ_RETRIES   64

/* Sizes of the record's fixed strings, NUL included. */
#define FG_KEY_RECORD_ID_SIZE        24
#define FG_KEY_RECORD_NAME_SIZE      64
#define FG_KEY_RECORD_OWNER_SIZE     64
#define FG_KEY_RECORD_MODELS_MAX     8
#define FG_KEY_RECORD_MODEL_SIZE     64
#define FG_KEY_RECORD_METADATA_SIZE  512

/*
 * kr_transforms bits: the prompt transforms a key's requests get when
 * they name none. A request's own "transforms" or "context-compression"
 * plugin, an empty list included, overrides them; the worker reads
 * req->auth.key.kr_transforms & FG_KEY_TRANSFORM_MIDDLE_OUT when the
 * request says nothing. 0: none, the default.
 */
#define FG_KEY_TRANSFORM_MIDDLE_OUT (1u << 0)  /* "middle-out": compress a
                                                  prompt no window fits */
#define FG_KEY_TRANSFORMS_KNOWN     FG_KEY_TRANSFORM_MIDDLE_OUT
/* Entries a list of transform names may hold (the request's bound). */
#define FG_KEY_TRANSFORMS_LIST_MAX  8

/* kr_status values. 0 is no status: a zeroed record is refused. */
#define FG_KEY_STATUS_ACTIVE   1u
#define FG_KEY_STATUS_REVOKED  2u
#define FG_KEY_STATUS_ROTATED  3u   /* replaced; valid until grace ends */

/*
 * One key. Only fixed-width integers and fixed char arrays, so it can be
 * copied word by word into and out of shm. Strings are NUL-terminated
 * inside their arrays; a value that does not fit is an error at
 * fg_key_record_set_str() and at fg_keytable_put(), never cut silently.
 * Times are Unix milliseconds; limits and energy are 0 = unlimited / none.
 */
typedef struct {
    uint8_t  kr_hash[FG_KEY_HASH_BYTES];       /* the table's key */
    char     kr_id[FG_KEY_RECORD_ID_SIZE];     /* public "key_…" id */
    char     kr_name[FG_KEY_RECORD_NAME_SIZE];
    char     kr_owner[FG_KEY_RECORD_OWNER_SIZE];
    int64_t  kr_created_ms;
    int64_t  kr_updated_ms;
    int64_t  kr_expires_ms;                    /* 0 = never */
    int64_t  kr_grace_until_ms;                /* ROTATED: valid until */
    uint32_t kr_status;                        /* FG_KEY_STATUS_* */
    uint32_t kr_models_count;                  /* 0 = every model */
    int64_t  kr_requests_per_min;              /* 0 = unlimited */
    int64_t  kr_tokens_per_min;                /* 0 = unlimited */
    int64_t  kr_max_concurrent;                /* 0 = unlimited */
    int64_t  kr_balance_micro;                 /* energy, micro-units */
    int64_t  kr_regen_per_hour_micro;
    int64_t  kr_cap_micro;                     /* regeneration stops here */
    /* What kr_balance_micro includes (the store's copy; docs/architecture.md
     * "cold start"): every usage-journal record before this position, and
     * regeneration up to kr_regen_at_ms with the remainder kr_regen_carry
     * (micro * ms). A position of 0/0 is a record from before positions. */
    uint64_t kr_usage_file;                    /* fg_usagelog_pos_t;
                                                  FG_KEY_USAGE_LEGACY */
    uint64_t kr_usage_offset;
    int64_t  kr_regen_at_ms;
    int64_t  kr_regen_carry;
    /* The routing preset of the key's requests that name none: an
     * fg_preset_t (common/route/router.h) as a plain number, so the shm
     * layout does not hang on an enum's size; FG_PRESET_UNSET (-1): none,
     * the router's default (balanced). 0 is balanced itself, so a record
     * built from zeroes sets -1 when it means none. */
    int32_t  kr_preset;
    uint8_t  kr_transforms;                    /* FG_KEY_TRANSFORM_* bits */
    uint8_t  kr_pad[3];                        /* zero */
    char     kr_models[FG_KEY_RECORD_MODELS_MAX][FG_KEY_RECORD_MODEL_SIZE];
    char     kr_metadata[FG_KEY_RECORD_METADATA_SIZE];   /* JSON text */
} fg_key_record_t;

/* kr_usage_file of a record stored before positions: it includes what
 * the journal held when it was loaded. */
#define FG_KEY_USAGE_LEGACY UINT64_MAX

_Static_assert(sizeof(fg_key_record_t) == 1336, "key record layout");
_Static_assert(sizeof(fg_key_record_t) % 8 == 0,
               "key record copies as whole 64-bit words");
_Static_assert(FG_KEY_RECORD_ID_SIZE >= FG_KEY_ID_SIZE, "id fits");

/*
 * The table's header, at the start of the block. Fields above
 * kt_index_gen are written once by fg_keytable_init(); the atomics by the
 * writer only; kt_free_top and kt_stamp are the writer's private state
 * (kept here so that fg_keytable_recover() can repair them after the
 * writer died). Readers use only the functions below.
 */
typedef struct fg_keytable_s {
    uint64_t         kt_magic;
    uint32_t         kt_layout_version;
    uint32_t         kt_header_bytes;
    uint64_t         kt_total_bytes;
    uint32_t         kt_max_keys;
    uint32_t         kt_index_slots;          /* power of two */
    uint32_t         kt_versions;             /* kt_max_keys + 1 */
    uint32_t         kt_record_bytes;         /* sizeof(fg_key_record_t) */
    uint64_t         kt_index_offset[2];      /* bytes from the header */
    uint64_t         kt_free_offset;
    uint64_t         kt_versions_offset;
    _Atomic uint64_t kt_index_gen;            /* index in use = gen & 1 */
    _Atomic uint32_t kt_count;                /* live keys */
    _Atomic uint32_t kt_tombstones;           /* in the index in use */
    _Atomic uint32_t kt_writer_busy;          /* 1 inside a write */
    uint32_t         kt_free_top;             /* free versions stacked */
    uint64_t         kt_stamp;                /* last write stamp used */
    _Atomic uint64_t kt_compactions;
    uint8_t          kt_pad[16];
} fg_keytable_t;

_Static_assert(sizeof(fg_keytable_t) == 128, "key table header layout");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the key table needs lock-free atomics");

typedef enum {
    FG_KEYTABLE_FOUND = 0,
    FG_KEYTABLE_NOT_FOUND,
    FG_KEYTABLE_BUSY            /* no consistent read; fail closed */
} fg_keytable_result_t;

typedef enum {
    FG_KEY_CHECK_OK = 0,
    FG_KEY_CHECK_REVOKED,
    FG_KEY_CHECK_EXPIRED,
    FG_KEY_CHECK_ROTATED        /* a rotated-out key whose grace is over */
} fg_key_check_t;

typedef struct {
    uint32_t max_keys;
    uint32_t index_slots;
    uint32_t count;
    uint32_t tombstones;
    uint32_t writer_busy;
    uint64_t compactions;
    size_t   bytes;
} fg_keytable_stats_t;

/*
 * Bytes of the block for @max_keys keys (index slots: the power of two
 * >= 2 * @max_keys, twice; @max_keys + 1 record versions; the free
 * stack), a multiple of 64. 0 when @max_keys is 0 or above
 * FG_KEYTABLE_MAX_KEYS. Cannot fail otherwise.
 */
size_t fg_keytable_bytes(uint32_t max_keys);

/*
 * Lays out an empty table in the zeroed block @mem of @bytes bytes.
 * Returns the table (borrowed: it is @mem), or NULL with @err set when
 * @max_keys is out of range, @bytes is less than fg_keytable_bytes() or
 * @mem is not 8-byte aligned. Call once, before any reader exists (master,
 * before forking). Never blocks.
 */
fg_keytable_t *fg_keytable_init(void *mem, size_t bytes, uint32_t max_keys,
                                fg_err_t *err);

/*
 * Checks that @mem is 8-byte aligned and holds a table of this layout
 * (magic, version, header, record and block sizes, and the index size
 * and region offsets they imply, which readers index by). Returns the
 * table, or NULL with @err naming the first mismatch. Any process; never
 * blocks.
 */
fg_keytable_t *fg_keytable_attach(void *mem, size_t bytes, fg_err_t *err);

/*
 * Inserts @rec, or replaces the record with the same kr_hash. @rec is
 * validated first (fg_key_record_validate()). Readers see the old record
 * or the new one, never a mix. Returns FG_OK, or FG_ERR with @err set:
 * FG_E_INVALID_VALUE / FG_E_OUT_OF_RANGE for a bad record (param names
 * the field), FG_E_INTERNAL when a new key would exceed kt_max_keys, or
 * when the writer's bookkeeping is inconsistent (a writer died and
 * fg_keytable_recover() was not called): the table is left unchanged.
 * Writer process only, one call at a time; never blocks, no syscalls.
 */
FG_MUST_USE int fg_keytable_put(fg_keytable_t *t, const fg_key_record_t *rec,
                                fg_err_t *err);

/*
 * Removes the key with @hash: FG_KEYTABLE_FOUND when it was there,
 * FG_KEYTABLE_NOT_FOUND otherwise. Readers that started before may still
 * return the old record; none that start after will. May compact the
 * index (O(index slots)) when tombstones pass an eighth of it. Writer
 * only; never blocks, no syscalls.
 */
fg_keytable_result_t fg_keytable_delete(fg_keytable_t *t,
                                        const uint8_t hash[FG_KEY_HASH_BYTES]);

/*
 * Copies the record with @hash into @out: FG_KEYTABLE_FOUND, or
 * FG_KEYTABLE_NOT_FOUND (@out untouched), or FG_KEYTABLE_BUSY when
 * FG_KEYTABLE_READ_RETRIES consistent reads in a row were spoiled by
 * concurrent writes: the caller must then treat the key as unavailable
 * (fail closed, e.g. 503 with Retry-After), never as valid. Hashes are
 * compared in constant time. Any process; lock-free, never blocks, no
 * syscalls, O(1) expected.
 */
fg_keytable_result_t fg_keytable_lookup(const fg_keytable_t *t,
                                        const uint8_t hash[FG_KEY_HASH_BYTES],
                                        fg_key_record_t *out);

/*
 * Iteration: with *@cursor = 0 at first, each FG_KEYTABLE_FOUND copies one
 * live record into @out and advances *@cursor; FG_KEYTABLE_NOT_FOUND ends
 * it; FG_KEYTABLE_BUSY means call again with the same cursor. Every
 * record is internally consistent; the set is exact only when no write
 * runs meanwhile (the writer's own snapshot and listing), otherwise keys
 * changed meanwhile may be missed or seen twice. Any process; never
 * blocks.
 */
fg_keytable_result_t fg_keytable_next(const fg_keytable_t *t,
                                      uint32_t *cursor, fg_key_record_t *out);

/* Live keys; any process, never blocks. */
uint32_t fg_keytable_count(const fg_keytable_t *t);

/* Fills @st; any process, never blocks, cannot fail. */
void fg_keytable_stats(const fg_keytable_t *t, fg_keytable_stats_t *st);

/*
 * Repairs the writer's private state (free record versions, the write
 * stamp, counts) from the published indexes after a writer died at any
 * instruction; readers
 * are unaffected by such a death and by this call. Call it in the writer
 * process at start (or in the master after reaping the writer) while no
 * other writer runs. O(index slots + max keys); allocates (aborts on
 * out-of-memory); cannot fail.
 */
void fg_keytable_recover(fg_keytable_t *t);

/*
 * Copies the NUL-terminated @value into the record field @dst of @size
 * bytes. A value that does not fit is FG_ERR with @err set
 * (FG_E_OUT_OF_RANGE, param @field, "metadata is 600 bytes, at most 511")
 * and @dst unchanged. Use through FG_KEY_RECORD_SET(). Never blocks.
 */
FG_MUST_USE int fg_key_record_set_str(char *dst, size_t size,
                                      const char *value, const char *field,
                                      fg_err_t *err);

#define FG_KEY_RECORD_SET(rec, field, value, err)                           \
    fg_key_record_set_str((rec)->kr_##field, sizeof((rec)->kr_##field),     \
                          (value), #field, (err))

/*
 * Appends the model pattern @pattern to @rec's allowed models: an exact
 * model id, "*" (every model), or a provider's name and "/" followed by
 * "*" (every model of that provider). FG_ERR with @err set when the list
 * is full, the pattern is empty or too long, or "*" appears anywhere else
 * than as the whole pattern or right after a final "/". Never blocks.
 */
FG_MUST_USE int fg_key_record_add_model(fg_key_record_t *rec,
                                        const char *pattern, fg_err_t *err);

/*
 * The FG_KEY_TRANSFORM_* bit the @len bytes at @name name ("middle-out";
 * exact, case-sensitive), or 0 for none. Cannot fail.
 */
unsigned fg_key_transform_parse(const char *name, size_t len);

/*
 * The name of the transform whose bit is @bit ("middle-out"), or NULL when
 * @bit is not exactly one known bit. Static storage; cannot fail.
 */
const char *fg_key_transform_name(unsigned bit);

/*
 * Checks everything fg_keytable_put() relies on: a known status, every
 * string NUL-terminated in its array, kr_models_count in range with
 * non-empty patterns, no negative time, limit or energy value, no unknown
 * kr_transforms bit. Returns
 * FG_OK, or FG_ERR with @err set (param names the field). Never blocks.
 */
FG_MUST_USE int fg_key_record_validate(const fg_key_record_t *rec,
                                       fg_err_t *err);

/*
 * Whether the key may be used at @now_ms: revoked, expired (kr_expires_ms
 * reached), rotated with its grace over, or OK. Cannot fail.
 */
fg_key_check_t fg_key_record_check(const fg_key_record_t *rec,
                                   int64_t now_ms);

/*
 * 1 if @rec allows the model @model_id served by @provider_id (may be
 * NULL), 0 otherwise. An empty list allows every model. A pattern
 * matches when it is "*", equals @model_id, or is "p/" followed by "*"
 * and either @provider_id is "p" or @model_id starts with "p/". Cannot
 * fail.
 */
int fg_keytable_matches_model(const fg_key_record_t *rec,
                              const char *model_id, const char *provider_id);

#endif
