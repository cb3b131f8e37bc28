/* test_list.c - list storage (src/types/list.c): pushes and pops at both ends, LINDEX/LSET with
 * negative indexes and out of range, ordered walks in both directions from every start,
 * inserts and removals at every position of small lists (and which side moved), LREM counts,
 * LTRIM, the empty list removed with its version, the encoding Redis 7.0 reports, and a long
 * random walk of every operation against an in-memory model, each step checked whole (elements,
 * dense positions, the exact count, one record per element), an aborted write group, and a
 * 100k-element list whose commands (through the handlers) cost a bounded engine work at the
 * ends and near them, and half the list (the shorter side) in the middle. */
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
#include "util.h"

static void setup(void) { stu_setup("list", 4 << 20); }
static void teardown(void) { stu_teardown(); }

TestSuite(list, .init = setup, .fini = teardown, .timeout = 300);

/* ---- an in-memory model: elements as (len, bytes) ---- */
typedef struct elem {
    size_t len;
    char b[24];
} elem;
typedef struct model {
    elem *e;
    int64_t n, cap;
} model;

static void m_insert(model *m, int64_t idx, const char *v, size_t vl) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->e = realloc(m->e, sizeof(elem) * (size_t)m->cap);
        cr_assert_not_null(m->e);
    }
    memmove(m->e + idx + 1, m->e + idx, sizeof(elem) * (size_t)(m->n - idx));
    m->e[idx].len = vl;
    memcpy(m->e[idx].b, v, vl);
    m->n++;
}
static void m_remove(model *m, int64_t idx) {
    memmove(m->e + idx, m->e + idx + 1, sizeof(elem) * (size_t)(m->n - idx - 1));
    m->n--;
}
static int m_eq(const elem *e, const char *v, size_t vl) {
    return e->len == vl && memcmp(e->b, v, vl) == 0;
}

/* ---- storage helpers: each call is one command's write group ---- */
static const char *KEY = "l";

static int lopen(coll *l, int flags) {
    int r = list_open(l, 0, KEY, strlen(KEY), flags);
    cr_assert(r == 0 || r == 1, "list_open: %d", r);
    return r;
}

static void push(int where, const char *v, size_t vl) {
    coll l;
    keyspace_begin();
    lopen(&l, 0);
    cr_assert_eq(list_create(&l), 0);
    cr_assert_eq(list_push(&l, where, v, vl), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
}
static void pushs(int where, const char *v) { push(where, v, strlen(v)); }

/* Pops into out (NUL-terminated); returns 1 or 0 when empty. */
static int pop(int where, char *out, size_t *ol) {
    coll l;
    lsm_buf b = {0};
    keyspace_begin();
    int r = lopen(&l, 0);
    if (r == 1) {
        r = list_pop(&l, where, &b);
        cr_assert(r == 0 || r == 1);
        if (r == 1) {
            memcpy(out, b.data, b.len);
            out[b.len] = 0;
            *ol = b.len;
        }
        cr_assert_eq(list_save(&l), 0);
    }
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    lsm_buf_free(&b);
    return r;
}

static int64_t llen(void) {
    coll l;
    int r = lopen(&l, 0);
    int64_t n = r ? list_len(&l) : -1;
    coll_close(&l);
    return n;
}

static uint64_t lversion(void) {
    coll l;
    cr_assert_eq(lopen(&l, 0), 1);
    uint64_t v = l.version;
    coll_close(&l);
    return v;
}

/* The list equals the model: LLEN, every LINDEX (both signs), out-of-range indexes, walks in
 * both directions from every start, one record per element, and the key gone when empty. */
static void check(const model *m) {
    coll l;
    int r = lopen(&l, 0);
    if (m->n == 0) {
        cr_assert_eq(r, 0, "an empty list is removed");
        coll_close(&l);
        return;
    }
    cr_assert_eq(r, 1);
    cr_assert_eq(list_len(&l), m->n);
    cr_assert_eq(l.enc, COLL_ENC_BIG);
    cr_assert_eq(stu_records(l.version, -1), m->n, "one record per element");
    lsm_buf b = {0};
    for (int64_t i = 0; i < m->n; i++) {
        cr_assert_eq(list_index(&l, i, &b), 1);
        cr_assert(m_eq(&m->e[i], b.data, b.len), "index %lld", (long long)i);
        cr_assert_eq(list_index(&l, i - m->n, &b), 1);
        cr_assert(m_eq(&m->e[i], b.data, b.len), "index %lld", (long long)(i - m->n));
    }
    cr_assert_eq(list_index(&l, m->n, &b), 0);
    cr_assert_eq(list_index(&l, -m->n - 1, &b), 0);
    cr_assert_eq(list_index(&l, INT64_MIN, &b), 0);
    cr_assert_eq(list_index(&l, INT64_MAX, &b), 0);
    lsm_buf_free(&b);
    for (int walk = 0; walk < 4; walk++) {
        int rev = walk & 1, readonly = walk >> 1;
        int64_t step = m->n > 8 ? m->n / 5 : 1;
        for (int64_t s = 0; s < m->n; s += step) {
            list_iter li;
            int64_t seen = 0;
            r = readonly ? list_iter_seek_readonly(&li, &l, s, rev) : list_iter_seek(&li, &l, s, rev);
            for (; r == 0 && list_iter_valid(&li); list_iter_next(&li), seen++) {
                int64_t want = rev ? m->n - 1 - s - seen : s + seen;
                cr_assert_eq(li.index, want);
                size_t vl;
                const char *v = list_iter_value(&li, &vl);
                cr_assert(m_eq(&m->e[want], v, vl), "walk %d from %lld at %lld", rev,
                          (long long)s, (long long)want);
            }
            cr_assert_eq(list_iter_status(&li), 0);
            list_iter_close(&li);
            cr_assert_eq(seen, m->n - s);
        }
        list_iter li;
        cr_assert_eq(readonly ? list_iter_seek_readonly(&li, &l, m->n, rev)
                              : list_iter_seek(&li, &l, m->n, rev), 0);
        cr_assert(!list_iter_valid(&li));
        list_iter_close(&li);
    }
    coll_close(&l);
}

static void model_from(model *m, const char *const *v, int n) {
    m->n = 0;
    for (int i = 0; i < n; i++) m_insert(m, m->n, v[i], strlen(v[i]));
}

Test(list, push_pop_both_ends) {
    model m = {0};
    char out[64];
    size_t ol;
    cr_assert_eq(llen(), -1);
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 0, "pop of a missing list");
    pushs(LIST_TAIL, "b");
    pushs(LIST_TAIL, "c");
    pushs(LIST_HEAD, "a");
    pushs(LIST_HEAD, "z");
    const char *want[] = {"z", "a", "b", "c"};
    model_from(&m, want, 4);
    check(&m);
    cr_assert_eq(pop(LIST_TAIL, out, &ol), 1);
    cr_assert_str_eq(out, "c");
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 1);
    cr_assert_str_eq(out, "z");
    m_remove(&m, 3);
    m_remove(&m, 0);
    check(&m);
    uint64_t ver = lversion();
    cr_assert(stu_version_live(ver));
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 1);
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 1);
    cr_assert_str_eq(out, "b");
    m.n = 0;
    check(&m);
    cr_assert(!stu_version_live(ver), "the emptied list's version is retired");
    cr_assert_eq(keyspace_dbsize(0), 0);
    /* a new list is a new version */
    pushs(LIST_HEAD, "x");
    cr_assert_neq(lversion(), ver);
    cr_assert_eq(keyspace_dbsize(0), 1);
    free(m.e);
}

Test(list, empty_and_binary_elements) {
    model m = {0};
    push(LIST_TAIL, "", 0);
    push(LIST_TAIL, "a\0b", 3);
    push(LIST_HEAD, "\xff\x00", 2);
    m_insert(&m, 0, "", 0);
    m_insert(&m, 1, "a\0b", 3);
    m_insert(&m, 0, "\xff\x00", 2);
    check(&m);
    char out[8];
    size_t ol;
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 1);
    cr_assert_eq(ol, 2);
    cr_assert_eq(memcmp(out, "\xff\x00", 2), 0);
    cr_assert_eq(pop(LIST_HEAD, out, &ol), 1);
    cr_assert_eq(ol, 0, "an empty element is an element");
    free(m.e);
}

Test(list, set_negative_and_out_of_range) {
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        pushs(LIST_TAIL, v);
    }
    coll l;
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_set(&l, 0, "A", 1), 1);
    cr_assert_eq(list_set(&l, -1, "E", 1), 1);
    cr_assert_eq(list_set(&l, -5, "AA", 2), 1);
    cr_assert_eq(list_set(&l, 2, "C", 1), 1);
    cr_assert_eq(list_set(&l, 5, "x", 1), 0);
    cr_assert_eq(list_set(&l, -6, "x", 1), 0);
    cr_assert_eq(list_set(&l, INT64_MIN, "x", 1), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    model m = {0};
    const char *want[] = {"AA", "1", "C", "3", "E"};
    model_from(&m, want, 5);
    check(&m);
    free(m.e);
}

/* A read-only walk (list_iter_seek_readonly) over a list whose elements are partly in the
 * memtable and partly in tables, with elements of the table part rewritten since (their newest
 * version is in the memtable again): every walk gives the model's elements; a walk that starts
 * in the memtable part reads by position (point) and one that starts in the table part does
 * not; a delete record where the count says an element is makes the walk fail as corrupt. */
Test(list, readonly_walk_over_memtable_and_tables) {
    model m = {0};
    char v[32];
    for (int i = 0; i < 300; i++) {
        snprintf(v, sizeof v, "old-%d", i);
        pushs(LIST_TAIL, v);
        m_insert(&m, m.n, v, strlen(v));
    }
    cr_assert_eq(lsm_flush(server.engine, 1), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof v, "new-%d", i);
        pushs(LIST_HEAD, v);
        m_insert(&m, 0, v, strlen(v));
    }
    coll l;
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    for (int64_t i = 150; i < 400; i += 50) { /* table part */
        snprintf(v, sizeof v, "set-%lld", (long long)i);
        cr_assert_eq(list_set(&l, i, v, strlen(v)), 1);
        m.e[i].len = strlen(v);
        memcpy(m.e[i].b, v, m.e[i].len);
    }
    cr_assert_eq(list_set(&l, 7, "seven", 5), 1); /* memtable part */
    memcpy(m.e[7].b, "seven", m.e[7].len = 5);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    check(&m);

    cr_assert_eq(lopen(&l, 0), 1);
    list_iter li;
    cr_assert_eq(list_iter_seek_readonly(&li, &l, 0, 0), 0);
    cr_assert(li.point, "the head was pushed last: read from the memtable by position");
    list_iter_close(&li);
    cr_assert_eq(list_iter_seek_readonly(&li, &l, 120, 0), 0);
    cr_assert(!li.point, "a table element: the engine iterator");
    list_iter_close(&li);
    cr_assert_eq(list_iter_seek_readonly(&li, &l, 399 - 200, 1), 0);
    cr_assert(li.point, "index 200 was rewritten since the flush");
    list_iter_close(&li);

    /* a hole at index 50 (its record deleted behind the count's back) */
    keyspace_begin();
    char p[8];
    put_be64(p, get_be64(l.extra) + 50);
    cr_assert_eq(coll_del(&l, COLL_SUB_MEMBER, p, 8), 0);
    cr_assert_eq(keyspace_commit(), 0);
    int64_t seen = 0;
    int r = list_iter_seek_readonly(&li, &l, 0, 0);
    for (; r == 0 && list_iter_valid(&li); list_iter_next(&li)) seen++;
    cr_assert_eq(seen, 50);
    cr_assert_eq(list_iter_status(&li), LSM_ECORRUPT);
    list_iter_close(&li);
    coll_close(&l);
    free(m.e);
}

/* Inserts and removals at every position of lists of 1..9 elements: the result, and the side
 * that moved (the head position changes exactly when the head side was the shorter one). */
Test(list, insert_remove_every_position) {
    for (int n = 1; n <= 9; n++) {
        for (int at = 0; at <= n; at++) {
            for (int op = 0; op < 2; op++) {
                if (op == 1 && at == n) continue;
                model m = {0};
                coll l;
                keyspace_begin();
                lopen(&l, 0);
                cr_assert_eq(list_create(&l), 0);
                for (int i = 0; i < n; i++) {
                    char v[16];
                    int vl = snprintf(v, sizeof v, "e%d", i);
                    cr_assert_eq(list_push(&l, LIST_TAIL, v, (size_t)vl), 0);
                    m_insert(&m, i, v, (size_t)vl);
                }
                cr_assert_eq(list_save(&l), 0);
                cr_assert_eq(keyspace_commit(), 0);
                uint64_t head0;
                memcpy(&head0, l.extra, 8);
                coll_close(&l);

                keyspace_begin();
                cr_assert_eq(lopen(&l, 0), 1);
                if (op == 0) {
                    cr_assert_eq(list_insert_at(&l, at, "new", 3), 0);
                    m_insert(&m, at, "new", 3);
                } else {
                    cr_assert_eq(list_remove_at(&l, at), 0);
                    m_remove(&m, at);
                }
                uint64_t head1;
                memcpy(&head1, l.extra, 8);
                cr_assert_eq(list_save(&l), 0);
                cr_assert_eq(keyspace_commit(), 0);
                coll_close(&l);
                check(&m);
                if (m.n > 0) {
                    /* insert: the head side moves when at <= n - at; remove: when the elements
                     * before it are fewer than those after it */
                    int head_moved = op == 0 ? at <= n - at : at < n - at - 1;
                    cr_assert_eq(head0 != head1, head_moved, "n %d at %d op %d", n, at, op);
                }
                /* start over */
                keyspace_begin();
                if (lopen(&l, 0) == 1) {
                    cr_assert_eq(list_trim(&l, 1, 0), 0);
                    cr_assert_eq(list_save(&l), 0);
                }
                cr_assert_eq(keyspace_commit(), 0);
                coll_close(&l);
                m.n = 0;
                check(&m);
                free(m.e);
            }
        }
    }
}

static int64_t lrem(const char *v, int64_t count) {
    coll l;
    int64_t removed = -1;
    keyspace_begin();
    if (lopen(&l, 0) == 1) {
        cr_assert_eq(list_rem(&l, v, strlen(v), count, &removed), 0);
        cr_assert_eq(list_save(&l), 0);
    } else {
        removed = 0;
    }
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    return removed;
}

static void m_rem(model *m, const char *v, int64_t count) {
    size_t vl = strlen(v);
    int64_t done = 0;
    if (count >= 0) {
        for (int64_t i = 0; i < m->n && (count == 0 || done < count);) {
            if (m_eq(&m->e[i], v, vl)) {
                m_remove(m, i);
                done++;
            } else {
                i++;
            }
        }
    } else {
        for (int64_t i = m->n - 1; i >= 0 && done < -count; i--)
            if (m_eq(&m->e[i], v, vl)) {
                m_remove(m, i);
                done++;
            }
    }
}

Test(list, lrem_counts) {
    const char *init[] = {"a", "b", "a", "c", "a", "b", "a", "d", "a"};
    int64_t counts[] = {0, 1, 2, 3, -1, -2, -3, 5, -5, 6, -6, 100};
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        model m = {0};
        for (int i = 0; i < 9; i++) pushs(LIST_TAIL, init[i]);
        model_from(&m, init, 9);
        int64_t want = counts[ci] == 0 || counts[ci] >= 5 || counts[ci] <= -5
                           ? 5
                           : (counts[ci] < 0 ? -counts[ci] : counts[ci]);
        cr_assert_eq(lrem("a", counts[ci]), want, "count %lld", (long long)counts[ci]);
        m_rem(&m, "a", counts[ci]);
        check(&m);
        cr_assert_eq(lrem("zz", 0), 0);
        check(&m);
        cr_assert_eq(lrem("b", 0), 2);
        m_rem(&m, "b", 0);
        check(&m);
        /* everything left goes */
        while (m.n) {
            char v[24];
            memcpy(v, m.e[0].b, m.e[0].len);
            v[m.e[0].len] = 0;
            int64_t k = lrem(v, 0);
            cr_assert_geq(k, 1);
            m_rem(&m, v, 0);
        }
        check(&m);
        cr_assert_eq(keyspace_dbsize(0), 0);
        free(m.e);
    }
}

Test(list, ltrim) {
    struct {
        int64_t start, stop;
    } cases[] = {{0, 9}, {0, 0}, {9, 9}, {2, 5}, {0, 100}, {5, 2}, {10, 20}, {3, 3}, {1, 8}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        model m = {0};
        for (int i = 0; i < 10; i++) {
            char v[16];
            int vl = snprintf(v, sizeof v, "%d", i);
            push(LIST_TAIL, v, (size_t)vl);
            m_insert(&m, i, v, (size_t)vl);
        }
        uint64_t ver = lversion();
        coll l;
        keyspace_begin();
        cr_assert_eq(lopen(&l, 0), 1);
        cr_assert_eq(list_trim(&l, cases[ci].start, cases[ci].stop), 0);
        cr_assert_eq(list_save(&l), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
        int64_t s = cases[ci].start, e = cases[ci].stop < m.n ? cases[ci].stop : m.n - 1;
        if (s > e || s >= m.n) {
            m.n = 0;
        } else {
            memmove(m.e, m.e + s, sizeof(elem) * (size_t)(e - s + 1));
            m.n = e - s + 1;
        }
        check(&m);
        if (m.n == 0) cr_assert(!stu_version_live(ver));
        /* clean up */
        keyspace_begin();
        if (lopen(&l, 0) == 1) {
            cr_assert_eq(list_trim(&l, 1, 0), 0);
            cr_assert_eq(list_save(&l), 0);
        }
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
        free(m.e);
    }
}

/* Redis 7.0 reports "quicklist" for every list, whatever list-max-listpack-size says. */
Test(list, encoding_is_quicklist) {
    long long saved = config.list_max_listpack_size;
    long long sizes[] = {-2, 1, 4, -5};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        config.list_max_listpack_size = sizes[si];
        pushs(LIST_TAIL, "a");
        coll l;
        cr_assert_eq(lopen(&l, 0), 1);
        cr_assert_str_eq(coll_encoding_name(&l.cur), "quicklist");
        coll_close(&l);
        for (int i = 0; i < 20; i++) pushs(LIST_TAIL, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        cr_assert_eq(lopen(&l, 0), 1);
        cr_assert_str_eq(coll_encoding_name(&l.cur), "quicklist");
        coll_close(&l);
        keyspace_begin();
        cr_assert_eq(lopen(&l, 0), 1);
        cr_assert_eq(list_trim(&l, 1, 0), 0);
        cr_assert_eq(list_save(&l), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
    }
    config.list_max_listpack_size = saved;
}

/* A pop that empties the list, then a push, in one write group (LMOVE rotating one key). */
Test(list, pop_to_empty_then_push_same_group) {
    pushs(LIST_TAIL, "only");
    coll l;
    lsm_buf b = {0};
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_pop(&l, LIST_TAIL, &b), 1);
    cr_assert_eq(list_len(&l), 0);
    cr_assert_eq(list_push(&l, LIST_HEAD, b.data, b.len), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    lsm_buf_free(&b);
    model m = {0};
    const char *want[] = {"only"};
    model_from(&m, want, 1);
    check(&m);
    free(m.e);
}

/* list_recreate replaces a key of another type by an empty list (SORT STORE). */
Test(list, recreate_over_other_type) {
    client *c = client_create(-1);
    cr_assert_not_null(c);
    cr_assert_str_eq(stu_run(c, "SET l str"), "+OK\r\n");
    coll l;
    keyspace_begin();
    cr_assert_eq(list_open(&l, 0, "l", 1, 0), COLL_WRONGTYPE);
    cr_assert_eq(list_recreate(&l), 0);
    cr_assert_eq(list_push(&l, LIST_TAIL, "x", 1), 0);
    cr_assert_eq(list_push(&l, LIST_TAIL, "y", 1), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    model m = {0};
    const char *want[] = {"x", "y"};
    model_from(&m, want, 2);
    check(&m);
    cr_assert_eq(keyspace_dbsize(0), 1);
    /* over an existing list: the old version is retired */
    uint64_t old = lversion();
    keyspace_begin();
    cr_assert_eq(list_open(&l, 0, "l", 1, 0), 1);
    cr_assert_eq(list_recreate(&l), 0);
    cr_assert_eq(list_push(&l, LIST_TAIL, "z", 1), 0);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    cr_assert(!stu_version_live(old));
    const char *want2[] = {"z"};
    model_from(&m, want2, 1);
    check(&m);
    free(m.e);
    client_free(c);
}

/* Every operation at random against the model, several ops per write group. */
Test(list, random_ops_against_model) {
    srand(12345);
    model m = {0};
    const char *vals[] = {"a", "b", "c", "", "long-element-xxxxxxxxx"};
    lsm_buf b = {0};
    for (int step = 0; step < 3000; step++) {
        coll l;
        keyspace_begin();
        int ex = lopen(&l, 0);
        cr_assert_eq(ex, m.n > 0);
        int nops = 1 + rand() % 3;
        int emptied_by_edit = 0;
        for (int k = 0; k < nops && !emptied_by_edit; k++) {
            int op = rand() % 10;
            const char *v = vals[rand() % 5];
            size_t vl = strlen(v);
            if (op <= 2 || m.n == 0) {
                int where = rand() % 2;
                cr_assert_eq(list_create(&l), 0);
                cr_assert_eq(list_push(&l, where, v, vl), 0);
                m_insert(&m, where == LIST_HEAD ? 0 : m.n, v, vl);
            } else if (op == 3) {
                int where = rand() % 2;
                cr_assert_eq(list_pop(&l, where, &b), 1);
                int64_t at = where == LIST_HEAD ? 0 : m.n - 1;
                cr_assert(m_eq(&m.e[at], b.data, b.len));
                m_remove(&m, at);
            } else if (op == 4) {
                int64_t at = rand() % (m.n + 1);
                cr_assert_eq(list_insert_at(&l, at, v, vl), 0);
                m_insert(&m, at, v, vl);
            } else if (op == 5) {
                int64_t at = rand() % m.n;
                cr_assert_eq(list_remove_at(&l, at), 0);
                m_remove(&m, at);
                emptied_by_edit = m.n == 0;
            } else if (op == 6) {
                int64_t cnt = rand() % 5 - 2, removed;
                cr_assert_eq(list_rem(&l, v, vl, cnt, &removed), 0);
                int64_t before = m.n;
                m_rem(&m, v, cnt);
                cr_assert_eq(removed, before - m.n);
                emptied_by_edit = m.n == 0;
            } else if (op == 7) {
                int64_t idx = rand() % (2 * m.n + 2) - m.n - 1;
                int r = list_set(&l, idx, v, vl);
                int64_t at = idx < 0 ? idx + m.n : idx;
                cr_assert_eq(r, at >= 0 && at < m.n);
                if (r) {
                    m.e[at].len = vl;
                    memcpy(m.e[at].b, v, vl);
                }
            } else if (op == 8 && rand() % 4 == 0) {
                int64_t s = rand() % (m.n + 1), e = rand() % (m.n + 2) - 1;
                cr_assert_eq(list_trim(&l, s, e), 0);
                if (e >= m.n) e = m.n - 1;
                if (s > e) {
                    m.n = 0;
                } else {
                    memmove(m.e, m.e + s, sizeof(elem) * (size_t)(e - s + 1));
                    m.n = e - s + 1;
                }
                emptied_by_edit = m.n == 0;
            } else {
                int64_t idx = rand() % (2 * m.n + 2) - m.n - 1;
                int r = list_index(&l, idx, &b);
                int64_t at = idx < 0 ? idx + m.n : idx;
                cr_assert_eq(r, at >= 0 && at < m.n);
                if (r) cr_assert(m_eq(&m.e[at], b.data, b.len));
            }
            cr_assert_eq(list_len(&l), m.n);
        }
        cr_assert_eq(list_save(&l), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
        if (step % 7 == 0 || m.n < 3) check(&m);
    }
    check(&m);
    lsm_buf_free(&b);
    free(m.e);
}

/* A write group that fails leaves the list as it was (the abort drops every write). */
Test(list, aborted_group_leaves_list) {
    for (int i = 0; i < 6; i++) pushs(LIST_TAIL, i % 2 ? "x" : "y");
    coll l;
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_insert_at(&l, 3, "mid", 3), 0);
    int64_t removed;
    cr_assert_eq(list_rem(&l, "x", 1, 0, &removed), 0);
    cr_assert_eq(removed, 3);
    cr_assert_eq(list_save(&l), 0);
    keyspace_abort();
    cr_assert_neq(keyspace_commit(), 0);
    coll_close(&l);
    model m = {0};
    const char *want[] = {"y", "x", "y", "x", "y", "x"};
    model_from(&m, want, 6);
    check(&m);
    free(m.e);
}

/* ---- the pop read-ahead (list.c): one walk per LC_AHEAD pops of a long list ---- */

static uint64_t engine_gets(void) {
    lsm_stats st;
    lsm_get_stats(server.engine, &st);
    return st.gets;
}

static void push_n(int where, const char *prefix, int n) {
    char v[32];
    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof v, "%s%d", prefix, i);
        pushs(where, v);
    }
}

static void expect_pop(int where, const char *want) {
    char out[64];
    size_t ol;
    cr_assert_eq(pop(where, out, &ol), 1);
    cr_assert_str_eq(out, want);
}

Test(list, pop_read_ahead_saves_the_lookups) {
    push_n(LIST_TAIL, "e", 5000);
    uint64_t g0 = engine_gets();
    char want[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(want, sizeof want, "e%d", 4999 - i);
        expect_pop(LIST_TAIL, want);
        snprintf(want, sizeof want, "e%d", i);
        expect_pop(LIST_HEAD, want);
    }
    uint64_t gets = engine_gets() - g0;
    /* each pop reads the metadata (one lookup); the elements come 64 at a time from a walk */
    cr_assert_leq(gets, 2000 + 2000 / 32, "2000 pops made %llu lookups", (unsigned long long)gets);
    cr_assert_eq(llen(), 3000);
    /* with the read-ahead off every pop reads its element too */
    list_cache_enable(0);
    g0 = engine_gets();
    for (int i = 0; i < 100; i++) {
        snprintf(want, sizeof want, "e%d", 3999 - i);
        expect_pop(LIST_TAIL, want);
    }
    cr_assert_geq(engine_gets() - g0, 200);
    list_cache_enable(1);
}

/* Elements rewritten where they are (LSET, LINSERT, LREM, LTRIM) are never served stale. */
Test(list, pop_read_ahead_sees_edits_in_place) {
    push_n(LIST_TAIL, "e", 100);
    expect_pop(LIST_HEAD, "e0");
    expect_pop(LIST_HEAD, "e1"); /* the second pop in a row: the run now holds e2..e65 */
    coll l;
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_set(&l, 0, "set", 3), 1);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    expect_pop(LIST_HEAD, "set");
    expect_pop(LIST_HEAD, "e3"); /* read ahead again: e4.. */
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_insert_at(&l, 1, "ins", 3), 0); /* e4 moves one position toward the head */
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    expect_pop(LIST_HEAD, "e4");
    expect_pop(LIST_HEAD, "ins");
    expect_pop(LIST_HEAD, "e5");
    int64_t removed;
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_rem(&l, "e6", 2, 1, &removed), 0); /* e7 moves into e6's place */
    cr_assert_eq(removed, 1);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    expect_pop(LIST_HEAD, "e7");
    expect_pop(LIST_HEAD, "e8");
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_trim(&l, 1, 1000), 0); /* drops e9 */
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    expect_pop(LIST_HEAD, "e10");
    /* the tail: a run there, then edits that shift or drop its positions, then pushes that
     * reuse them: the pops must see the pushed elements */
    expect_pop(LIST_TAIL, "e99");
    expect_pop(LIST_TAIL, "e98"); /* the run holds e97 and below */
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_rem(&l, "e95", 3, -1, &removed), 0); /* e96, e97 move one toward the head */
    cr_assert_eq(removed, 1);
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    pushs(LIST_TAIL, "x"); /* where e97 was */
    expect_pop(LIST_TAIL, "x");
    expect_pop(LIST_TAIL, "e97");
    expect_pop(LIST_TAIL, "e96"); /* the run holds e94 and below */
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_trim(&l, 0, list_len(&l) - 3), 0); /* drops e93, e94 */
    cr_assert_eq(list_save(&l), 0);
    cr_assert_eq(keyspace_commit(), 0);
    coll_close(&l);
    pushs(LIST_TAIL, "y");
    pushs(LIST_TAIL, "z"); /* where e94 was */
    expect_pop(LIST_TAIL, "z");
    expect_pop(LIST_TAIL, "y");
    expect_pop(LIST_TAIL, "e92");
}

/* A push taken back after the pop's walk read it must not come back from the read-ahead when a
 * later push reuses its position. */
Test(list, pop_read_ahead_never_serves_a_rolled_back_push) {
    push_n(LIST_TAIL, "e", 40);
    expect_pop(LIST_HEAD, "e0");
    coll l;
    lsm_buf b = {0};
    uint64_t w0 = list_cache_walks();
    keyspace_begin();
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(list_push(&l, LIST_TAIL, "gone", 4), 0);
    /* the second pop in a row at the head: a walk, which reads "gone" too */
    cr_assert_eq(list_pop(&l, LIST_HEAD, &b), 1);
    cr_assert_eq(list_cache_walks(), w0 + 1);
    cr_assert_eq(list_save(&l), 0);
    keyspace_abort();
    cr_assert_neq(keyspace_commit(), 0);
    coll_close(&l);
    lsm_buf_free(&b);
    pushs(LIST_TAIL, "kept"); /* the position "gone" had */
    expect_pop(LIST_TAIL, "kept");
    expect_pop(LIST_HEAD, "e1");
    expect_pop(LIST_TAIL, "e39");
}

/* A 100k-element list: the ends, an index, a short walk and an edit near either end cost a
 * bounded engine work whatever the length (the shorter side moves). */
Test(list, big_list_operations_cost_bounded_engine_work) {
    for (int base = 0; base < 100000; base += 5000) {
        coll l;
        keyspace_begin();
        lopen(&l, 0);
        cr_assert_eq(list_create(&l), 0);
        for (int i = base; i < base + 5000; i++) {
            char v[16];
            int vl = snprintf(v, sizeof v, "e%06d", i);
            cr_assert_eq(list_push(&l, LIST_TAIL, v, (size_t)vl), 0);
        }
        cr_assert_eq(list_save(&l), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
    }
    cr_assert_eq(llen(), 100000);
    client *c = client_create(-1);
    struct {
        const char *cmd;
        unsigned long long max_writes;
    } cmds[] = {
        {"LPUSH l h1 h2", 4},         {"RPUSH l t1", 2},
        {"LPOP l", 2},                {"RPOP l", 2},
        {"LPOP l 5", 6},              {"RPOP l 3", 4},
        {"LINDEX l 50000", 0},        {"LINDEX l -50000", 0},
        {"LSET l 50000 x", 1},        {"LLEN l", 0},
        {"LRANGE l 50000 50009", 0},  {"LINSERT l BEFORE e000008 ins", 12},
        {"LINSERT l AFTER e099990 ins2", 12}, {"LREM l 1 e000010", 14},
        {"LREM l -1 e099995", 8},     {"LTRIM l 1 -2", 3},
        {"LMOVE l other LEFT RIGHT", 6}, {"RPOPLPUSH l l", 3},
        {"LPOS l e000020", 0},        {"LPOS l e099980 RANK -1", 0},
        {"LMPOP 2 nokey l LEFT COUNT 2", 3},
    };
    lsm_stats a, b;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        lsm_get_stats(server.engine, &a);
        const char *rep = stu_run(c, cmds[i].cmd);
        lsm_get_stats(server.engine, &b);
        cr_assert_neq(rep[0], '-', "%s: %s", cmds[i].cmd, rep);
        cr_assert_neq(strncmp(rep, "$-1", 3), 0, "%s: %s", cmds[i].cmd, rep);
        cr_assert_neq(strncmp(rep, ":-1", 3), 0, "%s: %s", cmds[i].cmd, rep);
        cr_assert_leq(b.gets - a.gets, 8, "%s: %llu gets", cmds[i].cmd,
                      (unsigned long long)(b.gets - a.gets));
        unsigned long long w = b.puts + b.deletes - a.puts - a.deletes;
        cr_assert_leq(w, cmds[i].max_writes + 1, "%s: %llu writes", cmds[i].cmd, w);
    }
    /* +2 +1 -1 -1 -5 -3 +1 +1 -1 -1 -2 -1 (LMOVE) -2 (LMPOP) */
    cr_assert_eq(llen(), 100000 + 2 + 1 - 1 - 1 - 5 - 3 + 1 + 1 - 1 - 1 - 2 - 1 - 2, "%lld",
                 (long long)llen());
    coll l;
    cr_assert_eq(lopen(&l, 0), 1);
    cr_assert_eq(stu_records(l.version, -1), l.count, "one record per element");
    coll_close(&l);
    /* a middle insert moves the shorter side: about half the list, not all of it */
    lsm_get_stats(server.engine, &a);
    cr_assert_str_eq(stu_run(c, "LINSERT l AFTER e060000 mid"), ":99989\r\n");
    lsm_get_stats(server.engine, &b);
    unsigned long long w = b.puts + b.deletes - a.puts - a.deletes;
    cr_assert(w >= 39000 && w <= 41000, "LINSERT at 60%%: %llu writes", w);
    client_free(c);
}

/* Elements too big for the read-ahead's 64 KiB are popped by their own lookups; the run around
 * them holds what fits. */
Test(list, pop_read_ahead_with_big_elements) {
    static char big[100000], mid[30000];
    memset(big, 'B', sizeof big);
    memset(mid, 'M', sizeof mid);
    for (int i = 0; i < 40; i++) pushs(LIST_TAIL, "small");
    push(LIST_TAIL, mid, sizeof mid);
    push(LIST_TAIL, mid, sizeof mid);
    push(LIST_TAIL, mid, sizeof mid);
    push(LIST_TAIL, big, sizeof big);
    coll l;
    lsm_buf b = {0};
    size_t want[] = {sizeof big, sizeof mid, sizeof mid, sizeof mid, 5};
    for (int i = 0; i < 5; i++) {
        keyspace_begin();
        cr_assert_eq(lopen(&l, 0), 1);
        cr_assert_eq(list_pop(&l, LIST_TAIL, &b), 1);
        cr_assert_eq(b.len, want[i], "pop %d: %zu bytes", i, b.len);
        cr_assert_eq(b.data[0], i == 0 ? 'B' : i < 4 ? 'M' : 's');
        cr_assert_eq(list_save(&l), 0);
        cr_assert_eq(keyspace_commit(), 0);
        coll_close(&l);
    }
    lsm_buf_free(&b);
    cr_assert_eq(llen(), 39);
}

/* A list used as a stack (push and pop at one end in turns) pops with one lookup each: no walk. */
Test(list, stack_use_makes_no_read_ahead) {
    push_n(LIST_TAIL, "e", 100);
    uint64_t w0 = list_cache_walks();
    for (int i = 0; i < 50; i++) {
        pushs(LIST_HEAD, "top");
        expect_pop(LIST_HEAD, "top");
    }
    cr_assert_eq(list_cache_walks(), w0, "pushes and pops in turns walked");
    expect_pop(LIST_HEAD, "e0");
    expect_pop(LIST_HEAD, "e1"); /* the second pop in a row: a walk */
    cr_assert_eq(list_cache_walks(), w0 + 1);
}
