/* coll.h - the collection layer: metadata, versions and members of hashes, sets, sorted sets
 * (and later lists, streams) over the keyspace and the engine. Knows no clients. Main thread.
 *
 * Layout (on-disk: never change; doc/keyspace_format.md):
 *   'k' || db || key       -> value header || version (8, BE) || count (8, LE) || enc (1) || extra
 *   'v' || version (8, BE) -> ""                   the version is live
 *   'm' || version (8, BE) || sub (1) || bytes     -> member records (sub: COLL_SUB_*)
 * A version is handed out once (persistent counter KS_VERSION_COUNTER, bumped in the creating
 * group) and never reused, so a member key always names one incarnation of one collection.
 * count is the exact number of members (hash fields, set members, zset members); a collection
 * whose count reaches 0 is removed, as Redis removes empty keys.
 * enc is the OBJECT ENCODING Redis would report (COLL_ENC_*): sticky once "big", as in Redis.
 *
 * Writes go straight to the engine (keyspace.h: they must happen inside the command's write
 * group, keyspace_begin .. keyspace_commit), so later reads of the same command see them.
 * Members of dead versions (no 'v' record) are dropped by the compaction filter
 * (coll_compaction_filter), so removing a collection is O(1). */
#ifndef KEVO_COLL_H
#define KEVO_COLL_H
#include <stddef.h>
#include <stdint.h>

#include "keyspace.h"

/* member record kinds (on-disk: never change) */
#define COLL_SUB_MEMBER 0x00 /* hash field -> value; set member -> ""; zset member -> score(8) */
#define COLL_SUB_SCORE  0x01 /* zset: score (8, order-preserving) || member -> "" */

/* encodings (on-disk: never change): the name OBJECT ENCODING reports per type */
#define COLL_ENC_SMALL 0 /* hash/zset "listpack", set "intset" */
#define COLL_ENC_BIG   1 /* hash/set "hashtable", zset "skiplist" */
#define COLL_ENC_LISTPACK_SET 2 /* reserved (Redis 7.2 listpack sets) */

#define COLL_META_FIXED 17 /* version + count + enc */
#define COLL_EXTRA_MAX 80

#define COLL_WRONGTYPE (-100) /* coll_open: the key holds another type */

typedef struct coll {
    int db;
    const char *key;          /* borrowed: valid for the command */
    size_t klen;
    uint8_t type;             /* KTYPE_* expected */
    int exists;               /* the key exists (as this type) */
    ks_value cur;             /* current stored value (payload -> meta) when exists */
    uint64_t version;
    int64_t count;
    uint8_t enc;
    char extra[COLL_EXTRA_MAX]; /* type-specific metadata (lists: head/tail) */
    size_t extra_len;
    int meta_dirty;           /* count/enc/extra changed since open: coll_save writes them */
    char meta[COLL_META_FIXED + COLL_EXTRA_MAX]; /* backing for cur.payload */
    lsm_buf buf;              /* lookup buffer (owned; coll_close frees) */
} coll;

/* Opens key of db as type. Returns 1 when it exists, 0 when absent (c->exists = 0: coll_add
 * creates it), COLL_WRONGTYPE when another type is stored (c->exists = 1, c->cur.type tells),
 * or a negative LSM_E* code. flags: KS_LOOKUP_*. c must be coll_close'd in every case. */
int coll_open(coll *c, int db, const char *key, size_t klen, uint8_t type, int flags);
void coll_close(coll *c);

/* Creates the collection when absent (new version, 'v' record; count 0; enc as given). */
int coll_create(coll *c, uint8_t enc);
/* Removes whatever key holds (any type) and creates a fresh, empty collection of c->type
 * (STORE destinations). c must have been opened (any result but an error). */
int coll_recreate(coll *c, uint8_t enc);

/* COPY: a new version holding a copy of every member record of the collection src (a stored
 * value from a lookup); writes the metadata payload for it into payload (capacity
 * COLL_META_FIXED + COLL_EXTRA_MAX) and its length into *plen. O(members), in the open group. */
int coll_clone(const ks_value *src, char *payload, size_t *plen);

/* Writes the value of c's liveness record 'v' || version (empty when created). A non-empty value
 * of 16 bytes is a stream's trimmed-below ID (stream.h): the compaction filter drops the stream's
 * entry records at or below it. c must exist. */
int coll_set_version_value(coll *c, const void *v, size_t vlen);

/* Member keys: writes 'm'||version||sub||m into dst (capacity >= mlen + 10); returns length. */
size_t coll_member_key(char *dst, uint64_t version, uint8_t sub, const void *m, size_t mlen);

/* Reads a member record: 1 found (value in out), 0 absent, or a negative code. */
int coll_get(const coll *c, uint8_t sub, const void *m, size_t mlen, lsm_buf *out);
/* Writes / deletes a member record (no count change: callers adjust c->count). */
int coll_put(coll *c, uint8_t sub, const void *m, size_t mlen, const void *v, size_t vlen);
int coll_del(coll *c, uint8_t sub, const void *m, size_t mlen);
/* A hint before a coll_get/coll_put/coll_del of that member a little later: step 1 starts
 * loading the memtable index lines its record hashes to (lsm_prefetch_memtables), step 2, a
 * little after step 1, the entry they name (lsm_prefetch_memtables_entry). */
void coll_prefetch(const coll *c, uint8_t sub, const void *m, size_t mlen, int step);

/* Count bookkeeping: sets meta_dirty. */
static inline void coll_count_add(coll *c, int64_t d) {
    if (d) {
        c->count += d;
        c->meta_dirty = 1;
    }
}
static inline void coll_set_enc(coll *c, uint8_t enc) {
    if (c->enc != enc) {
        c->enc = enc;
        c->meta_dirty = 1;
    }
}

/* Writes the metadata when it changed (or touches WATCH when only members changed); a
 * collection left with count 0 is removed (its version retired). Call once per command after
 * the member writes, when anything was written. 0 or a negative code. */
int coll_save(coll *c);
/* Notes that members were written without a metadata change (WATCH). */
void coll_touch(coll *c);


/* ---- iteration over one collection's members of one kind ---- */
typedef struct coll_iter {
    lsm_iter *it;
    char prefix[10];          /* 'm' || version || sub */
    int valid;
    int reverse;
} coll_iter;
/* Positions at the first member >= from (from NULL: the first member). */
int coll_iter_seek(coll_iter *ci, const coll *c, uint8_t sub, const void *from, size_t flen);
int coll_iter_valid(const coll_iter *ci);
void coll_iter_next(coll_iter *ci);
/* Member bytes (after the prefix) and value; valid until the iterator moves. */
const char *coll_iter_member(const coll_iter *ci, size_t *len);
const char *coll_iter_value(const coll_iter *ci, size_t *len);
int coll_iter_status(const coll_iter *ci);
void coll_iter_close(coll_iter *ci);

/* ---- SCAN cursors (HSCAN/SSCAN/ZSCAN) ----
 * coll_cursor_save returns a nonzero decimal-safe cursor that resumes at member (inclusive) of a
 * walk over sub records; coll_cursor_load gives the member to seek to (bytes valid until the
 * next keyspace call): exact when the cursor is still in the table (returns 1), else a lower
 * bound (returns 0: members may repeat, none is skipped). */
unsigned long long coll_cursor_save(uint8_t sub, const void *member, size_t mlen);
int coll_cursor_load(uint8_t sub, unsigned long long cursor, const char **member, size_t *mlen);

/* ---- sorted-set score encoding: 8 bytes whose bytewise order is the numeric order ---- */
void coll_score_encode(char dst[8], double score);
double coll_score_decode(const char src[8]);

/* ---- the engine's compaction filter (lsm_options.compaction_filter) ----
 * Drops 'm' records whose version has no 'v' record in the compaction's view. Thread-safe;
 * runs on compaction threads. */

int coll_compaction_filter(void *ctx, lsm_filter_view *view, const void *key, size_t klen,
                           const void *val, size_t vlen);

/* Type names as TYPE reports them. */
const char *coll_type_name(uint8_t type);
/* OBJECT ENCODING name of a stored value of any type. */
const char *coll_encoding_name(const ks_value *v);

/* ======== hash/set additions (hashset branch; additive, keep at the END of this file) ========
 * Random picks (SPOP, SRANDMEMBER, HRANDFIELD) without reading a big collection: the random-pick
 * index. A hash or set whose count passed COLL_RAND_INDEX_MIN numbers its members 0..count-1
 * (on-disk: never change):
 *   'm' || version || 0x02 || ordinal (8, BE) -> member        (hash, set)
 *   set member records hold their ordinal (8, BE) as value     (instead of "")
 *   hash field records hold ordinal (8, BE) || value           (COLL_XF_POSINLINE set)
 *   'm' || version || 0x03 || field -> ordinal (8, BE)         (hash without POSINLINE)
 * Every index built since the POSINLINE layout exists puts a hash field's ordinal in front of its
 * value (one record per field, so a new field costs its record and its ordinal record, not a
 * third one at another random position); hashes whose index was built before keep their 0x03
 * records and are read and written in that layout (both stay supported).
 * A pick draws a uniform ordinal and reads one record: exactly uniform, O(1), no iterator (no
 * walk over deleted entries). Removing the member at ordinal i moves the last one (count-1) into
 * i, all in the command's write group. The metadata's extra[0] flag COLL_XF_RANDIDX says the
 * index exists: built (once, <= COLL_RAND_INDEX_MIN + 1 members) in the write group that passes
 * the threshold, never dropped (a shrunk collection keeps it). COPY must copy every sub kind
 * under the version (coll_clone does). Collections without an index (count <=
 * COLL_RAND_INDEX_MIN) are picked from by walking or loading their members, also uniformly. */
#define COLL_SUB_ORD 0x02       /* hash/set: ordinal -> member (on-disk: never change) */
#define COLL_SUB_POS 0x03       /* hash: field -> ordinal (on-disk: never change) */
#define COLL_XF_RANDIDX 0x01    /* extra[0] of a hash/set: the ordinal index exists */
#define COLL_XF_POSINLINE 0x02  /* extra[0] of an indexed hash: field records hold ordinal || value */
#define COLL_RAND_INDEX_MIN 128 /* a hash/set gets its index when count passes this */

/* 64-bit hash of member bytes (for de-duplicating picks; not stored). */
uint64_t coll_member_hash(const void *m, size_t mlen);
/* Fast non-cryptographic random numbers (seeded from the clock on first use). */
uint64_t coll_random(void);
/* Tests: the sequence coll_random continues with (seed != 0), to replay the same picks. */
void coll_random_seed(uint64_t seed);
/* A uniform integer in [0, n) (n > 0). */
uint64_t coll_random_below(uint64_t n);
/* 1 when c keeps the random-pick index. */
int coll_rand_indexed(const coll *c);
/* 1 when c is a hash whose field records start with the field's ordinal (COLL_XF_POSINLINE). */
int coll_hash_pos_inline(const coll *c);
/* Tests only: 0 makes index builds use the older hash layout (0x03 records), to check that
 * hashes stored that way keep working. Default 1. */
extern int coll_hash_pos_inline_builds;
/* Writes POSINLINE hash field m's record: ordinal ord (8, BE) in front of value (vl bytes, the
 * user's; it may point into a record this layer read). 0 or a negative code. */
int coll_hash_put_inline(coll *c, const void *m, size_t mlen, uint64_t ord, const char *value,
                         size_t vl);
/* A hash field record's value as the user sees it: *v / *vl (a record read from the engine)
 * lose the ordinal in front when c is POSINLINE. 0, or LSM_ECORRUPT (shorter than an ordinal). */
int coll_hash_value(const coll *c, const char **v, size_t *vl);

/* Index maintenance for hashes (KTYPE_HASH) and sets (KTYPE_SET), inside the write group:
 * - a new member: the caller writes its member record (a set's with the value from
 *   coll_rand_set_value, taken BEFORE coll_count_add), adds 1 to the count, then calls
 *   coll_rand_member_added: it records the ordinal count-1, or builds the index when the count
 *   just passed COLL_RAND_INDEX_MIN;
 * - a removed member: the caller gets its ordinal (coll_rand_ordinal: from a set member record's
 *   value, or a hash field's 0x03 record), deletes its member record, subtracts 1 from the count,
 *   then calls coll_rand_member_removed (the last member moves into the hole).
 * Both are no-ops for collections without an index (but for the build). 0 or a negative code. */
size_t coll_rand_set_value(const coll *c, char out[8]);
int coll_rand_member_added(coll *c, const void *m, size_t mlen);
/* A hint before a member's existence is looked up: starts loading the memtable index line of the
 * ordinal record a new member would take (count), so that its write, which comes after the lookup,
 * finds the line loaded (a random miss in a multi-MB index otherwise: ~8% of a SADD's loop time
 * at pipeline 16). No effect on data; nothing for a collection without an index. */
void coll_rand_prefetch_next(const coll *c);
/* ordinal of member m: set_value/set_vlen are m's member record's value (from a read) for a set
 * or a POSINLINE hash; other hashes read their 0x03 record. 1 found, 0 no index / no position, or a negative code. */
int coll_rand_ordinal(const coll *c, const void *m, size_t mlen, const char *set_value,
                      size_t set_vlen, uint64_t *ord);
/* A removal that follows another one from the same collection reads the index's tail ahead (up to
 * 16384 records) instead of the last ordinal's record alone; the read-ahead follows the removals
 * and additions after it (coll.c). */
int coll_rand_member_removed(coll *c, const void *m, size_t mlen, uint64_t ord);
/* The size of a run's next read-ahead (this file's tail, zset.c's pops): twice ahead, at most max,
 * and at most what keeps its members' bytes near budget at the rate the previous read (ahead
 * entries, bytes_read bytes of members) had; never below min. */
long long coll_readahead_next(long long ahead, long long min, long long max, size_t bytes_read,
                              size_t budget);
/* Tests: 0 turns the tail read-ahead off (removals read the last record each); default 1. */
void coll_rand_tail_enable(int on);
/* Tail read-aheads made so far (tests). */
unsigned long long coll_stat_tail_refills(void);
/* Reads the member at ordinal ord of an indexed collection into out: 1, 0 absent, or < 0. */
int coll_rand_member_at(const coll *c, uint64_t ord, lsm_buf *out);

/* Random picks with replacement. npicks is a hint: for collections without an index, 1 walks to
 * a random position, more loads the members (<= COLL_RAND_INDEX_MIN of them) once; with_values
 * loads hash values as well. Indexed collections read one ordinal record per pick (later writes
 * of the same command are seen). */
typedef struct coll_rand {
    const coll *c;
    lsm_iter *it;             /* a walk over an unindexed collection */
    char prefix[10];
    int loaded, with_values;
    char *buf;                /* loaded: members (and values), each len(8) || bytes */
    size_t *off;              /* loaded: offsets of the members in buf */
    long n;
    lsm_buf pick;             /* indexed: the member read */
    uint64_t ord;             /* indexed: the ordinal of the last pick */
} coll_rand;
int coll_rand_open(coll_rand *r, const coll *c, long npicks, int with_values);
/* One random member: 1 and *m (bytes valid until the next pick); *v too when values were loaded
 * or walked (v may be NULL; *v = NULL otherwise: read it with coll_get); 0 when empty; or a
 * negative code. */
int coll_rand_pick(coll_rand *r, const char **m, size_t *mlen, const char **v, size_t *vlen);
void coll_rand_close(coll_rand *r);

/* A set of 64-bit values (member hashes, ordinals) for distinct picks: open addressing. */
typedef struct coll_u64set {
    uint64_t *slot;
    size_t cap, n;
    int has_zero;
} coll_u64set;
/* Adds h: 1 added, 0 present, LSM_ENOMEM. */
int coll_u64set_add(coll_u64set *s, uint64_t h);
void coll_u64set_free(coll_u64set *s);
/* ======== end of hash/set additions ======== */

/* ==== additions (zset branch): reverse iteration ====
 * coll_iter_seek_rev positions at the last member <= from of c's sub records (from NULL: the last
 * one); coll_iter_prev moves to the one before. coll_iter_valid/member/value/status/close work as
 * for forward walks (don't mix coll_iter_next into a reverse walk). 0 or a negative code. */
int coll_iter_seek_rev(coll_iter *ci, const coll *c, uint8_t sub, const void *from, size_t flen);
void coll_iter_prev(coll_iter *ci);
/* ==== additions (stream branch) ====
 * coll_save for a type whose empty value stays (a stream keeps its key at length 0, as Redis):
 * writes the metadata when it changed (or touches WATCH), never removes the key. quiet: for
 * Redis commands that write without signalModifiedKey (XSETID, XREADGROUP, XACK ...): WATCH is
 * not touched and blocked clients are not woken (keyspace_put_quiet). */
int coll_save_keep(coll *c, int quiet);
#endif
