/* block.h - the block format shared by data, index and properties blocks
 * (doc/sstable_format.md):
 *
 *   entry*  = shared varint32 || non_shared varint32 || value_len varint32
 *             || key[shared..] (non_shared bytes) || value
 *   trailer = restart offsets fixed32[num_restarts] || num_restarts fixed32
 *
 * Every restart_interval-th entry is a restart point: it stores its full key (shared = 0).
 * Keys are internal keys (dbformat.h) for data and index blocks; seek compares with
 * ikey_compare. On-disk: never change.
 * Thread: a builder or an iterator is used by one thread; a parsed block is read-only and may
 * be shared by any number of iterators. */
#ifndef KEVO_BLOCK_H
#define KEVO_BLOCK_H
#include <stddef.h>
#include <stdint.h>

/* ---- builder ---- */
typedef struct block_builder {
    char *buf;
    size_t len, cap;
    uint32_t *restarts;
    size_t nrestarts, rcap;
    int interval;
    int counter;            /* entries since the last restart */
    char *last;             /* previous key (for prefix compression) */
    size_t last_len, last_cap;
    size_t entries;
    int finished;
    int oom;                /* an allocation failed; finish returns NULL */
} block_builder;

/* interval >= 1. Allocates lazily. */
void block_builder_init(block_builder *b, int interval);
void block_builder_free(block_builder *b);
/* Forgets the contents, keeps the buffers. */
void block_builder_reset(block_builder *b);
/* Appends an entry (keys must be in the block's order; not checked). 0 or LSM_ENOMEM. */
int block_builder_add(block_builder *b, const char *key, size_t klen, const char *val, size_t vlen);
/* Size the block would have if finished now. */
size_t block_builder_size(const block_builder *b);
static inline int block_builder_empty(const block_builder *b) { return b->entries == 0; }
/* Appends the restart trailer; returns the contents (owned by b, valid until reset/free) or
 * NULL on allocation failure. */
const char *block_builder_finish(block_builder *b, size_t *len);

/* ---- reader ---- */
typedef struct block {
    const char *data;       /* not owned */
    size_t size;
    uint32_t restarts;      /* offset of the restart array = end of the entries */
    uint32_t num_restarts;
} block;
/* Parses the trailer of data[0..size). 0 or LSM_ECORRUPT. */
int block_parse(block *b, const char *data, size_t size);

#define BLOCK_ITER_INLINE_KEY 112
/* One entry of the restart interval block_iter_prev decoded last (offsets into the block, key
 * bytes at koff in pkeys). */
typedef struct block_prev_ent {
    uint32_t off, next_off, voff, vlen, koff, klen;
} block_prev_ent;

/* An iterator over a parsed block. Key bytes live in the iterator (prefix compression), value
 * bytes point into the block. It must not be copied by value (the key may point into
 * kinline). key/value are valid until the iterator moves. */
typedef struct block_iter {
    const char *data;
    uint32_t restarts, num_restarts;
    uint32_t cur;           /* offset of the current entry; >= restarts: not valid */
    uint32_t next_off;      /* offset of the entry after it */
    const char *val;
    uint32_t vlen;
    int status;             /* 0 or LSM_ECORRUPT */
    char *key;
    size_t klen, kcap;
    /* prev() cache: the entries of the restart interval its last scan decoded, so the prevs
     * that follow within that interval copy a key instead of rescanning (heap, grown lazily;
     * dropped by reset, freed by cleanup). pidx: the current entry's index in pents, -1: none */
    block_prev_ent *pents;
    char *pkeys;
    uint32_t pcap;
    int pidx;
    size_t pkcap;
    char kinline[BLOCK_ITER_INLINE_KEY];
} block_iter;

/* Initializes it over b (or over nothing when b is NULL); not positioned. */
void block_iter_init(block_iter *it, const block *b);
/* Points it at another block, keeping its key buffer. */
void block_iter_reset(block_iter *it, const block *b);
/* Frees a heap key buffer if one was grown. */
void block_iter_cleanup(block_iter *it);
static inline int block_iter_valid(const block_iter *it) {
    return it->cur < it->restarts && it->status == 0;
}
void block_iter_seek_first(block_iter *it);
/* First entry with internal key >= ikey (ikl >= 8). */
void block_iter_seek(block_iter *it, const char *ikey, size_t ikl);
void block_iter_next(block_iter *it);
/* Last entry (not valid for an empty block). */
void block_iter_seek_last(block_iter *it);
/* The entry before the current one (not valid before the first; nothing when not valid).
 * Entries decode only forward: a binary search of the restart array for the last restart
 * before the current entry, then a scan forward from it (at most restart_interval entries),
 * remembering the interval's entries so that the prevs that follow inside it are O(1). */
void block_iter_prev(block_iter *it);
/* Positions it at restart point i (i >= num_restarts: past the end). With restart interval 1
 * (index blocks) restart i is entry i. */
void block_iter_seek_to_restart(block_iter *it, uint32_t i);
/* Decodes the full key stored at restart point i in place (no copy): 0 and *key, *klen set, or
 * LSM_ECORRUPT. */
int block_restart_key(const block *b, uint32_t i, const char **key, size_t *klen);
static inline const char *block_iter_key(const block_iter *it, size_t *klen) {
    *klen = it->klen;
    return it->key;
}
static inline const char *block_iter_value(const block_iter *it, size_t *vlen) {
    *vlen = it->vlen;
    return it->val;
}
#endif
