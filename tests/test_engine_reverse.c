/* test_engine_reverse.c - reverse iteration (lsm_iter_seek_last / seek_for_prev / prev) and
 * direction switches against an in-memory sorted map, through lsm.h only.
 *
 * The key universe is fixed per test and sorted bytewise: keys that are prefixes of each other
 * ("", "p", "pa", "pab", ...), binary keys full of 0x00 and 0xff, numbered keys with tails of
 * varying length. Random puts (empty values included), overwrites, deletes (also of absent
 * keys) and batches run with flushes and compactions interleaved so that, when an iterator is
 * created, the data sits in the active memtable, an immutable memtable, L0 files and deeper
 * levels at once. Each iterator then takes a random walk of seek / seek_for_prev / seek_first /
 * seek_last / next / prev with frequent direction switches (and next/prev on an invalid
 * iterator), every step checked against the model (valid, key, value). Iterators also outlive
 * later writes, flushes and compactions, and must still show the model copied at creation.
 *
 * Seed: KEVO_SEED (default below), printed in every failure with the last steps taken:
 *   KEVO_SEED=<seed> build/tests/test_engine_reverse
 * Directed tests: empty db and all-deleted db (tombstones in the memtable, L0, and dropped),
 * block restart boundaries with deletes at the boundaries (tiny blocks, intervals 1/2/16),
 * and the cost of a top-10 reverse scan of a large set (a handful of blocks, not the set). */
#include <criterion/criterion.h>

#include "engine_test_util.h"

#define DEFAULT_SEED 20260219u
#define MAXK 24
#define MAXV 96

static uint64_t g_seed;
static char g_dir[512];

static void setup(void)
{
    cr_assert_not_null(etu_tmpdir(g_dir, sizeof g_dir, "reverse"));
}

static void teardown(void)
{
    if (g_dir[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_dir);
}

/* ---- the model: a fixed sorted key universe, a present flag and a value per key ---------- */

typedef struct ukey {
    unsigned char b[MAXK];
    uint8_t len;
} ukey;

typedef struct model {
    int n;
    ukey *keys;              /* sorted bytewise, unique */
    unsigned char *present;
    uint8_t *vlen;
    char *val;               /* n * MAXV */
} model;

static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int ukey_qcmp(const void *x, const void *y)
{
    const ukey *a = x, *b = y;
    return key_cmp(a->b, a->len, b->b, b->len);
}

static void add_key(ukey *ks, int *n, int cap, const void *b, size_t len)
{
    cr_assert_lt(*n, cap);
    cr_assert_leq(len, MAXK);
    memcpy(ks[*n].b, b, len);
    ks[*n].len = (uint8_t)len;
    (*n)++;
}

/* A random byte biased to the edges: 0x00, 0xff, 'a', 'b', or anything. */
static unsigned char edge_byte(etu_rng *r)
{
    switch (etu_rng_below(r, 6)) {
    case 0: return 0x00;
    case 1: return 0xff;
    case 2: return 'a';
    case 3: return 'b';
    default: return (unsigned char)etu_rng_next(r);
    }
}

/* Universe of about `numbered` + 80 keys: the special ones, prefix chains, binary keys and
 * numbered keys "k%06d" + a tail of 0..8 bytes (so numbered keys are prefixes of each other
 * too). */
static void model_init(model *m, int numbered, etu_rng *r)
{
    int cap = numbered + 200, n = 0;
    ukey *ks = malloc(sizeof(ukey) * (size_t)cap);
    cr_assert_not_null(ks);
    static const struct { const char *b; size_t len; } special[] = {
        {"", 0}, {"\x00", 1}, {"\x00\x00", 2}, {"\x00\xff", 2}, {"\x00\x00\x00", 3},
        {"\xff", 1}, {"\xff\x00", 2}, {"\xff\xff", 2}, {"\xff\xff\xff", 3},
        {"\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9}, {"a", 1}, {"a\x00", 2}, {"a\x00\x00", 3},
        {"a\xff", 2}, {"a\xff\xff", 3}, {"ab", 2}, {"k", 1}, {"k0", 2}, {"\x7f", 1},
        {"\x80", 1}, {"\x01\x00\x01", 3}, {"p", 1}, {"pa", 2}, {"pab", 3}, {"pabc", 4},
        {"pabcd", 5}, {"pabcde", 6}, {"pabcdef", 7}, {"pabcdefg", 8}, {"pabcdefgh", 9},
        {"pabcdefghijklmnopq", 18}, {"pb", 2}, {"p\x00", 2}, {"p\xff", 2},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        add_key(ks, &n, cap, special[i].b, special[i].len);
    /* a random prefix chain and random binary keys */
    unsigned char chain[MAXK];
    for (int i = 0; i < MAXK; i++)
        chain[i] = edge_byte(r);
    for (int l = 1; l <= 16; l++)
        add_key(ks, &n, cap, chain, (size_t)l);
    for (int i = 0; i < 30; i++) {
        unsigned char b[MAXK];
        size_t len = 1 + (size_t)etu_rng_below(r, 12);
        for (size_t j = 0; j < len; j++)
            b[j] = edge_byte(r);
        add_key(ks, &n, cap, b, len);
    }
    for (int i = 0; i < numbered; i++) {
        char b[MAXK + 1];
        int len = snprintf(b, sizeof b, "k%06d%.*s", i, (int)(i % 9), "\x00\xff/tail");
        add_key(ks, &n, cap, b, (size_t)len);
    }
    qsort(ks, (size_t)n, sizeof(ukey), ukey_qcmp);
    int w = 0; /* dedup */
    for (int i = 0; i < n; i++)
        if (w == 0 || ukey_qcmp(&ks[w - 1], &ks[i]) != 0)
            ks[w++] = ks[i];
    m->n = w;
    m->keys = ks;
    m->present = calloc((size_t)w, 1);
    m->vlen = calloc((size_t)w, 1);
    m->val = malloc((size_t)w * MAXV);
    cr_assert(m->present && m->vlen && m->val);
}

static void model_copy(model *dst, const model *src)
{
    dst->n = src->n;
    dst->keys = src->keys; /* shared, immutable */
    dst->present = malloc((size_t)src->n);
    dst->vlen = malloc((size_t)src->n);
    dst->val = malloc((size_t)src->n * MAXV);
    cr_assert(dst->present && dst->vlen && dst->val);
    memcpy(dst->present, src->present, (size_t)src->n);
    memcpy(dst->vlen, src->vlen, (size_t)src->n);
    memcpy(dst->val, src->val, (size_t)src->n * MAXV);
}

static void model_free_state(model *m)
{
    free(m->present);
    free(m->vlen);
    free(m->val);
    m->present = NULL;
    m->vlen = NULL;
    m->val = NULL;
}

static void gen_value(etu_rng *r, char *v, size_t *len)
{
    uint64_t x = etu_rng_next(r);
    size_t l = (x & 15) == 0 ? 0 : (size_t)((x >> 8) % (MAXV + 1));
    for (size_t i = 0; i < l; i++)
        v[i] = (char)etu_rng_next(r);
    *len = l;
}

static void model_put(model *m, int i, const char *v, size_t len)
{
    m->present[i] = 1;
    m->vlen[i] = (uint8_t)len;
    memcpy(m->val + (size_t)i * MAXV, v, len);
}

/* First universe index whose key is >= (strict: >) probe. */
static int lower_bound(const model *m, const void *p, size_t pl, int strict)
{
    int lo = 0, hi = m->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = key_cmp(m->keys[mid].b, m->keys[mid].len, p, pl);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int next_present(const model *m, int i)
{
    while (i < m->n && !m->present[i])
        i++;
    return i < m->n ? i : -1;
}

static int prev_present(const model *m, int i)
{
    while (i >= 0 && !m->present[i])
        i--;
    return i;
}

/* ---- checking an iterator against the model ----------------------------------------------- */

/* The last steps of a walk, printed with a failure. */
typedef struct trace {
    char lines[16][80];
    int n;
} trace;

static void trace_add(trace *t, const char *op, const void *p, size_t pl)
{
    char *s = t->lines[t->n++ % 16];
    int w = snprintf(s, 80, "%s", op);
    for (size_t i = 0; p && i < pl && w < 72; i++)
        w += snprintf(s + w, (size_t)(80 - w), "%02x", ((const unsigned char *)p)[i]);
}

static const char *trace_str(const trace *t)
{
    static char out[16 * 82];
    out[0] = 0;
    int start = t->n > 16 ? t->n - 16 : 0;
    for (int i = start; i < t->n; i++) {
        strcat(out, t->lines[i % 16]);
        strcat(out, " | ");
    }
    return out;
}

static void hex(char *out, const void *p, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < n && i < 30; i++)
        sprintf(out + 2 * i, "%02x", ((const unsigned char *)p)[i]);
}

static void check_at(lsm_iter *it, const model *m, int cur, const trace *t, const char *ctx)
{
    int st = lsm_iter_status(it);
    cr_assert_eq(st, 0, "seed %" PRIu64 " [%s]: iterator error %s; steps: %s", g_seed, ctx,
                 lsm_strerror(st), trace_str(t));
    if (cur < 0) {
        if (lsm_iter_valid(it)) {
            size_t kl;
            const char *k = lsm_iter_key(it, &kl);
            char h[64];
            hex(h, k, kl);
            cr_assert_fail("seed %" PRIu64 " [%s]: iterator valid at key %s, model says "
                           "invalid; steps: %s", g_seed, ctx, h, trace_str(t));
        }
        return;
    }
    char want[64];
    hex(want, m->keys[cur].b, m->keys[cur].len);
    cr_assert(lsm_iter_valid(it), "seed %" PRIu64 " [%s]: iterator invalid, model at key %s; "
              "steps: %s", g_seed, ctx, want, trace_str(t));
    size_t kl, vl;
    const char *k = lsm_iter_key(it, &kl);
    const char *v = lsm_iter_value(it, &vl);
    if (key_cmp(k, kl, m->keys[cur].b, m->keys[cur].len) != 0) {
        char got[64];
        hex(got, k, kl);
        cr_assert_fail("seed %" PRIu64 " [%s]: iterator at key %s, model at %s; steps: %s",
                       g_seed, ctx, got, want, trace_str(t));
    }
    cr_assert(vl == m->vlen[cur] && (vl == 0 || memcmp(v, m->val + (size_t)cur * MAXV, vl) == 0),
              "seed %" PRIu64 " [%s]: value of key %s has %zu bytes, model %u (or different "
              "bytes); steps: %s", g_seed, ctx, want, vl, m->vlen[cur], trace_str(t));
}

/* A probe key: a universe key, one with a byte appended or its last byte dropped or bumped,
 * random edge bytes, empty, or past everything. */
static size_t gen_probe(const model *m, etu_rng *r, unsigned char *p)
{
    const ukey *k = &m->keys[etu_rng_below(r, (uint64_t)m->n)];
    size_t len = k->len;
    memcpy(p, k->b, len);
    switch (etu_rng_below(r, 8)) {
    case 0:
    case 1:
    case 2:
        return len;
    case 3:
        p[len] = etu_rng_below(r, 2) ? 0x00 : edge_byte(r);
        return len + 1;
    case 4:
        return len ? len - 1 : 0;
    case 5:
        if (len && p[len - 1] != 0xff)
            p[len - 1]++;
        else if (len && p[len - 1] != 0)
            p[len - 1]--;
        return len;
    case 6:
        len = (size_t)etu_rng_below(r, 5);
        for (size_t i = 0; i < len; i++)
            p[i] = edge_byte(r);
        return len;
    default:
        if (etu_rng_below(r, 2))
            return 0;
        memset(p, 0xff, MAXK + 1);
        return MAXK + 1;
    }
}

/* A random walk of `steps` moves over it, checked against m after each. Runs of next or prev
 * (the direction flips with probability 1/4 per move), seeks of all kinds, and moves on an
 * invalid iterator (which stays invalid). */
static void walk(lsm_iter *it, const model *m, etu_rng *r, int steps, const char *ctx)
{
    trace t = {.n = 0};
    int cur = -1, dir = 1, positioned = 0;
    unsigned char p[MAXK + 2];
    for (int s = 0; s < steps; s++) {
        uint64_t op = etu_rng_below(r, 100);
        if (!positioned || op < 10 || (cur < 0 && op < 60)) {
            size_t pl;
            switch (etu_rng_below(r, 6)) {
            case 0:
                trace_add(&t, "seek_first", NULL, 0);
                lsm_iter_seek_first(it);
                cur = next_present(m, 0);
                dir = 1;
                break;
            case 1:
                trace_add(&t, "seek_last", NULL, 0);
                lsm_iter_seek_last(it);
                cur = prev_present(m, m->n - 1);
                dir = -1;
                break;
            case 2:
            case 3:
                pl = gen_probe(m, r, p);
                trace_add(&t, "seek:", p, pl);
                lsm_iter_seek(it, p, pl);
                cur = next_present(m, lower_bound(m, p, pl, 0));
                break;
            default:
                pl = gen_probe(m, r, p);
                trace_add(&t, "seek_for_prev:", p, pl);
                lsm_iter_seek_for_prev(it, p, pl);
                cur = prev_present(m, lower_bound(m, p, pl, 1) - 1);
                dir = -1;
                break;
            }
            positioned = 1;
        } else {
            if (etu_rng_below(r, 4) == 0)
                dir = -dir;
            if (dir > 0) {
                trace_add(&t, "next", NULL, 0);
                lsm_iter_next(it);
                if (cur >= 0)
                    cur = next_present(m, cur + 1);
            } else {
                trace_add(&t, "prev", NULL, 0);
                lsm_iter_prev(it);
                if (cur >= 0)
                    cur = prev_present(m, cur - 1);
            }
        }
        check_at(it, m, cur, &t, ctx);
    }
}

/* Whole view both ways: forward from seek_first, backward from seek_last. */
static void full_scans(lsm_iter *it, const model *m, const char *ctx)
{
    trace t = {.n = 0};
    trace_add(&t, "full forward", NULL, 0);
    int cur = next_present(m, 0);
    lsm_iter_seek_first(it);
    for (;;) {
        check_at(it, m, cur, &t, ctx);
        if (cur < 0)
            break;
        lsm_iter_next(it);
        cur = next_present(m, cur + 1);
    }
    trace_add(&t, "full backward", NULL, 0);
    cur = prev_present(m, m->n - 1);
    lsm_iter_seek_last(it);
    for (;;) {
        check_at(it, m, cur, &t, ctx);
        if (cur < 0)
            break;
        lsm_iter_prev(it);
        cur = prev_present(m, cur - 1);
    }
}

/* ---- writing ---------------------------------------------------------------------------- */

static void must(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s: %s (%d): %s", g_seed, what, lsm_strerror(rc), rc,
                 rc ? "see engine log" : "");
}

static void pump(lsm_t *db)
{
    must(lsm_commit(db), "commit");
    must(etu_wait_unstalled(db), "wait unstalled");
    int rc = lsm_poll(db);
    cr_assert_geq(rc, 0, "seed %" PRIu64 ": lsm_poll: %s", g_seed, lsm_strerror(rc));
}

/* ops random writes: puts 55%, deletes 30% (half of them of present keys), batches 15%. A
 * third of the writes go to a "hot" tenth of the universe, so keys collect many versions. */
static void random_writes(lsm_t *db, model *m, etu_rng *r, int ops, int poll)
{
    lsm_batch *b = lsm_batch_new();
    char v[MAXV];
    size_t vl;
    for (int op = 0; op < ops; op++) {
        uint64_t kind = etu_rng_below(r, 100);
        int hot = etu_rng_below(r, 3) == 0;
        int i = (int)etu_rng_below(r, (uint64_t)(hot ? (m->n + 9) / 10 : m->n));
        if (kind < 55) {
            gen_value(r, v, &vl);
            must(lsm_put(db, m->keys[i].b, m->keys[i].len, v, vl), "put");
            model_put(m, i, v, vl);
        } else if (kind < 85) {
            if (kind < 70) { /* of a present key, when there is one nearby */
                int j = next_present(m, i);
                if (j >= 0)
                    i = j;
            }
            must(lsm_delete(db, m->keys[i].b, m->keys[i].len), "delete");
            m->present[i] = 0;
        } else {
            lsm_batch_clear(b);
            int nops = 2 + (int)etu_rng_below(r, 6);
            struct { int i, del; size_t vl; char v[MAXV]; } st[8];
            for (int j = 0; j < nops; j++) {
                st[j].i = (j > 0 && etu_rng_below(r, 4) == 0)
                              ? st[j - 1].i
                              : (int)etu_rng_below(r, (uint64_t)m->n);
                st[j].del = etu_rng_below(r, 3) == 0;
                const ukey *k = &m->keys[st[j].i];
                if (st[j].del) {
                    must(lsm_batch_delete(b, k->b, k->len), "batch delete");
                } else {
                    gen_value(r, st[j].v, &st[j].vl);
                    must(lsm_batch_put(b, k->b, k->len, st[j].v, st[j].vl), "batch put");
                }
            }
            must(lsm_write(db, b), "write");
            for (int j = 0; j < nops; j++) {
                if (st[j].del)
                    m->present[st[j].i] = 0;
                else
                    model_put(m, st[j].i, st[j].v, st[j].vl);
            }
        }
        if (op % 64 == 63) {
            if (poll)
                pump(db);
            else
                must(lsm_commit(db), "commit");
        }
    }
    lsm_batch_free(b);
    must(lsm_commit(db), "commit");
}

static void layout(lsm_t *db, char *out, size_t n, int *l0, int *deeper, int *imm)
{
    lsm_stats s;
    lsm_get_stats(db, &s);
    *l0 = s.level_files[0];
    *deeper = 0;
    for (int l = 1; l < LSM_MAX_LEVELS; l++)
        *deeper += s.level_files[l];
    *imm = s.immutable_memtables;
    snprintf(out, n, "imm %d, L0..L3 files %d/%d/%d/%d", s.immutable_memtables,
             s.level_files[0], s.level_files[1], s.level_files[2], s.level_files[3]);
}

/* ---- the randomized model test ------------------------------------------------------------ */

typedef struct live_iter {
    lsm_iter *it;
    model m;         /* the model when it was created */
    int born;
} live_iter;

static void run_reverse_model(lsm_options *o, int numbered, int rounds, int ops_per_round,
                              int steps)
{
    g_seed = etu_seed(DEFAULT_SEED);
    etu_rng r;
    etu_rng_init(&r, g_seed);
    model m = {0};
    model_init(&m, numbered, &r);
    fprintf(stderr, "engine_reverse: seed %" PRIu64 ", %d keys, %d rounds, dir %s\n", g_seed,
            m.n, rounds, g_dir);
    lsm_t *db = etu_open(g_dir, o);
    cr_assert_not_null(db);
    live_iter live[3] = {{0}};
    int all_layers = 0;
    char ctx[160], lay[96];
    for (int round = 0; round < rounds; round++) {
        random_writes(db, &m, &r, ops_per_round, 1);
        /* move data down, so that over a cycle of rounds every layer holds some */
        switch (round % 5) {
        case 0:
            must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact_range");
            break;
        case 1:
        case 2:
            must(lsm_flush(db, 1), "flush(wait)");
            break;
        case 3: { /* part of the key space only, in the background */
            const ukey *a = &m.keys[etu_rng_below(&r, (uint64_t)m.n)];
            const ukey *b = &m.keys[etu_rng_below(&r, (uint64_t)m.n)];
            if (ukey_qcmp(a, b) > 0) {
                const ukey *t = a;
                a = b;
                b = t;
            }
            must(lsm_compact_range(db, a->b, a->len, b->b, b->len, 0), "compact_range(0)");
            break;
        }
        default:
            break;
        }
        /* an immutable memtable: flush without waiting, then (no poll) a few more writes so
         * the active memtable is not empty either */
        if (round % 5 != 4) {
            must(lsm_flush(db, 0), "flush(0)");
            random_writes(db, &m, &r, 50 + (int)etu_rng_below(&r, 200), 0);
        }
        int l0, deeper, imm;
        layout(db, lay, sizeof lay, &l0, &deeper, &imm);
        if (l0 > 0 && deeper > 0 && imm > 0)
            all_layers++;
        /* a fresh iterator: a walk and both full scans */
        lsm_iter *it = lsm_iter_new(db);
        cr_assert_not_null(it);
        snprintf(ctx, sizeof ctx, "round %d fresh iterator, %s", round, lay);
        walk(it, &m, &r, steps, ctx);
        full_scans(it, &m, ctx);
        /* keep it alive: replace the oldest live iterator, walking that one a last time */
        live_iter *slot = &live[round % 3];
        if (slot->it) {
            snprintf(ctx, sizeof ctx, "round %d, iterator of round %d (writes, flushes and "
                     "compactions since)", round, slot->born);
            walk(slot->it, &slot->m, &r, steps / 2, ctx);
            full_scans(slot->it, &slot->m, ctx);
            lsm_iter_free(slot->it);
            model_free_state(&slot->m);
        }
        slot->it = it;
        slot->born = round;
        model_copy(&slot->m, &m);
        /* the other live iterators take a few steps */
        for (int j = 0; j < 3; j++) {
            if (!live[j].it || &live[j] == slot)
                continue;
            snprintf(ctx, sizeof ctx, "round %d, iterator of round %d", round, live[j].born);
            walk(live[j].it, &live[j].m, &r, steps / 8 + 1, ctx);
        }
        if (round % 7 == 6) { /* let background work land */
            must(etu_wait_idle(db), "wait idle");
        }
    }
    fprintf(stderr, "engine_reverse: %d of %d rounds had memtable + immutable + L0 + deeper "
            "levels at once\n", all_layers, rounds);
    cr_assert_gt(all_layers, 0, "seed %" PRIu64 ": never had every layer at once", g_seed);
    for (int j = 0; j < 3; j++) {
        if (!live[j].it)
            continue;
        snprintf(ctx, sizeof ctx, "end, iterator of round %d", live[j].born);
        full_scans(live[j].it, &live[j].m, ctx);
        lsm_iter_free(live[j].it);
        model_free_state(&live[j].m);
    }
    /* after reopen (WAL replay into a fresh memtable over the tables) */
    must(lsm_close(db), "close");
    db = etu_open(g_dir, o);
    cr_assert_not_null(db);
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    walk(it, &m, &r, steps, "after reopen");
    full_scans(it, &m, "after reopen");
    lsm_iter_free(it);
    must(lsm_close(db), "close");
    model_free_state(&m);
    free(m.keys);
}

static void model_options(lsm_options *o)
{
    etu_small_options(o);
    o->memtable_size = 64 << 10;
    o->max_immutable_memtables = 4;
    o->target_file_size = 32 << 10;
    o->level1_max_bytes = 128 << 10;
    o->block_size = 512;          /* many blocks; entries of ~60 bytes: ~8 per block */
    o->block_restart_interval = 4;
    o->block_cache_size = 256 << 10;
    o->l0_compaction_trigger = 4;
}

Test(engine_reverse, small_key_space_walks_match_model_across_layers, .init = setup,
     .fini = teardown, .timeout = 600)
{
    lsm_options o;
    model_options(&o);
    /* ~110 keys: every key sees many versions and deletes; walks hit the ends constantly */
    run_reverse_model(&o, 30, ETU_SANITIZED ? 20 : 40, 400, ETU_SANITIZED ? 1500 : 4000);
}

Test(engine_reverse, larger_key_space_walks_match_model_across_layers, .init = setup,
     .fini = teardown, .timeout = 900)
{
    lsm_options o;
    model_options(&o);
    run_reverse_model(&o, ETU_SANITIZED ? 5000 : 15000, ETU_SANITIZED ? 12 : 25,
                      ETU_SANITIZED ? 2000 : 5000, ETU_SANITIZED ? 3000 : 8000);
}

Test(engine_reverse, default_block_size_and_restart_interval_16, .init = setup,
     .fini = teardown, .timeout = 900)
{
    lsm_options o;
    model_options(&o);
    o.block_size = 4096;
    o.block_restart_interval = 16;
    o.compression = 1;
    run_reverse_model(&o, ETU_SANITIZED ? 3000 : 8000, ETU_SANITIZED ? 10 : 20,
                      ETU_SANITIZED ? 1500 : 4000, ETU_SANITIZED ? 2000 : 5000);
}

/* ---- directed tests ------------------------------------------------------------------------ */

static void expect_empty_view(lsm_t *db, const char *ctx)
{
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    lsm_iter_seek_last(it);
    cr_assert_not(lsm_iter_valid(it), "%s: seek_last", ctx);
    lsm_iter_prev(it);
    cr_assert_not(lsm_iter_valid(it), "%s: prev", ctx);
    lsm_iter_next(it);
    cr_assert_not(lsm_iter_valid(it), "%s: next", ctx);
    lsm_iter_seek_for_prev(it, "\xff\xff\xff", 3);
    cr_assert_not(lsm_iter_valid(it), "%s: seek_for_prev", ctx);
    lsm_iter_seek_for_prev(it, "", 0);
    cr_assert_not(lsm_iter_valid(it), "%s: seek_for_prev of the empty key", ctx);
    lsm_iter_seek_first(it);
    cr_assert_not(lsm_iter_valid(it), "%s: seek_first", ctx);
    lsm_iter_seek(it, "", 0);
    cr_assert_not(lsm_iter_valid(it), "%s: seek", ctx);
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_free(it);
}

Test(engine_reverse, empty_db_and_every_key_deleted_in_each_layer, .init = setup,
     .fini = teardown, .timeout = 120)
{
    lsm_options o;
    etu_small_options(&o);
    o.block_size = 256;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    expect_empty_view(db, "empty db");
    char k[32];
    for (int i = 0; i < 2000; i++) {
        int kl = snprintf(k, sizeof k, "key%05d", i);
        must(lsm_put(db, k, (size_t)kl, "v", 1), "put");
    }
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact"); /* values at the bottom */
    for (int i = 0; i < 2000; i++) {
        int kl = snprintf(k, sizeof k, "key%05d", i);
        must(lsm_delete(db, k, (size_t)kl), "delete");
    }
    /* the empty key, put and deleted: sorts first */
    must(lsm_put(db, "", 0, "e", 1), "put empty key");
    must(lsm_delete(db, "", 0), "delete empty key");
    expect_empty_view(db, "tombstones in the memtable over values in a level");
    must(lsm_flush(db, 1), "flush");
    expect_empty_view(db, "tombstones in L0 over values in a level");
    lsm_iter *old = lsm_iter_new(db); /* sees nothing, whatever comes later */
    must(lsm_put(db, "key00500", 8, "back", 4), "put");
    lsm_iter *it = lsm_iter_new(db);
    lsm_iter_seek_last(it);
    cr_assert(lsm_iter_valid(it));
    size_t kl;
    const char *gk = lsm_iter_key(it, &kl);
    cr_assert(kl == 8 && memcmp(gk, "key00500", 8) == 0);
    lsm_iter_prev(it);
    cr_assert_not(lsm_iter_valid(it));
    lsm_iter_seek_for_prev(it, "key00499\xff", 9);
    cr_assert_not(lsm_iter_valid(it));
    lsm_iter_seek_for_prev(it, "key00500\x00", 9);
    cr_assert(lsm_iter_valid(it));
    lsm_iter_free(it);
    lsm_iter_seek_last(old);
    cr_assert_not(lsm_iter_valid(old));
    lsm_iter_free(old);
    must(lsm_delete(db, "key00500", 8), "delete");
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    expect_empty_view(db, "after full compaction (tombstones dropped)");
    must(lsm_close(db), "close");
}

/* Sequential keys in tiny blocks (a few entries each, restart intervals 1, 2 and 16), the
 * values compacted to the bottom, then deletes at restart-interval and block-ish boundaries in
 * L0 and in the memtable (first and last keys too) and overwrites in between: backward scans,
 * and prev/next switches at every key. */
static void restart_boundaries(int interval)
{
    lsm_options o;
    etu_small_options(&o);
    o.block_size = 200;
    o.block_restart_interval = interval;
    o.compression = 0;
    cr_assert(etu_rmrf(g_dir) == 0 && mkdir(g_dir, 0755) == 0);
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    enum { N = 1200 };
    model m = {0};
    m.n = N;
    m.keys = calloc(N, sizeof(ukey));
    m.present = calloc(N, 1);
    m.vlen = calloc(N, 1);
    m.val = malloc((size_t)N * MAXV);
    for (int i = 0; i < N; i++) {
        m.keys[i].len = (uint8_t)snprintf((char *)m.keys[i].b, MAXK, "r%05d", i);
        char v[16];
        int vl = snprintf(v, sizeof v, "v%d", i);
        must(lsm_put(db, m.keys[i].b, m.keys[i].len, v, (size_t)vl), "put");
        model_put(&m, i, v, (size_t)vl);
    }
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    for (int i = 0; i < N; i++) { /* L0: delete around every 16th and every interval-th key */
        if (i % 16 == 0 || i % 16 == 15 || i % (interval * 3 + 1) == 0) {
            must(lsm_delete(db, m.keys[i].b, m.keys[i].len), "delete");
            m.present[i] = 0;
        }
    }
    must(lsm_flush(db, 1), "flush");
    for (int i = 0; i < N; i += 7) { /* memtable: overwrites, and the ends deleted */
        if (!m.present[i])
            continue;
        must(lsm_put(db, m.keys[i].b, m.keys[i].len, "new", 3), "put");
        model_put(&m, i, "new", 3);
    }
    int ends[] = {1, 2, N - 1, N - 2, N - 3};
    for (size_t j = 0; j < sizeof ends / sizeof ends[0]; j++) {
        must(lsm_delete(db, m.keys[ends[j]].b, m.keys[ends[j]].len), "delete");
        m.present[ends[j]] = 0;
    }
    lsm_iter *it = lsm_iter_new(db);
    char ctx[64];
    snprintf(ctx, sizeof ctx, "restart interval %d", interval);
    full_scans(it, &m, ctx);
    trace t = {.n = 0};
    for (int i = 0; i < N; i++) {
        if (!m.present[i])
            continue;
        lsm_iter_seek(it, m.keys[i].b, m.keys[i].len);
        trace_add(&t, "seek:", m.keys[i].b, m.keys[i].len);
        check_at(it, &m, i, &t, ctx);
        lsm_iter_prev(it);
        trace_add(&t, "prev", NULL, 0);
        int p = prev_present(&m, i - 1);
        check_at(it, &m, p, &t, ctx);
        if (p < 0)
            continue;
        lsm_iter_next(it);
        trace_add(&t, "next", NULL, 0);
        check_at(it, &m, i, &t, ctx);
        lsm_iter_next(it);
        trace_add(&t, "next", NULL, 0);
        check_at(it, &m, next_present(&m, i + 1), &t, ctx);
    }
    lsm_iter_free(it);
    /* and again once everything is compacted into one sorted run */
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    it = lsm_iter_new(db);
    full_scans(it, &m, ctx);
    lsm_iter_free(it);
    must(lsm_close(db), "close");
    model_free_state(&m);
    free(m.keys);
}

Test(engine_reverse, block_restart_boundaries_with_deletes_at_the_edges, .init = setup,
     .fini = teardown, .timeout = 300)
{
    g_seed = 0;
    restart_boundaries(1);
    restart_boundaries(2);
    restart_boundaries(16);
}

/* ZREVRANGE key 0 9 over a large set: seek_for_prev past the set's prefix and 9 prevs read a
 * handful of blocks, not the set (block cache lookups counted: hits + misses). */
Test(engine_reverse, top_ten_of_a_large_set_reads_a_few_blocks, .init = setup,
     .fini = teardown, .timeout = 300)
{
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 4 << 20;
    o.target_file_size = 2 << 20;
    o.level1_max_bytes = 8 << 20;
    o.block_cache_size = 8 << 20;
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    int n = ETU_SANITIZED ? 100000 : 300000;
    char k[32];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof k, "zset:s%08d", i);
        must(lsm_put(db, k, (size_t)kl, "m", 1), "put");
        if (i % 4096 == 4095)
            pump(db);
    }
    must(lsm_put(db, "zset;", 5, "after the set", 13), "put"); /* ';' follows ':' */
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    for (int i = n - 5; i < n; i++) { /* newest members in the memtable, one deleted */
        int kl = snprintf(k, sizeof k, "zset:s%08d", i);
        if (i == n - 2)
            must(lsm_delete(db, k, (size_t)kl), "delete");
        else
            must(lsm_put(db, k, (size_t)kl, "M", 1), "put");
    }
    lsm_stats s0, s1;
    lsm_get_stats(db, &s0);
    lsm_iter *it = lsm_iter_new(db);
    int got = 0, i = n - 1;
    for (lsm_iter_seek_for_prev(it, "zset:\xff", 6); lsm_iter_valid(it) && got < 10;
         lsm_iter_prev(it), got++, i--) {
        if (i == n - 2)
            i--;
        size_t kl, gkl;
        kl = (size_t)snprintf(k, sizeof k, "zset:s%08d", i);
        const char *gk = lsm_iter_key(it, &gkl);
        cr_assert(gkl == kl && memcmp(gk, k, kl) == 0, "member %d", got);
    }
    cr_assert_eq(got, 10);
    lsm_get_stats(db, &s1);
    uint64_t blocks = (s1.cache_hits + s1.cache_misses) - (s0.cache_hits + s0.cache_misses);
    fprintf(stderr, "engine_reverse: top 10 of %d members: %" PRIu64 " block lookups\n", n,
            blocks);
    cr_assert_leq(blocks, 12, "a top-10 reverse scan looked up %" PRIu64 " blocks", blocks);
    lsm_iter_free(it);
    must(lsm_close(db), "close");
}

/* The iterator's own current key given back to a seek (in reverse it lives in the iterator's
 * buffer, where a seek builds its lookup key); NULL with length 0 is the empty key. */
Test(engine_reverse, seek_with_the_iterators_own_key_and_null_empty_key, .init = setup,
     .fini = teardown, .timeout = 60)
{
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db);
    char k[300];
    memset(k, 'x', sizeof k);
    for (int i = 0; i < 50; i++) {
        /* long keys; the last one is 252 bytes: its lookup key (260) outgrows the 256-byte
         * buffer holding it, which a seek with it must survive */
        int kl = i == 49 ? 252 : 100 + 3 * i;
        k[0] = '0';
        k[1] = '0';
        k[2] = '0';
        k[3] = (char)('0' + i / 10);
        k[4] = (char)('0' + i % 10); /* "000ii" */
        must(lsm_put(db, k, (size_t)kl, "v", 1), "put");
    }
    must(lsm_put(db, "", 0, "empty", 5), "put empty key");
    lsm_iter *it = NULL;
    for (int round = 0; round < 5; round++) {
        if (it)
            lsm_iter_free(it);
        it = lsm_iter_new(db); /* fresh buffers */
        lsm_iter_seek_last(it);
        for (int j = 0; j < (round == 4 ? 10 : 0); j++)
            lsm_iter_prev(it);
        size_t kl;
        const char *cur = lsm_iter_key(it, &kl);
        char want[300];
        memcpy(want, cur, kl);
        switch (round) {
        case 0: lsm_iter_seek_for_prev(it, cur, kl); break;
        case 1: lsm_iter_seek(it, cur, kl); break;
        case 2: /* forward: the key points into the sources */
            lsm_iter_prev(it);
            lsm_iter_next(it);
            cur = lsm_iter_key(it, &kl);
            lsm_iter_seek_for_prev(it, cur, kl);
            break;
        default: {
            size_t vl;
            const char *v = lsm_iter_value(it, &vl); /* the value buffer as a key: "v" */
            lsm_iter_seek_for_prev(it, v, vl);
            cr_assert(lsm_iter_valid(it));
            cur = lsm_iter_key(it, &kl);
            cr_assert(kl == 252 && memcmp(cur, "00049", 5) == 0, "last key <= \"v\"");
            continue;
        }
        }
        cr_assert(lsm_iter_valid(it), "round %d", round);
        size_t gl;
        const char *g = lsm_iter_key(it, &gl);
        cr_assert(gl == kl && memcmp(g, want, kl) == 0, "round %d: landed elsewhere", round);
    }
    lsm_iter_seek_for_prev(it, NULL, 0);
    cr_assert(lsm_iter_valid(it));
    size_t kl, vl;
    lsm_iter_key(it, &kl);
    const char *v = lsm_iter_value(it, &vl);
    cr_assert(kl == 0 && vl == 5 && memcmp(v, "empty", 5) == 0);
    lsm_iter_seek(it, NULL, 0);
    cr_assert(lsm_iter_valid(it));
    lsm_iter_key(it, &kl);
    cr_assert_eq(kl, 0);
    lsm_iter_prev(it);
    cr_assert_not(lsm_iter_valid(it));
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_free(it);
    must(lsm_close(db), "close");
}
