/* block_alloc.h - memory for SSTable blocks (above all the block cache's), rounded far less than
 * malloc rounds it.
 *
 * jemalloc serves 4-8 KiB in 1 KiB steps: a 4 KiB data block of four 1 KiB records with its
 * header (~4.2 KiB) takes 5 KiB, so a fifth of the block cache held nothing. Here allocations
 * of 2-16 KiB (header included) are carved in BLOCK_ALLOC_STEP steps out of 128 KiB slabs, one
 * slab list per size; the rest come from malloc.
 *
 * Thread-safe (a mutex per size class): blocks are allocated by the event loop (io_uring
 * completions) and reader threads, and freed by whichever thread drops the cache's last
 * reference. A slab whose slots are all free goes back to malloc unless it is the only slab with
 * free slots of its size. Everything block_alloc returns must be freed with block_free, never
 * with free(). */
#ifndef KEVO_BLOCK_ALLOC_H
#define KEVO_BLOCK_ALLOC_H
#include <stddef.h>

#define BLOCK_ALLOC_STEP 128

/* n bytes, 16-byte aligned; NULL when out of memory. */
void *block_alloc(size_t n);
/* Frees what block_alloc returned (NULL: nothing). */
void block_free(void *p);
/* The memory p takes: its slot, or what malloc gave for it (what the block cache charges). */
size_t block_alloc_footprint(const void *p);

typedef struct block_alloc_stats {
    size_t slabs;        /* slabs held (each BLOCK_ALLOC_SLAB bytes) */
    size_t slab_bytes;   /* their bytes */
    size_t used_bytes;   /* of slab_bytes, in slots handed out */
} block_alloc_stats;
void block_alloc_get_stats(block_alloc_stats *st);
#endif
