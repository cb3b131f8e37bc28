/* bloom.h - the per-table bloom filter over user keys (doc/sstable_format.md).
 *
 *   filter = bit array (nbytes, nbits = nbytes * 8) || k (1 byte)
 *   probe i (0 <= i < k) of key: bit ((h + i * delta) mod 2^32) mod nbits, h = bloom_hash(key),
 *   delta = (h * 0x9e3779b1 mod 2^32) | 1; bit b is byte b/8, mask 1 << (b%8).
 * A k byte > 30 is reserved: such a filter answers "may contain" for every key.
 * On-disk: never change the hash, the probe sequence or the layout.
 * Thread: a builder is single-thread; filters are read-only and shareable. */
#ifndef KEVO_BLOOM_H
#define KEVO_BLOOM_H
#include <stddef.h>
#include <stdint.h>

/* 32-bit hash of key (murmur3-like, seed fixed). on-disk: never change. */
uint32_t bloom_hash(const void *key, size_t len);
/* k for bits_per_key: round(bits * ln 2) clamped to 1..30. */
int bloom_num_probes(int bits_per_key);

typedef struct bloom_builder {
    uint32_t *hashes;
    size_t n, cap;
    int bits_per_key;
} bloom_builder;
void bloom_builder_init(bloom_builder *b, int bits_per_key);
void bloom_builder_free(bloom_builder *b);
/* Adds a key (the caller dedups consecutive equal user keys). 0 or LSM_ENOMEM. */
int bloom_builder_add(bloom_builder *b, const void *key, size_t len);
/* Returns the filter (malloc'ed, caller frees) for the keys added so far, *len its size;
 * NULL on allocation failure. The builder keeps its keys. */
char *bloom_builder_finish(bloom_builder *b, size_t *len);

/* 0 when key is certainly not in the set the filter was built from; 1 when it may be. */
int bloom_may_contain(const char *filter, size_t flen, const void *key, size_t klen);
int bloom_may_contain_hash(const char *filter, size_t flen, uint32_t h);
#endif
