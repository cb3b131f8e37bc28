/* block_alloc.c - slab allocator for SSTable blocks (contract in block_alloc.h).
 *
 * Every allocation starts with a 16-byte header: the slab it lives in (NULL: it came from
 * malloc) and its size class (or, from malloc, the size asked). A slab is BLOCK_ALLOC_SLAB bytes
 * from malloc cut into equal slots; its free slots are a linked list through their first word,
 * and slots never used yet are taken from the bump index. A size class lists its slabs that have
 * a free slot (full ones are reached only through their slots' headers), the one that became
 * partial most recently first, so allocations fill few slabs and emptied ones can be returned.
 *
 * The stock (block_alloc_stock_start): the memory of a new slab is faulted in where it is first
 * written, and the block cache writes it on the event loop (a block decompressed or read into
 * it). In a VM each first touch of a 4 KiB page also traps to the host (~6-8 us here), and the
 * cache takes new slabs as it grows and again as compactions retire tables and their blocks
 * (their emptied slabs go back to malloc, which returns the pages to the OS): ~1,300 faults on
 * the loop per 200k-request HSET round. With the stock started, a thread of its own
 * (kevo-slabfill) keeps up to STOCK_LOW slab buffers ready, every page written once, and an
 * emptied slab's buffer goes back to the stock (up to STOCK_MAX) instead of to malloc, so the
 * loop takes slabs already faulted in. The stock is memory held beyond the slabs in use:
 * block_alloc_get_stats reports it. */
#include "block_alloc.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker.h"

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

/* ---- the stock of slab buffers faulted in ahead (block_alloc_stock_start) ---- */

#define STOCK_LOW 32  /* the thread refills up to this many (4 MiB) */
#define STOCK_MAX 64  /* emptied slabs' buffers kept at most (8 MiB) */

static pthread_mutex_t stock_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stock_cv = PTHREAD_COND_INITIALIZER;
static void *stock_head;      /* buffers linked through their first word */
static size_t stock_count;
static int stock_on;          /* the thread refills; emptied slabs' buffers are kept */
static pid_t stock_pid;       /* the process whose thread runs (a fork child has none) */
static int stock_nice;
static uint64_t stock_taken, stock_missed; /* slabs made from the stock / from malloc */

/* A slab's buffer: from the stock when it has one, else from malloc. Any thread. */
static char *slab_buffer_get(void) {
    pthread_mutex_lock(&stock_mu);
    char *b = stock_head;
    if (b) {
        stock_head = *(void **)b;
        stock_count--;
        stock_taken++;
    } else {
        stock_missed += stock_on;
    }
    if (stock_on && stock_count < STOCK_LOW) pthread_cond_signal(&stock_cv);
    pthread_mutex_unlock(&stock_mu);
    return b ? b : malloc(BLOCK_ALLOC_SLAB);
}

/* An emptied slab's buffer: kept in the stock while it runs and has room, else freed. */
static void slab_buffer_put(char *b) {
    pthread_mutex_lock(&stock_mu);
    if (stock_on && stock_count < STOCK_MAX) {
        *(void **)b = stock_head;
        stock_head = b;
        stock_count++;
        b = NULL;
    }
    pthread_mutex_unlock(&stock_mu);
    free(b);
}

static void *stock_main(void *arg) {
    (void)arg;
    thread_nice_self(stock_nice);
    pthread_mutex_lock(&stock_mu);
    for (;;) {
        while (!stock_on || stock_count >= STOCK_LOW) pthread_cond_wait(&stock_cv, &stock_mu);
        pthread_mutex_unlock(&stock_mu);
        char *b = malloc(BLOCK_ALLOC_SLAB);
        if (b) /* one write per page faults it in */
            for (size_t i = 0; i < BLOCK_ALLOC_SLAB; i += 4096) ((volatile char *)b)[i] = 0;
        pthread_mutex_lock(&stock_mu);
        if (!b) { /* no memory now: try again when a buffer is taken */
            pthread_cond_wait(&stock_cv, &stock_mu);
            continue;
        }
        *(void **)b = stock_head;
        stock_head = b;
        stock_count++;
    }
    return NULL;
}

void block_alloc_stock_start(int nice) {
    pthread_mutex_lock(&stock_mu);
    stock_on = 1;
    if (stock_pid != getpid()) {
        stock_nice = nice;
        if (thread_start_detached(stock_main, "kevo-slabfill") == 0) stock_pid = getpid();
        else stock_on = 0;
    }
    pthread_cond_signal(&stock_cv);
    pthread_mutex_unlock(&stock_mu);
}

void block_alloc_stock_stop(void) {
    pthread_mutex_lock(&stock_mu);
    stock_on = 0;
    void *b = stock_head;
    stock_head = NULL;
    stock_count = 0;
    pthread_mutex_unlock(&stock_mu);
    while (b) {
        void *next = *(void **)b;
        free(b);
        b = next;
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
        char *base = s ? slab_buffer_get() : NULL;
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
        slab_buffer_put(s->base);
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
    pthread_mutex_lock(&stock_mu);
    st->stock_bytes = stock_count * BLOCK_ALLOC_SLAB;
    st->stock_taken = stock_taken;
    st->stock_missed = stock_missed;
    pthread_mutex_unlock(&stock_mu);
}
