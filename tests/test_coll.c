/* test_coll.c - the collection layer (src/types/coll.c) under the generic commands: versions are
 * unique and never reused (also across a restart), a collection's 'v' liveness record exists
 * exactly while its key does (DEL, overwrite by SET, expiry, FLUSHDB retire it; RENAME and MOVE
 * keep it; COPY makes a new one with copied members), exact counts, removal at count 0,
 * iteration, the order-preserving score encoding and member SCAN cursors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_test_util.h"

static void setup(void) { stu_setup("coll", 1 << 20); }
static void teardown(void) { stu_teardown(); }
static void open_engine(void) { stu_open_engine(); }
static void close_engine(void) { stu_close_engine(); }
static const char *run(client *c, const char *line) { return stu_run(c, line); }

TestSuite(coll, .init = setup, .fini = teardown, .timeout = 120);

/* Builds a collection of type at key with members m0..m<n-1> (value "v<i>") through the layer,
 * as a command handler would. Returns its version. */
static uint64_t make_coll(int db, const char *key, uint8_t type, int n) {
    coll c;
    keyspace_begin();
    int r = coll_open(&c, db, key, strlen(key), type, 0);
    cr_assert_geq(r, 0);
    if (!r) cr_assert_eq(coll_create(&c, COLL_ENC_SMALL), 0);
    for (int i = 0; i < n; i++) {
        char m[32], v[32];
        snprintf(m, sizeof m, "m%05d", i);
        snprintf(v, sizeof v, "v%d", i);
        lsm_buf b = {0};
        int had = coll_get(&c, COLL_SUB_MEMBER, m, strlen(m), &b);
        lsm_buf_free(&b);
        cr_assert_eq(coll_put(&c, COLL_SUB_MEMBER, m, strlen(m), v, strlen(v)), 0);
        if (!had) coll_count_add(&c, 1);
    }
    cr_assert_eq(coll_save(&c), 0);
    cr_assert_eq(keyspace_commit(), 0);
    uint64_t ver = c.version;
    coll_close(&c);
    return ver;
}

static int version_live(uint64_t ver) { return stu_version_live(ver); }
/* Member records stored under ver (all kinds). */
static long long members_of(uint64_t ver) { return stu_records(ver, -1); }

static int64_t count_of(int db, const char *key, uint8_t type) {
    coll c;
    int r = coll_open(&c, db, key, strlen(key), type, 0);
    int64_t n = r == 1 ? c.count : -1;
    coll_close(&c);
    return n;
}

Test(coll, versions_are_unique_and_survive_a_restart) {
    uint64_t a = make_coll(0, "a", KTYPE_HASH, 3);
    uint64_t b = make_coll(0, "b", KTYPE_SET, 3);
    cr_assert_gt(b, a);
    close_engine();
    open_engine();
    uint64_t c = make_coll(0, "c", KTYPE_HASH, 1);
    cr_assert_gt(c, b, "a version handed out before a restart is never reused");
    cr_assert(version_live(a) && version_live(b) && version_live(c));
    cr_assert_eq(count_of(0, "a", KTYPE_HASH), 3);
}

Test(coll, counts_are_exact_and_an_emptied_collection_is_removed) {
    uint64_t v = make_coll(0, "h", KTYPE_HASH, 10);
    make_coll(0, "h", KTYPE_HASH, 12); /* 10 overwritten, 2 new */
    cr_assert_eq(count_of(0, "h", KTYPE_HASH), 12);
    cr_assert_eq(members_of(v), 12);
    cr_assert_eq(keyspace_dbsize(0), 1);
    coll c;
    keyspace_begin();
    cr_assert_eq(coll_open(&c, 0, "h", 1, KTYPE_HASH, 0), 1);
    for (int i = 0; i < 12; i++) {
        char m[32];
        snprintf(m, sizeof m, "m%05d", i);
        cr_assert_eq(coll_del(&c, COLL_SUB_MEMBER, m, strlen(m)), 0);
        coll_count_add(&c, -1);
    }
    cr_assert_eq(coll_save(&c), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&c);
    cr_assert_eq(count_of(0, "h", KTYPE_HASH), -1, "a collection with no members is removed");
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_not(version_live(v));
}

Test(coll, wrong_type_is_reported) {
    client *cl = client_create(-1);
    cr_assert_str_eq(run(cl, "SET s x"), "+OK\r\n");
    coll c;
    cr_assert_eq(coll_open(&c, 0, "s", 1, KTYPE_HASH, 0), COLL_WRONGTYPE);
    coll_close(&c);
    make_coll(0, "h", KTYPE_HASH, 1);
    cr_assert_eq(coll_open(&c, 0, "h", 1, KTYPE_SET, 0), COLL_WRONGTYPE);
    coll_close(&c);
    cr_assert_str_eq(run(cl, "GET h"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    cr_assert_str_eq(run(cl, "APPEND h x"), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    client_free(cl);
}

Test(coll, del_unlink_overwrite_and_flushdb_retire_the_version) {
    client *cl = client_create(-1);
    uint64_t a = make_coll(0, "a", KTYPE_HASH, 5);
    uint64_t b = make_coll(0, "b", KTYPE_SET, 5);
    uint64_t c = make_coll(0, "c", KTYPE_ZSET, 5);
    uint64_t d = make_coll(1, "d", KTYPE_HASH, 5);
    cr_assert_str_eq(run(cl, "TYPE a"), "+hash\r\n");
    cr_assert_str_eq(run(cl, "TYPE b"), "+set\r\n");
    cr_assert_str_eq(run(cl, "TYPE c"), "+zset\r\n");
    cr_assert_str_eq(run(cl, "DEL a"), ":1\r\n");
    cr_assert_not(version_live(a), "DEL retires the version");
    cr_assert_eq(members_of(a), 5, "members stay until compaction (O(1) delete)");
    cr_assert_str_eq(run(cl, "UNLINK b"), ":1\r\n");
    cr_assert_not(version_live(b));
    cr_assert_str_eq(run(cl, "SET c str"), "+OK\r\n");
    cr_assert_not(version_live(c), "overwriting by SET retires the version");
    cr_assert_str_eq(run(cl, "TYPE c"), "+string\r\n");
    cr_assert_str_eq(run(cl, "SELECT 1"), "+OK\r\n");
    cr_assert_str_eq(run(cl, "DBSIZE"), ":1\r\n");
    cr_assert_str_eq(run(cl, "FLUSHDB"), "+OK\r\n");
    cr_assert_not(version_live(d), "FLUSHDB retires the versions");
    cr_assert_str_eq(run(cl, "DBSIZE"), ":0\r\n");
    client_free(cl);
}

Test(coll, rename_and_move_keep_the_members_copy_clones_them) {
    client *cl = client_create(-1);
    uint64_t a = make_coll(0, "a", KTYPE_HASH, 50);
    uint64_t old = make_coll(0, "dst", KTYPE_SET, 3);
    cr_assert_str_eq(run(cl, "RENAME a dst"), "+OK\r\n");
    cr_assert(version_live(a), "RENAME moves the metadata: the version stays live");
    cr_assert_not(version_live(old), "the overwritten destination's version is retired");
    cr_assert_eq(count_of(0, "dst", KTYPE_HASH), 50);
    cr_assert_eq(count_of(0, "a", KTYPE_HASH), -1);
    cr_assert_str_eq(run(cl, "MOVE dst 2"), ":1\r\n");
    cr_assert(version_live(a));
    cr_assert_eq(count_of(2, "dst", KTYPE_HASH), 50);
    cr_assert_str_eq(run(cl, "COPY dst cp DB 2"), ":0\r\n", "source is in db 2 now");
    cr_assert_str_eq(run(cl, "SELECT 2"), "+OK\r\n");
    cr_assert_str_eq(run(cl, "COPY dst cp"), ":1\r\n");
    coll c;
    cr_assert_eq(coll_open(&c, 2, "cp", 2, KTYPE_HASH, 0), 1);
    uint64_t cv = c.version;
    cr_assert_eq(c.count, 50);
    lsm_buf b = {0};
    cr_assert_eq(coll_get(&c, COLL_SUB_MEMBER, "m00042", 6, &b), 1);
    cr_assert_eq(b.len, 3);
    cr_assert_eq(memcmp(b.data, "v42", 3), 0);
    lsm_buf_free(&b);
    coll_close(&c);
    cr_assert_neq(cv, a, "COPY makes a new version");
    cr_assert_eq(members_of(cv), 50);
    cr_assert_str_eq(run(cl, "DEL dst"), ":1\r\n");
    cr_assert_eq(count_of(2, "cp", KTYPE_HASH), 50, "the copy does not share the original's fate");
    cr_assert(version_live(cv));
    cr_assert_str_eq(run(cl, "OBJECT ENCODING cp"), "$8\r\nlistpack\r\n");
    client_free(cl);
}

Test(coll, expiry_retires_the_version_and_compaction_keeps_collection_metadata) {
    client *cl = client_create(-1);
    uint64_t a = make_coll(0, "a", KTYPE_HASH, 5);
    cr_assert_str_eq(run(cl, "PEXPIRE a 1"), ":1\r\n");
    cr_assert(version_live(a), "EXPIRE keeps the version");
    cr_assert_eq(count_of(0, "a", KTYPE_HASH), 5);
    /* the compaction hook never drops a collection's metadata: the active cycle must see it */
    coll c;
    coll_open(&c, 0, "a", 1, KTYPE_HASH, KS_LOOKUP_NOEXPIRE);
    char ek[8];
    size_t el = keyspace_encode_key(ek, 0, "a", 1);
    cr_assert_eq(keyspace_value_expire(NULL, ek, el, c.buf.data, c.buf.len), 0);
    coll_close(&c);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
    server_update_cmd_time();
    keyspace_active_expire_cycle(1000000);
    cr_assert_not(version_live(a), "the active cycle retires an expired collection's version");
    cr_assert_eq(keyspace_dbsize(0), 0);
    client_free(cl);
}

Test(coll, multi_exec_reads_its_own_member_writes_and_watch_sees_member_writes) {
    client *cl = client_create(-1);
    client *other = client_create(-1);
    make_coll(0, "w", KTYPE_HASH, 2);
    cr_assert_str_eq(run(cl, "WATCH w"), "+OK\r\n");
    make_coll(0, "w", KTYPE_HASH, 2); /* members rewritten, count unchanged */
    cr_assert_str_eq(run(cl, "MULTI"), "+OK\r\n");
    cr_assert_str_eq(run(cl, "TYPE w"), "+QUEUED\r\n");
    cr_assert_str_eq(run(cl, "EXEC"), "*-1\r\n", "a member write dirties a WATCHed key");
    client_free(other);
    client_free(cl);
}

Test(coll, iteration_yields_one_collections_members_in_order) {
    make_coll(0, "a", KTYPE_SET, 300);
    make_coll(0, "b", KTYPE_SET, 7);
    coll c;
    cr_assert_eq(coll_open(&c, 0, "a", 1, KTYPE_SET, 0), 1);
    coll_iter it;
    cr_assert_eq(coll_iter_seek(&it, &c, COLL_SUB_MEMBER, NULL, 0), 0);
    int n = 0;
    char prev[32] = "";
    for (; coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t ml;
        const char *m = coll_iter_member(&it, &ml);
        char cur[32];
        snprintf(cur, sizeof cur, "%.*s", (int)ml, m);
        cr_assert_gt(strcmp(cur, prev), 0);
        strcpy(prev, cur);
        n++;
    }
    coll_iter_close(&it);
    cr_assert_eq(n, 300);
    cr_assert_eq(coll_iter_seek(&it, &c, COLL_SUB_MEMBER, "m00290", 6), 0);
    n = 0;
    for (; coll_iter_valid(&it); coll_iter_next(&it)) n++;
    cr_assert_eq(n, 10, "seek starts at the member given");
    coll_iter_close(&it);
    coll_close(&c);
}

Test(coll, score_encoding_orders_bytes_as_numbers) {
    double vals[] = {-INFINITY, -1e308, -2.5, -1, -1e-300, -0.0, 0.0, 1e-300, 0.1, 1, 2.5,
                     1e15, 1.7976931348623157e308, INFINITY};
    int n = (int)(sizeof vals / sizeof vals[0]);
    for (int i = 0; i < n; i++) {
        char a[8];
        coll_score_encode(a, vals[i]);
        double back = coll_score_decode(a);
        cr_assert(back == vals[i], "round trip of %g", vals[i]);
        for (int j = 0; j < n; j++) {
            char b[8];
            coll_score_encode(b, vals[j]);
            int cmp = memcmp(a, b, 8);
            if (vals[i] < vals[j]) cr_assert_lt(cmp, 0, "%g < %g", vals[i], vals[j]);
            else if (vals[i] > vals[j]) cr_assert_gt(cmp, 0, "%g > %g", vals[i], vals[j]);
            else cr_assert_eq(cmp, 0, "%g == %g (-0.0 and 0.0 alike)", vals[i], vals[j]);
        }
    }
}

Test(coll, member_cursors_resume_exactly_or_at_a_lower_bound) {
    unsigned long long cur = coll_cursor_save(COLL_SUB_MEMBER, "member-42", 9);
    cr_assert_neq(cur, 0);
    const char *m;
    size_t ml;
    cr_assert_eq(coll_cursor_load(COLL_SUB_MEMBER, cur, &m, &ml), 1);
    cr_assert_eq(ml, 9);
    cr_assert_eq(memcmp(m, "member-42", 9), 0);
    /* unknown cursor (another restart's): a prefix of the member, never past it */
    keyspace_close();
    cr_assert_eq(keyspace_open(), 0);
    cr_assert_eq(coll_cursor_load(COLL_SUB_MEMBER, cur, &m, &ml), 0);
    cr_assert_leq(ml, 9);
    cr_assert_eq(memcmp(m, "member-42", ml), 0);
}

Test(coll, compaction_filter_drops_dead_versions_members_and_keeps_live_ones) {
    client *cl = client_create(-1);
    uint64_t dead = make_coll(0, "dead", KTYPE_HASH, 2000);
    uint64_t live = make_coll(0, "live", KTYPE_HASH, 2000);
    uint64_t moved = make_coll(0, "moved", KTYPE_SET, 500);
    cr_assert_eq(lsm_flush(server.engine, 1), 0);
    cr_assert_str_eq(run(cl, "DEL dead"), ":1\r\n");
    cr_assert_str_eq(run(cl, "RENAME moved moved2"), "+OK\r\n");
    /* COMPACT flushes the memtable first, so the compaction's view holds the deletes */
    cr_assert_eq(lsm_compact_range(server.engine, NULL, 0, NULL, 0, 1), 0);
    cr_assert_eq(members_of(dead), 0, "the flush before the compaction carries the delete, so "
                                      "the dead version's members are dropped");
    cr_assert_eq(members_of(live), 2000, "a live version keeps every member");
    cr_assert_eq(members_of(moved), 500, "a renamed collection keeps its members");
    cr_assert_eq(count_of(0, "live", KTYPE_HASH), 2000);
    cr_assert_eq(count_of(0, "moved2", KTYPE_SET), 500);
    lsm_stats st;
    lsm_get_stats(server.engine, &st);
    cr_assert_geq(st.filter_dropped, 2000);
    client_free(cl);
}

Test(coll, removing_a_big_collection_schedules_the_reclaim_of_its_members) {
    client *cl = client_create(-1);
    uint64_t big = make_coll(0, "big", KTYPE_SET, KS_RECLAIM_MIN_MEMBERS);
    uint64_t small = make_coll(0, "small", KTYPE_SET, 10);
    cr_assert_eq(lsm_flush(server.engine, 1), 0);
    uint64_t before = keyspace_reclaims();
    cr_assert_str_eq(run(cl, "DEL small"), ":1\r\n");
    struct timespec ts = {0, 250 * 1000 * 1000};
    nanosleep(&ts, NULL);
    keyspace_reclaim_cron();
    cr_assert_eq(keyspace_reclaims(), before, "small collections are left to normal compaction");
    cr_assert_str_eq(run(cl, "DEL big"), ":1\r\n");
    cr_assert_eq(keyspace_reclaim_cron(), 0, "a burst is gathered for a moment first");
    nanosleep(&ts, NULL);
    cr_assert_eq(keyspace_reclaim_cron(), 1);
    cr_assert_eq(keyspace_reclaims(), before + 1);
    /* the requested compaction runs in the background: wait for it through lsm_poll */
    for (int i = 0; i < 400 && members_of(big) > 0; i++) {
        lsm_poll(server.engine);
        lsm_commit(server.engine);
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_eq(members_of(big), 0, "the big collection's members are gone without COMPACT");
    (void)small;
    client_free(cl);
}
