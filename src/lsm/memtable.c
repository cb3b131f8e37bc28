/* memtable.c - arena-backed skiplist of internal keys (see memtable.h).
 *
 * Node layout (one arena allocation per entry, 8-aligned):
 *   prev0 | u32 ikl | u32 vl | u32 height | u32 vcap | next[height] | ikey (ukey||trailer) | value
 * A node pointer points at ikl; prev0 (the level-0 predecessor) sits just before it, so the bytes
 * a descent reads (header, tower, key) stay as compact as without it. prev0 lets a new version
 * of a key already in the table, when its random height is 1, be linked just before the key's
 * newest node without a descent, and makes an iterator's prev() one load (the list is doubly
 * linked at level 0: every linked node's prev0 is the node whose next[0] points at it).
 * Order: ikey_compare (user key ascending, then trailer descending = newest first).
 * Max height 12, branching factor 1/4.
 *
 * Hash index: open addressing, power-of-two capacity, linear probing, each slot {node, hash64}
 * (node NULL = empty). It maps a user key to the NEWEST node of that key, so memtable_get at the
 * latest snapshot is one probe sequence (the full 64-bit hash is compared before the key bytes,
 * so a collision in the slot index rarely touches a node). The table doubles when more than 7/10
 * of the slots would be used (load stays in 0.35..0.7). It is made of huge pages from hugemem's
 * pool (index_pages_new; one malloc'ed block while small), counted in
 * memtable_memory_usage, freed with the memtable. Slots are never removed (tombstones are nodes).
 *
 * Deferred linking: a new entry goes into the hash index at once (so memtable_get at the latest
 * snapshot sees it) but, unless the prev0 fast path applies, only into pending[] (its prev0 is
 * NULL while unlinked). When pending[] fills (MT_PENDING_MAX) it is sorted and becomes the
 * merging[] batch, which is linked one group (MT_GROUP nodes) per MT_GROUP later additions, so
 * the cost of a batch (~1.5 ms for 2048 keys) is paced over the adds that refill pending[]
 * instead of stalling one of them; the group's searches run interleaved so their cache misses
 * overlap (find_group), each starting from the splice (the predecessors of the node linked last)
 * at the lowest level where that still brackets its key, so appends of adjacent keys (stream
 * entries, list pushes) link without any search, and the group's nodes serve as predecessors of
 * the ones after them (link_group). Before any ordered access (memtable_iter_new, an older-snapshot
 * memtable_get, memtable_seal) everything unlinked is linked at once. Without a linker all of it
 * happens on the owner thread; with one (memtable_attach_linker, "Background linking" below) a
 * thread of its own sorts and links the new nodes, and the owner only pushes them on a ring.
 * lsm.c seals a memtable before it becomes immutable, so readers on other threads find nothing
 * unlinked.
 *
 * Overwrite in place (memtable_put with a policy from lsm.c, see memtable.h): a new version of a
 * key whose newest node is in the active memtable, with no iterator alive, replaces that node's
 * trailer and value (the value must fit in vcap, the bytes the node was allocated with) instead
 * of adding a node: a hot key (a counter, a collection's metadata record) rewritten many times
 * costs one node, not one per write, and a pop or delete of a record written a little earlier
 * (a queue's element, a set member) turns its node into the tombstone instead of adding one
 * (which took a random-position insert, and the list linking that goes with it). A replaced node
 * that predates the open write group is first copied to the group's undo log (undo), which a
 * rollback applies newest first and a group's end or start clears; a replaced node that was
 * committed is first copied to the commit undo log (cundo), which a failed commit applies before
 * the uncommitted writes are dropped, and a successful commit clears. memtable_copy_upto carries
 * cundo over to the copies of its nodes (copies keep their node's vcap, so the old value fits).
 *
 * Threads: a single writer of the index, the nodes' keys and values (the owner), and a single
 * writer of the list (the owner, or whoever holds the attached linker's mutex). Inserts set a new
 * node's next pointers before linking it in, level 0 first, with release stores that readers
 * load with acquire, so a reader (the owner, while a linker links) always sees a well-formed
 * list. The hash index is rebuilt (grown) only inside memtable_add, on the owner
 * thread, so owner-thread readers never see it half-built. Readers on other threads only exist
 * after the memtable was handed over through a release/acquire queue and is never written
 * again, so plain loads/stores suffice for the list and the index alike. */
#include "memtable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dbformat.h"
#include "hash.h"
#include "hugemem.h"
#include "lsm.h"
#include "worker.h"

#define MT_MAX_HEIGHT 12

typedef struct mt_node mt_node;
struct mt_node {
    uint32_t ikl;
    uint32_t vl;
    uint32_t height;
    uint32_t vcap;   /* bytes reserved for the value (>= vl): an overwrite in place may use them */
    mt_node *next[]; /* height entries, then ikey bytes, then value bytes */
};

/* One overwrite in place that a rollback may have to take back. */
typedef struct mt_undo {
    mt_node *node;
    uint64_t trailer; /* the node's trailer before the overwrite */
    uint32_t vl;      /* its value length then */
    size_t off;       /* its value bytes: bytes[off .. off + vl) of its log */
} mt_undo;

/* A log of overwrites in place, applied newest first to take them back. */
typedef struct mt_undo_log {
    mt_undo *recs;
    size_t n, cap;
    char *bytes; /* the old values */
    size_t len, bytes_cap;
} mt_undo_log;

typedef struct mt_slot {
    mt_node *node; /* newest node of its user key; NULL: empty slot */
    uint64_t hash; /* key_hash64 of the user key (after hash_mask) */
} mt_slot;

/* Initial capacity (1 KiB): small, because lsm.c rotates when arena + index exceed the memtable
 * size by more than one arena block; the first doublings are cheap. */
#define MT_INDEX_MIN_SLOTS 64u

/* Bound of the pending (not yet linked) nodes: merged into the list, sorted, when it fills. */
#define MT_PENDING_MAX 2048

/* A node to link, with its trailer as it was when it was added (the owner may overwrite the
 * node in place while a linker thread links it: the linker never reads a trailer that can
 * change, see "Background linking") and the key's newest node before it (or NULL). */
typedef struct mt_link {
    mt_node *n;
    uint64_t t;
    mt_node *old;
} mt_link;

/* Background linking (mt_linker): ring of nodes added but not yet linked, and batch bounds. */
#ifndef MT_RING
#define MT_RING 8192        /* entries; a full ring makes the owner link a batch itself, and
                             * bounds what an ordered read links first (~2 ms) */
#endif
#ifndef MT_WAKE_AT
#define MT_WAKE_AT 1024     /* unlinked entries the thread waits for (the owner wakes it then):
                             * bigger sorted batches link with shorter searches */
#endif
#ifndef MT_CONSUME_MAX
#define MT_CONSUME_MAX 4096 /* entries one consume step sorts and links under the mutex */
#endif

struct mt_linker {
    pthread_t thread;
    int started;
    int nice;                 /* added to the thread's niceness when it starts */
    pthread_mutex_t mu;       /* the consumer's: whoever holds it links (thread or owner) */
    pthread_cond_t cv;        /* the sleeping thread waits here (with mu) */
    memtable *target;         /* the memtable whose adds the ring carries (under mu) */
    int stop;                 /* under mu */
    atomic_int sleeping;      /* the thread waits (or is about to) on cv */
    atomic_int owner_waiting; /* the owner wants mu: the thread steps aside between batches */
    atomic_int held;          /* tests: the thread links nothing (mt_linker_debug_hold) */
    _Atomic uint64_t head;    /* entries pushed (owner writes) */
    _Atomic uint64_t tail;    /* entries linked (the consumer writes, under mu) */
    _Atomic uint64_t by_thread, by_owner; /* entries linked by each (stats) */
    _Atomic uint64_t by_idle; /* of by_owner: linked in the owner's idle time (memtable_link_idle) */
    mt_link batch[MT_CONSUME_MAX]; /* the consumer's sort buffer (under mu) */
    mt_link ring[MT_RING];
};

struct memtable {
    atomic_int refs;
    int height;                    /* current max height of the list (owner writes) */
    uint32_t rnd;                  /* xorshift state for node heights */
    atomic_uint_fast64_t entries;
    arena arena;
    mt_node *head;                 /* sentinel with MT_MAX_HEIGHT links */
    mt_node *splice[MT_MAX_HEIGHT]; /* predecessors of the node linked last (link_group), at
                                     * every level: where the next search may start */
    mt_slot **pages;               /* hash index, cap slots in pages (slot_at) */
    size_t cap;                    /* power of two */
    size_t used;                   /* non-empty slots (distinct user keys) */
    uint64_t hash_mask;            /* ANDed into every hash; ~0 except in tests */
    atomic_size_t index_bytes;     /* cap * sizeof(mt_slot), readable from any thread */
    size_t npending;               /* nodes in pending[] (owner writes; 0 once sealed) */
    size_t nmerge, mpos;           /* merging[mpos..nmerge) sorted, not yet linked */
    mt_node **pending, **merging;  /* the two halves of bufs (swapped when pending fills) */
    mt_node *bufs[2][MT_PENDING_MAX]; /* nodes in the index but not yet linked into the list */
    mt_undo_log undo;              /* overwrites in place since memtable_undo_clear (the group's) */
    mt_undo_log cundo;             /* overwrites of committed nodes since memtable_commit_undo_clear */
    uint64_t overwrites;           /* overwrites in place so far (memtable_overwrites) */
    mt_linker *lk;                 /* attached linker (owner thread's field) or NULL */
};

/* The level-0 predecessor (head for the first node), stored just before the node; NULL while
 * the node is not linked. Written by inserts (owner thread), read by them and by iterators'
 * prev() under the same rules as next[] (see Threads above). */
static inline mt_node **node_prev0(mt_node *n) {
    return (mt_node **)(void *)((char *)n - sizeof(mt_node *));
}
/* Allocates a node with room for its prev0 word in front. */
static inline mt_node *node_alloc(arena *a, size_t sz) {
    char *p = arena_alloc_aligned(a, sizeof(mt_node *) + sz);
    return p ? (mt_node *)(void *)(p + sizeof(mt_node *)) : NULL;
}

static inline const char *node_key(const mt_node *n) {
    return (const char *)&n->next[n->height];
}
static inline const char *node_val(const mt_node *n) { return node_key(n) + n->ikl; }

/* ---- hash ---- */

/* The index hashes with key_hash64 (hash.h), the hash the bloom filters use, so lsm_get hashes
 * a key once. Not keyed: the table only serves keys of one memtable and degrades gracefully
 * (probing). */

static inline int node_ukey_eq(const mt_node *n, const void *ukey, size_t ukl) {
    return n->ikl - IKEY_TRAILER == ukl && (ukl == 0 || memcmp(node_key(n), ukey, ukl) == 0);
}

/* The slot holding ukey, or the empty slot where it would go. The table is never full. */
/* Index pages: an index of cap slots is one calloc'ed block below a huge page's worth of slots,
 * else cap / MT_PAGE_SLOTS huge pages from hugemem's pool (hugemem_page_get_zeroed), so a new
 * memtable's index reuses memory already faulted in (by the prefill thread, or by an earlier
 * memtable) instead of faulting fresh memory in on the owner thread. */
#define MT_PAGE_SHIFT 17
#define MT_PAGE_SLOTS ((size_t)1 << MT_PAGE_SHIFT)
_Static_assert(MT_PAGE_SLOTS * sizeof(mt_slot) == HUGEMEM_PAGE, "an index page is a huge page");

static inline mt_slot *slot_in(mt_slot *const *pages, size_t i) {
    return &pages[i >> MT_PAGE_SHIFT][i & (MT_PAGE_SLOTS - 1)];
}
static inline mt_slot *slot_at(const memtable *m, size_t i) { return slot_in(m->pages, i); }

/* Frees the first n pages of an index of cap slots, and its page array. */
static void index_pages_free(mt_slot **pages, size_t n, size_t cap) {
    if (!pages) return;
    for (size_t i = 0; i < n; i++) {
        if (cap < MT_PAGE_SLOTS) free(pages[i]);
        else hugemem_page_put(pages[i]);
    }
    free(pages);
}

static inline size_t index_npages(size_t cap) {
    return cap < MT_PAGE_SLOTS ? 1 : cap >> MT_PAGE_SHIFT;
}

/* A zeroed index of cap slots, or NULL. */
static mt_slot **index_pages_new(size_t cap) {
    size_t n = index_npages(cap);
    mt_slot **pages = malloc(n * sizeof(*pages));
    if (!pages) return NULL;
    for (size_t i = 0; i < n; i++) {
        pages[i] = cap < MT_PAGE_SLOTS ? calloc(cap, sizeof(mt_slot)) : hugemem_page_get_zeroed();
        if (!pages[i]) {
            index_pages_free(pages, i, cap);
            return NULL;
        }
    }
    return pages;
}

static inline mt_slot *index_find(const memtable *m, const void *ukey, size_t ukl, uint64_t h) {
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        mt_slot *s = slot_at(m, i);
        if (!s->node || (s->hash == h && node_ukey_eq(s->node, ukey, ukl))) return s;
    }
}

static int index_alloc(memtable *m, size_t cap) {
    if (cap > SIZE_MAX / sizeof(mt_slot)) return LSM_ENOMEM;
    mt_slot **np = index_pages_new(cap);
    if (!np) return LSM_ENOMEM;
    size_t mask = cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        const mt_slot *s = slot_at(m, i);
        if (!s->node) continue;
        size_t j = (size_t)s->hash & mask;
        while (slot_in(np, j)->node) j = (j + 1) & mask;
        *slot_in(np, j) = *s;
    }
    index_pages_free(m->pages, m->cap ? index_npages(m->cap) : 0, m->cap);
    m->pages = np;
    m->cap = cap;
    atomic_store_explicit(&m->index_bytes, cap * sizeof(mt_slot), memory_order_relaxed);
    return 0;
}

memtable *memtable_new(void) { return memtable_new_for(0); }

/* Index capacity for n distinct keys at a load <= 7/10 (a power of two, at least the minimum). */
static size_t index_cap_for(size_t n) {
    size_t cap = MT_INDEX_MIN_SLOTS;
    while (cap < ((size_t)1 << 40) && (n + 1) * 10 > cap * 7) cap *= 2;
    return cap;
}

memtable *memtable_new_for(size_t expected_keys) {
    memtable *m = malloc(sizeof(*m));
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->height = 1;
    m->rnd = 0x9e3779b9u;
    atomic_init(&m->entries, 0);
    arena_init(&m->arena);
    m->head = node_alloc(&m->arena, sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(mt_node *));
    if (!m->head) {
        arena_destroy(&m->arena);
        free(m);
        return NULL;
    }
    m->head->ikl = 0;
    m->head->vl = 0;
    m->head->height = MT_MAX_HEIGHT;
    m->head->vcap = 0;
    *node_prev0(m->head) = NULL;
    for (int i = 0; i < MT_MAX_HEIGHT; i++) {
        m->head->next[i] = NULL;
        m->splice[i] = m->head;
    }
    m->pages = NULL;
    m->cap = 0;
    m->used = 0;
    m->hash_mask = UINT64_MAX;
    m->npending = 0;
    m->nmerge = m->mpos = 0;
    m->pending = m->bufs[0];
    m->merging = m->bufs[1];
    atomic_init(&m->index_bytes, 0);
    memset(&m->undo, 0, sizeof(m->undo));
    memset(&m->cundo, 0, sizeof(m->cundo));
    m->overwrites = 0;
    m->lk = NULL;
    size_t cap = index_cap_for(expected_keys);
    int rc = index_alloc(m, cap);
    if (rc && cap > MT_INDEX_MIN_SLOTS) rc = index_alloc(m, MT_INDEX_MIN_SLOTS); /* grows later */
    if (rc) {
        arena_destroy(&m->arena);
        free(m);
        return NULL;
    }
    return m;
}

static void detach_linker(memtable *m);

void memtable_ref(memtable *m) { atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed); }

void memtable_unref(memtable *m) {
    if (!m) return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        detach_linker(m); /* the active memtable of a closing engine (owner thread) */
        arena_destroy(&m->arena);
        index_pages_free(m->pages, index_npages(m->cap), m->cap);
        free(m->undo.recs);
        free(m->undo.bytes);
        free(m->cundo.recs);
        free(m->cundo.bytes);
        free(m);
    }
}

size_t memtable_memory_usage(const memtable *m) {
    return arena_memory_usage(&m->arena) + memtable_index_bytes(m);
}

size_t memtable_index_bytes(const memtable *m) {
    return atomic_load_explicit(&((memtable *)m)->index_bytes, memory_order_relaxed);
}

void memtable_debug_limit_hash(memtable *m, uint64_t mask) {
    if (m->used == 0) m->hash_mask = mask;
}

size_t memtable_distinct_keys(const memtable *m) { return m->used; }

uint64_t memtable_entries(const memtable *m) {
    return atomic_load_explicit(&((memtable *)m)->entries, memory_order_relaxed);
}

/* List links (next[], prev0, the list height) are read with acquire loads and published with
 * release stores: with a linker thread (below) the owner's iterators walk the list while the
 * linker links nodes into it, LevelDB's one-writer/many-readers skiplist rule. */
static inline mt_node *link_load(mt_node *const *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void link_store(mt_node **p, mt_node *v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
static inline int list_height(const memtable *m) { return __atomic_load_n(&m->height, __ATOMIC_ACQUIRE); }

/* Compares node n with the internal key (ukey, trailer): <0 if n sorts first. n's trailer is
 * read only when its user key equals ukey. */
static inline int node_cmp(const mt_node *n, const char *ukey, size_t ukl, uint64_t trailer) {
    const char *k = node_key(n);
    size_t nukl = n->ikl - IKEY_TRAILER;
    size_t min = nukl < ukl ? nukl : ukl;
    int r = bytes_compare(k, ukey, min);
    if (r) return r;
    if (nukl != ukl) return nukl < ukl ? -1 : 1;
    uint64_t t = decode_fixed64(k + nukl);
    return t > trailer ? -1 : t < trailer ? 1 : 0;
}

/* Descents prefetch (cpu_prefetch) the node below (the next candidate if the current
 * comparison says "go down") so its miss overlaps the miss on the node to the right being
 * compared. */

/* First node >= (ukey, trailer); fills prev[] (per level, the last node < key) when given. */
static mt_node *find_ge(const memtable *m, const char *ukey, size_t ukl, uint64_t trailer,
                        mt_node **prev) {
    mt_node *x = m->head;
    int level = list_height(m) - 1;
    mt_node *last_cmp = NULL; /* a node already known to be >= key at a higher level */
    for (;;) {
        mt_node *nx = link_load(&x->next[level]);
        if (level > 0) cpu_prefetch(link_load(&x->next[level - 1]));
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

/* Last node of the list (NULL when empty): rightmost at each level, top down. */
static mt_node *find_last(const memtable *m) {
    mt_node *x = m->head;
    for (int level = list_height(m) - 1; level >= 0; level--) {
        mt_node *nx;
        while ((nx = link_load(&x->next[level])) != NULL) x = nx;
    }
    return x == m->head ? NULL : x;
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

/* Links n into the list after the predecessors prev[] (prev[i]: the last node < n at level i,
 * for i < m->height). Sets n's links first, then publishes it bottom-up. Leaves prev[i] = n for
 * the levels n spans. The linking thread only. */
static void link_node(memtable *m, mt_node *n, mt_node **prev) {
    int h = (int)n->height;
    if (h > m->height) {
        for (int i = m->height; i < h; i++) prev[i] = m->head;
        __atomic_store_n(&m->height, h, __ATOMIC_RELEASE);
    }
    for (int i = 0; i < h; i++) n->next[i] = link_load(&prev[i]->next[i]);
    *node_prev0(n) = prev[0];
    if (n->next[0]) link_store(node_prev0(n->next[0]), n);
    for (int i = 0; i < h; i++) {
        link_store(&prev[i]->next[i], n);
        prev[i] = n;
    }
}

/* Links n right after p at level 0 only (n's upper links stay unused: no search reaches n
 * above level 0). For a node whose place is known: just before an older version of its key,
 * or just after a newer one. The linking thread only. */
static void link_after0(mt_node *p, mt_node *n) {
    mt_node *s = link_load(&p->next[0]);
    for (uint32_t i = 1; i < n->height; i++) n->next[i] = NULL;
    n->next[0] = s;
    *node_prev0(n) = p;
    if (s) link_store(node_prev0(s), n);
    link_store(&p->next[0], n);
}

static inline uint64_t node_trailer(const mt_node *n) {
    return decode_fixed64(node_key(n) + n->ikl - IKEY_TRAILER);
}

/* Order of (a's user key, trailer ta) against (b's user key, tb). */
static inline int node_cmp_keys(const mt_node *a, uint64_t ta, const mt_node *b, uint64_t tb) {
    size_t al = a->ikl - IKEY_TRAILER, bl = b->ikl - IKEY_TRAILER;
    int r = bytes_compare(node_key(a), node_key(b), al < bl ? al : bl);
    if (r) return r;
    if (al != bl) return al < bl ? -1 : 1;
    return ta > tb ? -1 : ta < tb ? 1 : 0;
}

static inline int node_same_ukey(const mt_node *a, const mt_node *b) {
    return a->ikl == b->ikl && memcmp(node_key(a), node_key(b), a->ikl - IKEY_TRAILER) == 0;
}

/* Order of two links by internal key (their recorded trailers): for sorting a batch. */
static int link_cmp(const void *a, const void *b) {
    const mt_link *x = a, *y = b;
    return node_cmp_keys(x->n, x->t, y->n, y->t);
}

static int pending_cmp(const void *a, const void *b) {
    const mt_node *x = *(mt_node *const *)a, *y = *(mt_node *const *)b;
    return node_cmp_keys(x, node_trailer(x), y, node_trailer(y));
}

/* One search of an interleaved group (find_group). */
typedef struct mt_search {
    mt_node *x;        /* last node < key at the current level */
    mt_node *last_cmp; /* a node already known to be >= key at a higher level */
    const char *k;
    size_t ukl;
    uint64_t t;
    int level;         /* < 0: done */
} mt_search;

#define MT_GROUP 32

/* The lowest level L such that at every level l >= L the splice's node is < the key and its
 * successor at l is not (the list as it is now: nodes linked since the splice was saved are
 * seen, none is ever removed). A search may then start from splice[L] at level L - 1 with
 * splice[l] the predecessors for l >= L; L == 0: the splice is the whole answer (an append
 * right after the node linked last); L == m->height: search from the head. */
static int splice_level(const memtable *m, const char *k, size_t ukl, uint64_t t) {
    int from = m->height;
    for (int l = m->height - 1; l >= 0; l--) {
        mt_node *p = m->splice[l];
        if (p != m->head && node_cmp(p, k, ukl, t) >= 0) break;
        mt_node *nx = link_load(&p->next[l]);
        if (nx && node_cmp(nx, k, ukl, t) < 0) break;
        from = l;
    }
    return from;
}

/* The find_ge descents of g (<= MT_GROUP) links' keys, run round-robin one step at a time: each
 * step prefetches the node its search compares next, so the cache misses of the g searches
 * overlap instead of following one another. Fills prevs[j][level] for level < m->height. */
static void find_group(const memtable *m, const mt_link *e, int g,
                       mt_node *(*prevs)[MT_MAX_HEIGHT]) {
    mt_search s[MT_GROUP];
    int active = g;
    for (int j = 0; j < g; j++) {
        s[j].last_cmp = NULL;
        s[j].k = node_key(e[j].n);
        s[j].ukl = e[j].n->ikl - IKEY_TRAILER;
        s[j].t = e[j].t;
        int from = splice_level(m, s[j].k, s[j].ukl, s[j].t);
        for (int l = from; l < m->height; l++) prevs[j][l] = m->splice[l];
        s[j].x = from < m->height ? m->splice[from] : m->head;
        s[j].level = from - 1;
        if (from == 0) active--; /* the splice is the answer */
    }
    while (active) {
        for (int j = 0; j < g; j++) {
            mt_search *q = &s[j];
            if (q->level < 0) continue;
            mt_node *nx = link_load(&q->x->next[q->level]);
            if (nx && nx != q->last_cmp && node_cmp(nx, q->k, q->ukl, q->t) < 0) {
                q->x = nx;
                cpu_prefetch(link_load(&nx->next[q->level]));
            } else {
                prevs[j][q->level] = q->x;
                q->last_cmp = nx;
                if (--q->level < 0) {
                    active--;
                } else {
                    cpu_prefetch(link_load(&q->x->next[q->level]));
                }
            }
        }
    }
}

/* Links e[0..g) (sorted by internal key, distinct user keys when a linker thread links, g <=
 * MT_GROUP, not linked) into the list: their searches run interleaved (find_group), then they
 * are linked in ascending order. A node's predecessor at level l is the later of its searched
 * one (the last node of the list as it was < the key) and the group's node linked last at level
 * l (every group node linked before it is smaller, and nothing else was linked since the
 * search): one comparison per level, so a group of adjacent keys (appends: stream entries, list
 * pushes) costs no walk over its own nodes. The linking thread only. */
static void link_group(memtable *m, const mt_link *e, int g) {
    mt_node *prevs[MT_GROUP][MT_MAX_HEIGHT];
    mt_node *last[MT_MAX_HEIGHT]; /* the group's node linked last at each level (< linked_h) */
    uint64_t last_t[MT_MAX_HEIGHT];
    int hs = m->height; /* levels searched */
    find_group(m, e, g, prevs);
    int linked_h = 0;   /* max height of the group's nodes linked so far */
    for (int j = 0; j < g; j++) {
        mt_node *n = e[j].n;
        mt_node **prev = prevs[j];
        for (int l = hs; l < m->height; l++) prev[l] = m->head;
        for (int l = 0; l < linked_h; l++)
            if (prev[l] == m->head ||
                node_cmp(prev[l], node_key(last[l]), last[l]->ikl - IKEY_TRAILER, last_t[l]) < 0)
                prev[l] = last[l];
        link_node(m, n, prev);
        for (int l = 0; l < (int)n->height; l++) {
            last[l] = n;
            last_t[l] = e[j].t;
        }
        if ((int)n->height > linked_h) linked_h = (int)n->height;
    }
    if (g > 0) memcpy(m->splice, prevs[g - 1], (size_t)m->height * sizeof(mt_node *));
}

/* Links the next group of the merging batch (no linker thread: trailers are read as they are). */
static void merge_step(memtable *m) {
    size_t left = m->nmerge - m->mpos;
    int g = left < MT_GROUP ? (int)left : MT_GROUP;
    mt_link e[MT_GROUP];
    for (int j = 0; j < g; j++) {
        e[j].n = m->merging[m->mpos + (size_t)j];
        e[j].t = node_trailer(e[j].n);
        e[j].old = NULL;
    }
    if (g > 0) link_group(m, e, g);
    m->mpos += (size_t)g;
}

/* Links what is left of the merging batch. */
static void finish_batch(memtable *m) {
    while (m->mpos < m->nmerge) merge_step(m);
}

/* Turns the pending nodes into the (sorted) merging batch; the previous batch must be done. */
static void start_batch(memtable *m) {
    size_t np = m->npending;
    if (np > 1) qsort(m->pending, np, sizeof(mt_node *), pending_cmp);
    mt_node **t = m->merging;
    m->merging = m->pending;
    m->pending = t;
    m->nmerge = np;
    m->mpos = 0;
    m->npending = 0;
}

/* ---- background linking ----
 *
 * With a linker attached (memtable_attach_linker), an add puts its node in the hash index and
 * pushes {node, trailer, the key's previous newest node} onto the linker's ring; the linker
 * thread (kevo-link) pops up to MT_CONSUME_MAX at a time, sorts them and links them, so the
 * owner thread (the server's loop) does no list work at all. Whoever holds lk->mu is the list's
 * only writer: the thread, or the owner when it needs everything linked now (an iterator, an
 * older-snapshot get, a copy, sealing: drain) or when the ring is full (the thread fell behind).
 *
 * What the linker may read of a node the owner can still change: the owner overwrites in place
 * (trailer, value, vl) only the newest node of a key. The linker reads node keys (fixed once
 * pushed) and a node's trailer only when comparing it with a node of the same user key:
 *   - the node being linked: its recorded trailer (mt_link.t), never the node's bytes;
 *   - a node already in the list with the same user key as one being linked: pushed earlier,
 *     so older (adds come in sequence order), so no longer its key's newest: frozen since before
 *     the push that the linker acquired;
 *   - two nodes of one key in one batch: sorted newest first by their recorded trailers; the
 *     first is linked by search, each older one right after the one before it (link_after0),
 *     with no comparison at all;
 *   - the fast path (height 1, the key's previous newest node already linked): just before that
 *     node (link_after0 to its prev0), which is older, hence frozen.
 * Adds must come in sequence order while a linker is attached (lsm.c's writes do; replay and
 * memtable_copy_upto fill memtables before one is attached). */

/* Links ring entries [tail, tail + k) (k >= 1, all pushed), then publishes the new tail.
 * Holder of lk->mu, m the attached memtable. */
static void consume_step(mt_linker *lk, memtable *m, uint64_t tail, size_t k) {
    size_t nb = 0;
    for (size_t i = 0; i < k; i++) {
        const mt_link *e = &lk->ring[(tail + i) % MT_RING];
        mt_node *old = e->old;
        if (e->n->height == 1 && old && *node_prev0(old) && node_trailer(old) < e->t)
            link_after0(*node_prev0(old), e->n); /* just before the older version */
        else
            lk->batch[nb++] = *e;
    }
    if (nb > 1) qsort(lk->batch, nb, sizeof(mt_link), link_cmp);
    /* groups of up to MT_GROUP distinct keys by search; each older version of a key right after
     * the version before it */
    size_t i = 0;
    while (i < nb) {
        mt_link grp[MT_GROUP];
        int g = 0;
        size_t end = i;
        while (end < nb && g < MT_GROUP) {
            if (end == i || !node_same_ukey(lk->batch[end - 1].n, lk->batch[end].n))
                grp[g++] = lk->batch[end];
            end++;
        }
        link_group(m, grp, g);
        for (size_t j = i + 1; j < end; j++)
            if (node_same_ukey(lk->batch[j - 1].n, lk->batch[j].n))
                link_after0(lk->batch[j - 1].n, lk->batch[j].n);
        i = end;
        while (i < nb && node_same_ukey(lk->batch[i - 1].n, lk->batch[i].n)) { /* the run of
                                                                            * the window's last key */
            link_after0(lk->batch[i - 1].n, lk->batch[i].n);
            i++;
        }
    }
    atomic_store_explicit(&lk->tail, tail + k, memory_order_release);
}

/* Links ring entries until max are done or the ring is empty; returns how many. Holder of
 * lk->mu, m the attached memtable. */
static uint64_t consume(mt_linker *lk, memtable *m, uint64_t max) {
    uint64_t done = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&lk->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&lk->head, memory_order_acquire);
        uint64_t k = h - t;
        if (k > max - done) k = max - done;
        if (k > MT_CONSUME_MAX) k = MT_CONSUME_MAX;
        if (k == 0) return done;
        consume_step(lk, m, t, (size_t)k);
        done += k;
    }
}

/* The owner takes lk->mu (the thread steps aside between its batches). */
static void owner_lock(mt_linker *lk) {
    atomic_store_explicit(&lk->owner_waiting, 1, memory_order_relaxed);
    pthread_mutex_lock(&lk->mu);
    atomic_store_explicit(&lk->owner_waiting, 0, memory_order_relaxed);
}

/* The owner, holding lk->mu: links up to max entries of those pushed so far (m attached),
 * counts them as its own and releases the mutex. Returns how many it linked. */
static uint64_t owner_consume_locked(memtable *m, uint64_t max) {
    mt_linker *lk = m->lk;
    uint64_t n = consume(lk, m, max);
    if (n) atomic_fetch_add_explicit(&lk->by_owner, n, memory_order_relaxed);
    pthread_mutex_unlock(&lk->mu);
    return n;
}

/* The owner links up to max entries of those pushed so far (m attached). */
static void owner_consume(memtable *m, uint64_t max) {
    owner_lock(m->lk);
    owner_consume_locked(m, max);
}

/* The owner links everything pushed so far. */
static void drain(memtable *m) { owner_consume(m, UINT64_MAX); }

/* Owner: queues n (just added, not linked) for the linker. */
static void link_push(memtable *m, mt_node *n, uint64_t t, mt_node *old) {
    mt_linker *lk = m->lk;
    uint64_t h = atomic_load_explicit(&lk->head, memory_order_relaxed);
    if (h - atomic_load_explicit(&lk->tail, memory_order_acquire) >= MT_RING)
        owner_consume(m, MT_CONSUME_MAX); /* the thread fell behind: one batch here */
    mt_link *e = &lk->ring[h % MT_RING];
    e->n = n;
    e->t = t;
    e->old = old;
    if (h + 1 - atomic_load_explicit(&lk->tail, memory_order_relaxed) < MT_WAKE_AT) {
        atomic_store_explicit(&lk->head, h + 1, memory_order_release);
        return;
    }
    /* enough to wake it for: seq_cst, paired with the thread's seq_cst store of sleeping and
     * load of head (either it sees this entry, or this sees it sleeping) */
    atomic_store_explicit(&lk->head, h + 1, memory_order_seq_cst);
    if (atomic_load_explicit(&lk->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&lk->sleeping, 0, memory_order_relaxed)) {
        pthread_mutex_lock(&lk->mu);
        pthread_cond_signal(&lk->cv);
        pthread_mutex_unlock(&lk->mu);
    }
}

static void *linker_main(void *arg) {
    mt_linker *lk = arg;
    thread_nice_self(lk->nice);
    pthread_mutex_lock(&lk->mu);
    while (!lk->stop) {
        memtable *m = lk->target;
        uint64_t t = atomic_load_explicit(&lk->tail, memory_order_relaxed);
        if (m && atomic_load_explicit(&lk->head, memory_order_acquire) - t >= MT_WAKE_AT &&
            !atomic_load_explicit(&lk->held, memory_order_relaxed)) {
            uint64_t n = consume(lk, m, MT_CONSUME_MAX);
            atomic_fetch_add_explicit(&lk->by_thread, n, memory_order_relaxed);
            pthread_mutex_unlock(&lk->mu);
            while (atomic_load_explicit(&lk->owner_waiting, memory_order_relaxed)) cpu_relax();
            pthread_mutex_lock(&lk->mu);
            continue;
        }
        atomic_store(&lk->sleeping, 1);
        if (m && atomic_load(&lk->head) - t >= MT_WAKE_AT &&
            !atomic_load_explicit(&lk->held, memory_order_relaxed)) { /* pushed meanwhile */
            atomic_store(&lk->sleeping, 0);
            continue;
        }
        pthread_cond_wait(&lk->cv, &lk->mu);
        atomic_store(&lk->sleeping, 0);
    }
    pthread_mutex_unlock(&lk->mu);
    return NULL;
}

mt_linker *mt_linker_start(int nice) {
    mt_linker *lk = calloc(1, sizeof(*lk));
    if (!lk) return NULL;
    lk->nice = nice;
    pthread_mutex_init(&lk->mu, NULL);
    pthread_cond_init(&lk->cv, NULL);
    if (pthread_create(&lk->thread, NULL, linker_main, lk) != 0) {
        pthread_mutex_destroy(&lk->mu);
        pthread_cond_destroy(&lk->cv);
        free(lk);
        return NULL;
    }
    pthread_setname_np(lk->thread, "kevo-link"); /* what ps/top/perf show */
    lk->started = 1;
    return lk;
}

void mt_linker_stop(mt_linker *lk) {
    if (!lk) return;
    pthread_mutex_lock(&lk->mu);
    lk->stop = 1;
    pthread_cond_signal(&lk->cv);
    pthread_mutex_unlock(&lk->mu);
    pthread_join(lk->thread, NULL);
    pthread_mutex_destroy(&lk->mu);
    pthread_cond_destroy(&lk->cv);
    free(lk);
}

void mt_linker_debug_hold(mt_linker *lk, int hold) {
    atomic_store_explicit(&lk->held, hold != 0, memory_order_relaxed);
    if (!hold) { /* wake it for what piled up */
        pthread_mutex_lock(&lk->mu);
        pthread_cond_signal(&lk->cv);
        pthread_mutex_unlock(&lk->mu);
    }
}

void mt_linker_stats(mt_linker *lk, uint64_t *by_thread, uint64_t *by_owner, uint64_t *by_idle) {
    *by_idle = lk ? atomic_load_explicit(&lk->by_idle, memory_order_relaxed) : 0;
    *by_thread = lk ? atomic_load_explicit(&lk->by_thread, memory_order_relaxed) : 0;
    *by_owner = lk ? atomic_load_explicit(&lk->by_owner, memory_order_relaxed) : 0;
}

/* Links every node not yet linked: with a linker, what its ring holds (drain); without, the
 * merging batch, then the pending ones. */
static void merge_pending(memtable *m) {
    if (m->lk) {
        drain(m);
        return;
    }
    finish_batch(m);
    if (m->npending == 0) return;
    start_batch(m);
    finish_batch(m);
}

static inline int has_unlinked(const memtable *m) {
    if (m->lk)
        return atomic_load_explicit(&m->lk->head, memory_order_relaxed) !=
               atomic_load_explicit(&m->lk->tail, memory_order_acquire);
    return m->npending || m->mpos < m->nmerge;
}

/* The owner links up to max entries of those pushed so far, when the thread does not hold the
 * mutex now (idle time on the owner thread: never waits). */
size_t memtable_link_idle(memtable *m, size_t max) {
    if (!m->lk || max == 0 || !has_unlinked(m) || pthread_mutex_trylock(&m->lk->mu) != 0) return 0;
    uint64_t n = owner_consume_locked(m, max);
    if (n) atomic_fetch_add_explicit(&m->lk->by_idle, n, memory_order_relaxed);
    return (size_t)n;
}

void memtable_attach_linker(memtable *m, mt_linker *lk) {
    if (m->lk == lk) return;
    merge_pending(m); /* what was added without it */
    owner_lock(lk);
    memtable *prev = lk->target;
    if (prev && prev != m) { /* the memtable m replaces: its adds linked, then it is on its own */
        uint64_t n = consume(lk, prev, UINT64_MAX);
        if (n) atomic_fetch_add_explicit(&lk->by_owner, n, memory_order_relaxed);
        prev->lk = NULL;
    }
    lk->target = m;
    m->lk = lk;
    pthread_mutex_unlock(&lk->mu);
}

/* Links everything, and m is on its own again. */
static void detach_linker(memtable *m) {
    mt_linker *lk = m->lk;
    if (!lk) return;
    owner_lock(lk);
    uint64_t n = consume(lk, m, UINT64_MAX);
    if (n) atomic_fetch_add_explicit(&lk->by_owner, n, memory_order_relaxed);
    if (lk->target == m) lk->target = NULL;
    m->lk = NULL;
    pthread_mutex_unlock(&lk->mu);
}

void memtable_seal(memtable *m) {
    detach_linker(m);
    merge_pending(m);
}


/* Worst-case arena bytes of one node beyond its key and value. */
#define MT_NODE_MAX_OVERHEAD \
    (sizeof(mt_node *) + sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(mt_node *) + IKEY_TRAILER + \
     ARENA_ALIGN)

int memtable_reserve(memtable *m, size_t nkeys, size_t bytes) {
    while ((m->used + nkeys) * 10 > m->cap * 7)
        if (index_alloc(m, m->cap * 2)) return LSM_ENOMEM;
    if (nkeys > (SIZE_MAX - bytes) / MT_NODE_MAX_OVERHEAD) return LSM_ENOMEM;
    return arena_reserve(&m->arena, bytes + nkeys * MT_NODE_MAX_OVERHEAD) ? LSM_ENOMEM : 0;
}

/* Records in l that node n had trailer and the value val (vl bytes) before an overwrite in place:
 * 0, or -1 (no memory). */
static int log_push_value(mt_undo_log *l, mt_node *n, uint64_t trailer, const char *val,
                          uint32_t vl) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        mt_undo *u = realloc(l->recs, nc * sizeof(*u));
        if (!u) return -1;
        l->recs = u;
        l->cap = nc;
    }
    if (vl > l->bytes_cap - l->len) {
        size_t nc = l->bytes_cap ? l->bytes_cap : 256;
        while (nc - l->len < vl) nc *= 2;
        char *b = realloc(l->bytes, nc);
        if (!b) return -1;
        l->bytes = b;
        l->bytes_cap = nc;
    }
    mt_undo *u = &l->recs[l->n++];
    u->node = n;
    u->trailer = trailer;
    u->vl = vl;
    u->off = l->len;
    if (vl) memcpy(l->bytes + l->len, val, vl);
    l->len += vl;
    return 0;
}

/* log_push_value of n's current value, with trailer (n's trailer before the overwrite). */
static int log_push(mt_undo_log *l, mt_node *n, uint64_t trailer) {
    return log_push_value(l, n, trailer, node_val(n), n->vl);
}

/* Forgets l's newest record (its overwrite did not happen). */
static void log_pop(mt_undo_log *l) {
    l->len -= l->recs[l->n - 1].vl;
    l->n--;
}

static void log_clear(mt_undo_log *l) {
    l->n = 0;
    l->len = 0;
}

/* Takes back every overwrite l recorded, newest first, then forgets them. */
static void log_apply(mt_undo_log *l) {
    while (l->n > 0) {
        const mt_undo *u = &l->recs[--l->n];
        mt_node *n = u->node;
        char *k = (char *)node_key(n);
        encode_fixed64(k + (n->ikl - IKEY_TRAILER), u->trailer);
        if (u->vl) memcpy(k + n->ikl, l->bytes + u->off, u->vl);
        n->vl = u->vl;
    }
    l->len = 0;
}

void memtable_undo_clear(memtable *m) { log_clear(&m->undo); }
void memtable_undo_apply(memtable *m) { log_apply(&m->undo); }
void memtable_commit_undo_clear(memtable *m) { log_clear(&m->cundo); }
void memtable_commit_undo_apply(memtable *m) { log_apply(&m->cundo); }
size_t memtable_commit_undo_count(const memtable *m) { return m->cundo.n; }

static int put_node(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                    const void *val, size_t vl, size_t vcap, const mt_overwrite *ow);

memtable *memtable_copy_upto(memtable *m, uint64_t max_seq) {
    memtable *c = memtable_new_for(memtable_distinct_keys(m));
    if (!c) return NULL;
    if (has_unlinked(m)) merge_pending(m);
    int rc = 0;
    /* each copy keeps its node's value capacity: a recorded older value (below) fits it again */
    for (const mt_node *n = link_load(&m->head->next[0]); rc == 0 && n;
         n = link_load((mt_node *const *)&n->next[0])) {
        size_t ukl = n->ikl - IKEY_TRAILER;
        uint64_t t = decode_fixed64(node_key(n) + ukl);
        if ((t >> 8) > max_seq) continue;
        rc = put_node(c, t >> 8, (int)(t & 0xff), node_key(n), ukl, node_val(n), n->vl, n->vcap,
                      NULL);
    }
    /* the overwrites of committed nodes not taken back, recorded again against the copies of
     * their nodes (a node overwritten since max_seq is not copied: its record goes with it) */
    if (rc == 0 && m->cundo.n) merge_pending(c);
    for (size_t i = 0; rc == 0 && i < m->cundo.n; i++) {
        const mt_undo *u = &m->cundo.recs[i];
        const mt_node *n = u->node;
        size_t ukl = n->ikl - IKEY_TRAILER;
        uint64_t t = decode_fixed64(node_key(n) + ukl);
        if ((t >> 8) > max_seq) continue;
        mt_node *x = find_ge(c, node_key(n), ukl, t, NULL);
        if (!x || x->ikl != n->ikl || memcmp(node_key(x), node_key(n), n->ikl) != 0 ||
            u->vl > x->vcap) {
            rc = LSM_ECORRUPT; /* cannot happen: every node <= max_seq was copied */
            break;
        }
        if (log_push_value(&c->cundo, x, u->trailer, m->cundo.bytes + u->off, u->vl) != 0)
            rc = LSM_ENOMEM;
    }
    if (rc) {
        memtable_unref(c);
        return NULL;
    }
    return c;
}

uint64_t memtable_overwrites(const memtable *m) { return m->overwrites; }

/* The overwrite in place of memtable_put: 1 done, 0 not allowed here (see memtable.h). */
static int overwrite(memtable *m, mt_node *n, uint64_t trailer, const void *val, size_t vl,
                     const mt_overwrite *ow) {
    if (vl > n->vcap) return 0;
    size_t ukl = n->ikl - IKEY_TRAILER;
    char *k = (char *)node_key(n);
    uint64_t old = decode_fixed64(k + ukl);
    if (old >= trailer) return 0;
    int committed = (old >> 8) <= ow->floor_seq;
    if (committed && (!ow->committed || n->vl > MEMTABLE_COMMITTED_UNDO_MAX)) return 0;
    if (committed && log_push(&m->cundo, n, old) != 0) return 0;
    if ((old >> 8) < ow->undo_below && log_push(&m->undo, n, old) != 0) {
        if (committed) log_pop(&m->cundo);
        return 0;
    }
    encode_fixed64(k + ukl, trailer);
    if (vl) memcpy(k + n->ikl, val, vl);
    n->vl = (uint32_t)vl;
    m->overwrites++;
    return 1;
}

int memtable_add(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                 const void *val, size_t vl) {
    return memtable_put(m, seq, kind, ukey, ukl, val, vl, NULL);
}

/* memtable_put, a new node getting room for a value of vcap (>= vl) bytes. */
static int put_node(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                    const void *val, size_t vl, size_t vcap, const mt_overwrite *ow) {
    if (ukl > UINT32_MAX - IKEY_TRAILER || vcap > UINT32_MAX || vl > vcap) return LSM_EINVAL;
    uint64_t hh = key_hash64(ukey, ukl) & m->hash_mask;
    mt_slot *slot = NULL;
    if (ow) { /* the key's newest node may take the new version in place */
        slot = index_find(m, ukey, ukl, hh);
        if (slot->node && overwrite(m, slot->node, ikey_pack_trailer(seq, kind), val, vl, ow))
            return MEMTABLE_OVERWRITTEN;
    }
    /* Grow first (it is the only step that can fail besides the node allocation), keeping the
     * load <= 7/10 even if this key turns out to be new. */
    if ((m->used + 1) * 10 > m->cap * 7) {
        if (index_alloc(m, m->cap * 2)) return LSM_ENOMEM;
        slot = NULL; /* the table moved */
    }
    if (!slot) slot = index_find(m, ukey, ukl, hh);
    size_t ikl = ukl + IKEY_TRAILER;
    int h = random_height(m);
    size_t sz = sizeof(mt_node) + (size_t)h * sizeof(mt_node *) + ikl + vcap;
    mt_node *n = node_alloc(&m->arena, sz);
    if (!n) return LSM_ENOMEM;
    n->ikl = (uint32_t)ikl;
    n->vl = (uint32_t)vl;
    n->height = (uint32_t)h;
    n->vcap = (uint32_t)vcap;
    char *k = (char *)&n->next[h];
    uint64_t trailer = ikey_pack_trailer(seq, kind);
    if (ukl) memcpy(k, ukey, ukl);
    encode_fixed64(k + ukl, trailer);
    if (vl) memcpy(k + ikl, val, vl);

    mt_node *old = slot->node;
    if (m->lk) { /* linked by the linker thread (background linking, above) */
        *node_prev0(n) = NULL;
        link_push(m, n, trailer, old);
    } else if (h == 1 && old && *node_prev0(old) && decode_fixed64(node_key(old) + ukl) < trailer) {
        /* Fast path: old is the first (newest) node of ukey, so the new version belongs between
         * old's level-0 predecessor (a smaller user key, or head) and old. The height drawn is 1
         * anyway, so the list's shape is the same as through a descent. */
        mt_node *p = *node_prev0(old);
        n->next[0] = old;
        *node_prev0(n) = p;
        p->next[0] = n;
        *node_prev0(old) = n;
    } else {
        /* Linked later, in sorted batches (merge_pending); already visible through the index. */
        *node_prev0(n) = NULL;
        if (m->npending == MT_PENDING_MAX) {
            finish_batch(m); /* adds outran the pacing */
            start_batch(m);
        }
        m->pending[m->npending++] = n;
        /* pacing: one group of the batch per MT_GROUP new pending nodes, so the batch is
         * linked by the time pending fills again */
        if (m->mpos < m->nmerge && m->npending % MT_GROUP == 0) merge_step(m);
    }
    if (!slot->node) {
        slot->node = n;
        slot->hash = hh;
        m->used++;
    } else if (decode_fixed64(node_key(old) + ukl) < trailer) {
        slot->node = n; /* newer version (sequences grow; checked for out-of-order adds) */
    }
    atomic_store_explicit(&m->entries,
                          atomic_load_explicit(&m->entries, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return 0;
}

int memtable_put(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                 const void *val, size_t vl, const mt_overwrite *ow) {
    return put_node(m, seq, kind, ukey, ukl, val, vl, vl, ow);
}

int memtable_get(memtable *m, const void *ukey, size_t ukl, uint64_t snapshot, const char **val,
                 size_t *vl) {
    return memtable_get_hashed(m, ukey, ukl, key_hash64(ukey, ukl), snapshot, val, vl);
}

int memtable_get_hashed(memtable *m, const void *ukey, size_t ukl, uint64_t hash,
                        uint64_t snapshot, const char **val, size_t *vl) {
    if (snapshot > MAX_SEQUENCE) snapshot = MAX_SEQUENCE;
    const mt_slot *slot = index_find(m, ukey, ukl, hash & m->hash_mask);
    if (!slot->node) return MEMTABLE_NOTFOUND;
    const char *nk = node_key(slot->node);
    uint64_t nt = decode_fixed64(nk + ukl);
    if ((nt >> 8) <= snapshot) { /* the newest version is visible: answer from it */
        if ((int)(nt & 0xff) == KIND_DELETE) return MEMTABLE_DELETED;
        *val = nk + slot->node->ikl;
        *vl = slot->node->vl;
        return MEMTABLE_FOUND;
    }
    /* Older snapshot than the newest version: search the list for the version it sees (every
     * node linked first; pending nodes exist only on the owner thread's active memtable). */
    if (has_unlinked(m)) merge_pending(m);
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

void memtable_prefetch_slot(const memtable *m, uint64_t hash) {
    cpu_prefetch(slot_at(m, (size_t)(hash & m->hash_mask) & (m->cap - 1)));
}

void memtable_prefetch_node(const memtable *m, uint64_t hash) {
    uint64_t h = hash & m->hash_mask;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const mt_slot *s = slot_at(m, i);
        if (!s->node) return;
        if (s->hash == h) {
            cpu_prefetch(s->node);
            return;
        }
    }
}

/* ---- iterator ---- */

typedef struct mt_iter {
    internal_iter base;
    memtable *m;
    mt_node *cur;
} mt_iter;

/* A scan (flush, SCAN) walks level 0 in key order, which is random memory order: start loading
 * the next node while the caller works on this one (and, from a taller node, the one its level-1
 * link skips to, about four ahead). */
static inline void mti_prefetch_ahead(const mt_node *n) {
    if (!n) return;
    cpu_prefetch(link_load(&n->next[0]));
    if (n->height > 1) cpu_prefetch(link_load(&n->next[1])); /* NULL for a node linked at 0 only */
}
static int mti_valid(internal_iter *it) { return ((mt_iter *)it)->cur != NULL; }
static void mti_seek_first(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->cur = link_load(&i->m->head->next[0]);
    mti_prefetch_ahead(i->cur);
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
    if (i->cur) {
        i->cur = link_load(&i->cur->next[0]);
        mti_prefetch_ahead(i->cur);
    }
}
static void mti_seek_last(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->cur = find_last(i->m);
}
static void mti_seek_for_prev(internal_iter *it, const char *ikey, size_t ikl) {
    iter_seek_for_prev_by_seek(it, ikey, ikl);
}
/* O(1): a linked node's prev0 is its level-0 predecessor (head before the first node). */
static void mti_prev(internal_iter *it) {
    mt_iter *i = (mt_iter *)it;
    if (i->cur) {
        mt_node *p = link_load(node_prev0(i->cur));
        i->cur = p == i->m->head ? NULL : p;
        if (i->cur) cpu_prefetch(link_load(node_prev0(i->cur))); /* the next prev()'s node (see next) */
    }
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
    .seek_last = mti_seek_last,
    .seek_for_prev = mti_seek_for_prev,
    .prev = mti_prev,
    .key = mti_key,
    .value = mti_value,
    .status = mti_status,
    .destroy = mti_destroy,
};

/* Sets up i over m (linking what is pending first) with ops; both iterators start here. */
static internal_iter *mt_iter_init(mt_iter *i, memtable *m, const internal_iter_ops *ops) {
    if (has_unlinked(m)) merge_pending(m); /* owner thread: a sealed memtable has none */
    i->base.ops = ops;
    memtable_ref(m);
    i->m = m;
    i->cur = NULL;
    return &i->base;
}

internal_iter *memtable_iter_new(memtable *m) {
    mt_iter *i = malloc(sizeof(*i));
    return i ? mt_iter_init(i, m, &mt_iter_ops) : NULL;
}

/* ---- scan iterator: a forward scan that overlaps its cache misses ---- */

/* Walking level 0 node by node is a chain of dependent loads: each next pointer is a cache miss
 * that must complete before the next one can start (a third of a flush's CPU). The scan
 * iterator cuts the list into segments at the nodes linked at level SCAN_LEVEL (1 in 16) and
 * walks SCAN_CHAINS segments side by side, one step of each in turn, so that many misses are in
 * flight at once; the nodes it collects (a window) are then handed out in key order.
 * A segment longer than SCAN_SEG_CAP nodes ends the window there (its rest starts the next one);
 * if the upper levels are sparse the windows only get shorter, never wrong. */
#define SCAN_LEVEL 2
#define SCAN_CHAINS 32
#define SCAN_SEG_CAP 64

typedef struct mt_scan_iter {
    mt_iter plain;     /* cur: the current node; after any positioning but seek_first, the
                        * plain iterator's ops take over (windowed = 0) */
    int windowed;
    size_t n, pos;     /* the window: win[0..n), win[pos] is cur */
    mt_node *resume;   /* the first node after the window, NULL at the end */
    mt_node *bound;    /* the first node linked at SCAN_LEVEL after resume, NULL if none */
    mt_node *win[SCAN_CHAINS * SCAN_SEG_CAP];
} mt_scan_iter;

static void scan_fill(mt_scan_iter *s) {
    mt_node *start[SCAN_CHAINS + 1], *cur[SCAN_CHAINS];
    size_t cnt[SCAN_CHAINS];
    int k = 1;
    start[0] = s->resume;
    /* segment c is [start[c], start[c + 1]); the last one ends at the level's next node */
    mt_node *b = s->bound;
    for (; k <= SCAN_CHAINS; k++) {
        start[k] = b;
        if (!b) break;
        b = link_load(&b->next[SCAN_LEVEL]);
    }
    /* start[chains] ends the last chain; when it is a node, b is the next one at the level */
    int chains = k < SCAN_CHAINS ? k : SCAN_CHAINS;
    int live = 0;
    for (int c = 0; c < chains; c++) {
        cur[c] = start[c];
        cnt[c] = 0;
        live += cur[c] != start[c + 1];
    }
    while (live) {
        for (int c = 0; c < chains; c++) {
            mt_node *x = cur[c];
            if (x == start[c + 1] || cnt[c] == SCAN_SEG_CAP) continue;
            s->win[(size_t)c * SCAN_SEG_CAP + cnt[c]++] = x;
            x = link_load(&x->next[0]);
            cur[c] = x;
            if (x == start[c + 1] || cnt[c] == SCAN_SEG_CAP) live--;
        }
    }
    /* compact the segments into key order, up to the first one cut short */
    size_t n = cnt[0];
    int c = 0;
    while (cur[c] == start[c + 1] && c + 1 < chains) {
        c++;
        memmove(&s->win[n], &s->win[(size_t)c * SCAN_SEG_CAP], cnt[c] * sizeof(mt_node *));
        n += cnt[c];
    }
    s->n = n;
    s->pos = 0;
    if (cur[c] != start[c + 1]) { /* segment c was cut: the window ends inside it */
        s->resume = cur[c];
        s->bound = start[c + 1];
    } else { /* every chain ran to its end: the last one ended at start[chains] */
        s->resume = start[chains];
        s->bound = s->resume ? b : NULL;
    }
}

/* Refills the window while it comes out empty (a segment of length 0) and nodes remain. */
static void scan_next_window(mt_scan_iter *s) {
    do scan_fill(s);
    while (s->n == 0 && s->resume);
    s->plain.cur = s->n ? s->win[0] : NULL;
}

static void scani_seek_first(internal_iter *it) {
    mt_scan_iter *s = (mt_scan_iter *)it;
    s->windowed = 1;
    s->resume = link_load(&s->plain.m->head->next[0]);
    if (!s->resume) {
        s->n = s->pos = 0;
        s->plain.cur = NULL;
        return;
    }
    s->bound = link_load(&s->plain.m->head->next[SCAN_LEVEL]);
    if (s->bound == s->resume) s->bound = link_load(&s->bound->next[SCAN_LEVEL]);
    scan_next_window(s);
}
static void scani_next(internal_iter *it) {
    mt_scan_iter *s = (mt_scan_iter *)it;
    if (!s->windowed) {
        mti_next(it);
        return;
    }
    if (!s->plain.cur) return;
    if (++s->pos < s->n) {
        s->plain.cur = s->win[s->pos];
        if (s->pos + 4 < s->n) cpu_prefetch(s->win[s->pos + 4]);
    } else if (s->resume) {
        scan_next_window(s);
    } else {
        s->plain.cur = NULL;
    }
}
static void scani_seek(internal_iter *it, const char *ikey, size_t ikl) {
    ((mt_scan_iter *)it)->windowed = 0;
    mti_seek(it, ikey, ikl);
}
static void scani_seek_last(internal_iter *it) {
    ((mt_scan_iter *)it)->windowed = 0;
    mti_seek_last(it);
}
static void scani_seek_for_prev(internal_iter *it, const char *ikey, size_t ikl) {
    ((mt_scan_iter *)it)->windowed = 0;
    mti_seek_for_prev(it, ikey, ikl);
}
static void scani_prev(internal_iter *it) {
    ((mt_scan_iter *)it)->windowed = 0;
    mti_prev(it);
}

static const internal_iter_ops mt_scan_iter_ops = {
    .valid = mti_valid,
    .seek_first = scani_seek_first,
    .seek = scani_seek,
    .next = scani_next,
    .seek_last = scani_seek_last,
    .seek_for_prev = scani_seek_for_prev,
    .prev = scani_prev,
    .key = mti_key,
    .value = mti_value,
    .status = mti_status,
    .destroy = mti_destroy,
};

internal_iter *memtable_scan_iter_new(memtable *m) {
    mt_scan_iter *s = malloc(sizeof(*s));
    if (!s) return NULL;
    s->windowed = 0;
    s->n = s->pos = 0;
    s->resume = s->bound = NULL;
    return mt_iter_init(&s->plain, m, &mt_scan_iter_ops);
}
