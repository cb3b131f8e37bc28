/* strmap.h - a hash table from byte strings to pointers (separate chaining, power-of-two
 * buckets, a seeded hash so that user-chosen keys cannot be made to collide on purpose).
 * Used by pub/sub (channels, patterns, a client's subscriptions) and client-side caching (the
 * tracking table). Not thread-safe: one owner thread (the loop thread for all current users).
 *
 * Keys are copied into the table (binary safe, any length); values are opaque pointers owned by
 * the caller. Iteration order is the bucket order (unspecified, like Redis's dict): callers that
 * need an order sort. */
#ifndef KEVO_STRMAP_H
#define KEVO_STRMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct strmap strmap;

/* An empty table; NULL when out of memory. */
strmap *strmap_new(void);
/* Frees the table and its keys; free_val (may be NULL) is called on every value first. */
void strmap_free(strmap *m, void (*free_val)(void *val));
size_t strmap_size(const strmap *m);

/* Finds key: 1 and *val set (val may be NULL), or 0 when absent. */
int strmap_find(const strmap *m, const void *key, size_t len, void **val);
/* Adds key -> val when absent: 1 added, 0 already present (nothing changed), -1 out of memory. */
int strmap_add(strmap *m, const void *key, size_t len, void *val);
/* Adds key -> val, or replaces the value of a present key: 1 added, 0 replaced, -1 out of
 * memory. */
int strmap_set(strmap *m, const void *key, size_t len, void *val);
/* Removes key: 1 and *old set to its value (old may be NULL), or 0 when absent. Never shrinks
 * or moves other entries, so it is safe during an iteration (strmap_next). */
int strmap_del(strmap *m, const void *key, size_t len, void **old);

/* Iteration: zero an iterator, then call strmap_next until it returns 0. The entry returned last
 * may be deleted before the next call; adding entries during an iteration is not allowed. The
 * key pointer stays valid until that entry is deleted or the table freed. */
typedef struct strmap_iter {
    size_t bucket;
    void *next;
} strmap_iter;
int strmap_next(strmap *m, strmap_iter *it, const char **key, size_t *len, void **val);

/* A pseudo-random entry (eviction): 1 and the entry, or 0 when empty. Roughly uniform. */
int strmap_random(const strmap *m, uint64_t rnd, const char **key, size_t *len, void **val);

/* The table's seeded 64-bit hash of key (exposed for tests). */
uint64_t strmap_hash(const void *key, size_t len);
#endif
