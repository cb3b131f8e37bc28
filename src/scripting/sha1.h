/* sha1.h - SHA-1 (FIPS 180-4) for script digests: EVAL's script cache keys, SCRIPT LOAD's reply
 * and redis.sha1hex. Pure, any thread. Not for security: Redis uses SHA-1 as a content name. */
#ifndef KEVO_SHA1_H
#define KEVO_SHA1_H
#include <stddef.h>
#include <stdint.h>

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t len;          /* bytes hashed so far */
    unsigned char buf[64]; /* partial block */
    size_t buflen;
} sha1_ctx;

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *data, size_t len);
void sha1_final(sha1_ctx *c, unsigned char out[20]);
/* The 40 lowercase hex digits of SHA-1(data) and a NUL into out (41 bytes). */
void sha1_hex(char out[41], const void *data, size_t len);
#endif
