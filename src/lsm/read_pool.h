/* read_pool.h - background point lookups for an owner thread that must not wait for the disk
 * (lsm_prefetch in lsm.h). A job looks a key up in a version's tables exactly as lsm_get's table
 * part does (table_get.h), on a reader thread: the reads it makes load the data blocks (and open
 * the tables) that the owner's own lookup of the key will need, into the block cache and the
 * table cache, so that lookup then runs from memory. The value found is discarded.
 *
 * Threads: nthreads workers (worker.h), each with its own SPSC rings; a job goes to the worker
 * with the fewest jobs in flight, so a slow read does not hold up the others. Every function
 * here is called by the owner thread only. A finished job is reported through the pool's own
 * eventfd (one write per job) and collected with read_pool_done, which also drops the job's
 * version reference (versions are released on the owner thread: version.h).
 * Lifetime: the version and table cache given must outlive the jobs that use them; read_pool_stop
 * waits for every job in flight. */
#ifndef KEVO_READ_POOL_H
#define KEVO_READ_POOL_H
#include <stddef.h>
#include <stdint.h>
#include "table_cache.h"
#include "uring_reader.h"
#include "version.h"

#define READ_POOL_MAX_THREADS 128

typedef struct read_pool read_pool;

/* Starts nthreads (1..READ_POOL_MAX_THREADS) reader threads; direct = 1: they read with
 * O_DIRECT (sst_reader_set_direct_reads). uring = 1 or 2: point lookups read their data blocks
 * through io_uring, submitted by the owner thread (1) or by a submitting thread (2)
 * (uring_reader.h), the threads taking only what that
 * cannot do (tables to open, seeks, overflow); silently threads only where io_uring is not
 * available. 0 or LSM_ENOMEM / LSM_EIO. */
int read_pool_start(read_pool **out, int nthreads, table_cache *tc, int direct, int uring);
/* A data block of v's tables that a lookup of the key from memory just found missing (r: a
 * reference the callee takes over), so that its read can start without the lookup running
 * again; stamp (0 = none) goes to the landed callback (read_pool_on_landed) when it lands. */
typedef struct read_hint {
    sst_reader *r;
    uint64_t off, size;
    uint64_t stamp;
} read_hint;

/* Queues a lookup of key in v (a reference is taken and kept until read_pool_done reports the
 * job). tag comes back from read_pool_done when the lookup has finished. hint: NULL, or the
 * block the lookup needs first (its reference is always consumed). 0, or LSM_EBUSY when
 * every worker's ring is full (the caller reads itself), LSM_ENOMEM. */
int read_pool_submit(read_pool *p, version *v, const void *key, size_t klen, uint64_t tag,
                     const read_hint *hint);
/* As read_pool_submit for the blocks an iterator seek to key reads (table_seek_blocks: nblocks
 * per table); nblocks 0 = a point lookup. */
int read_pool_submit_seek(read_pool *p, version *v, const void *key, size_t klen, int nblocks,
                          uint64_t tag);
/* The io_uring reads' landed callback (uring_reader_on_landed; not called for the threads'
 * jobs, nor without io_uring). */
void read_pool_on_landed(read_pool *p, uring_landed_fn fn, void *ctx);
/* Collects up to max finished jobs' tags into tags; returns how many. Drains the eventfd. */
int read_pool_done(read_pool *p, uint64_t *tags, int max);
/* The eventfd that becomes readable when a job has finished. */
int read_pool_fd(const read_pool *p);
/* Jobs submitted and not yet collected. */
int read_pool_inflight(const read_pool *p);
/* Whether point lookups go through io_uring, and how many block reads it has made. */
/* io_uring reads: held until read_pool_flush / read_pool_done (on = 1), or started at once
 * (uring_reader_hold). Threads' jobs are never held. */
void read_pool_hold(read_pool *p, int on);
void read_pool_flush(read_pool *p);
int read_pool_uses_uring(const read_pool *p);
uint64_t read_pool_uring_reads(const read_pool *p);
uint64_t read_pool_uring_lookups(const read_pool *p);
/* Waits for the jobs in flight (discarding their tags), stops the threads, frees the pool. */
void read_pool_stop(read_pool *p);
#endif
