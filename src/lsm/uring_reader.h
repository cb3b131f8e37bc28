/* uring_reader.h - point lookups whose data-block reads the owner thread submits itself through
 * io_uring (Linux), instead of handing the whole lookup to a reader thread (read_pool.h).
 *
 * A lookup runs from memory (TABLE_GET_CACHE_ONLY: memtables are the caller's, then bloom
 * filters, pinned indexes and the block cache) until it needs a data block that is not cached;
 * that block is read asynchronously (O_DIRECT where the file system allows it), and when the read
 * lands it is verified, decoded and inserted into the block cache. When the block holds the key
 * the lookup is finished (its answer is in memory now); otherwise (a bloom false positive) it
 * runs again from memory and may need one more block. Lookups that need the same block wait
 * on one read. No thread hand-off, no wake-up per read: the completions are reaped in batches on
 * the owner thread, and the kernel signals them on the caller's eventfd.
 *
 * What it cannot do (a table that is not open: opening it reads its footer, index and filter)
 * it gives back to the caller (uring_reader_done's redo callback), which uses a reader thread.
 *
 * Threads: every function on the owner thread only (the submitting thread, when there is one,
 * is private to the reader). Lifetime: the table cache outlives the
 * reader; a request holds a reference to its version until it is reported; uring_reader_stop
 * waits for the reads in flight (the kernel writes into their buffers until then). */
#ifndef KEVO_URING_READER_H
#define KEVO_URING_READER_H
#include <stddef.h>
#include <stdint.h>
#include "sst_reader.h"
#include "table_cache.h"
#include "version.h"

typedef struct uring_reader uring_reader;

/* Sets up a ring of depth entries whose completions write efd (an eventfd the caller polls);
 * direct = 1: blocks are read with O_DIRECT where the file system allows it (the block cache is
 * then their only cache), 0: through the OS page cache.
 * 0, LSM_EINVAL (no io_uring here: built without liburing, an old kernel, or io_uring
 * disabled by the system), LSM_ENOMEM.
 * submit_thread = 1: a thread of the reader's own makes the io_uring_enter calls (and runs the
 * reads' completion work, which the kernel does on the submitting task); the owner thread only
 * fills the ring (see "Submission" in uring_reader.c). 0: the owner thread enters itself.
 * Either way the owner reaps the completions. */
int uring_reader_start(uring_reader **out, table_cache *tc, int efd, unsigned depth, int direct,
                       int submit_thread);
/* Starts the lookup of key in v. 0: its tag will come back from uring_reader_done (at once when
 * it needs nothing read: the next call reports it); LSM_EAGAIN: it needs what only a blocking
 * read can do (a table to open): the caller uses a thread; LSM_EBUSY: too many reads in flight;
 * LSM_ENOMEM. r: NULL, or the table whose data block (off, size) the caller's own lookup of the
 * key from memory just found missing: that block's read starts without the lookup running
 * again (the reference to r is the callee's, whatever the outcome). stamp (with r only; 0 =
 * none): handed to the landed callback (uring_reader_on_landed) when that block lands. */
int uring_reader_submit(uring_reader *u, version *v, const void *key, size_t klen, uint64_t tag,
                        sst_reader *r, uint64_t off, uint64_t size, uint64_t stamp);
/* Called from uring_reader_done, on the owner thread, for each lookup submitted with a block and
 * a stamp once that block landed and was cached (r, off: the block; r referenced for the
 * call): returns 1 when the block holds an entry of the key (the lookup is finished), 0 when it
 * does not (the lookup runs again from memory: a filter's false positive), -1 when it cannot
 * tell (the reader checks with sst_reader_block_holds). The caller's own lookup knew every table
 * before the block answered from memory: the callback may take the block's answer as the
 * lookup's if nothing changed since (what the stamp is for). Not called for a lookup that read
 * another block first, nor after a failed read. */
typedef int (*uring_landed_fn)(void *ctx, const void *key, size_t klen, uint64_t stamp,
                               sst_reader *r, uint64_t off);
/* Sets the landed callback (NULL: none). */
void uring_reader_on_landed(uring_reader *u, uring_landed_fn fn, void *ctx);
/* A finished lookup that turned out to need a table opened: the callback takes it over (returns
 * 0 when it did; otherwise the tag is reported as finished, and its command reads in place). */
typedef int (*uring_redo_fn)(void *ctx, version *v, const void *key, size_t klen, uint64_t tag);
/* Reaps the completed reads, caches their blocks, runs their lookups again, and collects up to
 * max finished tags; returns how many. Lookups left over (more than max) are reported by the
 * next call, and efd is written so the caller hears of them. */
int uring_reader_done(uring_reader *u, uint64_t *tags, int max, uring_redo_fn redo, void *ctx);
/* on = 1: the reads uring_reader_submit queues are handed to the kernel only at the next
 * uring_reader_flush or uring_reader_done (or when the ring's queue fills), so the reads of many
 * lookups start with one system call and one device notification (in a VM each notification is
 * an exit to the host, ~10 us of the owner thread's time); on = 0 (the default): each submit
 * starts its read at once (turning it off flushes). */
void uring_reader_hold(uring_reader *u, int on);
/* Hands the queued reads to the kernel. */
void uring_reader_flush(uring_reader *u);
/* Lookups submitted and not yet reported. */
int uring_reader_inflight(const uring_reader *u);
/* Block reads submitted so far, and lookups run from memory by the reader itself (INFO, tests). */
uint64_t uring_reader_reads(const uring_reader *u);
uint64_t uring_reader_lookups(const uring_reader *u);
/* Waits for the reads in flight, drops every pending lookup unreported, frees the ring. */
void uring_reader_stop(uring_reader *u);
#endif
