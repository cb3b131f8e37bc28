/* test_zset.c - sorted-set storage (src/types/zset.c) and commands (src/cmd_zset.c): the member
 * records and the score index agree after every operation (walked and compared), counts are
 * exact (a member added twice in one ZADD leaves one index entry: Kvrocks #298; ZREMRANGEBYRANK
 * keeps the count: Kvrocks #172), equal scores order by member, -0.0/0.0, inf/-inf, encodings,
 * and big sets: ZRANGE 0 9, ZSCORE, ZRANGEBYSCORE LIMIT and ZPOPMIN read what they return, not
 * the set (counted index steps); ZADD of an unchanged score writes nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"
#include "types/coll.h"
#include "types/zset.h"

static char tmpdir[64];
static client *cl;

static void setup(void) {
    config_init();
    strcpy(tmpdir, "/tmp/kevo-test-zset-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    server.batch = lsm_batch_new();
    server.dbnum = 16;
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = 4 << 20;
    o.block_cache_size = 4 << 20;
    o.expire_fn = keyspace_value_expire;
    cr_assert_eq(lsm_open(tmpdir, &o, &server.engine), 0, "%s", lsm_last_error(NULL));
    cr_assert_eq(keyspace_open(), 0);
    command_table_init();
    cl = client_create(-1);
    cr_assert_not_null(cl);
}

static void teardown(void) {
    client_free(cl);
    keyspace_close();
    lsm_close(server.engine);
    server.engine = NULL;
    lsm_batch_free(server.batch);
    server.batch = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(zset, .init = setup, .fini = teardown, .timeout = 300);

/* Runs argv on the test client; returns the raw reply (static buffer). */
static const char *runv(int argc, cmdarg *argv) {
    static char reply[1 << 16];
    cl->argc = argc;
    cl->argv = argv;
    client_reply_reset(cl);
    command_process(cl);
    cl->argv = NULL;
    cl->argc = 0;
    size_t n = client_reply_copy(cl, reply, sizeof(reply) - 1);
    reply[n] = '\0';
    client_reply_reset(cl);
    return reply;
}

/* Runs a space-separated command line. */
static const char *run(const char *line) {
    static char buf[8192];
    static cmdarg argv[1024];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *tok = strtok(buf, " "); tok && argc < 1024; tok = strtok(NULL, " ")) {
        argv[argc].ptr = tok;
        argv[argc].len = strlen(tok);
        argc++;
    }
    return runv(argc, argv);
}

#define RUN_EQ(line, expected) cr_assert_str_eq(run(line), expected, "%s", line)

/* ---- the invariant: member records and score index agree, count exact ---- */

typedef struct ent {
    char *m;
    size_t mlen;
    double score;
} ent;

static int ent_cmp(const void *a, const void *b) {
    const ent *x = a, *y = b;
    size_t n = x->mlen < y->mlen ? x->mlen : y->mlen;
    int r = memcmp(x->m, y->m, n);
    if (r) return r;
    return x->mlen < y->mlen ? -1 : x->mlen > y->mlen;
}

/* Walks both record kinds of key (db 0) and checks they describe the same members with the same
 * scores, that the index is in (score, member) order, and that the count matches. Returns the
 * number of members. */
static long long check_zset(const char *key, const char *after) {
    coll c;
    int r = coll_open(&c, 0, key, strlen(key), KTYPE_ZSET, 0);
    cr_assert_geq(r, 0, "%s: open %d after %s", key, r, after);
    if (r == 0) {
        coll_close(&c);
        return 0;
    }
    size_t cap = (size_t)c.count + 16, nm = 0, ni = 0;
    ent *mem = calloc(cap, sizeof(ent)), *idx = calloc(cap, sizeof(ent));
    coll_iter it;
    cr_assert_eq(coll_iter_seek(&it, &c, COLL_SUB_MEMBER, NULL, 0), 0);
    for (; coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t ml, vl;
        const char *m = coll_iter_member(&it, &ml);
        const char *v = coll_iter_value(&it, &vl);
        cr_assert_eq(vl, 8, "%s: member record value of %zu bytes after %s", key, vl, after);
        cr_assert_lt(nm, cap, "%s: more member records than count %lld after %s", key,
                     (long long)c.count, after);
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--) u = (u << 8) | (unsigned char)v[i];
        memcpy(&mem[nm].score, &u, 8);
        mem[nm].m = malloc(ml + 1);
        memcpy(mem[nm].m, m, ml);
        mem[nm].mlen = ml;
        nm++;
    }
    coll_iter_close(&it);
    cr_assert_eq(coll_iter_seek(&it, &c, COLL_SUB_SCORE, NULL, 0), 0);
    char prev[512];
    size_t prevlen = 0;
    for (; coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t kl, vl;
        const char *k = coll_iter_member(&it, &kl);
        const char *v = coll_iter_value(&it, &vl);
        cr_assert_geq(kl, 8);
        cr_assert_lt(ni, cap, "%s: more index entries than count after %s", key, after);
        if (ni) {
            size_t n = kl < prevlen ? kl : prevlen;
            int o = memcmp(prev, k, n);
            cr_assert(o < 0 || (o == 0 && prevlen < kl), "%s: index out of order after %s", key,
                      after);
        }
        prevlen = kl < sizeof(prev) ? kl : sizeof(prev);
        memcpy(prev, k, prevlen);
        idx[ni].score = coll_score_decode(k);
        cr_assert(vl == 0 || (vl == 1 && v[0] == 1 && idx[ni].score == 0),
                  "%s: index value after %s", key, after);
        if (vl == 1) idx[ni].score = -0.0;
        idx[ni].m = malloc(kl - 8 + 1);
        memcpy(idx[ni].m, k + 8, kl - 8);
        idx[ni].mlen = kl - 8;
        ni++;
    }
    coll_iter_close(&it);
    cr_assert_eq((long long)nm, c.count, "%s: %zu member records, count %lld after %s", key, nm,
                 (long long)c.count, after);
    cr_assert_eq(ni, nm, "%s: %zu index entries for %zu members after %s", key, ni, nm, after);
    qsort(idx, ni, sizeof(ent), ent_cmp);
    for (size_t i = 0; i < nm; i++) {
        cr_assert_eq(ent_cmp(&mem[i], &idx[i]), 0, "%s: member %zu differs after %s", key, i,
                     after);
        cr_assert(mem[i].score == idx[i].score && signbit(mem[i].score) == signbit(idx[i].score),
                  "%s: member %.*s score %.17g vs index %.17g after %s", key, (int)mem[i].mlen,
                  mem[i].m, mem[i].score, idx[i].score, after);
        if (c.enc == COLL_ENC_SMALL)
            cr_assert(!(mem[i].score == 0 && signbit(mem[i].score)), "listpack holds -0");
    }
    for (size_t i = 0; i < nm; i++) free(mem[i].m);
    for (size_t i = 0; i < ni; i++) free(idx[i].m);
    free(mem);
    free(idx);
    long long n = c.count;
    coll_close(&c);
    return n;
}

Test(zset, index_and_members_agree_after_every_command) {
    const char *script[] = {
        "ZADD z 1 a 2 b 3 c",
        "ZADD z 1 dup 2 dup 3 dup",
        "ZADD z CH 5 a 5 a 6 a",
        "ZADD z NX 9 a 9 new",
        "ZADD z XX 7 b 7 nosuch",
        "ZADD z GT 1 c 8 c",
        "ZADD z LT 9 c 4 c",
        "ZADD z INCR 2.5 a",
        "ZINCRBY z -100 b",
        "ZINCRBY z 0 b",
        "ZADD z -0 negz 0 posz inf pinf -inf ninf",
        "ZADD z 0 negz",
        "ZREM z a nosuch a",
        "ZPOPMIN z",
        "ZPOPMAX z 2",
        "ZADD z 1 m1 2 m2 3 m3 4 m4 5 m5 6 m6",
        "ZREMRANGEBYRANK z 1 2",
        "ZREMRANGEBYRANK z -2 -1",
        "ZREMRANGEBYSCORE z (1 4",
        "ZADD lex 0 a 0 b 0 c 0 d 0 e",
        "ZREMRANGEBYLEX lex [b (d",
        "ZUNIONSTORE u 2 z lex WEIGHTS 2 -1",
        "ZINTERSTORE i 2 z u AGGREGATE MAX",
        "ZDIFFSTORE d 2 u z",
        "ZRANGESTORE r u 0 -1 REV",
        "ZRANGESTORE r u -inf +inf BYSCORE LIMIT 1 3",
        "ZMPOP 2 nokey u MIN COUNT 2",
        "CONFIG SET zset-max-listpack-entries 2",
        "ZADD big -0 x 0 y 1 z 2 w",
        "ZADD big INCR -0 v",
        "ZUNIONSTORE u2 1 big WEIGHTS -1",
        "CONFIG SET zset-max-listpack-entries 128",
        "ZREMRANGEBYSCORE big -inf +inf",
        "ZPOPMIN lex 100",
        "DEL u",
    };
    const char *keys[] = {"z", "lex", "u", "i", "d", "r", "big", "u2"};
    for (size_t s = 0; s < sizeof(script) / sizeof(script[0]); s++) {
        const char *r = run(script[s]);
        cr_assert_neq(r[0], '-', "'%s' failed: %s", script[s], r);
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) check_zset(keys[k], script[s]);
    }
    cr_assert_eq(check_zset("big", "end"), 0);
    RUN_EQ("EXISTS big lex", ":0\r\n");
}

Test(zset, one_member_added_twice_in_one_zadd_has_one_index_entry) {
    RUN_EQ("ZADD z 1 a 2 a 3 a 1 a", ":1\r\n");
    cr_assert_eq(check_zset("z", "dup zadd"), 1);
    RUN_EQ("ZSCORE z a", "$1\r\n1\r\n");
    RUN_EQ("ZADD z CH 5 b 6 b 6 a", ":3\r\n"); /* b added, b updated, a updated */
    cr_assert_eq(check_zset("z", "dup zadd ch"), 2);
    RUN_EQ("ZRANGE z 0 -1 WITHSCORES", "*4\r\n$1\r\na\r\n$1\r\n6\r\n$1\r\nb\r\n$1\r\n6\r\n");
}

Test(zset, zremrangebyrank_keeps_the_count_exact) {
    char line[4096] = "ZADD z";
    for (int i = 0; i < 200; i++) snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d m%03d", i % 7, i);
    run(line);
    cr_assert_eq(check_zset("z", "fill"), 200);
    RUN_EQ("ZREMRANGEBYRANK z 10 59", ":50\r\n");
    cr_assert_eq(check_zset("z", "remrange"), 150);
    RUN_EQ("ZCARD z", ":150\r\n");
    RUN_EQ("ZREMRANGEBYRANK z -20 1000", ":20\r\n");
    RUN_EQ("ZREMRANGEBYRANK z 0 0", ":1\r\n");
    cr_assert_eq(check_zset("z", "remrange 2"), 129);
    RUN_EQ("ZREMRANGEBYRANK z 0 -1", ":129\r\n");
    RUN_EQ("EXISTS z", ":0\r\n");
}

Test(zset, equal_scores_order_by_member_bytes) {
    cmdarg a[] = {{"ZADD", 4}, {"z", 1}, {"1", 1}, {"b", 1}, {"1", 1}, {"a\0", 2},
                  {"1", 1},    {"a", 1}, {"1", 1}, {"", 0},  {"1", 1}, {"\xff", 1},
                  {"0", 1},    {"zz", 2}};
    runv(14, a);
    RUN_EQ("ZRANGE z 0 -1",
           "*6\r\n$2\r\nzz\r\n$0\r\n\r\n$1\r\na\r\n$2\r\na\0\r\n$1\r\nb\r\n$1\r\n\xff\r\n");
    check_zset("z", "binary");
}

Test(zset, negative_zero_and_infinities) {
    RUN_EQ("ZADD z -0 a 0 b inf c -inf d 1 e", ":5\r\n");
    RUN_EQ("ZRANGE z 0 -1 WITHSCORES",
           "*10\r\n$1\r\nd\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n0\r\n$1\r\nb\r\n$1\r\n0\r\n$1\r\ne\r\n"
           "$1\r\n1\r\n$1\r\nc\r\n$3\r\ninf\r\n");
    RUN_EQ("ZADD z INCR -0 n", "$2\r\n-0\r\n"); /* the reply keeps the sign, the listpack not */
    RUN_EQ("ZSCORE z n", "$1\r\n0\r\n");
    RUN_EQ("CONFIG SET zset-max-listpack-entries 0", "+OK\r\n");
    RUN_EQ("ZADD s -0 a 0 b", ":2\r\n");
    RUN_EQ("ZSCORE s a", "$2\r\n-0\r\n");
    RUN_EQ("ZRANGE s 0 -1 WITHSCORES", "*4\r\n$1\r\na\r\n$2\r\n-0\r\n$1\r\nb\r\n$1\r\n0\r\n");
    RUN_EQ("ZRANGEBYSCORE s 0 0", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    RUN_EQ("ZRANGEBYSCORE s (0 +inf", "*0\r\n");
    RUN_EQ("ZINCRBY z inf d", "-ERR resulting score is not a number (NaN)\r\n");
    RUN_EQ("ZADD z INCR -inf c", "-ERR resulting score is not a number (NaN)\r\n");
    RUN_EQ("ZSCORE z c", "$3\r\ninf\r\n");
    check_zset("z", "nan");
    check_zset("s", "-0");
    RUN_EQ("CONFIG SET zset-max-listpack-entries 128", "+OK\r\n");
}

Test(zset, encodings_follow_redis_and_stay_big) {
    RUN_EQ("CONFIG SET zset-max-listpack-entries 3", "+OK\r\n");
    RUN_EQ("ZADD z 1 a 2 b 3 c", ":3\r\n");
    RUN_EQ("OBJECT ENCODING z", "$8\r\nlistpack\r\n");
    RUN_EQ("ZADD z 4 d", ":1\r\n");
    RUN_EQ("OBJECT ENCODING z", "$8\r\nskiplist\r\n");
    RUN_EQ("ZREM z a b c", ":3\r\n");
    RUN_EQ("OBJECT ENCODING z", "$8\r\nskiplist\r\n");
    RUN_EQ("CONFIG SET zset-max-listpack-entries 128", "+OK\r\n");
    RUN_EQ("CONFIG SET zset-max-listpack-value 4", "+OK\r\n");
    RUN_EQ("ZADD y 1 long_member", ":1\r\n");
    RUN_EQ("OBJECT ENCODING y", "$8\r\nskiplist\r\n");
    RUN_EQ("ZADD x 1 abc", ":1\r\n");
    RUN_EQ("ZADD x 1 abcde", ":1\r\n");
    RUN_EQ("OBJECT ENCODING x", "$8\r\nskiplist\r\n");
    RUN_EQ("ZUNIONSTORE u 1 x", ":2\r\n");
    RUN_EQ("OBJECT ENCODING u", "$8\r\nskiplist\r\n");
    RUN_EQ("ZRANGESTORE u x 0 0", ":1\r\n");
    RUN_EQ("OBJECT ENCODING u", "$8\r\nlistpack\r\n");
    RUN_EQ("CONFIG SET zset-max-listpack-value 64", "+OK\r\n");
}

Test(zset, zadd_nan_increment_changes_nothing) {
    RUN_EQ("ZADD z inf a", ":1\r\n");
    lsm_stats before, after;
    lsm_get_stats(server.engine, &before);
    RUN_EQ("ZADD z INCR -inf a", "-ERR resulting score is not a number (NaN)\r\n");
    RUN_EQ("ZADD z 1 b 2", "-ERR syntax error\r\n");
    RUN_EQ("ZADD z 1 b x c", "-ERR value is not a valid float\r\n");
    lsm_get_stats(server.engine, &after);
    cr_assert_eq(after.puts, before.puts);
    cr_assert_eq(after.deletes, before.deletes);
    RUN_EQ("ZCARD z", ":1\r\n");
}

/* ---- big sets: walks read what they return ---- */

static void fill_big(const char *key, long n, int same_score) {
    coll c;
    cr_assert_geq(coll_open(&c, 0, key, strlen(key), KTYPE_ZSET, 0), 0);
    for (long i = 0; i < n; i++) {
        if (i % 5000 == 0) keyspace_begin();
        if (!c.exists) cr_assert_eq(coll_create(&c, COLL_ENC_BIG), 0);
        char m[32];
        int ml = snprintf(m, sizeof(m), "member:%08ld", i);
        int out;
        cr_assert_eq(zset_add(&c, same_score ? 0 : (double)((i * 7919) % n), m, (size_t)ml, 0,
                              &out, NULL),
                     0);
        cr_assert(out & ZSET_OUT_ADDED);
        if (i % 5000 == 4999 || i == n - 1) {
            cr_assert_eq(coll_save(&c), 0);
            cr_assert_eq(keyspace_commit(), 0);
        }
    }
    coll_close(&c);
}

/* fill_big's member holding score (scores are i * 7919 % n, a permutation of 0..n-1). */
static const char *member_of_score(long n, long score) {
    static char m[4][32];
    static int k;
    for (long i = 0; i < n; i++)
        if ((i * 7919) % n == score) {
            k = (k + 1) % 4;
            snprintf(m[k], sizeof(m[k]), "member:%08ld", i);
            return m[k];
        }
    return "none";
}

static uint64_t steps_of(const char *line, const char **reply) {
    uint64_t s0 = zset_stat_index_steps();
    const char *r = run(line);
    if (reply) *reply = r;
    return zset_stat_index_steps() - s0;
}

Test(zset, big_set_reads_only_what_it_returns) {
    fill_big("z", 100000, 0);
    RUN_EQ("ZCARD z", ":100000\r\n");
    const char *r;
    uint64_t s = steps_of("ZRANGE z 0 9", &r);
    char exp[512] = "*10\r\n";
    for (int i = 0; i < 10; i++)
        snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "$15\r\n%s\r\n",
                 member_of_score(100000, i));
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 11, "ZRANGE 0 9 visited %llu index entries", (unsigned long long)s);
    s = steps_of("ZSCORE z member:00050000", &r);
    cr_assert_str_eq(r, "$5\r\n50000\r\n"); /* 50000 * 7919 % 100000 */
    cr_assert_eq(s, 0);
    s = steps_of("ZMSCORE z member:00000001 nosuch", NULL);
    cr_assert_eq(s, 0);
    s = steps_of("ZRANGEBYSCORE z 5000 +inf LIMIT 0 100", &r);
    cr_assert(strncmp(r, "*100\r\n", 6) == 0);
    cr_assert_leq(s, 101, "ZRANGEBYSCORE LIMIT 0 100 visited %llu", (unsigned long long)s);
    s = steps_of("ZRANGE z (77000 77099 BYSCORE", &r);
    cr_assert(strncmp(r, "*99\r\n", 5) == 0, "%s", r);
    cr_assert_leq(s, 101);
    s = steps_of("ZCOUNT z 10 19", &r);
    cr_assert_str_eq(r, ":10\r\n");
    cr_assert_leq(s, 11);
    /* an unchanged score writes nothing */
    lsm_stats before, after;
    lsm_get_stats(server.engine, &before);
    RUN_EQ("ZADD z 50000 member:00050000", ":0\r\n");
    RUN_EQ("ZADD z NX 1 member:00050000", ":0\r\n");
    RUN_EQ("ZADD z XX 1 nosuch", ":0\r\n");
    lsm_get_stats(server.engine, &after);
    cr_assert_eq(after.puts, before.puts);
    cr_assert_eq(after.deletes, before.deletes);
    /* one changed score: two puts (member record, index entry) and one delete (old entry) */
    lsm_get_stats(server.engine, &before);
    RUN_EQ("ZADD z 50000.5 member:00050000", ":0\r\n");
    lsm_get_stats(server.engine, &after);
    cr_assert_eq(after.deletes - before.deletes, 1);
    cr_assert_eq(after.puts - before.puts, 2);
    /* ranks count the entries before the member: O(rank), documented */
    char line[128];
    snprintf(line, sizeof(line), "ZRANK z %s", member_of_score(100000, 1));
    s = steps_of(line, &r);
    cr_assert_str_eq(r, ":1\r\n");
    cr_assert_leq(s, 3);
}

Test(zset, lex_range_seeks_to_min) {
    fill_big("z", 50000, 1);
    const char *r;
    uint64_t s = steps_of("ZRANGEBYLEX z [member:00040000 + LIMIT 0 5", &r);
    cr_assert(strncmp(r, "*5\r\n$15\r\nmember:00040000\r\n", 26) == 0, "%s", r);
    cr_assert_leq(s, 8, "lex walk visited %llu", (unsigned long long)s);
    s = steps_of("ZLEXCOUNT z (member:00040000 [member:00040009", &r);
    cr_assert_str_eq(r, ":9\r\n");
    cr_assert_leq(s, 13);
    check_zset("z", "fill");
}

Test(zset, queue_pops_skip_their_tombstones) {
    fill_big("q", 20000, 0);
    /* every ZPOPMIN deletes the head; the next one must not step over those tombstones */
    uint64_t total = 0;
    for (int i = 0; i < 10000; i++) total += steps_of("ZPOPMIN q", NULL);
    cr_assert_leq(total, 10000 * 3, "10000 pops visited %llu index entries",
                  (unsigned long long)total);
    const char *r;
    char exp[256];
    uint64_t s = steps_of("ZRANGE q 0 0 WITHSCORES", &r);
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$5\r\n10000\r\n", member_of_score(20000, 10000));
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 3);
    /* a member below the popped head is found again (the hint moves down) */
    RUN_EQ("ZADD q 5 low", ":1\r\n");
    snprintf(exp, sizeof(exp), "*2\r\n$3\r\nlow\r\n$15\r\n%s\r\n", member_of_score(20000, 10000));
    RUN_EQ("ZRANGE q 0 1", exp);
    RUN_EQ("ZPOPMIN q", "*2\r\n$3\r\nlow\r\n$1\r\n5\r\n");
    char line[128];
    const char *top = member_of_score(20000, 19999);
    snprintf(line, sizeof(line), "ZINCRBY q -30000 %s", top);
    RUN_EQ(line, "$6\r\n-10001\r\n");
    snprintf(exp, sizeof(exp), "*1\r\n$15\r\n%s\r\n", top);
    RUN_EQ("ZRANGE q 0 0", exp);
    RUN_EQ("ZREMRANGEBYSCORE q -inf 10500", ":502\r\n");
    s = steps_of("ZRANGE q 0 0 WITHSCORES", &r);
    cr_assert_leq(s, 3, "after ZREMRANGEBYSCORE from the head: %llu", (unsigned long long)s);
    snprintf(line, sizeof(line), "ZRANK q %s", top);
    RUN_EQ(line, "$-1\r\n");
    RUN_EQ("ZCARD q", ":9498\r\n");
    cr_assert_eq(check_zset("q", "pops"), 9498);
    RUN_EQ("ZREMRANGEBYRANK q 0 99", ":100\r\n");
    s = steps_of("ZRANGE q 0 0", NULL);
    cr_assert_leq(s, 3);
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$5\r\n10601\r\n", member_of_score(20000, 10601));
    RUN_EQ("ZRANGEBYSCORE q -inf 10601 WITHSCORES LIMIT 0 1", exp);
}

Test(zset, reverse_walks_are_right_on_big_sets) {
    fill_big("z", 30000, 0);
    const char *m1 = member_of_score(30000, 29999), *m2 = member_of_score(30000, 29998);
    const char *m3 = member_of_score(30000, 29997);
    char exp[256], line[128];
    snprintf(exp, sizeof(exp), "*4\r\n$15\r\n%s\r\n$5\r\n29999\r\n$15\r\n%s\r\n$5\r\n29998\r\n",
             m1, m2);
    RUN_EQ("ZREVRANGE z 0 1 WITHSCORES", exp);
    snprintf(exp, sizeof(exp), "*1\r\n$15\r\n%s\r\n", m2);
    RUN_EQ("ZREVRANGEBYSCORE z +inf 29997 LIMIT 1 1", exp);
    snprintf(line, sizeof(line), "ZREVRANK z %s", m2);
    RUN_EQ(line, ":1\r\n");
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$5\r\n29999\r\n", m1);
    RUN_EQ("ZPOPMAX z", exp);
    snprintf(exp, sizeof(exp), "*4\r\n$15\r\n%s\r\n$5\r\n29997\r\n$15\r\n%s\r\n$5\r\n29998\r\n",
             m3, m2);
    RUN_EQ("ZRANGE z 29997 29998 WITHSCORES", exp);
    cr_assert_eq(check_zset("z", "popmax"), 29999);
}

Test(zset, store_results_replace_any_type_and_empty_results_delete) {
    RUN_EQ("SET d str", "+OK\r\n");
    RUN_EQ("ZADD a 1 x 2 y", ":2\r\n");
    RUN_EQ("ZUNIONSTORE d 1 a", ":2\r\n");
    RUN_EQ("TYPE d", "+zset\r\n");
    check_zset("d", "union");
    RUN_EQ("ZINTERSTORE d 2 a nokey", ":0\r\n");
    RUN_EQ("EXISTS d", ":0\r\n");
    RUN_EQ("DBSIZE", ":1\r\n");
    RUN_EQ("ZRANGESTORE a a 1 1", ":1\r\n");
    RUN_EQ("ZRANGE a 0 -1 WITHSCORES", "*2\r\n$1\r\ny\r\n$1\r\n2\r\n");
    check_zset("a", "rangestore onto itself");
}

Test(zset, getkeys_of_numkeys_commands) {
    RUN_EQ("COMMAND GETKEYS ZUNIONSTORE d 2 a b WEIGHTS 1 2",
           "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n");
    RUN_EQ("COMMAND GETKEYS ZMPOP 1 a MIN", "*1\r\n$1\r\na\r\n");
    RUN_EQ("COMMAND GETKEYS ZINTER 3 a b", "-ERR Invalid arguments specified for command\r\n");
    RUN_EQ("COMMAND GETKEYS ZUNIONSTORE d 01 a", "*2\r\n$1\r\na\r\n$1\r\nd\r\n");
}

/* The pops' read-ahead (consecutive ZPOPMIN/ZPOPMAX of one zset without an engine iterator
 * each) must answer exactly as plain pops, whatever writes come in between (MULTI/EXEC, RENAME,
 * DEL, STORE onto the key, the other end): the same random script runs with it and without it,
 * and every reply must match. */
static char *script_line(unsigned *seed) {
    static char line[256];
    const char *keys[] = {"q1", "q2"};
    const char *k = keys[rand_r(seed) % 2];
    int op = rand_r(seed) % 100;
    if (op < 30) {
        int n = snprintf(line, sizeof(line), "ZADD %s", k);
        for (int i = 0, c = 1 + rand_r(seed) % 4; i < c; i++)
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %d m%d", rand_r(seed) % 50 - 10,
                          rand_r(seed) % 60);
    } else if (op < 55) {
        snprintf(line, sizeof(line), "ZPOPMIN %s %d", k, rand_r(seed) % 4);
    } else if (op < 62) {
        snprintf(line, sizeof(line), "ZPOPMIN %s", k);
    } else if (op < 67) {
        snprintf(line, sizeof(line), "ZREM %s m%d m%d", k, rand_r(seed) % 60, rand_r(seed) % 60);
    } else if (op < 72) {
        snprintf(line, sizeof(line), "ZINCRBY %s %d m%d", k, rand_r(seed) % 40 - 20, rand_r(seed) % 60);
    } else if (op < 76) {
        snprintf(line, sizeof(line), "ZPOPMAX %s %d", k, rand_r(seed) % 3);
    } else if (op < 80) {
        snprintf(line, sizeof(line), "ZREMRANGEBYSCORE %s -inf %d", k, rand_r(seed) % 20 - 10);
    } else if (op < 84) {
        snprintf(line, sizeof(line), "ZRANGE %s 0 -1 WITHSCORES", k);
    } else if (op < 86) {
        snprintf(line, sizeof(line), "MULTI");
    } else if (op < 88) {
        snprintf(line, sizeof(line), "EXEC");
    } else if (op < 90) {
        snprintf(line, sizeof(line), "ZMPOP 2 %s q2 MIN COUNT %d", k, 1 + rand_r(seed) % 3);
    } else if (op < 92) {
        snprintf(line, sizeof(line), "RENAME %s %s", k, k[1] == '1' ? "q2" : "q1");
    } else if (op < 93) {
        snprintf(line, sizeof(line), "DEL %s", k);
    } else if (op < 96) {
        snprintf(line, sizeof(line), "ZUNIONSTORE %s 2 q1 q2", k);
    } else {
        snprintf(line, sizeof(line), "ZCARD %s", k);
    }
    return line;
}

Test(zset, popmin_read_ahead_answers_as_plain_pops) {
    enum { N = 4000 };
    char **replies = calloc(N, sizeof(char *));
    for (int pass = 0; pass < 2; pass++) {
        zset_cache_enable(pass == 0);
        RUN_EQ("FLUSHALL", "+OK\r\n");
        unsigned seed = 12345;
        for (int i = 0; i < N; i++) {
            char *line = script_line(&seed);
            char cmd[256];
            snprintf(cmd, sizeof(cmd), "%s", line);
            const char *r = run(cmd);
            if (pass == 0) {
                replies[i] = strdup(r);
            } else {
                cr_assert_str_eq(r, replies[i], "command %d '%s' differs with the read-ahead", i,
                                 line);
            }
            if (i % 97 == 0) {
                check_zset("q1", line);
                check_zset("q2", line);
            }
        }
        run("DISCARD");
    }
    for (int i = 0; i < N; i++) free(replies[i]);
    free(replies);
    zset_cache_enable(1);
}

Test(zset, popmin_read_ahead_saves_the_iterators) {
    fill_big("q", 5000, 0);
    uint64_t s0 = zset_stat_index_steps(), f0 = zset_stat_readahead_refills();
    for (int i = 0; i < 1000; i++) run("ZPOPMIN q");
    uint64_t steps = zset_stat_index_steps() - s0;
    /* a run of pops reads ahead 64, 128, 256, 512, then 1024 entries at a time: 5 iterators for
     * 1000 pops, and at most one read-ahead's worth visited beyond what they pop */
    cr_assert_eq(zset_stat_readahead_refills() - f0, 5);
    cr_assert_leq(steps, 1000 + 1024, "1000 pops visited %llu", (unsigned long long)steps);
    char exp[128];
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$4\r\n1000\r\n", member_of_score(5000, 1000));
    RUN_EQ("ZRANGE q 0 0 WITHSCORES", exp);
    cr_assert_eq(check_zset("q", "read-ahead pops"), 4000);
    /* ZPOPMAX: a few walks, not one per pop (the other end: the read-ahead starts over) */
    s0 = zset_stat_index_steps();
    f0 = zset_stat_readahead_refills();
    for (int i = 0; i < 640; i++) run("ZPOPMAX q");
    steps = zset_stat_index_steps() - s0;
    cr_assert_eq(zset_stat_readahead_refills() - f0, 4, "64 + 128 + 256 + 512 >= 640");
    cr_assert_leq(steps, 4 * 4000 + 640, "640 ZPOPMAX visited %llu", (unsigned long long)steps);
    cr_assert_eq(check_zset("q", "read-ahead popmax"), 3360);
    /* pops mixed with adds (a queue): each add drops the read-ahead, which stays at 64 */
    s0 = zset_stat_index_steps();
    f0 = zset_stat_readahead_refills();
    for (int i = 0; i < 100; i++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "ZADD q -%d new%d", i + 1, i);
        run(cmd);
        run("ZPOPMIN q");
    }
    steps = zset_stat_index_steps() - s0;
    cr_assert_eq(zset_stat_readahead_refills() - f0, 100);
    cr_assert_leq(steps, 100 * (64 + 2), "100 add+pop pairs visited %llu", (unsigned long long)steps);
    cr_assert_eq(check_zset("q", "adds and pops"), 3360);
}

/* A pop whose writes are dropped (an aborted transaction) must not leave the read-ahead ahead
 * of the data: the metadata check notices. */
Test(zset, read_ahead_notices_dropped_pops) {
    RUN_EQ("ZADD q 1 a 2 b 3 c 4 d 5 e", ":5\r\n");
    RUN_EQ("ZPOPMIN q", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"); /* fills the read-ahead */
    /* pop b through the read-ahead, then drop that pop's writes */
    keyspace_begin();
    coll c;
    cr_assert_eq(coll_open(&c, 0, "q", 1, KTYPE_ZSET, 0), 1);
    cr_assert_eq(zset_pop(&c, 1, 0, 1, NULL, NULL), 1);
    cr_assert_eq(coll_save(&c), 0);
    coll_close(&c);
    keyspace_abort();
    cr_assert_neq(keyspace_commit(), 0);
    RUN_EQ("ZPOPMIN q", "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    RUN_EQ("ZPOPMIN q", "*2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    cr_assert_eq(check_zset("q", "dropped pop"), 2);
}

/* Reverse walks use the engine's reverse iteration: the top of a big set costs what it returns. */
Test(zset, reverse_walks_read_only_what_they_return) {
    fill_big("z", 100000, 0);
    const char *r;
    char exp[1024] = "*10\r\n";
    for (int i = 0; i < 10; i++)
        snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "$15\r\n%s\r\n",
                 member_of_score(100000, 99999 - i));
    uint64_t s = steps_of("ZREVRANGE z 0 9", &r);
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 11, "ZREVRANGE 0 9 visited %llu", (unsigned long long)s);
    s = steps_of("ZRANGE z +inf -inf BYSCORE REV LIMIT 0 10", &r);
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 11);
    s = steps_of("ZREVRANGEBYSCORE z (99999.5 -inf LIMIT 0 10", &r);
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 11);
    s = steps_of("ZRANGE z -3 -1", &r);
    cr_assert_leq(s, 4, "ZRANGE -3 -1 visited %llu", (unsigned long long)s);
    char line[128];
    snprintf(line, sizeof(line), "ZREVRANK z %s", member_of_score(100000, 99997));
    s = steps_of(line, &r);
    cr_assert_str_eq(r, ":2\r\n");
    cr_assert_leq(s, 4);
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$15\r\n%s\r\n",
             member_of_score(100000, 99989), member_of_score(100000, 99988));
    s = steps_of("ZREVRANGEBYSCORE z 99990 -inf LIMIT 1 2", &r);
    cr_assert_str_eq(r, exp);
    cr_assert_leq(s, 4);
    /* ZPOPMAX without the read-ahead: the tail hint keeps later pops off the tombstones */
    zset_cache_enable(0);
    for (int i = 0; i < 2000; i++) s = steps_of("ZPOPMAX z", NULL);
    cr_assert_leq(s, 2);
    zset_cache_enable(1);
    snprintf(exp, sizeof(exp), "*2\r\n$15\r\n%s\r\n$5\r\n97999\r\n", member_of_score(100000, 97999));
    RUN_EQ("ZRANGE z -1 -1 WITHSCORES", exp);
    RUN_EQ("ZADD z 1e9 top", ":1\r\n");
    RUN_EQ("ZREVRANGE z 0 0", "*1\r\n$3\r\ntop\r\n");
    cr_assert_eq(check_zset("z", "popmax"), 98001);
}
