/*
 * respstore.c: the response store (respstore.h says what it is for).
 *
 * Files. A response or item id names the file <dir>/<shard>/<id>, where
 * <shard> is "%02x" of the low byte of the id's 64-bit FNV-1a hash. The
 * hash is part of the on-disk format: files outlive a build, and another
 * hash would look for them in the wrong folder. A file is written whole
 * under <shard>/.tmp.<pid>.<seq> (seq from the shm region, so no two
 * processes pick one name), linked to its name and the temporary name
 * removed, so a name is never seen half-written and never replaced. A
 * worker killed in between leaves a temporary file, which the sweep
 * removes after a minute and the next start at once.
 *
 * Counting. The shm region holds the bytes and files of the whole store
 * and the bytes of each key, in an open-addressed table keyed by a hash
 * of the key id: an entry is claimed by a compare-and-swap of its subject
 * from 0 and never given up while the processes run (so no probe chain
 * ever breaks); the next start's prepare builds the table anew from the
 * disk. A file counts its header line and its body, exactly its size. A
 * put adds its bytes before writing anything and checks the caps on the
 * sums it made, so two workers racing for the last bytes cannot both get
 * them; whatever is not written is given back. Hence the counters never
 * understate the disk, the caps hold, and a process dying between add and
 * give-back only overstates until the next start.
 *
 * Sweep (syncer). Pass 1 deletes expired, unreadable and stale temporary
 * files and notes up to 64 keys past 7/8 of their cap. When the store or
 * one of those keys is still past 7/8, pass 2 builds, for each, a
 * histogram of bytes by creation time (RESPSTORE_BUCKETS buckets between
 * now - ttl, the oldest a live file can be, and now), picks the bucket
 * below which deleting brings it under 3/4 of the cap, and pass 3 deletes
 * those files. Memory is that histogram per key, never a list of files.
 *
 * Not here: no fsync (the store is a cache; respstore.h), no locking (the
 * file system's link(2) and the counters' atomics are all it needs), no
 * logging.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/base/alloc.h"
#include "common/store/respstore.h"
#include "common/wire/jdoc.h"

#define RESPSTORE_MAGIC       0x3174736573707266ULL   /* "frpsest1" */
#define RESPSTORE_FILE_MAGIC  "FGRS1 "
#define RESPSTORE_HEADER_MAX  192     /* bytes of a header line, '\n' in */
#define RESPSTORE_PATH_MAX    4096
#define RESPSTORE_PROBES_MAX  4096    /* entries one lookup may visit */
#define RESPSTORE_SLACK       64      /* entries beyond 2 x max_keys */
#define RESPSTORE_MAX_DEPTH   512     /* nesting of stored items */
#define RESPSTORE_TMP_AGE_MS  60000   /* a temporary file older is dead */
#define RESPSTORE_BUCKETS     256
#define RESPSTORE_EVICT_KEYS  64      /* keys evicted for in one sweep */
#define RESPSTORE_EXISTS      2       /* respstore_write(): name taken */

typedef struct {
    _Atomic uint64_t re_subject;      /* hash of the key id; 0: free */
    _Atomic int64_t  re_bytes;        /* counted bytes of its files */
} respstore_entry_t;

_Static_assert(sizeof(respstore_entry_t) == 16, "entry layout");

struct fg_respstore_s {
    uint64_t          rs_magic;
    uint32_t          rs_slots;       /* entries; a power of two */
    uint32_t          rs_max_keys;
    _Atomic int64_t   rs_bytes;       /* counted bytes of every file */
    _Atomic int64_t   rs_files;
    _Atomic uint64_t  rs_stored_total;
    _Atomic uint64_t  rs_refused_total;
    _Atomic uint64_t  rs_failed_total;
    _Atomic uint64_t  rs_expired_total;
    _Atomic uint64_t  rs_evicted_total;
    _Atomic uint64_t  rs_sweeps_total;
    _Atomic uint64_t  rs_tmp_seq;     /* temporary names */
    _Atomic uint32_t  rs_sweep_wanted;
    _Atomic uint32_t  rs_keys_used;   /* entries claimed */
    uint8_t           rs_pad[32];
    respstore_entry_t rs_keys[];      /* rs_slots of them */
};

_Static_assert(sizeof(struct fg_respstore_s) == 128, "region header");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "lock-free 64-bit atomics");

/* A file's header line, parsed. */
typedef struct {
    char     kind;                    /* 'R' record, 'A' alias */
    char     key_id[FG_RESPSTORE_ID_MAX + 1];
    int64_t  created_ms;
    int64_t  expires_ms;
    uint64_t len;                     /* of the body */
    size_t   header_len;              /* '\n' included */
} respstore_head_t;

/* What one eviction aims at: the whole store (subject 0) or a key. */
typedef struct {
    uint64_t subject;
    int      cutoff;                  /* files in buckets below it go */
    uint64_t hist[RESPSTORE_BUCKETS];
} respstore_target_t;

typedef struct respstore_walk_s respstore_walk_t;
typedef void (*respstore_visit_pt)(respstore_walk_t *w, int dirfd,
                                   const char *name,
                                   const respstore_head_t *h);

/* One pass over every shard, calling @visit for each readable file. */
struct respstore_walk_s {
    fg_respstore_t            *s;
    const fg_respstore_conf_t *c;
    int64_t                    now_ms;
    int                        tidy;         /* delete temporary and bad */
    int64_t                    tmp_age_ms;   /* temporary files older go;
                                                0: all */
    respstore_visit_pt         visit;
    fg_respstore_sweep_t      *out;
    uint64_t                   over[RESPSTORE_EVICT_KEYS];
    unsigned                   nover;        /* keys seen past 7/8 */
    respstore_target_t        *targets;
    unsigned                   ntargets;
};

static uint64_t respstore_fnv(const char *s, size_t n);
static uint64_t respstore_subject(const char *key_id);
static int respstore_id_ok(const char *id, size_t len);
static int respstore_path(const fg_respstore_conf_t *c, const char *id,
                          size_t len, char *out);
static int64_t respstore_find(const fg_respstore_t *s, uint64_t subject);
static respstore_entry_t *respstore_claim(fg_respstore_t *s,
                                          uint64_t subject);
static int respstore_charge(fg_respstore_t *s, const fg_respstore_conf_t *c,
                            respstore_entry_t *e, int64_t bytes,
                            int64_t files);
static void respstore_release(fg_respstore_t *s, respstore_entry_t *e,
                              int64_t bytes, int64_t files);
static int respstore_header(char *buf, char kind, const char *key_id,
                            int64_t now_ms, int64_t ttl_ms, uint64_t len);
static int respstore_parse_head(const char *p, size_t n,
                                respstore_head_t *h);
static int respstore_write(fg_respstore_t *s, const fg_respstore_conf_t *c,
                           const char *id, struct iovec *iov, int iovcnt,
                           fg_err_t *err);
static int respstore_read(const fg_respstore_conf_t *c, const char *key_id,
                          const char *id, size_t id_len, int64_t now_ms,
                          respstore_head_t *h, char **body);
static int respstore_item(const char *record, size_t len, const char *id,
                          char **json, size_t *json_len);
static int respstore_walk(respstore_walk_t *w, fg_err_t *err);

/* ---- names, hashes, the per-key table ---------------------------------- */

static uint64_t
respstore_fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t   i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char) s[i]) * 0x100000001b3ULL;
    }
    return h;
}

/* The table's key for @key_id: FNV-1a, mixed (its low bits pick the
 * slot), never 0 (a free entry). */
static uint64_t
respstore_subject(const char *key_id)
{
    uint64_t h = respstore_fnv(key_id, strlen(key_id));

    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h != 0 ? h : 1;
}

static int
respstore_id_ok(const char *id, size_t len)
{
    size_t i;

    if (len == 0 || len > FG_RESPSTORE_ID_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
            return 0;
        }
    }
    return 1;
}

/* <dir>/<shard>/<id> into @out (RESPSTORE_PATH_MAX); FG_ERR if too long. */
static int
respstore_path(const fg_respstore_conf_t *c, const char *id, size_t len,
               char *out)
{
    int n = snprintf(out, RESPSTORE_PATH_MAX, "%s/%02x/%.*s", c->dir,
                     (unsigned) (respstore_fnv(id, len) & 0xff), (int) len,
                     id);

    return n > 0 && n < RESPSTORE_PATH_MAX ? FG_OK : FG_ERR;
}

/* The slot of @subject, or -1. */
static int64_t
respstore_find(const fg_respstore_t *s, uint64_t subject)
{
    uint64_t mask = s->rs_slots - 1, i = subject & mask, cur;
    unsigned probes;

    for (probes = 0; probes < s->rs_slots && probes < RESPSTORE_PROBES_MAX;
         probes++, i = (i + 1) & mask) {
        cur = atomic_load_explicit(&s->rs_keys[i].re_subject,
                                   memory_order_acquire);
        if (cur == subject) {
            return (int64_t) i;
        }
        if (cur == 0) {
            return -1;
        }
    }
    return -1;
}

/* The entry of @subject, claimed if it has none; NULL when no free entry
 * is within reach. Two claimers of one subject meet at one entry: both
 * walk the same chain, and the loser of a CAS re-reads what won. */
static respstore_entry_t *
respstore_claim(fg_respstore_t *s, uint64_t subject)
{
    uint64_t mask = s->rs_slots - 1, i = subject & mask, cur;
    unsigned probes;

    for (probes = 0; probes < s->rs_slots && probes < RESPSTORE_PROBES_MAX;
         probes++, i = (i + 1) & mask) {
        cur = atomic_load_explicit(&s->rs_keys[i].re_subject,
                                   memory_order_acquire);
        if (cur == 0) {
            if (atomic_compare_exchange_strong(&s->rs_keys[i].re_subject,
                                               &cur, subject)) {
                atomic_fetch_add(&s->rs_keys_used, 1);
                return &s->rs_keys[i];
            }
        }
        if (cur == subject) {
            return &s->rs_keys[i];
        }
    }
    return NULL;
}

static int64_t
respstore_cap(uint64_t cap)
{
    return cap > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) cap;
}

/* 7/8 of @cap: past it, a sweep is wanted and evicts. */
static int64_t
respstore_mark(uint64_t cap)
{
    return respstore_cap(cap) - respstore_cap(cap) / 8;
}

/* 1 when @after passes 7/8 of @cap and @before did not. */
static int
respstore_passes(int64_t before, int64_t after, uint64_t cap)
{
    return before <= respstore_mark(cap) && after > respstore_mark(cap);
}

/*
 * Adds @bytes and @files to key entry @e and the totals, then checks the
 * sums it made against the caps: over either, gives them back and
 * returns FG_RESPSTORE_FULL. Adding first is what makes racing puts
 * unable to pass a cap together.
 */
static int
respstore_charge(fg_respstore_t *s, const fg_respstore_conf_t *c,
                 respstore_entry_t *e, int64_t bytes, int64_t files)
{
    int64_t key_cap = respstore_cap(c->key_bytes_max);
    int64_t total_cap = respstore_cap(c->total_bytes_max);
    int64_t key_after = atomic_fetch_add(&e->re_bytes, bytes) + bytes;
    int64_t total_after = atomic_fetch_add(&s->rs_bytes, bytes) + bytes;

    atomic_fetch_add(&s->rs_files, files);
    if (key_after > key_cap || total_after > total_cap) {
        respstore_release(s, e, bytes, files);
        return FG_RESPSTORE_FULL;
    }
    if (respstore_passes(key_after - bytes, key_after, c->key_bytes_max)
        || respstore_passes(total_after - bytes, total_after,
                            c->total_bytes_max)) {
        atomic_store_explicit(&s->rs_sweep_wanted, 1, memory_order_release);
    }
    return FG_OK;
}

/* Gives back what respstore_charge() or a file on disk counted. @e may be
 * NULL (a file of a key the table lost: only the totals). */
static void
respstore_release(fg_respstore_t *s, respstore_entry_t *e, int64_t bytes,
                  int64_t files)
{
    if (e != NULL) {
        atomic_fetch_sub(&e->re_bytes, bytes);
    }
    atomic_fetch_sub(&s->rs_bytes, bytes);
    atomic_fetch_sub(&s->rs_files, files);
}

/* ---- the region --------------------------------------------------------- */

static uint32_t
respstore_slots(uint32_t max_keys)
{
    uint64_t want = 2 * (uint64_t) max_keys + RESPSTORE_SLACK;
    uint64_t slots = 64;

    while (slots < want) {
        slots *= 2;
    }
    return (uint32_t) slots;
}

size_t
fg_respstore_bytes(uint32_t max_keys)
{
    if (max_keys == 0 || max_keys > FG_RESPSTORE_MAX_KEYS) {
        return 0;
    }
    return sizeof(struct fg_respstore_s)
           + (size_t) respstore_slots(max_keys) * sizeof(respstore_entry_t);
}

fg_respstore_t *
fg_respstore_init(void *mem, size_t bytes, uint32_t max_keys, fg_err_t *err)
{
    fg_respstore_t *s = mem;
    size_t          want = fg_respstore_bytes(max_keys);

    if (want == 0 || bytes < want || ((uintptr_t) mem & 63) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "response store region: %zu "
                   "bytes at %p for %u keys will not do", bytes, mem,
                   max_keys);
        return NULL;
    }
    /* Zero already: the entries' pages stay untouched until used. */
    s->rs_magic = RESPSTORE_MAGIC;
    s->rs_slots = respstore_slots(max_keys);
    s->rs_max_keys = max_keys;
    return s;
}

fg_respstore_conf_t
fg_respstore_conf_from(const fg_conf_t *conf)
{
    fg_respstore_conf_t c;

    c.dir = conf->responses_dir;
    c.total_bytes_max = (uint64_t) conf->responses_store_bytes;
    c.key_bytes_max = (uint64_t) conf->responses_store_key_bytes;
    c.ttl_ms = conf->responses_store_ttl_s * 1000;
    return c;
}

int
fg_respstore_sweep_wanted(const fg_respstore_t *s)
{
    return (int) atomic_load_explicit(&s->rs_sweep_wanted,
                                      memory_order_acquire);
}

static uint64_t
respstore_positive(int64_t v)
{
    return v > 0 ? (uint64_t) v : 0;
}

void
fg_respstore_stats(const fg_respstore_t *s, fg_respstore_stats_t *out)
{
    out->bytes = respstore_positive(atomic_load(&s->rs_bytes));
    out->files = respstore_positive(atomic_load(&s->rs_files));
    out->stored_total = atomic_load(&s->rs_stored_total);
    out->refused_total = atomic_load(&s->rs_refused_total);
    out->failed_total = atomic_load(&s->rs_failed_total);
    out->expired_total = atomic_load(&s->rs_expired_total);
    out->evicted_total = atomic_load(&s->rs_evicted_total);
    out->sweeps_total = atomic_load(&s->rs_sweeps_total);
}

uint64_t
fg_respstore_key_bytes(const fg_respstore_t *s, const char *key_id)
{
    int64_t i = respstore_find(s, respstore_subject(key_id));

    return i < 0 ? 0 : respstore_positive(atomic_load(
                                              &s->rs_keys[i].re_bytes));
}

/* ---- file format -------------------------------------------------------- */

/* The header line of a file into @buf (RESPSTORE_HEADER_MAX); its length. */
static int
respstore_header(char *buf, char kind, const char *key_id, int64_t now_ms,
                 int64_t ttl_ms, uint64_t len)
{
    return snprintf(buf, RESPSTORE_HEADER_MAX,
                    RESPSTORE_FILE_MAGIC "%c %s %" PRId64 " %" PRId64 " %"
                    PRIu64 "\n", kind, key_id, now_ms, now_ms + ttl_ms, len);
}

/* A decimal of 1..19 digits (no sign, no leading zero) ending at @stop;
 * advances *@p past @stop. FG_ERR otherwise. */
static int
respstore_number(const char **p, const char *end, char stop, uint64_t *out)
{
    const char *q = *p;
    uint64_t    v = 0;
    size_t      n = 0;

    while (q < end && *q >= '0' && *q <= '9' && n < 20) {
        v = v * 10 + (uint64_t) (*q++ - '0');
        n++;
    }
    if (n == 0 || n > 19 || (n > 1 && **p == '0') || q >= end || *q != stop
        || v > (uint64_t) INT64_MAX) {
        return FG_ERR;
    }
    *p = q + 1;
    *out = v;
    return FG_OK;
}

/* Parses the header line at the start of the @n bytes at @p, strictly. */
static int
respstore_parse_head(const char *p, size_t n, respstore_head_t *h)
{
    const char *end = p + (n < RESPSTORE_HEADER_MAX ? n
                                                    : RESPSTORE_HEADER_MAX);
    const char *q = p + sizeof(RESPSTORE_FILE_MAGIC) - 1, *key;
    uint64_t    created, expires;

    if ((size_t) (end - p) < sizeof(RESPSTORE_FILE_MAGIC) + 1
        || memcmp(p, RESPSTORE_FILE_MAGIC, sizeof(RESPSTORE_FILE_MAGIC) - 1)
           != 0
        || (q[0] != 'R' && q[0] != 'A') || q[1] != ' ') {
        return FG_ERR;
    }
    h->kind = q[0];
    q += 2;
    key = q;
    while (q < end && *q != ' ') {
        q++;
    }
    if (q >= end || !respstore_id_ok(key, (size_t) (q - key))) {
        return FG_ERR;
    }
    memcpy(h->key_id, key, (size_t) (q - key));
    h->key_id[q - key] = '\0';
    q++;
    if (respstore_number(&q, end, ' ', &created) != FG_OK
        || respstore_number(&q, end, ' ', &expires) != FG_OK
        || respstore_number(&q, end, '\n', &h->len) != FG_OK) {
        return FG_ERR;
    }
    h->created_ms = (int64_t) created;
    h->expires_ms = (int64_t) expires;
    h->header_len = (size_t) (q - p);
    /* An alias's body is a response id. */
    return h->kind == 'A' && h->len > FG_RESPSTORE_ID_MAX ? FG_ERR : FG_OK;
}

/* ---- put ---------------------------------------------------------------- */

static void
respstore_trim(const char **p, size_t *n)
{
    while (*n > 0 && strchr(" \t\r\n", (*p)[0]) != NULL) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && strchr(" \t\r\n", (*p)[*n - 1]) != NULL) {
        (*n)--;
    }
}

/* Writes all of @iov to @fd. FG_OK, or FG_ERR with errno set. */
static int
respstore_writev(int fd, struct iovec *iov, int iovcnt)
{
    ssize_t n;

    while (iovcnt > 0) {
        n = writev(fd, iov, iovcnt);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;
            }
            return FG_ERR;
        }
        while (iovcnt > 0 && (size_t) n >= iov->iov_len) {
            n -= (ssize_t) iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *) iov->iov_base + n;
            iov->iov_len -= (size_t) n;
        }
    }
    return FG_OK;
}

/*
 * Writes @iov as the file of @id (NUL-terminated): whole, under a
 * temporary name in its shard, then linked to its name. FG_OK;
 * RESPSTORE_EXISTS when the name is taken (nothing written); FG_ERR with
 * @err. Only the linked file, if any, stays.
 */
static int
respstore_write(fg_respstore_t *s, const fg_respstore_conf_t *c,
                const char *id, struct iovec *iov, int iovcnt, fg_err_t *err)
{
    char     path[RESPSTORE_PATH_MAX], tmp[RESPSTORE_PATH_MAX];
    uint64_t seq = atomic_fetch_add(&s->rs_tmp_seq, 1);
    int      fd, rc, e = 0, n;

    n = snprintf(tmp, sizeof(tmp), "%s/%02x/.tmp.%ld.%" PRIu64, c->dir,
                 (unsigned) (respstore_fnv(id, strlen(id)) & 0xff),
                 (long) getpid(), seq);
    if (respstore_path(c, id, strlen(id), path) != FG_OK || n <= 0
        || n >= (int) sizeof(tmp)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "response store: the "
                          "folder's path is too long");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "open(\"%s\") failed: %s",
                          tmp, strerror(errno));
    }
    rc = respstore_writev(fd, iov, iovcnt);
    e = rc != FG_OK ? errno : 0;
    if (close(fd) != 0 && rc == FG_OK) {
        rc = FG_ERR;
        e = errno;
    }
    if (rc == FG_OK && link(tmp, path) != 0) {
        e = errno;
        rc = e == EEXIST ? RESPSTORE_EXISTS : FG_ERR;
    }
    (void) unlink(tmp);
    if (rc == FG_ERR) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "writing \"%s\" failed: %s",
                   path, strerror(e));
    }
    return rc;
}

/* The output items' ids that get an alias, NUL-terminated, in @ids. */
typedef struct {
    char     ids[FG_RESPSTORE_ALIASES_MAX][FG_RESPSTORE_ID_MAX + 1];
    unsigned n;
} respstore_aliases_t;

static void
respstore_alias_ids(const fg_jdoc_t *doc, const char *resp_id,
                    respstore_aliases_t *a)
{
    char     id[FG_RESPSTORE_ID_MAX + 1];
    unsigned j, seen = 0;
    int      i, v;

    a->n = 0;
    for (i = fg_jdoc_first(doc, 0);
         i != FG_JNONE && seen < FG_RESPSTORE_ALIASES_MAX;
         i = fg_jdoc_next(doc, 0, i), seen++) {
        v = fg_jdoc_get(doc, i, "id");
        if (fg_jdoc_type(doc, v) != FG_JSTRING
            || fg_jdoc_str_copy(doc, v, id, sizeof(id)) > FG_RESPSTORE_ID_MAX
            || !respstore_id_ok(id, strlen(id)) || strcmp(id, resp_id) == 0) {
            continue;
        }
        for (j = 0; j < a->n && strcmp(a->ids[j], id) != 0; j++) {
        }
        if (j == a->n) {
            memcpy(a->ids[a->n++], id, sizeof(id));
        }
    }
}

/* Writes the aliases, each its header @head and @resp_id; one that fails
 * is skipped and its count given back. */
static void
respstore_put_aliases(fg_respstore_t *s, const fg_respstore_conf_t *c,
                      respstore_entry_t *e, const char *head,
                      const char *resp_id, const respstore_aliases_t *a)
{
    struct iovec iov[2];
    unsigned     i;

    for (i = 0; i < a->n; i++) {
        iov[0] = (struct iovec) { (void *) head, strlen(head) };
        iov[1] = (struct iovec) { (void *) resp_id, strlen(resp_id) };
        if (respstore_write(s, c, a->ids[i], iov, 2, NULL) != FG_OK) {
            respstore_release(s, e, (int64_t) (iov[0].iov_len
                                               + iov[1].iov_len), 1);
        }
    }
}

static int
respstore_put_checked(fg_respstore_t *s, const fg_respstore_conf_t *c,
                      const char *key_id, const char *resp_id,
                      int64_t now_ms, const char *context,
                      size_t context_len, const fg_jdoc_t *doc,
                      fg_err_t *err)
{
    respstore_aliases_t a;
    respstore_entry_t  *e;
    struct iovec        iov[6];
    char                head[RESPSTORE_HEADER_MAX];
    char                alias_head[RESPSTORE_HEADER_MAX];
    const char         *items = doc->buf + doc->nodes[0].start + 1;
    size_t              items_len = doc->nodes[0].len - 2;
    uint64_t            body;
    int64_t             bytes, alias_bytes;
    int                 n, rc;

    respstore_trim(&context, &context_len);
    respstore_trim(&items, &items_len);
    respstore_alias_ids(doc, resp_id, &a);
    body = 2 + context_len + items_len + (context_len && items_len ? 1 : 0);
    n = respstore_header(head, 'R', key_id, now_ms, c->ttl_ms, body);
    alias_bytes = respstore_header(alias_head, 'A', key_id, now_ms,
                                   c->ttl_ms, strlen(resp_id))
                  + (int64_t) strlen(resp_id);
    bytes = n + (int64_t) body + alias_bytes * a.n;
    e = respstore_claim(s, respstore_subject(key_id));
    if (e == NULL || respstore_charge(s, c, e, bytes, 1 + a.n) != FG_OK) {
        atomic_fetch_add(&s->rs_refused_total, 1);
        return FG_RESPSTORE_FULL;
    }
    iov[0] = (struct iovec) { head, (size_t) n };
    iov[1] = (struct iovec) { "[", 1 };
    iov[2] = (struct iovec) { (void *) context, context_len };
    iov[3] = (struct iovec) { ",", context_len && items_len ? 1 : 0 };
    iov[4] = (struct iovec) { (void *) items, items_len };
    iov[5] = (struct iovec) { "]", 1 };
    rc = respstore_write(s, c, resp_id, iov, 6, err);
    if (rc != FG_OK) {
        respstore_release(s, e, bytes, 1 + a.n);
        atomic_fetch_add(&s->rs_failed_total, 1);
        return rc == RESPSTORE_EXISTS
               ? fg_err_set(err, FG_E_INVALID_VALUE, NULL, "response "
                            "\"%s\" is stored already", resp_id)
               : FG_ERR;
    }
    respstore_put_aliases(s, c, e, alias_head, resp_id, &a);
    atomic_fetch_add(&s->rs_stored_total, 1);
    return FG_OK;
}

int
fg_respstore_put(fg_respstore_t *s, const fg_respstore_conf_t *c,
                 const char *key_id, const char *resp_id, int64_t now_ms,
                 const char *context, size_t context_len,
                 const char *output, size_t output_len, fg_err_t *err)
{
    fg_jdoc_t doc;
    int       rc;

    if (c->total_bytes_max == 0) {
        return FG_RESPSTORE_FULL;
    }
    if (!respstore_id_ok(key_id, strnlen(key_id, FG_RESPSTORE_ID_MAX + 1))
        || !respstore_id_ok(resp_id,
                            strnlen(resp_id, FG_RESPSTORE_ID_MAX + 1))
        || now_ms < 0) {
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "response store: "
                          "not a storable id or time");
    }
    if (fg_jdoc_parse(&doc, output, output_len, RESPSTORE_MAX_DEPTH, err)
        != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_type(&doc, 0) != FG_JARRAY) {
        fg_jdoc_free(&doc);
        return fg_err_set(err, FG_E_INVALID_VALUE, NULL, "response store: "
                          "the output is not an array");
    }
    rc = respstore_put_checked(s, c, key_id, resp_id, now_ms, context,
                               context_len, &doc, err);
    fg_jdoc_free(&doc);
    return rc;
}

/* ---- get ---------------------------------------------------------------- */

/* Reads all @size bytes of @fd into @buf. */
static int
respstore_read_all(int fd, char *buf, size_t size)
{
    size_t  got = 0;
    ssize_t n;

    while (got < size) {
        n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return FG_ERR;
        }
        got += (size_t) n;
    }
    return FG_OK;
}

/*
 * Reads the file of @id whole, checks its header (key @key_id, not
 * expired at @now_ms, the body's length) and returns its body in *@body
 * (malloc'd, NUL-terminated, h->len bytes). FG_ERR for any miss.
 */
static int
respstore_read(const fg_respstore_conf_t *c, const char *key_id,
               const char *id, size_t id_len, int64_t now_ms,
               respstore_head_t *h, char **body)
{
    char        path[RESPSTORE_PATH_MAX];
    struct stat st;
    char       *buf;
    int         fd, rc;

    if (respstore_path(c, id, id_len, path) != FG_OK) {
        return FG_ERR;
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return FG_ERR;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0
        || (uint64_t) st.st_size > c->key_bytes_max + RESPSTORE_HEADER_MAX) {
        close(fd);
        return FG_ERR;
    }
    buf = fg_xmalloc((size_t) st.st_size + 1);
    rc = respstore_read_all(fd, buf, (size_t) st.st_size);
    close(fd);
    if (rc != FG_OK || respstore_parse_head(buf, (size_t) st.st_size, h)
                       != FG_OK
        || strcmp(h->key_id, key_id) != 0 || h->expires_ms <= now_ms
        || h->header_len + h->len != (uint64_t) st.st_size) {
        free(buf);
        return FG_ERR;
    }
    memmove(buf, buf + h->header_len, h->len);
    buf[h->len] = '\0';
    *body = buf;
    return FG_OK;
}

/* "[" + the last element of the array @record whose "id" is @id + "]". */
static int
respstore_item(const char *record, size_t len, const char *id, char **json,
               size_t *json_len)
{
    fg_jdoc_t   doc;
    int         i, found = FG_JNONE;
    const char *at;
    size_t      n;

    if (fg_jdoc_parse(&doc, record, len, RESPSTORE_MAX_DEPTH, NULL) != FG_OK) {
        return FG_ERR;
    }
    if (fg_jdoc_type(&doc, 0) == FG_JARRAY) {
        for (i = fg_jdoc_first(&doc, 0); i != FG_JNONE;
             i = fg_jdoc_next(&doc, 0, i)) {
            if (fg_jdoc_str_eq(&doc, fg_jdoc_get(&doc, i, "id"), id)) {
                found = i;
            }
        }
    }
    if (found != FG_JNONE) {
        at = record + doc.nodes[found].start;
        n = doc.nodes[found].len;
        *json = fg_xmalloc(n + 3);
        (*json)[0] = '[';
        memcpy(*json + 1, at, n);
        memcpy(*json + 1 + n, "]", 2);
        *json_len = n + 2;
    }
    fg_jdoc_free(&doc);
    return found != FG_JNONE ? FG_OK : FG_ERR;
}

int
fg_respstore_get(const fg_respstore_conf_t *c, const char *key_id,
                 const char *id, size_t id_len, int64_t now_ms,
                 char **json, size_t *json_len)
{
    respstore_head_t h;
    char             want[FG_RESPSTORE_ID_MAX + 1], *body, *record;
    int              rc;

    if (c->total_bytes_max == 0 || !respstore_id_ok(id, id_len)
        || !respstore_id_ok(key_id, strnlen(key_id, FG_RESPSTORE_ID_MAX + 1))
        || respstore_read(c, key_id, id, id_len, now_ms, &h, &body)
           != FG_OK) {
        return FG_ERR;
    }
    if (h.kind == 'R') {
        *json = body;
        *json_len = h.len;
        return FG_OK;
    }
    /* An alias: its body names the record holding the item. */
    memcpy(want, id, id_len);
    want[id_len] = '\0';
    rc = respstore_id_ok(body, h.len)
         ? respstore_read(c, key_id, body, h.len, now_ms, &h, &record)
         : FG_ERR;
    free(body);
    if (rc != FG_OK) {
        return FG_ERR;
    }
    rc = h.kind == 'R' ? respstore_item(record, h.len, want, json, json_len)
                       : FG_ERR;
    free(record);
    return rc;
}

/* ---- walking the shards ------------------------------------------------- */

enum { RESPSTORE_HEAD_OK, RESPSTORE_HEAD_SKIP, RESPSTORE_HEAD_BAD };

/* The header of file @name in @dirfd: OK, SKIP (gone, or not a regular
 * file), BAD (no valid header, or a size other than it says). */
static int
respstore_head_at(int dirfd, const char *name, respstore_head_t *h)
{
    char        buf[RESPSTORE_HEADER_MAX];
    struct stat st;
    ssize_t     n;
    int         fd;

    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return RESPSTORE_HEAD_SKIP;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return RESPSTORE_HEAD_SKIP;
    }
    n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    if (n <= 0 || respstore_parse_head(buf, (size_t) n, h) != FG_OK
        || h->header_len + h->len != (uint64_t) st.st_size) {
        return RESPSTORE_HEAD_BAD;
    }
    return RESPSTORE_HEAD_OK;
}

/* A temporary file older than w->tmp_age_ms (by its mtime; 0: any) is
 * deleted. */
static void
respstore_tidy_tmp(respstore_walk_t *w, int dirfd, const char *name)
{
    struct stat st;
    int64_t     mtime_ms;

    if (w->tmp_age_ms == 0) {
        (void) unlinkat(dirfd, name, 0);
        return;
    }
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return;
    }
    mtime_ms = (int64_t) st.st_mtim.tv_sec * 1000
               + st.st_mtim.tv_nsec / 1000000;
    if (w->now_ms - mtime_ms >= w->tmp_age_ms) {
        (void) unlinkat(dirfd, name, 0);
    }
}

static void
respstore_walk_entry(respstore_walk_t *w, int dirfd, const char *name)
{
    respstore_head_t h;
    int              rc;

    if (name[0] == '.') {
        if (w->tidy && strncmp(name, ".tmp.", 5) == 0) {
            respstore_tidy_tmp(w, dirfd, name);
        }
        return;
    }
    if (!respstore_id_ok(name, strlen(name))) {
        return;                     /* not the store's */
    }
    rc = respstore_head_at(dirfd, name, &h);
    if (rc == RESPSTORE_HEAD_BAD && w->tidy) {
        /* Unreadable for good (a machine crash can leave a linked file
         * without its data): no get finds it, no count has it. */
        (void) unlinkat(dirfd, name, 0);
    }
    if (rc == RESPSTORE_HEAD_OK) {
        w->visit(w, dirfd, name, &h);
    }
}

/* Calls w->visit for every readable file of every shard. A shard that
 * cannot be read is named in @err; the others are still walked. */
static int
respstore_walk(respstore_walk_t *w, fg_err_t *err)
{
    char           path[RESPSTORE_PATH_MAX];
    DIR           *d;
    struct dirent *de;
    unsigned       shard;
    int            rc = FG_OK;

    for (shard = 0; shard < FG_RESPSTORE_SHARDS; shard++) {
        snprintf(path, sizeof(path), "%s/%02x", w->c->dir, shard);
        d = opendir(path);
        if (d == NULL) {
            rc = fg_err_set(err, FG_E_INTERNAL, NULL, "opendir(\"%s\") "
                            "failed: %s", path, strerror(errno));
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            respstore_walk_entry(w, dirfd(d), de->d_name);
        }
        closedir(d);
    }
    return rc;
}

/* Deletes file @name counted as @h and gives its count back. 1 if it did. */
static int
respstore_delete(respstore_walk_t *w, int dirfd, const char *name,
                 const respstore_head_t *h)
{
    int64_t i;

    if (unlinkat(dirfd, name, 0) != 0) {
        return 0;
    }
    i = respstore_find(w->s, respstore_subject(h->key_id));
    respstore_release(w->s, i < 0 ? NULL : &w->s->rs_keys[i],
                      (int64_t) (h->header_len + h->len), 1);
    if (w->out != NULL) {
        w->out->freed_bytes += h->header_len + h->len;
    }
    return 1;
}

/* ---- prepare ------------------------------------------------------------ */

/* Counts a live file; deletes an expired one, or one whose key finds no
 * room in the table (uncounted, it would slip past the caps). */
static void
respstore_prepare_visit(respstore_walk_t *w, int dirfd, const char *name,
                        const respstore_head_t *h)
{
    respstore_entry_t *e;
    int64_t            bytes = (int64_t) (h->header_len + h->len);

    e = h->expires_ms > w->now_ms
        ? respstore_claim(w->s, respstore_subject(h->key_id)) : NULL;
    if (e == NULL) {
        (void) unlinkat(dirfd, name, 0);
        return;
    }
    atomic_fetch_add(&w->s->rs_bytes, bytes);
    atomic_fetch_add(&w->s->rs_files, 1);
    if (atomic_fetch_add(&e->re_bytes, bytes) + bytes
        > respstore_mark(w->c->key_bytes_max)) {
        atomic_store(&w->s->rs_sweep_wanted, 1);
    }
}

static int
respstore_mkdir(const char *path, fg_err_t *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "mkdir(\"%s\") failed: "
                          "%s", path, strerror(errno));
    }
    return FG_OK;
}

/* mkdir -p @c->dir (0700 for what it makes), then its shards. */
static int
respstore_mkdirs(const fg_respstore_conf_t *c, fg_err_t *err)
{
    char     path[RESPSTORE_PATH_MAX];
    size_t   i;
    unsigned shard;

    if (snprintf(path, sizeof(path), "%s", c->dir) >= (int) sizeof(path)) {
        return fg_err_set(err, FG_E_INTERNAL, NULL, "response store: the "
                          "folder's path is too long");
    }
    for (i = 1; path[i] != '\0'; i++) {
        if (path[i] == '/') {
            path[i] = '\0';
            if (respstore_mkdir(path, err) != FG_OK) {
                return FG_ERR;
            }
            path[i] = '/';
        }
    }
    if (respstore_mkdir(path, err) != FG_OK) {
        return FG_ERR;
    }
    for (shard = 0; shard < FG_RESPSTORE_SHARDS; shard++) {
        snprintf(path, sizeof(path), "%s/%02x", c->dir, shard);
        if (respstore_mkdir(path, err) != FG_OK) {
            return FG_ERR;
        }
    }
    return FG_OK;
}

int
fg_respstore_prepare(fg_respstore_t *s, const fg_respstore_conf_t *c,
                     int64_t now_ms, fg_err_t *err)
{
    respstore_walk_t w;

    if (c->total_bytes_max == 0) {
        return FG_OK;
    }
    if (respstore_mkdirs(c, err) != FG_OK) {
        return FG_ERR;
    }
    /* A previous run's region (kept across a crash): start the table
     * anew. A fresh one is zero, and is left untouched. */
    if (atomic_load(&s->rs_keys_used) > 0) {
        memset(s->rs_keys, 0, (size_t) s->rs_slots * sizeof(s->rs_keys[0]));
        atomic_store(&s->rs_keys_used, 0);
    }
    atomic_store(&s->rs_bytes, 0);
    atomic_store(&s->rs_files, 0);
    atomic_store(&s->rs_sweep_wanted, 0);
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.c = c;
    w.now_ms = now_ms;
    w.tidy = 1;
    w.tmp_age_ms = 0;               /* no writer runs yet */
    w.visit = respstore_prepare_visit;
    if (respstore_walk(&w, err) != FG_OK) {
        return FG_ERR;
    }
    if (atomic_load(&s->rs_bytes) > respstore_mark(c->total_bytes_max)) {
        atomic_store(&s->rs_sweep_wanted, 1);
    }
    return FG_OK;
}

/* ---- sweep -------------------------------------------------------------- */

/* The histogram bucket of a file created at @created_ms. */
static int
respstore_bucket(const respstore_walk_t *w, int64_t created_ms)
{
    int64_t ttl = w->c->ttl_ms > 0 ? w->c->ttl_ms : 1;
    int64_t width = (ttl + RESPSTORE_BUCKETS - 1) / RESPSTORE_BUCKETS;
    int64_t b = (created_ms - (w->now_ms - ttl)) / width;

    return b < 0 ? 0 : (b >= RESPSTORE_BUCKETS ? RESPSTORE_BUCKETS - 1
                                               : (int) b);
}

static int64_t
respstore_key_count(const fg_respstore_t *s, uint64_t subject)
{
    int64_t i = respstore_find(s, subject);

    return i < 0 ? 0 : atomic_load(&s->rs_keys[i].re_bytes);
}

/* Pass 1: expired files go; keys past 7/8 of their cap are noted. */
static void
respstore_scan_visit(respstore_walk_t *w, int dirfd, const char *name,
                     const respstore_head_t *h)
{
    uint64_t subject = respstore_subject(h->key_id);
    unsigned i;

    w->out->scanned++;
    if (h->expires_ms <= w->now_ms) {
        if (respstore_delete(w, dirfd, name, h)) {
            w->out->expired++;
            atomic_fetch_add(&w->s->rs_expired_total, 1);
        }
        return;
    }
    if (w->nover == RESPSTORE_EVICT_KEYS
        || respstore_key_count(w->s, subject)
           <= respstore_mark(w->c->key_bytes_max)) {
        return;
    }
    for (i = 0; i < w->nover && w->over[i] != subject; i++) {
    }
    if (i == w->nover) {
        w->over[w->nover++] = subject;
    }
}

/* The target of the whole store is targets[0] when there is one
 * (subject 0); the key's, if it has one, is found by subject. */
static respstore_target_t *
respstore_target_of(respstore_walk_t *w, uint64_t subject)
{
    unsigned i;

    for (i = 0; i < w->ntargets; i++) {
        if (w->targets[i].subject == subject) {
            return &w->targets[i];
        }
    }
    return NULL;
}

/* Pass 2: bytes by age, for the store and each key evicted for. */
static void
respstore_count_visit(respstore_walk_t *w, int dirfd, const char *name,
                      const respstore_head_t *h)
{
    respstore_target_t *t;
    int                 b = respstore_bucket(w, h->created_ms);

    (void) dirfd;
    (void) name;
    if ((t = respstore_target_of(w, 0)) != NULL) {
        t->hist[b] += h->header_len + h->len;
    }
    if ((t = respstore_target_of(w, respstore_subject(h->key_id))) != NULL) {
        t->hist[b] += h->header_len + h->len;
    }
}

/* Pass 3: files older than their target's cut-off go. */
static void
respstore_evict_visit(respstore_walk_t *w, int dirfd, const char *name,
                      const respstore_head_t *h)
{
    respstore_target_t *all = respstore_target_of(w, 0);
    respstore_target_t *key = respstore_target_of(w,
                                                  respstore_subject(h->key_id));
    int                 b = respstore_bucket(w, h->created_ms);

    if (((all != NULL && b < all->cutoff) || (key != NULL && b < key->cutoff))
        && respstore_delete(w, dirfd, name, h)) {
        w->out->evicted++;
        atomic_fetch_add(&w->s->rs_evicted_total, 1);
    }
}

/* The first bucket to keep: the oldest buckets whose bytes bring
 * @count down to 3/4 of @cap go. All of them when even that is short
 * (counts a dead worker leaked). */
static int
respstore_cutoff(const respstore_target_t *t, int64_t count, int64_t cap)
{
    int64_t  need = count - (cap / 4) * 3;
    uint64_t sum = 0;
    int      b;

    if (need <= 0) {
        return 0;
    }
    for (b = 0; b < RESPSTORE_BUCKETS; b++) {
        sum += t->hist[b];
        if (sum >= (uint64_t) need) {
            return b + 1;
        }
    }
    return RESPSTORE_BUCKETS;
}

/* The targets still past 7/8 after pass 1: the store, then the keys. */
static void
respstore_targets(respstore_walk_t *w)
{
    unsigned i;

    w->ntargets = 0;
    if (atomic_load(&w->s->rs_bytes) > respstore_mark(w->c->total_bytes_max)) {
        w->targets[w->ntargets++].subject = 0;
    }
    for (i = 0; i < w->nover; i++) {
        if (respstore_key_count(w->s, w->over[i])
            > respstore_mark(w->c->key_bytes_max)) {
            w->targets[w->ntargets++].subject = w->over[i];
        }
    }
}

/* Passes 2 and 3, when the store or a key noted in pass 1 is still past
 * 7/8 of its cap. */
static int
respstore_evict(respstore_walk_t *w, fg_err_t *err)
{
    respstore_target_t *t;
    unsigned            i;
    int                 rc = FG_OK;

    w->targets = fg_xcalloc(RESPSTORE_EVICT_KEYS + 1, sizeof(*w->targets));
    respstore_targets(w);
    if (w->ntargets > 0) {
        w->tidy = 0;
        w->visit = respstore_count_visit;
        rc = respstore_walk(w, err);
        for (i = 0; i < w->ntargets; i++) {
            t = &w->targets[i];
            t->cutoff = t->subject == 0
                ? respstore_cutoff(t, atomic_load(&w->s->rs_bytes),
                                   respstore_cap(w->c->total_bytes_max))
                : respstore_cutoff(t, respstore_key_count(w->s, t->subject),
                                   respstore_cap(w->c->key_bytes_max));
        }
        w->visit = respstore_evict_visit;
        if (respstore_walk(w, err) != FG_OK) {
            rc = FG_ERR;
        }
    }
    free(w->targets);
    w->targets = NULL;
    return rc;
}

int
fg_respstore_sweep(fg_respstore_t *s, const fg_respstore_conf_t *c,
                   int64_t now_ms, fg_respstore_sweep_t *out, fg_err_t *err)
{
    respstore_walk_t w;
    int              rc;

    memset(out, 0, sizeof(*out));
    if (c->total_bytes_max == 0) {
        return FG_OK;
    }
    /* Before the pass: a put that passes 7/8 meanwhile asks again. */
    atomic_store_explicit(&s->rs_sweep_wanted, 0, memory_order_release);
    atomic_fetch_add(&s->rs_sweeps_total, 1);
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.c = c;
    w.now_ms = now_ms;
    w.tidy = 1;
    w.tmp_age_ms = RESPSTORE_TMP_AGE_MS;
    w.visit = respstore_scan_visit;
    w.out = out;
    rc = respstore_walk(&w, err);
    /* The first error is the one told. */
    if (respstore_evict(&w, rc == FG_OK ? err : NULL) != FG_OK) {
        rc = FG_ERR;
    }
    return rc;
}
