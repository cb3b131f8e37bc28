/* table_cache.c - LRU of open sst_readers keyed by file number (contract in table_cache.h).
 * The cache holds one reference per reader it keeps; table_cache_get hands out another.
 * Opening a table (I/O) happens outside the mutex; if two threads open the same file at once,
 * the first insert wins and the other reader is dropped. */
#include "table_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tc_node {
    struct tc_node *hnext;
    struct tc_node *prev, *next;    /* LRU list: head.next = oldest */
    uint64_t number;
    sst_reader *r;
} tc_node;

struct table_cache {
    pthread_mutex_t mu;
    char *dir;
    int max_open;
    block_cache *bc;
    tc_node **table;
    size_t tsize;
    int count;
    tc_node lru;
};

void table_file_name(char *buf, size_t cap, const char *dir, uint64_t file_number) {
    snprintf(buf, cap, "%s/%06llu.sst", dir, (unsigned long long)file_number);
}

table_cache *table_cache_new(const char *dir, int max_open, block_cache *bc) {
    table_cache *tc = calloc(1, sizeof(*tc));
    if (!tc) return NULL;
    tc->dir = strdup(dir);
    tc->max_open = max_open < 1 ? 1 : max_open;
    tc->bc = bc;
    tc->tsize = 64;
    while (tc->tsize < (size_t)tc->max_open && tc->tsize < (1u << 20)) tc->tsize *= 2;
    tc->table = calloc(tc->tsize, sizeof(*tc->table));
    if (!tc->dir || !tc->table) {
        free(tc->dir);
        free(tc->table);
        free(tc);
        return NULL;
    }
    pthread_mutex_init(&tc->mu, NULL);
    tc->lru.next = tc->lru.prev = &tc->lru;
    return tc;
}

static size_t slot_of(const table_cache *tc, uint64_t n) {
    uint64_t x = n * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(x >> 32) & (tc->tsize - 1);
}

static tc_node **find(table_cache *tc, uint64_t n) {
    tc_node **p = &tc->table[slot_of(tc, n)];
    while (*p && (*p)->number != n) p = &(*p)->hnext;
    return p;
}

static void lru_unlink(tc_node *e) {
    e->prev->next = e->next;
    e->next->prev = e->prev;
}
static void lru_append(table_cache *tc, tc_node *e) {
    e->next = &tc->lru;
    e->prev = tc->lru.prev;
    e->prev->next = e;
    e->next->prev = e;
}

/* Removes e from table and list; returns its reader (caller unrefs outside the lock). */
static sst_reader *remove_node(table_cache *tc, tc_node *e) {
    tc_node **p = find(tc, e->number);
    *p = e->hnext;
    lru_unlink(e);
    tc->count--;
    sst_reader *r = e->r;
    free(e);
    return r;
}

void table_cache_free(table_cache *tc) {
    if (!tc) return;
    while (tc->lru.next != &tc->lru) sst_reader_unref(remove_node(tc, tc->lru.next));
    pthread_mutex_destroy(&tc->mu);
    free(tc->table);
    free(tc->dir);
    free(tc);
}

int table_cache_peek(table_cache *tc, uint64_t file_number, sst_reader **out) {
    *out = NULL;
    pthread_mutex_lock(&tc->mu);
    tc_node *e = *find(tc, file_number);
    if (e) {
        lru_unlink(e);
        lru_append(tc, e);
        sst_reader_ref(e->r);
        *out = e->r;
    }
    pthread_mutex_unlock(&tc->mu);
    return e ? 0 : LSM_ENOTFOUND;
}

int table_cache_get(table_cache *tc, uint64_t file_number, sst_reader **out) {
    if (table_cache_peek(tc, file_number, out) == 0) return 0;
    char path[4096];
    table_file_name(path, sizeof(path), tc->dir, file_number);
    sst_reader *r;
    int rc = sst_reader_open(path, file_number, tc->bc, &r);
    if (rc) return rc;
    tc_node *n = malloc(sizeof(*n));
    if (!n) {
        sst_reader_unref(r);
        return LSM_ENOMEM;
    }
    sst_reader *victims[8];
    int nv = 0;
    pthread_mutex_lock(&tc->mu);
    tc_node **slot = find(tc, file_number);
    if (*slot) { /* opened concurrently by another thread: use that one */
        free(n);
        tc_node *e = *slot;
        lru_unlink(e);
        lru_append(tc, e);
        sst_reader_ref(e->r);
        *out = e->r;
        pthread_mutex_unlock(&tc->mu);
        sst_reader_unref(r);
        return 0;
    }
    n->number = file_number;
    n->r = r;
    n->hnext = NULL;
    *slot = n;
    lru_append(tc, n);
    tc->count++;
    sst_reader_ref(r); /* the caller's reference */
    while (tc->count > tc->max_open && nv < 8 && tc->lru.next != n)
        victims[nv++] = remove_node(tc, tc->lru.next);
    pthread_mutex_unlock(&tc->mu);
    for (int i = 0; i < nv; i++) sst_reader_unref(victims[i]);
    *out = r;
    return 0;
}

void table_cache_evict(table_cache *tc, uint64_t file_number) {
    sst_reader *r = NULL;
    pthread_mutex_lock(&tc->mu);
    tc_node *e = *find(tc, file_number);
    if (e) r = remove_node(tc, e);
    pthread_mutex_unlock(&tc->mu);
    if (r) sst_reader_unref(r);
}

int table_cache_open_count(table_cache *tc) {
    pthread_mutex_lock(&tc->mu);
    int n = tc->count;
    pthread_mutex_unlock(&tc->mu);
    return n;
}
