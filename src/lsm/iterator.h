/* iterator.h - the internal iterator interface shared by memtables, SSTables, merging and level
 * iterators. Yields INTERNAL keys (dbformat.h) in internal-key order, every version included.
 * key()/value() are valid until the iterator moves or is destroyed. An iterator keeps alive
 * whatever it reads (it holds references); destroy() drops them. Single thread per iterator. */
#ifndef KEVO_ITERATOR_H
#define KEVO_ITERATOR_H
#include <stddef.h>

typedef struct internal_iter internal_iter;
typedef struct internal_iter_ops {
    int (*valid)(internal_iter *it);
    void (*seek_first)(internal_iter *it);
    void (*seek)(internal_iter *it, const char *ikey, size_t ikl); /* first entry >= ikey */
    void (*next)(internal_iter *it);
    const char *(*key)(internal_iter *it, size_t *ikl);
    const char *(*value)(internal_iter *it, size_t *vl);
    int (*status)(internal_iter *it); /* 0 or negative LSM_E* */
    void (*destroy)(internal_iter *it);
} internal_iter_ops;

/* Implementations embed this as their FIRST member and cast. */
struct internal_iter {
    const internal_iter_ops *ops;
};

static inline int iter_valid(internal_iter *it) { return it->ops->valid(it); }
static inline void iter_seek_first(internal_iter *it) { it->ops->seek_first(it); }
static inline void iter_seek(internal_iter *it, const char *k, size_t kl) { it->ops->seek(it, k, kl); }
static inline void iter_next(internal_iter *it) { it->ops->next(it); }
static inline const char *iter_key(internal_iter *it, size_t *kl) { return it->ops->key(it, kl); }
static inline const char *iter_value(internal_iter *it, size_t *vl) { return it->ops->value(it, vl); }
static inline int iter_status(internal_iter *it) { return it->ops->status(it); }
static inline void iter_destroy(internal_iter *it) { if (it) it->ops->destroy(it); }
#endif
