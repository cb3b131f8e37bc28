/* test_lsm_basic.c - basic engine behaviour through lsm.h: put/get/delete, flush, reopen,
 * compaction, counters, iterator snapshots. Small memtable/target sizes exercise flush and
 * compaction quickly. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lsm.h"

static char dir[256];

static void rm_rf(const char *d) {
    DIR *dd = opendir(d);
    if (!dd) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(dd))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
        unlink(p);
    }
    closedir(dd);
    rmdir(d);
}

static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/kevo_lsm_basic_XXXXXX");
    cr_assert(mkdtemp(dir));
}
static void teardown(void) { rm_rf(dir); }

static int count_files(const char *suffix) {
    DIR *dd = opendir(dir);
    int n = 0;
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        if (l > sl && !strcmp(de->d_name + l - sl, suffix)) n++;
    }
    closedir(dd);
    return n;
}

static lsm_options small_opts(void) {
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = 64 << 10;
    o.block_size = 1024;
    o.level1_max_bytes = 256 << 10;
    o.target_file_size = 64 << 10;
    o.block_cache_size = 1 << 20;
    o.sync_mode = LSM_SYNC_NO;
    return o;
}

static lsm_t *open_db(const lsm_options *o) {
    lsm_t *db = NULL;
    int rc = lsm_open(dir, o, &db);
    cr_assert_eq(rc, 0, "open: %s", lsm_last_error(NULL));
    return db;
}

static void expect_value(lsm_t *db, const char *k, const char *v) {
    lsm_buf b = {0};
    int rc = lsm_get(db, k, strlen(k), &b);
    /* one assertion per lookup: Criterion ships every assertion to its runner */
    cr_assert(rc == 0 && b.len == strlen(v) && (b.len == 0 || memcmp(b.data, v, b.len) == 0),
              "get %s: rc %d, len %zu, want \"%s\"", k, rc, b.len, v);
    lsm_buf_free(&b);
}

static void expect_absent(lsm_t *db, const char *k) {
    lsm_buf b = {0};
    cr_assert_eq(lsm_get(db, k, strlen(k), &b), LSM_ENOTFOUND, "%s should be absent", k);
    lsm_buf_free(&b);
}

static void key_of(char *buf, int i) { sprintf(buf, "key%08d", i); }
static void val_of(char *buf, int i, int gen) { sprintf(buf, "value-%d-%d-padding-padding-padding-padding", i, gen); }

TestSuite(lsm_basic, .init = setup, .fini = teardown, .timeout = 60);

/* Six rounds of 500 puts over 1000 keys (round r writes key (i * 7 + r) % 1000 with generation
 * r), each round flushed to its own table; with_delete: key00000003 deleted in every round. */
static void write_rounds(lsm_t *db, int with_delete) {
    char k[32], v[64];
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 500; i++) {
            key_of(k, (i * 7 + round) % 1000);
            val_of(v, (i * 7 + round) % 1000, round);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
        }
        if (with_delete) cr_assert_eq(lsm_delete(db, "key00000003", 11), 0);
        cr_assert_eq(lsm_flush(db, 1), 0);
    }
}

Test(lsm_basic, put_get_delete_overwrite) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "a", 1, "1", 1), 0);
    cr_assert_eq(lsm_put(db, "b", 1, "2", 1), 0);
    expect_value(db, "a", "1");
    cr_assert_eq(lsm_put(db, "a", 1, "3", 1), 0);
    expect_value(db, "a", "3");
    cr_assert_eq(lsm_delete(db, "b", 1), 0);
    expect_absent(db, "b");
    expect_absent(db, "zz");
    cr_assert_eq(lsm_commit(db), 0);
    cr_assert_eq(lsm_close(db), 0);
}

/* lsm_commit_pending: 1 from a write (or an open group, or counters changed) until the commit
 * that makes it durable, 0 otherwise: the server sends replies built from reads alone before
 * its commit only then. With `always`, a flushed but not yet fsynced WAL still counts. */
Test(lsm_basic, commit_pending_from_a_write_until_its_commit) {
    for (int always = 0; always < 2; always++) {
        lsm_options o = small_opts();
        o.sync_mode = always ? LSM_SYNC_ALWAYS : LSM_SYNC_NO;
        lsm_t *db = open_db(&o);
        cr_assert_eq(lsm_commit_pending(db), 0, "a fresh database");
        expect_absent(db, "a");
        cr_assert_eq(lsm_commit_pending(db), 0, "reads change nothing");
        cr_assert_eq(lsm_put(db, "a", 1, "1", 1), 0);
        cr_assert_eq(lsm_commit_pending(db), 1, "a write");
        cr_assert_eq(lsm_commit(db), 0);
        cr_assert_eq(lsm_commit_pending(db), 0, "committed");
        lsm_group_begin(db);
        cr_assert_eq(lsm_commit_pending(db), 1, "an open group");
        cr_assert_eq(lsm_delete(db, "a", 1), 0);
        cr_assert_eq(lsm_group_end(db), 0);
        cr_assert_eq(lsm_commit_pending(db), 1, "a group's record");
        cr_assert_eq(lsm_commit(db), 0);
        cr_assert_eq(lsm_commit_pending(db), 0);
        cr_assert_eq(lsm_counter_add(db, 0, 5), 0);
        cr_assert_eq(lsm_commit_pending(db), 1, "a counter");
        cr_assert_eq(lsm_commit(db), 0);
        cr_assert_eq(lsm_commit_pending(db), 0);
        expect_absent(db, "a");
        cr_assert_eq(lsm_close(db), 0);
        rm_rf(dir);
        setup();
    }
}

Test(lsm_basic, empty_value_survives_flush_and_reopen) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "e", 1, "", 0), 0);
    expect_value(db, "e", "");
    cr_assert_eq(lsm_flush(db, 1), 0);
    expect_value(db, "e", "");
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    expect_value(db, "e", "");
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, reopen_after_close_replays_wal) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    for (int i = 0; i < 100; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
    }
    cr_assert_eq(lsm_delete(db, "key00000007", 11), 0);
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    for (int i = 0; i < 100; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        if (i == 7) expect_absent(db, k);
        else expect_value(db, k, v);
    }
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_geq(st.last_sequence, 101);
    /* sequence numbers never go back */
    cr_assert_eq(lsm_put(db, "key00000007", 11, "new", 3), 0);
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    expect_value(db, "key00000007", "new");
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, flush_creates_l0_table_and_deletes_wal) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "k", 1, "v", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 1);
    cr_assert_eq(st.flushes, 1, "flushes=%llu", (unsigned long long)st.flushes);
    cr_assert_eq(count_files(".sst"), 1);
    cr_assert_eq(count_files(".log"), 1, "only the active WAL remains");
    expect_value(db, "k", "v");
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    expect_value(db, "k", "v");
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, compaction_after_many_flushes_moves_data_to_l1) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    write_rounds(db, 1);
    /* let background compactions run to completion */
    for (int i = 0; i < 200; i++) {
        lsm_poll(db);
        lsm_stats st;
        lsm_get_stats(db, &st);
        if (st.running_compactions == 0 && st.level_files[0] < o.l0_compaction_trigger) break;
        usleep(10000);
    }
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_geq(st.compactions, 1);
    cr_assert_lt(st.level_files[0], o.l0_compaction_trigger);
    int deeper = 0;
    for (int l = 1; l < LSM_MAX_LEVELS; l++) deeper += st.level_files[l];
    cr_assert_gt(deeper, 0);
    /* the model: the last round that wrote each key */
    for (int key = 0; key < 1000; key++) {
        int last = -1;
        for (int round = 0; round < 6; round++)
            for (int i = 0; i < 500; i++)
                if ((i * 7 + round) % 1000 == key) last = round;
        key_of(k, key);
        if (key == 3 || last < 0) { expect_absent(db, k); continue; }
        val_of(v, key, last);
        expect_value(db, k, v);
    }
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    val_of(v, 10, 5);
    key_of(k, 10);
    /* key 10 = i*7+round: round 5 -> i*7 = 5 mod 1000 -> i = 715 (>500); check via model */
    int last = -1;
    for (int round = 0; round < 6; round++)
        for (int i = 0; i < 500; i++)
            if ((i * 7 + round) % 1000 == 10) last = round;
    if (last >= 0) {
        val_of(v, 10, last);
        expect_value(db, k, v);
    }
    expect_absent(db, "key00000003");
    cr_assert_eq(lsm_close(db), 0);
}

/* 300 keys flushed to L0, then every even one deleted in the memtable. */
static void put_300_flush_delete_evens(lsm_t *db) {
    char k[32], v[64];
    for (int i = 0; i < 300; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
    }
    cr_assert_eq(lsm_flush(db, 1), 0);
    for (int i = 0; i < 300; i += 2) {
        key_of(k, i);
        cr_assert_eq(lsm_delete(db, k, strlen(k)), 0);
    }
}

/* The even keys are gone, the odd ones keep their value. */
static void expect_evens_deleted(lsm_t *db) {
    char k[32], v[64];
    for (int i = 0; i < 300; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        if (i % 2 == 0) expect_absent(db, k);
        else expect_value(db, k, v);
    }
}

Test(lsm_basic, manual_full_compaction_drops_tombstones) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    put_300_flush_delete_evens(db);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 0);
    cr_assert_geq(st.tombstones_dropped, 150);
    expect_evens_deleted(db);
    cr_assert_eq(lsm_close(db), 0);
}

/* COMPACT ASYNC: the compaction must start only after the memtable it froze is in L0, or the
 * deletes still in that memtable are not dropped. */
Test(lsm_basic, async_manual_compaction_waits_for_its_flush_and_drops_tombstones) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    put_300_flush_delete_evens(db);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 0), 0);
    lsm_stats st;
    for (int spins = 0; spins < 2000; spins++) {
        lsm_poll(db);
        lsm_get_stats(db, &st);
        if (st.compactions > 0 && st.running_compactions == 0 && st.immutable_memtables == 0 &&
            st.level_files[0] == 0)
            break;
        usleep(5000);
    }
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 0);
    cr_assert_geq(st.tombstones_dropped, 150, "dropped %llu", (unsigned long long)st.tombstones_dropped);
    expect_evens_deleted(db);
    cr_assert_eq(lsm_close(db), 0);
}

/* CONFIG SET appendfsync: the policy changes in place, across memtable rotations (everysec
 * hands old WALs to the sync thread; leaving everysec must close them), and nothing is lost. */
Test(lsm_basic, sync_mode_switches_at_runtime_across_rotations_and_reopen) {
    lsm_options o = small_opts();
    o.sync_mode = LSM_SYNC_EVERYSEC;
    lsm_t *db = open_db(&o);
    const lsm_sync_mode modes[] = {LSM_SYNC_ALWAYS, LSM_SYNC_NO, LSM_SYNC_EVERYSEC,
                                   LSM_SYNC_NO, LSM_SYNC_ALWAYS, LSM_SYNC_EVERYSEC};
    char k[32], v[64];
    int n = 0;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        for (int i = 0; i < 400; i++, n++) { /* ~2 memtables per round: rotations in each mode */
            key_of(k, n);
            val_of(v, n, 0);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
            cr_assert_eq(lsm_commit(db), 0);
        }
        lsm_poll(db);
        cr_assert_eq(lsm_set_sync_mode(db, modes[m]), 0, "switch %zu", m);
    }
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    for (int i = 0; i < n; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        expect_value(db, k, v);
    }
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, counters_survive_reopen_and_flush) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    lsm_batch *b = lsm_batch_new();
    cr_assert_eq(lsm_batch_put(b, "x", 1, "1", 1), 0);
    cr_assert_eq(lsm_batch_counter_add(b, 3, 5), 0);
    cr_assert_eq(lsm_write(db, b), 0);
    lsm_batch_clear(b);
    cr_assert_eq(lsm_batch_counter_add(b, 3, -2), 0);
    cr_assert_eq(lsm_batch_counter_add(b, 0, 7), 0);
    cr_assert_eq(lsm_write(db, b), 0);
    cr_assert_eq(lsm_counter(db, 3), 3);
    cr_assert_eq(lsm_close(db), 0);

    db = open_db(&o);
    cr_assert_eq(lsm_counter(db, 3), 3);
    cr_assert_eq(lsm_counter(db, 0), 7);
    cr_assert_eq(lsm_flush(db, 1), 0); /* counters move into the MANIFEST */
    lsm_batch_clear(b);
    cr_assert_eq(lsm_batch_counter_add(b, 3, 10), 0);
    cr_assert_eq(lsm_write(db, b), 0);
    cr_assert_eq(lsm_close(db), 0);

    db = open_db(&o);
    cr_assert_eq(lsm_counter(db, 3), 13);
    cr_assert_eq(lsm_counter(db, 0), 7);
    expect_value(db, "x", "1");
    cr_assert_eq(lsm_close(db), 0);
    lsm_batch_free(b);
}

Test(lsm_basic, iterator_sees_a_snapshot) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "a", 1, "1", 1), 0);
    cr_assert_eq(lsm_put(db, "c", 1, "3", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    cr_assert_eq(lsm_put(db, "b", 1, "2", 1), 0);
    cr_assert_eq(lsm_delete(db, "c", 1), 0);
    lsm_iter *it = lsm_iter_new(db);
    /* writes after creation are not seen */
    cr_assert_eq(lsm_put(db, "d", 1, "4", 1), 0);
    cr_assert_eq(lsm_put(db, "a", 1, "X", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    const char *want_k[] = {"a", "b"}, *want_v[] = {"1", "2"};
    int n = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        const char *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
        cr_assert_lt(n, 2);
        cr_assert(kl == 1 && k[0] == want_k[n][0], "key %d", n);
        cr_assert(vl == 1 && v[0] == want_v[n][0], "value %d", n);
        n++;
    }
    cr_assert_eq(n, 2);
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_seek(it, "b", 1);
    cr_assert(lsm_iter_valid(it));
    size_t kl;
    cr_assert_eq(lsm_iter_key(it, &kl)[0], 'b');
    lsm_iter_free(it);

    it = lsm_iter_new(db);
    n = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) n++;
    cr_assert_eq(n, 3); /* a b d */
    lsm_iter_free(it);
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, second_open_is_refused_with_ebusy) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    lsm_t *db2 = NULL;
    cr_assert_eq(lsm_open(dir, &o, &db2), LSM_EBUSY);
    cr_assert_null(db2);
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, many_writes_rotate_memtables_and_stay_readable) {
    lsm_options o = small_opts();
    o.compaction_threads = 2;
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    for (int i = 0; i < 20000; i++) {
        key_of(k, (i * 7919) % 20000);
        val_of(v, (i * 7919) % 20000, 1);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
        if (i % 100 == 0) {
            cr_assert_eq(lsm_commit(db), 0);
            lsm_poll(db);
        }
    }
    for (int i = 0; i < 20000; i += 37) {
        key_of(k, i);
        val_of(v, i, 1);
        expect_value(db, k, v);
    }
    int n = 0;
    lsm_iter *it = lsm_iter_new(db);
    char prev[32] = "";
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *kk = lsm_iter_key(it, &kl);
        cr_assert_lt(n, 20000);
        cr_assert(kl < 32);
        char cur[32];
        memcpy(cur, kk, kl);
        cur[kl] = 0;
        cr_assert_gt(strcmp(cur, prev), 0);
        strcpy(prev, cur);
        n++;
    }
    cr_assert_eq(n, 20000);
    lsm_iter_free(it);
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    for (int i = 0; i < 20000; i += 101) {
        key_of(k, i);
        val_of(v, i, 1);
        expect_value(db, k, v);
    }
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, live_iterator_keeps_shadowed_version_through_flush_and_compaction) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "a", 1, "old", 3), 0);
    cr_assert_eq(lsm_put(db, "b", 1, "gone", 4), 0);
    lsm_iter *it = lsm_iter_new(db);
    for (int i = 0; i < 50; i++) cr_assert_eq(lsm_put(db, "a", 1, "new", 3), 0); /* same memtable */
    cr_assert_eq(lsm_delete(db, "b", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    expect_value(db, "a", "new");
    expect_absent(db, "b");
    lsm_iter_seek_first(it);
    cr_assert(lsm_iter_valid(it));
    size_t kl, vl;
    cr_assert_eq(lsm_iter_key(it, &kl)[0], 'a');
    const char *v = lsm_iter_value(it, &vl);
    cr_assert(vl == 3 && memcmp(v, "old", 3) == 0);
    lsm_iter_next(it);
    cr_assert(lsm_iter_valid(it));
    cr_assert_eq(lsm_iter_key(it, &kl)[0], 'b');
    lsm_iter_free(it);
    /* with no iterator left, a full compaction keeps only the newest version */
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    it = lsm_iter_new(db);
    int n = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) n++;
    cr_assert_eq(n, 1);
    lsm_iter_free(it);
    cr_assert_eq(lsm_close(db), 0);
}

static void remove_one(const char *suffix) {
    DIR *dd = opendir(dir);
    struct dirent *de;
    size_t sl = strlen(suffix);
    char p[512];
    while ((de = readdir(dd))) {
        size_t l = strlen(de->d_name);
        if (l >= sl && !strcmp(de->d_name + l - sl, suffix)) {
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
            break;
        }
    }
    closedir(dd);
}

Test(lsm_basic, table_listed_in_manifest_but_missing_refuses_open) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "k", 1, "v", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    cr_assert_eq(lsm_close(db), 0);
    remove_one(".sst");
    lsm_t *db2 = NULL;
    cr_assert_eq(lsm_open(dir, &o, &db2), LSM_ECORRUPT);
    cr_assert_null(db2);
    cr_assert_not_null(strstr(lsm_last_error(NULL), "missing"));
}

Test(lsm_basic, tables_without_current_refuse_open) {
    lsm_options o = small_opts();
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "k", 1, "v", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    cr_assert_eq(lsm_close(db), 0);
    remove_one("CURRENT");
    lsm_t *db2 = NULL;
    cr_assert_eq(lsm_open(dir, &o, &db2), LSM_ECORRUPT);
    cr_assert_eq(count_files(".sst"), 1, "data is not deleted");
}

static void settle(lsm_t *db) {
    for (int i = 0; i < 500; i++) {
        lsm_poll(db);
        lsm_stats st;
        lsm_get_stats(db, &st);
        if (!st.running_compactions && !st.running_flushes && st.immutable_memtables == 0) {
            lsm_poll(db);
            lsm_get_stats(db, &st);
            if (!st.running_compactions && !st.running_flushes) return;
        }
        usleep(10000);
    }
}

Test(lsm_basic, tombstone_over_older_level_is_kept_by_l0_compaction) {
    lsm_options o = small_opts();
    o.level1_max_bytes = 4096; /* pushes the first data below L1 */
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    for (int i = 0; i < 3000; i++) {
        key_of(k, i);
        val_of(v, i, 0);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
    }
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    settle(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    int deep = 0;
    for (int l = 2; l < LSM_MAX_LEVELS; l++) deep += st.level_files[l];
    cr_assert_gt(deep, 0, "old data sits below L1");
    /* four L0 files, the second deletes key 5: the L0 -> L1 compaction must keep the
     * tombstone because key 5 still exists below */
    for (int f = 0; f < o.l0_compaction_trigger; f++) {
        key_of(k, 1000 + f);
        cr_assert_eq(lsm_put(db, k, strlen(k), "x", 1), 0);
        if (f == 1) cr_assert_eq(lsm_delete(db, "key00000005", 11), 0);
        cr_assert_eq(lsm_flush(db, 1), 0);
    }
    settle(db);
    lsm_get_stats(db, &st);
    cr_assert_lt(st.level_files[0], o.l0_compaction_trigger);
    expect_absent(db, "key00000005");
    expect_value(db, "key00000006", "value-6-0-padding-padding-padding-padding");
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    expect_absent(db, "key00000005");
    cr_assert_eq(lsm_close(db), 0);
}

static uint64_t expire_prefix(void *ctx, const void *key, size_t klen, const void *val,
                              size_t vlen) {
    (void)ctx; (void)key; (void)klen;
    /* values "E<ms>" carry an expire-at time */
    if (vlen < 2 || ((const char *)val)[0] != 'E') return 0;
    char buf[32];
    size_t n = vlen - 1 < sizeof(buf) - 1 ? vlen - 1 : sizeof(buf) - 1;
    memcpy(buf, (const char *)val + 1, n);
    buf[n] = 0;
    return strtoull(buf, NULL, 10);
}

Test(lsm_basic, expired_values_dropped_by_bottommost_compaction) {
    lsm_options o = small_opts();
    o.expire_fn = expire_prefix;
    lsm_t *db = open_db(&o);
    cr_assert_eq(lsm_put(db, "gone", 4, "E1000", 5), 0);            /* expired in 1970 */
    cr_assert_eq(lsm_put(db, "kept", 4, "E99999999999999", 15), 0); /* far future */
    cr_assert_eq(lsm_put(db, "plain", 5, "v", 1), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    expect_value(db, "gone", "E1000"); /* reads never consult expire_fn */
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.expired_dropped, 1);
    expect_absent(db, "gone");
    expect_value(db, "kept", "E99999999999999");
    expect_value(db, "plain", "v");
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, compact_subrange_moves_only_overlapping_files_and_reads_stay_correct) {
    lsm_options o = small_opts();
    o.l0_compaction_trigger = 100; /* keep automatic compaction out of the way */
    o.l0_slowdown_trigger = 100;
    o.memtable_size = 1 << 20;     /* one L0 file per explicit flush */
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    /* three L0 files with disjoint ranges, then one overwriting the middle range */
    for (int f = 0; f < 3; f++) {
        for (int i = f * 1000; i < f * 1000 + 1000; i++) {
            key_of(k, i);
            val_of(v, i, 0);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
        }
        cr_assert_eq(lsm_flush(db, 1), 0);
    }
    for (int i = 1000; i < 2000; i += 3) {
        key_of(k, i);
        val_of(v, i, 1);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
    }
    cr_assert_eq(lsm_delete(db, "key00001001", 11), 0);
    cr_assert_eq(lsm_compact_range(db, "key00001200", 11, "key00001300", 11, 1), 0);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 2, "the files of [0,1000) and [2000,3000) stay in L0 (%d)",
                 st.level_files[0]);
    cr_assert_gt(st.level_files[1], 0);
    /* one assertion for the whole scan (thousands of passing assertions slow Criterion down) */
    lsm_buf b = {0};
    int wrong = 0;
    for (int i = 0; i < 3000; i++) {
        key_of(k, i);
        int rc = lsm_get(db, k, strlen(k), &b);
        if (i == 1001) { wrong += rc != LSM_ENOTFOUND; continue; }
        val_of(v, i, (i >= 1000 && i < 2000 && (i - 1000) % 3 == 0) ? 1 : 0);
        wrong += rc != 0 || b.len != strlen(v) || memcmp(b.data, v, b.len) != 0;
    }
    lsm_buf_free(&b);
    cr_assert_eq(wrong, 0, "%d keys read wrong", wrong);
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, disjoint_l0_files_move_to_l1_without_rewrite) {
    lsm_options o = small_opts();
    o.memtable_size = 1 << 20;
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    for (int f = 0; f < o.l0_compaction_trigger; f++) { /* sequential keys: disjoint files */
        for (int i = f * 100; i < f * 100 + 100; i++) {
            key_of(k, i);
            val_of(v, i, 0);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, strlen(v)), 0);
        }
        cr_assert_eq(lsm_flush(db, 1), 0);
    }
    settle(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 0);
    cr_assert_eq(st.level_files[1], o.l0_compaction_trigger);
    cr_assert_eq(st.compactions, 0, "moved, not rewritten");
    cr_assert_eq(st.compaction_bytes_written, 0);
    cr_assert_eq(lsm_close(db), 0);
    db = open_db(&o);
    for (int i = 0; i < 100 * o.l0_compaction_trigger; i += 7) {
        key_of(k, i);
        val_of(v, i, 0);
        expect_value(db, k, v);
    }
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[1], o.l0_compaction_trigger, "the move is in the MANIFEST");
    cr_assert_eq(lsm_close(db), 0);
}

/* The niceness (field 19 of /proc/self/task/T/stat) of the first thread whose name starts with
 * prefix, or INT_MIN when there is none. */
static int thread_nice(const char *prefix) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return INT_MIN;
    struct dirent *de;
    int nice = INT_MIN;
    while (nice == INT_MIN && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[300], comm[64] = "", stat[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (strncmp(comm, prefix, strlen(prefix)) != 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
        if (!(f = fopen(path, "r"))) continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = 0;
        const char *p = strrchr(stat, ')'); /* fields after the name: state is field 3 */
        int field = 2;
        for (; p && *p; p++)
            if (*p == ' ' && ++field == 19) {
                nice = atoi(p + 1);
                break;
            }
    }
    closedir(d);
    return nice;
}

Test(lsm_basic, background_threads_yield_to_the_owner_thread) {
    lsm_options o = small_opts();
    o.read_threads = 1;
    lsm_t *db = open_db(&o);
    errno = 0;
    int owner = getpriority(PRIO_PROCESS, 0); /* this (the owner) thread's niceness */
    cr_assert_eq(errno, 0);
    /* the threads set their niceness as they start: wait for it */
    int flush = INT_MIN, comp = INT_MIN, reader = INT_MIN;
    for (int i = 0; i < 200; i++) {
        flush = thread_nice("kevo-flush");
        comp = thread_nice("kevo-compact");
        reader = thread_nice("kevo-read");
        if (flush > owner && comp > flush && reader > owner) break;
        usleep(10000);
    }
    cr_assert_gt(flush, owner, "flush thread nice %d, owner %d", flush, owner);
    cr_assert_gt(comp, flush, "compaction thread nice %d, flush %d", comp, flush);
    cr_assert_gt(reader, owner, "reader thread nice %d, owner %d", reader, owner);
    lsm_close(db);
}

/* unlink_in_background: the tables a compaction made obsolete are unlinked by the kevo-unlink
 * thread (counted in background_unlinks), and none is left on disk once the engine is closed;
 * with the option off the dropping thread unlinks them itself (the count stays 0). */
static void obsolete_tables_run(int in_background) {
    lsm_options o = small_opts();
    o.unlink_in_background = in_background;
    lsm_t *db = open_db(&o);
    char k[32], v[64];
    write_rounds(db, 0);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
    lsm_stats st;
    for (int i = 0; i < 500; i++) { /* the thread unlinks them shortly after */
        lsm_poll(db);
        lsm_get_stats(db, &st);
        if (!in_background || st.background_unlinks >= 6) break;
        usleep(10000);
    }
    if (in_background) cr_assert_geq(st.background_unlinks, 6, "the 6 flushed tables went through the thread");
    else cr_assert_eq(st.background_unlinks, 0);
    int live = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++) live += st.level_files[l];
    cr_assert_eq(lsm_close(db), 0);
    /* counted before a reopen, whose orphan sweep would remove leftovers itself */
    cr_assert_eq(count_files(".sst"), live, "no obsolete table left on disk after close");
    db = open_db(&o);
    for (int key = 0; key < 1000; key += 37) {
        int last = -1;
        for (int round = 0; round < 6; round++)
            for (int i = 0; i < 500; i++)
                if ((i * 7 + round) % 1000 == key) last = round;
        key_of(k, key);
        if (last < 0) {
            expect_absent(db, k);
        } else {
            val_of(v, key, last);
            expect_value(db, k, v);
        }
    }
    cr_assert_eq(lsm_close(db), 0);
}

Test(lsm_basic, obsolete_tables_are_unlinked_by_the_unlink_thread) { obsolete_tables_run(1); }
Test(lsm_basic, obsolete_tables_are_unlinked_in_place_without_it) { obsolete_tables_run(0); }
