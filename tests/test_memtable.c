/* test_memtable.c - skiplist memtable: internal-key order, snapshots, tombstones, iterators,
 * the hash index sized up front. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbformat.h"
#include "lsm.h"
#include "memtable.h"

static int get(memtable *m, const char *k, uint64_t snap, char *out, size_t *outl) {
    const char *v = NULL;
    size_t vl = 0;
    int r = memtable_get(m, k, strlen(k), snap, &v, &vl);
    if (r == MEMTABLE_FOUND) {
        memcpy(out, v, vl);
        out[vl] = 0;
        *outl = vl;
    }
    return r;
}

Test(memtable, empty_table_get_is_notfound_and_iter_invalid) {
    memtable *m = memtable_new();
    char buf[16];
    size_t l;
    cr_assert_eq(get(m, "a", MAX_SEQUENCE, buf, &l), MEMTABLE_NOTFOUND);
    cr_assert_eq(get(m, "", MAX_SEQUENCE, buf, &l), MEMTABLE_NOTFOUND);
    internal_iter *it = memtable_iter_new(m);
    iter_seek_first(it);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
    cr_assert_eq(memtable_entries(m), 0);
    memtable_unref(m);
}

Test(memtable, iteration_order_is_user_key_asc_then_sequence_desc) {
    memtable *m = memtable_new();
    /* inserted in scrambled order */
    memtable_add(m, 5, KIND_VALUE, "b", 1, "b5", 2);
    memtable_add(m, 1, KIND_VALUE, "a", 1, "a1", 2);
    memtable_add(m, 9, KIND_DELETE, "b", 1, NULL, 0);
    memtable_add(m, 3, KIND_VALUE, "ab", 2, "ab3", 3);
    memtable_add(m, 7, KIND_VALUE, "a", 1, "a7", 2);
    memtable_add(m, 2, KIND_VALUE, "", 0, "e2", 2);
    const char *want_uk[] = {"", "a", "a", "ab", "b", "b"};
    uint64_t want_seq[] = {2, 7, 1, 3, 9, 5};
    int want_kind[] = {KIND_VALUE, KIND_VALUE, KIND_VALUE, KIND_VALUE, KIND_DELETE, KIND_VALUE};
    internal_iter *it = memtable_iter_new(m);
    int i = 0;
    const char *prev = NULL;
    size_t prevl = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        cr_assert_lt(i, 6);
        cr_assert_eq(ikey_user_len(kl), strlen(want_uk[i]));
        cr_assert(memcmp(k, want_uk[i], ikey_user_len(kl)) == 0);
        cr_assert_eq(ikey_seq(k, kl), want_seq[i]);
        cr_assert_eq(ikey_kind(k, kl), want_kind[i]);
        if (prev) cr_assert_lt(ikey_compare(prev, prevl, k, kl), 0);
        prev = k;
        prevl = kl;
    }
    cr_assert_eq(i, 6);
    cr_assert_eq(iter_status(it), 0);
    iter_destroy(it);
    cr_assert_eq(memtable_entries(m), 6);
    memtable_unref(m);
}

Test(memtable, get_with_snapshot_sees_version_at_or_before_it) {
    memtable *m = memtable_new();
    memtable_add(m, 10, KIND_VALUE, "k", 1, "v10", 3);
    memtable_add(m, 20, KIND_VALUE, "k", 1, "v20", 3);
    memtable_add(m, 30, KIND_VALUE, "k", 1, "v30", 3);
    char b[16];
    size_t l;
    cr_assert_eq(get(m, "k", 9, b, &l), MEMTABLE_NOTFOUND); /* before the oldest */
    cr_assert_eq(get(m, "k", 10, b, &l), MEMTABLE_FOUND);   /* exactly at a sequence */
    cr_assert_str_eq(b, "v10");
    cr_assert_eq(get(m, "k", 19, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v10");
    cr_assert_eq(get(m, "k", 20, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v20");
    cr_assert_eq(get(m, "k", 29, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v20");
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v30");
    cr_assert_eq(get(m, "k", UINT64_MAX, b, &l), MEMTABLE_FOUND); /* clamped, no overflow */
    cr_assert_str_eq(b, "v30");
    memtable_unref(m);
}

Test(memtable, delete_hides_older_values_but_not_newer_or_earlier_snapshots) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "k", 1, "old", 3);
    memtable_add(m, 2, KIND_DELETE, "k", 1, NULL, 0);
    char b[16];
    size_t l;
    cr_assert_eq(get(m, "k", 2, b, &l), MEMTABLE_DELETED); /* snapshot == delete seq */
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_DELETED);
    cr_assert_eq(get(m, "k", 1, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "old");
    memtable_add(m, 3, KIND_VALUE, "k", 1, "new", 3);
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "new");
    memtable_unref(m);
}

Test(memtable, empty_value_is_found_not_deleted) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "k", 1, "x", 1);
    memtable_add(m, 2, KIND_VALUE, "k", 1, "", 0);
    const char *v = NULL;
    size_t vl = 99;
    cr_assert_eq(memtable_get(m, "k", 1, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    cr_assert_eq(vl, 0);
    cr_assert_not_null(v);
    memtable_unref(m);
}

Test(memtable, empty_user_key_and_prefix_keys_are_distinct) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "", 0, "empty", 5);
    memtable_add(m, 2, KIND_VALUE, "ab", 2, "AB", 2);
    char b[16];
    size_t l;
    cr_assert_eq(get(m, "", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "empty");
    cr_assert_eq(get(m, "a", MAX_SEQUENCE, b, &l), MEMTABLE_NOTFOUND); /* a prefix of "ab" */
    cr_assert_eq(get(m, "abc", MAX_SEQUENCE, b, &l), MEMTABLE_NOTFOUND);
    cr_assert_eq(get(m, "ab", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    memtable_unref(m);
}

Test(memtable, binary_keys_with_nul_and_high_bytes_order_bytewise) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "\xff", 1, "ff", 2);
    memtable_add(m, 2, KIND_VALUE, "\x00\x01", 2, "0001", 4);
    memtable_add(m, 3, KIND_VALUE, "\x00", 1, "00", 2);
    memtable_add(m, 4, KIND_VALUE, "\x7f", 1, "7f", 2);
    internal_iter *it = memtable_iter_new(m);
    const char *want[] = {"00", "0001", "7f", "ff"};
    int i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        size_t vl;
        const char *v = iter_value(it, &vl);
        cr_assert_eq(vl, strlen(want[i]));
        cr_assert(memcmp(v, want[i], vl) == 0);
    }
    cr_assert_eq(i, 4);
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, iterator_holds_reference_after_owner_unrefs) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "key", 3, "value", 5);
    internal_iter *it = memtable_iter_new(m);
    memtable_unref(m); /* the iterator keeps it alive (ASAN would flag a use after free) */
    iter_seek_first(it);
    cr_assert(iter_valid(it));
    size_t vl;
    const char *v = iter_value(it, &vl);
    cr_assert_eq(vl, 5);
    cr_assert(memcmp(v, "value", 5) == 0);
    iter_destroy(it);
}

Test(memtable, iterator_stays_valid_across_inserts) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "b", 1, "1", 1);
    internal_iter *it = memtable_iter_new(m);
    iter_seek_first(it);
    memtable_add(m, 2, KIND_VALUE, "c", 1, "2", 1);
    memtable_add(m, 3, KIND_VALUE, "a", 1, "3", 1); /* before the cursor: not seen */
    /* entries added after the iterator was created are seen once linked (sealing links them;
     * until then they may be pending and unseen, which the lsm layer's snapshot hides anyway) */
    memtable_seal(m);
    size_t kl;
    cr_assert_eq(*iter_key(it, &kl), 'b');
    iter_next(it);
    cr_assert(iter_valid(it));
    cr_assert_eq(*iter_key(it, &kl), 'c');
    iter_next(it);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
    memtable_unref(m);
}

Test(memtable, large_value_over_arena_block_round_trips) {
    memtable *m = memtable_new();
    size_t n = 1u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)(i * 7);
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "big", 3, big, n), 0);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "small", 5, "s", 1), 0);
    const char *v;
    size_t vl;
    cr_assert_eq(memtable_get(m, "big", 3, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    cr_assert_eq(vl, n);
    cr_assert(memcmp(v, big, n) == 0);
    cr_assert_geq(memtable_memory_usage(m), n);
    free(big);
    memtable_unref(m);
}

Test(memtable, memory_usage_grows_with_inserts) {
    memtable *m = memtable_new();
    size_t u0 = memtable_memory_usage(m);
    char k[32], v[100];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 10000; i++) {
        int kl = snprintf(k, sizeof k, "key%08d", i);
        cr_assert_eq(memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, v, sizeof v), 0);
    }
    size_t u1 = memtable_memory_usage(m);
    cr_assert_geq(u1 - u0, 10000u * (11 + 8 + 100));
    cr_assert_lt(u1 - u0, 10000u * (11 + 8 + 100) * 2 + 2 * 256 * 1024);
    memtable_unref(m);
}

/* After the owner stops writing and hands the memtable over (pthread_create orders it, as the
 * flush queue does), another thread can iterate it while the owner still reads it. */
static void *count_entries(void *arg) {
    internal_iter *it = memtable_iter_new(arg);
    size_t n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) n++;
    iter_destroy(it);
    memtable_unref(arg);
    return (void *)n;
}

Test(memtable, immutable_table_is_readable_from_another_thread_after_handoff) {
    memtable *m = memtable_new();
    char k[16];
    for (int i = 0; i < 5000; i++) {
        int kl = snprintf(k, sizeof k, "k%05d", i);
        memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl);
    }
    memtable_seal(m); /* the owner links its pending entries before the handoff */
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        memtable_ref(m); /* the thread's reference */
        cr_assert_eq(pthread_create(&th[t], NULL, count_entries, m), 0);
    }
    const char *v;
    size_t vl;
    cr_assert_eq(memtable_get(m, "k04999", 6, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    memtable_unref(m); /* the last reference may now drop on a reader thread */
    for (int t = 0; t < 2; t++) {
        void *res;
        pthread_join(th[t], &res);
        cr_assert_eq((size_t)res, 5000);
    }
}

/* ---- randomized comparison against a sorted reference ---- */

typedef struct ref_ent {
    char key[24];
    size_t kl;
    uint64_t seq;
    int kind;
    uint32_t val;
} ref_ent;

static int ref_cmp(const void *a, const void *b) {
    const ref_ent *x = a, *y = b;
    int r = ukey_compare(x->key, x->kl, y->key, y->kl);
    if (r) return r;
    return x->seq > y->seq ? -1 : x->seq < y->seq ? 1 : 0;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

Test(memtable, seek_and_next_over_100k_random_keys_match_sorted_reference, .timeout = 60) {
    enum { N = 100000, KEYSPACE = 40000 };
    ref_ent *ref = malloc(sizeof(ref_ent) * N);
    memtable *m = memtable_new();
    for (int i = 0; i < N; i++) {
        ref_ent *e = &ref[i];
        /* variable length keys, many repeats (several versions per key) */
        e->kl = (size_t)snprintf(e->key, sizeof e->key, "%llx",
                                 (unsigned long long)(rnd() % KEYSPACE) * 2654435761ull);
        e->seq = (uint64_t)i + 1;
        e->kind = (rnd() % 8 == 0) ? KIND_DELETE : KIND_VALUE;
        e->val = (uint32_t)rnd();
        char vb[4];
        memcpy(vb, &e->val, 4);
        cr_assert_eq(memtable_add(m, e->seq, e->kind, e->key, e->kl, vb,
                                  e->kind == KIND_VALUE ? 4 : 0), 0);
    }
    cr_assert_eq(memtable_entries(m), N);
    qsort(ref, N, sizeof *ref, ref_cmp);

    internal_iter *it = memtable_iter_new(m);
    int i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (ikey_user_len(kl) != ref[i].kl || memcmp(k, ref[i].key, ref[i].kl) != 0 ||
            ikey_seq(k, kl) != ref[i].seq || ikey_kind(k, kl) != ref[i].kind)
            cr_assert_fail("mismatch at %d", i);
    }
    cr_assert_eq(i, N);

    /* seek to existing internal keys, and to lookup keys between versions */
    char ik[40];
    for (int t = 0; t < 20000; t++) {
        int j = (int)(rnd() % N);
        size_t ikl = ikey_encode(ik, ref[j].key, ref[j].kl, ref[j].seq, ref[j].kind);
        iter_seek(it, ik, ikl);
        cr_assert(iter_valid(it));
        size_t kl;
        const char *k = iter_key(it, &kl);
        cr_assert_eq(ikey_seq(k, kl), ref[j].seq);
        /* a lookup key at a snapshot >= seq lands on the newest version <= the snapshot */
        uint64_t snap = ref[j].seq + (rnd() % 3);
        ikl = ikey_lookup(ik, ref[j].key, ref[j].kl, snap);
        iter_seek(it, ik, ikl);
        /* expected: first ref entry >= lookup key */
        int lo = 0, hi = N;
        ref_ent probe;
        memcpy(probe.key, ref[j].key, ref[j].kl);
        probe.kl = ref[j].kl;
        probe.seq = snap;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (ref_cmp(&ref[mid], &probe) < 0) lo = mid + 1; else hi = mid;
        }
        cr_assert(iter_valid(it)); /* ref[j] itself is >= the lookup key */
        k = iter_key(it, &kl);
        cr_assert_eq(ikey_seq(k, kl), ref[lo].seq);
        /* memtable_get agrees with the reference */
        const char *v;
        size_t vl;
        int r = memtable_get(m, ref[j].key, ref[j].kl, snap, &v, &vl);
        if (ref[lo].kind == KIND_DELETE) {
            cr_assert_eq(r, MEMTABLE_DELETED);
        } else {
            cr_assert_eq(r, MEMTABLE_FOUND);
            cr_assert_eq(vl, 4);
            cr_assert(memcmp(v, &ref[lo].val, 4) == 0);
        }
        /* next walks on in reference order for a few steps */
        for (int s = 1; s < 5 && lo + s < N; s++) {
            iter_next(it);
            cr_assert(iter_valid(it));
            k = iter_key(it, &kl);
            cr_assert_eq(ikey_seq(k, kl), ref[lo + s].seq);
        }
    }
    /* seek past the last key */
    iter_seek(it, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
    memtable_unref(m);
    free(ref);
}

/* ---- hash index ---- */

static uint64_t keyseq_rng = 0x2545f4914f6cdd1dull;
static uint64_t krnd(void) {
    keyseq_rng ^= keyseq_rng << 13;
    keyseq_rng ^= keyseq_rng >> 7;
    keyseq_rng ^= keyseq_rng << 17;
    return keyseq_rng;
}

Test(memtable_index, get_after_overwrite_returns_newest_version) {
    memtable *m = memtable_new();
    char b[16];
    size_t l;
    for (int i = 1; i <= 50; i++) {
        char v[8];
        int vl = snprintf(v, sizeof v, "v%d", i);
        cr_assert_eq(memtable_add(m, (uint64_t)i, KIND_VALUE, "k", 1, v, (size_t)vl), 0);
        cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
        cr_assert_str_eq(b, v);
    }
    cr_assert_eq(memtable_entries(m), 50);
    memtable_unref(m);
}

Test(memtable_index, out_of_order_add_does_not_replace_newer_version) {
    memtable *m = memtable_new();
    memtable_add(m, 20, KIND_VALUE, "k", 1, "v20", 3);
    memtable_add(m, 10, KIND_VALUE, "k", 1, "v10", 3); /* older sequence added later */
    char b[16];
    size_t l;
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v20");
    cr_assert_eq(get(m, "k", 15, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v10");
    memtable_unref(m);
}

Test(memtable_index, older_snapshot_falls_back_to_older_versions_and_tombstones) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "k", 1, "v1", 2);
    memtable_add(m, 2, KIND_DELETE, "k", 1, NULL, 0);
    memtable_add(m, 3, KIND_VALUE, "k", 1, "v3", 2);
    memtable_add(m, 4, KIND_VALUE, "other", 5, "o", 1);
    memtable_add(m, 5, KIND_VALUE, "k", 1, "v5", 2);
    char b[16];
    size_t l;
    cr_assert_eq(get(m, "k", 0, b, &l), MEMTABLE_NOTFOUND); /* before every version */
    cr_assert_eq(get(m, "k", 1, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v1");
    cr_assert_eq(get(m, "k", 2, b, &l), MEMTABLE_DELETED);
    cr_assert_eq(get(m, "k", 3, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v3");
    cr_assert_eq(get(m, "k", 4, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v3");
    cr_assert_eq(get(m, "k", 5, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v5");
    cr_assert_eq(get(m, "other", 3, b, &l), MEMTABLE_NOTFOUND); /* newest (only) is too new */
    memtable_unref(m);
}

Test(memtable_index, put_after_delete_is_found_and_delete_after_put_is_deleted) {
    memtable *m = memtable_new();
    char b[16];
    size_t l;
    memtable_add(m, 1, KIND_DELETE, "k", 1, NULL, 0); /* tombstone of a key never put here */
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_DELETED);
    memtable_add(m, 2, KIND_VALUE, "k", 1, "v2", 2);
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "v2");
    cr_assert_eq(get(m, "k", 1, b, &l), MEMTABLE_DELETED);
    memtable_add(m, 3, KIND_DELETE, "k", 1, NULL, 0);
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, b, &l), MEMTABLE_DELETED);
    memtable_unref(m);
}

Test(memtable_index, empty_key_and_empty_value_through_the_index) {
    memtable *m = memtable_new();
    const char *v = NULL;
    size_t vl = 99;
    cr_assert_eq(memtable_get(m, "", 0, MAX_SEQUENCE, &v, &vl), MEMTABLE_NOTFOUND);
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "", 0, "", 0), 0);
    cr_assert_eq(memtable_get(m, "", 0, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    cr_assert_eq(vl, 0);
    cr_assert_not_null(v);
    cr_assert_eq(memtable_get(m, "\0", 1, MAX_SEQUENCE, &v, &vl), MEMTABLE_NOTFOUND);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "", 0, "e", 1), 0);
    cr_assert_eq(memtable_get(m, "", 0, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    cr_assert_eq(vl, 1);
    cr_assert_eq(memtable_get(m, "", 0, 1, &v, &vl), MEMTABLE_FOUND);
    cr_assert_eq(vl, 0);
    cr_assert_eq(memtable_add(m, 3, KIND_DELETE, "", 0, NULL, 0), 0);
    cr_assert_eq(memtable_get(m, "", 0, MAX_SEQUENCE, &v, &vl), MEMTABLE_DELETED);
    memtable_unref(m);
}

/* With the hash limited to 4 values every key collides in full (same hash, same home slot), so
 * lookups must compare key bytes along long probe chains, across growth too. */
/* Adds keys "<c>0" .. "<c>(n-1)" (sequences 1..n), each with itself as its value. */
static void add_numbered(memtable *m, char c, int n) {
    char k[24];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "%c%d", c, i);
        cr_assert_eq(memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl),
                     0);
    }
}

Test(memtable_index, keys_with_colliding_hashes_stay_distinct) {
    memtable *m = memtable_new();
    memtable_debug_limit_hash(m, 3);
    enum { N = 6000 }; /* grows several times while fully colliding */
    char k[24], b[24];
    size_t l;
    add_numbered(m, 'c', N);
    /* keys of different lengths and prefixes of each other ("c1", "c10", "c100") */
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "c%d", i);
        if (get(m, k, MAX_SEQUENCE, b, &l) != MEMTABLE_FOUND || strcmp(b, k) != 0)
            cr_assert_fail("key %s", k);
    }
    cr_assert_eq(get(m, "c", MAX_SEQUENCE, b, &l), MEMTABLE_NOTFOUND);
    cr_assert_eq(get(m, "c6000", MAX_SEQUENCE, b, &l), MEMTABLE_NOTFOUND);
    /* overwrite a colliding key: the index slot moves to the newest node */
    memtable_add(m, N + 1, KIND_VALUE, "c17", 3, "new", 3);
    cr_assert_eq(get(m, "c17", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "new");
    cr_assert_eq(get(m, "c17", N, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "c17");
    memtable_unref(m);
}

Test(memtable_index, debug_limit_hash_is_ignored_once_keys_exist) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "a", 1, "1", 1);
    memtable_debug_limit_hash(m, 0); /* would make "a" unfindable if it applied */
    char b[8];
    size_t l;
    cr_assert_eq(get(m, "a", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    memtable_unref(m);
}

/* An index past one huge page of slots is several pages (2^17 16-byte slots each): 180k keys need
 * 2^18 slots, more keys than one page has slots, so a page mapping that aliased pages could not
 * hold them; at load 0.69 probe chains also run across the boundary between the pages and from
 * the last slot back to the first. */
Test(memtable_index, a_two_page_index_holds_more_keys_than_one_page_has_slots, .timeout = 60) {
    memtable *m = memtable_new();
    enum { N = 180000 };
    char k[24], b[24];
    size_t l;
    add_numbered(m, 'p', N);
    cr_assert_eq(memtable_index_bytes(m), (size_t)16 << 18, "two pages of slots");
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "p%d", i);
        if (get(m, k, MAX_SEQUENCE, b, &l) != MEMTABLE_FOUND || strcmp(b, k) != 0)
            cr_assert_fail("key %s", k);
    }
    for (int i = N; i < N + 5000; i++) {
        snprintf(k, sizeof k, "p%d", i);
        if (get(m, k, MAX_SEQUENCE, b, &l) != MEMTABLE_NOTFOUND) cr_assert_fail("absent %s", k);
    }
    memtable_unref(m);
}

typedef struct kv_ref {
    char key[24];
    size_t kl;
    uint64_t seq;  /* newest sequence */
    int kind;
    uint32_t val;
} kv_ref;

Test(memtable_index, growth_across_doublings_keeps_every_key_findable_100k_random, .timeout = 60) {
    enum { N = 100000 };
    kv_ref *ref = calloc(N, sizeof *ref);
    memtable *m = memtable_new();
    size_t bytes0 = memtable_index_bytes(m);
    uint64_t seq = 0;
    for (int i = 0; i < N; i++) {
        kv_ref *e = &ref[i];
        /* random binary keys of 3..19 bytes; a fixed-width index prefix keeps them distinct */
        e->key[0] = (char)(i >> 16);
        e->key[1] = (char)(i >> 8);
        e->key[2] = (char)i;
        e->kl = 3 + (size_t)(krnd() % 17);
        for (size_t j = 3; j < e->kl; j++) e->key[j] = (char)(krnd() & 0xff);
        e->seq = ++seq;
        e->kind = KIND_VALUE;
        e->val = (uint32_t)krnd();
        cr_assert_eq(memtable_add(m, e->seq, KIND_VALUE, e->key, e->kl, &e->val, 4), 0);
        /* every so often rewrite or delete an earlier key */
        if (i % 7 == 0) {
            kv_ref *o = &ref[krnd() % (uint64_t)(i + 1)];
            o->seq = ++seq;
            o->kind = (krnd() % 3 == 0) ? KIND_DELETE : KIND_VALUE;
            o->val = (uint32_t)krnd();
            cr_assert_eq(memtable_add(m, o->seq, o->kind, o->key, o->kl, &o->val,
                                      o->kind == KIND_VALUE ? 4 : 0), 0);
        }
    }
    /* 100k distinct keys at load <= 0.7 need >= 2^18 slots: many doublings */
    cr_assert_geq(memtable_index_bytes(m), (size_t)16 << 18);
    cr_assert_geq(memtable_index_bytes(m), bytes0 * 64);
    for (int i = 0; i < N; i++) {
        const kv_ref *e = &ref[i];
        const char *v;
        size_t vl;
        int r = memtable_get(m, e->key, e->kl, MAX_SEQUENCE, &v, &vl);
        if (e->kind == KIND_DELETE) {
            if (r != MEMTABLE_DELETED) cr_assert_fail("key %d: %d, want deleted", i, r);
        } else if (r != MEMTABLE_FOUND || vl != 4 || memcmp(v, &e->val, 4) != 0) {
            cr_assert_fail("key %d: %d, want found", i, r);
        }
    }
    /* absent keys (lengths that collide with present ones, bytes that do not) */
    char k[32];
    for (int i = 0; i < 20000; i++) {
        int kl = snprintf(k, sizeof k, "absent-%d", i);
        const char *v;
        size_t vl;
        if (memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl) != MEMTABLE_NOTFOUND)
            cr_assert_fail("absent key %s found", k);
    }
    memtable_unref(m);
    free(ref);
}

Test(memtable_index, memory_usage_includes_the_index) {
    memtable *m = memtable_new();
    cr_assert_gt(memtable_index_bytes(m), 0);
    cr_assert_geq(memtable_memory_usage(m), memtable_index_bytes(m));
    char k[16];
    enum { N = 50000 };
    size_t keybytes = 0;
    for (int i = 0; i < N; i++) {
        int kl = snprintf(k, sizeof k, "k%06d", i);
        memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, "v", 1);
        keybytes += (size_t)kl + 8 + 1;
    }
    size_t ib = memtable_index_bytes(m);
    cr_assert_geq(ib, (size_t)N * 16 * 10 / 7); /* 16-byte slots at load <= 0.7 */
    cr_assert_geq(memtable_memory_usage(m), ib + keybytes);
    /* overwrites of existing keys add nodes but no index slots */
    for (int i = 0; i < 1000; i++) {
        int kl = snprintf(k, sizeof k, "k%06d", i);
        memtable_add(m, (uint64_t)N + (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, "w", 1);
    }
    cr_assert_eq(memtable_index_bytes(m), ib);
    memtable_unref(m);
}

/* The index is read by other threads after the handoff (TSAN checks the ordering). */
static void *get_all(void *arg) {
    memtable *m = arg;
    char k[16];
    size_t found = 0;
    for (int i = 0; i < 5000; i++) {
        int kl = snprintf(k, sizeof k, "k%05d", i);
        const char *v;
        size_t vl;
        if (memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl) == MEMTABLE_FOUND) found++;
    }
    memtable_unref(m);
    return (void *)found;
}

Test(memtable_index, immutable_table_index_is_readable_from_another_thread_after_handoff) {
    memtable *m = memtable_new();
    char k[16];
    for (int i = 0; i < 5000; i++) { /* the index grows several times */
        int kl = snprintf(k, sizeof k, "k%05d", i);
        memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl);
    }
    memtable_seal(m);
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        memtable_ref(m);
        cr_assert_eq(pthread_create(&th[t], NULL, get_all, m), 0);
    }
    const char *v;
    size_t vl;
    cr_assert_eq(memtable_get(m, "k00000", 6, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
    memtable_unref(m);
    for (int t = 0; t < 2; t++) {
        void *res;
        pthread_join(th[t], &res);
        cr_assert_eq((size_t)res, 5000);
    }
}

/* New versions of a key already present are often linked just before its newest node without a
 * descent (through the level-0 predecessor): the order must be the same as a descent gives,
 * for the first key in the table (predecessor = head) and for keys in the middle. */
Test(memtable_index, overwrites_of_first_and_middle_keys_keep_list_order) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "b", 1, "b", 1);
    memtable_add(m, 2, KIND_VALUE, "d", 1, "d", 1);
    memtable_add(m, 3, KIND_VALUE, "a", 1, "a", 1);
    internal_iter *held = memtable_iter_new(m);
    iter_seek(held, "b", 1); /* on b@1, which later versions are linked before */
    cr_assert(iter_valid(held));
    uint64_t seq = 3, newest_c = 0;
    for (int r = 0; r < 300; r++) {
        const char *k = (r % 3 == 0) ? "a" : (r % 3 == 1) ? "b" : "d";
        cr_assert_eq(memtable_add(m, ++seq, r % 5 == 0 ? KIND_DELETE : KIND_VALUE, k, 1, k, 1),
                     0);
        if (r % 50 == 0) { /* a key between them */
            newest_c = ++seq;
            memtable_add(m, newest_c, KIND_VALUE, "c", 1, "c", 1);
        }
    }
    cr_assert_eq(memtable_entries(m), seq);
    internal_iter *it = memtable_iter_new(m);
    const char *prev = NULL;
    size_t prevl = 0, n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), n++) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (prev && ikey_compare(prev, prevl, k, kl) >= 0) cr_assert_fail("order at %zu", n);
        prev = k;
        prevl = kl;
    }
    cr_assert_eq(n, seq);
    iter_destroy(it);
    /* the held iterator continues from b@1 to the versions of c (newest first) */
    size_t kl;
    const char *hk = iter_key(held, &kl);
    cr_assert_eq(ikey_seq(hk, kl), 1);
    iter_next(held);
    cr_assert(iter_valid(held));
    hk = iter_key(held, &kl);
    cr_assert_eq(hk[0], 'c');
    cr_assert_eq(ikey_seq(hk, kl), newest_c);
    iter_destroy(held);
    char b[4];
    size_t l;
    cr_assert_eq(get(m, "a", 3, b, &l), MEMTABLE_FOUND); /* oldest version through the list */
    memtable_unref(m);
}

/* ---- deferred (pending) linking of new entries ---- */

/* Counts the entries of m in order; fails unless strictly ascending in internal-key order. */
static size_t count_in_order(memtable *m) {
    internal_iter *it = memtable_iter_new(m);
    const char *prev = NULL;
    size_t prevl = 0, n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), n++) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (prev && ikey_compare(prev, prevl, k, kl) >= 0) cr_assert_fail("order at %zu", n);
        prev = k;
        prevl = kl;
    }
    iter_destroy(it);
    return n;
}

/* Around the pending bound (a merge happens when it fills; the exact bound is internal, so the
 * counts cover any bound up to 8192): every key is found at the latest snapshot at every step,
 * and iteration afterwards sees all of them in order. */
Test(memtable_pending, pending_merge_at_the_bound_keeps_every_key_visible_and_ordered,
     .timeout = 60) {
    memtable *m = memtable_new();
    char k[24];
    const int n = 9000;
    for (int i = 0; i < n; i++) {
        /* descending-ish scrambled order: i * 7919 mod n */
        int kl = snprintf(k, sizeof k, "p%06d", (int)(((long)i * 7919) % n));
        cr_assert_eq(memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl),
                     0);
        const char *v;
        size_t vl;
        cr_assert_eq(memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
        cr_assert(vl == (size_t)kl && memcmp(v, k, vl) == 0);
    }
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "p%06d", i);
        const char *v;
        size_t vl;
        cr_assert_eq(memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND, "%s",
                     k);
    }
    cr_assert_eq(count_in_order(m), (size_t)n);
    memtable_unref(m);
}

/* An older snapshot than the newest version needs the ordered list, while the versions are
 * still pending (added just before, nothing iterated). */
Test(memtable_pending, get_at_an_older_snapshot_while_entries_are_pending) {
    memtable *m = memtable_new();
    memtable_add(m, 1, KIND_VALUE, "x", 1, "x1", 2);
    memtable_add(m, 2, KIND_VALUE, "y", 1, "y2", 2);
    memtable_add(m, 3, KIND_VALUE, "x", 1, "x3", 2);
    memtable_add(m, 4, KIND_DELETE, "y", 1, NULL, 0);
    memtable_add(m, 5, KIND_VALUE, "y", 1, "y5", 2);
    char b[8];
    size_t l;
    cr_assert_eq(get(m, "x", 2, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "x1");
    cr_assert_eq(get(m, "x", 0, b, &l), MEMTABLE_NOTFOUND);
    cr_assert_eq(get(m, "y", 4, b, &l), MEMTABLE_DELETED);
    cr_assert_eq(get(m, "y", 3, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "y2");
    /* more versions pending after that merge */
    memtable_add(m, 6, KIND_VALUE, "x", 1, "x6", 2);
    memtable_add(m, 7, KIND_VALUE, "w", 1, "w7", 2);
    cr_assert_eq(get(m, "x", 5, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "x3");
    cr_assert_eq(get(m, "x", MAX_SEQUENCE, b, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(b, "x6");
    cr_assert_eq(get(m, "w", 6, b, &l), MEMTABLE_NOTFOUND);
    cr_assert_eq(count_in_order(m), 7);
    memtable_unref(m);
}

/* An iterator created while entries are pending sees every one of them, in order; an iterator
 * held across later adds (and the merges they trigger) stays valid. */
Test(memtable_pending, iterator_created_with_pending_entries_sees_them_all_in_order) {
    memtable *m = memtable_new();
    char k[16];
    for (int i = 0; i < 300; i++) {
        int kl = snprintf(k, sizeof k, "i%04d", (i * 37) % 300);
        memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl);
    }
    internal_iter *it = memtable_iter_new(m);
    iter_seek_first(it);
    for (int i = 0; i < 300; i++, iter_next(it)) {
        cr_assert(iter_valid(it));
        size_t kl;
        const char *ik = iter_key(it, &kl);
        snprintf(k, sizeof k, "i%04d", i);
        cr_assert_eq(ikey_user_len(kl), 5);
        cr_assert(memcmp(ik, k, 5) == 0, "at %d", i);
    }
    cr_assert_not(iter_valid(it));
    iter_seek(it, "i0150", 5);
    cr_assert(iter_valid(it));
    for (int i = 0; i < 20000; i++) { /* several merges while it is held */
        int kl = snprintf(k, sizeof k, "j%05d", (i * 7919) % 20000);
        memtable_add(m, (uint64_t)i + 301, KIND_VALUE, k, (size_t)kl, k, (size_t)kl);
    }
    size_t kl;
    const char *ik = iter_key(it, &kl);
    cr_assert(memcmp(ik, "i0150", 5) == 0);
    iter_next(it);
    ik = iter_key(it, &kl);
    cr_assert(memcmp(ik, "i0151", 5) == 0);
    iter_destroy(it);
    cr_assert_eq(count_in_order(m), 20300);
    memtable_unref(m);
}

/* memtable_seal links everything on the owner thread; then another thread iterates and reads
 * (TSAN checks that no merge happens there). */
Test(memtable_pending, seal_then_iterate_from_another_thread) {
    memtable *m = memtable_new();
    char k[16];
    for (int i = 0; i < 5000; i++) {
        int kl = snprintf(k, sizeof k, "k%05d", (i * 7919) % 5000);
        memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, k, (size_t)kl);
    }
    memtable_seal(m);
    memtable_seal(m); /* idempotent */
    pthread_t th[2];
    memtable_ref(m);
    cr_assert_eq(pthread_create(&th[0], NULL, count_entries, m), 0);
    memtable_ref(m);
    cr_assert_eq(pthread_create(&th[1], NULL, get_all, m), 0);
    cr_assert_eq(get(m, "k00001", 3, (char[16]){0}, &(size_t){0}), MEMTABLE_NOTFOUND);
    memtable_unref(m);
    void *res;
    pthread_join(th[0], &res);
    cr_assert_eq((size_t)res, 5000);
    pthread_join(th[1], &res);
    cr_assert_eq((size_t)res, 5000);
}

/* 100k random operations (puts, overwrites, deletes on a small key space) against a reference,
 * checked at the latest snapshot, at older snapshots, and by a full iteration, across many
 * merges. */
Test(memtable_pending, random_keys_with_overwrites_and_deletes_match_reference_across_merges,
     .timeout = 60) {
    enum { NOPS = 100000, NKEYS = 20000 };
    memtable *m = memtable_new();
    uint32_t *latest = calloc(NKEYS, sizeof(uint32_t)); /* 0 absent, 1 deleted, v+2 value */
    uint64_t *latest_seq = calloc(NKEYS, sizeof(uint64_t));
    cr_assert(latest && latest_seq);
    uint64_t st = 0x1234567u;
    char k[24];
    for (uint64_t seq = 1; seq <= NOPS; seq++) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        uint32_t ki = (uint32_t)(st % NKEYS);
        int kl = snprintf(k, sizeof k, "r%u", ki); /* prefix keys of different lengths */
        uint32_t val = (uint32_t)(st >> 40);
        int del = (st >> 20) % 7 == 0;
        cr_assert_eq(memtable_add(m, seq, del ? KIND_DELETE : KIND_VALUE, k, (size_t)kl, &val,
                                  del ? 0 : sizeof val),
                     0);
        uint32_t before = latest[ki];
        uint64_t before_seq = latest_seq[ki];
        latest[ki] = del ? 1 : val + 2;
        latest_seq[ki] = seq;
        if (seq % 997 == 0 && before_seq) { /* the previous version at the snapshot before */
            const char *v;
            size_t vl;
            int r = memtable_get(m, k, (size_t)kl, seq - 1, &v, &vl);
            if (before == 1) {
                cr_assert_eq(r, MEMTABLE_DELETED);
            } else {
                cr_assert_eq(r, MEMTABLE_FOUND);
                uint32_t got;
                memcpy(&got, v, 4);
                cr_assert_eq(got + 2, before);
            }
        }
    }
    size_t live = 0;
    for (uint32_t ki = 0; ki < NKEYS; ki++) {
        int kl = snprintf(k, sizeof k, "r%u", ki);
        const char *v;
        size_t vl;
        int r = memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl);
        if (latest[ki] == 0) {
            cr_assert_eq(r, MEMTABLE_NOTFOUND);
        } else if (latest[ki] == 1) {
            cr_assert_eq(r, MEMTABLE_DELETED);
        } else {
            live++;
            cr_assert_eq(r, MEMTABLE_FOUND);
            uint32_t got;
            memcpy(&got, v, 4);
            cr_assert_eq(got + 2, latest[ki]);
        }
    }
    cr_assert_gt(live, 0);
    /* full iteration: every entry once, in order; the first entry of each user key is its
     * newest version */
    internal_iter *it = memtable_iter_new(m);
    const char *prev = NULL;
    size_t prevl = 0, n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), n++) {
        size_t kl;
        const char *ik = iter_key(it, &kl);
        if (prev && ikey_compare(prev, prevl, ik, kl) >= 0) cr_assert_fail("order at %zu", n);
        size_t ukl = ikey_user_len(kl);
        if (!prev || ikey_user_len(prevl) != ukl || memcmp(prev, ik, ukl) != 0) {
            char buf[24];
            memcpy(buf, ik, ukl);
            buf[ukl] = 0;
            uint32_t ki = (uint32_t)strtoul(buf + 1, NULL, 10);
            cr_assert_eq(ikey_seq(ik, kl), latest_seq[ki]);
        }
        prev = ik;
        prevl = kl;
    }
    iter_destroy(it);
    cr_assert_eq(n, (size_t)NOPS);
    cr_assert_eq(memtable_entries(m), (uint64_t)NOPS);
    free(latest);
    free(latest_seq);
    memtable_unref(m);
}

Test(memtable, index_sized_up_front_never_grows_for_the_expected_keys) {
    memtable *small = memtable_new();
    memtable *m = memtable_new_for(100000);
    size_t start = memtable_index_bytes(m);
    cr_assert_lt(memtable_index_bytes(small), start);
    cr_assert_geq(start / 16 * 7 / 10, 100000, "room for 100k keys at load <= 0.7");
    char k[32];
    for (int i = 0; i < 100000; i++) {
        int kl = snprintf(k, sizeof(k), "key:%d", i);
        cr_assert_eq(memtable_add(m, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, "v", 1), 0);
        cr_assert_eq(memtable_add(small, (uint64_t)i + 1, KIND_VALUE, k, (size_t)kl, "v", 1), 0);
    }
    cr_assert_eq(memtable_index_bytes(m), start, "no rehash while the expected keys arrive");
    cr_assert_eq(memtable_distinct_keys(m), 100000);
    cr_assert_eq(memtable_index_bytes(small), start, "grown one doubling at a time to the same size");
    /* overwrites are not distinct keys */
    cr_assert_eq(memtable_add(m, 200001, KIND_VALUE, "key:7", 5, "w", 1), 0);
    cr_assert_eq(memtable_distinct_keys(m), 100000);
    char buf[8];
    size_t l;
    cr_assert_eq(get(m, "key:7", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "w");
    cr_assert_eq(get(m, "key:99999", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    memtable_unref(m);
    memtable_unref(small);
    memtable *z = memtable_new_for(0), *d = memtable_new();
    cr_assert_eq(memtable_index_bytes(z), memtable_index_bytes(d), "0 expected = the default");
    memtable_unref(z);
    memtable_unref(d);
}

/* ---- backward iteration (prev0 links, find_last) ---- */

/* ref_cmp with the kind as tie-break (internal-key order exactly: trailer descending). */
static int ref_cmp_ikey(const ref_ent *x, const ref_ent *y) {
    int r = ref_cmp(x, y);
    if (r) return r;
    return x->kind > y->kind ? -1 : x->kind < y->kind ? 1 : 0;
}

Test(memtable_reverse, empty_table_seek_last_seek_for_prev_and_prev_are_invalid) {
    memtable *m = memtable_new();
    internal_iter *it = memtable_iter_new(m);
    iter_seek_last(it);
    cr_assert_not(iter_valid(it));
    char ik[16];
    size_t ikl = ikey_lookup(ik, "a", 1, 5);
    iter_seek_for_prev(it, ik, ikl);
    cr_assert_not(iter_valid(it));
    iter_prev(it);
    cr_assert_not(iter_valid(it));
    iter_destroy(it);
    memtable_unref(m);
}

/* The whole list backward equals the forward list reversed; a prev then a next returns. */
static void check_backward_matches_forward(memtable *m) {
    internal_iter *it = memtable_iter_new(m);
    size_t cap = 1024, n = 0;
    const char **keys = malloc(cap * sizeof *keys);
    size_t *lens = malloc(cap * sizeof *lens);
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        if (n == cap) {
            cap *= 2;
            keys = realloc(keys, cap * sizeof *keys);
            lens = realloc(lens, cap * sizeof *lens);
        }
        keys[n] = iter_key(it, &lens[n]); /* arena pointers: stable */
        n++;
    }
    size_t i = n;
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
        cr_assert_gt(i, 0, "backward walk longer than the forward one (%zu)", n);
        i--;
        size_t kl;
        const char *k = iter_key(it, &kl);
        cr_assert(k == keys[i] && kl == lens[i], "backward entry %zu differs from forward", i);
    }
    cr_assert_eq(i, 0, "backward walk stopped %zu entries short", i);
    /* direction switches at every 37th entry */
    for (i = 1; i < n; i += 37) {
        iter_seek(it, keys[i], lens[i]);
        iter_prev(it);
        size_t kl;
        cr_assert(iter_valid(it) && iter_key(it, &kl) == keys[i - 1]);
        iter_next(it);
        cr_assert(iter_valid(it) && iter_key(it, &kl) == keys[i]);
    }
    free(keys);
    free(lens);
    iter_destroy(it);
}

Test(memtable_reverse, backward_walk_and_seek_for_prev_match_sorted_reference_100k,
     .timeout = 60) {
    enum { N = 100000, KEYSPACE = 30000 };
    ref_ent *ref = malloc(sizeof(ref_ent) * N);
    memtable *m = memtable_new();
    for (int i = 0; i < N; i++) {
        ref_ent *e = &ref[i];
        e->kl = (size_t)snprintf(e->key, sizeof e->key, "%llx",
                                 (unsigned long long)(rnd() % KEYSPACE) * 2654435761ull);
        e->seq = (uint64_t)i + 1;
        e->kind = (rnd() % 8 == 0) ? KIND_DELETE : KIND_VALUE;
        e->val = (uint32_t)rnd();
        cr_assert_eq(memtable_add(m, e->seq, e->kind, e->key, e->kl, &e->val,
                                  e->kind == KIND_VALUE ? 4 : 0), 0);
    }
    qsort(ref, N, sizeof *ref, ref_cmp);
    internal_iter *it = memtable_iter_new(m);
    int i = N - 1;
    for (iter_seek_last(it); iter_valid(it); iter_prev(it), i--) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (i < 0 || ikey_user_len(kl) != ref[i].kl || memcmp(k, ref[i].key, ref[i].kl) != 0 ||
            ikey_seq(k, kl) != ref[i].seq)
            cr_assert_fail("backward mismatch at %d", i);
    }
    cr_assert_eq(i, -1);
    /* seek_for_prev: to exact internal keys (lands on them), and to lookup keys between
     * versions and between user keys (the last entry <= probe) */
    char ik[40];
    size_t ikl;
    for (int t = 0; t < 20000; t++) {
        int j = (int)(rnd() % N);
        ikl = ikey_encode(ik, ref[j].key, ref[j].kl, ref[j].seq, ref[j].kind);
        iter_seek_for_prev(it, ik, ikl);
        cr_assert(iter_valid(it));
        size_t kl;
        const char *k = iter_key(it, &kl);
        cr_assert_eq(ikey_seq(k, kl), ref[j].seq);
        ref_ent probe;
        memcpy(probe.key, ref[j].key, ref[j].kl);
        probe.kl = ref[j].kl;
        probe.kind = KIND_VALUE; /* ikey_lookup's kind */
        if (t % 2) { /* a longer user key: after every version of ref[j]'s key */
            probe.key[probe.kl++] = '\0';
            probe.seq = MAX_SEQUENCE;
        } else {
            probe.seq = ref[j].seq - (rnd() % 3); /* older: sorts after ref[j] */
        }
        ikl = ikey_lookup(ik, probe.key, probe.kl, probe.seq);
        iter_seek_for_prev(it, ik, ikl);
        int lo = 0, hi = N; /* first ref > probe; the answer is the one before */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (ref_cmp_ikey(&ref[mid], &probe) <= 0) lo = mid + 1; else hi = mid;
        }
        cr_assert(lo > 0 && iter_valid(it));
        k = iter_key(it, &kl);
        cr_assert(ikey_user_len(kl) == ref[lo - 1].kl &&
                  memcmp(k, ref[lo - 1].key, ref[lo - 1].kl) == 0 &&
                  ikey_seq(k, kl) == ref[lo - 1].seq, "seek_for_prev probe %d", t);
        for (int s = 1; s < 4 && lo - 1 - s >= 0; s++) { /* prev walks on */
            iter_prev(it);
            cr_assert(iter_valid(it));
            k = iter_key(it, &kl);
            cr_assert_eq(ikey_seq(k, kl), ref[lo - 1 - s].seq);
        }
    }
    /* before the first key: nothing; after the last: the last */
    ikl = ikey_lookup(ik, "", 0, MAX_SEQUENCE);
    iter_seek_for_prev(it, ik, ikl);
    cr_assert_not(iter_valid(it));
    iter_seek_for_prev(it, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
    cr_assert(iter_valid(it));
    size_t kl;
    const char *lk = iter_key(it, &kl);
    cr_assert_eq(ikey_seq(lk, kl), ref[N - 1].seq);
    iter_destroy(it);
    check_backward_matches_forward(m);
    memtable_unref(m);
    free(ref);
}

/* New versions of a key linked by the prev0 fast path (height 1, just before the key's newest
 * node), including of the first key (its predecessor is the head), and sorted pending batches:
 * the level-0 back links stay exact. */
Test(memtable_reverse, prev_links_stay_exact_under_fast_path_overwrites_and_batches,
     .timeout = 60) {
    memtable *m = memtable_new();
    uint64_t seq = 1;
    char k[24];
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 5000; i++) {
            uint32_t ki = (uint32_t)(krnd() % 3000);
            if (i % 50 == 0) ki = 0; /* the first key: prev0 is the head */
            int kl = snprintf(k, sizeof k, "o%u", ki);
            cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "v", 1), 0);
        }
        check_backward_matches_forward(m); /* iter_new links what is pending */
    }
    /* an iterator sitting on a key while new versions of it and its neighbours arrive: prev
     * from it meets them (they are newer than the iterator's view; lsm hides them) in order */
    internal_iter *it = memtable_iter_new(m);
    char ik[40];
    size_t ikl = ikey_lookup(ik, "o1500", 5, MAX_SEQUENCE);
    iter_seek(it, ik, ikl);
    cr_assert(iter_valid(it));
    for (int i = 0; i < 3000; i++) {
        int kl = snprintf(k, sizeof k, "o%u", (uint32_t)(krnd() % 3000));
        cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "w", 1), 0);
    }
    memtable_seal(m);
    size_t n = 0, pl = 0;
    char prevk[40];
    for (; iter_valid(it); iter_prev(it), n++) {
        size_t kl2;
        const char *k2 = iter_key(it, &kl2);
        if (n) cr_assert_gt(ikey_compare(prevk, pl, k2, kl2), 0, "descending at %zu", n);
        memcpy(prevk, k2, kl2);
        pl = kl2;
    }
    cr_assert_gt(n, 1000);
    iter_destroy(it);
    check_backward_matches_forward(m);
    memtable_unref(m);
}

/* Batches of adjacent keys (appends at either end, as stream entries and list pushes make, and
 * two interleaved append streams with old keys between them): each batch's nodes land next to
 * each other, so linking them relies on the group's own nodes as predecessors. Every key is
 * listed once, in order, both ways, and found through the index. */
Test(memtable_pending, adjacent_appends_ascending_descending_and_interleaved_link_in_order,
     .timeout = 60) {
    memtable *m = memtable_new();
    uint64_t seq = 1;
    char k[32];
    for (int i = 0; i < 200; i++) { /* keys around and between the appended ranges */
        int kl = snprintf(k, sizeof k, "%c%03d", "ABCZ"[i % 4], i);
        cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "o", 1), 0);
    }
    memtable_seal(m);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "B+%08d", i); /* ascending: appends */
        cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "a", 1), 0);
        kl = snprintf(k, sizeof k, "C-%08d", n - i); /* descending: pushes at the head */
        cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "d", 1), 0);
        if (i % 3 == 0) { /* and, now and then, a new version of an old key */
            kl = snprintf(k, sizeof k, "%c%03d", "ABCZ"[i % 4], (i / 3) % 200);
            cr_assert_eq(memtable_add(m, seq++, KIND_VALUE, k, (size_t)kl, "n", 1), 0);
        }
    }
    cr_assert_eq(count_in_order(m), (size_t)(seq - 1));
    check_backward_matches_forward(m);
    for (int i = 0; i < n; i += 997) {
        char v[8];
        size_t vl;
        snprintf(k, sizeof k, "B+%08d", i);
        cr_assert_eq(get(m, k, MAX_SEQUENCE, v, &vl), MEMTABLE_FOUND, "%s", k);
        snprintf(k, sizeof k, "C-%08d", n - i);
        cr_assert_eq(get(m, k, MAX_SEQUENCE, v, &vl), MEMTABLE_FOUND, "%s", k);
    }
    memtable_unref(m);
}

/* ---- overwrite in place (memtable_put with an mt_overwrite policy) ---- */

static int put_ow(memtable *m, uint64_t seq, int kind, const char *k, const char *v,
                  uint64_t floor_seq, uint64_t undo_below) {
    mt_overwrite ow = {floor_seq, undo_below, 0};
    return memtable_put(m, seq, kind, k, strlen(k), v, v ? strlen(v) : 0, &ow);
}

/* every (user key, sequence, value) of m in list order, as "k@seq=v " */
static void dump(memtable *m, char *out, size_t cap) {
    internal_iter *it = memtable_iter_new(m);
    size_t n = 0;
    out[0] = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        size_t kl, vl;
        const char *k = iter_key(it, &kl);
        const char *v = iter_value(it, &vl);
        n += (size_t)snprintf(out + n, cap - n, "%.*s@%llu%s%.*s ", (int)ikey_user_len(kl), k,
                              (unsigned long long)ikey_seq(k, kl),
                              ikey_kind(k, kl) == KIND_DELETE ? "=DEL" : "=", (int)vl, v);
    }
    iter_destroy(it);
}

Test(memtable_overwrite, newest_node_takes_the_new_version_in_place_above_the_floor) {
    memtable *m = memtable_new();
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "k", 1, "aaaa", 4), 0);
    size_t mem = memtable_memory_usage(m);
    cr_assert_eq(put_ow(m, 2, KIND_VALUE, "k", "bbbb", 0, 0), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_ow(m, 3, KIND_VALUE, "k", "cc", 0, 0), MEMTABLE_OVERWRITTEN); /* shorter */
    char buf[256];
    size_t l;
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "cc");
    cr_assert_eq(memtable_entries(m), 1, "no node was added");
    cr_assert_eq(memtable_memory_usage(m), mem, "no memory was used");
    cr_assert_eq(memtable_overwrites(m), 2);
    dump(m, buf, sizeof buf);
    cr_assert_str_eq(buf, "k@3=cc ", "the node carries the new sequence: %s", buf);
    /* back to the original length fits; a tombstone fits anything */
    cr_assert_eq(put_ow(m, 4, KIND_VALUE, "k", "dddd", 0, 0), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_ow(m, 5, KIND_DELETE, "k", NULL, 0, 0), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(get(m, "k", MAX_SEQUENCE, buf, &l), MEMTABLE_DELETED);
    memtable_unref(m);
}

Test(memtable_overwrite, refused_at_or_below_the_floor_for_a_longer_value_or_a_new_key) {
    memtable *m = memtable_new();
    cr_assert_eq(memtable_add(m, 5, KIND_VALUE, "k", 1, "aa", 2), 0);
    cr_assert_eq(put_ow(m, 6, KIND_VALUE, "k", "bb", 5, 0), 0, "seq 5 <= floor 5: a new node");
    cr_assert_eq(put_ow(m, 7, KIND_VALUE, "k", "ccc", 0, 0), 0, "3 bytes do not fit in 2");
    cr_assert_eq(put_ow(m, 8, KIND_VALUE, "j", "x", 0, 0), 0, "a new key is added");
    cr_assert_eq(memtable_overwrites(m), 0);
    char buf[256];
    size_t l;
    dump(m, buf, sizeof buf);
    cr_assert_str_eq(buf, "j@8=x k@7=ccc k@6=bb k@5=aa ", "%s", buf);
    /* every version is still there for older snapshots */
    cr_assert_eq(get(m, "k", 6, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "bb");
    cr_assert_eq(get(m, "k", 5, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "aa");
    /* a policy-less add never overwrites */
    cr_assert_eq(memtable_put(m, 9, KIND_VALUE, "k", 1, "d", 1, NULL), 0);
    cr_assert_eq(memtable_entries(m), 5);
    memtable_unref(m);
}

Test(memtable_overwrite, undo_apply_restores_what_predates_the_group_and_copy_keeps_it) {
    memtable *m = memtable_new();
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "a", 1, "a1-long", 7), 0);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "b", 1, "b1", 2), 0);
    /* a group begins at sequence 3 */
    memtable_undo_clear(m);
    cr_assert_eq(put_ow(m, 3, KIND_VALUE, "a", "a3", 0, 3), MEMTABLE_OVERWRITTEN); /* recorded */
    cr_assert_eq(put_ow(m, 4, KIND_VALUE, "a", "a4", 0, 3), MEMTABLE_OVERWRITTEN); /* group's own */
    cr_assert_eq(put_ow(m, 5, KIND_DELETE, "b", NULL, 0, 3), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_ow(m, 6, KIND_VALUE, "c", "c6", 0, 3), 0);
    char buf[256];
    size_t l;
    dump(m, buf, sizeof buf);
    cr_assert_str_eq(buf, "a@4=a4 b@5=DEL c@6=c6 ", "%s", buf);
    /* the group is rolled back: undo, then keep what is <= 2 */
    memtable_undo_apply(m);
    memtable *c = memtable_copy_upto(m, 2);
    cr_assert_not_null(c);
    dump(c, buf, sizeof buf);
    cr_assert_str_eq(buf, "a@1=a1-long b@2=b1 ", "%s", buf);
    cr_assert_eq(get(c, "a", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "a1-long");
    memtable_unref(c);
    /* after a clear (the group ended) nothing is taken back */
    memtable_undo_clear(m);
    cr_assert_eq(put_ow(m, 7, KIND_VALUE, "a", "a7", 0, 7), MEMTABLE_OVERWRITTEN);
    memtable_undo_clear(m);
    memtable_undo_apply(m);
    cr_assert_eq(get(m, "a", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "a7");
    memtable_unref(m);
}

/* ---- overwrites of committed nodes (mt_overwrite.committed) and the commit undo log ---- */

static int put_cow(memtable *m, uint64_t seq, int kind, const char *k, const char *v,
                   uint64_t floor_seq, uint64_t undo_below) {
    mt_overwrite ow = {floor_seq, undo_below, 1};
    return memtable_put(m, seq, kind, k, strlen(k), v, v ? strlen(v) : 0, &ow);
}

Test(memtable_overwrite, committed_node_is_replaced_recorded_and_put_back_on_a_failed_commit) {
    memtable *m = memtable_new();
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "a", 1, "a1-long", 7), 0);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "b", 1, "b2", 2), 0);
    /* committed up to 2: a pop-like delete and a shorter value take the committed nodes */
    cr_assert_eq(put_cow(m, 3, KIND_DELETE, "a", NULL, 2, 0), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_cow(m, 4, KIND_VALUE, "b", "b4", 2, 0), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_cow(m, 5, KIND_VALUE, "b", "b5", 2, 0), MEMTABLE_OVERWRITTEN); /* uncommitted */
    cr_assert_eq(memtable_commit_undo_count(m), 2, "only the committed versions are recorded");
    cr_assert_eq(memtable_entries(m), 2, "no node was added");
    char buf[256];
    size_t l;
    dump(m, buf, sizeof buf);
    cr_assert_str_eq(buf, "a@3=DEL b@5=b5 ", "%s", buf);
    /* the commit of 3..5 fails: the committed versions come back, then 3..5 are dropped */
    memtable_commit_undo_apply(m);
    memtable *c = memtable_copy_upto(m, 2);
    cr_assert_not_null(c);
    dump(c, buf, sizeof buf);
    cr_assert_str_eq(buf, "a@1=a1-long b@2=b2 ", "%s", buf);
    cr_assert_eq(memtable_commit_undo_count(c), 0);
    memtable_unref(c);
    cr_assert_eq(memtable_commit_undo_count(m), 0, "applied records are forgotten");
    /* after a successful commit the records are forgotten and nothing is put back */
    cr_assert_eq(put_cow(m, 6, KIND_DELETE, "a", NULL, 2, 0), MEMTABLE_OVERWRITTEN);
    memtable_commit_undo_clear(m);
    memtable_commit_undo_apply(m);
    cr_assert_eq(get(m, "a", MAX_SEQUENCE, buf, &l), MEMTABLE_DELETED);
    memtable_unref(m);
}

Test(memtable_overwrite, committed_node_with_a_big_value_or_without_the_flag_gets_a_new_node) {
    memtable *m = memtable_new();
    char big[MEMTABLE_COMMITTED_UNDO_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "big", 3, big, strlen(big)), 0);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "small", 5, "s", 1), 0);
    cr_assert_eq(put_cow(m, 3, KIND_DELETE, "big", NULL, 2, 0), 0, "its undo record would be too big");
    cr_assert_eq(put_ow(m, 4, KIND_DELETE, "small", NULL, 2, 0), 0, "committed overwrites not allowed");
    cr_assert_eq(memtable_commit_undo_count(m), 0);
    cr_assert_eq(memtable_entries(m), 4);
    memtable_unref(m);
}

/* A group that overwrote a committed node, on top of an earlier group of the same commit that
 * did too, is rolled back: the copy keeps the earlier group's version and still knows the
 * committed one, which a failed commit afterwards puts back. */
Test(memtable_overwrite, rollback_copy_carries_the_commit_undo_log_to_the_copied_nodes) {
    memtable *m = memtable_new();
    cr_assert_eq(memtable_add(m, 1, KIND_VALUE, "x", 1, "x1-value", 8), 0);
    cr_assert_eq(memtable_add(m, 2, KIND_VALUE, "y", 1, "y2", 2), 0);
    /* group A (3) */
    memtable_undo_clear(m);
    cr_assert_eq(put_cow(m, 3, KIND_VALUE, "x", "x3", 2, 3), MEMTABLE_OVERWRITTEN);
    memtable_undo_clear(m);
    /* group B (4..5), rolled back */
    cr_assert_eq(put_cow(m, 4, KIND_DELETE, "x", NULL, 2, 4), MEMTABLE_OVERWRITTEN);
    cr_assert_eq(put_cow(m, 5, KIND_DELETE, "y", NULL, 2, 4), MEMTABLE_OVERWRITTEN);
    memtable_undo_apply(m);
    memtable *c = memtable_copy_upto(m, 3);
    cr_assert_not_null(c);
    memtable_unref(m);
    char buf[256];
    size_t l;
    dump(c, buf, sizeof buf);
    cr_assert_str_eq(buf, "x@3=x3 y@2=y2 ", "%s", buf);
    cr_assert_geq(memtable_commit_undo_count(c), 1);
    /* the commit of A fails */
    memtable_commit_undo_apply(c);
    memtable *d = memtable_copy_upto(c, 2);
    cr_assert_not_null(d);
    dump(d, buf, sizeof buf);
    cr_assert_str_eq(buf, "x@1=x1-value y@2=y2 ", "%s", buf);
    cr_assert_eq(get(d, "x", MAX_SEQUENCE, buf, &l), MEMTABLE_FOUND);
    cr_assert_str_eq(buf, "x1-value");
    memtable_unref(c);
    memtable_unref(d);
}

/* Random puts and deletes in groups (some rolled back) with commits that succeed or fail,
 * committed nodes overwritten in place or not (committed), against a model: after every step the
 * latest value of every key matches; a rollback restores the pre-group state, a failed commit
 * the last committed state. */
static void overwrite_model(int committed_overwrites) {
    enum { NK = 48, ROUNDS = 5000 };
    memtable *m = memtable_new();
    char model[NK][24], saved[NK][24], committed[NK][24];
    int present[NK] = {0}, saved_present[NK], committed_present[NK] = {0};
    uint64_t seq = 0, floor_seq = 0, rnd = 0x2545F4914F6CDD1Dull, overwrites = 0, failures = 0;
    memset(model, 0, sizeof model);
    memset(committed, 0, sizeof committed);
#define RND() (rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17, rnd)
    for (int round = 0; round < ROUNDS; round++) {
        int group = RND() % 2, abort_it = group && RND() % 4 == 0;
        uint64_t first = seq + 1;
        if (group) {
            memtable_undo_clear(m);
            memcpy(saved, model, sizeof model);
            memcpy(saved_present, present, sizeof present);
        }
        int nops = 1 + (int)(RND() % 6);
        for (int i = 0; i < nops; i++) {
            int k = (int)(RND() % NK);
            char key[8], val[24];
            snprintf(key, sizeof key, "k%02d", k);
            int del = RND() % 3 == 0;
            snprintf(val, sizeof val, "%.*s", 1 + (int)(RND() % 20), "vvvvvvvvvvvvvvvvvvvvvvvv");
            val[0] = (char)('a' + round % 26);
            mt_overwrite ow = {floor_seq, group ? first : 0, committed_overwrites};
            int rc = memtable_put(m, ++seq, del ? KIND_DELETE : KIND_VALUE, key, strlen(key),
                                  del ? NULL : val, del ? 0 : strlen(val), &ow);
            cr_assert(rc == 0 || rc == MEMTABLE_OVERWRITTEN);
            present[k] = !del;
            if (!del) snprintf(model[k], sizeof model[k], "%s", val);
        }
        if (group) {
            if (abort_it) {
                memtable_undo_apply(m);
                memtable *c = memtable_copy_upto(m, first - 1);
                cr_assert_not_null(c);
                overwrites += memtable_overwrites(m);
                memtable_unref(m);
                m = c;
                memcpy(model, saved, sizeof model);
                memcpy(present, saved_present, sizeof present);
            }
            memtable_undo_clear(m);
        }
        int commit = (int)(RND() % 8);
        if (commit < 2) { /* a commit succeeds */
            floor_seq = seq;
            memtable_commit_undo_clear(m);
            memcpy(committed, model, sizeof model);
            memcpy(committed_present, present, sizeof present);
        } else if (commit == 2 && seq > floor_seq) { /* a commit fails: back to the last one */
            failures++;
            memtable_commit_undo_apply(m);
            memtable *c = memtable_copy_upto(m, floor_seq);
            cr_assert_not_null(c);
            overwrites += memtable_overwrites(m);
            memtable_unref(m);
            m = c;
            memcpy(model, committed, sizeof model);
            memcpy(present, committed_present, sizeof present);
            floor_seq = seq; /* dropped sequence numbers are never reused */
            memtable_commit_undo_clear(m);
        }
        for (int k = 0; k < NK; k++) {
            char key[16], buf[64];
            size_t l;
            snprintf(key, sizeof key, "k%02d", k);
            int r = get(m, key, MAX_SEQUENCE, buf, &l);
            if (present[k]) {
                cr_assert_eq(r, MEMTABLE_FOUND, "round %d key %d", round, k);
                cr_assert_str_eq(buf, model[k], "round %d key %d", round, k);
            } else {
                cr_assert_neq(r, MEMTABLE_FOUND, "round %d key %d: deleted or never written", round, k);
            }
        }
    }
#undef RND
    overwrites += memtable_overwrites(m);
    cr_assert_gt(overwrites, committed_overwrites ? ROUNDS / 4 : ROUNDS / 10,
                 "overwrites in place happened (%llu)", (unsigned long long)overwrites);
    cr_assert_gt(failures, ROUNDS / 20, "failed commits were exercised (%llu)",
                 (unsigned long long)failures);
    memtable_unref(m);
}

Test(memtable_overwrite, random_overwrites_rollbacks_and_failed_commits_match_a_model,
     .timeout = 60) {
    overwrite_model(0);
}

Test(memtable_overwrite, random_committed_overwrites_rollbacks_and_failed_commits_match_a_model,
     .timeout = 60) {
    overwrite_model(1);
}

/* ---- the scan iterator (memtable_scan_iter_new): what a flush walks ---- */

/* Walks m with the plain and the scan iterator side by side: the very same entries (key and
 * value pointers into the same nodes) in the same order. Returns how many. */
static size_t scan_matches_plain(memtable *m) {
    internal_iter *p = memtable_iter_new(m), *s = memtable_scan_iter_new(m);
    cr_assert(p && s);
    size_t n = 0;
    iter_seek_first(p);
    iter_seek_first(s);
    for (; iter_valid(p); iter_next(p), iter_next(s), n++) {
        cr_assert(iter_valid(s), "the scan ended early, at entry %zu", n);
        size_t pkl, skl, pvl, svl;
        cr_assert_eq(iter_key(p, &pkl), iter_key(s, &skl), "entry %zu", n);
        cr_assert_eq(iter_value(p, &pvl), iter_value(s, &svl), "entry %zu", n);
        cr_assert_eq(pkl, skl);
        cr_assert_eq(pvl, svl);
    }
    cr_assert_not(iter_valid(s), "the scan goes on past the %zu entries", n);
    iter_next(s); /* next at the end stays at the end */
    cr_assert_not(iter_valid(s));
    iter_destroy(p);
    iter_destroy(s);
    return n;
}

static void add_random_keys(memtable *m, size_t n, uint64_t seq0) {
    char k[32];
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        int kl = snprintf(k, sizeof k, "member:%llu", (unsigned long long)(r % 100000000));
        uint32_t v = (uint32_t)(r >> 32);
        cr_assert_eq(memtable_add(m, seq0 + i, r % 9 == 0 ? KIND_DELETE : KIND_VALUE, k,
                                  (size_t)kl, &v, sizeof v),
                     0);
    }
}

Test(memtable_scan, empty_table_scan_is_invalid) {
    memtable *m = memtable_new();
    memtable_seal(m);
    cr_assert_eq(scan_matches_plain(m), 0);
    memtable_unref(m);
}

Test(memtable_scan, scan_hands_out_every_entry_in_order_for_sizes_around_its_windows,
     .timeout = 60) {
    /* around one segment, one window (32 segments of ~16 nodes), and many windows */
    static const size_t sizes[] = {1, 2, 3, 15, 16, 17, 63, 64, 65, 511, 512, 513, 4096, 150000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memtable *m = memtable_new();
        add_random_keys(m, sizes[i], 1);
        memtable_seal(m);
        cr_assert_eq(scan_matches_plain(m), memtable_entries(m), "size %zu", sizes[i]);
        memtable_unref(m);
    }
}

/* Versions of one key added in a batch are linked at level 0 only (link_after0), so the level
 * the scan cuts its segments at is sparse and most segments run past the per-segment cap: the
 * window then ends inside a segment and the next one resumes there. */
Test(memtable_scan, long_stretches_linked_at_level_0_only_with_and_without_a_linker,
     .timeout = 60) {
    for (int with_linker = 0; with_linker < 2; with_linker++) {
        mt_linker *lk = with_linker ? mt_linker_start(0) : NULL;
        memtable *m = memtable_new();
        if (lk) memtable_attach_linker(m, lk);
        uint64_t seq = 1;
        for (int round = 0; round < 4; round++) {
            for (int v = 0; v < 5000; v++, seq++) {
                uint32_t val = (uint32_t)seq;
                cr_assert_eq(memtable_add(m, seq, KIND_VALUE, "hot", 3, &val, sizeof val), 0);
            }
            add_random_keys(m, 3000, seq);
            seq += 3000;
        }
        memtable_seal(m);
        cr_assert_eq(scan_matches_plain(m), memtable_entries(m), "linker %d", with_linker);
        memtable_unref(m);
        if (lk) mt_linker_stop(lk);
    }
}

/* Any positioning but seek_first continues as the plain iterator: prev right after a window
 * boundary, seek, then next again. */
Test(memtable_scan, prev_and_seek_continue_where_the_plain_iterator_would, .timeout = 60) {
    memtable *m = memtable_new();
    add_random_keys(m, 20000, 1);
    memtable_seal(m);
    size_t total = (size_t)memtable_entries(m);
    const char **keys = malloc(sizeof(char *) * total);
    size_t *kls = malloc(sizeof(size_t) * total);
    internal_iter *p = memtable_iter_new(m);
    size_t n = 0;
    for (iter_seek_first(p); iter_valid(p); iter_next(p), n++) keys[n] = iter_key(p, &kls[n]);
    iter_destroy(p);
    cr_assert_eq(n, total);
    static const size_t stops[] = {1, 15, 16, 17, 300, 511, 512, 513, 1000, 4097, 19999};
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        size_t at = stops[i] < total ? stops[i] : total - 1, kl;
        internal_iter *s = memtable_scan_iter_new(m);
        iter_seek_first(s);
        for (size_t j = 0; j < at; j++) iter_next(s);
        cr_assert_eq(iter_key(s, &kl), keys[at], "next x%zu", at);
        iter_prev(s);
        cr_assert_eq(iter_key(s, &kl), keys[at - 1], "prev after next x%zu", at);
        iter_next(s);
        iter_next(s);
        if (at + 1 < total) cr_assert_eq(iter_key(s, &kl), keys[at + 1], "next after prev");
        size_t target = (at * 7) % total;
        iter_seek(s, keys[target], kls[target]);
        cr_assert_eq(iter_key(s, &kl), keys[target], "seek to entry %zu", target);
        iter_next(s);
        if (target + 1 < total) cr_assert_eq(iter_key(s, &kl), keys[target + 1]);
        iter_seek_first(s); /* back to windows */
        cr_assert_eq(iter_key(s, &kl), keys[0]);
        iter_destroy(s);
    }
    free(keys);
    free(kls);
    memtable_unref(m);
}
