/* engine_test_util.h - helpers shared by the engine's whole-system tests (test_engine_*.c).
 *
 * Everything here uses the public engine API (lsm.h) only, plus POSIX. Header-only (static
 * inline), so each test binary stays one translation unit.
 *
 *   etu_tmpdir / etu_rmrf / etu_copy_dir   temporary DB directories
 *   etu_small_options                      options that make flush and compaction run often
 *   etu_env_u64                            test knobs from the environment (KEVO_*)
 *   etu_rng_*                              a seeded xorshift generator (reproducible failures)
 *   etu_wait_*                             lsm_poll loops that honor lsm_write_stalled()
 *   etu_newest_log                         the highest-numbered <n>.log file in a DB dir
 *
 * Thread: the calling (owner) thread only. Nothing here is safe across threads. */
#ifndef KEVO_ENGINE_TEST_UTIL_H
#define KEVO_ENGINE_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* ETU_SANITIZED is 1 under AddressSanitizer or ThreadSanitizer (slower; RSS meaningless). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ETU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ETU_SANITIZED 1
#else
#define ETU_SANITIZED 0
#endif
#else
#define ETU_SANITIZED 0
#endif

/* ---- environment knobs ---------------------------------------------------------------- */

/* Value of environment variable name parsed as an unsigned integer (decimal, or with a k/m/g
 * binary suffix), or def when unset or unparsable. */
static inline uint64_t etu_env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s)
        return def;
    switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    default: break;
    }
    return (uint64_t)v;
}

/* ---- random numbers (xorshift64*) --------------------------------------------------------- */

typedef struct etu_rng { uint64_t s; } etu_rng;

static inline void etu_rng_init(etu_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (r->s == 0)
        r->s = 1;
}

static inline uint64_t etu_rng_next(etu_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t etu_rng_below(etu_rng *r, uint64_t n)
{
    return etu_rng_next(r) % n;
}

/* The seed of a test: KEVO_SEED when set, else def. */
static inline uint64_t etu_seed(uint64_t def)
{
    return etu_env_u64("KEVO_SEED", def);
}

/* ---- directories ---------------------------------------------------------------------------- */

/* Creates a fresh empty directory $TMPDIR/kevo-<tag>-XXXXXX into buf (size n >= 64).
 * Returns buf, or NULL on failure. The caller removes it with etu_rmrf. */
static inline char *etu_tmpdir(char *buf, size_t n, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    int w = snprintf(buf, n, "%s/kevo-%s-XXXXXX", base, tag);
    if (w < 0 || (size_t)w >= n)
        return NULL;
    return mkdtemp(buf);
}

static inline int etu_rmrf_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* rm -rf path. Returns 0 or -1. A missing path is not an error. */
static inline int etu_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    return nftw(path, etu_rmrf_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int etu_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        ssize_t off = 0;
        while (off < r) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc != 0)
            break;
    }
    close(in);
    if (close(out) != 0)
        rc = -1;
    return rc;
}

/* Copies every regular file of directory src into directory dst (created if needed; files in
 * dst that src does not have are left alone, so pass a fresh dst). Returns 0 or -1. */
static inline int etu_copy_dir(const char *src, const char *dst)
{
    if (mkdir(dst, 0755) != 0 && errno != EEXIST)
        return -1;
    DIR *d = opendir(src);
    if (d == NULL)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", src, e->d_name);
        snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
        struct stat st;
        if (stat(a, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (etu_copy_file(a, b) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Writes the path of the highest-numbered "<digits>.log" file of dir into out (size n).
 * Returns its number, or -1 when there is none. */
static inline long long etu_newest_log(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (len < 5 || strcmp(name + len - 4, ".log") != 0)
            continue;
        int digits = 1;
        for (size_t i = 0; i + 4 < len; i++)
            if (name[i] < '0' || name[i] > '9')
                digits = 0;
        if (!digits)
            continue;
        long long num = strtoll(name, NULL, 10);
        if (num > best) {
            best = num;
            /* out = dir "/" name, truncated to n - 1 bytes */
            size_t dl = strlen(dir), w = 0;
            for (size_t i = 0; i < dl && w + 1 < n; i++)
                out[w++] = dir[i];
            if (w + 1 < n)
                out[w++] = '/';
            for (size_t i = 0; i < len && w + 1 < n; i++)
                out[w++] = name[i];
            if (n > 0)
                out[w] = '\0';
        }
    }
    closedir(d);
    return best;
}

/* The largest file number in dir: of "<digits>.<ext>" names and "MANIFEST-<digits>".
 * -1 when there is none. */
static inline long long etu_max_file_number(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *p = e->d_name;
        if (strncmp(p, "MANIFEST-", 9) == 0)
            p += 9;
        if (*p < '0' || *p > '9')
            continue;
        long long num = strtoll(p, NULL, 10);
        if (num > best)
            best = num;
    }
    closedir(d);
    return best;
}

/* Number of files in dir whose name ends with suffix. */
static inline int etu_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int count = 0;
    size_t sl = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0)
            count++;
    }
    closedir(d);
    return count;
}

static inline long long etu_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_size;
}

/* ---- options ----------------------------------------------------------------------------- */

/* Engine log sink for tests: warnings go to stderr with a prefix, the rest is dropped (set
 * KEVO_TEST_VERBOSE=1 to see everything). */
static inline void etu_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    static int verbose = -1;
    if (verbose < 0)
        verbose = (int)etu_env_u64("KEVO_TEST_VERBOSE", 0);
    if (level >= 3 || verbose)
        fprintf(stderr, "[engine %d] %s\n", level, msg);
}

/* Defaults, shrunk so that a few hundred KiB of writes already flush and compact:
 * memtable 128 KiB, 4 KiB blocks, 64 KiB target files, L1 256 KiB, 1 MiB cache, sync NO. */
static inline void etu_small_options(lsm_options *o)
{
    lsm_options_init(o);
    o->memtable_size = 128 << 10;
    o->max_immutable_memtables = 2;
    o->block_cache_size = 1 << 20;
    o->block_size = 4096;
    o->target_file_size = 64 << 10;
    o->level1_max_bytes = 256 << 10;
    o->level_multiplier = 4;
    o->l0_compaction_trigger = 4;
    o->sync_mode = LSM_SYNC_NO;
    o->log_fn = etu_log;
    o->log_ctx = NULL;
}

/* ---- waiting on background work ---------------------------------------------------------- */

/* One step of a server-like loop: wait up to timeout_ms for the engine's event fd, then
 * lsm_poll. Returns lsm_poll's result. */
static inline int etu_poll_once(lsm_t *db, int timeout_ms)
{
    struct pollfd p = { .fd = lsm_event_fd(db), .events = POLLIN, .revents = 0 };
    if (p.fd >= 0)
        (void)poll(&p, 1, timeout_ms);
    else
        usleep((useconds_t)timeout_ms * 1000u);
    return lsm_poll(db);
}

/* While lsm_write_stalled(db), wait on the event fd and lsm_poll (as the server does when it
 * stops reading from writing clients). Returns 0, or a negative lsm_poll error, or LSM_EBUSY
 * when still stalled after ~120 s (a stuck engine). */
static inline int etu_wait_unstalled(lsm_t *db)
{
    for (int i = 0; lsm_write_stalled(db); i++) {
        int rc = etu_poll_once(db, 50);
        if (rc < 0)
            return rc;
        if (i > 120 * 20)
            return LSM_EBUSY;
    }
    return 0;
}

/* Polls until no flush or compaction is running or pending (per lsm_get_stats) and lsm_poll
 * installs nothing more. Returns 0, a negative lsm_poll error, or LSM_EBUSY after ~120 s. */
static inline int etu_wait_idle(lsm_t *db)
{
    int quiet = 0;
    for (int i = 0; i < 120 * 20; i++) {
        int rc = etu_poll_once(db, quiet ? 5 : 50);
        if (rc < 0)
            return rc;
        lsm_stats st;
        lsm_get_stats(db, &st);
        if (rc == 0 && st.running_flushes == 0 && st.running_compactions == 0 &&
            st.immutable_memtables == 0) {
            if (++quiet >= 3)
                return 0;
        } else {
            quiet = 0;
        }
    }
    return LSM_EBUSY;
}

/* Polls until the engine accepts writes again after a failure (its background repair), up to
 * ~10 s. 0, or -1 if it did not repair. */
static inline int etu_wait_repaired(lsm_t *db)
{
    for (int i = 0; i < 1000; i++) {
        if (lsm_write_error(db, NULL) == 0)
            return 0;
        etu_poll_once(db, 10);
    }
    return -1;
}

/* ---- small conveniences ------------------------------------------------------------------- */

static inline int etu_put_str(lsm_t *db, const char *k, const char *v)
{
    return lsm_put(db, k, strlen(k), v, strlen(v));
}

/* lsm_get into b; returns the lsm_get code. */
static inline int etu_get_str(lsm_t *db, const char *k, lsm_buf *b)
{
    return lsm_get(db, k, strlen(k), b);
}

/* 1 when b holds exactly the len bytes at v. */
static inline int etu_buf_eq(const lsm_buf *b, const void *v, size_t len)
{
    return b->len == len && (len == 0 || memcmp(b->data, v, len) == 0);
}

/* Opens dir with o or returns NULL; the error is printed with lsm_last_error. */
static inline lsm_t *etu_open(const char *dir, const lsm_options *o)
{
    lsm_t *db = NULL;
    int rc = lsm_open(dir, o, &db);
    if (rc != 0) {
        fprintf(stderr, "lsm_open(%s): %s: %s\n", dir, lsm_strerror(rc), lsm_last_error(NULL));
        return NULL;
    }
    return db;
}

/* Monotonic milliseconds. */
static inline uint64_t etu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
