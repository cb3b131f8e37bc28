/* keyspace.h - Redis semantics over the engine (DESIGN.md section 4): key encoding, logical
 * databases, types, expiry (lazy + an active cycle over the expire index), exact key counts.
 * Main thread only.
 *
 * Engine key layout (on-disk: never change):
 *   'k' || db(1) || user key                     -> type(1) || flags(1) || [expire-at ms fixed64
 *                                                   LE, when flags & KF_EXPIRE] || payload
 *   'x' || expire-at ms (8, big-endian) || db(1) || user key  -> empty value (expire index)
 *   'M' || name                                   -> server metadata (e.g. the DB map of SWAPDB)
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
 * number of keys expired. Called from the server cron when server.active_expire_enabled. */
long long keyspace_active_expire_cycle(long long budget_us);

/* The engine's compaction hook (lsm_options.expire_fn): expire-at of a 'k' value, else 0.
 * Pure and thread-safe. */
uint64_t keyspace_value_expire(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen);
#endif
