/* bloom.c - bloom filters (layouts in bloom.h and doc/sstable_format.md). New filters are
 * cache-local (all probes of a key in one 64-byte line); legacy filters are still read. */
#include "bloom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "dbformat.h"
#include "hash.h"
#include "lsm.h"

/* ---- legacy layout (read only) ---- */

/* murmur3_x86_32 with a fixed seed; on-disk: never change. */
uint32_t bloom_hash(const void *key, size_t len) {
    const unsigned char *p = key;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = 0xbc9f1d34u;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k = decode_fixed32((const char *)p + i * 4);
        k *= c1;
        k = (k << 15) | (k >> 17);
        k *= c2;
        h ^= k;
        h = (h << 13) | (h >> 19);
        h = h * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = p + nblocks * 4;
    uint32_t k = 0;
    switch (len & 3) {
    case 3: k ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = (k << 15) | (k >> 17);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Second hash for double hashing (legacy). on-disk: never change. */
static inline uint32_t bloom_delta(uint32_t h) { return (h * 0x9e3779b1u) | 1u; }

int bloom_num_probes(int bits_per_key) {
    int k = (int)lround(bits_per_key * 0.69314718056);
    if (k < 1) k = 1;
    if (k > 30) k = 30;
    return k;
}

static int legacy_may_contain(const char *filter, size_t flen, uint32_t h, int k) {
    uint64_t bits = (uint64_t)(flen - 1) * 8;
    uint32_t delta = bloom_delta(h);
    for (int j = 0; j < k; j++) {
        uint64_t pos = h % bits;
        if (!(filter[pos / 8] & (1u << (pos % 8)))) return 0;
        h += delta;
    }
    return 1;
}

/* ---- cache-local layout ---- */

/* Probes per bits_per_key for a 512-bit line: the k that minimizes the false-positive rate of
 * a line holding Poisson(512 / bits) keys, FP(k) = sum_j P(j) (1 - (1 - 1/512)^(j k))^k (the
 * model tests/test_bloom.c checks the table against). Beyond the table, about 0.54 per bit. */
int bloom_local_num_probes(int bits_per_key) {
    static const signed char k_for_bits[] = {1, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 8,
                                             9, 9, 10, 10, 10, 11, 11, 12, 12, 12, 13};
    if (bits_per_key < 1) return 1;
    if (bits_per_key < (int)sizeof(k_for_bits)) return k_for_bits[bits_per_key];
    int k = (int)lround(bits_per_key * 0.54);
    return k > 30 ? 30 : k;
}

#define BLOOM_LINE_BITS (BLOOM_LINE_BYTES * 8)
#define BLOOM_REMIX 0x9e3779b9u /* on-disk: never change */

static inline uint32_t line_of(uint64_t h, uint64_t nlines) {
    return (uint32_t)(((h >> 32) * nlines) >> 32);
}

void bloom_builder_init(bloom_builder *b, int bits_per_key) {
    memset(b, 0, sizeof(*b));
    b->bits_per_key = bits_per_key;
}

void bloom_builder_free(bloom_builder *b) {
    free(b->hashes);
    memset(b, 0, sizeof(*b));
}

int bloom_builder_add(bloom_builder *b, const void *key, size_t len) {
    if (b->n == b->cap) {
        size_t n = b->cap ? b->cap * 2 : 1024;
        uint64_t *q = realloc(b->hashes, n * sizeof(*q));
        if (!q) return LSM_ENOMEM;
        b->hashes = q;
        b->cap = n;
    }
    b->hashes[b->n++] = key_hash64(key, len);
    return 0;
}

char *bloom_builder_finish(bloom_builder *b, size_t *len) {
    int bpk = b->bits_per_key < 1 ? 1 : b->bits_per_key;
    uint64_t bits = (uint64_t)b->n * (uint64_t)bpk;
    uint64_t nlines = (bits + BLOOM_LINE_BITS - 1) / BLOOM_LINE_BITS;
    if (nlines == 0) nlines = 1;
    if (nlines > UINT32_MAX) nlines = UINT32_MAX;
    int k = bloom_local_num_probes(bpk);
    size_t nbytes = (size_t)nlines * BLOOM_LINE_BYTES;
    char *f = calloc(1, nbytes + 1);
    if (!f) return NULL;
    for (size_t i = 0; i < b->n; i++) {
        uint64_t h = b->hashes[i];
        unsigned char *line = (unsigned char *)f + (size_t)line_of(h, nlines) * BLOOM_LINE_BYTES;
        uint32_t h2 = (uint32_t)h;
        for (int j = 0; j < k; j++) {
            uint32_t bit = h2 >> 23;
            line[bit >> 3] |= (unsigned char)(1u << (bit & 7));
            h2 *= BLOOM_REMIX;
        }
    }
    f[nbytes] = (char)(BLOOM_LOCAL_FLAG | k);
    *len = nbytes + 1;
    return f;
}

/* k of a cache-local filter, or 0 when the filter is not one. */
static inline int local_k(const char *filter, size_t flen) {
    unsigned last = (unsigned char)filter[flen - 1];
    if (!(last & BLOOM_LOCAL_FLAG)) return 0;
    int k = (int)(last & 0x7f);
    if (k < 1 || k > 30 || (flen - 1) % BLOOM_LINE_BYTES != 0 || flen - 1 == 0) return 0;
    return k;
}

int bloom_may_contain_hashed(const char *filter, size_t flen, const void *key, size_t klen,
                             uint64_t h64) {
    if (flen < 2) return 1;
    unsigned last = (unsigned char)filter[flen - 1];
    if (last >= 1 && last <= 30) return legacy_may_contain(filter, flen, bloom_hash(key, klen),
                                                           (int)last);
    int k = local_k(filter, flen);
    if (!k) return 1; /* reserved */
    uint64_t nlines = (flen - 1) / BLOOM_LINE_BYTES;
    const unsigned char *line =
        (const unsigned char *)filter + (size_t)line_of(h64, nlines) * BLOOM_LINE_BYTES;
    uint32_t h2 = (uint32_t)h64;
    for (int j = 0; j < k; j++) {
        uint32_t bit = h2 >> 23;
        if (!(line[bit >> 3] & (1u << (bit & 7)))) return 0;
        h2 *= BLOOM_REMIX;
    }
    return 1;
}

int bloom_may_contain(const char *filter, size_t flen, const void *key, size_t klen) {
    return bloom_may_contain_hashed(filter, flen, key, klen, key_hash64(key, klen));
}

void bloom_prefetch(const char *filter, size_t flen, uint64_t h64) {
    if (flen < 2 || !local_k(filter, flen)) return;
    uint64_t nlines = (flen - 1) / BLOOM_LINE_BYTES;
    cpu_prefetch(filter + (size_t)line_of(h64, nlines) * BLOOM_LINE_BYTES);
}
