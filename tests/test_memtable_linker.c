/* test_memtable_linker.c - background linking (memtable.h: mt_linker): a linker thread links the
 * active memtable's adds while the owner adds, overwrites in place, reads through the index,
 * iterates and reads older snapshots; every entry ends up linked once, in internal-key order,
 * each key's versions newest first, whichever thread linked it. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbformat.h"
#include "lsm.h"
#include "memtable.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (up to 10 s) until the linker thread has linked at least n entries in all. */
static uint64_t wait_linked_by_thread(mt_linker *lk, uint64_t n) {
    uint64_t by_thread = 0, by_owner = 0;
    for (int i = 0; i < 1000; i++) {
        mt_linker_stats(lk, &by_thread, &by_owner, &(uint64_t){0});
        if (by_thread >= n) break;
        sleep_ms(10);
    }
    return by_thread;
}

/* Adds n versions of random keys <prefix><0..range) with value v, sequences from *seq on. */
static void add_random(memtable *m, char prefix, int n, unsigned range, const char *v, uint64_t *seq) {
    char k[24];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "%c%u", prefix, (unsigned)(rnd() % range));
        cr_assert_eq(memtable_add(m, (*seq)++, KIND_VALUE, k, (size_t)kl, v, strlen(v)), 0);
    }
}

/* Walks m forward: every step ascends in internal-key order; returns the entries seen and
 * checks each user key's first (newest) version against newest_seq[key number] when given. */
static size_t check_order(memtable *m, const uint64_t *newest_seq) {
    internal_iter *it = memtable_iter_new(m);
    const char *prev = NULL;
    size_t prevl = 0, n = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), n++) {
        size_t kl;
        const char *ik = iter_key(it, &kl);
        if (prev) cr_assert_lt(ikey_compare(prev, prevl, ik, kl), 0, "order broken at entry %zu", n);
        size_t ukl = ikey_user_len(kl);
        int first = !prev || ikey_user_len(prevl) != ukl || memcmp(prev, ik, ukl) != 0;
        if (first && newest_seq) {
            char buf[32];
            memcpy(buf, ik, ukl);
            buf[ukl] = 0;
            unsigned long ki = strtoul(buf + 1, NULL, 10);
            cr_assert_eq(ikey_seq(ik, kl), newest_seq[ki], "key %s: newest listed %llu, index %llu",
                         buf, (unsigned long long)ikey_seq(ik, kl),
                         (unsigned long long)newest_seq[ki]);
        }
        prev = ik;
        prevl = kl;
    }
    iter_destroy(it);
    return n;
}

/* The owner's workload: random keys, most versions overwriting the newest node in place (the
 * node may still sit in the linker's ring, or be mid-link), some forced to be new nodes (older
 * versions stay listed), some deletes; point reads through the index, reads at older snapshots
 * and full iterations in between (each links what the ring holds first). */
Test(memtable_linker, random_adds_and_in_place_overwrites_link_in_order_by_either_thread,
     .timeout = 120) {
    enum { NOPS = 300000, NKEYS = 30000 };
    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *m = memtable_new();
    memtable_attach_linker(m, lk);
    uint64_t *newest = calloc(NKEYS, sizeof(uint64_t));
    uint32_t *value = calloc(NKEYS, sizeof(uint32_t)); /* 0: deleted or absent */
    size_t *versions = calloc(NKEYS, sizeof(size_t));  /* nodes the key has in m */
    cr_assert(newest && value && versions);
    mt_overwrite ow = {0, 0, 0}; /* nothing committed, no undo: any newest node may be replaced */
    char k[24];
    for (uint64_t seq = 1; seq <= NOPS; seq++) {
        uint64_t r = rnd();
        uint32_t ki = (uint32_t)(r % NKEYS);
        if (seq % 5 == 0) ki = (uint32_t)(r % 64); /* hot keys: rewritten while still in the ring */
        int kl = snprintf(k, sizeof k, "k%u", ki);
        uint32_t val = (uint32_t)(r >> 32) | 1;
        int del = (r >> 20) % 11 == 0;
        int in_place = (r >> 24) % 4 != 0;
        int rc = memtable_put(m, seq, del ? KIND_DELETE : KIND_VALUE, k, (size_t)kl, &val,
                              del ? 0 : sizeof val, in_place ? &ow : NULL);
        cr_assert(rc == 0 || rc == MEMTABLE_OVERWRITTEN);
        if (rc == 0) versions[ki]++;
        newest[ki] = seq;
        value[ki] = del ? 0 : val;
        if (seq % 4999 == 0) { /* a point read through the index: the newest version */
            const char *v;
            size_t vl;
            int g = memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl);
            cr_assert_eq(g, del ? MEMTABLE_DELETED : MEMTABLE_FOUND);
        }
        if (seq % 9973 == 0 && versions[ki] > 1) { /* older snapshot: through the list */
            const char *v;
            size_t vl;
            int g = memtable_get(m, k, (size_t)kl, seq - 1, &v, &vl);
            cr_assert_neq(g, MEMTABLE_NOTFOUND, "key %s has an older version at %llu", k,
                          (unsigned long long)(seq - 1));
        }
        if (seq % 61000 == 0) check_order(m, NULL);
    }
    /* the thread did link (most of) it: the owner only drained at the iterations and reads */
    cr_assert_gt(wait_linked_by_thread(lk, 1), 0);
    size_t nodes = 0;
    for (uint32_t ki = 0; ki < NKEYS; ki++) nodes += versions[ki];
    cr_assert_eq(memtable_entries(m), (uint64_t)nodes);
    memtable_seal(m); /* detaches: everything linked */
    cr_assert_eq(check_order(m, newest), nodes);
    for (uint32_t ki = 0; ki < NKEYS; ki++) {
        if (!newest[ki]) continue;
        int kl = snprintf(k, sizeof k, "k%u", ki);
        const char *v;
        size_t vl;
        int g = memtable_get(m, k, (size_t)kl, MAX_SEQUENCE, &v, &vl);
        if (!value[ki]) {
            cr_assert_eq(g, MEMTABLE_DELETED);
        } else {
            cr_assert_eq(g, MEMTABLE_FOUND);
            uint32_t got;
            memcpy(&got, v, 4);
            cr_assert_eq(got, value[ki]);
        }
    }
    uint64_t by_thread, by_owner;
    mt_linker_stats(lk, &by_thread, &by_owner, &(uint64_t){0});
    cr_assert_eq(by_thread + by_owner, (uint64_t)nodes, "linked %llu + %llu of %zu entries",
                 (unsigned long long)by_thread, (unsigned long long)by_owner, nodes);
    memtable_unref(m);
    mt_linker_stop(lk);
    free(newest);
    free(value);
    free(versions);
}

/* An iterator created before a burst of adds walks forward and backward while the thread links
 * the new entries around it: every step keeps its direction's order (new entries are newer
 * than its view; lsm filters them by sequence). */
Test(memtable_linker, an_iterator_walks_both_ways_while_the_thread_links, .timeout = 120) {
    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *m = memtable_new();
    memtable_attach_linker(m, lk);
    uint64_t seq = 1;
    add_random(m, 'k', 20000, 100000, "v", &seq);
    internal_iter *it = memtable_iter_new(m);
    iter_seek_first(it);
    char prevk[40];
    size_t prevl = 0, steps = 0;
    int dir = 1;
    while (iter_valid(it) && steps < 200000) {
        add_random(m, 'k', 4, 100000, "w", &seq); /* the thread links these meanwhile */
        size_t kl;
        const char *ik = iter_key(it, &kl);
        if (steps && (steps % 5000) != 0) {
            int c = ikey_compare(prevk, prevl, ik, kl);
            cr_assert(dir > 0 ? c < 0 : c > 0, "step %zu out of order (direction %d)", steps, dir);
        }
        memcpy(prevk, ik, kl);
        prevl = kl;
        if (++steps % 5000 == 0) dir = -dir; /* turn around */
        if (dir > 0) iter_next(it);
        else iter_prev(it);
    }
    cr_assert_gt(steps, 10000);
    iter_destroy(it);
    cr_assert_gt(wait_linked_by_thread(lk, 1), 0);
    memtable_seal(m);
    cr_assert_eq(check_order(m, NULL), (size_t)(seq - 1));
    memtable_unref(m);
    mt_linker_stop(lk);
}

/* A memtable replacing the attached one (lsm.c: a rotation, or a rolled-back group's copy):
 * attaching it links the first one's ring entries and detaches it; both end complete. */
Test(memtable_linker, attaching_the_next_memtable_completes_and_detaches_the_first) {
    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *a = memtable_new(), *b = memtable_new();
    memtable_attach_linker(a, lk);
    uint64_t seq = 1;
    add_random(a, 'a', 5000, 1000000, "v", &seq);
    memtable_attach_linker(b, lk); /* no sleep: a's ring entries are likely still there */
    add_random(b, 'b', 5000, 1000000, "v", &seq);
    cr_assert_eq(check_order(a, NULL), 5000u);
    memtable_unref(a); /* detached: freeing it leaves the linker alone */
    cr_assert_eq(check_order(b, NULL), 5000u);
    memtable_seal(b);
    memtable_unref(b);
    uint64_t by_thread, by_owner;
    mt_linker_stats(lk, &by_thread, &by_owner, &(uint64_t){0});
    cr_assert_eq(by_thread + by_owner, 10000u);
    mt_linker_stop(lk);
}

/* A failed commit's path (lsm.c): committed nodes overwritten in place are put back, and a copy
 * without the uncommitted writes replaces the memtable, while the linker had entries of it. */
Test(memtable_linker, copy_upto_of_an_attached_memtable_drops_exactly_the_later_writes) {
    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *m = memtable_new();
    memtable_attach_linker(m, lk);
    char k[24];
    for (uint64_t seq = 1; seq <= 20000; seq++) {
        int kl = snprintf(k, sizeof k, "c%u", (unsigned)(seq % 7000));
        cr_assert_eq(memtable_add(m, seq, KIND_VALUE, k, (size_t)kl, &seq, sizeof seq), 0);
    }
    memtable *c = memtable_copy_upto(m, 15000);
    cr_assert_not_null(c);
    memtable_attach_linker(c, lk);
    memtable_unref(m);
    cr_assert_eq(check_order(c, NULL), 15000u);
    for (unsigned i = 0; i < 7000; i++) {
        int kl = snprintf(k, sizeof k, "c%u", i);
        const char *v;
        size_t vl;
        cr_assert_eq(memtable_get(c, k, (size_t)kl, MAX_SEQUENCE, &v, &vl), MEMTABLE_FOUND);
        uint64_t got;
        memcpy(&got, v, 8);
        uint64_t want = 14000 + i <= 15000 ? 14000 + i : 7000 + i; /* newest seq <= 15000 */
        cr_assert_eq(got, want, "key c%u: %llu", i, (unsigned long long)got);
    }
    memtable_seal(c);
    memtable_unref(c);
    mt_linker_stop(lk);
}

/* The thread held back: the owner's adds fill the ring again and again, and each time the owner
 * links one batch itself; nothing is lost or misordered, and once let go the thread links the
 * rest. */
Test(memtable_linker, a_full_ring_makes_the_owner_link_a_batch_itself, .timeout = 120) {
    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *m = memtable_new();
    memtable_attach_linker(m, lk);
    mt_linker_debug_hold(lk, 1);
    uint64_t seq = 1;
    add_random(m, 'f', 60000, 1000000, "v", &seq);
    uint64_t by_thread, by_owner;
    mt_linker_stats(lk, &by_thread, &by_owner, &(uint64_t){0});
    cr_assert_eq(by_thread, 0);
    cr_assert_geq(by_owner, 60000 - 8192, "the owner linked %llu", (unsigned long long)by_owner);
    cr_assert_lt(by_owner, 60000); /* one batch at a time: the ring keeps the rest */
    mt_linker_debug_hold(lk, 0);
    cr_assert_gt(wait_linked_by_thread(lk, 1), 0);
    memtable_seal(m);
    cr_assert_eq(check_order(m, NULL), 60000u);
    mt_linker_stats(lk, &by_thread, &by_owner, &(uint64_t){0});
    cr_assert_eq(by_thread + by_owner, 60000u);
    memtable_unref(m);
    mt_linker_stop(lk);
}

/* Idle time on the owner (memtable_link_idle): links at most the entries asked for, in order,
 * while the thread is held; beside a running thread both link and every entry is linked once. */
Test(memtable_linker, idle_time_links_on_the_owner_at_most_max_per_call, .timeout = 120) {
    memtable *alone = memtable_new();
    uint64_t seq = 1;
    add_random(alone, 'a', 100, 1000, "v", &seq);
    cr_assert_eq(memtable_link_idle(alone, 16), 0u); /* no linker: nothing to take over */
    memtable_unref(alone);

    mt_linker *lk = mt_linker_start(0);
    cr_assert_not_null(lk);
    memtable *m = memtable_new();
    memtable_attach_linker(m, lk);
    mt_linker_debug_hold(lk, 1);
    seq = 1;
    add_random(m, 'i', 1000, 1000000, "v", &seq);
    size_t total = 0, calls = 0, got;
    while ((got = memtable_link_idle(m, 16)) != 0) {
        cr_assert_leq(got, 16u);
        total += got;
        calls++;
    }
    cr_assert_eq(total, 1000u);
    cr_assert_eq(calls, (1000u + 15) / 16);
    uint64_t by_thread, by_owner, by_idle;
    mt_linker_stats(lk, &by_thread, &by_owner, &by_idle);
    cr_assert_eq(by_thread, 0);
    cr_assert_eq(by_idle, 1000u);
    cr_assert_eq(by_owner, 1000u);
    cr_assert_eq(check_order(m, NULL), 1000u); /* nothing left to drain: all linked, in order */

    mt_linker_debug_hold(lk, 0);
    for (int round = 0; round < 200; round++) { /* adds, idle slices and the thread at once */
        add_random(m, 'j', 1500, 1000000, "v", &seq);
        for (int i = 0; i < 20; i++) memtable_link_idle(m, 16);
    }
    memtable_seal(m);
    cr_assert_eq(check_order(m, NULL), 1000u + 200u * 1500u);
    mt_linker_stats(lk, &by_thread, &by_owner, &by_idle);
    cr_assert_eq(by_thread + by_owner, 1000u + 200u * 1500u);
    cr_assert_gt(by_idle, 1000u);
    cr_assert_leq(by_idle, by_owner);
    memtable_unref(m);
    mt_linker_stop(lk);
}

/* The niceness of this process's thread named name, or -100 when there is none. */
static int thread_nice_of(const char *name) {
    int found = -100;
    DIR *d = opendir("/proc/self/task");
    if (!d) return found;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        size_t nl = strlen(name);
        if (!open || !close || (size_t)(close - open - 1) != nl || memcmp(open + 1, name, nl) != 0)
            continue;
        char *s = close + 2; /* field 3 (state); the nice value is field 19 */
        for (int field = 3; field < 19 && s; field++) {
            s = strchr(s, ' ');
            if (s) s++;
        }
        if (s) found = atoi(s);
    }
    closedir(d);
    return found;
}

/* The linker yields the CPU to the event loop: it runs at the niceness it was started with,
 * added to the starter's. */
Test(memtable_linker, the_thread_runs_at_the_niceness_it_was_started_with, .timeout = 30) {
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    cr_assert_eq(errno, 0);
    int want = base + 7 > 19 ? 19 : base + 7;
    mt_linker *lk = mt_linker_start(7);
    cr_assert_not_null(lk);
    int got = -100;
    for (int i = 0; i < 1000 && got != want; i++) { /* the thread sets it as it starts */
        got = thread_nice_of("kevo-link");
        if (got != want) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    cr_assert_eq(got, want, "kevo-link runs at nice %d, want %d", got, want);
    mt_linker_stop(lk);
}
