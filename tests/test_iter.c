/* test_iter.c - the merging iterator over overlapping sources holding several versions of a key,
 * and the user view (db_iter): newest version at or below the snapshot, deletes hidden,
 * seek into the middle of a key's versions. Sources are memtables. */
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
