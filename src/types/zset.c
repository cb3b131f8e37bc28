/* zset.c - sorted-set storage (zset.h): member records, the score index, walks, hints, and the
 * in-memory result vectors of the set operations. */
#include "zset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "server.h"

#define HINT_MAX 31 /* bytes of a head/tail hint: enc(score) || member prefix */

static uint64_t index_steps;
static lsm_buf score_buf; /* scratch for member-record reads (main thread) */

uint64_t zset_stat_index_steps(void) { return index_steps; }
static uint64_t readahead_refills;
uint64_t zset_stat_readahead_refills(void) { return readahead_refills; }

/* ---- member record value: the score's IEEE-754 bytes, little-endian ---- */

static void score_put(char dst[8], double s) {
    uint64_t u;
    memcpy(&u, &s, 8);
    for (int i = 0; i < 8; i++) dst[i] = (char)(u >> (8 * i));
}

static double score_get(const char *p) {
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = (u << 8) | (unsigned char)p[i];
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static int is_neg_zero(double s) { return s == 0 && signbit(s); }

/* Bytewise order of two byte strings (memcmp, then the shorter first): Redis's sdscmp. */
static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Index key tail (after the coll prefix): enc(score) || member, in a stack buffer when short. */
typedef struct ikey {
    char *p;
    size_t len;
    char stack[128];
} ikey;
static int ikey_make(ikey *k, double score, const void *m, size_t mlen) {
    k->len = mlen + 8;
    k->p = k->len <= sizeof(k->stack) ? k->stack : malloc(k->len);
    if (!k->p) return LSM_ENOMEM;
    coll_score_encode(k->p, score);
    if (mlen) memcpy(k->p + 8, m, mlen);
    return 0;
}
static void ikey_free(ikey *k) {
    if (k->p && k->p != k->stack) free(k->p);
    k->p = NULL;
}

/* ---- hints (coll.extra: headlen || head || taillen || tail) ---- */

static void hint_get(const coll *c, int tail, const char **p, size_t *len) {
    *p = NULL;
    *len = 0;
    if (c->extra_len < 1) return;
    size_t hl = (unsigned char)c->extra[0];
    if (hl > HINT_MAX || 1 + hl > c->extra_len) return;
    if (!tail) {
        *p = c->extra + 1;
        *len = hl;
        return;
    }
    if (c->extra_len < 2 + hl) return;
    size_t tl = (unsigned char)c->extra[1 + hl];
    if (tl > HINT_MAX || 2 + hl + tl > c->extra_len) return;
    *p = c->extra + 2 + hl;
    *len = tl;
}

static void hint_set(coll *c, int tail, const char *p, size_t len) {
    const char *hp, *tp;
    size_t hl, tl;
    hint_get(c, 0, &hp, &hl);
    hint_get(c, 1, &tp, &tl);
    char h[HINT_MAX], t[HINT_MAX];
    if (hl) memcpy(h, hp, hl);
    if (tl) memcpy(t, tp, tl);
    if (len > HINT_MAX) len = HINT_MAX; /* callers pass bounds already cut to size */
    if (tail) {
        if (len) memcpy(t, p, len);
        tl = len;
    } else {
        if (len) memcpy(h, p, len);
        hl = len;
    }
    size_t n = 0;
    if (hl || tl) {
        c->extra[n++] = (char)hl;
        if (hl) memcpy(c->extra + n, h, hl);
        n += hl;
        if (tl) {
            c->extra[n++] = (char)tl;
            memcpy(c->extra + n, t, tl);
            n += tl;
        }
    }
    c->extra_len = n;
    c->meta_dirty = 1;
}

/* Upper bound of every key starting with k's first HINT_MAX bytes, or of k itself when it fits:
 * k, or its cut prefix with the last byte incremented. 0 when there is none (all 0xff). */
static size_t upper_bound(const char *k, size_t len, char out[HINT_MAX]) {
    if (len <= HINT_MAX) {
        memcpy(out, k, len);
        return len;
    }
    size_t n = HINT_MAX;
    memcpy(out, k, n);
    while (n && (unsigned char)out[n - 1] == 0xff) n--;
    if (!n) return 0;
    out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
    return n;
}

/* An index key k is being inserted: keep head <= k <= tail. */
static void hints_on_insert(coll *c, const char *k, size_t len) {
    if (c->extra_len == 0) return;
    const char *p;
    size_t l;
    hint_get(c, 0, &p, &l);
    if (l && bytes_cmp(k, len, p, l) < 0) hint_set(c, 0, k, len < HINT_MAX ? len : HINT_MAX);
    hint_get(c, 1, &p, &l);
    if (l && bytes_cmp(k, len, p, l) > 0) {
        char ub[HINT_MAX];
        size_t ul = upper_bound(k, len, ub);
        hint_set(c, 1, ub, ul);
    }
}

/* ---- encodings ---- */

uint8_t zset_create_encoding(size_t first_mlen) {
    if (config.zset_max_listpack_entries == 0 ||
        (long long)first_mlen > config.zset_max_listpack_value)
        return COLL_ENC_BIG;
    return COLL_ENC_SMALL;
}

uint8_t zset_result_encoding(size_t count, size_t maxlen) {
    if ((long long)count <= config.zset_max_listpack_entries &&
        (long long)maxlen <= config.zset_max_listpack_value)
        return COLL_ENC_SMALL;
    return COLL_ENC_BIG;
}

/* ---- one member ---- */

int zset_score(const coll *c, const void *m, size_t mlen, double *score) {
    if (!c->exists) return 0;
    int r = coll_get(c, COLL_SUB_MEMBER, m, mlen, &score_buf);
    if (r <= 0) return r;
    if (score_buf.len != 8) return LSM_ECORRUPT;
    *score = score_get(score_buf.data);
    return 1;
}

static void hc_forget(uint64_t version);

/* Writes both records of m with score (no count change). */
static int write_member(coll *c, const void *m, size_t mlen, double score) {
    hc_forget(c->version);
    char v[8];
    score_put(v, score);
    int r = coll_put(c, COLL_SUB_MEMBER, m, mlen, v, 8);
    if (r) return r;
    ikey k;
    if ((r = ikey_make(&k, score, m, mlen))) return r;
    r = coll_put(c, COLL_SUB_SCORE, k.p, k.len, is_neg_zero(score) ? "\x01" : "",
                 is_neg_zero(score) ? 1 : 0);
    if (!r) hints_on_insert(c, k.p, k.len);
    ikey_free(&k);
    return r;
}

static int delete_index(coll *c, const void *m, size_t mlen, double score) {
    hc_forget(c->version);
    ikey k;
    int r = ikey_make(&k, score, m, mlen);
    if (r) return r;
    r = coll_del(c, COLL_SUB_SCORE, k.p, k.len);
    ikey_free(&k);
    return r;
}

/* Removes both records of a member whose score is known; count - 1. Leaves the read-ahead
 * alone (the pops that consume it call this); everything else goes through delete_member. */
static int delete_member_raw(coll *c, const void *m, size_t mlen, double score) {
    int r = coll_del(c, COLL_SUB_MEMBER, m, mlen);
    if (r) return r;
    ikey k;
    if ((r = ikey_make(&k, score, m, mlen))) return r;
    r = coll_del(c, COLL_SUB_SCORE, k.p, k.len);
    ikey_free(&k);
    if (!r) coll_count_add(c, -1);
    return r;
}

static int delete_member(coll *c, const void *m, size_t mlen, double score) {
    hc_forget(c->version);
    return delete_member_raw(c, m, mlen, score);
}

int zset_insert_new(coll *c, const void *m, size_t mlen, double score) {
    if (c->enc == COLL_ENC_SMALL && score == 0) score = 0; /* listpack keeps no -0 */
    int r = write_member(c, m, mlen, score);
    if (!r) coll_count_add(c, 1);
    return r;
}

int zset_add(coll *c, double score, const void *m, size_t mlen, int in_flags, int *out,
             double *newscore) {
    int incr = in_flags & ZSET_IN_INCR, nx = in_flags & ZSET_IN_NX, xx = in_flags & ZSET_IN_XX;
    int gt = in_flags & ZSET_IN_GT, lt = in_flags & ZSET_IN_LT;
    *out = 0;
    if (isnan(score)) {
        *out = ZSET_OUT_NAN;
        return 0;
    }
    double cur;
    int r = zset_score(c, m, mlen, &cur);
    if (r < 0) return r;
    if (r == 1) {
        if (nx) {
            *out |= ZSET_OUT_NOP;
            return 0;
        }
        if (incr) {
            score += cur;
            if (isnan(score)) {
                *out |= ZSET_OUT_NAN;
                return 0;
            }
        }
        if ((lt && score >= cur) || (gt && score <= cur)) {
            *out |= ZSET_OUT_NOP;
            return 0;
        }
        if (newscore) *newscore = score;
        if (score != cur) {
            double stored = score;
            if (c->enc == COLL_ENC_SMALL && stored == 0) stored = 0;
            if ((r = delete_index(c, m, mlen, cur))) return r;
            if ((r = write_member(c, m, mlen, stored))) return r;
            *out |= ZSET_OUT_UPDATED;
        }
        return 0;
    }
    if (xx) {
        *out |= ZSET_OUT_NOP;
        return 0;
    }
    if (c->enc == COLL_ENC_SMALL && (c->count + 1 > config.zset_max_listpack_entries ||
                                     (long long)mlen > config.zset_max_listpack_value))
        coll_set_enc(c, COLL_ENC_BIG);
    if ((r = zset_insert_new(c, m, mlen, score))) return r;
    if (newscore) *newscore = score;
    *out |= ZSET_OUT_ADDED;
    return 0;
}

int zset_remove(coll *c, const void *m, size_t mlen) {
    double s;
    int r = zset_score(c, m, mlen, &s);
    if (r <= 0) return r;
    r = delete_member(c, m, mlen, s);
    return r ? r : 1;
}

/* ---- walking the score index ---- */

typedef struct zit {
    coll_iter ci;
    int valid;
    int err;
    const char *raw; /* enc(score) || member */
    size_t rawlen;
    double score;
    const char *m;
    size_t mlen;
    int at_head; /* the seek started at the head of the index (no live entry before it) */
    int rev;     /* a backward walk (zit_seek_rev, zit_prev) */
} zit;

static void zit_load(zit *z) {
    z->valid = coll_iter_valid(&z->ci);
    if (!z->valid) {
        z->err = coll_iter_status(&z->ci);
        return;
    }
    index_steps++;
    z->raw = coll_iter_member(&z->ci, &z->rawlen);
    if (z->rawlen < 8) {
        z->valid = 0;
        z->err = LSM_ECORRUPT;
        return;
    }
    z->score = coll_score_decode(z->raw);
    if (z->score == 0) {
        size_t vl;
        const char *v = coll_iter_value(&z->ci, &vl);
        if (vl == 1 && v[0] == 1) z->score = -0.0;
    }
    z->m = z->raw + 8;
    z->mlen = z->rawlen - 8;
}

/* Positions at the first index entry >= from (enc(score) || member bytes; NULL = the lowest),
 * never before the head hint. */
static int zit_seek(zit *z, const coll *c, const char *from, size_t flen) {
    memset(z, 0, sizeof(*z));
    const char *h;
    size_t hl;
    hint_get(c, 0, &h, &hl);
    z->at_head = !from;
    if (hl && (!from || bytes_cmp(from, flen, h, hl) <= 0)) {
        from = h;
        flen = hl;
        z->at_head = 1;
    }
    int r = coll_iter_seek(&z->ci, c, COLL_SUB_SCORE, from, from ? flen : 0);
    if (r) {
        z->err = r;
        return r;
    }
    zit_load(z);
    return z->err;
}

static int zit_seek_score(zit *z, const coll *c, double score) {
    char k[8];
    coll_score_encode(k, score);
    return zit_seek(z, c, k, 8);
}

/* Positions at the last index entry <= to (NULL = the highest), never after the tail hint (an
 * upper bound of the live entries). */
static int zit_seek_rev(zit *z, const coll *c, const char *to, size_t tlen) {
    memset(z, 0, sizeof(*z));
    z->rev = 1;
    const char *t;
    size_t tl;
    hint_get(c, 1, &t, &tl);
    if (tl && (!to || bytes_cmp(to, tlen, t, tl) > 0)) {
        to = t;
        tlen = tl;
    }
    int r = coll_iter_seek_rev(&z->ci, c, COLL_SUB_SCORE, to, to ? tlen : 0);
    if (r) {
        z->err = r;
        return r;
    }
    zit_load(z);
    return z->err;
}

/* Positions at the last entry whose score is <= score (any member). */
static int zit_seek_rev_score(zit *z, const coll *c, double score) {
    /* every key with this score is below enc(score) + 1 (as a big-endian integer); the key
     * equal to that bound (the next score with an empty member) is stepped over */
    char k[8];
    coll_score_encode(k, score);
    int i = 7;
    while (i >= 0 && (unsigned char)k[i] == 0xff) k[i--] = 0;
    if (i < 0) return zit_seek_rev(z, c, NULL, 0);
    k[i] = (char)((unsigned char)k[i] + 1);
    int r = zit_seek_rev(z, c, k, 8);
    if (!r && z->valid && z->rawlen == 8 && memcmp(z->raw, k, 8) == 0) {
        coll_iter_prev(&z->ci);
        zit_load(z);
        r = z->err;
    }
    return r;
}

static void zit_next(zit *z) {
    if (!z->valid) return;
    if (z->rev) coll_iter_prev(&z->ci);
    else coll_iter_next(&z->ci);
    zit_load(z);
}

static void zit_close(zit *z) { coll_iter_close(&z->ci); }

/* ---- ranges ---- */

int zset_parse_score_range(const char *a, const char *b, zset_score_range *r) {
    const char *s[2] = {a, b};
    double *v[2] = {&r->min, &r->max};
    int *ex[2] = {&r->minex, &r->maxex};
    for (int i = 0; i < 2; i++) {
        const char *p = s[i];
        *ex[i] = 0;
        if (p[0] == '(') {
            p++;
            *ex[i] = 1;
        }
        char *end;
        *v[i] = strtod(p, &end);
        if (end[0] != '\0' || isnan(*v[i])) return -1;
    }
    return 0;
}

static int parse_lex_bound(const char *p, size_t len, zset_lex_bound *b) {
    memset(b, 0, sizeof(*b));
    if (len == 0) return -1;
    switch (p[0]) {
    case '+':
    case '-':
        if (len != 1) return -1;
        b->inf = p[0] == '+' ? 1 : -1;
        b->ex = 1;
        return 0;
    case '(':
    case '[':
        b->ex = p[0] == '(';
        b->p = p + 1;
        b->len = len - 1;
        return 0;
    default: return -1;
    }
}

int zset_parse_lex_range(const char *a, size_t alen, const char *b, size_t blen,
                         zset_lex_range *r) {
    if (parse_lex_bound(a, alen, &r->min) || parse_lex_bound(b, blen, &r->max)) return -1;
    return 0;
}

static int score_gte_min(double s, const zset_score_range *r) {
    return r->minex ? s > r->min : s >= r->min;
}
static int score_lte_max(double s, const zset_score_range *r) {
    return r->maxex ? s < r->max : s <= r->max;
}

/* Redis's sdscmplex: "-" below and "+" above every string. */
static int lex_cmp(const char *m, size_t mlen, const zset_lex_bound *b) {
    if (b->inf) return -b->inf;
    return bytes_cmp(m, mlen, b->p, b->len);
}
static int lex_gte_min(const char *m, size_t mlen, const zset_lex_range *r) {
    int c = lex_cmp(m, mlen, &r->min);
    return r->min.ex ? c > 0 : c >= 0;
}
static int lex_lte_max(const char *m, size_t mlen, const zset_lex_range *r) {
    int c = lex_cmp(m, mlen, &r->max);
    return r->max.ex ? c < 0 : c <= 0;
}
/* A range no member can be in (Redis's zslIsInLexRange first test). */
static int lex_range_empty(const zset_lex_range *r) {
    int c;
    if (r->min.inf && r->min.inf == r->max.inf) c = 0;
    else if (r->min.inf == -1 || r->max.inf == 1) c = -1;
    else if (r->min.inf == 1 || r->max.inf == -1) c = 1;
    else c = bytes_cmp(r->min.p, r->min.len, r->max.p, r->max.len);
    return c > 0 || (c == 0 && (r->min.ex || r->max.ex));
}

/* A range over the score index in forward order: where it starts and what stays inside. */
typedef struct span {
    int kind; /* 0 score, 1 lex */
    const zset_score_range *sr;
    const zset_lex_range *lr;
} span;

static int span_gte_min(const span *s, const zit *z) {
    return s->kind == 0 ? score_gte_min(z->score, s->sr) : lex_gte_min(z->m, z->mlen, s->lr);
}
static int span_lte_max(const span *s, const zit *z) {
    return s->kind == 0 ? score_lte_max(z->score, s->sr) : lex_lte_max(z->m, z->mlen, s->lr);
}

/* Positions z at the first entry of the span (the first entry >= min, as Redis's listpack scan
 * finds it); z->valid = 0 when the span is empty. *head (may be NULL) = 1 when no live entry
 * comes before that position. */
static int span_start(zit *z, const coll *c, const span *s, int *head) {
    int r;
    if (s->kind == 0) {
        r = s->sr->min == -INFINITY ? zit_seek(z, c, NULL, 0) : zit_seek_score(z, c, s->sr->min);
    } else if (lex_range_empty(s->lr)) {
        memset(z, 0, sizeof(*z));
        r = 0;
    } else {
        r = zit_seek(z, c, NULL, 0);
        if (!r && z->valid && s->lr->min.inf == 0) {
            /* every member before (first score, min) fails the min test: seek past them */
            ikey k;
            if ((r = ikey_make(&k, z->score, s->lr->min.p, s->lr->min.len))) return r;
            zit_close(z);
            r = zit_seek(z, c, k.p, k.len);
            ikey_free(&k);
        }
    }
    int at_head = z->at_head;
    while (!r && z->valid && !span_gte_min(s, z)) {
        zit_next(z);
        r = z->err;
        at_head = 0;
    }
    if (head) *head = at_head;
    return r;
}

/* Visits the span in forward order: skip `offset` members of it, then up to `limit` (< 0: all).
 * Returns the number visited, or a negative code. */
static long long span_walk_fwd(const coll *c, const span *s, long long offset, long long limit,
                               zset_visit_fn fn, void *ctx, int *head) {
    zit z;
    long long n = 0;
    int r = span_start(&z, c, s, head);
    while (!r && z.valid && limit != 0) {
        if (!span_lte_max(s, &z)) break;
        if (offset > 0) {
            offset--;
        } else {
            int v = fn(ctx, z.m, z.mlen, z.score);
            if (v < 0) r = v;
            if (v) break;
            n++;
            if (limit > 0) limit--;
        }
        zit_next(&z);
        r = z.err;
    }
    if (!r) r = z.err;
    zit_close(&z);
    return r ? r : n;
}

static int count_visit(void *ctx, const char *m, size_t mlen, double score) {
    (void)ctx, (void)m, (void)mlen, (void)score;
    return 0;
}

/* The span's last entry in index order (as Redis's zslLastInRange / listpack scan from the tail
 * finds it: the last entry <= max); z walks backward from there. */
static int span_start_rev(zit *z, const coll *c, const span *s) {
    int r;
    if (s->kind == 0) {
        r = s->sr->max == INFINITY ? zit_seek_rev(z, c, NULL, 0)
                                   : zit_seek_rev_score(z, c, s->sr->max);
    } else if (lex_range_empty(s->lr)) {
        memset(z, 0, sizeof(*z));
        r = 0;
    } else {
        r = zit_seek_rev(z, c, NULL, 0);
        if (!r && z->valid && s->lr->max.inf == 0) {
            /* every member after (last score, max) fails the max test: seek before them */
            ikey k;
            if ((r = ikey_make(&k, z->score, s->lr->max.p, s->lr->max.len))) return r;
            zit_close(z);
            r = zit_seek_rev(z, c, k.p, k.len);
            ikey_free(&k);
        }
    }
    while (!r && z->valid && !span_lte_max(s, z)) {
        zit_next(z);
        r = z->err;
    }
    return r;
}

/* Visits the span backward: skip `offset` members, then up to `limit` (< 0: all) while they
 * pass the min test. */
static long long span_walk_rev(const coll *c, const span *s, long long offset, long long limit,
                               zset_visit_fn fn, void *ctx) {
    zit z;
    long long n = 0;
    int r = span_start_rev(&z, c, s);
    while (!r && z.valid && limit != 0) {
        if (!span_gte_min(s, &z)) break;
        if (offset > 0) {
            offset--;
        } else {
            int v = fn(ctx, z.m, z.mlen, z.score);
            if (v < 0) r = v;
            if (v) break;
            n++;
            if (limit > 0) limit--;
        }
        zit_next(&z);
        r = z.err;
    }
    if (!r) r = z.err;
    zit_close(&z);
    return r ? r : n;
}

static long long span_walk(const coll *c, const span *s, int reverse, long long offset,
                           long long limit, zset_visit_fn fn, void *ctx) {
    if (!c->exists || offset < 0 || limit == 0) return 0;
    if (offset > 0 && offset >= c->count) return 0;
    return reverse ? span_walk_rev(c, s, offset, limit, fn, ctx)
                   : span_walk_fwd(c, s, offset, limit, fn, ctx, NULL);
}

long long zset_walk_score(const coll *c, const zset_score_range *r, int reverse, long long offset,
                          long long limit, zset_visit_fn fn, void *ctx) {
    span s = {0, r, NULL};
    return span_walk(c, &s, reverse, offset, limit, fn, ctx);
}

long long zset_walk_lex(const coll *c, const zset_lex_range *r, int reverse, long long offset,
                        long long limit, zset_visit_fn fn, void *ctx) {
    span s = {1, NULL, r};
    return span_walk(c, &s, reverse, offset, limit, fn, ctx);
}

long long zset_count_score(const coll *c, const zset_score_range *r) {
    return zset_walk_score(c, r, 0, 0, -1, count_visit, NULL);
}

long long zset_count_lex(const coll *c, const zset_lex_range *r) {
    return zset_walk_lex(c, r, 0, 0, -1, count_visit, NULL);
}

/* Visits the entries at positions start..end counted from the lowest (rev: from the highest)
 * entry, in that walk's order. */
static long long rank_walk(const coll *c, long long start, long long end, int rev,
                           zset_visit_fn fn, void *ctx) {
    zit z;
    long long n = 0;
    int r = rev ? zit_seek_rev(&z, c, NULL, 0) : zit_seek(&z, c, NULL, 0);
    for (long long i = 0; !r && z.valid && i < start; i++) {
        zit_next(&z);
        r = z.err;
    }
    while (!r && z.valid && start + n <= end) {
        int v = fn(ctx, z.m, z.mlen, z.score);
        if (v < 0) r = v;
        if (v) break;
        n++;
        zit_next(&z);
        r = z.err;
    }
    zit_close(&z);
    return r ? r : n;
}

static long long rank_walk_fwd(const coll *c, long long start, long long end, zset_visit_fn fn,
                               void *ctx) {
    return rank_walk(c, start, end, 0, fn, ctx);
}

long long zset_walk_rank(const coll *c, long long start, long long end, int reverse,
                         zset_visit_fn fn, void *ctx) {
    if (!c->exists || start > end || start >= c->count || start < 0) return 0;
    if (end >= c->count) end = c->count - 1;
    /* the same ranks counted from the other end */
    long long ostart = c->count - 1 - end, oend = c->count - 1 - start;
    if (start <= ostart) return rank_walk(c, start, end, reverse, fn, ctx);
    /* nearer to the other end: walk from there and visit what it collected backward */
    zset_vec v;
    zset_vec_init(&v);
    long long r = rank_walk(c, ostart, oend, !reverse, zset_vec_visit, &v);
    long long done = 0;
    for (long long i = (long long)v.n - 1; r >= 0 && i >= 0; i--) {
        int x = fn(ctx, zset_vec_member(&v, (size_t)i), v.e[i].len, v.e[i].score);
        if (x < 0) r = x;
        if (x) break;
        done++;
    }
    zset_vec_free(&v);
    return r < 0 ? r : done;
}

long long zset_walk_all(const coll *c, zset_visit_fn fn, void *ctx) {
    if (!c->exists) return 0;
    return rank_walk_fwd(c, 0, c->count - 1, fn, ctx);
}

int zset_rank(const coll *c, const void *m, size_t mlen, int reverse, long long *rank) {
    double s;
    int r = zset_score(c, m, mlen, &s);
    if (r <= 0) return r;
    ikey k;
    if ((r = ikey_make(&k, s, m, mlen))) return r;
    /* count the entries before it (ZREVRANK: after it, walking from the top) */
    zit z;
    long long n = 0;
    r = reverse ? zit_seek_rev(&z, c, NULL, 0) : zit_seek(&z, c, NULL, 0);
    while (!r && z.valid) {
        int o = bytes_cmp(z.raw, z.rawlen, k.p, k.len);
        if (reverse ? o <= 0 : o >= 0) break;
        n++;
        zit_next(&z);
        r = z.err;
    }
    zit_close(&z);
    ikey_free(&k);
    if (r) return r;
    *rank = n;
    return 1;
}

/* ---- deletions ---- */

typedef struct del_ctx {
    coll *c;
    zset_visit_fn fn;
    void *ctx;
    lsm_buf hi, lo; /* the highest and the lowest index key deleted (for the hints) */
    long long n;
} del_ctx;

static int buf_set(lsm_buf *b, const char *p, size_t len) {
    if (len > b->cap) {
        char *n = realloc(b->data, len);
        if (!n) return LSM_ENOMEM;
        b->data = n;
        b->cap = len;
    }
    memcpy(b->data, p, len);
    b->len = len;
    return 0;
}

static int del_visit(void *ctx, const char *m, size_t mlen, double score) {
    del_ctx *d = ctx;
    if (d->fn) {
        int v = d->fn(d->ctx, m, mlen, score);
        if (v) return v;
    }
    ikey k;
    int r = ikey_make(&k, score, m, mlen);
    if (r) return r;
    if (d->n == 0 || bytes_cmp(k.p, k.len, d->hi.data, d->hi.len) > 0)
        r = buf_set(&d->hi, k.p, k.len);
    if (!r && (d->n == 0 || bytes_cmp(k.p, k.len, d->lo.data, d->lo.len) < 0))
        r = buf_set(&d->lo, k.p, k.len);
    ikey_free(&k);
    if (!r) r = delete_member(d->c, m, mlen, score);
    if (r) return r;
    d->n++;
    return 0;
}

/* After deleting a prefix of the index (head) and/or a suffix (tail): moves the hints past the
 * tombstones. The head hint becomes the highest key deleted (cut to size: still a lower bound of
 * what is left), the tail hint an upper bound of the lowest key deleted. Frees d's buffers. */
static void del_finish(coll *c, del_ctx *d, int head, int tail) {
    if (d->n > 0 && c->count > 0) {
        if (head) hint_set(c, 0, d->hi.data, d->hi.len < HINT_MAX ? d->hi.len : HINT_MAX);
        if (tail) {
            char ub[HINT_MAX];
            size_t ul = upper_bound(d->lo.data, d->lo.len, ub);
            if (ul) hint_set(c, 1, ub, ul);
        }
    }
    lsm_buf_free(&d->hi);
    lsm_buf_free(&d->lo);
}

long long zset_remove_rank(coll *c, long long start, long long end, int reverse, zset_visit_fn fn,
                           void *ctx) {
    if (!c->exists || start > end || start >= c->count || start < 0) return 0;
    if (end >= c->count) end = c->count - 1;
    long long count = c->count;
    del_ctx d;
    memset(&d, 0, sizeof(d));
    d.c = c;
    d.fn = fn;
    d.ctx = ctx;
    long long r = zset_walk_rank(c, start, end, reverse, del_visit, &d);
    /* forward ranks covered: [start, end] or [count-1-end, count-1-start] */
    long long fs = reverse ? count - 1 - end : start, fe = reverse ? count - 1 - start : end;
    del_finish(c, &d, r >= 0 && fs == 0, r >= 0 && fe == count - 1);
    return r < 0 ? r : d.n;
}

long long zset_remove_score(coll *c, const zset_score_range *r) {
    if (!c->exists) return 0;
    del_ctx d;
    memset(&d, 0, sizeof(d));
    d.c = c;
    span s = {0, r, NULL};
    int head = 0;
    long long n = span_walk_fwd(c, &s, 0, -1, del_visit, &d, &head);
    del_finish(c, &d, n >= 0 && head, 0);
    return n < 0 ? n : d.n;
}

long long zset_remove_lex(coll *c, const zset_lex_range *r) {
    if (!c->exists) return 0;
    del_ctx d;
    memset(&d, 0, sizeof(d));
    d.c = c;
    span s = {1, NULL, r};
    int head = 0;
    long long n = span_walk_fwd(c, &s, 0, -1, del_visit, &d, &head);
    del_finish(c, &d, n >= 0 && head, 0);
    return n < 0 ? n : d.n;
}

/* ---- read-ahead of the end entries: ZPOPMIN/ZPOPMAX without an engine iterator per call ----
 * A pop needs the lowest (highest) index entries, which only an iterator finds, and an engine
 * iterator is not free (the memtable links its pending inserts first; a reverse walk without
 * reverse iteration reads the whole set). So a pop reads up to hc_ahead entries once and the
 * pops of the same zset that follow take the next ones from here. The read-ahead is valid while
 * the zset is exactly as the last pop left it, which is checked at each use:
 *  - every other index write of this file forgets it (hc_forget), and versions are never reused
 *    (a deleted, overwritten or recreated zset has another version);
 *  - a write that is dropped after the fact (an aborted command or transaction, a failed WAL
 *    commit) restores the metadata too: the count and the hints (the pops move a hint to the
 *    entry they popped, so both change with every pop) then differ from the ones recorded. */
#define HC_AHEAD_MIN 64
#define HC_AHEAD_MAX 16384
#define HC_BYTES_MAX (1u << 20) /* members' bytes a refill aims at, at the previous one's rate */
/* Entries the next refill reads: HC_AHEAD_MIN, doubled (up to HC_AHEAD_MAX) each time a refill
 * follows a read-ahead that its pops used up whole (a run of pops with nothing else writing the
 * zset), back to the minimum when one was dropped by another write. A long run of pops then
 * opens an iterator (and links the memtable's pending inserts on the loop) once per 16384 pops,
 * not per 64; a queue that mixes ZADD and ZPOPMIN reads no more than 64 ahead. The maximum is
 * large because opening the iterator also waits for the linker thread's batch in progress
 * (~1 ms): at 1024 the loop slept on it about once per 1000 pops (perf sched, SPOP at pipeline
 * 16: 65 such sleeps, 84 ms of a second; 9 at 16384). The pop that reads 16384 entries waits
 * longer (one client, 60k pops of a 451k-member zset: max latency 6.7 ms against 4.1 ms). */
static long long hc_ahead = HC_AHEAD_MIN;
static struct {
    int valid;
    int max;           /* read from the top (ZPOPMAX) */
    uint64_t engine_id; /* lsm_open_id: an address can be reused by a later open */
    uint64_t version;
    int64_t count;     /* the metadata as the last pop left it */
    char extra[COLL_EXTRA_MAX];
    size_t extra_len;
    zset_vec v;
    size_t pos;        /* v.e[pos..n) are the next entries from that end, in pop order */
} hc;
static int hc_enabled = 1;

static void hc_forget(uint64_t version) {
    if (hc.valid && hc.version == version) hc.valid = 0;
}

void zset_cache_drop(void) { hc.valid = 0; }
void zset_cache_enable(int on) {
    hc_enabled = on;
    hc.valid = 0;
}

static void hc_record(const coll *c) {
    hc.valid = 1;
    hc.engine_id = lsm_open_id(server.engine);
    hc.version = c->version;
    hc.count = c->count;
    hc.extra_len = c->extra_len;
    memcpy(hc.extra, c->extra, c->extra_len);
}

static int hc_matches(const coll *c, int max) {
    return hc.valid && hc.max == max && hc.engine_id == lsm_open_id(server.engine) &&
           hc.version == c->version && hc.count == c->count && hc.extra_len == c->extra_len &&
           memcmp(hc.extra, c->extra, c->extra_len) == 0 &&
           (long long)(hc.v.n - hc.pos) <= c->count;
}

/* A hint (coll_prefetch step 1 or 2) for the member and score records a pop of read-ahead entry
 * pos deletes. */
static void prefetch_pop_records(const coll *c, size_t pos, int step) {
    if (pos >= hc.v.n) return;
    const zset_entry *e = &hc.v.e[pos];
    const char *m = zset_vec_member(&hc.v, pos);
    coll_prefetch(c, COLL_SUB_MEMBER, m, e->len, step);
    ikey k;
    if (ikey_make(&k, e->score, m, e->len) == 0) {
        coll_prefetch(c, COLL_SUB_SCORE, k.p, k.len, step);
        ikey_free(&k);
    }
}

/* After a pop, for the next ones: the nodes of entry pos's records (their index lines were asked
 * for a pop earlier) and the index lines of entry pos + 1's, so that the deletes of the next pops
 * do not wait for them one by one. */
static void hc_prefetch(const coll *c, size_t pos) {
    prefetch_pop_records(c, pos, 2);
    prefetch_pop_records(c, pos + 1, 1);
}

long long zset_pop(coll *c, long long count, int max, int readahead, zset_visit_fn fn,
                   void *ctx) {
    if (!c->exists || count <= 0) return 0;
    if (count > c->count) count = c->count;
    if (!readahead || !hc_enabled) return zset_remove_rank(c, 0, count - 1, max, fn, ctx);
    int valid = hc_matches(c, max);
    size_t avail = valid ? hc.v.n - hc.pos : 0;
    if (!valid || ((long long)avail < count && (long long)avail < c->count)) {
        hc_ahead = !valid ? HC_AHEAD_MIN
                          : coll_readahead_next(hc_ahead, HC_AHEAD_MIN, HC_AHEAD_MAX, hc.v.blen,
                                                HC_BYTES_MAX);
        readahead_refills++;
        hc.valid = 0;
        zset_vec_free(&hc.v);
        long long want = count > hc_ahead ? count : hc_ahead;
        if (want > c->count) want = c->count;
        long long r = zset_walk_rank(c, 0, want - 1, max, zset_vec_visit, &hc.v);
        if (r < 0) {
            zset_vec_free(&hc.v);
            return r;
        }
        hc.pos = 0;
        hc.max = max;
        if ((long long)hc.v.n < count) { /* the index has fewer entries than the count says */
            zset_vec_free(&hc.v);
            return LSM_ECORRUPT;
        }
    }
    hc.valid = 0; /* valid again once the pops below are all done */
    long long n = 0;
    int r = 0;
    for (; n < count; n++) {
        zset_entry *e = &hc.v.e[hc.pos];
        const char *m = zset_vec_member(&hc.v, hc.pos);
        if (fn && (r = fn(ctx, m, e->len, e->score)) != 0) break;
        if ((r = delete_member_raw(c, m, e->len, e->score))) break;
        hc.pos++;
    }
    if (r < 0) return r;
    if (n > 0 && c->count > 0) {
        /* the hint of that end moves past the last entry popped */
        const zset_entry *e = &hc.v.e[hc.pos - 1];
        ikey k;
        if ((r = ikey_make(&k, e->score, zset_vec_member(&hc.v, hc.pos - 1), e->len))) return r;
        if (max) {
            char ub[HINT_MAX];
            size_t ul = upper_bound(k.p, k.len, ub);
            hint_set(c, 1, ub, ul);
        } else {
            hint_set(c, 0, k.p, k.len < HINT_MAX ? k.len : HINT_MAX);
        }
        ikey_free(&k);
    }
    if (r == 0 && c->count > 0) {
        hc_record(c);
        hc_prefetch(c, hc.pos);
    }
    return n;
}

/* ---- result vectors ---- */

void zset_vec_init(zset_vec *v) { memset(v, 0, sizeof(*v)); }

void zset_vec_free(zset_vec *v) {
    free(v->e);
    free(v->bytes);
    free(v->slots);
    memset(v, 0, sizeof(*v));
}

int zset_vec_push(zset_vec *v, const void *m, size_t mlen, double score) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        zset_entry *ne = realloc(v->e, nc * sizeof(*ne));
        if (!ne) return LSM_ENOMEM;
        v->e = ne;
        v->cap = nc;
    }
    if (v->blen + mlen > v->bcap) {
        size_t nc = v->bcap ? v->bcap * 2 : 256;
        while (nc < v->blen + mlen) nc *= 2;
        char *nb = realloc(v->bytes, nc);
        if (!nb) return LSM_ENOMEM;
        v->bytes = nb;
        v->bcap = nc;
    }
    if (mlen) memcpy(v->bytes + v->blen, m, mlen);
    v->e[v->n].off = v->blen;
    v->e[v->n].len = mlen;
    v->e[v->n].score = score;
    v->blen += mlen;
    v->n++;
    if (mlen > v->maxlen) v->maxlen = mlen;
    return 0;
}

static uint64_t member_hash(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* (Re)builds the slot table for at least want entries. */
static int vec_rehash(zset_vec *v, size_t want) {
    size_t ns = 16;
    while (ns < want * 2) ns *= 2;
    uint32_t *s = malloc(ns * sizeof(*s));
    if (!s) return LSM_ENOMEM;
    memset(s, 0xff, ns * sizeof(*s));
    for (size_t i = 0; i < v->n; i++) {
        size_t h = (size_t)member_hash(zset_vec_member(v, i), v->e[i].len) & (ns - 1);
        while (s[h] != UINT32_MAX) h = (h + 1) & (ns - 1);
        s[h] = (uint32_t)i;
    }
    free(v->slots);
    v->slots = s;
    v->nslots = ns;
    return 0;
}

static long long vec_lookup(const zset_vec *v, const void *m, size_t mlen, size_t *slot) {
    size_t h = (size_t)member_hash(m, mlen) & (v->nslots - 1);
    while (v->slots[h] != UINT32_MAX) {
        uint32_t i = v->slots[h];
        if (v->e[i].len == mlen && (!mlen || memcmp(zset_vec_member(v, i), m, mlen) == 0))
            return i;
        h = (h + 1) & (v->nslots - 1);
    }
    *slot = h;
    return -1;
}

long long zset_vec_find(zset_vec *v, const void *m, size_t mlen) {
    if (v->nslots < (v->n + 1) * 2 && vec_rehash(v, v->n + 1)) return -1;
    size_t slot;
    return vec_lookup(v, m, mlen, &slot);
}

long long zset_vec_upsert(zset_vec *v, const void *m, size_t mlen, double score, int *created) {
    if (v->n >= UINT32_MAX - 1) return LSM_ENOMEM;
    if (v->nslots < (v->n + 1) * 2) {
        int r = vec_rehash(v, v->n + 1);
        if (r) return r;
    }
    size_t slot;
    long long i = vec_lookup(v, m, mlen, &slot);
    *created = i < 0;
    if (i >= 0) return i;
    int r = zset_vec_push(v, m, mlen, score);
    if (r) return r;
    v->slots[slot] = (uint32_t)(v->n - 1);
    return (long long)v->n - 1;
}

static const zset_vec *sort_vec; /* qsort has no context argument */

static int entry_cmp(const void *a, const void *b) {
    const zset_entry *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return bytes_cmp(sort_vec->bytes + x->off, x->len, sort_vec->bytes + y->off, y->len);
}

void zset_vec_sort(zset_vec *v) {
    free(v->slots);
    v->slots = NULL;
    v->nslots = 0;
    if (v->n < 2) return;
    sort_vec = v;
    qsort(v->e, v->n, sizeof(*v->e), entry_cmp);
    sort_vec = NULL;
}

int zset_vec_visit(void *ctx, const char *m, size_t mlen, double score) {
    return zset_vec_push(ctx, m, mlen, score);
}

int zset_store(coll *c, const zset_vec *v, int *removed) {
    if (removed) *removed = 0;
    if (v->n == 0) {
        if (!c->exists) return 0;
        int r = keyspace_remove(c->db, c->key, c->klen, &c->cur);
        if (r) return r;
        c->exists = 0;
        if (removed) *removed = 1;
        return 0;
    }
    int r = coll_recreate(c, zset_result_encoding(v->n, v->maxlen));
    for (size_t i = 0; !r && i < v->n; i++)
        r = zset_insert_new(c, zset_vec_member(v, i), v->e[i].len, v->e[i].score);
    if (!r) r = coll_save(c);
    return r;
}
