/* cache.h - the block cache: sharded, byte-bounded cache keyed by (file number, block offset):
 * a CLOCK ring behind a probation queue (cache.c says why and how).
 * Thread-safe (a mutex per shard; release takes none): used by the owner thread and the
 * compaction workers.
 * Admission: a new entry waits in a small probation queue and is kept (moved into the ring) only
 * if it is looked up again later than the reuse window after its insertion, or if it was
 * evicted unread from probation lately and is inserted again; entries read once are the first
 * to go.
 * Entries are reference counted: a handle returned by lookup/insert pins the entry until
 * released; eviction never frees a pinned entry (its bytes still count). */
#ifndef KEVO_CACHE_H
#define KEVO_CACHE_H
#include <stddef.h>
#include <stdint.h>

/* What an entry costs the cache's memory besides its value (callers add it to their charge). */
#define BLOCK_CACHE_ENTRY_BYTES 128

typedef struct block_cache block_cache;
typedef struct cache_handle cache_handle;

block_cache *block_cache_new(size_t capacity_bytes);
void block_cache_free(block_cache *c); /* no handle may be outstanding */
/* Lookups of a new entry within ms of its insertion are taken for the inserting request's own
 * (the check of the landed block, or the lookup run again when its read lands; its command's
 * read), not reuse. Default 20 ms; tests set 0 (every later lookup is reuse). */
void block_cache_set_reuse_window(block_cache *c, unsigned ms);

/* Returns a pinned handle or NULL (counts a hit or a miss). */
cache_handle *block_cache_lookup(block_cache *c, uint64_t file, uint64_t offset);
/* Inserts value (ownership passes to the cache; deleter(value) frees it when evicted and
 * unpinned) with charge bytes; returns a pinned handle. If the key exists, the new value
 * replaces it for future lookups. */
cache_handle *block_cache_insert(block_cache *c, uint64_t file, uint64_t offset, void *value,
                                 size_t charge, void (*deleter)(void *value));
/* As block_cache_insert, also storing tag: 64 bits of the caller's own about the value, read
 * back with block_cache_tag from the entry itself (the line a lookup already read), so a caller
 * can learn what it needs of a value - e.g. where a block's restart array is - without touching
 * the value's memory first. block_cache_insert stores tag 0. */
cache_handle *block_cache_insert_tagged(block_cache *c, uint64_t file, uint64_t offset,
                                        void *value, size_t charge,
                                        void (*deleter)(void *value), uint64_t tag);
/* Warming: inserts value as block_cache_insert_tagged does, but only where that evicts nothing:
 * the key is absent and its shard holds charge more within its capacity. The entry goes
 * straight into the clock ring, not on probation (a table builder's blocks, which replace the
 * blocks of tables being read, are read again soon, but often not before a probation queue would
 * have dropped them). Returns 1: inserted (ownership passed, no handle); 0: not (value stays the
 * caller's). Any thread. */
int block_cache_insert_warm(block_cache *c, uint64_t file, uint64_t offset, void *value,
                            size_t charge, void (*deleter)(void *value), uint64_t tag);
/* Whether block_cache_insert_warm of (file, offset) with charge could find room now (a hint, no
 * lock taken): a caller skips building a value the cache would refuse. Any thread. */
int block_cache_has_room(block_cache *c, uint64_t file, uint64_t offset, size_t charge);
uint64_t block_cache_tag(const cache_handle *h);
void *block_cache_value(cache_handle *h);
void block_cache_release(block_cache *c, cache_handle *h);
/* Drops every unpinned entry of file (after the file is deleted). */
void block_cache_erase_file(block_cache *c, uint64_t file);
/* Reserve/unreserve bytes that are not entries (pinned index+filter blocks), so they count
 * against the budget. */
void block_cache_charge_pinned(block_cache *c, int64_t delta);

typedef struct block_cache_stats {
    uint64_t hits, misses, bytes, capacity, entries;
    uint64_t pinned;   /* of bytes: the reserve of block_cache_charge_pinned */
} block_cache_stats;
void block_cache_get_stats(block_cache *c, block_cache_stats *s);
#endif
