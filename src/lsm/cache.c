/* cache.c - sharded, byte-bounded LRU block cache (contract in cache.h).
 *
 * 16 shards chosen by a hash of (file, offset), each with its own mutex, hash table and
 * capacity (capacity - pinned reserve) / 16. An entry's refs count its outstanding handles
 * plus one while it is in the cache. Entries in the cache with no handle sit on the shard's
 * lru list (oldest first: eviction candidates); entries with handles sit on in_use and are
 * never evicted (their bytes still count). An entry removed from the cache (evicted, replaced,
 * erased) is freed with its deleter when its last handle is released. */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1 << CACHE_SHARD_BITS)

struct cache_handle {
    struct cache_handle *hnext;          /* hash chain */
    struct cache_handle *prev, *next;    /* lru or in_use list */
    uint64_t file, offset;
    void *value;
    void (*deleter)(void *value);
    size_t charge;
    uint32_t hash;
    uint32_t refs;
    int in_cache;
};
typedef struct cache_handle centry;

typedef struct cache_shard {
    pthread_mutex_t mu;
    centry **table;
    size_t tsize;                        /* power of two */
    size_t count;
    centry lru, in_use;                  /* list heads */
    size_t usage;
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

static void list_remove(centry *e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
}
static void list_append(centry *head, centry *e) { /* newest at head->prev */
    e->next = head;
    e->prev = head->prev;
    e->prev->next = e;
    e->next->prev = e;
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
        s->lru.next = s->lru.prev = &s->lru;
        s->in_use.next = s->in_use.prev = &s->in_use;
    }
    return c;
}

void block_cache_free(block_cache *c) {
    if (!c) return;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        for (size_t b = 0; b < s->tsize; b++) {
            centry *e = s->table[b];
            while (e) {
                centry *n = e->hnext;
                /* contract: no handle outstanding, so refs == 1 */
                if (e->deleter) e->deleter(e->value);
                free(e);
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

/* Drops one reference under the shard lock. Returns e if it must be freed (outside the lock). */
static centry *unref_locked(cache_shard *s, centry *e) {
    e->refs--;
    if (e->refs == 0) return e;
    if (e->refs == 1 && e->in_cache) { /* no more handles: becomes evictable */
        list_remove(e);
        list_append(&s->lru, e);
    }
    return NULL;
}

/* e was unlinked from the hash table: take it out of the cache. Returns e if to be freed. */
static centry *finish_erase(cache_shard *s, centry *e) {
    e->in_cache = 0;
    list_remove(e);
    s->usage -= e->charge;
    s->count--;
    return unref_locked(s, e);
}

static void free_entries(centry *list) {
    while (list) {
        centry *n = list->hnext;
        if (list->deleter) list->deleter(list->value);
        free(list);
        list = n;
    }
}

/* Evicts lru entries until usage <= cap; chains the victims on *dead (through hnext). */
static void evict_locked(cache_shard *s, size_t cap, centry **dead) {
    while (s->usage > cap && s->lru.next != &s->lru) {
        centry *e = s->lru.next;
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
        if (e->refs == 1) { /* leaving the lru list */
            list_remove(e);
            list_append(&s->in_use, e);
        }
        e->refs++;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

cache_handle *block_cache_insert(block_cache *c, uint64_t file, uint64_t offset, void *value,
                                 size_t charge, void (*deleter)(void *value)) {
    centry *e = malloc(sizeof(*e));
    if (!e) return NULL;
    uint32_t h = cache_hash(file, offset);
    e->file = file;
    e->offset = offset;
    e->value = value;
    e->deleter = deleter;
    e->charge = charge;
    e->hash = h;
    e->refs = 2; /* the cache + the returned handle */
    e->in_cache = 1;
    cache_shard *s = shard_of(c, h);
    centry *dead = NULL;
    size_t cap = shard_capacity(c);
    pthread_mutex_lock(&s->mu);
    list_append(&s->in_use, e);
    s->usage += charge;
    s->count++;
    centry **slot = find_slot(s, file, offset, h);
    centry *old = *slot;
    e->hnext = old ? old->hnext : NULL;
    *slot = e;
    if (old && finish_erase(s, old)) {
        old->hnext = dead;
        dead = old;
    }
    if (s->count > s->tsize) table_grow(s);
    evict_locked(s, cap, &dead);
    pthread_mutex_unlock(&s->mu);
    free_entries(dead);
    return e;
}

void *block_cache_value(cache_handle *h) { return h->value; }

void block_cache_release(block_cache *c, cache_handle *h) {
    cache_shard *s = shard_of(c, h->hash);
    size_t cap = shard_capacity(c);
    pthread_mutex_lock(&s->mu);
    centry *dead = unref_locked(s, h);
    if (dead) dead->hnext = NULL;
    /* an entry unpinned while the shard is over budget (it was inserted larger than the
     * budget, or the pinned reserve grew) is evicted now, not at the next insert */
    if (s->usage > cap) evict_locked(s, cap, &dead);
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
        st->bytes += s->usage;
        st->entries += s->count;
        pthread_mutex_unlock(&s->mu);
    }
    int64_t pinned = atomic_load_explicit(&c->pinned, memory_order_relaxed);
    if (pinned > 0) st->bytes += (uint64_t)pinned;
    st->capacity = c->capacity;
}
