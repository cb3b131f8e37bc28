/* test_block_alloc.c - the block allocator: every size works and keeps its bytes, slab sizes
 * round up by at most one step, footprints are what the cache is charged, emptied slabs go
 * back, two threads allocating and freeing at once never share a slot, and the stock hands out
 * slab memory already faulted in and takes emptied slabs back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "block_alloc.h"

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int intact(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

Test(block_alloc, every_size_keeps_its_bytes_and_is_16_aligned) {
    enum { N = 600 };
    static unsigned char *p[N];
    static size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)i * 61 + (i % 3 ? 0 : 20000); /* 0 .. 36 KiB and beyond 16 KiB */
        p[i] = block_alloc(sz[i]);
        cr_assert_not_null(p[i]);
        cr_assert_eq((uintptr_t)p[i] % 16, 0);
        fill(p[i], sz[i], (unsigned)i);
    }
    for (int i = 0; i < N; i += 2) block_free(p[i]); /* half freed, then reused */
    for (int i = 0; i < N; i += 2) {
        p[i] = block_alloc(sz[i]);
        fill(p[i], sz[i], (unsigned)i);
    }
    for (int i = 0; i < N; i++) {
        cr_assert(intact(p[i], sz[i], (unsigned)i), "allocation %d (%zu bytes) overwritten", i, sz[i]);
        cr_assert_geq(block_alloc_footprint(p[i]), sz[i]);
        block_free(p[i]);
    }
    block_free(NULL);
}

Test(block_alloc, a_4k_block_rounds_up_by_less_than_one_step) {
    /* a 4 KiB block of four 1 KiB records with its header: ~4.2 KiB; malloc would take 5 KiB */
    for (size_t n = 2100; n <= 16000; n += 37) {
        void *p = block_alloc(n);
        size_t f = block_alloc_footprint(p);
        cr_assert_geq(f, n + 16);
        cr_assert_leq(f, n + 16 + BLOCK_ALLOC_STEP, "%zu bytes take %zu", n, f);
        block_free(p);
    }
}

Test(block_alloc, emptied_slabs_are_given_back) {
    block_alloc_stats before, full, after;
    block_alloc_get_stats(&before);
    enum { N = 3000 };
    static void *p[N];
    for (int i = 0; i < N; i++) p[i] = block_alloc(4221); /* ~12 MB: about 100 slabs */
    block_alloc_get_stats(&full);
    cr_assert_geq(full.slabs, before.slabs + 90);
    cr_assert_geq(full.used_bytes, before.used_bytes + (size_t)N * 4237);
    for (int i = 0; i < N; i++) block_free(p[i]);
    block_alloc_get_stats(&after);
    cr_assert_leq(after.slabs, before.slabs + 1, "slabs kept: %zu before, %zu after", before.slabs,
                  after.slabs);
    cr_assert_eq(after.used_bytes, before.used_bytes);
}

static void *churn(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    enum { K = 256 };
    unsigned char *p[K] = {0};
    size_t sz[K] = {0};
    unsigned tag[K] = {0};
    for (int round = 0; round < 40000; round++) {
        int k = (int)(rand_r(&seed) % K);
        if (p[k]) {
            if (!intact(p[k], sz[k], tag[k])) return (void *)1;
            block_free(p[k]);
        }
        sz[k] = 3000 + rand_r(&seed) % 3000;
        p[k] = block_alloc(sz[k]);
        if (!p[k]) return (void *)1;
        tag[k] = (unsigned)rand_r(&seed);
        fill(p[k], sz[k], tag[k]);
    }
    for (int k = 0; k < K; k++) {
        if (p[k] && !intact(p[k], sz[k], tag[k])) return (void *)1;
        block_free(p[k]);
    }
    return NULL;
}

Test(block_alloc, two_threads_never_share_a_slot) {
    pthread_t a, b;
    pthread_create(&a, NULL, churn, (void *)(uintptr_t)1);
    pthread_create(&b, NULL, churn, (void *)(uintptr_t)2);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert_null(ra, "thread 1 found its bytes overwritten");
    cr_assert_null(rb, "thread 2 found its bytes overwritten");
}

/* ---- the stock (block_alloc_stock_start) ---- */

#define SLAB_BYTES (128u << 10)

static block_alloc_stats stats_now(void) {
    block_alloc_stats st;
    block_alloc_get_stats(&st);
    return st;
}

/* Waits (up to 5 s) until the stock holds at least bytes. */
static int stock_reaches(size_t bytes) {
    for (int i = 0; i < 5000; i++) {
        if (stats_now().stock_bytes >= bytes) return 1;
        usleep(1000);
    }
    return 0;
}

static long thread_minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

Test(block_alloc, the_stock_hands_out_slabs_already_faulted_in) {
    block_alloc_stock_start(0);
    cr_assert(stock_reaches(32 * (size_t)SLAB_BYTES), "the thread stocked %zu bytes",
              stats_now().stock_bytes);
    block_alloc_stats before = stats_now();
    /* 16 slabs' worth of 4 KiB blocks (30 per slab), every byte written, as the cache does */
    enum { N = 16 * 30 };
    static void *p[N];
    long faults = thread_minor_faults();
    for (int i = 0; i < N; i++) {
        p[i] = block_alloc(4200);
        cr_assert_not_null(p[i]);
        fill(p[i], 4200, (unsigned)i);
    }
    faults = thread_minor_faults() - faults;
    block_alloc_stats full = stats_now();
    size_t made = full.slabs - before.slabs;
    cr_assert_geq(made, 15, "slabs made: %zu", made);
    cr_assert_geq(full.stock_taken - before.stock_taken, made, "from the stock: %llu of %zu",
                  (unsigned long long)(full.stock_taken - before.stock_taken), made);
    cr_assert_eq(full.stock_missed, before.stock_missed);
    /* 2 MiB written: 512 pages, which fresh memory would fault in one by one (not under
     * ThreadSanitizer: its shadow of the slabs is faulted in by the thread that writes them) */
#if !defined(__SANITIZE_THREAD__)
    cr_assert_lt(faults, 64, "%ld page faults writing %zu stocked slabs", faults, made);
#else
    (void)faults;
#endif
    for (int i = 0; i < N; i++) {
        cr_assert(intact(p[i], 4200, (unsigned)i), "block %d overwritten", i);
        block_free(p[i]);
    }
    /* the emptied slabs' buffers went back to the stock, not to malloc */
    block_alloc_stats after = stats_now();
    cr_assert_leq(after.slabs, before.slabs + 1);
    cr_assert_geq(after.stock_bytes, full.stock_bytes + (made - 1) * (size_t)SLAB_BYTES,
                  "stock %zu bytes when full, %zu after freeing %zu slabs", full.stock_bytes,
                  after.stock_bytes, made);
    cr_assert_leq(after.stock_bytes, 64 * (size_t)SLAB_BYTES, "the stock is bounded");
}

Test(block_alloc, a_stopped_stock_frees_its_buffers_and_slabs_come_from_malloc) {
    block_alloc_stock_start(0);
    cr_assert(stock_reaches(32 * (size_t)SLAB_BYTES));
    block_alloc_stock_stop();
    block_alloc_stats st = stats_now();
    cr_assert_eq(st.stock_bytes, 0);
    enum { N = 8 * 30 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = block_alloc(4200);
        cr_assert_not_null(p[i]);
        fill(p[i], 4200, (unsigned)i);
    }
    block_alloc_stats full = stats_now();
    cr_assert_eq(full.stock_taken, st.stock_taken);
    cr_assert_eq(full.stock_missed, st.stock_missed, "a stopped stock counts no misses");
    for (int i = 0; i < N; i++) {
        cr_assert(intact(p[i], 4200, (unsigned)i));
        block_free(p[i]);
    }
    cr_assert_eq(stats_now().stock_bytes, 0, "emptied slabs go back to malloc");
}
