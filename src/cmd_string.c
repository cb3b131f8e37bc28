/* cmd_string.c - string commands (Redis 7 semantics, arity, flags and error strings).
 * Each write command reads what it needs, stages its writes in server.batch through the
 * keyspace, and commits once (atomic), then replies. */
#include "client.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* proto-max-bulk-len (config), 512 MB by default */
static long long string_max_size(void) {
    return config.proto_max_bulk_len > 0 ? config.proto_max_bulk_len : 512ll * 1024 * 1024;
}
#define STRING_MAX_SIZE string_max_size()
#define ERR_TOO_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

/* Looks key up for a string command. Returns 1 found (a string), 0 absent, -1 when an error
 * was replied (wrong type or engine error). */
static int str_lookup(client *c, const cmdarg *k, lsm_buf *b, ks_value *v, int flags) {
    int r = keyspace_lookup(c->db, k->ptr, k->len, b, v, flags);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    if (r == 1 && v->type != KTYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    return r;
}

/* Commits the staged writes; replies the engine error and returns -1 on failure. */
static int str_commit(client *c) {
    int r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

/* A keyspace event (notify.h) for key k of the client's db. */
static void event(client *c, int type, const char *name, const cmdarg *k) {
    notify_keyspace_event(type, name, c->db, k->ptr, k->len);
}

static int str_stage_error(client *c, int r) {
    if (!r) return 0;
    keyspace_abort(); /* drop what this command wrote */
    keyspace_reply_engine_error(c, r);
    return -1;
}

/* ---- SET family ---------------------------------------------------------------------------- */

#define SF_NX      (1 << 0)
#define SF_XX      (1 << 1)
#define SF_GET     (1 << 2)
#define SF_KEEPTTL (1 << 3)
#define SF_PERSIST (1 << 4)
#define SF_EX      (1 << 5)
#define SF_PX      (1 << 6)
#define SF_EXAT    (1 << 7)
#define SF_PXAT    (1 << 8)
#define SF_ANYEXP  (SF_EX | SF_PX | SF_EXAT | SF_PXAT)

/* Converts an expire argument to an absolute unix-ms time as Redis's
 * getExpireMillisecondsOrReply. Returns 0 ok, -1 replied an error. */
static int str_expire_arg(client *c, const cmdarg *a, int flag, const char *cmdname,
                          uint64_t *out) {
    long long ms;
    if (!string2ll(a->ptr, a->len, &ms)) {
        reply_error(c, ERR_NOT_INT);
        return -1;
    }
    int seconds = (flag & (SF_EX | SF_EXAT)) != 0;
    if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000)) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
        return -1;
    }
    if (seconds) ms *= 1000;
    if (flag & (SF_EX | SF_PX)) {
        long long now = (long long)server_now_ms();
        if (ms > LLONG_MAX - now) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
            return -1;
        }
        ms += now;
    }
    *out = (uint64_t)ms;
    return 0;
}

/* Parses SET / GETEX options from argv[first]. is_set: SET (NX XX GET KEEPTTL) else GETEX
 * (PERSIST). Returns 0 or -1 (replied). */
static int str_parse_opts(client *c, int first, int is_set, int *flags, const cmdarg **exparg) {
    *flags = 0;
    *exparg = NULL;
    for (int j = first; j < c->argc; j++) {
        const char *o = c->argv[j].ptr;
        int has_next = j + 1 < c->argc;
        int f = *flags;
        if (is_set && !strcasecmp(o, "nx") && !(f & SF_XX)) {
            *flags |= SF_NX;
        } else if (is_set && !strcasecmp(o, "xx") && !(f & SF_NX)) {
            *flags |= SF_XX;
        } else if (is_set && !strcasecmp(o, "get")) {
            *flags |= SF_GET;
        } else if (is_set && !strcasecmp(o, "keepttl") && !(f & (SF_PERSIST | SF_ANYEXP))) {
            *flags |= SF_KEEPTTL;
        } else if (!is_set && !strcasecmp(o, "persist") && !(f & (SF_KEEPTTL | SF_ANYEXP))) {
            *flags |= SF_PERSIST;
        } else if (!strcasecmp(o, "ex") && !(f & (SF_KEEPTTL | SF_PERSIST | SF_EXAT | SF_PX |
                                                   SF_PXAT)) && has_next) {
            *flags |= SF_EX;
            *exparg = &c->argv[++j];
        } else if (!strcasecmp(o, "px") && !(f & (SF_KEEPTTL | SF_PERSIST | SF_EX | SF_EXAT |
                                                   SF_PXAT)) && has_next) {
            *flags |= SF_PX;
            *exparg = &c->argv[++j];
        } else if (!strcasecmp(o, "exat") && !(f & (SF_KEEPTTL | SF_PERSIST | SF_EX | SF_PX |
                                                     SF_PXAT)) && has_next) {
            *flags |= SF_EXAT;
            *exparg = &c->argv[++j];
        } else if (!strcasecmp(o, "pxat") && !(f & (SF_KEEPTTL | SF_PERSIST | SF_EX | SF_EXAT |
                                                     SF_PX)) && has_next) {
            *flags |= SF_PXAT;
            *exparg = &c->argv[++j];
        } else {
            reply_error(c, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

/* The core of SET/SETNX/SETEX/PSETEX/GETSET. expire: absolute ms or 0. Replies per flags:
 * reply_kind 0 = +OK / null, 1 = :1 / :0 (SETNX), GET flag = old value. */
static void str_set_generic(client *c, const cmdarg *key, const cmdarg *val, int flags,
                            uint64_t expire, int reply_kind) {
    lsm_buf *b = keyspace_buf(0);
    ks_value old;
    int r = keyspace_lookup(c->db, key->ptr, key->len, b, &old, 0);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return;
    }
    int exists = r == 1;
    if ((flags & SF_GET) && exists && old.type != KTYPE_STRING) {
        reply_error(c, ERR_WRONGTYPE);
        return;
    }
    if (((flags & SF_NX) && exists) || ((flags & SF_XX) && !exists)) {
        if (flags & SF_GET) {
            if (exists) reply_bulk(c, old.payload, old.plen);
            else reply_null(c);
        } else if (reply_kind == 1) {
            reply_int(c, 0);
        } else {
            reply_null(c);
        }
        return;
    }
    if ((flags & SF_KEEPTTL) && exists) expire = old.expire;
    keyspace_begin();
    r = keyspace_put(c->db, key->ptr, key->len, exists ? &old : NULL, KTYPE_STRING, expire,
                     val->ptr, val->len);
    if (str_stage_error(c, r)) return;
    /* an expire time already past stores nothing, where Redis adds the key (expired at once) */
    if (!exists && expire && expire <= server_now_ms()) event(c, NOTIFY_NEW, "new", key);
    /* old.payload stays valid: the lookup buffer is not touched by put/commit */
    if (str_commit(c)) return;
    /* Redis: GET replies the old value first; otherwise the events come before the reply */
    if (flags & SF_GET) {
        if (exists) reply_bulk(c, old.payload, old.plen);
        else reply_null(c);
    }
    event(c, NOTIFY_STRING, "set", key);
    if (flags & SF_ANYEXP) event(c, NOTIFY_GENERIC, "expire", key);
    if (flags & SF_GET) return;
    if (reply_kind == 1) reply_int(c, 1);
    else reply_ok(c);
}

static void cmd_set(client *c) {
    int flags;
    const cmdarg *exparg;
    if (str_parse_opts(c, 3, 1, &flags, &exparg)) return;
    uint64_t expire = 0;
    if (exparg && str_expire_arg(c, exparg, flags, "set", &expire)) return;
    str_set_generic(c, &c->argv[1], &c->argv[2], flags, expire, 0);
}

static void cmd_setnx(client *c) { str_set_generic(c, &c->argv[1], &c->argv[2], SF_NX, 0, 1); }

static void cmd_setex(client *c) {
    uint64_t expire;
    if (str_expire_arg(c, &c->argv[2], SF_EX, "setex", &expire)) return;
    str_set_generic(c, &c->argv[1], &c->argv[3], SF_EX, expire, 0);
}

static void cmd_psetex(client *c) {
    uint64_t expire;
    if (str_expire_arg(c, &c->argv[2], SF_PX, "psetex", &expire)) return;
    str_set_generic(c, &c->argv[1], &c->argv[3], SF_PX, expire, 0);
}

static void cmd_getset(client *c) { str_set_generic(c, &c->argv[1], &c->argv[2], SF_GET, 0, 0); }

/* ---- reads --------------------------------------------------------------------------------- */

static void cmd_get(client *c) {
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) reply_null(c);
    else reply_bulk(c, v.payload, v.plen);
}

static void cmd_getdel(client *c) {
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_null(c);
        return;
    }
    keyspace_begin();
    if (str_stage_error(c, keyspace_remove(c->db, c->argv[1].ptr, c->argv[1].len, &v))) return;
    if (str_commit(c)) return;
    reply_bulk(c, v.payload, v.plen);
    event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
}

static void cmd_getex(client *c) {
    int flags;
    const cmdarg *exparg;
    if (str_parse_opts(c, 2, 0, &flags, &exparg)) return;
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_null(c);
        return;
    }
    uint64_t expire = 0; /* validated after the lookup, as Redis */
    if (exparg && str_expire_arg(c, exparg, flags, "getex", &expire)) return;
    int change = 0;
    if (exparg) change = 1;
    else if ((flags & SF_PERSIST) && v.expire) change = 1;
    uint64_t newexp = (flags & SF_PERSIST) ? 0 : expire;
    if (change) {
        keyspace_begin();
        /* payload of v is in buf 0, which put does not touch */
        r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, &v, KTYPE_STRING,
                               v.flags & KF_RAW, newexp, v.payload, v.plen);
        if (str_stage_error(c, r)) return;
        if (str_commit(c)) return;
    }
    /* Redis replies first, then changes the key */
    reply_bulk(c, v.payload, v.plen);
    if (!change) return;
    if (exparg && newexp <= server_now_ms()) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    else if (exparg) event(c, NOTIFY_GENERIC, "expire", &c->argv[1]);
    else event(c, NOTIFY_GENERIC, "persist", &c->argv[1]);
}

static void cmd_mget(client *c) {
    reply_array(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        ks_value v;
        int r = keyspace_lookup(c->db, c->argv[j].ptr, c->argv[j].len, keyspace_buf(0), &v,
                                KS_LOOKUP_READ);
        if (r == 1 && v.type == KTYPE_STRING) reply_bulk(c, v.payload, v.plen);
        else reply_null(c);
    }
}

static void cmd_strlen(client *c) {
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    reply_int(c, r ? (long long)v.plen : 0);
}

static void cmd_getrange(client *c) {
    long long start, end;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &start) ||
        !string2ll(c->argv[3].ptr, c->argv[3].len, &end)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, KS_LOOKUP_READ);
    if (r < 0) return;
    if (r == 0) {
        reply_bulk(c, "", 0);
        return;
    }
    long long len = (long long)v.plen;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_bulk(c, v.payload + start, (size_t)(end - start + 1));
}

/* ---- MSET / MSETNX -------------------------------------------------------------------------- */

static const client *mset_sort_client;
static int mset_cmp(const void *a, const void *b) {
    int ia = *(const int *)a, ib = *(const int *)b;
    const cmdarg *ka = &mset_sort_client->argv[ia], *kb = &mset_sort_client->argv[ib];
    size_t m = ka->len < kb->len ? ka->len : kb->len;
    int r = m ? memcmp(ka->ptr, kb->ptr, m) : 0;
    if (r) return r;
    if (ka->len != kb->len) return ka->len < kb->len ? -1 : 1;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/* Returns a malloc'd array of the argv indexes of the keys to write (for a key given several
 * times, only its last occurrence), in key order; *n gets the count. NULL on OOM. */
static int *mset_unique_keys(client *c, int *n) {
    int pairs = (c->argc - 1) / 2;
    int *idx = malloc(sizeof(int) * (size_t)(pairs ? pairs : 1));
    if (!idx) return NULL;
    for (int i = 0; i < pairs; i++) idx[i] = 1 + 2 * i;
    mset_sort_client = c;
    qsort(idx, (size_t)pairs, sizeof(int), mset_cmp);
    int out = 0;
    for (int i = 0; i < pairs; i++) {
        if (i + 1 < pairs) {
            const cmdarg *a = &c->argv[idx[i]], *b = &c->argv[idx[i + 1]];
            if (a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0) continue;
        }
        idx[out++] = idx[i];
    }
    *n = out;
    return idx;
}

static void mset_generic(client *c, int nx) {
    if (c->argc % 2 == 0) {
        reply_wrong_arity(c, nx ? "msetnx" : "mset");
        return;
    }
    int n;
    int *idx = mset_unique_keys(c, &n);
    if (!idx) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    lsm_buf *b = keyspace_buf(0);
    if (nx) {
        for (int i = 0; i < n; i++) {
            ks_value v;
            int r = keyspace_lookup(c->db, c->argv[idx[i]].ptr, c->argv[idx[i]].len, b, &v, 0);
            if (r < 0) {
                free(idx);
                keyspace_reply_engine_error(c, r);
                return;
            }
            if (r == 1) {
                free(idx);
                reply_int(c, 0);
                return;
            }
        }
    }
    /* keys absent before (by argument index): their "new" events are published below in
     * argument order, interleaved with the "set" ones as Redis does */
    char *added = calloc((size_t)c->argc, 1);
    if (!added) {
        free(idx);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    keyspace_begin();
    keyspace_new_events(0);
    keyspace_auto_signals(0); /* the keys are signalled below, in argument order */
    for (int i = 0; i < n; i++) {
        const cmdarg *k = &c->argv[idx[i]], *val = &c->argv[idx[i] + 1];
        ks_value v;
        int r = keyspace_lookup(c->db, k->ptr, k->len, b, &v, 0);
        if (r == 0) added[idx[i]] = 1;
        if (r >= 0)
            r = keyspace_put(c->db, k->ptr, k->len, r == 1 ? &v : NULL, KTYPE_STRING, 0,
                             val->ptr, val->len);
        if (r < 0) {
            keyspace_new_events(1);
            keyspace_auto_signals(1);
            free(idx);
            free(added);
            str_stage_error(c, r);
            return;
        }
    }
    keyspace_new_events(1);
    keyspace_auto_signals(1);
    free(idx);
    if (str_commit(c)) {
        free(added);
        return;
    }
    /* added[] marks a key's LAST occurrence (the one written); Redis adds the key at its
     * first: move the marks there (pairs sorted by key then position group the occurrences) */
    int pairs = (c->argc - 1) / 2;
    int *ord = (config.notify_keyspace_events & NOTIFY_NEW) ? malloc(sizeof(int) * (size_t)pairs) : NULL;
    int news = ord != NULL;
    if (ord) {
        for (int i = 0; i < pairs; i++) ord[i] = 1 + 2 * i;
        mset_sort_client = c;
        qsort(ord, (size_t)pairs, sizeof(int), mset_cmp);
        for (int i = 0; i < pairs;) {
            int g = i;
            while (g + 1 < pairs && c->argv[ord[g + 1]].len == c->argv[ord[i]].len &&
                   memcmp(c->argv[ord[g + 1]].ptr, c->argv[ord[i]].ptr, c->argv[ord[i]].len) == 0)
                g++;
            int last = ord[g], first = ord[i];
            if (added[last]) {
                added[last] = 0;
                added[first] = 1;
            }
            i = g + 1;
        }
        free(ord);
    }
    for (int j = 1; j < c->argc; j += 2) { /* Redis's setKey (new, signal), then "set" */
        if (news && added[j]) event(c, NOTIFY_NEW, "new", &c->argv[j]);
        keyspace_signal_modified(c->db, c->argv[j].ptr, c->argv[j].len);
        event(c, NOTIFY_STRING, "set", &c->argv[j]);
    }
    free(added);
    if (nx) reply_int(c, 1);
    else reply_ok(c);
}

static void cmd_mset(client *c) { mset_generic(c, 0); }
static void cmd_msetnx(client *c) { mset_generic(c, 1); }

/* ---- counters ------------------------------------------------------------------------------- */

static void incr_generic(client *c, long long incr) {
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    long long cur = 0;
    if (r == 1 && !string2ll(v.payload, v.plen, &cur)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && cur < 0 && incr < LLONG_MIN - cur) ||
        (incr > 0 && cur > 0 && incr > LLONG_MAX - cur)) {
        reply_error(c, ERR_OVERFLOW);
        return;
    }
    cur += incr;
    char buf[32];
    int n = ll2string(buf, sizeof(buf), cur);
    keyspace_begin();
    r = keyspace_put(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL, KTYPE_STRING,
                     r == 1 ? v.expire : 0, buf, (size_t)n);
    if (str_stage_error(c, r)) return;
    if (str_commit(c)) return;
    event(c, NOTIFY_STRING, "incrby", &c->argv[1]); /* INCR, DECR, DECRBY too, as Redis */
    reply_int(c, cur);
}

static void cmd_incr(client *c) { incr_generic(c, 1); }
static void cmd_decr(client *c) { incr_generic(c, -1); }

static void cmd_incrby(client *c) {
    long long v;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &v)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    incr_generic(c, v);
}

static void cmd_decrby(client *c) {
    long long v;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &v)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (v == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -v);
}

static void cmd_incrbyfloat(client *c) {
    long double incr, cur = 0;
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    if (r == 1 && !string2ld(v.payload, v.plen, &cur)) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    if (!string2ld(c->argv[2].ptr, c->argv[2].len, &incr)) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    cur += incr;
    if (isnan(cur) || isinf(cur)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[5200];
    int n = ld2string(buf, sizeof(buf), cur);
    if (n <= 0) {
        reply_error(c, ERR_NOT_FLOAT);
        return;
    }
    keyspace_begin();
    r = keyspace_put(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL, KTYPE_STRING,
                     r == 1 ? v.expire : 0, buf, (size_t)n);
    if (str_stage_error(c, r)) return;
    if (str_commit(c)) return;
    event(c, NOTIFY_STRING, "incrbyfloat", &c->argv[1]);
    reply_bulk(c, buf, (size_t)n);
}

/* ---- APPEND / SETRANGE --------------------------------------------------------------------- */

/* A scratch buffer for building new payloads (freed when it grew big). */
static lsm_buf str_scratch;

static char *scratch_reserve(size_t n) {
    if (str_scratch.cap < n) {
        char *p = realloc(str_scratch.data, n ? n : 1);
        if (!p) return NULL;
        str_scratch.data = p;
        str_scratch.cap = n ? n : 1;
    }
    return str_scratch.data;
}
static void scratch_trim(void) {
    if (str_scratch.cap > (1u << 20)) lsm_buf_free(&str_scratch);
}

static void cmd_append(client *c) {
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    const cmdarg *a = &c->argv[2];
    size_t oldlen = r == 1 ? v.plen : 0;
    if ((long long)a->len > STRING_MAX_SIZE || (long long)oldlen > STRING_MAX_SIZE - (long long)a->len) {
        reply_error(c, ERR_TOO_BIG);
        return;
    }
    char *p = scratch_reserve(oldlen + a->len);
    if (!p) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    if (oldlen) memcpy(p, v.payload, oldlen);
    if (a->len) memcpy(p + oldlen, a->ptr, a->len);
    keyspace_begin();
    r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL,
                           KTYPE_STRING, KF_RAW, r == 1 ? v.expire : 0, p, oldlen + a->len);
    scratch_trim();
    if (str_stage_error(c, r)) return;
    if (str_commit(c)) return;
    event(c, NOTIFY_STRING, "append", &c->argv[1]);
    reply_int(c, (long long)(oldlen + a->len));
}

static void cmd_setrange(client *c) {
    long long off;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &off)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (off < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    ks_value v;
    int r = str_lookup(c, &c->argv[1], keyspace_buf(0), &v, 0);
    if (r < 0) return;
    const cmdarg *a = &c->argv[3];
    size_t oldlen = r == 1 ? v.plen : 0;
    if (a->len == 0) {
        reply_int(c, (long long)oldlen);
        return;
    }
    if ((long long)a->len > STRING_MAX_SIZE || off > STRING_MAX_SIZE - (long long)a->len) { /* no overflow */
        reply_error(c, ERR_TOO_BIG);
        return;
    }
    size_t newlen = (size_t)off + a->len;
    if (newlen < oldlen) newlen = oldlen;
    char *p = scratch_reserve(newlen);
    if (!p) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    if (oldlen) memcpy(p, v.payload, oldlen);
    if ((size_t)off > oldlen) memset(p + oldlen, 0, (size_t)off - oldlen);
    memcpy(p + off, a->ptr, a->len);
    keyspace_begin();
    r = keyspace_put_flags(c->db, c->argv[1].ptr, c->argv[1].len, r == 1 ? &v : NULL,
                           KTYPE_STRING, KF_RAW, r == 1 ? v.expire : 0, p, newlen);
    scratch_trim();
    if (str_stage_error(c, r)) return;
    if (str_commit(c)) return;
    event(c, NOTIFY_STRING, "setrange", &c->argv[1]);
    reply_int(c, (long long)newlen);
}

/* ---- table ---------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

const struct command string_commands[] = {
    {"get", cmd_get, 2, R | F, 1, 1, 1, "string", "Returns the string value of a key.", "1.0.0",
     "key", NULL},
    {"set", cmd_set, -3, W | D, 1, 1, 1, "string",
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "1.0.0",
     "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|"
     "PXAT unix-time-milliseconds|KEEPTTL]",
     NULL},
    {"setnx", cmd_setnx, 3, W | D | F, 1, 1, 1, "string",
     "Set the string value of a key only when the key doesn't exist.", "1.0.0", "key value",
     NULL},
    {"setex", cmd_setex, 4, W | D, 1, 1, 1, "string",
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "2.0.0", "key seconds value", NULL},
    {"psetex", cmd_psetex, 4, W | D, 1, 1, 1, "string",
     "Sets both string value and expiration time in milliseconds of a key. The key is created "
     "if it doesn't exist.",
     "2.6.0", "key milliseconds value", NULL},
    {"getset", cmd_getset, 3, W | D | F, 1, 1, 1, "string",
     "Returns the previous string value of a key after setting it to a new value.", "1.0.0",
     "key value", NULL},
    {"getdel", cmd_getdel, 2, W | F, 1, 1, 1, "string",
     "Returns the string value of a key after deleting the key.", "6.2.0", "key", NULL},
    {"getex", cmd_getex, -2, W | F, 1, 1, 1, "string",
     "Returns the string value of a key after setting its expiration time.", "6.2.0",
     "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|"
     "PERSIST]",
     NULL},
    {"mget", cmd_mget, -2, R | F, 1, -1, 1, "string",
     "Atomically returns the string values of one or more keys.", "1.0.0", "key [key ...]",
     NULL},
    {"mset", cmd_mset, -3, W | D, 1, -1, 2, "string",
     "Atomically creates or modifies the string values of one or more keys.", "1.0.1",
     "key value [key value ...]", NULL},
    {"msetnx", cmd_msetnx, -3, W | D, 1, -1, 2, "string",
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "1.0.1", "key value [key value ...]", NULL},
    {"incr", cmd_incr, 2, W | D | F, 1, 1, 1, "string",
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "1.0.0", "key", NULL},
    {"decr", cmd_decr, 2, W | D | F, 1, 1, 1, "string",
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "1.0.0", "key", NULL},
    {"incrby", cmd_incrby, 3, W | D | F, 1, 1, 1, "string",
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "1.0.0", "key increment", NULL},
    {"decrby", cmd_decrby, 3, W | D | F, 1, 1, 1, "string",
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "1.0.0", "key decrement", NULL},
    {"incrbyfloat", cmd_incrbyfloat, 3, W | D | F, 1, 1, 1, "string",
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the "
     "key doesn't exist.",
     "2.6.0", "key increment", NULL},
    {"append", cmd_append, 3, W | D | F, 1, 1, 1, "string",
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0",
     "key value", NULL},
    {"strlen", cmd_strlen, 2, R | F, 1, 1, 1, "string", "Returns the length of a string value.",
     "2.2.0", "key", NULL},
    {"getrange", cmd_getrange, 4, R, 1, 1, 1, "string",
     "Returns a substring of the string stored at a key.", "2.4.0", "key start end", NULL},
    {"substr", cmd_getrange, 4, R, 1, 1, 1, "string",
     "Returns a substring from a string value.", "1.0.0", "key start end", NULL},
    {"setrange", cmd_setrange, 4, W | D, 1, 1, 1, "string",
     "Overwrites a part of a string value with another by an offset. Creates the key if it "
     "doesn't exist.",
     "2.2.0", "key offset value", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
