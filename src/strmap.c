/* strmap.c - byte-string keyed hash table (see strmap.h).
 * Each entry is one allocation: header + key bytes. Buckets double when the table holds more
 * entries than buckets; they never shrink (a table emptied by unsubscribes keeps its buckets,
 * like a Redis dict between resizes) except that an empty table of more than 64 buckets is
 * reset to its initial size on the next add. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    size_t len;
    char key[];
} entry;

struct strmap {
    entry **b;
    size_t nb;   /* power of two */
    size_t n;
};

#define STRMAP_INIT 8

static uint64_t hash_seed;

static void seed_once(void) {
    if (hash_seed) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                 ((uint64_t)getpid() << 32);
    hash_seed = s | 1;
}

uint64_t strmap_hash(const void *key, size_t len) {
    seed_once();
    /* FNV-1a over 8-byte words, seeded, with a murmur3 finalizer for the avalanche */
    const unsigned char *p = key;
    uint64_t h = hash_seed ^ (len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len--) h = (h ^ *p++) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

strmap *strmap_new(void) {
    strmap *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->b = calloc(STRMAP_INIT, sizeof(*m->b));
    if (!m->b) {
        free(m);
        return NULL;
    }
    m->nb = STRMAP_INIT;
    return m;
}

void strmap_free(strmap *m, void (*free_val)(void *val)) {
    if (!m) return;
    for (size_t i = 0; i < m->nb; i++) {
        entry *e = m->b[i];
        while (e) {
            entry *next = e->next;
            if (free_val) free_val(e->val);
            free(e);
            e = next;
        }
    }
    free(m->b);
    free(m);
}

size_t strmap_size(const strmap *m) { return m ? m->n : 0; }

static entry *lookup(const strmap *m, const void *key, size_t len, uint64_t h) {
    for (entry *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0)) return e;
    return NULL;
}

int strmap_find(const strmap *m, const void *key, size_t len, void **val) {
    if (!m || m->n == 0) return 0;
    entry *e = lookup(m, key, len, strmap_hash(key, len));
    if (!e) return 0;
    if (val) *val = e->val;
    return 1;
}

static int resize(strmap *m, size_t nb) {
    entry **b = calloc(nb, sizeof(*b));
    if (!b) return -1;
    for (size_t i = 0; i < m->nb; i++) {
        entry *e = m->b[i];
        while (e) {
            entry *next = e->next;
            size_t s = e->hash & (nb - 1);
            e->next = b[s];
            b[s] = e;
            e = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

int strmap_add(strmap *m, const void *key, size_t len, void *val) {
    uint64_t h = strmap_hash(key, len);
    if (lookup(m, key, len, h)) return 0;
    if (m->n == 0 && m->nb > 64) resize(m, STRMAP_INIT); /* best effort */
    if (m->n >= m->nb && resize(m, m->nb * 2) < 0 && m->n >= 4 * m->nb) return -1;
    entry *e = malloc(sizeof(*e) + (len ? len : 1));
    if (!e) return -1;
    e->hash = h;
    e->val = val;
    e->len = len;
    if (len) memcpy(e->key, key, len);
    size_t s = h & (m->nb - 1);
    e->next = m->b[s];
    m->b[s] = e;
    m->n++;
    return 1;
}

int strmap_set(strmap *m, const void *key, size_t len, void *val) {
    entry *e = lookup(m, key, len, strmap_hash(key, len));
    if (e) {
        e->val = val;
        return 0;
    }
    return strmap_add(m, key, len, val);
}

int strmap_del(strmap *m, const void *key, size_t len, void **old) {
    if (!m || m->n == 0) return 0;
    uint64_t h = strmap_hash(key, len);
    entry **pp = &m->b[h & (m->nb - 1)];
    for (entry *e = *pp; e; pp = &e->next, e = e->next) {
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0)) {
            *pp = e->next;
            if (old) *old = e->val;
            free(e);
            m->n--;
            return 1;
        }
    }
    return 0;
}

int strmap_next(strmap *m, strmap_iter *it, const char **key, size_t *len, void **val) {
    if (!m) return 0;
    entry *e = it->next;
    while (!e) {
        if (it->bucket >= m->nb) return 0;
        e = m->b[it->bucket++];
    }
    it->next = e->next; /* fetched now: the caller may delete e */
    if (key) *key = e->key;
    if (len) *len = e->len;
    if (val) *val = e->val;
    return 1;
}

int strmap_random(const strmap *m, uint64_t rnd, const char **key, size_t *len, void **val) {
    if (!m || m->n == 0) return 0;
    /* a random non-empty bucket, then a random entry of its chain */
    size_t start = (size_t)(rnd & (m->nb - 1));
    for (size_t i = 0; i < m->nb; i++) {
        entry *e = m->b[(start + i) & (m->nb - 1)];
        if (!e) continue;
        size_t chain = 0;
        for (entry *x = e; x; x = x->next) chain++;
        size_t pick = (size_t)((rnd >> 32) % chain);
        while (pick--) e = e->next;
        if (key) *key = e->key;
        if (len) *len = e->len;
        if (val) *val = e->val;
        return 1;
    }
    return 0;
}
