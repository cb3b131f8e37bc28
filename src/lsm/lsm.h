/* lsm.h - the Kevo storage engine's public API: the only engine header the rest of src/ includes.
 *
 * A log-structured merge tree: WAL -> skiplist memtable -> SSTables (leveled compaction).
 * Keys and values are byte strings (binary safe; an empty value is a value, never a delete).
 *
 * Threads: every function here is called from ONE thread, the owner thread (the server's event
 * loop), unless its comment says otherwise. The engine runs its own background threads (flush,
 * compaction, everysec fsync); they never touch the owner's state, and report back through
 * lsm_poll(). The engine is not safe to call concurrently from two threads.
 *
 * Errors: functions returning int return 0 on success or a negative LSM_E* code;
 * lsm_strerror() names it. lsm_get returns LSM_ENOTFOUND for an absent key.
 */
#ifndef KEVO_LSM_H
#define KEVO_LSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LSM_OK = 0,
    LSM_ENOTFOUND = -1,  /* lsm_get: no such key (absent or deleted) */
    LSM_EIO = -2,        /* a system call failed; errno-level detail is in lsm_last_error() */
    LSM_ECORRUPT = -3,   /* a checksum or format check failed */
    LSM_ENOMEM = -4,
    LSM_EINVAL = -5,     /* bad argument */
    LSM_EBUSY = -6,      /* e.g. the directory is locked by another process */
    LSM_EAGAIN = -7,     /* lsm_get_ready: answering needs a disk read */
};
const char *lsm_strerror(int err);

typedef enum { LSM_SYNC_NO = 0, LSM_SYNC_EVERYSEC = 1, LSM_SYNC_ALWAYS = 2 } lsm_sync_mode;

/* Expiry hook: given a stored value, return its expire-at time in unix milliseconds, or 0 when
 * it has none. Called from compaction threads (must be thread-safe and pure). Compaction drops a
 * value whose expire-at <= now only under the same rule as a delete (no older version of the key
 * can exist in a deeper level); reads never consult it. "now" is the time the owner last gave
 * lsm_set_expire_clock when the compaction was scheduled (the engine's own clock until then),
 * so a value is only ever dropped once the owner itself sees it as expired, however far its
 * cached time lags the real clock. */
typedef uint64_t (*lsm_expire_fn)(void *ctx, const void *key, size_t klen, const void *val,
                                  size_t vlen);

/* ---- compaction filter ----------------------------------------------------------------
 * A hook through which flushes and compactions drop entries the application knows to be
 * garbage (RocksDB's CompactionFilter): the server's members of a deleted collection. The
 * engine stays generic; the hook decides.
 *
 * Which entries it sees: VALUE entries only, at most one per user key per job: the newest
 * version of the key among the job's input entries whose sequence is <= the job's smallest
 * snapshot S (the sequence the oldest live iterator reads at; the last sequence when none is
 * live). Entries newer than S are never shown to it nor dropped by it (a live iterator may
 * read them); deletes never.
 *
 * What a drop does: returning 1 drops that version and every older version of the key in the
 * job's input. Versions of the key outside the job (in levels below its output) are left
 * alone and may be read again until a compaction reaches them (the filter is then asked
 * again). So a filter must only drop a key all of whose versions are garbage forever: e.g. a
 * key carrying a number that is never reused. filter_dropped (lsm_stats) counts the drops.
 *
 * The view (lsm_filter_get) shows the job's state as of S: for a compaction, every SSTable of
 * the version it was picked from (all levels, not only its inputs); for a flush, the memtable
 * being flushed plus every SSTable of the version current when the flush was scheduled (its
 * own memtable too: a record the filter looks up may have been written together with the
 * entries being flushed, and be in no table yet). Never the other memtables.
 * What a filter may conclude: every write older than the entry being filtered (lower
 * sequence) and visible at S is visible in the view (unless a compaction dropped it since:
 * expired per expire_fn, or garbage per this filter). So a record absent from the view was
 * absent (never written, or deleted) as of S, or was written after the entry being filtered
 * (it may then sit in a newer memtable, or be written after the job was picked). Hence an
 * entry may be treated as dead when a record that is always written BEFORE it, or in the same
 * write batch or group (a job sees all of one or none of it), is absent from the view (the
 * server: a collection's liveness record 'v' || version comes with or before its members),
 * provided that record, once deleted, is never written again (version numbers are never
 * reused). A record present in the view may have been deleted after S: the entry is kept and
 * a later compaction drops it.
 *
 * Threads: called on the flush and compaction threads, possibly on several at once: it must
 * be thread-safe, and must call no engine function other than the lsm_filter_* ones below
 * (on the view it was given, during that call). */
typedef struct lsm_filter_view lsm_filter_view;

/* Returns 1 to drop the entry (key, val), 0 to keep it. */
typedef int (*lsm_compaction_filter_fn)(void *ctx, lsm_filter_view *view, const void *key,
                                        size_t klen, const void *val, size_t vlen);

/* Reads key in the view (above): 0 with the value copied into *val (caller's buffer, as
 * lsm_get), LSM_ENOTFOUND when absent or deleted, or LSM_EIO / LSM_ECORRUPT / LSM_ENOMEM.
 * On an error the filter should keep the entry: the engine ignores a drop returned by a call
 * in which lsm_filter_get failed. Callable only from inside the filter callback, on its
 * thread, with the view it was given. */
struct lsm_buf; /* lsm_buf, below */
int lsm_filter_get(lsm_filter_view *view, const void *key, size_t klen, struct lsm_buf *val);

/* A number unique to the view's job among all jobs of the process (never 0), for filters
 * that memoize per job in their own state. */
uint64_t lsm_filter_view_id(const lsm_filter_view *view);

/* LSM_FILTER_SCRATCH bytes private to the view's job, zeroed when the job starts, aligned for
 * any scalar type, valid until the job ends: a filter's per-job memo without any locking
 * (the keys of one job come in ascending order, so e.g. the members of one collection version
 * are contiguous and one lookup per version suffices). */
#define LSM_FILTER_SCRATCH 64
void *lsm_filter_view_scratch(lsm_filter_view *view);

typedef struct lsm_options {
    size_t memtable_size;          /* bytes before the active memtable turns immutable; 64 MiB */
    int max_immutable_memtables;   /* writes stall beyond this many waiting for flush; 2 */
    int prefault_memtables;        /* 1: a background thread faults memtable pages in ahead of
                                      use, within memtable_size x (1 + max_immutable_memtables)
                                      (hugemem.h); 0 = on first touch by the writer; 0 */
    int warm_block_cache;          /* 1: flushes and compactions put the blocks they write into
                                      the block cache where it has room without evicting
                                      (sst_cache_warm_block), so reads of a rewritten table do
                                      not start cold; 0: blocks enter the cache when read; 1 */
    int prefault_blocks;           /* 1: a background thread faults the block cache's slab
                                      memory in ahead of use, and emptied slabs are kept for
                                      reuse, up to 8 MiB (block_alloc_stock_start); 0 */
    int unlink_in_background;      /* 1: obsolete tables are unlinked by a thread of their own
                                      (kevo-unlink, unlinker.h), not by the thread that drops
                                      their last reference (ext4 frees a big file inside
                                      unlink: tens to hundreds of ms); 0 */
    int background_linking;        /* 1: a thread (kevo-link) links the active memtable's new
                                      entries into its ordered list, off the writer's thread
                                      (memtable.h); 0 = the writer links them; 1 */
    size_t block_cache_size;       /* bytes, data+index+filter blocks; 256 MiB */
    size_t block_size;             /* target uncompressed data block size; 4 KiB */
    int block_restart_interval;    /* 16 */
    int bloom_bits_per_key;        /* 10; 0 = no filter */
    int compression;               /* 1 = lz4 when it saves >= 1/8, 0 = none; 1 */
    int l0_compaction_trigger;     /* 4 */
    int l0_slowdown_trigger;       /* lsm_write_stalled() says 1 at this many L0 files; 20 */
    uint64_t level1_max_bytes;     /* 64 MiB */
    int level_multiplier;          /* 10 */
    uint64_t target_file_size;     /* 64 MiB */
    int num_levels;                /* 7 */
    int compaction_threads;        /* 1 */
    int max_open_files;            /* table cache size (open SSTables); 1000 */
    int read_threads;              /* background readers for lsm_prefetch; 0 = none (lsm_prefetch
                                      then fails with LSM_EINVAL); 0 */
    int read_direct;               /* readers read with O_DIRECT (no page-cache copy: best when the
                                      block cache holds the hot set); 0 = through the page cache,
                                      a second cache behind the block cache; 1 */
    int read_uring;                /* with read_threads > 0: point lookups' block reads go
                                      through io_uring, the threads taking only the rest
                                      (read_pool.h); 0 = threads only; 1 = the owner thread
                                      submits them; 2 = a submitting thread does (the owner only
                                      fills the ring: uring_reader.h); 2 */
    lsm_sync_mode sync_mode;       /* LSM_SYNC_EVERYSEC */
    int skip_corrupt_wal;          /* 0: refuse to open on mid-WAL corruption; 1: log and skip */
    size_t wal_prealloc;           /* WAL files are zeroed ahead in chunks of this many bytes so
                                      syncs write data only (wal.h); 0 = plain appends; 1 MiB */
    lsm_expire_fn expire_fn;       /* NULL: compaction never drops values for expiry */
    void *expire_ctx;
    lsm_compaction_filter_fn compaction_filter; /* NULL: none (see above) */
    void *compaction_filter_ctx;
    /* Tombstone-dense tables are compacted on their own: when no level needs a compaction by
     * size, a table holding at least deletion_compaction_min_entries entries of which at least
     * deletion_compaction_percent % are deletes is compacted one level down (or rewritten in
     * place where no level below overlaps it), so deletes reach the point where they are
     * dropped together with what they shadow. 50 and 1000; percent 0 = off. Tables written
     * before the engine recorded deletions per table (MANIFEST tag 7) count once rewritten. */
    int deletion_compaction_percent;
    uint64_t deletion_compaction_min_entries;
    /* Log sink for engine messages (recovery, corruption, compaction); NULL = stderr.
     * level: 0 debug, 1 verbose, 2 notice, 3 warning. Called from any engine thread. */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
} lsm_options;

/* Fills *o with the defaults above. */
void lsm_options_init(lsm_options *o);

typedef struct lsm lsm_t;

/* Opens (creating if needed) the database in directory dir, recovering from the MANIFEST and
 * replaying WALs. Takes an exclusive lock on dir/LOCK. On failure *out is NULL and the message is
 * in lsm_last_error(NULL). The options are copied. */
int lsm_open(const char *dir, const lsm_options *opts, lsm_t **out);
/* A number no other lsm_open of this process gave its database (1, 2, ...), unlike the handle's
 * address, which a later open may reuse: caches of an engine's contents outside it check it. */
uint64_t lsm_open_id(const lsm_t *db);

/* Commits buffered WAL records (as lsm_commit), waits for background jobs to finish, and frees
 * everything. Does not flush the memtable (the WAL covers it) unless lsm_flush was called. */
int lsm_close(lsm_t *db);

/* Human-readable detail of the last error on this handle (or of the last failed lsm_open when
 * db is NULL). Valid until the next engine call on the same thread. */
const char *lsm_last_error(lsm_t *db);

/* ---- writes ------------------------------------------------------------------------------
 * A write is visible to reads at once, and appended to the in-memory WAL buffer. It becomes
 * durable at the next lsm_commit() (which the server calls once per loop iteration, before
 * replying). */
int lsm_put(lsm_t *db, const void *key, size_t klen, const void *val, size_t vlen);
int lsm_delete(lsm_t *db, const void *key, size_t klen);

/* A write batch: applied atomically (all or nothing, also across a crash). Owned by the caller;
 * reusable after lsm_batch_clear. */
typedef struct lsm_batch lsm_batch;
lsm_batch *lsm_batch_new(void);
void lsm_batch_free(lsm_batch *b);
void lsm_batch_clear(lsm_batch *b);
int lsm_batch_put(lsm_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen);
/* Adds delta to persistent counter idx (0 <= idx < LSM_MAX_COUNTERS) when the batch is applied.
 * Counters are persisted with the data (WAL + MANIFEST) and are exact after any crash: a batch's
 * counter deltas are applied iff its writes are. The server keeps exact key counts with them. */
#define LSM_MAX_COUNTERS 64
int lsm_batch_counter_add(lsm_batch *b, int idx, int64_t delta);
size_t lsm_batch_count(const lsm_batch *b); /* number of put/delete ops */
int lsm_write(lsm_t *db, lsm_batch *b);

/* Adds delta to persistent counter idx as a write of its own (or as part of the open group). */
int lsm_counter_add(lsm_t *db, int idx, int64_t delta);

/* Write groups: atomic multi-write units whose writes are visible to the writer at once.
 * Between lsm_group_begin and the matching lsm_group_end, every write (lsm_put, lsm_delete,
 * lsm_write, lsm_counter_add) is applied to the memtable immediately, so reads and iterators
 * see it, but its WAL payload is held back; the outermost lsm_group_end logs all of them as ONE
 * WAL record (one batch: all or nothing across a crash, made durable by the next lsm_commit).
 * Groups nest (only the outermost one counts). While a group is open the active memtable does
 * not rotate (it grows past memtable_size if the group is big), lsm_commit returns LSM_EINVAL
 * and lsm_commit_wanted says 0. lsm_group_abort drops every write of the outermost group from
 * the memtable (cost: a copy of the active memtable) and restores the counters; the group's
 * later writes are refused and its lsm_group_end returns LSM_EIO. lsm_group_end returns 0, or
 * LSM_EIO when the group was aborted or dropped by a failure (its writes are then absent).
 * Owner thread. */
void lsm_group_begin(lsm_t *db);
int lsm_group_end(lsm_t *db);
int lsm_group_abort(lsm_t *db);

/* Changes the WAL sync policy at runtime (CONFIG SET appendfsync). Commits what is buffered
 * and syncs the WAL first, so everything written before the call is durable under the stricter
 * of the two policies; starts or stops the everysec sync thread. 0 or LSM_EIO/LSM_ENOMEM. */
int lsm_set_sync_mode(lsm_t *db, lsm_sync_mode mode);

/* The owner's current time (unix ms) for expiry decisions in compactions scheduled from now on
 * (lsm_expire_fn). Owner thread. */
void lsm_set_expire_clock(lsm_t *db, uint64_t now_ms);

/* Current value of a persistent counter (0 if never touched). */
int64_t lsm_counter(lsm_t *db, int idx);

/* How many times writes already applied (and readable) were taken back: a write group rolled
 * back (lsm_group_abort, a failed group record) or the writes of a failed commit dropped. A
 * cache of what the owner read can keep its entries while this stays the same: no read it made
 * was of a write that has since disappeared. The values of engines opened one after another in
 * a process never repeat (each starts its own range), so a cache that outlives its engine (a
 * reload) is not taken for valid. Owner thread. */
uint64_t lsm_rollbacks(const lsm_t *db);

/* Writes the buffered WAL records with one write(), and per sync mode one fdatasync (always).
 * Returns 0 or LSM_EIO; on failure the server must not acknowledge the writes made since the
 * previous lsm_commit: they have been dropped (reads no longer see them, they never become
 * durable) and the engine refuses writes until it has repaired itself (lsm_write_error).
 *
 * The failure model (Redis's MISCONF, with PostgreSQL's fsync lesson): when a WAL write or
 * fdatasync fails (here, on the everysec sync thread, or when a memtable rotates), or a flush
 * or MANIFEST write fails, writes are refused with LSM_EIO while reads go on; lsm_poll retries
 * in the background with a backoff (100 ms doubling to 5 s). A failed log is never written or
 * synced again: its memtables are flushed to tables and a fresh WAL is started; a failed
 * MANIFEST is replaced by a snapshot. Writes are accepted again once everything acknowledged is
 * known durable. Memtables turn immutable only at commit boundaries (a caller that writes a
 * second memtable's worth without committing gets an implicit commit). */
int lsm_commit(lsm_t *db);

/* 1 when the caller should lsm_commit before its next write: the active memtable is full and
 * turns immutable only at a commit. A caller that acknowledges writes per commit (the server)
 * commits here and settles the replies so far; one that does not is committed for when the
 * memtable reaches twice its size (an implicit commit: a later failed lsm_commit then does not
 * mean the writes before it are absent). Owner thread. */
int lsm_commit_wanted(lsm_t *db);

/* 1 when lsm_commit has something to make durable or to report: writes (or counter changes)
 * since the last commit, WAL bytes not yet written out, an `always` WAL not yet fsynced, an open
 * write group, or a failure waiting to be returned. 0 means every value a read sees now is as
 * durable as the sync mode makes a commit: a reply built from reads alone may be sent before the
 * next commit. Cheap (a few loads). Owner thread. */
int lsm_commit_pending(lsm_t *db);

/* 0 when writes are accepted; otherwise the code refusing them (LSM_EIO, or LSM_ENOMEM when
 * only a restart can recover), with *why (if not NULL) saying what failed; valid until the next
 * engine call. Owner thread. */
int lsm_write_error(lsm_t *db, const char **why);

/* ---- reads ------------------------------------------------------------------------------- */

/* A growable byte buffer owned by the caller, reused across calls to avoid allocating per read.
 * Initialize with {0}; free data with lsm_buf_free. */
typedef struct lsm_buf {
    char *data;
    size_t len;
    size_t cap;
} lsm_buf;
void lsm_buf_free(lsm_buf *b);

/* Looks up key in the latest state. On success copies the value into *val (val->len set) and
 * returns 0; LSM_ENOTFOUND when absent or deleted; another negative code on I/O or corruption. */
int lsm_get(lsm_t *db, const void *key, size_t klen, lsm_buf *val);

/* A hint: starts loading the memtable index lines key hashes to (the active memtable and the
 * immutable ones), for a get or write of key a little later that would otherwise wait for them.
 * No effect on data; owner thread. */
void lsm_prefetch_memtables(lsm_t *db, const void *key, size_t klen);
/* Its second step, a little after the first: starts loading the key's entry the index lines
 * name (reads those lines: issued before them landed, it waits for them). */
void lsm_prefetch_memtables_entry(lsm_t *db, const void *key, size_t klen);

/* Looks keys[0..n) up in the memtables only (the latest state, as lsm_get; n <= LSM_MEM_BATCH,
 * more are not looked up), with the memtable index lines of all of them loaded at once instead
 * of one after another. rcs[i]: 0 with vals[i] / vlens[i] pointing at the value inside a
 * memtable, LSM_ENOTFOUND when the newest version there is a delete, LSM_EAGAIN when no memtable
 * holds the key (the tables must be asked: lsm_get or an iterator). One hash probe per memtable,
 * no copy: for a caller reading many keys it can name (a list's elements by position). The
 * pointers are valid until the next write, commit, rollback or lsm_poll of db: the caller must
 * not write while it uses them. Owner thread. */
#define LSM_MEM_BATCH 16
void lsm_get_in_memtables_batch(lsm_t *db, int n, const char *const *keys, const size_t *klens,
                                const char **vals, size_t *vlens, int *rcs);

/* ---- reads that do not wait for the disk ----
 * For an owner thread that serves many clients and must not stop for one disk read (the
 * server's event loop): it asks whether a lookup can be answered from memory (memtables, the
 * bloom filters and indexes of open tables, the block cache), and when it cannot, has a reader
 * thread (lsm_options.read_threads) load what the lookup needs while it serves others:
 *
 *   rc = lsm_get_ready(db, key, klen);
 *   if (rc == LSM_EAGAIN) lsm_prefetch(db, key, klen, tag);   ... later, lsm_read_event_fd is
 *   readable and lsm_prefetch_done returns tag: ask lsm_get_ready again (usually ready now)
 *   else lsm_get(db, key, klen, val);                         (answered from the memo: no
 *                                                                second lookup)
 *
 * lsm_get_ready looks key up without waiting for the disk (a block in neither the block cache nor
 * the OS page cache is not read; one in the page cache is read, RWF_NOWAIT, and cached): 0 (the
 * key exists) or LSM_ENOTFOUND, and then the
 * answer is kept so that the next lsm_get of that key returns it without looking again, as long
 * as no write, rollback or lsm_poll comes between (the memo holds the last 16 answers; a
 * dropped one only costs lsm_get a lookup from memory); LSM_EAGAIN when it needs a table opened
 * or a data block read; another negative code on corruption. Owner thread.
 * lsm_prefetch queues a lookup of key on a reader thread, in the tables of the current version
 * (what it reads lands in the block and table caches; the value is dropped); tag is returned by
 * lsm_prefetch_done once it has finished. 0, LSM_EBUSY (too many in flight: read in place),
 * LSM_EINVAL (no reader threads). Prefetching is a hint: a block may be evicted again before
 * the owner asks, then lsm_get reads it (correct, only slower). Owner thread.
 * lsm_prefetch_done collects up to max finished tags (returns how many); lsm_read_event_fd is an
 * eventfd that becomes readable when some have finished (-1 without reader threads). */
int lsm_get_ready(lsm_t *db, const void *key, size_t klen);
/* As lsm_get_ready; when it returns 0, *val / *vlen show the value kept for the next lsm_get
 * (valid until the next engine call; the memo stays for that lsm_get). */
int lsm_get_ready_value(lsm_t *db, const void *key, size_t klen, const char **val, size_t *vlen);
int lsm_prefetch(lsm_t *db, const void *key, size_t klen, uint64_t tag);
int lsm_prefetch_done(lsm_t *db, uint64_t *tags, int max);
/* lsm_prefetch_hold(db, 1): the io_uring block reads lsm_prefetch queues (read_uring) start
 * only at the next lsm_prefetch_flush or lsm_prefetch_done, all with one system call and one
 * device notification (an event loop holds them while it runs commands and flushes before it
 * sleeps); 0 (the default): each starts at once. Owner thread. */
void lsm_prefetch_hold(lsm_t *db, int on);
void lsm_prefetch_flush(lsm_t *db);
/* The same for an iterator seek (range reads): lsm_seek_ready says whether the blocks a seek to
 * key reads in the tables (the block it lands in and the nblocks - 1 after it, in every table
 * the seek positions) are all in memory (0) or not (LSM_EAGAIN); lsm_prefetch_seek has a reader
 * thread load them (tag as lsm_prefetch). Memtables never need reads. Owner thread. */
int lsm_seek_ready(lsm_t *db, const void *key, size_t klen, int nblocks);
int lsm_prefetch_seek(lsm_t *db, const void *key, size_t klen, int nblocks, uint64_t tag);
int lsm_read_event_fd(lsm_t *db);
/* Testing: every background read job (lsm_prefetch) of this process first sleeps us microseconds
 * (0 = off), so that a test can see the owner go on while reads are in flight. Any thread. */
void lsm_debug_set_read_delay_us(unsigned us);

/* Iterator over a consistent view taken when it is created (memtables + a referenced version):
 * writes made after creation are not seen; flush and compaction underneath do not disturb it.
 * Yields live keys only (latest version, deletes hidden), ascending bytewise, in either
 * direction.
 * key()/value() pointers are valid until the next call that moves the iterator or destroys it
 * (they may be passed to a seek of the same iterator).
 * Must be destroyed before lsm_close. Owner thread only.
 *
 * Both directions see the same view: prev() yields exactly the keys next() would, backward, with
 * the same values. next() and prev() may be mixed freely: next() after prev() (or prev() after
 * next()) returns to the neighbour of the current key. Moving off either end makes the iterator
 * invalid; an invalid iterator stays put until a seek (next/prev on it do nothing).
 *
 * Cost, with s = sources (memtables + L0 files + non-empty levels), like LevelDB: a seek of
 * either kind is O(s log n); next() and prev() are O(log s) per entry, amortized. prev() also
 * copies the key and value out (the newest version of a key is the last one met walking
 * backward), and in a table decodes each restart interval (block_restart_interval entries)
 * once when it enters it, since entries decode forward only; a memtable steps back in O(1).
 * Over 1M keys in tables with a warm cache, prev() runs at ~0.6x next()'s rate (engine_bench
 * readreverse vs readseq). Each change of direction repositions every source once:
 * O(s log n). Versions and deletes hidden from the view are walked over in both directions. */
typedef struct lsm_iter lsm_iter;
lsm_iter *lsm_iter_new(lsm_t *db);
void lsm_iter_seek(lsm_iter *it, const void *key, size_t klen); /* first key >= key */
void lsm_iter_seek_first(lsm_iter *it);
/* Last key <= key (invalid when there is none). ZREVRANGE-style scans start here or at
 * lsm_iter_seek_last, then step with lsm_iter_prev. */
void lsm_iter_seek_for_prev(lsm_iter *it, const void *key, size_t klen);
void lsm_iter_seek_last(lsm_iter *it); /* last key */
int lsm_iter_valid(const lsm_iter *it);
void lsm_iter_next(lsm_iter *it);
void lsm_iter_prev(lsm_iter *it); /* the key before the current one */
const char *lsm_iter_key(const lsm_iter *it, size_t *klen);
const char *lsm_iter_value(const lsm_iter *it, size_t *vlen);
int lsm_iter_status(const lsm_iter *it); /* 0, or the error that made it invalid */
void lsm_iter_free(lsm_iter *it);

/* ---- maintenance -------------------------------------------------------------------------- */

/* Turns the active memtable immutable and schedules its flush. wait=1 blocks until every
 * memtable so far is in an installed SSTable (and obsolete WALs are deleted). */
int lsm_flush(lsm_t *db, int wait);

/* Compacts every file overlapping [begin, end] (NULL = unbounded) down to the last level,
 * after the writes made before the call are in SSTables (the memtable is flushed first).
 * Both modes first commit what is buffered (as lsm_commit), except wait=0 inside a write
 * group. wait=1 flushes, blocks until done and returns its result (inside a write group:
 * LSM_EINVAL). wait=0 queues the request and returns at once, without waiting for any flush
 * or compaction; it may be called any number of times, also inside a write group. Queued
 * requests whose ranges overlap are merged (beyond 64 queued, a new one is merged into the
 * newest); they run in the background one after another, taking turns with compactions by
 * size, each once the memtables that held the writes made before its call are flushed: the
 * active one turns immutable at the next commit boundary (lsm_commit, this call, or lsm_poll
 * when nothing is buffered) at which no flush is pending, so a burst of requests costs one
 * flush. Requests still queued when the database closes are dropped. */
int lsm_compact_range(lsm_t *db, const void *begin, size_t blen, const void *end, size_t elen,
                      int wait);

/* 1 when writers should be paused: too many immutable memtables waiting for flush or too many
 * L0 files. Reads are never stalled. The server stops reading from writing clients while this is
 * 1 and re-checks after lsm_poll(). */
int lsm_write_stalled(lsm_t *db);

/* File descriptor (eventfd) that becomes readable when background work has results. The server
 * adds it to its event loop and calls lsm_poll() when it fires (and may call it any time). */
int lsm_event_fd(lsm_t *db);

/* Installs finished background results (new versions, deleted obsolete files), schedules more
 * work (flushes, compactions by score). Never blocks on I/O of data files. Returns number of
 * results installed, or a negative code if a background job failed (the engine then refuses
 * writes with LSM_EIO: a Redis MISCONF-like state). */
int lsm_poll(lsm_t *db);
/* Idle time of the writer's thread (its event loop polled and found nothing to do): does up to
 * max units of the background work that thread may take over without waiting (today: linking
 * new memtable entries the linker thread has not taken yet; each unit one entry, ~0.3-1 us),
 * so that work costs no CPU that other threads and processes could use. Returns the units done
 * (0: nothing was waiting, or the linker thread holds it). Writer's thread. */
size_t lsm_idle(lsm_t *db, size_t max);

/* ---- stats ----------------------------------------------------------------------------------*/
#define LSM_MAX_LEVELS 7
typedef struct lsm_stats {
    int level_files[LSM_MAX_LEVELS];
    uint64_t level_bytes[LSM_MAX_LEVELS];
    int immutable_memtables;
    uint64_t memtable_bytes;          /* active + immutable, arena bytes */
    uint64_t wal_bytes_written;
    uint64_t user_bytes_written;      /* key+value bytes of all puts/deletes */
    uint64_t flush_bytes_written;
    uint64_t compaction_bytes_read;
    uint64_t compaction_bytes_written;
    uint64_t flushes, compactions;
    uint64_t pending_compaction_bytes;
    int running_flushes, running_compactions;
    uint64_t bloom_checks, bloom_useful;   /* useful = lookups the filter ruled out */
    uint64_t cache_hits, cache_misses;
    uint64_t cache_bytes, cache_capacity;
    uint64_t cache_entries;           /* data blocks in the block cache */
    uint64_t cache_pinned_bytes;      /* of cache_bytes: the tables' pinned indexes and filters */
    uint64_t stall_micros, stall_count;
    uint64_t last_sequence;
    uint64_t gets, puts, deletes;
    uint64_t overwrites;              /* puts/deletes that replaced the key's newest memtable
                                         version in place (no new memtable entry) */
    uint64_t expired_dropped;         /* values dropped by compaction for expiry */
    uint64_t write_failures;          /* failures that made the engine refuse writes */
    uint64_t tombstones_dropped;
    uint64_t filter_dropped;          /* entries the compaction filter dropped (older versions of
                                         their keys dropped with them are not counted) */
    uint64_t deletion_compactions;    /* compactions picked for a tombstone-dense table */
    int queued_manual_compactions;    /* lsm_compact_range requests not yet started */
    uint64_t total_sst_bytes;
    int open_tables;
    uint64_t prefetches;              /* lookups queued on reader threads (lsm_prefetch) */
    int prefetches_in_flight;
    int read_uring;                   /* 1: lsm_prefetch reads through io_uring (read_uring) */
    uint64_t uring_block_reads;       /* data blocks read that way */
    uint64_t uring_lookups;           /* lookups it ran itself from memory: where the caller's
                                         lookup did not name the missing block, or a landed block
                                         lacked the key (a filter's false positive) */
    uint64_t landed_answers;          /* lookups answered by the block that landed for them (their
                                         command's lookup then runs from that answer, no lookup) */
    uint64_t background_unlinks;      /* obsolete tables the kevo-unlink thread unlinked */
    int background_linking;           /* 1: a linker thread links memtable entries */
    uint64_t linked_by_thread;        /* memtable entries the linker thread linked */
    uint64_t linked_by_writer;        /* ... that the writer's thread linked itself instead (an
                                         ordered read or a seal right after writes, a full ring,
                                         idle time) */
    uint64_t linked_idle;             /* of linked_by_writer: in the writer's idle time (lsm_idle) */
    uint64_t slab_stock_bytes;        /* block memory faulted in ahead, held ready (block_alloc.h;
                                         the process's, not one database's) */
    uint64_t slabs_from_stock;        /* block slabs made from that stock since the process began */
    uint64_t slabs_stock_missed;      /* ... made from malloc while the stock was empty */
} lsm_stats;
void lsm_get_stats(lsm_t *db, lsm_stats *out);

#ifdef __cplusplus
}
#endif
#endif
