/* test_hyperloglog.c - the HyperLogLog representation (src/hyperloglog.c) against redis-server's
 * own bytes and counts.
 *
 * Expected values were obtained from redis-server 7.0.15 (Debian 7.0.15-1~deb12u10, the
 * reference of redis-compat-tests) with default hll-sparse-max-bytes 3000:
 *   - (register, count) of an element: PFADD t <element> on an empty key, then PFDEBUG DECODE t
 *     ("Z:<register> v:<count>,1 Z:...");
 *   - literal values: GET t;
 *   - FNV-1a 64 of values too long to write here: GET t hashed in Python
 *     (h = 0xcbf29ce484222325; for each byte: h = ((h ^ b) * 0x100000001b3) mod 2^64);
 *   - PFADD t e0 e1 ... e<N-1> (batches of 5000 in order), PFCOUNT t, GET t before and after it.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyperloglog.h"

#define SPARSE_MAX 3000

static uint64_t fnv1a(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* "e<i>" for i in [from, to) */
static void add_range(hll *h, int from, int to, size_t sparse_max) {
    char buf[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(buf, sizeof buf, "e%d", i);
        cr_assert_geq(hll_add(h, buf, (size_t)n, sparse_max), 0);
    }
}

static char *decode(const hll *h) {
    size_t n;
    char *s = hll_sparse_decode(h->p, h->len, &n);
    cr_assert_not_null(s);
    cr_assert_eq(strlen(s), n);
    return s;
}

static void assert_decode(const hll *h, const char *want) {
    char *s = decode(h);
    cr_assert_str_eq(s, want);
    free(s);
}

static hll empty_hll(void) {
    hll h = {0};
    cr_assert_eq(hll_set_empty(&h), 0);
    return h;
}

/* PFCOUNT of one key: the estimate, stored in the header. */
static uint64_t count_and_cache(hll *h) {
    int invalid = 0;
    uint64_t c = hll_count(h->p, h->len, &invalid);
    cr_assert_eq(invalid, 0);
    hll_cache_set(h->p, c);
    return c;
}

/* ---- hashing ------------------------------------------------------------------------------- */

Test(hll_hash, register_and_count_of_elements_match_redis) {
    static const struct {
        const char *ele;
        size_t len;
        long reg;
        int count;
    } cases[] = {
        {"a", 1, 12711, 2},     {"b", 1, 15780, 1},        {"c", 1, 8436, 1},
        {"hello", 5, 9216, 1},  {"", 0, 5938, 2},          {"foobar12", 8, 15489, 2},
        {NULL, 100, 15288, 1}, /* 100 x 'x': several 8-byte blocks */
    };
    char xs[100];
    memset(xs, 'x', sizeof xs);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long reg;
        int count = hll_pattern(cases[i].ele ? cases[i].ele : xs, cases[i].len, &reg);
        cr_assert_eq(reg, cases[i].reg, "element %zu", i);
        cr_assert_eq(count, cases[i].count, "element %zu", i);
    }
}

Test(hll_hash, element_with_count_33) {
    /* found by a search over "q" + 10 digits; redis-server: PFADD k a q0429496134 turns the
     * key dense with register 9948 = 33 (PFDEBUG GETREG) */
    long reg;
    cr_assert_eq(hll_pattern("q0429496134", 11, &reg), 33);
    cr_assert_eq(reg, 9948);
    hll h = {0};
    cr_assert_eq(hll_set_empty(&h), 0);
    cr_assert_eq(hll_add(&h, "a", 1, SPARSE_MAX), 1);
    cr_assert_eq(hll_add(&h, "q0429496134", 11, SPARSE_MAX), 1);
    cr_assert_eq(h.p[4], HLL_DENSE);
    cr_assert_eq(hll_dense_get(h.p + HLL_HDR_SIZE, 9948), 33);
    cr_assert_eq(hll_dense_get(h.p + HLL_HDR_SIZE, 12711), 2);
    cr_assert_eq(hll_count(h.p, h.len, NULL), 2);
    hll_free(&h);
}

Test(hll_hash, count_is_at_most_q_plus_one) {
    char buf[32];
    for (int i = 0; i < 100000; i++) {
        long reg;
        int n = snprintf(buf, sizeof buf, "k%d", i);
        int c = hll_pattern(buf, (size_t)n, &reg);
        cr_assert(c >= 1 && c <= HLL_Q + 1);
        cr_assert(reg >= 0 && reg < HLL_REGISTERS);
    }
}

/* ---- sparse encoding ----------------------------------------------------------------------- */

Test(hll_sparse, empty_value_is_one_xzero) {
    hll h = empty_hll();
    static const uint8_t want[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff";
    cr_assert_eq(h.len, 18);
    cr_assert(memcmp(h.p, want, 18) == 0);
    uint64_t card = 1;
    cr_assert(hll_cache_get(h.p, &card));
    cr_assert_eq(card, 0);
    cr_assert_eq(hll_count(h.p, h.len, NULL), 0);
    assert_decode(&h, "Z:16384");
    hll_free(&h);
}

Test(hll_sparse, three_elements_bytes_match_redis) {
    hll h = empty_hll();
    hll_cache_invalidate(h.p); /* PFADD of a new key */
    cr_assert_eq(hll_add(&h, "a", 1, SPARSE_MAX), 1);
    cr_assert_eq(hll_add(&h, "b", 1, SPARSE_MAX), 1);
    cr_assert_eq(hll_add(&h, "c", 1, SPARSE_MAX), 1);
    cr_assert_eq(hll_add(&h, "a", 1, SPARSE_MAX), 0); /* already counted */
    static const uint8_t before[] = "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80`\xf3\x80P\xb1\x84K\xfb\x80" "BZ";
    cr_assert_eq(h.len, sizeof before - 1);
    cr_assert(memcmp(h.p, before, h.len) == 0);
    uint64_t card;
    cr_assert_not(hll_cache_get(h.p, &card));
    cr_assert_eq(count_and_cache(&h), 3);
    static const uint8_t after[] = "HYLL\x01\0\0\0\x03\0\0\0\0\0\0\0`\xf3\x80P\xb1\x84K\xfb\x80" "BZ";
    cr_assert(memcmp(h.p, after, h.len) == 0);
    cr_assert(hll_cache_get(h.p, &card));
    cr_assert_eq(card, 3);
    assert_decode(&h, "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
    hll_free(&h);
}

Test(hll_sparse, zero_run_of_64_is_zero_and_65_is_xzero) {
    hll h = empty_hll();
    cr_assert_eq(hll_set_register(&h, 64, 3, SPARSE_MAX), 1);
    assert_decode(&h, "z:64 v:3,1 Z:16319");
    cr_assert_eq(hll_set_register(&h, 16383, 1, SPARSE_MAX), 1);
    assert_decode(&h, "z:64 v:3,1 Z:16318 v:1,1");
    hll_free(&h);
    h = empty_hll();
    cr_assert_eq(hll_set_register(&h, 65, 3, SPARSE_MAX), 1);
    assert_decode(&h, "Z:65 v:3,1 Z:16318");
    cr_assert_eq(hll_set_register(&h, 0, 2, SPARSE_MAX), 1);
    assert_decode(&h, "v:2,1 z:64 v:3,1 Z:16318");
    hll_free(&h);
}

Test(hll_sparse, equal_neighbours_merge_up_to_four) {
    hll h = empty_hll();
    for (long r = 100; r < 104; r++) cr_assert_eq(hll_set_register(&h, r, 3, SPARSE_MAX), 1);
    assert_decode(&h, "Z:100 v:3,4 Z:16280");
    cr_assert_eq(hll_set_register(&h, 104, 3, SPARSE_MAX), 1);
    assert_decode(&h, "Z:100 v:3,4 v:3,1 Z:16279");
    /* not raised: a lower or equal count changes nothing */
    cr_assert_eq(hll_set_register(&h, 102, 3, SPARSE_MAX), 0);
    cr_assert_eq(hll_set_register(&h, 102, 1, SPARSE_MAX), 0);
    /* a VAL run split in three */
    cr_assert_eq(hll_set_register(&h, 101, 5, SPARSE_MAX), 1);
    /* ... and the merge scan then joins v:3,2 with the v:3,1 of register 104 */
    assert_decode(&h, "Z:100 v:3,1 v:5,1 v:3,3 Z:16279");
    hll_free(&h);
}

Test(hll_sparse, value_32_stays_sparse_and_33_turns_dense) {
    hll h = empty_hll();
    hll_cache_set(h.p, 77); /* the header is carried over to the dense value */
    cr_assert_eq(hll_set_register(&h, 5, 32, SPARSE_MAX), 1);
    cr_assert_eq(h.p[4], HLL_SPARSE);
    cr_assert_eq(hll_set_register(&h, 9, 2, SPARSE_MAX), 1);
    cr_assert_eq(hll_set_register(&h, 5, 33, SPARSE_MAX), 1);
    cr_assert_eq(h.p[4], HLL_DENSE);
    cr_assert_eq(h.len, HLL_DENSE_SIZE);
    cr_assert(memcmp(h.p, "HYLL", 4) == 0);
    cr_assert_eq(h.p[8] | h.p[15] << 8, 77 | 0x80 << 8); /* sparse update marked it stale */
    const uint8_t *regs = h.p + HLL_HDR_SIZE;
    for (long i = 0; i < HLL_REGISTERS; i++)
        cr_assert_eq(hll_dense_get(regs, i), i == 5 ? 33 : i == 9 ? 2 : 0, "register %ld", i);
    hll_free(&h);
}

Test(hll_sparse, growth_past_sparse_max_turns_dense_with_same_registers) {
    for (size_t max = 0; max <= 600; max += 40) {
        hll s = empty_hll();
        uint8_t *dense = calloc(1, HLL_DENSE_SIZE);
        cr_assert_not_null(dense);
        char buf[32];
        int promoted_at = -1;
        for (int i = 0; i < 400; i++) {
            int n = snprintf(buf, sizeof buf, "g%d", i);
            long reg;
            int c = hll_pattern(buf, (size_t)n, &reg);
            if (c > hll_dense_get(dense + HLL_HDR_SIZE, reg)) hll_dense_set(dense + HLL_HDR_SIZE, reg, (uint8_t)c);
            cr_assert_geq(hll_add(&s, buf, (size_t)n, max), 0);
            if (s.p[4] == HLL_SPARSE) cr_assert(s.len <= max || s.len == 18, "max %zu len %zu", max, s.len);
            else if (promoted_at < 0) promoted_at = i;
        }
        cr_assert(promoted_at >= 0, "max %zu never promoted", max);
        cr_assert(memcmp(s.p + HLL_HDR_SIZE, dense + HLL_HDR_SIZE, HLL_DENSE_SIZE - HLL_HDR_SIZE) == 0);
        free(dense);
        hll_free(&s);
    }
}

/* ---- counts and values of N elements, as redis-server computes them ------------------------- */

Test(hll_count, n_elements_match_redis) {
    static const struct {
        int n;
        uint64_t count;
        int enc;
        size_t len;
        uint64_t fnv_before, fnv_after; /* GET before and after PFCOUNT */
    } cases[] = {
        {1, 1, HLL_SPARSE, 21, 0xfffb6faeff77f7cdULL, 0x546d16fdfd2c805aULL},
        {10, 10, HLL_SPARSE, 48, 0x4afcb65d27f7d346ULL, 0xd06c25fbeaa23420ULL},
        {100, 100, HLL_SPARSE, 285, 0xb8de76dab4a4065eULL, 0x40dec5e3b1513cfaULL},
        {1000, 1008, HLL_SPARSE, 1906, 0x5935de0232806824ULL, 0x4ded8ea0046b668dULL},
        {2000, 2000, HLL_DENSE, 12304, 0x1b5576fa1f6b8092ULL, 0xdd4d26f186b57d33ULL},
        {5000, 4968, HLL_DENSE, 12304, 0x805246753a1cdadaULL, 0x9219c5a2921db657ULL},
        {10000, 9973, HLL_DENSE, 12304, 0x7378cbab5ab5c44bULL, 0x91141a0852dc0034ULL},
        {50000, 49978, HLL_DENSE, 12304, 0x0c8870be94c9ce2cULL, 0xb4cdee4653d5efffULL},
        {100000, 100853, HLL_DENSE, 12304, 0xafbf1713dc5ba3c8ULL, 0xfd1fc23694773e63ULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hll h = empty_hll();
        hll_cache_invalidate(h.p); /* PFADD invalidates, also for the dense result */
        add_range(&h, 0, cases[i].n, SPARSE_MAX);
        hll_cache_invalidate(h.p);
        cr_assert_eq(h.p[4], cases[i].enc, "n=%d", cases[i].n);
        cr_assert_eq(h.len, cases[i].len, "n=%d", cases[i].n);
        cr_assert_eq(fnv1a(h.p, h.len), cases[i].fnv_before, "n=%d", cases[i].n);
        cr_assert_eq(count_and_cache(&h), cases[i].count, "n=%d", cases[i].n);
        cr_assert_eq(fnv1a(h.p, h.len), cases[i].fnv_after, "n=%d", cases[i].n);
        hll_free(&h);
    }
}

Test(hll_count, raw_registers_count_like_the_dense_value) {
    hll h = empty_hll();
    add_range(&h, 0, 30000, SPARSE_MAX);
    cr_assert_eq(h.p[4], HLL_DENSE);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    cr_assert_eq(hll_merge(max, h.p, h.len), 0);
    cr_assert_eq(hll_count_raw(max), hll_count(h.p, h.len, NULL));
    free(max);
    hll_free(&h);
}

Test(hll_count, forged_registers_above_51_give_redis_overflow_value) {
    /* every register 63: the estimator divides by zero; redis-server answers
     * -9223372036854775808 (PFCOUNT replies the uint64 as a signed integer) */
    uint8_t *v = calloc(1, HLL_DENSE_SIZE);
    memcpy(v, "HYLL", 4);
    memset(v + HLL_HDR_SIZE, 0xff, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    cr_assert(hll_is_valid(v, HLL_DENSE_SIZE));
    cr_assert_eq(hll_count(v, HLL_DENSE_SIZE, NULL), 0x8000000000000000ULL);
    free(v);
}

/* ---- merge (PFMERGE / PFCOUNT of several keys) ---------------------------------------------- */

static void add_prefixed(hll *h, const char *prefix, int n) {
    char buf[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "%s%d", prefix, i);
        cr_assert_geq(hll_add(h, buf, (size_t)len, SPARSE_MAX), 0);
    }
}

Test(hll_merge, sparse_union_matches_redis_pfmerge) {
    /* redis: PFADD u u0..u299; PFADD w w0..w299; PFCOUNT u w -> 600; PFMERGE m u w: a sparse
     * value of 1215 bytes */
    hll u = empty_hll(), w = empty_hll(), m = empty_hll();
    add_prefixed(&u, "u", 300);
    add_prefixed(&w, "w", 300);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    cr_assert_eq(hll_merge(max, u.p, u.len), 0);
    cr_assert_eq(hll_merge(max, w.p, w.len), 0);
    cr_assert_eq(hll_count_raw(max), 600);
    for (long j = 0; j < HLL_REGISTERS; j++)
        if (max[j]) cr_assert_geq(hll_set_register(&m, j, max[j], SPARSE_MAX), 0);
    hll_cache_invalidate(m.p);
    cr_assert_eq(m.p[4], HLL_SPARSE);
    cr_assert_eq(m.len, 1215);
    cr_assert_eq(fnv1a(m.p, m.len), 0xfc5f9ccf378e4d8bULL);
    free(max);
    hll_free(&u);
    hll_free(&w);
    hll_free(&m);
}

/* ---- dense registers ------------------------------------------------------------------------ */

Test(hll_dense, registers_keep_their_value_and_spare_neighbours) {
    uint8_t *regs = calloc(1, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    uint8_t *want = malloc(HLL_REGISTERS);
    srand(7);
    for (int round = 0; round < 20; round++) {
        for (long i = 0; i < HLL_REGISTERS; i++) {
            want[i] = (uint8_t)(rand() & 63);
            hll_dense_set(regs, i, want[i]);
        }
        for (long i = 0; i < HLL_REGISTERS; i++) cr_assert_eq(hll_dense_get(regs, i), want[i]);
    }
    /* the last register lives in the last byte's top 6 bits: nothing is written past it */
    memset(regs, 0, HLL_DENSE_SIZE - HLL_HDR_SIZE);
    hll_dense_set(regs, HLL_REGISTERS - 1, 63);
    cr_assert_eq(regs[HLL_DENSE_SIZE - HLL_HDR_SIZE - 1], 0xfc);
    free(regs);
    free(want);
}

Test(hll_dense, to_dense_keeps_header_and_registers) {
    hll h = {0};
    static const uint8_t v[] = "HYLL\x01\xaa\xbb\xcc\x39\x30\0\0\0\0\0\0" "\x7f\xff";
    cr_assert_eq(hll_set_copy(&h, v, 18), 0);
    cr_assert_eq(hll_set_register(&h, 12711, 2, SPARSE_MAX), 1);
    cr_assert_eq(hll_to_dense(&h), 0);
    cr_assert_eq(h.len, HLL_DENSE_SIZE);
    static const uint8_t hdr[] = "HYLL\x00\xaa\xbb\xcc\x39\x30\0\0\0\0\0\x80";
    cr_assert(memcmp(h.p, hdr, 16) == 0);
    cr_assert_eq(hll_dense_get(h.p + HLL_HDR_SIZE, 12711), 2);
    cr_assert_eq(hll_to_dense(&h), 0); /* already dense */
    hll_free(&h);
}

/* ---- corrupted values ----------------------------------------------------------------------- */

Test(hll_corrupt, header_checks_as_redis) {
    uint8_t *v = calloc(1, HLL_DENSE_SIZE + 1);
    memcpy(v, "HYLL\x01", 5);
    cr_assert(hll_is_valid(v, 16)); /* a header alone is an HLL (and a corrupt sparse one) */
    cr_assert_not(hll_is_valid(v, 15));
    cr_assert_not(hll_is_valid("12345", 5));
    v[4] = 2;
    cr_assert_not(hll_is_valid(v, 18));
    v[4] = HLL_DENSE;
    cr_assert(hll_is_valid(v, HLL_DENSE_SIZE));
    cr_assert_not(hll_is_valid(v, HLL_DENSE_SIZE - 1));
    cr_assert_not(hll_is_valid(v, HLL_DENSE_SIZE + 1));
    v[4] = HLL_SPARSE;
    v[0] = 'h';
    cr_assert_not(hll_is_valid(v, 18));
    free(v);
}

/* A sparse value of header + body. */
static hll sparse_of(const uint8_t *body, size_t n) {
    hll h = {0};
    uint8_t buf[64];
    cr_assert(n + 16 <= sizeof buf);
    memcpy(buf, "HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80", 16);
    memcpy(buf + 16, body, n);
    cr_assert_eq(hll_set_copy(&h, buf, n + 16), 0);
    return h;
}

static void assert_corrupt_everywhere(const uint8_t *body, size_t n) {
    hll h = sparse_of(body, n);
    int invalid = 0;
    (void)hll_count(h.p, h.len, &invalid);
    cr_assert_eq(invalid, 1);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    cr_assert_eq(hll_merge(max, h.p, h.len), HLL_CORRUPT);
    free(max);
    size_t len = h.len;
    uint8_t copy[64];
    memcpy(copy, h.p, len);
    cr_assert_eq(hll_to_dense(&h), HLL_CORRUPT);
    cr_assert_eq(h.len, len);
    cr_assert(memcmp(h.p, copy, len) == 0); /* unchanged */
    cr_assert_eq(hll_set_register(&h, 3, 40, SPARSE_MAX), HLL_CORRUPT); /* promotion fails */
    hll_free(&h);
}

Test(hll_corrupt, short_long_and_overrunning_bodies) {
    static const uint8_t empty[1] = {0};
    assert_corrupt_everywhere(empty, 0);                             /* header only */
    static const uint8_t short_by_one[] = {0x7f, 0xfe};              /* XZERO:16383 */
    assert_corrupt_everywhere(short_by_one, sizeof short_by_one);
    static const uint8_t long_by_one[] = {0x7f, 0xff, 0x00};         /* XZERO:16384 ZERO:1 */
    assert_corrupt_everywhere(long_by_one, sizeof long_by_one);
    static const uint8_t val_past_end[] = {0x7f, 0xfd, 0x83};        /* XZERO:16382 VAL:1,4 */
    assert_corrupt_everywhere(val_past_end, sizeof val_past_end);
    /* a VAL after a whole value: Redis before CVE-2025-32023's fix ignored it */
    static const uint8_t val_after[] = {0x7f, 0xff, 0x80};
    assert_corrupt_everywhere(val_after, sizeof val_after);
}

Test(hll_corrupt, cut_off_xzero_reads_the_terminator) {
    /* XZERO:16383 then an XZERO cut after its first byte: read as XZERO:1 (0x40 0x00), as
     * Redis reads the string's terminator: the value is whole */
    static const uint8_t body[] = {0x7f, 0xfe, 0x40};
    hll h = sparse_of(body, sizeof body);
    assert_decode(&h, "Z:16383 Z:1");
    int invalid = 0;
    cr_assert_eq(hll_count(h.p, h.len, &invalid), 0);
    cr_assert_eq(invalid, 0);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    cr_assert_eq(hll_merge(max, h.p, h.len), 0);
    free(max);
    /* setting the last register splits it: Redis writes the VAL past the new length */
    cr_assert_eq(hll_set_register(&h, 16383, 4, SPARSE_MAX), 1);
    cr_assert_eq(h.len, 16 + 2);
    assert_decode(&h, "Z:16383");
    hll_free(&h);
}

Test(hll_corrupt, update_beyond_the_covered_registers_fails) {
    static const uint8_t body[] = {0x40, 0x63};                       /* XZERO:100 */
    hll h = sparse_of(body, sizeof body);
    cr_assert_eq(hll_set_register(&h, 50, 2, SPARSE_MAX), 1);        /* inside: updated */
    assert_decode(&h, "z:50 v:2,1 z:49");
    cr_assert_eq(hll_set_register(&h, 100, 2, SPARSE_MAX), HLL_CORRUPT);
    hll_free(&h);
}

Test(hll_corrupt, random_bodies_never_crash) {
    /* every function on random sparse bodies and random dense registers (ASan build checks the
     * bounds); the results only need to be consistent */
    srand(12345);
    uint8_t *max = calloc(1, HLL_REGISTERS);
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand() % 40);
        uint8_t body[40];
        for (size_t i = 0; i < n; i++) body[i] = (uint8_t)rand();
        if (round % 3 == 0) /* mostly long zero runs, so that some values are whole */
            for (size_t i = 0; i + 1 < n; i += 2) body[i] = (uint8_t)(0x40 | (rand() & 0x3f));
        hll h = sparse_of(body, n);
        int invalid = 0;
        (void)hll_count(h.p, h.len, &invalid);
        int merged = hll_merge(max, h.p, h.len);
        cr_assert_eq(merged == 0, invalid == 0);
        size_t dn;
        free(hll_sparse_decode(h.p, h.len, &dn));
        for (int k = 0; k < 4; k++) {
            int r = hll_set_register(&h, rand() % HLL_REGISTERS, (uint8_t)(1 + rand() % 40), 40);
            cr_assert(r == 0 || r == 1 || r == HLL_CORRUPT);
        }
        (void)hll_to_dense(&h);
        hll_free(&h);
    }
    uint8_t *v = malloc(HLL_DENSE_SIZE);
    memcpy(v, "HYLL\0\0\0\0\0\0\0\0\0\0\0\x80", 16);
    for (int round = 0; round < 20; round++) {
        for (size_t i = HLL_HDR_SIZE; i < HLL_DENSE_SIZE; i++) v[i] = (uint8_t)rand();
        (void)hll_count(v, HLL_DENSE_SIZE, NULL);
        cr_assert_eq(hll_merge(max, v, HLL_DENSE_SIZE), 0);
        (void)hll_count_raw(max);
    }
    free(v);
    free(max);
}

/* ---- PFSELFTEST ----------------------------------------------------------------------------- */

Test(hll_selftest, passes) {
    char err[256] = "";
    cr_assert_eq(hll_selftest(SPARSE_MAX, err, sizeof err), 0, "%s", err);
}
