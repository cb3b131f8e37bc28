/* memtable.c - arena-backed skiplist of internal keys (see memtable.h).
 *
 * Node layout (one arena allocation per entry, 8-aligned):
 *   uint32 ikl | uint32 vl | uint8 height | pad | next[height] | ikey (ukey||fixed64 trailer) | value
 * Order: ikey_compare (user key ascending, then trailer descending = newest first).
 * Max height 12, branching factor 1/4.
 *
 * Threads: a single writer (the owner). Inserts set a new node's next pointers before linking
 * it in, level 0 first, so a reader on the owner thread between inserts always sees a
 * well-formed list. Readers on other threads only exist after the memtable was handed over
 * through a release/acquire queue and is never written again, so plain loads/stores suffice. */
#include "memtable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dbformat.h"
#include "lsm.h"

#define MT_MAX_HEIGHT 12

typedef struct mt_node mt_node;
struct mt_node {
    uint32_t ikl;
    uint32_t vl;
    uint32_t height;
    mt_node *next[]; /* height entries, then ikey bytes, then value bytes */
};

struct memtable {
    atomic_int refs;
    int height;                    /* current max height of the list (owner writes) */
    uint32_t rnd;                  /* xorshift state for node heights */
    atomic_uint_fast64_t entries;
    arena arena;
    mt_node *head;                 /* sentinel with MT_MAX_HEIGHT links */
};

static inline const char *node_key(const mt_node *n) {
    return (const char *)&n->next[n->height];
}
static inline const char *node_val(const mt_node *n) { return node_key(n) + n->ikl; }

memtable *memtable_new(void) {
    memtable *m = malloc(sizeof(*m));
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->height = 1;
    m->rnd = 0x9e3779b9u;
    atomic_init(&m->entries, 0);
    arena_init(&m->arena);
    m->head = arena_alloc_aligned(&m->arena, sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(mt_node *));
    if (!m->head) {
        arena_destroy(&m->arena);
        free(m);
        return NULL;
    }
    m->head->ikl = 0;
    m->head->vl = 0;
    m->head->height = MT_MAX_HEIGHT;
    for (int i = 0; i < MT_MAX_HEIGHT; i++) m->head->next[i] = NULL;
    return m;
}

void memtable_ref(memtable *m) { atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed); }

void memtable_unref(memtable *m) {
    if (!m) return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        arena_destroy(&m->arena);
        free(m);
    }
}

size_t memtable_memory_usage(const memtable *m) { return arena_memory_usage(&m->arena); }

uint64_t memtable_entries(const memtable *m) {
    return atomic_load_explicit(&((memtable *)m)->entries, memory_order_relaxed);
}

/* Compares node n with the internal key (ukey, trailer): <0 if n sorts first. */
static inline int node_cmp(const mt_node *n, const char *ukey, size_t ukl, uint64_t trailer) {
    const char *k = node_key(n);
    size_t nukl = n->ikl - IKEY_TRAILER;
    size_t min = nukl < ukl ? nukl : ukl;
    int r = min ? memcmp(k, ukey, min) : 0;
    if (r) return r;
    if (nukl != ukl) return nukl < ukl ? -1 : 1;
    uint64_t t = decode_fixed64(k + nukl);
    return t > trailer ? -1 : t < trailer ? 1 : 0;
}

/* First node >= (ukey, trailer); fills prev[] (per level, the last node < key) when given. */
static mt_node *find_ge(const memtable *m, const char *ukey, size_t ukl, uint64_t trailer,
                        mt_node **prev) {
    mt_node *x = m->head;
    int level = m->height - 1;
    mt_node *last_cmp = NULL; /* a node already known to be >= key at a higher level */
    for (;;) {
        mt_node *nx = x->next[level];
        if (nx && nx != last_cmp && node_cmp(nx, ukey, ukl, trailer) < 0) {
            x = nx;
        } else {
            if (prev) prev[level] = x;
            if (level == 0) return nx;
            last_cmp = nx;
            level--;
        }
    }
}

static inline int random_height(memtable *m) {
    int h = 1;
    uint32_t r = m->rnd;
    r ^= r << 13;
    r ^= r >> 17;
    r ^= r << 5;
    m->rnd = r;
    /* 2 bits per level: continue with probability 1/4 */
    while (h < MT_MAX_HEIGHT && (r & 3) == 0) {
        h++;
        r >>= 2;
    }
    return h;
}

int memtable_add(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                 const void *val, size_t vl) {
    if (ukl > UINT32_MAX - IKEY_TRAILER || vl > UINT32_MAX) return LSM_EINVAL;
    size_t ikl = ukl + IKEY_TRAILER;
    int h = random_height(m);
    size_t sz = sizeof(mt_node) + (size_t)h * sizeof(mt_node *) + ikl + vl;
    mt_node *n = arena_alloc_aligned(&m->arena, sz);
    if (!n) return LSM_ENOMEM;
    n->ikl = (uint32_t)ikl;
    n->vl = (uint32_t)vl;
    n->height = (uint32_t)h;
    char *k = (char *)&n->next[h];
    uint64_t trailer = ikey_pack_trailer(seq, kind);
    if (ukl) memcpy(k, ukey, ukl);
    encode_fixed64(k + ukl, trailer);
    if (vl) memcpy(k + ikl, val, vl);

    mt_node *prev[MT_MAX_HEIGHT];
    find_ge(m, (const char *)k, ukl, trailer, prev);
    if (h > m->height) {
        for (int i = m->height; i < h; i++) prev[i] = m->head;
        m->height = h;
    }
    /* Set the new node's links first, then publish it bottom-up. */
    for (int i = 0; i < h; i++) n->next[i] = prev[i]->next[i];
    for (int i = 0; i < h; i++) prev[i]->next[i] = n;
    atomic_store_explicit(&m->entries,
                          atomic_load_explicit(&m->entries, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return 0;
}

int memtable_get(memtable *m, const void *ukey, size_t ukl, uint64_t snapshot, const char **val,
                 size_t *vl) {
    if (snapshot > MAX_SEQUENCE) snapshot = MAX_SEQUENCE;
    mt_node *n = find_ge(m, ukey, ukl, ikey_pack_trailer(snapshot, KIND_VALUE), NULL);
    if (!n || n->ikl - IKEY_TRAILER != ukl) return MEMTABLE_NOTFOUND;
    const char *k = node_key(n);
    if (ukl && memcmp(k, ukey, ukl) != 0) return MEMTABLE_NOTFOUND;
    int kind = (int)(decode_fixed64(k + ukl) & 0xff);
    if (kind == KIND_DELETE) return MEMTABLE_DELETED;
    *val = k + n->ikl;
    *vl = n->vl;
    return MEMTABLE_FOUND;
}

/* ---- iterator ---- */

typedef struct mt_iter {
    internal_iter base;
    memtable *m;
    mt_node *cur;
} mt_iter;

static int mti_valid(internal_iter *it) { return ((mt_iter *)it)->cur != NULL; }
static void mti_seek_first(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->cur = i->m->head->next[0];
}
static void mti_seek(internal_iter *it, const char *ikey, size_t ikl) {
    mt_iter *i = (mt_iter *)it;
    if (ikl < IKEY_TRAILER) { /* not an internal key: treat as user key with the max trailer */
        i->cur = find_ge(i->m, ikey, ikl, UINT64_MAX, NULL);
        return;
    }
    size_t ukl = ikl - IKEY_TRAILER;
    i->cur = find_ge(i->m, ikey, ukl, decode_fixed64(ikey + ukl), NULL);
}
static void mti_next(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    if (i->cur) i->cur = i->cur->next[0];
}
static const char *mti_key(internal_iter *it, size_t *ikl) {
    mt_iter *i = (mt_iter *)it;
    *ikl = i->cur->ikl;
    return node_key(i->cur);
}
static const char *mti_value(internal_iter *it, size_t *vl) {
    mt_iter *i = (mt_iter *)it;
    *vl = i->cur->vl;
    return node_val(i->cur);
}
static int mti_status(internal_iter *it) {
    (void)it;
    return 0;
}
static void mti_destroy(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    memtable_unref(i->m);
    free(i);
}

static const internal_iter_ops mt_iter_ops = {
    .valid = mti_valid,
    .seek_first = mti_seek_first,
    .seek = mti_seek,
    .next = mti_next,
    .key = mti_key,
    .value = mti_value,
    .status = mti_status,
    .destroy = mti_destroy,
};

internal_iter *memtable_iter_new(memtable *m) {
    mt_iter *i = malloc(sizeof(*i));
    if (!i) return NULL;
    i->base.ops = &mt_iter_ops;
    memtable_ref(m);
    i->m = m;
    i->cur = NULL;
    return &i->base;
}
