/* hash.h - the engine's 64-bit hash of a short byte string (user keys).
 *
 * Used by the memtable's hash index (in memory) and by the cache-local bloom filter of SSTables
 * (bloom.h, on disk): on-disk: never change the algorithm or its constants.
 * lsm_get hashes a key once and hands the value to every memtable and table it probes.
 * Algorithm: 8-byte lanes through a multiply-rotate round, the tail read as an overlapping
 * 8-byte (or 4+4 / 3-byte) load, then a murmur3-style finalizer. Not keyed.
 * Pure, any thread. */
#ifndef KEVO_HASH_H
#define KEVO_HASH_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KEY_HASH_P1 0x9e3779b97f4a7c15ull /* on-disk: never change */
#define KEY_HASH_P2 0xc2b2ae3d27d4eb4full /* on-disk: never change */
#define KEY_HASH_P3 0x165667b19e3779f9ull /* on-disk: never change */

static inline uint64_t key_hash_load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts only (x86-64, aarch64), as the rest of the engine */
}
static inline uint64_t key_hash_load32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t key_hash_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t key_hash64(const void *key, size_t len) {
    const unsigned char *p = key;
    uint64_t h = KEY_HASH_P3 ^ ((uint64_t)len * KEY_HASH_P1);
    if (len >= 8) {
        size_t n = len;
        while (n > 8) {
            h ^= key_hash_rotl(key_hash_load64(p) * KEY_HASH_P2, 31) * KEY_HASH_P1;
            h = key_hash_rotl(h, 27) * KEY_HASH_P1 + KEY_HASH_P3;
            p += 8;
            n -= 8;
        }
        /* last 8 bytes of the key (overlapping the previous lane when len % 8 != 0) */
        h ^= key_hash_rotl(key_hash_load64((const unsigned char *)key + len - 8) * KEY_HASH_P2,
                           31) * KEY_HASH_P1;
    } else if (len >= 4) {
        h ^= ((key_hash_load32(p) << 32) | key_hash_load32(p + len - 4)) * KEY_HASH_P1;
    } else if (len > 0) {
        h ^= (((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1]) * KEY_HASH_P1;
    }
    h ^= h >> 33;
    h *= KEY_HASH_P2;
    h ^= h >> 29;
    h *= KEY_HASH_P3;
    h ^= h >> 32;
    return h;
}
#endif
