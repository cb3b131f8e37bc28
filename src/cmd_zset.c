/* cmd_zset.c - sorted-set commands (Redis 7.0 semantics, arities, flags, error strings and reply
 * shapes in RESP2 and RESP3) over the storage in types/zset.h. Each handler parses and checks
 * every argument before it writes anything (an error means nothing changed), opens its keys
 * through the collection layer, writes inside the command's engine group (keyspace_begin ..
 * keyspace_commit: one WAL record), then replies. */
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "types/zset.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ERR_MINMAX_FLOAT "ERR min or max is not a float"
#define ERR_MINMAX_LEX "ERR min or max not valid string range item"
#define ERR_NAN "ERR resulting score is not a number (NaN)"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Opens key as a zset. 1 exists, 0 absent, -1 when an error was replied (WRONGTYPE or engine).
 * z must be coll_close'd in every case. */
static int zs_open(client *c, const cmdarg *k, coll *z, int flags) {
    return cmd_coll_opened(c, coll_open(z, c->db, k->ptr, k->len, KTYPE_ZSET, flags));
}

/* Redis's string2d: the whole string is a double, no leading space, no overflow, no NaN. */
static int zs_string2d(const char *s, size_t len, double *out) {
    if (len == 0 || isspace((unsigned char)s[0])) return 0;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if ((size_t)(end - s) != len ||
        (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || fpclassify(d) == FP_ZERO)) ||
        isnan(d))
        return 0;
    *out = d;
    return 1;
}

/* getLongFromObjectOrReply (long is 64-bit here). msg NULL: the standard error. */
static int zs_get_long(client *c, const cmdarg *a, long long *out, const char *msg) {
    if (!string2ll(a->ptr, a->len, out)) {
        reply_error(c, msg ? msg : ERR_NOT_INT);
        return -1;
    }
    return 0;
}

/* getRangeLongFromObjectOrReply. */
static int zs_get_range_long(client *c, const cmdarg *a, long long min, long long max,
                             long long *out, const char *msg) {
    if (zs_get_long(c, a, out, msg)) return -1;
    if (*out < min || *out > max) {
        if (msg) reply_error(c, msg);
        else reply_errorf(c, "ERR value is out of range, value must between %lld and %lld", min, max);
        return -1;
    }
    return 0;
}

/* A keyspace event (notify.h) for key k of the client's db. */
static void event(client *c, int type, const char *name, const cmdarg *k) {
    notify_keyspace_event(type, name, c->db, k->ptr, k->len);
}

static int zs_commit(client *c) {
    int r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

/* An engine error after writes: drops the command's writes, replies the error. */
static void zs_fail(client *c, int r) {
    zset_cache_drop();
    keyspace_abort();
    keyspace_commit(); /* closes the (failed) group */
    keyspace_reply_engine_error(c, r);
}

/* Emits member [+ score] as the ZRANGE family does: RESP3 WITHSCORES pairs are arrays. */
typedef struct zemit {
    client *c;
    int withscores;
} zemit;

static int emit_visit(void *ctx, const char *m, size_t mlen, double score) {
    zemit *e = ctx;
    if (e->withscores && e->c->resp > 2) reply_array(e->c, 2);
    reply_bulk(e->c, m, mlen);
    if (e->withscores) reply_double(e->c, score);
    return 0;
}

/* Array length of n results. */
static long zs_len(client *c, long long n, int withscores) {
    return (long)(withscores && c->resp == 2 ? n * 2 : n);
}

/* Small random numbers (ZRANDMEMBER). */
static uint64_t rng_state;
static uint64_t zs_rand(void) {
    if (!rng_state) rng_state = server_ustime() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static uint64_t zs_rand_below(uint64_t n) { return n ? zs_rand() % n : 0; }

/* ---- ZADD / ZINCRBY -------------------------------------------------------------------------- */

static void zadd_generic(client *c, int flags) {
    int ch = 0, scoreidx = 2;
    while (scoreidx < c->argc) {
        const char *o = c->argv[scoreidx].ptr;
        if (!strcasecmp(o, "nx")) flags |= ZSET_IN_NX;
        else if (!strcasecmp(o, "xx")) flags |= ZSET_IN_XX;
        else if (!strcasecmp(o, "ch")) ch = 1;
        else if (!strcasecmp(o, "incr")) flags |= ZSET_IN_INCR;
        else if (!strcasecmp(o, "gt")) flags |= ZSET_IN_GT;
        else if (!strcasecmp(o, "lt")) flags |= ZSET_IN_LT;
        else break;
        scoreidx++;
    }
    int incr = flags & ZSET_IN_INCR, nx = flags & ZSET_IN_NX, xx = flags & ZSET_IN_XX;
    int gt = flags & ZSET_IN_GT, lt = flags & ZSET_IN_LT;
    int elements = c->argc - scoreidx;
    if (elements % 2 || !elements) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double stack_scores[16];
    double *scores = elements <= 16 ? stack_scores : malloc(sizeof(double) * (size_t)elements);
    if (!scores) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    for (int j = 0; j < elements; j++) {
        const cmdarg *a = &c->argv[scoreidx + j * 2];
        if (!zs_string2d(a->ptr, a->len, &scores[j])) {
            reply_error(c, ERR_NOT_FLOAT);
            goto out;
        }
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, 0);
    if (r < 0) goto close;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    int created = 0;
    if (r == 0 && xx) goto reply; /* no key + XX: nothing to do */
    keyspace_begin();
    if (r == 0) {
        if ((r = coll_create(&z, zset_create_encoding(c->argv[scoreidx + 1].len)))) {
            zs_fail(c, r);
            goto close;
        }
        created = 1;
    }
    for (int j = 0; j < elements; j++) {
        const cmdarg *m = &c->argv[scoreidx + 1 + j * 2];
        int out;
        double newscore = 0;
        r = zset_add(&z, scores[j], m->ptr, m->len, flags, &out, &newscore);
        if (r) {
            zs_fail(c, r);
            goto close;
        }
        if (out & ZSET_OUT_NAN) {
            if (added || updated || created) {
                zset_cache_drop();
                keyspace_abort();
            }
            keyspace_commit();
            reply_error(c, ERR_NAN);
            goto close;
        }
        if (out & ZSET_OUT_ADDED) added++;
        if (out & ZSET_OUT_UPDATED) updated++;
        if (!(out & ZSET_OUT_NOP)) processed++;
        score = newscore;
    }
    if (added || updated || created) {
        if ((r = coll_save(&z))) {
            zs_fail(c, r);
            goto close;
        }
    }
    if (zs_commit(c)) goto close;
reply:
    if (incr) {
        if (processed) reply_double(c, score);
        else reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
    if (added || updated) event(c, NOTIFY_ZSET, incr ? "zincr" : "zadd", &c->argv[1]);
close:
    coll_close(&z);
out:
    if (scores != stack_scores) free(scores);
}

static void cmd_zadd(client *c) { zadd_generic(c, 0); }
static void cmd_zincrby(client *c) { zadd_generic(c, ZSET_IN_INCR); }

/* ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ----------------------------------------------------- */

static void cmd_zrem(client *c) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, 0);
    if (r <= 0) {
        if (r == 0) reply_int(c, 0);
        coll_close(&z);
        return;
    }
    long long deleted = 0;
    keyspace_begin();
    for (int j = 2; j < c->argc && z.count > 0; j++) {
        r = zset_remove(&z, c->argv[j].ptr, c->argv[j].len);
        if (r < 0) {
            zs_fail(c, r);
            coll_close(&z);
            return;
        }
        deleted += r;
    }
    if (deleted && (r = coll_save(&z))) {
        zs_fail(c, r);
        coll_close(&z);
        return;
    }
    int removed = !z.exists;
    coll_close(&z);
    if (zs_commit(c)) return;
    if (deleted) {
        event(c, NOTIFY_ZSET, "zrem", &c->argv[1]);
        if (removed) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    }
    reply_int(c, deleted);
}

static void cmd_zcard(client *c) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r >= 0) reply_int(c, r ? z.count : 0);
    coll_close(&z);
}

static void cmd_zscore(client *c) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r == 1) {
        double s;
        r = zset_score(&z, c->argv[2].ptr, c->argv[2].len, &s);
        if (r < 0) keyspace_reply_engine_error(c, r);
        else if (r == 0) reply_null(c);
        else reply_double(c, s);
    }
    coll_close(&z);
}

static void cmd_zmscore(client *c) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r < 0) {
        coll_close(&z);
        return;
    }
    reply_mark mk;
    client_reply_mark(c, &mk);
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double s;
        int f = zset_score(&z, c->argv[j].ptr, c->argv[j].len, &s);
        if (f < 0) {
            client_reply_truncate(c, &mk);
            keyspace_reply_engine_error(c, f);
            break;
        }
        if (f) reply_double(c, s);
        else reply_null(c);
    }
    coll_close(&z);
}

static void zrank_generic(client *c, int reverse) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r == 1) {
        long long rank;
        r = zset_rank(&z, c->argv[2].ptr, c->argv[2].len, reverse, &rank);
        if (r < 0) keyspace_reply_engine_error(c, r);
        else if (r == 0) reply_null(c);
        else reply_int(c, rank);
    }
    coll_close(&z);
}

static void cmd_zrank(client *c) { zrank_generic(c, 0); }
static void cmd_zrevrank(client *c) { zrank_generic(c, 1); }

/* ---- ZCOUNT, ZLEXCOUNT ----------------------------------------------------------------------- */

static void cmd_zcount(client *c) {
    zset_score_range range;
    if (zset_parse_score_range(c->argv[2].ptr, c->argv[3].ptr, &range)) {
        reply_error(c, ERR_MINMAX_FLOAT);
        return;
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r == 0) reply_int(c, 0);
    if (r == 1) {
        long long n = zset_count_score(&z, &range);
        if (n < 0) keyspace_reply_engine_error(c, (int)n);
        else reply_int(c, n);
    }
    coll_close(&z);
}

static void cmd_zlexcount(client *c) {
    zset_lex_range range;
    if (zset_parse_lex_range(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len,
                             &range)) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r == 0) reply_int(c, 0);
    if (r == 1) {
        long long n = zset_count_lex(&z, &range);
        if (n < 0) keyspace_reply_engine_error(c, (int)n);
        else reply_int(c, n);
    }
    coll_close(&z);
}

/* ---- the ZRANGE family ----------------------------------------------------------------------- */

enum { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZD_AUTO, ZD_FWD, ZD_REV };

/* Stores v at dst (ZRANGESTORE and the *STORE set operations): replies the count, then the
 * keyspace event name (or "del" when an empty result removed dst). */
static void zs_store_reply(client *c, const cmdarg *dst, zset_vec *v, const char *name) {
    coll d;
    int r = coll_open(&d, c->db, dst->ptr, dst->len, KTYPE_ZSET, 0);
    if (r < 0 && r != COLL_WRONGTYPE) {
        keyspace_reply_engine_error(c, r);
        coll_close(&d);
        return;
    }
    keyspace_begin();
    int removed = 0;
    r = zset_store(&d, v, &removed);
    coll_close(&d);
    if (r) {
        zs_fail(c, r);
        return;
    }
    if (zs_commit(c)) return;
    reply_int(c, (long long)v->n);
    if (v->n) event(c, NOTIFY_ZSET, name, dst);
    else if (removed) event(c, NOTIFY_GENERIC, "del", dst);
}

/* Redis's zrangeGenericCommand: <src> <min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES]
 * [LIMIT offset count] starting at argv[start]; store: ZRANGESTORE into argv[1]. */
static void zrange_generic(client *c, int start, int store, int rangetype, int direction) {
    const cmdarg *key = &c->argv[start];
    int minidx = start + 1, maxidx = start + 2;
    long long opt_start = 0, opt_end = 0, opt_offset = 0, opt_limit = -1;
    int withscores = 0;
    for (int j = start + 3; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const char *o = c->argv[j].ptr;
        if (!store && !strcasecmp(o, "withscores")) {
            withscores = 1;
        } else if (!strcasecmp(o, "limit") && left >= 2) {
            if (zs_get_long(c, &c->argv[j + 1], &opt_offset, NULL) ||
                zs_get_long(c, &c->argv[j + 2], &opt_limit, NULL))
                return;
            j += 2;
        } else if (direction == ZD_AUTO && !strcasecmp(o, "rev")) {
            direction = ZD_REV;
        } else if (rangetype == ZR_AUTO && !strcasecmp(o, "bylex")) {
            rangetype = ZR_LEX;
        } else if (rangetype == ZR_AUTO && !strcasecmp(o, "byscore")) {
            rangetype = ZR_SCORE;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (direction == ZD_AUTO) direction = ZD_FWD;
    if (rangetype == ZR_AUTO) rangetype = ZR_RANK;
    if (opt_limit != -1 && rangetype == ZR_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return;
    }
    if (withscores && rangetype == ZR_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    int reverse = direction == ZD_REV;
    if (reverse && rangetype != ZR_RANK) {
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    zset_score_range sr;
    zset_lex_range lr;
    switch (rangetype) {
    case ZR_RANK:
        if (zs_get_long(c, &c->argv[minidx], &opt_start, NULL) ||
            zs_get_long(c, &c->argv[maxidx], &opt_end, NULL))
            return;
        break;
    case ZR_SCORE:
        if (zset_parse_score_range(c->argv[minidx].ptr, c->argv[maxidx].ptr, &sr)) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
        break;
    default:
        if (zset_parse_lex_range(c->argv[minidx].ptr, c->argv[minidx].len, c->argv[maxidx].ptr,
                                 c->argv[maxidx].len, &lr)) {
            reply_error(c, ERR_MINMAX_LEX);
            return;
        }
        break;
    }
    coll z;
    int r = zs_open(c, key, &z, KS_LOOKUP_READ);
    if (r < 0) {
        coll_close(&z);
        return;
    }
    if (r == 0 && !store) {
        reply_array(c, 0);
        coll_close(&z);
        return;
    }
    /* the results go to the client, or into v for the store */
    zset_vec v;
    zset_vec_init(&v);
    zemit e = {c, withscores};
    zset_visit_fn fn = store ? zset_vec_visit : emit_visit;
    void *ctx = store ? (void *)&v : (void *)&e;
    reply_mark mk;
    client_reply_mark(c, &mk);
    long long n = 0;
    if (rangetype == ZR_RANK) {
        long long llen = z.count;
        if (opt_start < 0) opt_start += llen;
        if (opt_end < 0) opt_end += llen;
        if (opt_start < 0) opt_start = 0;
        if (opt_start > opt_end || opt_start >= llen) {
            if (!store) reply_array(c, 0);
        } else {
            if (opt_end >= llen) opt_end = llen - 1;
            if (!store) reply_array(c, zs_len(c, opt_end - opt_start + 1, withscores));
            n = zset_walk_rank(&z, opt_start, opt_end, reverse, fn, ctx);
        }
    } else {
        void *h = store ? NULL : reply_defer_len(c);
        if (rangetype == ZR_SCORE)
            n = zset_walk_score(&z, &sr, reverse, opt_offset, opt_limit, fn, ctx);
        else
            n = zset_walk_lex(&z, &lr, reverse, opt_offset, opt_limit, fn, ctx);
        if (!store && n >= 0) reply_set_deferred_array(c, h, zs_len(c, n, withscores));
    }
    coll_close(&z);
    if (n < 0) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, (int)n);
    } else if (store) {
        /* Redis builds the destination by ZADDing the results in walk order into a listpack
         * (a skiplist when a rank range is known to be too long), which converts when it
         * outgrows it: the members added while it was a listpack lost a -0.0 sign */
        int big = rangetype == ZR_RANK && (long long)v.n > config.zset_max_listpack_entries;
        for (size_t i = 0; !big && i < v.n; i++) {
            if ((long long)i + 1 > config.zset_max_listpack_entries ||
                (long long)v.e[i].len > config.zset_max_listpack_value)
                break;
            if (v.e[i].score == 0) v.e[i].score = 0.0;
        }
        zs_store_reply(c, &c->argv[1], &v, "zrangestore");
    }
    zset_vec_free(&v);
}

static void cmd_zrange(client *c) { zrange_generic(c, 1, 0, ZR_AUTO, ZD_AUTO); }
static void cmd_zrangestore(client *c) { zrange_generic(c, 2, 1, ZR_AUTO, ZD_AUTO); }
static void cmd_zrevrange(client *c) { zrange_generic(c, 1, 0, ZR_RANK, ZD_REV); }
static void cmd_zrangebyscore(client *c) { zrange_generic(c, 1, 0, ZR_SCORE, ZD_FWD); }
static void cmd_zrevrangebyscore(client *c) { zrange_generic(c, 1, 0, ZR_SCORE, ZD_REV); }
static void cmd_zrangebylex(client *c) { zrange_generic(c, 1, 0, ZR_LEX, ZD_FWD); }
static void cmd_zrevrangebylex(client *c) { zrange_generic(c, 1, 0, ZR_LEX, ZD_REV); }

/* ---- ZREMRANGEBY* ---------------------------------------------------------------------------- */

static void zremrange_generic(client *c, int rangetype) {
    long long start = 0, end = 0;
    zset_score_range sr;
    zset_lex_range lr;
    if (rangetype == ZR_RANK) {
        if (zs_get_long(c, &c->argv[2], &start, NULL) || zs_get_long(c, &c->argv[3], &end, NULL))
            return;
    } else if (rangetype == ZR_SCORE) {
        if (zset_parse_score_range(c->argv[2].ptr, c->argv[3].ptr, &sr)) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
    } else if (zset_parse_lex_range(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr,
                                    c->argv[3].len, &lr)) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, 0);
    if (r <= 0) {
        if (r == 0) reply_int(c, 0);
        coll_close(&z);
        return;
    }
    if (rangetype == ZR_RANK) {
        long long llen = z.count;
        if (start < 0) start += llen;
        if (end < 0) end += llen;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_int(c, 0);
            coll_close(&z);
            return;
        }
        if (end >= llen) end = llen - 1;
    }
    keyspace_begin();
    long long n = rangetype == ZR_RANK    ? zset_remove_rank(&z, start, end, 0, NULL, NULL)
                  : rangetype == ZR_SCORE ? zset_remove_score(&z, &sr)
                                          : zset_remove_lex(&z, &lr);
    if (n > 0) {
        r = coll_save(&z);
        if (r) n = r;
    }
    int removed = !z.exists;
    coll_close(&z);
    if (n < 0) {
        zs_fail(c, (int)n);
        return;
    }
    if (zs_commit(c)) return;
    if (n > 0) {
        static const char *const names[] = {[ZR_RANK] = "zremrangebyrank", [ZR_SCORE] = "zremrangebyscore",
                                            [ZR_LEX] = "zremrangebylex"};
        event(c, NOTIFY_ZSET, names[rangetype], &c->argv[1]);
        if (removed) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    }
    reply_int(c, n);
}

static void cmd_zremrangebyrank(client *c) { zremrange_generic(c, ZR_RANK); }
static void cmd_zremrangebyscore(client *c) { zremrange_generic(c, ZR_SCORE); }
static void cmd_zremrangebylex(client *c) { zremrange_generic(c, ZR_LEX); }

/* ---- ZPOPMIN, ZPOPMAX, ZMPOP ----------------------------------------------------------------- */

typedef struct pop_emit {
    client *c;
    int nested;
} pop_emit;

static int pop_visit(void *ctx, const char *m, size_t mlen, double score) {
    pop_emit *p = ctx;
    if (p->nested) reply_array(p->c, 2);
    reply_bulk(p->c, m, mlen);
    reply_double(p->c, score);
    return 0;
}

int cmd_zset_pop(client *c, const cmdarg *keys, int nkeys, int max, long long count, int flags) {
    coll z;
    const cmdarg *key = NULL;
    int r = 0;
    for (int i = 0; i < nkeys; i++) {
        r = coll_open(&z, c->db, keys[i].ptr, keys[i].len, KTYPE_ZSET, 0);
        if (r == COLL_WRONGTYPE && (flags & ZPOP_SKIP_WRONGTYPE)) {
            coll_close(&z);
            continue;
        }
        if (r < 0) {
            if (r == COLL_WRONGTYPE) reply_error(c, ERR_WRONGTYPE);
            else keyspace_reply_engine_error(c, r);
            coll_close(&z);
            return 1;
        }
        if (r == 1) {
            key = &keys[i];
            break;
        }
        coll_close(&z);
    }
    if (!key) return 0;
    if (count == 0) {
        reply_array(c, 0);
        coll_close(&z);
        return 1;
    }
    if (count == -1) count = 1;
    int emitkey = flags & ZPOP_EMITKEY, nested = flags & ZPOP_NESTED;
    long long rangelen = count > z.count ? z.count : count;
    reply_mark mk;
    client_reply_mark(c, &mk);
    if (!nested && !emitkey) {
        reply_array(c, (long)(rangelen * 2));
    } else if (nested && !emitkey) {
        reply_array(c, (long)rangelen);
    } else if (!nested && emitkey) { /* BZPOPMIN/BZPOPMAX: [key, member, score ...] */
        reply_array(c, (long)(rangelen * 2 + 1));
        reply_bulk(c, key->ptr, key->len);
    } else {
        reply_array(c, 2);
        reply_bulk(c, key->ptr, key->len);
        reply_array(c, (long)rangelen);
    }
    keyspace_begin();
    pop_emit p = {c, nested};
    long long n = zset_pop(&z, rangelen, max, 1, pop_visit, &p);
    if (n >= 0 && (r = coll_save(&z))) n = r;
    int removed = !z.exists;
    coll_close(&z);
    if (n < 0) {
        client_reply_truncate(c, &mk);
        zs_fail(c, (int)n);
        return 1;
    }
    int cr = keyspace_commit();
    if (cr) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, cr);
    }
    if (cr) return 1;
    /* Redis publishes "zpopmin"/"zpopmax" after the first member of its reply: here after the
     * reply, so that a RESP3 client subscribed to its own events gets a well-formed stream */
    if (n > 0) event(c, NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key);
    if (removed) event(c, NOTIFY_GENERIC, "del", key);
    return 1;
}

/* Redis's genericZpopCommand: cmd_zset_pop, and when no key exists the empty array (ZPOP*) or
 * the nil array (ZMPOP, nil_when_empty). */
static void zpop_generic(client *c, const cmdarg *keys, int nkeys, int max, long long count,
                         int flags, int nil_when_empty) {
    if (cmd_zset_pop(c, keys, nkeys, max, count, flags)) return;
    if (nil_when_empty) reply_null_array(c);
    else reply_array(c, 0);
}

static void zpop_minmax(client *c, int max) {
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (c->argc == 3 && zs_get_range_long(c, &c->argv[2], 0, LLONG_MAX, &count,
                                          "ERR value is out of range, must be positive"))
        return;
    zpop_generic(c, &c->argv[1], 1, max, count, c->resp > 2 && count != -1 ? ZPOP_NESTED : 0, 0);
}

static void cmd_zpopmin(client *c) { zpop_minmax(c, 0); }
static void cmd_zpopmax(client *c) { zpop_minmax(c, 1); }

static void cmd_zmpop(client *c) {
    long long numkeys, count;
    int max;
    if (!cmd_coll_parse_mpop(c, 1, "min", "max", &numkeys, &max, &count)) return;
    zpop_generic(c, &c->argv[2], (int)numkeys, max, count, ZPOP_EMITKEY | ZPOP_NESTED, 1);
}

/* ---- ZRANDMEMBER ----------------------------------------------------------------------------- */

typedef struct rank_pick {
    long long rank;
    size_t order; /* position in the reply */
} rank_pick;

static int pick_cmp(const void *a, const void *b) {
    const rank_pick *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank ? 1 : 0;
}

typedef struct pick_walk {
    rank_pick *picks;
    size_t n, next;
    long long pos;
    zset_vec *out; /* out->e[order] filled */
} pick_walk;

static int pick_visit(void *ctx, const char *m, size_t mlen, double score) {
    pick_walk *w = ctx;
    zset_vec *v = w->out;
    while (w->next < w->n && w->picks[w->next].rank == w->pos) {
        /* append at the scratch slot n (the member bytes go to the byte store), then move the
         * entry to its reply position */
        v->n = w->n;
        int r = zset_vec_push(v, m, mlen, score);
        if (r) return r;
        v->e[w->picks[w->next].order] = v->e[w->n];
        w->next++;
    }
    w->pos++;
    return w->next < w->n ? 0 : 1;
}

/* Members at the given ranks (any order, repeats allowed), into out in the picks' order. */
static long long zs_fetch_ranks(const coll *z, rank_pick *picks, size_t n, zset_vec *out) {
    if (out->cap < n + 1) {
        zset_entry *e = realloc(out->e, (n + 1) * sizeof(*e));
        if (!e) return LSM_ENOMEM;
        out->e = e;
        out->cap = n + 1;
    }
    for (size_t i = 0; i < n; i++) picks[i].order = i;
    qsort(picks, n, sizeof(*picks), pick_cmp);
    pick_walk w = {picks, n, 0, 0, out};
    long long r = zset_walk_rank(z, 0, picks[n - 1].rank, 0, pick_visit, &w);
    out->n = n;
    return r < 0 ? r : (long long)n;
}

static void zrandmember_reply(client *c, const zset_vec *v, const size_t *order, size_t n,
                              int withscores) {
    reply_array(c, zs_len(c, (long long)n, withscores));
    for (size_t i = 0; i < n; i++) {
        size_t k = order ? order[i] : i;
        if (withscores && c->resp > 2) reply_array(c, 2);
        reply_bulk(c, zset_vec_member(v, k), v->e[k].len);
        if (withscores) reply_double(c, v->e[k].score);
        if ((i & 1023) == 1023 && config.obuf_hard && client_reply_pending(c) > (size_t)config.obuf_hard)
            break; /* the client is closed after this command, as Redis's CLIENT_CLOSE_ASAP */
    }
}

static void zrandmember_count(client *c, long long l, int withscores) {
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r <= 0) {
        if (r == 0) reply_array(c, 0);
        coll_close(&z);
        return;
    }
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)-l;
    int uniq = l >= 0;
    unsigned long long size = (unsigned long long)z.count;
    zset_vec v;
    zset_vec_init(&v);
    size_t *order = NULL;
    long long err = 0;
    if (count == 0) {
        reply_array(c, 0);
    } else if (!uniq || count == 1) {
        /* CASE 1: count members with repetitions, in random order */
        if (size <= 1024 || count >= size) {
            err = zset_walk_all(&z, zset_vec_visit, &v);
            if (err >= 0) {
                size_t chunk = count < 4096 ? (size_t)count : 4096;
                order = malloc(chunk * sizeof(*order));
                if (!order) err = LSM_ENOMEM;
                unsigned long long left = count;
                int first = 1;
                while (err >= 0 && left) {
                    size_t k = left < chunk ? (size_t)left : chunk;
                    for (size_t i = 0; i < k; i++) order[i] = (size_t)zs_rand_below(v.n);
                    if (first) reply_array(c, zs_len(c, (long long)count, withscores));
                    first = 0;
                    for (size_t i = 0; i < k; i++) {
                        if (withscores && c->resp > 2) reply_array(c, 2);
                        reply_bulk(c, zset_vec_member(&v, order[i]), v.e[order[i]].len);
                        if (withscores) reply_double(c, v.e[order[i]].score);
                    }
                    left -= k;
                    if (config.obuf_hard && client_reply_pending(c) > (size_t)config.obuf_hard)
                        break;
                }
            }
        } else {
            rank_pick *picks = malloc((size_t)count * sizeof(*picks));
            if (!picks) err = LSM_ENOMEM;
            for (unsigned long long i = 0; picks && i < count; i++)
                picks[i].rank = (long long)zs_rand_below(size);
            if (picks) err = zs_fetch_ranks(&z, picks, (size_t)count, &v);
            if (err >= 0) zrandmember_reply(c, &v, NULL, (size_t)count, withscores);
            free(picks);
        }
    } else if (count >= size) {
        /* CASE 2: the whole zset, in the order Redis iterates it (highest score first) */
        err = zset_walk_rank(&z, 0, (long long)size - 1, 1, zset_vec_visit, &v);
        if (err >= 0) zrandmember_reply(c, &v, NULL, v.n, withscores);
    } else if (count * 3 > size || size <= 1024) {
        /* CASE 3: all of it, then count distinct picks (a partial shuffle) */
        err = zset_walk_all(&z, zset_vec_visit, &v);
        if (err >= 0) {
            order = malloc(v.n * sizeof(*order));
            if (!order) err = LSM_ENOMEM;
        }
        if (err >= 0) {
            for (size_t i = 0; i < v.n; i++) order[i] = i;
            for (size_t i = 0; i < (size_t)count; i++) {
                size_t j = i + (size_t)zs_rand_below(v.n - i);
                size_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            zrandmember_reply(c, &v, order, (size_t)count, withscores);
        }
    } else {
        /* CASE 4: count distinct random ranks (count * 3 <= size: few collisions), one walk */
        rank_pick *picks = malloc((size_t)count * sizeof(*picks));
        if (!picks) err = LSM_ENOMEM;
        size_t have = 0;
        while (picks && have < count) {
            while (have < count) picks[have++].rank = (long long)zs_rand_below(size);
            qsort(picks, have, sizeof(*picks), pick_cmp);
            size_t u = 0;
            for (size_t i = 0; i < have; i++)
                if (!u || picks[u - 1].rank != picks[i].rank) picks[u++] = picks[i];
            have = u;
        }
        /* the reply order is random, not the rank order */
        for (size_t i = 0; picks && i + 1 < have; i++) {
            size_t j = i + (size_t)zs_rand_below(have - i);
            rank_pick t = picks[i];
            picks[i] = picks[j];
            picks[j] = t;
        }
        if (picks) err = zs_fetch_ranks(&z, picks, (size_t)count, &v);
        if (err >= 0) zrandmember_reply(c, &v, NULL, (size_t)count, withscores);
        free(picks);
    }
    if (err < 0) keyspace_reply_engine_error(c, (int)err);
    free(order);
    zset_vec_free(&v);
    coll_close(&z);
}

static int single_visit(void *ctx, const char *m, size_t mlen, double score) {
    (void)score;
    reply_bulk(ctx, m, mlen);
    return 0;
}

static void cmd_zrandmember(client *c) {
    if (c->argc >= 3) {
        long long l;
        if (zs_get_range_long(c, &c->argv[2], -LLONG_MAX, LLONG_MAX, &l, NULL)) return;
        int withscores = 0;
        if (c->argc > 4 || (c->argc == 4 && strcasecmp(c->argv[3].ptr, "withscores"))) {
            reply_error(c, ERR_SYNTAX);
            return;
        } else if (c->argc == 4) {
            withscores = 1;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r == 1) {
        long long rank = (long long)zs_rand_below((uint64_t)z.count);
        long long n = zset_walk_rank(&z, rank, rank, 0, single_visit, c);
        if (n < 0) keyspace_reply_engine_error(c, (int)n);
    }
    coll_close(&z);
}

/* ---- ZUNION, ZINTER, ZDIFF (+STORE), ZINTERCARD ---------------------------------------------- */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

typedef struct zsrc {
    coll c;
    int type;       /* KTYPE_ZSET, KTYPE_SET, or -1 when the key is absent */
    double weight;
    long long count;
    int argi;       /* argument index of its key */
} zsrc;

static void aggregate(double *target, double val, int agg) {
    if (agg == AGG_SUM) {
        *target = *target + val;
        if (isnan(*target)) *target = 0.0; /* inf + -inf: Redis's convention */
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* Score of m in a source: 1 found, 0 absent, negative code. Set members score 1. */
static lsm_buf set_buf;
static int src_find(zsrc *s, const char *m, size_t mlen, double *score) {
    if (s->type == KTYPE_ZSET) return zset_score(&s->c, m, mlen, score);
    if (s->type != KTYPE_SET) return 0;
    int r = coll_get(&s->c, COLL_SUB_MEMBER, m, mlen, &set_buf);
    if (r == 1) *score = 1.0;
    return r;
}

/* Visits every member of a source (sets: member order, score 1). */
static long long src_walk(zsrc *s, zset_visit_fn fn, void *ctx) {
    if (s->type == KTYPE_ZSET) return zset_walk_all(&s->c, fn, ctx);
    if (s->type != KTYPE_SET) return 0;
    coll_iter it;
    long long n = 0;
    int r = coll_iter_seek(&it, &s->c, COLL_SUB_MEMBER, NULL, 0);
    while (!r && coll_iter_valid(&it)) {
        size_t ml;
        const char *m = coll_iter_member(&it, &ml);
        int v = fn(ctx, m, ml, 1.0);
        if (v < 0) r = v;
        if (v) break;
        n++;
        coll_iter_next(&it);
        r = coll_iter_status(&it);
    }
    coll_iter_close(&it);
    return r ? r : n;
}

static int same_key(const client *c, const zsrc *a, const zsrc *b) {
    const cmdarg *x = &c->argv[a->argi], *y = &c->argv[b->argi];
    return x->len == y->len && memcmp(x->ptr, y->ptr, x->len) == 0;
}

typedef struct setop {
    client *c;
    zsrc *src;
    long long nsrc;
    int agg;
    zset_vec *out;
    int cardinality_only;
    long long limit, card;
} setop;

static int union_visit(void *ctx, const char *m, size_t mlen, double score) {
    setop *o = ctx;
    zsrc *s = o->src; /* the source being walked is o->src[0] of the shifted view */
    double v = s->weight * score;
    if (isnan(v)) v = 0;
    int created;
    long long i = zset_vec_upsert(o->out, m, mlen, v, &created);
    if (i < 0) return (int)i;
    if (!created) aggregate(&o->out->e[i].score, v, o->agg);
    return 0;
}

static int inter_visit(void *ctx, const char *m, size_t mlen, double score) {
    setop *o = ctx;
    double total = o->src[0].weight * score;
    if (isnan(total)) total = 0;
    long long j;
    for (j = 1; j < o->nsrc; j++) {
        double value;
        if (same_key(o->c, &o->src[j], &o->src[0])) {
            value = score * o->src[j].weight;
        } else {
            int r = src_find(&o->src[j], m, mlen, &value);
            if (r < 0) return r;
            if (!r) break;
            value *= o->src[j].weight;
        }
        aggregate(&total, value, o->agg);
    }
    if (j < o->nsrc) return 0;
    if (o->cardinality_only) {
        o->card++;
        return o->limit && o->card >= o->limit ? 1 : 0;
    }
    return zset_vec_push(o->out, m, mlen, total);
}

static int diff_visit(void *ctx, const char *m, size_t mlen, double score) {
    setop *o = ctx;
    for (long long j = 1; j < o->nsrc; j++) {
        double value;
        int r = src_find(&o->src[j], m, mlen, &value);
        if (r < 0) return r;
        if (r) return 0;
    }
    return zset_vec_push(o->out, m, mlen, score);
}

/* Sorts the sources by cardinality, stably (Redis's qsort is glibc's merge sort: equal sizes
 * keep their order, which decides the order of floating-point additions). */
static int src_cmp(const void *a, const void *b) {
    const zsrc *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return x->argi < y->argi ? -1 : x->argi > y->argi;
}

static void sort_sources(zsrc *src, long long n) {
    qsort(src, (size_t)n, sizeof(*src), src_cmp);
}

/* Redis's zunionInterDiffGenericCommand. dst: argv index of the destination (0: none);
 * numkeys at argv[numkeys_idx]. */
static void setop_generic(client *c, int dst, int numkeys_idx, int op, int cardinality_only) {
    long long setnum;
    if (zs_get_long(c, &c->argv[numkeys_idx], &setnum, NULL)) return;
    if (setnum < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > c->argc - (numkeys_idx + 1)) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    zsrc *src = calloc((size_t)setnum, sizeof(*src));
    if (!src) {
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return;
    }
    long long opened = 0;
    int j = numkeys_idx + 1;
    zset_vec out;
    zset_vec_init(&out);
    for (long long i = 0; i < setnum; i++, j++) {
        zsrc *s = &src[i];
        s->weight = 1.0;
        s->argi = j;
        int r = coll_open(&s->c, c->db, c->argv[j].ptr, c->argv[j].len, KTYPE_ZSET,
                          KS_LOOKUP_READ);
        opened++;
        if (r == COLL_WRONGTYPE && s->c.cur.type == KTYPE_SET) {
            coll_close(&s->c);
            r = coll_open(&s->c, c->db, c->argv[j].ptr, c->argv[j].len, KTYPE_SET, 0);
            if (r == 1) r = 2;
        }
        if (r == COLL_WRONGTYPE) {
            reply_error(c, ERR_WRONGTYPE);
            goto done;
        }
        if (r < 0) {
            keyspace_reply_engine_error(c, r);
            goto done;
        }
        s->type = r == 0 ? -1 : r == 2 ? KTYPE_SET : KTYPE_ZSET;
        s->count = r ? s->c.count : 0;
    }
    int agg = AGG_SUM, withscores = 0;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        const char *o = c->argv[j].ptr;
        if (op != OP_DIFF && !cardinality_only && remaining >= setnum + 1 &&
            !strcasecmp(o, "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++) {
                if (!zs_string2d(c->argv[j].ptr, c->argv[j].len, &src[i].weight)) {
                    reply_error(c, "ERR weight value is not a float");
                    goto done;
                }
            }
        } else if (op != OP_DIFF && !cardinality_only && remaining >= 2 &&
                   !strcasecmp(o, "aggregate")) {
            j++;
            const char *a = c->argv[j].ptr;
            if (!strcasecmp(a, "sum")) agg = AGG_SUM;
            else if (!strcasecmp(a, "min")) agg = AGG_MIN;
            else if (!strcasecmp(a, "max")) agg = AGG_MAX;
            else {
                reply_error(c, ERR_SYNTAX);
                goto done;
            }
            j++;
        } else if (remaining >= 1 && !dst && !cardinality_only && !strcasecmp(o, "withscores")) {
            j++;
            withscores = 1;
        } else if (cardinality_only && remaining >= 2 && !strcasecmp(o, "limit")) {
            j++;
            if (zs_get_range_long(c, &c->argv[j], 0, LLONG_MAX, &limit,
                                  "ERR LIMIT can't be negative"))
                goto done;
            j++;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto done;
        }
    }
    if (op != OP_DIFF) sort_sources(src, setnum);
    setop so = {c, src, setnum, agg, &out, cardinality_only, limit, 0};
    long long r = 0;
    if (op == OP_INTER) {
        if (src[0].count > 0) r = src_walk(&src[0], inter_visit, &so);
    } else if (op == OP_UNION) {
        for (long long i = 0; r >= 0 && i < setnum; i++) {
            if (src[i].count == 0) continue;
            setop one = so;
            one.src = &src[i];
            r = src_walk(&src[i], union_visit, &one);
        }
    } else {
        int dup = 0;
        for (long long i = 1; i < setnum; i++) dup |= same_key(c, &src[i], &src[0]);
        if (src[0].count > 0 && !dup) r = src_walk(&src[0], diff_visit, &so);
    }
    if (r < 0) {
        keyspace_reply_engine_error(c, (int)r);
        goto done;
    }
    if (cardinality_only) {
        reply_int(c, so.card);
        goto done;
    }
    zset_vec_sort(&out);
    for (long long i = 0; i < opened; i++) coll_close(&src[i].c);
    opened = 0;
    if (dst) {
        zs_store_reply(c, &c->argv[dst], &out,
                       op == OP_UNION ? "zunionstore" : op == OP_INTER ? "zinterstore" : "zdiffstore");
    } else {
        reply_array(c, zs_len(c, (long long)out.n, withscores));
        zemit e = {c, withscores};
        for (size_t i = 0; i < out.n; i++)
            emit_visit(&e, zset_vec_member(&out, i), out.e[i].len, out.e[i].score);
    }
done:
    for (long long i = 0; i < opened; i++) coll_close(&src[i].c);
    free(src);
    zset_vec_free(&out);
}

static void cmd_zunionstore(client *c) { setop_generic(c, 1, 2, OP_UNION, 0); }
static void cmd_zinterstore(client *c) { setop_generic(c, 1, 2, OP_INTER, 0); }
static void cmd_zdiffstore(client *c) { setop_generic(c, 1, 2, OP_DIFF, 0); }
static void cmd_zunion(client *c) { setop_generic(c, 0, 1, OP_UNION, 0); }
static void cmd_zinter(client *c) { setop_generic(c, 0, 1, OP_INTER, 0); }
static void cmd_zintercard(client *c) { setop_generic(c, 0, 1, OP_INTER, 1); }
static void cmd_zdiff(client *c) { setop_generic(c, 0, 1, OP_DIFF, 0); }

/* ---- ZSCAN ----------------------------------------------------------------------------------- */

/* A score as a listpack holds it (what ZSCAN of a small zset returns): an integer when the
 * double is one (within +-2^62), else Redis's d2string ("%.17g", "inf", "-inf"). */
static size_t listpack_score(char *buf, size_t cap, double d) {
    if (isinf(d)) return (size_t)snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
    if (d >= (double)(-LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)d;
        if ((double)ll == d) return (size_t)ll2string(buf, cap, ll);
    }
    return (size_t)snprintf(buf, cap, "%.17g", d);
}

typedef struct scan_out {
    const cmdarg *pat; /* NULL: everything */
    zset_vec v;
} scan_out;

static int scan_visit(void *ctx, const char *m, size_t mlen, double score) {
    scan_out *s = ctx;
    if (s->pat && !glob_match(s->pat->ptr, s->pat->len, m, mlen, 0)) return 0;
    return zset_vec_push(&s->v, m, mlen, score);
}

static int parse_scan_cursor(const cmdarg *a, unsigned long long *out) {
    if (a->len && isspace((unsigned char)a->ptr[0])) return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(a->ptr, &end, 10);
    if (errno == ERANGE || *end != '\0') return 0;
    *out = v;
    return 1;
}

static void cmd_zscan(client *c) {
    unsigned long long cursor;
    if (!parse_scan_cursor(&c->argv[2], &cursor)) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    coll z;
    int r = zs_open(c, &c->argv[1], &z, KS_LOOKUP_READ);
    if (r <= 0) {
        if (r == 0) {
            reply_array(c, 2);
            reply_bulk_cstr(c, "0");
            reply_array(c, 0);
        }
        coll_close(&z);
        return;
    }
    long long count = 10;
    scan_out so;
    so.pat = NULL;
    zset_vec_init(&so.v);
    for (int i = 3; i < c->argc; i += 2) {
        const char *o = c->argv[i].ptr;
        int more = c->argc - i >= 2;
        if (!strcasecmp(o, "count") && more) {
            if (zs_get_long(c, &c->argv[i + 1], &count, NULL)) goto out;
            if (count < 1) {
                reply_error(c, ERR_SYNTAX);
                goto out;
            }
        } else if (!strcasecmp(o, "match") && more) {
            const cmdarg *p = &c->argv[i + 1];
            so.pat = p->len == 1 && p->ptr[0] == '*' ? NULL : p;
        } else {
            reply_error(c, ERR_SYNTAX);
            goto out;
        }
    }
    unsigned long long next = 0;
    int small = z.enc == COLL_ENC_SMALL;
    if (small) {
        /* listpack: everything at once, cursor 0 (Redis) */
        long long n = zset_walk_all(&z, scan_visit, &so);
        if (n < 0) {
            keyspace_reply_engine_error(c, (int)n);
            goto out;
        }
    } else {
        const char *from = NULL;
        size_t flen = 0;
        if (cursor) coll_cursor_load(COLL_SUB_MEMBER, cursor, &from, &flen);
        coll_iter it;
        int e = coll_iter_seek(&it, &z, COLL_SUB_MEMBER, from, flen);
        long long seen = 0;
        while (!e && coll_iter_valid(&it)) {
            size_t ml, vl;
            const char *m = coll_iter_member(&it, &ml);
            if (seen >= count) {
                next = coll_cursor_save(COLL_SUB_MEMBER, m, ml);
                break;
            }
            const char *v = coll_iter_value(&it, &vl);
            if (vl != 8) {
                e = LSM_ECORRUPT;
                break;
            }
            double s;
            uint64_t u = 0;
            for (int k = 7; k >= 0; k--) u = (u << 8) | (unsigned char)v[k];
            memcpy(&s, &u, 8);
            e = scan_visit(&so, m, ml, s);
            seen++;
            if (!e) {
                coll_iter_next(&it);
                e = coll_iter_status(&it);
            }
        }
        coll_iter_close(&it);
        if (e) {
            keyspace_reply_engine_error(c, e);
            goto out;
        }
    }
    char cur[32];
    reply_array(c, 2);
    reply_bulk(c, cur, (size_t)ll2string(cur, sizeof(cur), (long long)next));
    reply_array(c, (long)so.v.n * 2);
    for (size_t i = 0; i < so.v.n; i++) {
        char sb[64];
        size_t sl;
        reply_bulk(c, zset_vec_member(&so.v, i), so.v.e[i].len);
        if (small) sl = listpack_score(sb, sizeof(sb), so.v.e[i].score);
        else if (isinf(so.v.e[i].score)) sl = (size_t)snprintf(sb, sizeof(sb), "%s", so.v.e[i].score > 0 ? "inf" : "-inf");
        else sl = (size_t)snprintf(sb, sizeof(sb), "%.17Lg", (long double)so.v.e[i].score);
        reply_bulk(c, sb, sl);
    }
out:
    zset_vec_free(&so.v);
    coll_close(&z);
}

/* ---- table ----------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM
#define G "sorted-set"

const struct command zset_commands[] = {
    {"zadd", cmd_zadd, -4, W | D | F, 1, 1, 1, G,
     "Adds one or more members to a sorted set, or updates their scores. Creates the key if it "
     "doesn't exist.",
     "1.2.0", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]", NULL},
    {"zincrby", cmd_zincrby, 4, W | D | F, 1, 1, 1, G,
     "Increments the score of a member in a sorted set.", "1.2.0", "key increment member", NULL},
    {"zrem", cmd_zrem, -3, W | F, 1, 1, 1, G,
     "Removes one or more members from a sorted set. Deletes the sorted set if all members were "
     "removed.",
     "1.2.0", "key member [member ...]", NULL},
    {"zcard", cmd_zcard, 2, R | F, 1, 1, 1, G, "Returns the number of members in a sorted set.",
     "1.2.0", "key", NULL},
    {"zscore", cmd_zscore, 3, R | F, 1, 1, 1, G,
     "Returns the score of a member in a sorted set.", "1.2.0", "key member", NULL},
    {"zmscore", cmd_zmscore, -3, R | F, 1, 1, 1, G,
     "Returns the score of one or more members in a sorted set.", "6.2.0",
     "key member [member ...]", NULL},
    {"zrank", cmd_zrank, 3, R | F, 1, 1, 1, G,
     "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0",
     "key member", NULL},
    {"zrevrank", cmd_zrevrank, 3, R | F, 1, 1, 1, G,
     "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0",
     "key member", NULL},
    {"zcount", cmd_zcount, 4, R | F, 1, 1, 1, G,
     "Returns the count of members in a sorted set that have scores within a range.", "2.0.0",
     "key min max", NULL},
    {"zlexcount", cmd_zlexcount, 4, R | F, 1, 1, 1, G,
     "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9",
     "key min max", NULL},
    {"zrange", cmd_zrange, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a range of indexes.", "1.2.0",
     "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]", NULL},
    {"zrangestore", cmd_zrangestore, -5, W | D, 1, 2, 1, G,
     "Stores a range of members from sorted set in a key.", "6.2.0",
     "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]", NULL},
    {"zrangebyscore", cmd_zrangebyscore, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a range of scores.", "1.0.5",
     "key min max [WITHSCORES] [LIMIT offset count]", NULL},
    {"zrevrangebyscore", cmd_zrevrangebyscore, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0",
     "key max min [WITHSCORES] [LIMIT offset count]", NULL},
    {"zrangebylex", cmd_zrangebylex, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a lexicographical range.", "2.8.9",
     "key min max [LIMIT offset count]", NULL},
    {"zrevrangebylex", cmd_zrevrangebylex, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a lexicographical range in reverse order.",
     "2.8.9", "key max min [LIMIT offset count]", NULL},
    {"zrevrange", cmd_zrevrange, -4, R, 1, 1, 1, G,
     "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0",
     "key start stop [WITHSCORES]", NULL},
    {"zremrangebyrank", cmd_zremrangebyrank, 4, W, 1, 1, 1, G,
     "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all "
     "members were removed.",
     "2.0.0", "key start stop", NULL},
    {"zremrangebyscore", cmd_zremrangebyscore, 4, W, 1, 1, 1, G,
     "Removes members in a sorted set within a range of scores. Deletes the sorted set if all "
     "members were removed.",
     "1.2.0", "key min max", NULL},
    {"zremrangebylex", cmd_zremrangebylex, 4, W, 1, 1, 1, G,
     "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if "
     "all members were removed.",
     "2.8.9", "key min max", NULL},
    {"zpopmin", cmd_zpopmin, -2, W | F, 1, 1, 1, G,
     "Returns the lowest-scoring members from a sorted set after removing them. Deletes the "
     "sorted set if the last member was popped.",
     "5.0.0", "key [count]", NULL},
    {"zpopmax", cmd_zpopmax, -2, W | F, 1, 1, 1, G,
     "Returns the highest-scoring members from a sorted set after removing them. Deletes the "
     "sorted set if the last member was popped.",
     "5.0.0", "key [count]", NULL},
    {"zmpop", cmd_zmpop, -4, W | CMD_KEYNUM, 1, 1, 1, G,
     "Returns the highest- or lowest-scoring members from one or more sorted sets after "
     "removing them. Deletes the sorted set if the last member was popped.",
     "7.0.0", "numkeys key [key ...] MIN|MAX [COUNT count]", NULL},
    {"zrandmember", cmd_zrandmember, -2, R, 1, 1, 1, G,
     "Returns one or more random members from a sorted set.", "6.2.0",
     "key [count [WITHSCORES]]", NULL},
    {"zunion", cmd_zunion, -3, R | CMD_KEYNUM, 1, 1, 1, G, "Returns the union of multiple sorted sets.",
     "6.2.0", "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] "
              "[WITHSCORES]",
     NULL},
    {"zinter", cmd_zinter, -3, R | CMD_KEYNUM, 1, 1, 1, G,
     "Returns the intersect of multiple sorted sets.", "6.2.0",
     "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
     NULL},
    {"zdiff", cmd_zdiff, -3, R | CMD_KEYNUM, 1, 1, 1, G,
     "Returns the difference between multiple sorted sets.", "6.2.0",
     "numkeys key [key ...] [WITHSCORES]", NULL},
    {"zunionstore", cmd_zunionstore, -4, W | D, 1, 1, 1, G,
     "Stores the union of multiple sorted sets in a key.", "2.0.0",
     "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
     NULL},
    {"zinterstore", cmd_zinterstore, -4, W | D, 1, 1, 1, G,
     "Stores the intersect of multiple sorted sets in a key.", "2.0.0",
     "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]",
     NULL},
    {"zdiffstore", cmd_zdiffstore, -4, W | D, 1, 1, 1, G,
     "Stores the difference of multiple sorted sets in a key.", "6.2.0",
     "destination numkeys key [key ...]", NULL},
    {"zintercard", cmd_zintercard, -3, R | CMD_KEYNUM, 1, 1, 1, G,
     "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0",
     "numkeys key [key ...] [LIMIT limit]", NULL},
    {"zscan", cmd_zscan, -3, R, 1, 1, 1, G,
     "Iterates over members and scores of a sorted set.", "2.8.0",
     "key cursor [MATCH pattern] [COUNT count]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

/* ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE: a destination, then numkeys and the keys (command.h); the
 * commands whose numkeys comes first carry CMD_KEYNUM in the table above. */
const struct command_keynum zset_keynum_commands[] = {
    {"zunionstore", 1, 2},
    {"zinterstore", 1, 2},
    {"zdiffstore", 1, 2},
    {NULL, 0, 0},
};
