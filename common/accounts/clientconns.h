#ifndef FG_COMMON_CLIENTCONNS_H
#define FG_COMMON_CLIENTCONNS_H

/*
 * Connections open per client address, counted across all workers of a
 * node in one region of the shm arena, for limits.max_connections_per_client
 * (nginx's limit_conn). A client is an IPv4 address, or an IPv6 address's
 * /64 (one subscriber's usual allocation; an IPv4-mapped IPv6 address is
 * its IPv4 address), hashed with a secret made when the region is laid
 * out (SipHash-2-4), so that a client cannot aim at another's entries.
 *
 * The table is open-addressed with a fixed capacity (a power of two,
 * fg_clientconns_slots()) and never grows. An entry is one worker's count
 * of one client: its word holds the client's hash and the worker's slot,
 * so every entry has one writer, and the master can give back what a dead
 * worker held (fg_clientconns_release_worker) as it does for the
 * limiter's concurrency slots. A client's entries lie within
 * FG_CLIENTCONNS_PROBE slots of its home, so a count reads at most that
 * many entries: no lock, no system call. A connection is counted before
 * the total is read, so concurrent accepts on several workers can refuse
 * one connection too many, never let one too many in.
 *
 * When no entry is free within the probe window (a table much fuller than
 * its sizing allows: 2 × connections of every worker) the connection is
 * served uncounted; fg_clientconns_take() says so.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define FG_CLIENTCONNS_PROBE      32
#define FG_CLIENTCONNS_MIN_SLOTS  1024
#define FG_CLIENTCONNS_MAX_SLOTS  (1u << 22)

typedef struct fg_clientconns_s fg_clientconns_t;

/* The slots for @connections open at once on the whole node: the next
 * power of two >= 2 × @connections, within [MIN, MAX]. */
uint32_t fg_clientconns_slots(uint64_t connections);

/* Bytes of a region of @slots slots (a power of two). */
size_t fg_clientconns_bytes(uint32_t slots);

/* Lays out an empty table of @slots slots in the zeroed, 64-byte aligned
 * @mem, with a new hashing secret. Master, before forking. */
fg_clientconns_t *fg_clientconns_init(void *mem, uint32_t slots);

/* The table laid out in @mem by a previous run of this layout. */
fg_clientconns_t *fg_clientconns_attach(void *mem);

/*
 * The client that @addr belongs to, as a nonzero 64-bit id; 0 for an
 * address that is no client's (AF_UNIX, unknown families): never counted.
 */
uint64_t fg_clientconns_client(const fg_clientconns_t *t,
                               const struct sockaddr *addr);

/*
 * Counts one connection of @client on worker @worker (< 512). Returns the
 * entry to give back with fg_clientconns_give(), or -1 when none was free
 * (uncounted: give nothing back). *@total gets the client's connections
 * on the node, this one included.
 */
int64_t fg_clientconns_take(fg_clientconns_t *t, unsigned worker,
                            uint64_t client, uint64_t *total);

/* Gives back one connection counted in entry @entry (from take, >= 0). */
void fg_clientconns_give(fg_clientconns_t *t, int64_t entry);

/* The client's connections on the node now. */
uint64_t fg_clientconns_count(const fg_clientconns_t *t, uint64_t client);

/* Gives back every connection worker @worker counted (it died). Master
 * only, while that worker is not running. Returns how many. */
uint64_t fg_clientconns_release_worker(fg_clientconns_t *t, unsigned worker);

#endif
