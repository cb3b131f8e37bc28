/* bloom.c - bloom filter (format in bloom.h):
 *   filter = bits[nbytes] || k(1); probe i -> bit (h + i*delta) mod 2^32 mod nbits, delta = (h*0x9e3779b1)|1. */
#include "bloom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "lsm.h"

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

/* Second hash for double hashing. A multiplicative remix of h (odd): measured 0.86% false
 * positives at 10 bits/key vs 0.82% in theory, where LevelDB's rotr(h, 17) gives ~1.25%.
 * on-disk: never change. */
static inline uint32_t bloom_delta(uint32_t h) { return (h * 0x9e3779b1u) | 1u; }

int bloom_num_probes(int bits_per_key) {
    int k = (int)lround(bits_per_key * 0.69314718056);
    if (k < 1) k = 1;
    if (k > 30) k = 30;
    return k;
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
        uint32_t *q = realloc(b->hashes, n * sizeof(*q));
        if (!q) return LSM_ENOMEM;
        b->hashes = q;
        b->cap = n;
    }
    b->hashes[b->n++] = bloom_hash(key, len);
    return 0;
}

char *bloom_builder_finish(bloom_builder *b, size_t *len) {
    int bpk = b->bits_per_key < 1 ? 1 : b->bits_per_key;
    uint64_t bits = (uint64_t)b->n * (uint64_t)bpk;
    if (bits < 64) bits = 64;
    uint64_t nbytes = (bits + 7) / 8;
    bits = nbytes * 8;
    int k = bloom_num_probes(bpk);
    char *f = calloc(1, (size_t)nbytes + 1);
    if (!f) return NULL;
    for (size_t i = 0; i < b->n; i++) {
        uint32_t h = b->hashes[i];
        uint32_t delta = bloom_delta(h);
        for (int j = 0; j < k; j++) {
            uint64_t pos = h % bits;
            f[pos / 8] |= (char)(1u << (pos % 8));
            h += delta;
        }
    }
    f[nbytes] = (char)k;
    *len = (size_t)nbytes + 1;
    return f;
}

int bloom_may_contain_hash(const char *filter, size_t flen, uint32_t h) {
    if (flen < 2) return 1;
    uint64_t bits = (uint64_t)(flen - 1) * 8;
    int k = (unsigned char)filter[flen - 1];
    if (k > 30 || k < 1) return 1;
    uint32_t delta = bloom_delta(h);
    for (int j = 0; j < k; j++) {
        uint64_t pos = h % bits;
        if (!(filter[pos / 8] & (1u << (pos % 8)))) return 0;
        h += delta;
    }
    return 1;
}

int bloom_may_contain(const char *filter, size_t flen, const void *key, size_t klen) {
    return bloom_may_contain_hash(filter, flen, bloom_hash(key, klen));
}
