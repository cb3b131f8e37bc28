/* keyspace.h - Redis semantics over the engine (DESIGN.md section 4): key encoding, logical
 * databases, types, expiry (lazy + an active cycle over the expire index), exact key counts.
 * Main thread only.
 *
 * Engine key layout (on-disk: never change):
 *   'k' || db(1) || user key                     -> type(1) || flags(1) || [expire-at ms fixed64
 *                                                   LE, when flags & KF_EXPIRE] || payload
 *   'x' || expire-at ms (8, big-endian) || db(1) || user key  -> empty value (expire index)
 *   'M' || name                                   -> server metadata (e.g. the DB map of SWAPDB)
 *   'v' || version (8, big-endian)                 -> "" : a collection version is live
 *   'm' || version (8, big-endian) || ...          -> a collection's members (types/coll.h)
 * A collection's 'k' payload starts with version (8, big-endian) || count (8, little-endian);
 * versions come from counter KS_VERSION_COUNTER and are never reused. Removing or overwriting a
 * collection deletes its 'v' record in the same batch; the engine's compaction filter then
 * drops the members of versions without one (O(1) delete whatever the size).
 * db is the PHYSICAL slot; SWAPDB swaps the logical->physical map (persisted under 'M').
 * Counters (lsm_batch_counter_add): idx 2*phys_db = keys, 2*phys_db+1 = keys with an expire.
 * Invariant: every counted key with an expire has exactly one 'x' entry; the active cycle, not
 * compaction, decides the counts (see keyspace.c). */
#ifndef KEVO_KEYSPACE_H
#define KEVO_KEYSPACE_H
#include <stddef.h>
#include <stdint.h>

/* Called after the engine is opened (and after every reopen): loads the DB map, resets
 * SCAN cursors and any engine iterators held. */
int keyspace_open(void);
/* Called before the engine is closed: drops iterators and cursors. */
void keyspace_close(void);

long long keyspace_dbsize(int db);       /* exact, logical db */
long long keyspace_expires(int db);      /* keys with an expire, logical db */
long long keyspace_avg_ttl(int db);      /* estimate in ms, 0 if unknown */

/* Active expiry: deletes due keys using the expire index, for at most budget_us. Returns the
 * number of keys expired. Called from the server cron when server.active_expire_enabled (a slow
 * cycle), and from before-sleep when keyspace_expire_fast_due() (a fast cycle).
 * A due key's record must be read to tell whether the entry is still its incarnation's. When the
 * record is not in memory (lsm_get_ready) and the engine has reader threads, the cycle does not
 * read it on the loop: it queues the reads of the next due keys (up to KS_EXPIRE_READAHEAD, tag
 * KS_EXPIRE_READ_TAG) and stops there; the server hands each finished read with that tag to
 * keyspace_expire_read_done, and once they all landed a fast cycle goes on from that key (its
 * first key is read in place if it was evicted again meanwhile: progress is guaranteed). */
long long keyspace_active_expire_cycle(long long budget_us);
#define KS_EXPIRE_READ_TAG UINT64_MAX /* lsm_prefetch tag of the expire cycle's reads */
#define KS_EXPIRE_READAHEAD 256
void keyspace_expire_read_done(void);
/* 1 when the reads the cycle waited for have all landed (cleared by the next cycle). */
int keyspace_expire_fast_due(void);
/* Reads the expire cycle queued on reader threads since start (INFO disk_reads_queued_by_expire). */
long long keyspace_expire_reads_queued(void);

/* The engine's compaction hook (lsm_options.expire_fn): expire-at of a 'k' value, else 0. The
 * engine compares it with the server's cached time (lsm_set_expire_clock), so it never drops a
 * value the server still sees as live. Pure and thread-safe. */
uint64_t keyspace_value_expire(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen);

/* ======== Additions (keyspace.c's owner): the API the command files use ======================
 * Lifetimes: a ks_value's payload points into the lsm_buf passed to the lookup and is valid until
 * that buffer is reused. Writes are applied to the engine at once (reads see them) inside the
 * command's engine write group, opened by keyspace_begin() and closed by keyspace_commit():
 * every write command is atomic (one WAL record). Lazy expiry inside a lookup joins the open
 * group (or writes its own), so lookups may be freely interleaved with keyspace_put/remove. */
#include "lsm.h"

/* Value types and flags (on-disk: never change). */
#define KTYPE_STRING 0
#define KTYPE_LIST   1
#define KTYPE_SET    2
#define KTYPE_ZSET   3
#define KTYPE_HASH   4
#define KTYPE_STREAM 5
#define KF_EXPIRE 0x01
#define KF_RAW    0x02   /* string was modified in place (APPEND/SETRANGE): OBJECT ENCODING "raw" */
/* Space tags (on-disk: never change). */
#define KS_TAG_KEY 'k'
#define KS_TAG_EXPIRE 'x'
#define KS_TAG_META 'M'
#define KS_TAG_VERSION 'v'
#define KS_TAG_MEMBER 'm'
/* Persistent counter holding the last collection version handed out. */
#define KS_VERSION_COUNTER 63
#define KS_VALUE_HDR_MAX 10 /* type + flags + expire-at */

typedef struct ks_value {
    uint8_t type;
    uint8_t flags;
    uint64_t expire;        /* unix ms, 0 = none */
    const char *payload;    /* into the lookup buffer */
    size_t plen;
} ks_value;

/* ---- pure encoding helpers (any thread) ---- */
/* 'k'||phys||key into dst (capacity >= klen + 2); returns the length. */
size_t keyspace_encode_key(char *dst, int phys_db, const char *key, size_t klen);
/* 'x'||at(BE)||phys||key into dst (capacity >= klen + 10); returns the length. */
size_t keyspace_encode_xkey(char *dst, uint64_t at, int phys_db, const char *key, size_t klen);
/* Value header (type, flags, expire) into dst (capacity KS_VALUE_HDR_MAX); returns its length. */
size_t keyspace_encode_value_header(char *dst, uint8_t type, uint64_t expire);
/* Parses a stored 'k' value; 0 ok, -1 malformed. out->payload points into v. */
int keyspace_decode_value(const char *v, size_t vlen, ks_value *out);

/* Logical db (SELECT index) -> physical slot used in engine keys and counters. */
int keyspace_phys_db(int db);
int keyspace_logical_db(int phys);

/* ---- lookups ---- */
#define KS_LOOKUP_READ     1  /* count keyspace_hits/misses */
#define KS_LOOKUP_NOEXPIRE 2  /* report an expired key as absent but do not delete it */
#define KS_LOOKUP_NOTOUCH  4  /* (reserved: do not update access time) */
/* Returns 1 live key found (*out filled, payload in buf), 0 absent (an expired key is deleted on
 * the way unless NOEXPIRE), or a negative LSM_E* code. */
int keyspace_lookup(int db, const char *key, size_t klen, lsm_buf *buf, ks_value *out,
                    int flags);
/* Scratch buffers owned by the keyspace, amortized across commands (index 0..3). */
lsm_buf *keyspace_buf(int i);

/* ---- writes (into server.batch) ---- */
void keyspace_begin(void);
/* Stores key with the given type/expire/payload. old = the current live value (from a lookup
 * in this command) or NULL when absent: counters and the old expire-index entry follow from it;
 * old == NULL publishes the "new" keyspace event (notify.h), as Redis's dbAdd.
 * An expire <= now stores nothing (the key is removed if old != NULL), as Redis does for a
 * past expire time. Touches WATCH. Returns 0 or a negative LSM_E* code. */
int keyspace_put(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                 uint64_t expire, const void *payload, size_t plen);
/* As keyspace_put, with value flags (KF_RAW) stored along. */
int keyspace_put_flags(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                       uint8_t vflags, uint64_t expire, const void *payload, size_t plen);
/* The "new" event keyspace_put publishes for a key that was absent: on by default. A command
 * that must publish it at another point (MSET: in argument order, between its "set" events)
 * turns it off around its writes and publishes it itself; keyspace_command_done turns it on. */
void keyspace_new_events(int on);
/* keyspace_signal_modified calls made by the keyspace itself: on by default. A command that
 * writes its keys in another order than Redis (MSET, DEL: sorted) turns them off around its
 * writes and calls keyspace_signal_modified per key in Redis's order (invalidation messages
 * keep Redis's order); keyspace_command_done turns them on. */
void keyspace_auto_signals(int on);
/* Redis's signalModifiedKey: a key of LOGICAL db changed, so WATCHes on it fail and the clients
 * that may cache it get an invalidation (tracking.h). keyspace_put/remove and the collection
 * layer call it; a command that changes a key without them must call it. */
void keyspace_signal_modified(int db, const char *key, size_t klen);
/* Removes a live key (old from a lookup, not NULL). Touches WATCH. */
int keyspace_remove(int db, const char *key, size_t klen, const ks_value *old);
/* Closes the command's write group opened by keyspace_begin: everything it wrote is ONE WAL
 * record. 0, or a negative code when the group was aborted or failed (its writes are gone). */
int keyspace_commit(void);
/* Drops every write of the current command (or, inside EXEC, of the whole transaction) and
 * makes the closing keyspace_commit/keyspace_defer_end fail. For errors after writes. */
void keyspace_abort(void);
/* Called by the dispatcher after every command: closes a group a handler left open. */
void keyspace_command_done(void);
/* EXEC grouping: between begin and end every command's writes join ONE engine write group (one
 * WAL record for the transaction). Writes are applied at once, so later commands (iterators
 * included) read them. keyspace_defer_flush is a no-op kept for callers. */
void keyspace_defer_begin(void);
int keyspace_defer_end(void);
/* 1 while a defer group is open (EXEC, a script): a script inside EXEC joins that group
 * instead of opening (and later closing) one of its own. */
int keyspace_defer_active(void);
int keyspace_defer_flush(void);

/* As keyspace_put, but neither touches WATCH nor wakes blocked clients: for the writes Redis
 * makes without signalModifiedKey (XSETID changes a stream's metadata "silently"). */
int keyspace_put_quiet(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                       uint64_t expire, const void *payload, size_t plen);
/* Removes a live key but keeps its collection version live (RENAME/MOVE: the metadata moves). */
int keyspace_remove_keep_version(int db, const char *key, size_t klen, const ks_value *old);
/* A collection removed or overwritten (why: KS_REMOVED_*): big ones get their member range
 * compacted soon (keyspace_reclaim_cron) so space comes back without a manual COMPACT. */
#define KS_REMOVED_DELETED 0
#define KS_REMOVED_EXPIRED 1
#define KS_REMOVED_OVERWRITTEN 2
#define KS_RECLAIM_MIN_MEMBERS 10000
void keyspace_notify_removed(const ks_value *old, int why);
/* count members of the live collection version were deleted without a record each (a stream's
 * trim raises its trimmed-below mark): big ones get the version's range compacted soon, as a
 * removed collection's (the compaction filter drops those records). */
void keyspace_notify_trimmed(uint64_t version, uint64_t count);
/* Cron: schedules the pending reclaim compaction (returns 1 when one was requested). */
int keyspace_reclaim_cron(void);
uint64_t keyspace_reclaims(void);

/* ---- whole-db operations ---- */
int keyspace_flushdb(int db);        /* deletes every key of logical db, counts stay exact */
int keyspace_flushall(void);
int keyspace_swapdb(int a, int b);   /* O(1): swaps and persists the logical->physical map */

/* ---- SCAN cursor table ---- */
/* Saves where a SCAN walk of phys_db resumes: ekey is the next engine key to visit ('k'||phys||
 * user key, copied). Returns a nonzero cursor (< 2^63). */
unsigned long long keyspace_cursor_save(int phys_db, const char *ekey, size_t eklen);
/* Sets *seek and *seeklen to the engine key a walk of phys_db resumes at (inclusive: seek to it and
 * visit keys >= it). Returns 1 when the cursor is in the table; 0 when unknown or evicted: seek is
 * then a lower bound built from the key prefix embedded in the cursor, so the walk may repeat keys
 * but never skips one. The returned bytes are the keyspace's, valid until the next keyspace call. */
int keyspace_cursor_load(unsigned long long cursor, int phys_db, const char **seek,
                         size_t *seeklen);

/* OBJECT ENCODING name Redis would pick for a string payload: "int", "embstr" or "raw". */
const char *keyspace_string_encoding(const char *p, size_t len);
/* Same for a stored value, honoring KF_RAW. */
const char *keyspace_value_encoding(const ks_value *v);
#endif
