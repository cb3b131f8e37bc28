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
 * reference. A slab whose slots are all free goes back to malloc (or to the stock, below) unless
 * it is the only slab with free slots of its size. Everything block_alloc returns must be freed with block_free, never
 * with free(). */
#ifndef KEVO_BLOCK_ALLOC_H
#define KEVO_BLOCK_ALLOC_H
#include <stddef.h>
#include <stdint.h>

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
    size_t stock_bytes;  /* slab buffers held ready in the stock (not in slab_bytes) */
    uint64_t stock_taken;  /* slabs made from a stocked buffer, since the process started */
    uint64_t stock_missed; /* slabs made from malloc while the stock ran (it was empty) */
} block_alloc_stats;
void block_alloc_get_stats(block_alloc_stats *st);

/* The stock: from now on a thread of its own (kevo-slabfill, nice added to its niceness with
 * thread_nice_self) keeps slab buffers ready with every page already faulted in, and emptied
 * slabs' buffers are kept there for the next slabs instead of going back to malloc (up to 8 MiB
 * in all), so the thread that fills a new slab (the event loop, for the block cache) takes no
 * page faults. Starts the thread once per process (again in a fork child). Any thread. */
void block_alloc_stock_start(int nice);
/* Stops keeping buffers and frees the stocked ones (the thread stays, idle). Tests. */
void block_alloc_stock_stop(void);
#endif
