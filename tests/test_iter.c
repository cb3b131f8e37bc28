/* test_iter.c - the merging iterator over overlapping sources holding several versions of a key,
 * and the user view (db_iter): newest version at or below the snapshot, deletes hidden,
 * seek into the middle of a key's versions. Sources are memtables. Backward: the merge in
 * reverse (ties between sources included), direction switches at every position, the user view
 * backward at several snapshots, seek_for_prev onto deleted and absent keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dbformat.h"
#include "iter.h"
#include "lsm.h"
#include "memtable.h"

TestSuite(iter, .timeout = 30);

static void add(memtable *m, uint64_t seq, int kind, const char *k, const char *v) {
    cr_assert_eq(memtable_add(m, seq, kind, k, strlen(k), v, v ? strlen(v) : 0), 0);
}

/* three overlapping sources:
 *   m0 (newest): b@9=B9, d@8=DEL, f@7=F7
 *   m1:          a@5=A5, b@6=B6, d@4=D4, e@3=DEL
 *   m2 (oldest): b@1=B1, c@2=C2, e@1=E1, f@1=F1 */
static internal_iter *three_sources(memtable **ms) {
    for (int i = 0; i < 3; i++) ms[i] = memtable_new();
    add(ms[0], 9, KIND_VALUE, "b", "B9");
    add(ms[0], 8, KIND_DELETE, "d", NULL);
    add(ms[0], 7, KIND_VALUE, "f", "F7");
    add(ms[1], 5, KIND_VALUE, "a", "A5");
    add(ms[1], 6, KIND_VALUE, "b", "B6");
    add(ms[1], 4, KIND_VALUE, "d", "D4");
    add(ms[1], 3, KIND_DELETE, "e", NULL);
    add(ms[2], 1, KIND_VALUE, "b", "B1");
    add(ms[2], 2, KIND_VALUE, "c", "C2");
    add(ms[2], 1, KIND_VALUE, "e", "E1");
    add(ms[2], 1, KIND_VALUE, "f", "F1");
    internal_iter *kids[3];
    for (int i = 0; i < 3; i++) kids[i] = memtable_iter_new(ms[i]);
    internal_iter *m = merging_iter_new(kids, 3);
    for (int i = 0; i < 3; i++) memtable_unref(ms[i]); /* iterators hold their own refs */
    cr_assert_not_null(m);
    return m;
}

Test(iter, merging_yields_every_version_in_internal_order) {
    memtable *ms[3];
    internal_iter *m = three_sources(ms);
    const char *want[] = {"a5", "b9", "b6", "b1", "c2", "d8", "d4", "e3", "e1", "f7", "f1"};
    int n = 0;
    for (iter_seek_first(m); iter_valid(m); iter_next(m)) {
        size_t kl;
        const char *k = iter_key(m, &kl);
        cr_assert_lt(n, 11);
        char got[24];
        snprintf(got, sizeof(got), "%c%llu", k[0], (unsigned long long)ikey_seq(k, kl));
        cr_assert_str_eq(got, want[n]);
        n++;
    }
    cr_assert_eq(n, 11);
    cr_assert_eq(iter_status(m), 0);
    /* seek into the middle of b's versions: first entry >= (b, seq 7) is b@6 */
    char lk[16];
    size_t ll = ikey_lookup(lk, "b", 1, 7);
    iter_seek(m, lk, ll);
    cr_assert(iter_valid(m));
    size_t kl;
    const char *k = iter_key(m, &kl);
    cr_assert_eq(k[0], 'b');
    cr_assert_eq(ikey_seq(k, kl), 6);
    iter_destroy(m);
}

static void collect(db_iter *d, char *out) {
    out[0] = 0;
    for (db_iter_seek_first(d); d->valid; db_iter_next(d)) {
        size_t kl, vl;
        const char *k = db_iter_key(d, &kl), *v = db_iter_value(d, &vl);
        strncat(out, k, kl);
        strcat(out, "=");
        strncat(out, v, vl);
        strcat(out, " ");
    }
}

Test(iter, user_view_hides_shadowed_versions_and_deletes) {
    memtable *ms[3];
    db_iter d;
    char out[256];
    db_iter_init(&d, three_sources(ms), MAX_SEQUENCE);
    collect(&d, out);
    cr_assert_str_eq(out, "a=A5 b=B9 c=C2 f=F7 ");
    cr_assert_eq(d.status, 0);
    db_iter_destroy(&d);
}

Test(iter, user_view_at_older_snapshot) {
    memtable *ms[3];
    db_iter d;
    char out[256];
    db_iter_init(&d, three_sources(ms), 5);
    collect(&d, out);
    /* as of seq 5: b@1, d@4 live (delete@8 not yet), e deleted at 3, f@1 */
    cr_assert_str_eq(out, "a=A5 b=B1 c=C2 d=D4 f=F1 ");
    db_iter_destroy(&d);
    db_iter_init(&d, three_sources(ms), 2);
    collect(&d, out);
    cr_assert_str_eq(out, "b=B1 c=C2 e=E1 f=F1 ");
    db_iter_destroy(&d);
}

Test(iter, user_view_seek_lands_on_next_live_key) {
    memtable *ms[3];
    db_iter d;
    db_iter_init(&d, three_sources(ms), MAX_SEQUENCE);
    db_iter_seek(&d, "d", 1); /* d and e are deleted: next live key is f */
    cr_assert(d.valid);
    size_t kl, vl;
    cr_assert_eq(db_iter_key(&d, &kl)[0], 'f');
    cr_assert_eq(memcmp(db_iter_value(&d, &vl), "F7", 2), 0);
    db_iter_next(&d);
    cr_assert_not(d.valid);
    db_iter_seek(&d, "bb", 2);
    cr_assert(d.valid);
    cr_assert_eq(db_iter_key(&d, &kl)[0], 'c');
    db_iter_seek(&d, "z", 1);
    cr_assert_not(d.valid);
    db_iter_destroy(&d);
}

Test(iter, merging_with_no_sources_is_empty) {
    internal_iter *m = merging_iter_new(NULL, 0);
    cr_assert_not_null(m);
    iter_seek_first(m);
    cr_assert_not(iter_valid(m));
    iter_destroy(m);
}

/* ---- backward ---- */

static void ikey_name(internal_iter *m, char *got, size_t n) {
    size_t kl;
    const char *k = iter_key(m, &kl);
    snprintf(got, n, "%c%llu", k[0], (unsigned long long)ikey_seq(k, kl));
}

static const char *const merged[] = {"a5", "b9", "b6", "b1", "c2", "d8",
                                     "d4", "e3", "e1", "f7", "f1"};
enum { NMERGED = 11 };

Test(iter, merging_backward_is_forward_reversed) {
    memtable *ms[3];
    internal_iter *m = three_sources(ms);
    int n = NMERGED;
    char got[24];
    for (iter_seek_last(m); iter_valid(m); iter_prev(m)) {
        cr_assert_gt(n, 0);
        ikey_name(m, got, sizeof got);
        cr_assert_str_eq(got, merged[--n]);
    }
    cr_assert_eq(n, 0);
    cr_assert_eq(iter_status(m), 0);
    /* seek_for_prev: onto an exact entry, between versions, between keys, before everything */
    char lk[16];
    size_t ll = ikey_lookup(lk, "b", 1, 6);
    iter_seek_for_prev(m, lk, ll);
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "b6");
    ll = ikey_lookup(lk, "b", 1, 7); /* (b,7) sorts between b9 and b6: last <= it is b9 */
    iter_seek_for_prev(m, lk, ll);
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "b9");
    ll = ikey_lookup(lk, "cc", 2, MAX_SEQUENCE);
    iter_seek_for_prev(m, lk, ll);
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "c2");
    iter_next(m); /* and forward again from there */
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "d8");
    ll = ikey_lookup(lk, "a", 1, 4); /* after a5 */
    iter_seek_for_prev(m, lk, ll);
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "a5");
    iter_prev(m);
    cr_assert_not(iter_valid(m));
    ll = ikey_lookup(lk, "a", 1, 6); /* before a5 */
    iter_seek_for_prev(m, lk, ll);
    cr_assert_not(iter_valid(m));
    ll = ikey_lookup(lk, "zz", 2, 1);
    iter_seek_for_prev(m, lk, ll);
    ikey_name(m, got, sizeof got);
    cr_assert_str_eq(got, "f1");
    iter_destroy(m);
}

Test(iter, merging_direction_switch_at_every_position) {
    memtable *ms[3];
    internal_iter *m = three_sources(ms);
    char got[24];
    for (int pos = 0; pos < NMERGED; pos++) {
        /* reach pos forward, then prev, next, next, prev, prev */
        iter_seek_first(m);
        for (int i = 0; i < pos; i++) iter_next(m);
        ikey_name(m, got, sizeof got);
        cr_assert_str_eq(got, merged[pos]);
        int expect[] = {pos - 1, pos, pos + 1, pos, pos - 1};
        int moves[] = {-1, +1, +1, -1, -1};
        int cur = pos;
        for (int s = 0; s < 5; s++) {
            if (cur < 0 || cur >= NMERGED) break; /* walked off an end: stays invalid */
            if (moves[s] < 0) iter_prev(m); else iter_next(m);
            cur = expect[s];
            if (cur < 0 || cur >= NMERGED) {
                cr_assert_not(iter_valid(m), "pos %d step %d", pos, s);
            } else {
                cr_assert(iter_valid(m), "pos %d step %d", pos, s);
                ikey_name(m, got, sizeof got);
                cr_assert_str_eq(got, merged[cur], "pos %d step %d", pos, s);
            }
        }
        /* reach pos backward from the end, then next, prev */
        iter_seek_last(m);
        for (int i = NMERGED - 1; i > pos; i--) iter_prev(m);
        ikey_name(m, got, sizeof got);
        cr_assert_str_eq(got, merged[pos]);
        iter_next(m);
        if (pos + 1 < NMERGED) {
            ikey_name(m, got, sizeof got);
            cr_assert_str_eq(got, merged[pos + 1]);
            iter_prev(m);
            ikey_name(m, got, sizeof got);
            cr_assert_str_eq(got, merged[pos]);
        } else {
            cr_assert_not(iter_valid(m));
        }
    }
    iter_destroy(m);
}

/* The same internal key in two sources (not produced by the engine, but the merge must stay a
 * total order): forward yields source 0's then source 1's; reverse exactly the opposite, also
 * across a switch of direction between the two. */
Test(iter, merging_equal_keys_in_two_sources_reverse_in_exact_opposite_order) {
    memtable *a = memtable_new(), *b = memtable_new();
    add(a, 3, KIND_VALUE, "k", "from0");
    add(b, 3, KIND_VALUE, "k", "from1");
    add(a, 1, KIND_VALUE, "j", "j0");
    add(b, 2, KIND_VALUE, "l", "l1");
    internal_iter *kids[2] = {memtable_iter_new(a), memtable_iter_new(b)};
    internal_iter *m = merging_iter_new(kids, 2);
    memtable_unref(a);
    memtable_unref(b);
    const char *fwd[] = {"j0", "from0", "from1", "l1"};
    int n = 0;
    for (iter_seek_first(m); iter_valid(m); iter_next(m), n++) {
        size_t vl;
        const char *v = iter_value(m, &vl);
        cr_assert(vl == strlen(fwd[n]) && memcmp(v, fwd[n], vl) == 0, "forward %d", n);
    }
    cr_assert_eq(n, 4);
    for (iter_seek_last(m); iter_valid(m); iter_prev(m)) {
        size_t vl;
        const char *v = iter_value(m, &vl);
        n--;
        cr_assert(vl == strlen(fwd[n]) && memcmp(v, fwd[n], vl) == 0, "backward %d", n);
    }
    cr_assert_eq(n, 0);
    for (int start = 0; start < 4; start++) {
        iter_seek_first(m);
        for (int i = 0; i < start; i++) iter_next(m);
        for (int back = start - 1; back >= 0; back--) { /* prev to the front, then next back */
            iter_prev(m);
            size_t vl;
            const char *v = iter_value(m, &vl);
            cr_assert(vl == strlen(fwd[back]) && memcmp(v, fwd[back], vl) == 0,
                      "start %d back %d", start, back);
        }
        for (int fw = 1; fw <= start; fw++) {
            iter_next(m);
            size_t vl;
            const char *v = iter_value(m, &vl);
            cr_assert(vl == strlen(fwd[fw]) && memcmp(v, fwd[fw], vl) == 0,
                      "start %d forward %d", start, fw);
        }
    }
    iter_destroy(m);
}

static void collect_backward(db_iter *d, char *out) {
    out[0] = 0;
    for (db_iter_seek_last(d); d->valid; db_iter_prev(d)) {
        size_t kl, vl;
        const char *k = db_iter_key(d, &kl), *v = db_iter_value(d, &vl);
        strncat(out, k, kl);
        strcat(out, "=");
        strncat(out, v, vl);
        strcat(out, " ");
    }
}

Test(iter, user_view_backward_at_several_snapshots) {
    memtable *ms[3];
    db_iter d;
    char out[256];
    uint64_t snaps[] = {MAX_SEQUENCE, 5, 2, 0};
    const char *want[] = {"f=F7 c=C2 b=B9 a=A5 ", "f=F1 d=D4 c=C2 b=B1 a=A5 ",
                          "f=F1 e=E1 c=C2 b=B1 ", ""};
    for (int s = 0; s < 4; s++) {
        db_iter_init(&d, three_sources(ms), snaps[s]);
        collect_backward(&d, out);
        cr_assert_str_eq(out, want[s], "snapshot %llu", (unsigned long long)snaps[s]);
        cr_assert_eq(d.status, 0);
        db_iter_destroy(&d);
    }
}

static void expect_at(db_iter *d, const char *k, const char *v, const char *what) {
    if (!k) {
        cr_assert_not(d->valid, "%s: expected invalid", what);
        return;
    }
    cr_assert(d->valid, "%s: expected %s, got invalid", what, k);
    size_t kl, vl;
    const char *gk = db_iter_key(d, &kl), *gv = db_iter_value(d, &vl);
    cr_assert(kl == strlen(k) && memcmp(gk, k, kl) == 0, "%s: key %.*s, expected %s", what,
              (int)kl, gk, k);
    cr_assert(vl == strlen(v) && memcmp(gv, v, vl) == 0, "%s: value of %s", what, k);
}

Test(iter, user_view_seek_for_prev_lands_on_previous_live_key) {
    memtable *ms[3];
    db_iter d;
    db_iter_init(&d, three_sources(ms), MAX_SEQUENCE);
    db_iter_seek_for_prev(&d, "e", 1); /* d and e deleted */
    expect_at(&d, "c", "C2", "seek_for_prev e");
    db_iter_seek_for_prev(&d, "b", 1); /* exact: b's newest version */
    expect_at(&d, "b", "B9", "seek_for_prev b");
    db_iter_seek_for_prev(&d, "bb", 2);
    expect_at(&d, "b", "B9", "seek_for_prev bb");
    db_iter_seek_for_prev(&d, "", 0);
    expect_at(&d, NULL, NULL, "seek_for_prev empty key");
    db_iter_seek_for_prev(&d, "a", 1);
    expect_at(&d, "a", "A5", "seek_for_prev a");
    db_iter_prev(&d);
    expect_at(&d, NULL, NULL, "prev of the first");
    db_iter_next(&d); /* invalid stays invalid */
    expect_at(&d, NULL, NULL, "next of invalid");
    db_iter_seek_for_prev(&d, "zzz", 3);
    expect_at(&d, "f", "F7", "seek_for_prev zzz");
    db_iter_next(&d);
    expect_at(&d, NULL, NULL, "next of the last");
    db_iter_destroy(&d);
}

Test(iter, user_view_direction_switch_at_every_key_and_snapshot) {
    memtable *ms[3];
    db_iter d;
    uint64_t snaps[] = {MAX_SEQUENCE, 5, 2};
    const char *keys[3][6] = {{"a", "b", "c", "f"}, {"a", "b", "c", "d", "f"},
                              {"b", "c", "e", "f"}};
    const char *vals[3][6] = {{"A5", "B9", "C2", "F7"}, {"A5", "B1", "C2", "D4", "F1"},
                              {"B1", "C2", "E1", "F1"}};
    int nk[3] = {4, 5, 4};
    for (int s = 0; s < 3; s++) {
        db_iter_init(&d, three_sources(ms), snaps[s]);
        for (int pos = 0; pos < nk[s]; pos++) {
            /* forward to pos, prev, next */
            db_iter_seek_first(&d);
            for (int i = 0; i < pos; i++) db_iter_next(&d);
            expect_at(&d, keys[s][pos], vals[s][pos], "forward to pos");
            db_iter_prev(&d);
            if (pos == 0) {
                expect_at(&d, NULL, NULL, "prev of first");
            } else {
                expect_at(&d, keys[s][pos - 1], vals[s][pos - 1], "prev after next");
                db_iter_next(&d);
                expect_at(&d, keys[s][pos], vals[s][pos], "next after prev");
                db_iter_next(&d);
                expect_at(&d, pos + 1 < nk[s] ? keys[s][pos + 1] : NULL,
                          pos + 1 < nk[s] ? vals[s][pos + 1] : NULL, "second next");
            }
            /* backward to pos, next, prev */
            db_iter_seek_last(&d);
            for (int i = nk[s] - 1; i > pos; i--) db_iter_prev(&d);
            expect_at(&d, keys[s][pos], vals[s][pos], "backward to pos");
            db_iter_next(&d);
            if (pos + 1 == nk[s]) {
                expect_at(&d, NULL, NULL, "next of last");
            } else {
                expect_at(&d, keys[s][pos + 1], vals[s][pos + 1], "next after prev");
                db_iter_prev(&d);
                expect_at(&d, keys[s][pos], vals[s][pos], "prev after next");
                db_iter_prev(&d);
                expect_at(&d, pos ? keys[s][pos - 1] : NULL, pos ? vals[s][pos - 1] : NULL,
                          "second prev");
            }
            /* seek (forward) then prev; seek_for_prev then next */
            db_iter_seek(&d, keys[s][pos], 1);
            db_iter_prev(&d);
            expect_at(&d, pos ? keys[s][pos - 1] : NULL, pos ? vals[s][pos - 1] : NULL,
                      "seek then prev");
            db_iter_seek_for_prev(&d, keys[s][pos], 1);
            db_iter_next(&d);
            expect_at(&d, pos + 1 < nk[s] ? keys[s][pos + 1] : NULL,
                      pos + 1 < nk[s] ? vals[s][pos + 1] : NULL, "seek_for_prev then next");
        }
        db_iter_destroy(&d);
    }
}

Test(iter, merging_with_no_sources_is_empty_backward) {
    internal_iter *m = merging_iter_new(NULL, 0);
    iter_seek_last(m);
    cr_assert_not(iter_valid(m));
    char lk[16];
    size_t ll = ikey_lookup(lk, "a", 1, 1);
    iter_seek_for_prev(m, lk, ll);
    cr_assert_not(iter_valid(m));
    iter_prev(m);
    cr_assert_not(iter_valid(m));
    iter_destroy(m);
}
