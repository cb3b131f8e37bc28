/* test_sst.c - SSTable builder + reader: 100k-key round trip with versions and deletes (get at
 * snapshots, full scan, seeks), properties, temp file published, LZ4 only when it saves 1/8,
 * corruption detected, concurrent gets, a table with the legacy filter layout still read;
 * backward scans (seek_last/prev across data blocks, seek_for_prev, direction switches). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "cache.h"
#include "coding.h"
#include "dbformat.h"
#include "hash.h"
#include "lsm.h"
#include "sst_builder.h"
#include "sst_format.h"
#include "sst_reader.h"

static char g_dir[256];

static void setup(void) {
    snprintf(g_dir, sizeof(g_dir), "/tmp/kevo-test-sst-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}
static void teardown(void) {
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof(p), "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_dir);
}
TestSuite(sst, .init = setup, .fini = teardown);

static void default_opts(sst_options *o) {
    memset(o, 0, sizeof(*o));
    o->block_size = 16 * 1024;
    o->restart_interval = 16;
    o->bloom_bits_per_key = 10;
    o->compression = 1;
}

/* Key i has versions: VALUE "a-i" at 10i+1; VALUE "b-i" at 10i+5 if i%3==0;
 * DELETE at 10i+7 if i%5==0. */
#define NKEYS 100000
static size_t ukey(char *b, int i) { return (size_t)snprintf(b, 32, "k%08d", i); }
static size_t mkval(char *b, char ver, int i) {
    /* semi-compressible value of 20..100 bytes */
    int n = snprintf(b, 128, "%c-%d-", ver, i);
    int len = 20 + (i * 7) % 80;
    for (int j = n; j < len; j++) b[j] = (char)('a' + (j * 3 + i) % 7);
    return (size_t)len;
}

static uint64_t expire_of(void *ctx, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)ctx; (void)val; (void)vlen;
    char tmp[32];
    memcpy(tmp, (const char *)key + 1, klen - 1);
    tmp[klen - 1] = 0;
    int i = atoi(tmp);
    return i % 7 == 0 ? (uint64_t)(1000000 - i) : 0;
}

static void build_table(const char *path, const sst_options *o, sst_props *props) {
    sst_builder *b = sst_builder_new(path, o);
    cr_assert_not_null(b);
    char k[64], u[32], v[128];
    for (int i = 0; i < NKEYS; i++) {
        size_t ul = ukey(u, i);
        size_t kl;
        if (i % 5 == 0) {
            kl = ikey_encode(k, u, ul, 10 * (uint64_t)i + 7, KIND_DELETE);
            cr_assert_eq(sst_builder_add(b, k, kl, "", 0), 0);
        }
        if (i % 3 == 0) {
            kl = ikey_encode(k, u, ul, 10 * (uint64_t)i + 5, KIND_VALUE);
            size_t vl = mkval(v, 'b', i);
            cr_assert_eq(sst_builder_add(b, k, kl, v, vl), 0);
        }
        kl = ikey_encode(k, u, ul, 10 * (uint64_t)i + 1, KIND_VALUE);
        size_t vl = mkval(v, 'a', i);
        cr_assert_eq(sst_builder_add(b, k, kl, v, vl), 0);
    }
    cr_assert_gt(sst_builder_file_size(b), 0);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert_eq(access(tmp, F_OK), 0, "writes go to the temp name");
    cr_assert_eq(access(path, F_OK), -1);
    cr_assert_eq(sst_builder_finish(b, props), 0);
    cr_assert_eq(access(tmp, F_OK), -1, "temp file gone after finish");
    cr_assert_eq(access(path, F_OK), 0);
}

static uint64_t expected_entries(void) {
    uint64_t n = 0;
    for (int i = 0; i < NKEYS; i++) n += 1 + (i % 3 == 0) + (i % 5 == 0);
    return n;
}

static void check_props(const sst_props *p, const char *path) {
    uint64_t dels = 0, rk = 0, rv = 0;
    char v[128];
    for (int i = 0; i < NKEYS; i++) {
        if (i % 5 == 0) { dels++; rk += 17; }
        if (i % 3 == 0) { rk += 17; rv += mkval(v, 'b', i); }
        rk += 17;
        rv += mkval(v, 'a', i);
    }
    cr_assert_eq(p->num_entries, expected_entries());
    cr_assert_eq(p->num_deletions, dels);
    cr_assert_eq(p->raw_key_bytes, rk);
    cr_assert_eq(p->raw_value_bytes, rv);
    cr_assert_eq(p->min_seq, 1);
    int last = NKEYS - 1;
    uint64_t maxseq = 10 * (uint64_t)last + (last % 5 == 0 ? 7 : last % 3 == 0 ? 5 : 1);
    cr_assert_eq(p->max_seq, maxseq);
    int last7 = (NKEYS - 1) / 7 * 7;
    cr_assert_eq(p->oldest_expire, (uint64_t)(1000000 - last7));
    cr_assert_gt(p->num_data_blocks, 10);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(p->file_size, (uint64_t)st.st_size);
    char k[64], u[32];
    size_t kl = ikey_encode(k, u, ukey(u, 0), 7, KIND_DELETE);
    cr_assert(p->smallest_len == kl && memcmp(p->smallest, k, kl) == 0);
    kl = ikey_encode(k, u, ukey(u, NKEYS - 1), 10 * (uint64_t)(NKEYS - 1) + 1, KIND_VALUE);
    cr_assert(p->largest_len == kl && memcmp(p->largest, k, kl) == 0);
}

static void check_gets(sst_reader *r) {
    lsm_buf val = {0};
    char u[32], v[128];
    for (int i = 0; i < NKEYS; i++) {
        size_t ul = ukey(u, i);
        uint64_t base = 10 * (uint64_t)i;
        /* latest */
        int rc = sst_reader_get(r, u, ul, MAX_SEQUENCE, &val);
        if (i % 5 == 0) {
            cr_assert_eq(rc, SST_DELETED, "key %d", i);
        } else {
            cr_assert_eq(rc, SST_FOUND, "key %d rc %d", i, rc);
            size_t vl = mkval(v, i % 3 == 0 ? 'b' : 'a', i);
            cr_assert(val.len == vl && memcmp(val.data, v, vl) == 0, "value of %d", i);
        }
        if (i % 4) continue; /* snapshots on a subset to keep it quick */
        rc = sst_reader_get(r, u, ul, base + 6, &val);
        cr_assert_eq(rc, SST_FOUND);
        size_t vl = mkval(v, i % 3 == 0 ? 'b' : 'a', i);
        cr_assert(val.len == vl && memcmp(val.data, v, vl) == 0);
        rc = sst_reader_get(r, u, ul, base + 1, &val);
        cr_assert_eq(rc, SST_FOUND);
        vl = mkval(v, 'a', i);
        cr_assert(val.len == vl && memcmp(val.data, v, vl) == 0);
        cr_assert_eq(sst_reader_get(r, u, ul, base, &val), SST_NOTFOUND, "before first version");
    }
    /* absent keys: between, before and after */
    cr_assert_eq(sst_reader_get(r, "a", 1, MAX_SEQUENCE, &val), SST_NOTFOUND);
    cr_assert_eq(sst_reader_get(r, "zzz", 3, MAX_SEQUENCE, &val), SST_NOTFOUND);
    cr_assert_eq(sst_reader_get(r, "", 0, MAX_SEQUENCE, &val), SST_NOTFOUND);
    uint64_t c0, u0, c1, u1;
    sst_bloom_stats(&c0, &u0);
    int absent = 0;
    for (int i = 0; i < 10000; i++) {
        char a[40];
        int al = snprintf(a, sizeof(a), "k%08d-x", i * 7);
        absent += sst_reader_get(r, a, (size_t)al, MAX_SEQUENCE, &val) == SST_NOTFOUND;
    }
    cr_assert_eq(absent, 10000);
    sst_bloom_stats(&c1, &u1);
    cr_assert_eq(c1 - c0, 10000);
    cr_assert_gt(u1 - u0, 9700, "bloom ruled out only %llu", (unsigned long long)(u1 - u0));
    free(val.data);
}

/* Backward: the whole table from the last entry (every entry once, descending, across every
 * data block boundary), then seek_for_prev between keys and onto versions, with a switch of
 * direction after each. */
static void check_iter_backward(sst_reader *r, int fill_cache) {
    internal_iter *it = sst_reader_iter_new(r, fill_cache);
    cr_assert_not_null(it);
    uint64_t n = 0;
    char prev[64];
    size_t prevl = 0;
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (n) cr_assert_gt(ikey_compare(prev, prevl, k, kl), 0, "descending at %llu", (unsigned long long)n);
        memcpy(prev, k, kl);
        prevl = kl;
        n++;
    }
    cr_assert_eq(iter_status(it), 0);
    cr_assert_eq(n, expected_entries());
    char u[32], u2[32], k[64];
    size_t ul = ukey(u, 0), gkl;
    cr_assert(prevl == ul + 8 && memcmp(prev, u, ul) == 0, "ends at the first key");
    for (int i = 0; i < NKEYS; i += 89) {
        /* between key i and i+1: lands on key i's oldest version (seq 10i+1) */
        ul = ukey(u, i);
        memcpy(k, u, ul);
        k[ul] = 0;
        size_t kl = ikey_lookup(k, k, ul + 1, MAX_SEQUENCE);
        iter_seek_for_prev(it, k, kl);
        cr_assert(iter_valid(it));
        const char *gk = iter_key(it, &gkl);
        cr_assert(gkl == ul + 8 && memcmp(gk, u, ul) == 0, "seek_for_prev after key %d", i);
        cr_assert_eq(ikey_seq(gk, gkl), 10 * (uint64_t)i + 1);
        iter_next(it); /* switch: the next key's newest version */
        if (i + 1 < NKEYS) {
            cr_assert(iter_valid(it));
            gk = iter_key(it, &gkl);
            size_t u2l = ukey(u2, i + 1);
            cr_assert(gkl == u2l + 8 && memcmp(gk, u2, u2l) == 0);
            iter_prev(it); /* and back */
            gk = iter_key(it, &gkl);
            cr_assert(iter_valid(it) && gkl == ul + 8 && memcmp(gk, u, ul) == 0);
            cr_assert_eq(ikey_seq(gk, gkl), 10 * (uint64_t)i + 1);
        } else {
            cr_assert(!iter_valid(it));
        }
        /* (key i, snapshot 10i+4) sorts between versions b (10i+5) and a: last <= is b, or
         * the delete (10i+7) when there is no b, or the previous key's last entry */
        kl = ikey_lookup(k, u, ul, 10 * (uint64_t)i + 4);
        iter_seek_for_prev(it, k, kl);
        if (i % 3 == 0 || i % 5 == 0) {
            cr_assert(iter_valid(it));
            gk = iter_key(it, &gkl);
            cr_assert(gkl == ul + 8 && memcmp(gk, u, ul) == 0);
            cr_assert_eq(ikey_seq(gk, gkl), 10 * (uint64_t)i + (i % 3 == 0 ? 5 : 7));
        } else if (i > 0) {
            cr_assert(iter_valid(it));
            gk = iter_key(it, &gkl);
            size_t u2l = ukey(u2, i - 1);
            cr_assert(gkl == u2l + 8 && memcmp(gk, u2, u2l) == 0);
            cr_assert_eq(ikey_seq(gk, gkl), 10 * (uint64_t)(i - 1) + 1);
        }
    }
    size_t kl = ikey_lookup(k, "", 0, MAX_SEQUENCE);
    iter_seek_for_prev(it, k, kl);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), 0);
    kl = ikey_lookup(k, "z", 1, MAX_SEQUENCE);
    iter_seek_for_prev(it, k, kl);
    cr_assert(iter_valid(it));
    const char *gk = iter_key(it, &gkl);
    ul = ukey(u, NKEYS - 1);
    cr_assert(gkl == ul + 8 && memcmp(gk, u, ul) == 0);
    iter_destroy(it);
}

static void check_iter(sst_reader *r, int fill_cache) {
    internal_iter *it = sst_reader_iter_new(r, fill_cache);
    cr_assert_not_null(it);
    uint64_t n = 0;
    char prev[64];
    size_t prevl = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        size_t kl;
        const char *k = iter_key(it, &kl);
        if (n) cr_assert_lt(ikey_compare(prev, prevl, k, kl), 0, "ascending at %llu", (unsigned long long)n);
        memcpy(prev, k, kl);
        prevl = kl;
        n++;
    }
    cr_assert_eq(iter_status(it), 0);
    cr_assert_eq(n, expected_entries());
    /* seek: to each version, between keys, past the end */
    char k[64], u[32], v[128];
    for (int i = 0; i < NKEYS; i += 97) {
        size_t ul = ukey(u, i);
        size_t kl = ikey_lookup(k, u, ul, 10 * (uint64_t)i + 4); /* -> version a (seq 10i+1) */
        iter_seek(it, k, kl);
        cr_assert(iter_valid(it));
        size_t gkl, gvl;
        const char *gk = iter_key(it, &gkl);
        const char *gv = iter_value(it, &gvl);
        cr_assert(gkl == ul + 8 && memcmp(gk, u, ul) == 0);
        cr_assert_eq(ikey_seq(gk, gkl), 10 * (uint64_t)i + 1);
        size_t vl = mkval(v, 'a', i);
        cr_assert(gvl == vl && memcmp(gv, v, vl) == 0);
        /* between key i and i+1 ("k%08d\0" sorts after "k%08d") */
        memcpy(k, u, ul);
        k[ul] = 0;
        kl = ikey_lookup(k, k, ul + 1, MAX_SEQUENCE);
        iter_seek(it, k, kl);
        if (i + 1 < NKEYS) {
            cr_assert(iter_valid(it));
            gk = iter_key(it, &gkl);
            char u2[32];
            size_t u2l = ukey(u2, i + 1);
            cr_assert(gkl == u2l + 8 && memcmp(gk, u2, u2l) == 0);
        }
    }
    size_t kl = ikey_lookup(k, "z", 1, MAX_SEQUENCE);
    iter_seek(it, k, kl);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), 0);
    kl = ikey_lookup(k, "", 0, MAX_SEQUENCE);
    iter_seek(it, k, kl);
    cr_assert(iter_valid(it));
    iter_destroy(it);
    check_iter_backward(r, fill_cache);
}

Test(sst, round_trip_100k_keys_versions_deletes_snapshots_scan_seek) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000007.sst", g_dir);
    sst_options o;
    default_opts(&o);
    o.expire_fn = expire_of;
    sst_props props;
    build_table(path, &o, &props);
    check_props(&props, path);

    block_cache *c = block_cache_new(8 << 20);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 7, c, &r), 0);
    check_props(sst_reader_props(r), path);
    cr_assert_eq(sst_reader_file_number(r), 7);
    check_gets(r);
    check_gets(r); /* second pass: partly from cache */
    block_cache_stats st;
    block_cache_get_stats(c, &st);
    cr_assert_gt(st.hits, 0);
    cr_assert_leq(st.bytes, st.capacity + 65536);
    check_iter(r, 1);
    check_iter(r, 0);
    sst_reader_unref(r);
    block_cache_erase_file(c, 7); /* data blocks outlive the reader until erased */
    block_cache_get_stats(c, &st);
    cr_assert_eq(st.bytes, 0, "pinned index/filter uncharged: %llu", (unsigned long long)st.bytes);
    cr_assert_eq(st.entries, 0);
    block_cache_free(c);
    sst_props_free(&props);
}

/* sst_reader_block_holds: whether a cached data block has an entry of a key (what an io_uring
 * lookup checks when the block it waited for lands), without reading anything. */
Test(sst, block_holds_answers_from_the_cached_block_only) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000009.sst", g_dir);
    sst_options o;
    default_opts(&o);
    sst_props props;
    build_table(path, &o, &props);
    block_cache *c = block_cache_new(8 << 20);
    block_cache_set_reuse_window(c, 0);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 9, c, &r), 0);
    char u[32], v2[32];
    lsm_buf val = {0};
    size_t ul = ukey(u, 51235); /* i % 5 == 0: its newest entry is a deletion */
    uint64_t off, size;
    cr_assert_eq(sst_reader_get_cache_only(r, u, ul, key_hash64(u, ul), MAX_SEQUENCE, &val, &off, &size),
                 SST_WOULDBLOCK);
    cr_assert_neq(off, UINT64_MAX);
    cr_assert_eq(sst_reader_block_holds(r, off, u, ul), -1, "not cached: no answer");
    cr_assert_eq(sst_reader_get_hashed(r, u, ul, key_hash64(u, ul), MAX_SEQUENCE, &val), SST_DELETED);
    cr_assert_eq(sst_reader_block_holds(r, off, u, ul), 1, "a deletion is an entry of the key");
    size_t l2 = ukey(v2, 51236);
    uint64_t off2, size2;
    int rc = sst_reader_get_cache_only(r, v2, l2, key_hash64(v2, l2), MAX_SEQUENCE, &val, &off2, &size2);
    if (rc == SST_FOUND) { /* the same block: it holds the neighbour too */
        cr_assert_eq(sst_reader_block_holds(r, off, v2, l2), 1);
    } else {
        cr_assert_eq(rc, SST_WOULDBLOCK);
        cr_assert_neq(off2, off);
    }
    /* a key between two of the block's keys: the table has no entry of it */
    memcpy(v2, u, ul);
    v2[ul] = 'x';
    cr_assert_eq(sst_reader_block_holds(r, off, v2, ul + 1), 0);
    cr_assert_eq(sst_reader_block_holds(r, off, u, ul - 1), 0, "a prefix of a key is another key");
    lsm_buf_free(&val);
    sst_reader_unref(r);
    block_cache_erase_file(c, 9);
    block_cache_free(c);
    sst_props_free(&props);
}

Test(sst, reader_without_cache_and_without_filter) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000008.sst", g_dir);
    sst_options o;
    default_opts(&o);
    o.bloom_bits_per_key = 0;
    o.compression = 0;
    o.block_size = 4096;
    o.restart_interval = 1;
    sst_props props;
    build_table(path, &o, &props);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 8, NULL, &r), 0);
    lsm_buf val = {0};
    char u[32];
    for (int i = 0; i < NKEYS; i += 13) {
        int rc = sst_reader_get(r, u, ukey(u, i), MAX_SEQUENCE, &val);
        cr_assert_eq(rc, i % 5 == 0 ? SST_DELETED : SST_FOUND);
    }
    cr_assert_eq(sst_reader_get(r, "k1", 2, MAX_SEQUENCE, &val), SST_NOTFOUND);
    check_iter(r, 1);
    free(val.data);
    sst_reader_unref(r);
    sst_props_free(&props);
}

Test(sst, empty_table_round_trip) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000009.sst", g_dir);
    sst_options o;
    default_opts(&o);
    sst_builder *b = sst_builder_new(path, &o);
    sst_props p;
    cr_assert_eq(sst_builder_finish(b, &p), 0);
    cr_assert_eq(p.num_entries, 0);
    cr_assert_null(p.smallest);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 9, NULL, &r), 0);
    lsm_buf val = {0};
    cr_assert_eq(sst_reader_get(r, "a", 1, MAX_SEQUENCE, &val), SST_NOTFOUND);
    internal_iter *it = sst_reader_iter_new(r, 1);
    iter_seek_first(it);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), 0);
    iter_seek_last(it);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), 0);
    char k[16];
    size_t kl = ikey_lookup(k, "a", 1, MAX_SEQUENCE);
    iter_seek_for_prev(it, k, kl);
    cr_assert(!iter_valid(it));
    iter_destroy(it);
    sst_reader_unref(r);
    sst_props_free(&p);
}

Test(sst, empty_value_is_a_value_not_a_delete) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000010.sst", g_dir);
    sst_options o;
    default_opts(&o);
    sst_builder *b = sst_builder_new(path, &o);
    char k[32];
    size_t kl = ikey_encode(k, "e", 1, 5, KIND_VALUE);
    cr_assert_eq(sst_builder_add(b, k, kl, "", 0), 0);
    cr_assert_eq(sst_builder_finish(b, NULL), 0);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 10, NULL, &r), 0);
    lsm_buf val = {0};
    val.len = 99;
    cr_assert_eq(sst_reader_get(r, "e", 1, MAX_SEQUENCE, &val), SST_FOUND);
    cr_assert_eq(val.len, 0);
    free(val.data);
    sst_reader_unref(r);
}

Test(sst, keys_out_of_order_are_rejected_and_abandon_removes_temp) {
    char path[512], tmp[520];
    snprintf(path, sizeof(path), "%s/000011.sst", g_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    sst_options o;
    default_opts(&o);
    sst_builder *b = sst_builder_new(path, &o);
    char k[32];
    size_t kl = ikey_encode(k, "b", 1, 5, KIND_VALUE);
    cr_assert_eq(sst_builder_add(b, k, kl, "x", 1), 0);
    kl = ikey_encode(k, "a", 1, 5, KIND_VALUE);
    cr_assert_eq(sst_builder_add(b, k, kl, "x", 1), LSM_EINVAL);
    kl = ikey_encode(k, "b", 1, 5, KIND_VALUE); /* duplicate */
    cr_assert_eq(sst_builder_add(b, k, kl, "x", 1), LSM_EINVAL);
    cr_assert_eq(sst_builder_entries(b), 1);
    cr_assert_eq(access(tmp, F_OK), 0);
    sst_builder_abandon(b);
    cr_assert_eq(access(tmp, F_OK), -1);
    cr_assert_eq(access(path, F_OK), -1);
}

/* Reads the first data block's type byte via the footer and index block. */
static int first_block_type(const char *path, uint64_t *block_size) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    char *d = malloc((size_t)sz);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fread(d, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    const char *ft = d + sz - SST_FOOTER_SIZE;
    cr_assert_eq(decode_fixed64(ft + 56), SST_MAGIC);
    uint64_t io = decode_fixed64(ft), is = decode_fixed64(ft + 8);
    cr_assert_eq(d[io + is], SST_COMP_NONE, "index block is stored raw");
    block ib;
    cr_assert_eq(block_parse(&ib, d + io, is), 0);
    block_iter it;
    block_iter_init(&it, &ib);
    block_iter_seek_first(&it);
    cr_assert(block_iter_valid(&it));
    size_t hl;
    const char *h = block_iter_value(&it, &hl);
    uint64_t off = 1, size = 0;
    const char *lim = h + hl;
    h = decode_varint64(h, lim, &off);
    cr_assert_not_null(h);
    cr_assert_not_null(decode_varint64(h, lim, &size));
    cr_assert_eq(off, 0);
    int type = d[size];
    *block_size = size;
    block_iter_cleanup(&it);
    free(d);
    return type;
}

static void build_values(const char *path, int random_values) {
    sst_options o;
    default_opts(&o);
    sst_builder *b = sst_builder_new(path, &o);
    unsigned s = 12345;
    char k[32], v[200];
    for (int i = 0; i < 2000; i++) {
        for (int j = 0; j < 200; j++) {
            s = s * 1103515245u + 12345u;
            v[j] = random_values ? (char)(s >> 16) : (char)('a' + j % 4);
        }
        char u[16];
        int ul = snprintf(u, sizeof(u), "r%06d", i);
        size_t kl = ikey_encode(k, u, (size_t)ul, 1, KIND_VALUE);
        cr_assert_eq(sst_builder_add(b, k, kl, v, sizeof(v)), 0);
    }
    cr_assert_eq(sst_builder_finish(b, NULL), 0);
}

Test(sst, lz4_only_when_it_saves_an_eighth_incompressible_stays_raw) {
    char p1[512], p2[512];
    snprintf(p1, sizeof(p1), "%s/000012.sst", g_dir);
    snprintf(p2, sizeof(p2), "%s/000013.sst", g_dir);
    build_values(p1, 1);
    build_values(p2, 0);
    uint64_t s1, s2;
    cr_assert_eq(first_block_type(p1, &s1), SST_COMP_NONE);
    cr_assert_geq(s1, 16 * 1024);
    cr_assert_eq(first_block_type(p2, &s2), SST_COMP_LZ4);
    cr_assert_lt(s2, 16 * 1024 / 8);
    /* both read back */
    const char *paths[2] = {p1, p2};
    for (int t = 0; t < 2; t++) {
        sst_reader *r;
        cr_assert_eq(sst_reader_open(paths[t], 12 + (uint64_t)t, NULL, &r), 0);
        internal_iter *it = sst_reader_iter_new(r, 0);
        int n = 0;
        for (iter_seek_first(it); iter_valid(it); iter_next(it)) n++;
        cr_assert_eq(n, 2000);
        iter_destroy(it);
        sst_reader_unref(r);
    }
}

static void flip_byte(const char *path, long off) {
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    char c;
    cr_assert_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    cr_assert_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

Test(sst, corrupt_data_block_byte_gives_ecorrupt_on_get_and_iter) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000014.sst", g_dir);
    build_values(path, 1);
    flip_byte(path, 100); /* inside the first data block */
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 14, NULL, &r), 0, "index/filter/props intact");
    lsm_buf val = {0};
    cr_assert_eq(sst_reader_get(r, "r000000", 7, MAX_SEQUENCE, &val), LSM_ECORRUPT);
    cr_assert_eq(sst_reader_get(r, "r001999", 7, MAX_SEQUENCE, &val), SST_FOUND);
    internal_iter *it = sst_reader_iter_new(r, 1);
    iter_seek_first(it);
    cr_assert(!iter_valid(it));
    cr_assert_eq(iter_status(it), LSM_ECORRUPT);
    iter_destroy(it);
    /* backward from the end reaches the bad block and stops there with the error */
    it = sst_reader_iter_new(r, 1);
    uint64_t n = 0;
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) n++;
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 2000);
    cr_assert_eq(iter_status(it), LSM_ECORRUPT);
    iter_destroy(it);
    free(val.data);
    sst_reader_unref(r);
}

Test(sst, corrupt_footer_index_or_truncation_fails_open) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000015.sst", g_dir);
    build_values(path, 0);
    struct stat st;
    stat(path, &st);
    sst_reader *r;
    flip_byte(path, st.st_size - 1); /* magic */
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), LSM_ECORRUPT);
    flip_byte(path, st.st_size - 1);
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), 0);
    sst_reader_unref(r);
    flip_byte(path, st.st_size - 60); /* a handle: footer crc */
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), LSM_ECORRUPT);
    flip_byte(path, st.st_size - 60);
    /* index block contents */
    int fd = open(path, O_RDONLY);
    char ft[SST_FOOTER_SIZE];
    cr_assert_eq(pread(fd, ft, sizeof(ft), st.st_size - SST_FOOTER_SIZE), SST_FOOTER_SIZE);
    close(fd);
    flip_byte(path, (long)decode_fixed64(ft) + 2);
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), LSM_ECORRUPT);
    flip_byte(path, (long)decode_fixed64(ft) + 2);
    cr_assert_eq(truncate(path, st.st_size - 1), 0);
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), LSM_ECORRUPT);
    cr_assert_eq(truncate(path, 10), 0);
    cr_assert_eq(sst_reader_open(path, 15, NULL, &r), LSM_ECORRUPT);
    char missing[520];
    snprintf(missing, sizeof(missing), "%s/999999.sst", g_dir);
    cr_assert_eq(sst_reader_open(missing, 1, NULL, &r), LSM_EIO);
}

typedef struct getter_arg {
    sst_reader *r;
    int start;
    int bad;
} getter_arg;

static void *getter(void *p) {
    getter_arg *a = p;
    lsm_buf val = {0};
    char u[32];
    for (int i = a->start; i < 2000; i += 2) {
        int ul = snprintf(u, sizeof(u), "r%06d", i);
        if (sst_reader_get(a->r, u, (size_t)ul, MAX_SEQUENCE, &val) != SST_FOUND || val.len != 200)
            a->bad++;
    }
    internal_iter *it = sst_reader_iter_new(a->r, 1);
    int n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) n++;
    if (n != 2000) a->bad++;
    iter_destroy(it);
    free(val.data);
    return NULL;
}

Test(sst, concurrent_gets_and_iterators_from_two_threads) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000016.sst", g_dir);
    build_values(path, 1);
    block_cache *c = block_cache_new(64 * 1024); /* small: forces eviction while reading */
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 16, c, &r), 0);
    getter_arg a[2] = {{r, 0, 0}, {r, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, getter, &a[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    cr_assert_eq(a[0].bad + a[1].bad, 0);
    sst_reader_unref(r);
    block_cache_free(c);
}

/* Index search accelerator edge cases: every key shares a 20-byte prefix, many keys tie on the
 * next 8 bytes and differ only later, keys of different lengths (prefix of one another), and
 * targets shorter than / outside the shared prefix. */
static size_t tie_key(char *u, int i) {
    memset(u, 'P', 20);
    /* window bytes 20..27 change only every 50 keys; the tail varies in length */
    int n = snprintf(u + 20, 64, "%08d%0*d", i / 50, 1 + (i % 50) / 10, i % 50);
    return 20 + (size_t)n;
}

Test(sst, index_search_long_shared_prefix_window_ties_and_short_targets) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000017.sst", g_dir);
    sst_options o;
    default_opts(&o);
    o.block_size = 256; /* many index entries */
    sst_builder *b = sst_builder_new(path, &o);
    /* sort the keys: generate, then insertion order by ukey_compare */
    enum { N = 3000 };
    static char keys[N][96];
    static size_t kls[N];
    int order[N];
    for (int i = 0; i < N; i++) { kls[i] = tie_key(keys[i], i); order[i] = i; }
    for (int i = 1; i < N; i++) { /* insertion sort on indexes (N small) */
        int x = order[i], j = i - 1;
        while (j >= 0 && ukey_compare(keys[order[j]], kls[order[j]], keys[x], kls[x]) > 0) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = x;
    }
    char ik[128];
    for (int j = 0; j < N; j++) {
        int i = order[j];
        size_t kl = ikey_encode(ik, keys[i], kls[i], (uint64_t)i + 1, KIND_VALUE);
        cr_assert_eq(sst_builder_add(b, ik, kl, (char *)&i, sizeof(i)), 0);
    }
    sst_props p;
    cr_assert_eq(sst_builder_finish(b, &p), 0);
    cr_assert_gt(p.num_data_blocks, 100);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 17, NULL, &r), 0);
    lsm_buf val = {0};
    for (int i = 0; i < N; i++) {
        cr_assert_eq(sst_reader_get(r, keys[i], kls[i], MAX_SEQUENCE, &val), SST_FOUND, "key %d", i);
        int got;
        memcpy(&got, val.data, sizeof(got));
        cr_assert_eq(got, i);
        cr_assert_eq(sst_reader_get(r, keys[i], kls[i], (uint64_t)i, &val), SST_NOTFOUND);
        /* a key just after keys[i] (extra 0 byte) must not be found */
        char u[100];
        memcpy(u, keys[i], kls[i]);
        u[kls[i]] = 0;
        cr_assert_eq(sst_reader_get(r, u, kls[i] + 1, MAX_SEQUENCE, &val), SST_NOTFOUND);
    }
    cr_assert_eq(sst_reader_get(r, "PPP", 3, MAX_SEQUENCE, &val), SST_NOTFOUND);
    cr_assert_eq(sst_reader_get(r, "PPQ", 3, MAX_SEQUENCE, &val), SST_NOTFOUND);
    /* seeks: each key in order, and targets outside the shared prefix */
    internal_iter *it = sst_reader_iter_new(r, 0);
    for (int j = 0; j < N; j += 7) {
        int i = order[j];
        size_t kl = ikey_lookup(ik, keys[i], kls[i], MAX_SEQUENCE);
        iter_seek(it, ik, kl);
        cr_assert(iter_valid(it));
        size_t gkl;
        const char *gk = iter_key(it, &gkl);
        cr_assert(gkl == kls[i] + 8 && memcmp(gk, keys[i], kls[i]) == 0, "seek %d", i);
    }
    size_t kl = ikey_lookup(ik, "PPP", 3, MAX_SEQUENCE);
    iter_seek(it, ik, kl);
    cr_assert(iter_valid(it));
    size_t gkl;
    const char *gk = iter_key(it, &gkl);
    cr_assert(gkl == kls[order[0]] + 8 && memcmp(gk, keys[order[0]], kls[order[0]]) == 0);
    kl = ikey_lookup(ik, "PPQ", 3, MAX_SEQUENCE);
    iter_seek(it, ik, kl);
    cr_assert(!iter_valid(it));
    kl = ikey_lookup(ik, "A", 1, MAX_SEQUENCE);
    iter_seek(it, ik, kl);
    cr_assert(iter_valid(it));
    iter_destroy(it);
    free(val.data);
    sst_reader_unref(r);
    sst_props_free(&p);
}

/* Shortened index separators: user keys far apart ("aa..", "ca..", "ea..") with tiny blocks, so
 * separators are short keys between blocks; lookups that land exactly on / between separators
 * must still find the right block. Also: fill_cache=0 iterators do not fill the cache. */
Test(sst, shortened_separators_between_blocks_and_fill_cache_0) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000018.sst", g_dir);
    sst_options o;
    default_opts(&o);
    o.block_size = 64; /* about one entry per block */
    sst_builder *b = sst_builder_new(path, &o);
    char ik[64], u[32];
    int n = 0;
    for (char c = 'a'; c <= 'y'; c += 2) {
        for (int j = 0; j < 3; j++) {
            int ul = snprintf(u, sizeof(u), "%c%c-long-suffix-%d", c, 'a' + j * 5, j);
            size_t kl = ikey_encode(ik, u, (size_t)ul, 9, KIND_VALUE);
            cr_assert_eq(sst_builder_add(b, ik, kl, u, (size_t)ul), 0);
            n++;
        }
    }
    sst_props p;
    cr_assert_eq(sst_builder_finish(b, &p), 0);
    cr_assert_geq(p.num_data_blocks, (uint64_t)n / 2);
    block_cache *c = block_cache_new(1 << 20);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 18, c, &r), 0);
    lsm_buf val = {0};
    for (char ch = 'a'; ch <= 'z'; ch++) {
        for (int j = 0; j < 3; j++) {
            int ul = snprintf(u, sizeof(u), "%c%c-long-suffix-%d", ch, 'a' + j * 5, j);
            int want = (ch - 'a') % 2 == 0 && ch <= 'y' ? SST_FOUND : SST_NOTFOUND;
            cr_assert_eq(sst_reader_get(r, u, (size_t)ul, MAX_SEQUENCE, &val), want, "%s", u);
            if (want == SST_FOUND) cr_assert(val.len == (size_t)ul && memcmp(val.data, u, val.len) == 0);
            /* short probes between keys: "b", "ab", "ag" */
            char s2[3] = {ch, (char)('a' + j * 5 + 1), 0};
            cr_assert_eq(sst_reader_get(r, s2, 2, MAX_SEQUENCE, &val), SST_NOTFOUND);
            cr_assert_eq(sst_reader_get(r, s2, 1, MAX_SEQUENCE, &val), SST_NOTFOUND);
        }
    }
    block_cache_erase_file(c, 18);
    block_cache_stats before, after;
    block_cache_get_stats(c, &before);
    internal_iter *it = sst_reader_iter_new(r, 0);
    /* seek to a one-letter key between blocks: the first key of the next block */
    for (char ch = 'a'; ch <= 'x'; ch++) {
        char s1[1] = {ch};
        size_t kl = ikey_lookup(ik, s1, 1, MAX_SEQUENCE);
        iter_seek(it, ik, kl);
        cr_assert(iter_valid(it));
        size_t gkl;
        const char *gk = iter_key(it, &gkl);
        char want = (ch - 'a') % 2 == 0 ? ch : (char)(ch + 1);
        cr_assert_eq(gk[0], want);
        cr_assert_eq(gk[1], 'a');
    }
    int cnt = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) cnt++;
    cr_assert_eq(cnt, n);
    iter_destroy(it);
    block_cache_get_stats(c, &after);
    cr_assert_eq(after.entries, before.entries, "fill_cache=0 inserts nothing");
    cr_assert_eq(after.bytes, before.bytes);
    free(val.data);
    sst_reader_unref(r);
    block_cache_free(c);
    sst_props_free(&p);
}

/* A table written by the builder before the cache-local filter (legacy bloom layout, k = 7 in
 * the filter's last byte): the worked example of doc/sstable_format.md as it was, byte for
 * byte. Tables on disk from that version must keep answering correctly. */
static const unsigned char legacy_filter_table[] = {
  0x00, 0x0d, 0x03, 0x61, 0x70, 0x70, 0x6c, 0x65, 0x01, 0x05, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x72, 0x65, 0x64, 0x02, 0x0d, 0x00, 0x72, 0x69,
  0x63, 0x6f, 0x74, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x76, 0x87, 0xe9, 0x19,
  0x7f, 0x00, 0x20, 0x84, 0x10, 0x42, 0x08, 0x00, 0x07, 0x00, 0x0b, 0x38,
  0x5b, 0xfb, 0x00, 0x0f, 0x02, 0x61, 0x70, 0x72, 0x69, 0x63, 0x6f, 0x74,
  0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00,
  0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x9b, 0x9b, 0x2d, 0x59, 0x00,
  0x10, 0x01, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x64, 0x61, 0x74, 0x61, 0x2e,
  0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x73, 0x01, 0x00, 0x0e, 0x01, 0x6b, 0x65,
  0x76, 0x6f, 0x2e, 0x64, 0x65, 0x6c, 0x65, 0x74, 0x69, 0x6f, 0x6e, 0x73,
  0x01, 0x00, 0x0c, 0x01, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x65, 0x6e, 0x74,
  0x72, 0x69, 0x65, 0x73, 0x02, 0x00, 0x0c, 0x0f, 0x6b, 0x65, 0x76, 0x6f,
  0x2e, 0x6c, 0x61, 0x72, 0x67, 0x65, 0x73, 0x74, 0x61, 0x70, 0x72, 0x69,
  0x63, 0x6f, 0x74, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x0c, 0x01, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x6d, 0x61, 0x78, 0x2e, 0x73,
  0x65, 0x71, 0x05, 0x00, 0x0c, 0x01, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x6d,
  0x69, 0x6e, 0x2e, 0x73, 0x65, 0x71, 0x03, 0x00, 0x12, 0x01, 0x6b, 0x65,
  0x76, 0x6f, 0x2e, 0x6f, 0x6c, 0x64, 0x65, 0x73, 0x74, 0x2e, 0x65, 0x78,
  0x70, 0x69, 0x72, 0x65, 0x00, 0x00, 0x12, 0x01, 0x6b, 0x65, 0x76, 0x6f,
  0x2e, 0x72, 0x61, 0x77, 0x2e, 0x6b, 0x65, 0x79, 0x2e, 0x62, 0x79, 0x74,
  0x65, 0x73, 0x1c, 0x00, 0x14, 0x01, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x72,
  0x61, 0x77, 0x2e, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x2e, 0x62, 0x79, 0x74,
  0x65, 0x73, 0x03, 0x00, 0x0d, 0x0d, 0x6b, 0x65, 0x76, 0x6f, 0x2e, 0x73,
  0x6d, 0x61, 0x6c, 0x6c, 0x65, 0x73, 0x74, 0x61, 0x70, 0x70, 0x6c, 0x65,
  0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x14, 0x00, 0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x00,
  0x54, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x74, 0x00, 0x00, 0x00,
  0x8a, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x00, 0x00, 0xb8, 0x00, 0x00, 0x00,
  0x0a, 0x00, 0x00, 0x00, 0x00, 0x54, 0xb4, 0xc9, 0x32, 0x3e, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x5f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
  0x00, 0x91, 0x20, 0xd2, 0x0d, 0x31, 0x54, 0x53, 0x53, 0x6f, 0x76, 0x65,
  0x4b
};

Test(sst, table_with_legacy_filter_still_read) {
    char path[512];
    snprintf(path, sizeof(path), "%s/000001.sst", g_dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(legacy_filter_table, 1, sizeof(legacy_filter_table), f),
                 sizeof(legacy_filter_table));
    fclose(f);
    block_cache *c = block_cache_new(1 << 20);
    sst_reader *r;
    cr_assert_eq(sst_reader_open(path, 1, c, &r), 0);
    lsm_buf v = {0};
    uint64_t checks0, useful0, checks1, useful1;
    sst_bloom_stats(&checks0, &useful0);
    cr_assert_eq(sst_reader_get(r, "apple", 5, MAX_SEQUENCE, &v), SST_FOUND);
    cr_assert_eq(v.len, 3);
    cr_assert_eq(memcmp(v.data, "red", 3), 0);
    cr_assert_eq(sst_reader_get(r, "apricot", 7, MAX_SEQUENCE, &v), SST_DELETED);
    cr_assert_eq(sst_reader_get(r, "apple", 5, 4, &v), SST_NOTFOUND); /* older than @5 */
    /* absent keys: the legacy filter rules most of them out (it is read, not skipped) */
    int out = 0;
    char k[32];
    for (int i = 0; i < 200; i++) {
        size_t kl = (size_t)snprintf(k, sizeof(k), "absent-%d", i);
        cr_assert_eq(sst_reader_get(r, k, kl, MAX_SEQUENCE, &v), SST_NOTFOUND);
    }
    sst_bloom_stats(&checks1, &useful1);
    out = (int)(useful1 - useful0);
    cr_assert_geq(checks1 - checks0, 203);
    cr_assert_gt(out, 150, "legacy filter ruled out only %d of 200 absent keys", out);
    sst_reader_unref(r);
    block_cache_free(c);
    free(v.data);
}
