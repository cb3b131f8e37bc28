/* table_get.h - point lookups in the SSTables of a version: lsm_get's table part, shared with
 * the compaction filter's view (lsm_filter_get).
 *
 * Probe order: L0 files newest first (those whose range holds the key), then the one file per
 * level >= 1 whose range holds it. The candidates are taken in windows of TABLE_GET_WINDOW:
 * the window's readers are opened and their bloom filter lines prefetched before any is probed,
 * so the filter misses of a window overlap.
 *
 * Threads: any thread holding a reference to v (the version is immutable); the table cache and
 * the readers are thread-safe. A table_get lives on its caller's stack for one lookup. */
#ifndef KEVO_TABLE_GET_H
#define KEVO_TABLE_GET_H
#include <stddef.h>
#include <stdint.h>
#include "lsm.h"
#include "sst_reader.h"
#include "table_cache.h"
#include "version.h"

#define TABLE_GET_WINDOW 8

typedef struct table_get {
    const version *v;
    table_cache *tc;
    const void *key;      /* borrowed: must stay valid until finish/abort */
    size_t klen;
    uint64_t h;           /* key_hash64(key, klen) */
    int l0, level;        /* next L0 index / next level >= 1 to consider */
    int w;                /* readers open in the current window */
    int cached_only;      /* TABLE_GET_* (table_get_start_ex) */
    sst_reader *miss_r;   /* cached_only: the table whose block is missing (referenced) */
    uint64_t miss_off, miss_size;
    struct {
        sst_reader *r;    /* NULL: opening failed with rc */
        int rc;
    } p[TABLE_GET_WINDOW];
} table_get;

/* Starts a lookup of key (hash h = key_hash64(key, klen)) in v's tables: opens the readers of
 * the first window and prefetches their filter lines, so that a caller can probe its memtables
 * meanwhile. Must be followed by table_get_finish or table_get_abort. Cannot fail (an open
 * error is reported by table_get_finish when that table's turn comes). */
void table_get_start(table_get *g, const version *v, table_cache *tc, const void *key,
                     size_t klen, uint64_t h);
/* cached_only of table_get_start_ex: */
#define TABLE_GET_READ 0       /* read what the lookup needs (table_get_start) */
#define TABLE_GET_NOWAIT 1     /* read no file, but the OS page cache (sst_reader_get_cached) */
#define TABLE_GET_CACHE_ONLY 2 /* memory only; a missing data block is named (table_get_miss) */
/* As table_get_start; cached_only = TABLE_GET_NOWAIT or TABLE_GET_CACHE_ONLY makes the lookup
 * read no file: table_get_finish then returns SST_WOULDBLOCK where it would have opened a table
 * or read a data block not in the block cache (see sst_reader_get_cached). */
void table_get_start_ex(table_get *g, const version *v, table_cache *tc, const void *key,
                        size_t klen, uint64_t h, int cached_only);
/* Probes the candidates in order for the newest entry with sequence <= snapshot: SST_FOUND (the
 * value copied into *val), SST_DELETED, SST_NOTFOUND, SST_WOULDBLOCK (cached_only), or a negative LSM_E* code (detail in
 * sst_reader_last_error() on this thread). Releases every reader. */
int table_get_finish(table_get *g, uint64_t snapshot, lsm_buf *val);
/* After table_get_finish returned SST_WOULDBLOCK under TABLE_GET_CACHE_ONLY or TABLE_GET_NOWAIT:
 * the table whose data block (*off, *size) is missing, with a reference the caller must drop
 * (sst_reader_unref), or NULL when what is missing is the table itself (not open: opening it
 * reads the file). Otherwise NULL. A lookup that ends with a table named here must take it:
 * table_get_finish does not drop it. */
sst_reader *table_get_miss(table_get *g, uint64_t *off, uint64_t *size);
/* Releases the readers without probing (a memtable answered). */
void table_get_abort(table_get *g);
/* The blocks an iterator seek to key reads in v's tables: in every L0 file whose range ends at or
 * after key, and in the one file per level >= 1 that holds the first key >= key, the block the
 * seek lands in and the nblocks - 1 after it. cached_only = 1: 0 when they are all in memory
 * (tables open, blocks cached), else SST_WOULDBLOCK; 0: reads them into the caches (0 or a
 * negative code). Threads: as table_get. */
int table_seek_blocks(const version *v, table_cache *tc, const void *key, size_t klen, int nblocks,
                      int cached_only);
#endif
