/* test_bloom.c - bloom filters: the cache-local layout the builder writes (no false negatives,
 * false-positive rate near its model, every probe of a key in one 64-byte line, k per bits
 * from the model), the legacy layout still read, reserved trailer bytes, pinned hashes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "hash.h"

/* Expected false-positive rate of a cache-local filter: keys spread over lines as
 * Poisson(512 / bits); a line holding j keys has each bit set with 1 - (1 - 1/512)^(j k). */
static double local_model_fp(double bits_per_key, int k) {
    double lam = 512.0 / bits_per_key, p = exp(-lam), s = 0;
    for (int j = 0; j < 4000; j++) {
        if (j > 0) p *= lam / j;
        s += p * pow(1 - pow(1 - 1.0 / 512, (double)j * k), k);
    }
    return s;
}

Test(bloom, legacy_num_probes_is_round_bits_ln2_clamped_1_30) {
    cr_assert_eq(bloom_num_probes(10), 7);
    cr_assert_eq(bloom_num_probes(1), 1);
    cr_assert_eq(bloom_num_probes(0), 1);
    cr_assert_eq(bloom_num_probes(20), 14);
    cr_assert_eq(bloom_num_probes(100), 30);
}

Test(bloom, local_num_probes_is_the_model_optimum) {
    for (int b = 1; b <= 24; b++) {
        int best = 1;
        for (int k = 2; k <= 30; k++)
            if (local_model_fp(b, k) < local_model_fp(b, best)) best = k;
        int k = bloom_local_num_probes(b);
        cr_assert_leq(local_model_fp(b, k), local_model_fp(b, best) * 1.001,
                      "bits %d: k %d, model optimum %d", b, k, best);
    }
    cr_assert_eq(bloom_local_num_probes(10), 7);
    cr_assert_eq(bloom_local_num_probes(0), 1);
    cr_assert_eq(bloom_local_num_probes(1000), 30);
}

static char *build(int bits_per_key, int n, const char *fmt, size_t *fl) {
    bloom_builder b;
    bloom_builder_init(&b, bits_per_key);
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof(k), fmt, i);
        cr_assert_eq(bloom_builder_add(&b, k, (size_t)l), 0);
    }
    char *f = bloom_builder_finish(&b, fl);
    cr_assert_not_null(f);
    bloom_builder_free(&b);
    return f;
}

static void local_fp_rate_at(int bits_per_key, int n) {
    size_t fl;
    char *f = build(bits_per_key, n, "user:%d", &fl);
    cr_assert_eq((fl - 1) % BLOOM_LINE_BYTES, 0);
    cr_assert_eq((unsigned char)f[fl - 1], BLOOM_LOCAL_FLAG | bloom_local_num_probes(bits_per_key));
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof(k), "user:%d", i);
        cr_assert(bloom_may_contain(f, fl, k, (size_t)l), "false negative for %s", k);
        cr_assert(bloom_may_contain_hashed(f, fl, k, (size_t)l, key_hash64(k, (size_t)l)));
    }
    int fp = 0, probes = 200000;
    for (int i = 0; i < probes; i++) {
        int l = snprintf(k, sizeof(k), "other:%d", i);
        fp += bloom_may_contain(f, fl, k, (size_t)l);
    }
    double bits = (double)(fl - 1) * 8 / n; /* actual bits per key after rounding to lines */
    double model = local_model_fp(bits, bloom_local_num_probes(bits_per_key));
    double rate = (double)fp / probes;
    cr_log_info("cache-local bits/key %d: fp rate %.5f model %.5f\n", bits_per_key, rate, model);
    cr_assert(rate <= 1.25 * model + 0.0002, "fp rate %.5f > 1.25 x model %.5f", rate, model);
    cr_assert(rate >= 0.75 * model - 0.0002, "fp rate %.5f < 0.75 x model %.5f: model wrong?",
              rate, model);
    free(f);
}

Test(bloom, local_false_positive_rate_10_bits_near_model_over_100k_keys) {
    local_fp_rate_at(10, 100000);
}

Test(bloom, local_false_positive_rate_other_sizes_near_model) {
    local_fp_rate_at(6, 20000);
    local_fp_rate_at(16, 20000);
}

Test(bloom, every_probe_of_a_key_falls_in_one_line) {
    bloom_builder b;
    bloom_builder_init(&b, 400); /* 1 key x 400 bits: a filter of several lines */
    cr_assert_eq(bloom_builder_add(&b, "only", 4), 0);
    size_t fl;
    char *f = bloom_builder_finish(&b, &fl);
    cr_assert_gt((fl - 1) / BLOOM_LINE_BYTES, 0);
    int lines_with_bits = 0;
    for (size_t l = 0; l < (fl - 1) / BLOOM_LINE_BYTES; l++) {
        int any = 0;
        for (size_t i = 0; i < BLOOM_LINE_BYTES; i++) any |= f[l * BLOOM_LINE_BYTES + i] != 0;
        lines_with_bits += any;
    }
    cr_assert_eq(lines_with_bits, 1);
    cr_assert(bloom_may_contain(f, fl, "only", 4));
    bloom_prefetch(f, fl, key_hash64("only", 4)); /* a hint: must not fault or change anything */
    cr_assert(bloom_may_contain(f, fl, "only", 4));
    free(f);
    bloom_builder_free(&b);
}

Test(bloom, empty_and_tiny_sets) {
    bloom_builder b;
    bloom_builder_init(&b, 10);
    size_t fl;
    char *f = bloom_builder_finish(&b, &fl);
    cr_assert_eq(fl, BLOOM_LINE_BYTES + 1); /* one line minimum + the trailer byte */
    cr_assert(!bloom_may_contain(f, fl, "x", 1));
    free(f);
    bloom_builder_add(&b, "", 0);
    f = bloom_builder_finish(&b, &fl);
    cr_assert(bloom_may_contain(f, fl, "", 0));
    free(f);
    bloom_builder_free(&b);
}

Test(bloom, reserved_trailers_may_contain_everything) {
    cr_assert(bloom_may_contain("", 0, "a", 1));
    char f[9] = {0, 0, 0, 0, 0, 0, 0, 0, 31}; /* reserved k */
    cr_assert(bloom_may_contain(f, sizeof(f), "a", 1));
    f[8] = 0;
    cr_assert(bloom_may_contain(f, sizeof(f), "a", 1));
    f[8] = 127;
    cr_assert(bloom_may_contain(f, sizeof(f), "a", 1));
    /* cache-local flag on a bit array that is not whole lines (8 bytes): reserved too */
    f[8] = (char)(BLOOM_LOCAL_FLAG | 7);
    cr_assert(bloom_may_contain(f, sizeof(f), "a", 1));
    /* cache-local flag with k out of 1..30 */
    char g[BLOOM_LINE_BYTES + 1] = {0};
    g[BLOOM_LINE_BYTES] = (char)(BLOOM_LOCAL_FLAG | 31);
    cr_assert(bloom_may_contain(g, sizeof(g), "a", 1));
    g[BLOOM_LINE_BYTES] = (char)BLOOM_LOCAL_FLAG;
    cr_assert(bloom_may_contain(g, sizeof(g), "a", 1));
    bloom_prefetch(f, sizeof(f), 0);
    bloom_prefetch("", 0, 0);
}

/* The legacy layout, built here as the previous builder wrote it: tables written before the
 * cache-local layout are still answered correctly. */
static char *legacy_build(int bits_per_key, int n, const char *fmt, size_t *fl) {
    uint64_t bits = (uint64_t)n * (uint64_t)bits_per_key;
    if (bits < 64) bits = 64;
    uint64_t nbytes = (bits + 7) / 8;
    bits = nbytes * 8;
    int k = bloom_num_probes(bits_per_key);
    char *f = calloc(1, nbytes + 1);
    char key[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(key, sizeof(key), fmt, i);
        uint32_t h = bloom_hash(key, (size_t)l), delta = (h * 0x9e3779b1u) | 1u;
        for (int j = 0; j < k; j++) {
            uint64_t pos = h % bits;
            f[pos / 8] |= (char)(1u << (pos % 8));
            h += delta;
        }
    }
    f[nbytes] = (char)k;
    *fl = nbytes + 1;
    return f;
}

Test(bloom, legacy_filter_still_read_no_false_negatives_fp_near_theory) {
    int n = 50000;
    size_t fl;
    char *f = legacy_build(10, n, "user:%d", &fl);
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof(k), "user:%d", i);
        cr_assert(bloom_may_contain(f, fl, k, (size_t)l), "false negative for %s", k);
        /* the hashed form ignores h64 for a legacy filter */
        cr_assert(bloom_may_contain_hashed(f, fl, k, (size_t)l, 12345));
    }
    int fp = 0, probes = 100000;
    for (int i = 0; i < probes; i++) {
        int l = snprintf(k, sizeof(k), "other:%d", i);
        fp += bloom_may_contain(f, fl, k, (size_t)l);
    }
    double m = (double)(fl - 1) * 8, kk = bloom_num_probes(10);
    double theory = pow(1 - exp(-kk * n / m), kk), rate = (double)fp / probes;
    cr_log_info("legacy: fp rate %.5f theory %.5f\n", rate, theory);
    cr_assert(rate <= 2 * theory, "fp rate %.5f > 2 x theory %.5f", rate, theory);
    cr_assert_gt(fp, 0, "a legacy filter answering no for everything is not being read");
    free(f);
}

Test(bloom, hashes_are_pinned_on_disk) {
    /* both hashes are part of the on-disk format: these values must never change */
    cr_assert_eq(bloom_hash("", 0), 0x3f177186u);
    cr_assert_eq(bloom_hash("hello", 5), 0xdef78c91u);
    cr_assert_eq(key_hash64("", 0), UINT64_C(0xd8a310150df90781));
    cr_assert_eq(key_hash64("hello", 5), UINT64_C(0xdf3194cddf5818f2));
    cr_assert_eq(key_hash64("key:000000123456", 16), UINT64_C(0x7b391392e77eda95));
}
