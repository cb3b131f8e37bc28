/* cache.c - sharded, byte-bounded CLOCK block cache (contract in cache.h).
 *
 * 16 shards chosen by a hash of (file, offset), each with its own mutex, chained hash table,
 * capacity ((capacity - pinned reserve) / 16) and clock ring. An entry's refs (atomic) count its
 * outstanding handles plus one while it is in the cache.
 *
 * Why CLOCK and not LRU: an LRU hit moves the entry between lists, writing its two neighbours
 * and the list head, and its release moves it back - four random cache lines per lookup on top
 * of the entry itself. A CLOCK hit only sets the entry's `referenced` flag and bumps refs, and a
 * release is one atomic decrement without the shard lock. Eviction sweeps the ring from the
 * hand: a pinned entry (refs > 1) is skipped, a referenced one gets its flag cleared and a second
 * chance, an unreferenced one is evicted. New entries go in just behind the hand (the last place
 * it reaches) unreferenced, so an entry never looked up again is the first to go after one full
 * sweep, and one that is read again survives as long as it is read once per sweep.
 *
 * Locking: lookup, insert, erase and eviction hold the shard mutex; release does not. Release
 * reaching refs 0 frees the entry (it was already out of the table: the cache's own reference
 * is dropped only when an entry leaves it). An eviction only takes entries whose refs is 1 under
 * the lock, and new handles are only made under the lock, so the two never race on one entry. */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1 << CACHE_SHARD_BITS)

/* 64-byte aligned, hot fields first: a lookup (chain walk, hit, value, charge) reads one line. */
struct cache_handle {
    struct cache_handle *hnext;          /* hash chain */
    uint64_t file, offset;
    uint32_t hash;
    atomic_uint refs;
    int referenced;                      /* set by a hit, cleared by the passing hand */
    void *value;
    size_t charge;
    uint64_t tag;                        /* the inserter's (block_cache_insert_tagged) */
    /* second line: eviction and teardown only */
    struct cache_handle *prev, *next;    /* clock ring (entries in the cache only) */
    void (*deleter)(void *value);
};
#define CENTRY_ALLOC ((sizeof(struct cache_handle) + 63) & ~(size_t)63)
typedef struct cache_handle centry;

typedef struct cache_shard {
    pthread_mutex_t mu;
    centry **table;
    size_t tsize;                        /* power of two */
    size_t count;
    centry ring;                         /* ring head (sentinel, never evicted) */
    centry *hand;                        /* next entry the sweep looks at (or &ring) */
    atomic_size_t usage;                 /* written under mu; read without it by release */
    uint64_t hits, misses;
    char pad[64];
} cache_shard;

struct block_cache {
    cache_shard shards[CACHE_SHARDS];
    size_t capacity;
    _Atomic int64_t pinned;
};

static inline uint32_t cache_hash(uint64_t file, uint64_t offset) {
    uint64_t x = file * UINT64_C(0x9e3779b97f4a7c15) ^ (offset + UINT64_C(0x632be59bd9b4e019));
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (uint32_t)x;
}

static inline cache_shard *shard_of(block_cache *c, uint32_t h) {
    return &c->shards[h >> (32 - CACHE_SHARD_BITS)];
}

static inline size_t usage_of(cache_shard *s) {
    return atomic_load_explicit(&s->usage, memory_order_relaxed);
}
static inline void usage_add(cache_shard *s, size_t d) {
    atomic_store_explicit(&s->usage, usage_of(s) + d, memory_order_relaxed); /* under mu */
}
static inline void usage_sub(cache_shard *s, size_t d) {
    atomic_store_explicit(&s->usage, usage_of(s) - d, memory_order_relaxed); /* under mu */
}

/* Ring insert just before the hand: the last entry the sweep reaches. */
static void ring_insert(cache_shard *s, centry *e) {
    centry *at = s->hand;
    e->next = at;
    e->prev = at->prev;
    e->prev->next = e;
    at->prev = e;
}
static void ring_remove(cache_shard *s, centry *e) {
    if (s->hand == e) s->hand = e->next;
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static size_t shard_capacity(block_cache *c) {
    int64_t pinned = atomic_load_explicit(&c->pinned, memory_order_relaxed);
    int64_t cap = (int64_t)c->capacity - (pinned > 0 ? pinned : 0);
    if (cap < 0) cap = 0;
    return (size_t)cap / CACHE_SHARDS;
}

block_cache *block_cache_new(size_t capacity_bytes) {
    block_cache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->capacity = capacity_bytes;
    atomic_init(&c->pinned, 0);
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->tsize = 256;
        s->table = calloc(s->tsize, sizeof(*s->table));
        if (!s->table) {
            for (int j = 0; j < i; j++) {
                free(c->shards[j].table);
                pthread_mutex_destroy(&c->shards[j].mu);
            }
            pthread_mutex_destroy(&s->mu);
            free(c);
            return NULL;
        }
        s->ring.next = s->ring.prev = &s->ring;
        s->hand = &s->ring;
        atomic_init(&s->usage, 0);
    }
    return c;
}

static void entry_free(centry *e) {
    if (e->deleter) e->deleter(e->value);
    free(e);
}

void block_cache_free(block_cache *c) {
    if (!c) return;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        for (size_t b = 0; b < s->tsize; b++) {
            centry *e = s->table[b];
            while (e) {
                centry *n = e->hnext;
                entry_free(e); /* contract: no handle outstanding, so refs == 1 */
                e = n;
            }
        }
        free(s->table);
        pthread_mutex_destroy(&s->mu);
    }
    free(c);
}

static centry **find_slot(cache_shard *s, uint64_t file, uint64_t offset, uint32_t h) {
    centry **p = &s->table[h & (s->tsize - 1)];
    while (*p && ((*p)->hash != h || (*p)->file != file || (*p)->offset != offset))
        p = &(*p)->hnext;
    return p;
}

static void table_grow(cache_shard *s) {
    size_t n = s->tsize * 2;
    centry **t = calloc(n, sizeof(*t));
    if (!t) return; /* keep the longer chains */
    for (size_t b = 0; b < s->tsize; b++) {
        centry *e = s->table[b];
        while (e) {
            centry *next = e->hnext;
            centry **slot = &t[e->hash & (n - 1)];
            e->hnext = *slot;
            *slot = e;
            e = next;
        }
    }
    free(s->table);
    s->table = t;
    s->tsize = n;
}

/* e was unlinked from the hash table: takes it out of the ring and drops the cache's
 * reference. Returns e when that was the last one (the caller frees it outside the lock). */
static centry *finish_erase(cache_shard *s, centry *e) {
    ring_remove(s, e);
    usage_sub(s, e->charge);
    s->count--;
    return atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1 ? e : NULL;
}

static void free_entries(centry *list) {
    while (list) {
        centry *n = list->hnext;
        entry_free(list);
        list = n;
    }
}

/* Sweeps the clock until usage <= cap or every entry was passed twice (all pinned or
 * referenced twice over: nothing more can go). Victims are chained on *dead via hnext. */
static void evict_locked(cache_shard *s, size_t cap, centry **dead) {
    size_t steps = 2 * s->count + 2;
    while (usage_of(s) > cap && s->count && steps--) {
        centry *e = s->hand;
        if (e == &s->ring) { s->hand = e->next; continue; }
        s->hand = e->next;
        if (atomic_load_explicit(&e->refs, memory_order_acquire) > 1) continue; /* pinned */
        if (e->referenced) { e->referenced = 0; continue; }
        centry **slot = find_slot(s, e->file, e->offset, e->hash);
        *slot = e->hnext;
        if (finish_erase(s, e)) {
            e->hnext = *dead;
            *dead = e;
        }
    }
}

cache_handle *block_cache_lookup(block_cache *c, uint64_t file, uint64_t offset) {
    uint32_t h = cache_hash(file, offset);
    cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    centry *e = *find_slot(s, file, offset, h);
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (!e->referenced) e->referenced = 1;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

cache_handle *block_cache_insert(block_cache *c, uint64_t file, uint64_t offset, void *value,
                                 size_t charge, void (*deleter)(void *value)) {
    return block_cache_insert_tagged(c, file, offset, value, charge, deleter, 0);
}

cache_handle *block_cache_insert_tagged(block_cache *c, uint64_t file, uint64_t offset,
                                        void *value, size_t charge,
                                        void (*deleter)(void *value), uint64_t tag) {
    centry *e = aligned_alloc(64, CENTRY_ALLOC);
    if (!e) return NULL;
    e->tag = tag;
    uint32_t h = cache_hash(file, offset);
    e->file = file;
    e->offset = offset;
    e->value = value;
    e->deleter = deleter;
    e->charge = charge;
    e->hash = h;
    atomic_init(&e->refs, 2); /* the cache + the returned handle */
    e->referenced = 0;
    cache_shard *s = shard_of(c, h);
    centry *dead = NULL;
    size_t cap = shard_capacity(c);
    pthread_mutex_lock(&s->mu);
    centry **slot = find_slot(s, file, offset, h);
    centry *old = *slot;
    e->hnext = old ? old->hnext : NULL;
    *slot = e;
    if (old && finish_erase(s, old)) {
        old->hnext = dead;
        dead = old;
    }
    ring_insert(s, e);
    usage_add(s, charge);
    s->count++;
    if (s->count > s->tsize) table_grow(s);
    evict_locked(s, cap, &dead);
    pthread_mutex_unlock(&s->mu);
    free_entries(dead);
    return e;
}

void *block_cache_value(cache_handle *h) { return h->value; }
uint64_t block_cache_tag(const cache_handle *h) { return h->tag; }

void block_cache_release(block_cache *c, cache_handle *h) {
    cache_shard *s = shard_of(c, h->hash); /* h may be freed by others once refs drops */
    unsigned prev = atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel);
    if (prev == 1) { /* it had left the cache: ours was the last reference */
        entry_free(h);
        return;
    }
    /* an entry unpinned while its shard is over budget (it was inserted larger than the
     * budget, or the pinned reserve grew) is evicted now, not at the next insert */
    size_t cap = shard_capacity(c);
    if (usage_of(s) <= cap) return;
    centry *dead = NULL;
    pthread_mutex_lock(&s->mu);
    evict_locked(s, cap, &dead);
    pthread_mutex_unlock(&s->mu);
    free_entries(dead);
}

void block_cache_erase_file(block_cache *c, uint64_t file) {
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        centry *dead = NULL;
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b < s->tsize; b++) {
            centry **p = &s->table[b];
            while (*p) {
                centry *e = *p;
                if (e->file == file) {
                    *p = e->hnext;
                    /* a pinned entry leaves the table now and dies on its last release */
                    if (finish_erase(s, e)) {
                        e->hnext = dead;
                        dead = e;
                    }
                } else {
                    p = &e->hnext;
                }
            }
        }
        pthread_mutex_unlock(&s->mu);
        free_entries(dead);
    }
}

void block_cache_charge_pinned(block_cache *c, int64_t delta) {
    atomic_fetch_add_explicit(&c->pinned, delta, memory_order_relaxed);
    if (delta <= 0) return;
    size_t cap = shard_capacity(c);
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        centry *dead = NULL;
        pthread_mutex_lock(&s->mu);
        evict_locked(s, cap, &dead);
        pthread_mutex_unlock(&s->mu);
        free_entries(dead);
    }
}

void block_cache_get_stats(block_cache *c, block_cache_stats *st) {
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        st->hits += s->hits;
        st->misses += s->misses;
        st->bytes += usage_of(s);
        st->entries += s->count;
        pthread_mutex_unlock(&s->mu);
    }
    int64_t pinned = atomic_load_explicit(&c->pinned, memory_order_relaxed);
    if (pinned > 0) st->bytes += (uint64_t)pinned;
    st->capacity = c->capacity;
}
