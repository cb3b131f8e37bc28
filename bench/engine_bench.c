/* engine_bench.c - db_bench's workloads on the Kevo engine (public API lsm.h only).
 *
 *   build/bench/engine_bench [--flag=value ...]
 *
 * Workloads (--benchmarks, comma-separated, run in order, like RocksDB's db_bench):
 *   fillseq            N puts, keys 0..N-1 in order            (fresh DB unless --use_existing_db)
 *   fillrandom         N puts, uniformly random keys in [0,N)  (fresh DB unless --use_existing_db)
 *   overwrite          N puts, uniformly random keys in [0,N)  (existing DB)
 *   readrandom         N gets of random keys (prints found/N)
 *   readseq            one iterator from the first key, up to N entries
 *   readreverse        one iterator from the last key backward (prev), up to N entries
 *   seekrandom         N x (seek to a random key + --seek_nexts nexts)
 *   seekrandomprev     N x (seek_for_prev to a random key + --seek_nexts prevs): ZREVRANGE
 *   waitforcompaction  poll until no flush/compaction runs or is pending (not timed)
 *   flush              lsm_flush(wait) + waitforcompaction (not timed)
 * Keys and values are generated as db_bench does: a key is the number as 8 bytes big-endian,
 * padded with '0' to --key_size; values come from a buffer of 100-byte pieces, each
 * --compression_ratio random printable bytes repeated (so lz4 halves them at 0.5).
 *
 * Writes: each put goes through lsm_put, and lsm_commit is called after every --commit_every
 * writes (default 1: one WAL write() per put, like a server answering one client per loop
 * iteration; sync per --sync: 0 = LSM_SYNC_NO, 1 = LSM_SYNC_ALWAYS). When
 * lsm_write_stalled() says so, the writer waits on lsm_event_fd + lsm_poll like the server
 * (stall time is part of the measured time). lsm_poll is also called every 1024 ops in every
 * workload, as the server's loop would.
 *
 * Output, per workload: a db_bench-style line, and a machine-readable line
 *   RESULT <name> ops_per_sec=<x> micros_per_op=<y> found=<n> wamp=<w> flush_bytes=<f>
 *          compaction_bytes=<c> user_bytes=<u>
 * where wamp = (flush + compaction bytes written during the workload) / (ops x (key+value))
 * is only meaningful for write workloads (0 for reads). Follow a write workload with
 * waitforcompaction to include the background work it caused: that work's bytes are added to
 * the preceding write workload's wamp. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lsm.h"

typedef struct bench_flags {
    char benchmarks[512];
    char db[1024];
    long long num, reads;
    int key_size, value_size;
    double compression_ratio;
    int compression;
    long long cache_size, write_buffer_size, block_size, target_file_size, level1_max_bytes;
    int bloom_bits, max_immutable, level_multiplier, l0_trigger, l0_slowdown;
    int sync, commit_every, seek_nexts, use_existing_db, compaction_threads;
    unsigned long long seed;
} bench_flags;

static bench_flags F = {
    .benchmarks = "fillseq,fillrandom,overwrite,waitforcompaction,readrandom,readseq,seekrandom",
    .db = "",
    .num = 1000000,
    .reads = -1,
    .key_size = 16,
    .value_size = 100,
    .compression_ratio = 0.5,
    .compression = 1,
    .cache_size = 64ll << 20,
    .write_buffer_size = 64ll << 20,
    .block_size = 4096,
    .target_file_size = 64ll << 20,
    .level1_max_bytes = 256ll << 20,
    .bloom_bits = 10,
    .max_immutable = 1,
    .level_multiplier = 10,
    .l0_trigger = 4,
    .l0_slowdown = 20,
    .sync = 0,
    .commit_every = 1,
    .seek_nexts = 10,
    .use_existing_db = 0,
    .compaction_threads = 1,
    .seed = 301,
};

static void usage(void)
{
    fprintf(stderr,
            "usage: engine_bench [--flag=value ...]\n"
            "  --benchmarks=%s\n"
            "  --db=DIR (default: a temp dir, removed at exit)  --use_existing_db=0|1\n"
            "  --num=%lld --reads=N(default num) --key_size=%d --value_size=%d\n"
            "  --compression_type=lz4|none --compression_ratio=%.2f\n"
            "  --cache_size=%lld --bloom_bits=%d --block_size=%lld\n"
            "  --write_buffer_size=%lld --max_write_buffer_number=%d (immutable memtables + 1)\n"
            "  --target_file_size_base=%lld --max_bytes_for_level_base=%lld\n"
            "  --max_bytes_for_level_multiplier=%d --level0_file_num_compaction_trigger=%d\n"
            "  --level0_slowdown_writes_trigger=%d --compaction_threads=%d\n"
            "  --sync=0|1 --commit_every=%d --seek_nexts=%d --seed=%llu\n",
            F.benchmarks, F.num, F.key_size, F.value_size, F.compression_ratio, F.cache_size,
            F.bloom_bits, F.block_size, F.write_buffer_size, F.max_immutable + 1,
            F.target_file_size, F.level1_max_bytes, F.level_multiplier, F.l0_trigger,
            F.l0_slowdown, F.compaction_threads, F.commit_every, F.seek_nexts, F.seed);
}

static int parse_flag(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return -1;
    const char *eq = strchr(arg, '=');
    if (eq == NULL)
        return -1;
    size_t nl = (size_t)(eq - arg - 2);
    const char *name = arg + 2, *val = eq + 1;
#define IS(s) (nl == strlen(s) && strncmp(name, s, nl) == 0)
    if (IS("benchmarks"))
        snprintf(F.benchmarks, sizeof F.benchmarks, "%s", val);
    else if (IS("db"))
        snprintf(F.db, sizeof F.db, "%s", val);
    else if (IS("num"))
        F.num = atoll(val);
    else if (IS("reads"))
        F.reads = atoll(val);
    else if (IS("key_size"))
        F.key_size = atoi(val);
    else if (IS("value_size"))
        F.value_size = atoi(val);
    else if (IS("compression_ratio"))
        F.compression_ratio = atof(val);
    else if (IS("compression_type"))
        F.compression = strcmp(val, "none") != 0;
    else if (IS("cache_size"))
        F.cache_size = atoll(val);
    else if (IS("bloom_bits"))
        F.bloom_bits = atoi(val);
    else if (IS("block_size"))
        F.block_size = atoll(val);
    else if (IS("write_buffer_size"))
        F.write_buffer_size = atoll(val);
    else if (IS("max_write_buffer_number"))
        F.max_immutable = atoi(val) - 1;
    else if (IS("target_file_size_base"))
        F.target_file_size = atoll(val);
    else if (IS("max_bytes_for_level_base"))
        F.level1_max_bytes = atoll(val);
    else if (IS("max_bytes_for_level_multiplier"))
        F.level_multiplier = atoi(val);
    else if (IS("level0_file_num_compaction_trigger"))
        F.l0_trigger = atoi(val);
    else if (IS("level0_slowdown_writes_trigger"))
        F.l0_slowdown = atoi(val);
    else if (IS("compaction_threads"))
        F.compaction_threads = atoi(val);
    else if (IS("sync"))
        F.sync = atoi(val);
    else if (IS("commit_every"))
        F.commit_every = atoi(val);
    else if (IS("seek_nexts"))
        F.seek_nexts = atoi(val);
    else if (IS("use_existing_db"))
        F.use_existing_db = atoi(val);
    else if (IS("seed"))
        F.seed = strtoull(val, NULL, 10);
    else
        return -1;
#undef IS
    return 0;
}

/* ---- db_bench-like generators --------------------------------------------------------------- */

typedef struct rng { uint64_t s; } rng;
static void rng_seed(rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}
static uint64_t rng_next(rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* db_bench's GenerateKeyFromInt: 8 bytes big-endian, then '0' padding to key_size. */
static void make_key(char *k, uint64_t v)
{
    int n = F.key_size < 8 ? F.key_size : 8;
    for (int i = 0; i < n; i++)
        k[i] = (char)((v >> ((n - i - 1) * 8)) & 0xff);
    if (F.key_size > n)
        memset(k + n, '0', (size_t)(F.key_size - n));
}

/* db_bench's RandomGenerator: >= 1 MiB of 100-byte pieces, each made of
 * 100 x compression_ratio random printable characters repeated to 100 bytes. */
typedef struct value_gen {
    char *data;
    size_t size, pos;
} value_gen;

static void value_gen_init(value_gen *g, uint64_t seed)
{
    size_t want = 1u << 20;
    if ((size_t)F.value_size > want)
        want = (size_t)F.value_size;
    g->data = malloc(want + 100);
    g->size = 0;
    g->pos = 0;
    rng r;
    rng_seed(&r, seed);
    while (g->size < want) {
        int raw = (int)(100 * F.compression_ratio);
        if (raw < 1)
            raw = 1;
        char piece[100];
        for (int i = 0; i < raw && i < 100; i++)
            piece[i] = (char)(' ' + rng_next(&r) % 95);
        for (int i = raw; i < 100; i++)
            piece[i] = piece[i % raw];
        memcpy(g->data + g->size, piece, 100);
        g->size += 100;
    }
}

static const char *value_gen_next(value_gen *g, size_t len)
{
    if (g->pos + len > g->size)
        g->pos = 0;
    g->pos += len;
    return g->data + g->pos - len;
}

/* ---- engine plumbing ------------------------------------------------------------------------ */

static lsm_t *db;
static int tmp_db;

static void quiet_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level >= 3)
        fprintf(stderr, "[engine] %s\n", msg);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "engine_bench: %s: %s (%s)\n", what, lsm_strerror(rc),
            db ? lsm_last_error(db) : lsm_last_error(NULL));
    exit(1);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void open_db(void)
{
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = (size_t)F.write_buffer_size;
    o.max_immutable_memtables = F.max_immutable < 1 ? 1 : F.max_immutable;
    o.block_cache_size = (size_t)F.cache_size;
    o.block_size = (size_t)F.block_size;
    o.bloom_bits_per_key = F.bloom_bits;
    o.compression = F.compression;
    o.l0_compaction_trigger = F.l0_trigger;
    o.l0_slowdown_trigger = F.l0_slowdown;
    o.level1_max_bytes = (uint64_t)F.level1_max_bytes;
    o.level_multiplier = F.level_multiplier;
    o.target_file_size = (uint64_t)F.target_file_size;
    o.compaction_threads = F.compaction_threads;
    o.sync_mode = F.sync ? LSM_SYNC_ALWAYS : LSM_SYNC_NO;
    o.log_fn = quiet_log;
    int rc = lsm_open(F.db, &o, &db);
    if (rc != 0)
        die("lsm_open", rc);
}

static void close_db(void)
{
    if (db) {
        int rc = lsm_close(db);
        db = NULL;
        if (rc != 0)
            die("lsm_close", rc);
    }
}

static void fresh_db(void)
{
    close_db();
    nftw(F.db, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(F.db, 0755) != 0 && errno != EEXIST) {
        perror(F.db);
        exit(1);
    }
    open_db();
}

static void poll_once(int timeout_ms)
{
    struct pollfd p = { .fd = lsm_event_fd(db), .events = POLLIN, .revents = 0 };
    if (p.fd >= 0)
        poll(&p, 1, timeout_ms);
    int rc = lsm_poll(db);
    if (rc < 0)
        die("lsm_poll (background job failed)", rc);
}

static void wait_unstalled(void)
{
    while (lsm_write_stalled(db))
        poll_once(10);
}

static void wait_idle(void)
{
    int quiet = 0;
    while (quiet < 3) {
        poll_once(quiet ? 5 : 20);
        lsm_stats s;
        lsm_get_stats(db, &s);
        if (s.running_flushes == 0 && s.running_compactions == 0 && s.immutable_memtables == 0)
            quiet++;
        else
            quiet = 0;
    }
}

/* ---- workloads ---------------------------------------------------------------------------- */

typedef struct result {
    long long ops, found;
    double secs;
    uint64_t user_bytes;
    int is_write;
    uint64_t bg_before; /* flush + compaction bytes at start */
} result;

static uint64_t bg_bytes(void)
{
    lsm_stats s;
    lsm_get_stats(db, &s);
    return s.flush_bytes_written + s.compaction_bytes_written;
}

static void do_write(result *r, int sequential, uint64_t seed)
{
    value_gen g;
    value_gen_init(&g, F.seed);
    rng rr;
    rng_seed(&rr, seed);
    char k[256];
    double t0 = now_sec();
    for (long long i = 0; i < F.num; i++) {
        uint64_t v = sequential ? (uint64_t)i : rng_next(&rr) % (uint64_t)F.num;
        make_key(k, v);
        int rc = lsm_put(db, k, (size_t)F.key_size, value_gen_next(&g, (size_t)F.value_size),
                         (size_t)F.value_size);
        if (rc != 0)
            die("lsm_put", rc);
        if ((i + 1) % F.commit_every == 0) {
            rc = lsm_commit(db);
            if (rc != 0)
                die("lsm_commit", rc);
            if (lsm_write_stalled(db))
                wait_unstalled();
        }
        if (i % 1024 == 1023)
            poll_once(0);
    }
    int rc = lsm_commit(db);
    if (rc != 0)
        die("lsm_commit", rc);
    r->secs = now_sec() - t0;
    r->ops = F.num;
    r->found = F.num;
    r->is_write = 1;
    r->user_bytes = (uint64_t)F.num * (uint64_t)(F.key_size + F.value_size);
    free(g.data);
}

static void do_readrandom(result *r, uint64_t seed)
{
    rng rr;
    rng_seed(&rr, seed);
    char k[256];
    lsm_buf b = {0};
    long long found = 0;
    double t0 = now_sec();
    for (long long i = 0; i < F.reads; i++) {
        make_key(k, rng_next(&rr) % (uint64_t)F.num);
        int rc = lsm_get(db, k, (size_t)F.key_size, &b);
        if (rc == 0)
            found++;
        else if (rc != LSM_ENOTFOUND)
            die("lsm_get", rc);
        if (i % 1024 == 1023)
            poll_once(0);
    }
    r->secs = now_sec() - t0;
    r->ops = F.reads;
    r->found = found;
    lsm_buf_free(&b);
}

static void do_readseq(result *r)
{
    double t0 = now_sec();
    lsm_iter *it = lsm_iter_new(db);
    long long n = 0;
    size_t bytes = 0;
    for (lsm_iter_seek_first(it); n < F.reads && lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        (void)lsm_iter_key(it, &kl);
        (void)lsm_iter_value(it, &vl);
        bytes += kl + vl;
        n++;
    }
    if (lsm_iter_status(it) != 0)
        die("iterator", lsm_iter_status(it));
    lsm_iter_free(it);
    r->secs = now_sec() - t0;
    r->ops = n;
    r->found = n;
    (void)bytes;
}

/* readseq backward: seek_last, then prev (the newest version of a key is the last one met
 * walking backward, so each step copies key and value out: see lsm.h). */
static void do_readreverse(result *r)
{
    double t0 = now_sec();
    lsm_iter *it = lsm_iter_new(db);
    long long n = 0;
    size_t bytes = 0;
    for (lsm_iter_seek_last(it); n < F.reads && lsm_iter_valid(it); lsm_iter_prev(it)) {
        size_t kl, vl;
        (void)lsm_iter_key(it, &kl);
        (void)lsm_iter_value(it, &vl);
        bytes += kl + vl;
        n++;
    }
    if (lsm_iter_status(it) != 0)
        die("iterator", lsm_iter_status(it));
    lsm_iter_free(it);
    r->secs = now_sec() - t0;
    r->ops = n;
    r->found = n;
    (void)bytes;
}

static void do_seekrandom(result *r, uint64_t seed, int reverse)
{
    rng rr;
    rng_seed(&rr, seed);
    char k[256];
    static char value_copy[1024];
    size_t copied = 0;
    long long found = 0;
    double t0 = now_sec();
    lsm_iter *it = lsm_iter_new(db);
    for (long long i = 0; i < F.reads; i++) {
        make_key(k, rng_next(&rr) % (uint64_t)F.num);
        if (reverse)
            lsm_iter_seek_for_prev(it, k, (size_t)F.key_size);
        else
            lsm_iter_seek(it, k, (size_t)F.key_size);
        if (lsm_iter_valid(it)) {
            size_t kl;
            const char *ik = lsm_iter_key(it, &kl);
            if (kl == (size_t)F.key_size && memcmp(ik, k, kl) == 0)
                found++;
        }
        /* as db_bench: copy out each value visited by the nexts, then Next */
        for (int j = 0; j < F.seek_nexts && lsm_iter_valid(it); j++) {
            size_t vl;
            const char *iv = lsm_iter_value(it, &vl);
            memcpy(value_copy, iv, vl < sizeof value_copy ? vl : sizeof value_copy);
            copied += vl;
            if (reverse)
                lsm_iter_prev(it);
            else
                lsm_iter_next(it);
        }
        if (i % 1024 == 1023) {
            /* like db_bench's seekrandom, one iterator is reused; refresh it now and then so
             * it does not pin an old version forever while background work goes on */
            if (i % (1024 * 64) == 1024 * 64 - 1) {
                lsm_iter_free(it);
                poll_once(0);
                it = lsm_iter_new(db);
            }
        }
    }
    if (lsm_iter_status(it) != 0)
        die("iterator", lsm_iter_status(it));
    lsm_iter_free(it);
    r->secs = now_sec() - t0;
    r->ops = F.reads;
    r->found = found;
    if (copied == 1)
        putchar(value_copy[0]); /* keep the copies observable */
}

/* Prints the result lines of one workload. after_wait: this is the second report of a write
 * workload, after waitforcompaction (its w-amp includes the background work it caused). */
static void report(const char *name, result *r, uint64_t bg_after, int after_wait)
{
    double ops_sec = r->secs > 0 ? (double)r->ops / r->secs : 0;
    double us = r->ops > 0 ? r->secs * 1e6 / (double)r->ops : 0;
    double mb = (double)r->ops * (F.key_size + F.value_size) / 1048576.0 / (r->secs > 0 ? r->secs
                                                                                     : 1);
    uint64_t bg = bg_after - r->bg_before;
    double wamp = r->is_write && r->user_bytes ? (double)bg / (double)r->user_bytes : 0;
    lsm_stats s;
    lsm_get_stats(db, &s);
    printf("%-12s : %11.3f micros/op %.0f ops/sec %.3f seconds %lld operations; %6.1f MB/s",
           name, us, ops_sec, r->secs, r->ops, mb);
    if (!r->is_write && strcmp(name, "readseq") != 0 && strcmp(name, "readreverse") != 0)
        printf(" (%lld of %lld found)", r->found, r->ops);
    if (r->is_write)
        printf(" w-amp %.2f%s", wamp, after_wait ? " (incl. the compactions it caused)" : "");
    printf("\n");
    printf("RESULT %s ops_per_sec=%.0f micros_per_op=%.3f found=%lld wamp=%.3f flush_bytes=%"
           PRIu64 " compaction_bytes=%" PRIu64 " user_bytes=%" PRIu64 "\n", name, ops_sec, us,
           r->found, wamp, s.flush_bytes_written, s.compaction_bytes_written, r->user_bytes);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (parse_flag(argv[i]) != 0) {
            fprintf(stderr, "engine_bench: unknown or malformed flag %s\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (F.reads < 0)
        F.reads = F.num;
    if (F.num <= 0 || F.key_size < 8 || F.key_size > 255 || F.value_size < 0 ||
        F.commit_every < 1) {
        fprintf(stderr, "engine_bench: bad --num/--key_size(8..255)/--value_size/--commit_every\n");
        return 2;
    }
    if (F.db[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(F.db, sizeof F.db, "%s/kevo-engine-bench-XXXXXX", t && *t ? t : "/tmp");
        if (mkdtemp(F.db) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        tmp_db = 1;
    } else if (!F.use_existing_db) {
        mkdir(F.db, 0755);
    }
    printf("Kevo engine_bench: keys %d bytes, values %d bytes (compression ratio %.2f, %s), "
           "%lld entries\n", F.key_size, F.value_size, F.compression_ratio,
           F.compression ? "lz4" : "no compression", F.num);
    printf("memtable %lld MiB x %d, cache %lld MiB, bloom %d bits, block %lld, sync %s, commit "
           "every %d write(s), db %s\n", F.write_buffer_size >> 20, F.max_immutable + 1,
           F.cache_size >> 20, F.bloom_bits, F.block_size, F.sync ? "always" : "no",
           F.commit_every, F.db);
    fflush(stdout);

    char list[512];
    snprintf(list, sizeof list, "%s", F.benchmarks);
    result last_write = {0};
    char last_write_name[64] = "";
    int opened = 0, idx = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name != NULL;
         name = strtok_r(NULL, ",", &save), idx++) {
        uint64_t seed = F.seed + (uint64_t)idx * 1000003u;
        int is_fill = strcmp(name, "fillseq") == 0 || strcmp(name, "fillrandom") == 0;
        if (is_fill && !F.use_existing_db) {
            fresh_db();
            opened = 1;
        } else if (!opened) {
            open_db();
            opened = 1;
        }
        result r = {0};
        r.bg_before = bg_bytes();
        if (strcmp(name, "fillseq") == 0) {
            do_write(&r, 1, seed);
        } else if (strcmp(name, "fillrandom") == 0 || strcmp(name, "overwrite") == 0) {
            do_write(&r, 0, seed);
        } else if (strcmp(name, "readrandom") == 0) {
            do_readrandom(&r, seed);
        } else if (strcmp(name, "readseq") == 0) {
            do_readseq(&r);
        } else if (strcmp(name, "readreverse") == 0) {
            do_readreverse(&r);
        } else if (strcmp(name, "seekrandom") == 0) {
            do_seekrandom(&r, seed, 0);
        } else if (strcmp(name, "seekrandomprev") == 0) {
            do_seekrandom(&r, seed, 1);
        } else if (strcmp(name, "waitforcompaction") == 0 || strcmp(name, "flush") == 0) {
            double t0 = now_sec();
            if (strcmp(name, "flush") == 0) {
                int rc = lsm_flush(db, 1);
                if (rc != 0)
                    die("lsm_flush", rc);
            }
            wait_idle();
            printf("%s: %.1f s\n", name, now_sec() - t0);
            if (last_write_name[0]) {
                /* the background work belongs to the preceding write workload */
                report(last_write_name, &last_write, bg_bytes(), 1);
            }
            last_write_name[0] = '\0';
            continue;
        } else {
            fprintf(stderr, "engine_bench: unknown benchmark %s\n", name);
            close_db();
            return 2;
        }
        report(name, &r, bg_bytes(), 0);
        if (r.is_write) {
            last_write = r;
            snprintf(last_write_name, sizeof last_write_name, "%s", name);
        } else {
            last_write_name[0] = '\0';
        }
    }
    lsm_stats s;
    if (db) {
        lsm_get_stats(db, &s);
        printf("levels (files):");
        for (int l = 0; l < LSM_MAX_LEVELS; l++)
            printf(" %d", s.level_files[l]);
        printf("; flushes %" PRIu64 ", compactions %" PRIu64 ", stalls %" PRIu64 " (%.1f s), "
               "bloom useful %" PRIu64 "/%" PRIu64 ", cache hits %" PRIu64 " misses %" PRIu64
               "\n", s.flushes, s.compactions, s.stall_count, (double)s.stall_micros / 1e6,
               s.bloom_useful, s.bloom_checks, s.cache_hits, s.cache_misses);
    }
    close_db();
    if (tmp_db)
        nftw(F.db, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
