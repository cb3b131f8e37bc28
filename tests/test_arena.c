/* test_arena.c - bump allocator: alignment, block boundaries, large allocations, usage. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

Test(arena, empty_arena_uses_nothing) {
    arena a;
    arena_init(&a);
    cr_assert_eq(arena_memory_usage(&a), 0);
    arena_destroy(&a);
}

Test(arena, aligned_alloc_after_odd_sizes_is_aligned) {
    arena a;
    arena_init(&a);
    for (size_t i = 0; i < 20000; i++) {
        char *p = arena_alloc(&a, i % 13);
        cr_assert_not_null(p);
        void *q = arena_alloc_aligned(&a, 1 + i % 50);
        cr_assert_not_null(q);
        cr_assert_eq((uintptr_t)q % ARENA_ALIGN, 0);
    }
    arena_destroy(&a);
}

Test(arena, zero_size_alloc_returns_pointer) {
    arena a;
    arena_init(&a);
    cr_assert_not_null(arena_alloc(&a, 0));
    cr_assert_not_null(arena_alloc_aligned(&a, 0));
    arena_destroy(&a);
}

Test(arena, allocations_do_not_overlap_across_block_boundary) {
    arena a;
    arena_init(&a);
    enum { N = 3000, SZ = 200 }; /* 600 KB: crosses at least two blocks */
    char *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = arena_alloc(&a, SZ);
        memset(ptrs[i], i & 0xff, SZ);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < SZ; j++) cr_assert_eq((unsigned char)ptrs[i][j], (unsigned)(i & 0xff));
    size_t u = arena_memory_usage(&a);
    cr_assert_geq(u, (size_t)N * SZ);
    cr_assert_leq(u, (size_t)N * SZ + 2 * (ARENA_BLOCK_SIZE + 64));
    arena_destroy(&a);
    cr_assert_eq(arena_memory_usage(&a), 0);
}

Test(arena, usage_counts_block_after_first_small_alloc) {
    arena a;
    arena_init(&a);
    arena_alloc(&a, 1);
    size_t u1 = arena_memory_usage(&a);
    cr_assert_geq(u1, ARENA_BLOCK_SIZE);
    arena_alloc(&a, 100); /* same block: no growth */
    cr_assert_eq(arena_memory_usage(&a), u1);
    arena_destroy(&a);
}

Test(arena, large_allocation_that_does_not_fit_gets_own_block_and_keeps_current_block) {
    arena a;
    arena_init(&a);
    char *small1 = arena_alloc(&a, 16);
    char *fill = arena_alloc(&a, ARENA_BLOCK_SIZE - 1000); /* fits: same block, 984 bytes left */
    cr_assert_eq(fill, small1 + 16);
    size_t u1 = arena_memory_usage(&a);
    size_t big = ARENA_BLOCK_SIZE / 4 + 1;
    char *b = arena_alloc(&a, big);
    memset(b, 0xab, big);
    size_t u2 = arena_memory_usage(&a);
    cr_assert_geq(u2 - u1, big);
    cr_assert_lt(u2 - u1, big + 64); /* one block of exactly the requested size */
    char *small2 = arena_alloc(&a, 16); /* still served from the first block's remainder */
    cr_assert_eq(small2, fill + ARENA_BLOCK_SIZE - 1000);
    cr_assert_eq(arena_memory_usage(&a), u2);
    /* a multi-megabyte allocation also works */
    char *huge = arena_alloc_aligned(&a, 5u << 20);
    cr_assert_not_null(huge);
    cr_assert_eq((uintptr_t)huge % ARENA_ALIGN, 0);
    huge[(5u << 20) - 1] = 1;
    arena_destroy(&a);
}

Test(arena, exact_block_fill_then_next_alloc_starts_new_block) {
    arena a;
    arena_init(&a);
    size_t chunk = ARENA_BLOCK_SIZE / 4; /* not "large": served from blocks */
    for (int i = 0; i < 4; i++) arena_alloc(&a, chunk);
    size_t u = arena_memory_usage(&a);
    cr_assert_lt(u, 2 * (size_t)ARENA_BLOCK_SIZE); /* four quarters fit in one block */
    arena_alloc(&a, 1);
    cr_assert_gt(arena_memory_usage(&a), u);
    arena_destroy(&a);
}

#include "hugemem.h"

#include <unistd.h>

Test(arena, past_the_huge_threshold_blocks_are_2mib_and_data_survives) {
    arena a;
    arena_init(&a);
    enum { SZ = 1000 };
    size_t n = (ARENA_HUGE_AFTER + 3 * HUGEMEM_PAGE) / SZ; /* crosses into several huge blocks */
    char **ptrs = malloc(n * sizeof(*ptrs));
    size_t before_huge = 0, huge_blocks = 0;
    for (size_t i = 0; i < n; i++) {
        size_t u = arena_memory_usage(&a);
        ptrs[i] = arena_alloc_aligned(&a, SZ);
        cr_assert_not_null(ptrs[i]);
        cr_assert_eq((uintptr_t)ptrs[i] % ARENA_ALIGN, 0);
        memset(ptrs[i], (int)(i & 0xff), SZ);
        size_t grew = arena_memory_usage(&a) - u;
        if (grew == 0) continue;
        if (u < ARENA_HUGE_AFTER) {
            cr_assert_lt(grew, HUGEMEM_PAGE, "a small arena grows by small blocks");
            before_huge++;
        } else {
            cr_assert_eq(grew, HUGEMEM_PAGE, "past the threshold a block is one huge page");
            huge_blocks++;
        }
    }
    cr_assert_gt(before_huge, 1);
    cr_assert_geq(huge_blocks, 3);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < SZ; j += 97) cr_assert_eq((unsigned char)ptrs[i][j], (unsigned)(i & 0xff));
    /* a value bigger than a huge page gets its own block, freed by the same rule */
    char *big = arena_alloc(&a, 3 * HUGEMEM_PAGE);
    cr_assert_not_null(big);
    memset(big, 0x5a, 3 * HUGEMEM_PAGE);
    free(ptrs);
    arena_destroy(&a);
    cr_assert_eq(arena_memory_usage(&a), 0);
}

Test(hugemem, big_regions_are_zeroed_and_huge_page_aligned_small_ones_plain) {
    size_t sizes[] = {1, 4096, HUGEMEM_MIN - 1, HUGEMEM_MIN, HUGEMEM_MIN + 1, 5 * HUGEMEM_PAGE};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t sz = sizes[k];
        unsigned char *p = hugemem_alloc(sz);
        cr_assert_not_null(p);
        if (sz >= HUGEMEM_MIN) cr_assert_eq((uintptr_t)p % HUGEMEM_PAGE, 0);
        for (size_t i = 0; i < sz; i += 511) cr_assert_eq(p[i], 0);
        cr_assert_eq(p[sz - 1], 0);
        memset(p, 0xff, sz); /* every byte writable */
        hugemem_free(p, sz);
    }
    hugemem_free(NULL, HUGEMEM_MIN); /* no-op */
}

Test(hugemem, page_pool_keeps_freed_pages_up_to_its_limit_and_hands_them_out_again) {
    /* the limit is process-wide and only grows (another test may have raised it) */
    hugemem_pool_drain();
    hugemem_pool_reserve(2 * HUGEMEM_PAGE);
    size_t limit = hugemem_pool_limit();
    cr_assert_geq(limit, 2);
    hugemem_pool_reserve(HUGEMEM_PAGE);
    cr_assert_eq(hugemem_pool_limit(), limit, "never lowered");
    size_t n = limit + 1;
    char **p = malloc(n * sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i] = hugemem_page_get();
        cr_assert_not_null(p[i]);
        cr_assert_eq((uintptr_t)p[i] % HUGEMEM_PAGE, 0);
        p[i][0] = p[i][HUGEMEM_PAGE - 1] = (char)(0x40 + i % 64);
    }
    cr_assert_eq(hugemem_pool_pages(), 0);
    for (size_t i = 0; i < n; i++) hugemem_page_put(p[i]);
    cr_assert_eq(hugemem_pool_pages(), limit, "the last page is unmapped: the pool is full");
    /* last in, first out: the pooled pages come back, still mapped and writable */
    char *a = hugemem_page_get(), *b = hugemem_page_get();
    cr_assert(a == p[limit - 1] && b == p[limit - 2]);
    cr_assert_eq(a[HUGEMEM_PAGE - 1], (char)(0x40 + (limit - 1) % 64));
    memset(a, 0, HUGEMEM_PAGE);
    hugemem_page_put(a);
    hugemem_page_put(b);
    hugemem_pool_drain();
    cr_assert_eq(hugemem_pool_pages(), 0);
    char *c = hugemem_page_get(); /* pool empty: a fresh, zeroed page */
    cr_assert_not_null(c);
    for (size_t i = 0; i < HUGEMEM_PAGE; i += 4093) cr_assert_eq(c[i], 0);
    hugemem_page_put(c);
    cr_assert_eq(hugemem_pool_pages(), 1);
    hugemem_pool_drain();
    free(p);
}

Test(hugemem, a_zeroed_page_is_zero_even_when_the_pool_held_a_written_one) {
    hugemem_pool_drain();
    hugemem_pool_reserve(4 * HUGEMEM_PAGE);
    char *p = hugemem_page_get();
    cr_assert_not_null(p);
    memset(p, 0xa5, HUGEMEM_PAGE);
    hugemem_page_put(p);
    cr_assert_eq(hugemem_pool_pages(), 1);
    char *z = hugemem_page_get_zeroed();
    cr_assert_eq(z, p, "the pooled page is reused");
    cr_assert_eq(hugemem_pool_pages(), 0);
    for (size_t i = 0; i < HUGEMEM_PAGE; i += 8) cr_assert_eq(*(uint64_t *)(void *)(z + i), 0);
    char *f = hugemem_page_get_zeroed(); /* pool empty: a fresh page */
    cr_assert_not_null(f);
    for (size_t i = 0; i < HUGEMEM_PAGE; i += 4093) cr_assert_eq(f[i], 0);
    hugemem_page_put(z);
    hugemem_page_put(f);
    hugemem_pool_drain();
}

/* Waits up to ~5 s for the pool to hold want pages; returns what it holds. */
static size_t wait_pool(size_t want) {
    for (int i = 0; i < 500 && hugemem_pool_pages() != want; i++) usleep(10000);
    return hugemem_pool_pages();
}

Test(hugemem, prefill_stocks_the_pool_within_its_limit_and_budget_with_zero_pages) {
    /* limit and counters are process-wide: other tests of this process may have raised the
     * limit or hold pages, so the expectations are computed from what they are now */
    hugemem_pool_drain();
    hugemem_pool_reserve(4 * HUGEMEM_PAGE);
    size_t limit = hugemem_pool_limit();
    cr_assert_geq(limit, 4);
    char *held[3];
    for (int i = 0; i < 3; i++) cr_assert_not_null(held[i] = hugemem_page_get());
    size_t out = hugemem_pages_out();
    cr_assert_geq(out, 3);
    /* budget: what is out + 3, so the pool may hold 3 (below its limit) */
    hugemem_prefill_start((out + 3) * HUGEMEM_PAGE, 0);
    cr_assert_eq(wait_pool(3), 3, "filled up to the budget");
    usleep(50000);
    cr_assert_eq(hugemem_pool_pages(), 3, "and no further");
    /* prefilled pages are zero (they come first for a zeroed request) */
    char *z = hugemem_page_get_zeroed();
    for (size_t i = 0; i < HUGEMEM_PAGE; i += 8) cr_assert_eq(*(uint64_t *)(void *)(z + i), 0);
    /* one more out: the pool keeps 2 (out + 1 + 2 = the budget); pages given back are pooled */
    usleep(50000);
    cr_assert_eq(hugemem_pool_pages(), 2);
    hugemem_page_put(held[0]);
    hugemem_page_put(held[1]);
    cr_assert_eq(hugemem_pool_pages(), 4);
    /* a raised budget refills what a get takes, up to the limit */
    size_t budget = hugemem_pages_out() + 8;
    hugemem_prefill_start(budget * HUGEMEM_PAGE, 0);
    char *a = hugemem_page_get(), *b = hugemem_page_get();
    size_t want = budget - hugemem_pages_out();
    if (want > limit) want = limit;
    if (want > 16) want = 16; /* the prefill window */
    cr_assert_eq(wait_pool(want), want, "taken pages are replaced, within budget and limit");
    hugemem_prefill_stop();
    hugemem_page_put(a);
    hugemem_page_put(b);
    hugemem_page_put(z);
    hugemem_page_put(held[2]);
    cr_assert_leq(hugemem_pool_pages(), limit, "what comes back past the limit is unmapped");
    hugemem_pool_drain();
}

/* With prefill on, a page given back is kept past the pool's limit while everything mapped
 * (pooled + handed out) stays within the budget: an unmapped page would have to be faulted in
 * afresh by the prefill thread for the next memtable (in a VM, from the host). */
Test(hugemem, with_prefill_given_back_pages_stay_pooled_up_to_the_budget_past_the_limit) {
    hugemem_pool_drain();
    hugemem_pool_reserve(2 * HUGEMEM_PAGE);
    size_t limit = hugemem_pool_limit(), before = hugemem_pages_out();
    enum { EXTRA = 4 };
    size_t n = limit + EXTRA;
    char **held = calloc(n, sizeof(char *));
    cr_assert_not_null(held);
    for (size_t i = 0; i < n; i++) cr_assert_not_null(held[i] = hugemem_page_get());
    /* budget: two pages short of what is mapped now, so the prefill thread wants nothing */
    size_t budget = before + limit + EXTRA - 2;
    hugemem_prefill_start(budget * HUGEMEM_PAGE, 0);
    for (size_t i = 0; i < n; i++) hugemem_page_put(held[i]);
    cr_assert_eq(hugemem_pages_out(), before);
    cr_assert_eq(hugemem_pool_pages(), budget - before,
                 "kept up to the budget (%zu), past the limit (%zu)", budget - before, limit);
    cr_assert_gt(hugemem_pool_pages(), limit);
    /* without prefill the limit alone decides again: a page given back to a full pool goes */
    hugemem_prefill_stop();
    size_t pooled = hugemem_pool_pages();
    hugemem_page_put(hugemem_page_get());
    cr_assert_eq(hugemem_pool_pages(), pooled - 1);
    free(held);
    hugemem_pool_drain();
}

Test(arena, a_destroyed_big_arena_gives_its_huge_blocks_to_the_next_one) {
    hugemem_pool_drain();
    hugemem_pool_reserve(64 * HUGEMEM_PAGE);
    arena a;
    arena_init(&a);
    while (arena_memory_usage(&a) < ARENA_HUGE_AFTER + 4 * HUGEMEM_PAGE)
        memset(arena_alloc_aligned(&a, 4000), 0x33, 4000);
    arena_destroy(&a);
    size_t pooled = hugemem_pool_pages();
    cr_assert_geq(pooled, 4, "its 2 MiB blocks went to the pool (%zu)", pooled);
    arena_init(&a);
    while (arena_memory_usage(&a) < ARENA_HUGE_AFTER + 2 * HUGEMEM_PAGE) {
        char *q = arena_alloc_aligned(&a, 4000);
        cr_assert_not_null(q);
        memset(q, 0x44, 4000); /* a reused block's old bytes are simply overwritten */
        cr_assert_eq((unsigned char)q[3999], 0x44);
    }
    cr_assert_lt(hugemem_pool_pages(), pooled, "the new arena took pooled pages");
    arena_destroy(&a);
    hugemem_pool_drain();
}
