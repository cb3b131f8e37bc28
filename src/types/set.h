/* set.h - Redis sets over the collection layer (coll.h): one member record per member,
 * 'm' || version || 0x00 || member -> "" (or its random-pick ordinal, coll.h), the exact member count and the OBJECT ENCODING byte in
 * the metadata. Knows no clients (cmd_set.c parses and replies). Main thread only.
 *
 * Encoding (what OBJECT ENCODING reports; the storage is the same either way), as Redis 7.0:
 * "intset" (COLL_ENC_SMALL) while every member is an integer (set_member_is_int: Redis's
 * isSdsRepresentableAsLongLong) and there are at most config.set_max_intset_entries (capped at
 * 2^30 as Redis does) of them, then "hashtable" (COLL_ENC_BIG) for good. A set is created
 * "intset" when its first member is an integer, else "hashtable" (setTypeCreate).
 *
 * Writes must run inside the command's write group (keyspace_begin .. keyspace_commit) and end
 * with one set_save. Members are iterated in byte order (coll_iter). */
#ifndef KEVO_SET_H
#define KEVO_SET_H
#include <stddef.h>

#include "coll.h"

/* coll_open for KTYPE_SET: 1 exists, 0 absent, COLL_WRONGTYPE, or a negative code. */
int set_open(coll *s, int db, const char *key, size_t klen, int flags);
/* 1 when m is a canonical 64-bit integer (intset material). */
int set_member_is_int(const void *m, size_t mlen);
/* The encoding Redis gives a new set whose first member is m. */
uint8_t set_create_enc(const void *m, size_t mlen);
/* Creates the set when absent, encoded for first member m. 0 or a negative code. */
int set_create(coll *s, const void *m, size_t mlen);

/* Membership: 1, 0 (absent member or no set), or a negative code. */
int set_ismember(const coll *s, const void *m, size_t mlen);
/* Adds a member (the set must exist): 1 added, 0 already there, or a negative code. Keeps the
 * count, the encoding and the random-pick index. */
int set_add(coll *s, const void *m, size_t mlen);
/* As set_add for a member the caller knows is absent (no read): 0 or a negative code. */
int set_add_new(coll *s, const void *m, size_t mlen);
/* Removes a member: 1 removed, 0 absent, or a negative code. */
int set_rem(coll *s, const void *m, size_t mlen);
/* Removes a member the caller knows is present (no read unless the set has a random-pick
 * index): 0 or a negative code. */
int set_rem_known(coll *s, const void *m, size_t mlen);
/* Removes a present member whose random-pick ordinal is ord (from coll_rand_pick /
 * coll_rand_member_at; any value for a set without an index): 0 or a negative code. */
int set_rem_at(coll *s, const void *m, size_t mlen, uint64_t ord);
/* Writes the metadata (or removes the set when it has no member left). */
int set_save(coll *s);

/* ---- SINTER / SUNION / SDIFF as streams ----
 * Yields the members of the result one at a time, each once, in byte order, reading the sets'
 * members as it goes (memory O(number of sets)). sets[i] are opened colls (absent = empty set;
 * they must stay open while the iterator is used). INTER walks the smallest set and looks each
 * member up in the others; DIFF walks sets[0] and looks up in the others; UNION merges every
 * set's ordered walk. */
#define SET_OP_INTER 0
#define SET_OP_UNION 1
#define SET_OP_DIFF  2
typedef struct set_op_iter {
    int op, n;
    coll **sets;          /* borrowed */
    int driver;           /* INTER/DIFF: index of the walked set, -1 when the result is empty */
    coll_iter *its;       /* UNION: one walk per set; INTER/DIFF: its[0] */
    char *at_min;         /* UNION: its[i] is at the member yielded last (advance before next) */
    int started;
} set_op_iter;
int set_op_open(set_op_iter *o, int op, coll **sets, int n);
/* 1 and *m (valid until the next call), 0 at the end, or a negative code. */
int set_op_next(set_op_iter *o, const char **m, size_t *mlen);
void set_op_close(set_op_iter *o);
#endif
