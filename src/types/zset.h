/* zset.h - sorted-set storage over the collection layer (coll.h). Knows no clients: the command
 * file (cmd_zset.c) parses arguments and replies; everything here is unit-testable with an open
 * engine. Main thread only.
 *
 * Layout (on-disk: never change; doc/keyspace_format.md "Sorted sets"), version = the zset's
 * collection version, enc(s) = coll_score_encode(s) (8 bytes whose bytewise order is the numeric
 * order, -0.0 encoded as 0.0):
 *   member record  'm' || version || COLL_SUB_MEMBER || member           -> score: the 8 IEEE-754
 *                                                                           bytes, little-endian
 *   score index    'm' || version || COLL_SUB_SCORE || enc(score) || member -> "" ("\x01" when the
 *                                                                           score is -0.0)
 * Every member has exactly one record of each kind and they agree (same score); the metadata
 * count (coll.h) is the exact number of members. Every change writes or deletes both records in
 * the same command group, so the invariant holds after a crash too.
 * Order: by score, then member bytes (memcmp, shorter first): Redis's skiplist order.
 *
 * Metadata extra (coll.extra, on-disk): empty, or a "head hint" len(1) || bytes (<= 30): a lower
 * bound of every live score-index entry (enc(score) || member prefix). Pops and head deletions
 * raise it past their tombstones, so a walk from the lowest score seeks over the deleted head of
 * a queue-like zset instead of stepping through its tombstones; inserts below it lower it. A
 * second part len(1) || bytes may follow: the "tail hint", an upper bound kept the same way for
 * the highest scores (used by reverse walks).
 *
 * OBJECT ENCODING: COLL_ENC_SMALL ("listpack") while count <= zset-max-listpack-entries and every
 * member <= zset-max-listpack-value bytes; then COLL_ENC_BIG ("skiplist") for good (Redis 7.0).
 * Like Redis's listpack, a SMALL zset stores -0.0 as 0.
 *
 * Costs: score/insert/delete of one member O(1) engine reads and writes. Walks visit index
 * entries: a range of k members at rank r costs O(min(r, N - r) + k), walking from the nearer
 * end (forward or with the engine's reverse iteration); score and lex ranges seek to their start
 * (reverse: their end), O(offset + k); ranks are counted, O(rank). */
#ifndef KEVO_ZSET_H
#define KEVO_ZSET_H
#include <stddef.h>
#include <stdint.h>

#include "coll.h"

/* zset_add input flags (Redis's ZADD_IN_*) and output flags (ZADD_OUT_*) */
#define ZSET_IN_INCR (1 << 0)
#define ZSET_IN_NX   (1 << 1)
#define ZSET_IN_XX   (1 << 2)
#define ZSET_IN_GT   (1 << 3)
#define ZSET_IN_LT   (1 << 4)
#define ZSET_OUT_NAN     (1 << 0) /* the (incremented) score is NaN: nothing was written */
#define ZSET_OUT_ADDED   (1 << 1)
#define ZSET_OUT_UPDATED (1 << 2)
#define ZSET_OUT_NOP     (1 << 3) /* NX/XX/GT/LT said no */

/* Encoding a zset created for a first member of mlen bytes gets (Redis's zsetTypeCreate). */
uint8_t zset_create_encoding(size_t first_mlen);
/* Encoding of a zset built whole (STORE results): count members, the longest maxlen bytes. */
uint8_t zset_result_encoding(size_t count, size_t maxlen);

/* Score of member m: 1 found (*score), 0 absent, or a negative LSM_E* code. c may be absent. */
int zset_score(const coll *c, const void *m, size_t mlen, double *score);

/* Redis's zsetAdd: adds m with score or updates it per flags (ZSET_IN_*). c must exist (created
 * by the caller, coll_create). *out gets ZSET_OUT_* flags; *newscore (may be NULL) the score m
 * has afterwards when something was done. Converts the encoding to BIG when the member is new
 * and the zset outgrows listpack. Writes only what changes. 0, or a negative engine code. */
int zset_add(coll *c, double score, const void *m, size_t mlen, int in_flags, int *out,
             double *newscore);
/* Inserts a member known to be absent (fresh STORE destinations): both records, count + 1. */
int zset_insert_new(coll *c, const void *m, size_t mlen, double score);
/* Removes m: 1 removed, 0 absent, or a negative code. Count adjusted. */
int zset_remove(coll *c, const void *m, size_t mlen);

/* 0-based rank of m (reverse: from the highest score): 1 found, 0 absent, negative code.
 * O(rank): counts the index entries before m. */
int zset_rank(const coll *c, const void *m, size_t mlen, int reverse, long long *rank);

/* ---- ranges ---- */
typedef struct zset_score_range {
    double min, max;
    int minex, maxex; /* exclusive bounds ("(") */
} zset_score_range;
/* Parses Redis score bounds ("1.5", "(1.5", "-inf", "+inf"; strtod rules as Redis's
 * zslParseRange, which accepts what strtod accepts, "" included, and refuses NaN). a and b are
 * NUL-terminated. 0 ok, -1 invalid ("min or max is not a float"). */
int zset_parse_score_range(const char *a, const char *b, zset_score_range *r);

typedef struct zset_lex_bound {
    const char *p; /* borrowed: the argument bytes after '[' or '(' */
    size_t len;
    int inf;       /* -1 for "-", +1 for "+", 0 for a string */
    int ex;
} zset_lex_bound;
typedef struct zset_lex_range {
    zset_lex_bound min, max;
} zset_lex_range;
/* Parses "[a", "(a", "-", "+" (zslParseLexRange). 0 ok, -1 invalid. */
int zset_parse_lex_range(const char *a, size_t alen, const char *b, size_t blen,
                         zset_lex_range *r);

/* Visitor of a walk: one member in walk order. Return 0 to go on, a negative code to stop the
 * walk with that code, 1 to stop it quietly. m is valid during the call only. */
typedef int (*zset_visit_fn)(void *ctx, const char *m, size_t mlen, double score);

/* Members at ranks start..end (0-based, 0 <= start <= end < count; reverse: ranks from the
 * highest score, visited highest first). Returns the number visited or a negative code. */
long long zset_walk_rank(const coll *c, long long start, long long end, int reverse,
                         zset_visit_fn fn, void *ctx);
/* Members in a score / lex range as ZRANGEBYSCORE / ZRANGEBYLEX [REV] LIMIT offset limit do:
 * offset < 0 gives nothing, limit < 0 means all. Returns the number visited or a negative code.
 * Lex walks assume what Redis assumes (one score for all members); with mixed scores they give
 * a result as unspecified as Redis's. */
long long zset_walk_score(const coll *c, const zset_score_range *r, int reverse, long long offset,
                          long long limit, zset_visit_fn fn, void *ctx);
long long zset_walk_lex(const coll *c, const zset_lex_range *r, int reverse, long long offset,
                        long long limit, zset_visit_fn fn, void *ctx);
/* Counts of a range (ZCOUNT, ZLEXCOUNT): O(result). */
long long zset_count_score(const coll *c, const zset_score_range *r);
long long zset_count_lex(const coll *c, const zset_lex_range *r);
/* Every member in index order (score, member): ZUNION sources, ZRANDMEMBER, SCAN of small sets. */
long long zset_walk_all(const coll *c, zset_visit_fn fn, void *ctx);

/* Deletions (ZREMRANGEBY*, ZPOPMIN/MAX): remove what the matching walk visits; fn (may be NULL)
 * sees each member before it goes. Count adjusted, hints kept. Return the number removed or a
 * negative code. The caller coll_save()s. */
long long zset_remove_rank(coll *c, long long start, long long end, int reverse, zset_visit_fn fn,
                           void *ctx);
long long zset_remove_score(coll *c, const zset_score_range *r);
long long zset_remove_lex(coll *c, const zset_lex_range *r);

/* ZPOPMIN / ZPOPMAX (max) of count members: as zset_remove_rank(c, 0, count - 1, max, ...).
 * readahead: consecutive pops of one zset reuse one read of its next HC_AHEAD end entries instead
 * of an engine iterator (or, for ZPOPMAX, a walk) each; checked at every use against the zset's
 * metadata, so dropped writes are noticed. Callers pass 0 where that is not wanted (tests). */
long long zset_pop(coll *c, long long count, int max, int readahead, zset_visit_fn fn,
                   void *ctx);
/* Forgets the read-ahead (after an abort; belt and braces: the metadata check catches it). */
void zset_cache_drop(void);
/* Tests: turns the read-ahead on (default) or off. */
void zset_cache_enable(int on);

/* ---- an in-memory result: members with scores (STORE commands, set operations) ---- */
typedef struct zset_entry {
    size_t off;   /* member bytes at vec->bytes + off */
    size_t len;
    double score;
} zset_entry;
typedef struct zset_vec {
    zset_entry *e;
    size_t n, cap;
    char *bytes;
    size_t blen, bcap;
    size_t maxlen;     /* longest member */
    /* member -> index, built on demand by zset_vec_find/zset_vec_upsert */
    uint32_t *slots;
    size_t nslots;
} zset_vec;
void zset_vec_init(zset_vec *v);
void zset_vec_free(zset_vec *v);
/* Appends (no duplicate check). 0 or LSM_ENOMEM. */
int zset_vec_push(zset_vec *v, const void *m, size_t mlen, double score);
/* Index of member m, or -1. */
long long zset_vec_find(zset_vec *v, const void *m, size_t mlen);
/* Finds m or appends it with score; *created says which. Index, or LSM_ENOMEM. */
long long zset_vec_upsert(zset_vec *v, const void *m, size_t mlen, double score, int *created);
static inline const char *zset_vec_member(const zset_vec *v, size_t i) {
    return v->bytes + v->e[i].off;
}
/* Sorts by (score, member): Redis's order. Drops the member index. */
void zset_vec_sort(zset_vec *v);
/* zset_visit_fn that appends to the zset_vec passed as ctx. */
int zset_vec_visit(void *ctx, const char *m, size_t mlen, double score);

/* Replaces whatever c's key holds by the members of v (any type before; c opened with any
 * result but an error): a fresh zset with Redis's encoding for the result, or no key when v is
 * empty. *removed (may be NULL) tells whether an existing key was removed for an empty result. */
int zset_store(coll *c, const zset_vec *v, int *removed);

/* Index entries visited by walks since start (tests assert that a walk reads what it returns,
 * not the whole set). */
uint64_t zset_stat_index_steps(void);
/* Read-ahead refills of ZPOPMIN/ZPOPMAX so far (each opens one engine iterator; tests). */
uint64_t zset_stat_readahead_refills(void);
#endif
