/* test_engine_model.c - the engine against a reference model, through lsm.h only.
 *
 * KEVO_MODEL_OPS (default 1000000; 300000 under ASan/TSan) random operations over a space of KEVO_MODEL_KEYS (default
 * 20000) keys: puts of values 0..200 bytes long (empty values included), overwrites, deletes
 * (also of absent keys), multi-op batches that may touch one key twice, and spot gets. The
 * reference is a plain array indexed by key number. Ten times during the run, and at the end,
 * the engine is flushed, compacted, reopened (in rotation) and compared with the model by a get
 * of EVERY key and by a full iteration (exact contents, ascending order). Meanwhile long-lived
 * iterators, each with a copy of the model taken at its creation, are walked a few entries at a
 * time across thousands of writes, flushes and compactions and must yield exactly their copy.
 *
 * Seed: KEVO_SEED (default below); every failure message prints it, so
 *   KEVO_SEED=<seed> build/tests/test_engine_model
 * replays the exact run. Small memtable/file/level sizes make flush and compaction frequent.
 * A second test runs the same with tiny files, blocks and caches (KEVO_MODEL_TINY_OPS, 100k). */
#include <criterion/criterion.h>

#include "engine_test_util.h"

#define DEFAULT_SEED 20261124u
#define MAXV 200

typedef struct model {
    int nkeys;
    unsigned char *present;
    uint8_t *vlen;
    char *val; /* nkeys * MAXV */
} model;

static uint64_t g_seed;
static char g_dir[512];

static size_t key_of(char *buf, size_t n, int i)
{
    /* fixed-width number first, so bytewise order == numeric order; a variable-length tail so
     * keys differ in length and share prefixes */
    int w = snprintf(buf, n, "m%06d%.*s", i, i % 9, "/tail-xyz");
    return (size_t)w;
}

static void gen_value(etu_rng *r, char *v, size_t *len)
{
    uint64_t x = etu_rng_next(r);
    size_t l = (x & 31) == 0 ? 0 : (size_t)((x >> 8) % (MAXV + 1));
    int compressible = (x >> 40) & 1;
    for (size_t i = 0; i < l; i++) {
        if (compressible)
            v[i] = (char)('a' + (i / 8) % 4);
        else
            v[i] = (char)etu_rng_next(r);
    }
    *len = l;
}

static void model_put(model *m, int i, const char *v, size_t len)
{
    m->present[i] = 1;
    m->vlen[i] = (uint8_t)len;
    memcpy(m->val + (size_t)i * MAXV, v, len);
}

static void must(int rc, const char *what, uint64_t op)
{
    cr_assert_eq(rc, 0, "seed %" PRIu64 " op %" PRIu64 ": %s: %s (%d)", g_seed, op, what,
                 lsm_strerror(rc), rc);
}

static void check_get(lsm_t *db, const model *m, int i, lsm_buf *b, uint64_t op,
                      const char *stage)
{
    char k[64];
    size_t kl = key_of(k, sizeof k, i);
    int rc = lsm_get(db, k, kl, b);
    if (!m->present[i]) {
        cr_assert_eq(rc, LSM_ENOTFOUND, "seed %" PRIu64 " op %" PRIu64 " [%s]: get(%s) = %s "
                     "(%d, %zu bytes), expected absent", g_seed, op, stage, k, lsm_strerror(rc),
                     rc, rc == 0 ? b->len : 0);
        return;
    }
    cr_assert_eq(rc, 0, "seed %" PRIu64 " op %" PRIu64 " [%s]: get(%s) = %s (%d), expected %u "
                 "bytes", g_seed, op, stage, k, lsm_strerror(rc), rc, m->vlen[i]);
    cr_assert(etu_buf_eq(b, m->val + (size_t)i * MAXV, m->vlen[i]),
              "seed %" PRIu64 " op %" PRIu64 " [%s]: get(%s) returned %zu bytes, expected %u "
              "(or same length, different bytes)", g_seed, op, stage, k, b->len, m->vlen[i]);
}

/* Full comparison: a get of every key, then one iteration over everything. */
static void verify_all(lsm_t *db, const model *m, uint64_t op, const char *stage)
{
    lsm_buf b = {0};
    for (int i = 0; i < m->nkeys; i++)
        check_get(db, m, i, &b, op, stage);
    lsm_buf_free(&b);

    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it, "seed %" PRIu64 ": lsm_iter_new failed", g_seed);
    int i = 0;
    char k[64];
    size_t n = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++, n++) {
        while (i < m->nkeys && !m->present[i])
            i++;
        size_t ikl, ivl;
        const char *ik = lsm_iter_key(it, &ikl);
        const char *iv = lsm_iter_value(it, &ivl);
        cr_assert_lt(i, m->nkeys, "seed %" PRIu64 " op %" PRIu64 " [%s]: iterator yields an "
                     "extra key '%.*s' after the last live key", g_seed, op, stage,
                     (int)(ikl > 40 ? 40 : ikl), ik);
        size_t kl = key_of(k, sizeof k, i);
        cr_assert(ikl == kl && memcmp(ik, k, kl) == 0, "seed %" PRIu64 " op %" PRIu64
                  " [%s]: iterator entry %zu is '%.*s', expected '%s' (a missing, extra or "
                  "misordered key)", g_seed, op, stage, n, (int)(ikl > 40 ? 40 : ikl), ik, k);
        cr_assert(ivl == m->vlen[i] && (ivl == 0 || memcmp(iv, m->val + (size_t)i * MAXV,
                                                           ivl) == 0),
                  "seed %" PRIu64 " op %" PRIu64 " [%s]: iterator value of %s has %zu bytes, "
                  "expected %u (or different bytes)", g_seed, op, stage, k, ivl, m->vlen[i]);
    }
    cr_assert_eq(lsm_iter_status(it), 0, "seed %" PRIu64 " [%s]: iterator error %s", g_seed,
                 stage, lsm_strerror(lsm_iter_status(it)));
    lsm_iter_free(it);
    while (i < m->nkeys && !m->present[i])
        i++;
    cr_assert_eq(i, m->nkeys, "seed %" PRIu64 " op %" PRIu64 " [%s]: iteration ended before "
                 "live key %d", g_seed, op, stage, i);
}

static void model_options(lsm_options *o)
{
    etu_small_options(o);
    o->memtable_size = 512 << 10;
    o->target_file_size = 256 << 10;
    o->level1_max_bytes = 1 << 20;
    o->level_multiplier = 4;
    o->block_cache_size = 4 << 20;
}

static void setup(void)
{
    cr_assert_not_null(etu_tmpdir(g_dir, sizeof g_dir, "model"));
}

static void teardown(void)
{
    if (g_dir[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_dir);
}

/* A long-lived iterator and a copy of the model taken when it was created. It is walked a few
 * entries at a time while writes, flushes and compactions go on underneath (lsm_poll installs
 * new versions and deletes obsolete files), and must yield exactly the copy. */
typedef struct snap_iter {
    lsm_iter *it;
    model m;
    int next;        /* next model index to expect */
    uint64_t born;   /* op at creation */
    size_t walked;
} snap_iter;

static void snap_open(snap_iter *s, lsm_t *db, const model *m, uint64_t op)
{
    s->m.nkeys = m->nkeys;
    s->m.present = malloc((size_t)m->nkeys);
    s->m.vlen = malloc((size_t)m->nkeys);
    s->m.val = malloc((size_t)m->nkeys * MAXV);
    cr_assert(s->m.present && s->m.vlen && s->m.val);
    memcpy(s->m.present, m->present, (size_t)m->nkeys);
    memcpy(s->m.vlen, m->vlen, (size_t)m->nkeys);
    memcpy(s->m.val, m->val, (size_t)m->nkeys * MAXV);
    s->it = lsm_iter_new(db);
    cr_assert_not_null(s->it);
    lsm_iter_seek_first(s->it);
    s->next = 0;
    s->born = op;
    s->walked = 0;
}

static void snap_close(snap_iter *s)
{
    if (s->it)
        lsm_iter_free(s->it);
    free(s->m.present);
    free(s->m.vlen);
    free(s->m.val);
    memset(s, 0, sizeof *s);
}

/* Walks up to n entries (n < 0: to the end). At the end checks nothing is missing and closes. */
static void snap_step(snap_iter *s, int n, uint64_t op)
{
    char k[64];
    for (; n != 0 && lsm_iter_valid(s->it); n--, lsm_iter_next(s->it)) {
        while (s->next < s->m.nkeys && !s->m.present[s->next])
            s->next++;
        size_t ikl, ivl;
        const char *ik = lsm_iter_key(s->it, &ikl);
        const char *iv = lsm_iter_value(s->it, &ivl);
        cr_assert_lt(s->next, s->m.nkeys, "seed %" PRIu64 " op %" PRIu64 ": iterator created at "
                     "op %" PRIu64 " yields an extra key '%.*s'", g_seed, op, s->born,
                     (int)(ikl > 40 ? 40 : ikl), ik);
        size_t kl = key_of(k, sizeof k, s->next);
        cr_assert(ikl == kl && memcmp(ik, k, kl) == 0, "seed %" PRIu64 " op %" PRIu64
                  ": iterator created at op %" PRIu64 ", entry %zu, is '%.*s', expected '%s' "
                  "(its view changed under flush/compaction?)", g_seed, op, s->born, s->walked,
                  (int)(ikl > 40 ? 40 : ikl), ik, k);
        int i = s->next;
        cr_assert(ivl == s->m.vlen[i] && (ivl == 0 || memcmp(iv, s->m.val + (size_t)i * MAXV,
                                                             ivl) == 0),
                  "seed %" PRIu64 " op %" PRIu64 ": iterator created at op %" PRIu64 ": value "
                  "of %s has %zu bytes, expected %u (or different bytes)", g_seed, op, s->born,
                  k, ivl, s->m.vlen[i]);
        s->next++;
        s->walked++;
    }
    if (!lsm_iter_valid(s->it)) {
        cr_assert_eq(lsm_iter_status(s->it), 0, "seed %" PRIu64 " op %" PRIu64 ": iterator "
                     "created at op %" PRIu64 " failed: %s", g_seed, op, s->born,
                     lsm_strerror(lsm_iter_status(s->it)));
        while (s->next < s->m.nkeys && !s->m.present[s->next])
            s->next++;
        cr_assert_eq(s->next, s->m.nkeys, "seed %" PRIu64 " op %" PRIu64 ": iterator created at "
                     "op %" PRIu64 " ended early, before key %d", g_seed, op, s->born, s->next);
        snap_close(s);
    }
}

static void run_model(const lsm_options *opts, uint64_t ops)
{
    g_seed = etu_seed(DEFAULT_SEED);
    model m = {0};
    m.nkeys = (int)etu_env_u64("KEVO_MODEL_KEYS", 20000);
    cr_assert_gt(m.nkeys, 0);
    m.present = calloc((size_t)m.nkeys, 1);
    m.vlen = calloc((size_t)m.nkeys, 1);
    m.val = malloc((size_t)m.nkeys * MAXV);
    cr_assert(m.present && m.vlen && m.val);
    fprintf(stderr, "engine_model: seed %" PRIu64 ", %" PRIu64 " ops, %d keys, dir %s\n",
            g_seed, ops, m.nkeys, g_dir);

    etu_rng r;
    etu_rng_init(&r, g_seed);
    lsm_options o = *opts;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db, "seed %" PRIu64 ": open: %s", g_seed, lsm_last_error(NULL));
    lsm_batch *b = lsm_batch_new();
    lsm_buf gb = {0};
    char k[64], v[MAXV];
    size_t vl;
    uint64_t checkpoint_every = ops / 10 ? ops / 10 : 1;
    int checkpoint = 0;
    uint64_t t0 = etu_now_ms();
    snap_iter snap = {0};
    uint64_t snaps_done = 0;

    for (uint64_t op = 0; op < ops; op++) {
        uint64_t kind = etu_rng_below(&r, 100);
        int i = (int)etu_rng_below(&r, (uint64_t)m.nkeys);
        size_t kl = key_of(k, sizeof k, i);
        if (kind < 55) {
            gen_value(&r, v, &vl);
            must(lsm_put(db, k, kl, v, vl), "put", op);
            model_put(&m, i, v, vl);
        } else if (kind < 75) {
            must(lsm_delete(db, k, kl), "delete", op);
            m.present[i] = 0;
        } else if (kind < 90) {
            lsm_batch_clear(b);
            int nops = 2 + (int)etu_rng_below(&r, 7);
            /* apply to the model only after lsm_write succeeded: stage the ops */
            struct { int i; int del; size_t vl; char v[MAXV]; } st[8];
            for (int j = 0; j < nops; j++) {
                /* sometimes the same key again inside the batch */
                st[j].i = (j > 0 && etu_rng_below(&r, 4) == 0) ? st[j - 1].i
                                                                : (int)etu_rng_below(
                                                                      &r, (uint64_t)m.nkeys);
                st[j].del = etu_rng_below(&r, 3) == 0;
                kl = key_of(k, sizeof k, st[j].i);
                if (st[j].del) {
                    must(lsm_batch_delete(b, k, kl), "batch_delete", op);
                } else {
                    gen_value(&r, st[j].v, &st[j].vl);
                    must(lsm_batch_put(b, k, kl, st[j].v, st[j].vl), "batch_put", op);
                }
            }
            must(lsm_write(db, b), "lsm_write", op);
            for (int j = 0; j < nops; j++) {
                if (st[j].del)
                    m.present[st[j].i] = 0;
                else
                    model_put(&m, st[j].i, st[j].v, st[j].vl);
            }
        } else {
            check_get(db, &m, i, &gb, op, "spot get");
        }
        if (op % 64 == 63) {
            must(lsm_commit(db), "commit", op);
            must(etu_wait_unstalled(db), "waiting for stall to end", op);
            int prc = lsm_poll(db);
            cr_assert_geq(prc, 0, "seed %" PRIu64 " op %" PRIu64 ": lsm_poll: %s", g_seed, op,
                          lsm_strerror(prc));
        }
        /* long-lived iterators: one at a time, opened every ~checkpoint/3 ops, walked 16
         * entries every 256 ops (so it lives across many flushes and compactions) */
        if (snap.it == NULL && op % (checkpoint_every / 3 + 1) == 7)
            snap_open(&snap, db, &m, op);
        else if (snap.it != NULL && op % 256 == 255) {
            snap_step(&snap, 16, op);
            if (snap.it == NULL)
                snaps_done++;
        }
        if ((op + 1) % checkpoint_every == 0 || op + 1 == ops) {
            const char *stage;
            if (snap.it != NULL && checkpoint % 5 == 3) {
                /* about to close the DB: finish the walk first */
                snap_step(&snap, -1, op);
                snaps_done++;
            }
            must(lsm_commit(db), "commit", op);
            switch (checkpoint % 5) {
            case 0:
                stage = "checkpoint: as is (background work may be running)";
                break;
            case 1:
                stage = "checkpoint: after lsm_flush(wait)";
                must(lsm_flush(db, 1), "flush", op);
                break;
            case 2:
                stage = "checkpoint: after full lsm_compact_range(wait)";
                must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact_range", op);
                break;
            case 3:
                stage = "checkpoint: after close + reopen (WAL replay)";
                must(lsm_close(db), "close", op);
                db = etu_open(g_dir, &o);
                cr_assert_not_null(db, "seed %" PRIu64 " op %" PRIu64 ": reopen: %s", g_seed,
                                   op, lsm_last_error(NULL));
                break;
            default:
                stage = "checkpoint: right after async flush + compact_range(wait=0)";
                must(lsm_flush(db, 0), "flush(0)", op);
                must(lsm_compact_range(db, NULL, 0, NULL, 0, 0), "compact_range(0)", op);
                break;
            }
            verify_all(db, &m, op, stage);
            lsm_stats s;
            lsm_get_stats(db, &s);
            fprintf(stderr, "engine_model: %" PRIu64 " ops, %.1fs, %s ok; flushes %" PRIu64
                    " compactions %" PRIu64 " L0..L3 files %d/%d/%d/%d\n", op + 1,
                    (double)(etu_now_ms() - t0) / 1000.0, stage, s.flushes, s.compactions,
                    s.level_files[0], s.level_files[1], s.level_files[2], s.level_files[3]);
            checkpoint++;
        }
    }
    if (snap.it != NULL) {
        snap_step(&snap, -1, ops);
        snaps_done++;
    }
    fprintf(stderr, "engine_model: %" PRIu64 " long-lived iterators verified\n", snaps_done);
    /* final: let background work finish, reopen, compare; then compact everything and again */
    must(etu_wait_idle(db), "wait idle", ops);
    must(lsm_close(db), "close", ops);
    db = etu_open(g_dir, &o);
    cr_assert_not_null(db, "seed %" PRIu64 ": final reopen: %s", g_seed, lsm_last_error(NULL));
    verify_all(db, &m, ops, "final: after reopen");
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "final compact_range", ops);
    verify_all(db, &m, ops, "final: after full compaction");
    must(lsm_close(db), "close", ops);
    db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    verify_all(db, &m, ops, "final: after full compaction + reopen");
    must(lsm_close(db), "close", ops);

    lsm_buf_free(&gb);
    lsm_batch_free(b);
    free(m.present);
    free(m.vlen);
    free(m.val);
}

Test(engine_model, random_ops_match_reference_through_flush_compaction_reopen, .init = setup,
     .fini = teardown, .timeout = 900)
{
    lsm_options o;
    model_options(&o);
    /* 1M ops take ~15 s in the plain build, ~55 s under ASan: 300k there */
    run_model(&o, etu_env_u64("KEVO_MODEL_OPS", ETU_SANITIZED ? 300000 : 1000000));
}

/* The same with everything tiny: 64 KiB memtables, 32 KiB files, 1 KiB blocks with a restart
 * every 4 keys, a 16-table table cache and a 128 KiB block cache (constant eviction), no bloom
 * filter, no compression, two compaction threads, L0 trigger 2. */
Test(engine_model, random_ops_match_reference_with_tiny_files_and_caches, .init = setup,
     .fini = teardown, .timeout = 900)
{
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 64 << 10;
    o.target_file_size = 32 << 10;
    o.level1_max_bytes = 128 << 10;
    o.level_multiplier = 4;
    o.block_size = 1024;
    o.block_restart_interval = 4;
    o.max_open_files = 16;
    o.block_cache_size = 128 << 10;
    o.bloom_bits_per_key = 0;
    o.compression = 0;
    o.compaction_threads = 2;
    o.l0_compaction_trigger = 2;
    run_model(&o, etu_env_u64("KEVO_MODEL_TINY_OPS", ETU_SANITIZED ? 40000 : 100000));
}
