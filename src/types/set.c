/* set.c - Redis sets over the collection layer (set.h). */
#include "set.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static lsm_buf set_scratch; /* membership reads (values are empty): amortized */

int set_open(coll *s, int db, const char *key, size_t klen, int flags) {
    return coll_open(s, db, key, klen, KTYPE_SET, flags);
}

int set_member_is_int(const void *m, size_t mlen) {
    long long v;
    return string2ll(m, mlen, &v);
}

uint8_t set_create_enc(const void *m, size_t mlen) {
    return set_member_is_int(m, mlen) ? COLL_ENC_SMALL : COLL_ENC_BIG;
}

int set_create(coll *s, const void *m, size_t mlen) {
    if (s->exists) return 0;
    return coll_create(s, set_create_enc(m, mlen));
}

static long long intset_max(void) {
    long long max = config.set_max_intset_entries;
    if (max >= (1ll << 30)) max = 1ll << 30; /* Redis's intset limit */
    return max;
}

int set_ismember(const coll *s, const void *m, size_t mlen) {
    return coll_get(s, COLL_SUB_MEMBER, m, mlen, &set_scratch);
}

int set_add_new(coll *s, const void *m, size_t mlen) {
    if (!s->exists) return LSM_EINVAL;
    char v[8];
    size_t vl = coll_rand_set_value(s, v); /* an indexed set's member holds its ordinal */
    int r = coll_put(s, COLL_SUB_MEMBER, m, mlen, v, vl);
    if (r) return r;
    coll_count_add(s, 1);
    if (s->enc == COLL_ENC_SMALL && (!set_member_is_int(m, mlen) || s->count > intset_max()))
        coll_set_enc(s, COLL_ENC_BIG);
    return coll_rand_member_added(s, m, mlen);
}

int set_add(coll *s, const void *m, size_t mlen) {
    coll_rand_prefetch_next(s); /* loads while the member is looked up */
    int r = set_ismember(s, m, mlen);
    if (r) return r < 0 ? r : 0;
    r = set_add_new(s, m, mlen);
    return r ? r : 1;
}

int set_rem_at(coll *s, const void *m, size_t mlen, uint64_t ord) {
    /* the member's own delete goes last (one batch: the order is not visible), so its index
     * line loads while the ordinal records are read and moved */
    coll_prefetch(s, COLL_SUB_MEMBER, m, mlen, 1);
    coll_count_add(s, -1);
    int r = coll_rand_member_removed(s, m, mlen, ord);
    return r ? r : coll_del(s, COLL_SUB_MEMBER, m, mlen);
}

/* Removes a present member whose record value (v) was just read. */
static int rem_with_value(coll *s, const void *m, size_t mlen, const char *v, size_t vl) {
    uint64_t ord = 0;
    int r = coll_rand_ordinal(s, m, mlen, v, vl, &ord);
    if (r < 0) return r;
    return set_rem_at(s, m, mlen, ord);
}

int set_rem_known(coll *s, const void *m, size_t mlen) {
    if (!coll_rand_indexed(s)) return set_rem_at(s, m, mlen, 0);
    int r = set_ismember(s, m, mlen); /* its record says where it is in the index */
    if (r == 0) r = LSM_ECORRUPT;
    if (r < 0) return r;
    return rem_with_value(s, m, mlen, set_scratch.data, set_scratch.len);
}

int set_rem(coll *s, const void *m, size_t mlen) {
    int r = set_ismember(s, m, mlen);
    if (r <= 0) return r;
    r = rem_with_value(s, m, mlen, set_scratch.data, set_scratch.len);
    return r ? r : 1;
}

int set_save(coll *s) { return coll_save(s); }

/* ---- set operations ---- */

static int member_cmp(const char *a, size_t al, const char *b, size_t bl) {
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return al < bl ? -1 : al > bl;
}

int set_op_open(set_op_iter *o, int op, coll **sets, int n) {
    memset(o, 0, sizeof(*o));
    o->op = op;
    o->n = n;
    o->sets = sets;
    o->driver = -1;
    int nits = op == SET_OP_UNION ? n : 1;
    o->its = calloc((size_t)(nits ? nits : 1), sizeof(coll_iter));
    o->at_min = calloc((size_t)(nits ? nits : 1), 1);
    if (!o->its || !o->at_min) return LSM_ENOMEM;
    if (op == SET_OP_UNION) {
        for (int i = 0; i < n; i++) {
            int r = coll_iter_seek(&o->its[i], sets[i], COLL_SUB_MEMBER, NULL, 0);
            if (r) return r;
        }
        return 0;
    }
    if (n == 0) return 0;
    if (op == SET_OP_INTER) {
        for (int i = 0; i < n; i++) {
            if (!sets[i]->exists) return 0; /* with an empty set: empty */
            if (o->driver < 0 || sets[i]->count < sets[o->driver]->count) o->driver = i;
        }
    } else {
        if (!sets[0]->exists) return 0;
        o->driver = 0;
    }
    return coll_iter_seek(&o->its[0], sets[o->driver], COLL_SUB_MEMBER, NULL, 0);
}

/* Same collection (same key opened twice): same live version. */
static int same_set(const coll *a, const coll *b) {
    return a->exists && b->exists && a->version == b->version;
}

int set_op_next(set_op_iter *o, const char **m, size_t *mlen) {
    if (o->op == SET_OP_UNION) {
        for (int i = 0; i < o->n; i++)
            if (o->at_min[i]) {
                coll_iter_next(&o->its[i]);
                o->at_min[i] = 0;
                int st = coll_iter_status(&o->its[i]);
                if (st) return st;
            }
        const char *best = NULL;
        size_t bl = 0;
        for (int i = 0; i < o->n; i++) {
            if (!coll_iter_valid(&o->its[i])) continue;
            size_t l;
            const char *k = coll_iter_member(&o->its[i], &l);
            if (!best || member_cmp(k, l, best, bl) < 0) {
                best = k;
                bl = l;
            }
        }
        if (!best) return 0;
        for (int i = 0; i < o->n; i++) {
            if (!coll_iter_valid(&o->its[i])) continue;
            size_t l;
            const char *k = coll_iter_member(&o->its[i], &l);
            if (member_cmp(k, l, best, bl) == 0) o->at_min[i] = 1;
        }
        *m = best;
        *mlen = bl;
        return 1;
    }
    if (o->driver < 0) return 0;
    coll_iter *it = &o->its[0];
    const coll *d = o->sets[o->driver];
    for (;;) {
        if (o->started) coll_iter_next(it);
        o->started = 1;
        int st = coll_iter_status(it);
        if (st) return st;
        if (!coll_iter_valid(it)) return 0;
        size_t l;
        const char *k = coll_iter_member(it, &l);
        int keep = 1;
        for (int j = 0; j < o->n && keep; j++) {
            if (j == o->driver) continue;
            const coll *s = o->sets[j];
            if (o->op == SET_OP_INTER) {
                if (same_set(s, d)) continue;
                int r = set_ismember(s, k, l);
                if (r < 0) return r;
                keep = r;
            } else {
                if (!s->exists) continue;
                if (same_set(s, d)) {
                    keep = 0;
                    break;
                }
                int r = set_ismember(s, k, l);
                if (r < 0) return r;
                keep = !r;
            }
        }
        if (keep) {
            *m = k;
            *mlen = l;
            return 1;
        }
    }
}

void set_op_close(set_op_iter *o) {
    int nits = o->op == SET_OP_UNION ? o->n : 1;
    if (o->its)
        for (int i = 0; i < nits; i++) coll_iter_close(&o->its[i]);
    free(o->its);
    free(o->at_min);
    memset(o, 0, sizeof(*o));
}
