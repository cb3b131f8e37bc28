/* queue.h - lock-free single-producer/single-consumer ring of pointers (C11 atomics).
 * Exactly one thread pushes and exactly one thread pops. push publishes the item with release
 * ordering and pop reads it with acquire, so everything the producer wrote before pushing is
 * visible to the consumer after popping. Capacity is a power of two. Header-only. */
#ifndef KEVO_QUEUE_H
#define KEVO_QUEUE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

/* head and tail are kept on separate cache lines by padding (not _Alignas, so a struct that
 * embeds a ring can come from plain malloc). */
typedef struct spsc_ring {
    _Atomic size_t head;   /* next slot to pop (consumer) */
    char pad_head[64 - sizeof(size_t)];
    _Atomic size_t tail;   /* next slot to push (producer) */
    char pad_tail[64 - sizeof(size_t)];
    size_t mask;
    void **slots;
} spsc_ring;

static inline int spsc_init(spsc_ring *r, size_t capacity_pow2) {
    r->slots = (void **)calloc(capacity_pow2, sizeof(void *));
    if (!r->slots) return -1;
    r->mask = capacity_pow2 - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}
static inline void spsc_destroy(spsc_ring *r) { free(r->slots); r->slots = NULL; }
/* Producer: 0 on success, -1 when full. */
static inline int spsc_push(spsc_ring *r, void *item) {
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - h > r->mask) return -1;
    r->slots[t & r->mask] = item;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return 0;
}
/* Consumer: the oldest item, or NULL when empty. */
static inline void *spsc_pop(spsc_ring *r) {
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == t) return NULL;
    void *item = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return item;
}
/* Either side: approximate number of items. */
static inline size_t spsc_size(spsc_ring *r) {
    return atomic_load_explicit(&r->tail, memory_order_acquire) -
           atomic_load_explicit(&r->head, memory_order_acquire);
}
#endif
