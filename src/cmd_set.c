/* cmd_set.c - set commands (Redis 7.0 semantics, arity, flags, error strings, RESP2/RESP3 reply
 * types) over types/set.h, and the HSCAN/SSCAN walk shared with cmd_hash.c (cmd_coll.h).
 * Every write command validates its arguments first, then writes inside one engine write group
 * (keyspace_begin .. keyspace_commit) and replies after the commit (replies streamed before it
 * are taken back if the commit fails); reads stream members from engine iterators. */
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "config.h"
#include "keyspace.h"
#include "notify.h"
#include "server.h"
#include "types/set.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- shared with cmd_hash.c (cmd_coll.h) ---------------------------------------------------- */

int cmd_coll_parse_cursor(const cmdarg *a, unsigned long long *out) {
    if (a->len && (a->ptr[0] == ' ' || (a->ptr[0] >= '\t' && a->ptr[0] <= '\r'))) return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(a->ptr, &end, 10);
    if (errno == ERANGE || end != a->ptr + a->len) return 0;
    *out = v;
    return 1;
}

int cmd_coll_range_long(client *c, const cmdarg *a, long long min, long long max,
                        const char *msg, long long *out) {
    if (!string2ll(a->ptr, a->len, out)) {
        reply_error(c, msg ? msg : ERR_NOT_INT);
        return 0;
    }
    if (*out < min || *out > max) {
        if (msg) reply_error(c, msg);
        else reply_errorf(c, "ERR value is out of range, value must between %lld and %lld", min, max);
        return 0;
    }
    return 1;
}

int cmd_coll_parse_mpop(client *c, int numkeys_idx, const char *dir0, const char *dir1,
                        long long *numkeys, int *dir, long long *count) {
    if (!cmd_coll_range_long(c, &c->argv[numkeys_idx], 1, LLONG_MAX,
                             "ERR numkeys should be greater than 0", numkeys))
        return 0;
    if (*numkeys >= c->argc - numkeys_idx - 1) { /* the direction must follow the keys */
        reply_error(c, ERR_SYNTAX);
        return 0;
    }
    int dir_idx = numkeys_idx + 1 + (int)*numkeys;
    if (!strcasecmp(c->argv[dir_idx].ptr, dir0)) {
        *dir = 0;
    } else if (!strcasecmp(c->argv[dir_idx].ptr, dir1)) {
        *dir = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return 0;
    }
    *count = -1;
    for (int j = dir_idx + 1; j < c->argc; j++) {
        if (*count == -1 && !strcasecmp(c->argv[j].ptr, "count") && j + 1 < c->argc) {
            j++;
            if (!cmd_coll_range_long(c, &c->argv[j], 1, LLONG_MAX,
                                     "ERR count should be greater than 0", count))
                return 0;
        } else {
            reply_error(c, ERR_SYNTAX);
            return 0;
        }
    }
    if (*count == -1) *count = 1;
    return 1;
}

int cmd_coll_opened(client *c, int r) {
    if (r == COLL_WRONGTYPE) {
        reply_error(c, ERR_WRONGTYPE);
        return -1;
    }
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return r;
}

/* A small collection is returned whole by one HSCAN/SSCAN call, as Redis does for listpacks and
 * intsets (a huge one, only possible with raised thresholds, is walked with cursors). */
#define SCAN_SMALL_MAX 8192

static char *scan_buf;
static size_t scan_len, scan_cap;

static int scan_add(const char *p, size_t n) {
    size_t need = scan_len + sizeof(size_t) + n;
    if (need > scan_cap) {
        size_t nc = scan_cap ? scan_cap * 2 : 4096;
        while (nc < need) nc *= 2;
        char *nb = realloc(scan_buf, nc);
        if (!nb) return LSM_ENOMEM;
        scan_buf = nb;
        scan_cap = nc;
    }
    memcpy(scan_buf + scan_len, &n, sizeof(size_t));
    if (n) memcpy(scan_buf + scan_len + sizeof(size_t), p, n);
    scan_len = need;
    return 0;
}

void cmd_coll_scan_command(client *c, uint8_t type, int pairs) {
    unsigned long long cursor;
    if (!cmd_coll_parse_cursor(&c->argv[2], &cursor)) {
        reply_error(c, "ERR invalid cursor");
        return;
    }
    coll co;
    int r = coll_open(&co, c->db, c->argv[1].ptr, c->argv[1].len, type, KS_LOOKUP_READ);
    if (r == COLL_WRONGTYPE) {
        reply_error(c, ERR_WRONGTYPE);
    } else if (r < 0) {
        keyspace_reply_engine_error(c, r);
    } else if (r == 0) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
    } else {
        cmd_coll_scan(c, &co, cursor, pairs);
    }
    coll_close(&co);
}

void cmd_coll_scan(client *c, coll *co, unsigned long long cursor, int pairs) {
    long long count = 10;
    const cmdarg *pat = NULL;
    for (int j = 3; j < c->argc; j++) {
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
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    int use_pat = pat && !(pat->len == 1 && pat->ptr[0] == '*');
    int whole = co->enc == COLL_ENC_SMALL && co->count <= SCAN_SMALL_MAX;
    const char *from = NULL;
    size_t flen = 0;
    if (!whole && cursor != 0) coll_cursor_load(COLL_SUB_MEMBER, cursor, &from, &flen);
    coll_iter it;
    scan_len = 0;
    long n = 0;
    long long examined = 0;
    unsigned long long next = 0;
    int r = coll_iter_seek(&it, co, COLL_SUB_MEMBER, from, flen);
    for (; r == 0 && coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t ml, vl = 0;
        const char *m = coll_iter_member(&it, &ml);
        if (!whole && examined >= count) {
            next = coll_cursor_save(COLL_SUB_MEMBER, m, ml);
            if (!next) r = LSM_ENOMEM;
            break;
        }
        examined++;
        if (use_pat && !glob_match(pat->ptr, pat->len, m, ml, 0)) continue;
        if ((r = scan_add(m, ml))) break;
        n++;
        if (pairs) {
            const char *v = coll_iter_value(&it, &vl);
            if ((r = coll_hash_value(co, &v, &vl))) break; /* a hash's value, without ordinal */
            if ((r = scan_add(v, vl))) break;
            n++;
        }
    }
    if (r == 0) r = coll_iter_status(&it);
    coll_iter_close(&it);
    if (r) {
        keyspace_reply_engine_error(c, r);
    } else {
        char cb[32];
        int cl = snprintf(cb, sizeof(cb), "%llu", next);
        reply_array(c, 2);
        reply_bulk(c, cb, (size_t)cl);
        reply_array(c, n);
        size_t off = 0;
        for (long i = 0; i < n; i++) {
            size_t l;
            memcpy(&l, scan_buf + off, sizeof(size_t));
            reply_bulk(c, scan_buf + off + sizeof(size_t), l);
            off += sizeof(size_t) + l;
        }
    }
    if (scan_cap > (1u << 20)) {
        free(scan_buf);
        scan_buf = NULL;
        scan_cap = 0;
    }
    scan_len = 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

/* Opens argv key as a set: 1 exists, 0 absent, -1 replied (wrong type or engine error). The coll
 * must be closed by the caller whatever the result. */
static int sopen(client *c, coll *s, const cmdarg *k, int flags) {
    return cmd_coll_opened(c, set_open(s, c->db, k->ptr, k->len, flags));
}

static void sfail(client *c, int r) {
    keyspace_abort();
    keyspace_reply_engine_error(c, r);
}

static int scommit(client *c) {
    int r = keyspace_commit();
    if (r) {
        keyspace_reply_engine_error(c, r);
        return -1;
    }
    return 0;
}

static int same_arg(const cmdarg *a, const cmdarg *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static int reply_over_limit(client *c) {
    return config.obuf_hard > 0 && client_reply_pending(c) > (size_t)config.obuf_hard;
}

static lsm_buf popbuf; /* SPOP's member, copied out of the iterator before the writes */

/* A keyspace event (notify.h) for key k of the client's db. */
static void event(client *c, int type, const char *name, const cmdarg *k) {
    notify_keyspace_event(type, name, c->db, k->ptr, k->len);
}

/* ---- SADD / SREM / SMOVE -------------------------------------------------------------------- */

static void cmd_sadd(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r < 0) goto out;
    keyspace_begin();
    if ((r = set_create(&s, c->argv[2].ptr, c->argv[2].len))) {
        sfail(c, r);
        goto out;
    }
    long long added = 0;
    for (int i = 2; i < c->argc; i++) {
        r = set_add(&s, c->argv[i].ptr, c->argv[i].len);
        if (r < 0) {
            sfail(c, r);
            goto out;
        }
        added += r;
    }
    if (added) {
        if ((r = set_save(&s))) {
            sfail(c, r);
            goto out;
        }
        if (scommit(c)) goto out;
        event(c, NOTIFY_SET, "sadd", &c->argv[1]);
    }
    reply_int(c, added);
out:
    coll_close(&s);
}

static void cmd_srem(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0) reply_int(c, 0);
    if (r <= 0) goto out;
    keyspace_begin();
    long long removed = 0;
    for (int i = 2; i < c->argc && s.count > 0; i++) {
        r = set_rem(&s, c->argv[i].ptr, c->argv[i].len);
        if (r < 0) {
            sfail(c, r);
            goto out;
        }
        removed += r;
    }
    if (removed) {
        if ((r = set_save(&s))) {
            sfail(c, r);
            goto out;
        }
        if (scommit(c)) goto out;
        event(c, NOTIFY_SET, "srem", &c->argv[1]);
        if (!s.exists) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    }
    reply_int(c, removed);
out:
    coll_close(&s);
}

static void cmd_smove(client *c) {
    coll src, dst;
    const cmdarg *ele = &c->argv[3];
    int rs = set_open(&src, c->db, c->argv[1].ptr, c->argv[1].len, 0);
    int rd = set_open(&dst, c->db, c->argv[2].ptr, c->argv[2].len, 0);
    int r;
    if ((rs < 0 && rs != COLL_WRONGTYPE) || (rd < 0 && rd != COLL_WRONGTYPE)) {
        keyspace_reply_engine_error(c, rs < 0 && rs != COLL_WRONGTYPE ? rs : rd);
        goto out;
    }
    if (rs == 0) {
        reply_int(c, 0);
        goto out;
    }
    if (rs == COLL_WRONGTYPE || rd == COLL_WRONGTYPE) {
        reply_error(c, ERR_WRONGTYPE);
        goto out;
    }
    r = set_ismember(&src, ele->ptr, ele->len);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        goto out;
    }
    if (same_arg(&c->argv[1], &c->argv[2]) || r == 0) {
        reply_int(c, r); /* same set: a no-op answering membership */
        goto out;
    }
    keyspace_begin();
    keyspace_new_events(0); /* Redis creates the destination after the source's events */
    int added = 0;
    if ((r = set_rem_known(&src, ele->ptr, ele->len)) || (r = set_save(&src)) ||
        (r = set_create(&dst, ele->ptr, ele->len)) ||
        (r = added = set_add(&dst, ele->ptr, ele->len)) < 0 || (r = set_save(&dst))) {
        keyspace_new_events(1);
        sfail(c, r);
        goto out;
    }
    keyspace_new_events(1);
    if (scommit(c)) goto out;
    event(c, NOTIFY_SET, "srem", &c->argv[1]);
    if (!src.exists) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    if (rd == 0) event(c, NOTIFY_NEW, "new", &c->argv[2]);
    if (added) event(c, NOTIFY_SET, "sadd", &c->argv[2]);
    reply_int(c, 1);
out:
    coll_close(&src);
    coll_close(&dst);
}

/* ---- membership and size -------------------------------------------------------------------- */

static void cmd_sismember(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_int(c, 0);
    if (r == 1) {
        r = set_ismember(&s, c->argv[2].ptr, c->argv[2].len);
        if (r < 0) keyspace_reply_engine_error(c, r);
        else reply_int(c, r);
    }
    coll_close(&s);
}

static void cmd_smismember(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r < 0) goto out;
    reply_mark mk;
    client_reply_mark(c, &mk);
    reply_array(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        r = set_ismember(&s, c->argv[i].ptr, c->argv[i].len);
        if (r < 0) {
            client_reply_truncate(c, &mk);
            keyspace_reply_engine_error(c, r);
            break;
        }
        reply_int(c, r);
    }
out:
    coll_close(&s);
}

static void cmd_scard(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r >= 0) reply_int(c, r ? s.count : 0);
    coll_close(&s);
}

static void cmd_smembers(client *c) {
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_set(c, 0);
    if (r <= 0) goto out;
    reply_mark mk;
    client_reply_mark(c, &mk);
    long n = (long)s.count, got = 0;
    reply_set(c, n);
    coll_iter it;
    r = coll_iter_seek(&it, &s, COLL_SUB_MEMBER, NULL, 0);
    for (; r == 0 && coll_iter_valid(&it); coll_iter_next(&it)) {
        if (++got > n) break;
        size_t l;
        const char *m = coll_iter_member(&it, &l);
        reply_bulk(c, m, l);
    }
    if (r == 0) r = coll_iter_status(&it);
    if (r == 0 && got != n) r = LSM_ECORRUPT;
    coll_iter_close(&it);
    if (r) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
out:
    coll_close(&s);
}

/* ---- random members: SPOP, SRANDMEMBER ------------------------------------------------------ */

/* Replies count distinct random members of s (0 < count < s->count), uniformly chosen, and
 * when pop removes them. Sets with a random-pick index: SPOP pops one uniform ordinal at a time
 * (each pop O(1)); SRANDMEMBER draws distinct ordinals unless count is a large share of the set.
 * Otherwise (small sets, large shares): a uniform selection in one ordered walk. */
static int random_distinct(client *c, coll *s, unsigned long long count, int pop) {
    unsigned long long size = (unsigned long long)s->count;
    int r = 0;
    if (coll_rand_indexed(s) && (pop || count * 3 <= size)) {
        coll_u64set seen;
        memset(&seen, 0, sizeof(seen));
        for (unsigned long long added = 0; r == 0 && added < count;) {
            uint64_t ord = coll_random_below((uint64_t)s->count);
            if (!pop) {
                r = coll_u64set_add(&seen, ord);
                if (r <= 0) continue; /* drawn already (or an error) */
                r = 0;
            }
            r = coll_rand_member_at(s, ord, &popbuf);
            if (r == 0) r = LSM_ECORRUPT;
            if (r < 0) break;
            r = 0;
            reply_bulk(c, popbuf.data, popbuf.len);
            if (pop) r = set_rem_at(s, popbuf.data, popbuf.len, ord);
            added++;
        }
        coll_u64set_free(&seen);
        if (popbuf.cap > (64u << 10)) lsm_buf_free(&popbuf);
        return r;
    }
    coll_iter it;
    unsigned long long need = count, left = size;
    r = coll_iter_seek(&it, s, COLL_SUB_MEMBER, NULL, 0);
    for (; r == 0 && need && left && coll_iter_valid(&it); coll_iter_next(&it), left--) {
        if (need < left && coll_random_below(left) >= need) continue;
        size_t ml;
        const char *m = coll_iter_member(&it, &ml);
        reply_bulk(c, m, ml);
        if (pop && (r = set_rem_known(s, m, ml))) break;
        need--;
    }
    if (r == 0) r = coll_iter_status(&it);
    if (r == 0 && need) r = LSM_ECORRUPT;
    coll_iter_close(&it);
    return r;
}

static void spop_count(client *c) {
    long long l;
    if (!cmd_coll_range_long(c, &c->argv[2], 0, LLONG_MAX,
                             "ERR value is out of range, must be positive", &l))
        return;
    coll s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0 || (r == 1 && l == 0)) reply_set(c, 0);
    if (r <= 0 || l == 0) goto out;
    unsigned long long count = (unsigned long long)l, size = (unsigned long long)s.count;
    reply_mark mk;
    client_reply_mark(c, &mk);
    keyspace_begin();
    event(c, NOTIFY_SET, "spop", &c->argv[1]); /* Redis: before the reply */
    if (count >= size) {
        /* the whole set: reply it and remove the key (its members go with the version) */
        reply_set(c, (long)size);
        coll_iter it;
        unsigned long long got = 0;
        r = coll_iter_seek(&it, &s, COLL_SUB_MEMBER, NULL, 0);
        for (; r == 0 && coll_iter_valid(&it) && got < size; coll_iter_next(&it), got++) {
            size_t ml;
            const char *m = coll_iter_member(&it, &ml);
            reply_bulk(c, m, ml);
        }
        if (r == 0) r = coll_iter_status(&it);
        if (r == 0 && got != size) r = LSM_ECORRUPT;
        coll_iter_close(&it);
        if (r == 0) {
            coll_count_add(&s, -s.count);
            r = set_save(&s);
        }
    } else {
        reply_set(c, (long)count);
        r = random_distinct(c, &s, count, 1);
        unsigned long long remaining = size - count;
        if (r == 0 && remaining * 5 <= count) {
            /* Redis rebuilds the set from the remaining members here: its encoding follows them */
            uint8_t enc = (long long)remaining <= (config.set_max_intset_entries >= (1ll << 30)
                                                       ? (1ll << 30)
                                                       : config.set_max_intset_entries)
                              ? COLL_ENC_SMALL
                              : COLL_ENC_BIG;
            coll_iter it;
            r = coll_iter_seek(&it, &s, COLL_SUB_MEMBER, NULL, 0);
            for (; r == 0 && enc == COLL_ENC_SMALL && coll_iter_valid(&it); coll_iter_next(&it)) {
                size_t ml;
                const char *m = coll_iter_member(&it, &ml);
                if (!set_member_is_int(m, ml)) enc = COLL_ENC_BIG;
            }
            if (r == 0) r = coll_iter_status(&it);
            coll_iter_close(&it);
            coll_set_enc(&s, enc);
        }
        if (r == 0) r = set_save(&s);
    }
    if (r == 0) r = keyspace_commit();
    else keyspace_abort();
    if (r) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    } else if (!s.exists) {
        event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    }
out:
    coll_close(&s);
}

static void cmd_spop(client *c) {
    if (c->argc == 3) {
        spop_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    coll s;
    int r = sopen(c, &s, &c->argv[1], 0);
    if (r == 0) reply_null(c);
    if (r <= 0) goto out;
    coll_rand rnd;
    const char *m;
    size_t ml;
    uint64_t ord = 0;
    r = coll_rand_open(&rnd, &s, 1, 0);
    if (r == 0) r = coll_rand_pick(&rnd, &m, &ml, NULL, NULL);
    if (r == 0) r = LSM_ECORRUPT;
    if (r > 0) {
        ord = rnd.ord;
        if (popbuf.cap < ml + 1) {
            char *p = realloc(popbuf.data, ml + 1);
            if (!p) r = LSM_ENOMEM;
            else {
                popbuf.data = p;
                popbuf.cap = ml + 1;
            }
        }
        if (r > 0) {
            if (ml) memcpy(popbuf.data, m, ml);
            popbuf.len = ml;
        }
    }
    coll_rand_close(&rnd);
    if (r < 0) {
        keyspace_reply_engine_error(c, r);
        goto out;
    }
    keyspace_begin();
    r = coll_rand_indexed(&s) ? set_rem_at(&s, popbuf.data, popbuf.len, ord)
                              : set_rem_known(&s, popbuf.data, popbuf.len);
    if (r || (r = set_save(&s))) {
        sfail(c, r);
        goto out;
    }
    if (scommit(c)) goto out;
    event(c, NOTIFY_SET, "spop", &c->argv[1]);
    reply_bulk(c, popbuf.data, popbuf.len);
    if (!s.exists) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
out:
    if (popbuf.cap > (64u << 10)) lsm_buf_free(&popbuf);
    coll_close(&s);
}

static void srandmember_count(client *c) {
    long long l;
    if (!cmd_coll_range_long(c, &c->argv[2], -LLONG_MAX, LLONG_MAX, NULL, &l)) return;
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0 || (r == 1 && l == 0)) reply_array(c, 0);
    if (r <= 0 || l == 0) {
        coll_close(&s);
        return;
    }
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)-l;
    unsigned long long size = (unsigned long long)s.count;
    reply_mark mk;
    client_reply_mark(c, &mk);
    if (l < 0 || count == 1) {
        reply_array(c, (long)count);
        coll_rand rnd;
        r = coll_rand_open(&rnd, &s, (long)(count > LONG_MAX ? LONG_MAX : count), 0);
        for (unsigned long long i = 0; r == 0 && i < count; i++) {
            const char *m;
            size_t ml;
            r = coll_rand_pick(&rnd, &m, &ml, NULL, NULL);
            if (r == 0) r = LSM_ECORRUPT;
            if (r < 0) break;
            r = 0;
            reply_bulk(c, m, ml);
            if (reply_over_limit(c)) break;
        }
        coll_rand_close(&rnd);
    } else if (count >= size) {
        reply_array(c, (long)size);
        coll_iter it;
        unsigned long long got = 0;
        r = coll_iter_seek(&it, &s, COLL_SUB_MEMBER, NULL, 0);
        for (; r == 0 && coll_iter_valid(&it) && got < size; coll_iter_next(&it), got++) {
            size_t ml;
            const char *m = coll_iter_member(&it, &ml);
            reply_bulk(c, m, ml);
        }
        if (r == 0) r = coll_iter_status(&it);
        if (r == 0 && got != size) r = LSM_ECORRUPT;
        coll_iter_close(&it);
    } else {
        reply_array(c, (long)count);
        r = random_distinct(c, &s, count, 0);
    }
    if (r) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    }
    coll_close(&s);
}

static void cmd_srandmember(client *c) {
    if (c->argc == 3) {
        srandmember_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    coll s;
    int r = sopen(c, &s, &c->argv[1], KS_LOOKUP_READ);
    if (r == 0) reply_null(c);
    if (r == 1) {
        coll_rand rnd;
        const char *m;
        size_t ml;
        r = coll_rand_open(&rnd, &s, 1, 0);
        if (r == 0) r = coll_rand_pick(&rnd, &m, &ml, NULL, NULL);
        if (r == 0) r = LSM_ECORRUPT;
        if (r < 0) keyspace_reply_engine_error(c, r);
        else reply_bulk(c, m, ml);
        coll_rand_close(&rnd);
    }
    coll_close(&s);
}

/* ---- SINTER / SUNION / SDIFF and their STORE and CARD forms --------------------------------- */

typedef struct setargs {
    coll *sets;
    coll **ptrs;
    int n;
} setargs;

static void setargs_free(setargs *a) {
    for (int i = 0; i < a->n; i++) coll_close(&a->sets[i]);
    free(a->sets);
    free(a->ptrs);
    memset(a, 0, sizeof(*a));
}

/* Opens n keys from argv[first] as sets, in order, as Redis looks them up: 0, or -1 replied (the
 * first key of another type answers WRONGTYPE). */
static int setargs_open(client *c, setargs *a, int first, int n, int flags) {
    memset(a, 0, sizeof(*a));
    a->sets = calloc((size_t)n, sizeof(coll));
    a->ptrs = calloc((size_t)n, sizeof(coll *));
    if (!a->sets || !a->ptrs) {
        free(a->sets);
        free(a->ptrs);
        keyspace_reply_engine_error(c, LSM_ENOMEM);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        a->n = i + 1;
        a->ptrs[i] = &a->sets[i];
        if (sopen(c, &a->sets[i], &c->argv[first + i], flags) < 0) {
            setargs_free(a);
            return -1;
        }
    }
    return 0;
}

static void setop_reply(client *c, int op, int first) {
    setargs a;
    if (setargs_open(c, &a, first, c->argc - first, KS_LOOKUP_READ)) return;
    set_op_iter o;
    int r = set_op_open(&o, op, a.ptrs, a.n);
    reply_mark mk;
    client_reply_mark(c, &mk);
    void *h = reply_defer_len(c);
    long n = 0;
    const char *m;
    size_t ml;
    while (r == 0 && (r = set_op_next(&o, &m, &ml)) == 1) {
        reply_bulk(c, m, ml);
        n++;
        r = 0;
    }
    set_op_close(&o);
    if (r < 0) {
        client_reply_truncate(c, &mk);
        keyspace_reply_engine_error(c, r);
    } else {
        reply_set_deferred_set(c, h, n);
    }
    setargs_free(&a);
}

static void cmd_sinter(client *c) { setop_reply(c, SET_OP_INTER, 1); }
static void cmd_sunion(client *c) { setop_reply(c, SET_OP_UNION, 1); }
static void cmd_sdiff(client *c) { setop_reply(c, SET_OP_DIFF, 1); }

static void cmd_sintercard(client *c) {
    long long numkeys, limit = 0;
    if (!cmd_coll_range_long(c, &c->argv[1], 1, LLONG_MAX, "ERR numkeys should be greater than 0",
                             &numkeys))
        return;
    if (numkeys > c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < c->argc; j++) {
        int more = j + 1 < c->argc;
        if (!strcasecmp(c->argv[j].ptr, "limit") && more) {
            j++;
            if (!cmd_coll_range_long(c, &c->argv[j], 0, LLONG_MAX, "ERR LIMIT can't be negative",
                                     &limit))
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    setargs a;
    if (setargs_open(c, &a, 2, (int)numkeys, KS_LOOKUP_READ)) return;
    set_op_iter o;
    int r = set_op_open(&o, SET_OP_INTER, a.ptrs, a.n);
    long long card = 0;
    const char *m;
    size_t ml;
    while (r == 0 && (r = set_op_next(&o, &m, &ml)) == 1) {
        r = 0;
        if (++card == limit) break;
    }
    set_op_close(&o);
    if (r < 0) keyspace_reply_engine_error(c, r);
    else reply_int(c, card);
    setargs_free(&a);
}

/* SDIFFSTORE's result encoding as Redis computes it: its second algorithm (chosen when the
 * first set is large compared to the others) adds the whole first set to an intset before
 * removing, so any non-integer in it, or more members than the intset limit, makes the result
 * "hashtable" whatever survives. Returns 1 when that applies. */
static int sdiff_algo2_big(coll **sets, int n, int *err) {
    const coll *s0 = sets[0];
    *err = 0;
    if (!s0->exists) return 0;
    long long one = 0, two = 0;
    for (int j = 0; j < n; j++) {
        if (!sets[j]->exists) continue;
        if (j > 0 && sets[j]->version == s0->version) return 0; /* same set: empty result */
        one += s0->count;
        two += sets[j]->count;
    }
    one /= 2;
    if (one <= two) return 0; /* algorithm 1: the result's own members decide */
    long long max = config.set_max_intset_entries >= (1ll << 30) ? (1ll << 30)
                                                                 : config.set_max_intset_entries;
    if (s0->count > max) return 1;
    if (s0->enc == COLL_ENC_SMALL) return 0; /* every member is an integer */
    coll_iter it;
    int big = 0;
    int r = coll_iter_seek(&it, s0, COLL_SUB_MEMBER, NULL, 0);
    for (; r == 0 && !big && coll_iter_valid(&it); coll_iter_next(&it)) {
        size_t ml;
        const char *m = coll_iter_member(&it, &ml);
        if (!set_member_is_int(m, ml)) big = 1;
    }
    if (r == 0) r = coll_iter_status(&it);
    coll_iter_close(&it);
    *err = r;
    return big;
}

static void setop_store(client *c, int op) {
    setargs a;
    if (setargs_open(c, &a, 2, c->argc - 2, KS_LOOKUP_READ)) return;
    coll dst;
    int r = coll_open(&dst, c->db, c->argv[1].ptr, c->argv[1].len, KTYPE_SET, 0);
    int dst_existed = dst.exists, created = 0;
    set_op_iter o;
    memset(&o, 0, sizeof(o));
    if (r < 0 && r != COLL_WRONGTYPE) {
        keyspace_reply_engine_error(c, r);
        goto out;
    }
    keyspace_begin();
    r = set_op_open(&o, op, a.ptrs, a.n);
    const char *m;
    size_t ml;
    while (r == 0 && (r = set_op_next(&o, &m, &ml)) == 1) {
        if (!created) {
            /* the destination is replaced (any type) by a new set, built as Redis builds it:
             * an intset that converts when a member needs it */
            if ((r = coll_recreate(&dst, COLL_ENC_SMALL))) break;
            created = 1;
        }
        r = set_add_new(&dst, m, ml);
    }
    set_op_close(&o);
    if (r == 0 && created && op == SET_OP_DIFF) {
        int err;
        if (sdiff_algo2_big(a.ptrs, a.n, &err)) coll_set_enc(&dst, COLL_ENC_BIG);
        r = err;
    }
    if (r == 0) {
        if (created) r = set_save(&dst);
        else if (dst_existed) r = keyspace_remove(c->db, c->argv[1].ptr, c->argv[1].len, &dst.cur);
    }
    if (r < 0) {
        sfail(c, r);
        goto out;
    }
    if (scommit(c)) goto out;
    if (created) {
        static const char *const names[] = {[SET_OP_INTER] = "sinterstore", [SET_OP_UNION] = "sunionstore",
                                            [SET_OP_DIFF] = "sdiffstore"};
        reply_int(c, dst.count);
        event(c, NOTIFY_SET, names[op], &c->argv[1]);
    } else {
        /* SINTERSTORE with a missing source deletes before replying; otherwise after */
        int early = 0;
        for (int i = 0; op == SET_OP_INTER && i < a.n; i++)
            if (!a.sets[i].exists) early = 1;
        if (dst_existed && early) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
        reply_int(c, 0);
        if (dst_existed && !early) event(c, NOTIFY_GENERIC, "del", &c->argv[1]);
    }
out:
    coll_close(&dst);
    setargs_free(&a);
}

static void cmd_sinterstore(client *c) { setop_store(c, SET_OP_INTER); }
static void cmd_sunionstore(client *c) { setop_store(c, SET_OP_UNION); }
static void cmd_sdiffstore(client *c) { setop_store(c, SET_OP_DIFF); }

/* ---- SSCAN ---------------------------------------------------------------------------------- */

static void cmd_sscan(client *c) { cmd_coll_scan_command(c, KTYPE_SET, 0); }

/* ---- table ---------------------------------------------------------------------------------- */

#define W CMD_WRITE
#define R CMD_READONLY
#define F CMD_FAST
#define D CMD_DENYOOM

const struct command set_commands[] = {
    {"sadd", cmd_sadd, -3, W | D | F, 1, 1, 1, "set",
     "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0",
     "key member [member ...]", NULL},
    {"srem", cmd_srem, -3, W | F, 1, 1, 1, "set",
     "Removes one or more members from a set. Deletes the set if the last member was removed.",
     "1.0.0", "key member [member ...]", NULL},
    {"smembers", cmd_smembers, 2, R, 1, 1, 1, "set", "Returns all members of a set.", "1.0.0",
     "key", NULL},
    {"sismember", cmd_sismember, 3, R | F, 1, 1, 1, "set",
     "Determines whether a member belongs to a set.", "1.0.0", "key member", NULL},
    {"smismember", cmd_smismember, -3, R | F, 1, 1, 1, "set",
     "Determines whether multiple members belong to a set.", "6.2.0", "key member [member ...]",
     NULL},
    {"scard", cmd_scard, 2, R | F, 1, 1, 1, "set", "Returns the number of members in a set.",
     "1.0.0", "key", NULL},
    {"spop", cmd_spop, -2, W | F, 1, 1, 1, "set",
     "Returns one or more random members from a set after removing them. Deletes the set if the "
     "last member was popped.",
     "1.0.0", "key [count]", NULL},
    {"srandmember", cmd_srandmember, -2, R, 1, 1, 1, "set",
     "Get one or multiple random members from a set", "1.0.0", "key [count]", NULL},
    {"smove", cmd_smove, 4, W | F, 1, 2, 1, "set", "Moves a member from one set to another.",
     "1.0.0", "source destination member", NULL},
    {"sinter", cmd_sinter, -2, R, 1, -1, 1, "set", "Returns the intersect of multiple sets.",
     "1.0.0", "key [key ...]", NULL},
    {"sintercard", cmd_sintercard, -3, R | CMD_KEYNUM, 1, 1, 1, "set",
     "Returns the number of members of the intersect of multiple sets.", "7.0.0",
     "numkeys key [key ...] [LIMIT limit]", NULL},
    {"sinterstore", cmd_sinterstore, -3, W | D, 1, -1, 1, "set",
     "Stores the intersect of multiple sets in a key.", "1.0.0",
     "destination key [key ...]", NULL},
    {"sunion", cmd_sunion, -2, R, 1, -1, 1, "set", "Returns the union of multiple sets.", "1.0.0",
     "key [key ...]", NULL},
    {"sunionstore", cmd_sunionstore, -3, W | D, 1, -1, 1, "set",
     "Stores the union of multiple sets in a key.", "1.0.0", "destination key [key ...]", NULL},
    {"sdiff", cmd_sdiff, -2, R, 1, -1, 1, "set", "Returns the difference of multiple sets.",
     "1.0.0", "key [key ...]", NULL},
    {"sdiffstore", cmd_sdiffstore, -3, W | D, 1, -1, 1, "set",
     "Stores the difference of multiple sets in a key.", "1.0.0", "destination key [key ...]",
     NULL},
    {"sscan", cmd_sscan, -3, R, 1, 1, 1, "set", "Iterates over members of a set.", "2.8.0",
     "key cursor [MATCH pattern] [COUNT count]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
