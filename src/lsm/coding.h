/* coding.h - fixed-width little-endian and varint encoding (LevelDB compatible layout).
 * Header-only, pure functions, any thread. On-disk: never change. */
#ifndef KEVO_CODING_H
#define KEVO_CODING_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void encode_fixed32(char *p, uint32_t v) {
    p[0] = (char)v; p[1] = (char)(v >> 8); p[2] = (char)(v >> 16); p[3] = (char)(v >> 24);
}
static inline void encode_fixed64(char *p, uint64_t v) {
    encode_fixed32(p, (uint32_t)v); encode_fixed32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t decode_fixed32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | ((uint32_t)u[1] << 8) | ((uint32_t)u[2] << 16) | ((uint32_t)u[3] << 24);
}
static inline uint64_t decode_fixed64(const char *p) {
    return (uint64_t)decode_fixed32(p) | ((uint64_t)decode_fixed32(p + 4) << 32);
}
/* Big-endian, for keys that must sort by number (e.g. the expire index). */
static inline void encode_fixed64_be(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) { p[i] = (char)(v & 0xff); v >>= 8; }
}
static inline uint64_t decode_fixed64_be(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (unsigned char)p[i];
    return v;
}

/* Writes v as a varint at p (needs up to 10 bytes); returns bytes written. */
static inline size_t encode_varint64(char *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) { p[n++] = (char)(v | 0x80); v >>= 7; }
    p[n++] = (char)v;
    return n;
}
static inline size_t encode_varint32(char *p, uint32_t v) { return encode_varint64(p, v); }
static inline size_t varint_length(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}
/* Decodes a varint from [p, limit). Returns pointer past it, or NULL if truncated/overlong. */
static inline const char *decode_varint64(const char *p, const char *limit, uint64_t *out) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t b = (unsigned char)*p++;
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = r; return p; }
    }
    return NULL;
}
static inline const char *decode_varint32(const char *p, const char *limit, uint32_t *out) {
    uint64_t v;
    const char *q = decode_varint64(p, limit, &v);
    if (!q || v > 0xffffffffu) return NULL;
    *out = (uint32_t)v;
    return q;
}
#endif
