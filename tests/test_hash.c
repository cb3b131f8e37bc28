/* test_hash.c - hash storage (src/types/hash.c) and the random-pick index it shares with sets
 * (coll.c's hash/set additions: ordinals 0..count-1): exact counts through duplicates,
 * overwrites and deletes, removal at count 0 (version retired), OBJECT ENCODING conversions (field count, field and
 * value lengths, sticky), ordered iteration, the index built past COLL_RAND_INDEX_MIN and kept
 * exact through adds, overwrites and deletes, uniform random picks, and a 100k-field hash whose
 * per-field operations cost a constant number of engine reads and writes; plus the command
 * handlers' replies for the cases the differential suite cannot pin (random, big). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"
#include "server_test_util.h"
#include "types/coll.h"
#include "types/hash.h"

static void setup(void) { stu_setup("hash", 4 << 20); }
static void teardown(void) { stu_teardown(); }
static const char *run(client *c, const char *line) { return stu_run(c, line); }
static int version_live(uint64_t ver) { return stu_version_live(ver); }
static long long records_of(uint64_t ver, uint8_t sub) { return stu_records(ver, sub); }

TestSuite(hash, .init = setup, .fini = teardown, .timeout = 300);

/* The random-pick index of an open collection is exact: ordinals 0..count-1 each name a
 * distinct present member whose recorded position is that ordinal. */
static void check_index(const coll *c) {
    if (!coll_rand_indexed(c)) {
        cr_assert_eq(records_of(c->version, COLL_SUB_ORD), 0);
        cr_assert_eq(records_of(c->version, COLL_SUB_POS), 0);
        return;
    }
    cr_assert_eq(records_of(c->version, COLL_SUB_ORD), c->count, "one ordinal per member");
    if (c->type == KTYPE_HASH)
        cr_assert_eq(records_of(c->version, COLL_SUB_POS), coll_hash_pos_inline(c) ? 0 : c->count,
                     "a position record per field only in the older layout");
    lsm_buf m = {0}, v = {0};
    for (int64_t i = 0; i < c->count; i++) {
        cr_assert_eq(coll_rand_member_at(c, (uint64_t)i, &m), 1, "ordinal %lld", (long long)i);
        cr_assert_eq(coll_get(c, COLL_SUB_MEMBER, m.data, m.len, &v), 1, "member of %lld",
                     (long long)i);
        uint64_t ord = ~0ull;
        cr_assert_eq(coll_rand_ordinal(c, m.data, m.len, v.data, v.len, &ord), 1);
        cr_assert_eq(ord, (uint64_t)i, "position of the member at %lld", (long long)i);
    }
    lsm_buf_free(&m);
    lsm_buf_free(&v);
}

/* hash_set through the storage layer, as a handler would: returns 1 created / 0 updated. */
static int hset1(const char *key, const char *f, const char *v) {
    coll h;
    keyspace_begin();
    int r = hash_open(&h, 0, key, strlen(key), 0);
    cr_assert_geq(r, 0);
    cr_assert_eq(hash_create(&h), 0);
    hash_check_length(&h, strlen(f));
    hash_check_length(&h, strlen(v));
    r = hash_set(&h, f, strlen(f), v, strlen(v), -1);
    cr_assert_geq(r, 0);
    cr_assert_eq(hash_save(&h), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&h);
    return r;
}

static int hdel1(const char *key, const char *f) {
    coll h;
    keyspace_begin();
    int r = hash_open(&h, 0, key, strlen(key), 0);
    cr_assert_geq(r, 0);
    if (r == 1) {
        r = hash_del(&h, f, strlen(f));
        cr_assert_geq(r, 0);
        cr_assert_eq(hash_save(&h), 0);
    }
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&h);
    return r;
}

/* Opens key as a hash (must exist); the caller closes. */
static void hopen(coll *h, const char *key) {
    cr_assert_eq(hash_open(h, 0, key, strlen(key), 0), 1, "hash %s exists", key);
}

static long long hcount(const char *key) {
    coll h;
    int r = hash_open(&h, 0, key, strlen(key), 0);
    long long n = r == 1 ? h.count : -1;
    coll_close(&h);
    return n;
}

static uint8_t henc(const char *key) {
    coll h;
    hopen(&h, key);
    uint8_t e = h.enc;
    coll_close(&h);
    return e;
}

/* Builds key with fields f000000..f<n-1> (value = field) in groups of 5000 per write group. */
static void big_hash(const char *key, int n) {
    for (int base = 0; base < n; base += 5000) {
        coll h;
        keyspace_begin();
        cr_assert_geq(hash_open(&h, 0, key, strlen(key), 0), 0);
        cr_assert_eq(hash_create(&h), 0);
        for (int i = base; i < n && i < base + 5000; i++) {
            char f[16];
            int fl = snprintf(f, sizeof f, "f%06d", i);
            cr_assert_eq(hash_set(&h, f, (size_t)fl, f, (size_t)fl, 0), 1);
        }
        cr_assert_eq(hash_save(&h), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&h);
    }
}

Test(hash, counts_exact_through_duplicates_overwrites_and_deletes) {
    cr_assert_eq(hset1("h", "a", "1"), 1);
    cr_assert_eq(hset1("h", "a", "2"), 0, "overwrite is not a new field");
    cr_assert_eq(hset1("h", "b", "1"), 1);
    cr_assert_eq(hcount("h"), 2);
    /* several writes of one field inside one group see each other */
    coll h;
    keyspace_begin();
    hopen(&h, "h");
    cr_assert_eq(hash_set(&h, "c", 1, "x", 1, -1), 1);
    cr_assert_eq(hash_set(&h, "c", 1, "y", 1, -1), 0);
    cr_assert_eq(hash_del(&h, "c", 1), 1);
    cr_assert_eq(hash_del(&h, "c", 1), 0);
    cr_assert_eq(hash_set(&h, "c", 1, "z", 1, -1), 1);
    cr_assert_eq(hash_save(&h), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&h);
    cr_assert_eq(hcount("h"), 3);
    lsm_buf b = {0};
    hopen(&h, "h");
    cr_assert_eq(hash_get(&h, "c", 1, &b), 1);
    cr_assert_eq(b.len, 1);
    cr_assert_eq(b.data[0], 'z');
    cr_assert_eq(hash_get(&h, "nosuch", 6, &b), 0);
    cr_assert_eq(records_of(h.version, COLL_SUB_MEMBER), 3);
    uint64_t ver = h.version;
    coll_close(&h);
    lsm_buf_free(&b);
    cr_assert_eq(hdel1("h", "nosuch"), 0);
    cr_assert_eq(hdel1("h", "a"), 1);
    cr_assert_eq(hdel1("h", "b"), 1);
    cr_assert_eq(hcount("h"), 1);
    cr_assert(version_live(ver));
    cr_assert_eq(hdel1("h", "c"), 1);
    cr_assert_eq(hcount("h"), -1, "a hash with no field is removed");
    cr_assert_not(version_live(ver), "removing the hash retires its version");
    cr_assert_eq(keyspace_dbsize(0), 0);
}

Test(hash, encoding_converts_on_field_count_and_lengths_and_stays) {
    config.hash_max_listpack_entries = 3;
    config.hash_max_listpack_value = 4;
    hset1("a", "f1", "v");
    hset1("a", "f2", "v");
    hset1("a", "f3", "v");
    cr_assert_eq(henc("a"), COLL_ENC_SMALL, "3 fields <= 3: listpack");
    hset1("a", "f3", "w");
    cr_assert_eq(henc("a"), COLL_ENC_SMALL, "an overwrite adds no field");
    hset1("a", "f4", "v");
    cr_assert_eq(henc("a"), COLL_ENC_BIG, "4 fields > 3: hashtable");
    hdel1("a", "f1");
    hdel1("a", "f2");
    hdel1("a", "f3");
    cr_assert_eq(henc("a"), COLL_ENC_BIG, "sticky, as in Redis");
    hset1("b", "f", "1234");
    cr_assert_eq(henc("b"), COLL_ENC_SMALL, "a value of exactly the limit");
    hset1("b", "f", "12345");
    cr_assert_eq(henc("b"), COLL_ENC_BIG, "a longer value converts even on overwrite");
    hset1("c", "fiel", "v");
    cr_assert_eq(henc("c"), COLL_ENC_SMALL);
    hset1("c", "field", "v");
    cr_assert_eq(henc("c"), COLL_ENC_BIG, "a longer field converts");
    config.hash_max_listpack_entries = 0;
    hset1("d", "f", "v");
    cr_assert_eq(henc("d"), COLL_ENC_BIG, "0 entries: every hash is a hashtable");
}

Test(hash, iteration_yields_fields_in_byte_order_with_their_values) {
    const char *fields[] = {"b", "a", "\xff", "", "ab", "a\x01"};
    for (int i = 0; i < 6; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        hset1("h", fields[i], v);
    }
    coll h;
    hopen(&h, "h");
    coll_iter it;
    cr_assert_eq(coll_iter_seek(&it, &h, COLL_SUB_MEMBER, NULL, 0), 0);
    const char *want[] = {"", "a", "a\x01", "ab", "b", "\xff"};
    const char *wantv[] = {"v3", "v1", "v5", "v4", "v0", "v2"};
    int n = 0;
    for (; coll_iter_valid(&it); coll_iter_next(&it), n++) {
        size_t ml, vl;
        const char *m = coll_iter_member(&it, &ml);
        const char *v = coll_iter_value(&it, &vl);
        cr_assert_lt(n, 6);
        cr_assert_eq(ml, strlen(want[n]));
        cr_assert_eq(memcmp(m, want[n], ml), 0);
        cr_assert_eq(vl, 2);
        cr_assert_eq(memcmp(v, wantv[n], 2), 0);
    }
    cr_assert_eq(n, 6);
    coll_iter_close(&it);
    coll_close(&h);
}

Test(hash, random_index_built_past_the_threshold_and_kept_exact) {
    char f[16];
    for (int i = 0; i < COLL_RAND_INDEX_MIN; i++) {
        snprintf(f, sizeof f, "f%03d", i);
        hset1("h", f, "v");
    }
    coll h;
    hopen(&h, "h");
    cr_assert_not(coll_rand_indexed(&h), "no index up to COLL_RAND_INDEX_MIN fields");
    cr_assert_eq(records_of(h.version, COLL_SUB_ORD), 0);
    coll_close(&h);
    hset1("h", "zz", "v");
    hopen(&h, "h");
    cr_assert(coll_rand_indexed(&h));
    cr_assert_eq(records_of(h.version, COLL_SUB_ORD), COLL_RAND_INDEX_MIN + 1,
                 "building indexes every field, the new one included");
    coll_close(&h);
    hset1("h", "zz", "w"); /* overwrite: no new record */
    hdel1("h", "f000");
    hdel1("h", "nosuch");
    hset1("h", "new", "v");
    hopen(&h, "h");
    cr_assert_eq(h.count, COLL_RAND_INDEX_MIN + 1);
    cr_assert_eq(records_of(h.version, COLL_SUB_ORD), h.count);
    cr_assert_eq(records_of(h.version, COLL_SUB_MEMBER), h.count);
    check_index(&h);
    coll_close(&h);
    for (int i = 1; i < COLL_RAND_INDEX_MIN; i++) {
        snprintf(f, sizeof f, "f%03d", i);
        hdel1("h", f);
    }
    hopen(&h, "h");
    cr_assert_eq(h.count, 2);
    cr_assert(coll_rand_indexed(&h), "a shrunk hash keeps its index");
    cr_assert_eq(records_of(h.version, COLL_SUB_ORD), 2);
    check_index(&h);
    coll_close(&h);
    /* COPY clones the index with the fields */
    client *c = client_create(-1);
    cr_assert_str_eq(run(c, "COPY h h2"), ":1\r\n");
    hopen(&h, "h2");
    cr_assert(coll_rand_indexed(&h));
    cr_assert_eq(records_of(h.version, COLL_SUB_ORD), 2);
    check_index(&h);
    coll_close(&h);
    client_free(c);
}

/* Picks n times from key; counts hits per field index (fields "f%06d"). */
static void pick_histogram(const char *key, int nfields, int picks, int *hits) {
    coll h;
    hopen(&h, key);
    coll_rand r;
    cr_assert_eq(coll_rand_open(&r, &h, picks, 1), 0);
    for (int i = 0; i < picks; i++) {
        const char *m, *v;
        size_t ml, vl;
        cr_assert_eq(coll_rand_pick(&r, &m, &ml, &v, &vl), 1);
        cr_assert_eq(ml, 7);
        int idx = atoi(m + 1);
        cr_assert(idx >= 0 && idx < nfields);
        if (v) cr_assert_eq(memcmp(v, m, 7), 0, "the value belongs to the field");
        hits[idx]++;
    }
    coll_rand_close(&r);
    coll_close(&h);
}

Test(hash, random_picks_return_members_and_reach_every_one) {
    /* small (no index): exactly uniform */
    big_hash("s", 10);
    int hits[2000];
    memset(hits, 0, sizeof hits);
    pick_histogram("s", 10, 20000, hits);
    for (int i = 0; i < 10; i++) cr_assert(hits[i] > 1500 && hits[i] < 2500, "field %d: %d", i, hits[i]);
    /* big (index): every field reachable, no field far off its share */
    big_hash("b", 2000);
    memset(hits, 0, sizeof hits);
    pick_histogram("b", 2000, 200000, hits);
    int zero = 0, maxh = 0;
    for (int i = 0; i < 2000; i++) {
        if (!hits[i]) zero++;
        if (hits[i] > maxh) maxh = hits[i];
    }
    cr_assert_eq(zero, 0, "every field picked at least once in 100x picks");
    cr_assert_lt(maxh, 160, "uniform: no field far above its share of 100 (%d)", maxh);
}

/* Builds key with n fields "f%06d" whose values are "v<i>" through HSET commands. */
static void hash_of_values(client *c, const char *key, int n) {
    char line[96];
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "HSET %s f%06d v%d", key, i, i);
        cr_assert_str_eq(run(c, line), ":1\r\n");
    }
}

/* What users see of an indexed hash, in either layout (expect_inline: ordinals in the field
 * records, or the older 0x03 records), through every command that reads or moves values, with
 * the index checked exact after overwrites, increments and deletes (which move the last field
 * into the hole: its value must survive the renumbering). */
static void check_indexed_hash_commands(client *c, const char *key, int expect_inline) {
    char line[128], want[128];
    coll h;
    hopen(&h, key);
    cr_assert(coll_rand_indexed(&h));
    cr_assert_eq(coll_hash_pos_inline(&h), expect_inline);
    cr_assert_eq(records_of(h.version, COLL_SUB_POS), expect_inline ? 0 : 300);
    if (expect_inline) { /* the record itself: ordinal (BE) || value */
        lsm_buf raw = {0};
        cr_assert_eq(coll_get(&h, COLL_SUB_MEMBER, "f000007", 7, &raw), 1);
        cr_assert_eq(raw.len, 8 + 2);
        cr_assert_eq(memcmp(raw.data + 8, "v7", 2), 0);
        uint64_t ord = 0;
        cr_assert_eq(coll_rand_ordinal(&h, "f000007", 7, raw.data, raw.len, &ord), 1);
        lsm_buf m = {0};
        cr_assert_eq(coll_rand_member_at(&h, ord, &m), 1);
        cr_assert_eq(m.len, 7);
        cr_assert_eq(memcmp(m.data, "f000007", 7), 0, "the ordinal in front names the field");
        lsm_buf_free(&m);
        lsm_buf_free(&raw);
    }
    check_index(&h);
    coll_close(&h);
    /* reads, then an overwrite and increments that keep the field where it is */
    static const char *const steps[][2] = {
        {"HGET %s f000123", "$4\r\nv123\r\n"},
        {"HSTRLEN %s f000123", ":4\r\n"},
        {"HMGET %s f000001 nosuch f000299", "*3\r\n$2\r\nv1\r\n$-1\r\n$4\r\nv299\r\n"},
        {"HSET %s f000005 five", ":0\r\n"},
        {"HSET %s n 10", ":1\r\n"},
        {"HINCRBY %s n 5", ":15\r\n"},
        {"HINCRBYFLOAT %s n 0.5", "$4\r\n15.5\r\n"},
        {"HSETNX %s f000006 no", ":0\r\n"},
        {"HGET %s f000005", "$4\r\nfive\r\n"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        snprintf(line, sizeof line, steps[i][0], key);
        cr_assert_str_eq(run(c, line), steps[i][1], "%s", line);
    }
    /* deletes from the front, the middle and the end: the last field moves each time */
    const char *dels[] = {"f000000", "f000150", "n", "f000299", "f000005"};
    for (size_t i = 0; i < sizeof dels / sizeof dels[0]; i++) {
        snprintf(line, sizeof line, "HDEL %s %s", key, dels[i]);
        cr_assert_str_eq(run(c, line), ":1\r\n", "%s", line);
    }
    hopen(&h, key);
    cr_assert_eq(h.count, 296);
    cr_assert_eq(coll_hash_pos_inline(&h), expect_inline, "the layout stays");
    check_index(&h);
    coll_close(&h);
    /* every remaining value read back whole: HGETALL, HVALS, HSCAN, HRANDFIELD WITHVALUES */
    snprintf(line, sizeof line, "HGETALL %s", key);
    const char *r = run(c, line);
    cr_assert_eq(strncmp(r, "*592\r\n", 6), 0, "%.20s", r);
    for (int i = 1; i < 299; i++) {
        if (i == 5 || i == 150) continue;
        snprintf(want, sizeof want, "$7\r\nf%06d\r\n$%d\r\nv%d\r\n", i, i < 10 ? 2 : i < 100 ? 3 : 4, i);
        cr_assert(strstr(r, want), "HGETALL lacks %s", want);
    }
    cr_assert_null(strstr(r, "\r\nfive\r\n"));
    snprintf(line, sizeof line, "HVALS %s", key);
    r = run(c, line);
    cr_assert(strstr(r, "$3\r\nv42\r\n") && strstr(r, "$4\r\nv298\r\n"), "%.60s", r);
    snprintf(line, sizeof line, "HSCAN %s 0 MATCH f00004* COUNT 1000", key);
    r = run(c, line);
    cr_assert(strstr(r, "$7\r\nf000042\r\n$3\r\nv42\r\n"), "%.200s", r);
    for (int round = 0; round < 20; round++) {
        snprintf(line, sizeof line, "HRANDFIELD %s -3 WITHVALUES", key);
        r = run(c, line);
        const char *p = strchr(r, '\n') + 1;
        for (int i = 0; i < 3; i++) { /* $7 f<idx> $n v<idx> */
            int idx = atoi(p + 5);
            snprintf(want, sizeof want, "$7\r\nf%06d\r\n$%d\r\nv%d\r\n", idx, idx < 10 ? 2 : idx < 100 ? 3 : 4, idx);
            cr_assert_eq(strncmp(p, want, strlen(want)), 0, "%s: %.40s", line, p);
            p += strlen(want);
        }
    }
    /* SORT BY a hash field: the value, not the record */
    snprintf(line, sizeof line, "RPUSH sortme %s", key);
    cr_assert_str_eq(run(c, line), ":1\r\n");
    cr_assert_str_eq(run(c, "SORT sortme BY nosort GET *->f000001 GET *->f000298"),
                     "*2\r\n$2\r\nv1\r\n$4\r\nv298\r\n");
    run(c, "DEL sortme");
}

Test(hash, pos_inline_layout_keeps_one_record_per_field_and_shows_values_alone) {
    client *c = client_create(-1);
    hash_of_values(c, "h", 300);
    check_indexed_hash_commands(c, "h", 1);
    /* a new field costs its record and its ordinal record: two writes besides the metadata */
    lsm_stats a, b;
    lsm_get_stats(server.engine, &a);
    cr_assert_str_eq(run(c, "HSET h brandnew x"), ":1\r\n");
    lsm_get_stats(server.engine, &b);
    cr_assert_eq(b.puts - a.puts, 3, "field + ordinal + metadata: %llu",
                 (unsigned long long)(b.puts - a.puts));
    /* survives a restart (the flag is in the metadata) and COPY */
    stu_close_engine();
    stu_open_engine();
    cr_assert_str_eq(run(c, "COPY h h2"), ":1\r\n");
    coll h;
    hopen(&h, "h2");
    cr_assert(coll_hash_pos_inline(&h));
    check_index(&h);
    coll_close(&h);
    cr_assert_str_eq(run(c, "HGET h2 brandnew"), "$1\r\nx\r\n");
    client_free(c);
}

Test(hash, older_layout_with_position_records_keeps_working) {
    client *c = client_create(-1);
    coll_hash_pos_inline_builds = 0; /* a hash indexed by an earlier version */
    hash_of_values(c, "old", 300);
    coll_hash_pos_inline_builds = 1;
    check_indexed_hash_commands(c, "old", 0);
    client_free(c);
}

Test(hash, big_hash_field_operations_cost_constant_engine_work) {
    big_hash("big", 100000);
    cr_assert_eq(hcount("big"), 100000);
    client *c = client_create(-1);
    lsm_stats a, b;
    const char *cmds[] = {"HSET big newfield v", "HGET big f050000", "HEXISTS big f099999",
                          "HDEL big f000001", "HINCRBY big ctr 5", "HSTRLEN big f000002",
                          "HLEN big", "HRANDFIELD big", "HRANDFIELD big -5 WITHVALUES",
                          "HRANDFIELD big 5", "HSCAN big 0 COUNT 5"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        lsm_get_stats(server.engine, &a);
        const char *rep = run(c, cmds[i]);
        lsm_get_stats(server.engine, &b);
        cr_assert_neq(rep[0], '-', "%s: %s", cmds[i], rep);
        cr_assert_leq(b.gets - a.gets, 12, "%s: %llu gets", cmds[i],
                      (unsigned long long)(b.gets - a.gets));
        cr_assert_leq(b.puts + b.deletes - a.puts - a.deletes, 8, "%s writes", cmds[i]);
    }
    /* and in time: 2000 field operations on the big hash stay fast */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 500; i++) {
        char line[64];
        snprintf(line, sizeof line, "HSET big x%d v", i);
        run(c, line);
        snprintf(line, sizeof line, "HGET big f%06d", i * 100);
        run(c, line);
        run(c, "HRANDFIELD big");
        snprintf(line, sizeof line, "HDEL big x%d", i);
        run(c, line);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 10.0, "2000 operations took %.2fs", secs);
    cr_assert_eq(hcount("big"), 100000 + 1 + 1 - 1);
    coll h;
    hopen(&h, "big");
    check_index(&h);
    coll_close(&h);
    client_free(c);
}

Test(hash, hrandfield_count_shapes_and_properties) {
    client *c = client_create(-1);
    big_hash("h", 300); /* indexed */
    big_hash("s", 5);   /* small */
    const char *r = run(c, "HRANDFIELD h 0");
    cr_assert_str_eq(r, "*0\r\n");
    /* distinct fields for positive counts, each with its value */
    const char *keys[] = {"h", "s"};
    int sizes[] = {300, 5};
    long counts[] = {1, 3, 50, 99, 100, 299, 300, 1000};
    for (int k = 0; k < 2; k++)
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            char line[64];
            snprintf(line, sizeof line, "HRANDFIELD %s %ld WITHVALUES", keys[k], counts[ci]);
            r = run(c, line);
            long want = counts[ci] < sizes[k] ? counts[ci] : sizes[k];
            long n = strtol(r + 1, NULL, 10);
            cr_assert_eq(n, 2 * want, "%s -> %.40s", line, r);
            char seen[300] = {0};
            const char *p = strchr(r, '\n') + 1;
            for (long i = 0; i < want; i++) {
                cr_assert_eq(strncmp(p, "$7\r\nf", 5), 0, "%s", p);
                int idx = atoi(p + 5);
                cr_assert_eq(seen[idx], 0, "%s: field %d twice", line, idx);
                seen[idx] = 1;
                cr_assert_eq(memcmp(p + 4, p + 4 + 9 + 4, 7), 0, "value of its field");
                p += 2 * 13;
            }
            cr_assert_eq(*p, '\0');
        }
    /* negative counts: exactly |count| picks, repeats allowed */
    r = run(c, "HRANDFIELD s -50");
    cr_assert_eq(strtol(r + 1, NULL, 10), 50);
    r = run(c, "HRANDFIELD h -700");
    cr_assert_eq(strtol(r + 1, NULL, 10), 700);
    /* RESP3: pairs as two-element arrays */
    c->resp = 3;
    r = run(c, "HRANDFIELD s 2 WITHVALUES");
    cr_assert_eq(strncmp(r, "*2\r\n*2\r\n$7\r\n", 12), 0, "%s", r);
    r = run(c, "HRANDFIELD h -2 WITHVALUES");
    cr_assert_eq(strncmp(r, "*2\r\n*2\r\n$7\r\n", 12), 0, "%s", r);
    client_free(c);
}

Test(hash, hscan_walks_a_big_hash_with_cursors_and_a_small_one_at_once) {
    client *c = client_create(-1);
    config.hash_max_listpack_entries = 10;
    big_hash("s", 10);
    const char *r = run(c, "HSCAN s 0 COUNT 2");
    cr_assert_eq(strncmp(r, "*2\r\n$1\r\n0\r\n*20\r\n", 16), 0, "small: all at once: %.40s", r);
    big_hash("b", 1000);
    char seen[1000] = {0};
    unsigned long long cursor = 0;
    int calls = 0, total = 0;
    do {
        char line[64];
        snprintf(line, sizeof line, "HSCAN b %llu COUNT 7", cursor);
        r = run(c, line);
        cr_assert_eq(strncmp(r, "*2\r\n$", 5), 0, "%s", r);
        const char *p = strchr(r + 4, '\n') + 1;
        cursor = strtoull(p, NULL, 10);
        p = strchr(p, '\n') + 1;
        long n = strtol(p + 1, NULL, 10);
        cr_assert_leq(n, 14);
        p = strchr(p, '\n') + 1;
        for (long i = 0; i < n; i += 2) {
            int idx = atoi(p + 5);
            cr_assert_eq(seen[idx], 0, "field %d returned twice", idx);
            seen[idx] = 1;
            total++;
            p += 26;
        }
        calls++;
    } while (cursor != 0 && calls < 1000);
    cr_assert_eq(total, 1000);
    cr_assert_geq(calls, 1000 / 7);
    client_free(c);
}
