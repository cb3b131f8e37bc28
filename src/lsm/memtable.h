/* memtable.h - arena-backed skiplist of internal keys (dbformat.h).
 *
 * Threads: one writer (the owner thread) adds entries; readers on the owner thread may read and
 * iterate at any time (iterators stay valid across inserts). With a linker attached (below), the
 * linker thread links the new entries into the ordered list; nothing changes for the owner. Once the owner makes a memtable
 * immutable and hands it to the flush thread (through a queue with release/acquire ordering),
 * nobody writes it again and any thread may read/iterate it.
 * The hash index (user key -> newest node, see memtable.c) follows the same rule: it is rebuilt
 * only by memtable_add on the owner thread, and other threads read it only after the handoff,
 * so no lock is needed.
 * Lifetime: reference counted (atomic). memtable_new returns a reference; each iterator holds
 * one; the memory (arena) is freed when the last reference drops. */
#ifndef KEVO_MEMTABLE_H
#define KEVO_MEMTABLE_H
#include <stddef.h>
#include <stdint.h>
#include "iterator.h"

typedef struct memtable memtable;

memtable *memtable_new(void);
/* As memtable_new, with the hash index sized up front for expected_keys distinct user keys
 * (falls back to the minimum size if that allocation fails). The index otherwise doubles as
 * keys arrive, and each doubling rehashes every slot at once: ~13 ms at ~370k keys, a stall of
 * the owner thread. lsm.c sizes each new memtable from the one it replaces, so a steady
 * workload never rehashes after its first memtable. */
memtable *memtable_new_for(size_t expected_keys);
void memtable_ref(memtable *m);
void memtable_unref(memtable *m);

/* Adds (ukey, seq, kind, value). Copies key and value into the arena. Owner thread only.
 * (ukey, seq) pairs are unique (sequence numbers are). Returns 0 or LSM_ENOMEM. */
int memtable_add(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                 const void *val, size_t vl);

/* Overwrite in place (memtable_put): when ukey's newest node in m has room for the new value,
 * the new version REPLACES it (its sequence, kind and value; no new node, no memory) instead of
 * being added next to it — the older version disappears from m, as a flush with no snapshot
 * between the two would drop it. The caller (lsm.c) allows it only when nobody can need the
 * older version:
 *   - floor_seq (lsm.c: the last committed sequence): a failed WAL commit drops every write
 *     after it, so a node with sequence <= floor_seq (committed) must survive it. Such a node is
 *     replaced only when committed is set and its value is at most MEMTABLE_COMMITTED_UNDO_MAX
 *     bytes, after it was recorded in the commit undo log: memtable_commit_undo_apply puts every
 *     recorded node back (before the failed commit's writes are dropped), and
 *     memtable_commit_undo_clear forgets them once a commit made the replacements durable. A pop
 *     or a delete of a record written in an earlier iteration thus costs no node either;
 *   - undo_below: a replaced node with sequence < undo_below (the open write group's first
 *     sequence) is recorded first, so memtable_undo_apply can put it back when the group is
 *     rolled back;
 *   - a record that cannot be allocated means no overwrite (a normal add instead);
 *   - no reader may hold a snapshot or an iterator over m (lsm.c: no live lsm_iter), nor a
 *     pointer into a value from memtable_get past its own copy.
 * Owner thread, active (unsealed) memtable only. */
typedef struct mt_overwrite {
    uint64_t floor_seq;
    uint64_t undo_below;
    int committed; /* nodes <= floor_seq may be replaced (recorded in the commit undo log) */
} mt_overwrite;
#define MEMTABLE_COMMITTED_UNDO_MAX 512
#define MEMTABLE_OVERWRITTEN 1
/* memtable_add, with ow (NULL: never in place): 0 added, MEMTABLE_OVERWRITTEN replaced the key's
 * newest node in place, or LSM_ENOMEM / LSM_EINVAL. */
int memtable_put(memtable *m, uint64_t seq, int kind, const void *ukey, size_t ukl,
                 const void *val, size_t vl, const mt_overwrite *ow);
/* Forgets the recorded overwrites (a write group ended, or began). */
void memtable_undo_clear(memtable *m);
/* Takes back every recorded overwrite, newest first (a write group is rolled back), then
 * forgets them. */
void memtable_undo_apply(memtable *m);
/* Forgets the recorded overwrites of committed nodes (a commit succeeded). */
void memtable_commit_undo_clear(memtable *m);
/* Takes back every recorded overwrite of a committed node, newest first (a commit failed: the
 * writes after the last committed sequence are about to be dropped), then forgets them. */
void memtable_commit_undo_apply(memtable *m);
/* Overwrites of committed nodes recorded now (tests). */
size_t memtable_commit_undo_count(const memtable *m);
/* Overwrites in place done in m (tests, INFO). */
uint64_t memtable_overwrites(const memtable *m);

/* Reserves room so that the next adds of up to nkeys entries holding up to bytes of keys and
 * values together cannot fail for lack of memory (an atomic batch is then applied whole or,
 * when this fails, not at all). 0 or LSM_ENOMEM (nothing changed that matters). Owner thread. */
int memtable_reserve(memtable *m, size_t nkeys, size_t bytes);
/* A new memtable holding the entries of m whose sequence is <= max_seq (the writes of a failed
 * commit dropped). m's commit undo log comes along, recorded against the copies of its nodes
 * (a rolled-back group's later commit may still fail). NULL on ENOMEM. Owner thread (m may be
 * active). */
memtable *memtable_copy_upto(memtable *m, uint64_t max_seq);
enum { MEMTABLE_NOTFOUND = 0, MEMTABLE_FOUND = 1, MEMTABLE_DELETED = 2 };
/* Newest entry of ukey with sequence <= snapshot. O(1) through the hash index when the key is
 * absent or its newest version is <= snapshot; an older snapshot falls back to the list.
 * FOUND: *val and *vl point into the arena, valid while the caller holds a reference.
 * DELETED: a tombstone hides older data. */
int memtable_get(memtable *m, const void *ukey, size_t ukl, uint64_t snapshot, const char **val,
                 size_t *vl);
/* As memtable_get, with hash = key_hash64(ukey, ukl) (hash.h) computed by the caller once for
 * every table it probes. */
int memtable_get_hashed(memtable *m, const void *ukey, size_t ukl, uint64_t hash,
                        uint64_t snapshot, const char **val, size_t *vl);

/* Prefetch hint: starts loading the index slot memtable_get_hashed(hash) will read first.
 * Changes nothing; same threads as memtable_get. */
void memtable_prefetch_slot(const memtable *m, uint64_t hash);
/* The second step, once the slot line is loaded: starts loading the node the first slot with
 * that hash names (the newest entry of the key, barring a 64-bit hash collision). Owner thread. */
void memtable_prefetch_node(const memtable *m, uint64_t hash);

/* Bytes allocated by the arena plus the hash index (what counts against memtable_size). Any
 * thread (relaxed). */
size_t memtable_memory_usage(const memtable *m);
/* Bytes of the hash index alone (included in memtable_memory_usage). Any thread (relaxed). */
size_t memtable_index_bytes(const memtable *m);
/* Tests only: ANDs mask into every hash of m to force collisions. Only on an empty memtable
 * (ignored otherwise); owner thread. */
void memtable_debug_limit_hash(memtable *m, uint64_t mask);
uint64_t memtable_entries(const memtable *m);
/* Distinct user keys in m (slots in use). Owner thread, or any thread once m is sealed. */
size_t memtable_distinct_keys(const memtable *m);

/* Background linking: a linker thread (kevo-link) links the active memtable's new entries into
 * its ordered list, so that an add on the owner thread is a node, a hash-index slot and a ring
 * push. At most one memtable is attached to a linker at a time (attaching another first links
 * everything of the previous one and detaches it); memtable_seal detaches. While attached, the
 * owner's ordered accesses (memtable_iter_new, an older-snapshot memtable_get, memtable_copy_upto)
 * first link what the ring holds themselves (a drain, ~0.25 us per entry), and adds must come in
 * sequence order (lsm.c's do). Owner thread for all of these. */
typedef struct mt_linker mt_linker;
/* Starts the thread, nice added to its niceness (thread_nice_self); NULL when it cannot
 * (memtables then link on the owner thread). */
mt_linker *mt_linker_start(int nice);
/* Stops and frees it; no memtable may be attached (seal or unref them first). */
void mt_linker_stop(mt_linker *lk);
/* m (active, owner thread) gets its new entries linked by lk from now on. */
void memtable_attach_linker(memtable *m, mt_linker *lk);
/* Tests: hold != 0 makes the thread link nothing (the owner then links when the ring is full
 * and at its drains); 0 lets it go on. Any thread. */
void mt_linker_debug_hold(mt_linker *lk, int hold);
/* Entries linked by the thread and by the owner (drains, a full ring, idle time) so far, and of
 * the owner's those linked in idle time (memtable_link_idle); any thread. */
void mt_linker_stats(mt_linker *lk, uint64_t *by_thread, uint64_t *by_owner, uint64_t *by_idle);
/* Idle time on the owner thread (its event loop polls and found nothing): links up to max of
 * the entries added so far, unless the linker thread is linking now (never waits). Returns how
 * many it linked. With no linker attached, 0. Owner thread. */
size_t memtable_link_idle(memtable *m, size_t max);

/* Links every entry added so far into the ordered list. memtable_add links most new entries
 * lazily (they are visible to memtable_get at once, and memtable_iter_new / an older-snapshot
 * memtable_get link them first, on the owner thread). The owner MUST call this before the
 * memtable is read by another thread (before handing it to the flush thread); after it, with no
 * further memtable_add, memtable_get and memtable_iter_new write nothing. Detaches a linker.
 * Owner thread; cannot fail. */
void memtable_seal(memtable *m);

/* Iterator over every entry (internal keys), both directions: seek/next O(log n)/O(1),
 * seek_last O(log n), prev O(1) (level 0 is doubly linked). Holds a reference to m until
 * destroyed.
 * Entries added after the iterator was created may or may not be seen by it. Owner thread while
 * m is active; any thread once it was sealed and handed over. */
internal_iter *memtable_iter_new(memtable *m);

/* The same iterator, made for one forward pass over m (a flush): seek_first and next hand out
 * the entries from windows of a few hundred nodes collected by walking many stretches of the
 * list side by side (their cache misses overlap; the plain iterator's next waits for each in
 * turn). Any other positioning (seek, prev, seek_last, seek_for_prev) continues as
 * memtable_iter_new's would. Same threads and lifetime rules; entries added after the current
 * window was collected are not seen by it. */
internal_iter *memtable_scan_iter_new(memtable *m);
#endif
