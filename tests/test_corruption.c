/* test_corruption.c - damage to a CLOSED database: bit flips, truncations and zeroed ranges at
 * seeded random offsets of its WAL, SSTables, MANIFEST and CURRENT.
 *
 * The database (built once per test): ~600 keys written in batches with two counters (live keys,
 * batches), overwritten and deleted over four flushes (tables at the last level after a full
 * compaction, three L0 tables that shadow them), then 40 batches left in the WAL (one bigger
 * than a 32 KiB WAL block). The model keeps every state the WAL's prefixes give.
 *
 * For every damaged copy:
 *   - kevo-check (lsm_check_dir) reports damage for every changed byte (all bytes of these
 *     files are covered by a checksum or a strict format, except WAL block trailer padding);
 *     when it says "intact", the engine must recover everything exactly;
 *   - lsm_open either refuses, with lsm_last_error naming the damaged file, or opens and then
 *     every lsm_get and a full iteration return the exact value written or an error
 *     (LSM_ECORRUPT naming the table and the block offset, SSTables only: blocks are read
 *     lazily) -- never a value that was not written, never a deleted key come back, never a
 *     silent skip. Only a torn WAL tail may lose data, and then exactly the batches at and
 *     after the damage (a prefix of the WAL survives, counters included).
 *   - damage to a table must be noticed by a full scan (it reads every block).
 * Knobs: KEVO_CORRUPT_ROUNDS (per file kind, default 100), KEVO_SEED. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <sys/wait.h>

#include "check.h"
#include "engine_test_util.h"
#include "wal.h"

#define NKEYS 600
#define NWAL 40           /* batches left in the WAL */

static char g_base[512];
static char g_tmpl[600];
static uint64_t g_seed;

/* ---- model ---------------------------------------------------------------------------------- */

typedef struct op { int key; const char *val; } op;   /* val NULL: delete */
typedef struct batch { op *ops; int n; } batch;

static const char *g_base_state[NKEYS];    /* state before the WAL batches */
static int64_t g_base_c0, g_base_c1;
static batch g_wal[NWAL];
static const char **g_states;              /* (NWAL + 1) x NKEYS: state after p WAL batches */
static int64_t g_c0[NWAL + 1], g_c1[NWAL + 1];
static uint64_t g_rec_start[NWAL + 1];     /* WAL offsets of the records, [NWAL] = file size */
static char g_wal_name[64];
static char *g_trailer;                    /* 1 where the pristine WAL has block trailer padding */
static int g_ntables;
static char g_tables[32][64];
static char g_manifest[64];

static char **g_allocs;                    /* the model's values, freed at teardown */
static size_t g_nallocs, g_cap_allocs;

static void key_name(char *b, size_t n, int k) { snprintf(b, n, "key-%04d", k); }

static const char *make_value(etu_rng *r, int k, int ver) {
    size_t len = 40 + etu_rng_below(r, 200);
    char *v = malloc(len + 1);
    int w = snprintf(v, len + 1, "v%04d.%d:", k, ver);
    for (size_t i = (size_t)w; i < len; i++) v[i] = (char)('a' + etu_rng_below(r, 4 + k % 20));
    v[len] = 0;
    if (g_nallocs == g_cap_allocs) {
        g_cap_allocs = g_cap_allocs ? g_cap_allocs * 2 : 1024;
        g_allocs = realloc(g_allocs, g_cap_allocs * sizeof(char *));
    }
    g_allocs[g_nallocs++] = v;  /* the model lives as long as the test */
    return v;
}

static void must(int rc, const char *what) {
    cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s: %s (%d)", g_seed, what, lsm_strerror(rc), rc);
}

static void corrupt_options(lsm_options *o) {
    etu_small_options(o);
    o->memtable_size = 4 << 20;      /* flushes only when asked */
    o->block_size = 1024;            /* many data blocks */
    o->target_file_size = 16 << 10;  /* several tables per level */
    o->l0_compaction_trigger = 100;  /* no compaction but the one asked for */
    o->l0_slowdown_trigger = 200;
    o->block_cache_size = 256 << 10;
}

/* Writes one batch of n random ops on the model state st (counters c0 live keys, c1 batches);
 * fills *rec when not NULL. */
static void write_batch(lsm_t *db, etu_rng *r, const char **st, int64_t *c0, int64_t *c1, int n,
                        int del_pct, batch *rec, int *ver) {
    lsm_batch *b = lsm_batch_new();
    op *ops = calloc((size_t)n, sizeof(op));
    int64_t d0 = 0;
    char k[32];
    for (int i = 0; i < n; i++) {
        int key = (int)etu_rng_below(r, NKEYS);
        key_name(k, sizeof k, key);
        ops[i].key = key;
        if ((int)etu_rng_below(r, 100) < del_pct) {
            ops[i].val = NULL;
            must(lsm_batch_delete(b, k, strlen(k)), "batch_delete");
        } else {
            ops[i].val = make_value(r, key, (*ver)++);
            must(lsm_batch_put(b, k, strlen(k), ops[i].val, strlen(ops[i].val)), "batch_put");
        }
        /* the counter delta as the server computes it: read (the model), then write */
        int was = st[key] != NULL, is = ops[i].val != NULL;
        d0 += is - was;
        st[key] = ops[i].val;
    }
    if (d0) must(lsm_batch_counter_add(b, 0, d0), "counter_add");
    must(lsm_batch_counter_add(b, 1, 1), "counter_add");
    must(lsm_write(db, b), "lsm_write");
    must(lsm_commit(db), "lsm_commit");
    *c0 += d0;
    *c1 += 1;
    lsm_batch_free(b);
    if (rec) { rec->ops = ops; rec->n = n; } else free(ops);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static void build_template(void) {
    snprintf(g_tmpl, sizeof g_tmpl, "%s/template", g_base);
    lsm_options o;
    corrupt_options(&o);
    etu_rng r;
    etu_rng_init(&r, g_seed);
    const char *st[NKEYS] = {0};
    int64_t c0 = 0, c1 = 0;
    int ver = 0;
    lsm_t *db = etu_open(g_tmpl, &o);
    cr_assert_not_null(db);
    /* every key, then a full compaction: tables at the last level */
    lsm_batch *b = lsm_batch_new();
    for (int k0 = 0; k0 < NKEYS; k0 += 10) {
        lsm_batch_clear(b);
        char kn[32];
        for (int k = k0; k < k0 + 10; k++) {
            key_name(kn, sizeof kn, k);
            st[k] = make_value(&r, k, ver++);
            must(lsm_batch_put(b, kn, strlen(kn), st[k], strlen(st[k])), "put");
        }
        must(lsm_batch_counter_add(b, 0, 10), "counter");
        must(lsm_batch_counter_add(b, 1, 1), "counter");
        must(lsm_write(db, b), "write");
        c0 += 10;
        c1 += 1;
    }
    lsm_batch_free(b);
    must(lsm_commit(db), "commit");
    must(lsm_flush(db, 1), "flush");
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    must(etu_wait_idle(db), "idle");
    /* two L0 tables of overwrites and deletes over it */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 25; i++) write_batch(db, &r, st, &c0, &c1, 1 + (int)etu_rng_below(&r, 8), 25, NULL, &ver);
        must(lsm_flush(db, 1), "flush");
    }
    must(lsm_close(db), "close");
    /* second session: one more flush (an edit after the MANIFEST's snapshot), then WAL only */
    db = etu_open(g_tmpl, &o);
    cr_assert_not_null(db);
    for (int i = 0; i < 25; i++) write_batch(db, &r, st, &c0, &c1, 1 + (int)etu_rng_below(&r, 8), 25, NULL, &ver);
    must(lsm_flush(db, 1), "flush");
    must(etu_wait_idle(db), "idle");
    memcpy(g_base_state, st, sizeof(st));
    g_base_c0 = c0;
    g_base_c1 = c1;
    for (int i = 0; i < NWAL; i++) {
        int n = i == NWAL / 2 ? 220 : 1 + (int)etu_rng_below(&r, 5); /* one > 32 KiB */
        write_batch(db, &r, st, &c0, &c1, n, i == NWAL / 2 ? 5 : 30, &g_wal[i], &ver);
    }
    lsm_stats s;
    lsm_get_stats(db, &s);
    int deep = 0;
    for (int l = 1; l < LSM_MAX_LEVELS; l++) deep += s.level_files[l];
    cr_assert(s.level_files[0] == 3 && deep >= 3, "template shape: L0 %d files, deeper %d",
              s.level_files[0], deep);
    must(lsm_close(db), "close");

    /* the states after each prefix of the WAL */
    g_states = malloc(sizeof(const char *) * NKEYS * (NWAL + 1));
    memcpy(g_states, g_base_state, sizeof(g_base_state));
    g_c0[0] = g_base_c0;
    g_c1[0] = g_base_c1;
    for (int p = 1; p <= NWAL; p++) {
        const char **prev = g_states + (size_t)(p - 1) * NKEYS, **cur = g_states + (size_t)p * NKEYS;
        memcpy(cur, prev, sizeof(const char *) * NKEYS);
        int64_t d0 = 0;
        for (int i = 0; i < g_wal[p - 1].n; i++) {
            op *x = &g_wal[p - 1].ops[i];
            d0 += (x->val != NULL) - (cur[x->key] != NULL);
            cur[x->key] = x->val;
        }
        g_c0[p] = g_c0[p - 1] + d0;
        g_c1[p] = g_c1[p - 1] + 1;
    }
    cr_assert(g_c0[NWAL] == c0 && memcmp(g_states + (size_t)NWAL * NKEYS, st, sizeof(st)) == 0);

    /* the files */
    DIR *d = opendir(g_tmpl);
    struct dirent *e;
    int nlogs = 0;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) >= 64) continue;
        if (ends_with(e->d_name, ".sst") && g_ntables < 32)
            snprintf(g_tables[g_ntables++], 64, "%.63s", e->d_name);
        else if (ends_with(e->d_name, ".log")) {
            snprintf(g_wal_name, sizeof g_wal_name, "%.63s", e->d_name);
            nlogs++;
        } else if (strncmp(e->d_name, "MANIFEST-", 9) == 0)
            snprintf(g_manifest, sizeof g_manifest, "%.63s", e->d_name);
    }
    closedir(d);
    cr_assert(nlogs == 1 && g_ntables >= 6, "template: %d WALs, %d tables", nlogs, g_ntables);

    /* where each WAL batch's record starts, and the block trailers */
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_tmpl, g_wal_name);
    wal_reader *wr = wal_reader_open(p);
    cr_assert_not_null(wr);
    const char *rec;
    size_t len;
    int n = 0;
    while (wal_reader_next(wr, &rec, &len) == WAL_READ_RECORD) {
        cr_assert(n < NWAL);
        g_rec_start[n++] = wal_reader_offset(wr);
    }
    cr_assert_eq(n, NWAL, "WAL holds %d records, want %d", n, NWAL);
    cr_assert_eq(wal_reader_tail_dropped(wr), 0);
    wal_reader_close(wr);
    long long size = etu_file_size(p);
    g_rec_start[NWAL] = (uint64_t)size;
    g_trailer = calloc((size_t)size + 1, 1);
    FILE *f = fopen(p, "rb");
    unsigned char *buf = malloc((size_t)size);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    for (uint64_t pos = 0; pos < (uint64_t)size;) {
        uint64_t left = WAL_BLOCK_SIZE - pos % WAL_BLOCK_SIZE;
        if (left < WAL_HEADER_SIZE) {
            for (uint64_t i = pos; i < pos + left && i < (uint64_t)size; i++) g_trailer[i] = 1;
            pos += left;
            continue;
        }
        pos += WAL_HEADER_SIZE + (buf[pos + 4] | (uint64_t)buf[pos + 5] << 8);
    }
    free(buf);
}

static void setup(void) {
    cr_assert_not_null(etu_tmpdir(g_base, sizeof g_base, "corrupt"));
    g_seed = etu_seed(4242);
    build_template();
}

static void teardown(void) {
    if (g_base[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0)) etu_rmrf(g_base);
    for (size_t i = 0; i < g_nallocs; i++) free(g_allocs[i]);
    free(g_allocs);
    for (int i = 0; i < NWAL; i++) {
        free(g_wal[i].ops);
        g_wal[i].ops = NULL;
    }
    free(g_states);
    free(g_trailer);
    /* the TSan build's runner (tests/criterion-shim) runs every test in this one process */
    g_allocs = NULL;
    g_nallocs = g_cap_allocs = 0;
    g_ntables = 0;
    g_states = NULL;
    g_trailer = NULL;
}

TestSuite(corruption, .init = setup, .fini = teardown, .timeout = 600);

/* ---- damage ------------------------------------------------------------------------------- */

enum { D_FLIP, D_TRUNC, D_ZERO };
static const char *dname[] = {"flip", "truncate", "zero"};

typedef struct damage {
    int kind;
    char file[64];
    uint64_t off, len;      /* flip: bit (len) of byte off; truncate: to off; zero: [off, off+len) */
    int changed;            /* some byte differs from the pristine file */
} damage;

static void read_file(const char *p, unsigned char **buf, size_t *n) {
    long long s = etu_file_size(p);
    cr_assert(s >= 0, "stat %s", p);
    *n = (size_t)s;
    *buf = malloc(*n + 1);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fread(*buf, 1, *n, f), *n);
    fclose(f);
}

static void write_file(const char *p, const unsigned char *buf, size_t n) {
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A fresh copy of the template with damage d applied (offsets drawn from r when random). */
static void apply_damage(const char *dir, damage *d, etu_rng *r) {
    etu_rmrf(dir);
    cr_assert_eq(etu_copy_dir(g_tmpl, dir), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, d->file);
    unsigned char *buf;
    size_t n;
    read_file(p, &buf, &n);
    cr_assert(n > 0);
    if (r) {
        d->off = etu_rng_below(r, n);
        d->len = d->kind == D_FLIP ? etu_rng_below(r, 8) : 1 + etu_rng_below(r, 64);
    }
    d->changed = 0;
    switch (d->kind) {
    case D_FLIP:
        buf[d->off] ^= (unsigned char)(1u << d->len);
        d->changed = 1;
        break;
    case D_TRUNC:
        n = (size_t)d->off;
        d->changed = 1;
        break;
    case D_ZERO:
        if (d->off + d->len > n) d->len = n - d->off;
        for (uint64_t i = d->off; i < d->off + d->len; i++) {
            if (buf[i]) d->changed = 1;
            buf[i] = 0;
        }
        break;
    }
    write_file(p, buf, n);
    free(buf);
}

/* ---- kevo-check findings, kept for messages ------------------------------------------------- */

typedef struct findings { char text[4096]; size_t len; int errors; } findings;

static void collect(void *ctx, int sev, const char *file, int64_t off, const char *msg) {
    findings *f = ctx;
    if (sev == LSM_CHECK_ERROR) f->errors++;
    if (f->len + 256 < sizeof f->text)
        f->len += (size_t)snprintf(f->text + f->len, sizeof f->text - f->len, "\n    %s %s@%lld: %.160s",
                                   sev == LSM_CHECK_ERROR ? "E" : "W", file, (long long)off, msg);
}

/* ---- verification ---------------------------------------------------------------------------- */

typedef struct outcome {
    int opened;
    int get_errors;        /* lsm_get answered an error */
    int iter_error;        /* the scan ended on an error */
    int prefix;            /* WAL batches present */
} outcome;

/* 1 if the observations fit the state after p WAL batches. */
static int fits(int p, const int *rcs, char **vals, size_t *vlens, int64_t c0, int64_t c1) {
    const char **stt = g_states + (size_t)p * NKEYS;
    if (c0 != g_c0[p] || c1 != g_c1[p]) return 0;
    for (int k = 0; k < NKEYS; k++) {
        if (rcs[k] == 0) {
            if (!stt[k] || strlen(stt[k]) != vlens[k] || memcmp(stt[k], vals[k], vlens[k]) != 0) return 0;
        } else if (rcs[k] == LSM_ENOTFOUND) {
            if (stt[k]) return 0;
        }
    }
    return 1;
}

static void verify_open_db(lsm_t *db, const damage *d, int is_wal, int is_sst, uint64_t pmin,
                           const char *ctx, outcome *out) {
    int rcs[NKEYS];
    char *vals[NKEYS];
    size_t vlens[NKEYS];
    lsm_buf b = {0};
    char k[32];
    for (int i = 0; i < NKEYS; i++) {
        key_name(k, sizeof k, i);
        rcs[i] = lsm_get(db, k, strlen(k), &b);
        vals[i] = NULL;
        vlens[i] = 0;
        if (rcs[i] == 0) {
            vals[i] = malloc(b.len + 1);
            memcpy(vals[i], b.data, b.len);
            vlens[i] = b.len;
        } else if (rcs[i] != LSM_ENOTFOUND) {
            out->get_errors++;
            const char *msg = lsm_last_error(db);
            cr_assert(is_sst, "[%s] get %s: %s (%s): only table damage may surface at read time",
                      ctx, k, lsm_strerror(rcs[i]), msg);
            cr_assert(rcs[i] == LSM_ECORRUPT, "[%s] get %s: %s", ctx, k, lsm_strerror(rcs[i]));
            cr_assert(strstr(msg, d->file) && strstr(msg, "offset"),
                      "[%s] get %s: error message does not name %s and an offset: \"%s\"", ctx, k,
                      d->file, msg);
        }
    }
    lsm_buf_free(&b);
    int64_t c0 = lsm_counter(db, 0), c1 = lsm_counter(db, 1);
    int p = -1;
    for (int cand = NWAL; cand >= (is_wal ? (int)pmin : NWAL); cand--)
        if (fits(cand, rcs, vals, vlens, c0, c1)) { p = cand; break; }
    if (p < 0) {
        /* name the first key that fits no allowed state, for the message */
        const char **full = g_states + (size_t)NWAL * NKEYS;
        int bad = -1;
        for (int i = 0; i < NKEYS && bad < 0; i++)
            if ((rcs[i] == 0 && (!full[i] || strlen(full[i]) != vlens[i] || memcmp(full[i], vals[i], vlens[i]))) ||
                (rcs[i] == LSM_ENOTFOUND && full[i]))
                bad = i;
        cr_assert_fail("[%s] WRONG DATA: the reads fit no allowed state (WAL prefix >= %d of %d); "
                       "counters %" PRId64 "/%" PRId64 " (full state %" PRId64 "/%" PRId64 "); first "
                       "key off the full state: key-%04d get=%s value=%.40s want=%.40s",
                       ctx, is_wal ? (int)pmin : NWAL, NWAL, c0, c1, g_c0[NWAL], g_c1[NWAL], bad,
                       bad >= 0 ? lsm_strerror(rcs[bad]) : "-", bad >= 0 && vals[bad] ? vals[bad] : "(none)",
                       bad >= 0 && full[bad] ? full[bad] : "(absent)");
    }
    out->prefix = p;
    /* a full scan: exactly the live keys of state p in order, or a prefix of them and an error */
    const char **stt = g_states + (size_t)p * NKEYS;
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    int next = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        const char *ik = lsm_iter_key(it, &kl);
        const char *iv = lsm_iter_value(it, &vl);
        while (next < NKEYS && !stt[next]) next++;
        key_name(k, sizeof k, next);
        cr_assert(next < NKEYS && kl == strlen(k) && memcmp(ik, k, kl) == 0,
                  "[%s] scan yields %.*s, want %s (a key skipped or come back)", ctx, (int)kl, ik,
                  next < NKEYS ? k : "the end");
        cr_assert(vl == strlen(stt[next]) && memcmp(iv, stt[next], vl) == 0,
                  "[%s] scan: %s has a WRONG value %.40s, want %.40s", ctx, k, iv, stt[next]);
        next++;
    }
    int ist = lsm_iter_status(it);
    if (ist) {
        out->iter_error = 1;
        cr_assert(is_sst, "[%s] scan error %s (%s): only table damage may surface at read time", ctx,
                  lsm_strerror(ist), lsm_last_error(db));
        const char *msg = lsm_last_error(db);
        cr_assert(strstr(msg, d->file) != NULL, "[%s] scan error message does not name %s: \"%s\"",
                  ctx, d->file, msg);
    } else {
        while (next < NKEYS && !stt[next]) next++;
        cr_assert(next == NKEYS, "[%s] scan ended early without an error: key-%04d and later missing",
                  ctx, next);
    }
    lsm_iter_free(it);
    for (int i = 0; i < NKEYS; i++) free(vals[i]);
}

static uint64_t g_tried[4], g_refused[4], g_opened_exact[4], g_read_errors[4], g_tail_lost[4],
    g_unchanged[4];

/* One damaged copy: check, open, verify. kind_idx: 0 WAL, 1 SST, 2 MANIFEST, 3 CURRENT. */
static void quiet_log(void *ctx, int level, const char *msg) {
    (void)ctx;
    if (etu_env_u64("KEVO_TEST_VERBOSE", 0)) fprintf(stderr, "[engine %d] %s\n", level, msg);
}

static void run_one(int kind_idx, damage *d, etu_rng *r, int round) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/r%d", g_base, round);
    apply_damage(dir, d, r);
    char ctx[256];
    snprintf(ctx, sizeof ctx, "seed %" PRIu64 " round %d: %s %s at %" PRIu64 " (%" PRIu64 ")",
             g_seed, round, dname[d->kind], d->file, d->off, d->len);
    g_tried[kind_idx]++;
    if (!d->changed) { g_unchanged[kind_idx]++; etu_rmrf(dir); return; }
    int is_wal = kind_idx == 0, is_sst = kind_idx == 1;

    findings f;
    memset(&f, 0, sizeof f);
    lsm_check_stats cs;
    int crc = lsm_check_dir(dir, collect, &f, &cs);
    cr_assert(crc == 0 || crc == 1, "[%s] kevo-check returned %d:%s", ctx, crc, f.text);
    int harmless = is_wal && d->kind != D_TRUNC && g_trailer[d->off] &&
                   (d->kind == D_FLIP || g_trailer[d->off + d->len - 1]);
    if (d->kind != D_TRUNC && !harmless)
        cr_assert_eq(crc, 1, "[%s] kevo-check missed a changed checksummed byte:%s", ctx, f.text);
    if (crc == 1) {
        /* the findings name the damaged file */
        cr_assert(strstr(f.text, d->file) != NULL || kind_idx >= 2,
                  "[%s] kevo-check does not name %s:%s", ctx, d->file, f.text);
    }

    /* WAL batches wholly before the first damaged byte must survive */
    uint64_t pmin = 0;
    if (is_wal)
        while (pmin < NWAL && g_rec_start[pmin + 1] <= d->off) pmin++;

    lsm_options o;
    corrupt_options(&o);
    o.log_fn = quiet_log;  /* refusals and dropped tails are expected here */
    o.wal_prealloc = 0;    /* the new WAL of each open: no 1 MiB of zeros per round */
    lsm_t *db = NULL;
    int orc = lsm_open(dir, &o, &db);
    if (orc != 0) {
        const char *msg = lsm_last_error(NULL);
        cr_assert(crc == 1, "[%s] lsm_open refused (%s: %s) but kevo-check found it intact", ctx,
                  lsm_strerror(orc), msg);
        const char *want = kind_idx == 3 ? "CURRENT" : d->file;
        cr_assert(strstr(msg, want) != NULL, "[%s] lsm_open refused but its message does not name "
                  "%s: \"%s\"", ctx, want, msg);
        g_refused[kind_idx]++;
        etu_rmrf(dir);
        return;
    }
    outcome out;
    memset(&out, 0, sizeof out);
    verify_open_db(db, d, is_wal, is_sst, pmin, ctx, &out);
    if (is_sst && d->kind != D_TRUNC)
        cr_assert(out.iter_error || out.get_errors,
                  "[%s] table damage went unnoticed by a full scan and every get", ctx);
    if (is_sst) cr_assert(out.iter_error, "[%s] table damage went unnoticed by a full scan", ctx);
    if (crc == 0)
        cr_assert(out.prefix == NWAL && !out.get_errors && !out.iter_error,
                  "[%s] kevo-check said intact but recovery lost data (WAL prefix %d of %d)", ctx,
                  out.prefix, NWAL);
    if (out.get_errors || out.iter_error) g_read_errors[kind_idx]++;
    else if (out.prefix == NWAL) g_opened_exact[kind_idx]++;
    else g_tail_lost[kind_idx]++;
    if (is_sst && round % 4 == 0) {
        /* a full compaction reads the damaged table: it must fail and keep its inputs, so a
         * reopen reads exactly what it read before */
        int crc2 = lsm_compact_range(db, NULL, 0, NULL, 0, 1);
        cr_assert(crc2 != 0, "[%s] a full compaction over a damaged table succeeded", ctx);
        lsm_close(db);
        db = NULL;
        cr_assert_eq(lsm_open(dir, &o, &db), 0, "[%s] reopen after the failed compaction: %s", ctx,
                     lsm_last_error(NULL));
        outcome again;
        memset(&again, 0, sizeof again);
        verify_open_db(db, d, is_wal, is_sst, pmin, ctx, &again);
        cr_assert(again.iter_error && again.get_errors == out.get_errors,
                  "[%s] after the failed compaction: %d get errors (before %d)", ctx,
                  again.get_errors, out.get_errors);
    }
    must(lsm_close(db), "close");
    etu_rmrf(dir);
}

static const char *kind_names[] = {"WAL", "SST", "MANIFEST", "CURRENT"};

static void random_rounds(int kind_idx) {
    uint64_t rounds = etu_env_u64("KEVO_CORRUPT_ROUNDS", 100);
    etu_rng r;
    etu_rng_init(&r, g_seed * 31 + (uint64_t)kind_idx);
    for (uint64_t i = 0; i < rounds; i++) {
        damage d;
        memset(&d, 0, sizeof d);
        d.kind = (int)(i % 3);
        const char *file = kind_idx == 0 ? g_wal_name
                         : kind_idx == 1 ? g_tables[etu_rng_below(&r, (uint64_t)g_ntables)]
                         : kind_idx == 2 ? g_manifest : "CURRENT";
        snprintf(d.file, sizeof d.file, "%s", file);
        run_one(kind_idx, &d, &r, (int)i);
    }
    fprintf(stderr,
            "corruption %s: %" PRIu64 " tried (%" PRIu64 " changed nothing): %" PRIu64
            " refused at open, %" PRIu64 " opened exact, %" PRIu64 " opened with read errors, %" PRIu64
            " opened with a torn WAL tail dropped\n",
            kind_names[kind_idx], g_tried[kind_idx], g_unchanged[kind_idx], g_refused[kind_idx],
            g_opened_exact[kind_idx], g_read_errors[kind_idx], g_tail_lost[kind_idx]);
}

Test(corruption, wal_random) { random_rounds(0); }
Test(corruption, sst_random) { random_rounds(1); }
Test(corruption, manifest_random) { random_rounds(2); }
Test(corruption, current_random) { random_rounds(3); }

/* ---- targeted cases --------------------------------------------------------------------------- */

/* The pristine database: kevo-check says intact (exit 0, no warning) and changes nothing. */
Test(corruption, pristine_is_clean_and_untouched) {
    char before[8192], after[8192];
    size_t bl = 0, al = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *out = pass ? after : before;
        size_t *ol = pass ? &al : &bl;
        DIR *d = opendir(g_tmpl);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", g_tmpl, e->d_name);
            struct stat st;
            stat(p, &st);
            unsigned char *buf;
            size_t n;
            read_file(p, &buf, &n);
            uint64_t h = 1469598103934665603ull;
            for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
            free(buf);
            *ol += (size_t)snprintf(out + *ol, 8192 - *ol, "%s %lld %lld %" PRIx64 "\n", e->d_name,
                                    (long long)st.st_size, (long long)st.st_mtime, h);
        }
        closedir(d);
        if (pass == 0) {
            findings f;
            memset(&f, 0, sizeof f);
            lsm_check_stats cs;
            int rc = lsm_check_dir(g_tmpl, collect, &f, &cs);
            cr_assert_eq(rc, 0, "kevo-check on the pristine database: %d:%s", rc, f.text);
            cr_assert_eq(cs.errors + cs.warnings, 0, "findings on the pristine database:%s", f.text);
            cr_assert_eq(cs.tables, (uint64_t)g_ntables);
            cr_assert_eq(cs.wal_records, (uint64_t)NWAL);
            cr_assert_eq(cs.counters[0], g_c0[NWAL], "counters from MANIFEST + WAL");
            cr_assert_eq(cs.counters[1], g_c1[NWAL]);
        }
    }
    cr_assert_str_eq(before, after, "kevo-check changed the directory");
}

/* The kevo-check binary: exit 0 / 1 / 2 and a line naming file and offset. */
Test(corruption, binary_exit_codes) {
    char exe[1024], bin[1100];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(n > 0);
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    *slash = 0;                       /* build/tests */
    slash = strrchr(exe, '/');
    *slash = 0;                       /* build */
    snprintf(bin, sizeof bin, "%s/kevo-check", exe);
    if (access(bin, X_OK) != 0) cr_skip_test("%s not built", bin);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", bin, g_tmpl);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pristine: status %d", st);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/bin", g_base);
    damage d = {.kind = D_FLIP, .off = 100, .len = 3};
    snprintf(d.file, sizeof d.file, "%s", g_tables[0]);
    apply_damage(dir, &d, NULL);
    char outp[800];
    snprintf(outp, sizeof outp, "%s/out.txt", g_base);
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", bin, dir, outp);
    st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "damaged: status %d", st);
    unsigned char *buf;
    size_t len;
    read_file(outp, &buf, &len);
    buf[len] = 0;
    char want[128];
    snprintf(want, sizeof want, "%s: offset 0: error: data block", d.file);
    cr_assert(strstr((char *)buf, want) != NULL, "output lacks \"%s\":\n%s", want, buf);
    free(buf);
    snprintf(cmd, sizeof cmd, "%s %s/does-not-exist >/dev/null 2>&1", bin, g_base);
    st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "missing dir: status %d", st);
}

/* Bug: a flipped bit in the MANIFEST's LAST record (the last flush's edit) was read as a torn
 * tail: the edit was dropped, its table deleted as an orphan and its WAL was already gone, so
 * every write of that flush vanished without an error. Now lsm_open refuses (the WAL the
 * surviving log number names is missing). */
Test(corruption, manifest_last_edit_flip_refuses) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_tmpl, g_manifest);
    wal_reader *wr = wal_reader_open(p);
    const char *rec;
    size_t len;
    uint64_t last = 0;
    while (wal_reader_next(wr, &rec, &len) == WAL_READ_RECORD) last = wal_reader_offset(wr);
    wal_reader_close(wr);
    cr_assert(last > 0, "the MANIFEST has an edit after its snapshot");
    damage d = {.kind = D_FLIP, .off = last + 9, .len = 0};
    snprintf(d.file, sizeof d.file, "%s", g_manifest);
    run_one(2, &d, NULL, 1000);
    cr_assert_eq(g_refused[2], 1, "lsm_open must refuse");
    /* and a truncation exactly at that record's start (no checksum can see it) */
    d.kind = D_TRUNC;
    d.off = last;
    run_one(2, &d, NULL, 1001);
    cr_assert_eq(g_refused[2], 2, "lsm_open must refuse");
}

/* Bug: when a table's data block failed its checksum in the middle of a scan, the merging
 * iterator dropped that table and went on with the others: the scan yielded the OLDER version
 * of keys the damaged block shadows (and keys it deleted) before reporting the error at the
 * end. Now the scan stops at the error. Every table in turn gets a flip in every data block
 * (at a stride) so L0 tables shadowing the last level are among them. */
Test(corruption, scan_stops_at_a_bad_block) {
    int round = 2000;
    for (int t = 0; t < g_ntables; t++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", g_tmpl, g_tables[t]);
        long long size = etu_file_size(p);
        for (long long off = 7; off < size; off += 1009) {
            damage d = {.kind = D_FLIP, .off = (uint64_t)off, .len = (uint64_t)(off % 8)};
            snprintf(d.file, sizeof d.file, "%s", g_tables[t]);
            run_one(1, &d, NULL, round++);
        }
    }
    fprintf(stderr, "corruption scan_stops_at_a_bad_block: %" PRIu64 " flips, %" PRIu64
            " with read errors\n", g_tried[1], g_read_errors[1]);
}
