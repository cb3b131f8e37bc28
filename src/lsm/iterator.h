/* iterator.h - the internal iterator interface shared by memtables, SSTables, merging and level
 * iterators. Yields INTERNAL keys (dbformat.h) in internal-key order, every version included.
 * key()/value() are valid until the iterator moves or is destroyed. An iterator keeps alive
 * whatever it reads (it holds references); destroy() drops them. Single thread per iterator.
 *
 * Both directions: next() and prev() may be mixed freely on a valid iterator (prev() of the
 * first entry, like next() of the last, leaves it invalid; neither moves an invalid one).
 * Every seek positions it afresh, whatever came before. */
#ifndef KEVO_ITERATOR_H
#define KEVO_ITERATOR_H
#include <stddef.h>
#include "dbformat.h"

typedef struct internal_iter internal_iter;
typedef struct internal_iter_ops {
    int (*valid)(internal_iter *it);
    void (*seek_first)(internal_iter *it);
    void (*seek)(internal_iter *it, const char *ikey, size_t ikl); /* first entry >= ikey */
    void (*next)(internal_iter *it);
    void (*seek_last)(internal_iter *it);
    void (*seek_for_prev)(internal_iter *it, const char *ikey, size_t ikl); /* last <= ikey */
    void (*prev)(internal_iter *it);
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
static inline void iter_seek_last(internal_iter *it) { it->ops->seek_last(it); }
static inline void iter_seek_for_prev(internal_iter *it, const char *k, size_t kl) {
    it->ops->seek_for_prev(it, k, kl);
}
static inline void iter_prev(internal_iter *it) { it->ops->prev(it); }
static inline const char *iter_key(internal_iter *it, size_t *kl) { return it->ops->key(it, kl); }
static inline const char *iter_value(internal_iter *it, size_t *vl) { return it->ops->value(it, vl); }
static inline int iter_status(internal_iter *it) { return it->ops->status(it); }
static inline void iter_destroy(internal_iter *it) { if (it) it->ops->destroy(it); }

/* seek_for_prev for a source whose prev() is cheap (memtable, table, level): the first entry
 * >= ikey, then one step back unless it is ikey itself; with no entry >= ikey, the last one. */
static inline void iter_seek_for_prev_by_seek(internal_iter *it, const char *ikey, size_t ikl) {
    iter_seek(it, ikey, ikl);
    if (iter_valid(it)) {
        size_t cl;
        const char *ck = iter_key(it, &cl);
        if (ikey_compare(ck, cl, ikey, ikl) > 0) iter_prev(it);
    } else if (iter_status(it) == 0) {
        iter_seek_last(it);
    }
}
#endif
