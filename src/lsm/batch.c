/* batch.c - write batches and their WAL payload (batch.h, doc/wal_format.md).
 *
 * Payload (on-disk: never change):
 *   first_sequence fixed64 || op_count fixed32 || ops... || counter_count varint || counters...
 *   op      = kind(1) || varint klen || key || (kind == VALUE: varint vlen || value)
 *   counter = varint idx || varint zigzag(delta)
 *
 * In memory the buffer holds the 12-byte header and the ops; counter deltas live in an array
 * (merged per idx) and are encoded after the ops when batch_data() is called. The buffer always
 * keeps room for the largest counter section, so batch_data never allocates. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "dbformat.h"

#define BATCH_HEADER 12
/* counter_count varint (<= 2 bytes) + LSM_MAX_COUNTERS * (idx varint 1 + delta varint 10) */
#define BATCH_COUNTER_ROOM (2 + LSM_MAX_COUNTERS * 11)
#define BATCH_INITIAL (256 + BATCH_COUNTER_ROOM)
#define BATCH_KEEP (1u << 20) /* lsm_batch_clear shrinks a larger buffer */

struct lsm_batch {
    char *buf;
    size_t len;         /* header + ops */
    size_t cap;         /* always >= len + BATCH_COUNTER_ROOM */
    uint64_t seq;
    uint32_t count;
    uint64_t user_bytes;
    uint64_t counter_mask; /* bit i: counters[i] was touched */
    int64_t counters[LSM_MAX_COUNTERS];
};

static inline uint64_t zigzag_enc(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t zigzag_dec(uint64_t u) { return (int64_t)((u >> 1) ^ (~(u & 1) + 1)); }

lsm_batch *lsm_batch_new(void) {
    lsm_batch *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    b->cap = BATCH_INITIAL;
    b->buf = malloc(b->cap);
    if (!b->buf) {
        free(b);
        return NULL;
    }
    memset(b->buf, 0, BATCH_HEADER);
    b->len = BATCH_HEADER;
    return b;
}

void lsm_batch_free(lsm_batch *b) {
    if (!b) return;
    free(b->buf);
    free(b);
}

static void batch_clear_counters(lsm_batch *b) {
    for (int i = 0; i < LSM_MAX_COUNTERS && (b->counter_mask >> i); i++) b->counters[i] = 0;
    b->counter_mask = 0;
}

void lsm_batch_clear(lsm_batch *b) {
    if (b->cap > BATCH_KEEP) { /* do not pin the memory of one huge batch forever */
        char *nb = realloc(b->buf, BATCH_INITIAL);
        if (nb) {
            b->buf = nb;
            b->cap = BATCH_INITIAL;
        }
    }
    b->len = BATCH_HEADER;
    b->seq = 0;
    b->count = 0;
    b->user_bytes = 0;
    batch_clear_counters(b);
}

static int batch_reserve(lsm_batch *b, size_t extra) {
    if (extra <= b->cap - b->len - BATCH_COUNTER_ROOM) return 0;
    if (extra > SIZE_MAX / 4 - b->len - BATCH_COUNTER_ROOM) return LSM_ENOMEM;
    size_t need = b->len + extra + BATCH_COUNTER_ROOM;
    size_t cap = b->cap * 2;
    if (cap < need) cap = need;
    char *nb = realloc(b->buf, cap);
    if (!nb) return LSM_ENOMEM;
    b->buf = nb;
    b->cap = cap;
    return 0;
}

static int batch_add(lsm_batch *b, int kind, const void *key, size_t klen, const void *val,
                     size_t vlen) {
    if (klen > UINT32_MAX - IKEY_TRAILER || vlen > UINT32_MAX || b->count == UINT32_MAX)
        return LSM_EINVAL;
    if (!key && klen) return LSM_EINVAL;
    if (!val && vlen) return LSM_EINVAL;
    if (batch_reserve(b, 1 + 10 + klen + 10 + vlen) != 0) return LSM_ENOMEM;
    char *p = b->buf + b->len;
    *p++ = (char)kind;
    p += encode_varint64(p, klen);
    if (klen) memcpy(p, key, klen);
    p += klen;
    if (kind == KIND_VALUE) {
        p += encode_varint64(p, vlen);
        if (vlen) memcpy(p, val, vlen);
        p += vlen;
    }
    b->len = (size_t)(p - b->buf);
    b->count++;
    b->user_bytes += klen + vlen;
    return 0;
}

int lsm_batch_put(lsm_batch *b, const void *key, size_t klen, const void *val, size_t vlen) {
    return batch_add(b, KIND_VALUE, key, klen, val, vlen);
}

int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen) {
    return batch_add(b, KIND_DELETE, key, klen, NULL, 0);
}

int lsm_batch_counter_add(lsm_batch *b, int idx, int64_t delta) {
    if (idx < 0 || idx >= LSM_MAX_COUNTERS) return LSM_EINVAL;
    /* Wrapping add (two's complement), no signed-overflow UB. */
    b->counters[idx] = (int64_t)((uint64_t)b->counters[idx] + (uint64_t)delta);
    b->counter_mask |= (uint64_t)1 << idx;
    return 0;
}

size_t lsm_batch_count(const lsm_batch *b) { return b->count; }

void batch_set_sequence(lsm_batch *b, uint64_t first_seq) { b->seq = first_seq; }
uint64_t batch_sequence(const lsm_batch *b) { return b->seq; }
uint64_t batch_user_bytes(const lsm_batch *b) { return b->user_bytes; }

/* Encodes header and counters in place (the room after len is reserved). Counters whose merged
 * delta is 0 are omitted: they change nothing. */
const char *batch_data(const lsm_batch *b, size_t *len) {
    char *buf = b->buf;
    encode_fixed64(buf, b->seq);
    encode_fixed32(buf + 8, b->count);
    char *p = buf + b->len;
    uint64_t n = 0;
    /* only the counters touched (counter_mask): a batch per command must not pay for all 64 */
    for (uint64_t m = b->counter_mask; m; m &= m - 1) n += b->counters[__builtin_ctzll(m)] != 0;
    p += encode_varint64(p, n);
    for (uint64_t m = n ? b->counter_mask : 0; m; m &= m - 1) {
        int i = __builtin_ctzll(m);
        if (b->counters[i] == 0) continue;
        p += encode_varint64(p, (uint64_t)i);
        p += encode_varint64(p, zigzag_enc(b->counters[i]));
    }
    *len = (size_t)(p - buf);
    return buf;
}

/* Parses one op at p (bounded by limit). Returns the pointer past it or NULL if malformed. */
static const char *parse_op(const char *p, const char *limit, int *kind, const char **key,
                            size_t *klen, const char **val, size_t *vlen) {
    if (p >= limit) return NULL;
    int k = (unsigned char)*p++;
    if (k != KIND_VALUE && k != KIND_DELETE) return NULL;
    uint64_t kl, vl = 0;
    p = decode_varint64(p, limit, &kl);
    if (!p || kl > (uint64_t)(limit - p) || kl > UINT32_MAX - IKEY_TRAILER) return NULL;
    const char *kp = p;
    p += kl;
    const char *vp = p;
    if (k == KIND_VALUE) {
        p = decode_varint64(p, limit, &vl);
        if (!p || vl > (uint64_t)(limit - p) || vl > UINT32_MAX) return NULL;
        vp = p;
        p += vl;
    }
    *kind = k;
    *key = kp;
    *klen = (size_t)kl;
    *val = vp;
    *vlen = (size_t)vl;
    return p;
}

int batch_set_data(lsm_batch *b, const char *data, size_t len) {
    if (!data || len < BATCH_HEADER) return LSM_ECORRUPT;
    const char *limit = data + len;
    uint32_t count = decode_fixed32(data + 8);
    const char *p = data + BATCH_HEADER;
    uint64_t ubytes = 0;
    for (uint32_t i = 0; i < count; i++) {
        int kind;
        const char *k, *v;
        size_t kl, vl;
        p = parse_op(p, limit, &kind, &k, &kl, &v, &vl);
        if (!p) return LSM_ECORRUPT;
        ubytes += kl + vl;
    }
    const char *ops_end = p;
    uint64_t ncounters;
    p = decode_varint64(p, limit, &ncounters);
    if (!p || ncounters > (uint64_t)(limit - p) / 2) return LSM_ECORRUPT;
    int64_t deltas[LSM_MAX_COUNTERS] = {0};
    uint64_t mask = 0;
    for (uint64_t i = 0; i < ncounters; i++) {
        uint64_t idx, z;
        p = decode_varint64(p, limit, &idx);
        if (!p || idx >= LSM_MAX_COUNTERS) return LSM_ECORRUPT;
        p = decode_varint64(p, limit, &z);
        if (!p) return LSM_ECORRUPT;
        deltas[idx] = (int64_t)((uint64_t)deltas[idx] + (uint64_t)zigzag_dec(z));
        mask |= (uint64_t)1 << idx;
    }
    if (p != limit) return LSM_ECORRUPT; /* trailing garbage */

    /* Valid: replace the contents. */
    size_t oplen = (size_t)(ops_end - data);
    if (oplen + BATCH_COUNTER_ROOM > b->cap) {
        char *nb = realloc(b->buf, oplen + BATCH_COUNTER_ROOM);
        if (!nb) return LSM_ENOMEM;
        b->buf = nb;
        b->cap = oplen + BATCH_COUNTER_ROOM;
    }
    memcpy(b->buf, data, oplen);
    b->len = oplen;
    b->seq = decode_fixed64(data);
    b->count = count;
    b->user_bytes = ubytes;
    batch_clear_counters(b);
    for (int i = 0; i < LSM_MAX_COUNTERS; i++)
        if (mask & ((uint64_t)1 << i)) b->counters[i] = deltas[i];
    b->counter_mask = mask;
    return 0;
}

int batch_iterate(const lsm_batch *b, batch_op_fn op, batch_counter_fn counter, void *ctx) {
    const char *p = b->buf + BATCH_HEADER;
    const char *limit = b->buf + b->len;
    for (uint32_t i = 0; i < b->count; i++) {
        int kind;
        const char *k, *v;
        size_t kl, vl;
        p = parse_op(p, limit, &kind, &k, &kl, &v, &vl);
        if (!p) return LSM_ECORRUPT;
        if (op) {
            int rc = op(ctx, b->seq + i, kind, k, kl, v, vl);
            if (rc) return rc;
        }
    }
    if (counter) {
        for (int i = 0; i < LSM_MAX_COUNTERS && (b->counter_mask >> i); i++)
            if (b->counters[i] != 0) counter(ctx, i, b->counters[i]);
    }
    return 0;
}
