/* test_engine_memory.c - memory stays bounded by the options while data far larger is written.
 *
 * Writes KEVO_MEMTEST_BYTES (default 256 MiB; 32 MiB under ASan/TSan) of key+value bytes in
 * random key order, with memtable_size 4 MiB, max_immutable_memtables 2 and an 8 MiB block
 * cache, honoring lsm_write_stalled() the way the server does (when stalled: poll() on
 * lsm_event_fd, then lsm_poll). The process RSS (/proc/self/statm) is sampled every 512 KiB
 * written and during the read-back, and must stay below
 *     RSS at open + memtable_size x (max_immutable_memtables + 2) + block_cache_size + slack
 * (the active memtable + up to max + 1 immutable ones: lsm.h stalls writes BEYOND the max)
 * with slack = KEVO_MEMTEST_SLACK_MB (default 64 MiB: compaction buffers, table cache,
 * allocator slop). Then a sample of the keys (every 257th) is read back and checked.
 * Under AddressSanitizer/ThreadSanitizer RSS is meaningless (shadow memory, quarantine): the
 * bound is not checked there, only the data. */
#include <criterion/criterion.h>

#include "engine_test_util.h"

#define ETU_RSS_MEANINGFUL (!ETU_SANITIZED)

#define VAL_SIZE 1000

static char g_dir[512];

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Key i -> a unique 16-byte key in scrambled order (i * odd constant mod 2^40). */
static size_t mem_key(char *buf, uint64_t i)
{
    uint64_t x = (i * UINT64_C(0x9E3779B97F)) & ((UINT64_C(1) << 40) - 1);
    snprintf(buf, 32, "mt%014" PRIx64, x);
    return 16;
}

/* Value of key i: half pseudo-random, half repeated bytes (~50% compressible, like db_bench). */
static void mem_value(char *v, uint64_t i)
{
    etu_rng r;
    etu_rng_init(&r, i);
    for (size_t p = 0; p < VAL_SIZE / 2; p += 8) {
        uint64_t x = etu_rng_next(&r);
        memcpy(v + p, &x, 8);
    }
    memset(v + VAL_SIZE / 2, (int)('a' + i % 26), VAL_SIZE - VAL_SIZE / 2);
    memcpy(v, &i, sizeof i); /* the key number, so a misplaced value is caught */
}

static void setup(void)
{
    cr_assert_not_null(etu_tmpdir(g_dir, sizeof g_dir, "mem"));
}

static void teardown(void)
{
    if (g_dir[0] && !etu_env_u64("KEVO_KEEP_DIRS", 0))
        etu_rmrf(g_dir);
}

Test(engine_memory, rss_stays_under_configured_bound_while_writing, .init = setup,
     .fini = teardown, .timeout = 900)
{
    uint64_t total = etu_env_u64("KEVO_MEMTEST_BYTES",
                                 ETU_RSS_MEANINGFUL ? (UINT64_C(256) << 20) : (32u << 20));
    uint64_t slack = etu_env_u64("KEVO_MEMTEST_SLACK_MB", 64) << 20;
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = 4 << 20;
    o.max_immutable_memtables = 2;
    o.block_cache_size = 8 << 20;
    o.target_file_size = 8 << 20;
    o.level1_max_bytes = 32 << 20;
    o.sync_mode = LSM_SYNC_NO;
    o.log_fn = etu_log;

    lsm_t *db = etu_open(g_dir, &o);
    cr_assert_not_null(db, "open: %s", lsm_last_error(NULL));
    uint64_t base = rss_bytes();
    /* one active memtable + up to max_immutable_memtables + 1 immutable ones (lsm.h: writes
     * stall BEYOND max_immutable_memtables, so the count can reach max + 1) */
    uint64_t bound = base + (uint64_t)o.memtable_size * (uint64_t)(o.max_immutable_memtables + 2) +
                     o.block_cache_size + slack;
    fprintf(stderr, "engine_memory: writing %" PRIu64 " MiB; RSS at open %" PRIu64 " MiB, bound %"
            PRIu64 " MiB%s\n", total >> 20, base >> 20, bound >> 20,
            ETU_RSS_MEANINGFUL ? "" : " (NOT checked under this sanitizer)");

    char k[32], v[VAL_SIZE];
    uint64_t n = total / (16 + VAL_SIZE);
    uint64_t written = 0, next_sample = 0, max_rss = 0, stalls = 0;
    int max_imm = 0;
    uint64_t t0 = etu_now_ms();
    for (uint64_t i = 0; i < n; i++) {
        mem_key(k, i);
        mem_value(v, i);
        int rc = lsm_put(db, k, 16, v, VAL_SIZE);
        cr_assert_eq(rc, 0, "put #%" PRIu64 ": %s", i, lsm_strerror(rc));
        written += 16 + VAL_SIZE;
        if (i % 32 == 31) {
            cr_assert_eq(lsm_commit(db), 0);
            if (lsm_write_stalled(db))
                stalls++;
            rc = etu_wait_unstalled(db);
            cr_assert_eq(rc, 0, "waiting for the write stall to end: %s", lsm_strerror(rc));
            rc = lsm_poll(db);
            cr_assert_geq(rc, 0, "lsm_poll: %s", lsm_strerror(rc));
        }
        if (written >= next_sample) {
            next_sample = written + (512u << 10);
            lsm_stats ms;
            lsm_get_stats(db, &ms);
            if (ms.immutable_memtables > max_imm)
                max_imm = ms.immutable_memtables;
            /* lsm.h: writes stall BEYOND max_immutable_memtables, so with a writer that honors
             * lsm_write_stalled() the count never passes max + 1 */
            cr_assert_leq(ms.immutable_memtables, o.max_immutable_memtables + 1,
                          "%d immutable memtables waiting for flush (limit %d) although the "
                          "writer honors lsm_write_stalled()", ms.immutable_memtables,
                          o.max_immutable_memtables);
            uint64_t rss = rss_bytes();
            if (rss > max_rss)
                max_rss = rss;
            if (ETU_RSS_MEANINGFUL && rss > bound) {
                lsm_stats s;
                lsm_get_stats(db, &s);
                cr_assert_leq(rss, bound, "RSS %" PRIu64 " MiB > bound %" PRIu64 " MiB after "
                              "writing %" PRIu64 " MiB: memtables %" PRIu64 " KiB (%d immutable),"
                              " cache %" PRIu64 "/%" PRIu64 " KiB, L0 files %d, open tables %d",
                              rss >> 20, bound >> 20, written >> 20, s.memtable_bytes >> 10,
                              s.immutable_memtables, s.cache_bytes >> 10, s.cache_capacity >> 10,
                              s.level_files[0], s.open_tables);
            }
        }
    }
    cr_assert_eq(lsm_commit(db), 0);
    lsm_stats s;
    lsm_get_stats(db, &s);
    fprintf(stderr, "engine_memory: wrote %" PRIu64 " MiB in %.1fs, max RSS %" PRIu64 " MiB "
            "(bound %" PRIu64 "), %" PRIu64 " stalled checkpoints, max %d immutable memtables, "
            "flushes %" PRIu64 ", compactions %" PRIu64 ", SST bytes %" PRIu64 " MiB\n",
            written >> 20, (double)(etu_now_ms() - t0) / 1000.0, max_rss >> 20, bound >> 20,
            stalls, max_imm, s.flushes, s.compactions, s.total_sst_bytes >> 20);
    cr_assert_gt(s.flushes, 0, "wrote %" PRIu64 " MiB with a 4 MiB memtable but nothing flushed",
                 written >> 20);

    /* read back a sample (through the 8 MiB cache), still under the bound */
    lsm_buf b = {0};
    uint64_t checked = 0;
    for (uint64_t i = 0; i < n; i += 257) {
        mem_key(k, i);
        mem_value(v, i);
        int rc = lsm_get(db, k, 16, &b);
        cr_assert_eq(rc, 0, "read-back of key #%" PRIu64 " (%.16s): %s", i, k, lsm_strerror(rc));
        cr_assert(etu_buf_eq(&b, v, VAL_SIZE), "read-back of key #%" PRIu64 ": wrong value (%zu"
                  " bytes)", i, b.len);
        checked++;
        if (checked % 256 == 0) {
            lsm_poll(db);
            uint64_t rss = rss_bytes();
            if (rss > max_rss)
                max_rss = rss;
            if (ETU_RSS_MEANINGFUL)
                cr_assert_leq(rss, bound, "RSS %" PRIu64 " MiB > bound %" PRIu64 " MiB while "
                              "reading back", rss >> 20, bound >> 20);
        }
    }
    lsm_buf_free(&b);
    lsm_get_stats(db, &s);
    cr_assert_leq(s.cache_bytes, s.cache_capacity + (1u << 20),
                  "block cache holds %" PRIu64 " bytes > capacity %" PRIu64, s.cache_bytes,
                  s.cache_capacity);
    fprintf(stderr, "engine_memory: %" PRIu64 " keys read back, max RSS %" PRIu64 " MiB\n",
            checked, max_rss >> 20);
    cr_assert_eq(lsm_close(db), 0);
}
