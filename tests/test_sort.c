/* test_sort.c - SORT at sizes the differential tests do not reach (src/cmd_sort.c): a 20 000
 * element numeric sort against a qsort reference, Redis's partial quicksort (BY + LIMIT) giving
 * exactly the slice of the full sort at every window, BY nosort + LIMIT reading only the range
 * of a big sorted set, STORE retiring the destination's old version (any type, empty results
 * too) and STORE onto the sorted key itself. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "lsm.h"
#include "server.h"
#include "server_test_util.h"
#include "types/coll.h"
#include "types/list.h"
#include "types/zset.h"

static void setup(void) { stu_setup("sort", 8 << 20); }
static void teardown(void) { stu_teardown(); }
static const char *run(client *c, const char *line) { return stu_run(c, line); }

TestSuite(sort, .init = setup, .fini = teardown, .timeout = 300);

/* Appends n strings to the list key (created when absent), in one write group. */
static void rpush(const char *key, char **vals, int n) {
    coll l;
    keyspace_begin();
    cr_assert_geq(list_open(&l, 0, key, strlen(key), 0), 0);
    cr_assert_eq(list_create(&l), 0);
    for (int i = 0; i < n; i++) cr_assert_eq(list_push(&l, LIST_TAIL, vals[i], strlen(vals[i])), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
}

/* The elements of list key (NUL-terminated copies; *n gets the count, -1 when absent). */
static char **read_list(const char *key, long long *n) {
    coll l;
    int r = list_open(&l, 0, key, strlen(key), 0);
    cr_assert_geq(r, 0);
    *n = r == 1 ? l.count : -1;
    char **out = calloc((size_t)(r == 1 ? l.count : 0) + 1, sizeof *out);
    long long i = 0;
    if (r == 1) {
        list_iter li;
        cr_assert_eq(list_iter_seek(&li, &l, 0, 0), 0);
        for (; list_iter_valid(&li); list_iter_next(&li), i++) {
            size_t vl;
            const char *v = list_iter_value(&li, &vl);
            out[i] = strndup(v, vl);
        }
        cr_assert_eq(list_iter_status(&li), 0);
        list_iter_close(&li);
        cr_assert_eq(i, l.count, "the walk sees every element");
    }
    coll_close(&l);
    return out;
}

static void free_strs(char **v, long long n) {
    for (long long i = 0; i < n; i++) free(v[i]);
    free(v);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* numeric order with the elements' bytes breaking ties, as SORT does */
static int num_cmp(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    double dx = strtod(x, NULL), dy = strtod(y, NULL);
    if (dx != dy) return dx < dy ? -1 : 1;
    return strcmp(x, y);
}

#define BIG 20000

Test(sort, big_list_numeric_against_qsort) {
    client *c = client_create(-1);
    char **vals = malloc(BIG * sizeof *vals);
    for (int i = 0; i < BIG; i++) {
        char b[32];
        /* integers with duplicates, decimals, spellings that tie numerically */
        uint64_t r = next_rand();
        if (r % 7 == 0) snprintf(b, sizeof b, "%d.5", (int)(r % 1000) - 500);
        else if (r % 11 == 0) snprintf(b, sizeof b, "0%d", (int)(r % 100));
        else snprintf(b, sizeof b, "%d", (int)(r % 5000) - 2500);
        vals[i] = strdup(b);
    }
    rpush("l", vals, BIG);
    cr_assert_str_eq(run(c, "SORT l STORE d"), ":20000\r\n");
    qsort(vals, BIG, sizeof *vals, num_cmp);
    long long n;
    char **got = read_list("d", &n);
    cr_assert_eq(n, BIG);
    for (int i = 0; i < BIG; i++) cr_assert_str_eq(got[i], vals[i], "rank %d", i);
    free_strs(got, n);
    cr_assert_str_eq(run(c, "SORT l DESC LIMIT 100 50 STORE d"), ":50\r\n");
    got = read_list("d", &n);
    cr_assert_eq(n, 50);
    for (int i = 0; i < 50; i++) cr_assert_str_eq(got[i], vals[BIG - 1 - 100 - i], "rank %d", i);
    free_strs(got, n);
    free_strs(vals, BIG);
    client_free(c);
}

Test(sort, partial_quicksort_windows_match_the_full_sort) {
    client *c = client_create(-1);
    /* 5000 elements e<i>, weights w_e<i> with many equal values (ties broken by the element) */
    enum { N = 5000 };
    char **vals = malloc(N * sizeof *vals);
    for (int i = 0; i < N; i++) {
        char b[32];
        snprintf(b, sizeof b, "e%d", (int)(next_rand() % 100000));
        vals[i] = strdup(b);
    }
    rpush("l", vals, N);
    char line[2048];
    for (int i = 0; i < N; i += 25) {
        size_t o = (size_t)snprintf(line, sizeof line, "MSET");
        for (int j = i; j < i + 25 && j < N; j++)
            o += (size_t)snprintf(line + o, sizeof line - o, " w_%s %d", vals[j], (int)(next_rand() % 50));
        cr_assert_str_eq(run(c, line), "+OK\r\n");
    }
    cr_assert_str_eq(run(c, "SORT l BY w_* STORE full"), ":5000\r\n");
    cr_assert_str_eq(run(c, "SORT l BY w_* DESC STORE fulldesc"), ":5000\r\n");
    long long nf, nd;
    char **full = read_list("full", &nf), **fdesc = read_list("fulldesc", &nd);
    cr_assert_eq(nf, N);
    cr_assert_eq(nd, N);
    static const int windows[][2] = {{0, 10}, {1, 1}, {7, 40}, {41, 200}, {2500, 1},
                                     {4990, 10}, {4999, 5}, {1234, 2345}, {0, 4999}, {3, 0}};
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        for (int desc = 0; desc < 2; desc++) {
            int off = windows[w][0], cnt = windows[w][1];
            snprintf(line, sizeof line, "SORT l BY w_* %sLIMIT %d %d STORE part", desc ? "DESC " : "", off, cnt);
            run(c, line);
            long long np;
            char **part = read_list("part", &np);
            long long want = cnt == 0 ? -1 : (off + cnt > N ? N - off : cnt); /* empty: no key */
            cr_assert_eq(np, want, "window %d %d", off, cnt);
            for (long long i = 0; i < np; i++)
                cr_assert_str_eq(part[i], (desc ? fdesc : full)[off + i], "window %d %d desc %d rank %lld", off, cnt, desc, i);
            free_strs(part, np < 0 ? 0 : np);
        }
    }
    free_strs(full, nf);
    free_strs(fdesc, nd);
    free_strs(vals, N);
    client_free(c);
}

Test(sort, nosort_limit_reads_only_the_range_of_a_big_zset) {
    client *c = client_create(-1);
    coll z;
    keyspace_begin();
    cr_assert_eq(coll_open(&z, 0, "z", 1, KTYPE_ZSET, 0), 0);
    cr_assert_eq(coll_create(&z, COLL_ENC_BIG), 0);
    for (int i = 0; i < BIG; i++) {
        char m[16];
        int ml = snprintf(m, sizeof m, "m%05d", i);
        cr_assert_eq(zset_insert_new(&z, m, (size_t)ml, (double)i), 0);
    }
    cr_assert_eq(coll_save(&z), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&z);
    uint64_t s0 = zset_stat_index_steps();
    cr_assert_str_eq(run(c, "SORT z BY nosort LIMIT 100 3"), "*3\r\n$6\r\nm00100\r\n$6\r\nm00101\r\n$6\r\nm00102\r\n");
    uint64_t s1 = zset_stat_index_steps();
    cr_assert_leq(s1 - s0, 110, "a walk to rank 100: %llu steps", (unsigned long long)(s1 - s0));
    cr_assert_str_eq(run(c, "SORT z BY nosort DESC LIMIT 1 2"), "*2\r\n$6\r\nm19998\r\n$6\r\nm19997\r\n");
    uint64_t s2 = zset_stat_index_steps();
    cr_assert_leq(s2 - s1, 10, "DESC walks from the highest score: %llu steps", (unsigned long long)(s2 - s1));
    /* a full sort reads everything (ALPHA over 20 000 members, first three) */
    cr_assert_str_eq(run(c, "SORT z ALPHA DESC LIMIT 0 1"), "*1\r\n$6\r\nm19999\r\n");
    cr_assert_geq(zset_stat_index_steps() - s2, BIG);
    client_free(c);
}

static uint64_t version_of(const char *key, uint8_t type) {
    coll x;
    cr_assert_eq(coll_open(&x, 0, key, strlen(key), type, 0), 1);
    uint64_t v = x.version;
    coll_close(&x);
    return v;
}

Test(sort, store_retires_the_destination_version) {
    client *c = client_create(-1);
    cr_assert_str_eq(run(c, "RPUSH l 3 1 2"), ":3\r\n");
    /* a big set as the destination: its version dies with the STORE, members go with compaction */
    cr_assert_str_eq(run(c, "SADD d a b c d e f g h"), ":8\r\n");
    uint64_t vs = version_of("d", KTYPE_SET);
    cr_assert(stu_version_live(vs));
    cr_assert_str_eq(run(c, "SORT l STORE d"), ":3\r\n");
    cr_assert_not(stu_version_live(vs), "the set's version is retired");
    uint64_t vl = version_of("d", KTYPE_LIST);
    cr_assert(stu_version_live(vl));
    cr_assert_eq(stu_records(vl, COLL_SUB_MEMBER), 3, "one record per stored element");
    /* STORE again: a new list version, the old one retired */
    cr_assert_str_eq(run(c, "SORT l DESC STORE d"), ":3\r\n");
    cr_assert_not(stu_version_live(vl));
    uint64_t vl2 = version_of("d", KTYPE_LIST);
    cr_assert_str_eq(run(c, "LRANGE d 0 -1"), "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n");
    /* an empty result removes the destination */
    cr_assert_str_eq(run(c, "SORT nosuch STORE d"), ":0\r\n");
    cr_assert_not(stu_version_live(vl2));
    cr_assert_str_eq(run(c, "EXISTS d"), ":0\r\n");
    cr_assert_eq(keyspace_dbsize(0), 1);
    client_free(c);
}

Test(sort, store_onto_the_sorted_key) {
    client *c = client_create(-1);
    enum { N = 3000 };
    char **vals = malloc(N * sizeof *vals);
    for (int i = 0; i < N; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        vals[i] = strdup(b);
    }
    rpush("l", vals, N);
    uint64_t v0 = version_of("l", KTYPE_LIST);
    cr_assert_str_eq(run(c, "SORT l DESC STORE l"), ":3000\r\n");
    cr_assert_not(stu_version_live(v0));
    long long n;
    char **got = read_list("l", &n);
    cr_assert_eq(n, N);
    for (int i = 0; i < N; i++) cr_assert_str_eq(got[i], vals[N - 1 - i]);
    free_strs(got, n);
    /* GET values: missing ones stored as "" */
    cr_assert_str_eq(run(c, "SET o_2999 x"), "+OK\r\n");
    cr_assert_str_eq(run(c, "SORT l LIMIT 2998 5 GET o_* GET # STORE l"), ":4\r\n");
    cr_assert_str_eq(run(c, "LRANGE l 0 -1"), "*4\r\n$0\r\n\r\n$4\r\n2998\r\n$1\r\nx\r\n$4\r\n2999\r\n");
    free_strs(vals, N);
    client_free(c);
}
