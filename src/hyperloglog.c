/* hyperloglog.c - Redis's HyperLogLog representation and algorithms (see hyperloglog.h for the
 * format). Written for Kevo after Redis 7.0's src/hyperloglog.c: the update steps (where a
 * sparse opcode is split, which neighbours are merged, when the value turns dense) and the
 * estimator are the same as Redis's, because the bytes they produce are visible (GET of the key)
 * and must be identical. */
#include "hyperloglog.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sparse opcodes (on-disk: never change) ------------------------------------------------ */

#define OP_XZERO_BIT 0x40
#define OP_VAL_BIT 0x80
#define ZERO_MAX_LEN 64
#define XZERO_MAX_LEN 16384
#define VAL_MAX_LEN 4

static inline int op_is_zero(uint8_t b) { return (b & 0xc0) == 0; }
static inline int op_is_xzero(uint8_t b) { return (b & 0xc0) == OP_XZERO_BIT; }
static inline int op_is_val(uint8_t b) { return (b & OP_VAL_BIT) != 0; }
static inline long op_zero_len(uint8_t b) { return (long)(b & 0x3f) + 1; }
static inline long op_xzero_len(uint8_t b0, uint8_t b1) { return ((long)(b0 & 0x3f) << 8 | b1) + 1; }
static inline int op_val_value(uint8_t b) { return ((b >> 2) & 0x1f) + 1; }
static inline long op_val_len(uint8_t b) { return (long)(b & 0x3) + 1; }
static inline uint8_t op_val(int value, long len) {
    return (uint8_t)(OP_VAL_BIT | (unsigned)(value - 1) << 2 | (unsigned)(len - 1));
}
static inline uint8_t op_zero(long len) { return (uint8_t)(len - 1); }
static inline void op_xzero(uint8_t *p, long len) {
    long l = len - 1;
    p[0] = (uint8_t)((l >> 8) | OP_XZERO_BIT);
    p[1] = (uint8_t)(l & 0xff);
}
/* Second byte of the XZERO at p in a read-only value ending at end: an XZERO cut off by the end
 * of the value reads the string's terminator, 0, as it does in Redis. */
static inline uint8_t op_xzero_b1(const uint8_t *p, const uint8_t *end) {
    return p + 1 < end ? p[1] : 0;
}

/* ---- buffer -------------------------------------------------------------------------------- */

void hll_free(hll *h) {
    free(h->p);
    h->p = NULL;
    h->len = h->cap = 0;
}

/* cap >= len + extra + 1 (the terminator); new bytes are zero. */
static int hll_reserve(hll *h, size_t extra) {
    size_t need = h->len + extra + 1;
    if (h->cap >= need) return 0;
    size_t ncap = h->cap * 2 > need ? h->cap * 2 : need;
    if (ncap < 64) ncap = 64;
    uint8_t *np = realloc(h->p, ncap);
    if (!np) return HLL_NOMEM;
    memset(np + h->cap, 0, ncap - h->cap);
    h->p = np;
    h->cap = ncap;
    return 0;
}

/* Redis's sdsIncrLen: the length moves and the terminator follows it. */
static void hll_incr_len(hll *h, long delta) {
    h->len = (size_t)((long)h->len + delta);
    h->p[h->len] = 0;
}

int hll_set_empty(hll *h) {
    size_t len = HLL_HDR_SIZE + ((HLL_REGISTERS + XZERO_MAX_LEN - 1) / XZERO_MAX_LEN) * 2;
    h->len = 0;
    if (hll_reserve(h, len)) return HLL_NOMEM;
    memset(h->p, 0, len + 1);
    memcpy(h->p, "HYLL", 4);
    h->p[4] = HLL_SPARSE;
    uint8_t *p = h->p + HLL_HDR_SIZE;
    for (long left = HLL_REGISTERS; left > 0;) {
        long n = left < XZERO_MAX_LEN ? left : XZERO_MAX_LEN;
        op_xzero(p, n);
        p += 2;
        left -= n;
    }
    h->len = len;
    return 0;
}

int hll_set_copy(hll *h, const void *v, size_t len) {
    h->len = 0;
    if (hll_reserve(h, len)) return HLL_NOMEM;
    if (len) memcpy(h->p, v, len);
    h->len = len;
    h->p[len] = 0;
    return 0;
}

/* ---- header -------------------------------------------------------------------------------- */

int hll_is_valid(const void *v, size_t len) {
    const uint8_t *p = v;
    if (len < HLL_HDR_SIZE) return 0;
    if (memcmp(p, "HYLL", 4) != 0) return 0;
    if (p[4] > HLL_SPARSE) return 0;
    if (p[4] == HLL_DENSE && len != HLL_DENSE_SIZE) return 0;
    return 1;
}

int hll_encoding(const void *v) { return ((const uint8_t *)v)[4]; }

int hll_cache_get(const void *v, uint64_t *card) {
    const uint8_t *c = (const uint8_t *)v + 8;
    if (c[7] & 0x80) return 0;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | c[i];
    *card = x;
    return 1;
}

void hll_cache_set(void *v, uint64_t card) {
    uint8_t *c = (uint8_t *)v + 8;
    for (int i = 0; i < 8; i++) c[i] = (uint8_t)(card >> (8 * i));
}

void hll_cache_invalidate(void *v) { ((uint8_t *)v)[15] |= 0x80; }

/* ---- hashing ------------------------------------------------------------------------------- */

uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *data = key;
    uint64_t h = (uint64_t)seed ^ ((uint64_t)len * m);
    size_t blocks = len / 8;
    for (size_t b = 0; b < blocks; b++, data += 8) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--) k = k << 8 | data[i]; /* little-endian on every host */
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t rem = len & 7;
    if (rem) {
        for (size_t i = 0; i < rem; i++) h ^= (uint64_t)data[i] << (8 * i);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int hll_pattern(const void *ele, size_t len, long *reg) {
    uint64_t hash = hll_murmur64a(ele, len, HLL_SEED);
    *reg = (long)(hash & (HLL_REGISTERS - 1));
    hash >>= HLL_P;
    hash |= (uint64_t)1 << HLL_Q; /* the run ends at bit Q at the latest: count <= Q + 1 */
    int count = 1;
    while (!(hash & 1)) {
        count++;
        hash >>= 1;
    }
    return count;
}

/* ---- dense --------------------------------------------------------------------------------- */

uint8_t hll_dense_get(const uint8_t *regs, long i) {
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)((size_t)i * HLL_BITS & 7);
    unsigned v = regs[byte] >> fb;
    if (fb > 8 - HLL_BITS) v |= (unsigned)regs[byte + 1] << (8 - fb);
    return (uint8_t)(v & HLL_REGISTER_MAX);
}

void hll_dense_set(uint8_t *regs, long i, uint8_t val) {
    size_t byte = (size_t)i * HLL_BITS / 8;
    unsigned fb = (unsigned)((size_t)i * HLL_BITS & 7);
    unsigned v = val & HLL_REGISTER_MAX;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REGISTER_MAX << fb)) | v << fb);
    if (fb > 8 - HLL_BITS)
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REGISTER_MAX >> (8 - fb))) | v >> (8 - fb));
}

static int dense_set_if_greater(uint8_t *regs, long i, uint8_t count) {
    if (count <= hll_dense_get(regs, i)) return 0;
    hll_dense_set(regs, i, count);
    return 1;
}

/* ---- sparse -------------------------------------------------------------------------------- */

int hll_to_dense(hll *h) {
    if (h->p[4] == HLL_DENSE) return 0;
    size_t cap = HLL_DENSE_SIZE + 4;
    uint8_t *d = calloc(1, cap);
    if (!d) return HLL_NOMEM;
    memcpy(d, h->p, HLL_HDR_SIZE); /* magic, the 3 bytes and the cached cardinality */
    d[4] = HLL_DENSE;
    uint8_t *regs = d + HLL_HDR_SIZE;
    const uint8_t *p = h->p + HLL_HDR_SIZE, *end = h->p + h->len;
    long idx = 0;
    int valid = 1;
    while (p < end) {
        long run = op_is_zero(*p) ? op_zero_len(*p)
                   : op_is_xzero(*p) ? op_xzero_len(p[0], p[1]) /* p[1] may be the terminator */
                   : op_val_len(*p);
        if (run + idx > HLL_REGISTERS) {
            valid = 0;
            break;
        }
        if (op_is_val(*p)) {
            uint8_t val = (uint8_t)op_val_value(*p);
            while (run--) hll_dense_set(regs, idx++, val);
        } else {
            idx += run;
        }
        p += op_is_xzero(*p) ? 2 : 1;
    }
    if (!valid || idx != HLL_REGISTERS) {
        free(d);
        return HLL_CORRUPT;
    }
    free(h->p);
    h->p = d;
    h->len = HLL_DENSE_SIZE;
    h->cap = cap;
    return 0;
}

/* Raises register index of the sparse value h to count. Redis's hllSparseSet, step by step:
 * find the opcode covering the register; update it in place when it is a VAL or a ZERO of one
 * register; otherwise replace it by up to three opcodes (zeros or the old value before, the new
 * VAL, zeros or the old value after); then merge equal adjacent VALs among the next few opcodes.
 * Turns dense when count > 32 or when the value would grow beyond sparse_max. */
static int sparse_set(hll *h, long index, uint8_t count, size_t sparse_max) {
    if (count > HLL_SPARSE_VAL_MAX_VALUE) goto promote;
    /* the worst case (an XZERO split into XZERO VAL XZERO) grows the value by 3 bytes */
    if (hll_reserve(h, 3)) return HLL_NOMEM;

    uint8_t *sparse = h->p + HLL_HDR_SIZE, *p = sparse, *end = h->p + h->len;
    uint8_t *prev = NULL, *next;
    long first = 0, span = 0;
    while (p < end) {
        long oplen = 1;
        if (op_is_zero(*p)) {
            span = op_zero_len(*p);
        } else if (op_is_val(*p)) {
            span = op_val_len(*p);
        } else {
            span = op_xzero_len(p[0], p[1]);
            oplen = 2;
        }
        if (index <= first + span - 1) break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end) return HLL_CORRUPT;

    next = op_is_xzero(*p) ? p + 2 : p + 1;
    if (next >= end) next = NULL;
    int is_zero = 0, is_xzero = 0, is_val = 0;
    if (op_is_zero(*p)) is_zero = 1;
    else if (op_is_xzero(*p)) is_xzero = 1;
    else is_val = 1;
    long runlen = is_zero ? op_zero_len(*p) : is_xzero ? op_xzero_len(p[0], p[1]) : op_val_len(*p);

    if (is_val) {
        if (op_val_value(*p) >= count) return 0;
        if (runlen == 1) {
            *p = op_val(count, 1);
            goto updated;
        }
    }
    if (is_zero && runlen == 1) {
        *p = op_val(count, 1);
        goto updated;
    }

    /* general case: split the opcode */
    uint8_t seq[5], *n = seq;
    long last = first + span - 1;
    if (is_zero || is_xzero) {
        if (index != first) {
            long len = index - first;
            if (len > ZERO_MAX_LEN) {
                op_xzero(n, len);
                n += 2;
            } else {
                *n++ = op_zero(len);
            }
        }
        *n++ = op_val(count, 1);
        if (index != last) {
            long len = last - index;
            if (len > ZERO_MAX_LEN) {
                op_xzero(n, len);
                n += 2;
            } else {
                *n++ = op_zero(len);
            }
        }
    } else {
        int curval = op_val_value(*p);
        if (index != first) *n++ = op_val(curval, index - first);
        *n++ = op_val(count, 1);
        if (index != last) *n++ = op_val(curval, last - index);
    }
    long seqlen = n - seq;
    long oldlen = is_xzero ? 2 : 1;
    long delta = seqlen - oldlen;
    if (delta > 0 && h->len + (size_t)delta > sparse_max) goto promote;
    if (delta && next) memmove(next + delta, next, (size_t)(end - next));
    hll_incr_len(h, delta);
    /* after the length moved, as Redis: for an XZERO cut off by the end of the value this may
     * write past the new length (into the reserved room) */
    memcpy(p, seq, (size_t)seqlen);
    end += delta;

updated:
    /* merge adjacent VALs of the same value, scanning up to 5 opcodes from the previous one */
    p = prev ? prev : sparse;
    int scan = 5;
    while (p < end && scan--) {
        if (op_is_xzero(*p)) {
            p += 2;
            continue;
        }
        if (op_is_zero(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && op_is_val(p[1])) {
            int v1 = op_val_value(p[0]), v2 = op_val_value(p[1]);
            if (v1 == v2) {
                long len = op_val_len(p[0]) + op_val_len(p[1]);
                if (len <= VAL_MAX_LEN) {
                    p[1] = op_val(v1, len);
                    memmove(p, p + 1, (size_t)(end - p)); /* end[0], the terminator, included */
                    hll_incr_len(h, -1);
                    end--;
                    continue; /* try the merged one with the next */
                }
            }
        }
        p++;
    }
    hll_cache_invalidate(h->p);
    return 1;

promote: {
    int r = hll_to_dense(h);
    if (r) return r;
    /* the register was below count (a sparse register holds at most 32): this raises it */
    dense_set_if_greater(h->p + HLL_HDR_SIZE, index, count);
    return 1;
}
}

int hll_set_register(hll *h, long index, uint8_t count, size_t sparse_max) {
    if (h->p[4] == HLL_DENSE) return dense_set_if_greater(h->p + HLL_HDR_SIZE, index, count);
    if (h->p[4] == HLL_SPARSE) return sparse_set(h, index, count, sparse_max);
    return HLL_CORRUPT;
}

int hll_add(hll *h, const void *ele, size_t len, size_t sparse_max) {
    long index;
    int count = hll_pattern(ele, len, &index);
    return hll_set_register(h, index, (uint8_t)count, sparse_max);
}

/* ---- estimator (Ertl, "New cardinality estimation algorithms for HyperLogLog sketches",
 *      arXiv:1702.01284, as Redis 7.0 computes it) -------------------------------------------- */

#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

static double hll_sigma(double x) {
    if (!(x < 1.)) return INFINITY; /* Redis: x == 1 -> inf; x > 1 diverges to inf too */
    double zp, y = 1, z = x;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (zp != z);
    return z;
}

static double hll_tau(double x) {
    if (!(x > 0. && x < 1.)) return 0.; /* Redis: 0 and 1; nothing else reaches here */
    double zp, y = 1.0, z = 1 - x;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (zp != z);
    return z / 3;
}

static uint64_t hll_estimate(const long long histo[64]) {
    double m = HLL_REGISTERS;
    double z = m * hll_tau((m - (double)histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; --j) {
        z += (double)histo[j];
        z *= 0.5;
    }
    z += m * hll_sigma((double)histo[0] / m);
    double e = HLL_ALPHA_INF * m * m / z;
    /* Redis: (uint64_t)(double)llroundl(e). An estimate past 2^63 (z == 0: every register
     * above 51 in a forged dense value) makes llroundl answer LLONG_MIN on x86-64 glibc */
    long long ll = (e >= -9223372036854775808.0 && e < 9223372036854775808.0) ? llround(e) : LLONG_MIN;
    return (uint64_t)ll;
}

uint64_t hll_count(const void *v, size_t len, int *invalid) {
    long long histo[64] = {0};
    const uint8_t *p = v;
    if (p[4] == HLL_DENSE) {
        const uint8_t *regs = p + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i++) histo[hll_dense_get(regs, i)]++;
    } else {
        const uint8_t *end = p + len;
        long idx = 0;
        int valid = 1;
        p += HLL_HDR_SIZE;
        while (p < end) {
            long run = op_is_zero(*p) ? op_zero_len(*p)
                       : op_is_xzero(*p) ? op_xzero_len(p[0], op_xzero_b1(p, end))
                       : op_val_len(*p);
            if (run + idx > HLL_REGISTERS) {
                valid = 0;
                break;
            }
            idx += run;
            histo[op_is_val(*p) ? op_val_value(*p) : 0] += run;
            p += op_is_xzero(*p) ? 2 : 1;
        }
        if ((!valid || idx != HLL_REGISTERS) && invalid) *invalid = 1;
    }
    return hll_estimate(histo);
}

uint64_t hll_count_raw(const uint8_t regs[HLL_REGISTERS]) {
    long long histo[64] = {0};
    for (long i = 0; i < HLL_REGISTERS; i++) histo[regs[i] & 63]++;
    return hll_estimate(histo);
}

int hll_merge(uint8_t max[HLL_REGISTERS], const void *v, size_t len) {
    const uint8_t *p = v;
    if (p[4] == HLL_DENSE) {
        const uint8_t *regs = p + HLL_HDR_SIZE;
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t val = hll_dense_get(regs, i);
            if (val > max[i]) max[i] = val;
        }
        return 0;
    }
    const uint8_t *end = p + len;
    long idx = 0;
    p += HLL_HDR_SIZE;
    while (p < end) {
        long run = op_is_zero(*p) ? op_zero_len(*p)
                   : op_is_xzero(*p) ? op_xzero_len(p[0], op_xzero_b1(p, end))
                   : op_val_len(*p);
        if (run + idx > HLL_REGISTERS) return HLL_CORRUPT;
        if (op_is_val(*p)) {
            uint8_t val = (uint8_t)op_val_value(*p);
            while (run--) {
                if (val > max[idx]) max[idx] = val;
                idx++;
            }
        } else {
            idx += run;
        }
        p += op_is_xzero(*p) ? 2 : 1;
    }
    return idx == HLL_REGISTERS ? 0 : HLL_CORRUPT;
}

/* ---- debugging ----------------------------------------------------------------------------- */

char *hll_sparse_decode(const void *v, size_t len, size_t *outlen) {
    const uint8_t *p = (const uint8_t *)v + HLL_HDR_SIZE, *end = (const uint8_t *)v + len;
    size_t cap = (size_t)(end - p) * 8 + 1; /* at most "Z:16384 " per opcode byte */
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
    while (p < end) {
        if (op_is_zero(*p)) {
            n += (size_t)snprintf(out + n, cap - n, "z:%ld ", op_zero_len(*p));
            p++;
        } else if (op_is_xzero(*p)) {
            n += (size_t)snprintf(out + n, cap - n, "Z:%ld ", op_xzero_len(p[0], op_xzero_b1(p, end)));
            p += 2;
        } else {
            n += (size_t)snprintf(out + n, cap - n, "v:%d,%ld ", op_val_value(*p), op_val_len(*p));
            p++;
        }
    }
    while (n > 0 && out[n - 1] == ' ') n--; /* Redis trims the spaces at both ends */
    out[n] = 0;
    *outlen = n;
    return out;
}

#define SELFTEST_CYCLES 1000

int hll_selftest(size_t sparse_max, char *err, size_t errlen) {
    uint8_t *dense = calloc(1, HLL_DENSE_SIZE + 1); /* encoding 0: dense */
    uint8_t *bytes = malloc(HLL_REGISTERS);
    hll o = {0};
    int rc = -1;
    if (!dense || !bytes || hll_set_empty(&o)) {
        snprintf(err, errlen, "TESTFAILED out of memory");
        goto done;
    }
    uint8_t *regs = dense + HLL_HDR_SIZE;

    /* 1: registers keep what was stored and do not disturb their neighbours */
    for (int j = 0; j < SELFTEST_CYCLES; j++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t r = (uint8_t)(rand() & HLL_REGISTER_MAX);
            bytes[i] = r;
            hll_dense_set(regs, i, r);
        }
        for (long i = 0; i < HLL_REGISTERS; i++) {
            uint8_t val = hll_dense_get(regs, i);
            if (val != bytes[i]) {
                snprintf(err, errlen, "TESTFAILED Register %ld should be %d but is %d", i, bytes[i], val);
                goto done;
            }
        }
    }

    /* 2: the estimate stays within 6 standard errors; dense and sparse agree */
    memset(regs, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    double relerr = 1.04 / sqrt(HLL_REGISTERS);
    int64_t checkpoint = 1;
    uint64_t seed = (uint64_t)rand() | (uint64_t)rand() << 32;
    for (int64_t j = 1; j <= 10000000; j++) {
        uint64_t ele = (uint64_t)j ^ seed;
        long index;
        int count = hll_pattern(&ele, sizeof ele, &index);
        dense_set_if_greater(regs, index, (uint8_t)count);
        if (hll_set_register(&o, index, (uint8_t)count, sparse_max) == HLL_NOMEM) {
            snprintf(err, errlen, "TESTFAILED out of memory");
            goto done;
        }
        if (j != checkpoint) continue;
        if ((uint64_t)j < sparse_max / 2 && o.p[4] != HLL_SPARSE) {
            snprintf(err, errlen, "TESTFAILED sparse encoding not used");
            goto done;
        }
        uint64_t cd = hll_count(dense, HLL_DENSE_SIZE, NULL);
        if (cd != hll_count(o.p, o.len, NULL)) {
            snprintf(err, errlen, "TESTFAILED dense/sparse disagree");
            goto done;
        }
        int64_t abserr = checkpoint - (int64_t)cd;
        uint64_t maxerr = (uint64_t)ceil(relerr * 6 * (double)checkpoint);
        if (j == 10) maxerr = 1; /* collisions make larger errors likely at 10 */
        if (abserr < 0) abserr = -abserr;
        if (abserr > (int64_t)maxerr) {
            snprintf(err, errlen, "TESTFAILED Too big error. card:%llu abserr:%llu",
                     (unsigned long long)checkpoint, (unsigned long long)abserr);
            goto done;
        }
        checkpoint *= 10;
    }
    rc = 0;
done:
    free(dense);
    free(bytes);
    hll_free(&o);
    return rc;
}
