/* test_blocking.c - the blocked-clients registry (blocking.h) driven through real commands on
 * socketless clients: FIFO service, repeated keys, every client leaving every structure
 * (served, timed out, CLIENT UNBLOCK, freed, killed), the timeout heap's order under many
 * deadlines, chained BLMOVE wake-ups, clients of another type kept in place, timeout parsing. */
#pragma GCC diagnostic ignored "-Wunused-function" /* the fixture's layout probes */
#include "server_test_util.h"

#include "blocking.h"

static void setup(void) { stu_setup("blocking", 4 << 20); }
static void teardown(void) { stu_teardown(); }

TestSuite(blocking, .init = setup, .fini = teardown);

/* The pending reply of c (and clears it). */
static const char *pending(client *c)
{
    static char buf[4096];
    size_t n = client_reply_copy(c, buf, sizeof buf - 1);
    buf[n] = 0;
    client_reply_reset(c);
    return buf;
}

Test(blocking, fifo_service_and_structures_emptied)
{
    client *a = client_create(-1), *b = client_create(-1), *c = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BLPOP q 0"), "");
    cr_assert_str_eq(stu_run(b, "BRPOP q other 0"), "");
    cr_assert_str_eq(stu_run(c, "BLPOP q 0"), "");
    cr_assert(a->flags & CLIENT_BLOCKED);
    cr_assert_eq(blocking_clients(), 3);
    cr_assert_eq(blocking_keys(), 2);
    cr_assert_eq(blocking_clients_with_timeout(), 0);
    cr_assert_str_eq(stu_run(w, "RPUSH q x y"), ":2\r\n");
    cr_assert_str_eq(pending(a), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    cr_assert_str_eq(pending(b), "*2\r\n$1\r\nq\r\n$1\r\ny\r\n");
    cr_assert_str_eq(pending(c), "", "nothing left for the third client");
    cr_assert(!(a->flags & CLIENT_BLOCKED) && !(b->flags & CLIENT_BLOCKED) && (c->flags & CLIENT_BLOCKED));
    cr_assert_null(a->bstate);
    cr_assert_eq(blocking_clients(), 1);
    cr_assert_eq(blocking_keys(), 1, "b's other key left with b");
    cr_assert_str_eq(stu_run(w, "LPUSH q z"), ":1\r\n");
    cr_assert_str_eq(pending(c), "*2\r\n$1\r\nq\r\n$1\r\nz\r\n");
    cr_assert_eq(blocking_clients(), 0);
    cr_assert_eq(blocking_keys(), 0);
    cr_assert_str_eq(stu_run(w, "EXISTS q"), ":0\r\n");
    client_free(a);
    client_free(b);
    client_free(c);
    client_free(w);
}

Test(blocking, repeated_keys_count_once_and_first_key_with_data_serves)
{
    client *a = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BZPOPMIN k1 k2 k1 k2 k3 0"), "");
    cr_assert_eq(blocking_keys(), 3);
    /* one transaction gives k3 then k2 data: the re-run serves from k2, first in argument order */
    stu_run(w, "MULTI");
    stu_run(w, "ZADD k3 3 c");
    stu_run(w, "ZADD k2 2 b");
    stu_run(w, "EXEC");
    cr_assert_str_eq(pending(a), "*3\r\n$2\r\nk2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    cr_assert_eq(blocking_keys(), 0);
    cr_assert_str_eq(stu_run(w, "ZCARD k3"), ":1\r\n");
    client_free(a);
    client_free(w);
}

Test(blocking, another_type_keeps_the_client_in_place)
{
    client *a = client_create(-1), *b = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BLPOP k 0"), "");
    cr_assert_str_eq(stu_run(b, "BLPOP k 0"), "");
    stu_run(w, "SET k v");
    stu_run(w, "DEL k");
    stu_run(w, "ZADD k 1 m");
    cr_assert_str_eq(pending(a), "");
    cr_assert_eq(blocking_clients(), 2);
    stu_run(w, "DEL k");
    stu_run(w, "RPUSH k e");
    cr_assert_str_eq(pending(a), "*2\r\n$1\r\nk\r\n$1\r\ne\r\n", "the first blocked is still first");
    cr_assert_str_eq(pending(b), "");
    client_free(a);
    client_free(b);
    client_free(w);
}

Test(blocking, chained_blmove_wakeups_in_one_pass)
{
    client *a = client_create(-1), *b = client_create(-1), *c = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BLMOVE s1 s2 RIGHT LEFT 0"), "");
    cr_assert_str_eq(stu_run(b, "BRPOPLPUSH s2 s3 0"), "");
    cr_assert_str_eq(stu_run(c, "BLPOP s3 0"), "");
    cr_assert_str_eq(stu_run(w, "LPUSH s1 job"), ":1\r\n");
    cr_assert_str_eq(pending(a), "$3\r\njob\r\n");
    cr_assert_str_eq(pending(b), "$3\r\njob\r\n");
    cr_assert_str_eq(pending(c), "*2\r\n$2\r\ns3\r\n$3\r\njob\r\n");
    cr_assert_str_eq(stu_run(w, "DBSIZE"), ":0\r\n");
    cr_assert_eq(blocking_clients(), 0);
    client_free(a);
    client_free(b);
    client_free(c);
    client_free(w);
}

Test(blocking, freed_and_killed_clients_leave_nothing)
{
    client *a = client_create(-1), *b = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BZPOPMAX k 5"), "");
    cr_assert_str_eq(stu_run(b, "BZPOPMAX k x 0"), "");
    cr_assert_eq(blocking_clients_with_timeout(), 1);
    client_free(a);
    cr_assert_eq(blocking_clients(), 1);
    cr_assert_eq(blocking_clients_with_timeout(), 0);
    client_close_async(b); /* CLIENT KILL: leaves every FIFO at once */
    cr_assert_eq(blocking_clients(), 0);
    cr_assert_eq(blocking_keys(), 0);
    stu_run(w, "ZADD k 1 m");
    cr_assert_str_eq(stu_run(w, "ZCARD k"), ":1\r\n", "nobody took the member");
    client_flush_all(1, ""); /* frees b */
    client_free(w);
}

Test(blocking, client_unblock_timeout_and_error)
{
    client *a = client_create(-1), *b = client_create(-1);
    cr_assert_eq(blocking_unblock(a, 0), 0, "not blocked");
    cr_assert_str_eq(stu_run(a, "BLMOVE src dst LEFT RIGHT 0"), "");
    cr_assert_eq(blocking_unblock(a, 0), 1);
    cr_assert_str_eq(pending(a), "*-1\r\n", "a timeout's nil array, even for BLMOVE");
    a->resp = 3;
    cr_assert_str_eq(stu_run(a, "BZMPOP 0 1 z MIN"), "");
    cr_assert_eq(blocking_unblock(a, 1), 1);
    cr_assert_str_eq(pending(a), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    cr_assert_str_eq(stu_run(a, "BLPOP l 0"), "");
    cr_assert_eq(blocking_unblock(a, 0), 1);
    cr_assert_str_eq(pending(a), "_\r\n");
    cr_assert_eq(blocking_clients(), 0);
    cr_assert_eq(blocking_keys(), 0);
    client_free(a);
    client_free(b);
}

Test(blocking, timeouts_expire_in_deadline_order)
{
    enum { N = 300 };
    client *cs[N];
    long long deadline[N];
    unsigned seed = 12345;
    long long t0 = blocking_now_ms();
    for (int i = 0; i < N; i++) {
        cs[i] = client_create(-1);
        seed = seed * 1103515245u + 12345u;
        int ms = 1000 + (int)((seed >> 8) % 100000); /* 1 s .. 101 s: nothing expires by itself */
        char cmd[64];
        snprintf(cmd, sizeof cmd, "BZPOPMIN k%d %d.%03d", i % 17, ms / 1000, ms % 1000);
        cr_assert_str_eq(stu_run(cs[i], cmd), "");
        deadline[i] = ms;
    }
    cr_assert_eq(blocking_clients_with_timeout(), N);
    /* a third leave early (freed, unblocked): the heap must stay consistent */
    int gone[N] = {0};
    for (int i = 0; i < N; i += 3) {
        if (i % 2) client_free(cs[i]);
        else {
            cr_assert_eq(blocking_unblock(cs[i], 0), 1);
            client_reply_reset(cs[i]);
        }
        gone[i] = 1;
    }
    long long t1 = blocking_now_ms();
    for (long long at = 0; at < 110000; at += 7000) { /* the last step passes every deadline */
        /* deadline = block time + ms, block time in [t0, t1]: expire at t0 + at expires every
         * client with ms <= at - (t1 - t0) and none with ms > at */
        size_t n = blocking_expire(t0 + at);
        (void)n;
        for (int i = 0; i < N; i++) {
            if (gone[i]) continue;
            int blocked = (cs[i]->flags & CLIENT_BLOCKED) != 0;
            if (deadline[i] > at) cr_assert(blocked, "client %d (%lld ms) expired at %lld", i, deadline[i], at);
            if (deadline[i] <= at - (t1 - t0)) {
                cr_assert(!blocked, "client %d (%lld ms) still blocked at %lld", i, deadline[i], at);
                cr_assert_str_eq(pending(cs[i]), "*-1\r\n");
                gone[i] = 1;
            }
        }
    }
    cr_assert_eq(blocking_clients(), 0);
    cr_assert_eq(blocking_clients_with_timeout(), 0);
    cr_assert_eq(blocking_keys(), 0);
    for (int i = 0; i < N; i++)
        if (i % 3 || i % 2 == 0) client_free(cs[i]);
}

Test(blocking, inside_exec_blocking_commands_do_not_block)
{
    client *a = client_create(-1);
    stu_run(a, "MULTI");
    stu_run(a, "BLPOP l 0");
    stu_run(a, "BZPOPMIN z 0");
    stu_run(a, "BRPOPLPUSH l d 0");
    cr_assert_str_eq(stu_run(a, "EXEC"), "*3\r\n*-1\r\n*-1\r\n$-1\r\n");
    cr_assert_eq(blocking_clients(), 0);
    client_free(a);
}

Test(blocking, swapdb_readies_the_keys_of_both_dbs)
{
    client *a = client_create(-1), *w = client_create(-1);
    cr_assert_str_eq(stu_run(a, "BLPOP k 0"), "");
    stu_run(w, "SELECT 3");
    stu_run(w, "RPUSH k v");
    cr_assert_str_eq(pending(a), "", "another db's key");
    stu_run(w, "SWAPDB 0 3");
    cr_assert_str_eq(pending(a), "*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    client_free(a);
    client_free(w);
}

Test(blocking, timeout_parsing)
{
    client *c = client_create(-1);
    static const struct {
        const char *arg;
        long long ms; /* -1: "negative", -2: "not a float" */
    } cases[] = {
        {"0", 0},         {"1", 1000},     {"0.1", 100},      {"0.0001", 1},      {"1e-9", 1},
        {"-0", 0},        {"-0.0001", 0},  {"2.5", 2500},     {"0x10", 16000},    {"1e3", 1000000},
        {"-1", -1},       {"-0.5", -1},    {"inf", -1},       {"-inf", -1},       {"1e30", -1},
        {"9223372036854775.807", 9223372036854775807LL},      {"9223372036854776", -1},
        {"abc", -2},      {"", -2},        {" 1", -2},        {"1 ", -2},         {"nan", -2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmdarg a = {(char *)cases[i].arg, strlen(cases[i].arg)};
        long long ms = -7;
        int r = blocking_parse_timeout(c, &a, &ms);
        const char *rep = pending(c);
        if (cases[i].ms >= 0) {
            cr_assert_eq(r, 0, "%s", cases[i].arg);
            cr_assert_eq(ms, cases[i].ms, "%s -> %lld", cases[i].arg, ms);
        } else {
            cr_assert_eq(r, -1, "%s", cases[i].arg);
            cr_assert_str_eq(rep, cases[i].ms == -1 ? "-ERR timeout is negative\r\n"
                                                     : "-ERR timeout is not a float or out of range\r\n",
                             "%s", cases[i].arg);
        }
    }
    client_free(c);
}
