/* test_keyspace.c - the keyspace's on-disk encoding and its counting invariant (keyspace.c):
 * value encoding round trip, expire-index ordering, the compaction hook, exact counters through
 * SET/DEL/EXPIRE/PERSIST/overwrite, lazy and active expiry (incl. index entries whose value the
 * engine's compaction dropped), FLUSHDB, SWAPDB persistence, SCAN cursor resume points. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault_fs.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"

static char tmpdir[64];

static void ks_setup(void) {
    strcpy(tmpdir, "/tmp/kevo-test-ks-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = 1 << 20;
    o.block_cache_size = 1 << 20;
    o.expire_fn = keyspace_value_expire;
    cr_assert_eq(lsm_open(tmpdir, &o, &server.engine), 0, "%s", lsm_last_error(NULL));
    server.batch = lsm_batch_new();
    server.dbnum = 16;
    cr_assert_eq(keyspace_open(), 0);
}

static void ks_teardown(void) {
    keyspace_close();
    lsm_batch_free(server.batch);
    server.batch = NULL;
    lsm_close(server.engine);
    server.engine = NULL;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- helpers acting like the command handlers: read, stage, commit ---- */

static int set_key(int db, const char *k, const char *v, uint64_t expire) {
    ks_value old;
    int r = keyspace_lookup(db, k, strlen(k), keyspace_buf(0), &old, 0);
    cr_assert_geq(r, 0);
    keyspace_begin();
    cr_assert_eq(keyspace_put(db, k, strlen(k), r ? &old : NULL, KTYPE_STRING, expire, v,
                              strlen(v)), 0);
    cr_assert_eq(keyspace_commit(), 0);
    return r;
}

static int del_key(int db, const char *k) {
    ks_value old;
    int r = keyspace_lookup(db, k, strlen(k), keyspace_buf(0), &old, 0);
    cr_assert_geq(r, 0);
    if (!r) return 0;
    keyspace_begin();
    cr_assert_eq(keyspace_remove(db, k, strlen(k), &old), 0);
    cr_assert_eq(keyspace_commit(), 0);
    return 1;
}

static int set_expire(int db, const char *k, uint64_t expire) {
    ks_value old;
    int r = keyspace_lookup(db, k, strlen(k), keyspace_buf(0), &old, 0);
    cr_assert_geq(r, 0);
    if (!r) return 0;
    keyspace_begin();
    cr_assert_eq(keyspace_put(db, k, strlen(k), &old, old.type, expire, old.payload, old.plen),
                 0);
    cr_assert_eq(keyspace_commit(), 0);
    return 1;
}

/* Number of 'x' entries in the engine (all dbs). */
static long long count_x_entries(void) {
    lsm_iter *it = lsm_iter_new(server.engine);
    long long n = 0;
    char x = KS_TAG_EXPIRE;
    for (lsm_iter_seek(it, &x, 1); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (k[0] != KS_TAG_EXPIRE) break;
        n++;
    }
    lsm_iter_free(it);
    return n;
}

/* Writes a key straight into the engine with its counters, as a past incarnation would have
 * been written (e.g. with an expire that has passed since). with_value=0 leaves only the index
 * entry and the counts: a value the engine's compaction dropped. */
static void raw_incarnation(int phys, const char *k, uint64_t expire, int with_value) {
    char ek[300], xk[300], val[64];
    size_t kl = keyspace_encode_key(ek, phys, k, strlen(k));
    size_t xl = keyspace_encode_xkey(xk, expire, phys, k, strlen(k));
    size_t h = keyspace_encode_value_header(val, KTYPE_STRING, expire);
    memcpy(val + h, "v", 1);
    lsm_batch *b = lsm_batch_new();
    if (with_value) lsm_batch_put(b, ek, kl, val, h + 1);
    lsm_batch_put(b, xk, xl, "", 0);
    lsm_batch_counter_add(b, 2 * phys, 1);
    lsm_batch_counter_add(b, 2 * phys + 1, 1);
    cr_assert_eq(lsm_write(server.engine, b), 0);
    lsm_batch_free(b);
}

/* ---- pure encoding ---- */

Test(value_encoding, round_trip_with_and_without_expire) {
    char buf[64];
    ks_value v;
    size_t h = keyspace_encode_value_header(buf, KTYPE_STRING, 0);
    cr_assert_eq(h, 2);
    memcpy(buf + h, "bar", 3);
    cr_assert_eq(keyspace_decode_value(buf, h + 3, &v), 0);
    cr_assert_eq(v.type, KTYPE_STRING);
    cr_assert_eq(v.expire, 0);
    cr_assert_eq(v.plen, 3);
    cr_assert_eq(memcmp(v.payload, "bar", 3), 0);

    uint64_t t = 0x0102030405060708ull;
    h = keyspace_encode_value_header(buf, KTYPE_STRING, t);
    cr_assert_eq(h, 10);
    cr_assert_eq((unsigned char)buf[2], 0x08); /* little-endian on disk */
    cr_assert_eq(keyspace_decode_value(buf, h, &v), 0); /* empty payload is a value */
    cr_assert_eq(v.expire, t);
    cr_assert_eq(v.plen, 0);
}

Test(value_encoding, truncated_values_are_rejected) {
    ks_value v;
    cr_assert_eq(keyspace_decode_value("", 0, &v), -1);
    cr_assert_eq(keyspace_decode_value("\0", 1, &v), -1);
    char buf[10] = {KTYPE_STRING, KF_EXPIRE, 1, 2, 3};
    cr_assert_eq(keyspace_decode_value(buf, 5, &v), -1);
}

Test(expire_index, keys_sort_by_time_big_endian) {
    uint64_t times[] = {1, 255, 256, 65535, 65536, 1ull << 40, (1ull << 40) + 1};
    char prev[64], cur[64];
    size_t pl = keyspace_encode_xkey(prev, times[0], 15, "zzz", 3);
    for (size_t i = 1; i < sizeof(times) / sizeof(times[0]); i++) {
        size_t cl = keyspace_encode_xkey(cur, times[i], 0, "a", 1);
        size_t m = pl < cl ? pl : cl;
        cr_assert_lt(memcmp(prev, cur, m), 0, "index not in time order at %zu", i);
        memcpy(prev, cur, cl);
        pl = cl;
    }
}

Test(expire_hook, value_expire_on_every_kind_of_entry) {
    char k[16], v[32];
    size_t kl = keyspace_encode_key(k, 3, "foo", 3);
    size_t h = keyspace_encode_value_header(v, KTYPE_STRING, 1234567);
    cr_assert_eq(keyspace_value_expire(NULL, k, kl, v, h), 1234567);
    h = keyspace_encode_value_header(v, KTYPE_STRING, 0);
    memcpy(v + h, "12345678901", 11); /* long payload but no expire flag */
    cr_assert_eq(keyspace_value_expire(NULL, k, kl, v, h + 11), 0);
    char xk[32];
    size_t xl = keyspace_encode_xkey(xk, 99, 0, "foo", 3);
    cr_assert_eq(keyspace_value_expire(NULL, xk, xl, "", 0), 0); /* index entries never expire */
    cr_assert_eq(keyspace_value_expire(NULL, "Mdbmap", 6, "0123456789abcdef", 16), 0);
    cr_assert_eq(keyspace_value_expire(NULL, k, kl, "\0\1", 2), 0); /* malformed: keep */
}

/* ---- engine-backed ---- */

TestSuite(keyspace_counts, .init = ks_setup, .fini = ks_teardown);

Test(keyspace_counts, exact_after_set_del_expire_persist_overwrite) {
    uint64_t far = server_now_ms() + 3600 * 1000;
    set_key(0, "a", "1", 0);
    set_key(0, "b", "2", far);
    set_key(0, "c", "3", far + 1);
    cr_assert_eq(keyspace_dbsize(0), 3);
    cr_assert_eq(keyspace_expires(0), 2);
    set_key(0, "a", "11", 0);          /* overwrite, no expire */
    set_key(0, "b", "22", 0);          /* overwrite drops the expire */
    cr_assert_eq(keyspace_dbsize(0), 3);
    cr_assert_eq(keyspace_expires(0), 1);
    set_expire(0, "a", far + 5);       /* EXPIRE */
    set_expire(0, "a", far + 6);       /* EXPIRE again: index entry replaced, not added */
    cr_assert_eq(keyspace_expires(0), 2);
    cr_assert_eq(count_x_entries(), 2);
    set_expire(0, "c", 0);             /* PERSIST */
    cr_assert_eq(keyspace_expires(0), 1);
    cr_assert_eq(del_key(0, "a"), 1);
    cr_assert_eq(del_key(0, "a"), 0);  /* deleting an absent key changes nothing */
    cr_assert_eq(keyspace_dbsize(0), 2);
    cr_assert_eq(keyspace_expires(0), 0);
    cr_assert_eq(count_x_entries(), 0);
    set_key(1, "a", "x", far);         /* other db counts apart */
    cr_assert_eq(keyspace_dbsize(1), 1);
    cr_assert_eq(keyspace_expires(1), 1);
    cr_assert_eq(keyspace_dbsize(0), 2);
}

Test(keyspace_counts, past_expire_write_removes_the_key) {
    set_key(0, "k", "v", 0);
    cr_assert_eq(set_expire(0, "k", server_now_ms() - 1), 1);
    cr_assert_eq(keyspace_dbsize(0), 0);
    ks_value v;
    cr_assert_eq(keyspace_lookup(0, "k", 1, keyspace_buf(0), &v, 0), 0);
    set_key(0, "n", "v", 1); /* a new key with a past expire is never stored */
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_eq(count_x_entries(), 0);
}

Test(keyspace_counts, lazy_expiry_deletes_key_and_index_entry) {
    raw_incarnation(keyspace_phys_db(0), "old", server_now_ms() - 1000, 1);
    cr_assert_eq(keyspace_dbsize(0), 1);
    long long before = server.stat.expiredkeys;
    ks_value v;
    cr_assert_eq(keyspace_lookup(0, "old", 3, keyspace_buf(0), &v, KS_LOOKUP_NOEXPIRE), 0);
    cr_assert_eq(keyspace_dbsize(0), 1); /* NOEXPIRE: reported absent, not deleted */
    cr_assert_eq(keyspace_lookup(0, "old", 3, keyspace_buf(0), &v, 0), 0);
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_eq(keyspace_expires(0), 0);
    cr_assert_eq(count_x_entries(), 0);
    cr_assert_eq(server.stat.expiredkeys, before + 1);
}

Test(keyspace_counts, active_cycle_expires_due_keys_only) {
    uint64_t now = server_now_ms();
    raw_incarnation(0, "due1", now - 2000, 1);
    raw_incarnation(0, "due2", now - 1000, 1);
    set_key(0, "later", "v", now + 3600 * 1000);
    cr_assert_eq(keyspace_dbsize(0), 3);
    cr_assert_eq(keyspace_active_expire_cycle(100000), 2);
    cr_assert_eq(keyspace_dbsize(0), 1);
    cr_assert_eq(keyspace_expires(0), 1);
    cr_assert_eq(count_x_entries(), 1);
    cr_assert_eq(keyspace_active_expire_cycle(100000), 0);
}

/* INFO keyspace's avg_ttl estimate with TTLs near the end of the 64-bit range (EXPIREAT of a
 * huge time): two samples used to overflow their sum and the estimate went negative. */
Test(keyspace_counts, avg_ttl_of_huge_ttls_stays_positive) {
    uint64_t huge = (uint64_t)LLONG_MAX - 1000;
    set_key(0, "h1", "v", huge);
    set_key(0, "h2", "v", huge - 1);
    cr_assert_eq(keyspace_active_expire_cycle(100000), 0);
    cr_assert_gt(keyspace_avg_ttl(0), 0);
}

Test(keyspace_counts, active_cycle_retires_index_entry_of_compacted_value) {
    uint64_t now = server_now_ms();
    raw_incarnation(0, "gone", now - 1000, 0); /* compaction dropped the value */
    cr_assert_eq(keyspace_dbsize(0), 1);
    cr_assert_eq(keyspace_active_expire_cycle(100000), 1);
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_eq(keyspace_expires(0), 0);
    cr_assert_eq(count_x_entries(), 0);
}

Test(keyspace_counts, stale_index_entry_with_new_incarnation_counts_once) {
    uint64_t now = server_now_ms();
    raw_incarnation(0, "k", now - 1000, 0); /* old incarnation dropped by compaction */
    set_key(0, "k", "new", 0);              /* SET finds it absent: a second incarnation */
    cr_assert_eq(keyspace_dbsize(0), 2);
    cr_assert_eq(keyspace_active_expire_cycle(100000), 1);
    cr_assert_eq(keyspace_dbsize(0), 1);
    cr_assert_eq(keyspace_expires(0), 0);
    ks_value v;
    cr_assert_eq(keyspace_lookup(0, "k", 1, keyspace_buf(0), &v, 0), 1);
    cr_assert_eq(v.plen, 3);
}

/* A long command: the server's cached time lags the real clock by more than any margin. A
 * compaction then must judge expiry by the server's time (lsm_set_expire_clock): if it dropped
 * the value, a SET reusing the same expire-at would count a second incarnation under the same
 * index entry and DBSIZE would never come back to 0. */
Test(keyspace_counts, compaction_judges_expiry_by_the_lagging_server_clock) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t real = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t at = real - 60 * 1000; /* long past for the real clock */
    server.cmd_time_ms = at - 1000;  /* still ahead for the server's cached time */
    lsm_set_expire_clock(server.engine, server.cmd_time_ms);
    set_key(0, "k", "v", at);
    cr_assert_eq(lsm_compact_range(server.engine, NULL, 0, NULL, 0, 1), 0);
    ks_value v;
    cr_assert_eq(keyspace_lookup(0, "k", 1, keyspace_buf(0), &v, 0), 1,
                 "compaction dropped a value the server still sees as live");
    cr_assert_eq(set_key(0, "k", "v2", at), 1, "the SET must overwrite the same incarnation");
    cr_assert_eq(keyspace_dbsize(0), 1);
    server.cmd_time_ms = real; /* the clock catches up: the key expires exactly once */
    keyspace_active_expire_cycle(100000);
    cr_assert_eq(keyspace_dbsize(0), 0);
    cr_assert_eq(keyspace_expires(0), 0);
    cr_assert_eq(count_x_entries(), 0);
    server.cmd_time_ms = 0;
}

Test(keyspace_counts, flushdb_reaches_zero_including_stale_entries) {
    uint64_t now = server_now_ms();
    for (int i = 0; i < 2500; i++) { /* more than one internal delete batch */
        char k[32];
        snprintf(k, sizeof(k), "key:%d", i);
        set_key(2, k, "v", i % 3 == 0 ? now + 3600 * 1000 : 0);
    }
    raw_incarnation(keyspace_phys_db(2), "gone", now - 5, 0);
    set_key(3, "other", "v", now + 3600 * 1000);
    cr_assert_eq(keyspace_dbsize(2), 2501);
    cr_assert_eq(keyspace_flushdb(2), 0);
    cr_assert_eq(keyspace_dbsize(2), 0);
    cr_assert_eq(keyspace_expires(2), 0);
    cr_assert_eq(keyspace_dbsize(3), 1);
    cr_assert_eq(count_x_entries(), 1);
    cr_assert_eq(keyspace_flushall(), 0);
    cr_assert_eq(keyspace_dbsize(3), 0);
    cr_assert_eq(count_x_entries(), 0);
}

Test(keyspace_counts, swapdb_map_survives_reopen) {
    set_key(0, "zero", "0", 0);
    set_key(1, "one", "1", 0);
    set_key(1, "uno", "1", 0);
    cr_assert_eq(keyspace_swapdb(0, 1), 0);
    cr_assert_eq(keyspace_dbsize(0), 2);
    cr_assert_eq(keyspace_dbsize(1), 1);
    ks_value v;
    cr_assert_eq(keyspace_lookup(0, "one", 3, keyspace_buf(0), &v, 0), 1);
    keyspace_close();
    lsm_close(server.engine);
    lsm_options o;
    lsm_options_init(&o);
    cr_assert_eq(lsm_open(tmpdir, &o, &server.engine), 0);
    cr_assert_eq(keyspace_open(), 0);
    cr_assert_eq(keyspace_lookup(0, "one", 3, keyspace_buf(0), &v, 0), 1);
    cr_assert_eq(keyspace_lookup(1, "zero", 4, keyspace_buf(0), &v, 0), 1);
    cr_assert_eq(keyspace_dbsize(0), 2);
    cr_assert_eq(keyspace_phys_db(0), 1);
    cr_assert_eq(keyspace_logical_db(1), 0);
}

Test(keyspace_counts, scan_cursor_resumes_at_saved_key_or_lower_bound) {
    char ek[64];
    size_t el = keyspace_encode_key(ek, 4, "hello:world", 11);
    unsigned long long cur = keyspace_cursor_save(4, ek, el);
    cr_assert_neq(cur, 0);
    cr_assert_lt(cur, 1ull << 63);
    const char *seek;
    size_t sl;
    cr_assert_eq(keyspace_cursor_load(cur, 4, &seek, &sl), 1);
    cr_assert_eq(sl, el);
    cr_assert_eq(memcmp(seek, ek, el), 0);
    /* a cursor the table no longer knows (e.g. after a restart) resumes at a lower bound */
    keyspace_close();
    cr_assert_eq(keyspace_open(), 0);
    cr_assert_eq(keyspace_cursor_load(cur, 4, &seek, &sl), 0);
    cr_assert_eq(sl, 2 + 5);
    cr_assert_eq(memcmp(seek, ek, sl), 0); /* 'k' 4 "hello" <= the saved key */
    /* short keys: padding zeros are stripped so the bound stays <= the key */
    el = keyspace_encode_key(ek, 4, "ab", 2);
    cur = keyspace_cursor_save(4, ek, el);
    keyspace_close();
    cr_assert_eq(keyspace_open(), 0);
    cr_assert_eq(keyspace_cursor_load(cur, 4, &seek, &sl), 0);
    cr_assert_eq(sl, 4);
    cr_assert_eq(memcmp(seek, ek, 4), 0);
}

/* ---- through the command handlers (a socketless client; replies read back raw) ---- */
#include "client.h"
#include "command.h"
#include "config.h"

static void cmd_setup(void) {
    config_init();
    ks_setup();
    command_table_init();
}

static void cmd_teardown(void) { ks_teardown(); }

/* Runs a space-separated command line on c and returns its raw RESP reply (static buffer). */
static const char *run(client *c, const char *line) {
    static char reply[8192];
    char buf[1024];
    cmdarg argv[32];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", line);
    for (char *tok = strtok(buf, " "); tok && argc < 32; tok = strtok(NULL, " ")) {
        argv[argc].ptr = tok;
        argv[argc].len = strlen(tok);
        argc++;
    }
    cmdarg *saved = c->argv;
    c->argc = argc;
    c->argv = argv;
    client_reply_reset(c);
    command_process(c);
    c->argv = saved;
    c->argc = 0;
    size_t n = client_reply_copy(c, reply, sizeof(reply) - 1);
    reply[n] = '\0';
    client_reply_reset(c);
    return reply;
}

/* Number of live 'k' entries of physical db p in the engine. */
static long long count_k_entries(int p) {
    lsm_iter *it = lsm_iter_new(server.engine);
    long long n = 0;
    char pfx[2] = {KS_TAG_KEY, (char)p};
    for (lsm_iter_seek(it, pfx, 2); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < 2 || memcmp(k, pfx, 2) != 0) break;
        n++;
    }
    lsm_iter_free(it);
    return n;
}

static void assert_counts_match_engine(const char *after) {
    long long xs = 0;
    for (int db = 0; db < 16; db++) {
        cr_assert_eq(keyspace_dbsize(db), count_k_entries(keyspace_phys_db(db)),
                     "db%d key count drifted after '%s'", db, after);
        xs += keyspace_expires(db);
    }
    cr_assert_eq(xs, count_x_entries(), "expire count drifted after '%s'", after);
}

TestSuite(handlers, .init = cmd_setup, .fini = cmd_teardown);

Test(handlers, counters_exact_after_every_write_command) {
    client *c = client_create(-1);
    cr_assert_not_null(c);
    const char *script[] = {
        "SET a 1", "SET b 2 EX 100", "MSET a 1 c 2 c 3 d 4", "DEL a a nokey", "EXPIRE c 100",
        "EXPIRE c 200", "PERSIST b", "RENAME c e", "RENAME e d", "COPY d f", "COPY d f REPLACE",
        "MOVE f 1", "GETDEL d", "INCR n", "INCRBYFLOAT n 1.5", "APPEND n x", "SETRANGE n 10 y",
        "SETEX s 100 v", "PSETEX p 100000 v", "GETEX s PERSIST", "GETEX p EX 10", "SETNX s z",
        "MSETNX q 1 r 2", "GETSET q 5", "SET q 6 KEEPTTL GET", "EXPIRE q -1", "PEXPIREAT r 1",
        "SET t 1 PX 100000", "SET t 2 XX", "SELECT 1", "SET x 1 EX 50", "SWAPDB 0 1", "DEL f",
        "SELECT 0", "FLUSHDB", "UNLINK b", "SET z 1 EX 100", "FLUSHALL",
    };
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
        const char *r = run(c, script[i]);
        cr_assert_neq(r[0], '-', "'%s' failed: %s", script[i], r);
        assert_counts_match_engine(script[i]);
    }
    client_free(c);
}

Test(handlers, replies_match_redis_for_basic_string_commands) {
    client *c = client_create(-1);
    cr_assert_str_eq(run(c, "SET foo bar"), "+OK\r\n");
    cr_assert_str_eq(run(c, "GET foo"), "$3\r\nbar\r\n");
    cr_assert_str_eq(run(c, "GET nokey"), "$-1\r\n");
    cr_assert_str_eq(run(c, "SET foo 1 EX 0"), "-ERR invalid expire time in 'set' command\r\n");
    cr_assert_str_eq(run(c, "SET foo 1 NX XX"), "-ERR syntax error\r\n");
    cr_assert_str_eq(run(c, "INCR foo"), "-ERR value is not an integer or out of range\r\n");
    cr_assert_str_eq(run(c, "SET big 9223372036854775807"), "+OK\r\n");
    cr_assert_str_eq(run(c, "INCR big"), "-ERR increment or decrement would overflow\r\n");
    cr_assert_str_eq(run(c, "MSET a 1 b"), "-ERR wrong number of arguments for 'mset' command\r\n");
    cr_assert_str_eq(run(c, "TTL foo"), ":-1\r\n");
    cr_assert_str_eq(run(c, "TTL nokey"), ":-2\r\n");
    cr_assert_str_eq(run(c, "RENAME nokey x"), "-ERR no such key\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING big"), "$3\r\nint\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING foo"), "$6\r\nembstr\r\n");
    cr_assert_str_eq(run(c, "APPEND big 1"), ":20\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING big"), "$3\r\nraw\r\n"); /* modified in place */
    cr_assert_str_eq(run(c, "EXPIRE big 100"), ":1\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING big"), "$3\r\nraw\r\n");
    cr_assert_str_eq(run(c, "SET big 7"), "+OK\r\n");
    cr_assert_str_eq(run(c, "OBJECT ENCODING big"), "$3\r\nint\r\n");
    client_free(c);
}

/* Parses a SCAN reply: returns the cursor, adds the keys' names to seen[] (by index in key:N). */
static unsigned long long parse_scan(const char *r, int *seen, int nkeys, long *returned) {
    unsigned long long cur;
    long n;
    const char *p = strstr(r, "\r\n$");
    cr_assert_not_null(p);
    p = strstr(p + 2, "\r\n") + 2; /* cursor bulk */
    cur = strtoull(p, NULL, 10);
    p = strchr(p, '*');
    n = strtol(p + 1, NULL, 10);
    for (long i = 0; i < n; i++) {
        p = strchr(p + 1, '$');
        p = strstr(p, "\r\n") + 2;
        if (strncmp(p, "key:", 4) != 0) continue; /* keys added during the walk */
        int idx = atoi(p + 4);
        cr_assert(idx >= 0 && idx < nkeys);
        seen[idx]++;
    }
    *returned += n;
    return cur;
}

Test(handlers, scan_returns_every_key_present_for_the_whole_walk) {
    client *c = client_create(-1);
    enum { N = 500 };
    static int seen[N];
    char line[128];
    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof(line), "SET key:%d v", i);
        run(c, line);
    }
    unsigned long long cur = 0;
    long returned = 0;
    int calls = 0, deleted = 0;
    do {
        snprintf(line, sizeof(line), "SCAN %llu COUNT 7", cur);
        cur = parse_scan(run(c, line), seen, N, &returned);
        /* churn during the walk: delete keys 0,10,20.. and add new ones */
        if (deleted * 10 < N) {
            snprintf(line, sizeof(line), "DEL key:%d", deleted * 10);
            run(c, line);
            deleted++;
        }
        snprintf(line, sizeof(line), "SET zz:%d v", calls);
        run(c, line);
        calls++;
        cr_assert_lt(calls, 10 * N, "the walk does not terminate");
    } while (cur != 0);
    for (int i = 0; i < N; i++)
        if (!(i % 10 == 0 && i / 10 < deleted)) cr_assert_geq(seen[i], 1, "key:%d never returned", i);
    client_free(c);
}

Test(handlers, watch_aborts_exec_after_another_clients_write) {
    client *a = client_create(-1), *b = client_create(-1);
    cr_assert_str_eq(run(a, "WATCH k"), "+OK\r\n");
    cr_assert_str_eq(run(b, "SET k 1"), "+OK\r\n");
    cr_assert_str_eq(run(a, "MULTI"), "+OK\r\n");
    cr_assert_str_eq(run(a, "SET k 2"), "+QUEUED\r\n");
    cr_assert_str_eq(run(a, "EXEC"), "*-1\r\n");
    cr_assert_str_eq(run(a, "GET k"), "$1\r\n1\r\n");
    /* unwatched after EXEC: the next transaction runs */
    cr_assert_str_eq(run(a, "MULTI"), "+OK\r\n");
    cr_assert_str_eq(run(a, "SET k 3"), "+QUEUED\r\n");
    cr_assert_str_eq(run(a, "INCR k"), "+QUEUED\r\n");
    cr_assert_str_eq(run(a, "EXEC"), "*2\r\n+OK\r\n:4\r\n");
    /* a queueing error discards the transaction */
    cr_assert_str_eq(run(a, "MULTI"), "+OK\r\n");
    cr_assert_eq(run(a, "GET")[0], '-');
    cr_assert_str_eq(run(a, "EXEC"),
                     "-EXECABORT Transaction discarded because of previous errors.\r\n");
    cr_assert_str_eq(run(a, "EXEC"), "-ERR EXEC without MULTI\r\n");
    /* FLUSHDB touches watched keys that exist */
    cr_assert_str_eq(run(a, "WATCH k"), "+OK\r\n");
    cr_assert_str_eq(run(b, "FLUSHDB"), "+OK\r\n");
    cr_assert_str_eq(run(a, "MULTI"), "+OK\r\n");
    cr_assert_str_eq(run(a, "EXEC"), "*-1\r\n");
    client_free(a);
    client_free(b);
}

/* The engine starts refusing writes after a transaction was queued (another client's commit hit a
 * disk error): EXEC's one engine batch is not written, so EXEC must not reply its commands'
 * results as if they had happened. */
Test(handlers, exec_whose_batch_cannot_be_written_is_not_acknowledged) {
    client *a = client_create(-1), *b = client_create(-1);
    cr_assert_eq(lsm_set_sync_mode(server.engine, LSM_SYNC_ALWAYS), 0);
    cr_assert_str_eq(run(a, "SET k 1"), "+OK\r\n");
    cr_assert_eq(lsm_commit(server.engine), 0);
    cr_assert_str_eq(run(a, "MULTI"), "+OK\r\n");
    cr_assert_str_eq(run(a, "INCR k"), "+QUEUED\r\n");
    cr_assert_str_eq(run(a, "SET j x"), "+QUEUED\r\n");
    ffs_install();
    ffs_arm(0, 1u << FS_WRITE, NULL);
    run(b, "SET other 1");
    cr_assert_neq(lsm_commit(server.engine), 0, "the injected WAL write error did not fail the commit");
    ffs_uninstall();
    const char *r = run(a, "EXEC");
    cr_assert(strncmp(r, "-MISCONF", 8) == 0, "EXEC acknowledged a transaction that was not written: %s", r);
    cr_assert_str_eq(run(b, "GET k"), "$1\r\n1\r\n", "reads go on and show no part of it");
    cr_assert_str_eq(run(b, "EXISTS j other"), ":0\r\n");
    cr_assert(strncmp(run(b, "SET z 1"), "-MISCONF", 8) == 0, "writes are refused until repaired");
    client_free(a);
    client_free(b);
}

Test(handlers, exec_writes_reach_the_engine_as_one_group_and_read_their_own_writes) {
    client *c = client_create(-1);
    cr_assert_str_eq(run(c, "SET a 1"), "+OK\r\n");
    cr_assert_str_eq(run(c, "MULTI"), "+OK\r\n");
    run(c, "INCR a");
    run(c, "SET b x EX 100");
    run(c, "APPEND b y");
    run(c, "DEL a");
    run(c, "GET b");
    run(c, "DBSIZE");
    run(c, "EXISTS a");
    cr_assert_str_eq(run(c, "EXEC"), "*7\r\n:2\r\n+OK\r\n:2\r\n:1\r\n$2\r\nxy\r\n:1\r\n:0\r\n");
    cr_assert_eq(keyspace_dbsize(0), 1);
    cr_assert_eq(keyspace_expires(0), 1);
    assert_counts_match_engine("EXEC");

    /* inside the group writes are applied at once (read your own writes, iterators too); the
     * group is logged as one record at keyspace_defer_end, and an abort takes all of it back */
    char ek[16];
    size_t el = keyspace_encode_key(ek, keyspace_phys_db(0), "g", 1);
    lsm_buf raw = {0};
    keyspace_defer_begin();
    ks_value old, v;
    int r = keyspace_lookup(0, "g", 1, keyspace_buf(0), &old, 0);
    cr_assert_eq(r, 0);
    keyspace_begin();
    cr_assert_eq(keyspace_put(0, "g", 1, NULL, KTYPE_STRING, 0, "v", 1), 0);
    cr_assert_eq(keyspace_commit(), 0);
    cr_assert_eq(lsm_get(server.engine, ek, el, &raw), 0);
    cr_assert_eq(lsm_commit(server.engine), LSM_EINVAL, "no commit while the group is open");
    cr_assert_eq(keyspace_lookup(0, "g", 1, keyspace_buf(0), &v, 0), 1); /* own write seen */
    cr_assert_eq(keyspace_dbsize(0), 2);                                  /* counted */
    cr_assert_eq(keyspace_defer_end(), 0);
    cr_assert_eq(lsm_get(server.engine, ek, el, &raw), 0);
    cr_assert_eq(keyspace_dbsize(0), 2);
    assert_counts_match_engine("defer_end");

    el = keyspace_encode_key(ek, keyspace_phys_db(0), "h", 1);
    keyspace_defer_begin();
    keyspace_begin();
    cr_assert_eq(keyspace_put(0, "h", 1, NULL, KTYPE_STRING, 0, "v", 1), 0);
    cr_assert_eq(keyspace_commit(), 0);
    cr_assert_eq(keyspace_dbsize(0), 3);
    keyspace_begin();
    keyspace_abort();
    cr_assert_neq(keyspace_commit(), 0, "an aborted command fails its commit");
    cr_assert_neq(keyspace_defer_end(), 0, "and the whole transaction with it");
    cr_assert_eq(lsm_get(server.engine, ek, el, &raw), LSM_ENOTFOUND, "the abort took h back");
    cr_assert_eq(keyspace_dbsize(0), 2, "and its count");
    assert_counts_match_engine("abort");
    lsm_buf_free(&raw);
    client_free(c);
}
