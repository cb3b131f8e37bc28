/* table_cache.h - bounds open SSTables (file descriptors): an LRU of sst_readers keyed by file
 * number. Thread-safe (mutex). Files are named <dir>/<number %06>.sst. */
#ifndef KEVO_TABLE_CACHE_H
#define KEVO_TABLE_CACHE_H
#include <stdint.h>
#include "cache.h"
#include "sst_reader.h"

typedef struct table_cache table_cache;
table_cache *table_cache_new(const char *dir, int max_open, block_cache *bc);
void table_cache_free(table_cache *tc);
/* Returns a referenced reader (caller must sst_reader_unref), opening it if needed.
 * 0 or LSM_E*. */
int table_cache_get(table_cache *tc, uint64_t file_number, sst_reader **out);
/* As table_cache_get for a reader already open; LSM_ENOTFOUND (and *out NULL) when the table
 * is not open: never opens a file (a caller that must not wait for the disk). */
int table_cache_peek(table_cache *tc, uint64_t file_number, sst_reader **out);
/* Forgets the reader of a deleted file (readers still referenced stay valid). */
void table_cache_evict(table_cache *tc, uint64_t file_number);
int table_cache_open_count(table_cache *tc);
/* Writes "<dir>/<number>.sst" into buf. */
void table_file_name(char *buf, size_t cap, const char *dir, uint64_t file_number);
#endif
