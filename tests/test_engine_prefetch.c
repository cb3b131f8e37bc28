/* test_engine_prefetch.c - reads that do not wait for the disk (lsm.h: lsm_get_ready,
 * lsm_prefetch, lsm_prefetch_done, lsm_read_event_fd), through the public API only.
 *
 *   - a key in a table not yet read is not ready (LSM_EAGAIN); a background lookup makes it
 *     ready, reports its tag through the read eventfd, and lsm_get then returns the value;
 *   - keys no table can hold, and keys in the memtable, are ready at once;
 *   - the answer lsm_get_ready keeps for lsm_get never outlives a write, a rollback, or a poll
 *     (a model-checked random mix of writes, flushes, compactions, probes and reads);
 *   - closing with lookups in flight, and running without reader threads;
 *   - tables just written by flushes and compactions are read from the block cache
 *     (warm_block_cache), and with it off their first reads miss. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine_test_util.h"

#define NKEYS 4000
#define VLEN 200

static void key_of(char *buf, size_t n, int i) { snprintf(buf, n, "key%06d", i); }

static void value_of(char *buf, int i, int gen)
{
    for (int j = 0; j < VLEN; j++) buf[j] = (char)('a' + (i * 7 + j + gen * 13) % 26);
}

/* a test sets it first: the options then ask for io_uring reads, 1 submitted by the owner
 * thread, 2 by the reader's submitting thread */
static int g_uring;

static lsm_options opts(int threads)
{
    lsm_options o;
    etu_small_options(&o);
    o.read_threads = threads;
    o.read_uring = g_uring;
    o.block_cache_size = 256 << 10;
    /* no compaction of a tombstone-dense table on its own: landed_blocks_answer's deletions
     * (a table of ~2000 deletes) would otherwise be compacted into level 1 while it probes,
     * and the tables it installs midway are warm, which leaves too few cold keys to probe */
    o.deletion_compaction_percent = 0;
    return o;
}

/* Writes NKEYS keys (generation 0) and moves them into tables. */
static void fill(lsm_t *db)
{
    char k[32], v[VLEN];
    for (int i = 0; i < NKEYS; i++) {
        key_of(k, sizeof k, i);
        value_of(v, i, 0);
        cr_assert_eq(lsm_put(db, k, strlen(k), v, VLEN), 0);
        if (i % 500 == 0) {
            cr_assert_eq(lsm_commit(db), 0);
            cr_assert_eq(etu_wait_unstalled(db), 0);
        }
    }
    cr_assert_eq(lsm_commit(db), 0);
    cr_assert_eq(lsm_compact_range(db, NULL, 0, NULL, 0, 1), 0);
}

/* Waits (up to 10 s) until lsm_prefetch_done reports tag; fails otherwise. */
static void wait_tag(lsm_t *db, uint64_t tag)
{
    int fd = lsm_read_event_fd(db);
    cr_assert(fd >= 0, "a read eventfd with reader threads");
    for (int i = 0; i < 1000; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
        (void)poll(&p, 1, 10);
        uint64_t tags[16];
        int n = lsm_prefetch_done(db, tags, 16);
        for (int j = 0; j < n; j++)
            if (tags[j] == tag) return;
    }
    cr_assert_fail("tag %llu never reported", (unsigned long long)tag);
}

static void expect_value(lsm_t *db, int i, int gen)
{
    char k[32], v[VLEN];
    key_of(k, sizeof k, i);
    value_of(v, i, gen);
    lsm_buf b = {0};
    int rc = lsm_get(db, k, strlen(k), &b);
    cr_assert_eq(rc, 0, "get %s: %s", k, lsm_strerror(rc));
    cr_assert(etu_buf_eq(&b, v, VLEN), "value of %s (generation %d): %zu bytes %.*s", k, gen, b.len, (int)(b.len > 40 ? 40 : b.len), b.data ? b.data : "");
    lsm_buf_free(&b);
}

/* Drops dir's files from the OS page cache (they were synced by the close before). */
static void evict_page_cache(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        (void)fdatasync(fd);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
}

/* A database filled, closed and reopened: empty block and table caches (with g_uring, an empty
 * page cache too, so that reads of blocks are real reads). */
static lsm_t *cold_db(char *dir, size_t n, int threads)
{
    etu_tmpdir(dir, n, "prefetch");
    lsm_options o = opts(threads);
    lsm_t *db = etu_open(dir, &o);
    cr_assert_not_null(db);
    fill(db);
    cr_assert_eq(lsm_close(db), 0);
    if (g_uring) evict_page_cache(dir);
    db = etu_open(dir, &o);
    cr_assert_not_null(db);
    return db;
}

Test(prefetch, cold_key_is_read_in_the_background_then_ready)
{
    char dir[256], k[32];
    lsm_t *db = cold_db(dir, sizeof dir, 2);
    key_of(k, sizeof k, 1234);
    cr_assert_eq(lsm_get_ready(db, k, strlen(k)), LSM_EAGAIN, "a table not read yet");
    cr_assert_eq(lsm_prefetch(db, k, strlen(k), 42), 0);
    wait_tag(db, 42);
    cr_assert_eq(lsm_get_ready(db, k, strlen(k)), 0, "ready once its blocks are cached");
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t misses = st.cache_misses;
    expect_value(db, 1234, 0);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.cache_misses, misses, "lsm_get read nothing more");
    cr_assert_eq(st.prefetches, 1);
    /* the memo is used once: a second get looks up again, with the same answer */
    expect_value(db, 1234, 0);
    /* a neighbour in the same block is ready too; a far key is not */
    key_of(k, sizeof k, 1235);
    cr_assert_eq(lsm_get_ready(db, k, strlen(k)), 0);
    lsm_close(db);
    etu_rmrf(dir);
}

/* Every key read once after fill: returns the block cache misses that took. */
static uint64_t misses_reading_all(lsm_t *db)
{
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t before = st.cache_misses;
    for (int i = 0; i < NKEYS; i++) expect_value(db, i, 0);
    lsm_get_stats(db, &st);
    return st.cache_misses - before;
}

Test(prefetch, tables_just_written_are_read_from_the_cache)
{
    /* warm_block_cache: flushes and compactions put the blocks they write into the cache while
     * it has room, so the first reads of a table just written miss nothing; without it they
     * read (and decompress) every block once */
    for (int warm = 1; warm >= 0; warm--) {
        char dir[256];
        etu_tmpdir(dir, sizeof dir, "prefetch");
        lsm_options o = opts(2);
        o.block_cache_size = 8 << 20; /* room for the data set twice over */
        o.warm_block_cache = warm;
        lsm_t *db = etu_open(dir, &o);
        cr_assert_not_null(db);
        fill(db); /* flushes, then a compaction into one level */
        uint64_t misses = misses_reading_all(db);
        if (warm) cr_assert_eq(misses, 0, "%llu blocks read after the compaction wrote them",
                               (unsigned long long)misses);
        else cr_assert_geq(misses, 100, "only %llu misses without warming", (unsigned long long)misses);
        cr_assert_eq(misses_reading_all(db), 0, "the second pass is cached either way");
        lsm_close(db);
        etu_rmrf(dir);
    }
}

Test(prefetch, keys_no_table_holds_and_memtable_keys_are_ready)
{
    char dir[256];
    lsm_t *db = cold_db(dir, sizeof dir, 1);
    cr_assert_eq(lsm_get_ready(db, "zzz-after-all", 13), LSM_ENOTFOUND, "outside every table");
    cr_assert_eq(lsm_get_ready(db, "a-before-all", 12), LSM_ENOTFOUND);
    cr_assert_eq(lsm_put(db, "mem", 3, "v", 1), 0);
    cr_assert_eq(lsm_get_ready(db, "mem", 3), 0, "in the memtable");
    lsm_buf b = {0};
    cr_assert_eq(lsm_get(db, "mem", 3, &b), 0);
    cr_assert(etu_buf_eq(&b, "v", 1));
    /* a key deleted in the memtable over a table value: not found, no read needed */
    char k[32];
    key_of(k, sizeof k, 7);
    cr_assert_eq(lsm_delete(db, k, strlen(k)), 0);
    cr_assert_eq(lsm_get_ready(db, k, strlen(k)), LSM_ENOTFOUND);
    cr_assert_eq(lsm_get(db, k, strlen(k), &b), LSM_ENOTFOUND);
    lsm_buf_free(&b);
    lsm_close(db);
    etu_rmrf(dir);
}

/* A table a flush or a compaction writes is opened by that job: lookups that meet it right after
 * its install find it open (a key it cannot hold is answered at once, nothing queued), instead
 * of each parking on a background open of its own. A reopened database opens tables lazily. */
Test(prefetch, tables_a_flush_or_compaction_writes_are_open_before_any_lookup)
{
    char dir[256], k[32];
    etu_tmpdir(dir, sizeof dir, "prefetch");
    lsm_options o = opts(2);
    lsm_t *db = etu_open(dir, &o);
    cr_assert_not_null(db);
    fill(db); /* flushes, then a full compaction */
    lsm_stats st;
    lsm_get_stats(db, &st);
    int files = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++) files += st.level_files[l];
    cr_assert_gt(files, 1);
    cr_assert_eq(st.gets, 0);
    cr_assert_eq(st.open_tables, files, "every live table open (%d of %d), none read by a get",
                 st.open_tables, files);
    /* a flush's table: a key inside its range that it does not hold needs no read */
    for (int i = 0; i < NKEYS; i += 2) {
        key_of(k, sizeof k, i);
        cr_assert_eq(lsm_put(db, k, strlen(k), "new", 3), 0);
    }
    cr_assert_eq(lsm_commit(db), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    lsm_get_stats(db, &st);
    files = 0;
    for (int l = 0; l < LSM_MAX_LEVELS; l++) files += st.level_files[l];
    cr_assert_eq(st.open_tables, files);
    int answered = 0;
    for (int i = 0; i < 100; i++) { /* between key00i and key00i+1: no table holds them */
        snprintf(k, sizeof k, "key%06dx", i * 37);
        int r = lsm_get_ready(db, k, strlen(k));
        cr_assert(r == LSM_ENOTFOUND || r == LSM_EAGAIN);
        answered += r == LSM_ENOTFOUND;
    }
    /* EAGAIN only where a filter's false positive (~1%) needs a block read */
    cr_assert_geq(answered, 90, "%d of 100 answered without a read", answered);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.prefetches, 0);
    cr_assert_eq(lsm_close(db), 0);
    db = etu_open(dir, &o);
    cr_assert_not_null(db);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.open_tables, 0, "reopened: tables open on first use");
    lsm_close(db);
    etu_rmrf(dir);
}

Test(prefetch, memo_never_outlives_a_write_or_a_rollback)
{
    char dir[256];
    etu_tmpdir(dir, sizeof dir, "prefetch-memo");
    lsm_options o = opts(1);
    lsm_t *db = etu_open(dir, &o);
    cr_assert_not_null(db);
    lsm_buf b = {0};
    /* found, then overwritten */
    cr_assert_eq(etu_put_str(db, "k", "v1"), 0);
    cr_assert_eq(lsm_get_ready(db, "k", 1), 0);
    cr_assert_eq(etu_put_str(db, "k", "v2"), 0);
    cr_assert_eq(etu_get_str(db, "k", &b), 0);
    cr_assert(etu_buf_eq(&b, "v2", 2), "the write after the probe wins");
    /* not found, then written */
    cr_assert_eq(lsm_get_ready(db, "n", 1), LSM_ENOTFOUND);
    cr_assert_eq(etu_put_str(db, "n", "x"), 0);
    cr_assert_eq(etu_get_str(db, "n", &b), 0);
    /* found, then deleted */
    cr_assert_eq(lsm_get_ready(db, "n", 1), 0);
    cr_assert_eq(lsm_delete(db, "n", 1), 0);
    cr_assert_eq(etu_get_str(db, "n", &b), LSM_ENOTFOUND);
    /* a probe inside a write group, then the group rolled back */
    cr_assert_eq(lsm_commit(db), 0);
    lsm_group_begin(db);
    cr_assert_eq(etu_put_str(db, "k", "in-group"), 0);
    cr_assert_eq(lsm_get_ready(db, "k", 1), 0);
    cr_assert_eq(lsm_group_abort(db), 0);
    cr_assert_eq(lsm_group_end(db), LSM_EIO);
    cr_assert_eq(etu_get_str(db, "k", &b), 0);
    cr_assert(etu_buf_eq(&b, "v2", 2), "the rolled back value is gone");
    /* a counter write changes nothing a lookup sees, but a poll in between drops the memo too */
    cr_assert_eq(lsm_get_ready(db, "k", 1), 0);
    (void)lsm_poll(db);
    cr_assert_eq(etu_get_str(db, "k", &b), 0);
    cr_assert(etu_buf_eq(&b, "v2", 2));
    /* the caller's buffer gets the value whatever it held */
    lsm_buf big = {0};
    char filler[3000];
    memset(filler, 'f', sizeof filler);
    cr_assert_eq(lsm_put(db, "f", 1, filler, sizeof filler), 0);
    cr_assert_eq(etu_get_str(db, "f", &big), 0);
    cr_assert_eq(lsm_get_ready(db, "k", 1), 0);
    cr_assert_eq(etu_get_str(db, "k", &big), 0);
    cr_assert(etu_buf_eq(&big, "v2", 2));
    lsm_buf_free(&big);
    lsm_buf_free(&b);
    lsm_close(db);
    etu_rmrf(dir);
}

/* A random mix against a model: puts, deletes, probes (lsm_get_ready) followed or not by a
 * get, background lookups, commits, flushes and compactions via lsm_poll. Every get must
 * return the model's value. */
static void random_mix(void)
{
    char dir[256], k[32], v[VLEN];
    lsm_t *db = cold_db(dir, sizeof dir, 3);
    static int gen[NKEYS]; /* -1 deleted, else the generation stored */
    memset(gen, 0, sizeof gen);
    etu_rng rng;
    etu_rng_init(&rng, etu_seed(7));
    lsm_buf b = {0};
    uint64_t next_tag = 1;
    for (int step = 0; step < 20000; step++) {
        int i = (int)etu_rng_below(&rng, NKEYS);
        key_of(k, sizeof k, i);
        unsigned op = (unsigned)etu_rng_below(&rng, 100);
        if (op < 20) {
            int g = (int)(step % 1000) + 1;
            value_of(v, i, g);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, VLEN), 0);
            gen[i] = g;
        } else if (op < 25) {
            cr_assert_eq(lsm_delete(db, k, strlen(k)), 0);
            gen[i] = -1;
        } else if (op < 70) {
            int rc = lsm_get_ready(db, k, strlen(k));
            cr_assert(rc == 0 || rc == LSM_ENOTFOUND || rc == LSM_EAGAIN, "probe: %d", rc);
            uint64_t wait_for = 0;
            if (rc == LSM_EAGAIN) {
                uint64_t tag = next_tag++;
                int q = lsm_prefetch(db, k, strlen(k), tag);
                cr_assert(q == 0 || q == LSM_EBUSY, "prefetch: %d", q); /* EBUSY: rings full */
                if (q == 0 && etu_rng_below(&rng, 3) == 0) wait_for = tag;
            }
            if (rc != LSM_EAGAIN) cr_assert_eq(rc, gen[i] < 0 ? LSM_ENOTFOUND : 0, "probe of %s", k);
            unsigned between = (unsigned)etu_rng_below(&rng, 6);
            if (between == 0) { /* another key's write between the probe and the get */
                char k2[32];
                key_of(k2, sizeof k2, (i + 1) % NKEYS);
                value_of(v, (i + 1) % NKEYS, 999);
                cr_assert_eq(lsm_put(db, k2, strlen(k2), v, VLEN), 0);
                gen[(i + 1) % NKEYS] = 999;
            } else if (between == 1) { /* the probed key itself is overwritten */
                value_of(v, i, 998);
                cr_assert_eq(lsm_put(db, k, strlen(k), v, VLEN), 0);
                gen[i] = 998;
            } else if (between == 2) { /* or deleted */
                cr_assert_eq(lsm_delete(db, k, strlen(k)), 0);
                gen[i] = -1;
            }
            if (wait_for) {
                /* as the server does: the command waits for its read, then probes again (with
                 * io_uring, the landed block's answer, lsm_landed_answers, unless a write came
                 * between) */
                wait_tag(db, wait_for);
                rc = lsm_get_ready(db, k, strlen(k));
                cr_assert(rc == 0 || rc == LSM_ENOTFOUND || rc == LSM_EAGAIN, "probe: %d", rc);
                if (rc != LSM_EAGAIN)
                    cr_assert_eq(rc, gen[i] < 0 ? LSM_ENOTFOUND : 0, "probe of %s once read", k);
            }
            if (etu_rng_below(&rng, 2) == 0) {
                rc = lsm_get(db, k, strlen(k), &b);
                if (gen[i] < 0) {
                    cr_assert_eq(rc, LSM_ENOTFOUND, "get %s after a delete", k);
                } else {
                    value_of(v, i, gen[i]);
                    cr_assert_eq(rc, 0, "get %s", k);
                    cr_assert(etu_buf_eq(&b, v, VLEN), "value of %s", k);
                }
            }
        } else if (op < 95) {
            int rc = lsm_get(db, k, strlen(k), &b);
            if (gen[i] < 0) {
                cr_assert_eq(rc, LSM_ENOTFOUND);
            } else {
                value_of(v, i, gen[i]);
                cr_assert_eq(rc, 0);
                cr_assert(etu_buf_eq(&b, v, VLEN), "value of %s", k);
            }
        } else {
            cr_assert_eq(lsm_commit(db), 0);
            cr_assert(etu_poll_once(db, 0) >= 0);
            uint64_t tags[64];
            while (lsm_prefetch_done(db, tags, 64) > 0) {
            }
            cr_assert_eq(etu_wait_unstalled(db), 0);
        }
    }
    lsm_buf_free(&b);
    if (g_uring) {
        lsm_stats st;
        lsm_get_stats(db, &st);
        /* io_uring may be refused by the system (seccomp, io_uring_disabled): threads then */
        if (st.read_uring) {
            cr_assert_gt(st.uring_block_reads, 0, "reads went through io_uring");
            cr_assert_gt(st.landed_answers, 0, "landed blocks answered lookups");
        }
    }
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, random_mix_matches_a_model, .timeout = 120) { random_mix(); }

Test(prefetch, random_mix_matches_a_model_with_uring_reads, .timeout = 120)
{
    g_uring = 1;
    random_mix();
}

Test(prefetch, random_mix_matches_a_model_with_uring_reads_from_a_submitting_thread, .timeout = 120)
{
    g_uring = 2;
    random_mix();
}

/* cold_db with io_uring reads in mode uring (one reader thread), or NULL (the test is skipped,
 * said on stderr) where the system refuses io_uring (seccomp, io_uring_disabled). */
static lsm_t *cold_uring_db(char *dir, size_t n, const char *test, int uring)
{
    g_uring = uring;
    lsm_t *db = cold_db(dir, n, 1);
    lsm_stats st;
    lsm_get_stats(db, &st);
    if (st.read_uring) return db;
    fprintf(stderr, "%s: no io_uring here, skipped\n", test);
    lsm_close(db);
    etu_rmrf(dir);
    return NULL;
}

/* Threads of this process named name (/proc/self/task/N/comm). */
/* A full scan of db (every key, in order): every table is opened (the block cache keeps the last
 * blocks scanned); then the page cache of dir is emptied, so that what follows needs block
 * reads only. */
static void open_every_table(lsm_t *db, const char *dir, int live_keys)
{
    lsm_iter *it = lsm_iter_new(db);
    cr_assert_not_null(it);
    int scanned = 0;
    for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) scanned++;
    cr_assert_eq(lsm_iter_status(it), 0);
    lsm_iter_free(it);
    cr_assert_eq(scanned, live_keys);
    evict_page_cache(dir); /* the scan read through it */
}

static int threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}

static void uring_reads_cold_blocks(int uring)
{
    char dir[256], k[32];
    lsm_t *db = cold_uring_db(dir, sizeof dir, "uring_reads_cold_blocks_of_open_tables", uring);
    if (!db) return;
    lsm_stats st;
    uint64_t tag = 1;
    int waited = 0;
    /* two passes: the first opens the tables (a thread), the second reads other blocks of them */
    for (int n = 0; n < 32; n++, tag++) {
        int i = (n % 16) * (NKEYS / 16) + (n / 16) * (NKEYS / 32);
        key_of(k, sizeof k, i);
        int rc = lsm_get_ready(db, k, strlen(k));
        if (rc == LSM_EAGAIN) {
            cr_assert_eq(lsm_prefetch(db, k, strlen(k), tag), 0);
            wait_tag(db, tag);
            waited++;
            cr_assert_eq(lsm_get_ready(db, k, strlen(k)), 0, "%s ready once its block landed", k);
        }
        expect_value(db, i, 0);
    }
    cr_assert_gt(waited, 1);
    lsm_get_stats(db, &st);
    /* the first lookups open the tables (on a thread); the later ones read blocks themselves */
    cr_assert_gt(st.uring_block_reads, 0);
    /* mode 2 submits from a thread of its own, mode 1 from this one */
    cr_assert_eq(threads_named("kevo-uring"), uring == 2 ? 1 : 0);
    cr_assert_eq(lsm_close(db), 0);
    cr_assert_eq(threads_named("kevo-uring"), 0, "the submitting thread ends with the engine");
    etu_rmrf(dir);
}

Test(prefetch, uring_reads_cold_blocks_of_open_tables) { uring_reads_cold_blocks(1); }

Test(prefetch, uring_reads_cold_blocks_of_open_tables_from_a_submitting_thread)
{
    uring_reads_cold_blocks(2);
}

/* lsm_prefetch_hold: io_uring reads queued while held start only at lsm_prefetch_flush (the
 * server's loop flushes once per iteration: one system call and one device notification for
 * all of them). Nothing is reported before the flush; everything is after it. */
static void held_uring_reads(int uring)
{
    char dir[256], k[32];
    lsm_t *db = cold_uring_db(dir, sizeof dir, "held_uring_reads_start_at_the_flush", uring);
    if (!db) return;
    lsm_stats st;
    uint64_t tag = 1;
    /* every table opened by a full scan (read in place): what follows needs block reads only
     * (the block cache keeps the last blocks scanned, the first ones are read again) */
    open_every_table(db, dir, NKEYS);
    lsm_prefetch_hold(db, 1);
    int keys[NKEYS / 50], n = 0;
    uint64_t first = tag;
    for (int i = 25; i < NKEYS; i += 50) {
        key_of(k, sizeof k, i);
        if (lsm_get_ready(db, k, strlen(k)) != LSM_EAGAIN) continue; /* its block is cached */
        cr_assert_eq(lsm_prefetch(db, k, strlen(k), first + (uint64_t)n), 0);
        keys[n++] = i;
    }
    cr_assert_gt(n, 5, "blocks to read (%d)", n);
    struct pollfd p = {.fd = lsm_read_event_fd(db), .events = POLLIN, .revents = 0};
    cr_assert_eq(poll(&p, 1, 300), 0, "held reads did not start: nothing finished");
    lsm_prefetch_flush(db);
    int left = n;
    for (int round = 0; left > 0 && round < 1000; round++) {
        struct pollfd q = {.fd = lsm_read_event_fd(db), .events = POLLIN, .revents = 0};
        (void)poll(&q, 1, 10);
        uint64_t tags[64];
        int got = lsm_prefetch_done(db, tags, 64);
        for (int j = 0; j < got; j++) {
            cr_assert(tags[j] >= first && tags[j] < first + (uint64_t)n, "tag %llu",
                      (unsigned long long)tags[j]);
            left--;
        }
    }
    cr_assert_eq(left, 0, "every held lookup reported after the flush");
    /* the blocks landed in the cache (a small one: the first may be evicted by the last) */
    int ready = 0;
    for (int j = 0; j < n; j++) {
        key_of(k, sizeof k, keys[j]);
        ready += lsm_get_ready(db, k, strlen(k)) == 0;
    }
    cr_assert_geq(ready, 5, "%d of %d keys ready once their blocks landed", ready, n);
    for (int j = 0; j < n; j++) expect_value(db, keys[j], 0);
    lsm_get_stats(db, &st);
    cr_assert_geq(st.uring_block_reads, (uint64_t)n);
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, held_uring_reads_start_at_the_flush) { held_uring_reads(1); }

Test(prefetch, held_uring_reads_start_at_the_flush_from_a_submitting_thread) { held_uring_reads(2); }

/* The lookup from memory that finds a block missing (lsm_get_ready) names it, and lsm_prefetch
 * of that key reads it without looking the key up again; when the block lands holding the key,
 * the lookup is over without running again either. So cold keys of open tables cost their block
 * reads and no lookup on the reader's side (but a filter's false positive, which the reader
 * follows with a lookup of its own). */
static void cold_keys_cost_no_reader_lookup(int uring)
{
    char dir[256], k[32];
    lsm_t *db = cold_uring_db(dir, sizeof dir, "cold_keys_cost_one_read_and_no_reader_lookup", uring);
    if (!db) return;
    open_every_table(db, dir, NKEYS);
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t reads0 = st.uring_block_reads, lookups0 = st.uring_lookups;
    int n = 0;
    for (int i = 25; i < NKEYS; i += 50) {
        key_of(k, sizeof k, i);
        if (lsm_get_ready(db, k, strlen(k)) != LSM_EAGAIN) continue;
        cr_assert_eq(lsm_prefetch(db, k, strlen(k), 1000 + (uint64_t)i), 0);
        wait_tag(db, 1000 + (uint64_t)i);
        cr_assert_eq(lsm_get_ready(db, k, strlen(k)), 0, "%s ready once its block landed", k);
        expect_value(db, i, 0);
        n++;
    }
    cr_assert_gt(n, 20, "cold keys (%d)", n);
    lsm_get_stats(db, &st);
    uint64_t reads = st.uring_block_reads - reads0, lookups = st.uring_lookups - lookups0;
    /* a false positive costs one more read and one lookup (~1% of tables probed) */
    cr_assert_geq(reads, (uint64_t)n);
    cr_assert_leq(lookups, (uint64_t)n / 10 + 1, "%llu reader lookups for %d cold keys",
                  (unsigned long long)lookups, n);
    cr_assert_leq(reads, (uint64_t)n + lookups, "%llu reads for %d cold keys", (unsigned long long)reads, n);
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, cold_keys_cost_one_read_and_no_reader_lookup) { cold_keys_cost_no_reader_lookup(1); }

Test(prefetch, cold_keys_cost_one_read_and_no_reader_lookup_from_a_submitting_thread)
{
    cold_keys_cost_no_reader_lookup(2);
}

/* The block a lookup from memory found missing answers that lookup when it lands
 * (lsm_landed_answers): the parked command's lsm_get_ready and lsm_get then run no lookup (no
 * bloom filter is checked) and return what a lookup returns: the value, or "not found" for a key
 * whose newest entry in the block is a deletion. A write between the probe and the landing, to
 * the key or to any other, voids the answer: the lookup runs again and sees the write. */
static void landed_blocks_answer(int uring)
{
    char dir[256], k[32], v[VLEN];
    lsm_t *db = cold_uring_db(dir, sizeof dir, "landed_blocks_answer_their_lookups", uring);
    if (!db) return;
    /* the keys i % 100 == 75 deleted, and every even one (never probed below: they make the
     * deletions' table span many blocks, most of them not cached), the deletions flushed into a
     * table of their own (level 0) */
    for (int i = 0; i < NKEYS; i++) {
        if (i % 2 && i % 100 != 75) continue;
        key_of(k, sizeof k, i);
        cr_assert_eq(lsm_delete(db, k, strlen(k)), 0);
    }
    cr_assert_eq(lsm_commit(db), 0);
    cr_assert_eq(lsm_flush(db, 1), 0);
    (void)lsm_poll(db);
    open_every_table(db, dir, NKEYS / 2 - NKEYS / 100);
    lsm_stats st;
    int n = 0, answered = 0, deleted = 0;
    for (int i = 25; i < NKEYS - 50; i += 50) {
        key_of(k, sizeof k, i);
        if (lsm_get_ready(db, k, strlen(k)) != LSM_EAGAIN) continue;
        n++;
        lsm_get_stats(db, &st);
        uint64_t landed0 = st.landed_answers;
        cr_assert_eq(lsm_prefetch(db, k, strlen(k), 1 + (uint64_t)i), 0);
        wait_tag(db, 1 + (uint64_t)i);
        lsm_get_stats(db, &st);
        if (st.landed_answers == landed0) continue; /* a filter's false positive: read again */
        cr_assert_eq(st.landed_answers, landed0 + 1);
        answered++;
        uint64_t checks0 = st.bloom_checks;
        int gone = i % 100 == 75;
        cr_assert_eq(lsm_get_ready(db, k, strlen(k)), gone ? LSM_ENOTFOUND : 0, "%s", k);
        if (gone) {
            lsm_buf b = {0};
            cr_assert_eq(lsm_get(db, k, strlen(k), &b), LSM_ENOTFOUND, "%s was deleted", k);
            lsm_buf_free(&b);
            deleted++;
        } else {
            expect_value(db, i, 0);
        }
        lsm_get_stats(db, &st);
        cr_assert_eq(st.bloom_checks, checks0, "%s: no lookup ran for the probe and the get", k);
    }
    cr_assert_gt(n, 20, "cold keys (%d)", n);
    cr_assert_geq(answered, n * 8 / 10, "%d of %d cold keys answered by their block", answered, n);
    cr_assert_gt(deleted, 0, "deleted keys answered by their block");

    /* a write between the probe and the landing: the key itself, then another key */
    for (int round = 0; round < 2; round++) {
        int i = -1;
        for (int j = 27 + 2 * round; j < NKEYS; j += 50) { /* odd: live */
            key_of(k, sizeof k, j);
            if (lsm_get_ready(db, k, strlen(k)) == LSM_EAGAIN) {
                i = j;
                break;
            }
        }
        cr_assert_geq(i, 0, "a cold key for round %d", round);
        lsm_get_stats(db, &st);
        uint64_t landed0 = st.landed_answers;
        cr_assert_eq(lsm_prefetch(db, k, strlen(k), 7777), 0);
        if (round == 0) {
            value_of(v, i, 1);
            cr_assert_eq(lsm_put(db, k, strlen(k), v, VLEN), 0);
        } else {
            cr_assert_eq(etu_put_str(db, "another key", "x"), 0);
        }
        wait_tag(db, 7777);
        lsm_get_stats(db, &st);
        cr_assert_eq(st.landed_answers, landed0, "round %d: no answer after a write", round);
        expect_value(db, i, round == 0 ? 1 : 0);
    }
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, landed_blocks_answer_their_lookups) { landed_blocks_answer(1); }

Test(prefetch, landed_blocks_answer_their_lookups_from_a_submitting_thread)
{
    landed_blocks_answer(2);
}

/* Completed io_uring reads are reaped at most max per lsm_prefetch_done (the loop serves other
 * clients between calls): with every read landed, each call reports at most max lookups, and
 * the event fd is readable again as long as any are left, so a caller that waits on it hears of
 * every one. */
static void reaped_in_small_batches(int uring)
{
    char dir[256], k[32];
    lsm_t *db = cold_uring_db(dir, sizeof dir, "completions_are_reaped_in_batches_of_max", uring);
    if (!db) return;
    open_every_table(db, dir, NKEYS);
    lsm_prefetch_hold(db, 1);
    int n = 0;
    for (int i = 25; i < NKEYS; i += 50) {
        key_of(k, sizeof k, i);
        if (lsm_get_ready(db, k, strlen(k)) != LSM_EAGAIN) continue;
        cr_assert_eq(lsm_prefetch(db, k, strlen(k), 1 + (uint64_t)n), 0);
        n++;
    }
    cr_assert_gt(n, 8, "blocks to read (%d)", n);
    lsm_prefetch_flush(db);
    usleep(500 * 1000); /* every read lands meanwhile (a cold 4 KiB read takes well under 1 ms) */
    char seen[NKEYS / 50 + 1];
    memset(seen, 0, sizeof seen);
    int left = n, calls = 0;
    while (left > 0) {
        struct pollfd q = {.fd = lsm_read_event_fd(db), .events = POLLIN, .revents = 0};
        cr_assert_eq(poll(&q, 1, 5000), 1, "the event fd says %d lookups are left", left);
        uint64_t tags[2];
        int got = lsm_prefetch_done(db, tags, 2);
        cr_assert_leq(got, 2);
        calls++;
        for (int j = 0; j < got; j++) {
            cr_assert(tags[j] >= 1 && tags[j] <= (uint64_t)n && !seen[tags[j]], "tag %llu",
                      (unsigned long long)tags[j]);
            seen[tags[j]] = 1;
            left--;
        }
    }
    cr_assert_geq(calls, (n + 1) / 2, "at most 2 reported per call (%d calls for %d)", calls, n);
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, completions_are_reaped_in_batches_of_max) { reaped_in_small_batches(1); }

Test(prefetch, completions_are_reaped_in_batches_of_max_from_a_submitting_thread)
{
    reaped_in_small_batches(2);
}

/* Pages of dir's .sst files in the page cache (cachestat(2)), or -1 where the kernel has no
 * cachestat. */
static long sst_pages_cached(const char *dir)
{
    struct { uint64_t off, len; } range = {0, 0}; /* len 0: to the end of the file */
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } cs;
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    long total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".sst") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        long r = syscall(451 /* cachestat */, fd, &range, &cs, 0);
        close(fd);
        if (r != 0) {
            closedir(d);
            return -1;
        }
        total += (long)cs.nr_cache;
    }
    closedir(d);
    return total;
}

/* Asking whether a key is in memory never reads it from the disk: a block neither cached nor
 * in the page cache is not read into the page cache (preadv2 RWF_NOWAIT would start that read
 * before saying EAGAIN; the engine asks cachestat first). */
Test(prefetch, get_ready_of_cold_blocks_reads_nothing_into_the_page_cache)
{
    char dir[256], k[32];
    lsm_t *db = cold_db(dir, sizeof dir, 1);
    open_every_table(db, dir, NKEYS);
    long before = sst_pages_cached(dir);
    if (before < 0) {
        fprintf(stderr, "get_ready_of_cold_blocks...: no cachestat here, skipped\n");
        lsm_close(db);
        etu_rmrf(dir);
        return;
    }
    int cold = 0;
    for (int i = 0; i < NKEYS; i += 7) {
        key_of(k, sizeof k, i);
        cold += lsm_get_ready(db, k, strlen(k)) == LSM_EAGAIN;
    }
    cr_assert_gt(cold, 50, "cold keys (%d)", cold);
    long after = sst_pages_cached(dir);
    cr_assert_leq(after, before + 8, "page-cache pages of the tables: %ld before, %ld after %d probes",
                  before, after, cold);
    cr_assert_eq(lsm_close(db), 0);
    etu_rmrf(dir);
}

Test(prefetch, close_with_lookups_in_flight)
{
    char dir[256], k[32];
    lsm_t *db = cold_db(dir, sizeof dir, 4);
    int queued = 0;
    for (int i = 0; i < NKEYS; i += 7) {
        key_of(k, sizeof k, i);
        int rc = lsm_prefetch(db, k, strlen(k), (uint64_t)i + 1);
        cr_assert(rc == 0 || rc == LSM_EBUSY, "prefetch: %d", rc);
        queued += rc == 0;
    }
    cr_assert(queued > 0);
    cr_assert_eq(lsm_close(db), 0, "close waits for the lookups and releases them");
    etu_rmrf(dir);
}

Test(prefetch, without_reader_threads)
{
    char dir[256], k[32];
    lsm_t *db = cold_db(dir, sizeof dir, 0);
    cr_assert_eq(lsm_read_event_fd(db), -1);
    key_of(k, sizeof k, 99);
    cr_assert_eq(lsm_get_ready(db, k, strlen(k)), LSM_EAGAIN);
    cr_assert_eq(lsm_prefetch(db, k, strlen(k), 1), LSM_EINVAL);
    uint64_t t;
    cr_assert_eq(lsm_prefetch_done(db, &t, 1), 0);
    expect_value(db, 99, 0); /* read in place */
    lsm_close(db);
    etu_rmrf(dir);
}

Test(prefetch, seek_blocks_are_read_in_the_background_then_ready)
{
    char dir[256], k[32];
    lsm_t *db = cold_db(dir, sizeof dir, 2);
    key_of(k, sizeof k, 2000);
    cr_assert_eq(lsm_seek_ready(db, k, strlen(k), 2), LSM_EAGAIN, "tables not read yet");
    cr_assert_eq(lsm_prefetch_seek(db, k, strlen(k), 2, 9), 0);
    wait_tag(db, 9);
    cr_assert_eq(lsm_seek_ready(db, k, strlen(k), 2), 0, "ready once its blocks are cached");
    lsm_stats st;
    lsm_get_stats(db, &st);
    uint64_t misses = st.cache_misses;
    /* a seek there and the entries of the two blocks (4 KiB blocks of ~230-byte entries) */
    lsm_iter *it = lsm_iter_new(db);
    lsm_iter_seek(it, k, strlen(k));
    for (int i = 2000; i < 2020; i++) {
        char want[32];
        key_of(want, sizeof want, i);
        cr_assert(lsm_iter_valid(it));
        size_t kl;
        const char *got = lsm_iter_key(it, &kl);
        cr_assert(kl == strlen(want) && memcmp(got, want, kl) == 0, "entry %d", i);
        lsm_iter_next(it);
    }
    lsm_iter_free(it);
    lsm_get_stats(db, &st);
    cr_assert_eq(st.cache_misses, misses, "the walk read nothing more");
    /* past the last key: nothing to read */
    cr_assert_eq(lsm_seek_ready(db, "zzz", 3, 2), 0);
    lsm_close(db);
    etu_rmrf(dir);
}
