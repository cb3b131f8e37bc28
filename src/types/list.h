/* list.h - Redis lists over the collection layer (coll.h). Knows no clients: cmd_list.c parses
 * arguments and replies; everything here is unit-testable with an open engine. Main thread only.
 *
 * Layout (on-disk: never change; doc/keyspace_format.md "Lists"), version = the list's
 * collection version:
 *   element record 'm' || version || COLL_SUB_MEMBER || pos (8, BE) -> element bytes
 * pos is an unsigned 64-bit position; the elements sit at the DENSE positions head .. head+count-1
 * (index i is at head + i), so LINDEX/LSET are one engine read/write and a range of k elements at
 * index i is one seek plus k steps. The metadata extra holds head (8, BE); a new list starts at
 * head = 2^63 so either end can grow by 2^63 pushes. The metadata count (coll.h) is the exact
 * length (LLEN); a list whose last element goes is removed (coll_save), as Redis removes empty
 * lists.
 * Costs: push/pop at either end O(1) engine writes (the element and the metadata); index/set O(1);
 * insert/remove in the middle (LINSERT, LREM, a removal by list_remove_at) rewrite the elements
 * of the SHORTER side once each, moved toward the hole (or away from the insertion point):
 * O(min(i, n - i)) reads and writes (LREM: the side beyond the first / last removed element,
 * whichever is shorter). LTRIM deletes what it trims: O(removed).
 *
 * OBJECT ENCODING: "quicklist" (COLL_ENC_BIG) for every list, whatever its size, as Redis 7.0
 * reports (7.0 always builds lists as quicklists; listpack-encoded small lists came with 7.2).
 * list-max-listpack-size only sizes quicklist nodes there (DEBUG OBJECT's ql_* figures).
 * coll_encoding_name still maps COLL_ENC_SMALL to "listpack" (never written by this file).
 *
 * Writes must run inside the command's write group (keyspace_begin .. keyspace_commit) and end
 * with one list_save. Every function returns 0 (or 1/0 as stated) or a negative LSM_E* code. */
#ifndef KEVO_LIST_H
#define KEVO_LIST_H
#include <stddef.h>
#include <stdint.h>

#include "coll.h"

#define LIST_HEAD 0 /* the left end (LPUSH, LPOP, index 0) */
#define LIST_TAIL 1 /* the right end (RPUSH, RPOP, index -1) */

/* coll_open for KTYPE_LIST: 1 exists, 0 absent, COLL_WRONGTYPE, or a negative code. */
int list_open(coll *l, int db, const char *key, size_t klen, int flags);
/* Creates the list when absent (empty, head = 2^63). */
int list_create(coll *l);
/* Replaces whatever the key holds (any type; l opened with list_open, any result but an error)
 * by a new empty list, as coll_recreate (STORE destinations: SORT STORE). An empty result must
 * still be list_save'd: that removes the key. */
int list_recreate(coll *l);
/* Length (the exact count). */
static inline int64_t list_len(const coll *l) { return l->exists ? l->count : 0; }

/* Pushes v at where (LIST_HEAD/LIST_TAIL); the list must exist (list_create). */
int list_push(coll *l, int where, const void *v, size_t vlen);
/* Pops the element at where into out: 1 popped, 0 the list is empty. Pops of a long list from
 * one end take their elements from a read-ahead of that end (list.c: one walk per LC_AHEAD
 * pops instead of one lookup each). */
int list_pop(coll *l, int where, lsm_buf *out);
/* Tests: on = 0 turns the pop read-ahead off (every pop reads its element), 1 back on;
 * list_cache_walks counts the read-ahead walks made so far. */
void list_cache_enable(int on);
uint64_t list_cache_walks(void);
/* Element at index idx (0-based; negative counts from the tail): 1 found, 0 out of range. */
int list_index(const coll *l, int64_t idx, lsm_buf *out);
/* Replaces the element at idx: 1 done, 0 out of range. */
int list_set(coll *l, int64_t idx, const void *v, size_t vlen);

/* ---- ordered walks ----
 * Positions at index start (0-based, >= 0) walking toward the tail, or with reverse toward the
 * head (start then counts from the tail: 0 = the last element). Reads only what it visits.
 * The walk sees the list as it was at the seek (an engine snapshot): writes made while it is
 * open are not seen, so a caller may rewrite elements as it walks. A start outside the list
 * gives an invalid iterator. list_iter_close in every case (also after a failed seek). */
typedef struct list_iter {
    coll_iter ci;
    int64_t index;   /* index of the current element (from the head) */
    uint64_t head;   /* the list's head position when the walk started */
    int64_t len;     /* the list's length when the walk started (walks stop at its ends) */
    int err;         /* LSM_ECORRUPT when a record sits where the count says none should */
    int reverse;
    /* list_iter_seek_readonly: the walk reads each element by its position from the memtables
     * (pv/pvl[pi], point = 1; looked up in batches of growing size) until one no memtable
     * holds, then goes on with an engine iterator */
    int point;
    int pn, pi, pgrow;           /* elements looked up in the batch, the current one, next size */
    const char *pv[LSM_MEM_BATCH];
    size_t pvl[LSM_MEM_BATCH];
    int prc[LSM_MEM_BATCH];
    const coll *l;
} list_iter;
int list_iter_seek(list_iter *li, const coll *l, int64_t start, int reverse);
/* As list_iter_seek, for a walk that writes nothing to the engine while it is open (LRANGE,
 * LPOS, SORT's load): the elements the memtables hold (a list pushed recently) are read by
 * position, one hash probe each, instead of merging every table's entries in key order; the
 * walk switches to an engine iterator at the first element they do not hold. l must stay
 * open and unchanged until list_iter_close. */
int list_iter_seek_readonly(list_iter *li, const coll *l, int64_t start, int reverse);
int list_iter_valid(const list_iter *li);
void list_iter_next(list_iter *li);
/* The current element; valid until the iterator moves. */
const char *list_iter_value(const list_iter *li, size_t *len);
int list_iter_status(const list_iter *li);
void list_iter_close(list_iter *li);

/* ---- middle edits: O(min(i, n - i)) each ---- */
/* Inserts v so that it becomes index idx (0 <= idx <= count). */
int list_insert_at(coll *l, int64_t idx, const void *v, size_t vlen);
/* Removes the element at index idx (0 <= idx < count). */
int list_remove_at(coll *l, int64_t idx);
/* LREM: removes up to |count| elements equal to v (count > 0 from the head, < 0 from the tail,
 * 0 all); *removed gets how many. */
int list_rem(coll *l, const void *v, size_t vlen, int64_t count, int64_t *removed);
/* LTRIM with already-normalized inclusive bounds (start > stop or start >= len empties it).
 * Deletes the records trimmed off: O(removed), as Redis. */
int list_trim(coll *l, int64_t start, int64_t stop);
/* A list emptied by list_rem, list_remove_at or list_trim keeps its records (the version goes
 * with them at list_save, O(1)): list_save it before writing anything else to it. A list emptied
 * by list_pop may be pushed to again in the same command (LMOVE rotating one key). */

/* Writes the metadata (or removes the list when it is empty). */
int list_save(coll *l);
#endif
