/* test_engine_crash.c - crash consistency of the engine, through lsm.h and the DB directory.
 *
 * A crash is simulated by closing WITHOUT flushing (so the data lives only in the WAL), copying
 * the directory and damaging the copy's newest <n>.log the way a crash or a bad disk would:
 *   - truncated at EVERY byte of the last batch's record: the batch is all or nothing, earlier
 *     batches are all there, and counters move iff the batch's writes do;
 *   - the same for a batch bigger than a 32 KiB WAL block (fragments FIRST/MIDDLE/LAST), at
 *     every byte around each block boundary and at a stride elsewhere;
 *   - after recovering from a torn tail, new writes survive the next restart;
 *   - a bit flip in the middle (valid records after it) -> lsm_open refuses with LSM_ECORRUPT
 *     and lsm_last_error(NULL) names the file; skip_corrupt_wal=1 opens with the prefix;
 *   - a bad checksum in the LAST record is a torn tail: opens, that batch is absent.
 * And a real crash: a child process writing with sync_mode ALWAYS reports each acknowledged
 * (committed) write through a pipe and is SIGKILLed at a random point; every acknowledged write
 * must be there after reopen, and the key counter kept in lsm counters must be exact.
 * Seeds: KEVO_SEED. */
#include <criterion/criterion.h>

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "engine_test_util.h"
#include "wal.h"

static char g_base[512];
static uint64_t g_seed;

static void setup(void)
{
    cr_assert_not_null(etu_tmpdir(g_base, sizeof g_base, "crash"));
    g_seed = etu_seed(7777);
}

static void teardown(void)
{
    if (g_base[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_base);
}

TestSuite(engine_crash, .init = setup, .fini = teardown, .timeout = 600);

static void must(int rc, const char *what)
{
    cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s: %s (%d)", g_seed, what, lsm_strerror(rc), rc);
}

/* Bounded string copy (always NUL-terminated). */
static void copy_name(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_base, name);
}

/* Options for the WAL tests: a memtable large enough that nothing flushes. */
/* These tests find records by the WAL's size while it is open (and cut or damage copies at those
 * offsets): plain appends, so that size is the end of the log. The preallocated WAL (the
 * default, zeroed ahead) is covered by preallocated_wal_* and the kill -9 rounds. */
static void wal_options(lsm_options *o)
{
    etu_small_options(o);
    o->memtable_size = 4 << 20;
    o->wal_prealloc = 0;
}

/* ---- the "earlier batches" every WAL test writes ---------------------------------------------
 * Batch j (0 <= j < n) puts keys early-<j>-<d> for d < 1 + j % 5 with value "e<j>.<d>" and adds
 * 1 to counter 0 per key. */
static int early_keys(int j)
{
    return 1 + j % 5;
}

static void write_early_batches(lsm_t *db, int n, long long *ends, const char *log)
{
    lsm_batch *b = lsm_batch_new();
    char k[48], v[48];
    for (int j = 0; j < n; j++) {
        lsm_batch_clear(b);
        for (int d = 0; d < early_keys(j); d++) {
            snprintf(k, sizeof k, "early-%03d-%d", j, d);
            snprintf(v, sizeof v, "e%d.%d-%020d", j, d, j * 31 + d);
            must(lsm_batch_put(b, k, strlen(k), v, strlen(v)), "batch_put");
        }
        must(lsm_batch_counter_add(b, 0, early_keys(j)), "counter_add");
        must(lsm_write(db, b), "lsm_write");
        must(lsm_commit(db), "lsm_commit");
        if (ends != NULL)
            ends[j] = etu_file_size(log);
    }
    lsm_batch_free(b);
}

/* Checks that early batches [0, n) are all present, except the keys that the final batch
 * deleted when that batch was applied. */
static void check_early_batches(lsm_t *db, int n, int last_applied, int deleted_upto,
                                const char *ctx)
{
    lsm_buf b = {0};
    char k[48], v[48];
    for (int j = 0; j < n; j++) {
        for (int d = 0; d < early_keys(j); d++) {
            snprintf(k, sizeof k, "early-%03d-%d", j, d);
            int rc = lsm_get(db, k, strlen(k), &b);
            if (last_applied && j < deleted_upto && d == 0) {
                cr_assert_eq(rc, LSM_ENOTFOUND, "[%s] %s: deleted by the last batch but present",
                             ctx, k);
                continue;
            }
            cr_assert_eq(rc, 0, "[%s] earlier committed batch %d lost: get(%s) = %s", ctx, j, k,
                         lsm_strerror(rc));
            snprintf(v, sizeof v, "e%d.%d-%020d", j, d, j * 31 + d);
            cr_assert(etu_buf_eq(&b, v, strlen(v)), "[%s] %s has a wrong value", ctx, k);
        }
    }
    lsm_buf_free(&b);
}

/* The final batch: nput puts of last-<i> (value vsize bytes), deletes of early-<j>-0 for
 * j < ndel, counter 0 += nput - ndel, counter 1 += 1000. */
static void write_final_batch(lsm_t *db, int nput, size_t vsize, int ndel)
{
    lsm_batch *b = lsm_batch_new();
    char k[48];
    char *v = malloc(vsize + 1);
    for (int i = 0; i < nput; i++) {
        snprintf(k, sizeof k, "last-%04d", i);
        for (size_t x = 0; x < vsize; x++)
            v[x] = (char)('A' + (i + (int)x) % 26);
        must(lsm_batch_put(b, k, strlen(k), v, vsize), "batch_put last");
    }
    for (int j = 0; j < ndel; j++) {
        snprintf(k, sizeof k, "early-%03d-0", j);
        must(lsm_batch_delete(b, k, strlen(k)), "batch_delete");
    }
    must(lsm_batch_counter_add(b, 0, nput - ndel), "counter_add");
    must(lsm_batch_counter_add(b, 1, 1000), "counter_add");
    must(lsm_write(db, b), "lsm_write last");
    must(lsm_commit(db), "lsm_commit last");
    free(v);
    lsm_batch_free(b);
}

/* Returns 1 if the final batch is wholly present, 0 if wholly absent; fails on a partial one. */
static int check_final_batch(lsm_t *db, int nput, size_t vsize, int ndel, int nearly,
                             int64_t early_count, const char *ctx)
{
    lsm_buf b = {0};
    char k[48];
    int present = 0;
    char *v = malloc(vsize + 1);
    for (int i = 0; i < nput; i++) {
        snprintf(k, sizeof k, "last-%04d", i);
        int rc = lsm_get(db, k, strlen(k), &b);
        cr_assert(rc == 0 || rc == LSM_ENOTFOUND, "[%s] get %s: %s", ctx, k, lsm_strerror(rc));
        if (rc == 0) {
            for (size_t x = 0; x < vsize; x++)
                v[x] = (char)('A' + (i + (int)x) % 26);
            cr_assert(etu_buf_eq(&b, v, vsize), "[%s] %s has a wrong value (%zu bytes)", ctx,
                      k, b.len);
            present++;
        }
    }
    cr_assert(present == 0 || present == nput,
              "[%s] the last batch is PARTLY applied: %d of its %d puts present", ctx, present,
              nput);
    int applied = present == nput;
    check_early_batches(db, nearly, applied, ndel, ctx);
    int64_t c0 = lsm_counter(db, 0), c1 = lsm_counter(db, 1);
    int64_t want0 = early_count + (applied ? nput - ndel : 0), want1 = applied ? 1000 : 0;
    cr_assert(c0 == want0 && c1 == want1,
              "[%s] counters (%" PRId64 ", %" PRId64 ") want (%" PRId64 ", %" PRId64
              ") for last batch %s", ctx, c0, c1, want0, want1, applied ? "applied" : "absent");
    free(v);
    lsm_buf_free(&b);
    return applied;
}

/* Copies orig to a fresh work dir, truncates the newest log of the copy to len bytes. */
static void make_truncated_copy(const char *orig, const char *work, const char *logname,
                                long long len)
{
    etu_rmrf(work);
    cr_assert_eq(etu_copy_dir(orig, work), 0, "copy %s -> %s", orig, work);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", work, logname);
    cr_assert_eq(truncate(p, (off_t)len), 0, "truncate %s", p);
}

static int64_t early_counter(int n)
{
    int64_t c = 0;
    for (int j = 0; j < n; j++)
        c += early_keys(j);
    return c;
}

/* Writes a new batch into a DB recovered from a torn tail, closes, reopens: it must be there
 * (an engine that appends after the garbage tail turns it into mid-log corruption). */
static void check_writes_after_torn_tail(lsm_t **dbp, const char *work, const lsm_options *o,
                                         const char *ctx)
{
    lsm_t *db = *dbp;
    must(etu_put_str(db, "after-torn-tail", "survives"), "put after torn tail");
    must(lsm_commit(db), "commit after torn tail");
    must(lsm_close(db), "close");
    db = etu_open(work, o);
    cr_assert_not_null(db, "[%s] reopen after writing over a recovered torn tail failed: %s", ctx,
                       lsm_last_error(NULL));
    lsm_buf b = {0};
    int rc = etu_get_str(db, "after-torn-tail", &b);
    cr_assert_eq(rc, 0, "[%s] a write made after recovering from a torn tail was lost on the "
                 "next restart: %s", ctx, lsm_strerror(rc));
    lsm_buf_free(&b);
    *dbp = db;
}

/* Builds orig: nearly committed batches then the final batch; closes without flush. Returns the
 * newest log's name and its size before/after the final batch. */
static void build_crash_image(const char *orig, const lsm_options *o, int nearly, int nput,
                              size_t vsize, int ndel, char *logname, size_t ln, long long *pre,
                              long long *post)
{
    lsm_t *db = etu_open(orig, o);
    cr_assert_not_null(db, "open: %s", lsm_last_error(NULL));
    char log[1024];
    cr_assert_geq(etu_newest_log(orig, log, sizeof log), 0, "no .log file in a fresh DB");
    write_early_batches(db, nearly, NULL, log);
    char log2[1024];
    etu_newest_log(orig, log2, sizeof log2);
    cr_assert_str_eq(log, log2, "WAL rotated while writing %d small batches", nearly);
    *pre = etu_file_size(log);
    write_final_batch(db, nput, vsize, ndel);
    *post = etu_file_size(log);
    cr_assert_gt(*post, *pre, "the final batch's commit did not grow %s", log);
    must(lsm_close(db), "close (no flush)");
    etu_newest_log(orig, log2, sizeof log2);
    cr_assert_str_eq(log, log2, "lsm_close changed the newest WAL (%s -> %s)", log, log2);
    cr_assert_eq(etu_file_size(log), *post, "lsm_close changed the WAL size (%lld -> %lld)", *post,
                 etu_file_size(log));
    const char *slash = strrchr(log, '/');
    copy_name(logname, ln, slash ? slash + 1 : log);
}

Test(engine_crash, batch_all_or_nothing_at_every_truncation_of_its_wal_record)
{
    char orig[1024], work[1024], logname[256];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    enum { NEARLY = 30, NPUT = 10, NDEL = 3 };
    const size_t vsize = 40;
    long long pre, post;
    build_crash_image(orig, &o, NEARLY, NPUT, vsize, NDEL, logname, sizeof logname, &pre, &post);
    fprintf(stderr, "engine_crash: last batch record spans bytes [%lld, %lld) of %s\n", pre, post,
            logname);

    int checked = 0;
    for (long long len = pre; len <= post; len++) {
        char ctx[400];
        snprintf(ctx, sizeof ctx, "%s truncated to %lld of %lld bytes", logname, len, post);
        make_truncated_copy(orig, work, logname, len);
        lsm_t *db = etu_open(work, &o);
        cr_assert_not_null(db, "[%s] a torn tail must open: %s", ctx, lsm_last_error(NULL));
        int applied = check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY),
                                        ctx);
        cr_assert_eq(applied, len == post, "[%s] last batch %s", ctx,
                     applied ? "applied from a truncated record" : "lost although complete");
        /* a few points: new writes after the recovered torn tail survive the next restart */
        if (len == pre + 1 || len == pre + 7 || len == (pre + post) / 2 || len == post - 1) {
            check_writes_after_torn_tail(&db, work, &o, ctx);
            check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY), ctx);
        }
        must(lsm_close(db), "close");
        checked++;
    }
    etu_rmrf(work);
    cr_assert_eq(checked, post - pre + 1);
}

/* Zeros bytes [from, to) of the newest log in a fresh copy of orig. */
static void make_zeroed_copy(const char *orig, const char *work, const char *logname,
                             long long from, long long to)
{
    etu_rmrf(work);
    cr_assert_eq(etu_copy_dir(orig, work), 0, "copy %s -> %s", orig, work);
    char p[2400];
    snprintf(p, sizeof p, "%s/%s", work, logname);
    int fd = open(p, O_WRONLY);
    cr_assert_geq(fd, 0, "open %s", p);
    static const char zeros[4096];
    for (long long off = from; off < to;) {
        size_t n = (size_t)(to - off < (long long)sizeof zeros ? to - off : (long long)sizeof zeros);
        cr_assert_eq(pwrite(fd, zeros, n, (off_t)off), (ssize_t)n);
        off += (long long)n;
    }
    close(fd);
}

/* The default, preallocated WAL (zeroed ahead of the last record) as a crash leaves it: the DB
 * is copied while still open. Every committed batch comes back; and when the last batch's
 * write reached the disk only up to some byte (the rest still the zeros written ahead), that
 * batch is wholly absent, for every such byte, and new writes after it survive a restart. */
Test(engine_crash, preallocated_wal_crash_image_keeps_batches_and_a_torn_last_one_is_all_or_nothing)
{
    char orig[1024], work[1024], image[1024];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    path_in(image, sizeof image, "image");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    etu_small_options(&o);
    o.memtable_size = 4 << 20;
    o.wal_prealloc = 64 << 10;
    enum { NEARLY = 30, NPUT = 10, NDEL = 3 };
    const size_t vsize = 40;
    lsm_t *db = etu_open(orig, &o);
    cr_assert_not_null(db, "open: %s", lsm_last_error(NULL));
    char log[1024];
    cr_assert_geq(etu_newest_log(orig, log, sizeof log), 0);
    write_early_batches(db, NEARLY, NULL, log);
    write_final_batch(db, NPUT, vsize, NDEL);
    cr_assert_eq(etu_copy_dir(orig, image), 0, "copy the open DB");
    must(lsm_close(db), "close");
    const char *slash = strrchr(log, '/');
    const char *logname = slash ? slash + 1 : log;

    /* where the last record lies in the image, by reading it */
    char ilog[2400];
    snprintf(ilog, sizeof ilog, "%s/%s", image, logname);
    wal_reader *r = wal_reader_open(ilog);
    cr_assert_not_null(r);
    const char *rec;
    size_t len, last_len = 0;
    long long pre = -1;
    int nrec = 0;
    while (wal_reader_next(r, &rec, &len) == WAL_READ_RECORD) {
        pre = (long long)wal_reader_offset(r);
        last_len = len;
        nrec++;
    }
    cr_assert_eq(wal_reader_tail_dropped(r), 0, "the zeros ahead were counted as a torn tail");
    wal_reader_close(r);
    cr_assert_eq(nrec, 1 + NEARLY + 1, "the open's session marker, the early batches, the last one");
    long long post = pre + WAL_HEADER_SIZE + (long long)last_len;
    cr_assert_lt(post / WAL_BLOCK_SIZE, 1, "test setup: the last record must fit in block 0");
    long long image_size = etu_file_size(ilog);
    cr_assert_eq(image_size % (64 << 10), 0);
    cr_assert_gt(image_size, post, "no zeros ahead of the last record in the open WAL");

    /* the whole image: everything */
    etu_rmrf(work);
    cr_assert_eq(etu_copy_dir(image, work), 0);
    db = etu_open(work, &o);
    cr_assert_not_null(db, "the crash image of a preallocated WAL must open: %s", lsm_last_error(NULL));
    cr_assert_eq(check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY), "image"), 1,
                 "the committed last batch is missing from the crash image");
    must(lsm_close(db), "close");

    int checked = 0;
    for (long long cut = pre; cut < post; cut++) {
        char ctx[1200];
        snprintf(ctx, sizeof ctx, "%s zeroed from %lld (last record [%lld, %lld))", logname, cut,
                 pre, post);
        make_zeroed_copy(image, work, logname, cut, post);
        db = etu_open(work, &o);
        cr_assert_not_null(db, "[%s] must open: %s", ctx, lsm_last_error(NULL));
        cr_assert_eq(check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY), ctx),
                     0, "[%s] last batch applied from a partly written record", ctx);
        if (cut == pre || cut == pre + 1 || cut == pre + 7 || cut == post - 1) {
            check_writes_after_torn_tail(&db, work, &o, ctx);
            check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY), ctx);
        }
        must(lsm_close(db), "close");
        checked++;
    }
    etu_rmrf(work);
    etu_rmrf(image);
    cr_assert_eq(checked, post - pre);
}

Test(engine_crash, batch_spanning_wal_blocks_all_or_nothing_at_block_boundaries)
{
    char orig[1024], work[1024], logname[256];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    /* ~20 KiB of early batches, then a ~80 KiB batch: it starts in block 0 and ends in block 3 */
    enum { NEARLY = 300, NPUT = 80, NDEL = 5 };
    const size_t vsize = 1000;
    long long pre, post;
    build_crash_image(orig, &o, NEARLY, NPUT, vsize, NDEL, logname, sizeof logname, &pre, &post);
    cr_assert_gt(post - pre, 2 * 32768, "the big batch should span several WAL blocks");
    fprintf(stderr, "engine_crash: big batch record spans bytes [%lld, %lld) of %s\n", pre, post,
            logname);
    int checked = 0;
    long long stride = (long long)etu_env_u64("KEVO_CRASH_STRIDE", 997);
    for (long long len = pre; len <= post; len++) {
        long long inblock = len % 32768;
        int near_boundary = inblock <= 24 || inblock >= 32768 - 24;
        if (!(near_boundary || len == pre || len == post || (len - pre) % stride == 0 ||
              post - len <= 16 || len - pre <= 16))
            continue;
        char ctx[400];
        snprintf(ctx, sizeof ctx, "%s truncated to %lld of %lld bytes (big batch)", logname, len,
                 post);
        make_truncated_copy(orig, work, logname, len);
        lsm_t *db = etu_open(work, &o);
        cr_assert_not_null(db, "[%s] a torn tail must open: %s", ctx, lsm_last_error(NULL));
        int applied = check_final_batch(db, NPUT, vsize, NDEL, NEARLY, early_counter(NEARLY),
                                        ctx);
        cr_assert_eq(applied, len == post, "[%s] last batch %s", ctx,
                     applied ? "applied from a truncated record" : "lost although complete");
        if (inblock == 0 && len != pre && len != post)
            check_writes_after_torn_tail(&db, work, &o, ctx);
        must(lsm_close(db), "close");
        checked++;
    }
    fprintf(stderr, "engine_crash: %d truncation points checked\n", checked);
    etu_rmrf(work);
}

/* Writes NB small committed batches recording each batch's end offset; closes (no flush). */
static void build_many_batches(const char *orig, const lsm_options *o, int nb, long long *ends,
                               char *logname, size_t ln)
{
    lsm_t *db = etu_open(orig, o);
    cr_assert_not_null(db, "open: %s", lsm_last_error(NULL));
    char log[1024];
    cr_assert_geq(etu_newest_log(orig, log, sizeof log), 0);
    write_early_batches(db, nb, ends, log);
    must(lsm_close(db), "close");
    const char *slash = strrchr(log, '/');
    copy_name(logname, ln, slash ? slash + 1 : log);
}

static void flip_byte(const char *path, long long off)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x10;
    cr_assert_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Builds NB committed batches, flips one bit inside record BAD (field: 0 crc, 1 payload,
 * 2 length) of a copy, and checks lsm_open refuses with LSM_ECORRUPT naming the file. */
enum { FLIP_NB = 60, FLIP_BAD = 20 };

static long long mid_flip_offset(const long long *ends, int field)
{
    long long start = ends[FLIP_BAD - 1];
    switch (field) {
    case 0: return start + 1;                                  /* crc */
    case 1: return start + (ends[FLIP_BAD] - start) / 2 + 3;   /* payload */
    default: return start + 4;                                 /* length, low byte */
    }
}

static void mid_wal_flip_refuses_open(int field)
{
    static const char *what[3] = {"crc field", "payload", "length field"};
    char orig[1024], work[1024], logname[256], p[1400];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    long long ends[FLIP_NB];
    build_many_batches(orig, &o, FLIP_NB, ends, logname, sizeof logname);
    long long off = mid_flip_offset(ends, field);
    cr_assert_eq(etu_copy_dir(orig, work), 0);
    snprintf(p, sizeof p, "%s/%s", work, logname);
    flip_byte(p, off);
    lsm_t *db = NULL;
    int rc = lsm_open(work, &o, &db);
    if (rc == 0) {
        /* say how much committed data the engine silently dropped */
        int lost = 0;
        lsm_buf b = {0};
        char k[48];
        for (int j = 0; j < FLIP_NB; j++) {
            snprintf(k, sizeof k, "early-%03d-0", j);
            if (lsm_get(db, k, strlen(k), &b) != 0)
                lost++;
        }
        lsm_buf_free(&b);
        lsm_close(db);
        cr_assert_fail("bit flip in the %s of record %d of %d (offset %lld of %s): lsm_open "
                       "succeeded, want LSM_ECORRUPT; %d committed batches silently dropped",
                       what[field], FLIP_BAD, FLIP_NB, off, logname, lost);
    }
    cr_assert_eq(rc, LSM_ECORRUPT, "bit flip in the %s of record %d of %d (offset %lld of %s): "
                 "lsm_open returned %s (%d), want LSM_ECORRUPT", what[field], FLIP_BAD, FLIP_NB,
                 off, logname, lsm_strerror(rc), rc);
    cr_assert_null(db, "lsm_open failed but set *out");
    const char *msg = lsm_last_error(NULL);
    cr_assert(msg != NULL && strstr(msg, logname) != NULL,
              "lsm_last_error(NULL) = '%s' does not name the corrupt file %s",
              msg ? msg : "(null)", logname);
}

Test(engine_crash, bit_flip_in_mid_wal_record_crc_refuses_open_and_names_the_file)
{
    mid_wal_flip_refuses_open(0);
}

Test(engine_crash, bit_flip_in_mid_wal_record_payload_refuses_open_and_names_the_file)
{
    mid_wal_flip_refuses_open(1);
}

/* A corrupted LENGTH field makes the reader lose the record boundaries of the rest of the
 * block; the valid records after it must still make this corruption, not a torn tail. */
Test(engine_crash, bit_flip_in_mid_wal_record_length_refuses_open_and_names_the_file)
{
    mid_wal_flip_refuses_open(2);
}

Test(engine_crash, skip_corrupt_wal_opens_with_the_batches_before_the_damage)
{
    char orig[1024], logname[256], p[1400];
    path_in(orig, sizeof orig, "orig");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    long long ends[FLIP_NB];
    build_many_batches(orig, &o, FLIP_NB, ends, logname, sizeof logname);
    snprintf(p, sizeof p, "%s/%s", orig, logname);
    flip_byte(p, mid_flip_offset(ends, 1));
    lsm_options os = o;
    os.skip_corrupt_wal = 1;
    lsm_t *db = etu_open(orig, &os);
    cr_assert_not_null(db, "skip_corrupt_wal=1 must open despite mid-WAL corruption: %s",
                       lsm_last_error(NULL));
    check_early_batches(db, FLIP_BAD, 0, 0, "skip_corrupt_wal=1");
    /* and it keeps working: a write survives a restart */
    must(etu_put_str(db, "after-skip", "ok"), "put");
    must(lsm_commit(db), "commit");
    must(lsm_close(db), "close");
    db = etu_open(orig, &os);
    cr_assert_not_null(db, "reopen after skip: %s", lsm_last_error(NULL));
    lsm_buf b = {0};
    cr_assert_eq(etu_get_str(db, "after-skip", &b), 0, "write after a skipped corruption lost");
    lsm_buf_free(&b);
    check_early_batches(db, FLIP_BAD, 0, 0, "skip_corrupt_wal=1, reopened");
    must(lsm_close(db), "close");
}

Test(engine_crash, bad_checksum_in_last_record_is_a_torn_tail)
{
    char orig[1024], logname[256], p[1400];
    path_in(orig, sizeof orig, "orig");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    enum { NB = 40 };
    long long ends[NB];
    build_many_batches(orig, &o, NB, ends, logname, sizeof logname);
    snprintf(p, sizeof p, "%s/%s", orig, logname);
    flip_byte(p, ends[NB - 2] + (ends[NB - 1] - ends[NB - 2]) / 2 + 2);
    lsm_t *db = etu_open(orig, &o);
    cr_assert_not_null(db, "a bad checksum in the last record must be treated as a torn tail: %s",
                       lsm_last_error(NULL));
    check_early_batches(db, NB - 1, 0, 0, "bad crc in last record");
    lsm_buf b = {0};
    char k[48];
    snprintf(k, sizeof k, "early-%03d-0", NB - 1);
    cr_assert_eq(lsm_get(db, k, strlen(k), &b), LSM_ENOTFOUND,
                 "the batch with the bad checksum was applied");
    cr_assert_eq(lsm_counter(db, 0), early_counter(NB - 1), "counter includes the bad batch");
    lsm_buf_free(&b);
    /* writes after it survive a restart */
    check_writes_after_torn_tail(&db, orig, &o, "bad crc in last record");
    must(lsm_close(db), "close");
}

/* ---- kill -9 ------------------------------------------------------------------------------ */

/* Op j of the kill test: one batch that puts ack-<j> (value derived from j, 0..1500 bytes) and,
 * when j % 10 == 9, deletes ack-<j-5>; counter 0 tracks the number of live ack- keys. */
static size_t kill_value(int j, char *v)
{
    size_t len = (size_t)((j * 7919) % 1501);
    for (size_t i = 0; i < len; i++)
        v[i] = (char)('a' + (j + (int)i) % 23);
    return len;
}

static lsm_sync_mode g_kill_sync = LSM_SYNC_ALWAYS;

static void kill_options(lsm_options *o)
{
    etu_small_options(o);
    o->memtable_size = 64 << 10; /* flushes every ~80 ops: the kill lands during flushes too */
    o->sync_mode = g_kill_sync;
}

/* Child body: never returns. Writes op j = start.. and reports j on fd after each commit. */
static void kill_child(const char *dir, int start, int fd)
{
    lsm_options o;
    kill_options(&o);
    lsm_t *db = NULL;
    if (lsm_open(dir, &o, &db) != 0) {
        fprintf(stderr, "kill child: open: %s\n", lsm_last_error(NULL));
        _exit(2);
    }
    lsm_batch *b = lsm_batch_new();
    char k[32], v[1600];
    for (int j = start; j < start + 200000; j++) {
        lsm_batch_clear(b);
        snprintf(k, sizeof k, "ack-%08d", j);
        size_t vl = kill_value(j, v);
        /* re-running an op the previous child wrote but did not acknowledge: keep counter 0
         * exact by checking what is there (the parent does not know if it was applied) */
        lsm_buf gb = {0};
        int had = lsm_get(db, k, strlen(k), &gb) == 0;
        int64_t delta = had ? 0 : 1;
        if (lsm_batch_put(b, k, strlen(k), v, vl) != 0)
            _exit(3);
        if (j % 10 == 9) {
            snprintf(k, sizeof k, "ack-%08d", j - 5);
            if (lsm_get(db, k, strlen(k), &gb) == 0)
                delta -= 1;
            if (lsm_batch_delete(b, k, strlen(k)) != 0)
                _exit(3);
        }
        lsm_buf_free(&gb);
        if (delta != 0 && lsm_batch_counter_add(b, 0, delta) != 0)
            _exit(3);
        if (lsm_write(db, b) != 0 || lsm_commit(db) != 0)
            _exit(4);
        int32_t ack = j;
        if (write(fd, &ack, sizeof ack) != (ssize_t)sizeof ack)
            _exit(5);
        if (etu_wait_unstalled(db) != 0)
            _exit(6);
        if (j % 16 == 0)
            lsm_poll(db);
    }
    _exit(0);
}

static void kill9_rounds(void);

Test(engine_crash, kill9_keeps_every_acknowledged_write, .timeout = 600)
{
    g_kill_sync = LSM_SYNC_ALWAYS;
    kill9_rounds();
}

/* A process crash (not a machine crash) loses nothing committed even with sync_mode NO: after
 * lsm_commit the bytes are in the kernel, which outlives the process. */
Test(engine_crash, kill9_with_sync_no_keeps_every_committed_write, .timeout = 600)
{
    g_kill_sync = LSM_SYNC_NO;
    kill9_rounds();
}

/* The same with sync_mode EVERYSEC (the background fsync thread and its WAL rotation path). */
Test(engine_crash, kill9_with_sync_everysec_keeps_every_committed_write, .timeout = 600)
{
    g_kill_sync = LSM_SYNC_EVERYSEC;
    kill9_rounds();
}

static void kill9_rounds(void)
{
    char dir[1024];
    path_in(dir, sizeof dir, "kill");
    cr_assert_eq(mkdir(dir, 0755), 0);
    etu_rng r;
    etu_rng_init(&r, g_seed);
    int rounds = (int)etu_env_u64("KEVO_KILL_ROUNDS", 4);
    int next = 0;          /* first op the next child runs */
    int acked_upto = -1;   /* every op <= this was acknowledged */
    lsm_options o;
    kill_options(&o);
    for (int round = 0; round < rounds; round++) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0, "fork");
        if (pid == 0) {
            close(pfd[0]);
            kill_child(dir, next, pfd[1]);
        }
        close(pfd[1]);
        /* ALWAYS: kill after 50..450 acks (each costs an fdatasync); NO/EVERYSEC: after a
         * random 50..850 ms (so EVERYSEC's once-a-second sync and WAL rotation are crossed) */
        int target = g_kill_sync == LSM_SYNC_ALWAYS ? 50 + (int)etu_rng_below(&r, 400) : INT32_MAX;
        uint64_t deadline = g_kill_sync == LSM_SYNC_ALWAYS ? 20000 : 50 + etu_rng_below(&r, 800);
        int got = 0, last = next - 1;
        int32_t ack;
        uint64_t t0 = etu_now_ms();
        while (got < target && etu_now_ms() - t0 < deadline) {
            ssize_t n = read(pfd[0], &ack, sizeof ack);
            if (n != (ssize_t)sizeof ack)
                break;
            cr_assert_eq(ack, last + 1, "acks out of order");
            last = ack;
            got++;
        }
        /* a little extra random delay so the kill does not always follow a read */
        usleep((useconds_t)etu_rng_below(&r, 3000));
        kill(pid, SIGKILL);
        /* acks already in the pipe were acknowledged too */
        for (;;) {
            ssize_t n = read(pfd[0], &ack, sizeof ack);
            if (n != (ssize_t)sizeof ack)
                break;
            cr_assert_eq(ack, last + 1, "acks out of order");
            last = ack;
            got++;
        }
        close(pfd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "seed %" PRIu64 " round %d: child did not run until killed (status 0x%x, "
                  "%d acks)", g_seed, round, status, got);
        acked_upto = last;

        lsm_t *db = etu_open(dir, &o);
        cr_assert_not_null(db, "seed %" PRIu64 " round %d: reopen after kill -9 failed: %s",
                           g_seed, round, lsm_last_error(NULL));
        lsm_buf b = {0};
        char k[32], v[1600];
        for (int j = 0; j <= acked_upto; j++) {
            snprintf(k, sizeof k, "ack-%08d", j);
            int rc = lsm_get(db, k, strlen(k), &b);
            /* deleted by an acknowledged op j+5 (j % 10 == 4) */
            int deleted = j % 10 == 4 && j + 5 <= acked_upto;
            /* or maybe deleted by the first unacknowledged op, which may have been durable */
            int maybe = j % 10 == 4 && j + 5 == acked_upto + 1;
            if (deleted) {
                cr_assert_eq(rc, LSM_ENOTFOUND, "seed %" PRIu64 " round %d: %s deleted by an "
                             "acknowledged batch is back", g_seed, round, k);
            } else if (!(maybe && rc == LSM_ENOTFOUND)) {
                cr_assert_eq(rc, 0, "seed %" PRIu64 " round %d: acknowledged write %s (of %d) "
                             "LOST after kill -9: %s", g_seed, round, k, acked_upto,
                             lsm_strerror(rc));
                size_t vl = kill_value(j, v);
                cr_assert(etu_buf_eq(&b, v, vl), "seed %" PRIu64 " round %d: %s has a wrong "
                          "value after kill -9", g_seed, round, k);
            }
        }
        /* counter 0 == number of live ack- keys, exactly */
        int64_t live = 0;
        lsm_iter *it = lsm_iter_new(db);
        for (lsm_iter_seek(it, "ack-", 4); lsm_iter_valid(it); lsm_iter_next(it)) {
            size_t kl;
            const char *ik = lsm_iter_key(it, &kl);
            if (kl < 4 || memcmp(ik, "ack-", 4) != 0)
                break;
            live++;
        }
        cr_assert_eq(lsm_iter_status(it), 0);
        lsm_iter_free(it);
        cr_assert_eq(lsm_counter(db, 0), live, "seed %" PRIu64 " round %d: counter 0 = %" PRId64
                     " but %" PRId64 " live keys after kill -9", g_seed, round,
                     lsm_counter(db, 0), live);
        fprintf(stderr, "engine_crash: kill round %d: %d acks (ops up to %d), %" PRId64
                " live keys, all present\n", round, got, acked_upto, live);
        lsm_buf_free(&b);
        must(lsm_close(db), "close");
        next = acked_upto + 1;
    }
}

/* A crash between writing a table and installing it leaves files the MANIFEST does not know:
 * <n>.sst with numbers the engine will hand out again, and *.tmp files. lsm_open must ignore
 * them (never read them as data) and later flushes/compactions must be able to reuse those
 * numbers; nothing written before or after is lost. */
Test(engine_crash, orphan_files_from_an_interrupted_flush_are_ignored)
{
    char dir[1024], log[1024], p[1400];
    path_in(dir, sizeof dir, "orphan");
    cr_assert_eq(mkdir(dir, 0755), 0);
    lsm_options o;
    etu_small_options(&o);
    lsm_t *db = etu_open(dir, &o);
    cr_assert_not_null(db);
    write_early_batches(db, 50, NULL, "");
    must(lsm_flush(db, 1), "flush");
    must(lsm_close(db), "close");
    long long n = etu_max_file_number(dir);
    cr_assert_geq(n, 0);
    cr_assert_geq(etu_newest_log(dir, log, sizeof log), 0);
    /* orphans: the next 20 numbers as garbage tables holding a key, plus temp files */
    for (long long f = n + 1; f <= n + 20; f++) {
        snprintf(p, sizeof p, "%s/%06lld.sst", dir, f);
        FILE *fp = fopen(p, "w");
        cr_assert_not_null(fp);
        fprintf(fp, "early-000-0 garbage that is not an sstable %lld\n", f);
        fclose(fp);
        snprintf(p, sizeof p, "%s/%06lld.sst.tmp", dir, f + 100);
        fp = fopen(p, "w");
        fputs("partial", fp);
        fclose(fp);
    }
    snprintf(p, sizeof p, "%s/CURRENT.tmp", dir);
    FILE *fp = fopen(p, "w");
    fputs("MANIFEST-999999\n", fp);
    fclose(fp);

    db = etu_open(dir, &o);
    cr_assert_not_null(db, "open with orphan files: %s", lsm_last_error(NULL));
    check_early_batches(db, 50, 0, 0, "orphans present");
    /* write enough to flush and compact several times, reusing the orphans' numbers */
    char k[32], v[200];
    memset(v, 'o', sizeof v);
    for (int i = 0; i < 4000; i++) {
        snprintf(k, sizeof k, "post-%06d", i);
        must(lsm_put(db, k, strlen(k), v, sizeof v), "put");
        if (i % 100 == 99) {
            must(lsm_commit(db), "commit");
            must(etu_wait_unstalled(db), "unstall");
        }
    }
    must(lsm_commit(db), "commit");
    must(lsm_flush(db, 1), "flush");
    must(lsm_compact_range(db, NULL, 0, NULL, 0, 1), "compact");
    must(lsm_close(db), "close");
    db = etu_open(dir, &o);
    cr_assert_not_null(db, "reopen: %s", lsm_last_error(NULL));
    check_early_batches(db, 50, 0, 0, "after reusing orphan numbers");
    lsm_buf b = {0};
    for (int i = 0; i < 4000; i += 7) {
        snprintf(k, sizeof k, "post-%06d", i);
        int rc = lsm_get(db, k, strlen(k), &b);
        cr_assert_eq(rc, 0, "%s lost after reusing orphan file numbers: %s", k, lsm_strerror(rc));
        cr_assert(etu_buf_eq(&b, v, sizeof v));
    }
    lsm_buf_free(&b);
    cr_assert_eq(lsm_counter(db, 0), early_counter(50));
    must(lsm_close(db), "close");
}

/* skip_corrupt_wal=1 over a multi-block WAL: damage in block 0 loses at most the rest of that
 * block; every batch whose record starts in a later block is replayed (and a fragment of a
 * record cut by the skip is not misread as a batch). */
Test(engine_crash, skip_corrupt_wal_replays_the_blocks_after_the_damage)
{
    char orig[1024], logname[256], p[1400];
    path_in(orig, sizeof orig, "orig");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    enum { NB = 900 };
    static long long ends[NB];
    build_many_batches(orig, &o, NB, ends, logname, sizeof logname);
    cr_assert_gt(ends[NB - 1], 2 * 32768, "WAL too small: %lld bytes", ends[NB - 1]);
    snprintf(p, sizeof p, "%s/%s", orig, logname);
    long long off = ends[FLIP_BAD - 1] + (ends[FLIP_BAD] - ends[FLIP_BAD - 1]) / 2 + 3;
    flip_byte(p, off);
    lsm_options os = o;
    os.skip_corrupt_wal = 1;
    lsm_t *db = etu_open(orig, &os);
    cr_assert_not_null(db, "skip_corrupt_wal=1 must open: %s", lsm_last_error(NULL));
    lsm_buf b = {0};
    char k[48];
    int lost_after = 0, first_lost = -1;
    for (int j = 0; j < NB; j++) {
        long long start = j == 0 ? 0 : ends[j - 1];
        int must_have = j < FLIP_BAD || start >= 32768;
        snprintf(k, sizeof k, "early-%03d-0", j);
        int rc = lsm_get(db, k, strlen(k), &b);
        if (must_have && rc != 0) {
            lost_after++;
            if (first_lost < 0)
                first_lost = j;
        }
    }
    lsm_buf_free(&b);
    cr_assert_eq(lost_after, 0, "skip_corrupt_wal=1 (damage at offset %lld of %s, block 0) lost %d "
                 "batches that are before it or start in a later block; first lost: batch %d",
                 off, logname, lost_after, first_lost);
    must(lsm_close(db), "close");
}

/* ---- damaged tables ------------------------------------------------------------------------ */

/* Path of the largest .sst in dir into out; returns its size or -1. */
static long long largest_sst(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".sst") != 0)
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        long long sz = etu_file_size(p);
        if (sz > best) {
            best = sz;
            copy_name(out, n, p);
        }
    }
    closedir(d);
    return best;
}

/* A flipped bit inside an SSTable is reported (LSM_ECORRUPT from lsm_open, lsm_get or the
 * iterator's status), never served as data: every get returns the right value or an error, and
 * the iterator yields right entries in order until it stops. Flips at 5%..95% of the file hit
 * data blocks, and near the end the index/filter/footer. */
Test(engine_crash, bit_flip_in_a_table_is_reported_never_served)
{
    char orig[1024], work[1024];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    etu_small_options(&o);
    o.target_file_size = 1 << 20; /* one big table */
    o.memtable_size = 1 << 20;
    lsm_t *db = etu_open(orig, &o);
    cr_assert_not_null(db);
    enum { N = 3000 };
    char k[32], v[200];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "tbl%06d", i);
        snprintf(v, sizeof v, "value-%06d-%0120d", i, i * 13);
        must(etu_put_str(db, k, v), "put");
    }
    must(lsm_flush(db, 1), "flush");
    must(lsm_close(db), "close");
    char sst[1024];
    long long size = largest_sst(orig, sst, sizeof sst);
    cr_assert_gt(size, 4096, "no table written");
    const char *base = strrchr(sst, '/') + 1;
    int served_errors = 0;
    for (int pct = 5; pct <= 99; pct += 6) {
        long long off = size * pct / 100;
        etu_rmrf(work);
        cr_assert_eq(etu_copy_dir(orig, work), 0);
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", work, base);
        flip_byte(p, off);
        lsm_t *d2 = NULL;
        int rc = lsm_open(work, &o, &d2);
        if (rc != 0) {
            cr_assert_eq(rc, LSM_ECORRUPT, "flip at %lld of %s: lsm_open returned %s", off, base,
                         lsm_strerror(rc));
            continue;
        }
        lsm_buf b = {0};
        int errors = 0;
        for (int i = 0; i < N; i++) {
            snprintf(k, sizeof k, "tbl%06d", i);
            rc = lsm_get(d2, k, strlen(k), &b);
            if (rc == 0) {
                snprintf(v, sizeof v, "value-%06d-%0120d", i, i * 13);
                cr_assert(etu_buf_eq(&b, v, strlen(v)), "flip at offset %lld of %s: get(%s) "
                          "SERVED A WRONG VALUE (%zu bytes)", off, base, k, b.len);
            } else {
                cr_assert(rc == LSM_ECORRUPT || rc == LSM_EIO, "flip at offset %lld of %s: "
                          "get(%s) = %s (%d); want the value or LSM_ECORRUPT", off, base, k,
                          lsm_strerror(rc), rc);
                errors++;
            }
        }
        lsm_buf_free(&b);
        lsm_iter *it = lsm_iter_new(d2);
        int i = 0;
        for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
            size_t kl, vl;
            const char *ik = lsm_iter_key(it, &kl);
            const char *iv = lsm_iter_value(it, &vl);
            /* entries may be missing only if the iterator then reports an error; the ones it
             * yields must be right */
            char num[16] = {0};
            cr_assert(kl == 9 && memcmp(ik, "tbl", 3) == 0, "flip at %lld: iterator yields a "
                      "garbage key", off);
            memcpy(num, ik + 3, 6);
            int idx = atoi(num);
            cr_assert_geq(idx, i, "flip at %lld: iterator out of order", off);
            snprintf(v, sizeof v, "value-%06d-%0120d", idx, idx * 13);
            cr_assert(vl == strlen(v) && memcmp(iv, v, vl) == 0, "flip at offset %lld of %s: "
                      "the iterator SERVED A WRONG VALUE for tbl%06d", off, base, idx);
            if (idx != i)
                cr_assert(0, "flip at offset %lld of %s: the iterator skipped tbl%06d..%06d "
                          "silently", off, base, i, idx - 1);
            i = idx + 1;
        }
        if (i < N)
            cr_assert_neq(lsm_iter_status(it), 0, "flip at offset %lld of %s: the iterator "
                          "ended at tbl%06d of %d with status 0 (silent data loss)", off, base, i,
                          N);
        lsm_iter_free(it);
        if (errors)
            served_errors++;
        must(lsm_close(d2), "close");
    }
    fprintf(stderr, "engine_crash: table bit flips: %d of 16 reported by gets\n", served_errors);
    etu_rmrf(work);
}

/* A write group (lsm_group_begin/end: a command, a transaction, a script) is ONE WAL record:
 * its writes are visible at once to the writer but reach the log only at lsm_group_end, and a
 * crash that tears the record at any byte leaves all of them or none, counters included. */
Test(engine_crash, write_group_all_or_nothing_at_every_truncation_of_its_wal_record)
{
    char orig[1024], work[1024], log[1024];
    path_in(orig, sizeof orig, "orig");
    path_in(work, sizeof work, "work");
    cr_assert_eq(mkdir(orig, 0755), 0);
    lsm_options o;
    wal_options(&o);
    lsm_t *db = etu_open(orig, &o);
    cr_assert_not_null(db);
    must(etu_put_str(db, "before", "1"), "put");
    must(lsm_commit(db), "commit");
    cr_assert_geq(etu_newest_log(orig, log, sizeof log), 0);
    long long pre = etu_file_size(log);

    enum { NG = 12 };
    lsm_group_begin(db);
    lsm_buf b = {0};
    for (int i = 0; i < NG; i++) {
        char k[32];
        snprintf(k, sizeof k, "g%02d", i);
        must(etu_put_str(db, k, "grouped"), "put in group");
        cr_assert_eq(etu_get_str(db, k, &b), 0, "a group's write is visible to the writer at once");
    }
    lsm_group_begin(db); /* nested: joins the outer group */
    must(lsm_delete(db, "before", 6), "delete in group");
    must(lsm_counter_add(db, 3, 7), "counter in group");
    cr_assert_eq(lsm_group_end(db), 0);
    lsm_batch *bt = lsm_batch_new();
    lsm_batch_put(bt, "gb1", 3, "x", 1);
    lsm_batch_counter_add(bt, 3, 1);
    must(lsm_write(db, bt), "batch in group");
    lsm_batch_free(bt);
    cr_assert_eq(lsm_counter(db, 3), 8);
    cr_assert_eq(lsm_commit(db), LSM_EINVAL, "no commit while a group is open");
    cr_assert_eq(etu_file_size(log), pre, "nothing of an open group reaches the log");
    cr_assert_eq(lsm_group_end(db), 0);
    must(lsm_commit(db), "commit");
    long long post = etu_file_size(log);
    cr_assert_gt(post, pre);

    /* an aborted group leaves nothing, in memory or in the log */
    lsm_group_begin(db);
    must(etu_put_str(db, "aborted", "x"), "put");
    must(lsm_counter_add(db, 3, 100), "counter");
    cr_assert_eq(lsm_group_abort(db), 0);
    cr_assert_eq(etu_get_str(db, "aborted", &b), LSM_ENOTFOUND, "abort takes the writes back");
    cr_assert_eq(lsm_counter(db, 3), 8, "abort restores the counters");
    cr_assert_neq(etu_put_str(db, "aborted2", "x"), 0, "an aborted group refuses more writes");
    cr_assert_eq(lsm_group_end(db), LSM_EIO);
    must(lsm_commit(db), "commit");
    cr_assert_eq(etu_file_size(log), post, "an aborted group writes no record");
    must(etu_put_str(db, "after", "1"), "writes go on after an aborted group");
    must(lsm_close(db), "close");

    const char *slash = strrchr(log, '/');
    char logname[256];
    copy_name(logname, sizeof logname, slash ? slash + 1 : log);
    for (long long len = pre; len <= post; len++) {
        make_truncated_copy(orig, work, logname, len);
        db = etu_open(work, &o);
        cr_assert_not_null(db, "truncated to %lld: %s", len, lsm_last_error(NULL));
        int present = 0;
        for (int i = 0; i < NG; i++) {
            char k[32];
            snprintf(k, sizeof k, "g%02d", i);
            present += etu_get_str(db, k, &b) == 0;
        }
        present += etu_get_str(db, "gb1", &b) == 0;
        int deleted = etu_get_str(db, "before", &b) == LSM_ENOTFOUND;
        int whole = len == post;
        cr_assert_eq(present, whole ? NG + 1 : 0, "truncated to %lld of [%lld, %lld]: %d of the "
                     "group's %d puts present", len, pre, post, present, NG + 1);
        cr_assert_eq(deleted, whole, "the group's delete follows its puts");
        cr_assert_eq(lsm_counter(db, 3), whole ? 8 : 0, "the group's counters follow its writes");
        cr_assert_eq(etu_get_str(db, "aborted", &b), LSM_ENOTFOUND);
        must(lsm_close(db), "close");
    }
    lsm_buf_free(&b);
    etu_rmrf(work);
}
