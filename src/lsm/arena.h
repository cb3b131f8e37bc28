/* arena.h - bump allocator for memtable entries.
 *
 * Memory comes from blocks of ARENA_BLOCK_SIZE bytes; an allocation larger than a quarter of a
 * block gets a block of its own (so big values waste nothing). Nothing is freed individually:
 * arena_destroy frees every block at once. Pointers returned stay valid until arena_destroy.
 * Threads: one thread allocates (the memtable's owner); arena_memory_usage may be read from any
 * thread (relaxed atomic). The struct is embedded by value in its owner. */
#ifndef KEVO_ARENA_H
#define KEVO_ARENA_H
#include <stdatomic.h>
#include <stddef.h>

#define ARENA_BLOCK_SIZE (256u * 1024u)
/* Once an arena holds this many bytes, its new regular blocks are 2 MiB huge-page blocks
 * (hugemem.h): a big memtable is read at random, and huge pages spare it most TLB misses and
 * page faults. */
#define ARENA_HUGE_AFTER (4u << 20)
#define ARENA_ALIGN 8 /* alignment of arena_alloc_aligned: enough for pointers and uint64 */

typedef struct arena_block arena_block;
typedef struct arena {
    char *ptr;              /* next free byte in the current block */
    size_t left;            /* bytes left in the current block */
    arena_block *blocks;    /* every block, newest first */
    atomic_size_t usage;    /* bytes malloc'ed for blocks (incl. their headers) */
} arena;

/* Initializes an empty arena (no memory allocated yet). */
void arena_init(arena *a);
/* Frees every block; the arena may be initialized again afterwards. */
void arena_destroy(arena *a);
/* n bytes, no alignment guarantee. NULL only if malloc fails. n == 0 returns a valid pointer. */
void *arena_alloc(arena *a, size_t n);
/* Makes sure the next allocations totalling up to n bytes (each padded to ARENA_ALIGN) come
 * from the current block without calling malloc: 0, or -1 if that block cannot be allocated. */
int arena_reserve(arena *a, size_t n);
/* n bytes aligned to ARENA_ALIGN. NULL only if malloc fails. */
void *arena_alloc_aligned(arena *a, size_t n);
/* Total bytes obtained from malloc so far (monotonic until arena_destroy). Any thread. */
static inline size_t arena_memory_usage(const arena *a) {
    return atomic_load_explicit(&((arena *)a)->usage, memory_order_relaxed);
}
#endif
