/*
 * shm.c: the shared-memory arena. It is mapped once by the master, from a
 * named POSIX shared-memory object, and inherited by every child across
 * fork, so every process sees it at the same offsets; no pointer is ever
 * stored in it. The header is written once before the first fork.
 *
 * Named, not anonymous: when every process of a node is killed, the
 * object survives with the reservations and the unsent usage records in
 * it, and the next master finds it (same name, same layout and size) and
 * repairs it instead of starting from nothing.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/shm.h"

static size_t
shm_align(size_t n)
{
    return (n + 63) & ~(size_t) 63;
}

/* Maps @bytes of the object @name (NULL: anonymous memory). *@existing
 * is set when the object already had exactly that size. */
/*
 * An arena of another layout that a run left behind (a clean stop unlinks
 * it; a crash, a SIGKILL or a power cut does not) may hold usage records
 * not yet journaled and reservations not yet settled, in a layout this
 * build cannot read. Zeroing it would lose them without a word, so the
 * start is refused, naming the way out.
 */
static int
shm_refuse_other_layout(const char *name, fg_err_t *err)
{
    fg_shm_header_t h;
    ssize_t         n;
    int             fd;

    fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        return FG_OK;                /* none: a clean stop, or a first run */
    }
    n = pread(fd, &h, sizeof(h), 0);
    close(fd);
    if (n != (ssize_t) sizeof(h) || h.sh_magic != FG_SHM_MAGIC
        || h.sh_layout_version == FG_SHM_LAYOUT_VERSION) {
        return FG_OK;
    }
    return fg_err_set(err, FG_E_INTERNAL, NULL,
                      "the shm arena /dev/shm%s has layout version %u, this "
                      "build %u: it was left by a run that did not stop "
                      "cleanly and may hold usage records and reservations "
                      "this build cannot read. Start the build that left "
                      "it and stop it with SIGTERM, or remove /dev/shm%s "
                      "to discard them (docs/operations.md, Upgrades)",
                      name, h.sh_layout_version, FG_SHM_LAYOUT_VERSION,
                      name);
}

static void *
shm_map(const char *name, size_t bytes, int *existing, fg_err_t *err)
{
    struct stat st;
    void       *p;
    int         fd;

    *existing = 0;
    if (name == NULL) {
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            fg_err_set(err, FG_E_INTERNAL, NULL,
                       "mmap(MAP_SHARED|MAP_ANONYMOUS, %zu) failed: %s",
                       bytes, strerror(errno));
            return NULL;
        }
        return p;
    }
    fd = shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "shm_open(\"%s\") failed: %s",
                   name, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    *existing = (size_t) st.st_size == bytes;
    /* Another size is another layout: start it anew, zeroed. */
    if (!*existing && (ftruncate(fd, 0) != 0
                       || ftruncate(fd, (off_t) bytes) != 0)) {
        fg_err_set(err, FG_E_INTERNAL, NULL,
                   "ftruncate(\"%s\", %zu) failed: %s", name, bytes,
                   strerror(errno));
        close(fd);
        return NULL;
    }
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        fg_err_set(err, FG_E_INTERNAL, NULL, "mmap(\"%s\", %zu) failed: %s",
                   name, bytes, strerror(errno));
        return NULL;
    }
    return p;
}

int
fg_shm_unlink(const char *name)
{
    return name != NULL ? shm_unlink(name) : 0;
}

int
fg_shm_create(fg_shm_t *shm, const char *name, uint32_t max_keys,
              uint32_t usage_records, uint32_t client_slots,
              uint32_t health_slots, int *recovered, fg_err_t *err)
{
    size_t keys_offset = sizeof(fg_shm_header_t)
                         + FG_SHM_MAX_WORKERS * sizeof(fg_shm_worker_t);
    size_t keys_bytes = fg_keytable_bytes(max_keys);
    /* Room for every key and a catalog's models and providers. */
    size_t limiter_offset = shm_align(keys_offset + keys_bytes);
    size_t limiter_bytes = fg_limiter_bytes(max_keys + 4096,
                                            FG_SHM_MAX_WORKERS);
    size_t metrics_offset = shm_align(limiter_offset + limiter_bytes);
    size_t metrics_bytes = fg_metrics_bytes();
    /* Owners: every worker slot, the syncer, the master. */
    size_t ledger_offset = shm_align(metrics_offset + metrics_bytes);
    size_t ledger_bytes = fg_ledger_bytes(max_keys + 64,
                                          FG_SHM_MAX_WORKERS + 2);
    size_t usage_offset = shm_align(ledger_offset + ledger_bytes);
    size_t usage_bytes = fg_usagering_bytes(FG_SHM_MAX_WORKERS,
                                            usage_records);
    size_t clients_offset = shm_align(usage_offset + usage_bytes);
    size_t clients_bytes = fg_clientconns_bytes(client_slots);
    size_t health_offset = shm_align(clients_offset + clients_bytes);
    size_t health_bytes = fg_health_size(health_slots);
    size_t responses_offset = shm_align(health_offset + health_bytes);
    size_t responses_bytes = fg_respstore_bytes(max_keys);
    size_t bytes = shm_align(responses_offset + responses_bytes);
    void  *p;
    int    existing;

    memset(shm, 0, sizeof(*shm));
    if (keys_bytes == 0 || responses_bytes == 0) {
        return fg_err_set(err, FG_E_OUT_OF_RANGE, "keys.max_keys",
                          "a key table of %u keys is not possible", max_keys);
    }
    if (name != NULL && shm_refuse_other_layout(name, err) != FG_OK) {
        return FG_ERR;
    }
    p = shm_map(name, bytes, &existing, err);
    if (p == NULL) {
        return FG_ERR;
    }
    shm->header = p;
    shm->workers = (fg_shm_worker_t *) ((char *) p
                                        + sizeof(fg_shm_header_t));
    shm->bytes = bytes;
    *recovered = 0;
    if (existing && fg_shm_check(shm, NULL) == FG_OK
        && shm->header->sh_limiter_offset == limiter_offset
        && shm->header->sh_metrics_offset == metrics_offset
        && shm->header->sh_ledger_offset == ledger_offset
        && shm->header->sh_usage_offset == usage_offset
        && shm->header->sh_clients_offset == clients_offset
        && shm->header->sh_health_bytes == health_bytes
        && shm->header->sh_responses_offset == responses_offset
        && shm->header->sh_responses_bytes == responses_bytes) {
        /* A previous run's arena, of this very layout: keep it. */
        shm->keys = fg_keytable_attach((char *) p + keys_offset, keys_bytes,
                                       err);
        shm->limiter = (fg_limiter_t *) ((char *) p + limiter_offset);
        shm->metrics = (fg_metrics_t *) ((char *) p + metrics_offset);
        shm->ledger = (fg_ledger_t *) ((char *) p + ledger_offset);
        shm->usage = (fg_usagering_t *) ((char *) p + usage_offset);
        shm->clients = fg_clientconns_attach((char *) p + clients_offset);
        shm->health = fg_health_at((char *) p + health_offset);
        /* Its counters are set again from the disk before forking
         * (fg_respstore_prepare). */
        shm->responses = (fg_respstore_t *) ((char *) p + responses_offset);
        *recovered = shm->keys != NULL;
        if (*recovered) {
            return FG_OK;
        }
    }
    if (existing) {
        /* Same size, other contents: zero it (a new object is zero). */
        memset(p, 0, bytes);
    }
    /* Zero already (a new object): no memset, which would make every page
     * of the key table resident. */
    shm->header->sh_magic = FG_SHM_MAGIC;
    shm->header->sh_layout_version = FG_SHM_LAYOUT_VERSION;
    shm->header->sh_header_bytes = sizeof(fg_shm_header_t);
    shm->header->sh_arena_bytes = bytes;
    shm->header->sh_worker_slots = FG_SHM_MAX_WORKERS;
    shm->header->sh_worker_slot_bytes = sizeof(fg_shm_worker_t);
    shm->header->sh_workers_offset = sizeof(fg_shm_header_t);
    shm->header->sh_keys_offset = keys_offset;
    shm->header->sh_keys_bytes = keys_bytes;
    shm->header->sh_limiter_offset = limiter_offset;
    shm->header->sh_limiter_bytes = limiter_bytes;
    shm->header->sh_metrics_offset = metrics_offset;
    shm->header->sh_metrics_bytes = metrics_bytes;
    shm->header->sh_ledger_offset = ledger_offset;
    shm->header->sh_ledger_bytes = ledger_bytes;
    shm->header->sh_usage_offset = usage_offset;
    shm->header->sh_usage_bytes = usage_bytes;
    shm->header->sh_clients_offset = clients_offset;
    shm->header->sh_clients_bytes = clients_bytes;
    shm->header->sh_health_bytes = health_bytes;
    shm->header->sh_responses_offset = responses_offset;
    shm->header->sh_responses_bytes = responses_bytes;
    shm->keys = fg_keytable_init((char *) p + keys_offset, keys_bytes,
                                 max_keys, err);
    if (shm->keys != NULL) {
        shm->limiter = fg_limiter_init((char *) p + limiter_offset,
                                       limiter_bytes, max_keys + 4096,
                                       FG_SHM_MAX_WORKERS, err);
    }
    if (shm->limiter != NULL) {
        shm->metrics = fg_metrics_init((char *) p + metrics_offset,
                                       metrics_bytes, err);
    }
    if (shm->metrics != NULL) {
        shm->ledger = fg_ledger_init((char *) p + ledger_offset,
                                     ledger_bytes, max_keys + 64,
                                     FG_SHM_MAX_WORKERS + 2, err);
    }
    if (shm->ledger != NULL) {
        shm->usage = fg_usagering_init((char *) p + usage_offset, usage_bytes,
                                       FG_SHM_MAX_WORKERS, usage_records,
                                       err);
    }
    if (shm->usage != NULL) {
        shm->clients = fg_clientconns_init((char *) p + clients_offset,
                                           client_slots);
        shm->health = fg_health_init((char *) p + health_offset,
                                     health_slots);
        shm->responses = fg_respstore_init((char *) p + responses_offset,
                                           responses_bytes, max_keys, err);
    }
    if (shm->responses == NULL) {
        fg_shm_destroy(shm);
        return FG_ERR;
    }
    return fg_shm_check(shm, err);
}

int
fg_shm_check(const fg_shm_t *shm, fg_err_t *err)
{
    const fg_shm_header_t *h = shm->header;

    if (h->sh_magic != FG_SHM_MAGIC) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "shm arena has a bad magic");
    }
    if (h->sh_layout_version != FG_SHM_LAYOUT_VERSION) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "shm layout version %u, expected %u",
                          h->sh_layout_version, FG_SHM_LAYOUT_VERSION);
    }
    if (h->sh_header_bytes != sizeof(fg_shm_header_t)
        || h->sh_worker_slot_bytes != sizeof(fg_shm_worker_t)
        || h->sh_worker_slots != FG_SHM_MAX_WORKERS
        || h->sh_arena_bytes != shm->bytes
        || h->sh_usage_offset + h->sh_usage_bytes > shm->bytes
        || h->sh_clients_offset + h->sh_clients_bytes > shm->bytes
        || shm_align(h->sh_clients_offset + h->sh_clients_bytes)
           + h->sh_health_bytes > shm->bytes
        || h->sh_responses_offset + h->sh_responses_bytes > shm->bytes) {
        return fg_err_set(err, FG_E_INTERNAL, NULL,
                          "shm arena sizes do not match this build");
    }
    if (fg_keytable_attach((char *) h + h->sh_keys_offset, h->sh_keys_bytes,
                           err) == NULL) {
        return FG_ERR;
    }
    return FG_OK;
}

void
fg_shm_destroy(fg_shm_t *shm)
{
    if (shm->header != NULL) {
        munmap(shm->header, shm->bytes);
    }
    memset(shm, 0, sizeof(*shm));
}

fg_shm_worker_t *
fg_shm_worker(const fg_shm_t *shm, unsigned i)
{
    return &shm->workers[i];
}

unsigned
fg_shm_workers_ready(const fg_shm_t *shm, uint32_t generation)
{
    unsigned i, n = 0;

    for (i = 0; i < FG_SHM_MAX_WORKERS; i++) {
        if (atomic_load_explicit(&shm->workers[i].ws_state,
                                 memory_order_acquire) == FG_WORKER_READY
            && atomic_load_explicit(&shm->workers[i].ws_generation,
                                    memory_order_relaxed) == generation) {
            n++;
        }
    }
    return n;
}

void
fg_shm_set_syncer_failure(const fg_shm_t *shm, const char *reason)
{
    fg_shm_header_t *h = shm->header;
    uint32_t         seq;

    if (reason == NULL) {
        atomic_store_explicit(&h->sh_failure_set, 0, memory_order_release);
        return;
    }
    /* A seqlock with one writer (the syncer): odd while writing, even
     * after, whatever a writer killed mid-write left. */
    seq = atomic_load_explicit(&h->sh_failure_seq, memory_order_relaxed)
          | 1u;
    atomic_store_explicit(&h->sh_failure_seq, seq, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    snprintf(h->sh_failure, sizeof(h->sh_failure), "%s", reason);
    atomic_store_explicit(&h->sh_failure_seq, seq + 1, memory_order_release);
    atomic_store_explicit(&h->sh_failure_set, 1, memory_order_release);
}

int
fg_shm_syncer_failure(const fg_shm_t *shm, char *out)
{
    const fg_shm_header_t *h = shm->header;
    uint32_t               before, after;
    int                    tries;

    if (!atomic_load_explicit(&h->sh_failure_set, memory_order_acquire)) {
        return 0;
    }
    /* Bounded: a writer killed mid-write leaves the count odd for good. */
    for (tries = 0; tries < 8; tries++) {
        before = atomic_load_explicit(&h->sh_failure_seq,
                                      memory_order_acquire);
        if (before & 1u) {
            continue;
        }
        memcpy(out, h->sh_failure, FG_SHM_FAILURE_MAX);
        atomic_thread_fence(memory_order_acquire);
        after = atomic_load_explicit(&h->sh_failure_seq,
                                     memory_order_relaxed);
        if (before == after) {
            out[FG_SHM_FAILURE_MAX - 1] = '\0';
            return 1;
        }
    }
    snprintf(out, FG_SHM_FAILURE_MAX, "the syncer failed");
    return 1;
}
