/* util.h - small pure helpers (any thread): Redis-exact number parsing/formatting and glob
 * matching. */
#ifndef KEVO_UTIL_H
#define KEVO_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* Strict: the whole string must be a canonical integer in range (no spaces, no '+', no leading
 * zeros), as Redis's string2ll. Returns 1 on success, 0 otherwise. */
int string2ll(const char *s, size_t len, long long *out);
/* As Redis's string2ld / strtold use for INCRBYFLOAT: 1 ok, 0 not a valid float (nan, spaces). */
int string2ld(const char *s, size_t len, long double *out);
/* Writes v in decimal (NUL-terminated); returns length. dst needs 21 bytes. */
int ll2string(char *dst, size_t cap, long long v);
/* Formats a long double as Redis does for INCRBYFLOAT (%.17Lf trimmed); returns length. */
int ld2string(char *dst, size_t cap, long double v);
/* Redis glob (stringmatchlen): * ? [abc] [^a] [a-z] \x ; nocase != 0 ignores case. Returns 1
 * on match. As Redis, an empty string matches only an empty pattern (not even "*"). */
int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* Fixed-width integers as the on-disk encodings store them: big-endian in keys (bytewise order is
 * numeric order), little-endian in values. */
static inline void put_be64(char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * (7 - i)));
}
static inline uint64_t get_be64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | (unsigned char)p[i];
    return v;
}
static inline void put_be32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * (3 - i)));
}
static inline void put_le64(char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
}
static inline uint64_t get_le64(const char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | (unsigned char)p[i];
    return v;
}
static inline void put_le32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}
static inline uint32_t get_le32(const char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | (unsigned char)p[i];
    return v;
}
#endif
