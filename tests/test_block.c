/* test_block.c - block builder/reader: round trip, restart interval edges, seeks between keys
 * and past the end, empty values, corrupt trailers; backward: seek_last, prev across restart
 * points (first/last entry of an interval), prev of the first entry, direction switches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "dbformat.h"
#include "lsm.h"

/* key i: "key%06d" with sequence 100 (user keys spaced by 2 so odd ones fall between) */
static size_t mk_key(char *buf, int i, uint64_t seq) {
    char u[32];
    int n = snprintf(u, sizeof(u), "key%06d", i * 2);
    return ikey_encode(buf, u, (size_t)n, seq, KIND_VALUE);
}
static size_t mk_val(char *buf, int i) { return (size_t)snprintf(buf, 64, "value-%d-%s", i, i % 3 ? "x" : ""); }

typedef struct built {
    block_builder bb;
    block blk;
    char *copy;
} built;

static void build(built *b, int n, int interval) {
    block_builder_init(&b->bb, interval);
    for (int i = 0; i < n; i++) {
        char k[64], v[64];
        size_t kl = mk_key(k, i, 100), vl = mk_val(v, i);
        cr_assert_eq(block_builder_add(&b->bb, k, kl, v, vl), 0);
    }
    size_t len;
    const char *d = block_builder_finish(&b->bb, &len);
    cr_assert_not_null(d);
    cr_assert_eq(len, block_builder_size(&b->bb));
    b->copy = malloc(len);
    memcpy(b->copy, d, len);
    cr_assert_eq(block_parse(&b->blk, b->copy, len), 0);
    uint32_t want_restarts = n == 0 ? 1 : (uint32_t)((n + interval - 1) / interval);
    cr_assert_eq(b->blk.num_restarts, want_restarts);
}
static void built_free(built *b) {
    block_builder_free(&b->bb);
    free(b->copy);
}

static void check_block(int n, int interval) {
    built b;
    build(&b, n, interval);
    block_iter it;
    block_iter_init(&it, &b.blk);
    /* full scan */
    int i = 0;
    for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it), i++) {
        char k[64], v[64];
        size_t kl = mk_key(k, i, 100), vl = mk_val(v, i), gkl, gvl;
        const char *gk = block_iter_key(&it, &gkl);
        const char *gv = block_iter_value(&it, &gvl);
        cr_assert_eq(gkl, kl);
        cr_assert(memcmp(gk, k, kl) == 0, "key %d", i);
        cr_assert_eq(gvl, vl);
        cr_assert(memcmp(gv, v, vl) == 0);
    }
    cr_assert_eq(i, n);
    cr_assert_eq(it.status, 0);
    /* seek to every key, and to the gap just before it */
    for (i = 0; i < n; i++) {
        char k[64], t[64];
        size_t kl = mk_key(k, i, 100), gkl;
        block_iter_seek(&it, k, kl);
        cr_assert(block_iter_valid(&it));
        const char *gk = block_iter_key(&it, &gkl);
        cr_assert(gkl == kl && memcmp(gk, k, kl) == 0, "seek exact %d", i);
        /* between key i-1 and key i: user key "key%06d" of 2i-1 */
        char u[32];
        int ul = snprintf(u, sizeof(u), "key%06d", i * 2 - 1);
        size_t tl = ikey_encode(t, u, (size_t)ul, 5, KIND_VALUE);
        block_iter_seek(&it, t, tl);
        cr_assert(block_iter_valid(&it));
        gk = block_iter_key(&it, &gkl);
        cr_assert(gkl == kl && memcmp(gk, k, kl) == 0, "seek between %d", i);
        /* same user key, newer snapshot-ish sequence sorts before; older sorts after */
        tl = mk_key(t, i, 200);
        block_iter_seek(&it, t, tl);
        gk = block_iter_key(&it, &gkl);
        cr_assert(block_iter_valid(&it) && memcmp(gk, k, kl) == 0);
        tl = mk_key(t, i, 50);
        block_iter_seek(&it, t, tl);
        if (i + 1 < n) {
            char k2[64];
            size_t k2l = mk_key(k2, i + 1, 100);
            gk = block_iter_key(&it, &gkl);
            cr_assert(block_iter_valid(&it) && gkl == k2l && memcmp(gk, k2, k2l) == 0);
        } else {
            cr_assert(!block_iter_valid(&it));
        }
    }
    /* past the end */
    char t[64];
    size_t tl = mk_key(t, n + 5, 100);
    block_iter_seek(&it, t, tl);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, 0);
    block_iter_cleanup(&it);
    built_free(&b);
}

Test(block, round_trip_and_seek_restart_interval_16_edges) {
    int counts[] = {1, 15, 16, 17, 33, 500};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) check_block(counts[i], 16);
}

Test(block, restart_interval_1_every_key_is_a_restart) {
    int counts[] = {1, 2, 15, 16, 17, 33};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) check_block(counts[i], 1);
}

Test(block, empty_block_has_no_entries) {
    built b;
    build(&b, 0, 16);
    block_iter it;
    block_iter_init(&it, &b.blk);
    block_iter_seek_first(&it);
    cr_assert(!block_iter_valid(&it));
    char t[64];
    size_t tl = mk_key(t, 1, 1);
    block_iter_seek(&it, t, tl);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, 0);
    block_iter_cleanup(&it);
    built_free(&b);
}

Test(block, empty_value_and_long_keys_round_trip) {
    block_builder bb;
    block_builder_init(&bb, 4);
    char keys[20][600];
    size_t kls[20];
    for (int i = 0; i < 20; i++) {
        /* long keys sharing a long prefix: exercises the heap key buffer */
        memset(keys[i], 'p', 500);
        int n = snprintf(keys[i] + 500, 50, "%03d", i);
        kls[i] = ikey_encode(keys[i], keys[i], 500 + (size_t)n, 7, KIND_VALUE);
        cr_assert_eq(block_builder_add(&bb, keys[i], kls[i], "", 0), 0);
    }
    size_t len;
    const char *d = block_builder_finish(&bb, &len);
    block blk;
    cr_assert_eq(block_parse(&blk, d, len), 0);
    block_iter it;
    block_iter_init(&it, &blk);
    for (int i = 19; i >= 0; i--) {
        block_iter_seek(&it, keys[i], kls[i]);
        cr_assert(block_iter_valid(&it));
        size_t kl, vl;
        const char *k = block_iter_key(&it, &kl);
        block_iter_value(&it, &vl);
        cr_assert(kl == kls[i] && memcmp(k, keys[i], kl) == 0);
        cr_assert_eq(vl, 0);
    }
    block_iter_cleanup(&it);
    block_builder_free(&bb);
}

Test(block, reset_builder_reuses_buffers) {
    block_builder bb;
    block_builder_init(&bb, 16);
    char k[64];
    size_t kl = mk_key(k, 1, 1);
    block_builder_add(&bb, k, kl, "a", 1);
    size_t l1, l2;
    block_builder_finish(&bb, &l1);
    block_builder_reset(&bb);
    cr_assert(block_builder_empty(&bb));
    block_builder_add(&bb, k, kl, "a", 1);
    block_builder_finish(&bb, &l2);
    cr_assert_eq(l1, l2);
    block_builder_free(&bb);
}

Test(block, corrupt_trailer_is_rejected) {
    block blk;
    char bad[8] = {0};
    cr_assert_eq(block_parse(&blk, bad, 3), LSM_ECORRUPT);           /* too short */
    cr_assert_eq(block_parse(&blk, bad, 8), LSM_ECORRUPT);           /* zero restarts */
    encode_fixed32(bad + 4, 1000);
    cr_assert_eq(block_parse(&blk, bad, 8), LSM_ECORRUPT);           /* restarts overflow */
}

Test(block, corrupt_entry_makes_iterator_invalid_with_ecorrupt) {
    built b;
    build(&b, 40, 16);
    /* first entry's non_shared length -> huge: runs past the entries */
    b.copy[1] = (char)0xff;
    b.copy[2] = (char)0xff;
    b.copy[3] = (char)0xff;
    b.copy[4] = (char)0x0f;
    block_iter it;
    block_iter_init(&it, &b.blk);
    block_iter_seek_first(&it);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, LSM_ECORRUPT);
    block_iter_cleanup(&it);
    /* a restart offset pointing outside the entries */
    encode_fixed32(b.copy + b.blk.restarts + 4, 0xfffff);
    block_iter_init(&it, &b.blk);
    char t[64];
    size_t tl = mk_key(t, 39, 100);
    block_iter_seek(&it, t, tl);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, LSM_ECORRUPT);
    block_iter_cleanup(&it);
    built_free(&b);
}

/* ---- backward iteration ---- */

static void expect_entry(block_iter *it, int i, const char *what) {
    char k[64], v[64];
    size_t kl = mk_key(k, i, 100), vl = mk_val(v, i), gkl, gvl;
    cr_assert(block_iter_valid(it), "%s: entry %d expected, iterator invalid", what, i);
    const char *gk = block_iter_key(it, &gkl);
    const char *gv = block_iter_value(it, &gvl);
    cr_assert(gkl == kl && memcmp(gk, k, kl) == 0, "%s: key of entry %d", what, i);
    cr_assert(gvl == vl && memcmp(gv, v, vl) == 0, "%s: value of entry %d", what, i);
}

static void check_block_backward(int n, int interval) {
    built b;
    build(&b, n, interval);
    block_iter it;
    block_iter_init(&it, &b.blk);
    /* seek_last then prev down to the first, then off the front */
    int i = n - 1;
    for (block_iter_seek_last(&it); block_iter_valid(&it); block_iter_prev(&it), i--)
        expect_entry(&it, i, "backward scan");
    cr_assert_eq(i, -1, "backward scan of %d entries (interval %d) stopped at %d", n, interval, i);
    cr_assert_eq(it.status, 0);
    block_iter_prev(&it); /* prev of an invalid iterator does nothing */
    cr_assert(!block_iter_valid(&it));
    /* prev from every entry (landed on by seek, i.e. also the first entry of each interval and
     * the one after a restart), and next after prev back to where it was */
    for (i = 0; i < n; i++) {
        char k[64];
        size_t kl = mk_key(k, i, 100);
        block_iter_seek(&it, k, kl);
        expect_entry(&it, i, "seek");
        block_iter_prev(&it);
        if (i == 0) {
            cr_assert(!block_iter_valid(&it), "prev of the first entry");
            cr_assert_eq(it.status, 0);
            continue;
        }
        expect_entry(&it, i - 1, "prev after seek");
        block_iter_next(&it);
        expect_entry(&it, i, "next after prev");
        block_iter_prev(&it);
        block_iter_prev(&it);
        if (i >= 2) expect_entry(&it, i - 2, "second prev");
        else cr_assert(!block_iter_valid(&it));
    }
    /* zigzag: two forward, one back, from the first entry to the end */
    block_iter_seek_first(&it);
    i = 0;
    while (block_iter_valid(&it)) {
        expect_entry(&it, i, "zigzag");
        block_iter_next(&it);
        block_iter_next(&it);
        if (!block_iter_valid(&it)) break;
        block_iter_prev(&it);
        i++;
    }
    cr_assert_geq(i, n - 2);
    block_iter_cleanup(&it);
    built_free(&b);
}

Test(block, backward_scan_and_prev_at_restart_interval_16_edges) {
    int counts[] = {1, 2, 15, 16, 17, 31, 32, 33, 500};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        check_block_backward(counts[i], 16);
}

Test(block, backward_with_restart_interval_1_and_4) {
    int counts[] = {1, 2, 3, 4, 5, 8, 9, 100};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        check_block_backward(counts[i], 1);
        check_block_backward(counts[i], 4);
    }
}

Test(block, empty_block_seek_last_is_invalid) {
    built b;
    build(&b, 0, 16);
    block_iter it;
    block_iter_init(&it, &b.blk);
    block_iter_seek_last(&it);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, 0);
    block_iter_prev(&it);
    cr_assert(!block_iter_valid(&it));
    block_iter_cleanup(&it);
    built_free(&b);
}

Test(block, backward_over_long_keys_sharing_prefixes_uses_heap_key_buffer) {
    block_builder bb;
    block_builder_init(&bb, 4);
    static char keys[20][600];
    size_t kls[20];
    for (int i = 0; i < 20; i++) {
        memset(keys[i], 'p', 500);
        int n = snprintf(keys[i] + 500, 50, "%03d", i);
        kls[i] = ikey_encode(keys[i], keys[i], 500 + (size_t)n, 7, KIND_VALUE);
        cr_assert_eq(block_builder_add(&bb, keys[i], kls[i], "v", 1), 0);
    }
    size_t len;
    const char *d = block_builder_finish(&bb, &len);
    block blk;
    cr_assert_eq(block_parse(&blk, d, len), 0);
    block_iter it;
    block_iter_init(&it, &blk);
    int i = 19;
    for (block_iter_seek_last(&it); block_iter_valid(&it); block_iter_prev(&it), i--) {
        size_t kl;
        const char *k = block_iter_key(&it, &kl);
        cr_assert(kl == kls[i] && memcmp(k, keys[i], kl) == 0, "entry %d", i);
    }
    cr_assert_eq(i, -1);
    block_iter_cleanup(&it);
    block_builder_free(&bb);
}

Test(block, prev_over_a_corrupt_entry_gives_ecorrupt) {
    built b;
    build(&b, 40, 16);
    block_iter it;
    block_iter_init(&it, &b.blk);
    char t[64];
    size_t tl = mk_key(t, 10, 100);
    block_iter_seek(&it, t, tl);
    cr_assert(block_iter_valid(&it));
    /* the interval's first entry (restart 0) now claims a huge non_shared length */
    b.copy[1] = (char)0xff;
    b.copy[2] = (char)0xff;
    b.copy[3] = (char)0xff;
    b.copy[4] = (char)0x0f;
    block_iter_prev(&it);
    cr_assert(!block_iter_valid(&it));
    cr_assert_eq(it.status, LSM_ECORRUPT);
    block_iter_cleanup(&it);
    built_free(&b);
}

/* prev's interval cache belongs to one block: after a reset to another block in the same
 * memory (a cache slot reused), sitting on the same entry offset, prev decodes the new block. */
Test(block, prev_cache_is_dropped_when_the_iterator_moves_to_another_block) {
    built a;
    build(&a, 40, 16);
    char *shared = malloc(a.bb.len);
    memcpy(shared, a.copy, a.bb.len);
    block blk;
    cr_assert_eq(block_parse(&blk, shared, a.bb.len), 0);
    block_iter it;
    block_iter_init(&it, &blk);
    block_iter_seek_last(&it);
    block_iter_prev(&it); /* scans interval 2 (entries 32..39), caches it */
    block_iter_prev(&it); /* from the cache: entry 37, whose predecessor is cached too */
    expect_entry(&it, 37, "cached prev");
    uint32_t at = it.cur;
    /* the same memory now holds another block: same layout, keys "Key..." instead of "key..."
     * (no header, value or trailer byte of these entries is 'k') */
    for (uint32_t off = 0; off < blk.restarts; off++)
        if (shared[off] == 'k') shared[off] = 'K';
    block_iter_reset(&it, &blk);
    char k[64];
    size_t kl = mk_key(k, 37, 100);
    k[0] = 'K';
    block_iter_seek(&it, k, kl);
    cr_assert(block_iter_valid(&it));
    cr_assert_eq(it.cur, at);
    block_iter_prev(&it);
    size_t gkl;
    const char *gk = block_iter_key(&it, &gkl);
    cr_assert(block_iter_valid(&it) && gkl > 0 && gk[0] == 'K', "a key of the old block");
    kl = mk_key(k, 36, 100);
    k[0] = 'K';
    cr_assert(gkl == kl && memcmp(gk, k, kl) == 0);
    block_iter_cleanup(&it);
    free(shared);
    built_free(&a);
}
