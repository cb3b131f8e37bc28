/* keyspace.c - Redis semantics over the engine: key/value encoding, logical databases, expiry,
 * exact key counts, SCAN cursors (DESIGN.md section 4; layout in keyspace.h).
 *
 * Value encoding (on-disk: never change):
 *   type(1) || flags(1) || [expire-at unix ms, fixed64 little-endian, iff flags & KF_EXPIRE] || payload
 *   e.g. SET foo bar PX ... -> 00 01 <8 bytes LE> 'b' 'a' 'r' ; SET foo bar -> 00 00 'b' 'a' 'r'
 * Expire index key: 'x' || expire-at (8 bytes BIG-endian, so the index sorts by time) || phys db ||
 * user key -> "".
 *
 * Counting invariant (what keeps DBSIZE exact across crashes and compaction):
 *   counter[2*p]   = number of key incarnations of physical db p that were written and not yet
 *                    retired; counter[2*p+1] = how many of them carry an expire.
 *   I1. Every write command reads the key's current value first and updates the counters in the
 *       SAME engine batch as the write (so a crash applies both or neither).
 *   I2. Every counted incarnation with an expire has exactly one 'x' entry; overwriting,
 *       persisting or deleting a key deletes its old 'x' entry in the same batch.
 *   I3. A key is never stored with an expire-at <= now (such a write removes the key instead).
 *   Compaction may physically drop a 'k' value whose expire-at <= its clock, which is the
 *   server's cached time when the compaction was scheduled (lsm_set_expire_clock, refreshed with
 *   every cached-time update), so the server already sees such a value as expired however long
 *   a command ran, without touching counters; its 'x' entry stays (x entries never expire). The active cycle
 *   retires it: for a due 'x' entry it looks the key up; if the key is present with that same
 *   expire-at, key + entry are deleted; if it is absent, or present with a DIFFERENT expire, the
 *   incarnation the entry counted is gone (dropped by compaction; a later SET found the key
 *   absent and counted a new incarnation), so the entry is deleted and the counters decremented
 *   as well. By I3 a new incarnation can never reuse the dropped one's (past) expire-at, so an
 *   'x' key always identifies one incarnation. Until the cycle reaches such an entry DBSIZE may
 *   include keys that are already expired - exactly as in Redis.
 */
#include "keyspace.h"

#include "blocking.h"
#include "multi.h"
#include "notify.h"
#include "server.h"
#include "tracking.h"
#include "util.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- encoding ------------------------------------------------------------------------------ */


static uint64_t ks_clock_us_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

size_t keyspace_encode_key(char *dst, int phys_db, const char *key, size_t klen) {
    dst[0] = KS_TAG_KEY;
    dst[1] = (char)phys_db;
    if (klen) memcpy(dst + 2, key, klen);
    return klen + 2;
}

size_t keyspace_encode_xkey(char *dst, uint64_t at, int phys_db, const char *key, size_t klen) {
    dst[0] = KS_TAG_EXPIRE;
    put_be64(dst + 1, at);
    dst[9] = (char)phys_db;
    if (klen) memcpy(dst + 10, key, klen);
    return klen + 10;
}

size_t keyspace_encode_value_header(char *dst, uint8_t type, uint64_t expire) {
    dst[0] = (char)type;
    if (expire) {
        dst[1] = KF_EXPIRE;
        put_le64(dst + 2, expire);
        return 10;
    }
    dst[1] = 0;
    return 2;
}

int keyspace_decode_value(const char *v, size_t vlen, ks_value *out) {
    if (vlen < 2) return -1;
    out->type = (uint8_t)v[0];
    out->flags = (uint8_t)v[1];
    size_t off = 2;
    out->expire = 0;
    if (out->flags & KF_EXPIRE) {
        if (vlen < 10) return -1;
        out->expire = get_le64(v + 2);
        off = 10;
    }
    out->payload = v + off;
    out->plen = vlen - off;
    return 0;
}

uint64_t keyspace_value_expire(void *ctx, const void *key, size_t klen, const void *val,
                               size_t vlen) {
    (void)ctx;
    const char *k = key, *v = val;
    if (klen < 2 || k[0] != KS_TAG_KEY || vlen < 10) return 0;
    if (!((uint8_t)v[1] & KF_EXPIRE)) return 0;
    /* a collection's metadata is never dropped by compaction: the active cycle must see it to
     * retire its version (the members' liveness record) */
    if ((uint8_t)v[0] != KTYPE_STRING) return 0;
    /* the engine compares it with the server's own cached time (lsm_set_expire_clock) */
    return get_le64(v + 2);
}

/* Engine key in a stack buffer, heap only for huge keys. */
typedef struct ekey {
    char *p;
    size_t len;
    char stack[256];
} ekey;

static int ekey_reserve(ekey *e, size_t n) {
    e->p = n <= sizeof(e->stack) ? e->stack : malloc(n);
    return e->p ? 0 : -1;
}
static void ekey_free(ekey *e) {
    if (e->p && e->p != e->stack) free(e->p);
    e->p = NULL;
}
static int ekey_k(ekey *e, int phys, const char *key, size_t klen) {
    if (ekey_reserve(e, klen + 2)) return LSM_ENOMEM;
    e->len = keyspace_encode_key(e->p, phys, key, klen);
    return 0;
}
static int ekey_x(ekey *e, uint64_t at, int phys, const char *key, size_t klen) {
    if (ekey_reserve(e, klen + 10)) return LSM_ENOMEM;
    e->len = keyspace_encode_xkey(e->p, at, phys, key, klen);
    return 0;
}

/* ---- state --------------------------------------------------------------------------------- */

#define KS_NBUF 4
static lsm_buf ks_bufs[KS_NBUF];
static lsm_buf ks_valbuf;         /* header + payload staging for keyspace_put */
static lsm_batch *ks_lazy_batch;  /* active cycle and flush batches */
static int ks_dbmap[KEVO_MAX_DBS];   /* logical -> physical */
static int ks_dbrev[KEVO_MAX_DBS];   /* physical -> logical */
static char ks_xresume[512];         /* active cycle: resume the 'x' walk here (a lower bound) */
static size_t ks_xresume_len;
static uint64_t ks_last_now;     /* the cycle's previous clock reading */
static int ks_expire_reads;        /* reads the cycle queued that have not landed */
static uint64_t ks_expire_reads_at_us; /* when they were queued */
static int ks_expire_fast;         /* they all landed: a fast cycle is due */
static long long ks_expire_reads_total;
static long long ks_avg_ttl[KEVO_MAX_DBS];


static const char ks_dbmap_name[] = "Mdbmap"; /* 'M' || "dbmap" (on-disk: never change) */

lsm_buf *keyspace_buf(int i) { return &ks_bufs[i & (KS_NBUF - 1)]; }

int keyspace_phys_db(int db) {
    if (db < 0 || db >= KEVO_MAX_DBS) return 0;
    return ks_dbmap[db];
}
int keyspace_logical_db(int phys) {
    if (phys < 0 || phys >= KEVO_MAX_DBS) return 0;
    return ks_dbrev[phys];
}

static void cursor_table_reset(void);

int keyspace_open(void) {
    for (int i = 0; i < KEVO_MAX_DBS; i++) ks_dbmap[i] = ks_dbrev[i] = i;
    ks_xresume_len = 0;
    ks_last_now = 0;
    ks_expire_reads = 0; /* a reopened engine dropped the reads in flight */
    ks_expire_fast = 0;
    memset(ks_avg_ttl, 0, sizeof(ks_avg_ttl));
    cursor_table_reset();
    if (!ks_lazy_batch) ks_lazy_batch = lsm_batch_new();
    if (!ks_lazy_batch) return -1;
    if (!server.engine) return -1;
    lsm_buf *b = keyspace_buf(0);
    int r = lsm_get(server.engine, ks_dbmap_name, sizeof(ks_dbmap_name) - 1, b);
    if (r == 0 && b->len == KEVO_MAX_DBS) {
        int seen = 0, ok = 1;
        for (int i = 0; i < KEVO_MAX_DBS; i++) {
            int p = (unsigned char)b->data[i];
            if (p >= KEVO_MAX_DBS || (seen & (1 << p))) ok = 0;
            else seen |= 1 << p;
        }
        if (ok) {
            for (int i = 0; i < KEVO_MAX_DBS; i++) {
                ks_dbmap[i] = (unsigned char)b->data[i];
                ks_dbrev[ks_dbmap[i]] = i;
            }
        }
    } else if (r != 0 && r != LSM_ENOTFOUND) {
        return -1;
    }
    return 0;
}

void keyspace_close(void) {
    keyspace_defer_flush();
    cursor_table_reset();
    for (int i = 0; i < KS_NBUF; i++) lsm_buf_free(&ks_bufs[i]);
    lsm_buf_free(&ks_valbuf);
    if (ks_lazy_batch) {
        lsm_batch_free(ks_lazy_batch);
        ks_lazy_batch = NULL;
    }
}

long long keyspace_dbsize(int db) {
    if (!server.engine) return 0;
    int idx = 2 * keyspace_phys_db(db);
    long long n = lsm_counter(server.engine, idx);
    return n < 0 ? 0 : n;
}
long long keyspace_expires(int db) {
    if (!server.engine) return 0;
    int idx = 2 * keyspace_phys_db(db) + 1;
    long long n = lsm_counter(server.engine, idx);
    return n < 0 ? 0 : n;
}
long long keyspace_avg_ttl(int db) {
    if (keyspace_expires(db) == 0) return 0;
    return ks_avg_ttl[keyspace_phys_db(db)];
}


/* ---- command groups ------------------------------------------------------------------------
 * Every write goes to the engine at once (lsm_put/lsm_delete/lsm_counter_add), so a command,
 * a transaction or a script reads its own writes, iterators included. Atomicity comes from the
 * engine's write groups (lsm_group_begin/end): keyspace_begin opens the command's group,
 * keyspace_commit closes it, and all of its writes become ONE WAL record. EXEC opens an outer
 * group (keyspace_defer_begin) so the whole transaction is one record. Writes outside any
 * group (lazy and active expiry) open a group of their own. */
static int ks_defer;      /* inside EXEC */
static int ks_cmd_group;  /* the current command's group is open */

static int ks_put(const char *ek, size_t eklen, const char *v, size_t vlen) {
    return lsm_put(server.engine, ek, eklen, v, vlen);
}
static int ks_del(const char *ek, size_t eklen) { return lsm_delete(server.engine, ek, eklen); }
static int ks_counter_add(int idx, int64_t d) { return lsm_counter_add(server.engine, idx, d); }

int keyspace_defer_flush(void) { return 0; /* writes are applied at once: nothing pending */ }

void keyspace_defer_begin(void) {
    if (ks_defer || !server.engine) return;
    lsm_group_begin(server.engine);
    ks_defer = 1;
}

int keyspace_defer_active(void) { return ks_defer; }

int keyspace_defer_end(void) {
    if (!ks_defer) return 0;
    ks_defer = 0;
    return lsm_group_end(server.engine);
}

void keyspace_begin(void) {
    if (ks_cmd_group || !server.engine) return;
    lsm_group_begin(server.engine);
    ks_cmd_group = 1;
}

void keyspace_abort(void) {
    if (!server.engine) return;
    if (ks_cmd_group || ks_defer) lsm_group_abort(server.engine);
}

int keyspace_commit(void) {
    if (!server.engine) return LSM_EIO;
    if (!ks_cmd_group) return 0;
    ks_cmd_group = 0;
    int r = lsm_group_end(server.engine);
    if (r == 0) server.dirty++;
    return r;
}

static int ks_no_new_events;   /* keyspace_new_events(0) */
static int ks_no_auto_signals; /* keyspace_auto_signals(0) */

void keyspace_new_events(int on) { ks_no_new_events = !on; }
void keyspace_auto_signals(int on) { ks_no_auto_signals = !on; }

void keyspace_command_done(void) {
    if (ks_cmd_group) keyspace_commit();
    ks_no_new_events = 0;
    ks_no_auto_signals = 0;
}

/* keyspace_signal_modified unless the running command signals its keys itself. */
static void auto_signal(int db, const char *key, size_t klen) {
    if (!ks_no_auto_signals) keyspace_signal_modified(db, key, klen);
}

/* ---- lookups and writes -------------------------------------------------------------------- */

/* Collections (type != string): the payload starts with the version (8 bytes, big-endian); its
 * liveness record 'v' || version exists while the version is live (see keyspace.h). */
static uint64_t coll_version_of(const ks_value *v) {
    if (v->type == KTYPE_STRING || v->plen < 8) return 0;
    return get_be64(v->payload);
}

static int retire_version(uint64_t version) {
    if (!version) return 0;
    char vk[9];
    vk[0] = KS_TAG_VERSION;
    put_be64(vk + 1, version);
    return ks_del(vk, sizeof(vk));
}

/* Deletes a live key (metadata, x entry, liveness record unless keep_version) and counts it. */
static int remove_key(int phys, const char *key, size_t klen, uint64_t expire,
                      const ks_value *retire) {
    ekey e;
    int r = ekey_k(&e, phys, key, klen);
    if (r) return r;
    r = ks_del(e.p, e.len);
    ekey_free(&e);
    if (r) return r;
    if ((r = ks_counter_add(2 * phys, -1))) return r;
    if (expire) {
        if ((r = ekey_x(&e, expire, phys, key, klen))) return r;
        r = ks_del(e.p, e.len);
        ekey_free(&e);
        if (r) return r;
        if ((r = ks_counter_add(2 * phys + 1, -1))) return r;
    }
    /* clients blocked on the key learn it is gone (XREADGROUP is unblocked with an error) */
    blocking_signal_key(keyspace_logical_db(phys), key, klen);
    if (!retire || !coll_version_of(retire)) return 0;
    if ((r = retire_version(coll_version_of(retire)))) return r;
    keyspace_notify_removed(retire, KS_REMOVED_DELETED);
    return 0;
}

/* Deletes an expired key now (its own group, or the open one), counts it, touches WATCH. */
static int expire_now(int phys, const char *key, size_t klen, const ks_value *v) {
    lsm_group_begin(server.engine);
    int r = remove_key(phys, key, klen, v->expire, v);
    if (r) lsm_group_abort(server.engine);
    int er = lsm_group_end(server.engine);
    if (r == 0) r = er;
    if (r == 0) {
        server.stat.expiredkeys++;
        server.dirty++;
        int db = keyspace_logical_db(phys);
        /* Redis's deleteExpiredKeyAndPropagate: the event, then WATCH and tracking (as a change
         * by nobody: NOLOOP does not hide it from the reader whose lookup expired it) */
        notify_keyspace_event(NOTIFY_EXPIRED, "expired", db, key, klen);
        multi_touch_key(db, key, klen);
        tracking_invalidate_key(key, klen, 1);
    }
    return r;
}

void keyspace_signal_modified(int db, const char *key, size_t klen) {
    multi_touch_key(db, key, klen);
    tracking_invalidate_key(key, klen, 0);
}

int keyspace_lookup(int db, const char *key, size_t klen, lsm_buf *buf, ks_value *out,
                    int flags) {
    if (!server.engine) return LSM_EIO;
    int phys = keyspace_phys_db(db);
    ekey e;
    int r = ekey_k(&e, phys, key, klen);
    if (r) return r;
    r = lsm_get(server.engine, e.p, e.len, buf);
    ekey_free(&e);
    if (r == LSM_ENOTFOUND) {
        if (flags & KS_LOOKUP_READ) {
            server.stat.keyspace_misses++;
            notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", db, key, klen);
        }
        return 0;
    }
    if (r) return r;
    if (keyspace_decode_value(buf->data, buf->len, out)) return LSM_ECORRUPT;
    if (out->expire && out->expire <= server_now_ms()) {
        if (!(flags & KS_LOOKUP_NOEXPIRE)) {
            r = expire_now(phys, key, klen, out);
            if (r) return r;
        }
        if (flags & KS_LOOKUP_READ) {
            server.stat.keyspace_misses++;
            notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", db, key, klen);
        }
        return 0;
    }
    if (flags & KS_LOOKUP_READ) server.stat.keyspace_hits++;
    return 1;
}

int keyspace_remove(int db, const char *key, size_t klen, const ks_value *old) {
    int r = remove_key(keyspace_phys_db(db), key, klen, old->expire, old);
    if (r == 0) auto_signal(db, key, klen);
    return r;
}

int keyspace_remove_keep_version(int db, const char *key, size_t klen, const ks_value *old) {
    int r = remove_key(keyspace_phys_db(db), key, klen, old->expire, NULL);
    if (r == 0) auto_signal(db, key, klen);
    return r;
}

int keyspace_put(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                 uint64_t expire, const void *payload, size_t plen) {
    return keyspace_put_flags(db, key, klen, old, type, 0, expire, payload, plen);
}

static int ks_put_quiet; /* keyspace_put_quiet is running */

int keyspace_put_flags(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                       uint8_t vflags, uint64_t expire, const void *payload, size_t plen) {
    if (expire && expire <= server_now_ms()) {
        /* I3: a past expire removes the key instead of storing it */
        if (old) return keyspace_remove(db, key, klen, old);
        return 0;
    }
    int phys = keyspace_phys_db(db);
    size_t need = plen + KS_VALUE_HDR_MAX;
    if (ks_valbuf.cap < need) {
        char *nd = realloc(ks_valbuf.data, need);
        if (!nd) return LSM_ENOMEM;
        ks_valbuf.data = nd;
        ks_valbuf.cap = need;
    }
    size_t h = keyspace_encode_value_header(ks_valbuf.data, type, expire);
    ks_valbuf.data[1] = (char)((uint8_t)ks_valbuf.data[1] | (vflags & KF_RAW));
    if (plen) memcpy(ks_valbuf.data + h, payload, plen);
    ekey e;
    int r = ekey_k(&e, phys, key, klen);
    if (r) return r;
    r = ks_put(e.p, e.len, ks_valbuf.data, h + plen);
    ekey_free(&e);
    if (ks_valbuf.cap > (1u << 20)) lsm_buf_free(&ks_valbuf); /* do not keep huge staging */
    if (r) return r;
    if (!old && (r = ks_counter_add(2 * phys, 1))) return r;
    uint64_t oldexp = old ? old->expire : 0;
    if (oldexp != expire) {
        if (oldexp) {
            if ((r = ekey_x(&e, oldexp, phys, key, klen))) return r;
            r = ks_del(e.p, e.len);
            ekey_free(&e);
            if (r) return r;
            if ((r = ks_counter_add(2 * phys + 1, -1))) return r;
        }
        if (expire) {
            if ((r = ekey_x(&e, expire, phys, key, klen))) return r;
            r = ks_put(e.p, e.len, "", 0);
            ekey_free(&e);
            if (r) return r;
            if ((r = ks_counter_add(2 * phys + 1, 1))) return r;
        }
    }
    /* the old incarnation was a collection and this write is not the same version of it: its
     * members die with it (O(1): the compaction filter removes them) */
    uint64_t oldver = old ? coll_version_of(old) : 0;
    if (oldver && (type == KTYPE_STRING || plen < 8 || get_be64(payload) != oldver)) {
        if ((r = retire_version(oldver))) return r;
        keyspace_notify_removed(old, KS_REMOVED_OVERWRITTEN);
    }
    if (!old && !ks_no_new_events) notify_keyspace_event(NOTIFY_NEW, "new", db, key, klen); /* dbAdd */
    if (ks_put_quiet) return 0; /* keyspace_put_quiet: no signalModifiedKey, no wake-up */
    auto_signal(db, key, klen);
    blocking_signal_key(db, key, klen); /* the key may have data for blocked clients */
    return 0;
}

int keyspace_put_quiet(int db, const char *key, size_t klen, const ks_value *old, uint8_t type,
                       uint64_t expire, const void *payload, size_t plen) {
    ks_put_quiet = 1;
    int r = keyspace_put_flags(db, key, klen, old, type, 0, expire, payload, plen);
    ks_put_quiet = 0;
    return r;
}

/* ---- reclaiming dead members ------------------------------------------------------------------
 * A removed collection leaves its members behind; the compaction filter drops them once the
 * liveness record's delete is in a table. Big ones are not left to chance: their member ranges
 * are remembered here and the cron asks the engine to compact them (lsm_compact_range freezes
 * the memtable first, so the filter sees the delete). */
static uint64_t ks_dead_min, ks_dead_max; /* versions of the pending dead ranges */
static uint64_t ks_dead_members;          /* members they hold (from the metadata counts) */
static uint64_t ks_dead_since_us;
static uint64_t ks_reclaims;

void keyspace_notify_removed(const ks_value *old, int why) {
    (void)why;
    uint64_t ver = coll_version_of(old);
    if (!ver || old->plen < 16) return;
    keyspace_notify_trimmed(ver, get_le64(old->payload + 8)); /* all its members are dead */
}

void keyspace_notify_trimmed(uint64_t version, uint64_t count) {
    if (!version || count < KS_RECLAIM_MIN_MEMBERS) return; /* small: normal compactions suffice */
    if (!ks_dead_members) {
        ks_dead_min = ks_dead_max = version;
        ks_dead_since_us = ks_clock_us_now();
    }
    if (version < ks_dead_min) ks_dead_min = version;
    if (version > ks_dead_max) ks_dead_max = version;
    ks_dead_members += count;
}

int keyspace_reclaim_cron(void) {
    if (!ks_dead_members || !server.engine) return 0;
    /* a burst of deletes is gathered for a moment into one request */
    if (ks_clock_us_now() - ks_dead_since_us < 200000) return 0;
    char b[9], e[9];
    b[0] = e[0] = KS_TAG_MEMBER;
    put_be64(b + 1, ks_dead_min);
    put_be64(e + 1, ks_dead_max + 1);
    int r = lsm_compact_range(server.engine, b, sizeof(b), e, sizeof(e), 0);
    if (r == 0) {
        ks_dead_members = 0;
        ks_reclaims++;
    }
    return r == 0;
}

uint64_t keyspace_reclaims(void) { return ks_reclaims; }

/* ---- active expiry ------------------------------------------------------------------------- */

void keyspace_expire_read_done(void) {
    if (ks_expire_reads > 0 && --ks_expire_reads == 0) ks_expire_fast = 1;
}

int keyspace_expire_fast_due(void) { return ks_expire_fast; }

long long keyspace_expire_reads_queued(void) { return ks_expire_reads_total; }

/* An expire index entry 'x' | at (8, BE) | phys (1) | key: 1 with *at and *phys, 0 when xk is
 * not one (the walk has left the index). */
static int xentry_parse(const char *xk, size_t xl, uint64_t *at, int *phys) {
    if (xl < 10 || xk[0] != KS_TAG_EXPIRE) return 0;
    *at = get_be64(xk + 1);
    *phys = (unsigned char)xk[9];
    return 1;
}

/* Reads still in flight after this long are taken as lost (the cycle goes on without them). */
#define KS_EXPIRE_READ_WAIT_US 2000000

/* The cycle met a due key (engine key ek) whose record is not in memory, it = its index entry:
 * queues its read and those of the due keys after it whose records are not in memory either
 * (moving it forward), up to KS_EXPIRE_READAHEAD entries. Returns the reads queued; 0 when the
 * first could not be (no reader threads, too many in flight): it is then untouched and the
 * caller reads in place. */
static int queue_expire_reads(lsm_iter *it, uint64_t now, const char *ek, size_t eklen) {
    if (lsm_prefetch(server.engine, ek, eklen, KS_EXPIRE_READ_TAG) != 0) return 0;
    int queued = 1;
    lsm_iter_next(it);
    for (int scanned = 1; lsm_iter_valid(it) && scanned < KS_EXPIRE_READAHEAD; lsm_iter_next(it), scanned++) {
        size_t xl;
        const char *xk = lsm_iter_key(it, &xl);
        uint64_t at;
        int phys;
        if (!xentry_parse(xk, xl, &at, &phys) || at > now) break;
        if (phys >= KEVO_MAX_DBS) continue;
        ekey e;
        if (ekey_k(&e, phys, xk + 10, xl - 10)) break;
        int r = lsm_get_ready(server.engine, e.p, e.len);
        if (r == LSM_EAGAIN) {
            r = lsm_prefetch(server.engine, e.p, e.len, KS_EXPIRE_READ_TAG);
            if (r == 0) queued++;
        }
        ekey_free(&e);
        if (r != 0 && r != LSM_ENOTFOUND) break; /* refused (too many in flight): enough */
    }
    ks_expire_reads = queued;
    ks_expire_reads_at_us = ks_clock_us_now();
    ks_expire_reads_total += queued;
    return queued;
}

long long keyspace_active_expire_cycle(long long budget_us) {
    if (!server.engine || ks_defer) return 0;
    int fast = ks_expire_fast;
    ks_expire_fast = 0;
    if (ks_expire_reads > 0) {
        /* waiting for the reads it queued: their landing starts the next (fast) cycle */
        if (ks_clock_us_now() - ks_expire_reads_at_us < KS_EXPIRE_READ_WAIT_US) return 0;
        ks_expire_reads = 0;
    }
    for (int i = 0; i < KS_NBUF; i++) /* amortized buffers: do not pin huge values forever */
        if (ks_bufs[i].cap > (4u << 20)) lsm_buf_free(&ks_bufs[i]);
    long long with_expire = 0;
    for (int p = 0; p < KEVO_MAX_DBS; p++) with_expire += lsm_counter(server.engine, 2 * p + 1);
    if (with_expire <= 0) return 0; /* no 'x' entry can exist (I2): skip the seek */
    uint64_t start = ks_clock_us_now();
    uint64_t now = server_now_ms();
    long long expired = 0;
    /* Resume point: every index entry before it was retired, and a new entry always sorts after
     * it (it is written with an expire-at > now >= the resume point's time, by I3), so the walk
     * need not step over the tombstones of retired entries again. Only a wall clock stepping
     * back breaks that: then restart from the beginning. */
    if (now < ks_last_now) ks_xresume_len = 0;
    ks_last_now = now;
    lsm_iter *it = lsm_iter_new(server.engine);
    if (!it) return 0;
    char first = KS_TAG_EXPIRE;
    if (ks_xresume_len) lsm_iter_seek(it, ks_xresume, ks_xresume_len);
    else lsm_iter_seek(it, &first, 1);
    lsm_buf *vb = keyspace_buf(3);
    unsigned n = 0;
    int budget_hit = 0;
    long long ttl_sum[KEVO_MAX_DBS] = {0}, ttl_cnt[KEVO_MAX_DBS] = {0};
    for (; lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t xl;
        const char *xk = lsm_iter_key(it, &xl);
        uint64_t at;
        int phys;
        if (!xentry_parse(xk, xl, &at, &phys)) break;
        if (at > now) {
            /* not due: sample a few for the avg_ttl estimate */
            if (phys < KEVO_MAX_DBS && ttl_cnt[phys] < 16) {
                /* each sample capped so that 16 of them sum without overflow (a TTL of
                 * millions of years: EXPIREAT near the end of the 64-bit range) */
                uint64_t d = at - now, cap = (uint64_t)LLONG_MAX / 16;
                ttl_sum[phys] += (long long)(d < cap ? d : cap);
                ttl_cnt[phys]++;
            }
            if (n++ >= 16) break;
            continue;
        }
        if ((++n & 15) == 0 && (long long)(ks_clock_us_now() - start) > budget_us) {
            budget_hit = 1;
            break;
        }
        if (phys >= KEVO_MAX_DBS) continue;
        const char *key = xk + 10;
        size_t klen = xl - 10;
        ekey e;
        if (ekey_k(&e, phys, key, klen)) break;
        /* not in memory: its read (and the next due keys') goes to the reader threads and the
         * cycle ends here, except for the first key of a fast cycle (its read landed and was
         * evicted again: read in place, so that every round makes progress) */
        if (!(fast && expired == 0) && lsm_get_ready(server.engine, e.p, e.len) == LSM_EAGAIN &&
            queue_expire_reads(it, now, e.p, e.len) > 0) {
            ekey_free(&e);
            break;
        }
        int r = lsm_get(server.engine, e.p, e.len, vb);
        ekey_free(&e);
        ks_value v;
        int same = 0;
        if (r == 0 && keyspace_decode_value(vb->data, vb->len, &v) == 0 && v.expire == at)
            same = 1;
        else if (r != 0 && r != LSM_ENOTFOUND)
            break;
        if (same) {
            if (expire_now(phys, key, klen, &v)) break;
        } else {
            /* stale entry: its incarnation was dropped by compaction (see the invariant) */
            int absent = r == LSM_ENOTFOUND;
            lsm_batch_clear(ks_lazy_batch);
            lsm_batch_delete(ks_lazy_batch, xk, xl);
            lsm_batch_counter_add(ks_lazy_batch, 2 * phys, -1);
            lsm_batch_counter_add(ks_lazy_batch, 2 * phys + 1, -1);
            r = lsm_write(server.engine, ks_lazy_batch);
            lsm_batch_clear(ks_lazy_batch);
            if (r) break;
            server.stat.expiredkeys++;
            if (absent) { /* the key expired unseen: its event and invalidation are due now */
                int db = keyspace_logical_db(phys);
                notify_keyspace_event(NOTIFY_EXPIRED, "expired", db, key, klen);
                multi_touch_key(db, key, klen);
                tracking_invalidate_key(key, klen, 1);
            }
        }
        expired++;
        if (xl <= sizeof(ks_xresume)) {
            memcpy(ks_xresume, xk, xl);
            ks_xresume_len = xl;
        } else {
            ks_xresume_len = 0;
        }
    }
    lsm_iter_free(it);
    if (budget_hit) {
        server.stat.stat_expired_time_cap_reached_count++;
        if (fast) ks_expire_fast = 1; /* more are ready: the next iteration goes on */
    }
    for (int p = 0; p < KEVO_MAX_DBS; p++) {
        if (!ttl_cnt[p]) continue;
        long long sample = ttl_sum[p] / ttl_cnt[p];
        ks_avg_ttl[p] = ks_avg_ttl[p] ? (ks_avg_ttl[p] / 50) * 49 + sample / 50 : sample;
    }
    return expired;
}

/* ---- whole-db operations ------------------------------------------------------------------- */

#define KS_FLUSH_BATCH 1000

/* Deletes written by a FLUSHDB/FLUSHALL after which the flushed range is compacted in the
 * background, so that seeks into the emptied db (SCAN, RANDOMKEY) stop stepping over the
 * tombstones. Small flushes leave it to normal compaction. */
#define KS_FLUSH_COMPACT_MIN 10000

static int flush_phys(int phys, long long *deleted) {
    ks_avg_ttl[phys] = 0; /* as Redis's emptyDb: the estimate starts over */
    lsm_iter *it = lsm_iter_new(server.engine);
    if (!it) return LSM_ENOMEM;
    char pfx[2] = {KS_TAG_KEY, (char)phys};
    lsm_batch *b = ks_lazy_batch;
    lsm_batch_clear(b);
    int r = 0;
    for (lsm_iter_seek(it, pfx, 2); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < 2 || memcmp(k, pfx, 2) != 0) break;
        const char *v = lsm_iter_value(it, &vl);
        ks_value kv;
        memset(&kv, 0, sizeof(kv));
        keyspace_decode_value(v, vl, &kv);
        lsm_batch_delete(b, k, kl);
        lsm_batch_counter_add(b, 2 * phys, -1);
        if (kv.expire) {
            ekey e;
            if ((r = ekey_x(&e, kv.expire, phys, k + 2, kl - 2))) break;
            lsm_batch_delete(b, e.p, e.len);
            ekey_free(&e);
            lsm_batch_counter_add(b, 2 * phys + 1, -1);
        }
        uint64_t ver = coll_version_of(&kv);
        if (ver) {
            char vk[9];
            vk[0] = KS_TAG_VERSION;
            put_be64(vk + 1, ver);
            lsm_batch_delete(b, vk, sizeof(vk));
            keyspace_notify_removed(&kv, KS_REMOVED_DELETED);
        }
        (*deleted)++;
        if (lsm_batch_count(b) >= KS_FLUSH_BATCH) {
            if ((r = lsm_write(server.engine, b))) break;
            lsm_batch_clear(b);
        }
    }
    if (r == 0) r = lsm_iter_status(it);
    lsm_iter_free(it);
    if (r == 0 && lsm_batch_count(b)) r = lsm_write(server.engine, b);
    lsm_batch_clear(b);
    if (r) return r;
    /* Stale (due) expire-index entries of this db still count incarnations dropped by
     * compaction: retire them too, so the counters reach exactly zero. */
    it = lsm_iter_new(server.engine);
    if (!it) return LSM_ENOMEM;
    uint64_t now = server_now_ms();
    char first = KS_TAG_EXPIRE;
    /* entries before the active cycle's resume point are all retired already */
    if (ks_xresume_len) lsm_iter_seek(it, ks_xresume, ks_xresume_len);
    else lsm_iter_seek(it, &first, 1);
    for (; lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t xl;
        const char *xk = lsm_iter_key(it, &xl);
        /* after the deletes above every entry of phys is stale; stale ones are due (compaction
         * drops only values the server's clock already saw expire) */
        if (xl < 10 || xk[0] != KS_TAG_EXPIRE || get_be64(xk + 1) > now) break;
        if ((unsigned char)xk[9] != phys) continue;
        lsm_batch_delete(b, xk, xl);
        lsm_batch_counter_add(b, 2 * phys, -1);
        lsm_batch_counter_add(b, 2 * phys + 1, -1);
        if (lsm_batch_count(b) >= KS_FLUSH_BATCH) {
            if ((r = lsm_write(server.engine, b))) break;
            lsm_batch_clear(b);
        }
    }
    lsm_iter_free(it);
    if (r == 0 && lsm_batch_count(b)) r = lsm_write(server.engine, b);
    lsm_batch_clear(b);
    if (r) return r;
    /* Anything left means the counters had drifted (e.g. data written by an older build):
     * the db is empty now, so zero them. */
    int64_t left = lsm_counter(server.engine, 2 * phys);
    int64_t lefte = lsm_counter(server.engine, 2 * phys + 1);
    if (left || lefte) {
        lsm_batch_counter_add(b, 2 * phys, -left);
        lsm_batch_counter_add(b, 2 * phys + 1, -lefte);
        r = lsm_write(server.engine, b);
        lsm_batch_clear(b);
    }
    return r;
}

int keyspace_flushdb(int db) {
    if (!server.engine) return LSM_EIO;
    int fr = keyspace_defer_flush();
    if (fr) return fr;
    multi_touch_db(db);
    long long deleted = 0;
    int phys = keyspace_phys_db(db);
    int r = flush_phys(phys, &deleted);
    blocking_signal_db(db); /* XREADGROUP clients blocked on its streams are unblocked */
    if (r == 0) server.dirty++;
    if (r == 0 && deleted >= KS_FLUSH_COMPACT_MIN) {
        char b[2] = {KS_TAG_KEY, (char)phys}, e[2] = {KS_TAG_KEY, (char)(phys + 1)};
        lsm_compact_range(server.engine, b, 2, e, 2, 0); /* best effort */
    }
    return r;
}

int keyspace_flushall(void) {
    if (!server.engine) return LSM_EIO;
    int fr = keyspace_defer_flush();
    if (fr) return fr;
    long long deleted = 0;
    for (int db = 0; db < KEVO_MAX_DBS; db++) {
        multi_touch_db(db);
        int r = flush_phys(keyspace_phys_db(db), &deleted);
        blocking_signal_db(db);
        if (r) {
                    return r;
        }
    }
    server.dirty++;
    if (deleted >= KS_FLUSH_COMPACT_MIN) lsm_compact_range(server.engine, NULL, 0, NULL, 0, 0);
    return 0;
}

int keyspace_swapdb(int a, int b) {
    if (!server.engine) return LSM_EIO;
    if (a < 0 || b < 0 || a >= KEVO_MAX_DBS || b >= KEVO_MAX_DBS) return LSM_EINVAL;
    if (a == b) return 0;
    int fr = keyspace_defer_flush();
    if (fr) return fr;
    multi_touch_db(a);
    multi_touch_db(b);
    int map[KEVO_MAX_DBS];
    memcpy(map, ks_dbmap, sizeof(map));
    int t = map[a];
    map[a] = map[b];
    map[b] = t;
    char enc[KEVO_MAX_DBS];
    for (int i = 0; i < KEVO_MAX_DBS; i++) enc[i] = (char)map[i];
    lsm_batch *bt = server.batch;
    lsm_batch_clear(bt);
    int r = lsm_batch_put(bt, ks_dbmap_name, sizeof(ks_dbmap_name) - 1, enc, sizeof(enc));
    if (r == 0) r = lsm_write(server.engine, bt);
    lsm_batch_clear(bt);
    if (r) return r;
    memcpy(ks_dbmap, map, sizeof(map));
    for (int i = 0; i < KEVO_MAX_DBS; i++) ks_dbrev[ks_dbmap[i]] = i;
    multi_touch_db(a);
    multi_touch_db(b);
    blocking_signal_db(a); /* clients blocked in a or b now see the other db's data */
    blocking_signal_db(b);
    server.dirty++;
    return 0;
}

/* ---- SCAN cursor table --------------------------------------------------------------------
 * cursor (63 bits) = key prefix (first 5 bytes of the user key, zero padded) << 23 |
 *                    tag (11 bits, never 0) << 12 | slot (12 bits).
 * The table keeps the full resume key of the last 4096 cursors handed out (round robin). A cursor
 * no longer in the table (evicted, or from before a restart) resumes at its embedded prefix with
 * trailing zero bytes stripped: a lower bound of the last key returned, so nothing is skipped. */
#define KS_CURSORS 4096
#define KS_CURSOR_PREFIX 5
typedef struct ks_cursor {
    unsigned long long id;
    int phys;
    char *key;   /* engine key, malloc'd */
    size_t len;
} ks_cursor;
static ks_cursor ks_cursors[KS_CURSORS];
static unsigned ks_cursor_next;
static unsigned ks_cursor_tag;
static char ks_seekbuf[2 + KS_CURSOR_PREFIX]; /* fallback resume key */

static void cursor_table_reset(void) {
    for (int i = 0; i < KS_CURSORS; i++) {
        free(ks_cursors[i].key);
        ks_cursors[i].key = NULL;
        ks_cursors[i].id = 0;
    }
}

unsigned long long keyspace_cursor_save(int phys_db, const char *ekey_p, size_t eklen) {
#define KS_CURSOR_MAX_KEY 4096 /* longer resume keys are not kept: the prefix bound is used */
    unsigned slot = ks_cursor_next++ % KS_CURSORS;
    ks_cursor_tag = (ks_cursor_tag + 1) & 0x7ff;
    if (ks_cursor_tag == 0) ks_cursor_tag = 1;
    unsigned long long prefix = 0;
    for (int i = 0; i < KS_CURSOR_PREFIX; i++) {
        prefix <<= 8;
        if ((size_t)(2 + i) < eklen) prefix |= (unsigned char)ekey_p[2 + i];
    }
    unsigned long long id = (prefix << 23) | ((unsigned long long)ks_cursor_tag << 12) | slot;
    ks_cursor *c = &ks_cursors[slot];
    char *copy = eklen <= KS_CURSOR_MAX_KEY ? malloc(eklen ? eklen : 1) : NULL;
    free(c->key);
    c->key = copy;
    if (!copy) {
        c->id = 0;
        return id; /* falls back to the prefix */
    }
    memcpy(copy, ekey_p, eklen);
    c->len = eklen;
    c->id = id;
    c->phys = phys_db;
    return id;
}

int keyspace_cursor_load(unsigned long long cursor, int phys_db, const char **seek,
                         size_t *seeklen) {
    ks_cursor *c = &ks_cursors[cursor & (KS_CURSORS - 1)];
    if (c->id == cursor && c->key && c->phys == phys_db) {
        *seek = c->key;
        *seeklen = c->len;
        return 1;
    }
    char *dst = ks_seekbuf;
    dst[0] = KS_TAG_KEY;
    dst[1] = (char)phys_db;
    unsigned long long prefix = (cursor >> 23) & ((1ull << (8 * KS_CURSOR_PREFIX)) - 1);
    size_t n = 2;
    for (int i = KS_CURSOR_PREFIX - 1; i >= 0; i--) dst[n++] = (char)(prefix >> (8 * i));
    while (n > 2 && dst[n - 1] == 0) n--;
    *seek = dst;
    *seeklen = n;
    return 0;
}

/* ---- OBJECT / DEBUG OBJECT helpers --------------------------------------------------------- */

const char *keyspace_string_encoding(const char *p, size_t len) {
    long long v;
    if (len <= 20 && string2ll(p, len, &v)) return "int";
    return len <= 44 ? "embstr" : "raw";
}

const char *keyspace_value_encoding(const ks_value *v) {
    if (v->flags & KF_RAW) return "raw";
    return keyspace_string_encoding(v->payload, v->plen);
}

