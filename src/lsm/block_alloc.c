/* block_alloc.c - slab allocator for SSTable blocks (contract in block_alloc.h).
 *
 * Every allocation starts with a 16-byte header: the slab it lives in (NULL: it came from
 * malloc) and its size class (or, from malloc, the size asked). A slab is BLOCK_ALLOC_SLAB bytes
 * from malloc cut into equal slots; its free slots are a linked list through their first word,
 * and slots never used yet are taken from the bump index. A size class lists its slabs that have
 * a free slot (full ones are reached only through their slots' headers), the one that became
 * partial most recently first, so allocations fill few slabs and emptied ones can be returned. */
#include "block_alloc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* Under AddressSanitizer the slots' unused tails and the free slots are poisoned, so an overrun
 * of a block or a use after its free is reported as with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK_ALLOC_SLAB (128u << 10)
#define SMALL_MIN 2048u                      /* smaller: malloc's classes are fine-grained */
#define SMALL_MAX (16u << 10)
#define NCLASSES ((SMALL_MAX - SMALL_MIN) / BLOCK_ALLOC_STEP)
#define HDR 16u

typedef struct slab {
    struct slab *prev, *next;                /* the class's partial list */
    char *base;                              /* BLOCK_ALLOC_SLAB bytes */
    void *free_slots;
    uint32_t used, bumped, nslots;
    int listed;                              /* on the partial list */
} slab;

typedef struct hdr {
    slab *s;
    size_t cls_or_size;
} hdr;

typedef struct size_class {
    pthread_mutex_t mu;
    slab partial;                            /* sentinel */
    size_t partial_count;
    size_t slabs, used_slots;
} size_class;

static size_class g_classes[NCLASSES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_classes(void) {
    for (unsigned i = 0; i < NCLASSES; i++) {
        pthread_mutex_init(&g_classes[i].mu, NULL);
        g_classes[i].partial.next = g_classes[i].partial.prev = &g_classes[i].partial;
    }
}

/* Slot size of class i: the classes cover (SMALL_MIN, SMALL_MAX] in steps. */
static size_t slot_size(unsigned i) { return SMALL_MIN + (size_t)(i + 1) * BLOCK_ALLOC_STEP; }

static void list_add_front(size_class *c, slab *s) {
    s->next = c->partial.next;
    s->prev = &c->partial;
    s->next->prev = s;
    c->partial.next = s;
    s->listed = 1;
    c->partial_count++;
}
static void list_del(size_class *c, slab *s) {
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->listed = 0;
    c->partial_count--;
}

void *block_alloc(size_t n) {
    size_t total = n + HDR;
    if (total < n || total <= SMALL_MIN || total > SMALL_MAX) {
        hdr *h = malloc(total < n ? SIZE_MAX : total);
        if (!h) return NULL;
        h->s = NULL;
        h->cls_or_size = n;
        return h + 1;
    }
    pthread_once(&g_once, init_classes);
    unsigned ci = (unsigned)((total - SMALL_MIN + BLOCK_ALLOC_STEP - 1) / BLOCK_ALLOC_STEP) - 1;
    size_class *c = &g_classes[ci];
    size_t sz = slot_size(ci);
    pthread_mutex_lock(&c->mu);
    slab *s = c->partial.next;
    if (s == &c->partial) {
        s = malloc(sizeof(*s));
        char *base = s ? malloc(BLOCK_ALLOC_SLAB) : NULL;
        if (!base) {
            free(s);
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        POISON(base, BLOCK_ALLOC_SLAB);
        s->base = base;
        s->free_slots = NULL;
        s->used = s->bumped = 0;
        s->nslots = (uint32_t)(BLOCK_ALLOC_SLAB / sz);
        list_add_front(c, s);
        c->slabs++;
    }
    void *slot;
    if (s->free_slots) {
        slot = s->free_slots;
        UNPOISON(slot, sizeof(void *));
        s->free_slots = *(void **)slot;
    } else {
        slot = s->base + (size_t)s->bumped++ * sz;
    }
    if (++s->used == s->nslots) list_del(c, s);
    c->used_slots++;
    pthread_mutex_unlock(&c->mu);
    POISON(slot, sz);
    UNPOISON(slot, total);
    hdr *h = slot;
    h->s = s;
    h->cls_or_size = ci;
    return h + 1;
}

void block_free(void *p) {
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    slab *s = h->s;
    if (!s) {
        free(h);
        return;
    }
    size_class *c = &g_classes[h->cls_or_size];
    POISON((char *)h + HDR, slot_size((unsigned)h->cls_or_size) - HDR);
    pthread_mutex_lock(&c->mu);
    *(void **)(void *)h = s->free_slots;
    s->free_slots = h;
    s->used--;
    c->used_slots--;
    if (!s->listed) list_add_front(c, s);
    if (s->used == 0 && c->partial_count > 1) { /* keep one partial slab per class at least */
        list_del(c, s);
        c->slabs--;
        UNPOISON(s->base, BLOCK_ALLOC_SLAB);
        free(s->base);
        free(s);
    }
    pthread_mutex_unlock(&c->mu);
}

size_t block_alloc_footprint(const void *p) {
    const hdr *h = (const hdr *)p - 1;
    if (!h->s) return malloc_usable_size((void *)h);
    return slot_size((unsigned)h->cls_or_size);
}

void block_alloc_get_stats(block_alloc_stats *st) {
    pthread_once(&g_once, init_classes);
    st->slabs = st->slab_bytes = st->used_bytes = 0;
    for (unsigned i = 0; i < NCLASSES; i++) {
        size_class *c = &g_classes[i];
        pthread_mutex_lock(&c->mu);
        st->slabs += c->slabs;
        st->used_bytes += c->used_slots * slot_size(i);
        pthread_mutex_unlock(&c->mu);
    }
    st->slab_bytes = st->slabs * BLOCK_ALLOC_SLAB;
}
