/* sst_reader.h - reads one SSTable. An open reader holds the fd, the footer, and its index and
 * filter blocks pinned (charged to the block cache budget); data blocks go through the block
 * cache. Thread-safe for concurrent gets/iterators (pread, no shared cursor).
 * Lifetime: reference counted (atomic); iterators hold a reference. */
#ifndef KEVO_SST_READER_H
#define KEVO_SST_READER_H
#include <stddef.h>
#include <stdint.h>
#include "cache.h"
#include "iterator.h"
#include "lsm.h"
#include "sst_builder.h"

typedef struct sst_reader sst_reader;

/* Opens the table at path; file_number keys its blocks in cache (may be NULL: no caching).
 * 0 and *out set, or LSM_EIO / LSM_ECORRUPT (bad magic, bad footer, bad checksums). */
int sst_reader_open(const char *path, uint64_t file_number, block_cache *cache, sst_reader **out);
/* Puts a data block a table builder has just written (table file_number, at off; raw: its
 * uncompressed contents, copied) into cache as a read of it would, where the cache has room
 * without evicting anything (block_cache_insert_warm); otherwise does nothing. The lookups that
 * meet the table once it is installed then find its blocks cached instead of reading and
 * decompressing them on the event loop. Any thread (flush and compaction jobs). */
void sst_cache_warm_block(block_cache *cache, uint64_t file_number, uint64_t off, const char *raw,
                          size_t n);
void sst_reader_ref(sst_reader *r);
void sst_reader_unref(sst_reader *r);

enum { SST_NOTFOUND = 0, SST_FOUND = 1, SST_DELETED = 2, SST_WOULDBLOCK = 3 };
/* Newest entry of ukey with sequence <= snapshot: checks the bloom filter first (no data block
 * read if it rules the key out). FOUND copies the value into *val. Returns SST_* or a negative
 * LSM_E* code. */
int sst_reader_get(sst_reader *r, const void *ukey, size_t ukl, uint64_t snapshot, lsm_buf *val);
/* As sst_reader_get with h64 = key_hash64(ukey, ukl) (hash.h), hashed once by a caller that
 * probes several tables. */
int sst_reader_get_hashed(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                          uint64_t snapshot, lsm_buf *val);
/* As sst_reader_get_hashed, but never waits for the disk: a data block not in the block cache is
 * read only if the OS page cache holds it (RWF_NOWAIT; then cached), else SST_WOULDBLOCK (a
 * reader without a cache reads as usual). For a caller that must not wait for the disk (the
 * owner thread): it has the block loaded elsewhere (a background sst_reader_get_hashed caches
 * it, or the block named in *miss_off / *miss_size is read: UINT64_MAX unless the answer is
 * SST_WOULDBLOCK for want of that data block) and asks again. */
int sst_reader_get_cached(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                          uint64_t snapshot, lsm_buf *val, uint64_t *miss_off, uint64_t *miss_size);
/* As sst_reader_get_cached, but never reads anything (not even the OS page cache): when the data
 * block the lookup needs is not in the block cache, SST_WOULDBLOCK with its handle in *miss_off
 * and *miss_size (UINT64_MAX when the answer is SST_WOULDBLOCK for want of a cache). For a
 * caller that reads the block itself (uring_reader.h) and then asks again. */
int sst_reader_get_cache_only(sst_reader *r, const void *ukey, size_t ukl, uint64_t h64,
                              uint64_t snapshot, lsm_buf *val, uint64_t *miss_off,
                              uint64_t *miss_size);
/* How to read the block at (off, size) and its trailer from outside (an asynchronous read):
 * *fd, the file range [*aoff, *aoff + *alen) to read and *skip, where the block starts in it.
 * direct = 0 asks for the plain descriptor (through the OS page cache).
 * Returns 1 when *fd is the table's O_DIRECT descriptor (the range is 4 KiB-aligned and so must
 * the buffer be), 0 when it is the plain one (the range is the block exactly), LSM_ECORRUPT when
 * the handle lies outside the file. The descriptors stay open while r is referenced. */
int sst_reader_read_plan(sst_reader *r, uint64_t off, uint64_t size, int direct, int *fd,
                         uint64_t *aoff, size_t *alen, size_t *skip);
/* Verifies, decodes and inserts into the block cache the block at (off, size) whose size +
 * trailer bytes were read into raw (copied: raw stays the caller's). 0 (also when it was
 * cached meanwhile, or r has no cache) or LSM_ECORRUPT / LSM_ENOMEM. Any thread. */
int sst_reader_cache_block(sst_reader *r, uint64_t off, uint64_t size, const char *raw);
/* Whether the data block at off, if it is in the block cache, has an entry of ukey (a value or
 * a deletion, any sequence): 1 yes, 0 no (a lookup of ukey that reaches this table goes on to
 * the next one: its filter gave a false positive), -1 the block is not cached (or does not
 * decode). Reads nothing. Any thread. */
int sst_reader_block_holds(sst_reader *r, uint64_t off, const void *ukey, size_t ukl);
/* The answer of the data block at off, if it is in the block cache, to a lookup of ukey at
 * snapshot, as sst_reader_get gives it when its index names that block: SST_FOUND (the value
 * copied into *val; val may be NULL), SST_DELETED, SST_NOTFOUND (no entry of ukey at or below snapshot in the
 * block), SST_WOULDBLOCK (the block is not cached) or a negative code. Reads nothing, checks no
 * filter. Any thread. */
int sst_reader_block_get(sst_reader *r, uint64_t off, const void *ukey, size_t ukl,
                         uint64_t snapshot, lsm_buf *val);
/* The data blocks an iterator seek to ukey lands in (the block holding the first entry >= ukey)
 * and the nblocks - 1 after it: cached_only = 1 checks they are all in the block cache (0, or
 * SST_WOULDBLOCK when one is not), 0 reads those that are not into it (0 or a negative code).
 * Blocks past the table's end are not counted. */
int sst_reader_seek_blocks(sst_reader *r, const void *ukey, size_t ukl, int nblocks, int cached_only);
/* Blocks this thread reads from now on bypass the OS page cache (O_DIRECT, through an aligned
 * bounce buffer; plain reads where the file system refuses O_DIRECT): for the read pool's
 * threads, which load blocks into the block cache. Per thread; off by default. */
void sst_reader_set_direct_reads(int on);
/* Frees the calling thread's direct-read buffer (before the thread ends). */
void sst_reader_free_thread_buffers(void);
/* Prefetch hint: starts loading the filter line a get of a key with hash h64 will test, so a
 * caller can overlap the filter misses of several tables before probing them in order. */
void sst_reader_prefetch_filter(const sst_reader *r, uint64_t h64);

/* Iterator over all entries (internal keys). Holds a reference to r. fill_cache=0 avoids
 * polluting the cache (compaction reads). */
internal_iter *sst_reader_iter_new(sst_reader *r, int fill_cache);

const sst_props *sst_reader_props(const sst_reader *r);
uint64_t sst_reader_file_number(const sst_reader *r);

/* Detail of the last error (LSM_ECORRUPT / LSM_EIO) a reader function returned on the calling
 * thread: "table <number>.sst: ..." naming the block offset where one applies. Valid until the
 * thread's next reader call; "" before any error. */
const char *sst_reader_last_error(void);

/* Bloom stats of this process (all readers), atomically updated. */
void sst_bloom_stats(uint64_t *checks, uint64_t *useful);
#endif
