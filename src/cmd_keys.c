/* cmd_keys.c - generic keyspace commands (DEL, EXPIRE family, RENAME, COPY, MOVE, SCAN, KEYS,
 * RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, SELECT, SWAPDB, OBJECT) with Redis 7 semantics. */
#include "client.h"
#include "command.h"
#include "keyspace.h"
#include "notify.h"
#include "tracking.h"
#include "types/coll.h"
#include "server.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int dbcount(void) {
    int n = server.dbnum;
    if (n <= 0 || n > KEVO_MAX_DBS) n = KEVO_MAX_DBS;
    return n;
}

/* Looks a key up; 1 found, 0 absent, -1 replied an engine error. */
static int key_lookup(client *c, int db, const cmdarg *k, lsm_buf *b, ks_value *v, int flags) {
    int r = keyspace_lookup(db, k->ptr, k->len, b, v, flags);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return r;
}

static int key_commit(client *c) {
    int r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

static int key_stage_error(client *c, int r) {
    if (!r) return 0;
    keyspace_abort();
    keyspace_reply_engine_error(c, r);
    return -1;
}

static const char *type_name(uint8_t t) { return coll_type_name(t); }

/* A keyspace event (notify.h) for key k of db. */
static void event(int type, const char *name, int db, const cmdarg *k) {
    notify_keyspace_event(type, name, db, k->ptr, k->len);
}

/* ---- DEL / UNLINK / EXISTS / TOUCH / TYPE ------------------------------------------------ */

static const client *sort_client;
static int argidx_cmp(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    const cmdarg *ka = &sort_client->argv[ia], *kb = &sort_client->argv[ib];
    size_t m = ka->len < kb->len ? ka->len : kb->len;
    int r = m ? memcmp(ka->ptr, kb->ptr, m) : 0;
    if (r) return r;
    if (ka->len != kb->len) return ka->len < kb->len ? -1 : 1;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
}

static void cmd_del(client *c) {
    int n = c->argc - 1;
    int *idx = malloc(sizeof(int) * (size_t)n);
    if (!idx) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    for (int i = 0; i < n; i++) idx[i] = i + 1;
    sort_client = c;
    qsort(idx, (size_t)n, sizeof(int), argidx_cmp);
    /* which arguments were deleted: the "del" events go out in argument order (Redis's) */
    char *gone = calloc((size_t)c->argc, 1);
    if (!gone) {
        free(idx);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    keyspace_begin();
    keyspace_auto_signals(0); /* signalled below, in argument order */
    long long deleted = 0;
    lsm_buf *b = keyspace_buf(0);
    for (int i = 0; i < n; i++) {
        const cmdarg *k = &c->argv[idx[i]];
        if (i > 0) {
            const cmdarg *p = &c->argv[idx[i - 1]];
            if (p->len == k->len && memcmp(p->ptr, k->ptr, k->len) == 0) continue;
        }
        ks_value v;
        int r = keyspace_lookup(c->db, k->ptr, k->len, b, &v, 0);
        if (r == 1) {
            r = keyspace_remove(c->db, k->ptr, k->len, &v);
            if (r == 0) {
                deleted++;
                gone[idx[i]] = 1;
            }
        }
        if (r < 0) {
            free(idx);
            free(gone);
            key_stage_error(c, r);
            return;
        }
    }
    free(idx);
    if (key_commit(c)) {
        free(gone);
        return;
    }
    for (int j = 1; j < c->argc; j++)
        if (gone[j]) {
            keyspace_signal_modified(c->db, c->argv[j].ptr, c->argv[j].len);
            event(NOTIFY_GENERIC, "del", c->db, &c->argv[j]);
        }
    free(gone);
    reply_int(c, deleted);
}

static void cmd_exists(client *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        ks_value v;
        int r = key_lookup(c, c->db, &c->argv[j], keyspace_buf(0), &v, KS_LOOKUP_READ);
        if (r < 0) return;
        n += r;
    }
    reply_int(c, n);
}

static void cmd_touch(client *c) { cmd_exists(c); }

static void cmd_type(client *c) {
    ks_value v;
    int r = key_lookup(c, c->db, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    reply_simple(c, r ? type_name(v.type) : "none");
}

/* ---- expire family --------------------------------------------------------------------------- */

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

/* unit_sec: argument in seconds; relative: add now. */
static void expire_generic(client *c, int unit_sec, int relative, const char *name) {
    int flags = 0;
    for (int j = 3; j < c->argc; j++) {
        const char *o = c->argv[j].ptr;
        if (!strcasecmp(o, "nx")) flags |= EXP_NX;
        else if (!strcasecmp(o, "xx")) flags |= EXP_XX;
        else if (!strcasecmp(o, "gt")) flags |= EXP_GT;
        else if (!strcasecmp(o, "lt")) flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %s", o);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &when)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (unit_sec) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when *= 1000;
    }
    long long now = (long long)server_now_ms();
    if (relative) {
        if (when > LLONG_MAX - now) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when += now;
    }
    ks_value v;
    int r = key_lookup(c, c->db, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, 0);
        return;
    }
    long long cur = v.expire ? (long long)v.expire : -1;
    if ((flags & EXP_NX) && cur != -1) goto fail;
    if ((flags & EXP_XX) && cur == -1) goto fail;
    if ((flags & EXP_GT) && (cur == -1 || when <= cur)) goto fail;
    if ((flags & EXP_LT) && cur != -1 && when >= cur) goto fail;
    keyspace_begin();
    if (when <= now) r = keyspace_remove(c->db, c->argv[1].ptr, c->argv[1].len, &v);
    else
        r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, &v, v.type,
                               v.flags & KF_RAW, (uint64_t)when, v.payload, v.plen);
    if (key_stage_error(c, r)) return;
    if (key_commit(c)) return;
    if (when <= now) { /* deleted: "del" before the reply, as Redis */
        event(NOTIFY_GENERIC, "del", c->db, &c->argv[1]);
        reply_int(c, 1);
    } else {
        reply_int(c, 1);
        event(NOTIFY_GENERIC, "expire", c->db, &c->argv[1]);
    }
    return;
fail:
    reply_int(c, 0);
}

static void cmd_expire(client *c) { expire_generic(c, 1, 1, "expire"); }
static void cmd_pexpire(client *c) { expire_generic(c, 0, 1, "pexpire"); }
static void cmd_expireat(client *c) { expire_generic(c, 1, 0, "expireat"); }
static void cmd_pexpireat(client *c) { expire_generic(c, 0, 0, "pexpireat"); }

/* mode 0 TTL, 1 PTTL, 2 EXPIRETIME, 3 PEXPIRETIME */
static void ttl_generic(client *c, int mode) {
    ks_value v;
    int r = key_lookup(c, c->db, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, -2);
        return;
    }
    if (!v.expire) {
        reply_int(c, -1);
        return;
    }
    long long e = (long long)v.expire, now = (long long)server_now_ms();
    long long ttl = e - now;
    if (ttl < 0) ttl = 0;
    switch (mode) {
    case 0: reply_int(c, (ttl + 500) / 1000); break;
    case 1: reply_int(c, ttl); break;
    case 2: reply_int(c, (e + 500) / 1000); break; /* rounded, as Redis */
    default: reply_int(c, e); break;
    }
}

static void cmd_ttl(client *c) { ttl_generic(c, 0); }
static void cmd_pttl(client *c) { ttl_generic(c, 1); }
static void cmd_expiretime(client *c) { ttl_generic(c, 2); }
static void cmd_pexpiretime(client *c) { ttl_generic(c, 3); }

static void cmd_persist(client *c) {
    ks_value v;
    int r = key_lookup(c, c->db, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    if (r == 0 || !v.expire) {
        reply_int(c, 0);
        return;
    }
    keyspace_begin();
    r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, &v, v.type, v.flags & KF_RAW, 0,
                           v.payload, v.plen);
    if (key_stage_error(c, r)) return;
    if (key_commit(c)) return;
    event(NOTIFY_GENERIC, "persist", c->db, &c->argv[1]);
    reply_int(c, 1);
}

/* ---- RENAME / COPY / MOVE ------------------------------------------------------------------- */

static int same_arg(const cmdarg *a, const cmdarg *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static void rename_generic(client *c, int nx) {
    const cmdarg *src = &c->argv[1], *dst = &c->argv[2];
    ks_value sv, dv;
    int r = key_lookup(c, c->db, src, keyspace_buf(0), &sv, 0);
    if (r < 0) return;
    if (r == 0) {
        reply_error(c, ERR_NO_KEY);
        return;
    }
    if (same_arg(src, dst)) {
        if (nx) reply_int(c, 0);
        else reply_ok(c);
        return;
    }
    r = key_lookup(c, c->db, dst, keyspace_buf(1), &dv, 0);
    if (r < 0) return;
    if (r == 1 && nx) {
        reply_int(c, 0);
        return;
    }
    keyspace_begin();
    int e = keyspace_put_flags(c->db, dst->ptr, dst->len, r == 1 ? &dv : NULL, sv.type,
                               sv.flags & KF_RAW, sv.expire, sv.payload, sv.plen);
    /* Redis deletes an existing destination and adds it again: "new" either way */
    if (!e && r == 1) event(NOTIFY_NEW, "new", c->db, dst);
    /* a collection's members stay where they are: the metadata moved (O(1)) */
    if (!e) e = keyspace_remove_keep_version(c->db, src->ptr, src->len, &sv);
    if (key_stage_error(c, e)) return;
    if (key_commit(c)) return;
    event(NOTIFY_GENERIC, "rename_from", c->db, src);
    event(NOTIFY_GENERIC, "rename_to", c->db, dst);
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

static void cmd_rename(client *c) { rename_generic(c, 0); }
static void cmd_renamenx(client *c) { rename_generic(c, 1); }

/* Redis's getIntFromObjectOrReply(c, o, &v, NULL): not a 64-bit integer, or not an int. */
#define ERR_INT_RANGE "ERR value is out of range, value must between -2147483648 and 2147483647"
static int parse_int_arg(client *c, const cmdarg *a, int *out) {
    long long v;
    if (!string2ll(a->ptr, a->len, &v)) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    if (v < INT_MIN || v > INT_MAX) {
        reply_error(c, ERR_INT_RANGE);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Parses a DB index argument; -1 after replying an error. bad_int_msg replaces both of
 * parse_int_arg's errors when not NULL (SWAPDB's "invalid first DB index"). */
static int parse_db(client *c, const cmdarg *a, const char *bad_int_msg) {
    long long id;
    if (!bad_int_msg) {
        int v;
        if (parse_int_arg(c, a, &v) < 0) return -1;
        id = v;
    } else if (!string2ll(a->ptr, a->len, &id) || id < INT_MIN || id > INT_MAX) {
        reply_error(c, bad_int_msg);
        return -1;
    }
    if (id < 0 || id >= dbcount()) {
        reply_error(c, ERR_DB_INDEX);
        return -1;
    }
    return (int)id;
}

static void cmd_copy(client *c) {
    const cmdarg *src = &c->argv[1], *dst = &c->argv[2];
    int dstdb = c->db, replace = 0;
    for (int j = 3; j < c->argc; j++) {
        if (!strcasecmp(c->argv[j].ptr, "replace")) {
            replace = 1;
        } else if (!strcasecmp(c->argv[j].ptr, "db") && j + 1 < c->argc) {
            int id;
            if (parse_int_arg(c, &c->argv[j + 1], &id) < 0) return;
            if (id < 0 || id >= dbcount()) {
                reply_error(c, ERR_DB_INDEX);
                return;
            }
            dstdb = (int)id;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (dstdb == c->db && same_arg(src, dst)) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    ks_value sv, dv;
    int r = key_lookup(c, c->db, src, keyspace_buf(0), &sv, 0);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, 0);
        return;
    }
    r = key_lookup(c, dstdb, dst, keyspace_buf(1), &dv, 0);
    if (r < 0) return;
    if (r == 1 && !replace) {
        reply_int(c, 0);
        return;
    }
    keyspace_begin();
    const char *payload = sv.payload;
    size_t plen = sv.plen;
    char meta[COLL_META_FIXED + COLL_EXTRA_MAX];
    int e = 0;
    if (sv.type != KTYPE_STRING) { /* a collection: its members are copied to a new version */
        e = coll_clone(&sv, meta, &plen);
        payload = meta;
    }
    if (!e) e = keyspace_put_flags(dstdb, dst->ptr, dst->len, r == 1 ? &dv : NULL, sv.type,
                                   sv.flags & KF_RAW, sv.expire, payload, plen);
    if (!e && r == 1) event(NOTIFY_NEW, "new", dstdb, dst); /* REPLACE: deleted and added again */
    if (key_stage_error(c, e)) return;
    if (key_commit(c)) return;
    event(NOTIFY_GENERIC, "copy_to", dstdb, dst);
    reply_int(c, 1);
}

static void cmd_move(client *c) {
    const cmdarg *k = &c->argv[1];
    int dstdb = parse_db(c, &c->argv[2], NULL);
    if (dstdb < 0) return;
    if (dstdb == c->db) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    ks_value sv, dv;
    int r = key_lookup(c, c->db, k, keyspace_buf(0), &sv, 0);
    if (r < 0) return;
    if (r == 0) {
        reply_int(c, 0);
        return;
    }
    r = key_lookup(c, dstdb, k, keyspace_buf(1), &dv, 0);
    if (r < 0) return;
    if (r == 1) {
        reply_int(c, 0);
        return;
    }
    keyspace_begin();
    int e = keyspace_put_flags(dstdb, k->ptr, k->len, NULL, sv.type, sv.flags & KF_RAW, sv.expire,
                               sv.payload, sv.plen);
    if (!e) e = keyspace_remove_keep_version(c->db, k->ptr, k->len, &sv);
    if (key_stage_error(c, e)) return;
    if (key_commit(c)) return;
    event(NOTIFY_GENERIC, "move_from", c->db, k);
    event(NOTIFY_GENERIC, "move_to", dstdb, k);
    reply_int(c, 1);
}

/* ---- KEYS / SCAN / RANDOMKEY ---------------------------------------------------------------- */

/* Length of the literal prefix of a glob pattern (up to the first special character). */
static size_t glob_literal_prefix(const char *p, size_t n) {
    size_t i = 0;
    while (i < n && p[i] != '*' && p[i] != '?' && p[i] != '[' && p[i] != '\\') i++;
    return i;
}

/* Is the stored value at the iterator live (not expired) ? Also returns its type. */
static int iter_value_live(lsm_iter *it, uint64_t now, uint8_t *type) {
    size_t vl;
    const char *v = lsm_iter_value(it, &vl);
    ks_value kv;
    if (keyspace_decode_value(v, vl, &kv)) return 0;
    *type = kv.type;
    return !(kv.expire && kv.expire <= now);
}

/* Builds 'k'||phys||prefix into a malloc'd buffer. */
static char *range_key(int phys, const char *pfx, size_t plen, size_t *outlen) {
    char *k = malloc(plen + 2);
    if (!k) return NULL;
    *outlen = keyspace_encode_key(k, phys, pfx, plen);
    return k;
}

static int has_prefix(const char *k, size_t kl, const char *p, size_t pl) {
    return kl >= pl && memcmp(k, p, pl) == 0;
}

/* Iterators do not see the writes an EXEC has staged: write them first. */
static int iter_prepare(client *c) {
    int r = keyspace_defer_flush();
    if (r) keyspace_reply_engine_error(c, r);
    return r;
}

static void cmd_keys(client *c) {
    const cmdarg *pat = &c->argv[1];
    if (iter_prepare(c)) return;
    if (keyspace_dbsize(c->db) == 0) {
        reply_array(c, 0);
        return;
    }
    int phys = keyspace_phys_db(c->db);
    size_t lit = glob_literal_prefix(pat->ptr, pat->len);
    int allkeys = pat->len == 1 && pat->ptr[0] == '*';
    size_t rlen;
    char *range = range_key(phys, pat->ptr, lit, &rlen);
    lsm_iter *it = range ? lsm_iter_new(server.engine) : NULL;
    if (!it) {
        free(range);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    uint64_t now = server_now_ms();
    reply_mark start;
    client_reply_mark(c, &start);
    void *h = reply_defer_len(c);
    long n = 0;
    for (lsm_iter_seek(it, range, rlen); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl;
        const char *k = lsm_iter_key(it, &kl);
        if (!has_prefix(k, kl, range, rlen)) break;
        uint8_t t;
        if (!iter_value_live(it, now, &t)) continue;
        if (!allkeys && !glob_match(pat->ptr, pat->len, k + 2, kl - 2, 0)) continue;
        reply_bulk(c, k + 2, kl - 2);
        n++;
    }
    /* a read error ends the walk: an error reply, never a partial list passed off as whole */
    int st = lsm_iter_status(it);
    lsm_iter_free(it);
    free(range);
    if (st) {
        client_reply_truncate(c, &start);
        keyspace_reply_engine_error(c, st);
        return;
    }
    reply_set_deferred_array(c, h, n);
}

/* Parses a SCAN cursor as Redis does (strtoul: no leading space, whole string, in range). */
static int parse_cursor(const cmdarg *a, unsigned long long *out) {
    if (a->len && (a->ptr[0] == ' ' || (a->ptr[0] >= '\t' && a->ptr[0] <= '\r'))) return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(a->ptr, &end, 10);
    if (errno == ERANGE || end != a->ptr + a->len) return 0;
    *out = v;
    return 1;
}

typedef struct keylist {
    char *buf;
    size_t len, cap;
    long n;
} keylist;

static int keylist_add(keylist *l, const char *k, size_t kl) {
    size_t need = l->len + sizeof(size_t) + kl;
    if (need > l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        while (nc < need) nc *= 2;
        char *nb = realloc(l->buf, nc);
        if (!nb) return -1;
        l->buf = nb;
        l->cap = nc;
    }
    memcpy(l->buf + l->len, &kl, sizeof(size_t));
    memcpy(l->buf + l->len + sizeof(size_t), k, kl);
    l->len = need;
    l->n++;
    return 0;
}

static void cmd_scan(client *c) {
    unsigned long long cursor;
    if (iter_prepare(c)) return;
    if (!parse_cursor(&c->argv[1], &cursor)) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    const cmdarg *pat = NULL;
    const char *typ = NULL;
    long long count = 10;
    for (int j = 2; j < c->argc; j++) {
        const char *o = c->argv[j].ptr;
        int more = j + 1 < c->argc;
        if (!strcasecmp(o, "count") && more) {
            if (!string2ll(c->argv[j + 1].ptr, c->argv[j + 1].len, &count)) {
                reply_error(c, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                return;
            }
            j++;
        } else if (!strcasecmp(o, "match") && more) {
            pat = &c->argv[++j];
        } else if (!strcasecmp(o, "type") && more) {
            typ = c->argv[++j].ptr;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (keyspace_dbsize(c->db) == 0) {
        reply_array(c, 2);
        reply_bulk_cstr(c, "0");
        reply_array(c, 0);
        return;
    }
    int phys = keyspace_phys_db(c->db);
    int allkeys = !pat || (pat->len == 1 && pat->ptr[0] == '*');
    size_t lit = pat ? glob_literal_prefix(pat->ptr, pat->len) : 0;
    size_t rlen;
    char *range = range_key(phys, pat ? pat->ptr : "", lit, &rlen);
    lsm_iter *it = range ? lsm_iter_new(server.engine) : NULL;
    if (!it) {
        free(range);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    lsm_iter_seek(it, range, rlen);
    if (cursor != 0) {
        const char *seek;
        size_t seeklen;
        keyspace_cursor_load(cursor, phys, &seek, &seeklen);
        /* resume at max(seek, range start) */
        size_t m = seeklen < rlen ? seeklen : rlen;
        int cmp = memcmp(seek, range, m);
        if (cmp > 0 || (cmp == 0 && seeklen > rlen)) lsm_iter_seek(it, seek, seeklen);
    }
    uint64_t now = server_now_ms();
    keylist kl = {0};
    long long examined = 0;
    unsigned long long next = 0;
    while (lsm_iter_valid(it)) {
        size_t klen;
        const char *k = lsm_iter_key(it, &klen);
        if (!has_prefix(k, klen, range, rlen)) break;
        if (examined >= count) {
            next = keyspace_cursor_save(phys, k, klen);
            break;
        }
        examined++;
        uint8_t t;
        if (iter_value_live(it, now, &t) &&
            (allkeys || glob_match(pat->ptr, pat->len, k + 2, klen - 2, 0)) &&
            (!typ || !strcasecmp(typ, type_name(t)))) {
            if (keylist_add(&kl, k + 2, klen - 2)) break;
        }
        lsm_iter_next(it);
    }
    int st = lsm_iter_status(it); /* a read error: no cursor that would skip what is unread */
    lsm_iter_free(it);
    free(range);
    if (st) {
        free(kl.buf);
        keyspace_reply_engine_error(c, st);
        return;
    }
    reply_array(c, 2);
    char cb[32];
    snprintf(cb, sizeof(cb), "%llu", next);
    reply_bulk_cstr(c, cb);
    reply_array(c, kl.n);
    size_t off = 0;
    for (long i = 0; i < kl.n; i++) {
        size_t l;
        memcpy(&l, kl.buf + off, sizeof(size_t));
        reply_bulk(c, kl.buf + off + sizeof(size_t), l);
        off += sizeof(size_t) + l;
    }
    free(kl.buf);
}

static unsigned long long rk_state = 0x9E3779B97F4A7C15ull;
static unsigned rk_rand(void) {
    if (rk_state == 0x9E3779B97F4A7C15ull) rk_state ^= server_ustime();
    rk_state ^= rk_state << 13;
    rk_state ^= rk_state >> 7;
    rk_state ^= rk_state << 17;
    return (unsigned)(rk_state >> 11);
}

/* Does a key with prefix p exist at or after p||b ? (the iterator is left there) */
static int rk_exists_from(lsm_iter *it, char *p, size_t plen, int b) {
    p[plen] = (char)b;
    lsm_iter_seek(it, p, plen + 1);
    if (!lsm_iter_valid(it)) return 0;
    size_t kl;
    const char *k = lsm_iter_key(it, &kl);
    return has_prefix(k, kl, p, plen);
}

/* Picks a random key of phys db without a full scan: descends the key space byte by byte,
 * choosing a random next byte among those present (found with seeks), for a few levels where
 * keys actually differ. Leaves the iterator on the chosen key; 0 if the db is empty. */
static int rk_pick(lsm_iter *it, int phys, char **pbuf, size_t *pcap) {
    char *p = *pbuf;
    size_t plen = 2;
    p[0] = KS_TAG_KEY;
    p[1] = (char)phys;
    lsm_iter_seek(it, p, 2);
    if (!lsm_iter_valid(it)) return 0;
    size_t kl;
    const char *k = lsm_iter_key(it, &kl);
    if (!has_prefix(k, kl, p, 2)) return 0;
    int levels = 0, steps = 0;
    while (levels < 8 && steps < 64) {
        k = lsm_iter_key(it, &kl);
        if (kl <= plen) { /* the key equals the prefix: it is the subtree's first key */
            int stop = rk_rand() % 2 == 0;
            if (!stop) {
                lsm_iter_next(it);
                if (lsm_iter_valid(it)) {
                    k = lsm_iter_key(it, &kl);
                    stop = !has_prefix(k, kl, p, plen) || kl <= plen;
                } else {
                    stop = 1;
                }
            }
            if (stop) { /* choose the key equal to the prefix */
                lsm_iter_seek(it, p, plen);
                break;
            }
        }
        if (plen + 2 > *pcap) {
            size_t nc = (plen + 2) * 2;
            char *np = realloc(*pbuf, nc);
            if (!np) break;
            *pbuf = p = np;
            *pcap = nc;
        }
        int lo = (unsigned char)k[plen];
        steps++;
        /* the next bytes present under p: enumerate up to 16 (one seek each) and pick one of
         * them uniformly; when there are more, pick uniformly in the byte range [lo, hi] */
        int present[16], np = 0, more = 0;
        present[np++] = lo;
        while (np < 16 && present[np - 1] < 255 &&
               rk_exists_from(it, p, plen, present[np - 1] + 1)) {
            size_t nkl;
            const char *nk = lsm_iter_key(it, &nkl);
            present[np++] = (unsigned char)nk[plen];
        }
        if (np == 16 && present[15] < 255 && rk_exists_from(it, p, plen, present[15] + 1))
            more = 1;
        int pick;
        if (!more) {
            pick = present[rk_rand() % (unsigned)np];
            if (np > 1) levels++;
        } else {
            int a = present[15] + 1, b = 255; /* largest byte with keys at or after it */
            while (a < b) {
                int mid = (a + b + 1) / 2;
                if (rk_exists_from(it, p, plen, mid)) a = mid;
                else b = mid - 1;
            }
            pick = lo + (int)(rk_rand() % (unsigned)(a - lo + 1));
            levels++;
        }
        if (!rk_exists_from(it, p, plen, pick)) break; /* cannot happen: pick <= hi */
        k = lsm_iter_key(it, &kl);
        p[plen] = k[plen];
        plen++;
    }
    return lsm_iter_valid(it);
}

static void cmd_randomkey(client *c) {
    if (iter_prepare(c)) return;
    if (keyspace_dbsize(c->db) == 0) { /* exact count: no seek over tombstones needed */
        reply_null(c);
        return;
    }
    int phys = keyspace_phys_db(c->db);
    size_t cap = 64;
    char *p = malloc(cap);
    if (!p) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    for (int tries = 0; tries < 16; tries++) {
        lsm_iter *it = lsm_iter_new(server.engine);
        if (!it) break;
        if (!rk_pick(it, phys, &p, &cap)) {
            lsm_iter_free(it);
            break;
        }
        uint64_t now = server_now_ms();
        /* from the pick, the first live key (wrapping once to the db start) */
        int wrapped = 0;
        for (int steps = 0; steps < 1000; steps++) {
            if (!lsm_iter_valid(it)) {
                if (wrapped) break;
                char pfx[2] = {KS_TAG_KEY, (char)phys};
                lsm_iter_seek(it, pfx, 2);
                wrapped = 1;
                continue;
            }
            size_t kl;
            const char *k = lsm_iter_key(it, &kl);
            if (kl < 2 || k[0] != KS_TAG_KEY || (unsigned char)k[1] != phys) {
                if (wrapped) break;
                char pfx[2] = {KS_TAG_KEY, (char)phys};
                lsm_iter_seek(it, pfx, 2);
                wrapped = 1;
                continue;
            }
            uint8_t t;
            if (iter_value_live(it, now, &t)) {
                reply_bulk(c, k + 2, kl - 2);
                lsm_iter_free(it);
                free(p);
                return;
            }
            /* expired: delete it lazily (the iterator is a snapshot, unaffected) */
            ks_value v;
            keyspace_lookup(c->db, k + 2, kl - 2, keyspace_buf(2), &v, 0);
            lsm_iter_next(it);
        }
        int st = lsm_iter_status(it);
        lsm_iter_free(it);
        if (st) {
            free(p);
            keyspace_reply_engine_error(c, st);
            return;
        }
    }
    free(p);
    reply_null(c);
}

/* ---- DBSIZE / FLUSHDB / FLUSHALL / SELECT / SWAPDB ------------------------------------------ */

static void cmd_dbsize(client *c) { reply_int(c, keyspace_dbsize(c->db)); }

static int flush_opts(client *c) {
    if (c->argc > 2) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    if (c->argc == 2 && strcasecmp(c->argv[1].ptr, "async") && strcasecmp(c->argv[1].ptr, "sync")) {
        reply_error(c, ERR_SYNTAX);
        return -1;
    }
    return 0;
}

static void cmd_flushdb(client *c) {
    if (flush_opts(c)) return;
    tracking_invalidate_all(); /* Redis's signalFlushedDb: before the keys go */
    int r = keyspace_flushdb(c->db);
    if (r) keyspace_reply_engine_error(c, r);
    else reply_ok(c);
}

static void cmd_flushall(client *c) {
    if (flush_opts(c)) return;
    tracking_invalidate_all();
    int r = keyspace_flushall();
    if (r) keyspace_reply_engine_error(c, r);
    else reply_ok(c);
}

static void cmd_select(client *c) {
    int id = parse_db(c, &c->argv[1], NULL);
    if (id < 0) return;
    c->db = id;
    reply_ok(c);
}

static void cmd_swapdb(client *c) {
    int a = parse_db(c, &c->argv[1], "ERR invalid first DB index");
    if (a < 0) return;
    int b = parse_db(c, &c->argv[2], "ERR invalid second DB index");
    if (b < 0) return;
    int r = keyspace_swapdb(a, b);
    if (r) keyspace_reply_engine_error(c, r);
    else reply_ok(c);
}

/* ---- OBJECT ------------------------------------------------------------------------------------ */

static int object_lookup(client *c, ks_value *v) {
    int r = key_lookup(c, c->db, &c->argv[2], keyspace_buf(0), v, KS_LOOKUP_NOTOUCH);
    if (r == 0) reply_null(c);
    return r;
}

static void cmd_object_encoding(client *c) {
    ks_value v;
    if (object_lookup(c, &v) != 1) return;
    reply_bulk_cstr(c, coll_encoding_name(&v));
}

static void cmd_object_freq(client *c) {
    ks_value v;
    if (object_lookup(c, &v) != 1) return;
    reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                   "Please note that when switching between policies at runtime LRU and LFU "
                   "data will take some time to adjust.");
}

static void cmd_object_idletime(client *c) {
    ks_value v;
    if (object_lookup(c, &v) != 1) return;
    reply_int(c, 0); /* access times are not tracked on disk */
}

static void cmd_object_refcount(client *c) {
    ks_value v;
    if (object_lookup(c, &v) != 1) return;
    long long n;
    /* Redis shares the integers 0..9999: their refcount reads as INT_MAX */
    if (v.plen <= 4 && string2ll(v.payload, v.plen, &n) && n >= 0 && n < 10000)
        reply_int(c, INT_MAX);
    else
        reply_int(c, 1);
}

static void cmd_object_help(client *c) {
    static const char *lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    };
    long n = (long)(sizeof(lines) / sizeof(lines[0]));
    reply_array(c, n);
    for (long i = 0; i < n; i++) reply_simple(c, lines[i]);
}

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST

static const struct command object_subcommands[] = {
    {"encoding", cmd_object_encoding, 3, R, 2, 2, 1, "generic",
     "Returns the internal encoding of a Redis object.", "2.2.3", "key", NULL},
    {"freq", cmd_object_freq, 3, R, 2, 2, 1, "generic",
     "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0", "key", NULL},
    {"idletime", cmd_object_idletime, 3, R, 2, 2, 1, "generic",
     "Returns the time since the last access to a Redis object.", "2.2.3", "key", NULL},
    {"refcount", cmd_object_refcount, 3, R, 2, 2, 1, "generic",
     "Returns the reference count of a value of a key.", "2.2.3", "key", NULL},
    {"help", cmd_object_help, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, "generic",
     "Returns helpful text about the different subcommands.", "6.2.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command keys_commands[] = {
    {"del", cmd_del, -2, W, 1, -1, 1, "generic", "Deletes one or more keys.", "1.0.0",
     "key [key ...]", NULL},
    {"unlink", cmd_del, -2, W | F, 1, -1, 1, "generic",
     "Asynchronously deletes one or more keys.", "4.0.0", "key [key ...]", NULL},
    {"exists", cmd_exists, -2, R | F, 1, -1, 1, "generic",
     "Determines whether one or more keys exist.", "1.0.0", "key [key ...]", NULL},
    {"touch", cmd_touch, -2, R | F, 1, -1, 1, "generic",
     "Returns the number of existing keys out of those specified after updating the time they "
     "were last accessed.",
     "3.2.1", "key [key ...]", NULL},
    {"type", cmd_type, 2, R | F, 1, 1, 1, "generic",
     "Determines the type of value stored at a key.", "1.0.0", "key", NULL},
    {"rename", cmd_rename, 3, W, 1, 2, 1, "generic", "Renames a key and overwrites the destination.",
     "1.0.0", "key newkey", NULL},
    {"renamenx", cmd_renamenx, 3, W | F, 1, 2, 1, "generic",
     "Renames a key only when the target key name doesn't exist.", "1.0.0", "key newkey", NULL},
    {"copy", cmd_copy, -3, W | CMD_DENYOOM, 1, 2, 1, "generic", "Copies the value of a key to a new key.",
     "6.2.0", "source destination [DB destination-db] [REPLACE]", NULL},
    {"move", cmd_move, 3, W | F, 1, 1, 1, "generic", "Moves a key to another database.", "1.0.0",
     "key db", NULL},
    {"expire", cmd_expire, -3, W | F, 1, 1, 1, "generic",
     "Sets the expiration time of a key in seconds.", "1.0.0", "key seconds [NX|XX|GT|LT]",
     NULL},
    {"pexpire", cmd_pexpire, -3, W | F, 1, 1, 1, "generic",
     "Sets the expiration time of a key in milliseconds.", "2.6.0",
     "key milliseconds [NX|XX|GT|LT]", NULL},
    {"expireat", cmd_expireat, -3, W | F, 1, 1, 1, "generic",
     "Sets the expiration time of a key to a Unix timestamp.", "1.2.0",
     "key unix-time-seconds [NX|XX|GT|LT]", NULL},
    {"pexpireat", cmd_pexpireat, -3, W | F, 1, 1, 1, "generic",
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0",
     "key unix-time-milliseconds [NX|XX|GT|LT]", NULL},
    {"ttl", cmd_ttl, 2, R | F, 1, 1, 1, "generic", "Returns the expiration time in seconds of a key.",
     "1.0.0", "key", NULL},
    {"pttl", cmd_pttl, 2, R | F, 1, 1, 1, "generic",
     "Returns the expiration time in milliseconds of a key.", "2.6.0", "key", NULL},
    {"expiretime", cmd_expiretime, 2, R | F, 1, 1, 1, "generic",
     "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "key", NULL},
    {"pexpiretime", cmd_pexpiretime, 2, R | F, 1, 1, 1, "generic",
     "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "key",
     NULL},
    {"persist", cmd_persist, 2, W | F, 1, 1, 1, "generic",
     "Removes the expiration time of a key.", "2.2.0", "key", NULL},
    {"keys", cmd_keys, 2, R, 0, 0, 0, "generic", "Returns all key names that match a pattern.",
     "1.0.0", "pattern", NULL},
    {"scan", cmd_scan, -2, R, 0, 0, 0, "generic", "Iterates over the key names in the database.",
     "2.8.0", "cursor [MATCH pattern] [COUNT count] [TYPE type]", NULL},
    {"randomkey", cmd_randomkey, 1, R, 0, 0, 0, "generic",
     "Returns a random key name from the database.", "1.0.0", "", NULL},
    {"dbsize", cmd_dbsize, 1, R | F, 0, 0, 0, "server",
     "Returns the number of keys in the database.", "1.0.0", "", NULL},
    {"flushdb", cmd_flushdb, -1, W, 0, 0, 0, "server",
     "Remove all keys from the current database.", "1.0.0", "[ASYNC|SYNC]", NULL},
    {"flushall", cmd_flushall, -1, W, 0, 0, 0, "server", "Removes all keys from all databases.",
     "1.0.0", "[ASYNC|SYNC]", NULL},
    {"select", cmd_select, 2, CMD_LOADING | CMD_STALE | F, 0, 0, 0, "connection",
     "Changes the selected database.", "1.0.0", "index", NULL},
    {"swapdb", cmd_swapdb, 3, W | F, 0, 0, 0, "server", "Swaps two Redis databases.", "4.0.0",
     "index1 index2", NULL},
    {"object", NULL, -2, 0, 0, 0, 0, "generic", "A container for object introspection commands.",
     "2.2.3", "", object_subcommands},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
