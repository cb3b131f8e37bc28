/* bloom.h - the per-table bloom filter over user keys (doc/sstable_format.md).
 *
 * Two layouts, told apart by the last byte of the filter:
 *
 *   cache-local (written since format 2 of the filter; last byte 0x80 | k, 1 <= k <= 30):
 *     filter = lines[nlines * 64 bytes] || (0x80 | k)
 *     h = key_hash64(key) (hash.h); line = ((h >> 32) * nlines) >> 32;
 *     h2 = h mod 2^32; probe i (0 <= i < k): bit (h2 >> 23) of the line, then
 *     h2 = h2 * 0x9e3779b9 mod 2^32; bit b of a line is byte b/8, mask 1 << (b%8).
 *     Every probe of a key falls in ONE 64-byte line: one cache miss per filter check.
 *   legacy (last byte k, 1 <= k <= 30): filter = bit array (nbytes) || k
 *     probe i of key: bit ((h + i * delta) mod 2^32) mod nbits, h = bloom_hash(key),
 *     delta = (h * 0x9e3779b1 mod 2^32) | 1. Read only: old tables keep working.
 * Any other last byte (0, 31..127, a cache-local byte whose lines are not whole) is reserved:
 * such a filter answers "may contain" for every key (so a reader that predates a layout stays
 * correct, only slower).
 * On-disk: never change the hashes, the probe sequences or the layouts.
 * Thread: a builder is single-thread; filters are read-only and shareable. */
#ifndef KEVO_BLOOM_H
#define KEVO_BLOOM_H
#include <stddef.h>
#include <stdint.h>

#define BLOOM_LINE_BYTES 64     /* on-disk: never change */
#define BLOOM_LOCAL_FLAG 0x80   /* last byte of a cache-local filter; on-disk: never change */

/* 32-bit hash of the legacy layout (murmur3-like, seed fixed). on-disk: never change. */
uint32_t bloom_hash(const void *key, size_t len);
/* Legacy layout's k for bits_per_key: round(bits * ln 2) clamped to 1..30. */
int bloom_num_probes(int bits_per_key);
/* Cache-local layout's k for bits_per_key: the model optimum for 512-bit lines (bloom.c); at
 * most the legacy rule's k (10 bits -> 7). 1..30. */
int bloom_local_num_probes(int bits_per_key);

typedef struct bloom_builder {
    uint64_t *hashes;
    size_t n, cap;
    int bits_per_key;
} bloom_builder;
void bloom_builder_init(bloom_builder *b, int bits_per_key);
void bloom_builder_free(bloom_builder *b);
/* Adds a key (the caller dedups consecutive equal user keys). 0 or LSM_ENOMEM. */
int bloom_builder_add(bloom_builder *b, const void *key, size_t len);
/* Returns a cache-local filter (malloc'ed, caller frees) for the keys added so far, *len its
 * size; NULL on allocation failure. The builder keeps its keys. */
char *bloom_builder_finish(bloom_builder *b, size_t *len);

/* 0 when key is certainly not in the set the filter was built from; 1 when it may be. Reads
 * either layout. The _hashed form takes h64 = key_hash64(key, klen), computed once by a caller
 * that probes several filters. For the one-miss property, filter should be 64-byte aligned. */
int bloom_may_contain(const char *filter, size_t flen, const void *key, size_t klen);
int bloom_may_contain_hashed(const char *filter, size_t flen, const void *key, size_t klen,
                             uint64_t h64);
/* Prefetch hint: starts loading the line a cache-local filter would probe for h64 (no-op for
 * the legacy layout). Lets a reader overlap the misses of several filters. */
void bloom_prefetch(const char *filter, size_t flen, uint64_t h64);
#endif
