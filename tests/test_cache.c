/* test_cache.c - block cache (byte-bounded eviction, admission through probation and the ghost
 * table, the reuse window, pinned handles never freed, replace, erase_file, pinned reserve,
 * counters, concurrent use) and table cache (bounded open readers). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "dbformat.h"
#include "sst_builder.h"
#include "sst_reader.h"
#include "table_cache.h"

static atomic_int g_deleted;

typedef struct val {
    uint64_t file, off;
    int alive;
} val;

static void del(void *v) {
    val *x = v;
    cr_assert_eq(x->alive, 1, "double free of a cache value");
    x->alive = 0;
    free(x);
    atomic_fetch_add(&g_deleted, 1);
}

static val *mkv(uint64_t f, uint64_t o) {
    val *v = malloc(sizeof(*v));
    v->file = f;
    v->off = o;
    v->alive = 1;
    return v;
}

Test(cache, eviction_keeps_bytes_within_capacity) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 1000); /* 1000 bytes per shard */
    for (uint64_t i = 0; i < 2000; i++) {
        cache_handle *h = block_cache_insert(c, 1, i * 4096, mkv(1, i), 100, del);
        cr_assert_not_null(h);
        block_cache_release(c, h);
        block_cache_stats st;
        block_cache_get_stats(c, &st);
        cr_assert_leq(st.bytes, 16 * 1000);
    }
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_gt(st.entries, 100);  /* close to full */
    cr_assert_leq(st.entries, 160);
    cr_assert_eq((uint64_t)atomic_load(&g_deleted) + st.entries, 2000);
    /* the most recent entry is present, the first one was evicted */
    cache_handle *h = block_cache_lookup(c, 1, 1999 * 4096);
    cr_assert_not_null(h);
    cr_assert_eq(((val *)block_cache_value(h))->off, 1999);
    block_cache_release(c, h);
    cr_assert_null(block_cache_lookup(c, 1, 0));
    block_cache_get_stats(c, &st);
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.misses, 1);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 2000);
}

Test(cache, entry_read_once_per_sweep_survives_eviction) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 1000);
    block_cache_set_reuse_window(c, 0); /* every lookup after the insert counts as reuse */
    /* find keys of one shard by observing eviction is hard; use a single file/offset pattern and
     * keep touching key 0 while inserting: it must survive */
    cache_handle *h = block_cache_insert(c, 9, 0, mkv(9, 0), 100, del);
    block_cache_release(c, h);
    for (uint64_t i = 1; i < 3000; i++) {
        h = block_cache_insert(c, 9, i * 512, mkv(9, i), 100, del);
        block_cache_release(c, h);
        h = block_cache_lookup(c, 9, 0);
        cr_assert_not_null(h, "recently used entry evicted at %llu", (unsigned long long)i);
        block_cache_release(c, h);
    }
    block_cache_free(c);
}

Test(cache, pinned_handle_never_freed_and_freed_after_release) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 1000);
    val *pv = mkv(2, 0);
    cache_handle *pinned = block_cache_insert(c, 2, 0, pv, 5000, del); /* > shard capacity */
    cr_assert_not_null(pinned);
    for (uint64_t i = 1; i < 500; i++) {
        cache_handle *h = block_cache_insert(c, 2, i, mkv(2, i), 100, del);
        block_cache_release(c, h);
    }
    cr_assert_eq(pv->alive, 1);
    cr_assert_eq(block_cache_value(pinned), pv);
    cache_handle *again = block_cache_lookup(c, 2, 0);
    cr_assert_eq(again, pinned, "pinned entry is still findable");
    block_cache_release(c, again);
    int before = atomic_load(&g_deleted);
    block_cache_release(c, pinned);
    /* over budget once unpinned: evicted at once */
    cr_assert_eq(atomic_load(&g_deleted), before + 1);
    cr_assert_null(block_cache_lookup(c, 2, 0));
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 16 * 1000);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 500);
}

Test(cache, insert_same_key_replaces_value_old_freed_when_unpinned) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(1 << 20);
    val *a = mkv(3, 7), *b = mkv(3, 7);
    cache_handle *ha = block_cache_insert(c, 3, 7, a, 10, del);
    cache_handle *hb = block_cache_insert(c, 3, 7, b, 10, del);
    cr_assert_eq(a->alive, 1);
    cache_handle *h = block_cache_lookup(c, 3, 7);
    cr_assert_eq(block_cache_value(h), b);
    block_cache_release(c, h);
    block_cache_release(c, ha);
    cr_assert_eq(atomic_load(&g_deleted), 1); /* a freed on its last release */
    block_cache_release(c, hb);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_eq(st.entries, 1);
    cr_assert_eq(st.bytes, 10);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 2);
}

Test(cache, erase_file_drops_its_entries_pinned_ones_on_release) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(1 << 20);
    for (uint64_t i = 0; i < 100; i++) {
        block_cache_release(c, block_cache_insert(c, 4, i, mkv(4, i), 10, del));
        block_cache_release(c, block_cache_insert(c, 5, i, mkv(5, i), 10, del));
    }
    cache_handle *pin = block_cache_lookup(c, 4, 50);
    val *pv = block_cache_value(pin);
    block_cache_erase_file(c, 4);
    cr_assert_eq(atomic_load(&g_deleted), 99);
    cr_assert_eq(pv->alive, 1, "pinned entry survives erase");
    for (uint64_t i = 0; i < 100; i++) {
        cr_assert_null(block_cache_lookup(c, 4, i));
        cache_handle *h = block_cache_lookup(c, 5, i);
        cr_assert_not_null(h);
        block_cache_release(c, h);
    }
    block_cache_release(c, pin);
    cr_assert_eq(atomic_load(&g_deleted), 100);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_eq(st.entries, 100);
    cr_assert_eq(st.bytes, 1000);
    block_cache_free(c);
}

Test(cache, charge_pinned_reserves_budget_and_evicts_entries) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000);
    for (uint64_t i = 0; i < 1500; i++)
        block_cache_release(c, block_cache_insert(c, 6, i, mkv(6, i), 100, del));
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 160000);
    cr_assert_gt(st.entries, 1000);
    block_cache_charge_pinned(c, 16 * 9000); /* leaves 1000 bytes per shard */
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 160000);
    cr_assert_leq(st.entries, 160);
    cr_assert_geq(st.bytes, 16 * 9000);
    block_cache_charge_pinned(c, -16 * 9000);
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 16000);
    block_cache_free(c);
}

typedef struct thr {
    block_cache *c;
    int id;
    int bad;
} thr;

static void *hammer(void *p) {
    thr *t = p;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t off = (i * 7 + (uint64_t)t->id) % 300;
        cache_handle *h = block_cache_lookup(t->c, 8, off);
        if (!h) h = block_cache_insert(t->c, 8, off, mkv(8, off), 64, del);
        val *v = block_cache_value(h);
        if (!v->alive || v->off != off) t->bad++;
        block_cache_release(t->c, h);
        if (i % 5000 == 0) block_cache_erase_file(t->c, 8);
    }
    return NULL;
}

Test(cache, concurrent_lookups_and_inserts_from_two_threads) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 64 * 10); /* ~10 entries per shard: constant eviction */
    thr t[2] = {{c, 0, 0}, {c, 1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, hammer, &t[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    cr_assert_eq(t[0].bad + t[1].bad, 0);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_eq(st.hits + st.misses, 40000);
    cr_assert_leq(st.bytes, 16 * 64 * 10);
    block_cache_free(c);
}

/* ---------------------------------------------------------------- table cache */

static char g_dir[256];

static void mk_table(uint64_t n) {
    char path[512];
    table_file_name(path, sizeof(path), g_dir, n);
    sst_options o = {.block_size = 4096, .restart_interval = 16, .bloom_bits_per_key = 10,
                     .compression = 1};
    sst_builder *b = sst_builder_new(path, &o);
    cr_assert_not_null(b);
    char k[32];
    size_t kl = ikey_encode(k, "key", 3, n, KIND_VALUE);
    cr_assert_eq(sst_builder_add(b, k, kl, "v", 1), 0);
    cr_assert_eq(sst_builder_finish(b, NULL), 0);
}

static void rm_dir(void) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof(p), "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(g_dir);
}

Test(table_cache, file_name_format) {
    char buf[64];
    table_file_name(buf, sizeof(buf), "/db", 42);
    cr_assert_str_eq(buf, "/db/000042.sst");
    table_file_name(buf, sizeof(buf), "d", 12345678);
    cr_assert_str_eq(buf, "d/12345678.sst");
}

Test(table_cache, bounds_open_readers_evicted_ones_stay_valid) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/kevo-test-tc-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    for (uint64_t n = 1; n <= 6; n++) mk_table(n);
    block_cache *bc = block_cache_new(1 << 20);
    table_cache *tc = table_cache_new(g_dir, 3, bc);
    sst_reader *held;
    cr_assert_eq(table_cache_get(tc, 1, &held), 0);
    lsm_buf v = {0};
    for (uint64_t n = 1; n <= 6; n++) {
        sst_reader *r;
        cr_assert_eq(table_cache_get(tc, n, &r), 0);
        cr_assert_eq(sst_reader_file_number(r), n);
        cr_assert_eq(sst_reader_get(r, "key", 3, MAX_SEQUENCE, &v), SST_FOUND);
        sst_reader_unref(r);
        cr_assert_leq(table_cache_open_count(tc), 3);
    }
    cr_assert_eq(table_cache_open_count(tc), 3);
    /* 1 was evicted from the table cache, but our reference keeps it usable */
    cr_assert_eq(sst_reader_get(held, "key", 3, MAX_SEQUENCE, &v), SST_FOUND);
    sst_reader_unref(held);
    /* same reader for a cached file */
    sst_reader *a, *b;
    cr_assert_eq(table_cache_get(tc, 6, &a), 0);
    cr_assert_eq(table_cache_get(tc, 6, &b), 0);
    cr_assert_eq(a, b);
    table_cache_evict(tc, 6);
    cr_assert_eq(table_cache_open_count(tc), 2);
    cr_assert_eq(sst_reader_get(a, "key", 3, MAX_SEQUENCE, &v), SST_FOUND);
    sst_reader_unref(a);
    sst_reader_unref(b);
    sst_reader *missing;
    cr_assert_lt(table_cache_get(tc, 99, &missing), 0);
    cr_assert_null(missing);
    table_cache_free(tc);
    block_cache_stats st;
    block_cache_get_stats(bc, &st);
    for (uint64_t n = 1; n <= 6; n++) block_cache_erase_file(bc, n);
    block_cache_get_stats(bc, &st);
    cr_assert_eq(st.bytes, 0, "every reader freed and uncharged");
    block_cache_free(bc);
    free(v.data);
    rm_dir();
}

Test(cache, tag_is_kept_with_the_entry_and_zero_without_one) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(1 << 20);
    cache_handle *h = block_cache_insert_tagged(c, 11, 0, mkv(11, 0), 10, del,
                                                UINT64_C(0x123456789abcdef0));
    cr_assert_eq(block_cache_tag(h), UINT64_C(0x123456789abcdef0));
    block_cache_release(c, h);
    h = block_cache_lookup(c, 11, 0);
    cr_assert_not_null(h);
    cr_assert_eq(block_cache_tag(h), UINT64_C(0x123456789abcdef0), "tag survives a lookup");
    block_cache_release(c, h);
    h = block_cache_insert(c, 11, 1, mkv(11, 1), 10, del);
    cr_assert_eq(block_cache_tag(h), 0);
    block_cache_release(c, h);
    /* replacing an entry replaces its tag */
    h = block_cache_insert_tagged(c, 11, 0, mkv(11, 0), 10, del, 7);
    block_cache_release(c, h);
    h = block_cache_lookup(c, 11, 0);
    cr_assert_eq(block_cache_tag(h), 7);
    block_cache_release(c, h);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 3);
}

/* Inserts n entries of file f (100 bytes each, never looked up again). */
static void insert_once(block_cache *c, uint64_t f, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        cache_handle *h = block_cache_insert(c, f, i, mkv(f, i), 100, del);
        cr_assert_not_null(h);
        block_cache_release(c, h);
    }
}

static int cached(block_cache *c, uint64_t f, uint64_t off) {
    cache_handle *h = block_cache_lookup(c, f, off);
    if (h) block_cache_release(c, h);
    return h != NULL;
}

Test(cache, blocks_read_again_survive_a_flood_of_blocks_read_once) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000); /* ~100 entries of 100 bytes per shard */
    block_cache_set_reuse_window(c, 0);
    /* 32 hot blocks: inserted, then read again */
    for (uint64_t i = 0; i < 32; i++) {
        cache_handle *h = block_cache_insert(c, 1, i, mkv(1, i), 100, del);
        block_cache_release(c, h);
    }
    for (uint64_t i = 0; i < 32; i++) cr_assert(cached(c, 1, i));
    /* ten times the cache's size of blocks read once (a scan, a cold tail) */
    insert_once(c, 2, 16000);
    for (uint64_t i = 0; i < 32; i++)
        cr_assert(cached(c, 1, i), "hot block %llu evicted by blocks read once", (unsigned long long)i);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 16 * 10000);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 32 + 16000);
}

Test(cache, lookups_within_the_reuse_window_are_not_reuse) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000);
    block_cache_set_reuse_window(c, 1u << 30); /* every lookup falls within it */
    cache_handle *h = block_cache_insert(c, 1, 0, mkv(1, 0), 100, del);
    block_cache_release(c, h);
    for (int i = 0; i < 5; i++) cr_assert(cached(c, 1, 0)); /* the inserting request's own reads */
    insert_once(c, 2, 16000);
    cr_assert_not(cached(c, 1, 0), "a block read only by its inserter was kept");
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 1 + 16000);
}

static atomic_int g_file1_deleted;
static void del_watch(void *v) {
    if (((val *)v)->file == 1) atomic_store(&g_file1_deleted, 1);
    del(v);
}

Test(cache, block_inserted_again_after_leaving_probation_unread_is_kept) {
    atomic_store(&g_deleted, 0);
    atomic_store(&g_file1_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000);
    block_cache_set_reuse_window(c, 0);
    cache_handle *h = block_cache_insert(c, 1, 0, mkv(1, 0), 100, del_watch);
    block_cache_release(c, h);
    /* push it out of probation, never read (each insert evicts one equal-sized entry) */
    uint64_t i = 0;
    for (; i < 16000 && !atomic_load(&g_file1_deleted); i++) {
        h = block_cache_insert(c, 2, i, mkv(2, i), 100, del_watch);
        block_cache_release(c, h);
    }
    cr_assert_lt(i, 16000, "the block was never evicted");
    /* inserted again: the ghost table remembers it, so it goes into the ring */
    h = block_cache_insert(c, 1, 0, mkv(1, 0), 100, del);
    block_cache_release(c, h);
    insert_once(c, 3, 16000);
    cr_assert(cached(c, 1, 0), "a block read twice was evicted by blocks read once");
    block_cache_free(c);
}

Test(cache, blocks_younger_than_the_reuse_window_are_not_evicted_from_probation) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000);
    block_cache_set_reuse_window(c, 0);
    /* a ring of hot blocks first (~75 of a shard's ~100 entries) */
    for (uint64_t i = 0; i < 1200; i++) {
        cache_handle *h = block_cache_insert(c, 1, i, mkv(1, i), 100, del);
        block_cache_release(c, h);
        cr_assert(cached(c, 1, i));
    }
    insert_once(c, 2, 3000); /* probation full of old blocks, the hot ones moved into the ring */
    block_cache_set_reuse_window(c, 1u << 30); /* from now on every block is young */
    insert_once(c, 3, 200);
    /* the young blocks all stayed (the ring gave way), though probation is far over its share */
    for (uint64_t i = 0; i < 200; i++)
        cr_assert(cached(c, 3, i), "young block %llu evicted", (unsigned long long)i);
    block_cache_free(c);
}

Test(cache, everything_fits_nothing_is_evicted) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(1 << 20);
    insert_once(c, 1, 1000); /* 100 KB of 1 MB: probation is not a limit below the capacity */
    for (uint64_t i = 0; i < 1000; i++) cr_assert(cached(c, 1, i));
    cr_assert_eq(atomic_load(&g_deleted), 0);
    block_cache_free(c);
}

Test(cache, warming_fills_free_room_only_and_never_evicts) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 1000); /* 1000 bytes per shard */
    /* a block read by a lookup, then many warmed ones: the read one is never pushed out */
    cache_handle *h = block_cache_insert(c, 9, 0, mkv(9, 0), 100, del);
    block_cache_release(c, h);
    int accepted = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        val *v = mkv(1, i);
        int room = block_cache_has_room(c, 1, i, 100);
        int ok = block_cache_insert_warm(c, 1, i, v, 100, del, i * 7);
        cr_assert(ok <= room, "warmed without room");
        if (ok) accepted++;
        else free(v); /* refused: still ours */
        block_cache_stats st;
        block_cache_get_stats(c, &st);
        cr_assert_leq(st.bytes, 16 * 1000);
    }
    cr_assert_eq(atomic_load(&g_deleted), 0, "warming evicted an entry");
    cr_assert_geq(accepted, 16 * 9 - 16, "warmed %d blocks into 16 x 1000 bytes", accepted);
    cr_assert(cached(c, 9, 0));
    /* the warmed blocks answer lookups (with their tags); an existing key is not replaced */
    int found = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        cache_handle *w = block_cache_lookup(c, 1, i);
        if (!w) continue;
        found++;
        cr_assert_eq(((val *)block_cache_value(w))->off, i);
        cr_assert_eq(block_cache_tag(w), i * 7);
        val *v = mkv(1, i);
        cr_assert_eq(block_cache_insert_warm(c, 1, i, v, 10, del, 0), 0, "replaced a cached key");
        free(v);
        block_cache_release(c, w);
    }
    cr_assert_eq(found, accepted);
    /* blocks read by lookups still get in: warmed ones make room */
    insert_once(c, 2, 200);
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_leq(st.bytes, 16 * 1000);
    cr_assert(cached(c, 2, 199));
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 1 + accepted + 200, "every entry freed once");
}

Test(cache, warmed_blocks_are_in_the_ring_not_on_probation) {
    atomic_store(&g_deleted, 0);
    block_cache *c = block_cache_new(16 * 10000); /* ~100 entries of 100 bytes per shard */
    block_cache_set_reuse_window(c, 0);
    for (uint64_t i = 0; i < 32; i++)
        cr_assert(block_cache_insert_warm(c, 1, i, mkv(1, i), 100, del, 0));
    /* ten times the cache's size of blocks read once: they churn the probation queue, where
     * the warmed blocks, not read since, would have been dropped; in the ring they stay */
    insert_once(c, 2, 16000);
    for (uint64_t i = 0; i < 32; i++)
        cr_assert(cached(c, 1, i), "warmed block %llu evicted by blocks read once",
                  (unsigned long long)i);
    block_cache_free(c);
    cr_assert_eq(atomic_load(&g_deleted), 32 + 16000);
}
