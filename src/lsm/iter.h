/* iter.h - iterators built on iterator.h: a heap-merging iterator over any sources, a level
 * iterator over one sorted run of SSTables, and the user-facing view (db_iter) that hides
 * versions newer than a snapshot, shadowed versions and deletes.
 * Thread: each iterator is used by a single thread at a time. */
#ifndef KEVO_ITER_H
#define KEVO_ITER_H
#include <stddef.h>
#include <stdint.h>
#include "iterator.h"
#include "table_cache.h"
#include "version.h"

/* Merges n children (ownership of the children and of the array contents passes to the merging
 * iterator; the array itself is copied). Yields the union in internal-key order; equal keys
 * come out in child order. NULL on ENOMEM (children are destroyed then). */
internal_iter *merging_iter_new(internal_iter **children, int n);

/* Iterates the concatenation of files (a level >= 1: disjoint, sorted). The array and metas are
 * borrowed: the caller keeps the version that owns them alive for the iterator's lifetime.
 * Opens tables lazily through tc. NULL on ENOMEM. */
internal_iter *level_iter_new(file_meta **files, int n, table_cache *tc, int fill_cache);

/* User view over an internal iterator: live keys with sequence <= snapshot, newest version,
 * deletes hidden. Owns `in` (destroyed by db_iter_destroy). Both directions, mixed freely.
 *
 * Forward, `in` sits on the newest visible entry of the current key (key/value point into it).
 * Reverse (LevelDB's DBIter scheme): the newest visible version of a user key is the LAST of
 * its entries seen walking backward, so the current key and value are copied out (kbuf, vbuf)
 * and `in` sits just before all of the current key's entries. A switch of direction re-walks
 * the current key's versions once. */
typedef struct db_iter {
    internal_iter *in;
    uint64_t snapshot;
    int valid;
    int status;
    int reverse;    /* 1: positioned by seek_last/seek_for_prev/prev (see above) */
    char *kbuf;     /* scratch: saved user key / lookup key; reverse: the current key */
    size_t kcap;
    size_t klen;    /* reverse: length of the current key in kbuf */
    char *vbuf;     /* reverse: the current value */
    size_t vcap, vlen;
} db_iter;
void db_iter_init(db_iter *d, internal_iter *in, uint64_t snapshot);
void db_iter_seek(db_iter *d, const void *ukey, size_t ukl);
void db_iter_seek_first(db_iter *d);
void db_iter_next(db_iter *d);
/* Last live key. */
void db_iter_seek_last(db_iter *d);
/* Last live key <= ukey. */
void db_iter_seek_for_prev(db_iter *d, const void *ukey, size_t ukl);
/* The live key before the current one (invalid before the first). */
void db_iter_prev(db_iter *d);
/* user key / value of the current entry; valid until the iterator moves */
const char *db_iter_key(db_iter *d, size_t *klen);
const char *db_iter_value(db_iter *d, size_t *vlen);
void db_iter_destroy(db_iter *d);
#endif
