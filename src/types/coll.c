/* coll.c - the collection layer (coll.h): metadata, versions, member records, iteration. */
#include "coll.h"

#include <stdlib.h>
#include <string.h>

#include "blocking.h"
#include "multi.h"
#include "server.h"
#include "util.h"


/* Member key in a stack buffer, heap for long members. */
typedef struct mkey {
    char *p;
    size_t len;
    char stack[256];
} mkey;
static int mkey_make(mkey *k, uint64_t version, uint8_t sub, const void *m, size_t mlen) {
    size_t need = mlen + 10;
    k->p = need <= sizeof(k->stack) ? k->stack : malloc(need);
    if (!k->p) return LSM_ENOMEM;
    k->len = coll_member_key(k->p, version, sub, m, mlen);
    return 0;
}
static void mkey_free(mkey *k) {
    if (k->p && k->p != k->stack) free(k->p);
    k->p = NULL;
}

size_t coll_member_key(char *dst, uint64_t version, uint8_t sub, const void *m, size_t mlen) {
    dst[0] = KS_TAG_MEMBER;
    put_be64(dst + 1, version);
    dst[9] = (char)sub;
    if (mlen) memcpy(dst + 10, m, mlen);
    return mlen + 10;
}

/* Parses a collection payload into c (version, count, enc, extra). -1 when malformed. */
static int parse_meta(coll *c, const char *p, size_t n) {
    if (n < COLL_META_FIXED || n > COLL_META_FIXED + COLL_EXTRA_MAX) return -1;
    c->version = get_be64(p);
    c->count = (int64_t)get_le64(p + 8);
    c->enc = (uint8_t)p[16];
    c->extra_len = n - COLL_META_FIXED;
    if (c->extra_len) memcpy(c->extra, p + COLL_META_FIXED, c->extra_len);
    return 0;
}

static size_t encode_meta(const coll *c, char *dst) {
    put_be64(dst, c->version);
    put_le64(dst + 8, (uint64_t)c->count);
    dst[16] = (char)c->enc;
    if (c->extra_len) memcpy(dst + COLL_META_FIXED, c->extra, c->extra_len);
    return COLL_META_FIXED + c->extra_len;
}

int coll_open(coll *c, int db, const char *key, size_t klen, uint8_t type, int flags) {
    memset(c, 0, sizeof(*c));
    c->db = db;
    c->key = key;
    c->klen = klen;
    c->type = type;
    int r = keyspace_lookup(db, key, klen, &c->buf, &c->cur, flags);
    if (r <= 0) return r;
    c->exists = 1;
    if (c->cur.type != type) return COLL_WRONGTYPE;
    if (parse_meta(c, c->cur.payload, c->cur.plen)) return LSM_ECORRUPT;
    return 1;
}

void coll_close(coll *c) { lsm_buf_free(&c->buf); }

/* c->cur describes what is stored now: the metadata as encoded in c->meta. */
static void cur_from_meta(coll *c, uint64_t expire) {
    size_t n = encode_meta(c, c->meta);
    c->cur.type = c->type;
    c->cur.flags = expire ? KF_EXPIRE : 0;
    c->cur.expire = expire;
    c->cur.payload = c->meta;
    c->cur.plen = n;
}

static int new_version(uint64_t *out);

int coll_create(coll *c, uint8_t enc) {
    if (c->exists) return 0;
    int r = new_version(&c->version);
    if (r) return r;
    c->count = 0;
    c->enc = enc;
    c->extra_len = 0;
    size_t n = encode_meta(c, c->meta);
    if ((r = keyspace_put(c->db, c->key, c->klen, NULL, c->type, 0, c->meta, n))) return r;
    c->exists = 1;
    c->meta_dirty = 0;
    cur_from_meta(c, 0);
    return 0;
}

int coll_recreate(coll *c, uint8_t enc) {
    if (!c->exists) return coll_create(c, enc);
    /* an overwrite (Redis's setKey of an existing key: no "new" event), not a delete and a
     * create: the key keeps its count, loses its expire, and a new version retires the old one */
    int r = new_version(&c->version);
    if (r) return r;
    c->count = 0;
    c->enc = enc;
    c->extra_len = 0;
    size_t n = encode_meta(c, c->meta);
    if ((r = keyspace_put(c->db, c->key, c->klen, &c->cur, c->type, 0, c->meta, n))) return r;
    c->meta_dirty = 0;
    cur_from_meta(c, 0);
    return 0;
}

int coll_get(const coll *c, uint8_t sub, const void *m, size_t mlen, lsm_buf *out) {
    if (!c->exists) return 0;
    mkey k;
    int r = mkey_make(&k, c->version, sub, m, mlen);
    if (r) return r;
    r = lsm_get(server.engine, k.p, k.len, out);
    mkey_free(&k);
    if (r == LSM_ENOTFOUND) return 0;
    return r ? r : 1;
}

int coll_put(coll *c, uint8_t sub, const void *m, size_t mlen, const void *v, size_t vlen) {
    mkey k;
    int r = mkey_make(&k, c->version, sub, m, mlen);
    if (r) return r;
    r = lsm_put(server.engine, k.p, k.len, v, vlen);
    mkey_free(&k);
    return r;
}

int coll_del(coll *c, uint8_t sub, const void *m, size_t mlen) {
    mkey k;
    int r = mkey_make(&k, c->version, sub, m, mlen);
    if (r) return r;
    r = lsm_delete(server.engine, k.p, k.len);
    mkey_free(&k);
    return r;
}

void coll_prefetch(const coll *c, uint8_t sub, const void *m, size_t mlen, int step) {
    char k[256];
    if (mlen + 10 > sizeof(k)) return; /* a hint: long members go without */
    size_t kl = coll_member_key(k, c->version, sub, m, mlen);
    if (step == 1) lsm_prefetch_memtables(server.engine, k, kl);
    else lsm_prefetch_memtables_entry(server.engine, k, kl);
}

void coll_touch(coll *c) {
    keyspace_signal_modified(c->db, c->key, c->klen); /* WATCH and client-side caching */
    blocking_signal_key(c->db, c->key, c->klen);
}

int coll_save(coll *c) {
    if (!c->exists) return 0;
    if (c->count <= 0) {
        /* members are all deleted by now; removing the key retires the version too */
        int r = keyspace_remove(c->db, c->key, c->klen, &c->cur);
        if (r == 0) c->exists = 0;
        c->meta_dirty = 0;
        return r;
    }
    if (!c->meta_dirty) {
        coll_touch(c);
        return 0;
    }
    uint64_t expire = c->cur.expire;
    char meta[sizeof(c->meta)];
    size_t n = encode_meta(c, meta);
    int r = keyspace_put(c->db, c->key, c->klen, &c->cur, c->type, expire, meta, n);
    if (r) return r;
    c->meta_dirty = 0;
    cur_from_meta(c, expire);
    return 0;
}

int coll_set_version_value(coll *c, const void *v, size_t vlen) {
    if (!c->exists) return LSM_EINVAL;
    char vk[9];
    vk[0] = KS_TAG_VERSION;
    put_be64(vk + 1, c->version);
    return lsm_put(server.engine, vk, sizeof(vk), v, vlen);
}

static int new_version(uint64_t *out) {
    int r = lsm_counter_add(server.engine, KS_VERSION_COUNTER, 1);
    if (r) return r;
    *out = (uint64_t)lsm_counter(server.engine, KS_VERSION_COUNTER);
    char vk[9];
    vk[0] = KS_TAG_VERSION;
    put_be64(vk + 1, *out);
    return lsm_put(server.engine, vk, sizeof(vk), "", 0);
}

int coll_clone(const ks_value *src, char *payload, size_t *plen) {
    if (src->type == KTYPE_STRING || src->plen < COLL_META_FIXED ||
        src->plen > COLL_META_FIXED + COLL_EXTRA_MAX)
        return LSM_EINVAL;
    uint64_t from = get_be64(src->payload), to;
    int r = new_version(&to);
    if (r) return r;
    lsm_iter *it = lsm_iter_new(server.engine);
    if (!it) return LSM_ENOMEM;
    char pfx[9];
    pfx[0] = KS_TAG_MEMBER;
    put_be64(pfx + 1, from);
    lsm_buf kb = {0};
    for (lsm_iter_seek(it, pfx, sizeof(pfx)); r == 0 && lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < sizeof(pfx) || memcmp(k, pfx, sizeof(pfx)) != 0) break;
        const char *v = lsm_iter_value(it, &vl);
        if (kb.cap < kl) {
            char *nd = realloc(kb.data, kl);
            if (!nd) { r = LSM_ENOMEM; break; }
            kb.data = nd;
            kb.cap = kl;
        }
        memcpy(kb.data, k, kl);
        put_be64(kb.data + 1, to);
        r = lsm_put(server.engine, kb.data, kl, v, vl);
    }
    if (r == 0) r = lsm_iter_status(it);
    lsm_iter_free(it);
    if (r == 0) { /* the liveness record's value too (a stream's trimmed-below ID) */
        char vk[9];
        vk[0] = KS_TAG_VERSION;
        put_be64(vk + 1, from);
        int g = lsm_get(server.engine, vk, sizeof(vk), &kb);
        if (g == 0 && kb.len > 0) {
            put_be64(vk + 1, to);
            r = lsm_put(server.engine, vk, sizeof(vk), kb.data, kb.len);
        } else if (g != 0 && g != LSM_ENOTFOUND) {
            r = g;
        }
    }
    lsm_buf_free(&kb);
    if (r) return r;
    memcpy(payload, src->payload, src->plen);
    put_be64(payload, to);
    *plen = src->plen;
    return 0;
}

/* ---- iteration ---- */

int coll_iter_seek(coll_iter *ci, const coll *c, uint8_t sub, const void *from, size_t flen) {
    memset(ci, 0, sizeof(*ci));
    ci->prefix[0] = KS_TAG_MEMBER;
    put_be64(ci->prefix + 1, c->version);
    ci->prefix[9] = (char)sub;
    if (!c->exists) return 0;
    ci->it = lsm_iter_new(server.engine);
    if (!ci->it) return LSM_ENOMEM;
    if (from && flen) {
        mkey k;
        int r = mkey_make(&k, c->version, sub, from, flen);
        if (r) return r;
        lsm_iter_seek(ci->it, k.p, k.len);
        mkey_free(&k);
    } else {
        lsm_iter_seek(ci->it, ci->prefix, sizeof(ci->prefix));
    }
    coll_iter_next(ci); /* validates the position without moving (see below) */
    return lsm_iter_status(ci->it);
}

/* Moving is split: the first call after a seek only checks the prefix. */
void coll_iter_next(coll_iter *ci) {
    if (!ci->it) return;
    if (ci->valid) lsm_iter_next(ci->it);
    ci->valid = 0;
    if (!lsm_iter_valid(ci->it)) return;
    size_t kl;
    const char *k = lsm_iter_key(ci->it, &kl);
    ci->valid = kl >= sizeof(ci->prefix) && memcmp(k, ci->prefix, sizeof(ci->prefix)) == 0;
}

int coll_iter_valid(const coll_iter *ci) { return ci->valid; }

const char *coll_iter_member(const coll_iter *ci, size_t *len) {
    size_t kl;
    const char *k = lsm_iter_key(ci->it, &kl);
    *len = kl - sizeof(ci->prefix);
    return k + sizeof(ci->prefix);
}

const char *coll_iter_value(const coll_iter *ci, size_t *len) {
    return lsm_iter_value(ci->it, len);
}

int coll_iter_status(const coll_iter *ci) { return ci->it ? lsm_iter_status(ci->it) : 0; }

void coll_iter_close(coll_iter *ci) {
    if (ci->it) lsm_iter_free(ci->it);
    ci->it = NULL;
    ci->valid = 0;
}

/* ---- scores ---- */

void coll_score_encode(char dst[8], double score) {
    if (score == 0) score = 0; /* -0.0 sorts with 0.0 */
    uint64_t u;
    memcpy(&u, &score, 8);
    if (u >> 63) u = ~u;
    else u |= 1ull << 63;
    put_be64(dst, u);
}

double coll_score_decode(const char src[8]) {
    uint64_t u = get_be64(src);
    if (u >> 63) u &= ~(1ull << 63);
    else u = ~u;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ---- names ---- */

const char *coll_type_name(uint8_t type) {
    switch (type) {
    case KTYPE_STRING: return "string";
    case KTYPE_LIST: return "list";
    case KTYPE_SET: return "set";
    case KTYPE_ZSET: return "zset";
    case KTYPE_HASH: return "hash";
    case KTYPE_STREAM: return "stream";
    default: return "none";
    }
}

const char *coll_encoding_name(const ks_value *v) {
    if (v->type == KTYPE_STRING) return keyspace_value_encoding(v);
    uint8_t enc = v->plen >= COLL_META_FIXED ? (uint8_t)v->payload[16] : COLL_ENC_BIG;
    switch (v->type) {
    case KTYPE_HASH: return enc == COLL_ENC_SMALL ? "listpack" : "hashtable";
    case KTYPE_SET:
        return enc == COLL_ENC_SMALL ? "intset" : enc == COLL_ENC_LISTPACK_SET ? "listpack"
                                                                                : "hashtable";
    case KTYPE_ZSET: return enc == COLL_ENC_SMALL ? "listpack" : "skiplist";
    case KTYPE_LIST: return enc == COLL_ENC_SMALL ? "listpack" : "quicklist";
    case KTYPE_STREAM: return "stream";
    default: return "unknown";
    }
}

/* ---- SCAN cursors over members ----
 * The keyspace's cursor table holds the resume point as a fake engine key: 2 bytes || member, in
 * slot "db" KEVO_MAX_DBS + sub (no real db uses it). Its fallback (cursor evicted or from before
 * a restart) is the first bytes of the member, a lower bound: members may repeat, never skip. */
unsigned long long coll_cursor_save(uint8_t sub, const void *member, size_t mlen) {
    char stack[256];
    char *p = mlen + 2 <= sizeof(stack) ? stack : malloc(mlen + 2);
    if (!p) return 0;
    p[0] = KS_TAG_KEY;
    p[1] = 0;
    if (mlen) memcpy(p + 2, member, mlen);
    unsigned long long cur = keyspace_cursor_save(KEVO_MAX_DBS + sub, p, mlen + 2);
    if (p != stack) free(p);
    return cur;
}

int coll_cursor_load(uint8_t sub, unsigned long long cursor, const char **member, size_t *mlen) {
    const char *seek;
    size_t sl;
    int exact = keyspace_cursor_load(cursor, KEVO_MAX_DBS + sub, &seek, &sl);
    *member = seek + 2;
    *mlen = sl >= 2 ? sl - 2 : 0;
    return exact;
}

/* ---- compaction filter ----
 * A member record 'm' || version || ... is garbage once its version has no 'v' record in the
 * job's view: the 'v' record is written before (or with) the version's first member and, once
 * deleted, never written again (versions are not reused), so its absence is final (lsm.h's
 * contract). One lookup per version per job: a job's keys come in ascending order, so one
 * version's members are contiguous; the memo lives in the job's scratch space. */
typedef struct filter_memo {
    uint64_t version;
    int known;
    int live;
    int has_mark;       /* the 'v' value is a stream's trimmed-below ID */
    char mark[16];
} filter_memo;

_Static_assert(sizeof(filter_memo) <= LSM_FILTER_SCRATCH, "memo fits the job's scratch");

int coll_compaction_filter(void *ctx, lsm_filter_view *view, const void *key, size_t klen,
                           const void *val, size_t vlen) {
    (void)ctx, (void)val, (void)vlen;
    const char *k = key;
    if (klen < 10 || k[0] != KS_TAG_MEMBER) return 0;
    uint64_t version = get_be64(k + 1);
    filter_memo *memo = lsm_filter_view_scratch(view);
    if (!memo->known || memo->version != version) {
        char vk[9];
        vk[0] = KS_TAG_VERSION;
        put_be64(vk + 1, version);
        lsm_buf b = {0};
        int r = lsm_filter_get(view, vk, sizeof(vk), &b);
        if (r != 0 && r != LSM_ENOTFOUND) {
            lsm_buf_free(&b);
            return 0; /* unsure: keep */
        }
        memo->version = version;
        memo->known = 1;
        memo->live = r == 0;
        memo->has_mark = r == 0 && b.len == 16;
        if (memo->has_mark) memcpy(memo->mark, b.data, 16);
        lsm_buf_free(&b);
    }
    if (!memo->live) return 1;
    /* a stream's entry at or below its trimmed-below ID is dead for good: IDs only grow, and
     * the mark only falls (XSETID on an emptied stream) after the records above the new mark
     * were deleted */
    return memo->has_mark && klen == 26 && k[9] == 0x00 && memcmp(k + 10, memo->mark, 16) <= 0;
}

/* ======== hash/set additions (hashset branch; additive, keep at the END of this file) ======== */

uint64_t coll_member_hash(const void *m, size_t mlen) {
    /* FNV-1a, then the murmur3 finalizer to spread the bits */
    const unsigned char *p = m;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < mlen; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t coll_rng_state;
uint64_t coll_random(void) {
    if (!coll_rng_state) coll_rng_state = (server_ustime() * 0x9E3779B97F4A7C15ull) | 1;
    /* xorshift64* */
    uint64_t x = coll_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    coll_rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void coll_random_seed(uint64_t seed) { coll_rng_state = seed | 1; }

uint64_t coll_random_below(uint64_t n) {
    /* rejection: no modulo bias */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = coll_random();
    while (x >= lim);
    return x % n;
}

int coll_rand_indexed(const coll *c) {
    return c->extra_len >= 1 && (c->extra[0] & COLL_XF_RANDIDX);
}

int coll_hash_pos_inline_builds = 1;

int coll_hash_pos_inline(const coll *c) {
    return c->type == KTYPE_HASH && c->extra_len >= 1 && (c->extra[0] & COLL_XF_RANDIDX) &&
           (c->extra[0] & COLL_XF_POSINLINE);
}

int coll_hash_value(const coll *c, const char **v, size_t *vl) {
    if (!coll_hash_pos_inline(c)) return 0;
    if (*vl < 8) return LSM_ECORRUPT;
    *v += 8;
    *vl -= 8;
    return 0;
}

/* Whether m's own record holds its ordinal (a set's value, a POSINLINE hash's value prefix). */
static int pos_in_record(const coll *c) {
    return c->type == KTYPE_SET || coll_hash_pos_inline(c);
}

/* 'm' || version || sub || ordinal (BE) */
static void ord_key(char k[18], uint64_t version, uint8_t sub, uint64_t ord) {
    coll_member_key(k, version, sub, NULL, 0);
    put_be64(k + 10, ord);
}

static int ord_put(coll *c, uint64_t ord, const void *m, size_t mlen) {
    char k[18];
    ord_key(k, c->version, COLL_SUB_ORD, ord);
    return lsm_put(server.engine, k, sizeof(k), m, mlen);
}

static lsm_buf pos_tmp; /* a POSINLINE field record being written: amortized */

int coll_hash_put_inline(coll *c, const void *m, size_t mlen, uint64_t ord, const char *value,
                         size_t vl) {
    if (pos_tmp.cap < vl + 8) {
        char *nb = realloc(pos_tmp.data, vl + 8);
        if (!nb) return LSM_ENOMEM;
        pos_tmp.data = nb;
        pos_tmp.cap = vl + 8;
    }
    put_be64(pos_tmp.data, ord);
    if (vl) memmove(pos_tmp.data + 8, value, vl); /* value may be pos_tmp's own bytes */
    int r = coll_put(c, COLL_SUB_MEMBER, m, mlen, pos_tmp.data, vl + 8);
    if (pos_tmp.cap > (64u << 10)) lsm_buf_free(&pos_tmp);
    return r;
}

/* Records that member m is at ord: a set rewrites its member record (the ordinal is its value),
 * a POSINLINE hash its field record (read, then written with the new ordinal in front), another
 * hash its 0x03 record. */
static int pos_put(coll *c, const void *m, size_t mlen, uint64_t ord) {
    char v[8];
    put_be64(v, ord);
    if (c->type == KTYPE_SET) return coll_put(c, COLL_SUB_MEMBER, m, mlen, v, 8);
    if (!coll_hash_pos_inline(c)) return coll_put(c, COLL_SUB_POS, m, mlen, v, 8);
    int r = coll_get(c, COLL_SUB_MEMBER, m, mlen, &pos_tmp);
    if (r == 0) r = LSM_ECORRUPT; /* the ordinal index names a field that is not there */
    if (r < 0) return r;
    const char *val = pos_tmp.data;
    size_t vl = pos_tmp.len;
    if ((r = coll_hash_value(c, &val, &vl))) return r;
    return coll_hash_put_inline(c, m, mlen, ord, val, vl);
}

/* ---- read-ahead of the ordinal index's tail: a run of removals without a point read each ----
 * A removal moves the last ordinal's member into the removed one's ordinal, so it reads the last
 * ordinal record: a lookup through the memtables and the tables' filters and blocks. A run of
 * removals from one collection (SPOP, SREM, HDEL) reads the tail once instead: up to tail_ahead
 * records below the count, kept here and kept exact by the removals (the last entry moves where
 * the removed one was) and additions (appended) that follow. Valid while the collection is as the
 * last of them left it, checked at each use:
 *  - the ordinal records are written by this file only (coll_rand_member_added and _removed, the
 *    index build), which update the tail or forget it; versions are never reused (a deleted,
 *    overwritten or recreated collection has another version), nor are engine open ids;
 *  - a write dropped after the fact (an aborted command or transaction, a failed WAL commit)
 *    restores the count too, which then differs from the one recorded here.
 * A removal that does not follow another one from the same collection reads its record as before
 * (one removal from each of many collections reads no tails). */
#define TAIL_AHEAD_MIN 64
#define TAIL_AHEAD_MAX 16384
#define TAIL_ENTRIES_MAX (2 * TAIL_AHEAD_MAX) /* additions beyond: forgotten (and reread) */
#define TAIL_BYTES_MAX (1u << 20)
/* Records the next read reads: doubled (up to TAIL_AHEAD_MAX, and to about half TAIL_BYTES_MAX of
 * members) each time a run of removals used the previous read whole, back to the minimum after
 * another write dropped it. The maximum is large for the reason zset.c's read-ahead has (each
 * read's iterator waits for the linker's batch in progress). */
static long long tail_ahead = TAIL_AHEAD_MIN;
static struct {
    int valid;
    uint64_t engine_id, version;
    int64_t count;   /* the collection's count as the last use left it */
    uint64_t base;   /* ent[i] is ordinal base + i's member; base + n == count */
    size_t n, cap;
    struct tail_ent { size_t off, len; } *ent;
    char *bytes;     /* members' bytes (a moved entry shares its bytes; freed at the next read) */
    size_t blen, bcap;
    /* the last removal read its record itself: the next one from the same collection reads ahead */
    uint64_t run_engine_id, run_version;
    int64_t run_count;
    /* a collection whose tail members are too long to keep: its removals read their record */
    uint64_t long_engine_id, long_version;
} tail;
static int tail_enabled = 1;
static unsigned long long tail_refills;

long long coll_readahead_next(long long ahead, long long min, long long max, size_t bytes_read,
                              size_t budget) {
    long long next = ahead < max / 2 ? ahead * 2 : max;
    if (bytes_read > 0 && (double)next * (double)bytes_read > (double)ahead * (double)budget)
        next = (long long)((double)ahead * (double)budget / (double)bytes_read);
    return next < min ? min : next;
}

void coll_rand_tail_enable(int on) {
    tail_enabled = on;
    tail.valid = 0;
}
unsigned long long coll_stat_tail_refills(void) { return tail_refills; }

/* The tail is exact for c, whose count was count_before when the current change started. */
static int tail_matches(const coll *c, int64_t count_before) {
    return tail.valid && tail.version == c->version && tail.count == count_before &&
           tail.engine_id == lsm_open_id(server.engine);
}

static void tail_forget(const coll *c) {
    if (tail.version == c->version) tail.valid = 0;
}

static int tail_push(const char *m, size_t mlen) {
    if (tail.n == tail.cap) {
        size_t nc = tail.cap ? tail.cap * 2 : 64;
        struct tail_ent *ne = realloc(tail.ent, nc * sizeof(*ne));
        if (!ne) return LSM_ENOMEM;
        tail.ent = ne;
        tail.cap = nc;
    }
    if (tail.blen + mlen > tail.bcap) {
        size_t nc = tail.bcap ? tail.bcap * 2 : 1024;
        while (nc < tail.blen + mlen) nc *= 2;
        char *nb = realloc(tail.bytes, nc);
        if (!nb) return LSM_ENOMEM;
        tail.bytes = nb;
        tail.bcap = nc;
    }
    if (mlen) memcpy(tail.bytes + tail.blen, m, mlen);
    tail.ent[tail.n].off = tail.blen;
    tail.ent[tail.n].len = mlen;
    tail.blen += mlen;
    tail.n++;
    return 0;
}

/* Reads ordinals [lo, count) of c into the tail (c's count: the one before the current removal).
 * 0, 1 when the members are too long to keep (more than TAIL_BYTES_MAX together: c is then left
 * to point reads), or a negative code (the tail is invalid after 1 or an error). */
static int tail_read(const coll *c, int64_t count) {
    tail.valid = 0;
    tail.n = tail.blen = 0;
    if (tail.bcap > TAIL_BYTES_MAX) { /* a run of long members: do not keep their room */
        free(tail.bytes);
        tail.bytes = NULL;
        tail.bcap = 0;
    }
    uint64_t lo = (uint64_t)count > (uint64_t)tail_ahead ? (uint64_t)count - (uint64_t)tail_ahead : 0;
    char from[8];
    put_be64(from, lo);
    coll_iter it;
    int r = coll_iter_seek(&it, c, COLL_SUB_ORD, from, sizeof(from));
    uint64_t want = lo;
    /* no step past the last ordinal: the removals' deletes of the ordinals above it lie there */
    while (r == 0 && want < (uint64_t)count && coll_iter_valid(&it)) {
        size_t kl, ml;
        const char *k = coll_iter_member(&it, &kl);
        if (kl != 8 || get_be64(k) != want) {
            r = LSM_ECORRUPT; /* a hole in the index */
            break;
        }
        const char *m = coll_iter_value(&it, &ml);
        if (tail.blen + ml > TAIL_BYTES_MAX) {
            r = 1; /* long members: not worth their room */
            break;
        }
        r = tail_push(m, ml);
        if (++want < (uint64_t)count) coll_iter_next(&it);
    }
    if (r == 0) r = coll_iter_status(&it);
    coll_iter_close(&it);
    if (r == 0 && want != (uint64_t)count) r = LSM_ECORRUPT;
    if (r == 1) {
        tail.long_engine_id = lsm_open_id(server.engine);
        tail.long_version = c->version;
    }
    if (r) return r;
    tail_refills++;
    tail.valid = 1;
    tail.engine_id = lsm_open_id(server.engine);
    tail.version = c->version;
    tail.count = count;
    tail.base = lo;
    return 0;
}

/* After member m was added to c (count just incremented): appended when the tail was exact. */
static void tail_added(const coll *c, const void *m, size_t mlen) {
    if (!tail_matches(c, c->count - 1)) {
        tail_forget(c);
        return;
    }
    if (tail.n >= TAIL_ENTRIES_MAX || tail.blen + mlen > TAIL_BYTES_MAX || tail_push(m, mlen)) {
        tail.valid = 0;
        return;
    }
    tail.count = c->count;
}

/* The member at ordinal last (= c's count after the removal) for a removal from c: from the
 * tail (read ahead when this removal follows another one from c), else NULL (read it). */
static const struct tail_ent *tail_last(const coll *c, uint64_t last, int *err) {
    *err = 0;
    if (!tail_enabled) return NULL;
    int64_t before = (int64_t)last + 1;
    uint64_t id = lsm_open_id(server.engine);
    if (tail.long_version == c->version && tail.long_engine_id == id) return NULL;
    int valid = tail_matches(c, before);
    if (!valid || tail.n == 0) {
        int run = tail.run_engine_id == id && tail.run_version == c->version &&
                  tail.run_count == before;
        tail.run_engine_id = id;
        tail.run_version = c->version;
        tail.run_count = (int64_t)last;
        if (!valid && !run) {
            tail_forget(c);
            return NULL; /* a single removal: one point read */
        }
        /* a run: read ahead, more when the previous read was used up */
        tail_ahead = !valid ? TAIL_AHEAD_MIN
                            : coll_readahead_next(tail_ahead, TAIL_AHEAD_MIN, TAIL_AHEAD_MAX,
                                                  tail.blen, TAIL_BYTES_MAX / 2);
        int r = tail_read(c, before);
        if (r) {
            *err = r < 0 ? r : 0;
            return NULL;
        }
    }
    return &tail.ent[tail.n - 1];
}

/* After a removal from c (ord's member gone, the last moved there): the tail follows. */
static void tail_removed(const coll *c, uint64_t ord, uint64_t last) {
    if (tail.run_version == c->version && tail.run_count == (int64_t)last + 1)
        tail.run_count = (int64_t)last; /* the run goes on (the last member was the one removed) */
    if (!tail_matches(c, (int64_t)last + 1) || tail.n == 0) return;
    if (ord != last && ord >= tail.base) tail.ent[ord - tail.base] = tail.ent[tail.n - 1];
    tail.n--;
    tail.count = (int64_t)last;
}

size_t coll_rand_set_value(const coll *c, char out[8]) {
    if (!coll_rand_indexed(c)) return 0;
    put_be64(out, (uint64_t)c->count);
    return 8;
}

int coll_rand_member_added(coll *c, const void *m, size_t mlen) {
    int r;
    if (coll_rand_indexed(c)) {
        uint64_t ord = (uint64_t)c->count - 1;
        if ((r = ord_put(c, ord, m, mlen))) {
            tail_forget(c);
            return r;
        }
        tail_added(c, m, mlen);
        /* a set's member record and a POSINLINE field were written with their ordinal already */
        return pos_in_record(c) ? 0 : pos_put(c, m, mlen, ord);
    }
    tail_forget(c);
    if (c->count <= COLL_RAND_INDEX_MIN) return 0;
    /* build: number every member (the one just written included: writes are visible); a hash
     * (new builds) gets its ordinals in front of its field values */
    int inline_pos = c->type == KTYPE_HASH && coll_hash_pos_inline_builds;
    coll_iter it;
    uint64_t n = 0;
    r = coll_iter_seek(&it, c, COLL_SUB_MEMBER, NULL, 0);
    for (; r == 0 && coll_iter_valid(&it); coll_iter_next(&it), n++) {
        size_t ml, vl;
        const char *mm = coll_iter_member(&it, &ml);
        if ((r = ord_put(c, n, mm, ml))) break;
        if (inline_pos) {
            const char *v = coll_iter_value(&it, &vl);
            r = coll_hash_put_inline(c, mm, ml, n, v, vl);
        } else {
            r = pos_put(c, mm, ml, n);
        }
        if (r) break;
    }
    if (r == 0) r = coll_iter_status(&it);
    coll_iter_close(&it);
    if (r) return r;
    if ((int64_t)n != c->count) return LSM_ECORRUPT;
    if (c->extra_len < 1) c->extra_len = 1;
    c->extra[0] |= COLL_XF_RANDIDX | (inline_pos ? COLL_XF_POSINLINE : 0);
    c->meta_dirty = 1;
    return 0;
}

void coll_rand_prefetch_next(const coll *c) {
    if (!coll_rand_indexed(c)) return;
    char ord[8]; /* ord_key's record: the ordinal is the "member" of COLL_SUB_ORD */
    put_be64(ord, (uint64_t)c->count);
    coll_prefetch(c, COLL_SUB_ORD, ord, sizeof(ord), 1);
}

static uint64_t get_be64_n(const char *p, size_t n, int *ok) {
    *ok = n == 8;
    return n == 8 ? get_be64(p) : 0;
}

int coll_rand_ordinal(const coll *c, const void *m, size_t mlen, const char *set_value,
                      size_t set_vlen, uint64_t *ord) {
    if (!coll_rand_indexed(c)) return 0;
    int ok;
    if (c->type == KTYPE_SET) {
        *ord = get_be64_n(set_value, set_vlen, &ok);
        return ok ? 1 : LSM_ECORRUPT;
    }
    if (coll_hash_pos_inline(c)) {
        if (!set_value || set_vlen < 8) return LSM_ECORRUPT;
        *ord = get_be64(set_value);
        return 1;
    }
    lsm_buf b = {0};
    int r = coll_get(c, COLL_SUB_POS, m, mlen, &b);
    if (r == 1) {
        *ord = get_be64_n(b.data, b.len, &ok);
        if (!ok) r = LSM_ECORRUPT;
    }
    lsm_buf_free(&b);
    return r;
}

static lsm_buf rand_tmp; /* the member moved by a removal: amortized */

int coll_rand_member_removed(coll *c, const void *m, size_t mlen, uint64_t ord) {
    if (!coll_rand_indexed(c)) return 0;
    uint64_t last = (uint64_t)c->count; /* the count after the removal */
    int r;
    if (ord > last) return LSM_ECORRUPT;
    if (c->type == KTYPE_HASH && !coll_hash_pos_inline(c) && (r = coll_del(c, COLL_SUB_POS, m, mlen)))
        return r;
    char k[18];
    ord_key(k, c->version, COLL_SUB_ORD, last);
    if (ord != last) {
        const struct tail_ent *te = tail_last(c, last, &r);
        if (r) return r;
        const char *mm;
        size_t ml;
        if (te) {
            mm = tail.bytes + te->off;
            ml = te->len;
        } else {
            r = lsm_get(server.engine, k, sizeof(k), &rand_tmp);
            if (r == LSM_ENOTFOUND) r = LSM_ECORRUPT;
            if (r) return r;
            mm = rand_tmp.data;
            ml = rand_tmp.len;
        }
        /* the moved member's record is written last (one batch: the order is not visible), so
         * its index line loads while the ordinal records are written; the removed member's
         * entry (set_rem_at deletes it after this) likewise */
        coll_prefetch(c, pos_in_record(c) ? COLL_SUB_MEMBER : COLL_SUB_POS, mm, ml, 1);
        coll_prefetch(c, COLL_SUB_MEMBER, m, mlen, 2);
        r = ord_put(c, ord, mm, ml);
        if (r == 0) r = lsm_delete(server.engine, k, sizeof(k));
        if (r == 0) r = pos_put(c, mm, ml, ord);
        if (rand_tmp.cap > (64u << 10)) lsm_buf_free(&rand_tmp);
    } else {
        r = lsm_delete(server.engine, k, sizeof(k));
    }
    if (r) tail_forget(c);
    else tail_removed(c, ord, last);
    return r;
}

int coll_rand_member_at(const coll *c, uint64_t ord, lsm_buf *out) {
    char k[18];
    ord_key(k, c->version, COLL_SUB_ORD, ord);
    int r = lsm_get(server.engine, k, sizeof(k), out);
    if (r == LSM_ENOTFOUND) return 0;
    return r ? r : 1;
}

static int rand_in_prefix(const coll_rand *r) {
    if (!lsm_iter_valid(r->it)) return 0;
    size_t kl;
    const char *k = lsm_iter_key(r->it, &kl);
    return kl >= sizeof(r->prefix) && memcmp(k, r->prefix, sizeof(r->prefix)) == 0;
}

static int rand_buf_add(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
    size_t need = *len + 8 + n;
    if (need > *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        while (nc < need) nc *= 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return LSM_ENOMEM;
        *buf = nb;
        *cap = nc;
    }
    uint64_t l = n;
    memcpy(*buf + *len, &l, 8);
    if (n) memcpy(*buf + *len + 8, p, n);
    *len = need;
    return 0;
}

int coll_rand_open(coll_rand *r, const coll *c, long npicks, int with_values) {
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->with_values = with_values;
    if (!c->exists || c->count <= 0 || coll_rand_indexed(c)) return 0;
    coll_member_key(r->prefix, c->version, COLL_SUB_MEMBER, NULL, 0);
    if (npicks <= 1) {
        r->it = lsm_iter_new(server.engine);
        return r->it ? 0 : LSM_ENOMEM;
    }
    /* small: load every member once */
    coll_iter it;
    size_t len = 0, cap = 0;
    long n = 0, ocap = 0;
    int st = coll_iter_seek(&it, c, COLL_SUB_MEMBER, NULL, 0);
    for (; st == 0 && coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t ml, vl = 0;
        const char *m = coll_iter_member(&it, &ml);
        const char *v = with_values ? coll_iter_value(&it, &vl) : NULL;
        if (v && (st = coll_hash_value(c, &v, &vl))) break;
        if (n == ocap) {
            long nc = ocap ? ocap * 2 : 64;
            size_t *no = realloc(r->off, sizeof(size_t) * (size_t)nc);
            if (!no) {
                st = LSM_ENOMEM;
                break;
            }
            r->off = no;
            ocap = nc;
        }
        r->off[n++] = len;
        if ((st = rand_buf_add(&r->buf, &len, &cap, m, ml))) break;
        if (with_values && (st = rand_buf_add(&r->buf, &len, &cap, v, vl))) break;
    }
    if (st == 0) st = coll_iter_status(&it);
    coll_iter_close(&it);
    r->n = n;
    r->loaded = 1;
    return st;
}

int coll_rand_pick(coll_rand *r, const char **m, size_t *mlen, const char **v, size_t *vlen) {
    if (v) *v = NULL;
    if (vlen) *vlen = 0;
    const coll *c = r->c;
    if (!c->exists || c->count <= 0) return 0;
    if (r->loaded) {
        if (r->n == 0) return 0;
        const char *p = r->buf + r->off[coll_random_below((uint64_t)r->n)];
        uint64_t l;
        memcpy(&l, p, 8);
        *m = p + 8;
        *mlen = (size_t)l;
        if (r->with_values && v) {
            const char *q = p + 8 + l;
            memcpy(&l, q, 8);
            *v = q + 8;
            *vlen = (size_t)l;
        }
        return 1;
    }
    if (coll_rand_indexed(c)) {
        r->ord = coll_random_below((uint64_t)c->count);
        /* the last ordinal's record is what a removal of the pick reads next (SPOP): its
         * index line loads during this read, its entry after it */
        char k[18];
        ord_key(k, c->version, COLL_SUB_ORD, (uint64_t)c->count - 1);
        lsm_prefetch_memtables(server.engine, k, sizeof(k));
        int st = coll_rand_member_at(c, r->ord, &r->pick);
        lsm_prefetch_memtables_entry(server.engine, k, sizeof(k));
        if (st == 0) st = LSM_ECORRUPT; /* every ordinal below count names a member */
        if (st < 0) return st;
        *m = r->pick.data;
        *mlen = r->pick.len;
        return 1;
    }
    if (!r->it) return 0;
    /* no index (small): walk to a uniformly random position */
    lsm_iter_seek(r->it, r->prefix, sizeof(r->prefix));
    uint64_t pos = coll_random_below((uint64_t)c->count);
    for (uint64_t i = 0; i < pos && rand_in_prefix(r); i++) lsm_iter_next(r->it);
    if (!rand_in_prefix(r)) {
        int st = lsm_iter_status(r->it);
        return st ? st : LSM_ECORRUPT; /* fewer members than the count says */
    }
    size_t kl;
    const char *k = lsm_iter_key(r->it, &kl);
    *m = k + 10;
    *mlen = kl - 10;
    if (r->with_values && v) *v = lsm_iter_value(r->it, vlen);
    return 1;
}

void coll_rand_close(coll_rand *r) {
    if (r->it) lsm_iter_free(r->it);
    free(r->buf);
    free(r->off);
    lsm_buf_free(&r->pick);
    memset(r, 0, sizeof(*r));
}

int coll_u64set_add(coll_u64set *s, uint64_t h) {
    if (h == 0) {
        if (s->has_zero) return 0;
        s->has_zero = 1;
        return 1;
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        uint64_t *ns = calloc(nc, sizeof(uint64_t));
        if (!ns) return LSM_ENOMEM;
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t x = s->slot[i];
            if (!x) continue;
            size_t j = (size_t)(x * 0x9E3779B97F4A7C15ull) & (nc - 1);
            while (ns[j]) j = (j + 1) & (nc - 1);
            ns[j] = x;
        }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t j = (size_t)(h * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
    while (s->slot[j]) {
        if (s->slot[j] == h) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->slot[j] = h;
    s->n++;
    return 1;
}

void coll_u64set_free(coll_u64set *s) {
    free(s->slot);
    memset(s, 0, sizeof(*s));
}
/* ======== end of hash/set additions ======== */

/* ==== additions (zset branch): reverse iteration over one collection's members ==== */

/* Checks the iterator's position against ci->prefix (no move). */
static void coll_iter_check(coll_iter *ci) {
    ci->valid = 0;
    if (!lsm_iter_valid(ci->it)) return;
    size_t kl;
    const char *k = lsm_iter_key(ci->it, &kl);
    ci->valid = kl >= sizeof(ci->prefix) && memcmp(k, ci->prefix, sizeof(ci->prefix)) == 0;
}

int coll_iter_seek_rev(coll_iter *ci, const coll *c, uint8_t sub, const void *from, size_t flen) {
    memset(ci, 0, sizeof(*ci));
    ci->reverse = 1;
    ci->prefix[0] = KS_TAG_MEMBER;
    put_be64(ci->prefix + 1, c->version);
    ci->prefix[9] = (char)sub;
    if (!c->exists) return 0;
    ci->it = lsm_iter_new(server.engine);
    if (!ci->it) return LSM_ENOMEM;
    if (from) {
        mkey k;
        int r = mkey_make(&k, c->version, sub, from, flen);
        if (r) return r;
        lsm_iter_seek_for_prev(ci->it, k.p, k.len);
        mkey_free(&k);
    } else {
        /* just past every key of the prefix: the prefix with its last byte incremented (sub <
         * 0xff; else the next version's prefix) */
        char end[10];
        memcpy(end, ci->prefix, sizeof(end));
        size_t el = sizeof(end);
        if ((unsigned char)end[9] < 0xff) {
            end[9] = (char)((unsigned char)end[9] + 1);
        } else {
            put_be64(end + 1, c->version + 1);
            el = 9;
        }
        lsm_iter_seek_for_prev(ci->it, end, el);
        if (lsm_iter_valid(ci->it)) {
            size_t kl;
            const char *k = lsm_iter_key(ci->it, &kl);
            if (kl == el && memcmp(k, end, el) == 0) lsm_iter_prev(ci->it);
        }
    }
    coll_iter_check(ci);
    return lsm_iter_status(ci->it);
}

void coll_iter_prev(coll_iter *ci) {
    if (!ci->it || !ci->valid) return;
    lsm_iter_prev(ci->it);
    coll_iter_check(ci);
}

/* ==== additions (stream branch) ==== */

int coll_save_keep(coll *c, int quiet) {
    if (!c->exists) return 0;
    if (!c->meta_dirty) {
        if (!quiet) coll_touch(c);
        return 0;
    }
    uint64_t expire = c->cur.expire;
    char meta[sizeof(c->meta)];
    size_t n = encode_meta(c, meta);
    int r = quiet ? keyspace_put_quiet(c->db, c->key, c->klen, &c->cur, c->type, expire, meta, n)
                  : keyspace_put(c->db, c->key, c->klen, &c->cur, c->type, expire, meta, n);
    if (r) return r;
    c->meta_dirty = 0;
    cur_from_meta(c, expire);
    return 0;
}
