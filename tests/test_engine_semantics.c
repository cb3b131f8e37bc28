/* test_engine_semantics.c - whole-engine semantics through the public API (lsm.h) only.
 *
 * Each test pins one boundary where LSM engines classically lose or resurrect data:
 *   - an empty value is a value (not a delete) through flush, compaction and restart;
 *   - put -> delete -> put of one key spread over memtable, L0 and deeper levels;
 *   - a delete over an older version in a deeper level never lets it come back;
 *   - after a restart newer data beats older data whatever the files/levels hold it, and the
 *     sequence number never goes back;
 *   - persistent counters are exact after flushes and restarts;
 *   - an iterator keeps its view while flush and compaction run underneath;
 *   - the expire hook drops values only when no older version can exist below.
 * Small memtables/files so that a few hundred KiB of writes flush and compact. */
#include <criterion/criterion.h>

#include "engine_test_util.h"

#define KEYFMT "key%06d"

static void key_of(char *buf, size_t n, int i)
{
    snprintf(buf, n, KEYFMT, i);
}

/* Asserts db holds exactly value v (length vlen) for key k; ctx names the stage. */
static void expect_value(lsm_t *db, const char *k, const void *v, size_t vlen, const char *ctx)
{
    lsm_buf b = {0};
    int rc = lsm_get(db, k, strlen(k), &b);
    cr_assert_eq(rc, 0, "[%s] get(%s): %s (%d), expected a %zu-byte value", ctx, k,
                 lsm_strerror(rc), rc, vlen);
    cr_assert(etu_buf_eq(&b, v, vlen), "[%s] get(%s): got %zu bytes '%.*s', expected %zu '%.*s'",
              ctx, k, b.len, (int)(b.len > 64 ? 64 : b.len), b.data ? b.data : "", vlen,
              (int)(vlen > 64 ? 64 : vlen), (const char *)v);
    lsm_buf_free(&b);
}

static void expect_str(lsm_t *db, const char *k, const char *v, const char *ctx)
{
    expect_value(db, k, v, strlen(v), ctx);
}

static void expect_absent(lsm_t *db, const char *k, const char *ctx)
{
    lsm_buf b = {0};
    int rc = lsm_get(db, k, strlen(k), &b);
    cr_assert_eq(rc, LSM_ENOTFOUND, "[%s] get(%s): expected ENOTFOUND, got %s (%d) value '%.*s'",
                 ctx, k, lsm_strerror(rc), rc, (int)(b.len > 64 ? 64 : b.len),
                 b.data ? b.data : "");
    lsm_buf_free(&b);
}

static void must(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "%s: %s (%d)", what, lsm_strerror(rc), rc);
}

static void flush_wait(lsm_t *db)
{
    must(lsm_flush(db, 1), "lsm_flush(wait)");
    must(etu_wait_idle(db), "wait idle after flush");
}

static void compact_all(lsm_t *db)
{
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "lsm_compact_range(all, wait)");
    must(etu_wait_idle(db), "wait idle after compaction");
}

static lsm_t *reopen(lsm_t *db, const char *dir, const lsm_options *o)
{
    if (db != NULL)
        must(lsm_close(db), "lsm_close");
    lsm_t *n = etu_open(dir, o);
    cr_assert_not_null(n, "reopen %s failed: %s", dir, lsm_last_error(NULL));
    return n;
}

/* Counts the live keys an iterator yields and checks they are strictly ascending. */
static size_t iter_count(lsm_t *db)
{
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    size_t n = 0;
    char prev[256];
    size_t prevlen = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (n > 0) {
            size_t m = kl < prevlen ? kl : prevlen;
            int c = memcmp(prev, k, m);
            cr_assert(c < 0 || (c == 0 && prevlen < kl), "iterator keys not ascending at %zu", n);
        }
        prevlen = kl < sizeof prev ? kl : sizeof prev;
        memcpy(prev, k, prevlen);
        n++;
    }
    cr_assert_eq(lsm_iter_status(it), 0, "iterator status %d", lsm_iter_status(it));
    lsm_iter_free(it);
    return n;
}

/* Writes filler keys until at least `bytes` were written, honoring stalls; this makes the engine
 * flush and run its own (score-picked) compactions. overlap=0: keys "zfill..." after every test
 * key; overlap=1: keys "key<6 digits>~..." interleaved with the test keys key000000..key001999
 * (longer than 9 bytes), so the engine's compactions take files holding the test keys. */
static void write_filler(lsm_t *db, size_t bytes, int round, int overlap)
{
    char k[64], v[200];
    etu_rng r;
    etu_rng_init(&r, (uint64_t)round * 7 + (uint64_t)overlap);
    size_t done = 0;
    for (int i = 0; done < bytes; i++) {
        for (size_t j = 0; j < sizeof v; j += 8) { /* incompressible: real file sizes */
            uint64_t x = etu_rng_next(&r);
            memcpy(v + j, &x, 8);
        }
        if (overlap)
            snprintf(k, sizeof k, "key%06d~%02d-%07d", i % 2000, round, i);
        else
            snprintf(k, sizeof k, "zfill%02d-%07d", round, i);
        must(lsm_put(db, k, strlen(k), v, sizeof v), "filler put");
        done += strlen(k) + sizeof v;
        if (i % 64 == 0) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "wait unstalled");
            lsm_poll(db);
        }
    }
    must(lsm_commit(db), "commit");
}

/* Prints files per level (diagnostics: shows which layout a test built). */
static void print_levels(lsm_t *db, const char *what)
{
    lsm_stats st;
    lsm_get_stats(db, &st);
    fprintf(stderr, "  %s: files per level", what);
    for (int l = 0; l < LSM_MAX_LEVELS; l++)
        fprintf(stderr, " %d", st.level_files[l]);
    fprintf(stderr, "\n");
}

static char g_dir[512];

static void setup_dir(void)
{
    cr_assert_not_null(etu_tmpdir(g_dir, sizeof g_dir, "sem"));
}

static void teardown_dir(void)
{
    if (g_dir[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_dir);
}

TestSuite(engine_semantics, .init = setup_dir, .fini = teardown_dir, .timeout = 300);

/* ---------------------------------------------------------------------------------------------- */

Test(engine_semantics, empty_value_is_a_value_through_flush_compaction_restart)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);

    /* "e" has only ever an empty value; "o" has an older non-empty value sunk to the last level
     * with an empty value on top; "d" is a real delete next to them for contrast. */
    must(etu_put_str(db, "o", "old-value"), "put o");
    must(etu_put_str(db, "d", "to-delete"), "put d");
    flush_wait(db);
    compact_all(db);
    must(lsm_put(db, "e", 1, "", 0), "put e=''");
    must(lsm_put(db, "o", 1, "", 0), "put o=''");
    must(lsm_delete(db, "d", 1), "delete d");
    /* a NULL value pointer with length 0 is an empty value too */
    must(lsm_put(db, "n", 1, NULL, 0), "put n=NULL,0");

    const char *stages[] = {"memtable", "L0 after flush", "after full compaction", "after restart",
                            "after restart+compaction"};
    for (int s = 0; s < 5; s++) {
        if (s == 1)
            flush_wait(db);
        if (s == 2)
            compact_all(db);
        if (s == 3)
            db = reopen(db, g_dir, &o);
        if (s == 4)
            compact_all(db);
        expect_value(db, "e", "", 0, stages[s]);
        expect_value(db, "o", "", 0, stages[s]);
        expect_value(db, "n", "", 0, stages[s]);
        expect_absent(db, "d", stages[s]);
        /* the iterator yields the empty values as keys with zero-length values */
        lsm_iter *it = lsm_iter_new(db);
        cr_assert_not_null(it);
        const char *want[] = {"e", "n", "o"};
        int n = 0;
        for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
            size_t kl, vl;
            const char *k = lsm_iter_key(it, &kl);
            (void)lsm_iter_value(it, &vl);
            cr_assert_lt(n, 3, "[%s] iterator yields more than 3 keys", stages[s]);
            cr_assert(kl == 1 && k[0] == want[n][0], "[%s] iterator key %d is '%.*s', want '%s'",
                      stages[s], n, (int)kl, k, want[n]);
            cr_assert_eq(vl, 0, "[%s] iterator value of %s has %zu bytes", stages[s], want[n],
                         vl);
        }
        cr_assert_eq(n, 3, "[%s] iterator yielded %d keys, want 3 (e, n, o)", stages[s], n);
        lsm_iter_free(it);
    }
    must(lsm_close(db), "close");
}

Test(engine_semantics, put_delete_put_reads_last_put_in_every_layer)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    char k[32];

    /* Key group A: put v1 -> deep level; delete -> L0; put v3 -> memtable.
     * Key group B: put v1 -> L0; delete -> memtable (absent).
     * Key group C: put v1 -> deep; delete -> deep; put v3 -> L0. */
    for (int i = 0; i < 300; i++) {
        key_of(k, sizeof k, i);
        must(etu_put_str(db, k, "v1"), "put v1");
    }
    flush_wait(db);
    compact_all(db);
    for (int i = 0; i < 300; i++) {
        key_of(k, sizeof k, i);
        if (i % 3 != 1)
            must(lsm_delete(db, k, strlen(k)), "delete");
    }
    /* group C deletes go deep too */
    flush_wait(db);
    for (int i = 0; i < 300; i++) {
        key_of(k, sizeof k, i);
        if (i % 3 == 1)
            must(lsm_delete(db, k, strlen(k)), "delete B");
    }
    for (int i = 0; i < 300; i++) {
        key_of(k, sizeof k, i);
        if (i % 3 == 0)
            must(etu_put_str(db, k, "v3"), "put v3");
    }
    /* Now: i%3==0 -> v3 in memtable over delete in L0 over v1 deep.
     *      i%3==1 -> delete in memtable over v1 deep (absent).
     *      i%3==2 -> delete in L0 over v1 deep (absent). */
    const char *stages[] = {"mem/L0/deep", "after flush", "after full compaction", "after reopen",
                            "after put v4 + reopen + compaction"};
    for (int s = 0; s < 5; s++) {
        if (s == 1)
            flush_wait(db);
        if (s == 2)
            compact_all(db);
        if (s == 3)
            db = reopen(db, g_dir, &o);
        if (s == 4) {
            /* put v4 over the group-2 deletes (which may be gone by now), then reopen */
            for (int i = 2; i < 300; i += 3) {
                key_of(k, sizeof k, i);
                must(etu_put_str(db, k, "v4"), "put v4");
            }
            must(lsm_commit(db), "commit");
            db = reopen(db, g_dir, &o);
            compact_all(db);
        }
        for (int i = 0; i < 300; i++) {
            key_of(k, sizeof k, i);
            if (i % 3 == 0)
                expect_str(db, k, "v3", stages[s]);
            else if (i % 3 == 2 && s == 4)
                expect_str(db, k, "v4", stages[s]);
            else
                expect_absent(db, k, stages[s]);
        }
        size_t want = s == 4 ? 200 : 100;
        cr_assert_eq(iter_count(db), want, "[%s] iterator count", stages[s]);
    }
    must(lsm_close(db), "close");
}

Test(engine_semantics, delete_over_deeper_version_never_resurrects)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    enum { N = 2000 };
    char k[32], v[128];

    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "old-%06d-%060d", i, 0);
        must(etu_put_str(db, k, v), "put old");
    }
    write_filler(db, 2u << 20, 90, 1); /* enough data for more than one level */
    flush_wait(db);
    compact_all(db); /* old versions now at the last level (below L1) */
    print_levels(db, "delete_over_deeper_version: old versions compacted");
    for (int i = 0; i < N; i += 2) {
        key_of(k, sizeof k, i);
        must(lsm_delete(db, k, strlen(k)), "delete");
    }
    flush_wait(db); /* tombstones in L0 */

    for (int round = 0; round < 6; round++) {
        const char *stage;
        switch (round) {
        case 0: stage = "tombstones in L0"; break;
        case 1: stage = "after engine-picked compactions (filler writes)";
            write_filler(db, 1u << 20, round, 1);
            break;
        case 2: stage = "after compact_range of a middle sub-range";
            must(lsm_compact_range(db, "key000500", 9, "key001000", 9, 1), "compact sub-range");
            break;
        case 3: stage = "after reopen"; db = reopen(db, g_dir, &o); break;
        case 4: stage = "after more filler + full compaction";
            write_filler(db, 512u << 10, round, 1);
            compact_all(db);
            break;
        default: stage = "after reopen + full compaction";
            db = reopen(db, g_dir, &o);
            compact_all(db);
            break;
        }
        etu_poll_once(db, 0);
        for (int i = 0; i < N; i++) {
            key_of(k, sizeof k, i);
            if (i % 2 == 0) {
                expect_absent(db, k, stage);
            } else {
                snprintf(v, sizeof v, "old-%06d-%060d", i, 0);
                expect_str(db, k, v, stage);
            }
        }
        /* the iterator must not show them either */
        lsm_iter *it = lsm_iter_new(db);
        size_t seen = 0;
        for (lsm_iter_seek(it, "key", 3); lsm_iter_valid(it); lsm_iter_next(it)) {
            size_t kl;
            const char *ik = lsm_iter_key(it, &kl);
            if (kl < 3 || memcmp(ik, "key", 3) != 0)
                break;
            if (kl != 9)
                continue; /* overlapping filler */
            char num[16] = {0};
            memcpy(num, ik + 3, kl - 3 < sizeof num - 1 ? kl - 3 : sizeof num - 1);
            int idx = atoi(num);
            cr_assert(idx % 2 == 1, "[%s] iterator yields deleted key %.*s", stage, (int)kl, ik);
            seen++;
        }
        cr_assert_eq(lsm_iter_status(it), 0);
        lsm_iter_free(it);
        cr_assert_eq(seen, N / 2, "[%s] iterator saw %zu live keys, want %d", stage, seen, N / 2);
    }
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_expect_gt(st.compactions, 0, "the filler writes should have caused compactions");
    must(lsm_close(db), "close");
}

Test(engine_semantics, newer_beats_older_after_restart_whatever_level_holds_it)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    char k[32];

    /* v1 -> flushed and compacted to the deepest level (newest file numbers at that point);
     * v2 -> flushed to L0; then restart. */
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        must(etu_put_str(db, k, "v1"), "put v1");
    }
    flush_wait(db);
    compact_all(db);
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        must(etu_put_str(db, k, "v2"), "put v2");
    }
    flush_wait(db);
    db = reopen(db, g_dir, &o);
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        expect_str(db, k, "v2", "v2 in L0 over v1 deep, after reopen");
    }
    /* v3 in the WAL only (not flushed), over v2 compacted deep: restart replays the WAL. */
    compact_all(db);
    for (int i = 0; i < 500; i += 2) {
        key_of(k, sizeof k, i);
        must(etu_put_str(db, k, "v3"), "put v3");
    }
    must(lsm_commit(db), "commit");
    db = reopen(db, g_dir, &o);
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        expect_str(db, k, i % 2 == 0 ? "v3" : "v2", "v3 from WAL replay over v2 deep");
    }
    /* then compaction after the restart must keep the newest */
    flush_wait(db);
    compact_all(db);
    db = reopen(db, g_dir, &o);
    for (int i = 0; i < 500; i++) {
        key_of(k, sizeof k, i);
        expect_str(db, k, i % 2 == 0 ? "v3" : "v2", "after flush+compaction+reopen");
    }
    must(lsm_close(db), "close");
}

/* Many restart cycles, each overwriting every key and leaving the newest version in a different
 * place (WAL only, L0, deepest level, half/half). A sequence number that goes back after a
 * restart shows up as an older version winning in a later merge. */
Test(engine_semantics, sequence_never_goes_back_over_many_restarts)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    enum { N = 300, CYCLES = 24 };
    char k[32], v[32];
    lsm_stats st;
    uint64_t last_seq = 0;

    for (int c = 0; c < CYCLES; c++) {
        for (int i = 0; i < N; i++) {
            if (c % 4 == 3 && i == N / 2)
                flush_wait(db);
            key_of(k, sizeof k, i);
            snprintf(v, sizeof v, "cycle-%02d", c);
            must(etu_put_str(db, k, v), "put");
        }
        must(lsm_commit(db), "commit");
        switch (c % 4) {
        case 0: break;                           /* WAL only */
        case 1: flush_wait(db); break;           /* L0 */
        case 2: flush_wait(db); compact_all(db); /* deepest */ break;
        default: break;                          /* half L0, half WAL */
        }
        lsm_get_stats(db, &st);
        cr_assert_gt(st.last_sequence, last_seq, "cycle %d: last_sequence %" PRIu64
                     " did not grow past %" PRIu64, c, st.last_sequence, last_seq);
        last_seq = st.last_sequence;
        db = reopen(db, g_dir, &o);
        lsm_get_stats(db, &st);
        cr_assert_geq(st.last_sequence, last_seq, "cycle %d: last_sequence went back after "
                      "restart: %" PRIu64 " < %" PRIu64, c, st.last_sequence, last_seq);
        /* every other cycle, one more restart with no writes at all */
        if (c % 2 == 1)
            db = reopen(db, g_dir, &o);
        snprintf(v, sizeof v, "cycle-%02d", c);
        for (int i = 0; i < N; i++) {
            key_of(k, sizeof k, i);
            expect_str(db, k, v, "after restart");
        }
    }
    compact_all(db);
    db = reopen(db, g_dir, &o);
    snprintf(v, sizeof v, "cycle-%02d", CYCLES - 1);
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        expect_str(db, k, v, "final compaction + reopen");
    }
    cr_assert_eq(iter_count(db), (size_t)N);
    must(lsm_close(db), "close");
}

Test(engine_semantics, counters_exact_after_flush_and_reopen)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    int64_t model[LSM_MAX_COUNTERS] = {0};
    lsm_batch *b = lsm_batch_new();
    cr_assert_not_null(b);

    cr_assert_neq(lsm_batch_counter_add(b, LSM_MAX_COUNTERS, 1), 0, "idx out of range accepted");
    cr_assert_neq(lsm_batch_counter_add(b, -1, 1), 0, "negative idx accepted");
    lsm_batch_clear(b);

    for (int i = 0; i < LSM_MAX_COUNTERS; i++)
        cr_assert_eq(lsm_counter(db, i), 0, "fresh counter %d is %" PRId64, i, lsm_counter(db, i));

    /* a counter-only batch (no ops) */
    must(lsm_batch_counter_add(b, 0, 7), "counter_add");
    must(lsm_batch_counter_add(b, 63, INT64_C(1) << 40), "counter_add");
    must(lsm_batch_counter_add(b, 0, -2), "counter_add (same idx twice)");
    must(lsm_write(db, b), "write counter-only batch");
    model[0] = 5;
    model[63] = INT64_C(1) << 40;

    etu_rng r;
    uint64_t seed = etu_seed(42);
    etu_rng_init(&r, seed);
    char k[32], v[300];
    memset(v, 'c', sizeof v);
    for (int round = 0; round < 40; round++) {
        for (int j = 0; j < 50; j++) {
            lsm_batch_clear(b);
            int nops = (int)etu_rng_below(&r, 4);
            for (int op = 0; op < nops; op++) {
                key_of(k, sizeof k, (int)etu_rng_below(&r, 5000));
                if (etu_rng_below(&r, 4) == 0)
                    must(lsm_batch_delete(b, k, strlen(k)), "batch delete");
                else
                    must(lsm_batch_put(b, k, strlen(k), v, 50 + etu_rng_below(&r, 250)),
                         "batch put");
            }
            int nc = 1 + (int)etu_rng_below(&r, 3);
            for (int c = 0; c < nc; c++) {
                int idx = (int)etu_rng_below(&r, LSM_MAX_COUNTERS);
                int64_t d = (int64_t)etu_rng_below(&r, 2001) - 1000;
                must(lsm_batch_counter_add(b, idx, d), "counter_add");
                model[idx] += d;
            }
            must(lsm_write(db, b), "lsm_write");
            must(etu_wait_unstalled(db), "wait unstalled");
        }
        must(lsm_commit(db), "commit");
        switch (round % 5) {
        case 0: db = reopen(db, g_dir, &o); break;               /* WAL replay */
        case 1: flush_wait(db); db = reopen(db, g_dir, &o); break; /* WAL gone, MANIFEST */
        case 2: flush_wait(db); compact_all(db); break;
        case 3: etu_poll_once(db, 0); break;
        default: db = reopen(db, g_dir, &o); db = reopen(db, g_dir, &o); break;
        }
        for (int i = 0; i < LSM_MAX_COUNTERS; i++)
            cr_assert_eq(lsm_counter(db, i), model[i],
                         "seed %" PRIu64 " round %d: counter %d is %" PRId64 ", want %" PRId64,
                         seed, round, i, lsm_counter(db, i), model[i]);
    }
    lsm_batch_free(b);
    must(lsm_close(db), "close");
}

/* One key written twice in a batch: the later op wins (also after flush and restart). */
Test(engine_semantics, batch_later_op_on_same_key_wins)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    lsm_batch *b = lsm_batch_new();
    must(lsm_batch_put(b, "a", 1, "first", 5), "put");
    must(lsm_batch_put(b, "a", 1, "second", 6), "put");
    must(lsm_batch_put(b, "b", 1, "x", 1), "put");
    must(lsm_batch_delete(b, "b", 1), "delete");
    must(lsm_batch_delete(b, "c", 1), "delete");
    must(lsm_batch_put(b, "c", 1, "", 0), "put");
    cr_assert_eq(lsm_batch_count(b), 6);
    must(lsm_write(db, b), "write");
    must(lsm_commit(db), "commit");
    for (int s = 0; s < 3; s++) {
        if (s == 1)
            db = reopen(db, g_dir, &o);
        if (s == 2) {
            flush_wait(db);
            compact_all(db);
            db = reopen(db, g_dir, &o);
        }
        expect_str(db, "a", "second", "batch");
        expect_absent(db, "b", "batch");
        expect_value(db, "c", "", 0, "batch");
    }
    lsm_batch_free(b);
    must(lsm_close(db), "close");
}

/* Binary-safe keys and values: NUL and 0xff bytes, a key that is a prefix of another. */
Test(engine_semantics, binary_keys_and_values_order_bytewise)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    const char keys[][4] = {{'\0'}, {'\0', '\0'}, {'\0', '\x01'}, {'a'}, {'a', '\0'},
                            {'a', '\xff'}, {'\x7f'}, {'\x80'}, {'\xff'}, {'\xff', '\xff'}};
    const size_t lens[] = {1, 2, 2, 1, 2, 2, 1, 1, 1, 2};
    const int n = (int)(sizeof lens / sizeof lens[0]);
    /* insert in reverse order, half flushed */
    for (int i = n - 1; i >= 0; i--) {
        char val[3] = {'\0', (char)i, '\xff'};
        must(lsm_put(db, keys[i], lens[i], val, 3), "put");
        if (i == n / 2)
            flush_wait(db);
    }
    for (int s = 0; s < 2; s++) {
        if (s == 1) {
            compact_all(db);
            db = reopen(db, g_dir, &o);
        }
        lsm_iter *it = lsm_iter_new(db);
        int i = 0;
        for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
            size_t kl, vl;
            const char *k = lsm_iter_key(it, &kl);
            const char *v = lsm_iter_value(it, &vl);
            cr_assert_lt(i, n);
            cr_assert(kl == lens[i] && memcmp(k, keys[i], kl) == 0, "stage %d: key %d wrong", s,
                      i);
            char val[3] = {'\0', (char)i, '\xff'};
            cr_assert(vl == 3 && memcmp(v, val, 3) == 0, "stage %d: value %d wrong", s, i);
        }
        cr_assert_eq(i, n, "stage %d: %d keys iterated, want %d", s, i, n);
        /* seek to a key between two stored ones */
        lsm_iter_seek(it, "a\0\0", 3);
        cr_assert(lsm_iter_valid(it));
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        cr_assert(kl == 2 && k[0] == 'a' && k[1] == '\xff', "seek(a\\0\\0) landed wrong");
        lsm_iter_free(it);
    }
    must(lsm_close(db), "close");
}

/* An iterator created before a storm of overwrites, deletes, flushes and compactions yields
 * exactly the view at its creation, also when the storm happens half-way through the walk. */
Test(engine_semantics, iterator_keeps_its_view_under_flush_and_compaction)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    enum { N = 3000 };
    char k[32], v[128];

    /* keys 0..N-1 spread over deep level / L0 / memtable, with shadowed versions */
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "base-%d-%050d", i, 0);
        must(etu_put_str(db, k, v), "put base");
        if (i == N / 3) {
            flush_wait(db);
            compact_all(db);
        }
        if (i == 2 * N / 3)
            flush_wait(db);
    }
    for (int i = 0; i < N; i += 5) {
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "view-%d", i);
        must(etu_put_str(db, k, v), "put view");
    }
    for (int i = 3; i < N; i += 7) {
        key_of(k, sizeof k, i);
        must(lsm_delete(db, k, strlen(k)), "delete");
    }
    /* expected view */
    #define EXPECTED(i, buf) (((i) % 7 == 3) ? NULL : ((i) % 5 == 0 ? \
        (snprintf(buf, sizeof buf, "view-%d", (i)), buf) : \
        (snprintf(buf, sizeof buf, "base-%d-%050d", (i), 0), buf)))

    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    lsm_iter_seek_first(it);
    int next = 0; /* next expected key index */
    int walked = 0;
    for (int phase = 0; phase < 2; phase++) {
        int stop = phase == 0 ? N / 2 : N;
        for (; lsm_iter_valid(it); lsm_iter_next(it)) {
            while (next < N && EXPECTED(next, v) == NULL)
                next++;
            size_t kl, vl;
            const char *ik = lsm_iter_key(it, &kl);
            const char *iv = lsm_iter_value(it, &vl);
            cr_assert_lt(next, N, "iterator yields extra key %.*s", (int)kl, ik);
            key_of(k, sizeof k, next);
            cr_assert(kl == strlen(k) && memcmp(ik, k, kl) == 0,
                      "phase %d: iterator key %.*s, want %s", phase, (int)kl, ik, k);
            const char *want = EXPECTED(next, v);
            cr_assert(vl == strlen(want) && memcmp(iv, want, vl) == 0,
                      "phase %d: value of %s is '%.*s', want '%s'", phase, k, (int)vl, iv, want);
            next++;
            walked++;
            if (next >= stop && phase == 0) {
                lsm_iter_next(it);
                break;
            }
        }
        if (phase == 0) {
            /* the storm: overwrite everything, delete a third, add new keys, flush, compact */
            for (int i = 0; i < N; i++) {
                key_of(k, sizeof k, i);
                if (i % 3 == 0)
                    must(lsm_delete(db, k, strlen(k)), "storm delete");
                else
                    must(etu_put_str(db, k, "storm"), "storm put");
                snprintf(k, sizeof k, "key%06d-new", i);
                must(etu_put_str(db, k, "new"), "storm new");
                if (i % 500 == 0)
                    must(etu_wait_unstalled(db), "unstall");
            }
            flush_wait(db);
            compact_all(db);
            write_filler(db, 512u << 10, 0, 0);
            compact_all(db);
            for (int i = 0; i < 5; i++)
                etu_poll_once(db, 10);
        }
    }
    while (next < N && EXPECTED(next, v) == NULL)
        next++;
    cr_assert_eq(next, N, "iterator ended early at key index %d", next);
    cr_assert_eq(lsm_iter_status(it), 0, "iterator status %d", lsm_iter_status(it));

    /* a seek on the old iterator after the storm still sees the old view */
    lsm_iter_seek(it, "key001000", 9);
    for (int i = 1000; i < 1100; i++) {
        if (EXPECTED(i, v) == NULL)
            continue;
        cr_assert(lsm_iter_valid(it));
        size_t kl, vl;
        const char *ik = lsm_iter_key(it, &kl);
        const char *iv = lsm_iter_value(it, &vl);
        key_of(k, sizeof k, i);
        cr_assert(kl == strlen(k) && memcmp(ik, k, kl) == 0, "re-seek: key %.*s, want %s",
                  (int)kl, ik, k);
        const char *want = EXPECTED(i, v);
        cr_assert(vl == strlen(want) && memcmp(iv, want, vl) == 0, "re-seek: value of %s", k);
        lsm_iter_next(it);
    }
    lsm_iter_free(it);
    #undef EXPECTED

    /* a new iterator sees the new state */
    size_t live = 0;
    lsm_iter *it2 = lsm_iter_new(db);
    for (lsm_iter_seek(it2, "key", 3); lsm_iter_valid(it2); lsm_iter_next(it2)) {
        size_t kl;
        const char *ik = lsm_iter_key(it2, &kl);
        if (kl < 3 || memcmp(ik, "key", 3) != 0)
            break;
        live++;
    }
    lsm_iter_free(it2);
    cr_assert_eq(live, (size_t)(N - N / 3 + N), "new iterator sees %zu keys", live);
    must(lsm_close(db), "close");
    (void)walked;
}

/* ---- expiry hook ------------------------------------------------------------------------------
 * Test value encoding: 'X' || expire-at ms (8 bytes LE) || payload -> expires; anything else
 * has no expiry. */
static uint64_t test_expire_fn(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen)
{
    (void)ctx; (void)key; (void)klen;
    const unsigned char *p = val;
    if (vlen < 9 || p[0] != 'X')
        return 0;
    uint64_t t = 0;
    for (int i = 8; i >= 1; i--)
        t = (t << 8) | p[i];
    return t;
}

static size_t make_expiring(char *buf, uint64_t at, const char *payload)
{
    buf[0] = 'X';
    for (int i = 0; i < 8; i++)
        buf[1 + i] = (char)((at >> (8 * i)) & 0xff);
    size_t pl = strlen(payload);
    memcpy(buf + 9, payload, pl);
    return 9 + pl;
}

#define PAST_MS 1000u                      /* 1970: long expired */
#define FUTURE_MS UINT64_C(4102444800000)  /* 2100 */

Test(engine_semantics, expired_values_dropped_by_full_compaction_without_older_version)
{
    lsm_options o;
    etu_small_options(&o);
    o.expire_fn = test_expire_fn;
    lsm_t *db = reopen(NULL, g_dir, &o);
    char k[32], v[64];
    for (int i = 0; i < 1500; i++) {
        key_of(k, sizeof k, i);
        size_t vl;
        if (i % 3 == 0)
            vl = make_expiring(v, PAST_MS, "gone");
        else if (i % 3 == 1)
            vl = make_expiring(v, FUTURE_MS, "stays");
        else
            vl = (size_t)snprintf(v, sizeof v, "plain-%d", i);
        must(lsm_put(db, k, strlen(k), v, vl), "put");
    }
    flush_wait(db);
    /* reads never consult the hook: expired values are still readable before compaction */
    key_of(k, sizeof k, 0);
    expect_value(db, k, v, make_expiring(v, PAST_MS, "gone"), "expired before compaction");
    compact_all(db);
    for (int pass = 0; pass < 2; pass++) {
        const char *stage = pass == 0 ? "after full compaction" : "after reopen";
        if (pass == 1)
            db = reopen(db, g_dir, &o);
        for (int i = 0; i < 1500; i++) {
            key_of(k, sizeof k, i);
            if (i % 3 == 0) {
                expect_absent(db, k, stage);
            } else if (i % 3 == 1) {
                size_t vl = make_expiring(v, FUTURE_MS, "stays");
                expect_value(db, k, v, vl, stage);
            } else {
                snprintf(v, sizeof v, "plain-%d", i);
                expect_str(db, k, v, stage);
            }
        }
        cr_assert_eq(iter_count(db), 1000u, "[%s] iterator count", stage);
        if (pass == 0) {
            lsm_stats st;
            lsm_get_stats(db, &st);
            cr_expect_eq(st.expired_dropped, 500u, "stats.expired_dropped = %" PRIu64
                         ", want 500", st.expired_dropped);
        }
    }
    must(lsm_close(db), "close");
}

Test(engine_semantics, expired_value_over_deeper_version_never_resurrects_it)
{
    lsm_options o;
    etu_small_options(&o);
    o.expire_fn = test_expire_fn;
    lsm_t *db = reopen(NULL, g_dir, &o);
    enum { N = 600 };
    char k[32], v[64];
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "v1-old-%d", i);
        must(etu_put_str(db, k, v), "put v1");
    }
    write_filler(db, 2u << 20, 90, 1); /* enough data for more than one level */
    flush_wait(db);
    compact_all(db); /* v1 at the last level (below L1) */
    print_levels(db, "expired_value_over_deeper_version: v1 compacted");
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        size_t vl = make_expiring(v, PAST_MS, "v2-expired");
        must(lsm_put(db, k, strlen(k), v, vl), "put v2 expired");
    }
    flush_wait(db); /* v2 (expired) in L0 */
    for (int round = 0; round < 5; round++) {
        const char *stage = "v2 in L0";
        if (round == 1) {
            stage = "after engine-picked compactions";
            write_filler(db, 1u << 20, round, 1);
        } else if (round == 2) {
            stage = "after compact_range of a sub-range";
            must(lsm_compact_range(db, "key000100", 9, "key000200", 9, 1), "compact sub-range");
        } else if (round == 3) {
            stage = "after reopen";
            db = reopen(db, g_dir, &o);
            write_filler(db, 512u << 10, round, 1);
        } else if (round == 4) {
            stage = "after full compaction";
            compact_all(db);
        }
        for (int i = 0; i < N; i++) {
            key_of(k, sizeof k, i);
            lsm_buf b = {0};
            int rc = lsm_get(db, k, strlen(k), &b);
            cr_assert(rc == 0 || rc == LSM_ENOTFOUND, "[%s] get %s: %s", stage, k,
                      lsm_strerror(rc));
            if (rc == 0)
                cr_assert(b.len > 0 && b.data[0] == 'X',
                          "[%s] get %s resurrected the older version '%.*s' under an expired "
                          "newer one", stage, k, (int)b.len, b.data);
            if (round == 4)
                cr_assert_eq(rc, LSM_ENOTFOUND, "[%s] %s: expired value survived a full "
                             "compaction", stage, k);
            lsm_buf_free(&b);
        }
    }
    db = reopen(db, g_dir, &o);
    for (int i = 0; i < N; i++) {
        key_of(k, sizeof k, i);
        expect_absent(db, k, "after full compaction + reopen");
    }
    must(lsm_close(db), "close");
}

/* lsm_compact_range(all) moves every file out of L0 (down to the last level). */
Test(engine_semantics, compact_range_all_empties_level0)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    write_filler(db, 1u << 20, 0, 0);
    flush_wait(db);
    compact_all(db);
    lsm_stats st;
    lsm_get_stats(db, &st);
    cr_assert_eq(st.level_files[0], 0, "L0 still has %d files after a full compaction",
                 st.level_files[0]);
    int total = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++)
        total += st.level_files[l];
    cr_assert_gt(total, 0, "no files at all after writing 1 MiB and flushing");
    cr_assert_gt(st.flush_bytes_written, 0);
    cr_assert_gt(st.compaction_bytes_written, 0);
    must(lsm_close(db), "close");
}

/* A value larger than the memtable, a WAL block and an SSTable block, next to small ones:
 * survives WAL replay, flush, compaction and restart byte for byte. */
Test(engine_semantics, value_larger_than_memtable_and_wal_block_round_trips)
{
    lsm_options o;
    etu_small_options(&o); /* 128 KiB memtable, 4 KiB blocks, 64 KiB target files */
    lsm_t *db = reopen(NULL, g_dir, &o);
    const size_t big = (3u << 20) + 12345;
    char *v = malloc(big);
    cr_assert_not_null(v);
    etu_rng r;
    etu_rng_init(&r, 99);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)(i % 3 == 0 ? etu_rng_next(&r) : 'b');
    must(etu_put_str(db, "a-small", "1"), "put");
    must(lsm_put(db, "big", 3, v, big), "put big");
    must(etu_put_str(db, "c-small", "2"), "put");
    must(lsm_commit(db), "commit");
    const char *stages[] = {"memtable", "WAL replay", "flush", "compaction", "restart"};
    for (int s = 0; s < 5; s++) {
        if (s == 1)
            db = reopen(db, g_dir, &o);
        if (s == 2)
            flush_wait(db);
        if (s == 3)
            compact_all(db);
        if (s == 4)
            db = reopen(db, g_dir, &o);
        expect_value(db, "big", v, big, stages[s]);
        expect_str(db, "a-small", "1", stages[s]);
        expect_str(db, "c-small", "2", stages[s]);
        lsm_iter *it = lsm_iter_new(db);
        lsm_iter_seek(it, "b", 1);
        cr_assert(lsm_iter_valid(it), "[%s] seek(b) found nothing", stages[s]);
        size_t kl, vl;
        const char *ik = lsm_iter_key(it, &kl);
        const char *iv = lsm_iter_value(it, &vl);
        cr_assert(kl == 3 && memcmp(ik, "big", 3) == 0, "[%s] seek(b) -> '%.*s'", stages[s],
                  (int)kl, ik);
        cr_assert(vl == big && memcmp(iv, v, big) == 0, "[%s] iterator value of big: %zu bytes",
                  stages[s], vl);
        lsm_iter_free(it);
    }
    free(v);
    must(lsm_close(db), "close");
}

/* The directory lock: a second open of an open DB fails with LSM_EBUSY (also from the same
 * process), and succeeds after close. */
Test(engine_semantics, second_open_of_an_open_dir_fails_busy)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    lsm_t *db2 = NULL;
    int rc = lsm_open(g_dir, &o, &db2);
    if (rc == 0)
        lsm_close(db2);
    cr_assert_eq(rc, LSM_EBUSY, "second lsm_open of a locked dir returned %s (%d), want "
                 "LSM_EBUSY", lsm_strerror(rc), rc);
    cr_assert_null(db2);
    must(lsm_close(db), "close");
    db = reopen(NULL, g_dir, &o);
    must(lsm_close(db), "close");
}

/* Empty database: get misses, iterators are invalid at once, seek past the end is invalid;
 * flush and compaction of nothing are fine; and a seek past the last key of a full DB. */
Test(engine_semantics, empty_db_and_seek_past_the_end)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    expect_absent(db, "nothing", "empty db");
    lsm_iter *it = lsm_iter_new(db);
    lsm_iter_seek_first(it);
    cr_assert_not(lsm_iter_valid(it), "iterator over an empty DB is valid");
    lsm_iter_seek(it, "a", 1);
    cr_assert_not(lsm_iter_valid(it));
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_free(it);
    must(lsm_flush(db, 1), "flush of an empty memtable");
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compaction of an empty DB");
    db = reopen(db, g_dir, &o);
    expect_absent(db, "nothing", "empty db reopened");
    must(etu_put_str(db, "m", "1"), "put");
    flush_wait(db);
    must(etu_put_str(db, "k", "2"), "put");
    it = lsm_iter_new(db);
    lsm_iter_seek(it, "m\x01", 2);
    cr_assert_not(lsm_iter_valid(it), "seek past the last key is valid");
    lsm_iter_seek(it, "l", 1); /* backwards after an invalid seek */
    cr_assert(lsm_iter_valid(it));
    size_t kl;
    const char *k = lsm_iter_key(it, &kl);
    cr_assert(kl == 1 && k[0] == 'm', "seek(l) -> '%.*s'", (int)kl, k);
    lsm_iter_seek_first(it);
    k = lsm_iter_key(it, &kl);
    cr_assert(kl == 1 && k[0] == 'k');
    lsm_iter_free(it);
    must(lsm_close(db), "close");
}

/* Counter-only batches (no ops, no sequence numbers) after the last flush: they live only in the
 * WAL; a flush of the (empty) memtable and restarts must not lose them. */
Test(engine_semantics, counter_only_batches_survive_empty_flush_and_restart)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    lsm_batch *b = lsm_batch_new();
    must(etu_put_str(db, "k", "v"), "put");
    flush_wait(db);
    must(lsm_batch_counter_add(b, 5, 10), "counter_add");
    must(lsm_write(db, b), "write counter-only");
    must(lsm_commit(db), "commit");
    cr_assert_eq(lsm_counter(db, 5), 10);
    db = reopen(db, g_dir, &o);
    cr_assert_eq(lsm_counter(db, 5), 10, "counter-only batch lost by WAL replay: %" PRId64,
                 lsm_counter(db, 5));
    lsm_batch_clear(b);
    must(lsm_batch_counter_add(b, 5, -3), "counter_add");
    must(lsm_write(db, b), "write counter-only");
    must(lsm_commit(db), "commit");
    flush_wait(db); /* nothing in the memtable, counters pending */
    db = reopen(db, g_dir, &o);
    cr_assert_eq(lsm_counter(db, 5), 7, "counter-only batch lost across an empty flush + "
                 "restart: %" PRId64 ", want 7", lsm_counter(db, 5));
    flush_wait(db);
    compact_all(db);
    db = reopen(db, g_dir, &o);
    cr_assert_eq(lsm_counter(db, 5), 7, "after flush+compaction+restart: %" PRId64,
                 lsm_counter(db, 5));
    expect_str(db, "k", "v", "after counter-only batches");
    lsm_batch_free(b);
    must(lsm_close(db), "close");
}

/* WAL replay of more data than the memtable holds (the DB reopened with a smaller
 * memtable_size): recovery must flush as it goes or cope, and lose nothing. */
Test(engine_semantics, wal_replay_larger_than_the_memtable)
{
    lsm_options big;
    etu_small_options(&big);
    big.memtable_size = 8 << 20;
    lsm_t *db = reopen(NULL, g_dir, &big);
    char k[32], v[300];
    for (int i = 0; i < 6000; i++) {
        key_of(k, sizeof k, i);
        snprintf(v, sizeof v, "%d-%0250d", i, i);
        must(etu_put_str(db, k, v), "put");
    }
    must(lsm_commit(db), "commit");
    must(lsm_close(db), "close"); /* ~1.7 MiB only in the WAL */
    lsm_options small;
    etu_small_options(&small);
    small.memtable_size = 64 << 10;
    for (int round = 0; round < 3; round++) {
        db = reopen(NULL, g_dir, round == 1 ? &big : &small);
        for (int i = 0; i < 6000; i++) {
            key_of(k, sizeof k, i);
            snprintf(v, sizeof v, "%d-%0250d", i, i);
            expect_str(db, k, v, round == 0 ? "replayed into a smaller memtable" : "reopened");
        }
        cr_assert_eq(iter_count(db), 6000u);
        must(etu_wait_idle(db), "idle");
        must(lsm_close(db), "close");
    }
}

/* lsm_close right after scheduling a flush and a compaction (wait=0), with their results not
 * yet installed by lsm_poll: close waits for them or leaves the WAL; nothing is lost either way,
 * over several cycles. */
Test(engine_semantics, close_right_after_async_flush_and_compaction_loses_nothing)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    char k[32], v[160];
    for (int cycle = 0; cycle < 8; cycle++) {
        for (int i = 0; i < 3000; i++) {
            key_of(k, sizeof k, (i * 7 + cycle) % 5000);
            snprintf(v, sizeof v, "c%d-%d-%0100d", cycle, i, cycle);
            must(etu_put_str(db, k, v), "put");
            if (i % 200 == 199) {
                must(lsm_commit(db), "commit");
                must(etu_wait_unstalled(db), "unstall");
            }
        }
        must(lsm_commit(db), "commit");
        must(lsm_flush(db, 0), "flush(0)");
        if (cycle % 2 == 0)
            must(lsm_compact_range(db, NULL, 0, NULL, 0, 0), "compact_range(0)");
        db = reopen(db, g_dir, &o);
        /* the latest value of every key written so far */
        for (int c = 0; c <= cycle; c++) {
            for (int i = 0; i < 3000; i++) {
                int key = (i * 7 + c) % 5000;
                /* skip if a later (c2, i2) wrote the same key */
                int later = 0;
                for (int c2 = c; c2 <= cycle && !later; c2++) {
                    int i2 = c2 == c ? i + 1 : 0;
                    for (; i2 < 3000; i2++)
                        if ((i2 * 7 + c2) % 5000 == key) {
                            later = 1;
                            break;
                        }
                }
                if (later)
                    continue;
                key_of(k, sizeof k, key);
                snprintf(v, sizeof v, "c%d-%d-%0100d", c, i, c);
                expect_str(db, k, v, "after close during async flush/compaction");
            }
        }
    }
    must(lsm_close(db), "close");
}

static uint64_t overwrites_of(lsm_t *db)
{
    lsm_stats st;
    lsm_get_stats(db, &st);
    return st.overwrites;
}

/* Overwrites in place (memtable.h): a write replaces its key's newest memtable version (a
 * committed one too, recorded for a failed commit: test_engine_errors); a group rolled back
 * restores what the group overwrote, and a committed one survives a restart. */
Test(engine_semantics, overwrite_in_place_is_rolled_back_with_its_group_and_replayed_after_restart)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    must(etu_put_str(db, "k", "v1-committed"), "put v1");
    must(lsm_commit(db), "commit");
    uint64_t ow0 = overwrites_of(db);
    must(etu_put_str(db, "k", "v2-pending-and-longer"), "put v2"); /* does not fit: a new node */
    cr_assert_eq(overwrites_of(db), ow0, "a longer value was written in place");
    must(lsm_commit(db), "commit");
    must(etu_put_str(db, "k", "v2-pending!!"), "put v2'"); /* replaces committed v2 in place */
    cr_assert_eq(overwrites_of(db), ow0 + 1, "a committed version was not replaced");
    must(etu_put_str(db, "k", "v3"), "put v3");             /* replaces v2' in place */
    cr_assert_eq(overwrites_of(db), ow0 + 2);
    lsm_group_begin(db);
    must(etu_put_str(db, "k", "v4-in-group"), "put v4"); /* replaces v3, which predates the group */
    must(lsm_delete(db, "k2", 2), "delete k2");
    must(etu_put_str(db, "k", "v5"), "put v5");
    cr_assert_eq(overwrites_of(db), ow0 + 4);
    expect_str(db, "k", "v5", "inside the group");
    uint64_t rollbacks = lsm_rollbacks(db);
    must(lsm_group_abort(db), "abort");
    cr_assert_eq(lsm_rollbacks(db), rollbacks + 1, "a rollback is counted");
    cr_assert_neq(lsm_group_end(db), 0, "an aborted group's end fails");
    expect_str(db, "k", "v3", "after the rollback: the version before the group");
    /* the rolled-back memtable still holds v1 under v3 only if nothing dropped it: v3 is newest */
    lsm_group_begin(db);
    must(etu_put_str(db, "k", "v6-kept"), "put v6");
    must(lsm_group_end(db), "group end");
    must(lsm_commit(db), "commit");
    expect_str(db, "k", "v6-kept", "committed group");
    rollbacks = lsm_rollbacks(db);
    db = reopen(db, g_dir, &o);
    expect_str(db, "k", "v6-kept", "after restart");
    cr_assert_neq(lsm_rollbacks(db), rollbacks, "another engine: another range of rollback counts");
    must(lsm_close(db), "close");
}

Test(engine_semantics, a_live_iterator_keeps_its_snapshot_while_the_key_is_rewritten)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = reopen(NULL, g_dir, &o);
    must(etu_put_str(db, "a", "a1"), "put a1");
    must(etu_put_str(db, "a", "a2"), "put a2"); /* in place: no iterator, nothing committed */
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    uint64_t ow = overwrites_of(db);
    must(etu_put_str(db, "a", "a3"), "put a3");
    cr_assert_eq(overwrites_of(db), ow, "overwritten in place under a live iterator");
    lsm_iter_seek(it, "a", 1);
    cr_assert(lsm_iter_valid(it));
    size_t vl;
    const char *v = lsm_iter_value(it, &vl);
    cr_assert(vl == 2 && memcmp(v, "a2", 2) == 0, "the iterator sees its snapshot's a2: %.*s",
              (int)vl, v);
    lsm_iter_free(it);
    expect_str(db, "a", "a3", "latest");
    must(etu_put_str(db, "a", "a4"), "put a4");
    cr_assert_eq(overwrites_of(db), ow + 1, "in place again once the iterator is gone");
    expect_str(db, "a", "a4", "latest");
    must(lsm_close(db), "close");
}
