/* test_set.c - set storage (src/types/set.c): exact counts through duplicates and removals,
 * removal at count 0, the intset/hashtable encoding rules (creation by the first member,
 * non-integers, the entry limit, sticky), the SINTER/SUNION/SDIFF streams (ordered, distinct,
 * missing keys, the same key twice), the STORE forms' results and encodings (SDIFFSTORE's
 * second algorithm), SPOP/SRANDMEMBER properties through the handlers (sizes, distinctness,
 * the set shrinking by exactly what was popped, counts and the random-pick index staying
 * exact), and a 100k-member set whose member operations cost a constant engine work. */
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
#include "types/set.h"

static void setup(void) { stu_setup("set", 4 << 20); }
static void teardown(void) { stu_teardown(); }
static const char *run(client *c, const char *line) { return stu_run(c, line); }
static int version_live(uint64_t ver) { return stu_version_live(ver); }
static long long records_of(uint64_t ver, uint8_t sub) { return stu_records(ver, sub); }

TestSuite(set, .init = setup, .fini = teardown, .timeout = 300);

/* The random-pick index of an open collection is exact: ordinals 0..count-1 each name a
 * distinct present member whose recorded position is that ordinal. */
static void check_index(const coll *c) {
    if (!coll_rand_indexed(c)) {
        cr_assert_eq(records_of(c->version, COLL_SUB_ORD), 0);
        cr_assert_eq(records_of(c->version, COLL_SUB_POS), 0);
        return;
    }
    cr_assert_eq(records_of(c->version, COLL_SUB_ORD), c->count, "one ordinal per member");
    if (c->type == KTYPE_HASH) /* a POSINLINE hash keeps positions in its field records */
        cr_assert_eq(records_of(c->version, COLL_SUB_POS), coll_hash_pos_inline(c) ? 0 : c->count,
                     "one position per field");
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

/* SADD key m... through the storage layer; returns the number added. */
static int sadd(const char *key, int n, const char **ms) {
    coll s;
    keyspace_begin();
    cr_assert_geq(set_open(&s, 0, key, strlen(key), 0), 0);
    cr_assert_eq(set_create(&s, ms[0], strlen(ms[0])), 0);
    int added = 0;
    for (int i = 0; i < n; i++) {
        int r = set_add(&s, ms[i], strlen(ms[i]));
        cr_assert_geq(r, 0);
        added += r;
    }
    cr_assert_eq(set_save(&s), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&s);
    return added;
}
#define SADD(key, ...)                                                                        \
    sadd(key, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),            \
         (const char *[]){__VA_ARGS__})

static int srem(const char *key, const char *m) {
    coll s;
    keyspace_begin();
    int r = set_open(&s, 0, key, strlen(key), 0);
    cr_assert_geq(r, 0);
    if (r == 1) {
        r = set_rem(&s, m, strlen(m));
        cr_assert_geq(r, 0);
        cr_assert_eq(set_save(&s), 0);
    }
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&s);
    return r;
}

static long long scount(const char *key) {
    coll s;
    int r = set_open(&s, 0, key, strlen(key), 0);
    long long n = r == 1 ? s.count : -1;
    coll_close(&s);
    return n;
}

static int senc(const char *key) {
    coll s;
    cr_assert_eq(set_open(&s, 0, key, strlen(key), 0), 1);
    int e = s.enc;
    coll_close(&s);
    return e;
}

static void big_set(const char *key, int n) {
    for (int base = 0; base < n; base += 5000) {
        coll s;
        keyspace_begin();
        cr_assert_geq(set_open(&s, 0, key, strlen(key), 0), 0);
        cr_assert_eq(set_create(&s, "m", 1), 0);
        for (int i = base; i < n && i < base + 5000; i++) {
            char m[16];
            int ml = snprintf(m, sizeof m, "m%06d", i);
            cr_assert_eq(set_add_new(&s, m, (size_t)ml), 0);
        }
        cr_assert_eq(set_save(&s), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&s);
    }
}

/* Checks count == member records == index records (when indexed). */
static void check_exact(const char *key) {
    coll s;
    int r = set_open(&s, 0, key, strlen(key), 0);
    cr_assert_geq(r, 0);
    if (r == 1) {
        cr_assert_eq(records_of(s.version, COLL_SUB_MEMBER), s.count, "%s: count", key);
        check_index(&s);
    }
    coll_close(&s);
}

Test(set, counts_exact_and_removal_at_zero) {
    cr_assert_eq(SADD("s", "a", "b", "a", "c", "b"), 3);
    cr_assert_eq(SADD("s", "a", "d"), 1);
    cr_assert_eq(scount("s"), 4);
    check_exact("s");
    coll s;
    cr_assert_eq(set_open(&s, 0, "s", 1, 0), 1);
    uint64_t ver = s.version;
    cr_assert_eq(set_ismember(&s, "a", 1), 1);
    cr_assert_eq(set_ismember(&s, "z", 1), 0);
    coll_close(&s);
    cr_assert_eq(srem("s", "z"), 0);
    cr_assert_eq(srem("s", "a"), 1);
    cr_assert_eq(srem("s", "a"), 0);
    cr_assert_eq(scount("s"), 3);
    srem("s", "b");
    srem("s", "c");
    cr_assert(version_live(ver));
    srem("s", "d");
    cr_assert_eq(scount("s"), -1, "an emptied set is removed");
    cr_assert_not(version_live(ver));
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_eq(SADD("s", "x"), 1, "and can be created again");
    cr_assert_eq(scount("s"), 1);
}

Test(set, intset_encoding_rules) {
    cr_assert(set_member_is_int("123", 3));
    cr_assert(set_member_is_int("-9223372036854775808", 20));
    cr_assert_not(set_member_is_int("9223372036854775808", 19));
    cr_assert_not(set_member_is_int("01", 2));
    cr_assert_not(set_member_is_int("-0", 2));
    cr_assert_not(set_member_is_int("+1", 2));
    cr_assert_not(set_member_is_int(" 1", 2));
    cr_assert_not(set_member_is_int("", 0));
    SADD("i", "1", "2");
    cr_assert_eq(senc("i"), COLL_ENC_SMALL);
    SADD("i", "x");
    cr_assert_eq(senc("i"), COLL_ENC_BIG, "a non-integer converts");
    srem("i", "x");
    cr_assert_eq(senc("i"), COLL_ENC_BIG, "sticky");
    SADD("h", "x", "1");
    cr_assert_eq(senc("h"), COLL_ENC_BIG, "created for a non-integer first member");
    SADD("m", "1", "x");
    cr_assert_eq(senc("m"), COLL_ENC_BIG);
    config.set_max_intset_entries = 3;
    SADD("n", "1", "2", "3");
    cr_assert_eq(senc("n"), COLL_ENC_SMALL);
    SADD("n", "3");
    cr_assert_eq(senc("n"), COLL_ENC_SMALL, "a duplicate adds nothing");
    SADD("n", "4");
    cr_assert_eq(senc("n"), COLL_ENC_BIG, "more than the limit");
    config.set_max_intset_entries = 0;
    SADD("z", "1");
    cr_assert_eq(senc("z"), COLL_ENC_BIG);
}

/* Collects a set_op stream as "m1,m2,..." */
static const char *setop(int op, int n, const char **keys) {
    static char out[4096];
    coll cs[8];
    coll *ps[8];
    for (int i = 0; i < n; i++) {
        cr_assert_geq(set_open(&cs[i], 0, keys[i], strlen(keys[i]), 0), 0);
        ps[i] = &cs[i];
    }
    set_op_iter o;
    cr_assert_eq(set_op_open(&o, op, ps, n), 0);
    out[0] = 0;
    const char *m;
    size_t ml;
    int r;
    while ((r = set_op_next(&o, &m, &ml)) == 1) {
        if (out[0]) strcat(out, ",");
        strncat(out, m, ml);
    }
    cr_assert_eq(r, 0);
    set_op_close(&o);
    for (int i = 0; i < n; i++) coll_close(&cs[i]);
    return out;
}
#define SETOP(op, ...)                                                                        \
    setop(op, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),            \
          (const char *[]){__VA_ARGS__})

Test(set, inter_union_diff_streams) {
    SADD("a", "1", "2", "3", "4", "x");
    SADD("b", "2", "3", "4", "5");
    SADD("c", "3", "4", "5", "6", "x");
    cr_assert_str_eq(SETOP(SET_OP_INTER, "a", "b", "c"), "3,4");
    cr_assert_str_eq(SETOP(SET_OP_INTER, "a", "c"), "3,4,x");
    cr_assert_str_eq(SETOP(SET_OP_INTER, "a", "a"), "1,2,3,4,x");
    cr_assert_str_eq(SETOP(SET_OP_INTER, "a", "nosuch"), "");
    cr_assert_str_eq(SETOP(SET_OP_INTER, "nosuch", "a"), "");
    cr_assert_str_eq(SETOP(SET_OP_UNION, "a", "b", "c"), "1,2,3,4,5,6,x");
    cr_assert_str_eq(SETOP(SET_OP_UNION, "nosuch", "b", "nosuch"), "2,3,4,5");
    cr_assert_str_eq(SETOP(SET_OP_UNION, "nosuch"), "");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "a", "b"), "1,x");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "a", "b", "c"), "1");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "a", "nosuch"), "1,2,3,4,x");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "nosuch", "a"), "");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "a", "b", "a"), "");
    cr_assert_str_eq(SETOP(SET_OP_DIFF, "c"), "3,4,5,6,x");
}

Test(set, store_forms_results_and_encodings) {
    client *c = client_create(-1);
    config.set_max_intset_entries = 4;
    cr_assert_str_eq(run(c, "SADD a 1 2 3 4 5"), ":5\r\n");
    cr_assert_str_eq(run(c, "SADD b 1 2"), ":2\r\n");
    cr_assert_str_eq(run(c, "SINTERSTORE d a b"), ":2\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$6\r\nintset\r\n");
    cr_assert_str_eq(run(c, "SUNIONSTORE d a b"), ":5\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$9\r\nhashtable\r\n");
    /* algorithm 1 (first set not large against the others): the result decides */
    cr_assert_str_eq(run(c, "SDIFFSTORE d a b"), ":3\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$6\r\nintset\r\n");
    /* algorithm 2 (6*3/2 > 6+1+1): the whole first set went through an intset of limit 4 */
    cr_assert_str_eq(run(c, "SADD a6 1 2 3 4 5 6"), ":6\r\n");
    cr_assert_str_eq(run(c, "SADD c1 2"), ":1\r\n");
    cr_assert_str_eq(run(c, "SADD c2 1"), ":1\r\n");
    cr_assert_str_eq(run(c, "SDIFFSTORE d a6 c1 c2"), ":4\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$9\r\nhashtable\r\n");
    /* algorithm 2 with a non-integer in the first set that the others remove */
    cr_assert_str_eq(run(c, "SADD m 1 2 3 zz"), ":4\r\n");
    cr_assert_str_eq(run(c, "SADD z1 zz"), ":1\r\n");
    cr_assert_str_eq(run(c, "SDIFFSTORE d m z1 c1 c2"), ":1\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$9\r\nhashtable\r\n");
    cr_assert_str_eq(run(c, "SDIFFSTORE d m z1"), ":3\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$6\r\nintset\r\n");
    /* algorithm 1: the result decides */
    cr_assert_str_eq(run(c, "SADD o1 7"), ":1\r\n");
    cr_assert_str_eq(run(c, "SADD o2 8"), ":1\r\n");
    cr_assert_str_eq(run(c, "SDIFFSTORE d b o1 o2"), ":2\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING d"), "$6\r\nintset\r\n");
    /* the destination among the sources, and an empty result removing it */
    cr_assert_str_eq(run(c, "SUNIONSTORE a a b o1"), ":6\r\n");
    cr_assert_str_eq(run(c, "SCARD a"), ":6\r\n");
    check_exact("a");
    cr_assert_str_eq(run(c, "SET str v"), "+OK\r\n");
    cr_assert_str_eq(run(c, "SINTERSTORE str a o2"), ":0\r\n");
    cr_assert_str_eq(run(c, "EXISTS str"), ":0\r\n");
    cr_assert_str_eq(run(c, "SINTERSTORE str a b"), ":2\r\n");
    cr_assert_str_eq(run(c, "TYPE str"), "+set\r\n");
    long long keys = keyspace_dbsize(0);
    cr_assert_str_eq(run(c, "SDIFFSTORE nokey b b"), ":0\r\n");
    cr_assert_eq(keyspace_dbsize(0), keys, "no key created for an empty result");
    client_free(c);
}

/* Parses a RESP array/set of bulk strings of "m%06d" members into a 0/1 table; returns the
 * element count, asserting distinctness when distinct. */
static long parse_members(const char *r, char *seen, int nmax, int distinct) {
    cr_assert(r[0] == '*' || r[0] == '~', "%.60s", r);
    long n = strtol(r + 1, NULL, 10);
    const char *p = strchr(r, '\n') + 1;
    for (long i = 0; i < n; i++) {
        cr_assert_eq(strncmp(p, "$7\r\nm", 5), 0, "%.40s", p);
        int idx = atoi(p + 5);
        cr_assert(idx >= 0 && idx < nmax);
        if (distinct) cr_assert_eq(seen[idx], 0, "m%06d twice", idx);
        seen[idx] = 1;
        p += 13;
    }
    cr_assert_eq(*p, '\0', "trailing bytes: %.40s", p);
    return n;
}

Test(set, spop_and_srandmember_properties) {
    client *c = client_create(-1);
    int sizes[] = {5, 300, 3000};
    long counts[] = {1, 2, 10, 99, 100, 101, 299, 1000, 2999};
    char *seen = calloc(3000, 1), *seen2 = calloc(3000, 1);
    for (int si = 0; si < 3; si++) {
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            int size = sizes[si];
            run(c, "DEL s");
            big_set("s", size);
            char line[64];
            /* SRANDMEMBER: distinct, min(count, size), all members */
            snprintf(line, sizeof line, "SRANDMEMBER s %ld", counts[ci]);
            memset(seen, 0, 3000);
            long want = counts[ci] < size ? counts[ci] : size;
            cr_assert_eq(parse_members(run(c, line), seen, size, 1), want, "%s", line);
            snprintf(line, sizeof line, "SRANDMEMBER s -%ld", counts[ci]);
            memset(seen, 0, 3000);
            cr_assert_eq(parse_members(run(c, line), seen, size, 0), counts[ci], "%s", line);
            /* SPOP: distinct, the set shrinks by exactly what was popped */
            snprintf(line, sizeof line, "SPOP s %ld", counts[ci]);
            memset(seen, 0, 3000);
            long got = parse_members(run(c, line), seen, size, 1);
            cr_assert_eq(got, want, "%s", line);
            long long left = scount("s");
            cr_assert_eq(left < 0 ? 0 : left, size - want, "%s: size %d", line, size);
            check_exact("s");
            if (left > 0) {
                memset(seen2, 0, 3000);
                cr_assert_eq(parse_members(run(c, "SMEMBERS s"), seen2, size, 1), left);
                for (int i = 0; i < size; i++)
                    cr_assert_eq(seen[i] + seen2[i], 1, "m%06d popped xor left (size %d, %s)",
                                 i, size, line);
            }
        }
    }
    free(seen);
    free(seen2);
    /* single SPOP until empty: each member once */
    run(c, "DEL s");
    big_set("s", 200);
    char *popped = calloc(200, 1);
    for (int i = 0; i < 200; i++) {
        const char *r = run(c, "SPOP s");
        cr_assert_eq(strncmp(r, "$7\r\nm", 5), 0, "%s", r);
        int idx = atoi(r + 5);
        cr_assert_eq(popped[idx], 0);
        popped[idx] = 1;
        cr_assert_eq(scount("s"), i == 199 ? -1 : 199 - i);
    }
    cr_assert_str_eq(run(c, "SPOP s"), "$-1\r\n");
    free(popped);
    client_free(c);
}

Test(set, big_set_member_operations_cost_constant_engine_work) {
    big_set("big", 100000);
    cr_assert_eq(scount("big"), 100000);
    check_exact("big");
    client *c = client_create(-1);
    lsm_stats a, b;
    const char *cmds[] = {"SADD big newmember", "SISMEMBER big m050000", "SREM big m000001",
                          "SPOP big", "SRANDMEMBER big", "SRANDMEMBER big 5",
                          "SRANDMEMBER big -5", "SPOP big 5", "SCARD big",
                          "SMOVE big other m000002", "SMISMEMBER big m000003 x",
                          "SSCAN big 0 COUNT 5"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        lsm_get_stats(server.engine, &a);
        const char *rep = run(c, cmds[i]);
        lsm_get_stats(server.engine, &b);
        cr_assert_neq(rep[0], '-', "%s: %s", cmds[i], rep);
        cr_assert_leq(b.gets - a.gets, 16, "%s: %llu gets", cmds[i],
                      (unsigned long long)(b.gets - a.gets));
        cr_assert_leq(b.puts + b.deletes - a.puts - a.deletes, 32, "%s: %llu writes", cmds[i],
                      (unsigned long long)(b.puts + b.deletes - a.puts - a.deletes));
    }
    cr_assert_eq(scount("big"), 100000 + 1 - 1 - 1 - 5 - 1);
    check_exact("big");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 500; i++) {
        char line[64];
        snprintf(line, sizeof line, "SADD big x%d", i);
        run(c, line);
        run(c, "SPOP big");
        run(c, "SRANDMEMBER big");
        snprintf(line, sizeof line, "SISMEMBER big m%06d", i * 100);
        run(c, line);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 10.0, "2000 operations took %.2fs", secs);
    cr_assert_eq(scount("big"), 100000 - 7);
    check_exact("big");
    client_free(c);
}

Test(set, u64set_dedupes) {
    coll_u64set s = {0};
    for (uint64_t i = 0; i < 10000; i++) cr_assert_eq(coll_u64set_add(&s, i * 7919), 1);
    for (uint64_t i = 0; i < 10000; i++) cr_assert_eq(coll_u64set_add(&s, i * 7919), 0);
    cr_assert_eq(s.n + (size_t)s.has_zero, 10000);
    coll_u64set_free(&s);
}

/* The tail read-ahead of the random-pick index (a run of removals reads the last ordinals once,
 * then keeps them exact through the removals and additions that follow) must answer exactly as
 * reading the last ordinal each time, whatever comes in between: the same random script, with
 * the same random picks, runs with it and without it, and every reply must match; the index
 * stays exact throughout. */
static char *tail_script_line(unsigned *seed) {
    static char line[512];
    const char *sets[] = {"s1", "s2"};
    const char *k = sets[rand_r(seed) % 2];
    int op = rand_r(seed) % 100;
    if (op < 28) {
        int n = snprintf(line, sizeof line, "SADD %s", k);
        for (int i = 0, c = 1 + rand_r(seed) % 8; i < c; i++)
            n += snprintf(line + n, sizeof line - (size_t)n, " m%06d", rand_r(seed) % 1000);
    } else if (op < 50) {
        snprintf(line, sizeof line, "SPOP %s", k);
    } else if (op < 58) {
        snprintf(line, sizeof line, "SPOP %s %d", k, 1 + rand_r(seed) % 6);
    } else if (op < 66) {
        snprintf(line, sizeof line, "SREM %s m%06d m%06d", k, rand_r(seed) % 1000,
                 rand_r(seed) % 1000);
    } else if (op < 70) {
        snprintf(line, sizeof line, "SMOVE %s %s m%06d", k, k[1] == '1' ? "s2" : "s1",
                 rand_r(seed) % 1000);
    } else if (op < 78) {
        snprintf(line, sizeof line, "HSET h1 f%04d v%d f%04d w", rand_r(seed) % 700, rand_r(seed) % 9,
                 rand_r(seed) % 700);
    } else if (op < 88) {
        snprintf(line, sizeof line, "HDEL h1 f%04d", rand_r(seed) % 700);
    } else if (op < 90) {
        snprintf(line, sizeof line, "MULTI");
    } else if (op < 92) {
        snprintf(line, sizeof line, "EXEC");
    } else if (op < 93) {
        snprintf(line, sizeof line, "RENAME %s %s", k, k[1] == '1' ? "s2" : "s1");
    } else if (op < 94) {
        snprintf(line, sizeof line, "SINTERSTORE %s s1 s2", k);
    } else if (op < 97) {
        snprintf(line, sizeof line, "SRANDMEMBER %s -3", k);
    } else {
        snprintf(line, sizeof line, "SCARD %s", k);
    }
    return line;
}

static void check_hash_index(const char *key) {
    coll h;
    int r = coll_open(&h, 0, key, strlen(key), KTYPE_HASH, 0);
    cr_assert_geq(r, 0);
    if (r == 1) check_index(&h);
    coll_close(&h);
}

Test(set, tail_read_ahead_answers_as_single_reads) {
    enum { N = 6000 };
    client *c = client_create(-1);
    char **replies = calloc(N, sizeof(char *));
    unsigned long long refills = 0;
    for (int pass = 0; pass < 2; pass++) {
        coll_rand_tail_enable(pass == 0);
        run(c, "FLUSHALL");
        big_set("s1", 400);
        big_set("s2", 300);
        for (int i = 0; i < 700; i += 50) {
            char line[2048];
            int n = snprintf(line, sizeof line, "HSET h1");
            for (int j = i; j < i + 50; j++) n += snprintf(line + n, sizeof line - (size_t)n, " f%04d x", j);
            run(c, line);
        }
        coll_random_seed(99);
        unsigned long long f0 = coll_stat_tail_refills();
        unsigned seed = 4242;
        for (int i = 0; i < N; i++) {
            char *line = tail_script_line(&seed);
            char cmd[512];
            snprintf(cmd, sizeof cmd, "%s", line);
            const char *r = run(c, cmd);
            if (pass == 0) replies[i] = strdup(r);
            else cr_assert_str_eq(r, replies[i], "command %d '%s' differs with the read-ahead", i, cmd);
            if (i % 97 == 0 || i == N - 1) {
                check_exact("s1");
                check_exact("s2");
                check_hash_index("h1");
            }
        }
        run(c, "DISCARD");
        if (pass == 0) refills = coll_stat_tail_refills() - f0;
        else cr_assert_eq(coll_stat_tail_refills() - f0, 0, "off: no read-ahead");
    }
    cr_assert_gt(refills, 10, "the script made runs of removals: %llu read-aheads", refills);
    for (int i = 0; i < N; i++) free(replies[i]);
    free(replies);
    coll_rand_tail_enable(1);
    client_free(c);
}

Test(set, a_run_of_pops_reads_the_index_tail_a_few_times) {
    client *c = client_create(-1);
    big_set("s", 5000);
    big_set("s0", 5000);
    lsm_stats a, b;
    /* without the read-ahead, as a reference */
    coll_rand_tail_enable(0);
    lsm_get_stats(server.engine, &a);
    for (int i = 0; i < 1000; i++) run(c, "SPOP s0");
    lsm_get_stats(server.engine, &b);
    uint64_t single = b.gets - a.gets;
    coll_rand_tail_enable(1);
    unsigned long long f0 = coll_stat_tail_refills();
    lsm_get_stats(server.engine, &a);
    for (int i = 0; i < 1000; i++) run(c, "SPOP s");
    lsm_get_stats(server.engine, &b);
    /* the first pop reads the last ordinal itself; the next 999 read ahead 64, 128, 256, 512,
     * then 1024 records */
    cr_assert_eq(coll_stat_tail_refills() - f0, 5);
    /* every pop but the first leaves out the last ordinal's point read (but a pop of the last
     * ordinal itself, which reads none either way: 1 in ~4500) */
    cr_assert_geq(single - (b.gets - a.gets), 990, "1000 pops: %llu point reads, %llu without",
                  (unsigned long long)(b.gets - a.gets), (unsigned long long)single);
    cr_assert_eq(scount("s"), 4000);
    check_exact("s");
    /* additions after a run join the read-ahead: pops after them still read no last ordinal */
    f0 = coll_stat_tail_refills();
    for (int i = 0; i < 100; i++) {
        char line[64];
        snprintf(line, sizeof line, "SADD s new%d", i);
        run(c, line);
        run(c, "SPOP s");
    }
    cr_assert_eq(coll_stat_tail_refills() - f0, 0);
    cr_assert_eq(scount("s"), 4000);
    check_exact("s");
    /* one removal from each of many sets: no read-ahead */
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof key, "t%d", i);
        big_set(key, 200);
    }
    f0 = coll_stat_tail_refills();
    for (int i = 0; i < 5; i++) {
        char line[64];
        snprintf(line, sizeof line, "SPOP t%d", i);
        run(c, line);
    }
    cr_assert_eq(coll_stat_tail_refills() - f0, 0);
    /* long members (20 KiB, 300 of them): the tail is not kept, pops read the last one each */
    coll s;
    keyspace_begin();
    cr_assert_geq(set_open(&s, 0, "long", 4, 0), 0);
    cr_assert_eq(set_create(&s, "x", 1), 0);
    char *m = malloc(20 << 10);
    for (int i = 0; i < 300; i++) {
        memset(m, 'a' + i % 26, 20 << 10);
        snprintf(m, 16, "%06d", i);
        m[6] = '-';
        cr_assert_eq(set_add(&s, m, 20 << 10), 1);
    }
    cr_assert_eq(set_save(&s), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&s);
    free(m);
    f0 = coll_stat_tail_refills();
    lsm_get_stats(server.engine, &a);
    for (int i = 0; i < 100; i++) cr_assert_eq(run(c, "SPOP long")[0], '$');
    lsm_get_stats(server.engine, &b);
    cr_assert_eq(coll_stat_tail_refills() - f0, 0);
    cr_assert_geq(b.gets - a.gets, 100 + 98, "the picks and the last members, point reads");
    cr_assert_eq(scount("long"), 200);
    check_exact("long");
    client_free(c);
}

Test(set, read_ahead_sizes_double_up_to_the_maximum_and_the_byte_budget) {
    cr_assert_eq(coll_readahead_next(64, 64, 16384, 64 * 8, 1 << 20), 128);
    cr_assert_eq(coll_readahead_next(8192, 64, 16384, 8192 * 8, 1 << 20), 16384);
    cr_assert_eq(coll_readahead_next(16384, 64, 16384, 16384 * 8, 1 << 20), 16384);
    /* 700-byte members: about 1 MiB worth, not twice 1024 */
    cr_assert_eq(coll_readahead_next(1024, 64, 16384, 1024 * 700, 1 << 20), (1 << 20) / 700);
    /* members so long that even the minimum is over: the minimum */
    cr_assert_eq(coll_readahead_next(64, 64, 16384, 64 << 20, 1 << 20), 64);
}
