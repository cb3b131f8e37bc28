/* dbformat.h - internal keys: user key || fixed64_le(sequence << 8 | kind).
 * Order: user key bytewise ascending, then sequence descending (newest first), then kind
 * descending. Header-only, pure, any thread. On-disk: never change the kinds or the layout. */
#ifndef KEVO_DBFORMAT_H
#define KEVO_DBFORMAT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "coding.h"

enum { KIND_DELETE = 0, KIND_VALUE = 1 };  /* on-disk: never change */
#define MAX_SEQUENCE ((((uint64_t)1) << 56) - 1)
#define IKEY_TRAILER 8

static inline uint64_t ikey_pack_trailer(uint64_t seq, int kind) { return (seq << 8) | (uint64_t)kind; }
/* Writes ukey||trailer into dst (needs ukl + 8 bytes); returns ukl + 8. */
static inline size_t ikey_encode(char *dst, const void *ukey, size_t ukl, uint64_t seq, int kind) {
    if (ukl) memcpy(dst, ukey, ukl);
    encode_fixed64(dst + ukl, ikey_pack_trailer(seq, kind));
    return ukl + IKEY_TRAILER;
}
static inline size_t ikey_user_len(size_t ikl) { return ikl - IKEY_TRAILER; }
static inline uint64_t ikey_trailer(const char *ik, size_t ikl) { return decode_fixed64(ik + ikl - 8); }
static inline uint64_t ikey_seq(const char *ik, size_t ikl) { return ikey_trailer(ik, ikl) >> 8; }
static inline int ikey_kind(const char *ik, size_t ikl) { return (int)(ikey_trailer(ik, ikl) & 0xff); }

/* Prefetch hint for the engine's hot paths (a no-op where the builtin is unavailable): starts
 * loading the cache line at p so its miss overlaps other work. Never faults, changes nothing. */
static inline void cpu_prefetch(const void *p) {
#if defined(__GNUC__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

/* memcmp's sign for n bytes, inline: keys are short (tens of bytes), so eight bytes at a time
 * (byte-swapped to compare as big-endian) beats a call into libc on the hot paths (skiplist
 * descents, block seeks). */
static inline int bytes_compare(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    while (n >= 8) {
        uint64_t u, v;
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);
        if (u != v) {
            u = __builtin_bswap64(u);
            v = __builtin_bswap64(v);
            return u < v ? -1 : 1;
        }
        x += 8;
        y += 8;
        n -= 8;
    }
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

static inline int ukey_compare(const void *a, size_t al, const void *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int r = bytes_compare(a, b, n);
    if (r) return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}
/* Total order on internal keys (both must be >= 8 bytes). */
static inline int ikey_compare(const char *a, size_t al, const char *b, size_t bl) {
    int r = ukey_compare(a, al - 8, b, bl - 8);
    if (r) return r;
    uint64_t ta = ikey_trailer(a, al), tb = ikey_trailer(b, bl);
    return ta > tb ? -1 : ta < tb ? 1 : 0;
}
/* The lookup key for "ukey as of snapshot seq": sorts before every entry of ukey with
 * sequence <= seq. */
static inline size_t ikey_lookup(char *dst, const void *ukey, size_t ukl, uint64_t seq) {
    return ikey_encode(dst, ukey, ukl, seq, KIND_VALUE);
}
#endif
