/* test_engine_filter.c - the compaction filter hook, queued lsm_compact_range(wait=0) and the
 * compaction of tombstone-dense tables, through the public API (lsm.h) only.
 *
 * The collection scheme the server uses (and these tests imitate): member key = 'm' ||
 * version (8 bytes big-endian) || member; liveness record 'v' || version exists while the
 * version is live; members are written after their liveness record and a version number is
 * never reused. The liveness filter drops a member when lsm_filter_get finds no liveness record.
 *
 * Boundaries pinned:
 *   - the filter drops exactly the entries it says (and their older versions), nothing else,
 *     and is never shown deletes;
 *   - members of a deleted version disappear after compaction (iterator, stats, size); members
 *     of live versions survive, also when the liveness record sits only in the memtable being
 *     flushed (or comes after them in one batch), or in a deeper level than the members;
 *   - entries newer than a live iterator's snapshot are neither shown nor dropped, and the view
 *     reads at that snapshot (a version deleted after the iterator was made keeps its members);
 *   - the view stays consistent while flushes and compactions run (no live member ever dropped);
 *   - many lsm_compact_range(wait=0) calls queue (none lost), return at once, and all run;
 *   - a tombstone-dense table is compacted without any manual call and space comes back, also
 *     after a restart (the MANIFEST keeps the delete counts). */
#include <criterion/criterion.h>
#include <stdatomic.h>

#include "engine_test_util.h"

static char g_dir[512];

static void setup_dir(void)
{
    cr_assert_not_null(etu_tmpdir(g_dir, sizeof g_dir, "filter"));
}

static void teardown_dir(void)
{
    if (g_dir[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_dir);
}

TestSuite(engine_filter, .init = setup_dir, .fini = teardown_dir, .timeout = 300);

static void must(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "%s: %s (%d)", what, lsm_strerror(rc), rc);
}

static void compact_all(lsm_t *db)
{
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "lsm_compact_range(all, wait)");
    must(etu_wait_idle(db), "wait idle after compaction");
}

static void flush_wait(lsm_t *db)
{
    must(lsm_flush(db, 1), "lsm_flush(wait)");
    must(etu_wait_idle(db), "wait idle after flush");
}

static size_t iter_count_prefix(lsm_t *db, const void *prefix, size_t pl)
{
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    size_t n = 0;
    for (lsm_iter_seek(it, prefix, pl); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < pl || memcmp(k, prefix, pl) != 0)
            break;
        n++;
    }
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_free(it);
    return n;
}

/* ---- the collection scheme -------------------------------------------------------------- */

#define MAXV 4096

static void be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* 'v' || version */
static size_t live_key(char *buf, uint64_t ver)
{
    buf[0] = 'v';
    be64(buf + 1, ver);
    return 9;
}

/* 'm' || version || "mem%06d" */
static size_t member_key(char *buf, uint64_t ver, int i)
{
    buf[0] = 'm';
    be64(buf + 1, ver);
    return 9 + (size_t)snprintf(buf + 9, 32, "mem%06d", i);
}

/* 'm' || version: the prefix of a version's members */
static size_t member_prefix(char *buf, uint64_t ver)
{
    buf[0] = 'm';
    be64(buf + 1, ver);
    return 9;
}

static size_t member_value(char *buf, uint64_t ver, int i)
{
    int n = snprintf(buf, 128, "value-%llu-%d-", (unsigned long long)ver, i);
    for (; n < 100; n++)
        buf[n] = (char)('a' + (ver * 7 + (uint64_t)i + (uint64_t)n) % 26);
    return (size_t)n;
}

typedef struct live_filter {
    _Atomic uint64_t calls, drops, lookups, errors, bad_values, zero_ids;
    _Atomic unsigned char dropped_ver[MAXV]; /* a member of this version was dropped */
} live_filter;

/* The per-job memo kept in the view's scratch (zeroed at job start). */
typedef struct memo {
    uint64_t ver;
    int valid, dead;
} memo;

static int live_filter_fn(void *ctx, lsm_filter_view *view, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    (void)val, (void)vlen;
    live_filter *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    if (lsm_filter_view_id(view) == 0)
        atomic_fetch_add(&f->zero_ids, 1);
    const unsigned char *k = key;
    if (klen < 9 || k[0] != 'm')
        return 0;
    uint64_t ver = get_be64(k + 1);
    memo *m = lsm_filter_view_scratch(view);
    if (!m->valid || m->ver != ver) {
        char lk[9];
        live_key(lk, ver);
        lsm_buf b = {0};
        int rc = lsm_filter_get(view, lk, sizeof lk, &b);
        atomic_fetch_add(&f->lookups, 1);
        if (rc == 0) { /* the liveness record's value names its version: a consistent read */
            char want[32];
            int wl = snprintf(want, sizeof want, "live-%llu", (unsigned long long)ver);
            if (b.len != (size_t)wl || memcmp(b.data, want, (size_t)wl) != 0)
                atomic_fetch_add(&f->bad_values, 1);
        }
        lsm_buf_free(&b);
        if (rc != 0 && rc != LSM_ENOTFOUND) {
            atomic_fetch_add(&f->errors, 1);
            return 0;
        }
        m->ver = ver;
        m->valid = 1;
        m->dead = rc == LSM_ENOTFOUND;
    }
    if (m->dead) {
        atomic_fetch_add(&f->drops, 1);
        if (ver < MAXV)
            atomic_store(&f->dropped_ver[ver], 1);
    }
    return m->dead;
}

static live_filter *live_filter_new(void)
{
    live_filter *f = calloc(1, sizeof(*f));
    cr_assert_not_null(f);
    return f;
}

static void filter_options(lsm_options *o, live_filter *f)
{
    etu_small_options(o);
    o->compaction_filter = live_filter_fn;
    o->compaction_filter_ctx = f;
}

static void put_live(lsm_t *db, uint64_t ver)
{
    char k[9], v[32];
    live_key(k, ver);
    int vl = snprintf(v, sizeof v, "live-%llu", (unsigned long long)ver);
    must(lsm_put(db, k, sizeof k, v, (size_t)vl), "put liveness record");
}

static void del_live(lsm_t *db, uint64_t ver)
{
    char k[9];
    live_key(k, ver);
    must(lsm_delete(db, k, sizeof k), "delete liveness record");
}

static void put_members(lsm_t *db, uint64_t ver, int n)
{
    char k[64], v[128];
    for (int i = 0; i < n; i++) {
        size_t kl = member_key(k, ver, i), vl = member_value(v, ver, i);
        must(lsm_put(db, k, kl, v, vl), "put member");
        if (i % 64 == 63) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "wait unstalled");
        }
    }
    must(lsm_commit(db), "commit");
}

/* Every member 0..n-1 of ver reads back with its value (a live version lost nothing). */
static void expect_members(lsm_t *db, uint64_t ver, int n, const char *ctx)
{
    char k[64], v[128];
    lsm_buf b = {0};
    for (int i = 0; i < n; i++) {
        size_t kl = member_key(k, ver, i), vl = member_value(v, ver, i);
        int rc = lsm_get(db, k, kl, &b);
        cr_assert_eq(rc, 0, "[%s] member %d of live version %llu: %s", ctx, i,
                     (unsigned long long)ver, lsm_strerror(rc));
        cr_assert(etu_buf_eq(&b, v, vl), "[%s] member %d of version %llu: wrong value", ctx, i,
                  (unsigned long long)ver);
    }
    lsm_buf_free(&b);
}

static size_t count_members(lsm_t *db, uint64_t ver)
{
    char p[9];
    member_prefix(p, ver);
    return iter_count_prefix(db, p, sizeof p);
}

/* The member range of ver: ['m'||ver, 'm'||ver+1) as an inclusive [begin, end] for
 * lsm_compact_range (end = 'm'||ver||0xff.. is past every member key). */
static void compact_version(lsm_t *db, uint64_t ver, int wait)
{
    char b[9], e[12];
    member_prefix(b, ver);
    member_prefix(e, ver);
    memset(e + 9, 0xff, 3);
    must(lsm_compact_range(db, b, sizeof b, e, sizeof e, wait), "lsm_compact_range(version)");
}

/* ---- a plain filter ---------------------------------------------------------------------- */

/* Once armed: drops every VALUE whose value starts with "drop"; counts the calls on keys of the
 * "del" family (whose newest version is then a delete: the filter must never see them). */
typedef struct prefix_filter {
    _Atomic int armed;
    _Atomic uint64_t calls, drops, saw_deleted;
} prefix_filter;

static int prefix_filter_fn(void *ctx, lsm_filter_view *view, const void *key, size_t klen,
                            const void *val, size_t vlen)
{
    (void)view;
    prefix_filter *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    if (!atomic_load(&f->armed))
        return 0;
    if (klen >= 3 && memcmp(key, "del", 3) == 0)
        atomic_fetch_add(&f->saw_deleted, 1);
    int drop = vlen >= 4 && memcmp(val, "drop", 4) == 0;
    if (drop)
        atomic_fetch_add(&f->drops, 1);
    return drop;
}

Test(engine_filter, drops_exactly_the_entries_it_names_and_their_older_versions)
{
    prefix_filter f = {0};
    lsm_options o;
    etu_small_options(&o);
    o.compaction_filter = prefix_filter_fn;
    o.compaction_filter_ctx = &f;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int n = 4000;
    char k[64];
    /* key classes by i % 4: 0 "drop-1" only; 1 "drop-1" then "drop-2"; 2 "drop-1" then
     * "keep-2"; 3 "keep-1" only. "del" keys: "drop-del", then deleted. */
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "key%06d", i);
        const char *v = i % 4 == 3 ? "keep-1" : "drop-1";
        must(lsm_put(db, k, strlen(k), v, 6), "put");
        snprintf(k, sizeof k, "del%06d", i);
        must(lsm_put(db, k, strlen(k), "drop-del", 8), "put del");
        if (i % 100 == 0)
            must(lsm_commit(db), "commit");
    }
    must(lsm_commit(db), "commit");
    compact_all(db); /* last level */
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "key%06d", i);
        if (i % 4 == 1)
            must(lsm_put(db, k, strlen(k), "drop-2", 6), "put");
        else if (i % 4 == 2)
            must(lsm_put(db, k, strlen(k), "keep-2", 6), "put");
        snprintf(k, sizeof k, "del%06d", i);
        must(lsm_delete(db, k, strlen(k)), "delete");
        if (i % 100 == 0)
            must(lsm_commit(db), "commit");
    }
    must(lsm_commit(db), "commit");
    flush_wait(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.filter_dropped, 0, "dropped before the filter said so");
    cr_assert_gt(atomic_load(&f.calls), 0);
    atomic_store(&f.armed, 1);
    compact_all(db); /* both versions of every key in one job */
    lsm_buf b = {0};
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "key%06d", i);
        int rc = lsm_get(db, k, strlen(k), &b);
        if (i % 4 <= 1) {
            cr_assert_eq(rc, LSM_ENOTFOUND, "%s (class %d): dropped key (or an older version) is "
                         "back", k, i % 4);
        } else {
            cr_assert_eq(rc, 0, "%s: kept key lost", k);
            cr_assert(etu_buf_eq(&b, i % 4 == 2 ? "keep-2" : "keep-1", 6), "%s: wrong version", k);
        }
        snprintf(k, sizeof k, "del%06d", i);
        cr_assert_eq(lsm_get(db, k, strlen(k), &b), LSM_ENOTFOUND);
    }
    lsm_buf_free(&b);
    cr_assert_eq(iter_count_prefix(db, "key", 3), (size_t)n / 2);
    cr_assert_eq(iter_count_prefix(db, "del", 3), 0);
    lsm_get_stats(db, &st);
    /* one drop per key of classes 0 and 1 (class 1's older version goes with its newest) */
    cr_assert_eq(st.filter_dropped, (uint64_t)n / 2, "filter_dropped %llu",
                 (unsigned long long)st.filter_dropped);
    cr_assert_eq(atomic_load(&f.drops), st.filter_dropped);
    cr_assert_eq(atomic_load(&f.saw_deleted), 0, "the filter was shown a deleted key");
    /* once more: nothing left to drop, nothing else goes */
    compact_all(db);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.filter_dropped, (uint64_t)n / 2);
    cr_assert_eq(iter_count_prefix(db, "key", 3), (size_t)n / 2);
    must(lsm_close(db), "close");
}

/* ---- the liveness filter ------------------------------------------------------------------ */

Test(engine_filter, members_of_a_deleted_version_disappear_and_live_ones_survive)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int nver = 10, nmem = 300;
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver++) {
        put_live(db, ver);
        put_members(db, ver, nmem);
    }
    compact_all(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t before = st.total_sst_bytes;
    cr_assert_eq(st.filter_dropped, 0, "nothing is dead yet");
    for (uint64_t ver = 2; ver <= (uint64_t)nver; ver += 2)
        del_live(db, ver);
    must(lsm_commit(db), "commit");
    compact_all(db);
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver++) {
        if (ver % 2 == 0) {
            cr_assert_eq(count_members(db, ver), 0, "version %llu deleted: members remain",
                         (unsigned long long)ver);
        } else {
            cr_assert_eq(count_members(db, ver), (size_t)nmem);
            expect_members(db, ver, nmem, "after compaction");
        }
    }
    lsm_get_stats(db, &st);
    cr_assert_eq(st.filter_dropped, (uint64_t)(nver / 2) * nmem, "filter_dropped %llu",
                 (unsigned long long)st.filter_dropped);
    cr_assert_lt(st.total_sst_bytes, before * 2 / 3, "space not back: %llu -> %llu bytes",
                 (unsigned long long)before, (unsigned long long)st.total_sst_bytes);
    /* one lookup per version per job, not one per member */
    cr_assert_lt(atomic_load(&f->lookups), atomic_load(&f->calls) / 10);
    cr_assert_eq(atomic_load(&f->errors), 0);
    cr_assert_eq(atomic_load(&f->bad_values), 0);
    cr_assert_eq(atomic_load(&f->zero_ids), 0);
    /* and after a restart nothing comes back */
    must(lsm_close(db), "close");
    db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver++)
        cr_assert_eq(count_members(db, ver), ver % 2 ? (size_t)nmem : 0);
    must(lsm_close(db), "close");
    free(f);
}

/* The liveness record and its members in the same memtable: at the flush the record is only in
 * the memtable being flushed (not in any table), and the members must survive; a version
 * created and deleted within one memtable loses its members at the flush already. */
Test(engine_filter, flush_sees_the_liveness_record_in_its_own_memtable)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    o.memtable_size = 4 << 20; /* everything below stays in one memtable */
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    put_live(db, 1);
    put_members(db, 1, 200);
    put_live(db, 2);
    put_members(db, 2, 200);
    del_live(db, 2);
    must(lsm_commit(db), "commit");
    flush_wait(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.flushes, 1);
    cr_assert_eq(st.compactions, 0);
    cr_assert_eq(st.filter_dropped, 200, "the flush drops the dead version's members only "
                 "(dropped %llu)", (unsigned long long)st.filter_dropped);
    expect_members(db, 1, 200, "after flush");
    cr_assert_eq(count_members(db, 2), 0);
    cr_assert_eq(atomic_load(&f->dropped_ver[1]), 0);
    /* members written over several memtables after their record: all survive */
    put_live(db, 3);
    must(lsm_commit(db), "commit");
    for (int r = 0; r < 4; r++) {
        char k[64], v[128];
        for (int i = r * 100; i < (r + 1) * 100; i++) {
            size_t kl = member_key(k, 3, i), vl = member_value(v, 3, i);
            must(lsm_put(db, k, kl, v, vl), "put");
        }
        must(lsm_commit(db), "commit");
        must(lsm_flush(db, 0), "flush");
    }
    /* one batch holding the members first and their record last (same batch counts as
     * written before) */
    lsm_batch *wb = lsm_batch_new();
    cr_assert_not_null(wb);
    for (int i = 0; i < 200; i++) {
        char k[64], v[128];
        size_t kl = member_key(k, 4, i), vl = member_value(v, 4, i);
        must(lsm_batch_put(wb, k, kl, v, vl), "batch put");
    }
    char lk[9];
    live_key(lk, 4);
    must(lsm_batch_put(wb, lk, sizeof lk, "live-4", 6), "batch put");
    must(lsm_write(db, wb), "write batch");
    lsm_batch_free(wb);
    must(lsm_commit(db), "commit");
    must(lsm_flush(db, 0), "flush");
    must(etu_wait_idle(db), "idle");
    compact_all(db);
    expect_members(db, 1, 200, "after compaction");
    expect_members(db, 3, 400, "after compaction");
    expect_members(db, 4, 200, "after compaction");
    cr_assert_eq(atomic_load(&f->dropped_ver[1]) | atomic_load(&f->dropped_ver[3]) |
                 atomic_load(&f->dropped_ver[4]), 0);
    must(lsm_close(db), "close");
    free(f);
}

/* The liveness record sits in a deeper level than the members (written long before them):
 * compactions of the members' levels read it through the whole version, not their inputs. */
Test(engine_filter, liveness_record_deeper_than_the_members_keeps_them)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    for (uint64_t ver = 1; ver <= 4; ver++)
        put_live(db, ver);
    /* filler on both sides of the records, so the records' file goes deep */
    char k[64], v[200];
    memset(v, 'f', sizeof v);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "a-filler-%06d", i);
        must(lsm_put(db, k, strlen(k), v, sizeof v), "put");
        snprintf(k, sizeof k, "z-filler-%06d", i);
        must(lsm_put(db, k, strlen(k), v, sizeof v), "put");
        if (i % 64 == 0) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "unstalled");
        }
    }
    must(lsm_commit(db), "commit");
    compact_all(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    int deepest = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++)
        if (st.level_files[l])
            deepest = l;
    cr_assert_gt(deepest, 0);
    /* members arrive later: L0, then compactions by score into L1 (records deeper) */
    for (uint64_t ver = 1; ver <= 4; ver++)
        put_members(db, ver, 400);
    flush_wait(db);
    for (int round = 0; round < 3; round++) {
        for (uint64_t ver = 1; ver <= 4; ver++) { /* rewrite: more L0 files, more compactions */
            char kk[64], vv[128];
            for (int i = 0; i < 400; i += 2) {
                size_t kl = member_key(kk, ver, i), vl = member_value(vv, ver, i);
                must(lsm_put(db, kk, kl, vv, vl), "put");
            }
            must(lsm_commit(db), "commit");
            must(lsm_flush(db, 0), "flush");
            must(etu_wait_unstalled(db), "unstalled");
        }
    }
    must(etu_wait_idle(db), "idle");
    lsm_get_stats(db, &st);
    cr_assert_gt(st.compactions, 1);
    for (uint64_t ver = 1; ver <= 4; ver++)
        expect_members(db, ver, 400, "records deeper than members");
    cr_assert_eq(st.filter_dropped, 0);
    /* now delete a version: its members go, wherever the delete and they sit */
    del_live(db, 3);
    must(lsm_commit(db), "commit");
    compact_all(db);
    cr_assert_eq(count_members(db, 3), 0);
    for (uint64_t ver = 1; ver <= 4; ver++)
        if (ver != 3)
            expect_members(db, ver, 400, "after deleting version 3");
    must(lsm_close(db), "close");
    free(f);
}

/* ---- snapshots -------------------------------------------------------------------------- */

/* Drops every value of keys "x..."; records the keys it was shown. */
typedef struct drop_x_filter {
    _Atomic uint64_t calls, shown_new; /* shown_new: a key written after the iterator */
} drop_x_filter;

static int drop_x_fn(void *ctx, lsm_filter_view *view, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    (void)view, (void)klen, (void)val;
    drop_x_filter *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    if (vlen >= 3 && memcmp(val, "new", 3) == 0)
        atomic_fetch_add(&f->shown_new, 1);
    return klen > 0 && ((const char *)key)[0] == 'x';
}

Test(engine_filter, entries_newer_than_a_live_iterator_are_neither_shown_nor_dropped)
{
    drop_x_filter f = {0};
    lsm_options o;
    etu_small_options(&o);
    o.compaction_filter = drop_x_fn;
    o.compaction_filter_ctx = &f;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    char k[64];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "x-old-%05d", i);
        must(lsm_put(db, k, strlen(k), "old", 3), "put");
    }
    must(lsm_commit(db), "commit");
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "x-new-%05d", i);
        must(lsm_put(db, k, strlen(k), "new", 3), "put");
    }
    must(lsm_commit(db), "commit");
    compact_all(db);
    cr_assert_eq(atomic_load(&f.shown_new), 0, "filter shown entries newer than the iterator");
    cr_assert_eq(iter_count_prefix(db, "x-new-", 6), 500, "newer entries dropped");
    cr_assert_eq(iter_count_prefix(db, "x-old-", 6), 0, "older entries kept");
    /* the iterator still reads its own view */
    size_t n = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
        n++;
    cr_assert_eq(n, 500);
    lsm_iter_free(it);
    compact_all(db);
    cr_assert_eq(iter_count_prefix(db, "x-", 2), 0, "once the iterator is gone all go");
    must(lsm_close(db), "close");
}

/* The view reads at the job's smallest snapshot: a version deleted after an iterator was made
 * is still live for that iterator, so its members stay until the iterator is freed. */
Test(engine_filter, view_reads_at_the_oldest_iterator_snapshot)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    put_live(db, 7);
    put_members(db, 7, 300);
    compact_all(db);
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    del_live(db, 7);
    must(lsm_commit(db), "commit");
    compact_all(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.filter_dropped, 0, "dropped members of a version live at the iterator");
    expect_members(db, 7, 300, "iterator alive");
    lsm_iter_free(it);
    compact_all(db);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.filter_dropped, 300);
    cr_assert_eq(count_members(db, 7), 0);
    must(lsm_close(db), "close");
    free(f);
}

/* ---- consistency under concurrent flushes -------------------------------------------------- */

Test(engine_filter, view_is_consistent_while_flushes_and_compactions_run)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    o.memtable_size = 32 << 10; /* a flush every few versions */
    o.compaction_threads = 2;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    etu_rng r;
    etu_rng_init(&r, etu_seed(42));
    static unsigned char live[MAXV], deleted[MAXV];
    memset(live, 0, sizeof live);
    memset(deleted, 0, sizeof deleted);
    const int rounds = ETU_SANITIZED ? 120 : 300, nmem = 40;
    uint64_t next = 1;
    for (int round = 0; round < rounds; round++) {
        for (int c = 0; c < 3; c++) { /* create: record first, then members */
            uint64_t ver = next++;
            put_live(db, ver);
            put_members(db, ver, nmem);
            live[ver] = 1;
        }
        uint64_t victim = 1 + etu_rng_below(&r, next - 1);
        if (live[victim]) {
            del_live(db, victim);
            must(lsm_commit(db), "commit");
            live[victim] = 0;
            deleted[victim] = 1;
            if (etu_rng_below(&r, 4) == 0)
                compact_version(db, victim, 0);
        }
        lsm_poll(db);
        must(etu_wait_unstalled(db), "unstalled");
        for (uint64_t v = 1; v < next; v++)
            cr_assert(!live[v] || !atomic_load(&f->dropped_ver[v]),
                      "round %d: a member of live version %llu was dropped", round,
                      (unsigned long long)v);
        if (round % 50 == 49)
            for (uint64_t v = 1; v < next; v++)
                if (live[v])
                    expect_members(db, v, nmem, "during the run");
    }
    compact_all(db);
    for (uint64_t v = 1; v < next; v++) {
        cr_assert(!live[v] || !atomic_load(&f->dropped_ver[v]));
        if (live[v])
            expect_members(db, v, nmem, "at the end");
        else
            cr_assert_eq(count_members(db, v), 0, "deleted version %llu: members remain",
                         (unsigned long long)v);
    }
    cr_assert_eq(atomic_load(&f->errors), 0);
    cr_assert_eq(atomic_load(&f->bad_values), 0);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_gt(st.flushes, 10);
    must(lsm_close(db), "close");
    free(f);
}

/* ---- queued manual compactions -------------------------------------------------------------- */

Test(engine_filter, many_queued_compact_range_calls_all_run)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    o.deletion_compaction_percent = 0; /* only the manual requests compact */
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int nver = 200, nmem = 30;
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver++) {
        put_live(db, ver);
        put_members(db, ver, nmem);
    }
    compact_all(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t compactions0 = st.compactions;
    int max_queued = 0;
    uint64_t worst_ms = 0;
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver += 2) {
        del_live(db, ver);
        must(lsm_commit(db), "commit");
        uint64_t t0 = etu_now_ms();
        compact_version(db, ver, 0); /* as the server after deleting a big collection */
        uint64_t dt = etu_now_ms() - t0;
        if (dt > worst_ms)
            worst_ms = dt;
        lsm_get_stats(db, &st);
        if (st.queued_manual_compactions > max_queued)
            max_queued = st.queued_manual_compactions;
        cr_assert_leq(st.queued_manual_compactions, 64);
    }
    cr_assert_gt(max_queued, 1, "requests did not queue");
    cr_assert_lt(worst_ms, ETU_SANITIZED ? 3000 : 1000, "lsm_compact_range(wait=0) blocked %llu ms",
                 (unsigned long long)worst_ms);
    /* no more calls: the queue drains in the background */
    for (int i = 0; i < 2000; i++) {
        must(etu_wait_idle(db) == LSM_EBUSY ? LSM_EBUSY : 0, "idle");
        lsm_get_stats(db, &st);
        if (st.queued_manual_compactions == 0 && st.running_compactions == 0)
            break;
    }
    cr_assert_eq(st.queued_manual_compactions, 0);
    cr_assert_gt(st.compactions, compactions0);
    for (uint64_t ver = 1; ver <= (uint64_t)nver; ver++) {
        if (ver % 2)
            cr_assert_eq(count_members(db, ver), 0, "version %llu: request lost",
                         (unsigned long long)ver);
        else
            expect_members(db, ver, nmem, "queued requests");
    }
    cr_assert_eq(st.filter_dropped, (uint64_t)(nver / 2) * nmem);
    must(lsm_close(db), "close");
    free(f);
}

/* Two requests in a row while the first cannot start yet (its flush pending): both run (the
 * single pending slot used to keep only the second). */
Test(engine_filter, second_request_while_one_is_pending_or_running_is_not_lost)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    o.deletion_compaction_percent = 0;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    for (uint64_t ver = 1; ver <= 40; ver++) {
        put_live(db, ver);
        put_members(db, ver, 100);
    }
    compact_all(db);
    del_live(db, 5);
    del_live(db, 35);
    must(lsm_commit(db), "commit");
    compact_version(db, 5, 0);
    compact_version(db, 35, 0);
    must(etu_wait_idle(db), "idle");
    cr_assert_eq(count_members(db, 5), 0, "first request lost");
    cr_assert_eq(count_members(db, 35), 0, "second request lost");
    /* and a request made while a manual compaction runs */
    del_live(db, 10);
    del_live(db, 20);
    must(lsm_commit(db), "commit");
    must(lsm_flush(db, 1), "flush");
    compact_version(db, 10, 0);
    lsm_stats st;
    for (int i = 0; i < 200; i++) { /* until the first one runs (or is already done) */
        lsm_get_stats(db, &st);
        if (st.running_compactions > 0 || st.queued_manual_compactions == 0)
            break;
        etu_poll_once(db, 5);
    }
    compact_version(db, 20, 0);
    must(etu_wait_idle(db), "idle");
    cr_assert_eq(count_members(db, 10), 0);
    cr_assert_eq(count_members(db, 20), 0);
    for (uint64_t ver = 1; ver <= 40; ver++)
        if (ver != 5 && ver != 35 && ver != 10 && ver != 20)
            cr_assert_eq(count_members(db, ver), 100);
    must(lsm_close(db), "close");
    free(f);
}

/* As the server does it: the liveness record's delete and the request inside one command's
 * write group, committed after; and a request made before the commit of its deletes. The
 * requests run once the memtable holding the deletes is flushed, with no further call. */
Test(engine_filter, queued_request_inside_a_write_group_and_before_the_commit)
{
    live_filter *f = live_filter_new();
    lsm_options o;
    filter_options(&o, f);
    o.deletion_compaction_percent = 0;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    for (uint64_t ver = 1; ver <= 20; ver++) {
        put_live(db, ver);
        put_members(db, ver, 100);
    }
    compact_all(db);
    lsm_group_begin(db);
    del_live(db, 3);
    compact_version(db, 3, 0);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), LSM_EINVAL, "wait=1 in a group");
    must(lsm_group_end(db), "group end");
    must(lsm_commit(db), "commit");
    must(etu_wait_idle(db), "idle");
    cr_assert_eq(count_members(db, 3), 0, "request made inside a group did not run");
    del_live(db, 9);
    compact_version(db, 9, 0); /* the delete is not committed yet */
    must(lsm_commit(db), "commit");
    must(etu_wait_idle(db), "idle");
    cr_assert_eq(count_members(db, 9), 0, "request made before the commit did not run");
    for (uint64_t ver = 1; ver <= 20; ver++)
        if (ver != 3 && ver != 9)
            cr_assert_eq(count_members(db, ver), 100);
    must(lsm_close(db), "close");
    free(f);
}

/* ---- tombstone-dense tables ------------------------------------------------------------------ */

static void write_then_delete(lsm_t *db, int n, const char *prefix)
{
    char k[64], v[200];
    etu_rng r;
    etu_rng_init(&r, 9);
    for (int i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof v; j += 8) { /* incompressible */
            uint64_t x = etu_rng_next(&r);
            memcpy(v + j, &x, 8);
        }
        snprintf(k, sizeof k, "%s%06d", prefix, i);
        must(lsm_put(db, k, strlen(k), v, sizeof v), "put");
        if (i % 64 == 0) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "unstalled");
        }
    }
    must(lsm_commit(db), "commit");
}

static void delete_all(lsm_t *db, int n, const char *prefix)
{
    char k[64];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "%s%06d", prefix, i);
        must(lsm_delete(db, k, strlen(k)), "delete");
        if (i % 64 == 0) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "unstalled");
        }
    }
    must(lsm_commit(db), "commit");
}

static uint64_t sst_bytes(lsm_t *db)
{
    lsm_stats st;
    lsm_get_stats(db, &st);
    return st.total_sst_bytes;
}

Test(engine_filter, tombstone_dense_table_is_compacted_without_manual_calls)
{
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 1 << 20; /* the deletes fit one memtable: one L0 table, below trigger */
    o.deletion_compaction_min_entries = 500;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int n = 3000;
    write_then_delete(db, n, "k");
    compact_all(db);
    uint64_t full = sst_bytes(db);
    cr_assert_gt(full, 500000);
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t compactions0 = st.compactions;
    delete_all(db, n, "k");
    must(lsm_flush(db, 1), "flush"); /* no lsm_compact_range from here on */
    must(etu_wait_idle(db), "idle");
    lsm_get_stats(db, &st);
    cr_assert_gt(st.deletion_compactions, 0, "no tombstone compaction was picked");
    cr_assert_gt(st.compactions, compactions0);
    cr_assert_lt(st.total_sst_bytes, full / 10, "space not back: %llu of %llu bytes",
                 (unsigned long long)st.total_sst_bytes, (unsigned long long)full);
    cr_assert_eq(iter_count_prefix(db, "k", 1), 0);
    cr_assert_gt(st.tombstones_dropped, 0);
    /* nothing left to pick: the engine goes idle and stays there */
    uint64_t c = st.compactions;
    for (int i = 0; i < 20; i++)
        etu_poll_once(db, 5);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.compactions, c, "compactions keep being picked");
    must(lsm_close(db), "close");
}

/* With the picker off the same deletes stay in L0 (the control); the MANIFEST keeps the delete
 * counts, so after a restart with the picker on the table is compacted. */
Test(engine_filter, tombstone_counts_survive_a_restart)
{
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 1 << 20;
    o.deletion_compaction_min_entries = 500;
    o.deletion_compaction_percent = 0;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int n = 3000;
    write_then_delete(db, n, "k");
    compact_all(db);
    uint64_t full = sst_bytes(db);
    delete_all(db, n, "k");
    must(lsm_flush(db, 1), "flush");
    must(etu_wait_idle(db), "idle");
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 1, "the deletes sit in one L0 table");
    cr_assert_eq(st.deletion_compactions, 0);
    cr_assert_gt(st.total_sst_bytes, full, "control: nothing was compacted");
    must(lsm_close(db), "close");
    o.deletion_compaction_percent = 50;
    db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    must(etu_wait_idle(db), "idle");
    lsm_get_stats(db, &st);
    cr_assert_gt(st.deletion_compactions, 0);
    cr_assert_lt(st.total_sst_bytes, full / 10);
    cr_assert_eq(iter_count_prefix(db, "k", 1), 0);
    must(lsm_close(db), "close");
}

/* A tombstone-dense table newer than a live iterator cannot lose its deletes yet: the picker
 * must not rewrite it again and again (no busy loop), and does once the iterator is gone. */
Test(engine_filter, tombstone_table_newer_than_an_iterator_is_not_picked_in_a_loop)
{
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 1 << 20;
    o.deletion_compaction_min_entries = 500;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    const int n = 3000;
    write_then_delete(db, n, "k");
    compact_all(db);
    uint64_t full = sst_bytes(db);
    lsm_iter *it = lsm_iter_new(db); /* older than the deletes */
    cr_assert_not_null(it);
    delete_all(db, n, "k");
    must(lsm_flush(db, 1), "flush");
    must(etu_wait_idle(db), "idle");
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t c = st.compactions;
    cr_assert_leq(c, 10);
    for (int i = 0; i < 20; i++)
        etu_poll_once(db, 5);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.compactions, c, "tombstone compactions loop while an iterator pins them");
    size_t seen = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
        seen++;
    cr_assert_eq(seen, (size_t)n, "the iterator lost its view");
    lsm_iter_free(it);
    /* the next poll picks it now */
    etu_poll_once(db, 5);
    must(etu_wait_idle(db), "idle");
    cr_assert_lt(sst_bytes(db), full / 10);
    must(lsm_close(db), "close");
}
