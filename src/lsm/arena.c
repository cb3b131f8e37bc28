/* arena.c - block bump allocator (see arena.h). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "hugemem.h"

struct arena_block {
    arena_block *next;
    size_t size; /* usable bytes in data[] */
    /* data follows; the header is 16 bytes so data is 16-aligned (malloc alignment) */
};

/* A block of total bytes (header included) comes from hugemem when that is at least
 * HUGEMEM_MIN, else from malloc; block_free tells which by the same rule. A block of exactly one
 * huge page (the regular block of a big arena) comes from and goes back to hugemem's page pool,
 * so a memtable reuses the pages of the one flushed before it instead of faulting in fresh ones
 * (arena memory need not be zero: every allocation is written before it is read). */
static arena_block *block_alloc(size_t total) {
    if (total == HUGEMEM_PAGE) return hugemem_page_get();
    return total >= HUGEMEM_MIN ? hugemem_alloc(total) : malloc(total);
}
static void block_free(arena_block *b) {
    size_t total = sizeof(arena_block) + b->size;
    if (total == HUGEMEM_PAGE) hugemem_page_put(b);
    else if (total >= HUGEMEM_MIN) hugemem_free(b, total);
    else free(b);
}

void arena_init(arena *a) {
    a->ptr = NULL;
    a->left = 0;
    a->blocks = NULL;
    atomic_init(&a->usage, 0);
}

void arena_destroy(arena *a) {
    arena_block *b = a->blocks;
    while (b) {
        arena_block *next = b->next;
        block_free(b);
        b = next;
    }
    arena_init(a);
}

/* The size of the next regular block: small ones while the arena is small (tests, small
 * memtables), huge-page ones once it holds ARENA_HUGE_AFTER bytes. */
static size_t regular_block_size(const arena *a) {
    if (atomic_load_explicit(&a->usage, memory_order_relaxed) >= ARENA_HUGE_AFTER)
        return HUGEMEM_PAGE - sizeof(arena_block);
    return ARENA_BLOCK_SIZE;
}

static char *arena_new_block(arena *a, size_t size) {
    if (size > SIZE_MAX - sizeof(arena_block)) return NULL;
    arena_block *b = block_alloc(sizeof(arena_block) + size);
    if (!b) return NULL;
    b->size = size;
    b->next = a->blocks;
    a->blocks = b;
    size_t u = atomic_load_explicit(&a->usage, memory_order_relaxed);
    atomic_store_explicit(&a->usage, u + sizeof(arena_block) + size, memory_order_relaxed);
    return (char *)(b + 1);
}

/* Slow path: the current block cannot hold n bytes. */
static void *arena_fallback(arena *a, size_t n) {
    if (n > ARENA_BLOCK_SIZE / 4) {
        /* Own block; keep the current block's remainder for later small allocations. */
        return arena_new_block(a, n ? n : 1);
    }
    size_t bs = regular_block_size(a);
    char *p = arena_new_block(a, bs);
    if (!p) return NULL;
    a->ptr = p + n;
    a->left = bs - n;
    return p;
}

int arena_reserve(arena *a, size_t n) {
    if (a->ptr && n <= a->left) return 0;
    size_t bs = regular_block_size(a);
    size_t size = n > bs ? n : bs;
    char *p = arena_new_block(a, size);
    if (!p) return -1;
    a->ptr = p;
    a->left = size;
    return 0;
}

void *arena_alloc(arena *a, size_t n) {
    if (a->ptr && n <= a->left) {
        char *p = a->ptr;
        a->ptr += n;
        a->left -= n;
        return p;
    }
    return arena_fallback(a, n);
}

void *arena_alloc_aligned(arena *a, size_t n) {
    if (a->ptr) {
        size_t mis = (size_t)((uintptr_t)a->ptr & (ARENA_ALIGN - 1));
        size_t pad = mis ? ARENA_ALIGN - mis : 0;
        if (n + pad <= a->left && n + pad >= n) {
            char *p = a->ptr + pad;
            a->ptr += n + pad;
            a->left -= n + pad;
            return p;
        }
    }
    /* New blocks start 16-aligned, so the fallback result is aligned. */
    return arena_fallback(a, n);
}
