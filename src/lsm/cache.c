/* cache.c - sharded, byte-bounded block cache: a CLOCK ring behind a probation queue (contract
 * in cache.h).
 *
 * 16 shards chosen by a hash of (file, offset), each with its own mutex, chained hash table,
 * capacity ((capacity - pinned reserve) / 16), clock ring, probation queue and ghost table. An
 * entry's refs (atomic) count its outstanding handles plus one while it is in the cache.
 *
 * Why CLOCK and not LRU: an LRU hit moves the entry between lists, writing its two neighbours
 * and the list head, and its release moves it back - four random cache lines per lookup on top
 * of the entry itself. A CLOCK hit only sets the entry's `referenced` flag and bumps refs, and a
 * release is one atomic decrement without the shard lock. Eviction sweeps the ring from the
 * hand: a pinned entry (refs > 1) is skipped, a referenced one gets its flag cleared and a second
 * chance, an unreferenced one is evicted.
 *
 * Probation: a block read once is not let into the ring. It waits in a FIFO (the probation queue,
 * PROBATION_SHARE of the shard's capacity; beyond it, the oldest go first), and moves into the
 * ring when it leaves the queue only if it was read again meanwhile - a lookup later than the
 * reuse window after its insertion: the lookups of the request that read it (the check of the
 * landed block or the lookup run again, then its command's own read) come within the window and
 * are not reuse. A block that leaves the queue unread leaves its fingerprint in the shard's ghost
 * table (direct-mapped, about two slots per block the shard holds), and a block inserted while its
 * fingerprint is there goes straight into the ring: a block read twice, however far apart within
 * the ghost's memory, is worth keeping. So blocks read once - the cold tail of a skewed workload,
 * a scan, the keys a client touches once - cost the ring nothing, and a working set a little
 * larger or smaller than the cache keeps what fits instead of churning (measured: 90% of GETs to a
 * hot set of 112k blocks, 10% to 1M cold ones, 94k-entry cache: hit rate 0.62 with plain CLOCK,
 * 0.74 with probation; 123k entries: 0.76 and 0.90).
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
#include <time.h>

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1 << CACHE_SHARD_BITS)
#define PROBATION_SHARE 32          /* the probation queue: 1/32 of a shard's capacity */
#define REUSE_WINDOW_MS 20          /* default of block_cache_set_reuse_window */
#define GHOST_BLOCK_BYTES 4096      /* ghost slots: two per this many bytes of shard capacity */
#define GHOST_MAX_SLOTS (1u << 20)  /* per shard (4 MiB) */

/* 64-byte aligned, hot fields first: a lookup (chain walk, hit, value, charge) reads one line. */
struct cache_handle {
    struct cache_handle *hnext;          /* hash chain */
    uint64_t file, offset;
    uint32_t hash;
    atomic_uint refs;
    void *value;
    size_t charge;
    uint64_t tag;                        /* the inserter's (block_cache_insert_tagged) */
    uint32_t born_ms;                    /* insertion time (probation entries) */
    uint8_t referenced;                  /* ring: set by a hit, cleared by the passing hand */
    uint8_t in_probation;                /* in the probation queue, not the ring */
    uint8_t reused;                      /* probation: read again after the reuse window */
    /* second line: eviction and teardown only */
    struct cache_handle *prev, *next;    /* clock ring or probation queue (cached entries) */
    void (*deleter)(void *value);
};
#define CENTRY_ALLOC ((sizeof(struct cache_handle) + 63) & ~(size_t)63)
_Static_assert(CENTRY_ALLOC == BLOCK_CACHE_ENTRY_BYTES, "BLOCK_CACHE_ENTRY_BYTES is an entry's size");
typedef struct cache_handle centry;

typedef struct cache_shard {
    pthread_mutex_t mu;
    centry **table;
    size_t tsize;                        /* power of two */
    size_t count;
    centry ring;                         /* ring head (sentinel, never evicted) */
    centry *hand;                        /* next entry the sweep looks at (or &ring) */
    size_t ring_count;
    centry probation;                    /* FIFO head (sentinel): next is the oldest */
    size_t probation_count, probation_usage;
    uint32_t *ghost;                     /* fingerprints of blocks that left probation unread */
    uint32_t ghost_mask;
    atomic_size_t usage;                 /* written under mu; read without it by release */
    uint64_t hits, misses;
    char pad[64];
} cache_shard;

struct block_cache {
    cache_shard shards[CACHE_SHARDS];
    size_t capacity;
    _Atomic int64_t pinned;
    atomic_uint reuse_window_ms;
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

static void list_unlink(centry *e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
}
static void link_before(centry *at, centry *e) {
    e->next = at;
    e->prev = at->prev;
    e->prev->next = e;
    at->prev = e;
}
/* Ring insert just before the hand: the last entry the sweep reaches. */
static void ring_insert(cache_shard *s, centry *e) {
    link_before(s->hand, e);
    e->in_probation = 0;
    e->referenced = 0;
    s->ring_count++;
}
/* Probation insert at the queue's tail (the newest). */
static void probation_insert(cache_shard *s, centry *e, uint32_t born_ms) {
    link_before(&s->probation, e);
    e->in_probation = 1;
    e->reused = 0;
    e->born_ms = born_ms;
    s->probation_count++;
    s->probation_usage += e->charge;
}
/* Unlinks e from its ring or queue. */
static void list_remove(cache_shard *s, centry *e) {
    if (s->hand == e) s->hand = e->next;
    list_unlink(e);
    if (e->in_probation) {
        s->probation_count--;
        s->probation_usage -= e->charge;
    } else {
        s->ring_count--;
    }
}

static uint32_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* The ghost slot and fingerprint of a block: the slot from the low bits of its hash (the
 * shard comes from the high ones), the fingerprint from another mix, never 0 (empty). */
static inline uint32_t ghost_fp(uint64_t file, uint64_t offset) {
    uint64_t x = (file + UINT64_C(0x2545f4914f6cdd1d)) * UINT64_C(0xd6e8feb86659fd93) ^ offset;
    x *= UINT64_C(0x9e3779b97f4a7c15);
    uint32_t fp = (uint32_t)(x >> 32);
    return fp ? fp : 1;
}
static void ghost_put(cache_shard *s, const centry *e) {
    if (s->ghost) s->ghost[e->hash & s->ghost_mask] = ghost_fp(e->file, e->offset);
}
/* Whether the block left probation unread lately (and forgets it: it is cached again). */
static int ghost_take(cache_shard *s, uint64_t file, uint64_t offset, uint32_t h) {
    if (!s->ghost) return 0;
    uint32_t *slot = &s->ghost[h & s->ghost_mask];
    if (*slot != ghost_fp(file, offset)) return 0;
    *slot = 0;
    return 1;
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
    atomic_init(&c->reuse_window_ms, REUSE_WINDOW_MS);
    size_t want = 2 * (capacity_bytes / CACHE_SHARDS / GHOST_BLOCK_BYTES);
    uint32_t gslots = 64;
    while (gslots < want && gslots < GHOST_MAX_SLOTS) gslots *= 2;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        cache_shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->tsize = 256;
        s->table = calloc(s->tsize, sizeof(*s->table));
        /* no ghost table (no memory): every block is let in by a read during probation */
        s->ghost = calloc(gslots, sizeof(*s->ghost));
        s->ghost_mask = s->ghost ? gslots - 1 : 0;
        if (!s->table) {
            for (int j = 0; j <= i; j++) {
                free(c->shards[j].table);
                free(c->shards[j].ghost);
                pthread_mutex_destroy(&c->shards[j].mu);
            }
            free(c);
            return NULL;
        }
        s->ring.next = s->ring.prev = &s->ring;
        s->hand = &s->ring;
        s->probation.next = s->probation.prev = &s->probation;
        atomic_init(&s->usage, 0);
    }
    return c;
}

void block_cache_set_reuse_window(block_cache *c, unsigned ms) {
    atomic_store_explicit(&c->reuse_window_ms, ms, memory_order_relaxed);
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
        free(s->ghost);
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
    list_remove(s, e);
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

/* Takes e (unpinned) out of the table and the cache; chains it on *dead when it can be freed. */
static void evict_entry(cache_shard *s, centry *e, centry **dead) {
    centry **slot = find_slot(s, e->file, e->offset, e->hash);
    *slot = e->hnext;
    if (finish_erase(s, e)) {
        e->hnext = *dead;
        *dead = e;
    }
}

/* Frees bytes until usage <= cap or nothing more can go (every entry pinned, or referenced
 * twice over). The probation queue gives first while it is over its share and its oldest entry
 * is older than the reuse window (younger ones are still their inserting request's: the check
 * when the read lands, then its command, come later), or when the ring has nothing to
 * give: its oldest entry moves into the ring if it was reused, else is evicted and leaves its
 * fingerprint in the ghost table; a pinned one goes back to the tail. Otherwise the clock sweeps
 * the ring. Victims are chained on *dead via hnext. */
static void evict_locked(block_cache *c, cache_shard *s, size_t cap, centry **dead) {
    if (usage_of(s) <= cap) return;
    size_t ring_steps = 2 * s->ring_count + 2, probation_steps = s->probation_count;
    size_t probation_cap = cap / PROBATION_SHARE;
    uint32_t now = now_ms();
    unsigned window = atomic_load_explicit(&c->reuse_window_ms, memory_order_relaxed);
    while (usage_of(s) > cap) {
        int ring_can = s->ring_count && ring_steps;
        if (s->probation_count && probation_steps &&
            ((s->probation_usage > probation_cap && now - s->probation.next->born_ms >= window) ||
             !ring_can)) {
            probation_steps--;
            centry *e = s->probation.next;
            if (atomic_load_explicit(&e->refs, memory_order_acquire) > 1) {
                list_unlink(e); /* in use: back to the tail */
                link_before(&s->probation, e);
            } else if (e->reused) {
                list_remove(s, e);
                ring_insert(s, e);
                ring_steps += 2;
            } else {
                ghost_put(s, e);
                evict_entry(s, e, dead);
            }
            continue;
        }
        if (!ring_can) break;
        ring_steps--;
        centry *e = s->hand;
        if (e == &s->ring) { s->hand = e->next; continue; }
        s->hand = e->next;
        if (atomic_load_explicit(&e->refs, memory_order_acquire) > 1) continue; /* pinned */
        if (e->referenced) { e->referenced = 0; continue; }
        evict_entry(s, e, dead);
    }
}

cache_handle *block_cache_lookup(block_cache *c, uint64_t file, uint64_t offset) {
    uint32_t h = cache_hash(file, offset);
    cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    centry *e = *find_slot(s, file, offset, h);
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (!e->in_probation) {
            if (!e->referenced) e->referenced = 1;
        } else if (!e->reused && now_ms() - e->born_ms >=
                                     atomic_load_explicit(&c->reuse_window_ms, memory_order_relaxed)) {
            e->reused = 1;
        }
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

/* A new entry for (file, offset) with hash h, not yet in any list or table; NULL on ENOMEM. */
static centry *entry_new(uint64_t file, uint64_t offset, uint32_t h, void *value, size_t charge,
                         void (*deleter)(void *value), uint64_t tag, unsigned refs) {
    centry *e = aligned_alloc(64, CENTRY_ALLOC);
    if (!e) return NULL;
    e->tag = tag;
    e->file = file;
    e->offset = offset;
    e->value = value;
    e->deleter = deleter;
    e->charge = charge;
    e->hash = h;
    e->hnext = NULL;
    atomic_init(&e->refs, refs);
    return e;
}

/* Counts e, just put in s's table and in a list, against the shard: its charge and one entry
 * (the table grows past its load bound). Under s->mu. */
static void count_new_entry(cache_shard *s, centry *e) {
    usage_add(s, e->charge);
    s->count++;
    if (s->count > s->tsize) table_grow(s);
}

cache_handle *block_cache_insert_tagged(block_cache *c, uint64_t file, uint64_t offset,
                                        void *value, size_t charge,
                                        void (*deleter)(void *value), uint64_t tag) {
    uint32_t h = cache_hash(file, offset);
    /* refs: the cache + the returned handle */
    centry *e = entry_new(file, offset, h, value, charge, deleter, tag, 2);
    if (!e) return NULL;
    cache_shard *s = shard_of(c, h);
    uint32_t t = now_ms();
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
    if (ghost_take(s, file, offset, h)) ring_insert(s, e);
    else probation_insert(s, e, t);
    count_new_entry(s, e);
    evict_locked(c, s, cap, &dead);
    pthread_mutex_unlock(&s->mu);
    free_entries(dead);
    return e;
}

int block_cache_has_room(block_cache *c, uint64_t file, uint64_t offset, size_t charge) {
    return usage_of(shard_of(c, cache_hash(file, offset))) + charge <= shard_capacity(c);
}

int block_cache_insert_warm(block_cache *c, uint64_t file, uint64_t offset, void *value,
                            size_t charge, void (*deleter)(void *value), uint64_t tag) {
    uint32_t h = cache_hash(file, offset);
    cache_shard *s = shard_of(c, h);
    size_t cap = shard_capacity(c);
    if (usage_of(s) + charge > cap) return 0; /* (checked again under the lock) */
    centry *e = entry_new(file, offset, h, value, charge, deleter, tag, 1); /* the cache's ref */
    if (!e) return 0;
    pthread_mutex_lock(&s->mu);
    centry **slot = find_slot(s, file, offset, h);
    if (*slot || usage_of(s) + charge > cap) {
        pthread_mutex_unlock(&s->mu);
        free(e);
        return 0;
    }
    *slot = e;
    ring_insert(s, e);
    count_new_entry(s, e);
    pthread_mutex_unlock(&s->mu);
    return 1;
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
    evict_locked(c, s, cap, &dead);
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
        evict_locked(c, s, cap, &dead);
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
    st->pinned = pinned > 0 ? (uint64_t)pinned : 0;
    st->capacity = c->capacity;
}
